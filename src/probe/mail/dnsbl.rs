//! DNS blocklists (RFC 5782): is the host's new address on a list receivers consult?
//!
//! The question is the address reversed under the list's zone (`13.113.0.203.zen.spamhaus.org`
//! for 203.0.113.13; 32 nibbles for IPv6). An A record in 127.0.0.0/8 is a listing (its TXT
//! record says why), NXDOMAIN is none. An answer in 127.255.255.0/24 is the list refusing
//! to answer this asker (too many queries, or a big public resolver in between), not a
//! listing; an answer outside 127/8 is no DNSBL answer at all (a resolver that rewrites
//! NXDOMAIN), an error.
//!
//! Public lists limit their use: [`DnsblCache`] keeps each (zone, address) answer for
//! `dnsbl_every` (or its TTL, when longer) and says which zones are due.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hickory_proto::rr::{Name, RData, RecordType};

use crate::probe::DnsError;
use crate::probe::dns::{self, Resolver};
use crate::probe::dns_client::DnsClient;
use crate::probe::zone::{fqdn, owned_answers};
use crate::sanitize::sanitize;

/// Characters of a listing's reason (its TXT record) kept.
const REASON_CHARS: usize = 300;

/// Listing codes kept of one answer.
const MAX_CODES: usize = 8;

/// What a refusal is shown as.
pub const REFUSAL_WORDS: &str = "blocked by the list's usage policy";

/// One zone's answer about one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsblCheck {
    /// The list's zone, lower-case, without the trailing dot.
    pub zone: String,
    pub ip: IpAddr,
    pub result: Result<DnsblAnswer, DnsError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsblAnswer {
    /// NXDOMAIN (or no A record): not on the list.
    NotListed,
    /// On the list.
    Listed {
        /// The A records (127.0.0.x: the list's reason codes), sorted, at most 8.
        codes: Vec<Ipv4Addr>,
        /// The TXT record(s) at the same name, joined with ` / `, sanitized, capped; `None`
        /// when the list gives none (or the TXT question failed).
        reason: Option<String>,
        /// The A records' smallest TTL.
        ttl: u32,
    },
    /// An answer in 127.255.255.0/24: the list will not answer this asker
    /// ([`REFUSAL_WORDS`]), nothing about the address.
    Refused { code: Ipv4Addr },
}

impl DnsblCheck {
    /// Whether the zone lists the address.
    pub fn listed(&self) -> bool {
        matches!(self.result, Ok(DnsblAnswer::Listed { .. }))
    }
}

/// The name asked of `zone` about `ip`: its octets (IPv4) or nibbles (IPv6) reversed.
pub fn dnsbl_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0x0f, byte >> 4);
            }
            name.push_str(zone);
            name
        }
    }
}

/// Asks `zone`, through `resolver`, whether it lists `ip` (and, when it does, why), within
/// `timeout`.
pub async fn dnsbl(
    client: &DnsClient,
    resolver: &Resolver,
    zone: &str,
    ip: IpAddr,
    timeout: Duration,
) -> DnsblCheck {
    let deadline = tokio::time::Instant::now() + timeout;
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let result = tokio::time::timeout_at(deadline, lookup(client, resolver, &zone, ip, deadline))
        .await
        .unwrap_or(Err(DnsError::Timeout));
    DnsblCheck { zone, ip, result }
}

async fn lookup(
    client: &DnsClient,
    resolver: &Resolver,
    zone: &str,
    ip: IpAddr,
    deadline: tokio::time::Instant,
) -> Result<DnsblAnswer, DnsError> {
    let name = fqdn(&dnsbl_name(ip, zone))?;
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
    let message = match dns::ask_servers(client, resolver, &name, RecordType::A, left()).await {
        Ok(message) => message,
        Err(DnsError::NxDomain | DnsError::NoRecords) => return Ok(DnsblAnswer::NotListed),
        Err(e) => return Err(e),
    };
    let (codes, ttl) = codes(&message.answers, &name);
    match judge(&codes)? {
        Some(answer) => Ok(answer),
        None if codes.is_empty() => Ok(DnsblAnswer::NotListed),
        None => {
            let reason = reason(client, resolver, &name, left()).await;
            Ok(DnsblAnswer::Listed {
                codes: codes.into_iter().take(MAX_CODES).collect(),
                reason,
                ttl: ttl.unwrap_or(0),
            })
        }
    }
}

/// The A records answering `name` (sorted, once each) and their smallest TTL.
fn codes(records: &[hickory_proto::rr::Record], name: &Name) -> (Vec<Ipv4Addr>, Option<u32>) {
    let mut ttl: Option<u32> = None;
    let mut codes: Vec<Ipv4Addr> = owned_answers(records, name, RecordType::A)
        .into_iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => {
                ttl = Some(ttl.map_or(r.ttl, |t| t.min(r.ttl)));
                Some(a.0)
            }
            _ => None,
        })
        .collect();
    codes.sort();
    codes.dedup();
    (codes, ttl)
}

/// What the codes say before any listing is believed: a refusal (any code in
/// 127.255.255.0/24), or an error for a code outside 127.0.0.0/8; `None`: a listing (or
/// nothing, for no codes).
fn judge(codes: &[Ipv4Addr]) -> Result<Option<DnsblAnswer>, DnsError> {
    if let Some(code) = codes.iter().find(|c| c.octets()[..3] == [127, 255, 255]) {
        return Ok(Some(DnsblAnswer::Refused { code: *code }));
    }
    if let Some(code) = codes.iter().find(|c| c.octets()[0] != 127) {
        return Err(DnsError::Other(format!(
            "answer {code} is outside 127.0.0.0/8: no blocklist answer (a resolver rewriting NXDOMAIN?)"
        )));
    }
    Ok(None)
}

/// The TXT records at a listing's name, joined, sanitized, capped; `None` without any.
async fn reason(
    client: &DnsClient,
    resolver: &Resolver,
    name: &Name,
    timeout: Duration,
) -> Option<String> {
    let message = dns::ask_servers(client, resolver, name, RecordType::TXT, timeout)
        .await
        .ok()?;
    let texts: Vec<String> = owned_answers(&message.answers, name, RecordType::TXT)
        .into_iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(super::super::zone::txt_text(txt)),
            _ => None,
        })
        .take(MAX_CODES)
        .collect();
    (!texts.is_empty()).then(|| sanitize(&texts.join(" / "), REASON_CHARS))
}

/// The last answer of each (zone, address), and when it may be asked again: at most every
/// `every` (the lists' usage limits), and not before a listing's TTL runs out. Pure: the
/// caller gives the times.
#[derive(Debug, Clone)]
pub struct DnsblCache {
    every: Duration,
    entries: HashMap<(String, IpAddr), Cached>,
}

#[derive(Debug, Clone)]
struct Cached {
    check: DnsblCheck,
    /// Not asked again before this.
    until: Instant,
}

impl DnsblCache {
    /// A cache asking each (zone, address) at most every `every` (`[mail] dnsbl_every`).
    pub fn new(every: Duration) -> DnsblCache {
        DnsblCache {
            every,
            entries: HashMap::new(),
        }
    }

    /// Keeps `check`, asked at `at`.
    pub fn insert(&mut self, check: DnsblCheck, at: Instant) {
        let ttl = match &check.result {
            Ok(DnsblAnswer::Listed { ttl, .. }) => Duration::from_secs(u64::from(*ttl)),
            _ => Duration::ZERO,
        };
        let until = at + self.every.max(ttl);
        let key = (check.zone.clone(), check.ip);
        self.entries.insert(key, Cached { check, until });
    }

    /// The last answer of `zone` about `ip`, however old.
    pub fn get(&self, zone: &str, ip: IpAddr) -> Option<&DnsblCheck> {
        self.entries
            .get(&(zone.to_string(), ip))
            .map(|cached| &cached.check)
    }

    /// Whether `zone` may be asked about `ip` at `now`.
    pub fn due(&self, zone: &str, ip: IpAddr, now: Instant) -> bool {
        self.entries
            .get(&(zone.to_string(), ip))
            .is_none_or(|cached| now >= cached.until)
    }

    /// The zones of `zones` that may be asked about `ip` at `now`.
    pub fn due_zones<'a>(&self, zones: &'a [String], ip: IpAddr, now: Instant) -> Vec<&'a str> {
        zones
            .iter()
            .filter(|zone| self.due(zone, ip, now))
            .map(String::as_str)
            .collect()
    }

    /// When the first of `zones` is due again about `ip` (`None`: one is due now, or never
    /// asked).
    pub fn next_due(&self, zones: &[String], ip: IpAddr, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for zone in zones {
            let cached = self.entries.get(&(zone.clone(), ip))?;
            if now >= cached.until {
                return None;
            }
            next = Some(next.map_or(cached.until, |n| n.min(cached.until)));
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_address_reversed_under_the_zone() {
        let v4: IpAddr = "203.0.113.13".parse().unwrap();
        assert_eq!(
            dnsbl_name(v4, "zen.spamhaus.org."),
            "13.113.0.203.zen.spamhaus.org"
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            dnsbl_name(v6, "bl.example"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
    }

    #[test]
    fn codes_are_judged_before_a_listing_is_believed() {
        let ip = |t: &str| t.parse::<Ipv4Addr>().unwrap();
        assert_eq!(judge(&[ip("127.0.0.2")]), Ok(None));
        assert_eq!(
            judge(&[ip("127.0.0.2"), ip("127.255.255.254")]),
            Ok(Some(DnsblAnswer::Refused {
                code: ip("127.255.255.254")
            }))
        );
        assert!(
            matches!(judge(&[ip("198.51.100.7")]), Err(DnsError::Other(m)) if m.contains("outside 127.0.0.0/8"))
        );
    }

    fn check(zone: &str, result: Result<DnsblAnswer, DnsError>) -> DnsblCheck {
        DnsblCheck {
            zone: zone.into(),
            ip: "203.0.113.13".parse().unwrap(),
            result,
        }
    }

    #[test]
    fn the_cache_asks_a_zone_at_most_every_period_or_ttl() {
        let every = Duration::from_secs(600);
        let t0 = Instant::now();
        let ip: IpAddr = "203.0.113.13".parse().unwrap();
        let zones = vec!["a.test".to_string(), "b.test".to_string()];
        let mut cache = DnsblCache::new(every);
        assert_eq!(cache.due_zones(&zones, ip, t0), ["a.test", "b.test"]);
        assert_eq!(cache.next_due(&zones, ip, t0), None);

        cache.insert(check("a.test", Ok(DnsblAnswer::NotListed)), t0);
        let listed = DnsblAnswer::Listed {
            codes: vec![Ipv4Addr::new(127, 0, 0, 2)],
            reason: Some("spam trap".into()),
            ttl: 3600,
        };
        cache.insert(check("b.test", Ok(listed)), t0);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(cache.due_zones(&zones, ip, at(599)).is_empty());
        assert_eq!(cache.next_due(&zones, ip, at(1)), Some(at(600)));
        assert_eq!(cache.due_zones(&zones, ip, at(600)), ["a.test"]);
        assert!(cache.due("b.test", ip, at(3600)), "the TTL, longer, wins");
        assert!(!cache.due("b.test", ip, at(3599)));
        assert!(cache.get("b.test", ip).unwrap().listed());
        // Another address is asked on its own.
        assert!(cache.due("a.test", "203.0.113.14".parse().unwrap(), at(1)));
        // An error is not asked again sooner either.
        cache.insert(check("a.test", Err(DnsError::Timeout)), at(600));
        assert!(!cache.due("a.test", ip, at(1199)));
        assert!(cache.due("a.test", ip, at(1200)));
    }
}
