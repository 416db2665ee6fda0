//! SPF: a mail domain's policy evaluated for the host's new and old addresses by the
//! `mail-auth` crate (RFC 7208's `check_host()`: includes, redirects, macros, the
//! ten-lookup limit), never by a parser of ours.
//!
//! The evaluator asks the servers moveday asks (the system resolver's, or the one given),
//! through a hickory resolver with its cache off: a record fixed a second ago must count
//! on the next round. The policy's text is read separately, through moveday's own client,
//! only to show it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::{RData, RecordType};
use hickory_resolver::config::{
    NameServerConfig, ResolveHosts, ResolverConfig as HickoryConfig, ResolverOpts,
};
use mail_auth::MessageAuthenticator;
use mail_auth::spf::verify::SpfParameters;

use crate::probe::DnsError;
use crate::probe::dns::{self, Resolver};
use crate::probe::dns_client::DnsClient;
use crate::probe::zone::{fqdn, owned_answers};
use crate::sanitize::sanitize;

/// Characters of an SPF record (or its explanation) kept.
pub const MAX_SPF_RECORD_CHARS: usize = 512;

/// The name given as this side's host in SPF macros (`%{r}`): moveday is no receiver.
const CHECKER: &str = "moveday.invalid";

/// The result of an SPF evaluation (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    /// No SPF record.
    None,
    /// A record that cannot be read, or past a limit.
    PermError,
    /// A DNS failure (or the probe's timeout) stopped the evaluation.
    TempError,
}

impl SpfResult {
    /// The RFC's word: `pass`, `fail`, `softfail`, `neutral`, `none`, `permerror`,
    /// `temperror`.
    pub fn word(self) -> &'static str {
        match self {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::None => "none",
            SpfResult::PermError => "permerror",
            SpfResult::TempError => "temperror",
        }
    }
}

impl From<mail_auth::SpfResult> for SpfResult {
    fn from(r: mail_auth::SpfResult) -> SpfResult {
        match r {
            mail_auth::SpfResult::Pass => SpfResult::Pass,
            mail_auth::SpfResult::Fail => SpfResult::Fail,
            mail_auth::SpfResult::SoftFail => SpfResult::SoftFail,
            mail_auth::SpfResult::Neutral => SpfResult::Neutral,
            mail_auth::SpfResult::None => SpfResult::None,
            mail_auth::SpfResult::PermError => SpfResult::PermError,
            mail_auth::SpfResult::TempError => SpfResult::TempError,
        }
    }
}

/// One address checked against a domain's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfCheck {
    pub ip: IpAddr,
    pub result: SpfResult,
    /// The record's explanation (`exp=`) on a fail, or why the evaluation stopped (the
    /// timeout); sanitized, capped.
    pub why: Option<String>,
}

/// A mail domain's SPF policy, and what it says about the host's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// The domain, lower-case, without the trailing dot.
    pub domain: String,
    /// The domain's `v=spf1` record as published (the first one, when it wrongly has
    /// several): sanitized, at most [`MAX_SPF_RECORD_CHARS`]; `Ok(None)` without one.
    pub record: Result<Option<String>, DnsError>,
    /// The host's `new_ip`, when it has one.
    pub new_ip: Option<SpfCheck>,
    /// The host's `old_ip`, when it has one: "SPF authorizes only the old address".
    pub old_ip: Option<SpfCheck>,
}

/// The `mail-auth` evaluator, pointed at given servers with caching off; cheap to clone.
#[derive(Clone)]
pub struct SpfEvaluator {
    auth: MessageAuthenticator,
}

impl std::fmt::Debug for SpfEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpfEvaluator")
    }
}

impl SpfEvaluator {
    /// An evaluator asking `resolver`'s servers (each on its port, UDP then TCP).
    pub fn for_resolver(resolver: &Resolver, timeout: Duration) -> Result<SpfEvaluator, String> {
        let servers = resolver.server_list().map_err(|e| e.to_string())?;
        SpfEvaluator::new(servers, timeout)
    }

    /// An evaluator asking `servers`, each question given up after `timeout`, nothing
    /// cached (cache size 0 and every TTL capped at 0), no hosts file.
    pub fn new(servers: &[SocketAddr], timeout: Duration) -> Result<SpfEvaluator, String> {
        if servers.is_empty() {
            return Err("no name server for SPF".into());
        }
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut ns = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut ns.connections {
                    connection.port = server.port();
                }
                ns
            })
            .collect();
        let config = HickoryConfig::from_parts(None, Vec::new(), name_servers);
        let mut options = ResolverOpts::default();
        options.timeout = timeout;
        options.attempts = 1;
        options.cache_size = 0;
        options.positive_max_ttl = Some(Duration::ZERO);
        options.negative_max_ttl = Some(Duration::ZERO);
        options.use_hosts_file = ResolveHosts::Never;
        options.ndots = 0;
        MessageAuthenticator::new(config, options)
            .map(|auth| SpfEvaluator { auth })
            .map_err(|e| sanitize(&format!("SPF resolver: {e}"), 160))
    }

    /// `check_host()` for MAIL FROM `postmaster@domain` from `ip`, within `timeout` (a
    /// timeout is `temperror`, saying so).
    pub async fn check(&self, domain: &str, helo: &str, ip: IpAddr, timeout: Duration) -> SpfCheck {
        let sender = format!("postmaster@{domain}");
        let params = SpfParameters::new(ip, domain, helo, CHECKER, &sender);
        match tokio::time::timeout(timeout, self.auth.check_host(params.into())).await {
            Ok(output) => SpfCheck {
                ip,
                result: output.result().into(),
                why: output
                    .explanation()
                    .map(|e| sanitize(e, MAX_SPF_RECORD_CHARS)),
            },
            Err(_) => SpfCheck {
                ip,
                result: SpfResult::TempError,
                why: Some("timeout".into()),
            },
        }
    }
}

/// `domain`'s SPF record (through `resolver`, for showing) and its verdict on `new_ip` and
/// `old_ip` (through `evaluator`), all at once and within `timeout`. `helo` is the host's
/// name, for the policy's `%{h}` macro.
#[allow(
    clippy::too_many_arguments,
    reason = "the probe's whole input, all distinct"
)]
pub async fn spf(
    evaluator: &SpfEvaluator,
    client: &DnsClient,
    resolver: &Resolver,
    domain: &str,
    helo: &str,
    new_ip: Option<IpAddr>,
    old_ip: Option<IpAddr>,
    timeout: Duration,
) -> SpfOutcome {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let check = |ip: Option<IpAddr>| {
        let domain = &domain;
        async move {
            match ip {
                Some(ip) => Some(evaluator.check(domain, helo, ip, timeout).await),
                None => None,
            }
        }
    };
    let record = async {
        tokio::time::timeout(timeout, spf_record(client, resolver, &domain, timeout))
            .await
            .unwrap_or(Err(DnsError::Timeout))
    };
    let (record, new_ip, old_ip) = futures::join!(record, check(new_ip), check(old_ip));
    SpfOutcome {
        domain,
        record,
        new_ip,
        old_ip,
    }
}

/// The first `v=spf1` TXT record of `domain` (owned by it), its strings joined, sanitized
/// and capped. Selecting the record by its version tag (RFC 7208 §4.5) is all that is read
/// of it here.
async fn spf_record(
    client: &DnsClient,
    resolver: &Resolver,
    domain: &str,
    timeout: Duration,
) -> Result<Option<String>, DnsError> {
    let name = fqdn(domain)?;
    let message = match dns::ask_servers(client, resolver, &name, RecordType::TXT, timeout).await {
        Ok(message) => message,
        Err(DnsError::NoRecords | DnsError::NxDomain) => return Ok(None),
        Err(e) => return Err(e),
    };
    let record = owned_answers(&message.answers, &name, RecordType::TXT)
        .into_iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(super::super::zone::txt_text(txt)),
            _ => None,
        })
        .find(|text| is_spf(text));
    Ok(record.map(|text| sanitize(&text, MAX_SPF_RECORD_CHARS)))
}

/// Whether a TXT record is an SPF policy: `v=spf1`, alone or followed by a space.
fn is_spf(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_tag_picks_the_record() {
        assert!(is_spf("v=spf1 ip4:192.0.2.1 -all"));
        assert!(is_spf("V=SPF1"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("google-site-verification=abc"));
    }

    #[test]
    fn results_have_the_rfc_words() {
        let all = [
            (mail_auth::SpfResult::Pass, "pass"),
            (mail_auth::SpfResult::Fail, "fail"),
            (mail_auth::SpfResult::SoftFail, "softfail"),
            (mail_auth::SpfResult::Neutral, "neutral"),
            (mail_auth::SpfResult::None, "none"),
            (mail_auth::SpfResult::PermError, "permerror"),
            (mail_auth::SpfResult::TempError, "temperror"),
        ];
        for (theirs, word) in all {
            assert_eq!(SpfResult::from(theirs).word(), word);
        }
    }

    #[tokio::test]
    async fn an_evaluator_needs_a_server() {
        assert!(SpfEvaluator::new(&[], Duration::from_secs(1)).is_err());
        let r = Resolver::unavailable("no nameserver in resolv.conf");
        let e = SpfEvaluator::for_resolver(&r, Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("no nameserver"), "{e}");
    }
}
