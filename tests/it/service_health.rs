//! Issue 5's "done when", end to end: on a host whose port 80 is silently dropped, moveday
//! says `filtered` (not "down"), a page frozen since before the reboot is `stale` with its
//! age, a certificate about to expire is flagged, and all of it appears in `check --json`,
//! in `check`'s text and in the UI.
//!
//! Everything is real: a network namespace with an nftables rule dropping TCP to port 80
//! (where a daemon does listen), an SSH banner on 22, an HTTP server on 8080 whose page was
//! last modified 3 days ago, a TLS server on 8443 whose certificate (from a CA made here,
//! trusted through the inventory's `ca_file`) expires in 5 days. The `moveday` binary
//! probes it with an inventory written here, and so does `moveday::check::run` in-process
//! for the screens. No packet leaves the machine: DNS (the resolver, and the system
//! resolver that reverse DNS uses) points at a closed port inside the namespace.

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::common::netns::{self, Netns};
use chrono::{DateTime, Utc};
use moveday::check::{self, exit_code};
use moveday::config::{Inventory, Theme};
use moveday::probe::dns::SystemDns;
use moveday::probe::ping::Pinger;
use moveday::probe::scheduler::{ProbeEnv, Scope};
use moveday::store::State;
use moveday::ui::{self, Screen, UiState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SSH: u16 = 22;
/// Dropped by the namespace's firewall, though a daemon listens.
const DROPPED: u16 = 80;
const PLANET: u16 = 8080;
const TLS: u16 = 8443;

/// How old the planet page is: frozen since before the reboot.
const PAGE_AGE: Duration = Duration::from_secs(3 * 86_400);
/// The certificate's remaining life; the extra hour keeps the day count at 5 however slow
/// the machine is.
const CERT_LIFE: Duration = Duration::from_secs(5 * 86_400 + 3600);

const SSH_BANNER: &str = "SSH-2.0-OpenSSH_9.6p1 moveday-test";

// ---------------------------------------------------------------- the servers

/// A CA made for the test, and a leaf for www.example.org that it signed.
struct Pki {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The leaf's notAfter, `YYYY-MM-DD` (as the warning prints it).
    expiry_date: String,
}

fn pki(now: SystemTime) -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "moveday service-health test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(params, ca_key);

    let mut leaf = CertificateParams::new(vec!["www.example.org".to_string()]).unwrap();
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "www.example.org");
    let not_after = now + CERT_LIFE;
    leaf.not_before = time::OffsetDateTime::from(now - Duration::from_secs(30 * 86_400));
    leaf.not_after = time::OffsetDateTime::from(not_after);
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: pem("CERTIFICATE", ca_cert.der()),
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        expiry_date: DateTime::<Utc>::from(not_after)
            .format("%Y-%m-%d")
            .to_string(),
    }
}

/// DER as PEM (rcgen's `pem` feature is off here).
fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            b64.push(if i <= chunk.len() {
                char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize])
            } else {
                '='
            });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Waits (a while at most) for the client to close: servers do not hang up first.
async fn linger<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) {
    let mut sink = [0u8; 512];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Serves every connection of `listener` with `handler`.
fn serve<F, Fut>(listener: std::net::TcpListener, handler: F)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
}

/// Starts the namespace's daemons on `listeners` (22, 80, 8080, 8443, in that order).
/// Must be called inside the runtime that will serve them.
fn start_servers(listeners: Vec<std::net::TcpListener>, pki: &Pki, last_modified: String) {
    let [ssh, dropped, planet, tls]: [std::net::TcpListener; 4] =
        listeners.try_into().expect("four listeners");

    serve(ssh, |mut stream| async move {
        let _ = stream
            .write_all(format!("{SSH_BANNER}\r\n").as_bytes())
            .await;
        linger(&mut stream).await;
    });

    // Port 80 has a daemon: what the prober sees there is the firewall's doing.
    serve(dropped, |mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    });

    let body = "<html><head><title>Planet example.org</title></head>\
                <body><p>Nothing new since the reboot.</p></body></html>";
    let page = Arc::new(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nLast-Modified: {last_modified}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    serve(planet, move |mut stream| {
        let page = page.clone();
        async move {
            // Read the request head, then answer.
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match stream.read(&mut chunk).await {
                    Ok(n) if n > 0 => head.extend_from_slice(&chunk[..n]),
                    _ => return,
                }
            }
            let _ = stream.write_all(page.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    serve(tls, move |stream| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(stream).await {
                linger(&mut tls).await;
            }
        }
    });
}

// ---------------------------------------------------------------- the inventory

fn inventory_text(ip: Ipv4Addr, hosts_file: &Path) -> String {
    format!(
        r#"hosts_file = "{hosts}"

[move]
name = "service health"

[probe]
interval = "1s"
timeout = "1s"
ca_file = "ca.pem"    # relative to this file

# Port 53 in the namespace: nothing listens, so every lookup fails at once, on the machine.
[[resolver]]
name = "ns"
address = "{ip}"

[[host]]
name = "www"
fqdn = "www.example.org"
new_ip = "{ip}"
ping = false
ssh = {SSH}
ports = [{SSH}, {DROPPED}]

[[host.service]]
name = "planet"
kind = "http"
url = "http://planet.example.org:{PLANET}/"
max_age = "1h"

[[host.service]]
name = "cert"
kind = "tls"
port = {TLS}
server_name = "www.example.org"
"#,
        hosts = hosts_file.display()
    )
}

// ---------------------------------------------------------------- the binary

/// `moveday ARGS --inventory INVENTORY`, started (not waited for), in a mount namespace of
/// its own where `/etc/resolv.conf` is `resolv_conf`: reverse DNS of `new_ip` asks the
/// system resolver, and that query must not leave the machine either.
fn spawn_moveday(inventory: &Path, args: &[&str], resolv_conf: &Path) -> Running {
    let source = CString::new(resolv_conf.as_os_str().as_bytes()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_moveday"));
    cmd.args(args)
        .arg("--inventory")
        .arg(inventory)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only makes system calls
    // (unshare, mount) on data prepared before the fork; no allocation, no locks.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            // Nothing mounted here may show in the parent's namespace.
            let flags = libc::MS_REC | libc::MS_PRIVATE;
            let none = std::ptr::null();
            if libc::mount(none, c"/".as_ptr(), none, flags, std::ptr::null()) != 0 {
                return fail();
            }
            // Without a resolv.conf (ENOENT) the system resolver has no server to ask.
            let target = c"/etc/resolv.conf".as_ptr();
            let bind = libc::mount(
                source.as_ptr(),
                target,
                none,
                libc::MS_BIND,
                std::ptr::null(),
            );
            if bind != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
                return fail();
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("moveday {args:?} in a mount namespace of its own: {e}"));
    Running(Some(child))
}

/// A running `moveday`, killed if the test fails before [`finish`] waits for it (it must
/// not go on probing an address whose namespace is gone).
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn finish(mut running: Running, what: &str) -> Output {
    let out = running.0.take().unwrap().wait_with_output().unwrap();
    eprintln!(
        "--- moveday {what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ---------------------------------------------------------------- the screens

fn screen(state: &State, ui: &UiState, width: u16, height: u16) -> String {
    let theme = Theme::by_name("dark").unwrap();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| ui::render(frame, state, ui, &theme, SystemTime::now()))
        .unwrap();
    // One line per row, without the quotes TestBackend's Display puts around them.
    let buf = terminal.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            row.trim_end().to_string() + "\n"
        })
        .collect()
}

// ---------------------------------------------------------------- the test

/// The reasons of a host in `check --json`.
fn reasons(host: &Value) -> Vec<&str> {
    host["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

fn by_key<'a>(list: &'a Value, key: &str, value: Value) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list:#}"))
}

#[test]
#[ignore = "needs root: network namespaces and nftables"]
fn dropped_port_stale_page_and_expiring_cert_in_check_json_text_and_ui() {
    netns::require();
    let started = Instant::now();
    let ns = Netns::create("mdsh", "mdsh", 215);
    // Only what comes in over the pair is dropped: from inside, the daemon answers.
    ns.nft(&format!(
        "table inet moveday_service_health {{
            chain input {{
                type filter hook input priority 0; policy accept;
                iifname \"{}\" tcp dport {DROPPED} drop
            }}
        }}",
        ns.peer
    ));
    let ip = ns.inner;
    let listeners = ns.listen(&[SSH, DROPPED, PLANET, TLS]);
    // The daemon on port 80 is there: the prober will meet the firewall, not a closed port.
    let answered = ns.inside(move || {
        std::net::TcpStream::connect_timeout(
            &SocketAddr::from((ip, DROPPED)),
            Duration::from_secs(2),
        )
    });
    assert!(
        answered.is_ok(),
        "port {DROPPED} from inside the namespace: {answered:?}"
    );

    let now = SystemTime::now();
    let pki = pki(now);
    let last_modified = DateTime::<Utc>::from(now - PAGE_AGE)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let hosts_file = dir.path().join("hosts");
    std::fs::write(&hosts_file, "127.0.0.1 localhost\n").unwrap();
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        format!("nameserver {ip}\noptions timeout:1 attempts:1\n"),
    )
    .unwrap();
    let inventory: PathBuf = dir.path().join("move.toml");
    std::fs::write(&inventory, inventory_text(ip, &hosts_file)).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { start_servers(listeners, &pki, last_modified) });

    // The binary twice (JSON and text) and the library once, all at the same time: each
    // takes two rounds (check retries the failing port up to fail_after = 2), about 2 s.
    let json_child = spawn_moveday(&inventory, &["check", "--json"], &resolv_conf);
    let text_child = spawn_moveday(&inventory, &["check"], &resolv_conf);
    let inv = Arc::new(Inventory::load(&inventory).unwrap());
    assert_eq!(
        inv.probe.ca_file.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
    let state = rt.block_on(async {
        let system = SystemDns::Servers(vec![SocketAddr::new(IpAddr::V4(ip), 53)]);
        let env = Arc::new(ProbeEnv::with_system_dns(&inv, Pinger::tcp(), system));
        check::run(inv.clone(), env, Scope::Everything).await
    });
    let json_out = finish(json_child, "check --json");
    let text_out = finish(text_child, "check");

    // ------------------------------------------------------------ check --json
    assert_eq!(json_out.status.code(), Some(1), "a host is not up: exit 1");
    let json: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    let www = by_key(&json["hosts"], "name", "www".into());
    eprintln!("--- www in check --json:\n{www:#}");
    let reasons = reasons(www);
    assert_eq!(www["health"], "degraded", "filtered is not down: {www:#}");
    assert_eq!(www["target"], ip.to_string());
    assert_eq!(json["summary"]["degraded"], 1);
    assert!(reasons.contains(&"port 80 filtered (ACL?)"), "{reasons:#?}");
    assert!(
        reasons.contains(&"planet stale: updated 3d ago, max_age 1h"),
        "{reasons:#?}"
    );
    let cert_warning = format!(
        "certificate expires in 5 days ({}), within warn_days 14",
        pki.expiry_date
    );
    assert!(
        reasons.contains(&format!("cert: {cert_warning}").as_str()),
        "{reasons:#?}"
    );
    assert_eq!(reasons.len(), 3, "nothing else is wrong: {reasons:#?}");

    assert_eq!(www["ssh"]["ok"], true, "{www:#}");
    assert_eq!(www["ssh"]["banner"], SSH_BANNER);
    let ports = &www["ports"];
    assert_eq!(ports.as_array().unwrap().len(), 2, "{ports:#}");
    assert_eq!(by_key(ports, "port", SSH.into())["state"], "open");
    let dropped = by_key(ports, "port", DROPPED.into());
    assert_eq!(dropped["state"], "filtered", "{dropped:#}");
    assert_eq!(dropped["detail"], "no answer in 1s: firewall/ACL drop");
    assert_eq!(dropped["damping"]["state"], "down", "two drops in a row");

    let services = &www["services"];
    let planet = by_key(services, "name", "planet".into());
    assert_eq!(planet["kind"], "http");
    assert_eq!(planet["state"], "stale", "{planet:#}");
    let age = planet["age_s"].as_u64().unwrap();
    let three_days = PAGE_AGE.as_secs();
    assert!(
        age.abs_diff(three_days) <= 3600,
        "age {age} s, expected about {three_days} s"
    );
    assert_eq!(planet["error"], "stale: updated 3d ago, max_age 1h");

    let cert = by_key(services, "name", "cert".into());
    assert_eq!(cert["kind"], "tls");
    assert_eq!(cert["state"], "warn", "{cert:#}");
    assert_eq!(cert["error"], cert_warning.as_str());
    let info = &cert["cert"];
    assert_eq!(info["days_left"], 5, "{info:#}");
    assert_eq!(info["trusted"], true, "the inventory's ca_file: {info:#}");
    assert_eq!(info["name_matches"], true, "{info:#}");
    assert_eq!(info["chain_error"], Value::Null, "{info:#}");
    assert_eq!(info["subject"], "CN=www.example.org", "{info:#}");
    assert_eq!(info["issuer"], "CN=moveday service-health test CA");

    // ------------------------------------------------------------ check (text)
    assert_eq!(text_out.status.code(), Some(1));
    let text = String::from_utf8(text_out.stdout).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("www "))
        .unwrap_or_else(|| panic!("no row for www:\n{text}"));
    assert!(row.contains("◐ degraded"), "{row}");
    let why = text
        .lines()
        .find(|l| l.starts_with("www: "))
        .unwrap_or_else(|| panic!("no reasons line for www:\n{text}"));
    for reason in &reasons {
        assert!(why.contains(reason), "{reason:?} not in {why:?}");
    }
    assert!(
        text.contains("0 up, 1 degraded, 0 down, 0 unknown"),
        "{text}"
    );

    // ------------------------------------------------------------ the UI
    assert_eq!(exit_code(&state), 1);
    let in_process = check::to_json(&state);
    assert_eq!(in_process["hosts"][0]["health"], "degraded");
    assert_eq!(
        in_process["hosts"][0]["reasons"], www["reasons"],
        "the library and the binary agree"
    );

    let mut ui = UiState::new(chrono::FixedOffset::east_opt(0).unwrap());
    let grid = screen(&state, &ui, 120, 30);
    eprintln!("--- grid and detail, 120x30:\n{grid}");
    for expected in [
        "◐ degraded www",
        // The grid's columns: the port, the worst service.
        "✖ 80 filtered",
        "⚠ planet stale",
        // The detail pane: the health line, every port and service.
        "port 80 filtered (ACL?)",
        "✔ 22 open · ✖ 80 filtered (ACL?)",
        "⚠ stale planet (http) · stale: updated 3d ago, max_age 1h",
        &format!("⚠ warn cert (tls) · {cert_warning}"),
    ] {
        assert!(
            grid.contains(expected),
            "{expected:?} not on the grid:\n{grid}"
        );
    }
    assert!(!grid.contains("✖ down"), "{grid}");

    ui.screen = Some(Screen::Services);
    let services_screen = screen(&state, &ui, 140, 20);
    eprintln!("--- ports and services, 140x20:\n{services_screen}");
    assert!(
        services_screen.contains(
            "⚠ 3 problems: www port 80 filtered (ACL?) · www planet: stale · www cert: certificate expires in 5 days"
        ),
        "{services_screen}"
    );
    for (check, expected) in [
        ("port 22 ", vec!["✔ open"]),
        (
            "port 80 ",
            vec!["✖ filtered (ACL?)", "no answer in 1s: firewall/ACL drop"],
        ),
        (
            "planet (http)",
            vec!["⚠ stale", "stale: updated 3d ago, max_age 1h"],
        ),
        ("cert (tls)", vec!["⚠ warn", &cert_warning]),
    ] {
        // The rows under the header (the summary line above names the checks too).
        let line = services_screen
            .lines()
            .skip_while(|l| !l.starts_with("Host "))
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("no line for {check:?}:\n{services_screen}"));
        for text in expected {
            assert!(line.contains(text), "{text:?} not in {line:?}");
        }
    }

    drop(rt);
    drop(ns);
    let took = started.elapsed();
    eprintln!("service-health test took {took:?}");
}
