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
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::dns_client::DnsClient;
use super::{AuthAnswer, DnsError, ZoneAnswer};
use crate::sanitize::sanitize;

/// Characters of an error text or a DNS name shown.
const TEXT_CHARS: usize = 160;

/// A TXT record's strings joined, as text (not yet sanitized: each caller caps it for
/// its use). The one rule for reading a TXT record.
pub fn txt_text(txt: &hickory_proto::rr::rdata::TXT) -> String {
    // Joined as bytes first: a character may be split across two strings.
    let bytes: Vec<u8> = txt
        .txt_data
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The serial of the SOA owned by `apex` in an answer (`None`: none there; a record of
/// another owner counts for nothing).
pub fn zone_serial(answer: &Message, apex: &Name) -> Option<u32> {
    answer.answers.iter().find_map(|r| match &r.data {
        RData::SOA(s) if r.name == *apex => Some(s.serial),
        _ => None,
    })
}

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
    let serial = zone_serial(&soa, &apex);
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
    let (addresses, ttl) = addresses_in(
        &name,
        [(&a, RecordType::A), (&aaaa, RecordType::AAAA)]
            .into_iter()
            .filter_map(|(m, t)| Some((m.as_ref().ok()?, t))),
    );
    if let (true, Some(ttl)) = (!addresses.is_empty(), ttl) {
        let mut addresses = addresses;
        let more = super::cap_addresses(&mut addresses);
        return Ok(AuthAnswer {
            addresses,
            more,
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

/// The addresses in the answer sections of `messages` (A and AAAA, each answering `name`'s
/// question of its type: see [`owned_answers`]), sorted, once each, and the smallest TTL
/// among them and the CNAMEs that led there (a chain may be cached no longer than its
/// shortest link); `None` without any such record.
pub(crate) fn addresses_in<'a>(
    name: &Name,
    messages: impl IntoIterator<Item = (&'a Message, RecordType)>,
) -> (Vec<IpAddr>, Option<u32>) {
    let mut addresses = Vec::new();
    let mut ttl: Option<u32> = None;
    for (message, rtype) in messages {
        for record in owned_answers(&message.answers, name, rtype) {
            match &record.data {
                RData::A(v4) => addresses.push(IpAddr::V4(v4.0)),
                RData::AAAA(v6) => addresses.push(IpAddr::V6(v6.0)),
                _ => {}
            }
            ttl = Some(ttl.map_or(record.ttl, |t| t.min(record.ttl)));
        }
    }
    addresses.sort();
    addresses.dedup();
    (addresses, ttl)
}

/// CNAME links followed from the name asked before an answer is given up as a loop.
const MAX_CNAME_LINKS: usize = 8;

/// The records of an answer section that answer the question `name`, `rtype`: the CNAME
/// chain from `name` and the records of type `rtype` owned by `name` or by a name that
/// chain leads to. A record owned by any other name is not an answer, whatever the server
/// meant by it (a record of `other.victim.test` in an answer about `a.evil.test` would
/// otherwise be believed). The one rule of every DNS path: resolvers, zone servers, PTR.
pub(crate) fn owned_answers<'a>(
    records: &'a [Record],
    name: &Name,
    rtype: RecordType,
) -> Vec<&'a Record> {
    let mut owner = name.clone();
    let mut owned = Vec::new();
    for _ in 0..=MAX_CNAME_LINKS {
        let mut next = None;
        for record in records.iter().filter(|r| r.name == owner) {
            match &record.data {
                // One CNAME per name; a second is ignored.
                RData::CNAME(target) if rtype != RecordType::CNAME && next.is_none() => {
                    next = Some(target.0.clone());
                    owned.push(record);
                }
                RData::CNAME(_) if rtype != RecordType::CNAME => {}
                data if data.record_type() == rtype => owned.push(record),
                _ => {}
            }
        }
        match next {
            Some(target) => owner = target,
            None => break,
        }
    }
    owned
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

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, CNAME};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn record(owner: &str, data: RData) -> Record {
        Record::from_rdata(name(owner), 60, data)
    }

    fn a(owner: &str, last: u8) -> Record {
        record(owner, RData::A(A::new(192, 0, 2, last)))
    }

    fn cname(owner: &str, target: &str) -> Record {
        record(owner, RData::CNAME(CNAME(name(target))))
    }

    fn owned(records: &[Record], question: &str) -> Vec<String> {
        owned_answers(records, &name(question), RecordType::A)
            .iter()
            .map(|r| format!("{} {}", r.name, r.data))
            .collect()
    }

    #[test]
    fn only_the_question_and_its_cname_chain_answer() {
        // Another owner, unrelated to the question: nothing.
        assert!(owned(&[a("other.victim.test.", 6)], "a.evil.test.").is_empty());
        // Owner names compare case-insensitively.
        assert_eq!(
            owned(&[a("WWW.example.org.", 1)], "www.example.org.").len(),
            1
        );
        // A chain, in any order, with a planted record beside it.
        let records = [
            a("mail.example.org.", 25),
            a("other.victim.test.", 6),
            cname("www.example.org.", "web.example.org."),
            cname("web.example.org.", "mail.example.org."),
        ];
        assert_eq!(
            owned(&records, "www.example.org."),
            [
                "www.example.org. web.example.org.",
                "web.example.org. mail.example.org.",
                "mail.example.org. 192.0.2.25",
            ]
        );
        // A CNAME from a name outside the chain leads nowhere.
        let records = [
            cname("other.victim.test.", "www.example.org."),
            a("other.victim.test.", 6),
        ];
        assert!(owned(&records, "www.example.org.").is_empty());
        // A loop ends.
        let records = [
            cname("a.example.org.", "b.example.org."),
            cname("b.example.org.", "a.example.org."),
        ];
        assert_eq!(owned(&records, "a.example.org.").len(), MAX_CNAME_LINKS + 1);
    }
}
