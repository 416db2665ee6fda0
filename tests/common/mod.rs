//! Helpers shared by the integration tests' modules (`crate::common` in `tests/it/`).
// Each test module uses some of the helpers, never all of them.
#![allow(dead_code)]

pub mod golden;
pub mod http_sink;
pub mod netns;
pub mod scripted_dns;
pub mod tmux;

use std::time::Duration;

/// The wall-clock margin a test gives the machine beyond what the code promises.
///
/// The tests share two cores with each other (one test binary runs them in parallel,
/// each with its own servers) and, in CI, with whatever else the machine does: a thread can
/// wait a second or more for a core. So a wall-clock bound here only catches a hang, or a
/// wait for the wrong thing: every hostile peer in the tests stalls for longer than the
/// promise plus this margin (a tarpit sleeps 5 s or more). What a test states tightly
/// (the error says `timeout`, after at least the timeout) it asserts on what the code
/// reports, not on the wall clock. tokio's paused clock is no cure here: with real sockets
/// it jumps to the next timer whenever a loopback peer has not been scheduled yet, which
/// is the same flake from the other side.
pub const LOADED_MACHINE: Duration = Duration::from_secs(3);

/// `promised`, plus the margin for a loaded machine: the bound of a wall-clock assertion.
pub fn in_time(promised: Duration) -> Duration {
    promised + LOADED_MACHINE
}

/// Applies probe reports to `state` until `done(state)` holds; returns how long that took.
/// Fails the test after `limit`, with what `what` says of the state then.
pub async fn reduce_until(
    state: &mut moveday::store::State,
    rx: &mut tokio::sync::mpsc::Receiver<moveday::probe::ProbeReport>,
    limit: Duration,
    done: impl Fn(&moveday::store::State) -> bool,
    what: impl Fn(&moveday::store::State) -> String,
) -> Duration {
    let started = std::time::Instant::now();
    while !done(state) {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(report)) => {
                moveday::store::reduce(state, report);
            }
            _ => panic!("not within {limit:?}: {}", what(state)),
        }
    }
    started.elapsed()
}

/// Makes a FIFO at `path` (`mkfifo`): a state file or journal that would block a reader.
pub fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}
