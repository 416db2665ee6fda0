//! The report's delegation of each zone: when the parent's glue for each NS name first
//! pointed at the new address (the registrar's part of the move), and how it stood at the
//! end.

use super::{DelegationReport, GlueChange, GlueReport, Replay};
use crate::journal::{Event, GlueKind};

impl Replay<'_> {
    /// Zone `zone`'s delegation, from its `delegation` events; `None` without any.
    pub(super) fn delegation(&self, zone: &str) -> Option<DelegationReport> {
        let mut report: Option<DelegationReport> = None;
        for e in &self.sorted {
            let Event::Delegation {
                zone: z,
                ok,
                glue,
                problems,
                error,
                ..
            } = &e.event
            else {
                continue;
            };
            if z != zone {
                continue;
            }
            let r = report.get_or_insert_with(DelegationReport::default);
            if *ok && r.first_ok.is_none() {
                r.first_ok = Some(e.at);
            }
            r.ok_at_end = *ok;
            r.problems_at_end.clone_from(problems);
            r.error_at_end.clone_from(error);
            for g in glue {
                let i = match r.glue.iter().position(|x| x.name == g.name) {
                    Some(i) => i,
                    None => {
                        r.glue.push(GlueReport {
                            name: g.name.clone(),
                            first_new: None,
                            new_addresses: Vec::new(),
                            verdict_at_end: g.verdict,
                            addresses_at_end: Vec::new(),
                            history: Vec::new(),
                        });
                        r.glue.len() - 1
                    }
                };
                let report = &mut r.glue[i];
                if g.verdict == GlueKind::New && report.first_new.is_none() {
                    report.first_new = Some(e.at);
                    report.new_addresses.clone_from(&g.addresses);
                }
                let changed = report.verdict_at_end != g.verdict
                    || report.addresses_at_end != g.addresses
                    || report.history.is_empty();
                report.verdict_at_end = g.verdict;
                report.addresses_at_end.clone_from(&g.addresses);
                let change = GlueChange {
                    at: e.at.max(self.from),
                    verdict: g.verdict,
                    addresses: g.addresses.clone(),
                };
                if !self.in_range(e.at) {
                    // The glue in force when the report starts.
                    report.history = vec![change];
                } else if changed {
                    report.history.push(change);
                }
            }
        }
        report
    }
}
