//! The checklist's view of the live probes: the state of the probe an item is linked to,
//! the item's status (ready when its check is green), and the evidence a tick records.
//!
//! The words here are the model's: the checklist pane shows them, and a tick stores them
//! in the state file, so the record does not depend on how a screen words things.

use crate::checklist::{ChecklistDoc, ItemStatus};
use crate::config::inventory::{CheckLink, ChecklistItem, LinkedProbe, LinkedZoneCheck};
use crate::probe::service::ServiceState;
use crate::sanitize::sanitize;

use super::{Health, HostsFlag, Seen, State, Verdict, hosts_flag, verdict};

/// The live state of a linked probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Green(String),
    Red(String),
    /// No result yet.
    Pending,
}

impl LinkState {
    pub fn is_green(&self) -> bool {
        matches!(self, LinkState::Green(_))
    }

    pub fn is_red(&self) -> bool {
        matches!(self, LinkState::Red(_))
    }

    /// What the probe says, in a few words.
    pub fn detail(&self) -> &str {
        match self {
            LinkState::Green(s) | LinkState::Red(s) => s,
            LinkState::Pending => "no result yet",
        }
    }
}

fn word(ok: bool, text: String) -> LinkState {
    if ok {
        LinkState::Green(text)
    } else {
        LinkState::Red(text)
    }
}

/// The linked probe's live state, with a few words of evidence.
pub fn link_state(state: &State, link: &CheckLink) -> LinkState {
    match *link {
        CheckLink::Host { host, probe } => host_link_state(state, host, probe),
        CheckLink::Service { host, service } => service_link_state(state, host, service),
        CheckLink::Zone { zone, check } => zone_link_state(state, zone, check),
    }
}

/// A zone's check: the delegation is green when it is ok (the parent's NS set agrees with
/// the zone's and every glue is new).
fn zone_link_state(state: &State, zone: usize, check: LinkedZoneCheck) -> LinkState {
    match check {
        LinkedZoneCheck::Delegation => match super::delegation(state, zone) {
            None => LinkState::Pending,
            Some(d) if d.ok => {
                LinkState::Green("delegation ok: the parent agrees, glue new".into())
            }
            Some(d) if d.problems.is_empty() => LinkState::Pending,
            Some(d) => LinkState::Red(format!("delegation {}", d.problems.join("; "))),
        },
        LinkedZoneCheck::Canary => match super::canary(state, zone) {
            Some(c) if c.run.all_picked_up() => LinkState::Green(format!("canary {}", c.summary)),
            Some(c) if c.run.over() => LinkState::Red(format!("canary {}", c.summary)),
            _ => LinkState::Pending,
        },
    }
}

/// A service by name: green when it is ok, with its detail; red with why it is not
/// (`service warn: 1203 above max 1000`; the name is the link's).
fn service_link_state(state: &State, host: usize, service: usize) -> LinkState {
    let Some(Seen { value, .. }) = state
        .hosts
        .get(host)
        .and_then(|h| h.services.get(service))
        .and_then(Option::as_ref)
    else {
        return LinkState::Pending;
    };
    let r = &value.result;
    let why = r.error.as_deref().unwrap_or(&r.detail);
    match r.state {
        ServiceState::Ok => LinkState::Green(format!("service ok: {}", r.detail)),
        s => LinkState::Red(format!("service {}: {why}", s.word())),
    }
}

/// "Mail is clean", or the heaviest problem; pending until every domain and list answered.
fn mail_link_state(config: &crate::config::HostConfig, h: &super::HostState) -> LinkState {
    let Some(view) = super::mail::mail_view(config, h) else {
        return LinkState::Pending;
    };
    if view.clean {
        return LinkState::Green("mail clean: SPF pass, not listed, PTR confirmed".into());
    }
    // What blocks "clean" first: a problem receivers act on, then reverse DNS, then a
    // warning (a list that would not answer is no "not listed").
    let heaviest = view
        .problems
        .iter()
        .find(|p| p.weight == super::mail::MailWeight::Degraded);
    let ptr = super::ptr_alarm(config, h);
    match (heaviest, ptr, view.problems.first()) {
        (Some(p), _, _) => LinkState::Red(format!("mail: {}", p.words)),
        (None, Some(alarm), _) => LinkState::Red(format!("mail: {alarm}")),
        (None, None, Some(p)) => LinkState::Red(format!("mail: {}", p.words)),
        // Not clean, nothing wrong: a domain or a list has not answered yet.
        (None, None, None) => LinkState::Pending,
    }
}

fn host_link_state(state: &State, host: usize, probe: LinkedProbe) -> LinkState {
    let Some(h) = state.hosts.get(host) else {
        return LinkState::Pending;
    };
    let Some(config) = state.inventory.hosts.get(host) else {
        return LinkState::Pending;
    };
    match probe {
        LinkedProbe::Health => match h.health {
            Health::Unknown => LinkState::Pending,
            health => word(health == Health::Up, format!("health {}", health.word())),
        },
        LinkedProbe::Ping => match &h.ping {
            None => LinkState::Pending,
            Some(Seen { value, .. }) => match &value.result {
                Ok(rtt) => LinkState::Green(format!(
                    "ping {:.1}ms from {}",
                    rtt.as_secs_f64() * 1000.0,
                    value.ip
                )),
                Err(e) => LinkState::Red(format!("ping {} at {}", e.word(), value.ip)),
            },
        },
        LinkedProbe::Ssh => match &h.ssh {
            None => LinkState::Pending,
            Some(Seen { value, .. }) => match &value.result {
                Ok(b) => LinkState::Green(format!("ssh {} at {}", b.banner, value.ip)),
                Err(e) => LinkState::Red(format!("ssh {} at {}", e.word(), value.ip)),
            },
        },
        LinkedProbe::Http => match &h.http {
            None => LinkState::Pending,
            Some(Seen { value, .. }) => match &value.result {
                Ok(r) => word(r.is_ok(), format!("http {} from {}", r.status, value.ip)),
                Err(e) => LinkState::Red(format!("http {} at {}", e.word(), value.ip)),
            },
        },
        LinkedProbe::Dns => {
            // Green when every resolver asked about the name answers the new address (a
            // zone server added for another zone is not asked: its empty slot is no wait).
            let zone = state.inventory.zone_of(&config.fqdn);
            let asked: Vec<_> = h
                .dns
                .iter()
                .zip(&state.inventory.resolvers)
                .filter(|(_, rc)| rc.asks_about(zone))
                .map(|(slot, _)| slot)
                .collect();
            let verdicts: Vec<Verdict> = asked
                .iter()
                .filter_map(|slot| slot.as_ref())
                .map(|seen| verdict(&state.inventory, config, &seen.value))
                .collect();
            if verdicts.len() < asked.len() {
                LinkState::Pending
            } else {
                let new = verdicts.iter().filter(|v| **v == Verdict::New).count();
                word(
                    new == verdicts.len(),
                    format!("dns {new}/{} resolvers new", verdicts.len()),
                )
            }
        }
        LinkedProbe::Mail => mail_link_state(config, h),
        LinkedProbe::HostsFile => match hosts_flag(state, host) {
            None => LinkState::Pending,
            Some(flag) => word(
                matches!(flag, HostsFlag::Absent | HostsFlag::Agrees),
                format!("hosts file {}", flag.word()),
            ),
        },
    }
}

/// An item's status: ticked (by a person, or backed by a green check), ready, or open.
pub fn item_status(state: &State, doc: &ChecklistDoc, item: &ChecklistItem) -> ItemStatus {
    let green = || {
        item.check
            .as_ref()
            .is_some_and(|link| link_state(state, link).is_green())
    };
    match doc.status(&item.id, false) {
        ItemStatus::Open => doc.status(&item.id, green()),
        ticked => ticked,
    }
}

/// `vbox.http`, `zone:example.org.delegation`: what an item is linked to.
pub fn link_name(state: &State, link: &CheckLink) -> String {
    sanitize(&link.name(&state.inventory), 200)
}

/// What the linked probe says without repeating the probe's name: `200 from 203.0.113.13`,
/// `refused at 203.0.113.13`, `pending`.
pub fn link_words(link: &CheckLink, state: &LinkState) -> String {
    match state {
        LinkState::Pending => "pending".to_string(),
        LinkState::Green(detail) | LinkState::Red(detail) => {
            let prefix = format!("{} ", link.probe_name().replace('_', " "));
            sanitize(detail.strip_prefix(&prefix).unwrap_or(detail), 200)
        }
    }
}

/// The evidence a tick records: the linked probe's name and what it says, e.g.
/// `vbox.http: 200 from 203.0.113.13`.
pub fn evidence(state: &State, link: &CheckLink, live: &LinkState) -> String {
    format!("{}: {}", link_name(state, link), link_words(link, live))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::Inventory;
    use crate::probe::{ProbeReport, ZoneAnswer, ZoneOutcome};

    fn delegation(glue: &str) -> ProbeReport {
        crate::probe::delegation::one_referral(glue, SystemTime::now())
    }

    /// `zone:example.org.delegation`: pending until asked, red with the words while the
    /// glue is old, green once the parent agrees and every glue is new.
    #[test]
    fn a_zone_delegation_link_is_green_when_the_delegation_is_ok() {
        let inv = Inventory::parse(
            Path::new("inv.toml"),
            "[move]\nold_network = \"198.51.100.0/24\"\nnew_network = \"203.0.113.0/24\"\n\
             [[zone]]\nname = \"example.org\"\nprimary = \"192.0.2.10\"\n\
             [[checklist]]\nid = \"glue\"\ntext = \"glue at the registrar\"\n\
             check = \"zone:Example.org.delegation\"\n",
        )
        .unwrap();
        let link = inv.checklist[0].check.unwrap();
        assert_eq!(
            link,
            CheckLink::Zone {
                zone: 0,
                check: LinkedZoneCheck::Delegation
            }
        );
        let mut state = State::new(Arc::new(inv));
        assert_eq!(link_name(&state, &link), "zone:example.org.delegation");
        assert_eq!(link_state(&state, &link), LinkState::Pending);
        super::super::reduce(
            &mut state,
            ProbeReport::Zone {
                at: SystemTime::now(),
                outcome: ZoneOutcome {
                    zone: 0,
                    server: 0,
                    address: None,
                    result: Ok(ZoneAnswer {
                        serial: Some(1),
                        ns: vec!["ns1.example.org".into()],
                        authoritative: true,
                        latency: Duration::from_millis(1),
                    }),
                },
            },
        );
        super::super::reduce(&mut state, delegation("198.51.100.53"));
        let red = link_state(&state, &link);
        assert!(red.is_red(), "{red:?}");
        assert_eq!(
            link_words(&link, &red),
            "parent glue for ns1.example.org is still 198.51.100.53 (old): update it at the registrar"
        );
        super::super::reduce(&mut state, delegation("203.0.113.53"));
        let green = link_state(&state, &link);
        assert!(green.is_green(), "{green:?}");
        assert_eq!(
            evidence(&state, &link, &green),
            "zone:example.org.delegation: ok: the parent agrees, glue new"
        );
    }

    /// `mail.service:mail-queue`: pending until it ran, red with the reason while degraded,
    /// green once ok; the words do not repeat the link's name.
    #[test]
    fn a_service_link_is_green_when_the_service_is_ok() {
        use crate::probe::service::{ServiceResult, ServiceState};
        let inv = Inventory::parse(
            Path::new("inv.toml"),
            "[[host]]\nname = \"mail\"\nfqdn = \"mail.example.org\"\n\
             [[host.service]]\nname = \"mail-queue\"\nkind = \"command\"\nrun = \"wc -l\"\nmax = 1000\n\
             [[checklist]]\nid = \"q\"\ntext = \"queue drained\"\ncheck = \"mail.service:mail-queue\"\n",
        )
        .unwrap();
        let link = inv.checklist[0].check.unwrap();
        let mut state = State::new(Arc::new(inv));
        assert_eq!(link_state(&state, &link), LinkState::Pending);
        let report = |state: ServiceState, detail: &str, error: Option<&str>| ProbeReport::Probe {
            host: 0,
            at: SystemTime::now(),
            outcome: crate::probe::Outcome::Service(crate::probe::ServiceOutcome {
                service: 0,
                ip: "203.0.113.25".parse().unwrap(),
                result: ServiceResult {
                    state,
                    detail: detail.into(),
                    error: error.map(str::to_string),
                    latency: Duration::from_millis(40),
                    age: None,
                    cert: None,
                    smtp_names: None,
                    command: None,
                },
            }),
        };
        super::super::reduce(
            &mut state,
            report(
                ServiceState::Warn,
                "exit 0 · 1 line · 1203",
                Some("1203 above max 1000"),
            ),
        );
        let live = link_state(&state, &link);
        assert!(live.is_red());
        assert_eq!(
            evidence(&state, &link, &live),
            "mail.service:mail-queue: warn: 1203 above max 1000"
        );
        super::super::reduce(
            &mut state,
            report(ServiceState::Ok, "exit 0 · 1 line · 37", None),
        );
        let live = link_state(&state, &link);
        assert!(live.is_green());
        assert_eq!(link_words(&link, &live), "ok: exit 0 · 1 line · 37");
    }
}
