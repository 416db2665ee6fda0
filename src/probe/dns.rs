//! DNS probe: ask one resolver for a host's A and AAAA records, exactly as it answers now.
//!
//! A resolver here is the list of its name servers (from the inventory, or resolv.conf for
//! "system"), asked directly through [`DnsClient`]'s one long-lived UDP socket per server:
//! no cache (a cached answer would hide the very propagation the operator is watching), no
//! hosts file (it is probed separately, see `hosts_file`), no search domains, no retries
//! beyond the probe's timeout. hickory-resolver only reads resolv.conf: through it, every
//! query opened and closed a socket of its own.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::{RData, RecordType};
use hickory_resolver::config::{ResolverConfig, ResolverOpts};

use super::dns_client::DnsClient;
use super::{DnsAnswer, DnsError};
use crate::config::ResolverKind;
use crate::sanitize::sanitize;

/// Characters of an error text shown.
const TEXT_CHARS: usize = 160;

/// Where the "system" resolver takes its name servers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemDns {
    /// `/etc/resolv.conf`, as the operating system uses it.
    FromOs,
    /// The text of a resolv.conf (for tests and the demo).
    ResolvConf(String),
    /// These servers, as if resolv.conf listed them (the demo points "system" at its own
    /// in-process server so that no query leaves the machine).
    Servers(Vec<SocketAddr>),
}

/// One resolver as the probes use it; cheap to clone.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
    /// The sockets its servers are asked through (its own until [`Resolver::sharing`]).
    client: DnsClient,
}

enum Inner {
    /// The servers it asks, in order.
    Ready(Vec<SocketAddr>),
    /// The configuration could not be read: every lookup says why.
    Unavailable(String),
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::Ready(_) => f.write_str("Resolver(ready)"),
            Inner::Unavailable(why) => write!(f, "Resolver(unavailable: {why})"),
        }
    }
}

impl Resolver {
    /// The resolver for an inventory entry. `timeout` is the probe timeout.
    pub fn for_kind(kind: &ResolverKind) -> Resolver {
        match kind {
            ResolverKind::System => Resolver::system(&SystemDns::FromOs),
            ResolverKind::Server(addr) => Resolver::server(*addr),
            ResolverKind::Named(name) => Resolver::unavailable(&format!(
                "{name} is asked only about its own zones, without recursion"
            )),
        }
    }

    /// One name server, asked directly: UDP, and TCP when an answer is truncated.
    pub fn server(addr: SocketAddr) -> Resolver {
        Resolver::servers(&[addr])
    }

    /// The system resolver: name servers from resolv.conf (or what `system` says), asked
    /// as every other resolver is, so it answers as the network does right now.
    pub fn system(system: &SystemDns) -> Resolver {
        let parsed = match system {
            SystemDns::Servers(addrs) => return Resolver::servers(addrs),
            SystemDns::FromOs => read_resolv_conf(),
            SystemDns::ResolvConf(text) => hickory_resolver::system_conf::parse_resolv_conf(text)
                .map_err(|e| {
                    format!(
                        "cannot parse resolv.conf: {}",
                        sanitize(&e.to_string(), TEXT_CHARS)
                    )
                }),
        };
        match parsed {
            Ok((config, _)) if config.name_servers().is_empty() => {
                Resolver::unavailable("no nameserver in resolv.conf")
            }
            Ok((config, _)) => Resolver::from_config(&config),
            Err(why) => Resolver::unavailable(&why),
        }
    }

    /// This resolver, asking its servers through `client`'s sockets (one per server,
    /// shared with every other query moveday makes of that server).
    pub fn sharing(self, client: &DnsClient) -> Resolver {
        Resolver {
            inner: self.inner,
            client: client.clone(),
        }
    }

    /// The servers it asks, in order (for an evaluator that must ask the same ones: SPF),
    /// or why there are none.
    pub fn server_list(&self) -> Result<&[SocketAddr], DnsError> {
        match &*self.inner {
            Inner::Ready(servers) => Ok(servers),
            Inner::Unavailable(why) => Err(DnsError::Other(why.clone())),
        }
    }

    /// A resolver whose every lookup fails with `why` (a configuration that cannot be read).
    pub fn unavailable(why: &str) -> Resolver {
        Resolver::with(Inner::Unavailable(sanitize(why, TEXT_CHARS)))
    }

    fn servers(addrs: &[SocketAddr]) -> Resolver {
        if addrs.is_empty() {
            return Resolver::unavailable("no name server given");
        }
        Resolver::with(Inner::Ready(addrs.to_vec()))
    }

    /// The name servers of a resolv.conf, each on the port it gives (53 unless said).
    fn from_config(config: &ResolverConfig) -> Resolver {
        let servers: Vec<SocketAddr> = config
            .name_servers()
            .iter()
            .map(|ns| {
                let port = ns.connections.first().map_or(53, |c| c.port);
                SocketAddr::new(ns.ip, port)
            })
            .collect();
        Resolver::servers(&servers)
    }

    fn with(inner: Inner) -> Resolver {
        Resolver {
            inner: Arc::new(inner),
            client: DnsClient::new(),
        }
    }
}

fn read_resolv_conf() -> Result<(ResolverConfig, ResolverOpts), String> {
    hickory_resolver::system_conf::read_system_conf().map_err(|e| {
        format!(
            "cannot read /etc/resolv.conf: {}",
            sanitize(&e.to_string(), TEXT_CHARS)
        )
    })
}

/// Asks `resolver` for the A and AAAA records of `fqdn` (concurrently), within `timeout`.
///
/// One family answering is enough for an answer: a server that drops AAAA queries must not
/// hide the A record that decides where users go.
pub async fn lookup(
    resolver: &Resolver,
    fqdn: &str,
    timeout: Duration,
) -> Result<DnsAnswer, DnsError> {
    // Fully qualified: no search domains, exactly the name of the inventory.
    let name = super::zone::fqdn(fqdn)?;
    let started = Instant::now();
    // Bounded by `timeout`: every question to every server shares one deadline.
    let (mut addresses, ttl) = addresses_direct(&resolver.client, resolver, &name, timeout).await?;
    let latency = started.elapsed();
    let more = super::cap_addresses(&mut addresses);
    Ok(DnsAnswer {
        addresses,
        more,
        ttl,
        latency,
        authoritative: None,
    })
}

/// The PTR names of `ip` as `resolver` answers them now (lower-case, sanitized, without
/// the trailing dot, sorted), and the smallest TTL of the PTR records. No PTR record is
/// `NoRecords`.
pub async fn ptr_names(
    client: &DnsClient,
    resolver: &Resolver,
    ip: IpAddr,
    timeout: Duration,
) -> Result<(Vec<String>, u32), DnsError> {
    let name = hickory_proto::rr::Name::from(ip);
    let answer = ask_servers(client, resolver, &name, RecordType::PTR, timeout).await?;
    let mut ttl = u32::MAX;
    let mut names: Vec<String> =
        super::zone::owned_answers(&answer.answers, &name, RecordType::PTR)
            .into_iter()
            .filter_map(|record| match &record.data {
                RData::PTR(ptr) => {
                    ttl = ttl.min(record.ttl);
                    Some(super::zone::name_text(&ptr.0))
                }
                _ => None,
            })
            .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        Err(DnsError::NoRecords)
    } else {
        Ok((names, ttl))
    }
}

/// The NS names of `name` as `resolver`'s servers answer them (recursion desired):
/// lower-case, sanitized, sorted, once each. No NS record owned by `name` (not a zone cut)
/// is `NoRecords`.
pub async fn ns_names(
    client: &DnsClient,
    resolver: &Resolver,
    name: &hickory_proto::rr::Name,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    let answer = ask_servers(client, resolver, name, RecordType::NS, timeout).await?;
    let mut names: Vec<String> = super::zone::owned_answers(&answer.answers, name, RecordType::NS)
        .into_iter()
        .filter_map(|record| match &record.data {
            // Only NS records owned by the name asked: a CNAME at a zone cut is no zone.
            RData::NS(ns) if record.name == *name => Some(super::zone::name_text(&ns.0)),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    match names.is_empty() {
        true => Err(DnsError::NoRecords),
        false => Ok(names),
    }
}

/// The A and AAAA records of `name` (asked at once) as `resolver`'s servers answer them,
/// and their smallest TTL (CNAMEs included). No address is `NoRecords`.
pub async fn addresses_direct(
    client: &DnsClient,
    resolver: &Resolver,
    name: &hickory_proto::rr::Name,
    timeout: Duration,
) -> Result<(Vec<IpAddr>, u32), DnsError> {
    let (a, aaaa) = futures::future::join(
        ask_servers(client, resolver, name, RecordType::A, timeout),
        ask_servers(client, resolver, name, RecordType::AAAA, timeout),
    )
    .await;
    let (addresses, ttl) = super::zone::addresses_in(
        name,
        [(&a, RecordType::A), (&aaaa, RecordType::AAAA)]
            .into_iter()
            .filter_map(|(m, t)| Some((m.as_ref().ok()?, t))),
    );
    if let (false, Some(ttl)) = (addresses.is_empty(), ttl) {
        return Ok((addresses, ttl));
    }
    Err(match (a, aaaa) {
        (Err(DnsError::NxDomain), _) | (_, Err(DnsError::NxDomain)) => DnsError::NxDomain,
        (Err(e), _) | (_, Err(e)) if e != DnsError::NoRecords => e,
        _ => DnsError::NoRecords,
    })
}

/// One question asked of `resolver`'s servers directly, recursion desired, through the
/// shared sockets: the first server, the next only when one is silent or fails, all within
/// `timeout`. A definite answer (records, NXDOMAIN, none) from a server is the answer.
///
/// Asked directly rather than through the resolver: hickory answers 127/8 and ::1 itself
/// ("localhost", RFC 6761), which would hide what the servers say, and opens a socket per
/// query.
pub(crate) async fn ask_servers(
    client: &DnsClient,
    resolver: &Resolver,
    name: &hickory_proto::rr::Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<hickory_proto::op::Message, DnsError> {
    let servers = match &*resolver.inner {
        Inner::Ready(servers) => servers,
        Inner::Unavailable(why) => return Err(DnsError::Other(why.clone())),
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = DnsError::Other("no name server".into());
    for server in servers {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match super::zone::ask(client, *server, name, rtype, true, left).await {
            Ok(answer) => return Ok(answer),
            Err(e @ (DnsError::NxDomain | DnsError::NoRecords)) => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreadable_system_config_is_an_error_value() {
        let r = Resolver::system(&SystemDns::ResolvConf("# nothing here\n".into()));
        let e = lookup(&r, "a.example.org", Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(
            matches!(e, DnsError::Other(ref m) if m.contains("no nameserver")),
            "{e:?}"
        );
        let r = Resolver::unavailable("cannot read /etc/resolv.conf: \x1b[2Jgone");
        let e = lookup(&r, "a.example.org", Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            DnsError::Other("cannot read /etc/resolv.conf: \\x1b[2Jgone".into())
        );
    }
}
