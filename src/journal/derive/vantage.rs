//! The journal's `vantage` events: a vantage point starting or stopping to answer, and
//! each change in how it sees a host's health.

use std::time::SystemTime;

use crate::sanitize::sanitize;
use crate::store::vantage::remote_health;
use crate::store::{State, VantageState};

use super::{Entry, MAX_DETAIL_CHARS, entry};
use crate::journal::{Event, HostHealth};

/// What changed for vantage `v` between `before` (its state and every host's view from
/// it) and `state` now.
pub(super) fn vantage_events(
    state: &State,
    v: usize,
    before: &VantageState,
    hosts_before: &[Option<HostHealth>],
    at: SystemTime,
) -> Vec<Entry> {
    let Some(config) = state.inventory.vantages.get(v) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let outcome = |vs: &VantageState| {
        vs.outcome()
            .map(|o| (o.is_ok(), o.err().map(str::to_string)))
    };
    let now = state.vantages.get(v).and_then(outcome);
    if let Some((ok, error)) = now.clone()
        && outcome(before) != now
    {
        out.push(entry(
            at,
            Event::Vantage {
                vantage: config.name.clone(),
                host: None,
                health: None,
                ok: Some(ok),
                error: error.map(|e| sanitize(&e, MAX_DETAIL_CHARS)),
            },
        ));
    }
    for (i, h) in state.hosts.iter().enumerate() {
        let health = remote_of(h, v);
        if health.is_none() || hosts_before.get(i).copied().flatten() == health {
            continue;
        }
        out.push(entry(
            at,
            Event::Vantage {
                vantage: config.name.clone(),
                host: Some(state.inventory.hosts[i].name.clone()),
                health,
                ok: None,
                error: None,
            },
        ));
    }
    out
}

/// How vantage `v` sees host `h` (`None`: it does not).
pub(super) fn remote_of(h: &crate::store::HostState, v: usize) -> Option<HostHealth> {
    let seen = h.remote.get(v)?.as_ref()?;
    Some(remote_health(seen.host.health).into())
}
