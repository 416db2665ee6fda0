//! Issue 18, the probe layer: MX, SPF (through `mail-auth`), DNS blocklists and their
//! refusals, asked of an in-process hickory server on loopback (never a real resolver or
//! blocklist); answers owned by other names are not believed; a silent server ends every
//! probe within its timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::rr::rdata::{A, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use moveday::demo::dns_server::{BlackHole, DnsServer};
use moveday::probe::DnsError;
use moveday::probe::dns::Resolver;
use moveday::probe::dns_client::DnsClient;
use moveday::probe::mail::{DnsblAnswer, SpfEvaluator, SpfResult, dnsbl, dnsbl_name, mx, spf};

const OLD: &str = "198.51.100.25";
const NEW: &str = "203.0.113.25";
const TIMEOUT: Duration = Duration::from_secs(2);

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn any_port() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn txt(text: &str) -> Vec<RData> {
    vec![RData::TXT(TXT::new(vec![text.to_string()]))]
}

async fn server() -> DnsServer {
    DnsServer::start(any_port(), &["example.org", "partner.test", "bl.test"])
        .await
        .unwrap()
}

#[tokio::test]
async fn mx_names_their_addresses_and_whether_one_is_new_or_old() {
    let dns = server().await;
    dns.set_records(
        "example.org",
        RecordType::MX,
        300,
        vec![
            RData::MX(MX::new(20, name("mx2.example.org."))),
            RData::MX(MX::new(10, name("mx1.example.org."))),
        ],
    )
    .await
    .unwrap();
    dns.set_a("mx1.example.org", ip(NEW), 300).await.unwrap();
    dns.set_a("mx2.example.org", ip(OLD), 300).await.unwrap();
    let client = DnsClient::new();
    let resolver = Resolver::server(dns.addr());

    let out = mx(
        &client,
        &resolver,
        "Example.org.",
        Some(ip(NEW)),
        Some(ip(OLD)),
        TIMEOUT,
    )
    .await;
    assert_eq!(out.domain, "example.org");
    let answer = out.result.unwrap();
    let names: Vec<(u16, &str)> = answer
        .hosts
        .iter()
        .map(|h| (h.preference, h.name.as_str()))
        .collect();
    assert_eq!(names, [(10, "mx1.example.org"), (20, "mx2.example.org")]);
    assert_eq!(answer.hosts[0].addresses, Ok(vec![ip(NEW)]));
    assert!(answer.points_here && answer.old, "{answer:?}");
    assert_eq!(answer.ttl, 300);

    // The old MX goes: nothing old is left.
    dns.set_a("mx2.example.org", ip(NEW), 300).await.unwrap();
    let answer = mx(
        &client,
        &resolver,
        "example.org",
        Some(ip(NEW)),
        Some(ip(OLD)),
        TIMEOUT,
    )
    .await
    .result
    .unwrap();
    assert!(answer.points_here && !answer.old, "{answer:?}");

    // A domain without MX: an empty set, not an error; an unknown one: NXDOMAIN.
    let none = mx(
        &client,
        &resolver,
        "partner.test",
        Some(ip(NEW)),
        None,
        TIMEOUT,
    )
    .await;
    let none = none.result.unwrap();
    assert!(none.hosts.is_empty() && !none.points_here);
    let nx = mx(
        &client,
        &resolver,
        "nowhere.example.org",
        None,
        None,
        TIMEOUT,
    )
    .await;
    assert_eq!(nx.result, Err(DnsError::NxDomain));
}

#[tokio::test]
async fn mx_records_owned_by_another_name_are_not_believed() {
    let server = crate::common::scripted_dns::start(RecordType::MX, Duration::ZERO, |_, reply| {
        reply.answers = vec![Record::from_rdata(
            name("victim.test."),
            300,
            RData::MX(MX::new(10, name("evil.test."))),
        )];
    })
    .await;
    let out = mx(
        &DnsClient::new(),
        &Resolver::server(server),
        "example.org",
        Some(ip(NEW)),
        None,
        TIMEOUT,
    )
    .await;
    let answer = out.result.unwrap();
    assert!(answer.hosts.is_empty(), "{answer:?}");
    assert!(!answer.points_here);
}

#[tokio::test]
async fn spf_authorizing_only_the_old_address_then_fixed() {
    let dns = server().await;
    dns.set_records(
        "example.org",
        RecordType::TXT,
        300,
        txt(&format!("v=spf1 ip4:{OLD} -all")),
    )
    .await
    .unwrap();
    let client = DnsClient::new();
    let resolver = Resolver::server(dns.addr());
    let evaluator = SpfEvaluator::for_resolver(&resolver, TIMEOUT).unwrap();
    let check = || {
        spf(
            &evaluator,
            &client,
            &resolver,
            "example.org",
            "mail.example.org",
            Some(ip(NEW)),
            Some(ip(OLD)),
            TIMEOUT,
        )
    };

    let out = check().await;
    assert_eq!(out.domain, "example.org");
    assert_eq!(out.record, Ok(Some(format!("v=spf1 ip4:{OLD} -all"))));
    assert_eq!(out.new_ip.as_ref().unwrap().result, SpfResult::Fail);
    assert_eq!(out.new_ip.as_ref().unwrap().ip, ip(NEW));
    assert_eq!(out.old_ip.as_ref().unwrap().result, SpfResult::Pass);

    // A soft policy: softfail.
    dns.set_records(
        "example.org",
        RecordType::TXT,
        300,
        txt(&format!("v=spf1 ip4:{OLD} ~all")),
    )
    .await
    .unwrap();
    assert_eq!(check().await.new_ip.unwrap().result, SpfResult::SoftFail);

    // Fixed: the next evaluation sees it at once (nothing cached).
    dns.set_records(
        "example.org",
        RecordType::TXT,
        300,
        txt(&format!("v=spf1 ip4:{NEW} -all")),
    )
    .await
    .unwrap();
    let out = check().await;
    assert_eq!(out.new_ip.unwrap().result, SpfResult::Pass);
    assert_eq!(out.old_ip.unwrap().result, SpfResult::Fail);

    // No record at all: none, and no record text.
    dns.set_records("example.org", RecordType::TXT, 300, vec![])
        .await
        .unwrap();
    let out = check().await;
    assert_eq!(out.record, Ok(None));
    assert_eq!(out.new_ip.unwrap().result, SpfResult::None);
}

#[tokio::test]
async fn spf_follows_include_chains_and_a_broken_one_is_permerror() {
    let dns = server().await;
    dns.set_records(
        "example.org",
        RecordType::TXT,
        300,
        txt("v=spf1 include:_spf.partner.test -all"),
    )
    .await
    .unwrap();
    dns.set_records(
        "_spf.partner.test",
        RecordType::TXT,
        300,
        txt(&format!("v=spf1 a:relay.partner.test ip4:{NEW} -all")),
    )
    .await
    .unwrap();
    dns.set_a("relay.partner.test", ip("192.0.2.77"), 300)
        .await
        .unwrap();
    let client = DnsClient::new();
    let resolver = Resolver::server(dns.addr());
    let evaluator = SpfEvaluator::for_resolver(&resolver, TIMEOUT).unwrap();
    let run = |new: &'static str| {
        let (evaluator, client, resolver) = (&evaluator, &client, &resolver);
        async move {
            spf(
                evaluator,
                client,
                resolver,
                "example.org",
                "mail.example.org",
                Some(ip(new)),
                Some(ip(OLD)),
                TIMEOUT,
            )
            .await
        }
    };
    let out = run(NEW).await;
    assert_eq!(out.new_ip.unwrap().result, SpfResult::Pass);
    assert_eq!(out.old_ip.unwrap().result, SpfResult::Fail);
    // Through the include's `a:` mechanism.
    assert_eq!(
        run("192.0.2.77").await.new_ip.unwrap().result,
        SpfResult::Pass
    );

    // An include whose target has no record is a permanent error (RFC 7208 §5.2).
    dns.set_records("_spf.partner.test", RecordType::TXT, 300, vec![])
        .await
        .unwrap();
    assert_eq!(run(NEW).await.new_ip.unwrap().result, SpfResult::PermError);
}

#[tokio::test]
async fn a_blocklist_lists_the_new_address_with_its_reason_then_delists_it() {
    let dns = server().await;
    let listed = dnsbl_name(ip(NEW), "bl.test");
    assert_eq!(listed, "25.113.0.203.bl.test");
    dns.set_records(
        &listed,
        RecordType::A,
        900,
        vec![RData::A(A::new(127, 0, 0, 2))],
    )
    .await
    .unwrap();
    dns.set_records(
        &listed,
        RecordType::TXT,
        900,
        txt("listed: \x1b[31mspam trap hit"),
    )
    .await
    .unwrap();
    let client = DnsClient::new();
    let resolver = Resolver::server(dns.addr());

    let check = dnsbl(&client, &resolver, "BL.test.", ip(NEW), TIMEOUT).await;
    assert_eq!(check.zone, "bl.test");
    assert!(check.listed());
    assert_eq!(
        check.result,
        Ok(DnsblAnswer::Listed {
            codes: vec![Ipv4Addr::new(127, 0, 0, 2)],
            reason: Some("listed: \\x1b[31mspam trap hit".into()),
            ttl: 900,
        })
    );
    // Another address is not listed (NXDOMAIN).
    let other = dnsbl(&client, &resolver, "bl.test", ip(OLD), TIMEOUT).await;
    assert_eq!(other.result, Ok(DnsblAnswer::NotListed));

    // Delisted.
    dns.remove(&listed).await.unwrap();
    let check = dnsbl(&client, &resolver, "bl.test", ip(NEW), TIMEOUT).await;
    assert_eq!(check.result, Ok(DnsblAnswer::NotListed));
    assert!(!check.listed());
}

#[tokio::test]
async fn a_refusal_is_not_a_listing_and_other_owners_are_not_believed() {
    let dns = server().await;
    let asked = dnsbl_name(ip(NEW), "bl.test");
    dns.set_records(
        &asked,
        RecordType::A,
        60,
        vec![RData::A(A::new(127, 255, 255, 254))],
    )
    .await
    .unwrap();
    let client = DnsClient::new();
    let check = dnsbl(
        &client,
        &Resolver::server(dns.addr()),
        "bl.test",
        ip(NEW),
        TIMEOUT,
    )
    .await;
    assert_eq!(
        check.result,
        Ok(DnsblAnswer::Refused {
            code: Ipv4Addr::new(127, 255, 255, 254)
        })
    );
    assert!(!check.listed());

    // A listing planted under another name is no answer about ours.
    let server = crate::common::scripted_dns::start(RecordType::A, Duration::ZERO, |_, reply| {
        reply.answers = vec![Record::from_rdata(
            name("2.0.0.127.victim.test."),
            60,
            RData::A(A::new(127, 0, 0, 2)),
        )];
    })
    .await;
    let check = dnsbl(
        &client,
        &Resolver::server(server),
        "bl.test",
        ip(NEW),
        TIMEOUT,
    )
    .await;
    assert_eq!(check.result, Ok(DnsblAnswer::NotListed));
}

#[tokio::test]
async fn a_silent_server_ends_every_mail_probe_within_its_timeout() {
    let hole = BlackHole::bind(any_port()).await.unwrap();
    let client = DnsClient::new();
    let resolver = Resolver::server(hole.addr());
    let timeout = Duration::from_millis(300);
    let evaluator = SpfEvaluator::for_resolver(&resolver, timeout).unwrap();
    let bound = timeout + Duration::from_millis(250);

    let started = Instant::now();
    let out = mx(
        &client,
        &resolver,
        "example.org",
        Some(ip(NEW)),
        None,
        timeout,
    )
    .await;
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    assert_eq!(out.result, Err(DnsError::Timeout));

    let started = Instant::now();
    let out = spf(
        &evaluator,
        &client,
        &resolver,
        "example.org",
        "mail.example.org",
        Some(ip(NEW)),
        Some(ip(OLD)),
        timeout,
    )
    .await;
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    assert_eq!(out.record, Err(DnsError::Timeout));
    assert_eq!(out.new_ip.unwrap().result, SpfResult::TempError);
    assert_eq!(out.old_ip.unwrap().result, SpfResult::TempError);

    let started = Instant::now();
    let out = dnsbl(&client, &resolver, "bl.test", ip(NEW), timeout).await;
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    assert_eq!(out.result, Err(DnsError::Timeout));
}

// ------------------------------------------------------------- a mail host's rounds

mod rounds {
    //! The scheduler's mail checks on a mail host, end to end on loopback: its rounds ask
    //! the domain's MX and SPF and the blocklist, the model judges them (health, reasons,
    //! "mail is clean"), and a blocklist is asked again only after `dnsbl_every`.

    use std::path::Path;
    use std::sync::Arc;

    use moveday::config::Inventory;
    use moveday::probe::dns::SystemDns;
    use moveday::probe::ping::Pinger;
    use moveday::probe::scheduler::{self, ProbeEnv, Scope};
    use moveday::probe::{Outcome, ProbeReport, PtrAnswer};
    use moveday::store::{self, Health, State};
    use tokio::sync::mpsc;

    use super::*;

    fn inventory(dns: SocketAddr) -> Arc<Inventory> {
        let text = format!(
            r#"
[[resolver]]
name = "lab"
address = "{dns}"

[mail]
dnsbl = ["bl.test"]
dnsbl_every = "2s"
dnsbl_resolver = "{dns}"

[[host]]
name = "mail"
fqdn = "mail.example.org"
old_ip = "{OLD}"
new_ip = "{NEW}"
role = "mail"
ping = false
ssh = false
ports = [1]
"#
        );
        Arc::new(Inventory::parse(Path::new("mail.toml"), &text).unwrap())
    }

    /// One round of every host; the reports it sent.
    async fn round(inv: &Arc<Inventory>, env: &Arc<ProbeEnv>) -> Vec<ProbeReport> {
        let (tx, mut rx) = mpsc::channel(256);
        let task = tokio::spawn(scheduler::one_round(
            inv.clone(),
            env.clone(),
            tx,
            Scope::Everything,
        ));
        let mut reports = Vec::new();
        while let Some(r) = rx.recv().await {
            reports.push(r);
        }
        task.await.unwrap();
        reports
    }

    fn has(reports: &[ProbeReport], what: fn(&Outcome) -> bool) -> bool {
        reports
            .iter()
            .any(|r| matches!(r, ProbeReport::Probe { outcome, .. } if what(outcome)))
    }

    #[tokio::test]
    async fn a_mail_hosts_rounds_judge_spf_and_the_blocklist_and_then_find_it_clean() {
        let zones = ["example.org", "bl.test", "113.0.203.in-addr.arpa"];
        let dns = DnsServer::start(any_port(), &zones).await.unwrap();
        dns.set_records(
            "example.org",
            RecordType::MX,
            300,
            vec![RData::MX(MX::new(10, name("mail.example.org.")))],
        )
        .await
        .unwrap();
        dns.set_a("mail.example.org", ip(NEW), 300).await.unwrap();
        dns.set_records(
            "example.org",
            RecordType::TXT,
            60,
            txt(&format!("v=spf1 ip4:{OLD} -all")),
        )
        .await
        .unwrap();
        dns.set_ptr(ip(NEW), "mail.example.org", 300).await.unwrap();
        let listed = dnsbl_name(ip(NEW), "bl.test");
        // A listing is cached for its TTL when that is longer than `dnsbl_every`.
        dns.set_a(&listed, ip("127.0.0.2"), 1).await.unwrap();
        dns.set_records(&listed, RecordType::TXT, 1, txt("burst of \u{1b}[31mspam"))
            .await
            .unwrap();

        let inv = inventory(dns.addr());
        let env = Arc::new(ProbeEnv::with_system_dns(
            &inv,
            Pinger::detect().0,
            SystemDns::Servers(vec![dns.addr()]),
        ));
        let mut state = State::new(inv.clone());
        let started = Instant::now();
        for r in round(&inv, &env).await {
            store::reduce(&mut state, r);
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let view = store::mail::mail_view(&inv.hosts[0], &state.hosts[0]).unwrap();
        let spf = &view.domains[0].spf;
        assert_eq!(spf.new_ip.as_ref().unwrap().result, SpfResult::Fail);
        assert_eq!(spf.old_ip.as_ref().unwrap().result, SpfResult::Pass);
        assert!(view.domains[0].mx.result.as_ref().unwrap().points_here);
        assert!(view.dnsbl[0].listed());
        assert!(!view.clean);
        let (health, reasons) = store::health(&inv.hosts[0], &state.hosts[0]);
        let words = reasons.join("; ");
        assert!(
            words.contains("SPF of example.org authorizes only the old address (fail for the new)"),
            "{words}"
        );
        // The list's reason, its escape sequence made harmless.
        assert!(
            words.contains("203.0.113.25 is listed on bl.test: burst of \\x1b[31mspam"),
            "{words}"
        );
        assert!(!words.contains('\u{1b}'), "{words}");
        // The port probe fails (nothing on 1): down. Mail's problems are reasons whatever
        // the rest says.
        assert_ne!(health, Health::Up);

        // At once again: the list is not due (2 s), SPF and MX are asked every round.
        let again = round(&inv, &env).await;
        assert!(has(&again, |o| matches!(o, Outcome::Mail(_))));
        assert!(!has(&again, |o| matches!(o, Outcome::Dnsbl(_))));

        // The fixes: SPF for the new address, delisted. Once the list is due, clean.
        dns.set_records(
            "example.org",
            RecordType::TXT,
            60,
            txt(&format!("v=spf1 ip4:{NEW} -all")),
        )
        .await
        .unwrap();
        dns.remove(&listed).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        for r in round(&inv, &env).await {
            store::reduce(&mut state, r);
        }
        let view = store::mail::mail_view(&inv.hosts[0], &state.hosts[0]).unwrap();
        assert_eq!(view.dnsbl[0].result, Ok(DnsblAnswer::NotListed));
        assert!(view.problems.is_empty(), "{:?}", view.problems);
        let ptr = state.hosts[0].ptr.as_ref().map(|p| p.value.result.clone());
        assert!(
            matches!(
                ptr,
                Some(Ok(PtrAnswer {
                    forward_confirmed: true,
                    ..
                }))
            ),
            "{ptr:?}"
        );
        assert!(view.clean);
    }
}
