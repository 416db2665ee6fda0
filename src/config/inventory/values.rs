//! Values shared by several inventory tables: addresses, durations, ports, host names and
//! flap damping, each read with a message that names the bad value.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::super::ConfigError;
use super::super::limits;
use super::super::service::Damping;

/// Builds a located error from a span and a message.
pub(super) type Located<'a> = &'a dyn Fn(std::ops::Range<usize>, String) -> ConfigError;

/// A TCP port, 1-65535.
pub(super) fn port_number(p: &Spanned<i64>, err: Located) -> Result<u16, ConfigError> {
    match u16::try_from(*p.get_ref()) {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(err(
            p.span(),
            format!("invalid port {}: expected 1-65535", p.get_ref()),
        )),
    }
}

/// A duration as the inventory writes one: `100ms`, `60s`, `1h`, `7d` (no minutes: `1m`
/// reads too much like a month).
pub fn duration_text(d: Duration) -> String {
    let secs = d.as_secs();
    match (d.subsec_millis(), secs) {
        (0, s) if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        (0, s) if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        (0, s) => format!("{s}s"),
        (_, _) => format!("{}ms", d.as_millis()),
    }
}

/// A duration key's value within `range` (one of [`limits`]), or a located error that
/// names the bound it crossed.
pub(super) fn duration_within(
    d: &Spanned<Dur>,
    key: &str,
    range: &RangeInclusive<Duration>,
    err: Located,
) -> Result<Duration, ConfigError> {
    let value = d.get_ref().0;
    if value < *range.start() {
        return Err(err(
            d.span(),
            format!("{key} must be at least {}", duration_text(*range.start())),
        ));
    }
    if value > *range.end() {
        return Err(err(
            d.span(),
            format!("{key} must be at most {}", duration_text(*range.end())),
        ));
    }
    Ok(value)
}

/// A short name the screen shows (a vantage's column, a notify endpoint's): 1 to `max`
/// letters, digits, `-`, `_` or `.` (`what` names it in the message: `vantage name`).
pub(super) fn short_name(
    raw: &Spanned<String>,
    what: &str,
    max: usize,
    err: Located,
) -> Result<String, ConfigError> {
    let name = raw.get_ref().trim();
    let ok = !name.is_empty()
        && name.chars().count() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(err(
            raw.span(),
            format!(
                "invalid {what} `{}`: 1 to {max} letters, digits, `-`, `_` or `.`",
                crate::sanitize::sanitize(name, 40)
            ),
        ));
    }
    Ok(name.to_string())
}

/// `fail_after` / `recover_after` over `base` (the `[probe]` values, or the defaults), each
/// in [`limits::ROUNDS`].
pub(super) fn damping(
    base: Damping,
    fail_after: Option<Spanned<i64>>,
    recover_after: Option<Spanned<i64>>,
    err: Located,
) -> Result<Damping, ConfigError> {
    let (least, most) = (*limits::ROUNDS.start(), *limits::ROUNDS.end());
    let count = |v: Option<Spanned<i64>>, key: &str, what: &str, default: u32| match v {
        None => Ok(default),
        Some(v) if *v.get_ref() < i64::from(least) => Err(err(
            v.span(),
            format!("{key} must be at least {least}: it counts the consecutive {what}"),
        )),
        Some(v) => u32::try_from(*v.get_ref())
            .ok()
            .filter(|n| *n <= most)
            .ok_or_else(|| {
                err(
                    v.span(),
                    format!(
                        "{key} must be at most {most}: it counts the consecutive {what}, \
                         one round each"
                    ),
                )
            }),
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

/// A DNS name from the file (a zone, an fqdn, a server name, a mail domain): trimmed,
/// without the trailing dot, lower-case, and a host name; or "invalid WHAT `...`: why" at
/// its place.
pub(super) fn dns_name(
    raw: &Spanned<String>,
    what: &str,
    err: Located,
) -> Result<String, ConfigError> {
    let name = raw
        .get_ref()
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    check_hostname(&name).map_err(|why| {
        err(
            raw.span(),
            format!("invalid {what} `{}`: {why}", raw.get_ref()),
        )
    })?;
    Ok(name)
}

/// RFC 1123 host name rules, loosely: labels of letters, digits, `-` and `_`.
pub(super) fn check_hostname(name: &str) -> Result<(), &'static str> {
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

/// A string value parsed by `FromStr`-like logic, with a message naming the bad value.
macro_rules! string_value {
    ($ty:ident, $inner:ty, $expecting:literal, $parse:expr) => {
        pub(super) struct $ty(pub(super) $inner);
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

/// `"ip"` (port 53) or `"ip:port"` (port 1-65535).
pub(super) fn parse_server_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    match s.parse::<SocketAddr>() {
        Ok(addr) if addr.port() == 0 => Err("port 0: expected a port 1-65535".to_string()),
        Ok(addr) => Ok(addr),
        Err(_) => {
            Err("expected \"ip\" or \"ip:port\" (IPv6 with a port as \"[::1]:53\")".to_string())
        }
    }
}

/// `ssh = 22`, `ssh = false` (skip) or `ssh = true` (port 22).
pub(super) struct SshSetting(pub(super) Option<u16>);

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
