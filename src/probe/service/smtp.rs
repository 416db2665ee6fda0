//! `smtp` service: the greeting, EHLO, whether STARTTLS is offered, QUIT. No mail is ever
//! sent: the conversation stops before `MAIL FROM`.
//!
//! Replies are read line by line with a cap on each line and on the whole conversation, and
//! every read ends by the deadline, so a tarpit, an endless line or binary garbage on the
//! port all end as a clean failure.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{ServiceResult, ServiceState, SmtpNames, snippet};
use crate::config::service::SmtpService;
use crate::probe::ports;
use crate::sanitize::sanitize;

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; a little slack for sloppy
/// servers.
const MAX_LINE: usize = 1024;

/// Bytes read over the whole conversation at most.
const MAX_TOTAL: usize = 8 * 1024;

/// Lines of one multi-line reply at most (an EHLO answer has a dozen or so).
const MAX_LINES: usize = 100;

/// Characters of a server's text shown.
const TEXT_CHARS: usize = 100;

/// How long to wait for the 221 after QUIT (it only keeps the server's log tidy).
const QUIT_WAIT: Duration = Duration::from_millis(300);

pub(super) async fn probe(
    s: &SmtpService,
    ip: IpAddr,
    timeout: Duration,
    deadline: Instant,
) -> ServiceResult {
    let started = Instant::now();
    let stream = match ports::connect_by(SocketAddr::new(ip, s.port), deadline, timeout).await {
        Ok(stream) => stream,
        Err(f) => {
            return ServiceResult::fail(
                f.error,
                format!("port {} {}", s.port, f.state.word()),
                started.elapsed(),
            );
        }
    };
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        total: 0,
        deadline,
        timeout,
    };

    let banner = match conn.reply("banner").await {
        Ok(reply) => reply,
        Err(e) => return ServiceResult::fail(e, "no SMTP banner", started.elapsed()),
    };
    let greeting = banner.first_text();
    if banner.code != 220 {
        let error = format!("banner {} {}", banner.code, greeting);
        return ServiceResult::fail(
            error.trim_end(),
            format!("{} {greeting}", banner.code),
            started.elapsed(),
        );
    }

    // The name comes from the inventory; never let it smuggle a second command.
    let ehlo: String = s.ehlo.chars().filter(|c| !c.is_control()).collect();
    if let Err(e) = conn.send(&format!("EHLO {ehlo}\r\n")).await {
        return ServiceResult::fail(e, format!("220 {greeting}"), started.elapsed());
    }
    let ehlo_reply = match conn.reply("EHLO reply").await {
        Ok(reply) => reply,
        Err(e) => return ServiceResult::fail(e, format!("220 {greeting}"), started.elapsed()),
    };
    let latency = started.elapsed();
    let names = SmtpNames {
        banner: banner.lines.first().and_then(|l| announced_name(l)),
        ehlo: (ehlo_reply.code == 250)
            .then(|| ehlo_reply.lines.first().and_then(|l| announced_name(l)))
            .flatten(),
    };
    if ehlo_reply.code != 250 {
        let error = format!(
            "EHLO answered {} {}",
            ehlo_reply.code,
            ehlo_reply.first_text()
        );
        conn.quit().await;
        let mut result = ServiceResult::fail(error.trim_end(), format!("220 {greeting}"), latency);
        result.smtp_names = Some(names);
        return result;
    }
    let starttls = ehlo_reply.lines.iter().skip(1).any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("STARTTLS"))
    });
    conn.quit().await;

    let mut detail = format!("220 {greeting}");
    detail.push_str(if starttls {
        " · STARTTLS"
    } else {
        " · no STARTTLS"
    });
    let (state, error) = if s.expect_starttls && !starttls {
        (ServiceState::Warn, Some("STARTTLS not offered".to_string()))
    } else {
        (ServiceState::Ok, None)
    };
    ServiceResult {
        smtp_names: Some(names),
        command: None,
        state,
        detail,
        error,
        latency,
        age: None,
        cert: None,
    }
}

/// The name a server announces at the start of a reply line's text (`mail.example.org
/// ESMTP Postfix`, `mail.example.org Hello client`): the first word, lower-case, without a
/// trailing dot, capped; `None` for an empty line or a first word that is no host name or
/// address literal (`[192.0.2.1]`), so nothing but those characters is ever kept.
pub fn announced_name(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    let plausible = word.len() <= 255
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
    plausible.then(|| sanitize(&word.trim_end_matches('.').to_ascii_lowercase(), TEXT_CHARS))
}

/// One SMTP reply: the code of its last line and the text of each line (raw, unsanitized;
/// only [`Reply::first_text`] is shown).
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// The first line's text, sanitized and capped.
    fn first_text(&self) -> String {
        sanitize(
            self.lines.first().map(|l| l.trim()).unwrap_or_default(),
            TEXT_CHARS,
        )
    }
}

struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet consumed as lines.
    buf: Vec<u8>,
    /// Bytes read over the whole conversation.
    total: usize,
    deadline: Instant,
    timeout: Duration,
}

impl Conn {
    async fn send(&mut self, text: &str) -> Result<(), String> {
        match tokio::time::timeout_at(self.deadline, self.stream.write_all(text.as_bytes())).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "send failed: {}",
                sanitize(&e.to_string(), TEXT_CHARS)
            )),
            Err(_) => Err(format!(
                "timeout: could not send in {}",
                ports::fmt_timeout(self.timeout)
            )),
        }
    }

    /// Reads a whole (possibly multi-line, `250-...`) reply.
    async fn reply(&mut self, what: &str) -> Result<Reply, String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line(what).await?;
            let bytes = line.as_slice();
            let code = bytes
                .get(..3)
                .filter(|c| c.iter().all(u8::is_ascii_digit))
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(|c| c.parse::<u16>().ok());
            let sep = bytes.get(3).copied();
            let (Some(code), Some(b' ' | b'-') | None) = (code, sep) else {
                return Err(format!("not an SMTP reply: {}", snippet(bytes)));
            };
            lines.push(String::from_utf8_lossy(bytes.get(4..).unwrap_or_default()).into_owned());
            if sep != Some(b'-') {
                return Ok(Reply { code, lines });
            }
            if lines.len() >= MAX_LINES {
                return Err(format!("{what} longer than {MAX_LINES} lines"));
            }
        }
    }

    /// One line without its CR LF.
    async fn line(&mut self, what: &str) -> Result<Vec<u8>, String> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=nl).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(format!(
                    "{what}: line longer than {MAX_LINE} bytes: {}",
                    snippet(&self.buf)
                ));
            }
            if self.total >= MAX_TOTAL {
                return Err(format!(
                    "{what}: more than {MAX_TOTAL} bytes from the server"
                ));
            }
            let mut chunk = [0u8; 1024];
            let want = chunk.len().min(MAX_TOTAL - self.total);
            match tokio::time::timeout_at(self.deadline, self.stream.read(&mut chunk[..want])).await
            {
                Ok(Ok(0)) => {
                    return Err(if self.buf.is_empty() {
                        format!("connection closed before the {what}")
                    } else {
                        format!("connection closed in the {what}: {}", snippet(&self.buf))
                    });
                }
                Ok(Ok(n)) => {
                    self.total += n;
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Ok(Err(e)) => {
                    return Err(format!("{what}: {}", sanitize(&e.to_string(), TEXT_CHARS)));
                }
                Err(_) => {
                    let after = ports::fmt_timeout(self.timeout);
                    return Err(if self.buf.is_empty() {
                        format!("timeout: no {what} in {after}")
                    } else {
                        format!(
                            "timeout: {what} not complete in {after}: {}",
                            snippet(&self.buf)
                        )
                    });
                }
            }
        }
    }

    /// `QUIT`, and a short wait for the 221 so the server logs a clean goodbye.
    async fn quit(&mut self) {
        if self.send("QUIT\r\n").await.is_ok() {
            self.deadline = self.deadline.min(Instant::now() + QUIT_WAIT);
            let _ = self.reply("QUIT reply").await;
        }
    }
}
