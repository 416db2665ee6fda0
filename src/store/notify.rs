//! Notifications in the model: per endpoint, how many were delivered (and how many late),
//! how many wait, and why the last attempt failed — for the status bar ("2 notifications
//! not delivered to team") and the journal.

use super::State;

/// What happened to one message of one endpoint (the delivery side reports it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyNews {
    /// The endpoint's `[[notify]] name`.
    pub notify: String,
    pub seq: u64,
    pub delivered: Delivered,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The endpoint took it; `late` when an attempt had failed before.
    Sent {
        late: bool,
        attempts: u32,
        /// What the endpoint answered, sanitized ("200 OK").
        answer: String,
    },
    /// This attempt failed; the message stays queued and is tried again.
    Failed {
        attempts: u32,
        error: String,
        /// Messages waiting for the endpoint, this one included.
        pending: usize,
        /// The message's text (the journal keeps what could not be sent).
        text: String,
    },
}

/// One endpoint, as far as this process knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyState {
    pub name: String,
    pub sent: u64,
    pub late: u64,
    /// Waiting for the endpoint to come back.
    pub pending: usize,
    /// Why the last attempt failed, while messages wait.
    pub last_error: Option<String>,
}

/// Applies one delivery's news.
pub(super) fn reduce_notify(state: &mut State, news: &NotifyNews) -> bool {
    let i = match state.notify.iter().position(|n| n.name == news.notify) {
        Some(i) => i,
        None => {
            state.notify.push(NotifyState {
                name: news.notify.clone(),
                ..NotifyState::default()
            });
            state.notify.len() - 1
        }
    };
    let n = &mut state.notify[i];
    let before = n.clone();
    match &news.delivered {
        Delivered::Sent { late, .. } => {
            n.sent += 1;
            n.late += u64::from(*late);
            n.pending = n.pending.saturating_sub(1);
            if n.pending == 0 {
                n.last_error = None;
            }
        }
        Delivered::Failed { error, pending, .. } => {
            n.pending = *pending;
            n.last_error = Some(error.clone());
        }
    }
    *n != before
}

/// The status bar's words for the endpoints with messages waiting: "2 notifications not
/// delivered to team: connection refused" (the first such endpoint, and how many more).
pub fn undelivered(state: &State) -> Option<String> {
    let waiting: Vec<&NotifyState> = state.notify.iter().filter(|n| n.pending > 0).collect();
    let first = waiting.first()?;
    let plural = if first.pending == 1 { "" } else { "s" };
    let why = first
        .last_error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    let more = match waiting.len() {
        1 => String::new(),
        n => format!(" (and {} more endpoints)", n - 1),
    };
    Some(format!(
        "{} notification{plural} not delivered to {}{why}{more}",
        first.pending, first.name
    ))
}
