//! The report's notifications: per endpoint, what was delivered (and late), how many
//! attempts failed, and what still waited at the end.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Entry, Event};

/// One `[[notify]]` endpoint over the report.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct NotifyReport {
    pub notify: String,
    pub delivered: u64,
    /// Delivered after an attempt had failed.
    pub late: u64,
    pub failed_attempts: u64,
    /// Messages still waiting at the end.
    pub pending_at_end: usize,
    pub last_error: Option<String>,
}

/// Every endpoint with `notify` events in `sorted` (time order).
pub(super) fn notify_reports(sorted: &[&Entry]) -> Vec<NotifyReport> {
    let mut out: Vec<NotifyReport> = Vec::new();
    for e in sorted {
        let Event::Notify {
            notify,
            status,
            late,
            detail,
            pending,
            ..
        } = &e.event
        else {
            continue;
        };
        let i = match out.iter().position(|r| &r.notify == notify) {
            Some(i) => i,
            None => {
                out.push(NotifyReport {
                    notify: notify.clone(),
                    ..NotifyReport::default()
                });
                out.len() - 1
            }
        };
        let r = &mut out[i];
        match status.as_str() {
            "sent" => {
                r.delivered += 1;
                r.late += u64::from(*late);
                r.pending_at_end = r.pending_at_end.saturating_sub(1);
                if r.pending_at_end == 0 {
                    r.last_error = None;
                }
            }
            _ => {
                r.failed_attempts += 1;
                r.pending_at_end = pending.unwrap_or(r.pending_at_end);
                r.last_error.clone_from(detail);
            }
        }
    }
    out
}
