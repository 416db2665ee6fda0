//! The DNS transport of moveday's own queries (zone servers, PTR): one long-lived UDP
//! socket per server, shared by every query to it, answers matched to questions by id.
//!
//! A socket per query (what a stub resolver does) costs `socket`, `bind`, `connect`,
//! reactor registration and `close` for every question, several times the work of the
//! exchange itself: at one round a second, the zone servers' columns of eight hosts were
//! about half of moveday's idle CPU. Like the pinger's one ICMP socket, this keeps one
//! socket per server open for the life of the probes, and one task per socket reads the
//! answers and hands each to the query waiting for it.
//!
//! The socket is connected: the kernel drops datagrams from anyone but the server, and an
//! ICMP port-unreachable comes back as "connection refused" (no server listening), which
//! fails the queries then waiting on that server. A datagram that is not DNS at all fails
//! the query whose id it carries, or, when it carries none of ours, every query waiting on
//! that server (the server speaks garbage); a well-formed answer to an id or question we
//! did not ask is ignored, and the real answer may still come. Truncated answers are asked
//! again over TCP, as before.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::DnsError;
use crate::sanitize::sanitize;

/// Characters of an error text shown.
const TEXT_CHARS: usize = 160;

/// The largest UDP answer read (EDNS payloads beyond this are not asked for).
const UDP_BUFFER: usize = 4096;

/// Queries to one server waiting for their answers, by id.
type Pending = Mutex<HashMap<u16, Waiter>>;

struct Waiter {
    name: Name,
    rtype: RecordType,
    answer: oneshot::Sender<Result<Message, DnsError>>,
}

/// One server's socket and the task reading it.
struct Channel {
    socket: Arc<UdpSocket>,
    pending: Arc<Pending>,
    reader: AbortHandle,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The shared sockets; cheap to clone. Must be used inside the Tokio runtime that is to
/// run the reading tasks (they end when the last clone is dropped).
#[derive(Clone, Default)]
pub struct DnsClient {
    channels: Arc<Mutex<HashMap<SocketAddr, Arc<Channel>>>>,
}

impl std::fmt::Debug for DnsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.channels.lock().map_or(0, |c| c.len());
        write!(f, "DnsClient({open} sockets)")
    }
}

impl DnsClient {
    pub fn new() -> DnsClient {
        DnsClient::default()
    }

    /// Sockets open now (one per server asked).
    pub fn sockets(&self) -> usize {
        self.channels.lock().map_or(0, |c| c.len())
    }

    /// One question to `server`, with or without recursion desired: UDP, then TCP if the
    /// answer is truncated. No timeout of its own (the caller bounds it). An answer with an
    /// error code is an error.
    pub async fn query(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
        recursion: bool,
    ) -> Result<Message, DnsError> {
        let channel = self.channel(server).await?;
        let (request, id, receiver) = loop {
            let mut request = Message::query();
            request.metadata.recursion_desired = recursion;
            request.add_query(Query::query(name.clone(), rtype));
            let id = request.metadata.id;
            let mut pending = channel
                .pending
                .lock()
                .map_err(|_| DnsError::Other("DNS client poisoned".into()))?;
            if pending.contains_key(&id) {
                // Another query to this server holds the id: draw again.
                continue;
            }
            let (answer, receiver) = oneshot::channel();
            pending.insert(
                id,
                Waiter {
                    name: name.clone(),
                    rtype,
                    answer,
                },
            );
            break (request, id, receiver);
        };
        // However this ends (answer, error, the caller's timeout), the id is freed.
        let _forget = Forget {
            pending: &channel.pending,
            id,
        };
        let bytes = request.to_vec().map_err(|e| {
            DnsError::Other(sanitize(&format!("cannot encode query: {e}"), TEXT_CHARS))
        })?;
        channel
            .socket
            .send(&bytes)
            .await
            .map_err(|e| io_error(&e))?;
        let mut answer = receiver
            .await
            .map_err(|_| DnsError::Other("DNS socket closed".into()))??;
        if answer.metadata.truncation {
            answer = tcp_exchange(server, &bytes, id, name, rtype).await?;
        }
        match answer.metadata.response_code {
            ResponseCode::NoError => Ok(answer),
            ResponseCode::NXDomain => Err(DnsError::NxDomain),
            ResponseCode::Refused => Err(DnsError::Refused),
            code => Err(DnsError::Other(sanitize(&code.to_string(), TEXT_CHARS))),
        }
    }

    /// The channel to `server`, opened on first use (and again after its socket failed).
    async fn channel(&self, server: SocketAddr) -> Result<Arc<Channel>, DnsError> {
        if let Some(channel) = self.channels.lock().ok().and_then(|c| {
            c.get(&server)
                .filter(|ch| !ch.reader.is_finished())
                .cloned()
        }) {
            return Ok(channel);
        }
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await.map_err(|e| io_error(&e))?;
        // Every host's questions to this server come back on this one socket.
        #[cfg(target_os = "linux")]
        super::grow_receive_buffer(std::os::fd::AsRawFd::as_raw_fd(&socket), 4 << 20);
        socket.connect(server).await.map_err(|e| io_error(&e))?;
        let socket = Arc::new(socket);
        let pending: Arc<Pending> = Arc::default();
        let reader = tokio::spawn(read_answers(socket.clone(), pending.clone())).abort_handle();
        let fresh = Arc::new(Channel {
            socket,
            pending,
            reader,
        });
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| DnsError::Other("DNS client poisoned".into()))?;
        // Two first queries may race to open it: the first one in is kept.
        let channel = match channels.get(&server) {
            Some(ch) if !ch.reader.is_finished() => ch.clone(),
            _ => {
                channels.insert(server, fresh.clone());
                fresh
            }
        };
        Ok(channel)
    }
}

/// Frees a query's id when the query ends, however it ends.
struct Forget<'a> {
    pending: &'a Pending,
    id: u16,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(&self.id);
        }
    }
}

/// Reads one server's socket until it fails for good, handing each answer to its query.
async fn read_answers(socket: Arc<UdpSocket>, pending: Arc<Pending>) {
    let mut buffer = vec![0u8; UDP_BUFFER];
    loop {
        let received = socket.recv(&mut buffer).await;
        let Ok(mut waiting) = pending.lock() else {
            return;
        };
        match received {
            Ok(len) => deliver(&mut waiting, buffer.get(..len).unwrap_or_default()),
            Err(e) => {
                // Refused (ICMP port unreachable) is about the datagrams sent so far: the
                // queries waiting now fail with it and the socket stays. Anything else
                // ends the socket; the next query opens a new one.
                let error = io_error(&e);
                for (_, waiter) in waiting.drain() {
                    let _ = waiter.answer.send(Err(error.clone()));
                }
                if e.kind() != std::io::ErrorKind::ConnectionRefused {
                    return;
                }
            }
        }
    }
}

fn deliver(waiting: &mut HashMap<u16, Waiter>, bytes: &[u8]) {
    let id = match bytes {
        [high, low, ..] => Some(u16::from_be_bytes([*high, *low])),
        _ => None,
    };
    match Message::from_vec(bytes) {
        Ok(message) => {
            let Some(waiter) = waiting.get(&message.metadata.id) else {
                // An answer to nothing we asked (late, or spoofed): ignored.
                return;
            };
            if !answers(&message, &waiter.name, waiter.rtype) {
                return;
            }
            if let Some(waiter) = waiting.remove(&message.metadata.id) {
                let _ = waiter.answer.send(Ok(message));
            }
        }
        Err(e) => {
            let error = DnsError::Other(sanitize(&format!("garbage answer: {e}"), TEXT_CHARS));
            match id.and_then(|id| waiting.remove(&id)) {
                Some(waiter) => {
                    let _ = waiter.answer.send(Err(error));
                }
                None => {
                    for (_, waiter) in waiting.drain() {
                        let _ = waiter.answer.send(Err(error.clone()));
                    }
                }
            }
        }
    }
}

/// Whether `message` is a response to our question (a server may leave the question out
/// of an error answer; if present it must match).
fn answers(message: &Message, name: &Name, rtype: RecordType) -> bool {
    message.metadata.message_type == MessageType::Response
        && message
            .queries
            .iter()
            .all(|q| q.name() == name && q.query_type() == rtype)
}

async fn tcp_exchange(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, DnsError> {
    tcp_round_trip(server, request, |answer| {
        answer.metadata.id == id && answers(answer, name, rtype)
    })
    .await
    .map(|(answer, _)| answer)
}

/// Sends `request` over a fresh TCP connection to `server` and reads answers until one is
/// `wanted`: that answer, and its bytes (a signed answer is verified over them). No
/// timeout of its own (the caller bounds it).
pub(crate) async fn tcp_round_trip(
    server: SocketAddr,
    request: &[u8],
    wanted: impl Fn(&Message) -> bool,
) -> Result<(Message, Vec<u8>), DnsError> {
    let mut stream = TcpStream::connect(server).await.map_err(|e| io_error(&e))?;
    let len = u16::try_from(request.len())
        .map_err(|_| DnsError::Other("query too long for TCP".into()))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed).await.map_err(|e| io_error(&e))?;
    loop {
        let len = stream.read_u16().await.map_err(|e| io_error(&e))?;
        let mut buffer = vec![0u8; usize::from(len)];
        stream
            .read_exact(&mut buffer)
            .await
            .map_err(|e| io_error(&e))?;
        let answer = Message::from_vec(&buffer)
            .map_err(|e| DnsError::Other(sanitize(&format!("garbage answer: {e}"), TEXT_CHARS)))?;
        if wanted(&answer) {
            return Ok((answer, buffer));
        }
    }
}

fn io_error(e: &std::io::Error) -> DnsError {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            // ICMP port unreachable: no DNS server there at all (not a REFUSED answer).
            DnsError::Other("connection refused: no DNS server listening".into())
        }
        std::io::ErrorKind::TimedOut => DnsError::Timeout,
        std::io::ErrorKind::UnexpectedEof => {
            DnsError::Other("connection closed before the answer".into())
        }
        _ => DnsError::Other(sanitize(&e.to_string(), TEXT_CHARS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    /// A server that answers every query with the given response code, echoing question
    /// and id; it counts the source ports it saw.
    async fn echo_server(code: ResponseCode) -> (SocketAddr, Arc<Mutex<Vec<u16>>>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let ports = Arc::new(Mutex::new(Vec::new()));
        let seen = ports.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                seen.lock().unwrap().push(from.port());
                let query = Message::from_vec(&buf[..len]).unwrap();
                let mut reply = Message::error_msg(query.metadata.id, query.metadata.op_code, code);
                for q in &query.queries {
                    reply.add_query(q.clone());
                }
                let _ = socket.send_to(&reply.to_vec().unwrap(), from).await;
            }
        });
        (addr, ports)
    }

    #[tokio::test]
    async fn many_queries_share_one_socket_and_each_gets_its_own_answer() {
        let (server, ports) = echo_server(ResponseCode::NXDomain).await;
        let client = DnsClient::new();
        let names: Vec<Name> = (0..200).map(|i| name(&format!("h{i}.example."))).collect();
        let answers = futures::future::join_all(
            names
                .iter()
                .map(|n| client.query(server, n, RecordType::A, false)),
        )
        .await;
        assert!(answers.iter().all(|a| *a == Err(DnsError::NxDomain)));
        let ports = ports.lock().unwrap().clone();
        assert_eq!(ports.len(), 200);
        assert!(ports.iter().all(|p| *p == ports[0]), "one source port");
        assert_eq!(client.sockets(), 1);
        // Every id was freed.
        let channel = client
            .channels
            .lock()
            .unwrap()
            .get(&server)
            .unwrap()
            .clone();
        assert!(channel.pending.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_and_the_socket_recovers() {
        // Bind, learn the port, close: nothing listens there now.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = DnsClient::new();
        let a = name("a.example.");
        for _ in 0..2 {
            let q = client.query(closed, &a, RecordType::A, false);
            let e = tokio::time::timeout(Duration::from_secs(2), q)
                .await
                .unwrap();
            assert_eq!(
                e,
                Err(DnsError::Other(
                    "connection refused: no DNS server listening".into()
                ))
            );
        }
        assert_eq!(client.sockets(), 1);
    }

    #[tokio::test]
    async fn a_query_given_up_frees_its_id() {
        let hole = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = DnsClient::new();
        let server = hole.local_addr().unwrap();
        let r = tokio::time::timeout(
            Duration::from_millis(50),
            client.query(server, &name("a.example."), RecordType::A, false),
        )
        .await;
        assert!(r.is_err());
        let channel = client
            .channels
            .lock()
            .unwrap()
            .get(&server)
            .unwrap()
            .clone();
        assert!(channel.pending.lock().unwrap().is_empty());
    }
}
