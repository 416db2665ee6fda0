//! `[ssh]` (the options given to every ssh moveday runs) and `[[vantage]]` (other vantage
//! points: a moveday on another machine, reached over SSH, that checks the same plan from
//! its own network). The rules for what moveday hands to the OpenSSH client live here: a
//! destination is one word that cannot be read as an option, an option is one argument
//! without control characters, and a remote command path is plain (the remote shell reads
//! it).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::super::{ConfigError, limits};
use super::values::{Dur, Located, duration_within};

/// `[[vantage]] every` when not given.
pub const DEFAULT_VANTAGE_EVERY: Duration = Duration::from_secs(30);

/// `[[vantage]] moveday` when not given: found on the remote's PATH.
pub const DEFAULT_REMOTE_MOVEDAY: &str = "moveday";

/// Longest vantage name (it is a grid column's header).
pub const MAX_VANTAGE_NAME: usize = 16;

/// `[ssh]`: given to every ssh moveday runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshSettings {
    /// `[ssh] options`: extra arguments, before a vantage's or a command's own.
    pub options: Vec<String>,
}

/// A vantage point: another machine's moveday, asked over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VantageConfig {
    /// Its column's name.
    pub name: String,
    /// The SSH destination, as `ssh` takes it (`admin@bastion.example.org`, an alias).
    pub ssh: String,
    /// The remote command (a path, or a name on the remote's PATH).
    pub moveday: String,
    /// Arguments to ssh after `[ssh] options`.
    pub ssh_options: Vec<String>,
    /// How often it is asked; also the most a run may take.
    pub every: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSsh {
    options: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVantage {
    name: Spanned<String>,
    ssh: Spanned<String>,
    moveday: Option<Spanned<String>>,
    ssh_options: Option<Vec<Spanned<String>>>,
    every: Option<Spanned<Dur>>,
}

/// `[ssh]`, checked.
pub(super) fn ssh_table(raw: Option<RawSsh>, err: Located) -> Result<SshSettings, ConfigError> {
    let options = match raw.and_then(|r| r.options) {
        Some(list) => ssh_options(&list, "[ssh] options", err)?,
        None => Vec::new(),
    };
    Ok(SshSettings { options })
}

/// `[[vantage]]` tables, checked: names unique.
pub(super) fn vantages(
    raw: Vec<RawVantage>,
    err: Located,
) -> Result<Vec<VantageConfig>, ConfigError> {
    let mut out: Vec<VantageConfig> = Vec::new();
    for v in raw {
        let name = vantage_name(&v.name, err)?;
        if out.iter().any(|o| o.name.eq_ignore_ascii_case(&name)) {
            return Err(err(
                v.name.span(),
                format!("vantage `{name}` is defined twice"),
            ));
        }
        let moveday = match &v.moveday {
            Some(m) => remote_program(m, err)?,
            None => DEFAULT_REMOTE_MOVEDAY.to_string(),
        };
        let every = match &v.every {
            Some(d) => duration_within(d, "every", &limits::VANTAGE_EVERY, err)?,
            None => DEFAULT_VANTAGE_EVERY,
        };
        out.push(VantageConfig {
            name,
            ssh: ssh_destination(&v.ssh, err)?,
            moveday,
            ssh_options: match &v.ssh_options {
                Some(list) => ssh_options(list, "ssh_options", err)?,
                None => Vec::new(),
            },
            every,
        });
    }
    Ok(out)
}

fn vantage_name(raw: &Spanned<String>, err: Located) -> Result<String, ConfigError> {
    super::values::short_name(raw, "vantage name", MAX_VANTAGE_NAME, err)
}

/// An SSH destination (`user@host`, `host`, an alias of ~/.ssh/config): one word, no
/// control characters, and not starting with `-` (ssh would read it as an option).
pub(super) fn ssh_destination(raw: &Spanned<String>, err: Located) -> Result<String, ConfigError> {
    let text = raw.get_ref().trim();
    let why = if text.is_empty() {
        Some("it is empty")
    } else if text.starts_with('-') {
        Some("it starts with `-`, which ssh reads as an option")
    } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains a space or a control character")
    } else {
        None
    };
    match why {
        Some(why) => Err(err(
            raw.span(),
            format!(
                "invalid ssh destination `{}`: {why}",
                crate::sanitize::sanitize(text, 60)
            ),
        )),
        None => Ok(text.to_string()),
    }
}

/// ssh options that run a command on this side (a shell, from a shared inventory): never
/// taken, in any spelling (`-oProxyCommand=…`, `-o ProxyCommand …`).
const LOCAL_COMMAND_OPTIONS: [&str; 4] = [
    "proxycommand",
    "localcommand",
    "permitlocalcommand",
    "knownhostscommand",
];

/// Extra ssh arguments (`["-i", "~/.ssh/move"]`): each one argument, handed to ssh as it
/// is (no shell on this side), without control or invisible characters; at most 32; none
/// of the options that would run a local command ([`LOCAL_COMMAND_OPTIONS`]).
pub(super) fn ssh_options(
    list: &[Spanned<String>],
    what: &str,
    err: Located,
) -> Result<Vec<String>, ConfigError> {
    if list.len() > 32 {
        return Err(err(
            list[32].span(),
            format!("{what}: at most 32 arguments"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for o in list {
        let text = o.get_ref();
        if text.is_empty() || crate::sanitize::sanitize(text, usize::MAX) != *text {
            return Err(err(
                o.span(),
                format!("{what}: an argument is empty or has a control or invisible character"),
            ));
        }
        // `-oKey=value`, or `-o` then `Key=value` / `Key value`.
        let option = match (out.last().map(String::as_str), text.strip_prefix("-o")) {
            (_, Some(rest)) if !rest.is_empty() => Some(rest),
            (Some("-o"), _) => Some(text.as_str()),
            _ => None,
        };
        let key = option.map(|o| {
            o.trim()
                .split(|c: char| c == '=' || c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        });
        if let Some(key) = key.filter(|k| LOCAL_COMMAND_OPTIONS.contains(&k.as_str())) {
            return Err(err(
                o.span(),
                format!(
                    "{what}: `{key}` runs a command on this machine; moveday never gives it to ssh \
                     (put it in your own ~/.ssh/config if you need it)"
                ),
            ));
        }
        out.push(text.clone());
    }
    Ok(out)
}

/// The remote moveday: a path or a name, of characters a shell leaves alone (`/`, `.`,
/// `_`, `-`, `+`, `~` at the start, letters, digits), since ssh hands it to the remote
/// shell.
fn remote_program(raw: &Spanned<String>, err: Located) -> Result<String, ConfigError> {
    let text = raw.get_ref().trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+');
    let body = text.strip_prefix('~').unwrap_or(text);
    if text.is_empty() || text.starts_with('-') || !body.chars().all(plain) {
        return Err(err(
            raw.span(),
            format!(
                "invalid moveday `{}`: a path of letters, digits and `/._-+` (the remote shell reads it)",
                crate::sanitize::sanitize(text, 60)
            ),
        ));
    }
    Ok(text.to_string())
}
