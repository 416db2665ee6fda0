//! The real binary in a real terminal: `moveday demo` under tmux, read with `capture-pane`
//! as a user would see it, driven with `send-keys`, and stopped every way a terminal session
//! ends (q, SIGTERM, the pane being killed), with the terminal given back each time.
//!
//! Needs tmux; skipped (with a message) when it is missing, except under `CI=true`.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SESSION: AtomicUsize = AtomicUsize::new(0);

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a detached 100×30 session, or `None` when tmux is unavailable.
    fn start(command: &str, env: &[(&str, &str)]) -> Option<Tmux> {
        Tmux::start_sized(command, env, (100, 30))
    }

    fn start_sized(command: &str, env: &[(&str, &str)], (w, h): (u16, u16)) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "tmux is required under CI (apt-get install tmux)"
            );
            eprintln!("skipping: tmux is not installed");
            return None;
        }
        let socket = format!(
            "moveday-test-{}-{}",
            std::process::id(),
            SESSION.fetch_add(1, Ordering::SeqCst)
        );
        let tmux = Tmux { socket };
        let (w, h) = (w.to_string(), h.to_string());
        let mut args = vec!["new-session", "-d", "-x", &w, "-y", &h, "-s", "t"];
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for e in &env {
            args.extend(["-e", e.as_str()]);
        }
        args.push(command);
        tmux.run(&args);
        Some(tmux)
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn screen_with_escapes(&self) -> String {
        self.run(&["capture-pane", "-p", "-e", "-t", "t"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend(keys);
        self.run(&args);
    }

    /// Waits until the screen satisfies `ok`, or panics with the last screen.
    fn wait_for(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of moveday inside the pane (the child of the pane's shell).
    fn moveday_pid(&self) -> u32 {
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
                start.elapsed() < Duration::from_secs(5),
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

fn demo_command() -> String {
    format!(
        "sh -c '{} --state {} demo; echo EXIT=$?; sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        scratch_state().display()
    )
}

/// A state file nobody else uses (the demo's default is the user's own record).
fn scratch_state() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("moveday-tmux-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!(
        "state-{}.json",
        SESSION.fetch_add(1, Ordering::SeqCst)
    ))
}

fn demo_as(who: &str, state: &std::path::Path) -> String {
    format!(
        "sh -c '{} --state {} --who {who} demo; echo EXIT=$?; sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        state.display()
    )
}

/// The first checklist item's line, once the pane shows it ticked by `who`.
fn wait_ticked(tmux: &Tmux, who: &str, timeout: Duration) -> String {
    tmux.wait_for(&format!("lower-ttl ticked by {who}"), timeout, |s| {
        s.lines()
            .any(|l| l.contains("[x] done") && l.contains("Lower the TTL") && l.contains(who))
    })
}

#[test]
fn a_tick_from_the_keyboard_survives_kill_9_and_reaches_a_second_instance() {
    let state = scratch_state();
    let Some(alice) = Tmux::start_sized(&demo_as("alice", &state), &[], (160, 40)) else {
        return;
    };
    let Some(bob) = Tmux::start_sized(&demo_as("bob", &state), &[], (160, 40)) else {
        return;
    };
    for t in [&alice, &bob] {
        t.wait_for("the checklist pane", Duration::from_secs(10), |s| {
            s.contains("Checklist") && s.contains("Lower the TTL")
        });
    }
    // Tab to the checklist (grid -> detail -> checklist), tick the first item.
    alice.keys(&["Tab", "Tab"]);
    alice.wait_for("checklist focus", Duration::from_secs(3), |s| {
        s.contains("[ ] open")
    });
    alice.keys(&["Space"]);
    wait_ticked(&alice, "alice", Duration::from_secs(3));
    // The other instance, on the same state file, sees it within two seconds.
    let started = Instant::now();
    wait_ticked(&bob, "alice", Duration::from_secs(3));
    assert!(started.elapsed() < Duration::from_secs(3));

    // kill -9 alice's moveday: nothing to clean up, nothing flushed at exit.
    let pid = alice.moveday_pid();
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    alice.wait_for("the shell after kill -9", Duration::from_secs(5), |s| {
        s.contains("EXIT=137")
    });
    drop(alice);
    let text = std::fs::read_to_string(&state).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["items"]["lower-ttl"]["tick"]["done"], true, "{text}");
    assert_eq!(json["items"]["lower-ttl"]["tick"]["who"], "alice", "{text}");

    // Come back: the tick is there, with who.
    let Some(again) = Tmux::start_sized(&demo_as("alice", &state), &[], (160, 40)) else {
        return;
    };
    wait_ticked(&again, "alice", Duration::from_secs(10));
    again.keys(&["q"]);
    again.wait_for("exit", Duration::from_secs(5), |s| s.contains("EXIT=0"));
    bob.keys(&["q"]);
    bob.wait_for("exit", Duration::from_secs(5), |s| s.contains("EXIT=0"));
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn demo_shows_the_move_and_quits_cleanly_on_q() {
    let Some(tmux) = Tmux::start(&demo_command(), &[]) else {
        return;
    };
    // The first picture: all eight hosts, the status bar, the stale hosts-file entry.
    let screen = tmux.wait_for("all eight hosts probed", Duration::from_secs(10), |s| {
        [
            "ns-master",
            "mail",
            "git",
            "vbox",
            "drawable",
            "www",
            "build",
            "jabber",
        ]
        .iter()
        .all(|h| s.contains(h))
            && s.contains("OLD IP")
    });
    assert!(
        screen.contains("demo: example.org to the new datacenter"),
        "{screen}"
    );
    // Hosts come back: ns-master is up within a few seconds of start.
    let screen = tmux.wait_for("ns-master up", Duration::from_secs(12), |s| {
        s.lines()
            .any(|l| l.contains("ns-master") && l.contains("● up"))
    });
    assert!(
        screen.contains("● 1 up") || screen.contains("● 2 up"),
        "{screen}"
    );

    tmux.keys(&["?"]);
    let screen = tmux.wait_for("the help overlay", Duration::from_secs(3), |s| {
        s.contains(" Help ")
    });
    assert!(
        screen.contains("quit") && screen.contains("probe"),
        "{screen}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("help closed", Duration::from_secs(3), |s| {
        !s.contains(" Help ")
    });

    // Select vbox (the fourth row) and see why it looks dead.
    tmux.keys(&["j", "j", "j"]);
    tmux.wait_for("vbox in the detail pane", Duration::from_secs(3), |s| {
        s.contains("vbox · vbox.example.org") && s.contains("line 3 points vbox.example.org at OLD")
    });

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("exit", Duration::from_secs(5), |s| s.contains("EXIT=0"));
    assert!(
        !screen.contains("Hosts (8)"),
        "the alternate screen was left:\n{screen}"
    );
}

#[test]
fn sigterm_and_a_killed_pane_end_moveday_and_restore_the_terminal() {
    let Some(tmux) = Tmux::start(&demo_command(), &[]) else {
        return;
    };
    tmux.wait_for("the grid", Duration::from_secs(10), |s| {
        s.contains("jabber")
    });
    let pid = tmux.moveday_pid();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let screen = tmux.wait_for("exit after SIGTERM", Duration::from_secs(5), |s| {
        s.contains("EXIT=0")
    });
    assert!(
        !screen.contains("jabber"),
        "the alternate screen was left:\n{screen}"
    );

    // SIGHUP: the pane (the terminal) goes away; moveday must not linger.
    let Some(tmux) = Tmux::start(&demo_command(), &[]) else {
        return;
    };
    tmux.wait_for("the grid", Duration::from_secs(10), |s| {
        s.contains("jabber")
    });
    let pid = tmux.moveday_pid();
    tmux.run(&["kill-pane", "-t", "t"]);
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "moveday {pid} survived its terminal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn no_color_draws_without_colours_but_keeps_words_and_symbols() {
    let Some(tmux) = Tmux::start(&demo_command(), &[("NO_COLOR", "1")]) else {
        return;
    };
    let screen = tmux.wait_for("the grid", Duration::from_secs(10), |s| {
        s.contains("OLD IP") && s.contains("✖ down")
    });
    assert!(screen.contains("⚠ old"), "{screen}");
    let raw = tmux.screen_with_escapes();
    // SGR colour parameters: 30-37/90-97 foreground, 40-47/100-107 background, 38;/48; extended.
    let coloured = raw.split("\x1b[").skip(1).any(|seq| {
        let params = seq.split('m').next().unwrap_or_default();
        params.split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=37 | 38 | 40..=47 | 48 | 90..=97 | 100..=107)
            )
        })
    });
    assert!(!coloured, "colour escapes under NO_COLOR:\n{raw:?}");
    tmux.keys(&["q"]);
    tmux.wait_for("exit", Duration::from_secs(5), |s| s.contains("EXIT=0"));
}
