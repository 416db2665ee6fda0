//! Reverse DNS of an address (PTR) and whether its names resolve back to it
//! (forward-confirmed reverse DNS: what a receiving mail server checks first).

use std::net::IpAddr;
use std::time::Duration;

use super::dns::{self, Resolver};
use super::dns_client::DnsClient;
use super::zone::fqdn;
use super::{DnsError, PtrAnswer, PtrOutcome};

/// The PTR names of `ip` as `resolver` answers them, and whether one of them resolves back
/// to `ip` through the same resolver's servers (forward-confirmed reverse DNS). The whole
/// probe (the PTR, then all forward lookups at once) ends within `timeout`; forward lookups
/// cut short by it without confirming the address make the probe a timeout, not "not
/// confirmed".
pub async fn reverse(
    client: &DnsClient,
    resolver: &Resolver,
    ip: IpAddr,
    timeout: Duration,
) -> PtrOutcome {
    let deadline = tokio::time::Instant::now() + timeout;
    let result = tokio::time::timeout_at(deadline, confirm(client, resolver, ip, deadline))
        .await
        .unwrap_or(Err(DnsError::Timeout));
    PtrOutcome { ip, result }
}

async fn confirm(
    client: &DnsClient,
    resolver: &Resolver,
    ip: IpAddr,
    deadline: tokio::time::Instant,
) -> Result<PtrAnswer, DnsError> {
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
    let (names, ptr_ttl) = dns::ptr_names(client, resolver, ip, left()).await?;
    let forward = futures::future::join_all(names.iter().map(|name| async move {
        match fqdn(name) {
            Ok(name) => dns::addresses_direct(client, resolver, &name, left()).await,
            Err(e) => Err(e),
        }
    }))
    .await;
    let forward_confirmed = forward
        .iter()
        .flatten()
        .any(|(addresses, _)| addresses.contains(&ip));
    if !forward_confirmed && forward.contains(&Err(DnsError::Timeout)) {
        return Err(DnsError::Timeout);
    }
    let ttl = forward
        .iter()
        .flatten()
        .map(|(_, ttl)| *ttl)
        .fold(ptr_ttl, u32::min);
    Ok(PtrAnswer {
        names,
        forward_confirmed,
        ttl,
    })
}
