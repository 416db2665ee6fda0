//! The report's last section: what is still not green at the end, read from the sections
//! before it, one kind of problem at a time.

use super::{
    AddressKind, DnsVerdict, HostHealth, HostReport, NameReport, OpenItem, PostMortem,
    SecondaryReport, StartItem, serial_word,
};

/// Hosts not up, names not new, old addresses still in use, secondaries out of step,
/// secondaries that never picked up their zone's last canary and checklist items not done,
/// in that order.
pub(super) fn still_open(pm: &PostMortem) -> Vec<OpenItem> {
    let mut out: Vec<OpenItem> = pm.hosts.iter().filter_map(host_not_up).collect();
    for name in &pm.dns {
        out.extend(resolvers_not_new(name));
    }
    for h in &pm.hosts {
        out.extend(hosts_file_sends_to_old(h));
        out.extend(old_address_answers(h));
    }
    for z in &pm.zones {
        for s in &z.secondaries {
            out.extend(secondary_out_of_step(&z.zone, s));
        }
        out.extend(delegation_not_ok(&z.zone, z.delegation.as_ref()));
    }
    out.extend(canary_laggards(pm));
    out.extend(mail_not_clean(pm));
    out.extend(
        pm.notifications
            .iter()
            .filter(|n| n.pending_at_end > 0)
            .map(|n| OpenItem {
                kind: "notify",
                subject: n.notify.clone(),
                text: format!(
                    "{} notifications not delivered{}",
                    n.pending_at_end,
                    n.last_error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            }),
    );
    out.extend(pm.checklist.not_done.iter().map(not_done));
    out
}

/// SPF that does not pass for the new address at the end, and listings not cleared.
fn mail_not_clean(pm: &PostMortem) -> Vec<OpenItem> {
    let mut out = Vec::new();
    for m in &pm.mail {
        for s in m.spf.iter().filter(|s| s.result_at_end != "pass") {
            // The problem's words when the journal has them ("SPF of example.org
            // authorizes only the old address (fail for the new)").
            let text = s.detail_at_end.clone().unwrap_or_else(|| {
                format!(
                    "SPF of {} says {} for the new address",
                    s.domain, s.result_at_end
                )
            });
            out.push(OpenItem {
                kind: "mail",
                subject: m.host.clone(),
                text,
            });
        }
        for l in m.listings.iter().filter(|l| l.cleared.is_none()) {
            let ip = l.ip.map(|ip| format!("{ip} ")).unwrap_or_default();
            out.push(OpenItem {
                kind: "mail",
                subject: m.host.clone(),
                text: format!("{ip}still listed on {}", l.zone),
            });
        }
    }
    out
}

/// The secondaries that never picked up their zone's last canary.
fn canary_laggards(pm: &PostMortem) -> Vec<OpenItem> {
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for run in pm.canaries.iter().rev() {
        if seen.contains(&run.zone.as_str()) {
            continue;
        }
        seen.push(&run.zone);
        for s in run.secondaries.iter().filter(|s| s.late) {
            let call = s
                .contact
                .as_deref()
                .map(|c| format!(" (call {c})"))
                .unwrap_or_default();
            out.push(OpenItem {
                kind: "canary",
                subject: format!("{} at {}", run.zone, s.server),
                text: format!("never picked up the last canary{call}"),
            });
        }
    }
    out
}

fn host_not_up(h: &HostReport) -> Option<OpenItem> {
    let text = match h.health_at_end {
        Some(HostHealth::Up) => return None,
        Some(health) => {
            if h.reasons_at_end.is_empty() {
                health.word().to_string()
            } else {
                format!("{} ({})", health.word(), h.reasons_at_end.join(", "))
            }
        }
        None => "no result in the journal".into(),
    };
    Some(OpenItem {
        kind: "host",
        subject: h.name.clone(),
        text,
    })
}

/// Each resolver whose last answer for `name` was not the new address.
fn resolvers_not_new(name: &NameReport) -> Vec<OpenItem> {
    let mut out = Vec::new();
    for r in &name.resolvers {
        let Some(verdict) = r.verdict_at_end else {
            continue;
        };
        if verdict == DnsVerdict::New {
            continue;
        }
        let addresses = r
            .addresses_at_end
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let text = match verdict {
            DnsVerdict::Old => {
                format!("{} still serves the old address {addresses}", r.resolver)
            }
            DnsVerdict::Other => {
                format!("{} serves {addresses} (neither old nor new)", r.resolver)
            }
            v => format!("{} answers {}", r.resolver, v.word()),
        };
        out.push(OpenItem {
            kind: "dns",
            subject: name.fqdn.clone(),
            text,
        });
    }
    out
}

fn hosts_file_sends_to_old(h: &HostReport) -> Option<OpenItem> {
    let p = h
        .hosts_file
        .last()
        .filter(|p| p.span.ongoing && p.address == Some(AddressKind::Old))?;
    let lines = p
        .lines
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let ips = p
        .addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    Some(OpenItem {
        kind: "hosts_file",
        subject: h.name.clone(),
        text: format!(
            "this machine's hosts file still sends it to the old address {ips} (line {lines})"
        ),
    })
}

fn old_address_answers(h: &HostReport) -> Option<OpenItem> {
    let p = h.old_answering.last().filter(|p| p.span.ongoing)?;
    let what = p
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    Some(OpenItem {
        kind: "old_address",
        subject: h.name.clone(),
        text: format!("the old address {} still answers{what}", p.ip),
    })
}

/// A secondary still behind the primary (with whom to call), else one that does not
/// answer.
fn secondary_out_of_step(zone: &str, s: &SecondaryReport) -> Option<OpenItem> {
    let text = if let Some(lag) = s.behind.last().filter(|l| l.span.ongoing) {
        format!(
            "{} is behind the primary ({} vs {}){}",
            s.server,
            serial_word(lag.serial),
            serial_word(lag.primary_serial),
            s.contact
                .as_deref()
                .map(|c| format!("; call {c}"))
                .unwrap_or_default()
        )
    } else {
        let f = s.failing.last().filter(|f| f.span.ongoing)?;
        format!("{} does not answer ({})", s.server, f.error)
    };
    Some(OpenItem {
        kind: "zone",
        subject: zone.to_string(),
        text,
    })
}

fn delegation_not_ok(zone: &str, d: Option<&super::DelegationReport>) -> Option<OpenItem> {
    let d = d.filter(|d| !d.ok_at_end)?;
    Some(OpenItem {
        kind: "delegation",
        subject: zone.to_string(),
        text: match d.problems_at_end.is_empty() {
            true => "the parent's delegation is not confirmed".to_string(),
            false => d.problems_at_end.join("; "),
        },
    })
}

fn not_done(item: &StartItem) -> OpenItem {
    OpenItem {
        kind: "checklist",
        subject: item.id.clone(),
        text: if item.text.is_empty() {
            "not done".into()
        } else {
            format!("not done: {}", item.text)
        },
    }
}
