//! `vantages` and `stdin_plan` of `moveday check --json`: what other vantage points saw,
//! and, on a vantage point itself, which of its own files it used.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::Serialize;

use crate::config::inventory::{Origin, SYSTEM_HOSTS_FILE};
use crate::store::vantage::remote_health;
use crate::store::{Health, Seen, State};
use crate::timefmt::rfc3339;

/// One `[[vantage]]`: its last run and every host as it saw it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VantageOutput {
    /// When it last answered (RFC 3339).
    pub at: Option<String>,
    /// Why it gave no view, in words ("authentication refused by office …", "moveday not found on
    /// office").
    pub error: Option<String>,
    /// Every host it reported, in inventory order.
    pub hosts: Vec<VantageHostOutput>,
    /// The hosts file the vantage used (its own).
    pub hosts_file: Option<String>,
    pub name: String,
    /// It answered with a view of the plan.
    pub ok: bool,
    /// The ssh destination.
    pub ssh: String,
    pub took_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VantageHostOutput {
    pub dns: Vec<VantageDnsOutput>,
    pub health: Health,
    pub name: String,
    pub reasons: Vec<String>,
    pub target: Option<IpAddr>,
}

/// One resolver's answer at the vantage.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VantageDnsOutput {
    pub addresses: Vec<IpAddr>,
    pub error: Option<String>,
    pub resolver: String,
    /// `system`: the vantage's own resolver.
    pub server: String,
    pub verdict: Option<String>,
}

/// On a vantage point (`--inventory -`): the plan's paths name another machine's files, so
/// this one used its own.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StdinPlanOutput {
    pub hosts_file: String,
    pub note: String,
    pub trust: String,
}

pub fn vantages(state: &State) -> Vec<VantageOutput> {
    let inv = &state.inventory;
    inv.vantages
        .iter()
        .zip(&state.vantages)
        .enumerate()
        .map(|(v, (config, vs))| {
            let (ok, error, hosts_file) = match &vs.last {
                Some(Seen { value: Ok(s), .. }) => (true, None, s.hosts_file.clone()),
                Some(Seen { value: Err(e), .. }) => (false, Some(e.clone()), None),
                None => (false, None, None),
            };
            VantageOutput {
                name: config.name.clone(),
                ssh: config.ssh.clone(),
                ok,
                error,
                at: vs.last.as_ref().map(|s| rfc3339(s.at)),
                took_ms: vs.took.map(super::ms),
                hosts_file,
                hosts: state
                    .hosts
                    .iter()
                    .filter_map(|h| h.remote.get(v)?.as_ref())
                    .map(|seen| VantageHostOutput {
                        name: seen.host.name.clone(),
                        health: remote_health(seen.host.health),
                        target: seen.host.target,
                        reasons: seen.host.reasons.clone(),
                        dns: seen
                            .host
                            .dns
                            .iter()
                            .map(|d| VantageDnsOutput {
                                resolver: d.resolver.clone(),
                                server: d.server.clone(),
                                addresses: d.addresses.clone(),
                                verdict: d.verdict.clone(),
                                error: d.error.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}

pub fn stdin_plan(state: &State) -> Option<StdinPlanOutput> {
    (state.inventory.origin == Origin::Stdin).then(|| StdinPlanOutput {
        hosts_file: SYSTEM_HOSTS_FILE.to_string(),
        trust: "this machine's trust store".into(),
        note: "the plan came on stdin: this machine's own hosts file, resolvers and trust \
               store were used, not the paths it names; no vantage was asked"
            .into(),
    })
}
