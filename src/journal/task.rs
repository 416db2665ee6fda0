//! The journal writer task: the dashboard hands it entries and never waits on the disk.
//!
//! Entries go over an unbounded channel to a task that appends them (on the blocking
//! pool). A failure (the disk is full, the directory vanished) is reported once as a
//! [`Input::Warning`] naming the file; the entries are kept and retried every
//! [`RETRY`] and with the next batch, and a success after a failure says so. When every
//! [`Journal`] handle is dropped the task writes what is left, `fdatasync`s, and ends.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Entry, JournalWriter};
use crate::store::Input;

/// How often unwritten entries are retried.
pub const RETRY: Duration = Duration::from_secs(2);
/// Most entries kept while the journal cannot be written; older ones are dropped (and
/// counted in a warning).
pub const MAX_PENDING: usize = 100_000;
/// Retries once the handles are gone, before giving up.
const FINAL_ATTEMPTS: u32 = 3;

/// Where the dashboard sends journal entries. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<Vec<Entry>>,
}

impl Journal {
    /// Queues `entries` for writing (nothing happens for none). Returns `false` when the
    /// writer task has ended (it then reported why).
    pub fn record(&self, entries: Vec<Entry>) -> bool {
        entries.is_empty() || self.tx.send(entries).is_ok()
    }
}

/// Starts the writer task for the journal at `path`. Warnings go to `reports` (the
/// dashboard's report channel, shown in the status bar). Await the handle after dropping
/// every [`Journal`] to be sure the last entries are written: it yields how many entries
/// were never written (0 when the file has them all).
pub fn spawn_writer(path: PathBuf, reports: mpsc::Sender<Input>) -> (Journal, JoinHandle<usize>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = tokio::spawn(async move {
        let mut task = WriterTask {
            path,
            reports,
            writer: None,
            pending: VecDeque::new(),
            dropped: 0,
            failing: None,
        };
        task.run(rx).await
    });
    (Journal { tx }, handle)
}

struct WriterTask {
    path: PathBuf,
    reports: mpsc::Sender<Input>,
    writer: Option<JournalWriter>,
    pending: VecDeque<Entry>,
    /// Entries dropped because too many were pending.
    dropped: usize,
    /// The error of the last failed attempt.
    failing: Option<String>,
}

impl WriterTask {
    /// Returns how many entries were lost (never written).
    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Vec<Entry>>) -> usize {
        let mut retry = tokio::time::interval(RETRY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        retry.tick().await;
        loop {
            tokio::select! {
                batch = rx.recv() => match batch {
                    Some(batch) => {
                        self.queue(batch);
                        while let Ok(batch) = rx.try_recv() {
                            self.queue(batch);
                        }
                    }
                    None => break,
                },
                _ = retry.tick(), if !self.pending.is_empty() => {}
            }
            self.flush().await;
        }
        for _ in 0..FINAL_ATTEMPTS {
            if self.pending.is_empty() {
                break;
            }
            retry.tick().await;
            self.flush().await;
        }
        if let Some(writer) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || writer.sync()).await;
        }
        if !self.pending.is_empty() {
            let n = self.pending.len();
            self.warn(format!(
                "{n} journal event(s) could not be written to {} and are lost",
                self.path.display()
            ))
            .await;
        }
        self.pending.len() + self.dropped
    }

    fn queue(&mut self, batch: Vec<Entry>) {
        self.pending.extend(batch);
        while self.pending.len() > MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
        }
    }

    async fn warn(&self, text: String) {
        // The dashboard may be gone; the file is what matters then.
        let _ = self.reports.send(Input::Warning(text)).await;
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let path = self.path.clone();
        let writer = self.writer.take();
        let batch: Vec<Entry> = self.pending.iter().cloned().collect();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut writer = match writer {
                Some(w) => w,
                None => match JournalWriter::open(&path) {
                    Ok(w) => w,
                    Err(e) => return (None, 0, Some(e.to_string())),
                },
            };
            match writer.append_counted(&batch) {
                Ok(()) => (Some(writer), batch.len(), None),
                // Opened again next time: the file may have been replaced or its
                // directory restored.
                Err((written, e)) => (None, written, Some(e.to_string())),
            }
        })
        .await;
        let (writer, written, error) = match outcome {
            Ok(o) => o,
            Err(e) => (None, 0, Some(format!("the journal writer failed: {e}"))),
        };
        self.writer = writer;
        self.pending.drain(..written.min(self.pending.len()));
        match error {
            Some(e) => {
                if self.failing.as_ref() != Some(&e) {
                    self.warn(format!(
                        "journal: {e} ({} event(s) kept, retrying)",
                        self.pending.len()
                    ))
                    .await;
                }
                self.failing = Some(e);
            }
            None => {
                if self.failing.take().is_some() {
                    let lost = match self.dropped {
                        0 => String::new(),
                        n => format!("; {n} older event(s) were dropped"),
                    };
                    self.warn(format!(
                        "journal: writing to {} again{lost}",
                        self.path.display()
                    ))
                    .await;
                    self.dropped = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Event, read};

    fn text(t: &str) -> Entry {
        Entry {
            at: chrono::DateTime::parse_from_rfc3339("2009-12-05T09:00:00Z")
                .unwrap()
                .to_utc(),
            event: Event::Text {
                text: t.into(),
                who: "ann".into(),
                host: None,
            },
        }
    }

    #[tokio::test]
    async fn entries_are_written_and_the_task_ends_when_the_handles_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/j.jsonl");
        let (reports, mut rx) = mpsc::channel(16);
        let (journal, handle) = spawn_writer(path.clone(), reports);
        assert!(journal.record(vec![text("one")]));
        assert!(journal.record(vec![]));
        let second = journal.clone();
        second.record(vec![text("two"), text("three")]);
        drop(journal);
        drop(second);
        handle.await.unwrap();
        let (entries, warnings) = read(&path).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(entries, [text("one"), text("two"), text("three")]);
        assert!(rx.try_recv().is_err(), "no warning");
    }

    #[tokio::test]
    async fn a_failure_is_a_warning_and_the_entries_are_retried() {
        let dir = tempfile::tempdir().unwrap();
        // The journal's directory is a file: nothing can be created (even as root).
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("j.jsonl");
        let (reports, mut rx) = mpsc::channel(16);
        let (journal, handle) = spawn_writer(path.clone(), reports);
        journal.record(vec![text("one")]);
        let Some(Input::Warning(w)) = rx.recv().await else {
            panic!("no warning")
        };
        assert!(
            w.starts_with("journal: cannot create the journal's directory"),
            "{w}"
        );
        assert!(w.contains("1 event(s) kept, retrying"), "{w}");
        std::fs::remove_file(&blocker).unwrap();
        journal.record(vec![text("two")]);
        let Some(Input::Warning(w)) = rx.recv().await else {
            panic!("no recovery notice")
        };
        assert!(w.starts_with("journal: writing to"), "{w}");
        drop(journal);
        handle.await.unwrap();
        assert_eq!(read(&path).unwrap().0, [text("one"), text("two")]);
    }
}
