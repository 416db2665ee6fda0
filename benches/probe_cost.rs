//! Cost per probe kind, against a floor (issue 16, item 2): the CPU time of one probe of
//! each kind as moveday does it, through its own library functions, set against the same
//! exchange done by a minimal loop with no client library.
//!
//! ```text
//! cargo bench --bench probe_cost
//! ```
//!
//! The servers are `moveday demo --hosts 16 --serve FILE` (the bench's own build of the
//! binary), a process of its own, so their CPU is not the prober's. Everything is on
//! loopback: host 1 (127.10.0.1) answers ping (the kernel), SSH and HTTP, and the demo's
//! first DNS server (127.11.0.53) is asked its A and AAAA records. The hosts-file check
//! reads `/etc/hosts`, the inventory's default.
//!
//! Each case (a kind, one side) runs in a child process of its own (this binary again,
//! told which case by `MOVEDAY_PROBE_COST_CASE`), so that one side's sockets never see the
//! other's packets (a raw ICMP socket sees every echo reply of the machine) and the CPU is
//! the case's alone: `getrusage(RUSAGE_SELF)` of the child, user + system, every thread
//! (the runtime's workers, its blocking pool, surge-ping's and the DNS client's reading
//! tasks all count: they are part of what a probe costs). A child warms up
//! (`MOVEDAY_BENCH_WARMUP`, 200 probes, which also builds the HTTP client, opens the ICMP
//! and DNS sockets, and caches the hosts file), then times `MOVEDAY_BENCH_PROBES` (2,000)
//! probes one after another. The cases take turns, `MOVEDAY_BENCH_ROUNDS` (5) times; the
//! table gives each case's median.
//!
//! Sides:
//! - `moveday`: moveday's own function, in a task on a multi-thread Tokio runtime with 2
//!   workers (the shape of `src/main.rs`'s `runtime()`), with the probe's timeout;
//! - `tokio` floor: the same exchange on a bare Tokio socket, in a task on the same runtime
//!   shape, with a `tokio::time::timeout` around it (a probe must end in bounded time);
//! - `std` floor: the same exchange with blocking `std::net` sockets on the main thread, no
//!   runtime (socket timeouts instead).
//!
//! `MOVEDAY_BENCH_KINDS=http,dns` measures only the cases whose kind starts with one of
//! those words. `MOVEDAY_BENCH_EXPERIMENTS=1` adds other ways of doing the HTTP probe
//! (reqwest with leaner settings, hyper's connection API without reqwest), not moveday's
//! code: what a change to `probe/http.rs` could win. One case alone, to look at it under `strace -c -f` or `perf record` (the
//! target line is what the parent passes: host 1's address, its SSH port, its URL, the
//! first DNS server, its name, the hosts file):
//!
//! ```text
//! MOVEDAY_PROBE_COST_CASE=http/moveday \
//! MOVEDAY_PROBE_COST_TARGET="127.10.0.1 SSH_PORT http://h00001.n0.scale.example:HTTP_PORT/ 127.11.0.53:DNS_PORT h00001.n0.scale.example /etc/hosts" \
//!     strace -c -f target/release/deps/probe_cost-HASH
//! ```
//!
//! Without the right to open an ICMP socket (not root, no `net.ipv4.ping_group_range`)
//! the ping row is skipped with a line saying why.

// Benchmark set-up may unwrap: a failure is the benchmark failing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, Read as _, Write as _};
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use moveday::probe::dns::{self, Resolver};
use moveday::probe::dns_client::DnsClient;
use moveday::probe::hosts_file::HostsFileCache;
use moveday::probe::http::{self, ClientCache};
use moveday::probe::ping::Pinger;
use moveday::probe::{PingMode, ssh};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The case a child runs (`kind/side`); unset in the parent.
const CASE_ENV: &str = "MOVEDAY_PROBE_COST_CASE";
/// What the child probes: `ip ssh_port http_url dns_server fqdn hosts_path`.
const TARGET_ENV: &str = "MOVEDAY_PROBE_COST_TARGET";

/// The probe timeout of every side (the demo inventory's is 2 s; none is reached).
const TIMEOUT: Duration = Duration::from_secs(2);

/// The rows of the table: a kind, moveday's case and the two floors' cases.
const ROWS: &[(&str, &str, &str, &str)] = &[
    ("ping (ICMP echo)", "ping/moveday", "ping/tokio", "ping/std"),
    ("ssh banner", "ssh/moveday", "ssh/tokio", "ssh/std"),
    ("http GET", "http/moveday", "http/tokio", "http/std"),
    (
        "dns A+AAAA, dns::lookup (the resolver columns)",
        "dns-lookup/moveday",
        "dns/tokio",
        "dns/std",
    ),
    (
        "dns A+AAAA, addresses_direct (DnsClient)",
        "dns-direct/moveday",
        "dns/tokio",
        "dns/std",
    ),
    (
        "hosts file, load + entries_for",
        "hosts/moveday",
        "hosts/tokio",
        "hosts/std",
    ),
];

/// Measured for reference, not a row: what an uncached hosts-file check costs at least.
const EXTRA: &[(&str, &str)] = &[("hosts file, stat + read (std)", "hosts-read/std")];

/// With `MOVEDAY_BENCH_EXPERIMENTS=1`: other ways of doing the HTTP probe, not moveday's
/// code, set against the same tokio floor (what a change to `probe/http.rs` could win).
const EXPERIMENTS: &[(&str, &str)] = &[
    (
        "reqwest, moveday's client settings (a copy)",
        "http-reqwest-copy/experiment",
    ),
    (
        "reqwest, + no TCP keepalive/user timeout, no retry, one timer",
        "http-reqwest-lean/experiment",
    ),
    (
        "hyper client::conn::http1 on a tokio TcpStream, no pool",
        "http-hyper/experiment",
    ),
];

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// CPU accounting

/// CPU and context switches of this process so far.
#[derive(Clone, Copy)]
struct Usage {
    user_us: i64,
    sys_us: i64,
    voluntary: i64,
    involuntary: i64,
    at: Instant,
}

impl Usage {
    fn now() -> Usage {
        // SAFETY: getrusage writes into the zeroed struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
        Usage {
            user_us: us(ru.ru_utime),
            sys_us: us(ru.ru_stime),
            voluntary: ru.ru_nvcsw,
            involuntary: ru.ru_nivcsw,
            at: Instant::now(),
        }
    }

    /// One line for the parent: totals since `before` over `n` probes.
    fn report(&self, before: Usage, n: u32, failed: u32) -> String {
        format!(
            "probe_cost_case n={n} failed={failed} user_us={} sys_us={} wall_us={} vcsw={} ivcsw={}",
            self.user_us - before.user_us,
            self.sys_us - before.sys_us,
            (self.at - before.at).as_micros(),
            self.voluntary - before.voluntary,
            self.involuntary - before.involuntary,
        )
    }
}

/// Runs `$probe` (a `bool` expression: did the probe succeed; it may `.await`) `$warm`
/// times, then `$n` times under the clock; the report line.
macro_rules! timed {
    ($n:expr, $warm:expr, |$i:ident| $probe:expr) => {{
        let mut failed = 0u32;
        for $i in 0..$warm {
            if !$probe {
                failed += 1;
            }
        }
        if failed > 0 {
            eprintln!("probe_cost: {failed} of {} warm-up probes failed", $warm);
        }
        failed = 0;
        let before = Usage::now();
        for $i in $warm..$warm + $n {
            if !$probe {
                failed += 1;
            }
        }
        Usage::now().report(before, $n, failed)
    }};
}

// ---------------------------------------------------------------------------------------
// The child: one case

/// What a child probes.
struct Target {
    ip: Ipv4Addr,
    ssh_port: u16,
    http_url: String,
    http_port: u16,
    /// `host:port` of the URL, the Host header.
    authority: String,
    dns: SocketAddr,
    fqdn: String,
    hosts: PathBuf,
}

impl Target {
    fn to_env(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            self.ip,
            self.ssh_port,
            self.http_url,
            self.dns,
            self.fqdn,
            self.hosts.display()
        )
    }

    fn from_env(text: &str) -> Target {
        let f: Vec<&str> = text.split(' ').collect();
        let http_url = f[2].to_string();
        let authority = http_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let http_port = authority.rsplit(':').next().unwrap().parse().unwrap();
        Target {
            ip: f[0].parse().unwrap(),
            ssh_port: f[1].parse().unwrap(),
            http_url,
            http_port,
            authority,
            dns: f[3].parse().unwrap(),
            fqdn: f[4].to_string(),
            hosts: PathBuf::from(f[5]),
        }
    }
}

fn child(case: &str) {
    let target = Target::from_env(&std::env::var(TARGET_ENV).unwrap());
    let n = env_number("MOVEDAY_BENCH_PROBES", 2000);
    let warm = env_number("MOVEDAY_BENCH_WARMUP", 200);
    let (kind, side) = case.split_once('/').unwrap();
    let line = match side {
        "std" => std_floor(kind, &target, n, warm),
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .worker_threads(2)
                .build()
                .unwrap();
            let (kind, side) = (kind.to_string(), side.to_string());
            // In a task, on a worker, as the scheduler's probes run (not on this thread).
            rt.block_on(async move {
                tokio::spawn(async move {
                    match side.as_str() {
                        "moveday" => moveday_side(&kind, &target, n, warm).await,
                        "experiment" => experiment(&kind, &target, n, warm).await,
                        _ => tokio_floor(&kind, &target, n, warm).await,
                    }
                })
                .await
                .unwrap()
            })
        }
    };
    println!("{line}");
}

/// One probe of `kind` as moveday does it, `n` times.
async fn moveday_side(kind: &str, t: &Target, n: u32, warm: u32) -> String {
    let ip = IpAddr::V4(t.ip);
    match kind {
        "ping" => {
            let (pinger, _, _) = Pinger::detect();
            timed!(n, warm, |_i| pinger
                .ping(ip, None, TIMEOUT)
                .await
                .result
                .is_ok())
        }
        "ssh" => timed!(n, warm, |_i| ssh::probe(ip, t.ssh_port, TIMEOUT)
            .await
            .result
            .is_ok()),
        "http" => {
            let cache = ClientCache::new();
            timed!(n, warm, |_i| http::probe(&cache, &t.http_url, ip, TIMEOUT)
                .await
                .result
                .is_ok_and(|r| r.status == 200))
        }
        "dns-lookup" => {
            let resolver = Resolver::server(t.dns);
            timed!(n, warm, |_i| dns::lookup(&resolver, &t.fqdn, TIMEOUT)
                .await
                .is_ok())
        }
        "dns-direct" => {
            let resolver = Resolver::server(t.dns);
            let client = DnsClient::new();
            let name = hickory_proto::rr::Name::from_ascii(format!("{}.", t.fqdn)).unwrap();
            timed!(n, warm, |_i| {
                // As the resolver columns would bound it: the lookup under the timeout.
                let ask = dns::addresses_direct(&client, &resolver, &name, TIMEOUT);
                tokio::time::timeout(TIMEOUT, ask)
                    .await
                    .is_ok_and(|r| r.is_ok())
            })
        }
        "hosts" => {
            let cache = HostsFileCache::new();
            let short = t.fqdn.split_once('.').map(|(short, _)| short);
            timed!(n, warm, |_i| cache
                .load(&t.hosts)
                .await
                .map(|f| f.entries_for(&t.fqdn, short))
                .is_ok())
        }
        other => panic!("no moveday case {other}"),
    }
}

/// A reqwest client as `probe/http_util.rs` builds it for `host` at `ip`; `lean` also
/// drops what a fresh-connection probe does not need.
fn reqwest_client(host: &str, ip: IpAddr, lean: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!(
            "moveday/",
            env!("CARGO_PKG_VERSION"),
            " (move-day probe)"
        ))
        .resolve(host, SocketAddr::new(ip, 0));
    let builder = if lean {
        builder
            .tcp_keepalive(None)
            .tcp_keepalive_interval(None)
            .tcp_keepalive_retries(None)
            .tcp_user_timeout(None)
            .retry(reqwest::retry::never())
    } else {
        builder
    };
    builder.build().unwrap()
}

/// One GET through `client` as `probe/http.rs` does it (the URL parsed per probe, the
/// body read by chunks), under the outer timeout; with `request_timeout` reqwest's own too.
async fn reqwest_get(client: &reqwest::Client, url: &str, request_timeout: bool) -> bool {
    let get = async {
        let url = reqwest::Url::parse(url).ok()?;
        let request = client.get(url);
        let request = if request_timeout {
            request.timeout(TIMEOUT)
        } else {
            request
        };
        let mut response = request.send().await.ok()?;
        let ok = response.status() == 200;
        while let Some(_chunk) = response.chunk().await.ok()? {}
        Some(ok)
    };
    bounded(get).await.ok().flatten() == Some(true)
}

/// Other ways of doing the HTTP probe (see [`EXPERIMENTS`]).
async fn experiment(kind: &str, t: &Target, n: u32, warm: u32) -> String {
    use http_body_util::BodyExt as _;
    let ip = IpAddr::V4(t.ip);
    let host = t.authority.rsplit_once(':').unwrap().0.to_string();
    match kind {
        "http-reqwest-copy" => {
            let client = reqwest_client(&host, ip, false);
            timed!(n, warm, |_i| reqwest_get(&client, &t.http_url, true).await)
        }
        "http-reqwest-lean" => {
            let client = reqwest_client(&host, ip, true);
            timed!(n, warm, |_i| reqwest_get(&client, &t.http_url, false).await)
        }
        "http-hyper" => timed!(n, warm, |_i| {
            let get = async {
                let stream = tokio::net::TcpStream::connect((ip, t.http_port))
                    .await
                    .ok()?;
                let io = hyper_util::rt::TokioIo::new(stream);
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.ok()?;
                let request = hyper::Request::get("/")
                    .header(hyper::header::HOST, t.authority.as_str())
                    .header(hyper::header::USER_AGENT, "moveday/0.1.0 (move-day probe)")
                    .header(hyper::header::ACCEPT, "*/*")
                    .body(http_body_util::Empty::<hyper::body::Bytes>::new())
                    .ok()?;
                let response = async {
                    let response = sender.send_request(request).await.ok()?;
                    let ok = response.status() == 200;
                    response.into_body().collect().await.ok()?;
                    Some(ok)
                };
                // The connection is driven here, not spawned: no task per probe.
                let (mut conn, mut response) = (std::pin::pin!(conn), std::pin::pin!(response));
                tokio::select! {
                    r = &mut response => r,
                    _ = &mut conn => response.await,
                }
            };
            bounded(get).await.ok().flatten() == Some(true)
        }),
        other => panic!("no experiment {other}"),
    }
}

/// The same exchanges on bare Tokio sockets, in a task on the same runtime shape.
async fn tokio_floor(kind: &str, t: &Target, n: u32, warm: u32) -> String {
    let ip = IpAddr::V4(t.ip);
    match kind {
        "ping" => {
            // SAFETY: the socket owns its descriptor, which stays open inside the AsyncFd.
            let icmp = unsafe { AsyncFd::register(raw_icmp_socket(true)) }.unwrap();
            let dst = SockAddr::from(SocketAddr::new(ip, 0));
            let id = std::process::id() as u16;
            timed!(n, warm, |i| {
                let seq = i as u16;
                let echo = async {
                    icmp.get_ref().send_to(&echo_request(id, seq), &dst).ok()?;
                    loop {
                        let mut ready = icmp.readable().await.ok()?;
                        let mut buf = [MaybeUninit::<u8>::uninit(); 512];
                        if let Ok(got) = ready.try_io(|s| s.get_ref().recv(&mut buf)) {
                            // SAFETY: recv initialised the first `len` bytes.
                            let bytes = unsafe { init_slice(&buf, got.ok()?) };
                            if is_echo_reply(bytes, id, seq) {
                                return Some(());
                            }
                        }
                    }
                };
                bounded(echo).await.is_ok_and(|r| r.is_some())
            })
        }
        "ssh" => timed!(n, warm, |_i| {
            let banner = async {
                let mut stream = tokio::net::TcpStream::connect((ip, t.ssh_port)).await?;
                let mut buf = [0u8; 1024];
                let mut seen = 0;
                while !buf[..seen].contains(&b'\n') {
                    let got = stream.read(&mut buf[seen..]).await?;
                    if got == 0 {
                        break;
                    }
                    seen += got;
                }
                std::io::Result::Ok(buf[..seen].starts_with(b"SSH-"))
            };
            matches!(bounded(banner).await, Ok(Ok(true)))
        }),
        "http" => {
            let request = http_request(&t.authority);
            timed!(n, warm, |_i| {
                let get = async {
                    let mut stream = tokio::net::TcpStream::connect((ip, t.http_port)).await?;
                    stream.write_all(&request).await?;
                    let mut response = Vec::with_capacity(1024);
                    let mut buf = [0u8; 4096];
                    while !http_complete(&response) {
                        let got = stream.read(&mut buf).await?;
                        if got == 0 {
                            break;
                        }
                        response.extend_from_slice(&buf[..got]);
                    }
                    std::io::Result::Ok(response.starts_with(b"HTTP/1.1 200"))
                };
                matches!(bounded(get).await, Ok(Ok(true)))
            })
        }
        "dns" => {
            let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
            socket.connect(t.dns).await.unwrap();
            let (a, aaaa) = (dns_query(&t.fqdn, 1), dns_query(&t.fqdn, 28));
            timed!(n, warm, |i| {
                let both = async {
                    let ids = [(2 * i) as u16, (2 * i + 1) as u16];
                    socket.send(&with_id(&a, ids[0])).await?;
                    socket.send(&with_id(&aaaa, ids[1])).await?;
                    let mut answered = [false; 2];
                    let mut buf = [0u8; 4096];
                    while answered != [true; 2] {
                        let got = socket.recv(&mut buf).await?;
                        if let Some(k) = answer_to(&buf[..got], &ids) {
                            answered[k] = true;
                        }
                    }
                    std::io::Result::Ok(())
                };
                matches!(bounded(both).await, Ok(Ok(())))
            })
        }
        "hosts" => {
            // Blocking a worker for one stat (a few µs) is what a floor may do.
            let seen = hosts_stamp(&t.hosts).unwrap();
            let names = hosts_index(&t.hosts);
            timed!(n, warm, |_i| {
                hosts_stamp(&t.hosts) == Some(seen)
                    && names.get(t.fqdn.as_str()).is_none_or(|v| !v.is_empty())
            })
        }
        other => panic!("no tokio floor {other}"),
    }
}

/// A floor's exchange under the probe's timeout.
fn bounded<F: std::future::Future>(exchange: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(TIMEOUT, exchange)
}

/// The same exchanges with blocking `std::net` sockets on this thread.
fn std_floor(kind: &str, t: &Target, n: u32, warm: u32) -> String {
    let ip = IpAddr::V4(t.ip);
    match kind {
        "ping" => {
            let icmp = raw_icmp_socket(false);
            icmp.set_read_timeout(Some(TIMEOUT)).unwrap();
            let dst = SockAddr::from(SocketAddr::new(ip, 0));
            let id = std::process::id() as u16;
            timed!(n, warm, |i| {
                let seq = i as u16;
                icmp.send_to(&echo_request(id, seq), &dst).is_ok()
                    && loop {
                        let mut buf = [MaybeUninit::<u8>::uninit(); 512];
                        let Ok(got) = icmp.recv(&mut buf) else {
                            break false;
                        };
                        // SAFETY: recv initialised the first `got` bytes.
                        if is_echo_reply(unsafe { init_slice(&buf, got) }, id, seq) {
                            break true;
                        }
                    }
            })
        }
        "ssh" => timed!(n, warm, |_i| {
            let banner = || -> std::io::Result<bool> {
                let stream = TcpStream::connect_timeout(&SocketAddr::new(ip, t.ssh_port), TIMEOUT)?;
                stream.set_read_timeout(Some(TIMEOUT))?;
                let mut line = Vec::with_capacity(256);
                std::io::BufReader::new(stream).read_until(b'\n', &mut line)?;
                Ok(line.starts_with(b"SSH-"))
            };
            banner().unwrap_or(false)
        }),
        "http" => {
            let request = http_request(&t.authority);
            timed!(n, warm, |_i| {
                let get = || -> std::io::Result<bool> {
                    let addr = SocketAddr::new(ip, t.http_port);
                    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
                    stream.set_read_timeout(Some(TIMEOUT))?;
                    stream.write_all(&request)?;
                    let mut response = Vec::with_capacity(1024);
                    let mut buf = [0u8; 4096];
                    while !http_complete(&response) {
                        let got = stream.read(&mut buf)?;
                        if got == 0 {
                            break;
                        }
                        response.extend_from_slice(&buf[..got]);
                    }
                    Ok(response.starts_with(b"HTTP/1.1 200"))
                };
                get().unwrap_or(false)
            })
        }
        "dns" => {
            let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
            socket.connect(t.dns).unwrap();
            socket.set_read_timeout(Some(TIMEOUT)).unwrap();
            let (a, aaaa) = (dns_query(&t.fqdn, 1), dns_query(&t.fqdn, 28));
            timed!(n, warm, |i| {
                let both = || -> std::io::Result<()> {
                    let ids = [(2 * i) as u16, (2 * i + 1) as u16];
                    socket.send(&with_id(&a, ids[0]))?;
                    socket.send(&with_id(&aaaa, ids[1]))?;
                    let mut answered = [false; 2];
                    let mut buf = [0u8; 4096];
                    while answered != [true; 2] {
                        let got = socket.recv(&mut buf)?;
                        if let Some(k) = answer_to(&buf[..got], &ids) {
                            answered[k] = true;
                        }
                    }
                    Ok(())
                };
                both().is_ok()
            })
        }
        "hosts" => {
            let seen = hosts_stamp(&t.hosts).unwrap();
            let names = hosts_index(&t.hosts);
            timed!(n, warm, |_i| hosts_stamp(&t.hosts) == Some(seen)
                && names.get(t.fqdn.as_str()).is_none_or(|v| !v.is_empty()))
        }
        "hosts-read" => timed!(n, warm, |_i| hosts_stamp(&t.hosts).is_some()
            && std::fs::read(&t.hosts).is_ok()),
        other => panic!("no std floor {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// Bare protocol pieces of the floors

/// A raw IPv4 ICMP socket with the filter moveday's pinger sets (echo replies and the
/// errors that answer a probe only), so neither side wakes for its own echo requests.
fn raw_icmp_socket(nonblocking: bool) -> Socket {
    use std::os::fd::AsRawFd;
    let socket = Socket::new(
        Domain::IPV4,
        Type::from(libc::SOCK_RAW),
        Some(Protocol::ICMPV4),
    )
    .unwrap();
    socket.set_nonblocking(nonblocking).unwrap();
    const ICMP_FILTER: libc::c_int = 1;
    let drop: u32 = [0u32, 3, 11, 12]
        .iter()
        .fold(u32::MAX, |bits, t| bits & !(1 << t));
    // SAFETY: the socket is open; the value is a live u32 of the size given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_RAW,
            ICMP_FILTER,
            (&raw const drop).cast(),
            4,
        )
    };
    socket
}

/// An echo request with moveday's 16-byte payload.
fn echo_request(id: u16, seq: u16) -> [u8; 24] {
    let mut p = [0u8; 24];
    p[0] = 8;
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    p[8..].copy_from_slice(b"moveday ping....");
    let mut sum: u32 = p
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p
}

/// Whether `packet` (IPv4 header included, as a raw socket reads it) is our echo reply.
fn is_echo_reply(packet: &[u8], id: u16, seq: u16) -> bool {
    let header = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
    let icmp = packet.get(header..).unwrap_or_default();
    icmp.len() >= 8
        && icmp[0] == 0
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

/// # Safety
/// The first `len` bytes of `buf` are initialised.
unsafe fn init_slice(buf: &[MaybeUninit<u8>], len: usize) -> &[u8] {
    // SAFETY: the caller's promise.
    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), len) }
}

/// The GET reqwest sends for moveday's probe: the same request line and headers.
fn http_request(authority: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nuser-agent: moveday/{} (move-day probe)\r\naccept: */*\r\n\
         host: {authority}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Whether `response` holds a whole head and the `Content-Length` bytes after it.
fn http_complete(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    response.len() >= end + 4 + length
}

/// A query for `fqdn`, type `rtype`, recursion desired, id 0 (see [`with_id`]).
fn dns_query(fqdn: &str, rtype: u16) -> Vec<u8> {
    let mut q = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in fqdn.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&rtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

fn with_id(query: &[u8], id: u16) -> Vec<u8> {
    let mut q = query.to_vec();
    q[..2].copy_from_slice(&id.to_be_bytes());
    q
}

/// Which of `ids` the response `answer` answers (QR set, NOERROR), if any.
fn answer_to(answer: &[u8], ids: &[u16; 2]) -> Option<usize> {
    if answer.len() < 12 || answer[2] & 0x80 == 0 || answer[3] & 0x0f != 0 {
        return None;
    }
    let id = u16::from_be_bytes([answer[0], answer[1]]);
    ids.iter().position(|&i| i == id)
}

/// (size, mtime, inode) of the hosts file: what moveday's cache compares.
fn hosts_stamp(path: &Path) -> Option<(u64, std::time::SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?, meta.ino()))
}

/// Name to addresses of the hosts file, parsed once.
fn hosts_index(path: &Path) -> BTreeMap<String, Vec<IpAddr>> {
    let mut names: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for line in text.lines() {
        let mut fields = line.split('#').next().unwrap_or("").split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        for name in fields {
            names.entry(name.to_ascii_lowercase()).or_default().push(ip);
        }
    }
    names
}

// ---------------------------------------------------------------------------------------
// The parent: the simulator, the rounds, the table

/// `moveday demo --hosts 16 --serve FILE` in a process of its own.
struct Simulator {
    process: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid; SIGINT is how bench.py stops it too.
        unsafe { libc::kill(self.process.id() as libc::pid_t, libc::SIGINT) };
        let _ = self.process.wait();
    }
}

/// Starts the simulator and reads host 1's addresses and ports from its inventory.
fn simulator() -> (Simulator, Target) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scale.toml");
    let process = Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["demo", "--hosts", "16", "--serve"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sim = Simulator { process, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&path).map_or(true, |m| m.len() == 0) {
        assert!(Instant::now() < deadline, "the simulator did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&path).unwrap();
    let value = |key: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap();
        line.split_once(" = ")
            .unwrap()
            .1
            .trim_matches('"')
            .to_string()
    };
    let target = Target {
        ip: value("new_ip").parse().unwrap(),
        ssh_port: value("ssh").parse().unwrap(),
        http_url: value("http"),
        http_port: 0,
        authority: String::new(),
        dns: value("address").parse().unwrap(),
        fqdn: value("fqdn"),
        hosts: PathBuf::from("/etc/hosts"),
    };
    (sim, target)
}

/// A case's median figures per probe, in µs (and switches per probe).
#[derive(Default, Clone, Copy)]
struct PerProbe {
    cpu: f64,
    user: f64,
    sys: f64,
    wall: f64,
    vcsw: f64,
    n: u32,
    failed: u32,
}

fn run_case(case: &str, target: &Target) -> Option<BTreeMap<String, f64>> {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CASE_ENV, case)
        .env(TARGET_ENV, target.to_env())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("probe_cost_case "))?;
    Some(
        line.split(' ')
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect(),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn summarise(samples: &[BTreeMap<String, f64>]) -> PerProbe {
    let per = |key: &str| median(samples.iter().map(|s| s[key] / s["n"].max(1.0)).collect());
    let first = samples.first();
    PerProbe {
        cpu: median(
            samples
                .iter()
                .map(|s| (s["user_us"] + s["sys_us"]) / s["n"].max(1.0))
                .collect(),
        ),
        user: per("user_us"),
        sys: per("sys_us"),
        wall: per("wall_us"),
        vcsw: per("vcsw"),
        n: first.map_or(0, |s| s["n"] as u32),
        failed: samples.iter().map(|s| s["failed"] as u32).sum(),
    }
}

fn ping_allowed() -> Result<(), String> {
    let (_, mode, hint) = Pinger::detect();
    match mode {
        PingMode::IcmpRaw => Ok(()),
        PingMode::IcmpDgram => Err(
            "ICMP datagram sockets only (net.ipv4.ping_group_range, not root): the raw \
             floor needs root"
                .into(),
        ),
        _ => Err(hint.unwrap_or_else(|| "no ICMP".into())),
    }
}

fn parent() {
    let rounds = env_number("MOVEDAY_BENCH_ROUNDS", 5);
    let (_sim, target) = simulator();
    let ping = ping_allowed();
    let experiments = std::env::var("MOVEDAY_BENCH_EXPERIMENTS").is_ok_and(|v| v == "1");
    let kinds: Vec<String> = std::env::var("MOVEDAY_BENCH_KINDS")
        .unwrap_or_default()
        .split(',')
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let mut cases: Vec<&str> = ROWS
        .iter()
        .flat_map(|r| [r.1, r.2, r.3])
        .chain(EXTRA.iter().map(|e| e.1))
        .chain(EXPERIMENTS.iter().map(|e| e.1).filter(|_| experiments))
        .filter(|c| ping.is_ok() || !c.starts_with("ping/"))
        .filter(|c| kinds.is_empty() || kinds.iter().any(|k| c.starts_with(k.as_str())))
        .collect();
    cases.sort_unstable();
    cases.dedup();
    let mut samples: BTreeMap<&str, Vec<BTreeMap<String, f64>>> = BTreeMap::new();
    for round in 1..=rounds {
        eprintln!("probe_cost: round {round} of {rounds}");
        for case in &cases {
            match run_case(case, &target) {
                Some(s) => samples.entry(case).or_default().push(s),
                None => eprintln!("probe_cost: {case}: no result"),
            }
        }
    }
    let figures: BTreeMap<&str, PerProbe> = samples
        .iter()
        .map(|(case, s)| (*case, summarise(s)))
        .collect();
    print_table(&figures, rounds);
    if let Err(why) = ping {
        println!("ping skipped: {why}");
    }
}

fn print_table(figures: &BTreeMap<&str, PerProbe>, rounds: u32) {
    let get = |case: &str| figures.get(case).copied();
    let ratio = |a: Option<PerProbe>, b: Option<PerProbe>| match (a, b) {
        (Some(a), Some(b)) if b.cpu > 0.0 => format!("{:.1}×", a.cpu / b.cpu),
        _ => "n/a".into(),
    };
    let cpu = |p: Option<PerProbe>| p.map_or("n/a".into(), |p| format!("{:.1}", p.cpu));
    println!(
        "per probe kind: µs of CPU (user + system, whole process) per probe, median of \
         {rounds} rounds"
    );
    println!(
        "| kind | moveday µs CPU | floor µs CPU (tokio) | ratio | floor µs CPU (std) | ratio to std | N |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (kind, ours, floor, std_floor) in ROWS {
        let (m, f, s) = (get(ours), get(floor), get(std_floor));
        if m.is_none() {
            continue;
        }
        let n = m.map_or(0, |p| p.n);
        println!(
            "| {kind} | {} | {} | {} | {} | {} | {n} |",
            cpu(m),
            cpu(f),
            ratio(m, f),
            cpu(s),
            ratio(m, s)
        );
    }
    println!();
    println!(
        "per case: µs per probe (user / system / wall) and voluntary context switches per probe"
    );
    println!("| case | user | system | wall | vcsw | failed |");
    println!("|---|---|---|---|---|---|");
    for (case, p) in figures {
        println!(
            "| {case} | {:.1} | {:.1} | {:.1} | {:.2} | {} |",
            p.user, p.sys, p.wall, p.vcsw, p.failed
        );
    }
    for (what, case) in EXTRA {
        if let Some(p) = get(case) {
            println!("{what}: {:.1} µs CPU per check", p.cpu);
        }
    }
    for (what, case) in EXPERIMENTS {
        if let Some(p) = get(case) {
            println!(
                "experiment, http GET by {what}: {:.1} µs CPU per probe, {} the tokio floor",
                p.cpu,
                ratio(Some(p), get("http/tokio"))
            );
        }
    }
}

fn main() {
    match std::env::var(CASE_ENV) {
        Ok(case) => child(&case),
        Err(_) => parent(),
    }
}
