//! Issue 18 in the lab (`tests/lab/lab.sh`): mail after the move, against Debian's own BIND.
//!
//! - example.org's MX is `10 mail.example.org.` (mail's new address): `points_here`.
//! - Its SPF record was never told about the move: `v=spf1 ip4:198.51.100.11 -all` passes
//!   the old address and fails the new one, until `fix-spf` (the admin's signed update,
//!   with the lab's own key: the canary's key may still write only its canary).
//! - The lab's blocklist `dnsbl.lab.test` (on the parent's named, forwarded by the laptop's
//!   resolver; never a public list) lists mail's new address with a TXT reason, until
//!   `delist`.
//!
//! Both states through `moveday check --json` (the mail host degraded with the reasons in
//! words, then clean), the detail pane of the dashboard in tmux (the Mail lines), and the
//! report of the dashboard's journal (when SPF first passed, the listing appearing and
//! clearing).
//!
//! Needs root, tmux and the lab's packages: ignored by a plain `cargo test`, run by
//! `cargo test -- --include-ignored`, where a machine without them fails it.

use std::time::{Duration, Instant};

use crate::common::tmux::{self, Tmux};
use crate::lab::{self, Findings, Lab};
use serde_json::{Value, json};

const SPF_OLD: &str = "v=spf1 ip4:198.51.100.11 -all";
const SPF_NEW: &str = "v=spf1 ip4:203.0.113.11 -all";
const SPF_BOTH: &str = "v=spf1 ip4:198.51.100.11 ip4:203.0.113.11 -all";
const ZONE: &str = "dnsbl.lab.test";
const LISTING_REASON: &str =
    "Listed in the lab: backlog burst, see https://dnsbl.lab.test/203.0.113.11";
/// The host's reasons, as `store::mail` words them.
const SPF_WORDS: &str = "SPF of example.org authorizes only the old address (fail for the new)";
const LISTED_WORDS: &str = "203.0.113.11 is listed on dnsbl.lab.test: Listed in the lab";
/// The generated inventory's probe interval and timeout, and `[mail] dnsbl_every`
/// (`MDLAB_DNSBL_EVERY`, allowed under a minute with the lab's own `dnsbl_resolver`).
const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(1);
const DNSBL_EVERY: Duration = Duration::from_secs(2);
const JOURNAL: &str = "mail";

/// `hosts[].mail` of the mail host in a `check --json` on the laptop, with the host,
/// logged.
fn mail_check(lab: &Lab, when: &str) -> (Value, Value) {
    let (code, json, took) = lab.check_json();
    let host = lab::host(&json, "mail").clone();
    eprintln!(
        "--- check --json {when} (exit {code:?}, {took:.1?}):\n    {}\n    mail: {}",
        lab::summary(&host),
        host["mail"]
    );
    let www = lab::host(&json, "www");
    assert_eq!(
        www["mail"],
        Value::Null,
        "a host without a mail role: {www:#}"
    );
    (host.clone(), host["mail"].clone())
}

/// Reasons of `host` that are about mail (SPF, a blocklist, MX, HELO).
fn mail_reasons(host: &Value) -> Vec<String> {
    lab::reasons(host)
        .into_iter()
        .filter(|r| {
            ["SPF", "listed", "dnsbl", "MX", "HELO", "blocklist"]
                .iter()
                .any(|w| r.contains(w))
        })
        .collect()
}

/// The MX of example.org: `10 mail.example.org.`, the new address, not the old one.
fn expect_mx(f: &mut Findings, mail: &Value, when: &str) {
    let domain = &mail["domains"][0];
    let mx = &domain["mx"];
    f.expect(
        domain["domain"] == "example.org"
            && mx["points_here"] == true
            && mx["old"] == false
            && mx["null_mx"] == false
            && mx["error"].is_null()
            && mx["names"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n == "mail.example.org"))
            && mx["addresses"] == json!(["203.0.113.11"]),
        &format!("{when}: MX of example.org is mail.example.org, here (203.0.113.11)"),
        domain,
    );
}

/// SPF of example.org for the new address `result` (the old `old_result`), `record`.
fn expect_spf(
    f: &mut Findings,
    mail: &Value,
    when: &str,
    (result, old_result, record): (&str, &str, &str),
) {
    let spf = &mail["domains"][0]["spf"];
    f.expect(
        spf["result"] == result
            && spf["old_ip_result"] == old_result
            && spf["record"] == record
            && spf["error"].is_null(),
        &format!("{when}: SPF {result} for the new address, {old_result} for the old, {record:?}"),
        spf,
    );
}

/// The one blocklist's answer: listed with the lab's reason and code, or not.
fn expect_listing(f: &mut Findings, mail: &Value, when: &str, listed: bool) {
    let lists = mail["dnsbl"].as_array().cloned().unwrap_or_default();
    let list = lists.first().cloned().unwrap_or(Value::Null);
    let (reason, codes) = match listed {
        true => (json!(LISTING_REASON), json!(["127.0.0.2"])),
        false => (Value::Null, json!([])),
    };
    f.expect(
        lists.len() == 1
            && list["zone"] == ZONE
            && list["ip"] == "203.0.113.11"
            && list["listed"] == listed
            && list["reason"] == reason
            && list["codes"] == codes
            && list["refused"] == false
            && list["error"].is_null(),
        &format!("{when}: {ZONE} is the only list asked, listed {listed}"),
        &mail["dnsbl"],
    );
}

/// `nsupdate` with the canary's key, replacing example.org's SPF by `+all`: exit code and
/// what it said.
fn canary_key_writes_spf(lab: &Lab) -> (Option<i32>, String) {
    use std::io::Write as _;
    let mut child = lab
        .on_laptop(&["nsupdate", "-t", "3", "-k"])
        .arg(lab.dir.join("keys/moveday-canary.key"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate");
    write!(
        child.stdin.take().unwrap(),
        "server 203.0.113.10\nzone example.org\nupdate delete example.org. TXT\n\
         update add example.org. 1 TXT \"v=spf1 +all\"\nsend\n"
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), said)
}

/// moveday's dashboard on the laptop in a tmux of the lab's own, journaling into the lab,
/// with mail (the grid's second host) selected.
fn dashboard(lab: &Lab) -> Tmux {
    let command = format!(
        "sh -c '{} --inventory {} --state {} --journal {} --who lab-tester; echo EXIT=$?; \
         sleep 60'",
        env!("CARGO_BIN_EXE_moveday"),
        lab.inventory.display(),
        lab.dir.join(format!("{JOURNAL}-state.json")).display(),
        lab.dir.join(format!("{JOURNAL}.journal.jsonl")).display()
    );
    let tmux = Tmux::start_via(
        lab.on_laptop(&[]),
        &format!("{}-mail", lab.prefix),
        &command,
        (200, 60),
    );
    tmux.wait_for("the grid", Duration::from_secs(20), |s| {
        s.contains("Hosts (8)")
    });
    tmux.key("j");
    tmux.wait_for("mail's detail", Duration::from_secs(5), |s| {
        s.contains("mail · mail.example.org")
    });
    tmux
}

/// The detail pane's Mail lines (from the `Mail` label to the next label), left of the
/// checklist pane (which starts at a `│`).
fn mail_lines(screen: &str) -> String {
    let mut out = Vec::new();
    let mut inside = false;
    for line in screen.lines() {
        let line = line.split('│').next().unwrap_or(line);
        if line.starts_with("Mail ") {
            inside = true;
        } else if inside && !line.starts_with("        ") {
            break;
        }
        if inside && !line.trim().is_empty() {
            out.push(line.trim_end());
        }
    }
    out.join("\n")
}

/// `moveday report --format md` of the dashboard's journal: exit code and the report.
fn report(lab: &Lab) -> (Option<i32>, String) {
    let journal = lab.dir.join(format!("{JOURNAL}.journal.jsonl"));
    let state = lab.dir.join(format!("{JOURNAL}-state.json"));
    let out = lab.moveday(&[
        "report",
        "--format",
        "md",
        "--journal",
        journal.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The lab's mail faults, both states, in the three places an admin reads them. Every
/// expectation is checked (`Findings`), so a product bug in one part shows beside the rest.
#[test]
#[ignore = "needs root, tmux and the lab's packages (sshd, nginx, BIND): see tests/lab/README.md"]
fn spf_and_the_blocklist_degrade_mail_until_fixed() {
    let started = Instant::now();
    tmux::require();
    let mut lab = Lab::start(&[("MDLAB_DNSBL_EVERY", &format!("{}s", DNSBL_EVERY.as_secs()))]);
    eprintln!("lab {} up in {:.1?}", lab.prefix, lab.setup);
    let mut f = Findings::default();

    // ------------------------------------------------------------ check --json, broken
    // No other lab fault touches mail (none is replayed here): its reasons are mail's.
    let (host, mail) = mail_check(&lab, "as the lab starts");
    f.expect(
        host["health"] == "degraded",
        &format!("as the lab starts: mail is degraded ({})", host["health"]),
        lab::summary(&host),
    );
    let reasons = lab::reasons(&host);
    f.expect(
        reasons.iter().any(|r| r.contains(SPF_WORDS))
            && reasons.iter().any(|r| r.contains(LISTED_WORDS)),
        "as the lab starts: the reasons name the old-only SPF and the listing, in words",
        format!("{reasons:#?}"),
    );
    f.expect(
        reasons.len() == mail_reasons(&host).len(),
        "as the lab starts: every reason of mail is about mail",
        format!("{reasons:#?}"),
    );
    f.expect(
        mail["clean"] == false,
        "as the lab starts: not clean",
        &mail,
    );
    expect_spf(
        &mut f,
        &mail,
        "as the lab starts",
        ("fail", "pass", SPF_OLD),
    );
    expect_listing(&mut f, &mail, "as the lab starts", true);
    expect_mx(&mut f, &mail, "as the lab starts");
    f.expect(
        mail["helo"].is_null(),
        "the lab's mail runs no SMTP server: no HELO name",
        &mail["helo"],
    );

    // The SPF fix is the lab's admin key's to make: the canary's key may still write only
    // its canary (its grant was not widened for the lab's mail).
    let (code, said) = canary_key_writes_spf(&lab);
    f.expect(
        code != Some(0) && said.contains("REFUSED"),
        "the canary's key may not write example.org's SPF: REFUSED",
        &said,
    );

    // ------------------------------------------------------------ the detail pane, broken
    let tmux = dashboard(&lab);
    let spf_fail = "✖ SPF fail · example.org";
    let listed = format!("✖ DNSBL listed · {ZONE}");
    let (screen, took) = tmux.wait_for_timed(
        "the Mail lines: SPF fail, listed, MX here",
        crate::common::in_time(DNSBL_EVERY + TIMEOUT) * 2,
        |s| {
            let m = mail_lines(s);
            m.contains(spf_fail) && m.contains(&listed) && m.contains("✔ MX here · example.org")
        },
    );
    let lines = mail_lines(&screen);
    eprintln!("--- mail's detail pane after {took:.1?}:\n{lines}");
    f.expect(
        lines.contains("authorizes only the old address (198.51.100.11 passes)")
            && lines.contains(SPF_OLD),
        "pane: SPF says it authorizes only the old address, with the record",
        &lines,
    );
    f.expect(
        lines.contains("203.0.113.11: Listed in the lab: backlog burst"),
        "pane: the listing with the address and its reason",
        &lines,
    );
    f.expect(
        lines.contains("mail.example.org → 203.0.113.11"),
        "pane: the MX name and its address",
        &lines,
    );

    // ------------------------------------------------------------ fixed
    eprintln!("lab: {}", lab.command("fix-spf"));
    let spf_fixed = Instant::now();
    eprintln!("lab: {}", lab.command("delist"));
    let delisted = Instant::now();
    let spf_pass = "✔ SPF pass · example.org";
    let not_listed = "✔ DNSBL not listed: 1 list";
    // SPF is asked every round; the blocklist once dnsbl_every has passed since its last
    // answer.
    let spf_bound = INTERVAL + TIMEOUT;
    let list_bound = DNSBL_EVERY + INTERVAL + TIMEOUT;
    // Each wait's time counts from its command's answer.
    let waiting = Instant::now();
    let (screen, took) =
        tmux.wait_for_timed("SPF pass", crate::common::in_time(spf_bound) * 2, |s| {
            mail_lines(s).contains(spf_pass)
        });
    let spf_took = waiting.duration_since(spf_fixed) + took;
    eprintln!("--- SPF pass shown {spf_took:.2?} after fix-spf answered (bound {spf_bound:?})");
    let waiting = Instant::now();
    let (screen2, took) =
        tmux.wait_for_timed("not listed", crate::common::in_time(list_bound) * 2, |s| {
            mail_lines(s).contains(not_listed)
        });
    let list_took = waiting.duration_since(delisted) + took;
    eprintln!(
        "--- not listed shown {list_took:.2?} after delist answered (bound {list_bound:?})\n{}",
        mail_lines(&screen2)
    );
    f.expect(
        spf_took <= crate::common::in_time(spf_bound),
        &format!("pane: SPF pass within one interval plus the timeout ({spf_took:.1?})"),
        mail_lines(&screen),
    );
    f.expect(
        list_took <= crate::common::in_time(list_bound),
        &format!("pane: not listed within dnsbl_every plus a round ({list_took:.1?})"),
        mail_lines(&screen2),
    );
    f.expect(
        mail_lines(&screen2).contains(SPF_NEW) && !mail_lines(&screen2).contains('✖'),
        "pane: the new record, and nothing red in the Mail lines",
        mail_lines(&screen2),
    );

    let (host, mail) = mail_check(&lab, "after fix-spf and delist");
    f.expect(
        host["health"] == "up" && mail_reasons(&host).is_empty(),
        &format!("fixed: mail is up, no mail reason ({})", host["health"]),
        lab::summary(&host),
    );
    f.expect(
        mail["clean"] == true,
        "fixed: clean (SPF pass, not listed, PTR confirmed)",
        &mail,
    );
    expect_spf(&mut f, &mail, "fixed", ("pass", "fail", SPF_NEW));
    expect_listing(&mut f, &mail, "fixed", false);
    expect_mx(&mut f, &mail, "fixed");

    // The listing comes back (a second burst): the dashboard sees it appear, and clear.
    eprintln!("lab: {}", lab.command("relist"));
    let (screen, took) = tmux.wait_for_timed(
        "listed again",
        crate::common::in_time(list_bound) * 2,
        |s| mail_lines(s).contains(&listed),
    );
    eprintln!(
        "--- listed again after {took:.1?}:\n{}",
        mail_lines(&screen)
    );
    eprintln!("lab: {}", lab.command("delist"));
    tmux.wait_for_timed(
        "not listed again",
        crate::common::in_time(list_bound) * 2,
        |s| mail_lines(s).contains(not_listed),
    );

    // ------------------------------------------------------------ the report
    tmux.key("q");
    tmux.wait_for("moveday exits", Duration::from_secs(5), |s| {
        s.contains("EXIT=0")
    });
    drop(tmux);
    let (code, text) = report(&lab);
    let mail_report: String = text
        .lines()
        .filter(|l| l.contains("SPF") || l.contains(ZONE))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("--- moveday report (exit {code:?}), its lines on SPF and {ZONE}:\n{mail_report}");
    let first_passed = text
        .lines()
        .any(|l| l.contains("SPF of example.org first passed for the new address"));
    let appeared = text
        .lines()
        .any(|l| l.contains(&format!("listed on {ZONE}")));
    let cleared = text
        .lines()
        .any(|l| l.contains(ZONE) && l.contains("cleared"));
    if !(first_passed && appeared && cleared) {
        eprintln!("--- the whole report:\n{text}");
    }
    f.expect(code == Some(0), "report: exit 0", "");
    f.expect(
        first_passed,
        "report: when SPF of example.org first passed for the new address",
        "",
    );
    f.expect(
        appeared,
        &format!("report: the listing on {ZONE} appearing"),
        "",
    );
    f.expect(
        cleared,
        &format!("report: the listing on {ZONE} cleared"),
        "",
    );

    // ------------------------------------------------------------ the other states, one shot
    eprintln!("lab: {}", lab.command("fix-spf both"));
    let (_, mail) = mail_check(&lab, "after fix-spf both");
    expect_spf(&mut f, &mail, "both addresses", ("pass", "pass", SPF_BOTH));
    eprintln!("lab: {}", lab.command("break-spf"));
    eprintln!("lab: {}", lab.command("relist"));
    let (host, mail) = mail_check(&lab, "after break-spf and relist");
    expect_spf(&mut f, &mail, "broken again", ("fail", "pass", SPF_OLD));
    expect_listing(&mut f, &mail, "listed again", true);
    f.expect(
        host["health"] == "degraded" && mail["clean"] == false,
        "broken again: mail degraded, not clean",
        lab::summary(&host),
    );

    let (prefix, dir) = (lab.prefix.clone(), lab.dir.clone());
    let ended = lab.close();
    assert_eq!(ended.code, Some(0), "lab.sh: {}", ended.stderr);
    let left = lab::leftovers(&prefix, &dir);
    assert!(left.is_empty(), "left behind: {left:#?}");
    eprintln!("lab mail test done in {:.1?}", started.elapsed());
    f.finish("spf_and_the_blocklist_degrade_mail_until_fixed");
}
