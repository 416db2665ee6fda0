//! SSH probe: connect and read the server's identification line (`SSH-2.0-...`).
//!
//! Nothing is sent. RFC 4253 §4.2 has the server send its identification as soon as the
//! connection is up, without waiting for the client's, so reading is enough; staying
//! silent keeps the probe from ever being mistaken for a login attempt and means a
//! misdirected probe (port 22 forwarded to some other service) cannot trigger anything.
//! The server logs a preauth disconnect either way.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{ProbeError, SshBanner, SshOutcome};
use crate::sanitize::{sanitize, sanitize_bytes};

/// Total bytes read before giving up on finding the `SSH-` line. RFC 4253 allows other
/// lines before it; 8 KiB is far more than any real server sends.
pub const MAX_GREETING_BYTES: usize = 8 * 1024;

/// RFC 4253: the identification line is at most 255 characters including CR LF.
const MAX_BANNER_LINE: usize = 255;

/// Characters of unexpected data shown to the operator.
const EXCERPT_CHARS: usize = 60;

/// Reads the SSH banner of `ip:port`; the whole probe (connect and read) ends by `timeout`.
pub async fn probe(ip: IpAddr, port: u16, timeout: Duration) -> SshOutcome {
    let started = Instant::now();
    let mut seen = Vec::new();
    let result = match tokio::time::timeout(timeout, read_banner(ip, port, &mut seen)).await {
        Ok(Ok(banner)) => Ok(SshBanner {
            banner,
            latency: started.elapsed(),
        }),
        Ok(Err(e)) => Err(e),
        // Something that talks but never says `SSH-` (an SMTP or HTTP server on this
        // port) is a different problem from silence: show what it said. A banner still
        // arriving (sent slowly, cut off by the timeout) is a timeout.
        Err(_) if !banner_under_way(&seen) && seen.iter().any(|b| !b.is_ascii_whitespace()) => {
            Err(not_ssh(&seen))
        }
        Err(_) => Err(ProbeError::Timeout),
    };
    SshOutcome { ip, port, result }
}

/// Connects and reads until the identification line. `seen` keeps what was received, so
/// the caller can still describe it when the timeout cancels this future.
async fn read_banner(ip: IpAddr, port: u16, seen: &mut Vec<u8>) -> Result<String, ProbeError> {
    let mut stream = TcpStream::connect(SocketAddr::new(ip, port))
        .await
        .map_err(|e| ProbeError::from_io(&e))?;
    let mut chunk = [0u8; 1024];
    // Start of the line not yet complete.
    let mut line_start = 0;
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) => return Err(ProbeError::from_io(&e)),
        };
        if n == 0 {
            return Err(if seen.iter().all(u8::is_ascii_whitespace) {
                // Typical of tcpwrappers, sshd's MaxStartups or a firewall proxy.
                ProbeError::Io("connection closed before the SSH banner".into())
            } else {
                not_ssh(seen)
            });
        }
        let take = n.min(MAX_GREETING_BYTES.saturating_sub(seen.len()));
        seen.extend_from_slice(&chunk[..take]);
        if seen.contains(&0) {
            // Identification lines are text; a NUL means a binary protocol.
            return Err(not_ssh(seen));
        }
        while let Some(nl) = seen[line_start..].iter().position(|&b| b == b'\n') {
            let line = &seen[line_start..line_start + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.starts_with(b"SSH-") {
                return Ok(sanitize_bytes(line, MAX_BANNER_LINE));
            }
            line_start += nl + 1;
        }
        let pending = &seen[line_start..];
        if pending.starts_with(b"SSH-") && pending.len() > MAX_BANNER_LINE {
            return Err(ProbeError::Protocol(format!(
                "SSH banner longer than {MAX_BANNER_LINE} bytes: {}",
                sanitize_bytes(pending, EXCERPT_CHARS)
            )));
        }
        if seen.len() >= MAX_GREETING_BYTES {
            return Err(not_ssh(seen));
        }
    }
}

/// Whether the line being received when the timeout came (after the last line break) is
/// the start of an identification line: `SS`, `SSH-2.0-Open`...
fn banner_under_way(seen: &[u8]) -> bool {
    let line_start = seen
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |nl| nl + 1);
    let line = seen.get(line_start..).unwrap_or_default();
    !line.is_empty() && (b"SSH-".starts_with(line) || line.starts_with(b"SSH-"))
}

fn not_ssh(seen: &[u8]) -> ProbeError {
    let text = String::from_utf8_lossy(seen);
    let excerpt = sanitize(text.trim_start(), EXCERPT_CHARS);
    ProbeError::Protocol(format!("not an SSH banner: {excerpt}"))
}
