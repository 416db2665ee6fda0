//! Issue 17, the delegation: a parent server (a small in-process responder on loopback that
//! serves a referral, as the parent zone's servers do) and the zone's primary (an
//! in-process hickory server); the glue still pointing at the old address is flagged in
//! words, red, and in `check --json`, and clears once fixed; records owned by other names
//! are not believed; a silent parent ends within the timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::rr::rdata::{A, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use moveday::config::{Inventory, Theme};
use moveday::demo::dns_server::{BlackHole, DnsServer};
use moveday::demo::parent_server::ParentServer;
use moveday::probe::delegation::{delegation_probe, find_parents};
use moveday::probe::dns::SystemDns;
use moveday::probe::dns_client::DnsClient;
use moveday::probe::ping::Pinger;
use moveday::probe::scheduler::{self, ProbeEnv};
use moveday::probe::{DnsError, MAX_ANSWER_ADDRESSES, ProbeReport};
use moveday::store::{self, GlueVerdict, State};
use moveday::ui::{self, Screen, UiState};
use ratatui::{Terminal, backend::TestBackend};
use tokio::sync::mpsc;

const ZONE: &str = "example.org";
const OLD: &str = "198.51.100.53";
const NEW: &str = "203.0.113.53";
const OLD_WORDS: &str =
    "parent glue for ns1.example.org is still 198.51.100.53 (old): update it at the registrar";

fn any_port() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn ns(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 172_800, RData::NS(NS(name(target))))
}

fn a(owner: &str, ip: &str) -> Record {
    Record::from_rdata(name(owner), 172_800, RData::A(A(ip.parse().unwrap())))
}

/// What the parent serves for any NS question: its authority and additional sections.
type Referral = Arc<Mutex<(Vec<Record>, Vec<Record>)>>;

/// A parent zone's server: answers every NS question with a referral (no AA, no answer
/// section), the sections taken from `referral` at that moment.
async fn parent_server(referral: Referral) -> SocketAddr {
    crate::common::scripted_dns::start(RecordType::NS, Duration::ZERO, move |_, reply| {
        let (authorities, additionals) = referral.lock().unwrap().clone();
        reply.authorities = authorities;
        reply.additionals = additionals;
    })
    .await
}

/// The zone's primary: `example.org` with its NS `ns1.example.org` at the new address.
async fn primary() -> DnsServer {
    let server = DnsServer::start(any_port(), &[ZONE]).await.unwrap();
    server
        .set_a("ns1.example.org", NEW.parse().unwrap(), 300)
        .await
        .unwrap();
    server
}

fn referral(glue: &str) -> (Vec<Record>, Vec<Record>) {
    (
        vec![ns("example.org.", "ns1.example.org.")],
        vec![a("ns1.example.org.", glue)],
    )
}

fn render(state: &State, screen: Screen) -> Terminal<TestBackend> {
    let mut ui = UiState::new(chrono::FixedOffset::east_opt(0).unwrap());
    ui.screen = Some(screen);
    let mut terminal = Terminal::new(TestBackend::new(200, 20)).unwrap();
    let theme = Theme::by_name("dark").unwrap();
    terminal
        .draw(|frame| ui::render(frame, state, &ui, &theme, std::time::SystemTime::now()))
        .unwrap();
    terminal
}

/// The style of the first cell of `text` on the screen.
fn style_of(terminal: &Terminal<TestBackend>, text: &str) -> Option<ratatui::style::Color> {
    let buf = terminal.backend().buffer();
    for y in 0..buf.area.height {
        let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        if let Some(at) = row.find(text) {
            let x = row[..at].chars().count() as u16;
            return buf[(x, y)].fg.into();
        }
    }
    None
}

/// Applies reports until `done(state)` holds; returns how long that took.
async fn until(
    state: &mut State,
    rx: &mut mpsc::Receiver<ProbeReport>,
    limit: Duration,
    done: impl Fn(&State) -> bool,
) -> Duration {
    crate::common::reduce_until(state, rx, limit, done, |state| {
        format!("{:?}", store::delegation(state, 0))
    })
    .await
}

fn verdict(state: &State) -> Option<GlueVerdict> {
    Some(
        store::delegation(state, 0)?
            .servers
            .first()?
            .glue
            .first()?
            .verdict,
    )
}

/// The registrar still has the old glue of ns1: the zones view says so in red, and the DNS
/// view and `check --json` too; the parent fixed, it is `new` within one
/// `delegation_every`; broken again, "probe now" sees it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_glue_is_named_red_until_the_parent_is_fixed() {
    let primary = primary().await;
    let served: Referral = Arc::new(Mutex::new(referral(OLD)));
    let parent = parent_server(served.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let text = format!(
        r#"
hosts_file = "{hosts}"
[move]
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"
[probe]
interval = "400ms"
timeout = "300ms"
[dns]
delegation_every = "1s"
[[zone]]
name = "example.org"
primary = "{primary}"
parent = ["{parent}"]
"#,
        hosts = hosts.display(),
        primary = primary.addr(),
    );
    let inventory = Arc::new(Inventory::parse(Path::new("glue.toml"), &text).unwrap());
    let env = Arc::new(ProbeEnv::with_system_dns(
        &inventory,
        Pinger::tcp(),
        SystemDns::Servers(vec![primary.addr()]),
    ));
    let (tx, mut rx) = mpsc::channel(1024);
    let (now_tx, now_rx) = tokio::sync::watch::channel(0u64);
    let _tasks = scheduler::spawn(inventory.clone(), env, tx, now_rx);
    let mut state = State::new(inventory.clone());

    // The zone's own NS set (from the primary) is needed to say the parent agrees.
    until(&mut state, &mut rx, ms(3000), |s| {
        verdict(s) == Some(GlueVerdict::Old) && store::ns_agree(s, 0).is_some()
    })
    .await;
    let d = store::delegation(&state, 0).unwrap();
    assert_eq!(d.agrees_with_zone, Some(true), "{d:?}");
    assert!(!d.ok && d.alarm, "{d:?}");
    assert_eq!(d.problems, [OLD_WORDS]);
    let theme = Theme::by_name("dark").unwrap();
    let zones = render(&state, Screen::Zones);
    let text = zones.backend().to_string();
    assert!(text.contains(OLD_WORDS), "{text}");
    assert_eq!(style_of(&zones, OLD_WORDS), theme.failed().fg, "{text}");
    let matrix = render(&state, Screen::Resolvers);
    assert!(matrix.backend().to_string().contains(OLD_WORDS));
    // `moveday check`: said in words, and it fails the check.
    let table = moveday::check::to_table(&state);
    assert!(
        table.contains(&format!(
            "\nalarm: zone example.org delegation: {OLD_WORDS}\n"
        )),
        "{table}"
    );
    assert_eq!(moveday::check::exit_code(&state), 1);
    let json = moveday::check::to_json(&state);
    let delegation = &json["zones"][0]["delegation"];
    assert_eq!(delegation["ok"], false, "{delegation:#}");
    assert_eq!(delegation["agrees_with_zone"], true);
    let server = &delegation["servers"][0];
    assert_eq!(server["address"], parent.to_string());
    assert_eq!(server["ns"], serde_json::json!(["ns1.example.org"]));
    assert_eq!(
        server["glue"],
        serde_json::json!([{"name": "ns1.example.org", "addresses": [OLD], "verdict": "old"}])
    );

    // The registrar's change lands: new within one delegation_every (and the probe's time).
    *served.lock().unwrap() = referral(NEW);
    let took = until(&mut state, &mut rx, ms(3000), |s| {
        verdict(s) == Some(GlueVerdict::New)
    })
    .await;
    assert!(took <= ms(1000 + 300 + 400), "seen after {took:?}");
    let d = store::delegation(&state, 0).unwrap();
    assert!(d.ok && !d.alarm && d.problems.is_empty(), "{d:?}");
    let zones = render(&state, Screen::Zones).backend().to_string();
    assert!(
        zones.contains("✔ the parent agrees with the zone: ns1.example.org, glue new"),
        "{zones}"
    );
    assert!(!zones.contains("registrar"), "{zones}");
    // No host, and nothing to fix at the registrar: the check passes, and says nothing.
    assert_eq!(moveday::check::exit_code(&state), 0);
    let table = moveday::check::to_table(&state);
    assert!(!table.contains("delegation"), "{table}");
    assert_eq!(
        moveday::check::to_json(&state)["zones"][0]["delegation"]["ok"],
        true
    );

    // Broken again, and `r`: asked at once, not a delegation_every later.
    *served.lock().unwrap() = referral(OLD);
    now_tx.send_modify(|n| *n += 1);
    let took = until(&mut state, &mut rx, ms(3000), |s| {
        verdict(s) == Some(GlueVerdict::Old)
    })
    .await;
    assert!(took < ms(700), "probe now took {took:?}");
}

/// Only the zone's own NS records and the glue of those NS names count: an NS record of
/// another zone, glue owned by a name that is no NS of the zone, and a flood of glue
/// addresses are not believed or are capped.
#[tokio::test]
async fn records_owned_by_other_names_are_not_believed() {
    let primary = primary().await;
    let (mut authorities, mut additionals) = referral(NEW);
    authorities.push(ns("victim.test.", "ns.evil.test."));
    authorities.push(ns("example.org.evil.test.", "ns.evil.test."));
    additionals.push(a("www.example.org.", OLD));
    additionals.push(a("ns.evil.test.", OLD));
    // Another NS name in the zone, with more glue than anyone needs.
    authorities.push(ns("example.org.", "ns2.example.org."));
    for i in 0..100u8 {
        additionals.push(a("ns2.example.org.", &format!("203.0.113.{i}")));
    }
    let parent = parent_server(Arc::new(Mutex::new((authorities, additionals)))).await;
    let outcome = delegation_probe(
        &DnsClient::new(),
        0,
        ZONE,
        &[parent],
        primary.addr(),
        ms(1000),
    )
    .await;
    let referral = outcome.servers[0].result.as_ref().unwrap();
    assert_eq!(referral.ns, ["ns1.example.org", "ns2.example.org"]);
    let names: Vec<&str> = referral.glue.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["ns1.example.org", "ns2.example.org"]);
    assert_eq!(referral.glue[0].addresses, [NEW.parse::<IpAddr>().unwrap()]);
    assert_eq!(referral.glue[1].addresses.len(), MAX_ANSWER_ADDRESSES);
    assert!(referral.glue[1].more > 0, "{:?}", referral.glue[1]);
    // The primary was asked about its in-zone NS names only.
    assert_eq!(
        outcome.primary.get("ns1.example.org"),
        Some(&Ok(vec![NEW.parse().unwrap()]))
    );
    assert!(!outcome.primary.contains_key("www.example.org"));
}

/// A parent that never answers is an error within the timeout; another parent's answer
/// still counts.
#[tokio::test]
async fn a_silent_parent_ends_within_the_timeout() {
    let primary = primary().await;
    let hole = BlackHole::bind(any_port()).await.unwrap();
    let good = parent_server(Arc::new(Mutex::new(referral(NEW)))).await;
    let started = Instant::now();
    let outcome = delegation_probe(
        &DnsClient::new(),
        0,
        ZONE,
        &[hole.addr(), good],
        primary.addr(),
        ms(300),
    )
    .await;
    let took = started.elapsed();
    assert!(took < ms(300 + 200), "took {took:?}");
    assert_eq!(outcome.servers[0].result, Err(DnsError::Timeout));
    assert!(outcome.servers[1].result.is_ok(), "{outcome:?}");
}

/// The "system resolver" of the discovery tests: serves `org` (its NS `ns1.org`) with
/// `ns1.org` at 127.0.0.1, so that the parent it names is on loopback.
async fn system_serving_org() -> DnsServer {
    let system = DnsServer::start(any_port(), &["org"]).await.unwrap();
    system
        .set_a("ns1.org", IpAddr::V4(Ipv4Addr::LOCALHOST), 300)
        .await
        .unwrap();
    system
}

/// Without `parent`, the parent's servers are found through the system resolver: walking
/// up from `x.sub.org` (`sub.org` is no zone, NXDOMAIN) to `org`, whose NS name's address
/// is the parent server, asked on the port the environment says.
#[tokio::test]
async fn the_parent_is_found_through_the_system_resolver_walking_up() {
    let system = system_serving_org().await;
    let resolver = moveday::probe::dns::Resolver::system(&SystemDns::Servers(vec![system.addr()]));
    let client = DnsClient::new();
    for zone in ["example.org", "x.sub.org"] {
        let found = find_parents(&client, &resolver, zone, 5353, ms(1000))
            .await
            .unwrap();
        assert_eq!(found.zone, "org", "{zone}");
        assert_eq!(found.servers, ["127.0.0.1:5353".parse().unwrap()], "{zone}");
    }
    // A resolver that never answers: an error that says what was asked, within the timeout.
    let hole = BlackHole::bind(any_port()).await.unwrap();
    let silent = moveday::probe::dns::Resolver::system(&SystemDns::Servers(vec![hole.addr()]));
    let started = Instant::now();
    let e = find_parents(&client, &silent, ZONE, 53, ms(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() < crate::common::in_time(ms(300)));
    assert_eq!(
        e,
        DnsError::Other("the system resolver's NS of org: timeout".into())
    );
    // The parent's NS names without an address: said so.
    system.remove("ns1.org").await.unwrap();
    let e = find_parents(&client, &resolver, ZONE, 53, ms(1000))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        DnsError::Other("no address for the servers of org (ns1.org)".into())
    );
}

/// The dashboard without `parent`: the parent found through the (loopback) system
/// resolver serves the old glue, named red as with `parent`, with the parent zone in the
/// JSON; a system resolver that cannot say is an amber "parent servers unknown: ..." on
/// the Delegation line, not a crash, and never a red alarm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_parent_the_system_resolver_names_the_parent_servers() {
    let primary = primary().await;
    let system = system_serving_org().await;
    let parent = parent_server(Arc::new(Mutex::new(referral(OLD)))).await;
    let hole = BlackHole::bind(any_port()).await.unwrap();
    let theme = Theme::by_name("dark").unwrap();
    for (resolver, found) in [(system.addr(), true), (hole.addr(), false)] {
        let text = format!(
            "[move]\nold_network = \"198.51.100.0/24\"\nnew_network = \"203.0.113.0/24\"\n\
             [probe]\ninterval = \"400ms\"\ntimeout = \"300ms\"\n[dns]\ndelegation_every = \"1s\"\n\
             [[zone]]\nname = \"example.org\"\nprimary = \"{}\"\n",
            primary.addr()
        );
        let inventory = Arc::new(Inventory::parse(Path::new("found.toml"), &text).unwrap());
        let env = ProbeEnv::with_system_dns(
            &inventory,
            Pinger::tcp(),
            SystemDns::Servers(vec![resolver]),
        )
        .with_parent_port(parent.port());
        let (tx, mut rx) = mpsc::channel(1024);
        let (_now_tx, now_rx) = tokio::sync::watch::channel(0u64);
        let _tasks = scheduler::spawn(inventory.clone(), Arc::new(env), tx, now_rx);
        let mut state = State::new(inventory.clone());
        until(&mut state, &mut rx, ms(3000), |s| {
            store::delegation(s, 0).is_some_and(|d| d.error.is_some() || !d.servers.is_empty())
                && store::ns_agree(s, 0).is_some()
        })
        .await;
        let d = store::delegation(&state, 0).unwrap();
        let json = moveday::check::to_json(&state);
        let delegation = &json["zones"][0]["delegation"];
        let zones = render(&state, Screen::Zones);
        let screen = zones.backend().to_string();
        if found {
            assert_eq!(d.parent_zone.as_deref(), Some("org"), "{d:?}");
            assert_eq!(d.servers[0].address, parent.to_string(), "{d:?}");
            assert_eq!(d.problems, [OLD_WORDS], "{d:?}");
            assert!(d.alarm && !d.ok, "{d:?}");
            assert_eq!(delegation["parent_zone"], "org", "{delegation:#}");
            assert_eq!(delegation["error"], serde_json::Value::Null);
            assert_eq!(style_of(&zones, OLD_WORDS), theme.failed().fg, "{screen}");
            assert_eq!(moveday::check::exit_code(&state), 1);
        } else {
            let words = "parent servers unknown: the system resolver's NS of org: timeout";
            assert_eq!(d.error.as_deref(), Some(words), "{d:?}");
            assert!(!d.alarm && !d.ok && d.servers.is_empty(), "{d:?}");
            assert_eq!(delegation["error"], words, "{delegation:#}");
            assert_eq!(delegation["ok"], false);
            assert!(screen.contains(words), "{screen}");
            // Amber is a warning under `check`'s table; it does not fail the check.
            let table = moveday::check::to_table(&state);
            assert!(
                table.contains(&format!(
                    "\nwarning: zone example.org delegation: {words}\n"
                )),
                "{table}"
            );
            assert_eq!(moveday::check::exit_code(&state), 0);
            assert_eq!(style_of(&zones, words), theme.warn().fg, "{screen}");
        }
    }
}

/// The demo's parent server (a referral with the glue, which hickory's own zone handler
/// does not give): the old glue, then the registrar's change; glue only for names inside
/// the zone; a question outside its delegations refused.
#[tokio::test]
async fn the_demo_parent_serves_a_referral_with_glue_that_can_change() {
    let primary = primary().await;
    primary
        .set_records(
            ZONE,
            RecordType::NS,
            300,
            vec![
                RData::NS(NS(name("ns1.example.org."))),
                RData::NS(NS(name("ns.partner.net."))),
            ],
        )
        .await
        .unwrap();
    let parent = ParentServer::start(any_port()).await.unwrap();
    parent
        .delegate(ZONE, &["ns1.example.org", "ns.partner.net"])
        .unwrap();
    parent
        .set_glue("ns1.example.org", OLD.parse().unwrap())
        .unwrap();
    parent
        .set_glue("ns.partner.net", "192.0.2.99".parse().unwrap())
        .unwrap();
    let client = DnsClient::new();
    let parents = [parent.addr()];
    let ask = || delegation_probe(&client, 0, ZONE, &parents, primary.addr(), ms(1000));
    let outcome = ask().await;
    let referral = outcome.servers[0].result.as_ref().unwrap();
    assert_eq!(referral.ns, ["ns.partner.net", "ns1.example.org"]);
    let glue: Vec<(&str, Vec<IpAddr>)> = referral
        .glue
        .iter()
        .map(|g| (g.name.as_str(), g.addresses.clone()))
        .collect();
    assert_eq!(glue, [("ns1.example.org", vec![OLD.parse().unwrap()])]);
    parent
        .set_glue("ns1.example.org", NEW.parse().unwrap())
        .unwrap();
    let outcome = ask().await;
    let referral = outcome.servers[0].result.as_ref().unwrap();
    assert_eq!(referral.glue[0].addresses, [NEW.parse::<IpAddr>().unwrap()]);
    let outside = delegation_probe(
        &client,
        0,
        "example.com",
        &[parent.addr()],
        primary.addr(),
        ms(1000),
    )
    .await;
    assert_eq!(outside.servers[0].result, Err(DnsError::Refused));
}
