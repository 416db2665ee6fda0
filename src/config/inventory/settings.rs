//! The move-wide tables: `[move]` (name, networks, window), `[probe]` (cadence, damping
//! defaults, the company CA), the hosts file, and `[dns]`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::super::{ConfigError, limits};
use super::ProbeSettings;
use super::values::{Dur, Located, Net, damping, duration_text, duration_within};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMove {
    #[serde(default)]
    name: String,
    old_network: Option<Net>,
    new_network: Option<Net>,
    window_start: Option<Spanned<toml::Value>>,
    window_end: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    interval: Option<Spanned<Dur>>,
    timeout: Option<Spanned<Dur>>,
    hosts_file: Option<Spanned<String>>,
    probe_old: Option<bool>,
    fail_after: Option<Spanned<i64>>,
    recover_after: Option<Spanned<i64>>,
    ca_file: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    long_ttl: Option<Spanned<Dur>>,
    delegation_every: Option<Spanned<Dur>>,
    canary_deadline: Option<Spanned<Dur>>,
    canary_every: Option<Spanned<Dur>>,
}

/// What `[move]` says, checked.
pub(super) struct MoveTable {
    pub(super) name: String,
    pub(super) old_network: Option<IpNet>,
    pub(super) new_network: Option<IpNet>,
    pub(super) window_start: Option<DateTime<Utc>>,
    pub(super) window_end: Option<DateTime<Utc>>,
}

/// `[move]`: the move's name (the file's stem when none is given), its networks and its
/// advertised window.
pub(super) fn move_table(
    raw: Option<RawMove>,
    path: &Path,
    err: Located,
) -> Result<MoveTable, ConfigError> {
    let (name, old_network, new_network, window) = match raw {
        Some(m) => (
            m.name,
            m.old_network.map(|n| n.0),
            m.new_network.map(|n| n.0),
            (m.window_start, m.window_end),
        ),
        None => (String::new(), None, None, (None, None)),
    };
    let (window_start, window_end) = move_window(window, err)?;
    let name = if name.trim().is_empty() {
        path.file_stem()
            .map_or_else(|| "move".to_string(), |s| s.to_string_lossy().into_owned())
    } else {
        name
    };
    Ok(MoveTable {
        name,
        old_network,
        new_network,
        window_start,
        window_end,
    })
}

type Window = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `[move] window_start` and `window_end`: RFC 3339 date-times with an offset, as a string
/// or a TOML date-time; the end after the start.
fn move_window(
    (start, end): (Option<Spanned<toml::Value>>, Option<Spanned<toml::Value>>),
    err: Located,
) -> Result<Window, ConfigError> {
    let when = |v: &Spanned<toml::Value>, key: &str| {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.trim().to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            other => other.to_string(),
        };
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                err(
                    v.span(),
                    format!(
                        "invalid {key} `{}`: expected an RFC 3339 date and time with an offset, like \"2009-12-05T09:00:00+01:00\"",
                        text.chars().take(60).collect::<String>()
                    ),
                )
            })
    };
    let window_start = start
        .as_ref()
        .map(|v| when(v, "window_start"))
        .transpose()?;
    let window_end = end.as_ref().map(|v| when(v, "window_end")).transpose()?;
    if let (Some(s), Some(e), Some(span)) = (window_start, window_end, end.as_ref())
        && e <= s
    {
        return Err(err(
            span.span(),
            "window_end must be after window_start".into(),
        ));
    }
    Ok((window_start, window_end))
}

/// `[probe]`: the cadence and the hosts' defaults. Its `hosts_file` is handed back
/// unchecked: [`hosts_file`] weighs it against the top-level one.
pub(super) fn probe_table(
    raw: Option<RawProbe>,
    path: Option<&Path>,
    err: Located,
) -> Result<(ProbeSettings, Option<Spanned<String>>), ConfigError> {
    let mut probe = ProbeSettings::default();
    let Some(p) = raw else {
        return Ok((probe, None));
    };
    if let Some(i) = &p.interval {
        probe.interval = duration_within(i, "interval", &limits::INTERVAL, err)?;
    }
    if let Some(t) = &p.timeout {
        probe.timeout = duration_within(t, "timeout", &limits::TIMEOUT, err)?;
        if probe.timeout > probe.interval {
            return Err(err(
                t.span(),
                format!(
                    "timeout must be at most the interval ({}{}): a probe ends before the next one starts",
                    duration_text(probe.interval),
                    if p.interval.is_none() {
                        ", the default"
                    } else {
                        ""
                    }
                ),
            ));
        }
    } else if probe.timeout > probe.interval {
        // The default timeout (1s) under a shorter interval: the interval bounds it.
        probe.timeout = probe.interval;
    }
    if let Some(o) = p.probe_old {
        probe.probe_old = o;
    }
    probe.damping = damping(probe.damping, p.fail_after, p.recover_after, err)?;
    // Without a path (an inventory from another machine) its files are not this machine's.
    if let (Some(ca), Some(path)) = (p.ca_file, path) {
        probe.ca_file = Some(ca_file(&ca, path, err)?);
    }
    Ok((probe, p.hosts_file))
}

/// `[probe] ca_file`, relative to the inventory so a move's files travel together; it must
/// hold at least one PEM certificate.
fn ca_file(ca: &Spanned<String>, path: &Path, err: Located) -> Result<PathBuf, ConfigError> {
    let file = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(ca.get_ref().trim());
    let certs = load_ca_file(&file).map_err(|why| err(ca.span(), why))?;
    if certs.is_empty() {
        return Err(err(
            ca.span(),
            format!("{}: no PEM certificate in it", file.display()),
        ));
    }
    Ok(file)
}

/// The CA certificates of a PEM file (`[probe] ca_file`).
pub fn load_ca_file(
    file: &Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let bytes =
        std::fs::read(file).map_err(|e| format!("cannot read ca_file {}: {e}", file.display()))?;
    rustls::pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ca_file {}: not PEM certificates: {e}", file.display()))
}

/// The hosts file compared with DNS: `hosts_file` at the top level or in `[probe]` (not
/// both), relative to the inventory; `/etc/hosts` when neither says.
pub(super) fn hosts_file(
    top_level: Option<Spanned<String>>,
    in_probe: Option<Spanned<String>>,
    path: &Path,
    err: Located,
) -> Result<PathBuf, ConfigError> {
    match (top_level, in_probe) {
        (Some(_), Some(second)) => Err(err(
            second.span(),
            "hosts_file is given twice (top level and [probe]); keep one".into(),
        )),
        (Some(h), None) | (None, Some(h)) => {
            if h.get_ref().trim().is_empty() {
                return Err(err(h.span(), "hosts_file must not be empty".into()));
            }
            // Relative to the inventory, like ca_file: a move's files travel together.
            Ok(path.parent().unwrap_or(Path::new(".")).join(h.into_inner()))
        }
        (None, None) => Ok(PathBuf::from("/etc/hosts")),
    }
}

/// What `[dns]` says, checked.
pub(super) struct DnsTable {
    /// A TTL above it was not lowered for the move (default 300 s).
    pub(super) long_ttl: Duration,
    /// How often each zone's parent is asked for the delegation (default 60 s).
    pub(super) delegation_every: Duration,
    /// How long a canary run waits for every secondary (default 10 min).
    pub(super) canary_deadline: Duration,
    /// How often a canary run asks each secondary (default 2 s).
    pub(super) canary_every: Duration,
}

/// `[dns]`: `long_ttl`, `delegation_every`, `canary_deadline` and `canary_every`, each in
/// its range.
pub(super) fn dns_table(raw: Option<RawDns>, err: Located) -> Result<DnsTable, ConfigError> {
    let raw = raw.unwrap_or(RawDns {
        long_ttl: None,
        delegation_every: None,
        canary_deadline: None,
        canary_every: None,
    });
    let within = |value: Option<Spanned<Dur>>, key: &str, default: u64, range| match value {
        None => Ok(Duration::from_millis(default)),
        Some(d) => duration_within(&d, key, range, err),
    };
    Ok(DnsTable {
        long_ttl: within(raw.long_ttl, "long_ttl", 300_000, &limits::LONG_TTL)?,
        delegation_every: within(
            raw.delegation_every,
            "delegation_every",
            60_000,
            &limits::DELEGATION_EVERY,
        )?,
        canary_deadline: within(
            raw.canary_deadline,
            "canary_deadline",
            600_000,
            &limits::CANARY_DEADLINE,
        )?,
        canary_every: within(
            raw.canary_every,
            "canary_every",
            2_000,
            &limits::CANARY_EVERY,
        )?,
    })
}
