//! Reverse DNS of an address (PTR) and whether its names resolve back to it
//! (forward-confirmed reverse DNS: what a receiving mail server checks first).

use std::net::IpAddr;
use std::time::Duration;

use super::dns::{self, Resolver};
use super::dns_client::DnsClient;
use super::zone::fqdn;
use super::{PtrAnswer, PtrOutcome};

/// The PTR names of `ip` as `resolver` answers them, and whether one of them resolves back
/// to `ip` through the same resolver's servers (forward-confirmed reverse DNS). Bounded by
/// `timeout` per step (the PTR, then all forward lookups at once).
pub async fn reverse(
    client: &DnsClient,
    resolver: &Resolver,
    ip: IpAddr,
    timeout: Duration,
) -> PtrOutcome {
    let result = async {
        let (names, ptr_ttl) = dns::ptr_names(client, resolver, ip, timeout).await?;
        let forward = futures::future::join_all(names.iter().map(|name| async move {
            match fqdn(name) {
                Ok(name) => dns::addresses_direct(client, resolver, &name, timeout).await,
                Err(e) => Err(e),
            }
        }))
        .await;
        let forward_confirmed = forward
            .iter()
            .flatten()
            .any(|(addresses, _)| addresses.contains(&ip));
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
    .await;
    PtrOutcome { ip, result }
}
