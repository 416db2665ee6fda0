//! The typed output of `moveday check --json` and `moveday dns --json`: the contract that
//! scripts read, with a JSON Schema under `schema/` generated from these types.
//!
//! Field names and values are what they have always been. After `schema`, each struct's
//! fields are declared in alphabetical order, because that is the order the output has
//! always had (it used to be built as `serde_json::Value` maps, which sort their keys): a
//! script that diffs two outputs sees no change.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use super::{err_text, ms};
use crate::config::HostConfig;
use crate::journal::CheckState;
use crate::probe::ports::PortState;
use crate::probe::service::ServiceState;
use crate::probe::{PingMode, TargetSource};
use crate::schema::SchemaVersion;
use crate::store::{self, Health, HostState, HostsFlag, Seen, State, Verdict};
use crate::timefmt::rfc3339;

mod mail;
mod vantage;

pub use mail::MailOutput;
pub use vantage::{StdinPlanOutput, VantageOutput, stdin_plan as vantage_note};

/// `moveday check --json`: one probe round of every host.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckOutput {
    pub schema: SchemaVersion,
    /// One per `[[host]]`, in inventory order.
    pub hosts: Vec<HostOutput>,
    /// The inventory file read.
    pub inventory: PathBuf,
    /// The move's name (`[move] name`).
    #[serde(rename = "move")]
    pub move_name: String,
    /// Why pings are not ICMP, when they are not.
    pub ping_hint: Option<String>,
    /// How pings were sent.
    pub ping_mode: Option<PingMode>,
    /// On a vantage point (`--inventory -`): the files it used instead of the plan's.
    pub stdin_plan: Option<StdinPlanOutput>,
    pub summary: HealthSummary,
    /// One per `[[vantage]]`: what each other vantage point saw.
    pub vantages: Vec<VantageOutput>,
    /// One per `[[zone]]`.
    pub zones: Vec<ZoneOutput>,
}

/// How many hosts are in each health.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HealthSummary {
    pub degraded: usize,
    pub down: usize,
    pub unknown: usize,
    pub up: usize,
}

/// One host. A probe that is switched off (or has not reported) is `null`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostOutput {
    /// The host's name at every resolver, in matrix column order.
    pub dns: Vec<ResolverCell>,
    /// Why the host is not up (`null` when it is).
    pub error: Option<String>,
    pub fqdn: String,
    pub health: Health,
    /// This machine's hosts file about the host's name.
    pub hosts_file: Option<HostsFileOutput>,
    pub http: Option<HttpOutput>,
    /// A mail host's MX, SPF, blocklists and HELO (`null` on other hosts).
    pub mail: Option<MailOutput>,
    pub name: String,
    pub new_ip: Option<IpAddr>,
    /// The ports and services asked of `old_ip` (`probe_old`).
    pub old: Option<OldOutput>,
    pub old_ip: Option<IpAddr>,
    pub ping: Option<PingOutput>,
    pub ports: Option<Vec<PortOutput>>,
    /// What the zone's primary serves for the name, asked authoritatively.
    pub primary: Option<PrimaryOutput>,
    /// Reverse DNS of the address probed.
    pub ptr: Option<PtrOutput>,
    /// Why the host has its health.
    pub reasons: Vec<String>,
    pub role: Option<String>,
    /// One per `[[host.service]]`, in inventory order.
    pub services: Vec<ServiceOutput>,
    pub ssh: Option<SshOutput>,
    /// The address the probes aim at.
    pub target: Option<IpAddr>,
    pub target_source: Option<TargetSource>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PingOutput {
    pub error: Option<String>,
    pub ip: IpAddr,
    /// Share of the recent pings lost, 0 to 1.
    pub loss: Option<f64>,
    /// `icmp`, `tcp` or `sim`.
    pub method: &'static str,
    pub ok: bool,
    pub rtt_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SshOutput {
    /// The `SSH-2.0-...` line, control characters escaped.
    pub banner: Option<String>,
    pub error: Option<String>,
    pub ip: IpAddr,
    pub ok: bool,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HttpOutput {
    pub body_bytes: Option<usize>,
    /// The failure, or `HTTP status N` for a status of 400 and above.
    pub error: Option<String>,
    pub ip: IpAddr,
    pub latency_ms: Option<f64>,
    /// A redirect's `Location` (reported, not followed).
    pub location: Option<String>,
    pub ok: bool,
    pub status: Option<u16>,
    pub url: String,
}

/// Where a resolver cell's answer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CellSource {
    Dns,
    /// The system resolver's answer comes from this machine's hosts file.
    HostsFile,
    /// A zone server is not asked about names outside its zones.
    NotAsked,
}

/// One resolver's answer about one host's name. `source` is `null` while no answer came.
/// `hosts_file_line` and `dns` are there only for `hosts_file`; `authoritative`, `lame` and
/// `observed` only for `dns`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResolverCell {
    pub addresses: Vec<IpAddr>,
    /// Addresses of the answer beyond `addresses` (at most 32 are kept); only when some were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<usize>,
    /// The AA flag of a zone server's answer (`null` for a resolver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authoritative: Option<Option<bool>>,
    /// What DNS says, behind the hosts file's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Option<CellDns>>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts_file_line: Option<usize>,
    /// A server of the name's zone answered without authority, or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lame: Option<bool>,
    /// When the answer was seen (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    pub resolver: String,
    pub server: String,
    pub source: Option<CellSource>,
    /// The TTL as served, in seconds.
    pub ttl: Option<u32>,
    pub verdict: Option<Verdict>,
}

/// What DNS says about a name the hosts file answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CellDns {
    pub addresses: Vec<IpAddr>,
    pub error: Option<String>,
    pub ttl: Option<u32>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostsFileOutput {
    pub addresses: Vec<IpAddr>,
    pub disagrees_with_dns: bool,
    pub error: Option<String>,
    pub flag: Option<HostsFlag>,
    /// 1-based lines of the file, one per address.
    pub lines: Vec<usize>,
    pub path: PathBuf,
    pub points_at_old: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PtrOutput {
    pub error: Option<String>,
    /// Some name resolves back to the address (FCrDNS).
    pub forward_confirmed: bool,
    pub ip: IpAddr,
    /// The first of `names`.
    pub name: Option<String>,
    pub names: Vec<String>,
}

/// `ttl_too_long` is there only when the primary answered.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PrimaryOutput {
    pub addresses: Vec<IpAddr>,
    /// Addresses of the answer beyond `addresses` (at most 32 are kept); only when some were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<usize>,
    pub authoritative: Option<bool>,
    pub error: Option<String>,
    pub ttl: Option<u32>,
    /// The TTL is above `[dns] long_ttl`: it was not lowered for the move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_too_long: Option<bool>,
}

/// A check's flap damping.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DampingOutput {
    /// `1 of 2 failed`, `recovering: 1 of 2 ok`, `recovered after retry`.
    pub note: Option<String>,
    pub state: CheckState,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PortOutput {
    pub damping: DampingOutput,
    /// Why the port is not open.
    pub detail: Option<String>,
    pub ip: IpAddr,
    pub latency_ms: f64,
    pub port: u16,
    pub state: PortState,
}

/// One service; everything but `name`, `kind` and `damping` is `null` before its first
/// result (and `error` says so).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceOutput {
    /// Age of the content, when freshness is configured.
    pub age_s: Option<u64>,
    pub cert: Option<CertOutput>,
    pub damping: DampingOutput,
    pub detail: Option<String>,
    pub error: Option<String>,
    /// A `command` service's exit status (`null`: killed, or cut at the output cap); only
    /// for `command` services that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<Option<i32>>,
    /// For `http`/`https`/`tls`/`smtp`/`tcp`: the target asked. For `command`: the round's
    /// target (the command runs on the host over ssh).
    pub ip: Option<IpAddr>,
    /// `http`, `https`, `tls`, `smtp`, `tcp` or `command`.
    pub kind: &'static str,
    pub latency_ms: Option<f64>,
    pub name: String,
    /// A `command` service's output, sanitized line by line (lines joined by `\n`), at most
    /// 4096 characters; only for `command` services that ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// More than 64 KiB of output was written: the rest was not read. Only with `output`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_truncated: Option<bool>,
    pub state: Option<ServiceState>,
}

/// The certificate of a `tls` or `https` service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CertOutput {
    pub chain_error: Option<String>,
    pub days_left: i64,
    pub issuer: String,
    pub name_matches: bool,
    /// RFC 3339, UTC.
    pub not_after: String,
    pub subject: String,
    pub trusted: bool,
}

/// The old address: does the old datacenter still answer?
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OldOutput {
    pub answering: bool,
    pub ip: IpAddr,
    pub ports: Vec<OldPort>,
    pub services: Vec<OldService>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OldPort {
    pub port: u16,
    pub state: PortState,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OldService {
    pub error: Option<String>,
    pub name: String,
    pub state: ServiceState,
}

/// A zone: its primary's and secondaries' serials, and whether they agree on the NS set.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ZoneOutput {
    /// The zone's last canary run in this process (`moveday canary`, `C` in the
    /// dashboard): `null` when none ran.
    pub canary: Option<CanaryOutput>,
    /// The zone's delegation at its parent's servers (`[[zone]] parent`, or found through
    /// the system resolver): `null` until they have been asked.
    pub delegation: Option<store::DelegationView>,
    pub name: String,
    /// Every server that returned an NS set returned the same one; `null` when none did.
    pub ns_agree: Option<bool>,
    pub primary: ZonePrimary,
    pub secondaries: Vec<SecondaryOutput>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ZonePrimary {
    pub address: SocketAddr,
    pub authoritative: Option<bool>,
    pub error: Option<String>,
    pub ns: Option<Vec<String>>,
    pub serial: Option<u32>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SecondaryOutput {
    /// The address asked (a secondary given by name is resolved first).
    pub address: Option<SocketAddr>,
    pub authoritative: Option<bool>,
    /// Since when its serial is behind the primary's (RFC 3339).
    pub behind_since: Option<String>,
    pub contact: Option<String>,
    pub error: Option<String>,
    /// How many serials it is behind.
    pub lag: Option<u32>,
    pub ns: Option<Vec<String>>,
    pub serial: Option<u32>,
    pub server: String,
}

/// `moveday canary ZONE --json`: one canary run, from the write to the deadline.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CanaryCommandOutput {
    pub schema: SchemaVersion,
    pub zone: String,
    #[serde(flatten)]
    pub run: CanaryOutput,
}

/// A canary run: the TXT written to the primary, and each secondary's pick-up.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CanaryOutput {
    /// How long the secondaries had, from the write, in seconds.
    pub deadline_s: f64,
    /// The run is over (every secondary followed, the deadline passed, or the write failed).
    pub done: bool,
    /// Why the canary was not written (the primary and its rcode), if it was not.
    pub error: Option<String>,
    /// Written, and every secondary picked it up.
    pub ok: bool,
    pub primary: SocketAddr,
    /// In inventory order.
    pub secondaries: Vec<CanarySecondaryOutput>,
    /// The serial the primary served after the write (`null`: not read back).
    pub serial: Option<u32>,
    /// When the run began (RFC 3339).
    pub started_at: String,
    /// The TXT text written to `_moveday-canary.ZONE`.
    pub text: String,
    /// When the primary took the update (RFC 3339); `null` until then, or if it refused.
    pub written_at: Option<String>,
}

/// One secondary in a canary run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CanarySecondaryOutput {
    /// The address asked (a secondary given by name is looked up).
    pub address: Option<SocketAddr>,
    pub contact: Option<String>,
    /// Its last error, when the last question failed.
    pub error: Option<String>,
    /// Seconds from the write until it served the new serial and the new text; `null`
    /// while it has not.
    pub picked_up_after_s: Option<f64>,
    /// The serial it served last.
    pub serial: Option<u32>,
    /// Seconds until it served the new serial.
    pub serial_after_s: Option<f64>,
    /// As the inventory names it.
    pub server: String,
    pub state: CanaryState,
    /// Seconds until it served the new text.
    pub text_after_s: Option<f64>,
    /// The sentence the screen shows.
    pub words: String,
}

/// A secondary's standing in a canary run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CanaryState {
    PickedUp,
    Waiting,
    Late,
    /// The primary refused the update: nothing to pick up.
    NotAsked,
}

impl CanaryOutput {
    pub fn new(view: &store::CanaryView<'_>) -> CanaryOutput {
        let run = view.run;
        let secs = crate::timefmt::seconds_ms;
        let secondaries = view
            .secondaries
            .iter()
            .zip(&run.secondaries)
            .map(|(v, s)| CanarySecondaryOutput {
                address: s.address,
                contact: v.contact.clone(),
                error: v.error.clone(),
                picked_up_after_s: s.picked_up_after.map(secs),
                serial: v.serial,
                serial_after_s: s.serial_after.map(secs),
                server: v.server.clone(),
                state: match v.verdict {
                    store::SecondaryVerdict::PickedUp(_) => CanaryState::PickedUp,
                    store::SecondaryVerdict::Waiting => CanaryState::Waiting,
                    store::SecondaryVerdict::Late => CanaryState::Late,
                    store::SecondaryVerdict::NotAsked => CanaryState::NotAsked,
                },
                text_after_s: s.text_after.map(secs),
                words: v.words.clone(),
            })
            .collect();
        CanaryOutput {
            deadline_s: secs(run.deadline),
            done: run.over(),
            error: run.write_error.as_ref().map(ToString::to_string),
            ok: run.all_picked_up(),
            primary: run.primary,
            secondaries,
            serial: run.serial(),
            started_at: rfc3339(run.started_at),
            text: run.text.clone(),
            written_at: run.written.as_ref().map(|(at, _)| rfc3339(*at)),
        }
    }
}

/// `moveday dns --json`: the resolver matrix once.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DnsOutput {
    pub schema: SchemaVersion,
    /// One row per host's name.
    pub names: Vec<NameRow>,
    /// The matrix's columns.
    pub resolvers: Vec<ResolverOutput>,
    pub zones: Vec<ZoneOutput>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NameRow {
    pub cells: Vec<ResolverCell>,
    pub fqdn: String,
    pub host: String,
    /// Until when old answers may still be served (RFC 3339, UTC).
    pub old_until: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResolverOutput {
    pub name: String,
    /// Until when this resolver may still serve old answers (RFC 3339, UTC).
    pub old_until: Option<String>,
    pub server: String,
}

impl CheckOutput {
    /// The output for `state`, after a probe round.
    pub fn new(state: &State) -> CheckOutput {
        let inv = &state.inventory;
        let [up, degraded, down, unknown] = state.health_counts();
        CheckOutput {
            schema: SchemaVersion,
            hosts: (0..inv.hosts.len()).map(|i| host(state, i)).collect(),
            inventory: inv.path.clone(),
            move_name: inv.name.clone(),
            ping_hint: state.ping_hint.clone(),
            ping_mode: state.ping_mode,
            stdin_plan: vantage::stdin_plan(state),
            summary: HealthSummary {
                degraded,
                down,
                unknown,
                up,
            },
            vantages: vantage::vantages(state),
            zones: zones(state),
        }
    }
}

impl DnsOutput {
    /// The matrix of `state`, after a DNS round.
    pub fn new(state: &State) -> DnsOutput {
        let inv = &state.inventory;
        let names = inv
            .hosts
            .iter()
            .enumerate()
            .map(|(i, config)| NameRow {
                cells: cells(state, i),
                fqdn: config.fqdn.clone(),
                host: config.name.clone(),
                old_until: store::old_until(state, i).map(rfc3339),
            })
            .collect();
        let resolvers = inv
            .resolvers
            .iter()
            .enumerate()
            .map(|(r, config)| ResolverOutput {
                name: config.name.clone(),
                old_until: store::resolver_old_until(state, r).map(rfc3339),
                server: config.kind.to_string(),
            })
            .collect();
        DnsOutput {
            schema: SchemaVersion,
            names,
            resolvers,
            zones: zones(state),
        }
    }
}

/// Host `i`: its health and every probe's latest result.
fn host(state: &State, i: usize) -> HostOutput {
    let config = &state.inventory.hosts[i];
    let h = &state.hosts[i];
    let (health, reasons) = store::health(config, h);
    let (target, target_source, target_error) = match &h.target {
        Some(Seen { value: Ok(t), .. }) => (Some(t.ip), Some(t.source), None),
        Some(Seen { value: Err(e), .. }) => (None, None, Some(err_text(e))),
        None => (None, None, None),
    };
    let error = (!reasons.is_empty() && health != Health::Up).then(|| reasons.join("; "));
    HostOutput {
        dns: cells(state, i),
        error: target_error.or(error),
        fqdn: config.fqdn.clone(),
        health,
        hosts_file: hosts_file(state, i),
        http: http(h),
        mail: mail::mail(config, h),
        name: config.name.clone(),
        new_ip: config.new_ip,
        old: old(config, h),
        old_ip: config.old_ip,
        ping: ping(h),
        ports: ports(config, h),
        primary: primary(state, h),
        ptr: ptr(h),
        reasons,
        role: config.role.clone(),
        services: services(config, h),
        ssh: ssh(h),
        target,
        target_source,
    }
}

fn ping(h: &HostState) -> Option<PingOutput> {
    let p = &h.ping.as_ref()?.value;
    Some(PingOutput {
        error: p.result.as_ref().err().map(err_text),
        ip: p.ip,
        loss: store::ping_stats(h).map(|(_, loss)| loss),
        method: p.mode.method(),
        ok: p.result.is_ok(),
        rtt_ms: p.result.as_ref().ok().map(|d| ms(*d)),
    })
}

fn ssh(h: &HostState) -> Option<SshOutput> {
    let s = &h.ssh.as_ref()?.value;
    Some(SshOutput {
        banner: s.result.as_ref().ok().map(|b| b.banner.clone()),
        error: s.result.as_ref().err().map(err_text),
        ip: s.ip,
        ok: s.result.is_ok(),
        port: s.port,
    })
}

fn http(h: &HostState) -> Option<HttpOutput> {
    let x = &h.http.as_ref()?.value;
    let r = x.result.as_ref().ok();
    let error = match &x.result {
        Err(e) => Some(err_text(e)),
        Ok(r) if !r.is_ok() => Some(format!("HTTP status {}", r.status)),
        Ok(_) => None,
    };
    Some(HttpOutput {
        body_bytes: r.map(|r| r.body_bytes),
        ok: error.is_none(),
        error,
        ip: x.ip,
        latency_ms: r.map(|r| ms(r.latency)),
        location: r.and_then(|r| r.location.clone()),
        status: r.map(|r| r.status),
        url: x.url.clone(),
    })
}

fn hosts_file(state: &State, i: usize) -> Option<HostsFileOutput> {
    let f = &state.hosts[i].hosts_file.as_ref()?.value;
    let flag = store::hosts_flag(state, i);
    let entries = f.as_ref().map(|e| e.as_slice()).unwrap_or_default();
    Some(HostsFileOutput {
        addresses: entries.iter().map(|e| e.ip).collect(),
        disagrees_with_dns: matches!(flag, Some(HostsFlag::Disagrees | HostsFlag::Old)),
        error: f.as_ref().err().cloned(),
        flag,
        lines: entries.iter().map(|e| e.line).collect(),
        path: state.inventory.hosts_file.clone(),
        points_at_old: flag == Some(HostsFlag::Old),
    })
}

fn ptr(h: &HostState) -> Option<PtrOutput> {
    let p = &h.ptr.as_ref()?.value;
    Some(match &p.result {
        Ok(a) => PtrOutput {
            error: None,
            forward_confirmed: a.forward_confirmed,
            ip: p.ip,
            name: a.names.first().cloned(),
            names: a.names.clone(),
        },
        Err(e) => PtrOutput {
            error: Some(e.to_string()),
            forward_confirmed: false,
            ip: p.ip,
            name: None,
            names: Vec::new(),
        },
    })
}

fn primary(state: &State, h: &HostState) -> Option<PrimaryOutput> {
    Some(match &h.primary.as_ref()?.value {
        Ok(a) => PrimaryOutput {
            addresses: a.addresses.clone(),
            more: Some(a.more).filter(|&m| m > 0),
            authoritative: Some(a.authoritative),
            error: None,
            ttl: Some(a.ttl),
            ttl_too_long: Some(u64::from(a.ttl) > state.inventory.long_ttl.as_secs()),
        },
        Err(e) => PrimaryOutput {
            addresses: Vec::new(),
            more: None,
            authoritative: None,
            error: Some(e.to_string()),
            ttl: None,
            ttl_too_long: None,
        },
    })
}

fn damping(config: &HostConfig, h: &HostState, check: store::Check) -> DampingOutput {
    let d = h.damp.get(&check).copied().unwrap_or_default();
    DampingOutput {
        note: d.note(config.damping),
        state: d.state.into(),
    }
}

fn ports(config: &HostConfig, h: &HostState) -> Option<Vec<PortOutput>> {
    let p = &h.ports.as_ref()?.value;
    let ports = p.ports.iter().map(|r| PortOutput {
        damping: damping(config, h, store::Check::Port(r.port)),
        detail: r.detail.clone(),
        ip: p.ip,
        latency_ms: ms(r.latency),
        port: r.port,
        state: r.state,
    });
    Some(ports.collect())
}

fn services(config: &HostConfig, h: &HostState) -> Vec<ServiceOutput> {
    let service = |(k, svc): (usize, &crate::config::service::ServiceConfig)| {
        let seen = h.services.get(k).and_then(Option::as_ref);
        let r = seen.map(|s| &s.value.result);
        let run = r.and_then(|r| r.command.as_deref());
        let cert = r.and_then(|r| r.cert.as_ref()).map(|c| CertOutput {
            chain_error: c.chain_error.clone(),
            days_left: c.days_left,
            issuer: c.issuer.clone(),
            name_matches: c.name_matches,
            not_after: rfc3339(c.not_after),
            subject: c.subject.clone(),
            trusted: c.trusted,
        });
        ServiceOutput {
            age_s: r.and_then(|r| r.age).map(|a| a.as_secs()),
            cert,
            damping: damping(config, h, store::Check::Service(k)),
            detail: r.map(|r| r.detail.clone()),
            error: r.map_or(Some("no result yet".to_string()), |r| r.error.clone()),
            exit_status: run.map(|c| c.exit_status),
            ip: seen.map(|s| s.value.ip),
            kind: svc.kind.word(),
            latency_ms: r.map(|r| ms(r.latency)),
            name: svc.name.clone(),
            output: run.map(|c| c.output.clone()),
            output_truncated: run.map(|c| c.truncated),
            state: r.map(|r| r.state),
        }
    };
    config.services.iter().enumerate().map(service).collect()
}

fn old(config: &HostConfig, h: &HostState) -> Option<OldOutput> {
    let o = &h.old.as_ref()?.value;
    let ports = o.ports.iter().map(|r| OldPort {
        port: r.port,
        state: r.state,
    });
    let services = o
        .services
        .iter()
        .zip(&config.services)
        // A command runs on the host, not at an address.
        .filter(|(_, c)| !matches!(c.kind, crate::config::service::ServiceKind::Command(_)))
        .map(|(r, c)| OldService {
            error: r.error.clone(),
            name: c.name.clone(),
            state: r.state,
        });
    Some(OldOutput {
        answering: o.answering(),
        ip: o.ip,
        ports: ports.collect(),
        services: services.collect(),
    })
}

/// Host `host`'s name at every resolver.
fn cells(state: &State, host: usize) -> Vec<ResolverCell> {
    (0..state.inventory.resolvers.len())
        .map(|r| cell(state, host, r))
        .collect()
}

/// One resolver's answer about one host's name: where it came from (DNS, or this machine's
/// hosts file for the system resolver), the verdict, and for a zone server its AA flag.
fn cell(state: &State, host: usize, resolver: usize) -> ResolverCell {
    let rc = &state.inventory.resolvers[resolver];
    let empty = ResolverCell {
        addresses: Vec::new(),
        more: None,
        authoritative: None,
        dns: None,
        error: None,
        hosts_file_line: None,
        lame: None,
        observed: None,
        resolver: rc.name.clone(),
        server: rc.kind.to_string(),
        source: None,
        ttl: None,
        verdict: None,
    };
    match store::cell(state, host, resolver) {
        store::Cell::Waiting => ResolverCell {
            error: Some("no answer yet".into()),
            ..empty
        },
        store::Cell::NotAsked => ResolverCell {
            source: Some(CellSource::NotAsked),
            ..empty
        },
        store::Cell::HostsFile { entry, verdict } => {
            let dns = state.hosts[host].dns.get(resolver).and_then(Option::as_ref);
            let dns = dns.map(|seen| CellDns {
                addresses: seen
                    .value
                    .as_ref()
                    .map(|a| a.addresses.clone())
                    .unwrap_or_default(),
                error: seen.value.as_ref().err().map(|e| e.to_string()),
                ttl: seen.value.as_ref().ok().map(|a| a.ttl),
                verdict: store::verdict(
                    &state.inventory,
                    &state.inventory.hosts[host],
                    &seen.value,
                ),
            });
            ResolverCell {
                addresses: vec![entry.ip],
                dns: Some(dns),
                hosts_file_line: Some(entry.line),
                source: Some(CellSource::HostsFile),
                verdict: Some(verdict),
                ..empty
            }
        }
        store::Cell::Answer {
            seen,
            verdict,
            lame,
        } => ResolverCell {
            addresses: seen
                .value
                .as_ref()
                .map(|a| a.addresses.clone())
                .unwrap_or_default(),
            more: seen.value.as_ref().ok().map(|a| a.more).filter(|&m| m > 0),
            authoritative: Some(seen.value.as_ref().ok().and_then(|a| a.authoritative)),
            error: seen.value.as_ref().err().map(|e| e.to_string()),
            lame: Some(lame),
            observed: Some(rfc3339(seen.at)),
            source: Some(CellSource::Dns),
            ttl: seen.value.as_ref().ok().map(|a| a.ttl),
            verdict: Some(verdict),
            ..empty
        },
    }
}

/// Per zone: the primary's serial, each secondary's serial, lag and AA flag, and whether
/// every server returns the same NS set.
fn zones(state: &State) -> Vec<ZoneOutput> {
    let inv = &state.inventory;
    inv.zones
        .iter()
        .zip(&state.zones)
        .enumerate()
        .map(|(z, (config, zone))| {
            let answer = |i: usize| {
                zone.servers
                    .get(i)
                    .and_then(|s| s.latest.as_ref())
                    .map(|seen| &seen.value)
            };
            let ok = |i: usize| answer(i).and_then(|o| o.result.as_ref().ok());
            let serial = |i: usize| ok(i).and_then(|a| a.serial);
            let primary_serial = serial(0);
            let secondaries = config.secondaries.iter().enumerate().map(|(k, sec)| {
                let i = k + 1;
                let outcome = answer(i);
                let lag = match (primary_serial, serial(i)) {
                    (Some(p), Some(s)) => match store::serial_cmp(s, p) {
                        Some(std::cmp::Ordering::Less) => Some(p.wrapping_sub(s)),
                        Some(_) => Some(0),
                        None => None,
                    },
                    _ => None,
                };
                let behind_since = zone.servers.get(i).and_then(|s| s.behind_since);
                SecondaryOutput {
                    address: outcome.and_then(|o| o.address),
                    authoritative: ok(i).map(|a| a.authoritative),
                    behind_since: behind_since
                        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
                    contact: sec.contact.clone(),
                    error: outcome
                        .and_then(|o| o.result.as_ref().err())
                        .map(|e| e.to_string()),
                    lag,
                    ns: ok(i).map(|a| a.ns.clone()),
                    serial: serial(i),
                    server: sec.server.to_string(),
                }
            });
            ZoneOutput {
                canary: store::canary(state, z).map(|v| CanaryOutput::new(&v)),
                delegation: store::delegation(state, z),
                name: config.name.clone(),
                ns_agree: store::ns_agree(state, z),
                primary: ZonePrimary {
                    address: config.primary,
                    authoritative: ok(0).map(|a| a.authoritative),
                    error: answer(0)
                        .and_then(|o| o.result.as_ref().err())
                        .map(|e| e.to_string()),
                    ns: ok(0).map(|a| a.ns.clone()),
                    serial: primary_serial,
                },
                secondaries: secondaries.collect(),
            }
        })
        .collect()
}
