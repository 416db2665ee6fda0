//! `inventory.toml`: the hosts being moved, their old and new addresses, the resolvers to ask.
//!
//! Parsing is two-step: serde reads a raw, span-carrying form (`Raw*`), then
//! [`Inventory::parse`] validates it into plain types the rest of the program uses.
//! Every rejection carries `path:line:col`.
//!
//! One file per table validates it: `settings` (`[move]`, `[probe]`, `hosts_file`, `[dns]`),
//! `dns` (`[[resolver]]`, `[[zone]]`), `host` (`[[host]]`), `host_service`
//! (`[[host.service]]`), `mail` (`[mail]`, `mail_domains`), `checklist` (`[[checklist]]`), `ssh`
//! (`[ssh]`, `[[vantage]]`) and `notify` (`[[notify]]`); `values` holds the values
//! several tables share (addresses, durations, ports, host names, damping).

mod checklist;
mod dns;
mod host;
mod host_service;
mod mail;
mod notify;
mod settings;
mod ssh;
mod values;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::service::{Damping, ServiceConfig};

pub use mail::{DEFAULT_DNSBL, DEFAULT_DNSBL_EVERY, MAIL_ROLES};
pub use notify::{
    DEFAULT_NOTIFY_MIN_INTERVAL, DEFAULT_NOTIFY_TIMEOUT, NotifyConfig, NotifyOn, NotifyTarget,
    shown_url,
};
pub use settings::load_ca_file;
pub use ssh::{DEFAULT_REMOTE_MOVEDAY, DEFAULT_VANTAGE_EVERY, SshSettings, VantageConfig};
pub use values::duration_text;

/// The validated inventory of a move.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Where it was read from (for messages and for keying state files).
    pub path: PathBuf,
    /// The move's display name.
    pub name: String,
    /// An address inside is "old".
    pub old_network: Option<IpNet>,
    /// An address inside is "new".
    pub new_network: Option<IpNet>,
    pub probe: ProbeSettings,
    /// The hosts file whose entries are compared with DNS (default `/etc/hosts`).
    pub hosts_file: PathBuf,
    /// Resolvers asked for every host's name; never empty (a `system` resolver is implied).
    pub resolvers: Vec<ResolverConfig>,
    pub hosts: Vec<HostConfig>,
    /// The move plan, in file order.
    pub checklist: Vec<ChecklistItem>,
    /// The checklist's phases, in order of first appearance.
    pub phases: Vec<String>,
    /// Zones whose primary and secondaries are watched (SOA serials, NS sets).
    pub zones: Vec<ZoneConfig>,
    /// A TTL above this is flagged as not lowered for the move (default 300 s).
    pub long_ttl: Duration,
    /// How often each zone's parent servers are asked for its delegation (default 60 s).
    pub delegation_every: Duration,
    /// How long a canary run waits for every secondary to follow (default 10 min).
    pub canary_deadline: Duration,
    /// How often a canary run asks each secondary (default 2 s).
    pub canary_every: Duration,
    /// The advertised downtime window (`[move] window_start`, `window_end`), if given.
    pub window_start: Option<chrono::DateTime<chrono::Utc>>,
    pub window_end: Option<chrono::DateTime<chrono::Utc>>,
    /// `[mail]`: the blocklists asked about every mail host's new address.
    pub mail: MailSettings,
    /// `[ssh]`: options given to every ssh moveday runs.
    pub ssh: SshSettings,
    /// `[[vantage]]`: other machines' movedays, asked over SSH.
    pub vantages: Vec<VantageConfig>,
    /// `[[notify]]`: where the team is told what changed.
    pub notify: Vec<NotifyConfig>,
    /// The text it was read from (what a vantage is given on its stdin).
    pub source: SourceText,
    /// Where it came from: a file of this machine, or another machine's plan on stdin.
    pub origin: Origin,
}

/// The inventory's own text. Its `{:?}` says only how long it is: the text may hold a
/// `[[notify]]` URL's token.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceText(pub std::sync::Arc<str>);

impl std::ops::Deref for SourceText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// Where an inventory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A file on this machine: its paths (hosts file, CA file, keys) are this machine's.
    File,
    /// Another machine's plan, on stdin (`--inventory -`, as a vantage point runs it): the
    /// paths it names are that machine's, so this one uses its own `/etc/hosts` and trust
    /// store, writes nothing, and contacts no vantage itself.
    Stdin,
}

/// The hosts file a vantage point uses, whatever the plan names.
pub const SYSTEM_HOSTS_FILE: &str = "/etc/hosts";

/// `[mail]`: which DNS blocklists (DNSBL) are asked about the new address of every mail
/// host, how often, and through which server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Blocklist zones (`zen.spamhaus.org`), lower-case, without the trailing dot; empty:
    /// none asked. Default [`DEFAULT_DNSBL`].
    pub dnsbl: Vec<String>,
    /// Each zone is asked about an address at most this often (default 10 min): public
    /// lists limit their use.
    pub dnsbl_every: std::time::Duration,
    /// The server asked (`None`: the system resolver).
    pub dnsbl_resolver: Option<SocketAddr>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            dnsbl: DEFAULT_DNSBL.iter().map(|z| z.to_string()).collect(),
            dnsbl_every: DEFAULT_DNSBL_EVERY,
            dnsbl_resolver: None,
        }
    }
}

/// A zone served by a primary and its secondaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConfig {
    /// The zone apex, lower-case, without the trailing dot.
    pub name: String,
    pub primary: SocketAddr,
    pub secondaries: Vec<SecondaryConfig>,
    /// The parent zone's servers, asked for the delegation (NS and glue); empty when the
    /// inventory names none.
    pub parent: Vec<SocketAddr>,
    /// The TSIG key file allowed to write the canary record (`canary_key`, relative to the
    /// inventory); read when a canary run starts. Without it moveday never writes.
    pub canary_key: Option<PathBuf>,
}

/// One secondary of a zone, and who runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryConfig {
    pub server: ServerRef,
    /// Who to call when it lags (the post-mortem's "very poor contact information").
    pub contact: Option<String>,
}

/// A DNS server given by address or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRef {
    Address(SocketAddr),
    /// Resolved with the system resolver before each query (port 53).
    Name(String),
}

impl fmt::Display for ServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerRef::Address(a) => ResolverKind::Server(*a).fmt(f),
            ServerRef::Name(n) => f.write_str(n),
        }
    }
}

/// One item of the move plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistItem {
    /// Stable identifier, the key in the state file.
    pub id: String,
    /// Group (for example `before`, `move`, `after`).
    pub phase: String,
    pub text: String,
    /// A live probe whose state the item shows.
    pub check: Option<CheckLink>,
}

/// `check = "HOST.PROBE"`, `check = "HOST.service:NAME"` or `check = "zone:ZONE.CHECK"`: an
/// item linked to a live probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckLink {
    /// A probe of a host: `vbox.http`.
    Host {
        /// Index into `Inventory::hosts`.
        host: usize,
        probe: LinkedProbe,
    },
    /// One `[[host.service]]` of a host, by name: `mail.service:mail-queue`; green when
    /// that service is ok.
    Service {
        /// Index into `Inventory::hosts`.
        host: usize,
        /// Index into the host's `services`.
        service: usize,
    },
    /// A check of a zone: `zone:example.org.delegation`.
    Zone {
        /// Index into `Inventory::zones`.
        zone: usize,
        check: LinkedZoneCheck,
    },
}

impl CheckLink {
    /// The link as written in the inventory: `vbox.http`, `zone:example.org.delegation`
    /// (`?` for an index the inventory does not have). Not sanitized.
    pub fn name(&self, inv: &Inventory) -> String {
        match *self {
            CheckLink::Host { host, probe } => {
                let host = inv.hosts.get(host).map_or("?", |h| h.name.as_str());
                format!("{host}.{}", probe.name())
            }
            CheckLink::Service { host, service } => {
                let h = inv.hosts.get(host);
                let name = h
                    .and_then(|h| h.services.get(service))
                    .map_or("?", |s| s.name.as_str());
                format!("{}.service:{name}", h.map_or("?", |h| h.name.as_str()))
            }
            CheckLink::Zone { zone, check } => {
                let zone = inv.zones.get(zone).map_or("?", |z| z.name.as_str());
                format!("zone:{zone}.{}", check.name())
            }
        }
    }

    /// The probe's or check's own name: `http`, `delegation`.
    pub fn probe_name(&self) -> &'static str {
        match self {
            CheckLink::Host { probe, .. } => probe.name(),
            CheckLink::Service { .. } => "service",
            CheckLink::Zone { check, .. } => check.name(),
        }
    }
}

/// The checks of a zone a checklist item can be linked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkedZoneCheck {
    /// The parent's NS set agrees with the zone's and every glue is new.
    Delegation,
    /// The zone's last canary run reached every secondary (`canary_key`).
    Canary,
}

impl LinkedZoneCheck {
    pub const ALL: [(&'static str, LinkedZoneCheck); 2] = [
        ("delegation", LinkedZoneCheck::Delegation),
        ("canary", LinkedZoneCheck::Canary),
    ];

    pub fn name(self) -> &'static str {
        LinkedZoneCheck::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(n, _)| n)
    }
}

/// The probes a checklist item can be linked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkedProbe {
    /// The host's overall health is `up`.
    Health,
    Ping,
    Ssh,
    Http,
    /// Every resolver answers the new address.
    Dns,
    /// The hosts file has no entry for the host, or one that agrees with DNS.
    HostsFile,
    /// A mail host's mail is clean: SPF passes for the new address in every mail domain,
    /// no blocklist lists it, and its reverse DNS resolves back.
    Mail,
}

impl LinkedProbe {
    pub const ALL: [(&'static str, LinkedProbe); 7] = [
        ("health", LinkedProbe::Health),
        ("ping", LinkedProbe::Ping),
        ("ssh", LinkedProbe::Ssh),
        ("http", LinkedProbe::Http),
        ("dns", LinkedProbe::Dns),
        ("hosts_file", LinkedProbe::HostsFile),
        ("mail", LinkedProbe::Mail),
    ];

    pub fn name(self) -> &'static str {
        LinkedProbe::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(n, _)| n)
    }
}

/// Probe cadence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Time between the starts of two probe rounds of a host.
    pub interval: Duration,
    /// How long one probe may take before it counts as a timeout.
    pub timeout: Duration,
    /// Default for hosts: also probe `old_ip` (`probe_old = true` in `[probe]`).
    pub probe_old: bool,
    /// Default flap damping for hosts (`fail_after`, `recover_after` in `[probe]`).
    pub damping: Damping,
    /// PEM file of CA certificates trusted beyond the system store (a company CA), for the
    /// TLS checks; relative to the inventory.
    pub ca_file: Option<PathBuf>,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            probe_old: false,
            damping: Damping::default(),
            ca_file: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    pub name: String,
    pub kind: ResolverKind,
    /// Zones (indices into `Inventory::zones`) this server is the primary or a secondary
    /// of. Names in them are asked without recursion, and an answer without the AA flag
    /// marks the server lame.
    pub serves: Vec<usize>,
    /// Not a `[[resolver]]` of the file: added because a `[[zone]]` names the server.
    pub implied: bool,
}

impl ResolverConfig {
    /// Whether this column is asked about a name in zone `zone` (`None`: in no inventory
    /// zone): a `[[resolver]]` is asked about every name, a server added for its zones
    /// only about the names in them.
    pub fn asks_about(&self, zone: Option<usize>) -> bool {
        !self.implied || zone.is_some_and(|z| self.serves.contains(&z))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolverKind {
    /// The operating system's configuration (`/etc/resolv.conf`).
    System,
    /// One DNS server, asked directly.
    Server(SocketAddr),
    /// A zone's secondary given by name: its address is looked up with the system resolver
    /// (port 53).
    Named(String),
}

impl fmt::Display for ResolverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolverKind::System => f.write_str("system"),
            ResolverKind::Server(addr) if addr.port() == 53 => write!(f, "{}", addr.ip()),
            ResolverKind::Server(addr) => write!(f, "{addr}"),
            ResolverKind::Named(name) => f.write_str(name),
        }
    }
}

/// One host being moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// Short name, unique in the inventory (`vbox`).
    pub name: String,
    /// The name DNS is asked about (`vbox.example.org`).
    pub fqdn: String,
    pub old_ip: Option<IpAddr>,
    /// The probe target when set; otherwise the fqdn as the system would resolve it.
    pub new_ip: Option<IpAddr>,
    /// Whether to ping the host (default true).
    pub ping: bool,
    /// SSH port to read a banner from, `None` to skip.
    pub ssh: Option<u16>,
    /// URL to fetch; its host is sent as Host and SNI while connecting to the target IP.
    pub http: Option<String>,
    /// What the host does (`mail` makes a reverse-DNS mismatch an alarm).
    pub role: Option<String>,
    /// Expected open TCP ports (`ports = [80, 443]`), each probed as open/refused/filtered.
    pub ports: Vec<u16>,
    /// `[[host.service]]` entries, in inventory order.
    pub services: Vec<ServiceConfig>,
    /// Also run the ports and services against `old_ip` (needs `old_ip`).
    pub probe_old: bool,
    /// Flap damping thresholds (the `[probe]` defaults unless the host sets its own).
    pub damping: Damping,
    /// The mail domains the host serves (`mail_domains`; by default the domain of its
    /// fqdn), lower-case, without the trailing dot; empty on a host that is no mail host.
    pub mail_domains: Vec<String>,
}

impl HostConfig {
    /// Whether the host sends or receives mail (`role = "mail"`, `"mx"` or `"smtp"`): its
    /// reverse DNS, SPF, blocklists, MX and HELO name matter.
    pub fn is_mail(&self) -> bool {
        self.role
            .as_deref()
            .is_some_and(|r| MAIL_ROLES.contains(&r))
    }
}

impl Inventory {
    /// Reads and validates an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, ConfigError> {
        if path == Path::new("-") {
            return Inventory::parse_stdin(&super::read_stdin("inventory")?);
        }
        let source = super::read_config(path, "inventory")?;
        let inventory = Inventory::parse(path, &source)?;
        // A canary key that cannot be used is bad input now, not when a run starts; one
        // this user may not read (BIND's `root:bind 0640`) is only needed by `canary` and
        // `C`, which say so then.
        for key in inventory
            .zones
            .iter()
            .filter_map(|z| z.canary_key.as_deref())
        {
            match super::load_tsig_key(key) {
                Err(e) if e.message.contains("Permission denied") => {}
                other => {
                    other?;
                }
            }
        }
        Ok(inventory)
    }

    /// Validates inventory text; `path` is used for messages only.
    ///
    /// The tables are checked in this order, which decides which of two mistakes is
    /// reported: `[move]`, `[probe]`, `hosts_file`, `[[resolver]]`, `[[host]]` (with its
    /// services), `[[checklist]]` (whose links name hosts), `[[zone]]`.
    pub fn parse(path: &Path, source: &str) -> Result<Inventory, ConfigError> {
        Inventory::parse_from(path, source, Origin::File)
    }

    /// Another machine's plan (`--inventory -`): validated as a file is, but its paths are
    /// not read (they name that machine's files): the hosts file is this machine's
    /// `/etc/hosts`, TLS trusts this machine's store, no canary key, no vantage, no ssh, no
    /// blocklist.
    pub fn parse_stdin(source: &str) -> Result<Inventory, ConfigError> {
        let mut inv = Inventory::parse_from(Path::new("-"), source, Origin::Stdin)?;
        inv.hosts_file = PathBuf::from(SYSTEM_HOSTS_FILE);
        inv.probe.ca_file = None;
        for zone in &mut inv.zones {
            zone.canary_key = None;
        }
        inv.vantages.clear();
        // The laptop tells the team; a vantage point only answers it.
        inv.notify.clear();
        inv.ssh = SshSettings::default();
        // The laptop asks the blocklists, within their usage limits; a vantage (a new
        // process every run, with an empty cache) would ask them every run.
        inv.mail.dnsbl.clear();
        inv.mail.dnsbl_resolver = None;
        Ok(inv)
    }

    fn parse_from(path: &Path, source: &str, origin: Origin) -> Result<Inventory, ConfigError> {
        let raw: RawInventory = toml::from_str(source).map_err(|e| {
            let mut err = ConfigError::from_toml(path, source, &e);
            // TOML puts a key after a [table] header into that table: a common slip for
            // the one top-level key.
            if err.message.starts_with("unknown field `hosts_file`") {
                err.message = "`hosts_file` belongs at the top level (above the first [table] header) or in [probe]".into();
            }
            err
        })?;
        let err =
            |span: std::ops::Range<usize>, msg: String| ConfigError::at(path, source, span, msg);

        let the_move = settings::move_table(raw.r#move, path, &err)?;
        let files = (origin == Origin::File).then_some(path);
        let (probe, probe_hosts_file) = settings::probe_table(raw.probe, files, &err)?;
        let hosts_file = settings::hosts_file(raw.hosts_file, probe_hosts_file, path, &err)?;
        let mut resolvers = dns::resolvers(raw.resolver, &err)?;
        let hosts = host::hosts(raw.host, &probe, &err)?;
        let zones = dns::zones(raw.zone, path, &err)?;
        let (checklist, phases) = checklist::checklist(raw.checklist, &hosts, &zones, &err)?;
        dns::attach_zone_servers(&mut resolvers, &zones);
        let dns_settings = settings::dns_table(raw.dns, &err)?;
        let mail = mail::mail_table(raw.mail, &err)?;
        let ssh = ssh::ssh_table(raw.ssh, &err)?;
        let vantages = ssh::vantages(raw.vantage, &err)?;
        let notify = notify::notify(raw.notify, &err)?;

        Ok(Inventory {
            path: path.to_path_buf(),
            name: the_move.name,
            old_network: the_move.old_network,
            new_network: the_move.new_network,
            probe,
            hosts_file,
            resolvers,
            hosts,
            checklist,
            phases,
            zones,
            long_ttl: dns_settings.long_ttl,
            delegation_every: dns_settings.delegation_every,
            canary_deadline: dns_settings.canary_deadline,
            canary_every: dns_settings.canary_every,
            window_start: the_move.window_start,
            window_end: the_move.window_end,
            mail,
            ssh,
            vantages,
            notify,
            source: SourceText(source.into()),
            origin,
        })
    }

    /// The index of the host called `name`.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
    }
}

/// The whole file, as serde reads it; each table's `Raw*` type lives with its validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    r#move: Option<settings::RawMove>,
    probe: Option<settings::RawProbe>,
    hosts_file: Option<Spanned<String>>,
    #[serde(default)]
    resolver: Vec<dns::RawResolver>,
    #[serde(default)]
    host: Vec<host::RawHost>,
    #[serde(default)]
    checklist: Vec<checklist::RawChecklistItem>,
    #[serde(default)]
    zone: Vec<dns::RawZone>,
    dns: Option<settings::RawDns>,
    mail: Option<mail::RawMail>,
    ssh: Option<ssh::RawSsh>,
    #[serde(default)]
    vantage: Vec<ssh::RawVantage>,
    #[serde(default)]
    notify: Vec<notify::RawNotify>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::service::{
        BodyMatch, DEFAULT_MAX_BODY, DEFAULT_WARN_DAYS, Freshness, ServiceKind, SmtpService,
        TcpService, TlsService,
    };

    fn parse(s: &str) -> Result<Inventory, ConfigError> {
        Inventory::parse(Path::new("inv.toml"), s)
    }

    #[test]
    fn minimal_host_gets_defaults() {
        let inv = parse("[[host]]\nname = \"a\"\nfqdn = \"A.example.org.\"\n").unwrap();
        assert_eq!(inv.hosts[0].fqdn, "a.example.org");
        assert_eq!(inv.hosts[0].ssh, Some(22));
        assert!(inv.hosts[0].ping);
        assert_eq!(inv.resolvers[0].kind, ResolverKind::System);
        assert_eq!(inv.hosts_file, PathBuf::from("/etc/hosts"));
        assert_eq!(inv.probe, ProbeSettings::default());
    }

    #[test]
    fn hosts_file_accepted_inside_probe_table() {
        let inv = parse("[probe]\ninterval = \"5s\"\nhosts_file = \"/tmp/h\"\n").unwrap();
        assert_eq!(inv.hosts_file, PathBuf::from("/tmp/h"));
        assert_eq!(inv.probe.interval, Duration::from_secs(5));
    }

    #[test]
    fn bad_values_are_located() {
        let e = parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nnew_ip = \"1.2.3.999\"\n")
            .unwrap_err();
        assert_eq!((e.line, e.col), (4, 10), "{e}");
        assert!(e.message.contains("invalid IP address `1.2.3.999`"), "{e}");
        let e = parse("[probe]\ninterval = \"2 parsecs\"\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 12), "{e}");
        let e = parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nssh = 70000\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("invalid ssh port 70000"), "{e}");
    }

    #[test]
    fn move_window_takes_rfc3339_strings_or_toml_datetimes() {
        let inv = parse(
            "[move]\nwindow_start = \"2009-12-05T09:00:00+01:00\"\nwindow_end = 2009-12-06T20:00:00Z\n",
        )
        .unwrap();
        assert_eq!(
            inv.window_start.map(|t| t.to_rfc3339()).as_deref(),
            Some("2009-12-05T08:00:00+00:00")
        );
        assert_eq!(
            inv.window_end.map(|t| t.to_rfc3339()).as_deref(),
            Some("2009-12-06T20:00:00+00:00")
        );
        assert_eq!(parse("").unwrap().window_start, None);
        // A time without an offset is ambiguous on a move across time zones.
        let e = parse("[move]\nname = \"m\"\nwindow_start = \"2009-12-05 09:00\"\n");
        let e = e.unwrap_err();
        assert_eq!((e.line, e.col), (3, 16), "{e}");
        let want = "invalid window_start `2009-12-05 09:00`";
        assert!(e.message.contains(want), "{e}");
        let e = parse("[move]\nwindow_end = 2009-12-05T09:00:00\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse("[move]\nwindow_start = 17\n").unwrap_err();
        assert!(e.message.contains("invalid window_start `17`"), "{e}");
        let e = parse(
            "[move]\nwindow_start = \"2009-12-05T09:00:00Z\"\nwindow_end = \"2009-12-05T08:00:00Z\"\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (3, 14), "{e}");
        assert_eq!(e.message, "window_end must be after window_start");
    }

    #[test]
    fn resolver_address_takes_optional_port() {
        let inv = parse(
            "[[resolver]]\nname = \"a\"\naddress = \"127.0.0.1\"\n[[resolver]]\nname = \"b\"\naddress = \"[::1]:5353\"\n",
        )
        .unwrap();
        assert_eq!(inv.resolvers[0].kind.to_string(), "127.0.0.1");
        assert_eq!(inv.resolvers[1].kind.to_string(), "[::1]:5353");
    }

    #[test]
    fn zones_with_secondaries_contacts_and_roles() {
        let inv = parse(
            r#"
[dns]
long_ttl = "10m"
[[zone]]
name = "Example.org."
primary = "203.0.113.10"
secondaries = ["192.0.2.53:5353", "ns2.example.net"]
contact = { "192.0.2.53:5353" = "Aleksi, +358 40 000", "ns2.example.net" = "noc@example.net" }
[[zone]]
name = "example.com"
primary = "203.0.113.10"
secondaries = ["192.0.2.54"]
contact = "hostmaster@example.com"
[[host]]
name = "mail"
fqdn = "mail.example.org"
role = "Mail"
"#,
        )
        .unwrap();
        assert_eq!(inv.long_ttl, Duration::from_secs(600));
        assert_eq!(inv.zones[0].name, "example.org");
        assert_eq!(
            inv.zones[0].secondaries[0].server.to_string(),
            "192.0.2.53:5353"
        );
        assert_eq!(
            inv.zones[0].secondaries[0].contact.as_deref(),
            Some("Aleksi, +358 40 000")
        );
        assert_eq!(
            inv.zones[0].secondaries[1].server,
            ServerRef::Name("ns2.example.net".into())
        );
        assert_eq!(
            inv.zones[0].secondaries[1].contact.as_deref(),
            Some("noc@example.net")
        );
        assert_eq!(
            inv.zones[1].secondaries[0].contact.as_deref(),
            Some("hostmaster@example.com")
        );
        assert_eq!(inv.hosts[0].role.as_deref(), Some("mail"));
        assert_eq!(
            Inventory::parse(Path::new("x"), "").unwrap().long_ttl,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn zone_errors_are_located() {
        let e = parse("[[zone]]\nname = \"example.org\"\nprimary = \"203.0.113.10\"\nsecondaries = [\"1.2.3\"]\n").unwrap_err();
        assert_eq!((e.line, e.col), (4, 16), "{e}");
        let e = parse(
            "[[zone]]\nname = \"example.org\"\nprimary = \"203.0.113.10\"\nsecondaries = [\"192.0.2.1\"]\ncontact = { \"192.0.2.9\" = \"x\" }\n",
        )
        .unwrap_err();
        assert!(e.message.contains("not a secondary"), "{e}");
        assert_eq!(e.line, 5, "{e}");
    }

    #[test]
    fn zone_parent_servers_are_addresses_and_their_errors_are_located() {
        let zone = "[[zone]]\nname = \"example.org\"\nprimary = \"203.0.113.10\"\n";
        let inv = parse(&format!(
            "{zone}parent = [\"192.0.2.1\", \"[::1]:5353\"]\n[dns]\ndelegation_every = \"5m\"\n"
        ))
        .unwrap();
        let want: Vec<SocketAddr> = vec![
            "192.0.2.1:53".parse().unwrap(),
            "[::1]:5353".parse().unwrap(),
        ];
        assert_eq!(inv.zones[0].parent, want);
        assert_eq!(inv.delegation_every, Duration::from_secs(300));
        let inv = parse(zone).unwrap();
        assert!(inv.zones[0].parent.is_empty());
        assert_eq!(inv.delegation_every, Duration::from_secs(60));
        // `[dns] delegation_every` is in `limits::DELEGATION_EVERY`, both ends accepted.
        for every in ["1s", "1d"] {
            parse(&format!("[dns]\ndelegation_every = \"{every}\"\n")).unwrap();
        }
        for (every, message) in [
            ("999ms", "delegation_every must be at least 1s"),
            ("86401s", "delegation_every must be at most 1d"),
        ] {
            let e = parse(&format!("[dns]\ndelegation_every = \"{every}\"\n")).unwrap_err();
            assert_eq!((e.line, e.col), (2, 20), "{e}");
            assert_eq!(e.message, message);
        }
        for (text, at, message) in [
            (
                "parent = [\"192.0.2.1\", \"a.gtld-servers.net\"]\n",
                (4, 24),
                "invalid parent server `a.gtld-servers.net`",
            ),
            ("parent = [\"192.0.2.1:0\"]\n", (4, 11), "port 0"),
            (
                "parent = [\"192.0.2.1\", \"192.0.2.1:53\"]\n",
                (4, 24),
                "listed twice",
            ),
            ("parent = []\n", (4, 10), "at least one server"),
        ] {
            let e = parse(&format!("{zone}{text}")).unwrap_err();
            assert_eq!((e.line, e.col), at, "{e}");
            assert!(e.message.contains(message), "{e}");
        }
    }

    const SERVICES: &str = r#"
[probe]
probe_old = true
fail_after = 4
recover_after = 2

[[host]]
name = "www"
fqdn = "www.example.org"
old_ip = "198.51.100.12"
new_ip = "203.0.113.12"
ports = [80, 443]
probe_old = false
fail_after = 3

[[host.service]]
name = "site"
kind = "https"
url = "HTTPS://WWW.example.org"
expect_status = 301
contains = "Welcome"
max_age = "6h"
max_body = 4096
warn_days = 30

[[host.service]]
name = "planet"
kind = "http"
url = "http://planet.example.org/"
contains = "/<title>[^<]*Planet/"
max_age = "1d"
fresh_regex = "Last updated: (\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d)"
fresh_format = "%Y-%m-%d %H:%M"

[[host.service]]
name = "cert"
kind = "tls"

[[host.service]]
name = "cert-alt"
kind = "tls"
port = 8443
server_name = "Alt.Example.org."
warn_days = 0

[[host]]
name = "mail"
fqdn = "mail.example.org"
old_ip = "198.51.100.11"
ports = []

[[host.service]]
name = "smtp"
kind = "smtp"

[[host.service]]
name = "submission"
kind = "smtp"
port = 587
ehlo = "moveday.example.org"
expect_starttls = false

[[host]]
name = "jabber"
fqdn = "jabber.example.org"
recover_after = 1

[[host.service]]
name = "jabber-c2s"
kind = "tcp"
port = 5222
send = "<stream:stream to='example.org'>\r\n"
expect = "/stream:(stream|features)/"

[[host.service]]
name = "jabber-s2s"
kind = "tcp"
port = 5269
expect = "stream"

[[host.service]]
name = "bare"
kind = "tcp"
port = 5280
"#;

    #[test]
    #[allow(
        clippy::too_many_lines,
        reason = "one inventory, every service key checked in turn"
    )]
    fn services_ports_and_damping_are_checked_values() {
        let inv = parse(SERVICES).unwrap();
        assert!(inv.probe.probe_old);
        assert_eq!(
            inv.probe.damping,
            Damping {
                fail_after: 4,
                recover_after: 2
            }
        );

        let www = &inv.hosts[0];
        assert_eq!(www.ports, [80, 443]);
        assert!(!www.probe_old, "the host's own probe_old wins");
        assert_eq!(
            www.damping,
            Damping {
                fail_after: 3,
                recover_after: 2
            },
            "fail_after from the host, recover_after from [probe]"
        );
        let names: Vec<&str> = www.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["site", "planet", "cert", "cert-alt"]);

        let ServiceKind::Http(site) = &www.services[0].kind else {
            panic!("{:?}", www.services[0]);
        };
        assert_eq!(site.url, "https://www.example.org/", "normalised");
        assert_eq!(www.services[0].kind.word(), "https");
        assert_eq!(site.expect_status, 301);
        assert_eq!(site.contains, Some(BodyMatch::Substring("Welcome".into())));
        assert_eq!(
            site.freshness,
            Some(Freshness {
                max_age: Duration::from_secs(6 * 3600),
                fresh_regex: None,
                fresh_format: None,
            })
        );
        assert_eq!((site.max_body, site.warn_days), (4096, 30));

        let ServiceKind::Http(planet) = &www.services[1].kind else {
            panic!("{:?}", www.services[1]);
        };
        assert_eq!(www.services[1].kind.word(), "http");
        assert_eq!(planet.expect_status, 200);
        assert_eq!(planet.max_body, DEFAULT_MAX_BODY);
        assert_eq!(planet.warn_days, DEFAULT_WARN_DAYS);
        let Some(BodyMatch::Regex(title)) = &planet.contains else {
            panic!("{:?}", planet.contains);
        };
        assert_eq!(title.source, "<title>[^<]*Planet");
        assert!(title.regex.is_match("<title>Planet example.org</title>"));
        let fresh = planet.freshness.as_ref().unwrap();
        assert_eq!(fresh.max_age, Duration::from_secs(86400));
        assert_eq!(fresh.fresh_format.as_deref(), Some("%Y-%m-%d %H:%M"));
        let re = &fresh.fresh_regex.as_ref().unwrap().regex;
        let caps = re
            .captures("<p>Last updated: 2024-03-09 17:05 UTC</p>")
            .unwrap();
        assert_eq!(&caps[1], "2024-03-09 17:05");

        assert_eq!(
            www.services[2].kind,
            ServiceKind::Tls(TlsService {
                port: 443,
                server_name: None,
                warn_days: DEFAULT_WARN_DAYS
            })
        );
        assert_eq!(
            www.services[3].kind,
            ServiceKind::Tls(TlsService {
                port: 8443,
                server_name: Some("alt.example.org".into()),
                warn_days: 0
            })
        );

        let mail = &inv.hosts[1];
        assert!(mail.ports.is_empty());
        assert!(
            mail.probe_old,
            "[probe] probe_old applies to a host with an old_ip"
        );
        assert_eq!(mail.damping, inv.probe.damping);
        assert_eq!(
            mail.services[0].kind,
            ServiceKind::Smtp(SmtpService {
                port: 25,
                ehlo: "moveday.invalid".into(),
                expect_starttls: true
            })
        );
        assert_eq!(
            mail.services[1].kind,
            ServiceKind::Smtp(SmtpService {
                port: 587,
                ehlo: "moveday.example.org".into(),
                expect_starttls: false
            })
        );

        let jabber = &inv.hosts[2];
        assert!(!jabber.probe_old, "no old_ip: nothing old to probe");
        assert_eq!(
            jabber.damping,
            Damping {
                fail_after: 4,
                recover_after: 1
            }
        );
        let ServiceKind::Tcp(c2s) = &jabber.services[0].kind else {
            panic!("{:?}", jabber.services[0]);
        };
        assert_eq!(c2s.port, 5222);
        assert_eq!(
            c2s.send.as_deref(),
            Some("<stream:stream to='example.org'>\r\n")
        );
        assert!(
            matches!(&c2s.expect, Some(BodyMatch::Regex(p)) if p.source == "stream:(stream|features)")
        );
        assert_eq!(
            jabber.services[1].kind,
            ServiceKind::Tcp(TcpService {
                port: 5269,
                send: None,
                expect: Some(BodyMatch::Substring("stream".into()))
            })
        );
        assert_eq!(
            jabber.services[2].kind,
            ServiceKind::Tcp(TcpService {
                port: 5280,
                send: None,
                expect: None
            })
        );
    }

    #[test]
    fn hosts_without_services_get_the_probe_defaults() {
        let inv =
            parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nold_ip = \"198.51.100.1\"\n").unwrap();
        let h = &inv.hosts[0];
        assert!(h.ports.is_empty() && h.services.is_empty());
        assert!(!h.probe_old);
        assert_eq!(h.damping, Damping::default());
        // No [probe] values: fail_after = 2, recover_after = 1.
        assert_eq!((h.damping.fail_after, h.damping.recover_after), (2, 1));
    }

    /// The message and `line:col` of an inventory made of `host` plus one service table.
    fn service_error(service: &str) -> (usize, usize, String) {
        let src = format!(
            "[[host]]\nname = \"www\"\nfqdn = \"www.example.org\"\n[[host.service]]\nname = \"s\"\n{service}"
        );
        let e = parse(&src).unwrap_err();
        (e.line, e.col, e.message)
    }

    #[test]
    fn service_errors_are_located_at_the_value() {
        let (line, col, msg) = service_error("kind = \"FTP\"\n");
        assert_eq!((line, col), (6, 8));
        assert_eq!(
            msg,
            "unknown service kind \"FTP\": expected http, https, tls, smtp, tcp or command"
        );
        // Upper case is fine.
        assert_eq!(
            service_error("kind = \"TLS\"\nport = 0\n"),
            (7, 8, "invalid port 0: expected 1-65535".into())
        );
        // The first key (in the file) that does not belong is named.
        assert_eq!(
            service_error("kind = \"smtp\"\nsend = \"x\"\nurl = \"http://a.org/\"\n"),
            (7, 8, "key `send` does not apply to kind = \"smtp\"".into())
        );
        assert_eq!(
            service_error("kind = \"tcp\"\nport = 1\nmax_age = \"1h\"\n").2,
            "max_age needs a time to read: only http/https services have one \
             (Last-Modified or fresh_regex)"
        );
        assert_eq!(
            service_error("kind = \"https\"\nurl = \"https://a.org/\"\ncontains = \"//\"\n"),
            (
                8,
                12,
                "contains = \"//\" is an empty regex, which matches anything".into()
            )
        );
        assert_eq!(
            service_error("kind = \"https\"\nurl = \"https://a.org/\"\nmax_age = \"0s\"\n"),
            (8, 11, "max_age must be at least 1s".into())
        );
        assert_eq!(
            service_error("kind = \"tcp\"\nport = 7\nsend = \"\"\n").2,
            "send must not be empty (leave it out to only connect)"
        );
        assert_eq!(
            service_error("kind = \"tls\"\nserver_name = \"a..b\"\n"),
            (
                7,
                15,
                "invalid server_name `a..b`: it has an empty label".into()
            )
        );
        assert!(
            service_error("kind = \"smtp\"\nehlo = \"two words\"\n")
                .2
                .starts_with("invalid ehlo `two words`"),
        );
        for literal in ["[192.0.2.1]", "[IPv6:2001:db8::1]"] {
            let src = format!(
                "[[host]]\nname = \"m\"\nfqdn = \"m.org\"\n[[host.service]]\nname = \"s\"\nkind = \"smtp\"\nehlo = \"{literal}\"\n"
            );
            parse(&src).unwrap_or_else(|e| panic!("{e}"));
        }
        // A missing required key points at the service's name.
        assert_eq!(
            service_error("kind = \"http\"\n"),
            (5, 8, "service `s`: kind = \"http\" needs a `url`".into())
        );
        assert_eq!(
            service_error("kind = \"tcp\"\n"),
            (5, 8, "service `s`: kind = \"tcp\" needs a `port`".into())
        );
        // Names are compared ignoring case, like host names.
        let e = parse(
            "[[host]]\nname = \"a\"\nfqdn = \"a.org\"\n[[host.service]]\nname = \"Cert\"\nkind = \"tls\"\n[[host.service]]\nname = \"cert\"\nkind = \"tls\"\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (8, 8), "{e}");
        assert_eq!(e.message, "duplicate service name `cert` in host `a`");
        // The same service name on two hosts is fine.
        parse(
            "[[host]]\nname = \"a\"\nfqdn = \"a.org\"\n[[host.service]]\nname = \"cert\"\nkind = \"tls\"\n[[host]]\nname = \"b\"\nfqdn = \"b.org\"\n[[host.service]]\nname = \"cert\"\nkind = \"tls\"\n",
        )
        .unwrap();
    }

    #[test]
    fn mail_domains_default_to_the_fqdns_domain_on_mail_hosts_only() {
        let inv = parse(
            "[[host]]\nname = \"mail\"\nfqdn = \"Mail.Example.org\"\nrole = \"MX\"\n\
             [[host]]\nname = \"smtp\"\nfqdn = \"smtp.example.org\"\nrole = \"smtp\"\n\
             mail_domains = [\"example.org\", \"Lists.Example.org.\"]\n\
             [[host]]\nname = \"www\"\nfqdn = \"www.example.org\"\n\
             [[host]]\nname = \"bare\"\nfqdn = \"localhost\"\nrole = \"mail\"\n",
        )
        .unwrap();
        assert_eq!(inv.hosts[0].mail_domains, ["example.org"]);
        assert!(inv.hosts[0].is_mail());
        assert_eq!(
            inv.hosts[1].mail_domains,
            ["example.org", "lists.example.org"]
        );
        assert!(inv.hosts[2].mail_domains.is_empty() && !inv.hosts[2].is_mail());
        assert!(
            inv.hosts[3].mail_domains.is_empty(),
            "a one-label fqdn has no domain"
        );
        assert_eq!(inv.mail, MailSettings::default());
        assert_eq!(inv.mail.dnsbl, DEFAULT_DNSBL);
        assert_eq!(inv.mail.dnsbl_every, Duration::from_secs(600));

        let e = parse("[[host]]\nname = \"www\"\nfqdn = \"www.example.org\"\nmail_domains = [\"example.org\"]\n").unwrap_err();
        assert_eq!((e.line, e.col), (4, 16), "{e}");
        assert!(
            e.message.starts_with("mail_domains applies to a mail host"),
            "{e}"
        );
        let host = "[[host]]\nname = \"m\"\nfqdn = \"m.example.org\"\nrole = \"mail\"\n";
        let e = parse(&format!("{host}mail_domains = [\"a.org\", \"b..org\"]\n")).unwrap_err();
        assert_eq!((e.line, e.col), (5, 26), "{e}");
        assert_eq!(
            e.message,
            "invalid mail domain `b..org`: it has an empty label"
        );
        let e = parse(&format!("{host}mail_domains = [\"a.org\", \"A.org\"]\n")).unwrap_err();
        assert_eq!(e.message, "mail domain `a.org` is listed twice");
        let e = parse(&format!("{host}mail_domains = []\n")).unwrap_err();
        assert!(
            e.message.starts_with("mail_domains must list at least one"),
            "{e}"
        );
    }

    #[test]
    fn the_mail_table_is_checked() {
        let inv = parse(
            "[mail]\ndnsbl = [\"BL.example.\", \"dnsbl.test\"]\ndnsbl_every = \"1h\"\ndnsbl_resolver = \"127.0.0.1:5353\"\n",
        )
        .unwrap();
        assert_eq!(inv.mail.dnsbl, ["bl.example", "dnsbl.test"]);
        assert_eq!(inv.mail.dnsbl_every, Duration::from_secs(3600));
        assert_eq!(
            inv.mail.dnsbl_resolver,
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert!(
            parse("[mail]\ndnsbl = []\n").unwrap().mail.dnsbl.is_empty(),
            "none asked"
        );
        assert_eq!(
            parse("[mail]\ndnsbl_resolver = \"192.0.2.1\"\n")
                .unwrap()
                .mail
                .dnsbl_resolver,
            Some("192.0.2.1:53".parse().unwrap())
        );
        let cases = [
            (
                "[mail]\ndnsbl_every = \"59s\"\n",
                (2, 15),
                "dnsbl_every below 1m needs lists of your own",
            ),
            (
                "[mail]\ndnsbl = [\"bl.test\"]\ndnsbl_resolver = \"127.0.0.1:5353\"\ndnsbl_every = \"500ms\"\n",
                (4, 15),
                "dnsbl_every must be at least 1s",
            ),
            (
                "[mail]\ndnsbl_every = \"86401s\"\n",
                (2, 15),
                "dnsbl_every must be at most 1d",
            ),
            (
                "[mail]\ndnsbl = [\"a.test\", \"a.test.\"]\n",
                (2, 20),
                "dnsbl zone `a.test` is listed twice",
            ),
            (
                "[mail]\ndnsbl = [\"-a.test\"]\n",
                (2, 10),
                "invalid dnsbl zone `-a.test`: a label starts or ends with `-`",
            ),
            (
                "[mail]\ndnsbl_resolver = \"ns.example\"\n",
                (2, 18),
                "invalid dnsbl_resolver `ns.example`",
            ),
            (
                "[mail]\ndnsbl_resolver = \"127.0.0.1:0\"\n",
                (2, 18),
                "invalid dnsbl_resolver `127.0.0.1:0`: port 0",
            ),
        ];
        for (text, at, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.col), at, "{text}: {e}");
            assert!(e.message.starts_with(want), "{text}: {e}");
        }
        parse("[mail]\ndnsbl_every = \"1m\"\n").unwrap();
        parse("[mail]\ndnsbl_every = \"1d\"\n").unwrap();
        parse("[mail]\ndnsbl = [\"bl.test\"]\ndnsbl_resolver = \"127.0.0.1:5353\"\ndnsbl_every = \"1s\"\n").unwrap();
        // A resolver of one's own in front of the public lists is not enough.
        assert!(
            parse("[mail]\ndnsbl_resolver = \"127.0.0.1:5353\"\ndnsbl_every = \"1s\"\n").is_err()
        );
    }

    #[test]
    fn vantages_and_ssh_options_are_checked() {
        let inv = parse(
            "[ssh]\noptions = [\"-o\", \"StrictHostKeyChecking=accept-new\"]\n\
             [[vantage]]\nname = \"office\"\nssh = \"admin@bastion.example.org\"\n\
             ssh_options = [\"-i\", \"~/.ssh/move\"]\nevery = \"1h\"\n\
             [[vantage]]\nname = \"eu-1\"\nssh = \"eu\"\nmoveday = \"~/bin/moveday\"\n",
        )
        .unwrap();
        assert_eq!(inv.ssh.options, ["-o", "StrictHostKeyChecking=accept-new"]);
        assert_eq!(inv.vantages.len(), 2);
        assert_eq!(inv.vantages[0].moveday, "moveday");
        assert_eq!(inv.vantages[0].ssh_options, ["-i", "~/.ssh/move"]);
        assert_eq!(inv.vantages[0].every, Duration::from_secs(3600));
        assert_eq!(inv.vantages[1].moveday, "~/bin/moveday");
        assert_eq!(inv.vantages[1].every, Duration::from_secs(30));
        let v = "[[vantage]]\nname = \"office\"\n";
        for (text, want) in [
            (
                format!("{v}ssh = \"-oProxyCommand=x\"\n"),
                "invalid ssh destination `-oProxyCommand=x`: it starts with `-`",
            ),
            (
                format!("{v}ssh = \"a b\"\n"),
                "invalid ssh destination `a b`: it contains a space",
            ),
            (
                format!("{v}ssh = \"a\"\nmoveday = \"moveday; rm -rf /\"\n"),
                "invalid moveday `moveday; rm -rf /`",
            ),
            (
                format!("{v}ssh = \"a\"\nevery = \"1s\"\n"),
                "every must be at least 5s",
            ),
            (
                format!("{v}ssh = \"a\"\n{v}ssh = \"b\"\n"),
                "vantage `office` is defined twice",
            ),
            (
                "[[vantage]]\nname = \"a b\"\nssh = \"a\"\n".to_string(),
                "invalid vantage name `a b`",
            ),
            (
                "[ssh]\noptions = [\"\"]\n".to_string(),
                "[ssh] options: an argument is empty",
            ),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.message.starts_with(want), "{text}: {e}");
        }
    }

    /// Every number of the inventory has a range (`config::limits`): both ends are
    /// accepted, one past either end is a located error naming the bound.
    #[test]
    fn every_number_has_a_range_and_both_ends_are_accepted() {
        let host = "[[host]]\nname = \"a\"\nfqdn = \"a.org\"\n";
        let https = format!(
            "{host}[[host.service]]\nname = \"s\"\nkind = \"https\"\nurl = \"https://a.org/\"\n"
        );
        let cases: Vec<(String, &str)> = vec![
            (
                "[probe]\ninterval = \"100ms\"\ntimeout = \"10ms\"\n".into(),
                "",
            ),
            ("[probe]\ninterval = \"1h\"\ntimeout = \"60s\"\n".into(), ""),
            (
                "[probe]\ninterval = \"99ms\"\n".into(),
                "interval must be at least 100ms",
            ),
            (
                "[probe]\ninterval = \"3601s\"\n".into(),
                "interval must be at most 1h",
            ),
            (
                "[probe]\ninterval = \"1h\"\ntimeout = \"61s\"\n".into(),
                "timeout must be at most 60s",
            ),
            (
                "[probe]\ntimeout = \"9ms\"\n".into(),
                "timeout must be at least 10ms",
            ),
            ("[probe]\ninterval = \"2s\"\ntimeout = \"2s\"\n".into(), ""),
            (
                "[probe]\ninterval = \"2s\"\ntimeout = \"2001ms\"\n".into(),
                "timeout must be at most the interval (2s)",
            ),
            ("[probe]\nfail_after = 20\nrecover_after = 20\n".into(), ""),
            (
                "[probe]\nfail_after = 21\n".into(),
                "fail_after must be at most 20",
            ),
            (
                format!("{host}recover_after = 21\n"),
                "recover_after must be at most 20",
            ),
            (
                format!("{host}fail_after = 0\n"),
                "fail_after must be at least 1",
            ),
            ("[dns]\nlong_ttl = \"1s\"\n".into(), ""),
            ("[dns]\nlong_ttl = \"7d\"\n".into(), ""),
            (
                "[dns]\nlong_ttl = \"604801s\"\n".into(),
                "long_ttl must be at most 7d",
            ),
            (format!("{https}max_age = \"1s\"\n"), ""),
            (format!("{https}max_age = \"365d\"\n"), ""),
            (
                format!("{https}max_age = \"366d\"\n"),
                "max_age must be at most 365d",
            ),
            (
                format!("{https}max_body = 1\nwarn_days = 0\nexpect_status = 100\n"),
                "",
            ),
            (
                format!("{https}max_body = 67108864\nwarn_days = 3650\nexpect_status = 599\n"),
                "",
            ),
            (
                format!("{https}max_body = 67108865\n"),
                "max_body must be between 1 and",
            ),
            (
                format!("{https}warn_days = 3651\n"),
                "warn_days must be between 0 and 3650",
            ),
            (
                format!("{https}expect_status = 600\n"),
                "invalid expect_status 600",
            ),
            (format!("{host}ssh = 65535\nports = [1, 65535]\n"), ""),
            (format!("{host}ports = [65536]\n"), "invalid port 65536"),
            (
                "[[resolver]]\nname = \"r\"\naddress = \"192.0.2.1:65535\"\n".into(),
                "",
            ),
            (
                "[[resolver]]\nname = \"r\"\naddress = \"192.0.2.1:0\"\n".into(),
                "port 0: expected a port 1-65535",
            ),
        ];
        for (text, want) in &cases {
            match (parse(text), *want) {
                (Ok(_), "") => {}
                (Err(e), "") => panic!("{text}: {e}"),
                (Ok(_), want) => panic!("{text}: accepted, expected {want:?}"),
                (Err(e), want) => {
                    assert!(e.message.contains(want), "{text}: {e}");
                    assert!(e.line > 1, "{text}: not located: {e}");
                }
            }
        }
        // Without a timeout, the default (1s) is held to a shorter interval.
        let inv = parse("[probe]\ninterval = \"500ms\"\n").unwrap();
        assert_eq!(inv.probe.timeout, Duration::from_millis(500));
    }

    #[test]
    fn damping_and_ports_errors_are_located() {
        let e = parse("[probe]\nrecover_after = -1\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 17), "{e}");
        assert!(
            e.message.starts_with("recover_after must be at least 1"),
            "{e}"
        );
        let e = parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nfail_after = 5000000000\n")
            .unwrap_err();
        assert_eq!(
            e.message,
            "fail_after must be at most 20: it counts the consecutive failures before a probe \
             turns red, one round each",
            "{e}"
        );
        let e = parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nports = [22, -1]\n").unwrap_err();
        assert_eq!((e.line, e.col), (4, 14), "{e}");
        assert_eq!(e.message, "invalid port -1: expected 1-65535");
        // probe_old = false needs nothing.
        parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nprobe_old = false\n").unwrap();
    }
}
