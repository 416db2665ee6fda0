//! The zone's delegation as its parent serves it: each parent server is asked, without
//! recursion, for the zone's NS; the referral's NS set and glue (the A/AAAA records of those
//! NS names in its additional section) are read, and the zone's own primary is asked what it
//! serves for each glue name in the zone. The model weighs the two (`store::delegation`).
//!
//! The registrar is the slowest part of a move: glue still holding the old address of
//! ns-master sends every resolver whose cache expires to the old datacenter.
//!
//! Without `[[zone]] parent`, the parent's servers are found through the system resolver
//! first ([`find_parents`]): the NS set of the nearest enclosing zone (`example.org` ->
//! `org` -> the root), and those names' addresses, asked again each time.
//!
//! ```text
//! parent 1 ─┐  NS? (no recursion)  ─> NS set (owner: the zone), glue (owner: an NS name)
//! parent 2 ─┤                            │
//!           └────────────────────────────┴─> primary: A/AAAA of each in-zone NS name
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::future::join_all;
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::time::Instant;

use super::dns::{self, Resolver};
use super::dns_client::DnsClient;
use super::zone::{ask, authoritative_lookup, fqdn, name_text};
use super::{DnsError, MAX_ANSWER_ADDRESSES, cap_addresses};

/// NS names kept of one referral (a parent delegating to thousands is hostile, or broken).
pub const MAX_DELEGATION_NS: usize = 32;

/// Parent servers found through the system resolver that are asked, at most.
pub const MAX_FOUND_PARENTS: usize = 8;

/// One zone's delegation, as its parent servers and its primary serve it now.
#[derive(Debug, Clone, PartialEq)]
pub struct DelegationOutcome {
    /// Index into `Inventory::zones`.
    pub zone: usize,
    /// How the parent servers were found through the system resolver (`None`: the
    /// inventory lists them). When they could not be, `servers` is empty.
    pub found: Option<Result<FoundParents, DnsError>>,
    /// One per `parent` server, in inventory order.
    pub servers: Vec<ParentAnswer>,
    /// What the zone's primary serves for each in-zone NS name a parent named, by name.
    pub primary: BTreeMap<String, Result<Vec<IpAddr>, DnsError>>,
}

/// The parent zone's servers as the system resolver gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundParents {
    /// The parent zone: `org`, or `.` for the root.
    pub zone: String,
    /// At most [`MAX_FOUND_PARENTS`], in the order of their NS names.
    pub servers: Vec<SocketAddr>,
}

/// The servers of `zone`'s parent, found through `resolver` (the system resolver) within
/// `timeout`: walking up from the zone's parent name (`example.org` -> `org` -> `.`), the
/// first name with an NS set is the parent zone, and its NS names' addresses (on `port`,
/// 53 but in tests) are its servers. A name without NS records is no zone cut: the walk
/// goes on; any other failure ends it, as does a parent whose servers have no address.
pub async fn find_parents(
    client: &DnsClient,
    resolver: &Resolver,
    zone: &str,
    port: u16,
    timeout: Duration,
) -> Result<FoundParents, DnsError> {
    let deadline = Instant::now() + timeout;
    let mut parent = fqdn(zone)?.base_name();
    let names = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match dns::ns_names(client, resolver, &parent, left).await {
            Ok(names) => break names,
            Err(DnsError::NoRecords | DnsError::NxDomain) if !parent.is_root() => {
                parent = parent.base_name();
            }
            Err(e) => {
                let why = match e {
                    DnsError::NoRecords => "no NS records".to_string(),
                    e => e.to_string(),
                };
                return Err(DnsError::Other(format!(
                    "the system resolver's NS of {}: {why}",
                    zone_text(&parent)
                )));
            }
        }
    };
    let lookups = names.iter().take(MAX_FOUND_PARENTS).map(|ns| async move {
        let name = fqdn(ns).ok()?;
        let left = deadline.saturating_duration_since(Instant::now());
        dns::addresses_direct(client, resolver, &name, left)
            .await
            .ok()
    });
    let mut servers: Vec<SocketAddr> = Vec::new();
    for (addresses, _) in join_all(lookups).await.into_iter().flatten() {
        for ip in addresses {
            let server = SocketAddr::new(ip, port);
            if servers.len() < MAX_FOUND_PARENTS && !servers.contains(&server) {
                servers.push(server);
            }
        }
    }
    if servers.is_empty() {
        return Err(DnsError::Other(format!(
            "no address for the servers of {} ({})",
            zone_text(&parent),
            names.join(" ")
        )));
    }
    Ok(FoundParents {
        zone: zone_text(&parent),
        servers,
    })
}

/// A zone's name as shown: `org`, or `.` for the root.
fn zone_text(name: &Name) -> String {
    match name.is_root() {
        true => ".".to_string(),
        false => name_text(name),
    }
}

/// What one parent server says about the zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentAnswer {
    pub address: SocketAddr,
    pub result: Result<Referral, DnsError>,
}

/// The delegation in one parent server's referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// The NS names of the zone, lower-case, sorted, once each; at most
    /// [`MAX_DELEGATION_NS`].
    pub ns: Vec<String>,
    /// One per NS name inside the zone (which needs glue: its `addresses` are empty when the
    /// parent has none) and per other NS name the parent sent glue for; sorted by name.
    pub glue: Vec<Glue>,
}

/// The glue addresses of one NS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glue {
    pub name: String,
    /// At most [`MAX_ANSWER_ADDRESSES`], sorted, once each.
    pub addresses: Vec<IpAddr>,
    /// Addresses beyond those: counted, not kept.
    pub more: usize,
}

/// Asks every server of `parents` for `zone`'s delegation, and `primary` for the addresses
/// of the in-zone NS names they name; all of it within `timeout`.
pub async fn delegation_probe(
    client: &DnsClient,
    zone_index: usize,
    zone: &str,
    parents: &[SocketAddr],
    primary: SocketAddr,
    timeout: Duration,
) -> DelegationOutcome {
    let deadline = Instant::now() + timeout;
    let asks = parents.iter().map(|&address| async move {
        let result = referral(client, address, zone, deadline).await;
        let names: Vec<String> = match &result {
            Ok(r) => r
                .glue
                .iter()
                .filter(|g| in_zone(&g.name, zone))
                .map(|g| g.name.clone())
                .collect(),
            Err(_) => Vec::new(),
        };
        let served = join_all(names.into_iter().map(|name| async move {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = authoritative_lookup(client, primary, &name, left).await;
            (name, answer.map(|a| a.addresses))
        }))
        .await;
        (ParentAnswer { address, result }, served)
    });
    let mut servers = Vec::new();
    let mut primary_serves: BTreeMap<String, Result<Vec<IpAddr>, DnsError>> = BTreeMap::new();
    for (answer, served) in join_all(asks).await {
        servers.push(answer);
        for (name, addresses) in served {
            // An answer beats an error (two parents, one primary: the same question twice).
            let slot = primary_serves.entry(name).or_insert(addresses.clone());
            if slot.is_err() && addresses.is_ok() {
                *slot = addresses;
            }
        }
    }
    DelegationOutcome {
        zone: zone_index,
        found: None,
        servers,
        primary: primary_serves,
    }
}

/// Whether the DNS name `name` is `zone` or below it (both lower-case, no trailing dot).
fn in_zone(name: &str, zone: &str) -> bool {
    name.strip_suffix(zone)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// One parent server's referral for `zone`, by `deadline`.
async fn referral(
    client: &DnsClient,
    server: SocketAddr,
    zone: &str,
    deadline: Instant,
) -> Result<Referral, DnsError> {
    let apex = fqdn(zone)?;
    let left = deadline.saturating_duration_since(Instant::now());
    let message = ask(client, server, &apex, RecordType::NS, false, left).await?;
    let referral = read_referral(&message, &apex);
    if referral.ns.is_empty() {
        return Err(DnsError::Other(format!(
            "no NS records for {} in the answer: not a parent of the zone?",
            name_text(&apex)
        )));
    }
    Ok(referral)
}

/// The delegation in `message`: the NS records owned by `apex` (in the authority section of
/// a referral, or the answer section of a parent that also serves the zone) and the A/AAAA
/// records of the additional section owned by one of those NS names. A record owned by any
/// other name is not believed (the one rule of every DNS path: the owner is the name
/// asked; a delegation point is never an alias, so no CNAME is followed).
pub(crate) fn read_referral(message: &Message, apex: &Name) -> Referral {
    let mut ns: Vec<String> = message
        .answers
        .iter()
        .chain(&message.authorities)
        .filter(|r| r.name == *apex)
        .filter_map(|r| match &r.data {
            RData::NS(target) => Some(name_text(&target.0)),
            _ => None,
        })
        .collect();
    ns.sort();
    ns.dedup();
    ns.truncate(MAX_DELEGATION_NS);
    let zone = name_text(apex);
    let mut glue: BTreeMap<String, Vec<IpAddr>> = ns
        .iter()
        .filter(|n| in_zone(n, &zone))
        .map(|n| (n.clone(), Vec::new()))
        .collect();
    for record in &message.additionals {
        let Some(address) = glue_address(record) else {
            continue;
        };
        let owner = name_text(&record.name);
        if !ns.contains(&owner) {
            continue;
        }
        let addresses = glue.entry(owner).or_default();
        // Bounded as it is read: a huge additional section must not grow a huge list.
        if addresses.len() <= 4 * MAX_ANSWER_ADDRESSES {
            addresses.push(address);
        }
    }
    let glue = glue
        .into_iter()
        .map(|(name, mut addresses)| {
            addresses.sort();
            addresses.dedup();
            let more = cap_addresses(&mut addresses);
            Glue {
                name,
                addresses,
                more,
            }
        })
        .collect();
    Referral { ns, glue }
}

fn glue_address(record: &Record) -> Option<IpAddr> {
    match &record.data {
        RData::A(v4) => Some(IpAddr::V4(v4.0)),
        RData::AAAA(v6) => Some(IpAddr::V6(v6.0)),
        _ => None,
    }
}

/// A report of one parent (192.0.2.1) delegating `example.org` to `ns1.example.org` with
/// `glue`, the primary serving ns1 at 203.0.113.53: the model's and the journal's tests.
#[cfg(test)]
pub(crate) fn one_referral(glue: &str, at: std::time::SystemTime) -> super::ProbeReport {
    let ip = |t: &str| t.parse::<IpAddr>().expect("an address");
    super::ProbeReport::Delegation {
        at,
        outcome: DelegationOutcome {
            zone: 0,
            found: None,
            servers: vec![ParentAnswer {
                address: "192.0.2.1:53".parse().expect("an address"),
                result: Ok(Referral {
                    ns: vec!["ns1.example.org".into()],
                    glue: vec![Glue {
                        name: "ns1.example.org".into(),
                        addresses: vec![ip(glue)],
                        more: 0,
                    }],
                }),
            }],
            primary: [("ns1.example.org".to_string(), Ok(vec![ip("203.0.113.53")]))]
                .into_iter()
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, NS};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn ns(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 3600, RData::NS(NS(name(target))))
    }

    fn a(owner: &str, ip: [u8; 4]) -> Record {
        Record::from_rdata(
            name(owner),
            3600,
            RData::A(A::from(std::net::Ipv4Addr::from(ip))),
        )
    }

    #[test]
    fn a_referral_gives_the_ns_set_and_the_glue_of_those_names_only() {
        let mut m = Message::query();
        m.authorities = vec![
            ns("example.org.", "NS-Master.example.org."),
            ns("example.org.", "ns.partner.net."),
            // Owned by another name: not the zone's delegation.
            ns("victim.test.", "ns.evil.test."),
        ];
        m.additionals = vec![
            a("ns-master.example.org.", [198, 51, 100, 10]),
            // Glue for a name that is no NS of the zone: ignored.
            a("www.example.org.", [192, 0, 2, 66]),
            a("ns.evil.test.", [192, 0, 2, 67]),
        ];
        let r = read_referral(&m, &name("example.org."));
        assert_eq!(r.ns, ["ns-master.example.org", "ns.partner.net"]);
        assert_eq!(
            r.glue,
            [Glue {
                name: "ns-master.example.org".into(),
                addresses: vec!["198.51.100.10".parse().unwrap()],
                more: 0,
            }]
        );
    }

    #[test]
    fn an_in_zone_name_without_glue_is_listed_empty_and_huge_glue_is_capped() {
        let mut m = Message::query();
        m.authorities = vec![
            ns("example.org.", "ns1.example.org."),
            ns("example.org.", "ns2.example.org."),
        ];
        m.additionals = (0..=255u8)
            .flat_map(|i| (0..4u8).map(move |j| a("ns1.example.org.", [10, j, 0, i])))
            .collect();
        let r = read_referral(&m, &name("example.org."));
        assert_eq!(r.glue.len(), 2);
        assert_eq!(r.glue[0].addresses.len(), MAX_ANSWER_ADDRESSES);
        assert!(r.glue[0].more > 0);
        assert_eq!(r.glue[1].name, "ns2.example.org");
        assert!(r.glue[1].addresses.is_empty());
    }

    #[test]
    fn in_zone_is_by_labels() {
        assert!(in_zone("ns1.example.org", "example.org"));
        assert!(in_zone("example.org", "example.org"));
        assert!(!in_zone("ns1.badexample.org", "example.org"));
    }
}
