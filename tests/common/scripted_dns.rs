//! A DNS server that says exactly what a test scripts, including what no well-behaved
//! server would (a referral with odd glue, an answer owned by another name, an answer that
//! comes late): for the cases hickory's own server cannot be made to produce.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::RecordType;

/// Starts a server on a loopback UDP port. Each question of type `rtype` gets a response
/// (its id, op code and question already set) that `fill` completes, sent after `delay`;
/// any other question gets no answer at all.
pub async fn start(
    rtype: RecordType,
    delay: Duration,
    fill: impl Fn(&Query, &mut Message) + Send + Sync + 'static,
) -> SocketAddr {
    let socket = Arc::new(
        tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap(),
    );
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        while let Ok((len, peer)) = socket.recv_from(&mut buffer).await {
            let Ok(query) = Message::from_vec(&buffer[..len]) else {
                continue;
            };
            let Some(question) = query.queries.first().cloned() else {
                continue;
            };
            if question.query_type() != rtype {
                continue;
            }
            let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
            reply.metadata.message_type = MessageType::Response;
            reply.add_query(question.clone());
            fill(&question, &mut reply);
            let socket = socket.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = socket.send_to(&reply.to_vec().unwrap(), peer).await;
            });
        }
    });
    addr
}
