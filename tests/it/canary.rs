//! Issue 17, the secondary canary, on loopback: a primary that takes TSIG-signed updates
//! (`demo::update::UpdateDesk` in front of an in-process hickory server), one secondary
//! that transfers from it (a copier, as a secondary that gets the NOTIFY does) and one
//! that never does (still pointed at the old primary). `moveday canary` writes, names who
//! followed and how fast, names the laggard with its contact at the deadline, exits 1, and
//! journals every step; a wrong key is NOTAUTH, no key means nothing is written.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::RData;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::TXT;
use moveday::config::{TsigAlgorithm, TsigKey};
use moveday::demo::dns_server::DnsServer;
use moveday::demo::update::UpdateDesk;
use moveday::probe::canary::{canary_name, poll_secondary, write_canary};
use moveday::probe::dns_client::DnsClient;
use serde_json::Value;

const ZONE: &str = "example.org";
const SECRET_B64: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==";
const CONTACT: &str = "Aleksi, +358 40 123";

fn any_port() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
}

fn key(name: &str) -> TsigKey {
    TsigKey {
        name: name.into(),
        algorithm: TsigAlgorithm::HmacSha256,
        secret: b"secret-secret-secret-secret-32b".to_vec(),
    }
}

fn key_file(dir: &Path, name: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("{name}.key"));
    std::fs::write(
        &path,
        format!("key \"{name}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET_B64}\";\n}};\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// A zone's servers: the primary (behind its update desk), a secondary that follows it
/// within `lag`, and one that never does.
struct Zone {
    primary: Arc<DnsServer>,
    desk: UpdateDesk,
    good: Arc<DnsServer>,
    stuck: DnsServer,
    _copier: tokio::task::JoinHandle<()>,
}

async fn zone(lag: Duration) -> Zone {
    let primary = Arc::new(DnsServer::start(any_port(), &[ZONE]).await.unwrap());
    primary.set_serial(ZONE, 2009121202).await.unwrap();
    let desk = UpdateDesk::start(primary.clone(), &key("moveday-canary"))
        .await
        .unwrap();
    let good = Arc::new(DnsServer::start(any_port(), &[ZONE]).await.unwrap());
    good.set_serial(ZONE, 2009121202).await.unwrap();
    let stuck = DnsServer::start(any_port(), &[ZONE]).await.unwrap();
    stuck.set_serial(ZONE, 2009121101).await.unwrap();
    // The good secondary's "transfer": what the primary serves, `lag` later.
    let (from, to) = (primary.clone(), good.clone());
    let copier = tokio::spawn(async move {
        let client = DnsClient::new();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Ok(now) = poll_secondary(&client, from.addr(), ZONE, Duration::from_secs(1)).await
            else {
                continue;
            };
            let (Some(serial), Some(text)) = (now.serial, now.txt.first().cloned()) else {
                continue;
            };
            if to.serial(ZONE).await == Some(serial) {
                continue;
            }
            tokio::time::sleep(lag).await;
            let txt = RData::TXT(TXT::new(vec![text]));
            to.set_records(&canary_name(ZONE), RecordType::TXT, 60, vec![txt])
                .await
                .unwrap();
            to.set_serial(ZONE, serial).await.unwrap();
        }
    });
    Zone {
        primary,
        desk,
        good,
        stuck,
        _copier: copier,
    }
}

/// The inventory of the zone, with `canary_key` (when given) and fast canary settings.
fn inventory(dir: &Path, z: &Zone, key: Option<&Path>, secondaries: &[SocketAddr]) -> PathBuf {
    let key = key
        .map(|k| format!("canary_key = \"{}\"\n", k.display()))
        .unwrap_or_default();
    let list: Vec<String> = secondaries.iter().map(|s| format!("\"{s}\"")).collect();
    let stuck = z.stuck.addr();
    let contact = if secondaries.contains(&stuck) {
        format!("contact = {{ \"{stuck}\" = \"{CONTACT}\" }}\n")
    } else {
        String::new()
    };
    let text = format!(
        "[move]\nname = \"canary\"\n\n[probe]\ntimeout = \"1s\"\n\n\
         [dns]\ncanary_every = \"100ms\"\ncanary_deadline = \"10m\"\n\n\
         [[resolver]]\nname = \"primary\"\naddress = \"{primary}\"\n\n\
         [[zone]]\nname = \"{ZONE}\"\nprimary = \"{primary}\"\nsecondaries = [{list}]\n{contact}{key}",
        primary = z.desk.addr(),
        list = list.join(", "),
    );
    let path = dir.join("inventory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn canary(inventory: &Path, journal: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .arg("canary")
        .arg(ZONE)
        .arg("--inventory")
        .arg(inventory)
        .arg("--journal")
        .arg(journal)
        .args(["--who", "ana@laptop"])
        .args(args)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_canary_names_who_followed_and_who_never_did() {
    let z = zone(Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "moveday-canary", 0o600);
    let inv = inventory(dir.path(), &z, Some(&key), &[z.good.addr(), z.stuck.addr()]);
    let journal = dir.path().join("journal.jsonl");
    let started = std::time::Instant::now();
    let out = canary(&inv, &journal, &["--json", "--deadline", "3s"]).await;
    let limit = moveday::check::canary::time_limit(
        &moveday::config::Inventory::load(&inv).unwrap(),
        Duration::from_secs(3),
    );
    assert!(started.elapsed() < crate::common::in_time(limit));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["zone"], ZONE);
    assert_eq!(json["done"], true);
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"], Value::Null);
    assert_eq!(json["primary"], z.desk.addr().to_string());
    assert!(
        json["text"].as_str().unwrap().ends_with(" ana@laptop"),
        "{json:#}"
    );
    assert!(json["written_at"].is_string());
    // The update bumped the primary's serial, and it carries the canary.
    let serial = json["serial"].as_u64().unwrap() as u32;
    // One update, one bump.
    assert_eq!(serial, 2009121203, "{json:#}");
    assert_eq!(z.primary.serial(ZONE).await, Some(serial));
    assert_eq!(z.desk.updates(), 1);

    let [good, stuck] = json["secondaries"].as_array().unwrap().as_slice() else {
        panic!("{json:#}");
    };
    assert_eq!(good["server"], z.good.addr().to_string());
    assert_eq!(good["state"], "picked_up");
    let after = good["picked_up_after_s"].as_f64().unwrap();
    assert!((0.2..3.0).contains(&after), "{json:#}");
    assert_eq!(good["serial"].as_u64(), Some(u64::from(serial)));
    assert!(
        good["words"]
            .as_str()
            .unwrap()
            .contains("picked up the canary after")
    );

    assert_eq!(stuck["state"], "late");
    assert_eq!(stuck["picked_up_after_s"], Value::Null);
    assert_eq!(stuck["serial"], 2009121101);
    assert_eq!(stuck["contact"], CONTACT);
    let words = stuck["words"].as_str().unwrap();
    assert!(
        words.contains(&format!(
            "{} still serves serial 2009121101 after 3s: is it still transferring from the old primary? Call {CONTACT}.",
            z.stuck.addr()
        )),
        "{words}"
    );

    // Every step is in the journal, in order.
    let (entries, skipped) = moveday::journal::read(&journal).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let steps: Vec<String> = entries
        .iter()
        .filter_map(|e| match &e.event {
            moveday::journal::Event::Canary { step, .. } => Some(
                serde_json::to_value(step)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        ["started", "written", "picked_up", "late", "finished"]
    );
    let late = entries
        .iter()
        .find(|e| e.summary().contains("still serves"))
        .unwrap();
    assert!(late.summary().contains(CONTACT), "{}", late.summary());

    // The report has the run: who picked it up, who never did and whom to call.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .arg("report")
        .arg("--journal")
        .arg(&journal)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    let section = report
        .split("## Canary runs")
        .nth(1)
        .unwrap_or_else(|| panic!("no canary section: {report}"));
    assert!(section.contains("- example.org, "), "{section}");
    assert!(
        section.contains(&format!(", serial {serial}.")),
        "{section}"
    );
    assert!(
        section.contains(&format!("  - {} picked it up after ", z.good.addr())),
        "{section}"
    );
    assert!(
        section.contains(&format!(
            "  - {} still serves serial 2009121101 after 3s: is it still transferring from the old primary? Call {CONTACT}.",
            z.stuck.addr()
        )),
        "{section}"
    );
    let open = report.split("## Still open").nth(1).unwrap();
    assert!(
        open.contains("never picked up the last canary (call Aleksi"),
        "{open}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_secondary_following_is_exit_0_with_the_steps_printed() {
    let z = zone(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "moveday-canary", 0o640);
    let inv = inventory(dir.path(), &z, Some(&key), &[z.good.addr()]);
    let journal = dir.path().join("journal.jsonl");
    let started = std::time::Instant::now();
    let out = canary(&inv, &journal, &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    // Done as soon as everyone followed, not at the 10-minute deadline.
    assert!(started.elapsed() < crate::common::in_time(Duration::from_secs(2)));
    assert!(
        stdout.contains("canary for example.org: writing \""),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "canary for example.org written at {}: serial",
            z.desk.addr()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{} picked it up after", z.good.addr())),
        "{stdout}"
    );
    assert!(
        stdout.contains("all 1 secondaries picked it up"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_is_notauth_and_no_key_writes_nothing() {
    let z = zone(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");

    // A key the primary does not know: NOTAUTH, TSIG BADKEY, the primary named; exit 1.
    let other = key_file(dir.path(), "someone-else", 0o644);
    let inv = inventory(dir.path(), &z, Some(&other), &[z.good.addr()]);
    let out = canary(&inv, &journal, &["--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    // The key file is readable by others: said once, before anything is sent.
    assert!(
        stderr.contains("readable by others (mode 0644)"),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = json["error"].as_str().unwrap();
    assert_eq!(
        error,
        format!(
            "primary {} refused the update: NOTAUTH (TSIG BADKEY)",
            z.desk.addr()
        )
    );
    assert_eq!(json["written_at"], Value::Null);
    assert_eq!(json["done"], true);
    // No secondary is blamed for a canary that was never written.
    assert_eq!(json["secondaries"][0]["state"], "not_asked", "{json:#}");
    assert!(
        json["secondaries"][0]["words"]
            .as_str()
            .unwrap()
            .ends_with("not asked: nothing was written")
    );
    assert_eq!(z.desk.updates(), 0);

    // No canary_key: nothing is sent at all; bad input.
    let inv = inventory(dir.path(), &z, None, &[z.good.addr()]);
    let out = canary(&inv, &journal, &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("zone example.org has no canary_key"),
        "{}",
        text(&out.stderr)
    );
    // An unknown zone and a broken key file are bad input too, named.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["canary", "example.com", "--inventory"])
        .arg(&inv)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no [[zone]] `example.com`"),
        "{}",
        text(&out.stderr)
    );
    let broken = dir.path().join("broken.key");
    std::fs::write(&broken, "key \"k\" {\n\tsecret \"%%%\";\n};\n").unwrap();
    let inv = inventory(dir.path(), &z, Some(&broken), &[z.good.addr()]);
    let out = canary(&inv, &journal, &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("broken.key:2:9: the secret is not base64"),
        "{stderr}"
    );
    assert!(!stderr.contains("%%%"), "{stderr}");
    assert_eq!(z.desk.updates(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_or_forged_success_is_not_believed() {
    // A "primary" that answers every update NOERROR without signing: anyone on the path.
    let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
    let fake = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let len = stream.read_u16().await.unwrap();
            let mut request = vec![0u8; usize::from(len)];
            stream.read_exact(&mut request).await.unwrap();
            let request = Message::from_vec(&request).unwrap();
            let mut reply = Message::response(request.metadata.id, OpCode::Update);
            reply.metadata.message_type = MessageType::Response;
            let bytes = reply.to_vec().unwrap();
            let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            stream.write_all(&framed).await.unwrap();
        }
    });
    let result = write_canary(
        &key("moveday-canary"),
        ZONE,
        fake,
        "t",
        Duration::from_secs(2),
    )
    .await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "primary {fake} answered without a valid signature of the key"
        )),
        "{error}"
    );
    // A silent primary: a timeout, within the timeout.
    let hole = moveday::demo::dns_server::BlackHole::bind(any_port())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let result = write_canary(
        &key("moveday-canary"),
        ZONE,
        hole.addr(),
        "t",
        Duration::from_millis(300),
    )
    .await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("no answer to the update within")
    );
    assert!(started.elapsed() < crate::common::in_time(Duration::from_millis(300)));
}

fn render_zones(state: &moveday::store::State, ui: &moveday::ui::UiState) -> String {
    use ratatui::{Terminal, backend::TestBackend};
    let mut terminal = Terminal::new(TestBackend::new(200, 24)).unwrap();
    let theme = moveday::config::Theme::by_name("dark").unwrap();
    terminal
        .draw(|frame| moveday::ui::render(frame, state, ui, &theme, std::time::SystemTime::now()))
        .unwrap();
    terminal.backend().to_string()
}

/// `C` in the zones view asks first, names the zone and its primary, and `y` starts the
/// run; the zones view then shows the run: the laggard red with its contact.
#[tokio::test(flavor = "multi_thread")]
async fn c_in_the_zones_view_asks_then_the_view_shows_the_run() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use moveday::ui::{Effect, Mode, Screen, UiState};
    let z = zone(Duration::from_millis(100)).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "moveday-canary", 0o600);
    let path = inventory(dir.path(), &z, Some(&key), &[z.good.addr(), z.stuck.addr()]);
    let inv = Arc::new(moveday::config::Inventory::load(&path).unwrap());
    let state = moveday::store::State::new(inv.clone());
    let mut ui = UiState::new(chrono::FixedOffset::east_opt(0).unwrap()).with_who("ana@laptop");
    let press = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let now = std::time::SystemTime::now();

    // Outside the zones view `C` only says where it works.
    assert_eq!(
        moveday::ui::on_key(&mut ui, press('C'), &state, now),
        Some(Effect::None)
    );
    assert_eq!(ui.mode, Mode::Normal);
    ui.screen = Some(Screen::Zones);
    assert!(render_zones(&state, &ui).contains("C writes _moveday-canary to the primary"));
    // Asked; anything but y cancels.
    moveday::ui::on_key(&mut ui, press('C'), &state, now);
    let asked = render_zones(&state, &ui);
    assert!(asked.contains("Write the canary?"), "{asked}");
    assert!(
        asked.contains(&format!("example.org at its primary {}", z.desk.addr())),
        "{asked}"
    );
    assert_eq!(
        moveday::ui::on_key(&mut ui, press('n'), &state, now),
        Some(Effect::None)
    );
    assert_eq!(z.desk.updates(), 0);
    moveday::ui::on_key(&mut ui, press('C'), &state, now);
    assert_eq!(
        moveday::ui::on_key(&mut ui, press('y'), &state, now),
        Some(Effect::Canary(0))
    );

    // The run the app starts for that effect, reduced into the dashboard's state.
    let loaded = moveday::config::load_tsig_key(&key).unwrap();
    let plan = moveday::probe::canary::CanaryPlan::for_zone(
        &inv,
        0,
        loaded.key,
        &ui.who,
        Duration::from_secs(2),
    )
    .unwrap();
    let env = Arc::new(moveday::probe::scheduler::ProbeEnv::new(
        &inv,
        moveday::probe::ping::Pinger::detect().0,
    ));
    let state = moveday::check::canary::run(inv.clone(), env, plan, |_| {}).await;
    let screen = render_zones(&state, &ui);
    assert!(screen.contains("✖ serial"), "{screen}");
    assert!(
        screen.contains("1 of 2 secondaries never picked it up"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("✔ {} picked up the canary after", z.good.addr())),
        "{screen}"
    );
    assert!(
        screen.contains(&format!(
            "✖ {} still serves serial 2009121101 after 2s",
            z.stuck.addr()
        )),
        "{screen}"
    );
    assert!(screen.contains(CONTACT), "{screen}");
    // A run already over may be started again.
    moveday::ui::on_key(&mut ui, press('C'), &state, now);
    assert!(matches!(ui.mode, Mode::ConfirmCanary(_)));
}

/// The dashboard's own starter (`C`, then `y`, in the running loop): it reads the key,
/// writes once however often `C y` is pressed while the run goes, and the run's steps
/// reach the screen.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_writes_one_canary_per_zone_at_a_time() {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use futures::StreamExt;
    let z = zone(Duration::from_millis(100)).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "moveday-canary", 0o600);
    let path = inventory(dir.path(), &z, Some(&key), &[z.good.addr(), z.stuck.addr()]);
    // A short deadline for the test: the inventory's canary_deadline is what `C` uses.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("canary_deadline = \"10m\"", "canary_deadline = \"2s\""),
    )
    .unwrap();
    let inv = Arc::new(moveday::config::Inventory::load(&path).unwrap());
    assert_eq!(inv.canary_deadline, Duration::from_secs(2));
    let env = Arc::new(moveday::probe::scheduler::ProbeEnv::new(
        &inv,
        moveday::probe::ping::Pinger::detect().0,
    ));
    let (keys, key_rx) = futures::channel::mpsc::unbounded::<std::io::Result<Event>>();
    let (reports, report_rx) = tokio::sync::mpsc::channel(64);
    let (probe_now, _probe_now_rx) = tokio::sync::watch::channel(0u64);
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let loop_inv = inv.clone();
    let done = tokio::spawn(async move {
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 30)).unwrap();
        let mut state = moveday::store::State::new(loop_inv);
        let mut ui = moveday::ui::UiState::new(chrono::FixedOffset::east_opt(0).unwrap())
            .with_who("ana@laptop");
        moveday::app::run_loop(
            &mut terminal,
            &mut state,
            &mut ui,
            &moveday::config::Theme::monochrome(),
            moveday::app::LoopInputs {
                events: key_rx.boxed(),
                reports: report_rx,
                probe_now,
                shutdown: async {
                    let _ = stop_rx.await;
                },
                tick: Duration::from_secs(3600),
                checklist: None,
                journal: None,
                timeline: None,
                bell: None,
                trace: None,
                canary: Some(moveday::app::CanaryStarter::new(env, reports.clone())),
                notify: None,
            },
        )
        .await
        .unwrap();
        terminal.backend().to_string()
    });
    let press = |c: char| {
        keys.unbounded_send(Ok(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))))
        .unwrap();
    };
    press('z');
    // `C y` twice at once: the second finds the run going (its key is still being read,
    // or its steps have begun) and writes nothing.
    for c in ['C', 'y', 'C', 'y'] {
        press(c);
    }
    // The deadline, and room for a loaded machine.
    tokio::time::sleep(crate::common::in_time(Duration::from_secs(3))).await;
    let _ = stop.send(());
    let screen = done.await.unwrap();
    assert_eq!(z.desk.updates(), 1, "{screen}");
    assert!(
        screen.contains(&format!("✔ {} picked up the canary after", z.good.addr())),
        "{screen}"
    );
    assert!(
        screen.contains(&format!(
            "✖ {} still serves serial 2009121101 after 2s",
            z.stuck.addr()
        )),
        "{screen}"
    );
}
