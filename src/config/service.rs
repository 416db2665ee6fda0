//! Per-host services and expected ports (`ports = [...]`, `[[host.service]]`), and the flap
//! damping thresholds. These are the checked values; parsing and located errors live in
//! `inventory/host_service.rs` (and `inventory/values.rs` for the damping).

use std::fmt;
use std::time::Duration;

/// A regular expression that remembers the text it came from, so configs compare equal and
/// error messages can quote it.
#[derive(Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: regex::Regex,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, regex::Error> {
        Ok(Pattern {
            source: source.to_string(),
            regex: regex::Regex::new(source)?,
        })
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source)
    }
}

/// What a body (HTTP) or reply (TCP) must hold: `contains = "text"` or `contains = "/re/"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyMatch {
    Substring(String),
    Regex(Pattern),
}

impl BodyMatch {
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            BodyMatch::Substring(s) => text.contains(s.as_str()),
            BodyMatch::Regex(p) => p.regex.is_match(text),
        }
    }
}

impl fmt::Display for BodyMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyMatch::Substring(s) => write!(f, "{s:?}"),
            BodyMatch::Regex(p) => write!(f, "/{}/", p.source),
        }
    }
}

/// One `[[host.service]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Unique within the host (`planet`, `smtp`, `jabber-c2s`).
    pub name: String,
    pub kind: ServiceKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceKind {
    /// `kind = "http"` or `"https"` (the URL's scheme decides; `https` implies a TLS check).
    Http(HttpService),
    Tls(TlsService),
    Smtp(SmtpService),
    Tcp(TcpService),
    /// `kind = "command"`: a command run on the host itself, over SSH.
    Command(CommandService),
}

impl ServiceKind {
    /// The word used in the inventory and in `check --json`.
    pub fn word(&self) -> &'static str {
        match self {
            ServiceKind::Http(h) if h.url.starts_with("https:") => "https",
            ServiceKind::Http(_) => "http",
            ServiceKind::Tls(_) => "tls",
            ServiceKind::Smtp(_) => "smtp",
            ServiceKind::Tcp(_) => "tcp",
            ServiceKind::Command(_) => "command",
        }
    }
}

/// How to find the time a page was last updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Older than this is `stale`.
    pub max_age: Duration,
    /// A regex whose first capture group (or whole match) is a timestamp in the body. When
    /// absent, or when the body gives no readable time, the `Last-Modified` header is used
    /// (and the detail says so).
    pub fresh_regex: Option<Pattern>,
    /// `strftime` format of the captured timestamp (`%Y-%m-%d %H:%M`, read as UTC). When
    /// absent: RFC 3339, RFC 2822 / HTTP date, Unix seconds, or the layouts sites print
    /// (the table in `probe::service::fresh`), tried in that order.
    pub fresh_format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpService {
    /// Absolute `http://` or `https://` URL. Its host is sent as Host and SNI; the connection
    /// goes to the host's target IP (and the URL's port, or 80/443).
    pub url: String,
    /// Default 200.
    pub expect_status: u16,
    pub contains: Option<BodyMatch>,
    pub freshness: Option<Freshness>,
    /// Bytes of body read at most (default 1 MiB); a longer body is cut, not an error.
    pub max_body: usize,
    /// For https: warn when the certificate expires within this many days (default 14).
    pub warn_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsService {
    /// Default 443.
    pub port: u16,
    /// Name sent as SNI and checked against the certificate; default: the host's fqdn.
    pub server_name: Option<String>,
    /// Default 14.
    pub warn_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpService {
    /// Default 25.
    pub port: u16,
    /// Name sent in EHLO; default `moveday.invalid`.
    pub ehlo: String,
    /// Flag a server that does not offer STARTTLS (default true).
    pub expect_starttls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpService {
    pub port: u16,
    /// Text sent after connecting (escape sequences `\r` `\n` already decoded by TOML).
    pub send: Option<String>,
    /// What the reply must hold; without it, a completed connect is enough.
    pub expect: Option<BodyMatch>,
}

/// `kind = "command"`: `run` on the host through `ssh`, and what its output must be. With
/// no check, exit status 0 is ok.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandService {
    /// One line, run by the remote shell (that is what ssh does with its command).
    pub run: String,
    /// The SSH destination; default: the host's fqdn.
    pub ssh: Option<String>,
    /// Arguments to ssh after `[ssh] options`.
    pub ssh_options: Vec<String>,
    pub check: CommandCheck,
    /// How often it runs (`None`: every probe round); also the most one run may take, up
    /// to `probe::service::command::MAX_RUN`.
    pub every: Option<Duration>,
}

// `min`/`max` are finite (checked when read), so equality is an equivalence.
impl Eq for CommandService {}

/// What a command's output must be: at most one of these.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandCheck {
    /// Exit status 0 is enough.
    ExitStatus,
    /// `expect`: the output holds this text, or matches this `/regex/`.
    Expect(BodyMatch),
    /// `expect_empty = true`: any output fails (and is shown: the old-address sweep's files).
    Empty,
    /// `min` / `max`: a number on the first line, within these (either may be open).
    Number { min: Option<f64>, max: Option<f64> },
}

/// How many consecutive results flip a host's state (flap damping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damping {
    /// Consecutive failures before a probe turns red (default 2).
    pub fail_after: u32,
    /// Consecutive successes before a red probe turns green again (default 1).
    pub recover_after: u32,
}

impl Default for Damping {
    fn default() -> Self {
        Damping {
            fail_after: 2,
            recover_after: 1,
        }
    }
}

/// Default certificate warning window, in days.
pub const DEFAULT_WARN_DAYS: u32 = 14;
/// Default cap on a service's body.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Most certificates live a year or two; ten years is surely a typo.
pub const MAX_WARN_DAYS: u32 = 3650;
/// The largest `max_body` accepted: 64 MiB.
pub const MAX_MAX_BODY: usize = 64 * 1024 * 1024;

/// The regex crate's message cut to its last meaningful line: for a syntax error that is
/// `unclosed group` rather than the pattern, a caret line and then `error: unclosed group`.
pub fn short_regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("invalid regex");
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// Whether chrono accepts `format` as a `strftime` format (no `Item::Error` in it) that
/// reads at least one field (text alone would never match a time).
pub fn is_valid_strftime(format: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    let items: Vec<Item> = StrftimeItems::new(format).collect();
    !items.iter().any(|i| matches!(i, Item::Error))
        && items
            .iter()
            .any(|i| matches!(i, Item::Numeric(..) | Item::Fixed(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_errors_keep_their_last_line() {
        let e = Pattern::new("a{99999999}").unwrap_err();
        let short = short_regex_error(&e);
        assert!(
            !short.contains('\n') && !short.starts_with("error:"),
            "{short}"
        );
        assert_eq!(
            short_regex_error(&Pattern::new("[z-a]").unwrap_err()),
            "invalid character class range, the start must be <= the end"
        );
    }

    #[test]
    fn strftime_formats_are_checked() {
        assert!(is_valid_strftime("%Y-%m-%d %H:%M"));
        assert!(is_valid_strftime("%d/%b/%Y:%H:%M:%S %z"));
        assert!(!is_valid_strftime("%Y-%m-%d %Q"));
        assert!(!is_valid_strftime("%Y-%m-%"));
        assert!(!is_valid_strftime("updated"), "no field to read");
        assert!(!is_valid_strftime(""));
    }
}
