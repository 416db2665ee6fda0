//! `moveday check` as a script would run it: the real binary against real servers on loopback
//! (SSH-banner and HTTP listeners, an in-process DNS server, a black-hole resolver, a hosts
//! file with a stale entry), asserting what the JSON and the table say about each host.
//!
//! Then the JSON contract: the whole `check --json`, `dns --json` and `checklist --json` of a
//! fixed state against golden files in `tests/golden/`, and the JSON Schemas in `schema/`
//! against the output types. `UPDATE_GOLDEN=1 cargo test --test it check_json` rewrites both.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Output;

use crate::common::golden::{assert_golden as golden_file, assert_golden_file as golden};
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
    // One round: bounded by the 500 ms timeout (plus start-up and the first-round stagger),
    // about 2 s; a hang or a second round would take far longer.
    assert!(
        elapsed < crate::common::in_time(std::time::Duration::from_secs(2)),
        "check took {elapsed:?}"
    );
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

// ------------------------------------------------------------------ the golden outputs

mod fixed {
    //! A fixed state: `tests/golden/check_inventory.toml` and a fixed sequence of probe
    //! reports, each at a fixed time, so that every time in the output is fixed too.

    use std::net::{IpAddr, SocketAddr};
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use moveday::config::Inventory;
    use moveday::probe::delegation::{DelegationOutcome, Glue, ParentAnswer, Referral};
    use moveday::probe::mail::{
        DnsblAnswer, DnsblCheck, DnsblOutcome, MailDomain, MailOutcome, MxAnswer, MxHost,
        MxOutcome, SpfCheck, SpfOutcome, SpfResult,
    };
    use moveday::probe::ports::{PortResult, PortState};
    use moveday::probe::service::{CertInfo, CommandRun, ServiceResult, ServiceState};
    use moveday::probe::{
        AuthAnswer, DnsAnswer, DnsError, DnsOutcome, HostsEntry, HostsFileOutcome, HttpOutcome,
        HttpResponse, OldOutcome, Outcome, PingMode, PingOutcome, PortsOutcome, ProbeError,
        ProbeReport, PtrAnswer, PtrOutcome, ServiceOutcome, SshBanner, SshOutcome, Target,
        TargetSource, ZoneAnswer, ZoneOutcome,
    };
    use moveday::store::{self, State};

    pub const INVENTORY: &str = "tests/golden/check_inventory.toml";

    // Host and resolver indexes of the inventory.
    const MAIL: usize = 0;
    const PINNED: usize = 1;
    const DARK: usize = 2;
    const GONE: usize = 3;
    const SYSTEM: usize = 0;
    const ISP: usize = 1;
    const PRIMARY: usize = 2;
    const SECONDARY: usize = 3;
    const BROKEN_SECONDARY: usize = 4;

    pub fn inventory() -> Arc<Inventory> {
        let text = std::fs::read_to_string(INVENTORY).unwrap();
        Arc::new(Inventory::parse(Path::new(INVENTORY), &text).unwrap())
    }

    /// 2027-01-15T08:00:00Z plus `secs`.
    pub fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_micros(n * 1000 + 250)
    }

    fn dns(resolver: usize, addresses: &[&str], ttl: u32, aa: Option<bool>) -> Outcome {
        Outcome::Dns(DnsOutcome {
            resolver,
            result: Ok(DnsAnswer {
                more: 0,
                addresses: addresses.iter().map(|a| ip(a)).collect(),
                ttl,
                latency: ms(1),
                authoritative: aa,
            }),
        })
    }

    fn dns_err(resolver: usize, e: DnsError) -> Outcome {
        Outcome::Dns(DnsOutcome {
            resolver,
            result: Err(e),
        })
    }

    fn target(address: &str, source: TargetSource) -> Outcome {
        Outcome::Target(Ok(Target {
            ip: ip(address),
            source,
        }))
    }

    fn ping(address: &str, result: Result<Duration, ProbeError>) -> Outcome {
        Outcome::Ping(PingOutcome {
            ip: ip(address),
            mode: PingMode::Tcp,
            result,
        })
    }

    fn ssh(address: &str, port: u16, result: Result<&str, ProbeError>) -> Outcome {
        Outcome::Ssh(SshOutcome {
            ip: ip(address),
            port,
            result: result.map(|banner| SshBanner {
                banner: banner.into(),
                latency: ms(2),
            }),
        })
    }

    fn http(address: &str, url: &str, status: u16, location: Option<&str>) -> Outcome {
        Outcome::Http(HttpOutcome {
            ip: ip(address),
            url: url.into(),
            result: Ok(HttpResponse {
                status,
                latency: ms(12),
                location: location.map(String::from),
                body_bytes: 1234,
                truncated: false,
            }),
        })
    }

    fn port(port: u16, state: PortState, detail: Option<&str>) -> PortResult {
        PortResult {
            port,
            state,
            latency: ms(3),
            detail: detail.map(String::from),
        }
    }

    fn service(state: ServiceState, detail: &str, error: Option<&str>) -> ServiceResult {
        ServiceResult {
            smtp_names: None,
            command: None,
            state,
            detail: detail.into(),
            error: error.map(String::from),
            latency: ms(20),
            age: None,
            cert: None,
        }
    }

    fn service_of(index: usize, address: &str, result: ServiceResult) -> Outcome {
        Outcome::Service(ServiceOutcome {
            service: index,
            ip: ip(address),
            result,
        })
    }

    fn zone(server: usize, address: &str, result: Result<ZoneAnswer, DnsError>) -> ProbeReport {
        ProbeReport::Zone {
            at: t(1),
            outcome: ZoneOutcome {
                zone: 0,
                server,
                address: Some(SocketAddr::new(ip(address), 53)),
                result,
            },
        }
    }

    /// The parent's two servers: the first still holds ns1's old glue, the second the new
    /// one (the primary serves the new).
    fn delegation() -> ProbeReport {
        let ns = vec!["ns1.example.org".to_string(), "ns2.example.net".to_string()];
        let parent = |address: &str, glue: &str| ParentAnswer {
            address: address.parse().unwrap(),
            result: Ok(Referral {
                ns: ns.clone(),
                glue: vec![Glue {
                    name: "ns1.example.org".into(),
                    addresses: vec![ip(glue)],
                    more: 0,
                }],
            }),
        };
        ProbeReport::Delegation {
            at: t(2),
            outcome: DelegationOutcome {
                zone: 0,
                found: None,
                servers: vec![
                    parent("192.0.2.1:53", "198.51.100.53"),
                    parent("192.0.2.2:5353", "203.0.113.53"),
                ],
                primary: [("ns1.example.org".to_string(), Ok(vec![ip("203.0.113.53")]))]
                    .into_iter()
                    .collect(),
            },
        }
    }

    fn soa(serial: u32, authoritative: bool) -> Result<ZoneAnswer, DnsError> {
        Ok(ZoneAnswer {
            serial: Some(serial),
            ns: vec!["ns1.example.org".into(), "ns2.example.net".into()],
            authoritative,
            latency: ms(4),
        })
    }

    /// The reports of `mail`: up on its new address, after a few blips.
    fn mail(at: u64) -> Vec<(usize, u64, Outcome)> {
        let new = "203.0.113.25";
        let webmail = ServiceResult {
            smtp_names: None,
            command: None,
            age: Some(Duration::from_secs(3600)),
            cert: Some(Box::new(CertInfo {
                subject: "CN=mail.example.org".into(),
                issuer: "CN=Example CA".into(),
                not_after: t(90 * 86_400),
                days_left: 90,
                name_matches: true,
                trusted: false,
                chain_error: Some("invalid peer certificate: UnknownIssuer".into()),
            })),
            ..service(ServiceState::Ok, "200 OK · 12 KiB · updated 1h ago", None)
        };
        let timeout = || service(ServiceState::Fail, "", Some("timeout"));
        let old = OldOutcome {
            ip: ip("198.51.100.25"),
            ports: vec![
                port(25, PortState::Open, None),
                port(443, PortState::Refused, Some("nothing listening")),
            ],
            services: vec![
                service(ServiceState::Fail, "", Some("refused")),
                service(ServiceState::Ok, "220 mail.example.org ESMTP", None),
            ],
        };
        [
            target(new, TargetSource::NewIp),
            ping(new, Ok(ms(3))),
            ping(new, Err(ProbeError::Timeout)),
            ping(new, Ok(ms(4))),
            ssh(new, 22, Ok("SSH-2.0-OpenSSH_9.2p1 Debian-2")),
            http(
                new,
                "http://mail.example.org/",
                301,
                Some("https://mail.example.org/"),
            ),
            Outcome::HostsFile(HostsFileOutcome { result: Ok(vec![]) }),
            dns(SYSTEM, &[new], 300, None),
            dns(ISP, &["198.51.100.25"], 3600, None),
            dns(PRIMARY, &[new], 86_400, Some(true)),
            dns(SECONDARY, &["198.51.100.25"], 86_400, Some(false)),
            dns_err(BROKEN_SECONDARY, DnsError::Refused),
            Outcome::Ptr(PtrOutcome {
                ip: ip(new),
                result: Ok(PtrAnswer {
                    names: vec!["mail.example.org".into(), "smtp.example.org".into()],
                    forward_confirmed: true,
                    ttl: 300,
                }),
            }),
            Outcome::PrimaryAnswer(Ok(AuthAnswer {
                more: 0,
                addresses: vec![ip(new)],
                ttl: 86_400,
                authoritative: true,
            })),
            Outcome::Ports(PortsOutcome {
                ip: ip(new),
                ports: vec![
                    port(25, PortState::Open, None),
                    port(
                        443,
                        PortState::Filtered,
                        Some("no answer in 1s: firewall/ACL drop"),
                    ),
                ],
            }),
            Outcome::Ports(PortsOutcome {
                ip: ip(new),
                ports: vec![
                    port(25, PortState::Open, None),
                    port(443, PortState::Open, None),
                ],
            }),
            service_of(0, new, timeout()),
            service_of(0, new, webmail),
            service_of(1, new, timeout()),
            Outcome::Old(old),
            mail_domains(),
            blocklists(new),
        ]
        .into_iter()
        .enumerate()
        .map(|(k, outcome)| (MAIL, at + k as u64, outcome))
        .collect()
    }

    /// example.org's MX points at mail's new address; its SPF still authorizes only the old.
    fn mail_domains() -> Outcome {
        let check = |address: &str, result| SpfCheck {
            ip: ip(address),
            result,
            why: None,
        };
        Outcome::Mail(MailOutcome {
            domains: vec![MailDomain {
                mx: MxOutcome {
                    domain: "example.org".into(),
                    result: Ok(MxAnswer {
                        hosts: vec![MxHost {
                            preference: 10,
                            name: "mail.example.org".into(),
                            addresses: Ok(vec![ip("203.0.113.25")]),
                            more: 0,
                        }],
                        more: 0,
                        null_mx: false,
                        points_here: true,
                        old: false,
                        ttl: 300,
                    }),
                },
                spf: SpfOutcome {
                    domain: "example.org".into(),
                    record: Ok(Some("v=spf1 ip4:198.51.100.25 -all".into())),
                    new_ip: Some(check("203.0.113.25", SpfResult::Fail)),
                    old_ip: Some(check("198.51.100.25", SpfResult::Pass)),
                },
            }],
        })
    }

    /// One list has the new address, one will not answer this asker, one does not list it.
    fn blocklists(address: &str) -> Outcome {
        let check = |zone: &str, result| DnsblCheck {
            zone: zone.into(),
            ip: ip(address),
            result: Ok(result),
        };
        Outcome::Dnsbl(DnsblOutcome {
            ip: ip(address),
            checks: vec![
                check(
                    "bl.example.net",
                    DnsblAnswer::Listed {
                        codes: vec!["127.0.0.2".parse().unwrap()],
                        reason: Some("Listed: backlog burst, see https://bl.example.net/".into()),
                        ttl: 900,
                    },
                ),
                check(
                    "big.example.com",
                    DnsblAnswer::Refused {
                        code: "127.255.255.254".parse().unwrap(),
                    },
                ),
                check("small.example.com", DnsblAnswer::NotListed),
            ],
        })
    }

    /// The reports of `pinned`: the hosts file sends its probes to the old address.
    fn pinned(at: u64) -> Vec<(usize, u64, Outcome)> {
        let old = "198.51.100.11";
        [
            Outcome::HostsFile(HostsFileOutcome {
                result: Ok(vec![HostsEntry {
                    ip: ip(old),
                    line: 3,
                }]),
            }),
            target(old, TargetSource::HostsFile),
            ping(old, Err(ProbeError::Timeout)),
            ping(old, Err(ProbeError::Timeout)),
            ssh(old, 2222, Err(ProbeError::Refused)),
            ssh(old, 2222, Err(ProbeError::Refused)),
            dns(SYSTEM, &["203.0.113.11"], 300, None),
            dns(ISP, &["203.0.113.11"], 300, None),
            dns(PRIMARY, &["203.0.113.11"], 300, Some(true)),
            Outcome::Ptr(PtrOutcome {
                ip: ip(old),
                result: Err(DnsError::NxDomain),
            }),
            Outcome::PrimaryAnswer(Err(DnsError::Timeout)),
        ]
        .into_iter()
        .enumerate()
        .map(|(k, outcome)| (PINNED, at + k as u64, outcome))
        .collect()
    }

    /// The reports of `dark`: HTTP 503, port 22 refused, jabber recovering.
    fn dark(at: u64) -> Vec<(usize, u64, Outcome)> {
        let new = "203.0.113.12";
        let refused = || service(ServiceState::Fail, "", Some("refused"));
        let ssh22 = || port(22, PortState::Refused, Some("nothing listening"));
        [
            target(new, TargetSource::NewIp),
            ping(new, Ok(Duration::from_micros(15_678))),
            ssh(
                new,
                22,
                Err(ProbeError::Protocol(
                    "no SSH banner: \"HTTP/1.1 400\"".into(),
                )),
            ),
            http(new, "http://dark.example.org/", 503, None),
            Outcome::Http(HttpOutcome {
                ip: ip(new),
                url: "http://dark.example.org/".into(),
                result: Err(ProbeError::Io("connection reset by peer".into())),
            }),
            http(new, "http://dark.example.org/", 503, None),
            Outcome::Ports(PortsOutcome {
                ip: ip(new),
                ports: vec![ssh22()],
            }),
            Outcome::Ports(PortsOutcome {
                ip: ip(new),
                ports: vec![ssh22()],
            }),
            service_of(0, new, refused()),
            service_of(0, new, refused()),
            service_of(0, new, service(ServiceState::Ok, "connected", None)),
            dns(ISP, &[new], 60, None),
            dns(PRIMARY, &[new], 60, Some(true)),
            service_of(2, new, sweep()),
            service_of(2, new, sweep()),
        ]
        .into_iter()
        .enumerate()
        .map(|(k, outcome)| (DARK, at + k as u64, outcome))
        .collect()
    }

    /// `dark`'s old-address sweep: a file that names an old address.
    fn sweep() -> ServiceResult {
        ServiceResult {
            command: Some(Box::new(CommandRun {
                exit_status: Some(0),
                output: "/etc/nginx/conf.d/upstream.conf".into(),
                lines: 1,
                truncated: false,
            })),
            ..service(
                ServiceState::Fail,
                "exit 0 · 1 line",
                Some("output not empty (1 line): /etc/nginx/conf.d/upstream.conf"),
            )
        }
    }

    /// The reports of `gone`: no address, and an unreadable hosts file.
    fn gone(at: u64) -> Vec<(usize, u64, Outcome)> {
        [
            Outcome::Target(Err(ProbeError::NoTarget(
                "gone.example.org: NXDOMAIN".into(),
            ))),
            Outcome::HostsFile(HostsFileOutcome {
                result: Err("/etc/hosts: permission denied".into()),
            }),
            dns_err(ISP, DnsError::NxDomain),
            dns_err(PRIMARY, DnsError::NxDomain),
        ]
        .into_iter()
        .enumerate()
        .map(|(k, outcome)| (GONE, at + k as u64, outcome))
        .collect()
    }

    /// The state after the fixed reports: a TCP ping mode with its hint, the zone's
    /// primary, a lagging secondary and a silent one, and the hosts' probes.
    pub fn state() -> State {
        let mut state = State::new(inventory());
        store::reduce(
            &mut state,
            ProbeReport::PingMode {
                mode: PingMode::Tcp,
                hint: Some("ICMP is not permitted here: pings are TCP connects".into()),
            },
        );
        for report in [
            zone(0, "203.0.113.10", soa(2026112502, true)),
            zone(1, "192.0.2.54", soa(2026112501, true)),
            zone(2, "192.0.2.55", Err(DnsError::Timeout)),
            delegation(),
        ] {
            store::reduce(&mut state, report);
        }
        let probes = [mail(10), pinned(40), dark(60), gone(80)];
        for (host, secs, outcome) in probes.into_iter().flatten() {
            let at = t(secs);
            store::reduce(&mut state, ProbeReport::Probe { host, at, outcome });
        }
        for host in 0..state.hosts.len() {
            store::reduce(&mut state, ProbeReport::RoundDone { host, at: t(100) });
        }
        for report in vantages() {
            store::reduce(&mut state, report);
        }
        state
    }

    /// The office sees pinned up (its hosts file has no stale entry) and dark down; the
    /// other vantage refuses the key.
    fn vantages() -> [ProbeReport; 2] {
        use moveday::probe::vantage::{
            RemoteDns, RemoteHealth, RemoteHost, RemoteView, VantageOutcome,
        };
        let host = |name: &str, health, target: &str, reasons: &[&str]| RemoteHost {
            name: name.into(),
            health,
            target: Some(ip(target)),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            dns: vec![RemoteDns {
                resolver: "system".into(),
                server: "system".into(),
                addresses: vec![ip(target)],
                verdict: Some("new".into()),
                error: None,
            }],
        };
        [
            ProbeReport::Vantage {
                at: t(110),
                outcome: VantageOutcome {
                    vantage: 0,
                    result: Ok(RemoteView {
                        hosts: vec![
                            host("pinned", RemoteHealth::Up, "203.0.113.11", &[]),
                            host(
                                "dark",
                                RemoteHealth::Down,
                                "203.0.113.12",
                                &["ping timeout"],
                            ),
                        ],
                        hosts_file: Some("/etc/hosts".into()),
                    }),
                    took: Duration::from_millis(1500),
                    persistent: false,
                },
            },
            ProbeReport::Vantage {
                at: t(111),
                outcome: VantageOutcome {
                    vantage: 1,
                    result: Err(
                        "authentication refused by eu (BatchMode: no key was accepted)".into(),
                    ),
                    took: Duration::from_millis(300),
                    persistent: false,
                },
            },
        ]
    }
}

/// The whole `check --json` and `dns --json` of a fixed state, as `main` prints them.
#[test]
fn golden_check_and_dns_json_of_a_fixed_state() {
    use moveday::check::json::{CheckOutput, DnsOutput};
    let state = fixed::state();
    let mut check = serde_json::to_string_pretty(&CheckOutput::new(&state)).unwrap();
    check.push('\n');
    golden("check.json", &check);
    let mut dns = serde_json::to_string_pretty(&DnsOutput::new(&state)).unwrap();
    dns.push('\n');
    golden("dns.json", &dns);
}

#[test]
fn golden_checklist_json_of_a_fixed_state_file() {
    let doc: moveday::checklist::ChecklistDoc = serde_json::from_str(
        r#"{
            "version": 1,
            "items": {
                "lower-ttl": {
                    "tick": {"done": true, "who": "ann@laptop", "at": "2027-01-14T18:00:00Z"},
                    "note": {"text": "300 s everywhere", "who": "ann@laptop",
                             "at": "2027-01-14T18:01:00Z"}
                },
                "unpin": {
                    "tick": {"done": false, "who": "bob@ops", "at": "2027-01-15T08:10:00Z"}
                },
                "verify-mail": {
                    "tick": {"done": true, "who": "bob@ops", "at": "2027-01-15T08:20:00Z",
                             "evidence": "mail.http: 301 from 203.0.113.25"}
                },
                "old-step": {
                    "tick": {"done": true, "who": "ann@laptop", "at": "2027-01-14T17:00:00Z"}
                }
            }
        }"#,
    )
    .unwrap();
    let inventory = fixed::inventory();
    let path = std::path::Path::new("/var/lib/moveday/golden.checklist.json");
    let json = moveday::checklist::headless::to_json(&inventory, path, &doc);
    let mut text = serde_json::to_string_pretty(&json).unwrap();
    text.push('\n');
    golden("checklist.json", &text);
}

/// The JSON Schema of a public output, as committed under `schema/`: what the type
/// serializes to (a field skipped when empty is optional, every other one required).
fn json_schema<T: schemars::JsonSchema>() -> String {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut text = serde_json::to_string_pretty(&generator.into_root_schema_for::<T>()).unwrap();
    text.push('\n');
    text
}

/// The committed schemas are those of the types: a change to an output type fails here
/// until `UPDATE_GOLDEN=1 cargo test --test it check_json` rewrites `schema/` (and the diff
/// shows the change to the contract).
#[test]
fn committed_json_schemas_are_those_of_the_output_types() {
    use moveday::check::json::{CheckOutput, DnsOutput};
    use moveday::checklist::headless::json::ChecklistOutput;
    use moveday::journal::report::PostMortem;
    let schemas = [
        ("check.schema.json", json_schema::<CheckOutput>()),
        ("dns.schema.json", json_schema::<DnsOutput>()),
        ("checklist.schema.json", json_schema::<ChecklistOutput>()),
        ("report.schema.json", json_schema::<PostMortem>()),
        (
            "canary.schema.json",
            json_schema::<moveday::check::json::CanaryCommandOutput>(),
        ),
    ];
    for (name, text) in schemas {
        let schema: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            schema["properties"]["schema"]["const"],
            moveday::schema::JSON_SCHEMA_VERSION,
            "{name}"
        );
        golden_file(&std::path::Path::new("schema").join(name), &text);
    }
}
