//! Service probes: is the thing behind a port actually working, the way its users will see
//! it once DNS points at the new address?
//!
//! One entry point, [`probe_service`], takes a `[[host.service]]` and the host's target IP
//! and returns a [`ServiceResult`]: a state (`ok` < `warn` < `stale` < `fail`), one short
//! line for the operator and, when the state is not ok, the reason. Like every probe it
//! never panics, ends by its timeout whatever the peer does, and everything that came
//! from the network is sanitized before it is stored.
//!
//! - `http`/`https`: status, body content, freshness; https adds the certificate check.
//! - `tls`: a real handshake; the certificate's trust, name and dates.
//! - `smtp`: banner, EHLO, STARTTLS offered.
//! - `tcp`: connect, optionally send a line and look for a reply.
//! - `command`: a command run on the host itself over SSH (`command.rs`); it is not asked
//!   of an address, and the scheduler runs it on its own cadence (`every`).

pub mod command;
mod fresh;
mod http;
mod smtp;
mod tcp;
mod tls;

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::service::{ServiceConfig, ServiceKind};

pub use smtp::announced_name;
pub use tls::TlsTrust;

/// How a service is doing, ordered from best to worst so that the worst of several is
/// their `max()`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Ok,
    /// Works, but needs attention soon (a certificate about to expire, no STARTTLS).
    Warn,
    /// Answers, but the content has not been updated within `max_age`.
    Stale,
    Fail,
}

impl ServiceState {
    /// The word used in `check --json` and the grid: `ok`, `warn`, `stale`, `fail`.
    pub fn word(self) -> &'static str {
        match self {
            ServiceState::Ok => "ok",
            ServiceState::Warn => "warn",
            ServiceState::Stale => "stale",
            ServiceState::Fail => "fail",
        }
    }

    /// The worse of two states.
    pub fn worst(self, other: ServiceState) -> ServiceState {
        self.max(other)
    }
}

/// What the server's certificate says, whether or not it is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name (`CN=www.example.org`), sanitized.
    pub subject: String,
    /// Issuer distinguished name, sanitized.
    pub issuer: String,
    pub not_after: SystemTime,
    /// Whole days from the probe's `now` to `notAfter`; negative once expired.
    pub days_left: i64,
    /// The certificate's names cover the name asked for (SNI).
    pub name_matches: bool,
    /// The chain leads to a trusted root (checked at a time inside the leaf's validity when
    /// the certificate is merely expired, so an expired cert from a real CA still counts
    /// as trusted).
    pub trusted: bool,
    /// What the standard (WebPKI) verification said at `now` for the name asked, when it
    /// did not accept the certificate; sanitized.
    pub chain_error: Option<String>,
}

/// The outcome of one probe of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceResult {
    pub state: ServiceState,
    /// One short sanitized line: `200 OK · 12 KiB · updated 3h 12m ago`.
    pub detail: String,
    /// Why the state is not ok (sanitized); `None` when ok.
    pub error: Option<String>,
    /// Connect to the answer that decided the state (request to end of body for http).
    pub latency: Duration,
    /// Age of the content, when freshness is configured and a timestamp was found (`None`
    /// for a timestamp in the future).
    pub age: Option<Duration>,
    /// The certificate, for `tls` and `https` (boxed, as `command`: a report carries one
    /// result, and most results have neither).
    pub cert: Option<Box<CertInfo>>,
    /// The names an `smtp` service announced (its 220 banner, its EHLO reply), for the HELO
    /// check of a mail host (`probe::mail::helo_check`).
    pub smtp_names: Option<SmtpNames>,
    /// What a `command` service's run printed and how it exited (boxed: every other
    /// service's result, and every report, would carry its size).
    pub command: Option<Box<CommandRun>>,
}

/// A `command` service's run, for `check --json` and the detail pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRun {
    /// The remote command's exit status (`None`: killed, or cut at the output cap).
    pub exit_status: Option<i32>,
    /// Its output, sanitized line by line, at most [`command::SHOWN_CHARS`] characters.
    pub output: String,
    /// Lines of output read.
    pub lines: usize,
    /// More than [`command::OUTPUT_CAP`] bytes were written: the rest was not read.
    pub truncated: bool,
}

/// The names an SMTP server announced about itself: the first word of its 220 banner and
/// of its EHLO reply (`250-mail.example.org Hello ...`), lower-case, without a trailing
/// dot, sanitized; `None` when that line is empty. A receiver compares the name the sender
/// gives in *its* EHLO, which the MTA usually takes from the same setting (Postfix's
/// `myhostname`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmtpNames {
    pub banner: Option<String>,
    pub ehlo: Option<String>,
}

impl SmtpNames {
    /// The name the server goes by: the EHLO reply's, else the banner's.
    pub fn name(&self) -> Option<&str> {
        self.ehlo.as_deref().or(self.banner.as_deref())
    }
}

impl ServiceResult {
    /// A failure for a service that was not probed, saying why.
    pub fn not_asked(why: &str) -> ServiceResult {
        ServiceResult::fail(why, "not asked", Duration::ZERO)
    }

    /// A failure with nothing else known.
    fn fail(
        error: impl Into<String>,
        detail: impl Into<String>,
        latency: Duration,
    ) -> ServiceResult {
        ServiceResult {
            smtp_names: None,
            command: None,
            state: ServiceState::Fail,
            detail: detail.into(),
            error: Some(error.into()),
            latency,
            age: None,
            cert: None,
        }
    }
}

/// Probes `svc` on `ip` (the host's target), trusting the system's certificate store.
/// `fqdn` is the host's name (the default TLS server name), `now` the time certificate
/// dates and content ages are measured against. Ends by `timeout` (plus a few
/// milliseconds), whatever the peer does.
pub async fn probe_service(
    svc: &ServiceConfig,
    fqdn: &str,
    ip: IpAddr,
    timeout: Duration,
    now: SystemTime,
) -> ServiceResult {
    let trust = if let Some(loaded) = TlsTrust::system_if_loaded() {
        loaded
    } else if needs_trust(svc) {
        // Loading the system store reads and parses a few hundred files once per process:
        // done on the blocking pool and not counted against the probe's timeout.
        match tokio::task::spawn_blocking(TlsTrust::system).await {
            Ok(trust) => trust,
            Err(e) => {
                return ServiceResult::fail(
                    format!("cannot load the trust store: {e}"),
                    "TLS check not run",
                    Duration::ZERO,
                );
            }
        }
    } else {
        TlsTrust::empty()
    };
    probe_service_with(svc, fqdn, ip, timeout, now, &trust).await
}

/// [`probe_service`] with explicit trust roots for the certificate checks (a private CA,
/// or a test's own CA: see [`TlsTrust::with_extra_roots`]).
pub async fn probe_service_with(
    svc: &ServiceConfig,
    fqdn: &str,
    ip: IpAddr,
    timeout: Duration,
    now: SystemTime,
    trust: &TlsTrust,
) -> ServiceResult {
    let deadline = tokio::time::Instant::now() + timeout;
    let probe = async {
        match &svc.kind {
            ServiceKind::Http(h) => http::probe(h, ip, timeout, deadline, now, trust).await,
            ServiceKind::Tls(t) => {
                let name = t.server_name.as_deref().unwrap_or(fqdn);
                tls::probe(ip, t.port, name, t.warn_days, timeout, deadline, now, trust).await
            }
            ServiceKind::Smtp(s) => smtp::probe(s, ip, timeout, deadline).await,
            ServiceKind::Tcp(t) => tcp::probe(t, ip, timeout, deadline).await,
            // Without `[ssh] options` (the scheduler calls `command::probe` with them), and
            // within this probe's timeout.
            ServiceKind::Command(c) => command::probe(c, fqdn, &[], timeout, timeout).await,
        }
    };
    // Every step already ends by the deadline; this is the backstop for one that would not.
    match tokio::time::timeout_at(deadline + GRACE, probe).await {
        Ok(result) => result,
        Err(_) => ServiceResult::fail(
            format!(
                "timeout: no verdict in {}",
                super::ports::fmt_timeout(timeout)
            ),
            "timeout",
            timeout,
        ),
    }
}

/// Slack past the deadline for the backstop timeout (the steps' own timeouts report
/// better errors and should win).
const GRACE: Duration = Duration::from_millis(100);

fn needs_trust(svc: &ServiceConfig) -> bool {
    matches!(svc.kind, ServiceKind::Tls(_)) || svc.kind.word() == "https"
}

/// Characters of text from the network shown in a detail or an error.
const SNIPPET_CHARS: usize = 80;

/// A compact, readable duration: `45s`, `12m 5s`, `3h 12m`, `2d 4h`.
pub(crate) fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => two(s / 60, "m", s % 60, "s"),
        3600..86400 => two(s / 3600, "h", s % 3600 / 60, "m"),
        _ => two(s / 86400, "d", s % 86400 / 3600, "h"),
    }
}

fn two(a: u64, ua: &str, b: u64, ub: &str) -> String {
    if b == 0 {
        format!("{a}{ua}")
    } else {
        format!("{a}{ua} {b}{ub}")
    }
}

/// A byte count: `512 B`, `12 KiB`, `1.5 MiB`.
pub(crate) fn size(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n < KIB {
        format!("{n} B")
    } else if n < MIB {
        format!("{} KiB", (n + KIB / 2) / KIB)
    } else if n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    }
}

/// Sanitized, capped excerpt of bytes from the network, leading whitespace dropped.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    crate::sanitize::sanitize(text.trim(), SNIPPET_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_sizes() {
        assert_eq!(span(Duration::from_secs(45)), "45s");
        assert_eq!(span(Duration::from_secs(12 * 60 + 5)), "12m 5s");
        assert_eq!(span(Duration::from_secs(3 * 3600 + 12 * 60)), "3h 12m");
        assert_eq!(
            span(Duration::from_secs(2 * 86400 + 4 * 3600 + 59)),
            "2d 4h"
        );
        assert_eq!(span(Duration::from_secs(3 * 86400)), "3d");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(12 * 1024 + 100), "12 KiB");
        assert_eq!(size(1024 * 1024), "1 MiB");
        assert_eq!(size(1536 * 1024), "1.5 MiB");
    }

    #[test]
    fn states_order_from_best_to_worst() {
        use ServiceState::*;
        assert!(Ok < Warn && Warn < Stale && Stale < Fail);
        assert_eq!(Warn.worst(Stale), Stale);
        assert_eq!([Ok, Fail, Warn].into_iter().max(), Some(Fail));
        assert_eq!(Fail.word(), "fail");
    }
}
