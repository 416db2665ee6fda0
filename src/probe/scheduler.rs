//! The probe scheduler: one task per host (gping's model) running probe rounds, every
//! result sent to the store as a [`ProbeReport`] the moment it is known.
//!
//! A round of one host:
//!
//! ```text
//! hosts file (one read) ─┬─> target: new_ip │ hosts-file entry │ system DNS │ none
//!                        │        │
//!                        │        ├─> ping ─┐
//!                        │        ├─> ssh  ─┤
//!                        │        └─> http ─┤   each reported as soon as it ends,
//!                        ├─> DNS, every resolver ─┤   then RoundDone
//!                        ├─> hosts-file entries ──┤
//!                        └─> PTR of new_ip, forward-confirmed ────────────┘
//! ```
//!
//! Beside the hosts, one task per `[[zone]]` asks its primary and every secondary for the
//! zone's SOA serial and NS set, all at once, each reported (`ProbeReport::Zone`) as it ends;
//! and, when a server's serial says they may have changed, about the names of the zone's
//! hosts, without recursion, AA kept (their matrix cells, and the primary's view of each
//! name). A name's own round does not ask its zone's servers. A zone with `parent` servers
//! has its delegation asked of them too, every `delegation_every` (`ProbeReport::Delegation`).
//!
//! Rounds start every `interval` (the first at once; later ones spread evenly over the
//! interval, so that thousands of hosts make a steady load, not a burst), or at once when
//! the operator asks for a probe now. A global semaphore bounds the connections in flight.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::stream::{FuturesUnordered, StreamExt};
use rustls::pki_types::CertificateDer;
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::dns::{self, Resolver, SystemDns};
use super::dns_client::DnsClient;
use super::hosts_file::{HostsFile, HostsFileCache};
use super::http::{self, ClientCache};
use super::mail::MailDesk;
use super::ping::Pinger;
use super::service::{ServiceResult, TlsTrust};
use super::vantage;
use super::{
    DnsError, DnsOutcome, HostId, HostsFileOutcome, Outcome, ProbeError, ProbeReport, Target,
    TargetSource, ZoneOutcome, delegation, ptr, ssh, zone,
};
use super::{OldOutcome, PortsOutcome, ServiceOutcome, ports, service};
use crate::config::service::ServiceKind;
use crate::config::{HostConfig, Inventory, ResolverKind, ServerRef};

/// Where probe reports go: a channel of anything a [`ProbeReport`] becomes (the model's
/// input, in the dashboard), so that the probes need not know who listens.
pub trait Listener: From<ProbeReport> + Send + 'static {}
impl<T: From<ProbeReport> + Send + 'static> Listener for T {}

/// Connections (and DNS queries) in flight at once, over all hosts.
pub const MAX_CONCURRENT_PROBES: usize = 256;

/// What the probes share: the pinger, resolvers, HTTP clients, the hosts-file cache and the
/// connection limit. Built once per inventory.
#[derive(Debug)]
pub struct ProbeEnv {
    pub pinger: Arc<Pinger>,
    /// One per resolver of the inventory, in order (index = `ResolverId`).
    pub resolvers: Vec<Resolver>,
    /// The system resolver, used for a target when neither `new_ip` nor the hosts file
    /// gives one; `ResolverKind::System` entries of `resolvers` are this same resolver.
    pub system: Resolver,
    pub http: ClientCache,
    /// One UDP socket per DNS server, for every query moveday makes (resolvers, zone
    /// servers, PTR).
    pub dns: DnsClient,
    pub hosts_files: HostsFileCache,
    pub limit: Semaphore,
    /// The port of parent servers found through the system resolver (53; tests serve a
    /// parent on an unprivileged loopback port).
    parent_port: u16,
    /// Roots trusted beyond the system store (the inventory's `ca_file`, the demo's CA).
    extra_roots: Vec<CertificateDer<'static>>,
    /// The trust store of the certificate checks, loaded at the first TLS probe (reading
    /// the system store takes a moment; hosts without TLS services never pay for it).
    trust: OnceCell<Result<TlsTrust, String>>,
    /// What the mail hosts' checks share (SPF evaluator, blocklist cache).
    mail: MailDesk,
}

impl ProbeEnv {
    /// The environment for `inv` with the operating system's resolver configuration.
    pub fn new(inv: &Inventory, pinger: Pinger) -> ProbeEnv {
        ProbeEnv::with_system_dns(inv, pinger, SystemDns::FromOs)
    }

    /// As [`ProbeEnv::new`], with the "system" resolver taken from `system` (the demo and
    /// tests point it at an in-process server so that no query leaves the machine).
    pub fn with_system_dns(inv: &Inventory, pinger: Pinger, system: SystemDns) -> ProbeEnv {
        // Every query of a server, whoever asks it, goes through its one socket.
        let dns = DnsClient::new();
        let system = Resolver::system(&system).sharing(&dns);
        let resolvers = inv
            .resolvers
            .iter()
            .map(|r| match &r.kind {
                ResolverKind::System => system.clone(),
                kind => Resolver::for_kind(kind).sharing(&dns),
            })
            .collect();
        let extra_roots: Vec<CertificateDer<'static>> = inv
            .probe
            .ca_file
            .as_deref()
            .map(|path| crate::config::load_ca_file(path).unwrap_or_default())
            .unwrap_or_default();
        // The plain `http =` probe trusts the inventory's CA too.
        let mut http = ClientCache::new();
        http.add_roots(extra_roots.iter().cloned());
        let mail = MailDesk::new(&inv.mail, &dns);
        ProbeEnv {
            pinger: Arc::new(pinger),
            resolvers,
            system,
            http,
            dns,
            hosts_files: HostsFileCache::new(),
            limit: Semaphore::new(MAX_CONCURRENT_PROBES),
            parent_port: 53,
            extra_roots,
            trust: OnceCell::new(),
            mail,
        }
    }

    /// The resolver reverse DNS is asked through: the system resolver when the inventory
    /// lists it (or lists none), else the first `[[resolver]]` — so an inventory that names
    /// its resolvers sends no query to this machine's own nameserver.
    fn ptr_resolver(&self, inv: &Inventory) -> &Resolver {
        match inv
            .resolvers
            .iter()
            .position(|r| r.kind == ResolverKind::System)
        {
            Some(_) => &self.system,
            None => inv
                .resolvers
                .iter()
                .position(|r| !r.implied)
                .and_then(|i| self.resolvers.get(i))
                .unwrap_or(&self.system),
        }
    }

    /// Asks parent servers found through the system resolver on `port` instead of 53
    /// (tests: a loopback parent cannot take port 53 without root).
    pub fn with_parent_port(mut self, port: u16) -> ProbeEnv {
        self.parent_port = port;
        self
    }

    /// Trusts `roots` beyond the system store and the inventory's `ca_file` (the demo's
    /// own CA; tests).
    pub fn with_extra_roots(mut self, roots: Vec<CertificateDer<'static>>) -> ProbeEnv {
        self.http.add_roots(roots.iter().cloned());
        self.extra_roots.extend(roots);
        self
    }

    /// The trust store for certificate checks (loaded once, off the async threads).
    async fn trust(&self) -> Result<TlsTrust, String> {
        self.trust
            .get_or_init(|| async {
                let extra = self.extra_roots.clone();
                tokio::task::spawn_blocking(move || TlsTrust::with_extra_roots(extra))
                    .await
                    .map_err(|e| format!("cannot load the trust store: {e}"))?
            })
            .await
            .clone()
    }

    async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        // Never closed; if it were, probing unbounded beats not probing.
        self.limit.acquire().await.ok()
    }

    /// The address of a DNS server given by name (port 53), through the system resolver.
    pub(crate) async fn server_address(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<SocketAddr, String> {
        let answer = dns::lookup(&self.system, name, timeout)
            .await
            .map_err(|e| e.to_string())?;
        answer
            .addresses
            .first()
            .map(|ip| SocketAddr::new(*ip, 53))
            .ok_or_else(|| "no address".to_string())
    }
}

/// The channel to the store is closed: nobody listens any more.
struct Closed;

/// Starts one probe task per host; they run until the returned set is dropped (or aborted)
/// or `tx` is closed. Sends [`ProbeReport::PingMode`] first. Must be called inside a Tokio
/// runtime.
pub fn spawn<T: Listener>(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    tx: mpsc::Sender<T>,
    probe_now: watch::Receiver<u64>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    // A fresh channel has room: sent now, the mode precedes every probe report.
    if let Err(mpsc::error::TrySendError::Full(report)) = tx.try_send(ping_mode_report(&env).into())
    {
        let tx = tx.clone();
        set.spawn(async move {
            let _ = tx.send(report).await;
        });
    }
    let count = inv.hosts.len().max(1) as f64;
    let (spread, early) = stagger(inv.probe.interval, inv.hosts.len());
    for host in 0..inv.hosts.len() {
        let first_gap = inv.probe.interval + spread.mul_f64(host as f64 / count) - early;
        set.spawn(host_loop(
            inv.clone(),
            env.clone(),
            host,
            tx.clone(),
            probe_now.clone(),
            first_gap,
        ));
    }
    for zone in 0..inv.zones.len() {
        set.spawn(zone_loop(
            inv.clone(),
            env.clone(),
            zone,
            tx.clone(),
            probe_now.clone(),
        ));
    }
    for v in 0..inv.vantages.len() {
        set.spawn(vantage_loop(inv.clone(), v, tx.clone(), probe_now.clone()));
    }
    set
}

/// Asks vantage `v` at once, then every `every` (a run is bounded by it) and on "probe now".
async fn vantage_loop<T: Listener>(
    inv: Arc<Inventory>,
    v: usize,
    tx: mpsc::Sender<T>,
    mut probe_now: watch::Receiver<u64>,
) {
    let Some(every) = inv.vantages.get(v).map(|c| c.every) else {
        return;
    };
    loop {
        probe_now.borrow_and_update();
        let started = Instant::now();
        let Ok(persistent) = ask_vantage(&inv, v, &tx).await else {
            return;
        };
        // A refused key is not asked again every few seconds: "probe now" does it sooner.
        let wait = match persistent {
            true => every.max(vantage::PERSISTENT_BACKOFF),
            false => every,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(started + wait) => {}
            _ = probe_now_signal(&mut probe_now) => {}
            _ = tx.closed() => return,
        }
    }
}

/// One run of vantage `v`, reported (given up if nobody listens any more); whether its
/// failure is persistent.
async fn ask_vantage<T: Listener>(
    inv: &Inventory,
    v: usize,
    tx: &mpsc::Sender<T>,
) -> Result<bool, Closed> {
    let outcome = tokio::select! {
        outcome = vantage::ask(inv, v) => outcome,
        _ = tx.closed() => return Err(Closed),
    };
    let persistent = outcome.persistent;
    let at = SystemTime::now();
    tx.send(ProbeReport::Vantage { at, outcome }.into())
        .await
        .map_err(|_| Closed)?;
    Ok(persistent)
}

/// Later rounds of all hosts are spread over at least this long (or the interval).
const MIN_STAGGER: Duration = Duration::from_secs(1);

/// ...and over this long per host, up to the interval: ten thousand hosts at 30 s make
/// about 2,000 probes a second, not 60,000 in the same second every 30.
const STAGGER_PER_HOST: Duration = Duration::from_millis(3);

/// How long later rounds are spread over (`spread`), and how much sooner than an interval
/// after its first round the first host's second round starts (`early`), so that no gap
/// between two rounds of a host is longer than the interval and [`MIN_STAGGER`]. Up to a
/// few hundred hosts this is the interval plus a share of 1 s, as it always was.
fn stagger(interval: Duration, hosts: usize) -> (Duration, Duration) {
    let per_host = STAGGER_PER_HOST.saturating_mul(u32::try_from(hosts).unwrap_or(u32::MAX));
    let spread = per_host.max(MIN_STAGGER).min(interval);
    (spread, spread.saturating_sub(MIN_STAGGER))
}

/// What a round probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every probe of every host (the dashboard, `moveday check`).
    Everything,
    /// Only the names: resolvers, zone servers, hosts file, reverse DNS (`moveday dns`).
    Dns,
}

/// Probes every host once, concurrently; returns when all are done (`moveday check`,
/// `moveday dns`). Sends [`ProbeReport::PingMode`] first; `tx` is dropped at the end, closing
/// the channel.
pub async fn one_round<T: Listener>(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    tx: mpsc::Sender<T>,
    scope: Scope,
) {
    if tx.send(ping_mode_report(&env).into()).await.is_err() {
        return;
    }
    let mut set = JoinSet::new();
    for host in 0..inv.hosts.len() {
        let (inv, env, tx) = (inv.clone(), env.clone(), tx.clone());
        set.spawn(async move {
            let _ = round(&inv, &env, host, &tx, scope, None).await;
        });
    }
    for zone in 0..inv.zones.len() {
        let (inv, env, tx) = (inv.clone(), env.clone(), tx.clone());
        set.spawn(async move {
            let round = zone_round(&inv, &env, zone, &tx, None, true);
            let _ = futures::future::join(round, delegation_round(&inv, &env, zone, &tx)).await;
        });
    }
    if scope == Scope::Everything {
        for v in 0..inv.vantages.len() {
            let (inv, tx) = (inv.clone(), tx.clone());
            set.spawn(async move {
                let _ = ask_vantage(&inv, v, &tx).await;
            });
        }
    }
    while set.join_next().await.is_some() {}
}

/// Probes `hosts` once more, concurrently (no zones, no ping-mode report): `moveday check`
/// retries the hosts with a failing check, so that a host really down is reported down
/// rather than "1 of 2 failed". `tx` is dropped at the end.
pub async fn retry_round<T: Listener>(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    tx: mpsc::Sender<T>,
    hosts: Vec<HostId>,
) {
    let mut set = JoinSet::new();
    for host in hosts {
        let (inv, env, tx) = (inv.clone(), env.clone(), tx.clone());
        set.spawn(async move {
            let _ = round(&inv, &env, host, &tx, Scope::Everything, None).await;
        });
    }
    while set.join_next().await.is_some() {}
}

fn ping_mode_report(env: &ProbeEnv) -> ProbeReport {
    ProbeReport::PingMode {
        mode: env.pinger.mode(),
        hint: env.pinger.hint().map(str::to_string),
    }
}

async fn host_loop<T: Listener>(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    host: HostId,
    tx: mpsc::Sender<T>,
    mut probe_now: watch::Receiver<u64>,
    first_gap: Duration,
) {
    // The first round of every host starts at once, so the first full picture takes one
    // timeout (the connection limit keeps a big inventory from bursting); `first_gap`
    // spreads the later rounds over the interval.
    let mut gap = first_gap;
    let mut memory = HostMemory::default();
    loop {
        // A press during this round starts the next one right after it; presses before
        // it are answered by it.
        probe_now.borrow_and_update();
        let started = Instant::now();
        if round(&inv, &env, host, &tx, Scope::Everything, Some(&mut memory))
            .await
            .is_err()
        {
            return;
        }
        let pressed = tokio::select! {
            _ = tokio::time::sleep_until(started + gap) => false,
            _ = probe_now_signal(&mut probe_now) => true,
            _ = tx.closed() => return,
        };
        if pressed {
            // "Probe now" asks everything again.
            memory = HostMemory::default();
        }
        gap = inv.probe.interval;
    }
}

/// What a host's loop keeps between its rounds.
#[derive(Debug, Default)]
struct HostMemory {
    /// When reverse DNS is to be asked again (`None`: this round).
    ptr_due: Option<Instant>,
    /// When each `command` service (by index) is to run again (absent: this round).
    command_due: std::collections::BTreeMap<usize, Instant>,
}

/// When to ask reverse DNS again after `result`, asked in the round started at `now`: a
/// PTR is what a receiving mail server's resolver caches, so a fix reaches it no sooner
/// than the TTL of the answer it holds; asking more often than that TTL (at most every [`NAMES_REASK`], at least every
/// interval) shows nothing sooner that matters. What is wrong (no PTR, no forward match,
/// a failure) is asked again next round: that is what the operator is fixing.
fn ptr_next(
    result: &Result<super::PtrAnswer, DnsError>,
    now: Instant,
    interval: Duration,
) -> Instant {
    match result {
        Ok(answer) if answer.forward_confirmed => {
            let ttl = Duration::from_secs(u64::from(answer.ttl));
            now + ttl.min(NAMES_REASK).max(interval)
        }
        _ => now,
    }
}

/// A zone server is asked again about the names of its zone after this long even when its
/// serial has not moved: a primary edited without a serial bump serves the new data (and
/// its secondaries never fetch it), which the matrix must show.
pub const NAMES_REASK: Duration = Duration::from_secs(30);

/// Names asked of one zone server at once.
const NAMES_IN_FLIGHT: usize = 16;

/// What a zone's task remembers of one of its servers between rounds.
#[derive(Debug, Clone, Default)]
struct ServerMemory {
    /// The address it was asked at.
    address: Option<SocketAddr>,
    /// When it was last asked about the zone's names.
    names: Option<NamesAsked>,
    /// Its last answer whose NS set was asked (not carried over), and when.
    zone: Option<(super::ZoneAnswer, Instant)>,
}

/// When a zone server was last asked about its zone's names, and what it said.
#[derive(Debug, Clone, Copy)]
struct NamesAsked {
    /// The zone's serial at the server when it was asked.
    serial: Option<u32>,
    at: Instant,
    /// Every name had a definite answer (addresses, NXDOMAIN or no records): nothing to try
    /// again before the serial moves.
    clean: bool,
}

/// Probes one zone's servers every interval (the first round at once) and on "probe now";
/// and its delegation every `delegation_every` (it changes slowly) and on "probe now".
async fn zone_loop<T: Listener>(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    zone: usize,
    tx: mpsc::Sender<T>,
    mut probe_now: watch::Receiver<u64>,
) {
    let servers = inv.zones.get(zone).map_or(0, |z| 1 + z.secondaries.len());
    let mut asked: Vec<ServerMemory> = vec![ServerMemory::default(); servers];
    let mut pressed = false;
    let started = Instant::now();
    let (mut next_round, mut next_delegation) = (started, started);
    loop {
        probe_now.borrow_and_update();
        let now = Instant::now();
        let round_due = pressed || now >= next_round;
        let delegation_due = pressed || now >= next_delegation;
        if round_due {
            next_round = now + inv.probe.interval;
        }
        if delegation_due {
            next_delegation = now + inv.delegation_every;
        }
        let round = async {
            match round_due {
                true => zone_round(&inv, &env, zone, &tx, Some(&mut asked), pressed).await,
                false => Ok(()),
            }
        };
        let delegation = async {
            match delegation_due {
                true => delegation_round(&inv, &env, zone, &tx).await,
                false => Ok(()),
            }
        };
        if let (Err(Closed), _) | (_, Err(Closed)) = futures::future::join(round, delegation).await
        {
            return;
        }
        let wake = next_round.min(next_delegation);
        pressed = tokio::select! {
            _ = tokio::time::sleep_until(wake) => false,
            _ = probe_now_signal(&mut probe_now) => true,
            _ = tx.closed() => return,
        };
    }
}

/// Asks the parent servers of one zone for its delegation (the inventory's `parent`, or
/// else those the system resolver names, found again each time), and the zone's primary
/// for the addresses of the in-zone NS names they give; reports it.
async fn delegation_round<T: Listener>(
    inv: &Inventory,
    env: &ProbeEnv,
    zone: usize,
    tx: &mpsc::Sender<T>,
) -> Result<(), Closed> {
    let Some(config) = inv.zones.get(zone) else {
        return Ok(());
    };
    let permit = env.permit().await;
    let timeout = inv.probe.timeout;
    // One deadline for the round, however many steps it takes: finding the parent's
    // servers, then asking them.
    let deadline = tokio::time::Instant::now() + timeout;
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
    let outcome = if config.parent.is_empty() {
        let found = delegation::find_parents(
            &env.dns,
            &env.system,
            &config.name,
            env.parent_port,
            timeout,
        )
        .await;
        let servers = found.as_ref().map_or(&[][..], |f| &f.servers[..]);
        let mut outcome = match servers.is_empty() {
            true => delegation::DelegationOutcome {
                zone,
                found: None,
                servers: Vec::new(),
                primary: Default::default(),
            },
            false => {
                delegation::delegation_probe(
                    &env.dns,
                    zone,
                    &config.name,
                    servers,
                    config.primary,
                    left(),
                )
                .await
            }
        };
        outcome.found = Some(found);
        outcome
    } else {
        delegation::delegation_probe(
            &env.dns,
            zone,
            &config.name,
            &config.parent,
            config.primary,
            timeout,
        )
        .await
    };
    drop(permit);
    let report = ProbeReport::Delegation {
        at: SystemTime::now(),
        outcome,
    };
    tx.send(report.into()).await.map_err(|_| Closed)
}

/// Asks the primary (server 0) and every secondary (1..) of one zone at once for the SOA
/// serial (and the NS set when the serial moved, see [`zone::zone_probe_since`]), and each
/// of them about the zone's names when they may have changed; each answer is sent as soon
/// as it ends.
///
/// The names (the matrix cells of the zone's servers, and the primary's view with its TTL)
/// are asked of a server when `asked` has no record of it (and always without `asked`:
/// `moveday check`), when its serial moved or is unknown, when its last answers were not
/// all definite, after [`NAMES_REASK`], and on "probe now" (`force`). Otherwise its last
/// answers still hold, and [`ProbeReport::NamesCurrent`] says so: an authoritative answer can
/// only change with the zone, and every change to a zone moves its serial (that is how
/// the server's own secondaries notice). At one round a second this is most of the DNS
/// traffic of a dashboard, for nothing.
async fn zone_round<T: Listener>(
    inv: &Inventory,
    env: &ProbeEnv,
    zone: usize,
    tx: &mpsc::Sender<T>,
    mut asked: Option<&mut Vec<ServerMemory>>,
    force: bool,
) -> Result<(), Closed> {
    let Some(config) = inv.zones.get(zone) else {
        return Ok(());
    };
    let hosts: Vec<HostId> = (0..inv.hosts.len())
        .filter(|&h| inv.zone_of(&inv.hosts[h].fqdn) == Some(zone))
        .collect();
    let round = &ZoneRound {
        inv,
        env,
        zone,
        name: config.name.as_str(),
        hosts: &hosts,
        tx,
    };
    let servers = std::iter::once(ServerRef::Address(config.primary))
        .chain(config.secondaries.iter().map(|s| s.server.clone()));
    let mut probes: FuturesUnordered<_> = servers
        .enumerate()
        .map(|(server, server_ref)| {
            // Nothing remembered (`moveday check`, "probe now", a first round): everything
            // is asked.
            let memory = asked
                .as_deref()
                .and_then(|a| a.get(server).cloned())
                .filter(|_| !force);
            async move {
                let record = round.ask_server(server, server_ref, memory).await?;
                Ok::<_, Closed>((server, record))
            }
        })
        .collect();
    while let Some(done) = probes.next().await {
        let (server, record) = done?;
        if let Some(slot) = asked.as_deref_mut().and_then(|a| a.get_mut(server)) {
            *slot = record;
        }
    }
    Ok(())
}

/// One round of one zone, as each of its servers is asked.
struct ZoneRound<'a, T> {
    inv: &'a Inventory,
    env: &'a ProbeEnv,
    zone: usize,
    /// The zone's name.
    name: &'a str,
    /// The hosts whose names are in the zone.
    hosts: &'a [HostId],
    tx: &'a mpsc::Sender<T>,
}

impl<T: Listener> ZoneRound<'_, T> {
    /// Asks one server of the zone (0: the primary) for the SOA serial (and the NS set when
    /// the serial moved since `memory`), reports it, then asks about the zone's names when
    /// they are due. Returns what to remember of the server for the next round.
    async fn ask_server(
        &self,
        server: usize,
        server_ref: ServerRef,
        memory: Option<ServerMemory>,
    ) -> Result<ServerMemory, Closed> {
        let env = self.env;
        // One deadline for the server's whole round (its address, the SOA, every name): a
        // silent server's cells report when the timeout is up, however many names it has.
        let deadline = tokio::time::Instant::now() + self.inv.probe.timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let kind = match &server_ref {
            ServerRef::Address(a) => ResolverKind::Server(*a),
            ServerRef::Name(n) => ResolverKind::Named(n.clone()),
        };
        let permit = env.permit().await;
        let address = match server_ref {
            ServerRef::Address(addr) => addr,
            ServerRef::Name(host) => match env.server_address(&host, left()).await {
                Ok(addr) => addr,
                Err(why) => {
                    let outcome = zone_failure(self.zone, server, &host, why);
                    send_zone(self.tx, outcome).await?;
                    return Ok(ServerMemory::default());
                }
            },
        };
        // What is remembered of another address (a server given by name that moved) is
        // forgotten.
        let memory = memory.filter(|m| m.address == Some(address));
        let (last_names, last_zone) = memory.map_or((None, None), |m| (m.names, m.zone));
        let since = last_zone
            .as_ref()
            .filter(|(_, at)| at.elapsed() < NAMES_REASK)
            .map(|(answer, _)| answer);
        let result = zone::zone_probe_since(&env.dns, address, self.name, left(), since).await;
        drop(permit);
        let serial = result.as_ref().ok().and_then(|a| a.serial);
        // The NS set was asked unless the serial held; then it keeps its time.
        let zone_memory = match (&result, since) {
            (Ok(a), Some(prev))
                if prev.serial == a.serial && prev.authoritative == a.authoritative =>
            {
                last_zone.clone()
            }
            (Ok(a), _) => Some((a.clone(), Instant::now())),
            (Err(_), _) => None,
        };
        let outcome = ZoneOutcome {
            zone: self.zone,
            server,
            address: Some(address),
            result,
        };
        send_zone(self.tx, outcome).await?;
        let names = self
            .names_if_due(server, &kind, address, serial, last_names, deadline)
            .await?;
        Ok(ServerMemory {
            address: Some(address),
            names,
            zone: zone_memory,
        })
    }

    /// Asks the server at `address` about the zone's names when its answers may have
    /// changed since `last` (see [`zone_round`]); otherwise reports that they still hold.
    /// Returns what to remember of the names: nothing when the server is no column of the
    /// matrix.
    async fn names_if_due(
        &self,
        server: usize,
        kind: &ResolverKind,
        address: SocketAddr,
        serial: Option<u32>,
        last: Option<NamesAsked>,
        deadline: tokio::time::Instant,
    ) -> Result<Option<NamesAsked>, Closed> {
        let zone = self.zone;
        let Some(resolver) = self
            .inv
            .resolvers
            .iter()
            .position(|r| r.kind == *kind && r.serves.contains(&zone))
        else {
            return Ok(None);
        };
        let primary = server == 0;
        let due = match last {
            None => true,
            Some(last) => {
                serial.is_none()
                    || last.serial != serial
                    || !last.clean
                    || last.at.elapsed() >= NAMES_REASK
            }
        };
        if !due {
            let at = SystemTime::now();
            let current = ProbeReport::NamesCurrent {
                zone,
                resolver,
                primary,
                at,
            };
            self.tx.send(current.into()).await.map_err(|_| Closed)?;
            return Ok(last);
        }
        let at = Instant::now();
        let (inv, env, hosts, tx) = (self.inv, self.env, self.hosts, self.tx);
        let column = NamesColumn {
            address,
            resolver,
            primary,
            deadline,
        };
        let clean = ask_names(inv, env, hosts, &column, tx).await?;
        Ok(Some(NamesAsked { serial, at, clean }))
    }
}

async fn send_zone<T: Listener>(tx: &mpsc::Sender<T>, outcome: ZoneOutcome) -> Result<(), Closed> {
    tx.send(
        ProbeReport::Zone {
            at: SystemTime::now(),
            outcome,
        }
        .into(),
    )
    .await
    .map_err(|_| Closed)
}

/// A zone server as a column of the matrix, asked about the zone's names.
#[derive(Debug, Clone, Copy)]
struct NamesColumn {
    address: SocketAddr,
    /// The matrix column.
    resolver: usize,
    /// The zone's primary: its answers are also the zone's view of the names.
    primary: bool,
    /// Every name's answer, or its timeout, by then.
    deadline: tokio::time::Instant,
}

/// Asks the zone server of `column` about the name of each of `hosts`, without recursion,
/// keeping its AA flag, each answer by the column's deadline. Returns whether every answer
/// was definite.
async fn ask_names<T: Listener>(
    inv: &Inventory,
    env: &ProbeEnv,
    hosts: &[HostId],
    column: &NamesColumn,
    tx: &mpsc::Sender<T>,
) -> Result<bool, Closed> {
    let NamesColumn {
        address,
        resolver,
        primary,
        deadline,
    } = *column;
    // A few at a time: a thousand names queued at once on the connection limit would make
    // every host's own probes wait behind them (the first picture of 1,000 hosts took
    // twice as long). All of them by the deadline: a name still queued then is a timeout.
    let mut answers = futures::stream::iter(hosts.iter().copied())
        .map(|host| async move {
            let started = Instant::now();
            let lookup = async {
                let _permit = env.permit().await;
                let fqdn = inv.hosts[host].fqdn.as_str();
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                zone::authoritative_lookup(&env.dns, address, fqdn, left).await
            };
            let result = tokio::time::timeout_at(deadline, lookup)
                .await
                .unwrap_or(Err(DnsError::Timeout));
            (host, result, started.elapsed())
        })
        .buffer_unordered(NAMES_IN_FLIGHT);
    let mut clean = true;
    while let Some((host, result, latency)) = answers.next().await {
        clean &= matches!(
            result,
            Ok(_) | Err(DnsError::NxDomain | DnsError::NoRecords)
        );
        let cell = result.clone().map(|auth| super::DnsAnswer {
            addresses: auth.addresses.clone(),
            more: auth.more,
            ttl: auth.ttl,
            latency,
            authoritative: Some(auth.authoritative),
        });
        send(
            tx,
            host,
            Outcome::Dns(DnsOutcome {
                resolver,
                result: cell,
            }),
        )
        .await?;
        if primary {
            send(tx, host, Outcome::PrimaryAnswer(result)).await?;
        }
    }
    Ok(clean)
}

/// A secondary given by name whose address could not be found.
fn zone_failure(zone: usize, server: usize, host: &str, why: String) -> ZoneOutcome {
    ZoneOutcome {
        zone,
        server,
        address: None,
        result: Err(DnsError::Other(crate::sanitize::sanitize(
            &format!("cannot resolve {host}: {why}"),
            160,
        ))),
    }
}

/// Resolves on the next "probe now"; never, once the sender is gone.
async fn probe_now_signal(rx: &mut watch::Receiver<u64>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn send<T: Listener>(
    tx: &mpsc::Sender<T>,
    host: HostId,
    outcome: Outcome,
) -> Result<(), Closed> {
    tx.send(
        ProbeReport::Probe {
            host,
            at: SystemTime::now(),
            outcome,
        }
        .into(),
    )
    .await
    .map_err(|_| Closed)
}

/// A probe's results: usually one outcome; the primary's answer is two (the matrix cell and
/// the zone's view of the name).
type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'a>>;

/// The probes of a round still running.
type RoundProbes<'a> = FuturesUnordered<ProbeFuture<'a>>;

/// One probe round of one host: where its probes aim (the target) and what the hosts file
/// says, reported first; then every probe at once (resolvers, reverse DNS, the target's
/// probes, the old address), each reported as it ends; then `RoundDone`.
async fn round<T: Listener>(
    inv: &Inventory,
    env: &ProbeEnv,
    host: HostId,
    tx: &mpsc::Sender<T>,
    scope: Scope,
    mut memory: Option<&mut HostMemory>,
) -> Result<(), Closed> {
    let Some(config) = inv.hosts.get(host) else {
        return Ok(());
    };
    let timeout = inv.probe.timeout;
    // One read of the hosts file serves both the target and the hosts-file probe.
    let hosts = env.hosts_files.load(&inv.hosts_file).await;

    let (target, system_answer) = match scope {
        Scope::Everything => {
            let (target, answer) =
                find_target(config.new_ip, &config.fqdn, hosts.as_deref(), env, timeout).await;
            send(tx, host, Outcome::Target(target.clone())).await?;
            (Some(target), answer)
        }
        Scope::Dns => (None, None),
    };

    let short_name = config.fqdn.split_once('.').map(|(short, _)| short);
    send(
        tx,
        host,
        Outcome::HostsFile(HostsFileOutcome {
            result: hosts.map(|f| f.entries_for(&config.fqdn, short_name)),
        }),
    )
    .await?;

    let mut probes = RoundProbes::new();
    ask_resolvers(inv, env, host, config, system_answer, tx, &mut probes).await?;
    // Due a little early rather than a round late (rounds start on the interval, give or
    // take the scheduler).
    let round_started = Instant::now();
    let slack = inv.probe.interval / 10;
    let ptr_due = memory
        .as_deref()
        .and_then(|m| m.ptr_due)
        .is_none_or(|due| round_started + slack >= due);
    if let (Some(ip), true) = (config.new_ip, ptr_due) {
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            vec![Outcome::Ptr(
                ptr::reverse(&env.dns, env.ptr_resolver(inv), ip, timeout).await,
            )]
        }));
    }
    if let Some(Ok(target)) = &target {
        probe_target(env, config, target.ip, timeout, &mut probes);
        let due = commands_due(config, memory.as_deref_mut(), round_started, slack);
        probe_commands(inv, env, config, target.ip, due, &mut probes);
    }
    if let (true, Some(old_ip), Scope::Everything) = (config.probe_old, config.old_ip, scope) {
        probes.push(probe_old_address(env, config, old_ip, timeout));
    }
    if config.is_mail() && scope == Scope::Everything {
        probe_mail(inv, env, config, &mut probes);
    }
    while let Some(outcomes) = probes.next().await {
        for outcome in outcomes {
            if let (Outcome::Ptr(ptr), Some(memory)) = (&outcome, memory.as_deref_mut()) {
                memory.ptr_due = Some(ptr_next(&ptr.result, round_started, inv.probe.interval));
            }
            send(tx, host, outcome).await?;
        }
    }
    tx.send(
        ProbeReport::RoundDone {
            host,
            at: SystemTime::now(),
        }
        .into(),
    )
    .await
    .map_err(|_| Closed)
}

/// Adds to `probes` the host's name asked of each resolver of the inventory, but for the
/// servers of its own zone (the zone's task asks them, `zone_round`, when its serial says
/// the answer may have changed) and zone servers added only for their zones. The system
/// resolver's answer to the target lookup, when there was one, is reported at once.
async fn ask_resolvers<'a, T: Listener>(
    inv: &'a Inventory,
    env: &'a ProbeEnv,
    host: HostId,
    config: &'a HostConfig,
    system_answer: Option<Result<super::DnsAnswer, DnsError>>,
    tx: &mpsc::Sender<T>,
    probes: &mut RoundProbes<'a>,
) -> Result<(), Closed> {
    let fqdn = config.fqdn.as_str();
    let timeout = inv.probe.timeout;
    let zone = inv.zone_of(fqdn);
    for (resolver_id, (resolver, rc)) in env.resolvers.iter().zip(&inv.resolvers).enumerate() {
        if zone.is_some_and(|z| rc.serves.contains(&z)) {
            // A server of the name's zone: the zone's task asks it.
            continue;
        }
        if !rc.asks_about(zone) {
            // A zone server added only for its zones: not asked about other names.
            continue;
        }
        if let (ResolverKind::System, Some(answer)) = (&rc.kind, &system_answer) {
            // The target lookup already asked this very resolver this round.
            let result = answer.clone();
            let outcome = Outcome::Dns(DnsOutcome {
                resolver: resolver_id,
                result,
            });
            send(tx, host, outcome).await?;
            continue;
        }
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            vec![Outcome::Dns(DnsOutcome {
                resolver: resolver_id,
                result: dns::lookup(resolver, fqdn, timeout).await,
            })]
        }));
    }
    Ok(())
}

/// Adds to `probes` a mail host's own checks: its domains' MX and SPF every round (a fix
/// must show at once), the blocklists when due (`[mail] dnsbl_every`).
fn probe_mail<'a>(
    inv: &'a Inventory,
    env: &'a ProbeEnv,
    config: &'a HostConfig,
    probes: &mut RoundProbes<'a>,
) {
    let timeout = inv.probe.timeout;
    let resolver = env.ptr_resolver(inv);
    probes.push(Box::pin(async move {
        let _permit = env.permit().await;
        let outcome = env.mail.domains(&env.dns, resolver, config, timeout).await;
        vec![Outcome::Mail(outcome)]
    }));
    if let Some(ip) = config.new_ip {
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            let outcome = env.mail.blocklists(&env.dns, resolver, ip, timeout).await;
            outcome.map(Outcome::Dnsbl).into_iter().collect()
        }));
    }
}

/// Adds to `probes` what is asked of the round's target `ip`: ping, SSH, the `http =` URL,
/// the expected ports and each service.
fn probe_target<'a>(
    env: &'a ProbeEnv,
    config: &'a HostConfig,
    ip: IpAddr,
    timeout: Duration,
    probes: &mut RoundProbes<'a>,
) {
    if config.ping {
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            vec![Outcome::Ping(
                env.pinger.ping(ip, config.ssh, timeout).await,
            )]
        }));
    }
    if let Some(port) = config.ssh {
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            vec![Outcome::Ssh(ssh::probe(ip, port, timeout).await)]
        }));
    }
    if let Some(url) = &config.http {
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            vec![Outcome::Http(
                http::probe(&env.http, url, ip, timeout).await,
            )]
        }));
    }
    if !config.ports.is_empty() {
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            let ports = ports::probe_ports(ip, &config.ports, timeout).await;
            vec![Outcome::Ports(PortsOutcome { ip, ports })]
        }));
    }
    for (index, svc) in config.services.iter().enumerate() {
        if matches!(svc.kind, ServiceKind::Command(_)) {
            // Run on the host, on its own cadence: `probe_commands`.
            continue;
        }
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            let result = probe_service(env, svc, &config.fqdn, ip, timeout).await;
            vec![Outcome::Service(ServiceOutcome {
                service: index,
                ip,
                result,
            })]
        }));
    }
}

/// The `command` services due this round (all of them without `memory`: `moveday check`),
/// each marked due again `every` after `now` (every round without an `every`); due a
/// little early (`slack`) rather than a round late.
fn commands_due(
    config: &HostConfig,
    memory: Option<&mut HostMemory>,
    now: Instant,
    slack: Duration,
) -> Vec<usize> {
    let commands = config
        .services
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.kind {
            ServiceKind::Command(c) => Some((i, c.every)),
            _ => None,
        });
    let Some(memory) = memory else {
        return commands.map(|(i, _)| i).collect();
    };
    let mut due = Vec::new();
    for (i, every) in commands {
        if memory
            .command_due
            .get(&i)
            .is_none_or(|at| now + slack >= *at)
        {
            due.push(i);
            if let Some(every) = every {
                memory.command_due.insert(i, now + every);
            }
        }
    }
    due
}

/// Adds to `probes` the `command` services in `due`: each runs on its host over ssh (with
/// `[ssh] options`), within its own limit (`command::run_limit`), reported under the
/// round's target `ip`.
fn probe_commands<'a>(
    inv: &'a Inventory,
    env: &'a ProbeEnv,
    config: &'a HostConfig,
    ip: IpAddr,
    due: Vec<usize>,
    probes: &mut RoundProbes<'a>,
) {
    let timeout = inv.probe.timeout;
    for index in due {
        let Some(ServiceKind::Command(c)) = config.services.get(index).map(|s| &s.kind) else {
            continue;
        };
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            let limit = service::command::run_limit(c, timeout);
            let result =
                service::command::probe(c, &config.fqdn, &inv.ssh.options, timeout, limit).await;
            vec![Outcome::Service(ServiceOutcome {
                service: index,
                ip,
                result,
            })]
        }));
    }
}

/// The old address, asked the same ports and services as the target (`probe_old = true`):
/// does anything there still answer? A `command` service is not asked of an address: its
/// slot says so, as a failure (which counts as "not answering").
fn probe_old_address<'a>(
    env: &'a ProbeEnv,
    config: &'a HostConfig,
    old_ip: IpAddr,
    timeout: Duration,
) -> ProbeFuture<'a> {
    Box::pin(async move {
        let _permit = env.permit().await;
        let (ports, services) = futures::future::join(
            ports::probe_ports(old_ip, &config.ports, timeout),
            futures::future::join_all(
                config
                    .services
                    .iter()
                    .map(|svc| old_service(env, svc, &config.fqdn, old_ip, timeout)),
            ),
        )
        .await;
        vec![Outcome::Old(OldOutcome {
            ip: old_ip,
            ports,
            services,
        })]
    })
}

/// A service asked of the old address; a `command` service is not.
async fn old_service(
    env: &ProbeEnv,
    svc: &crate::config::ServiceConfig,
    fqdn: &str,
    ip: IpAddr,
    timeout: Duration,
) -> ServiceResult {
    if matches!(svc.kind, ServiceKind::Command(_)) {
        return ServiceResult::not_asked("runs on the host: not asked at the old address");
    }
    probe_service(env, svc, fqdn, ip, timeout).await
}

/// One service of a host at `ip`, with the environment's trust store.
async fn probe_service(
    env: &ProbeEnv,
    svc: &crate::config::ServiceConfig,
    fqdn: &str,
    ip: IpAddr,
    timeout: Duration,
) -> ServiceResult {
    let trust = match env.trust().await {
        Ok(trust) => trust,
        Err(why) => TlsTrust::empty_because(&why),
    };
    service::probe_service_with(svc, fqdn, ip, timeout, SystemTime::now(), &trust).await
}

/// Where this round's probes go, as the operating system would decide ("files dns"), and
/// the system resolver's answer when it was asked.
async fn find_target(
    new_ip: Option<IpAddr>,
    fqdn: &str,
    hosts: Result<&HostsFile, &String>,
    env: &ProbeEnv,
    timeout: Duration,
) -> (
    Result<Target, ProbeError>,
    Option<Result<super::DnsAnswer, super::DnsError>>,
) {
    if let Some(ip) = new_ip {
        let target = Target {
            ip,
            source: TargetSource::NewIp,
        };
        return (Ok(target), None);
    }
    if let Some(entry) = hosts.ok().and_then(|f| f.resolve(fqdn)) {
        let target = Target {
            ip: entry.ip,
            source: TargetSource::HostsFile,
        };
        return (Ok(target), None);
    }
    let answer = {
        let _permit = env.permit().await;
        dns::lookup(&env.system, fqdn, timeout).await
    };
    let target = match &answer {
        Ok(a) => match a.addresses.first() {
            Some(ip) => Ok(Target {
                ip: *ip,
                source: TargetSource::SystemDns,
            }),
            None => Err(ProbeError::NoTarget("no address in DNS".into())),
        },
        Err(e) => Err(ProbeError::NoTarget(format!("system DNS: {e}"))),
    };
    (target, Some(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::PtrAnswer;

    /// A command service runs at most every `every` in the host's loop (a little early
    /// rather than a round late); one without `every` runs each round, and `check` (no
    /// memory) runs them all.
    #[test]
    fn a_command_service_runs_when_due() {
        let inv = Inventory::parse(
            std::path::Path::new("inv.toml"),
            "[[host]]\nname = \"mail\"\nfqdn = \"mail.example.org\"\n\
             [[host.service]]\nname = \"web\"\nkind = \"tcp\"\nport = 80\n\
             [[host.service]]\nname = \"queue\"\nkind = \"command\"\nrun = \"wc -l\"\nevery = \"1m\"\n\
             [[host.service]]\nname = \"each\"\nkind = \"command\"\nrun = \"true\"\n",
        )
        .unwrap();
        let config = &inv.hosts[0];
        let slack = Duration::from_millis(200);
        let start = Instant::now();
        assert_eq!(commands_due(config, None, start, slack), [1, 2]);
        let mut memory = HostMemory::default();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(
            commands_due(config, Some(&mut memory), at(0), slack),
            [1, 2]
        );
        assert_eq!(commands_due(config, Some(&mut memory), at(2), slack), [2]);
        assert_eq!(commands_due(config, Some(&mut memory), at(58), slack), [2]);
        // Within the slack of its minute: now rather than a round late.
        let almost = at(60) - Duration::from_millis(100);
        assert_eq!(
            commands_due(config, Some(&mut memory), almost, slack),
            [1, 2]
        );
        assert_eq!(commands_due(config, Some(&mut memory), at(62), slack), [2]);
    }

    fn answer(ttl: u32, forward_confirmed: bool) -> Result<PtrAnswer, DnsError> {
        Ok(PtrAnswer {
            names: vec!["mail.example.org".into()],
            forward_confirmed,
            ttl,
        })
    }

    #[test]
    fn reverse_dns_is_asked_again_when_it_may_have_changed_or_is_wrong() {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        // A good answer: again after its TTL, between one interval and NAMES_REASK.
        assert_eq!(ptr_next(&answer(10, true), now, second), now + 10 * second);
        assert_eq!(
            ptr_next(&answer(3600, true), now, second),
            now + NAMES_REASK
        );
        assert_eq!(ptr_next(&answer(0, true), now, second), now + second);
        let minute = Duration::from_secs(60);
        assert_eq!(ptr_next(&answer(10, true), now, minute), now + minute);
        // What the operator is fixing is asked every round.
        assert_eq!(ptr_next(&answer(3600, false), now, second), now);
        assert_eq!(ptr_next(&Err(DnsError::NxDomain), now, second), now);
        assert_eq!(ptr_next(&Err(DnsError::Timeout), now, second), now);
    }

    #[test]
    fn later_rounds_spread_with_the_inventory_and_no_gap_grows() {
        let s = Duration::from_secs;
        // Up to a few hundred hosts: a share of 1 s after the interval, as always.
        assert_eq!(stagger(s(1), 8), (s(1), Duration::ZERO));
        assert_eq!(stagger(s(30), 300), (s(1), Duration::ZERO));
        assert_eq!(
            stagger(Duration::from_millis(500), 8).0,
            Duration::from_millis(500)
        );
        // Ten thousand at 30 s: over the whole interval; 1,000 at 5 s: over 3 s.
        assert_eq!(stagger(s(30), 10_000), (s(30), s(29)));
        assert_eq!(stagger(s(5), 1_000), (s(3), s(2)));
        // No host waits longer than the interval and 1 s for its second round.
        for (interval, hosts) in [(s(30), 10_000), (s(5), 1_000), (s(1), 8), (s(60), 65_000)] {
            let (spread, early) = stagger(interval, hosts);
            let last = interval + spread.mul_f64((hosts - 1) as f64 / hosts as f64) - early;
            assert!(
                last <= interval + MIN_STAGGER,
                "{interval:?} {hosts}: {last:?}"
            );
            assert!(interval >= early, "{interval:?} {hosts}");
        }
    }
}
