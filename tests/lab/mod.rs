//! The lab of `tests/lab/lab.sh` from a test: a whole move of real servers (Debian's sshd,
//! nginx and BIND named in network namespaces), held by this process, with moveday run in
//! the lab's "laptop" namespace.
//!
//! The supervisor (`lab.sh run`) owns everything; a [`Lab`] holds its stdin. Dropping the
//! `Lab` closes it and waits for the teardown; if this process dies first (a panic that
//! aborts, SIGTERM, kill -9) the pipe closes all the same and the lab goes.
//!
//! The lab tests are `#[ignore = "needs root: ..."]`; when they are asked for, a machine
//! that cannot build a lab fails them with the reason ([`require`]).

#![allow(dead_code)] // each lab test uses its own part of this

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The lab's script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/lab.sh")
}

/// Fails the test unless a lab can be built here (`lab.sh check`: root, and the lab's
/// packages), with the script's reason.
pub fn require() {
    let out = Command::new("bash")
        .arg(script())
        .arg("check")
        .output()
        .expect("run bash");
    if !out.status.success() {
        panic!(
            "this test needs a lab, which cannot be built here: {} (lab.sh check, exit {:?})",
            String::from_utf8_lossy(&out.stderr).trim(),
            out.status.code()
        );
    }
}

/// Labs in this test process. The scenario tests ([`Lab::start`]) time what moveday sees
/// against the clock, so each has the lab to itself ([`alone`]), as it had when every test
/// file was a process of its own; the teardown tests may build theirs side by side
/// ([`beside_others`]).
static LABS: RwLock<()> = RwLock::new(());

/// No other lab runs while this is held.
pub fn alone() -> RwLockWriteGuard<'static, ()> {
    LABS.write().unwrap_or_else(|e| e.into_inner())
}

/// Other labs may run while this is held, but not one that is [`alone`].
pub fn beside_others() -> RwLockReadGuard<'static, ()> {
    LABS.read().unwrap_or_else(|e| e.into_inner())
}

/// A running lab. See the module documentation.
pub struct Lab {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// `mdlab<pid of the supervisor>`: the start of every name in the lab.
    pub prefix: String,
    /// The lab's directory (configs, keys, logs, pages, the inventory).
    pub dir: PathBuf,
    /// The namespace moveday runs in.
    pub laptop: String,
    /// The generated inventory (`tests/lab/templates/inventory.toml`).
    pub inventory: PathBuf,
    /// How long building the lab took.
    pub setup: Duration,
    /// Held while the lab runs, by the scenario tests ([`Lab::start`]).
    alone: Option<RwLockWriteGuard<'static, ()>>,
}

/// What a finished supervisor left: its exit status and its stderr.
pub struct Ended {
    pub code: Option<i32>,
    pub stderr: String,
}

impl Lab {
    /// Builds a lab for a scenario (environment `env` for the script, e.g.
    /// `MDLAB_INTERVAL`), the only lab of this process while it runs; fails the test when
    /// no lab can be built here.
    pub fn start(env: &[(&str, &str)]) -> Lab {
        require();
        let alone = alone();
        let mut lab = Lab::spawn(env).unwrap_or_else(|e| panic!("the lab did not come up: {e}"));
        lab.alone = Some(alone);
        lab
    }

    /// Starts `lab.sh run` and waits for its READY line; `Err` with its stderr otherwise.
    pub fn spawn(env: &[(&str, &str)]) -> Result<Lab, String> {
        let mut cmd = Command::new("bash");
        cmd.arg(script()).arg("run").envs(env.iter().copied());
        Lab::spawn_command(cmd)
    }

    /// As [`Lab::spawn`], with a command of the caller's that ends up running `lab.sh run`
    /// with this stdin, stdout and stderr.
    pub fn spawn_command(mut cmd: Command) -> Result<Lab, String> {
        let started = Instant::now();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("bash lab.sh: {e}"))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let replies = lines(child.stdout.take().unwrap());
        let stdin = child.stdin.take();
        let ready = replies.recv_timeout(Duration::from_secs(120));
        let mut lab = Lab {
            child,
            stdin,
            replies,
            stderr,
            prefix: String::new(),
            dir: PathBuf::new(),
            laptop: String::new(),
            inventory: PathBuf::new(),
            setup: started.elapsed(),
            alone: None,
        };
        let Some(line) = ready.ok().filter(|l| l.starts_with("READY ")) else {
            drop(lab.stdin.take());
            let _ = lab.child.wait();
            return Err(lab.stderr());
        };
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
                .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        };
        lab.prefix = field("prefix");
        lab.dir = field("dir").into();
        lab.laptop = field("laptop");
        lab.inventory = field("inventory").into();
        Ok(lab)
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the supervisor said on stderr so far (its log, and the daemons' complaints when
    /// a setup failed).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends one command (see `lab.sh`), returns its `ok ...` answer; panics on `error`.
    pub fn command(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().expect("the lab's stdin is closed");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("lab command {command:?}: {e}\n{}", self.stderr()));
        let reply = self
            .replies
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("lab command {command:?}: {e}\n{}", self.stderr()));
        assert!(reply.starts_with("ok"), "lab command {command:?}: {reply}");
        reply
    }

    /// `argv` inside the laptop's namespace, where its own /etc/hosts and
    /// /etc/resolv.conf are in place. `XDG_STATE_HOME` is the lab's `state/`: moveday's
    /// default state file and journal (`~/.local/state/moveday/`) stay in the lab and go
    /// with it.
    pub fn on_laptop(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.laptop])
            .args(argv)
            .env("XDG_STATE_HOME", self.dir.join("state"));
        cmd
    }

    /// The real moveday binary on the laptop, with the lab's inventory.
    pub fn moveday(&self, args: &[&str]) -> Output {
        let inventory = self.inventory.to_str().unwrap();
        self.on_laptop(&[env!("CARGO_BIN_EXE_moveday")])
            .args(args)
            .args(["--inventory", inventory])
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec moveday")
    }

    /// `moveday check --json` on the laptop: exit code, the JSON, how long it took.
    pub fn check_json(&self) -> (Option<i32>, Value, Duration) {
        let started = Instant::now();
        let out = self.moveday(&["check", "--json"]);
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

    /// Runs `f` on a thread that joined the laptop's network namespace.
    pub fn inside_laptop<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        use std::os::fd::AsRawFd;
        let path = format!("/run/netns/{}", self.laptop);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: a valid namespace fd; setns changes only this thread's namespace.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                panic!("setns {path}: {}", std::io::Error::last_os_error());
            }
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// The namespaces of this lab, by name.
    pub fn namespaces(&self) -> Vec<String> {
        namespaces_of(&self.prefix)
    }

    /// Closes the lab's stdin and waits for the teardown.
    pub fn close(mut self) -> Ended {
        drop(self.stdin.take());
        self.wait()
    }

    /// Waits (at most 30 s, then SIGKILL) for the supervisor to end.
    pub fn wait(&mut self) -> Ended {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for lab.sh") {
                break status;
            }
            if Instant::now() > deadline {
                // A teardown that hangs is a bug of the lab; clean up after it all the same
                // (gc removes what labs whose supervisor is gone left).
                let _ = self.child.kill();
                let status = self.child.wait().expect("wait for lab.sh");
                let _ = Command::new("bash").arg(script()).arg("gc").status();
                eprintln!("lab.sh did not end within 30 s: killed, then `lab.sh gc`");
                break status;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The stderr thread ends with the pipe; give it a moment to take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        Ended {
            code: status.code(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            drop(self.stdin.take());
            self.wait();
        }
    }
}

/// Lines of `out` on a channel (so that reading has a timeout).
fn lines(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The network namespaces whose name starts with `prefix-`.
pub fn namespaces_of(prefix: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_string)
        .collect()
}

/// Everything of a lab still on the machine after its teardown: namespaces, /etc/netns
/// directories, its directory, processes whose command line names the lab. Empty when the
/// teardown was complete.
pub fn leftovers(prefix: &str, dir: &Path) -> Vec<String> {
    let mut left: Vec<String> = namespaces_of(prefix)
        .into_iter()
        .map(|n| format!("namespace {n}"))
        .collect();
    if let Ok(entries) = std::fs::read_dir("/etc/netns") {
        for e in entries.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{prefix}-"))
            {
                left.push(format!("/etc/netns/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    if dir.exists() {
        left.push(format!("directory {}", dir.display()));
    }
    let needle = dir.to_string_lossy().into_owned();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let name = p.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if !needle.is_empty() && cmdline.contains(&needle) {
                left.push(format!("process {name}: {}", cmdline.trim()));
            }
        }
    }
    left
}

/// The first line an SSH server sends at `ip:22`, asked from the laptop's namespace.
pub fn ssh_banner(lab: &Lab, ip: &str) -> Result<String, String> {
    let addr: SocketAddr = format!("{ip}:22").parse().unwrap();
    lab.inside_laptop(move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut line = String::new();
        BufReader::new(&mut s)
            .read_line(&mut line)
            .map_err(|e| format!("read {addr}: {e}"))?;
        Ok(line.trim().to_string())
    })
}

// ------------------------------------------------------------------- check --json helpers

/// `hosts[]` entry named `name`.
pub fn host<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["hosts"]
        .as_array()
        .expect("hosts[]")
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {json:#}"))
}

/// The host's `dns[]` cell of resolver `resolver` (its column name).
pub fn dns<'a>(host: &'a Value, resolver: &str) -> &'a Value {
    host["dns"]
        .as_array()
        .expect("dns[]")
        .iter()
        .find(|c| c["resolver"] == resolver)
        .unwrap_or_else(|| panic!("no resolver {resolver} in {:#}", host["dns"]))
}

/// The host's `reasons` as strings.
pub fn reasons(host: &Value) -> Vec<String> {
    host["reasons"]
        .as_array()
        .expect("reasons[]")
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect()
}

/// Port `port` of the host's `ports[]`.
pub fn port(host: &Value, port: u16) -> &Value {
    host["ports"]
        .as_array()
        .unwrap_or_else(|| panic!("no ports[] in {host:#}"))
        .iter()
        .find(|p| p["port"] == port)
        .unwrap_or_else(|| panic!("no port {port} in {:#}", host["ports"]))
}

/// Service `name` of the host's `services[]`.
pub fn service<'a>(host: &'a Value, name: &str) -> &'a Value {
    host["services"]
        .as_array()
        .expect("services[]")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {:#}", host["services"]))
}

/// One line of a host for the test's log: health, reasons, target.
pub fn summary(host: &Value) -> String {
    format!(
        "{:<9} {:<8} target {} ({}) reasons {}",
        host["name"].as_str().unwrap_or("?"),
        host["health"].as_str().unwrap_or("?"),
        host["target"],
        host["target_source"].as_str().unwrap_or("-"),
        host["reasons"]
    )
}

/// Expectations that do not stop the test: every one is checked, and the test fails at
/// the end with the whole list (a product bug shows next to everything that worked).
#[derive(Default)]
pub struct Findings {
    failed: Vec<String>,
    passed: usize,
}

impl Findings {
    /// Records `what` as failed (with `context`) unless `ok`.
    pub fn expect(&mut self, ok: bool, what: &str, context: impl std::fmt::Display) {
        if ok {
            self.passed += 1;
        } else {
            eprintln!("FAILED: {what}\n{context}");
            self.failed.push(what.to_string());
        }
    }

    /// Panics with every failed expectation.
    pub fn finish(self, test: &str) {
        eprintln!(
            "{test}: {} expectations met, {} failed",
            self.passed,
            self.failed.len()
        );
        assert!(
            self.failed.is_empty(),
            "{test}: {} of {} expectations failed:\n  - {}",
            self.failed.len(),
            self.failed.len() + self.passed,
            self.failed.join("\n  - ")
        );
    }
}
