//! HTTP probe: fetch a host's URL from the probe target's IP, as the world will once DNS
//! points there, sending the URL's own host name as Host and TLS SNI.
//!
//! The post-mortem's missing port-80 ACL is exactly what this must catch, so every probe
//! opens a fresh connection (a kept-alive one would hide a newly applied firewall rule),
//! redirects are reported rather than followed (a redirect to the old site would otherwise
//! look healthy), and a hostile or broken server ends in bounded time and bytes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::{Client, Url};
use rustls::pki_types::CertificateDer;

use super::http_util::{self, BodyCut, error_text};
use super::service::TlsTrust;
use super::{HttpOutcome, HttpResponse, ProbeError};

/// Body bytes read at most; the rest is not downloaded.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Above this many cached clients the cache starts over (targets changing all day long
/// would otherwise grow it without bound).
const MAX_CLIENTS: usize = 4096;

/// Characters of an error or a `Location` shown.
const TEXT_CHARS: usize = 200;

/// HTTP clients, one per (URL host, target IP), built on first use and reused. A client
/// keeps no idle connection, so reusing a client never means reusing a connection.
///
/// All clients share one TLS configuration, built at the first client from the system's
/// trust store (loaded once per process, shared with the certificate checks) and the extra
/// roots. Left to itself, reqwest loads the system store for every client: for 1,000 hosts
/// that was 147,000 `openat` calls and most of `moveday check`'s CPU.
#[derive(Debug, Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<(String, IpAddr), Client>>,
    /// Roots trusted beyond the system store (the inventory's `ca_file`, the demo's CA).
    roots: Vec<CertificateDer<'static>>,
    tls: tokio::sync::OnceCell<Result<rustls::ClientConfig, String>>,
}

impl ClientCache {
    pub fn new() -> ClientCache {
        ClientCache::default()
    }

    /// Trusts `roots` too (DER certificates), for the clients built from now on.
    pub fn add_roots(&mut self, roots: impl IntoIterator<Item = CertificateDer<'static>>) {
        self.roots.extend(roots);
    }

    /// Number of clients built so far (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The client for (`host`, `ip`), built on first use. The TLS configuration it shares
    /// with every client takes milliseconds to build (it loads the TLS roots): once, on the
    /// blocking pool.
    async fn get(&self, host: &str, ip: IpAddr) -> Result<Client, ProbeError> {
        let key = (host.to_string(), ip);
        if let Some(client) = self.clients.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(client);
        }
        // Built outside the lock: two probes racing build twice, and nobody waits behind a
        // mutex.
        let tls = self
            .tls
            .get_or_init(|| async {
                // Reading the system's trust store takes a moment: once, off the workers,
                // while every other first probe waits for it here.
                let roots = self.roots.clone();
                tokio::task::spawn_blocking(move || {
                    TlsTrust::with_extra_roots(roots).and_then(|trust| trust.client_config())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            })
            .await;
        // Building a client is quick once the TLS configuration exists: done here, where a
        // blocking task per client started hundreds of threads at 10,000 hosts.
        let client = match tls {
            Ok(tls) => build_client(host, ip, tls.clone())?,
            Err(e) => {
                return Err(ProbeError::Io(format!("cannot set up HTTP client: {e}")));
            }
        };
        if let Ok(mut clients) = self.clients.lock() {
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
            clients.insert(key, client.clone());
        }
        Ok(client)
    }
}

fn build_client(host: &str, ip: IpAddr, tls: rustls::ClientConfig) -> Result<Client, ProbeError> {
    http_util::client_builder(host, ip)
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| {
            ProbeError::Io(format!(
                "cannot set up HTTP client: {}",
                error_text(&e, TEXT_CHARS)
            ))
        })
}

/// Fetches `url` from `ip`. The request, body included, ends by `timeout` (building the
/// client the first time does not count against it).
pub async fn probe(cache: &ClientCache, url: &str, ip: IpAddr, timeout: Duration) -> HttpOutcome {
    let result = match prepare(cache, url, ip).await {
        Ok((client, url, host_header)) => {
            let fetch = fetch(&client, url, host_header, timeout);
            match tokio::time::timeout(timeout, fetch).await {
                Ok(result) => result,
                // A slow drip of body bytes, or a server that never answers.
                Err(_) => Err(ProbeError::Timeout),
            }
        }
        Err(e) => Err(e),
    };
    HttpOutcome {
        ip,
        url: url.to_string(),
        result,
    }
}

/// The client, the URL to request and an explicit Host header if one is needed.
async fn prepare(
    cache: &ClientCache,
    url: &str,
    ip: IpAddr,
) -> Result<(Client, Url, Option<String>), ProbeError> {
    let mut url = Url::parse(url).map_err(|e| ProbeError::Io(format!("invalid URL: {e}")))?;
    let host = http_util::url_host(&url).ok_or_else(|| ProbeError::Io("URL has no host".into()))?;
    let host_header = http_util::aim_literal(&mut url, &host, ip)
        .map_err(|()| ProbeError::Io("cannot aim URL at target address".into()))?;
    let client = cache.get(&host, ip).await?;
    Ok((client, url, host_header))
}

async fn fetch(
    client: &Client,
    url: Url,
    host_header: Option<String>,
    timeout: Duration,
) -> Result<HttpResponse, ProbeError> {
    let request = http_util::get(client, url, host_header).timeout(timeout);
    let started = Instant::now();
    let response = request.send().await.map_err(|e| classify(&e))?;
    let status = response.status().as_u16();
    let location = http_util::location(&response, TEXT_CHARS);
    // No deadline of its own: the whole fetch is under the probe's timeout.
    let body = match http_util::read_capped(response, MAX_BODY_BYTES, None).await {
        Ok(body) => body,
        Err(BodyCut::Broke { error, .. }) => return Err(classify(&error)),
        Err(BodyCut::Timeout { .. }) => return Err(ProbeError::Timeout),
    };
    Ok(HttpResponse {
        status,
        latency: started.elapsed(),
        location,
        body_bytes: body.bytes.len(),
        truncated: body.truncated,
    })
}

/// Turns a reqwest error into what the operator needs: timeout, refused, unreachable, or
/// "the thing on that port does not speak HTTP".
fn classify(e: &reqwest::Error) -> ProbeError {
    if e.is_timeout() {
        return ProbeError::Timeout;
    }
    // hyper wraps some protocol failures in io errors of kind Other.
    if let Some(io) = http_util::io_causes(e).find(|io| io.kind() != std::io::ErrorKind::Other) {
        return ProbeError::from_io(io);
    }
    let text = error_text(e, TEXT_CHARS);
    // A peer that closes without a word is not "garbage": it said nothing at all.
    if e.is_connect() || text.contains("connection closed") || text.contains("IncompleteMessage") {
        ProbeError::Io(text)
    } else {
        ProbeError::Protocol(text)
    }
}
