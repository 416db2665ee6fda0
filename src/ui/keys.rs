//! Keys as data: the key map, `key -> Action`, and `Action -> UiState + Effect`.
//!
//! The app loop hands every key press to [`on_key`] and acts on the returned [`Effect`];
//! nothing else changes UI state. `on_key` routes keys to the open one-line editor or
//! confirmation first (they consume every key but Ctrl-C), else maps them with
//! [`action_for`] and [`apply`]. The help overlay is generated from [`KEYMAP`], so the two
//! cannot drift.
//!
//! A tick, untick or note is never made here: it is returned as
//! [`Effect::Checklist`], which the app reduces into the store at once and hands to the
//! persistence task. What this module keeps is how to take it back: the session's undo
//! stack.

use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::checklist::{Backing, ChecklistEvent};
use crate::config::inventory::ChecklistItem;
use crate::store::{self, LinkState, State};

use super::checklist as pane;
use super::state::{
    Confirm, EditTarget, Editor, Focus, MESSAGE_TTL, Mode, Screen, UNDO_MAX, UiState, UndoEntry,
};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    ToggleDetail,
    NextPane,
    PrevPane,
    ProbeNow,
    /// Space: tick or untick the selected checklist item.
    Tick,
    /// `n`: edit the selected item's note.
    Note,
    /// `u`: take back this session's last tick or untick.
    Undo,
    /// `w`: change who ticks.
    Who,
    /// `c`: the checklist full height, or back.
    ToggleChecklist,
    /// `d`: the DNS view (every resolver about every name), or back.
    ToggleDns,
    /// `z`: the zones view (serials, NS sets, TTLs, reverse DNS), or back.
    ToggleZones,
    /// `p`: the ports and services view, or back.
    ToggleServices,
    /// `t`: the move's timeline (the journal, newest first), or back.
    ToggleTimeline,
    /// `/`: filter the timeline by host (or any word).
    Filter,
    /// `N`: write a note into the move's journal.
    JournalNote,
    /// `C`: in the zones view, write the canary to a zone's primary (asks first).
    Canary,
    ToggleHelp,
    /// Esc: closes the help, the full checklist, a pane's focus, a warning, the detail.
    Close,
    Quit,
}

impl Action {
    /// Every action, in the order the help lists them.
    pub const ALL: [Action; 25] = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::ToggleDetail,
        Action::NextPane,
        Action::PrevPane,
        Action::ProbeNow,
        Action::Tick,
        Action::Note,
        Action::Undo,
        Action::Who,
        Action::ToggleChecklist,
        Action::ToggleDns,
        Action::ToggleZones,
        Action::ToggleServices,
        Action::ToggleTimeline,
        Action::Filter,
        Action::JournalNote,
        Action::Canary,
        Action::ToggleHelp,
        Action::Close,
        Action::Quit,
    ];

    /// What the action does, for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Action::Up => "previous",
            Action::Down => "next host, checklist item or line",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first",
            Action::Bottom => "last host, item or line",
            Action::ToggleDetail => "show / hide the detail pane",
            Action::NextPane => "next pane (grid, detail, checklist)",
            Action::PrevPane => "previous pane",
            Action::ProbeNow => "probe every host now",
            Action::Tick => "tick / untick the checklist item",
            Action::Note => "note on the checklist item (empty clears it)",
            Action::Undo => "undo this session's last tick / untick",
            Action::Who => "who is ticking (for a shared tmux session)",
            Action::ToggleChecklist => "checklist full height / back",
            Action::ToggleDns => "DNS view: every resolver about every name / back",
            Action::ToggleZones => "zones: serials, NS sets, TTLs, reverse DNS / back",
            Action::ToggleServices => "ports and services of every host / back",
            Action::ToggleTimeline => "timeline: everything that changed, newest first / back",
            Action::Filter => "timeline: filter by host or word (empty clears)",
            Action::JournalNote => "write a note into the move's journal",
            Action::Canary => "zones: write the canary and watch the secondaries",
            Action::ToggleHelp => "show / hide this help",
            Action::Close => "close: help, full checklist, focus, warning, detail",
            Action::Quit => "quit",
        }
    }

    /// Whether the help overlay lets this action through (it consumes every other key).
    fn passes_help(self) -> bool {
        matches!(
            self,
            Action::ToggleHelp
                | Action::Close
                | Action::Quit
                // Scroll the help itself.
                | Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Top
                | Action::Bottom
        )
    }
}

/// The key of a screen opens it (from the top), or closes it when it is open.
fn switch_screen(ui: &mut UiState, screen: Screen) {
    ui.screen = (ui.screen != Some(screen)).then_some(screen);
    ui.screen_scroll = 0;
}

/// What the app loop must do beyond the UI state [`apply`] already changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Start a probe round of every host now.
    ProbeNow,
    /// Record a tick, untick or note: reduce it into the store at once (as
    /// `Input::ChecklistEvent`) and hand it to the persistence task.
    Checklist(ChecklistEvent),
    /// Write this note (already sanitized, by `ui.who`) into the move's journal.
    JournalNote(String),
    /// Start a canary run on this zone (index into `Inventory::zones`), written by `ui.who`.
    Canary(usize),
    Quit,
}

/// One key binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub code: KeyCode,
    /// Exactly these modifiers (SHIFT is ignored for characters: `G` and `?` arrive with
    /// or without it depending on the terminal).
    pub modifiers: KeyModifiers,
    pub action: Action,
}

const fn bind(code: KeyCode, action: Action) -> Binding {
    Binding {
        code,
        modifiers: KeyModifiers::NONE,
        action,
    }
}

/// Every key the dashboard understands (the editor's and the confirmation's own keys are
/// text, not bindings: see [`on_key`]).
pub const KEYMAP: &[Binding] = &[
    bind(KeyCode::Up, Action::Up),
    bind(KeyCode::Char('k'), Action::Up),
    bind(KeyCode::Down, Action::Down),
    bind(KeyCode::Char('j'), Action::Down),
    bind(KeyCode::PageUp, Action::PageUp),
    bind(KeyCode::PageDown, Action::PageDown),
    bind(KeyCode::Char('g'), Action::Top),
    bind(KeyCode::Home, Action::Top),
    bind(KeyCode::Char('G'), Action::Bottom),
    bind(KeyCode::End, Action::Bottom),
    bind(KeyCode::Enter, Action::ToggleDetail),
    bind(KeyCode::Tab, Action::NextPane),
    Binding {
        code: KeyCode::BackTab,
        modifiers: KeyModifiers::SHIFT,
        action: Action::PrevPane,
    },
    bind(KeyCode::Char('r'), Action::ProbeNow),
    bind(KeyCode::Char(' '), Action::Tick),
    bind(KeyCode::Char('n'), Action::Note),
    bind(KeyCode::Char('u'), Action::Undo),
    bind(KeyCode::Char('w'), Action::Who),
    bind(KeyCode::Char('c'), Action::ToggleChecklist),
    bind(KeyCode::Char('d'), Action::ToggleDns),
    bind(KeyCode::Char('z'), Action::ToggleZones),
    bind(KeyCode::Char('p'), Action::ToggleServices),
    bind(KeyCode::Char('t'), Action::ToggleTimeline),
    bind(KeyCode::Char('/'), Action::Filter),
    bind(KeyCode::Char('N'), Action::JournalNote),
    bind(KeyCode::Char('C'), Action::Canary),
    bind(KeyCode::Char('?'), Action::ToggleHelp),
    bind(KeyCode::Esc, Action::Close),
    bind(KeyCode::Char('q'), Action::Quit),
    Binding {
        code: KeyCode::Char('c'),
        modifiers: KeyModifiers::CONTROL,
        action: Action::Quit,
    },
];

impl Binding {
    /// Whether a key event is this binding.
    pub fn matches(&self, key: &KeyEvent) -> bool {
        let mods = match key.code {
            // BackTab always carries SHIFT, some terminals leave it out.
            KeyCode::Char(_) | KeyCode::BackTab => key.modifiers - KeyModifiers::SHIFT,
            _ => key.modifiers,
        };
        let want = match self.code {
            KeyCode::Char(_) | KeyCode::BackTab => self.modifiers - KeyModifiers::SHIFT,
            _ => self.modifiers,
        };
        key.code == self.code && mods == want
    }

    /// The key as the help shows it: `↑`, `PgDn`, `Ctrl-C`, `k`.
    pub fn label(&self) -> String {
        let name = match self.code {
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "Shift-Tab".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if self.modifiers.contains(KeyModifiers::CONTROL) => {
                c.to_ascii_uppercase().to_string()
            }
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        };
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            format!("Ctrl-{name}")
        } else {
            name
        }
    }
}

/// The bindings of one action, in map order.
pub fn bindings_of(action: Action) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| b.action == action)
}

/// The action for a key, if any. Key releases are ignored; while the help is open it
/// consumes every key but `?`, `Esc`, quit and scrolling; while an editor or a
/// confirmation is open, every key but quit is theirs ([`on_key`] routes them).
pub fn action_for(key: KeyEvent, ui: &UiState) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let action = KEYMAP.iter().find(|b| b.matches(&key))?.action;
    if ui.mode != Mode::Normal && !is_interrupt(&key) {
        return None;
    }
    if ui.help_visible && !action.passes_help() {
        return None;
    }
    Some(action)
}

/// Ctrl-C: quits whatever is open.
fn is_interrupt(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// Handles one key press: the open editor or confirmation takes it, else the key map.
/// Returns `None` when the key meant nothing (no redraw needed).
pub fn on_key(ui: &mut UiState, key: KeyEvent, state: &State, now: SystemTime) -> Option<Effect> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if is_interrupt(&key) {
        return Some(Effect::Quit);
    }
    match std::mem::take(&mut ui.mode) {
        Mode::Normal => action_for(key, ui).map(|action| apply(ui, action, state, now)),
        Mode::Edit(editor) => Some(edit_key(ui, editor, key, state, now)),
        Mode::Confirm(confirm) => Some(confirm_key(ui, confirm, key, state, now)),
        Mode::ConfirmCanary(ask) => Some(canary::confirm_key(ui, &ask, key)),
    }
}

/// A key for the one-line editor: printable characters, Backspace, Enter, Esc.
fn edit_key(
    ui: &mut UiState,
    mut editor: Editor,
    key: KeyEvent,
    state: &State,
    now: SystemTime,
) -> Effect {
    let plain = (key.modifiers - KeyModifiers::SHIFT).is_empty();
    match key.code {
        KeyCode::Esc => {
            ui.set_message(match editor.target {
                EditTarget::Note { .. } => "note not changed",
                EditTarget::Who => "who not changed",
                EditTarget::TimelineFilter => "filter not changed",
                EditTarget::JournalNote => "no note written",
            });
            return Effect::None;
        }
        KeyCode::Enter => return commit(ui, editor, state, now),
        KeyCode::Backspace => {
            editor.text.pop();
        }
        KeyCode::Char(c)
            if plain && printable(c) && editor.text.chars().count() < editor.target.max_chars() =>
        {
            editor.text.push(c);
        }
        _ => {}
    }
    ui.mode = Mode::Edit(editor);
    Effect::None
}

/// Whether the terminal shows `c` as itself (no control or bidi characters in notes).
fn printable(c: char) -> bool {
    let mut buf = [0u8; 4];
    let text = c.encode_utf8(&mut buf);
    crate::sanitize::sanitize(text, 1) == *text
}

/// Enter in the editor.
fn commit(ui: &mut UiState, editor: Editor, state: &State, now: SystemTime) -> Effect {
    let text = editor.text.trim();
    let text = crate::sanitize::sanitize(text, editor.target.max_chars());
    match editor.target {
        EditTarget::TimelineFilter => {
            ui.timeline_filter = text;
            ui.screen_scroll = 0;
            Effect::None
        }
        EditTarget::JournalNote => {
            if text.is_empty() {
                ui.set_message("no note written: it was empty");
                return Effect::None;
            }
            if !require_who(ui) {
                return Effect::None;
            }
            ui.set_message("note written to the journal");
            Effect::JournalNote(text)
        }
        EditTarget::Who => {
            if text.is_empty() {
                ui.set_message("who not changed: a name cannot be empty");
            } else {
                ui.who = text;
                ui.set_message(format!("ticks are now recorded as {}", ui.who));
            }
            Effect::None
        }
        EditTarget::Note { id } => {
            let current = state.checklist.note_of(&id);
            if current.map_or("", |n| n.text.as_str()) == text {
                ui.set_message("note not changed");
                return Effect::None;
            }
            ui.set_message(if text.is_empty() {
                format!("note on {id} cleared")
            } else {
                format!("note on {id} saved")
            });
            Effect::Checklist(state.checklist.note(&id, &ui.who, &text, now))
        }
    }
}

/// A key while "tick anyway?" is asked: `y` ticks, anything else cancels.
fn confirm_key(
    ui: &mut UiState,
    confirm: Confirm,
    key: KeyEvent,
    state: &State,
    now: SystemTime,
) -> Effect {
    let yes = matches!(key.code, KeyCode::Char('y' | 'Y'))
        && (key.modifiers - KeyModifiers::SHIFT).is_empty();
    if !yes {
        ui.set_message(format!("{} not ticked", confirm.id));
        return Effect::None;
    }
    let backing = Backing {
        evidence: Some(confirm.evidence),
        forced: true,
    };
    record_tick(ui, state, &confirm.id, Some(backing), now)
}

/// The item the checklist selection is on.
fn selected_item<'a>(ui: &UiState, state: &'a State) -> Option<&'a ChecklistItem> {
    let order = pane::order(&state.inventory);
    let index = *order.get(ui.checklist_selected)?;
    state.inventory.checklist.get(index)
}

/// When nobody has said who they are, opens the who editor and returns false.
fn require_who(ui: &mut UiState) -> bool {
    if !ui.who.trim().is_empty() {
        return true;
    }
    ui.mode = Mode::Edit(Editor {
        target: EditTarget::Who,
        text: String::new(),
    });
    ui.set_message("who is ticking? type your name, Enter, then try again");
    false
}

/// Space on the selected item.
fn tick_selected(ui: &mut UiState, state: &State, now: SystemTime) -> Effect {
    let Some(item) = selected_item(ui, state) else {
        return Effect::None;
    };
    if !require_who(ui) {
        return Effect::None;
    }
    if state.checklist.is_done(&item.id) {
        return record_tick(ui, state, &item.id, None, now);
    }
    let Some(link) = &item.check else {
        return record_tick(ui, state, &item.id, Some(Backing::default()), now);
    };
    match store::link_state(state, link) {
        red @ LinkState::Red(_) => {
            ui.mode = Mode::Confirm(Confirm {
                id: item.id.clone(),
                link: store::link_name(state, link),
                detail: store::link_words(link, &red),
                evidence: store::evidence(state, link, &red),
            });
            Effect::None
        }
        green @ LinkState::Green(_) => {
            let backing = Backing {
                evidence: Some(store::evidence(state, link, &green)),
                forced: false,
            };
            record_tick(ui, state, &item.id, Some(backing), now)
        }
        // No result yet: nothing to back the tick, nothing to contradict it.
        LinkState::Pending => record_tick(ui, state, &item.id, Some(Backing::default()), now),
    }
}

/// A tick (`Some`, with what backs it) or an untick (`None`) by the current operator,
/// remembered for `u`.
fn record_tick(
    ui: &mut UiState,
    state: &State,
    id: &str,
    tick: Option<Backing>,
    now: SystemTime,
) -> Effect {
    let previous = state.checklist.tick_of(id).cloned();
    if ui.undo.len() == UNDO_MAX {
        ui.undo.remove(0);
    }
    ui.undo.push(UndoEntry {
        id: id.to_string(),
        previous,
    });
    ui.set_message(match &tick {
        Some(Backing { forced: true, .. }) => format!("{id} ticked although its check is red"),
        Some(_) => format!("{id} ticked by {}", ui.who),
        None => format!("{id} unticked by {}", ui.who),
    });
    Effect::Checklist(match tick {
        Some(backing) => state.checklist.tick(id, &ui.who, backing, now),
        None => state.checklist.untick(id, &ui.who, now),
    })
}

/// `u`: a new event that puts the last ticked item of this session back as it was.
fn undo(ui: &mut UiState, state: &State, now: SystemTime) -> Effect {
    let Some(entry) = ui.undo.pop() else {
        ui.set_message("nothing to undo in this session");
        return Effect::None;
    };
    if !require_who(ui) {
        ui.undo.push(entry);
        return Effect::None;
    }
    let event = state
        .checklist
        .restore(&entry.id, &ui.who, entry.previous, now);
    let done = matches!(&event, ChecklistEvent::Tick { tick, .. } if tick.done);
    ui.set_message(format!(
        "undone: {} is {} again",
        entry.id,
        if done { "done" } else { "open" }
    ));
    Effect::Checklist(event)
}

/// Applies an action to the UI state; returns what the app loop must do besides.
pub fn apply(ui: &mut UiState, action: Action, state: &State, now: SystemTime) -> Effect {
    clamp_selections(ui, state);
    if is_motion(action) && scroll_open_view(ui, action, state, now) {
        return Effect::None;
    }
    match action {
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => move_in_grid(ui, action, state.hosts.len()),
        Action::ToggleDetail => toggle_detail(ui),
        Action::NextPane | Action::PrevPane => {
            let has_checklist = !state.inventory.checklist.is_empty();
            switch_pane(ui, action == Action::NextPane, has_checklist);
        }
        Action::ProbeNow => {
            ui.set_message("probing every host now…");
            return Effect::ProbeNow;
        }
        Action::Tick | Action::Note | Action::Undo | Action::Who | Action::ToggleChecklist => {
            return checklist_action(ui, action, state, now);
        }
        Action::ToggleDns => switch_screen(ui, Screen::Resolvers),
        Action::ToggleZones => switch_screen(ui, Screen::Zones),
        Action::ToggleServices => switch_screen(ui, Screen::Services),
        Action::ToggleTimeline => switch_screen(ui, Screen::Timeline),
        Action::Filter => {
            ui.screen = Some(Screen::Timeline);
            open_editor(ui, EditTarget::TimelineFilter, ui.timeline_filter.clone());
        }
        Action::JournalNote => open_editor(ui, EditTarget::JournalNote, String::new()),
        Action::Canary => canary::ask(ui, state),
        Action::ToggleHelp => {
            ui.help_visible = !ui.help_visible;
            ui.help_scroll = 0;
        }
        Action::Close => close(ui, state),
        Action::Quit => return Effect::Quit,
    }
    Effect::None
}

/// Keeps the selections inside the inventory (it may have fewer hosts or items than the
/// selection remembers), and the focus off a checklist that is not there.
fn clamp_selections(ui: &mut UiState, state: &State) {
    let items = state.inventory.checklist.len();
    ui.selected = ui.selected.min(state.hosts.len().saturating_sub(1));
    ui.checklist_selected = ui.checklist_selected.min(items.saturating_sub(1));
    if items == 0 {
        ui.checklist_full = false;
        if ui.focus == Focus::Checklist {
            ui.focus = Focus::Grid;
        }
    }
}

/// A motion goes to what is open on top, in this order: the help overlay, a screen that
/// scrolls (zones, services, timeline), the focused checklist, the focused detail pane.
/// Returns false when none of them took it (it moves the grid's selection then).
fn scroll_open_view(ui: &mut UiState, action: Action, state: &State, now: SystemTime) -> bool {
    let drawn = ui.drawn.get();
    let panes = ui.screen.is_none();
    if ui.help_visible {
        let page = drawn.help_rows.max(1);
        ui.help_scroll = scroll(ui.help_scroll, action, drawn.help_max_scroll, page);
    } else if matches!(
        ui.screen,
        Some(Screen::Zones | Screen::Services | Screen::Timeline)
    ) {
        // The matrix screen (d) is not scrolled: motions pick its row, as in the grid.
        let page = drawn.screen_rows.max(1);
        ui.screen_scroll = scroll(ui.screen_scroll, action, drawn.screen_max_scroll, page);
    } else if ui.focus == Focus::Checklist && panes {
        move_in_checklist(ui, action, state, now);
    } else if ui.detail_visible && ui.focus == Focus::Detail && panes {
        let page = drawn.detail_rows.max(1);
        ui.detail_scroll = scroll(ui.detail_scroll, action, drawn.detail_max_scroll, page);
    } else {
        return false;
    }
    true
}

/// Moves the grid's selection (a page is what the grid showed last) and keeps it in view.
fn move_in_grid(ui: &mut UiState, action: Action, host_count: usize) {
    let page = ui.drawn.get().grid_rows.max(1);
    let last = host_count.saturating_sub(1);
    let selected = scroll(ui.selected, action, last, page);
    if selected != ui.selected {
        ui.selected = selected;
        ui.detail_scroll = 0;
    }
    ui.grid_offset = super::grid::scroll_offset(ui.grid_offset, ui.selected, page, host_count);
}

/// Enter: shows or hides the detail pane; from the full checklist, back to the panes.
fn toggle_detail(ui: &mut UiState) {
    if ui.checklist_full {
        // The full checklist hides the detail: Enter brings it back.
        ui.checklist_full = false;
        ui.detail_visible = true;
    } else {
        ui.detail_visible = !ui.detail_visible;
    }
    if !ui.detail_visible && ui.focus == Focus::Detail {
        ui.focus = Focus::Grid;
    }
}

/// Tab / Shift-Tab: grid → detail → checklist → grid; the checklist only when there is
/// one. Tabbing to a hidden detail pane shows it; leaving the checklist leaves its
/// full-height view.
fn switch_pane(ui: &mut UiState, next: bool, has_checklist: bool) {
    ui.focus = match (ui.focus, next, has_checklist) {
        (Focus::Grid, true, _) | (Focus::Checklist, false, _) => Focus::Detail,
        (Focus::Detail, true, true) | (Focus::Grid, false, true) => Focus::Checklist,
        _ => Focus::Grid,
    };
    if ui.focus == Focus::Detail {
        ui.detail_visible = true;
    }
    if ui.focus != Focus::Checklist {
        ui.checklist_full = false;
    }
}

/// The checklist's keys: tick, note, undo, who, and its full-height view.
fn checklist_action(ui: &mut UiState, action: Action, state: &State, now: SystemTime) -> Effect {
    let items = state.inventory.checklist.len();
    let on_checklist = |ui: &mut UiState, what: &str| {
        if items == 0 {
            ui.set_message("the inventory has no checklist");
            false
        } else if ui.focus != Focus::Checklist {
            ui.set_message(format!("{what}: Tab to the checklist first (or c)"));
            false
        } else {
            true
        }
    };
    match action {
        Action::Tick if on_checklist(ui, "Space ticks an item") => {
            return tick_selected(ui, state, now);
        }
        Action::Note => {
            if on_checklist(ui, "n notes an item")
                && require_who(ui)
                && let Some(item) = selected_item(ui, state)
            {
                let text = state
                    .checklist
                    .note_of(&item.id)
                    .map(|n| n.text.clone())
                    .unwrap_or_default();
                let id = item.id.clone();
                open_editor(ui, EditTarget::Note { id }, text);
            }
        }
        Action::Undo => return undo(ui, state, now),
        Action::Who => open_editor(ui, EditTarget::Who, ui.who.clone()),
        Action::ToggleChecklist if items == 0 => {
            ui.set_message("the inventory has no checklist");
        }
        Action::ToggleChecklist => {
            ui.checklist_full = !ui.checklist_full;
            ui.focus = Focus::Checklist;
            keep_checklist_selection_visible(ui, state, now);
        }
        _ => {}
    }
    Effect::None
}

/// Opens the one-line editor on `target`, starting from `text`.
fn open_editor(ui: &mut UiState, target: EditTarget, text: String) {
    ui.mode = Mode::Edit(Editor { target, text });
}

/// Esc: closes what is on top, one thing per press: help, a screen, the full checklist,
/// the focus on a pane, the newest warning, the detail pane, the message.
fn close(ui: &mut UiState, state: &State) {
    if ui.help_visible {
        ui.help_visible = false;
    } else if ui.screen.is_some() {
        ui.screen = None;
    } else if ui.checklist_full {
        ui.checklist_full = false;
    } else if ui.focus != Focus::Grid {
        ui.focus = Focus::Grid;
    } else if let Some(warning) = ui.warning(state) {
        ui.dismissed_warning = Some(warning.to_string());
    } else if ui.detail_visible {
        ui.detail_visible = false;
    } else {
        ui.message = None;
    }
}

/// Motion with the checklist focused: moves the selection by items (a page is what the
/// pane showed last), and scrolls so that the selection is in view.
fn move_in_checklist(ui: &mut UiState, action: Action, state: &State, now: SystemTime) {
    let items = state.inventory.checklist.len();
    if items == 0 {
        return;
    }
    let drawn = ui.drawn.get();
    let layout = pane::layout(state, ui, now, drawn.checklist_width);
    let rows = drawn.checklist_rows.max(1);
    let last = items - 1;
    let sel = ui.checklist_selected.min(last);
    let start = |pos: usize| layout.starts.get(pos).copied().unwrap_or(0);
    ui.checklist_selected = match action {
        Action::PageDown => {
            let target = start(sel) + rows.saturating_sub(1);
            let pos = (sel..=last)
                .rev()
                .find(|&p| start(p) <= target)
                .unwrap_or(sel);
            if pos == sel { (sel + 1).min(last) } else { pos }
        }
        Action::PageUp => {
            let target = start(sel).saturating_sub(rows.saturating_sub(1));
            let pos = (0..=sel).find(|&p| start(p) >= target).unwrap_or(sel);
            if pos == sel {
                sel.saturating_sub(1)
            } else {
                pos
            }
        }
        other => scroll(sel, other, last, 1),
    };
    ui.checklist_offset = layout.offset_for(ui.checklist_offset, ui.checklist_selected, rows);
}

fn keep_checklist_selection_visible(ui: &mut UiState, state: &State, now: SystemTime) {
    let drawn = ui.drawn.get();
    let layout = pane::layout(state, ui, now, drawn.checklist_width);
    ui.checklist_offset = layout.offset_for(
        ui.checklist_offset,
        ui.checklist_selected,
        drawn.checklist_rows.max(1),
    );
}

/// Called by the app's 1 Hz clock. Expires the transient message; returns whether the
/// screen must be redrawn (always: the clock and the ages in it have moved on).
pub fn on_tick(ui: &mut UiState, now: SystemTime) -> bool {
    if ui.message.is_some() {
        match ui.message_since {
            None => ui.message_since = Some(now),
            Some(since) => {
                if now.duration_since(since).unwrap_or_default() >= MESSAGE_TTL {
                    ui.message = None;
                    ui.message_since = None;
                }
            }
        }
    }
    true
}

fn is_motion(action: Action) -> bool {
    matches!(
        action,
        Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom
    )
}

/// Moves a position in `0..=max` by one motion.
fn scroll(pos: usize, action: Action, max: usize, page: usize) -> usize {
    let pos = pos.min(max);
    match action {
        Action::Up => pos.saturating_sub(1),
        Action::Down => (pos + 1).min(max),
        Action::PageUp => pos.saturating_sub(page),
        Action::PageDown => pos.saturating_add(page).min(max),
        Action::Top => 0,
        Action::Bottom => max,
        _ => pos,
    }
}

mod canary;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::state::Drawn;
    use std::collections::HashSet;
    use std::time::Duration;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ui() -> UiState {
        UiState::default()
    }

    /// A move of `n` hosts without a checklist.
    fn hosts(n: usize) -> State {
        let mut toml = String::from("[move]\nname = \"t\"\n");
        for i in 0..n {
            toml.push_str(&format!(
                "[[host]]\nname = \"h{i}\"\nfqdn = \"h{i}.example.org\"\nnew_ip = \"203.0.113.{}\"\n",
                i % 250 + 1
            ));
        }
        let inventory =
            crate::config::Inventory::parse(std::path::Path::new("t.toml"), &toml).unwrap();
        State::new(std::sync::Arc::new(inventory))
    }

    /// [`apply`] on a move of `n` hosts.
    fn go(u: &mut UiState, action: Action, n: usize) -> Effect {
        apply(u, action, &hosts(n), SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = HashSet::new();
        for b in KEYMAP {
            let probe = KeyEvent::new(b.code, b.modifiers);
            let matching: Vec<_> = KEYMAP.iter().filter(|o| o.matches(&probe)).collect();
            assert_eq!(matching.len(), 1, "{} is bound more than once", b.label());
            assert!(seen.insert(b.label()), "{} is listed twice", b.label());
        }
    }

    #[test]
    fn every_action_has_a_key() {
        for action in Action::ALL {
            assert!(
                bindings_of(action).next().is_some(),
                "{action:?} has no key"
            );
        }
    }

    #[test]
    fn keys_map_to_actions() {
        let u = ui();
        let cases = [
            (key(KeyCode::Up), Some(Action::Up)),
            (key(KeyCode::Char('k')), Some(Action::Up)),
            (key(KeyCode::Char('j')), Some(Action::Down)),
            (key(KeyCode::Char('g')), Some(Action::Top)),
            (
                KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT),
                Some(Action::Bottom),
            ),
            (key(KeyCode::Char('G')), Some(Action::Bottom)),
            (key(KeyCode::End), Some(Action::Bottom)),
            (key(KeyCode::PageDown), Some(Action::PageDown)),
            (key(KeyCode::Enter), Some(Action::ToggleDetail)),
            (key(KeyCode::Tab), Some(Action::NextPane)),
            (
                KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
                Some(Action::PrevPane),
            ),
            (key(KeyCode::BackTab), Some(Action::PrevPane)),
            (key(KeyCode::Char('r')), Some(Action::ProbeNow)),
            (
                KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT),
                Some(Action::ToggleHelp),
            ),
            (key(KeyCode::Esc), Some(Action::Close)),
            (key(KeyCode::Char('q')), Some(Action::Quit)),
            (
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Some(Action::Quit),
            ),
            (key(KeyCode::Char('c')), Some(Action::ToggleChecklist)),
            (key(KeyCode::Char(' ')), Some(Action::Tick)),
            (key(KeyCode::Char('n')), Some(Action::Note)),
            (key(KeyCode::Char('u')), Some(Action::Undo)),
            (key(KeyCode::Char('w')), Some(Action::Who)),
            (
                KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL),
                None,
            ),
            (key(KeyCode::Char('x')), None),
        ];
        for (k, want) in cases {
            assert_eq!(action_for(k, &u), want, "{k:?}");
        }
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(action_for(release, &u), None);
    }

    #[test]
    fn help_consumes_other_keys() {
        let mut u = ui();
        u.help_visible = true;
        assert_eq!(action_for(key(KeyCode::Char('r')), &u), None);
        assert_eq!(action_for(key(KeyCode::Enter), &u), None);
        assert_eq!(action_for(key(KeyCode::Tab), &u), None);
        assert_eq!(
            action_for(key(KeyCode::Char('?')), &u),
            Some(Action::ToggleHelp)
        );
        assert_eq!(action_for(key(KeyCode::Esc), &u), Some(Action::Close));
        assert_eq!(action_for(key(KeyCode::Char('q')), &u), Some(Action::Quit));
        // Motion scrolls the help, not the selection.
        u.drawn.set(Drawn {
            help_max_scroll: 3,
            ..Drawn::default()
        });
        assert_eq!(go(&mut u, Action::Down, 8), Effect::None);
        assert_eq!((u.selected, u.help_scroll), (0, 1));
        go(&mut u, Action::Bottom, 8);
        assert_eq!(u.help_scroll, 3);
        go(&mut u, Action::Close, 8);
        assert!(!u.help_visible);
    }

    #[test]
    fn selection_moves_and_clamps() {
        let mut u = ui();
        assert_eq!(go(&mut u, Action::Up, 8), Effect::None);
        assert_eq!(u.selected, 0);
        go(&mut u, Action::Down, 8);
        go(&mut u, Action::Down, 8);
        assert_eq!(u.selected, 2);
        go(&mut u, Action::Bottom, 8);
        assert_eq!(u.selected, 7);
        go(&mut u, Action::Down, 8);
        assert_eq!(u.selected, 7);
        go(&mut u, Action::Top, 8);
        assert_eq!(u.selected, 0);
        // No hosts: nothing to select, nothing panics.
        go(&mut u, Action::Bottom, 0);
        go(&mut u, Action::PageDown, 0);
        assert_eq!(u.selected, 0);
    }

    #[test]
    fn paging_keeps_the_selection_in_view() {
        let mut u = ui();
        u.drawn.set(Drawn {
            grid_rows: 10,
            ..Drawn::default()
        });
        go(&mut u, Action::PageDown, 1000);
        assert_eq!((u.selected, u.grid_offset), (10, 1));
        go(&mut u, Action::PageDown, 1000);
        assert_eq!((u.selected, u.grid_offset), (20, 11));
        go(&mut u, Action::Up, 1000);
        assert_eq!((u.selected, u.grid_offset), (19, 11));
        go(&mut u, Action::PageUp, 1000);
        assert_eq!((u.selected, u.grid_offset), (9, 9));
        go(&mut u, Action::Bottom, 1000);
        assert_eq!((u.selected, u.grid_offset), (999, 990));
        // The inventory shrank under us: the selection follows.
        go(&mut u, Action::Up, 5);
        assert_eq!(u.selected, 3);
    }

    #[test]
    fn panes_detail_and_escape() {
        let mut u = ui();
        assert!(u.detail_visible);
        go(&mut u, Action::NextPane, 8);
        assert_eq!(u.focus, Focus::Detail);
        // With the detail focused, motion scrolls it.
        u.drawn.set(Drawn {
            detail_max_scroll: 2,
            ..Drawn::default()
        });
        go(&mut u, Action::Down, 8);
        go(&mut u, Action::Down, 8);
        go(&mut u, Action::Down, 8);
        assert_eq!((u.selected, u.detail_scroll), (0, 2));
        go(&mut u, Action::PrevPane, 8);
        assert_eq!(u.focus, Focus::Grid);
        go(&mut u, Action::Down, 8);
        assert_eq!(
            (u.selected, u.detail_scroll),
            (1, 0),
            "a new host starts at the top"
        );
        // Esc steps back: detail focus, then the detail pane itself.
        go(&mut u, Action::NextPane, 8);
        go(&mut u, Action::Close, 8);
        assert_eq!((u.focus, u.detail_visible), (Focus::Grid, true));
        go(&mut u, Action::Close, 8);
        assert!(!u.detail_visible);
        go(&mut u, Action::ToggleDetail, 8);
        assert!(u.detail_visible);
        go(&mut u, Action::NextPane, 8);
        go(&mut u, Action::ToggleDetail, 8);
        assert_eq!((u.focus, u.detail_visible), (Focus::Grid, false));
        // Tab to a hidden detail pane shows it.
        go(&mut u, Action::NextPane, 8);
        assert_eq!((u.focus, u.detail_visible), (Focus::Detail, true));
    }

    #[test]
    fn effects_and_transient_message() {
        let mut u = ui();
        assert_eq!(go(&mut u, Action::Quit, 8), Effect::Quit);
        assert_eq!(go(&mut u, Action::ProbeNow, 8), Effect::ProbeNow);
        assert!(u.message.is_some());
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(on_tick(&mut u, t0));
        on_tick(&mut u, t0 + Duration::from_secs(2));
        assert!(u.message.is_some());
        on_tick(&mut u, t0 + MESSAGE_TTL);
        assert!(u.message.is_none());
    }

    #[test]
    fn labels() {
        let labels: Vec<String> = KEYMAP.iter().map(Binding::label).collect();
        for want in [
            "↑",
            "k",
            "PgDn",
            "G",
            "Shift-Tab",
            "Esc",
            "Ctrl-C",
            "?",
            "Space",
        ] {
            assert!(labels.iter().any(|l| l == want), "{want} in {labels:?}");
        }
    }
}
