//! The demo's mail story (issue 18): example.org's MX and SPF record, and a blocklist of
//! the demo's own that lists mail's new address for a while.
//!
//! mail's SPF record authorizes only its OLD address until the admin fixes it, with its
//! PTR, at [`MAIL_DNS_FIXED_AT`] (each DNS server learns the fix after its usual lag: the
//! "system" cache, which the dashboard asks, 15 s later). The blocklist `bl.demo.test`,
//! served by a DNS server of the demo's own on loopback (never a public list), lists the
//! new address with a reason until [`DELISTED_AT`]. From then, with both fixes in the
//! system cache, mail is clean: SPF passes for the new address, no list has it, and its PTR
//! resolves back — and the checklist's "release the mail backlog slowly" turns green.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use hickory_proto::rr::rdata::{MX, TXT};
use hickory_proto::rr::{Name, RData, RecordType};

use super::dns_server::DnsServer;
use super::{Pace, SCRIPT, TTL, ZONE, fqdn, host_index, new_ip, old_ip};
use crate::probe::mail::dnsbl_name;

/// When the admin fixes mail's DNS at the primary: its SPF record authorizes the new
/// address, and its PTR names mail.example.org instead of the provider's default.
pub(super) const MAIL_DNS_FIXED_AT: u64 = 60;
/// When the demo blocklist drops mail's new address.
pub(super) const DELISTED_AT: u64 = 75;
/// The demo's own blocklist zone: the inventory's only `dnsbl`.
pub(super) const DNSBL_ZONE: &str = "bl.demo.test";
/// How often the dashboard asks the demo blocklist, at real time (at least 1 s, the
/// inventory's minimum).
const DNSBL_EVERY: Duration = Duration::from_secs(5);
/// The listing's TTL: shorter than any `dnsbl_every` (the cache keeps a listing for the
/// longer of the two), so the delisting shows within one `dnsbl_every`.
const LISTING_TTL: u32 = 1;
/// The listing's answer code and its TXT reason.
const LISTING_CODE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const LISTING_REASON: &str =
    "demo blocklist: a burst of mail from an address with no mail history (delisted on request)";
/// Where the demo blocklist's server listens (port chosen at start).
const DNSBL_SERVER: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 59);

/// mail's address: the old one before the move, the new one after.
fn mail_ip(new: bool) -> IpAddr {
    let octet = SCRIPT[host_index("mail")].octet;
    if new { new_ip(octet) } else { old_ip(octet) }
}

/// example.org's SPF record: authorizing mail's old address, or (`fixed`) its new one.
pub(super) fn spf_record(fixed: bool) -> String {
    format!("v=spf1 ip4:{} -all", mail_ip(fixed))
}

/// example.org as the move starts, at one of the demo's DNS servers: its MX is mail, and
/// its SPF record authorizes only mail's old address.
pub(super) async fn serve_domain(server: &DnsServer) -> anyhow::Result<()> {
    let mx = Name::from_ascii(format!("{}.", fqdn("mail")))?;
    server
        .set_records(ZONE, RecordType::MX, TTL, vec![RData::MX(MX::new(10, mx))])
        .await?;
    set_spf(server, false).await
}

/// Publishes example.org's SPF record at `server` (the new address's once `fixed`).
pub(super) async fn set_spf(server: &DnsServer, fixed: bool) -> anyhow::Result<()> {
    let txt = RData::TXT(TXT::new(vec![spf_record(fixed)]));
    server
        .set_records(ZONE, RecordType::TXT, TTL, vec![txt])
        .await?;
    Ok(())
}

/// The demo's blocklist: its own DNS server for [`DNSBL_ZONE`], listing mail's new address
/// until it is delisted.
pub(super) struct Blocklist {
    server: DnsServer,
}

impl Blocklist {
    /// Starts the list's server, with mail's new address listed (an A record and the TXT
    /// reason at the reversed address).
    pub(super) async fn start() -> anyhow::Result<Blocklist> {
        let server = DnsServer::start(SocketAddr::new(IpAddr::V4(DNSBL_SERVER), 0), &[DNSBL_ZONE])
            .await
            .context("demo: cannot start the demo blocklist's server")?;
        let listed = listed_name();
        server
            .set_a(&listed, IpAddr::V4(LISTING_CODE), LISTING_TTL)
            .await?;
        let reason = RData::TXT(TXT::new(vec![LISTING_REASON.to_string()]));
        server
            .set_records(&listed, RecordType::TXT, LISTING_TTL, vec![reason])
            .await?;
        Ok(Blocklist { server })
    }

    /// Where the list answers: the inventory's `dnsbl_resolver`.
    pub(super) fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The list drops mail's new address: NXDOMAIN from now on.
    pub(super) async fn delist(&self) -> anyhow::Result<()> {
        self.server.remove(&listed_name()).await?;
        Ok(())
    }
}

/// The name the list is asked about mail's new address.
fn listed_name() -> String {
    dnsbl_name(mail_ip(true), DNSBL_ZONE)
}

/// The inventory's `[mail]`: the demo blocklist only (never a public list), asked at its
/// own server every few seconds of the script.
pub(super) fn mail_table(blocklist: SocketAddr, pace: Pace) -> String {
    let every = pace.of(DNSBL_EVERY).max(Duration::from_secs(1));
    format!(
        "[mail]\ndnsbl = [\"{DNSBL_ZONE}\"]    # the demo's own list: never a public one\n\
         dnsbl_every = \"{}\"\ndnsbl_resolver = \"{blocklist}\"\n",
        humantime::format_duration(every)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spf_record_moves_from_the_old_address_to_the_new() {
        assert_eq!(spf_record(false), "v=spf1 ip4:127.77.1.11 -all");
        assert_eq!(spf_record(true), "v=spf1 ip4:127.77.2.11 -all");
    }

    #[test]
    fn the_mail_table_names_only_the_demo_list_and_paces_it() {
        let addr: SocketAddr = "127.77.0.59:5300".parse().unwrap();
        let real = mail_table(addr, Pace::REAL_TIME);
        assert!(real.contains("dnsbl = [\"bl.demo.test\"]"), "{real}");
        assert!(real.contains("dnsbl_every = \"5s\""), "{real}");
        assert!(
            real.contains("dnsbl_resolver = \"127.77.0.59:5300\""),
            "{real}"
        );
        let fast = mail_table(addr, Pace::faster(100).unwrap());
        assert!(fast.contains("dnsbl_every = \"1s\""), "{fast}");
    }

    #[test]
    fn the_listing_is_asked_at_the_reversed_new_address() {
        assert_eq!(listed_name(), "11.2.77.127.bl.demo.test");
    }
}
