//! `tcp` service: connect; optionally send a line and look for an expected reply (a
//! protocol greeting, a `PONG`). The reply is read with a byte cap and ends by the
//! deadline, and whatever came back is shown sanitized when it is not what was expected.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{ServiceResult, ServiceState, snippet};
use crate::config::service::TcpService;
use crate::probe::ports;
use crate::sanitize::sanitize;

/// Reply bytes read at most while looking for `expect`.
const MAX_REPLY: usize = 16 * 1024;

pub(super) async fn probe(
    t: &TcpService,
    ip: IpAddr,
    timeout: Duration,
    deadline: Instant,
) -> ServiceResult {
    let started = Instant::now();
    let mut stream = match ports::connect_by(SocketAddr::new(ip, t.port), deadline, timeout).await {
        Ok(stream) => stream,
        Err(f) => {
            return ServiceResult::fail(
                f.error,
                format!("port {} {}", t.port, f.state.word()),
                started.elapsed(),
            );
        }
    };
    let connected = started.elapsed();
    let ok = |detail: String, latency| ServiceResult {
        smtp_names: None,
        command: None,
        state: ServiceState::Ok,
        detail,
        error: None,
        latency,
        age: None,
        cert: None,
    };

    if let Some(send) = &t.send {
        match tokio::time::timeout_at(deadline, stream.write_all(send.as_bytes())).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return ServiceResult::fail(
                    format!("send failed: {}", sanitize(&e.to_string(), 120)),
                    format!("port {} open", t.port),
                    started.elapsed(),
                );
            }
            Err(_) => {
                return ServiceResult::fail(
                    format!("timeout: could not send in {}", ports::fmt_timeout(timeout)),
                    format!("port {} open", t.port),
                    started.elapsed(),
                );
            }
        }
    }
    let Some(expect) = &t.expect else {
        let sent = if t.send.is_some() { " · sent" } else { "" };
        return ok(format!("port {} open{sent}", t.port), connected);
    };

    let mut reply: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 2048];
    let why = loop {
        let want = chunk.len().min(MAX_REPLY - reply.len());
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk[..want])).await {
            Ok(Ok(0)) => break "peer closed".to_string(),
            Ok(Ok(n)) => {
                reply.extend_from_slice(&chunk[..n]);
                if expect.is_match(&String::from_utf8_lossy(&reply)) {
                    return ok(
                        format!("port {} open · reply: {}", t.port, first_line(&reply)),
                        started.elapsed(),
                    );
                }
                if reply.len() >= MAX_REPLY {
                    break format!("first {} KiB read", MAX_REPLY / 1024);
                }
            }
            Ok(Err(e)) => break sanitize(&e.to_string(), 120),
            Err(_) => break format!("no match in {}", ports::fmt_timeout(timeout)),
        }
    };
    let expected = sanitize(&expect.to_string(), 120);
    let error = if reply.is_empty() {
        format!("reply lacks {expected}: no reply ({why})")
    } else {
        format!("reply lacks {expected} ({why}): {}", snippet(&reply))
    };
    ServiceResult::fail(error, format!("port {} open", t.port), started.elapsed())
}

/// The reply's first non-empty line, sanitized.
fn first_line(reply: &[u8]) -> String {
    let line = reply
        .split(|&b| b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or(reply);
    snippet(line)
}
