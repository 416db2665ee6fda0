//! `[mail]` (the blocklists asked about every mail host's new address, how often, through
//! which server) and `[[host]] mail_domains` (the domains a mail host serves: their MX and
//! SPF are checked against it).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::super::{ConfigError, limits};
use super::MailSettings;
use super::values::{Dur, Located, dns_name, duration_within, parse_server_addr};

/// The blocklist zones asked when `[mail] dnsbl` is not given: well-known public DNSBLs.
/// Each is a public service with usage limits (a volume cap, no queries through big public
/// resolvers: Spamhaus answers those with 127.255.255.254), hence `dnsbl_every`.
pub const DEFAULT_DNSBL: [&str; 3] = ["zen.spamhaus.org", "bl.spamcop.net", "psbl.surriel.com"];

/// `[mail] dnsbl_every` when not given: each zone is asked about an address at most this
/// often.
pub const DEFAULT_DNSBL_EVERY: Duration = Duration::from_secs(600);

/// Roles whose hosts send or receive mail.
pub const MAIL_ROLES: [&str; 3] = ["mail", "mx", "smtp"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMail {
    dnsbl: Option<Vec<Spanned<String>>>,
    dnsbl_every: Option<Spanned<Dur>>,
    dnsbl_resolver: Option<Spanned<String>>,
}

/// `[mail]`, checked: zones are host names, once each; `dnsbl_every` in its range, and
/// under a minute only with a `dnsbl_resolver` (a lab's or a demo's own lists);
/// `dnsbl_resolver` an `"ip"` or `"ip:port"`.
pub(super) fn mail_table(raw: Option<RawMail>, err: Located) -> Result<MailSettings, ConfigError> {
    let Some(raw) = raw else {
        return Ok(MailSettings::default());
    };
    let own_lists = raw.dnsbl.is_some();
    let dnsbl = match raw.dnsbl {
        None => MailSettings::default().dnsbl,
        Some(list) => domain_list(&list, "dnsbl zone", err)?,
    };
    let dnsbl_every = match &raw.dnsbl_every {
        None => DEFAULT_DNSBL_EVERY,
        Some(d) => duration_within(d, "dnsbl_every", &limits::DNSBL_EVERY, err)?,
    };
    let dnsbl_resolver = raw.dnsbl_resolver.map(|r| server(&r, err)).transpose()?;
    if let Some(d) = &raw.dnsbl_every
        && dnsbl_every < limits::DNSBL_EVERY_PUBLIC
        && (dnsbl_resolver.is_none() || !own_lists)
    {
        return Err(err(
            d.span(),
            "dnsbl_every below 1m needs lists of your own (dnsbl zones and a dnsbl_resolver): \
             public lists limit how often they are asked"
                .into(),
        ));
    }
    Ok(MailSettings {
        dnsbl,
        dnsbl_every,
        dnsbl_resolver,
    })
}

fn server(r: &Spanned<String>, err: Located) -> Result<SocketAddr, ConfigError> {
    let text = r.get_ref().trim();
    parse_server_addr(text)
        .map_err(|why| err(r.span(), format!("invalid dnsbl_resolver `{text}`: {why}")))
}

/// DNS names, lower-case, without the trailing dot, once each (`what` names one in a
/// message: `dnsbl zone`, `mail domain`).
fn domain_list(
    list: &[Spanned<String>],
    what: &str,
    err: Located,
) -> Result<Vec<String>, ConfigError> {
    let mut names: Vec<String> = Vec::new();
    for entry in list {
        let name = dns_name(entry, what, err)?;
        if names.contains(&name) {
            return Err(err(
                entry.span(),
                format!("{what} `{name}` is listed twice"),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

/// A host's mail domains: `mail_domains` when given (only on a mail host, at least one),
/// otherwise, on a mail host, the domain of its fqdn (`mail.example.org` -> `example.org`;
/// none for a one-label fqdn); none on other hosts.
pub(super) fn mail_domains(
    raw: Option<Spanned<Vec<Spanned<String>>>>,
    role: Option<&str>,
    fqdn: &str,
    err: Located,
) -> Result<Vec<String>, ConfigError> {
    let is_mail = role.is_some_and(|r| MAIL_ROLES.contains(&r));
    match raw {
        Some(list) if !is_mail => Err(err(
            list.span(),
            "mail_domains applies to a mail host: give it role = \"mail\", \"mx\" or \"smtp\""
                .into(),
        )),
        Some(list) if list.get_ref().is_empty() => Err(err(
            list.span(),
            "mail_domains must list at least one domain (or be left out: the fqdn's domain)".into(),
        )),
        Some(list) => domain_list(list.get_ref(), "mail domain", err),
        None if is_mail => Ok(fqdn
            .split_once('.')
            .map(|(_, domain)| vec![domain.to_string()])
            .unwrap_or_default()),
        None => Ok(Vec::new()),
    }
}
