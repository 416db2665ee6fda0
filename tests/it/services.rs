//! Port and service probes against real servers the tests start themselves: tokio
//! listeners on loopback (plain, TLS with certificates made here with rcgen, SMTP, raw TCP)
//! and, for the firewall cases, a network namespace with an nftables rule. Every listener
//! binds an ephemeral port and every namespace has its own name, so the tests run in
//! parallel with each other and with the rest of the suite.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::common::in_time;
use crate::common::netns::{self, Netns};
use chrono::Utc;
use moveday::config::service::{
    BodyMatch, DEFAULT_MAX_BODY, DEFAULT_WARN_DAYS, Freshness, HttpService, Pattern, ServiceConfig,
    ServiceKind, SmtpService, TcpService, TlsService,
};
use moveday::probe::ports::{PortState, probe_port, probe_ports};
use moveday::probe::service::{
    ServiceResult, ServiceState, TlsTrust, probe_service, probe_service_with,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SECOND: Duration = Duration::from_secs(1);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---------------------------------------------------------------- helpers

/// Serves every connection on a fresh loopback port with `handler`.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    addr
}

/// A loopback port with nothing listening on it.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    listener.local_addr().unwrap().port()
}

fn service(kind: ServiceKind) -> ServiceConfig {
    ServiceConfig {
        name: "test".into(),
        kind,
    }
}

fn http(url: String) -> HttpService {
    HttpService {
        url,
        expect_status: 200,
        contains: None,
        freshness: None,
        max_body: DEFAULT_MAX_BODY,
        warn_days: DEFAULT_WARN_DAYS,
    }
}

fn pattern(source: &str) -> Pattern {
    Pattern::new(source).unwrap()
}

fn tcp(port: u16, send: Option<&str>, expect: Option<BodyMatch>) -> ServiceConfig {
    service(ServiceKind::Tcp(TcpService {
        port,
        send: send.map(str::to_string),
        expect,
    }))
}

async fn probe(svc: &ServiceConfig, timeout: Duration) -> ServiceResult {
    probe_service(
        svc,
        "www.example.org",
        LOCALHOST,
        timeout,
        SystemTime::now(),
    )
    .await
}

/// No terminal control character survives in what the operator reads.
fn assert_clean(r: &ServiceResult) {
    for text in std::iter::once(&r.detail).chain(r.error.as_ref()) {
        assert!(
            !text.chars().any(char::is_control),
            "control character in {text:?}"
        );
    }
}

fn error(r: &ServiceResult) -> &str {
    r.error.as_deref().unwrap_or("")
}

/// An HTTP date (`Last-Modified`) `ago` before now.
fn http_date(ago: chrono::Duration) -> String {
    (Utc::now() - ago)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Reads a request head (up to the blank line) and returns its Host header.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_string())
}

fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Answers every request with `reply` and records the Host headers seen.
async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    reply: Arc<Vec<u8>>,
    hosts: Arc<Mutex<Vec<String>>>,
) {
    if let Some(host) = read_request(&mut stream).await {
        hosts.lock().unwrap().push(host);
    }
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

struct HttpServer {
    addr: SocketAddr,
    hosts: Arc<Mutex<Vec<String>>>,
}

async fn http_server(reply: Vec<u8>) -> HttpServer {
    let reply = Arc::new(reply);
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let seen = hosts.clone();
    let addr = serve(move |stream| respond(stream, reply.clone(), seen.clone())).await;
    HttpServer { addr, hosts }
}

// ---------------------------------------------------------------- certificates

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "moveday test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A certificate for `names`, valid from `from` to `until` days after `now`, signed by `ca`
/// (self-signed without one). Probing with the same `now` makes the day counts exact.
fn leaf(ca: Option<&Ca>, names: &[&str], now: SystemTime, from: i64, until: i64) -> Leaf {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let now = time::OffsetDateTime::from(now);
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    let key = KeyPair::generate().unwrap();
    let cert = match ca {
        Some(ca) => params.signed_by(&key, &ca.issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    Leaf {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

fn trust(ca: &Ca) -> TlsTrust {
    TlsTrust::with_extra_roots([ca.der.clone()]).unwrap()
}

/// A TLS server on loopback with `leaf`; with `reply`, it answers one HTTP request per
/// connection, else it only completes the handshake and waits for the client to leave.
async fn tls_server(leaf: Leaf, reply: Option<Vec<u8>>) -> HttpServer {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let reply = reply.map(Arc::new);
    let hosts = Arc::new(Mutex::new(Vec::new()));
    let seen = hosts.clone();
    let addr = serve(move |stream| {
        let acceptor = acceptor.clone();
        let reply = reply.clone();
        let seen = seen.clone();
        async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            match reply {
                Some(reply) => respond(tls, reply, seen).await,
                None => {
                    let mut sink = [0u8; 256];
                    let _ = tokio::time::timeout(secs(5), tls.read(&mut sink)).await;
                }
            }
        }
    })
    .await;
    HttpServer { addr, hosts }
}

// ---------------------------------------------------------------- ports

#[tokio::test]
async fn ports_open_and_refused_in_input_order() {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = closed_port().await;

    let one = probe_port(LOCALHOST, open, SECOND).await;
    assert_eq!(
        (one.port, one.state, one.detail.as_deref()),
        (open, PortState::Open, None)
    );

    let all = probe_ports(LOCALHOST, &[closed, open, closed], SECOND).await;
    let states: Vec<_> = all.iter().map(|r| (r.port, r.state)).collect();
    assert_eq!(
        states,
        [
            (closed, PortState::Refused),
            (open, PortState::Open),
            (closed, PortState::Refused)
        ]
    );
    assert_eq!(all[0].detail.as_deref(), Some("nothing listening"));
    assert_eq!(all[0].state.word(), "refused");
    assert!(all.iter().all(|r| r.latency < SECOND));
    assert_eq!(
        serde_json::to_string(&PortState::Filtered).unwrap(),
        "\"filtered\""
    );
}

const NS_OPEN: u16 = 8080;
const NS_DROPPED: u16 = 8081;
const NS_CLOSED: u16 = 8082;
const NS_HOST_UNREACH: u16 = 8083;
const NS_NET_UNREACH: u16 = 8084;

/// The namespace, with a listener on `NS_OPEN` (kept open by holding it) and the rules.
fn netns_setup() -> (Netns, std::net::TcpListener) {
    // A /30 of 10.213.0.0/16 of our own, chosen by pid so parallel runs do not collide.
    let ns = Netns::create("mdsvc", "mdsv", 213);
    ns.nft(&format!(
        "table inet moveday_test {{
            chain input {{
                type filter hook input priority 0; policy accept;
                tcp dport {NS_DROPPED} drop
                tcp dport {NS_HOST_UNREACH} reject with icmp type host-unreachable
                tcp dport {NS_NET_UNREACH} reject with icmp type net-unreachable
            }}
        }}"
    ));
    let open = ns.listen(&[NS_OPEN]).remove(0);
    (ns, open)
}

#[tokio::test]
#[ignore = "needs root: network namespaces and nftables"]
async fn ports_filtered_by_a_firewall_in_a_network_namespace() {
    netns::require();
    let (ns, open) = tokio::task::spawn_blocking(netns_setup).await.unwrap();
    let ip = IpAddr::V4(ns.inner);

    let started = Instant::now();
    let ports = [
        NS_OPEN,
        NS_DROPPED,
        NS_CLOSED,
        NS_HOST_UNREACH,
        NS_NET_UNREACH,
    ];
    let results = probe_ports(ip, &ports, SECOND).await;
    let elapsed = started.elapsed();
    let got: Vec<_> = results.iter().map(|r| (r.port, r.state)).collect();
    assert_eq!(
        got,
        [
            (NS_OPEN, PortState::Open),
            (NS_DROPPED, PortState::Filtered),
            (NS_CLOSED, PortState::Refused),
            (NS_HOST_UNREACH, PortState::Filtered),
            (NS_NET_UNREACH, PortState::Filtered),
        ],
        "{results:#?}"
    );
    // The drop is only known by the timeout; the ports are probed at once, so the whole
    // call takes one timeout, not five.
    let dropped = &results[1];
    assert!(dropped.latency >= Duration::from_millis(950), "{dropped:?}");
    assert!(elapsed < in_time(SECOND), "{elapsed:?}");
    assert_eq!(
        dropped.detail.as_deref(),
        Some("no answer in 1s: firewall/ACL drop")
    );
    // Rejects come back at once, naming the ICMP error.
    let host = &results[3];
    assert!(
        host.detail.as_deref().unwrap().starts_with("EHOSTUNREACH"),
        "{host:?}"
    );
    assert!(host.latency < Duration::from_millis(500), "{host:?}");
    let net = &results[4];
    assert!(
        net.detail.as_deref().unwrap().starts_with("ENETUNREACH"),
        "{net:?}"
    );

    // Services read the same classification.
    let r = probe_service(
        &tcp(NS_DROPPED, None, None),
        "ns.test",
        ip,
        SECOND,
        SystemTime::now(),
    )
    .await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "filtered: no answer in 1s")
    );
    let smtp = service(ServiceKind::Smtp(SmtpService {
        port: NS_HOST_UNREACH,
        ehlo: "moveday.invalid".into(),
        expect_starttls: true,
    }));
    let r = probe_service(&smtp, "ns.test", ip, SECOND, SystemTime::now()).await;
    assert!(error(&r).starts_with("unreachable: EHOSTUNREACH"), "{r:?}");
    drop(open);
    drop(ns);
}

// ---------------------------------------------------------------- http

#[tokio::test]
async fn http_stale_last_modified_reports_the_age() {
    let server = http_server(response(
        "200 OK",
        &[("Last-Modified", http_date(chrono::Duration::days(3)))],
        b"<h1>Planet</h1>",
    ))
    .await;
    let mut h = http(format!("http://planet.example.org:{}/", server.addr.port()));
    h.freshness = Some(Freshness {
        max_age: secs(3600),
        fresh_regex: None,
        fresh_format: None,
    });
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(r.state, ServiceState::Stale, "{r:?}");
    let age = r.age.unwrap();
    assert!(
        age >= secs(3 * 86400) && age < secs(3 * 86400 + 60),
        "{age:?}"
    );
    assert_eq!(error(&r), "stale: updated 3d ago, max_age 1h");
    assert_eq!(r.detail, "200 OK · 15 B · updated 3d ago");
    assert!(r.cert.is_none());
}

#[tokio::test]
async fn http_fresh_timestamp_in_the_body_is_ok() {
    let stamp = (Utc::now() - chrono::Duration::minutes(10)).format("%Y-%m-%d %H:%M");
    let body = format!("<html><p class=\"updated\">Last updated: {stamp} UTC</p></html>");
    // An old Last-Modified, to show the regex and not the header decides.
    let server = http_server(response(
        "200 OK",
        &[("Last-Modified", http_date(chrono::Duration::days(30)))],
        body.as_bytes(),
    ))
    .await;
    let mut h = http(format!("http://planet.example.org:{}/", server.addr.port()));
    h.freshness = Some(Freshness {
        max_age: secs(3600),
        fresh_regex: Some(pattern(r"Last updated: (\d{4}-\d\d-\d\d \d\d:\d\d)")),
        fresh_format: Some("%Y-%m-%d %H:%M".into()),
    });
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(
        (r.state, r.error.as_deref()),
        (ServiceState::Ok, None),
        "{r:?}"
    );
    let age = r.age.unwrap();
    assert!(age >= secs(9 * 60) && age <= secs(11 * 60), "{age:?}");
    assert!(
        r.detail.contains("updated 10m") || r.detail.contains("updated 9m"),
        "{}",
        r.detail
    );

    // Without a format: RFC 3339 (the whole match when there is no group).
    let rfc3339 = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let server = http_server(response(
        "200 OK",
        &[],
        format!("built {rfc3339}").as_bytes(),
    ))
    .await;
    h.url = format!("http://planet.example.org:{}/", server.addr.port());
    h.freshness = Some(Freshness {
        max_age: secs(6 * 3600),
        fresh_regex: Some(pattern(r"\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)")),
        fresh_format: None,
    });
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(r.state, ServiceState::Ok, "{r:?}");
    assert!(r.detail.ends_with("updated 2h ago"), "{}", r.detail);

    // Unix seconds.
    let unix = (Utc::now() - chrono::Duration::hours(8)).timestamp();
    let server = http_server(response(
        "200 OK",
        &[],
        format!("{{\"mtime\": {unix}}}").as_bytes(),
    ))
    .await;
    h.url = format!("http://planet.example.org:{}/", server.addr.port());
    h.freshness = Some(Freshness {
        max_age: secs(6 * 3600),
        fresh_regex: Some(pattern(r#""mtime": (\d+)"#)),
        fresh_format: None,
    });
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(r.state, ServiceState::Stale, "{r:?}");
    assert_eq!(error(&r), "stale: updated 8h ago, max_age 6h");
}

/// Times as pages print them, captured by `fresh_regex` with no `fresh_format` (issue 15:
/// `2026-12-04 07:51 UTC` failed "as RFC 3339, RFC 2822 or Unix seconds").
#[tokio::test]
async fn http_fresh_timestamp_in_common_layouts_needs_no_format() {
    let then = Utc::now() - chrono::Duration::minutes(90);
    for printed in [
        then.format("%Y-%m-%d %H:%M UTC").to_string(),
        then.format("%B %-d, %Y at %-I:%M %p").to_string(),
        then.format("%d-%b-%Y %H:%M").to_string(),
        then.with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
            .format("%d.%m.%Y %H:%M %:z")
            .to_string(),
    ] {
        let body = format!("<footer>Last updated: {printed}</footer>");
        let server = http_server(response("200 OK", &[], body.as_bytes())).await;
        let mut h = http(format!("http://planet.example.org:{}/", server.addr.port()));
        h.freshness = Some(Freshness {
            max_age: secs(3600),
            fresh_regex: Some(pattern(r"Last updated: ([^<]+)<")),
            fresh_format: None,
        });
        let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
        assert_eq!(
            (r.state, error(&r)),
            (ServiceState::Stale, "stale: updated 1h 30m ago, max_age 1h"),
            "{printed}: {r:?}"
        );
        assert!(!r.detail.contains("Last-Modified"), "{}", r.detail);
    }
}

/// A body without a readable time falls back to `Last-Modified`, and the detail says so.
#[tokio::test]
async fn http_freshness_falls_back_to_last_modified_and_says_so() {
    let cases = [
        ("<p>no date here</p>", "fresh_regex matched nothing"),
        (
            "<p>Updated: 04/12/2026</p>",
            "cannot read timestamp \"04/12/2026\" without fresh_format",
        ),
    ];
    for (body, why) in cases {
        let server = http_server(response(
            "200 OK",
            &[("Last-Modified", http_date(chrono::Duration::hours(2)))],
            body.as_bytes(),
        ))
        .await;
        let mut h = http(format!("http://planet.example.org:{}/", server.addr.port()));
        h.freshness = Some(Freshness {
            max_age: secs(6 * 3600),
            fresh_regex: Some(pattern(r"Updated: (\S+)<")),
            fresh_format: None,
        });
        let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
        assert_eq!(
            (r.state, r.error.as_deref()),
            (ServiceState::Ok, None),
            "{r:?}"
        );
        assert!(
            r.detail
                .ends_with(&format!("time from Last-Modified ({why}) · updated 2h ago")),
            "{}",
            r.detail
        );
    }
}

#[tokio::test]
async fn http_freshness_needs_a_timestamp_and_the_future_is_not_stale() {
    let no_header = http_server(response("200 OK", &[], b"hello")).await;
    let mut h = http(format!(
        "http://planet.example.org:{}/",
        no_header.addr.port()
    ));
    h.freshness = Some(Freshness {
        max_age: secs(3600),
        fresh_regex: None,
        fresh_format: None,
    });
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "no Last-Modified header")
    );

    let mut regex = h.clone();
    regex.freshness.as_mut().unwrap().fresh_regex = Some(pattern(r"Updated: (\S+)"));
    let r = probe(&service(ServiceKind::Http(regex)), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (
            ServiceState::Fail,
            "fresh_regex matched nothing; no Last-Modified header"
        )
    );

    let garbled = http_server(response(
        "200 OK",
        &[("Last-Modified", "yesterday \u{9b}31m".to_string())],
        b"",
    ))
    .await;
    h.url = format!("http://planet.example.org:{}/", garbled.addr.port());
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(r.state, ServiceState::Fail);
    assert!(error(&r).starts_with("cannot read Last-Modified"), "{r:?}");
    assert_clean(&r);

    let future = http_server(response(
        "200 OK",
        &[("Last-Modified", http_date(chrono::Duration::hours(-2)))],
        b"",
    ))
    .await;
    h.url = format!("http://planet.example.org:{}/", future.addr.port());
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!((r.state, r.age), (ServiceState::Ok, None), "{r:?}");
    assert!(r.detail.contains("in the future"), "{}", r.detail);
}

#[tokio::test]
async fn http_wrong_status_and_redirects_are_reported_not_followed() {
    let down = http_server(response("503 Service Unavailable", &[], b"maintenance")).await;
    let h = http(format!("http://www.example.org:{}/", down.addr.port()));
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "status 503, expected 200")
    );
    assert!(
        r.detail.starts_with("503 Service Unavailable"),
        "{}",
        r.detail
    );

    let moved = http_server(response(
        "301 Moved Permanently",
        &[("Location", "https://old.example.org/\u{9b}2J".to_string())],
        b"",
    ))
    .await;
    let h = http(format!("http://www.example.org:{}/", moved.addr.port()));
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(r.state, ServiceState::Fail);
    assert!(
        error(&r).starts_with("status 301 → https://old.example.org/"),
        "{r:?}"
    );
    assert!(error(&r).ends_with("expected 200"), "{r:?}");
    assert_clean(&r);
    assert_eq!(
        moved.hosts.lock().unwrap().len(),
        1,
        "the redirect was followed"
    );

    // A redirect that is expected is fine.
    let mut expect_301 = h;
    expect_301.expect_status = 301;
    let r = probe(&service(ServiceKind::Http(expect_301)), SECOND).await;
    assert_eq!(r.state, ServiceState::Ok, "{r:?}");
}

#[tokio::test]
async fn http_contains_miss_with_substring_and_regex() {
    let server = http_server(response("200 OK", &[], b"<title>Planet KDE</title>")).await;
    let mut h = http(format!("http://planet.example.org:{}/", server.addr.port()));

    h.contains = Some(BodyMatch::Substring("Planet GNOME".into()));
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "body lacks \"Planet GNOME\"")
    );

    h.contains = Some(BodyMatch::Regex(pattern(r"Planet (GNOME|Debian)")));
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "body lacks /Planet (GNOME|Debian)/")
    );

    h.contains = Some(BodyMatch::Regex(pattern(r"Planet (GNOME|KDE)")));
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!((r.state, r.error), (ServiceState::Ok, None));
}

#[tokio::test]
async fn http_body_over_max_body_is_cut_not_an_error() {
    let mut body = b"<title>Planet</title>".to_vec();
    body.resize(256 * 1024, b'x');
    body.extend_from_slice(b"THE END");
    let server = http_server(response("200 OK", &[], &body)).await;
    let mut h = http(format!("http://planet.example.org:{}/", server.addr.port()));
    h.max_body = 16 * 1024;
    h.contains = Some(BodyMatch::Substring("<title>Planet</title>".into()));
    let r = probe(&service(ServiceKind::Http(h.clone())), SECOND).await;
    assert_eq!(
        (r.state, r.error.as_deref()),
        (ServiceState::Ok, None),
        "{r:?}"
    );
    assert_eq!(r.detail, "200 OK · 16 KiB (cut at max_body)");

    // What lies past the cap is not seen, and the error says so.
    h.contains = Some(BodyMatch::Substring("THE END".into()));
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(error(&r), "body lacks \"THE END\" (in the first 16 KiB)");
}

#[tokio::test]
async fn http_host_header_is_the_urls_host_while_connecting_to_the_ip() {
    let server = http_server(response("200 OK", &[], b"ok")).await;
    let port = server.addr.port();
    let h = http(format!("http://www.example.org:{port}/index.html"));
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(r.state, ServiceState::Ok, "{r:?}");
    assert_eq!(
        *server.hosts.lock().unwrap(),
        [format!("www.example.org:{port}")]
    );

    // An address literal in the URL that is not the target: the connection still goes to
    // the target, and Host keeps the URL's authority.
    let h = http(format!("http://192.0.2.7:{port}/"));
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(r.state, ServiceState::Ok, "{r:?}");
    assert_eq!(server.hosts.lock().unwrap()[1], format!("192.0.2.7:{port}"));
}

#[tokio::test]
async fn http_refused_slow_and_hostile_servers_end_cleanly() {
    let h = http(format!("http://www.example.org:{}/", closed_port().await));
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "connect refused"),
        "{r:?}"
    );

    // Slowloris: headers, then one body byte every 100 ms.
    let slow = serve(|mut stream: TcpStream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if stream.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let timeout = Duration::from_millis(800);
    let h = http(format!("http://www.example.org:{}/", slow.port()));
    let started = Instant::now();
    let r = probe(&service(ServiceKind::Http(h)), timeout).await;
    assert!(started.elapsed() < in_time(timeout));
    assert_eq!(r.state, ServiceState::Fail);
    assert!(
        error(&r).starts_with("timeout: body not complete in 800ms"),
        "{r:?}"
    );

    // Binary garbage instead of HTTP, and an endless header.
    for reply in [
        b"\x00\x1b[2J\xff\xfe garbage\r\n\r\n".to_vec(),
        [
            b"HTTP/1.1 200 OK\r\nX-Junk: ".to_vec(),
            vec![b'a'; 2 * 1024 * 1024],
        ]
        .concat(),
    ] {
        let server = http_server(reply).await;
        let h = http(format!("http://www.example.org:{}/", server.addr.port()));
        let started = Instant::now();
        let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
        assert!(started.elapsed() < in_time(SECOND));
        assert_eq!(r.state, ServiceState::Fail, "{r:?}");
        assert!(error(&r).starts_with("HTTP error"), "{r:?}");
        assert_clean(&r);
    }
}

// ---------------------------------------------------------------- https / tls

fn tls_service(port: u16, server_name: Option<&str>) -> ServiceConfig {
    service(ServiceKind::Tls(TlsService {
        port,
        server_name: server_name.map(str::to_string),
        warn_days: 14,
    }))
}

#[tokio::test]
async fn https_self_signed_is_untrusted_but_the_content_is_still_checked() {
    let now = SystemTime::now();
    let server = tls_server(
        leaf(None, &["www.example.org"], now, -1, 90),
        Some(response("200 OK", &[], b"<title>Planet KDE</title>")),
    )
    .await;
    let mut h = http(format!("https://www.example.org:{}/", server.addr.port()));
    h.contains = Some(BodyMatch::Substring("Planet GNOME".into()));
    // The default trust, the system store: a certificate made a moment ago is trusted by
    // nobody.
    let svc = service(ServiceKind::Http(h));
    let r = probe_service(&svc, "www.example.org", LOCALHOST, secs(2), now).await;
    assert_eq!(r.state, ServiceState::Fail, "{r:?}");
    let cert = r.cert.as_ref().expect("cert info");
    assert!(!cert.trusted && cert.name_matches, "{cert:?}");
    assert_eq!(cert.subject, "CN=www.example.org");
    assert_eq!(cert.issuer, "CN=www.example.org");
    assert_eq!(cert.chain_error.as_deref(), Some("unknown issuer"));
    assert_eq!(cert.days_left, 90);
    // Both parts are reported: the certificate and the content.
    assert_eq!(
        error(&r),
        "untrusted: self-signed; body lacks \"Planet GNOME\""
    );
    assert!(
        r.detail
            .starts_with("200 OK · 25 B · cert expires in 90 days ("),
        "{}",
        r.detail
    );
    // The content part went through TLS with the URL's host as SNI and Host.
    let port = server.addr.port();
    assert_eq!(
        *server.hosts.lock().unwrap(),
        [format!("www.example.org:{port}")]
    );
}

#[tokio::test]
async fn tls_expired_certificate_fails() {
    let now = SystemTime::now();
    let ca = ca();
    let server = tls_server(leaf(Some(&ca), &["www.example.org"], now, -90, -3), None).await;
    let svc = tls_service(server.addr.port(), None);
    let r = probe_service_with(&svc, "www.example.org", LOCALHOST, SECOND, now, &trust(&ca)).await;
    assert_eq!(r.state, ServiceState::Fail, "{r:?}");
    let expiry = chrono::DateTime::<Utc>::from(now - secs(3 * 86400)).format("%Y-%m-%d");
    assert_eq!(
        error(&r),
        format!("certificate expired 3 days ago ({expiry})")
    );
    assert!(
        r.detail.starts_with("cert expired 3 days ago"),
        "{}",
        r.detail
    );
    let cert = r.cert.unwrap();
    assert!(
        cert.trusted,
        "the chain is good, only the date is not: {cert:?}"
    );
    assert_eq!(cert.days_left, -3);
    assert_eq!(cert.chain_error.as_deref(), Some("expired"));
    assert!(cert.not_after < now);
}

#[tokio::test]
async fn tls_certificate_expiring_soon_warns() {
    let now = SystemTime::now();
    let ca = ca();
    let server = tls_server(leaf(Some(&ca), &["www.example.org"], now, -80, 5), None).await;
    let svc = tls_service(server.addr.port(), Some("www.example.org"));
    // The explicit server_name wins over the host's fqdn.
    let r = probe_service_with(&svc, "other.host", LOCALHOST, SECOND, now, &trust(&ca)).await;
    assert_eq!(r.state, ServiceState::Warn, "{r:?}");
    let expiry = chrono::DateTime::<Utc>::from(now + secs(5 * 86400)).format("%Y-%m-%d");
    assert_eq!(
        error(&r),
        format!("certificate expires in 5 days ({expiry}), within warn_days 14")
    );
    assert_eq!(
        r.detail,
        format!("cert expires in 5 days ({expiry}) · issuer moveday test CA · TLS 1.3")
    );
    let cert = r.cert.unwrap();
    assert!(
        cert.trusted && cert.name_matches && cert.chain_error.is_none(),
        "{cert:?}"
    );
    assert_eq!(cert.days_left, 5);

    // Without the test CA (the system store only), the same certificate is untrusted.
    let r = probe_service(&svc, "other.host", LOCALHOST, SECOND, now).await;
    assert_eq!(r.state, ServiceState::Fail, "{r:?}");
    assert_eq!(
        error(&r),
        "untrusted: unknown issuer moveday test CA (intermediate missing?)"
    );
}

#[tokio::test]
async fn tls_name_mismatch_fails() {
    let now = SystemTime::now();
    let ca = ca();
    let server = tls_server(leaf(Some(&ca), &["other.example"], now, -1, 90), None).await;
    let svc = tls_service(server.addr.port(), None);
    let r = probe_service_with(&svc, "www.example.org", LOCALHOST, SECOND, now, &trust(&ca)).await;
    assert_eq!(r.state, ServiceState::Fail, "{r:?}");
    assert_eq!(
        error(&r),
        "certificate is for other.example, not www.example.org"
    );
    let cert = r.cert.unwrap();
    assert!(cert.trusted && !cert.name_matches, "{cert:?}");
    assert_eq!(cert.chain_error.as_deref(), Some("not valid for the name"));
}

#[tokio::test]
async fn tls_good_certificate_is_ok_and_the_name_defaults_to_the_fqdn() {
    let now = SystemTime::now();
    let ca = ca();
    let server = tls_server(
        leaf(Some(&ca), &["www.example.org", "example.org"], now, -1, 90),
        Some(response("200 OK", &[], b"hi")),
    )
    .await;
    let trust = trust(&ca);
    let svc = tls_service(server.addr.port(), None);
    let r = probe_service_with(&svc, "example.org", LOCALHOST, SECOND, now, &trust).await;
    assert_eq!(
        (r.state, r.error.as_deref()),
        (ServiceState::Ok, None),
        "{r:?}"
    );
    assert!(
        r.detail.starts_with("cert expires in 90 days ("),
        "{}",
        r.detail
    );
    let cert = r.cert.unwrap();
    assert!(cert.trusted && cert.name_matches && cert.chain_error.is_none());
    assert_eq!(cert.days_left, 90);

    // The same server as https: both parts ok.
    let h = http(format!("https://www.example.org:{}/", server.addr.port()));
    let svc = service(ServiceKind::Http(h));
    let r = probe_service_with(&svc, "x", LOCALHOST, SECOND, now, &trust).await;
    assert_eq!(
        (r.state, r.error.as_deref()),
        (ServiceState::Ok, None),
        "{r:?}"
    );
    assert!(
        r.detail
            .starts_with("200 OK · 2 B · cert expires in 90 days ("),
        "{}",
        r.detail
    );
}

#[tokio::test]
async fn tls_against_a_plain_text_or_closed_port_fails_cleanly() {
    let smtp = serve(|mut stream: TcpStream| async move {
        let _ = stream
            .write_all(b"220 mail.example.org ESMTP\x1b[5m\r\n")
            .await;
        let mut sink = [0u8; 1024];
        let _ = stream.read(&mut sink).await;
        let _ = stream.write_all(b"500 5.5.1 what?\r\n").await;
    })
    .await;
    let r = probe(&tls_service(smtp.port(), None), SECOND).await;
    assert_eq!(
        (r.state, r.cert.is_some()),
        (ServiceState::Fail, false),
        "{r:?}"
    );
    assert!(error(&r).starts_with("TLS handshake failed"), "{r:?}");
    assert_clean(&r);

    let r = probe(&tls_service(closed_port().await, None), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "connect refused")
    );

    // https to a closed port: both parts fail the same way, said once.
    let h = http(format!("https://www.example.org:{}/", closed_port().await));
    let r = probe(&service(ServiceKind::Http(h)), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "connect refused")
    );
}

// ---------------------------------------------------------------- smtp

/// An SMTP server that greets with `banner`, answers EHLO with `ehlo` and QUIT with 221,
/// and records the EHLO line.
async fn smtp_server(
    banner: &'static [u8],
    ehlo: &'static [u8],
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let addr = serve(move |stream: TcpStream| {
        let record = record.clone();
        async move {
            let (read, mut write) = stream.into_split();
            let mut lines = tokio::io::BufReader::new(read);
            if write.write_all(banner).await.is_err() {
                return;
            }
            let mut line = String::new();
            while tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut line)
                .await
                .is_ok_and(|n| n > 0)
            {
                record.lock().unwrap().push(line.trim_end().to_string());
                let reply: &[u8] = if line.starts_with("EHLO") {
                    ehlo
                } else {
                    b"221 2.0.0 Bye\r\n"
                };
                if write.write_all(reply).await.is_err() || line.starts_with("QUIT") {
                    return;
                }
                line.clear();
            }
        }
    })
    .await;
    (addr, seen)
}

fn smtp(port: u16, expect_starttls: bool) -> ServiceConfig {
    service(ServiceKind::Smtp(SmtpService {
        port,
        ehlo: "probe.moveday.invalid".into(),
        expect_starttls,
    }))
}

#[tokio::test]
async fn smtp_banner_ehlo_and_starttls_is_ok() {
    let (addr, seen) = smtp_server(
        b"220-mail.example.org ESMTP Postfix\r\n220-no UCE\r\n220 ready\r\n",
        b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
    )
    .await;
    let r = probe(&smtp(addr.port(), true), SECOND).await;
    assert_eq!(
        (r.state, r.error.as_deref()),
        (ServiceState::Ok, None),
        "{r:?}"
    );
    assert_eq!(r.detail, "220 mail.example.org ESMTP Postfix · STARTTLS");
    assert_eq!(
        *seen.lock().unwrap(),
        ["EHLO probe.moveday.invalid", "QUIT"]
    );
}

#[tokio::test]
async fn smtp_421_banner_fails_naming_the_code() {
    let (addr, seen) =
        smtp_server(b"421 4.3.2 mail.example.org Service not available\r\n", b"").await;
    let r = probe(&smtp(addr.port(), true), SECOND).await;
    assert_eq!(r.state, ServiceState::Fail);
    assert_eq!(
        error(&r),
        "banner 421 4.3.2 mail.example.org Service not available"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing is sent after a refusal"
    );
}

#[tokio::test]
async fn smtp_without_starttls_warns() {
    let (addr, _) = smtp_server(
        b"220 mail.example.org ESMTP\r\n",
        b"250-mail.example.org\r\n250 SIZE 10240000\r\n",
    )
    .await;
    let r = probe(&smtp(addr.port(), true), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Warn, "STARTTLS not offered")
    );
    assert_eq!(r.detail, "220 mail.example.org ESMTP · no STARTTLS");

    // Not asked for: fine.
    let r = probe(&smtp(addr.port(), false), SECOND).await;
    assert_eq!(r.state, ServiceState::Ok);
}

#[tokio::test]
async fn smtp_hostile_servers_end_within_the_timeout() {
    // An endless line, garbage, a tarpit that never greets, a refused EHLO.
    let endless = serve(|mut stream: TcpStream| async move {
        let _ = stream.write_all(b"220 ").await;
        let chunk = vec![b'A'; 4096];
        for _ in 0..1000 {
            if stream.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let garbage = serve(|mut stream: TcpStream| async move {
        let _ = stream.write_all(b"\x16\x03\x01\x00\x1b[2J\r\n").await;
        tokio::time::sleep(secs(5)).await;
    })
    .await;
    let tarpit = serve(|stream: TcpStream| async move {
        tokio::time::sleep(secs(5)).await;
        drop(stream);
    })
    .await;
    let (no_ehlo, _) =
        smtp_server(b"220 old.example.org SMTP\r\n", b"502 5.5.2 \x1b[31mno\r\n").await;

    let cases = [
        (
            endless.port(),
            "banner: line longer than 1024 bytes: 220 AAAA",
        ),
        (garbage.port(), "not an SMTP reply: "),
        (tarpit.port(), "timeout: no banner in 1s"),
        (no_ehlo.port(), "EHLO answered 502 5.5.2 \\x1b[31mno"),
    ];
    for (port, expected) in cases {
        let started = Instant::now();
        let r = probe(&smtp(port, true), SECOND).await;
        assert!(started.elapsed() < in_time(SECOND), "{r:?}");
        assert_eq!(r.state, ServiceState::Fail, "{r:?}");
        assert!(error(&r).starts_with(expected), "{expected:?}: {r:?}");
        assert_clean(&r);
    }
}

// ---------------------------------------------------------------- tcp

#[tokio::test]
async fn tcp_send_and_expect() {
    let pong = serve(|mut stream: TcpStream| async move {
        let mut buf = [0u8; 64];
        if let Ok(n) = stream.read(&mut buf).await
            && buf[..n].starts_with(b"PING")
        {
            let _ = stream.write_all(b"+PONG\r\n").await;
        } else {
            let _ = stream.write_all(b"-ERR unknown command\r\n").await;
        }
    })
    .await;
    let r = probe(
        &tcp(
            pong.port(),
            Some("PING\r\n"),
            Some(BodyMatch::Substring("PONG".into())),
        ),
        SECOND,
    )
    .await;
    assert_eq!(
        (r.state, r.error.as_deref()),
        (ServiceState::Ok, None),
        "{r:?}"
    );
    assert_eq!(
        r.detail,
        format!("port {} open · reply: +PONG", pong.port())
    );

    let r = probe(
        &tcp(
            pong.port(),
            Some("HELLO\r\n"),
            Some(BodyMatch::Regex(pattern(r"^\+PONG"))),
        ),
        SECOND,
    )
    .await;
    assert_eq!(r.state, ServiceState::Fail);
    assert_eq!(
        error(&r),
        "reply lacks /^\\+PONG/ (peer closed): -ERR unknown command"
    );

    // Connect only, and nothing listening.
    let r = probe(&tcp(pong.port(), None, None), SECOND).await;
    assert_eq!(
        (r.state, r.detail.clone()),
        (ServiceState::Ok, format!("port {} open", pong.port()))
    );
    let r = probe(&tcp(closed_port().await, None, None), SECOND).await;
    assert_eq!(
        (r.state, error(&r)),
        (ServiceState::Fail, "connect refused")
    );
}

#[tokio::test]
async fn tcp_binary_reply_is_sanitized() {
    let binary = serve(|mut stream: TcpStream| async move {
        let _ = stream
            .write_all(b"\x00\x01\x1b[2J\x1b]0;owned\x07\xff\xfe\xc2\x9b\r\n")
            .await;
    })
    .await;
    let r = probe(
        &tcp(
            binary.port(),
            None,
            Some(BodyMatch::Substring("SSH-2.0".into())),
        ),
        SECOND,
    )
    .await;
    assert_eq!(r.state, ServiceState::Fail);
    assert!(
        error(&r).starts_with("reply lacks \"SSH-2.0\" (peer closed): \\x00\\x01\\x1b[2J"),
        "{r:?}"
    );
    assert_clean(&r);
}

#[tokio::test]
async fn tcp_silent_peer_times_out_within_the_timeout() {
    let silent = serve(|stream: TcpStream| async move {
        tokio::time::sleep(secs(10)).await;
        drop(stream);
    })
    .await;
    let timeout = Duration::from_millis(700);
    let started = Instant::now();
    let r = probe(
        &tcp(
            silent.port(),
            Some("hello\n"),
            Some(BodyMatch::Substring("hi".into())),
        ),
        timeout,
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= timeout - Duration::from_millis(50),
        "{elapsed:?}"
    );
    assert!(elapsed < in_time(timeout), "{elapsed:?}");
    assert_eq!(
        (r.state, error(&r)),
        (
            ServiceState::Fail,
            "reply lacks \"hi\": no reply (no match in 700ms)"
        )
    );
}
