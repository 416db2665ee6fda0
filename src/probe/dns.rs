//! DNS probe: ask one resolver for a host's A and AAAA records, exactly as it answers now.
//!
//! Every resolver is built once and reused, with its cache off (a cached answer would hide
//! the very propagation the operator is watching), the hosts file ignored (it is probed
//! separately, see `hosts_file`), and no retries beyond the probe's timeout.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError, NoRecords};

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
}

enum Inner {
    /// The resolver, and the servers it asks (for the queries made without it: PTR).
    Ready(Box<TokioResolver>, Vec<SocketAddr>),
    /// The configuration could not be read: every lookup says why.
    Unavailable(String),
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::Ready(..) => f.write_str("Resolver(ready)"),
            Inner::Unavailable(why) => write!(f, "Resolver(unavailable: {why})"),
        }
    }
}

impl Resolver {
    /// The resolver for an inventory entry. `timeout` is the probe timeout.
    pub fn for_kind(kind: &ResolverKind, timeout: Duration) -> Resolver {
        match kind {
            ResolverKind::System => Resolver::system(&SystemDns::FromOs, timeout),
            ResolverKind::Server(addr) => Resolver::server(*addr, timeout),
            ResolverKind::Named(name) => Resolver::unavailable(&format!(
                "{name} is asked only about its own zones, without recursion"
            )),
        }
    }

    /// One name server, asked directly: UDP, and TCP when an answer is truncated.
    pub fn server(addr: SocketAddr, timeout: Duration) -> Resolver {
        Resolver::servers(&[addr], timeout)
    }

    /// The system resolver: name servers from resolv.conf (or what `system` says), with our
    /// cache and hosts-file settings, so it answers as the network does right now.
    pub fn system(system: &SystemDns, timeout: Duration) -> Resolver {
        let parsed = match system {
            SystemDns::Servers(addrs) => return Resolver::servers(addrs, timeout),
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
            Ok((config, opts)) => Resolver::build(config, opts, timeout),
            Err(why) => Resolver::unavailable(&why),
        }
    }

    /// A resolver whose every lookup fails with `why` (a configuration that cannot be read).
    pub fn unavailable(why: &str) -> Resolver {
        Resolver {
            inner: Arc::new(Inner::Unavailable(sanitize(why, TEXT_CHARS))),
        }
    }

    fn servers(addrs: &[SocketAddr], timeout: Duration) -> Resolver {
        if addrs.is_empty() {
            return Resolver::unavailable("no name server given");
        }
        let name_servers = addrs
            .iter()
            .map(|addr| {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for conn in &mut ns.connections {
                    conn.port = addr.port();
                }
                ns
            })
            .collect();
        Resolver::build(
            ResolverConfig::from_name_servers(name_servers),
            ResolverOpts::default(),
            timeout,
        )
    }

    fn build(config: ResolverConfig, mut opts: ResolverOpts, timeout: Duration) -> Resolver {
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        // The pool's own deadline covers every server of the resolver; one attempt, so a
        // dead server costs one timeout, not three.
        opts.timeout = timeout;
        opts.attempts = 0;
        // The answer as the server gives it, CNAMEs included.
        opts.preserve_intermediates = true;
        let servers = config
            .name_servers()
            .iter()
            .map(|ns| {
                let port = ns.connections.first().map_or(53, |c| c.port);
                SocketAddr::new(ns.ip, port)
            })
            .collect();
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = opts;
        match builder.build() {
            Ok(resolver) => Resolver {
                inner: Arc::new(Inner::Ready(Box::new(resolver), servers)),
            },
            Err(e) => Resolver::unavailable(&format!("cannot build resolver: {e}")),
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
    let resolver = match &*resolver.inner {
        Inner::Ready(r, _) => r,
        Inner::Unavailable(why) => return Err(DnsError::Other(why.clone())),
    };
    // Fully qualified: no search domains, exactly the name of the inventory.
    let name = format!("{}.", fqdn.trim_end_matches('.'));
    let started = Instant::now();
    let both = futures::future::join(
        family(resolver, &name, RecordType::A),
        family(resolver, &name, RecordType::AAAA),
    );
    let (a, aaaa) = tokio::time::timeout(timeout, both)
        .await
        .map_err(|_| DnsError::Timeout)?;
    let latency = started.elapsed();

    let mut addresses = Vec::new();
    let mut ttl: Option<u32> = None;
    for (addrs, t) in [&a, &aaaa].into_iter().flatten() {
        addresses.extend_from_slice(addrs);
        ttl = Some(ttl.map_or(*t, |m| m.min(*t)));
    }
    if let Some(ttl) = ttl.filter(|_| !addresses.is_empty()) {
        addresses.sort();
        addresses.dedup();
        let more = super::cap_addresses(&mut addresses);
        return Ok(DnsAnswer {
            addresses,
            more,
            ttl,
            latency,
            authoritative: None,
        });
    }
    Err(match (a, aaaa) {
        (Err(DnsError::NxDomain), _) | (_, Err(DnsError::NxDomain)) => DnsError::NxDomain,
        (Ok(_) | Err(DnsError::NoRecords), Ok(_) | Err(DnsError::NoRecords)) => DnsError::NoRecords,
        (Err(e), _) if e != DnsError::NoRecords => e,
        (_, Err(e)) => e,
        // Unreachable by the arms above; kept total without a panic.
        _ => DnsError::NoRecords,
    })
}

/// The addresses of one family and the smallest TTL of the answer (CNAMEs included: the
/// chain may be cached no longer than its shortest link). No address is `NoRecords`.
async fn family(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Result<(Vec<IpAddr>, u32), DnsError> {
    let lookup = resolver
        .lookup(name, rtype)
        .await
        .map_err(|e| classify(&e))?;
    let question = super::zone::fqdn(name)?;
    let mut addresses = Vec::new();
    let mut ttl = u32::MAX;
    for record in super::zone::owned_answers(lookup.answers(), &question, rtype) {
        match &record.data {
            RData::A(a) => addresses.push(IpAddr::V4(a.0)),
            RData::AAAA(a) => addresses.push(IpAddr::V6(a.0)),
            _ => {}
        }
        ttl = ttl.min(record.ttl);
    }
    if addresses.is_empty() {
        Err(DnsError::NoRecords)
    } else {
        Ok((addresses, ttl))
    }
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
async fn ask_servers(
    client: &DnsClient,
    resolver: &Resolver,
    name: &hickory_proto::rr::Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<hickory_proto::op::Message, DnsError> {
    let servers = match &*resolver.inner {
        Inner::Ready(_, servers) => servers,
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

fn classify(e: &NetError) -> DnsError {
    match e {
        NetError::Timeout => DnsError::Timeout,
        NetError::Dns(HickoryDnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => DnsError::NxDomain,
                ResponseCode::NoError => DnsError::NoRecords,
                ResponseCode::Refused => DnsError::Refused,
                code => DnsError::Other(sanitize(&code.to_string(), TEXT_CHARS)),
            }
        }
        NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::Refused)) => DnsError::Refused,
        NetError::Dns(HickoryDnsError::ResponseCode(code)) => {
            DnsError::Other(sanitize(&code.to_string(), TEXT_CHARS))
        }
        NetError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            // ICMP port unreachable: no DNS server there at all (not a REFUSED answer).
            DnsError::Other("connection refused: no DNS server listening".into())
        }
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => DnsError::Timeout,
        other => DnsError::Other(sanitize(&other.to_string(), TEXT_CHARS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreadable_system_config_is_an_error_value() {
        let r = Resolver::system(
            &SystemDns::ResolvConf("# nothing here\n".into()),
            Duration::from_millis(200),
        );
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
