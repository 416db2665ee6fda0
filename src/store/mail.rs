//! What the mail checks mean for a mail host (issue 18): the one place where MX, SPF,
//! blocklist and HELO results become problems in words, each with its weight (degraded or
//! warn), for health, the detail pane, the JSON and the journal to share.
//!
//! Pure: it judges the probe outcomes a host's state holds (`probe::mail`); it asks
//! nothing. [`mail_view`] is what everyone else reads.

use crate::config::HostConfig;
use crate::probe::mail::{
    DnsblAnswer, DnsblCheck, HeloCheck, MailDomain, MxOutcome, SpfOutcome, SpfResult, helo_check,
};

use super::HostState;

/// A mail host's mail, judged: what the screen, the JSON, health and the journal show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailView<'a> {
    /// Its domains as last asked (empty before the first answer).
    pub domains: &'a [MailDomain],
    /// The blocklists' last answers about its new address.
    pub dnsbl: &'a [DnsblCheck],
    /// Every configured list has answered at least once (none configured counts).
    pub lists_answered: bool,
    /// The name its SMTP service announced, against the PTR and MX names (`None`: no SMTP
    /// service, or it announced nothing yet).
    pub helo: Option<HeloCheck>,
    /// Every problem, heaviest first.
    pub problems: Vec<MailProblem>,
    /// "Mail is clean": SPF passes for the new address in every domain, no list has it,
    /// and its reverse DNS resolves back.
    pub clean: bool,
}

/// `host`'s mail, judged (`None`: not a mail host).
pub fn mail_view<'a>(config: &HostConfig, h: &'a HostState) -> Option<MailView<'a>> {
    if !config.is_mail() {
        return None;
    }
    let domains: &[MailDomain] = h.mail.as_ref().map_or(&[], |m| &m.value.domains);
    let dnsbl: &[DnsblCheck] = h.dnsbl.as_ref().map_or(&[], |d| &d.value.checks);
    let lists_answered = h.dnsbl.is_some();
    let ptr = h.ptr.as_ref().and_then(|p| p.value.result.as_ref().ok());
    let ptr_names: &[String] = ptr.map_or(&[], |p| &p.names);
    let mx_names: Vec<&str> = domains
        .iter()
        .filter_map(|d| d.mx.result.as_ref().ok())
        .flat_map(|a| a.hosts.iter().map(|h| h.name.as_str()))
        .collect();
    let helo = h
        .services
        .iter()
        .flatten()
        .find_map(|s| s.value.result.smtp_names.as_ref())
        .and_then(|names| helo_check(names, ptr_names, &mx_names));
    let problems = mail_problems(domains, dnsbl, helo.as_ref());
    let clean =
        lists_answered && mail_clean(domains, dnsbl) && ptr.is_some_and(|p| p.forward_confirmed);
    Some(MailView {
        domains,
        dnsbl,
        lists_answered,
        helo,
        problems,
        clean,
    })
}

/// How much a mail problem weighs: receivers reject or defer (`Degraded`), or may
/// (`Warn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MailWeight {
    Warn,
    Degraded,
}

/// One problem of a mail host, in the words the screen, the JSON and the journal share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailProblem {
    pub weight: MailWeight,
    pub words: String,
}

fn degraded(words: String) -> MailProblem {
    MailProblem {
        weight: MailWeight::Degraded,
        words,
    }
}

fn warn(words: String) -> MailProblem {
    MailProblem {
        weight: MailWeight::Warn,
        words,
    }
}

/// A domain's MX: none points at the host's new address, or one still points at the old.
pub fn mx_problems(mx: &MxOutcome) -> Vec<MailProblem> {
    let domain = &mx.domain;
    match &mx.result {
        Err(e) => vec![warn(format!("MX of {domain}: {e}"))],
        Ok(a) if a.null_mx => vec![degraded(format!(
            "{domain} publishes a null MX: it takes no mail"
        ))],
        Ok(a) => {
            let mut out = Vec::new();
            if a.old {
                out.push(degraded(format!(
                    "an MX of {domain} still resolves to the old address"
                )));
            }
            if !a.points_here && !a.hosts.is_empty() {
                out.push(warn(format!(
                    "no MX of {domain} resolves to this host's new address"
                )));
            }
            out
        }
    }
}

/// A domain's SPF policy for the new address: anything but `pass` degrades the host, in
/// words that say what the policy does allow ("SPF authorizes only the old address").
pub fn spf_problems(spf: &SpfOutcome) -> Vec<MailProblem> {
    let domain = &spf.domain;
    let Some(new) = &spf.new_ip else {
        return Vec::new();
    };
    if new.result == SpfResult::Pass {
        return Vec::new();
    }
    let old_passes = spf
        .old_ip
        .as_ref()
        .is_some_and(|old| old.result == SpfResult::Pass);
    let words = match (new.result, old_passes) {
        (SpfResult::None, _) => format!("{domain} has no SPF record"),
        (_, true) => format!(
            "SPF of {domain} authorizes only the old address ({} for the new)",
            new.result.word()
        ),
        (result, false) => format!("SPF of {domain} says {} for the new address", result.word()),
    };
    let why = new
        .why
        .as_ref()
        .map(|w| format!(": {w}"))
        .unwrap_or_default();
    vec![degraded(format!("{words}{why}"))]
}

/// One blocklist's answer: a listing degrades the host, with the zone and its reason; a
/// refusal says the list would not answer (nothing about the address); an error warns.
pub fn dnsbl_problems(check: &DnsblCheck) -> Vec<MailProblem> {
    let zone = &check.zone;
    match &check.result {
        Ok(DnsblAnswer::NotListed) => Vec::new(),
        Ok(DnsblAnswer::Listed { reason, .. }) => vec![degraded(match reason {
            Some(r) => format!("{} is listed on {zone}: {r}", check.ip),
            None => format!("{} is listed on {zone}", check.ip),
        })],
        Ok(DnsblAnswer::Refused { .. }) => vec![warn(format!(
            "{zone}: {}",
            crate::probe::mail::REFUSAL_WORDS
        ))],
        Err(e) => vec![warn(format!("{zone}: {e}"))],
    }
}

/// The HELO name against the PTR and the MX names: a mismatch warns.
pub fn helo_problems(helo: &HeloCheck) -> Vec<MailProblem> {
    if helo.matches_ptr {
        return Vec::new();
    }
    let mx = if helo.matches_mx {
        " (it is an MX name)"
    } else {
        ""
    };
    vec![warn(format!(
        "the SMTP service says HELO {} but the new address's PTR names another{mx}",
        helo.name
    ))]
}

/// Every problem of a mail host, heaviest first (the order they were found otherwise).
pub fn mail_problems(
    domains: &[MailDomain],
    dnsbl: &[DnsblCheck],
    helo: Option<&HeloCheck>,
) -> Vec<MailProblem> {
    let mut out: Vec<MailProblem> = domains
        .iter()
        .flat_map(|d| mx_problems(&d.mx))
        .chain(domains.iter().flat_map(|d| spf_problems(&d.spf)))
        .chain(dnsbl.iter().flat_map(dnsbl_problems))
        .chain(helo.into_iter().flat_map(helo_problems))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.weight));
    out
}

/// A domain's MX in a word: `here` (a name resolves to the new address), `old` (one still
/// resolves to the old), `elsewhere`, `none` (no MX record), `null` (a null MX), `error`.
pub fn mx_word(mx: &MxOutcome) -> &'static str {
    match &mx.result {
        Err(_) => "error",
        Ok(a) if a.null_mx => "null",
        Ok(a) if a.old => "old",
        Ok(a) if a.hosts.is_empty() => "none",
        Ok(a) if a.points_here => "here",
        Ok(_) => "elsewhere",
    }
}

/// A blocklist's answer in a word: `listed`, `not_listed`, `refused` (the list would not
/// answer this asker), `error`.
pub fn dnsbl_word(check: &DnsblCheck) -> &'static str {
    match &check.result {
        Ok(DnsblAnswer::Listed { .. }) => "listed",
        Ok(DnsblAnswer::NotListed) => "not_listed",
        Ok(DnsblAnswer::Refused { .. }) => "refused",
        Err(_) => "error",
    }
}

/// SPF passes for the new address in every domain, every list that answered said "not
/// listed" (a refusal or an error is no such answer), nothing weighs `Degraded`, and every
/// domain was answered (that every list answered, and reverse DNS, are [`mail_view`]'s to
/// add).
fn mail_clean(domains: &[MailDomain], dnsbl: &[DnsblCheck]) -> bool {
    mail_problems(domains, dnsbl, None)
        .iter()
        .all(|p| p.weight < MailWeight::Degraded)
        && !domains.is_empty()
        && domains.iter().all(|d| {
            d.spf
                .new_ip
                .as_ref()
                .is_some_and(|c| c.result == SpfResult::Pass)
        })
        && dnsbl
            .iter()
            .all(|c| matches!(c.result, Ok(DnsblAnswer::NotListed)))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::probe::DnsError;
    use crate::probe::mail::{MxAnswer, MxHost, SpfCheck};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn spf(new: SpfResult, old: SpfResult) -> SpfOutcome {
        SpfOutcome {
            domain: "example.org".into(),
            record: Ok(Some("v=spf1 ip4:198.51.100.11 -all".into())),
            new_ip: Some(SpfCheck {
                ip: ip("203.0.113.11"),
                result: new,
                why: None,
            }),
            old_ip: Some(SpfCheck {
                ip: ip("198.51.100.11"),
                result: old,
                why: None,
            }),
        }
    }

    fn mx(points_here: bool, old: bool) -> MxOutcome {
        MxOutcome {
            domain: "example.org".into(),
            result: Ok(MxAnswer {
                hosts: vec![MxHost {
                    preference: 10,
                    name: "mail.example.org".into(),
                    addresses: Ok(vec![ip("203.0.113.11")]),
                    more: 0,
                }],
                more: 0,
                null_mx: false,
                points_here,
                old,
                ttl: 300,
            }),
        }
    }

    fn listing(result: Result<DnsblAnswer, DnsError>) -> DnsblCheck {
        DnsblCheck {
            zone: "bl.lab.test".into(),
            ip: ip("203.0.113.11"),
            result,
        }
    }

    #[test]
    fn spf_that_authorizes_only_the_old_address_is_said_so() {
        let p = spf_problems(&spf(SpfResult::Fail, SpfResult::Pass));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].weight, MailWeight::Degraded);
        assert_eq!(
            p[0].words,
            "SPF of example.org authorizes only the old address (fail for the new)"
        );
        assert!(spf_problems(&spf(SpfResult::Pass, SpfResult::Fail)).is_empty());
        let none = spf_problems(&spf(SpfResult::None, SpfResult::None));
        assert_eq!(none[0].words, "example.org has no SPF record");
        let soft = spf_problems(&spf(SpfResult::SoftFail, SpfResult::SoftFail));
        assert_eq!(
            soft[0].words,
            "SPF of example.org says softfail for the new address"
        );
    }

    #[test]
    fn a_listing_degrades_a_refusal_only_warns() {
        let listed = dnsbl_problems(&listing(Ok(DnsblAnswer::Listed {
            codes: vec!["127.0.0.2".parse().unwrap()],
            reason: Some("spam trap hits".into()),
            ttl: 300,
        })));
        assert_eq!(listed[0].weight, MailWeight::Degraded);
        assert_eq!(
            listed[0].words,
            "203.0.113.11 is listed on bl.lab.test: spam trap hits"
        );
        let refused = dnsbl_problems(&listing(Ok(DnsblAnswer::Refused {
            code: "127.255.255.254".parse().unwrap(),
        })));
        assert_eq!(refused[0].weight, MailWeight::Warn);
        assert_eq!(
            refused[0].words,
            "bl.lab.test: blocked by the list's usage policy"
        );
        assert!(dnsbl_problems(&listing(Ok(DnsblAnswer::NotListed))).is_empty());
        assert_eq!(
            dnsbl_problems(&listing(Err(DnsError::Timeout)))[0].weight,
            MailWeight::Warn
        );
    }

    #[test]
    fn mx_still_on_the_old_address_degrades() {
        assert!(mx_problems(&mx(true, false)).is_empty());
        let old = mx_problems(&mx(false, true));
        assert_eq!(old[0].weight, MailWeight::Degraded);
        assert_eq!(
            old[0].words,
            "an MX of example.org still resolves to the old address"
        );
        assert_eq!(old[1].weight, MailWeight::Warn);
    }

    #[test]
    fn helo_against_the_ptr() {
        let check = |ptr, mx| HeloCheck {
            name: "mail.example.org".into(),
            matches_ptr: ptr,
            matches_mx: mx,
        };
        assert!(helo_problems(&check(true, true)).is_empty());
        let p = helo_problems(&check(false, true));
        assert_eq!(p[0].weight, MailWeight::Warn);
        assert!(p[0].words.ends_with("(it is an MX name)"), "{}", p[0].words);
    }

    #[test]
    fn clean_mail_and_the_order_of_problems() {
        let domain = |mx, spf| [MailDomain { mx, spf }];
        let clean = domain(mx(true, false), spf(SpfResult::Pass, SpfResult::Fail));
        let not_listed = [listing(Ok(DnsblAnswer::NotListed))];
        assert!(mail_clean(&clean, &not_listed));
        // Nothing asked yet is not clean.
        assert!(!mail_clean(&[], &[]));
        let old_spf = domain(mx(true, false), spf(SpfResult::Fail, SpfResult::Pass));
        assert!(!mail_clean(&old_spf, &not_listed));
        let old_spf = domain(mx(false, false), spf(SpfResult::Fail, SpfResult::Pass));
        let helo = HeloCheck {
            name: "x".into(),
            matches_ptr: false,
            matches_mx: false,
        };
        let all = mail_problems(&old_spf, &not_listed, Some(&helo));
        let weights: Vec<MailWeight> = all.iter().map(|p| p.weight).collect();
        assert_eq!(
            weights,
            [MailWeight::Degraded, MailWeight::Warn, MailWeight::Warn]
        );
    }
}
