//! The mail checks of a round, as the scheduler asks them: what every mail host shares (the
//! SPF evaluator, the resolver blocklists are asked through, the blocklist cache) and the two
//! probes a mail host's round runs, each ending within the probe timeout.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::OnceCell;

use super::{
    DnsblCache, DnsblCheck, MxOutcome, SpfCheck, SpfEvaluator, SpfOutcome, SpfResult, dnsbl, mx,
    spf,
};
use crate::config::{HostConfig, MailSettings};
use crate::probe::DnsError;
use crate::probe::dns::Resolver;
use crate::probe::dns_client::DnsClient;

/// A mail host's domains, as one round found them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailOutcome {
    /// In the host's `mail_domains` order.
    pub domains: Vec<MailDomain>,
}

/// One mail domain: its MX set and its SPF policy's verdict on the host's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDomain {
    pub mx: MxOutcome,
    pub spf: SpfOutcome,
}

/// What the blocklists say about a mail host's new address: the last answer of every zone
/// of `[mail] dnsbl`, in that order (each zone asked at most every `dnsbl_every`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsblOutcome {
    pub ip: IpAddr,
    pub checks: Vec<DnsblCheck>,
}

/// What the mail checks of every host share; one per [`crate::probe::scheduler::ProbeEnv`].
#[derive(Debug)]
pub struct MailDesk {
    zones: Vec<String>,
    /// `[mail] dnsbl_resolver`, or the resolver names are asked through.
    dnsbl_resolver: Option<Resolver>,
    /// Built at the first SPF check (and never, without mail hosts).
    spf: OnceCell<Result<SpfEvaluator, String>>,
    cache: Mutex<DnsblCache>,
}

impl MailDesk {
    pub fn new(settings: &MailSettings, client: &DnsClient) -> MailDesk {
        MailDesk {
            zones: settings.dnsbl.clone(),
            dnsbl_resolver: settings
                .dnsbl_resolver
                .map(|addr| Resolver::server(addr).sharing(client)),
            spf: OnceCell::new(),
            cache: Mutex::new(DnsblCache::new(settings.dnsbl_every)),
        }
    }

    /// Every mail domain of `host`: its MX set and its SPF verdict on `new_ip` and `old_ip`,
    /// asked of `resolver`'s servers, all domains at once, within `timeout`.
    pub async fn domains(
        &self,
        client: &DnsClient,
        resolver: &Resolver,
        host: &HostConfig,
        timeout: Duration,
    ) -> MailOutcome {
        let evaluator = self
            .spf
            .get_or_init(|| async { SpfEvaluator::for_resolver(resolver, timeout) })
            .await;
        let (new_ip, old_ip) = (host.new_ip, host.old_ip);
        let domains = join_all(host.mail_domains.iter().map(|domain| async move {
            let mx = mx(client, resolver, domain, new_ip, old_ip, timeout);
            let spf = async {
                match evaluator {
                    Ok(e) => {
                        spf(
                            e, client, resolver, domain, &host.fqdn, new_ip, old_ip, timeout,
                        )
                        .await
                    }
                    Err(why) => unasked_spf(domain, new_ip, old_ip, why),
                }
            };
            let (mx, spf) = futures::join!(mx, spf);
            MailDomain { mx, spf }
        }))
        .await;
        MailOutcome { domains }
    }

    /// The blocklists' answers about `ip`: the zones due are asked (through
    /// `dnsbl_resolver`, else `resolver`), the others answered from the cache. `None` when
    /// no zone is due (nothing new); no answers at all when no zone is configured (so the
    /// model knows there is nothing to wait for).
    pub async fn blocklists(
        &self,
        client: &DnsClient,
        resolver: &Resolver,
        ip: IpAddr,
        timeout: Duration,
    ) -> Option<DnsblOutcome> {
        if self.zones.is_empty() {
            return Some(DnsblOutcome {
                ip,
                checks: Vec::new(),
            });
        }
        let due: Vec<String> = {
            let cache = self.cache.lock().ok()?;
            let now = Instant::now();
            cache
                .due_zones(&self.zones, ip, now)
                .into_iter()
                .map(str::to_string)
                .collect()
        };
        if due.is_empty() {
            return None;
        }
        let resolver = self.dnsbl_resolver.as_ref().unwrap_or(resolver);
        let asked = Instant::now();
        let answers = join_all(
            due.iter()
                .map(|zone| dnsbl(client, resolver, zone, ip, timeout)),
        )
        .await;
        let mut cache = self.cache.lock().ok()?;
        for answer in answers {
            cache.insert(answer, asked);
        }
        let checks = self
            .zones
            .iter()
            .filter_map(|zone| cache.get(zone, ip).cloned())
            .collect();
        Some(DnsblOutcome { ip, checks })
    }
}

/// A domain whose SPF could not be evaluated at all (no server to ask): its record is not
/// read either, and both verdicts are `temperror` saying why.
fn unasked_spf(
    domain: &str,
    new_ip: Option<IpAddr>,
    old_ip: Option<IpAddr>,
    why: &str,
) -> SpfOutcome {
    let check = |ip: Option<IpAddr>| {
        ip.map(|ip| SpfCheck {
            ip,
            result: SpfResult::TempError,
            why: Some(why.to_string()),
        })
    };
    SpfOutcome {
        domain: domain.trim_end_matches('.').to_ascii_lowercase(),
        record: Err(DnsError::Other(why.to_string())),
        new_ip: check(new_ip),
        old_ip: check(old_ip),
    }
}
