//! `inventory.toml`: the hosts being moved, their old and new addresses, the resolvers to ask.
//!
//! Parsing is two-step: serde reads a raw, span-carrying form (`Raw*`), then
//! [`Inventory::parse`] validates it into plain types the rest of the program uses.
//! Every rejection carries `path:line:col`.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::ConfigError;
use super::service::{Damping, ServiceConfig};

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
}

/// A zone served by a primary and its secondaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneConfig {
    /// The zone apex, lower-case, without the trailing dot.
    pub name: String,
    pub primary: SocketAddr,
    pub secondaries: Vec<SecondaryConfig>,
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

/// `check = "HOST.PROBE"`: an item linked to a live probe of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckLink {
    /// Index into `Inventory::hosts`.
    pub host: usize,
    pub probe: LinkedProbe,
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
}

impl LinkedProbe {
    pub const ALL: [(&'static str, LinkedProbe); 6] = [
        ("health", LinkedProbe::Health),
        ("ping", LinkedProbe::Ping),
        ("ssh", LinkedProbe::Ssh),
        ("http", LinkedProbe::Http),
        ("dns", LinkedProbe::Dns),
        ("hosts_file", LinkedProbe::HostsFile),
    ];

    pub fn name(self) -> &'static str {
        LinkedProbe::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(n, _)| n)
    }
}

/// Probe cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Time between the starts of two probe rounds of a host.
    pub interval: Duration,
    /// How long one probe may take before it counts as a timeout.
    pub timeout: Duration,
    /// Default for hosts: also probe `old_ip` (`probe_old = true` in `[probe]`).
    pub probe_old: bool,
    /// Default flap damping for hosts (`fail_after`, `recover_after` in `[probe]`).
    pub damping: Damping,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            probe_old: false,
            damping: Damping::default(),
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
}

impl Inventory {
    /// Reads and validates an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, ConfigError> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(path, format!("cannot read inventory: {e}")))?;
        Inventory::parse(path, &source)
    }

    /// Validates inventory text; `path` is used for messages only.
    pub fn parse(path: &Path, source: &str) -> Result<Inventory, ConfigError> {
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

        let (name, old_network, new_network) = match raw.r#move {
            Some(m) => (
                m.name,
                m.old_network.map(|n| n.0),
                m.new_network.map(|n| n.0),
            ),
            None => (String::new(), None, None),
        };
        let name = if name.trim().is_empty() {
            path.file_stem()
                .map_or_else(|| "move".to_string(), |s| s.to_string_lossy().into_owned())
        } else {
            name
        };

        let mut probe = ProbeSettings::default();
        let mut probe_hosts_file = None;
        if let Some(p) = raw.probe {
            if let Some(i) = p.interval {
                if i.get_ref().0 < Duration::from_millis(100) {
                    return Err(err(i.span(), "interval must be at least 100ms".into()));
                }
                probe.interval = i.into_inner().0;
            }
            if let Some(t) = p.timeout {
                if t.get_ref().0.is_zero() {
                    return Err(err(t.span(), "timeout must be greater than zero".into()));
                }
                probe.timeout = t.into_inner().0;
            }
            probe_hosts_file = p.hosts_file;
        }
        let hosts_file = match (raw.hosts_file, probe_hosts_file) {
            (Some(_), Some(second)) => {
                return Err(err(
                    second.span(),
                    "hosts_file is given twice (top level and [probe]); keep one".into(),
                ));
            }
            (Some(h), None) | (None, Some(h)) => {
                if h.get_ref().trim().is_empty() {
                    return Err(err(h.span(), "hosts_file must not be empty".into()));
                }
                PathBuf::from(h.into_inner())
            }
            (None, None) => PathBuf::from("/etc/hosts"),
        };

        let mut resolvers = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for r in raw.resolver {
            let rname = r.name.get_ref().trim().to_string();
            if rname.is_empty() {
                return Err(err(r.name.span(), "resolver name must not be empty".into()));
            }
            if seen.insert(rname.clone(), ()).is_some() {
                return Err(err(
                    r.name.span(),
                    format!("duplicate resolver name `{rname}`"),
                ));
            }
            let kind = match (r.system, r.address) {
                (Some(s), Some(_)) if *s.get_ref() => {
                    return Err(err(
                        s.span(),
                        format!(
                            "resolver `{rname}`: give either `system = true` or `address`, not both"
                        ),
                    ));
                }
                (_, Some(a)) => ResolverKind::Server(a.into_inner().0),
                (Some(s), None) if *s.get_ref() => ResolverKind::System,
                _ => {
                    return Err(err(
                        r.name.span(),
                        format!("resolver `{rname}` needs `system = true` or an `address`"),
                    ));
                }
            };
            resolvers.push(ResolverConfig {
                name: rname,
                kind,
                serves: Vec::new(),
                implied: false,
            });
        }
        if resolvers.is_empty() {
            resolvers.push(ResolverConfig {
                name: "system".into(),
                kind: ResolverKind::System,
                serves: Vec::new(),
                implied: false,
            });
        }

        let mut hosts = Vec::new();
        let mut seen_hosts: HashMap<String, ()> = HashMap::new();
        for h in raw.host {
            let hname = h.name.get_ref().trim().to_string();
            if hname.is_empty() {
                return Err(err(h.name.span(), "host name must not be empty".into()));
            }
            if seen_hosts.insert(hname.to_ascii_lowercase(), ()).is_some() {
                return Err(err(h.name.span(), format!("duplicate host name `{hname}`")));
            }
            let fqdn = h
                .fqdn
                .get_ref()
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if let Err(why) = check_hostname(&fqdn) {
                return Err(err(
                    h.fqdn.span(),
                    format!("invalid fqdn `{}`: {why}", h.fqdn.get_ref()),
                ));
            }
            let http = match h.http {
                None => None,
                Some(u) => {
                    let url = reqwest::Url::parse(u.get_ref()).map_err(|e| {
                        err(u.span(), format!("invalid http URL `{}`: {e}", u.get_ref()))
                    })?;
                    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                        return Err(err(
                            u.span(),
                            format!(
                                "http URL `{}` must be http:// or https:// with a host",
                                u.get_ref()
                            ),
                        ));
                    }
                    Some(u.into_inner())
                }
            };
            hosts.push(HostConfig {
                name: hname,
                fqdn,
                old_ip: h.old_ip.map(|a| a.0),
                new_ip: h.new_ip.map(|a| a.0),
                ping: h.ping.unwrap_or(true),
                ssh: h.ssh.map_or(Some(22), |s| s.0),
                http,
                role: h
                    .role
                    .map(|r| r.trim().to_ascii_lowercase())
                    .filter(|r| !r.is_empty()),
                // TODO(config helper): parse from the raw host, with located errors.
                ports: Vec::new(),
                services: Vec::new(),
                probe_old: probe.probe_old,
                damping: probe.damping,
            });
        }

        let mut checklist = Vec::new();
        let mut phases: Vec<String> = Vec::new();
        let mut seen_ids: HashMap<String, ()> = HashMap::new();
        for c in raw.checklist {
            let id = c.id.get_ref().trim().to_string();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            {
                return Err(err(
                    c.id.span(),
                    format!(
                        "invalid checklist id `{}`: use letters, digits, `-`, `_` and `.`",
                        c.id.get_ref()
                    ),
                ));
            }
            if seen_ids.insert(id.clone(), ()).is_some() {
                return Err(err(c.id.span(), format!("duplicate checklist id `{id}`")));
            }
            let text = c.text.get_ref().trim().to_string();
            if text.is_empty() {
                return Err(err(
                    c.text.span(),
                    format!("checklist item `{id}` has an empty text"),
                ));
            }
            let phase = match c.phase {
                Some(p) if p.get_ref().trim().is_empty() => {
                    return Err(err(
                        p.span(),
                        format!("checklist item `{id}` has an empty phase"),
                    ));
                }
                Some(p) => p.get_ref().trim().to_string(),
                None => "plan".to_string(),
            };
            let check = match c.check {
                None => None,
                Some(link) => {
                    Some(parse_link(link.get_ref(), &hosts).map_err(|why| err(link.span(), why))?)
                }
            };
            if !phases.contains(&phase) {
                phases.push(phase.clone());
            }
            checklist.push(ChecklistItem {
                id,
                phase,
                text,
                check,
            });
        }

        let mut zones: Vec<ZoneConfig> = Vec::new();
        for z in raw.zone {
            let name = z
                .name
                .get_ref()
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if let Err(why) = check_hostname(&name) {
                return Err(err(
                    z.name.span(),
                    format!("invalid zone name `{}`: {why}", z.name.get_ref()),
                ));
            }
            if zones.iter().any(|other| other.name == name) {
                return Err(err(z.name.span(), format!("duplicate zone `{name}`")));
            }
            let mut secondaries = Vec::new();
            for sec in z.secondaries {
                let text = sec.get_ref().trim();
                let server = match parse_server_addr(text) {
                    Ok(addr) => ServerRef::Address(addr),
                    Err(_)
                        if check_hostname(&text.trim_end_matches('.').to_ascii_lowercase())
                            .is_ok()
                            && !text.chars().all(|c| c.is_ascii_digit() || c == '.') =>
                    {
                        ServerRef::Name(text.trim_end_matches('.').to_ascii_lowercase())
                    }
                    Err(why) => {
                        return Err(err(
                            sec.span(),
                            format!("invalid secondary `{text}`: {why}, or a host name"),
                        ));
                    }
                };
                secondaries.push(SecondaryConfig {
                    server,
                    contact: None,
                });
            }
            if let Some(contact) = z.contact {
                let span = contact.span();
                match contact.into_inner() {
                    Contact::All(c) => {
                        for s in &mut secondaries {
                            s.contact = Some(c.clone());
                        }
                    }
                    Contact::Each(each) => {
                        for (key, c) in each {
                            let Some(s) =
                                secondaries.iter_mut().find(|s| s.server.to_string() == key)
                            else {
                                return Err(err(
                                    span,
                                    format!(
                                        "contact for `{key}`, which is not a secondary of zone `{name}`"
                                    ),
                                ));
                            };
                            s.contact = Some(c);
                        }
                    }
                }
            }
            zones.push(ZoneConfig {
                name,
                primary: z.primary.into_inner().0,
                secondaries,
            });
        }
        attach_zone_servers(&mut resolvers, &zones);
        let long_ttl = raw
            .dns
            .and_then(|d| d.long_ttl)
            .map_or(Duration::from_secs(300), |d| d.0);

        Ok(Inventory {
            path: path.to_path_buf(),
            name,
            old_network,
            new_network,
            probe,
            hosts_file,
            resolvers,
            hosts,
            checklist,
            phases,
            zones,
            long_ttl,
        })
    }

    /// The index of the host called `name`.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
    }
}

/// `"HOST.PROBE"` against the inventory's hosts, with a message that says what would work.
/// Marks every resolver that is a zone's primary or secondary with the zones it serves,
/// and adds a column for each zone server the `[[resolver]]` list does not name, so the
/// matrix shows every server that should be authoritative.
fn attach_zone_servers(resolvers: &mut Vec<ResolverConfig>, zones: &[ZoneConfig]) {
    for (z, zone) in zones.iter().enumerate() {
        let servers = std::iter::once(ResolverKind::Server(zone.primary)).chain(
            zone.secondaries.iter().map(|s| match &s.server {
                ServerRef::Address(a) => ResolverKind::Server(*a),
                ServerRef::Name(n) => ResolverKind::Named(n.clone()),
            }),
        );
        for kind in servers {
            let index = match resolvers.iter().position(|r| r.kind == kind) {
                Some(i) => i,
                None => {
                    let base = kind.to_string();
                    let mut name = base.clone();
                    let mut n = 2;
                    while resolvers.iter().any(|r| r.name == name) {
                        name = format!("{base} ({n})");
                        n += 1;
                    }
                    resolvers.push(ResolverConfig {
                        name,
                        kind,
                        serves: Vec::new(),
                        implied: true,
                    });
                    resolvers.len() - 1
                }
            };
            if !resolvers[index].serves.contains(&z) {
                resolvers[index].serves.push(z);
            }
        }
    }
}

fn parse_link(text: &str, hosts: &[HostConfig]) -> Result<CheckLink, String> {
    let probes = || {
        LinkedProbe::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((host_name, probe_name)) = text.trim().rsplit_once('.') else {
        return Err(format!(
            "invalid check `{text}`: expected \"HOST.PROBE\" (for example \"vbox.http\"; probes: {})",
            probes()
        ));
    };
    let Some(host) = hosts
        .iter()
        .position(|h| h.name.eq_ignore_ascii_case(host_name))
    else {
        return Err(format!(
            "check `{text}` names an unknown host `{host_name}`"
        ));
    };
    let Some(probe) = LinkedProbe::ALL
        .iter()
        .find(|(n, _)| *n == probe_name)
        .map(|(_, p)| *p)
    else {
        return Err(format!(
            "check `{text}` names an unknown probe `{probe_name}`; probes: {}",
            probes()
        ));
    };
    let h = &hosts[host];
    let configured = match probe {
        LinkedProbe::Ping => h.ping,
        LinkedProbe::Ssh => h.ssh.is_some(),
        LinkedProbe::Http => h.http.is_some(),
        LinkedProbe::Health | LinkedProbe::Dns | LinkedProbe::HostsFile => true,
    };
    if !configured {
        return Err(format!(
            "check `{text}`: host `{}` has no {probe_name} probe configured",
            h.name
        ));
    }
    Ok(CheckLink { host, probe })
}

/// RFC 1123 host name rules, loosely: labels of letters, digits, `-` and `_`.
fn check_hostname(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("only letters, digits, `-` and `_` are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with `-`");
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    r#move: Option<RawMove>,
    probe: Option<RawProbe>,
    hosts_file: Option<Spanned<String>>,
    #[serde(default)]
    resolver: Vec<RawResolver>,
    #[serde(default)]
    host: Vec<RawHost>,
    #[serde(default)]
    checklist: Vec<RawChecklistItem>,
    #[serde(default)]
    zone: Vec<RawZone>,
    dns: Option<RawDns>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDns {
    long_ttl: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: Spanned<String>,
    primary: Spanned<ResolverAddr>,
    #[serde(default)]
    secondaries: Vec<Spanned<String>>,
    contact: Option<Spanned<Contact>>,
}

/// `contact = "who runs them all"` or `contact = { "192.0.2.53" = "Aleksi, +358 ..." }`.
enum Contact {
    All(String),
    Each(Vec<(String, String)>),
}

impl<'de> Deserialize<'de> for Contact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Contact;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, or a table of secondary = \"contact\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Contact, E> {
                Ok(Contact::All(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Contact, A::Error> {
                let mut each = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    each.push((k, v));
                }
                Ok(Contact::Each(each))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklistItem {
    id: Spanned<String>,
    phase: Option<Spanned<String>>,
    text: Spanned<String>,
    check: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMove {
    #[serde(default)]
    name: String,
    old_network: Option<Net>,
    new_network: Option<Net>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    interval: Option<Spanned<Dur>>,
    timeout: Option<Spanned<Dur>>,
    hosts_file: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResolver {
    name: Spanned<String>,
    system: Option<Spanned<bool>>,
    address: Option<Spanned<ResolverAddr>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    name: Spanned<String>,
    fqdn: Spanned<String>,
    old_ip: Option<Ip>,
    new_ip: Option<Ip>,
    ping: Option<bool>,
    ssh: Option<SshSetting>,
    http: Option<Spanned<String>>,
    role: Option<String>,
}

/// A string value parsed by `FromStr`-like logic, with a message naming the bad value.
macro_rules! string_value {
    ($ty:ident, $inner:ty, $expecting:literal, $parse:expr) => {
        struct $ty($inner);
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let parse: fn(&str) -> Result<$inner, String> = $parse;
                parse(s.trim()).map($ty).map_err(|why| {
                    de::Error::custom(format!(
                        concat!("invalid ", $expecting, " `{}`: {}"),
                        s, why
                    ))
                })
            }
        }
    };
}

string_value!(Ip, IpAddr, "IP address", |s| s.parse::<IpAddr>().map_err(
    |_| "expected an IPv4 or IPv6 address like 203.0.113.13".to_string()
));

string_value!(Net, IpNet, "network", |s| s
    .parse::<IpNet>()
    .map_err(|_| "expected CIDR notation like 203.0.113.0/24".to_string()));

string_value!(Dur, Duration, "duration", |s| humantime::parse_duration(s)
    .map_err(|e| format!(
        "{e} (expected something like \"2s\" or \"500ms\")"
    )));

string_value!(
    ResolverAddr,
    SocketAddr,
    "resolver address",
    parse_server_addr
);

/// `"ip"` (port 53) or `"ip:port"`.
fn parse_server_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    s.parse::<SocketAddr>().map_err(|_| {
        "expected \"ip\" or \"ip:port\" (IPv6 with a port as \"[::1]:53\")".to_string()
    })
}

/// `ssh = 22`, `ssh = false` (skip) or `ssh = true` (port 22).
struct SshSetting(Option<u16>);

impl<'de> Deserialize<'de> for SshSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SshSetting;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port number (1-65535), true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SshSetting, E> {
                Ok(SshSetting(v.then_some(22)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SshSetting, E> {
                match u16::try_from(v) {
                    Ok(p) if p > 0 => Ok(SshSetting(Some(p))),
                    _ => Err(E::custom(format!(
                        "invalid ssh port {v}: expected 1-65535, true or false"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SshSetting, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
