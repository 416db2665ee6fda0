//! Telling the team: each `[[notify]]` endpoint gets its own task (an [`Outbox`]) that
//! delivers its messages in order, retries with backoff until the endpoint takes them,
//! marks the ones that waited as late, and reports every attempt as a [`Delivery`]. What
//! goes out is `compose` (journal entries to messages); how it goes out is `send` (one
//! attempt) and `outbox` (the order, the retries, the memory bound).

pub mod compose;
mod outbox;
pub mod send;

use std::time::SystemTime;

use crate::config::NotifyConfig;

pub use outbox::{MAX_QUEUED, Outbox, Retry};

/// One message for one endpoint, composed by [`compose`].
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Per endpoint, increasing: the order they must arrive in.
    pub seq: u64,
    /// "moveday: vbox up" (ntfy's Title header).
    pub title: String,
    /// The line a chat tool shows.
    pub text: String,
    /// The journal entry's fields, plus "text"; the outbox adds "late" and "notify".
    pub body: serde_json::Value,
    /// When the event happened.
    pub at: SystemTime,
}

/// What happened to messages of one endpoint (the lead turns it into the status bar and
/// the journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The endpoint took message `seq`; `answer` is "200 OK: …" or "exit 0", sanitized.
    Sent {
        notify: String,
        seq: u64,
        /// Delivered after at least one failed attempt (its own or one queued before it).
        late: bool,
        attempts: u32,
        answer: String,
    },
    /// An attempt at `seq` failed; it is still queued, with `pending` in all (itself
    /// included), and will be retried.
    Failed {
        notify: String,
        seq: u64,
        attempts: u32,
        error: String,
        pending: usize,
        /// The message's text: the journal keeps what could not be sent.
        text: String,
    },
}

impl Delivery {
    /// The model's input for this report (`store::Input::Notify`).
    pub fn news(self) -> crate::store::NotifyNews {
        use crate::store::{Delivered, NotifyNews};
        match self {
            Delivery::Sent {
                notify,
                seq,
                late,
                attempts,
                answer,
            } => NotifyNews {
                notify,
                seq,
                delivered: Delivered::Sent {
                    late,
                    attempts,
                    answer,
                },
            },
            Delivery::Failed {
                notify,
                seq,
                attempts,
                error,
                pending,
                text,
            } => NotifyNews {
                notify,
                seq,
                delivered: Delivered::Failed {
                    attempts,
                    error,
                    pending,
                    text,
                },
            },
        }
    }
}

impl Message {
    /// What the endpoint gets for this message: `late` adds " (late: happened at
    /// HH:MM:SS)" to the text, and the body gets `"late"`, `"notify"` (the endpoint's
    /// name) and the text as sent.
    pub fn outgoing(&self, notify: &str, late: bool) -> send::Outgoing {
        let text = if late {
            let at = chrono::DateTime::<chrono::Local>::from(self.at);
            format!(
                "{} (late: happened at {})",
                self.text,
                at.format("%H:%M:%S")
            )
        } else {
            self.text.clone()
        };
        let mut body = match &self.body {
            serde_json::Value::Object(map) => map.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                let mut map = serde_json::Map::new();
                map.insert("event".into(), other.clone());
                map
            }
        };
        body.insert("text".into(), text.clone().into());
        body.insert("late".into(), late.into());
        body.insert("notify".into(), notify.into());
        send::Outgoing {
            title: self.title.clone(),
            text,
            json: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }
}

/// Sends `message` to the endpoint once, as an outbox would, without retrying (`moveday
/// notify-test`): the endpoint's answer, or why it did not take it.
pub async fn send_once(config: &NotifyConfig, message: &Message) -> Result<String, String> {
    let transport = send::Transport::new(config).await;
    transport
        .deliver(&message.outgoing(&config.name, false))
        .await
}

/// The test message of `moveday notify-test NAME`, from `who`.
pub fn test_message(config: &NotifyConfig, who: &str) -> Message {
    let text = format!(
        "moveday notify-test from {who}: if you read this, notifications to {} work",
        config.name
    );
    let at = SystemTime::now();
    Message {
        seq: 0,
        title: "moveday: notify-test".into(),
        body: serde_json::json!({
            "kind": "notify-test",
            "at": crate::timefmt::rfc3339(at),
            "who": who,
            "text": text,
        }),
        text,
        at,
    }
}

/// The dashboard's notifications: journal entries composed into messages and queued to
/// each `[[notify]]` endpoint's outbox; deliveries come back to the loop as
/// `Input::Notify`. Nothing here waits: the loop calls it between frames.
pub struct Notifier {
    composer: compose::Composer,
    outboxes: Vec<Outbox>,
}

impl Notifier {
    /// Starts an outbox per endpoint of `inv`; their news goes to `inputs` (`None` when the
    /// inventory has no `[[notify]]`).
    pub fn start(
        inv: &crate::config::Inventory,
        inputs: tokio::sync::mpsc::Sender<crate::store::Input>,
    ) -> Option<Notifier> {
        if inv.notify.is_empty() {
            return None;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Delivery>(1024);
        tokio::spawn(async move {
            while let Some(delivery) = rx.recv().await {
                if inputs
                    .send(crate::store::Input::Notify(delivery.news()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let wants = inv
            .notify
            .iter()
            .map(|n| compose::Wants {
                on: n.on.iter().map(|o| o.name().to_string()).collect(),
                min_interval: n.min_interval,
            })
            .collect();
        Some(Notifier {
            composer: compose::Composer::new(wants),
            outboxes: inv
                .notify
                .iter()
                .map(|n| Outbox::spawn(n, tx.clone()))
                .collect(),
        })
    }

    /// Queues what `entries` make (the journal's entries as they are recorded).
    pub fn offer(&mut self, entries: &[crate::journal::Entry], now: SystemTime) {
        for (i, message) in self.composer.offer(entries, now) {
            if let Some(outbox) = self.outboxes.get(i) {
                outbox.send(message);
            }
        }
    }

    /// Queues the summaries of windows that have ended (the loop's clock).
    pub fn tick(&mut self, now: SystemTime) {
        for (i, message) in self.composer.due(now) {
            if let Some(outbox) = self.outboxes.get(i) {
                outbox.send(message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_report_becomes_the_models_news() {
        use crate::store::Delivered;
        let news = Delivery::Failed {
            notify: "team".into(),
            seq: 4,
            attempts: 2,
            error: "500 Internal Server Error".into(),
            pending: 3,
            text: "vbox down".into(),
        }
        .news();
        assert_eq!((news.notify.as_str(), news.seq), ("team", 4));
        assert_eq!(
            news.delivered,
            Delivered::Failed {
                attempts: 2,
                error: "500 Internal Server Error".into(),
                pending: 3,
                text: "vbox down".into(),
            }
        );
        let news = Delivery::Sent {
            notify: "team".into(),
            seq: 4,
            late: true,
            attempts: 3,
            answer: "200 OK".into(),
        }
        .news();
        assert_eq!(
            news.delivered,
            Delivered::Sent {
                late: true,
                attempts: 3,
                answer: "200 OK".into()
            }
        );
    }

    #[test]
    fn a_late_message_says_when_it_happened_and_its_body_says_late() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let m = Message {
            seq: 3,
            title: "moveday: vbox up".into(),
            text: "vbox up again after 2h13m, 203.0.113.13".into(),
            body: serde_json::json!({"kind": "host", "host": "vbox"}),
            at,
        };
        let on_time = m.outgoing("team", false);
        assert_eq!(on_time.text, "vbox up again after 2h13m, 203.0.113.13");
        let body: serde_json::Value = serde_json::from_slice(&on_time.json).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"kind": "host", "host": "vbox", "late": false, "notify": "team",
                "text": "vbox up again after 2h13m, 203.0.113.13"})
        );
        let late = m.outgoing("team", true);
        let hms = chrono::DateTime::<chrono::Local>::from(at)
            .format("%H:%M:%S")
            .to_string();
        assert_eq!(
            late.text,
            format!("vbox up again after 2h13m, 203.0.113.13 (late: happened at {hms})")
        );
        let body: serde_json::Value = serde_json::from_slice(&late.json).unwrap();
        assert_eq!(body["late"], true);
        assert_eq!(body["text"], late.text.as_str());
    }
}
