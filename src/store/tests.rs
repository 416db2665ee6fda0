//! Table-driven tests of the reducer and the derived views.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::probe::{
    DnsAnswer, DnsError, DnsOutcome, HostsEntry, HostsFileOutcome, HttpOutcome, HttpResponse,
    Outcome, PingMode, PingOutcome, ProbeError, ProbeReport, SshBanner, SshOutcome, Target,
    TargetSource,
};

const INVENTORY: &str = r#"
[move]
name = "test move"
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"

[[resolver]]
name = "system"
system = true

[[resolver]]
name = "ns-master"
address = "203.0.113.10"

[[host]]
name = "vbox"
fqdn = "vbox.example.org"
old_ip = "198.51.100.13"
new_ip = "203.0.113.13"
http = "http://vbox.example.org/"

[[host]]
name = "noweb"
fqdn = "noweb.example.org"
"#;

fn state() -> State {
    State::new(Arc::new(
        Inventory::parse(Path::new("t.toml"), INVENTORY).unwrap(),
    ))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn probe(host: usize, secs: u64, outcome: Outcome) -> ProbeReport {
    ProbeReport::Probe {
        host,
        at: t(secs),
        outcome,
    }
}

fn ping(ok: bool) -> Outcome {
    Outcome::Ping(PingOutcome {
        ip: ip("203.0.113.13"),
        mode: PingMode::IcmpRaw,
        result: if ok {
            Ok(Duration::from_millis(3))
        } else {
            Err(ProbeError::Timeout)
        },
    })
}

fn ssh(ok: bool) -> Outcome {
    Outcome::Ssh(SshOutcome {
        ip: ip("203.0.113.13"),
        port: 22,
        result: if ok {
            Ok(SshBanner {
                banner: "SSH-2.0-OpenSSH_9.2".into(),
                latency: Duration::from_millis(2),
            })
        } else {
            Err(ProbeError::Refused)
        },
    })
}

fn http(result: Result<u16, ProbeError>) -> Outcome {
    Outcome::Http(HttpOutcome {
        ip: ip("203.0.113.13"),
        url: "http://vbox.example.org/".into(),
        result: result.map(|status| HttpResponse {
            status,
            latency: Duration::from_millis(5),
            location: None,
            body_bytes: 10,
            truncated: false,
        }),
    })
}

fn dns(resolver: usize, result: Result<&[&str], DnsError>) -> Outcome {
    Outcome::Dns(DnsOutcome {
        resolver,
        result: result.map(|addrs| DnsAnswer {
            more: 0,
            addresses: addrs.iter().map(|a| ip(a)).collect(),
            ttl: 300,
            latency: Duration::from_millis(1),
            authoritative: None,
        }),
    })
}

fn hosts(entries: &[&str]) -> Outcome {
    Outcome::HostsFile(HostsFileOutcome {
        result: Ok(entries
            .iter()
            .enumerate()
            .map(|(i, a)| HostsEntry {
                ip: ip(a),
                line: i + 1,
            })
            .collect()),
    })
}

#[test]
fn health_table() {
    // (ping, ssh, http, expected health)
    let cases: &[(bool, bool, Result<u16, ProbeError>, Health)] = &[
        (true, true, Ok(200), Health::Up),
        (true, true, Ok(301), Health::Up),
        (true, true, Ok(503), Health::Degraded),
        (true, true, Err(ProbeError::Refused), Health::Degraded),
        (true, false, Ok(200), Health::Degraded),
        (false, true, Ok(200), Health::Degraded),
        (false, false, Err(ProbeError::Timeout), Health::Down),
    ];
    for (p, s, h, expected) in cases {
        let mut st = state();
        reduce(&mut st, probe(0, 1, ping(*p)));
        assert_eq!(st.hosts[0].health, Health::Unknown, "incomplete is unknown");
        reduce(&mut st, probe(0, 1, ssh(*s)));
        reduce(&mut st, probe(0, 2, http(h.clone())));
        // One round: a failure is amber (fail_after = 2), never red yet.
        let first = if *expected == Health::Up {
            Health::Up
        } else {
            Health::Degraded
        };
        assert_eq!(st.hosts[0].health, first, "{p} {s} {h:?}");
        assert_eq!(st.hosts[0].health_since, Some(t(2)));
        // The second round decides.
        reduce(&mut st, probe(0, 3, ping(*p)));
        reduce(&mut st, probe(0, 3, ssh(*s)));
        reduce(&mut st, probe(0, 4, http(h.clone())));
        assert_eq!(st.hosts[0].health, *expected, "{p} {s} {h:?}");
    }
}

#[test]
fn health_reasons_name_the_failing_probe() {
    let mut st = state();
    for o in [ping(true), ssh(true), http(Err(ProbeError::Refused))] {
        reduce(&mut st, probe(0, 1, o));
    }
    let (h, why) = health(&st.inventory.hosts[0], &st.hosts[0]);
    assert_eq!(h, Health::Degraded);
    assert_eq!(why, vec!["http: 1 of 2 failed".to_string()]);
    reduce(&mut st, probe(0, 2, http(Err(ProbeError::Refused))));
    let (h, why) = health(&st.inventory.hosts[0], &st.hosts[0]);
    assert_eq!(h, Health::Degraded);
    assert_eq!(why, vec!["http refused".to_string()]);
}

#[test]
fn health_since_only_moves_on_transitions() {
    let mut st = state();
    for (secs, o) in [(1, ping(true)), (1, ssh(true)), (1, http(Ok(200)))] {
        reduce(&mut st, probe(0, secs, o));
    }
    assert_eq!(st.hosts[0].health_since, Some(t(1)));
    reduce(&mut st, probe(0, 5, ping(true)));
    assert_eq!(st.hosts[0].health_since, Some(t(1)));
    reduce(&mut st, probe(0, 7, ssh(false)));
    assert_eq!(st.hosts[0].health, Health::Degraded);
    assert_eq!(st.hosts[0].health_since, Some(t(7)));
}

#[test]
fn no_target_is_down() {
    let mut st = state();
    reduce(
        &mut st,
        probe(
            1,
            1,
            Outcome::Target(Err(ProbeError::NoTarget("NXDOMAIN".into()))),
        ),
    );
    assert_eq!(st.hosts[1].health, Health::Down);
    reduce(
        &mut st,
        probe(
            1,
            2,
            Outcome::Target(Ok(Target {
                ip: ip("203.0.113.20"),
                source: TargetSource::SystemDns,
            })),
        ),
    );
    assert_eq!(st.hosts[1].health, Health::Unknown);
}

#[test]
fn ping_window_keeps_last_ten_and_computes_loss() {
    let mut st = state();
    for i in 0..14 {
        reduce(&mut st, probe(0, i, ping(i % 2 == 0)));
    }
    assert_eq!(st.hosts[0].ping_window.len(), PING_WINDOW);
    let (last, loss) = ping_stats(&st.hosts[0]).unwrap();
    assert_eq!(last, None, "the 14th ping (i = 13) was lost");
    assert!((loss - 0.5).abs() < 1e-9);
}

#[test]
fn verdict_table() {
    let st = state();
    let inv = &st.inventory;
    let host = &inv.hosts[0];
    let ok = |a: &[&str]| -> Result<DnsAnswer, DnsError> {
        Ok(DnsAnswer {
            more: 0,
            addresses: a.iter().map(|s| ip(s)).collect(),
            ttl: 60,
            latency: Duration::ZERO,
            authoritative: None,
        })
    };
    let cases = [
        (ok(&["203.0.113.13"]), Verdict::New),
        (ok(&["203.0.113.99"]), Verdict::New), // inside new_network
        (ok(&["198.51.100.13"]), Verdict::Old),
        (ok(&["198.51.100.13", "203.0.113.13"]), Verdict::Old), // any old answer is dangerous
        (ok(&["192.0.2.1"]), Verdict::Other),
        (ok(&["203.0.113.13", "192.0.2.1"]), Verdict::Other),
        (Err(DnsError::NxDomain), Verdict::NxDomain),
        // NOERROR without records (NODATA): the name exists (issue 15, item 7).
        (Err(DnsError::NoRecords), Verdict::NoData),
        (Err(DnsError::Timeout), Verdict::Timeout),
        (Err(DnsError::Refused), Verdict::Refused),
        (Err(DnsError::Other("SERVFAIL".into())), Verdict::Error),
    ];
    for (answer, expected) in cases {
        assert_eq!(verdict(inv, host, &answer), expected, "{answer:?}");
    }
}

#[test]
fn hosts_flag_table() {
    // (hosts-file entries, system resolver answer, expected flag)
    type Case<'a> = (&'a [&'a str], Option<&'a [&'a str]>, HostsFlag);
    let cases: &[Case] = &[
        (&[], Some(&["203.0.113.13"]), HostsFlag::Absent),
        (
            &["203.0.113.13"],
            Some(&["203.0.113.13"]),
            HostsFlag::Agrees,
        ),
        (&["198.51.100.13"], Some(&["203.0.113.13"]), HostsFlag::Old),
        (&["198.51.100.13"], Some(&["198.51.100.13"]), HostsFlag::Old),
        (
            &["203.0.113.13"],
            Some(&["198.51.100.13"]),
            HostsFlag::Disagrees,
        ),
        (
            &["192.0.2.7"],
            Some(&["203.0.113.13"]),
            HostsFlag::Disagrees,
        ),
        (&["203.0.113.13"], None, HostsFlag::Disagrees),
    ];
    for (entries, answer, expected) in cases {
        let mut st = state();
        reduce(&mut st, probe(0, 1, hosts(entries)));
        if let Some(a) = answer {
            reduce(&mut st, probe(0, 1, dns(0, Ok(a))));
        }
        assert_eq!(
            hosts_flag(&st, 0),
            Some(*expected),
            "{entries:?} {answer:?}"
        );
    }
    let mut st = state();
    assert_eq!(hosts_flag(&st, 0), None, "nothing read yet");
    reduce(
        &mut st,
        probe(
            0,
            1,
            Outcome::HostsFile(HostsFileOutcome {
                result: Err("permission denied".into()),
            }),
        ),
    );
    assert_eq!(hosts_flag(&st, 0), Some(HostsFlag::Unreadable));
}

#[test]
fn hosts_flag_falls_back_to_all_resolvers_without_system_answer() {
    let mut st = state();
    reduce(&mut st, probe(0, 1, hosts(&["203.0.113.13"])));
    reduce(&mut st, probe(0, 1, dns(0, Err(DnsError::Timeout))));
    reduce(&mut st, probe(0, 1, dns(1, Ok(&["203.0.113.13"]))));
    assert_eq!(dns_addresses(&st, 0), vec![ip("203.0.113.13")]);
    assert_eq!(hosts_flag(&st, 0), Some(HostsFlag::Agrees));
}

#[test]
fn reduce_reports_change_only_when_something_changed() {
    let mut st = state();
    assert!(reduce(&mut st, probe(0, 1, ssh(true))));
    assert!(!reduce(&mut st, probe(0, 1, ssh(true))), "identical report");
    assert!(
        reduce(&mut st, probe(0, 2, ssh(true))),
        "newer observation time"
    );
    assert!(
        !reduce(&mut st, probe(9, 2, ssh(true))),
        "unknown host ignored"
    );
    assert!(
        !reduce(&mut st, probe(0, 2, dns(7, Ok(&["203.0.113.13"])))),
        "unknown resolver"
    );
    assert!(reduce(
        &mut st,
        ProbeReport::PingMode {
            mode: PingMode::Tcp,
            hint: Some("hint".into())
        }
    ));
    assert!(!reduce(
        &mut st,
        ProbeReport::PingMode {
            mode: PingMode::Tcp,
            hint: Some("hint".into())
        }
    ));
}

#[test]
fn rounds_count_and_completeness() {
    let mut st = state();
    assert!(!st.complete());
    assert!(reduce(
        &mut st,
        ProbeReport::RoundDone { host: 0, at: t(1) }
    ));
    assert!(!st.complete());
    reduce(&mut st, ProbeReport::RoundDone { host: 1, at: t(1) });
    assert!(st.complete());
    assert!(!reduce(
        &mut st,
        ProbeReport::RoundDone { host: 1, at: t(3) }
    ));
    assert_eq!(st.hosts[1].rounds, 2);
}

#[test]
fn health_counts_cover_every_host() {
    let mut st = state();
    for round in [1, 2] {
        for o in [ping(false), ssh(false), http(Err(ProbeError::Timeout))] {
            reduce(&mut st, probe(0, round, o));
        }
    }
    assert_eq!(st.health_counts(), [0, 0, 1, 1]);
}

#[test]
fn ping_window_restarts_when_the_target_moves() {
    let mut st = state();
    for i in 0..5 {
        reduce(&mut st, probe(0, i, ping(false)));
    }
    let moved = Outcome::Ping(PingOutcome {
        ip: ip("203.0.113.14"),
        mode: PingMode::IcmpRaw,
        result: Ok(Duration::from_millis(2)),
    });
    reduce(&mut st, probe(0, 6, moved));
    assert_eq!(st.hosts[0].ping_window.len(), 1);
    assert_eq!(ping_stats(&st.hosts[0]).unwrap().1, 0.0);
}

#[test]
fn checklist_sync_keeps_the_inventory_items_and_counts_the_orphans_once() {
    use crate::checklist::{ChecklistDoc, ChecklistEvent, TickEvent};
    let text = format!("{INVENTORY}\n[[checklist]]\nid = \"acl\"\ntext = \"Open port 80\"\n");
    let mut st = State::new(Arc::new(
        Inventory::parse(Path::new("t.toml"), &text).unwrap(),
    ));
    let tick = |id: &str, secs: i64| ChecklistEvent::Tick {
        id: id.into(),
        tick: TickEvent {
            done: true,
            who: "alice@laptop".into(),
            at: chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap(),
            evidence: None,
            forced: false,
        },
    };
    assert!(reduce(&mut st, Input::ChecklistEvent(tick("acl", 1))));
    assert!(
        !reduce(&mut st, Input::ChecklistEvent(tick("acl", 1))),
        "same event again"
    );
    // The file: our tick, a newer one of the same item, and twelve the inventory no longer has.
    let mut theirs = ChecklistDoc::new();
    theirs.apply(&tick("acl", 2));
    for n in 0..12 {
        theirs.apply(&tick(&format!("gone-{n:02}"), 3));
    }
    let theirs = Arc::new(theirs);
    assert!(reduce(&mut st, Input::ChecklistSynced(Arc::clone(&theirs))));
    assert!(st.checklist.is_done("acl"));
    assert_eq!(
        st.checklist.items["acl"]
            .tick
            .as_ref()
            .unwrap()
            .at
            .timestamp(),
        1_800_000_002,
        "the newer tick wins"
    );
    assert_eq!(
        st.checklist.items.len(),
        1,
        "the dashboard keeps only what it shows"
    );
    assert_eq!(st.orphans.0, 12);
    assert_eq!(st.orphans.1.len(), 8, "the first few are named");
    assert_eq!(st.warnings.len(), 1);
    assert!(
        st.warnings[0].contains("gone-00, gone-01") && st.warnings[0].ends_with("and 4 more"),
        "{:?}",
        st.warnings
    );
    assert!(
        !reduce(&mut st, Input::ChecklistSynced(theirs)),
        "nothing new"
    );
    assert_eq!(st.warnings.len(), 1, "reported once");
}

#[test]
fn warnings_skip_repeats_and_stay_bounded() {
    let mut st = state();
    assert!(reduce(&mut st, Input::Warning("a".into())));
    assert!(!reduce(&mut st, Input::Warning("a".into())));
    for i in 0..50 {
        reduce(&mut st, Input::Warning(format!("w{i}")));
    }
    assert_eq!(st.warnings.len(), MAX_WARNINGS);
    assert_eq!(st.warnings.last().unwrap(), "w49");
}

#[test]
fn serial_arithmetic_follows_rfc_1982() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let cases: &[(u32, u32, Option<std::cmp::Ordering>)] = &[
        (1, 1, Some(Equal)),
        (1, 2, Some(Less)),
        (2, 1, Some(Greater)),
        (2026112501, 2026112502, Some(Less)),
        // Wrap-around: 4294967295 + 1 = 0, so the larger number is the older serial.
        (u32::MAX, 0, Some(Less)),
        (0, u32::MAX, Some(Greater)),
        (u32::MAX - 10, 5, Some(Less)),
        // Exactly 2^31 apart: undefined.
        (0, 1 << 31, None),
        (1 << 31, 0, None),
        (0, (1 << 31) - 1, Some(Less)),
        (0, (1 << 31) + 1, Some(Greater)),
    ];
    for (a, b, expected) in cases {
        assert_eq!(serial_cmp(*a, *b), *expected, "{a} vs {b}");
    }
}

#[test]
fn a_lagging_secondary_is_behind_since_its_first_lagging_observation() {
    use crate::probe::{ZoneAnswer, ZoneOutcome};
    let inv = Inventory::parse(
        Path::new("z.toml"),
        "[[zone]]\nname = \"example.org\"\nprimary = \"127.0.0.1:53\"\nsecondaries = [\"127.0.0.2:53\", \"127.0.0.3:53\"]\n",
    )
    .unwrap();
    let mut st = State::new(Arc::new(inv));
    let zone = |server: usize, serial: u32, secs: u64| ProbeReport::Zone {
        at: t(secs),
        outcome: ZoneOutcome {
            zone: 0,
            server,
            address: None,
            result: Ok(ZoneAnswer {
                serial: Some(serial),
                ns: vec!["ns1.example.org".into()],
                authoritative: true,
                latency: Duration::from_millis(1),
            }),
        },
    };
    assert!(reduce(&mut st, zone(1, 10, 1)));
    assert_eq!(
        st.zones[0].servers[1].behind_since, None,
        "no primary serial yet"
    );
    reduce(&mut st, zone(0, 11, 2));
    assert_eq!(st.zones[0].servers[1].behind_since, Some(t(2)));
    reduce(&mut st, zone(2, 11, 3));
    assert_eq!(st.zones[0].servers[2].behind_since, None);
    reduce(&mut st, zone(1, 10, 5));
    assert_eq!(
        st.zones[0].servers[1].behind_since,
        Some(t(2)),
        "still the first time"
    );
    reduce(&mut st, zone(0, 12, 6));
    assert_eq!(
        st.zones[0].servers[2].behind_since,
        Some(t(6)),
        "the primary moved on"
    );
    reduce(&mut st, zone(1, 12, 7));
    assert_eq!(st.zones[0].servers[1].behind_since, None, "caught up");
    assert!(!reduce(&mut st, zone(9, 1, 8)), "unknown server ignored");
}

#[test]
fn zone_of_picks_the_longest_matching_zone() {
    let inv = Inventory::parse(
        Path::new("z.toml"),
        "[[zone]]\nname = \"example.org\"\nprimary = \"127.0.0.1\"\n[[zone]]\nname = \"lab.example.org\"\nprimary = \"127.0.0.1\"\n",
    )
    .unwrap();
    assert_eq!(inv.zone_of("vbox.example.org"), Some(0));
    assert_eq!(inv.zone_of("x.lab.example.org"), Some(1));
    assert_eq!(inv.zone_of("example.org"), Some(0));
    assert_eq!(inv.zone_of("badexample.org"), None);
}

/// A host with ports, services and damping of its own, for issue 5's reducer tests.
fn service_state() -> State {
    let text = r#"
[move]
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"
[[host]]
name = "www"
fqdn = "www.example.org"
old_ip = "198.51.100.12"
new_ip = "203.0.113.12"
ssh = false
ports = [80, 443]
fail_after = 3
recover_after = 2
[[host.service]]
name = "planet"
kind = "http"
url = "http://planet.example.org/"
max_age = "1h"
"#;
    State::new(Arc::new(
        Inventory::parse(Path::new("s.toml"), text).unwrap(),
    ))
}

fn ports(states: [crate::probe::ports::PortState; 2]) -> Outcome {
    use crate::probe::ports::PortResult;
    Outcome::Ports(crate::probe::PortsOutcome {
        ip: ip("203.0.113.12"),
        ports: [80, 443]
            .into_iter()
            .zip(states)
            .map(|(port, state)| PortResult {
                port,
                state,
                latency: Duration::from_millis(1),
                detail: None,
            })
            .collect(),
    })
}

fn planet(state: crate::probe::service::ServiceState) -> Outcome {
    use crate::probe::service::ServiceResult;
    Outcome::Service(crate::probe::ServiceOutcome {
        service: 0,
        ip: ip("203.0.113.12"),
        result: ServiceResult {
            smtp_names: None,
            command: None,
            state,
            detail: "200 OK".into(),
            error: (state != crate::probe::service::ServiceState::Ok)
                .then(|| "stale: updated 3d ago, max_age 1h".to_string()),
            latency: Duration::from_millis(3),
            age: Some(Duration::from_secs(3 * 86_400)),
            cert: None,
        },
    })
}

#[test]
fn a_filtered_port_on_a_host_that_answers_is_degraded_after_fail_after_rounds() {
    use crate::probe::ports::PortState::{Filtered, Open};
    use crate::probe::service::ServiceState;
    let mut st = service_state();
    let round = |st: &mut State, secs: u64, p: [crate::probe::ports::PortState; 2]| {
        reduce(st, probe(0, secs, ping(true)));
        reduce(st, probe(0, secs, ports(p)));
        reduce(st, probe(0, secs, planet(ServiceState::Ok)));
        health(&st.inventory.hosts[0], &st.hosts[0])
    };
    assert_eq!(round(&mut st, 1, [Open, Open]).0, Health::Up);
    // fail_after = 3: amber with the count for two rounds, then red (for the port).
    let (h, why) = round(&mut st, 2, [Filtered, Open]);
    assert_eq!(
        (h, why),
        (Health::Degraded, vec!["port 80: 1 of 3 failed".into()])
    );
    let (_, why) = round(&mut st, 3, [Filtered, Open]);
    assert_eq!(why, vec!["port 80: 2 of 3 failed".to_string()]);
    let (h, why) = round(&mut st, 4, [Filtered, Open]);
    // The host answers ping and port 443: a dropped port 80 is an ACL, not a dead host.
    assert_eq!(
        (h, why),
        (Health::Degraded, vec!["port 80 filtered (ACL?)".into()])
    );
    // recover_after = 2: one success is "recovering", two are green.
    let (h, why) = round(&mut st, 5, [Open, Open]);
    assert_eq!(
        (h, why),
        (
            Health::Degraded,
            vec!["port 80: recovering: 1 of 2 ok".into()]
        )
    );
    assert_eq!(round(&mut st, 6, [Open, Open]).0, Health::Up);
}

#[test]
fn a_stale_page_degrades_at_once_and_everything_failing_is_down() {
    use crate::probe::ports::PortState::Refused;
    use crate::probe::service::ServiceState;
    let mut st = service_state();
    reduce(&mut st, probe(0, 1, ping(true)));
    reduce(
        &mut st,
        probe(0, 1, ports([crate::probe::ports::PortState::Open; 2])),
    );
    reduce(&mut st, probe(0, 1, planet(ServiceState::Stale)));
    // Stale is not a failure to damp: the page answers, and it is old now.
    let (h, why) = health(&st.inventory.hosts[0], &st.hosts[0]);
    assert_eq!(h, Health::Degraded);
    assert_eq!(
        why,
        vec!["planet stale: updated 3d ago, max_age 1h".to_string()]
    );

    for secs in 2..=4 {
        reduce(&mut st, probe(0, secs, ping(false)));
        reduce(&mut st, probe(0, secs, ports([Refused, Refused])));
        reduce(&mut st, probe(0, secs, planet(ServiceState::Fail)));
    }
    assert_eq!(st.hosts[0].health, Health::Down);
}

#[test]
fn a_new_target_address_starts_its_checks_undamped() {
    let mut st = state();
    let target = |addr: &str| {
        Outcome::Target(Ok(Target {
            ip: ip(addr),
            source: TargetSource::HostsFile,
        }))
    };
    reduce(&mut st, probe(0, 1, target("198.51.100.13")));
    reduce(&mut st, probe(0, 1, ssh(false)));
    reduce(&mut st, probe(0, 2, ssh(false)));
    assert_eq!(st.hosts[0].damp[&Check::Ssh].state, Damped::Down);
    // The hosts file was fixed: the probes now go to the new address, with no history.
    reduce(&mut st, probe(0, 3, target("203.0.113.13")));
    assert!(st.hosts[0].damp.is_empty());
}

/// A zone server named only by another zone (an implied column) is never asked about a
/// host's name: its empty cell does not keep the host's `dns` link pending.
#[test]
fn a_dns_link_waits_only_for_the_columns_asked_about_the_name() {
    let text = format!(
        "{INVENTORY}\n[[zone]]\nname = \"113.0.203.in-addr.arpa\"\nprimary = \"203.0.113.10\"\n\
         secondaries = [\"192.0.2.99\"]\n\n\
         [[checklist]]\nid = \"vbox-dns\"\ntext = \"vbox resolves to the new address\"\ncheck = \"vbox.dns\"\n"
    );
    let inv = Arc::new(Inventory::parse(Path::new("t.toml"), &text).unwrap());
    assert_eq!(inv.resolvers.len(), 3, "{:?}", inv.resolvers);
    assert!(inv.resolvers[2].implied);
    let mut st = State::new(inv.clone());
    let link = inv.checklist[0].check.unwrap();
    reduce(&mut st, probe(0, 1, dns(0, Ok(&["203.0.113.13"]))));
    assert_eq!(link_state(&st, &link), LinkState::Pending);
    reduce(&mut st, probe(0, 1, dns(1, Ok(&["203.0.113.13"]))));
    assert!(
        link_state(&st, &link).is_green(),
        "{:?}",
        link_state(&st, &link)
    );
}
