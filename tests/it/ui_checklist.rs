//! The checklist's keys, driven as the app loop drives them: `ui::on_key`, then every
//! `Effect::Checklist` reduced into the store at once.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use moveday::checklist::{ChecklistEvent, ItemStatus, TickEvent};
use moveday::config::Inventory;
use moveday::probe::{HttpOutcome, HttpResponse, Outcome, ProbeError, ProbeReport, SshOutcome};
use moveday::store::Input;
use moveday::store::{self, State};
use moveday::ui::{self, EditTarget, Effect, Focus, Mode, UiState, action_for};

const INVENTORY: &str = r#"
[move]
name = "t"

[[host]]
name = "web"
fqdn = "web.example.org"
new_ip = "203.0.113.1"
http = "http://web.example.org/"

[[host]]
name = "db"
fqdn = "db.example.org"
new_ip = "203.0.113.2"

[[checklist]]
id = "backups"
phase = "before"
text = "Check the backups"

[[checklist]]
id = "web-up"
phase = "after"
text = "web answers on port 80"
check = "web.http"

[[checklist]]
id = "db-up"
phase = "after"
text = "db answers SSH"
check = "db.ssh"
"#;

/// 2009-12-12 14:00:00 UTC.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_260_626_400)
}

/// web's HTTP answers 200; db's SSH is refused.
fn state() -> State {
    let inventory = Inventory::parse(Path::new("t.toml"), INVENTORY).unwrap();
    let mut state = State::new(Arc::new(inventory));
    store::reduce(
        &mut state,
        ProbeReport::Probe {
            host: 0,
            at: now(),
            outcome: Outcome::Http(HttpOutcome {
                ip: "203.0.113.1".parse().unwrap(),
                url: "http://web.example.org/".into(),
                result: Ok(HttpResponse {
                    status: 200,
                    latency: Duration::from_millis(30),
                    location: None,
                    body_bytes: 100,
                    truncated: false,
                }),
            }),
        },
    );
    store::reduce(
        &mut state,
        ProbeReport::Probe {
            host: 1,
            at: now(),
            outcome: Outcome::Ssh(SshOutcome {
                ip: "203.0.113.2".parse().unwrap(),
                port: 22,
                result: Err(ProbeError::Refused),
            }),
        },
    );
    state
}

/// Alice, with the checklist focused on the item `id`.
fn alice_on(state: &State, id: &str) -> UiState {
    let mut ui = UiState::default().with_who("alice@laptop");
    ui.focus = Focus::Checklist;
    select(&mut ui, state, id);
    ui
}

fn select(ui: &mut UiState, state: &State, id: &str) {
    ui.checklist_selected = ui::checklist::order(&state.inventory)
        .iter()
        .position(|&i| state.inventory.checklist[i].id == id)
        .unwrap();
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// One key press as the app loop handles it; returns the effect.
fn press_at(ui: &mut UiState, state: &mut State, k: KeyEvent, at: SystemTime) -> Option<Effect> {
    let effect = ui::on_key(ui, k, state, at);
    if let Some(Effect::Checklist(event)) = &effect {
        store::reduce(state, Input::ChecklistEvent(event.clone()));
    }
    effect
}

fn press(ui: &mut UiState, state: &mut State, code: KeyCode) -> Option<Effect> {
    press_at(ui, state, key(code), now())
}

fn typing(ui: &mut UiState, state: &mut State, text: &str) {
    for c in text.chars() {
        assert_eq!(
            press(ui, state, KeyCode::Char(c)),
            Some(Effect::None),
            "{c:?}"
        );
    }
}

fn tick_of(effect: Option<Effect>) -> (String, TickEvent) {
    match effect {
        Some(Effect::Checklist(ChecklistEvent::Tick { id, tick })) => (id, tick),
        other => panic!("expected a tick, got {other:?}"),
    }
}

fn item_status(state: &State, id: &str) -> ItemStatus {
    let item = state
        .inventory
        .checklist
        .iter()
        .find(|i| i.id == id)
        .unwrap();
    moveday::store::item_status(state, &state.checklist, item)
}

#[test]
fn space_on_a_red_item_asks_and_y_ticks_it_forced() {
    let mut state = state();
    let mut ui = alice_on(&state, "db-up");
    assert_eq!(
        press(&mut ui, &mut state, KeyCode::Char(' ')),
        Some(Effect::None)
    );
    let Mode::Confirm(confirm) = &ui.mode else {
        panic!("{:?}", ui.mode);
    };
    assert_eq!(confirm.link, "db.ssh");
    assert_eq!(confirm.detail, "refused at 203.0.113.2");
    assert!(!state.checklist.is_done("db-up"));
    // The confirmation takes the keys: `j` does not move the selection.
    assert_eq!(action_for(key(KeyCode::Char('j')), &ui), None);

    let (id, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char('y')));
    assert_eq!(id, "db-up");
    assert!(tick.done && tick.forced);
    assert_eq!(tick.who, "alice@laptop");
    assert_eq!(
        tick.evidence.as_deref(),
        Some("db.ssh: refused at 203.0.113.2")
    );
    assert_eq!(ui.mode, Mode::Normal);
    assert!(state.checklist.is_done("db-up"));
    // Forced is done by a person, not by the check.
    assert_eq!(item_status(&state, "db-up"), ItemStatus::Done);
}

#[test]
fn anything_but_y_cancels_the_confirmation() {
    for cancel in [
        KeyCode::Esc,
        KeyCode::Char('n'),
        KeyCode::Enter,
        KeyCode::Char(' '),
    ] {
        let mut state = state();
        let mut ui = alice_on(&state, "db-up");
        press(&mut ui, &mut state, KeyCode::Char(' '));
        assert!(matches!(ui.mode, Mode::Confirm(_)));
        assert_eq!(
            press(&mut ui, &mut state, cancel),
            Some(Effect::None),
            "{cancel:?}"
        );
        assert_eq!(ui.mode, Mode::Normal, "{cancel:?}");
        assert!(!state.checklist.is_done("db-up"), "{cancel:?}");
        assert!(ui.undo.is_empty());
    }
    // Ctrl-C still quits.
    let mut state = state();
    let mut ui = alice_on(&state, "db-up");
    press(&mut ui, &mut state, KeyCode::Char(' '));
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(
        press_at(&mut ui, &mut state, ctrl_c, now()),
        Some(Effect::Quit)
    );
}

#[test]
fn space_on_a_green_item_records_the_evidence() {
    let mut state = state();
    let mut ui = alice_on(&state, "web-up");
    assert_eq!(item_status(&state, "web-up"), ItemStatus::Ready);
    let (id, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char(' ')));
    assert_eq!(id, "web-up");
    assert!(tick.done && !tick.forced);
    assert_eq!(
        tick.evidence.as_deref(),
        Some("web.http: 200 from 203.0.113.1")
    );
    assert_eq!(item_status(&state, "web-up"), ItemStatus::DoneByCheck);
    // Space again unticks, without evidence.
    let (_, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char(' ')));
    assert!(!tick.done && tick.evidence.is_none());
    assert_eq!(item_status(&state, "web-up"), ItemStatus::Ready);
}

#[test]
fn undo_restores_the_previous_state() {
    let mut state = state();
    let mut ui = alice_on(&state, "backups");
    // tick → undo → open.
    press(&mut ui, &mut state, KeyCode::Char(' '));
    assert!(state.checklist.is_done("backups"));
    let (id, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char('u')));
    assert_eq!((id.as_str(), tick.done), ("backups", false));
    assert!(!state.checklist.is_done("backups"));
    assert!(ui.undo.is_empty());

    // Someone else's tick; untick → undo → done again, as it was.
    store::reduce(
        &mut state,
        Input::ChecklistEvent(ChecklistEvent::Tick {
            id: "web-up".into(),
            tick: TickEvent {
                done: true,
                who: "bob@noc".into(),
                at: chrono::DateTime::from(now()) - chrono::Duration::hours(1),
                evidence: Some("web.http: 200 from 203.0.113.1".into()),
                forced: false,
            },
        }),
    );
    select(&mut ui, &state, "web-up");
    let (_, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char(' ')));
    assert!(!tick.done);
    let (_, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char('u')));
    assert!(tick.done);
    assert_eq!(tick.who, "alice@laptop");
    assert_eq!(
        tick.evidence.as_deref(),
        Some("web.http: 200 from 203.0.113.1")
    );
    assert_eq!(item_status(&state, "web-up"), ItemStatus::DoneByCheck);

    // Repeated `u` walks back further, newest first, from any pane.
    select(&mut ui, &state, "backups");
    press(&mut ui, &mut state, KeyCode::Char(' '));
    select(&mut ui, &state, "db-up");
    press(&mut ui, &mut state, KeyCode::Char(' '));
    press(&mut ui, &mut state, KeyCode::Char('y'));
    assert!(state.checklist.is_done("db-up") && state.checklist.is_done("backups"));
    ui.focus = Focus::Grid;
    let (id, _) = tick_of(press(&mut ui, &mut state, KeyCode::Char('u')));
    assert_eq!(id, "db-up");
    let (id, _) = tick_of(press(&mut ui, &mut state, KeyCode::Char('u')));
    assert_eq!(id, "backups");
    assert!(!state.checklist.is_done("db-up") && !state.checklist.is_done("backups"));
    assert_eq!(
        press(&mut ui, &mut state, KeyCode::Char('u')),
        Some(Effect::None)
    );
    assert_eq!(
        ui.message.as_deref(),
        Some("nothing to undo in this session")
    );
}

#[test]
fn an_undo_in_the_same_instant_still_wins_the_merge() {
    // The clock has not moved (or is behind the machine that wrote the tick): the new
    // event is stamped just after the one it replaces, so the merge keeps it.
    let mut state = state();
    let mut ui = alice_on(&state, "backups");
    let (_, first) = tick_of(press(&mut ui, &mut state, KeyCode::Char(' ')));
    let (_, undo) = tick_of(press(&mut ui, &mut state, KeyCode::Char('u')));
    assert!(undo.at > first.at);
    assert!(!state.checklist.is_done("backups"));
    let earlier = now() - Duration::from_secs(3600);
    let (_, again) = tick_of(press_at(
        &mut ui,
        &mut state,
        key(KeyCode::Char(' ')),
        earlier,
    ));
    assert!(again.at > undo.at);
    assert!(state.checklist.is_done("backups"));
}

#[test]
fn note_editor_types_deletes_saves_and_cancels() {
    let mut state = state();
    let mut ui = alice_on(&state, "backups");
    press(&mut ui, &mut state, KeyCode::Char('n'));
    assert!(
        matches!(&ui.mode, Mode::Edit(e) if e.target == EditTarget::Note { id: "backups".into() })
    );
    // The editor takes every key, `q` and `j` included.
    typing(&mut ui, &mut state, "mail archive twice, qj");
    press(&mut ui, &mut state, KeyCode::Backspace);
    press(&mut ui, &mut state, KeyCode::Backspace);
    // Control characters and Ctrl/Alt chords are not text.
    press_at(
        &mut ui,
        &mut state,
        KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT),
        now(),
    );
    press(&mut ui, &mut state, KeyCode::Char('\u{1b}'));
    press(&mut ui, &mut state, KeyCode::Tab);
    let Mode::Edit(editor) = &ui.mode else {
        panic!("{:?}", ui.mode)
    };
    assert_eq!(editor.text, "mail archive twice, ");
    match press(&mut ui, &mut state, KeyCode::Enter) {
        Some(Effect::Checklist(ChecklistEvent::Note { id, note })) => {
            assert_eq!(id, "backups");
            assert_eq!(note.text, "mail archive twice,");
            assert_eq!(note.who, "alice@laptop");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ui.mode, Mode::Normal);
    let note = |state: &State| {
        state.checklist.items["backups"]
            .note
            .as_ref()
            .map(|n| n.text.clone())
    };
    assert_eq!(note(&state).as_deref(), Some("mail archive twice,"));

    // Esc cancels: nothing recorded.
    press(&mut ui, &mut state, KeyCode::Char('n'));
    let Mode::Edit(editor) = &ui.mode else {
        panic!()
    };
    assert_eq!(
        editor.text, "mail archive twice,",
        "the editor starts from the note"
    );
    typing(&mut ui, &mut state, " and more");
    assert_eq!(press(&mut ui, &mut state, KeyCode::Esc), Some(Effect::None));
    assert_eq!(ui.mode, Mode::Normal);
    assert_eq!(note(&state).as_deref(), Some("mail archive twice,"));

    // An empty note clears it.
    press(&mut ui, &mut state, KeyCode::Char('n'));
    for _ in 0..40 {
        press(&mut ui, &mut state, KeyCode::Backspace);
    }
    assert!(matches!(
        press(&mut ui, &mut state, KeyCode::Enter),
        Some(Effect::Checklist(ChecklistEvent::Note { .. }))
    ));
    assert_eq!(note(&state).as_deref(), Some(""));

    // At most 200 characters.
    press(&mut ui, &mut state, KeyCode::Char('n'));
    typing(&mut ui, &mut state, &"x".repeat(250));
    let Mode::Edit(editor) = &ui.mode else {
        panic!()
    };
    assert_eq!(editor.text.chars().count(), 200);
}

#[test]
fn w_changes_who_ticks_next() {
    let mut state = state();
    let mut ui = alice_on(&state, "backups");
    press(&mut ui, &mut state, KeyCode::Char('w'));
    assert!(
        matches!(&ui.mode, Mode::Edit(e) if e.target == EditTarget::Who && e.text == "alice@laptop")
    );
    for _ in 0.."laptop".len() {
        press(&mut ui, &mut state, KeyCode::Backspace);
    }
    typing(&mut ui, &mut state, "tmux-2");
    assert_eq!(
        press(&mut ui, &mut state, KeyCode::Enter),
        Some(Effect::None)
    );
    assert_eq!(ui.who, "alice@tmux-2");
    let (_, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char(' ')));
    assert_eq!(tick.who, "alice@tmux-2");
    // An empty name is refused.
    press(&mut ui, &mut state, KeyCode::Char('w'));
    for _ in 0..20 {
        press(&mut ui, &mut state, KeyCode::Backspace);
    }
    press(&mut ui, &mut state, KeyCode::Enter);
    assert_eq!(ui.who, "alice@tmux-2");
}

#[test]
fn nobody_yet_is_asked_who_they_are_before_a_tick() {
    let mut state = state();
    let mut ui = UiState {
        focus: Focus::Checklist,
        ..UiState::default()
    };
    assert_eq!(
        press(&mut ui, &mut state, KeyCode::Char(' ')),
        Some(Effect::None)
    );
    assert!(matches!(&ui.mode, Mode::Edit(e) if e.target == EditTarget::Who));
    typing(&mut ui, &mut state, "carol");
    press(&mut ui, &mut state, KeyCode::Enter);
    let (_, tick) = tick_of(press(&mut ui, &mut state, KeyCode::Char(' ')));
    assert_eq!(tick.who, "carol");
}

#[test]
fn tab_cycles_grid_detail_checklist_and_motion_follows_focus() {
    let mut state = state();
    let mut ui = UiState::default().with_who("a");
    assert_eq!(ui.focus, Focus::Grid);
    press(&mut ui, &mut state, KeyCode::Tab);
    assert_eq!(ui.focus, Focus::Detail);
    press(&mut ui, &mut state, KeyCode::Tab);
    assert_eq!(ui.focus, Focus::Checklist);
    press(&mut ui, &mut state, KeyCode::Char('j'));
    press(&mut ui, &mut state, KeyCode::Down);
    assert_eq!((ui.selected, ui.checklist_selected), (0, 2));
    press(&mut ui, &mut state, KeyCode::Char('j'));
    assert_eq!(ui.checklist_selected, 2, "stops at the last item");
    press(&mut ui, &mut state, KeyCode::Char('g'));
    assert_eq!(ui.checklist_selected, 0);
    press(&mut ui, &mut state, KeyCode::Tab);
    assert_eq!(ui.focus, Focus::Grid);
    press(&mut ui, &mut state, KeyCode::Char('j'));
    assert_eq!((ui.selected, ui.checklist_selected), (1, 0));
    let back_tab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
    press_at(&mut ui, &mut state, back_tab, now());
    assert_eq!(ui.focus, Focus::Checklist);
    // Space and `n` need the checklist focused.
    press(&mut ui, &mut state, KeyCode::Esc);
    assert_eq!(ui.focus, Focus::Grid);
    assert_eq!(
        press(&mut ui, &mut state, KeyCode::Char(' ')),
        Some(Effect::None)
    );
    assert!(
        ui.message
            .as_deref()
            .unwrap_or("")
            .contains("Tab to the checklist")
    );
    // `c`: full height, focused; Esc leaves it; Tab leaves it too.
    press(&mut ui, &mut state, KeyCode::Char('c'));
    assert!(ui.checklist_full && ui.focus == Focus::Checklist);
    press(&mut ui, &mut state, KeyCode::Esc);
    assert!(!ui.checklist_full && ui.focus == Focus::Checklist);
    press(&mut ui, &mut state, KeyCode::Char('c'));
    press(&mut ui, &mut state, KeyCode::Tab);
    assert!(!ui.checklist_full && ui.focus == Focus::Grid);
}

#[test]
fn without_a_checklist_its_keys_explain_and_tab_skips_it() {
    let inventory = Inventory::parse(
        Path::new("t.toml"),
        "[move]\nname = \"t\"\n[[host]]\nname = \"a\"\nfqdn = \"a.example.org\"\n",
    )
    .unwrap();
    let mut state = State::new(Arc::new(inventory));
    let mut ui = UiState::default().with_who("a");
    press(&mut ui, &mut state, KeyCode::Tab);
    press(&mut ui, &mut state, KeyCode::Tab);
    assert_eq!(ui.focus, Focus::Grid);
    press(&mut ui, &mut state, KeyCode::Char('c'));
    assert!(!ui.checklist_full);
    assert_eq!(
        ui.message.as_deref(),
        Some("the inventory has no checklist")
    );
    assert_eq!(
        press(&mut ui, &mut state, KeyCode::Char(' ')),
        Some(Effect::None)
    );
}

#[test]
fn paging_in_a_long_checklist_keeps_the_selection_in_view() {
    let mut toml = String::from("[move]\nname = \"t\"\n");
    for i in 0..100 {
        toml.push_str(&format!(
            "[[checklist]]\nid = \"i{i}\"\nphase = \"p{}\"\ntext = \"item {i}\"\n",
            i / 25
        ));
    }
    let inventory = Inventory::parse(Path::new("t.toml"), &toml).unwrap();
    let mut state = State::new(Arc::new(inventory));
    let mut ui = UiState::default().with_who("a");
    ui.checklist_full = true;
    ui.focus = Focus::Checklist;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    let theme = moveday::config::Theme::monochrome();
    for _ in 0..3 {
        terminal
            .draw(|f| ui::render(f, &state, &ui, &theme, now()))
            .unwrap();
        press(&mut ui, &mut state, KeyCode::PageDown);
    }
    terminal
        .draw(|f| ui::render(f, &state, &ui, &theme, now()))
        .unwrap();
    let text = terminal.backend().to_string();
    let shown = format!("item {} ", ui.checklist_selected);
    assert!(ui.checklist_selected > 40, "{}", ui.checklist_selected);
    assert!(text.contains(&shown), "{shown} in\n{text}");
    press(&mut ui, &mut state, KeyCode::Char('G'));
    terminal
        .draw(|f| ui::render(f, &state, &ui, &theme, now()))
        .unwrap();
    assert!(terminal.backend().to_string().contains("item 99 "));
}
