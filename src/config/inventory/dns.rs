//! The DNS tables: `[[resolver]]` (the servers every host's name is asked of) and `[[zone]]`
//! (a primary and its secondaries, watched for SOA serials and NS sets). A zone's servers
//! become resolver columns too, so the matrix shows every server that should be
//! authoritative.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::super::ConfigError;
use super::values::{Located, ResolverAddr, check_hostname, dns_name, parse_server_addr};
use super::{ResolverConfig, ResolverKind, SecondaryConfig, ServerRef, ZoneConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResolver {
    name: Spanned<String>,
    system: Option<Spanned<bool>>,
    address: Option<Spanned<ResolverAddr>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    name: Spanned<String>,
    primary: Spanned<ResolverAddr>,
    #[serde(default)]
    secondaries: Vec<Spanned<String>>,
    contact: Option<Spanned<Contact>>,
    parent: Option<Spanned<Vec<Spanned<String>>>>,
    canary_key: Option<Spanned<String>>,
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

/// `[[resolver]]`, in file order; a `system` resolver when the file names none.
pub(super) fn resolvers(
    raw: Vec<RawResolver>,
    err: Located,
) -> Result<Vec<ResolverConfig>, ConfigError> {
    let mut resolvers = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for r in raw {
        let rname = r.name.get_ref().trim().to_string();
        if rname.is_empty() {
            return Err(err(r.name.span(), "resolver name must not be empty".into()));
        }
        if !seen.insert(rname.clone()) {
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
    Ok(resolvers)
}

/// `[[zone]]`, in file order; zone names are unique.
pub(super) fn zones(
    raw: Vec<RawZone>,
    path: &Path,
    err: Located,
) -> Result<Vec<ZoneConfig>, ConfigError> {
    let mut zones: Vec<ZoneConfig> = Vec::new();
    for z in raw {
        let name = dns_name(&z.name, "zone name", err)?;
        if zones.iter().any(|other| other.name == name) {
            return Err(err(z.name.span(), format!("duplicate zone `{name}`")));
        }
        let mut secondaries = Vec::new();
        for sec in &z.secondaries {
            secondaries.push(SecondaryConfig {
                server: secondary(sec, err)?,
                contact: None,
            });
        }
        if let Some(contact) = z.contact {
            assign_contacts(contact, &mut secondaries, &name, err)?;
        }
        let parent = match &z.parent {
            Some(list) => parent(list, err)?,
            None => Vec::new(),
        };
        let canary_key = match z.canary_key {
            Some(key) if key.get_ref().trim().is_empty() => {
                return Err(err(key.span(), "canary_key must not be empty".into()));
            }
            // Relative to the inventory, like hosts_file and ca_file.
            Some(key) => Some(
                path.parent()
                    .unwrap_or(Path::new("."))
                    .join(key.into_inner()),
            ),
            None => None,
        };
        zones.push(ZoneConfig {
            name,
            primary: z.primary.into_inner().0,
            secondaries,
            parent,
            canary_key,
        });
    }
    Ok(zones)
}

/// `parent = ["ip" | "ip:port", ...]`: the parent zone's servers, by address (there is no
/// resolver to trust for their names), at least one, each once.
fn parent(
    list: &Spanned<Vec<Spanned<String>>>,
    err: Located,
) -> Result<Vec<std::net::SocketAddr>, ConfigError> {
    if list.get_ref().is_empty() {
        return Err(err(
            list.span(),
            "parent must list at least one server (or be left out)".into(),
        ));
    }
    let mut servers = Vec::new();
    for entry in list.get_ref() {
        let text = entry.get_ref().trim();
        let addr = parse_server_addr(text).map_err(|why| {
            err(
                entry.span(),
                format!("invalid parent server `{text}`: {why}"),
            )
        })?;
        if servers.contains(&addr) {
            return Err(err(
                entry.span(),
                format!("parent server `{text}` is listed twice"),
            ));
        }
        servers.push(addr);
    }
    Ok(servers)
}

/// One of `secondaries`: `"ip"`, `"ip:port"` or a host name (looked up before each query).
fn secondary(sec: &Spanned<String>, err: Located) -> Result<ServerRef, ConfigError> {
    let text = sec.get_ref().trim();
    match parse_server_addr(text) {
        Ok(addr) => Ok(ServerRef::Address(addr)),
        Err(_)
            if check_hostname(&text.trim_end_matches('.').to_ascii_lowercase()).is_ok()
                && !text.chars().all(|c| c.is_ascii_digit() || c == '.') =>
        {
            Ok(ServerRef::Name(
                text.trim_end_matches('.').to_ascii_lowercase(),
            ))
        }
        Err(why) => Err(err(
            sec.span(),
            format!("invalid secondary `{text}`: {why}, or a host name"),
        )),
    }
}

/// A zone's `contact`: one for all its secondaries, or one per secondary named as in
/// `secondaries`.
fn assign_contacts(
    contact: Spanned<Contact>,
    secondaries: &mut [SecondaryConfig],
    zone: &str,
    err: Located,
) -> Result<(), ConfigError> {
    let span = contact.span();
    match contact.into_inner() {
        Contact::All(c) => {
            for s in secondaries {
                s.contact = Some(c.clone());
            }
        }
        Contact::Each(each) => {
            for (key, c) in each {
                let Some(s) = secondaries.iter_mut().find(|s| s.server.to_string() == key) else {
                    return Err(err(
                        span,
                        format!("contact for `{key}`, which is not a secondary of zone `{zone}`"),
                    ));
                };
                s.contact = Some(c);
            }
        }
    }
    Ok(())
}

/// Marks every resolver that is a zone's primary or secondary with the zones it serves,
/// and adds a column for each zone server the `[[resolver]]` list does not name, so the
/// matrix shows every server that should be authoritative.
pub(super) fn attach_zone_servers(resolvers: &mut Vec<ResolverConfig>, zones: &[ZoneConfig]) {
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
