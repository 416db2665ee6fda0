//! `http`/`https` service: fetch the URL from the target IP with the URL's own host as Host
//! and SNI, then check the status, the body and how fresh the content is. For https the TLS
//! check runs alongside on its own connection, and the content is checked even when the
//! certificate is not trusted (the operator wants both answers at once).
//!
//! Like the host HTTP probe: a fresh connection every time (no idle pool), redirects are
//! reported and not followed, no proxy, and body bytes are capped.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::header::LAST_MODIFIED;
use tokio::time::Instant;

use super::fresh::parse_timestamp;
use super::{ServiceResult, ServiceState, TlsTrust, size, snippet, span, tls};
use crate::config::service::{Freshness, HttpService, Pattern};
use crate::probe::http_util::{self, BodyCut, error_text};
use crate::probe::ports;
use crate::sanitize::sanitize;

/// Characters of an error, a `Location` or a header shown.
const TEXT_CHARS: usize = 160;

/// A timestamp this little in the future is the two clocks disagreeing, not news.
const FUTURE_SLACK: Duration = Duration::from_secs(60);

/// Lets reqwest's own connect timeout (which knows the failure was a connect) fire before
/// the deadline's.
const CONNECT_SLACK: Duration = Duration::from_millis(20);

pub(super) async fn probe(
    h: &HttpService,
    ip: IpAddr,
    timeout: Duration,
    deadline: Instant,
    now: SystemTime,
    trust: &TlsTrust,
) -> ServiceResult {
    let url = match Url::parse(&h.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => url,
        _ => {
            return ServiceResult::fail(
                format!("invalid URL \"{}\"", sanitize(&h.url, TEXT_CHARS)),
                "not probed",
                Duration::ZERO,
            );
        }
    };
    let host = http_util::url_host(&url).unwrap_or_default();
    if url.scheme() == "https" {
        let port = url.port_or_known_default().unwrap_or(443);
        let (content, cert) = tokio::join!(
            content(h, url.clone(), &host, ip, timeout, deadline, now),
            tls::probe(ip, port, &host, h.warn_days, timeout, deadline, now, trust),
        );
        merge(content, cert)
    } else {
        content(h, url, &host, ip, timeout, deadline, now).await
    }
}

/// The content part, and the certificate part of an https service, as one result.
fn merge(content: ServiceResult, cert: ServiceResult) -> ServiceResult {
    let state = content.state.worst(cert.state);
    // The worse part's reason first; on a tie the certificate's (the headline for https).
    let ordered = if content.state > cert.state {
        [&content.error, &cert.error]
    } else {
        [&cert.error, &content.error]
    };
    let mut errors: Vec<&str> = Vec::new();
    for e in ordered.into_iter().flatten() {
        // Both parts failing to connect say the same thing: say it once.
        if !errors.contains(&e.as_str()) {
            errors.push(e);
        }
    }
    let detail = if cert.cert.is_some() {
        format!("{} · {}", content.detail, cert.detail)
    } else {
        content.detail
    };
    ServiceResult {
        smtp_names: None,
        command: None,
        state,
        detail,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        latency: content.latency,
        age: content.age,
        cert: cert.cert,
    }
}

/// What came back, before judging it.
struct Fetched {
    status: reqwest::StatusCode,
    location: Option<String>,
    last_modified: Option<Vec<u8>>,
    body: Vec<u8>,
    truncated: bool,
    latency: Duration,
}

async fn content(
    h: &HttpService,
    url: Url,
    host: &str,
    ip: IpAddr,
    timeout: Duration,
    deadline: Instant,
    now: SystemTime,
) -> ServiceResult {
    let started = Instant::now();
    match fetch(h, url, host, ip, timeout, deadline).await {
        Ok(fetched) => judge(h, fetched, now),
        Err(error) => ServiceResult::fail(error, "no HTTP answer", started.elapsed()),
    }
}

async fn fetch(
    h: &HttpService,
    mut url: Url,
    host: &str,
    ip: IpAddr,
    timeout: Duration,
    deadline: Instant,
) -> Result<Fetched, String> {
    let host_header = http_util::aim_literal(&mut url, host, ip)
        .map_err(|()| "cannot aim the URL at the target address".to_string())?;
    let client = http_util::client_builder(host, ip)
        // The certificate is judged by the TLS check; the content is read regardless.
        .danger_accept_invalid_certs(true)
        .connect_timeout(deadline.saturating_duration_since(Instant::now()))
        .build()
        .map_err(|e| format!("cannot set up HTTP client: {}", error_text(&e, TEXT_CHARS)))?;
    let request = http_util::get(&client, url, host_header);

    let started = Instant::now();
    let response = match tokio::time::timeout_at(deadline + CONNECT_SLACK, request.send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return Err(classify(&e, timeout)),
        Err(_) => {
            return Err(format!(
                "timeout: no HTTP response in {}",
                ports::fmt_timeout(timeout)
            ));
        }
    };
    let status = response.status();
    let location = http_util::location(&response, TEXT_CHARS);
    let last_modified = response
        .headers()
        .get(LAST_MODIFIED)
        .map(|v| v.as_bytes().to_vec());
    let body = match http_util::read_capped(response, h.max_body, Some(deadline)).await {
        Ok(body) => body,
        Err(BodyCut::Broke { read, error }) => {
            return Err(format!(
                "status {} but the body broke off after {}: {}",
                status.as_u16(),
                size(read),
                error_text(&error, TEXT_CHARS)
            ));
        }
        Err(BodyCut::Timeout { read }) => {
            return Err(format!(
                "timeout: body not complete in {} ({} read)",
                ports::fmt_timeout(timeout),
                size(read)
            ));
        }
    };
    Ok(Fetched {
        status,
        location,
        last_modified,
        body: body.bytes,
        truncated: body.truncated,
        latency: started.elapsed(),
    })
}

fn judge(h: &HttpService, f: Fetched, now: SystemTime) -> ServiceResult {
    let code = f.status.as_u16();
    let mut detail = vec![match f.status.canonical_reason() {
        Some(reason) => format!("{code} {reason}"),
        None => format!("{code}"),
    }];
    if let Some(location) = &f.location {
        detail[0].push_str(&format!(" → {location}"));
    }
    detail.push(if f.truncated {
        format!("{} (cut at max_body)", size(f.body.len()))
    } else {
        size(f.body.len())
    });

    let mut state = ServiceState::Ok;
    let mut errors: Vec<String> = Vec::new();
    let mut age = None;
    if code != h.expect_status {
        // The body of an error page says nothing about the content: the status is the news.
        state = ServiceState::Fail;
        let to = f
            .location
            .as_ref()
            .map(|l| format!(" → {l}"))
            .unwrap_or_default();
        errors.push(format!("status {code}{to}, expected {}", h.expect_status));
    } else {
        let text = String::from_utf8_lossy(&f.body);
        let within = if f.truncated {
            format!(" (in the first {})", size(f.body.len()))
        } else {
            String::new()
        };
        if let Some(needle) = &h.contains
            && !needle.is_match(&text)
        {
            state = ServiceState::Fail;
            errors.push(format!(
                "body lacks {}{within}",
                sanitize(&needle.to_string(), TEXT_CHARS)
            ));
        }
        if let Some(freshness) = &h.freshness {
            match timestamp(freshness, &text, f.last_modified.as_deref(), &within) {
                Err(e) => {
                    state = ServiceState::Fail;
                    errors.push(e);
                }
                Ok((at, fallback)) => {
                    if let Some(why) = fallback {
                        detail.push(format!("time from Last-Modified ({why})"));
                    }
                    let then = SystemTime::from(at);
                    match now.duration_since(then) {
                        Ok(elapsed) => {
                            age = Some(elapsed);
                            detail.push(format!("updated {} ago", span(elapsed)));
                            if elapsed > freshness.max_age {
                                state = state.worst(ServiceState::Stale);
                                errors.push(format!(
                                    "stale: updated {} ago, max_age {}",
                                    span(elapsed),
                                    span(freshness.max_age)
                                ));
                            }
                        }
                        Err(ahead) if ahead.duration() <= FUTURE_SLACK => {
                            age = Some(Duration::ZERO);
                            detail.push("updated 0s ago".into());
                        }
                        Err(ahead) => detail.push(format!(
                            "updated {} in the future (clock skew?)",
                            span(ahead.duration())
                        )),
                    }
                }
            }
        }
    }
    ServiceResult {
        smtp_names: None,
        command: None,
        state,
        detail: detail.join(" · "),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        latency: f.latency,
        age,
        cert: None,
    }
}

/// The content's timestamp: from `fresh_regex` on the body, else the `Last-Modified`
/// header. When the body gives no readable time the header is the fallback, and the second
/// value says why it was used (for the detail).
fn timestamp(
    f: &Freshness,
    body: &str,
    last_modified: Option<&[u8]>,
    within: &str,
) -> Result<(DateTime<Utc>, Option<String>), String> {
    let header = || {
        let raw = last_modified.ok_or_else(|| "no Last-Modified header".to_string())?;
        parse_timestamp(&String::from_utf8_lossy(raw), None)
            .ok_or_else(|| format!("cannot read Last-Modified \"{}\"", snippet(raw)))
    };
    let Some(pattern) = &f.fresh_regex else {
        return header().map(|at| (at, None));
    };
    match from_body(pattern, f.fresh_format.as_deref(), body, within) {
        Ok(at) => Ok((at, None)),
        Err(why) => match header() {
            Ok(at) => Ok((at, Some(why))),
            Err(no_header) => Err(format!("{why}; {no_header}")),
        },
    }
}

/// The time `fresh_regex` captures in the body (its first group, else the whole match).
fn from_body(
    pattern: &Pattern,
    format: Option<&str>,
    body: &str,
    within: &str,
) -> Result<DateTime<Utc>, String> {
    let captures = pattern
        .regex
        .captures(body)
        .ok_or_else(|| format!("fresh_regex matched nothing{within}"))?;
    let found = captures
        .get(1)
        .or_else(|| captures.get(0))
        .map(|m| m.as_str())
        .unwrap_or_default();
    parse_timestamp(found, format).ok_or_else(|| {
        let how = match format {
            Some(format) => format!("with fresh_format \"{}\"", sanitize(format, TEXT_CHARS)),
            None => "without fresh_format".to_string(),
        };
        format!(
            "cannot read timestamp \"{}\" {how}",
            snippet(found.as_bytes())
        )
    })
}

/// A reqwest error in the words the port probe uses for connect failures, or the error
/// chain on one line.
fn classify(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_connect() {
        if e.is_timeout() {
            return ports::silent(timeout).error;
        }
        if let Some(io) = http_util::io_causes(e).find(|io| io.raw_os_error().is_some()) {
            return ports::classify(io, timeout).error;
        }
        return format!("connect failed: {}", error_text(e, TEXT_CHARS));
    }
    if e.is_timeout() {
        return format!(
            "timeout: no HTTP response in {}",
            ports::fmt_timeout(timeout)
        );
    }
    // The innermost cause says what was wrong with the answer ("invalid HTTP header
    // parsed", "message head is too large"); the wrappers around it only say "request".
    let root = http_util::causes(e).last().unwrap_or(e);
    let text = root.to_string();
    if text.is_empty() || root.is::<reqwest::Error>() {
        format!("HTTP error: {}", error_text(e, TEXT_CHARS))
    } else {
        format!("HTTP error: {}", sanitize(&text, TEXT_CHARS))
    }
}
