//! What goes out to the people who are not at the laptop: journal entries turned into
//! messages, per endpoint.
//!
//! - **Which:** each endpoint's `on` kinds. `host`: a host turning red (down), or green
//!   again after being red; `zone`: a secondary starting or stopping to lag; `delegation`,
//!   `canary` (picked up, late, not written), `checklist` (ticks, with who), `mail` (SPF,
//!   MX, a listing), `vantage` (a vantage answering or not).
//! - **How it reads:** like the status bar: "vbox down: ping timeout, ssh refused (since
//!   14:02:11 UTC), 198.51.100.13", "vbox up again after 2h13m, 203.0.113.13".
//! - **Not spammed:** per subject (a host, a zone, a vantage), the first change goes at
//!   once and opens a window of `min_interval`; changes inside it are held, and when it
//!   ends one message sums them up ("jabber changed 6 times in 5m00s, now down"), or the one
//!   change as it was, or nothing when the subject is back where the last message left it.
//!
//! Pure: the caller gives the time and sends what comes back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use crate::journal::{CanaryStep, Entry, Event, HostHealth};
use crate::sanitize::sanitize;
use crate::timefmt::compact;

use super::Message;

/// The kinds an endpoint may ask for (`on = [...]`).
pub const KINDS: [&str; 7] = [
    "host",
    "zone",
    "delegation",
    "canary",
    "checklist",
    "mail",
    "vantage",
];

/// What one endpoint wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wants {
    /// Of [`KINDS`].
    pub on: Vec<String>,
    pub min_interval: Duration,
}

/// The messages of every endpoint, as journal entries come.
#[derive(Debug, Default)]
pub struct Composer {
    endpoints: Vec<Endpoint>,
    /// The address each host's probes last aimed at (for "…, 203.0.113.13").
    targets: HashMap<String, IpAddr>,
    /// When each host last went down (for "up again after 2h13m"), while it is.
    down_since: HashMap<String, SystemTime>,
}

#[derive(Debug)]
struct Endpoint {
    wants: Wants,
    seq: u64,
    windows: HashMap<String, Window>,
}

/// A subject's window after a message: until when changes are held, what the last message
/// said, and the changes held since.
#[derive(Debug)]
struct Window {
    until: SystemTime,
    last_state: String,
    held: Vec<Composed>,
}

/// One entry made into words.
#[derive(Debug, Clone)]
struct Composed {
    kind: &'static str,
    /// What it is about (a host, a zone, a vantage, a checklist item).
    subject: String,
    /// Its state now, in a word ("down", "up", "late"), to tell whether it is back.
    state: String,
    title: String,
    text: String,
    body: serde_json::Value,
    at: SystemTime,
}

impl Composer {
    /// A composer for endpoints wanting `wants`, in order (index = endpoint).
    pub fn new(wants: Vec<Wants>) -> Composer {
        Composer {
            endpoints: wants
                .into_iter()
                .map(|wants| Endpoint {
                    wants,
                    seq: 0,
                    windows: HashMap::new(),
                })
                .collect(),
            ..Composer::default()
        }
    }

    /// The messages `entries` make now: (endpoint, message).
    pub fn offer(&mut self, entries: &[Entry], now: SystemTime) -> Vec<(usize, Message)> {
        let mut out = Vec::new();
        for entry in entries {
            let Some(composed) = self.compose(entry) else {
                continue;
            };
            for (i, endpoint) in self.endpoints.iter_mut().enumerate() {
                if endpoint.wants.on.iter().any(|k| k == composed.kind) {
                    out.extend(endpoint.take(composed.clone(), now).map(|m| (i, m)));
                }
            }
        }
        out
    }

    /// The summaries of windows that have ended by `now`.
    pub fn due(&mut self, now: SystemTime) -> Vec<(usize, Message)> {
        let mut out = Vec::new();
        for (i, endpoint) in self.endpoints.iter_mut().enumerate() {
            out.extend(endpoint.close_windows(now).into_iter().map(|m| (i, m)));
        }
        out
    }

    /// When the next window ends (`None`: none is open with changes held).
    pub fn next_due(&self) -> Option<SystemTime> {
        self.endpoints
            .iter()
            .flat_map(|e| e.windows.values())
            .filter(|w| !w.held.is_empty())
            .map(|w| w.until)
            .min()
    }

    /// `entry` in words, if it is one the endpoints may want.
    fn compose(&mut self, entry: &Entry) -> Option<Composed> {
        let at: SystemTime = entry.at.into();
        let (kind, subject, state, title, text) = match &entry.event {
            Event::Target {
                host, ip: Some(ip), ..
            } => {
                self.targets.insert(host.clone(), *ip);
                return None;
            }
            Event::Health {
                host, to, reasons, ..
            } => self.health(host, *to, reasons, at)?,
            _ => zone_words(entry).or_else(|| team_words(entry))?,
        };
        let mut body = serde_json::to_value(entry).unwrap_or_default();
        let text = sanitize(&text, 1000);
        if let Some(map) = body.as_object_mut() {
            map.insert("text".into(), text.clone().into());
        }
        Some(Composed {
            kind,
            subject: sanitize(&subject, 200),
            state,
            title: sanitize(&title, 200),
            text,
            body,
            at,
        })
    }

    /// A host turning red, or green again after being red; nothing else about health.
    fn health(
        &mut self,
        host: &str,
        to: HostHealth,
        reasons: &[String],
        at: SystemTime,
    ) -> Option<Words> {
        let ip = self
            .targets
            .get(host)
            .map(|ip| format!(", {ip}"))
            .unwrap_or_default();
        match to {
            HostHealth::Down => {
                self.down_since.entry(host.to_string()).or_insert(at);
                let why = match reasons.is_empty() {
                    true => String::new(),
                    false => format!(": {}", reasons.join(", ")),
                };
                let since = chrono::DateTime::<chrono::Utc>::from(at).format("%H:%M:%S UTC");
                Some((
                    "host",
                    host.to_string(),
                    "down".into(),
                    format!("moveday: {host} down"),
                    format!("{host} down{why} (since {since}){ip}"),
                ))
            }
            HostHealth::Up => {
                let since = self.down_since.remove(host)?;
                let after = at.duration_since(since).unwrap_or_default();
                Some((
                    "host",
                    host.to_string(),
                    "up".into(),
                    format!("moveday: {host} up again"),
                    format!("{host} up again after {}{ip}", compact(after)),
                ))
            }
            // Degraded or unknown after being down is not "green again"; from up it is not
            // "red": neither is sent.
            _ => None,
        }
    }
}

/// Words of a (kind, subject, state, title, text).
type Words = (&'static str, String, String, String, String);

/// A zone's entries in words: a secondary behind or in step, the delegation, a canary's
/// picked up, late or not written.
fn zone_words(entry: &Entry) -> Option<Words> {
    Some(match &entry.event {
        Event::Zone {
            zone,
            server,
            behind,
            serial,
            ..
        } => {
            let state = if *behind { "behind" } else { "in step" };
            let serial = serial.map(|s| format!(" (serial {s})")).unwrap_or_default();
            (
                "zone",
                format!("{zone} at {server}"),
                state.to_string(),
                format!("moveday: {zone} at {server} {state}"),
                format!("{zone}: secondary {server} {state}{serial}"),
            )
        }
        Event::Delegation {
            zone, ok, problems, ..
        } => {
            if !ok && problems.is_empty() {
                // Not answered yet: nothing to say.
                return None;
            }
            let text = match ok {
                true => format!("{zone}: the parent's delegation is right (glue new)"),
                false => format!("{zone}: delegation {}", problems.join("; ")),
            };
            let state = if *ok { "ok" } else { "wrong" };
            (
                "delegation",
                zone.clone(),
                state.into(),
                format!("moveday: {zone} delegation {state}"),
                text,
            )
        }
        Event::Canary {
            zone,
            step,
            server,
            after_s,
            error,
            contact,
            ..
        } => {
            let server = server.as_deref().unwrap_or("the primary");
            let text = match step {
                CanaryStep::PickedUp => format!(
                    "{zone}: {server} picked up the canary after {}",
                    after_s.map_or_else(
                        || "?".into(),
                        |s| compact(Duration::from_secs_f64(s.max(0.0)))
                    )
                ),
                CanaryStep::Late => format!(
                    "{zone}: {server} never picked up the canary{}",
                    contact
                        .as_deref()
                        .map(|c| format!(": call {c}"))
                        .unwrap_or_default()
                ),
                CanaryStep::NotWritten => format!(
                    "{zone}: the canary was not written: {}",
                    error.as_deref().unwrap_or("refused")
                ),
                _ => return None,
            };
            let state = format!("{step:?}").to_lowercase();
            (
                "canary",
                format!("{zone} {server}"),
                state.clone(),
                format!("moveday: {zone} canary {state}"),
                text,
            )
        }
        _ => return None,
    })
}

/// The team's entries in words: a tick, a mail verdict, a vantage answering or not.
fn team_words(entry: &Entry) -> Option<Words> {
    Some(match &entry.event {
        Event::Tick {
            id,
            done: true,
            who,
            forced,
            ..
        } => {
            let forced = if *forced {
                " (forced: its check was red)"
            } else {
                ""
            };
            (
                "checklist",
                id.clone(),
                "done".into(),
                format!("moveday: {id} done"),
                format!("{who} ticked {id}{forced}"),
            )
        }
        Event::Mail {
            host,
            check,
            subject,
            result,
            ..
        } => {
            let text = entry.summary();
            let what = match check {
                crate::journal::MailCheck::Spf => "SPF",
                crate::journal::MailCheck::Mx => "MX",
                crate::journal::MailCheck::Dnsbl => "DNSBL",
            };
            (
                "mail",
                format!("{host} {what} {subject}"),
                result.clone(),
                format!("moveday: {host} mail"),
                text,
            )
        }
        Event::Vantage {
            vantage,
            host: None,
            ok: Some(ok),
            ..
        } => {
            let state = if *ok { "answers" } else { "no view" };
            let text = entry.summary();
            (
                "vantage",
                vantage.clone(),
                state.into(),
                format!("moveday: vantage {vantage} {state}"),
                text,
            )
        }
        _ => return None,
    })
}

impl Endpoint {
    /// `c` now, or held in its subject's open window.
    fn take(&mut self, c: Composed, now: SystemTime) -> Option<Message> {
        let min = self.wants.min_interval;
        match self.windows.get_mut(&c.subject) {
            Some(w) if now < w.until => {
                w.held.push(c);
                None
            }
            _ => {
                self.windows.insert(
                    c.subject.clone(),
                    Window {
                        until: now + min,
                        last_state: c.state.clone(),
                        held: Vec::new(),
                    },
                );
                Some(self.message(c.title, c.text, c.body, c.at))
            }
        }
    }

    /// Closes the windows that ended by `now`: one message for what each held, unless the
    /// subject is back where the last message left it; a window that sent something
    /// starts again, one that did not is forgotten.
    fn close_windows(&mut self, now: SystemTime) -> Vec<Message> {
        let ended: Vec<String> = self
            .windows
            .iter()
            .filter(|(_, w)| now >= w.until)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for subject in ended {
            let Some(w) = self.windows.remove(&subject) else {
                continue;
            };
            let Some(last) = w.held.last().cloned() else {
                continue;
            };
            if w.held.len() > 1 || last.state != w.last_state {
                let message = match w.held.len() {
                    1 => self.message(
                        last.title.clone(),
                        last.text.clone(),
                        last.body.clone(),
                        last.at,
                    ),
                    n => self.summary(&subject, n, &last, w.until, now),
                };
                out.push(message);
                self.windows.insert(
                    subject,
                    Window {
                        until: now + self.wants.min_interval,
                        last_state: last.state,
                        held: Vec::new(),
                    },
                );
            }
        }
        out
    }

    /// "jabber changed 6 times in 5m00s, now down: …".
    fn summary(
        &mut self,
        subject: &str,
        changes: usize,
        last: &Composed,
        until: SystemTime,
        now: SystemTime,
    ) -> Message {
        let window = now
            .duration_since(until.checked_sub(self.wants.min_interval).unwrap_or(until))
            .unwrap_or_default();
        let text = format!(
            "{subject} changed {changes} times in {}, now {}: {}",
            compact(window),
            last.state,
            last.text
        );
        let body = serde_json::json!({
            "kind": "summary",
            "about": last.kind,
            "subject": subject,
            "changes": changes,
            "now": last.state,
            "last": last.body,
            "text": text,
        });
        self.message(
            format!(
                "moveday: {subject} changed {changes} times, now {}",
                last.state
            ),
            text,
            body,
            last.at,
        )
    }

    fn message(
        &mut self,
        title: String,
        text: String,
        body: serde_json::Value,
        at: SystemTime,
    ) -> Message {
        self.seq += 1;
        Message {
            seq: self.seq,
            title,
            text,
            body,
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn entry(secs: u64, event: Event) -> Entry {
        Entry {
            at: DateTime::<Utc>::from(t(secs)),
            event,
        }
    }

    fn health(secs: u64, host: &str, from: HostHealth, to: HostHealth) -> Entry {
        entry(
            secs,
            Event::Health {
                host: host.into(),
                from,
                to,
                reasons: match to {
                    HostHealth::Down => vec!["ping timeout".into(), "ssh refused".into()],
                    _ => vec![],
                },
            },
        )
    }

    fn composer(min: u64) -> Composer {
        Composer::new(vec![Wants {
            on: vec!["host".into()],
            min_interval: Duration::from_secs(min),
        }])
    }

    #[test]
    fn a_host_going_red_and_green_again_reads_like_the_status_bar() {
        use HostHealth::{Degraded, Down, Up};
        let mut c = composer(30);
        let target = entry(
            0,
            Event::Target {
                host: "vbox".into(),
                ip: Some("203.0.113.13".parse().unwrap()),
                source: None,
                address: None,
                error: None,
            },
        );
        assert!(c.offer(&[target], t(0)).is_empty());
        let down = c.offer(&[health(10, "vbox", Up, Down)], t(10));
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].1.title, "moveday: vbox down");
        assert!(
            down[0]
                .1
                .text
                .starts_with("vbox down: ping timeout, ssh refused (since "),
            "{}",
            down[0].1.text
        );
        assert!(down[0].1.text.ends_with(", 203.0.113.13"));
        assert_eq!(down[0].1.body["kind"], "health");
        assert_eq!(down[0].1.body["text"], down[0].1.text.as_str());
        // Degraded is neither red nor green again.
        assert!(
            c.offer(&[health(20, "www", Up, Degraded)], t(20))
                .is_empty()
        );
        let up = c.offer(&[health(7990, "vbox", Down, Up)], t(7990));
        assert_eq!(up[0].1.text, "vbox up again after 2h13m, 203.0.113.13");
        assert_eq!((down[0].1.seq, up[0].1.seq), (1, 2));
    }

    #[test]
    fn flapping_is_summed_up_once_per_window() {
        use HostHealth::{Down, Up};
        let mut c = composer(300);
        let mut sent = c.offer(&[health(0, "jabber", Up, Down)], t(0));
        for k in 1..=5u64 {
            let (from, to) = if k % 2 == 1 { (Down, Up) } else { (Up, Down) };
            sent.extend(c.offer(&[health(k * 20, "jabber", from, to)], t(k * 20)));
        }
        assert_eq!(sent.len(), 1, "the first change only; the rest are held");
        assert!(c.due(t(200)).is_empty(), "the window is still open");
        assert_eq!(c.next_due(), Some(t(300)));
        let summary = c.due(t(300));
        assert_eq!(summary.len(), 1);
        assert!(
            summary[0]
                .1
                .text
                .starts_with("jabber changed 5 times in 5m00s, now up"),
            "{}",
            summary[0].1.text
        );
        assert_eq!(summary[0].1.body["kind"], "summary");
        // Back where the last message left it after two changes: summed up still (it
        // changed), but a window with nothing held sends nothing.
        assert!(c.due(t(900)).is_empty());
    }

    #[test]
    fn only_the_kinds_asked_for_go_to_an_endpoint() {
        let mut c = Composer::new(vec![
            Wants {
                on: vec!["checklist".into()],
                min_interval: Duration::from_secs(30),
            },
            Wants {
                on: vec!["host".into()],
                min_interval: Duration::from_secs(30),
            },
        ]);
        let tick = entry(
            5,
            Event::Tick {
                id: "lower-ttl".into(),
                done: true,
                who: "ann@t61".into(),
                forced: false,
                evidence: None,
            },
        );
        let sent = c.offer(
            &[tick, health(6, "vbox", HostHealth::Up, HostHealth::Down)],
            t(6),
        );
        let to: Vec<(usize, &str)> = sent.iter().map(|(i, m)| (*i, m.text.as_str())).collect();
        assert_eq!(to[0], (0, "ann@t61 ticked lower-ttl"));
        assert_eq!(to[1].0, 1);
        assert_eq!(to.len(), 2);
    }
}
