//! The report's DNS sections: each host's name at every resolver, and each zone's serials
//! at its primary and secondaries.

use chrono::{DateTime, Utc};

use super::{
    DnsChange, DnsVerdict, Entry, Event, FailPeriod, HostReport, LagPeriod, NameReport, Replay,
    ResolverReport, SecondaryReport, SerialChange, ZoneReport, spans,
};
use crate::config::Inventory;
use crate::journal::ZoneRole;

/// A zone and one of its servers.
type ZoneKey = (String, String);

/// One zone server's events: the zone and server, whether it is the primary, its entries.
type ServerEvents<'a> = (ZoneKey, bool, Vec<&'a Entry>);

impl<'a> Replay<'a> {
    /// Each host's name at every resolver, for hosts whose name was looked up. `hosts`
    /// (the host section) gives the names.
    pub(super) fn dns(&self, hosts: &[HostReport]) -> Vec<NameReport> {
        self.meta
            .hosts
            .iter()
            .filter_map(|(host, _)| {
                let fqdn = hosts
                    .iter()
                    .find(|h| &h.name == host)
                    .map(|h| h.fqdn.clone())
                    .unwrap_or_default();
                self.name_report(host, fqdn)
            })
            .collect()
    }

    /// One host's name at every resolver, resolvers in order of first answer; `None` when
    /// it was never looked up.
    fn name_report(&self, host: &str, mut fqdn: String) -> Option<NameReport> {
        let mut resolvers: Vec<ResolverReport> = Vec::new();
        for e in &self.sorted {
            let Event::Dns {
                host: h,
                fqdn: f,
                resolver,
                verdict,
                addresses,
                ..
            } = &e.event
            else {
                continue;
            };
            if h != host {
                continue;
            }
            if fqdn.is_empty() {
                fqdn = f.clone();
            }
            let r = resolver_report(&mut resolvers, resolver);
            if *verdict == DnsVerdict::New && r.first_new.is_none() {
                r.first_new = Some(e.at);
            }
            r.verdict_at_end = Some(*verdict);
            r.addresses_at_end = addresses.clone();
            let change = DnsChange {
                at: e.at.max(self.from),
                verdict: *verdict,
                addresses: addresses.clone(),
            };
            if self.in_range(e.at) {
                r.history.push(change);
            } else {
                // The answer in force when the report starts.
                r.history = vec![change];
            }
        }
        (!resolvers.is_empty()).then(|| NameReport {
            host: host.to_string(),
            fqdn,
            resolvers,
        })
    }

    /// Each zone, in order of first appearance: its primary's serials and how each
    /// secondary kept up.
    pub(super) fn zones(&self) -> Vec<ZoneReport> {
        let servers = self.zone_servers();
        let mut zone_names: Vec<String> = Vec::new();
        let delegated = self.sorted.iter().filter_map(|e| match &e.event {
            Event::Delegation { zone, .. } => Some(zone),
            _ => None,
        });
        for zone in servers
            .iter()
            .map(|((zone, _), _, _)| zone)
            .chain(delegated)
        {
            if !zone_names.contains(zone) {
                zone_names.push(zone.clone());
            }
        }
        let mut zones = Vec::new();
        for zone in zone_names {
            let mut report = ZoneReport {
                zone: zone.clone(),
                primary: None,
                primary_serials: Vec::new(),
                secondaries: Vec::new(),
                delegation: self.delegation(&zone),
            };
            for ((_, server), primary, list) in servers.iter().filter(|(k, _, _)| k.0 == zone) {
                if *primary {
                    report.primary = Some(server.clone());
                    report.primary_serials = self.primary_serials(list);
                } else {
                    report
                        .secondaries
                        .push(self.secondary_report(&zone, server, list));
                }
            }
            zones.push(report);
        }
        zones
    }

    /// The zone events of each (zone, server), in order of first appearance.
    fn zone_servers(&self) -> Vec<ServerEvents<'a>> {
        let mut servers: Vec<ServerEvents<'a>> = Vec::new();
        for e in &self.sorted {
            if let Event::Zone {
                zone, server, role, ..
            } = &e.event
            {
                let key = (zone.clone(), server.clone());
                match servers.iter_mut().find(|(k, _, _)| *k == key) {
                    Some((_, _, list)) => list.push(e),
                    None => servers.push((key, *role == ZoneRole::Primary, vec![e])),
                }
            }
        }
        servers
    }

    /// The serials the primary served (errors leave the serial as it was).
    fn primary_serials(&self, list: &[&Entry]) -> Vec<SerialChange> {
        let changes: Vec<(DateTime<Utc>, Option<u32>, ())> = list
            .iter()
            .filter_map(|e| match &e.event {
                Event::Zone { serial, error, .. } if error.is_none() => Some((e.at, *serial, ())),
                _ => None,
            })
            .collect();
        spans(&changes, self.from, self.end)
            .into_iter()
            .map(|(serial, _, span)| SerialChange {
                at: span.from,
                serial,
                clipped: span.clipped,
            })
            .collect()
    }

    /// When a secondary was behind the primary, when it did not answer, and how it stood
    /// at the end.
    fn secondary_report(&self, zone: &str, server: &str, list: &[&Entry]) -> SecondaryReport {
        type Lag = (Option<u32>, Option<u32>);
        let lag: Vec<(DateTime<Utc>, bool, Lag)> = list
            .iter()
            .filter_map(|e| match &e.event {
                Event::Zone {
                    behind,
                    serial,
                    primary_serial,
                    ..
                } => Some((e.at, *behind, (*serial, *primary_serial))),
                _ => None,
            })
            .collect();
        let errors: Vec<(DateTime<Utc>, Option<String>, ())> = list
            .iter()
            .filter_map(|e| match &e.event {
                Event::Zone { error, .. } => Some((e.at, error.clone(), ())),
                _ => None,
            })
            .collect();
        let last = list.last().map(|e| &e.event);
        let (serial_at_end, behind_at_end) = match last {
            Some(Event::Zone { serial, behind, .. }) => (*serial, *behind),
            _ => (None, false),
        };
        SecondaryReport {
            server: server.to_string(),
            contact: contact(self.inventory, zone, server),
            behind: spans(&lag, self.from, self.end)
                .into_iter()
                .filter(|(behind, _, _)| *behind)
                .map(|(_, (serial, primary_serial), span)| LagPeriod {
                    serial,
                    primary_serial,
                    span,
                })
                .collect(),
            failing: spans(&errors, self.from, self.end)
                .into_iter()
                .filter_map(|(error, _, span)| {
                    Some(FailPeriod {
                        error: error?,
                        span,
                    })
                })
                .collect(),
            serial_at_end,
            behind_at_end,
        }
    }
}

/// The report of `resolver` among `resolvers`, added (empty) if it is not there yet.
fn resolver_report<'r>(
    resolvers: &'r mut Vec<ResolverReport>,
    resolver: &str,
) -> &'r mut ResolverReport {
    let i = match resolvers.iter().position(|r| r.resolver == resolver) {
        Some(i) => i,
        None => {
            resolvers.push(ResolverReport {
                resolver: resolver.to_string(),
                first_new: None,
                verdict_at_end: None,
                addresses_at_end: Vec::new(),
                history: Vec::new(),
            });
            resolvers.len() - 1
        }
    };
    &mut resolvers[i]
}

/// Whom to call about a secondary, from the inventory.
fn contact(inv: Option<&Inventory>, zone: &str, server: &str) -> Option<String> {
    inv?.zones
        .iter()
        .find(|z| z.name == zone)?
        .secondaries
        .iter()
        .find(|s| s.server.to_string() == server)?
        .contact
        .clone()
}
