//! The `moveday` command line: parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use moveday::config::{ConfigError, Inventory, Theme};
use moveday::probe::ping::Pinger;
use moveday::probe::scheduler::ProbeEnv;
use moveday::{app, check, demo};

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

Exit codes: 0 success (check: every host up), 1 check: some host not up, 2 bad input.
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
    }
}

enum Failure {
    /// Bad input: exit 2 with the located message.
    Config(ConfigError),
    Other(anyhow::Error),
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
        Some(Command::Demo) => {
            let theme = theme(&cli.theme)?;
            let rt = runtime()?;
            rt.block_on(async {
                let demo = demo::Demo::start().await?;
                let inv = Arc::new(demo.inventory().clone());
                let env = Arc::new(ProbeEnv::with_system_dns(
                    &inv,
                    demo.pinger(),
                    demo.system_dns(),
                ));
                app::run_tui(inv, env, theme).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let inv = Arc::new(Inventory::load(&cli.inventory)?);
            let theme = theme(&cli.theme)?;
            let rt = runtime()?;
            rt.block_on(async {
                let env = Arc::new(ProbeEnv::new(&inv, Pinger::detect().0));
                app::run_tui(inv, env, theme).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
