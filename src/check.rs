//! `moveday check`: one full probe round of every host, then a table or JSON.
//!
//! The same reducer as the TUI builds the state, so the two can never disagree.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::config::Inventory;
use crate::probe::scheduler::{self, ProbeEnv, Scope};
use crate::probe::{ProbeError, ProbeReport, TargetSource};
use crate::store::{self, Health, HostsFlag, Seen, State};

/// Runs one probe round of every host and returns the resulting state.
///
/// A check that fails is retried (up to its host's `fail_after`, one round at a time), so
/// a one-shot run reports a host that is really down as down, and a blip as recovered.
pub async fn run(inventory: Arc<Inventory>, env: Arc<ProbeEnv>, scope: Scope) -> State {
    let mut state = State::new(inventory.clone());
    let (tx, rx) = mpsc::channel::<ProbeReport>(1024);
    let round = tokio::spawn(scheduler::one_round(
        inventory.clone(),
        env.clone(),
        tx,
        scope,
    ));
    collect(&mut state, rx, round).await;
    if scope == Scope::Everything {
        let most = inventory
            .hosts
            .iter()
            .map(|h| h.damping.fail_after)
            .max()
            .unwrap_or(1);
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
            collect(&mut state, rx, round).await;
        }
    }
    state
}

/// Reduces every report of a round into `state` until the round's channel closes.
async fn collect(
    state: &mut State,
    mut rx: mpsc::Receiver<ProbeReport>,
    round: tokio::task::JoinHandle<()>,
) {
    while let Some(report) = rx.recv().await {
        store::reduce(state, report);
    }
    // The channel closes when the round is over; a panic in a probe task is a bug worth
    // surfacing, but it must not hide the results we have.
    if let Err(e) = round.await {
        eprintln!("moveday: internal error in a probe task: {e}");
    }
}

/// Exit code of `check`: 0 when every host is up, 1 otherwise.
pub fn exit_code(state: &State) -> i32 {
    if state.hosts.iter().all(|h| h.health == Health::Up) {
        0
    } else {
        1
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn err_text(e: &ProbeError) -> String {
    e.to_string()
}

/// The machine-readable result: one object per host, names kept stable for scripts.
pub fn to_json(state: &State) -> Value {
    let inv = &state.inventory;
    let hosts: Vec<Value> = inv
        .hosts
        .iter()
        .enumerate()
        .map(|(i, config)| {
            let h = &state.hosts[i];
            let (health, reasons) = store::health(config, h);
            let (target, target_source, target_error) = match &h.target {
                Some(Seen { value: Ok(t), .. }) => (Some(t.ip), Some(t.source), None),
                Some(Seen { value: Err(e), .. }) => (None, None, Some(err_text(e))),
                None => (None, None, None),
            };
            let ping = h.ping.as_ref().map(|p| {
                let stats = store::ping_stats(h);
                json!({
                    "ok": p.value.result.is_ok(),
                    "rtt_ms": p.value.result.as_ref().ok().map(|d| ms(*d)),
                    "method": p.value.mode.method(),
                    "loss": stats.map(|(_, loss)| loss),
                    "ip": p.value.ip,
                    "error": p.value.result.as_ref().err().map(err_text),
                })
            });
            let ssh = h.ssh.as_ref().map(|s| {
                json!({
                    "ok": s.value.result.is_ok(),
                    "banner": s.value.result.as_ref().ok().map(|b| b.banner.clone()),
                    "ip": s.value.ip,
                    "port": s.value.port,
                    "error": s.value.result.as_ref().err().map(err_text),
                })
            });
            let http = h.http.as_ref().map(|x| {
                let r = x.value.result.as_ref().ok();
                let error = match &x.value.result {
                    Err(e) => Some(err_text(e)),
                    Ok(r) if !r.is_ok() => Some(format!("HTTP status {}", r.status)),
                    Ok(_) => None,
                };
                json!({
                    "ok": error.is_none(),
                    "status": r.map(|r| r.status),
                    "url": x.value.url,
                    "ip": x.value.ip,
                    "latency_ms": r.map(|r| ms(r.latency)),
                    "location": r.and_then(|r| r.location.clone()),
                    "body_bytes": r.map(|r| r.body_bytes),
                    "error": error,
                })
            });
            let dns: Vec<Value> = (0..inv.resolvers.len())
                .map(|r| cell_json(state, i, r))
                .collect();
            let hosts_file = h.hosts_file.as_ref().map(|f| {
                let flag = store::hosts_flag(state, i);
                let entries = f.value.as_ref().map(|e| e.as_slice()).unwrap_or_default();
                let addresses: Vec<IpAddr> = entries.iter().map(|e| e.ip).collect();
                json!({
                    "path": inv.hosts_file,
                    "addresses": addresses,
                    "lines": entries.iter().map(|e| e.line).collect::<Vec<_>>(),
                    "flag": flag,
                    "disagrees_with_dns": matches!(flag, Some(HostsFlag::Disagrees | HostsFlag::Old)),
                    "points_at_old": flag == Some(HostsFlag::Old),
                    "error": f.value.as_ref().err(),
                })
            });
            let ptr = h.ptr.as_ref().map(|p| match &p.value.result {
                Ok(a) => json!({
                    "ip": p.value.ip,
                    "name": a.names.first(),
                    "names": a.names,
                    "forward_confirmed": a.forward_confirmed,
                    "error": null,
                }),
                Err(e) => json!({
                    "ip": p.value.ip,
                    "name": null,
                    "names": [],
                    "forward_confirmed": false,
                    "error": e.to_string(),
                }),
            });
            let primary = h.primary.as_ref().map(|p| match &p.value {
                Ok(a) => json!({
                    "addresses": a.addresses,
                    "ttl": a.ttl,
                    "ttl_too_long": u64::from(a.ttl) > inv.long_ttl.as_secs(),
                    "authoritative": a.authoritative,
                    "error": null,
                }),
                Err(e) => json!({"addresses": [], "ttl": null, "authoritative": null, "error": e.to_string()}),
            });
            let error = (!reasons.is_empty() && health != Health::Up).then(|| reasons.join("; "));
            let damped = |check: store::Check| {
                let d = h.damp.get(&check).copied().unwrap_or_default();
                json!({
                    "state": match d.state {
                        store::Damped::Unknown => "unknown",
                        store::Damped::Up => "up",
                        store::Damped::Suspect { .. } => "suspect",
                        store::Damped::Down => "down",
                        store::Damped::Recovering { .. } => "recovering",
                    },
                    "note": d.note(config.damping),
                })
            };
            let ports = h.ports.as_ref().map(|p| {
                p.value
                    .ports
                    .iter()
                    .map(|r| {
                        json!({
                            "port": r.port,
                            "state": r.state,
                            "ip": p.value.ip,
                            "latency_ms": ms(r.latency),
                            "detail": r.detail,
                            "damping": damped(store::Check::Port(r.port)),
                        })
                    })
                    .collect::<Vec<_>>()
            });
            let services: Vec<Value> = config
                .services
                .iter()
                .enumerate()
                .map(|(k, svc)| {
                    let seen = h.services.get(k).and_then(Option::as_ref);
                    let r = seen.map(|s| &s.value.result);
                    json!({
                        "name": svc.name,
                        "kind": svc.kind.word(),
                        "state": r.map(|r| r.state),
                        "detail": r.map(|r| r.detail.clone()),
                        "error": r.map_or(Some("no result yet".to_string()), |r| r.error.clone()),
                        "ip": seen.map(|s| s.value.ip),
                        "latency_ms": r.map(|r| ms(r.latency)),
                        "age_s": r.and_then(|r| r.age).map(|a| a.as_secs()),
                        "cert": r.and_then(|r| r.cert.as_ref()).map(|c| json!({
                            "subject": c.subject,
                            "issuer": c.issuer,
                            "not_after": rfc3339(c.not_after),
                            "days_left": c.days_left,
                            "name_matches": c.name_matches,
                            "trusted": c.trusted,
                            "chain_error": c.chain_error,
                        })),
                        "damping": damped(store::Check::Service(k)),
                    })
                })
                .collect();
            let old = h.old.as_ref().map(|o| {
                json!({
                    "ip": o.value.ip,
                    "answering": o.value.answering(),
                    "ports": o.value.ports.iter().map(|r| json!({"port": r.port, "state": r.state})).collect::<Vec<_>>(),
                    "services": o.value.services.iter().zip(&config.services).map(|(r, c)| json!({
                        "name": c.name, "state": r.state, "error": r.error,
                    })).collect::<Vec<_>>(),
                })
            });
            json!({
                "name": config.name,
                "fqdn": config.fqdn,
                "old_ip": config.old_ip,
                "new_ip": config.new_ip,
                "target": target,
                "target_source": target_source,
                "health": health,
                "reasons": reasons,
                "ping": ping,
                "ssh": ssh,
                "http": http,
                "dns": dns,
                "hosts_file": hosts_file,
                "role": config.role,
                "ptr": ptr,
                "primary": primary,
                "ports": ports,
                "services": services,
                "old": old,
                "error": target_error.or(error),
            })
        })
        .collect();
    let [up, degraded, down, unknown] = state.health_counts();
    json!({
        "zones": zones_json(state),
        "move": inv.name,
        "inventory": inv.path,
        "ping_mode": state.ping_mode,
        "ping_hint": state.ping_hint,
        "summary": {"up": up, "degraded": degraded, "down": down, "unknown": unknown},
        "hosts": hosts,
    })
}

/// Per zone: the primary's serial, each secondary's serial, lag and AA flag, and whether
/// every server returns the same NS set.
fn zones_json(state: &State) -> Value {
    let inv = &state.inventory;
    let zones: Vec<Value> = inv
        .zones
        .iter()
        .zip(&state.zones)
        .enumerate()
        .map(|(z, (config, zone))| {
            let answer = |i: usize| {
                zone.servers
                    .get(i)
                    .and_then(|s| s.latest.as_ref())
                    .map(|seen| &seen.value)
            };
            let serial = |i: usize| answer(i).and_then(|o| o.result.as_ref().ok()).and_then(|a| a.serial);
            let primary_serial = serial(0);
            let secondaries: Vec<Value> = config
                .secondaries
                .iter()
                .enumerate()
                .map(|(k, sec)| {
                    let i = k + 1;
                    let outcome = answer(i);
                    let ok = outcome.and_then(|o| o.result.as_ref().ok());
                    let lag = match (primary_serial, serial(i)) {
                        (Some(p), Some(s)) => match store::serial_cmp(s, p) {
                            Some(std::cmp::Ordering::Less) => Some(p.wrapping_sub(s)),
                            Some(_) => Some(0),
                            None => None,
                        },
                        _ => None,
                    };
                    let behind_since = zone.servers.get(i).and_then(|s| s.behind_since);
                    json!({
                        "server": sec.server.to_string(),
                        "address": outcome.and_then(|o| o.address),
                        "serial": serial(i),
                        "lag": lag,
                        "behind_since": behind_since.map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
                        "authoritative": ok.map(|a| a.authoritative),
                        "ns": ok.map(|a| a.ns.clone()),
                        "contact": sec.contact,
                        "error": outcome.and_then(|o| o.result.as_ref().err()).map(|e| e.to_string()),
                    })
                })
                .collect();
            let ns_agree = store::ns_agree(state, z).unwrap_or(false);
            json!({
                "name": config.name,
                "primary": {
                    "address": config.primary,
                    "serial": primary_serial,
                    "authoritative": answer(0).and_then(|o| o.result.as_ref().ok()).map(|a| a.authoritative),
                    "ns": answer(0).and_then(|o| o.result.as_ref().ok()).map(|a| a.ns.clone()),
                    "error": answer(0).and_then(|o| o.result.as_ref().err()).map(|e| e.to_string()),
                },
                "secondaries": secondaries,
                "ns_agree": ns_agree,
            })
        })
        .collect();
    Value::Array(zones)
}

/// Left-aligned columns two spaces apart, one line per row.
fn columns<R: AsRef<[String]>>(rows: &[R]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.as_ref().iter().enumerate() {
            let n = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => widths.push(n),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .as_ref()
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
        let target = match &h.target {
            Some(Seen { value: Ok(t), .. }) => match t.source {
                TargetSource::NewIp => t.ip.to_string(),
                other => format!("{} ({other})", t.ip),
            },
            Some(Seen { value: Err(e), .. }) => e.word().to_string(),
            None => "-".into(),
        };
        let ping = match (&h.ping, store::ping_stats(h)) {
            (Some(p), Some((rtt, _))) => match (&p.value.result, rtt) {
                (Ok(_), Some(rtt)) => format!("{:.1}ms {}", ms(rtt), p.value.mode.method()),
                (Err(e), _) => e.word().to_string(),
                _ => "-".into(),
            },
            _ if !config.ping => "off".into(),
            _ => "-".into(),
        };
        let ssh = match &h.ssh {
            Some(s) => match &s.value.result {
                Ok(_) => "ok".into(),
                Err(e) => e.word().to_string(),
            },
            None if config.ssh.is_none() => "off".into(),
            None => "-".into(),
        };
        let http = match &h.http {
            Some(x) => match &x.value.result {
                Ok(r) => r.status.to_string(),
                Err(e) => e.word().to_string(),
            },
            None if config.http.is_none() => "off".into(),
            None => "-".into(),
        };
        let verdicts: Vec<String> = inv
            .resolvers
            .iter()
            .zip(&h.dns)
            .filter_map(|(r, slot)| {
                let v = store::verdict(inv, config, &slot.as_ref()?.value);
                if v == store::Verdict::Old {
                    warnings.push(format!(
                        "{}: resolver {} still answers the OLD address",
                        config.fqdn, r.name
                    ));
                }
                Some(v.word().to_string())
            })
            .collect();
        let mut dns = verdicts.clone();
        dns.dedup();
        let flag = store::hosts_flag(state, i);
        match flag {
            Some(HostsFlag::Old) => warnings.push(format!(
                "{}: {} points {} at the OLD address: this machine will not reach the new host",
                config.fqdn,
                inv.hosts_file.display(),
                config.name
            )),
            Some(HostsFlag::Disagrees) => warnings.push(format!(
                "{}: {} disagrees with DNS",
                config.fqdn,
                inv.hosts_file.display()
            )),
            _ => {}
        }
        rows.push([
            config.name.clone(),
            format!("{} {}", h.health.symbol(), h.health.word()),
            target,
            ping,
            ssh,
            http,
            dns.join("/"),
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
        out.push_str(&format!("hint: {hint}\n"));
    }
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    // Why each host that is not up is not: ports, services, flaps, PTR.
    for (config, h) in inv.hosts.iter().zip(&state.hosts) {
        if h.health != Health::Up && h.health != Health::Unknown {
            let (_, reasons) = store::health(config, h);
            if !reasons.is_empty() {
                out.push_str(&format!("{}: {}\n", config.name, reasons.join("; ")));
            }
        }
    }
    out
}

fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `moveday dns --json`: the resolver matrix once.
pub fn dns_json(state: &State) -> Value {
    let inv = &state.inventory;
    let rows: Vec<Value> = inv
        .hosts
        .iter()
        .enumerate()
        .map(|(i, config)| {
            let cells: Vec<Value> = (0..inv.resolvers.len())
                .map(|r| cell_json(state, i, r))
                .collect();
            json!({
                "fqdn": config.fqdn,
                "host": config.name,
                "cells": cells,
                "old_until": store::old_until(state, i).map(rfc3339),
            })
        })
        .collect();
    let resolvers: Vec<Value> = inv
        .resolvers
        .iter()
        .enumerate()
        .map(|(r, config)| {
            json!({
                "name": config.name,
                "server": config.kind.to_string(),
                "old_until": store::resolver_old_until(state, r).map(rfc3339),
            })
        })
        .collect();
    json!({"resolvers": resolvers, "names": rows, "zones": zones_json(state)})
}

/// One resolver's answer about one host's name: where it came from (DNS, or this machine's
/// hosts file for the system resolver), the verdict, and for a zone server its AA flag.
fn cell_json(state: &State, host: usize, resolver: usize) -> Value {
    let rc = &state.inventory.resolvers[resolver];
    let base = json!({"resolver": rc.name, "server": rc.kind.to_string()});
    let more = match store::cell(state, host, resolver) {
        store::Cell::Waiting => json!({
            "source": null, "verdict": null, "addresses": [], "ttl": null,
            "error": "no answer yet",
        }),
        store::Cell::NotAsked => json!({
            "source": "not_asked", "verdict": null, "addresses": [], "ttl": null, "error": null,
        }),
        store::Cell::HostsFile { entry, verdict } => json!({
            "source": "hosts_file",
            "hosts_file_line": entry.line,
            "verdict": verdict,
            "addresses": [entry.ip],
            "ttl": null,
            "dns": state.hosts[host].dns.get(resolver).and_then(Option::as_ref).map(|seen| json!({
                "verdict": store::verdict(&state.inventory, &state.inventory.hosts[host], &seen.value),
                "addresses": seen.value.as_ref().map(|a| a.addresses.clone()).unwrap_or_default(),
                "ttl": seen.value.as_ref().ok().map(|a| a.ttl),
                "error": seen.value.as_ref().err().map(|e| e.to_string()),
            })),
            "error": null,
        }),
        store::Cell::Answer {
            seen,
            verdict,
            lame,
        } => json!({
            "source": "dns",
            "verdict": verdict,
            "addresses": seen.value.as_ref().map(|a| a.addresses.clone()).unwrap_or_default(),
            "ttl": seen.value.as_ref().ok().map(|a| a.ttl),
            "authoritative": seen.value.as_ref().ok().and_then(|a| a.authoritative),
            "lame": lame,
            "observed": rfc3339(seen.at),
            "error": seen.value.as_ref().err().map(|e| e.to_string()),
        }),
    };
    let (Value::Object(mut a), Value::Object(b)) = (base, more) else {
        return Value::Null;
    };
    a.extend(b);
    Value::Object(a)
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
                config.name,
                local(until)
            ));
        }
    }
    out
}
