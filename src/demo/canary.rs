//! The demo's canary (issue 17): ns-master takes signed updates through an
//! [`UpdateDesk`](super::update::UpdateDesk) with a key the demo writes beside its hosts
//! file; ns2 picks up each canary of the reverse zone after its usual lag, and ns3 — the
//! new provider's partner secondary, still transferring from the old primary — never does.
//! `C` in the zones view (or `moveday canary` on the demo's inventory) shows one laggard.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hickory_proto::rr::rdata::NS;
use hickory_proto::rr::{Name, RData, RecordType};

use super::dns_server::DnsServer;
use super::update::UpdateDesk;
use super::{REVERSE_ZONE, SCRIPT, TTL, fqdn, new_ip, ptr_name};
use crate::config::{TsigAlgorithm, TsigKey};
use crate::probe::canary::canary_name;

/// The key's name, as BIND's `tsig-keygen moveday-canary` would write it.
const KEY_NAME: &str = "moveday-canary";

/// What the canary needs while the demo runs; dropping it stops the copying.
pub(super) struct CanaryStage {
    /// Where ns-master takes updates (and answers everything else as ns-master).
    pub desk: UpdateDesk,
    /// The partner's secondary of the reverse zone, stuck before the move.
    pub ns3: DnsServer,
    /// The key file the demo's inventory names.
    pub key: PathBuf,
    copier: tokio::task::JoinHandle<()>,
}

impl Drop for CanaryStage {
    fn drop(&mut self) {
        self.copier.abort();
    }
}

/// Starts the desk in front of `primary`, ns3, and the copying of each canary from
/// `primary` to `secondary` `lag` after it was written; writes the key into `dir`.
pub(super) async fn start(
    primary: Arc<DnsServer>,
    secondary: Arc<DnsServer>,
    dir: &Path,
    lag: Duration,
) -> anyhow::Result<CanaryStage> {
    let key = TsigKey {
        name: KEY_NAME.into(),
        algorithm: TsigAlgorithm::HmacSha256,
        secret: random_secret().context("demo: cannot make the canary's key")?,
    };
    let path = dir.join("moveday-canary.key");
    write_key(&path, &key).with_context(|| format!("demo: cannot write {}", path.display()))?;
    let desk = UpdateDesk::start(primary.clone(), &key)
        .await
        .context("demo: cannot start ns-master's update desk")?;
    let ns3 = DnsServer::start(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 58)), 0),
        &[REVERSE_ZONE],
    )
    .await
    .context("demo: cannot start ns3")?;
    // The reverse zone as ns3 last transferred it from the old primary: ns-master its
    // name server, the PTRs' first names.
    let ns = Name::from_ascii(format!("{}.", fqdn("ns-master")))?;
    ns3.set_records(REVERSE_ZONE, RecordType::NS, TTL, vec![RData::NS(NS(ns))])
        .await?;
    for s in &SCRIPT {
        ns3.set_ptr(new_ip(s.octet), &ptr_name(s.name, false), TTL)
            .await?;
    }
    let copier = tokio::spawn(copy_canaries(primary, secondary, lag));
    Ok(CanaryStage {
        desk,
        ns3,
        key: path,
        copier,
    })
}

/// ns2's "zone transfer" of the canary: each new canary text at the primary reaches it
/// `lag` later (one change, so its serial follows the primary's).
async fn copy_canaries(primary: Arc<DnsServer>, secondary: Arc<DnsServer>, lag: Duration) {
    let name = canary_name(REVERSE_ZONE);
    let mut last = None;
    // The copies in flight end with this task.
    let mut copies = tokio::task::JoinSet::new();
    loop {
        while copies.try_join_next().is_some() {}
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = primary.records(&name, RecordType::TXT).await;
        if now.is_none() || now == last {
            continue;
        }
        last.clone_from(&now);
        let (secondary, name) = (secondary.clone(), name.clone());
        copies.spawn(async move {
            tokio::time::sleep(lag).await;
            if let Some((ttl, rdata)) = now {
                let _ = secondary
                    .set_records(&name, RecordType::TXT, ttl, rdata)
                    .await;
            }
        });
    }
}

/// 32 bytes from the kernel's generator.
fn random_secret() -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut secret = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
    Ok(secret)
}

/// The key as `tsig-keygen` writes it, readable by its owner only.
fn write_key(path: &Path, key: &TsigKey) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let text = format!(
        "key \"{}\" {{\n\talgorithm {};\n\tsecret \"{}\";\n}};\n",
        key.name,
        key.algorithm.name(),
        data_encoding::BASE64.encode(&key.secret)
    );
    // A fresh file, never through a link someone planted in the (shared) temp directory,
    // and never someone else's file: a leftover is removed (a link is removed, not
    // followed), then the file is created anew.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}
