//! The journal as a timeline for a pane: one line of text per entry, its host, its tone,
//! and a store that keeps this process's entries and other processes' (read with a
//! [`Tail`]) in time order, newest first on demand, filtered by host.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use super::{
    AddressKind, CanaryStep, CheckState, DnsVerdict, Entry, Event, GlueEntry, HostHealth,
    MailCheck, Tail, encode_line,
};
use crate::store;

/// How an entry reads: good news, bad news, a warning, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Neutral,
}

impl Entry {
    /// The host the entry is about, if any.
    pub fn host(&self) -> Option<&str> {
        match &self.event {
            Event::Health { host, .. }
            | Event::Check { host, .. }
            | Event::Dns { host, .. }
            | Event::Target { host, .. }
            | Event::HostsFile { host, .. }
            | Event::Old { host, .. }
            | Event::Mail { host, .. } => Some(host),
            Event::Text { host, .. } | Event::Vantage { host, .. } => host.as_deref(),
            _ => None,
        }
    }

    /// Whether the entry matches a pane's filter: its host (or, for a zone, the zone's
    /// name; for a note, its text) or its kind (`canary`, `delegation`, `tick`, ...)
    /// contains `filter`, ignoring case. An empty filter matches everything.
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.trim().to_lowercase();
        if filter.is_empty() {
            return true;
        }
        let has = |s: &str| s.to_lowercase().contains(&filter);
        if self.host().is_some_and(has) || has(self.event.kind()) {
            return true;
        }
        match &self.event {
            Event::Dns { fqdn, .. } => has(fqdn),
            Event::Zone { zone, server, .. } => has(zone) || has(server),
            Event::Delegation { zone, .. } => has(zone),
            Event::Canary { zone, server, .. } => has(zone) || server.as_deref().is_some_and(has),
            Event::Text { text, .. } | Event::Note { text, .. } => has(text),
            Event::Tick { id, .. } => has(id),
            Event::Mail { subject, .. } => has(subject),
            Event::Vantage { vantage, .. } => has(vantage),
            Event::Notify { notify, .. } => has(notify),
            _ => false,
        }
    }

    /// Good, bad, amber or neutral.
    pub fn tone(&self) -> Tone {
        match &self.event {
            Event::Health { to, .. } => match to {
                HostHealth::Up => Tone::Good,
                HostHealth::Down => Tone::Bad,
                HostHealth::Degraded => Tone::Warn,
                HostHealth::Unknown => Tone::Neutral,
            },
            Event::Check { state, result, .. } => match state {
                CheckState::Up if matches!(result.as_str(), "stale" | "warn") => Tone::Warn,
                CheckState::Up => Tone::Good,
                CheckState::Down => Tone::Bad,
                CheckState::Suspect | CheckState::Recovering => Tone::Warn,
                CheckState::Unknown => Tone::Neutral,
            },
            Event::Dns { verdict, .. } => match verdict {
                DnsVerdict::New => Tone::Good,
                DnsVerdict::Old | DnsVerdict::Other => Tone::Warn,
                _ => Tone::Bad,
            },
            Event::Zone { behind, error, .. } => {
                if error.is_some() {
                    Tone::Bad
                } else if *behind {
                    Tone::Warn
                } else {
                    Tone::Neutral
                }
            }
            Event::Delegation { ok, alarm, .. } => match (ok, alarm) {
                (true, _) => Tone::Good,
                (false, true) => Tone::Bad,
                (false, false) => Tone::Warn,
            },
            Event::Target { address, error, .. } => match (address, error) {
                (_, Some(_)) => Tone::Bad,
                (Some(AddressKind::Old), _) => Tone::Warn,
                _ => Tone::Neutral,
            },
            Event::HostsFile {
                address: Some(AddressKind::Old),
                ..
            } => Tone::Warn,
            Event::Old { answering, .. } => {
                if *answering {
                    Tone::Warn
                } else {
                    Tone::Neutral
                }
            }
            Event::Mail { check, result, .. } => mail_tone(*check, result),
            Event::Notify { status, late, .. } => match (status.as_str(), late) {
                ("sent", false) => Tone::Neutral,
                ("sent", true) => Tone::Good,
                _ => Tone::Warn,
            },
            Event::Vantage { ok, health, .. } => match (ok, health) {
                (Some(false), _) => Tone::Warn,
                (_, Some(HostHealth::Up)) | (Some(true), _) => Tone::Good,
                (_, Some(HostHealth::Down)) => Tone::Bad,
                _ => Tone::Neutral,
            },
            Event::Canary { step, .. } => match step {
                CanaryStep::NotWritten | CanaryStep::Late => Tone::Bad,
                CanaryStep::PickedUp => Tone::Good,
                _ => Tone::Neutral,
            },
            Event::Tick {
                done: true, forced, ..
            } => {
                if *forced {
                    Tone::Warn
                } else {
                    Tone::Good
                }
            }
            _ => Tone::Neutral,
        }
    }

    /// One line of text, without the time: `git: down (ping timeout, ssh refused)`,
    /// `git http: up, 200 from 203.0.113.12`, `ann ticked lower-ttl`.
    pub fn summary(&self) -> String {
        match &self.event {
            Event::Start {
                name, who, hosts, ..
            } => started(name, who.as_deref(), hosts.len()),
            Event::Stop { reason, .. } => stopped(reason.as_deref()),
            Event::Health {
                host,
                from,
                to,
                reasons,
            } => health_change(host, *from, *to, reasons),
            Event::Check {
                host,
                check,
                state,
                result,
                detail,
                note,
                ip,
                address,
                ..
            } => {
                let seen = check_outcome(*state, result, detail.as_deref(), *ip, *address);
                let note = note.as_ref().map(|n| format!(" [{n}]")).unwrap_or_default();
                format!("{host} {check}: {}{seen}{note}", state.word())
            }
            Event::Dns {
                fqdn,
                resolver,
                from,
                verdict,
                addresses,
                more,
                error,
                ..
            } => {
                let from = from.map(|f| format!("{} → ", f.word())).unwrap_or_default();
                let what = dns_answer(addresses, *more, error.as_deref());
                format!("{fqdn} at {resolver}: {from}{} ({what})", verdict.word())
            }
            Event::Zone {
                zone,
                server,
                serial,
                primary_serial,
                behind,
                error,
                ..
            } => match error {
                Some(e) => format!("{zone} at {server}: {e}"),
                None => format!(
                    "{zone} at {server}: {}",
                    zone_serial(*serial, *behind, *primary_serial)
                ),
            },
            Event::Delegation {
                zone,
                ok,
                glue,
                problems,
                ..
            } => delegation_change(zone, *ok, glue, problems),
            Event::Target {
                host,
                ip,
                source,
                address,
                error,
            } => target_change(host, *ip, source.as_deref(), *address, error.as_deref()),
            Event::HostsFile {
                host,
                addresses,
                address,
                error,
                ..
            } => hosts_file_change(host, addresses, *address, error.as_deref()),
            Event::Old {
                host,
                ip,
                answering,
                detail,
            } => old_address(host, *ip, *answering, detail.as_deref()),
            Event::Tick {
                id,
                done,
                who,
                forced,
                evidence,
            } => tick(id, *done, who, *forced, evidence.as_deref()),
            Event::Note { id, text, who } => note(id, text, who),
            Event::Text { text, who, host } => typed_note(text, who, host.as_deref()),
            Event::Canary { .. } => canary_summary(&self.event),
            Event::Mail { .. } => mail_summary(&self.event),
            Event::Vantage { .. } => vantage_summary(&self.event),
            Event::Notify { .. } => notify_summary(&self.event),
        }
    }
}

/// `from office: vbox up`, `vantage office answers`, `vantage office: authentication
/// refused …`.
fn vantage_summary(event: &Event) -> String {
    let Event::Vantage {
        vantage,
        host,
        health,
        ok,
        error,
    } = event
    else {
        return String::new();
    };
    match (host, health, ok) {
        (Some(host), Some(health), _) => format!("from {vantage}: {host} {}", health.word()),
        (_, _, Some(true)) => format!("vantage {vantage} answers"),
        _ => format!(
            "vantage {vantage}: {}",
            error.as_deref().unwrap_or("no view")
        ),
    }
}

/// `notification 3 to team delivered (late, after 4 attempts)`, `notification 3 to team not
/// delivered: connection refused (2 waiting)`.
fn notify_summary(event: &Event) -> String {
    let Event::Notify {
        notify,
        seq,
        status,
        late,
        attempts,
        detail,
        pending,
        ..
    } = event
    else {
        return String::new();
    };
    match status.as_str() {
        "sent" if *late => {
            format!("notification {seq} to {notify} delivered (late, after {attempts} attempts)")
        }
        "sent" => format!("notification {seq} to {notify} delivered"),
        _ => format!(
            "notification {seq} to {notify} not delivered: {}{}",
            detail.as_deref().unwrap_or("failed"),
            pending
                .map(|p| format!(" ({p} waiting)"))
                .unwrap_or_default()
        ),
    }
}

/// A mail verdict: good (SPF pass, MX here, not listed), bad (listed, SPF failing, MX on
/// the old address), or amber.
fn mail_tone(check: MailCheck, result: &str) -> Tone {
    match (check, result) {
        (MailCheck::Spf, "pass") | (MailCheck::Mx, "here") | (MailCheck::Dnsbl, "not_listed") => {
            Tone::Good
        }
        (MailCheck::Spf, "fail" | "softfail" | "permerror")
        | (MailCheck::Mx, "old" | "null")
        | (MailCheck::Dnsbl, "listed") => Tone::Bad,
        _ => Tone::Warn,
    }
}

/// `mail SPF of example.org: pass for 203.0.113.11`, `mail: 203.0.113.11 listed on
/// bl.example.net (reason)`, `mail MX of example.org: here (mail.example.org)`.
fn mail_summary(event: &Event) -> String {
    let Event::Mail {
        host,
        check,
        subject,
        result,
        ip,
        detail,
    } = event
    else {
        return String::new();
    };
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let why = detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    match check {
        MailCheck::Spf => format!("{host} SPF of {subject}: {result} for {ip}{why}"),
        MailCheck::Mx => format!("{host} MX of {subject}: {result}{why}"),
        MailCheck::Dnsbl => match result.as_str() {
            "listed" => format!("{host}: {ip} listed on {subject}{why}"),
            "not_listed" => format!("{host}: {ip} not listed on {subject}"),
            other => format!("{host}: {subject} {other}{why}"),
        },
    }
}

// The summaries of the longer kinds of entry, one function each.

/// The fields of a canary entry.
struct CanaryFacts<'a> {
    server: &'a str,
    contact: Option<&'a str>,
    serial: Option<u32>,
    after_s: Option<f64>,
    text: Option<&'a str>,
    error: Option<&'a str>,
}

fn canary_summary(event: &Event) -> String {
    let Event::Canary {
        zone,
        run: _,
        step,
        server,
        contact,
        serial,
        after_s,
        text,
        error,
    } = event
    else {
        return String::new();
    };
    let facts = CanaryFacts {
        server: server.as_deref().unwrap_or("?"),
        contact: contact.as_deref(),
        serial: *serial,
        after_s: *after_s,
        text: text.as_deref(),
        error: error.as_deref(),
    };
    canary_step(zone, *step, &facts)
}

fn canary_step(zone: &str, step: CanaryStep, f: &CanaryFacts<'_>) -> String {
    let after = f
        .after_s
        .map(|s| std::time::Duration::from_secs_f64(s.clamp(0.0, 1e9)));
    match step {
        CanaryStep::Started => format!(
            "canary for {zone}: writing \"{}\" to {}",
            f.text.unwrap_or(""),
            f.server
        ),
        CanaryStep::Written => match f.serial {
            Some(serial) => format!("canary for {zone} written at {}: serial {serial}", f.server),
            None => format!("canary for {zone} written at {}", f.server),
        },
        CanaryStep::NotWritten => format!(
            "canary for {zone} not written: {}",
            f.error.unwrap_or("refused")
        ),
        CanaryStep::PickedUp => format!(
            "canary for {zone}: {} picked it up after {}",
            f.server,
            after.map_or_else(|| "?".into(), store::canary_seconds)
        ),
        CanaryStep::Late => format!(
            "canary for {zone}: {}",
            store::canary_late_words(f.server, f.serial, f.error, after, f.contact)
        ),
        CanaryStep::Finished => format!("canary run for {zone} over"),
    }
}

fn started(name: &str, who: Option<&str>, hosts: usize) -> String {
    let by = who.map(|w| format!(" by {w}")).unwrap_or_default();
    format!(
        "moveday started{by}: {name}, {hosts} host{}",
        if hosts == 1 { "" } else { "s" }
    )
}

fn stopped(reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("moveday stopped ({r})"),
        None => "moveday stopped".into(),
    }
}

/// `example.org delegation: ok (glue ns1.example.org new 203.0.113.53)`, or what is wrong.
fn delegation_change(zone: &str, ok: bool, glue: &[GlueEntry], problems: &[String]) -> String {
    if !ok && let Some(first) = problems.first() {
        return format!("{zone} delegation: {first}");
    }
    let glue: Vec<String> = glue
        .iter()
        .map(|g| {
            let ips: Vec<String> = g.addresses.iter().map(ToString::to_string).collect();
            format!("{} {} {}", g.name, g.verdict.word(), ips.join(" "))
                .trim_end()
                .to_string()
        })
        .collect();
    let word = if ok { "ok" } else { "not ok yet" };
    match glue.is_empty() {
        true => format!("{zone} delegation: {word}"),
        false => format!("{zone} delegation: {word} (glue {})", glue.join(", ")),
    }
}

fn health_change(host: &str, from: HostHealth, to: HostHealth, reasons: &[String]) -> String {
    let why = if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join(", "))
    };
    format!("{host}: {} → {}{why}", from.word(), to.word())
}

/// What a check saw, after its state: `, filtered at 203.0.113.12: no answer in 1s`. The
/// detail is said only when the check is not up, or up but stale or about to expire.
fn check_outcome(
    state: CheckState,
    result: &str,
    detail: Option<&str>,
    ip: Option<std::net::IpAddr>,
    address: Option<AddressKind>,
) -> String {
    let mut s = String::new();
    if result != state.word() && result != "ok" {
        s.push_str(&format!(", {result}"));
    }
    if let Some(ip) = ip {
        let old = if address == Some(AddressKind::Old) {
            " (old address)"
        } else {
            ""
        };
        let word = if state == CheckState::Up {
            "from"
        } else {
            "at"
        };
        s.push_str(&format!(" {word} {ip}{old}"));
    }
    let worth_saying = state != CheckState::Up || matches!(result, "stale" | "warn");
    if let Some(d) = detail.filter(|d| worth_saying && *d != result) {
        s.push_str(&format!(": {d}"));
    }
    s
}

/// A resolver's answer: its addresses ("+N more" beyond those listed), or its error.
fn dns_answer(addresses: &[std::net::IpAddr], more: usize, error: Option<&str>) -> String {
    match (error, addresses.is_empty()) {
        (Some(e), _) => e.to_string(),
        (None, false) => {
            let mut listed = addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            if more > 0 {
                listed.push_str(&format!(" +{more} more"));
            }
            listed
        }
        (None, true) => "no address".into(),
    }
}

/// A zone server's serial, and the primary's when it is behind.
fn zone_serial(serial: Option<u32>, behind: bool, primary_serial: Option<u32>) -> String {
    let serial = serial.map_or_else(|| "no SOA".to_string(), |s| s.to_string());
    match (behind, primary_serial) {
        (true, Some(p)) => format!("serial {serial}, behind the primary ({p})"),
        _ => format!("serial {serial}"),
    }
}

fn target_change(
    host: &str,
    ip: Option<std::net::IpAddr>,
    source: Option<&str>,
    address: Option<AddressKind>,
    error: Option<&str>,
) -> String {
    match (ip, error) {
        (_, Some(e)) => format!("{host}: no address to probe ({e})"),
        (Some(ip), None) => {
            let why = match source {
                Some("new_ip") => " (new_ip)".to_string(),
                Some("hosts_file") => " (hosts file)".to_string(),
                Some("system_dns") => " (system DNS)".to_string(),
                Some(other) => format!(" ({other})"),
                None => String::new(),
            };
            let old = if address == Some(AddressKind::Old) {
                ", the OLD address"
            } else {
                ""
            };
            format!("{host}: probes go to {ip}{why}{old}")
        }
        (None, None) => format!("{host}: no address to probe"),
    }
}

fn hosts_file_change(
    host: &str,
    addresses: &[std::net::IpAddr],
    address: Option<AddressKind>,
    error: Option<&str>,
) -> String {
    match (error, addresses.is_empty()) {
        (Some(e), _) => format!("{host}: hosts file unreadable ({e})"),
        (None, true) => format!("{host}: no entry in the hosts file any more"),
        (None, false) => {
            let ips = addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            let old = if address == Some(AddressKind::Old) {
                " (the OLD address)"
            } else {
                ""
            };
            format!("{host}: hosts file says {ips}{old}")
        }
    }
}

fn old_address(host: &str, ip: std::net::IpAddr, answering: bool, detail: Option<&str>) -> String {
    if answering {
        let what = detail.map(|d| format!(" ({d})")).unwrap_or_default();
        format!("{host}: the old address {ip} still answers{what}")
    } else {
        format!("{host}: nothing answers at the old address {ip} any more")
    }
}

fn tick(id: &str, done: bool, who: &str, forced: bool, evidence: Option<&str>) -> String {
    let verb = if done { "ticked" } else { "unticked" };
    let mut s = format!("{who} {verb} {id}");
    if forced {
        s.push_str(" (forced: its probe was red)");
    }
    if let Some(e) = evidence {
        s.push_str(&format!(" [{e}]"));
    }
    s
}

/// A note on a checklist item (an empty one clears it).
fn note(id: &str, text: &str, who: &str) -> String {
    if text.is_empty() {
        format!("{who} cleared the note on {id}")
    } else {
        format!("{who} on {id}: {text}")
    }
}

/// A note typed into the dashboard, about a host or not.
fn typed_note(text: &str, who: &str, host: Option<&str>) -> String {
    match host {
        Some(h) => format!("{who} ({h}): {text}"),
        None => format!("{who}: {text}"),
    }
}

/// Entries in time order, from this process and (through [`Timeline::poll`]) from the
/// journal file, without duplicates: an entry this process recorded and then reads back
/// from the file is kept once.
#[derive(Debug, Default)]
pub struct Timeline {
    /// A ring: entries come at the back (almost always) and the oldest go from the front,
    /// each in constant time once the timeline is full (a `Vec` moved every entry along:
    /// 81 % of the dashboard's CPU during a 10,000-host first round).
    entries: VecDeque<Entry>,
    /// The size of each entry's journal line, in the order of `entries`, and their sum.
    sizes: VecDeque<usize>,
    bytes: usize,
    tail: Option<Tail>,
    /// Encoded lines pushed here and not yet read back from the file, with their count.
    own: HashMap<Vec<u8>, usize>,
}

/// The most entries a timeline keeps in memory (the oldest go first; the file keeps all).
pub const MAX_TIMELINE: usize = 50_000;

/// The most bytes of journal lines a timeline keeps in memory (the oldest go first).
pub const MAX_TIMELINE_BYTES: usize = 16 * 1024 * 1024;

impl Timeline {
    /// An empty timeline that follows nothing.
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// A timeline that follows the journal at `path`: the first [`poll`](Self::poll) reads
    /// what is already there (earlier runs of the move included).
    pub fn follow(path: &Path) -> Timeline {
        Timeline {
            tail: Some(Tail::new(path)),
            ..Timeline::default()
        }
    }

    /// Adds entries this process has just recorded (before they are on disk).
    /// An entry whose line had to be cut to fit the journal's line cap is kept as it reads
    /// back, cut: it is matched with its own line when read back, and takes no more memory.
    pub fn push(&mut self, entries: &[Entry]) {
        for e in entries {
            let line = encode_line(e);
            let (entry, line) = match super::file::parse(&line, "") {
                (mut back, _) if back.len() == 1 && back[0] == *e => (back.remove(0), line),
                (mut back, _) if back.len() == 1 => {
                    let back = back.remove(0);
                    let line = encode_line(&back);
                    (back, line)
                }
                // Cut down to its time and kind: it does not read back as an entry.
                _ => continue,
            };
            let size = line.len();
            if self.tail.is_some() {
                *self.own.entry(line).or_default() += 1;
            }
            self.insert(entry, size);
        }
    }

    /// Reads what was added to the followed journal since the last poll (nothing without a
    /// file). Returns whether anything new arrived, and warnings (skipped lines, an
    /// unreadable file) for the status bar. Does file I/O: call it from the clock tick.
    pub fn poll(&mut self) -> (bool, Vec<String>) {
        let Some(tail) = self.tail.as_mut() else {
            return (false, Vec::new());
        };
        let (entries, warnings) = match tail.poll() {
            Ok(r) => r,
            Err(e) => {
                return (
                    false,
                    vec![format!(
                        "cannot read the journal {}: {e}",
                        tail.path().display()
                    )],
                );
            }
        };
        let mut changed = false;
        for e in entries {
            let line = encode_line(&e);
            if let Some(n) = self.own.get_mut(&line) {
                *n -= 1;
                if *n == 0 {
                    self.own.remove(&line);
                }
                continue;
            }
            self.insert(e, line.len());
            changed = true;
        }
        (changed, warnings)
    }

    fn insert(&mut self, e: Entry, size: usize) {
        // Almost always at the end; lines from other processes may be a little out of order.
        let pos = self.entries.partition_point(|x| x.at <= e.at);
        self.entries.insert(pos, e);
        self.sizes.insert(pos, size);
        self.bytes += size;
        while self.entries.len() > MAX_TIMELINE
            || (self.bytes > MAX_TIMELINE_BYTES && self.entries.len() > 1)
        {
            self.entries.pop_front();
            self.bytes -= self.sizes.pop_front().unwrap_or(0);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`th entry, oldest first.
    pub fn get(&self, i: usize) -> Option<&Entry> {
        self.entries.get(i)
    }

    /// Oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Newest first, only those matching `filter` (see [`Entry::matches`]; `""`: all).
    pub fn newest_first<'a>(&'a self, filter: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().rev().filter(move |e| e.matches(filter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalWriter;
    use chrono::{DateTime, Utc};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_260_000_000 + secs, 0).unwrap()
    }

    fn health(secs: i64, host: &str, to: HostHealth) -> Entry {
        Entry {
            at: at(secs),
            event: Event::Health {
                host: host.into(),
                from: HostHealth::Unknown,
                to,
                reasons: vec![],
            },
        }
    }

    #[test]
    fn newest_first_filtered_by_host() {
        let mut t = Timeline::new();
        t.push(&[
            health(1, "git", HostHealth::Down),
            health(3, "vbox", HostHealth::Down),
            health(2, "git", HostHealth::Up),
        ]);
        let all: Vec<i64> = t.newest_first("").map(|e| e.at.timestamp() % 10).collect();
        assert_eq!(all, [3, 2, 1]);
        let git: Vec<String> = t.newest_first("GIT").map(Entry::summary).collect();
        assert_eq!(git, ["git: unknown → up", "git: unknown → down"]);
        assert_eq!(t.newest_first("git").next().unwrap().tone(), Tone::Good);
    }

    #[test]
    fn summaries_say_what_changed_in_a_line() {
        let check = |state, result: &str, detail: Option<&str>, address| Entry {
            at: at(0),
            event: Event::Check {
                host: "www".into(),
                check: "port 80".into(),
                probe: crate::journal::ProbeKind::Port,
                port: Some(80),
                state,
                result: result.into(),
                detail: detail.map(str::to_string),
                note: None,
                ip: Some("203.0.113.12".parse().unwrap()),
                address: Some(address),
            },
        };
        let e = check(
            CheckState::Down,
            "filtered",
            Some("no answer in 1s: firewall/ACL drop"),
            AddressKind::New,
        );
        assert_eq!(
            e.summary(),
            "www port 80: down, filtered at 203.0.113.12: no answer in 1s: firewall/ACL drop"
        );
        assert_eq!(e.tone(), Tone::Bad);
        let e = check(CheckState::Up, "open", None, AddressKind::Old);
        assert_eq!(
            e.summary(),
            "www port 80: up, open from 203.0.113.12 (old address)"
        );
        let tick = Entry {
            at: at(0),
            event: Event::Tick {
                id: "review-acl".into(),
                done: true,
                who: "ann".into(),
                forced: true,
                evidence: None,
            },
        };
        assert_eq!(
            tick.summary(),
            "ann ticked review-acl (forced: its probe was red)"
        );
        assert_eq!(tick.tone(), Tone::Warn);
        assert!(tick.matches("acl") && !tick.matches("www"));
        // Its kind matches too: `/tick` shows every tick, `/canary` every canary step.
        assert!(tick.matches("TICK") && !tick.matches("canary"));
    }

    #[test]
    fn own_entries_read_back_from_the_file_are_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut w = JournalWriter::open(&path).unwrap();
        // Another process wrote before we started.
        w.append(&[health(0, "www", HostHealth::Down)]).unwrap();
        let mut t = Timeline::follow(&path);
        let ours = [health(5, "git", HostHealth::Up)];
        t.push(&ours);
        w.append(&ours).unwrap();
        assert_eq!(t.poll(), (true, vec![]));
        assert_eq!(t.len(), 2);
        assert_eq!(t.poll(), (false, vec![]));
        w.append(&[health(7, "vbox", HostHealth::Up)]).unwrap();
        assert_eq!(t.poll(), (true, vec![]));
        let hosts: Vec<&str> = t.newest_first("").filter_map(Entry::host).collect();
        assert_eq!(hosts, ["vbox", "git", "www"]);
    }

    fn dns(secs: i64, addresses: usize, error: usize) -> Entry {
        Entry {
            at: at(secs),
            event: Event::Dns {
                host: "www".into(),
                fqdn: "www.example.org".into(),
                resolver: "isp".into(),
                from: None,
                verdict: crate::journal::DnsVerdict::Other,
                addresses: (0..addresses)
                    .map(|i| std::net::IpAddr::V4((0x0a00_0000 + i as u32).into()))
                    .collect(),
                more: 0,
                ttl: Some(60),
                error: Some("e".repeat(error)),
            },
        }
    }

    /// Issue 15, item 5: an entry whose line is cut to fit the journal's line cap (4,090
    /// addresses) is matched with its own line when read back, not shown twice.
    #[test]
    fn an_entry_cut_to_fit_a_line_is_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut w = JournalWriter::open(&path).unwrap();
        let mut t = Timeline::follow(&path);
        let huge = [dns(1, 4090, 20_000)];
        assert!(serde_json::to_vec(&huge[0]).unwrap().len() > crate::journal::MAX_LINE);
        t.push(&huge);
        w.append(&huge).unwrap();
        assert_eq!(t.poll().1, Vec::<String>::new());
        assert_eq!(t.len(), 1);
    }

    /// Issue 15, item 5: the timeline is bounded by bytes as well as by count.
    #[test]
    fn the_timeline_is_bounded_by_bytes() {
        let mut t = Timeline::new();
        for i in 0..400 {
            t.push(&[dns(i, 0, 60_000)]);
        }
        assert!(t.bytes <= MAX_TIMELINE_BYTES, "{}", t.bytes);
        assert!(t.len() < 400 && t.len() > 200, "{}", t.len());
        assert_eq!(t.sizes.len(), t.len());
        assert_eq!(t.sizes.iter().sum::<usize>(), t.bytes);
        // The newest are kept.
        assert_eq!(t.entries().last().unwrap().at, at(399));
    }

    /// Issue 16: a full timeline takes a new entry in constant time. A 10,000-host first
    /// round records about 80,000 entries; moving the whole timeline along for each of the
    /// 30,000 past the cap held the dashboard's loop for 18 s.
    #[test]
    fn a_full_timeline_takes_entries_in_constant_time() {
        let mut t = Timeline::new();
        let entries: Vec<Entry> = (0..MAX_TIMELINE as i64 * 3)
            .map(|i| health(i, "www", HostHealth::Up))
            .collect();
        let started = std::time::Instant::now();
        t.push(&entries);
        let took = started.elapsed();
        assert_eq!(t.len(), MAX_TIMELINE);
        assert_eq!(t.entries().next().unwrap().at, at(MAX_TIMELINE as i64 * 2));
        // About 0.3 s in a debug build; moving 50,000 entries per insert took minutes.
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    }
}
