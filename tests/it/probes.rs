//! The probes and the scheduler against real servers on loopback: the SSH banner and HTTP
//! servers and the in-process DNS server of `moveday::demo`, plus bare sockets for the
//! misbehaving cases. Every server binds an ephemeral port, so the tests run in parallel.

use crate::common::in_time;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, RecordType};
use moveday::config::Inventory;
use moveday::demo::dns_server::{BlackHole, DnsServer};
use moveday::demo::servers::{HttpReply, HttpServer, SshBannerServer, SshGreeting};
use moveday::probe::dns::{self, Resolver, SystemDns};
use moveday::probe::http::{self, ClientCache, MAX_BODY_BYTES};
use moveday::probe::ping::{Pinger, Reachability};
use moveday::probe::scheduler::{self, ProbeEnv};
use moveday::probe::{DnsError, Outcome, PingMode, ProbeError, ProbeReport, TargetSource, ssh};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn any_port() -> SocketAddr {
    SocketAddr::new(LOCALHOST, 0)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------- SSH

#[tokio::test]
async fn ssh_banner_is_read_after_preamble_and_sanitized() {
    let server = SshBannerServer::with_greeting(
        any_port(),
        SshGreeting::Raw(
            b"Welcome to the new DC\r\nSSH-2.0-OpenSSH_9.6 \x1b[2Jgotcha\r\n".to_vec(),
        ),
    )
    .await
    .unwrap();
    let out = ssh::probe(LOCALHOST, server.addr().port(), Duration::from_secs(2)).await;
    assert_eq!(out.port, server.addr().port());
    let banner = out.result.unwrap();
    assert_eq!(banner.banner, "SSH-2.0-OpenSSH_9.6 \\x1b[2Jgotcha");
    assert!(banner.latency < Duration::from_secs(2));

    server.set_banner("SSH-2.0-moved");
    let out = ssh::probe(LOCALHOST, server.addr().port(), Duration::from_secs(2)).await;
    assert_eq!(out.result.unwrap().banner, "SSH-2.0-moved");
}

#[tokio::test]
async fn ssh_garbage_is_a_protocol_error_with_a_clean_excerpt() {
    let server = SshBannerServer::with_greeting(any_port(), SshGreeting::Garbage)
        .await
        .unwrap();
    let out = ssh::probe(LOCALHOST, server.addr().port(), Duration::from_secs(2)).await;
    match out.result {
        Err(ProbeError::Protocol(text)) => {
            assert!(text.starts_with("not an SSH banner"), "{text}");
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }

    // Another service's greeting on the SSH port, and then silence: still "not SSH",
    // reported when the timeout ends the wait.
    server.set_greeting(SshGreeting::Raw(b"220 mail.example.org ESMTP\r\n".to_vec()));
    let out = ssh::probe(LOCALHOST, server.addr().port(), ms(300)).await;
    assert!(
        matches!(&out.result, Err(ProbeError::Protocol(t)) if t.contains("220 mail.example.org")),
        "{:?}",
        out.result
    );
}

#[tokio::test]
async fn ssh_refused_when_down_and_back_when_up() {
    let server = SshBannerServer::bind(any_port(), "SSH-2.0-test")
        .await
        .unwrap();
    let port = server.addr().port();
    server.set_up(false).await.unwrap();
    assert!(!server.is_up());
    let out = ssh::probe(LOCALHOST, port, Duration::from_secs(2)).await;
    assert_eq!(out.result, Err(ProbeError::Refused));

    server.set_up(true).await.unwrap();
    let out = ssh::probe(LOCALHOST, port, Duration::from_secs(2)).await;
    assert_eq!(out.result.unwrap().banner, "SSH-2.0-test");
}

#[tokio::test]
async fn ssh_silent_server_times_out_in_time() {
    let server = SshBannerServer::with_greeting(any_port(), SshGreeting::Silent)
        .await
        .unwrap();
    let started = Instant::now();
    let out = ssh::probe(LOCALHOST, server.addr().port(), ms(300)).await;
    assert_eq!(out.result, Err(ProbeError::Timeout));
    assert!(started.elapsed() < in_time(ms(300)));
}

#[tokio::test]
async fn ssh_connection_closed_before_banner() {
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let out = ssh::probe(LOCALHOST, port, Duration::from_secs(2)).await;
    assert!(
        matches!(&out.result, Err(ProbeError::Io(t)) if t.contains("closed before")),
        "{:?}",
        out.result
    );
}

// ---------------------------------------------------------------- HTTP

async fn web() -> (HttpServer, u16) {
    let server = HttpServer::bind(any_port()).await.unwrap();
    let port = server.addr().port();
    (server, port)
}

#[tokio::test]
async fn http_status_codes_and_redirect_not_followed() {
    let (server, port) = web().await;
    server.route("/", HttpReply::status(200, "hello"));
    server.route("/missing", HttpReply::status(404, "no"));
    // HTTP parsers reject ESC in a header; a C1 CSI (UTF-8 `c2 9b`) and a bidi override
    // get through and must come out neutralised.
    server.route(
        "/old",
        HttpReply::redirect(301, "https://new.example.test/\u{9b}2J\u{202e}x"),
    );
    let cache = ClientCache::new();
    let t = Duration::from_secs(3);

    let out = http::probe(
        &cache,
        &format!("http://www.example.test:{port}/"),
        LOCALHOST,
        t,
    )
    .await;
    assert_eq!(out.ip, LOCALHOST);
    let ok = out.result.unwrap();
    assert_eq!(
        (ok.status, ok.body_bytes, ok.truncated, ok.location),
        (200, 5, false, None)
    );

    let out = http::probe(
        &cache,
        &format!("http://www.example.test:{port}/missing"),
        LOCALHOST,
        t,
    )
    .await;
    assert_eq!(out.result.unwrap().status, 404);

    let before = server.requests();
    let out = http::probe(
        &cache,
        &format!("http://www.example.test:{port}/old"),
        LOCALHOST,
        t,
    )
    .await;
    let moved = out.result.unwrap();
    assert_eq!(moved.status, 301);
    assert_eq!(
        moved.location.as_deref(),
        Some("https://new.example.test/\\x9b2J\\u{202e}x")
    );
    assert_eq!(
        server.requests(),
        before + 1,
        "the redirect must not be followed"
    );

    // One client per (URL host, target): built once, reused.
    assert_eq!(cache.len(), 1);
}

#[tokio::test]
async fn http_sends_the_url_host_while_connecting_to_the_target() {
    let (server, port) = web().await;
    let cache = ClientCache::new();
    // The name does not resolve anywhere: only the target IP can have been used.
    let url = format!("http://moved.example.invalid:{port}/health");
    let out = http::probe(&cache, &url, LOCALHOST, Duration::from_secs(3)).await;
    assert_eq!(out.result.unwrap().status, 200);
    assert_eq!(
        server.last_host().as_deref(),
        Some(format!("moved.example.invalid:{port}").as_str())
    );
    assert_eq!(server.last_request().unwrap().path, "/health");

    // An address-literal URL is aimed at the target too, its authority kept as Host.
    let url = format!("http://192.0.2.80:{port}/");
    let out = http::probe(&cache, &url, LOCALHOST, Duration::from_secs(3)).await;
    assert_eq!(out.result.unwrap().status, 200);
    assert_eq!(
        server.last_host().as_deref(),
        Some(format!("192.0.2.80:{port}").as_str())
    );
}

/// An `https://` URL through the shared TLS configuration: trusted through the extra
/// roots (the inventory's `ca_file`, here a test CA), untrusted without them, and every
/// client of the cache built from the one configuration.
#[tokio::test]
async fn https_trusts_the_extra_roots_and_only_them() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = moveday::demo::certs::DemoCa::new().unwrap();
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86400);
    let config = ca
        .server_config(&["web.example.org"], now - day, now + 30 * day)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                let _ = tls.write_all(reply).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let url = format!("https://web.example.org:{port}/");
    let mut trusting = ClientCache::new();
    trusting.add_roots([ca.der()]);
    for _ in 0..3 {
        let out = http::probe(&trusting, &url, LOCALHOST, Duration::from_secs(3)).await;
        assert_eq!(out.result.unwrap().status, 200);
    }
    assert_eq!(trusting.len(), 1);
    let out = http::probe(&ClientCache::new(), &url, LOCALHOST, Duration::from_secs(3)).await;
    let err = out.result.unwrap_err().to_string();
    assert!(err.contains("certificate"), "{err}");
}

/// Every probe opens its own connection, even to a server that would keep it alive: a
/// reused connection would survive a newly applied firewall rule.
#[tokio::test]
async fn http_never_reuses_a_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                // Keep-alive: answer every request on the connection, never close.
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let reply =
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok";
                    if stream.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let cache = ClientCache::new();
    let url = format!("http://keep.example.test:{port}/");
    for _ in 0..3 {
        let out = http::probe(&cache, &url, LOCALHOST, Duration::from_secs(2)).await;
        assert_eq!(out.result.unwrap().status, 200);
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(cache.len(), 1);
}

#[tokio::test]
async fn http_endless_body_is_capped_in_bounded_time() {
    let (server, port) = web().await;
    server.set_reply(HttpReply::EndlessBody);
    let started = Instant::now();
    let out = http::probe(
        &ClientCache::new(),
        &format!("http://a.example.test:{port}/"),
        LOCALHOST,
        Duration::from_secs(5),
    )
    .await;
    let r = out.result.unwrap();
    assert_eq!(
        (r.status, r.body_bytes, r.truncated),
        (200, MAX_BODY_BYTES, true)
    );
    // A capped body ends the read at once: nowhere near the 5 s timeout.
    assert!(
        started.elapsed() < in_time(ms(500)),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn http_hostile_servers_end_in_an_error_value() {
    let (server, port) = web().await;
    let cache = ClientCache::new();
    let url = format!("http://a.example.test:{port}/");

    server.set_reply(HttpReply::SlowDrip { interval: ms(50) });
    let started = Instant::now();
    let out = http::probe(&cache, &url, LOCALHOST, ms(400)).await;
    assert_eq!(out.result, Err(ProbeError::Timeout));
    assert!(started.elapsed() < in_time(ms(400)));

    server.set_reply(HttpReply::GarbageStatus);
    let out = http::probe(&cache, &url, LOCALHOST, Duration::from_secs(2)).await;
    match out.result {
        Err(ProbeError::Protocol(text)) => {
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }

    server.set_reply(HttpReply::Silent);
    let out = http::probe(&cache, &url, LOCALHOST, ms(300)).await;
    assert_eq!(out.result, Err(ProbeError::Timeout));

    server.set_up(false).await.unwrap();
    let out = http::probe(&cache, &url, LOCALHOST, Duration::from_secs(2)).await;
    assert_eq!(out.result, Err(ProbeError::Refused));
}

// ---------------------------------------------------------------- DNS

async fn dns_server() -> DnsServer {
    DnsServer::start(any_port(), &["example.test"])
        .await
        .unwrap()
}

#[tokio::test]
async fn dns_answers_with_ttl_and_changes_show_on_the_next_lookup() {
    let server = dns_server().await;
    let serial = server.serial("example.test").await.unwrap();
    let resolver = Resolver::server(server.addr());
    let t = Duration::from_secs(2);

    let s1 = server
        .set_a("www.example.test", "198.51.100.13".parse().unwrap(), 3600)
        .await
        .unwrap();
    assert_eq!(s1, serial + 1);
    let a = dns::lookup(&resolver, "www.example.test", t).await.unwrap();
    assert_eq!(
        a.addresses,
        vec!["198.51.100.13".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(a.ttl, 3600);

    // The cut-over: no cache may keep the old answer.
    server
        .set_a("www.example.test", "203.0.113.13".parse().unwrap(), 300)
        .await
        .unwrap();
    let a = dns::lookup(&resolver, "WWW.example.test.", t)
        .await
        .unwrap();
    assert_eq!(a.addresses, vec!["203.0.113.13".parse::<IpAddr>().unwrap()]);
    assert_eq!(a.ttl, 300);

    // Other record types go in the same way; a CNAME chain counts its shortest TTL.
    let target = Name::from_ascii("www.example.test.").unwrap();
    server
        .set_records(
            "alias.example.test",
            RecordType::CNAME,
            30,
            vec![RData::CNAME(CNAME(target))],
        )
        .await
        .unwrap();
    let a = dns::lookup(&resolver, "alias.example.test", t)
        .await
        .unwrap();
    assert_eq!(a.addresses, vec!["203.0.113.13".parse::<IpAddr>().unwrap()]);
    assert_eq!(a.ttl, 30);

    // A and AAAA together, sorted, smallest TTL.
    let ips: Vec<IpAddr> = vec![
        "2001:db8::13".parse().unwrap(),
        "203.0.113.13".parse().unwrap(),
    ];
    server
        .set_addresses("dual.example.test", &ips, 120)
        .await
        .unwrap();
    server
        .set_a("dual.example.test", "2001:db8::13".parse().unwrap(), 60)
        .await
        .unwrap();
    let a = dns::lookup(&resolver, "dual.example.test", t)
        .await
        .unwrap();
    assert_eq!(a.addresses, vec![ips[1], ips[0]]);
    assert_eq!(a.ttl, 60);
    assert!(server.serial("example.test").await.unwrap() > s1);
}

#[tokio::test]
async fn dns_nxdomain_nodata_and_refused_are_told_apart() {
    let server = dns_server().await;
    let resolver = Resolver::server(server.addr());
    let t = Duration::from_secs(2);
    server
        .set_a("gone.example.test", "192.0.2.1".parse().unwrap(), 60)
        .await
        .unwrap();
    assert!(dns::lookup(&resolver, "gone.example.test", t).await.is_ok());

    assert_eq!(
        dns::lookup(&resolver, "nothere.example.test", t).await,
        Err(DnsError::NxDomain)
    );
    // The apex exists (SOA, NS) but has no address: NODATA.
    assert_eq!(
        dns::lookup(&resolver, "example.test", t).await,
        Err(DnsError::NoRecords)
    );
    assert_eq!(
        dns::lookup(&resolver, "www.elsewhere.test", t).await,
        Err(DnsError::Refused)
    );

    let before = server.serial("example.test").await.unwrap();
    assert_eq!(
        server.remove("gone.example.test").await.unwrap(),
        before + 1
    );
    assert_eq!(
        dns::lookup(&resolver, "gone.example.test", t).await,
        Err(DnsError::NxDomain)
    );
    assert!(
        server
            .set_a("www.elsewhere.test", LOCALHOST, 60)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn dns_server_answers_over_tcp_too() {
    use hickory_resolver::TokioResolver;
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    let server = dns_server().await;
    server
        .set_a("tcp.example.test", "192.0.2.53".parse().unwrap(), 60)
        .await
        .unwrap();
    let mut ns = NameServerConfig::tcp(server.addr().ip());
    ns.connections[0].port = server.addr().port();
    let resolver = TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    )
    .build()
    .unwrap();
    let lookup = resolver
        .lookup("tcp.example.test.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(
        lookup.answers()[0].data,
        RData::A("192.0.2.53".parse().unwrap())
    );
}

#[tokio::test]
async fn dns_black_hole_times_out_in_time() {
    let hole = BlackHole::bind(any_port()).await.unwrap();
    let resolver = Resolver::server(hole.addr());
    let started = Instant::now();
    assert_eq!(
        dns::lookup(&resolver, "www.example.test", ms(300)).await,
        Err(DnsError::Timeout)
    );
    assert!(
        started.elapsed() < in_time(ms(300)),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dns_server_not_listening_is_not_a_refused_answer() {
    // A port nobody listens on. hickory's UDP socket is unconnected, so the kernel's port
    // unreachable is not seen and this is a timeout; never DNS's REFUSED.
    let closed = std::net::UdpSocket::bind(any_port())
        .unwrap()
        .local_addr()
        .unwrap();
    let resolver = Resolver::server(closed);
    let started = Instant::now();
    let result = dns::lookup(&resolver, "www.example.test", ms(300)).await;
    assert!(
        matches!(&result, Err(DnsError::Other(_)) | Err(DnsError::Timeout)),
        "{result:?}"
    );
    assert!(started.elapsed() < in_time(ms(300)));
}

#[tokio::test]
async fn dns_system_resolver_follows_the_given_configuration() {
    let server = dns_server().await;
    server
        .set_a("sys.example.test", "192.0.2.7".parse().unwrap(), 30)
        .await
        .unwrap();
    // resolv.conf has no port syntax and port 53 is not ours to take: the server list
    // stands in for it, and the text form is tested on its error path.
    let resolver = Resolver::system(&SystemDns::Servers(vec![server.addr()]));
    let a = dns::lookup(&resolver, "sys.example.test", Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(a.addresses, vec!["192.0.2.7".parse::<IpAddr>().unwrap()]);

    let broken = Resolver::system(&SystemDns::ResolvConf("search example.test\n".into()));
    assert!(matches!(
        dns::lookup(&broken, "sys.example.test", ms(200)).await,
        Err(DnsError::Other(_))
    ));
}

// ---------------------------------------------------------------- ping

#[tokio::test]
async fn ping_loopback_in_the_detected_mode() {
    let (pinger, mode, hint) = Pinger::detect();
    assert_eq!(pinger.mode(), mode);
    assert_eq!(hint.is_some(), mode == PingMode::Tcp);
    // In TCP mode the ping needs a port that answers (or refuses).
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = pinger
        .ping(LOCALHOST, Some(port), Duration::from_secs(2))
        .await;
    assert!(out.result.is_ok(), "{mode:?}: {:?}", out.result);
    assert_eq!((out.ip, out.mode), (LOCALHOST, mode));
    // Several at once: distinct sequence numbers keep the replies apart.
    let pings = (0..5).map(|_| pinger.ping(LOCALHOST, Some(port), Duration::from_secs(2)));
    for out in futures::future::join_all(pings).await {
        assert!(out.result.is_ok(), "{:?}", out.result);
    }
}

/// A round of 1,000 hosts at once through the one shared ICMP socket loses no reply: the
/// kernel's default receive buffer (and, on a raw socket, our own echo requests seen on
/// loopback) dropped about one in eight, each a false timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ICMP: root, or ping sockets allowed by net.ipv4.ping_group_range"]
async fn a_thousand_loopback_pings_at_once_lose_nothing() {
    let (pinger, mode, _) = Pinger::detect();
    assert!(
        mode != PingMode::Tcp,
        "this test needs ICMP, which this process may not send: run it as root, or allow \
         ping sockets (sysctl net.ipv4.ping_group_range)"
    );
    let pinger = Arc::new(pinger);
    let limit = Arc::new(tokio::sync::Semaphore::new(
        moveday::probe::scheduler::MAX_CONCURRENT_PROBES,
    ));
    let mut set = tokio::task::JoinSet::new();
    for k in 1..=1000 {
        let ip = IpAddr::V4(moveday::demo::scale::new_ip(k));
        let (pinger, limit) = (pinger.clone(), limit.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            pinger.ping(ip, None, Duration::from_secs(5)).await
        });
    }
    let mut lost = Vec::new();
    while let Some(out) = set.join_next().await {
        let out = out.unwrap();
        if out.result.is_err() {
            lost.push(out.ip);
        }
    }
    assert!(lost.is_empty(), "{} of 1000 lost: {lost:?}", lost.len());
}

#[tokio::test]
async fn tcp_ping_measures_a_connect_and_counts_a_refusal_as_alive() {
    let pinger = Pinger::tcp();
    assert_eq!(pinger.mode(), PingMode::Tcp);
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let open = listener.local_addr().unwrap().port();
    let out = pinger
        .ping(LOCALHOST, Some(open), Duration::from_secs(2))
        .await;
    assert_eq!(out.mode, PingMode::Tcp);
    assert!(out.result.unwrap() < Duration::from_secs(2));

    drop(listener);
    // The port is closed now: the RST still proves the host is there.
    let out = pinger
        .ping(LOCALHOST, Some(open), Duration::from_secs(2))
        .await;
    assert!(out.result.is_ok(), "{:?}", out.result);
}

struct OnlyOdd;

impl Reachability for OnlyOdd {
    fn reachable(&self, ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V4(v4) if v4.octets()[3] % 2 == 1)
    }
}

#[tokio::test]
async fn simulated_ping_times_out_unreachable_and_measures_reachable() {
    let pinger = Pinger::simulated(Arc::new(OnlyOdd), Pinger::tcp());
    assert_eq!(pinger.mode(), PingMode::Simulated);
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = pinger
        .ping(LOCALHOST, Some(port), Duration::from_secs(2))
        .await;
    assert_eq!(out.mode, PingMode::Simulated);
    assert!(out.result.is_ok(), "{:?}", out.result);

    let started = Instant::now();
    let out = pinger
        .ping("127.0.0.2".parse().unwrap(), Some(port), ms(200))
        .await;
    assert_eq!(out.result, Err(ProbeError::Timeout));
    assert!(started.elapsed() >= ms(200));
}

// ---------------------------------------------------------------- scheduler

struct Lab {
    dns: DnsServer,
    ssh: SshBannerServer,
    web: HttpServer,
    _dir: tempfile::TempDir,
    inventory: Arc<Inventory>,
}

/// Four hosts on loopback: one with `new_ip`, one pinned in the hosts file, one found by
/// the (in-process) system DNS, and one that resolves nowhere.
async fn lab(interval: &str) -> Lab {
    let dns = dns_server().await;
    for name in [
        "direct.example.test",
        "pinned.example.test",
        "bydns.example.test",
    ] {
        dns.set_a(name, LOCALHOST, 60).await.unwrap();
    }
    let ssh = SshBannerServer::bind(any_port(), "SSH-2.0-lab")
        .await
        .unwrap();
    let web = HttpServer::bind(any_port()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "# lab\n127.0.0.1 localhost\n127.0.0.1 pinned.example.test pinned\n",
    )
    .unwrap();
    let (sp, wp) = (ssh.addr().port(), web.addr().port());
    let text = format!(
        r#"
hosts_file = "{hosts}"
[probe]
interval = "{interval}"
timeout = "1s"
[[resolver]]
name = "system"
system = true
[[resolver]]
name = "lab"
address = "{dns}"
[[host]]
name = "direct"
fqdn = "direct.example.test"
new_ip = "127.0.0.1"
ssh = {sp}
http = "http://direct.example.test:{wp}/"
[[host]]
name = "pinned"
fqdn = "pinned.example.test"
ssh = {sp}
http = "http://pinned.example.test:{wp}/"
[[host]]
name = "bydns"
fqdn = "bydns.example.test"
ssh = {sp}
http = "http://bydns.example.test:{wp}/"
[[host]]
name = "ghost"
fqdn = "ghost.example.test"
ssh = {sp}
"#,
        hosts = hosts.display(),
        dns = dns.addr(),
    );
    let inventory = Arc::new(Inventory::parse(Path::new("lab.toml"), &text).unwrap());
    Lab {
        dns,
        ssh,
        web,
        _dir: dir,
        inventory,
    }
}

fn lab_env(lab: &Lab) -> Arc<ProbeEnv> {
    Arc::new(ProbeEnv::with_system_dns(
        &lab.inventory,
        Pinger::detect().0,
        SystemDns::Servers(vec![lab.dns.addr()]),
    ))
}

fn kind(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Target(_) => "target",
        Outcome::Ping(_) => "ping",
        Outcome::Ssh(_) => "ssh",
        Outcome::Http(_) => "http",
        Outcome::Dns(_) => "dns",
        Outcome::HostsFile(_) => "hosts_file",
        Outcome::Ptr(_) => "ptr",
        Outcome::PrimaryAnswer(_) => "primary",
        Outcome::Ports(_) => "ports",
        Outcome::Service(_) => "service",
        Outcome::Old(_) => "old",
        Outcome::Mail(_) => "mail",
        Outcome::Dnsbl(_) => "dnsbl",
    }
}

#[tokio::test]
async fn one_round_reports_every_probe_of_every_host() {
    let lab = lab("2s").await;
    let env = lab_env(&lab);
    let (tx, mut rx) = mpsc::channel(256);
    let started = Instant::now();
    let round = tokio::spawn(scheduler::one_round(
        lab.inventory.clone(),
        env,
        tx,
        scheduler::Scope::Everything,
    ));
    let mut reports = Vec::new();
    while let Some(r) = rx.recv().await {
        reports.push(r);
    }
    round.await.unwrap();
    assert!(started.elapsed() < in_time(Duration::from_secs(2)));

    assert!(
        matches!(reports.first(), Some(ProbeReport::PingMode { .. })),
        "{:?}",
        reports.first()
    );
    assert_eq!(
        reports
            .iter()
            .filter(|r| matches!(r, ProbeReport::PingMode { .. }))
            .count(),
        1
    );

    let mut state = moveday::store::State::new(lab.inventory.clone());
    for r in reports.clone() {
        moveday::store::reduce(&mut state, r);
    }
    assert!(state.complete());

    for (host, expect_source) in [
        (0, Some(TargetSource::NewIp)),
        (1, Some(TargetSource::HostsFile)),
        (2, Some(TargetSource::SystemDns)),
        (3, None),
    ] {
        let mine: Vec<&ProbeReport> = reports
            .iter()
            .filter(|r| matches!(r, ProbeReport::Probe { host: h, .. } | ProbeReport::RoundDone { host: h, .. } if *h == host))
            .collect();
        assert!(
            matches!(mine.last(), Some(ProbeReport::RoundDone { .. })),
            "host {host}: {mine:?}"
        );
        let mut kinds: Vec<&str> = mine
            .iter()
            .filter_map(|r| match r {
                ProbeReport::Probe { outcome, .. } => Some(kind(outcome)),
                _ => None,
            })
            .collect();
        // The reverse-DNS probe runs for hosts with a new_ip; it is tested in tests/it/zones.rs.
        let has_new_ip = kinds.contains(&"ptr");
        kinds.retain(|k| *k != "ptr");
        kinds.sort_unstable();
        let target = mine.iter().find_map(|r| match r {
            ProbeReport::Probe {
                outcome: Outcome::Target(t),
                ..
            } => Some(t.clone()),
            _ => None,
        });
        match expect_source {
            Some(source) => {
                assert_eq!(
                    kinds,
                    ["dns", "dns", "hosts_file", "http", "ping", "ssh", "target"],
                    "host {host}"
                );
                let t = target.unwrap().unwrap();
                assert_eq!((t.ip, t.source), (LOCALHOST, source), "host {host}");
                assert_eq!(has_new_ip, source == TargetSource::NewIp, "host {host}");
            }
            None => {
                assert_eq!(kinds, ["dns", "dns", "hosts_file", "target"], "host {host}");
                assert!(
                    matches!(target, Some(Err(ProbeError::NoTarget(_)))),
                    "{target:?}"
                );
            }
        }
        let h = &state.hosts[host];
        if expect_source.is_some() {
            assert!(
                h.ping.as_ref().unwrap().value.result.is_ok(),
                "host {host}: {:?}",
                h.ping
            );
            assert_eq!(
                h.ssh
                    .as_ref()
                    .unwrap()
                    .value
                    .result
                    .as_ref()
                    .unwrap()
                    .banner,
                "SSH-2.0-lab"
            );
            assert_eq!(
                h.http
                    .as_ref()
                    .unwrap()
                    .value
                    .result
                    .as_ref()
                    .unwrap()
                    .status,
                200
            );
        }
    }
    // The hosts file's entry (line 3) is reported for the pinned host only.
    let pinned = state.hosts[1]
        .hosts_file
        .as_ref()
        .unwrap()
        .value
        .as_ref()
        .unwrap();
    assert_eq!(pinned.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3]);
    assert!(
        state.hosts[0]
            .hosts_file
            .as_ref()
            .unwrap()
            .value
            .as_ref()
            .unwrap()
            .is_empty()
    );
    // Both resolvers know bydns; ghost is NXDOMAIN for both.
    for slot in &state.hosts[2].dns {
        assert_eq!(
            slot.as_ref().unwrap().value.as_ref().unwrap().addresses,
            vec![LOCALHOST]
        );
    }
    for slot in &state.hosts[3].dns {
        assert_eq!(slot.as_ref().unwrap().value, Err(DnsError::NxDomain));
    }
    assert!(lab.web.requests() >= 3);
    assert!(lab.ssh.is_up());
}

#[tokio::test]
async fn spawned_tasks_probe_again_on_request_and_stop_when_dropped() {
    let lab = lab("60s").await;
    let env = lab_env(&lab);
    let (tx, mut rx) = mpsc::channel(256);
    let (probe_now, probe_now_rx) = watch::channel(0u64);
    let tasks = scheduler::spawn(lab.inventory.clone(), env, tx, probe_now_rx);
    let hosts = lab.inventory.hosts.len();

    let rounds = |reports: &[ProbeReport], host: usize| {
        reports
            .iter()
            .filter(|r| matches!(r, ProbeReport::RoundDone { host: h, .. } if *h == host))
            .count()
    };
    let mut reports: Vec<ProbeReport> = Vec::new();
    let deadline = Duration::from_secs(5);
    while (0..hosts).any(|h| rounds(&reports, h) < 1) {
        reports.push(
            tokio::time::timeout(deadline, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert!(
        matches!(reports[0], ProbeReport::PingMode { .. }),
        "{:?}",
        reports[0]
    );
    assert_eq!(
        reports
            .iter()
            .filter(|r| matches!(r, ProbeReport::PingMode { .. }))
            .count(),
        1
    );

    // Mid-move: DNS moves bydns, the admin edits the hosts file for pinned (a different
    // length, as any real edit of this line would be).
    lab.dns
        .set_a("bydns.example.test", "127.0.0.2".parse().unwrap(), 60)
        .await
        .unwrap();
    std::fs::write(
        lab.inventory.hosts_file.as_path(),
        "127.0.0.33 pinned.example.test\n",
    )
    .unwrap();
    // The interval is a minute: only "probe now" can bring a second round this soon.
    let first = reports.len();
    probe_now.send_modify(|n| *n += 1);
    while (0..hosts).any(|h| rounds(&reports, h) < 2) {
        reports.push(
            tokio::time::timeout(deadline, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let second_target = |host: usize| {
        reports[first..].iter().find_map(|r| match r {
            ProbeReport::Probe {
                host: h,
                outcome: Outcome::Target(Ok(t)),
                ..
            } if *h == host => Some(*t),
            _ => None,
        })
    };
    let pinned = second_target(1).unwrap();
    assert_eq!(
        (pinned.ip.to_string(), pinned.source),
        ("127.0.0.33".into(), TargetSource::HostsFile)
    );
    let bydns = second_target(2).unwrap();
    assert_eq!(
        (bydns.ip.to_string(), bydns.source),
        ("127.0.0.2".into(), TargetSource::SystemDns)
    );

    drop(tasks);
    // Every sender lives in an aborted task: the channel closes.
    let end = tokio::time::timeout(deadline, async { while rx.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "probe tasks still running after drop");
}

/// Issue 15, item 4: a valid banner sent slowly (one byte every 300 ms here, one a second
/// in the report) and cut off by the timeout is a timeout, not "not an SSH banner: SS".
#[tokio::test]
async fn ssh_banner_sent_slowly_is_a_timeout() {
    use tokio::io::AsyncWriteExt;

    let listener = TcpListener::bind(any_port()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                for byte in b"Welcome\r\nSSH-2.0-OpenSSH_9.6\r\n" {
                    if stream.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(ms(if *byte == b'\n' { 0 } else { 100 })).await;
                }
            });
        }
    });
    // Cut off within "Welcome" (another line, not yet ended: not SSH), then within "SS",
    // then within "SSH-2.0-": the last two are still a banner on its way.
    let out = ssh::probe(LOCALHOST, port, ms(450)).await;
    assert!(
        matches!(&out.result, Err(ProbeError::Protocol(t)) if t.contains("Welc")),
        "{:?}",
        out.result
    );
    for timeout in [900, 1400] {
        let out = ssh::probe(LOCALHOST, port, ms(timeout)).await;
        assert_eq!(out.result, Err(ProbeError::Timeout), "at {timeout} ms");
    }
}

/// Issue 15, item 6: line and paragraph separators and format characters from a peer
/// (they garbled the detail pane in tmux) come out as visible escapes.
#[tokio::test]
async fn ssh_banner_separators_and_format_characters_are_escaped() {
    let server = SshBannerServer::with_greeting(
        any_port(),
        SshGreeting::Raw(
            "SSH-2.0-a\u{2028}b\u{2029}c\u{61c}\u{2060}\u{180e}\u{ad}\u{e0041}d\r\n"
                .as_bytes()
                .to_vec(),
        ),
    )
    .await
    .unwrap();
    let out = ssh::probe(LOCALHOST, server.addr().port(), Duration::from_secs(2)).await;
    assert_eq!(
        out.result.unwrap().banner,
        "SSH-2.0-a\\u{2028}b\\u{2029}c\\u{061c}\\u{2060}\\u{180e}\\u{00ad}\\u{e0041}d"
    );
}
