//! Running the OpenSSH client: the one place moveday starts `ssh`, for vantage points and
//! for `kind = "command"` services alike.
//!
//! - argv only, never a shell on this side: `ssh -T -o BatchMode=yes -o ConnectTimeout=N
//!   [options] -- DESTINATION COMMAND...` (`BatchMode`: no password or passphrase prompt,
//!   so a refused key fails at once instead of waiting for a person);
//! - within a time limit, after which ssh is killed;
//! - output bounded (what is beyond the cap is not read, and said so), stderr kept short;
//! - a failure of ssh itself (exit 255) or of the remote command's lookup (exit 127) told
//!   apart in words: authentication refused, host key unknown, cannot connect, not found.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::sanitize::sanitize;

/// The client moveday runs (found on PATH).
pub const SSH_PROGRAM: &str = "ssh";

/// Bytes of stderr kept (ssh's own messages, the remote's errors).
const STDERR_CAP: usize = 16 * 1024;

/// One ssh invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshCommand {
    /// `[ssh] options`, then the vantage's or command's own.
    pub options: Vec<String>,
    pub destination: String,
    /// The remote command's words (ssh joins them with spaces for the remote shell).
    pub remote: Vec<String>,
    /// ssh's own `ConnectTimeout`, whole seconds, at least 1.
    pub connect_timeout: Duration,
}

impl SshCommand {
    /// The arguments after `ssh`.
    pub fn argv(&self) -> Vec<OsString> {
        let secs = self.connect_timeout.as_secs().max(1);
        let mut argv: Vec<OsString> = ["-T", "-o", "BatchMode=yes", "-o"]
            .into_iter()
            .map(OsString::from)
            .collect();
        argv.push(format!("ConnectTimeout={secs}").into());
        argv.extend(self.options.iter().map(OsString::from));
        // Nothing after `--` is an option, whatever the destination looks like.
        argv.push("--".into());
        argv.push(self.destination.clone().into());
        argv.extend(self.remote.iter().map(OsString::from));
        argv
    }
}

/// What a finished ssh said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOutput {
    /// The exit status (`None`: killed by a signal).
    pub status: Option<i32>,
    /// At most the cap given to [`run`].
    pub stdout: Vec<u8>,
    /// More was written than the cap.
    pub truncated: bool,
    /// Sanitized, at most 16 KiB read.
    pub stderr: String,
    pub took: Duration,
}

/// Why there is no [`SshOutput`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error("ssh not found: install the OpenSSH client")]
    NotFound,
    #[error("cannot run ssh: {0}")]
    Spawn(String),
    #[error("no answer in {}s", .0.as_secs())]
    Timeout(Duration),
}

/// A failure of ssh or of the remote command's lookup, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshFailure {
    /// The server refused every key (BatchMode asks for nothing else).
    AuthRefused,
    /// The server's host key is not known.
    HostKey,
    /// The server's host key is not the one known: maybe another machine in the middle.
    HostKeyChanged,
    /// No connection (refused, unreachable, a name that does not resolve), with ssh's line.
    Connect(String),
    /// The remote shell did not find the command (exit 127).
    NotFound,
}

impl SshFailure {
    /// The words shown: "authentication refused", "moveday not found on office".
    pub fn words(&self, program: &str, on: &str) -> String {
        match self {
            SshFailure::AuthRefused => {
                format!("authentication refused by {on} (BatchMode: no key was accepted)")
            }
            SshFailure::HostKey => format!(
                "host key of {on} unknown: connect once by hand, or give \
                 -o StrictHostKeyChecking=accept-new in [ssh] options"
            ),
            SshFailure::HostKeyChanged => format!(
                "host key of {on} CHANGED: check the new key another way before \
                 ssh-keygen -R (it may be another machine in the middle)"
            ),
            SshFailure::Connect(line) => format!("cannot connect to {on}: {line}"),
            SshFailure::NotFound => format!("{program} not found on {on}"),
        }
    }
}

/// How `output` failed, if it was ssh or the lookup of `program` (the remote command's
/// first word) that failed.
pub fn failure(output: &SshOutput, program: &str) -> Option<SshFailure> {
    let err = output.stderr.as_str();
    match output.status {
        Some(255) if err.contains("Permission denied") => Some(SshFailure::AuthRefused),
        Some(255) if err.contains("IDENTIFICATION HAS CHANGED") => Some(SshFailure::HostKeyChanged),
        Some(255) if err.contains("Host key verification failed") => Some(SshFailure::HostKey),
        Some(255) => Some(SshFailure::Connect(last_line(err))),
        // The remote shell's "not found": its exit 127, or its words about `program` when a
        // pipe hides the status (`postqueue -j | wc -l` exits 0). Another program's "command
        // not found" is the remote's login files talking (a .bashrc line), not the command.
        Some(127) => Some(SshFailure::NotFound),
        _ if names_missing(err, program) => Some(SshFailure::NotFound),
        _ => None,
    }
}

/// Whether a shell said `program` was not found (bash: `postqueue: command not found`;
/// dash: `postqueue: not found`).
fn names_missing(stderr: &str, program: &str) -> bool {
    let program = program.trim();
    !program.is_empty()
        && stderr.lines().any(|line| {
            line.contains(&format!("{program}: command not found"))
                || line.trim_end().ends_with(&format!("{program}: not found"))
        })
}

/// ssh's last non-empty line of stderr, short ("connection refused").
pub fn last_line(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("ssh failed without a message");
    sanitize(line, 200)
}

/// Runs `ssh` with `command`, `stdin` written to it (then closed), within `limit`; reads at
/// most `cap` bytes of stdout.
pub async fn run(
    command: &SshCommand,
    stdin: Option<&[u8]>,
    limit: Duration,
    cap: usize,
) -> Result<SshOutput, SshError> {
    run_program(SSH_PROGRAM.as_ref(), command, stdin, limit, cap).await
}

/// As [`run`], with another client (tests).
pub async fn run_program(
    program: &std::ffi::OsStr,
    command: &SshCommand,
    stdin: Option<&[u8]>,
    limit: Duration,
    cap: usize,
) -> Result<SshOutput, SshError> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(command.argv())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SshError::NotFound,
            _ => SshError::Spawn(sanitize(&e.to_string(), 200)),
        })?;
    let input = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let exchange = async {
        let feed = async {
            if let (Some(mut pipe), Some(bytes)) = (input, stdin) {
                // The remote may not read it all (a wrong command): that is its answer.
                let _ = pipe.write_all(bytes).await;
                let _ = pipe.shutdown().await;
            }
        };
        let child = &mut child;
        let out = async {
            let (bytes, truncated) = read_capped(stdout, cap).await;
            if truncated {
                // Past the cap nothing more is read: ssh is killed, not waited for (and
                // its stderr ends with it).
                let _ = child.start_kill();
            }
            (bytes, truncated)
        };
        let (_, (stdout, truncated), (stderr, _)) =
            futures::join!(feed, out, read_capped(stderr, STDERR_CAP));
        let status = match truncated {
            true => None,
            false => child.wait().await.ok().and_then(|s| s.code()),
        };
        (status, stdout, truncated, stderr)
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok((status, stdout, truncated, stderr)) => Ok(SshOutput {
            status,
            stdout,
            truncated,
            stderr: sanitize(&String::from_utf8_lossy(&stderr), STDERR_CAP),
            took: started.elapsed(),
        }),
        // Dropping the child kills it (kill_on_drop).
        Err(_) => Err(SshError::Timeout(limit)),
    }
}

/// Up to `cap` bytes of `pipe`, and whether there was more.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let Some(pipe) = pipe else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut limited = pipe.take(cap as u64 + 1);
    let _ = limited.read_to_end(&mut out).await;
    let truncated = out.len() > cap;
    out.truncate(cap);
    (out, truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> SshCommand {
        SshCommand {
            options: vec!["-i".into(), "~/.ssh/move".into()],
            destination: "admin@bastion.example.org".into(),
            remote: vec!["moveday".into(), "check".into()],
            connect_timeout: Duration::from_millis(2500),
        }
    }

    #[test]
    fn the_argv_is_batch_mode_options_then_the_destination_after_a_double_dash() {
        let argv: Vec<String> = command()
            .argv()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            argv,
            [
                "-T",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=2",
                "-i",
                "~/.ssh/move",
                "--",
                "admin@bastion.example.org",
                "moveday",
                "check"
            ]
        );
    }

    fn output(status: i32, stderr: &str) -> SshOutput {
        SshOutput {
            status: Some(status),
            stdout: Vec::new(),
            truncated: false,
            stderr: stderr.into(),
            took: Duration::ZERO,
        }
    }

    #[test]
    fn failures_are_told_apart() {
        let refused = output(255, "root@10.0.0.1: Permission denied (publickey).\r\n");
        assert_eq!(failure(&refused, "moveday"), Some(SshFailure::AuthRefused));
        let key = output(
            255,
            "No ED25519 host key is known for office and you have requested strict checking.\nHost key verification failed.\n",
        );
        assert_eq!(failure(&key, "moveday"), Some(SshFailure::HostKey));
        let down = output(
            255,
            "ssh: connect to host 10.0.0.1 port 22: Connection refused\n",
        );
        assert_eq!(
            failure(&down, "moveday"),
            Some(SshFailure::Connect(
                "ssh: connect to host 10.0.0.1 port 22: Connection refused".into()
            ))
        );
        let missing = output(127, "bash: line 1: moveday: command not found\n");
        assert_eq!(failure(&missing, "moveday"), Some(SshFailure::NotFound));
        // A noisy .bashrc on a run that worked is no failure.
        let noisy = output(0, ".bashrc: line 9: pyenv: command not found\n");
        assert_eq!(failure(&noisy, "moveday"), None);
        let changed = output(
            255,
            "@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n",
        );
        assert_eq!(
            failure(&changed, "moveday"),
            Some(SshFailure::HostKeyChanged)
        );
        assert_eq!(
            SshFailure::NotFound.words("moveday", "office"),
            "moveday not found on office"
        );
        assert_eq!(failure(&output(1, ""), "moveday"), None);
        // A pipe hides the missing program's exit 127; its shell's words do not.
        let piped = output(0, "bash: line 1: postqueue: command not found\n");
        assert_eq!(failure(&piped, "postqueue"), Some(SshFailure::NotFound));
        let dash = output(0, "sh: 1: postqueue: not found\n");
        assert_eq!(failure(&dash, "postqueue"), Some(SshFailure::NotFound));
    }

    #[tokio::test]
    async fn a_missing_client_a_slow_one_and_a_flood_are_values() {
        let missing = run_program(
            "/nonexistent/ssh".as_ref(),
            &command(),
            None,
            Duration::from_secs(1),
            10,
        )
        .await;
        assert_eq!(missing, Err(SshError::NotFound));

        // Stand-ins for ssh that take any argv: one outlives the limit, one floods.
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        let slow = script("slow", "sleep 5");
        let started = Instant::now();
        let out = run_program(
            slow.as_os_str(),
            &command(),
            None,
            Duration::from_millis(300),
            10,
        )
        .await;
        assert_eq!(out, Err(SshError::Timeout(Duration::from_millis(300))));
        assert!(started.elapsed() < Duration::from_secs(2));

        let flood = script("flood", "exec yes moveday");
        let started = Instant::now();
        let out = run_program(
            flood.as_os_str(),
            &command(),
            Some(b"inventory"),
            Duration::from_secs(5),
            64 * 1024,
        )
        .await
        .unwrap();
        assert!(out.truncated);
        assert_eq!(out.stdout.len(), 64 * 1024);
        assert_eq!(out.status, None, "killed, not waited for");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
