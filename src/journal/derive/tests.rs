//! Event derivation: one report at a time through `journal::reduce`, checking what is
//! recorded (and that nothing is recorded when nothing changed).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::checklist::{NoteEvent, TickEvent};
use crate::journal::HostHealth;
use crate::probe::ports::{PortResult, PortState};
use crate::probe::service::{ServiceResult, ServiceState};
use crate::probe::{
    DnsAnswer, DnsError, DnsOutcome, Outcome, PingMode, PingOutcome, PortsOutcome, ProbeError,
    ServiceOutcome, Target, TargetSource, ZoneAnswer, ZoneOutcome,
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
name = "public"
address = "192.0.2.1"

[[host]]
name = "www"
fqdn = "www.example.org"
old_ip = "198.51.100.12"
new_ip = "203.0.113.12"
ssh = false
ports = [80]
fail_after = 2

[[host.service]]
name = "planet"
kind = "tcp"
port = 8080

[[zone]]
name = "example.org"
primary = "203.0.113.10"
secondaries = ["192.0.2.53"]
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
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_260_000_000 + secs)
}

const NEW: &str = "203.0.113.12";
const OLD: &str = "198.51.100.12";

fn ping_at(addr: &str, ok: bool) -> Outcome {
    Outcome::Ping(PingOutcome {
        ip: ip(addr),
        mode: PingMode::IcmpRaw,
        result: if ok {
            Ok(Duration::from_millis(2))
        } else {
            Err(ProbeError::Timeout)
        },
    })
}

fn ping(ok: bool) -> Outcome {
    ping_at(NEW, ok)
}

fn port80(state: PortState) -> Outcome {
    Outcome::Ports(PortsOutcome {
        ip: ip(NEW),
        ports: vec![PortResult {
            port: 80,
            state,
            latency: Duration::from_millis(1),
            detail: (state != PortState::Open).then(|| format!("port {}", state.word())),
        }],
    })
}

fn planet(state: ServiceState) -> Outcome {
    Outcome::Service(ServiceOutcome {
        service: 0,
        ip: ip(NEW),
        result: ServiceResult {
            smtp_names: None,
            command: None,
            state,
            detail: "connected".into(),
            error: (state != ServiceState::Ok).then(|| format!("planet {}", state.word())),
            latency: Duration::from_millis(1),
            age: None,
            cert: None,
        },
    })
}

fn dns(resolver: usize, addr: Option<&str>) -> Outcome {
    Outcome::Dns(DnsOutcome {
        resolver,
        result: match addr {
            Some(a) => Ok(DnsAnswer {
                more: 0,
                addresses: vec![ip(a)],
                ttl: 60,
                latency: Duration::from_millis(1),
                authoritative: None,
            }),
            None => Err(DnsError::Timeout),
        },
    })
}

fn target(addr: &str, source: TargetSource) -> Outcome {
    Outcome::Target(Ok(Target {
        ip: ip(addr),
        source,
    }))
}

/// Applies one probe report to host 0 and returns the entries made.
fn apply(state: &mut State, secs: u64, outcome: Outcome) -> Vec<Entry> {
    reduce(
        state,
        ProbeReport::Probe {
            host: 0,
            at: t(secs),
            outcome,
        },
    )
    .1
}

fn kinds(entries: &[Entry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.event.kind()).collect()
}

fn check_of(entries: &[Entry]) -> (&str, CheckState, &str) {
    let Some(Event::Check {
        check,
        state,
        result,
        ..
    }) = entries
        .iter()
        .map(|e| &e.event)
        .find(|e| matches!(e, Event::Check { .. }))
    else {
        panic!("no check event in {entries:?}");
    };
    (check.as_str(), *state, result.as_str())
}

/// Brings every check of www up (ping, port 80, planet): health turns up.
fn all_up(state: &mut State) {
    apply(state, 0, target(NEW, TargetSource::NewIp));
    apply(state, 1, ping(true));
    apply(state, 1, port80(PortState::Open));
    apply(state, 1, planet(ServiceState::Ok));
}

#[test]
fn the_first_result_of_a_check_is_recorded_with_its_address() {
    let mut s = state();
    let e = apply(&mut s, 0, target(NEW, TargetSource::NewIp));
    assert_eq!(kinds(&e), ["target"]);
    let e = apply(&mut s, 1, ping(true));
    assert_eq!(kinds(&e), ["check"], "{e:?}");
    assert_eq!(check_of(&e), ("ping", CheckState::Up, "ok"));
    let Event::Check { ip, address, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!(
        (*ip, *address),
        (Some(self::ip(NEW)), Some(AddressKind::New))
    );
    assert_eq!(e[0].at, utc(t(1)));
    // The same result again: nothing to record.
    assert!(apply(&mut s, 3, ping(true)).is_empty());
}

#[test]
fn health_changes_are_recorded_with_reasons() {
    let mut s = state();
    apply(&mut s, 0, target(NEW, TargetSource::NewIp));
    apply(&mut s, 1, ping(true));
    apply(&mut s, 1, port80(PortState::Open));
    let e = apply(&mut s, 1, planet(ServiceState::Ok));
    assert_eq!(kinds(&e), ["check", "health"]);
    let Event::Health {
        from, to, reasons, ..
    } = &e[1].event
    else {
        unreachable!()
    };
    assert_eq!((*from, *to), (HostHealth::Unknown, HostHealth::Up));
    assert!(reasons.is_empty());
    // One failure is amber (suspect), two are red: the health follows.
    let e = apply(&mut s, 3, port80(PortState::Refused));
    assert_eq!(check_of(&e), ("port 80", CheckState::Suspect, "refused"));
    let Event::Check { note, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!(note.as_deref(), Some("1 of 2 failed"));
    assert_eq!(kinds(&e), ["check", "health"]);
    let e = apply(&mut s, 5, port80(PortState::Refused));
    assert_eq!(check_of(&e), ("port 80", CheckState::Down, "refused"));
    // Still degraded: no health event.
    assert_eq!(kinds(&e), ["check"]);
    let e = apply(&mut s, 7, ping(false));
    let e2 = apply(&mut s, 9, ping(false));
    assert_eq!(check_of(&e), ("ping", CheckState::Suspect, "timeout"));
    assert_eq!(check_of(&e2), ("ping", CheckState::Down, "timeout"));
    let e3 = apply(&mut s, 11, planet(ServiceState::Fail));
    let e4 = apply(&mut s, 13, planet(ServiceState::Fail));
    assert!(e3.iter().all(|e| !matches!(e.event, Event::Health { .. })));
    let Some(Event::Health {
        from, to, reasons, ..
    }) = e4.last().map(|e| &e.event)
    else {
        panic!("{e4:?}")
    };
    assert_eq!((*from, *to), (HostHealth::Degraded, HostHealth::Down));
    assert_eq!(
        reasons,
        &["ping timeout", "port 80 refused", "planet: planet fail"]
    );
}

#[test]
fn a_port_going_from_refused_to_filtered_is_recorded_though_it_stays_down() {
    let mut s = state();
    all_up(&mut s);
    apply(&mut s, 3, port80(PortState::Refused));
    apply(&mut s, 5, port80(PortState::Refused));
    assert!(apply(&mut s, 7, port80(PortState::Refused)).is_empty());
    let e = apply(&mut s, 9, port80(PortState::Filtered));
    assert_eq!(check_of(&e), ("port 80", CheckState::Down, "filtered"));
    let e = apply(&mut s, 11, port80(PortState::Open));
    assert_eq!(check_of(&e), ("port 80", CheckState::Up, "open"));
    assert_eq!(kinds(&e), ["check", "health"]);
}

#[test]
fn a_service_turning_stale_and_fresh_again_is_recorded() {
    let mut s = state();
    all_up(&mut s);
    let e = apply(&mut s, 3, planet(ServiceState::Stale));
    // Stale answers: the check stays up, the result changes, the host is degraded.
    assert_eq!(check_of(&e), ("planet", CheckState::Up, "stale"));
    let Event::Check { detail, probe, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!(*probe, ProbeKind::Service);
    assert_eq!(detail.as_deref(), Some("planet stale"));
    assert_eq!(kinds(&e), ["check", "health"]);
    assert!(apply(&mut s, 5, planet(ServiceState::Stale)).is_empty());
    let e = apply(&mut s, 7, planet(ServiceState::Ok));
    assert_eq!(check_of(&e), ("planet", CheckState::Up, "ok"));
}

#[test]
fn a_blip_is_recorded_as_suspect_then_recovered() {
    let mut s = state();
    all_up(&mut s);
    let e = apply(&mut s, 3, ping(false));
    assert_eq!(check_of(&e), ("ping", CheckState::Suspect, "timeout"));
    let e = apply(&mut s, 5, ping(true));
    assert_eq!(check_of(&e), ("ping", CheckState::Up, "ok"));
    let Event::Check { note, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!(note.as_deref(), Some("recovered after retry"));
}

#[test]
fn a_new_target_forgets_the_checks_silently_and_records_them_again_at_the_new_address() {
    let mut s = state();
    apply(&mut s, 0, target(OLD, TargetSource::HostsFile));
    let e = apply(&mut s, 1, ping_at(OLD, true));
    let Event::Check { address, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!(*address, Some(AddressKind::Old));
    let e = apply(&mut s, 10, target(NEW, TargetSource::SystemDns));
    assert_eq!(kinds(&e), ["target"], "no check turns unknown: {e:?}");
    let Event::Target {
        ip,
        source,
        address,
        ..
    } = &e[0].event
    else {
        unreachable!()
    };
    assert_eq!(*ip, Some(self::ip(NEW)));
    assert_eq!(source.as_deref(), Some("system_dns"));
    assert_eq!(*address, Some(AddressKind::New));
    let e = apply(&mut s, 11, ping(true));
    assert_eq!(check_of(&e), ("ping", CheckState::Up, "ok"));
    let Event::Check { address, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!(*address, Some(AddressKind::New));
}

#[test]
fn dns_verdict_changes_per_resolver() {
    let mut s = state();
    let e = apply(&mut s, 0, dns(1, Some(OLD)));
    assert_eq!(kinds(&e), ["dns"]);
    let Event::Dns {
        resolver,
        from,
        verdict,
        addresses,
        ttl,
        fqdn,
        ..
    } = &e[0].event
    else {
        unreachable!()
    };
    assert_eq!(resolver, "public");
    assert_eq!(fqdn, "www.example.org");
    assert_eq!((*from, *verdict), (None, DnsVerdict::Old));
    assert_eq!(addresses, &[ip(OLD)]);
    assert_eq!(*ttl, Some(60));
    assert!(apply(&mut s, 2, dns(1, Some(OLD))).is_empty());
    // The other resolver is its own column.
    let e = apply(&mut s, 3, dns(0, Some(NEW)));
    let Event::Dns {
        resolver, verdict, ..
    } = &e[0].event
    else {
        unreachable!()
    };
    assert_eq!((resolver.as_str(), *verdict), ("system", DnsVerdict::New));
    let e = apply(&mut s, 4, dns(1, Some(NEW)));
    let Event::Dns { from, verdict, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!((*from, *verdict), (Some(DnsVerdict::Old), DnsVerdict::New));
    let e = apply(&mut s, 6, dns(1, None));
    let Event::Dns { verdict, error, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!(*verdict, DnsVerdict::Timeout);
    assert_eq!(error.as_deref(), Some("timeout"));
}

fn zone_report(server: usize, serial: u32, secs: u64) -> ProbeReport {
    ProbeReport::Zone {
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
    }
}

#[test]
fn zone_serials_and_a_lagging_secondary() {
    let mut s = state();
    let e = reduce(&mut s, zone_report(0, 1, 0)).1;
    assert_eq!(kinds(&e), ["zone"]);
    let e = reduce(&mut s, zone_report(1, 1, 0)).1;
    let Event::Zone {
        server,
        role,
        serial,
        behind,
        ..
    } = &e[0].event
    else {
        unreachable!()
    };
    assert_eq!(
        (server.as_str(), *role, *serial, *behind),
        ("192.0.2.53", ZoneRole::Secondary, Some(1), false)
    );
    assert!(reduce(&mut s, zone_report(1, 1, 2)).1.is_empty());
    // The primary moves on: its serial changes and the secondary is now behind.
    let e = reduce(&mut s, zone_report(0, 2, 4)).1;
    assert_eq!(e.len(), 2, "{e:?}");
    let Event::Zone {
        server,
        role,
        serial,
        ..
    } = &e[0].event
    else {
        unreachable!()
    };
    assert_eq!(
        (server.as_str(), *role, *serial),
        ("203.0.113.10", ZoneRole::Primary, Some(2))
    );
    let Event::Zone {
        behind,
        serial,
        primary_serial,
        ..
    } = &e[1].event
    else {
        unreachable!()
    };
    assert_eq!(
        (*behind, *serial, *primary_serial),
        (true, Some(1), Some(2))
    );
    let e = reduce(&mut s, zone_report(1, 2, 9)).1;
    let Event::Zone { behind, serial, .. } = &e[0].event else {
        unreachable!()
    };
    assert_eq!((*behind, *serial), (false, Some(2)));
}

#[test]
fn checklist_events_keep_their_own_time_and_author() {
    let at = chrono::DateTime::parse_from_rfc3339("2009-12-05T09:05:00Z")
        .unwrap()
        .to_utc();
    let mut s = state();
    let tick = ChecklistEvent::Tick {
        id: "lower-ttl".into(),
        tick: TickEvent {
            done: true,
            who: "ann".into(),
            at,
            evidence: Some("www.http: 200".into()),
            forced: false,
        },
    };
    let (changed, e) = reduce(&mut s, Input::ChecklistEvent(tick));
    assert!(changed);
    assert_eq!(e[0].at, at);
    assert_eq!(
        e[0].event,
        Event::Tick {
            id: "lower-ttl".into(),
            done: true,
            who: "ann".into(),
            forced: false,
            evidence: Some("www.http: 200".into()),
        }
    );
    let note = checklist_event(&ChecklistEvent::Note {
        id: "review-acl".into(),
        note: NoteEvent {
            text: "80 missing\nticket #4711".into(),
            who: "bob".into(),
            at,
        },
    });
    assert_eq!(
        note.event,
        Event::Note {
            id: "review-acl".into(),
            text: "80 missing ticket #4711".into(),
            who: "bob".into()
        }
    );
}

#[test]
fn typed_notes_are_one_clean_line_and_blank_ones_are_dropped() {
    assert_eq!(text_event("  \n ", "ann", None, t(0)), None);
    let e = text_event("found it:\n/etc/hosts\x1b[2J", "ann", Some("vbox"), t(0)).unwrap();
    assert_eq!(
        e.event,
        Event::Text {
            text: "found it: /etc/hosts\\x1b[2J".into(),
            who: "ann".into(),
            host: Some("vbox".into()),
        }
    );
}

#[test]
fn start_names_the_hosts_window_and_plan() {
    let inv = Inventory::parse(
        Path::new("m.toml"),
        "[move]\nname = \"m\"\nwindow_start = \"2009-12-05T09:00:00Z\"\n[[host]]\nname = \"a\"\nfqdn = \"a.example.org\"\n[[checklist]]\nid = \"x\"\ntext = \"do x\"\n",
    )
    .unwrap();
    let e = start_event(&inv, "ann", t(0));
    let Event::Start {
        name,
        hosts,
        window_start,
        checklist,
        ..
    } = &e.event
    else {
        unreachable!()
    };
    assert_eq!(name, "m");
    assert_eq!(hosts[0].fqdn, "a.example.org");
    assert_eq!(
        window_start.map(|w| w.to_rfc3339()).as_deref(),
        Some("2009-12-05T09:00:00+00:00")
    );
    assert_eq!(checklist[0].id, "x");
}

fn delegation_report(glue: &str, secs: u64) -> ProbeReport {
    crate::probe::delegation::one_referral(glue, t(secs))
}

/// The delegation is recorded when it changes: the first look, the zone's own NS set
/// arriving (now the parent can agree), the glue turning new (ok flips); not when the
/// same referral comes again.
#[test]
fn delegation_changes_are_recorded_once_each() {
    let mut s = state();
    let e = reduce(&mut s, delegation_report("198.51.100.53", 0)).1;
    let Event::Delegation {
        ok,
        alarm,
        agrees_with_zone,
        glue,
        problems,
        ..
    } = &e[0].event
    else {
        panic!("{e:?}")
    };
    assert!(!ok && *alarm);
    assert_eq!(*agrees_with_zone, None);
    assert_eq!(
        glue,
        &[GlueEntry {
            name: "ns1.example.org".into(),
            verdict: crate::journal::GlueKind::Old,
            addresses: vec![ip("198.51.100.53")],
        }]
    );
    assert_eq!(
        problems,
        &[
            "parent glue for ns1.example.org is still 198.51.100.53 (old): update it at the registrar"
        ]
    );
    assert_eq!(
        e[0].summary(),
        "example.org delegation: parent glue for ns1.example.org is still 198.51.100.53 (old): update it at the registrar"
    );
    assert_eq!(e[0].tone(), crate::journal::Tone::Bad);
    assert!(
        reduce(&mut s, delegation_report("198.51.100.53", 1))
            .1
            .is_empty()
    );
    // The primary's NS set: the parent agrees with it (a zone entry and a delegation one).
    let e = reduce(&mut s, zone_report(0, 1, 2)).1;
    assert_eq!(kinds(&e), ["zone", "delegation"]);
    let Event::Delegation {
        agrees_with_zone, ..
    } = &e[1].event
    else {
        unreachable!()
    };
    assert_eq!(*agrees_with_zone, Some(true));
    let e = reduce(&mut s, delegation_report("203.0.113.53", 3)).1;
    let Event::Delegation {
        ok, alarm, glue, ..
    } = &e[0].event
    else {
        panic!("{e:?}")
    };
    assert!(*ok && !alarm);
    assert_eq!(glue[0].verdict, crate::journal::GlueKind::New);
    assert_eq!(
        e[0].summary(),
        "example.org delegation: ok (glue ns1.example.org new 203.0.113.53)"
    );
    assert_eq!(e[0].tone(), crate::journal::Tone::Good);
    assert_eq!(e[0].event.kind(), "delegation");
    assert!(
        reduce(&mut s, delegation_report("203.0.113.53", 4))
            .1
            .is_empty()
    );
}

/// A mail host's SPF and blocklist verdicts are journaled when they change (not on every
/// round), and the report says when SPF first passed and when the listing came and went.
#[test]
fn mail_verdicts_are_journaled_on_change_and_reported() {
    use crate::journal::MailCheck;
    use crate::journal::report::{Sources, TimeZoneChoice, build, markdown_in};
    use crate::probe::mail::SpfResult;
    let domains = mail_domains;
    let list = mail_listed;
    let inv = "[mail]\ndnsbl = [\"bl.test\"]\n\n[[host]]\nname = \"mail\"\n\
               fqdn = \"mail.example.org\"\nold_ip = \"198.51.100.11\"\n\
               new_ip = \"203.0.113.11\"\nrole = \"mail\"\n";
    let mut state = State::new(Arc::new(
        Inventory::parse(Path::new("m.toml"), inv).unwrap(),
    ));
    let mut journal = Vec::new();
    let first = apply(&mut state, 10, domains(SpfResult::Fail));
    let mail_events = |entries: &[Entry]| -> Vec<(MailCheck, String)> {
        entries
            .iter()
            .filter_map(|e| match &e.event {
                Event::Mail { check, result, .. } => Some((*check, result.clone())),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        mail_events(&first),
        [
            (MailCheck::Spf, "fail".into()),
            (MailCheck::Mx, "none".into())
        ]
    );
    journal.extend(first);
    // The same verdicts again: nothing new.
    assert!(mail_events(&apply(&mut state, 15, domains(SpfResult::Fail))).is_empty());
    for (secs, outcome) in [
        (20, list(true)),
        (25, list(true)),
        (70, domains(SpfResult::Pass)),
        (95, list(false)),
    ] {
        journal.extend(apply(&mut state, secs, outcome));
    }
    let events: Vec<(MailCheck, String)> = mail_events(&journal);
    assert_eq!(
        events,
        [
            (MailCheck::Spf, "fail".into()),
            (MailCheck::Mx, "none".into()),
            (MailCheck::Dnsbl, "listed".into()),
            (MailCheck::Spf, "pass".into()),
            (MailCheck::Dnsbl, "not_listed".into()),
        ]
    );
    let pm = build(&journal, Sources::default(), "j", None, vec![]);
    let md = markdown_in(
        &pm,
        TimeZoneChoice::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
    );
    assert!(
        md.contains("- mail: SPF of example.org first passed for the new address at"),
        "{md}"
    );
    assert!(
        md.contains("- mail: 203.0.113.11 listed on bl.test at")
            && md.contains("(backlog burst), cleared at")
            && md.contains("after 1m 15s"),
        "{md}"
    );
    assert!(
        pm.still_open.iter().all(|o| o.kind != "mail"),
        "{:?}",
        pm.still_open
    );

    // Cut before the fixes: both are still open.
    let before_fixes: Vec<Entry> = journal
        .iter()
        .filter(|e| e.at < utc(t(70)))
        .cloned()
        .collect();
    let pm = build(&before_fixes, Sources::default(), "j", None, vec![]);
    let open: Vec<&str> = pm
        .still_open
        .iter()
        .filter(|o| o.kind == "mail")
        .map(|o| o.text.as_str())
        .collect();
    assert_eq!(open.len(), 2, "{open:?}");
    assert_eq!(
        open[0],
        "SPF of example.org authorizes only the old address (fail for the new)"
    );
    assert_eq!(open[1], "203.0.113.11 still listed on bl.test");
}

/// example.org's MX (none) and SPF (authorizing the old address; `new` for the new one).
fn mail_domains(new: crate::probe::mail::SpfResult) -> Outcome {
    use crate::probe::mail::{
        MailDomain, MailOutcome, MxAnswer, MxOutcome, SpfCheck, SpfOutcome, SpfResult,
    };
    Outcome::Mail(MailOutcome {
        domains: vec![MailDomain {
            mx: MxOutcome {
                domain: "example.org".into(),
                result: Ok(MxAnswer {
                    hosts: vec![],
                    more: 0,
                    null_mx: false,
                    points_here: false,
                    old: false,
                    ttl: 0,
                }),
            },
            spf: SpfOutcome {
                domain: "example.org".into(),
                record: Ok(Some("v=spf1 ip4:198.51.100.11 -all".into())),
                new_ip: Some(SpfCheck {
                    ip: ip("203.0.113.11"),
                    result: new,
                    why: None,
                }),
                old_ip: Some(SpfCheck {
                    ip: ip("198.51.100.11"),
                    result: SpfResult::Pass,
                    why: None,
                }),
            },
        }],
    })
}

/// bl.test's answer about 203.0.113.11.
fn mail_listed(listed: bool) -> Outcome {
    use crate::probe::mail::{DnsblAnswer, DnsblCheck, DnsblOutcome};
    Outcome::Dnsbl(DnsblOutcome {
        ip: ip("203.0.113.11"),
        checks: vec![DnsblCheck {
            zone: "bl.test".into(),
            ip: ip("203.0.113.11"),
            result: Ok(match listed {
                true => DnsblAnswer::Listed {
                    codes: vec!["127.0.0.2".parse().unwrap()],
                    reason: Some("backlog burst".into()),
                    ttl: 60,
                },
                false => DnsblAnswer::NotListed,
            }),
        }],
    })
}

/// A vantage point's answers: journaled when it starts answering and when it sees a host
/// otherwise; the host's own health says when the views disagree, and the report says
/// when the vantage first saw the host up.
#[test]
fn vantage_views_are_journaled_and_disagreement_is_a_reason() {
    use crate::journal::report::{Sources, TimeZoneChoice, build, markdown_in};
    use crate::probe::vantage::{RemoteHealth, RemoteHost, RemoteView, VantageOutcome};
    let inv = "[[vantage]]\nname = \"office\"\nssh = \"bastion\"\n\
               [[host]]\nname = \"vbox\"\nfqdn = \"vbox.example.org\"\n\
               new_ip = \"203.0.113.13\"\nssh = false\nfail_after = 1\n";
    let mut state = State::new(Arc::new(
        Inventory::parse(Path::new("v.toml"), inv).unwrap(),
    ));
    let ping = |ok: bool| {
        Outcome::Ping(PingOutcome {
            ip: ip("203.0.113.13"),
            mode: PingMode::Tcp,
            result: if ok {
                Ok(Duration::from_millis(1))
            } else {
                Err(ProbeError::Timeout)
            },
        })
    };
    let mut journal = apply(&mut state, 10, ping(false));
    assert_eq!(state.hosts[0].health, store::Health::Down);
    let from_office = |secs: u64, health: RemoteHealth| ProbeReport::Vantage {
        at: t(secs),
        outcome: VantageOutcome {
            vantage: 0,
            result: Ok(RemoteView {
                hosts: vec![RemoteHost {
                    name: "vbox".into(),
                    health,
                    target: Some(ip("203.0.113.13")),
                    reasons: vec![],
                    dns: vec![],
                }],
                hosts_file: Some("/etc/hosts".into()),
            }),
            took: Duration::from_secs(1),
            persistent: false,
        },
    };
    let (_, entries) = reduce(&mut state, from_office(20, RemoteHealth::Up));
    let summaries: Vec<String> = entries.iter().map(Entry::summary).collect();
    assert_eq!(
        summaries,
        ["vantage office answers", "from office: vbox up"],
        "{entries:?}"
    );
    journal.extend(entries);
    let (_, reasons) = store::health(&state.inventory.hosts[0], &state.hosts[0]);
    assert!(
        reasons.contains(&"up from office: check this laptop's network or hosts file".into()),
        "{reasons:?}"
    );
    // The same view again: nothing new.
    assert!(
        reduce(&mut state, from_office(50, RemoteHealth::Up))
            .1
            .is_empty()
    );

    // Up here, down from everywhere else: only this laptop reaches it (degraded).
    journal.extend(apply(&mut state, 60, ping(true)));
    let (_, entries) = reduce(&mut state, from_office(70, RemoteHealth::Down));
    assert_eq!(state.hosts[0].health, store::Health::Degraded);
    assert!(
        entries
            .iter()
            .any(|e| matches!(&e.event, Event::Health { reasons, .. }
            if reasons.iter().any(|r| r == "only this laptop reaches it (down from office)"))),
        "{entries:?}"
    );
    journal.extend(entries);

    // It stops answering: its view of vbox is unknown, and the health agrees again.
    let (_, entries) = reduce(
        &mut state,
        ProbeReport::Vantage {
            at: t(80),
            outcome: VantageOutcome {
                vantage: 0,
                result: Err("authentication refused by office".into()),
                took: Duration::from_millis(200),
                persistent: false,
            },
        },
    );
    assert_eq!(state.hosts[0].health, store::Health::Up);
    assert_eq!(
        entries[0].summary(),
        "vantage office: authentication refused by office"
    );
    journal.extend(entries);

    let pm = build(&journal, Sources::default(), "j", None, vec![]);
    let md = markdown_in(
        &pm,
        TimeZoneChoice::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
    );
    assert!(
        md.contains("- office: first saw vbox up at") && md.contains("10s after the start"),
        "{md}"
    );
    assert!(
        md.contains("- office: no view at the end: authentication refused by office."),
        "{md}"
    );
}

/// Deliveries: a failed attempt keeps the message waiting (the status bar says so), a late
/// delivery clears it; the journal and the report keep both.
#[test]
fn deliveries_are_journaled_counted_and_reported() {
    use crate::journal::report::{Sources, TimeZoneChoice, build, markdown_in};
    use crate::store::{Delivered, NotifyNews};
    let mut state = state();
    let news = |seq: u64, delivered: Delivered| NotifyNews {
        notify: "team".into(),
        seq,
        delivered,
    };
    let failed = |seq, pending| {
        news(
            seq,
            Delivered::Failed {
                attempts: 1,
                error: "connection refused".into(),
                pending,
                text: "vbox down".into(),
            },
        )
    };
    let mut journal = Vec::new();
    for n in [failed(1, 1), failed(1, 2)] {
        let (_, entries) = reduce(&mut state, Input::Notify(n));
        journal.extend(entries);
    }
    assert_eq!(
        store::notify::undelivered(&state).as_deref(),
        Some("2 notifications not delivered to team: connection refused")
    );
    assert_eq!(
        journal[1].summary(),
        "notification 1 to team not delivered: connection refused (2 waiting)"
    );
    let pm = build(&journal, Sources::default(), "j", None, vec![]);
    assert_eq!(pm.still_open.last().map(|o| o.kind), Some("notify"));
    for seq in [1, 2] {
        let sent = news(
            seq,
            Delivered::Sent {
                late: true,
                attempts: 3,
                answer: "200 OK".into(),
            },
        );
        journal.extend(reduce(&mut state, Input::Notify(sent)).1);
    }
    assert_eq!(store::notify::undelivered(&state), None);
    assert_eq!(
        journal[2].summary(),
        "notification 1 to team delivered (late, after 3 attempts)"
    );
    let pm = build(&journal, Sources::default(), "j", None, vec![]);
    let md = markdown_in(
        &pm,
        TimeZoneChoice::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
    );
    assert!(
        md.contains("- team: 2 delivered (2 late); 2 attempts failed."),
        "{md}"
    );
    assert!(pm.still_open.iter().all(|o| o.kind != "notify"));
}
