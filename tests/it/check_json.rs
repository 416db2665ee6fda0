//! `moveday check` as a script would run it: the real binary against real servers on loopback
//! (SSH-banner and HTTP listeners, an in-process DNS server, a black-hole resolver, a hosts
//! file with a stale entry), asserting what the JSON and the table say about each host.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Output;

use moveday::demo::dns_server::{BlackHole, DnsServer};
use moveday::demo::servers::{HttpReply, HttpServer, SshBannerServer};
use serde_json::Value;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 91, 0, last))
}

/// Servers of a small move: `web` is up on its new address; `pinned` is up on its new address
/// but the hosts file still says the old one (probes go there and fail); `dark` listens on
/// nothing.
struct Move {
    _dns: DnsServer,
    _hole: BlackHole,
    _ssh: SshBannerServer,
    _http: HttpServer,
    _pinned_ssh: SshBannerServer,
    dir: tempfile::TempDir,
}

async fn start_move() -> Move {
    let dns = DnsServer::start(SocketAddr::new(ip(53), 0), &["example.org"])
        .await
        .unwrap();
    let hole = BlackHole::bind(SocketAddr::new(ip(54), 0)).await.unwrap();
    let ssh = SshBannerServer::bind(
        SocketAddr::new(ip(10), 0),
        "SSH-2.0-OpenSSH_9.2p1 \x1b[31mred",
    )
    .await
    .unwrap();
    let http = HttpServer::bind(SocketAddr::new(ip(10), 0)).await.unwrap();
    http.set_reply(HttpReply::status(200, "hello from the new datacenter"));
    let pinned_ssh = SshBannerServer::bind(SocketAddr::new(ip(11), 0), "SSH-2.0-pinned")
        .await
        .unwrap();
    dns.set_a("web.example.org", ip(10), 300).await.unwrap();
    dns.set_a("pinned.example.org", ip(11), 300).await.unwrap();
    dns.set_a("dark.example.org", ip(112), 300).await.unwrap(); // still the old address

    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n{} pinned.example.org\n", ip(111)),
    )
    .unwrap();
    let inventory = format!(
        r#"
hosts_file = "{hosts}"
[move]
name = "loopback move"
old_network = "127.91.0.96/27"
new_network = "127.91.0.0/27"
[probe]
interval = "1s"
timeout = "500ms"
[[resolver]]
name = "primary"
address = "{dns}"
[[resolver]]
name = "hole"
address = "{hole}"
[[host]]
name = "web"
fqdn = "web.example.org"
old_ip = "{web_old}"
new_ip = "{web}"
ssh = {ssh_port}
http = "http://web.example.org:{http_port}/"
[[host]]
name = "pinned"
fqdn = "pinned.example.org"
old_ip = "{pinned_old}"
ssh = {pinned_port}
[[host]]
name = "dark"
fqdn = "dark.example.org"
old_ip = "{dark_old}"
new_ip = "{dark}"
ssh = {ssh_port}
http = "http://dark.example.org:{http_port}/"
"#,
        hosts = hosts.display(),
        dns = dns.addr(),
        hole = hole.addr(),
        web = ip(10),
        web_old = ip(110),
        pinned_old = ip(111),
        dark = ip(12),
        dark_old = ip(112),
        ssh_port = ssh.addr().port(),
        http_port = http.addr().port(),
        pinned_port = pinned_ssh.addr().port(),
    );
    std::fs::write(dir.path().join("inventory.toml"), inventory).unwrap();
    Move {
        _dns: dns,
        _hole: hole,
        _ssh: ssh,
        _http: http,
        _pinned_ssh: pinned_ssh,
        dir,
    }
}

async fn check(m: &Move, json: bool) -> Output {
    let inventory = m.dir.path().join("inventory.toml");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"));
    cmd.arg("check").arg("--inventory").arg(&inventory);
    if json {
        cmd.arg("--json");
    }
    cmd.output().await.unwrap()
}

fn host<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {json:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn check_json_reports_what_the_servers_are() {
    let m = start_move().await;
    let started = std::time::Instant::now();
    let out = check(&m, true).await;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "not every host is up\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One round: bounded by the 500 ms timeout (plus start-up and the first-round stagger).
    assert!(elapsed.as_secs_f64() < 5.0, "check took {elapsed:?}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["move"], "loopback move");

    let web = host(&json, "web");
    assert_eq!(web["fqdn"], "web.example.org");
    assert_eq!(web["health"], "up", "{web:#}");
    assert_eq!(web["target"], ip(10).to_string());
    assert_eq!(web["target_source"], "new_ip");
    assert_eq!(web["ping"]["ok"], true);
    assert!(web["ping"]["rtt_ms"].as_f64().unwrap() >= 0.0);
    assert!(["icmp", "tcp"].contains(&web["ping"]["method"].as_str().unwrap()));
    assert_eq!(web["ssh"]["ok"], true);
    // The escape sequence the server sent is escaped, not passed through.
    assert_eq!(web["ssh"]["banner"], "SSH-2.0-OpenSSH_9.2p1 \\x1b[31mred");
    assert_eq!(web["http"]["ok"], true);
    assert_eq!(web["http"]["status"], 200);
    assert_eq!(web["http"]["ip"], ip(10).to_string());
    let dns = web["dns"].as_array().unwrap();
    assert_eq!(dns.len(), 2);
    assert_eq!(dns[0]["resolver"], "primary");
    assert_eq!(dns[0]["addresses"], serde_json::json!([ip(10).to_string()]));
    assert_eq!(dns[0]["ttl"], 300);
    assert_eq!(dns[0]["verdict"], "new");
    assert_eq!(dns[1]["resolver"], "hole");
    assert_eq!(dns[1]["verdict"], "timeout");
    assert!(dns[1]["error"].is_string());
    assert_eq!(web["hosts_file"]["addresses"], serde_json::json!([]));
    assert_eq!(web["hosts_file"]["disagrees_with_dns"], false);
    assert!(web["error"].is_null());

    // The post-mortem's trap: the hosts file sends the probes to the old address.
    let pinned = host(&json, "pinned");
    assert_eq!(pinned["target"], ip(111).to_string());
    assert_eq!(pinned["target_source"], "hosts_file");
    assert_eq!(pinned["ssh"]["ip"], ip(111).to_string());
    assert_eq!(pinned["ssh"]["ok"], false);
    assert_eq!(pinned["ssh"]["error"], "refused");
    assert_eq!(
        pinned["hosts_file"]["addresses"],
        serde_json::json!([ip(111).to_string()])
    );
    assert_eq!(pinned["hosts_file"]["lines"], serde_json::json!([2]));
    assert_eq!(pinned["hosts_file"]["disagrees_with_dns"], true);
    assert_eq!(pinned["hosts_file"]["points_at_old"], true);
    assert_eq!(pinned["dns"][0]["verdict"], "new");
    assert_ne!(pinned["health"], "up");

    // Nothing listens on dark's new address; its name still points at the old one.
    let dark = host(&json, "dark");
    assert_eq!(dark["ssh"]["error"], "refused");
    assert_eq!(dark["http"]["ok"], false);
    assert_eq!(dark["http"]["error"], "refused");
    assert_eq!(dark["dns"][0]["verdict"], "old");
    assert!(
        dark["error"].as_str().unwrap().contains("ssh refused"),
        "{dark:#}"
    );
    assert_eq!(json["summary"]["up"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_table_warns_about_the_stale_hosts_entry() {
    let m = start_move().await;
    let out = check(&m, false).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("HOST"), "{text}");
    let web = lines.iter().find(|l| l.starts_with("web ")).unwrap();
    assert!(
        web.contains("● up") && web.contains("200") && web.contains("new/timeout"),
        "{web}"
    );
    let pinned = lines.iter().find(|l| l.starts_with("pinned ")).unwrap();
    assert!(
        pinned.contains("(hosts file)") && pinned.contains("OLD IP"),
        "{pinned}"
    );
    assert!(
        text.contains("warning: pinned.example.org: ")
            && text.contains("points pinned at the OLD address"),
        "{text}"
    );
    assert!(
        text.contains("warning: dark.example.org: resolver primary still answers the OLD address"),
        "{text}"
    );
    assert!(
        !text.contains('\x1b'),
        "no raw escape reaches the terminal:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_prints_the_resolver_matrix_with_old_until() {
    let m = start_move().await;
    let inventory = m.dir.path().join("inventory.toml");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["dns", "--json", "--inventory"])
        .arg(&inventory)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let names = json["names"].as_array().unwrap();
    let row = |fqdn: &str| names.iter().find(|r| r["fqdn"] == fqdn).unwrap().clone();
    let web = row("web.example.org");
    assert_eq!(web["cells"][0]["verdict"], "new");
    assert_eq!(web["cells"][0]["ttl"], 300);
    assert_eq!(web["cells"][1]["verdict"], "timeout");
    assert!(
        web["old_until"].is_null(),
        "nobody serves web's old address"
    );
    // dark's name still points at its old address at the primary, TTL 300 s: old answers may
    // be served until five minutes after the observation.
    let dark = row("dark.example.org");
    assert_eq!(dark["cells"][0]["verdict"], "old");
    let observed =
        chrono::DateTime::parse_from_rfc3339(dark["cells"][0]["observed"].as_str().unwrap())
            .unwrap();
    let until = chrono::DateTime::parse_from_rfc3339(dark["old_until"].as_str().unwrap()).unwrap();
    assert_eq!((until - observed).num_seconds(), 300, "{dark:#}");
    assert_eq!(json["resolvers"][0]["name"], "primary");
    assert_eq!(json["resolvers"][0]["old_until"], dark["old_until"]);
    assert!(json["resolvers"][1]["old_until"].is_null());

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["dns", "--inventory"])
        .arg(&inventory)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("OLD UNTIL"), "{text}");
    let dark_line = text
        .lines()
        .find(|l| l.starts_with("dark.example.org"))
        .unwrap();
    assert!(dark_line.contains("⚠ OLD 127.91.0.112 300s"), "{dark_line}");
    assert!(
        text.contains("primary may serve old answers until "),
        "{text}"
    );
}
