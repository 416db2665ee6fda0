//! `moveday report`: the post-mortem draft, built from the journal.
//!
//! [`build`] replays the journal (sorted by time) into a [`PostMortem`]: plain facts with
//! UTC times, which `--format json` prints as they are and [`markdown`] writes as a post
//! for a mailing list, in local time. With a `since` time, what happened before it only
//! sets the scene: periods are cut at `since` and lists start there.

mod markdown;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Local, NaiveTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::{AddressKind, CheckState, DnsVerdict, Entry, Event, HostHealth, StartItem};
use crate::checklist::ChecklistDoc;
use crate::config::Inventory;
use crate::schema::SchemaVersion;
use crate::store;

pub use markdown::{TimeZoneChoice, markdown, markdown_in};

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
    /// `host`, `dns`, `hosts_file`, `old_address`, `zone` or `checklist`.
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
pub fn build(
    entries: &[Entry],
    sources: Sources<'_>,
    journal: &str,
    since: Option<DateTime<Utc>>,
    warnings: Vec<String>,
) -> PostMortem {
    let events = entries.len();
    let mut all: Vec<(bool, &Entry)> = entries.iter().map(|e| (false, e)).collect();
    // The state file's ticks and notes that the journal does not have.
    let extra = sources
        .state_file
        .map(state_file_entries)
        .unwrap_or_default();
    for e in &extra {
        if !entries.iter().any(|j| same_checklist_event(j, e)) {
            all.push((true, e));
        }
    }
    all.sort_by_key(|(_, e)| e.at);
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
        checklist: ChecklistReport::default(),
        notes: Vec::new(),
        still_open: Vec::new(),
        warnings,
    };
    let (Some(from), Some(end)) = (from, end) else {
        return pm;
    };
    let end = end.max(from);
    let in_range = |at: DateTime<Utc>| at >= from;

    // Runs. Several processes may share a journal: a stop ends the run of its process.
    for e in &sorted {
        match &e.event {
            Event::Start { who, pid, .. } => pm.runs.push(Run {
                start: e.at,
                stop: None,
                who: who.clone(),
                pid: *pid,
            }),
            Event::Stop { pid, .. } => {
                let open = pm
                    .runs
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
    pm.runs.retain(|r| r.stop.is_none_or(in_range));

    // Hosts.
    let mut health_changes: Vec<(DateTime<Utc>, usize, HostHealth)> = Vec::new();
    for (index, (host, fqdn)) in meta.hosts.iter().enumerate() {
        let mine: Vec<&Entry> = sorted
            .iter()
            .copied()
            .filter(|e| e.host() == Some(host.as_str()))
            .collect();
        let changes: Vec<(DateTime<Utc>, HostHealth, Vec<String>)> = mine
            .iter()
            .filter_map(|e| match &e.event {
                Event::Health { to, reasons, .. } if *to != HostHealth::Unknown => {
                    Some((e.at, *to, reasons.clone()))
                }
                _ => None,
            })
            .collect();
        health_changes.extend(changes.iter().map(|(at, h, _)| (*at, index, *h)));
        let periods: Vec<HealthPeriod> = spans(&changes, from, end)
            .into_iter()
            .map(|(health, reasons, span)| {
                let from_checks = if health == HostHealth::Up {
                    Vec::new()
                } else {
                    period_reasons(&mine, &span, &reasons)
                };
                HealthPeriod {
                    health,
                    reasons: if from_checks.is_empty() {
                        reasons
                    } else {
                        from_checks
                    },
                    span,
                }
            })
            .collect();
        let down: Vec<&HealthPeriod> = periods
            .iter()
            .filter(|p| p.health == HostHealth::Down)
            .collect();
        let went_down = down.first().map(|p| p.span.from);
        let came_back = down.last().filter(|p| !p.span.ongoing).map(|p| p.span.to);
        let first_green = periods
            .iter()
            .filter(|p| p.health == HostHealth::Up)
            .find(|p| went_down.is_none_or(|d| p.span.from >= d))
            .map(|p| p.span.from);
        let up_since = periods
            .last()
            .filter(|p| p.health == HostHealth::Up)
            .map(|p| p.span.from);
        let last = changes.last();
        let fqdn = if fqdn.is_empty() {
            mine.iter()
                .find_map(|e| match &e.event {
                    Event::Dns { fqdn, .. } => Some(fqdn.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        } else {
            fqdn.clone()
        };
        let checks = check_reports(sources.inventory, host, &mine, from, end);
        let targets = mine
            .iter()
            .filter(|e| in_range(e.at))
            .filter_map(|e| match &e.event {
                Event::Target {
                    ip,
                    source,
                    address,
                    error,
                    ..
                } => Some(TargetChange {
                    at: e.at,
                    ip: *ip,
                    source: source.clone(),
                    address: *address,
                    error: error.clone(),
                }),
                _ => None,
            })
            .collect();
        type HostsKey = (Vec<std::net::IpAddr>, Option<AddressKind>);
        let hosts_changes: Vec<(DateTime<Utc>, HostsKey, Vec<usize>)> = mine
            .iter()
            .filter_map(|e| match &e.event {
                Event::HostsFile {
                    addresses,
                    lines,
                    address,
                    ..
                } => Some((e.at, (addresses.clone(), *address), lines.clone())),
                _ => None,
            })
            .collect();
        let hosts_file = spans(&hosts_changes, from, end)
            .into_iter()
            .filter(|((addresses, _), _, _)| !addresses.is_empty())
            .map(|((addresses, address), lines, span)| HostsFilePeriod {
                addresses,
                lines,
                address,
                span,
            })
            .collect();
        type OldPayload = (std::net::IpAddr, Option<String>);
        let old_changes: Vec<(DateTime<Utc>, bool, OldPayload)> = mine
            .iter()
            .filter_map(|e| match &e.event {
                Event::Old {
                    ip,
                    answering,
                    detail,
                    ..
                } => Some((e.at, *answering, (*ip, detail.clone()))),
                _ => None,
            })
            .collect();
        let old_answering = spans(&old_changes, from, end)
            .into_iter()
            .filter(|(answering, _, _)| *answering)
            .map(|(_, (ip, detail), span)| OldPeriod { ip, detail, span })
            .collect();
        pm.hosts.push(HostReport {
            name: host.clone(),
            fqdn,
            health_at_end: last.map(|l| l.1),
            reasons_at_end: match last {
                Some((_, HostHealth::Up, _)) | None => Vec::new(),
                Some((_, _, reasons)) => {
                    let now = reasons_at_end(&mine, reasons);
                    if now.is_empty() { reasons.clone() } else { now }
                }
            },
            downtime_seconds: down.iter().map(|p| p.span.seconds).sum(),
            not_up_seconds: periods
                .iter()
                .filter(|p| matches!(p.health, HostHealth::Down | HostHealth::Degraded))
                .map(|p| p.span.seconds)
                .sum(),
            periods,
            went_down,
            came_back,
            first_green,
            up_since,
            checks,
            targets,
            hosts_file,
            old_answering,
        });
    }

    // Every host up at once.
    let mut now: Vec<Option<HostHealth>> = vec![None; meta.hosts.len()];
    let mut green_changes: Vec<(DateTime<Utc>, bool, ())> = Vec::new();
    health_changes.sort_by_key(|(at, _, _)| *at);
    for (at, index, health) in &health_changes {
        now[*index] = Some(*health);
        let all = !now.is_empty() && now.iter().all(|h| *h == Some(HostHealth::Up));
        // Changes at the same moment count once, as they stand after all of them.
        if green_changes.last().is_some_and(|(last, _, _)| last == at) {
            green_changes.pop();
        }
        green_changes.push((*at, all, ()));
    }
    let green: Vec<Span> = spans(&green_changes, from, end)
        .into_iter()
        .filter(|(all, _, _)| *all)
        .map(|(_, _, span)| span)
        .collect();
    let move_started = health_changes
        .iter()
        .find(|(_, _, h)| *h == HostHealth::Down)
        .map(|(at, _, _)| *at);
    let after_move = green
        .iter()
        .find(|s| move_started.is_none_or(|m| s.from >= m));
    pm.all_green.move_started = move_started;
    pm.all_green.first = after_move.map(|s| s.from);
    pm.all_green.already = after_move.is_some_and(|s| s.clipped);
    pm.all_green.since = green.last().filter(|s| s.ongoing).map(|s| s.from);
    pm.all_green.periods = green;

    // DNS.
    for (host, _) in &meta.hosts {
        let mut resolvers: Vec<ResolverReport> = Vec::new();
        let mut fqdn = pm
            .hosts
            .iter()
            .find(|h| &h.name == host)
            .map(|h| h.fqdn.clone())
            .unwrap_or_default();
        for e in &sorted {
            let Event::Dns {
                host: h,
                fqdn: f,
                resolver,
                verdict,
                addresses,
                ..
            } = &e.event
            else {
                continue;
            };
            if h != host {
                continue;
            }
            if fqdn.is_empty() {
                fqdn = f.clone();
            }
            let r = match resolvers.iter_mut().position(|r| &r.resolver == resolver) {
                Some(i) => &mut resolvers[i],
                None => {
                    resolvers.push(ResolverReport {
                        resolver: resolver.clone(),
                        first_new: None,
                        verdict_at_end: None,
                        addresses_at_end: Vec::new(),
                        history: Vec::new(),
                    });
                    resolvers.last_mut().expect("just pushed")
                }
            };
            if *verdict == DnsVerdict::New && r.first_new.is_none() {
                r.first_new = Some(e.at);
            }
            r.verdict_at_end = Some(*verdict);
            r.addresses_at_end = addresses.clone();
            let change = DnsChange {
                at: e.at.max(from),
                verdict: *verdict,
                addresses: addresses.clone(),
            };
            if in_range(e.at) {
                r.history.push(change);
            } else {
                // The answer in force when the report starts.
                r.history = vec![change];
            }
        }
        if !resolvers.is_empty() {
            pm.dns.push(NameReport {
                host: host.clone(),
                fqdn,
                resolvers,
            });
        }
    }

    // Zones.
    type ZoneKey = (String, String);
    let mut zone_events: Vec<(ZoneKey, bool, Vec<&Entry>)> = Vec::new();
    for e in &sorted {
        if let Event::Zone {
            zone, server, role, ..
        } = &e.event
        {
            let key = (zone.clone(), server.clone());
            match zone_events.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, _, list)) => list.push(e),
                None => zone_events.push((key, *role == super::ZoneRole::Primary, vec![e])),
            }
        }
    }
    let mut zone_names: Vec<String> = Vec::new();
    for ((zone, _), _, _) in &zone_events {
        if !zone_names.contains(zone) {
            zone_names.push(zone.clone());
        }
    }
    for zone in zone_names {
        let mut report = ZoneReport {
            zone: zone.clone(),
            primary: None,
            primary_serials: Vec::new(),
            secondaries: Vec::new(),
        };
        for ((_, server), primary, list) in zone_events.iter().filter(|(k, _, _)| k.0 == zone) {
            if *primary {
                report.primary = Some(server.clone());
                let changes: Vec<(DateTime<Utc>, Option<u32>, ())> = list
                    .iter()
                    .filter_map(|e| match &e.event {
                        Event::Zone { serial, error, .. } if error.is_none() => {
                            Some((e.at, *serial, ()))
                        }
                        _ => None,
                    })
                    .collect();
                report.primary_serials = spans(&changes, from, end)
                    .into_iter()
                    .map(|(serial, _, span)| SerialChange {
                        at: span.from,
                        serial,
                        clipped: span.clipped,
                    })
                    .collect();
                continue;
            }
            type Lag = (Option<u32>, Option<u32>);
            let lag: Vec<(DateTime<Utc>, bool, Lag)> = list
                .iter()
                .filter_map(|e| match &e.event {
                    Event::Zone {
                        behind,
                        serial,
                        primary_serial,
                        ..
                    } => Some((e.at, *behind, (*serial, *primary_serial))),
                    _ => None,
                })
                .collect();
            let errors: Vec<(DateTime<Utc>, Option<String>, ())> = list
                .iter()
                .filter_map(|e| match &e.event {
                    Event::Zone { error, .. } => Some((e.at, error.clone(), ())),
                    _ => None,
                })
                .collect();
            let last = list.last().map(|e| &e.event);
            let (serial_at_end, behind_at_end) = match last {
                Some(Event::Zone { serial, behind, .. }) => (*serial, *behind),
                _ => (None, false),
            };
            report.secondaries.push(SecondaryReport {
                server: server.clone(),
                contact: contact(sources.inventory, &zone, server),
                behind: spans(&lag, from, end)
                    .into_iter()
                    .filter(|(behind, _, _)| *behind)
                    .map(|(_, (serial, primary_serial), span)| LagPeriod {
                        serial,
                        primary_serial,
                        span,
                    })
                    .collect(),
                failing: spans(&errors, from, end)
                    .into_iter()
                    .filter_map(|(error, _, span)| {
                        Some(FailPeriod {
                            error: error?,
                            span,
                        })
                    })
                    .collect(),
                serial_at_end,
                behind_at_end,
            });
        }
        pm.zones.push(report);
    }

    // The checklist.
    let item = |id: &str| meta.checklist.iter().find(|i| i.id == id);
    let mut latest: HashMap<&str, (DateTime<Utc>, bool)> = HashMap::new();
    let mut ever: BTreeSet<&str> = BTreeSet::new();
    for (from_state_file, e) in &all {
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
            if in_range(e.at) {
                pm.checklist.ticks.push(TickReport {
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
    pm.checklist.ticks.sort_by_key(|t| t.at);
    pm.checklist.never_ticked = meta
        .checklist
        .iter()
        .filter(|i| !ever.contains(i.id.as_str()))
        .cloned()
        .collect();
    pm.checklist.not_done = meta
        .checklist
        .iter()
        .filter(|i| !latest.get(i.id.as_str()).is_some_and(|(_, done)| *done))
        .cloned()
        .collect();

    // Notes.
    for e in &sorted {
        if !in_range(e.at) {
            continue;
        }
        match &e.event {
            Event::Text { text, who, host } => pm.notes.push(NoteReport {
                at: e.at,
                who: who.clone(),
                text: text.clone(),
                host: host.clone(),
                item: None,
            }),
            Event::Note { id, text, who } if !text.trim().is_empty() => pm.notes.push(NoteReport {
                at: e.at,
                who: who.clone(),
                text: text.clone(),
                host: None,
                item: Some(id.clone()),
            }),
            _ => {}
        }
    }
    // The same note from the journal and the state file is one note.
    pm.notes
        .dedup_by(|a, b| a.at == b.at && a.who == b.who && a.text == b.text && a.item == b.item);

    pm.still_open = still_open(&pm);
    pm
}

fn same_checklist_event(a: &Entry, b: &Entry) -> bool {
    a.at == b.at
        && match (&a.event, &b.event) {
            (
                Event::Tick {
                    id: i1,
                    done: d1,
                    who: w1,
                    ..
                },
                Event::Tick {
                    id: i2,
                    done: d2,
                    who: w2,
                    ..
                },
            ) => i1 == i2 && d1 == d2 && w1 == w2,
            (
                Event::Note {
                    id: i1,
                    text: t1,
                    who: w1,
                },
                Event::Note {
                    id: i2,
                    text: t2,
                    who: w2,
                },
            ) => i1 == i2 && t1 == t2 && w1 == w2,
            _ => false,
        }
}

fn contact(inv: Option<&Inventory>, zone: &str, server: &str) -> Option<String> {
    inv?.zones
        .iter()
        .find(|z| z.name == zone)?
        .secondaries
        .iter()
        .find(|s| s.server.to_string() == server)?
        .contact
        .clone()
}

/// One check's changes: when, its damped state, what it saw, the detail.
type CheckChange<'a> = (DateTime<Utc>, CheckState, &'a str, Option<&'a str>);

/// Each check's changes, checks in order of first appearance.
fn check_changes<'a>(mine: &[&'a Entry]) -> Vec<(&'a str, Vec<CheckChange<'a>>)> {
    let mut checks: Vec<(&str, Vec<CheckChange<'_>>)> = Vec::new();
    for e in mine {
        if let Event::Check {
            check,
            state,
            result,
            detail,
            ..
        } = &e.event
        {
            let i = match checks.iter().position(|(n, _)| *n == check.as_str()) {
                Some(i) => i,
                None => {
                    checks.push((check.as_str(), Vec::new()));
                    checks.len() - 1
                }
            };
            checks[i]
                .1
                .push((e.at, *state, result.as_str(), detail.as_deref()));
        }
    }
    checks
}

/// Red, or answering but stale or about to expire: a reason for a host not to be up.
fn counts_against(state: CheckState, result: &str) -> bool {
    state == CheckState::Down || (state == CheckState::Up && matches!(result, "stale" | "warn"))
}

/// Reasons of a health event that are not about a check (`mail: PTR … does not resolve
/// back`, `no address: …`): the checks speak for themselves.
fn other_reasons(reasons: &[String], checks: &[(&str, Vec<CheckChange<'_>>)]) -> Vec<String> {
    reasons
        .iter()
        .filter(|r| {
            !checks.iter().any(|(name, _)| {
                r.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with(':'))
            })
        })
        .filter(|r| r.as_str() != "waiting for first results")
        .cloned()
        .collect()
}

/// Why a host was not up during `span`: each check that counted against it for a good
/// part of the span (at least 10 s, or the whole of a shorter span), with what it saw in
/// order (`http refused then timeout`), then `event_reasons` that are not about a check.
/// Amber checks (flap damping still deciding) do not count.
fn period_reasons(mine: &[&Entry], span: &Span, event_reasons: &[String]) -> Vec<String> {
    let checks = check_changes(mine);
    let span_ms = (span.to - span.from).num_milliseconds();
    let needed = span_ms.min(10_000);
    let mut out = Vec::new();
    for (name, changes) in &checks {
        let mut results: Vec<&str> = Vec::new();
        for (i, (since, state, result, _)) in changes.iter().enumerate() {
            if !counts_against(*state, result) {
                continue;
            }
            let until = changes.get(i + 1).map_or(span.to, |c| c.0);
            let (a, b) = ((*since).max(span.from), until.min(span.to));
            let overlap = (b - a).num_milliseconds();
            let meets = if needed == 0 {
                *since <= span.to && until >= span.from
            } else {
                overlap >= needed
            };
            if meets && results.last() != Some(result) {
                results.push(result);
            }
        }
        if !results.is_empty() {
            let more = if results.len() > 3 { ", …" } else { "" };
            results.truncate(3);
            out.push(format!("{name} {}{more}", results.join(" then ")));
        }
    }
    out.extend(other_reasons(event_reasons, &checks));
    out
}

/// Why a host is not up at the end of the journal: its checks' last states, and the last
/// health event's reasons that are not about a check.
fn reasons_at_end(mine: &[&Entry], last_reasons: &[String]) -> Vec<String> {
    let checks = check_changes(mine);
    let mut out: Vec<String> = checks
        .iter()
        .filter_map(|(name, changes)| {
            let (_, state, result, detail) = changes.last()?;
            if !counts_against(*state, result) {
                return None;
            }
            Some(match (state, detail) {
                (CheckState::Up, Some(d))
                    if d.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with([' ', ':'])) =>
                {
                    d.to_string()
                }
                (CheckState::Up, Some(d)) => format!("{name}: {d}"),
                _ => format!("{name} {result}"),
            })
        })
        .collect();
    out.extend(other_reasons(last_reasons, &checks));
    out
}

/// Every check of a host: in the inventory's order, then any other the journal names.
fn check_reports(
    inv: Option<&Inventory>,
    host: &str,
    mine: &[&Entry],
    from: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<CheckReport> {
    let mut names: Vec<String> = inv
        .and_then(|inv| inv.hosts.iter().find(|h| h.name == host))
        .map(|config| {
            store::checks(config)
                .into_iter()
                .map(|c| store::check_name(config, c))
                .collect()
        })
        .unwrap_or_default();
    for e in mine {
        if let Event::Check { check, .. } = &e.event
            && !names.contains(check)
        {
            names.push(check.clone());
        }
    }
    let mut out = Vec::new();
    for name in names {
        type Key = (String, Option<AddressKind>, Option<std::net::IpAddr>);
        type Payload = (CheckState, Option<String>, Option<std::net::IpAddr>);
        let events: Vec<(DateTime<Utc>, Key, Payload)> = mine
            .iter()
            .filter_map(|e| match &e.event {
                Event::Check {
                    check,
                    state,
                    result,
                    detail,
                    ip,
                    address,
                    ..
                } if *check == name => Some((
                    e.at,
                    (
                        result.clone(),
                        *address,
                        // The exact address matters only when it is neither old nor new.
                        ip.filter(|_| *address == Some(AddressKind::Other)),
                    ),
                    (*state, detail.clone(), *ip),
                )),
                _ => None,
            })
            .collect();
        if events.is_empty() {
            continue;
        }
        let first_up = |new_only: bool| {
            events
                .iter()
                .find(|(_, (_, address, _), (state, _, _))| {
                    *state == CheckState::Up && (!new_only || *address == Some(AddressKind::New))
                })
                .map(|(at, _, _)| *at)
        };
        let cut = clip(runs(&events), from, end);
        let history: Vec<CheckPeriod> = cut
            .iter()
            .enumerate()
            .map(|(i, ((result, address, _), payloads, span))| {
                // Failing without ever turning red, then passing: flap damping absorbed it.
                let next_up = cut
                    .get(i + 1)
                    .and_then(|(_, ps, _)| ps.first())
                    .is_some_and(|(state, _, _)| *state == CheckState::Up);
                let blip = payloads
                    .iter()
                    .all(|(state, _, _)| *state == CheckState::Suspect)
                    && next_up;
                let (_, detail, ip) = payloads[0].clone();
                CheckPeriod {
                    result: result.clone(),
                    ip,
                    address: *address,
                    span: span.clone(),
                    blip,
                    detail,
                }
            })
            .collect();
        let last = events.last();
        out.push(CheckReport {
            check: name,
            first_worked: first_up(false),
            first_worked_new: first_up(true),
            state_at_end: last.map(|(_, _, (s, _, _))| *s),
            result_at_end: last.map(|(_, (r, _, _), _)| r.clone()),
            history,
        });
    }
    out
}

fn still_open(pm: &PostMortem) -> Vec<OpenItem> {
    let mut out = Vec::new();
    for h in &pm.hosts {
        match h.health_at_end {
            Some(HostHealth::Up) => {}
            Some(health) => out.push(OpenItem {
                kind: "host",
                subject: h.name.clone(),
                text: if h.reasons_at_end.is_empty() {
                    health.word().to_string()
                } else {
                    format!("{} ({})", health.word(), h.reasons_at_end.join(", "))
                },
            }),
            None => out.push(OpenItem {
                kind: "host",
                subject: h.name.clone(),
                text: "no result in the journal".into(),
            }),
        }
    }
    for name in &pm.dns {
        for r in &name.resolvers {
            let Some(verdict) = r.verdict_at_end else {
                continue;
            };
            if verdict == DnsVerdict::New {
                continue;
            }
            let addresses = r
                .addresses_at_end
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            let text = match verdict {
                DnsVerdict::Old => {
                    format!("{} still serves the old address {addresses}", r.resolver)
                }
                DnsVerdict::Other => {
                    format!("{} serves {addresses} (neither old nor new)", r.resolver)
                }
                v => format!("{} answers {}", r.resolver, v.word()),
            };
            out.push(OpenItem {
                kind: "dns",
                subject: name.fqdn.clone(),
                text,
            });
        }
    }
    for h in &pm.hosts {
        if let Some(p) = h.hosts_file.last().filter(|p| p.span.ongoing)
            && p.address == Some(AddressKind::Old)
        {
            let lines = p
                .lines
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let ips = p
                .addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            out.push(OpenItem {
                kind: "hosts_file",
                subject: h.name.clone(),
                text: format!(
                    "this machine's hosts file still sends it to the old address {ips} (line {lines})"
                ),
            });
        }
        if let Some(p) = h.old_answering.last().filter(|p| p.span.ongoing) {
            let what = p
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            out.push(OpenItem {
                kind: "old_address",
                subject: h.name.clone(),
                text: format!("the old address {} still answers{what}", p.ip),
            });
        }
    }
    for z in &pm.zones {
        for s in &z.secondaries {
            if let Some(lag) = s.behind.last().filter(|l| l.span.ongoing) {
                out.push(OpenItem {
                    kind: "zone",
                    subject: z.zone.clone(),
                    text: format!(
                        "{} is behind the primary ({} vs {}){}",
                        s.server,
                        serial_word(lag.serial),
                        serial_word(lag.primary_serial),
                        s.contact
                            .as_deref()
                            .map(|c| format!("; call {c}"))
                            .unwrap_or_default()
                    ),
                });
            } else if let Some(f) = s.failing.last().filter(|f| f.span.ongoing) {
                out.push(OpenItem {
                    kind: "zone",
                    subject: z.zone.clone(),
                    text: format!("{} does not answer ({})", s.server, f.error),
                });
            }
        }
    }
    for item in &pm.checklist.not_done {
        out.push(OpenItem {
            kind: "checklist",
            subject: item.id.clone(),
            text: if item.text.is_empty() {
                "not done".into()
            } else {
                format!("not done: {}", item.text)
            },
        });
    }
    out
}

fn serial_word(serial: Option<u32>) -> String {
    serial.map_or_else(|| "no serial".to_string(), |s| s.to_string())
}

#[cfg(test)]
mod tests;
