//! `moveday report`: the post-mortem draft, built from the journal.
//!
//! [`build`] replays the journal (sorted by time) into a [`PostMortem`]: plain facts with
//! UTC times, which `--format json` prints as they are and [`markdown`] writes as a post
//! for a mailing list, in local time. With a `since` time, what happened before it only
//! sets the scene: periods are cut at `since` and lists start there.

mod canary;
mod delegation;
mod escape;
mod hosts;
mod mail;
mod markdown;
mod names;
mod notify;
mod open;
mod vantage;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Local, NaiveTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::{
    AddressKind, CanaryStep, CheckState, DnsVerdict, Entry, Event, GlueKind, HostHealth, StartItem,
};
use crate::checklist::ChecklistDoc;
use crate::config::Inventory;
use crate::schema::SchemaVersion;

pub use canary::{CanaryRunReport, CanarySecondaryReport};
pub use escape::json;
pub use mail::{ListingReport, MailReport, SpfReport};
pub use markdown::{TimeZoneChoice, markdown, markdown_in};
pub use notify::NotifyReport;
pub use vantage::{VantageHostReport, VantageReport};

/// The report, as facts. Times are UTC; durations in seconds.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PostMortem {
    pub schema: SchemaVersion,
    /// `moveday-report/1`.
    pub format: &'static str,
    pub name: String,
    /// The journal read.
    pub journal: String,
    /// Events read from it.
    pub events: usize,
    /// What the report covers: from `since` (or the first event) to the last event.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub since: Option<DateTime<Utc>>,
    /// Each time a moveday watched (from its `start` to its `stop`, if any).
    pub runs: Vec<Run>,
    pub window: Window,
    pub all_green: AllGreen,
    pub hosts: Vec<HostReport>,
    pub dns: Vec<NameReport>,
    pub zones: Vec<ZoneReport>,
    /// Every canary run (`moveday canary`, `C`), in time order.
    pub canaries: Vec<CanaryRunReport>,
    /// Each mail host's SPF and blocklist listings.
    pub mail: Vec<MailReport>,
    /// Each vantage point: when it first saw each host up.
    pub vantages: Vec<VantageReport>,
    /// Each notification endpoint: delivered, late, still waiting.
    pub notifications: Vec<NotifyReport>,
    pub checklist: ChecklistReport,
    pub notes: Vec<NoteReport>,
    pub still_open: Vec<OpenItem>,
    /// Lines of the journal that were skipped, and other problems reading the sources.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Run {
    pub start: DateTime<Utc>,
    /// `None`: no `stop` was written (the process was killed, or still runs).
    pub stop: Option<DateTime<Utc>>,
    pub who: Option<String>,
    pub pid: Option<u32>,
}

/// The advertised downtime window.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Window {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// When every host was up at once.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct AllGreen {
    pub hosts: usize,
    /// When the move started: the first time a host went down.
    pub move_started: Option<DateTime<Utc>>,
    /// The first time every host was up once the move had started (or at all, when no
    /// host ever went down).
    pub first: Option<DateTime<Utc>>,
    /// Every host was already up when the report starts (`since`).
    pub already: bool,
    /// Every host up at the end, since this time.
    pub since: Option<DateTime<Utc>>,
    /// Periods when they were all up.
    pub periods: Vec<Span>,
}

/// A stretch of time within the report.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub seconds: i64,
    /// Still so at the end of the journal.
    pub ongoing: bool,
    /// Already so when the report starts (it began before `since`, or before the first
    /// event).
    pub clipped: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostReport {
    pub name: String,
    pub fqdn: String,
    pub health_at_end: Option<HostHealth>,
    pub reasons_at_end: Vec<String>,
    /// Every health the host had, in order (`unknown` does not count: it only means a
    /// moveday had just started or the target had just moved).
    pub periods: Vec<HealthPeriod>,
    /// The first time it went down.
    pub went_down: Option<DateTime<Utc>>,
    /// The end of its last outage (answering again), when it ended.
    pub came_back: Option<DateTime<Utc>>,
    /// The first time it was up after going down (or at all, if it never went down).
    pub first_green: Option<DateTime<Utc>>,
    /// Up at the end, since then.
    pub up_since: Option<DateTime<Utc>>,
    /// Time spent down.
    pub downtime_seconds: i64,
    /// Time spent down or degraded.
    pub not_up_seconds: i64,
    pub checks: Vec<CheckReport>,
    pub targets: Vec<TargetChange>,
    /// Periods when this machine's hosts file had an entry for the host.
    pub hosts_file: Vec<HostsFilePeriod>,
    /// Periods when the old address answered (`probe_old`).
    pub old_answering: Vec<OldPeriod>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HealthPeriod {
    pub health: HostHealth,
    #[serde(flatten)]
    pub span: Span,
    pub reasons: Vec<String>,
}

/// One check's history: what it saw, when, and when it first worked on the new address.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckReport {
    pub check: String,
    pub first_worked: Option<DateTime<Utc>>,
    pub first_worked_new: Option<DateTime<Utc>>,
    pub state_at_end: Option<CheckState>,
    pub result_at_end: Option<String>,
    pub history: Vec<CheckPeriod>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckPeriod {
    /// `ok`, `timeout`, `refused`, `filtered`, `open`, `200`, `stale`, ...
    pub result: String,
    pub ip: Option<std::net::IpAddr>,
    pub address: Option<AddressKind>,
    #[serde(flatten)]
    pub span: Span,
    /// A failure that flap damping absorbed: it passed again before turning red.
    pub blip: bool,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TargetChange {
    pub at: DateTime<Utc>,
    pub ip: Option<std::net::IpAddr>,
    pub source: Option<String>,
    pub address: Option<AddressKind>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostsFilePeriod {
    pub addresses: Vec<std::net::IpAddr>,
    pub lines: Vec<usize>,
    pub address: Option<AddressKind>,
    #[serde(flatten)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OldPeriod {
    pub ip: std::net::IpAddr,
    pub detail: Option<String>,
    #[serde(flatten)]
    pub span: Span,
}

/// A host's name at every resolver.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NameReport {
    pub host: String,
    pub fqdn: String,
    pub resolvers: Vec<ResolverReport>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResolverReport {
    pub resolver: String,
    /// When it first served the new address.
    pub first_new: Option<DateTime<Utc>>,
    pub verdict_at_end: Option<DnsVerdict>,
    pub addresses_at_end: Vec<std::net::IpAddr>,
    pub history: Vec<DnsChange>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DnsChange {
    pub at: DateTime<Utc>,
    pub verdict: DnsVerdict,
    pub addresses: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ZoneReport {
    pub zone: String,
    /// The primary's serials, with when each was first seen.
    pub primary: Option<String>,
    pub primary_serials: Vec<SerialChange>,
    pub secondaries: Vec<SecondaryReport>,
    /// The zone's delegation at its parent (`null` when the journal has none).
    pub delegation: Option<DelegationReport>,
}

/// A zone's delegation at its parent over the report.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct DelegationReport {
    /// The first time the parent agreed with the zone and every glue was new.
    pub first_ok: Option<DateTime<Utc>>,
    pub ok_at_end: bool,
    /// What was wrong at the end, in words, the worst first.
    pub problems_at_end: Vec<String>,
    /// Why the parent's servers were not known at the end.
    pub error_at_end: Option<String>,
    /// One per glue name, by first appearance.
    pub glue: Vec<GlueReport>,
}

/// The parent's glue for one NS name over the report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GlueReport {
    pub name: String,
    /// When the parent's glue first pointed at the new address (`new`).
    pub first_new: Option<DateTime<Utc>>,
    /// Its addresses then.
    pub new_addresses: Vec<std::net::IpAddr>,
    pub verdict_at_end: GlueKind,
    pub addresses_at_end: Vec<std::net::IpAddr>,
    pub history: Vec<GlueChange>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GlueChange {
    pub at: DateTime<Utc>,
    pub verdict: GlueKind,
    pub addresses: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SerialChange {
    pub at: DateTime<Utc>,
    pub serial: Option<u32>,
    /// Already the serial when the report starts.
    pub clipped: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SecondaryReport {
    pub server: String,
    pub contact: Option<String>,
    /// Periods behind the primary.
    pub behind: Vec<LagPeriod>,
    /// Periods it did not answer.
    pub failing: Vec<FailPeriod>,
    pub serial_at_end: Option<u32>,
    pub behind_at_end: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LagPeriod {
    /// Its serial and the primary's when it fell behind.
    pub serial: Option<u32>,
    pub primary_serial: Option<u32>,
    #[serde(flatten)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailPeriod {
    pub error: String,
    #[serde(flatten)]
    pub span: Span,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ChecklistReport {
    /// Ticks and unticks in the order they were made.
    pub ticks: Vec<TickReport>,
    /// Items no one ever ticked.
    pub never_ticked: Vec<StartItem>,
    /// Items not ticked at the end (never ticked, or unticked again).
    pub not_done: Vec<StartItem>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TickReport {
    pub at: DateTime<Utc>,
    pub id: String,
    pub phase: Option<String>,
    pub text: Option<String>,
    pub done: bool,
    pub who: String,
    pub forced: bool,
    pub evidence: Option<String>,
    /// Found in the checklist's state file, not in the journal (`moveday tick`).
    pub from_state_file: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NoteReport {
    pub at: DateTime<Utc>,
    pub who: String,
    pub text: String,
    pub host: Option<String>,
    /// The checklist item, for a note on one.
    pub item: Option<String>,
}

/// Something not green at the end.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OpenItem {
    /// `host`, `dns`, `hosts_file`, `old_address`, `zone`, `delegation`, `canary`, `mail`,
    /// `notify` or
    /// `checklist`.
    pub kind: &'static str,
    pub subject: String,
    pub text: String,
}

/// Where the report's facts come from besides the journal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// Names the hosts and their checks, the window, the plan and the secondaries'
    /// contacts; without it, the journal's last `start` event does.
    pub inventory: Option<&'a Inventory>,
    /// The checklist's state file: ticks and notes made where no journal was written
    /// (`moveday tick`). Only the newest tick and note per item are in it.
    pub state_file: Option<&'a ChecklistDoc>,
}

/// Parses `--since`: an RFC 3339 time, `HH:MM` (or `HH:MM:SS`) today in local time, or a
/// duration ago (`2h`, `90m`, `1h 30m`, optionally followed by `ago`).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.to_utc());
    }
    for format in ["%H:%M", "%H:%M:%S"] {
        if let Ok(time) = NaiveTime::parse_from_str(t, format) {
            let today = now.with_timezone(&Local).date_naive();
            return Local
                .from_local_datetime(&today.and_time(time))
                .earliest()
                .map(|at| at.to_utc())
                .ok_or_else(|| format!("{t} does not exist today in local time"));
        }
    }
    let ago = t.strip_suffix("ago").unwrap_or(t).trim();
    if let Ok(d) = humantime::parse_duration(ago) {
        return chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
            .ok_or_else(|| format!("{t} is too long ago"));
    }
    Err(format!(
        "invalid --since `{}`: expected an RFC 3339 time (2009-12-05T14:00:00+01:00), HH:MM today, or a duration ago (2h)",
        crate::sanitize::sanitize(t, 60)
    ))
}

/// Ticks and notes of the checklist's state file, as journal entries.
pub fn state_file_entries(doc: &ChecklistDoc) -> Vec<Entry> {
    let mut out = Vec::new();
    for (id, record) in &doc.items {
        if let Some(tick) = &record.tick {
            out.push(Entry {
                at: tick.at,
                event: Event::Tick {
                    id: id.clone(),
                    done: tick.done,
                    who: tick.who.clone(),
                    forced: tick.forced,
                    evidence: tick.evidence.clone(),
                },
            });
        }
        if let Some(note) = &record.note {
            out.push(Entry {
                at: note.at,
                event: Event::Note {
                    id: id.clone(),
                    text: note.text.clone(),
                    who: note.who.clone(),
                },
            });
        }
    }
    out
}

/// What the report knows about the move itself.
struct Meta {
    name: String,
    hosts: Vec<(String, String)>,
    checklist: Vec<StartItem>,
    window: Window,
}

fn meta(entries: &[&Entry], inv: Option<&Inventory>) -> Meta {
    let start = entries.iter().rev().find_map(|e| match &e.event {
        Event::Start {
            name,
            hosts,
            window_start,
            window_end,
            checklist,
            ..
        } => Some((name, hosts, window_start, window_end, checklist)),
        _ => None,
    });
    let mut meta = match (inv, start) {
        (Some(inv), _) => Meta {
            name: inv.name.clone(),
            hosts: inv
                .hosts
                .iter()
                .map(|h| (h.name.clone(), h.fqdn.clone()))
                .collect(),
            checklist: inv.checklist.iter().map(StartItem::from).collect(),
            window: Window {
                start: inv.window_start.or(start.and_then(|s| *s.2)),
                end: inv.window_end.or(start.and_then(|s| *s.3)),
            },
        },
        (None, Some((name, hosts, ws, we, checklist))) => Meta {
            name: name.clone(),
            hosts: hosts
                .iter()
                .map(|h| (h.name.clone(), h.fqdn.clone()))
                .collect(),
            checklist: checklist.clone(),
            window: Window {
                start: *ws,
                end: *we,
            },
        },
        (None, None) => Meta {
            name: "the move".into(),
            hosts: Vec::new(),
            checklist: Vec::new(),
            window: Window::default(),
        },
    };
    // Hosts that appear only in the journal (an older inventory) are reported too.
    for e in entries {
        if let Some(host) = e.host()
            && !meta.hosts.iter().any(|(h, _)| h == host)
        {
            let fqdn = match &e.event {
                Event::Dns { fqdn, .. } => fqdn.clone(),
                _ => String::new(),
            };
            meta.hosts.push((host.to_string(), fqdn));
        }
    }
    meta
}

/// Groups a sequence of changes (in time order) into runs of the same key, each with the
/// time it began and the payloads of its changes.
fn runs<K: PartialEq + Clone, P: Clone>(
    changes: &[(DateTime<Utc>, K, P)],
) -> Vec<(DateTime<Utc>, K, Vec<P>)> {
    let mut out: Vec<(DateTime<Utc>, K, Vec<P>)> = Vec::new();
    for (at, k, p) in changes {
        match out.last_mut() {
            Some((_, last, payloads)) if last == k => payloads.push(p.clone()),
            _ => out.push((*at, k.clone(), vec![p.clone()])),
        }
    }
    out
}

/// Cuts runs to `[from, end]`: runs over before `from` go, the one in force at `from`
/// starts there (`clipped`), the last one is `ongoing` to `end`.
fn clip<K: Clone, P: Clone>(
    runs: Vec<(DateTime<Utc>, K, Vec<P>)>,
    from: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(K, Vec<P>, Span)> {
    let mut out = Vec::new();
    let n = runs.len();
    for i in 0..n {
        let (at, k, ps) = &runs[i];
        let to = runs.get(i + 1).map_or(end, |next| next.0);
        if to < from || (to == from && i + 1 < n) {
            continue;
        }
        let start = (*at).max(from);
        out.push((
            k.clone(),
            ps.clone(),
            Span {
                from: start,
                to,
                seconds: (to - start).num_seconds().max(0),
                ongoing: i + 1 == n,
                clipped: *at < from,
            },
        ));
    }
    out
}

/// [`runs`] then [`clip`], keeping the first payload of each run.
fn spans<K: PartialEq + Clone, P: Clone>(
    changes: &[(DateTime<Utc>, K, P)],
    from: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(K, P, Span)> {
    clip(runs(changes), from, end)
        .into_iter()
        .filter_map(|(k, ps, span)| Some((k, ps.into_iter().next()?, span)))
        .collect()
}

/// Replays the journal into the report's facts. `entries` need not be sorted; `warnings`
/// (from reading the journal) are carried into the report.
///
/// Each section of the report is built on its own from the same [`Replay`]: the runs of
/// moveday here, the hosts and the moment they were all up in [`hosts`], DNS names and
/// zones in [`names`], the checklist and the notes here, and what is still open at the end
/// in [`open`] (from the sections before it).
pub fn build(
    entries: &[Entry],
    sources: Sources<'_>,
    journal: &str,
    since: Option<DateTime<Utc>>,
    warnings: Vec<String>,
) -> PostMortem {
    let events = entries.len();
    // Every text escaped before it is compared or shown: the journal's as they are (a
    // moveday wrote them escaped; hand-written ones may not be), the state file's as the
    // journal writer escapes them, so a note from both is found to be one.
    // (Only the few cleaned ones are copied: a `Cow` each would be an entry's size each.)
    let cleaned: Vec<(usize, Entry)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match escape::cleaned(e, usize::MAX) {
            Cow::Owned(clean) => Some((i, clean)),
            Cow::Borrowed(_) => None,
        })
        .collect();
    let mut read: Vec<&Entry> = entries.iter().collect();
    for (i, clean) in &cleaned {
        read[*i] = clean;
    }
    // The state file's ticks and notes that the journal does not have.
    let extra: Vec<Entry> = sources
        .state_file
        .map(state_file_entries)
        .unwrap_or_default()
        .iter()
        .map(|e| escape::cleaned(e, crate::journal::derive::MAX_TEXT_CHARS).into_owned())
        .collect();
    let all = in_time_order(&read, &extra);
    let sorted: Vec<&Entry> = all.iter().map(|(_, e)| *e).collect();
    let meta = meta(&sorted, sources.inventory);
    let first = sorted.first().map(|e| e.at);
    let end = sorted.last().map(|e| e.at);
    let from = match (since, first) {
        (Some(s), Some(f)) => Some(s.max(f)),
        (s, f) => s.or(f),
    };
    let mut pm = PostMortem {
        schema: SchemaVersion,
        format: "moveday-report/1",
        name: meta.name.clone(),
        journal: journal.to_string(),
        events,
        from,
        to: end,
        since,
        runs: Vec::new(),
        window: meta.window.clone(),
        all_green: AllGreen {
            hosts: meta.hosts.len(),
            ..AllGreen::default()
        },
        hosts: Vec::new(),
        dns: Vec::new(),
        zones: Vec::new(),
        canaries: Vec::new(),
        mail: Vec::new(),
        vantages: Vec::new(),
        notifications: Vec::new(),
        checklist: ChecklistReport::default(),
        notes: Vec::new(),
        still_open: Vec::new(),
        warnings,
    };
    let (Some(from), Some(end)) = (from, end) else {
        return pm;
    };
    let replay = Replay {
        all,
        sorted,
        meta,
        inventory: sources.inventory,
        from,
        end: end.max(from),
    };
    pm.runs = replay.watches();
    let (hosts, health_changes) = replay.hosts();
    pm.hosts = hosts;
    pm.all_green = replay.all_green(health_changes);
    pm.dns = replay.dns(&pm.hosts);
    pm.zones = replay.zones();
    let within: Vec<&Entry> = replay
        .sorted
        .iter()
        .copied()
        .filter(|e| replay.in_range(e.at))
        .collect();
    pm.canaries = canary::canary_runs(&within);
    pm.mail = mail::mail_reports(&replay.sorted, from);
    pm.vantages = vantage::vantage_reports(&replay.sorted, from);
    pm.notifications = notify::notify_reports(&within);
    pm.checklist = replay.checklist();
    pm.notes = replay.notes();
    pm.still_open = open::still_open(&pm);
    pm
}

/// The journal as the report's sections read it: every entry in time order, what is known
/// of the move, and the time the report covers.
struct Replay<'a> {
    /// Every entry in time order, each with whether it was found only in the checklist's
    /// state file.
    all: Vec<(bool, &'a Entry)>,
    /// The same entries, without the flag.
    sorted: Vec<&'a Entry>,
    meta: Meta,
    inventory: Option<&'a Inventory>,
    /// The report's start: `since`, or the first event.
    from: DateTime<Utc>,
    /// The last event (not before `from`).
    end: DateTime<Utc>,
}

/// The journal's entries and the state file's that the journal does not have, in time
/// order; the flag says which came from the state file.
fn in_time_order<'a>(journal: &[&'a Entry], state_file: &'a [Entry]) -> Vec<(bool, &'a Entry)> {
    let mut all: Vec<(bool, &Entry)> = journal.iter().map(|e| (false, *e)).collect();
    // One look-up per state file entry (a scan of the journal for each was quadratic).
    let journaled: std::collections::HashSet<ChecklistKey<'_>> =
        journal.iter().filter_map(|e| checklist_key(e)).collect();
    for e in state_file {
        if !checklist_key(e).is_some_and(|k| journaled.contains(&k)) {
            all.push((true, e));
        }
    }
    all.sort_by_key(|(_, e)| e.at);
    all
}

/// What makes two checklist entries the same event: when, the item, who, and the tick's
/// state or the note's text (`None` for a tick).
type ChecklistKey<'a> = (DateTime<Utc>, &'a str, &'a str, bool, Option<&'a str>);

fn checklist_key(e: &Entry) -> Option<ChecklistKey<'_>> {
    match &e.event {
        Event::Tick { id, done, who, .. } => Some((e.at, id, who, *done, None)),
        Event::Note { id, text, who } => Some((e.at, id, who, false, Some(text))),
        _ => None,
    }
}

impl Replay<'_> {
    /// Within the report (at or after its start).
    fn in_range(&self, at: DateTime<Utc>) -> bool {
        at >= self.from
    }

    /// Each time a moveday watched. Several processes may share a journal: a stop ends the
    /// run of its process.
    fn watches(&self) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for e in &self.sorted {
            match &e.event {
                Event::Start { who, pid, .. } => runs.push(Run {
                    start: e.at,
                    stop: None,
                    who: who.clone(),
                    pid: *pid,
                }),
                Event::Stop { pid, .. } => {
                    let open = runs
                        .iter_mut()
                        .rev()
                        .filter(|r| r.stop.is_none())
                        .find(|r| pid.is_none() || r.pid == *pid || r.pid.is_none());
                    if let Some(run) = open {
                        run.stop = Some(e.at);
                    }
                }
                _ => {}
            }
        }
        runs.retain(|r| r.stop.is_none_or(|at| self.in_range(at)));
        runs
    }

    /// Ticks and unticks (from the journal and the state file), and the items never ticked
    /// or not ticked at the end.
    fn checklist(&self) -> ChecklistReport {
        let item = |id: &str| self.meta.checklist.iter().find(|i| i.id == id);
        let mut latest: HashMap<&str, (DateTime<Utc>, bool)> = HashMap::new();
        let mut ever: BTreeSet<&str> = BTreeSet::new();
        let mut ticks = Vec::new();
        for (from_state_file, e) in &self.all {
            if let Event::Tick {
                id,
                done,
                who,
                forced,
                evidence,
            } = &e.event
            {
                if *done {
                    ever.insert(id);
                }
                let newer = latest.get(id.as_str()).is_none_or(|(at, _)| e.at >= *at);
                if newer {
                    latest.insert(id, (e.at, *done));
                }
                if self.in_range(e.at) {
                    ticks.push(TickReport {
                        at: e.at,
                        id: id.clone(),
                        phase: item(id).map(|i| i.phase.clone()),
                        text: item(id).map(|i| i.text.clone()),
                        done: *done,
                        who: who.clone(),
                        forced: *forced,
                        evidence: evidence.clone(),
                        from_state_file: *from_state_file,
                    });
                }
            }
        }
        ticks.sort_by_key(|t| t.at);
        ChecklistReport {
            ticks,
            never_ticked: self
                .meta
                .checklist
                .iter()
                .filter(|i| !ever.contains(i.id.as_str()))
                .cloned()
                .collect(),
            not_done: self
                .meta
                .checklist
                .iter()
                .filter(|i| !latest.get(i.id.as_str()).is_some_and(|(_, done)| *done))
                .cloned()
                .collect(),
        }
    }

    /// Notes typed into the dashboard and notes on checklist items, in time order.
    fn notes(&self) -> Vec<NoteReport> {
        let mut notes = Vec::new();
        for e in &self.sorted {
            if !self.in_range(e.at) {
                continue;
            }
            match &e.event {
                Event::Text { text, who, host } => notes.push(NoteReport {
                    at: e.at,
                    who: who.clone(),
                    text: text.clone(),
                    host: host.clone(),
                    item: None,
                }),
                Event::Note { id, text, who } if !text.trim().is_empty() => {
                    notes.push(NoteReport {
                        at: e.at,
                        who: who.clone(),
                        text: text.clone(),
                        host: None,
                        item: Some(id.clone()),
                    })
                }
                _ => {}
            }
        }
        // The same note from the journal and the state file is one note.
        notes.dedup_by(|a, b| {
            a.at == b.at && a.who == b.who && a.text == b.text && a.item == b.item
        });
        notes
    }
}

fn serial_word(serial: Option<u32>) -> String {
    serial.map_or_else(|| "no serial".to_string(), |s| s.to_string())
}

#[cfg(test)]
mod tests;
