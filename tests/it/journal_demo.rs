//! The done-when, end to end: the real `moveday demo` runs its scripted move in a
//! real terminal (tmux), someone ticks an item with Space, writes a note on it (`n`) and a
//! note into the journal (`N`), and quits with `q` once the move is over. Then
//! `moveday report` (JSON and Markdown) must give back the script's times, the tick with
//! who and when, and both notes; `--bell` must have rung in the tmux window.
//!
//! The demo plays its script [`SPEED`] times faster (`moveday demo --speed`), so every time
//! of the script, and every tolerance, is divided by it; the test takes some 15 seconds
//! instead of 70. The tester's own actions (the tick, the notes) are timed in real seconds.
//! Needs tmux: ignored by a plain `cargo test`; `cargo test -- --include-ignored` runs it,
//! and fails it where tmux is missing.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::tmux::Tmux;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// How many times faster than real time the demo plays its script (`--speed`); it divides
/// the script's two minutes, so the window is whole seconds.
const SPEED: u32 = 5;
/// The move is over once www is green (65 s of the script) and vbox is (55 s); or at this
/// point of the script.
const DEADLINE: Duration = Duration::from_secs(85);
/// How late a probe may notice a change, in seconds of the script: one interval (2 s), one
/// timeout (1 s), the stagger between hosts and some scheduling (all of them shrink with
/// `--speed`).
const SLACK: f64 = 5.0;

/// Real time of `script`, a time of the demo's script.
fn scaled(script: Duration) -> Duration {
    script / SPEED
}

fn seconds(from: DateTime<Utc>, at: &Value) -> Option<f64> {
    let at: DateTime<Utc> = at.as_str()?.parse().ok()?;
    Some((at - from).num_milliseconds() as f64 / 1000.0)
}

/// The grid row of `host` shows it up: `● up  <host> ...`.
fn up(screen: &str, host: &str) -> bool {
    screen.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().take(3).collect();
        words == ["●", "up", host]
    })
}

#[test]
#[ignore = "needs tmux"]
fn after_the_demo_the_report_has_the_scripts_times_the_tick_and_the_notes() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("demo.journal.jsonl");
    let state = dir.path().join("demo.state.json");
    let command = format!(
        "sh -c '{} --state {} --journal {} --who tester --bell demo --speed {SPEED}; \
         echo EXIT=$?; sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        state.display(),
        journal.display()
    );
    let tmux = Tmux::start(&command, &[("TZ", "UTC")], (160, 45));
    let clock = Instant::now();
    tmux.wait_for("the checklist", Duration::from_secs(10), |s| {
        s.contains("Checklist") && s.contains("Lower the TTL")
    });

    // Tick the first item (lower-ttl) and write a note on it.
    tmux.key("Tab");
    tmux.key("Tab");
    tmux.wait_for("checklist focus", Duration::from_secs(3), |s| {
        s.contains("[ ] open")
    });
    tmux.key("Space");
    tmux.wait_for("lower-ttl ticked", Duration::from_secs(3), |s| {
        s.lines()
            .any(|l| l.contains("[x] done") && l.contains("Lower the TTL"))
    });
    tmux.key("n");
    tmux.type_text("60 s since Tuesday, checked with dig");
    tmux.key("Enter");
    tmux.wait_for("the item's note", Duration::from_secs(3), |s| {
        s.contains("60 s since Tuesday")
    });
    // A note into the move's journal, from the grid.
    tmux.key("Escape");
    tmux.key("N");
    tmux.type_text("power cut at the old DC, all eight off");
    tmux.key("Enter");
    // Written before the timeline shows it? The timeline (t) shows this process's
    // entries at once.
    tmux.key("t");
    tmux.wait_for("the note in the timeline", Duration::from_secs(3), |s| {
        s.contains("power cut at the old DC")
    });
    tmux.key("t");

    // Watch the move until it is over.
    let screen = tmux.wait_for("www and vbox up", scaled(DEADLINE), |s| {
        clock.elapsed() > scaled(Duration::from_secs(60)) && up(s, "www") && up(s, "vbox")
    });
    eprintln!("the move is over at {:?}:\n{screen}", clock.elapsed());
    // The status bar measures the move against the demo's advertised window: 2 minutes of
    // the script.
    let window = scaled(Duration::from_secs(120)).as_secs();
    let window_text = match (window / 60, window % 60) {
        (0, s) => format!(" of {s}s"),
        (m, 0) => format!(" of {m}m"),
        (m, s) => format!(" of {m}m{s:02}s"),
    };
    assert!(
        screen.contains(&window_text),
        "no {window_text:?} in:\n{screen}"
    );
    // --bell: hosts turned green (and jabber red); tmux flags the window.
    let bell = tmux.run(&["display-message", "-p", "-t", "t", "#{window_bell_flag}"]);
    assert_eq!(bell.trim(), "1", "the bell was not rung");
    tmux.key("q");
    tmux.wait_for("exit", Duration::from_secs(10), |s| s.contains("EXIT=0"));
    drop(tmux);

    let report = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_moveday"))
            .args(["report", "--format", format, "-i", "/nonexistent.toml"])
            .arg("--journal")
            .arg(&journal)
            .arg("--state")
            .arg(&state)
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{err}");
        String::from_utf8(out.stdout).unwrap()
    };
    let v: Value = serde_json::from_str(&report("json")).unwrap();
    let md = report("md");
    // To read the report of a demo run: MOVEDAY_KEEP_JOURNAL=/tmp/demo.jsonl.
    if let Some(keep) = std::env::var_os("MOVEDAY_KEEP_JOURNAL") {
        std::fs::copy(&journal, keep).unwrap();
    }

    // The script's clock starts when the demo starts: the journal's first line.
    let text = std::fs::read_to_string(&journal).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "start", "{text}");
    let start: DateTime<Utc> = first["at"].as_str().unwrap().parse().unwrap();

    let host = |name: &str| {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in the report"))
            .clone()
    };
    let mut problems = Vec::new();
    // `at` in seconds of the script; `got` in real seconds.
    let mut within = |what: &str, value: &Value, at: f64| {
        let got = seconds(start, value);
        let speed = f64::from(SPEED);
        let (at, early, late) = (at / speed, 0.5 / speed, SLACK / speed);
        eprintln!("{what}: {got:?} s, the script says {at} s at speed {SPEED}");
        if !got.is_some_and(|g| g >= at - early && g <= at + late) {
            problems.push(format!(
                "{what}: {got:?} s, the script says {at} s at speed {SPEED} \
                 (-{early} s to +{late} s)"
            ));
        }
    };
    // Every host is off at the start; each comes back when the script says.
    for (name, back) in [("ns-master", 3.0), ("drawable", 26.0)] {
        let h = host(name);
        // Red at the second failed round (fail_after = 2).
        within(&format!("{name} went down"), &h["went_down"], 0.0);
        within(&format!("{name} first green"), &h["first_green"], back);
    }
    // vbox answers at 20 s, but this machine's hosts file sends the probes to the old
    // address until the admin fixes it at 55 s.
    let vbox = host("vbox");
    within("vbox first green", &vbox["first_green"], 55.0);
    within("vbox hosts file fixed", &vbox["hosts_file"][0]["to"], 55.0);
    // www answers at 4 s; its web port is dropped until the ACL is fixed at 45 s; planet is
    // stale until 65 s, so www is green then.
    let www = host("www");
    let web = www["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().is_some_and(|c| c.starts_with("port ")))
        .unwrap_or_else(|| panic!("www has no port check: {www:#}"))
        .clone();
    within("www web port first worked", &web["first_worked_new"], 45.0);
    within("www first green", &www["first_green"], 65.0);
    assert!(problems.is_empty(), "{problems:#?}");
    // jabber never comes back; git (its certificate) and build (its web port) stay amber.
    assert_eq!(host("jabber")["health_at_end"], "down");
    assert_eq!(host("git")["health_at_end"], "degraded");
    assert_eq!(host("build")["health_at_end"], "degraded");
    assert_eq!(v["all_green"]["first"], Value::Null);
    // The advertised window: the demo's two minutes of the script, from its start (which
    // is cut to the second).
    let window_start = seconds(start, &v["window"]["start"]).unwrap();
    let window_end = seconds(start, &v["window"]["end"]).unwrap();
    assert!((-1.5..=0.5).contains(&window_start), "{window_start}");
    assert!(
        (window_end - window_start - window as f64).abs() < 0.01,
        "{window_end}"
    );

    // The tick, with who and when, from the journal (not only the state file).
    let ticks = v["checklist"]["ticks"].as_array().unwrap();
    assert_eq!(ticks.len(), 1, "{ticks:#?}");
    assert_eq!(ticks[0]["id"], "lower-ttl");
    assert_eq!(ticks[0]["who"], "tester");
    assert_eq!(ticks[0]["from_state_file"], false);
    let ticked = seconds(start, &ticks[0]["at"]).unwrap();
    assert!((0.0..15.0).contains(&ticked), "ticked at {ticked} s");
    let never: Vec<&str> = v["checklist"]["never_ticked"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert!(
        !never.contains(&"lower-ttl") && !never.is_empty(),
        "{never:?}"
    );
    // Both notes, in time order, with who.
    let notes = v["notes"].as_array().unwrap();
    let texts: Vec<&str> = notes.iter().filter_map(|n| n["text"].as_str()).collect();
    assert_eq!(
        texts,
        [
            "60 s since Tuesday, checked with dig",
            "power cut at the old DC, all eight off"
        ],
        "{notes:#?}"
    );
    assert!(notes.iter().all(|n| n["who"] == "tester"), "{notes:#?}");
    assert_eq!(notes[0]["item"], "lower-ttl");

    // The Markdown says the same.
    for needle in [
        "Lower the TTL",
        "tester",
        "60 s since Tuesday, checked with dig",
        "power cut at the old DC, all eight off",
        "jabber",
    ] {
        assert!(md.contains(needle), "no {needle:?} in the report:\n{md}");
    }
    // The tester quits before the registrar's change lands (90 s of the script), unless
    // the machine was slow enough to quit late.
    let glue = [
        "parent glue for ns-master.example.org never pointed at the new address: 127.77.1.10 (old) at the end",
        "parent glue for ns-master.example.org first pointed at 127.77.2.10 (new)",
    ];
    assert!(
        glue.iter().any(|g| md.contains(g)),
        "no delegation line in the report:\n{md}"
    );
    eprintln!("{md}");
}
