//! The report as a post for a mailing list: short sections, local times with the date
//! given once, durations like `2h 14m`.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, Local, NaiveDate, Utc};

use super::{
    CheckPeriod, CheckReport, HealthPeriod, HostReport, PostMortem, SecondaryReport, Span,
};
use crate::journal::{AddressKind, DnsVerdict, HostHealth};

/// Which clock the report's times are shown in.
#[derive(Debug, Clone, Copy)]
pub enum TimeZoneChoice {
    /// This machine's local time (`TZ` is respected).
    Local,
    Fixed(FixedOffset),
}

/// The report in Markdown, in local time.
pub fn markdown(pm: &PostMortem) -> String {
    markdown_in(pm, TimeZoneChoice::Local)
}

/// Turns times into words.
struct Clock {
    tz: TimeZoneChoice,
    /// Times on this (local) day are shown without their date.
    day: NaiveDate,
    /// Seconds are shown (a report that covers less than an hour).
    precise: bool,
    /// The report's start: earlier times read "before" it.
    from: DateTime<Utc>,
}

impl Clock {
    fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        match self.tz {
            TimeZoneChoice::Local => t.with_timezone(&Local).fixed_offset(),
            TimeZoneChoice::Fixed(offset) => t.with_timezone(&offset),
        }
    }

    /// `14:02` (`14:02:07` when precise), or `Sun 6 Dec 14:02` on another day.
    fn time(&self, t: DateTime<Utc>) -> String {
        let local = self.local(t);
        let clock = if self.precise { "%H:%M:%S" } else { "%H:%M" };
        if local.date_naive() == self.day {
            local.format(clock).to_string()
        } else {
            local.format(&format!("%a %-d %b {clock}")).to_string()
        }
    }

    /// [`time`](Self::time), or `before 14:00` for a time before the report's start.
    fn when(&self, t: DateTime<Utc>) -> String {
        if t < self.from {
            format!("before {}", self.time(self.from))
        } else {
            self.time(t)
        }
    }

    /// `45s`, `4m`, `2h 14m`, `35h`, `3d 4h` (rounded down; seconds only when precise).
    fn dur(&self, secs: i64) -> String {
        duration(secs, self.precise)
    }
}

/// A duration in words, rounded down.
pub(super) fn duration(secs: i64, precise: bool) -> String {
    let secs = secs.max(0);
    if secs < 60 {
        return if precise {
            format!("{secs}s")
        } else {
            "under a minute".into()
        };
    }
    if secs < 3600 {
        let (m, s) = (secs / 60, secs % 60);
        return if precise && s > 0 {
            format!("{m}m {s}s")
        } else {
            format!("{m}m")
        };
    }
    if secs < 72 * 3600 {
        let (h, m) = (secs / 3600, secs % 3600 / 60);
        return if m > 0 {
            format!("{h}h {m}m")
        } else {
            format!("{h}h")
        };
    }
    let (d, h) = (secs / 86400, secs % 86400 / 3600);
    if h > 0 {
        format!("{d}d {h}h")
    } else {
        format!("{d}d")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn reasons(reasons: &[String]) -> String {
    match reasons.len() {
        0 => String::new(),
        1..=3 => reasons.join(", "),
        n => format!("{}, and {} more", reasons[..3].join(", "), n - 3),
    }
}

fn ips(addresses: &[std::net::IpAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The report in Markdown, with times in `tz`.
pub fn markdown_in(pm: &PostMortem, tz: TimeZoneChoice) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}: move report\n", pm.name);
    let (Some(from), Some(to)) = (pm.from, pm.to) else {
        let _ = writeln!(
            out,
            "The journal `{}` has no events: nothing to report.",
            pm.journal
        );
        warnings(&mut out, pm);
        return super::escape::escape_markdown(&out);
    };
    let mut clock = Clock {
        tz,
        day: NaiveDate::default(),
        precise: (to - from).num_seconds() < 3600,
        from,
    };
    let start = clock.local(from);
    clock.day = start.date_naive();
    let _ = writeln!(
        out,
        "A first draft of the post-mortem, written by `moveday report` from the journal `{}` ({}). \
         Times are local (UTC{}) on {} unless another day is given; durations are rounded down.",
        pm.journal,
        plural(pm.events, "event", "events"),
        start.format("%:z"),
        start.format("%a %-d %b %Y"),
    );
    if let Some(since) = pm.since {
        let _ = writeln!(
            out,
            "\nIt covers the time from {} to {}; what happened before only sets the scene.",
            clock.time(since.max(from)),
            clock.time(to)
        );
    }

    summary(&mut out, pm, &clock, from, to);
    hosts(&mut out, pm, &clock);
    probes(&mut out, pm, &clock);
    dns(&mut out, pm, &clock);
    zones(&mut out, pm, &clock);
    canaries(&mut out, pm, &clock);
    mail(&mut out, pm, &clock);
    vantages(&mut out, pm, &clock);
    notifications(&mut out, pm);
    checklist(&mut out, pm, &clock);
    notes(&mut out, pm, &clock);
    still_open(&mut out, pm, &clock, to);
    warnings(&mut out, pm);
    super::escape::escape_markdown(&out)
}

/// How a time relates to the advertised window.
fn against_window(pm: &PostMortem, clock: &Clock, t: DateTime<Utc>) -> String {
    let secs = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_seconds();
    match (pm.window.start, pm.window.end) {
        (Some(s), _) if t < s => format!(", {} before the window opened", clock.dur(secs(t, s))),
        (_, Some(e)) if t > e => format!(", {} after the window closed", clock.dur(secs(e, t))),
        (Some(s), Some(e)) => format!(
            ", {} into the window and {} before its end",
            clock.dur(secs(s, t)),
            clock.dur(secs(t, e))
        ),
        (Some(s), None) => format!(", {} into the window", clock.dur(secs(s, t))),
        (None, Some(e)) => format!(", {} before the window closed", clock.dur(secs(t, e))),
        (None, None) => String::new(),
    }
}

/// When some moveday was watching: its runs, overlapping runs (two admins) joined. A run
/// without a stop (killed) lasts until its author's next start (the restart), else the
/// next start, else the end of the journal.
fn watched(pm: &PostMortem, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut runs: Vec<(DateTime<Utc>, DateTime<Utc>)> = pm
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let later = &pm.runs[i + 1..];
            let next = later
                .iter()
                .find(|n| n.who == r.who)
                .or(later.first())
                .map_or(to, |n| n.start);
            (r.start, r.stop.unwrap_or(next))
        })
        .collect();
    runs.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (start, stop) in runs {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(stop),
            _ => merged.push((start, stop)),
        }
    }
    merged
}

/// The summary: the window, when moveday watched, when every host was up, hosts that went
/// down before the window, downtime, and how things stood at the end.
fn summary(
    out: &mut String,
    pm: &PostMortem,
    clock: &Clock,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    let _ = writeln!(out, "\n## Summary\n");
    window_line(out, pm, clock);
    watched_line(out, pm, clock, from, to);
    all_green_line(out, pm, clock);
    down_before_window(out, pm, clock, from);
    downtime_line(out, pm, clock);
    end_line(out, pm, clock, to);
}

/// The advertised window, as much of it as is known.
fn window_line(out: &mut String, pm: &PostMortem, clock: &Clock) {
    match (pm.window.start, pm.window.end) {
        (Some(s), Some(e)) => {
            let _ = writeln!(
                out,
                "- Advertised window: {} to {} ({}).",
                clock.time(s),
                clock.time(e),
                clock.dur((e - s).num_seconds())
            );
        }
        (Some(s), None) => {
            let _ = writeln!(out, "- The advertised window opened at {}.", clock.time(s));
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "- The advertised window closed at {}.", clock.time(e));
        }
        (None, None) => {}
    }
}

/// When moveday watched (or, without runs, what the journal covers).
fn watched_line(
    out: &mut String,
    pm: &PostMortem,
    clock: &Clock,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    let runs: Vec<String> = watched(pm, to)
        .iter()
        .map(|(start, stop)| format!("{} to {}", clock.when(*start), clock.time(*stop)))
        .collect();
    match runs.len() {
        0 => {
            let _ = writeln!(
                out,
                "- The journal runs from {} to {}.",
                clock.time(from),
                clock.time(to)
            );
        }
        1 => {
            let _ = writeln!(out, "- moveday watched from {}.", runs[0]);
        }
        n => {
            let _ = writeln!(out, "- moveday watched {n} times: {}.", list(&runs));
        }
    }
}

/// When every host was up at once, against the window, and whether they stayed so.
fn all_green_line(out: &mut String, pm: &PostMortem, clock: &Clock) {
    let n = pm.all_green.hosts;
    if n == 0 {
        return;
    }
    let all = if n == 1 {
        "The host was".to_string()
    } else {
        format!("All {n} hosts were")
    };
    match pm.all_green.first {
        Some(t) if pm.all_green.already && pm.all_green.periods.len() == 1 => {
            let _ = writeln!(
                out,
                "- {all} up from the start, {}, to the end.",
                clock.time(t)
            );
        }
        Some(t) => {
            let first = if pm.all_green.already {
                format!("- {all} up at the start ({})", clock.time(t))
            } else {
                format!(
                    "- {all} up at {}{}",
                    clock.time(t),
                    against_window(pm, clock, t)
                )
            };
            let after = match pm.all_green.since {
                Some(s) if s == t => String::new(),
                Some(s) => format!(
                    "; not all up again after that, until {}{}",
                    clock.time(s),
                    against_window(pm, clock, s)
                ),
                None => "; not all up at the end".into(),
            };
            let _ = writeln!(out, "{first}{after}.");
        }
        None => {
            let not_up = pm
                .hosts
                .iter()
                .filter(|h| h.health_at_end != Some(HostHealth::Up))
                .map(|h| h.name.clone())
                .collect::<Vec<_>>();
            let when = match pm.all_green.move_started {
                Some(m) if !pm.all_green.periods.is_empty() => format!(
                    "never all up again after the first went down at {}",
                    clock.when(m)
                ),
                _ => "never all up at once".to_string(),
            };
            let _ = writeln!(
                out,
                "- The hosts were {when}: {} not up at the end.",
                list(&not_up)
            );
        }
    }
}

/// Hosts that went down (within the report) before the window opened.
fn down_before_window(out: &mut String, pm: &PostMortem, clock: &Clock, from: DateTime<Utc>) {
    let Some(ws) = pm.window.start else {
        return;
    };
    for h in &pm.hosts {
        if let Some(d) = h.went_down.filter(|d| *d < ws && *d >= from) {
            let _ = writeln!(
                out,
                "- {} went down at {}, {} before the window opened.",
                h.name,
                clock.time(d),
                clock.dur((ws - d).num_seconds())
            );
        }
    }
}

/// Each host's downtime, longest first.
fn downtime_line(out: &mut String, pm: &PostMortem, clock: &Clock) {
    let mut down: Vec<&HostReport> = pm.hosts.iter().filter(|h| h.downtime_seconds > 0).collect();
    down.sort_by_key(|h| std::cmp::Reverse(h.downtime_seconds));
    if down.is_empty() {
        return;
    }
    let items: Vec<String> = down
        .iter()
        .map(|h| {
            let still = if h.health_at_end == Some(HostHealth::Down) {
                " (still down)"
            } else {
                ""
            };
            format!("{} {}{still}", h.name, clock.dur(h.downtime_seconds))
        })
        .collect();
    let _ = writeln!(out, "- Downtime: {}.", items.join(", "));
}

/// How the hosts and the checklist stood at the end, and whether anything is left open.
fn end_line(out: &mut String, pm: &PostMortem, clock: &Clock, to: DateTime<Utc>) {
    let mut counts = Vec::new();
    for health in [
        HostHealth::Up,
        HostHealth::Degraded,
        HostHealth::Down,
        HostHealth::Unknown,
    ] {
        let k = pm
            .hosts
            .iter()
            .filter(|h| h.health_at_end.unwrap_or(HostHealth::Unknown) == health)
            .count();
        if k > 0 {
            counts.push(format!("{k} {}", health.word()));
        }
    }
    let mut end = format!("- At the end ({}): ", clock.time(to));
    if !counts.is_empty() {
        end.push_str(&counts.join(", "));
    }
    let not_done = pm.checklist.not_done.len();
    if not_done > 0 {
        if !counts.is_empty() {
            end.push_str("; ");
        }
        end.push_str(&format!(
            "{} not done",
            plural(not_done, "checklist item", "checklist items")
        ));
    }
    if pm.still_open.is_empty() {
        end.push_str(if counts.is_empty() && not_done == 0 {
            "nothing open."
        } else {
            ". Nothing is left open."
        });
    } else {
        if !counts.is_empty() || not_done > 0 {
            end.push_str(". ");
        }
        end.push_str("What is still open is listed at the bottom.");
    }
    let _ = writeln!(out, "{end}");
}

fn period_text(p: &HealthPeriod, first: bool, clock: &Clock) -> String {
    let why = if p.health == HostHealth::Up || p.reasons.is_empty() {
        String::new()
    } else {
        format!(": {}", reasons(&p.reasons))
    };
    let word = p.health.word();
    let span = &p.span;
    match (span.ongoing, span.clipped && first) {
        (true, true) => {
            if p.health == HostHealth::Up {
                format!("{word} throughout")
            } else {
                format!("{word} throughout ({}{why})", clock.dur(span.seconds))
            }
        }
        (true, false) => {
            if p.health == HostHealth::Up {
                format!("{word} since {}", clock.time(span.from))
            } else {
                format!(
                    "{word} since {} ({} by the end{why})",
                    clock.time(span.from),
                    clock.dur(span.seconds)
                )
            }
        }
        (false, true) => format!(
            "{word} until {} ({}{why})",
            clock.time(span.to),
            clock.dur(span.seconds)
        ),
        (false, false) => format!(
            "{word} {} to {} ({}{why})",
            clock.time(span.from),
            clock.time(span.to),
            clock.dur(span.seconds)
        ),
    }
}

/// A host's periods for reading: a moment of amber (under a minute in a report in
/// minutes, under 5 s in one in seconds) that is not the last period is left out (a check
/// failing once, flap damping deciding, a host seen again before all its checks
/// reported), and what it separated is joined. The JSON keeps every period.
fn readable_periods(periods: &[HealthPeriod], precise: bool) -> Vec<HealthPeriod> {
    let brief = if precise { 5 } else { 60 };
    let mut shown: Vec<HealthPeriod> = Vec::new();
    for (i, p) in periods.iter().enumerate() {
        let last = i + 1 == periods.len();
        if !last && p.health == HostHealth::Degraded && p.span.seconds < brief {
            continue;
        }
        if let Some(prev) = shown.last_mut()
            && prev.health == p.health
        {
            prev.span.to = p.span.to;
            prev.span.ongoing = p.span.ongoing;
            prev.span.seconds = (prev.span.to - prev.span.from).num_seconds();
            for r in &p.reasons {
                if !prev.reasons.contains(r) {
                    prev.reasons.push(r.clone());
                }
            }
            continue;
        }
        shown.push(p.clone());
    }
    shown
}

fn hosts(out: &mut String, pm: &PostMortem, clock: &Clock) {
    if pm.hosts.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Hosts\n");
    for h in &pm.hosts {
        let periods = readable_periods(&h.periods, clock.precise);
        let texts: Vec<String> = periods
            .iter()
            .enumerate()
            .map(|(i, p)| period_text(p, i == 0, clock))
            .collect();
        let mut line = if texts.is_empty() {
            "no result in the journal".to_string()
        } else if texts.len() > 10 {
            format!(
                "{}, … {} more changes …, {}",
                texts[..3].join(", "),
                texts.len() - 8,
                texts[texts.len() - 5..].join(", ")
            )
        } else {
            texts.join(", ")
        };
        let outages = periods
            .iter()
            .filter(|p| p.health == HostHealth::Down)
            .count();
        if outages > 1 {
            line.push_str(&format!(
                ". Down {} in all, in {outages} outages",
                clock.dur(h.downtime_seconds)
            ));
        }
        let _ = writeln!(out, "- {}: {line}.", h.name);
        for old in &h.old_answering {
            let what = old
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let when = if old.span.ongoing {
                "still answers at the end".to_string()
            } else if old.span.clipped {
                format!("answered until {}", clock.time(old.span.to))
            } else {
                format!(
                    "answered from {} to {}",
                    clock.time(old.span.from),
                    clock.time(old.span.to)
                )
            };
            let _ = writeln!(out, "  - Its old address {} {when}{what}.", old.ip);
        }
    }
}

/// One period of a check. The address is named where it changes (and at the start when
/// it is not the new one): `ok at the old address until 09:02, timeout until 13:40, ok at
/// the new address since 13:40`.
fn run_text(
    p: &CheckPeriod,
    prev: Option<&CheckPeriod>,
    last: bool,
    single: bool,
    clock: &Clock,
) -> String {
    let changed = match prev {
        None => p.address != Some(AddressKind::New),
        Some(prev) => prev.address != p.address || prev.ip != p.ip,
    };
    let at = match (changed, p.address, p.ip) {
        (false, _, _) => String::new(),
        (true, Some(AddressKind::Old), _) => " at the old address".to_string(),
        (true, Some(AddressKind::New), _) => " at the new address".to_string(),
        (true, _, Some(ip)) => format!(" at {ip}"),
        (true, _, None) => String::new(),
    };
    if p.blip {
        return format!(
            "{}{at} at {} (recovered on retry)",
            p.result,
            clock.time(p.span.from)
        );
    }
    match (last, single && p.span.clipped) {
        (true, true) => format!("{}{at} throughout", p.result),
        (true, false) => format!("{}{at} since {}", p.result, clock.time(p.span.from)),
        (false, _) => format!("{}{at} until {}", p.result, clock.time(p.span.to)),
    }
}

fn check_text(c: &CheckReport, clock: &Clock) -> String {
    let n = c.history.len();
    let texts: Vec<String> = c
        .history
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let prev = i.checked_sub(1).and_then(|j| c.history.get(j));
            run_text(p, prev, i + 1 == n, n == 1, clock)
        })
        .collect();
    let mut text = if texts.len() > 8 {
        format!(
            "… {} earlier changes, {}",
            texts.len() - 6,
            texts[texts.len() - 6..].join(", ")
        )
    } else {
        texts.join(", ")
    };
    let knows_addresses = c
        .history
        .iter()
        .any(|p| matches!(p.address, Some(AddressKind::New | AddressKind::Old)));
    match (c.first_worked_new, c.first_worked) {
        (Some(t), _) if n > 1 => {
            text.push_str(&format!(
                "; first worked on the new address at {}",
                clock.when(t)
            ));
        }
        (None, Some(t)) if knows_addresses => {
            text.push_str(&format!(
                "; worked at {}, but never on the new address",
                clock.when(t)
            ));
        }
        (None, None) => text.push_str("; never worked"),
        _ => {}
    }
    text
}

fn probes(out: &mut String, pm: &PostMortem, clock: &Clock) {
    if pm.hosts.iter().all(|h| h.checks.is_empty()) {
        return;
    }
    let _ = writeln!(out, "\n## Services and ports\n");
    let _ = writeln!(
        out,
        "What each probe saw, and when it first worked on the new address."
    );
    for h in pm.hosts.iter().filter(|h| !h.checks.is_empty()) {
        let _ = writeln!(out, "\n### {}\n", h.name);
        // Checks with the same story share a line.
        let mut lines: Vec<(Vec<String>, String)> = Vec::new();
        for c in &h.checks {
            let text = check_text(c, clock);
            match lines.iter_mut().find(|(_, t)| *t == text) {
                Some((names, _)) => names.push(c.check.clone()),
                None => lines.push((vec![c.check.clone()], text)),
            }
        }
        for (names, text) in lines {
            let _ = writeln!(out, "- {}: {text}.", names.join(", "));
        }
    }
}

fn dns(out: &mut String, pm: &PostMortem, clock: &Clock) {
    let hosts_file: Vec<(&HostReport, &super::HostsFilePeriod)> = pm
        .hosts
        .iter()
        .flat_map(|h| h.hosts_file.iter().map(move |p| (h, p)))
        .filter(|(_, p)| p.address == Some(AddressKind::Old))
        .collect();
    if pm.dns.is_empty() && hosts_file.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## DNS\n");
    for name in &pm.dns {
        let mut new: Vec<(DateTime<Utc>, &str)> = name
            .resolvers
            .iter()
            .filter_map(|r| Some((r.first_new?, r.resolver.as_str())))
            .collect();
        new.sort();
        let mut parts = Vec::new();
        if !new.is_empty() {
            let at: Vec<String> = new
                .iter()
                .map(|(t, r)| format!("{r} {}", clock.when(*t)))
                .collect();
            parts.push(format!("new at {}", list(&at)));
        }
        for r in &name.resolvers {
            match r.verdict_at_end {
                Some(DnsVerdict::New) | None => {}
                Some(DnsVerdict::Old) => parts.push(format!(
                    "{} still served the old address ({}) at the end",
                    r.resolver,
                    ips(&r.addresses_at_end)
                )),
                Some(DnsVerdict::Other) => parts.push(format!(
                    "{} served {} (neither old nor new) at the end",
                    r.resolver,
                    ips(&r.addresses_at_end)
                )),
                Some(v) => parts.push(format!("{} answered {} at the end", r.resolver, v.word())),
            }
        }
        let subject = if name.fqdn.is_empty() {
            &name.host
        } else {
            &name.fqdn
        };
        let _ = writeln!(out, "- {subject}: {}.", parts.join("; "));
    }
    for (h, p) in hosts_file {
        let lines: Vec<String> = p.lines.iter().map(ToString::to_string).collect();
        let line = if lines.is_empty() {
            String::new()
        } else {
            format!(" (line {})", lines.join(", "))
        };
        let when = match (p.span.ongoing, p.span.clipped) {
            (true, true) => "throughout".to_string(),
            (true, false) => format!("from {} to the end", clock.time(p.span.from)),
            (false, true) => format!("until {}", clock.time(p.span.to)),
            (false, false) => format!(
                "from {} to {}",
                clock.time(p.span.from),
                clock.time(p.span.to)
            ),
        };
        let _ = writeln!(
            out,
            "- This machine's hosts file sent {} to the old address {}{line} {when}.",
            h.name,
            ips(&p.addresses)
        );
    }
}

fn lag_text(span: &Span, clock: &Clock) -> String {
    match (span.ongoing, span.clipped) {
        (true, true) => format!("behind throughout ({})", clock.dur(span.seconds)),
        (true, false) => format!(
            "behind since {} ({} by the end)",
            clock.time(span.from),
            clock.dur(span.seconds)
        ),
        (false, true) => format!(
            "behind until {} ({})",
            clock.time(span.to),
            clock.dur(span.seconds)
        ),
        (false, false) => format!(
            "behind {} to {} ({})",
            clock.time(span.from),
            clock.time(span.to),
            clock.dur(span.seconds)
        ),
    }
}

fn zones(out: &mut String, pm: &PostMortem, clock: &Clock) {
    if pm.zones.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Zones\n");
    for z in &pm.zones {
        if !z.primary_serials.is_empty() {
            let serials: Vec<String> = z
                .primary_serials
                .iter()
                .map(|s| {
                    let serial = super::serial_word(s.serial);
                    if s.clipped {
                        format!("{serial} at the start")
                    } else {
                        format!("{serial} at {}", clock.time(s.at))
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "- {}: the primary ({}) served serial {}.",
                z.zone,
                z.primary.as_deref().unwrap_or("?"),
                list(&serials)
            );
        }
        for s in &z.secondaries {
            secondary_line(out, &z.zone, s, clock);
        }
        if let Some(d) = &z.delegation {
            delegation_lines(out, &z.zone, d, clock);
        }
    }
}

/// When the parent's glue for each NS name first pointed at the new address (or that it
/// never did), and what was still wrong with the delegation at the end.
fn delegation_lines(out: &mut String, zone: &str, d: &super::DelegationReport, clock: &Clock) {
    for g in &d.glue {
        let text = match g.first_new {
            Some(at) if at <= clock.from => format!(
                "parent glue for {} pointed at {} (new) from the start",
                g.name,
                ips(&g.new_addresses)
            ),
            Some(at) => format!(
                "parent glue for {} first pointed at {} (new) at {}, {} after the start",
                g.name,
                ips(&g.new_addresses),
                clock.time(at),
                clock.dur((at - clock.from).num_seconds())
            ),
            None => format!(
                "parent glue for {} never pointed at the new address: {} ({}) at the end",
                g.name,
                ips(&g.addresses_at_end),
                g.verdict_at_end.word()
            ),
        };
        let _ = writeln!(out, "- {zone}: {text}.");
    }
    if let Some(e) = &d.error_at_end {
        let _ = writeln!(out, "- {zone}: {e} at the end.");
    } else if !d.ok_at_end {
        for p in d
            .problems_at_end
            .iter()
            .filter(|p| !p.starts_with("parent glue for"))
        {
            let _ = writeln!(out, "- {zone}: {p} at the end.");
        }
    }
}

/// Each notification endpoint: what was delivered (late), what failed, what still waited.
fn notifications(out: &mut String, pm: &PostMortem) {
    if pm.notifications.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Notifications\n");
    for n in &pm.notifications {
        let late = match n.late {
            0 => String::new(),
            l => format!(" ({l} late)"),
        };
        let failed = match n.failed_attempts {
            0 => String::new(),
            f => format!("; {f} attempts failed"),
        };
        let waiting = match (n.pending_at_end, &n.last_error) {
            (0, _) => String::new(),
            (p, Some(e)) => format!("; {p} not delivered at the end: {e}"),
            (p, None) => format!("; {p} not delivered at the end"),
        };
        let _ = writeln!(
            out,
            "- {}: {} delivered{late}{failed}{waiting}.",
            n.notify, n.delivered
        );
    }
}

/// Each vantage point: when it first saw each host up, or that it never did; and that it
/// gave no view at the end.
fn vantages(out: &mut String, pm: &PostMortem, clock: &Clock) {
    if pm.vantages.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## From other vantage points\n");
    for v in &pm.vantages {
        for h in &v.hosts {
            let text = match h.first_up {
                Some(at) if at <= clock.from => format!("saw {} up from the start", h.host),
                Some(at) => format!(
                    "first saw {} up at {}, {} after the start",
                    h.host,
                    clock.time(at),
                    clock.dur((at - clock.from).num_seconds())
                ),
                None => format!(
                    "never saw {} up ({} at the end)",
                    h.host,
                    h.health_at_end.word()
                ),
            };
            let _ = writeln!(out, "- {}: {text}.", v.vantage);
        }
        if let Some(e) = &v.error_at_end {
            let _ = writeln!(out, "- {}: no view at the end: {e}.", v.vantage);
        }
    }
}

/// Each mail host: when each domain's SPF first passed for the new address, and each
/// listing of it on a blocklist, from when to when.
fn mail(out: &mut String, pm: &PostMortem, clock: &Clock) {
    if pm.mail.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Mail\n");
    for m in &pm.mail {
        for s in &m.spf {
            let text = match s.first_pass {
                Some(at) if at <= clock.from => format!(
                    "SPF of {} passed for the new address from the start",
                    s.domain
                ),
                Some(at) => format!(
                    "SPF of {} first passed for the new address at {}, {} after the start",
                    s.domain,
                    clock.time(at),
                    clock.dur((at - clock.from).num_seconds())
                ),
                None => format!(
                    "SPF of {} never passed for the new address ({} at the end)",
                    s.domain, s.result_at_end
                ),
            };
            let _ = writeln!(out, "- {}: {text}.", m.host);
        }
        for l in &m.listings {
            let ip = l.ip.map(|ip| ip.to_string()).unwrap_or_else(|| "it".into());
            let why = l
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let end = match l.cleared {
                Some(at) => format!(
                    ", cleared at {} after {}",
                    clock.time(at),
                    clock.dur((at - l.listed).num_seconds())
                ),
                None => ", still listed at the end".into(),
            };
            let _ = writeln!(
                out,
                "- {}: {ip} listed on {} at {}{why}{end}.",
                m.host,
                l.zone,
                clock.time(l.listed)
            );
        }
    }
}

/// Each canary run: what was written where and when, then who picked it up how fast and
/// who never did (with whom to call).
fn canaries(out: &mut String, pm: &PostMortem, clock: &Clock) {
    if pm.canaries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Canary runs\n");
    for run in &pm.canaries {
        let text = run
            .text
            .as_deref()
            .map(|t| format!(" \"{t}\""))
            .unwrap_or_default();
        let primary = run.primary.as_deref().unwrap_or("the primary");
        let head = match (&run.not_written, run.written, run.serial) {
            (Some(why), _, _) => format!("not written: {why}"),
            (None, Some(at), Some(serial)) => {
                format!(
                    "written{text} at {primary} at {}, serial {serial}",
                    clock.time(at)
                )
            }
            (None, Some(at), None) => format!("written{text} at {primary} at {}", clock.time(at)),
            (None, None, _) => format!("not acknowledged by {primary}"),
        };
        let _ = writeln!(out, "- {}, {}: {head}.", run.zone, clock.time(run.started));
        for s in &run.secondaries {
            let after = s
                .after_s
                .map(|a| std::time::Duration::from_secs_f64(a.clamp(0.0, 1e9)));
            let line = if s.late {
                crate::store::canary_late_words(
                    &s.server,
                    s.serial,
                    s.error.as_deref(),
                    after,
                    s.contact.as_deref(),
                )
            } else {
                format!(
                    "{} picked it up after {}.",
                    s.server,
                    after.map_or_else(|| "?".into(), crate::store::canary_seconds)
                )
            };
            let _ = writeln!(out, "  - {line}");
        }
        if run.finished.is_none() && run.not_written.is_none() {
            let _ = writeln!(out, "  - the journal ends before the run did.");
        }
    }
}

/// How one secondary kept up with the primary: when it was behind, when it did not answer,
/// and whether it was in step at the end.
fn secondary_line(out: &mut String, zone: &str, s: &SecondaryReport, clock: &Clock) {
    let contact = s
        .contact
        .as_deref()
        .map(|c| format!(" (contact: {c})"))
        .unwrap_or_default();
    let mut parts: Vec<String> = s
        .behind
        .iter()
        .map(|l| {
            format!(
                "{} with {} while the primary had {}",
                lag_text(&l.span, clock),
                super::serial_word(l.serial),
                super::serial_word(l.primary_serial)
            )
        })
        .collect();
    if s.behind.is_empty() {
        parts.push("never behind".into());
    }
    for f in &s.failing {
        parts.push(format!(
            "did not answer {} ({})",
            match (f.span.ongoing, f.span.clipped) {
                (true, _) => format!("from {} to the end", clock.time(f.span.from)),
                (false, true) => format!("until {}", clock.time(f.span.to)),
                (false, false) => format!(
                    "from {} to {}",
                    clock.time(f.span.from),
                    clock.time(f.span.to)
                ),
            },
            f.error
        ));
    }
    let end = if s.behind_at_end {
        String::new()
    } else {
        format!(
            "; in step at the end (serial {})",
            super::serial_word(s.serial_at_end)
        )
    };
    let _ = writeln!(
        out,
        "- {} at {}{contact}: {}{end}.",
        zone,
        s.server,
        parts.join("; ")
    );
}

fn item_label(id: &str, phase: Option<&str>, text: Option<&str>) -> String {
    let phase = phase
        .filter(|p| !p.is_empty())
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    let text = text
        .filter(|t| !t.is_empty())
        .map(|t| format!(": {t}"))
        .unwrap_or_default();
    format!("{id}{phase}{text}")
}

fn checklist(out: &mut String, pm: &PostMortem, clock: &Clock) {
    let c = &pm.checklist;
    if c.ticks.is_empty() && c.never_ticked.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Checklist\n");
    if c.ticks.is_empty() {
        let _ = writeln!(out, "Nothing was ticked.");
    } else {
        let _ = writeln!(out, "In the order they were ticked:\n");
        for t in &c.ticks {
            let label = item_label(&t.id, t.phase.as_deref(), t.text.as_deref());
            let mut line = if t.done {
                format!("- {} {label}: ticked by {}", clock.time(t.at), t.who)
            } else {
                format!("- {} {}: unticked by {}", clock.time(t.at), t.id, t.who)
            };
            if t.forced {
                line.push_str(", forced (its probe was red)");
            }
            if let Some(e) = &t.evidence {
                line.push_str(&format!(" [{e}]"));
            }
            if t.from_state_file {
                line.push_str(" (from the checklist's state file)");
            }
            let _ = writeln!(out, "{line}.");
        }
    }
    if !c.never_ticked.is_empty() {
        let _ = writeln!(out, "\nNever ticked:\n");
        for i in &c.never_ticked {
            let _ = writeln!(
                out,
                "- {}.",
                item_label(&i.id, Some(&i.phase), Some(&i.text))
            );
        }
    }
}

fn notes(out: &mut String, pm: &PostMortem, clock: &Clock) {
    if pm.notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Notes\n");
    for n in &pm.notes {
        let about = match (&n.host, &n.item) {
            (Some(h), _) => format!(" on {h}"),
            (None, Some(i)) => format!(" on {i}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "- {} {}{about}: {}", clock.time(n.at), n.who, n.text);
    }
}

fn still_open(out: &mut String, pm: &PostMortem, clock: &Clock, to: DateTime<Utc>) {
    let _ = writeln!(out, "\n## Still open at the end ({})\n", clock.time(to));
    if pm.still_open.is_empty() {
        let _ = writeln!(
            out,
            "Nothing: every host up, every name new at every resolver, every checklist item ticked."
        );
        return;
    }
    let mut items: Vec<String> = Vec::new();
    for o in pm.still_open.iter().filter(|o| o.kind != "checklist") {
        items.push(format!("- {}: {}.", o.subject, o.text));
    }
    let not_done: Vec<String> = pm
        .still_open
        .iter()
        .filter(|o| o.kind == "checklist")
        .map(|o| o.subject.clone())
        .collect();
    if !not_done.is_empty() {
        items.push(format!("- Checklist items not done: {}.", list(&not_done)));
    }
    for i in items {
        let _ = writeln!(out, "{i}");
    }
}

fn warnings(out: &mut String, pm: &PostMortem) {
    if pm.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Skipped while reading\n");
    for w in &pm.warnings {
        let _ = writeln!(out, "- {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        let cases = [
            (0, true, "0s"),
            (45, true, "45s"),
            (45, false, "under a minute"),
            (245, true, "4m 5s"),
            (245, false, "4m"),
            (300, true, "5m"),
            (3600, false, "1h"),
            (2 * 3600 + 14 * 60 + 59, false, "2h 14m"),
            (35 * 3600, false, "35h"),
            (80 * 3600, false, "3d 8h"),
            (96 * 3600, false, "4d"),
            (-5, true, "0s"),
        ];
        for (secs, precise, want) in cases {
            assert_eq!(duration(secs, precise), want, "{secs} {precise}");
        }
    }
}
