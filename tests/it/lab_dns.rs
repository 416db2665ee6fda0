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
/// The canary test's `[dns] canary_deadline` (`MDLAB_CANARY_DEADLINE`): the dashboard's run.
const CANARY_DEADLINE: Duration = Duration::from_secs(6);
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

/// moveday's dashboard on the laptop, in a tmux of the lab's own, its state file and
/// journal `NAME-state.json` and `NAME.journal.jsonl` in the lab.
fn dashboard(lab: &Lab, name: &str) -> Tmux {
    let command = format!(
        "sh -c '{} --inventory {} --state {} --journal {} --who lab-tester; echo EXIT=$?; \
         sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        lab.inventory.display(),
        lab.dir.join(format!("{name}-state.json")).display(),
        lab.dir.join(format!("{name}.journal.jsonl")).display()
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

/// `moveday report --format md` of the journal `NAME.journal.jsonl` in the lab (the state
/// file `NAME-state.json`): exit code and the report (stderr after it).
fn report(lab: &Lab, name: &str) -> (Option<i32>, String) {
    let journal = lab.dir.join(format!("{name}.journal.jsonl"));
    let state = lab.dir.join(format!("{name}-state.json"));
    let out = lab.moveday(&[
        "report",
        "--format",
        "md",
        "--journal",
        journal.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
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

    let tmux = dashboard(&lab, "delegation");
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

    // The report (from the dashboard's journal) says when the glue first pointed at the
    // new address.
    tmux.key("q");
    tmux.wait_for("moveday exits", Duration::from_secs(5), |s| {
        s.contains("EXIT=0")
    });
    let (code, text) = report(&lab, "delegation");
    let glue_lines = lines_with(&text, "glue");
    eprintln!("--- moveday report (exit {code:?}), its lines on the glue:\n{glue_lines}");
    let mut f = lab::Findings::default();
    f.expect(code == Some(0), "report: exit 0", &text);
    f.expect(
        glue_lines
            .lines()
            .any(|l| l.contains("ns-master.example.org") && l.contains(PRIMARY)),
        "report: when ns-master's glue first pointed at the new address",
        &text,
    );

    finish(lab, tmux, started, "lab glue test");
    f.finish("the_parents_old_glue_is_named_red_until_the_registrar_fixes_it");
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
    nsupdate_name(lab, key, "_moveday-canary.example.org", text)
}

/// As [`nsupdate`], of the TXT at `name`.
fn nsupdate_name(lab: &Lab, key: &str, name: &str, text: &str) -> (Option<i32>, String) {
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
         update delete {name} TXT\n\
         update add {name} 60 TXT \"{text}\"\nsend\n"
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

    // The key may write the canary's name and nothing else (update-policy): BIND holds
    // moveday to its word.
    let (code, said) = nsupdate_name(&lab, "moveday-canary.key", "www.example.org", "x");
    eprintln!("--- nsupdate of another name with the canary's key: exit {code:?}: {said}");
    assert_ne!(code, Some(0), "{said}");
    assert!(said.contains("REFUSED"), "{said}");
    assert_eq!(serial(&lab, PRIMARY), Some(SERIAL_NEW));

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
    // (What the check says of the hosts is lab_faults' business: under a loaded machine a
    // host may be slow; the zone is what this test is about.)
    let (_, json, _) = lab.check_json();
    let z = zone(&json);
    assert_eq!(z["primary"]["serial"], bumped, "{z:#}");
    assert_eq!(z["delegation"]["ok"], true, "{z:#}");
    let ended = lab.close();
    assert_eq!(ended.code, Some(0), "lab.sh: {}", ended.stderr);
    eprintln!("lab update test done in {:.1?}", started.elapsed());
}

// ------------------------------------------------------------------- the canary

/// `moveday canary example.org` on the laptop with `inventory` and `args`, journaling into
/// the lab's `move.journal.jsonl` (the dashboard's too): exit code, stdout, stderr, how
/// long it took.
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
        .arg("--journal")
        .arg(lab.dir.join("move.journal.jsonl"))
        .args(["--who", "lab-tester"])
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

/// `secondaries[]` entry of the server at `address` (`address:53` where it was asked).
fn secondary<'a>(run: &'a Value, address: &str) -> &'a Value {
    run["secondaries"]
        .as_array()
        .unwrap_or_else(|| panic!("no secondaries[] in {run:#}"))
        .iter()
        .find(|s| s["address"] == format!("{address}:53"))
        .unwrap_or_else(|| panic!("no secondary at {address} in {run:#}"))
}

/// The canary run headless: ns2 picks it up within seconds, ns3 is named with its contact
/// and the serial it still serves at the deadline (exit 1), in JSON and in words; a wrong
/// key is the primary's NOTAUTH and changes nothing. Then `C` and `y` in the zones view
/// run it from the dashboard. Every expectation is checked (`Findings`), so a product bug
/// in one part shows beside the rest.
#[test]
#[ignore = "needs root, tmux and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_canary_reaches_ns2_within_seconds_and_never_ns3() {
    let started = Instant::now();
    tmux::require();
    let lab = Lab::start(&[(
        "MDLAB_CANARY_DEADLINE",
        &format!("{}s", CANARY_DEADLINE.as_secs()),
    )]);
    eprintln!("lab {} up in {:.1?}", lab.prefix, lab.setup);
    let mut f = lab::Findings::default();
    let deadline = Duration::from_secs(5);

    // ------------------------------------------------------------ --json
    let (code, stdout, stderr, took) = canary(
        &lab,
        &lab.inventory,
        &["--json", "--deadline", &format!("{}s", deadline.as_secs())],
    );
    eprintln!("--- moveday canary --json: exit {code:?} after {took:.1?}\n{stdout}{stderr}");
    let run: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("canary --json: {e}\n{stdout}\n{stderr}"));
    f.expect(code == Some(1), "--json: exit 1 (ns3 never follows)", &run);
    for (field, expected) in [
        ("zone", json!("example.org")),
        ("primary", json!(format!("{PRIMARY}:53"))),
        ("done", json!(true)),
        ("ok", json!(false)),
        ("error", Value::Null),
        ("deadline_s", json!(deadline.as_secs_f64())),
    ] {
        f.expect(
            run[field] == expected,
            &format!("--json: {field} is {expected}, got {}", run[field]),
            "",
        );
    }
    f.expect(run["schema"].is_u64(), "--json: a schema version", &run);
    let written = run["serial"].as_u64().unwrap_or_else(|| panic!("{run:#}"));
    f.expect(
        written == u64::from(SERIAL_NEW) + 1,
        &format!("--json: the primary's serial went up by one: {written}"),
        "",
    );
    let text = run["text"].as_str().unwrap_or_else(|| panic!("{run:#}"));
    let when = run["written_at"]
        .as_str()
        .unwrap_or_else(|| panic!("{run:#}"));
    f.expect(
        chrono::DateTime::parse_from_rfc3339(when).is_ok(),
        &format!("--json: written_at {when:?} is RFC 3339"),
        "",
    );
    f.expect(
        text.starts_with(when.get(..16).unwrap_or(when)) && text.ends_with(" lab-tester"),
        &format!("--json: the text {text:?} is the time and who"),
        "",
    );
    // What the primary and ns2 serve now is that record; ns3 has neither.
    f.expect(
        serial(&lab, PRIMARY) == Some(written as u32)
            && canary_txt(&lab, PRIMARY) == format!("\"{text}\"")
            && canary_txt(&lab, NS2) == format!("\"{text}\""),
        "dig: the primary and ns2 serve the canary",
        format!("{} / {}", canary_txt(&lab, PRIMARY), canary_txt(&lab, NS2)),
    );
    f.expect(
        serial(&lab, NS3) == Some(SERIAL_OLD) && canary_txt(&lab, NS3).is_empty(),
        "dig: ns3 serves neither",
        canary_txt(&lab, NS3),
    );

    let ns2 = secondary(&run, NS2);
    let after = ns2["picked_up_after_s"].as_f64();
    eprintln!("    ns2 picked the canary up after {after:?} s");
    f.expect(
        after.is_some_and(|s| s < 3.0),
        &format!("--json: ns2 picked it up within seconds ({after:?} s)"),
        ns2,
    );
    f.expect(
        ns2["serial"] == written
            && !ns2["text_after_s"].is_null()
            && ns2["error"].is_null()
            && ns2["state"] == "picked_up",
        "--json: ns2 serves the serial and the text, no error, followed",
        ns2,
    );

    let ns3 = secondary(&run, NS3);
    f.expect(
        ns3["server"] == "ns3.example.org" && ns3["contact"] == NS3_CONTACT,
        "--json: ns3 by its inventory name, with its contact",
        ns3,
    );
    f.expect(
        ns3["picked_up_after_s"].is_null()
            && ns3["text_after_s"].is_null()
            && ns3["state"] == "late",
        "--json: ns3 never picked it up: late",
        ns3,
    );
    f.expect(
        ns3["serial"] == SERIAL_OLD && ns3["error"].is_null(),
        &format!(
            "--json: ns3 still serves {SERIAL_OLD} at the deadline (serial {}, error {})",
            ns3["serial"], ns3["error"]
        ),
        ns3,
    );
    f.expect(
        took >= deadline && took < deadline + Duration::from_secs(4),
        &format!("--json: the run ends at its deadline ({took:.1?}, deadline {deadline:?})"),
        "",
    );

    // ------------------------------------------------------------ in words
    let (code, stdout, stderr, took) = canary(&lab, &lab.inventory, &["--deadline", "3s"]);
    eprintln!("--- moveday canary: exit {code:?} after {took:.1?}\n{stdout}{stderr}");
    f.expect(code == Some(1), "words: exit 1", "");
    let ns3_line = stdout
        .lines()
        .find(|l| l.contains("ns3.example.org") && l.contains(NS3_CONTACT))
        .unwrap_or_default();
    f.expect(
        ns3_line.contains(&format!("still serves serial {SERIAL_OLD}")),
        "words: ns3.example.org still serves serial 2009121201, with its contact",
        &stdout,
    );
    f.expect(
        stdout
            .lines()
            .any(|l| l.contains(NS2) && l.contains("picked it up")),
        "words: ns2 picked it up",
        &stdout,
    );
    f.expect(
        !stderr.contains("warning"),
        "words: no warning for a 0600 key",
        &stderr,
    );

    // ------------------------------------------------------------ a wrong key
    let wrong = lab.dir.join("inventory-wrong-key.toml");
    let inventory = std::fs::read_to_string(&lab.inventory).unwrap();
    assert!(inventory.contains("keys/moveday-canary.key"), "{inventory}");
    std::fs::write(
        &wrong,
        inventory.replace("keys/moveday-canary.key", "keys/unknown.key"),
    )
    .unwrap();
    let before = serial(&lab, PRIMARY);
    let (code, stdout, stderr, took) = canary(&lab, &wrong, &["--json", "--deadline", "3s"]);
    eprintln!(
        "--- moveday canary with a wrong key: exit {code:?} after {took:.1?}\n{stdout}{stderr}"
    );
    f.expect(code == Some(1), "wrong key: exit 1", "");
    let error = serde_json::from_str::<Value>(&stdout)
        .ok()
        .and_then(|run| run["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    f.expect(
        error.contains(PRIMARY) && error.contains("NOTAUTH"),
        &format!("wrong key: the JSON error names the primary and NOTAUTH: {error:?}"),
        &stdout,
    );
    f.expect(
        serial(&lab, PRIMARY) == before,
        "wrong key: the zone is unchanged",
        "",
    );
    let (code, stdout, stderr, _) = canary(&lab, &wrong, &["--deadline", "3s"]);
    let said = format!("{stdout}{stderr}");
    eprintln!("--- the same in words: exit {code:?}\n{said}");
    f.expect(
        code == Some(1) && said.contains(PRIMARY) && said.contains("NOTAUTH"),
        "wrong key, in words: exit 1, the primary and NOTAUTH named",
        &said,
    );

    // ------------------------------------------------------------ C in the zones view
    let tmux = dashboard(&lab, "move");
    tmux.key("z");
    tmux.wait_for("the zones view", Duration::from_secs(10), |s| {
        s.contains("2009121201") && s.contains("behind")
    });
    let before = serial(&lab, PRIMARY);
    tmux.key("C");
    let asked = within(Duration::from_secs(5), || {
        tmux.screen().contains("Write the canary?")
    });
    let screen = tmux.screen();
    eprintln!("--- after C:\n{}", lines_with(&screen, "canary"));
    f.expect(
        asked.is_some() && serial(&lab, PRIMARY) == before,
        "C: asks before it writes (\"Write the canary?\", nothing written yet)",
        &screen,
    );
    tmux.key("y");
    let confirmed = Instant::now();
    let picked = within(Duration::from_secs(10), || {
        tmux.screen()
            .lines()
            .any(|l| l.contains(NS2) && l.contains("picked up"))
    });
    let screen = tmux.screen();
    eprintln!(
        "--- the zones view {picked:.1?} after y:\n{}",
        lines_with(&screen, "canary")
    );
    f.expect(
        picked.is_some() && lines_with(&screen, "canary").contains("Canary"),
        "y: the zones view's Canary line shows ns2 picked it up",
        &screen,
    );
    f.expect(
        serial(&lab, PRIMARY) > before,
        "y: the run from the dashboard wrote the canary",
        "",
    );
    // Until the deadline (the lab's canary_deadline) ns3 is waited for; then it is named
    // red, with whom to call.
    let late_line = |s: &str| {
        s.lines()
            .find(|l| {
                l.contains("✖ ns3.example.org")
                    && l.contains(&format!("still serves serial {SERIAL_OLD}"))
            })
            .map(str::to_string)
    };
    let late = within(CANARY_DEADLINE + Duration::from_secs(5), || {
        late_line(&tmux.screen()).is_some()
    })
    .map(|_| confirmed.elapsed());
    let screen = tmux.screen();
    eprintln!(
        "--- the zones view {late:.1?} after y:\n{}",
        lines_with(&screen, "canary")
    );
    eprintln!("{}", late_line(&screen).unwrap_or_default());
    f.expect(
        late.is_some_and(|t| t >= CANARY_DEADLINE - Duration::from_secs(1))
            && late_line(&screen).is_some_and(|l| l.contains("Aleksi")),
        &format!(
            "the zones view names ns3 at the deadline ({CANARY_DEADLINE:?}), still serving \
             2009121201, with its contact (after {late:.1?})"
        ),
        &screen,
    );
    f.expect(
        colour_at(&tmux.screen_with_escapes(), "✖ ns3.example.org")
            .is_some_and(|c| c == 31 || c == 91),
        "the zones view: the late ns3 is red",
        "",
    );

    // The report has a canary section: every run (the command line's and the dashboard's,
    // one journal) with who picked it up, ns3 named with whom to call, the refused write.
    let (code, text) = report(&lab, "move");
    f.expect(
        code == Some(0),
        &format!("report: exit 0 (exit {code:?})"),
        &text,
    );
    // The section: from its heading to the next.
    let section: String = text
        .split("\n## ")
        .find(|s| s.starts_with("Canary"))
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "--- moveday report's canary section:\n## {}",
        section.trim_end()
    );
    f.expect(
        section
            .lines()
            .any(|l| l.contains(NS2) && l.contains("picked it up")),
        "report: the canary section has ns2 picking it up",
        &text,
    );
    f.expect(
        section.lines().any(|l| {
            l.contains("ns3.example.org")
                && l.contains(&format!("still serves serial {SERIAL_OLD}"))
                && l.contains(NS3_CONTACT)
        }),
        "report: the canary section names ns3, the serial it still serves and its contact",
        &text,
    );
    f.expect(
        section
            .lines()
            .any(|l| l.contains("not written") && l.contains(PRIMARY) && l.contains("NOTAUTH")),
        "report: the canary section has the wrong key's NOTAUTH from the primary",
        &text,
    );

    finish(lab, tmux, started, "lab canary test");
    f.finish("the_canary_reaches_ns2_within_seconds_and_never_ns3");
}

fn lines_with(screen: &str, word: &str) -> String {
    screen
        .lines()
        .filter(|l| l.to_lowercase().contains(word))
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}
