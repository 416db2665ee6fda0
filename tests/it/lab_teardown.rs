//! The lab (`tests/lab/lab.sh`) leaves nothing behind, however it ends: Ctrl-C (SIGINT to
//! its whole process group), SIGTERM, a setup that fails half-way with its daemons running,
//! and the process that started it killed with SIGKILL while the lab's stdin is still open
//! elsewhere. Nothing left means: no namespace with the lab's prefix, no /etc/netns entry,
//! no directory, no process whose command line names the lab's directory.
//!
//! Needs root and the lab's packages: ignored by a plain `cargo test`, run by
//! `cargo test -- --include-ignored`, where a machine without them fails these tests. They
//! may build their labs side by side, never beside a scenario test's (`lab::alone`).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab::{self, Lab};

/// Sends `signal` to `pid` (a process group when negative).
fn kill(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Waits for the lab's namespaces, files and processes to be gone.
fn assert_nothing_left(prefix: &str, dir: &std::path::Path, within: Duration) {
    let start = Instant::now();
    loop {
        let left = lab::leftovers(prefix, dir);
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{prefix} left behind after {within:?}: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs root and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn sigterm_tears_the_lab_down() {
    lab::require();
    let _beside = lab::beside_others();
    let mut lab = Lab::spawn(&[]).unwrap_or_else(|e| panic!("the lab did not come up: {e}"));
    assert_eq!(lab.namespaces().len(), 12);
    kill(lab.pid() as i32, libc::SIGTERM);
    let ended = lab.wait();
    assert_eq!(ended.code, Some(143), "{}", ended.stderr);
    assert!(ended.stderr.contains("torn down"), "{}", ended.stderr);
    assert_nothing_left(&lab.prefix, &lab.dir, Duration::from_secs(1));
}

#[test]
#[ignore = "needs root and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn ctrl_c_tears_the_lab_down() {
    lab::require();
    let _beside = lab::beside_others();
    // Its own process group, as a terminal's foreground job: Ctrl-C reaches the supervisor
    // and every daemon at once.
    let mut cmd = Command::new("bash");
    cmd.arg(lab::script()).arg("run").process_group(0);
    // A shell cannot trap a signal that was ignored when it started, and a job started
    // in the background of a non-interactive shell (`cmd &`, as CI runners and nohup do)
    // inherits SIGINT ignored: give the lab the disposition a terminal's job would have.
    // SAFETY: `signal` is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut lab = Lab::spawn_command(cmd).unwrap_or_else(|e| panic!("no lab: {e}"));
    kill(-(lab.pid() as i32), libc::SIGINT);
    let ended = lab.wait();
    assert_eq!(ended.code, Some(130), "{}", ended.stderr);
    assert_nothing_left(&lab.prefix, &lab.dir, Duration::from_secs(1));
}

#[test]
#[ignore = "needs root and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn a_setup_that_fails_half_way_leaves_nothing() {
    lab::require();
    let _beside = lab::beside_others();
    // After every daemon started and the zone moved: the most there is to clean up.
    let out = Command::new("bash")
        .arg(lab::script())
        .arg("run")
        .env("MDLAB_FAIL_AT", "daemons")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failing after 'daemons' on purpose"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no READY: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // "HH:MM:SS.mmm lab mdlabPID: building in DIR"
    let building = stderr
        .lines()
        .find(|l| l.contains(": building in "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let prefix = building
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(':');
    let dir = PathBuf::from(building.rsplit(' ').next().unwrap());
    assert!(prefix.starts_with("mdlab"), "{building}");
    assert_nothing_left(prefix, &dir, Duration::from_secs(1));
}

#[test]
#[ignore = "needs root and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn the_lab_goes_when_the_process_that_started_it_is_killed() {
    lab::require();
    let _beside = lab::beside_others();
    // A shell starts the lab (not with exec); the test keeps the lab's stdin open, as a
    // leaked pipe would. kill -9 the shell: the lab must notice that its parent is gone.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "bash \"$0\" run; :"]).arg(lab::script());
    let mut lab = Lab::spawn_command(cmd).unwrap_or_else(|e| panic!("no lab: {e}"));
    let shell = lab.pid() as i32;
    let supervisor: i32 = lab.prefix.trim_start_matches("mdlab").parse().unwrap();
    assert_ne!(shell, supervisor);
    kill(shell, libc::SIGKILL);
    lab.wait(); // the shell
    assert_nothing_left(&lab.prefix, &lab.dir, Duration::from_secs(10));
    let log = lab.stderr();
    assert!(log.contains("is gone"), "{log}");
    // Gone, or a zombie waiting for whoever adopted it. Its last steps (the "torn down"
    // line, the exit) come just after the namespaces go: on a loaded machine that is not
    // the same instant, so it gets a few seconds.
    let running = || {
        std::fs::read_to_string(format!("/proc/{supervisor}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !running(),
        "the supervisor {supervisor} is still running after 5 s"
    );
}
