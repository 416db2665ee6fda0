//! A vantage point: the same plan checked by a moveday on another machine, from its own
//! network, with its own resolvers and hosts file — "is it me or them?".
//!
//! moveday runs `ssh … DESTINATION MOVEDAY --inventory - check --json` ([`super::ssh_run`])
//! with the inventory's text on stdin, and reads the remote's JSON: every host's health,
//! target, reasons and DNS answers. Everything that can go wrong is a value in words:
//! ssh missing, authentication refused, host key unknown, the remote moveday missing or
//! speaking another JSON schema, too slow (bounded by the vantage's `every`), garbage or
//! too much output. Remote text is sanitized and capped; only hosts of this plan are kept.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use super::ssh_run::{self, SshCommand, SshError, failure};
use crate::config::{Inventory, VantageConfig};
use crate::sanitize::sanitize;
use crate::schema::JSON_SCHEMA_VERSION;

/// Bytes of a remote's JSON read (a thousand hosts' check is a few MiB).
pub const MAX_REMOTE_OUTPUT: usize = 16 * 1024 * 1024;
/// Reasons kept per host, and characters per reason.
const MAX_REASONS: usize = 8;
const MAX_TEXT: usize = 200;
/// DNS cells kept per host, and addresses per cell.
const MAX_CELLS: usize = 16;
const MAX_ADDRESSES: usize = 16;

/// One run of a vantage.
#[derive(Debug, Clone, PartialEq)]
pub struct VantageOutcome {
    /// Index into `Inventory::vantages`.
    pub vantage: usize,
    pub result: Result<RemoteView, String>,
    pub took: Duration,
    /// The failure will not go away by itself (a refused key, an unknown host key, no
    /// moveday there, another schema): asking again every `every` only knocks on the
    /// bastion's door (fail2ban), so the next run waits for [`PERSISTENT_BACKOFF`] or "probe
    /// now".
    pub persistent: bool,
}

/// How long a vantage whose failure is persistent waits before it is asked again.
pub const PERSISTENT_BACKOFF: Duration = Duration::from_secs(300);

/// What the remote moveday saw.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteView {
    /// In the remote's order; only hosts this plan has, once each.
    pub hosts: Vec<RemoteHost>,
    /// The hosts file the remote used (its own), as it says.
    pub hosts_file: Option<String>,
}

/// One host as the remote saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteHost {
    pub name: String,
    pub health: RemoteHealth,
    pub target: Option<IpAddr>,
    pub reasons: Vec<String>,
    pub dns: Vec<RemoteDns>,
}

impl RemoteHost {
    /// The vantage's own resolver's answer (the cell `check --json` names `system`).
    pub fn system_dns(&self) -> Option<&RemoteDns> {
        self.dns.iter().find(|d| d.server == "system")
    }
}

/// A host's health as the remote reports it (`check --json`'s words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RemoteHealth {
    Up,
    Degraded,
    Down,
    #[default]
    #[serde(other)]
    Unknown,
}

/// One resolver's answer at the remote.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteDns {
    pub resolver: String,
    /// `system` for the remote's own resolver.
    pub server: String,
    pub addresses: Vec<IpAddr>,
    pub verdict: Option<String>,
    pub error: Option<String>,
}

/// Runs vantage `index` of `inv` once, within its `every`.
pub async fn ask(inv: &Inventory, index: usize) -> VantageOutcome {
    let started = std::time::Instant::now();
    let Some(v) = inv.vantages.get(index) else {
        return VantageOutcome {
            vantage: index,
            result: Err("no such vantage".into()),
            took: Duration::ZERO,
            persistent: true,
        };
    };
    let (result, persistent) = match run(inv, v).await {
        Ok(view) => (Ok(view), false),
        Err((why, persistent)) => (Err(why), persistent),
    };
    VantageOutcome {
        vantage: index,
        result,
        took: started.elapsed(),
        persistent,
    }
}

/// The ssh invocation of vantage `v`.
pub fn command(inv: &Inventory, v: &VantageConfig) -> SshCommand {
    SshCommand {
        options: inv
            .ssh
            .options
            .iter()
            .chain(&v.ssh_options)
            .cloned()
            .collect(),
        destination: v.ssh.clone(),
        remote: [v.moveday.as_str(), "--inventory", "-", "check", "--json"]
            .map(String::from)
            .to_vec(),
        connect_timeout: (v.every / 2).min(Duration::from_secs(10)),
    }
}

/// The remote's view, or why not and whether that is persistent.
async fn run(inv: &Inventory, v: &VantageConfig) -> Result<RemoteView, (String, bool)> {
    let cmd = command(inv, v);
    let output = ssh_run::run(
        &cmd,
        Some(inv.source.as_bytes()),
        v.every,
        MAX_REMOTE_OUTPUT,
    )
    .await
    .map_err(|e| match e {
        SshError::Timeout(limit) => format!(
            "no answer within {} (every): the remote check or the connection is too slow",
            crate::config::inventory::duration_text(limit)
        ),
        other => other.to_string(),
    })
    .map_err(|why| (why, false))?;
    if let Some(f) = failure(&output, &v.moveday) {
        let persistent = !matches!(f, ssh_run::SshFailure::Connect(_));
        return Err((f.words(&v.moveday, &v.name), persistent));
    }
    if output.truncated {
        return Err((
            format!(
                "more than {} MiB of output: not read",
                MAX_REMOTE_OUTPUT / (1024 * 1024)
            ),
            false,
        ));
    }
    // `check` exits 0 (all up) or 1 (not all up) with its JSON; 2 is bad input.
    if !matches!(output.status, Some(0 | 1)) {
        let code = output
            .status
            .map_or_else(|| "a signal".to_string(), |c| format!("exit {c}"));
        return Err((
            format!(
                "its moveday failed ({code}): {}",
                ssh_run::last_line(&output.stderr)
            ),
            false,
        ));
    }
    parse(inv, &output.stdout).map_err(|why| {
        let persistent = why.contains("JSON schema");
        (why, persistent)
    })
}

/// Hosts read of a remote's output (a plan may have ten thousand; more is hostile).
const MAX_REMOTE_HOSTS: usize = 100_000;

/// A list of at most `N` items: the rest are skipped without being kept, so a hostile
/// remote's millions of empty entries cost no memory.
fn capped<'de, D, T, const N: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Capped<T, const N: usize>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for Capped<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while out.len() < N {
                match seq.next_element()? {
                    Some(item) => out.push(item),
                    None => return Ok(out),
                }
            }
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(out)
        }
    }
    d.deserialize_seq(Capped::<T, N>(std::marker::PhantomData))
}

/// The parts of a remote `check --json` read here (everything else is ignored).
#[derive(Deserialize)]
struct Wire {
    schema: Option<u32>,
    #[serde(default, deserialize_with = "capped::<_, _, MAX_REMOTE_HOSTS>")]
    hosts: Vec<WireHost>,
    #[serde(default)]
    stdin_plan: Option<WirePlan>,
}

#[derive(Deserialize)]
struct WirePlan {
    hosts_file: Option<String>,
}

#[derive(Deserialize)]
struct WireHost {
    name: String,
    #[serde(default)]
    health: RemoteHealth,
    target: Option<IpAddr>,
    #[serde(default, deserialize_with = "capped::<_, _, MAX_REASONS>")]
    reasons: Vec<String>,
    #[serde(default, deserialize_with = "capped::<_, _, MAX_CELLS>")]
    dns: Vec<WireDns>,
}

#[derive(Deserialize)]
struct WireDns {
    #[serde(default)]
    resolver: String,
    #[serde(default)]
    server: String,
    #[serde(default, deserialize_with = "capped::<_, _, MAX_ADDRESSES>")]
    addresses: Vec<IpAddr>,
    verdict: Option<String>,
    error: Option<String>,
}

/// The remote's JSON, checked: its schema is this moveday's, its hosts are this plan's.
pub fn parse(inv: &Inventory, bytes: &[u8]) -> Result<RemoteView, String> {
    let wire: Wire = serde_json::from_slice(bytes).map_err(|e| {
        let start = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
        format!(
            "unreadable output ({}): {}",
            sanitize(&e.to_string(), 80),
            sanitize(&start, 60)
        )
    })?;
    match wire.schema {
        Some(JSON_SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(format!(
                "its moveday writes JSON schema {other}; this one reads {JSON_SCHEMA_VERSION}: \
                 install the same version there"
            ));
        }
        None => return Err("its output has no JSON schema version: not a moveday check".into()),
    }
    let mut hosts: Vec<RemoteHost> = Vec::new();
    for h in wire.hosts {
        let Some(index) = inv.host_index(&h.name) else {
            continue;
        };
        let name = inv.hosts[index].name.clone();
        if hosts.iter().any(|seen| seen.name == name) {
            continue;
        }
        hosts.push(RemoteHost {
            name,
            health: h.health,
            target: h.target,
            reasons: h
                .reasons
                .iter()
                .take(MAX_REASONS)
                .map(|r| sanitize(r, MAX_TEXT))
                .collect(),
            dns: h.dns.into_iter().take(MAX_CELLS).map(dns_cell).collect(),
        });
    }
    Ok(RemoteView {
        hosts,
        hosts_file: wire
            .stdin_plan
            .and_then(|p| p.hosts_file)
            .map(|f| sanitize(&f, MAX_TEXT)),
    })
}

fn dns_cell(c: WireDns) -> RemoteDns {
    let mut addresses = c.addresses;
    addresses.truncate(MAX_ADDRESSES);
    RemoteDns {
        resolver: sanitize(&c.resolver, 40),
        server: sanitize(&c.server, 60),
        addresses,
        verdict: c.verdict.map(|v| sanitize(&v, 20)),
        error: c.error.map(|e| sanitize(&e, MAX_TEXT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn inventory() -> Inventory {
        Inventory::parse(
            Path::new("v.toml"),
            "[[vantage]]\nname = \"office\"\nssh = \"admin@bastion\"\n\
             [[host]]\nname = \"vbox\"\nfqdn = \"vbox.example.org\"\n",
        )
        .unwrap()
    }

    #[test]
    fn the_remote_runs_check_on_the_plan_from_stdin() {
        let inv = inventory();
        let argv: Vec<String> = command(&inv, &inv.vantages[0])
            .argv()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            argv[argv.len() - 7..],
            [
                "--",
                "admin@bastion",
                "moveday",
                "--inventory",
                "-",
                "check",
                "--json"
            ]
        );
        assert!(argv.contains(&"ConnectTimeout=10".to_string()), "{argv:?}");
    }

    #[test]
    fn hostile_and_foreign_output_is_refused_or_cleaned() {
        let inv = inventory();
        let other = parse(&inv, br#"{"schema": 2, "hosts": []}"#).unwrap_err();
        assert!(other.contains("JSON schema 2; this one reads 1"), "{other}");
        let garbage = parse(&inv, b"\x1b[2J<html>").unwrap_err();
        assert!(garbage.starts_with("unreadable output"), "{garbage}");
        assert!(!garbage.contains('\u{1b}'), "{garbage}");
        let view = parse(
            &inv,
            br#"{"schema": 1, "hosts": [
                {"name": "VBOX", "health": "up", "target": "203.0.113.13",
                 "reasons": ["\u001b[31mred"], "dns": [{"resolver": "system", "server": "system",
                 "addresses": ["203.0.113.13"], "verdict": "new"}]},
                {"name": "vbox", "health": "down"},
                {"name": "stranger", "health": "up"},
                {"name": "x", "health": "sideways"}],
                "stdin_plan": {"hosts_file": "/etc/hosts"}}"#,
        )
        .unwrap();
        assert_eq!(view.hosts.len(), 1, "only this plan's hosts, once each");
        assert_eq!(view.hosts[0].name, "vbox");
        assert_eq!(view.hosts[0].health, RemoteHealth::Up);
        assert_eq!(view.hosts[0].reasons, ["\\x1b[31mred"]);
        assert_eq!(
            view.hosts[0].dns[0].addresses,
            ["203.0.113.13".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(view.hosts_file.as_deref(), Some("/etc/hosts"));

        // A million reasons are skipped, not kept.
        let many = format!(
            r#"{{"schema": 1, "hosts": [{{"name": "vbox", "reasons": [{}"last"]}}]}}"#,
            "\"\",".repeat(1_000_000)
        );
        let view = parse(&inv, many.as_bytes()).unwrap();
        assert_eq!(view.hosts[0].reasons.len(), MAX_REASONS);
    }
}
