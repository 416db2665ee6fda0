//! A move of any size for the benches (and `tests/it/render_scale.rs`): an inventory of N
//! hosts generated as TOML and read with the real parser, and realistic probe rounds fed
//! through the real reducer.
//!
//! Hosts are `h0000` … with old addresses in 198.18.0.0/16 and new ones in 198.19.0.0/16
//! (the benchmarking range of RFC 2544; nothing is ever sent anywhere). Every host pings and
//! has SSH; every third has an HTTP URL, every fourth expected ports, every fifth a TCP
//! service, every tenth is a mail host; one in 25 has no `new_ip` (its target comes from
//! DNS). Three resolvers and one zone. In each round a few hosts are down, a few degraded
//! (HTTP 503, port 443 filtered), some resolvers still answer old addresses, and which
//! hosts are down rotates from round to round, so a stream of rounds has up → down → up
//! transitions as well as steady-state repeats.

#![allow(dead_code)] // each bench uses part of it

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use moveday::config::Inventory;
use moveday::journal::{self, Timeline};
use moveday::probe::ports::{PortResult, PortState};
use moveday::probe::service::{ServiceResult, ServiceState};
use moveday::probe::{
    AuthAnswer, DnsAnswer, DnsError, DnsOutcome, HostsEntry, HostsFileOutcome, HttpOutcome,
    HttpResponse, Outcome, PingMode, PingOutcome, PortsOutcome, ProbeError, ProbeReport, PtrAnswer,
    PtrOutcome, ServiceOutcome, SshBanner, SshOutcome, Target, TargetSource,
};
use moveday::store::{self, State};

/// 2009-12-12 14:00:00 UTC, the morning of the move.
pub const T0: u64 = 1_260_626_400;

/// Seconds between two probe rounds.
pub const ROUND_SECS: u64 = 2;

/// Rounds [`state`] feeds in (enough for flap damping to settle).
pub const ROUNDS: u32 = 3;

pub fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

/// "Now" for a state built by [`state`]: a little after its last round.
pub fn now() -> SystemTime {
    t(u64::from(ROUNDS) * ROUND_SECS + 1)
}

fn ms(x: f64) -> Duration {
    Duration::from_secs_f64(x / 1000.0)
}

/// Host `i`'s old address (198.18.0.0/16).
pub fn old_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, (i / 250) as u8, (i % 250 + 1) as u8))
}

/// Host `i`'s new address (198.19.0.0/16).
pub fn new_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 19, (i / 250) as u8, (i % 250 + 1) as u8))
}

pub fn host_name(i: usize) -> String {
    format!("h{i:04}")
}

fn has_http(i: usize) -> bool {
    i.is_multiple_of(3)
}
fn has_ports(i: usize) -> bool {
    i.is_multiple_of(4)
}
fn has_service(i: usize) -> bool {
    i.is_multiple_of(5)
}
fn is_mail(i: usize) -> bool {
    i % 10 == 1
}
fn has_new_ip(i: usize) -> bool {
    i % 25 != 7
}

/// The inventory of a move of `n` hosts, as TOML text (with a short checklist, as a real
/// move has).
pub fn inventory_toml(n: usize) -> String {
    assert!(n <= 250 * 256, "addresses run out");
    let mut s = String::with_capacity(200 * n + 2000);
    s.push_str(
        r#"hosts_file = "/etc/hosts"

[move]
name = "example.org to the new datacenter"
old_network = "198.18.0.0/16"
new_network = "198.19.0.0/16"

[mail]
dnsbl = []    # never a public blocklist from a benchmark

[probe]
interval = "2s"
timeout = "1s"
fail_after = 2
recover_after = 1

[[resolver]]
name = "system"
system = true

[[resolver]]
name = "ns-master"
address = "198.19.0.1"

[[resolver]]
name = "public"
address = "192.0.2.53"

[[zone]]
name = "example.org"
primary = "198.19.0.1"
secondaries = ["192.0.2.53"]
contact = "hostmaster@example.org"

[[checklist]]
id = "lower-ttl"
phase = "before"
text = "Lower the TTL of every moving name to 300 s, two days ahead"

[[checklist]]
id = "review-acl"
phase = "before"
text = "Review the new firewall ACL dump line by line"

[[checklist]]
id = "h0000-up"
phase = "move"
text = "Bring up the first host at its new address"
check = "h0000.health"

[[checklist]]
id = "dns-flip"
phase = "move"
text = "Point every name at its new address"
check = "h0001.dns"

[[checklist]]
id = "hosts-files"
phase = "after"
text = "Clean old addresses out of every admin's hosts file"
"#,
    );
    for i in 0..n {
        let name = host_name(i);
        let _ = write!(
            s,
            "\n[[host]]\nname = \"{name}\"\nfqdn = \"{name}.example.org\"\nold_ip = \"{}\"\n",
            old_ip(i)
        );
        if has_new_ip(i) {
            let _ = writeln!(s, "new_ip = \"{}\"", new_ip(i));
        }
        if has_http(i) {
            let _ = writeln!(s, "http = \"https://{name}.example.org/\"");
        }
        if has_ports(i) {
            s.push_str("ports = [80, 443]\n");
        }
        if is_mail(i) {
            s.push_str("role = \"mail\"\n");
        }
        if has_service(i) {
            s.push_str("\n[[host.service]]\nname = \"app\"\nkind = \"tcp\"\nport = 8080\n");
        }
    }
    s
}

/// The inventory of a move of `n` hosts, parsed and validated.
pub fn inventory(n: usize) -> Inventory {
    Inventory::parse(Path::new("inventory.toml"), &inventory_toml(n))
        .expect("the generated inventory is valid")
}

/// How host `i` fares in round `round`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Up,
    /// HTTP 503, port 443 filtered, the service refused: the host answers, not all of it.
    Degraded,
    /// Nothing answers.
    Down,
}

fn fate(i: usize, round: u32) -> Fate {
    if i % 97 == 13 {
        // Down all day.
        Fate::Down
    } else if (i + round as usize).is_multiple_of(20) {
        // Goes down for a round or two, then comes back: up → down → up.
        Fate::Down
    } else if i % 11 == 5 {
        Fate::Degraded
    } else {
        Fate::Up
    }
}

/// Every report of one full probe round of every host of `inv` at `at` seconds past T0.
pub fn round(inv: &Inventory, round: u32, at: u64) -> Vec<ProbeReport> {
    let mut out = Vec::with_capacity(inv.hosts.len() * 12);
    for (i, config) in inv.hosts.iter().enumerate() {
        let at = t(at);
        let fate = fate(i, round);
        let probe = |outcome| ProbeReport::Probe {
            host: i,
            at,
            outcome,
        };
        let (ip, source) = match config.new_ip {
            Some(ip) => (ip, TargetSource::NewIp),
            None => (new_ip(i), TargetSource::SystemDns),
        };
        out.push(probe(Outcome::Target(Ok(Target { ip, source }))));
        let jitter = (i % 7) as f64 + f64::from(round % 3) * 0.4;
        out.push(probe(Outcome::Ping(PingOutcome {
            ip,
            mode: PingMode::IcmpDgram,
            result: match fate {
                Fate::Down => Err(ProbeError::Timeout),
                _ => Ok(ms(18.0 + jitter)),
            },
        })));
        if let Some(port) = config.ssh {
            out.push(probe(Outcome::Ssh(SshOutcome {
                ip,
                port,
                result: match fate {
                    Fate::Down => Err(ProbeError::Timeout),
                    _ => Ok(SshBanner {
                        banner: "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13".into(),
                        latency: ms(40.0 + jitter),
                    }),
                },
            })));
        }
        if let Some(url) = &config.http {
            out.push(probe(Outcome::Http(HttpOutcome {
                ip,
                url: url.clone(),
                result: match fate {
                    Fate::Down => Err(ProbeError::Timeout),
                    Fate::Degraded => Ok(response(503, 12.0)),
                    Fate::Up => Ok(response(200, 120.0 + jitter)),
                },
            })));
        }
        if !config.ports.is_empty() {
            let ports = config
                .ports
                .iter()
                .map(|&port| {
                    let state = match fate {
                        Fate::Down => PortState::Filtered,
                        Fate::Degraded if port == 443 => PortState::Filtered,
                        _ => PortState::Open,
                    };
                    PortResult {
                        port,
                        state,
                        latency: ms(if state == PortState::Open {
                            0.5
                        } else {
                            1000.0
                        }),
                        detail: (state != PortState::Open)
                            .then(|| "no answer in 1s: firewall/ACL drop".to_string()),
                    }
                })
                .collect();
            out.push(probe(Outcome::Ports(PortsOutcome { ip, ports })));
        }
        for service in 0..config.services.len() {
            let ok = fate == Fate::Up;
            out.push(probe(Outcome::Service(ServiceOutcome {
                service,
                ip,
                result: ServiceResult {
                    smtp_names: None,
                    command: None,
                    state: if ok {
                        ServiceState::Ok
                    } else {
                        ServiceState::Fail
                    },
                    detail: if ok {
                        "connected".into()
                    } else {
                        String::new()
                    },
                    error: (!ok).then(|| "refused".to_string()),
                    latency: ms(0.6),
                    age: None,
                    cert: None,
                },
            })));
        }
        // DNS: the public resolver still has one host in seven's old address cached; one
        // host in 50 has been forgotten in the zone.
        for resolver in 0..inv.resolvers.len() {
            let result = if i % 50 == 49 {
                Err(DnsError::NxDomain)
            } else {
                let addr = if resolver == 2 && i % 7 == 3 {
                    old_ip(i)
                } else {
                    new_ip(i)
                };
                Ok(DnsAnswer {
                    more: 0,
                    addresses: vec![addr],
                    ttl: if resolver == 2 { 3600 } else { 300 },
                    latency: ms(4.0),
                    authoritative: (resolver == 1).then_some(true),
                })
            };
            out.push(probe(Outcome::Dns(DnsOutcome { resolver, result })));
        }
        // The hosts file: most names are absent; a few still have the old address.
        let entries = if i % 40 == 9 {
            vec![HostsEntry {
                ip: old_ip(i),
                line: 10 + i,
            }]
        } else {
            Vec::new()
        };
        out.push(probe(Outcome::HostsFile(HostsFileOutcome {
            result: Ok(entries),
        })));
        out.push(probe(Outcome::PrimaryAnswer(Ok(AuthAnswer {
            more: 0,
            addresses: vec![new_ip(i)],
            ttl: 300,
            authoritative: true,
        }))));
        if is_mail(i) {
            out.push(probe(Outcome::Ptr(PtrOutcome {
                ip,
                result: Ok(PtrAnswer {
                    names: vec![format!("{}.example.org", config.name)],
                    forward_confirmed: true,
                    ttl: 3600,
                }),
            })));
        }
        out.push(ProbeReport::RoundDone { host: i, at });
    }
    out
}

fn response(status: u16, latency: f64) -> HttpResponse {
    HttpResponse {
        status,
        latency: ms(latency),
        location: None,
        body_bytes: 5_342,
        truncated: false,
    }
}

/// `rounds` probe rounds, [`ROUND_SECS`] apart, one after the other.
pub fn rounds(inv: &Inventory, rounds: u32) -> Vec<ProbeReport> {
    (0..rounds)
        .flat_map(|r| round(inv, r, u64::from(r + 1) * ROUND_SECS))
        .collect()
}

/// A move of `n` hosts after [`ROUNDS`] probe rounds, through [`store::reduce`].
pub fn state(n: usize) -> State {
    state_and_timeline(n).0
}

/// A move of `n` hosts after [`ROUNDS`] probe rounds, through [`journal::reduce`], with
/// the timeline of the journal entries that made.
pub fn state_and_timeline(n: usize) -> (State, Timeline) {
    let inv = inventory(n);
    let reports = rounds(&inv, ROUNDS);
    let mut state = State::new(Arc::new(inv));
    let mut timeline = Timeline::new();
    timeline.push(&[journal::start_event(&state.inventory, "ann", t(0))]);
    store::reduce(
        &mut state,
        ProbeReport::PingMode {
            mode: PingMode::IcmpDgram,
            hint: None,
        },
    );
    for report in reports {
        let (_, entries) = journal::reduce(&mut state, report);
        timeline.push(&entries);
    }
    (state, timeline)
}
