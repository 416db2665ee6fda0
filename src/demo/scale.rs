//! `moveday demo --hosts N`: N simulated hosts on loopback, for measuring moveday itself at
//! scale (issue 8: idle CPU, render cost, a thousand hosts).
//!
//! Host `k` (1-based) lives at 127.10.y.z, numbered upward from 127.10.0.1 and skipping
//! the .0 and .255 addresses (254 hosts per /24, up to [`MAX_HOSTS`]); its `old_ip` is the
//! same place in 127.12/16, where nothing is served. Each host is a real host as moveday
//! sees it:
//!
//! - ping: the kernel answers ICMP (and refuses or accepts TCP) on every 127/8 address, so
//!   the probe env uses the real pinger, [`Pinger::detect`]: ICMP when permitted, TCP
//!   otherwise. Nothing about reachability is simulated.
//! - SSH: a banner read from the host's own address.
//! - HTTP: `GET` on its own address answers 200 with a line naming the host and address.
//! - DNS: `hNNNNN.nY.scale.example` (Y: the third octet of its address) has an A record
//!   (the new address) and a PTR record in `10.127.in-addr.arpa`, served by one in-process
//!   hickory server answering on three addresses (127.11.0.53-55, UDP and TCP), listed as
//!   three `[[resolver]]`s and as the primary and secondaries of `scale.example` and the
//!   reverse zone. Each /24's names are a zone of their own (`n0.scale.example`, ...),
//!   served by the same server but not listed in the inventory: hickory's in-memory zone
//!   answers "no such record" (here every AAAA question) by scanning the whole zone, which
//!   for one zone of N names made the simulator's DNS cost grow as N² per probe round
//!   (28 s of CPU for one round of 10 000 hosts).
//!
//! Deliberately unhealthy, so the screen looks like a real move (and the tests have
//! something to find): host `k` with `k % 97 == 13` (13, 110, 207, ...) has sshd down, its
//! SSH port refused; host `k` with `k % 101 == 29` (29, 130, 231, ...) has a web server that
//! answers 503. Every other host is up.
//!
//! # Few tasks and sockets, so the machine measures moveday and not the simulator
//!
//! All N hosts share ONE listening socket per service: the SSH banner listener and the HTTP
//! listener are bound to the IPv4 wildcard address (0.0.0.0) on a port the OS picks, and
//! every host's `ssh =` / `http =` in the inventory names that port. Linux delivers a
//! connection to 127.10.y.z:port to the wildcard listener, and the accepted socket's local
//! address says which host was asked: the HTTP reply names it, and a probe's own report
//! shows the address it connected to. Per-address listeners would cost 2N descriptors and
//! 2N accept tasks (and a raised `RLIMIT_NOFILE` beyond ~10 000 hosts), which the
//! measurement would then include; the wildcard costs two.
//!
//! A wildcard listener is reachable from the network in principle, so two guards keep this
//! a loopback-only simulation: the listeners are bound to the `lo` device
//! (`SO_BINDTODEVICE`, allowed without privileges since Linux 5.7; if refused, the second
//! guard still holds), so a SYN arriving on any other interface finds no listener; and after
//! every accept, a connection whose local address is not in 127.0.0.0/8 or whose peer is
//! not a loopback address is closed at once, unanswered.
//!
//! The SSH banner is written from the accept loop itself, with no task per connection: the
//! listener is polled through [`AsyncFd`] and accepted connections stay plain blocking std
//! sockets (never registered with the reactor); a 40-byte write to a fresh connection's
//! empty send buffer does not block. HTTP must read the request first, so each connection
//! gets a small task with a deadline ([`HTTP_DEADLINE`]), owned by the accept loop's
//! `JoinSet` so that stopping the demo ends them too. The "sshd down" hosts' `ssh =` names a
//! port that is bound (reserved, so nothing else takes it) but not listening: connections
//! to it are refused by the kernel, on every address.
//!
//! Sockets held, whatever N: 2 TCP listeners (SSH, HTTP), 1 bound refusing port, and 3 UDP
//! sockets + 3 TCP listeners of the DNS server; tasks: 2 accept loops and hickory's 6.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::config::Inventory;
use crate::probe::dns::SystemDns;
use crate::probe::ping::Pinger;
use crate::probe::scheduler::ProbeEnv;

use super::dns_server::DnsServer;

/// Most hosts `--hosts` takes: 127.10.0.0/16 holds 256 × 254 = 65 024 of them.
pub const MAX_HOSTS: usize = 65_000;

/// The zone every host's name is in.
pub const ZONE: &str = "scale.example";
/// The reverse zone of the hosts' addresses (127.10.0.0/16).
const REVERSE_ZONE: &str = "10.127.in-addr.arpa";
/// The second octet of the new addresses, the DNS servers' and the old addresses.
const NEW_NET: u8 = 10;
const DNS_NET: u8 = 11;
const OLD_NET: u8 = 12;
/// The last octets of the DNS server's three addresses (127.11.0.x).
const DNS_OCTETS: [u8; 3] = [53, 54, 55];

/// TTL of the A and PTR records.
const TTL: u32 = 60;

/// Every 97th host, from the 13th, has sshd down (SSH refused).
const SSH_DOWN_EVERY: usize = 97;
const SSH_DOWN_FIRST: usize = 13;
/// Every 101st host, from the 29th, has a web server answering 503.
const HTTP_503_EVERY: usize = 101;
const HTTP_503_FIRST: usize = 29;

/// The banner every simulated sshd sends.
const SSH_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";

/// The listeners' accept queue (the kernel caps it at `net.core.somaxconn`): a probe round
/// of thousands of hosts connects in a burst.
const BACKLOG: u32 = 4096;

/// An HTTP connection is closed after this long, answered or not.
pub const HTTP_DEADLINE: Duration = Duration::from_secs(5);

/// Largest request head the HTTP listener reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// Host `k`'s (1-based) new address, 127.10.y.z with z in 1..=254.
pub fn new_ip(k: usize) -> Ipv4Addr {
    place(NEW_NET, k)
}

/// Host `k`'s old address: the same place in 127.12/16 (nothing answers there but the
/// kernel).
pub fn old_ip(k: usize) -> Ipv4Addr {
    place(OLD_NET, k)
}

fn place(net: u8, k: usize) -> Ipv4Addr {
    let i = k.saturating_sub(1);
    let y = u8::try_from(i / 254).unwrap_or(u8::MAX);
    let z = u8::try_from(i % 254 + 1).unwrap_or(u8::MAX);
    Ipv4Addr::new(127, net, y, z)
}

/// The host number (1-based) of a new address, if it is one of `hosts` hosts'.
fn host_number(ip: IpAddr, hosts: usize) -> Option<usize> {
    let IpAddr::V4(v4) = ip else { return None };
    let [a, b, y, z] = v4.octets();
    if a != 127 || b != NEW_NET || z == 0 || z == 255 {
        return None;
    }
    let k = usize::from(y) * 254 + usize::from(z);
    (k <= hosts).then_some(k)
}

/// Host `k`'s short name (`h00042`).
pub fn host_name(k: usize) -> String {
    format!("h{k:05}")
}

/// Host `k`'s name: in the sub-zone of its /24 (`h00300.n1.scale.example`).
pub fn fqdn(k: usize) -> String {
    format!("{}.{}", host_name(k), sub_zone(k.saturating_sub(1) / 254))
}

/// The forward sub-zone of the hosts on 127.10.`y`.0/24.
fn sub_zone(y: usize) -> String {
    format!("n{y}.{ZONE}")
}

/// Whether host `k` is one of those whose sshd is down.
pub fn ssh_down(k: usize) -> bool {
    k % SSH_DOWN_EVERY == SSH_DOWN_FIRST
}

/// Whether host `k` is one of those whose web server answers 503.
pub fn http_503(k: usize) -> bool {
    k % HTTP_503_EVERY == HTTP_503_FIRST
}

/// Only connections made on this machine to one of its 127/8 addresses are served.
fn from_this_machine(local: SocketAddr, peer: SocketAddr) -> bool {
    matches!(local.ip(), IpAddr::V4(v4) if v4.octets()[0] == 127) && peer.ip().is_loopback()
}

/// The ports shared by every host: SSH, HTTP, and the refusing port of the hosts whose
/// sshd is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub ssh: u16,
    pub http: u16,
    pub refused: u16,
}

/// A running scale demo; its servers stop when it is dropped.
pub struct ScaleDemo {
    hosts: usize,
    inventory: Inventory,
    toml: String,
    ports: Ports,
    dns: DnsServer,
    /// The SSH and HTTP accept loops (HTTP's owns its connections' tasks).
    _servers: JoinSet<()>,
    /// Bound, never listening: the port of the hosts whose sshd is down.
    _refusing: TcpSocket,
}

impl ScaleDemo {
    /// Starts the listeners and the DNS server for `hosts` hosts (1..=[`MAX_HOSTS`]) and
    /// builds their inventory; `path` is the inventory's path (for messages, and where
    /// `--serve` writes it). Must be called inside a Tokio runtime.
    pub async fn start(hosts: usize, path: &Path) -> anyhow::Result<ScaleDemo> {
        if !(1..=MAX_HOSTS).contains(&hosts) {
            anyhow::bail!("--hosts must be between 1 and {MAX_HOSTS}, not {hosts}");
        }
        let mut servers = JoinSet::new();

        let ssh = listen_on_loopback_port().context("demo: cannot listen for SSH")?;
        let ssh_port = ssh.local_addr()?.port();
        // SAFETY: a std TcpListener owns its descriptor: it stays open, and `as_raw_fd`
        // returns that same descriptor, for as long as the AsyncFd owns the listener.
        let ssh = unsafe { AsyncFd::register_with_interest(ssh.into_std()?, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)
            .context("demo: cannot poll the SSH listener")?;
        servers.spawn(ssh_accept_loop(ssh));

        let http = listen_on_loopback_port().context("demo: cannot listen for HTTP")?;
        let http_port = http.local_addr()?.port();
        servers.spawn(http_accept_loop(http, hosts));

        // Bound so that the port stays ours, never listened on: connects are refused.
        let refusing = TcpSocket::new_v4()?;
        refusing
            .bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
            .context("demo: cannot reserve a refusing port")?;
        let refused_port = refusing.local_addr()?.port();

        let dns_addrs =
            DNS_OCTETS.map(|o| SocketAddr::from((Ipv4Addr::new(127, DNS_NET, 0, o), 0)));
        // One forward zone per /24 of hosts: hickory's in-memory zone answers a NODATA
        // (every AAAA question here) by scanning all the zone's records, so one zone of N
        // names would cost O(N) per question and O(N²) per probe round.
        let sub_zones: Vec<String> = (0..hosts.div_ceil(254)).map(sub_zone).collect();
        let zones: Vec<&str> = [ZONE, REVERSE_ZONE]
            .into_iter()
            .chain(sub_zones.iter().map(String::as_str))
            .collect();
        let dns = DnsServer::start_on(&dns_addrs, &zones)
            .await
            .context("demo: cannot start the DNS server")?;
        for k in 1..=hosts {
            let ip = IpAddr::V4(new_ip(k));
            dns.set_a(&fqdn(k), ip, TTL).await?;
            dns.set_ptr(ip, &fqdn(k), TTL).await?;
        }

        let toml = inventory_text(
            hosts,
            Ports {
                ssh: ssh_port,
                http: http_port,
                refused: refused_port,
            },
            dns.addrs(),
        );
        let inventory = Inventory::parse(path, &toml)
            .context("demo: the generated inventory is invalid (a bug)")?;
        Ok(ScaleDemo {
            hosts,
            inventory,
            toml,
            ports: Ports {
                ssh: ssh_port,
                http: http_port,
                refused: refused_port,
            },
            dns,
            _servers: servers,
            _refusing: refusing,
        })
    }

    /// The inventory of the simulated hosts (parsed from [`ScaleDemo::inventory_toml`]).
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The inventory as TOML, exactly as a user could write it (with the servers' ports).
    pub fn inventory_toml(&self) -> &str {
        &self.toml
    }

    /// How many hosts are simulated.
    pub fn hosts(&self) -> usize {
        self.hosts
    }

    /// The shared ports every host's inventory entry names.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// The probe environment: the real pinger (ICMP when permitted, else TCP), and the
    /// in-process DNS server as the "system" resolver so that no query leaves the machine.
    pub fn probe_env(&self) -> ProbeEnv {
        ProbeEnv::with_system_dns(
            &self.inventory,
            Pinger::detect().0,
            SystemDns::Servers(vec![self.dns.addr()]),
        )
    }

    /// One line for the operator: which addresses are served.
    pub fn summary(&self) -> String {
        format!(
            "{} simulated hosts on {}-{} (DNS {})",
            self.hosts,
            new_ip(1),
            new_ip(self.hosts),
            self.dns
                .addrs()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The inventory text for `n` hosts, as an admin could have written it.
fn inventory_text(n: usize, ports: Ports, dns: &[SocketAddr]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Generated by `moveday demo --hosts {n}`: {n} simulated hosts on loopback,\n\
         # {first}-{last}. Every host answers ping (the kernel), SSH and HTTP (one shared\n\
         # listener each, on ports {ssh} and {http}), and its name under {ZONE}.\n\
         # Deliberately broken: hosts k with k % {SSH_DOWN_EVERY} == {SSH_DOWN_FIRST} have sshd down (their\n\
         # ssh port {refused} refuses); hosts k with k % {HTTP_503_EVERY} == {HTTP_503_FIRST} answer HTTP 503.\n\
         # Valid only while that `moveday demo --hosts` runs.\n\n\
         [move]\nname = \"demo: {n} hosts on loopback\"\n\
         old_network = \"127.{OLD_NET}.0.0/16\"\nnew_network = \"127.{NEW_NET}.0.0/16\"\n\n\
         [probe]\ninterval = \"5s\"\ntimeout = \"2s\"",
        first = new_ip(1),
        last = new_ip(n),
        ssh = ports.ssh,
        http = ports.http,
        refused = ports.refused,
    );
    for (i, addr) in dns.iter().enumerate() {
        let _ = writeln!(
            t,
            "\n[[resolver]]\nname = \"ns{}\"\naddress = \"{addr}\"",
            i + 1
        );
    }
    let secondaries: Vec<String> = dns.iter().skip(1).map(|a| format!("\"{a}\"")).collect();
    for zone in [ZONE, REVERSE_ZONE] {
        let _ = writeln!(
            t,
            "\n[[zone]]\nname = \"{zone}\"\nprimary = \"{}\"\nsecondaries = [{}]",
            dns.first().map(ToString::to_string).unwrap_or_default(),
            secondaries.join(", ")
        );
    }
    for k in 1..=n {
        let ssh = if ssh_down(k) {
            ports.refused
        } else {
            ports.ssh
        };
        let _ = writeln!(
            t,
            "\n[[host]]\nname = \"{}\"\nfqdn = \"{}\"\nold_ip = \"{}\"\nnew_ip = \"{}\"\n\
             ssh = {ssh}\nhttp = \"http://{}:{}/\"",
            host_name(k),
            fqdn(k),
            old_ip(k),
            new_ip(k),
            fqdn(k),
            ports.http,
        );
    }
    t
}

/// A TCP listener on 0.0.0.0, a port the OS picks, bound to the loopback device when the
/// kernel allows it (see the module's doc).
fn listen_on_loopback_port() -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // Best effort: the accept-time check is the guard that always holds.
    let _ = socket.bind_device(Some(b"lo"));
    socket.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    socket.listen(BACKLOG)
}

/// After an accept error such as "too many open files", wait a little before the next.
async fn accept_failed(e: &io::Error) {
    if !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Accepts SSH connections and writes the banner from the loop itself, then closes.
async fn ssh_accept_loop(listener: AsyncFd<std::net::TcpListener>) {
    use std::io::Write as _;
    loop {
        let Ok(mut ready) = listener.readable().await else {
            return;
        };
        match ready.try_io(|l| l.get_ref().accept()) {
            Ok(Ok((mut stream, peer))) => {
                if stream
                    .local_addr()
                    .is_ok_and(|local| from_this_machine(local, peer))
                {
                    // Blocking socket, empty send buffer: this write completes at once.
                    let _ = stream.write(SSH_BANNER);
                }
                // Dropped: closed (FIN after the banner).
            }
            Ok(Err(e)) => {
                drop(ready);
                accept_failed(&e).await;
            }
            // Nothing left to accept; wait for the next readiness.
            Err(_would_block) => {}
        }
    }
}

/// Accepts HTTP connections, each answered by a small task with a deadline.
async fn http_accept_loop(listener: TcpListener, hosts: usize) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Ok(local) = stream.local_addr() else {
                    continue;
                };
                if !from_this_machine(local, peer) {
                    continue;
                }
                let host = host_number(local.ip(), hosts);
                connections.spawn(async move {
                    let _ =
                        tokio::time::timeout(HTTP_DEADLINE, answer_http(stream, local, host)).await;
                });
            }
            Err(e) => accept_failed(&e).await,
        }
    }
}

/// Reads the request head, then answers for host `host` (none: the address is not one of
/// the simulated hosts) and closes.
async fn answer_http(
    mut stream: TcpStream,
    local: SocketAddr,
    host: Option<usize>,
) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return Ok(());
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    let ip = local.ip();
    let (status, body) = match host {
        Some(k) if http_503(k) => (
            "503 Service Unavailable",
            format!("{}: busy, try again later (simulated)\n", fqdn(k)),
        ),
        Some(k) => ("200 OK", format!("{} at {ip}: ok\n", fqdn(k))),
        None => ("404 Not Found", format!("no simulated host at {ip}\n")),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_skip_0_and_255_and_map_back() {
        assert_eq!(new_ip(1), Ipv4Addr::new(127, 10, 0, 1));
        assert_eq!(new_ip(254), Ipv4Addr::new(127, 10, 0, 254));
        assert_eq!(new_ip(255), Ipv4Addr::new(127, 10, 1, 1));
        assert_eq!(new_ip(MAX_HOSTS), Ipv4Addr::new(127, 10, 255, 230));
        assert_eq!(old_ip(255), Ipv4Addr::new(127, 12, 1, 1));
        for k in [1, 2, 253, 254, 255, 508, 509, MAX_HOSTS] {
            assert_eq!(host_number(IpAddr::V4(new_ip(k)), MAX_HOSTS), Some(k));
        }
        assert_eq!(host_number(IpAddr::V4(new_ip(51)), 50), None);
        assert_eq!(host_number("127.10.0.0".parse().unwrap(), 50), None);
        assert_eq!(host_number("127.0.0.1".parse().unwrap(), 50), None);
    }

    #[test]
    fn only_loopback_connections_are_served() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(from_this_machine(sa("127.10.0.1:22"), sa("127.0.0.1:5000")));
        assert!(!from_this_machine(
            sa("192.168.1.5:22"),
            sa("127.0.0.1:5000")
        ));
        assert!(!from_this_machine(
            sa("127.10.0.1:22"),
            sa("192.168.1.9:5000")
        ));
    }

    #[test]
    fn a_few_hosts_are_broken_on_purpose() {
        let down: Vec<usize> = (1..=300).filter(|&k| ssh_down(k)).collect();
        assert_eq!(down, [13, 110, 207]);
        let busy: Vec<usize> = (1..=300).filter(|&k| http_503(k)).collect();
        assert_eq!(busy, [29, 130, 231]);
    }
}
