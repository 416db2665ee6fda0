//! `[[host.service]]`: one service of a host, of one kind (`http`, `https`, `tls`, `smtp`,
//! `tcp`, `command`), read into the checked types of `config::service`.
//!
//! A service table may hold any kind's keys as far as TOML is concerned; [`SERVICE_KEYS`]
//! says which kinds each key belongs to, and the first key (in the file) of another kind is
//! refused. That one list also declares [`RawService`], so serde's "expected one of" message
//! for an unknown key names the same keys.

use std::net::{IpAddr, Ipv6Addr};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::super::ConfigError;
use super::super::limits;
use super::super::service::{
    BodyMatch, CommandCheck, CommandService, DEFAULT_MAX_BODY, DEFAULT_WARN_DAYS, Freshness,
    HttpService, MAX_MAX_BODY, MAX_WARN_DAYS, Pattern, ServiceConfig, ServiceKind, SmtpService,
    TcpService, TlsService, is_valid_strftime, short_regex_error,
};
use super::ssh::{ssh_destination, ssh_options};
use super::values::{Dur, Located, check_hostname, dns_name, duration_within, port_number};

/// `kind = "..."` of a `[[host.service]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Https,
    Tls,
    Smtp,
    Tcp,
    Command,
}

impl Kind {
    const ALL: [(&'static str, Kind); 6] = [
        ("http", Kind::Http),
        ("https", Kind::Https),
        ("tls", Kind::Tls),
        ("smtp", Kind::Smtp),
        ("tcp", Kind::Tcp),
        ("command", Kind::Command),
    ];

    fn word(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(w, _)| w)
    }

    /// Whether a service of this kind may have `key` (besides `name` and `kind`).
    fn accepts(self, key: &str) -> bool {
        SERVICE_KEYS
            .iter()
            .any(|(k, kinds)| *k == key && kinds.contains(&self))
    }
}

/// Declares the service keys once: [`RawService`]'s fields (in file order, which is the
/// order of serde's unknown-key message), [`SERVICE_KEYS`] and [`RawService::given_keys`].
macro_rules! service_keys {
    ($($key:ident: $ty:ty => [$($kind:ident),+],)*) => {
        /// One `[[host.service]]`: every key of every kind; [`parse_service`] rejects the keys
        /// that do not belong to the one given.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct RawService {
            pub(super) name: Spanned<String>,
            kind: Spanned<String>,
            $($key: Option<Spanned<$ty>>,)*
        }

        /// Every key of a service besides `name` and `kind`, and the kinds it belongs to.
        const SERVICE_KEYS: &[(&str, &[Kind])] = &[$((stringify!($key), &[$(Kind::$kind),+]),)*];

        impl RawService {
            /// The keys given (besides `name` and `kind`) and where their values are.
            fn given_keys(&self) -> Vec<(&'static str, Range<usize>)> {
                let mut given = Vec::new();
                $(if let Some(value) = &self.$key {
                    given.push((stringify!($key), value.span()));
                })*
                given
            }
        }
    };
}

service_keys! {
    url: String => [Http, Https],
    expect_status: i64 => [Http, Https],
    contains: String => [Http, Https],
    max_age: Dur => [Http, Https],
    fresh_regex: String => [Http, Https],
    fresh_format: String => [Http, Https],
    max_body: i64 => [Http, Https],
    warn_days: i64 => [Https, Tls],
    port: i64 => [Tls, Smtp, Tcp],
    server_name: String => [Tls],
    ehlo: String => [Smtp],
    expect_starttls: bool => [Smtp],
    send: String => [Tcp],
    expect: String => [Tcp, Command],
    run: String => [Command],
    ssh: String => [Command],
    ssh_options: Vec<Spanned<String>> => [Command],
    expect_empty: bool => [Command],
    min: f64 => [Command],
    max: f64 => [Command],
    every: Dur => [Command],
}

/// Validates one `[[host.service]]` (all but the duplicate-name check, which needs the host).
pub(super) fn parse_service(s: RawService, err: Located) -> Result<ServiceConfig, ConfigError> {
    let name = s.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(err(s.name.span(), "service name must not be empty".into()));
    }
    let word = s.kind.get_ref().trim().to_ascii_lowercase();
    let Some(kind) = Kind::ALL.iter().find(|(w, _)| *w == word).map(|(_, k)| *k) else {
        return Err(err(
            s.kind.span(),
            format!(
                "unknown service kind {:?}: expected http, https, tls, smtp, tcp or command",
                s.kind.get_ref()
            ),
        ));
    };
    refuse_other_kinds_keys(&s, kind, err)?;
    let warn_days = match &s.warn_days {
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
    let kind = match kind {
        Kind::Http | Kind::Https => {
            ServiceKind::Http(http_service(&s, &name, kind, warn_days, err)?)
        }
        Kind::Tls => ServiceKind::Tls(tls_service(&s, &name, warn_days, err)?),
        Kind::Smtp => ServiceKind::Smtp(smtp_service(&s, &name, err)?),
        Kind::Tcp => ServiceKind::Tcp(tcp_service(&s, &name, err)?),
        Kind::Command => ServiceKind::Command(command_service(&s, &name, err)?),
    };
    Ok(ServiceConfig { name, kind })
}

/// Keys of another kind: the first one in the file is reported.
fn refuse_other_kinds_keys(s: &RawService, kind: Kind, err: Located) -> Result<(), ConfigError> {
    let word = kind.word();
    let Some((key, span)) = s
        .given_keys()
        .into_iter()
        .filter(|(key, _)| !kind.accepts(key))
        .min_by_key(|(_, span)| span.start)
    else {
        return Ok(());
    };
    let message = match key {
        "max_age" => "max_age needs a time to read: only http/https services have one \
                      (Last-Modified or fresh_regex)"
            .to_string(),
        "warn_days" => format!(
            "key `warn_days` does not apply to kind = \"{word}\": only https and tls have a certificate"
        ),
        _ => format!("key `{key}` does not apply to kind = \"{word}\""),
    };
    Err(err(span, message))
}

/// `port`, or the kind's default; a kind without a default needs one.
fn service_port(
    s: &RawService,
    name: &str,
    kind: Kind,
    default: Option<u16>,
    err: Located,
) -> Result<u16, ConfigError> {
    match (&s.port, default) {
        (Some(p), _) => port_number(p, err),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(err(
            s.name.span(),
            format!(
                "service `{name}`: kind = \"{}\" needs a `port`",
                kind.word()
            ),
        )),
    }
}

/// `kind = "http"` or `"https"`: a URL of that scheme, the status and body it must answer
/// with, how fresh it must be, and how much of it to read.
fn http_service(
    s: &RawService,
    name: &str,
    kind: Kind,
    warn_days: u32,
    err: Located,
) -> Result<HttpService, ConfigError> {
    let word = kind.word();
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
            format!("url `{text}` does not match kind = \"{word}\": expected an {word}:// URL"),
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
    let freshness = freshness(s, err)?;
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
    Ok(HttpService {
        url: url.to_string(),
        expect_status,
        contains,
        freshness,
        max_body,
        warn_days,
    })
}

/// `max_age`, and where the page's time is read from: `Last-Modified`, or `fresh_regex`
/// (with an optional `fresh_format`) in the body.
fn freshness(s: &RawService, err: Located) -> Result<Option<Freshness>, ConfigError> {
    let max_age = s
        .max_age
        .as_ref()
        .map(|d| duration_within(d, "max_age", &limits::MAX_AGE, err))
        .transpose()?;
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
    Ok(max_age.map(|max_age| Freshness {
        max_age,
        fresh_regex,
        fresh_format,
    }))
}

/// `kind = "tls"`: a port (443) and the name to send as SNI and check the certificate for.
fn tls_service(
    s: &RawService,
    name: &str,
    warn_days: u32,
    err: Located,
) -> Result<TlsService, ConfigError> {
    let server_name = match &s.server_name {
        None => None,
        Some(n) => Some(dns_name(n, "server_name", err)?),
    };
    Ok(TlsService {
        port: service_port(s, name, Kind::Tls, Some(443), err)?,
        server_name,
        warn_days,
    })
}

/// `kind = "smtp"`: a port (25), the EHLO name, and whether STARTTLS must be offered.
fn smtp_service(s: &RawService, name: &str, err: Located) -> Result<SmtpService, ConfigError> {
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
                            .is_some_and(|v6| v6.parse::<Ipv6Addr>().is_ok())
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
    Ok(SmtpService {
        port: service_port(s, name, Kind::Smtp, Some(25), err)?,
        ehlo,
        expect_starttls: s.expect_starttls.as_ref().is_none_or(|b| *b.get_ref()),
    })
}

/// `kind = "tcp"`: a port (required), what to send, and what the reply must hold.
fn tcp_service(s: &RawService, name: &str, err: Located) -> Result<TcpService, ConfigError> {
    let port = service_port(s, name, Kind::Tcp, None, err)?;
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
    Ok(TcpService { port, send, expect })
}

/// The longest `run` accepted (a command line, not a script).
pub const MAX_RUN_CHARS: usize = 4096;

/// `kind = "command"`: the command (one line), where it runs, at most one check, how often.
fn command_service(
    s: &RawService,
    name: &str,
    err: Located,
) -> Result<CommandService, ConfigError> {
    let Some(r) = &s.run else {
        return Err(err(
            s.name.span(),
            format!("service `{name}`: kind = \"command\" needs a `run`"),
        ));
    };
    let run = r.get_ref().trim();
    // One line: ssh hands the string to the remote shell, which would run each line as its
    // own command and report only the last one's exit status; `;` or `&&` say it plainly.
    let why = if run.is_empty() {
        Some("it is empty".to_string())
    } else if run.chars().any(char::is_control) {
        Some("it has a newline or a control character: keep it one line (join commands with `;` or `&&`)".into())
    } else if run.chars().count() > MAX_RUN_CHARS {
        Some(format!("it is longer than {MAX_RUN_CHARS} characters"))
    } else {
        None
    };
    if let Some(why) = why {
        return Err(err(r.span(), format!("invalid run: {why}")));
    }
    Ok(CommandService {
        run: run.to_string(),
        ssh: s
            .ssh
            .as_ref()
            .map(|d| ssh_destination(d, err))
            .transpose()?,
        ssh_options: match &s.ssh_options {
            Some(list) => ssh_options(list.get_ref(), "ssh_options", err)?,
            None => Vec::new(),
        },
        check: command_check(s, err)?,
        every: s
            .every
            .as_ref()
            .map(|d| duration_within(d, "every", &limits::COMMAND_EVERY, err))
            .transpose()?,
    })
}

/// `expect`, `expect_empty = true`, or `min`/`max`: at most one kind of check.
fn command_check(s: &RawService, err: Located) -> Result<CommandCheck, ConfigError> {
    let number = |v: &Option<Spanned<f64>>, key: &str| match v {
        Some(n) if !n.get_ref().is_finite() => {
            Err(err(n.span(), format!("{key} must be a finite number")))
        }
        v => Ok(v.as_ref().map(|n| (*n.get_ref(), n.span()))),
    };
    let (min, max) = (number(&s.min, "min")?, number(&s.max, "max")?);
    if let (Some((lo, _)), Some((hi, span))) = (&min, &max)
        && lo > hi
    {
        return Err(err(span.clone(), format!("max ({hi}) is below min ({lo})")));
    }
    let empty = s.expect_empty.as_ref().filter(|e| *e.get_ref());
    let mut given: Vec<(&str, Range<usize>)> = Vec::new();
    if let Some(e) = &s.expect {
        given.push(("expect", e.span()));
    }
    if let Some(e) = empty {
        given.push(("expect_empty", e.span()));
    }
    if let Some((_, span)) = min.as_ref().or(max.as_ref()) {
        given.push(("min/max", span.clone()));
    }
    given.sort_by_key(|(_, span)| span.start);
    if let [(first, _), (second, span), ..] = given.as_slice() {
        return Err(err(
            span.clone(),
            format!("{second} and {first} together: a command service has at most one check"),
        ));
    }
    if let Some(e) = &s.expect {
        return Ok(CommandCheck::Expect(body_match(e, "expect", err)?));
    }
    if empty.is_some() {
        return Ok(CommandCheck::Empty);
    }
    if min.is_some() || max.is_some() {
        return Ok(CommandCheck::Number {
            min: min.map(|(n, _)| n),
            max: max.map(|(n, _)| n),
        });
    }
    Ok(CommandCheck::ExitStatus)
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::Inventory;
    use crate::config::inventory::CheckLink;
    use crate::config::service::{BodyMatch, CommandCheck, CommandService, ServiceKind};

    const HOST: &str = "[[host]]\nname = \"mail\"\nfqdn = \"mail.example.org\"\n\n[[host.service]]\nname = \"mail-queue\"\nkind = \"command\"\n";

    fn command(keys: &str) -> Result<CommandService, String> {
        let source = format!("{HOST}{keys}\n");
        let inv = Inventory::parse(Path::new("inv.toml"), &source).map_err(|e| e.to_string())?;
        match &inv.hosts[0].services[0].kind {
            ServiceKind::Command(c) => Ok(c.clone()),
            other => Err(format!("not a command: {other:?}")),
        }
    }

    #[test]
    fn a_command_service_reads_its_keys() {
        let c = command(
            "run = \"postqueue -j | wc -l\"\nssh = \"root@mail.example.org\"\n\
             ssh_options = [\"-i\", \"~/.ssh/move\"]\nmax = 1000\nevery = \"1m\"",
        )
        .unwrap();
        assert_eq!(
            c,
            CommandService {
                run: "postqueue -j | wc -l".into(),
                ssh: Some("root@mail.example.org".into()),
                ssh_options: vec!["-i".into(), "~/.ssh/move".into()],
                check: CommandCheck::Number {
                    min: None,
                    max: Some(1000.0)
                },
                every: Some(Duration::from_secs(60)),
            }
        );
        let plain = command("run = \"true\"").unwrap();
        assert_eq!(
            (plain.check, plain.every, plain.ssh),
            (CommandCheck::ExitStatus, None, None)
        );
        let sweep = command("run = \"grep -rIl 198.51.100. /etc\"\nexpect_empty = true").unwrap();
        assert_eq!(sweep.check, CommandCheck::Empty);
        let re = command("run = \"systemctl is-active postfix\"\nexpect = \"/^active$/\"").unwrap();
        assert!(matches!(
            re.check,
            CommandCheck::Expect(BodyMatch::Regex(_))
        ));
        let range = command("run = \"cat /proc/loadavg\"\nmin = 0\nmax = 2.5").unwrap();
        assert_eq!(
            range.check,
            CommandCheck::Number {
                min: Some(0.0),
                max: Some(2.5)
            }
        );
    }

    #[test]
    fn bad_command_services_are_located() {
        let cases = [
            (
                "",
                "inv.toml:6:8: service `mail-queue`: kind = \"command\" needs a `run`",
            ),
            ("run = \"  \"", "inv.toml:8:7: invalid run: it is empty"),
            (
                "run = \"true\\nfalse\"",
                "inv.toml:8:7: invalid run: it has a newline or a control character: keep it one line (join commands with `;` or `&&`)",
            ),
            (
                "run = \"true\"\nssh = \"-oProxyCommand=x\"",
                "inv.toml:9:7: invalid ssh destination `-oProxyCommand=x`: it starts with `-`, which ssh reads as an option",
            ),
            (
                "run = \"true\"\nssh_options = [\"\"]",
                "inv.toml:9:16: ssh_options: an argument is empty or has a control or invisible character",
            ),
            (
                "run = \"true\"\nevery = \"0s\"",
                "inv.toml:9:9: every must be at least 1s",
            ),
            (
                "run = \"true\"\nevery = \"2d\"",
                "inv.toml:9:9: every must be at most 1d",
            ),
            (
                "run = \"true\"\nmin = 5\nmax = 1",
                "inv.toml:10:7: max (1) is below min (5)",
            ),
            (
                "run = \"true\"\nmax = nan",
                "inv.toml:9:7: max must be a finite number",
            ),
            (
                "run = \"true\"\nmax = 10\nexpect_empty = true",
                "inv.toml:10:16: expect_empty and min/max together: a command service has at most one check",
            ),
            (
                "run = \"true\"\nport = 25",
                "inv.toml:9:8: key `port` does not apply to kind = \"command\"",
            ),
        ];
        for (keys, expected) in cases {
            let error = command(keys).unwrap_err();
            assert_eq!(error.lines().next(), Some(expected), "{keys}");
        }
    }

    #[test]
    fn a_checklist_item_links_to_a_service_by_name() {
        let source = format!(
            "{HOST}run = \"true\"\n\n[[checklist]]\nid = \"q\"\ntext = \"queue drained\"\ncheck = \"mail.service:Mail-Queue\"\n"
        );
        let inv = Inventory::parse(Path::new("inv.toml"), &source).unwrap();
        let link = inv.checklist[0].check.unwrap();
        assert_eq!(
            link,
            CheckLink::Service {
                host: 0,
                service: 0
            }
        );
        assert_eq!(link.name(&inv), "mail.service:mail-queue");
        let bad = source.replace("service:Mail-Queue", "service:queue");
        assert_eq!(
            Inventory::parse(Path::new("inv.toml"), &bad)
                .unwrap_err()
                .to_string()
                .lines()
                .next(),
            Some(
                "inv.toml:13:9: check `mail.service:queue`: host `mail` has no service `queue`; its services: mail-queue"
            )
        );
    }
}
