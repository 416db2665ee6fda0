//! `[[host]]`: one host being moved, its addresses, the probes to run against it, its
//! expected ports, its mail domains and its `[[host.service]]` entries.

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use super::super::ConfigError;
use super::super::service::ServiceConfig;
use super::host_service::{RawService, parse_service};
use super::mail::mail_domains;
use super::values::{Ip, Located, SshSetting, damping, dns_name, port_number};
use super::{HostConfig, ProbeSettings};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    name: Spanned<String>,
    fqdn: Spanned<String>,
    old_ip: Option<Ip>,
    new_ip: Option<Ip>,
    ping: Option<bool>,
    ssh: Option<SshSetting>,
    http: Option<Spanned<String>>,
    role: Option<String>,
    mail_domains: Option<Spanned<Vec<Spanned<String>>>>,
    ports: Option<Vec<Spanned<i64>>>,
    probe_old: Option<Spanned<bool>>,
    fail_after: Option<Spanned<i64>>,
    recover_after: Option<Spanned<i64>>,
    #[serde(default)]
    service: Vec<RawService>,
}

/// Every `[[host]]`, in file order; names are unique ignoring case.
pub(super) fn hosts(
    raw: Vec<RawHost>,
    probe: &ProbeSettings,
    err: Located,
) -> Result<Vec<HostConfig>, ConfigError> {
    let mut hosts = Vec::new();
    let mut seen_hosts: HashSet<String> = HashSet::new();
    for h in raw {
        let hname = h.name.get_ref().trim().to_string();
        if hname.is_empty() {
            return Err(err(h.name.span(), "host name must not be empty".into()));
        }
        if !seen_hosts.insert(hname.to_ascii_lowercase()) {
            return Err(err(h.name.span(), format!("duplicate host name `{hname}`")));
        }
        hosts.push(host(h, hname, probe, err)?);
    }
    Ok(hosts)
}

/// One host; `[probe]` gives the defaults for `probe_old` and the damping.
fn host(
    h: RawHost,
    hname: String,
    probe: &ProbeSettings,
    err: Located,
) -> Result<HostConfig, ConfigError> {
    let fqdn = dns_name(&h.fqdn, "fqdn", err)?;
    let http = h.http.map(|u| http_url(u, err)).transpose()?;
    let old_ip = h.old_ip.map(|a| a.0);
    let ports = ports(h.ports.unwrap_or_default(), err)?;
    // `[probe] probe_old = true` is a default: hosts without an old_ip just skip it.
    let probe_old = match h.probe_old {
        Some(o) if *o.get_ref() && old_ip.is_none() => {
            return Err(err(
                o.span(),
                format!("probe_old = true needs an old_ip: host `{hname}` has none to probe"),
            ));
        }
        Some(o) => o.into_inner(),
        None => probe.probe_old && old_ip.is_some(),
    };
    let damping = damping(probe.damping, h.fail_after, h.recover_after, err)?;
    let services = services(h.service, &hname, err)?;
    let role = h
        .role
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty());
    let mail_domains = mail_domains(h.mail_domains, role.as_deref(), &fqdn, err)?;
    Ok(HostConfig {
        name: hname,
        fqdn,
        old_ip,
        new_ip: h.new_ip.map(|a| a.0),
        ping: h.ping.unwrap_or(true),
        ssh: h.ssh.map_or(Some(22), |s| s.0),
        http,
        role,
        ports,
        services,
        probe_old,
        damping,
        mail_domains,
    })
}

/// `http = "..."`: an absolute http:// or https:// URL with a host.
fn http_url(u: Spanned<String>, err: Located) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(u.get_ref())
        .map_err(|e| err(u.span(), format!("invalid http URL `{}`: {e}", u.get_ref())))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err(
            u.span(),
            format!(
                "http URL `{}` must be http:// or https:// with a host",
                u.get_ref()
            ),
        ));
    }
    Ok(u.into_inner())
}

/// `ports = [...]`: each a TCP port, none twice.
fn ports(raw: Vec<Spanned<i64>>, err: Located) -> Result<Vec<u16>, ConfigError> {
    let mut ports: Vec<u16> = Vec::new();
    for p in raw {
        let port = port_number(&p, err)?;
        if ports.contains(&port) {
            return Err(err(p.span(), format!("duplicate port {port} in ports")));
        }
        ports.push(port);
    }
    Ok(ports)
}

/// The host's `[[host.service]]` entries, in file order; names are unique within the host,
/// ignoring case.
fn services(
    raw: Vec<RawService>,
    hname: &str,
    err: Located,
) -> Result<Vec<ServiceConfig>, ConfigError> {
    let mut services: Vec<ServiceConfig> = Vec::new();
    for s in raw {
        let sname = s.name.get_ref().trim();
        if services.iter().any(|o| o.name.eq_ignore_ascii_case(sname)) {
            return Err(err(
                s.name.span(),
                format!("duplicate service name `{sname}` in host `{hname}`"),
            ));
        }
        services.push(parse_service(s, err)?);
    }
    Ok(services)
}
