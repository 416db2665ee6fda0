//! The event loop: keyboard, probe reports, a 1 Hz clock and shutdown signals in, frames out.
//!
//! One task owns the [`State`]; probe tasks only send [`ProbeReport`](crate::probe::ProbeReport)s. After every wake-up the loop
//! drains whatever else is pending, then draws once, and only if something visible changed.
//! The loop is generic over the ratatui backend so tests drive it on a `TestBackend`.

use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use crossterm::cursor::Show;
use crossterm::event::{Event, EventStream, KeyEventKind};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::backend::CrosstermBackend;
use ratatui::{DefaultTerminal, Terminal};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::checklist::{ChecklistEvent, persist};
use crate::config::{Inventory, Theme};
use crate::probe::ProbeReport;
use crate::probe::canary::CanaryPlan;
use crate::probe::scheduler::{self, ProbeEnv};
use crate::store::{self, Input, State};
use crate::ui::{self, Effect, UiState};

/// The shortest time between two frames caused by probe reports that changed something
/// that matters: a check, a host's health, a DNS verdict (anything the journal records).
pub const REPORT_FRAME_GAP: Duration = Duration::from_millis(250);

/// The shortest time between two frames caused only by numbers moving: a round-trip time,
/// a latency, an age. At one second, a dashboard probing every second draws about once a
/// second (the clock's frame), not four times.
pub const COSMETIC_FRAME_GAP: Duration = Duration::from_secs(1);

/// Sleeps until `owed`, or forever when no frame is owed.
async fn sleep_until_owed(owed: Option<Instant>) {
    match owed {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the loop did, for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoopStats {
    /// Frames drawn.
    pub frames: u64,
    /// Reports applied.
    pub reports: u64,
    /// Terminal bells rung (`--bell`): hosts that turned red or green.
    pub bells: u64,
}

/// Whether these journal entries deserve the terminal bell: a host turned red (down) or
/// green (up again after being down or degraded). The first verdict after start is not
/// news to someone who just started the dashboard, so transitions from `unknown` are quiet.
pub fn bell_worthy(entries: &[crate::journal::Entry]) -> bool {
    use crate::journal::{Event, HostHealth};
    entries.iter().any(|e| match &e.event {
        Event::Health { from, to, .. } => {
            *from != HostHealth::Unknown
                && from != to
                && matches!(to, HostHealth::Down | HostHealth::Up)
        }
        _ => false,
    })
}

/// Everything the loop reads from outside.
pub struct LoopInputs<E, S> {
    /// Terminal events (keys, resizes).
    pub events: E,
    /// Probe reports.
    pub reports: mpsc::Receiver<Input>,
    /// Bumped to make every host probe now.
    pub probe_now: watch::Sender<u64>,
    /// Resolves when the process is asked to stop (SIGTERM, SIGHUP, SIGINT).
    pub shutdown: S,
    /// Period of the clock that keeps the status bar's time and the ages current.
    pub tick: Duration,
    /// Where checklist events go to be saved (none: they live in memory only).
    pub checklist: Option<mpsc::Sender<ChecklistEvent>>,
    /// The move's journal: every transition the reducer sees is recorded (none: no
    /// journal, as in the loop's tests).
    pub journal: Option<crate::journal::Journal>,
    /// What the timeline screen shows: this process's entries at once, other processes'
    /// (and earlier runs') as the clock polls the journal file.
    pub timeline: Option<crate::journal::Timeline>,
    /// Rings the terminal bell (`--bell`), at most once per frame, after the frame is drawn.
    pub bell: Option<Box<dyn FnMut() + Send>>,
    /// Where every key and frame is timestamped (`--trace-frames`), for measuring the
    /// keystroke-to-frame latency.
    pub trace: Option<FrameTrace>,
    /// Starts the canary runs `C` asks for (none: `C` only says it cannot).
    pub canary: Option<CanaryStarter>,
    /// Tells the team (`[[notify]]`; none: nobody is told).
    pub notify: Option<crate::notify::Notifier>,
}

/// Starts the dashboard's canary runs (`C`): the zone's key file is read then (so a fixed
/// file is read again), and the run's steps go to the store like any probe's report.
pub struct CanaryStarter {
    env: Arc<ProbeEnv>,
    reports: mpsc::Sender<Input>,
    /// The run of each zone, while it goes: one at a time per zone.
    runs: std::collections::HashMap<usize, tokio::task::JoinHandle<()>>,
}

impl Drop for CanaryStarter {
    fn drop(&mut self) {
        for run in self.runs.values() {
            run.abort();
        }
    }
}

impl CanaryStarter {
    pub fn new(env: Arc<ProbeEnv>, reports: mpsc::Sender<Input>) -> CanaryStarter {
        CanaryStarter {
            env,
            reports,
            runs: std::collections::HashMap::new(),
        }
    }

    /// Starts a run of zone `zone`, written by `who`, with the inventory's deadline;
    /// returns false when a run of that zone is still going (from its `C` until its end,
    /// the key's reading included).
    fn start(&mut self, inv: &Arc<Inventory>, zone: usize, who: &str) -> bool {
        self.runs.retain(|_, run| !run.is_finished());
        if self.runs.contains_key(&zone) {
            return false;
        }
        let (env, reports, inv, who) = (
            self.env.clone(),
            self.reports.clone(),
            inv.clone(),
            who.to_string(),
        );
        let run = tokio::spawn(async move {
            let warn = |text: String| {
                let reports = reports.clone();
                async move { reports.send(Input::Warning(text)).await }
            };
            let Some(zone_config) = inv.zones.get(zone) else {
                return;
            };
            let Some(path) = zone_config.canary_key.clone() else {
                let _ = warn(format!(
                    "zone {} has no canary_key: nothing written",
                    zone_config.name
                ))
                .await;
                return;
            };
            let loaded =
                tokio::task::spawn_blocking(move || crate::config::load_tsig_key(&path)).await;
            let key = match loaded {
                Ok(Ok(key)) => key,
                Ok(Err(e)) => {
                    let _ = warn(format!("canary for {} not written: {e}", zone_config.name)).await;
                    return;
                }
                Err(e) => {
                    let _ = warn(format!("canary for {} not written: {e}", zone_config.name)).await;
                    return;
                }
            };
            if let Some(w) = key.warning {
                let _ = warn(w).await;
            }
            match CanaryPlan::for_zone(&inv, zone, key.key, &who, inv.canary_deadline) {
                Ok(plan) => crate::probe::canary::run(&env, plan, reports).await,
                Err(e) => {
                    let _ = warn(e).await;
                }
            }
        });
        self.runs.insert(zone, run);
        true
    }
}

/// `--trace-frames FILE`: one line per key read and per frame drawn, with the wall clock
/// in nanoseconds since the Unix epoch (so another process, say a benchmark typing keys
/// into tmux, can line its own timestamps up with them):
///
/// ```text
/// 1764121234123456789 key j
/// 1764121234124012345 frame 42 key draw_us=310 reports=0 up=8 degraded=0 down=0 unknown=0 done=8 min_rounds=12
/// ```
///
/// A frame line names its cause (`first`, `key`, `resize`, `reports`, `clock`), how long
/// building and writing it took, how many probe reports were applied since the frame
/// before, and what it showed (see [`FrameTrace::frame`]). Written through a buffer flushed after each frame: tracing costs one write per
/// frame, and nothing when off.
pub struct FrameTrace {
    out: io::BufWriter<std::fs::File>,
    failed: bool,
}

impl FrameTrace {
    /// Creates (truncates) `path`.
    pub fn create(path: &std::path::Path) -> io::Result<FrameTrace> {
        Ok(FrameTrace {
            out: io::BufWriter::new(std::fs::File::create(path)?),
            failed: false,
        })
    }

    fn now_ns() -> u128 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    }

    fn key(&mut self, key: &crossterm::event::KeyEvent) {
        let name = match key.code {
            crossterm::event::KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        };
        self.write(format_args!("{} key {name}\n", Self::now_ns()), false);
    }

    fn frame(&mut self, n: u64, cause: &str, took: Duration, reports: u64, state: &State) {
        // What the frame showed, for the benchmark: hosts by health, hosts with a finished
        // round (the first full picture is the first frame with all of them), and the
        // fewest rounds any host has finished (rounds keep up if it grows once an interval).
        let [up, degraded, down, unknown] = state.health_counts();
        let done = state.hosts.iter().filter(|h| h.rounds > 0).count();
        let min_rounds = state.hosts.iter().map(|h| h.rounds).min().unwrap_or(0);
        let line = format_args!(
            "{} frame {n} {cause} draw_us={} reports={reports} up={up} degraded={degraded} \
             down={down} unknown={unknown} done={done} min_rounds={min_rounds}\n",
            Self::now_ns(),
            took.as_micros()
        );
        self.write(line, true);
    }

    /// A trace that cannot be written stops being written; the dashboard goes on.
    fn write(&mut self, line: std::fmt::Arguments<'_>, flush: bool) {
        if self.failed {
            return;
        }
        let result = self
            .out
            .write_fmt(line)
            .and_then(|()| if flush { self.out.flush() } else { Ok(()) });
        self.failed = result.is_err();
    }
}

/// Runs the dashboard until the user quits, the input ends, or `shutdown` resolves.
pub async fn run_loop<B, E, S>(
    terminal: &mut Terminal<B>,
    state: &mut State,
    ui: &mut UiState,
    theme: &Theme,
    inputs: LoopInputs<E, S>,
) -> anyhow::Result<LoopStats>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = io::Result<Event>> + Unpin,
    S: Future<Output = ()>,
{
    let LoopInputs {
        mut events,
        mut reports,
        probe_now,
        shutdown,
        tick,
        checklist,
        journal,
        timeline,
        bell,
        trace,
        canary,
        notify,
    } = inputs;
    let mut dashboard = Dashboard {
        terminal,
        state,
        ui,
        theme,
        probe_now,
        checklist,
        journal,
        timeline,
        bell,
        trace,
        canary,
        notify,
        stats: LoopStats::default(),
        cause: "first",
        reports_since: 0,
        ring: false,
        last_frame: Instant::now(),
        owed: None,
        // The first frame is drawn before anything is waited for.
        draw_now: true,
    };
    let mut shutdown = pin!(shutdown);
    // The first frame is drawn below; the clock starts one period later.
    let mut clock = tokio::time::interval_at(Instant::now() + tick, tick);
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut reports_open = true;
    loop {
        if std::mem::take(&mut dashboard.draw_now) {
            dashboard.draw()?;
        }
        // Whether inputs changed anything visible, and whether any of it matters.
        let mut changed: Option<bool> = None;
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    if dashboard.on_key(key) == Flow::Quit {
                        break;
                    }
                }
                Some(Ok(Event::Resize(..))) => dashboard.on_resize()?,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                // The terminal is gone (stdin closed): nothing left to show.
                None => break,
            },
            input = reports.recv(), if reports_open => match input {
                Some(input) => changed = changed.max(dashboard.on_input(input)),
                None => reports_open = false,
            },
            () = sleep_until_owed(dashboard.owed) => dashboard.redraw("reports"),
            _ = clock.tick() => dashboard.on_tick(),
        }
        // Drain what else is pending, so a burst of reports is one change; but not for so
        // long that a key waits behind a round of ten thousand hosts (110,000 reports).
        let drain_until = Instant::now() + MAX_DRAIN_TIME;
        for _ in 0..MAX_DRAIN {
            let Ok(input) = reports.try_recv() else {
                break;
            };
            changed = changed.max(dashboard.on_input(input));
            if Instant::now() >= drain_until {
                break;
            }
        }
        dashboard.schedule(changed);
    }
    Ok(dashboard.stats)
}

/// At most this many reports are applied at one wake-up, and for at most this long, before
/// the loop looks at the keyboard again (a report costs about 11 µs with the journal).
const MAX_DRAIN: usize = 1024;
const MAX_DRAIN_TIME: Duration = Duration::from_millis(5);

/// Whether the loop goes on after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// The loop's state between wake-ups: the model and UI it owns for the loop's life, where
/// their changes go (the sync task, the journal, the timeline), and when the next frame
/// is due.
struct Dashboard<'a, B: Backend> {
    terminal: &'a mut Terminal<B>,
    state: &'a mut State,
    ui: &'a mut UiState,
    theme: &'a Theme,
    probe_now: watch::Sender<u64>,
    checklist: Option<mpsc::Sender<ChecklistEvent>>,
    journal: Option<crate::journal::Journal>,
    timeline: Option<crate::journal::Timeline>,
    bell: Option<Box<dyn FnMut() + Send>>,
    trace: Option<FrameTrace>,
    canary: Option<CanaryStarter>,
    notify: Option<crate::notify::Notifier>,
    stats: LoopStats,
    /// Why the next frame is drawn (for the trace).
    cause: &'static str,
    /// Inputs applied since the last frame (for the trace).
    reports_since: u64,
    /// Set when a host turned red or green; rung after the next frame.
    ring: bool,
    last_frame: Instant,
    /// A frame owed to probe reports, not drawn yet because the last one is too recent.
    owed: Option<Instant>,
    /// Input and the clock are drawn at once; reports at most every [`REPORT_FRAME_GAP`],
    /// so a round of hundreds of hosts reporting one by one costs a few frames, not
    /// hundreds.
    draw_now: bool,
}

impl<B> Dashboard<'_, B>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    /// Draws a frame now, then rings the bell if a host turned red or green (after the
    /// frame, so the screen that explains the bell is already there).
    fn draw(&mut self) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let now = SystemTime::now();
        let (state, ui, theme, timeline) = (&*self.state, &*self.ui, self.theme, &self.timeline);
        self.terminal
            .draw(|frame| ui::render_with_timeline(frame, state, ui, theme, now, timeline.as_ref()))
            .context("cannot draw to the terminal")?;
        self.stats.frames += 1;
        let reports = std::mem::take(&mut self.reports_since);
        if let Some(t) = self.trace.as_mut() {
            t.frame(
                self.stats.frames,
                self.cause,
                started.elapsed(),
                reports,
                self.state,
            );
        }
        self.last_frame = Instant::now();
        self.owed = None;
        if std::mem::take(&mut self.ring)
            && let Some(bell) = self.bell.as_mut()
        {
            bell();
            self.stats.bells += 1;
        }
        Ok(())
    }

    /// Asks for a frame at the next turn of the loop.
    fn redraw(&mut self, cause: &'static str) {
        self.cause = cause;
        self.draw_now = true;
    }

    /// A key: the key map's effect on the UI, the model, the probes or the journal.
    fn on_key(&mut self, key: crossterm::event::KeyEvent) -> Flow {
        if let Some(t) = self.trace.as_mut() {
            t.key(&key);
        }
        let Some(effect) = ui::on_key(self.ui, key, self.state, SystemTime::now()) else {
            return Flow::Continue;
        };
        match effect {
            Effect::Quit => return Flow::Quit,
            Effect::ProbeNow => {
                self.probe_now.send_modify(|n| *n = n.wrapping_add(1));
            }
            Effect::Checklist(event) => {
                // Shown at once; on disk when the sync task acknowledges.
                self.apply(Input::ChecklistEvent(event.clone()));
                if let Some(tx) = &self.checklist {
                    save(tx, event, self.state);
                }
            }
            Effect::JournalNote(text) => {
                let host = self
                    .state
                    .inventory
                    .hosts
                    .get(self.ui.selected)
                    .map(|h| h.name.clone());
                let entry = crate::journal::text_event(
                    &text,
                    &self.ui.who,
                    host.as_deref().filter(|_| self.ui.screen.is_none()),
                    SystemTime::now(),
                );
                self.record(entry.into_iter().collect());
            }
            Effect::Canary(zone) => match self.canary.as_mut() {
                Some(starter) => {
                    if !starter.start(&self.state.inventory, zone, &self.ui.who) {
                        self.ui
                            .set_message("a canary run of that zone is still going");
                    }
                }
                None => self.ui.set_message("canary runs are not available here"),
            },
            Effect::None => {}
        }
        self.redraw("key");
        Flow::Continue
    }

    fn on_resize(&mut self) -> anyhow::Result<()> {
        self.terminal.autoresize().context("cannot resize")?;
        self.redraw("resize");
        Ok(())
    }

    /// One input from the channel (a probe's report, the sync task's record, a warning).
    fn on_input(&mut self, input: Input) -> Option<bool> {
        self.stats.reports += 1;
        self.reports_since += 1;
        self.apply(input)
    }

    /// One input through the journal's reducer: the state changes as with
    /// `store::reduce`, and the transitions are recorded. Returns what it changed:
    /// `Some(true)` something that matters (the journal records it, or it is not a
    /// probe's: a warning, a tick), `Some(false)` only numbers, `None` nothing visible.
    fn apply(&mut self, input: Input) -> Option<bool> {
        // A probe's result matters when the journal records it; the ping mode (news once,
        // at start), a tick, a synced record and a warning always do.
        let from_probe = match &input {
            Input::Probe(ProbeReport::PingMode { .. }) => false,
            Input::Probe(_) => true,
            Input::ChecklistEvent(_)
            | Input::ChecklistSynced(_)
            | Input::Warning(_)
            | Input::Notify(_) => false,
        };
        let (changed, entries) = crate::journal::reduce(self.state, input);
        self.ring |= self.bell.is_some() && bell_worthy(&entries);
        let matters = !from_probe || !entries.is_empty();
        self.record(entries);
        changed.then_some(matters)
    }

    /// Journal entries to the timeline, the team (notifications) and the journal's file.
    fn record(&mut self, entries: Vec<crate::journal::Entry>) {
        if let Some(t) = self.timeline.as_mut() {
            t.push(&entries);
        }
        if let Some(n) = self.notify.as_mut() {
            n.offer(&entries, SystemTime::now());
        }
        if let Some(j) = &self.journal {
            j.record(entries);
        }
    }

    /// The clock: the status bar's time and the ages; other processes' journal lines.
    fn on_tick(&mut self) {
        if ui::on_tick(self.ui, SystemTime::now()) {
            self.redraw("clock");
        }
        // Flapping held back is summed up when its window ends.
        if let Some(n) = self.notify.as_mut() {
            n.tick(SystemTime::now());
        }
        // Other processes' lines (and, the first time, the file's history).
        if let Some(t) = self.timeline.as_mut() {
            let (_, warnings) = t.poll();
            for w in warnings {
                self.apply(Input::Warning(w));
            }
        }
    }

    /// After the inputs of one wake-up: a frame now, or one owed for when the last is old
    /// enough (sooner for what matters than for numbers that only moved).
    fn schedule(&mut self, changed: Option<bool>) {
        let Some(matters) = changed else {
            return;
        };
        if self.draw_now {
            return;
        }
        let gap = if matters {
            REPORT_FRAME_GAP
        } else {
            COSMETIC_FRAME_GAP
        };
        let due = self.last_frame + gap;
        if Instant::now() >= due {
            self.redraw("reports");
        } else {
            self.owed = Some(self.owed.map_or(due, |o| o.min(due)));
        }
    }
}

/// Terminal events through a task of their own. crossterm's `EventStream` takes a global
/// lock that its reader thread holds while it waits for input; polled from the loop after
/// every probe report, it spun on that lock (hundreds of `sched_yield` a second on an idle
/// dashboard). Here it is polled only when crossterm wakes it, and the loop reads a
/// channel.
fn forward_input() -> (
    tokio::task::JoinHandle<()>,
    impl Stream<Item = io::Result<Event>> + Unpin,
) {
    let (tx, rx) = mpsc::channel::<io::Result<Event>>(64);
    let task = tokio::spawn(async move {
        let mut stream = EventStream::new();
        while let Some(event) = stream.next().await {
            if tx.send(event).await.is_err() {
                break;
            }
        }
    });
    let events = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    });
    (task, Box::pin(events))
}

/// Hands a checklist event to the sync task without ever waiting on it.
fn save(tx: &mpsc::Sender<ChecklistEvent>, event: ChecklistEvent, state: &mut State) {
    match tx.try_send(event) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(event)) => {
            // Thousands of unsaved events: the disk is stuck. Queue this one behind them.
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(event).await;
            });
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            store::reduce(
                state,
                Input::Warning(
                    "checklist changes can no longer be saved: the sync task stopped".into(),
                ),
            );
        }
    }
}

/// Resolves on SIGTERM, SIGHUP (the tmux pane or terminal went away) or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers we still quit on `q`; never resolve.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = int.recv() => {}
    }
}

/// Panic messages from other threads while the dashboard owns the terminal: printed after it
/// is restored, since printing them on top of the dashboard would scribble over it.
static DEFERRED_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Gives the terminal back: raw mode off, main screen, cursor shown. Never fails and never
/// prints: the terminal may already be gone (SIGHUP), and a failed print would panic.
fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(io::stdout(), LeaveAlternateScreen, Show);
}

/// Takes the terminal: raw mode, alternate screen, and a panic hook that gives it back
/// before a panic on the UI thread is reported.
fn init_terminal() -> io::Result<DefaultTerminal> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") {
            restore_terminal();
            previous(info);
        } else {
            DEFERRED_PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(info.to_string());
        }
    }));
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(io::stdout(), EnterAlternateScreen)?;
    Terminal::new(CrosstermBackend::new(io::stdout()))
}

/// Restores the terminal when dropped, whatever the way out (return, `?`, panic unwind).
struct TerminalGuard(Option<DefaultTerminal>);

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Some(mut terminal) = self.0.take() {
            // ratatui's own drop prints when it cannot show the cursor (a dead terminal);
            // when that is the case, skip it.
            if terminal.show_cursor().is_err() {
                std::mem::forget(terminal);
            }
        }
        restore_terminal();
        let panics =
            std::mem::take(&mut *DEFERRED_PANICS.lock().unwrap_or_else(|e| e.into_inner()));
        for panic in panics {
            let _ = writeln!(io::stderr(), "moveday: a background task panicked: {panic}");
        }
    }
}

/// What the dashboard needs besides the inventory and the probes.
pub struct TuiOptions {
    pub theme: Theme,
    /// Who ticks (`--who`, else `$USER@hostname`).
    pub who: String,
    /// The checklist's state file.
    pub state_path: PathBuf,
    /// The move's journal (JSON Lines, appended).
    pub journal_path: PathBuf,
    /// Ring the terminal bell when a host turns red or green (`--bell`).
    pub bell: bool,
    /// Timestamp every key and frame into this file (`--trace-frames`).
    pub trace_frames: Option<PathBuf>,
}

/// How often the checklist's state file is checked for other processes' ticks.
pub const STATE_POLL: Duration = Duration::from_secs(1);

/// Sets up the terminal, starts the probes and runs the dashboard until quit.
///
/// The dashboard runs as a task of the runtime, not on the thread that called `block_on`:
/// a probe's report then wakes it where the probe ran, on a worker that is awake anyway.
/// On the calling thread, every report woke a parked thread through a futex (about 30 %
/// of the process's system calls at 8 hosts).
pub async fn run_tui(
    inventory: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    options: TuiOptions,
) -> anyhow::Result<()> {
    match tokio::spawn(dashboard(inventory, env, options)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(anyhow::anyhow!("the dashboard stopped: {e}")),
    }
}

async fn dashboard(
    inventory: Arc<Inventory>,
    env: Arc<ProbeEnv>,
    options: TuiOptions,
) -> anyhow::Result<()> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        anyhow::bail!(
            "the dashboard needs a terminal; for scripts use `moveday check` (or `check --json`)"
        );
    }
    let trace = match &options.trace_frames {
        Some(path) => Some(
            FrameTrace::create(path)
                .with_context(|| format!("cannot create the frame trace {}", path.display()))?,
        ),
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Input>(4096);
    let (probe_now, probe_now_rx) = watch::channel(0u64);
    let (checklist_tx, checklist_rx) = mpsc::channel::<ChecklistEvent>(1024);
    let sync = persist::spawn_sync(
        options.state_path.clone(),
        checklist_rx,
        tx.clone(),
        STATE_POLL,
    );
    let (journal, journal_task) =
        crate::journal::spawn_writer(options.journal_path.clone(), tx.clone());
    journal.record(vec![crate::journal::start_event(
        &inventory,
        &options.who,
        SystemTime::now(),
    )]);
    let canary = CanaryStarter::new(env.clone(), tx.clone());
    let notify = crate::notify::Notifier::start(&inventory, tx.clone());
    let probes = scheduler::spawn(inventory.clone(), env, tx, probe_now_rx);
    let mut state = State::new(inventory);
    let mut ui = UiState::new(local_offset()).with_who(&options.who);

    let mut guard = TerminalGuard(Some(init_terminal().context("cannot set up the terminal")?));
    let Some(terminal) = guard.0.as_mut() else {
        anyhow::bail!("the terminal went away during set-up");
    };
    let (input, events) = forward_input();
    let result = run_loop(
        terminal,
        &mut state,
        &mut ui,
        &options.theme,
        LoopInputs {
            events,
            reports: rx,
            probe_now,
            shutdown: shutdown_signal(),
            tick: Duration::from_secs(1),
            checklist: Some(checklist_tx),
            journal: Some(journal.clone()),
            timeline: Some(crate::journal::Timeline::follow(&options.journal_path)),
            bell: options.bell.then(|| {
                Box::new(|| {
                    // BEL: tmux flags the window; a terminal beeps or flashes. A failed
                    // write is ignored, as is a failed draw's cause: the terminal is gone.
                    let mut out = io::stdout();
                    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                }) as Box<dyn FnMut() + Send>
            }),
            trace,
            canary: Some(canary),
            notify,
        },
    )
    .await;
    input.abort();
    drop(probes);
    drop(guard);
    journal.record(vec![crate::journal::stop_event(
        SystemTime::now(),
        Some(if result.is_ok() { "quit" } else { "error" }),
    )]);
    drop(journal);
    let unsaved = after_quit(journal_task, sync, &options).await;
    match (result, unsaved) {
        (Ok(_), None) => Ok(()),
        (Ok(_), Some(unsaved)) => Err(unsaved.into()),
        (Err(e), unsaved) => {
            if let Some(unsaved) = unsaved {
                let _ = writeln!(io::stderr(), "moveday: {unsaved}");
            }
            Err(e)
        }
    }
}

/// Once the terminal is given back: waits (5 s at most each) for the journal's last lines
/// and the checklist's last changes, and says what could not be saved.
async fn after_quit(
    journal_task: tokio::task::JoinHandle<usize>,
    sync: tokio::task::JoinHandle<Vec<ChecklistEvent>>,
    options: &TuiOptions,
) -> Option<Unsaved> {
    let journal_lost = match tokio::time::timeout(Duration::from_secs(5), journal_task).await {
        Ok(Ok(lost)) => Some(lost),
        Ok(Err(_)) | Err(_) => {
            let _ = writeln!(
                io::stderr(),
                "moveday: could not finish writing the journal {} within 5 s",
                options.journal_path.display()
            );
            None
        }
    };
    // The loop has dropped its sender: the sync task saves what is still pending and ends.
    // Every tick acknowledged on screen is already on disk; this covers the last second.
    let changes = match tokio::time::timeout(Duration::from_secs(5), sync).await {
        Ok(Ok(unsaved)) => unsaved.iter().map(describe_change).collect(),
        Ok(Err(e)) => vec![format!("the last changes (the saving task failed: {e})")],
        Err(_) => vec!["the last changes (still not written after 5 s)".to_string()],
    };
    if changes.is_empty() {
        return None;
    }
    Some(Unsaved {
        state_path: options.state_path.clone(),
        changes,
        journal_path: options.journal_path.clone(),
        journal_lost,
    })
}

/// Checklist changes made in the dashboard that its state file does not hold when it
/// quits (the directory is not writable, the path is no regular file, ...): the error
/// `moveday` exits with (1), printed after the terminal is restored.
#[derive(Debug)]
pub struct Unsaved {
    pub state_path: PathBuf,
    /// One line per change, e.g. `ticked lower-ttl (alice, 2026-11-25T17:45:01Z)`.
    pub changes: Vec<String>,
    pub journal_path: PathBuf,
    /// Journal entries never written (`None`: the journal writer did not finish).
    pub journal_lost: Option<usize>,
}

impl std::fmt::Display for Unsaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} checklist change(s) were NOT saved to {}:",
            self.changes.len(),
            self.state_path.display()
        )?;
        for change in &self.changes {
            writeln!(f, "  {change}")?;
        }
        let journal = self.journal_path.display();
        match self.journal_lost {
            Some(0) => write!(
                f,
                "They are in the journal {journal} (`moveday report` lists them); make them \
                 again (`moveday tick`) once the state file can be written."
            ),
            Some(n) => write!(
                f,
                "The journal {journal} could not be written either ({n} event(s) lost): \
                 note them down and make them again once the files can be written."
            ),
            None => write!(
                f,
                "The journal {journal} may not have them either: note them down and make \
                 them again once the files can be written."
            ),
        }
    }
}

impl std::error::Error for Unsaved {}

/// One checklist change in words, for the list of changes not saved.
fn describe_change(event: &ChecklistEvent) -> String {
    use crate::sanitize::sanitize;
    let id = sanitize(event.id(), 80);
    let (what, who, at) = match event {
        ChecklistEvent::Tick { tick, .. } => (
            if tick.done { "ticked" } else { "unticked" }.to_string(),
            &tick.who,
            tick.at,
        ),
        ChecklistEvent::Note { note, .. } if note.text.is_empty() => {
            ("cleared the note of".to_string(), &note.who, note.at)
        }
        ChecklistEvent::Note { note, .. } => (
            format!("noted \"{}\" on", sanitize(&note.text, 200)),
            &note.who,
            note.at,
        ),
    };
    format!(
        "{what} {id} ({}, {})",
        sanitize(who, 80),
        crate::timefmt::rfc3339(at)
    )
}

/// This machine's offset from UTC now, for showing local times.
pub fn local_offset() -> chrono::FixedOffset {
    *chrono::Local::now().offset()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::{NoteEvent, TickEvent};

    #[test]
    fn unsaved_changes_are_listed_with_where_they_are() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T17:45:01Z")
            .unwrap()
            .to_utc();
        let changes = [
            ChecklistEvent::Tick {
                id: "lower-ttl".into(),
                tick: TickEvent {
                    done: true,
                    who: "alice".into(),
                    at,
                    evidence: None,
                    forced: false,
                },
            },
            ChecklistEvent::Note {
                id: "shutdown".into(),
                note: NoteEvent {
                    text: "later\x1b[2J".into(),
                    who: "bob".into(),
                    at,
                },
            },
        ];
        let mut unsaved = Unsaved {
            state_path: "/srv/state.json".into(),
            changes: changes.iter().map(describe_change).collect(),
            journal_path: "/srv/j.jsonl".into(),
            journal_lost: Some(0),
        };
        let text = unsaved.to_string();
        assert!(
            text.starts_with("2 checklist change(s) were NOT saved to /srv/state.json:\n"),
            "{text}"
        );
        assert!(
            text.contains("\n  ticked lower-ttl (alice, 2026-11-25T17:45:01Z)\n"),
            "{text}"
        );
        assert!(
            text.contains("noted \"later\\x1b[2J\" on shutdown (bob, "),
            "{text}"
        );
        assert!(
            text.contains("They are in the journal /srv/j.jsonl"),
            "{text}"
        );
        unsaved.journal_lost = Some(3);
        assert!(
            unsaved
                .to_string()
                .contains("could not be written either (3 event(s) lost)")
        );
        assert!(anyhow::Error::from(unsaved).is::<Unsaved>());
    }
}
