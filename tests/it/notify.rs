//! Notifications, delivered for real to a recording HTTP server on loopback (and a file,
//! through `tee`): what a webhook and an ntfy topic get, the order and the late marks after
//! an outage, a slow endpoint that holds up nobody else, a 500 retried, and `moveday
//! notify-test`.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use moveday::config::{Inventory, NotifyConfig};
use moveday::notify::{Delivery, Message, Outbox, Retry};
use tokio::sync::mpsc;

use crate::common::http_sink::{Answer, HttpSink};
use crate::common::in_time;

/// The endpoint an inventory of one `[[notify]]` table (`body`) defines.
fn endpoint(body: &str) -> NotifyConfig {
    let text = format!("[[notify]]\n{body}");
    let inv = Inventory::parse(Path::new("notify.toml"), &text).unwrap();
    inv.notify.into_iter().next().unwrap()
}

fn message(seq: u64) -> Message {
    Message {
        seq,
        title: format!("moveday: vbox up ({seq})"),
        text: format!("vbox up again after 2h13m, 203.0.113.13 ({seq})"),
        body: serde_json::json!({"kind": "host", "host": "vbox", "n": seq}),
        at: SystemTime::now(),
    }
}

/// The next delivery report; fails the test after `within`.
async fn next(reports: &mut mpsc::Receiver<Delivery>, within: Duration) -> Delivery {
    match tokio::time::timeout(within, reports.recv()).await {
        Ok(Some(d)) => d,
        other => panic!("no delivery report within {within:?}: {other:?}"),
    }
}

/// Reports until message `seq` is sent; returns them all.
async fn until_sent(
    reports: &mut mpsc::Receiver<Delivery>,
    seq: u64,
    within: Duration,
) -> Vec<Delivery> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = within.saturating_sub(started.elapsed());
        let d = next(reports, left).await;
        let done = matches!(&d, Delivery::Sent { seq: s, .. } if *s == seq);
        seen.push(d);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_webhook_gets_the_json_body_once() {
    let mut sink = HttpSink::start().await;
    let config = endpoint(&format!(
        "name = \"team\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        sink.url("/hooks/SECRET?token=T0K3N")
    ));
    let (tx, mut reports) = mpsc::channel(16);
    let outbox = Outbox::spawn(&config, tx);
    outbox.send(message(1));
    let got = sink.next(in_time(Duration::from_secs(2))).await;
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/hooks/SECRET?token=T0K3N");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        got.json(),
        serde_json::json!({
            "kind": "host", "host": "vbox", "n": 1, "late": false, "notify": "team",
            "text": "vbox up again after 2h13m, 203.0.113.13 (1)",
        })
    );
    let d = next(&mut reports, in_time(Duration::from_secs(1))).await;
    assert_eq!(
        d,
        Delivery::Sent {
            notify: "team".into(),
            seq: 1,
            late: false,
            attempts: 1,
            answer: "200 OK: {\"ok\":true}".into(),
        }
    );
    // Once: nothing else arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.try_next().is_none());
    assert!(!format!("{config:?}").contains("SECRET"));
}

#[tokio::test]
async fn an_ntfy_topic_gets_the_text_with_a_title() {
    let mut sink = HttpSink::start().await;
    let config = endpoint(&format!(
        "name = \"phones\"\nkind = \"ntfy\"\nurl = \"{}\"\n",
        sink.url("/move-day")
    ));
    let (tx, mut reports) = mpsc::channel(16);
    let outbox = Outbox::spawn(&config, tx);
    let mut m = message(7);
    m.title = "moveday: büro up".into();
    outbox.send(m);
    let got = sink.next(in_time(Duration::from_secs(2))).await;
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("POST", "/move-day")
    );
    assert_eq!(got.text(), "vbox up again after 2h13m, 203.0.113.13 (7)");
    // Not ASCII: an RFC 2047 encoded word, which ntfy decodes.
    assert_eq!(
        got.header("title"),
        Some("=?UTF-8?B?bW92ZWRheTogYsO8cm8gdXA=?=")
    );
    assert_eq!(got.header("tags"), Some("moveday"));
    assert!(matches!(
        next(&mut reports, in_time(Duration::from_secs(1))).await,
        Delivery::Sent {
            seq: 7,
            late: false,
            attempts: 1,
            ..
        }
    ));
}

#[tokio::test]
async fn a_500_is_retried_until_a_200() {
    let mut sink = HttpSink::start().await;
    sink.script([
        Answer::status(500),
        Answer::status(503),
        Answer::status(200),
    ]);
    let config = endpoint(&format!(
        "name = \"team\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        sink.url("/hook")
    ));
    let (tx, mut reports) = mpsc::channel(16);
    let outbox = Outbox::spawn(&config, tx);
    let started = Instant::now();
    outbox.send(message(1));
    let seen = until_sent(&mut reports, 1, in_time(Duration::from_secs(4))).await;
    let took = started.elapsed();
    let Delivery::Failed {
        attempts: 1,
        error,
        pending: 1,
        ..
    } = &seen[0]
    else {
        panic!("{seen:?}")
    };
    assert_eq!(
        error,
        "500 Internal Server Error: {\"error\":\"scripted 500\"}"
    );
    assert!(
        matches!(&seen[1], Delivery::Failed { attempts: 2, error, .. } if error.starts_with("503 Service Unavailable")),
        "{seen:?}"
    );
    assert!(
        matches!(
            &seen[2],
            Delivery::Sent {
                attempts: 3,
                late: true,
                ..
            }
        ),
        "{seen:?}"
    );
    // Backoff: 1 s, then 2 s.
    assert!(took >= Duration::from_secs(3), "{took:?}");
    let bodies: Vec<serde_json::Value> = (0..3)
        .map(|_| sink.try_next().expect("three requests").json())
        .collect();
    assert_eq!(bodies[0]["late"], false);
    assert_eq!(bodies[2]["late"], true);
    assert!(
        bodies[2]["text"]
            .as_str()
            .unwrap()
            .contains("(late: happened at ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_down_for_30s_then_everything_arrives_in_order_marked_late() {
    // A port nobody listens on for 30 s: every attempt is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = endpoint(&format!(
        "name = \"team\"\nkind = \"webhook\"\nurl = \"http://{port}/hook\"\n"
    ));
    let (tx, mut reports) = mpsc::channel(64);
    let outbox = Outbox::spawn(&config, tx);
    let started = Instant::now();
    for seq in 1..=3 {
        outbox.send(message(seq));
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    for seq in 4..=5 {
        outbox.send(message(seq));
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    let mut sink = HttpSink::start_on(port)
        .await
        .unwrap_or_else(|e| panic!("the port {port} was taken while down: {e}"));
    let up = started.elapsed();
    // Backoff 1, 2, 4, 8, 16 s: the attempt after 31 s finds the server.
    let seen = until_sent(&mut reports, 5, in_time(Duration::from_secs(20))).await;
    let took = started.elapsed();
    eprintln!("down {up:?}, all delivered after {took:?}");
    let failed: Vec<&Delivery> = seen
        .iter()
        .filter(|d| matches!(d, Delivery::Failed { .. }))
        .collect();
    assert!(failed.len() >= 5, "{seen:?}");
    for d in &failed {
        let Delivery::Failed { seq: 1, error, .. } = d else {
            panic!("only the head is attempted: {d:?}")
        };
        assert!(error.contains("onnect"), "{error}");
        assert!(!error.contains("/hook"), "{error}");
    }
    // 1..3 waited from the start, 4 and 5 joined while it was down.
    assert!(
        matches!(failed.last(), Some(Delivery::Failed { pending: 5, .. })),
        "{seen:?}"
    );
    let sent: Vec<(u64, bool)> = seen
        .iter()
        .filter_map(|d| match d {
            Delivery::Sent { seq, late, .. } => Some((*seq, *late)),
            Delivery::Failed { .. } => None,
        })
        .collect();
    assert_eq!(
        sent,
        [(1, true), (2, true), (3, true), (4, true), (5, true)]
    );
    let mut order = Vec::new();
    for _ in 1..=5 {
        let got = sink.next(Duration::from_secs(1)).await.json();
        assert_eq!(got["late"], true);
        assert!(
            got["text"]
                .as_str()
                .unwrap()
                .contains("(late: happened at "),
            "{got}"
        );
        order.push(got["n"].as_u64().unwrap());
    }
    assert_eq!(order, [1, 2, 3, 4, 5]);
    assert!(took < up + in_time(Duration::from_secs(16)), "{took:?}");
    // Back to normal: the next one is on time.
    outbox.send(message(6));
    let d = next(&mut reports, in_time(Duration::from_secs(1))).await;
    assert!(
        matches!(
            d,
            Delivery::Sent {
                seq: 6,
                late: false,
                attempts: 1,
                ..
            }
        ),
        "{d:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_holds_up_neither_send_nor_another_endpoint() {
    let mut slow = HttpSink::start().await;
    slow.script([Answer::status(200).after(Duration::from_secs(5))]);
    let mut fast = HttpSink::start().await;
    let slow_config = endpoint(&format!(
        "name = \"slow\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        slow.url("/")
    ));
    let fast_config = endpoint(&format!(
        "name = \"fast\"\nkind = \"ntfy\"\nurl = \"{}\"\n",
        fast.url("/topic")
    ));
    let (tx, mut reports) = mpsc::channel(16);
    let slow_box = Outbox::spawn(&slow_config, tx.clone());
    let fast_box = Outbox::spawn(&fast_config, tx);
    let started = Instant::now();
    slow_box.send(message(1));
    let _ = slow.next(in_time(Duration::from_secs(2))).await;
    // The slow endpoint is answering its first message: more for it, and one for the
    // fast one, each queued at once.
    let mut longest = Duration::ZERO;
    for seq in 2..=100 {
        let t = Instant::now();
        slow_box.send(message(seq));
        longest = longest.max(t.elapsed());
    }
    let t = Instant::now();
    fast_box.send(message(1));
    longest = longest.max(t.elapsed());
    assert!(longest < Duration::from_millis(10), "send took {longest:?}");
    let d = next(&mut reports, in_time(Duration::from_secs(1))).await;
    assert!(
        matches!(&d, Delivery::Sent { notify, seq: 1, .. } if notify == "fast"),
        "{d:?}"
    );
    let _ = fast.next(Duration::from_secs(1)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The slow one takes its answer (5 s, within the 10 s timeout), then the rest.
    let seen = until_sent(&mut reports, 100, in_time(Duration::from_secs(10))).await;
    assert!(
        seen.iter()
            .all(|d| matches!(d, Delivery::Sent { late: false, .. })),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 100);
    assert!(started.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn a_command_endpoint_appends_json_lines_to_a_file_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    // A name a shell would make two words and a redirect of: argv takes it as it is.
    let file = dir.path().join("sink; >x.jsonl");
    let config = endpoint(&format!(
        "name = \"log\"\nkind = \"command\"\nargv = [\"tee\", \"-a\", {:?}]\n",
        file.to_str().unwrap()
    ));
    let (tx, mut reports) = mpsc::channel(16);
    let outbox = Outbox::spawn(&config, tx);
    outbox.send(message(1));
    outbox.send(message(2));
    until_sent(&mut reports, 2, in_time(Duration::from_secs(2))).await;
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["n"], 1);
    assert_eq!(lines[1]["notify"], "log");
    assert!(!dir.path().join("x.jsonl").exists());

    // A program that fails is retried; its words are the error.
    let config =
        endpoint("name = \"bad\"\nkind = \"command\"\nargv = [\"sh-less-no-such-program\"]\n");
    let (tx, mut reports) = mpsc::channel(16);
    let outbox = Outbox::spawn(&config, tx);
    outbox.send(message(1));
    let d = next(&mut reports, in_time(Duration::from_secs(1))).await;
    assert!(
        matches!(&d, Delivery::Failed { error, attempts: 1, .. }
            if error.starts_with("cannot run sh-less-no-such-program: No such file")),
        "{d:?}"
    );
    let config = endpoint("name = \"false\"\nkind = \"command\"\nargv = [\"false\"]\n");
    let (tx, mut reports) = mpsc::channel(16);
    let outbox = Outbox::spawn(&config, tx);
    outbox.send(message(1));
    let d = next(&mut reports, in_time(Duration::from_secs(1))).await;
    assert!(
        matches!(&d, Delivery::Failed { error, .. } if error == "false: exit 1"),
        "{d:?}"
    );

    // A program that hangs is cut off at the timeout (and killed).
    let config = endpoint(
        "name = \"hangs\"\nkind = \"command\"\nargv = [\"sleep\", \"30\"]\ntimeout = \"200ms\"\n",
    );
    let (tx, mut reports) = mpsc::channel(16);
    let outbox = Outbox::spawn(&config, tx);
    let started = Instant::now();
    outbox.send(message(1));
    let d = next(&mut reports, in_time(Duration::from_secs(1))).await;
    assert!(
        matches!(&d, Delivery::Failed { error, .. } if error == "no answer within 200ms"),
        "{d:?}"
    );
    assert!(started.elapsed() < in_time(Duration::from_millis(200)));
}

/// `moveday notify-test` with `inventory` (a file written into `dir`).
async fn notify_test(dir: &Path, inventory: &str, name: &str) -> std::process::Output {
    let path = dir.join("inventory.toml");
    std::fs::write(&path, inventory).unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"))
        .args(["notify-test", name, "--who", "ann", "--inventory"])
        .arg(&path)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_sends_once_and_prints_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = HttpSink::start().await;
    let inv = format!(
        "[[notify]]\nname = \"team\"\nkind = \"webhook\"\nurl = \"{}\"\n\
         [[notify]]\nname = \"closed\"\nkind = \"ntfy\"\nurl = \"http://127.0.0.1:1/SECRET\"\n\
         [[notify]]\nname = \"moved\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        sink.url("/hooks/SECRET"),
        sink.url("/old/SECRET"),
    );
    let o = notify_test(dir.path(), &inv, "team").await;
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(
        out,
        format!("team (http://{}/…): 200 OK: {{\"ok\":true}}\n", sink.addr)
    );
    let got = sink.next(Duration::from_secs(1)).await;
    assert_eq!(got.path, "/hooks/SECRET");
    let body = got.json();
    assert_eq!(
        body["text"],
        "moveday notify-test from ann: if you read this, notifications to team work"
    );
    assert_eq!(
        (body["kind"].as_str(), body["notify"].as_str()),
        (Some("notify-test"), Some("team"))
    );

    // A closed port: exit 1 with the error, and the URL's secret part never shown.
    let o = notify_test(dir.path(), &inv, "closed").await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        "moveday: closed (http://127.0.0.1:1/…): connection refused"
    );
    assert!(!err.contains("SECRET") && o.stdout.is_empty(), "{err}");

    // A redirect is not followed: it is named as the misconfiguration it is.
    sink.script([
        Answer::status(301).header("Location", "https://new.example.org/hooks/NEW-SECRET")
    ]);
    let o = notify_test(dir.path(), &inv, "moved").await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "301 Moved Permanently: redirects to https://new.example.org/…; moveday does not follow"
        ),
        "{err}"
    );
    assert!(!err.contains("SECRET"), "{err}");
    assert_eq!(sink.next(Duration::from_secs(1)).await.path, "/old/SECRET");
    assert!(sink.try_next().is_none());

    // An unknown name is bad input, with the names there are.
    let o = notify_test(dir.path(), &inv, "phones").await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no [[notify]] named `phones`"), "{err}");
    assert!(
        err.trim_end().ends_with("it has team, closed, moved"),
        "{err}"
    );
}

#[tokio::test]
async fn past_the_queue_bound_the_oldest_are_summed_up_and_the_rest_arrive_in_order() {
    let mut sink = HttpSink::start().await;
    sink.script([Answer::status(500)]);
    let config = endpoint(&format!(
        "name = \"team\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        sink.url("/hook")
    ));
    let (tx, mut reports) = mpsc::channel(64);
    // The real bound is 10,000: 5 here, so the test stays small.
    let retry = Retry {
        first: Duration::from_millis(300),
        max: Duration::from_secs(1),
        max_queued: 5,
    };
    let outbox = Outbox::spawn_with(&config, tx, retry);
    outbox.send(message(1));
    let d = next(&mut reports, in_time(Duration::from_secs(1))).await;
    assert!(matches!(d, Delivery::Failed { seq: 1, .. }), "{d:?}");
    // While 1 waits for its retry: 11 more, of which 5 may wait.
    for seq in 2..=12 {
        outbox.send(message(seq));
    }
    let seen = until_sent(&mut reports, 12, in_time(Duration::from_secs(2))).await;
    let sent: Vec<u64> = seen
        .iter()
        .filter_map(|d| match d {
            Delivery::Sent {
                seq, late: true, ..
            } => Some(*seq),
            _ => None,
        })
        .collect();
    // 2..=8 summed up in one message (its seq is the last one it stands for).
    assert_eq!(sent, [1, 8, 9, 10, 11, 12], "{seen:?}");
    let bodies: Vec<serde_json::Value> = (0..7)
        .map(|_| sink.try_next().expect("seven requests").json())
        .collect();
    assert_eq!(bodies[0]["n"], 1);
    assert_eq!(bodies[1]["n"], 1);
    assert_eq!(bodies[2]["dropped"], 7);
    let text = bodies[2]["text"].as_str().unwrap();
    assert!(
        text.starts_with("7 older notifications were dropped (from "),
        "{text}"
    );
    assert!(text.contains("at most 5 wait for team"), "{text}");
    let rest: Vec<u64> = bodies[3..]
        .iter()
        .map(|b| b["n"].as_u64().unwrap())
        .collect();
    assert_eq!(rest, [9, 10, 11, 12]);
}

/// `notify-test` with extra environment (`SSL_CERT_FILE`).
async fn notify_test_env(
    dir: &Path,
    inventory: &str,
    name: &str,
    env: &[(&str, &Path)],
) -> std::process::Output {
    let path = dir.join("inventory.toml");
    std::fs::write(&path, inventory).unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_moveday"));
    command
        .args(["notify-test", name, "--who", "ann", "--inventory"])
        .arg(&path)
        .env_remove("SSL_CERT_DIR");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().await.unwrap()
}

/// HTTPS through the system's trust store (here `SSL_CERT_FILE`, a test CA): trusted, the
/// message arrives; not trusted, the certificate is named and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_are_checked_against_the_trust_store() {
    let ca = moveday::demo::certs::DemoCa::new().unwrap();
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let tls = ca
        .server_config(&["127.0.0.1"], now - day, now + 30 * day)
        .unwrap();
    let mut sink = HttpSink::start_tls(tls).await;
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    let b64 = data_encoding::BASE64.encode(&ca.der());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    std::fs::write(
        &pem,
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    let inv = format!(
        "[[notify]]\nname = \"phones\"\nkind = \"ntfy\"\nurl = \"https://{}/move-day\"\n",
        sink.addr
    );
    let o = notify_test_env(dir.path(), &inv, "phones", &[("SSL_CERT_FILE", &pem)]).await;
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(
        out,
        format!(
            "phones (https://{}/…): 200 OK: {{\"ok\":true}}\n",
            sink.addr
        )
    );
    let got = sink.next(Duration::from_secs(1)).await;
    assert_eq!(got.header("title"), Some("moveday: notify-test"));
    assert_eq!(
        got.text(),
        "moveday notify-test from ann: if you read this, notifications to phones work"
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let o = notify_test_env(dir.path(), &inv, "phones", &[("SSL_CERT_FILE", &empty)]).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("certificate"), "{err}");
    assert!(sink.try_next().is_none());
}

/// A flapping host through the whole chain (journal entries -> `Notifier` -> the webhook):
/// its first change arrives at once, the five after it inside `min_interval` arrive as one
/// message summing them up when the window ends, not as five.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_host_is_summed_up_not_spammed() {
    use chrono::{DateTime, Utc};
    use moveday::journal::{Entry, Event, HostHealth};
    let mut sink = HttpSink::start().await;
    let text = format!(
        "[[host]]\nname = \"jabber\"\nfqdn = \"jabber.example.org\"\n\
         [[notify]]\nname = \"team\"\nkind = \"webhook\"\nurl = \"{}\"\nmin_interval = \"2s\"\n",
        sink.url("/hook")
    );
    let inv = Inventory::parse(Path::new("flap.toml"), &text).unwrap();
    let (inputs, mut news) = mpsc::channel(64);
    let mut notifier = moveday::notify::Notifier::start(&inv, inputs).unwrap();
    let started = SystemTime::now();
    let flip = |k: u32| {
        let (from, to) = match k % 2 {
            0 => (HostHealth::Up, HostHealth::Down),
            _ => (HostHealth::Down, HostHealth::Up),
        };
        Entry {
            at: DateTime::<Utc>::from(started + Duration::from_millis(100 * u64::from(k))),
            event: Event::Health {
                host: "jabber".into(),
                from,
                to,
                reasons: vec!["c2s fail".into()],
            },
        }
    };
    for k in 0..6 {
        notifier.offer(
            &[flip(k)],
            started + Duration::from_millis(100 * u64::from(k)),
        );
    }
    let first = sink.next(in_time(Duration::from_secs(2))).await;
    assert!(
        first.json()["text"]
            .as_str()
            .unwrap()
            .starts_with("jabber down: c2s fail"),
        "{}",
        first.json()
    );
    // Held: nothing more before the window ends.
    notifier.tick(started + Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.try_next().is_none());
    notifier.tick(started + Duration::from_secs(2));
    let summary = sink.next(in_time(Duration::from_secs(2))).await;
    let body = summary.json();
    assert_eq!(body["kind"], "summary", "{body}");
    assert_eq!(body["changes"], 5);
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("jabber changed 5 times in 2s, now up"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.try_next().is_none(), "two messages in all");
    // Both deliveries came back as the loop's input.
    for _ in 0..2 {
        let got = tokio::time::timeout(Duration::from_secs(2), news.recv()).await;
        assert!(
            matches!(got, Ok(Some(moveday::store::Input::Notify(_)))),
            "{got:?}"
        );
    }
}
