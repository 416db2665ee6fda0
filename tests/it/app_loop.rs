//! The event loop on a `TestBackend`: it draws on input and on change, and not otherwise.
//! (Behaviour, not timing: an idle dashboard must not draw frames nobody asked for.)

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::StreamExt;
use moveday::app::{LoopInputs, LoopStats, run_loop};
use moveday::config::{Inventory, Theme};
use moveday::probe::{Outcome, ProbeError, ProbeReport, SshOutcome};
use moveday::store::{Input, State};
use moveday::ui::UiState;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream_shim::ReceiverStream;

/// A tiny adapter: an mpsc receiver as a `Stream` (avoids a tokio-stream dependency).
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct ReceiverStream<T>(pub tokio::sync::mpsc::UnboundedReceiver<T>);

    impl<T> futures::Stream for ReceiverStream<T> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
}

const INVENTORY: &str = r#"
[[resolver]]
name = "ns"
address = "127.0.0.1:5353"
[[host]]
name = "vbox"
fqdn = "vbox.example.org"
new_ip = "127.0.0.13"
"#;

struct Harness {
    keys: mpsc::UnboundedSender<io::Result<Event>>,
    reports: mpsc::Sender<Input>,
    probe_now: watch::Receiver<u64>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<(LoopStats, String)>,
}

fn start() -> Harness {
    start_with(INVENTORY, None, None)
}

fn start_with(
    inventory: &str,
    bell: Option<Box<dyn FnMut() + Send>>,
    trace: Option<moveday::app::FrameTrace>,
) -> Harness {
    let inv = Arc::new(Inventory::parse(Path::new("t.toml"), inventory).unwrap());
    let (keys, key_rx) = mpsc::unbounded_channel();
    let (reports, report_rx) = mpsc::channel(16);
    let (probe_now_tx, probe_now) = watch::channel(0);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut state = State::new(inv);
        let mut ui = UiState::new(chrono::FixedOffset::east_opt(0).unwrap());
        let stats = run_loop(
            &mut terminal,
            &mut state,
            &mut ui,
            &Theme::monochrome(),
            LoopInputs {
                events: ReceiverStream(key_rx).boxed(),
                reports: report_rx,
                probe_now: probe_now_tx,
                shutdown: async {
                    let _ = stop_rx.await;
                },
                // No clock ticks during the test: every frame is caused by input or change.
                tick: Duration::from_secs(3600),
                checklist: None,
                journal: None,
                timeline: None,
                bell,
                trace,
                canary: None,
                notify: None,
            },
        )
        .await
        .unwrap();
        let screen = format!("{:?}", terminal.backend().buffer());
        (stats, screen)
    });
    Harness {
        keys,
        reports,
        probe_now,
        stop: Some(stop),
        done,
    }
}

fn key(c: char) -> io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

fn ssh_report(port: u16) -> ProbeReport {
    ProbeReport::Probe {
        host: 0,
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        outcome: Outcome::Ssh(SshOutcome {
            ip: "127.0.0.13".parse().unwrap(),
            port,
            result: Err(ProbeError::Refused),
        }),
    }
}

#[tokio::test(start_paused = true)]
async fn idle_loop_draws_nothing_and_quit_key_ends_it() {
    let h = start();
    // An hour of (paused, auto-advancing) time with no input and no reports.
    tokio::time::sleep(Duration::from_secs(3000)).await;
    h.keys.send(key('q')).unwrap();
    let (stats, _) = h.done.await.unwrap();
    assert_eq!(
        stats,
        LoopStats {
            frames: 1,
            reports: 0,
            bells: 0,
        },
        "only the first frame"
    );
}

#[tokio::test(start_paused = true)]
async fn reports_and_keys_draw_and_identical_reports_do_not() {
    let mut h = start();
    let settle = Duration::from_millis(500);
    h.reports.send(ssh_report(22).into()).await.unwrap();
    tokio::time::sleep(settle).await;
    // The same failure again: flap damping turns the check from amber to red, a change.
    h.reports.send(ssh_report(22).into()).await.unwrap();
    tokio::time::sleep(settle).await;
    h.reports.send(ssh_report(22).into()).await.unwrap(); // and again: nothing changes
    tokio::time::sleep(settle).await;
    h.keys.send(key('r')).unwrap(); // probe now: the probes are told, the status bar says so
    tokio::time::sleep(settle).await;
    assert!(h.probe_now.has_changed().unwrap(), "r reached the probes");
    assert_eq!(*h.probe_now.borrow_and_update(), 1);
    h.keys.send(key('x')).unwrap(); // unbound: no frame
    tokio::time::sleep(settle).await;
    h.stop.take().unwrap().send(()).unwrap(); // SIGTERM and friends
    let (stats, screen) = h.done.await.unwrap();
    assert_eq!(stats.reports, 3);
    assert_eq!(
        stats.frames, 4,
        "first frame, two changed reports (amber, red), one key"
    );
    assert!(screen.contains("refused"), "{screen}");
}

/// Reports that change what matters (a check turning amber and green again: the journal
/// records each) are drawn at most every `REPORT_FRAME_GAP`; reports that only move
/// numbers (here the port of an unchanged failure) at most every `COSMETIC_FRAME_GAP`.
#[tokio::test(start_paused = true)]
async fn reports_trickling_in_are_drawn_at_a_bounded_rate() {
    use moveday::app::{COSMETIC_FRAME_GAP, REPORT_FRAME_GAP};
    // 200 reports that matter, one every 5 ms for a second, as a big round arrives.
    let h = start();
    for i in 1..=200 {
        let report = if i % 2 == 0 { ssh_ok() } else { ssh_report(22) };
        h.reports.send(report.into()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.keys.send(key('q')).unwrap();
    let (stats, _) = h.done.await.unwrap();
    assert_eq!(stats.reports, 200);
    let bound = 1 + 1_500 / REPORT_FRAME_GAP.as_millis() as u64;
    assert!(stats.frames <= bound, "{stats:?}: at most {bound} frames");
    assert!(
        stats.frames >= 5,
        "{stats:?}: the screen still follows the reports"
    );

    // 200 reports that only change a number.
    let h = start();
    for port in 1..=200 {
        h.reports.send(ssh_report(port).into()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.keys.send(key('q')).unwrap();
    let (stats, screen) = h.done.await.unwrap();
    assert_eq!(stats.reports, 200);
    let bound = 2 + 2_500 / COSMETIC_FRAME_GAP.as_millis() as u64;
    assert!(stats.frames <= bound, "{stats:?}: at most {bound} frames");
    assert!(
        screen.contains("port 200 "),
        "the last report is on screen: {screen}"
    );
}

/// How this machine sends pings is news once, at start: drawn within `REPORT_FRAME_GAP`,
/// not held back a second like a number that moved.
#[tokio::test(start_paused = true)]
async fn the_ping_mode_is_drawn_as_news() {
    use moveday::app::REPORT_FRAME_GAP;
    use moveday::probe::PingMode;
    let h = start();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mode = ProbeReport::PingMode {
        mode: PingMode::Tcp,
        hint: None,
    };
    h.reports.send(mode.into()).await.unwrap();
    tokio::time::sleep(REPORT_FRAME_GAP + Duration::from_millis(20)).await;
    h.keys.send(key('q')).unwrap();
    let (stats, screen) = h.done.await.unwrap();
    assert_eq!(
        stats.frames, 2,
        "{stats:?}: the first frame and the ping mode's"
    );
    assert!(screen.contains("TCP"), "{screen}");
}

/// A zone's task saying, every round, that a server's answers still hold (its serial has
/// not moved) changes only the cells' time: drawn at the cosmetic pace, not as news.
#[tokio::test]
async fn answers_that_still_hold_are_not_news() {
    use moveday::app::COSMETIC_FRAME_GAP;
    use moveday::probe::{DnsAnswer, DnsOutcome};
    let inventory = r#"
[[resolver]]
name = "ns"
address = "127.0.0.1:5353"
[[zone]]
name = "example.org"
primary = "127.0.0.1:5353"
[[host]]
name = "vbox"
fqdn = "vbox.example.org"
new_ip = "127.0.0.13"
"#;
    let h = start_with(inventory, None, None);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let answer = ProbeReport::Probe {
        host: 0,
        at: t0,
        outcome: Outcome::Dns(DnsOutcome {
            resolver: 0,
            result: Ok(DnsAnswer {
                more: 0,
                addresses: vec!["127.0.0.13".parse().unwrap()],
                ttl: 60,
                latency: Duration::from_millis(1),
                authoritative: Some(true),
            }),
        }),
    };
    h.reports.send(answer.into()).await.unwrap();
    // Two seconds of "still current", every 10 ms (a hundred zones' worth).
    for i in 1..=200 {
        let current = ProbeReport::NamesCurrent {
            zone: 0,
            resolver: 0,
            primary: true,
            at: t0 + Duration::from_millis(10 * i),
        };
        h.reports.send(current.into()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.keys.send(key('q')).unwrap();
    let (stats, _) = h.done.await.unwrap();
    assert_eq!(stats.reports, 201);
    // The first frame, the answer, and at most one frame per cosmetic gap.
    let bound = 3 + 2_500 / COSMETIC_FRAME_GAP.as_millis() as u64;
    assert!(stats.frames <= bound, "{stats:?}: at most {bound} frames");
}

fn ssh_ok() -> ProbeReport {
    ProbeReport::Probe {
        host: 0,
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        outcome: Outcome::Ssh(SshOutcome {
            ip: "127.0.0.13".parse().unwrap(),
            port: 22,
            result: Ok(moveday::probe::SshBanner {
                banner: "SSH-2.0-OpenSSH_9.2".into(),
                latency: Duration::from_millis(1),
            }),
        }),
    }
}

/// `--bell`: one bell when the host turns red, one when it is green again; none for its
/// first verdict, none for amber, and none for reports that change nothing.
#[tokio::test(start_paused = true)]
async fn bell_rings_when_a_host_turns_red_and_green_again() {
    let rung = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = rung.clone();
    let inventory = r#"
[probe]
fail_after = 2
[[host]]
name = "vbox"
fqdn = "vbox.example.org"
new_ip = "127.0.0.13"
ping = false
"#;
    let mut h = start_with(
        inventory,
        Some(Box::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })),
        None,
    );
    let rings = || rung.load(std::sync::atomic::Ordering::SeqCst);
    let settle = Duration::from_millis(500);
    let send = async |r: ProbeReport| {
        h.reports.send(r.into()).await.unwrap();
        tokio::time::sleep(settle).await;
    };
    send(ssh_ok()).await; // unknown -> up: the first verdict, quiet
    send(ssh_ok()).await; // no change
    assert_eq!(rings(), 0);
    send(ssh_report(22)).await; // 1 of 2 failed: amber, quiet
    assert_eq!(rings(), 0);
    send(ssh_report(22)).await; // down: red
    assert_eq!(rings(), 1);
    send(ssh_report(22)).await; // still down
    assert_eq!(rings(), 1);
    send(ssh_ok()).await; // recovering (amber)
    send(ssh_ok()).await; // up: green
    assert_eq!(rings(), 2);
    h.stop.take().unwrap().send(()).unwrap();
    let (stats, _) = h.done.await.unwrap();
    assert_eq!(stats.bells, 2);
}

/// `--trace-frames`: every key read and every frame drawn, with the wall clock, the
/// frame's cause and the reports applied since the frame before.
#[tokio::test(start_paused = true)]
async fn the_frame_trace_has_each_key_and_the_frame_that_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.trace");
    let trace = moveday::app::FrameTrace::create(&path).unwrap();
    let mut h = start_with(INVENTORY, None, Some(trace));
    let settle = Duration::from_millis(500);
    h.reports.send(ssh_report(22).into()).await.unwrap();
    tokio::time::sleep(settle).await;
    h.keys.send(key('j')).unwrap();
    tokio::time::sleep(settle).await;
    // A key that means nothing is traced, and draws nothing.
    h.keys.send(key('x')).unwrap();
    tokio::time::sleep(settle).await;
    h.stop.take().unwrap().send(()).unwrap();
    let (stats, _) = h.done.await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let kinds: Vec<String> = lines.iter().map(|l| l[1..3].join(" ")).collect();
    assert_eq!(
        kinds,
        ["frame 1", "frame 2", "key j", "frame 3", "key x"],
        "{text}"
    );
    assert_eq!(lines[0][3], "first");
    assert_eq!(lines[1][3], "reports");
    assert_eq!(lines[1][5], "reports=1");
    assert_eq!(
        lines[1][6..],
        [
            "up=0",
            "degraded=0",
            "down=0",
            // Its ping has not reported yet.
            "unknown=1",
            "done=0",
            "min_rounds=0"
        ],
        "{text}"
    );
    assert_eq!(lines[3][3], "key");
    assert!(lines[3][4].starts_with("draw_us="), "{text}");
    let ns = |l: &Vec<&str>| l[0].parse::<u128>().unwrap();
    assert!(ns(&lines[2]) <= ns(&lines[3]), "{text}");
    assert_eq!(stats.frames, 3);
}

/// A host turning red reaches the team while the loop goes on: the journal's entry is
/// composed into a message and written by a `kind = "command"` endpoint (`tee -a FILE`,
/// argv only), and its delivery comes back to the loop.
#[tokio::test]
async fn a_host_going_down_is_told_to_the_team_without_the_loop_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("notifications.jsonl");
    let inventory = format!(
        "{INVENTORY}ping = false\nfail_after = 1\n\n[[notify]]\nname = \"log\"\nkind = \"command\"\n\
         argv = [\"tee\", \"-a\", \"{}\"]\n",
        sink.display()
    );
    let inv = Arc::new(Inventory::parse(Path::new("t.toml"), &inventory).unwrap());
    let (keys, key_rx) = mpsc::unbounded_channel::<io::Result<Event>>();
    let (reports, report_rx) = mpsc::channel(16);
    let (probe_now_tx, _probe_now) = watch::channel(0);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let notify = moveday::notify::Notifier::start(&inv, reports.clone());
    assert!(notify.is_some());
    let done = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut state = State::new(inv);
        let mut ui = UiState::new(chrono::FixedOffset::east_opt(0).unwrap());
        run_loop(
            &mut terminal,
            &mut state,
            &mut ui,
            &Theme::monochrome(),
            LoopInputs {
                events: ReceiverStream(key_rx).boxed(),
                reports: report_rx,
                probe_now: probe_now_tx,
                shutdown: async {
                    let _ = stop_rx.await;
                },
                tick: Duration::from_millis(200),
                checklist: None,
                journal: None,
                timeline: None,
                bell: None,
                trace: None,
                canary: None,
                notify,
            },
        )
        .await
        .unwrap();
        state
    });
    let sent = std::time::Instant::now();
    reports.send(ssh_report(22).into()).await.unwrap();
    assert!(sent.elapsed() < Duration::from_millis(100));
    let mut line = String::new();
    for _ in 0..100 {
        line = std::fs::read_to_string(&sink).unwrap_or_default();
        if !line.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let json: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(json["kind"], "health", "{json}");
    assert_eq!(json["host"], "vbox");
    assert_eq!(json["notify"], "log");
    assert_eq!(json["late"], false);
    assert!(
        json["text"]
            .as_str()
            .unwrap()
            .starts_with("vbox down: ssh refused (since "),
        "{json}"
    );
    // The delivery came back to the loop: nothing is waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(());
    drop(keys);
    let state = done.await.unwrap();
    assert_eq!(state.notify.len(), 1, "{:?}", state.notify);
    assert_eq!((state.notify[0].sent, state.notify[0].pending), (1, 0));
}
