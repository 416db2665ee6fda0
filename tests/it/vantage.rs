//! Vantage points end to end on loopback: `moveday check --json` asks each `[[vantage]]`
//! through "ssh", here a stand-in client on PATH that runs the remote command on this
//! machine (the same binary, the plan on stdin) or fails the way OpenSSH does. The lab
//! (`lab_vantage`) does it through Debian's real sshd in a namespace of its own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use moveday::demo::dns_server::DnsServer;
use moveday::demo::servers::{HttpReply, HttpServer, SshBannerServer};
use serde_json::Value;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 93, 0, last))
}

/// A stand-in for ssh: skips the options up to `--`, then acts on the destination:
/// `here` runs the remote command on this machine; the others fail as OpenSSH and a
/// remote shell do.
const FAKE_SSH: &str = r#"#!/bin/sh
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
dest=$1; shift
case "$dest" in
  here) exec "$@" ;;
  refused) echo "admin@office: Permission denied (publickey)." >&2; exit 255 ;;
  unknown-key) echo "Host key verification failed." >&2; exit 255 ;;
  no-moveday) echo "bash: line 1: $1: command not found" >&2; exit 127 ;;
  garbage) printf '\033[2J<html>not json'; exit 0 ;;
  slow) exec sleep 30 ;;
esac
exit 3
"#;

#[tokio::test]
async fn check_asks_every_vantage_and_says_what_went_wrong_with_each() {
    let dns = DnsServer::start(SocketAddr::new(ip(53), 0), &["example.org"])
        .await
        .unwrap();
    let ssh = SshBannerServer::bind(SocketAddr::new(ip(10), 0), "SSH-2.0-OpenSSH_9.2p1")
        .await
        .unwrap();
    let http = HttpServer::bind(SocketAddr::new(ip(10), 0)).await.unwrap();
    http.set_reply(HttpReply::status(200, "hello"));
    dns.set_a("web.example.org", ip(10), 300).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("ssh"), FAKE_SSH).unwrap();
    std::fs::set_permissions(bin.join("ssh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let moveday = env!("CARGO_BIN_EXE_moveday");
    let vantage = |name: &str, dest: &str| {
        format!(
            "[[vantage]]\nname = \"{name}\"\nssh = \"{dest}\"\nmoveday = \"{moveday}\"\nevery = \"5s\"\n"
        )
    };
    let inventory = format!(
        "hosts_file = \"{hosts}\"\n[probe]\ninterval = \"1s\"\ntimeout = \"500ms\"\n\
         [[resolver]]\nname = \"primary\"\naddress = \"{dns}\"\n\
         [[host]]\nname = \"web\"\nfqdn = \"web.example.org\"\nnew_ip = \"{web}\"\nping = false\n\
         ssh = {ssh}\nhttp = \"http://web.example.org:{http}/\"\n\
         {office}{refused}{key}{missing}{garbage}{slow}",
        hosts = hosts.display(),
        dns = dns.addr(),
        web = ip(10),
        ssh = ssh.addr().port(),
        http = http.addr().port(),
        office = vantage("office", "here"),
        refused = vantage("refused", "refused"),
        key = vantage("new-key", "unknown-key"),
        missing = vantage("bare", "no-moveday"),
        garbage = vantage("junk", "garbage"),
        slow = vantage("slowpoke", "slow"),
    );
    let path = dir.path().join("inventory.toml");
    std::fs::write(&path, inventory).unwrap();

    let started = Instant::now();
    let out = tokio::process::Command::new(moveday)
        .args(["check", "--json", "--inventory"])
        .arg(&path)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .await
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    // The slow one is cut at its `every` (5 s); nothing else waits for it.
    assert!(took < Duration::from_secs(9), "{took:?}");
    let v = |name: &str| -> &Value {
        json["vantages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
    };
    let office = v("office");
    assert_eq!(office["ok"], true, "{office}");
    assert_eq!(office["hosts_file"], "/etc/hosts");
    assert_eq!(office["hosts"][0]["name"], "web");
    assert_eq!(office["hosts"][0]["health"], "up", "{office}");
    assert_eq!(office["hosts"][0]["target"], ip(10).to_string());
    assert_eq!(office["hosts"][0]["dns"][0]["verdict"], "new", "{office}");
    let error = |name: &str| v(name)["error"].as_str().unwrap_or_default().to_string();
    assert!(
        error("refused").starts_with("authentication refused by refused"),
        "{}",
        error("refused")
    );
    assert!(
        error("new-key").starts_with("host key of new-key unknown or changed"),
        "{}",
        error("new-key")
    );
    assert_eq!(error("bare"), format!("{moveday} not found on bare"));
    assert!(
        error("junk").starts_with("junk: unreadable output"),
        "{}",
        error("junk")
    );
    assert!(!error("junk").contains('\u{1b}'));
    assert!(
        error("slowpoke").contains("answered nothing in 5s"),
        "{}",
        v("slowpoke")
    );
    for name in ["refused", "new-key", "bare", "junk", "slowpoke"] {
        assert_eq!(v(name)["ok"], false);
    }
    // The vantage agrees with this laptop: no disagreement reason.
    let web = &json["hosts"][0];
    assert_eq!(web["health"], "up", "{web}");
    assert_eq!(web["reasons"], serde_json::json!([]));

    // The text table says the same in a line each.
    let out = tokio::process::Command::new(moveday)
        .args(["check", "--inventory"])
        .arg(&path)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("vantage office: 1 of 1 hosts up from there"),
        "{text}"
    );
    assert!(text.contains("vantage bare: no view: "), "{text}");
}

/// On a vantage, the plan comes on stdin: its paths name another machine's files, which
/// are not read (a CA file that is not here is no error), and the output says so.
#[test]
fn a_plan_on_stdin_uses_this_machines_own_files() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let plan = "[probe]\nca_file = \"/nonexistent/ca.pem\"\nhosts_file = \"/nonexistent/hosts\"\n\
                [[vantage]]\nname = \"office\"\nssh = \"nowhere\"\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["--inventory", "-", "check", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plan.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(json["stdin_plan"]["hosts_file"], "/etc/hosts");
    assert_eq!(json["vantages"], serde_json::json!([]), "no recursion");
    assert_eq!(json["inventory"], "-");

    // A broken plan on stdin is bad input, located on "-".
    let mut child = Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["--inventory", "-", "check", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"[[host]]\nname = 3\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("moveday: -:2:8: "), "{stderr}");
}
