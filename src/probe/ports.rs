//! Port probe: is anything listening on a TCP port of the target, and if not, who said so?
//!
//! The difference matters on move day. A RST (`refused`) comes from the server itself: the
//! address is right, the daemon is not running. Silence (`filtered`) means a firewall or ACL
//! on the way drops the SYN, which is the missing-rule case the post-mortem was about; an
//! ICMP unreachable or admin-prohibited answer from a router is the same family, reported
//! with its error so the operator can tell a drop from a reject.
//!
//! The connect classification is shared with the service probes ([`connect`]), so every
//! "could not connect" reads the same wherever it appears.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::net::TcpStream;

use crate::sanitize::sanitize;

/// What a TCP connect to one port found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    /// The three-way handshake completed.
    Open,
    /// The host answered with a RST: it is there, nothing listens on the port.
    Refused,
    /// No answer within the timeout, or an ICMP unreachable / admin-prohibited from the
    /// path: a firewall or a routing problem.
    Filtered,
}

impl PortState {
    /// The word used in `check --json` and the grid: `open`, `refused`, `filtered`.
    pub fn word(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Refused => "refused",
            PortState::Filtered => "filtered",
        }
    }
}

/// One port of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortResult {
    pub port: u16,
    pub state: PortState,
    /// Connect time when open; time until the RST, the ICMP error or the timeout otherwise.
    pub latency: Duration,
    /// Why the port is not open, for the operator (`nothing listening`,
    /// `no answer in 1s: firewall/ACL drop`, `EHOSTUNREACH: ...`); `None` when open.
    pub detail: Option<String>,
}

/// Connects to `ip:port` once and classifies the outcome; ends by `timeout`.
pub async fn probe_port(ip: IpAddr, port: u16, timeout: Duration) -> PortResult {
    let started = Instant::now();
    let (state, detail) = match connect(SocketAddr::new(ip, port), timeout).await {
        // Dropping the stream closes it right away (a FIN, not a half-open connection).
        Ok(_stream) => (PortState::Open, None),
        Err(failure) => (failure.state, Some(failure.detail)),
    };
    PortResult {
        port,
        state,
        latency: started.elapsed(),
        detail,
    }
}

/// Probes all `ports` of `ip` at once; the results are in the order of `ports`, and the
/// whole call ends by about `timeout`.
pub async fn probe_ports(ip: IpAddr, ports: &[u16], timeout: Duration) -> Vec<PortResult> {
    futures::future::join_all(ports.iter().map(|&port| probe_port(ip, port, timeout))).await
}

/// Why a connect did not complete, classified the same way for ports and services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectFailure {
    /// `Refused` or `Filtered` (never `Open`).
    pub state: PortState,
    /// The port view's detail: `nothing listening`, `no answer in 1s: firewall/ACL drop`.
    pub detail: String,
    /// The service view's error: `connect refused`, `filtered: no answer in 1s`,
    /// `unreachable: EHOSTUNREACH ...`.
    pub error: String,
}

/// A TCP connect that ends by `timeout`, with its failure classified.
pub(crate) async fn connect(
    addr: SocketAddr,
    timeout: Duration,
) -> Result<TcpStream, ConnectFailure> {
    connect_by(addr, tokio::time::Instant::now() + timeout, timeout).await
}

/// [`connect`] ending at `deadline`; `timeout` is the configured one, for the error text.
pub(crate) async fn connect_by(
    addr: SocketAddr,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Result<TcpStream, ConnectFailure> {
    match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(classify(&e, timeout)),
        Err(_) => Err(silent(timeout)),
    }
}

/// No SYN-ACK, no RST, no ICMP: somebody drops the packets.
pub(crate) fn silent(timeout: Duration) -> ConnectFailure {
    let after = fmt_timeout(timeout);
    ConnectFailure {
        state: PortState::Filtered,
        detail: format!("no answer in {after}: firewall/ACL drop"),
        error: format!("filtered: no answer in {after}"),
    }
}

/// Classifies a connect error: RST, ICMP unreachable / prohibited, or something local.
pub(crate) fn classify(e: &io::Error, timeout: Duration) -> ConnectFailure {
    let named = |name: &str, what: &str| format!("{name}: {what}");
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => ConnectFailure {
            state: PortState::Refused,
            detail: "nothing listening".into(),
            error: "connect refused".into(),
        },
        // The kernel gave up retrying the SYN (only with very long timeouts).
        Some(libc::ETIMEDOUT) => silent(timeout),
        Some(libc::EHOSTUNREACH) => {
            let text = named(
                "EHOSTUNREACH",
                "host unreachable (ICMP from the path, or no ARP answer)",
            );
            ConnectFailure {
                state: PortState::Filtered,
                detail: text.clone(),
                error: format!("unreachable: {text}"),
            }
        }
        Some(libc::ENETUNREACH) => {
            let text = named("ENETUNREACH", "network unreachable (no route)");
            ConnectFailure {
                state: PortState::Filtered,
                detail: text.clone(),
                error: format!("unreachable: {text}"),
            }
        }
        Some(code @ (libc::EACCES | libc::EPERM)) => {
            let name = if code == libc::EACCES {
                "EACCES"
            } else {
                "EPERM"
            };
            let text = named(
                name,
                "administratively prohibited (ICMP or a local firewall)",
            );
            ConnectFailure {
                state: PortState::Filtered,
                detail: text.clone(),
                error: format!("filtered: {text}"),
            }
        }
        _ => {
            // Something local (no free ports, too many open files, ...): the port's state is
            // unknown, and "open" or "refused" would be a lie.
            let text = format!("connect failed: {}", sanitize(&e.to_string(), 120));
            ConnectFailure {
                state: PortState::Filtered,
                detail: text.clone(),
                error: text,
            }
        }
    }
}

/// A timeout as the operator configured it: `1s`, `500ms`, `1.5s`.
pub(crate) fn fmt_timeout(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_by_errno() {
        let t = Duration::from_secs(1);
        let c = classify(&io::Error::from_raw_os_error(libc::ECONNREFUSED), t);
        assert_eq!(
            (c.state, c.error.as_str()),
            (PortState::Refused, "connect refused")
        );
        let c = classify(&io::Error::from_raw_os_error(libc::EHOSTUNREACH), t);
        assert_eq!(c.state, PortState::Filtered);
        assert!(c.detail.starts_with("EHOSTUNREACH"), "{}", c.detail);
        let c = classify(&io::Error::from_raw_os_error(libc::EACCES), t);
        assert!(c.error.starts_with("filtered: EACCES"), "{}", c.error);
        let c = classify(&io::Error::from_raw_os_error(libc::ETIMEDOUT), t);
        assert_eq!(c.error, "filtered: no answer in 1s");
    }

    #[test]
    fn timeouts_read_like_the_config() {
        assert_eq!(fmt_timeout(Duration::from_secs(1)), "1s");
        assert_eq!(fmt_timeout(Duration::from_millis(500)), "500ms");
        assert_eq!(fmt_timeout(Duration::from_millis(1500)), "1.5s");
    }
}
