//! Mail after the move (issue 18): what a receiving mail server checks about a sender on a
//! new address, asked before the backlog is released.
//!
//! - [`mx`]: a mail domain's MX set, each name's addresses, whether one is the host's
//!   `new_ip` (and whether one is still its `old_ip`);
//! - [`spf`] (`mail/spf.rs`): the domain's SPF policy evaluated for `new_ip` and `old_ip`
//!   by the `mail-auth` crate's RFC 7208 evaluator, asking the same servers moveday asks;
//! - [`dnsbl`] (`mail/dnsbl.rs`): the address looked up in DNS blocklists, with the
//!   per-(zone, address) [`DnsblCache`] that keeps moveday within the lists' usage limits;
//! - [`helo_check`]: the name the SMTP service announces against the PTR and MX names.
//!
//! Each network function ends within its timeout, returns errors as values, and keeps only
//! answers owned by the name asked (or a CNAME chain from it). Names and texts from the
//! network are sanitized and capped.

mod desk;
mod dnsbl;
mod spf;

use std::net::IpAddr;
use std::time::Duration;

use futures::future::join_all;
use hickory_proto::rr::{RData, RecordType};
use tokio::time::Instant;

use super::dns::{self, Resolver};
use super::dns_client::DnsClient;
use super::service::SmtpNames;
use super::zone::{fqdn, name_text, owned_answers};
use super::{DnsError, cap_addresses};

pub use desk::{DnsblOutcome, MailDesk, MailDomain, MailOutcome};
pub use dnsbl::{DnsblAnswer, DnsblCache, DnsblCheck, REFUSAL_WORDS, dnsbl, dnsbl_name};
pub use spf::{MAX_SPF_RECORD_CHARS, SpfCheck, SpfEvaluator, SpfOutcome, SpfResult, spf};

/// MX names kept of one answer (a domain with hundreds is hostile, or broken).
pub const MAX_MX: usize = 16;

/// A mail domain's MX set, as the resolver answers it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxOutcome {
    /// The domain asked, lower-case, without the trailing dot.
    pub domain: String,
    pub result: Result<MxAnswer, DnsError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxAnswer {
    /// By preference, then name; at most [`MAX_MX`]. Empty: the domain has no MX record
    /// (mail then goes to its own A/AAAA, RFC 5321 §5.1).
    pub hosts: Vec<MxHost>,
    /// MX names beyond those: counted, not kept.
    pub more: usize,
    /// A null MX (`0 .`, RFC 7505): the domain says it takes no mail.
    pub null_mx: bool,
    /// One of the MX names resolves to the host's `new_ip`.
    pub points_here: bool,
    /// One of the MX names still resolves to the host's `old_ip`.
    pub old: bool,
    /// The MX records' smallest TTL.
    pub ttl: u32,
}

/// One MX name and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    pub preference: u16,
    /// Lower-case, without the trailing dot, sanitized.
    pub name: String,
    /// At most [`super::MAX_ANSWER_ADDRESSES`], sorted, once each (the rest counted in
    /// `more`); an error when the name does not resolve.
    pub addresses: Result<Vec<IpAddr>, DnsError>,
    pub more: usize,
}

/// `domain`'s MX set as `resolver` answers it, each MX name's A/AAAA, and whether one is
/// `new_ip` (or still `old_ip`): all within `timeout`.
pub async fn mx(
    client: &DnsClient,
    resolver: &Resolver,
    domain: &str,
    new_ip: Option<IpAddr>,
    old_ip: Option<IpAddr>,
    timeout: Duration,
) -> MxOutcome {
    let deadline = Instant::now() + timeout;
    let result = tokio::time::timeout_at(deadline, mx_answer(client, resolver, domain, deadline))
        .await
        .unwrap_or(Err(DnsError::Timeout))
        .map(|mut answer| {
            let has = |ip: Option<IpAddr>| {
                ip.is_some_and(|ip| {
                    answer
                        .hosts
                        .iter()
                        .any(|h| h.addresses.as_ref().is_ok_and(|a| a.contains(&ip)))
                })
            };
            answer.points_here = has(new_ip);
            answer.old = has(old_ip);
            answer
        });
    MxOutcome {
        domain: domain.trim_end_matches('.').to_ascii_lowercase(),
        result,
    }
}

async fn mx_answer(
    client: &DnsClient,
    resolver: &Resolver,
    domain: &str,
    deadline: Instant,
) -> Result<MxAnswer, DnsError> {
    let name = fqdn(domain)?;
    let left = || deadline.saturating_duration_since(Instant::now());
    let message = match dns::ask_servers(client, resolver, &name, RecordType::MX, left()).await {
        Ok(message) => message,
        Err(DnsError::NoRecords) => return Ok(no_mx()),
        Err(e) => return Err(e),
    };
    let (mut records, ttl) = mx_records(&message.answers, &name);
    let more = records.len().saturating_sub(MAX_MX);
    records.truncate(MAX_MX);
    let null_mx = records.len() == 1 && records[0].1.is_root();
    let hosts = join_all(records.into_iter().map(|(preference, target)| async move {
        let addresses = match target.is_root() {
            true => Err(DnsError::NoRecords),
            false => dns::addresses_direct(client, resolver, &target, left()).await,
        };
        let (addresses, more) = match addresses {
            Ok((mut addresses, _)) => {
                let more = cap_addresses(&mut addresses);
                (Ok(addresses), more)
            }
            Err(e) => (Err(e), 0),
        };
        MxHost {
            preference,
            name: name_text(&target),
            addresses,
            more,
        }
    }))
    .await;
    Ok(MxAnswer {
        hosts,
        more,
        null_mx,
        points_here: false,
        old: false,
        ttl: ttl.unwrap_or(0),
    })
}

fn no_mx() -> MxAnswer {
    MxAnswer {
        hosts: Vec::new(),
        more: 0,
        null_mx: false,
        points_here: false,
        old: false,
        ttl: 0,
    }
}

/// The MX records answering `name` (owned by it, or by a CNAME chain from it), sorted by
/// preference then name, once each, and their smallest TTL.
fn mx_records(
    records: &[hickory_proto::rr::Record],
    name: &hickory_proto::rr::Name,
) -> (Vec<(u16, hickory_proto::rr::Name)>, Option<u32>) {
    let mut ttl: Option<u32> = None;
    let mut mx: Vec<(u16, hickory_proto::rr::Name)> = owned_answers(records, name, RecordType::MX)
        .into_iter()
        .filter_map(|record| match &record.data {
            RData::MX(mx) => {
                ttl = Some(ttl.map_or(record.ttl, |t| t.min(record.ttl)));
                Some((mx.preference, mx.exchange.to_lowercase()))
            }
            _ => None,
        })
        .collect();
    mx.sort();
    mx.dedup();
    (mx, ttl)
}

/// How the name an SMTP service announces compares with the host's DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeloCheck {
    /// The name announced (EHLO reply, else banner).
    pub name: String,
    /// It is one of the PTR names of `new_ip`.
    pub matches_ptr: bool,
    /// It is one of the mail domains' MX names.
    pub matches_mx: bool,
}

/// Compares the name `announced` by the SMTP service with the PTR names of `new_ip` and
/// the MX names (all as the probes give them: lower-case, no trailing dot; compared
/// ignoring case and a trailing dot all the same). `None` when the service announced no
/// name.
pub fn helo_check(
    announced: &SmtpNames,
    ptr_names: &[impl AsRef<str>],
    mx_names: &[impl AsRef<str>],
) -> Option<HeloCheck> {
    let name = announced.name()?;
    let same = |other: &str| {
        other
            .trim_end_matches('.')
            .eq_ignore_ascii_case(name.trim_end_matches('.'))
    };
    Some(HeloCheck {
        name: name.to_string(),
        matches_ptr: ptr_names.iter().any(|n| same(n.as_ref())),
        matches_mx: mx_names.iter().any(|n| same(n.as_ref())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{CNAME, MX};
    use hickory_proto::rr::{Name, Record};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn mx_record(owner: &str, preference: u16, target: &str) -> Record {
        Record::from_rdata(
            name(owner),
            300,
            RData::MX(MX::new(preference, name(target))),
        )
    }

    #[test]
    fn mx_records_are_owned_sorted_and_followed_through_a_cname() {
        let records = vec![
            mx_record("example.org.", 20, "MX2.example.org."),
            mx_record("example.org.", 10, "mx1.example.org."),
            mx_record("example.org.", 10, "mx1.example.org."),
            // Owned by another name: not an answer about example.org.
            mx_record("victim.test.", 0, "evil.test."),
        ];
        let (mx, ttl) = mx_records(&records, &name("example.org."));
        let names: Vec<(u16, String)> = mx.iter().map(|(p, n)| (*p, name_text(n))).collect();
        assert_eq!(
            names,
            [
                (10, "mx1.example.org".into()),
                (20, "mx2.example.org".into())
            ]
        );
        assert_eq!(ttl, Some(300));

        let chained = vec![
            Record::from_rdata(
                name("alias.test."),
                60,
                RData::CNAME(CNAME(name("example.org."))),
            ),
            mx_record("example.org.", 5, "mx.example.org."),
        ];
        let (mx, ttl) = mx_records(&chained, &name("alias.test."));
        assert_eq!(mx.len(), 1);
        assert_eq!(ttl, Some(300), "the MX records' TTL");
    }

    #[test]
    fn helo_compares_the_announced_name_with_ptr_and_mx() {
        let names = SmtpNames {
            banner: Some("mail.example.org".into()),
            ehlo: Some("smtp.example.org".into()),
        };
        let check = helo_check(&names, &["smtp.example.org"], &["mail.example.org"]).unwrap();
        assert_eq!(check.name, "smtp.example.org", "the EHLO reply's name wins");
        assert!(check.matches_ptr);
        assert!(!check.matches_mx);

        let banner_only = SmtpNames {
            banner: Some("mail.example.org".into()),
            ehlo: None,
        };
        let none: [&str; 0] = [];
        let check = helo_check(&banner_only, &none, &["MAIL.example.org."]).unwrap();
        assert_eq!((check.matches_ptr, check.matches_mx), (false, true));
        assert_eq!(helo_check(&SmtpNames::default(), &none, &none), None);
    }
}
