//! Issue 17 in the lab (`tests/lab/lab.sh`): DNS beyond the zone, with Debian's own BIND.
//!
//! - The parent: a named authoritative for `org.` (`PREFIX-parent`, 203.0.113.54) delegates
//!   example.org with ns-master's glue still at its OLD address. `moveday check --json` and
//!   the zones view in tmux name it, red, until `fix-glue`; then it is new within one
//!   `delegation_every` (the inventory's 2 s) plus the timeout.
//! - The primary takes dynamic updates signed with the canary's TSIG key (by hand with
//!   `nsupdate -k`, as an admin would): the serial goes up, ns2 (on git) is notified and
//!   transfers it within seconds, ns3 (on drawable, still pointed at the old primary) never
//!   does; a key the primary does not know is NOTAUTH.
//! - The canary: `moveday canary example.org` writes its TXT through that key; ns2 picks it
//!   up within seconds, ns3 never, and is named with its contact at the deadline; a wrong
//!   key is an error naming the primary and NOTAUTH; `C` then `y` in the zones view runs it.
//!
//! Needs root, tmux and the lab's packages: ignored by a plain `cargo test`, run by
//! `cargo test -- --include-ignored`, where a machine without them fails it.

use std::time::{Duration, Instant};

use crate::common::tmux::{self, Tmux};
use crate::lab::{self, Lab};
use serde_json::{Value, json};

/// The parent's server (org.), the primary, ns2 (on git), ns3 (on drawable).
const PARENT: &str = "203.0.113.54";
const PRIMARY: &str = "203.0.113.10";
const NS2: &str = "203.0.113.12";
const NS3: &str = "203.0.113.14";
const SERIAL_OLD: u32 = 2009121201;
const SERIAL_NEW: u32 = 2009121202;
/// ns3's contact in the generated inventory.
const NS3_CONTACT: &str = "Aleksi at axu.tm, +358 40 123 4567";
/// The generated inventory's `[dns] delegation_every` and `[probe] timeout`.
const DELEGATION_EVERY: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(1);
const OLD_WORDS: &str = "parent glue for ns-master.example.org is still 198.51.100.10 (old): update it at the registrar";

/// `zones[]` entry `example.org` of a `check --json`.
fn zone(json: &Value) -> &Value {
    json["zones"]
        .as_array()
        .expect("zones[]")
        .iter()
        .find(|z| z["name"] == "example.org")
        .unwrap_or_else(|| panic!("no zone example.org in {json:#}"))
}

/// The glue of `name` at the one parent server.
fn glue<'a>(delegation: &'a Value, name: &str) -> &'a Value {
    delegation["servers"][0]["glue"]
        .as_array()
        .unwrap_or_else(|| panic!("no glue[] in {delegation:#}"))
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no glue for {name} in {delegation:#}"))
}

/// The delegation as `check --json` on the laptop sees it now, logged.
fn delegation(lab: &Lab, when: &str) -> Value {
    let (code, json, took) = lab.check_json();
    let d = zone(&json)["delegation"].clone();
    eprintln!("--- check --json {when} (exit {code:?}, {took:.1?}): delegation {d}");
    d
}

/// The delegation of the lab's example.org at org., with ns-master's glue at `master`
/// (verdict `verdict`), the other in-zone names' at their new addresses.
fn assert_delegation(d: &Value, master: &str, verdict: &str) {
    assert_eq!(d["servers"].as_array().map(Vec::len), Some(1), "{d:#}");
    let server = &d["servers"][0];
    assert_eq!(server["address"], PARENT, "{d:#}");
    assert_eq!(server["error"], Value::Null, "{d:#}");
    assert_eq!(
        server["ns"],
        json!([
            "ns-master.example.org",
            "ns2.example.org",
            "ns3.example.org"
        ]),
        "{d:#}"
    );
    assert_eq!(d["agrees_with_zone"], true, "{d:#}");
    let master_glue = glue(d, "ns-master.example.org");
    assert_eq!(master_glue["addresses"], json!([master]), "{d:#}");
    assert_eq!(master_glue["verdict"], verdict, "{d:#}");
    for (name, address) in [("ns2.example.org", NS2), ("ns3.example.org", NS3)] {
        assert_eq!(glue(d, name)["addresses"], json!([address]), "{d:#}");
        assert_eq!(glue(d, name)["verdict"], "new", "{d:#}");
    }
    assert_eq!(d["ok"], verdict == "new", "{d:#}");
}

/// The foreground colour (SGR 30-37, 90-97; 38 for any other) in effect where `text` starts on a line of
/// `capture-pane -e`, if any.
fn colour_at(raw_screen: &str, text: &str) -> Option<u32> {
    let line = raw_screen.lines().find(|l| l.contains(text))?;
    let before = &line[..line.find(text)?];
    let mut fg = None;
    for seq in before.split("\x1b[").skip(1) {
        let Some((params, _)) = seq.split_once('m') else {
            continue;
        };
        let mut params = params.split(';').map(|p| p.parse::<u32>().unwrap_or(0));
        while let Some(p) = params.next() {
            match p {
                0 | 39 => fg = None,
                30..=37 | 90..=97 => fg = Some(p),
                // 38;5;N (tmux writes the 16 colours so: 9 is bright red) or 38;2;R;G;B.
                38 => {
                    fg = match (params.next(), params.next()) {
                        (Some(5), Some(n @ 0..=7)) => Some(30 + n),
                        (Some(5), Some(n @ 8..=15)) => Some(90 + n - 8),
                        _ => Some(38),
                    };
                }
                _ => {}
            }
        }
    }
    fg
}

/// moveday's dashboard on the laptop, in a tmux of the lab's own.
fn dashboard(lab: &Lab, name: &str) -> Tmux {
    let command = format!(
        "sh -c '{} --inventory {} --state {} --who lab-tester; echo EXIT=$?; sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        lab.inventory.display(),
        lab.dir.join(format!("{name}-state.json")).display()
    );
    let tmux = Tmux::start_via(
        lab.on_laptop(&[]),
        &format!("{}-{name}", lab.prefix),
        &command,
        (200, 50),
    );
    tmux.wait_for("the grid", Duration::from_secs(20), |s| {
        s.contains("Hosts (8)")
    });
    tmux
}

/// Quits the dashboard, tears the lab down and checks nothing is left.
fn finish(lab: Lab, tmux: Tmux, started: Instant, test: &str) {
    tmux.key("q");
    tmux.wait_for("moveday exits", Duration::from_secs(5), |s| {
        s.contains("EXIT=0")
    });
    drop(tmux);
    let (prefix, dir) = (lab.prefix.clone(), lab.dir.clone());
    let ended = lab.close();
    assert_eq!(ended.code, Some(0), "lab.sh: {}", ended.stderr);
    let left = lab::leftovers(&prefix, &dir);
    assert!(left.is_empty(), "left behind: {left:#?}");
    eprintln!("{test} done in {:.1?}", started.elapsed());
}

#[test]
#[ignore = "needs root, tmux and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_parents_old_glue_is_named_red_until_the_registrar_fixes_it() {
    let started = Instant::now();
    tmux::require();
    let mut lab = Lab::start(&[]);
    eprintln!("lab {} up in {:.1?}", lab.prefix, lab.setup);

    // The registrar still has ns-master's old address.
    let d = delegation(&lab, "with the old glue");
    assert_delegation(&d, "198.51.100.10", "old");

    let tmux = dashboard(&lab, "glue");
    tmux.key("z");
    let (screen, _) = tmux.wait_for_timed("the old glue, in words", Duration::from_secs(10), |s| {
        s.contains(OLD_WORDS)
    });
    let line = screen.lines().find(|l| l.contains(OLD_WORDS)).unwrap();
    eprintln!("--- the zones view:\n{}", line.trim_end());
    assert!(line.contains("Delegation"), "{screen}");
    let colour = colour_at(&tmux.screen_with_escapes(), "parent glue for ns-master");
    assert!(
        matches!(colour, Some(31 | 91)),
        "the old glue is not red (SGR {colour:?}):\n{:?}",
        tmux.screen_with_escapes()
    );

    // The registrar updates the glue: the parent serves the new address when the command
    // answers.
    eprintln!("lab: {}", lab.command("fix-glue"));
    let fixed = Instant::now();
    let bound = DELEGATION_EVERY + TIMEOUT;
    let (screen, _) = tmux.wait_for_timed(
        "the delegation to agree",
        crate::common::in_time(bound) * 2,
        |s| !s.contains("parent glue for") && s.contains("the parent agrees with the zone"),
    );
    let took = fixed.elapsed();
    let line = screen
        .lines()
        .find(|l| l.contains("the parent agrees with the zone"))
        .unwrap();
    eprintln!(
        "--- the zones view {took:.2?} after fix-glue (bound {bound:?} + {:?} for a loaded \
         machine):\n{}",
        crate::common::LOADED_MACHINE,
        line.trim_end()
    );
    assert!(line.contains("glue new"), "{screen}");
    assert!(
        took <= crate::common::in_time(bound),
        "the fixed glue showed after {took:?}, more than one delegation_every plus the timeout"
    );
    let d = delegation(&lab, "after fix-glue");
    assert_delegation(&d, PRIMARY, "new");

    // And broken again: check (one shot) sees it at once.
    eprintln!("lab: {}", lab.command("break-glue"));
    let d = delegation(&lab, "after break-glue");
    assert_delegation(&d, "198.51.100.10", "old");

    finish(lab, tmux, started, "lab glue test");
}

// ------------------------------------------------------------------- the primary's key

/// `dig +short` on the laptop, without recursion.
fn dig(lab: &Lab, server: &str, name: &str, kind: &str) -> String {
    let out = lab
        .on_laptop(&["dig", "+short", "+norecurse", "+time=1", "+tries=1"])
        .args([&format!("@{server}"), name, kind])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn serial(lab: &Lab, server: &str) -> Option<u32> {
    dig(lab, server, "example.org", "SOA")
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// The canary's TXT record as `server` serves it (dig's quoting).
fn canary_txt(lab: &Lab, server: &str) -> String {
    dig(lab, server, "_moveday-canary.example.org", "TXT")
}

/// `nsupdate -k key` on the laptop: replaces the canary TXT with `text`. Exit code and
/// what it said.
fn nsupdate(lab: &Lab, key: &str, text: &str) -> (Option<i32>, String) {
    use std::io::Write as _;
    let mut child = lab
        .on_laptop(&["nsupdate", "-t", "3", "-k"])
        .arg(lab.dir.join("keys").join(key))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate");
    write!(
        child.stdin.take().unwrap(),
        "server {PRIMARY}\nzone example.org\n\
         update delete _moveday-canary.example.org TXT\n\
         update add _moveday-canary.example.org 60 TXT \"{text}\"\nsend\n"
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), said)
}

/// Polls until `ok` holds, at most `limit`; how long it took, or `None`.
fn within(limit: Duration, ok: impl Fn() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if ok() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the canary stands on, by hand: the lab's primary takes an update signed with the
/// canary's key (the serial goes up), ns2 is notified and follows within seconds, ns3 never
/// does; a key the primary does not know is NOTAUTH (BADKEY), and changes nothing.
#[test]
#[ignore = "needs root and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_primary_takes_signed_updates_and_only_ns2_follows() {
    let started = Instant::now();
    let lab = Lab::start(&[]);
    eprintln!("lab {} up in {:.1?}", lab.prefix, lab.setup);
    let key = lab.dir.join("keys/moveday-canary.key");
    let meta = std::fs::metadata(&key).unwrap();
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(meta.mode() & 0o777, 0o600, "{}", key.display());
    assert_eq!(meta.uid(), 0, "{}", key.display());
    for (server, expected) in [(PRIMARY, SERIAL_NEW), (NS2, SERIAL_NEW), (NS3, SERIAL_OLD)] {
        assert_eq!(serial(&lab, server), Some(expected), "{server}");
    }

    let (code, said) = nsupdate(&lab, "unknown.key", "a wrong key");
    eprintln!("--- nsupdate with a key the primary does not know: exit {code:?}: {said}");
    assert_ne!(code, Some(0), "{said}");
    assert!(said.contains("NOTAUTH"), "{said}");
    assert_eq!(serial(&lab, PRIMARY), Some(SERIAL_NEW));
    assert_eq!(canary_txt(&lab, PRIMARY), "");

    let text = format!("by hand {}", std::process::id());
    let (code, said) = nsupdate(&lab, "moveday-canary.key", &text);
    assert_eq!(code, Some(0), "{said}");
    let bumped = SERIAL_NEW + 1;
    assert_eq!(serial(&lab, PRIMARY), Some(bumped));
    assert_eq!(canary_txt(&lab, PRIMARY), format!("\"{text}\""));
    let ns2 = within(Duration::from_secs(5), || {
        serial(&lab, NS2) == Some(bumped) && canary_txt(&lab, NS2) == format!("\"{text}\"")
    });
    eprintln!(
        "--- a signed update: the primary serves {bumped}; ns2 served it {ns2:.2?} after \
         nsupdate answered (at most 5 s)",
    );
    assert!(ns2.is_some(), "ns2 still serves {:?}", serial(&lab, NS2));
    assert_eq!(serial(&lab, NS3), Some(SERIAL_OLD));
    assert_eq!(canary_txt(&lab, NS3), "");

    // The zone is dynamic now, with its journal: the lab's faults still work beside it.
    let mut lab = lab;
    eprintln!("lab: {}", lab.command("fix-glue"));
    let (code, json, _) = lab.check_json();
    assert_eq!(code, Some(0), "{json:#}");
    let z = zone(&json);
    assert_eq!(z["primary"]["serial"], bumped, "{z:#}");
    let ended = lab.close();
    assert_eq!(ended.code, Some(0), "lab.sh: {}", ended.stderr);
    eprintln!("lab update test done in {:.1?}", started.elapsed());
}

// ------------------------------------------------------------------- the canary

/// `moveday canary example.org` on the laptop with `inventory` and `args`: exit code, stdout,
/// stderr, how long it took.
fn canary(
    lab: &Lab,
    inventory: &std::path::Path,
    args: &[&str],
) -> (Option<i32>, String, String, Duration) {
    let started = Instant::now();
    let out = lab
        .on_laptop(&[env!("CARGO_BIN_EXE_moveday"), "canary", "example.org"])
        .args(args)
        .arg("--inventory")
        .arg(inventory)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("moveday canary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

/// `secondaries[]` entry for the server at `address` (its `server` is `address:53`; ns3,
/// given by name in the inventory, may be shown by that name).
fn secondary<'a>(run: &'a Value, address: &str, name: &str) -> &'a Value {
    run["secondaries"]
        .as_array()
        .unwrap_or_else(|| panic!("no secondaries[] in {run:#}"))
        .iter()
        .find(|s| s["server"] == format!("{address}:53") || s["server"] == name)
        .unwrap_or_else(|| panic!("no secondary {address} ({name}) in {run:#}"))
}

/// The canary run headless: ns2 picks it up within seconds, ns3 is named with its contact
/// at the deadline (exit 1), in JSON and in words; a wrong key is the primary's NOTAUTH.
/// Then `C` and `y` in the zones view run it from the dashboard.
#[test]
#[ignore = "needs root, tmux and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_canary_reaches_ns2_within_seconds_and_never_ns3() {
    let started = Instant::now();
    tmux::require();
    let lab = Lab::start(&[("MDLAB_CANARY_KEY", "1")]);
    eprintln!("lab {} up in {:.1?}", lab.prefix, lab.setup);
    let deadline = Duration::from_secs(6);

    // ------------------------------------------------------------ --json
    let (code, stdout, stderr, took) = canary(
        &lab,
        &lab.inventory,
        &["--json", "--deadline", &format!("{}s", deadline.as_secs())],
    );
    eprintln!("--- moveday canary --json: exit {code:?} after {took:.1?}\n{stdout}{stderr}");
    let run: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("canary --json: {e}\n{stdout}\n{stderr}"));
    assert_eq!(code, Some(1), "{run:#}");
    assert!(run["schema"].is_u64(), "{run:#}");
    assert_eq!(run["zone"], "example.org", "{run:#}");
    assert_eq!(run["primary"], format!("{PRIMARY}:53"), "{run:#}");
    assert_eq!(run["done"], true, "{run:#}");
    assert_eq!(run["ok"], false, "{run:#}");
    assert_eq!(run["error"], Value::Null, "{run:#}");
    assert_eq!(
        run["deadline_s"].as_f64(),
        Some(deadline.as_secs_f64()),
        "{run:#}"
    );
    let written = run["serial"].as_u64().unwrap_or_else(|| panic!("{run:#}"));
    assert!(written > u64::from(SERIAL_NEW), "{run:#}");
    let text = run["text"].as_str().unwrap_or_else(|| panic!("{run:#}"));
    let when = run["written_at"]
        .as_str()
        .unwrap_or_else(|| panic!("{run:#}"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(when).is_ok(),
        "written_at {when:?}"
    );
    assert!(
        text.starts_with(when) && text.contains('@'),
        "text {text:?}"
    );
    // What the primary and ns2 serve now is that record.
    assert_eq!(serial(&lab, PRIMARY), Some(written as u32));
    assert_eq!(canary_txt(&lab, PRIMARY), format!("\"{text}\""));
    assert_eq!(canary_txt(&lab, NS2), format!("\"{text}\""));

    let ns2 = secondary(&run, NS2, "ns2.example.org");
    let after = ns2["picked_up_after_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("{run:#}"));
    eprintln!("    ns2 picked the canary up after {after:.2} s");
    assert!(after < 3.0, "ns2 picked it up after {after} s: {run:#}");
    assert_eq!(ns2["serial"], written, "{run:#}");
    assert_eq!(ns2["txt_seen"], true, "{run:#}");
    assert_eq!(ns2["error"], Value::Null, "{run:#}");

    let ns3 = secondary(&run, NS3, "ns3.example.org");
    assert_eq!(ns3["picked_up_after_s"], Value::Null, "{run:#}");
    assert_eq!(ns3["serial"], SERIAL_OLD, "{run:#}");
    assert_eq!(ns3["txt_seen"], false, "{run:#}");
    assert_eq!(ns3["contact"], NS3_CONTACT, "{run:#}");
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(5),
        "the run took {took:?} with a deadline of {deadline:?}"
    );

    // ------------------------------------------------------------ in words
    let (code, stdout, stderr, took) = canary(&lab, &lab.inventory, &["--deadline", "3s"]);
    eprintln!("--- moveday canary: exit {code:?} after {took:.1?}\n{stdout}{stderr}");
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let ns3_line = stdout
        .lines()
        .find(|l| l.contains("ns3.example.org") && l.contains("still serves serial"))
        .unwrap_or_else(|| panic!("ns3 not named:\n{stdout}"));
    assert!(ns3_line.contains(&SERIAL_OLD.to_string()), "{ns3_line}");
    assert!(stdout.contains(NS3_CONTACT), "{stdout}");
    assert!(!stderr.contains("readable"), "a 0600 key warned: {stderr}");

    // ------------------------------------------------------------ a wrong key
    let wrong = lab.dir.join("inventory-wrong-key.toml");
    let text = std::fs::read_to_string(&lab.inventory).unwrap();
    assert!(text.contains("keys/moveday-canary.key"), "{text}");
    std::fs::write(
        &wrong,
        text.replace("keys/moveday-canary.key", "keys/unknown.key"),
    )
    .unwrap();
    let before = serial(&lab, PRIMARY);
    let (code, stdout, stderr, took) = canary(&lab, &wrong, &["--json", "--deadline", "3s"]);
    eprintln!(
        "--- moveday canary with a wrong key: exit {code:?} after {took:.1?}\n{stdout}{stderr}"
    );
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let said = format!("{stdout}{stderr}");
    assert!(said.contains(PRIMARY) && said.contains("NOTAUTH"), "{said}");
    if let Ok(run) = serde_json::from_str::<Value>(&stdout) {
        let error = run["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(PRIMARY) && error.contains("NOTAUTH"),
            "{run:#}"
        );
        assert_eq!(run["ok"], false, "{run:#}");
    }
    assert_eq!(
        serial(&lab, PRIMARY),
        before,
        "a refused update changed the zone"
    );

    // ------------------------------------------------------------ C in the zones view
    let tmux = dashboard(&lab, "canary");
    tmux.key("z");
    tmux.wait_for("the zones view", Duration::from_secs(10), |s| {
        s.contains("2009121201") && s.contains("behind")
    });
    tmux.key("C");
    let screen = tmux.wait_for("the confirmation", Duration::from_secs(5), |s| {
        s.contains("canary") && (s.contains("y/n") || s.contains("[y]") || s.contains("y:"))
    });
    eprintln!("--- after C:\n{}", lines_with(&screen, "canary"));
    let before = serial(&lab, PRIMARY);
    tmux.key("y");
    let (screen, took) =
        tmux.wait_for_timed("ns2 picked the canary up", Duration::from_secs(10), |s| {
            s.to_lowercase().contains("canary")
                && s.lines()
                    .any(|l| (l.contains("ns2") || l.contains(NS2)) && l.contains("picked up"))
        });
    eprintln!(
        "--- the zones view {took:.1?} after y:\n{}",
        lines_with(&screen, "canary")
    );
    eprintln!("{}", lines_with(&screen, "picked up"));
    assert!(
        serial(&lab, PRIMARY) > before,
        "the run from the dashboard wrote nothing"
    );

    finish(lab, tmux, started, "lab canary test");
}

fn lines_with(screen: &str, word: &str) -> String {
    screen
        .lines()
        .filter(|l| l.to_lowercase().contains(word))
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}
