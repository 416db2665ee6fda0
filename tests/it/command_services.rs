//! `kind = "command"` services against a real OpenSSH sshd on loopback: its own host key,
//! key authentication from a key the test makes, nothing system-wide (a private `/run` for
//! sshd's privilege-separation directory, in a mount namespace of its own). The client is
//! the real `ssh`, told where the key and known-hosts file are through `ssh_options`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use moveday::config::service::{BodyMatch, CommandCheck, CommandService};
use moveday::probe::service::ServiceState;
use moveday::probe::service::command::{self, OUTPUT_CAP};
use serde_json::Value;

/// A sshd of the test's own, and the client options that reach it.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    _child: tokio::process::Child,
}

fn keygen(path: &Path) {
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "moveday-test", "-f"])
        .arg(path)
        .status()
        .unwrap_or_else(|e| {
            panic!("this test needs ssh-keygen ({e}): apt-get install openssh-client")
        });
    assert!(status.success(), "ssh-keygen failed");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    async fn start() -> Sshd {
        assert!(
            Path::new("/usr/sbin/sshd").exists(),
            "this test needs sshd: apt-get install openssh-server"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        keygen(&d.join("wrong_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\nUseDNS no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // sshd insists on /run/sshd: a private /run in a mount namespace of its own.
        let child = tokio::process::Command::new("unshare")
            .args(["-m", "sh", "-c"])
            .arg(
                "mount -t tmpfs -o mode=755,size=1m moveday-test /run && \
                 mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f \"$1\"",
            )
            .arg("sh")
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run unshare ({e}): apt-get install util-linux"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd did not listen on 127.0.0.1:{port} (needs root: it runs sshd in a mount \
                 namespace): {log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Sshd {
            dir,
            port,
            _child: child,
        }
    }

    /// `ssh_options` that reach this sshd with `key` (`client_key` or `wrong_key`).
    fn options(&self, key: &str) -> Vec<String> {
        let d = self.dir.path();
        [
            "-F".to_string(),
            "/dev/null".into(),
            "-i".into(),
            d.join(key).display().to_string(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "IdentityAgent=none".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", d.join("known_hosts").display()),
            "-o".into(),
            "StrictHostKeyChecking=accept-new".into(),
            "-p".into(),
            self.port.to_string(),
        ]
        .into()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn service(sshd: &Sshd, run: &str, check: CommandCheck) -> CommandService {
    CommandService {
        run: run.into(),
        ssh: Some("root@127.0.0.1".into()),
        ssh_options: sshd.options("client_key"),
        check,
        every: None,
    }
}

async fn probe(c: &CommandService, limit: Duration) -> moveday::probe::service::ServiceResult {
    command::probe(c, "ignored.example.org", &[], Duration::from_secs(5), limit).await
}

#[tokio::test]
#[ignore = "needs root: sshd in a mount namespace"]
async fn commands_run_on_a_real_sshd() {
    let sshd = Sshd::start().await;
    let limit = Duration::from_secs(10);

    // A queue of 1203 lines against max = 1000: degraded, with the number.
    let queue = sshd.path("queue");
    std::fs::write(&queue, "msg\n".repeat(1203)).unwrap();
    let count = format!("wc -l < {}", queue.display());
    let max = CommandCheck::Number {
        min: None,
        max: Some(1000.0),
    };
    let r = probe(&service(&sshd, &count, max.clone()), limit).await;
    assert_eq!(r.state, ServiceState::Warn, "{r:?}");
    assert_eq!(r.error.as_deref(), Some("1203 above max 1000"));
    assert_eq!(r.detail, "exit 0 · 1 line · 1203");
    std::fs::write(&queue, "msg\n".repeat(37)).unwrap();
    let r = probe(&service(&sshd, &count, max), limit).await;
    assert_eq!((r.state, r.error), (ServiceState::Ok, None));

    // The old-address sweep: a planted file is shown, and clears once fixed.
    let etc = sshd.path("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(etc.join("clean.conf"), "listen 203.0.113.10\n").unwrap();
    std::fs::write(etc.join("app.conf"), "upstream 198.51.100.10:8080\n").unwrap();
    let sweep = format!("grep -rIl 198.51.100. {}", etc.display());
    let r = probe(&service(&sshd, &sweep, CommandCheck::Empty), limit).await;
    assert_eq!(r.state, ServiceState::Fail, "{r:?}");
    assert_eq!(
        r.error.as_deref(),
        Some(
            format!(
                "output not empty (1 line): {}",
                etc.join("app.conf").display()
            )
            .as_str()
        )
    );
    assert_eq!(r.command.as_ref().unwrap().exit_status, Some(0));
    std::fs::write(etc.join("app.conf"), "upstream 203.0.113.10:8080\n").unwrap();
    let r = probe(&service(&sshd, &sweep, CommandCheck::Empty), limit).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ServiceState::Ok, "exit 1 · no output")
    );

    // expect, through the remote shell (a pipe runs there).
    let expect = CommandCheck::Expect(BodyMatch::Substring("ACTIVE".into()));
    let r = probe(&service(&sshd, "echo active | tr a-z A-Z", expect), limit).await;
    assert_eq!(r.state, ServiceState::Ok, "{r:?}");

    // A key the server does not know: refused, in words.
    let mut wrong = service(&sshd, "true", CommandCheck::ExitStatus);
    wrong.ssh_options = sshd.options("wrong_key");
    let r = probe(&wrong, limit).await;
    assert_eq!(
        r.error.as_deref(),
        Some("authentication refused by root@127.0.0.1 (BatchMode: no key was accepted)")
    );

    // A command the remote shell does not find.
    let r = probe(
        &service(&sshd, "postqueue -j | wc -l", CommandCheck::ExitStatus),
        limit,
    )
    .await;
    assert_eq!(
        r.error.as_deref(),
        Some("postqueue not found on root@127.0.0.1"),
        "{r:?}"
    );

    // A flood is cut at the cap, and ssh is not waited for.
    let started = Instant::now();
    let r = probe(&service(&sshd, "yes", CommandCheck::Empty), limit).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let run = r.command.as_ref().unwrap();
    assert!(run.truncated && run.lines >= OUTPUT_CAP / 2 - 1, "{r:?}");
    assert!(r.detail.starts_with("cut · "), "{}", r.detail);

    // A slow command is cut at its limit.
    let started = Instant::now();
    let r = probe(
        &service(&sshd, "sleep 30", CommandCheck::ExitStatus),
        Duration::from_secs(2),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        r.error.as_deref(),
        Some("timeout: sleep still running after 2s")
    );
}

#[tokio::test]
#[ignore = "needs root: sshd in a mount namespace"]
async fn check_json_shows_a_command_service() {
    let sshd = Sshd::start().await;
    let queue = sshd.path("queue");
    std::fs::write(&queue, "msg\n".repeat(1203)).unwrap();
    let options: Vec<String> = sshd
        .options("client_key")
        .iter()
        .map(|o| format!("{o:?}"))
        .collect();
    let inventory = format!(
        r#"
hosts_file = "{hosts}"
[probe]
interval = "2s"
timeout = "1s"
fail_after = 1
[ssh]
options = [{options}]
# A resolver on loopback that never answers: no query leaves the machine.
[[resolver]]
name = "loopback"
address = "127.0.0.1:9"
[[host]]
name = "mail"
fqdn = "mail.example.org"
new_ip = "127.0.0.1"
ping = false
ssh = {port}
[[host.service]]
name = "mail-queue"
kind = "command"
run = "wc -l < {queue}"
ssh = "root@127.0.0.1"
max = 1000
every = "1m"
[[checklist]]
id = "queue"
text = "The mail queue is drained"
check = "mail.service:mail-queue"
"#,
        hosts = sshd.path("hosts").display(),
        options = options.join(", "),
        port = sshd.port,
        queue = queue.display(),
    );
    std::fs::write(sshd.path("hosts"), "").unwrap();
    std::fs::write(sshd.path("inventory.toml"), inventory).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .arg("check")
        .arg("--json")
        .arg("--inventory")
        .arg(sshd.path("inventory.toml"))
        .output()
        .await
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let service = &json["hosts"][0]["services"][0];
    assert_eq!(service["kind"], "command", "{json:#}");
    assert_eq!(service["state"], "warn", "{service:#}");
    assert_eq!(service["exit_status"], 0);
    assert_eq!(service["output"], "1203");
    assert_eq!(service["output_truncated"], false);
    assert_eq!(service["error"], "1203 above max 1000");
    assert_eq!(json["hosts"][0]["health"], "degraded", "{json:#}");
}
