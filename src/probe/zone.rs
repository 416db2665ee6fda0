//! Authoritative probes: a zone's SOA serial and NS set, and a name's A/AAAA as its primary
//! serves them, asked straight of one server without recursion; and the wire-level asking
//! that `dns` and `ptr` build on.
//!
//! The authoritative queries are built with hickory-proto's message types and sent over a
//! long-lived UDP socket per server (`dns_client`; TCP when the answer is truncated): no resolver, no cache,
//! no retries, so a change at the server is visible on the very next probe, and the AA flag
//! and response code come back exactly as the server set them.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};

use super::dns_client::DnsClient;
use super::{AuthAnswer, DnsError, ZoneAnswer};
use crate::sanitize::sanitize;

/// Characters of an error text or a DNS name shown.
const TEXT_CHARS: usize = 160;

/// Asks `server` for the SOA and the NS set of `zone`'s apex (both at once, within
/// `timeout`), without recursion.
///
/// `authoritative` is the AA flag of the SOA answer: a server that should serve the zone
/// and answers without it is lame. `serial` is `None` when the answer carries no SOA of the
/// zone (a referral, or an empty non-authoritative answer).
pub async fn zone_probe(
    client: &DnsClient,
    server: SocketAddr,
    zone: &str,
    timeout: Duration,
) -> Result<ZoneAnswer, DnsError> {
    zone_probe_since(client, server, zone, timeout, None).await
}

/// As [`zone_probe`], knowing the server's `last` answer: the SOA is asked first, and the
/// NS set only when the serial moved (an NS set is zone data: it changes with the serial);
/// otherwise the last NS set still holds. Without `last`, both at once.
pub async fn zone_probe_since(
    client: &DnsClient,
    server: SocketAddr,
    zone: &str,
    timeout: Duration,
    last: Option<&ZoneAnswer>,
) -> Result<ZoneAnswer, DnsError> {
    let apex = fqdn(zone)?;
    let started = Instant::now();
    let last = last.filter(|l| l.serial.is_some());
    let (soa, ns) = match last {
        None => {
            let (soa, ns) = query_pair(
                client,
                server,
                &apex,
                [RecordType::SOA, RecordType::NS],
                timeout,
            )
            .await?;
            (soa?, Some(ns?))
        }
        Some(_) => (
            ask(client, server, &apex, RecordType::SOA, false, timeout).await?,
            None,
        ),
    };
    let serial = soa.answers.iter().find_map(|r| match &r.data {
        RData::SOA(s) if r.name == apex => Some(s.serial),
        _ => None,
    });
    let authoritative = soa.metadata.authoritative;
    let names = match (ns, last) {
        (Some(ns), _) => ns_names(&ns, &apex),
        (None, Some(last)) if last.serial == serial && last.authoritative == authoritative => {
            last.ns.clone()
        }
        (None, _) => {
            let left = timeout.saturating_sub(started.elapsed());
            ns_names(
                &ask(client, server, &apex, RecordType::NS, false, left).await?,
                &apex,
            )
        }
    };
    Ok(ZoneAnswer {
        serial,
        ns: names,
        authoritative,
        latency: started.elapsed(),
    })
}

/// The NS names of the apex in `answer`: lower-case, sorted, once each.
fn ns_names(answer: &Message, apex: &Name) -> Vec<String> {
    let mut names: Vec<String> = answer
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(n) if r.name == *apex => Some(name_text(&n.0)),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Asks `server` for the A and AAAA records of `fqdn` (both at once, within `timeout`),
/// without recursion: what the primary serves now, and the TTL it hands to caches.
///
/// `ttl` is the smallest TTL of the address records (CNAMEs in the answer count too).
/// `authoritative` is true when every answer that carried records had the AA flag.
pub async fn authoritative_lookup(
    client: &DnsClient,
    server: SocketAddr,
    fqdn_text: &str,
    timeout: Duration,
) -> Result<AuthAnswer, DnsError> {
    let name = fqdn(fqdn_text)?;
    let (a, aaaa) = query_pair(
        client,
        server,
        &name,
        [RecordType::A, RecordType::AAAA],
        timeout,
    )
    .await?;

    let authoritative = [&a, &aaaa]
        .into_iter()
        .flatten()
        .all(|message| message.metadata.authoritative);
    let (addresses, ttl) = addresses_in([&a, &aaaa].into_iter().flatten());
    if let (true, Some(ttl)) = (!addresses.is_empty(), ttl) {
        return Ok(AuthAnswer {
            addresses,
            ttl,
            authoritative,
        });
    }
    Err(match (a, aaaa) {
        (Err(DnsError::NxDomain), _) | (_, Err(DnsError::NxDomain)) => DnsError::NxDomain,
        (Err(e), _) | (_, Err(e)) => e,
        (Ok(_), Ok(_)) => DnsError::NoRecords,
    })
}

/// The addresses in the answer sections of `messages` (A and AAAA), sorted, once each, and
/// the smallest TTL among them and the CNAMEs that led there (a chain may be cached no
/// longer than its shortest link); `None` without any such record.
pub(crate) fn addresses_in<'a>(
    messages: impl IntoIterator<Item = &'a Message>,
) -> (Vec<IpAddr>, Option<u32>) {
    let mut addresses = Vec::new();
    let mut ttl: Option<u32> = None;
    for message in messages {
        for record in &message.answers {
            match &record.data {
                RData::A(v4) => addresses.push(IpAddr::V4(v4.0)),
                RData::AAAA(v6) => addresses.push(IpAddr::V6(v6.0)),
                RData::CNAME(_) => {}
                _ => continue,
            }
            ttl = Some(ttl.map_or(record.ttl, |t| t.min(record.ttl)));
        }
    }
    addresses.sort();
    addresses.dedup();
    (addresses, ttl)
}

/// `text` as a fully qualified name.
pub(crate) fn fqdn(text: &str) -> Result<Name, DnsError> {
    let text = format!("{}.", text.trim_end_matches('.'));
    Name::from_ascii(&text).map_err(|_| {
        DnsError::Other(format!(
            "invalid DNS name `{}`",
            sanitize(&text, TEXT_CHARS)
        ))
    })
}

/// A DNS name from the network as shown: lower-case, no trailing dot, sanitized.
pub(crate) fn name_text(name: &Name) -> String {
    let text = name.to_lowercase().to_ascii();
    sanitize(text.trim_end_matches('.'), TEXT_CHARS)
}

/// Two queries about one name, at once, both within `timeout`.
async fn query_pair(
    client: &DnsClient,
    server: SocketAddr,
    name: &Name,
    [first, second]: [RecordType; 2],
    timeout: Duration,
) -> Result<(Result<Message, DnsError>, Result<Message, DnsError>), DnsError> {
    let both = futures::future::join(
        client.query(server, name, first, false),
        client.query(server, name, second, false),
    );
    tokio::time::timeout(timeout, both)
        .await
        .map_err(|_| DnsError::Timeout)
}

/// One question to one server, with or without recursion desired, within `timeout`: UDP,
/// then TCP if truncated. An answer with an error code is an error.
pub(crate) async fn ask(
    client: &DnsClient,
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recursion: bool,
    timeout: Duration,
) -> Result<Message, DnsError> {
    tokio::time::timeout(timeout, client.query(server, name, rtype, recursion))
        .await
        .map_err(|_| DnsError::Timeout)?
}
