//! `command` service: a command run on the host itself, over SSH (`probe::ssh_run`, the one
//! place moveday starts ssh): the mail queue's length against `max`, the old-address sweep
//! (`grep -rIl 198.51.100. /etc` with `expect_empty`), anything a shell one-liner can tell.
//!
//! - The command goes to ssh as one argument after the destination: the *remote* shell
//!   runs it (pipes work there); nothing runs through a shell on this side.
//! - No stdin. At most [`OUTPUT_CAP`] bytes of output are read (a flood is cut, and ssh
//!   killed); everything shown is sanitized.
//! - A run may take longer than a probe (`postqueue` on a big queue): its limit is its
//!   `every`, at most [`MAX_RUN`]; within the probe timeout when it has no `every`.
//! - A failure of ssh (authentication refused, host key, no connection) or a command the
//!   remote shell did not find (exit 127) is said in words. A command that exits non-zero
//!   and says why on stderr failed, whatever the check; otherwise the check decides (so
//!   grep's exit 1, "nothing found", passes `expect_empty`).

use std::time::Duration;

use super::{CommandRun, ServiceResult, ServiceState};
use crate::config::service::{CommandCheck, CommandService};
use crate::probe::ssh_run::{self, SshCommand, SshError, SshOutput};
use crate::sanitize::sanitize;

/// Bytes of output read at most.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// The longest a run may take, whatever its `every`.
pub const MAX_RUN: Duration = Duration::from_secs(60);

/// Characters of output kept in [`CommandRun::output`] (JSON, the detail pane).
pub const SHOWN_CHARS: usize = 4096;

/// Lines of output quoted in an error (the sweep's first files).
const QUOTED_LINES: usize = 5;

/// How long one run of `c` may take: its `every` (at most [`MAX_RUN`]), or `timeout`
/// when it runs every round.
pub fn run_limit(c: &CommandService, timeout: Duration) -> Duration {
    c.every.map_or(timeout, |every| every.min(MAX_RUN))
}

/// Runs `c` on its host (`ssh`, or `fqdn`) with `global` (`[ssh] options`) then its own
/// options, and judges the output. `connect_timeout` is ssh's; the run ends by `limit`.
pub async fn probe(
    c: &CommandService,
    fqdn: &str,
    global: &[String],
    connect_timeout: Duration,
    limit: Duration,
) -> ServiceResult {
    let destination = c.ssh.clone().unwrap_or_else(|| fqdn.to_string());
    let command = SshCommand {
        options: global.iter().chain(&c.ssh_options).cloned().collect(),
        destination: destination.clone(),
        remote: vec![c.run.clone()],
        connect_timeout: connect_timeout.min(limit),
    };
    match ssh_run::run(&command, None, limit, OUTPUT_CAP).await {
        Ok(out) => judge(c, &out, &destination),
        Err(SshError::Timeout(t)) => ServiceResult::fail(
            format!(
                "timeout: {} still running after {}",
                program(&c.run),
                super::span(t)
            ),
            "killed",
            t,
        ),
        Err(e) => ServiceResult::fail(e.to_string(), "not run", Duration::ZERO),
    }
}

/// The command's first word, for "postqueue not found on mail.example.org".
fn program(run: &str) -> String {
    let word = run.split_whitespace().next().unwrap_or(run);
    sanitize(word, 40)
}

/// What `out` (a finished ssh) says about `c`, run on `on`.
pub fn judge(c: &CommandService, out: &SshOutput, on: &str) -> ServiceResult {
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| sanitize(l.trim_end(), 200))
        .collect();
    let run = CommandRun {
        exit_status: out.status,
        output: shown(&lines),
        lines: lines.len(),
        truncated: out.truncated,
    };
    let exit = match out.status {
        Some(s) => format!("exit {s}"),
        None if out.truncated => "cut".to_string(),
        None => "killed".to_string(),
    };
    let size = match (lines.len(), out.truncated) {
        (_, true) => format!("{} lines, more than {} KiB", lines.len(), OUTPUT_CAP / 1024),
        (0, false) => "no output".to_string(),
        (1, false) => "1 line".to_string(),
        (n, false) => format!("{n} lines"),
    };
    let mut detail = format!("{exit} · {size}");
    let verdict = match ssh_run::failure(out, &program(&c.run)) {
        Some(f) => Err(f.words(&program(&c.run), on)),
        // Exited non-zero and said why: the command did not do its work.
        None if out.status.is_some_and(|s| s != 0) && !out.stderr.trim().is_empty() => {
            Err(format!("{exit}: {}", ssh_run::last_line(&out.stderr)))
        }
        None => check(&c.check, out.status, &lines, &mut detail),
    };
    let (state, error) = match verdict {
        Ok(None) => (ServiceState::Ok, None),
        Ok(Some(degraded)) => (ServiceState::Warn, Some(degraded)),
        Err(why) => (ServiceState::Fail, Some(why)),
    };
    ServiceResult {
        state,
        detail,
        error,
        latency: out.took,
        age: None,
        cert: None,
        smtp_names: None,
        command: Some(Box::new(run)),
    }
}

/// The check itself: `Ok(None)` ok, `Ok(Some(why))` degraded (a number out of range),
/// `Err(why)` failed. A number read is added to `detail`.
fn check(
    check: &CommandCheck,
    status: Option<i32>,
    lines: &[String],
    detail: &mut String,
) -> Result<Option<String>, String> {
    match check {
        CommandCheck::ExitStatus => match status {
            Some(0) => Ok(None),
            Some(s) => Err(format!("exit {s}")),
            None => Err("killed before it exited".into()),
        },
        CommandCheck::Expect(m) => {
            let whole = lines.join("\n");
            if m.is_match(&whole) {
                Ok(None)
            } else if lines.is_empty() {
                Err(format!(
                    "output lacks {}: no output",
                    sanitize(&m.to_string(), 80)
                ))
            } else {
                Err(format!(
                    "output lacks {}: {}",
                    sanitize(&m.to_string(), 80),
                    quoted(lines)
                ))
            }
        }
        CommandCheck::Empty if lines.is_empty() => Ok(None),
        CommandCheck::Empty => Err(format!(
            "output not empty ({} line{}): {}",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" },
            quoted(lines)
        )),
        CommandCheck::Number { min, max } => {
            let first = lines.first().map_or("", String::as_str);
            let Some(n) = number(first) else {
                return Err(match first {
                    "" => "no output: expected a number".to_string(),
                    line => format!("not a number on the first line: {}", sanitize(line, 80)),
                });
            };
            detail.push_str(&format!(" · {}", fmt_number(n)));
            if let Some(hi) = max.filter(|hi| n > *hi) {
                return Ok(Some(format!(
                    "{} above max {}",
                    fmt_number(n),
                    fmt_number(hi)
                )));
            }
            if let Some(lo) = min.filter(|lo| n < *lo) {
                return Ok(Some(format!(
                    "{} below min {}",
                    fmt_number(n),
                    fmt_number(lo)
                )));
            }
            Ok(None)
        }
    }
}

/// The number a line starts with (`37`, `  1203 `, `0.75 load`, `-3`): its first word.
fn number(line: &str) -> Option<f64> {
    let word = line.split_whitespace().next()?;
    word.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// `1203`, `0.75`: no trailing `.0` for a whole number.
fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// The first lines, joined for one line of text: `/etc/a, /etc/b, … (12 more)`.
fn quoted(lines: &[String]) -> String {
    let mut text = lines
        .iter()
        .take(QUOTED_LINES)
        .map(|l| sanitize(l, 80))
        .collect::<Vec<_>>()
        .join(", ");
    if lines.len() > QUOTED_LINES {
        text.push_str(&format!(" (and {} more)", lines.len() - QUOTED_LINES));
    }
    text
}

/// The output kept for JSON and the detail pane: sanitized lines, at most [`SHOWN_CHARS`].
fn shown(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        if out.chars().count() + line.chars().count() + 1 > SHOWN_CHARS {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests;
