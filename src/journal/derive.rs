//! What changed, as journal entries: pure comparisons of a host's or a zone's state before
//! and after one report. No I/O, no clock: the time comes with the report.
//!
//! An entry is made only when something changed. The first observation of a check, a
//! resolver or a zone server is a change (from nothing): it records when a probe first
//! worked. A check whose history is reset (the target address moved, so `store::reduce`
//! forgets its damping) is not recorded as turning unknown; its next result is recorded as
//! a first observation, at the new address.

use std::time::SystemTime;

use chrono::{DateTime, SubsecRound, Utc};

use super::{
    AddressKind, CheckState, DnsVerdict, Entry, Event, GlueEntry, ProbeKind, StartHost, StartItem,
    ZoneRole,
};
use crate::checklist::ChecklistEvent;
use crate::config::{HostConfig, Inventory, ResolverKind};
use crate::probe::canary::CanaryEvent;
use crate::probe::ports::PortState;
use crate::probe::service::ServiceState;
use crate::probe::{ProbeReport, ZoneOutcome};
use crate::sanitize::sanitize;
use crate::store::{
    self, Check, DelegationView, HostState, Input, Seen, State, ZoneServerState, ZoneState,
};

/// Longest free text kept in a `text` or `note` event, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Longest detail or reason kept, in characters.
const MAX_DETAIL_CHARS: usize = 300;
/// Most health reasons kept in one event.
const MAX_REASONS: usize = 16;

/// A probe time as written in the journal (UTC, milliseconds).
pub fn utc(at: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(at).trunc_subsecs(3)
}

fn entry(at: SystemTime, event: Event) -> Entry {
    Entry { at: utc(at), event }
}

/// Applies `input` with [`store::reduce`] and returns, besides its result (did anything
/// visible change), the journal entries for what changed: the one call the event loop
/// needs for probe reports and for checklist events made here.
///
/// `Input::ChecklistSynced` (the state file, as merged with other processes' ticks) makes
/// no entry: a moveday sharing the journal records its own ticks, and `moveday report`
/// reads the state file for ticks made elsewhere.
pub fn reduce(state: &mut State, input: impl Into<Input>) -> (bool, Vec<Entry>) {
    match input.into() {
        Input::Probe(ProbeReport::Probe { host, at, outcome }) => {
            let report = ProbeReport::Probe { host, at, outcome };
            let Some(before) = state.hosts.get(host).cloned() else {
                return (store::reduce(state, report), vec![]);
            };
            let changed = store::reduce(state, report);
            let entries = if changed {
                host_events(&state.inventory, host, &before, &state.hosts[host], at)
            } else {
                Vec::new()
            };
            (changed, entries)
        }
        Input::Probe(ProbeReport::Zone { at, outcome }) => {
            let zone = outcome.zone;
            let report = ProbeReport::Zone { at, outcome };
            let Some(before) = state.zones.get(zone).cloned() else {
                return (store::reduce(state, report), vec![]);
            };
            // The zone's own NS set weighs in the delegation (does the parent agree?).
            let delegation_before = store::delegation(state, zone);
            let changed = store::reduce(state, report);
            let mut entries = Vec::new();
            if changed {
                entries = zone_events(&state.inventory, zone, &before, &state.zones[zone], at);
                let after = store::delegation(state, zone);
                entries.extend(delegation_event(
                    &state.inventory,
                    zone,
                    delegation_before.as_ref(),
                    after.as_ref(),
                    at,
                ));
            }
            (changed, entries)
        }
        Input::Probe(ProbeReport::Delegation { at, outcome }) => {
            let zone = outcome.zone;
            let before = store::delegation(state, zone);
            let changed = store::reduce(state, ProbeReport::Delegation { at, outcome });
            let after = store::delegation(state, zone);
            let entries =
                delegation_event(&state.inventory, zone, before.as_ref(), after.as_ref(), at);
            (changed, entries.into_iter().collect())
        }
        Input::Probe(ProbeReport::Canary { zone, run, event }) => {
            let at = canary_time(&event);
            let before = state.zones.get(zone).and_then(|z| z.canary.clone());
            let changed = store::reduce(state, ProbeReport::Canary { zone, run, event });
            let after = state.zones.get(zone).and_then(|z| z.canary.as_ref());
            let entries = match after {
                Some(after) if changed => {
                    canary::canary_events(&state.inventory, zone, before.as_ref(), after, at)
                }
                _ => Vec::new(),
            };
            (changed, entries)
        }
        Input::Probe(ProbeReport::Vantage { at, outcome }) => {
            let v = outcome.vantage;
            let before = state.vantages.get(v).cloned().unwrap_or_default();
            let hosts_before: Vec<_> = state
                .hosts
                .iter()
                .map(|h| vantage::remote_of(h, v))
                .collect();
            let health_before: Vec<store::Health> = state.hosts.iter().map(|h| h.health).collect();
            let changed = store::reduce(state, ProbeReport::Vantage { at, outcome });
            let mut entries = vantage::vantage_events(state, v, &before, &hosts_before, at);
            // A disagreement moves the host's own health too ("only this laptop reaches it").
            for (i, was) in health_before.into_iter().enumerate() {
                let Some(h) = state.hosts.get(i) else {
                    continue;
                };
                if h.health != was {
                    let diff = HostDiff {
                        inv: &state.inventory,
                        config: &state.inventory.hosts[i],
                        before: &HostState {
                            health: was,
                            ..HostState::default()
                        },
                        after: h,
                    };
                    entries.extend(diff.health().map(|e| entry(at, e)));
                }
            }
            (changed, entries)
        }
        Input::ChecklistEvent(event) => {
            let entry = checklist_event(&event);
            let changed = store::reduce(state, Input::ChecklistEvent(event));
            (changed, vec![entry])
        }
        Input::Notify(news) => {
            let entry = notify_event(&news);
            let changed = store::reduce(state, Input::Notify(news));
            (changed, vec![entry])
        }
        other => (store::reduce(state, other), Vec::new()),
    }
}

/// When a canary step happened.
fn canary_time(event: &CanaryEvent) -> SystemTime {
    match event {
        CanaryEvent::Started { at, .. }
        | CanaryEvent::Written { at, .. }
        | CanaryEvent::WriteFailed { at, .. }
        | CanaryEvent::Poll { at, .. }
        | CanaryEvent::Finished { at } => *at,
    }
}

/// Everything that changed for host `host` between `before` and `after`: its target, each
/// check's damped state or result, its health, each resolver's verdict, its hosts-file
/// entry, whether its old address answers.
pub fn host_events(
    inv: &Inventory,
    host: usize,
    before: &HostState,
    after: &HostState,
    at: SystemTime,
) -> Vec<Entry> {
    let Some(config) = inv.hosts.get(host) else {
        return Vec::new();
    };
    let diff = HostDiff {
        inv,
        config,
        before,
        after,
    };
    let mut events = Vec::new();
    events.extend(diff.target());
    events.extend(diff.checks());
    events.extend(diff.health());
    events.extend(diff.dns());
    events.extend(diff.hosts_file());
    events.extend(diff.old_address());
    events.extend(mail::mail_events(&config.name, before, after));
    events.into_iter().map(|event| entry(at, event)).collect()
}

/// A host's state before and after one report, with what it is compared against (its
/// configuration, the inventory's addresses and resolvers): one method per kind of event.
struct HostDiff<'a> {
    inv: &'a Inventory,
    config: &'a HostConfig,
    before: &'a HostState,
    after: &'a HostState,
}

impl HostDiff<'_> {
    fn name(&self) -> String {
        self.config.name.clone()
    }

    /// The address the probes go to, or why there is none.
    fn target(&self) -> Option<Event> {
        let t = self.after.target.as_ref()?;
        if self.before.target.as_ref().map(|s| &s.value) == Some(&t.value) {
            return None;
        }
        Some(match &t.value {
            Ok(target) => Event::Target {
                host: self.name(),
                ip: Some(target.ip),
                source: Some(
                    serde_json::to_value(target.source)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| target.source.to_string()),
                ),
                address: Some(store::classify(self.inv, self.config, target.ip).into()),
                error: None,
            },
            Err(e) => Event::Target {
                host: self.name(),
                ip: None,
                source: None,
                address: None,
                error: Some(sanitize(&e.to_string(), MAX_DETAIL_CHARS)),
            },
        })
    }

    /// Each check whose damped state or result changed, in display order, then any the
    /// configuration no longer lists.
    fn checks(&self) -> Vec<Event> {
        let mut checks = store::checks(self.config);
        for check in self.after.damp.keys() {
            if !checks.contains(check) {
                checks.push(*check);
            }
        }
        checks
            .into_iter()
            .filter_map(|check| self.check(check))
            .collect()
    }

    fn check(&self, check: Check) -> Option<Event> {
        // Forgotten (the target moved): its next result is recorded as a first one.
        let damper = self.after.damp.get(&check)?;
        let was = self.before.damp.get(&check).copied().unwrap_or_default();
        let now = observed(self.after, check);
        let then = observed(self.before, check);
        let state = CheckState::from(damper.state);
        let changed = CheckState::from(was.state) != state
            || now.as_ref().map(|o| (&o.result, o.ip)) != then.as_ref().map(|o| (&o.result, o.ip));
        if !changed || state == CheckState::Unknown {
            return None;
        }
        let (probe, port) = match check {
            Check::Ping => (ProbeKind::Ping, None),
            Check::Ssh => (ProbeKind::Ssh, None),
            Check::Http => (ProbeKind::Http, None),
            Check::Port(p) => (ProbeKind::Port, Some(p)),
            Check::Service(_) => (ProbeKind::Service, None),
        };
        let (result, detail, ip) = match now {
            Some(o) => (o.result, o.detail, o.ip),
            None => (state.word().to_string(), None, None),
        };
        Some(Event::Check {
            host: self.name(),
            check: store::check_name(self.config, check),
            probe,
            port,
            state,
            result,
            detail,
            note: damper.note(self.config.damping),
            ip,
            address: ip.map(|ip| store::classify(self.inv, self.config, ip).into()),
        })
    }

    /// The host's health, with the reasons it is not up.
    fn health(&self) -> Option<Event> {
        if self.before.health == self.after.health {
            return None;
        }
        let (_, mut reasons) = store::health(self.config, self.after);
        reasons.truncate(MAX_REASONS);
        Some(Event::Health {
            host: self.name(),
            from: self.before.health.into(),
            to: self.after.health.into(),
            reasons: if self.after.health == store::Health::Up {
                Vec::new()
            } else {
                reasons
                    .iter()
                    .map(|r| sanitize(r, MAX_DETAIL_CHARS))
                    .collect()
            },
        })
    }

    /// The host's name at each resolver whose verdict or addresses changed.
    fn dns(&self) -> Vec<Event> {
        let (inv, config) = (self.inv, self.config);
        let mut out = Vec::new();
        for (i, slot) in self.after.dns.iter().enumerate() {
            let Some(seen) = slot else { continue };
            let prev = self.before.dns.get(i).and_then(Option::as_ref);
            let verdict = DnsVerdict::from(store::verdict(inv, config, &seen.value));
            let prev_verdict =
                prev.map(|p| DnsVerdict::from(store::verdict(inv, config, &p.value)));
            let addresses = |s: &Seen<Result<crate::probe::DnsAnswer, crate::probe::DnsError>>| {
                s.value
                    .as_ref()
                    .map(|a| a.addresses.clone())
                    .unwrap_or_default()
            };
            if prev_verdict == Some(verdict) && prev.map(addresses) == Some(addresses(seen)) {
                continue;
            }
            let resolver = inv
                .resolvers
                .get(i)
                .map_or_else(|| format!("resolver {i}"), |r| r.name.clone());
            out.push(Event::Dns {
                host: self.name(),
                fqdn: config.fqdn.clone(),
                resolver,
                from: prev_verdict,
                verdict,
                addresses: addresses(seen),
                more: seen.value.as_ref().map_or(0, |a| a.more),
                ttl: seen.value.as_ref().ok().map(|a| a.ttl),
                error: seen
                    .value
                    .as_ref()
                    .err()
                    .map(|e| sanitize(&e.to_string(), MAX_DETAIL_CHARS)),
            });
        }
        out
    }

    /// This machine's hosts-file entry for the host (a first look that finds no entry says
    /// nothing).
    fn hosts_file(&self) -> Option<Event> {
        let seen = self.after.hosts_file.as_ref()?;
        let prev = self.before.hosts_file.as_ref().map(|s| &s.value);
        let first_and_empty = prev.is_none() && matches!(&seen.value, Ok(e) if e.is_empty());
        if prev == Some(&seen.value) || first_and_empty {
            return None;
        }
        Some(match &seen.value {
            Ok(entries) => {
                let kinds: Vec<AddressKind> = entries
                    .iter()
                    .map(|e| store::classify(self.inv, self.config, e.ip).into())
                    .collect();
                let address = if kinds.contains(&AddressKind::Old) {
                    Some(AddressKind::Old)
                } else if kinds.contains(&AddressKind::Other) {
                    Some(AddressKind::Other)
                } else {
                    kinds.first().copied()
                };
                Event::HostsFile {
                    host: self.name(),
                    addresses: entries.iter().map(|e| e.ip).collect(),
                    lines: entries.iter().map(|e| e.line).collect(),
                    address,
                    error: None,
                }
            }
            Err(e) => Event::HostsFile {
                host: self.name(),
                addresses: Vec::new(),
                lines: Vec::new(),
                address: None,
                error: Some(sanitize(e, MAX_DETAIL_CHARS)),
            },
        })
    }

    /// Whether the old address answers, and what answers there.
    fn old_address(&self) -> Option<Event> {
        let seen = self.after.old.as_ref()?;
        let answering = seen.value.answering();
        let prev = self.before.old.as_ref().map(|s| s.value.answering());
        if prev == Some(answering) {
            return None;
        }
        let mut what: Vec<String> = seen
            .value
            .ports
            .iter()
            .filter(|p| p.state == PortState::Open)
            .map(|p| format!("port {} open", p.port))
            .collect();
        what.extend(
            seen.value
                .services
                .iter()
                .zip(&self.config.services)
                .filter(|(r, _)| r.state != ServiceState::Fail)
                .map(|(r, s)| format!("{} {}", s.name, r.state.word())),
        );
        Some(Event::Old {
            host: self.name(),
            ip: seen.value.ip,
            answering,
            detail: (!what.is_empty()).then(|| what.join(", ")),
        })
    }
}

/// What one check's latest probe saw.
struct Observed {
    result: String,
    detail: Option<String>,
    ip: Option<std::net::IpAddr>,
}

fn observed(h: &HostState, check: Check) -> Option<Observed> {
    let clip = |s: &str| sanitize(s, MAX_DETAIL_CHARS);
    match check {
        Check::Ping => h.ping.as_ref().map(|s| match &s.value.result {
            Ok(rtt) => Observed {
                result: "ok".into(),
                detail: Some(format!("{:.1} ms", rtt.as_secs_f64() * 1000.0)),
                ip: Some(s.value.ip),
            },
            Err(e) => Observed {
                result: e.word().into(),
                detail: Some(clip(&e.to_string())),
                ip: Some(s.value.ip),
            },
        }),
        Check::Ssh => h.ssh.as_ref().map(|s| match &s.value.result {
            Ok(b) => Observed {
                result: "ok".into(),
                detail: Some(clip(&b.banner)),
                ip: Some(s.value.ip),
            },
            Err(e) => Observed {
                result: e.word().into(),
                detail: Some(clip(&e.to_string())),
                ip: Some(s.value.ip),
            },
        }),
        Check::Http => h.http.as_ref().map(|s| match &s.value.result {
            Ok(r) => Observed {
                result: r.status.to_string(),
                detail: r.location.as_ref().map(|l| clip(&format!("Location: {l}"))),
                ip: Some(s.value.ip),
            },
            Err(e) => Observed {
                result: e.word().into(),
                detail: Some(clip(&e.to_string())),
                ip: Some(s.value.ip),
            },
        }),
        Check::Port(port) => h.ports.as_ref().and_then(|s| {
            let r = s.value.ports.iter().find(|r| r.port == port)?;
            Some(Observed {
                result: r.state.word().into(),
                detail: r.detail.as_deref().map(clip),
                ip: Some(s.value.ip),
            })
        }),
        Check::Service(i) => {
            let s = h.services.get(i)?.as_ref()?;
            Some(Observed {
                result: s.value.result.state.word().into(),
                detail: Some(clip(
                    s.value
                        .result
                        .error
                        .as_deref()
                        .unwrap_or(&s.value.result.detail),
                )),
                ip: Some(s.value.ip),
            })
        }
    }
}

/// What changed in zone `zone` between `before` and `after`: a server's SOA serial (its
/// first one included), a secondary starting or stopping to lag behind the primary, a
/// server starting or stopping to fail.
pub fn zone_events(
    inv: &Inventory,
    zone: usize,
    before: &ZoneState,
    after: &ZoneState,
    at: SystemTime,
) -> Vec<Entry> {
    let Some(config) = inv.zones.get(zone) else {
        return Vec::new();
    };
    let primary_serial = after.servers.first().and_then(serial_of);
    let mut out = Vec::new();
    for (i, server) in after.servers.iter().enumerate() {
        let Some(latest) = &server.latest else {
            continue;
        };
        let prev = before.servers.get(i);
        let was_seen = prev.is_some_and(|p| p.latest.is_some());
        let serial = serial_of(server);
        let behind = server.behind_since.is_some();
        let error = error_of(&latest.value);
        let same = was_seen
            && prev.is_some_and(|p| {
                serial_of(p) == serial
                    && p.behind_since.is_some() == behind
                    && p.latest.as_ref().map(|l| error_of(&l.value)) == Some(error.clone())
            });
        if same {
            continue;
        }
        let (label, role) = if i == 0 {
            (
                ResolverKind::Server(config.primary).to_string(),
                ZoneRole::Primary,
            )
        } else {
            (
                config
                    .secondaries
                    .get(i - 1)
                    .map_or_else(|| format!("secondary {i}"), |s| s.server.to_string()),
                ZoneRole::Secondary,
            )
        };
        out.push(entry(
            at,
            Event::Zone {
                zone: config.name.clone(),
                server: label,
                role,
                serial,
                primary_serial,
                behind,
                error,
            },
        ));
    }
    out
}

/// What changed in zone `zone`'s delegation between `before` and `after`: a glue name's
/// verdict or addresses, whether the parent agrees with the zone, whether it is all ok,
/// whether the parent's servers are known. The first look is a change (from nothing).
pub fn delegation_event(
    inv: &Inventory,
    zone: usize,
    before: Option<&DelegationView>,
    after: Option<&DelegationView>,
    at: SystemTime,
) -> Option<Entry> {
    let config = inv.zones.get(zone)?;
    let after = after?;
    let key = |d: &DelegationView| (d.ok, d.agrees_with_zone, d.error.clone(), d.glue_by_name());
    if before.map(key) == Some(key(after)) {
        return None;
    }
    let glue = after
        .glue_by_name()
        .into_iter()
        .map(|g| GlueEntry {
            name: g.name,
            verdict: g.verdict.into(),
            addresses: g.addresses,
        })
        .collect();
    Some(entry(
        at,
        Event::Delegation {
            zone: config.name.clone(),
            ok: after.ok,
            alarm: after.alarm,
            agrees_with_zone: after.agrees_with_zone,
            glue,
            problems: after
                .problems
                .iter()
                .take(MAX_REASONS)
                .map(|p| sanitize(p, MAX_DETAIL_CHARS))
                .collect(),
            error: after
                .error
                .as_deref()
                .map(|e| sanitize(e, MAX_DETAIL_CHARS)),
        },
    ))
}

fn serial_of(server: &ZoneServerState) -> Option<u32> {
    server.latest.as_ref()?.value.result.as_ref().ok()?.serial
}

fn error_of(outcome: &ZoneOutcome) -> Option<String> {
    outcome
        .result
        .as_ref()
        .err()
        .map(|e| sanitize(&e.to_string(), MAX_DETAIL_CHARS))
}

/// A tick, untick or note, at the time it was made (the time recorded in the state file,
/// so the journal and the state file agree).
/// A delivery's news, as the journal keeps it.
pub fn notify_event(news: &store::NotifyNews) -> Entry {
    let (status, late, attempts, detail, pending, text) = match &news.delivered {
        store::Delivered::Sent {
            late,
            attempts,
            answer,
        } => ("sent", *late, *attempts, answer.clone(), None, None),
        store::Delivered::Failed {
            attempts,
            error,
            pending,
            text,
        } => (
            "failed",
            false,
            *attempts,
            error.clone(),
            Some(*pending),
            Some(sanitize(text, MAX_DETAIL_CHARS)),
        ),
    };
    entry(
        SystemTime::now(),
        Event::Notify {
            notify: news.notify.clone(),
            seq: news.seq,
            status: status.into(),
            late,
            attempts,
            detail: (!detail.is_empty()).then(|| sanitize(&detail, MAX_DETAIL_CHARS)),
            pending,
            text,
        },
    )
}

pub fn checklist_event(event: &ChecklistEvent) -> Entry {
    match event {
        ChecklistEvent::Tick { id, tick } => Entry {
            at: tick.at,
            event: Event::Tick {
                id: id.clone(),
                done: tick.done,
                who: tick.who.clone(),
                forced: tick.forced,
                evidence: tick.evidence.clone(),
            },
        },
        ChecklistEvent::Note { id, note } => Entry {
            at: note.at,
            event: Event::Note {
                id: id.clone(),
                text: sanitize(&note.text, MAX_TEXT_CHARS),
                who: note.who.clone(),
            },
        },
    }
}

/// The first line a moveday writes: the move, its hosts, its window and its plan.
pub fn start_event(inv: &Inventory, who: &str, at: SystemTime) -> Entry {
    entry(
        at,
        Event::Start {
            name: inv.name.clone(),
            inventory: inv.path.display().to_string(),
            who: Some(who.to_string()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            pid: Some(std::process::id()),
            hosts: inv
                .hosts
                .iter()
                .map(|h| StartHost {
                    name: h.name.clone(),
                    fqdn: h.fqdn.clone(),
                })
                .collect(),
            resolvers: inv.resolvers.iter().map(|r| r.name.clone()).collect(),
            window_start: inv.window_start,
            window_end: inv.window_end,
            checklist: inv.checklist.iter().map(StartItem::from).collect(),
        },
    )
}

/// The last line a moveday writes (`reason`: `quit`, `SIGTERM`, ...).
pub fn stop_event(at: SystemTime, reason: Option<&str>) -> Entry {
    entry(
        at,
        Event::Stop {
            reason: reason.map(|r| sanitize(r, MAX_DETAIL_CHARS)),
            pid: Some(std::process::id()),
        },
    )
}

/// A note typed into the dashboard, about `host` if given; `None` when the text is blank.
/// Line breaks become spaces and control characters visible escapes.
pub fn text_event(text: &str, who: &str, host: Option<&str>, at: SystemTime) -> Option<Entry> {
    let text = sanitize(text.trim(), MAX_TEXT_CHARS);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(entry(
        at,
        Event::Text {
            text: text.to_string(),
            who: who.to_string(),
            host: host.map(str::to_string),
        },
    ))
}

mod canary;
mod mail;
#[cfg(test)]
mod tests;
mod vantage;
