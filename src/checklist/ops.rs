//! The operations on the checklist record: tick, untick, note and undo, each made into an
//! event stamped after the record it replaces.
//!
//! The dashboard and `moveday tick` both make their events here, from the record as they
//! know it (the dashboard's merged copy; the state file under its lock, for the CLI), so
//! both follow one rule for time: a new event is newer than the one it replaces even when
//! this machine's clock is behind the one that wrote it. The merge keeps the newest event,
//! so without that rule an untick from a slower clock would silently lose.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::{ChecklistDoc, ChecklistEvent, NoteEvent, TickEvent};

/// The time of a new event on a field last changed at `after`: now, or just after `after`
/// when this clock is behind the one that wrote it, so that the merge (newest wins) keeps
/// the operator's latest intent.
pub fn stamp(now: SystemTime, after: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = DateTime::<Utc>::from(now);
    match after {
        // A record at the end of time (a hand-edited file) cannot be beaten: tie with it.
        Some(after) if now <= after => after
            .checked_add_signed(chrono::Duration::milliseconds(1))
            .unwrap_or(after),
        _ => now,
    }
}

/// What a tick says besides "done": the linked check's evidence, and whether the operator
/// ticked although that check was red.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backing {
    /// The linked probe's state, e.g. `vbox.http: 200 from 203.0.113.13` (see
    /// `store::evidence`).
    pub evidence: Option<String>,
    /// Ticked although the linked probe was red (the operator confirmed).
    pub forced: bool,
}

impl ChecklistDoc {
    /// The current tick of `id`, if any.
    pub fn tick_of(&self, id: &str) -> Option<&TickEvent> {
        self.items.get(id).and_then(|r| r.tick.as_ref())
    }

    /// The current note of `id`, if any.
    pub fn note_of(&self, id: &str) -> Option<&NoteEvent> {
        self.items.get(id).and_then(|r| r.note.as_ref())
    }

    /// `who` ticks `id`.
    pub fn tick(&self, id: &str, who: &str, backing: Backing, now: SystemTime) -> ChecklistEvent {
        self.tick_event(
            id,
            TickEvent {
                done: true,
                who: who.to_string(),
                at: DateTime::<Utc>::MIN_UTC,
                evidence: backing.evidence,
                forced: backing.forced,
            },
            now,
        )
    }

    /// `who` unticks `id`.
    pub fn untick(&self, id: &str, who: &str, now: SystemTime) -> ChecklistEvent {
        self.tick_event(
            id,
            TickEvent {
                done: false,
                who: who.to_string(),
                at: DateTime::<Utc>::MIN_UTC,
                evidence: None,
                forced: false,
            },
            now,
        )
    }

    /// `who` puts the tick of `id` back as it was before (`previous`; `None`: never ticked).
    /// A tick that comes back keeps the evidence (or the forcing) it had.
    pub fn restore(
        &self,
        id: &str,
        who: &str,
        previous: Option<TickEvent>,
        now: SystemTime,
    ) -> ChecklistEvent {
        match previous {
            Some(previous) if previous.done => self.tick_event(
                id,
                TickEvent {
                    who: who.to_string(),
                    ..previous
                },
                now,
            ),
            _ => self.untick(id, who, now),
        }
    }

    /// `who` sets the note of `id` to `text` (an empty text clears it).
    pub fn note(&self, id: &str, who: &str, text: &str, now: SystemTime) -> ChecklistEvent {
        ChecklistEvent::Note {
            id: id.to_string(),
            note: NoteEvent {
                text: text.to_string(),
                who: who.to_string(),
                at: stamp(now, self.note_of(id).map(|n| n.at)),
            },
        }
    }

    fn tick_event(&self, id: &str, mut tick: TickEvent, now: SystemTime) -> ChecklistEvent {
        tick.at = stamp(now, self.tick_of(id).map(|t| t.at));
        ChecklistEvent::Tick {
            id: id.to_string(),
            tick,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn an_event_from_a_slower_clock_still_replaces_the_record() {
        let mut doc = ChecklistDoc::new();
        // Ticked on a laptop ten minutes ahead.
        doc.apply(&doc.tick("acl", "ann", Backing::default(), at(600)));
        // Unticked here, "now", ten minutes earlier by this clock.
        let untick = doc.untick("acl", "bob", at(0));
        doc.apply(&untick);
        let tick = doc.tick_of("acl").unwrap();
        assert!(!tick.done, "the untick must win the merge");
        assert_eq!(tick.who, "bob");
        assert!(tick.at > DateTime::<Utc>::from(at(600)));
        // A note too.
        doc.apply(&doc.note("acl", "ann", "first", at(600)));
        doc.apply(&doc.note("acl", "bob", "second", at(0)));
        assert_eq!(doc.note_of("acl").unwrap().text, "second");
    }

    #[test]
    fn an_event_from_a_faster_clock_keeps_its_own_time() {
        let mut doc = ChecklistDoc::new();
        doc.apply(&doc.tick("acl", "ann", Backing::default(), at(0)));
        let ChecklistEvent::Tick { tick, .. } = doc.untick("acl", "bob", at(5)) else {
            panic!("not a tick")
        };
        assert_eq!(tick.at, DateTime::<Utc>::from(at(5)));
    }

    #[test]
    fn restore_brings_back_the_evidence_or_unticks() {
        let mut doc = ChecklistDoc::new();
        let backing = Backing {
            evidence: Some("vbox.http: 200 from 203.0.113.13".into()),
            forced: false,
        };
        doc.apply(&doc.tick("acl", "ann", backing, at(1)));
        let previous = doc.tick_of("acl").cloned();
        doc.apply(&doc.untick("acl", "ann", at(2)));
        doc.apply(&doc.restore("acl", "bob", previous, at(3)));
        let tick = doc.tick_of("acl").unwrap();
        assert!(tick.done);
        assert_eq!(tick.who, "bob");
        assert_eq!(
            tick.evidence.as_deref(),
            Some("vbox.http: 200 from 203.0.113.13")
        );
        doc.apply(&doc.restore("acl", "bob", None, at(4)));
        assert!(!doc.is_done("acl"));
    }
}
