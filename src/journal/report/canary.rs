//! The report's canary runs: each run of each zone, read from the journal's `canary`
//! steps (written by `moveday canary` and by the dashboard's `C`): when and what was
//! written where, who picked it up how fast, who never did and whom to call.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::{CanaryStep, Entry, Event};

/// One canary run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CanaryRunReport {
    pub zone: String,
    pub started: DateTime<Utc>,
    /// The primary written to.
    pub primary: Option<String>,
    /// The TXT text written (time and who).
    pub text: Option<String>,
    /// When the primary took it, and the serial it carried.
    pub written: Option<DateTime<Utc>>,
    pub serial: Option<u32>,
    /// Why it was not written (the primary and its rcode, or no answer).
    pub not_written: Option<String>,
    /// The run's end (`null`: the journal ends first).
    pub finished: Option<DateTime<Utc>>,
    pub secondaries: Vec<CanarySecondaryReport>,
}

/// One secondary in a run: picked up (`late` false, with `after_s`), or never (`late`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CanarySecondaryReport {
    pub server: String,
    pub contact: Option<String>,
    pub late: bool,
    /// Seconds from the write until it served the canary, or waited in vain.
    pub after_s: Option<f64>,
    pub serial: Option<u32>,
    pub error: Option<String>,
}

/// The runs in `sorted` (time order), each from its `started` step.
pub(super) fn canary_runs(sorted: &[&Entry]) -> Vec<CanaryRunReport> {
    let mut runs: Vec<CanaryRunReport> = Vec::new();
    for e in sorted {
        let Event::Canary {
            zone,
            run: run_text,
            step,
            server,
            contact,
            serial,
            after_s,
            text,
            error,
        } = &e.event
        else {
            continue;
        };
        if *step == CanaryStep::Started {
            runs.push(CanaryRunReport {
                zone: zone.clone(),
                started: e.at,
                primary: server.clone(),
                text: text.clone().or_else(|| run_text.clone()),
                written: None,
                serial: None,
                not_written: None,
                finished: None,
                secondaries: Vec::new(),
            });
            continue;
        }
        // A step belongs to its run (by its text), or, in a journal without run texts,
        // to the zone's last run that has not ended.
        let Some(run) = runs.iter_mut().rev().find(|r| {
            r.zone == *zone
                && r.finished.is_none()
                && run_text.as_ref().is_none_or(|t| r.text.as_ref() == Some(t))
        }) else {
            continue;
        };
        let secondary = |late| CanarySecondaryReport {
            server: server.clone().unwrap_or_default(),
            contact: contact.clone(),
            late,
            after_s: *after_s,
            serial: *serial,
            error: error.clone(),
        };
        match step {
            CanaryStep::Started => {}
            CanaryStep::Written => {
                run.written = Some(e.at);
                run.serial = *serial;
            }
            CanaryStep::NotWritten => {
                run.not_written = error.clone();
                run.finished = Some(e.at);
            }
            CanaryStep::PickedUp => run.secondaries.push(secondary(false)),
            CanaryStep::Late => run.secondaries.push(secondary(true)),
            CanaryStep::Finished => run.finished = Some(e.at),
        }
    }
    runs
}
