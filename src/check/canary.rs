//! `moveday canary ZONE`: one canary run, headless, from the write to the deadline.
//!
//! The same run and the same reducer as the dashboard's `C`: the steps are reduced into a
//! [`State`] and derived into journal entries, which are both what the command prints as
//! the run goes and what it appends to the move's journal.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Inventory;
use crate::journal::{self, Entry};
use crate::probe::ProbeReport;
use crate::probe::canary::{self, CanaryPlan};
use crate::probe::scheduler::ProbeEnv;
use crate::store::State;

/// The zone of `inv` named `name` (any case, with or without the final dot), or why not.
pub fn find_zone(inv: &Inventory, name: &str) -> Result<usize, String> {
    if let Some(i) = inv.zone_named(name) {
        return Ok(i);
    }
    let known: Vec<&str> = inv.zones.iter().map(|z| z.name.as_str()).collect();
    Err(if known.is_empty() {
        format!(
            "no [[zone]] `{}` in {}: it has no zones",
            crate::sanitize::sanitize(name, 100),
            inv.path.display()
        )
    } else {
        format!(
            "no [[zone]] `{}` in {} (its zones: {})",
            crate::sanitize::sanitize(name, 100),
            inv.path.display(),
            known.join(", ")
        )
    })
}

/// Runs `plan` to its end; every journal entry it makes is handed to `on_entry` as it
/// happens. Returns the state with the run in it.
pub async fn run(
    inv: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    plan: CanaryPlan,
    mut on_entry: impl FnMut(&Entry),
) -> State {
    let mut state = State::new(inv);
    let (tx, mut rx) = mpsc::channel::<ProbeReport>(64);
    let task = tokio::spawn(async move { canary::run(&env, plan, tx).await });
    while let Some(report) = rx.recv().await {
        let (_, entries) = journal::derive::reduce(&mut state, report);
        for entry in &entries {
            on_entry(entry);
        }
    }
    // The run ended (its sender is gone); a panic in it is a bug, not a result.
    if let Err(e) = task.await {
        crate::store::reduce(
            &mut state,
            crate::store::Input::Warning(format!("canary run failed: {e}")),
        );
    }
    state
}

/// The longest a run may take: the update's timeout, the read-back's, the deadline (the
/// wait for a round is cut there), and the last round's timeout.
pub fn time_limit(inv: &Inventory, deadline: Duration) -> Duration {
    deadline + inv.probe.timeout.saturating_mul(3)
}
