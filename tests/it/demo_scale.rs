//! `moveday demo --hosts N`: the simulator and the measured moveday in two processes, as a
//! benchmark runs them. `demo --hosts 50 --serve FILE` writes the inventory, then
//! `moveday check --json --inventory FILE` probes every host from another process: each
//! healthy host is up, with SSH and HTTP answered at its own 127.10.x address; the broken
//! ones (sshd down on host 13, HTTP 503 on host 29) show it; and the simulator holds a
//! handful of listening sockets, not two per host.
//!
//! Ping is the real pinger: ICMP when this process may, else TCP (both accepted, as in
//! `tests/it/check_json.rs`).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moveday::check;
use moveday::demo::scale::{ScaleDemo, new_ip};
use moveday::probe::scheduler::Scope;
use moveday::store::Health;
use serde_json::Value;

const HOSTS: usize = 50;
/// The broken hosts among the first 50 (see `src/demo/scale.rs`).
const SSH_DOWN: usize = 13;
const HTTP_503: usize = 29;

/// Kills the simulator when the test ends, however it ends.
struct Simulator(Child);

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The socket inodes among `pid`'s open descriptors.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the simulator's descriptors")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            link.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// How many TCP sockets in the LISTEN state (`0A`) are among `inodes`.
fn listening(inodes: &HashSet<u64>) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(3) == Some(&"0A")
                && fields
                    .get(9)
                    .and_then(|i| i.parse::<u64>().ok())
                    .is_some_and(|i| inodes.contains(&i))
        })
        .count()
}

fn wait_for(path: &Path, sim: &mut Simulator) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        if let Ok(Some(status)) = sim.0.try_wait() {
            panic!("the simulator exited early: {status}");
        }
        assert!(Instant::now() < deadline, "no inventory after 5 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The port of `host = "http://name:port/"` in the inventory's text.
fn http_port(inventory: &str) -> u16 {
    inventory
        .lines()
        .find_map(|l| l.strip_prefix("http = \"http://"))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|p| p.trim_end_matches("/\"").parse().ok())
        .expect("an http URL with a port")
}

/// A plain GET to `addr`; what came back (empty when the connection was closed unanswered).
fn get(addr: SocketAddr) -> String {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(s) => s,
        Err(e) => return format!("connect: {e}"),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// This machine's address towards the outside, if it has one (no packet is sent).
fn outside_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn check_probes_fifty_simulated_hosts_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.toml");
    let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut sim = Simulator(
        Command::new(env!("CARGO_BIN_EXE_moveday"))
            .args(["demo", "--hosts", &HOSTS.to_string(), "--serve"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the simulator"),
    );
    wait_for(&file, &mut sim);
    let said = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    assert!(
        said.contains(&format!("moveday --inventory {}", file.display())),
        "{said}"
    );
    let inventory = std::fs::read_to_string(&file).unwrap();

    // One SSH and one HTTP listener for all hosts, and the DNS server's three TCP ones.
    let pid = sim.0.id();
    let sockets = socket_inodes(pid);
    let listeners = listening(&sockets);
    assert!(
        (2..=5).contains(&listeners),
        "{listeners} listening sockets for {HOSTS} hosts"
    );
    assert!(sockets.len() <= 16, "{} sockets", sockets.len());

    // Each address's HTTP answer names the address it was asked at.
    let port = http_port(&inventory);
    for k in [1, 7, HOSTS] {
        let ip = new_ip(k);
        let answer = get(SocketAddr::from((ip, port)));
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with(&format!(" at {ip}: ok\n")), "{answer}");
    }
    // Nothing is served on an address that is not loopback: the listener is bound to the
    // loopback device and closes any such connection unanswered.
    if let Some(outside) = outside_address() {
        let answer = get(SocketAddr::new(outside, port));
        assert!(!answer.contains("HTTP/"), "served on {outside}: {answer}");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["check", "--json", "--inventory"])
        .arg(&file)
        .output()
        .expect("run moveday check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "two hosts are broken on purpose\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let hosts = json["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), HOSTS);
    // The real pinger, not the scripted demo's simulated one.
    assert_ne!(json["ping_mode"], "simulated");
    let (mut dns_cells, mut dns_answers) = (0, 0);
    for (i, h) in hosts.iter().enumerate() {
        let k = i + 1;
        let ip = new_ip(k).to_string();
        assert_eq!(h["name"], format!("h{k:05}"));
        assert_eq!(h["target"], ip, "{h:#}");
        assert_eq!(h["ping"]["ok"], true, "{h:#}");
        assert_eq!(h["ping"]["ip"], ip);
        assert!(["icmp", "tcp"].contains(&h["ping"]["method"].as_str().unwrap_or_default()));
        assert_eq!(h["ssh"]["ip"], ip, "{h:#}");
        assert_eq!(h["http"]["ip"], ip, "{h:#}");
        // DNS is asked once (not retried): on a machine loaded by parallel builds an answer
        // may miss the 2 s timeout; every answer there is must be the host's own address.
        for cell in h["dns"].as_array().unwrap() {
            dns_cells += 1;
            if cell["verdict"] == "timeout" {
                continue;
            }
            dns_answers += 1;
            assert_eq!(cell["verdict"], "new", "{h:#}");
            assert_eq!(cell["addresses"], serde_json::json!([ip]), "{h:#}");
        }
        match k {
            SSH_DOWN => {
                assert_eq!(h["health"], "degraded", "{h:#}");
                assert_eq!(h["ssh"]["ok"], false, "{h:#}");
                assert_eq!(h["ssh"]["error"], "refused", "{h:#}");
                assert_eq!(h["http"]["status"], 200, "{h:#}");
            }
            HTTP_503 => {
                assert_eq!(h["health"], "degraded", "{h:#}");
                assert_eq!(h["ssh"]["ok"], true, "{h:#}");
                assert_eq!(h["http"]["ok"], false, "{h:#}");
                assert_eq!(h["http"]["status"], 503, "{h:#}");
            }
            _ => {
                assert_eq!(h["health"], "up", "{h:#}");
                assert_eq!(h["ssh"]["ok"], true, "{h:#}");
                assert!(
                    h["ssh"]["banner"]
                        .as_str()
                        .is_some_and(|b| b.starts_with("SSH-2.0-OpenSSH")),
                    "{h:#}"
                );
                assert_eq!(h["http"]["ok"], true, "{h:#}");
                assert_eq!(h["http"]["status"], 200, "{h:#}");
            }
        }
    }

    assert_eq!(dns_cells, 3 * HOSTS);
    assert!(
        dns_answers * 2 >= dns_cells,
        "only {dns_answers} of {dns_cells} DNS questions answered in time"
    );

    // Served, the probes did not leave a socket per host behind.
    let after = socket_inodes(pid);
    assert_eq!(listening(&after), listeners);
    assert!(after.len() <= 16, "{} sockets after the check", after.len());
    assert!(
        sim.0.try_wait().unwrap().is_none(),
        "the simulator still runs"
    );
}

/// In one process, as `moveday demo --hosts N` runs the dashboard: the demo's own probe
/// environment (the real pinger, its DNS server as the system resolver).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_probe_environment_sees_the_same_hosts() {
    let demo = ScaleDemo::start(30, Path::new("<test>")).await.unwrap();
    assert_eq!(demo.inventory().hosts.len(), 30);
    assert_eq!(demo.inventory().probe.interval, Duration::from_secs(5));
    assert_eq!(demo.inventory().resolvers.len(), 3);
    let inv = Arc::new(demo.inventory().clone());
    let state = check::run(inv, Arc::new(demo.probe_env()), Scope::Everything).await;
    let [up, degraded, down, unknown] = state.health_counts();
    assert_eq!((up, degraded, down, unknown), (28, 2, 0, 0));
    assert_eq!(state.hosts[SSH_DOWN - 1].health, Health::Degraded);
    assert_eq!(state.hosts[HTTP_503 - 1].health, Health::Degraded);
    assert!(ScaleDemo::start(0, Path::new("<test>")).await.is_err());
    assert_eq!(new_ip(1), Ipv4Addr::new(127, 10, 0, 1));
}
