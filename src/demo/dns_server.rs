//! An in-process authoritative DNS server on loopback (UDP and TCP on one address), whose
//! zones change while it serves: the demo's "DNS cut-over", and the tests' real server.
//!
//! Built on hickory-server's `Catalog` and `InMemoryZoneHandler`. The handler's record map
//! sits behind an async lock that it exposes (`records_mut`), so records can be replaced
//! while the server runs without a custom request handler; keeping the handlers in `Arc`s
//! shared with the catalog is all it takes. Every change bumps the zone's SOA serial, as a
//! real primary does, so secondaries (and a future serial-lag probe) can see it.
//!
//! Names in the zones answer; unknown names in the zones get NXDOMAIN (with the SOA), names
//! outside every zone get REFUSED.
//!
//! A [`Relay`] in front of a server spoils its answers (lame, garbage, a wrong query id,
//! truncation, another owner), for the tests of the authoritative probes.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// TTL of the SOA and NS records; the SOA minimum is the negative-caching TTL.
const ZONE_TTL: u32 = 60;
const NEGATIVE_TTL: u32 = 5;

/// Idle TCP connections are closed after this long.
const TCP_IDLE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DnsServerError {
    #[error("invalid DNS name `{0}`")]
    InvalidName(String),
    #[error("`{0}` is in none of this server's zones")]
    OutsideZones(String),
    #[error("record type {0} does not match its data")]
    TypeMismatch(RecordType),
    #[error("{0}")]
    Io(#[from] io::Error),
}

struct Zone {
    origin: Name,
    handler: Arc<InMemoryZoneHandler>,
}

/// A running authoritative server; stops when dropped.
pub struct DnsServer {
    /// Where it answers (UDP and TCP); the first is [`DnsServer::addr`].
    addrs: Vec<SocketAddr>,
    zones: Vec<Zone>,
    // Dropping the server aborts its tasks (they live in its JoinSet).
    _server: Server<Catalog>,
}

impl DnsServer {
    /// Serves `zones` (such as `["example.org"]`, each with an SOA and an NS record and
    /// nothing else yet) on `addr`, UDP and TCP. Port 0 picks a port free for both.
    pub async fn start(addr: SocketAddr, zones: &[&str]) -> Result<DnsServer, DnsServerError> {
        DnsServer::start_on(&[addr], zones).await
    }

    /// As [`DnsServer::start`], one server (one set of zones) answering on every address of
    /// `addrs`, each with its own UDP socket and TCP listener: several "resolvers" for the
    /// price of one catalog (`moveday demo --hosts`).
    pub async fn start_on(
        addrs: &[SocketAddr],
        zones: &[&str],
    ) -> Result<DnsServer, DnsServerError> {
        let mut sockets = Vec::new();
        for &addr in addrs {
            if !addr.ip().is_loopback() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{addr} is not a loopback address: the demo DNS server only listens on loopback"
                    ),
                )
                .into());
            }
            sockets.push(bind_pair(addr).await?);
        }
        let bound = sockets
            .iter()
            .map(|(udp, _)| udp.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        if bound.is_empty() {
            return Err(
                io::Error::new(io::ErrorKind::InvalidInput, "no address to serve on").into(),
            );
        }

        let mut catalog = Catalog::new();
        let mut built = Vec::new();
        for zone in zones {
            let origin = fqdn(zone)?;
            let mut handler =
                InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
            let ns_name = fqdn(&format!("ns1.{}", origin))?;
            let soa = SOA::new(
                ns_name.clone(),
                fqdn(&format!("hostmaster.{}", origin))?,
                1,
                3600,
                600,
                86400,
                NEGATIVE_TTL,
            );
            handler.upsert_mut(
                Record::from_rdata(origin.clone(), ZONE_TTL, RData::SOA(soa)),
                1,
            );
            handler.upsert_mut(
                Record::from_rdata(origin.clone(), ZONE_TTL, RData::NS(NS(ns_name))),
                1,
            );
            let handler = Arc::new(handler);
            let shared: Arc<dyn ZoneHandler> = handler.clone();
            catalog.upsert(LowerName::new(&origin), vec![shared]);
            built.push(Zone { origin, handler });
        }

        let mut server = Server::new(catalog);
        for (udp, tcp) in sockets {
            server.register_socket(udp);
            server.register_listener(tcp, TCP_IDLE, 16);
        }
        Ok(DnsServer {
            addrs: bound,
            zones: built,
            _server: server,
        })
    }

    /// The address it serves on (UDP and TCP); the first, when it serves on several.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every address it serves on, in the order given to [`DnsServer::start_on`].
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Makes `ip` the only address of `name` of its family (A for IPv4, AAAA for IPv6).
    /// Returns the zone's new serial.
    pub async fn set_a(&self, name: &str, ip: IpAddr, ttl: u32) -> Result<u32, DnsServerError> {
        let (rtype, rdata) = match ip {
            IpAddr::V4(v4) => (RecordType::A, RData::A(A(v4))),
            IpAddr::V6(v6) => (RecordType::AAAA, RData::AAAA(AAAA(v6))),
        };
        self.set_records(name, rtype, ttl, vec![rdata]).await
    }

    /// Replaces the A and AAAA records of `name` with `ips` (none left of a family that has
    /// no address in `ips`). One serial bump.
    pub async fn set_addresses(
        &self,
        name: &str,
        ips: &[IpAddr],
        ttl: u32,
    ) -> Result<u32, DnsServerError> {
        let v4 = ips
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(v4) => Some(RData::A(A(*v4))),
                IpAddr::V6(_) => None,
            })
            .collect();
        let v6 = ips
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V6(v6) => Some(RData::AAAA(AAAA(*v6))),
                IpAddr::V4(_) => None,
            })
            .collect();
        self.change(name, |_, name, records| {
            put(records, name, RecordType::A, ttl, v4)?;
            put(records, name, RecordType::AAAA, ttl, v6)
        })
        .await
    }

    /// Replaces the records of one type at `name` (A, AAAA, CNAME, NS, PTR, TXT, ... and
    /// SOA, whose serial is then taken from `rdata` and bumped). An empty `rdata` removes
    /// them. Returns the zone's new serial.
    pub async fn set_records(
        &self,
        name: &str,
        rtype: RecordType,
        ttl: u32,
        rdata: Vec<RData>,
    ) -> Result<u32, DnsServerError> {
        self.change(name, |_, name, records| {
            put(records, name, rtype, ttl, rdata)
        })
        .await
    }

    /// Removes every record of `name` (at a zone's apex, its SOA and NS stay). Afterwards
    /// the name is NXDOMAIN unless names below it exist. Returns the zone's new serial.
    pub async fn remove(&self, name: &str) -> Result<u32, DnsServerError> {
        self.change(name, |zone, name, records| {
            let lower = LowerName::new(name);
            let apex = *name == zone.origin;
            records.retain(|key, _| {
                key.name() != &lower
                    || (apex && matches!(key.record_type, RecordType::SOA | RecordType::NS))
            });
            Ok(())
        })
        .await
    }

    /// The SOA serial of the zone `zone`.
    pub async fn serial(&self, zone: &str) -> Option<u32> {
        let origin = fqdn(zone).ok()?;
        let zone = self.zones.iter().find(|z| z.origin == origin)?;
        let records = zone.handler.records().await;
        soa_of(&records, &zone.origin).map(|soa| soa.serial)
    }

    /// The TTL and records of one type at `name` (`None`: none, or outside the zones).
    pub async fn records(&self, name: &str, rtype: RecordType) -> Option<(u32, Vec<RData>)> {
        let name = fqdn(name).ok()?;
        let zone = self
            .zones
            .iter()
            .filter(|z| z.origin.zone_of(&name))
            .max_by_key(|z| z.origin.num_labels())?;
        let records = zone.handler.records().await;
        let set = records.get(&RrKey::new(LowerName::new(&name), rtype))?;
        let rdata = set
            .records_without_rrsigs()
            .map(|r| r.data.clone())
            .collect();
        Some((set.ttl(), rdata))
    }

    /// Sets the SOA serial of the zone `zone` to exactly `serial` (no bump): a secondary
    /// left behind, or a serial about to wrap.
    pub async fn set_serial(&self, zone: &str, serial: u32) -> Result<(), DnsServerError> {
        let origin = fqdn(zone)?;
        let zone = self
            .zones
            .iter()
            .find(|z| z.origin == origin)
            .ok_or_else(|| DnsServerError::OutsideZones(origin.to_string()))?;
        let mut records = zone.handler.records_mut().await;
        let key = RrKey::new(LowerName::new(&zone.origin), RecordType::SOA);
        let ttl = records.get(&key).map_or(ZONE_TTL, |set| set.ttl());
        let Some(mut soa) = soa_of(&records, &zone.origin) else {
            return Ok(());
        };
        soa.serial = serial;
        let mut set = RecordSet::with_ttl(zone.origin.clone(), RecordType::SOA, ttl);
        set.add_rdata(RData::SOA(soa));
        records.insert(key, Arc::new(set));
        Ok(())
    }

    /// Makes `name` the only PTR name of `ip` (the server must serve the matching
    /// `in-addr.arpa` / `ip6.arpa` zone). Returns that zone's new serial.
    pub async fn set_ptr(&self, ip: IpAddr, name: &str, ttl: u32) -> Result<u32, DnsServerError> {
        let reverse = Name::from(ip).to_ascii();
        let target = fqdn(name)?;
        self.set_records(
            &reverse,
            RecordType::PTR,
            ttl,
            vec![RData::PTR(PTR(target))],
        )
        .await
    }

    /// Applies `edit` to the zone holding `name` under one write lock, then bumps the serial.
    async fn change<F>(&self, name: &str, edit: F) -> Result<u32, DnsServerError>
    where
        F: FnOnce(&Zone, &Name, &mut BTreeMap<RrKey, Arc<RecordSet>>) -> Result<(), DnsServerError>,
    {
        let name = fqdn(name)?;
        // The most specific zone wins (a delegated child zone served here too).
        let zone = self
            .zones
            .iter()
            .filter(|z| z.origin.zone_of(&name))
            .max_by_key(|z| z.origin.num_labels())
            .ok_or_else(|| DnsServerError::OutsideZones(name.to_string()))?;
        let mut records = zone.handler.records_mut().await;
        edit(zone, &name, &mut records)?;
        Ok(bump_serial(&mut records, &zone.origin))
    }
}

/// Replaces the (name, type) record set with `rdata` (removes it when empty).
fn put(
    records: &mut BTreeMap<RrKey, Arc<RecordSet>>,
    name: &Name,
    rtype: RecordType,
    ttl: u32,
    rdata: Vec<RData>,
) -> Result<(), DnsServerError> {
    let key = RrKey::new(LowerName::new(name), rtype);
    if rdata.is_empty() {
        if rtype != RecordType::SOA {
            records.remove(&key);
        }
        return Ok(());
    }
    let mut set = RecordSet::with_ttl(name.clone(), rtype, ttl);
    for data in rdata {
        if data.record_type() != rtype {
            return Err(DnsServerError::TypeMismatch(rtype));
        }
        set.add_rdata(data);
    }
    records.insert(key, Arc::new(set));
    Ok(())
}

fn soa_of(records: &BTreeMap<RrKey, Arc<RecordSet>>, origin: &Name) -> Option<SOA> {
    let set = records.get(&RrKey::new(LowerName::new(origin), RecordType::SOA))?;
    match &set.records_without_rrsigs().next()?.data {
        RData::SOA(soa) => Some(soa.clone()),
        _ => None,
    }
}

/// Increments the zone's SOA serial (wrapping, as serial arithmetic allows).
fn bump_serial(records: &mut BTreeMap<RrKey, Arc<RecordSet>>, origin: &Name) -> u32 {
    let Some(key_set) = records.get(&RrKey::new(LowerName::new(origin), RecordType::SOA)) else {
        return 0;
    };
    let ttl = key_set.ttl();
    let Some(mut soa) = soa_of(records, origin) else {
        return 0;
    };
    soa.serial = soa.serial.wrapping_add(1);
    let serial = soa.serial;
    let mut set = RecordSet::with_ttl(origin.clone(), RecordType::SOA, ttl);
    set.add_rdata(RData::SOA(soa));
    records.insert(
        RrKey::new(LowerName::new(origin), RecordType::SOA),
        Arc::new(set),
    );
    serial
}

/// `name` as a fully qualified name (a trailing dot is optional).
fn fqdn(name: &str) -> Result<Name, DnsServerError> {
    let text = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    Name::from_ascii(&text).map_err(|_| DnsServerError::InvalidName(name.to_string()))
}

/// Binds UDP and TCP on the same port; for port 0, retries until a port is free for both.
pub(super) async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr).await?;
        grow_receive_buffer(&udp);
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no free port")))
}

/// Receive buffer of the server's UDP sockets. The kernel's default (about 200 kB, a few
/// hundred queries) overflowed when a round of 10,000 hosts asked the scale demo's primary
/// thousands of questions at once: every query dropped was a false `timeout` in moveday's
/// resolver columns, which the benchmark then counted against moveday.
#[cfg(target_os = "linux")]
const UDP_RCVBUF: libc::c_int = 4 << 20;

/// Best effort: `SO_RCVBUFFORCE` as root, else `SO_RCVBUF` up to `net.core.rmem_max`.
#[cfg(target_os = "linux")]
fn grow_receive_buffer(udp: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size = UDP_RCVBUF.to_ne_bytes();
    for name in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: the descriptor is the socket's own, open while `udp` lives; `size` is a
        // live buffer of the length given.
        let set = unsafe {
            libc::setsockopt(
                udp.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                size.as_ptr().cast(),
                size.len() as libc::socklen_t,
            ) == 0
        };
        if set {
            return;
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn grow_receive_buffer(_udp: &UdpSocket) {}

/// A DNS "server" that never answers: a bound UDP socket nobody reads, and a TCP listener
/// that never accepts. Resolver timeouts are tested against it.
pub struct BlackHole {
    addr: SocketAddr,
    _udp: UdpSocket,
    _tcp: TcpListener,
}

impl BlackHole {
    /// Binds on `addr` (loopback; port 0 for an ephemeral port).
    pub async fn bind(addr: SocketAddr) -> io::Result<BlackHole> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "black hole must be on loopback",
            ));
        }
        let (udp, tcp) = bind_pair(addr).await?;
        Ok(BlackHole {
            addr: udp.local_addr()?,
            _udp: udp,
            _tcp: tcp,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// How a [`Relay`] spoils the answers of the server behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// Answers as the server does, with the AA flag cleared: a lame server.
    Lame,
    /// Answers with bytes that are not a DNS message.
    Garbage,
    /// Sends first an answer with another query id, then the real answer.
    WrongIdFirst,
    /// Over UDP, answers with the TC flag set and no records; over TCP, as the server does.
    Truncate,
    /// Answers with every answer record moved to another owner, [`OTHER_OWNER`]: a server
    /// that echoes the question but plants another name's address.
    OtherOwner,
}

/// The owner a [`RelayMode::OtherOwner`] relay gives the records of its answers.
pub const OTHER_OWNER: &str = "other.victim.test.";

/// A loopback relay in front of a real server that spoils its answers in one way
/// ([`RelayMode`]): how the probes meet lame servers, garbage and truncation. Over UDP and
/// TCP (one query per TCP connection); stops when dropped.
pub struct Relay {
    addr: SocketAddr,
    _tasks: tokio::task::JoinSet<()>,
}

impl Relay {
    /// Relays to `upstream` (UDP) from a fresh loopback port.
    pub async fn start(upstream: SocketAddr, mode: RelayMode) -> io::Result<Relay> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a relay only forwards to loopback",
            ));
        }
        let (udp, tcp) = bind_pair(SocketAddr::new(upstream.ip(), 0)).await?;
        let addr = udp.local_addr()?;
        let udp = Arc::new(udp);
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            let mut buffer = vec![0u8; 4096];
            while let Ok((len, peer)) = udp.recv_from(&mut buffer).await {
                let query = buffer.get(..len).unwrap_or_default().to_vec();
                let udp = udp.clone();
                tokio::spawn(async move {
                    let Ok(answer) = forward(upstream, &query).await else {
                        return;
                    };
                    for datagram in spoil(mode, answer, false) {
                        let _ = udp.send_to(&datagram, peer).await;
                    }
                });
            }
        });
        tasks.spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(len) = stream.read_u16().await else {
                        return;
                    };
                    let mut query = vec![0u8; usize::from(len)];
                    if stream.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    let Ok(answer) = forward(upstream, &query).await else {
                        return;
                    };
                    for message in spoil(mode, answer, true) {
                        let Ok(len) = u16::try_from(message.len()) else {
                            return;
                        };
                        let mut framed = len.to_be_bytes().to_vec();
                        framed.extend_from_slice(&message);
                        if stream.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(Relay {
            addr,
            _tasks: tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Asks `upstream` over UDP, waiting at most two seconds.
pub(super) async fn forward(upstream: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let socket = UdpSocket::bind(SocketAddr::new(upstream.ip(), 0)).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buffer = vec![0u8; 4096];
    let len = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buffer))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "upstream timed out"))??;
    buffer.truncate(len);
    Ok(buffer)
}

/// The messages the relay sends for one upstream answer.
fn spoil(mode: RelayMode, mut answer: Vec<u8>, tcp: bool) -> Vec<Vec<u8>> {
    // Header: id (2 bytes), then flags: QR|opcode|AA|TC|RD in byte 2.
    const AA: u8 = 0x04;
    const TC: u8 = 0x02;
    if answer.len() < 12 {
        return vec![answer];
    }
    match mode {
        RelayMode::Lame => {
            answer[2] &= !AA;
            vec![answer]
        }
        RelayMode::Garbage => vec![b"\x1b[2J not DNS at all".to_vec()],
        RelayMode::WrongIdFirst => {
            let mut wrong = answer.clone();
            wrong[0] ^= 0xff;
            // The impostor also lacks AA, so a test sees which of the two was taken.
            wrong[2] &= !AA;
            vec![wrong, answer]
        }
        RelayMode::Truncate if !tcp => {
            answer[2] |= TC;
            // No records: counts of answer, authority and additional sections zeroed, and
            // everything after the question dropped.
            let question_end = question_end(&answer).unwrap_or(answer.len());
            answer.truncate(question_end);
            for byte in answer.iter_mut().take(12).skip(6) {
                *byte = 0;
            }
            vec![answer]
        }
        RelayMode::Truncate => vec![answer],
        RelayMode::OtherOwner => vec![other_owner(&answer).unwrap_or(answer)],
    }
}

/// `answer` with the owner of each answer record replaced by [`OTHER_OWNER`].
fn other_owner(answer: &[u8]) -> Option<Vec<u8>> {
    let mut message = hickory_proto::op::Message::from_vec(answer).ok()?;
    let other = Name::from_ascii(OTHER_OWNER).ok()?;
    for record in &mut message.answers {
        record.name = other.clone();
    }
    message.to_vec().ok()
}

/// The offset just past the (single) question of a message.
fn question_end(message: &[u8]) -> Option<usize> {
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            return Some(at + 1 + 4);
        }
        at += 1 + len;
    }
}
