//! The dashboard in the lab: the real `moveday` TUI under a real tmux started in the lab's
//! laptop namespace (`tests/lab/lab.sh`: Debian's sshd, nginx and named in network
//! namespaces), read with `capture-pane` and driven with `send-keys`, as an admin on move
//! day would see and use it.
//!
//! It must show the replayed faults (the hosts-file trap, the dropped port 80, the stale
//! planet, the refused 5222, the cached old answer, the lagging secondary), see build go off
//! the network and come back (back within one probe interval plus the timeout), and record
//! a tick made with Space in its state file, read back with `moveday checklist --json`.
//!
//! Needs root, tmux and the lab's packages: ignored by a plain `cargo test`, run by
//! `cargo test -- --include-ignored`, where a machine without them fails it.

use std::time::{Duration, Instant};

use crate::common::tmux::{self, Tmux};
use crate::lab::{self, Lab};
use serde_json::Value;

/// The generated inventory's probe interval and timeout (`MDLAB_INTERVAL`, `MDLAB_TIMEOUT`),
/// and its `fail_after`.
const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(1);
const FAIL_AFTER: u32 = 2;
/// Screen polling (100 ms), drawing and scheduling on a loaded two-core machine.
const SLACK: Duration = Duration::from_millis(500);

/// The grid row of `host`: `<symbol> <health> <host> ...`.
fn row<'a>(screen: &'a str, host: &str) -> Option<&'a str> {
    screen.lines().find(|line| {
        let mut words = line.split_whitespace();
        matches!(words.next(), Some("●" | "◐" | "✖" | "?"))
            && words.next().is_some()
            && words.next() == Some(host)
    })
}

/// The part of a row left of the checklist pane (which starts at a `│`).
fn grid_part(row: &str) -> &str {
    row.split('│').next().unwrap_or(row)
}

fn row_has(screen: &str, host: &str, words: &[&str]) -> bool {
    row(screen, host).is_some_and(|r| words.iter().all(|w| grid_part(r).contains(w)))
}

#[test]
#[ignore = "needs root, tmux and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_dashboard_shows_the_faults_sees_a_host_come_back_and_records_a_tick() {
    let started = Instant::now();
    tmux::require();
    let mut lab = Lab::start(&[
        ("MDLAB_INTERVAL", &format!("{}s", INTERVAL.as_secs())),
        ("MDLAB_TIMEOUT", &format!("{}s", TIMEOUT.as_secs())),
        // Mail's SPF and blocklist faults are lab_mail's: mail is healthy here.
        ("MDLAB_MAIL_FAULTS", "0"),
    ]);
    eprintln!("lab {} up in {:.1?}", lab.prefix, lab.setup);
    for command in [
        "pin-old vbox",
        "drop-port git 80",
        "stale www",
        "close-port jabber 5222",
    ] {
        eprintln!("lab: {}", lab.command(command));
    }

    let state = lab.dir.join("checklist-state.json");
    let command = format!(
        "sh -c '{} --inventory {} --state {} --who lab-tester; echo EXIT=$?; sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        lab.inventory.display(),
        state.display()
    );
    let tmux = Tmux::start_via(
        lab.on_laptop(&[]),
        &format!("{}-tui", lab.prefix),
        &command,
        (160, 40),
    );

    // ------------------------------------------------------------ the faults on screen
    let (screen, took) =
        tmux.wait_for_timed("every fault in the grid", Duration::from_secs(20), |s| {
            row_has(s, "vbox", &["✖ down", "OLD IP"])
                && row_has(s, "git", &["◐ degraded", "80 filtered"])
                && row_has(s, "www", &["◐ degraded"])
                && row_has(s, "jabber", &["◐ degraded", "5222 refused"])
                && row_has(s, "drawable", &["● up", "⚠ old"])
                && ["ns-master", "mail", "build"]
                    .iter()
                    .all(|h| row_has(s, h, &["● up", "✔ new"]))
        });
    eprintln!("--- the grid after {took:.1?}:\n{screen}");
    assert!(screen.contains("Hosts (8)"), "{screen}");
    assert!(screen.contains("who: lab-tester"), "{screen}");

    // vbox's detail: why it looks dead.
    for _ in 0..3 {
        tmux.key("j");
    }
    let (screen, _) = tmux.wait_for_timed("vbox's detail", Duration::from_secs(5), |s| {
        s.contains("vbox · vbox.example.org") && s.contains("points vbox.example.org at")
    });
    let detail: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("points vbox.example.org") || l.starts_with("Target"))
        .map(|l| grid_part(l).trim_end())
        .collect();
    eprintln!("--- vbox's detail:\n{}", detail.join("\n"));
    assert!(
        detail
            .iter()
            .any(|l| l.contains("/etc/hosts line") && l.contains("OLD 198.51.100.13")),
        "{screen}"
    );

    // The zones view: ns3 behind on the old serial, with whom to call.
    tmux.key("z");
    let (screen, _) = tmux.wait_for_timed("the zones view", Duration::from_secs(5), |s| {
        s.contains("2009121201") && s.contains("2009121202") && s.contains("behind")
    });
    let zones: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("200912120"))
        .map(str::trim_end)
        .collect();
    eprintln!("--- the zones view:\n{}", zones.join("\n"));
    assert!(
        zones
            .iter()
            .any(|l| l.contains("ns3.example.org") && l.contains("2009121201")),
        "{screen}"
    );
    assert!(screen.contains("Aleksi"), "{screen}");
    tmux.key("Escape");
    tmux.wait_for_timed("the grid again", Duration::from_secs(5), |s| {
        s.contains("Hosts (8)")
    });

    // ------------------------------------------------------------ fault 6, live
    eprintln!("lab: {}", lab.command("link-down build"));
    let down_bound = INTERVAL + TIMEOUT * FAIL_AFTER + SLACK;
    let (_, went_down) = tmux.wait_for_timed("build down", down_bound * 3, |s| {
        row_has(s, "build", &["✖ down"])
    });
    eprintln!(
        "--- build shown down {went_down:.2?} after its link went down (bound {down_bound:?})"
    );
    assert!(went_down <= down_bound, "down after {went_down:?}");
    let (screen, _) =
        tmux.wait_for_timed("build's checklist item red", Duration::from_secs(5), |s| {
            s.contains("build.health ✖ down")
        });
    eprintln!("    {}", row(&screen, "build").unwrap().trim_end());

    eprintln!("lab: {}", lab.command("link-up build"));
    let up_bound = INTERVAL + TIMEOUT + SLACK;
    let (screen, came_back) = tmux.wait_for_timed("build up again", up_bound * 3, |s| {
        row_has(s, "build", &["● up"])
    });
    eprintln!("--- build shown up {came_back:.2?} after its link came back (bound {up_bound:?})");
    eprintln!("    {}", row(&screen, "build").unwrap().trim_end());
    assert!(
        came_back <= up_bound,
        "build came back after {came_back:?}, more than one interval plus the timeout"
    );

    // ------------------------------------------------------------ a tick
    // Tab: grid -> detail -> checklist; the fifth item is mail-up, linked to mail.ssh.
    tmux.key("Tab");
    tmux.key("Tab");
    for _ in 0..4 {
        tmux.key("j");
    }
    let (screen, _) = tmux.wait_for_timed("mail-up ready", Duration::from_secs(5), |s| {
        s.lines()
            .any(|l| l.contains("[›] ready") && l.contains("mail answers SSH"))
    });
    assert!(screen.contains("mail.ssh ✔ SSH-2.0-OpenSSH"), "{screen}");
    tmux.key("Space");
    let (screen, _) = tmux.wait_for_timed("mail-up ticked", Duration::from_secs(5), |s| {
        s.lines().any(|l| {
            l.contains("[✔] done-by-check")
                && l.contains("mail answers SSH")
                && l.contains("lab-tester")
        })
    });
    let ticked = screen
        .lines()
        .find(|l| l.contains("[✔] done-by-check"))
        .unwrap();
    eprintln!(
        "--- the tick: {}",
        ticked.split('│').nth(1).unwrap_or(ticked).trim_end()
    );
    assert!(screen.contains("1/9"), "{screen}");

    // The pane shows a tick at once; the state file has it once its write (fsync of the file
    // and the directory) is done: read it back as another process would, within 2 s (on an
    // idle machine; the wait allows for a loaded one).
    let window = crate::common::in_time(Duration::from_secs(2));
    let shown = Instant::now();
    let json = loop {
        let out = lab.moveday(&["checklist", "--json", "--state", state.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        if json["done"] == 1 || shown.elapsed() > window {
            break json;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "    in the state file {:.0?} after the screen showed it",
        shown.elapsed()
    );
    let items: Vec<&Value> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
        .filter(|i| i["state"] != "open")
        .collect();
    eprintln!("--- checklist --json, items not open: {items:?}");
    assert_eq!(json["done"], 1, "{json:#}");
    assert_eq!(items.len(), 1, "{json:#}");
    let item = items[0];
    assert_eq!(item["id"], "mail-up");
    assert_eq!(item["state"], "done-by-check");
    assert_eq!(item["who"], "lab-tester");
    assert_eq!(item["check"], "mail.ssh");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let evidence = record["items"]["mail-up"]["tick"]["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!("    evidence in the state file: {evidence}");
    assert!(
        evidence.starts_with("mail.ssh: SSH-2.0-OpenSSH") && evidence.ends_with("203.0.113.11"),
        "{record:#}"
    );

    // ------------------------------------------------------------ quit, tear down
    tmux.key("q");
    tmux.wait_for_timed("moveday exits", Duration::from_secs(5), |s| {
        s.contains("EXIT=0")
    });
    drop(tmux);
    let (prefix, dir) = (lab.prefix.clone(), lab.dir.clone());
    let ended = lab.close();
    assert_eq!(ended.code, Some(0), "lab.sh: {}", ended.stderr);
    let left = lab::leftovers(&prefix, &dir);
    assert!(left.is_empty(), "left behind: {left:#?}");
    eprintln!("lab TUI test done in {:.1?}", started.elapsed());
}
