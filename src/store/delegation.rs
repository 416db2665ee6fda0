//! The model's view of a zone's delegation: the parent's NS set against the zone's own
//! (the primary's), and each glue address against what the primary serves for that name
//! and against the move's networks, with the verdict per glue name and the reason in words.
//! The zones view, the DNS view and `check --json` all read [`delegation`].

use std::net::IpAddr;

use serde::Serialize;

use crate::config::{Inventory, ResolverKind};
use crate::probe::delegation::{DelegationOutcome, Glue};

use super::{AddressClass, State, classify, classify_in_networks, zone_answer};

/// Where the parent's glue for one NS name points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GlueVerdict {
    /// Every address is what the zone's primary serves for the name, or inside
    /// `new_network` (or the host's `new_ip`), and none is old.
    New,
    /// An address is inside `old_network` (or the host's `old_ip`): resolvers whose cache
    /// expires go to the old datacenter.
    Old,
    /// An address that is neither new nor what the primary serves.
    Other,
    /// The NS name is inside the zone, and the parent has no glue for it.
    Missing,
}

/// One NS name's glue at one parent server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct GlueView {
    pub addresses: Vec<IpAddr>,
    pub name: String,
    pub verdict: GlueVerdict,
}

/// What one parent server says, weighed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ParentView {
    /// `"ip"` (port 53) or `"ip:port"`.
    pub address: String,
    /// Why it gave no referral (`null` when it did).
    pub error: Option<String>,
    /// One per NS name inside the zone and per other NS name it has glue for.
    pub glue: Vec<GlueView>,
    /// The NS names it delegates to, sorted.
    pub ns: Vec<String>,
}

/// A zone's delegation, weighed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DelegationView {
    /// Every parent that answered gives the NS set the zone's primary gives (`null` until
    /// both are known).
    pub agrees_with_zone: Option<bool>,
    /// Why the parent's servers are not known: the zone names no `parent`, and the system
    /// resolver did not give them (`null` when they are known).
    pub error: Option<String>,
    /// The NS sets agree, every parent answered, and every glue name is `new`.
    pub ok: bool,
    /// The parent zone whose servers the system resolver gave (`org`, `.` for the root);
    /// `null` when the inventory lists them (`[[zone]] parent`).
    pub parent_zone: Option<String>,
    /// One per `parent` server, in inventory order.
    pub servers: Vec<ParentView>,
    /// What is wrong, in words, the worst first; `alarm` when it must be fixed at the
    /// registrar (old glue, or an NS set that differs).
    #[serde(skip)]
    pub problems: Vec<String>,
    #[serde(skip)]
    pub alarm: bool,
    /// How many of `problems` (the first ones) are alarms.
    #[serde(skip)]
    pub alarms: usize,
}

impl DelegationView {
    /// Each glue name once, over every parent server: the worst verdict any of them gives
    /// (old, then other, then missing, then new) and every address they give; by name.
    pub fn glue_by_name(&self) -> Vec<GlueView> {
        let rank = |v: GlueVerdict| match v {
            GlueVerdict::Old => 3,
            GlueVerdict::Other => 2,
            GlueVerdict::Missing => 1,
            GlueVerdict::New => 0,
        };
        let mut merged: Vec<GlueView> = Vec::new();
        for glue in self.servers.iter().flat_map(|s| &s.glue) {
            match merged.iter_mut().find(|m| m.name == glue.name) {
                Some(m) => {
                    if rank(glue.verdict) > rank(m.verdict) {
                        m.verdict = glue.verdict;
                    }
                    m.addresses.extend(&glue.addresses);
                    m.addresses.sort();
                    m.addresses.dedup();
                }
                None => merged.push(glue.clone()),
            }
        }
        merged.sort_by(|a, b| a.name.cmp(&b.name));
        merged
    }
}

/// Zone `zone`'s delegation as last asked (`None`: it has not been asked yet).
pub fn delegation(state: &State, zone: usize) -> Option<DelegationView> {
    let seen = state.zones.get(zone)?.delegation.as_ref()?;
    let zone_ns = zone_answer(state, zone, 0)
        .and_then(|o| o.result.as_ref().ok())
        .map(|a| a.ns.clone())
        .filter(|ns| !ns.is_empty());
    Some(weigh(&state.inventory, &seen.value, zone_ns.as_deref()))
}

fn weigh(
    inv: &Inventory,
    outcome: &DelegationOutcome,
    zone_ns: Option<&[String]>,
) -> DelegationView {
    let parent_zone = match &outcome.found {
        Some(Ok(found)) => Some(found.zone.clone()),
        Some(Err(e)) => {
            return DelegationView {
                agrees_with_zone: None,
                error: Some(format!("parent servers unknown: {e}")),
                ok: false,
                parent_zone: None,
                servers: Vec::new(),
                problems: vec![format!("parent servers unknown: {e}")],
                alarm: false,
                alarms: 0,
            };
        }
        None => None,
    };
    let servers: Vec<ParentView> = outcome
        .servers
        .iter()
        .map(|s| {
            let address = ResolverKind::Server(s.address).to_string();
            match &s.result {
                Ok(r) => ParentView {
                    address,
                    ns: r.ns.clone(),
                    glue: r.glue.iter().map(|g| glue_view(inv, outcome, g)).collect(),
                    error: None,
                },
                Err(e) => ParentView {
                    address,
                    ns: Vec::new(),
                    glue: Vec::new(),
                    error: Some(e.to_string()),
                },
            }
        })
        .collect();
    let answered: Vec<&ParentView> = servers.iter().filter(|s| s.error.is_none()).collect();
    let agrees_with_zone = match (zone_ns, answered.is_empty()) {
        (Some(ns), false) => Some(answered.iter().all(|s| s.ns == ns)),
        _ => None,
    };
    let (problems, alarms) = problems(&servers, zone_ns, agrees_with_zone);
    let ok = agrees_with_zone == Some(true)
        && answered.len() == servers.len()
        && servers
            .iter()
            .flat_map(|s| &s.glue)
            .all(|g| g.verdict == GlueVerdict::New);
    DelegationView {
        servers,
        agrees_with_zone,
        error: None,
        ok,
        parent_zone,
        problems,
        alarm: alarms > 0,
        alarms,
    }
}

/// The verdict on one glue name: old beats other beats new.
fn glue_view(inv: &Inventory, outcome: &DelegationOutcome, glue: &Glue) -> GlueView {
    let served: &[IpAddr] = match outcome.primary.get(&glue.name) {
        Some(Ok(addresses)) => addresses,
        Some(Err(_)) | None => &[],
    };
    let host = inv.hosts.iter().find(|h| h.fqdn == glue.name);
    let class = |ip: IpAddr| match host {
        Some(h) => classify(inv, h, ip),
        None => classify_in_networks(inv, ip),
    };
    let verdict = if glue.addresses.is_empty() {
        GlueVerdict::Missing
    } else if glue
        .addresses
        .iter()
        .any(|ip| class(*ip) == AddressClass::Old)
    {
        GlueVerdict::Old
    } else if glue
        .addresses
        .iter()
        .all(|ip| served.contains(ip) || class(*ip) == AddressClass::New)
    {
        GlueVerdict::New
    } else {
        GlueVerdict::Other
    };
    GlueView {
        name: glue.name.clone(),
        addresses: glue.addresses.clone(),
        verdict,
    }
}

/// What is wrong with the delegation, in words, once each, the alarms first, and how many
/// of them are alarms.
fn problems(
    servers: &[ParentView],
    zone_ns: Option<&[String]>,
    agrees: Option<bool>,
) -> (Vec<String>, usize) {
    let mut alarms = Vec::new();
    let mut notes = Vec::new();
    for glue in servers.iter().flat_map(|s| &s.glue) {
        let first = glue
            .addresses
            .first()
            .map_or(String::new(), IpAddr::to_string);
        let (list, text) = match glue.verdict {
            GlueVerdict::New => continue,
            GlueVerdict::Old => (
                &mut alarms,
                format!(
                    "parent glue for {} is still {first} (old): update it at the registrar",
                    glue.name
                ),
            ),
            GlueVerdict::Other => (
                &mut notes,
                format!(
                    "parent glue for {} is {first}, which the primary does not serve",
                    glue.name
                ),
            ),
            GlueVerdict::Missing => (
                &mut notes,
                format!("the parent has no glue for {}", glue.name),
            ),
        };
        if !list.contains(&text) {
            list.push(text);
        }
    }
    if let (Some(false), Some(zone_ns)) = (agrees, zone_ns) {
        for s in servers
            .iter()
            .filter(|s| s.error.is_none() && s.ns != zone_ns)
        {
            let text = format!(
                "parent NS set ({}) differs from the zone's ({}): update it at the registrar",
                s.ns.join(" "),
                zone_ns.join(" ")
            );
            if !alarms.contains(&text) {
                alarms.push(text);
            }
        }
    }
    for s in servers {
        if let Some(e) = &s.error {
            notes.push(format!("parent {}: {e}", s.address));
        }
    }
    let count = alarms.len();
    alarms.extend(notes);
    (alarms, count)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::probe::delegation::{ParentAnswer, Referral};

    fn inventory() -> Inventory {
        Inventory::parse(
            Path::new("inv.toml"),
            "[move]\nold_network = \"198.51.100.0/24\"\nnew_network = \"203.0.113.0/24\"\n",
        )
        .unwrap()
    }

    fn outcome(glue: &[&str], primary: &[&str]) -> DelegationOutcome {
        let ip = |t: &&str| t.parse::<IpAddr>().unwrap();
        DelegationOutcome {
            zone: 0,
            found: None,
            servers: vec![ParentAnswer {
                address: "192.0.2.1:53".parse().unwrap(),
                result: Ok(Referral {
                    ns: vec!["ns-master.example.org".into(), "ns.partner.net".into()],
                    glue: vec![Glue {
                        name: "ns-master.example.org".into(),
                        addresses: glue.iter().map(ip).collect(),
                        more: 0,
                    }],
                }),
            }],
            primary: BTreeMap::from([(
                "ns-master.example.org".to_string(),
                Ok(primary.iter().map(ip).collect()),
            )]),
        }
    }

    /// (glue, what the primary serves, the zone's NS set) -> (verdict, ok, alarm, first words)
    type Case<'a> = (
        &'a [&'a str],
        &'a [&'a str],
        Option<&'a [String]>,
        GlueVerdict,
        bool,
        bool,
        &'a str,
    );

    #[test]
    fn glue_and_ns_sets_are_weighed() {
        let inv = inventory();
        let ns = [
            "ns-master.example.org".to_string(),
            "ns.partner.net".to_string(),
        ];
        let other_ns = ["ns-master.example.org".to_string()];
        let old_words = "parent glue for ns-master.example.org is still 198.51.100.10 (old): update it at the registrar";
        let cases: &[Case] = &[
            (
                &["198.51.100.10"],
                &["203.0.113.10"],
                Some(&ns),
                GlueVerdict::Old,
                false,
                true,
                old_words,
            ),
            (
                &["203.0.113.10"],
                &["203.0.113.10"],
                Some(&ns),
                GlueVerdict::New,
                true,
                false,
                "",
            ),
            // Outside both networks, but what the primary serves: new.
            (
                &["192.0.2.10"],
                &["192.0.2.10"],
                Some(&ns),
                GlueVerdict::New,
                true,
                false,
                "",
            ),
            (
                &["192.0.2.10"],
                &["192.0.2.11"],
                Some(&ns),
                GlueVerdict::Other,
                false,
                false,
                "parent glue for ns-master.example.org is 192.0.2.10, which the primary does not serve",
            ),
            (
                &[],
                &["203.0.113.10"],
                Some(&ns),
                GlueVerdict::Missing,
                false,
                false,
                "the parent has no glue for ns-master.example.org",
            ),
            (
                &["203.0.113.10"],
                &["203.0.113.10"],
                Some(&other_ns),
                GlueVerdict::New,
                false,
                true,
                "parent NS set (ns-master.example.org ns.partner.net) differs from the zone's (ns-master.example.org): update it at the registrar",
            ),
            // The zone's own NS set not known yet: nothing to agree with, not ok.
            (
                &["203.0.113.10"],
                &["203.0.113.10"],
                None,
                GlueVerdict::New,
                false,
                false,
                "",
            ),
        ];
        for (glue, primary, zone_ns, verdict, ok, alarm, words) in cases {
            let view = weigh(&inv, &outcome(glue, primary), *zone_ns);
            let case = format!("{glue:?} {primary:?} {zone_ns:?}: {view:?}");
            assert_eq!(view.servers[0].glue[0].verdict, *verdict, "{case}");
            assert_eq!((view.ok, view.alarm), (*ok, *alarm), "{case}");
            assert_eq!(
                view.problems.first().map_or("", String::as_str),
                *words,
                "{case}"
            );
        }
    }
}
