//! `[[notify]]`: where moveday tells the team what changed (a chat webhook, an ntfy topic,
//! a local program), and what each endpoint wants to hear. A URL may carry a secret token
//! in its path or query, so it is shown only as [`shown_url`] makes it: scheme, host and
//! port, never the rest.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use toml::Spanned;

use super::super::{ConfigError, limits};
use super::values::{Dur, Located, duration_within};

/// `[[notify]] min_interval` when not given.
pub const DEFAULT_NOTIFY_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// `[[notify]] timeout` when not given.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest endpoint name (the status bar names it).
pub const MAX_NOTIFY_NAME: usize = 32;

/// Most arguments of a `command` endpoint's `argv`.
pub const MAX_NOTIFY_ARGV: usize = 64;

/// One endpoint the team is told through.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Unique in the inventory (`team`, `phones`).
    pub name: String,
    pub target: NotifyTarget,
    /// What it is told about (default: host health changes).
    pub on: Vec<NotifyOn>,
    /// At most one message per host (or zone, item) per interval; what happens in between
    /// is summed up.
    pub min_interval: Duration,
    /// How long one delivery attempt may take.
    pub timeout: Duration,
}

/// How a message goes out.
#[derive(Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// POST the JSON body to the URL.
    Webhook(Url),
    /// POST the text to an ntfy topic's URL, with a `Title` header.
    Ntfy(Url),
    /// Run the program (argv, no shell) with the JSON body on stdin.
    Command(Vec<String>),
}

impl NotifyTarget {
    /// Where it goes, safe to show (see [`NotifyConfig::shown_url`]).
    pub fn shown(&self) -> String {
        match self {
            NotifyTarget::Webhook(url) | NotifyTarget::Ntfy(url) => shown_url(url),
            NotifyTarget::Command(argv) => {
                let program =
                    crate::sanitize::sanitize(argv.first().map_or("", String::as_str), 80);
                if argv.len() > 1 {
                    format!("{program} …")
                } else {
                    program
                }
            }
        }
    }

    /// `webhook`, `ntfy` or `command`, as the inventory writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            NotifyTarget::Webhook(_) => "webhook",
            NotifyTarget::Ntfy(_) => "ntfy",
            NotifyTarget::Command(_) => "command",
        }
    }
}

impl NotifyConfig {
    /// Where it goes, safe to show: `https://chat.example.org/…` (never the path or the
    /// query, which may carry the token, nor a user or password), or a command's program
    /// (`tee …`: its arguments may carry one too).
    pub fn shown_url(&self) -> String {
        self.target.shown()
    }

    /// Whether the endpoint is told about `what`.
    pub fn wants(&self, what: NotifyOn) -> bool {
        self.on.contains(&what)
    }
}

/// Written by hand so that `{:?}` never prints a URL's secret part.
impl fmt::Debug for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.kind(), self.shown())
    }
}

/// Written by hand so that `{:?}` never prints a URL's secret part.
impl fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("name", &self.name)
            .field("kind", &self.target.kind())
            .field("url", &self.shown_url())
            .field("on", &self.on)
            .field("min_interval", &self.min_interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `scheme://host[:port]/…`: the part of `url` that may be shown. `/…` stands for whatever
/// path and query there are (nothing is shown for a bare `/`).
pub fn shown_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let rest = if url.path() == "/" && url.query().is_none() {
        "/"
    } else {
        "/…"
    };
    crate::sanitize::sanitize(&format!("{}://{host}{port}{rest}", url.scheme()), 300)
}

/// What an endpoint can be told about (`on = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOn {
    /// A host turns red, or green again.
    Host,
    /// A zone's serials or NS sets.
    Zone,
    /// A zone's delegation at its parent.
    Delegation,
    /// A canary run's steps.
    Canary,
    /// A checklist item ticked or unticked, and by whom.
    Checklist,
    /// A mail host's mail checks (SPF, blocklists, reverse DNS).
    Mail,
    /// A vantage point's verdicts.
    Vantage,
}

impl NotifyOn {
    pub const ALL: [(&'static str, NotifyOn); 7] = [
        ("host", NotifyOn::Host),
        ("zone", NotifyOn::Zone),
        ("delegation", NotifyOn::Delegation),
        ("canary", NotifyOn::Canary),
        ("checklist", NotifyOn::Checklist),
        ("mail", NotifyOn::Mail),
        ("vantage", NotifyOn::Vantage),
    ];

    pub fn name(self) -> &'static str {
        NotifyOn::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    name: Spanned<String>,
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    argv: Option<Spanned<Vec<Spanned<String>>>>,
    on: Option<Spanned<Vec<Spanned<String>>>>,
    min_interval: Option<Spanned<Dur>>,
    timeout: Option<Spanned<Dur>>,
}

/// `[[notify]]` tables, checked: names unique.
pub(super) fn notify(raw: Vec<RawNotify>, err: Located) -> Result<Vec<NotifyConfig>, ConfigError> {
    let mut out: Vec<NotifyConfig> = Vec::new();
    for n in raw {
        let name = notify_name(&n.name, err)?;
        if out.iter().any(|o| o.name.eq_ignore_ascii_case(&name)) {
            return Err(err(
                n.name.span(),
                format!("notify `{name}` is defined twice"),
            ));
        }
        let target = target(&n, err)?;
        let on = match &n.on {
            Some(list) => on_list(list, err)?,
            None => vec![NotifyOn::Host],
        };
        let min_interval = match &n.min_interval {
            Some(d) => duration_within(d, "min_interval", &limits::NOTIFY_MIN_INTERVAL, err)?,
            None => DEFAULT_NOTIFY_MIN_INTERVAL,
        };
        let timeout = match &n.timeout {
            Some(d) => duration_within(d, "timeout", &limits::NOTIFY_TIMEOUT, err)?,
            None => DEFAULT_NOTIFY_TIMEOUT,
        };
        out.push(NotifyConfig {
            name,
            target,
            on,
            min_interval,
            timeout,
        });
    }
    Ok(out)
}

fn notify_name(raw: &Spanned<String>, err: Located) -> Result<String, ConfigError> {
    super::values::short_name(raw, "notify name", MAX_NOTIFY_NAME, err)
}

/// `kind` with its `url` or `argv` (and not the other one).
fn target(n: &RawNotify, err: Located) -> Result<NotifyTarget, ConfigError> {
    let kind = n.kind.get_ref().trim();
    let needs_url = matches!(kind, "webhook" | "ntfy");
    if !needs_url && kind != "command" {
        return Err(err(
            n.kind.span(),
            format!(
                "unknown notify kind \"{}\": expected webhook, ntfy or command",
                crate::sanitize::sanitize(kind, 40)
            ),
        ));
    }
    match (needs_url, &n.url, &n.argv) {
        (true, _, Some(argv)) => Err(err(
            argv.span(),
            format!("argv is for kind = \"command\"; a {kind} endpoint takes a url"),
        )),
        (true, None, None) => Err(err(n.kind.span(), format!("a {kind} endpoint needs a url"))),
        (true, Some(url), None) => {
            let url = notify_url(url, err)?;
            Ok(if kind == "ntfy" {
                NotifyTarget::Ntfy(url)
            } else {
                NotifyTarget::Webhook(url)
            })
        }
        (false, Some(url), _) => Err(err(
            url.span(),
            "url is for kind = \"webhook\" or \"ntfy\"; a command endpoint takes argv".into(),
        )
        .unquoted()),
        (false, None, None) => Err(err(
            n.kind.span(),
            "a command endpoint needs argv = [\"program\", \"arg\", ...]".into(),
        )),
        (false, None, Some(argv)) => Ok(NotifyTarget::Command(argv_list(argv, err)?)),
    }
}

/// An http:// or https:// URL with a host. Only its shown part is ever echoed, and the
/// file's line is not quoted: the rest may be the endpoint's secret.
fn notify_url(raw: &Spanned<String>, err: Located) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.get_ref().trim())
        .map_err(|e| err(raw.span(), format!("invalid notify url: {e}")).unquoted())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err(
            raw.span(),
            format!(
                "notify url `{}` must be http:// or https:// with a host",
                shown_url(&url)
            ),
        )
        .unquoted());
    }
    Ok(url)
}

/// `argv = [...]`: a program and its arguments, run without a shell; none empty or with
/// a control or invisible character.
fn argv_list(
    raw: &Spanned<Vec<Spanned<String>>>,
    err: Located,
) -> Result<Vec<String>, ConfigError> {
    let list = raw.get_ref();
    if list.is_empty() {
        return Err(err(
            raw.span(),
            "argv is empty: it needs at least the program to run".into(),
        ));
    }
    if list.len() > MAX_NOTIFY_ARGV {
        return Err(err(
            list[MAX_NOTIFY_ARGV].span(),
            format!("argv: at most {MAX_NOTIFY_ARGV} arguments"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for a in list {
        let text = a.get_ref();
        if text.is_empty() || crate::sanitize::sanitize(text, usize::MAX) != *text {
            return Err(err(
                a.span(),
                "argv: an argument is empty or has a control or invisible character".into(),
            ));
        }
        out.push(text.clone());
    }
    Ok(out)
}

/// `on = [...]`: known kinds, not empty; a repeated one counts once.
fn on_list(
    raw: &Spanned<Vec<Spanned<String>>>,
    err: Located,
) -> Result<Vec<NotifyOn>, ConfigError> {
    if raw.get_ref().is_empty() {
        return Err(err(
            raw.span(),
            "on is empty: the endpoint would never be told anything (leave out the [[notify]] instead)"
                .into(),
        ));
    }
    let mut out = Vec::new();
    for item in raw.get_ref() {
        let text = item.get_ref().trim();
        let Some((_, what)) = NotifyOn::ALL.iter().find(|(n, _)| *n == text) else {
            let names: Vec<&str> = NotifyOn::ALL.iter().map(|(n, _)| *n).collect();
            return Err(err(
                item.span(),
                format!(
                    "unknown notify event \"{}\": expected {}",
                    crate::sanitize::sanitize(text, 40),
                    names.join(", ")
                ),
            ));
        };
        if !out.contains(what) {
            out.push(*what);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Inventory;

    fn parse(s: &str) -> Result<Inventory, ConfigError> {
        Inventory::parse(Path::new("inv.toml"), s)
    }

    #[test]
    fn endpoints_get_their_defaults_and_keep_their_secrets() {
        let inv = parse(
            "[[notify]]\nname = \"team\"\nkind = \"webhook\"\n\
             url = \"https://bot:pw@chat.example.org:8443/hooks/SECRET?token=T0K3N\"\n\
             on = [\"host\", \"checklist\", \"host\"]\nmin_interval = \"5m\"\n\
             [[notify]]\nname = \"phones\"\nkind = \"ntfy\"\nurl = \"https://ntfy.example.org/\"\n\
             [[notify]]\nname = \"log\"\nkind = \"command\"\nargv = [\"tee\", \"-a\", \"/tmp/x\"]\n\
             timeout = \"100ms\"\n",
        )
        .unwrap();
        let [team, phones, log] = &inv.notify[..] else {
            panic!("{:?}", inv.notify)
        };
        assert_eq!(team.on, [NotifyOn::Host, NotifyOn::Checklist]);
        assert_eq!(team.min_interval, Duration::from_secs(300));
        assert_eq!(team.timeout, DEFAULT_NOTIFY_TIMEOUT);
        assert_eq!(team.shown_url(), "https://chat.example.org:8443/…");
        let debug = format!("{inv:?}");
        for secret in ["SECRET", "T0K3N", "pw", "hooks"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert_eq!(phones.on, [NotifyOn::Host]);
        assert_eq!(phones.min_interval, DEFAULT_NOTIFY_MIN_INTERVAL);
        assert_eq!(phones.shown_url(), "https://ntfy.example.org/");
        assert_eq!(
            log.target,
            NotifyTarget::Command(vec!["tee".into(), "-a".into(), "/tmp/x".into()])
        );
        assert_eq!(log.shown_url(), "tee …");
        assert_eq!(log.timeout, Duration::from_millis(100));
        // A vantage point answers the laptop; it tells nobody.
        let stdin = Inventory::parse_stdin(&inv.source).unwrap();
        assert!(stdin.notify.is_empty());
    }

    #[test]
    fn bad_endpoints_are_refused_where_they_are_written() {
        let n = "[[notify]]\nname = \"team\"\n";
        for (text, want) in [
            (
                format!("{n}kind = \"mail\"\n"),
                "unknown notify kind \"mail\"",
            ),
            (
                format!("{n}kind = \"webhook\"\n"),
                "a webhook endpoint needs a url",
            ),
            (
                format!("{n}kind = \"ntfy\"\nurl = \"ftp://x.example.org/SECRET\"\n"),
                "notify url `ftp://x.example.org/…` must be http:// or https://",
            ),
            (
                format!("{n}kind = \"webhook\"\nurl = \"not a url\"\n"),
                "invalid notify url: relative URL without a base",
            ),
            (
                format!("{n}kind = \"command\"\nurl = \"https://a.example.org/\"\n"),
                "url is for kind = \"webhook\" or \"ntfy\"",
            ),
            (
                format!(
                    "{n}kind = \"webhook\"\nurl = \"https://a.example.org/\"\nargv = [\"x\"]\n"
                ),
                "argv is for kind = \"command\"",
            ),
            (
                format!("{n}kind = \"command\"\n"),
                "a command endpoint needs argv",
            ),
            (
                format!("{n}kind = \"command\"\nargv = []\n"),
                "argv is empty",
            ),
            (
                format!("{n}kind = \"command\"\nargv = [\"tee\", \"a\\u001b\"]\n"),
                "argv: an argument is empty or has a control",
            ),
            (
                format!("{n}kind = \"command\"\nargv = [\"tee\"]\non = [\"hosts\"]\n"),
                "unknown notify event \"hosts\": expected host, zone, delegation, canary, checklist, mail, vantage",
            ),
            (
                format!("{n}kind = \"command\"\nargv = [\"tee\"]\non = []\n"),
                "on is empty",
            ),
            (
                format!("{n}kind = \"command\"\nargv = [\"tee\"]\nmin_interval = \"500ms\"\n"),
                "min_interval must be at least 1s",
            ),
            (
                format!("{n}kind = \"command\"\nargv = [\"tee\"]\ntimeout = \"2m\"\n"),
                "timeout must be at most 60s",
            ),
            (
                format!(
                    "{n}kind = \"command\"\nargv = [\"tee\"]\n{n}kind = \"command\"\nargv = [\"tee\"]\n"
                ),
                "notify `team` is defined twice",
            ),
            (
                "[[notify]]\nname = \"a b\"\nkind = \"command\"\nargv = [\"tee\"]\n".to_string(),
                "invalid notify name `a b`",
            ),
            (
                format!("{n}kind = \"command\"\nargv = [\"tee\"]\nheaders = 1\n"),
                "unknown field `headers`",
            ),
        ] {
            let e = parse(&text).unwrap_err();
            assert!(e.message.starts_with(want), "{text}: {e}");
            assert!(e.line >= 1 && !e.message.contains("SECRET"), "{text}: {e}");
            // Nor the quoted line under the message.
            let quoted = e.excerpt.as_ref().map_or("", |(line, _)| line.as_str());
            assert!(!quoted.contains("SECRET"), "{text}: {quoted}");
        }
    }
}
