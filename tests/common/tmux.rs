//! A tmux server of a test's own (its own socket), to run the real binary in a real
//! terminal, read the screen with `capture-pane` as a user would, and type with `send-keys`.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SESSION: AtomicUsize = AtomicUsize::new(0);

/// A tmux server with one session `t`, killed on drop.
pub struct Tmux {
    socket: String,
}

/// Fails the test unless tmux can be run. The tests that use it are `#[ignore = "needs
/// tmux"]`: this runs only when they are asked for, and then a missing tmux is a failure.
pub fn require() {
    if let Err(e) = Command::new("tmux").arg("-V").output() {
        panic!("this test needs tmux, which cannot be run here ({e}): apt-get install tmux");
    }
}

/// A socket name no other test (or test process) uses.
pub fn unique_name(what: &str) -> String {
    format!(
        "moveday-{what}-{}-{}",
        std::process::id(),
        SESSION.fetch_add(1, Ordering::SeqCst)
    )
}

/// `$TMPDIR/moveday-tests-PID/state`: the state home of every dashboard this test run
/// starts in tmux (shared, as a user's home would be, by the instances of one test).
pub fn test_state_home() -> std::path::PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("moveday-tests-{}", std::process::id()))
        .join("state");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

impl Tmux {
    /// Starts `command` in a detached session of `w`×`h`, with `env` set; fails the test
    /// when tmux is missing.
    pub fn start(command: &str, env: &[(&str, &str)], (w, h): (u16, u16)) -> Tmux {
        require();
        let tmux = Tmux {
            socket: unique_name("test"),
        };
        let (w, h) = (w.to_string(), h.to_string());
        let mut args = vec!["new-session", "-d", "-x", &w, "-y", &h, "-s", "t"];
        let mut env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // The dashboard's default state file and journal go under XDG_STATE_HOME: a
        // directory of this test run's, never the home of whoever runs the tests.
        if !env.iter().any(|e| e.starts_with("XDG_STATE_HOME=")) {
            env.push(format!("XDG_STATE_HOME={}", test_state_home().display()));
        }
        for e in &env {
            args.extend(["-e", e.as_str()]);
        }
        args.push(command);
        tmux.run(&args);
        tmux
    }

    /// Starts the server through `launcher` (say `ip netns exec laptop`), which is given
    /// `tmux -L socket -f /dev/null new-session ...`. The server is then reached by its
    /// socket from anywhere.
    pub fn start_via(launcher: Command, socket: &str, command: &str, (w, h): (u16, u16)) -> Tmux {
        let mut launcher = launcher;
        let tmux = Tmux {
            socket: socket.to_string(),
        };
        let (w, h) = (w.to_string(), h.to_string());
        let out = launcher
            .args(["tmux", "-L", socket, "-f", "/dev/null"])
            .args(["new-session", "-d", "-x", &w, "-y", &h, "-s", "t", command])
            .output()
            .expect("start tmux");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    /// A tmux command; its standard output.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    pub fn screen_with_escapes(&self) -> String {
        self.run(&["capture-pane", "-p", "-e", "-t", "t"])
    }

    /// Several keys in one send-keys.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend(keys);
        self.run(&args);
    }

    /// One key, then a pause. Escape gets a longer one: if the program reads it together
    /// with the next key (a busy machine), the two are Alt+key, as in any terminal.
    pub fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "t", key]);
        let pause = if key == "Escape" { 400 } else { 100 };
        std::thread::sleep(Duration::from_millis(pause));
    }

    /// Text typed literally (`send-keys -l`).
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Waits until the screen satisfies `ok`, or panics with the last screen.
    pub fn wait_for(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        self.wait_for_timed(what, timeout, ok).0
    }

    /// Like [`Tmux::wait_for`], also saying how long it took.
    pub fn wait_for_timed(
        &self,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> (String, Duration) {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return (screen, start.elapsed());
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of moveday inside the pane (the child of the pane's shell).
    pub fn moveday_pid(&self) -> u32 {
        let shell = self.run(&["list-panes", "-t", "t", "-F", "#{pane_pid}"]);
        let shell = shell.trim();
        let start = Instant::now();
        loop {
            let out = Command::new("pgrep")
                .args(["-P", shell])
                .output()
                .expect("pgrep");
            if let Some(pid) = String::from_utf8_lossy(&out.stdout).lines().next() {
                return pid.trim().parse().unwrap();
            }
            assert!(
                start.elapsed() < super::in_time(Duration::from_secs(2)),
                "moveday did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}
