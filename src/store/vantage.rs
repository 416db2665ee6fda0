//! Vantage points in the model: each vantage's last run (its view, or why there is none),
//! each host's view from there, and the one rule of what it means when views disagree.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::probe::vantage::{RemoteHealth, RemoteHost, RemoteView, VantageOutcome};

use super::{Health, HostState, Seen, State, health};

/// What is known of one vantage point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VantageState {
    /// Its last run: what it saw, or why it could not say.
    pub last: Option<Seen<Result<VantageSummary, String>>>,
    /// How long the last run took.
    pub took: Option<Duration>,
    /// When it last answered with a view (an error keeps the hosts' last views unknown).
    pub ok_since: Option<SystemTime>,
}

impl VantageState {
    /// Its last run: its summary, why it gave no view, or `None` before it answered.
    pub fn outcome(&self) -> Option<Result<&VantageSummary, &str>> {
        self.last
            .as_ref()
            .map(|seen| seen.value.as_ref().map_err(String::as_str))
    }
}

/// One host as one vantage saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct FromVantage {
    /// The vantage's name.
    pub vantage: String,
    pub at: SystemTime,
    pub host: RemoteHost,
}

/// A vantage's run, without the hosts (each host keeps its own view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VantageSummary {
    pub hosts_file: Option<String>,
    /// Hosts of the plan it reported.
    pub hosts: usize,
}

/// Applies a vantage's run: the vantage's state, every host's view from there (unknown
/// when the run failed or left the host out), every host's health again.
pub(super) fn reduce_vantage(state: &mut State, at: SystemTime, outcome: VantageOutcome) -> bool {
    let v = outcome.vantage;
    let Some(vs) = state.vantages.get_mut(v) else {
        return false;
    };
    let before = vs.clone();
    let plan = state.inventory.hosts.len();
    let (summary, view) = match outcome.result {
        // Several hosts and not one up from there: its own network is the likelier cause,
        // not every host at once.
        Ok(view)
            if plan > 1
                && view.hosts.len() > 1
                && !view.hosts.iter().any(|h| h.health == RemoteHealth::Up) =>
        {
            (
                Err(format!(
                    "it sees none of {} hosts up: is its own network down?",
                    view.hosts.len()
                )),
                None,
            )
        }
        Ok(view) => (
            Ok(VantageSummary {
                hosts_file: view.hosts_file.clone(),
                hosts: view.hosts.len(),
            }),
            Some(view),
        ),
        Err(why) => (Err(why), None),
    };
    if summary.is_ok() && !matches!(vs.last, Some(Seen { value: Ok(_), .. })) {
        vs.ok_since = Some(at);
    }
    if summary.is_err() {
        vs.ok_since = None;
    }
    vs.last = Some(Seen { at, value: summary });
    vs.took = Some(outcome.took);
    let mut changed = *vs != before;
    let mut by_name: HashMap<String, RemoteHost> = view
        .map(|view: RemoteView| {
            view.hosts
                .into_iter()
                .map(|h| (h.name.to_ascii_lowercase(), h))
                .collect()
        })
        .unwrap_or_default();
    let inventory = state.inventory.clone();
    let name = &inventory.vantages[v].name;
    for (config, h) in inventory.hosts.iter().zip(state.hosts.iter_mut()) {
        let seen = by_name
            .remove(&config.name.to_ascii_lowercase())
            .map(|host| FromVantage {
                vantage: name.clone(),
                at,
                host,
            });
        let Some(slot) = h.remote.get_mut(v) else {
            continue;
        };
        let same = slot.as_ref().map(|s| &s.host) == seen.as_ref().map(|s| &s.host);
        *slot = seen;
        if same {
            continue;
        }
        changed = true;
        let (now, _) = health(config, h);
        if now != h.health {
            h.health = now;
            h.health_since = Some(at);
        }
    }
    changed
}

/// The reasons the views of a host disagree, and whether that makes an `up` host
/// degraded: down here but up from a vantage ("up from office: check this laptop's network
/// or hosts file"); up here but down from every vantage that answered ("only this laptop
/// reaches it").
pub(super) fn disagreement(h: &HostState, local: Health) -> Option<(String, bool)> {
    let seen: Vec<(&str, RemoteHealth)> = h
        .remote
        .iter()
        .flatten()
        .map(|s| (s.vantage.as_str(), s.host.health))
        .collect();
    if seen.is_empty() {
        return None;
    }
    let up_from: Vec<&str> = seen
        .iter()
        .filter(|(_, health)| *health == RemoteHealth::Up)
        .map(|(name, _)| *name)
        .collect();
    match local {
        Health::Down if !up_from.is_empty() => Some((
            format!(
                "up from {}: check this laptop's network or hosts file",
                up_from.join(", ")
            ),
            false,
        )),
        Health::Up if seen.iter().all(|(_, health)| *health == RemoteHealth::Down) => {
            let from: Vec<&str> = seen.iter().map(|(name, _)| *name).collect();
            Some((
                format!(
                    "only this laptop reaches it (down from {})",
                    from.join(", ")
                ),
                true,
            ))
        }
        _ => None,
    }
}

/// Host `host` as vantage `v` last saw it (`None`: not yet, the run failed, or the
/// remote left it out).
pub fn remote_view(state: &State, v: usize, host: usize) -> Option<&FromVantage> {
    state.hosts.get(host)?.remote.get(v)?.as_ref()
}

/// The health word of a remote view, as this moveday says it.
pub fn remote_health(health: RemoteHealth) -> Health {
    match health {
        RemoteHealth::Up => Health::Up,
        RemoteHealth::Degraded => Health::Degraded,
        RemoteHealth::Down => Health::Down,
        RemoteHealth::Unknown => Health::Unknown,
    }
}
