//! The checklist's view of the live probes: the state of the probe an item is linked to,
//! the item's status (ready when its check is green), and the evidence a tick records.
//!
//! The words here are the model's: the checklist pane shows them, and a tick stores them
//! in the state file, so the record does not depend on how a screen words things.

use crate::checklist::{ChecklistDoc, ItemStatus};
use crate::config::inventory::{CheckLink, ChecklistItem, LinkedProbe};
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

/// The linked probe's live state, with a few words of evidence.
pub fn link_state(state: &State, link: &CheckLink) -> LinkState {
    let Some(h) = state.hosts.get(link.host) else {
        return LinkState::Pending;
    };
    let Some(config) = state.inventory.hosts.get(link.host) else {
        return LinkState::Pending;
    };
    let word = |ok: bool, text: String| {
        if ok {
            LinkState::Green(text)
        } else {
            LinkState::Red(text)
        }
    };
    match link.probe {
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
            // Green when every resolver answers the new address.
            let verdicts: Vec<Verdict> = h
                .dns
                .iter()
                .filter_map(|slot| slot.as_ref())
                .map(|seen| verdict(&state.inventory, config, &seen.value))
                .collect();
            if verdicts.len() < h.dns.len() {
                LinkState::Pending
            } else {
                let new = verdicts.iter().filter(|v| **v == Verdict::New).count();
                word(
                    new == verdicts.len(),
                    format!("dns {new}/{} resolvers new", verdicts.len()),
                )
            }
        }
        LinkedProbe::HostsFile => match hosts_flag(state, link.host) {
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

/// `vbox.http`: the host and probe an item is linked to.
pub fn link_name(state: &State, link: &CheckLink) -> String {
    let host = state
        .inventory
        .hosts
        .get(link.host)
        .map_or("?", |h| h.name.as_str());
    format!("{}.{}", sanitize(host, 64), link.probe.name())
}

/// What the linked probe says without repeating the probe's name: `200 from 203.0.113.13`,
/// `refused at 203.0.113.13`, `pending`.
pub fn link_words(link: &CheckLink, state: &LinkState) -> String {
    match state {
        LinkState::Pending => "pending".to_string(),
        LinkState::Green(detail) | LinkState::Red(detail) => {
            let prefix = format!("{} ", link.probe.name().replace('_', " "));
            sanitize(detail.strip_prefix(&prefix).unwrap_or(detail), 200)
        }
    }
}

/// The evidence a tick records: the linked probe's name and what it says, e.g.
/// `vbox.http: 200 from 203.0.113.13`.
pub fn evidence(state: &State, link: &CheckLink, live: &LinkState) -> String {
    format!("{}: {}", link_name(state, link), link_words(link, live))
}
