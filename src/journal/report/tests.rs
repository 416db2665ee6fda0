//! Report building from small hand-made journals.

use super::*;
use crate::journal::{CheckState, Event, HostHealth};

fn at(hm: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2009-12-05T{hm}:00Z"))
        .unwrap()
        .to_utc()
}

fn health(hm: &str, host: &str, from: HostHealth, to: HostHealth) -> Entry {
    Entry {
        at: at(hm),
        event: Event::Health {
            host: host.into(),
            from,
            to,
            reasons: vec![],
        },
    }
}

#[test]
fn since_takes_rfc3339_a_clock_time_or_a_duration_ago() {
    let now = at("18:00");
    assert_eq!(parse_since("2009-12-05T14:00:00Z", now), Ok(at("14:00")));
    assert_eq!(
        parse_since("2009-12-05T15:00:00+01:00", now),
        Ok(at("14:00"))
    );
    assert_eq!(parse_since("2h", now), Ok(at("16:00")));
    assert_eq!(parse_since("90m ago", now), Ok(at("16:30")));
    let today = parse_since("14:30", now).unwrap();
    assert_eq!(
        today.with_timezone(&Local).format("%H:%M").to_string(),
        "14:30"
    );
    assert!(
        parse_since("yesterday-ish", now)
            .unwrap_err()
            .contains("invalid --since")
    );
}

#[test]
fn spans_merge_repeats_and_clip_at_since() {
    let changes = [
        (at("09:00"), 'a', 1),
        (at("10:00"), 'b', 2),
        (at("11:00"), 'b', 3),
        (at("12:00"), 'a', 4),
    ];
    let all = spans(&changes, at("09:00"), at("13:00"));
    let short: Vec<(char, i32, i64, bool, bool)> = all
        .iter()
        .map(|(k, p, s)| (*k, *p, s.seconds / 60, s.ongoing, s.clipped))
        .collect();
    assert_eq!(
        short,
        [
            ('a', 1, 60, false, false),
            ('b', 2, 120, false, false),
            ('a', 4, 60, true, false)
        ]
    );
    let cut = spans(&changes, at("10:30"), at("13:00"));
    let short: Vec<(char, i64, bool)> = cut
        .iter()
        .map(|(k, _, s)| (*k, s.seconds / 60, s.clipped))
        .collect();
    assert_eq!(short, [('b', 90, true), ('a', 60, false)]);
    // A change exactly at `since` starts there, unclipped.
    let cut = spans(&changes, at("12:00"), at("13:00"));
    assert_eq!(cut.len(), 1);
    assert!(!cut[0].2.clipped);
}

#[test]
fn downtime_first_green_and_all_green() {
    use HostHealth::*;
    let entries = [
        health("09:00", "a", Unknown, Up),
        health("09:00", "b", Unknown, Up),
        health("09:10", "a", Up, Down),
        health("09:20", "b", Up, Down),
        health("10:00", "a", Down, Degraded),
        health("10:30", "a", Degraded, Up),
        health("11:00", "b", Down, Unknown),
        health("11:05", "b", Unknown, Up),
        health("12:00", "a", Up, Down),
        health("12:07", "a", Down, Up),
    ];
    let pm = build(&entries, Sources::default(), "j", None, vec![]);
    let a = &pm.hosts[0];
    assert_eq!(a.went_down, Some(at("09:10")));
    assert_eq!(a.came_back, Some(at("12:07")));
    assert_eq!(a.first_green, Some(at("10:30")));
    assert_eq!(a.up_since, Some(at("12:07")));
    assert_eq!(a.downtime_seconds, (50 + 7) * 60);
    assert_eq!(a.not_up_seconds, (80 + 7) * 60);
    let b = &pm.hosts[1];
    // Unknown (a restart, a moved target) does not end an outage.
    assert_eq!(b.downtime_seconds, 105 * 60);
    assert_eq!(b.first_green, Some(at("11:05")));
    // All up at 09:00, before anything went down: the move's all-green is later.
    assert_eq!(pm.all_green.move_started, Some(at("09:10")));
    assert!(!pm.all_green.already);
    assert_eq!(pm.all_green.first, Some(at("11:05")));
    assert_eq!(pm.all_green.since, Some(at("12:07")));
    let periods: Vec<(DateTime<Utc>, DateTime<Utc>)> = pm
        .all_green
        .periods
        .iter()
        .map(|s| (s.from, s.to))
        .collect();
    assert_eq!(
        periods,
        [
            (at("09:00"), at("09:10")),
            (at("11:05"), at("12:00")),
            (at("12:07"), at("12:07"))
        ]
    );
    // From 11:00 on, b's outage is cut there.
    let pm = build(&entries, Sources::default(), "j", Some(at("11:00")), vec![]);
    assert_eq!(pm.hosts[1].downtime_seconds, 5 * 60);
    assert_eq!(pm.hosts[0].went_down, Some(at("12:00")));
    assert_eq!(pm.all_green.first, Some(at("11:05")));
    assert!(!pm.all_green.already);
}

#[test]
fn state_file_ticks_fill_in_what_the_journal_lacks_without_doubling() {
    use crate::checklist::{ChecklistEvent, TickEvent};
    let tick = |id: &str, hm: &str, who: &str| ChecklistEvent::Tick {
        id: id.into(),
        tick: TickEvent {
            done: true,
            who: who.into(),
            at: at(hm),
            evidence: None,
            forced: false,
        },
    };
    let mut doc = ChecklistDoc::new();
    doc.apply(&tick("a", "09:00", "ann"));
    doc.apply(&tick("b", "09:30", "bob"));
    let journal = [crate::journal::checklist_event(&tick("a", "09:00", "ann"))];
    let pm = build(
        &journal,
        Sources {
            inventory: None,
            state_file: Some(&doc),
        },
        "j",
        None,
        vec![],
    );
    let ticks: Vec<(&str, bool)> = pm
        .checklist
        .ticks
        .iter()
        .map(|t| (t.id.as_str(), t.from_state_file))
        .collect();
    assert_eq!(ticks, [("a", false), ("b", true)]);
}

fn check(hm: &str, host: &str, name: &str, state: CheckState, result: &str) -> Entry {
    Entry {
        at: DateTime::parse_from_rfc3339(&format!("2009-12-05T{hm}Z"))
            .unwrap()
            .to_utc(),
        event: Event::Check {
            host: host.into(),
            check: name.into(),
            probe: crate::journal::ProbeKind::Service,
            port: None,
            state,
            result: result.into(),
            detail: (result == "stale").then(|| "planet stale: updated 3d ago".into()),
            note: None,
            ip: None,
            address: None,
        },
    }
}

#[test]
fn reasons_come_from_the_checks_as_they_stood_not_from_the_last_health_change() {
    use CheckState as C;
    use HostHealth as H;
    let mut degraded = health("09:10", "mail", H::Down, H::Degraded);
    if let Event::Health { reasons, .. } = &mut degraded.event {
        *reasons = vec![
            "ssh refused".into(),
            "mail: PTR x.example.net does not resolve back".into(),
        ];
    }
    let entries = [
        health("09:00", "mail", H::Unknown, H::Down),
        check("09:00:00", "mail", "ssh", C::Down, "refused"),
        check("09:00:00", "mail", "planet", C::Down, "fail"),
        degraded,
        // ssh comes back a second after the host turned amber; planet answers, stale.
        check("09:10:01", "mail", "ssh", C::Up, "ok"),
        check("09:10:01", "mail", "planet", C::Up, "stale"),
        Entry {
            at: at("10:00"),
            event: Event::Stop {
                reason: None,
                pid: None,
            },
        },
    ];
    let pm = build(&entries, Sources::default(), "j", None, vec![]);
    let h = &pm.hosts[0];
    assert_eq!(h.periods[0].reasons, ["ssh refused", "planet fail"]);
    // ssh's one red second in a 50-minute period is no reason; the PTR is.
    assert_eq!(
        h.periods[1].reasons,
        [
            "planet stale",
            "mail: PTR x.example.net does not resolve back"
        ]
    );
    assert_eq!(
        h.reasons_at_end,
        [
            "planet stale: updated 3d ago",
            "mail: PTR x.example.net does not resolve back"
        ]
    );
}

#[test]
fn runs_of_several_processes_and_a_killed_one() {
    let start = |hm: &str, pid: u32| Entry {
        at: at(hm),
        event: Event::Start {
            name: "m".into(),
            inventory: "m.toml".into(),
            who: Some(if pid == 2 { "bob" } else { "ann" }.into()),
            version: None,
            pid: Some(pid),
            hosts: vec![],
            resolvers: vec![],
            window_start: None,
            window_end: None,
            checklist: vec![],
        },
    };
    let stop = |hm: &str, pid: u32| Entry {
        at: at(hm),
        event: Event::Stop {
            reason: None,
            pid: Some(pid),
        },
    };
    // ann's moveday (1) runs all along; bob's (2) from 10:00 to 11:00; ann's is killed at
    // some point after 12:00 and restarted (3) at 13:00.
    let entries = [
        start("09:00", 1),
        start("10:00", 2),
        stop("11:00", 2),
        start("13:00", 3),
        stop("14:00", 3),
    ];
    let pm = build(&entries, Sources::default(), "j", None, vec![]);
    let runs: Vec<(u32, Option<DateTime<Utc>>)> =
        pm.runs.iter().map(|r| (r.pid.unwrap(), r.stop)).collect();
    assert_eq!(
        runs,
        [(1, None), (2, Some(at("11:00"))), (3, Some(at("14:00")))]
    );
    let md = markdown_in(
        &pm,
        TimeZoneChoice::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
    );
    assert!(
        md.contains("- moveday watched from 09:00 to 14:00."),
        "{md}"
    );
}

/// Issue 15 item 19: control bytes from any source (a note stored raw in the state file,
/// hand-written journal lines with ESC or BEL in notes, `who` or host names) never reach
/// the report's output raw, and a note escaped in the journal but raw in the state file is
/// one note, not two.
#[test]
fn texts_are_escaped_in_the_output_and_a_raw_note_is_not_doubled() {
    use crate::checklist::{ChecklistEvent, NoteEvent};
    let raw = "reboot\x1b[2J\x07 done\u{9b}31m";
    let note = ChecklistEvent::Note {
        id: "a".into(),
        note: NoteEvent {
            text: raw.into(),
            who: "ann".into(),
            at: at("09:00"),
        },
    };
    let mut doc = ChecklistDoc::new();
    doc.apply(&note);
    let journal = [
        // As the dashboard journals it: escaped.
        crate::journal::checklist_event(&note),
        // Hand-written lines.
        Entry {
            at: at("09:05"),
            event: Event::Text {
                text: "hello\x1b]0;pwned\x07".into(),
                who: "eve\x1b[31m".into(),
                host: Some("web\x07".into()),
            },
        },
        health("09:06", "db\x1b[1m", HostHealth::Up, HostHealth::Down),
        Entry {
            at: at("09:07"),
            event: Event::Note {
                id: "b\x1b".into(),
                text: "two\nlines ## heading".into(),
                who: "mal\u{85}".into(),
            },
        },
    ];
    let pm = build(
        &journal,
        Sources {
            inventory: None,
            state_file: Some(&doc),
        },
        "j",
        None,
        vec![],
    );
    let notes: Vec<&str> = pm.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        notes.iter().filter(|t| t.starts_with("reboot")).count(),
        1,
        "{notes:?}"
    );
    let md = markdown_in(
        &pm,
        TimeZoneChoice::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
    );
    let json = json(&pm);
    for out in [&md, &json] {
        let bad: Vec<char> = out
            .chars()
            .filter(|&c| c != '\n' && (c.is_control() || c == '\u{9b}'))
            .collect();
        assert!(bad.is_empty(), "{bad:?} in:\n{out}");
    }
    assert!(md.contains("reboot\\x1b[2J\\x07 done"), "{md}");
    assert!(md.contains("eve\\x1b[31m"), "{md}");
    assert!(
        !md.contains("\n## heading") && !md.contains("\nlines"),
        "{md}"
    );
    serde_json::from_str::<serde_json::Value>(&json).expect("still JSON");
}

/// Issue 15 item 21: the report's time grows with the journal, not with its square. A host
/// that went down and came back 20,000 times, its check failing each time: each period's
/// reasons looked at every check change of the host (400 million looks, a minute or more
/// in a debug build); now only at the changes within the period.
#[test]
fn a_long_journal_of_flapping_is_reported_in_linear_time() {
    let base = at("09:00");
    let mut entries = Vec::new();
    for i in 0..20_000i64 {
        let down = base + chrono::Duration::seconds(40 * i);
        let up = down + chrono::Duration::seconds(20);
        let mut c = check("00:00:00", "web", "http", CheckState::Down, "timeout");
        c.at = down;
        entries.push(c);
        let mut h = health("00:00", "web", HostHealth::Up, HostHealth::Down);
        h.at = down;
        entries.push(h);
        let mut c = check("00:00:00", "web", "http", CheckState::Up, "200");
        c.at = up;
        entries.push(c);
        let mut h = health("00:00", "web", HostHealth::Down, HostHealth::Up);
        h.at = up;
        entries.push(h);
    }
    let started = std::time::Instant::now();
    let pm = build(
        &entries,
        Sources {
            inventory: None,
            state_file: None,
        },
        "j",
        None,
        vec![],
    );
    let took = started.elapsed();
    let web = &pm.hosts[0];
    assert_eq!(web.periods.len(), 40_000);
    assert_eq!(web.periods[0].reasons, ["http timeout"]);
    // Generous (a loaded machine, a debug build): the fix takes well under a second.
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}

fn delegation(hm: &str, verdict: crate::journal::GlueKind, ip: &str) -> Entry {
    let ok = verdict == crate::journal::GlueKind::New;
    Entry {
        at: at(hm),
        event: Event::Delegation {
            zone: "example.org".into(),
            ok,
            alarm: !ok,
            agrees_with_zone: Some(true),
            glue: vec![crate::journal::GlueEntry {
                name: "ns-master.example.org".into(),
                verdict,
                addresses: vec![ip.parse().unwrap()],
            }],
            problems: match ok {
                true => vec![],
                false => vec![format!(
                    "parent glue for ns-master.example.org is still {ip} (old): update it at the registrar"
                )],
            },
            error: None,
        },
    }
}

/// The report says when the parent's glue first pointed at the new address, or that it
/// never did (and names it still open).
#[test]
fn the_report_says_when_the_glue_first_pointed_at_the_new_address() {
    use crate::journal::GlueKind::{New, Old};
    let fixed = [
        delegation("12:19", Old, "198.51.100.10"),
        delegation("14:32", New, "203.0.113.10"),
        delegation("15:00", Old, "198.51.100.10"),
        delegation("15:10", New, "203.0.113.10"),
    ];
    let pm = build(&fixed, Sources::default(), "j", None, vec![]);
    let d = pm.zones[0].delegation.as_ref().unwrap();
    assert_eq!(d.glue[0].first_new, Some(at("14:32")));
    assert_eq!(d.first_ok, Some(at("14:32")));
    assert_eq!(d.glue[0].history.len(), 4);
    let md = markdown_in(
        &pm,
        TimeZoneChoice::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
    );
    assert!(
        md.contains("- example.org: parent glue for ns-master.example.org first pointed at 203.0.113.10 (new) at 14:32, 2h 13m after the start."),
        "{md}"
    );
    assert!(pm.still_open.is_empty(), "{:?}", pm.still_open);

    let never = [delegation("12:19", Old, "198.51.100.10")];
    let pm = build(&never, Sources::default(), "j", None, vec![]);
    let md = markdown_in(
        &pm,
        TimeZoneChoice::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
    );
    assert!(
        md.contains("- example.org: parent glue for ns-master.example.org never pointed at the new address: 198.51.100.10 (old) at the end."),
        "{md}"
    );
    assert_eq!(pm.still_open[0].kind, "delegation");
    assert!(
        pm.still_open[0].text.contains("registrar"),
        "{:?}",
        pm.still_open
    );
}
