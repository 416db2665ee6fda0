//! The model of the move: every host's latest probe results, and the pure reducer that is the
//! only thing allowed to change them.
//!
//! Probe reports, checklist events and warnings come in as [`Input`]s; one owner applies
//! them with [`reduce`]; the UI and the headless commands read [`State`] and the derived
//! views below (verdicts, health, the hosts-file flag). Nothing here does I/O or reads a clock: time comes in the reports.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::checklist::persist::SyncNews;
use crate::checklist::{ChecklistDoc, ChecklistEvent};
use crate::config::{Damping, HostConfig, Inventory};
use crate::probe::delegation::DelegationOutcome;
use crate::probe::mail::{DnsblOutcome, MailOutcome};
use crate::probe::ports::PortState;
use crate::probe::service::ServiceState;
use crate::probe::{
    AuthAnswer, DnsAnswer, DnsError, DnsOutcome, HostId, HostsEntry, HttpOutcome, OldOutcome,
    Outcome, PingMode, PingOutcome, PortsOutcome, ProbeError, ProbeReport, PtrOutcome, ResolverId,
    ServiceOutcome, SshOutcome, Target, ZoneOutcome,
};
pub use notify::{Delivered, NotifyNews, NotifyState};
pub use vantage::{FromVantage, VantageState};

mod canary;
pub mod damping;
mod delegation;
mod links;
pub mod mail;
pub mod notify;
pub mod vantage;
pub use canary::{
    CanaryRun, CanarySecondary, CanarySecondaryView, CanaryView, SecondaryVerdict, canary,
    canary_zones, late_words as canary_late_words, seconds as canary_seconds,
};
pub use damping::{Damped, Damper};
pub use delegation::{DelegationView, GlueVerdict, GlueView, ParentView, delegation};
pub use links::{LinkState, evidence, item_status, link_name, link_state, link_words};

/// How many recent pings the loss figure covers.
pub const PING_WINDOW: usize = 10;

/// A value and when it was observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen<T> {
    pub at: SystemTime,
    pub value: T,
}

/// Everything known about the move.
#[derive(Debug, Clone)]
pub struct State {
    pub inventory: Arc<Inventory>,
    pub hosts: Vec<HostState>,
    /// How pings are sent, once known.
    pub ping_mode: Option<PingMode>,
    /// A one-line hint when ICMP is not available.
    pub ping_hint: Option<String>,
    /// Who ticked what, as far as this process knows (local events merged with the file),
    /// for the inventory's items only: the state file may hold a million others.
    pub checklist: ChecklistDoc,
    /// Warnings for the status bar, oldest first (the last few are kept).
    pub warnings: Vec<String>,
    /// How many ids the state file has that the inventory no longer has (kept in the file,
    /// and reported), and the first few of them.
    pub orphans: (usize, Vec<String>),
    /// One per `[[zone]]` of the inventory.
    pub zones: Vec<ZoneState>,
    /// One per `[[vantage]]` of the inventory.
    pub vantages: Vec<VantageState>,
    /// Each notification endpoint that has reported a delivery.
    pub notify: Vec<NotifyState>,
}

/// What the servers of one zone say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoneState {
    /// 0 is the primary, then the secondaries in inventory order.
    pub servers: Vec<ZoneServerState>,
    /// The delegation as the parent's servers last served it (`[[zone]] parent`).
    pub delegation: Option<Seen<DelegationOutcome>>,
    /// The last canary run (`moveday canary`, `C` in the zones view).
    pub canary: Option<CanaryRun>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoneServerState {
    pub latest: Option<Seen<ZoneOutcome>>,
    /// Since when this secondary's serial has been behind the primary's.
    pub behind_since: Option<SystemTime>,
}

/// How many warnings [`State::warnings`] keeps.
pub const MAX_WARNINGS: usize = 20;

/// Everything known about one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostState {
    pub target: Option<Seen<Result<Target, ProbeError>>>,
    pub ping: Option<Seen<PingOutcome>>,
    /// The last [`PING_WINDOW`] pings, oldest first: `Some(rtt)` or `None` for a loss.
    pub ping_window: VecDeque<Option<Duration>>,
    pub ssh: Option<Seen<SshOutcome>>,
    pub http: Option<Seen<HttpOutcome>>,
    /// One slot per resolver of the inventory, in order.
    pub dns: Vec<Option<Seen<Result<DnsAnswer, DnsError>>>>,
    pub hosts_file: Option<Seen<Result<Vec<HostsEntry>, String>>>,
    /// Reverse DNS of `new_ip` and whether it resolves back.
    pub ptr: Option<Seen<PtrOutcome>>,
    /// What the primary of the host's zone serves for its name (authoritatively).
    pub primary: Option<Seen<Result<AuthAnswer, DnsError>>>,
    /// The expected ports, as last probed.
    pub ports: Option<Seen<PortsOutcome>>,
    /// One slot per `[[host.service]]`, in order.
    pub services: Vec<Option<Seen<ServiceOutcome>>>,
    /// The old address, asked the same questions (`probe_old`).
    pub old: Option<Seen<OldOutcome>>,
    /// A mail host's domains (MX, SPF), as last asked.
    pub mail: Option<Seen<MailOutcome>>,
    /// The blocklists' last answers about a mail host's new address.
    pub dnsbl: Option<Seen<DnsblOutcome>>,
    /// One slot per `[[vantage]]`: the host as that vantage last saw it.
    pub remote: Vec<Option<FromVantage>>,
    /// Flap damping of every check that has reported.
    pub damp: BTreeMap<Check, Damper>,
    /// Overall health and since when it has been so.
    pub health: Health,
    pub health_since: Option<SystemTime>,
    /// Completed probe rounds.
    pub rounds: u64,
}

impl State {
    pub fn new(inventory: Arc<Inventory>) -> State {
        let zones = inventory_zones(&inventory);
        let resolvers = inventory.resolvers.len();
        let vantages = vec![VantageState::default(); inventory.vantages.len()];
        let hosts = inventory
            .hosts
            .iter()
            .map(|config| HostState {
                dns: vec![None; resolvers],
                services: vec![None; config.services.len()],
                remote: vec![None; inventory.vantages.len()],
                ..HostState::default()
            })
            .collect();
        State {
            inventory,
            hosts,
            ping_mode: None,
            ping_hint: None,
            checklist: ChecklistDoc::new(),
            warnings: Vec::new(),
            orphans: (0, Vec::new()),
            zones,
            vantages,
            notify: Vec::new(),
        }
    }

    /// Hosts per health, in the order up, degraded, down, unknown.
    pub fn health_counts(&self) -> [usize; 4] {
        let mut counts = [0; 4];
        for h in &self.hosts {
            counts[h.health as usize] += 1;
        }
        counts
    }

    /// True once every host has finished at least one probe round.
    pub fn complete(&self) -> bool {
        self.hosts.iter().all(|h| h.rounds > 0)
    }
}

/// Everything the model is told: the loop's input. Probe reports come from the probes; the
/// rest from the operator, the checklist's sync task and the journal's writer.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Probe(ProbeReport),
    /// An operator ticked, unticked or annotated a checklist item here (applied at once,
    /// before it is on disk).
    ChecklistEvent(ChecklistEvent),
    /// The checklist record as merged with the state file (ours and other processes' ticks).
    ChecklistSynced(Arc<ChecklistDoc>),
    /// Something the operator must see in the status bar (a corrupt state file set aside,
    /// a write that failed, ticks for ids no longer in the inventory).
    Warning(String),
    /// A notification was delivered, or an attempt failed.
    Notify(NotifyNews),
}

impl From<ProbeReport> for Input {
    fn from(report: ProbeReport) -> Input {
        Input::Probe(report)
    }
}

impl From<SyncNews> for Input {
    fn from(news: SyncNews) -> Input {
        match news {
            SyncNews::Record(doc) => Input::ChecklistSynced(doc),
            SyncNews::Warning(text) => Input::Warning(text),
        }
    }
}

/// Applies one input. Returns whether anything visible changed (the UI redraws only then).
pub fn reduce(state: &mut State, input: impl Into<Input>) -> bool {
    match input.into() {
        Input::Probe(report) => reduce_probe(state, report),
        Input::ChecklistEvent(event) => state.checklist.apply(&event),
        Input::ChecklistSynced(doc) => reduce_synced(state, &doc),
        Input::Warning(text) => warn(state, text),
        Input::Notify(news) => notify::reduce_notify(state, &news),
    }
}

fn reduce_probe(state: &mut State, report: ProbeReport) -> bool {
    match report {
        ProbeReport::PingMode { mode, hint } => {
            let changed = state.ping_mode != Some(mode) || state.ping_hint != hint;
            state.ping_mode = Some(mode);
            state.ping_hint = hint;
            changed
        }
        ProbeReport::Zone { at, outcome } => reduce_zone(state, at, outcome),
        ProbeReport::NamesCurrent {
            zone,
            resolver,
            primary,
            at,
        } => names_current(state, zone, resolver, primary, at),
        ProbeReport::Delegation { at, outcome } => reduce_delegation(state, at, outcome),
        ProbeReport::Canary { zone, run, event } => canary::reduce_canary(state, zone, &run, event),
        ProbeReport::RoundDone { host, .. } => match state.hosts.get_mut(host) {
            Some(h) => {
                h.rounds += 1;
                h.rounds == 1
            }
            None => false,
        },
        ProbeReport::Probe { host, at, outcome } => reduce_outcome(state, host, at, outcome),
        ProbeReport::Vantage { at, outcome } => vantage::reduce_vantage(state, at, outcome),
    }
}

/// The checklist record as the state file has it: its records of the inventory's items
/// merged into ours, and the ids the inventory no longer has reported.
fn reduce_synced(state: &mut State, doc: &ChecklistDoc) -> bool {
    let items = &state.inventory.checklist;
    let mut changed = state.checklist.merge_items_from(doc, items);
    let orphans = doc.orphan_summary(items, ORPHANS_SHOWN);
    if orphans != state.orphans {
        let (count, first) = &orphans;
        if *count > 0 {
            warn(
                state,
                format!(
                    "the state file has ticks for ids no longer in the inventory (kept): {}",
                    first_few(first, *count)
                ),
            );
        }
        state.orphans = orphans;
        changed = true;
    }
    changed
}

/// How many orphan ids the status bar names.
const ORPHANS_SHOWN: usize = 8;

/// `a, b, c and 997 more`: the first few of a list of `count` that may be very long.
fn first_few(first: &[String], count: usize) -> String {
    let mut text = first.join(", ");
    if count > first.len() {
        text.push_str(&format!(" and {} more", count - first.len()));
    }
    text
}

/// A zone server's answers about the zone's names still hold at `at`: their cells' time
/// moves on.
fn names_current(
    state: &mut State,
    zone: usize,
    resolver: ResolverId,
    primary: bool,
    at: SystemTime,
) -> bool {
    let inv = &state.inventory;
    let mut changed = false;
    for (config, h) in inv.hosts.iter().zip(state.hosts.iter_mut()) {
        if inv.zone_of(&config.fqdn) != Some(zone) {
            continue;
        }
        if let Some(Some(seen)) = h.dns.get_mut(resolver) {
            changed |= seen.at != at;
            seen.at = at;
        }
        if let (true, Some(seen)) = (primary, h.primary.as_mut()) {
            changed |= seen.at != at;
            seen.at = at;
        }
    }
    changed
}

/// One probe's outcome for one host: the latest value, flap damping, and the host's health.
fn reduce_outcome(state: &mut State, host: HostId, at: SystemTime, outcome: Outcome) -> bool {
    let Some(config) = state.inventory.hosts.get(host) else {
        return false;
    };
    let Some(h) = state.hosts.get_mut(host) else {
        return false;
    };
    let before = h.clone();
    record_outcome(h, at, outcome, config.damping);
    let (health, _) = health(config, h);
    if health != h.health {
        h.health = health;
        h.health_since = Some(at);
    }
    *h != before
}

fn record_outcome(h: &mut HostState, at: SystemTime, outcome: Outcome, cfg: Damping) {
    match outcome {
        Outcome::Target(value) => {
            // A new address is a new history: its checks start undamped.
            let ip = |t: &Option<Seen<Result<Target, ProbeError>>>| {
                t.as_ref().and_then(|s| s.value.as_ref().ok()).map(|t| t.ip)
            };
            let new = Some(Seen { at, value });
            if ip(&h.target).is_some() && ip(&h.target) != ip(&new) {
                h.damp.clear();
            }
            h.target = new;
        }
        Outcome::Ping(p) => {
            // Loss is about one address: when the target moves (the hosts file was
            // fixed, DNS flipped), the pings to the old one stop counting.
            if h.ping.as_ref().is_some_and(|last| last.value.ip != p.ip) {
                h.ping_window.clear();
            }
            if h.ping_window.len() == PING_WINDOW {
                h.ping_window.pop_front();
            }
            h.ping_window.push_back(p.result.as_ref().ok().copied());
            observe(h, Check::Ping, p.result.is_ok(), cfg);
            h.ping = Some(Seen { at, value: p });
        }
        Outcome::Ssh(s) => {
            observe(h, Check::Ssh, s.result.is_ok(), cfg);
            h.ssh = Some(Seen { at, value: s });
        }
        Outcome::Http(x) => {
            observe(h, Check::Http, x.is_ok(), cfg);
            h.http = Some(Seen { at, value: x });
        }
        Outcome::Ports(p) => {
            for port in &p.ports {
                let open = port.state == PortState::Open;
                observe(h, Check::Port(port.port), open, cfg);
            }
            h.ports = Some(Seen { at, value: p });
        }
        Outcome::Service(svc) => {
            let ok = svc.result.state != ServiceState::Fail;
            observe(h, Check::Service(svc.service), ok, cfg);
            if let Some(slot) = h.services.get_mut(svc.service) {
                *slot = Some(Seen { at, value: svc });
            }
        }
        Outcome::Old(old) => h.old = Some(Seen { at, value: old }),
        Outcome::Dns(DnsOutcome { resolver, result }) => {
            if let Some(slot) = h.dns.get_mut(resolver) {
                *slot = Some(Seen { at, value: result });
            }
        }
        Outcome::HostsFile(f) => {
            h.hosts_file = Some(Seen {
                at,
                value: f.result,
            });
        }
        Outcome::Ptr(p) => h.ptr = Some(Seen { at, value: p }),
        Outcome::PrimaryAnswer(a) => h.primary = Some(Seen { at, value: a }),
        Outcome::Mail(m) => h.mail = Some(Seen { at, value: m }),
        Outcome::Dnsbl(d) => h.dnsbl = Some(Seen { at, value: d }),
    }
}

/// One check of a host, as flap damping tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    Ping,
    Ssh,
    Http,
    Port(u16),
    /// Index into the host's `services`.
    Service(usize),
}

fn observe(h: &mut HostState, check: Check, ok: bool, cfg: Damping) {
    h.damp.entry(check).or_default().observe(ok, cfg);
}

fn inventory_zones(inv: &Inventory) -> Vec<ZoneState> {
    inv.zones
        .iter()
        .map(|z| ZoneState {
            servers: vec![ZoneServerState::default(); 1 + z.secondaries.len()],
            delegation: None,
            canary: None,
        })
        .collect()
}

/// The SOA serial a zone server reported last, if any.
fn serial_of(server: &ZoneServerState) -> Option<u32> {
    match &server.latest.as_ref()?.value.result {
        Ok(answer) => answer.serial,
        Err(_) => None,
    }
}

fn reduce_zone(state: &mut State, at: SystemTime, outcome: ZoneOutcome) -> bool {
    let Some(zone) = state.zones.get_mut(outcome.zone) else {
        return false;
    };
    let before = zone.clone();
    let Some(slot) = zone.servers.get_mut(outcome.server) else {
        return false;
    };
    slot.latest = Some(Seen { at, value: outcome });
    // Re-judge every secondary against the primary's serial: either side may have moved.
    let primary = zone.servers.first().and_then(serial_of);
    for server in zone.servers.iter_mut().skip(1) {
        let behind = match (primary, serial_of(server)) {
            (Some(p), Some(s)) => serial_cmp(s, p) == Some(std::cmp::Ordering::Less),
            _ => false,
        };
        if behind {
            server.behind_since.get_or_insert(at);
        } else {
            server.behind_since = None;
        }
    }
    *zone != before
}

/// A zone's delegation was asked: the latest is kept (what it means is [`delegation`]).
/// Visible only when the answers changed.
fn reduce_delegation(state: &mut State, at: SystemTime, outcome: DelegationOutcome) -> bool {
    let Some(zone) = state.zones.get_mut(outcome.zone) else {
        return false;
    };
    let changed = zone
        .delegation
        .as_ref()
        .is_none_or(|seen| seen.value != outcome);
    zone.delegation = Some(Seen { at, value: outcome });
    changed
}

/// Compares two SOA serials with RFC 1982 serial number arithmetic (32-bit): `None` when
/// they are exactly 2^31 apart, where the order is undefined.
pub fn serial_cmp(a: u32, b: u32) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if a == b {
        return Some(Ordering::Equal);
    }
    let diff = b.wrapping_sub(a);
    match diff.cmp(&(1u32 << 31)) {
        Ordering::Less => Some(Ordering::Less),
        Ordering::Greater => Some(Ordering::Greater),
        Ordering::Equal => None,
    }
}

/// When old answers may still be served for host `host`: for every resolver answering old,
/// observation time + TTL; the latest of them. `None` when no resolver answers old.
pub fn old_until(state: &State, host: usize) -> Option<std::time::SystemTime> {
    let inv = &state.inventory;
    let config = &inv.hosts[host];
    state.hosts[host]
        .dns
        .iter()
        .flatten()
        .filter(|seen| verdict(inv, config, &seen.value) == Verdict::Old)
        .filter_map(|seen| {
            let ttl = seen.value.as_ref().ok()?.ttl;
            Some(seen.at + Duration::from_secs(u64::from(ttl)))
        })
        .max()
}

/// When resolver `resolver` may still serve an old answer for any inventory name.
pub fn resolver_old_until(state: &State, resolver: usize) -> Option<std::time::SystemTime> {
    let inv = &state.inventory;
    inv.hosts
        .iter()
        .enumerate()
        .filter_map(|(i, config)| {
            let seen = state.hosts[i].dns.get(resolver)?.as_ref()?;
            (verdict(inv, config, &seen.value) == Verdict::Old)
                .then(|| seen.value.as_ref().ok())
                .flatten()
                .map(|a| seen.at + Duration::from_secs(u64::from(a.ttl)))
        })
        .max()
}

/// One cell of the resolver matrix, as the screen and `moveday dns` show it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// No answer yet.
    Waiting,
    /// A zone server added for its zones is not asked about names outside them.
    NotAsked,
    /// The system column when this machine's hosts file has the name: the operating system
    /// answers from the file, not from DNS (the post-mortem's trap).
    HostsFile {
        entry: &'a HostsEntry,
        verdict: Verdict,
    },
    Answer {
        seen: &'a Seen<Result<DnsAnswer, DnsError>>,
        verdict: Verdict,
        /// The server is a primary or secondary of the name's zone and answered without
        /// the AA flag, or refused: lame.
        lame: bool,
    },
}

/// Whether `host` sends mail (`role = "mail"`, `"mx"` or `"smtp"`): reverse DNS that does
/// not resolve back gets its mail deferred or rejected by the big providers.
pub fn is_mail(host: &HostConfig) -> bool {
    host.is_mail()
}

/// The reverse-DNS problem of a mail host, in a few words (`None`: fine, not a mail host,
/// or not probed yet).
pub fn mail_ptr_alarm(state: &State, host: usize) -> Option<String> {
    ptr_alarm(&state.inventory.hosts[host], &state.hosts[host])
}

fn ptr_alarm(config: &HostConfig, h: &HostState) -> Option<String> {
    if !is_mail(config) {
        return None;
    }
    match &h.ptr.as_ref()?.value.result {
        Ok(a) if a.forward_confirmed => None,
        Ok(a) => Some(format!(
            "PTR {} does not resolve back",
            a.names.first().map_or("?", String::as_str)
        )),
        Err(e) => Some(format!("no PTR ({e})")),
    }
}

/// The latest answer of server `server` (0: the primary) of zone `zone`.
pub fn zone_answer(state: &State, zone: usize, server: usize) -> Option<&ZoneOutcome> {
    state
        .zones
        .get(zone)?
        .servers
        .get(server)?
        .latest
        .as_ref()
        .map(|seen| &seen.value)
}

/// A zone server's SOA serial: `Ok(None)` before the first answer or when the answer
/// carried no SOA, `Err` with the failure.
pub fn zone_serial(state: &State, zone: usize, server: usize) -> Result<Option<u32>, String> {
    match zone_answer(state, zone, server).map(|o| &o.result) {
        None => Ok(None),
        Some(Ok(a)) => Ok(a.serial),
        Some(Err(e)) => Err(e.to_string()),
    }
}

/// A zone server's AA flag on its SOA answer (`None`: no answer).
pub fn zone_authoritative(state: &State, zone: usize, server: usize) -> Option<bool> {
    zone_answer(state, zone, server)?
        .result
        .as_ref()
        .ok()
        .map(|a| a.authoritative)
}

/// Whether every server of `zone` that returned an NS set returns the same one (`None`: no
/// server returned one yet, so there is nothing to agree or disagree about).
pub fn ns_agree(state: &State, zone: usize) -> Option<bool> {
    let servers = state.zones.get(zone)?.servers.len();
    let mut sets = (0..servers)
        .filter_map(|i| zone_answer(state, zone, i)?.result.as_ref().ok())
        .map(|a| &a.ns)
        .filter(|ns| !ns.is_empty());
    let first = sets.next()?;
    Some(sets.all(|s| s == first))
}

/// The matrix cell of `host`'s name at `resolver`.
pub fn cell(state: &State, host: usize, resolver: usize) -> Cell<'_> {
    let inv = &state.inventory;
    let config = &inv.hosts[host];
    let Some(rc) = inv.resolvers.get(resolver) else {
        return Cell::Waiting;
    };
    if rc.kind == crate::config::ResolverKind::System
        && let Some(Seen {
            value: Ok(entries), ..
        }) = &state.hosts[host].hosts_file
        && let Some(entry) = entries.first()
    {
        let verdict = match classify(inv, config, entry.ip) {
            AddressClass::New => Verdict::New,
            AddressClass::Old => Verdict::Old,
            AddressClass::Other => Verdict::Other,
        };
        return Cell::HostsFile { entry, verdict };
    }
    let serves = inv
        .zone_of(&config.fqdn)
        .is_some_and(|z| rc.serves.contains(&z));
    match state.hosts[host].dns.get(resolver) {
        Some(Some(seen)) => Cell::Answer {
            seen,
            verdict: verdict(inv, config, &seen.value),
            lame: serves
                && match &seen.value {
                    Ok(a) => a.authoritative == Some(false),
                    Err(e) => *e == DnsError::Refused,
                },
        },
        _ if rc.implied && !serves => Cell::NotAsked,
        _ => Cell::Waiting,
    }
}

/// Adds a warning for the status bar, unless it repeats the newest one.
fn warn(state: &mut State, text: String) -> bool {
    if state.warnings.last() == Some(&text) {
        return false;
    }
    if state.warnings.len() == MAX_WARNINGS {
        state.warnings.remove(0);
    }
    state.warnings.push(text);
    true
}

/// A host's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Every configured probe answers.
    Up = 0,
    /// Some probes answer, some do not.
    Degraded = 1,
    /// Nothing answers.
    Down = 2,
    /// Not every probe has reported yet.
    #[default]
    Unknown = 3,
}

impl Health {
    pub const ALL: [Health; 4] = [Health::Up, Health::Degraded, Health::Down, Health::Unknown];

    pub fn word(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Degraded => "degraded",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }

    /// A symbol that tells the states apart without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Health::Up => "●",
            Health::Degraded => "◐",
            Health::Down => "✖",
            Health::Unknown => "?",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Health from a host's latest probes, with the reasons for anything short of `up`.
///
/// DNS and the hosts file do not count here: they describe the names, not the machine,
/// and are flagged in their own columns.
pub fn health(config: &HostConfig, h: &HostState) -> (Health, Vec<String>) {
    if let Some(Seen { value: Err(e), .. }) = &h.target {
        return (Health::Down, vec![format!("no address: {e}")]);
    }
    let checks = checks(config);
    if checks.is_empty() {
        return (Health::Unknown, vec!["no probes configured".into()]);
    }
    let damp = |c: &Check| h.damp.get(c).copied().unwrap_or_default();
    if checks.iter().any(|c| damp(c).state == Damped::Unknown) {
        return (Health::Unknown, vec!["waiting for first results".into()]);
    }
    let mut reasons = Vec::new();
    let mut down = 0;
    let mut amber = false;
    for check in &checks {
        let d = damp(check);
        match d.state {
            Damped::Down => {
                down += 1;
                reasons.push(failure_reason(config, h, *check));
            }
            Damped::Suspect { .. } | Damped::Recovering { .. } => {
                amber = true;
                let note = d.note(config.damping).unwrap_or_default();
                reasons.push(format!("{}: {note}", check_name(config, *check)));
            }
            Damped::Up | Damped::Unknown => {}
        }
    }
    // Answering, but not right: stale content, a certificate about to expire.
    for (i, slot) in h.services.iter().enumerate() {
        if let Some(Seen { value, .. }) = slot
            && matches!(value.result.state, ServiceState::Stale | ServiceState::Warn)
            && damp(&Check::Service(i)).state == Damped::Up
        {
            amber = true;
            let why = value
                .result
                .error
                .as_deref()
                .unwrap_or(value.result.state.word());
            // "planet stale: updated 3d ago", "cert: certificate expires in 5 days".
            let sep = if why.starts_with(value.result.state.word()) {
                " "
            } else {
                ": "
            };
            reasons.push(format!(
                "{}{sep}{why}",
                check_name(config, Check::Service(i))
            ));
        }
    }
    let mut health = if down == checks.len() {
        Health::Down
    } else if down > 0 || amber {
        Health::Degraded
    } else {
        Health::Up
    };
    // A mail host that answers but whose reverse DNS does not resolve back gets its mail
    // deferred by the big providers: degraded, with the reason.
    if let Some(alarm) = ptr_alarm(config, h) {
        reasons.push(format!("mail: {alarm}"));
        if health == Health::Up {
            health = Health::Degraded;
        }
    }
    // SPF that does not pass, a listing, an MX still on the old address: receivers defer
    // or reject (degraded). A HELO name that is not the PTR: some may (a reason only).
    for problem in mail::mail_view(config, h)
        .map(|v| v.problems)
        .unwrap_or_default()
    {
        if problem.weight == mail::MailWeight::Degraded && health == Health::Up {
            health = Health::Degraded;
        }
        reasons.push(format!("mail: {}", problem.words));
    }
    // Another vantage point sees it otherwise: is it this laptop, or them?
    if let Some((why, degrades)) = vantage::disagreement(h, health) {
        if degrades && health == Health::Up {
            health = Health::Degraded;
        }
        reasons.push(why);
    }
    (health, reasons)
}

/// Every check configured for a host, in display order.
pub fn checks(config: &HostConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    if config.ping {
        checks.push(Check::Ping);
    }
    if config.ssh.is_some() {
        checks.push(Check::Ssh);
    }
    if config.http.is_some() {
        checks.push(Check::Http);
    }
    checks.extend(config.ports.iter().map(|&p| Check::Port(p)));
    checks.extend((0..config.services.len()).map(Check::Service));
    checks
}

/// A check's name in a reason: `ping`, `ssh`, `http`, `port 80`, the service's name.
pub fn check_name(config: &HostConfig, check: Check) -> String {
    match check {
        Check::Ping => "ping".into(),
        Check::Ssh => "ssh".into(),
        Check::Http => "http".into(),
        Check::Port(p) => format!("port {p}"),
        Check::Service(i) => config
            .services
            .get(i)
            .map_or_else(|| format!("service {i}"), |s| s.name.clone()),
    }
}

/// Why a red check is red, in a few words.
fn failure_reason(config: &HostConfig, h: &HostState, check: Check) -> String {
    let name = check_name(config, check);
    match check {
        Check::Ping => match h.ping.as_ref().map(|p| &p.value.result) {
            Some(Err(e)) => format!("{name} {}", e.word()),
            _ => name,
        },
        Check::Ssh => match h.ssh.as_ref().map(|s| &s.value.result) {
            Some(Err(e)) => format!("{name} {}", e.word()),
            _ => name,
        },
        Check::Http => match h.http.as_ref().map(|x| &x.value.result) {
            Some(Ok(r)) => format!("{name} {}", r.status),
            // "http error" alone says nothing: the certificate or protocol error does.
            Some(Err(ProbeError::Io(m) | ProbeError::Protocol(m))) => {
                format!("{name}: {}", crate::sanitize::sanitize(m, 80))
            }
            Some(Err(e)) => format!("{name} {}", e.word()),
            None => name,
        },
        Check::Port(port) => {
            let state = h
                .ports
                .as_ref()
                .and_then(|p| p.value.ports.iter().find(|r| r.port == port))
                .map(|r| r.state);
            // Dropped while the host answers otherwise: most likely a firewall rule.
            let answers = h.ping.as_ref().is_some_and(|p| p.value.result.is_ok())
                || h.ssh.as_ref().is_some_and(|s| s.value.result.is_ok())
                || h.ports
                    .as_ref()
                    .is_some_and(|p| p.value.ports.iter().any(|r| r.state == PortState::Open));
            match state {
                Some(PortState::Filtered) if answers => format!("{name} filtered (ACL?)"),
                Some(s) => format!("{name} {}", s.word()),
                None => name,
            }
        }
        Check::Service(i) => match h.services.get(i).and_then(Option::as_ref) {
            Some(Seen { value, .. }) => format!(
                "{name}: {}",
                value
                    .result
                    .error
                    .as_deref()
                    .unwrap_or(value.result.state.word())
            ),
            None => name,
        },
    }
}

/// Latest RTT and loss (0.0..=1.0) over the ping window.
pub fn ping_stats(h: &HostState) -> Option<(Option<Duration>, f64)> {
    if h.ping_window.is_empty() {
        return None;
    }
    let lost = h.ping_window.iter().filter(|r| r.is_none()).count();
    let loss = lost as f64 / h.ping_window.len() as f64;
    let last = h.ping_window.back().copied().flatten();
    Some((last, loss))
}

/// What one resolver's answer means for the move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Points at the new address.
    New,
    /// At least one address is the old one: clients may still go to the old datacenter.
    Old,
    /// Neither old nor new.
    Other,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists, without an A or AAAA record (NOERROR, no data): not the same thing.
    NoData,
    Timeout,
    Refused,
    Error,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::New => "new",
            Verdict::Old => "old",
            Verdict::Other => "other",
            Verdict::NxDomain => "nxdomain",
            Verdict::NoData => "nodata",
            Verdict::Timeout => "timeout",
            Verdict::Refused => "refused",
            Verdict::Error => "error",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Verdict::New => "✔",
            Verdict::Old => "⚠",
            Verdict::Other => "≠",
            Verdict::NxDomain
            | Verdict::NoData
            | Verdict::Refused
            | Verdict::Error
            | Verdict::Timeout => "✖",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// Where an address stands in the move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressClass {
    New,
    Old,
    Other,
}

/// Whether `ip` is the host's old or new address (exactly, or inside the move's networks).
pub fn classify(inv: &Inventory, host: &HostConfig, ip: IpAddr) -> AddressClass {
    if host.new_ip == Some(ip) {
        AddressClass::New
    } else if host.old_ip == Some(ip) {
        AddressClass::Old
    } else {
        classify_in_networks(inv, ip)
    }
}

/// Whether `ip` is inside the move's new or old network.
pub fn classify_in_networks(inv: &Inventory, ip: IpAddr) -> AddressClass {
    if inv.new_network.is_some_and(|n| n.contains(&ip)) {
        AddressClass::New
    } else if inv.old_network.is_some_and(|n| n.contains(&ip)) {
        AddressClass::Old
    } else {
        AddressClass::Other
    }
}

/// The verdict for one resolver's answer.
pub fn verdict(
    inv: &Inventory,
    host: &HostConfig,
    answer: &Result<DnsAnswer, DnsError>,
) -> Verdict {
    match answer {
        Ok(a) => {
            let classes: Vec<AddressClass> = a
                .addresses
                .iter()
                .map(|ip| classify(inv, host, *ip))
                .collect();
            if classes.contains(&AddressClass::Old) {
                Verdict::Old
            } else if !classes.is_empty() && classes.iter().all(|c| *c == AddressClass::New) {
                Verdict::New
            } else {
                Verdict::Other
            }
        }
        Err(DnsError::NxDomain) => Verdict::NxDomain,
        Err(DnsError::NoRecords) => Verdict::NoData,
        Err(DnsError::Timeout) => Verdict::Timeout,
        Err(DnsError::Refused) => Verdict::Refused,
        Err(DnsError::Other(_)) => Verdict::Error,
    }
}

/// How the hosts file's entry for a host compares with DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostsFlag {
    /// No entry: the name goes to DNS.
    Absent,
    /// An entry that matches what DNS answers.
    Agrees,
    /// An entry that differs from DNS (or DNS has no answer to compare with yet).
    Disagrees,
    /// An entry that points at the old address: the post-mortem's trap.
    Old,
    /// The file could not be read.
    Unreadable,
}

impl HostsFlag {
    pub fn word(self) -> &'static str {
        match self {
            HostsFlag::Absent => "-",
            HostsFlag::Agrees => "agrees",
            HostsFlag::Disagrees => "differs",
            HostsFlag::Old => "OLD IP",
            HostsFlag::Unreadable => "unread",
        }
    }
}

/// The addresses DNS gives for a host: the system resolver's answer when it has one,
/// otherwise every resolver's addresses together.
pub fn dns_addresses(state: &State, host: usize) -> Vec<IpAddr> {
    let h = &state.hosts[host];
    let answers = || {
        h.dns
            .iter()
            .zip(&state.inventory.resolvers)
            .filter_map(|(slot, r)| match slot {
                Some(Seen { value: Ok(a), .. }) => Some((r, a)),
                _ => None,
            })
    };
    if let Some((_, a)) = answers().find(|(r, _)| r.kind == crate::config::ResolverKind::System) {
        return a.addresses.clone();
    }
    let mut all: Vec<IpAddr> = answers().flat_map(|(_, a)| a.addresses.clone()).collect();
    all.sort();
    all.dedup();
    all
}

/// Compares the hosts file's entry for `host` with DNS.
pub fn hosts_flag(state: &State, host: usize) -> Option<HostsFlag> {
    let h = &state.hosts[host];
    let config = &state.inventory.hosts[host];
    let entries = match &h.hosts_file.as_ref()?.value {
        Err(_) => return Some(HostsFlag::Unreadable),
        Ok(e) if e.is_empty() => return Some(HostsFlag::Absent),
        Ok(e) => e,
    };
    if entries
        .iter()
        .any(|e| classify(&state.inventory, config, e.ip) == AddressClass::Old)
    {
        return Some(HostsFlag::Old);
    }
    let mut file: Vec<IpAddr> = entries.iter().map(|e| e.ip).collect();
    file.sort();
    file.dedup();
    let dns = dns_addresses(state, host);
    if !dns.is_empty() && file == dns {
        Some(HostsFlag::Agrees)
    } else {
        Some(HostsFlag::Disagrees)
    }
}

#[cfg(test)]
mod tests;
