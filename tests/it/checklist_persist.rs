//! The checklist's state file on real files: atomic writes, corrupt files set aside, and no
//! acknowledged tick lost to concurrent writers or to `kill -9` at any moment.
//!
//! Every test works in its own temporary directory (`--state` points there, never at the
//! real XDG directory), so they run in parallel.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;

use moveday::checklist::persist::SyncNews;
use moveday::checklist::persist::{self, Loaded};
use moveday::checklist::{ChecklistDoc, ChecklistEvent, FORMAT_VERSION, NoteEvent, TickEvent};

/// An inventory with `n` checklist items `item-0` .. over three phases.
fn inventory(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from(
        "[move]\nname = \"persist test\"\n\n[[host]]\nname = \"vbox\"\nfqdn = \"vbox.example.org\"\nhttp = \"http://vbox.example.org/\"\n",
    );
    for i in 0..n {
        let phase = ["before", "move", "after"][i % 3];
        text.push_str(&format!(
            "\n[[checklist]]\nid = \"item-{i}\"\nphase = \"{phase}\"\ntext = \"step {i}\"\n"
        ));
    }
    let path = dir.join("inventory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn tick_command(inv: &Path, state: &Path, id: &str, who: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moveday"));
    cmd.arg("--inventory")
        .arg(inv)
        .arg("--state")
        .arg(state)
        .args(["tick", id, "--who", who])
        // Its journal goes beside the state file, never under the tester's home.
        .env("XDG_STATE_HOME", state.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn tick_event(id: &str, who: &str) -> ChecklistEvent {
    ChecklistEvent::Tick {
        id: id.into(),
        tick: TickEvent {
            done: true,
            who: who.into(),
            at: Utc::now(),
            evidence: None,
            forced: false,
        },
    }
}

/// The state file parsed strictly, as a fresh process would: no set-aside, no repair.
fn parse_strictly(path: &Path) -> ChecklistDoc {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: ChecklistDoc = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{} does not parse: {e}\n{}",
            path.display(),
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(doc.version, FORMAT_VERSION);
    doc
}

/// File names in `dir` that start with `prefix`.
fn names_with(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// SplitMix64, seeded: the same kill schedule on every run.
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
}

#[test]
fn a_commit_is_one_0600_file_with_no_temporary_left() {
    let dir = tempfile::tempdir().unwrap();
    // The directory does not exist yet: it is made, private.
    let state = dir.path().join("nested/state/moves.json");
    // A leftover of a writer killed mid-write: removed by the next commit (under the lock).
    let saved = persist::commit(&state, &[tick_event("item-1", "alice")]).unwrap();
    assert!(saved.doc.is_done("item-1"));
    assert_eq!(saved.warning, None);
    let parent = state.parent().unwrap();
    std::fs::write(
        parent.join("moves.json.tmp-999999-0"),
        b"{\"version\": 1, \"it",
    )
    .unwrap();
    let saved = persist::commit(&state, &[tick_event("item-2", "bob")]).unwrap();
    assert!(saved.doc.is_done("item-1") && saved.doc.is_done("item-2"));

    assert_eq!(
        names_with(parent, ""),
        vec!["moves.json".to_string(), "moves.json.lock".to_string()]
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o600);
    assert_eq!(mode(parent), 0o700);
    assert_eq!(parse_strictly(&state), saved.doc);
    // Loading what was committed gives it back, without a warning.
    assert_eq!(
        persist::load(&state).unwrap(),
        Loaded {
            doc: saved.doc,
            warning: None
        }
    );
}

#[test]
fn loading_a_missing_file_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("not/yet/state.json");
    let loaded = persist::load(&state).unwrap();
    assert_eq!(loaded.doc, ChecklistDoc::new());
    assert_eq!(loaded.warning, None);
    assert!(!dir.path().join("not").exists());
}

#[test]
fn a_corrupt_file_is_set_aside_with_its_bytes_and_a_warning() {
    let good = serde_json::to_vec_pretty(&{
        let mut d = ChecklistDoc::new();
        d.apply(&tick_event("item-1", "alice"));
        d
    })
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"\x00\x9f not json at all \x1b[2J".to_vec(),
            "not JSON",
        ),
        ("truncated", good[..good.len() / 2].to_vec(), "not JSON"),
        ("empty", Vec::new(), "empty file"),
        (
            "wrong version",
            br#"{"version": 2, "items": {}, "people": []}"#.to_vec(),
            "format version 2",
        ),
        (
            "wrong shape",
            br#"{"version": 1, "items": [1, 2]}"#.to_vec(),
            "invalid type",
        ),
    ];
    for (name, bytes, reason) in cases {
        for via_commit in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("state.json");
            std::fs::write(&state, &bytes).unwrap();
            let loaded = if via_commit {
                persist::commit(&state, &[tick_event("item-7", "bob")]).unwrap()
            } else {
                persist::load(&state).unwrap()
            };
            let warning = loaded
                .warning
                .unwrap_or_else(|| panic!("{name}: no warning"));
            let aside = names_with(dir.path(), "state.json.corrupt-");
            assert_eq!(aside.len(), 1, "{name}: {aside:?}");
            assert!(
                warning.starts_with(&format!("state file {} was corrupt (", state.display()))
                    && warning.contains(reason)
                    && warning.contains(&aside[0])
                    && warning.ends_with("starting empty"),
                "{name}: {warning}"
            );
            // The original bytes, untouched.
            assert_eq!(
                std::fs::read(dir.path().join(&aside[0])).unwrap(),
                bytes,
                "{name}"
            );
            // `.corrupt-20261125T174501Z`
            let stamp = aside[0].trim_start_matches("state.json.corrupt-");
            assert!(
                stamp.len() == 16 && stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T',
                "{stamp}"
            );
            if via_commit {
                // The new file holds our tick only, and parses.
                let doc = parse_strictly(&state);
                assert!(doc.is_done("item-7") && !doc.is_done("item-1"), "{name}");
            } else {
                assert_eq!(loaded.doc, ChecklistDoc::new(), "{name}");
                assert!(!state.exists(), "{name}: load must not write a new file");
            }
        }
    }
}

#[test]
fn a_second_corrupt_file_in_the_same_second_does_not_replace_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    for i in 0..3 {
        std::fs::write(&state, format!("garbage {i}")).unwrap();
        assert!(persist::load(&state).unwrap().warning.is_some());
    }
    let aside = names_with(dir.path(), "state.json.corrupt-");
    assert_eq!(aside.len(), 3, "{aside:?}");
    let mut contents: Vec<String> = aside
        .iter()
        .map(|n| std::fs::read_to_string(dir.path().join(n)).unwrap())
        .collect();
    contents.sort();
    assert_eq!(contents, ["garbage 0", "garbage 1", "garbage 2"]);
}

#[test]
fn processes_ticking_different_items_at_once_all_survive() {
    const PROCESSES: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), PROCESSES);
    let state = dir.path().join("state.json");
    let children: Vec<Child> = (0..PROCESSES)
        .map(|i| {
            tick_command(&inv, &state, &format!("item-{i}"), &format!("admin-{i}"))
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let doc = parse_strictly(&state);
    for i in 0..PROCESSES {
        let tick = doc.items[&format!("item-{i}")].tick.as_ref().unwrap();
        assert!(tick.done);
        assert_eq!(tick.who, format!("admin-{i}"));
    }
}

/// A long-running moveday stand-in, started by [`sigkill_loses_no_acknowledged_tick`] as a
/// child process (this same test binary, with `MOVEDAY_SYNC_CHILD` set): it runs the sync
/// task, ticks `item-<start>`, `item-<start+1>`, ... one after another, and prints
/// `ack ID` once the task reported the tick merged into the file; on start it prints
/// `loaded N` with the number of ticked items it found. It stops after 400 ticks. Without
/// the variable it does nothing.
#[test]
fn sync_child_process() {
    let Some(state) = std::env::var_os("MOVEDAY_SYNC_CHILD") else {
        return;
    };
    let start: usize = std::env::var("MOVEDAY_SYNC_CHILD_START")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let (events, events_rx) = mpsc::channel(16);
        let (reports_tx, mut reports) = mpsc::channel(16);
        let _sync = persist::spawn_sync(
            PathBuf::from(state),
            events_rx,
            reports_tx,
            Duration::from_millis(200),
        );
        match reports.recv().await {
            Some(SyncNews::Record(doc)) => {
                let done = doc.items.keys().filter(|id| doc.is_done(id)).count();
                println!("loaded {done}");
            }
            other => panic!("expected the first load, got {other:?}"),
        }
        // Bounded, so that a parent that fails to kill it cannot hang the test run.
        for i in start..start + 400 {
            let id = format!("item-{i}");
            events.send(tick_event(&id, "child")).await.unwrap();
            loop {
                match reports.recv().await {
                    Some(SyncNews::Record(doc)) if doc.is_done(&id) => break,
                    Some(SyncNews::Warning(w)) => eprintln!("warning: {w}"),
                    Some(_) => {}
                    None => panic!("sync task ended"),
                }
            }
            println!("ack {id}");
        }
    });
}

#[test]
fn sigkill_loses_no_acknowledged_tick() {
    const LIVES: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut rng = Rng(0x5167_6b69_6c6c);
    let mut acked: Vec<String> = Vec::new();
    let mut next = 0;
    let started = Instant::now();
    for life in 0..LIVES {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                // Its name in the test binary (`tests/it/`: module, then function).
                "checklist_persist::sync_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MOVEDAY_SYNC_CHILD", &state)
            .env("MOVEDAY_SYNC_CHILD_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = stdout.lines();
        // The restart finds every tick acknowledged by the previous lives.
        let loaded = loop {
            let line = lines.next().expect("child ended before loading").unwrap();
            // The harness prints `test sync_child_process ... ` before it, on the same line.
            if let Some((_, n)) = line.split_once("loaded ") {
                break n.trim().parse::<usize>().unwrap();
            }
        };
        assert!(
            loaded >= acked.len(),
            "life {life}: loaded {loaded} < acknowledged {}",
            acked.len()
        );
        let kill_after = 3 + rng.below(15) as usize;
        let mut this_life = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(id) = line.strip_prefix("ack ") {
                acked.push(id.to_string());
                this_life += 1;
                if this_life == kill_after {
                    // SIGKILL while the next tick is in flight.
                    child.kill().unwrap();
                    break;
                }
            }
        }
        // Anything printed before the kill landed was acknowledged too.
        for line in lines {
            match line {
                Ok(line) => {
                    if let Some(id) = line.strip_prefix("ack ") {
                        acked.push(id.to_string());
                    }
                }
                Err(_) => break,
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "life {life}: {status:?}");
        next += 1000;
        let doc = parse_strictly(&state);
        for id in &acked {
            assert!(doc.is_done(id), "life {life}: acknowledged {id} lost");
        }
    }
    assert!(acked.len() >= LIVES * 3, "{acked:?}");
    eprintln!(
        "SIGKILL: {LIVES} lives, {} ticks acknowledged and all found after restart, in {:.1?}",
        acked.len(),
        started.elapsed()
    );
    let loaded = persist::load(&state).unwrap();
    assert_eq!(loaded.warning, None);
    assert!(acked.iter().all(|id| loaded.doc.is_done(id)));
}

/// Rounds of concurrent `moveday tick` processes, a seeded random half of them killed with
/// SIGKILL at random moments (before, during or after their write). After every round the
/// file must parse, nothing may have been set aside as corrupt, and every tick whose
/// process exited 0 must be there. The kill moments are spread over the time a round
/// actually takes on this machine (measured by a first round without kills, then by each
/// round's survivors), so they land inside the writes on a fast or a loaded machine alike;
/// a record padded with orphaned notes makes each write long enough to be hit.
#[test]
fn kill_9_at_random_moments_never_corrupts_or_loses_an_acknowledged_tick() {
    const ROUNDS: usize = 12;
    const PER_ROUND: usize = 12;
    const ORPHANS: usize = 800;
    let seed = std::env::var("MOVEDAY_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6b69_6c6c_2d39_u64);
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), (ROUNDS + 1) * PER_ROUND);
    let state = dir.path().join("state.json");

    // Notes on ids the inventory does not have: they pad the file, and they must survive
    // every rewrite.
    let orphans: Vec<ChecklistEvent> = (0..ORPHANS)
        .map(|i| ChecklistEvent::Note {
            id: format!("old-step-{i}"),
            note: NoteEvent {
                text: format!("kept from an earlier plan, note number {i} of many"),
                who: "planner@office".into(),
                at: Utc::now(),
            },
        })
        .collect();
    persist::commit(&state, &orphans).unwrap();

    let started = Instant::now();
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let (mut killed, mut killed_but_saved, mut torn_writes) = (0, 0, 0);
    // How long a round's processes take to finish; round 0 (no kills) measures it.
    let mut round_time = Duration::ZERO;
    for round in 0..=ROUNDS {
        let ids: Vec<String> = (0..PER_ROUND)
            .map(|k| format!("item-{}", round * PER_ROUND + k))
            .collect();
        let t0 = Instant::now();
        let mut children: Vec<Option<Child>> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| {
                Some(
                    tick_command(&inv, &state, id, &format!("p{round}-{k}"))
                        .spawn()
                        .unwrap(),
                )
            })
            .collect();
        // Half the processes live; a quarter die at a random moment of the round; a quarter
        // die at a random moment after their temporary file appears (within about the time
        // one process holds the lock): in the middle of writing, or just after the rename.
        let window = round_time.as_micros().max(1000) as u64;
        let mut plans: Vec<Plan> = (0..PER_ROUND)
            .map(|_| match (round, rng.below(4)) {
                (0, _) | (_, 0 | 1) => Plan::Live,
                (_, 2) => Plan::KillAt(Duration::from_micros(rng.below(window))),
                _ => Plan::KillWhileWriting(Duration::from_micros(
                    rng.below(window / PER_ROUND as u64 + 1),
                )),
            })
            .collect();
        let mut killed_ids = Vec::new();
        let mut caught_writing = Vec::new();
        let mut last_ok = Duration::ZERO;
        while children.iter().any(Option::is_some) {
            let now = t0.elapsed();
            for (k, slot) in children.iter_mut().enumerate() {
                let Some(child) = slot else { continue };
                let temp = format!("state.json.tmp-{}-", child.id());
                match plans[k] {
                    Plan::KillWhileWriting(delay) if !names_with(dir.path(), &temp).is_empty() => {
                        plans[k] = Plan::KillAt(now + delay);
                    }
                    Plan::KillAt(at) if now >= at => {
                        // Was it writing just now? (Counted if its tick then turns out not
                        // to have been saved.)
                        if !names_with(dir.path(), &temp).is_empty() {
                            caught_writing.push(ids[k].clone());
                        }
                        child.kill().unwrap();
                        plans[k] = Plan::Live;
                    }
                    _ => {}
                }
                let Some(status) = child.try_wait().unwrap() else {
                    continue;
                };
                match (status.code(), status.signal()) {
                    (Some(0), _) => {
                        acknowledged.insert(ids[k].clone());
                        last_ok = t0.elapsed();
                    }
                    (_, Some(9)) => killed_ids.push(ids[k].clone()),
                    _ => panic!("round {round}: {} ended with {status:?}", ids[k]),
                }
                *slot = None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if last_ok > Duration::ZERO {
            round_time = if round == 0 {
                last_ok
            } else {
                (round_time + last_ok) / 2
            };
        }
        // A killed writer leaves at most a temporary file (removed by the next commit),
        // never a torn state file.
        assert_eq!(
            names_with(dir.path(), "state.json.corrupt-"),
            Vec::<String>::new()
        );
        let doc = parse_strictly(&state);
        for id in &acknowledged {
            assert!(
                doc.is_done(id),
                "round {round} (seed {seed}): acknowledged {id} lost"
            );
        }
        killed += killed_ids.len();
        killed_but_saved += killed_ids.iter().filter(|id| doc.is_done(id)).count();
        torn_writes += caught_writing
            .iter()
            .filter(|id| killed_ids.contains(id) && !doc.is_done(id))
            .count();
        assert!(
            (0..ORPHANS).all(|i| doc.items.contains_key(&format!("old-step-{i}"))),
            "round {round}: orphaned notes lost"
        );
    }
    // One clean tick at the end clears the leftovers of killed writers.
    let last = persist::commit(&state, &[tick_event("item-0", "final")]).unwrap();
    assert_eq!(
        names_with(dir.path(), "state.json.tmp-"),
        Vec::<String>::new()
    );
    assert!(acknowledged.iter().all(|id| last.doc.is_done(id)));
    eprintln!(
        "kill -9 stress (seed {seed}): {ROUNDS} rounds x {PER_ROUND} processes (+1 round to \
         measure, {round_time:.1?} a round) in {:.1?}: {} acknowledged, {killed} killed \
         ({killed_but_saved} of them after their tick was saved, {torn_writes} in the middle of writing)",
        started.elapsed(),
        acknowledged.len()
    );
    assert!(killed > 0 && acknowledged.len() > PER_ROUND);
}

/// What the stress test does to one `moveday tick` process.
#[derive(Clone, Copy)]
enum Plan {
    Live,
    KillAt(Duration),
    /// This long after its temporary file appears.
    KillWhileWriting(Duration),
}

/// Drains reports until one satisfies `wanted`, or the deadline passes.
async fn wait_for(
    reports: &mut mpsc::Receiver<SyncNews>,
    within: Duration,
    wanted: impl Fn(&SyncNews) -> bool,
) -> Option<SyncNews> {
    tokio::time::timeout(within, async {
        loop {
            match reports.recv().await {
                Some(r) if wanted(&r) => return Some(r),
                Some(_) => {}
                None => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

fn synced_with(id: &'static str) -> impl Fn(&SyncNews) -> bool {
    move |r| matches!(r, SyncNews::Record(doc) if doc.is_done(id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_instance_sees_another_process_tick_within_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), 4);
    let state = dir.path().join("state.json");
    let (_events, events_rx) = mpsc::channel(16);
    let (reports_tx, mut reports) = mpsc::channel(64);
    let _sync = persist::spawn_sync(
        state.clone(),
        events_rx,
        reports_tx,
        Duration::from_millis(200),
    );
    assert!(
        wait_for(&mut reports, Duration::from_secs(2), |r| matches!(
            r,
            SyncNews::Record(_)
        ))
        .await
        .is_some()
    );

    for id in ["item-3", "item-1"] {
        let out = tick_command(&inv, &state, id, "other-laptop")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Seen within about 2 s on an idle machine; the wait allows for a loaded one.
        let seen = wait_for(
            &mut reports,
            crate::common::in_time(Duration::from_secs(2)),
            |r| matches!(r, SyncNews::Record(doc) if doc.is_done(id)),
        )
        .await;
        assert!(seen.is_some(), "{id} not seen within 5 s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_that_cannot_be_written_is_kept_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    // The state directory's place is taken by a file: nothing can be written there.
    let blocker = dir.path().join("state-dir");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let state = blocker.join("state.json");
    let (events, events_rx) = mpsc::channel(16);
    let (reports_tx, mut reports) = mpsc::channel(64);
    let sync = persist::spawn_sync(
        state.clone(),
        events_rx,
        reports_tx,
        Duration::from_millis(100),
    );

    // The first load already says the directory cannot be made.
    let warning = wait_for(&mut reports, Duration::from_secs(2), |r| {
        matches!(r, SyncNews::Warning(_))
    })
    .await;
    assert!(
        matches!(&warning, Some(SyncNews::Warning(w)) if w.contains("cannot create the state directory")),
        "{warning:?}"
    );
    events.send(tick_event("item-2", "alice")).await.unwrap();
    let warning = wait_for(
        &mut reports,
        Duration::from_secs(2),
        |r| matches!(r, SyncNews::Warning(w) if w.contains("NOT saved")),
    )
    .await
    .expect("a warning that the tick is not saved");
    let SyncNews::Warning(text) = warning else {
        unreachable!()
    };
    assert!(
        text.contains("1 change(s) waiting") && text.contains("state-dir"),
        "{text}"
    );
    // Retried at every poll, still not lost.
    assert!(
        wait_for(&mut reports, Duration::from_millis(500), |r| {
            matches!(r, SyncNews::Warning(w) if w.contains("NOT saved"))
        })
        .await
        .is_some()
    );

    // The operator frees the place: the next poll writes the kept tick, says so, and
    // reports the record with it.
    std::fs::remove_file(&blocker).unwrap();
    assert!(
        wait_for(&mut reports, Duration::from_secs(2), |r| {
            matches!(r, SyncNews::Warning(w) if w.contains("saved to") && w.contains("again"))
        })
        .await
        .is_some()
    );
    assert!(
        wait_for(&mut reports, Duration::from_secs(1), synced_with("item-2"))
            .await
            .is_some()
    );
    assert!(parse_strictly(&state).is_done("item-2"));

    // Closing the channel ends the task once everything is written.
    drop(events);
    tokio::time::timeout(Duration::from_secs(2), sync)
        .await
        .unwrap()
        .unwrap();
}

/// `id` ticked in the state file, then a sync task started on it (polling every `poll`)
/// that has reported it: the task's event sender, its reports, its handle.
async fn sync_after_a_tick(
    state: &Path,
    id: &'static str,
    poll: Duration,
) -> (
    mpsc::Sender<ChecklistEvent>,
    mpsc::Receiver<SyncNews>,
    tokio::task::JoinHandle<Vec<ChecklistEvent>>,
) {
    persist::commit(state, &[tick_event(id, "alice")]).unwrap();
    let (events, events_rx) = mpsc::channel(16);
    let (reports_tx, mut reports) = mpsc::channel(64);
    let sync = persist::spawn_sync(state.to_path_buf(), events_rx, reports_tx, poll);
    assert!(
        wait_for(&mut reports, Duration::from_secs(5), synced_with(id))
            .await
            .is_some()
    );
    (events, reports, sync)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_task_reports_a_corrupt_file_and_rewrites_what_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let (events, mut reports, _sync) =
        sync_after_a_tick(&state, "item-1", Duration::from_millis(100)).await;

    // Someone clobbers the file; the poll sets it aside and says so.
    std::fs::write(&state, b"{ oops").unwrap();
    let warning = wait_for(&mut reports, Duration::from_secs(2), |r| {
        matches!(r, SyncNews::Warning(_))
    })
    .await
    .expect("a warning");
    assert!(
        matches!(&warning, SyncNews::Warning(w) if w.contains("was corrupt")),
        "{warning:?}"
    );
    assert_eq!(names_with(dir.path(), "state.json.corrupt-").len(), 1);

    // The next tick writes it back together with what this instance already knew.
    events.send(tick_event("item-2", "bob")).await.unwrap();
    assert!(
        wait_for(&mut reports, Duration::from_secs(2), synced_with("item-2"))
            .await
            .is_some()
    );
    let doc = parse_strictly(&state);
    assert!(doc.is_done("item-1") && doc.is_done("item-2"));
}

/// Issue 15 item 18: what the sync task could not save is handed back when it ends, so the
/// dashboard can say so after restoring the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_task_hands_back_what_it_could_not_save() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("state-dir");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let (events, events_rx) = mpsc::channel(16);
    let (reports_tx, mut reports) = mpsc::channel::<SyncNews>(64);
    let sync = persist::spawn_sync(
        blocker.join("state.json"),
        events_rx,
        reports_tx,
        Duration::from_millis(50),
    );
    let tick = tick_event("item-2", "alice");
    events.send(tick.clone()).await.unwrap();
    assert!(
        wait_for(&mut reports, Duration::from_secs(2), |r| {
            matches!(r, SyncNews::Warning(w) if w.contains("NOT saved"))
        })
        .await
        .is_some()
    );
    drop(events);
    let unsaved = tokio::time::timeout(Duration::from_secs(5), sync)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unsaved, vec![tick]);
}

/// Issue 15 item 14: a FIFO as the state file does not block the sync task (the dashboard
/// behind it): it warns, and it ends when asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_as_the_state_file_is_a_warning_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("state.json");
    crate::common::mkfifo(&fifo);
    let (events, events_rx) = mpsc::channel(16);
    let (reports_tx, mut reports) = mpsc::channel::<SyncNews>(64);
    let sync = persist::spawn_sync(
        fifo.clone(),
        events_rx,
        reports_tx,
        Duration::from_millis(50),
    );
    let warning = wait_for(&mut reports, Duration::from_secs(3), |r| {
        matches!(r, SyncNews::Warning(_))
    })
    .await;
    assert!(
        matches!(&warning, Some(SyncNews::Warning(w)) if w.contains("a FIFO, not a regular file")),
        "{warning:?}"
    );
    let tick = tick_event("item-1", "bob");
    events.send(tick.clone()).await.unwrap();
    drop(events);
    let unsaved = tokio::time::timeout(Duration::from_secs(5), sync)
        .await
        .expect("the sync task ends")
        .unwrap();
    assert_eq!(unsaved, vec![tick]);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_after_another_process_wrote_merges_what_it_has_not_read_yet() {
    // The sync task writes what it knows without reading the file back when the file is as
    // it last saw it. Here another process writes in between (and the task never polls):
    // its tick must be merged, not overwritten.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let (events, mut reports, _sync) =
        sync_after_a_tick(&state, "first", Duration::from_secs(3600)).await;
    persist::commit(&state, &[tick_event("theirs", "bob")]).unwrap();
    events.send(tick_event("ours", "alice")).await.unwrap();
    let news = wait_for(&mut reports, Duration::from_secs(5), synced_with("ours"))
        .await
        .expect("our tick acknowledged");
    let SyncNews::Record(doc) = news else {
        unreachable!()
    };
    assert!(
        doc.is_done("theirs"),
        "the other process's tick is reported"
    );
    let disk = parse_strictly(&state);
    for id in ["first", "theirs", "ours"] {
        assert!(disk.is_done(id), "{id} lost: {disk:?}");
    }
    // And the next commit (the file as the task wrote it) keeps them all too.
    events.send(tick_event("again", "alice")).await.unwrap();
    assert!(
        wait_for(&mut reports, Duration::from_secs(5), synced_with("again"))
            .await
            .is_some()
    );
    let disk = parse_strictly(&state);
    for id in ["first", "theirs", "ours", "again"] {
        assert!(disk.is_done(id), "{id} lost: {disk:?}");
    }
}
