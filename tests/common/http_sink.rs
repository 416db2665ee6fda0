//! A recording HTTP/1.1 server on loopback, for the notify tests: it records the method,
//! path, headers and body of every request and answers each with the next scripted
//! answer (status, body, delay), `200 {"ok":true}` once the script is used up. One request
//! per connection (it answers `Connection: close`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Names lower-case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When it was read.
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is no JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long it waits after reading the request before answering.
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: if status < 300 {
                "{\"ok\":true}".into()
            } else {
                format!("{{\"error\":\"scripted {status}\"}}")
            },
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

pub struct HttpSink {
    pub addr: SocketAddr,
    script: Arc<Mutex<VecDeque<Answer>>>,
    rx: mpsc::UnboundedReceiver<Recorded>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpSink {
    /// A server on a free loopback port.
    pub async fn start() -> HttpSink {
        HttpSink::start_on("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind a loopback port")
    }

    /// A server on `addr` (a port a test kept closed until now).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<HttpSink> {
        HttpSink::listen(addr, None).await
    }

    /// An HTTPS server on a free loopback port, with `tls`'s certificate.
    pub async fn start_tls(tls: Arc<rustls::ServerConfig>) -> HttpSink {
        HttpSink::listen("127.0.0.1:0".parse().unwrap(), Some(tls))
            .await
            .expect("bind a loopback port")
    }

    async fn listen(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<HttpSink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::unbounded_channel();
        let answers = script.clone();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (tx, answers, acceptor) = (tx.clone(), answers.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        None => {
                            let _ = serve(stream, &tx, &answers).await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = serve(stream, &tx, &answers).await;
                            }
                        }
                    }
                });
            }
        });
        Ok(HttpSink {
            addr,
            script,
            rx,
            task,
        })
    }

    /// The answers to the next requests, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().extend(answers);
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request read; fails the test after `within`.
    pub async fn next(&mut self, within: Duration) -> Recorded {
        match tokio::time::timeout(within, self.rx.recv()).await {
            Ok(Some(r)) => r,
            _ => panic!("no request to {} within {within:?}", self.addr),
        }
    }

    /// A request read already, if any (without waiting).
    pub fn try_next(&mut self) -> Option<Recorded> {
        self.rx.try_recv().ok()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    tx: &mpsc::UnboundedSender<Recorded>,
    answers: &Mutex<VecDeque<Answer>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let path = request_line.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let _ = tx.send(Recorded {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    });
    let answer = answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| Answer::status(200));
    tokio::time::sleep(answer.delay).await;
    let mut out = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&answer.body);
    stream.write_all(out.as_bytes()).await?;
    stream.shutdown().await
}
