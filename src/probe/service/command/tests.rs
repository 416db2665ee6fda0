use std::time::Duration;

use super::*;
use crate::config::service::BodyMatch;

fn service(check: CommandCheck) -> CommandService {
    CommandService {
        run: "postqueue -j | wc -l".into(),
        ssh: None,
        ssh_options: Vec::new(),
        check,
        every: None,
    }
}

fn output(status: i32, stdout: &str, stderr: &str) -> SshOutput {
    SshOutput {
        status: Some(status),
        stdout: stdout.as_bytes().to_vec(),
        truncated: false,
        stderr: stderr.into(),
        took: Duration::from_millis(40),
    }
}

fn number(min: Option<f64>, max: Option<f64>) -> CommandCheck {
    CommandCheck::Number { min, max }
}

#[test]
fn a_number_above_max_is_degraded_with_the_number() {
    let c = service(number(None, Some(1000.0)));
    let r = judge(&c, &output(0, "  1203\n", ""), "mail");
    assert_eq!(r.state, ServiceState::Warn);
    assert_eq!(r.error.as_deref(), Some("1203 above max 1000"));
    assert_eq!(r.detail, "exit 0 · 1 line · 1203");
    let run = r.command.unwrap();
    assert_eq!(
        (run.exit_status, run.lines, run.output.as_str()),
        (Some(0), 1, "  1203")
    );

    let ok = judge(&c, &output(0, "37\n", ""), "mail");
    assert_eq!((ok.state, ok.error), (ServiceState::Ok, None));
    let low = judge(
        &service(number(Some(0.5), None)),
        &output(0, "0.25 load\n", ""),
        "m",
    );
    assert_eq!(low.error.as_deref(), Some("0.25 below min 0.5"));
    let text = judge(&c, &output(0, "postqueue: fatal\n", ""), "mail");
    assert_eq!(text.state, ServiceState::Fail);
    assert_eq!(
        text.error.as_deref(),
        Some("not a number on the first line: postqueue: fatal")
    );
}

#[test]
fn expect_empty_with_output_fails_showing_the_first_lines() {
    let c = service(CommandCheck::Empty);
    let files: String = (1..=7).map(|i| format!("/etc/app{i}.conf\n")).collect();
    let r = judge(&c, &output(0, &files, ""), "www");
    assert_eq!(r.state, ServiceState::Fail);
    assert_eq!(
        r.error.as_deref(),
        Some(
            "output not empty (7 lines): /etc/app1.conf, /etc/app2.conf, /etc/app3.conf, \
             /etc/app4.conf, /etc/app5.conf (and 2 more)"
        )
    );
    assert_eq!(r.detail, "exit 0 · 7 lines");
    // grep's exit 1 is "nothing found": a pass.
    let clean = judge(&c, &output(1, "", ""), "www");
    assert_eq!(
        (clean.state, clean.detail.as_str()),
        (ServiceState::Ok, "exit 1 · no output")
    );
    // ...but an error on stderr is not.
    let denied = judge(
        &c,
        &output(2, "", "grep: /etc/shadow: Permission denied\n"),
        "www",
    );
    assert_eq!(
        denied.error.as_deref(),
        Some("exit 2: grep: /etc/shadow: Permission denied")
    );
}

#[test]
fn expect_and_the_exit_status() {
    let c = service(CommandCheck::Expect(BodyMatch::Substring("active".into())));
    assert_eq!(
        judge(&c, &output(0, "active\n", ""), "h").state,
        ServiceState::Ok
    );
    let r = judge(&c, &output(3, "inactive?\nfailed\n", ""), "h");
    assert_eq!(
        r.state,
        ServiceState::Ok,
        "inactive holds active: a substring"
    );
    let r = judge(&c, &output(0, "failed\n", ""), "h");
    assert_eq!(r.error.as_deref(), Some("output lacks \"active\": failed"));

    let plain = service(CommandCheck::ExitStatus);
    assert_eq!(
        judge(&plain, &output(0, "", ""), "h").state,
        ServiceState::Ok
    );
    let r = judge(&plain, &output(1, "", ""), "h");
    assert_eq!(
        (r.state, r.error.as_deref()),
        (ServiceState::Fail, Some("exit 1"))
    );
}

#[test]
fn ssh_failures_are_words() {
    let c = service(CommandCheck::ExitStatus);
    let refused = judge(
        &c,
        &output(255, "", "root@mail: Permission denied (publickey).\n"),
        "root@mail.example.org",
    );
    assert_eq!(
        refused.error.as_deref(),
        Some("authentication refused by root@mail.example.org (BatchMode: no key was accepted)")
    );
    let missing = judge(
        &c,
        &output(127, "", "bash: line 1: postqueue: command not found\n"),
        "mail.example.org",
    );
    assert_eq!(
        missing.error.as_deref(),
        Some("postqueue not found on mail.example.org")
    );
}

#[test]
fn output_is_sanitized_and_a_flood_is_said() {
    let c = service(CommandCheck::Empty);
    let mut out = output(0, "/etc/\x1b[31mevil\u{202e}\n", "");
    let r = judge(&c, &out, "h");
    let error = r.error.unwrap();
    assert!(
        !error.contains('\x1b') && !error.contains('\u{202e}'),
        "{error}"
    );
    out.stdout = "x\n".repeat(OUTPUT_CAP / 2).into_bytes();
    out.truncated = true;
    out.status = None;
    let r = judge(&c, &out, "h");
    assert_eq!(
        r.detail,
        format!("cut · {} lines, more than 64 KiB", OUTPUT_CAP / 2)
    );
    let run = r.command.unwrap();
    assert!(run.truncated && run.output.chars().count() <= SHOWN_CHARS + 1);
}

#[test]
fn the_limit_is_every_up_to_a_minute() {
    let mut c = service(CommandCheck::ExitStatus);
    let timeout = Duration::from_secs(3);
    assert_eq!(run_limit(&c, timeout), timeout);
    c.every = Some(Duration::from_secs(20));
    assert_eq!(run_limit(&c, timeout), Duration::from_secs(20));
    c.every = Some(Duration::from_secs(3600));
    assert_eq!(run_limit(&c, timeout), MAX_RUN);
}
