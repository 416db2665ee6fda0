//! Authoritative probes: a zone's SOA serial and NS set, and a name's A/AAAA as its primary
//! serves them, asked straight of one server without recursion; and reverse DNS (PTR,
//! forward-confirmed) through a resolver.
//!
//! The authoritative queries are built with hickory-proto's message types and sent over a
//! plain tokio socket (UDP, then TCP when the answer is truncated): no resolver, no cache,
//! no retries, so a change at the server is visible on the very next probe, and the AA flag
//! and response code come back exactly as the server set them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::dns::{self, Resolver};
use super::{AuthAnswer, DnsError, PtrAnswer, PtrOutcome, ZoneAnswer};
use crate::sanitize::sanitize;

/// Characters of an error text or a DNS name shown.
const TEXT_CHARS: usize = 160;

/// The largest UDP answer read (EDNS payloads beyond this are not asked for).
const UDP_BUFFER: usize = 4096;

/// Asks `server` for the SOA and the NS set of `zone`'s apex (both at once, within
/// `timeout`), without recursion.
///
/// `authoritative` is the AA flag of the SOA answer: a server that should serve the zone
/// and answers without it is lame. `serial` is `None` when the answer carries no SOA of the
/// zone (a referral, or an empty non-authoritative answer).
pub async fn zone_probe(
    server: SocketAddr,
    zone: &str,
    timeout: Duration,
) -> Result<ZoneAnswer, DnsError> {
    let apex = fqdn(zone)?;
    let started = Instant::now();
    let (soa, ns) = query_pair(server, &apex, [RecordType::SOA, RecordType::NS], timeout).await?;
    let latency = started.elapsed();
    let (soa, ns) = (soa?, ns?);

    let serial = soa.answers.iter().find_map(|r| match &r.data {
        RData::SOA(s) if r.name == apex => Some(s.serial),
        _ => None,
    });
    let mut names: Vec<String> = ns
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(n) if r.name == apex => Some(name_text(&n.0)),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    Ok(ZoneAnswer {
        serial,
        ns: names,
        authoritative: soa.metadata.authoritative,
        latency,
    })
}

/// Asks `server` for the A and AAAA records of `fqdn` (both at once, within `timeout`),
/// without recursion: what the primary serves now, and the TTL it hands to caches.
///
/// `ttl` is the smallest TTL of the address records (CNAMEs in the answer count too).
/// `authoritative` is true when every answer that carried records had the AA flag.
pub async fn authoritative_lookup(
    server: SocketAddr,
    fqdn_text: &str,
    timeout: Duration,
) -> Result<AuthAnswer, DnsError> {
    let name = fqdn(fqdn_text)?;
    let (a, aaaa) = query_pair(server, &name, [RecordType::A, RecordType::AAAA], timeout).await?;

    let mut addresses = Vec::new();
    let mut ttl: Option<u32> = None;
    let mut authoritative = true;
    for message in [&a, &aaaa].into_iter().flatten() {
        authoritative &= message.metadata.authoritative;
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
    if let (true, Some(ttl)) = (!addresses.is_empty(), ttl) {
        addresses.sort();
        addresses.dedup();
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

/// The PTR names of `ip` as `resolver` answers them, and whether one of them resolves back
/// to `ip` through the same resolver (forward-confirmed reverse DNS). Bounded by `timeout`
/// per step (the PTR, then all forward lookups at once).
pub async fn reverse(resolver: &Resolver, ip: IpAddr, timeout: Duration) -> PtrOutcome {
    let result = async {
        let names = dns::ptr_names(resolver, ip, timeout).await?;
        let forward = futures::future::join_all(
            names
                .iter()
                .map(|name| dns::lookup(resolver, name, timeout)),
        )
        .await;
        let forward_confirmed = forward
            .iter()
            .flatten()
            .any(|answer| answer.addresses.contains(&ip));
        Ok(PtrAnswer {
            names,
            forward_confirmed,
        })
    }
    .await;
    PtrOutcome { ip, result }
}

/// `text` as a fully qualified name.
fn fqdn(text: &str) -> Result<Name, DnsError> {
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

/// One question to one server, recursion not desired: UDP, then TCP if truncated. No
/// timeout of its own (the caller bounds it). An answer with an error code is an error.
/// Two queries about one name, at once, both within `timeout`.
async fn query_pair(
    server: SocketAddr,
    name: &Name,
    [first, second]: [RecordType; 2],
    timeout: Duration,
) -> Result<(Result<Message, DnsError>, Result<Message, DnsError>), DnsError> {
    let both = futures::future::join(
        query(server, name, first, false),
        query(server, name, second, false),
    );
    tokio::time::timeout(timeout, both)
        .await
        .map_err(|_| DnsError::Timeout)
}

/// One question to one server, with or without recursion desired, within `timeout`: UDP,
/// then TCP if truncated. An answer with an error code is an error.
pub(crate) async fn ask(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recursion: bool,
    timeout: Duration,
) -> Result<Message, DnsError> {
    tokio::time::timeout(timeout, query(server, name, rtype, recursion))
        .await
        .map_err(|_| DnsError::Timeout)?
}

async fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recursion: bool,
) -> Result<Message, DnsError> {
    let mut request = Message::query();
    request.metadata.recursion_desired = recursion;
    request.add_query(Query::query(name.clone(), rtype));
    let id = request.metadata.id;
    let bytes = request
        .to_vec()
        .map_err(|e| DnsError::Other(sanitize(&format!("cannot encode query: {e}"), TEXT_CHARS)))?;

    let mut answer = udp_exchange(server, &bytes, id, name, rtype).await?;
    if answer.metadata.truncation {
        answer = tcp_exchange(server, &bytes, id, name, rtype).await?;
    }
    match answer.metadata.response_code {
        ResponseCode::NoError => Ok(answer),
        ResponseCode::NXDomain => Err(DnsError::NxDomain),
        ResponseCode::Refused => Err(DnsError::Refused),
        code => Err(DnsError::Other(sanitize(&code.to_string(), TEXT_CHARS))),
    }
}

async fn udp_exchange(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, DnsError> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| io_error(&e))?;
    // Connected: the kernel drops datagrams from any other address.
    socket.connect(server).await.map_err(|e| io_error(&e))?;
    socket.send(request).await.map_err(|e| io_error(&e))?;
    let mut buffer = vec![0u8; UDP_BUFFER];
    loop {
        let len = socket.recv(&mut buffer).await.map_err(|e| io_error(&e))?;
        // Datagrams answering another query (a stale or spoofed id) are ignored: the real
        // answer may still come, and the caller's timeout bounds the wait.
        if let Some(answer) = decode(buffer.get(..len).unwrap_or_default(), id, name, rtype)? {
            return Ok(answer);
        }
    }
}

async fn tcp_exchange(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, DnsError> {
    let mut stream = TcpStream::connect(server).await.map_err(|e| io_error(&e))?;
    let len = u16::try_from(request.len())
        .map_err(|_| DnsError::Other("query too long for TCP".into()))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed).await.map_err(|e| io_error(&e))?;
    loop {
        let len = stream.read_u16().await.map_err(|e| io_error(&e))?;
        let mut buffer = vec![0u8; usize::from(len)];
        stream
            .read_exact(&mut buffer)
            .await
            .map_err(|e| io_error(&e))?;
        if let Some(answer) = decode(&buffer, id, name, rtype)? {
            return Ok(answer);
        }
    }
}

/// The answer to our question, `None` for a message about something else, an error for
/// bytes that are not a DNS message.
fn decode(
    bytes: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Option<Message>, DnsError> {
    let answer = Message::from_vec(bytes)
        .map_err(|e| DnsError::Other(sanitize(&format!("garbage answer: {e}"), TEXT_CHARS)))?;
    if answer.metadata.id != id || answer.metadata.message_type != MessageType::Response {
        return Ok(None);
    }
    // A server may leave the question out of an error answer; if present it must match.
    let matches = answer
        .queries
        .iter()
        .all(|q| q.name() == name && q.query_type() == rtype);
    Ok(matches.then_some(answer))
}

fn io_error(e: &std::io::Error) -> DnsError {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            // ICMP port unreachable: no DNS server there at all (not a REFUSED answer).
            DnsError::Other("connection refused: no DNS server listening".into())
        }
        std::io::ErrorKind::TimedOut => DnsError::Timeout,
        std::io::ErrorKind::UnexpectedEof => {
            DnsError::Other("connection closed before the answer".into())
        }
        _ => DnsError::Other(sanitize(&e.to_string(), TEXT_CHARS)),
    }
}
