//! A network namespace joined to the root namespace by a veth pair, for the tests that need
//! a real firewall (nftables) between the prober and a server.
//!
//! ```text
//!  root namespace                         namespace NAME
//!  VETHa  10.OCTET.x.(4k+1)/30  ───────  VETHb  10.OCTET.x.(4k+2)/30   nft rules, listeners
//! ```
//!
//! Each test module picks its own prefix and second octet, and the /30 inside it is chosen
//! by pid, so test modules (one process, one pid) and two `cargo test` runs do not collide. The namespace is removed
//! when the [`Netns`] is dropped, also when the test fails. A listener is a socket bound by
//! a thread that has joined the namespace ([`Netns::inside`]): a socket stays in the
//! namespace it was made in, so it can then be served from any thread or async runtime.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};

/// See the module documentation.
pub struct Netns {
    /// The namespace's name (`ip netns exec NAME ...`, `/run/netns/NAME`).
    pub name: String,
    /// The end of the veth pair in the root namespace.
    pub veth: String,
    /// The end of the veth pair inside the namespace (for `iifname` in rules).
    pub peer: String,
    /// The root namespace's address on the pair.
    pub outer: Ipv4Addr,
    /// The namespace's address: the one to probe.
    pub inner: Ipv4Addr,
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name], None);
        // Deleting one end of a veth pair deletes both, at once, even while a socket still
        // keeps the namespace alive; this also cleans up a setup that failed half-way.
        let _ = run("ip", &["link", "del", &self.veth], None);
    }
}

/// Fails the test unless it can make network namespaces here (root, `ip`, `nft`). The
/// tests that need them are `#[ignore = "needs root: ..."]`: this runs only when they are
/// asked for, and then what is missing is a failure, never a skip.
pub fn require() {
    if let Err(why) = possible() {
        panic!("this test needs network namespaces and nftables, but: {why}");
    }
}

/// Whether a namespace test can run here; `Err` says why not.
fn possible() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root (network namespaces and nftables need it)".into());
    }
    for tool in ["ip", "nft"] {
        if Command::new(tool).arg("-V").output().is_err() {
            return Err(format!(
                "`{tool}` is not installed (apt-get install iproute2 nftables)"
            ));
        }
    }
    Ok(())
}

/// Runs `program args`, feeding it `stdin`; `Err` carries its stderr.
pub fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// Creates namespace `PREFIX-PID` with the pair `VETHPIDa` (root) / `VETHPIDb` (inside,
    /// with `lo`) on a /30 of 10.`octet`.0.0/16. `veth` must be at most 4 characters (an
    /// interface name has at most 15). Panics when a step fails; what was made so far is
    /// removed.
    pub fn create(prefix: &str, veth: &str, octet: u8) -> Netns {
        let pid = std::process::id();
        let block = pid % 16_384;
        let (third, fourth) = ((block / 64) as u8, ((block % 64) * 4) as u8);
        let ns = Netns {
            name: format!("{prefix}-{pid}"),
            veth: format!("{veth}{pid}a"),
            peer: format!("{veth}{pid}b"),
            outer: Ipv4Addr::new(10, octet, third, fourth + 1),
            inner: Ipv4Addr::new(10, octet, third, fourth + 2),
        };
        // Leftovers of an earlier run with the same pid that was killed.
        let _ = run("ip", &["netns", "del", &ns.name], None);
        let _ = run("ip", &["link", "del", &ns.veth], None);

        let (name, veth, peer) = (ns.name.as_str(), ns.veth.as_str(), ns.peer.as_str());
        let outer = format!("{}/30", ns.outer);
        let inner = format!("{}/30", ns.inner);
        let steps: [&[&str]; 8] = [
            &["netns", "add", name],
            &["link", "add", veth, "type", "veth", "peer", "name", peer],
            &["link", "set", peer, "netns", name],
            &["addr", "add", &outer, "dev", veth],
            &["link", "set", veth, "up"],
            &[
                "netns", "exec", name, "ip", "addr", "add", &inner, "dev", peer,
            ],
            &["netns", "exec", name, "ip", "link", "set", peer, "up"],
            &["netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ];
        for step in steps {
            run("ip", step, None).unwrap_or_else(|e| panic!("netns setup: {e}"));
        }
        ns
    }

    /// Loads nftables `rules` (`nft -f` syntax) inside the namespace.
    pub fn nft(&self, rules: &str) {
        run(
            "ip",
            &["netns", "exec", &self.name, "nft", "-f", "-"],
            Some(rules),
        )
        .unwrap_or_else(|e| panic!("nftables rules: {e}"));
    }

    /// Runs `f` on a thread that has joined the namespace (the calling thread stays where
    /// it is) and returns what it returns.
    pub fn inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        use std::os::fd::AsRawFd;
        let path = format!("/run/netns/{}", self.name);
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

    /// Non-blocking listeners on the namespace's address, one per port, in order (for
    /// `tokio::net::TcpListener::from_std`, or just to have the port open).
    pub fn listen(&self, ports: &[u16]) -> Vec<TcpListener> {
        let (ip, ports) = (self.inner, ports.to_vec());
        self.inside(move || {
            ports
                .iter()
                .map(|&port| {
                    let l = TcpListener::bind((ip, port))
                        .unwrap_or_else(|e| panic!("bind {ip}:{port} in the namespace: {e}"));
                    l.set_nonblocking(true).unwrap();
                    l
                })
                .collect()
        })
    }
}
