//! The secondary canary: one change made on purpose at the zone's primary, then every
//! secondary asked until it serves it.
//!
//! A secondary still transferring from the old primary looks perfect until the zone
//! changes (the post-mortem: "we probably won't find all the problems with this until we
//! need to actually change an entry"). A run makes that change now:
//!
//! ```text
//! 1. UPDATE (RFC 2136, TSIG-signed) -> primary: replace _moveday-canary.ZONE TXT "<time> <who>"
//! 2. SOA? -> primary: the serial that carries it
//! 3. every `canary_every`, without recursion, SOA? and TXT? -> each secondary not yet following
//! 4. until every secondary serves the serial and the text, or the deadline
//! ```
//!
//! The update message and its TSIG signature are hickory-proto's (`update_message`,
//! `TSigner`); moveday writes no DNS wire format of its own. The canary record is the only
//! name moveday ever writes, and only with the key the inventory names.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use futures::future::join_all;
use hickory_proto::op::{Message, ResponseCode, UpdateMessage, update_message};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordType, SerialNumber, TSigVerifier, TSigner};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::dns_client::{DnsClient, tcp_round_trip};
use super::scheduler::{Listener, ProbeEnv};
use super::zone::{ask, fqdn, zone_serial};
use super::{DnsError, ProbeReport};
use crate::config::{Inventory, ServerRef, TsigKey};
use crate::sanitize::sanitize;

/// The first label of the canary record: `_moveday-canary.ZONE`.
pub const CANARY_LABEL: &str = "_moveday-canary";
/// TTL of the canary record (nobody should cache it for long).
const CANARY_TTL: u32 = 60;
/// Seconds of clock difference the primary may allow (RFC 8945 recommends 300).
const TSIG_FUDGE: u16 = 300;
/// Characters of a TXT string or an error kept.
const TEXT_CHARS: usize = 200;
/// TXT records of the canary name kept from one answer (there should be one).
const MAX_TXT: usize = 8;

/// The canary record's name in `zone`.
pub fn canary_name(zone: &str) -> String {
    format!("{CANARY_LABEL}.{zone}")
}

/// The canary's text: when it was written and by whom; at most [`MAX_TXT_BYTES`] bytes
/// (a TXT string's limit), cut on a character boundary.
pub fn canary_text(at: SystemTime, who: &str) -> String {
    let mut text = sanitize(
        &format!("{} {who}", crate::timefmt::rfc3339(at)),
        TEXT_CHARS,
    );
    let mut end = text.len().min(MAX_TXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// The longest string one TXT record carries.
pub const MAX_TXT_BYTES: usize = 255;

/// What one canary run needs.
#[derive(Debug, Clone)]
pub struct CanaryPlan {
    /// Index into `Inventory::zones`.
    pub zone: usize,
    pub zone_name: String,
    pub primary: SocketAddr,
    /// In inventory order.
    pub secondaries: Vec<ServerRef>,
    pub key: TsigKey,
    /// The TXT text written (see [`canary_text`]).
    pub text: String,
    /// How often each secondary is asked.
    pub every: Duration,
    /// How long, from the write, the secondaries have to follow.
    pub deadline: Duration,
    /// How long one question (and the update) may take.
    pub timeout: Duration,
}

impl CanaryPlan {
    /// The run of zone `zone` of `inv`, written by `who` with `key`, the secondaries given
    /// `deadline` (the inventory's `canary_deadline` unless the caller says otherwise); or
    /// why there can be none.
    pub fn for_zone(
        inv: &Inventory,
        zone: usize,
        key: TsigKey,
        who: &str,
        deadline: Duration,
    ) -> Result<CanaryPlan, String> {
        let config = inv
            .zones
            .get(zone)
            .ok_or_else(|| format!("no zone {zone} in the inventory"))?;
        if config.secondaries.is_empty() {
            return Err(format!(
                "zone {} has no secondaries: a canary would prove nothing",
                config.name
            ));
        }
        Ok(CanaryPlan {
            zone,
            zone_name: config.name.clone(),
            primary: config.primary,
            secondaries: config
                .secondaries
                .iter()
                .map(|s| s.server.clone())
                .collect(),
            key,
            text: canary_text(SystemTime::now(), who),
            every: inv.canary_every,
            deadline,
            timeout: inv.probe.timeout,
        })
    }
}

/// One step of a run, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryEvent {
    /// The run began: the update is on its way to the primary.
    Started {
        at: SystemTime,
        primary: SocketAddr,
        text: String,
        secondaries: usize,
        deadline: Duration,
    },
    /// The primary took the update; `serial` is what it serves now (`None`: its SOA could
    /// not be read back, and only the text counts).
    Written {
        at: SystemTime,
        serial: Result<u32, DnsError>,
    },
    /// The update failed: the run is over.
    WriteFailed { at: SystemTime, error: UpdateError },
    /// One secondary was asked.
    Poll {
        at: SystemTime,
        secondary: usize,
        address: Option<SocketAddr>,
        result: Result<CanaryPoll, DnsError>,
    },
    /// Every secondary picked it up, or the deadline passed.
    Finished { at: SystemTime },
}

/// What a secondary serves of the zone's SOA and of the canary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryPoll {
    /// The zone's SOA serial (`None`: no SOA of the zone in the answer).
    pub serial: Option<u32>,
    /// The canary TXT strings (owner: the canary name), each record's strings joined.
    pub txt: Vec<String>,
}

impl CanaryPoll {
    /// Whether the secondary serves `serial` (or later, in serial arithmetic) — when the
    /// primary's was read back.
    pub fn has_serial(&self, serial: Option<u32>) -> bool {
        match (self.serial, serial) {
            (Some(seen), Some(want)) => serial_at_least(seen, want),
            (_, None) => true,
            (None, Some(_)) => false,
        }
    }

    /// Whether the secondary serves the canary `text`.
    pub fn has_text(&self, text: &str) -> bool {
        self.txt.iter().any(|t| t == text)
    }

    /// The rule of a run: a secondary has picked the canary up when it serves the serial
    /// the primary wrote it with, or a later one (a secondary serving serial S has every
    /// change up to S, even when a later canary has replaced this one's text); when the
    /// primary's serial could not be read back, when it serves the text.
    pub fn follows(&self, serial: Option<u32>, text: &str) -> bool {
        match serial {
            Some(_) => self.has_serial(serial),
            None => self.has_text(text),
        }
    }
}

/// RFC 1982 (hickory's `SerialNumber` order): `a` is `b` or later.
pub fn serial_at_least(a: u32, b: u32) -> bool {
    SerialNumber::new(a) >= SerialNumber::new(b)
}

/// Why the primary did not take the update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// An error rcode: NOTAUTH (no key, a wrong key, no allow-update for it), REFUSED, ...
    #[error("primary {primary} refused the update: {rcode}{}", tsig.as_ref().map(|t| format!(" (TSIG {t})")).unwrap_or_default())]
    Refused {
        primary: SocketAddr,
        rcode: String,
        tsig: Option<String>,
    },
    /// An answer that claims success but is not signed with the key.
    #[error("primary {primary} answered without a valid signature of the key: {why}")]
    Unsigned { primary: SocketAddr, why: String },
    #[error("primary {primary}: no answer to the update within {}", crate::config::inventory::duration_text(*timeout))]
    Timeout {
        primary: SocketAddr,
        timeout: Duration,
    },
    #[error("primary {primary}: {why}")]
    Other { primary: SocketAddr, why: String },
}

/// The update: in `zone`, replace the canary TXT with `text` (delete the RRset, add the
/// record), signed with `key` at `now`.
fn update_request(
    key: &TsigKey,
    zone: &str,
    text: &str,
    now: SystemTime,
) -> Result<(Message, TSigVerifier), String> {
    let origin = fqdn(zone).map_err(|e| e.to_string())?;
    let name = fqdn(&canary_name(zone)).map_err(|e| e.to_string())?;
    let record = Record::from_rdata(
        name,
        CANARY_TTL,
        RData::TXT(TXT::new(vec![text.to_string()])),
    );
    let mut message = update_message::delete_rrset(record.clone(), origin, false);
    message.add_update(record);
    let key_name = Name::from_ascii(&key.name).map_err(|e| format!("key name: {e}"))?;
    let signer = TSigner::new(
        key.secret.clone(),
        key.algorithm.into(),
        key_name,
        TSIG_FUDGE,
    )
    .map_err(|e| format!("TSIG key: {e}"))?;
    let unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let verifier = message
        .finalize(&signer, unix)
        .map_err(|e| format!("cannot sign the update: {e}"))?
        .ok_or("the key signs no update")?;
    Ok((message, verifier))
}

/// Sends the signed update to `primary` (over TCP) and checks its answer: its rcode, then
/// its signature. Ends within `timeout`.
pub async fn write_canary(
    key: &TsigKey,
    zone: &str,
    primary: SocketAddr,
    text: &str,
    timeout: Duration,
) -> Result<(), UpdateError> {
    let other = |why: String| UpdateError::Other {
        primary,
        why: sanitize(&why, TEXT_CHARS),
    };
    let (request, mut verifier) =
        update_request(key, zone, text, SystemTime::now()).map_err(other)?;
    let id = request.metadata.id;
    let bytes = request.to_vec().map_err(|e| other(e.to_string()))?;
    let exchange = tcp_round_trip(primary, &bytes, |a| a.metadata.id == id);
    let (answer, raw) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| UpdateError::Timeout { primary, timeout })?
        .map_err(|e| other(e.to_string()))?;
    if answer.metadata.response_code != ResponseCode::NoError {
        let tsig = answer
            .signature()
            .and_then(|s| s.data.error.as_ref())
            .map(|e| sanitize(&format!("{e:?}"), 40).to_uppercase());
        return Err(UpdateError::Refused {
            primary,
            // The RFC's mnemonic (NOTAUTH, REFUSED), as dig and BIND's logs say it.
            rcode: sanitize(&format!("{:?}", answer.metadata.response_code), 40).to_uppercase(),
            tsig,
        });
    }
    // A success must be signed with the key (over the request's MAC, within the fudge):
    // anyone on the path can forge an unsigned one.
    verifier
        .verify(&raw)
        .map(|_| ())
        .map_err(|e| UpdateError::Unsigned {
            primary,
            why: sanitize(&e.to_string(), TEXT_CHARS),
        })
}

/// Asks `server` (without recursion, within `timeout`) for the zone's SOA serial and the
/// canary TXT. A name with no canary yet (NXDOMAIN, no TXT) is an empty `txt`, not an
/// error.
pub async fn poll_secondary(
    client: &DnsClient,
    server: SocketAddr,
    zone: &str,
    timeout: Duration,
) -> Result<CanaryPoll, DnsError> {
    let apex = fqdn(zone)?;
    let name = fqdn(&canary_name(zone))?;
    let (soa, txt) = futures::join!(
        ask(client, server, &apex, RecordType::SOA, false, timeout),
        ask(client, server, &name, RecordType::TXT, false, timeout),
    );
    let soa = soa?;
    if !soa.metadata.authoritative {
        // A lame secondary (answering from a cache, or for another zone) serves nothing.
        return Err(DnsError::Other(
            "answers without authority (AA): not serving the zone".into(),
        ));
    }
    let serial = zone_serial(&soa, &apex);
    let txt = match txt {
        Ok(answer) => answer
            .answers
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| match &r.data {
                RData::TXT(t) => Some(txt_string(t)),
                _ => None,
            })
            .take(MAX_TXT)
            .collect(),
        Err(DnsError::NxDomain) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(CanaryPoll { serial, txt })
}

/// A TXT record's strings, joined, as text (escaped, capped).
fn txt_string(txt: &TXT) -> String {
    sanitize(&super::zone::txt_text(txt), TEXT_CHARS)
}

/// Runs the canary: writes it, then asks the secondaries that have not picked it up,
/// every `plan.every`, until all have or `plan.deadline` has passed since the write. It
/// ends within the update's timeout, the read-back's, the deadline and one more timeout
/// (a round started before the deadline keeps its whole timeout). Every step is sent on
/// `tx` as a [`ProbeReport::Canary`] carrying the run's text (its identity); the run ends
/// with `Finished` (or `WriteFailed`). Returns early when nobody listens any more.
pub async fn run<T: Listener>(env: &ProbeEnv, plan: CanaryPlan, tx: mpsc::Sender<T>) {
    let reporter = Reporter {
        tx,
        zone: plan.zone,
        run: plan.text.clone(),
    };
    let Some(want) = write_and_read_back(env, &plan, &reporter).await else {
        return;
    };
    let deadline = Instant::now() + plan.deadline;
    if poll_rounds(env, &plan, want, deadline, &reporter).await {
        reporter
            .send(CanaryEvent::Finished {
                at: SystemTime::now(),
            })
            .await;
    }
}

/// Sends a run's steps.
struct Reporter<T> {
    tx: mpsc::Sender<T>,
    zone: usize,
    run: String,
}

impl<T: Listener> Reporter<T> {
    /// Whether anyone still listens.
    async fn send(&self, event: CanaryEvent) -> bool {
        let report = ProbeReport::Canary {
            zone: self.zone,
            run: self.run.clone(),
            event,
        };
        self.tx.send(report.into()).await.is_ok()
    }
}

/// Starts the run, writes the canary and reads the primary's serial back: the serial
/// the secondaries must serve (`Some(None)`: not read back, the text decides); `None`
/// when the write failed or nobody listens.
async fn write_and_read_back<T: Listener>(
    env: &ProbeEnv,
    plan: &CanaryPlan,
    reporter: &Reporter<T>,
) -> Option<Option<u32>> {
    let started = CanaryEvent::Started {
        at: SystemTime::now(),
        primary: plan.primary,
        text: plan.text.clone(),
        secondaries: plan.secondaries.len(),
        deadline: plan.deadline,
    };
    if !reporter.send(started).await {
        return None;
    }
    let (key, zone) = (&plan.key, &plan.zone_name);
    if let Err(error) = write_canary(key, zone, plan.primary, &plan.text, plan.timeout).await {
        let at = SystemTime::now();
        reporter.send(CanaryEvent::WriteFailed { at, error }).await;
        return None;
    }
    let serial = match fqdn(zone) {
        Ok(apex) => ask(
            &env.dns,
            plan.primary,
            &apex,
            RecordType::SOA,
            false,
            plan.timeout,
        )
        .await
        .and_then(|soa| zone_serial(&soa, &apex).ok_or(DnsError::NoRecords)),
        Err(e) => Err(e),
    };
    let want = serial.as_ref().ok().copied();
    let at = SystemTime::now();
    reporter
        .send(CanaryEvent::Written { at, serial })
        .await
        .then_some(want)
}

/// Asks the secondaries that have not picked the canary up, a round every `plan.every`,
/// until all have or `deadline` has passed. Returns whether anyone still listens.
async fn poll_rounds<T: Listener>(
    env: &ProbeEnv,
    plan: &CanaryPlan,
    want: Option<u32>,
    deadline: Instant,
    reporter: &Reporter<T>,
) -> bool {
    let mut waiting: Vec<usize> = (0..plan.secondaries.len()).collect();
    let mut round = tokio::time::interval_at(Instant::now(), plan.every);
    round.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A round starts only before the deadline (the wait for it is cut at the deadline);
    // its questions get the whole timeout (a round cut short would report a timeout of
    // its own making).
    while !waiting.is_empty() {
        if tokio::time::timeout_at(deadline, round.tick())
            .await
            .is_err()
        {
            break;
        }
        let polls = waiting.iter().map(|&i| async move {
            let (address, result) = poll_one(env, plan, i, plan.timeout).await;
            (i, address, result)
        });
        let mut picked_up = Vec::new();
        for (i, address, result) in join_all(polls).await {
            if result.as_ref().is_ok_and(|p| p.follows(want, &plan.text)) {
                picked_up.push(i);
            }
            let at = SystemTime::now();
            let event = CanaryEvent::Poll {
                at,
                secondary: i,
                address,
                result,
            };
            if !reporter.send(event).await {
                return false;
            }
        }
        waiting.retain(|i| !picked_up.contains(i));
    }
    true
}

/// Asks secondary `i` of the plan (its name looked up first when it is given by name).
async fn poll_one(
    env: &ProbeEnv,
    plan: &CanaryPlan,
    i: usize,
    timeout: Duration,
) -> (Option<SocketAddr>, Result<CanaryPoll, DnsError>) {
    let start = Instant::now();
    let address = match &plan.secondaries[i] {
        ServerRef::Address(a) => *a,
        ServerRef::Name(host) => match env.server_address(host, timeout).await {
            Ok(a) => a,
            Err(why) => return (None, Err(DnsError::Other(why))),
        },
    };
    let left = timeout.saturating_sub(start.elapsed());
    let result = poll_secondary(&env.dns, address, &plan.zone_name, left).await;
    (Some(address), result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TsigAlgorithm;

    #[test]
    fn serial_arithmetic() {
        assert!(serial_at_least(5, 5));
        assert!(serial_at_least(6, 5));
        assert!(!serial_at_least(4, 5));
        assert!(serial_at_least(1, u32::MAX));
        assert!(!serial_at_least(u32::MAX, 1));
    }

    #[test]
    fn a_secondary_follows_with_the_serial_or_else_the_text() {
        let poll = |serial, txt: &[&str]| CanaryPoll {
            serial,
            txt: txt.iter().map(|t| t.to_string()).collect(),
        };
        let text = "2026-12-06T14:00:00Z ana@laptop";
        assert!(poll(Some(7), &[text]).follows(Some(7), text));
        assert!(poll(Some(8), &[text]).follows(Some(7), text));
        assert!(!poll(Some(6), &[text]).follows(Some(7), text));
        // A later canary replaced the text: serial 7 still holds this run's change.
        assert!(poll(Some(7), &["older"]).follows(Some(7), text));
        // The primary's serial unknown: the text alone decides.
        assert!(poll(None, &[text]).follows(None, text));
        assert!(!poll(Some(7), &[]).follows(None, text));
    }

    #[test]
    fn the_text_fits_one_txt_string() {
        let who = "ä".repeat(200);
        let text = canary_text(SystemTime::UNIX_EPOCH, &who);
        assert!(text.len() <= MAX_TXT_BYTES, "{}", text.len());
        assert!(text.starts_with("1970-01-01T00:00:00Z ä"));
    }

    #[test]
    fn the_update_replaces_only_the_canary_and_is_signed() {
        let key = TsigKey {
            name: "moveday-canary".into(),
            algorithm: TsigAlgorithm::HmacSha256,
            secret: vec![7; 32],
        };
        let (message, _) =
            update_request(&key, "example.org", "t ana@laptop", SystemTime::now()).unwrap();
        assert_eq!(message.metadata.op_code, hickory_proto::op::OpCode::Update);
        // The zone section names the zone; every update touches the canary name only.
        assert_eq!(message.queries.len(), 1);
        assert_eq!(message.queries[0].name().to_ascii(), "example.org.");
        let updates = &message.authorities;
        assert_eq!(updates.len(), 2);
        assert!(
            updates
                .iter()
                .all(|r| r.name.to_ascii() == "_moveday-canary.example.org.")
        );
        assert!(updates.iter().all(|r| r.record_type() == RecordType::TXT));
        let sig = message.signature().expect("signed");
        assert_eq!(sig.name.to_ascii(), "moveday-canary.");
    }
}
