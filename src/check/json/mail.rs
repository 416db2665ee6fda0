//! `hosts[].mail` of `moveday check --json`: a mail host's domains (MX, SPF), the blocklists'
//! answers, the HELO name and whether its mail is clean, as `store::mail` judges them.

use std::net::{IpAddr, Ipv4Addr};

use schemars::JsonSchema;
use serde::Serialize;

use crate::config::HostConfig;
use crate::probe::mail::{DnsblAnswer, DnsblCheck, MailDomain, MxAnswer, SpfOutcome};
use crate::store::HostState;
use crate::store::mail::{MailWeight, mail_view};

/// A mail host's mail (`null` on other hosts).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MailOutput {
    /// SPF passes for the new address in every domain, no blocklist lists it, and its
    /// reverse DNS resolves back: the backlog may go.
    pub clean: bool,
    /// One per blocklist zone of `[mail] dnsbl`, once asked.
    pub dnsbl: Vec<DnsblOutput>,
    /// One per mail domain, once asked; empty before.
    pub domains: Vec<MailDomainOutput>,
    /// The name the SMTP service announced, when there is one.
    pub helo: Option<HeloOutput>,
    /// Every problem, heaviest first (they are also in the host's `reasons`).
    pub problems: Vec<MailProblemOutput>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MailDomainOutput {
    pub domain: String,
    pub mx: MxOutput,
    pub spf: SpfOutput,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MxOutput {
    /// Every MX name's addresses, sorted, once each.
    pub addresses: Vec<IpAddr>,
    pub error: Option<String>,
    /// By preference.
    pub names: Vec<String>,
    /// A null MX (`0 .`): the domain takes no mail.
    pub null_mx: bool,
    /// An MX name still resolves to the host's old address.
    pub old: bool,
    /// An MX name resolves to the host's new address.
    pub points_here: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SpfOutput {
    /// The record could not be read (the verdicts may still have been reached).
    pub error: Option<String>,
    /// The verdict for the old address (`null` without `old_ip`).
    pub old_ip_result: Option<&'static str>,
    /// The `v=spf1` record as published; `null` without one.
    pub record: Option<String>,
    /// The verdict for the new address: pass, fail, softfail, neutral, none, permerror,
    /// temperror (`null` without `new_ip`).
    pub result: Option<&'static str>,
    /// The policy's explanation of a fail, or why the evaluation stopped.
    pub why: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DnsblOutput {
    /// The list's answer codes (127.0.0.x) when it lists the address.
    pub codes: Vec<Ipv4Addr>,
    pub error: Option<String>,
    pub ip: IpAddr,
    pub listed: bool,
    /// The list's TXT reason, when it lists the address and gives one.
    pub reason: Option<String>,
    /// The list refused to answer (127.255.255.x): nothing is known about the address.
    pub refused: bool,
    pub zone: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HeloOutput {
    pub matches_mx: bool,
    pub matches_ptr: bool,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MailProblemOutput {
    /// `degraded`: receivers defer or reject; `warn`: some may.
    pub weight: &'static str,
    pub words: String,
}

/// `hosts[].mail` of a host (`None`: not a mail host).
pub fn mail(config: &HostConfig, h: &HostState) -> Option<MailOutput> {
    let view = mail_view(config, h)?;
    Some(MailOutput {
        clean: view.clean,
        dnsbl: view.dnsbl.iter().map(dnsbl).collect(),
        domains: view.domains.iter().map(domain).collect(),
        helo: view.helo.map(|helo| HeloOutput {
            matches_mx: helo.matches_mx,
            matches_ptr: helo.matches_ptr,
            name: helo.name,
        }),
        problems: view
            .problems
            .into_iter()
            .map(|p| MailProblemOutput {
                weight: match p.weight {
                    MailWeight::Degraded => "degraded",
                    MailWeight::Warn => "warn",
                },
                words: p.words,
            })
            .collect(),
    })
}

fn domain(d: &MailDomain) -> MailDomainOutput {
    MailDomainOutput {
        domain: d.mx.domain.clone(),
        mx: mx(d.mx.result.as_ref()),
        spf: spf(&d.spf),
    }
}

fn mx(answer: Result<&MxAnswer, &crate::probe::DnsError>) -> MxOutput {
    match answer {
        Ok(a) => {
            let mut addresses: Vec<IpAddr> = a
                .hosts
                .iter()
                .filter_map(|h| h.addresses.as_ref().ok())
                .flatten()
                .copied()
                .collect();
            addresses.sort();
            addresses.dedup();
            MxOutput {
                addresses,
                error: None,
                names: a.hosts.iter().map(|h| h.name.clone()).collect(),
                null_mx: a.null_mx,
                old: a.old,
                points_here: a.points_here,
            }
        }
        Err(e) => MxOutput {
            addresses: Vec::new(),
            error: Some(e.to_string()),
            names: Vec::new(),
            null_mx: false,
            old: false,
            points_here: false,
        },
    }
}

fn spf(s: &SpfOutcome) -> SpfOutput {
    SpfOutput {
        error: s.record.as_ref().err().map(ToString::to_string),
        old_ip_result: s.old_ip.as_ref().map(|c| c.result.word()),
        record: s.record.as_ref().ok().cloned().flatten(),
        result: s.new_ip.as_ref().map(|c| c.result.word()),
        why: s.new_ip.as_ref().and_then(|c| c.why.clone()),
    }
}

fn dnsbl(c: &DnsblCheck) -> DnsblOutput {
    let (codes, reason, refused) = match &c.result {
        Ok(DnsblAnswer::Listed { codes, reason, .. }) => (codes.clone(), reason.clone(), false),
        Ok(DnsblAnswer::Refused { code }) => (vec![*code], None, true),
        _ => (Vec::new(), None, false),
    };
    DnsblOutput {
        codes,
        error: c.result.as_ref().err().map(ToString::to_string),
        ip: c.ip,
        listed: c.listed(),
        reason,
        refused,
        zone: c.zone.clone(),
    }
}
