//! The `moveday` command line: parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use moveday::checklist::persist::{self, PersistError};
use moveday::config::{ConfigError, Inventory, Theme};
use moveday::probe::ping::Pinger;
use moveday::probe::scheduler::ProbeEnv;
use moveday::{app, check, checklist, demo};

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
  moveday                            watch the move described by ./inventory.toml
  moveday -i my-move.toml -t light   another inventory, the light theme
  moveday check --json | jq .        one probe round as JSON (exit 0 when all hosts are up)
  moveday validate my-move.toml      check an inventory without probing
  moveday checklist                  the move plan: what is ticked, by whom, when
  moveday tick lower-ttl --who ann   tick an item from a script (--undo to untick)

Exit codes: 0 success (check: every host up), 1 check: some host not up, or tick: the
state file cannot be written, 2 bad input.
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
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Probe every host once, print a table (or JSON) and exit: 0 if all are up, 1 if not
    Check {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Check an inventory file for errors without probing anything
    Validate {
        /// The inventory to check
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Run a self-contained simulated move on loopback addresses (no root, no network)
    Demo,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure::Config(e)) => {
            eprintln!("moveday: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("moveday: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::State(e)) => {
            eprintln!("moveday: {e}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    /// Bad input: exit 2 with the located message.
    Config(ConfigError),
    Other(anyhow::Error),
    /// The checklist's state file cannot be read or written: exit 1, nothing was recorded.
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

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Some(Command::Validate { path }) => {
            let inv = Inventory::load(&path)?;
            println!(
                "{}: ok: \"{}\", {} hosts, {} resolvers",
                path.display(),
                inv.name,
                inv.hosts.len(),
                inv.resolvers.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Check { json }) => {
            let inv = Arc::new(Inventory::load(&cli.inventory)?);
            let rt = runtime()?;
            let state = rt.block_on(async {
                let env = Arc::new(ProbeEnv::new(&inv, Pinger::detect().0));
                check::run(inv.clone(), env).await
            });
            if json {
                let text = serde_json::to_string_pretty(&check::to_json(&state))
                    .map_err(|e| Failure::Other(e.into()))?;
                println!("{text}");
            } else {
                print!("{}", check::to_table(&state));
            }
            Ok(ExitCode::from(check::exit_code(&state) as u8))
        }
        Some(Command::Checklist { json }) => {
            let inv = Arc::new(Inventory::load(&cli.inventory)?);
            let path = state_path(cli.state.as_deref(), &inv);
            let loaded = persist::load(&path)?;
            if let Some(w) = &loaded.warning {
                eprintln!("moveday: warning: {w}");
            }
            if json {
                let value = checklist_cli::to_json(&inv, &path, &loaded.doc);
                let text =
                    serde_json::to_string_pretty(&value).map_err(|e| Failure::Other(e.into()))?;
                println!("{text}");
            } else {
                print!("{}", checklist_cli::to_text(&inv, &path, &loaded.doc));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Tick {
            id,
            note,
            undo,
            note_only,
        }) => {
            let inv = Inventory::load(&cli.inventory)?;
            let who = who(cli.who.as_deref())?;
            let Some(item) = inv.checklist.iter().find(|i| i.id == id) else {
                return Err(Failure::Other(anyhow::anyhow!(
                    "{}",
                    checklist_cli::unknown_id(&inv, &id)
                )));
            };
            let path = state_path(cli.state.as_deref(), &inv);
            let at = chrono::Utc::now();
            let mut events = Vec::new();
            if !note_only {
                events.push(checklist::ChecklistEvent::Tick {
                    id: item.id.clone(),
                    tick: checklist::TickEvent {
                        done: !undo,
                        who: who.clone(),
                        at,
                        evidence: None,
                        forced: false,
                    },
                });
            }
            if let Some(text) = &note {
                events.push(checklist::ChecklistEvent::Note {
                    id: item.id.clone(),
                    note: checklist::NoteEvent {
                        text: text.trim().to_string(),
                        who: who.clone(),
                        at,
                    },
                });
            }
            let saved = persist::commit(&path, &events)?;
            if let Some(w) = &saved.warning {
                eprintln!("moveday: warning: {w}");
            }
            println!("{}", checklist_cli::recorded(item, &events, &who, at));
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo) => {
            let options = app::TuiOptions {
                theme: theme(&cli.theme)?,
                who: who(cli.who.as_deref())?,
                // One record for every demo run, wherever it is started from.
                state_path: cli.state.clone().unwrap_or_else(|| {
                    persist::default_state_path(std::path::Path::new("/moveday/demo.toml"))
                }),
            };
            let rt = runtime()?;
            rt.block_on(async {
                let demo = demo::Demo::start().await?;
                let inv = Arc::new(demo.inventory().clone());
                let env = Arc::new(ProbeEnv::with_system_dns(
                    &inv,
                    demo.pinger(),
                    demo.system_dns(),
                ));
                app::run_tui(inv, env, options).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let inv = Arc::new(Inventory::load(&cli.inventory)?);
            let options = app::TuiOptions {
                theme: theme(&cli.theme)?,
                who: who(cli.who.as_deref())?,
                state_path: state_path(cli.state.as_deref(), &inv),
            };
            let rt = runtime()?;
            rt.block_on(async {
                let env = Arc::new(ProbeEnv::new(&inv, Pinger::detect().0));
                app::run_tui(inv, env, options).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--state`, else the default state file of the inventory.
fn state_path(state: Option<&std::path::Path>, inv: &Inventory) -> PathBuf {
    state.map_or_else(|| persist::default_state_path(&inv.path), PathBuf::from)
}

/// `--who`, cleaned, else `$USER@hostname`.
fn who(given: Option<&str>) -> Result<String, Failure> {
    match given {
        None => Ok(persist::default_who()),
        Some(name) => persist::clean_who(name)
            .ok_or_else(|| Failure::Other(anyhow::anyhow!("--who must not be empty"))),
    }
}

/// The text and JSON of the headless `checklist` and `tick` commands.
mod checklist_cli {
    use std::fmt::Write;
    use std::path::Path;
    use std::sync::Arc;

    use chrono::{DateTime, Local, Utc};
    use serde_json::{Value, json};

    use moveday::checklist::{self, ChecklistDoc, ChecklistEvent, ItemStatus};
    use moveday::config::{ChecklistItem, Inventory};
    use moveday::sanitize::sanitize;
    use moveday::store::State;

    /// Longest note shown, in characters (the file may come from anyone who can write it).
    const MAX_NOTE_CHARS: usize = 500;

    fn local(at: DateTime<Utc>) -> String {
        at.with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn rfc3339(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn check_name(inv: &Inventory, item: &ChecklistItem) -> Option<String> {
        item.check.map(|link| {
            let host = inv.hosts.get(link.host).map_or("?", |h| h.name.as_str());
            format!("{host}.{}", link.probe.name())
        })
    }

    /// Without live probes: open, done, or done-by-check when the tick carries evidence.
    fn statuses(inv: &Arc<Inventory>, doc: &ChecklistDoc) -> Vec<ItemStatus> {
        let state = State::new(inv.clone());
        inv.checklist
            .iter()
            .map(|item| checklist::status(&state, doc, item))
            .collect()
    }

    pub fn to_json(inv: &Arc<Inventory>, path: &Path, doc: &ChecklistDoc) -> Value {
        let statuses = statuses(inv, doc);
        let phases: Vec<Value> = inv
            .phases
            .iter()
            .map(|phase| {
                let (done, total) = checklist::progress(doc, &inv.checklist, Some(phase));
                let items: Vec<Value> = inv
                    .checklist
                    .iter()
                    .zip(&statuses)
                    .filter(|(item, _)| &item.phase == phase)
                    .map(|(item, status)| {
                        let record = doc.items.get(&item.id);
                        let tick = record.and_then(|r| r.tick.as_ref());
                        let note = record
                            .and_then(|r| r.note.as_ref())
                            .filter(|n| !n.text.is_empty());
                        json!({
                            "id": item.id,
                            "text": item.text,
                            "check": check_name(inv, item),
                            "state": status.word(),
                            "who": tick.map(|t| sanitize(&t.who, MAX_NOTE_CHARS)),
                            "at": tick.map(|t| rfc3339(t.at)),
                            "note": note.map(|n| json!({
                                "text": sanitize(&n.text, MAX_NOTE_CHARS),
                                "who": sanitize(&n.who, MAX_NOTE_CHARS),
                                "at": rfc3339(n.at),
                            })),
                        })
                    })
                    .collect();
                json!({ "name": phase, "done": done, "total": total, "items": items })
            })
            .collect();
        let (done, total) = checklist::progress(doc, &inv.checklist, None);
        json!({
            "move": inv.name,
            "state_file": path.display().to_string(),
            "phases": phases,
            "done": done,
            "total": total,
            "orphans": doc.orphans(&inv.checklist),
        })
    }

    pub fn to_text(inv: &Arc<Inventory>, path: &Path, doc: &ChecklistDoc) -> String {
        let statuses = statuses(inv, doc);
        let mut out = String::new();
        let (done, total) = checklist::progress(doc, &inv.checklist, None);
        let _ = writeln!(out, "{}: checklist {done}/{total} done", inv.name);
        let _ = writeln!(out, "state file: {}", path.display());
        if inv.checklist.is_empty() {
            let _ = writeln!(
                out,
                "\nthe inventory has no [[checklist]] items (id, phase, text, check = \"HOST.PROBE\")"
            );
        }
        let id_width = inv
            .checklist
            .iter()
            .map(|i| i.id.chars().count())
            .max()
            .unwrap_or(0);
        for phase in &inv.phases {
            let (done, total) = checklist::progress(doc, &inv.checklist, Some(phase));
            let _ = writeln!(out, "\n{phase}  {done}/{total}");
            for (item, status) in inv.checklist.iter().zip(&statuses) {
                if &item.phase != phase {
                    continue;
                }
                let check = check_name(inv, item)
                    .map(|c| format!("  [check: {c}]"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {} {:<id_width$}  {}{check}",
                    status.symbol(),
                    item.id,
                    item.text
                );
                let record = doc.items.get(&item.id);
                let pad = " ".repeat(id_width + 8);
                if let Some(t) = record.and_then(|r| r.tick.as_ref()) {
                    let who = sanitize(&t.who, MAX_NOTE_CHARS);
                    let line = match status {
                        ItemStatus::Open | ItemStatus::Ready => {
                            format!("open: unticked by {who}, {}", local(t.at))
                        }
                        _ if t.forced => {
                            format!("done by {who}, {} (its check was red)", local(t.at))
                        }
                        _ => format!("{} by {who}, {}", status.word(), local(t.at)),
                    };
                    let _ = writeln!(out, "{pad}{line}");
                    if let Some(evidence) = &t.evidence {
                        let _ =
                            writeln!(out, "{pad}evidence: {}", sanitize(evidence, MAX_NOTE_CHARS));
                    }
                }
                if let Some(n) = record
                    .and_then(|r| r.note.as_ref())
                    .filter(|n| !n.text.is_empty())
                {
                    let _ = writeln!(
                        out,
                        "{pad}note: \"{}\" ({}, {})",
                        sanitize(&n.text, MAX_NOTE_CHARS),
                        sanitize(&n.who, MAX_NOTE_CHARS),
                        local(n.at)
                    );
                }
            }
        }
        let orphans = doc.orphans(&inv.checklist);
        if !orphans.is_empty() {
            let _ = writeln!(out, "\nkept, not in the inventory: {}", orphans.join(", "));
        }
        out
    }

    /// The one line `tick` prints, e.g. `ticked lower-ttl with note "300 s" as alice@box at
    /// 2026-11-25 17:45:01 (Lower the TTLs)`.
    pub fn recorded(
        item: &ChecklistItem,
        events: &[ChecklistEvent],
        who: &str,
        at: DateTime<Utc>,
    ) -> String {
        let mut verb = "noted";
        let mut note = None;
        for event in events {
            match event {
                ChecklistEvent::Tick { tick, .. } => {
                    verb = if tick.done { "ticked" } else { "unticked" };
                }
                ChecklistEvent::Note { note: n, .. } => note = Some(n.text.as_str()),
            }
        }
        let note = match note {
            None => String::new(),
            Some("") if verb == "noted" => String::new(),
            Some("") => " and cleared its note".to_string(),
            Some(text) if verb == "noted" => format!(": \"{}\"", sanitize(text, MAX_NOTE_CHARS)),
            Some(text) => format!(" with note \"{}\"", sanitize(text, MAX_NOTE_CHARS)),
        };
        let verb = match events {
            [ChecklistEvent::Note { note: n, .. }] if n.text.is_empty() => "cleared the note of",
            _ => verb,
        };
        format!(
            "{verb} {}{note} as {who} at {} ({})",
            item.id,
            local(at),
            item.text
        )
    }

    /// Unknown id: the message, with the closest ids of the inventory.
    pub fn unknown_id(inv: &Inventory, id: &str) -> String {
        let shown = sanitize(id, 80);
        if inv.checklist.is_empty() {
            return format!(
                "unknown checklist id `{shown}`: {} has no [[checklist]] items",
                inv.path.display()
            );
        }
        let wanted = id.to_lowercase();
        let mut close: Vec<(usize, &str)> = inv
            .checklist
            .iter()
            .map(|i| {
                let candidate = i.id.to_lowercase();
                let contains = candidate.contains(&wanted) || wanted.contains(&candidate);
                let distance = if contains {
                    0
                } else {
                    edit_distance(&wanted, &candidate)
                };
                (distance, i.id.as_str())
            })
            .filter(|(d, id)| *d <= (id.chars().count() / 3).max(2))
            .collect();
        close.sort();
        let close: Vec<&str> = close.iter().take(3).map(|(_, id)| *id).collect();
        let hint = if close.is_empty() {
            "`moveday checklist` lists the ids".to_string()
        } else {
            format!("did you mean {}?", close.join(", "))
        };
        format!(
            "unknown checklist id `{shown}` in {}: {hint}",
            inv.path.display()
        )
    }

    /// Levenshtein distance, by characters.
    fn edit_distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                let next = (row[j] + 1).min(row[j + 1] + 1).min(prev + cost);
                prev = row[j + 1];
                row[j + 1] = next;
            }
        }
        row[b.len()]
    }
}
