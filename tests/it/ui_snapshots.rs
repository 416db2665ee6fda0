//! Snapshots of the rendered screen (through ratatui's `TestBackend`) for a realistic move of
//! example.org from 198.51.100.0/24 to 203.0.113.0/24, mid-way through the day.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::FixedOffset;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use moveday::checklist::{ChecklistEvent, NoteEvent, TickEvent};
use moveday::config::{Inventory, Theme};
use moveday::probe::{
    DnsAnswer, DnsError, DnsOutcome, HostsEntry, HostsFileOutcome, HttpOutcome, HttpResponse,
    Outcome, PingMode, PingOutcome, ProbeError, ProbeReport, SshBanner, SshOutcome, Target,
    TargetSource,
};
use moveday::store::Input;
use moveday::store::{self, State};
use moveday::ui::{self, Effect, Focus, Screen, UiState};

const INVENTORY: &str = r#"
hosts_file = "/etc/hosts"

[move]
name = "example.org to the new datacenter"
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"

[[resolver]]
name = "system"
system = true

[[resolver]]
name = "ns-master"
address = "203.0.113.10"

[[resolver]]
name = "ns-slave"
address = "192.0.2.53"

[[host]]
name = "ns-master"
fqdn = "ns-master.example.org"
old_ip = "198.51.100.10"
new_ip = "203.0.113.10"

[[host]]
name = "mail"
fqdn = "mail.example.org"
old_ip = "198.51.100.11"
new_ip = "203.0.113.11"
http = "https://mail.example.org/"

[[host]]
name = "www"
fqdn = "www.example.org"
old_ip = "198.51.100.12"
new_ip = "203.0.113.12"
http = "http://www.example.org/"

[[host]]
name = "planet"
fqdn = "planet.example.org"
old_ip = "198.51.100.14"
new_ip = "203.0.113.14"
http = "http://planet.example.org/"

[[host]]
name = "vbox"
fqdn = "vbox.example.org"
old_ip = "198.51.100.13"
new_ip = "203.0.113.13"

[[host]]
name = "drawable"
fqdn = "drawable.example.org"
old_ip = "198.51.100.15"
http = "http://drawable.example.org/"

[[host]]
name = "buildbot"
fqdn = "buildbot.example.org"
old_ip = "198.51.100.16"
new_ip = "203.0.113.16"

[[host]]
name = "git"
fqdn = "git.example.org"
old_ip = "198.51.100.17"
new_ip = "203.0.113.17"
http = "https://git.example.org/"
"#;

/// 2009-12-12 14:00:00 UTC, the morning of the move.
const T0: u64 = 1_260_626_400;

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

/// "Now" in every snapshot: 14:02:00.
fn now() -> SystemTime {
    t(120)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(x: f64) -> Duration {
    Duration::from_secs_f64(x / 1000.0)
}

struct Builder {
    state: State,
}

impl Builder {
    fn report(&mut self, host: usize, at: u64, outcome: Outcome) {
        store::reduce(
            &mut self.state,
            ProbeReport::Probe {
                host,
                at: t(at),
                outcome,
            },
        );
    }

    fn target(&mut self, host: usize, at: u64, addr: &str, source: TargetSource) {
        let target = Target {
            ip: ip(addr),
            source,
        };
        self.report(host, at, Outcome::Target(Ok(target)));
    }

    /// Pings every 10 s from `start`; `None` is a lost ping.
    fn pings(&mut self, host: usize, start: u64, addr: &str, rtts: &[Option<f64>]) {
        for (i, rtt) in rtts.iter().enumerate() {
            let result = match rtt {
                Some(x) => Ok(ms(*x)),
                None => Err(ProbeError::Timeout),
            };
            let outcome = Outcome::Ping(PingOutcome {
                ip: ip(addr),
                mode: PingMode::IcmpDgram,
                result,
            });
            self.report(host, start + 10 * i as u64, outcome);
        }
    }

    fn ssh(&mut self, host: usize, at: u64, addr: &str, result: Result<(&str, f64), ProbeError>) {
        let result = result.map(|(banner, latency)| SshBanner {
            banner: banner.to_string(),
            latency: ms(latency),
        });
        // Two rounds with the same result: flap damping has settled (red is red).
        for _ in 0..2 {
            self.report(
                host,
                at,
                Outcome::Ssh(SshOutcome {
                    ip: ip(addr),
                    port: 22,
                    result: result.clone(),
                }),
            );
        }
    }

    fn http(
        &mut self,
        host: usize,
        at: u64,
        addr: &str,
        url: &str,
        result: Result<HttpResponse, ProbeError>,
    ) {
        for _ in 0..2 {
            self.report(
                host,
                at,
                Outcome::Http(HttpOutcome {
                    ip: ip(addr),
                    url: url.to_string(),
                    result: result.clone(),
                }),
            );
        }
    }

    /// One answer per resolver (system, ns-master, ns-slave).
    fn dns(&mut self, host: usize, at: u64, answers: [Result<&str, DnsError>; 3]) {
        for (resolver, answer) in answers.into_iter().enumerate() {
            let result = answer.map(|a| DnsAnswer {
                more: 0,
                addresses: vec![ip(a)],
                ttl: if resolver == 2 { 3600 } else { 300 },
                latency: ms(4.0),
                authoritative: None,
            });
            self.report(host, at, Outcome::Dns(DnsOutcome { resolver, result }));
        }
    }

    fn hosts_file(&mut self, host: usize, at: u64, entries: &[(&str, usize)]) {
        let result = Ok(entries
            .iter()
            .map(|(a, line)| HostsEntry {
                ip: ip(a),
                line: *line,
            })
            .collect());
        self.report(host, at, Outcome::HostsFile(HostsFileOutcome { result }));
    }

    fn round_done(&mut self, host: usize, at: u64) {
        store::reduce(&mut self.state, ProbeReport::RoundDone { host, at: t(at) });
    }
}

fn ok_http(
    status: u16,
    latency: f64,
    location: Option<&str>,
    body: usize,
) -> Result<HttpResponse, ProbeError> {
    Ok(HttpResponse {
        status,
        latency: ms(latency),
        location: location.map(str::to_string),
        body_bytes: body,
        truncated: false,
    })
}

/// Eight hosts two minutes into the move: five up (one of them with a hosts file that still
/// points at its old address, one redirecting, one whose resolvers disagree), one degraded
/// with HTTP refused, one down, one not heard from yet.
fn move_state() -> State {
    let inventory = Inventory::parse(Path::new("inventory.toml"), INVENTORY).unwrap();
    let mut b = Builder {
        state: State::new(Arc::new(inventory)),
    };
    store::reduce(
        &mut b.state,
        ProbeReport::PingMode {
            mode: PingMode::IcmpDgram,
            hint: None,
        },
    );
    let new = TargetSource::NewIp;
    let all_new = |a: &'static str| [Ok(a), Ok(a), Ok(a)];

    // ns-master: up, and the hosts file agrees with DNS.
    b.target(0, 5, "203.0.113.10", new);
    b.pings(0, 18, "203.0.113.10", &[Some(21.3); 10]);
    b.ssh(0, 6, "203.0.113.10", Ok(("SSH-2.0-OpenSSH_5.3", 44.0)));
    b.dns(0, 111, all_new("203.0.113.10"));
    b.hosts_file(0, 111, &[("203.0.113.10", 9)]);
    b.round_done(0, 6);

    // mail: up; the hosts file has a typo of the new address.
    b.target(1, 7, "203.0.113.11", new);
    b.pings(
        1,
        19,
        "203.0.113.11",
        &[
            Some(22.8),
            Some(23.1),
            Some(22.4),
            Some(24.0),
            Some(22.9),
            Some(23.3),
            Some(22.7),
            Some(23.0),
            Some(25.6),
            Some(22.6),
        ],
    );
    b.ssh(1, 8, "203.0.113.11", Ok(("SSH-2.0-OpenSSH_5.3", 47.0)));
    b.http(
        1,
        9,
        "203.0.113.11",
        "https://mail.example.org/",
        ok_http(200, 182.0, None, 5_342),
    );
    b.dns(1, 112, all_new("203.0.113.11"));
    b.hosts_file(1, 112, &[("203.0.113.99", 10)]);
    b.round_done(1, 9);

    // www: up, redirects to https; the slave name server still has the old address cached.
    b.target(2, 9, "203.0.113.12", new);
    b.pings(
        2,
        20,
        "203.0.113.12",
        &[
            Some(19.9),
            Some(20.4),
            Some(20.1),
            Some(19.7),
            Some(21.0),
            Some(20.2),
            Some(20.0),
            Some(19.8),
            Some(20.3),
            Some(20.6),
        ],
    );
    b.ssh(2, 10, "203.0.113.12", Ok(("SSH-2.0-OpenSSH_5.3", 41.0)));
    b.http(
        2,
        11,
        "203.0.113.12",
        "http://www.example.org/",
        ok_http(301, 38.0, Some("https://www.example.org/"), 231),
    );
    b.dns(
        2,
        113,
        [Ok("203.0.113.12"), Ok("203.0.113.12"), Ok("198.51.100.12")],
    );
    b.hosts_file(2, 113, &[]);
    b.round_done(2, 11);

    // planet: ping and SSH answer, HTTP is refused (the new ACLs forgot port 80); the slave
    // name server times out; one ping in ten lost.
    b.target(3, 12, "203.0.113.14", new);
    b.pings(
        3,
        21,
        "203.0.113.14",
        &[
            Some(31.0),
            Some(30.2),
            None,
            Some(29.8),
            Some(33.5),
            Some(30.9),
            Some(31.4),
            Some(30.0),
            Some(32.2),
            Some(30.7),
        ],
    );
    b.ssh(3, 13, "203.0.113.14", Ok(("SSH-2.0-OpenSSH_5.3", 62.0)));
    b.http(
        3,
        14,
        "203.0.113.14",
        "http://planet.example.org/",
        Err(ProbeError::Refused),
    );
    b.dns(
        3,
        114,
        [
            Ok("203.0.113.14"),
            Ok("203.0.113.14"),
            Err(DnsError::Timeout),
        ],
    );
    b.hosts_file(3, 114, &[]);
    b.round_done(3, 14);

    // vbox: up on its new address, but this machine's /etc/hosts still points at the old
    // one — the post-mortem's trap.
    b.target(4, 15, "203.0.113.13", new);
    b.pings(
        4,
        22,
        "203.0.113.13",
        &[
            Some(24.6),
            Some(25.1),
            Some(24.9),
            Some(26.3),
            Some(24.8),
            Some(25.0),
            Some(24.7),
            Some(25.4),
            Some(24.5),
            Some(25.2),
        ],
    );
    b.ssh(4, 16, "203.0.113.13", Ok(("SSH-2.0-OpenSSH_5.3", 52.0)));
    b.dns(4, 115, all_new("203.0.113.13"));
    b.hosts_file(4, 115, &[("198.51.100.13", 12)]);
    b.round_done(4, 16);

    // drawable: no new_ip in the inventory; probes follow the system resolver.
    b.target(5, 17, "203.0.113.15", TargetSource::SystemDns);
    b.pings(
        5,
        23,
        "203.0.113.15",
        &[
            Some(27.7),
            Some(27.1),
            Some(28.0),
            Some(27.4),
            Some(27.9),
            Some(27.2),
            Some(27.6),
            Some(27.3),
            Some(28.8),
            Some(27.5),
        ],
    );
    b.ssh(5, 18, "203.0.113.15", Ok(("SSH-2.0-OpenSSH_5.3", 55.0)));
    b.http(
        5,
        19,
        "203.0.113.15",
        "http://drawable.example.org/",
        ok_http(200, 96.0, None, 18_920),
    );
    b.dns(5, 116, all_new("203.0.113.15"));
    b.hosts_file(5, 116, &[]);
    b.round_done(5, 19);

    // buildbot: nothing answers since it was racked.
    b.target(6, 20, "203.0.113.16", new);
    b.pings(6, 30, "203.0.113.16", &[None; 9]);
    b.ssh(6, 21, "203.0.113.16", Err(ProbeError::Timeout));
    b.dns(6, 117, all_new("203.0.113.16"));
    b.hosts_file(6, 117, &[]);
    b.round_done(6, 22);

    // git: just added to DNS; no probe has come back yet.
    b.target(7, 118, "203.0.113.17", new);
    b.dns(
        7,
        118,
        [
            Err(DnsError::NxDomain),
            Ok("203.0.113.17"),
            Err(DnsError::NxDomain),
        ],
    );
    b.state
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap()
}

fn ui_with(selected: usize) -> UiState {
    let mut ui = UiState::new(utc());
    ui.selected = selected;
    ui
}

fn draw(
    state: &State,
    ui: &UiState,
    theme: &Theme,
    width: u16,
    height: u16,
) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| ui::render(frame, state, ui, theme, now()))
        .unwrap();
    terminal
}

fn screen(state: &State, ui: &UiState, theme: &Theme, width: u16, height: u16) -> String {
    draw(state, ui, theme, width, height).backend().to_string()
}

fn dark() -> Theme {
    Theme::by_name("dark").unwrap()
}

fn buffer(terminal: &Terminal<TestBackend>) -> &Buffer {
    terminal.backend().buffer()
}

/// The row of the buffer as text.
fn row_text(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

#[test]
fn grid_and_detail_80x24() {
    let state = move_state();
    insta::assert_snapshot!(screen(&state, &ui_with(4), &dark(), 80, 24));
}

#[test]
fn wide_120x40() {
    let state = move_state();
    insta::assert_snapshot!(screen(&state, &ui_with(2), &dark(), 120, 40));
}

#[test]
fn help_overlay_80x24() {
    let state = move_state();
    let mut ui = ui_with(0);
    ui.help_visible = true;
    insta::assert_snapshot!(screen(&state, &ui, &dark(), 80, 24));
}

#[test]
fn detail_focused_80x24() {
    let state = move_state();
    let mut ui = ui_with(2);
    ui.focus = Focus::Detail;
    insta::assert_snapshot!(screen(&state, &ui, &dark(), 80, 24));
}

#[test]
fn detail_scrolled_80x20() {
    let state = move_state();
    let mut ui = ui_with(3);
    ui.focus = Focus::Detail;
    ui.detail_scroll = 3;
    let terminal = draw(&state, &ui, &dark(), 80, 20);
    assert_eq!(ui.drawn.get().detail_max_scroll, 4);
    insta::assert_snapshot!(terminal.backend().to_string());
}

/// The post-mortem's trap: drawable has no new_ip, and this machine's /etc/hosts still maps
/// it to the old address, so every probe goes to the old datacenter and it looks dead.
#[test]
fn hosts_file_trap_80x24() {
    let inventory = Inventory::parse(Path::new("inventory.toml"), INVENTORY).unwrap();
    let mut b = Builder {
        state: move_state(),
    };
    assert_eq!(b.state.inventory.hosts, inventory.hosts);
    b.hosts_file(5, 100, &[("198.51.100.15", 14)]);
    b.target(5, 100, "198.51.100.15", TargetSource::HostsFile);
    b.pings(5, 100, "198.51.100.15", &[None, None]);
    b.ssh(5, 101, "198.51.100.15", Err(ProbeError::Timeout));
    b.http(
        5,
        101,
        "198.51.100.15",
        "http://drawable.example.org/",
        Err(ProbeError::Timeout),
    );
    let mut ui = ui_with(5);
    ui.focus = Focus::Detail;
    let text = screen(&b.state, &ui, &dark(), 80, 24);
    assert!(text.contains("198.51.100.15 from /etc/hosts"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn detail_hidden_80x24() {
    let state = move_state();
    let mut ui = ui_with(6);
    ui.detail_visible = false;
    ui.set_message("probing every host now…");
    insta::assert_snapshot!(screen(&state, &ui, &dark(), 80, 24));
}

#[test]
fn tiny_40x10() {
    let state = move_state();
    insta::assert_snapshot!(screen(&state, &ui_with(4), &dark(), 40, 10));
}

#[test]
fn no_size_panics() {
    let state = move_state();
    for (detail, help, focus) in [
        (true, false, Focus::Grid),
        (true, true, Focus::Detail),
        (false, false, Focus::Grid),
    ] {
        let mut ui = ui_with(7);
        ui.detail_visible = detail;
        ui.help_visible = help;
        ui.focus = focus;
        ui.detail_scroll = 1000;
        ui.help_scroll = 1000;
        ui.grid_offset = 1000;
        for w in 0..=45 {
            for h in 0..=14 {
                draw(&state, &ui, &dark(), w, h);
            }
        }
    }
    // An inventory without hosts.
    let empty = State::new(Arc::new(
        Inventory::parse(Path::new("empty.toml"), "[move]\nname = \"nothing yet\"\n").unwrap(),
    ));
    let text = screen(&empty, &ui_with(3), &dark(), 80, 24);
    assert!(text.contains("No hosts in the inventory."), "{text}");
}

/// Monochrome (`NO_COLOR`): the text, then one character per cell for its modifiers
/// (hex of bold 1, dim 2, underlined 4, reversed 8; `.` for none).
#[test]
fn monochrome_80x24() {
    let state = move_state();
    let theme = Theme::monochrome();
    let terminal = draw(&state, &ui_with(4), &theme, 80, 24);
    let buf = buffer(&terminal);
    let mut mask = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "colour at {x},{y}"
            );
            let m = cell.modifier;
            let bits = u8::from(m.contains(Modifier::BOLD))
                | u8::from(m.contains(Modifier::DIM)) << 1
                | u8::from(m.contains(Modifier::UNDERLINED)) << 2
                | u8::from(m.contains(Modifier::REVERSED)) << 3;
            mask.push(if bits == 0 {
                '.'
            } else {
                char::from_digit(u32::from(bits), 16).unwrap()
            });
        }
        mask.push('\n');
    }
    insta::assert_snapshot!(format!("{}\n{mask}", terminal.backend()));
}

#[test]
fn colours_follow_the_theme() {
    let state = move_state();
    let theme = dark();
    let terminal = draw(&state, &ui_with(4), &theme, 80, 24);
    let buf = buffer(&terminal);
    // The grid's rows start under the title bar, the grid title and the header.
    let vbox_row = 3 + 4;
    assert!(row_text(buf, vbox_row).contains("vbox"));
    let x_old = row_text(buf, vbox_row)
        .find("⚠ OLD IP")
        .map(|byte| row_text(buf, vbox_row)[..byte].chars().count() as u16);
    let cell = &buf[(x_old.unwrap(), vbox_row)];
    assert_eq!(cell.fg, theme.verdict_old);
    assert!(cell.modifier.contains(Modifier::REVERSED | Modifier::BOLD));
    // The selected row has the selection's background; "● up" keeps its colour.
    assert_eq!(buf[(0, vbox_row)].bg, theme.selected_bg);
    assert_eq!(buf[(0, vbox_row)].fg, theme.up);
    // The down host's health is in the down colour.
    let buildbot_row = 3 + 6;
    assert!(row_text(buf, buildbot_row).starts_with("✖ down"));
    assert_eq!(buf[(0, buildbot_row)].fg, theme.down);
}

#[test]
fn every_theme_renders() {
    let state = move_state();
    for name in ["dark", "light", "high-contrast"] {
        let theme = Theme::by_name(name).unwrap();
        let text = screen(&state, &ui_with(4), &theme, 80, 24);
        // Same words whatever the colours.
        assert_eq!(text, screen(&state, &ui_with(4), &dark(), 80, 24), "{name}");
    }
}

#[test]
fn thousand_hosts_scroll_to_the_selection() {
    let mut toml = String::from("[move]\nname = \"a big move\"\n");
    for i in 0..1000 {
        toml.push_str(&format!(
            "[[host]]\nname = \"node{i:04}\"\nfqdn = \"node{i:04}.example.org\"\nnew_ip = \"203.0.113.{}\"\n",
            i % 250 + 1
        ));
    }
    let inventory = Inventory::parse(Path::new("big.toml"), &toml).unwrap();
    let state = State::new(Arc::new(inventory));
    let mut ui = ui_with(0);
    ui.detail_visible = false;
    // Page down three times, as the app would, with the grid's height from each frame.
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    for _ in 0..3 {
        terminal
            .draw(|frame| ui::render(frame, &state, &ui, &dark(), now()))
            .unwrap();
        ui::apply(&mut ui, ui::Action::PageDown, &state, now());
    }
    terminal
        .draw(|frame| ui::render(frame, &state, &ui, &dark(), now()))
        .unwrap();
    let rows = ui.drawn.get().grid_rows;
    assert_eq!(rows, 20);
    assert_eq!(ui.selected, 60);
    let text = terminal.backend().to_string();
    assert!(text.contains("node0060"), "{text}");
    assert!(
        !text.contains("node0061") && !text.contains("node0040"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn tcp_ping_hint_and_message_share_the_status_bar() {
    let mut state = move_state();
    store::reduce(
        &mut state,
        ProbeReport::PingMode {
            mode: PingMode::Tcp,
            hint: Some(
                "ICMP not permitted; allow it with: sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\""
                    .into(),
            ),
        },
    );
    let mut ui = ui_with(0);
    let wide = screen(&state, &ui, &dark(), 160, 24);
    let last = wide.lines().last().unwrap().to_string();
    assert!(
        last.contains("ping: TCP connect (no ICMP) — ICMP not permitted"),
        "{last}"
    );
    ui.set_message("probing every host now…");
    let narrow = screen(&state, &ui, &dark(), 80, 24);
    let last = narrow.lines().last().unwrap().to_string();
    assert!(last.contains("probing every host now…"), "{last}");
    assert!(last.contains("? help"), "{last}");
    insta::assert_snapshot!(last);
    // The help carries the whole hint.
    ui.help_visible = true;
    let help = screen(&state, &ui, &dark(), 100, 30);
    assert!(help.contains("ping_group_range"), "{help}");
}

#[test]
fn hostile_banner_does_not_reach_the_terminal() {
    let mut state = move_state();
    // Straight into the store, skipping the probe's own sanitizing.
    store::reduce(
        &mut state,
        ProbeReport::Probe {
            host: 4,
            at: t(119),
            outcome: Outcome::Ssh(SshOutcome {
                ip: ip("203.0.113.13"),
                port: 22,
                result: Ok(SshBanner {
                    banner: "SSH-2.0-evil\x1b[2J\x1b]0;pwned\x07\u{9b}31m\r\nrm -rf".into(),
                    latency: ms(3.0),
                }),
            }),
        },
    );
    for (w, h) in [(80, 24), (120, 40)] {
        let terminal = draw(&state, &ui_with(4), &dark(), w, h);
        let buf = buffer(&terminal);
        for cell in buf.content() {
            assert!(
                !cell.symbol().chars().any(char::is_control),
                "control character {:?} in the buffer",
                cell.symbol()
            );
        }
        let text = terminal.backend().to_string();
        assert!(text.contains("evil\\x1b[2J"), "{text}");
    }
}

/// Issue 15, item 7: a NOERROR answer without records is "nodata", not "nxdomain", and the
/// detail pane puts a space between the verdict and its text (it printed
/// `✖ nxdomainno A/AAAA records`).
#[test]
fn no_records_is_nodata_with_a_space_before_its_text() {
    let mut state = move_state();
    for (resolver, error) in [(0, DnsError::NoRecords), (1, DnsError::NxDomain)] {
        store::reduce(
            &mut state,
            ProbeReport::Probe {
                host: 4,
                at: t(119),
                outcome: Outcome::Dns(DnsOutcome {
                    resolver,
                    result: Err(error),
                }),
            },
        );
    }
    let text = screen(&state, &ui_with(4), &dark(), 120, 40);
    assert!(text.contains("✖ nodata  no A/AAAA records"), "{text}");
    assert!(!text.contains("nxdomainno"), "{text}");
}

// ---------------------------------------------------------------------------------------
// The checklist pane.

/// The move plan, drawn from the post-mortem: sixteen items over three phases, some of them
/// linked to live probes of the move above.
const CHECKLIST: &str = r#"
[[checklist]]
id = "lower-ttl"
phase = "before"
text = "Lower the TTL of every moving name to 300 s, a week ahead"

[[checklist]]
id = "contact-secondaries"
phase = "before"
text = "Tell every secondary DNS operator the new master IP"

[[checklist]]
id = "review-acl"
phase = "before"
text = "Review the new network ACL dump: is port 80 open to every web host?"

[[checklist]]
id = "check-backups"
phase = "before"
text = "Check last night's backups, vbox included"

[[checklist]]
id = "puppet-ips"
phase = "before"
text = "Change the node IPs in puppet"

[[checklist]]
id = "announce"
phase = "before"
text = "Announce the downtime on the lists"

[[checklist]]
id = "shut-down"
phase = "move"
text = "Shut down all eight servers cleanly"

[[checklist]]
id = "move-racks"
phase = "move"
text = "Move and rack the servers at the new datacenter"

[[checklist]]
id = "ns-master-up"
phase = "move"
text = "Bring up ns-master first"
check = "ns-master.health"

[[checklist]]
id = "hosts-files"
phase = "move"
text = "Remove pinned old addresses from the admins' /etc/hosts"
check = "vbox.hosts_file"

[[checklist]]
id = "verify-mail"
phase = "after"
text = "Verify mail: web archive and SMTP"
check = "mail.http"

[[checklist]]
id = "verify-www"
phase = "after"
text = "Verify www on port 80"
check = "www.http"

[[checklist]]
id = "verify-planet"
phase = "after"
text = "Verify planet updates (remove the stale lock file)"
check = "planet.http"

[[checklist]]
id = "buildbot-ports"
phase = "after"
text = "Get the buildbot and jabber ports opened"
check = "buildbot.ssh"

[[checklist]]
id = "reenable-mail"
phase = "after"
text = "Re-enable outgoing mail slowly: Yahoo and Google throttle a backlog"

[[checklist]]
id = "verify-git"
phase = "after"
text = "Verify git once DNS has it"
check = "git.http"
"#;

/// A tick at `secs` after 14:00:00 (negative: earlier).
fn checklist_tick(
    state: &mut State,
    id: &str,
    who: &str,
    secs: i64,
    done: bool,
    evidence: Option<&str>,
    forced: bool,
) {
    let at = chrono::DateTime::<chrono::Utc>::from(t(0)) + chrono::Duration::seconds(secs);
    store::reduce(
        state,
        Input::ChecklistEvent(ChecklistEvent::Tick {
            id: id.into(),
            tick: TickEvent {
                done,
                who: who.into(),
                at,
                evidence: evidence.map(str::to_string),
                forced,
            },
        }),
    );
}

/// The move above with its plan: nine of sixteen items done by four people (one backed by
/// its check, one forced while its check was red), one with a note, one unticked again.
fn checklist_state() -> State {
    let inventory = Inventory::parse(
        Path::new("inventory.toml"),
        &format!("{INVENTORY}{CHECKLIST}"),
    )
    .unwrap();
    let mut state = move_state();
    state.inventory = Arc::new(inventory);
    let h = 3600;
    let s = &mut state;
    checklist_tick(
        s,
        "lower-ttl",
        "ann@t61",
        -7 * 24 * h - 4 * h,
        true,
        None,
        false,
    );
    checklist_tick(
        s,
        "contact-secondaries",
        "bob@noc",
        -6 * h + 600,
        true,
        None,
        false,
    );
    checklist_tick(
        s,
        "check-backups",
        "carol@x200",
        -5 * h - 1200,
        true,
        None,
        false,
    );
    checklist_tick(s, "puppet-ips", "ann@t61", -5 * h + 120, true, None, false);
    checklist_tick(s, "announce", "bob@noc", -4 * h - 2700, true, None, false);
    checklist_tick(
        s,
        "shut-down",
        "carol@x200",
        -3 * h - 1800,
        true,
        None,
        false,
    );
    checklist_tick(s, "move-racks", "dave@mbp", -h - 900, true, None, false);
    checklist_tick(
        s,
        "ns-master-up",
        "ann@t61",
        -120,
        true,
        Some("ns-master.health: up"),
        false,
    );
    checklist_tick(s, "verify-www", "dave@mbp", 30, true, None, false);
    checklist_tick(s, "verify-www", "dave@mbp", 60, false, None, false);
    checklist_tick(
        s,
        "verify-planet",
        "dave@mbp",
        90,
        true,
        Some("planet.http: refused at 203.0.113.14"),
        true,
    );
    store::reduce(
        s,
        Input::ChecklistEvent(ChecklistEvent::Note {
            id: "contact-secondaries".into(),
            note: NoteEvent {
                text: "axu.tm: bind slaves can try both master IPs".into(),
                who: "bob@noc".into(),
                at: chrono::DateTime::<chrono::Utc>::from(t(0)) - chrono::Duration::hours(5),
            },
        }),
    );
    state
}

/// The position of an item in the pane (phase by phase).
fn position(state: &State, id: &str) -> usize {
    ui::checklist::order(&state.inventory)
        .iter()
        .position(|&i| state.inventory.checklist[i].id == id)
        .unwrap()
}

fn checklist_ui(selected_host: usize) -> UiState {
    ui_with(selected_host).with_who("alice@laptop")
}

fn press(ui: &mut UiState, state: &State, code: KeyCode) -> Option<Effect> {
    ui::on_key(ui, KeyEvent::new(code, KeyModifiers::NONE), state, now())
}

#[test]
fn checklist_below_80x24() {
    let state = checklist_state();
    let mut ui = checklist_ui(4);
    // As the app opens it: at the first item not done yet.
    ui.select_first_open(&state, now());
    assert_eq!(ui.checklist_selected, position(&state, "review-acl"));
    let text = screen(&state, &ui, &dark(), 80, 24);
    assert!(
        text.contains("[ ] open          Review the new network ACL dump"),
        "{text}"
    );
    // Eight hosts, the detail and the first checklist lines share the screen.
    for host in ["ns-master", "git", "Health  ● up", "Checklist"] {
        assert!(text.contains(host), "{host} in\n{text}");
    }
    assert!(text.contains("who: alice@laptop"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn checklist_beside_160x40() {
    let state = checklist_state();
    let mut ui = checklist_ui(3);
    ui.focus = Focus::Checklist;
    ui.checklist_selected = position(&state, "verify-planet");
    let text = screen(&state, &ui, &dark(), 160, 40);
    for want in [
        "[x] done",
        "[✔] done-by-check",
        "[›] ready",
        "[ ] open",
        "⚠ forced dave@mbp 14:01",
        "mail.http ✔ 200 from 203.0.113.11",
        "planet.http ✖ refused at 203.0.113.14",
        "git.http … pending",
        "✎ axu.tm: bind slaves can try both master IPs",
        "Dec 05 10:00",
        "unticked dave@mbp 14:01",
        "before  ",
        "9/16",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    insta::assert_snapshot!(text);
}

#[test]
fn checklist_full_height_80x24() {
    let state = checklist_state();
    let mut ui = checklist_ui(0);
    assert_eq!(
        press(&mut ui, &state, KeyCode::Char('c')),
        Some(Effect::None)
    );
    assert!(ui.checklist_full);
    assert_eq!(ui.focus, Focus::Checklist);
    // Down to the ready item; the pane scrolls to keep it in view.
    let target = position(&state, "verify-mail");
    for _ in 0..target {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal
            .draw(|frame| ui::render(frame, &state, &ui, &dark(), now()))
            .unwrap();
        press(&mut ui, &state, KeyCode::Char('j'));
    }
    assert_eq!(ui.checklist_selected, target);
    let text = screen(&state, &ui, &dark(), 80, 24);
    assert!(text.contains("[›] ready         Verify mail"), "{text}");
    assert!(!text.contains("Hosts (8)"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn checklist_note_editor_80x24() {
    let state = checklist_state();
    let mut ui = checklist_ui(0);
    ui.focus = Focus::Checklist;
    ui.checklist_selected = position(&state, "review-acl");
    press(&mut ui, &state, KeyCode::Char('n'));
    for c in "port 80 missing: ticket #4711 with the NOC".chars() {
        press(&mut ui, &state, KeyCode::Char(c));
    }
    let text = screen(&state, &ui, &dark(), 80, 24);
    assert!(text.contains("Note on review-acl"), "{text}");
    assert!(
        text.contains("› port 80 missing: ticket #4711 with the NOC"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn checklist_confirm_red_80x24() {
    let state = checklist_state();
    let mut ui = checklist_ui(0);
    ui.focus = Focus::Checklist;
    ui.checklist_selected = position(&state, "buildbot-ports");
    assert_eq!(
        press(&mut ui, &state, KeyCode::Char(' ')),
        Some(Effect::None)
    );
    let text = screen(&state, &ui, &dark(), 80, 24);
    assert!(
        text.contains("buildbot.ssh is red: timeout at 203.0.113.16 — tick anyway? y/N"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn checklist_help_lists_the_keys_80x24() {
    let state = checklist_state();
    let mut ui = checklist_ui(0);
    ui.help_visible = true;
    let text = screen(&state, &ui, &dark(), 80, 24);
    for want in [
        "Space",
        "tick / untick",
        "note on the checklist item",
        "undo",
        "who is ticking",
        "checklist full height",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    insta::assert_snapshot!(text);
    // Further down: the checklist's symbols and the editor's keys.
    ui.help_scroll = 100;
    let text = screen(&state, &ui, &dark(), 80, 24);
    for want in ["[✔] done-by-check", "⚠ forced", "Backspace", "y ticks it"] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
}

#[test]
fn warning_stays_until_dismissed() {
    let mut state = checklist_state();
    store::reduce(
        &mut state,
        Input::Warning(
            "state file was corrupt; moved aside to moveday.json.corrupt-20091212T140000".into(),
        ),
    );
    let mut ui = checklist_ui(0);
    let last = |state: &State, ui: &UiState| {
        screen(state, ui, &dark(), 80, 24)
            .lines()
            .last()
            .unwrap()
            .to_string()
    };
    let bar = last(&state, &ui);
    assert!(bar.contains("⚠ state file was corrupt"), "{bar}");
    assert!(bar.contains("who: alice@laptop"), "{bar}");
    insta::assert_snapshot!(bar);
    // The clock does not make it go away.
    ui::on_tick(&mut ui, t(200));
    ui::on_tick(&mut ui, t(300));
    assert!(last(&state, &ui).contains("⚠ state file was corrupt"));
    // Esc does.
    assert_eq!(press(&mut ui, &state, KeyCode::Esc), Some(Effect::None));
    assert!(
        ui.detail_visible,
        "the first Esc dismisses the warning only"
    );
    assert!(!last(&state, &ui).contains("corrupt"));
    // A new warning shows again.
    store::reduce(
        &mut state,
        Input::Warning("cannot write the state file".into()),
    );
    assert!(last(&state, &ui).contains("⚠ cannot write the state file"));
}

#[test]
fn checklist_no_size_panics() {
    let state = checklist_state();
    for (full, focus, mode) in [
        (false, Focus::Grid, 0),
        (false, Focus::Checklist, 1),
        (true, Focus::Checklist, 2),
    ] {
        let mut ui = checklist_ui(7);
        ui.checklist_full = full;
        ui.focus = focus;
        ui.checklist_selected = 15;
        ui.checklist_offset = 1000;
        if mode == 1 {
            press(&mut ui, &state, KeyCode::Char('n'));
        } else if mode == 2 {
            ui.checklist_selected = position(&state, "buildbot-ports");
            press(&mut ui, &state, KeyCode::Char(' '));
        }
        for w in (0..=60).chain([139, 140, 141]) {
            for h in 0..=16 {
                draw(&state, &ui, &dark(), w, h);
            }
        }
    }
}

#[test]
fn dns_view_120x30() {
    // Every resolver about every name, with the TTL left and until when old answers live.
    let state = move_state();
    let mut ui = ui_with(4);
    ui.screen = Some(Screen::Resolvers);
    let text = screen(&state, &ui, &dark(), 120, 30);
    assert!(
        text.contains("DNS · every resolver about every name"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

/// A zone whose primary moved: one secondary lags behind, another answers without
/// authority (lame) and with an NS set of its own; www's TTL was never lowered; mail's PTR
/// does not resolve back.
fn zone_trouble_state() -> State {
    use moveday::probe::{
        AuthAnswer, DnsAnswer, DnsOutcome, Outcome, ProbeReport, PtrAnswer, PtrOutcome, ZoneAnswer,
        ZoneOutcome,
    };
    let inv = Inventory::parse(
        Path::new("dns.toml"),
        r#"
[move]
name = "dns view"
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"
[[resolver]]
name = "ns-master"
address = "203.0.113.10"
[[zone]]
name = "example.org"
primary = "203.0.113.10"
secondaries = ["192.0.2.53", "192.0.2.54"]
contact = { "192.0.2.53" = "Aleksi, +358 40 123 4567", "192.0.2.54" = "noc@example.net" }
[[host]]
name = "mail"
fqdn = "mail.example.org"
new_ip = "203.0.113.11"
role = "mail"
[[host]]
name = "www"
fqdn = "www.example.org"
new_ip = "203.0.113.15"
"#,
    )
    .unwrap();
    let mut state = State::new(Arc::new(inv));
    let probe = |host: usize, outcome: Outcome| ProbeReport::Probe {
        host,
        at: t(100),
        outcome,
    };
    let answer = |a: &str, ttl: u32, aa: bool| DnsAnswer {
        more: 0,
        addresses: vec![ip(a)],
        ttl,
        latency: ms(1.0),
        authoritative: Some(aa),
    };
    // Columns: ns-master (the primary), then the two secondaries the zone adds.
    let cell = |host: usize, resolver: usize, a: &str, ttl: u32, aa: bool| {
        probe(
            host,
            Outcome::Dns(DnsOutcome {
                resolver,
                result: Ok(answer(a, ttl, aa)),
            }),
        )
    };
    for report in [
        cell(0, 0, "203.0.113.11", 300, true),
        cell(1, 0, "198.51.100.15", 3600, true),
        cell(0, 1, "198.51.100.11", 300, true),
        cell(1, 1, "198.51.100.15", 3600, true),
        cell(0, 2, "203.0.113.11", 300, false),
        cell(1, 2, "198.51.100.15", 3600, false),
        probe(
            0,
            Outcome::PrimaryAnswer(Ok(AuthAnswer {
                more: 0,
                addresses: vec![ip("203.0.113.11")],
                ttl: 300,
                authoritative: true,
            })),
        ),
        probe(
            1,
            Outcome::PrimaryAnswer(Ok(AuthAnswer {
                more: 0,
                addresses: vec![ip("198.51.100.15")],
                ttl: 3600,
                authoritative: true,
            })),
        ),
        probe(
            0,
            Outcome::Ptr(PtrOutcome {
                ip: ip("203.0.113.11"),
                result: Ok(PtrAnswer {
                    names: vec!["old-mail.example.net".into()],
                    forward_confirmed: false,
                    ttl: 3600,
                }),
            }),
        ),
        probe(
            1,
            Outcome::Ptr(PtrOutcome {
                ip: ip("203.0.113.15"),
                result: Ok(PtrAnswer {
                    names: vec!["www.example.org".into()],
                    forward_confirmed: true,
                    ttl: 3600,
                }),
            }),
        ),
    ] {
        store::reduce(&mut state, report);
    }
    let ns = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    for (server, serial, secs, aa, ns) in [
        (
            0,
            2009121202,
            60,
            true,
            ns(&["ns-master.example.org", "ns2.example.net"]),
        ),
        (
            1,
            2009121201,
            30,
            true,
            ns(&["ns-master.example.org", "ns2.example.net"]),
        ),
        (2, 2009121202, 60, false, ns(&["ns.old-provider.example"])),
    ] {
        store::reduce(
            &mut state,
            ProbeReport::Zone {
                at: t(secs),
                outcome: ZoneOutcome {
                    zone: 0,
                    server,
                    address: None,
                    result: Ok(ZoneAnswer {
                        serial: Some(serial),
                        ns,
                        authoritative: aa,
                        latency: ms(2.0),
                    }),
                },
            },
        );
    }
    state
}

#[test]
fn dns_view_shows_aa_lame_ttl_readiness_ptr_and_a_lagging_secondary_160x16() {
    let state = zone_trouble_state();
    let mut ui = ui_with(0);
    ui.screen = Some(Screen::Resolvers);
    let text = screen(&state, &ui, &dark(), 160, 16);
    // www is still served old, with a TTL of an hour: old answers until 15:01:40; its TTL was
    // never lowered.
    assert!(text.contains("15:01:40 (in 59m40s)"), "{text}");
    assert!(text.contains("⚠ 3600s long"), "{text}");
    // The zone's servers are columns of their own, asked without recursion: AA, or LAME.
    assert!(text.contains("192.0.2.53"), "{text}");
    assert!(text.contains("✔ NEW 203.0.113.11 280s AA"), "{text}");
    assert!(text.contains("✔ NEW 203.0.113.11 280s LAME"), "{text}");
    assert!(
        text.contains("192.0.2.54 serves the zone but answers without authority (lame)"),
        "{text}"
    );
    assert!(
        text.contains("2009121201 ⚠ behind 1m30s, call Aleksi"),
        "{text}"
    );
    insta::assert_snapshot!(text);

    // At 120 columns the primary's TTL gives way too, and the screen says where it is.
    let narrow = screen(&state, &ui, &dark(), 120, 16);
    assert!(!narrow.contains("Primary TTL"), "{narrow}");
    assert!(narrow.contains("z: zones, primary TTL, PTR"), "{narrow}");
}

#[test]
fn zones_view_names_the_lagging_secondary_its_contact_lame_servers_and_ns_sets_120x20() {
    let state = zone_trouble_state();
    let mut ui = ui_with(0);
    ui.screen = Some(Screen::Zones);
    let text = screen(&state, &ui, &dark(), 120, 20);
    assert!(text.contains("NS ✖ the servers disagree"), "{text}");
    assert!(text.contains("2009121201 ⚠ behind 1m30s"), "{text}");
    assert!(text.contains("☎ Aleksi, +358 40 123 4567"), "{text}");
    assert!(text.contains("2009121202 ✖ lame (no AA)"), "{text}");
    assert!(text.contains("☎ noc@example.net"), "{text}");
    assert!(text.contains("≠ ns.old-provider.example"), "{text}");
    assert!(text.contains("= primary"), "{text}");
    assert!(text.contains("⚠ 3600s long"), "{text}");
    assert!(text.contains("(no FCrDNS, mail!)"), "{text}");
    insta::assert_snapshot!(text);
}

/// Issue 5's failures: www's port 80 dropped by the new ACL while 443 answers, its planet
/// page frozen since the reboot, a certificate about to expire, mail's submission port
/// failing once (amber: 1 of 2), jabber's ports closed, and www's old address still
/// answering.
fn services_state() -> State {
    use moveday::probe::ports::{PortResult, PortState};
    use moveday::probe::service::{CertInfo, ServiceResult, ServiceState};
    use moveday::probe::{OldOutcome, PortsOutcome, ServiceOutcome};
    let inv = Inventory::parse(
        Path::new("services.toml"),
        r#"
[move]
name = "services"
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"
[[host]]
name = "www"
fqdn = "www.example.org"
old_ip = "198.51.100.12"
new_ip = "203.0.113.12"
ssh = false
ports = [80, 443]
probe_old = true
[[host.service]]
name = "site"
kind = "https"
url = "https://www.example.org/"
[[host.service]]
name = "planet"
kind = "http"
url = "http://planet.example.org/"
max_age = "1h"
[[host]]
name = "mail"
fqdn = "mail.example.org"
new_ip = "203.0.113.11"
ssh = false
ports = [25, 587]
[[host.service]]
name = "smtp"
kind = "smtp"
[[host]]
name = "jabber"
fqdn = "jabber.example.org"
new_ip = "203.0.113.17"
ssh = false
ports = [5222, 5269]
[[host.service]]
name = "c2s"
kind = "tcp"
port = 5222
"#,
    )
    .unwrap();
    let mut state = State::new(Arc::new(inv));
    let port = |port: u16, state: PortState, detail: Option<&str>| PortResult {
        port,
        state,
        latency: ms(0.4),
        detail: detail.map(str::to_string),
    };
    let result = |state: ServiceState, detail: &str, error: Option<&str>| ServiceResult {
        smtp_names: None,
        command: None,
        state,
        detail: detail.into(),
        error: error.map(str::to_string),
        latency: ms(12.0),
        age: None,
        cert: None,
    };
    let ping = |addr: &str, ok: bool| {
        Outcome::Ping(PingOutcome {
            ip: ip(addr),
            mode: PingMode::IcmpDgram,
            result: if ok {
                Ok(ms(0.5))
            } else {
                Err(ProbeError::Timeout)
            },
        })
    };
    let filtered = Some("no answer in 1s: firewall/ACL drop");
    let mut site = result(
        ServiceState::Warn,
        "200 OK · 12 KiB · cert expires in 9 days (2026-12-04)",
        Some("certificate expires in 9 days (2026-12-04)"),
    );
    site.cert = Some(Box::new(CertInfo {
        subject: "CN=www.example.org".into(),
        issuer: "CN=Example CA".into(),
        not_after: t(9 * 86_400),
        days_left: 9,
        name_matches: true,
        trusted: true,
        chain_error: None,
    }));
    let mut planet = result(
        ServiceState::Stale,
        "200 OK · 4 KiB · updated 3d 2h ago",
        Some("stale: updated 3d 2h ago, max_age 1h"),
    );
    planet.age = Some(Duration::from_secs(3 * 86_400 + 7_200));
    // Two rounds (flap damping settles), except mail's 587, which fails only in the second.
    for round in 0..2u64 {
        let at = 100 + round;
        let mut reports = vec![
            (0, ping("203.0.113.12", true)),
            (
                0,
                Outcome::Ports(PortsOutcome {
                    ip: ip("203.0.113.12"),
                    ports: vec![
                        port(80, PortState::Filtered, filtered),
                        port(443, PortState::Open, None),
                    ],
                }),
            ),
            (
                0,
                Outcome::Service(ServiceOutcome {
                    service: 0,
                    ip: ip("203.0.113.12"),
                    result: site.clone(),
                }),
            ),
            (
                0,
                Outcome::Service(ServiceOutcome {
                    service: 1,
                    ip: ip("203.0.113.12"),
                    result: planet.clone(),
                }),
            ),
            (
                0,
                Outcome::Old(OldOutcome {
                    ip: ip("198.51.100.12"),
                    ports: vec![
                        port(80, PortState::Open, None),
                        port(443, PortState::Refused, Some("nothing listening")),
                    ],
                    services: vec![
                        result(ServiceState::Fail, "", Some("connect refused")),
                        result(ServiceState::Ok, "200 OK · 3 KiB", None),
                    ],
                }),
            ),
            (1, ping("203.0.113.11", true)),
            (
                1,
                Outcome::Ports(PortsOutcome {
                    ip: ip("203.0.113.11"),
                    ports: vec![
                        port(25, PortState::Open, None),
                        if round == 0 {
                            port(587, PortState::Open, None)
                        } else {
                            port(587, PortState::Refused, Some("nothing listening"))
                        },
                    ],
                }),
            ),
            (
                1,
                Outcome::Service(ServiceOutcome {
                    service: 0,
                    ip: ip("203.0.113.11"),
                    result: result(
                        ServiceState::Ok,
                        "220 mail.example.org ESMTP Postfix · STARTTLS",
                        None,
                    ),
                }),
            ),
            (2, ping("203.0.113.17", false)),
            (
                2,
                Outcome::Ports(PortsOutcome {
                    ip: ip("203.0.113.17"),
                    ports: vec![
                        port(5222, PortState::Refused, Some("nothing listening")),
                        port(5269, PortState::Refused, Some("nothing listening")),
                    ],
                }),
            ),
            (
                2,
                Outcome::Service(ServiceOutcome {
                    service: 0,
                    ip: ip("203.0.113.17"),
                    result: result(ServiceState::Fail, "", Some("connect refused")),
                }),
            ),
        ];
        for (host, outcome) in reports.drain(..) {
            store::reduce(
                &mut state,
                ProbeReport::Probe {
                    host,
                    at: t(at),
                    outcome,
                },
            );
        }
    }
    state
}

#[test]
fn services_in_the_grid_and_detail_120x24() {
    let state = services_state();
    let text = screen(&state, &ui_with(0), &dark(), 120, 24);
    assert!(text.contains("✖ 80 filtered"), "{text}");
    assert!(text.contains("⚠ planet stale"), "{text}");
    assert!(text.contains("✖ 587 refused"), "{text}");
    assert!(
        text.contains("✔ 0/1 ok") || text.contains("✖ c2s fail"),
        "{text}"
    );
    // The detail pane: every port and service, the old address, the reasons.
    assert!(text.contains("✖ 80 filtered (ACL?)"), "{text}");
    assert!(
        text.contains("stale: updated 3d 2h ago, max_age 1h"),
        "{text}"
    );
    assert!(text.contains("still answers"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn services_screen_lists_every_port_and_service_140x24() {
    let state = services_state();
    let mut ui = ui_with(0);
    ui.screen = Some(Screen::Services);
    let text = screen(&state, &ui, &dark(), 140, 24);
    assert!(text.contains("www port 80 filtered (ACL?)"), "{text}");
    assert!(text.contains("✖ refused (1 of 2 failed)"), "{text}");
    assert!(text.contains("certificate expires in 9 days"), "{text}");
    assert!(text.contains("⚠ still answers"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn timeline_newest_first_and_filtered_100x16() {
    use moveday::journal::{self, Timeline};
    // The journal of a few minutes: www's port 80 filtered then fixed, a note, a tick.
    let mut state = State::new(services_state().inventory.clone());
    let mut timeline = Timeline::new();
    timeline.push(&[journal::start_event(&state.inventory, "ann", t(0))]);
    let port = |state: moveday::probe::ports::PortState| {
        Outcome::Ports(moveday::probe::PortsOutcome {
            ip: ip("203.0.113.12"),
            ports: vec![
                moveday::probe::ports::PortResult {
                    port: 80,
                    state,
                    latency: ms(0.4),
                    detail: None,
                },
                moveday::probe::ports::PortResult {
                    port: 443,
                    state: moveday::probe::ports::PortState::Open,
                    latency: ms(0.4),
                    detail: None,
                },
            ],
        })
    };
    use moveday::probe::ports::PortState::{Filtered, Open};
    for (secs, p) in [(10, Filtered), (12, Filtered), (60, Open)] {
        let (_, entries) = journal::reduce(
            &mut state,
            ProbeReport::Probe {
                host: 0,
                at: t(secs),
                outcome: port(p),
            },
        );
        timeline.push(&entries);
    }
    timeline.push(&[
        journal::text_event("ACL fixed, ticket #4711", "ann", Some("www"), t(50)).unwrap(),
    ]);
    let view = |filter: &str| {
        let mut ui = ui_with(0);
        ui.screen = Some(Screen::Timeline);
        ui.timeline_filter = filter.to_string();
        let mut terminal = Terminal::new(TestBackend::new(100, 16)).unwrap();
        terminal
            .draw(|frame| {
                ui::render_with_timeline(frame, &state, &ui, &dark(), now(), Some(&timeline))
            })
            .unwrap();
        terminal.backend().to_string()
    };
    let all = view("");
    assert!(all.contains("ACL fixed, ticket #4711"), "{all}");
    assert!(all.contains("port 80"), "{all}");
    let mail = view("mail");
    assert!(!mail.contains("ACL fixed"), "{mail}");
    insta::assert_snapshot!(all);
}

/// Issue 15, item 7: a host name of ten characters is followed by a space in the timeline
/// (it ran into the text after it).
#[test]
fn timeline_keeps_a_space_after_a_ten_character_host() {
    use moveday::journal::{self, Timeline};
    let state = State::new(services_state().inventory.clone());
    let mut timeline = Timeline::new();
    timeline.push(&[journal::text_event("relay moved", "ann", Some("mailrelay1"), t(50)).unwrap()]);
    let mut ui = ui_with(0);
    ui.screen = Some(Screen::Timeline);
    let mut terminal = Terminal::new(TestBackend::new(100, 16)).unwrap();
    terminal
        .draw(|frame| ui::render_with_timeline(frame, &state, &ui, &dark(), now(), Some(&timeline)))
        .unwrap();
    let text = terminal.backend().to_string();
    assert!(text.contains("mailrelay1 "), "{text}");
    assert!(!text.contains("mailrelay1ann"), "{text}");
}

/// Issue 15, item 7: a zone server is never asked about a name outside its zones; the
/// detail pane says "not asked", as the JSON does, rather than "… waiting" forever.
#[test]
fn detail_says_not_asked_for_a_zone_server_of_other_zones() {
    let text = r#"
[[zone]]
name = "example.org"
primary = "127.0.0.1:5353"
[[host]]
name = "elsewhere"
fqdn = "www.other.test"
ping = false
ssh = false
"#;
    let inventory = Arc::new(Inventory::parse(Path::new("zones.toml"), text).unwrap());
    let state = State::new(inventory);
    let screen = screen(&state, &ui_with(0), &dark(), 120, 40);
    let row = screen
        .lines()
        .find(|l| l.contains("127.0.0.1:5353") || l.contains("not asked"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("- not asked (serves other zones)"), "{screen}");
    assert!(
        !row.contains("waiting") && !row.contains("· asked"),
        "{screen}"
    );
}

/// `zone_trouble_state`'s mail host, with its mail checks in: SPF still authorizes only the
/// old address, one list has it (with a hostile reason), one refuses to answer, the MX
/// points here, and the SMTP service says HELO with a name that is not its PTR's.
fn mail_trouble_state() -> State {
    use moveday::probe::mail::{
        DnsblAnswer, DnsblCheck, DnsblOutcome, MailDomain, MailOutcome, MxAnswer, MxHost,
        MxOutcome, SpfCheck, SpfOutcome, SpfResult,
    };
    use moveday::probe::{Outcome, ProbeReport};
    let mut state = zone_trouble_state();
    let new = ip("203.0.113.11");
    let check = |address: &str, result| SpfCheck {
        ip: ip(address),
        result,
        why: None,
    };
    let domains = MailOutcome {
        domains: vec![MailDomain {
            mx: MxOutcome {
                domain: "example.org".into(),
                result: Ok(MxAnswer {
                    hosts: vec![MxHost {
                        preference: 10,
                        name: "mail.example.org".into(),
                        addresses: Ok(vec![new]),
                        more: 0,
                    }],
                    more: 0,
                    null_mx: false,
                    points_here: true,
                    old: false,
                    ttl: 300,
                }),
            },
            spf: SpfOutcome {
                domain: "example.org".into(),
                record: Ok(Some("v=spf1 ip4:198.51.100.11 -all".into())),
                new_ip: Some(check("203.0.113.11", SpfResult::Fail)),
                old_ip: Some(check("198.51.100.11", SpfResult::Pass)),
            },
        }],
    };
    let list = |zone: &str, result| DnsblCheck {
        zone: zone.into(),
        ip: new,
        result: Ok(result),
    };
    let lists = DnsblOutcome {
        ip: new,
        checks: vec![
            list(
                "bl.example.net",
                DnsblAnswer::Listed {
                    codes: vec!["127.0.0.2".parse().unwrap()],
                    reason: Some("backlog burst \\x1b[2J see https://bl.example.net/".into()),
                    ttl: 900,
                },
            ),
            list(
                "big.example.com",
                DnsblAnswer::Refused {
                    code: "127.255.255.254".parse().unwrap(),
                },
            ),
            list("small.example.com", DnsblAnswer::NotListed),
        ],
    };
    for outcome in [Outcome::Mail(domains), Outcome::Dnsbl(lists)] {
        store::reduce(
            &mut state,
            ProbeReport::Probe {
                host: 0,
                at: t(100),
                outcome,
            },
        );
    }
    state
}

#[test]
fn mail_in_the_detail_pane_and_the_services_view_120x30() {
    let state = mail_trouble_state();
    let ui = ui_with(0);
    let text = screen(&state, &ui, &dark(), 120, 30);
    for want in [
        "✖ SPF fail · example.org: authorizes only the old address (198.51.100.11 passes)",
        "✔ MX here · example.org: mail.example.org → 203.0.113.11",
        "✖ DNSBL listed · bl.example.net: 203.0.113.11: backlog burst",
        "⚠ DNSBL refused · big.example.com: blocked by the list's usage policy",
        "✔ DNSBL not listed: 1 list",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    assert!(!text.contains('\u{1b}'));
    insta::assert_snapshot!("mail_detail", text);

    let mut ui = ui_with(0);
    ui.screen = Some(Screen::Services);
    let text = screen(&state, &ui, &dark(), 120, 30);
    for want in [
        "Mail: what receivers check",
        "SPF example.org",
        "DNSBL small.example.com",
        "✔ not listed",
        "mail mail: SPF of example.org authorizes only the old address",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    insta::assert_snapshot!("mail_services", text);
}

/// Two hosts and two vantage points: vbox is down here (this laptop's hosts file) but up
/// from the office, whose own resolver serves the new address; www is up everywhere; the
/// second vantage refuses the key.
fn vantage_state() -> State {
    use moveday::probe::vantage::{
        RemoteDns, RemoteHealth, RemoteHost, RemoteView, VantageOutcome,
    };
    use moveday::probe::{Outcome, PingOutcome, ProbeError, ProbeReport};
    let inv = Inventory::parse(
        Path::new("vantage.toml"),
        r#"
[move]
name = "vantage points"
old_network = "198.51.100.0/24"
new_network = "203.0.113.0/24"
[[vantage]]
name = "office"
ssh = "admin@bastion.example.org"
[[vantage]]
name = "eu"
ssh = "eu-probe"
[[host]]
name = "vbox"
fqdn = "vbox.example.org"
ssh = false
fail_after = 1
[[host]]
name = "www"
fqdn = "www.example.org"
new_ip = "203.0.113.15"
ssh = false
"#,
    )
    .unwrap();
    let mut state = State::new(Arc::new(inv));
    let ping = |ip: &str, ok: bool| {
        Outcome::Ping(PingOutcome {
            ip: ip.parse().unwrap(),
            mode: PingMode::Tcp,
            result: if ok {
                Ok(ms(0.4))
            } else {
                Err(ProbeError::Timeout)
            },
        })
    };
    let target = |ip: &str, source| {
        Outcome::Target(Ok(Target {
            ip: ip.parse().unwrap(),
            source,
        }))
    };
    for (host, outcome) in [
        (0, target("198.51.100.13", TargetSource::HostsFile)),
        (0, ping("198.51.100.13", false)),
        (1, target("203.0.113.15", TargetSource::NewIp)),
        (1, ping("203.0.113.15", true)),
    ] {
        store::reduce(
            &mut state,
            ProbeReport::Probe {
                host,
                at: t(100),
                outcome,
            },
        );
    }
    let remote = |name: &str, health, address: &str| RemoteHost {
        name: name.into(),
        health,
        target: Some(address.parse().unwrap()),
        reasons: vec![],
        dns: vec![RemoteDns {
            resolver: "system".into(),
            server: "system".into(),
            addresses: vec![address.parse().unwrap()],
            verdict: Some("new".into()),
            error: None,
        }],
    };
    for report in [
        ProbeReport::Vantage {
            at: t(110),
            outcome: VantageOutcome {
                vantage: 0,
                result: Ok(RemoteView {
                    hosts: vec![
                        remote("vbox", RemoteHealth::Up, "203.0.113.13"),
                        remote("www", RemoteHealth::Up, "203.0.113.15"),
                    ],
                    hosts_file: Some("/etc/hosts".into()),
                }),
                took: Duration::from_millis(900),
                persistent: false,
            },
        },
        ProbeReport::Vantage {
            at: t(111),
            outcome: VantageOutcome {
                vantage: 1,
                result: Err("authentication refused by eu (BatchMode: no key was accepted)".into()),
                took: Duration::from_millis(200),
                persistent: false,
            },
        },
    ] {
        store::reduce(&mut state, report);
    }
    state
}

#[test]
fn vantage_columns_detail_dns_and_status_bar_120x24() {
    let state = vantage_state();
    let text = screen(&state, &ui_with(0), &dark(), 120, 24);
    for want in [
        "office",
        "⚠ no view",
        "up from office: check this laptop's network or hosts file",
        "from office ● up · target 203.0.113.13 · DNS 203.0.113.13 new",
        "from eu ⚠ no view: authentication refused by eu",
        "⚠ vantage eu: authentication refused by eu",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    insta::assert_snapshot!("vantage_grid", text);

    let mut ui = ui_with(0);
    ui.screen = Some(Screen::Resolvers);
    let text = screen(&state, &ui, &dark(), 120, 12);
    assert!(text.contains("@office"), "{text}");
    assert!(text.contains("✔ new 203.0.113.13"), "{text}");
    insta::assert_snapshot!("vantage_dns", text);
}
