//! What a packager takes from the binary: shell completions and the manual page, both
//! generated from the clap definitions that parse the arguments.

use std::process::{Command, Output};

fn moveday(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(args)
        .output()
        .expect("run moveday")
}

fn ok_stdout(args: &[&str]) -> String {
    let o = moveday(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "moveday {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8 output")
}

const SUBCOMMANDS: &[&str] = &[
    "check",
    "dns",
    "validate",
    "demo",
    "checklist",
    "tick",
    "report",
    "notify-test",
    "completions",
    "man",
];

const GLOBAL_FLAGS: &[&str] = &[
    "inventory",
    "theme",
    "state",
    "who",
    "journal",
    "bell",
    "trace-frames",
];

#[test]
fn completions_name_every_subcommand_and_global_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = ok_stdout(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell}: no subcommand {sub}");
        }
        for flag in GLOBAL_FLAGS {
            assert!(script.contains(flag), "{shell}: no --{flag}");
        }
        // A subcommand's own flag too, not only the top level's.
        assert!(script.contains("note-only"), "{shell}: no tick --note-only");
    }
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let o = moveday(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bash") && err.contains("fish"), "{err}");
}

/// The bash script, sourced in a real bash, completes `moveday ch` and `moveday tick --no`.
#[test]
fn bash_completion_completes() {
    let script = ok_stdout(&["completions", "bash"]);
    let complete = |words: &str| {
        let program = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _moveday moveday \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let o = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .output()
            .expect("bash runs (it is the project's CI shell)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut words: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        words.sort();
        words
    };
    assert_eq!(complete("moveday ch"), ["check", "checklist"]);
    assert_eq!(complete("moveday tick --no"), ["--note", "--note-only"]);
    assert_eq!(complete("moveday completions f"), ["fish"]);
}

#[test]
fn man_page_has_name_synopsis_and_the_subcommands() {
    let page = ok_stdout(&["man"]);
    assert!(page.contains(".TH moveday 1"), "{page}");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "SUBCOMMANDS",
        "EXAMPLES",
    ] {
        assert!(page.contains(&format!(".SH {section}")), "no {section}");
    }
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("moveday\\-{}(1)", sub.replace('-', "\\-"))),
            "no moveday-{sub}(1)"
        );
    }
    for flag in GLOBAL_FLAGS {
        assert!(
            page.contains(&format!("\\fB\\-\\-{}\\fR", flag.replace('-', "\\-"))),
            "no --{flag}"
        );
    }
    // The examples keep their columns: they are not filled.
    assert!(page.contains(".nf\n"), "examples not in no-fill mode");
    // No help subcommand: there is no page for it to point at.
    assert!(!page.contains("moveday\\-help"));
    groff_is_quiet(&page);
}

/// groff with all warnings on reads the page without a complaint (where groff is installed;
/// the checks above hold either way).
fn groff_is_quiet(page: &str) {
    use std::io::Write as _;
    let Ok(mut child) = Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("note: groff is not installed: the page's roff was not linted");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stderr), "", "groff warns");
}

#[test]
fn man_dir_writes_a_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    ok_stdout(&["man", "--dir", dir.path().to_str().unwrap()]);
    let main = std::fs::read_to_string(dir.path().join("moveday.1")).unwrap();
    assert_eq!(
        main,
        ok_stdout(&["man"]),
        "moveday.1 is the page `man` prints"
    );
    for sub in SUBCOMMANDS {
        let page = std::fs::read_to_string(dir.path().join(format!("moveday-{sub}.1")))
            .unwrap_or_else(|e| panic!("moveday-{sub}.1: {e}"));
        assert!(page.contains(".SH SYNOPSIS"), "moveday-{sub}.1");
    }
    let tick = std::fs::read_to_string(dir.path().join("moveday-tick.1")).unwrap();
    assert!(tick.contains("\\-\\-note\\-only"), "{tick}");
}

#[test]
fn man_dir_that_does_not_exist_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let o = moveday(&["man", "--dir", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot write the manual pages into") && err.contains("no-such-dir"),
        "{err}"
    );
}
