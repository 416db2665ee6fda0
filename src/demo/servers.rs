//! Real servers on loopback for the demo and the tests: an SSH banner server, a small
//! HTTP/1.1 server (plain or over TLS), an SMTP greeter, a silent TCP daemon and a port that
//! refuses. Each server can be taken down (connections refused), filtered (connections time
//! out, as behind a firewall that drops) and brought back on the same address, and made to
//! misbehave the way broken or hostile servers do.
//!
//! Filtering needs no root and no firewall: Linux drops an incoming SYN when the listening
//! socket's accept queue is full. A filtered port is a listener with a backlog of 0 whose
//! queue is filled with one connection that is never accepted, so every further connect
//! hears nothing and times out, exactly like a SYN dropped by an ACL. Opening it again
//! raises the backlog on the same socket and starts accepting (the filler is drained).
//!
//! Every server stops when dropped. Only loopback addresses are accepted, so a demo or test
//! can never open a port to the network.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How long a server keeps a connection that a client leaves open.
const MAX_CONNECTION_TIME: Duration = Duration::from_secs(30);

/// Largest request head the HTTP server reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// The backlog of an open listener.
const BACKLOG: u32 = 1024;

/// Connections tried to fill a filtered port's accept queue (Linux queues one beyond a
/// backlog of 0; the others are for kernels that count differently).
const MAX_FILLERS: usize = 4;

/// A filler connect not answered within this long was dropped: the queue is full.
const FILL_WAIT: Duration = Duration::from_millis(50);

/// Longest TLS handshake the HTTPS server waits for.
const TLS_HANDSHAKE_TIME: Duration = Duration::from_secs(10);

/// Bytes an SMTP client may send over one connection.
const MAX_SMTP_INPUT: u64 = 64 * 1024;

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

/// How a server's port looks from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Accepting and serving.
    Open,
    /// Nothing listens: a connect is refused at once (RST).
    Closed,
    /// SYNs are dropped without an answer, as by a firewall that drops: a connect hangs
    /// until the client gives up (a probe reports `filtered`).
    Filtered,
}

/// What a server does with one accepted connection.
type Serve = Arc<dyn Fn(TcpStream) -> BoxFuture<'static, ()> + Send + Sync>;

fn serve_with<F, Fut>(serve: F) -> Serve
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |stream| Box::pin(serve(stream)))
}

enum Listening {
    Closed,
    /// The accept loop, which owns the listener.
    Open(JoinHandle<()>),
    /// A listener never accepted from, its queue full; the connections that fill it.
    Filtered {
        listener: TcpListener,
        fillers: Vec<TcpStream>,
    },
}

/// A listener that can be opened, closed and filtered on the same address.
struct Switch {
    addr: SocketAddr,
    serve: Serve,
    state: Mutex<Listening>,
    /// Serializes changes of the gate (they await).
    changing: tokio::sync::Mutex<()>,
}

impl Switch {
    /// Listens on `addr` (port 0: an ephemeral port), open.
    async fn bind(addr: SocketAddr, serve: Serve) -> io::Result<Switch> {
        check_loopback(addr)?;
        let listener = listen(addr, BACKLOG)?;
        let switch = Switch {
            addr: listener.local_addr()?,
            serve,
            state: Mutex::new(Listening::Closed),
            changing: tokio::sync::Mutex::new(()),
        };
        switch.open(listener);
        Ok(switch)
    }

    fn gate(&self) -> Gate {
        match &*lock(&self.state) {
            Listening::Open(task) if !task.is_finished() => Gate::Open,
            Listening::Filtered { .. } => Gate::Filtered,
            _ => Gate::Closed,
        }
    }

    fn is_up(&self) -> bool {
        self.gate() == Gate::Open
    }

    fn open(&self, listener: TcpListener) {
        let task = tokio::spawn(accept_loop(listener, self.serve.clone()));
        *lock(&self.state) = Listening::Open(task);
    }

    async fn set_gate(&self, gate: Gate) -> io::Result<()> {
        let _changing = self.changing.lock().await;
        if self.gate() == gate {
            return Ok(());
        }
        let current = std::mem::replace(&mut *lock(&self.state), Listening::Closed);
        match (current, gate) {
            (Listening::Filtered { listener, fillers }, Gate::Open) => {
                // "The ACL is fixed": the fillers leave, the queue grows, the loop drains it.
                drop(fillers);
                let listener = match relisten(&listener, BACKLOG) {
                    Ok(()) => listener,
                    Err(_) => {
                        drop(listener);
                        listen(self.addr, BACKLOG)?
                    }
                };
                self.open(listener);
            }
            (current, gate) => {
                if let Listening::Open(task) = current {
                    task.abort();
                    // Wait until the listener is really closed, so the next connect is
                    // refused (or the address can be bound again).
                    let _ = task.await;
                }
                match gate {
                    Gate::Closed => {}
                    Gate::Open => self.open(listen(self.addr, BACKLOG)?),
                    Gate::Filtered => *lock(&self.state) = filtered(self.addr).await?,
                }
            }
        }
        Ok(())
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Listening::Open(task) = &*lock(&self.state) {
            task.abort();
        }
    }
}

/// A listening socket on `addr` with `backlog`.
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Changes the backlog of a listening socket (Linux allows `listen` again for that).
fn relisten(listener: &TcpListener, backlog: u32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    // SAFETY: listen(2) on a descriptor that `listener` owns and keeps open during the
    // call; no memory is passed.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), backlog) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A listener on `addr` that drops every new SYN: backlog 0, its accept queue filled with
/// connections that are never accepted.
async fn filtered(addr: SocketAddr) -> io::Result<Listening> {
    let listener = listen(addr, 0)?;
    let mut fillers = Vec::new();
    for _ in 0..MAX_FILLERS {
        match tokio::time::timeout(FILL_WAIT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(e)) => return Err(e),
            // Not answered: the queue is full, the port is filtered.
            Err(_) => return Ok(Listening::Filtered { listener, fillers }),
        }
    }
    Err(io::Error::other(format!(
        "{addr}: the kernel keeps accepting connections beyond a backlog of 0, \
         so a dropped port cannot be simulated here"
    )))
}

/// Runs `serve` for every accepted connection. The connections live in a [`JoinSet`]
/// owned by the accept task, so stopping the task also cuts every open connection.
async fn accept_loop(listener: TcpListener, serve: Serve) {
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

/// The switch every demo server has: its address, and up / down / filtered.
macro_rules! switched {
    ($($server:ty),*) => {$(
        impl $server {
            /// The bound address (with the real port when bound to port 0).
            pub fn addr(&self) -> SocketAddr {
                self.switch.addr
            }

            pub fn is_up(&self) -> bool {
                self.switch.is_up()
            }

            /// Down closes the listener and every open connection (new connects are
            /// refused); up listens again on the same address.
            pub async fn set_up(&self, up: bool) -> io::Result<()> {
                self.set_gate(if up { Gate::Open } else { Gate::Closed }).await
            }

            pub fn gate(&self) -> Gate {
                self.switch.gate()
            }

            /// Opens, closes or filters the port (see [`Gate`]).
            pub async fn set_gate(&self, gate: Gate) -> io::Result<()> {
                self.switch.set_gate(gate).await
            }
        }
    )*};
}

switched!(SshBannerServer, HttpServer, SmtpServer, TcpServer);

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
        let greeting = Arc::new(Mutex::new(greeting));
        let current = greeting.clone();
        let switch = Switch::bind(
            addr,
            serve_with(move |stream| {
                let greeting = lock(&current).clone();
                serve_ssh(stream, greeting)
            }),
        )
        .await?;
        Ok(SshBannerServer { switch, greeting })
    }

    /// Changes the greeting of the next connections.
    pub fn set_greeting(&self, greeting: SshGreeting) {
        *lock(&self.greeting) = greeting;
    }

    pub fn set_banner(&self, banner: &str) {
        self.set_greeting(SshGreeting::banner(banner));
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
    requests: AtomicU64,
}

impl HttpShared {
    fn new() -> Arc<HttpShared> {
        let default: Handler = Arc::new(|_| HttpReply::status(200, "ok\n"));
        Arc::new(HttpShared {
            handler: Mutex::new(default),
            routes: Mutex::new(HashMap::new()),
            last_request: Mutex::new(None),
            requests: AtomicU64::new(0),
        })
    }
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
        let shared = HttpShared::new();
        let serving = shared.clone();
        let switch = Switch::bind(
            addr,
            serve_with(move |stream| serve_http(stream, serving.clone())),
        )
        .await?;
        Ok(HttpServer { switch, shared })
    }

    /// Listens on `addr` and speaks HTTP over TLS with `tls` (HTTPS).
    pub async fn bind_tls(
        addr: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
    ) -> io::Result<HttpServer> {
        let shared = HttpShared::new();
        let serving = shared.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let switch = Switch::bind(
            addr,
            serve_with(move |stream| {
                let (acceptor, shared) = (acceptor.clone(), serving.clone());
                async move {
                    // A client that only checks the certificate leaves after the handshake:
                    // nothing more to do then.
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(TLS_HANDSHAKE_TIME, acceptor.accept(stream)).await
                    {
                        serve_http(tls, shared).await;
                    }
                }
            }),
        )
        .await?;
        Ok(HttpServer { switch, shared })
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
        self.shared.requests.load(Ordering::Relaxed)
    }
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: Arc<HttpShared>) {
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
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let _ = write_reply(&mut stream, reply).await;
    let _ = stream.shutdown().await;
}

async fn write_reply<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reply: HttpReply,
) -> io::Result<()> {
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
async fn read_request_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<HttpRequest> {
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

/// An SMTP server that says hello and nothing more: the `220` greeting, a multi-line EHLO
/// answer offering STARTTLS, `221` on QUIT. It takes no mail (`MAIL` is answered `451`)
/// and cannot really start TLS (`454`): enough for the `smtp` probe, which stops at EHLO.
pub struct SmtpServer {
    switch: Switch,
}

impl SmtpServer {
    /// Listens on `addr` (port 0: an ephemeral port) and greets with
    /// `220 {hostname} {greeting}`.
    pub async fn bind(addr: SocketAddr, hostname: &str, greeting: &str) -> io::Result<SmtpServer> {
        let hostname: Arc<str> = Arc::from(hostname);
        let greeting: Arc<str> = Arc::from(greeting);
        let switch = Switch::bind(
            addr,
            serve_with(move |stream| serve_smtp(stream, hostname.clone(), greeting.clone())),
        )
        .await?;
        Ok(SmtpServer { switch })
    }
}

async fn serve_smtp(stream: TcpStream, hostname: Arc<str>, greeting: Arc<str>) {
    let (read, mut write) = stream.into_split();
    // The client's input is capped as a whole, so an endless line cannot grow a buffer.
    let mut read = BufReader::new(read.take(MAX_SMTP_INPUT));
    if write
        .write_all(format!("220 {hostname} {greeting}\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match read.read_until(b'\n', &mut line).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        let text = String::from_utf8_lossy(&line);
        let verb = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let (reply, last) = match verb.as_str() {
            "EHLO" => (
                format!(
                    "250-{hostname}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n\
                     250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                ),
                false,
            ),
            "HELO" => (format!("250 {hostname}\r\n"), false),
            "NOOP" | "RSET" => ("250 2.0.0 Ok\r\n".to_string(), false),
            "STARTTLS" => ("454 4.7.0 TLS not available\r\n".to_string(), false),
            "MAIL" | "RCPT" | "DATA" => (
                "451 4.3.0 Mail is not taken during the move, try again later\r\n".to_string(),
                false,
            ),
            "QUIT" => ("221 2.0.0 Bye\r\n".to_string(), true),
            _ => (
                "502 5.5.2 Error: command not recognized\r\n".to_string(),
                false,
            ),
        };
        if write.write_all(reply.as_bytes()).await.is_err() || last {
            let _ = write.shutdown().await;
            return;
        }
    }
}

/// A daemon with a protocol of its own on a TCP port (buildbot's workers, say): accepts,
/// sends `greeting` (possibly nothing) and keeps the connection until the client leaves.
pub struct TcpServer {
    switch: Switch,
}

impl TcpServer {
    /// Listens on `addr` (port 0: an ephemeral port).
    pub async fn bind(addr: SocketAddr, greeting: &[u8]) -> io::Result<TcpServer> {
        let greeting = SshGreeting::Raw(greeting.to_vec());
        let switch = Switch::bind(
            addr,
            serve_with(move |stream| serve_ssh(stream, greeting.clone())),
        )
        .await?;
        Ok(TcpServer { switch })
    }
}

/// A port that is bound but never listens: every connect is refused (RST), and while it is
/// held no other socket can take the port. A daemon that never came back.
pub struct ClosedPort {
    addr: SocketAddr,
    _socket: TcpSocket,
}

impl ClosedPort {
    /// Binds `addr` (port 0: an ephemeral port).
    pub fn bind(addr: SocketAddr) -> io::Result<ClosedPort> {
        check_loopback(addr)?;
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(addr)?;
        Ok(ClosedPort {
            addr: socket.local_addr()?,
            _socket: socket,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
