//! `moveday demo`: a whole move in a box, on loopback, with no root and no network.
//!
//! Eight hosts with real listening servers on 127.77.2.x (the "new datacenter"): SSH
//! banners, HTTP, HTTPS with certificates from the demo's own CA, SMTP, buildbot's worker
//! port; an in-process authoritative DNS server (the primary) whose records flip from the
//! old addresses (127.77.1.x) to the new ones as hosts come back, two simulated caching
//! resolvers that keep serving the old answers for a while, and a hosts file of its own
//! with the post-mortem's trap in it: a stale entry for vbox.
//!
//! Reachability is simulated (every 127/8 address answers ICMP on Linux, so a "powered off"
//! host has to be pretended, and its ports are closed); everything measured is real. Even
//! the firewall: www's web port is a listener whose accept queue is full, so the kernel
//! drops every SYN to it and a connect times out, as behind an ACL that drops (no root
//! needed; see [`servers`]).
//!
//! The script, in seconds after start:
//!
//! ```text
//!  0 the new firewall drops www's web port (filtered); planet's page was last updated 3
//!    days ago (a stale lock file); the old mail server (127.77.1.11) still takes mail;
//!    example.org's SPF record authorizes only mail's OLD address, and the demo blocklist
//!    (bl.demo.test, the demo's own server: never a public list) lists its new one
//!  3 ns-master up          4 www up: SSH and HTTPS answer, planet stale, web port filtered
//!  5 jabber: DNS flips, the host never comes back (c2s and s2s ports refused)
//!  6 git up: its certificate expires in 9 days (warn)
//!  8 mail up: SMTP banner, EHLO with STARTTLS
//! 20 vbox up, but the hosts file sends probes to its OLD address
//! 26 drawable up          35 git's web answers 503 once (one probe: recovers on retry)
//! 40 build up: buildbot's worker port open, its web port left closed
//! 45 the ACL is fixed: www's web port opens
//! 50 the old mail server is switched off: nothing answers at the old address any more
//! 55 the admin fixes the hosts file: vbox turns green
//! 60 mail's DNS fixed: its SPF record authorizes the new address, its PTR (it said the
//!    provider's default name: no FCrDNS, a mail alarm) names mail.example.org
//! 65 the stale lock file is removed: planet updates again
//! 75 the demo blocklist delists mail's new address; with both fixes in the system cache
//!    by now, mail is clean and "release the mail backlog slowly" turns green
//! 90 the registrar's change lands: the parent's glue for ns-master, the old address
//!    until then (the Delegation line red), points at the new one
//! any time: `C` in the zones view writes the reverse zone's canary (its canary_key is
//!    written beside the hosts file); ns2 picks it up 25 s later, ns3 (the partner's
//!    secondary, still on the old primary) never: red at the one-minute deadline
//! each DNS change reaches the "system" cache 15 s later, the zone's secondary (ns2) 25 s
//! later, and the "public" cache 40 s later. drawable's TTL was never lowered (3600 s), so
//! caches may serve its old address for an hour.
//! ```
//!
//! `moveday demo --speed N` plays the same script N times faster ([`Pace`]): every step
//! and lag above, the advertised two-minute window, and the dashboard's probe interval and
//! timeout, so that what it notices keeps the same place in the story. The TTLs served
//! are DNS data shown on screen, not clocks of the script (the caches are simulated by
//! the lags), and stay as they are.

mod canary;
pub mod certs;
pub mod dns_server;
mod mail;
pub mod parent_server;
pub mod scale;
pub mod servers;
pub mod update;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use chrono::{DateTime, Timelike, Utc};
use rustls::pki_types::CertificateDer;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Inventory;
use crate::probe::dns::SystemDns;
use crate::probe::ping::{Pinger, Reachability};
use crate::probe::scheduler::ProbeEnv;
use certs::{DemoCa, days};
use dns_server::DnsServer;
use parent_server::ParentServer;
use servers::{
    ClosedPort, Gate, HttpReply, HttpRequest, HttpServer, SmtpServer, SshBannerServer, TcpServer,
};

/// The demo's zone.
const ZONE: &str = "example.org";
/// The reverse zone of the new addresses (127.77.2.x), with the hosts' PTR records.
const REVERSE_ZONE: &str = "2.77.127.in-addr.arpa";
/// The one name whose TTL nobody lowered before the move.
const LONG_TTL_HOST: &str = "drawable";
const LONG_TTL: u32 = 3600;
/// mail's PTR first says the provider's default name (no forward match: big providers
/// defer such mail) until the admin asks for it to be fixed, with the SPF record, at
/// [`mail::MAIL_DNS_FIXED_AT`].
const MAIL_PTR_DEFAULT: &str = "host-11.dc2.example.net";
/// TTL the primary serves (lowered before the move, as the post-mortem advises).
const TTL: u32 = 60;
/// How long the simulated caches lag behind the primary.
const SYSTEM_CACHE_LAG: u64 = 15;
const PUBLIC_CACHE_LAG: u64 = 40;
/// How long the zone's secondary takes to pick up each change of the primary.
const SECONDARY_LAG: u64 = 25;
/// When the admin notices and fixes the stale hosts-file entry.
const HOSTS_FILE_FIXED_AT: u64 = 55;
/// When the missing rule for www's web port is added to the firewall ACL.
const ACL_FIXED_AT: u64 = 45;
/// When the old mail server, still taking mail at the old address, is switched off.
const OLD_MAIL_OFF_AT: u64 = 50;
/// When someone removes planet's stale lock file and it updates again.
const PLANET_FIXED_AT: u64 = 65;
/// How old planet's page is until then, and the `max_age` it is checked against.
const PLANET_FROZEN_FOR: Duration = Duration::from_secs(3 * 86_400);
const PLANET_MAX_AGE: &str = "1h";
/// When git's web server answers one request with 503 (a blip: one failed probe).
const GIT_BLIP_AT: u64 = 35;
/// What is left of git's certificate at start: 9 days (and a half, so it reads "9 days"
/// all demo long), inside the default `warn_days` of 14.
const GIT_CERT_LEFT: Duration = Duration::from_secs(9 * 86_400 + 12 * 3600);
/// When the registrar's change of ns-master's glue reaches the parent zone's servers.
const REGISTRAR_GLUE_AT: u64 = 90;
/// How often the demo asks the parent for the delegation, at real time (the inventory's
/// minimum is 1 s).
const DELEGATION_EVERY: Duration = Duration::from_secs(10);

/// How long a canary run gives the secondaries, at real time (ns2 takes `SECONDARY_LAG`).
const CANARY_DEADLINE: Duration = Duration::from_secs(60);

/// The fastest `--speed`.
pub const MAX_SPEED: u32 = 100;

/// How fast the script runs: `Pace(N)` plays N seconds of the script in one real second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace(u32);

impl Pace {
    /// Real time, as the README's table tells the story.
    pub const REAL_TIME: Pace = Pace(1);

    /// `speed` times faster than real time; `None` outside 1 to [`MAX_SPEED`].
    pub fn faster(speed: u32) -> Option<Pace> {
        (1..=MAX_SPEED).contains(&speed).then_some(Pace(speed))
    }

    /// How long `script` (a time or lag of the script) takes in real time.
    fn of(self, script: Duration) -> Duration {
        script / self.0
    }
}

/// The dashboard's probe interval at real time; its timeout is half of it. At a faster
/// pace both shrink with the script (no interval below the inventory's minimum of 100 ms).
const PROBE_INTERVAL: Duration = Duration::from_secs(2);
const MIN_PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// What the web server of a demo host does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Web {
    None,
    Open,
    /// The daemon runs but the port is not open (nothing listens).
    Closed,
    /// The daemon runs but the new firewall drops the port until [`ACL_FIXED_AT`]: the
    /// post-mortem's missing ACL rule.
    Filtered,
}

/// What else a demo host serves, beside SSH and its web server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    /// SMTP on the new address, and the old server still answering at the old one.
    Smtp,
    /// HTTPS with a certificate about to expire.
    ExpiringCert,
    /// HTTPS for the site and planet, whose page is stale until [`PLANET_FIXED_AT`].
    Planet,
    /// buildbot's worker port.
    Worker,
    /// The jabber ports (client and server), never opened again.
    Jabber,
}

/// One host of the script: name, last octet, when it comes back (never: `None`), web,
/// other services.
struct Script {
    name: &'static str,
    octet: u8,
    back_at: Option<u64>,
    web: Web,
    extra: Extra,
}

const SCRIPT: [Script; 8] = [
    Script {
        name: "ns-master",
        octet: 10,
        back_at: Some(3),
        web: Web::None,
        extra: Extra::None,
    },
    Script {
        name: "mail",
        octet: 11,
        back_at: Some(8),
        web: Web::Open,
        extra: Extra::Smtp,
    },
    Script {
        name: "git",
        octet: 12,
        back_at: Some(6),
        web: Web::Open,
        extra: Extra::ExpiringCert,
    },
    Script {
        name: "vbox",
        octet: 13,
        back_at: Some(20),
        web: Web::Open,
        extra: Extra::None,
    },
    Script {
        name: "drawable",
        octet: 14,
        back_at: Some(26),
        web: Web::None,
        extra: Extra::None,
    },
    Script {
        name: "www",
        octet: 15,
        back_at: Some(4),
        web: Web::Filtered,
        extra: Extra::Planet,
    },
    Script {
        name: "build",
        octet: 16,
        back_at: Some(40),
        web: Web::Closed,
        extra: Extra::Worker,
    },
    Script {
        name: "jabber",
        octet: 17,
        back_at: None,
        web: Web::None,
        extra: Extra::Jabber,
    },
];

/// When jabber's DNS record is flipped although the host never comes back.
const JABBER_DNS_AT: u64 = 5;

/// The first line of the SMTP servers, after `220 mail.example.org`.
const MAIL_GREETING: &str = "ESMTP Postfix (Debian/GNU)";
const OLD_MAIL_GREETING: &str = "ESMTP Postfix (Debian/GNU) [old datacenter]";

/// What a jabber client sends first, and what a jabber server answers.
const JABBER_SEND: &str = "<?xml version='1.0'?><stream:stream to='example.org' \
    xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

fn old_ip(octet: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 77, 1, octet))
}

fn new_ip(octet: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 77, 2, octet))
}

/// The TTL the primary serves for `name`.
fn ttl_of(name: &str) -> u32 {
    if name == LONG_TTL_HOST { LONG_TTL } else { TTL }
}

/// The PTR name of a host's new address; mail's is wrong until `fixed`.
fn ptr_name(name: &str, fixed: bool) -> String {
    if name == "mail" && !fixed {
        MAIL_PTR_DEFAULT.to_string()
    } else {
        fqdn(name)
    }
}

fn fqdn(name: &str) -> String {
    format!("{name}.{ZONE}")
}

/// The simulated network: which addresses answer.
#[derive(Default)]
struct Network {
    up: RwLock<HashSet<IpAddr>>,
}

impl Network {
    fn set(&self, ip: IpAddr, up: bool) {
        let mut set = self.up.write().unwrap_or_else(|e| e.into_inner());
        if up {
            set.insert(ip);
        } else {
            set.remove(&ip);
        }
    }
}

impl Reachability for Network {
    fn reachable(&self, ip: IpAddr) -> bool {
        self.up
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&ip)
    }
}

struct DemoHost {
    ssh: SshBannerServer,
    http: Option<HttpServer>,
    /// git's (an expiring certificate) and www's (the site and planet).
    https: Option<HttpServer>,
    /// mail's, on the new address.
    smtp: Option<SmtpServer>,
    /// The old mail server, at the old address and the same port.
    old_smtp: Option<SmtpServer>,
    /// buildbot's worker port.
    worker: Option<TcpServer>,
    /// jabber's client and server ports, never opened.
    closed: Vec<ClosedPort>,
}

/// Switches of the story that the servers read on every request.
#[derive(Clone)]
struct Story {
    /// Planet still serves the page of before the reboot.
    planet_frozen: Arc<AtomicBool>,
    /// git's web server answers the next request with 503.
    git_blip: Arc<AtomicBool>,
}

/// A running demo; everything stops when it is dropped.
pub struct Demo {
    inventory: Inventory,
    network: Arc<Network>,
    system_cache: SocketAddr,
    hosts_file: PathBuf,
    ca: CertificateDer<'static>,
    script: JoinHandle<()>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // The script task owns every server: aborting it closes them all.
        self.script.abort();
        if let Some(dir) = self.hosts_file.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Demo {
    /// Starts the servers and the script, in real time; the clock of the script starts now.
    pub async fn start() -> anyhow::Result<Demo> {
        Demo::start_at(Pace::REAL_TIME).await
    }

    /// As [`Demo::start`], with the script played at `pace`.
    pub async fn start_at(pace: Pace) -> anyhow::Result<Demo> {
        Demo::start_with(pace, None).await
    }

    /// As [`Demo::start_at`]; with `notify_sink`, the inventory also tells "the team"
    /// through a `kind = "command"` endpoint appending each message to that file (`tee
    /// -a`), so a newcomer sees what moveday would send to a chat or a phone.
    pub async fn start_with(pace: Pace, notify_sink: Option<&Path>) -> anyhow::Result<Demo> {
        let ([primary, system_cache, public_cache, secondary], parent) = start_dns().await?;
        let blocklist = mail::Blocklist::start().await?;

        let ca = DemoCa::new()?;
        let story = Story {
            planet_frozen: Arc::new(AtomicBool::new(true)),
            git_blip: Arc::new(AtomicBool::new(false)),
        };
        let mut hosts = Vec::new();
        for s in &SCRIPT {
            hosts.push(
                start_host(s, &ca, &story)
                    .await
                    .with_context(|| format!("demo: cannot start {}'s servers", s.name))?,
            );
        }

        let dir = private_dir().context("demo: cannot create its directory")?;
        let hosts_file = dir.join("hosts");
        write_hosts_file(&hosts_file, true)?;
        let canary = canary::start(
            primary.clone(),
            secondary.clone(),
            &dir,
            pace.of(Duration::from_secs(SECONDARY_LAG)),
        )
        .await?;

        let inventory = Inventory::parse(
            Path::new("<demo inventory>"),
            &(inventory_toml(
                &hosts,
                &hosts_file,
                [
                    canary.desk.addr(),
                    public_cache.addr(),
                    secondary.addr(),
                    parent.addr(),
                    canary.ns3.addr(),
                    blocklist.addr(),
                ],
                &canary.key,
                demo_window(Utc::now(), pace),
                pace,
            ) + &notify_block(notify_sink, pace)),
        )
        .context("demo: the generated inventory is invalid (a bug)")?;

        let system_cache_addr = system_cache.addr();
        let network = Arc::new(Network::default());
        let script = tokio::spawn(run_script(
            hosts,
            DemoDns {
                servers: [primary, system_cache, public_cache, secondary],
                parent,
                _canary: canary,
                blocklist,
            },
            network.clone(),
            hosts_file.clone(),
            story,
            pace,
        ));
        Ok(Demo {
            inventory,
            network,
            system_cache: system_cache_addr,
            hosts_file,
            ca: ca.der(),
            script,
        })
    }

    /// The inventory of the simulated move (generated, with the servers' real ports).
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The pinger for the simulated network: powered-off hosts time out, the others are
    /// measured for real on loopback (ICMP where allowed, else TCP).
    pub fn pinger(&self) -> Pinger {
        Pinger::simulated(self.network.clone(), Pinger::detect().0)
    }

    /// The demo's "system" resolver: its simulated ISP cache, so no query leaves the machine.
    pub fn system_dns(&self) -> SystemDns {
        SystemDns::Servers(vec![self.system_cache])
    }

    /// The certificate of the demo's CA, which issued the certificates its HTTPS servers
    /// present. Trusted by [`Demo::probe_env`] only.
    pub fn ca_certificate(&self) -> CertificateDer<'static> {
        self.ca.clone()
    }

    /// The probe environment for the demo's inventory: the simulated network's pinger, the
    /// simulated system resolver, and the demo CA trusted beside the system's roots.
    pub fn probe_env(&self) -> ProbeEnv {
        ProbeEnv::with_system_dns(&self.inventory, self.pinger(), self.system_dns())
            .with_extra_roots(vec![self.ca_certificate()])
    }
}

/// Both zones name ns-master as their name server (at every zone server), and the parent
/// delegates them to it, with the glue of ns-master at its OLD address: the registrar has
/// not changed it yet.
async fn delegate(zone_servers: &[&DnsServer], parent: &ParentServer) -> anyhow::Result<()> {
    let ns_master = fqdn("ns-master");
    let ns = hickory_proto::rr::Name::from_ascii(format!("{ns_master}."))?;
    for zone in [ZONE, REVERSE_ZONE] {
        for server in zone_servers {
            let data = vec![hickory_proto::rr::RData::NS(hickory_proto::rr::rdata::NS(
                ns.clone(),
            ))];
            server
                .set_records(zone, hickory_proto::rr::RecordType::NS, TTL, data)
                .await?;
        }
        parent.delegate(zone, &[&ns_master])?;
    }
    parent.set_glue(&ns_master, old_ip(SCRIPT[host_index("ns-master")].octet))?;
    Ok(())
}

/// A new directory of the demo's own in the temp directory (`moveday-demo-PID-N`, mode
/// 0700): its hosts file and canary key. Created, never reused: two demos in one process
/// (the tests) do not share a key, and a directory someone else made is never written
/// into.
fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mut builder = std::fs::DirBuilder::new();
    builder.mode(0o700);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("moveday-demo-{}-{n}", std::process::id()));
        match builder.create(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => continue,
            other => return other.map(|()| dir),
        }
    }
}

/// The demo's DNS servers as the move starts: the primary (ns-master), the two simulated
/// caches, ns2, every one serving the old addresses and the PTRs' first names; and the
/// parent, delegating both zones to ns-master with its old glue.
async fn start_dns() -> anyhow::Result<([Arc<DnsServer>; 4], ParentServer)> {
    let any = |ip: IpAddr| SocketAddr::new(ip, 0);
    let at = |octet: u8| any(IpAddr::V4(Ipv4Addr::new(127, 77, 0, octet)));
    let zones = [ZONE, REVERSE_ZONE];
    let start = |octet: u8, what: &'static str| async move {
        DnsServer::start(at(octet), &zones)
            .await
            .map(Arc::new)
            .with_context(|| format!("demo: cannot start {what}"))
    };
    let servers = [
        start(53, "the primary DNS server").await?,
        start(54, "the simulated system resolver").await?,
        start(55, "the simulated public resolver").await?,
        start(56, "the secondary DNS server").await?,
    ];
    let parent = ParentServer::start(at(57))
        .await
        .context("demo: cannot start the parent zone's server")?;
    let refs: Vec<&DnsServer> = servers.iter().map(|s| &**s).collect();
    delegate(&refs, &parent).await?;
    for server in &servers {
        mail::serve_domain(server).await?;
    }
    for s in &SCRIPT {
        for server in &servers {
            server
                .set_a(&fqdn(s.name), old_ip(s.octet), ttl_of(s.name))
                .await?;
            server
                .set_ptr(new_ip(s.octet), &ptr_name(s.name, false), TTL)
                .await?;
        }
    }
    Ok((servers, parent))
}

/// The host's web server, as the move starts: down, or dropped by the "new ACL"; git's
/// answers 503 once when the script says so.
async fn start_web(
    s: &Script,
    story: &Story,
    any: SocketAddr,
    name: &str,
) -> anyhow::Result<Option<HttpServer>> {
    Ok(match s.web {
        Web::None => None,
        Web::Open | Web::Closed | Web::Filtered => {
            let http = HttpServer::bind(any).await?;
            let page = HttpReply::status(
                200,
                &format!("<h1>{name} — served from the new datacenter</h1>\n"),
            );
            if s.extra == Extra::ExpiringCert {
                // One request answered 503 when the script says so, then fine again.
                let blip = story.git_blip.clone();
                http.set_handler(move |_| {
                    if blip.swap(false, Ordering::Relaxed) {
                        HttpReply::status(503, "busy: the repositories are being repacked\n")
                    } else {
                        page.clone()
                    }
                });
            } else {
                http.set_reply(page);
            }
            if s.web == Web::Filtered {
                // If this kernel cannot drop SYNs this way, a closed port is the next best.
                if http.set_gate(Gate::Filtered).await.is_err() {
                    http.set_gate(Gate::Closed).await?;
                }
            } else {
                http.set_up(false).await?;
            }
            Some(http)
        }
    })
}

/// Binds every server of one host, in the state of the start of the move: the host down
/// (its ports closed), except what the firewall drops and what the old server serves.
async fn start_host(s: &Script, ca: &DemoCa, story: &Story) -> anyhow::Result<DemoHost> {
    let ip = new_ip(s.octet);
    let any = SocketAddr::new(ip, 0);
    let name = fqdn(s.name);
    let ssh = SshBannerServer::bind(any, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
        .await
        .with_context(|| format!("cannot listen on {ip}"))?;
    ssh.set_up(false).await?;
    let http = start_web(s, story, any, &name).await?;
    let mut host = DemoHost {
        ssh,
        http,
        https: None,
        smtp: None,
        old_smtp: None,
        worker: None,
        closed: Vec::new(),
    };
    let now = SystemTime::now();
    match s.extra {
        Extra::None => {}
        Extra::Smtp => {
            let (new, old) = smtp_pair(ip, old_ip(s.octet), &name).await?;
            new.set_up(false).await?;
            host.smtp = Some(new);
            host.old_smtp = Some(old);
        }
        Extra::ExpiringCert => {
            // A 90-day certificate issued 80.5 days ago that nobody renewed.
            let tls = ca.server_config(
                &[&name],
                now + GIT_CERT_LEFT - days(90),
                now + GIT_CERT_LEFT,
            )?;
            let https = HttpServer::bind_tls(any, tls).await?;
            https.set_reply(HttpReply::status(200, &format!("<h1>{name}</h1>\n")));
            https.set_up(false).await?;
            host.https = Some(https);
        }
        Extra::Planet => {
            let planet = fqdn("planet");
            let tls = ca.server_config(&[&name, &planet], now - days(30), now + days(60))?;
            let https = HttpServer::bind_tls(any, tls).await?;
            let frozen = story.planet_frozen.clone();
            let frozen_at = DateTime::<Utc>::from(now - PLANET_FROZEN_FOR);
            let site = HttpReply::status(200, &format!("<h1>Welcome to {name}</h1>\n"));
            https.set_handler(move |request: &HttpRequest| {
                let host = request.host.as_deref().unwrap_or_default();
                if host.split(':').next() == Some(planet.as_str()) {
                    let updated = if frozen.load(Ordering::Relaxed) {
                        frozen_at
                    } else {
                        Utc::now()
                    };
                    planet_page(updated)
                } else {
                    site.clone()
                }
            });
            https.set_up(false).await?;
            host.https = Some(https);
        }
        Extra::Worker => {
            let worker = TcpServer::bind(any, b"").await?;
            worker.set_up(false).await?;
            host.worker = Some(worker);
        }
        Extra::Jabber => {
            host.closed = vec![ClosedPort::bind(any)?, ClosedPort::bind(any)?];
        }
    }
    Ok(host)
}

/// mail's SMTP servers: on the new address (to be opened when mail is back) and on the old
/// one (answering from the start), on the same port, as the inventory names one port for
/// both.
async fn smtp_pair(
    new: IpAddr,
    old: IpAddr,
    name: &str,
) -> anyhow::Result<(SmtpServer, SmtpServer)> {
    for _ in 0..20 {
        let new = SmtpServer::bind(SocketAddr::new(new, 0), name, MAIL_GREETING).await?;
        let port = new.addr().port();
        if let Ok(old) = SmtpServer::bind(SocketAddr::new(old, port), name, OLD_MAIL_GREETING).await
        {
            return Ok((new, old));
        }
    }
    anyhow::bail!("no port free on both {new} and {old} for SMTP")
}

/// Planet's page, saying when it was last updated.
fn planet_page(updated: DateTime<Utc>) -> HttpReply {
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>Planet example.org</title></head>\n\
         <body><h1>Planet example.org</h1>\n<p>Last updated: {} UTC</p>\n</body></html>\n",
        updated.format("%Y-%m-%d %H:%M")
    );
    HttpReply::Response {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: body.into_bytes(),
    }
}

/// The advertised window of the simulated move: from now, two minutes of the script (its
/// last fix lands at 75 s), to the second.
fn demo_window(now: DateTime<Utc>, pace: Pace) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = now.with_nanosecond(0).unwrap_or(now);
    let length = pace
        .of(Duration::from_secs(120))
        .as_secs_f64()
        .round()
        .max(1.0);
    (start, start + chrono::Duration::seconds(length as i64))
}

/// The demo's `[[notify]]`: every message appended to `sink` as a JSON line (none without
/// a sink).
fn notify_block(sink: Option<&Path>, pace: Pace) -> String {
    let Some(sink) = sink else {
        return String::new();
    };
    format!(
        "\n# Tell the team: here, a file of JSON lines (a chat webhook or ntfy in a real move).\n\
         [[notify]]\nname = \"team-log\"\nkind = \"command\"\nargv = [\"tee\", \"-a\", {sink:?}]\n\
         on = [\"host\", \"delegation\", \"canary\", \"checklist\", \"mail\"]\n\
         min_interval = \"{}\"\n",
        humantime::format_duration(pace.of(Duration::from_secs(30)).max(Duration::from_secs(1))),
        sink = sink.display().to_string(),
    )
}

/// The inventory text, as an admin would have written it for this move.
fn inventory_toml(
    hosts: &[DemoHost],
    hosts_file: &Path,
    [primary, public, secondary, parent, ns3, blocklist]: [SocketAddr; 6],
    canary_key: &Path,
    window: (DateTime<Utc>, DateTime<Utc>),
    pace: Pace,
) -> String {
    let interval = pace.of(PROBE_INTERVAL).max(MIN_PROBE_INTERVAL);
    let timeout = interval / 2;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Generated by `moveday demo`: a simulated move on loopback.\n\
         hosts_file = {hosts_file:?}\n\n\
         [move]\nname = \"demo: example.org to the new datacenter\"\n\
         old_network = \"127.77.1.0/24\"\nnew_network = \"127.77.2.0/24\"\n\
         window_start = \"{window_start}\"\nwindow_end = \"{window_end}\"\n\n\
         [probe]\ninterval = \"{interval}\"\ntimeout = \"{timeout}\"\n\n\
         [[resolver]]\nname = \"system\"\nsystem = true\n\n\
         [[resolver]]\nname = \"ns-master\"\naddress = \"{primary}\"\n\n\
         [[resolver]]\nname = \"public\"\naddress = \"{public}\"\n\n\
         [[resolver]]\nname = \"ns2\"\naddress = \"{secondary}\"\n\n\
         [dns]\ndelegation_every = \"{delegation_every}\"\n\
         canary_deadline = \"{canary_deadline}\"\ncanary_every = \"{canary_every}\"\n\n\
         [[zone]]\nname = \"{ZONE}\"\nprimary = \"{primary}\"\nsecondaries = [\"{secondary}\"]\n\
         contact = \"Aleksi at axu.tm, +358 40 123 4567 (demo)\"\nparent = [\"{parent}\"]\n\n\
         [[zone]]\nname = \"{REVERSE_ZONE}\"\nprimary = \"{primary}\"\n\
         secondaries = [\"{secondary}\", \"{ns3}\"]\n\
         contact = {{ \"{secondary}\" = \"noc@dc2.example.net (the new provider's reverse DNS)\", \
         \"{ns3}\" = \"Jaana at partner.example, +358 40 765 4321 (demo)\" }}\n\
         parent = [\"{parent}\"]\ncanary_key = {canary_key:?}",
        hosts_file = hosts_file.display().to_string(),
        window_start = crate::timefmt::rfc3339(window.0),
        window_end = crate::timefmt::rfc3339(window.1),
        interval = humantime::format_duration(interval),
        delegation_every =
            humantime::format_duration(pace.of(DELEGATION_EVERY).max(Duration::from_secs(1))),
        timeout = humantime::format_duration(timeout),
        canary_deadline =
            humantime::format_duration(pace.of(CANARY_DEADLINE).max(Duration::from_secs(1))),
        canary_every = humantime::format_duration(
            pace.of(Duration::from_secs(1))
                .max(Duration::from_millis(100))
        ),
        canary_key = canary_key.display().to_string(),
    );
    let _ = writeln!(t, "\n{}", mail::mail_table(blocklist, pace));
    for (s, h) in SCRIPT.iter().zip(hosts) {
        let _ = writeln!(
            t,
            "\n[[host]]\nname = \"{}\"\nfqdn = \"{}\"",
            s.name,
            fqdn(s.name)
        );
        let _ = writeln!(t, "old_ip = \"{}\"", old_ip(s.octet));
        // vbox has no new_ip: its probes go where this machine resolves it, and the demo's
        // hosts file still says the old address (the post-mortem's trap).
        if s.name != "vbox" {
            let _ = writeln!(t, "new_ip = \"{}\"", new_ip(s.octet));
        }
        if s.name == "mail" {
            let _ = writeln!(t, "role = \"mail\"");
        }
        let _ = writeln!(t, "ssh = {}", h.ssh.addr().port());
        if let Some(http) = &h.http {
            let _ = writeln!(
                t,
                "http = \"http://{}:{}/\"",
                fqdn(s.name),
                http.addr().port()
            );
        }
        host_services(&mut t, s, h);
    }
    t.push_str(DEMO_CHECKLIST);
    t
}

/// A host's `ports`, `probe_old` and `[[host.service]]` lines (issue 5's checks).
fn host_services(t: &mut String, s: &Script, h: &DemoHost) {
    let port = |server: Option<SocketAddr>| server.map(|a| a.port()).unwrap_or_default();
    let web = port(h.http.as_ref().map(HttpServer::addr));
    let https = port(h.https.as_ref().map(HttpServer::addr));
    match s.extra {
        Extra::None => {}
        Extra::Smtp => {
            let smtp = port(h.smtp.as_ref().map(SmtpServer::addr));
            let _ = writeln!(
                t,
                "ports = [{smtp}]\n\
                 probe_old = true    # does the old server still take mail?\n\n\
                 [[host.service]]\nname = \"smtp\"\nkind = \"smtp\"\nport = {smtp}\n\
                 ehlo = \"moveday.example.org\""
            );
        }
        Extra::ExpiringCert => {
            let _ = writeln!(
                t,
                "\n[[host.service]]\nname = \"cert\"\nkind = \"tls\"\nport = {https}"
            );
        }
        Extra::Planet => {
            let _ = writeln!(
                t,
                "ports = [{web}, {https}]    # the web port and HTTPS\n\n\
                 [[host.service]]\nname = \"planet\"\nkind = \"https\"\n\
                 url = \"https://{planet}:{https}/\"\ncontains = \"Planet\"\n\
                 max_age = \"{PLANET_MAX_AGE}\"\n\
                 fresh_regex = \"Last updated: (\\\\d{{4}}-\\\\d\\\\d-\\\\d\\\\d \\\\d\\\\d:\\\\d\\\\d)\"\n\
                 fresh_format = \"%Y-%m-%d %H:%M\"",
                planet = fqdn("planet"),
            );
        }
        Extra::Worker => {
            let worker = port(h.worker.as_ref().map(TcpServer::addr));
            let _ = writeln!(
                t,
                "ports = [{web}, {worker}]    # buildbot's web interface, and its workers' port"
            );
        }
        Extra::Jabber => {
            let [c2s, s2s] = [0, 1].map(|i| h.closed.get(i).map_or(0, |p| p.addr().port()));
            let _ = writeln!(
                t,
                "ports = [{c2s}, {s2s}]    # clients, and other servers\n\n\
                 [[host.service]]\nname = \"c2s\"\nkind = \"tcp\"\nport = {c2s}\n\
                 send = \"{JABBER_SEND}\"\nexpect = \"/stream:stream/\""
            );
        }
    }
}

/// The demo's move plan: a short version of the example inventory's, linked to its hosts.
const DEMO_CHECKLIST: &str = r#"
[[checklist]]
id = "lower-ttl"
phase = "before"
text = "Lower the TTL of every moving name to 60 s, two days ahead"

[[checklist]]
id = "contact-secondaries"
phase = "before"
text = "Tell every secondary DNS operator the new master IP"
check = "zone:2.77.127.in-addr.arpa.canary"

[[checklist]]
id = "review-acl"
phase = "before"
text = "Review the new firewall ACL dump line by line (80 was missed last time)"

[[checklist]]
id = "clean-hosts-files"
phase = "before"
text = "Remove pinned old addresses from the admins' own hosts files"
check = "vbox.hosts_file"

[[checklist]]
id = "shutdown"
phase = "move"
text = "Stop accepting mail and shut down all eight servers"

[[checklist]]
id = "zone-update"
phase = "move"
text = "New addresses in the zone on ns-master, serial bumped"
check = "ns-master.dns"

[[checklist]]
id = "registrar-glue"
phase = "move"
text = "ns-master's glue at the registrar points at its new address"
check = "zone:example.org.delegation"

[[checklist]]
id = "ns-master-up"
phase = "move"
text = "ns-master up on the new network"
check = "ns-master.ssh"

[[checklist]]
id = "mail-up"
phase = "after"
text = "mail answers SSH on its new address"
check = "mail.ssh"

[[checklist]]
id = "git-web"
phase = "after"
text = "git serves its web pages on the new address"
check = "git.http"

[[checklist]]
id = "vbox-web"
phase = "after"
text = "vbox's web server answers (and no hosts file hides it)"
check = "vbox.http"

[[checklist]]
id = "buildbot-web"
phase = "after"
text = "buildbot's web port is open"
check = "build.http"

[[checklist]]
id = "www-web"
phase = "after"
text = "www's web port answers from outside (is it in the new ACL?)"
check = "www.http"

[[checklist]]
id = "old-mail-off"
phase = "after"
text = "Switch off the old mail server once the new one takes mail"

[[checklist]]
id = "planet-fresh"
phase = "after"
text = "Planet updates again (stale lock files after the reboot?)"
check = "www.health"

[[checklist]]
id = "jabber-up"
phase = "after"
text = "jabber is up"
check = "jabber.health"

[[checklist]]
id = "mail-slow-start"
phase = "after"
text = "Release the mail backlog slowly; watch Google and Yahoo deferrals"
check = "mail.mail"
"#;

/// The demo's hosts file: with the stale vbox entry until the admin fixes it.
fn write_hosts_file(path: &Path, stale: bool) -> anyhow::Result<()> {
    let mut text = String::from("# moveday demo: this laptop's hosts file\n127.0.0.1\tlocalhost\n");
    if stale {
        let _ = writeln!(
            text,
            "{}\t{} vbox   # pinned before the move",
            old_ip(13),
            fqdn("vbox")
        );
    } else {
        let _ = writeln!(
            text,
            "# {}\t{} vbox   # removed after the move",
            old_ip(13),
            fqdn("vbox")
        );
    }
    let _ = writeln!(text, "{}\t{} drawable", new_ip(14), fqdn("drawable"));
    // Write and rename, so a probe never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("demo: cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("demo: cannot write {}", path.display()))?;
    Ok(())
}

/// One step of the script.
enum Step {
    HostUp(usize),
    /// DNS server `server` (0 primary, 1 system cache, 2 public cache, 3 the zone's
    /// secondary) learns the new address.
    Dns {
        server: usize,
        host: usize,
    },
    FixHostsFile,
    /// DNS server `server` learns mail's corrected PTR and SPF record.
    MailDns {
        server: usize,
    },
    /// The demo blocklist drops mail's new address.
    Delist,
    /// The rule for www's web port is added to the ACL.
    FixAcl,
    OldMailOff,
    /// planet's stale lock file is removed.
    FixPlanet,
    /// git's web server answers one request with 503.
    GitBlip,
    /// The registrar's change lands: the parent's glue for ns-master is the new address.
    RegistrarGlue,
}

fn timeline() -> Vec<(u64, Step)> {
    let mut steps = Vec::new();
    for (i, s) in SCRIPT.iter().enumerate() {
        let dns_at = s.back_at.unwrap_or(JABBER_DNS_AT);
        if let Some(t) = s.back_at {
            steps.push((t, Step::HostUp(i)));
        }
        steps.push((dns_at, Step::Dns { server: 0, host: i }));
        steps.push((dns_at + SYSTEM_CACHE_LAG, Step::Dns { server: 1, host: i }));
        steps.push((dns_at + PUBLIC_CACHE_LAG, Step::Dns { server: 2, host: i }));
        steps.push((dns_at + SECONDARY_LAG, Step::Dns { server: 3, host: i }));
    }
    steps.push((HOSTS_FILE_FIXED_AT, Step::FixHostsFile));
    for (server, lag) in [
        (0, 0),
        (1, SYSTEM_CACHE_LAG),
        (2, PUBLIC_CACHE_LAG),
        (3, SECONDARY_LAG),
    ] {
        steps.push((mail::MAIL_DNS_FIXED_AT + lag, Step::MailDns { server }));
    }
    steps.push((mail::DELISTED_AT, Step::Delist));
    steps.push((ACL_FIXED_AT, Step::FixAcl));
    steps.push((OLD_MAIL_OFF_AT, Step::OldMailOff));
    steps.push((PLANET_FIXED_AT, Step::FixPlanet));
    steps.push((GIT_BLIP_AT, Step::GitBlip));
    steps.push((REGISTRAR_GLUE_AT, Step::RegistrarGlue));
    steps.sort_by_key(|(t, _)| *t);
    steps
}

/// The index of a host in [`SCRIPT`].
fn host_index(name: &str) -> usize {
    SCRIPT.iter().position(|s| s.name == name).unwrap_or(0)
}

/// The demo's DNS servers, owned by the script: the primary, the two caches, ns2, the
/// parent, the canary's (ns-master's update desk, ns3) and the demo blocklist.
struct DemoDns {
    servers: [Arc<DnsServer>; 4],
    parent: ParentServer,
    _canary: canary::CanaryStage,
    blocklist: mail::Blocklist,
}

async fn run_script(
    hosts: Vec<DemoHost>,
    dns: DemoDns,
    network: Arc<Network>,
    hosts_file: PathBuf,
    story: Story,
    pace: Pace,
) {
    let DemoDns {
        servers: dns,
        parent,
        _canary,
        blocklist,
    } = dns;
    let start = Instant::now();
    for (at, step) in timeline() {
        tokio::time::sleep_until(start + pace.of(Duration::from_secs(at))).await;
        // A failing step is not worth stopping the demo for: the screen will show it.
        match step {
            Step::HostUp(i) => {
                let (s, h) = (&SCRIPT[i], &hosts[i]);
                network.set(new_ip(s.octet), true);
                let _ = h.ssh.set_up(true).await;
                if let (Some(http), Web::Open) = (&h.http, s.web) {
                    let _ = http.set_up(true).await;
                }
                if let Some(https) = &h.https {
                    let _ = https.set_up(true).await;
                }
                if let Some(smtp) = &h.smtp {
                    let _ = smtp.set_up(true).await;
                }
                if let Some(worker) = &h.worker {
                    let _ = worker.set_up(true).await;
                }
            }
            Step::Dns { server, host } => {
                let s = &SCRIPT[host];
                let _ = dns[server]
                    .set_a(&fqdn(s.name), new_ip(s.octet), ttl_of(s.name))
                    .await;
            }
            Step::FixHostsFile => {
                let _ = write_hosts_file(&hosts_file, false);
            }
            Step::MailDns { server } => {
                let host = &SCRIPT[host_index("mail")];
                let _ = dns[server]
                    .set_ptr(new_ip(host.octet), &ptr_name(host.name, true), TTL)
                    .await;
                let _ = mail::set_spf(&dns[server], true).await;
            }
            Step::Delist => {
                let _ = blocklist.delist().await;
            }
            Step::FixAcl => {
                if let Some(http) = &hosts[host_index("www")].http {
                    let _ = http.set_gate(Gate::Open).await;
                }
            }
            Step::OldMailOff => {
                if let Some(old) = &hosts[host_index("mail")].old_smtp {
                    let _ = old.set_up(false).await;
                }
            }
            Step::FixPlanet => story.planet_frozen.store(false, Ordering::Relaxed),
            Step::GitBlip => story.git_blip.store(true, Ordering::Relaxed),
            Step::RegistrarGlue => {
                let s = &SCRIPT[host_index("ns-master")];
                let _ = parent.set_glue(&fqdn(s.name), new_ip(s.octet));
            }
        }
    }
    // Keep the servers alive until the demo is dropped.
    std::future::pending::<()>().await;
}
