//! The report's vantage points: when each first saw each host up, how it saw it at the end,
//! and whether it was answering at the end.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Entry, Event, HostHealth};

/// One vantage point over the report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VantageReport {
    pub vantage: String,
    /// Why it gave no view at the end (`null`: it answered, or never said).
    pub error_at_end: Option<String>,
    pub hosts: Vec<VantageHostReport>,
}

/// One host as one vantage saw it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VantageHostReport {
    pub host: String,
    /// When it first saw the host up (`null`: never within the journal).
    pub first_up: Option<DateTime<Utc>>,
    pub health_at_end: HostHealth,
}

/// Every vantage with `vantage` events in `sorted` (time order); `from` is the report's
/// start.
pub(super) fn vantage_reports(sorted: &[&Entry], from: DateTime<Utc>) -> Vec<VantageReport> {
    let mut out: Vec<VantageReport> = Vec::new();
    for e in sorted {
        let Event::Vantage {
            vantage,
            host,
            health,
            ok,
            error,
        } = &e.event
        else {
            continue;
        };
        let i = match out.iter().position(|r| &r.vantage == vantage) {
            Some(i) => i,
            None => {
                out.push(VantageReport {
                    vantage: vantage.clone(),
                    error_at_end: None,
                    hosts: Vec::new(),
                });
                out.len() - 1
            }
        };
        let r = &mut out[i];
        if let Some(ok) = ok {
            r.error_at_end = match ok {
                true => None,
                false => error.clone().or_else(|| Some("no view".into())),
            };
        }
        let (Some(host), Some(health)) = (host, health) else {
            continue;
        };
        let k = match r.hosts.iter().position(|h| &h.host == host) {
            Some(k) => k,
            None => {
                r.hosts.push(VantageHostReport {
                    host: host.clone(),
                    first_up: None,
                    health_at_end: *health,
                });
                r.hosts.len() - 1
            }
        };
        let h = &mut r.hosts[k];
        if *health == HostHealth::Up && h.first_up.is_none() {
            h.first_up = Some(e.at.max(from));
        }
        h.health_at_end = *health;
    }
    out
}
