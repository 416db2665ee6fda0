//! The real binary, run as a user would: `validate`, bad inventories, `check --json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn moveday(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("MOVEDAY_THEME")
        .output()
        .expect("run moveday")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every file in `tests/invalid_inventories/` with the message its `# expect:` line names.
fn invalid_cases() -> Vec<(PathBuf, String)> {
    let dir = Path::new("tests/invalid_inventories");
    let mut cases: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{} has no `# expect:` first line", p.display()))
                .to_string();
            (p, format!("{}/{expect}", dir.display()))
        })
        .collect();
    cases.sort();
    cases
}

#[test]
fn validate_accepts_the_shipped_inventory() {
    let o = moveday(&["validate", "inventory.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "inventory.toml: ok: \"example.org to the new datacenter\", 8 hosts, 3 resolvers, 2 zones, 2 zone servers asked as well, 20 checklist items\n"
    );
}

#[test]
fn invalid_inventories_exit_2_with_their_message() {
    let cases = invalid_cases();
    assert!(cases.len() >= 15, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (path, expected) in &cases {
        let path = path.to_str().unwrap();
        for args in [vec!["validate", path], vec!["check", "--inventory", path]] {
            let o = moveday(&args);
            let err = stderr(&o);
            let lines: Vec<&str> = err.lines().collect();
            let first = lines.first().copied().unwrap_or_default();
            if o.status.code() != Some(2) || first != format!("moveday: {expected}") {
                failures.push(format!(
                    "{args:?}: exit {:?}\n  expected moveday: {expected}\n  got      {first}",
                    o.status.code()
                ));
                continue;
            }
            // A value that may be a secret is never echoed, not even in the quoted line:
            // those cases (named `*secret*`) have the message alone.
            assert!(!err.contains("SECRET"), "{err}");
            if path.contains("secret") {
                assert_eq!(lines.len(), 1, "{err}");
                continue;
            }
            // The offending line is quoted with a caret under the reported column.
            let col: usize = expected.split(':').nth(2).unwrap().parse().unwrap();
            assert_eq!(lines.len(), 4, "{err}");
            let gutter = lines[3].find('|').unwrap() + 2;
            assert_eq!(lines[3].find('^').unwrap() - gutter + 1, col, "{err}");
            assert!(
                !err.contains("panicked") && !err.contains("backtrace"),
                "{err}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unreadable_inventory_is_a_clear_error() {
    let o = moveday(&["validate", "no/such/inventory.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("moveday: no/such/inventory.toml: cannot read inventory: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_theme_names_the_choices() {
    let o = moveday(&["--theme", "solarized", "--inventory", "inventory.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("solarized") && err.contains("dark") && err.contains("high-contrast"),
        "{err}"
    );
}

#[test]
fn dashboard_without_a_terminal_points_at_check() {
    let o = moveday(&["--inventory", "inventory.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("moveday check"), "{}", stderr(&o));
}

#[test]
fn help_reads_well() {
    let o = moveday(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for needle in [
        "check",
        "validate",
        "demo",
        "--inventory",
        "--theme",
        "Exit codes",
        "NO_COLOR",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
}

/// `moveday ARGS` with its standard output a pipe nobody reads: the reader is closed before
/// the command writes, as `{ sleep 0.3; moveday ...; } | true` has it.
fn moveday_into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("MOVEDAY_THEME")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run moveday")
}

/// A reader that went away stops the output quietly, as with `head`: no panic (exit 101),
/// and the exit code still says what the command did; for `tick`, that the tick is saved.
#[test]
fn a_closed_stdout_stops_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("move.toml");
    std::fs::write(dir.path().join("hosts"), "127.0.0.1 localhost\n").unwrap();
    std::fs::write(
        &inventory,
        "hosts_file = \"hosts\"\n[[checklist]]\nid = \"lower-ttl\"\ntext = \"Lower the TTLs\"\n",
    )
    .unwrap();
    let inventory = inventory.to_str().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let journal = journal.to_str().unwrap();
    let common = [
        "--inventory",
        inventory,
        "--state",
        state,
        "--journal",
        journal,
    ];
    let commands: [&[&str]; 8] = [
        &["validate", inventory],
        &["check"],
        &["check", "--json"],
        &["dns"],
        &["checklist"],
        &["checklist", "--json"],
        &["tick", "lower-ttl", "--who", "ann"],
        &["report"],
    ];
    for command in commands {
        let args: Vec<&str> = command.iter().chain(&common).copied().collect();
        let o = moveday_into_closed_pipe(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // The tick was saved, though nobody read the line that said so.
    let o = moveday(
        &["checklist", "--json"]
            .iter()
            .chain(&common)
            .copied()
            .collect::<Vec<_>>(),
    );
    assert!(stdout(&o).contains("\"state\": \"done\""), "{}", stdout(&o));
}

/// An error past column 65,536 (a generated one-line file) was a panic in the caret line;
/// the excerpt is now a window of the line around the column.
#[test]
fn an_error_on_a_very_long_line_is_located_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.toml");
    std::fs::write(&path, format!("{}\n", "a".repeat(65_536))).unwrap();
    let o = moveday(&["validate", path.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("f.toml:1:65537: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.len() < 500,
        "the excerpt is a window, not the line: {err}"
    );
}

/// `check --help` states how long `check` can take, as `check::time_limit` computes it.
#[test]
fn check_help_states_its_time_bound() {
    let o = moveday(&["check", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "fail_after × (2 × timeout + 1 s)",
        "6 s with the defaults",
        "20 × (2 × 60 s + 1 s)",
    ] {
        assert!(
            out.contains(needle),
            "check --help lacks {needle:?}:\n{out}"
        );
    }
}

/// An inventory that is not UTF-8 names the line and column of its first bad byte (it was
/// "stream did not contain valid UTF-8", no position).
#[test]
fn invalid_utf8_names_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[move]\nname = \"caf\xe9\"\n").unwrap();
    for args in [
        vec!["validate", path.to_str().unwrap()],
        vec!["check", "--inventory", path.to_str().unwrap()],
    ] {
        let o = moveday(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.ends_with(
                "latin1.toml:2:12: not UTF-8: byte 0xe9; the inventory must be UTF-8 text"
            ),
            "{err}"
        );
    }
}

/// The move's name is free text: `validate`'s "ok" line escapes ESC, BEL and C1 codes.
#[test]
fn validate_escapes_the_move_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        "[move]\nname = \"a\\u001b]0;pwned\\u0007b\\u009b31m\"\n",
    )
    .unwrap();
    let o = moveday(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    assert!(
        out.contains(r#": ok: "a\x1b]0;pwned\x07b\x9b31m", 0 hosts"#),
        "{out}"
    );
}
