//! `moveday report`: a golden Markdown (and JSON) report for a fixed journal, and a
//! scripted move driven through the store and the journal's derivation functions whose
//! report must give back the script's downtimes and first-green times.
//!
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test --test it journal_report`.

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::golden::assert_golden_file as golden;
use moveday::checklist::{ChecklistEvent, TickEvent};
use moveday::config::Inventory;
use moveday::journal::{self, JournalWriter};
use moveday::probe::{
    DnsAnswer, DnsOutcome, Outcome, PingMode, PingOutcome, ProbeError, ProbeReport, SshBanner,
    SshOutcome, Target, TargetSource,
};
use moveday::store::Input;
use moveday::store::State;

fn report(args: &[&str], state_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moveday"))
        .arg("report")
        .args(args)
        .env("TZ", "UTC")
        .env("XDG_STATE_HOME", state_home)
        .output()
        .expect("run moveday report")
}

fn stdout(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn golden_markdown_and_json_reports_of_a_fixed_journal() {
    let state = tempfile::tempdir().unwrap();
    let args = [
        "-i",
        "tests/golden/inventory.toml",
        "--journal",
        "tests/golden/journal.jsonl",
    ];
    let md = stdout(&report(&args, state.path()));
    golden("report.md", &md);
    let json = stdout(&report(
        &[&args[..], &["--format", "json"]].concat(),
        state.path(),
    ));
    golden("report.json", &json);
    // The JSON has the Markdown's facts.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let www = &v["hosts"][1];
    assert_eq!(www["name"], "www");
    assert_eq!(www["went_down"], "2009-12-05T09:02:14Z");
    assert_eq!(www["first_green"], "2009-12-05T16:55:00Z");
    let port80 = &www["checks"][3];
    assert_eq!(port80["check"], "port 80");
    assert_eq!(port80["first_worked_new"], "2009-12-05T16:40:00Z");
    assert!(md.contains("- port 80: open at the old address until 09:02, filtered until 13:46, refused at the new address until 14:02, filtered until 16:40, open since 16:40; first worked on the new address at 16:40."), "{md}");
}

#[test]
fn since_cuts_the_report_and_the_journal_alone_is_enough() {
    let state = tempfile::tempdir().unwrap();
    // No inventory: the journal's start event names the hosts, the window and the plan.
    let md = stdout(&report(
        &[
            "-i",
            "/nonexistent.toml",
            "--journal",
            "tests/golden/journal.jsonl",
            "--since",
            "2009-12-05T14:00:00Z",
        ],
        state.path(),
    ));
    assert!(
        md.contains("It covers the time from 14:00 to 17:12"),
        "{md}"
    );
    assert!(
        md.contains("- Advertised window: 09:00 to Sun 6 Dec 20:00 (35h)."),
        "{md}"
    );
    // ns-master was back before 14:00: up throughout.
    assert!(md.contains("- ns-master: up throughout."), "{md}");
    // vbox's outage counts from 14:00.
    assert!(md.contains("- vbox: down until 15:55 (1h 55m: "), "{md}");
    assert!(
        !md.contains("08:52 lower-ttl"),
        "ticks before --since are left out: {md}"
    );
    assert!(md.contains("- 14:30 ns-master-first (move)"), "{md}");
}

// ---------------------------------------------------------------------------------------
// A scripted move

const INVENTORY: &str = r#"
[move]
name = "scripted move"
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"
window_start = "2009-12-05T09:30:00Z"
window_end = "2009-12-05T12:00:00Z"

[[resolver]]
name = "system"
system = true

[[host]]
name = "a"
fqdn = "a.example.org"
old_ip = "198.51.100.1"
new_ip = "203.0.113.1"

[[host]]
name = "b"
fqdn = "b.example.org"
old_ip = "198.51.100.2"
new_ip = "203.0.113.2"

[[host]]
name = "c"
fqdn = "c.example.org"
old_ip = "198.51.100.3"
new_ip = "203.0.113.3"

[[checklist]]
id = "verify-a"
text = "Verify a"
check = "a.health"

[[checklist]]
id = "verify-c"
text = "Verify c"
"#;

/// Seconds after 09:00 UTC on 5 Dec 2009.
fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_260_003_600 + secs)
}

fn rfc(secs: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from(t(secs))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

const INTERVAL: u64 = 10;
const END: u64 = 9000;

/// Whether host `h` answers at `secs`: the script.
fn answers(h: usize, secs: u64) -> bool {
    match h {
        // a: off from 10 to 60 minutes.
        0 => !(600..3600).contains(&secs),
        // b: off from 20 to 90 minutes; one lost ping at 7000 s (a blip, not an outage).
        1 => !(1200..5400).contains(&secs),
        // c: off from 10 to 40 minutes, and again from 100 to 110 minutes.
        _ => !(600..2400).contains(&secs) && !(6000..6600).contains(&secs),
    }
}

fn probe(host: usize, secs: u64, outcome: Outcome) -> ProbeReport {
    ProbeReport::Probe {
        host,
        at: t(secs),
        outcome,
    }
}

fn round(host: usize, secs: u64) -> Vec<ProbeReport> {
    let ip: IpAddr = format!("203.0.113.{}", host + 1).parse().unwrap();
    let ok = answers(host, secs);
    let ping_ok = ok && !(host == 1 && secs == 7000);
    let mut reports = Vec::new();
    if secs == 0 {
        reports.push(probe(
            host,
            secs,
            Outcome::Target(Ok(Target {
                ip,
                source: TargetSource::NewIp,
            })),
        ));
    }
    reports.push(probe(
        host,
        secs,
        Outcome::Ping(PingOutcome {
            ip,
            mode: PingMode::IcmpRaw,
            result: if ping_ok {
                Ok(Duration::from_millis(3))
            } else {
                Err(ProbeError::Timeout)
            },
        }),
    ));
    reports.push(probe(
        host,
        secs,
        Outcome::Ssh(SshOutcome {
            ip,
            port: 22,
            result: if ok {
                Ok(SshBanner {
                    banner: "SSH-2.0-OpenSSH_9.2".into(),
                    latency: Duration::from_millis(2),
                })
            } else {
                Err(ProbeError::Timeout)
            },
        }),
    ));
    // DNS flips to the new address 50 minutes in.
    let dns_ip: IpAddr = if secs < 3000 {
        format!("198.51.100.{}", host + 1).parse().unwrap()
    } else {
        ip
    };
    reports.push(probe(
        host,
        secs,
        Outcome::Dns(DnsOutcome {
            resolver: 0,
            result: Ok(DnsAnswer {
                more: 0,
                addresses: vec![dns_ip],
                ttl: 300,
                latency: Duration::from_millis(1),
                authoritative: None,
            }),
        }),
    ));
    reports.push(ProbeReport::RoundDone { host, at: t(secs) });
    reports
}

#[test]
fn a_scripted_move_gives_back_its_downtimes_and_first_green_times() {
    let dir = tempfile::tempdir().unwrap();
    let inv_path = dir.path().join("scripted.toml");
    std::fs::write(&inv_path, INVENTORY).unwrap();
    let inv = Arc::new(Inventory::load(&inv_path).unwrap());
    let journal_path = dir.path().join("scripted.journal.jsonl");
    let mut writer = JournalWriter::open(&journal_path).unwrap();
    let mut state = State::new(inv.clone());

    writer
        .append(&[journal::start_event(&inv, "ann", t(0))])
        .unwrap();
    let mut secs = 0;
    while secs <= END {
        for host in 0..3 {
            for r in round(host, secs) {
                let (_, entries) = journal::reduce(&mut state, r);
                writer.append(&entries).unwrap();
            }
        }
        if secs == 3700 {
            let tick = ChecklistEvent::Tick {
                id: "verify-a".into(),
                tick: TickEvent {
                    done: true,
                    who: "ann".into(),
                    at: chrono::DateTime::from(t(secs)),
                    evidence: Some("a.health: health up".into()),
                    forced: false,
                },
            };
            let (_, entries) = journal::reduce(&mut state, Input::ChecklistEvent(tick));
            writer.append(&entries).unwrap();
        }
        if secs == 6100 {
            let note = journal::text_event("c lost power again", "bob", Some("c"), t(secs));
            writer
                .append(&note.into_iter().collect::<Vec<_>>())
                .unwrap();
        }
        secs += INTERVAL;
    }
    writer
        .append(&[journal::stop_event(t(END), Some("quit"))])
        .unwrap();

    let state_home = tempfile::tempdir().unwrap();
    let inv_arg = inv_path.to_str().unwrap();
    let journal_arg = journal_path.to_str().unwrap();
    let json = stdout(&report(
        &["-i", inv_arg, "--journal", journal_arg, "--format", "json"],
        state_home.path(),
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let host = |name: &str| {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap()
            .clone()
    };
    // With fail_after = 2, a host is red at its second failed round: one interval after it
    // went off. With recover_after = 1 it is green at its first good round.
    let a = host("a");
    assert_eq!(a["went_down"], rfc(600 + INTERVAL));
    assert_eq!(a["came_back"], rfc(3600));
    assert_eq!(a["first_green"], rfc(3600));
    assert_eq!(a["downtime_seconds"], 3600 - 600 - INTERVAL);
    let b = host("b");
    assert_eq!(b["went_down"], rfc(1200 + INTERVAL));
    assert_eq!(b["first_green"], rfc(5400));
    // The lost ping at 7000 s is amber for one round, not downtime.
    assert_eq!(b["downtime_seconds"], 5400 - 1200 - INTERVAL);
    assert_eq!(b["health_at_end"], "up");
    let c = host("c");
    assert_eq!(c["went_down"], rfc(600 + INTERVAL));
    assert_eq!(c["first_green"], rfc(2400));
    assert_eq!(c["came_back"], rfc(6600));
    assert_eq!(
        c["downtime_seconds"],
        (2400 - 600 - INTERVAL) + (6600 - 6000 - INTERVAL)
    );
    assert_eq!(c["up_since"], rfc(6600));
    // Every host up at once: first when b came back; since b's blip was over.
    assert_eq!(v["all_green"]["move_started"], rfc(600 + INTERVAL));
    assert_eq!(v["all_green"]["first"], rfc(5400));
    assert_eq!(v["all_green"]["since"], rfc(7000 + INTERVAL));
    // Each check's first success on the new address: the first round.
    assert_eq!(a["checks"][0]["check"], "ping");
    assert_eq!(a["checks"][0]["first_worked_new"], rfc(0));
    // DNS: new at the system resolver from 50 minutes in.
    assert_eq!(v["dns"][0]["resolvers"][0]["first_new"], rfc(3000));
    assert!(
        v["still_open"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["subject"] == "verify-c")
    );

    let md = stdout(&report(
        &["-i", inv_arg, "--journal", journal_arg],
        state_home.path(),
    ));
    for want in [
        "- Advertised window: 09:30 to 12:00 (2h 30m).",
        "- All 3 hosts were up at 10:30, 1h into the window and 1h 30m before its end; not all up again after that, until 10:56, 1h 26m into the window and 1h 3m before its end.",
        "- Downtime: b 1h 9m, a 49m, c 39m.",
        "- a: up 09:00 to 09:10 (10m), down 09:10 to 10:00 (49m: ping timeout, ssh timeout), up since 10:00.",
        "- c: up 09:00 to 09:10 (10m), down 09:10 to 09:40 (29m: ping timeout, ssh timeout), up 09:40 to 10:40 (1h), down 10:40 to 10:50 (9m: ping timeout, ssh timeout), up since 10:50. Down 39m in all, in 2 outages.",
        "- 10:41 bob on c: c lost power again",
        "- 10:01 verify-a (plan): Verify a: ticked by ann [a.health: health up].",
        "- a.example.org: new at system 09:50.",
        "- Checklist items not done: verify-c.",
    ] {
        assert!(md.contains(want), "missing {want:?} in:\n{md}");
    }
}
