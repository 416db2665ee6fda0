//! The move journal: an append-only record of everything that changed during the move, and
//! the post-mortem draft written from it (`moveday report`).
//!
//! The journal is a JSON Lines file, one event a line:
//!
//! ```text
//! {"at":"2009-12-05T09:02:13.412Z","kind":"health","host":"git","from":"up","to":"down","reasons":["ping timeout"]}
//! ```
//!
//! - [`derive`]: pure functions that compare a host's (or a zone's) state before and after a
//!   probe report and say what changed, as [`Entry`]s; [`reduce`] wraps `store::reduce`.
//! - [`file`]: [`JournalWriter`] (one `write(2)` per line on an `O_APPEND` file, so several
//!   processes never interleave within a line), [`read`] (torn and invalid lines skipped
//!   with a warning, unknown kinds skipped), [`Tail`] (new lines since the last look).
//! - [`task`]: [`spawn_writer`], the background task the dashboard hands entries to.
//! - [`timeline`]: one-line summaries and the newest-first, host-filtered view for a pane.
//! - [`report`]: the post-mortem, as Markdown or JSON.
//!
//! Times are UTC in the file and shown in local time.

pub mod derive;
pub mod file;
pub mod report;
pub mod task;
pub mod timeline;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{self, Damped};

pub use derive::{
    checklist_event, delegation_event, host_events, reduce, start_event, stop_event, text_event,
    zone_events,
};
pub use file::{JournalError, JournalWriter, Tail, encode_line, parse, read};
pub use task::{Journal, spawn_writer};
pub use timeline::{Timeline, Tone};

/// The longest line written, newline included: longer text fields are cut to fit.
pub const MAX_LINE: usize = 64 * 1024;

/// One line of the journal: when, and what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// UTC.
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. The `kind` field of the line names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A moveday started watching the move.
    Start {
        /// The move's name (`[move] name`).
        name: String,
        /// The inventory's path.
        inventory: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        who: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        #[serde(default)]
        hosts: Vec<StartHost>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resolvers: Vec<String>,
        /// The advertised window (`[move] window_start`, `window_end`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_start: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_end: Option<DateTime<Utc>>,
        /// The plan, so a report can be written without the inventory (the demo's).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        checklist: Vec<StartItem>,
    },
    /// A host's overall health changed.
    Health {
        host: String,
        from: HostHealth,
        to: HostHealth,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
    },
    /// A check of a host (ping, ssh, http, a port, a service) changed its damped state or
    /// its result (`refused` to `filtered`, a page turning stale).
    Check {
        host: String,
        /// `ping`, `ssh`, `http`, `port 80`, or the service's name.
        check: String,
        probe: ProbeKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// After flap damping.
        state: CheckState,
        /// What the probe saw, in a word: `ok`, `timeout`, `refused`, `filtered`, `open`,
        /// an HTTP status like `200`, a service state (`ok`, `warn`, `stale`, `fail`).
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// The damping note: `1 of 2 failed`, `recovered after retry`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The address the probe hit, and whether it is the host's new or old one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<IpAddr>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<AddressKind>,
    },
    /// A resolver's verdict (or its addresses) for a host's name changed.
    Dns {
        host: String,
        fqdn: String,
        resolver: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<DnsVerdict>,
        verdict: DnsVerdict,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addresses: Vec<IpAddr>,
        /// Addresses of the answer beyond those listed (see `probe::MAX_ANSWER_ADDRESSES`).
        #[serde(default, skip_serializing_if = "is_zero")]
        more: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A zone server's SOA serial changed, or a secondary started or stopped lagging.
    Zone {
        zone: String,
        server: String,
        role: ZoneRole,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary_serial: Option<u32>,
        #[serde(default)]
        behind: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A zone's delegation at its parent changed: a glue name's verdict or addresses,
    /// whether the parent's NS set agrees with the zone's, whether it is all ok, or whether
    /// the parent's servers are known.
    Delegation {
        zone: String,
        /// The NS sets agree, every parent answered, and every glue name is `new`.
        ok: bool,
        /// It must be fixed at the registrar (old glue, or an NS set that differs).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        alarm: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agrees_with_zone: Option<bool>,
        /// Every glue name, its verdict the worst any parent server gives.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        glue: Vec<GlueEntry>,
        /// What is wrong, in words, the worst first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        problems: Vec<String>,
        /// Why the parent's servers are not known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The address a host's probes aim at changed (or stopped resolving).
    Target {
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<IpAddr>,
        /// `new_ip`, `hosts_file` or `system_dns`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<AddressKind>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// This machine's hosts file entry for a host changed.
    HostsFile {
        host: String,
        #[serde(default)]
        addresses: Vec<IpAddr>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lines: Vec<usize>,
        /// `old` when an entry points at the old address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<AddressKind>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The old address started or stopped answering (`probe_old`).
    Old {
        host: String,
        ip: IpAddr,
        answering: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A mail host's mail check changed its verdict: a domain's SPF for the new address
    /// (`spf`), a domain's MX (`mx`), or a blocklist's answer about the new address
    /// (`dnsbl`).
    Mail {
        host: String,
        check: MailCheck,
        /// The domain (`spf`, `mx`) or the list's zone (`dnsbl`).
        subject: String,
        /// `spf`: pass, fail, softfail, neutral, none, permerror, temperror; `mx`: here,
        /// old, elsewhere, none, null, error; `dnsbl`: listed, not_listed, refused, error.
        result: String,
        /// The address judged (the new one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<IpAddr>,
        /// The record, the list's reason, or what went wrong.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A vantage point's view changed: it answered or stopped answering (`host` absent,
    /// `ok` and `error`), or it sees a host's health otherwise (`host`, `health`).
    Vantage {
        vantage: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        health: Option<HostHealth>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ok: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A notification to a `[[notify]]` endpoint was delivered (`sent`), or an attempt
    /// failed (`failed`: it stays queued and is tried again).
    Notify {
        notify: String,
        seq: u64,
        /// `sent` or `failed`.
        status: String,
        /// Delivered after an attempt had failed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        late: bool,
        attempts: u32,
        /// What the endpoint answered (`sent`) or what went wrong (`failed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// Messages waiting for the endpoint (`failed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pending: Option<usize>,
        /// The message that could not be sent (`failed`), kept here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// A checklist item was ticked (`done`) or unticked.
    Tick {
        id: String,
        done: bool,
        who: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        forced: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<String>,
    },
    /// A note on a checklist item (an empty text clears it).
    Note {
        id: String,
        text: String,
        who: String,
    },
    /// A free-text note typed into the dashboard.
    Text {
        text: String,
        who: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    /// A step of a canary run on a zone (`moveday canary`, `C` in the zones view).
    Canary {
        zone: String,
        /// The run's canary text, on every step: which run it belongs to (several
        /// movedays may share a journal).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<String>,
        step: CanaryStep,
        /// The primary (`started`, `written`, `not_written`) or the secondary (`picked_up`,
        /// `late`), as the inventory names it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<String>,
        /// The serial the canary was written with (`written`), or the one the secondary
        /// served (`followed`, `late`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<u32>,
        /// Seconds from the write to the secondary serving the canary (`followed`), or
        /// waited in vain (`late`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_s: Option<f64>,
        /// The canary's TXT text (`started`; the same as `run`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Why the update was refused, or the secondary's last error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A moveday stopped watching.
    Stop {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The process, as in its `start` (several may share a journal).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
    },
}

/// The `kind`s this version reads; lines of other kinds are skipped.
pub const KINDS: [&str; 17] = [
    "start",
    "health",
    "check",
    "dns",
    "zone",
    "delegation",
    "target",
    "hosts_file",
    "old",
    "mail",
    "vantage",
    "notify",
    "tick",
    "note",
    "text",
    "canary",
    "stop",
];

impl Event {
    /// The `kind` of the line.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Start { .. } => "start",
            Event::Health { .. } => "health",
            Event::Check { .. } => "check",
            Event::Dns { .. } => "dns",
            Event::Zone { .. } => "zone",
            Event::Delegation { .. } => "delegation",
            Event::Target { .. } => "target",
            Event::HostsFile { .. } => "hosts_file",
            Event::Old { .. } => "old",
            Event::Mail { .. } => "mail",
            Event::Vantage { .. } => "vantage",
            Event::Notify { .. } => "notify",
            Event::Tick { .. } => "tick",
            Event::Note { .. } => "note",
            Event::Text { .. } => "text",
            Event::Canary { .. } => "canary",
            Event::Stop { .. } => "stop",
        }
    }
}

/// Which mail check a `mail` event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailCheck {
    Spf,
    Mx,
    Dnsbl,
}

/// A host named in a `start` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartHost {
    pub name: String,
    #[serde(default)]
    pub fqdn: String,
}

/// A checklist item named in a `start` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StartItem {
    pub id: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub text: String,
}

impl From<&crate::config::ChecklistItem> for StartItem {
    fn from(item: &crate::config::ChecklistItem) -> StartItem {
        StartItem {
            id: item.id.clone(),
            phase: item.phase.clone(),
            text: item.text.clone(),
        }
    }
}

/// A host's health as written in the journal (`store::Health`, kept apart so that the file
/// format does not change when the model does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostHealth {
    Up,
    Degraded,
    Down,
    Unknown,
}

impl HostHealth {
    pub fn word(self) -> &'static str {
        match self {
            HostHealth::Up => "up",
            HostHealth::Degraded => "degraded",
            HostHealth::Down => "down",
            HostHealth::Unknown => "unknown",
        }
    }
}

impl From<store::Health> for HostHealth {
    fn from(h: store::Health) -> Self {
        match h {
            store::Health::Up => HostHealth::Up,
            store::Health::Degraded => HostHealth::Degraded,
            store::Health::Down => HostHealth::Down,
            store::Health::Unknown => HostHealth::Unknown,
        }
    }
}

/// A check's state after flap damping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Unknown,
    Up,
    /// Failing, not yet `fail_after` times: amber.
    Suspect,
    Down,
    /// Was down, succeeding, not yet `recover_after` times: amber.
    Recovering,
}

impl CheckState {
    pub fn word(self) -> &'static str {
        match self {
            CheckState::Unknown => "unknown",
            CheckState::Up => "up",
            CheckState::Suspect => "suspect",
            CheckState::Down => "down",
            CheckState::Recovering => "recovering",
        }
    }
}

impl From<Damped> for CheckState {
    fn from(d: Damped) -> Self {
        match d {
            Damped::Unknown => CheckState::Unknown,
            Damped::Up => CheckState::Up,
            Damped::Suspect { .. } => CheckState::Suspect,
            Damped::Down => CheckState::Down,
            Damped::Recovering { .. } => CheckState::Recovering,
        }
    }
}

/// Which probe a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    Ping,
    Ssh,
    Http,
    Port,
    Service,
}

/// What one resolver's answer means for the move (`store::Verdict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DnsVerdict {
    New,
    Old,
    Other,
    Nxdomain,
    Nodata,
    Timeout,
    Refused,
    Error,
}

impl DnsVerdict {
    pub fn word(self) -> &'static str {
        match self {
            DnsVerdict::New => "new",
            DnsVerdict::Old => "old",
            DnsVerdict::Other => "other",
            DnsVerdict::Nxdomain => "nxdomain",
            DnsVerdict::Nodata => "nodata",
            DnsVerdict::Timeout => "timeout",
            DnsVerdict::Refused => "refused",
            DnsVerdict::Error => "error",
        }
    }
}

impl From<store::Verdict> for DnsVerdict {
    fn from(v: store::Verdict) -> Self {
        match v {
            store::Verdict::New => DnsVerdict::New,
            store::Verdict::Old => DnsVerdict::Old,
            store::Verdict::Other => DnsVerdict::Other,
            store::Verdict::NxDomain => DnsVerdict::Nxdomain,
            store::Verdict::NoData => DnsVerdict::Nodata,
            store::Verdict::Timeout => DnsVerdict::Timeout,
            store::Verdict::Refused => DnsVerdict::Refused,
            store::Verdict::Error => DnsVerdict::Error,
        }
    }
}

/// Whether an address is the host's new one, its old one, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    New,
    Old,
    Other,
}

impl From<store::AddressClass> for AddressKind {
    fn from(c: store::AddressClass) -> Self {
        match c {
            store::AddressClass::New => AddressKind::New,
            store::AddressClass::Old => AddressKind::Old,
            store::AddressClass::Other => AddressKind::Other,
        }
    }
}

/// The parent's glue for one NS name, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GlueEntry {
    pub name: String,
    pub verdict: GlueKind,
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

/// Where the parent's glue for a name points (`store::GlueVerdict`, kept apart so that the
/// file format does not change when the model does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GlueKind {
    New,
    Old,
    Other,
    Missing,
}

impl GlueKind {
    pub fn word(self) -> &'static str {
        match self {
            GlueKind::New => "new",
            GlueKind::Old => "old",
            GlueKind::Other => "other",
            GlueKind::Missing => "missing",
        }
    }
}

impl From<store::GlueVerdict> for GlueKind {
    fn from(v: store::GlueVerdict) -> Self {
        match v {
            store::GlueVerdict::New => GlueKind::New,
            store::GlueVerdict::Old => GlueKind::Old,
            store::GlueVerdict::Other => GlueKind::Other,
            store::GlueVerdict::Missing => GlueKind::Missing,
        }
    }
}

/// The steps of a canary run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryStep {
    /// The update is on its way to the primary.
    Started,
    /// The primary took it.
    Written,
    /// The primary refused it (or never answered): nothing was written.
    NotWritten,
    /// A secondary serves the new serial (or, when the serial was not read back, the new
    /// text).
    PickedUp,
    /// The run ended and this secondary never served the canary.
    Late,
    /// The run ended.
    Finished,
}

/// A zone server's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneRole {
    Primary,
    Secondary,
}

/// The default journal of an inventory: beside its checklist state file
/// (`$XDG_STATE_HOME/moveday/<stem>-<hash>.journal.jsonl`), named the same way.
pub fn default_journal_path(inventory_path: &Path) -> PathBuf {
    let state = crate::checklist::persist::default_state_path(inventory_path);
    state.with_extension("journal.jsonl")
}

/// `--journal FILE` when given, else the inventory's [default](default_journal_path).
pub fn journal_path(given: Option<&Path>, inventory_path: &Path) -> PathBuf {
    given.map_or_else(|| default_journal_path(inventory_path), Path::to_path_buf)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_journal_sits_beside_the_state_file_named_the_same_way() {
        let inv = Path::new("/srv/moves/my.move.toml");
        let state = crate::checklist::persist::default_state_path(inv);
        let journal = default_journal_path(inv);
        assert_eq!(journal.parent(), state.parent());
        let name = journal.file_name().unwrap().to_str().unwrap();
        let state_name = state.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            name,
            format!(
                "{}.journal.jsonl",
                state_name.strip_suffix(".json").unwrap()
            )
        );
        assert!(name.starts_with("my.move-"), "{name}");
        assert_eq!(
            journal_path(Some(Path::new("j.jsonl")), inv),
            PathBuf::from("j.jsonl")
        );
        assert_eq!(journal_path(None, inv), journal);
    }
}
