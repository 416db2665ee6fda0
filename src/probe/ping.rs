//! Ping: ICMP echo when the machine allows it, a timed TCP connect when it does not, and a
//! simulated network for `moveday demo`.
//!
//! Privileges are decided once by [`Pinger::detect`] and reported to the operator with a
//! hint, instead of failing every ping with "permission denied".

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence, SurgeError};
use tokio::net::TcpStream;

use super::{PingMode, PingOutcome, ProbeError};
use crate::sanitize::sanitize;

/// The hint shown when ICMP is not permitted.
pub const NO_ICMP_HINT: &str =
    "ICMP not permitted: run as root or: sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"";

/// Port timed in TCP mode when the host has no SSH port configured.
pub const DEFAULT_TCP_PORT: u16 = 80;

/// Echo payload: recognisable in a packet capture.
const PAYLOAD: &[u8; 16] = b"moveday ping....";

/// Whether the demo's simulated network lets packets through to an address.
pub trait Reachability: Send + Sync {
    fn reachable(&self, ip: IpAddr) -> bool;
}

/// Sends pings. Build one with [`Pinger::detect`] and share it (`Arc<Pinger>`): it holds
/// one ICMP socket per address family for every host.
pub struct Pinger {
    mode: PingMode,
    hint: Option<String>,
    how: How,
}

enum How {
    Icmp(Box<Icmp>),
    Tcp,
    Simulated {
        reach: Arc<dyn Reachability>,
        inner: Box<Pinger>,
    },
}

impl fmt::Debug for Pinger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinger")
            .field("mode", &self.mode)
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

impl Pinger {
    /// Finds the best way to ping on this machine: an unprivileged ICMP datagram socket,
    /// else a raw socket, else TCP connect (with a one-line hint on how to allow ICMP).
    ///
    /// Needs no async runtime: the ICMP clients are created on the first ping.
    pub fn detect() -> (Pinger, PingMode, Option<String>) {
        let pinger = match icmp_permission() {
            Some(mode) => Pinger::icmp(mode),
            None => Pinger::tcp_with_hint(Some(NO_ICMP_HINT.to_string())),
        };
        let (mode, hint) = (pinger.mode, pinger.hint.clone());
        (pinger, mode, hint)
    }

    /// A pinger that always times TCP connects (also what [`Pinger::detect`] falls back to).
    pub fn tcp() -> Pinger {
        Pinger::tcp_with_hint(None)
    }

    fn tcp_with_hint(hint: Option<String>) -> Pinger {
        Pinger {
            mode: PingMode::Tcp,
            hint,
            how: How::Tcp,
        }
    }

    fn icmp(mode: PingMode) -> Pinger {
        Pinger {
            mode,
            hint: None,
            how: How::Icmp(Box::new(Icmp::new())),
        }
    }

    /// The demo's pinger: an unreachable address waits out the timeout; a reachable one is
    /// measured for real by `inner` (on loopback), so the numbers on screen are genuine.
    pub fn simulated(reach: Arc<dyn Reachability>, inner: Pinger) -> Pinger {
        Pinger {
            mode: PingMode::Simulated,
            hint: None,
            how: How::Simulated {
                reach,
                inner: Box::new(inner),
            },
        }
    }

    pub fn mode(&self) -> PingMode {
        self.mode
    }

    /// Why ICMP is not used, when it is not.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// One ping of `ip`. In TCP mode the connect goes to `tcp_port` (the host's SSH port),
    /// else port 80. Ends by `timeout`.
    pub async fn ping(&self, ip: IpAddr, tcp_port: Option<u16>, timeout: Duration) -> PingOutcome {
        match &self.how {
            How::Tcp => PingOutcome {
                ip,
                mode: PingMode::Tcp,
                result: tcp_ping(ip, tcp_port.unwrap_or(DEFAULT_TCP_PORT), timeout).await,
            },
            How::Icmp(icmp) => match icmp.ping(ip, timeout).await {
                Ok(result) => PingOutcome {
                    ip,
                    mode: self.mode,
                    result,
                },
                // The family has no ICMP socket (say IPv6 ICMP is filtered while IPv4 is
                // allowed): still say whether the host is there, honestly labelled.
                Err(NoSocket) => PingOutcome {
                    ip,
                    mode: PingMode::Tcp,
                    result: tcp_ping(ip, tcp_port.unwrap_or(DEFAULT_TCP_PORT), timeout).await,
                },
            },
            How::Simulated { reach, inner } => {
                let result = if reach.reachable(ip) {
                    Box::pin(inner.ping(ip, tcp_port, timeout)).await.result
                } else {
                    tokio::time::sleep(timeout).await;
                    Err(ProbeError::Timeout)
                };
                PingOutcome {
                    ip,
                    mode: PingMode::Simulated,
                    result,
                }
            }
        }
    }
}

/// TCP "ping": the time to connect. A refused connect counts as an answer, since the RST
/// came from the host's own stack; only silence or an ICMP error means it is not there.
async fn tcp_ping(ip: IpAddr, port: u16, timeout: Duration) -> Result<Duration, ProbeError> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(SocketAddr::new(ip, port))).await {
        Ok(Ok(_stream)) => Ok(started.elapsed()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(started.elapsed()),
        Ok(Err(e)) => Err(ProbeError::from_io(&e)),
        Err(_) => Err(ProbeError::Timeout),
    }
}

/// The family's ICMP socket could not be opened.
struct NoSocket;

/// ICMP state shared by every host: one client per family, sequence numbers and identifiers.
struct Icmp {
    v4: OnceLock<Option<Client>>,
    v6: OnceLock<Option<Client>>,
    /// Every echo gets its own sequence number, so replies cannot be confused between
    /// concurrent probes of the same address.
    next_seq: AtomicU16,
    /// One identifier per address (used by raw sockets; datagram sockets get theirs from the
    /// kernel), starting from a per-process base so two moveday instances differ.
    idents: Mutex<HashMap<IpAddr, u16>>,
    ident_base: u16,
}

impl Icmp {
    fn new() -> Icmp {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Icmp {
            v4: OnceLock::new(),
            v6: OnceLock::new(),
            next_seq: AtomicU16::new(0),
            idents: Mutex::new(HashMap::new()),
            ident_base: (std::process::id() as u16) ^ (nanos as u16),
        }
    }

    fn client(&self, ip: IpAddr) -> Option<&Client> {
        let (cell, kind) = match ip {
            IpAddr::V4(_) => (&self.v4, ICMP::V4),
            IpAddr::V6(_) => (&self.v6, ICMP::V6),
        };
        // Created on first use, inside the runtime that runs the probes (the client spawns
        // its receive task). surge-ping tries a datagram socket first, then a raw one.
        cell.get_or_init(|| {
            let client = Client::new(&Config::builder().kind(kind).build()).ok()?;
            #[cfg(target_os = "linux")]
            tune_socket(&client, kind);
            Some(client)
        })
        .as_ref()
    }

    fn ident(&self, ip: IpAddr) -> u16 {
        match self.idents.lock() {
            Ok(mut idents) => {
                let next = idents.len() as u16;
                *idents
                    .entry(ip)
                    .or_insert_with(|| self.ident_base.wrapping_add(next))
            }
            Err(_) => self.ident_base,
        }
    }

    async fn ping(
        &self,
        ip: IpAddr,
        timeout: Duration,
    ) -> Result<Result<Duration, ProbeError>, NoSocket> {
        let client = self.client(ip).ok_or(NoSocket)?;
        let seq = PingSequence(self.next_seq.fetch_add(1, Ordering::Relaxed));
        let mut pinger = client.pinger(ip, PingIdentifier(self.ident(ip))).await;
        pinger.timeout(timeout);
        // The outer timeout also bounds the send, which surge-ping does not time.
        let result = match tokio::time::timeout(timeout, pinger.ping(seq, PAYLOAD)).await {
            Ok(Ok((_packet, rtt))) => Ok(rtt),
            Ok(Err(SurgeError::Timeout { .. })) | Err(_) => Err(ProbeError::Timeout),
            Ok(Err(SurgeError::IOError(e))) => Err(ProbeError::from_io(&e)),
            Ok(Err(e)) => Err(ProbeError::Io(sanitize(&e.to_string(), 120))),
        };
        Ok(result)
    }
}

/// Receive buffer asked for the shared ICMP socket: a round of 1,000 hosts answers in a
/// burst, and the kernel's default (about 200 kB, a few hundred packets) dropped about one
/// reply in eight on loopback, each a false `timeout`.
#[cfg(target_os = "linux")]
const ICMP_RCVBUF: libc::c_int = 4 << 20;

/// Makes the shared socket fit for hundreds of hosts: a receive buffer that holds a whole
/// round's replies (`SO_RCVBUFFORCE` as root, else `SO_RCVBUF` up to `net.core.rmem_max`),
/// and, on a raw IPv4 socket (which sees every ICMP packet of the machine, our own echo
/// requests included on loopback), a kernel filter that lets only echo replies and the
/// errors that answer a probe (unreachable, time exceeded, parameter problem) through.
/// Each is best effort: without it, pings still work, only less well at scale.
#[cfg(target_os = "linux")]
fn tune_socket(client: &Client, kind: ICMP) {
    use std::os::fd::AsRawFd;
    let socket = client.get_socket();
    let fd = socket.get_native_sock().as_raw_fd();
    let set = |level: libc::c_int, name: libc::c_int, value: &[u8]| {
        // SAFETY: fd is the client's open socket; value is a live buffer of its length.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                value.as_ptr().cast(),
                value.len() as libc::socklen_t,
            ) == 0
        }
    };
    super::grow_receive_buffer(fd, ICMP_RCVBUF);
    let mut kind_of_socket: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is open; the out-pointers are live and of the right size.
    let raw = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut kind_of_socket).cast(),
            &mut len,
        ) == 0
    } && kind_of_socket == libc::SOCK_RAW;
    if kind == ICMP::V4 && raw {
        // struct icmp_filter { __u32 data; }: a set bit drops that ICMP type.
        const ICMP_FILTER: libc::c_int = 1;
        const PASS: [u32; 4] = [0, 3, 11, 12]; // echo reply, unreachable, time exceeded, parameter problem
        let drop = PASS.iter().fold(u32::MAX, |bits, t| bits & !(1 << t));
        set(libc::SOL_RAW, ICMP_FILTER, &drop.to_ne_bytes());
    }
}

/// Which ICMP socket this process may open, if any.
#[cfg(unix)]
fn icmp_permission() -> Option<PingMode> {
    if can_open_icmp_socket(libc::SOCK_DGRAM) {
        Some(PingMode::IcmpDgram)
    } else if can_open_icmp_socket(libc::SOCK_RAW) {
        Some(PingMode::IcmpRaw)
    } else {
        None
    }
}

#[cfg(not(unix))]
fn icmp_permission() -> Option<PingMode> {
    None
}

/// Tries to open (and at once closes) an IPv4 ICMP socket of the given type. Done with a
/// bare `socket(2)` so that detection works before any async runtime exists.
#[cfg(unix)]
fn can_open_icmp_socket(ty: libc::c_int) -> bool {
    // SAFETY: socket(2) takes no pointers; a non-negative result is a descriptor we own.
    let fd = unsafe { libc::socket(libc::AF_INET, ty, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return false;
    }
    // SAFETY: `fd` was just returned by socket(2) and is closed exactly once.
    unsafe { libc::close(fd) };
    true
}
