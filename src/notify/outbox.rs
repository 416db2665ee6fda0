//! One endpoint's outbox: a task that delivers its messages one at a time, in the order
//! they were queued, retrying the one at the head with exponential backoff until the
//! endpoint takes it (never dropping it), so nothing is sent before what was queued
//! earlier. [`Outbox::send`] never waits: the UI loop calls it. A slow or dead endpoint
//! holds up only its own task.
//!
//! Memory is bounded: at most [`MAX_QUEUED`] messages wait per endpoint; past that the
//! oldest waiting ones are summed up into one "N older notifications were dropped"
//! message, sent in their place.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::send::Transport;
use super::{Delivery, Message};
use crate::config::NotifyConfig;

/// Messages that may wait for one endpoint.
pub const MAX_QUEUED: usize = 10_000;

/// How an outbox retries, and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The wait after the first failed attempt; doubled after each further one.
    pub first: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
    /// Messages that may wait ([`MAX_QUEUED`]).
    pub max_queued: usize,
}

impl Default for Retry {
    /// 1 s, doubling to at most 60 s; [`MAX_QUEUED`] waiting.
    fn default() -> Self {
        Retry {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_queued: MAX_QUEUED,
        }
    }
}

/// A handle on one endpoint's delivery task.
#[derive(Debug)]
pub struct Outbox {
    name: String,
    tx: mpsc::UnboundedSender<Message>,
}

impl Outbox {
    /// Starts the endpoint's task (on the current tokio runtime); `reports` gets a
    /// [`Delivery`] for every attempt's outcome.
    pub fn spawn(config: &NotifyConfig, reports: mpsc::Sender<Delivery>) -> Outbox {
        Outbox::spawn_with(config, reports, Retry::default())
    }

    /// As [`Outbox::spawn`], retrying as `retry` says.
    pub fn spawn_with(
        config: &NotifyConfig,
        reports: mpsc::Sender<Delivery>,
        retry: Retry,
    ) -> Outbox {
        let (tx, rx) = mpsc::unbounded_channel();
        let name = config.name.clone();
        let config = config.clone();
        tokio::spawn(async move {
            let transport = Transport::new(&config).await;
            deliver_all(&config.name, &transport, rx, &reports, retry).await;
        });
        Outbox { name, tx }
    }

    /// Queues `message` without waiting. After the task has ended (the runtime is going
    /// down) it is dropped.
    pub fn send(&self, message: Message) {
        let _ = self.tx.send(message);
    }

    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A message waiting, and whether it is late already (queued while the endpoint was
/// failing, or behind an attempt that failed).
#[derive(Debug, Clone)]
struct Queued {
    message: Message,
    late: bool,
}

/// The messages waiting behind the one being delivered, at most `cap` of them (a summary
/// of dropped ones counting as one).
struct Queue {
    waiting: VecDeque<Queued>,
    dropped: Option<Dropped>,
    cap: usize,
}

/// The oldest waiting messages, dropped to keep the queue within its cap.
struct Dropped {
    count: u64,
    first_at: SystemTime,
    last_at: SystemTime,
    last_seq: u64,
}

impl Queue {
    fn new(cap: usize) -> Queue {
        Queue {
            waiting: VecDeque::new(),
            dropped: None,
            cap: cap.max(2),
        }
    }

    fn len(&self) -> usize {
        self.waiting.len() + usize::from(self.dropped.is_some())
    }

    fn push(&mut self, queued: Queued) {
        self.waiting.push_back(queued);
        while self.len() > self.cap {
            let Some(old) = self.waiting.pop_front() else {
                break;
            };
            let at = old.message.at;
            let d = self.dropped.get_or_insert(Dropped {
                count: 0,
                first_at: at,
                last_at: at,
                last_seq: old.message.seq,
            });
            d.count += 1;
            d.first_at = d.first_at.min(at);
            d.last_at = d.last_at.max(at);
            d.last_seq = old.message.seq;
        }
    }

    /// The next message to deliver: the summary of dropped ones first (they were the
    /// oldest), then the oldest waiting.
    fn pop(&mut self, notify: &str) -> Option<Queued> {
        if let Some(d) = self.dropped.take() {
            return Some(Queued {
                message: dropped_message(notify, &d, self.cap),
                late: true,
            });
        }
        self.waiting.pop_front()
    }

    fn mark_late(&mut self) {
        for q in &mut self.waiting {
            q.late = true;
        }
    }
}

/// "N older notifications were dropped", standing for the dropped messages.
fn dropped_message(notify: &str, d: &Dropped, cap: usize) -> Message {
    let local = |t: SystemTime| {
        chrono::DateTime::<chrono::Local>::from(t)
            .format("%H:%M:%S")
            .to_string()
    };
    let text = format!(
        "{} older notifications were dropped (from {} to {}): at most {cap} wait for {notify}",
        d.count,
        local(d.first_at),
        local(d.last_at)
    );
    Message {
        seq: d.last_seq,
        title: "moveday: notifications dropped".into(),
        body: serde_json::json!({
            "kind": "notify",
            "dropped": d.count,
            "first_at": crate::timefmt::rfc3339(d.first_at),
            "last_at": crate::timefmt::rfc3339(d.last_at),
            "text": text,
        }),
        text,
        at: d.last_at,
    }
}

/// The task: until the channel closes and everything queued is delivered.
async fn deliver_all(
    notify: &str,
    transport: &Transport,
    mut rx: mpsc::UnboundedReceiver<Message>,
    reports: &mpsc::Sender<Delivery>,
    retry: Retry,
) {
    let mut queue = Queue::new(retry.max_queued);
    // Whether the last attempt failed: what is queued meanwhile is late.
    let mut failing = false;
    let mut open = true;
    loop {
        let mut current = match queue.pop(notify) {
            Some(q) => q,
            None if open => match rx.recv().await {
                Some(message) => Queued {
                    message,
                    late: failing,
                },
                None => return,
            },
            None => return,
        };
        let mut wait = retry.first;
        for attempts in 1u32.. {
            let out = current.message.outgoing(notify, current.late);
            let result = receiving(
                &mut rx,
                &mut open,
                &mut queue,
                failing,
                transport.deliver(&out),
            )
            .await;
            let seq = current.message.seq;
            match result {
                Ok(answer) => {
                    failing = false;
                    report(
                        reports,
                        Delivery::Sent {
                            notify: notify.to_string(),
                            seq,
                            late: current.late,
                            attempts,
                            answer,
                        },
                    )
                    .await;
                    break;
                }
                Err(error) => {
                    failing = true;
                    current.late = true;
                    queue.mark_late();
                    report(
                        reports,
                        Delivery::Failed {
                            notify: notify.to_string(),
                            seq,
                            attempts,
                            error,
                            pending: queue.len() + 1,
                            text: current.message.text.clone(),
                        },
                    )
                    .await;
                    receiving(
                        &mut rx,
                        &mut open,
                        &mut queue,
                        true,
                        tokio::time::sleep(wait),
                    )
                    .await;
                    wait = (wait * 2).min(retry.max);
                }
            }
        }
    }
}

/// Runs `work` to its end while queuing what arrives meanwhile (`late` as given).
async fn receiving<T>(
    rx: &mut mpsc::UnboundedReceiver<Message>,
    open: &mut bool,
    queue: &mut Queue,
    late: bool,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            message = rx.recv(), if *open => match message {
                Some(message) => queue.push(Queued { message, late }),
                None => *open = false,
            },
        }
    }
}

/// Hands `delivery` to the loop; a loop that is gone (shutting down) is no reason to
/// stop delivering.
async fn report(reports: &mpsc::Sender<Delivery>, delivery: Delivery) {
    let _ = reports.send(delivery).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64) -> Queued {
        Queued {
            message: Message {
                seq,
                title: format!("t{seq}"),
                text: format!("m{seq}"),
                body: serde_json::json!({}),
                at: SystemTime::UNIX_EPOCH + Duration::from_secs(seq),
            },
            late: false,
        }
    }

    #[test]
    fn past_the_cap_the_oldest_are_summed_up_in_their_place() {
        let mut q = Queue::new(5);
        for seq in 1..=12 {
            q.push(message(seq));
            assert!(q.len() <= 5);
        }
        // 1..=8 dropped (8 of them), 9..=12 wait behind the summary.
        let first = q.pop("team").unwrap();
        assert!(
            first
                .message
                .text
                .starts_with("8 older notifications were dropped")
        );
        assert!(first.message.text.ends_with("at most 5 wait for team"));
        assert_eq!(first.message.seq, 8);
        assert_eq!(first.message.body["dropped"], 8);
        assert!(first.late);
        let rest: Vec<u64> = std::iter::from_fn(|| q.pop("team"))
            .map(|q| q.message.seq)
            .collect();
        assert_eq!(rest, [9, 10, 11, 12]);
    }

    #[test]
    fn marking_late_marks_everything_waiting() {
        let mut q = Queue::new(MAX_QUEUED);
        q.push(message(1));
        q.mark_late();
        q.push(message(2));
        assert!(q.pop("x").unwrap().late);
        assert!(!q.pop("x").unwrap().late);
        assert!(q.pop("x").is_none());
    }
}
