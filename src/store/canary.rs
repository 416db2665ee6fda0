//! A canary run as the model keeps it, and what it means: who picked the canary up and how
//! fast, who is still waiting, who never did by the deadline.
//!
//! The run's steps arrive as [`CanaryEvent`]s (`probe::canary::run`); the rule "a
//! secondary follows when it serves the new serial and the new text" is
//! [`CanaryPoll::follows`], the same one the run stops asking by.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use crate::config::{Inventory, ServerRef};
use crate::probe::DnsError;
use crate::probe::canary::{CanaryEvent, CanaryPoll, UpdateError};

use super::{Seen, State};

/// One canary run of a zone (the last one started).
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRun {
    pub started_at: SystemTime,
    pub primary: SocketAddr,
    /// The TXT text written.
    pub text: String,
    pub deadline: Duration,
    /// When the primary took the update, and the serial it then served.
    pub written: Option<(SystemTime, Result<u32, DnsError>)>,
    /// The update failed: nothing was written.
    pub write_error: Option<UpdateError>,
    /// In inventory order.
    pub secondaries: Vec<CanarySecondary>,
    pub finished_at: Option<SystemTime>,
}

/// What one secondary has done with the canary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanarySecondary {
    /// The address asked (a secondary given by name is looked up).
    pub address: Option<SocketAddr>,
    /// Its last answer.
    pub last: Option<Seen<Result<CanaryPoll, DnsError>>>,
    /// The serial it served last (kept through a question that failed since).
    pub serial: Option<u32>,
    /// How long after the write it first served the new serial, the new text, and both.
    pub serial_after: Option<Duration>,
    pub text_after: Option<Duration>,
    pub picked_up_after: Option<Duration>,
}

impl CanaryRun {
    /// Whether every step is in (the run is over).
    pub fn over(&self) -> bool {
        self.finished_at.is_some() || self.write_error.is_some()
    }

    /// The serial the canary was written with, when the primary's SOA was read back.
    pub fn serial(&self) -> Option<u32> {
        self.written
            .as_ref()
            .and_then(|(_, s)| s.as_ref().ok().copied())
    }

    /// Whether every secondary followed.
    pub fn all_picked_up(&self) -> bool {
        self.written.is_some() && self.secondaries.iter().all(|s| s.picked_up_after.is_some())
    }
}

/// Applies one step of zone `zone`'s run `run` (its text). A step of another run than
/// the zone's last started one (a second dashboard's, an earlier one's) changes nothing.
/// Returns whether anything changed.
pub(super) fn reduce_canary(state: &mut State, zone: usize, run: &str, event: CanaryEvent) -> bool {
    let Some(slot) = state.zones.get_mut(zone) else {
        return false;
    };
    match event {
        CanaryEvent::Started {
            at,
            primary,
            text,
            secondaries,
            deadline,
        } => {
            slot.canary = Some(CanaryRun {
                started_at: at,
                primary,
                text,
                deadline,
                written: None,
                write_error: None,
                secondaries: vec![CanarySecondary::default(); secondaries],
                finished_at: None,
            });
            true
        }
        event => match slot.canary.as_mut() {
            Some(current) if current.text == run && !current.over() => step(current, event),
            _ => false,
        },
    }
}

fn step(run: &mut CanaryRun, event: CanaryEvent) -> bool {
    match event {
        CanaryEvent::Started { .. } => false,
        CanaryEvent::Written { at, serial } => {
            run.written = Some((at, serial));
            true
        }
        CanaryEvent::WriteFailed { at, error } => {
            run.write_error = Some(error);
            run.finished_at = Some(at);
            true
        }
        CanaryEvent::Finished { at } => {
            run.finished_at = Some(at);
            true
        }
        CanaryEvent::Poll {
            at,
            secondary,
            address,
            result,
        } => {
            let written = run.written.as_ref().map(|(w, _)| *w);
            let serial = run.serial();
            let text = run.text.clone();
            let Some(s) = run.secondaries.get_mut(secondary) else {
                return false;
            };
            let after = written.map(|w| at.duration_since(w).unwrap_or_default());
            if let (Ok(poll), Some(after)) = (&result, after) {
                if s.serial_after.is_none() && serial.is_some() && poll.has_serial(serial) {
                    s.serial_after = Some(after);
                }
                if s.text_after.is_none() && poll.has_text(&text) {
                    s.text_after = Some(after);
                }
                if s.picked_up_after.is_none() && poll.follows(serial, &text) {
                    s.picked_up_after = Some(after);
                }
            }
            if let Ok(poll) = &result {
                s.serial = poll.serial.or(s.serial);
            }
            s.address = address.or(s.address);
            s.last = Some(Seen { at, value: result });
            true
        }
    }
}

/// How one secondary stands in a run, in the model's words.
#[derive(Debug, Clone, PartialEq)]
pub enum SecondaryVerdict {
    /// It serves the canary, this long after the write.
    PickedUp(Duration),
    /// Not yet; the run goes on.
    Waiting,
    /// The deadline passed (or the run ended) and it never served the canary.
    Late,
    /// Nothing was written (the primary refused the update): it was not asked.
    NotAsked,
}

/// One secondary of a run, named, with its verdict and its words.
#[derive(Debug, Clone, PartialEq)]
pub struct CanarySecondaryView {
    /// The secondary as the inventory names it (an address or a host name).
    pub server: String,
    pub contact: Option<String>,
    pub verdict: SecondaryVerdict,
    /// The serial it served last.
    pub serial: Option<u32>,
    /// Its last error, if the last question failed.
    pub error: Option<String>,
    /// The sentence for the screen and the report.
    pub words: String,
}

/// A zone's last canary run, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryView<'a> {
    pub run: &'a CanaryRun,
    pub secondaries: Vec<CanarySecondaryView>,
    /// The run is over and something is wrong: the write failed or a secondary is late.
    pub alarm: bool,
    /// One line: how the run stands.
    pub summary: String,
}

/// The last canary run of zone `zone`, if any, with each secondary's verdict.
pub fn canary(state: &State, zone: usize) -> Option<CanaryView<'_>> {
    let run = state.zones.get(zone)?.canary.as_ref()?;
    let config = state.inventory.zones.get(zone)?;
    let secondaries: Vec<CanarySecondaryView> = config
        .secondaries
        .iter()
        .zip(&run.secondaries)
        .map(|(c, s)| secondary_view(run, &c.server, c.contact.as_deref(), s))
        .collect();
    let late = secondaries
        .iter()
        .filter(|s| s.verdict == SecondaryVerdict::Late)
        .count();
    let alarm = run.write_error.is_some() || late > 0;
    let summary = summary(run, &secondaries, late);
    Some(CanaryView {
        run,
        secondaries,
        alarm,
        summary,
    })
}

fn secondary_view(
    run: &CanaryRun,
    server: &ServerRef,
    contact: Option<&str>,
    s: &CanarySecondary,
) -> CanarySecondaryView {
    let name = server.to_string();
    let last = s.last.as_ref().map(|seen| &seen.value);
    let serial = s.serial;
    let error = last.and_then(|r| r.as_ref().err()).map(ToString::to_string);
    let verdict = match s.picked_up_after {
        Some(after) => SecondaryVerdict::PickedUp(after),
        None if run.write_error.is_some() => SecondaryVerdict::NotAsked,
        None if run.over() => SecondaryVerdict::Late,
        None => SecondaryVerdict::Waiting,
    };
    let words = match &verdict {
        SecondaryVerdict::PickedUp(after) => {
            format!("{name} picked up the canary after {}", seconds(*after))
        }
        SecondaryVerdict::Waiting => {
            format!("{name} {}: waiting", serves(serial, error.as_deref()))
        }
        SecondaryVerdict::NotAsked => format!("{name} not asked: nothing was written"),
        SecondaryVerdict::Late => {
            late_words(&name, serial, error.as_deref(), Some(run.deadline), contact)
        }
    };
    CanarySecondaryView {
        server: name,
        contact: contact.map(str::to_string),
        verdict,
        serial,
        error,
        words,
    }
}

/// What a secondary serves, in words.
fn serves(serial: Option<u32>, error: Option<&str>) -> String {
    match (serial, error) {
        (Some(serial), None) => format!("still serves serial {serial}"),
        (Some(serial), Some(e)) => format!("still serves serial {serial} (then: {e})"),
        (None, Some(e)) => format!("does not answer ({e})"),
        (None, None) => "was never asked".to_string(),
    }
}

/// The sentence for a secondary that never served the canary: "ns3.partner.net still
/// serves serial 2009121101 after 10m: is it still transferring from the old primary?
/// Call Aleksi, +358 ...".
pub fn late_words(
    name: &str,
    serial: Option<u32>,
    error: Option<&str>,
    waited: Option<Duration>,
    contact: Option<&str>,
) -> String {
    let after = waited
        .map(|w| {
            format!(
                " after {}",
                crate::config::inventory::duration_text(round_seconds(w))
            )
        })
        .unwrap_or_default();
    let call = contact.map(|c| format!(" Call {c}.")).unwrap_or_default();
    format!(
        "{name} {}{after}: is it still transferring from the old primary?{call}",
        serves(serial, error)
    )
}

fn summary(run: &CanaryRun, secondaries: &[CanarySecondaryView], late: usize) -> String {
    if let Some(e) = &run.write_error {
        return format!("not written: {e}");
    }
    let serial = match &run.written {
        None => return format!("writing to the primary {}…", run.primary),
        Some((_, Ok(serial))) => format!("serial {serial}"),
        Some((_, Err(e))) => format!("serial unknown ({e})"),
    };
    let followed = secondaries
        .iter()
        .filter(|s| matches!(s.verdict, SecondaryVerdict::PickedUp(_)))
        .count();
    let total = secondaries.len();
    match (run.over(), late) {
        (true, 0) => format!("{serial}: all {total} secondaries picked it up"),
        (true, late) => format!("{serial}: {late} of {total} secondaries never picked it up"),
        (false, _) => format!("{serial}: {followed} of {total} secondaries picked it up so far"),
    }
}

/// `1.2s`, `45s`: a pick-up time, to a tenth of a second under a minute.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        crate::config::inventory::duration_text(round_seconds(d))
    }
}

fn round_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_millis() >= 500))
}

/// The zones whose canary may be written: those with a `canary_key`.
pub fn canary_zones(inv: &Inventory) -> impl Iterator<Item = usize> + '_ {
    inv.zones
        .iter()
        .enumerate()
        .filter(|(_, z)| z.canary_key.is_some())
        .map(|(i, _)| i)
}
