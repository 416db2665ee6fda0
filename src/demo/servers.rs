//! Real servers on loopback for the demo and the tests: an SSH banner server and a small
//! HTTP/1.1 server, each of which can be taken down (connections refused) and brought back
//! on the same address, and made to misbehave the way broken or hostile servers do.
//!
//! Both stop when dropped. Only loopback addresses are accepted, so a demo or test can never
//! open a port to the network.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How long a server keeps a connection that a client leaves open.
const MAX_CONNECTION_TIME: Duration = Duration::from_secs(30);

/// Largest request head the HTTP server reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn check_loopback(addr: SocketAddr) -> io::Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} is not a loopback address: demo servers only listen on loopback"),
        ))
    }
}

/// The accept loop of a listener that can be stopped and restarted on the same address.
struct Switch {
    addr: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Switch {
    fn is_up(&self) -> bool {
        lock(&self.task).as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops (`up = false`), or binds again when down and returns the listener to start.
    async fn set_up(&self, up: bool) -> io::Result<Option<TcpListener>> {
        if !up {
            self.stop().await;
            Ok(None)
        } else if self.is_up() {
            Ok(None)
        } else {
            Ok(Some(TcpListener::bind(self.addr).await?))
        }
    }

    async fn stop(&self) {
        let task = lock(&self.task).take();
        if let Some(task) = task {
            task.abort();
            // Wait until the listener is really closed, so the next connect is refused.
            let _ = task.await;
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// Runs `serve` for every accepted connection. The connections live in a [`JoinSet`]
/// owned by the accept task, so stopping the task also cuts every open connection.
async fn accept_loop<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let conn = serve(stream);
                    connections.spawn(async move {
                        let _ = tokio::time::timeout(MAX_CONNECTION_TIME, conn).await;
                    });
                }
                // Out of descriptors and the like: do not spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What the SSH server says on every new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshGreeting {
    /// These bytes exactly (use [`SshGreeting::banner`] for a normal identification line).
    Raw(Vec<u8>),
    /// Binary junk and a close: something that is not SSH on the SSH port.
    Garbage,
    /// Nothing at all, the connection held open: a hung daemon.
    Silent,
}

impl SshGreeting {
    /// `line` followed by CR LF, as sshd sends it.
    pub fn banner(line: &str) -> SshGreeting {
        SshGreeting::Raw(format!("{line}\r\n").into_bytes())
    }
}

/// A TCP listener that speaks the first line of SSH: enough for the banner probe.
pub struct SshBannerServer {
    switch: Switch,
    greeting: Arc<Mutex<SshGreeting>>,
}

impl SshBannerServer {
    /// Listens on `addr` (port 0: an ephemeral port) and greets with `banner` + CR LF.
    pub async fn bind(addr: SocketAddr, banner: &str) -> io::Result<SshBannerServer> {
        SshBannerServer::with_greeting(addr, SshGreeting::banner(banner)).await
    }

    pub async fn with_greeting(
        addr: SocketAddr,
        greeting: SshGreeting,
    ) -> io::Result<SshBannerServer> {
        check_loopback(addr)?;
        let listener = TcpListener::bind(addr).await?;
        let server = SshBannerServer {
            switch: Switch {
                addr: listener.local_addr()?,
                task: Mutex::new(None),
            },
            greeting: Arc::new(Mutex::new(greeting)),
        };
        server.start(listener);
        Ok(server)
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.switch.addr
    }

    /// Changes the greeting of the next connections.
    pub fn set_greeting(&self, greeting: SshGreeting) {
        *lock(&self.greeting) = greeting;
    }

    pub fn set_banner(&self, banner: &str) {
        self.set_greeting(SshGreeting::banner(banner));
    }

    pub fn is_up(&self) -> bool {
        self.switch.is_up()
    }

    /// Down closes the listener and every open connection (new connects are refused); up
    /// listens again on the same address.
    pub async fn set_up(&self, up: bool) -> io::Result<()> {
        if let Some(listener) = self.switch.set_up(up).await? {
            self.start(listener);
        }
        Ok(())
    }

    fn start(&self, listener: TcpListener) {
        let greeting = self.greeting.clone();
        let task = tokio::spawn(accept_loop(listener, move |stream| {
            let greeting = lock(&greeting).clone();
            serve_ssh(stream, greeting)
        }));
        *lock(&self.switch.task) = Some(task);
    }
}

async fn serve_ssh(mut stream: TcpStream, greeting: SshGreeting) {
    match greeting {
        SshGreeting::Raw(bytes) => {
            if stream.write_all(&bytes).await.is_err() {
                return;
            }
        }
        SshGreeting::Garbage => {
            let _ = stream
                .write_all(b"\x00\xff\xfe\x15\x03\x01\x00\x02\x02\x0a\x1b[31mnot ssh\r\n")
                .await;
            return;
        }
        SshGreeting::Silent => {}
    }
    // Like sshd, wait for the client (which never logs in) to go away.
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// The request head as the HTTP server saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// The `Host` header, if any.
    pub host: Option<String>,
    /// Every header, names lowercased, in order.
    pub headers: Vec<(String, String)>,
}

/// What the HTTP server does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpReply {
    /// A complete response; `Content-Length` and `Connection: close` are added.
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Status 200 and a body that never ends.
    EndlessBody,
    /// Status 200, then one body byte per `interval`, forever.
    SlowDrip { interval: Duration },
    /// A status line that is not HTTP (with an escape sequence for good measure).
    GarbageStatus,
    /// Reads the request and never answers.
    Silent,
}

impl HttpReply {
    pub fn status(status: u16, body: &str) -> HttpReply {
        HttpReply::Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// A redirect to `location` (not followed by the probe).
    pub fn redirect(status: u16, location: &str) -> HttpReply {
        HttpReply::Response {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

type Handler = Arc<dyn Fn(&HttpRequest) -> HttpReply + Send + Sync>;

struct HttpShared {
    handler: Mutex<Handler>,
    routes: Mutex<HashMap<String, HttpReply>>,
    last_request: Mutex<Option<HttpRequest>>,
    requests: Mutex<u64>,
}

/// A minimal HTTP/1.1 server: reads a request head, answers, closes.
///
/// The answer is chosen per request: a route for the exact path if one is set, else the
/// handler (by default `200 ok`).
pub struct HttpServer {
    switch: Switch,
    shared: Arc<HttpShared>,
}

impl HttpServer {
    /// Listens on `addr` (port 0: an ephemeral port), answering `200 ok`.
    pub async fn bind(addr: SocketAddr) -> io::Result<HttpServer> {
        check_loopback(addr)?;
        let listener = TcpListener::bind(addr).await?;
        let default: Handler = Arc::new(|_| HttpReply::status(200, "ok\n"));
        let server = HttpServer {
            switch: Switch {
                addr: listener.local_addr()?,
                task: Mutex::new(None),
            },
            shared: Arc::new(HttpShared {
                handler: Mutex::new(default),
                routes: Mutex::new(HashMap::new()),
                last_request: Mutex::new(None),
                requests: Mutex::new(0),
            }),
        };
        server.start(listener);
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.switch.addr
    }

    /// Answers every request (without a route) with `reply`.
    pub fn set_reply(&self, reply: HttpReply) {
        self.set_handler(move |_| reply.clone());
    }

    /// Chooses the answer from the request.
    pub fn set_handler(&self, handler: impl Fn(&HttpRequest) -> HttpReply + Send + Sync + 'static) {
        *lock(&self.shared.handler) = Arc::new(handler);
    }

    /// Answers requests for exactly `path` with `reply`.
    pub fn route(&self, path: &str, reply: HttpReply) {
        lock(&self.shared.routes).insert(path.to_string(), reply);
    }

    /// The `Host` header of the last request.
    pub fn last_host(&self) -> Option<String> {
        lock(&self.shared.last_request)
            .as_ref()
            .and_then(|r| r.host.clone())
    }

    pub fn last_request(&self) -> Option<HttpRequest> {
        lock(&self.shared.last_request).clone()
    }

    /// Requests read so far.
    pub fn requests(&self) -> u64 {
        *lock(&self.shared.requests)
    }

    pub fn is_up(&self) -> bool {
        self.switch.is_up()
    }

    /// Down closes the listener and every open connection (new connects are refused); up
    /// listens again on the same address.
    pub async fn set_up(&self, up: bool) -> io::Result<()> {
        if let Some(listener) = self.switch.set_up(up).await? {
            self.start(listener);
        }
        Ok(())
    }

    fn start(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let task = tokio::spawn(accept_loop(listener, move |stream| {
            serve_http(stream, shared.clone())
        }));
        *lock(&self.switch.task) = Some(task);
    }
}

async fn serve_http(mut stream: TcpStream, shared: Arc<HttpShared>) {
    let Some(request) = read_request_head(&mut stream).await else {
        return;
    };
    let reply = {
        let route = lock(&shared.routes).get(&request.path).cloned();
        match route {
            Some(reply) => reply,
            None => {
                let handler = lock(&shared.handler).clone();
                handler(&request)
            }
        }
    };
    *lock(&shared.last_request) = Some(request);
    *lock(&shared.requests) += 1;
    let _ = write_reply(&mut stream, reply).await;
    let _ = stream.shutdown().await;
}

async fn write_reply(stream: &mut TcpStream, reply: HttpReply) -> io::Result<()> {
    match reply {
        HttpReply::Response {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await
        }
        HttpReply::EndlessBody => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
                .await?;
            let chunk = vec![b'x'; 16 * 1024];
            loop {
                stream.write_all(&chunk).await?;
            }
        }
        HttpReply::SlowDrip { interval } => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n",
                )
                .await?;
            loop {
                tokio::time::sleep(interval).await;
                stream.write_all(b"x").await?;
            }
        }
        HttpReply::GarbageStatus => {
            stream
                .write_all(b"HTTP/1.1 2x0 \x1b[2JWAT\r\nContent-Length: 0\r\n\r\n")
                .await
        }
        HttpReply::Silent => {
            let mut sink = [0u8; 1024];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            Ok(())
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads up to the blank line ending the request head; `None` for anything that is not one.
async fn read_request_head(stream: &mut TcpStream) -> Option<HttpRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let host = headers
        .iter()
        .find(|(n, _)| n == "host")
        .map(|(_, v)| v.clone());
    Some(HttpRequest {
        method,
        path,
        host,
        headers,
    })
}
