//! The probe scheduler: one task per host (gping's model) running probe rounds, every
//! result sent to the store as a [`Report`] the moment it is known.
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
//!                        ├─> A/AAAA at the zone's primary (no recursion) ─┤
//!                        └─> PTR of new_ip, forward-confirmed ────────────┘
//! ```
//!
//! Beside the hosts, one task per `[[zone]]` asks its primary and every secondary for the
//! zone's SOA serial and NS set, all at once, each reported (`Report::Zone`) as it ends.
//!
//! Rounds start every `interval` (the first at once; later ones staggered a little so 500
//! hosts do not fire in the same millisecond), or at once when the operator asks for a
//! probe now. A global semaphore bounds the connections in flight.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::dns::{self, Resolver, SystemDns};
use super::hosts_file::{HostsFile, HostsFileCache};
use super::http::{self, ClientCache};
use super::ping::Pinger;
use super::{
    DnsError, DnsOutcome, HostId, HostsFileOutcome, Outcome, ProbeError, Report, Target,
    TargetSource, ZoneOutcome, ssh, zone,
};
use crate::config::{Inventory, ResolverKind, ServerRef};

/// Connections (and DNS queries) in flight at once, over all hosts.
pub const MAX_CONCURRENT_PROBES: usize = 256;

/// The first rounds of all hosts are spread over at most this long.
const MAX_STAGGER: Duration = Duration::from_secs(1);

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
    pub hosts_files: HostsFileCache,
    pub limit: Semaphore,
}

impl ProbeEnv {
    /// The environment for `inv` with the operating system's resolver configuration.
    pub fn new(inv: &Inventory, pinger: Pinger) -> ProbeEnv {
        ProbeEnv::with_system_dns(inv, pinger, SystemDns::FromOs)
    }

    /// As [`ProbeEnv::new`], with the "system" resolver taken from `system` (the demo and
    /// tests point it at an in-process server so that no query leaves the machine).
    pub fn with_system_dns(inv: &Inventory, pinger: Pinger, system: SystemDns) -> ProbeEnv {
        let timeout = inv.probe.timeout;
        let system = Resolver::system(&system, timeout);
        let resolvers = inv
            .resolvers
            .iter()
            .map(|r| match r.kind {
                ResolverKind::System => system.clone(),
                ResolverKind::Server(addr) => Resolver::server(addr, timeout),
            })
            .collect();
        ProbeEnv {
            pinger: Arc::new(pinger),
            resolvers,
            system,
            http: ClientCache::new(),
            hosts_files: HostsFileCache::new(),
            limit: Semaphore::new(MAX_CONCURRENT_PROBES),
        }
    }

    async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        // Never closed; if it were, probing unbounded beats not probing.
        self.limit.acquire().await.ok()
    }
}

/// The channel to the store is closed: nobody listens any more.
struct Closed;

/// Starts one probe task per host; they run until the returned set is dropped (or aborted)
/// or `tx` is closed. Sends [`Report::PingMode`] first. Must be called inside a Tokio
/// runtime.
pub fn spawn(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    tx: mpsc::Sender<Report>,
    probe_now: watch::Receiver<u64>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    // A fresh channel has room: sent now, the mode precedes every probe report.
    if let Err(mpsc::error::TrySendError::Full(report)) = tx.try_send(ping_mode_report(&env)) {
        let tx = tx.clone();
        set.spawn(async move {
            let _ = tx.send(report).await;
        });
    }
    let count = inv.hosts.len().max(1) as f64;
    let spread = inv.probe.interval.min(MAX_STAGGER);
    for host in 0..inv.hosts.len() {
        let stagger = spread.mul_f64(host as f64 / count);
        set.spawn(host_loop(
            inv.clone(),
            env.clone(),
            host,
            tx.clone(),
            probe_now.clone(),
            stagger,
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
    set
}

/// Probes every host once, concurrently; returns when all are done (`moveday check`).
/// Sends [`Report::PingMode`] first; `tx` is dropped at the end, closing the channel.
pub async fn one_round(inv: Arc<Inventory>, env: Arc<ProbeEnv>, tx: mpsc::Sender<Report>) {
    if tx.send(ping_mode_report(&env)).await.is_err() {
        return;
    }
    let mut set = JoinSet::new();
    for host in 0..inv.hosts.len() {
        let (inv, env, tx) = (inv.clone(), env.clone(), tx.clone());
        set.spawn(async move {
            let _ = round(&inv, &env, host, &tx).await;
        });
    }
    for zone in 0..inv.zones.len() {
        let (inv, env, tx) = (inv.clone(), env.clone(), tx.clone());
        set.spawn(async move {
            let _ = zone_round(&inv, &env, zone, &tx).await;
        });
    }
    while set.join_next().await.is_some() {}
}

fn ping_mode_report(env: &ProbeEnv) -> Report {
    Report::PingMode {
        mode: env.pinger.mode(),
        hint: env.pinger.hint().map(str::to_string),
    }
}

async fn host_loop(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    host: HostId,
    tx: mpsc::Sender<Report>,
    mut probe_now: watch::Receiver<u64>,
    stagger: Duration,
) {
    // The first round of every host starts at once, so the first full picture takes one
    // timeout (the connection limit keeps a big inventory from bursting); the stagger
    // spreads the later rounds over the interval.
    let mut extra = stagger;
    loop {
        // A press during this round starts the next one right after it; presses before
        // it are answered by it.
        probe_now.borrow_and_update();
        let started = Instant::now();
        if round(&inv, &env, host, &tx).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + inv.probe.interval + extra) => {}
            _ = probe_now_signal(&mut probe_now) => {}
            _ = tx.closed() => return,
        }
        extra = Duration::ZERO;
    }
}

/// Probes one zone's servers every interval (the first round at once) and on "probe now".
async fn zone_loop(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    zone: usize,
    tx: mpsc::Sender<Report>,
    mut probe_now: watch::Receiver<u64>,
) {
    loop {
        probe_now.borrow_and_update();
        let started = Instant::now();
        if zone_round(&inv, &env, zone, &tx).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + inv.probe.interval) => {}
            _ = probe_now_signal(&mut probe_now) => {}
            _ = tx.closed() => return,
        }
    }
}

/// Asks the primary (server 0) and every secondary (1..) of one zone at once; each answer
/// is sent as soon as it ends.
async fn zone_round(
    inv: &Inventory,
    env: &ProbeEnv,
    zone: usize,
    tx: &mpsc::Sender<Report>,
) -> Result<(), Closed> {
    let Some(config) = inv.zones.get(zone) else {
        return Ok(());
    };
    let timeout = inv.probe.timeout;
    let name = config.name.as_str();
    let servers = std::iter::once(ServerRef::Address(config.primary))
        .chain(config.secondaries.iter().map(|s| s.server.clone()));
    let mut probes: FuturesUnordered<_> = servers
        .enumerate()
        .map(|(server, server_ref)| async move {
            let _permit = env.permit().await;
            let address = match server_ref {
                ServerRef::Address(addr) => addr,
                ServerRef::Name(host) => match dns::lookup(&env.system, &host, timeout).await {
                    Ok(answer) => match answer.addresses.first() {
                        Some(ip) => std::net::SocketAddr::new(*ip, 53),
                        None => {
                            return zone_failure(zone, server, &host, "no address".into());
                        }
                    },
                    Err(e) => return zone_failure(zone, server, &host, e.to_string()),
                },
            };
            ZoneOutcome {
                zone,
                server,
                address: Some(address),
                result: zone::zone_probe(address, name, timeout).await,
            }
        })
        .collect();
    while let Some(outcome) = probes.next().await {
        tx.send(Report::Zone {
            at: SystemTime::now(),
            outcome,
        })
        .await
        .map_err(|_| Closed)?;
    }
    Ok(())
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

async fn send(tx: &mpsc::Sender<Report>, host: HostId, outcome: Outcome) -> Result<(), Closed> {
    tx.send(Report::Probe {
        host,
        at: SystemTime::now(),
        outcome,
    })
    .await
    .map_err(|_| Closed)
}

type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One probe round of one host.
async fn round(
    inv: &Inventory,
    env: &ProbeEnv,
    host: HostId,
    tx: &mpsc::Sender<Report>,
) -> Result<(), Closed> {
    let Some(config) = inv.hosts.get(host) else {
        return Ok(());
    };
    let timeout = inv.probe.timeout;
    // One read of the hosts file serves both the target and the hosts-file probe.
    let hosts = env.hosts_files.load(&inv.hosts_file).await;

    let (target, system_answer) =
        find_target(config.new_ip, &config.fqdn, hosts.as_deref(), env, timeout).await;
    send(tx, host, Outcome::Target(target.clone())).await?;

    let short_name = config.fqdn.split_once('.').map(|(short, _)| short);
    send(
        tx,
        host,
        Outcome::HostsFile(HostsFileOutcome {
            result: hosts.map(|f| f.entries_for(&config.fqdn, short_name)),
        }),
    )
    .await?;

    let mut probes: FuturesUnordered<ProbeFuture<'_>> = FuturesUnordered::new();
    for (resolver_id, resolver) in env.resolvers.iter().enumerate() {
        let is_system = inv
            .resolvers
            .get(resolver_id)
            .is_some_and(|r| r.kind == ResolverKind::System);
        if let (true, Some(answer)) = (is_system, &system_answer) {
            // The target lookup already asked this very resolver this round.
            send(
                tx,
                host,
                Outcome::Dns(DnsOutcome {
                    resolver: resolver_id,
                    result: answer.clone(),
                }),
            )
            .await?;
            continue;
        }
        let fqdn = config.fqdn.as_str();
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            Outcome::Dns(DnsOutcome {
                resolver: resolver_id,
                result: dns::lookup(resolver, fqdn, timeout).await,
            })
        }));
    }
    if let Some(zone) = crate::store::zone_of(inv, &config.fqdn)
        && let Some(primary) = inv.zones.get(zone).map(|z| z.primary)
    {
        let fqdn = config.fqdn.as_str();
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            Outcome::PrimaryAnswer(zone::authoritative_lookup(primary, fqdn, timeout).await)
        }));
    }
    if let Some(ip) = config.new_ip {
        probes.push(Box::pin(async move {
            let _permit = env.permit().await;
            Outcome::Ptr(zone::reverse(&env.system, ip, timeout).await)
        }));
    }
    if let Ok(target) = target {
        let ip = target.ip;
        if config.ping {
            probes.push(Box::pin(async move {
                let _permit = env.permit().await;
                Outcome::Ping(env.pinger.ping(ip, config.ssh, timeout).await)
            }));
        }
        if let Some(port) = config.ssh {
            probes.push(Box::pin(async move {
                let _permit = env.permit().await;
                Outcome::Ssh(ssh::probe(ip, port, timeout).await)
            }));
        }
        if let Some(url) = &config.http {
            probes.push(Box::pin(async move {
                let _permit = env.permit().await;
                Outcome::Http(http::probe(&env.http, url, ip, timeout).await)
            }));
        }
    }
    while let Some(outcome) = probes.next().await {
        send(tx, host, outcome).await?;
    }
    tx.send(Report::RoundDone {
        host,
        at: SystemTime::now(),
    })
    .await
    .map_err(|_| Closed)
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
