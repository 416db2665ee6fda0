//! A primary that takes dynamic updates: a loopback front (UDP and TCP) to a [`DnsServer`]
//! that applies RFC 2136 updates signed with one TSIG key, as BIND with `allow-update {
//! key ...; }` does, and passes every other message on to the server.
//!
//! hickory-server takes updates only with its SQLite store; this is the demo's and the
//! tests' primary for the canary. It verifies and signs with hickory-proto's TSIG types,
//! answers NOTAUTH with TSIG BADKEY for another key and BADSIG for a bad signature (both
//! unsigned, as RFC 8945 says), REFUSED for an unsigned update, and applies only
//! "delete an RRset" and "add to an RRset" of names inside the served zones.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType, TSigResponseContext, TSigner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dns_server::{DnsServer, bind_pair, forward};
use crate::config::TsigKey;

/// A primary taking signed updates; stops when dropped.
pub struct UpdateDesk {
    addr: SocketAddr,
    updates: Arc<std::sync::atomic::AtomicUsize>,
    _tasks: tokio::task::JoinSet<()>,
}

struct Desk {
    server: Arc<DnsServer>,
    signer: TSigner,
    updates: Arc<std::sync::atomic::AtomicUsize>,
}

impl UpdateDesk {
    /// Takes updates for `server`'s zones signed with `key` on a fresh loopback port of
    /// `server`'s address, and passes other questions to it.
    pub async fn start(server: Arc<DnsServer>, key: &TsigKey) -> io::Result<UpdateDesk> {
        let upstream = server.addr();
        let (udp, tcp) = bind_pair(SocketAddr::new(upstream.ip(), 0)).await?;
        let addr = udp.local_addr()?;
        let algorithm = key.algorithm.into();
        let name = Name::from_ascii(&key.name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let signer = TSigner::new(key.secret.clone(), algorithm, name, 300)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let updates = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let desk = Arc::new(Desk {
            server,
            signer,
            updates: updates.clone(),
        });
        let udp = Arc::new(udp);
        let mut tasks = tokio::task::JoinSet::new();
        let on_udp = desk.clone();
        tasks.spawn(async move {
            let mut buffer = vec![0u8; 4096];
            while let Ok((len, peer)) = udp.recv_from(&mut buffer).await {
                let request = buffer.get(..len).unwrap_or_default().to_vec();
                let (udp, desk) = (udp.clone(), on_udp.clone());
                tokio::spawn(async move {
                    if let Some(answer) = desk.answer(upstream, &request).await {
                        let _ = udp.send_to(&answer, peer).await;
                    }
                });
            }
        });
        tasks.spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let desk = desk.clone();
                tokio::spawn(async move {
                    let Ok(len) = stream.read_u16().await else {
                        return;
                    };
                    let mut request = vec![0u8; usize::from(len)];
                    if stream.read_exact(&mut request).await.is_err() {
                        return;
                    }
                    let Some(answer) = desk.answer(upstream, &request).await else {
                        return;
                    };
                    let Ok(len) = u16::try_from(answer.len()) else {
                        return;
                    };
                    let mut framed = len.to_be_bytes().to_vec();
                    framed.extend_from_slice(&answer);
                    let _ = stream.write_all(&framed).await;
                });
            }
        });
        Ok(UpdateDesk {
            addr,
            updates,
            _tasks: tasks,
        })
    }

    /// Where it listens (UDP and TCP): the zone's `primary`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Updates applied so far.
    pub fn updates(&self) -> usize {
        self.updates.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Desk {
    /// The answer to one message: an update handled here, anything else the server's.
    async fn answer(&self, upstream: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
        let message = Message::from_vec(request).ok()?;
        if message.metadata.op_code != OpCode::Update {
            return forward(upstream, request).await.ok();
        }
        Some(self.update(&message, request).await)
    }

    async fn update(&self, message: &Message, raw: &[u8]) -> Vec<u8> {
        let id = message.metadata.id;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let reply = |code: ResponseCode| {
            let mut m = Message::response(id, OpCode::Update);
            m.metadata.response_code = code;
            m.metadata.message_type = MessageType::Response;
            m
        };
        let Some(sig) = message.signature() else {
            return encode(reply(ResponseCode::Refused));
        };
        if sig.name != *self.signer.signer_name() {
            let mut m = reply(ResponseCode::NotAuth);
            let context = TSigResponseContext::unknown_key(id, now, sig.name.clone());
            if let Ok(tsig) = context.sign(&[]) {
                m.set_signature(tsig);
            }
            return encode(m);
        }
        let request_mac = match self.signer.verify_message_byte(raw, None, true) {
            Ok((mac, _, range)) if range.contains(&now) => mac,
            _ => {
                let mut m = reply(ResponseCode::NotAuth);
                let context = TSigResponseContext::bad_signature(id, now, self.signer.clone());
                if let Ok(tsig) = context.sign(&[]) {
                    m.set_signature(tsig);
                }
                return encode(m);
            }
        };
        let code = self.apply(message).await;
        let response = reply(code);
        let Ok(unsigned) = response.to_vec() else {
            return encode(reply(ResponseCode::ServFail));
        };
        let context =
            TSigResponseContext::new(id, now, self.signer.clone(), request_mac, None::<TsigError>);
        let mut response = response;
        match context.sign(&unsigned) {
            Ok(tsig) => {
                response.set_signature(tsig);
                encode(response)
            }
            Err(_) => unsigned,
        }
    }

    /// Applies the update section: RRset deletions (class ANY) and additions (class IN) of
    /// names inside the zone, each RRset's outcome written at once (one serial bump per
    /// RRset touched: one for the canary's delete-and-add, as a primary bumps once per
    /// update). Prerequisites are not supported
    /// (moveday sends none).
    async fn apply(&self, message: &Message) -> ResponseCode {
        let Some(zone) = message.queries.first() else {
            return ResponseCode::FormErr;
        };
        let zone = zone.name().clone();
        if !message.answers.is_empty() {
            return ResponseCode::NotImp;
        }
        // (name, type) -> the records it ends with, in the order first touched.
        let mut outcome: Vec<((Name, RecordType), u32, Vec<RData>)> = Vec::new();
        for record in &message.authorities {
            if !zone.zone_of(&record.name) {
                return ResponseCode::NotZone;
            }
            let key = (record.name.clone(), record.record_type());
            let at = match outcome.iter().position(|(k, _, _)| *k == key) {
                Some(at) => at,
                None => {
                    outcome.push((key, 0, Vec::new()));
                    outcome.len() - 1
                }
            };
            let slot = &mut outcome[at];
            match record.dns_class {
                DNSClass::ANY => slot.2.clear(),
                DNSClass::IN => {
                    slot.1 = record.ttl;
                    slot.2.push(record.data.clone());
                }
                _ => return ResponseCode::NotImp,
            }
        }
        for ((name, rtype), ttl, rdata) in outcome {
            let written = self
                .server
                .set_records(&name.to_ascii(), rtype, ttl, rdata)
                .await;
            if written.is_err() {
                return ResponseCode::ServFail;
            }
        }
        self.updates
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ResponseCode::NoError
    }
}

fn encode(message: Message) -> Vec<u8> {
    message.to_vec().unwrap_or_default()
}
