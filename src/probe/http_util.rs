//! What the two HTTP probes do alike: the host's `http =` probe (`probe/http.rs`) and the
//! `http`/`https` service (`probe/service/http.rs`). Both fetch a URL from the target IP as
//! the world will once DNS points there, with the URL's own host as Host and TLS SNI, on a
//! fresh connection, without following redirects, reading a capped body, and both put a
//! reqwest error chain on one line. What each makes of an error (a `ProbeError`, or the
//! service's sentence) stays with the probe.

use std::net::{IpAddr, SocketAddr};

use reqwest::header::{HOST, LOCATION};
use reqwest::{Client, ClientBuilder, RequestBuilder, Response, Url, redirect};
use tokio::time::Instant;

use crate::sanitize::{sanitize, sanitize_bytes};

/// A client builder with what every probe client has, aimed at `ip` when `host` is a name
/// (the URL's port, or the scheme's default, is kept).
///
/// - no proxy from the environment: it would probe the proxy, not the server;
/// - redirects reported, not followed: a redirect to the old site would look healthy;
/// - no idle connection kept: a kept-alive one would hide a newly applied firewall rule.
pub(crate) fn client_builder(host: &str, ip: IpAddr) -> ClientBuilder {
    let builder = Client::builder()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!(
            "moveday/",
            env!("CARGO_PKG_VERSION"),
            " (move-day probe)"
        ));
    if host.parse::<IpAddr>().is_ok() {
        builder
    } else {
        // Port 0: the URL's port (or the scheme's default) is used.
        builder.resolve(host, SocketAddr::new(ip, 0))
    }
}

/// The URL's host as the client resolves it: an IPv6 literal without its brackets.
pub(crate) fn url_host(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// An address literal cannot be redirected by name: when `host` (the URL's, see
/// [`url_host`]) is an address other than `ip`, aims `url` itself at `ip` and returns the
/// original authority, to be sent as the Host header. `Err` when the URL cannot take an
/// address as its host.
pub(crate) fn aim_literal(url: &mut Url, host: &str, ip: IpAddr) -> Result<Option<String>, ()> {
    match host.parse::<IpAddr>() {
        Ok(literal) if literal != ip => {
            let authority = authority(url);
            url.set_ip_host(ip)?;
            Ok(Some(authority))
        }
        _ => Ok(None),
    }
}

fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// A GET of `url`, with the Host header [`aim_literal`] set aside, if any.
pub(crate) fn get(client: &Client, url: Url, host_header: Option<String>) -> RequestBuilder {
    let request = client.get(url);
    match host_header {
        Some(authority) => request.header(HOST, authority),
        None => request,
    }
}

/// Where a redirect points, sanitized to `max_chars`.
pub(crate) fn location(response: &Response, max_chars: usize) -> Option<String> {
    response
        .headers()
        .get(LOCATION)
        .map(|v| sanitize_bytes(v.as_bytes(), max_chars))
}

/// A body read up to a cap.
pub(crate) struct CappedBody {
    /// At most the cap.
    pub bytes: Vec<u8>,
    /// The server had more to send than the cap.
    pub truncated: bool,
}

/// Why a body stopped before its end, and how much of it had been read.
pub(crate) enum BodyCut {
    Broke {
        read: usize,
        error: reqwest::Error,
    },
    /// The deadline passed: a slow drip of bytes, or a server that stops mid-body.
    Timeout {
        read: usize,
    },
}

/// Reads `response`'s body, keeping at most `cap` bytes; each chunk is waited for until
/// `deadline`, when there is one. Past the cap the response is dropped, which closes the
/// connection instead of draining it: a hostile or broken server ends in bounded bytes.
pub(crate) async fn read_capped(
    mut response: Response,
    cap: usize,
    deadline: Option<Instant>,
) -> Result<CappedBody, BodyCut> {
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let chunk = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(chunk) => chunk,
                Err(_) => return Err(BodyCut::Timeout { read: bytes.len() }),
            },
            None => response.chunk().await,
        };
        match chunk {
            Ok(Some(chunk)) => {
                let room = cap.saturating_sub(bytes.len());
                if chunk.len() > room {
                    bytes.extend_from_slice(&chunk[..room]);
                    return Ok(CappedBody {
                        bytes,
                        truncated: true,
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => {
                return Ok(CappedBody {
                    bytes,
                    truncated: false,
                });
            }
            Err(error) => {
                let read = bytes.len();
                return Err(BodyCut::Broke { read, error });
            }
        }
    }
}

/// `e` and its causes, outermost first.
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |err| err.source())
}

/// The I/O errors among `e`'s causes, outermost first: where what the network did (refused,
/// unreachable, reset) is told.
pub(crate) fn io_causes(e: &reqwest::Error) -> impl Iterator<Item = &std::io::Error> {
    causes(e).filter_map(|err| err.downcast_ref::<std::io::Error>())
}

/// The error and its causes on one line, each said once, without reqwest's
/// ` for url (...)` (the URL is shown elsewhere); sanitized to `max_chars`.
pub(crate) fn error_text(e: &reqwest::Error, max_chars: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    for err in causes(e) {
        let mut text = err.to_string();
        if err.is::<reqwest::Error>()
            && let Some(i) = text.find(" for url (")
        {
            text.truncate(i);
        }
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    sanitize(&parts.join(": "), max_chars)
}
