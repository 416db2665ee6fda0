//! The report's host sections: each host's health, checks, probe target, hosts-file entry
//! and old address over time, why it was not up, and when every host was up at once.

use chrono::{DateTime, Utc};

use super::{
    AddressKind, AllGreen, CheckPeriod, CheckReport, CheckState, Entry, Event, HealthPeriod,
    HostHealth, HostReport, HostsFilePeriod, OldPeriod, Replay, Span, TargetChange, clip, runs,
    spans,
};
use crate::config::Inventory;
use crate::store;

/// A host's health changes: when, to what (never `unknown`), with the event's reasons.
type HealthChange = (DateTime<Utc>, HostHealth, Vec<String>);

/// Every host's health changes, with the host's index: what [`Replay::all_green`] reads.
type HostHealthChange = (DateTime<Utc>, usize, HostHealth);

impl Replay<'_> {
    /// Each host's report, hosts in the inventory's order, and the health changes of all
    /// of them.
    pub(super) fn hosts(&self) -> (Vec<HostReport>, Vec<HostHealthChange>) {
        let mut reports = Vec::new();
        let mut health_changes = Vec::new();
        for (index, (host, fqdn)) in self.meta.hosts.iter().enumerate() {
            let mine: Vec<&Entry> = self
                .sorted
                .iter()
                .copied()
                .filter(|e| e.host() == Some(host.as_str()))
                .collect();
            let changes = health_changes_of(&mine);
            health_changes.extend(changes.iter().map(|(at, h, _)| (*at, index, *h)));
            reports.push(self.host_report(host, fqdn, &mine, &changes));
        }
        (reports, health_changes)
    }

    /// One host, from its own entries (`mine`) and its health changes.
    fn host_report(
        &self,
        host: &str,
        fqdn: &str,
        mine: &[&Entry],
        changes: &[HealthChange],
    ) -> HostReport {
        let periods = self.health_periods(mine, changes);
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
            fqdn_in_journal(mine)
        } else {
            fqdn.to_string()
        };
        HostReport {
            name: host.to_string(),
            fqdn,
            health_at_end: last.map(|l| l.1),
            reasons_at_end: match last {
                Some((_, HostHealth::Up, _)) | None => Vec::new(),
                Some((_, _, reasons)) => {
                    let now = reasons_at_end(mine, reasons);
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
            checks: check_reports(self.inventory, host, mine, self.from, self.end),
            targets: self.targets(mine),
            hosts_file: self.hosts_file(mine),
            old_answering: self.old_answering(mine),
        }
    }

    /// Every health the host had, each with why it was not up (from its checks, else from
    /// the health event).
    fn health_periods(&self, mine: &[&Entry], changes: &[HealthChange]) -> Vec<HealthPeriod> {
        // Once per host, not once per period: a long journal has many periods.
        let checks = check_changes(mine);
        spans(changes, self.from, self.end)
            .into_iter()
            .map(|(health, reasons, span)| {
                let from_checks = if health == HostHealth::Up {
                    Vec::new()
                } else {
                    period_reasons(&checks, &span, &reasons)
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
            .collect()
    }

    /// Where the host's probes went, each time that changed within the report.
    fn targets(&self, mine: &[&Entry]) -> Vec<TargetChange> {
        mine.iter()
            .filter(|e| self.in_range(e.at))
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
            .collect()
    }

    /// The periods when this machine's hosts file had an entry for the host.
    fn hosts_file(&self, mine: &[&Entry]) -> Vec<HostsFilePeriod> {
        type HostsKey = (Vec<std::net::IpAddr>, Option<AddressKind>);
        let changes: Vec<(DateTime<Utc>, HostsKey, Vec<usize>)> = mine
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
        spans(&changes, self.from, self.end)
            .into_iter()
            .filter(|((addresses, _), _, _)| !addresses.is_empty())
            .map(|((addresses, address), lines, span)| HostsFilePeriod {
                addresses,
                lines,
                address,
                span,
            })
            .collect()
    }

    /// The periods when the host's old address answered.
    fn old_answering(&self, mine: &[&Entry]) -> Vec<OldPeriod> {
        type OldPayload = (std::net::IpAddr, Option<String>);
        let changes: Vec<(DateTime<Utc>, bool, OldPayload)> = mine
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
        spans(&changes, self.from, self.end)
            .into_iter()
            .filter(|(answering, _, _)| *answering)
            .map(|(_, (ip, detail), span)| OldPeriod { ip, detail, span })
            .collect()
    }

    /// When every host was up at once: from every host's health changes, in time order.
    pub(super) fn all_green(&self, mut health_changes: Vec<HostHealthChange>) -> AllGreen {
        let mut now: Vec<Option<HostHealth>> = vec![None; self.meta.hosts.len()];
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
        let green: Vec<Span> = spans(&green_changes, self.from, self.end)
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
        AllGreen {
            hosts: self.meta.hosts.len(),
            move_started,
            first: after_move.map(|s| s.from),
            already: after_move.is_some_and(|s| s.clipped),
            since: green.last().filter(|s| s.ongoing).map(|s| s.from),
            periods: green,
        }
    }
}

/// A host's health changes (`unknown` does not count: it only means a moveday had just
/// started or the target had just moved).
fn health_changes_of(mine: &[&Entry]) -> Vec<HealthChange> {
    mine.iter()
        .filter_map(|e| match &e.event {
            Event::Health { to, reasons, .. } if *to != HostHealth::Unknown => {
                Some((e.at, *to, reasons.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The name the journal's DNS events give a host the inventory gives none.
fn fqdn_in_journal(mine: &[&Entry]) -> String {
    mine.iter()
        .find_map(|e| match &e.event {
            Event::Dns { fqdn, .. } => Some(fqdn.clone()),
            _ => None,
        })
        .unwrap_or_default()
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
/// Amber checks (flap damping still deciding) do not count. `checks` are the host's
/// ([`check_changes`]), each in time order: only the changes that can touch the span are
/// looked at.
fn period_reasons(
    checks: &[(&str, Vec<CheckChange<'_>>)],
    span: &Span,
    event_reasons: &[String],
) -> Vec<String> {
    let span_ms = (span.to - span.from).num_milliseconds();
    let needed = span_ms.min(10_000);
    let mut out = Vec::new();
    for (name, changes) in checks {
        let mut results: Vec<&str> = Vec::new();
        // The change in force at the span's start, through the last one within it.
        let first = changes
            .partition_point(|c| c.0 < span.from)
            .saturating_sub(1);
        let last = changes.partition_point(|c| c.0 <= span.to);
        for (i, (since, state, result, _)) in changes.iter().enumerate().take(last).skip(first) {
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
    out.extend(other_reasons(event_reasons, checks));
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
    names
        .into_iter()
        .filter_map(|name| check_report(name, mine, from, end))
        .collect()
}

/// What a check's periods are told apart by: what it saw, at which kind of address, and
/// the address itself when it is neither old nor new.
type CheckKey = (String, Option<AddressKind>, Option<std::net::IpAddr>);
/// What a check's period keeps of each of its events: the damped state, the detail, the
/// address probed.
type CheckPayload = (CheckState, Option<String>, Option<std::net::IpAddr>);

/// One check's history; `None` when the journal has nothing about it.
fn check_report(
    name: String,
    mine: &[&Entry],
    from: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<CheckReport> {
    let events: Vec<(DateTime<Utc>, CheckKey, CheckPayload)> = mine
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
    let (_, (result_at_end, _, _), (state_at_end, _, _)) = events.last()?;
    let first_up = |new_only: bool| {
        events
            .iter()
            .find(|(_, (_, address, _), (state, _, _))| {
                *state == CheckState::Up && (!new_only || *address == Some(AddressKind::New))
            })
            .map(|(at, _, _)| *at)
    };
    Some(CheckReport {
        first_worked: first_up(false),
        first_worked_new: first_up(true),
        state_at_end: Some(*state_at_end),
        result_at_end: Some(result_at_end.clone()),
        history: check_history(&events, from, end),
        check: name,
    })
}

/// A check's periods within `[from, end]`, each marked a blip when it failed without ever
/// turning red and then passed (flap damping absorbed it).
fn check_history(
    events: &[(DateTime<Utc>, CheckKey, CheckPayload)],
    from: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<CheckPeriod> {
    let cut = clip(runs(events), from, end);
    cut.iter()
        .enumerate()
        .map(|(i, ((result, address, _), payloads, span))| {
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
        .collect()
}
