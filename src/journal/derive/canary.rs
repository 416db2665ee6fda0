//! A canary run's steps as journal entries: every step that changed the run (the start,
//! the write or its refusal, each secondary picking it up, each one late at the end, the
//! end).

use std::time::SystemTime;

use super::entry;
use crate::config::Inventory;
use crate::journal::{CanaryStep, Entry, Event};
use crate::store::CanaryRun;

/// The entries for zone `zone`'s run going from `before` to `after` at `at`.
pub(super) fn canary_events(
    inv: &Inventory,
    zone: usize,
    before: Option<&CanaryRun>,
    after: &CanaryRun,
    at: SystemTime,
) -> Vec<Entry> {
    let Some(config) = inv.zones.get(zone) else {
        return Vec::new();
    };
    let with = |step, f: &dyn Fn(&mut CanaryFields)| {
        let mut fields = CanaryFields::default();
        f(&mut fields);
        fields.into_event(config.name.clone(), after.text.clone(), step)
    };
    let same_run = before.is_some_and(|b| b.started_at == after.started_at);
    let before = before.filter(|_| same_run);
    let primary = after.primary.to_string();
    let mut events = Vec::new();
    if before.is_none() {
        events.push(with(CanaryStep::Started, &|f| {
            f.server = Some(primary.clone());
            f.text = Some(after.text.clone());
        }));
    }
    if let Some((_, serial)) = &after.written
        && before.is_none_or(|b| b.written.is_none())
    {
        events.push(with(CanaryStep::Written, &|f| {
            f.server = Some(primary.clone());
            f.serial = serial.as_ref().ok().copied();
            f.error = serial
                .as_ref()
                .err()
                .map(|e| format!("serial not read back: {e}"));
        }));
    }
    if let Some(error) = &after.write_error
        && before.is_none_or(|b| b.write_error.is_none())
    {
        events.push(with(CanaryStep::NotWritten, &|f| {
            f.server = Some(primary.clone());
            f.error = Some(error.to_string());
        }));
    }
    let finished_now =
        after.finished_at.is_some() && before.is_none_or(|b| b.finished_at.is_none());
    for (i, s) in after.secondaries.iter().enumerate() {
        let was = before.and_then(|b| b.secondaries.get(i));
        let server = config.secondaries.get(i);
        let name = server.map_or_else(|| format!("secondary {i}"), |c| c.server.to_string());
        let contact = server.and_then(|c| c.contact.clone());
        let last = s.last.as_ref().map(|seen| &seen.value);
        if let Some(after_s) = s.picked_up_after
            && was.is_none_or(|w| w.picked_up_after.is_none())
        {
            events.push(with(CanaryStep::PickedUp, &|f| {
                f.server = Some(name.clone());
                f.serial = s.serial;
                f.after_s = Some(crate::timefmt::seconds_ms(after_s));
            }));
        } else if finished_now && after.write_error.is_none() && s.picked_up_after.is_none() {
            // Late is said at the deadline: "after 10m", as the screen says it.
            let waited = Some(after.deadline);
            events.push(with(CanaryStep::Late, &|f| {
                f.server = Some(name.clone());
                f.contact = contact.clone();
                f.serial = s.serial;
                f.after_s = waited.map(crate::timefmt::seconds_ms);
                f.error = last.and_then(|r| r.as_ref().err()).map(ToString::to_string);
            }));
        }
    }
    if finished_now && after.write_error.is_none() {
        events.push(with(CanaryStep::Finished, &|_| {}));
    }
    events.into_iter().map(|e| entry(at, e)).collect()
}

#[derive(Default)]
struct CanaryFields {
    server: Option<String>,
    contact: Option<String>,
    serial: Option<u32>,
    after_s: Option<f64>,
    text: Option<String>,
    error: Option<String>,
}

impl CanaryFields {
    fn into_event(self, zone: String, run: String, step: CanaryStep) -> Event {
        Event::Canary {
            zone,
            run: Some(run),
            step,
            server: self.server,
            contact: self.contact,
            serial: self.serial,
            after_s: self.after_s,
            text: self.text,
            error: self.error,
        }
    }
}
