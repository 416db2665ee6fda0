//! `[[checklist]]`: the move plan, in file order, each item optionally linked to a live
//! probe of a host (`check = "HOST.PROBE"`) or a check of a zone
//! (`check = "zone:ZONE.CHECK"`).

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use super::super::ConfigError;
use super::values::Located;
use super::{CheckLink, ChecklistItem, HostConfig, LinkedProbe, LinkedZoneCheck, ZoneConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChecklistItem {
    id: Spanned<String>,
    phase: Option<Spanned<String>>,
    text: Spanned<String>,
    check: Option<Spanned<String>>,
}

/// The plan's items and its phases, in order of first appearance. Links are checked
/// against `hosts` and `zones`, so this table is read after `[[host]]` and `[[zone]]`.
pub(super) fn checklist(
    raw: Vec<RawChecklistItem>,
    hosts: &[HostConfig],
    zones: &[ZoneConfig],
    err: Located,
) -> Result<(Vec<ChecklistItem>, Vec<String>), ConfigError> {
    let mut checklist = Vec::new();
    let mut phases: Vec<String> = Vec::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    for c in raw {
        let id = c.id.get_ref().trim().to_string();
        if id.is_empty()
            || !id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
        {
            return Err(err(
                c.id.span(),
                format!(
                    "invalid checklist id `{}`: use letters, digits, `-`, `_` and `.`",
                    c.id.get_ref()
                ),
            ));
        }
        if !seen_ids.insert(id.clone()) {
            return Err(err(c.id.span(), format!("duplicate checklist id `{id}`")));
        }
        let text = c.text.get_ref().trim().to_string();
        if text.is_empty() {
            return Err(err(
                c.text.span(),
                format!("checklist item `{id}` has an empty text"),
            ));
        }
        let phase = match c.phase {
            Some(p) if p.get_ref().trim().is_empty() => {
                return Err(err(
                    p.span(),
                    format!("checklist item `{id}` has an empty phase"),
                ));
            }
            Some(p) => p.get_ref().trim().to_string(),
            None => "plan".to_string(),
        };
        let check = match c.check {
            None => None,
            Some(link) => {
                let text = link.get_ref();
                let parsed = match (
                    text.trim().strip_prefix("zone:"),
                    text.split_once(".service:"),
                ) {
                    (Some(rest), _) => parse_zone_link(text, rest, zones),
                    (None, Some((host, service))) => parse_service_link(text, host, service, hosts),
                    (None, None) => parse_link(text, hosts),
                };
                Some(parsed.map_err(|why| err(link.span(), why))?)
            }
        };
        if !phases.contains(&phase) {
            phases.push(phase.clone());
        }
        checklist.push(ChecklistItem {
            id,
            phase,
            text,
            check,
        });
    }
    Ok((checklist, phases))
}

/// `"HOST.PROBE"` against the inventory's hosts, with a message that says what would work.
fn parse_link(text: &str, hosts: &[HostConfig]) -> Result<CheckLink, String> {
    let probes = || {
        LinkedProbe::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((host_name, probe_name)) = text.trim().rsplit_once('.') else {
        return Err(format!(
            "invalid check `{text}`: expected \"HOST.PROBE\" (for example \"vbox.http\"; probes: {})",
            probes()
        ));
    };
    let Some(host) = hosts
        .iter()
        .position(|h| h.name.eq_ignore_ascii_case(host_name))
    else {
        return Err(format!(
            "check `{text}` names an unknown host `{host_name}`"
        ));
    };
    let Some(probe) = LinkedProbe::ALL
        .iter()
        .find(|(n, _)| *n == probe_name)
        .map(|(_, p)| *p)
    else {
        return Err(format!(
            "check `{text}` names an unknown probe `{probe_name}`; probes: {}",
            probes()
        ));
    };
    let h = &hosts[host];
    let configured = match probe {
        LinkedProbe::Ping => h.ping,
        LinkedProbe::Ssh => h.ssh.is_some(),
        LinkedProbe::Http => h.http.is_some(),
        LinkedProbe::Mail => h.is_mail(),
        LinkedProbe::Health | LinkedProbe::Dns | LinkedProbe::HostsFile => true,
    };
    if !configured && probe == LinkedProbe::Mail {
        return Err(format!(
            "check `{text}`: host `{}` is not a mail host (role = \"mail\", \"mx\" or \"smtp\")",
            h.name
        ));
    }
    if !configured {
        return Err(format!(
            "check `{text}`: host `{}` has no {probe_name} probe configured",
            h.name
        ));
    }
    Ok(CheckLink::Host { host, probe })
}

/// `"HOST.service:NAME"`: one service of a host, by its name (any kind).
fn parse_service_link(
    text: &str,
    host_name: &str,
    service_name: &str,
    hosts: &[HostConfig],
) -> Result<CheckLink, String> {
    let host_name = host_name.trim();
    let Some(host) = hosts
        .iter()
        .position(|h| h.name.eq_ignore_ascii_case(host_name))
    else {
        return Err(format!(
            "check `{text}` names an unknown host `{host_name}`"
        ));
    };
    let service_name = service_name.trim();
    let h = &hosts[host];
    let Some(service) = h
        .services
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(service_name))
    else {
        let names: Vec<&str> = h.services.iter().map(|s| s.name.as_str()).collect();
        let known = match names.as_slice() {
            [] => "it has none".to_string(),
            names => format!("its services: {}", names.join(", ")),
        };
        return Err(format!(
            "check `{text}`: host `{}` has no service `{service_name}`; {known}",
            h.name
        ));
    };
    Ok(CheckLink::Service { host, service })
}

/// `"zone:ZONE.CHECK"` (`rest` is what follows `zone:`) against the inventory's zones.
fn parse_zone_link(text: &str, rest: &str, zones: &[ZoneConfig]) -> Result<CheckLink, String> {
    let checks = || {
        LinkedZoneCheck::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((zone_name, check_name)) = rest.rsplit_once('.') else {
        return Err(format!(
            "invalid check `{text}`: expected \"zone:ZONE.CHECK\" (for example \"zone:example.org.delegation\"; checks: {})",
            checks()
        ));
    };
    let Some(zone) = super::super::zone_named(zones, zone_name) else {
        let known: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
        return Err(match known.is_empty() {
            true => format!(
                "check `{text}` names an unknown zone `{zone_name}`: the inventory has no [[zone]]"
            ),
            false => format!(
                "check `{text}` names an unknown zone `{zone_name}`; zones: {}",
                known.join(", ")
            ),
        });
    };
    let Some(check) = LinkedZoneCheck::ALL
        .iter()
        .find(|(n, _)| *n == check_name)
        .map(|(_, c)| *c)
    else {
        return Err(format!(
            "check `{text}` names an unknown zone check `{check_name}`; zone checks: {}",
            checks()
        ));
    };
    if check == LinkedZoneCheck::Canary && zones[zone].canary_key.is_none() {
        return Err(format!(
            "check `{text}`: zone `{}` has no canary_key, so no canary is ever written to it",
            zones[zone].name
        ));
    }
    Ok(CheckLink::Zone { zone, check })
}
