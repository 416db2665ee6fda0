//! `moveday demo`: a whole move in a box, on loopback, with no root and no network.
//!
//! Eight hosts with real listening SSH-banner and HTTP servers on 127.77.2.x (the "new
//! datacenter"), an in-process authoritative DNS server (the primary) whose records flip
//! from the old addresses (127.77.1.x) to the new ones as hosts come back, two simulated
//! caching resolvers that keep serving the old answers for a while, and a hosts file of its
//! own with the post-mortem's trap in it: a stale entry for vbox.
//!
//! Reachability is simulated (every 127/8 address answers ICMP on Linux, so a "powered off"
//! host has to be pretended); everything measured on a reachable host is real.
//!
//! The script, in seconds after start:
//!
//! ```text
//!  3 ns-master up      20 vbox up, but the hosts file sends probes to its OLD address
//!  5 jabber: DNS flips, host never comes back          26 drawable up
//!  8 mail up           33 www up                       40 build up, HTTP port left closed
//! 14 git up            55 the admin fixes the hosts file: vbox turns green
//! 70 mail's PTR fixed (it said the provider's default name: no FCrDNS, a mail alarm)
//! each DNS change reaches the "system" cache 15 s later, the zone's secondary (ns2) 25 s
//! later, and the "public" cache 40 s later. drawable's TTL was never lowered (3600 s), so
//! caches may serve its old address for an hour.
//! ```

pub mod dns_server;
pub mod servers;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Inventory;
use crate::probe::dns::SystemDns;
use crate::probe::ping::{Pinger, Reachability};
use dns_server::DnsServer;
use servers::{HttpReply, HttpServer, SshBannerServer};

/// The demo's zone.
const ZONE: &str = "example.org";
/// The reverse zone of the new addresses (127.77.2.x), with the hosts' PTR records.
const REVERSE_ZONE: &str = "2.77.127.in-addr.arpa";
/// The one name whose TTL nobody lowered before the move.
const LONG_TTL_HOST: &str = "drawable";
const LONG_TTL: u32 = 3600;
/// mail's PTR first says the provider's default name (no forward match: big providers
/// defer such mail) until the admin asks for it to be fixed.
const MAIL_PTR_DEFAULT: &str = "host-11.dc2.example.net";
const MAIL_PTR_FIXED_AT: u64 = 70;
/// TTL the primary serves (lowered before the move, as the post-mortem advises).
const TTL: u32 = 60;
/// How long the simulated caches lag behind the primary.
const SYSTEM_CACHE_LAG: u64 = 15;
const PUBLIC_CACHE_LAG: u64 = 40;
/// How long the zone's secondary takes to pick up each change of the primary.
const SECONDARY_LAG: u64 = 25;
/// When the admin notices and fixes the stale hosts-file entry.
const HOSTS_FILE_FIXED_AT: u64 = 55;

/// What the web server of a demo host does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Web {
    None,
    Open,
    /// The daemon runs but the port is not open (the post-mortem's missing ACL).
    Closed,
}

/// One host of the script: name, last octet, when it comes back (never: `None`), web.
struct Script {
    name: &'static str,
    octet: u8,
    back_at: Option<u64>,
    web: Web,
}

const SCRIPT: [Script; 8] = [
    Script {
        name: "ns-master",
        octet: 10,
        back_at: Some(3),
        web: Web::None,
    },
    Script {
        name: "mail",
        octet: 11,
        back_at: Some(8),
        web: Web::Open,
    },
    Script {
        name: "git",
        octet: 12,
        back_at: Some(14),
        web: Web::Open,
    },
    Script {
        name: "vbox",
        octet: 13,
        back_at: Some(20),
        web: Web::Open,
    },
    Script {
        name: "drawable",
        octet: 14,
        back_at: Some(26),
        web: Web::None,
    },
    Script {
        name: "www",
        octet: 15,
        back_at: Some(33),
        web: Web::Open,
    },
    Script {
        name: "build",
        octet: 16,
        back_at: Some(40),
        web: Web::Closed,
    },
    Script {
        name: "jabber",
        octet: 17,
        back_at: None,
        web: Web::None,
    },
];

/// When jabber's DNS record is flipped although the host never comes back.
const JABBER_DNS_AT: u64 = 5;

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
}

/// A running demo; everything stops when it is dropped.
pub struct Demo {
    inventory: Inventory,
    network: Arc<Network>,
    system_cache: SocketAddr,
    hosts_file: PathBuf,
    script: JoinHandle<()>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.script.abort();
        if let Some(dir) = self.hosts_file.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Demo {
    /// Starts the servers and the script; the clock of the script starts now.
    pub async fn start() -> anyhow::Result<Demo> {
        let any = |ip: IpAddr| SocketAddr::new(ip, 0);
        let dns_ip = IpAddr::V4(Ipv4Addr::new(127, 77, 0, 53));
        let primary = DnsServer::start(any(dns_ip), &[ZONE, REVERSE_ZONE])
            .await
            .context("demo: cannot start the primary DNS server")?;
        let system_cache = DnsServer::start(
            any(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 54))),
            &[ZONE, REVERSE_ZONE],
        )
        .await
        .context("demo: cannot start the simulated system resolver")?;
        let public_cache = DnsServer::start(
            any(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 55))),
            &[ZONE, REVERSE_ZONE],
        )
        .await
        .context("demo: cannot start the simulated public resolver")?;
        let secondary = DnsServer::start(
            any(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 56))),
            &[ZONE, REVERSE_ZONE],
        )
        .await
        .context("demo: cannot start the secondary DNS server")?;
        for s in &SCRIPT {
            for server in [&primary, &system_cache, &public_cache, &secondary] {
                server
                    .set_a(&fqdn(s.name), old_ip(s.octet), ttl_of(s.name))
                    .await?;
                server
                    .set_ptr(new_ip(s.octet), &ptr_name(s.name, false), TTL)
                    .await?;
            }
        }

        let mut hosts = Vec::new();
        for s in &SCRIPT {
            let ip = new_ip(s.octet);
            let ssh = SshBannerServer::bind(any(ip), "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
                .await
                .with_context(|| format!("demo: cannot listen on {ip}"))?;
            ssh.set_up(false).await?;
            let http = match s.web {
                Web::None => None,
                Web::Open | Web::Closed => {
                    let http = HttpServer::bind(any(ip)).await?;
                    http.set_reply(HttpReply::status(
                        200,
                        &format!(
                            "<h1>{} — served from the new datacenter</h1>\n",
                            fqdn(s.name)
                        ),
                    ));
                    http.set_up(false).await?;
                    Some(http)
                }
            };
            hosts.push(DemoHost { ssh, http });
        }

        let dir = std::env::temp_dir().join(format!("moveday-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("demo: cannot create {}", dir.display()))?;
        let hosts_file = dir.join("hosts");
        write_hosts_file(&hosts_file, true)?;

        let inventory = Inventory::parse(
            Path::new("<demo inventory>"),
            &inventory_toml(
                &hosts,
                &hosts_file,
                [primary.addr(), public_cache.addr(), secondary.addr()],
            ),
        )
        .context("demo: the generated inventory is invalid (a bug)")?;

        let system_cache_addr = system_cache.addr();
        let network = Arc::new(Network::default());
        let script = tokio::spawn(run_script(
            hosts,
            [primary, system_cache, public_cache, secondary],
            network.clone(),
            hosts_file.clone(),
        ));
        Ok(Demo {
            inventory,
            network,
            system_cache: system_cache_addr,
            hosts_file,
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
}

/// The inventory text, as an admin would have written it for this move.
fn inventory_toml(
    hosts: &[DemoHost],
    hosts_file: &Path,
    [primary, public, secondary]: [SocketAddr; 3],
) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Generated by `moveday demo`: a simulated move on loopback.\n\
         hosts_file = {hosts_file:?}\n\n\
         [move]\nname = \"demo: example.org to the new datacenter\"\n\
         old_network = \"127.77.1.0/24\"\nnew_network = \"127.77.2.0/24\"\n\n\
         [probe]\ninterval = \"2s\"\ntimeout = \"1s\"\n\n\
         [[resolver]]\nname = \"system\"\nsystem = true\n\n\
         [[resolver]]\nname = \"ns-master\"\naddress = \"{primary}\"\n\n\
         [[resolver]]\nname = \"public\"\naddress = \"{public}\"\n\n\
         [[resolver]]\nname = \"ns2\"\naddress = \"{secondary}\"\n\n\
         [[zone]]\nname = \"{ZONE}\"\nprimary = \"{primary}\"\nsecondaries = [\"{secondary}\"]\n\
         contact = \"Aleksi at axu.tm, +358 40 123 4567 (demo)\"\n\n\
         [[zone]]\nname = \"{REVERSE_ZONE}\"\nprimary = \"{primary}\"\nsecondaries = [\"{secondary}\"]\n\
         contact = \"noc@dc2.example.net (the new provider's reverse DNS)\"",
        hosts_file = hosts_file.display().to_string(),
    );
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
    }
    t.push_str(DEMO_CHECKLIST);
    t
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
id = "jabber-up"
phase = "after"
text = "jabber is up"
check = "jabber.health"

[[checklist]]
id = "mail-slow-start"
phase = "after"
text = "Release the mail backlog slowly; watch Google and Yahoo deferrals"
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
    /// DNS server `server` learns mail's corrected PTR.
    MailPtr {
        server: usize,
    },
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
        steps.push((MAIL_PTR_FIXED_AT + lag, Step::MailPtr { server }));
    }
    steps.sort_by_key(|(t, _)| *t);
    steps
}

async fn run_script(
    hosts: Vec<DemoHost>,
    dns: [DnsServer; 4],
    network: Arc<Network>,
    hosts_file: PathBuf,
) {
    let start = Instant::now();
    for (at, step) in timeline() {
        tokio::time::sleep_until(start + Duration::from_secs(at)).await;
        // A failing step is not worth stopping the demo for: the screen will show it.
        match step {
            Step::HostUp(i) => {
                let s = &SCRIPT[i];
                network.set(new_ip(s.octet), true);
                let _ = hosts[i].ssh.set_up(true).await;
                if let (Some(http), Web::Open) = (&hosts[i].http, s.web) {
                    let _ = http.set_up(true).await;
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
            Step::MailPtr { server } => {
                let mail = &SCRIPT[1];
                let _ = dns[server]
                    .set_ptr(new_ip(mail.octet), &ptr_name(mail.name, true), TTL)
                    .await;
            }
        }
    }
    // Keep the servers alive until the demo is dropped.
    std::future::pending::<()>().await;
}
