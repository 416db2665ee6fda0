//! How one message goes out, once: a webhook gets the JSON body in a POST, an ntfy topic
//! the text with a `Title` header, a command the JSON on its stdin (argv, never a shell).
//! Every attempt ends within the endpoint's timeout, reads a bounded answer, and says what
//! happened in one sanitized line. Retrying is the outbox's business, not this file's.

use std::process::Stdio;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Client, Url, redirect};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::config::inventory::{NotifyConfig, NotifyTarget, duration_text, shown_url};
use crate::probe::http_util::error_text;
use crate::probe::service::TlsTrust;
use crate::sanitize::{sanitize, sanitize_bytes};

/// Characters of an answer (or an error) kept.
pub const ANSWER_CHARS: usize = 200;

/// Bytes of an answer's body (or a command's output) read; the rest is not read (an HTTP
/// body) or read and thrown away (a command's output, so that it does not block).
const ANSWER_BYTES: usize = 4096;

/// What goes out in one attempt, as the endpoint gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// ntfy's `Title`.
    pub title: String,
    /// ntfy's body; a chat tool's line.
    pub text: String,
    /// The webhook's body, a command's stdin.
    pub json: Vec<u8>,
}

/// One endpoint's way out: its HTTP client (built once; no proxy from the environment, no
/// redirect followed, the system's trust store) or its argv.
pub struct Transport {
    target: NotifyTarget,
    timeout: Duration,
    client: Result<Client, String>,
}

impl Transport {
    /// The transport of `config`. Loading the trust store blocks for a moment the first
    /// time: on the blocking pool.
    pub async fn new(config: &NotifyConfig) -> Transport {
        let client = match &config.target {
            NotifyTarget::Command(_) => Err("no HTTP client for a command".to_string()),
            NotifyTarget::Webhook(_) | NotifyTarget::Ntfy(_) => {
                let timeout = config.timeout;
                tokio::task::spawn_blocking(move || http_client(timeout))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
            }
        };
        Transport {
            target: config.target.clone(),
            timeout: config.timeout,
            client,
        }
    }

    /// Delivers `out` once: `Ok(answer)` ("200 OK: {...}", "exit 0") when the endpoint
    /// took it, `Err(why)` when not. Ends within the timeout.
    pub async fn deliver(&self, out: &Outgoing) -> Result<String, String> {
        let attempt = async {
            match &self.target {
                NotifyTarget::Webhook(url) => {
                    let client = self.client.as_ref().map_err(Clone::clone)?;
                    let request = client
                        .post(url.clone())
                        .header(CONTENT_TYPE, "application/json")
                        .body(out.json.clone());
                    http_answer(url, request).await
                }
                NotifyTarget::Ntfy(url) => {
                    let client = self.client.as_ref().map_err(Clone::clone)?;
                    let request = client
                        .post(url.clone())
                        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                        .header("Title", header_text(&out.title))
                        .header("Tags", "moveday")
                        .body(out.text.clone());
                    http_answer(url, request).await
                }
                NotifyTarget::Command(argv) => run_command(argv, &out.json).await,
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            // Dropping the attempt closes its connection, or kills its command.
            Err(_) => Err(format!("no answer within {}", duration_text(self.timeout))),
        }
    }
}

fn http_client(timeout: Duration) -> Result<Client, String> {
    let tls = TlsTrust::system().client_config()?;
    Client::builder()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .connect_timeout(timeout)
        .user_agent(concat!("moveday/", env!("CARGO_PKG_VERSION"), " (notify)"))
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| {
            format!(
                "cannot set up HTTP client: {}",
                error_text(&e, ANSWER_CHARS)
            )
        })
}

/// A header value from `text`: as it is when ASCII, else an RFC 2047 encoded word
/// (`=?UTF-8?B?...?=`), which ntfy decodes. Control characters never reach it.
fn header_text(text: &str) -> HeaderValue {
    let clean = sanitize(text, ANSWER_CHARS);
    let value = if clean.is_ascii() {
        clean
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            data_encoding::BASE64.encode(clean.as_bytes())
        )
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("moveday"))
}

/// Why a request got no answer, as the probes say it: `connection refused`, `timeout`,
/// `unreachable: …`, else the error's chain (never the URL).
fn send_error(e: &reqwest::Error) -> String {
    use crate::probe::ProbeError;
    if e.is_timeout() {
        return "timeout".into();
    }
    let io =
        crate::probe::http_util::io_causes(e).find(|io| io.kind() != std::io::ErrorKind::Other);
    match io.map(ProbeError::from_io) {
        Some(ProbeError::Refused) => "connection refused".into(),
        Some(ProbeError::Io(_)) | None => error_text(e, ANSWER_CHARS),
        Some(other) => other.to_string(),
    }
}

/// Sends `request` and reads its answer: a 2xx is taken, a redirect is a misconfiguration
/// (not followed), anything else a failure. Errors never name the URL's secret part.
async fn http_answer(url: &Url, request: reqwest::RequestBuilder) -> Result<String, String> {
    let mut response = request.send().await.map_err(|e| send_error(&e))?;
    let status = response.status();
    let head = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
    .trim_end()
    .to_string();
    if status.is_redirection() {
        let to = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok())
            .map_or_else(|| "nowhere".to_string(), |u| shown_url(&u));
        return Err(format!(
            "{head}: redirects to {to}; moveday does not follow a notify endpoint's redirect \
             (a misconfiguration: give the final URL)"
        ));
    }
    let mut body = Vec::new();
    while body.len() < ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) if status.is_success() => {
                // The endpoint took the message; a broken answer does not undo that.
                body.extend_from_slice(format!("(answer cut: {})", error_text(&e, 80)).as_bytes());
                break;
            }
            Err(e) => return Err(format!("{head}: {}", error_text(&e, ANSWER_CHARS))),
        }
    }
    body.truncate(ANSWER_BYTES);
    let answer = with_text(head, &body);
    if status.is_success() {
        Ok(answer)
    } else {
        Err(answer)
    }
}

/// `head`, then `: ` and the start of `bytes` when there are any.
fn with_text(head: String, bytes: &[u8]) -> String {
    let text = sanitize_bytes(bytes, ANSWER_CHARS);
    let text = text.trim();
    if text.is_empty() {
        head
    } else {
        format!("{head}: {text}")
    }
}

/// Runs `argv` (no shell) with `json` and a newline on its stdin: exit 0 is sent. Output is read up to
/// [`ANSWER_BYTES`] and the rest drained; the caller's timeout kills it.
async fn run_command(argv: &[String], json: &[u8]) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("argv is empty".into());
    };
    let shown = sanitize(program, 80);
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {}", sanitize(&e.to_string(), 120)))?;
    let stdin = child.stdin.take();
    let feed = async {
        if let Some(mut pipe) = stdin {
            // One JSON line (a file sink gets JSON Lines). A program that does not read
            // its stdin answers with its exit code.
            let _ = pipe.write_all(json).await;
            let _ = pipe.write_all(b"\n").await;
            let _ = pipe.shutdown().await;
        }
    };
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let ((), out, err) = futures::join!(feed, read_capped(stdout), read_capped(stderr));
    let status = child
        .wait()
        .await
        .map_err(|e| format!("{shown}: {}", sanitize(&e.to_string(), 120)))?;
    match status.code() {
        Some(0) => Ok(with_text("exit 0".into(), &out)),
        Some(code) => Err(with_text(
            format!("{shown}: exit {code}"),
            if err.is_empty() { &out } else { &err },
        )),
        None => Err(format!("{shown}: killed by a signal")),
    }
}

/// The first [`ANSWER_BYTES`] of `pipe`; the rest is read and dropped.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = ANSWER_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ascii_title_goes_as_it_is_and_any_other_as_an_encoded_word() {
        assert_eq!(header_text("moveday: vbox up"), "moveday: vbox up");
        assert_eq!(
            header_text("moveday: büro up"),
            format!(
                "=?UTF-8?B?{}?=",
                data_encoding::BASE64.encode("moveday: büro up".as_bytes())
            )
        );
        assert_eq!(header_text("a\r\nX-Evil: 1"), "a  X-Evil: 1");
    }

    #[test]
    fn an_answer_is_its_status_and_the_start_of_its_text_on_one_line() {
        assert_eq!(with_text("200 OK".into(), b""), "200 OK");
        assert_eq!(
            with_text("200 OK".into(), b"{\"ok\":\n true}\n"),
            "200 OK: {\"ok\":  true}"
        );
        let long = with_text("500".into(), &[b'x'; 1000]);
        assert_eq!(long.chars().count(), "500: ".len() + ANSWER_CHARS + 1);
        assert_eq!(with_text("200 OK".into(), b"\x1b[2J"), "200 OK: \\x1b[2J");
    }
}
