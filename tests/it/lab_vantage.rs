//! "Is it me or them?" in the lab: the office (`MDLAB_OFFICE=1` in `tests/lab/lab.sh`), a
//! vantage point on another subnet (100.64.7.0/24, routed to the lab through the bridge
//! namespace) with its own caching resolver, its own hosts file and an sshd that takes one
//! key. The laptop's moveday asks it over SSH (`ssh … root@100.64.7.10 MOVEDAY --inventory -
//! check --json`, the plan on stdin); its moveday is this test's binary (the namespaces
//! share the file system).
//!
//! - The laptop's hosts file pins vbox to its old address: vbox is down here and up from
//!   office, and vbox's reasons say "up from office: check this laptop's network or hosts
//!   file"; the office used its own /etc/hosts.
//! - The office with a key it does not know: "authentication refused".
//! - The office without moveday on its PATH: "moveday not found on office".
//! - Its host key unknown, a remote that never answers (too slow, given up at its `every`),
//!   a remote moveday of another JSON schema: each in words.
//! - The dashboard: the grid's office column says up where vbox's own health says down,
//!   and vbox's detail pane shows what the office saw.
//!
//! Needs root and the lab's packages: ignored by a plain `cargo test`, run by
//! `cargo test -- --include-ignored`, where a machine without them fails it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::tmux::{self, Tmux};
use crate::lab::{Findings, Lab, dns, host, reasons, summary};
use serde_json::Value;

const OFFICE_REASON: &str = "up from office: check this laptop's network or hosts file";
/// The office vantage's `every` in the lab (`MDLAB_VANTAGE_EVERY`): also the most one run
/// may take.
const EVERY: Duration = Duration::from_secs(10);
const VBOX_OLD: &str = "198.51.100.13";
const VBOX_NEW: &str = "203.0.113.13";

/// The lab with the office; vbox pinned to its old address in the laptop's hosts file.
fn office_lab() -> Lab {
    let mut lab = Lab::start(&[
        ("MDLAB_OFFICE", "1"),
        ("MDLAB_MOVEDAY", env!("CARGO_BIN_EXE_moveday")),
        ("MDLAB_VANTAGE_EVERY", &format!("{}s", EVERY.as_secs())),
        // Mail's SPF and blocklist faults are lab_mail's: mail is healthy here.
        ("MDLAB_MAIL_FAULTS", "0"),
    ]);
    eprintln!(
        "lab {} (with the office) up in {:.1?}",
        lab.prefix, lab.setup
    );
    eprintln!("lab: {}", lab.command("pin-old vbox"));
    lab
}

/// `check --json` on the laptop with `inventory`: exit code, the JSON, how long it took.
fn check(lab: &Lab, inventory: &Path) -> (Option<i32>, Value, Duration) {
    let started = Instant::now();
    let out = lab
        .on_laptop(&[env!("CARGO_BIN_EXE_moveday")])
        .args(["check", "--json", "--inventory"])
        .arg(inventory)
        .stdin(Stdio::null())
        .output()
        .expect("ip netns exec moveday");
    let took = started.elapsed();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check --json: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json, took)
}

/// The lab's inventory with each `from` replaced by its `to` (each must be there once),
/// written beside it (its relative paths still hold).
fn variant(lab: &Lab, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(&lab.inventory).unwrap();
    for (from, to) in edits {
        assert_eq!(
            text.matches(from).count(),
            1,
            "{from:?} once in the lab's inventory:\n{text}"
        );
        text = text.replace(from, to);
    }
    let path = lab.dir.join(format!("inventory-{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// An executable script in the lab's directory (the office sees the same file system),
/// standing in for the office's moveday.
fn script(lab: &Lab, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = lab.dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

/// `error` of the office's run, when it gave no view.
fn office_error(json: &Value) -> Option<&str> {
    let v = office(json);
    (v["ok"] == false).then(|| v["error"].as_str()).flatten()
}

fn office(json: &Value) -> &Value {
    let v = &json["vantages"][0];
    assert_eq!(v["name"], "office", "vantages[0] is the office: {json:#}");
    v
}

/// Host `name` as the office saw it.
fn from_office<'a>(json: &'a Value, name: &str) -> Option<&'a Value> {
    office(json)["hosts"]
        .as_array()?
        .iter()
        .find(|h| h["name"] == name)
}

fn log_run(json: &Value, when: &str, code: Option<i32>, took: Duration) {
    let v = office(json);
    eprintln!(
        "--- check --json {when}: exit {code:?} in {took:.1?}; office ok {} took_ms {} error {} hosts_file {}",
        v["ok"], v["took_ms"], v["error"], v["hosts_file"]
    );
    for name in ["vbox", "drawable"] {
        eprintln!("    here:        {}", summary(host(json, name)));
        if let Some(h) = from_office(json, name) {
            eprintln!("    from office: {}", summary(h));
        }
    }
}

#[test]
#[ignore = "needs root and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_office_sees_vbox_up_where_the_laptop_sees_it_down_and_its_failures_are_in_words() {
    let started = Instant::now();
    let lab = office_lab();
    let mut f = Findings::default();

    // ------------------------------------------------------------ the office's view
    // One check asks the office once; a bounded number of runs, should the lab's daemons
    // still be settling.
    let deadline = Instant::now() + Duration::from_secs(40);
    let (code, json, took) = loop {
        let (code, json, took) = check(&lab, &lab.inventory);
        let settled = office(&json)["ok"] == true
            && host(&json, "vbox")["health"] == "down"
            && from_office(&json, "vbox").is_some_and(|h| h["health"] == "up");
        if settled || Instant::now() > deadline {
            break (code, json, took);
        }
        log_run(&json, "(not settled yet)", code, took);
        std::thread::sleep(Duration::from_millis(500));
    };
    log_run(&json, "with the office", code, took);
    let v = office(&json);
    f.expect(
        v["ok"] == true && v["error"].is_null(),
        "the office answered with its view",
        format!("{v:#}"),
    );
    f.expect(
        v["hosts_file"] == "/etc/hosts",
        "the office used its own /etc/hosts",
        &v["hosts_file"],
    );
    f.expect(
        v["ssh"] == "root@100.64.7.10",
        "the office is asked at its own address on its own subnet",
        &v["ssh"],
    );
    let took_ms = v["took_ms"].as_f64().unwrap_or(f64::NAN);
    eprintln!("--- one run of the office took {took_ms} ms (its every: {EVERY:?})");
    f.expect(
        took_ms > 0.0 && took_ms < EVERY.as_secs_f64() * 1000.0,
        "the office's run took less than its every",
        took_ms,
    );

    let vbox = host(&json, "vbox");
    f.expect(
        vbox["health"] == "down" && vbox["target"] == VBOX_OLD,
        "vbox is down here, at the old address the laptop's hosts file pins",
        format!("{vbox:#}"),
    );
    f.expect(
        reasons(vbox).iter().any(|r| r == OFFICE_REASON),
        &format!("vbox's reasons say {OFFICE_REASON:?}"),
        format!("{:#}", vbox["reasons"]),
    );
    let vbox_there = from_office(&json, "vbox");
    f.expect(
        vbox_there.is_some_and(|h| h["health"] == "up" && h["target"] == VBOX_NEW),
        "vbox is up from office, at its new address",
        format!("{vbox_there:#?}"),
    );
    // The office's resolver never cached drawable's old address; the laptop's did.
    let drawable_there = from_office(&json, "drawable");
    let office_system = drawable_there.and_then(|h| {
        h["dns"]
            .as_array()?
            .iter()
            .find(|c| c["resolver"] == "system")
    });
    f.expect(
        office_system.is_some_and(|c| c["verdict"] == "new" && c["server"] == "system"),
        "drawable at the office's own resolver: new",
        format!("{office_system:#?}"),
    );
    f.expect(
        dns(host(&json, "drawable"), "system")["verdict"] == "old",
        "drawable at the laptop's resolver: still old (cached)",
        format!("{:#}", dns(host(&json, "drawable"), "system")),
    );
    // No false alarm: the other hosts are up here, and nobody is "only this laptop".
    for h in json["hosts"].as_array().unwrap() {
        let rs = reasons(h);
        f.expect(
            !rs.iter().any(|r| r.starts_with("only this laptop")),
            &format!("{} is not reached by this laptop only", h["name"]),
            format!("{rs:?}"),
        );
        if h["name"] != "vbox" {
            f.expect(
                !rs.iter().any(|r| r.starts_with("up from")),
                &format!("{} has no \"up from\" reason (it is up here)", h["name"]),
                format!("{rs:?}"),
            );
        }
    }

    // ------------------------------------------------------------ a key the office refuses
    let key = lab.dir.join("keys/office");
    let badkey = variant(
        &lab,
        "badkey",
        &[(
            &format!("\"{}\"]", key.display()),
            &format!("\"{}-unknown\"]", key.display()),
        )],
    );
    let (code, json, took) = check(&lab, &badkey);
    log_run(&json, "with keys/office-unknown", code, took);
    let v = office(&json);
    let error = v["error"].as_str().unwrap_or_default();
    f.expect(
        v["ok"] == false && error.contains("authentication refused"),
        "a key the office does not know: \"authentication refused\"",
        format!("{v:#}"),
    );
    f.expect(
        v["took_ms"].as_f64().is_some_and(|ms| ms < 5000.0),
        "BatchMode fails fast on a refused key (under 5 s)",
        &v["took_ms"],
    );
    f.expect(
        !reasons(host(&json, "vbox"))
            .iter()
            .any(|r| r.starts_with("up from")),
        "without the office's view, vbox has no \"up from\" reason",
        format!("{:#}", host(&json, "vbox")["reasons"]),
    );

    // ------------------------------------------------------------ no moveday on the office
    let our_moveday = format!("moveday = \"{}\"", env!("CARGO_BIN_EXE_moveday"));
    let missing = variant(&lab, "missing", &[(&our_moveday, "moveday = \"moveday\"")]);
    let (code, json, took) = check(&lab, &missing);
    log_run(&json, "with moveday = \"moveday\"", code, took);
    let v = office(&json);
    f.expect(
        v["ok"] == false
            && v["error"]
                .as_str()
                .is_some_and(|e| e.contains("moveday not found on office")),
        "no moveday on the office's PATH: \"moveday not found on office\" (is a moveday \
         installed on root's PATH here?)",
        format!("{v:#}"),
    );

    // ------------------------------------------------------------ its host key unknown
    let known = lab.dir.join("known_hosts");
    let empty = lab.dir.join("known_hosts-empty");
    std::fs::write(&empty, "").unwrap();
    let unknown_host = variant(
        &lab,
        "hostkey",
        &[(
            &format!("UserKnownHostsFile={}", known.display()),
            &format!("UserKnownHostsFile={}", empty.display()),
        )],
    );
    let (code, json, took) = check(&lab, &unknown_host);
    log_run(&json, "with an empty known_hosts", code, took);
    f.expect(
        office_error(&json).is_some_and(|e| e.starts_with("host key of office unknown")),
        "an office whose host key is not known: \"host key of office unknown …\"",
        format!("{:#}", office(&json)),
    );

    // ------------------------------------------------------------ too slow, another schema
    let slow = script(&lab, "slow-moveday", "exec sleep 30");
    let slow = variant(
        &lab,
        "slow",
        &[
            (&our_moveday, &format!("moveday = \"{slow}\"")),
            ("every = \"10s\"", "every = \"5s\""),
        ],
    );
    let (code, json, took) = check(&lab, &slow);
    log_run(
        &json,
        "with a moveday that never answers (every 5s)",
        code,
        took,
    );
    let v = office(&json);
    f.expect(
        office_error(&json)
            == Some("no answer within 5s (every): the remote check or the connection is too slow"),
        "a remote that never answers: too slow, after its every",
        format!("{v:#}"),
    );
    f.expect(
        v["took_ms"]
            .as_f64()
            .is_some_and(|ms| (5000.0..5000.0 + 3000.0).contains(&ms)),
        "the slow run was given up at its every (5 s), not much later",
        &v["took_ms"],
    );
    let other = script(
        &lab,
        "other-moveday",
        "cat >/dev/null; echo '{\"schema\": 999, \"hosts\": []}'",
    );
    let other = variant(
        &lab,
        "schema",
        &[(&our_moveday, &format!("moveday = \"{other}\""))],
    );
    let (code, json, took) = check(&lab, &other);
    log_run(&json, "with a moveday of another schema", code, took);
    f.expect(
        office_error(&json).is_some_and(|e| e.contains("writes JSON schema 999")),
        "a remote of another schema: said so",
        format!("{:#}", office(&json)),
    );

    // ------------------------------------------------------------ nothing left
    let (prefix, dir) = (lab.prefix.clone(), lab.dir.clone());
    let ended = lab.close();
    f.expect(
        ended.code == Some(0),
        "lab.sh tore down (exit 0)",
        &ended.stderr,
    );
    let left = crate::lab::leftovers(&prefix, &dir);
    f.expect(
        left.is_empty(),
        "nothing of the lab is left: the office's namespace, /etc/netns, sshd, named",
        format!("{left:#?}"),
    );
    f.finish("lab_vantage");
    eprintln!("lab vantage test done in {:.1?}", started.elapsed());
}

/// The grid row of `host`: `<symbol> <health> <host> ...`.
fn row<'a>(screen: &'a str, host: &str) -> Option<&'a str> {
    screen.lines().find(|line| {
        let mut words = line.split_whitespace();
        matches!(words.next(), Some("●" | "◐" | "✖" | "?"))
            && words.next().is_some()
            && words.next() == Some(host)
    })
}

/// The text of `line` from character `at` on, `width` characters.
fn cell(line: &str, at: usize, width: usize) -> String {
    line.chars().skip(at).take(width).collect()
}

/// The grid's header row (with `Host`) has an `office` column, vbox's own health says down
/// and its cell under `office` says up (`● up`).
fn office_column_says_up(screen: &str) -> bool {
    let Some(header) = screen.lines().find(|l| {
        l.split('│').next().is_some_and(|grid| {
            let words: Vec<&str> = grid.split_whitespace().collect();
            words.contains(&"Host") && words.contains(&"office")
        })
    }) else {
        return false;
    };
    let grid = header.split('│').next().unwrap_or(header);
    let at = grid[..grid.find("office").unwrap()].chars().count();
    row(screen, "vbox").is_some_and(|r| {
        r.split('│').next().unwrap_or(r).contains("✖ down") && {
            let c = cell(r, at, "office".len() + 2);
            c.contains('●') && c.contains("up")
        }
    })
}

#[test]
#[ignore = "needs root, tmux and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_grid_has_an_office_column_that_says_up_where_vbox_is_down_here() {
    tmux::require();
    let lab = office_lab();
    let command = format!(
        "sh -c '{} --inventory {}; echo EXIT=$?; sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        lab.inventory.display(),
    );
    let tmux = Tmux::start_via(
        lab.on_laptop(&[]),
        &format!("{}-tui", lab.prefix),
        &command,
        (200, 40),
    );
    // The office is asked at start, then every EVERY; vbox goes down here after
    // fail_after probes of 1 s.
    let (screen, took) = tmux.wait_for_timed(
        "the office column: vbox up there, down here",
        EVERY + Duration::from_secs(20),
        office_column_says_up,
    );
    eprintln!("--- the grid after {took:.1?}:\n{screen}");
    // vbox's detail: what the office saw, and why vbox looks dead here.
    for _ in 0..3 {
        tmux.key("j");
    }
    let screen = tmux.wait_for(
        "vbox's detail, seen from office",
        Duration::from_secs(5),
        |s| {
            s.contains("vbox · vbox.example.org")
                && s.lines().any(|l| {
                    l.starts_with("Seen") && l.contains("from office ● up") && l.contains(VBOX_NEW)
                })
                && s.contains("up from office")
        },
    );
    let detail: Vec<&str> = screen
        .lines()
        .filter(|l| l.starts_with("Health") || l.starts_with("Seen") || l.starts_with("Target"))
        .map(|l| l.split('│').next().unwrap_or(l).trim_end())
        .collect();
    eprintln!("--- vbox's detail:\n{}", detail.join("\n"));
    tmux.key("q");
    tmux.wait_for_timed("moveday exits", Duration::from_secs(5), |s| {
        s.contains("EXIT=0")
    });
}
