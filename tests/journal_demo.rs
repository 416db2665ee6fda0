//! The done-when, headless: the demo's scripted move is probed the way the
//! dashboard probes it (the scheduler's reports through `journal::reduce`, entries appended
//! as they come), then `moveday report --format json` must give back the script's times:
//! who came back when, when the ACL was fixed, when vbox's hosts file stopped hiding it.
//!
//! The demo's script runs in real time: this test takes about 70 seconds.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use moveday::checklist::{ChecklistEvent, TickEvent};
use moveday::demo::Demo;
use moveday::journal::{self, JournalWriter};
use moveday::probe::{Report, scheduler};
use moveday::store::{Health, State};
use tokio::sync::{mpsc, watch};

/// Stop once www is green (65 s), or at this point.
const DEADLINE: Duration = Duration::from_secs(80);
/// How late a probe may notice a change: one interval (2 s), one timeout (1 s), the
/// stagger between hosts and some scheduling.
const SLACK: f64 = 5.0;

fn secs_after(start: SystemTime, at: &serde_json::Value) -> Option<f64> {
    let at: DateTime<Utc> = at.as_str()?.parse().ok()?;
    let start = DateTime::<Utc>::from(start);
    Some((at - start).num_milliseconds() as f64 / 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_of_the_demo_gives_back_the_scripts_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.journal.jsonl");
    let start = SystemTime::now();
    let clock = Instant::now();
    let demo = Demo::start().await.expect("the demo starts");
    let inv = Arc::new(demo.inventory().clone());
    let env = Arc::new(demo.probe_env());
    let (tx, mut rx) = mpsc::channel::<Report>(4096);
    let (_probe_now, probe_now_rx) = watch::channel(0u64);
    let probes = scheduler::spawn(inv.clone(), env, tx, probe_now_rx);
    let mut state = State::new(inv.clone());
    let mut writer = JournalWriter::open(&path).unwrap();
    writer
        .append(&[journal::start_event(&inv, "tester", start)])
        .unwrap();
    let mut ticked = false;
    let mut entries = 0usize;
    let health = |state: &State, name: &str| {
        let i = state.inventory.host_index(name).unwrap();
        state.hosts[i].health
    };
    while clock.elapsed() < DEADLINE {
        let Ok(Some(report)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await else {
            continue;
        };
        let (_, new) = journal::reduce(&mut state, report);
        entries += new.len();
        writer.append(&new).unwrap();
        if !ticked && health(&state, "ns-master") == Health::Up {
            // Someone ticks the plan's item once ns-master is back.
            let tick = ChecklistEvent::Tick {
                id: "ns-master-up".into(),
                tick: TickEvent {
                    done: true,
                    who: "tester".into(),
                    at: Utc::now(),
                    evidence: Some("ns-master.ssh: up".into()),
                    forced: false,
                },
            };
            let (_, new) = journal::reduce(&mut state, Report::ChecklistEvent(tick));
            writer.append(&new).unwrap();
            ticked = true;
        }
        if clock.elapsed() > Duration::from_secs(60)
            && health(&state, "www") == Health::Up
            && health(&state, "vbox") == Health::Up
        {
            break;
        }
    }
    drop(probes);
    for (i, h) in state.hosts.iter().enumerate() {
        let (health, reasons) = moveday::store::health(&inv.hosts[i], h);
        eprintln!("at the end: {} {health} {reasons:?}", inv.hosts[i].name);
    }
    writer
        .append(&[journal::stop_event(SystemTime::now(), Some("test over"))])
        .unwrap();
    eprintln!(
        "{entries} journal entries in {:?} ({} bytes)",
        clock.elapsed(),
        std::fs::metadata(&path).unwrap().len()
    );

    // To read the report of a demo run: MOVEDAY_KEEP_JOURNAL=/tmp/demo.jsonl.
    if let Some(keep) = std::env::var_os("MOVEDAY_KEEP_JOURNAL") {
        std::fs::copy(&path, keep).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args([
            "report",
            "--format",
            "json",
            "-i",
            "/nonexistent.toml",
            "--journal",
        ])
        .arg(&path)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
    let mut within = |what: &str, value: &serde_json::Value, at: f64| {
        let got = secs_after(start, value);
        eprintln!("{what}: {got:?} s, the script says {at} s");
        if !got.is_some_and(|g| g >= at - 0.5 && g <= at + SLACK) {
            problems.push(format!("{what}: {got:?} s, the script says {at} s"));
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
    let www_port = format!(
        "port {}",
        inv.hosts[inv.host_index("www").unwrap()].ports[0]
    );
    let web = www["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == www_port.as_str())
        .unwrap_or_else(|| panic!("www has no {www_port}"))
        .clone();
    within("www web port first worked", &web["first_worked_new"], 45.0);
    within("www first green", &www["first_green"], 65.0);
    assert!(problems.is_empty(), "{problems:#?}");
    // jabber never comes back; git (its certificate) and build (its web port) stay amber.
    assert_eq!(host("jabber")["health_at_end"], "down");
    assert_eq!(host("git")["health_at_end"], "degraded");
    assert_eq!(host("build")["health_at_end"], "degraded");
    assert_eq!(v["all_green"]["first"], serde_json::Value::Null);
    let ticks = v["checklist"]["ticks"].as_array().unwrap();
    assert_eq!(ticks.len(), 1);
    assert_eq!(ticks[0]["id"], "ns-master-up");
    drop(demo);
}
