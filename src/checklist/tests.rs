//! Unit tests of the merge: the algebra that lets any number of processes write the same
//! state file in any order and converge on the same record, losing no tick.

use super::*;
use chrono::TimeZone;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + secs, 0).unwrap()
}

fn tick(done: bool, who: &str, secs: i64) -> TickEvent {
    TickEvent {
        done,
        who: who.into(),
        at: at(secs),
        evidence: None,
        forced: false,
    }
}

fn note(text: &str, who: &str, secs: i64) -> NoteEvent {
    NoteEvent {
        text: text.into(),
        who: who.into(),
        at: at(secs),
    }
}

fn tick_ev(id: &str, t: TickEvent) -> ChecklistEvent {
    ChecklistEvent::Tick {
        id: id.into(),
        tick: t,
    }
}

fn note_ev(id: &str, n: NoteEvent) -> ChecklistEvent {
    ChecklistEvent::Note {
        id: id.into(),
        note: n,
    }
}

fn doc(events: &[ChecklistEvent]) -> ChecklistDoc {
    let mut d = ChecklistDoc::new();
    for e in events {
        d.apply(e);
    }
    d
}

fn item(id: &str) -> ChecklistItem {
    ChecklistItem {
        id: id.into(),
        phase: "before".into(),
        text: format!("do {id}"),
        check: None,
    }
}

/// A few hand-written records that exercise the edge cases: empty, disjoint, same item,
/// tied timestamps, notes only.
fn table() -> Vec<(&'static str, ChecklistDoc)> {
    vec![
        ("empty", ChecklistDoc::new()),
        (
            "alice ticks a",
            doc(&[tick_ev("a", tick(true, "alice", 10))]),
        ),
        ("bob ticks b", doc(&[tick_ev("b", tick(true, "bob", 11))])),
        (
            "bob unticks a later",
            doc(&[tick_ev("a", tick(false, "bob", 20))]),
        ),
        (
            "carol unticks a at the same second",
            doc(&[tick_ev("a", tick(false, "carol", 10))]),
        ),
        (
            "note on a",
            doc(&[note_ev("a", note("ACL dump reviewed", "dave", 15))]),
        ),
        (
            "tick and note on c",
            doc(&[
                tick_ev("c", tick(true, "erin", 5)),
                note_ev("c", note("port 80 open", "erin", 6)),
            ]),
        ),
        (
            "evidence tie",
            doc(&[tick_ev(
                "a",
                TickEvent {
                    evidence: Some("vbox.http: 200".into()),
                    ..tick(true, "alice", 10)
                },
            )]),
        ),
    ]
}

#[test]
fn merge_laws_hold_on_the_table() {
    let docs = table();
    for (na, a) in &docs {
        assert_eq!(&a.merge(a), a, "idempotent: {na}");
        assert_eq!(&a.merge(&ChecklistDoc::new()), a, "identity: {na}");
        for (nb, b) in &docs {
            assert_eq!(a.merge(b), b.merge(a), "commutative: {na} / {nb}");
            for (nc, c) in &docs {
                assert_eq!(
                    a.merge(b).merge(c),
                    a.merge(&b.merge(c)),
                    "associative: {na} / {nb} / {nc}"
                );
            }
        }
    }
}

/// SplitMix64: enough randomness for generated records, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// A random event from small pools, so that the same items, the same seconds and the same
/// people collide often (ties are where a careless merge goes wrong).
fn random_event(rng: &mut Rng) -> ChecklistEvent {
    let id = rng.pick(&["a", "b", "c", "d"]);
    let who = rng.pick(&["alice", "bob", "carol"]);
    let secs = rng.below(4) as i64;
    if rng.below(3) == 0 {
        let text = rng.pick(&["", "done", "port 80 missing"]);
        note_ev(id, note(text, who, secs))
    } else {
        tick_ev(
            id,
            TickEvent {
                done: rng.below(2) == 0,
                who: who.into(),
                at: at(secs),
                evidence: (rng.below(3) == 0).then(|| "vbox.http: 200".to_string()),
                forced: rng.below(5) == 0,
            },
        )
    }
}

fn random_doc(rng: &mut Rng) -> ChecklistDoc {
    let n = rng.below(6);
    let events: Vec<ChecklistEvent> = (0..n).map(|_| random_event(rng)).collect();
    doc(&events)
}

#[test]
fn merge_laws_hold_on_generated_records() {
    let mut rng = Rng(0x6d6f_7665_6461_7931);
    for round in 0..2000 {
        let (a, b, c) = (
            random_doc(&mut rng),
            random_doc(&mut rng),
            random_doc(&mut rng),
        );
        assert_eq!(a.merge(&a), a, "idempotent, round {round}: {a:?}");
        assert_eq!(
            a.merge(&b).merge(&b),
            a.merge(&b),
            "absorbs a repeat, round {round}"
        );
        assert_eq!(
            a.merge(&b),
            b.merge(&a),
            "commutative, round {round}: {a:?} / {b:?}"
        );
        assert_eq!(
            a.merge(&b).merge(&c),
            a.merge(&b.merge(&c)),
            "associative, round {round}: {a:?} / {b:?} / {c:?}"
        );
    }
}

#[test]
fn events_applied_in_any_order_give_the_same_record() {
    let mut rng = Rng(42);
    for round in 0..500 {
        let events: Vec<ChecklistEvent> = (0..8).map(|_| random_event(&mut rng)).collect();
        let forward = doc(&events);
        let mut reversed: Vec<ChecklistEvent> = events.clone();
        reversed.reverse();
        assert_eq!(doc(&reversed), forward, "round {round}");
        // Split between two "processes", each writing its half, merged either way.
        let cut = rng.below(events.len() as u64 + 1) as usize;
        let (left, right) = (doc(&events[..cut]), doc(&events[cut..]));
        assert_eq!(left.merge(&right), forward, "round {round}");
        assert_eq!(right.merge(&left), forward, "round {round}");
    }
}

#[test]
fn apply_is_merge_with_a_one_event_record() {
    let mut rng = Rng(7);
    for _ in 0..500 {
        let base = random_doc(&mut rng);
        let event = random_event(&mut rng);
        let mut applied = base.clone();
        applied.apply(&event);
        assert_eq!(applied, base.merge(&doc(std::slice::from_ref(&event))));
    }
}

#[test]
fn the_newer_tick_wins_whichever_side_it_is_on() {
    let old = doc(&[tick_ev("a", tick(true, "alice", 10))]);
    let new = doc(&[tick_ev("a", tick(false, "bob", 11))]);
    for merged in [old.merge(&new), new.merge(&old)] {
        assert!(!merged.is_done("a"));
        assert_eq!(merged.items["a"].tick.as_ref().unwrap().who, "bob");
    }
}

#[test]
fn a_tie_in_time_is_broken_the_same_way_everywhere() {
    let alice = doc(&[tick_ev("a", tick(true, "alice", 10))]);
    let bob = doc(&[tick_ev("a", tick(false, "bob", 10))]);
    let ab = alice.merge(&bob);
    assert_eq!(ab, bob.merge(&alice));
    // The larger `who` wins a tie in time: "bob" > "alice".
    assert_eq!(ab.items["a"].tick.as_ref().unwrap().who, "bob");
    // Same person, same second: the tick (done) beats the untick.
    let undo = doc(&[tick_ev("a", tick(false, "alice", 10))]);
    assert!(alice.merge(&undo).is_done("a"));
    assert!(undo.merge(&alice).is_done("a"));
}

#[test]
fn an_untick_after_a_tick_leaves_the_item_open() {
    let d = doc(&[
        tick_ev("a", tick(true, "alice", 10)),
        tick_ev("a", tick(false, "alice", 12)),
    ]);
    assert!(!d.is_done("a"));
    // The untick is a recorded event, not a deletion: its who and when are kept.
    assert_eq!(d.items["a"].tick.as_ref().unwrap().at, at(12));
    // An older tick arriving late (from a slow process) does not tick it again.
    let late = doc(&[tick_ev("a", tick(true, "carol", 11))]);
    assert!(!d.merge(&late).is_done("a"));
    assert!(!late.merge(&d).is_done("a"));
}

#[test]
fn a_note_and_a_tick_on_one_item_from_two_sides_both_survive() {
    let ticker = doc(&[tick_ev("acl", tick(true, "alice", 10))]);
    let noter = doc(&[note_ev("acl", note("reviewed, port 80 added", "bob", 9))]);
    for merged in [ticker.merge(&noter), noter.merge(&ticker)] {
        assert!(merged.is_done("acl"));
        let record = &merged.items["acl"];
        assert_eq!(record.tick.as_ref().unwrap().who, "alice");
        let n = record.note.as_ref().unwrap();
        assert_eq!(
            (n.text.as_str(), n.who.as_str()),
            ("reviewed, port 80 added", "bob")
        );
    }
}

#[test]
fn ids_gone_from_the_inventory_are_kept_and_listed() {
    let d = doc(&[
        tick_ev("lower-ttl", tick(true, "alice", 1)),
        tick_ev("old-step", tick(true, "bob", 2)),
        note_ev("older-step", note("dropped from the plan", "bob", 3)),
    ]);
    let other = doc(&[tick_ev("lower-ttl", tick(false, "carol", 4))]);
    let merged = d.merge(&other);
    assert!(merged.items.contains_key("old-step"));
    assert!(merged.items.contains_key("older-step"));
    assert_eq!(
        merged.orphans(&[item("lower-ttl"), item("acl")]),
        vec!["old-step", "older-step"]
    );
}

#[test]
fn the_record_round_trips_through_json() {
    let mut rng = Rng(99);
    for _ in 0..200 {
        let d = random_doc(&mut rng);
        let text = serde_json::to_string_pretty(&d).unwrap();
        let back: ChecklistDoc = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
    }
}
