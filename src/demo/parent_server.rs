//! The demo's parent zone server: it answers every question about a zone it delegates
//! with a referral, as a TLD's servers do (no AA, the zone's NS set in the authority
//! section, the glue of those names in the additional section), and refuses the rest.
//! hickory's in-memory zone handler answers a delegation point as its own data, without
//! the glue: not what a registrar's servers say.
//!
//! UDP only (a referral of a few names fits in any datagram), on loopback only; stops
//! when dropped. The glue can be changed while it serves: the registrar's change landing.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NS};
use hickory_proto::rr::{Name, RData, Record};
use tokio::net::UdpSocket;
use tokio::task::AbortHandle;

use super::dns_server::DnsServerError;

/// TTL of the NS and glue records (two days, as TLDs serve them).
const TTL: u32 = 172_800;

/// One delegated zone: its NS names.
#[derive(Clone)]
struct Delegation {
    zone: Name,
    ns: Vec<Name>,
}

#[derive(Default)]
struct Table {
    delegations: Vec<Delegation>,
    /// The glue: one address per NS name.
    glue: Vec<(Name, IpAddr)>,
}

/// A running parent server.
pub struct ParentServer {
    addr: SocketAddr,
    table: Arc<Mutex<Table>>,
    task: AbortHandle,
}

impl Drop for ParentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ParentServer {
    /// Serves on `addr` (loopback; port 0 picks one), delegating nothing yet.
    pub async fn start(addr: SocketAddr) -> io::Result<ParentServer> {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{addr} is not a loopback address"),
            ));
        }
        let socket = UdpSocket::bind(addr).await?;
        let addr = socket.local_addr()?;
        let table = Arc::new(Mutex::new(Table::default()));
        let task = tokio::spawn(serve(socket, table.clone())).abort_handle();
        Ok(ParentServer { addr, table, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Delegates `zone` to the name servers `ns` (replacing an earlier delegation of it).
    pub fn delegate(&self, zone: &str, ns: &[&str]) -> Result<(), DnsServerError> {
        let zone = name(zone)?;
        let ns = ns.iter().map(|n| name(n)).collect::<Result<Vec<_>, _>>()?;
        let mut table = self.table.lock().map_err(|_| poisoned())?;
        table.delegations.retain(|d| d.zone != zone);
        table.delegations.push(Delegation { zone, ns });
        Ok(())
    }

    /// Makes `ip` the glue address of the name server `ns`.
    pub fn set_glue(&self, ns: &str, ip: IpAddr) -> Result<(), DnsServerError> {
        let ns = name(ns)?;
        let mut table = self.table.lock().map_err(|_| poisoned())?;
        table.glue.retain(|(n, _)| *n != ns);
        table.glue.push((ns, ip));
        Ok(())
    }
}

fn name(text: &str) -> Result<Name, DnsServerError> {
    let text = format!("{}.", text.trim_end_matches('.'));
    Name::from_ascii(&text).map_err(|_| DnsServerError::InvalidName(text))
}

fn poisoned() -> DnsServerError {
    DnsServerError::Io(io::Error::other("parent server table poisoned"))
}

async fn serve(socket: UdpSocket, table: Arc<Mutex<Table>>) {
    let mut buffer = vec![0u8; 4096];
    while let Ok((len, peer)) = socket.recv_from(&mut buffer).await {
        let Ok(query) = Message::from_vec(&buffer[..len]) else {
            continue;
        };
        let Some(reply) = table.lock().ok().map(|t| answer(&t, &query)) else {
            continue;
        };
        if let Ok(bytes) = reply.to_vec() {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}

/// A referral for a question at or below a delegated zone (the most specific one), else
/// REFUSED.
fn answer(table: &Table, query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.message_type = MessageType::Response;
    let Some(question) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    reply.add_query(question.clone());
    let delegation = table
        .delegations
        .iter()
        .filter(|d| d.zone.zone_of(question.name()))
        .max_by_key(|d| d.zone.num_labels());
    let Some(d) = delegation else {
        reply.metadata.response_code = ResponseCode::Refused;
        return reply;
    };
    reply.authorities =
        d.ns.iter()
            .map(|ns| Record::from_rdata(d.zone.clone(), TTL, RData::NS(NS(ns.clone()))))
            .collect();
    reply.additionals = table
        .glue
        .iter()
        // Glue only for the names inside the zone, as a parent zone's servers send it.
        .filter(|(n, _)| d.ns.contains(n) && d.zone.zone_of(n))
        .map(|(n, ip)| {
            let data = match ip {
                IpAddr::V4(v4) => RData::A(A(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            };
            Record::from_rdata(n.clone(), TTL, data)
        })
        .collect();
    reply
}
