//! The move plan's checklist: who ticked what and when, and how two copies of that record
//! merge so that no tick is ever lost.
//!
//! The record ([`ChecklistDoc`]) keeps, per item id, the latest tick event and the latest
//! note, each stamped with who and when. Merging two records keeps, field by field, the
//! newer event (ties broken deterministically), so merge is commutative, associative and
//! idempotent: two processes that tick different items, or the same item, converge on the
//! same file whatever order they write in. Ids that are no longer in the inventory are kept.

pub mod headless;
mod ops;
pub mod persist;

pub use ops::{Backing, stamp};

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::inventory::ChecklistItem;

/// Version of the state file format.
pub const FORMAT_VERSION: u32 = 1;

/// The persisted record of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistDoc {
    pub version: u32,
    /// By item id.
    #[serde(default)]
    pub items: BTreeMap<String, ItemRecord>,
}

/// What is known about one item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRecord {
    /// The latest tick or untick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick: Option<TickEvent>,
    /// The latest note (an empty text clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<NoteEvent>,
}

/// A tick (`done = true`) or an untick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickEvent {
    pub done: bool,
    pub who: String,
    pub at: DateTime<Utc>,
    /// The linked probe's state when ticked, e.g. "vbox.http: 200 from 203.0.113.13".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Ticked although the linked probe was red (the operator confirmed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteEvent {
    pub text: String,
    pub who: String,
    pub at: DateTime<Utc>,
}

/// One change made by an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecklistEvent {
    Tick { id: String, tick: TickEvent },
    Note { id: String, note: NoteEvent },
}

impl ChecklistEvent {
    pub fn id(&self) -> &str {
        match self {
            ChecklistEvent::Tick { id, .. } | ChecklistEvent::Note { id, .. } => id,
        }
    }
}

/// Orders two events of the same field: the later one wins; for equal times the larger
/// by a fixed key, so that every process picks the same winner.
fn tick_order(a: &TickEvent, b: &TickEvent) -> Ordering {
    a.at.cmp(&b.at)
        .then_with(|| a.who.cmp(&b.who))
        .then_with(|| a.done.cmp(&b.done))
        .then_with(|| a.evidence.cmp(&b.evidence))
        .then_with(|| a.forced.cmp(&b.forced))
}

fn note_order(a: &NoteEvent, b: &NoteEvent) -> Ordering {
    a.at.cmp(&b.at)
        .then_with(|| a.who.cmp(&b.who))
        .then_with(|| a.text.cmp(&b.text))
}

/// Makes `ours` the newer of `ours` and `theirs` in place; returns whether it changed.
fn take_newer<T: Clone>(
    ours: &mut Option<T>,
    theirs: &Option<T>,
    order: fn(&T, &T) -> Ordering,
) -> bool {
    match (ours.as_ref(), theirs) {
        (_, None) => false,
        (Some(x), Some(y)) if order(x, y) != Ordering::Less => false,
        (_, Some(y)) => {
            *ours = Some(y.clone());
            true
        }
    }
}

impl ItemRecord {
    /// Takes the newer of each field from `theirs`; returns whether anything changed.
    fn merge_from(&mut self, theirs: &ItemRecord) -> bool {
        let tick = take_newer(&mut self.tick, &theirs.tick, tick_order);
        let note = take_newer(&mut self.note, &theirs.note, note_order);
        tick || note
    }
}

impl Default for ChecklistDoc {
    fn default() -> Self {
        ChecklistDoc::new()
    }
}

impl ChecklistDoc {
    pub fn new() -> ChecklistDoc {
        ChecklistDoc {
            version: FORMAT_VERSION,
            items: BTreeMap::new(),
        }
    }

    /// Field by field, the newer of the two records. Commutative, associative, idempotent.
    pub fn merge(&self, other: &ChecklistDoc) -> ChecklistDoc {
        let mut merged = self.clone();
        merged.merge_from(other);
        merged
    }

    /// [`merge`](Self::merge) in place, without copying the record (a state file may hold
    /// hundreds of thousands of items). Returns whether `self` changed.
    pub fn merge_from(&mut self, other: &ChecklistDoc) -> bool {
        let mut changed = other.version > self.version;
        self.version = self.version.max(other.version);
        for (id, theirs) in &other.items {
            match self.items.get_mut(id) {
                Some(ours) => changed |= ours.merge_from(theirs),
                None => {
                    // An empty record adds nothing but its id (as the copying merge did).
                    changed = true;
                    self.items.insert(id.clone(), theirs.clone());
                }
            }
        }
        changed
    }

    /// Records one event (the same as merging a record holding only it). Returns whether
    /// the record changed.
    pub fn apply(&mut self, event: &ChecklistEvent) -> bool {
        let (record, new) = match self.items.get_mut(event.id()) {
            Some(record) => (record, false),
            None => (self.items.entry(event.id().to_string()).or_default(), true),
        };
        let changed = match event {
            ChecklistEvent::Tick { tick, .. } => {
                take_newer(&mut record.tick, &Some(tick.clone()), tick_order)
            }
            ChecklistEvent::Note { note, .. } => {
                take_newer(&mut record.note, &Some(note.clone()), note_order)
            }
        };
        new || changed
    }

    /// Whether the item is ticked.
    pub fn is_done(&self, id: &str) -> bool {
        self.items
            .get(id)
            .and_then(|r| r.tick.as_ref())
            .is_some_and(|t| t.done)
    }

    /// An item's status as the record has it: ticked (by a person, or backed by a green
    /// check's evidence), else ready when its linked check is green now (`linked_green`,
    /// which only the live model knows), else open.
    pub fn status(&self, id: &str, linked_green: bool) -> ItemStatus {
        match self.items.get(id).and_then(|r| r.tick.as_ref()) {
            Some(t) if t.done && t.evidence.is_some() && !t.forced => ItemStatus::DoneByCheck,
            Some(t) if t.done => ItemStatus::Done,
            _ if linked_green => ItemStatus::Ready,
            _ => ItemStatus::Open,
        }
    }

    /// Ids recorded here that `items` (the inventory) no longer has: kept, and reported.
    pub fn orphans<'a>(&'a self, items: &[ChecklistItem]) -> Vec<&'a str> {
        self.items
            .keys()
            .filter(|id| !items.iter().any(|i| &i.id == *id))
            .map(String::as_str)
            .collect()
    }

    /// How many ids recorded here `items` no longer has, and the first `shown` of them:
    /// what a dashboard reports, without listing a state file of a million old ids.
    pub fn orphan_summary(&self, items: &[ChecklistItem], shown: usize) -> (usize, Vec<String>) {
        let known = items
            .iter()
            .filter(|i| self.items.contains_key(&i.id))
            .count();
        let first = self
            .items
            .keys()
            .filter(|id| !items.iter().any(|i| &i.id == *id))
            .take(shown)
            .cloned()
            .collect();
        (self.items.len() - known, first)
    }

    /// [`merge_from`](Self::merge_from) for the records of `items` only: a dashboard keeps
    /// the items it shows, whatever else the state file holds.
    pub fn merge_items_from(&mut self, other: &ChecklistDoc, items: &[ChecklistItem]) -> bool {
        let mut changed = other.version > self.version;
        self.version = self.version.max(other.version);
        for item in items {
            let Some(theirs) = other.items.get(&item.id) else {
                continue;
            };
            match self.items.get_mut(&item.id) {
                Some(ours) => changed |= ours.merge_from(theirs),
                None => {
                    changed = true;
                    self.items.insert(item.id.clone(), theirs.clone());
                }
            }
        }
        changed
    }
}

/// An item's state as the pane shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not ticked.
    Open,
    /// Not ticked, and its linked probe is green: ready to tick.
    Ready,
    /// Ticked by a person.
    Done,
    /// Ticked while its linked probe was green: the tick carries the check's evidence.
    DoneByCheck,
}

impl ItemStatus {
    pub fn word(self) -> &'static str {
        match self {
            ItemStatus::Open => "open",
            ItemStatus::Ready => "ready",
            ItemStatus::Done => "done",
            ItemStatus::DoneByCheck => "done-by-check",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            ItemStatus::Open => "[ ]",
            ItemStatus::Ready => "[›]",
            ItemStatus::Done => "[x]",
            ItemStatus::DoneByCheck => "[✔]",
        }
    }
}

/// Done and total items of one phase (or of all, with `None`).
pub fn progress(
    doc: &ChecklistDoc,
    items: &[ChecklistItem],
    phase: Option<&str>,
) -> (usize, usize) {
    let items: Vec<&ChecklistItem> = items
        .iter()
        .filter(|i| phase.is_none_or(|p| i.phase == p))
        .collect();
    let done = items.iter().filter(|i| doc.is_done(&i.id)).count();
    (done, items.len())
}

#[cfg(test)]
mod tests;
