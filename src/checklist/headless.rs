//! The text and JSON of the headless `moveday checklist` and `moveday tick` commands (the
//! JSON's types are in [`json`]).

pub mod json;

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Local, Utc};

use self::json::{ChecklistOutput, ItemOutput, NoteOutput, PhaseOutput};
use crate::checklist::{self, ChecklistDoc, ChecklistEvent, ItemStatus, NoteEvent, TickEvent};
use crate::config::{ChecklistItem, Inventory};
use crate::sanitize::sanitize;
use crate::schema::SchemaVersion;
use crate::timefmt::rfc3339;

/// Longest note shown, in characters (the file may come from anyone who can write it).
const MAX_NOTE_CHARS: usize = 500;

/// Text from the inventory as the terminal may see it (a name or text with ESC or BEL in
/// it is free text of the file): control characters escaped, capped.
fn shown(text: &str) -> String {
    sanitize(text, MAX_NOTE_CHARS)
}

fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn check_name(inv: &Inventory, item: &ChecklistItem) -> Option<String> {
    item.check.map(|link| link.name(inv))
}

/// Without live probes: open, done, or done-by-check when the tick carries evidence.
fn statuses(inv: &Arc<Inventory>, doc: &ChecklistDoc) -> Vec<ItemStatus> {
    inv.checklist
        .iter()
        .map(|item| doc.status(&item.id, false))
        .collect()
}

/// `moveday checklist --json`.
pub fn to_json(inv: &Arc<Inventory>, path: &Path, doc: &ChecklistDoc) -> ChecklistOutput {
    let statuses = statuses(inv, doc);
    let item = |(item, status): (&ChecklistItem, &ItemStatus)| {
        let record = doc.items.get(&item.id);
        let tick = record.and_then(|r| r.tick.as_ref());
        let note = record
            .and_then(|r| r.note.as_ref())
            .filter(|n| !n.text.is_empty());
        ItemOutput {
            at: tick.map(|t| rfc3339(t.at)),
            check: check_name(inv, item),
            id: item.id.clone(),
            note: note.map(|n| NoteOutput {
                at: rfc3339(n.at),
                text: sanitize(&n.text, MAX_NOTE_CHARS),
                who: sanitize(&n.who, MAX_NOTE_CHARS),
            }),
            state: status.word(),
            text: item.text.clone(),
            who: tick.map(|t| sanitize(&t.who, MAX_NOTE_CHARS)),
        }
    };
    let phases = inv
        .phases
        .iter()
        .map(|phase| {
            let (done, total) = checklist::progress(doc, &inv.checklist, Some(phase));
            let items = inv
                .checklist
                .iter()
                .zip(&statuses)
                .filter(|(item, _)| &item.phase == phase)
                .map(item);
            PhaseOutput {
                done,
                items: items.collect(),
                name: phase.clone(),
                total,
            }
        })
        .collect();
    let (done, total) = checklist::progress(doc, &inv.checklist, None);
    ChecklistOutput {
        schema: SchemaVersion,
        done,
        move_name: inv.name.clone(),
        orphans: doc
            .orphans(&inv.checklist)
            .into_iter()
            .map(String::from)
            .collect(),
        phases,
        state_file: path.display().to_string(),
        total,
    }
}

pub fn to_text(inv: &Arc<Inventory>, path: &Path, doc: &ChecklistDoc) -> String {
    let statuses = statuses(inv, doc);
    let mut out = String::new();
    let (done, total) = checklist::progress(doc, &inv.checklist, None);
    let _ = writeln!(out, "{}: checklist {done}/{total} done", shown(&inv.name));
    let _ = writeln!(out, "state file: {}", shown(&path.display().to_string()));
    if inv.checklist.is_empty() {
        let _ = writeln!(
            out,
            "\nthe inventory has no [[checklist]] items (id, phase, text, check = \"HOST.PROBE\")"
        );
    }
    let id_width = inv
        .checklist
        .iter()
        .map(|i| i.id.chars().count())
        .max()
        .unwrap_or(0);
    for phase in &inv.phases {
        let (done, total) = checklist::progress(doc, &inv.checklist, Some(phase));
        let _ = writeln!(out, "\n{}  {done}/{total}", shown(phase));
        for (item, status) in inv.checklist.iter().zip(&statuses) {
            if &item.phase != phase {
                continue;
            }
            let check = check_name(inv, item)
                .map(|c| format!("  [check: {}]", shown(&c)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {:<id_width$}  {}{check}",
                status.symbol(),
                item.id,
                shown(&item.text)
            );
            let record = doc.items.get(&item.id);
            let pad = " ".repeat(id_width + 8);
            if let Some(t) = record.and_then(|r| r.tick.as_ref()) {
                let who = sanitize(&t.who, MAX_NOTE_CHARS);
                let line = match status {
                    ItemStatus::Open | ItemStatus::Ready => {
                        format!("open: unticked by {who}, {}", local(t.at))
                    }
                    _ if t.forced => {
                        format!("done by {who}, {} (its check was red)", local(t.at))
                    }
                    _ => format!("{} by {who}, {}", status.word(), local(t.at)),
                };
                let _ = writeln!(out, "{pad}{line}");
                if let Some(evidence) = &t.evidence {
                    let _ = writeln!(out, "{pad}evidence: {}", sanitize(evidence, MAX_NOTE_CHARS));
                }
            }
            if let Some(n) = record
                .and_then(|r| r.note.as_ref())
                .filter(|n| !n.text.is_empty())
            {
                let _ = writeln!(
                    out,
                    "{pad}note: \"{}\" ({}, {})",
                    sanitize(&n.text, MAX_NOTE_CHARS),
                    sanitize(&n.who, MAX_NOTE_CHARS),
                    local(n.at)
                );
            }
        }
    }
    let orphans = doc.orphans(&inv.checklist);
    if !orphans.is_empty() {
        let _ = writeln!(out, "\nkept, not in the inventory: {}", orphans.join(", "));
    }
    out
}

/// The one line `tick` prints, e.g. `ticked lower-ttl with note "300 s" as alice@box at
/// 2026-11-25 17:45:01 (Lower the TTLs)`, read from `saved`, the record now on disk, never
/// from what was asked. `Err` says why when the record does not hold the `asked` events
/// (another change won the merge): nothing the operator wanted was recorded as such.
pub fn recorded(
    item: &ChecklistItem,
    asked: &[ChecklistEvent],
    saved: &ChecklistDoc,
) -> Result<String, String> {
    let id = item.id.as_str();
    let (tick, note) = (saved.tick_of(id), saved.note_of(id));
    for event in asked {
        let kept = match event {
            ChecklistEvent::Tick { tick: ours, .. } => tick == Some(ours),
            ChecklistEvent::Note { note: ours, .. } => note == Some(ours),
        };
        if !kept {
            return Err(format!(
                "{id}: not recorded: the state file holds a newer change ({})",
                record_words(tick, note)
            ));
        }
    }
    let tick = tick.filter(|_| {
        asked
            .iter()
            .any(|e| matches!(e, ChecklistEvent::Tick { .. }))
    });
    let note = note.filter(|_| {
        asked
            .iter()
            .any(|e| matches!(e, ChecklistEvent::Note { .. }))
    });
    let verb = match (tick, note) {
        (Some(t), _) if t.done => "ticked",
        (Some(_), _) => "unticked",
        (None, Some(n)) if n.text.is_empty() => "cleared the note of",
        (None, _) => "noted",
    };
    let note_words = match note.map(|n| n.text.as_str()) {
        None => String::new(),
        Some("") if tick.is_none() => String::new(),
        Some("") => " and cleared its note".to_string(),
        Some(text) if tick.is_none() => format!(": \"{}\"", sanitize(text, MAX_NOTE_CHARS)),
        Some(text) => format!(" with note \"{}\"", sanitize(text, MAX_NOTE_CHARS)),
    };
    let Some((who, at)) = tick
        .map(|t| (&t.who, t.at))
        .or_else(|| note.map(|n| (&n.who, n.at)))
    else {
        return Err(format!("{id}: nothing was asked"));
    };
    Ok(format!(
        "{verb} {id}{note_words} as {} at {} ({})",
        sanitize(who, MAX_NOTE_CHARS),
        local(at),
        shown(&item.text)
    ))
}

/// The record of one item in a few words: `done by bob at 2026-11-25 17:45:01`.
fn record_words(tick: Option<&TickEvent>, note: Option<&NoteEvent>) -> String {
    let tick = tick.map(|t| {
        format!(
            "{} by {} at {}",
            if t.done { "done" } else { "open" },
            sanitize(&t.who, MAX_NOTE_CHARS),
            local(t.at)
        )
    });
    let note = note.map(|n| {
        format!(
            "note by {} at {}",
            sanitize(&n.who, MAX_NOTE_CHARS),
            local(n.at)
        )
    });
    [tick, note]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Unknown id: the message, with the closest ids of the inventory.
pub fn unknown_id(inv: &Inventory, id: &str) -> String {
    let asked = sanitize(id, 80);
    if inv.checklist.is_empty() {
        return format!(
            "unknown checklist id `{asked}`: {} has no [[checklist]] items",
            shown(&inv.path.display().to_string())
        );
    }
    let wanted = id.to_lowercase();
    let mut close: Vec<(usize, &str)> = inv
        .checklist
        .iter()
        .map(|i| {
            let candidate = i.id.to_lowercase();
            let contains = candidate.contains(&wanted) || wanted.contains(&candidate);
            let distance = if contains {
                0
            } else {
                edit_distance(&wanted, &candidate)
            };
            (distance, i.id.as_str())
        })
        .filter(|(d, id)| *d <= (id.chars().count() / 3).max(2))
        .collect();
    close.sort();
    let close: Vec<&str> = close.iter().take(3).map(|(_, id)| *id).collect();
    let hint = if close.is_empty() {
        "`moveday checklist` lists the ids".to_string()
    } else {
        format!("did you mean {}?", close.join(", "))
    };
    format!(
        "unknown checklist id `{asked}` in {}: {hint}",
        shown(&inv.path.display().to_string())
    )
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j] + 1).min(row[j + 1] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    /// Names and texts of the inventory are free text: ESC, BEL and C1 codes in them are
    /// escaped in what `checklist` and `tick` print.
    #[test]
    fn inventory_text_is_escaped_in_the_checklist_and_the_tick_line() {
        let inv = Inventory::parse(
            Path::new("inv.toml"),
            "[move]\nname = \"m\\u001b]0;pwned\\u0007\"\n\
             [[host]]\nname = \"h\\u009b31m\"\nfqdn = \"h.org\"\n\
             [[checklist]]\nid = \"ttl\"\nphase = \"be\\u001b[2Jfore\"\n\
             text = \"Lower\\u0007 the TTLs\"\ncheck = \"h\\u009b31m.health\"\n",
        )
        .unwrap();
        let inv = Arc::new(inv);
        let mut doc = ChecklistDoc::new();
        let tick = doc.tick(
            "ttl",
            "ann",
            checklist::Backing::default(),
            SystemTime::now(),
        );
        doc.apply(&tick);
        let text = to_text(&inv, Path::new("state.json"), &doc);
        let line = recorded(&inv.checklist[0], &[tick], &doc).unwrap();
        for out in [&text, &line] {
            assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        }
        assert!(
            text.contains("m\\x1b]0;pwned\\x07: checklist 1/1 done"),
            "{text}"
        );
        assert!(text.contains("be\\x1b[2Jfore"), "{text}");
        assert!(text.contains("[check: h\\x9b31m.health]"), "{text}");
        assert!(line.ends_with("(Lower\\x07 the TTLs)"), "{line}");
    }
}
