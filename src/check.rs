//! `moveday check`: one full probe round of every host, then a table or JSON.
//!
//! The same reducer as the TUI builds the state, so the two can never disagree. The JSON's
//! types are in [`json`].

pub mod canary;
pub mod json;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::config::service::ServiceKind;
use crate::config::{HostConfig, Inventory};
use crate::probe::scheduler::{self, ProbeEnv, Scope};
use crate::probe::service::command;
use crate::probe::{ProbeError, ProbeReport, TargetSource};
use crate::store::{self, Health, HostState, HostsFlag, Seen, State};

/// Slack of a round on top of its probes' timeouts: tasks starting, the hosts file read,
/// the reports reduced.
pub const ROUND_SLACK: Duration = Duration::from_secs(1);

/// The rounds `check` runs at most: the first, then retries up to the largest `fail_after`
/// (at most `config::limits::ROUNDS`' end, 20).
pub fn max_rounds(inv: &Inventory) -> u32 {
    inv.hosts
        .iter()
        .map(|h| h.damping.fail_after)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// How long one round may take before it is cut off: the target's lookup, then the probes
/// (one timeout each, run at once), one timeout more for every
/// [`scheduler::MAX_CONCURRENT_PROBES`] probes beyond the first (they wait for a slot), and
/// [`ROUND_SLACK`]; or, when longer, the target's lookup and the slowest `command`
/// service's limit (at most 60 s: so never more than 2 × 60 s + 1 s either).
pub fn round_limit(inv: &Inventory) -> Duration {
    let resolvers = inv.resolvers.iter().filter(|r| !r.implied).count();
    // A host's probes at most: its DNS cells, PTR, ping, SSH, HTTP, ports, the old
    // address, and its services; a zone's: the SOA and NS of each server.
    let probes: usize = inv
        .hosts
        .iter()
        .map(|h| resolvers + 6 + h.services.len())
        .chain(inv.zones.iter().map(|z| 2 * (1 + z.secondaries.len())))
        .sum();
    let waits = probes.saturating_sub(1) / scheduler::MAX_CONCURRENT_PROBES;
    let timeouts = u32::try_from(2 + waits).unwrap_or(u32::MAX);
    let slowest_command = inv
        .hosts
        .iter()
        .flat_map(|h| &h.services)
        .filter_map(|s| match &s.kind {
            ServiceKind::Command(c) => Some(command::run_limit(c, inv.probe.timeout)),
            _ => None,
        })
        .max()
        .unwrap_or_default();
    let probes = inv.probe.timeout.saturating_mul(timeouts);
    probes.max(inv.probe.timeout + slowest_command) + ROUND_SLACK
}

/// The longest `check` (and `dns`) can take: [`max_rounds`] × [`round_limit`], the first
/// round at least as long as the slowest vantage point may take.
pub fn time_limit(inv: &Inventory) -> Duration {
    let round = round_limit(inv);
    round.saturating_mul(max_rounds(inv).saturating_sub(1)) + round.max(vantage_limit(inv))
}

/// How long the vantage points may take: the longest `every`, and a moment to report.
fn vantage_limit(inv: &Inventory) -> Duration {
    inv.vantages
        .iter()
        .map(|v| v.every + ROUND_SLACK)
        .max()
        .unwrap_or_default()
}

/// Runs one probe round of every host and returns the resulting state.
///
/// A check that fails is retried (up to its host's `fail_after`, one round at a time), so
/// a one-shot run reports a host that is really down as down, and a blip as recovered.
/// Each round is cut off after [`round_limit`], so the whole run ends within
/// [`time_limit`] whatever the hosts (or a slow probe) do.
pub async fn run(inventory: Arc<Inventory>, env: Arc<ProbeEnv>, scope: Scope) -> State {
    let mut state = State::new(inventory.clone());
    let limit = round_limit(&inventory);
    let (tx, rx) = mpsc::channel::<ProbeReport>(1024);
    let round = tokio::spawn(scheduler::one_round(
        inventory.clone(),
        env.clone(),
        tx,
        scope,
    ));
    // The first round also waits for the vantage points, each bounded by its `every`.
    let first = match scope {
        Scope::Everything => limit.max(vantage_limit(&inventory)),
        Scope::Dns => limit,
    };
    collect(&mut state, rx, round, first).await;
    if scope == Scope::Everything {
        let most = max_rounds(&inventory);
        for _ in 1..most {
            let suspects: Vec<usize> = state
                .hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    h.damp
                        .values()
                        .any(|d| matches!(d.state, store::Damped::Suspect { .. }))
                })
                .map(|(i, _)| i)
                .collect();
            if suspects.is_empty() {
                break;
            }
            let (tx, rx) = mpsc::channel::<ProbeReport>(1024);
            let round = tokio::spawn(scheduler::retry_round(
                inventory.clone(),
                env.clone(),
                tx,
                suspects,
            ));
            collect(&mut state, rx, round, limit).await;
        }
    }
    state
}

/// Reduces every report of a round into `state` until the round's channel closes, or until
/// `limit` has passed: then the round is stopped (its probes with it) and what had not
/// answered stays unanswered. Returns whether the round ended by itself.
async fn collect(
    state: &mut State,
    mut rx: mpsc::Receiver<ProbeReport>,
    round: tokio::task::JoinHandle<()>,
    limit: Duration,
) -> bool {
    let drained = tokio::time::timeout(limit, async {
        while let Some(report) = rx.recv().await {
            store::reduce(state, report);
        }
    })
    .await;
    if drained.is_err() {
        round.abort();
        say(&format!(
            "moveday: warning: a probe round was cut off after {}: probes that had not \
             answered by then are not counted",
            crate::config::inventory::duration_text(limit)
        ));
        return false;
    }
    // The channel closes when the round is over; a panic in a probe task is a bug worth
    // surfacing, but it must not hide the results we have.
    if let Err(e) = round.await {
        say(&format!("moveday: internal error in a probe task: {e}"));
    }
    true
}

/// A line on standard error, if there is still one (`eprintln!` panics when it is gone).
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Exit code of `check`: 0 when every host is up and no zone's delegation must be fixed at
/// the registrar (old glue, a parent NS set that differs: red in the zones view), 1
/// otherwise.
pub fn exit_code(state: &State) -> i32 {
    let hosts_up = state.hosts.iter().all(|h| h.health == Health::Up);
    let delegations_fine = (0..state.inventory.zones.len())
        .all(|z| !store::delegation(state, z).is_some_and(|d| d.alarm));
    if hosts_up && delegations_fine { 0 } else { 1 }
}

/// Each zone's delegation problems, in words, as lines under `check`'s table: `alarm:`
/// for what must be fixed at the registrar (it fails the check), `warning:` for the rest
/// (a parent that did not answer, glue the primary does not serve, parent servers not
/// found).
fn delegation_lines(state: &State) -> Vec<String> {
    let mut out = Vec::new();
    for (z, config) in state.inventory.zones.iter().enumerate() {
        let Some(d) = store::delegation(state, z) else {
            continue;
        };
        for (i, problem) in d.problems.iter().enumerate() {
            // The alarms come first in `problems`; the rest are notes.
            let word = if i < d.alarms { "alarm" } else { "warning" };
            out.push(format!(
                "{word}: zone {} delegation: {problem}",
                config.name
            ));
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn err_text(e: &ProbeError) -> String {
    e.to_string()
}

/// `check --json` as a [`serde_json::Value`], for callers that look fields up by name.
pub fn to_json(state: &State) -> Value {
    serde_json::to_value(json::CheckOutput::new(state)).unwrap_or_default()
}

/// Longest text from the inventory (or a probe) shown in one cell, in characters.
const MAX_SHOWN: usize = 500;

/// Text as a terminal may see it: names in the inventory are free text, and an ESC or BEL
/// in a host's or resolver's name must not reach the terminal raw.
fn shown(text: &str) -> String {
    crate::sanitize::sanitize(text, MAX_SHOWN)
}

/// A line under the table (a warning, a host's reasons), [`shown`] with room for a list.
fn shown_line(text: &str) -> String {
    crate::sanitize::sanitize(text, 8 * MAX_SHOWN)
}

/// Left-aligned columns two spaces apart, one line per row, every cell [`shown`].
fn columns<R: AsRef<[String]>>(rows: &[R]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.as_ref().iter().map(|cell| shown(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let n = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => widths.push(n),
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A plain-text table for a terminal or a log: one line per host, then the warnings that
/// matter (stale hosts-file entries, resolvers still answering old).
pub fn to_table(state: &State) -> String {
    let inv = &state.inventory;
    let mut rows: Vec<[String; 8]> = vec![[
        "HOST".into(),
        "HEALTH".into(),
        "TARGET".into(),
        "PING".into(),
        "SSH".into(),
        "HTTP".into(),
        "DNS".into(),
        "HOSTS FILE".into(),
    ]];
    let mut warnings = Vec::new();
    for (i, config) in inv.hosts.iter().enumerate() {
        let h = &state.hosts[i];
        let (dns, old_at) = dns_cell(state, i);
        warnings.extend(old_at.into_iter().map(|resolver| {
            format!(
                "{}: resolver {resolver} still answers the OLD address",
                config.fqdn
            )
        }));
        let flag = store::hosts_flag(state, i);
        warnings.extend(hosts_file_warning(state, i, flag));
        rows.push([
            config.name.clone(),
            format!("{} {}", h.health.symbol(), h.health.word()),
            target_cell(h),
            ping_cell(config, h),
            probe_cell(
                h.ssh.as_ref().map(|s| &s.value.result),
                config.ssh.is_none(),
            ),
            http_cell(config, h),
            dns,
            flag.map_or("-", |f| f.word()).to_string(),
        ]);
    }
    let mut out = columns(&rows);
    let [up, degraded, down, unknown] = state.health_counts();
    out.push_str(&format!(
        "\n{up} up, {degraded} degraded, {down} down, {unknown} unknown; ping: {}\n",
        state.ping_mode.map_or("-".to_string(), |m| m.to_string())
    ));
    if let Some(hint) = &state.ping_hint {
        out.push_str(&format!("hint: {}\n", shown_line(hint)));
    }
    if let Some(plan) = json::vantage_note(state) {
        out.push_str(&format!("note: {}\n", plan.note));
    }
    for w in warnings {
        out.push_str(&format!("warning: {}\n", shown_line(&w)));
    }
    for line in delegation_lines(state) {
        out.push_str(&format!("{}\n", shown_line(&line)));
    }
    // Why each host that is not up is not: ports, services, flaps, PTR.
    for (config, h) in inv.hosts.iter().zip(&state.hosts) {
        if h.health != Health::Up && h.health != Health::Unknown {
            let (_, reasons) = store::health(config, h);
            if !reasons.is_empty() {
                let line = format!("{}: {}", config.name, reasons.join("; "));
                out.push_str(&format!("{}\n", shown_line(&line)));
            }
        }
    }
    for line in vantage_lines(state) {
        out.push_str(&format!("{}\n", shown_line(&line)));
    }
    out
}

/// One line per vantage point: how many hosts it sees up, or why it gave no view.
fn vantage_lines(state: &State) -> Vec<String> {
    let inv = &state.inventory;
    inv.vantages
        .iter()
        .zip(&state.vantages)
        .enumerate()
        .map(|(v, (config, vs))| match vs.outcome() {
            Some(Ok(_)) => {
                let seen: Vec<_> = state
                    .hosts
                    .iter()
                    .filter_map(|h| h.remote.get(v)?.as_ref())
                    .collect();
                let up = seen
                    .iter()
                    .filter(|s| s.host.health == crate::probe::vantage::RemoteHealth::Up)
                    .count();
                format!(
                    "vantage {}: {up} of {} hosts up from there",
                    config.name,
                    seen.len()
                )
            }
            Some(Err(why)) => format!("vantage {}: no view: {why}", config.name),
            None => format!("vantage {}: no answer", config.name),
        })
        .collect()
}

/// The TARGET column: the address, and why when it is not `new_ip`.
fn target_cell(h: &HostState) -> String {
    match &h.target {
        Some(Seen { value: Ok(t), .. }) => match t.source {
            TargetSource::NewIp => t.ip.to_string(),
            other => format!("{} ({other})", t.ip),
        },
        Some(Seen { value: Err(e), .. }) => e.word().to_string(),
        None => "-".into(),
    }
}

/// The PING column: the mean round trip and how it was measured, or why not.
fn ping_cell(config: &HostConfig, h: &HostState) -> String {
    match (&h.ping, store::ping_stats(h)) {
        (Some(p), Some((rtt, _))) => match (&p.value.result, rtt) {
            (Ok(_), Some(rtt)) => format!("{:.1}ms {}", ms(rtt), p.value.mode.method()),
            (Err(e), _) => e.word().to_string(),
            _ => "-".into(),
        },
        _ if !config.ping => "off".into(),
        _ => "-".into(),
    }
}

/// A probe's column: `ok`, the error's word, `off` when the inventory switched it off.
fn probe_cell<T>(result: Option<&Result<T, ProbeError>>, off: bool) -> String {
    match result {
        Some(Ok(_)) => "ok".into(),
        Some(Err(e)) => e.word().to_string(),
        None if off => "off".into(),
        None => "-".into(),
    }
}

/// The HTTP column: the status, or the error's word.
fn http_cell(config: &HostConfig, h: &HostState) -> String {
    match h.http.as_ref().map(|x| &x.value.result) {
        Some(Ok(r)) => r.status.to_string(),
        other => probe_cell(other, config.http.is_none()),
    }
}

/// The DNS column (the resolvers' verdicts, runs of the same one once: `new/old/new`), and
/// the resolvers still answering the old address.
fn dns_cell(state: &State, host: usize) -> (String, Vec<String>) {
    let inv = &state.inventory;
    let config = &inv.hosts[host];
    let mut old_at = Vec::new();
    let mut verdicts: Vec<String> = inv
        .resolvers
        .iter()
        .zip(&state.hosts[host].dns)
        .filter_map(|(r, slot)| {
            let v = store::verdict(inv, config, &slot.as_ref()?.value);
            if v == store::Verdict::Old {
                old_at.push(r.name.clone());
            }
            Some(v.word().to_string())
        })
        .collect();
    verdicts.dedup();
    (verdicts.join("/"), old_at)
}

/// A warning when this machine's hosts file sends the host elsewhere than DNS does.
fn hosts_file_warning(state: &State, host: usize, flag: Option<HostsFlag>) -> Option<String> {
    let inv = &state.inventory;
    let config = &inv.hosts[host];
    match flag {
        Some(HostsFlag::Old) => Some(format!(
            "{}: {} points {} at the OLD address: this machine will not reach the new host",
            config.fqdn,
            inv.hosts_file.display(),
            config.name
        )),
        Some(HostsFlag::Disagrees) => Some(format!(
            "{}: {} disagrees with DNS",
            config.fqdn,
            inv.hosts_file.display()
        )),
        _ => None,
    }
}

/// `dns --json` as a [`serde_json::Value`], for callers that look fields up by name.
pub fn dns_json(state: &State) -> Value {
    serde_json::to_value(json::DnsOutput::new(state)).unwrap_or_default()
}

/// `moveday dns`: the resolver matrix once, as text: one row per name, one column per
/// resolver (`verdict address ttl`), and until when old answers may still be served.
pub fn dns_table(state: &State) -> String {
    let inv = &state.inventory;
    let now = std::time::SystemTime::now();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["NAME".to_string()];
    header.extend(inv.resolvers.iter().map(|r| r.name.to_uppercase()));
    header.push("OLD UNTIL".into());
    rows.push(header);
    let local = |t: std::time::SystemTime| {
        chrono::DateTime::<chrono::Local>::from(t)
            .format("%H:%M:%S")
            .to_string()
    };
    for (i, config) in inv.hosts.iter().enumerate() {
        let mut row = vec![config.fqdn.clone()];
        for r in 0..inv.resolvers.len() {
            // The TTL as served (printed once, it does not count down).
            let cell = store::cell(state, i, r);
            let at = match cell {
                store::Cell::Answer { seen, .. } => seen.at,
                _ => now,
            };
            row.push(crate::ui::dns::cell_text(&cell, at));
        }
        row.push(store::old_until(state, i).map_or("-".into(), local));
        rows.push(row);
    }
    let mut out = columns(&rows);
    for (r, config) in inv.resolvers.iter().enumerate() {
        if let Some(until) = store::resolver_old_until(state, r) {
            out.push_str(&format!(
                "{} may serve old answers until {}\n",
                shown(&config.name),
                local(until)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn inventory(text: &str) -> Inventory {
        Inventory::parse(Path::new("inv.toml"), text).unwrap()
    }

    #[test]
    fn the_time_limit_is_rounds_times_two_timeouts_and_slack() {
        // The defaults: timeout 1s, fail_after 2.
        let inv = inventory("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\n");
        assert_eq!(max_rounds(&inv), 2);
        assert_eq!(round_limit(&inv), Duration::from_secs(3));
        assert_eq!(time_limit(&inv), Duration::from_secs(6));
        // The most the inventory allows: 20 rounds of 2 × 60s + 1s.
        let inv = inventory(
            "[probe]\ninterval = \"1h\"\ntimeout = \"60s\"\nfail_after = 20\n[[host]]\nname = \"a\"\nfqdn = \"a.org\"\n",
        );
        assert_eq!(time_limit(&inv), Duration::from_secs(20 * 121));
        // Probes beyond one batch wait for a slot: one timeout more per batch.
        let hosts: String = (0..100)
            .map(|i| format!("[[host]]\nname = \"h{i}\"\nfqdn = \"h{i}.org\"\n"))
            .collect();
        let inv = inventory(&hosts);
        assert_eq!(round_limit(&inv), Duration::from_secs(2 + 2) + ROUND_SLACK);
        // A command service may take its `every` (at most 60 s), after the target's lookup.
        let command = |every: &str| {
            inventory(&format!(
                "[[host]]\nname = \"a\"\nfqdn = \"a.org\"\n[[host.service]]\nname = \"q\"\n\
                 kind = \"command\"\nrun = \"true\"\n{every}"
            ))
        };
        assert_eq!(round_limit(&command("")), Duration::from_secs(3));
        assert_eq!(
            round_limit(&command("every = \"20s\"")),
            Duration::from_secs(1 + 20 + 1)
        );
        assert_eq!(
            round_limit(&command("every = \"1h\"")),
            Duration::from_secs(1 + 60 + 1)
        );
    }

    /// A round that never ends (a probe that overstays its timeout) is cut off at the
    /// limit, and its tasks stopped.
    #[tokio::test(start_paused = true)]
    async fn a_round_that_never_ends_is_cut_off_at_the_limit() {
        let inv = Arc::new(inventory("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\n"));
        let mut state = State::new(inv);
        let (tx, rx) = mpsc::channel::<ProbeReport>(8);
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let round = tokio::spawn(async move {
            let _on_drop = dropped_tx;
            tx.send(ProbeReport::RoundDone {
                host: 0,
                at: std::time::SystemTime::now(),
            })
            .await
            .unwrap();
            std::future::pending::<()>().await;
        });
        let started = tokio::time::Instant::now();
        let ended = collect(&mut state, rx, round, Duration::from_secs(3)).await;
        assert!(!ended);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        // The round's task is gone (its sender dropped with it).
        assert!(dropped_rx.await.is_err());
    }

    /// A host's or resolver's name is free text of the inventory: ESC, BEL and C1 codes
    /// in it are escaped in `check`'s and `dns`'s tables.
    #[test]
    fn names_from_the_inventory_are_escaped_in_the_tables() {
        let inv = inventory(
            "[[resolver]]\nname = \"isp\\u001b[2J\"\naddress = \"127.0.0.1:5353\"\n\
             [[host]]\nname = \"www\\u001b]0;pwned\\u0007\\u009b\"\nfqdn = \"www.org\"\n",
        );
        let state = State::new(Arc::new(inv));
        for out in [to_table(&state), dns_table(&state)] {
            assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        }
        assert!(
            to_table(&state).contains("www\\x1b]0;pwned\\x07\\x9b"),
            "{}",
            to_table(&state)
        );
        assert!(
            dns_table(&state).contains("ISP\\x1b[2J"),
            "{}",
            dns_table(&state)
        );
    }
}
