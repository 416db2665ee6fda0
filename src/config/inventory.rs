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
use super::service::{
    BodyMatch, DEFAULT_MAX_BODY, DEFAULT_WARN_DAYS, Damping, Freshness, HttpService, MAX_MAX_BODY,
    MAX_WARN_DAYS, Pattern, ServiceConfig, ServiceKind, SmtpService, TcpService, TlsService,
    is_valid_strftime, short_regex_error,
};

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
    /// The advertised downtime window (`[move] window_start`, `window_end`), if given.
    pub window_start: Option<chrono::DateTime<chrono::Utc>>,
    pub window_end: Option<chrono::DateTime<chrono::Utc>>,
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

        let (name, old_network, new_network, window) = match raw.r#move {
            Some(m) => (
                m.name,
                m.old_network.map(|n| n.0),
                m.new_network.map(|n| n.0),
                (m.window_start, m.window_end),
            ),
            None => (String::new(), None, None, (None, None)),
        };
        let (window_start, window_end) = move_window(window, &err)?;
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
            if let Some(o) = p.probe_old {
                probe.probe_old = o;
            }
            probe.damping = damping(probe.damping, p.fail_after, p.recover_after, &err)?;
            probe_hosts_file = p.hosts_file;
            if let Some(ca) = p.ca_file {
                // Relative to the inventory, so a move's files travel together.
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
                probe.ca_file = Some(file);
            }
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
                // Relative to the inventory, like ca_file: a move's files travel together.
                path.parent().unwrap_or(Path::new(".")).join(h.into_inner())
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
            let old_ip = h.old_ip.map(|a| a.0);
            let mut ports: Vec<u16> = Vec::new();
            for p in h.ports.unwrap_or_default() {
                let port = port_number(&p, &err)?;
                if ports.contains(&port) {
                    return Err(err(p.span(), format!("duplicate port {port} in ports")));
                }
                ports.push(port);
            }
            // `[probe] probe_old = true` is a default: hosts without an old_ip just skip it.
            let probe_old = match h.probe_old {
                Some(o) if *o.get_ref() && old_ip.is_none() => {
                    return Err(err(
                        o.span(),
                        format!(
                            "probe_old = true needs an old_ip: host `{hname}` has none to probe"
                        ),
                    ));
                }
                Some(o) => o.into_inner(),
                None => probe.probe_old && old_ip.is_some(),
            };
            let damping = damping(probe.damping, h.fail_after, h.recover_after, &err)?;
            let mut services: Vec<ServiceConfig> = Vec::new();
            for s in h.service {
                let sname = s.name.get_ref().trim();
                if services.iter().any(|o| o.name.eq_ignore_ascii_case(sname)) {
                    return Err(err(
                        s.name.span(),
                        format!("duplicate service name `{sname}` in host `{hname}`"),
                    ));
                }
                services.push(parse_service(s, &err)?);
            }
            hosts.push(HostConfig {
                name: hname,
                fqdn,
                old_ip,
                new_ip: h.new_ip.map(|a| a.0),
                ping: h.ping.unwrap_or(true),
                ssh: h.ssh.map_or(Some(22), |s| s.0),
                http,
                role: h
                    .role
                    .map(|r| r.trim().to_ascii_lowercase())
                    .filter(|r| !r.is_empty()),
                ports,
                services,
                probe_old,
                damping,
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
            window_start,
            window_end,
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

/// Builds a located error from a span and a message.
type Located<'a> = &'a dyn Fn(std::ops::Range<usize>, String) -> ConfigError;

/// A TCP port, 1-65535.
fn port_number(p: &Spanned<i64>, err: Located) -> Result<u16, ConfigError> {
    match u16::try_from(*p.get_ref()) {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(err(
            p.span(),
            format!("invalid port {}: expected 1-65535", p.get_ref()),
        )),
    }
}

/// `fail_after` / `recover_after` over `base` (the `[probe]` values, or the defaults).
fn damping(
    base: Damping,
    fail_after: Option<Spanned<i64>>,
    recover_after: Option<Spanned<i64>>,
    err: Located,
) -> Result<Damping, ConfigError> {
    let count = |v: Option<Spanned<i64>>, key: &str, what: &str, default: u32| match v {
        None => Ok(default),
        Some(v) if *v.get_ref() < 1 => Err(err(
            v.span(),
            format!("{key} must be at least 1: it counts the consecutive {what}"),
        )),
        Some(v) => u32::try_from(*v.get_ref())
            .map_err(|_| err(v.span(), format!("{key} must be at most {}", u32::MAX))),
    };
    Ok(Damping {
        fail_after: count(
            fail_after,
            "fail_after",
            "failures before a probe turns red",
            base.fail_after,
        )?,
        recover_after: count(
            recover_after,
            "recover_after",
            "successes before a red probe turns green again",
            base.recover_after,
        )?,
    })
}

/// `kind = "..."` of a `[[host.service]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Https,
    Tls,
    Smtp,
    Tcp,
}

impl Kind {
    const ALL: [(&'static str, Kind); 5] = [
        ("http", Kind::Http),
        ("https", Kind::Https),
        ("tls", Kind::Tls),
        ("smtp", Kind::Smtp),
        ("tcp", Kind::Tcp),
    ];

    fn word(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(w, _)| w)
    }

    /// The keys a service of this kind may have besides `name` and `kind`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Http => &[
                "url",
                "expect_status",
                "contains",
                "max_age",
                "fresh_regex",
                "fresh_format",
                "max_body",
            ],
            Kind::Https => &[
                "url",
                "expect_status",
                "contains",
                "max_age",
                "fresh_regex",
                "fresh_format",
                "max_body",
                "warn_days",
            ],
            Kind::Tls => &["port", "server_name", "warn_days"],
            Kind::Smtp => &["port", "ehlo", "expect_starttls"],
            Kind::Tcp => &["port", "send", "expect"],
        }
    }
}

/// Validates one `[[host.service]]` (all but the duplicate-name check, which needs the host).
fn parse_service(s: RawService, err: Located) -> Result<ServiceConfig, ConfigError> {
    let name = s.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(err(s.name.span(), "service name must not be empty".into()));
    }
    let word = s.kind.get_ref().trim().to_ascii_lowercase();
    let Some(kind) = Kind::ALL.iter().find(|(w, _)| *w == word).map(|(_, k)| *k) else {
        return Err(err(
            s.kind.span(),
            format!(
                "unknown service kind {:?}: expected http, https, tls, smtp or tcp",
                s.kind.get_ref()
            ),
        ));
    };
    let word = kind.word();

    // Keys of another kind: the first one in the file is reported.
    let present = [
        ("url", s.url.as_ref().map(Spanned::span)),
        ("expect_status", s.expect_status.as_ref().map(Spanned::span)),
        ("contains", s.contains.as_ref().map(Spanned::span)),
        ("max_age", s.max_age.as_ref().map(Spanned::span)),
        ("fresh_regex", s.fresh_regex.as_ref().map(Spanned::span)),
        ("fresh_format", s.fresh_format.as_ref().map(Spanned::span)),
        ("max_body", s.max_body.as_ref().map(Spanned::span)),
        ("warn_days", s.warn_days.as_ref().map(Spanned::span)),
        ("port", s.port.as_ref().map(Spanned::span)),
        ("server_name", s.server_name.as_ref().map(Spanned::span)),
        ("ehlo", s.ehlo.as_ref().map(Spanned::span)),
        (
            "expect_starttls",
            s.expect_starttls.as_ref().map(Spanned::span),
        ),
        ("send", s.send.as_ref().map(Spanned::span)),
        ("expect", s.expect.as_ref().map(Spanned::span)),
    ];
    if let Some((key, span)) = present
        .into_iter()
        .filter_map(|(key, span)| Some((key, span?)))
        .filter(|(key, _)| !kind.keys().contains(key))
        .min_by_key(|(_, span)| span.start)
    {
        let message = match key {
            "max_age" => "max_age needs a time to read: only http/https services have one \
                          (Last-Modified or fresh_regex)"
                .to_string(),
            "warn_days" => format!(
                "key `warn_days` does not apply to kind = \"{word}\": only https and tls have a certificate"
            ),
            _ => format!("key `{key}` does not apply to kind = \"{word}\""),
        };
        return Err(err(span, message));
    }

    let warn_days = match s.warn_days {
        None => DEFAULT_WARN_DAYS,
        Some(w) => u32::try_from(*w.get_ref())
            .ok()
            .filter(|d| *d <= MAX_WARN_DAYS)
            .ok_or_else(|| {
                err(
                    w.span(),
                    format!("warn_days must be between 0 and {MAX_WARN_DAYS} (ten years)"),
                )
            })?,
    };
    let port = |default: Option<u16>| match (&s.port, default) {
        (Some(p), _) => port_number(p, err),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(err(
            s.name.span(),
            format!("service `{name}`: kind = \"{word}\" needs a `port`"),
        )),
    };

    let kind = match kind {
        Kind::Http | Kind::Https => {
            let Some(u) = &s.url else {
                return Err(err(
                    s.name.span(),
                    format!("service `{name}`: kind = \"{word}\" needs a `url`"),
                ));
            };
            let text = u.get_ref().trim();
            let url = reqwest::Url::parse(text)
                .map_err(|e| err(u.span(), format!("invalid url `{text}`: {e}")))?;
            if url.scheme() != word {
                return Err(err(
                    u.span(),
                    format!(
                        "url `{text}` does not match kind = \"{word}\": expected an {word}:// URL"
                    ),
                ));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(err(u.span(), format!("url `{text}` has no host")));
            }
            let expect_status = match &s.expect_status {
                None => 200,
                Some(st) => u16::try_from(*st.get_ref())
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| {
                        err(
                            st.span(),
                            format!(
                                "invalid expect_status {}: expected an HTTP status, 100-599",
                                st.get_ref()
                            ),
                        )
                    })?,
            };
            let contains = s
                .contains
                .as_ref()
                .map(|c| body_match(c, "contains", err))
                .transpose()?;
            let max_age = match &s.max_age {
                Some(d) if d.get_ref().0.is_zero() => {
                    return Err(err(d.span(), "max_age must be greater than zero".into()));
                }
                d => d.as_ref().map(|d| d.get_ref().0),
            };
            let fresh_regex = match &s.fresh_regex {
                None => None,
                Some(r) if r.get_ref().is_empty() => {
                    return Err(err(r.span(), "fresh_regex must not be empty".into()));
                }
                Some(r) => Some(Pattern::new(r.get_ref()).map_err(|e| {
                    err(
                        r.span(),
                        format!("invalid regex in fresh_regex: {}", short_regex_error(&e)),
                    )
                })?),
            };
            let fresh_format = match (&s.fresh_format, &s.fresh_regex) {
                (None, _) => None,
                (Some(f), None) => {
                    return Err(err(
                        f.span(),
                        "fresh_format needs a fresh_regex: it is the format of the time \
                         fresh_regex captures"
                            .into(),
                    ));
                }
                (Some(f), Some(_)) => {
                    if !is_valid_strftime(f.get_ref()) {
                        return Err(err(
                            f.span(),
                            format!(
                                "invalid fresh_format `{}`: expected a chrono strftime format \
                                 like \"%Y-%m-%d %H:%M\"",
                                f.get_ref()
                            ),
                        ));
                    }
                    Some(f.get_ref().clone())
                }
            };
            if let (Some(r), None) = (&s.fresh_regex, max_age) {
                return Err(err(
                    r.span(),
                    "fresh_regex needs a max_age: how old the time it captures may be".into(),
                ));
            }
            let freshness = max_age.map(|max_age| Freshness {
                max_age,
                fresh_regex,
                fresh_format,
            });
            let max_body = match &s.max_body {
                None => DEFAULT_MAX_BODY,
                Some(b) => usize::try_from(*b.get_ref())
                    .ok()
                    .filter(|n| (1..=MAX_MAX_BODY).contains(n))
                    .ok_or_else(|| {
                        err(
                            b.span(),
                            format!("max_body must be between 1 and {MAX_MAX_BODY} bytes (64 MiB)"),
                        )
                    })?,
            };
            ServiceKind::Http(HttpService {
                url: url.to_string(),
                expect_status,
                contains,
                freshness,
                max_body,
                warn_days,
            })
        }
        Kind::Tls => {
            let server_name = match &s.server_name {
                None => None,
                Some(n) => {
                    let name = n
                        .get_ref()
                        .trim()
                        .trim_end_matches('.')
                        .to_ascii_lowercase();
                    check_hostname(&name).map_err(|why| {
                        err(
                            n.span(),
                            format!("invalid server_name `{}`: {why}", n.get_ref()),
                        )
                    })?;
                    Some(name)
                }
            };
            ServiceKind::Tls(TlsService {
                port: port(Some(443))?,
                server_name,
                warn_days,
            })
        }
        Kind::Smtp => {
            let ehlo = match &s.ehlo {
                None => "moveday.invalid".to_string(),
                Some(e) => {
                    let text = e.get_ref().trim();
                    let literal = text
                        .strip_prefix('[')
                        .and_then(|t| t.strip_suffix(']'))
                        .is_some_and(|ip| {
                            ip.parse::<IpAddr>().is_ok()
                                || ip
                                    .strip_prefix("IPv6:")
                                    .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
                        });
                    if !literal && let Err(why) = check_hostname(text) {
                        return Err(err(
                            e.span(),
                            format!(
                                "invalid ehlo `{}`: {why} (or an address literal like \"[192.0.2.1]\")",
                                e.get_ref()
                            ),
                        ));
                    }
                    text.to_string()
                }
            };
            ServiceKind::Smtp(SmtpService {
                port: port(Some(25))?,
                ehlo,
                expect_starttls: s.expect_starttls.as_ref().is_none_or(|b| *b.get_ref()),
            })
        }
        Kind::Tcp => {
            let port = port(None)?;
            let send = match &s.send {
                Some(t) if t.get_ref().is_empty() => {
                    return Err(err(
                        t.span(),
                        "send must not be empty (leave it out to only connect)".into(),
                    ));
                }
                t => t.as_ref().map(|t| t.get_ref().clone()),
            };
            let expect = s
                .expect
                .as_ref()
                .map(|e| body_match(e, "expect", err))
                .transpose()?;
            ServiceKind::Tcp(TcpService { port, send, expect })
        }
    };
    Ok(ServiceConfig { name, kind })
}

/// `contains` / `expect`: `"/re/"` is a regular expression, anything else a substring.
fn body_match(v: &Spanned<String>, key: &str, err: Located) -> Result<BodyMatch, ConfigError> {
    let text = v.get_ref();
    if text.is_empty() {
        return Err(err(
            v.span(),
            format!("{key} must not be empty: it would match anything"),
        ));
    }
    match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
        None => Ok(BodyMatch::Substring(text.clone())),
        Some("") => Err(err(
            v.span(),
            format!("{key} = \"//\" is an empty regex, which matches anything"),
        )),
        Some(re) => Pattern::new(re).map(BodyMatch::Regex).map_err(|e| {
            err(
                v.span(),
                format!("invalid regex in {key}: {}", short_regex_error(&e)),
            )
        }),
    }
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
    window_start: Option<Spanned<toml::Value>>,
    window_end: Option<Spanned<toml::Value>>,
}

type Window = (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// `[move] window_start` and `window_end`: RFC 3339 date-times with an offset, as a string
/// or a TOML date-time; the end after the start.
fn move_window(
    (start, end): (Option<Spanned<toml::Value>>, Option<Spanned<toml::Value>>),
    err: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<Window, ConfigError> {
    let when = |v: &Spanned<toml::Value>, key: &str| {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.trim().to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            other => other.to_string(),
        };
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&chrono::Utc))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
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
    ports: Option<Vec<Spanned<i64>>>,
    probe_old: Option<Spanned<bool>>,
    fail_after: Option<Spanned<i64>>,
    recover_after: Option<Spanned<i64>>,
    #[serde(default)]
    service: Vec<RawService>,
}

/// One `[[host.service]]`: every key of every kind; `parse_service` rejects the keys that do
/// not belong to the one given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Spanned<String>,
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    expect_status: Option<Spanned<i64>>,
    contains: Option<Spanned<String>>,
    max_age: Option<Spanned<Dur>>,
    fresh_regex: Option<Spanned<String>>,
    fresh_format: Option<Spanned<String>>,
    max_body: Option<Spanned<i64>>,
    warn_days: Option<Spanned<i64>>,
    port: Option<Spanned<i64>>,
    server_name: Option<Spanned<String>>,
    ehlo: Option<Spanned<String>>,
    expect_starttls: Option<Spanned<bool>>,
    send: Option<Spanned<String>>,
    expect: Option<Spanned<String>>,
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
            "unknown service kind \"FTP\": expected http, https, tls, smtp or tcp"
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
            (8, 11, "max_age must be greater than zero".into())
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
    fn damping_and_ports_errors_are_located() {
        let e = parse("[probe]\nrecover_after = -1\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 17), "{e}");
        assert!(
            e.message.starts_with("recover_after must be at least 1"),
            "{e}"
        );
        let e = parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nfail_after = 5000000000\n")
            .unwrap_err();
        assert_eq!(e.message, "fail_after must be at most 4294967295", "{e}");
        let e = parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nports = [22, -1]\n").unwrap_err();
        assert_eq!((e.line, e.col), (4, 14), "{e}");
        assert_eq!(e.message, "invalid port -1: expected 1-65535");
        // probe_old = false needs nothing.
        parse("[[host]]\nname = \"a\"\nfqdn = \"a.org\"\nprobe_old = false\n").unwrap();
    }
}
