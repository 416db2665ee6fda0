//! The `moveday` command line: parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use moveday::checklist::headless;
use moveday::checklist::persist::{self, PersistError};
use moveday::config::{ConfigError, Inventory, Theme};
use moveday::probe::ping::Pinger;
use moveday::probe::scheduler::{ProbeEnv, Scope};
use moveday::{app, check, checklist, demo, journal};

/// A live terminal dashboard for the day your servers move to a new home.
///
/// moveday probes every host of the move (ping, SSH banner, HTTP), asks every resolver
/// where each name points, checks your own hosts file against DNS, and shows it all in
/// one grid that updates as hosts come back.
#[derive(Parser, Debug)]
#[command(name = "moveday", version, max_term_width = 100)]
#[command(after_help = "\
Examples:
  moveday demo                       a simulated move on loopback: no root, no network
  moveday demo --hosts 1000          a thousand simulated hosts (--serve FILE: no dashboard)
  moveday                            watch the move described by ./inventory.toml
  moveday -i my-move.toml -t light   another inventory, the light theme
  moveday check --json | jq .        one probe round as JSON (exit 0 when all hosts are up)
  moveday validate my-move.toml      check an inventory without probing
  moveday checklist                  the move plan: what is ticked, by whom, when
  moveday tick lower-ttl --who ann   tick an item from a script (--undo to untick)
  moveday report --since 2h          the post-mortem draft from the move's journal
  moveday notify-test team           send a test message to the [[notify]] called team
  moveday completions bash           shell completions (bash, zsh, fish, elvish, powershell)
  moveday man                        the manual page (roff); --dir DIR: one per subcommand

Exit codes: 0 success (check: every host up), 1 check: some host not up, or tick (or the
dashboard, on quitting): the state file cannot be written, 2 bad input.
Keys in the dashboard: press ? for help. NO_COLOR=1 turns colours off.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The inventory of the move
    #[arg(
        short,
        long,
        global = true,
        value_name = "PATH",
        default_value = "inventory.toml"
    )]
    inventory: PathBuf,

    /// Colour theme: dark, light, high-contrast, or a path to a theme .toml
    #[arg(
        short,
        long,
        global = true,
        value_name = "NAME",
        env = "MOVEDAY_THEME",
        default_value = "dark"
    )]
    theme: String,

    /// The checklist's state file [default: under $XDG_STATE_HOME/moveday/, named after the
    /// inventory's path]
    #[arg(long, global = true, value_name = "FILE")]
    state: Option<PathBuf>,

    /// Who ticks: recorded with every tick and note [default: $USER@hostname]
    #[arg(long, global = true, value_name = "NAME")]
    who: Option<String>,

    /// The move's journal (JSON Lines) [default: beside the checklist's state file, named
    /// after the inventory's path]
    #[arg(long, global = true, value_name = "FILE")]
    journal: Option<PathBuf>,

    /// Ring the terminal bell when a host turns red (down) or green (up again); tmux marks
    /// the window, so a dashboard in another window still gets noticed
    #[arg(long, global = true)]
    bell: bool,

    /// Write a timestamp for every key read and frame drawn to FILE (for measuring the
    /// keystroke-to-frame latency; see BENCHMARKS.md)
    #[arg(long, global = true, value_name = "FILE")]
    trace_frames: Option<PathBuf>,
}

/// `moveday report --format`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportFormat {
    /// Markdown, for a mailing list
    Md,
    /// The same facts as JSON
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Probe every host once, print a table (or JSON) and exit: 0 if all are up, 1 if not
    ///
    /// A host with a failing check is probed again, one round at a time, up to its
    /// fail_after (so a blip is not reported as down). Each round is cut off after two
    /// timeouts and a second (one timeout more for every 256 probes past the first 256: they
    /// wait for a slot), or after a timeout and the slowest command service's limit (its
    /// every, at most 60 s) when that is longer; what has not answered by then is not
    /// counted. So check ends within
    /// fail_after × (2 × timeout + 1 s): 6 s with the defaults (timeout 1s, fail_after 2),
    /// and at most 20 × (2 × 60 s + 1 s), the largest the inventory allows, for up to 256
    /// probes. With [[vantage]]s the first round also waits for each, at most its every.
    /// `--inventory -` reads another machine's plan from stdin, as a vantage point runs it:
    /// this machine's own /etc/hosts and trust store, no vantage, no notification.
    Check {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Ask every resolver about every name once and print the matrix (verdict, address, TTL)
    Dns {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Write the canary to a zone's primary and watch every secondary pick it up: exit 0
    /// when all did by the deadline, 1 when not (or the primary refused the update)
    ///
    /// Sends the zone's primary an RFC 2136 update, signed with the zone's canary_key
    /// (TSIG), that replaces the TXT record _moveday-canary.ZONE with the time and who; then
    /// asks every secondary, every canary_every and without recursion, for the SOA serial
    /// and that TXT, until each serves the new serial (or, when the primary's could not be
    /// read back, the new text) or the deadline passes. A secondary that never does is
    /// named with its contact. Without canary_key nothing is written: the canary record is
    /// the only thing moveday ever writes to a zone. Each step (written, each secondary
    /// picking it up or late, the end) goes into the journal.
    Canary {
        /// The zone, as the inventory's [[zone]] name gives it
        #[arg(value_name = "ZONE")]
        zone: String,
        /// Print the run as JSON at the end instead of text as it goes
        #[arg(long)]
        json: bool,
        /// How long the secondaries have to follow, from the write (1s to 1d) [default: the
        /// inventory's canary_deadline, 10m]
        #[arg(long, value_name = "DURATION", value_parser = canary_deadline)]
        deadline: Option<std::time::Duration>,
    },
    /// Check an inventory file for errors without probing anything
    Validate {
        /// The inventory to check
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Run a self-contained simulated move on loopback addresses (no root, no network)
    Demo {
        /// Instead of the scripted move: N simulated hosts on 127.10.0.1 upward (ping, SSH,
        /// HTTP, DNS; a few broken on purpose), for measuring moveday at scale
        #[arg(
            long,
            value_name = "N",
            value_parser = clap::value_parser!(u32).range(1..=demo::scale::MAX_HOSTS as i64)
        )]
        hosts: Option<u32>,
        /// With --hosts: write the generated inventory to FILE and only run the simulated
        /// hosts (no dashboard) until Ctrl-C or SIGTERM; point moveday at FILE from another
        /// process
        #[arg(long, value_name = "FILE", requires = "hosts")]
        serve: Option<PathBuf>,
        /// Play the scripted move N times faster (1 to 100): its steps, the caches' lags,
        /// the move window, and the probe interval and timeout
        #[arg(
            long,
            value_name = "N",
            default_value_t = 1,
            conflicts_with = "hosts",
            value_parser = clap::value_parser!(u32).range(1..=demo::MAX_SPEED as i64)
        )]
        speed: u32,
    },
    /// Print the move plan's checklist: each item's state, who ticked it and when, notes
    Checklist {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Tick a checklist item (or untick it, or attach a note) from a script
    Tick {
        /// The item's id, as in the inventory's [[checklist]] entries
        #[arg(value_name = "ID")]
        id: String,
        /// Attach a note to the item (an empty text clears it)
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Untick the item instead of ticking it
        #[arg(long)]
        undo: bool,
        /// Only attach the note; leave the tick as it is
        #[arg(long, requires = "note", conflicts_with = "undo")]
        note_only: bool,
    },
    /// Write a post-mortem draft from the move's journal: downtimes, when each probe first
    /// worked on the new address, DNS, zones, the checklist, notes, what is still open
    Report {
        /// Output format
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Only from this time on: RFC 3339, HH:MM today (local time), or a duration ago
        /// like 2h
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
    /// Send one test message to a [[notify]] endpoint and print what it answered: exit 0
    /// when it took the message, 1 when it did not
    ///
    /// The message goes through the same transport as the dashboard's (POST for webhook
    /// and ntfy, the program for command), once, without retries, within the endpoint's
    /// timeout. The URL is shown without its path and query, which may carry a token.
    NotifyTest {
        /// The endpoint, as the inventory's [[notify]] name gives it
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    ///
    /// Install it where your shell looks, for example
    /// `moveday completions bash > ~/.local/share/bash-completion/completions/moveday`,
    /// `moveday completions zsh > ~/.zfunc/_moveday` (with ~/.zfunc in $fpath), or
    /// `moveday completions fish > ~/.config/fish/completions/moveday.fish`.
    Completions {
        /// The shell to complete for
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from the same definitions as --help
    ///
    /// `moveday man > ~/.local/share/man/man1/moveday.1` installs it for `man moveday`.
    /// With --dir, writes moveday.1 and a page for each subcommand (moveday-check.1, ...)
    /// into DIR instead.
    Man {
        /// Write moveday.1 and one page per subcommand into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `eprintln!` that ignores a standard error that is gone (the terminal was closed):
/// `eprintln!` would panic there.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Everything a command prints on standard output goes through here. A reader that went
/// away (`| head`, `| true`) is treated as `head` itself treats it: the rest is not printed,
/// quietly, and the command's exit code still says what it did (a tick is saved whether or
/// not anyone reads the line that says so). Any other write error is bad output: exit 2.
fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Other(
            anyhow::anyhow!("cannot write to standard output: {e}"),
        )),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure::Config(e)) => {
            say!("moveday: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            say!("moveday: {e:#}");
            // Checklist changes the dashboard could not save are no bad input.
            ExitCode::from(if e.is::<app::Unsaved>() { 1 } else { 2 })
        }
        Err(Failure::State(e)) => {
            say!("moveday: {e}");
            ExitCode::from(if e.is_bad_input() { 2 } else { 1 })
        }
    }
}

enum Failure {
    /// Bad input: exit 2 with the located message.
    Config(ConfigError),
    Other(anyhow::Error),
    /// The checklist's state file cannot be read or written: exit 1 (2 when the path names
    /// no regular file), nothing was recorded.
    State(PersistError),
}

impl From<PersistError> for Failure {
    fn from(e: PersistError) -> Self {
        Failure::State(e)
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot start the async runtime: {e}")))
}

fn theme(name: &str) -> Result<Theme, Failure> {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        // Still parse the requested theme so a typo is reported, then drop its colours.
        Theme::by_name(name)?;
        return Ok(Theme::monochrome());
    }
    Ok(Theme::by_name(name)?)
}

/// One probe round of the inventory at `path` (`check`: everything, `dns`: the names).
fn probe_once(path: &std::path::Path, scope: Scope) -> Result<moveday::store::State, Failure> {
    let inv = Arc::new(Inventory::load(path)?);
    let rt = runtime()?;
    Ok(rt.block_on(async {
        let env = Arc::new(ProbeEnv::new(&inv, Pinger::detect().0));
        check::run(inv.clone(), env, scope).await
    }))
}

/// Prints pretty JSON or the text table.
fn print_result<T: serde::Serialize>(
    json: bool,
    value: impl FnOnce() -> T,
    table: impl FnOnce() -> String,
) -> Result<(), Failure> {
    if json {
        let text = serde_json::to_string_pretty(&value()).map_err(|e| Failure::Other(e.into()))?;
        emit(&format!("{text}\n"))
    } else {
        emit(&table())
    }
}

fn run(mut cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command.take() {
        Some(Command::Dns { json }) => {
            let state = probe_once(&cli.inventory, Scope::Dns)?;
            print_result(
                json,
                || check::json::DnsOutput::new(&state),
                || check::dns_table(&state),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Validate { path }) => validate(&path),
        Some(Command::Canary {
            zone,
            json,
            deadline,
        }) => canary(&cli, &zone, json, deadline),
        Some(Command::Check { json }) => {
            let state = probe_once(&cli.inventory, Scope::Everything)?;
            print_result(
                json,
                || check::json::CheckOutput::new(&state),
                || check::to_table(&state),
            )?;
            Ok(ExitCode::from(check::exit_code(&state) as u8))
        }
        Some(Command::Checklist { json }) => show_checklist(&cli, json),
        Some(Command::Tick {
            id,
            note,
            undo,
            note_only,
        }) => {
            let change = TickChange {
                tick: (!note_only).then_some(!undo),
                note: note.as_deref().map(str::trim),
            };
            tick(&cli, &id, &change)
        }
        Some(Command::Report { format, since }) => {
            report(&cli, format, since.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo {
            hosts: Some(hosts),
            serve,
            ..
        }) => {
            scale_demo(&cli, hosts as usize, serve.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo {
            hosts: None, speed, ..
        }) => {
            scripted_demo(&cli, speed)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::NotifyTest { name }) => notify_test(&cli, &name),
        Some(Command::Completions { shell }) => {
            completions(shell)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man { dir }) => {
            man(dir.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            dashboard(&cli)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `moveday completions SHELL`: the script clap_complete writes from the same `Cli` that
/// parses the arguments, so it cannot fall behind a new flag.
fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "moveday", &mut script);
    emit(&String::from_utf8_lossy(&script))
}

/// `moveday man [--dir DIR]`: the manual page from the same `Cli`, on standard output, or
/// moveday.1 and a page per subcommand written into DIR.
fn man(dir: Option<&std::path::Path>) -> Result<(), Failure> {
    let failed = |e: std::io::Error| match dir {
        Some(dir) => anyhow::anyhow!("cannot write the manual pages into {}: {e}", dir.display()),
        None => anyhow::anyhow!("cannot write the manual page: {e}"),
    };
    let page = man_page().map_err(failed)?;
    let Some(dir) = dir else {
        return emit(&page);
    };
    // clap_mangen writes a page per subcommand (and a plain moveday.1, replaced by ours).
    let write = || -> std::io::Result<()> {
        clap_mangen::generate_to(Cli::command(), dir)?;
        std::fs::write(dir.join("moveday.1"), &page)
    };
    Ok(write().map_err(failed)?)
}

/// moveday(1): clap_mangen's sections, with `--help`'s closing text as EXAMPLES (kept as
/// laid out: its columns would be refilled into a jumble) and NOTES.
fn man_page() -> std::io::Result<String> {
    use clap_mangen::roff::{Roff, roman};
    // No `help` subcommand: it has no page of its own to point to.
    let cmd = Cli::command().disable_help_subcommand(true);
    let closing = cmd
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    let (examples, notes) = closing.split_once("\n\n").unwrap_or((&closing, ""));
    let man = clap_mangen::Man::new(cmd.after_help(None::<&str>));
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    let mut extra = Roff::new();
    extra.control("SH", ["EXAMPLES"]).control("nf", []);
    for line in examples.lines().filter(|l| *l != "Examples:") {
        extra.text([roman(line)]);
    }
    extra.control("fi", []).control("SH", ["NOTES"]);
    for paragraph in notes.split("\n\n") {
        extra
            .text([roman(paragraph.replace('\n', " "))])
            .control("PP", []);
    }
    extra.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `moveday validate PATH`: the inventory's counts, or the located error.
fn validate(path: &std::path::Path) -> Result<ExitCode, Failure> {
    let inv = Inventory::load(path)?;
    let implied = inv.resolvers.iter().filter(|r| r.implied).count();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut counts = vec![
        plural(inv.hosts.len(), "host", "hosts"),
        plural(inv.resolvers.len() - implied, "resolver", "resolvers"),
    ];
    if !inv.zones.is_empty() {
        counts.push(plural(inv.zones.len(), "zone", "zones"));
    }
    if implied > 0 {
        counts.push(format!(
            "{} asked as well",
            plural(implied, "zone server", "zone servers")
        ));
    }
    if !inv.checklist.is_empty() {
        counts.push(plural(
            inv.checklist.len(),
            "checklist item",
            "checklist items",
        ));
    }
    emit(&format!(
        "{}: ok: \"{}\", {}\n",
        shown(&path.display().to_string()),
        shown(&inv.name),
        counts.join(", ")
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `moveday checklist [--json]`.
fn show_checklist(cli: &Cli, json: bool) -> Result<ExitCode, Failure> {
    let inv = Arc::new(Inventory::load(&cli.inventory)?);
    let path = state_path(cli.state.as_deref(), &inv);
    let loaded = persist::load(&path)?;
    if let Some(w) = &loaded.warning {
        say!("moveday: warning: {w}");
    }
    if json {
        let value = headless::to_json(&inv, &path, &loaded.doc);
        let text = serde_json::to_string_pretty(&value).map_err(|e| Failure::Other(e.into()))?;
        emit(&format!("{text}\n"))?;
    } else {
        emit(&headless::to_text(&inv, &path, &loaded.doc))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `moveday tick` changes: the tick (`Some(true)` tick, `Some(false)` untick, `None`
/// leave it), and the note (`Some("")` clears it).
struct TickChange<'a> {
    tick: Option<bool>,
    note: Option<&'a str>,
}

/// `moveday tick ID`: the change is made from the state file's record under its lock (so
/// it is stamped after the record it replaces, whatever this machine's clock says), then
/// journaled, and what the record now says is printed. Exit 1 when the record does not
/// hold it.
fn tick(cli: &Cli, id: &str, change: &TickChange<'_>) -> Result<ExitCode, Failure> {
    let inv = Inventory::load(&cli.inventory)?;
    let who = who(cli.who.as_deref())?;
    let Some(item) = inv.checklist.iter().find(|i| i.id == id) else {
        return Err(Failure::Other(anyhow::anyhow!(
            "{}",
            headless::unknown_id(&inv, id)
        )));
    };
    let path = state_path(cli.state.as_deref(), &inv);
    let now = std::time::SystemTime::now();
    let (saved, events) = persist::commit_with(&path, |record| {
        let tick = change.tick.map(|done| match done {
            true => record.tick(&item.id, &who, checklist::Backing::default(), now),
            false => record.untick(&item.id, &who, now),
        });
        let note = change
            .note
            .map(|text| record.note(&item.id, &who, text, now));
        tick.into_iter().chain(note).collect()
    })?;
    if let Some(w) = &saved.warning {
        say!("moveday: warning: {w}");
    }
    journal_ticks(cli, &events);
    match headless::recorded(item, &events, &saved.doc) {
        Ok(line) => {
            // The tick is saved: output that cannot be written does not undo it.
            if let Err(Failure::Other(e)) = emit(&format!("{line}\n")) {
                say!("moveday: warning: {e:#} (the change is saved)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            say!("moveday: {why}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `moveday tick`'s events into the journal too, so a running dashboard's timeline shows
/// them and the report has them in order. The state file already holds them: a journal
/// that cannot be written is a warning, not a failure.
fn journal_ticks(cli: &Cli, events: &[checklist::ChecklistEvent]) {
    let journal_path = journal::journal_path(cli.journal.as_deref(), &cli.inventory);
    let entries: Vec<_> = events.iter().map(journal::checklist_event).collect();
    if let Err(e) = journal::JournalWriter::open(&journal_path)
        .map_err(|e| e.to_string())
        .and_then(|mut w| {
            w.append(&entries)
                .and_then(|()| w.sync())
                .map_err(|e| format!("{}: {e}", journal_path.display()))
        })
    {
        say!("moveday: warning: not written to the journal: {e}");
    }
}

/// `--deadline`: a duration in `[dns] canary_deadline`'s range.
fn canary_deadline(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    let range = moveday::config::limits::CANARY_DEADLINE;
    if range.contains(&d) {
        Ok(d)
    } else {
        Err(format!(
            "must be between {} and {}",
            moveday::config::inventory::duration_text(*range.start()),
            moveday::config::inventory::duration_text(*range.end())
        ))
    }
}

/// `moveday canary ZONE`: one run, its steps printed as they happen (or the JSON at the
/// end) and journaled.
fn canary(
    cli: &Cli,
    zone: &str,
    json: bool,
    deadline: Option<std::time::Duration>,
) -> Result<ExitCode, Failure> {
    use moveday::probe::canary::CanaryPlan;
    let inv = Arc::new(Inventory::load(&cli.inventory)?);
    let z = check::canary::find_zone(&inv, zone).map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = &inv.zones[z];
    let Some(key_path) = &config.canary_key else {
        return Err(Failure::Other(anyhow::anyhow!(
            "zone {} has no canary_key: moveday writes to a zone only with a TSIG key the inventory names",
            config.name
        )));
    };
    let key = moveday::config::load_tsig_key(key_path)?;
    if let Some(w) = &key.warning {
        say!("moveday: warning: {w}");
    }
    let who = who(cli.who.as_deref())?;
    let deadline = deadline.unwrap_or(inv.canary_deadline);
    let plan = CanaryPlan::for_zone(&inv, z, key.key, &who, deadline)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let journal_path = journal::journal_path(cli.journal.as_deref(), &cli.inventory);
    let mut writer = journal::JournalWriter::open(&journal_path)
        .map_err(|e| say!("moveday: warning: the run is not journaled: {e}"))
        .ok();
    let rt = runtime()?;
    let state = rt.block_on(async {
        let env = Arc::new(ProbeEnv::new(&inv, Pinger::detect().0));
        check::canary::run(inv.clone(), env, plan, |entry| {
            if let Some(w) = writer.as_mut()
                && let Err(e) = w
                    .append(std::slice::from_ref(entry))
                    .and_then(|()| w.sync())
            {
                say!("moveday: warning: journal {}: {e}", journal_path.display());
                writer = None;
            }
            if !json {
                let at = chrono::DateTime::<chrono::Local>::from(entry.at);
                // The run goes on whoever reads: a closed output is no reason to stop it.
                let _ = emit(&format!("{} {}\n", at.format("%H:%M:%S"), entry.summary()));
            }
        })
        .await
    });
    let view = moveday::store::canary(&state, z);
    let ok = view.as_ref().is_some_and(|v| v.run.all_picked_up());
    if json {
        let output = view.as_ref().map(|v| check::json::CanaryCommandOutput {
            schema: Default::default(),
            zone: config.name.clone(),
            run: check::json::CanaryOutput::new(v),
        });
        let text = serde_json::to_string_pretty(&output).map_err(|e| Failure::Other(e.into()))?;
        emit(&format!("{text}\n"))?;
    } else if let Some(v) = &view {
        emit(&format!("{}: {}\n", config.name, v.summary))?;
    }
    Ok(ExitCode::from(if ok { 0 } else { 1 }))
}

/// `moveday notify-test NAME`: one test message, its answer on stdout (exit 0) or the
/// error on stderr (exit 1); an unknown name is bad input, with the names there are.
fn notify_test(cli: &Cli, name: &str) -> Result<ExitCode, Failure> {
    let inv = Inventory::load(&cli.inventory)?;
    let Some(config) = inv
        .notify
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name))
    else {
        let names: Vec<&str> = inv.notify.iter().map(|n| n.name.as_str()).collect();
        return Err(Failure::Other(anyhow::anyhow!(
            "no [[notify]] named `{}` in {}: {}",
            shown(name),
            cli.inventory.display(),
            if names.is_empty() {
                "it has none".to_string()
            } else {
                format!("it has {}", names.join(", "))
            }
        )));
    };
    let message = moveday::notify::test_message(config, &who(cli.who.as_deref())?);
    let rt = runtime()?;
    match rt.block_on(moveday::notify::send_once(config, &message)) {
        Ok(answer) => {
            emit(&format!(
                "{} ({}): {answer}\n",
                config.name,
                config.shown_url()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            say!("moveday: {} ({}): {error}", config.name, config.shown_url());
            Ok(ExitCode::from(1))
        }
    }
}

/// `moveday demo [--speed N]`: the scripted move, one record for every run wherever it is
/// started.
fn scripted_demo(cli: &Cli, speed: u32) -> Result<(), Failure> {
    let pseudo = std::path::Path::new("/moveday/demo.toml");
    let options = tui_options(cli, persist::default_state_path(pseudo), pseudo)?;
    let rt = runtime()?;
    rt.block_on(async {
        let pace = demo::Pace::faster(speed)
            .ok_or_else(|| anyhow::anyhow!("--speed {speed}: not in 1 to {}", demo::MAX_SPEED))?;
        // What the demo tells "the team" goes beside its journal, kept after it ends.
        let sink = options.journal_path.with_extension("notifications.jsonl");
        let demo = demo::Demo::start_with(pace, Some(&sink)).await?;
        let inv = Arc::new(demo.inventory().clone());
        // The simulated network's pinger and resolver, and the demo CA trusted.
        let env = Arc::new(demo.probe_env());
        app::run_tui(inv, env, options).await?;
        eprintln!(
            "moveday: what the demo told the team (its [[notify]]): {}",
            sink.display()
        );
        anyhow::Ok(())
    })?;
    Ok(())
}

/// `moveday`: the dashboard of the inventory.
fn dashboard(cli: &Cli) -> Result<(), Failure> {
    let inv = Arc::new(Inventory::load(&cli.inventory)?);
    let options = tui_options(cli, persist::default_state_path(&inv.path), &cli.inventory)?;
    let rt = runtime()?;
    rt.block_on(async {
        let env = Arc::new(ProbeEnv::new(&inv, Pinger::detect().0));
        app::run_tui(inv, env, options).await
    })?;
    Ok(())
}

/// The dashboard's options from the command line. `default_state` is the checklist's
/// state file unless `--state` names one; the journal's default is named after
/// `inventory` (the inventory's path, or the demos' pseudo-paths).
fn tui_options(
    cli: &Cli,
    default_state: PathBuf,
    inventory: &std::path::Path,
) -> Result<app::TuiOptions, Failure> {
    Ok(app::TuiOptions {
        theme: theme(&cli.theme)?,
        who: who(cli.who.as_deref())?,
        state_path: cli.state.clone().unwrap_or(default_state),
        journal_path: journal::journal_path(cli.journal.as_deref(), inventory),
        bell: cli.bell,
        trace_frames: cli.trace_frames.clone(),
    })
}

/// `moveday demo --hosts N`: the dashboard on N simulated hosts, or with `--serve FILE`
/// only the simulation, its inventory written to FILE for another moveday to probe.
fn scale_demo(cli: &Cli, hosts: usize, serve: Option<&std::path::Path>) -> Result<(), Failure> {
    // The same pseudo-path for every run, as the scripted demo has, but its own: the two
    // demos' journals and checklists stay apart.
    let pseudo = std::path::Path::new("/moveday/demo-hosts.toml");
    let rt = runtime()?;
    let Some(file) = serve else {
        let options = tui_options(cli, persist::default_state_path(pseudo), pseudo)?;
        return Ok(rt.block_on(async {
            let demo = demo::scale::ScaleDemo::start(hosts, pseudo).await?;
            let inv = Arc::new(demo.inventory().clone());
            let env = Arc::new(demo.probe_env());
            app::run_tui(inv, env, options).await
        })?);
    };
    rt.block_on(async {
        let demo = demo::scale::ScaleDemo::start(hosts, file).await?;
        use anyhow::Context as _;
        use std::io::Write as _;
        moveday::files::write_atomic(file, moveday::files::Access::Default, |out| {
            out.write_all(demo.inventory_toml().as_bytes())
        })
        .with_context(|| format!("cannot write {}", file.display()))?;
        say!(
            "moveday: serving {}; inventory in {file}: run `moveday --inventory {file}` (or \
             `moveday check --inventory {file}`) from another terminal; Ctrl-C or SIGTERM stops",
            demo.summary(),
            file = file.display()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| anyhow::anyhow!("cannot wait for SIGTERM: {e}"))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        drop(demo);
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

/// `--state`, else the default state file of the inventory.
fn state_path(state: Option<&std::path::Path>, inv: &Inventory) -> PathBuf {
    state.map_or_else(|| persist::default_state_path(&inv.path), PathBuf::from)
}

/// `moveday report`: reads the journal (and the inventory and the checklist's state file
/// when there are any) and prints the post-mortem draft.
fn report(cli: &Cli, format: ReportFormat, since: Option<&str>) -> Result<(), Failure> {
    // With --journal the inventory is optional (the demo's is not a file); without it,
    // the inventory names the journal.
    let inventory = match &cli.journal {
        Some(_) if !cli.inventory.exists() => {
            say!(
                "moveday: note: no inventory at {}: the journal's own record of the move is used",
                cli.inventory.display()
            );
            None
        }
        _ => Some(Inventory::load(&cli.inventory)?),
    };
    let path = journal::journal_path(cli.journal.as_deref(), &cli.inventory);
    let since = since
        .map(|s| journal::report::parse_since(s, chrono::Utc::now()))
        .transpose()
        .map_err(|e| Failure::Other(anyhow::anyhow!(e)))?;
    let (entries, mut warnings) = journal::read(&path).map_err(|e| {
        Failure::Other(anyhow::anyhow!(match e {
            journal::JournalError::NotFound { .. } => format!(
                "{e} (a moveday dashboard writes one as it runs; --journal FILE names another)"
            ),
            e => e.to_string(),
        }))
    })?;
    // Ticks made where no journal was written (`moveday tick`) are in the state file.
    let state_path = match (&cli.state, &inventory) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(inv)) => Some(persist::default_state_path(&inv.path)),
        (None, None) => None,
    };
    let state_doc = state_path.as_deref().and_then(|p| match persist::peek(p) {
        Ok(doc) => doc,
        Err(e) => {
            warnings.push(format!(
                "{}: not read ({e}); ticks made without a journal are missing",
                p.display()
            ));
            None
        }
    });
    for w in &warnings {
        say!("moveday: warning: {w}");
    }
    let pm = journal::report::build(
        &entries,
        journal::report::Sources {
            inventory: inventory.as_ref(),
            state_file: state_doc.as_ref(),
        },
        &path.display().to_string(),
        since,
        warnings,
    );
    let text = match format {
        ReportFormat::Md => journal::report::markdown(&pm),
        ReportFormat::Json => journal::report::json(&pm),
    };
    emit(&text)
}

/// Text from the inventory or the command line as a terminal should see it: control
/// characters escaped, capped.
fn shown(text: &str) -> String {
    moveday::sanitize::sanitize(text, 500)
}

/// `--who`, cleaned, else `$USER@hostname`.
fn who(given: Option<&str>) -> Result<String, Failure> {
    match given {
        None => Ok(persist::default_who()),
        Some(name) => persist::clean_who(name)
            .ok_or_else(|| Failure::Other(anyhow::anyhow!("--who must not be empty"))),
    }
}
