//! Probes: async functions `target -> outcome`, each with its own timeout, and the scheduler
//! that runs one task per host and sends every result as a [`ProbeReport`].
//!
//! Nothing in here knows about the terminal. Outcomes are plain values; every error is a
//! value ([`ProbeError`]) shown to the operator, never a panic.

pub mod canary;
pub mod delegation;
pub mod dns;
pub mod dns_client;
pub mod hosts_file;
pub mod http;
pub(crate) mod http_util;
pub mod mail;
pub mod ping;
pub mod ports;
pub mod ptr;
pub mod scheduler;
pub mod service;
pub mod ssh;
pub mod ssh_run;
pub mod vantage;
pub mod zone;

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// Index of a host in `Inventory::hosts`.
pub type HostId = usize;
/// Index of a resolver in `Inventory::resolvers`.
pub type ResolverId = usize;

/// One message from the probe side to the model: what a probe found, and when.
///
/// Probes know nothing of who listens; the model's input enum wraps these (with checklist
/// events and warnings, which are not the probes' business).
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeReport {
    /// A probe of one host finished.
    Probe {
        host: HostId,
        at: SystemTime,
        outcome: Outcome,
    },
    /// How pings are sent on this machine (decided once at start).
    PingMode {
        mode: PingMode,
        hint: Option<String>,
    },
    /// A host finished a whole probe round (all its probes reported).
    RoundDone { host: HostId, at: SystemTime },
    /// A zone server answered (or did not) about its zone.
    Zone {
        at: SystemTime,
        outcome: ZoneOutcome,
    },
    /// A zone server's answers about the zone's names, asked earlier, still hold at `at`:
    /// its serial has not moved since, so it was not asked again (see
    /// `scheduler::NAMES_REASK`). Refreshes the time of those matrix cells.
    NamesCurrent {
        zone: usize,
        /// The server's column in the matrix.
        resolver: ResolverId,
        /// Whether the server is the zone's primary (its answers are also the zone's view).
        primary: bool,
        at: SystemTime,
    },
    /// A zone's parent servers were asked for its delegation (`[[zone]] parent`).
    Delegation {
        at: SystemTime,
        outcome: delegation::DelegationOutcome,
    },
    /// A step of a canary run on a zone (`moveday canary`, `C` in the zones view).
    Canary {
        zone: usize,
        /// The run's canary text: which run the step belongs to.
        run: String,
        event: canary::CanaryEvent,
    },
    /// A vantage point's moveday answered (or did not).
    Vantage {
        at: SystemTime,
        outcome: vantage::VantageOutcome,
    },
}

/// The result of one probe of one host.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Which IP the host's probes aim at this round, and why.
    Target(Result<Target, ProbeError>),
    Ping(PingOutcome),
    Ssh(SshOutcome),
    Http(HttpOutcome),
    Dns(DnsOutcome),
    HostsFile(HostsFileOutcome),
    /// The reverse name of the host's `new_ip`, and whether it resolves back.
    Ptr(PtrOutcome),
    /// What the primary of the host's zone serves for its name, asked authoritatively.
    PrimaryAnswer(Result<AuthAnswer, DnsError>),
    /// The host's expected ports (`ports = [...]`), each open, refused or filtered.
    Ports(PortsOutcome),
    /// One `[[host.service]]`, by index.
    Service(ServiceOutcome),
    /// The same ports and services asked of `old_ip` (`probe_old = true`): is traffic still
    /// reaching the old datacenter?
    Old(OldOutcome),
    /// A mail host's domains: MX and SPF.
    Mail(mail::MailOutcome),
    /// What the blocklists say about a mail host's new address.
    Dnsbl(mail::DnsblOutcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortsOutcome {
    pub ip: IpAddr,
    /// In inventory order.
    pub ports: Vec<ports::PortResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOutcome {
    /// Index into the host's `services`.
    pub service: usize,
    pub ip: IpAddr,
    pub result: service::ServiceResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldOutcome {
    pub ip: IpAddr,
    pub ports: Vec<ports::PortResult>,
    /// In the host's `services` order.
    pub services: Vec<service::ServiceResult>,
}

impl OldOutcome {
    /// Whether anything at the old address still answers (an open port or a service that
    /// is not failing).
    pub fn answering(&self) -> bool {
        self.ports.iter().any(|p| p.state == ports::PortState::Open)
            || self
                .services
                .iter()
                .any(|s| s.state != service::ServiceState::Fail)
    }
}

/// One zone server's view of a zone (SOA serial, NS set, AA flag), asked without recursion.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneOutcome {
    /// Index into `Inventory::zones`.
    pub zone: usize,
    /// 0 is the primary, 1.. the secondaries in inventory order.
    pub server: usize,
    /// The address asked (a secondary given by name is resolved first).
    pub address: Option<std::net::SocketAddr>,
    pub result: Result<ZoneAnswer, DnsError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneAnswer {
    /// The SOA serial, when the server returned an SOA.
    pub serial: Option<u32>,
    /// The NS names the server returns for the zone apex, lower-case, sorted.
    pub ns: Vec<String>,
    /// The AA (authoritative answer) flag of the SOA reply: false on a lame server.
    pub authoritative: bool,
    pub latency: Duration,
}

/// An answer asked of one server without recursion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAnswer {
    /// At most [`MAX_ANSWER_ADDRESSES`], sorted, once each.
    pub addresses: Vec<IpAddr>,
    /// Addresses beyond those: counted, not kept.
    pub more: usize,
    /// The TTL the server serves (the largest a cache can hold it for).
    pub ttl: u32,
    pub authoritative: bool,
}

/// Reverse DNS of an address, and whether the name resolves back to it (FCrDNS).
#[derive(Debug, Clone, PartialEq)]
pub struct PtrOutcome {
    pub ip: IpAddr,
    pub result: Result<PtrAnswer, DnsError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtrAnswer {
    /// PTR names, sanitized, without the trailing dot.
    pub names: Vec<String>,
    /// Some PTR name has an A/AAAA record equal to the address.
    pub forward_confirmed: bool,
    /// The smallest TTL of the PTR and forward answers: how long a receiving mail server's
    /// resolver may keep this view after it changes.
    pub ttl: u32,
}

/// The address a host's probes hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Target {
    pub ip: IpAddr,
    pub source: TargetSource,
}

/// Why the probes aim at [`Target::ip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    /// `new_ip` in the inventory.
    NewIp,
    /// The hosts file, as the operating system would use it before DNS.
    HostsFile,
    /// The system resolver's DNS answer.
    SystemDns,
}

impl fmt::Display for TargetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetSource::NewIp => "new_ip",
            TargetSource::HostsFile => "hosts file",
            TargetSource::SystemDns => "system DNS",
        })
    }
}

/// Why a probe failed, as a value the UI shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("timeout")]
    Timeout,
    #[error("refused")]
    Refused,
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The peer answered, but not with what the protocol expects (already sanitized).
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(String),
    /// No address to probe: the name does not resolve.
    #[error("no target: {0}")]
    NoTarget(String),
    /// The machine does not allow this probe (for example ICMP without privileges).
    #[error("not permitted: {0}")]
    NotPermitted(String),
}

impl ProbeError {
    /// Classifies an I/O error from a connect or read.
    pub fn from_io(e: &std::io::Error) -> ProbeError {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => ProbeError::Refused,
            K::TimedOut | K::WouldBlock => ProbeError::Timeout,
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                ProbeError::Unreachable(crate::sanitize::sanitize(&e.to_string(), 120))
            }
            K::PermissionDenied => {
                ProbeError::NotPermitted(crate::sanitize::sanitize(&e.to_string(), 120))
            }
            _ => ProbeError::Io(crate::sanitize::sanitize(&e.to_string(), 120)),
        }
    }

    /// A one-word class for compact display (`timeout`, `refused`, ...).
    pub fn word(&self) -> &'static str {
        match self {
            ProbeError::Timeout => "timeout",
            ProbeError::Refused => "refused",
            ProbeError::Unreachable(_) => "unreach",
            ProbeError::Protocol(_) => "garbage",
            ProbeError::Io(_) => "error",
            ProbeError::NoTarget(_) => "no addr",
            ProbeError::NotPermitted(_) => "denied",
        }
    }
}

/// How a ping was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PingMode {
    /// ICMP echo over an unprivileged datagram socket (`net.ipv4.ping_group_range`).
    IcmpDgram,
    /// ICMP echo over a raw socket (root or CAP_NET_RAW).
    IcmpRaw,
    /// ICMP is not permitted: time a TCP connect instead.
    Tcp,
    /// `moveday demo`: reachability is simulated, the round trip is measured on loopback.
    Simulated,
}

impl PingMode {
    /// The `method` word of `check --json` and the grid.
    pub fn method(self) -> &'static str {
        match self {
            PingMode::IcmpDgram | PingMode::IcmpRaw => "icmp",
            PingMode::Tcp => "tcp",
            PingMode::Simulated => "sim",
        }
    }
}

impl fmt::Display for PingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PingMode::IcmpDgram => "ICMP (unprivileged)",
            PingMode::IcmpRaw => "ICMP (raw socket)",
            PingMode::Tcp => "TCP connect (no ICMP)",
            PingMode::Simulated => "simulated (demo)",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PingOutcome {
    pub ip: IpAddr,
    pub mode: PingMode,
    /// Round-trip time.
    pub result: Result<Duration, ProbeError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SshOutcome {
    pub ip: IpAddr,
    pub port: u16,
    pub result: Result<SshBanner, ProbeError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshBanner {
    /// The `SSH-2.0-...` line, sanitized.
    pub banner: String,
    /// Connect to banner.
    #[serde(skip)]
    pub latency: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpOutcome {
    pub ip: IpAddr,
    pub url: String,
    pub result: Result<HttpResponse, ProbeError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Request sent to the end of the (capped) body.
    pub latency: Duration,
    /// `Location` of a redirect, sanitized; reported, not followed.
    pub location: Option<String>,
    /// Bytes of body read (at most the cap).
    pub body_bytes: usize,
    /// The body was longer than the cap and was cut.
    pub truncated: bool,
}

impl HttpResponse {
    /// Whether the status says the site works: anything below 400 (a redirect is reported,
    /// not followed, and counts as working). The one place this rule is written.
    pub fn is_ok(&self) -> bool {
        self.status < 400
    }
}

impl HttpResponse {
    /// A redirect (3xx): reported with its `Location`, not followed.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }
}

impl HttpOutcome {
    /// An answer whose status [`HttpResponse::is_ok`].
    pub fn is_ok(&self) -> bool {
        self.result.as_ref().is_ok_and(HttpResponse::is_ok)
    }
}

/// One resolver's answer for one host's name.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsOutcome {
    pub resolver: ResolverId,
    pub result: Result<DnsAnswer, DnsError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    /// A and AAAA addresses, sorted, deduplicated.
    pub addresses: Vec<IpAddr>,
    /// The smallest TTL among the answer's records, in seconds.
    pub ttl: u32,
    /// Query to answer.
    pub latency: Duration,
    /// The AA flag, when the server was asked without recursion because it is a primary or
    /// secondary of the name's zone (`Some(false)`: a lame server); `None` for a resolver.
    pub authoritative: Option<bool>,
    /// Addresses of the answer beyond the first [`MAX_ANSWER_ADDRESSES`]: counted, not kept.
    pub more: usize,
}

/// Addresses kept of one DNS answer; the rest are only counted ("+N more"): a server
/// answering thousands of records must not flood the journal, the screen and the memory.
pub const MAX_ANSWER_ADDRESSES: usize = 32;

/// Keeps the first [`MAX_ANSWER_ADDRESSES`] of `addresses` (sorted: the lowest); returns
/// how many were cut.
pub(crate) fn cap_addresses(addresses: &mut Vec<IpAddr>) -> usize {
    let more = addresses.len().saturating_sub(MAX_ANSWER_ADDRESSES);
    addresses.truncate(MAX_ANSWER_ADDRESSES);
    more
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("NXDOMAIN")]
    NxDomain,
    /// The name exists but has no A or AAAA record.
    #[error("no A/AAAA records")]
    NoRecords,
    #[error("timeout")]
    Timeout,
    #[error("refused")]
    Refused,
    /// SERVFAIL, garbage, I/O: the text is sanitized.
    #[error("{0}")]
    Other(String),
}

/// The hosts file's entries for one host's fqdn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsFileOutcome {
    /// Addresses the file maps the fqdn (or the short name) to, in file order; empty if none.
    pub result: Result<Vec<HostsEntry>, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostsEntry {
    pub ip: IpAddr,
    /// 1-based line in the hosts file.
    pub line: usize,
}

/// Asks for a receive buffer of `bytes` on the socket `fd`: `SO_RCVBUFFORCE` as root, else
/// `SO_RCVBUF` (which the kernel caps at `net.core.rmem_max`). Best effort: the shared
/// sockets (ICMP, one UDP socket per DNS server) still work with the default of about
/// 200 kB, only a round of thousands of hosts overflows it and each lost reply is a false
/// timeout.
#[cfg(target_os = "linux")]
pub(crate) fn grow_receive_buffer(fd: std::os::fd::RawFd, bytes: libc::c_int) {
    let size = bytes.to_ne_bytes();
    let set = |name: libc::c_int| {
        // SAFETY: `fd` is an open socket; `size` is a live buffer of its length.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                name,
                size.as_ptr().cast(),
                size.len() as libc::socklen_t,
            ) == 0
        }
    };
    if !set(libc::SO_RCVBUFFORCE) {
        set(libc::SO_RCVBUF);
    }
}
