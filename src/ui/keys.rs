//! UI state, and keys as data: the key map, `key -> Action`, and `Action -> UiState + Effect`.
//!
//! The app loop does `action_for(key, &ui)` then `apply(&mut ui, action, hosts)` and acts on
//! the returned [`Effect`]; nothing else changes UI state. The help overlay is generated from
//! [`KEYMAP`], so the two cannot drift.

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use chrono::{FixedOffset, Offset as _, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Grid,
    Detail,
}

/// Everything the UI remembers between frames that is not the model of the move.
#[derive(Debug, Clone)]
pub struct UiState {
    /// Index of the selected host.
    pub selected: usize,
    pub focus: Focus,
    pub detail_visible: bool,
    pub help_visible: bool,
    /// A transient line for the status bar ("probing now…", warnings).
    pub message: Option<String>,
    /// When the message was first seen by [`on_tick`]; it goes away [`MESSAGE_TTL`] later.
    pub message_since: Option<SystemTime>,
    /// Offset of local time from UTC, captured at start (tests use UTC).
    pub utc_offset: FixedOffset,
    /// First host row shown in the grid.
    pub grid_offset: usize,
    /// Lines scrolled in the detail pane.
    pub detail_scroll: usize,
    /// Lines scrolled in the help overlay.
    pub help_scroll: usize,
    /// Measurements of the last frame drawn: the page height the Page keys move by, and how
    /// far the detail pane and help can scroll. Only the renderer knows them, so it records
    /// them here (as gitui keeps its scroll extents in `Cell`s); what it draws never
    /// depends on them.
    pub drawn: Cell<Drawn>,
}

/// See [`UiState::drawn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drawn {
    /// Host rows the grid showed.
    pub grid_rows: usize,
    /// Lines the detail pane showed.
    pub detail_rows: usize,
    /// How far the detail pane could scroll.
    pub detail_max_scroll: usize,
    /// Lines the help overlay showed.
    pub help_rows: usize,
    /// How far the help overlay could scroll.
    pub help_max_scroll: usize,
}

impl Default for Drawn {
    fn default() -> Self {
        // What 80×24 shows, until the first frame says otherwise.
        Drawn {
            grid_rows: 8,
            detail_rows: 11,
            detail_max_scroll: 0,
            help_rows: 20,
            help_max_scroll: 0,
        }
    }
}

/// How long a transient message stays in the status bar.
pub const MESSAGE_TTL: Duration = Duration::from_secs(4);

impl UiState {
    pub fn new(utc_offset: FixedOffset) -> UiState {
        UiState {
            selected: 0,
            focus: Focus::Grid,
            detail_visible: true,
            help_visible: false,
            message: None,
            message_since: None,
            utc_offset,
            grid_offset: 0,
            detail_scroll: 0,
            help_scroll: 0,
            drawn: Cell::new(Drawn::default()),
        }
    }

    /// Shows `text` in the status bar for a few seconds.
    pub fn set_message(&mut self, text: impl Into<String>) {
        self.message = Some(text.into());
        self.message_since = None;
    }
}

impl Default for UiState {
    /// UTC, as the tests want.
    fn default() -> Self {
        UiState::new(Utc.fix())
    }
}

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
    ToggleHelp,
    /// Esc: closes the help, else the detail pane.
    Close,
    Quit,
}

impl Action {
    /// Every action, in the order the help lists them.
    pub const ALL: [Action; 13] = [
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
        Action::ToggleHelp,
        Action::Close,
        Action::Quit,
    ];

    /// What the action does, for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Action::Up => "previous host",
            Action::Down => "next host",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first host",
            Action::Bottom => "last host",
            Action::ToggleDetail => "show / hide the detail pane",
            Action::NextPane => "next pane",
            Action::PrevPane => "previous pane",
            Action::ProbeNow => "probe every host now",
            Action::ToggleHelp => "show / hide this help",
            Action::Close => "close the help, or the detail pane",
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

/// What the app loop must do beyond the UI state [`apply`] already changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Start a probe round of every host now.
    ProbeNow,
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

/// Every key the dashboard understands.
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
/// consumes every key but `?`, `Esc`, quit and scrolling.
pub fn action_for(key: KeyEvent, ui: &UiState) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let action = KEYMAP.iter().find(|b| b.matches(&key))?.action;
    if ui.help_visible && !action.passes_help() {
        return None;
    }
    Some(action)
}

/// Applies an action to the UI state; returns what the app loop must do besides.
pub fn apply(ui: &mut UiState, action: Action, host_count: usize) -> Effect {
    let drawn = ui.drawn.get();
    let page = drawn.grid_rows.max(1);
    ui.selected = ui.selected.min(host_count.saturating_sub(1));

    if ui.help_visible && is_motion(action) {
        let page = drawn.help_rows.max(1);
        ui.help_scroll = scroll(ui.help_scroll, action, drawn.help_max_scroll, page);
        return Effect::None;
    }
    if ui.detail_visible && ui.focus == Focus::Detail && is_motion(action) {
        let page = drawn.detail_rows.max(1);
        ui.detail_scroll = scroll(ui.detail_scroll, action, drawn.detail_max_scroll, page);
        return Effect::None;
    }
    match action {
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => {
            let last = host_count.saturating_sub(1);
            let selected = scroll(ui.selected, action, last, page);
            if selected != ui.selected {
                ui.selected = selected;
                ui.detail_scroll = 0;
            }
            ui.grid_offset =
                super::grid::scroll_offset(ui.grid_offset, ui.selected, page, host_count);
        }
        Action::ToggleDetail => {
            ui.detail_visible = !ui.detail_visible;
            if !ui.detail_visible {
                ui.focus = Focus::Grid;
            }
        }
        Action::NextPane | Action::PrevPane => {
            // Two panes: both directions swap. Tabbing to a hidden detail pane shows it.
            ui.focus = match ui.focus {
                Focus::Grid => {
                    ui.detail_visible = true;
                    Focus::Detail
                }
                Focus::Detail => Focus::Grid,
            };
        }
        Action::ProbeNow => {
            ui.set_message("probing every host now…");
            return Effect::ProbeNow;
        }
        Action::ToggleHelp => {
            ui.help_visible = !ui.help_visible;
            ui.help_scroll = 0;
        }
        Action::Close => {
            if ui.help_visible {
                ui.help_visible = false;
            } else if ui.focus == Focus::Detail {
                ui.focus = Focus::Grid;
            } else if ui.detail_visible {
                ui.detail_visible = false;
            } else {
                ui.message = None;
            }
        }
        Action::Quit => return Effect::Quit,
    }
    Effect::None
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ui() -> UiState {
        UiState::default()
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
            (key(KeyCode::Char('c')), None),
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
        assert_eq!(apply(&mut u, Action::Down, 8), Effect::None);
        assert_eq!((u.selected, u.help_scroll), (0, 1));
        apply(&mut u, Action::Bottom, 8);
        assert_eq!(u.help_scroll, 3);
        apply(&mut u, Action::Close, 8);
        assert!(!u.help_visible);
    }

    #[test]
    fn selection_moves_and_clamps() {
        let mut u = ui();
        assert_eq!(apply(&mut u, Action::Up, 8), Effect::None);
        assert_eq!(u.selected, 0);
        apply(&mut u, Action::Down, 8);
        apply(&mut u, Action::Down, 8);
        assert_eq!(u.selected, 2);
        apply(&mut u, Action::Bottom, 8);
        assert_eq!(u.selected, 7);
        apply(&mut u, Action::Down, 8);
        assert_eq!(u.selected, 7);
        apply(&mut u, Action::Top, 8);
        assert_eq!(u.selected, 0);
        // No hosts: nothing to select, nothing panics.
        apply(&mut u, Action::Bottom, 0);
        apply(&mut u, Action::PageDown, 0);
        assert_eq!(u.selected, 0);
    }

    #[test]
    fn paging_keeps_the_selection_in_view() {
        let mut u = ui();
        u.drawn.set(Drawn {
            grid_rows: 10,
            ..Drawn::default()
        });
        apply(&mut u, Action::PageDown, 1000);
        assert_eq!((u.selected, u.grid_offset), (10, 1));
        apply(&mut u, Action::PageDown, 1000);
        assert_eq!((u.selected, u.grid_offset), (20, 11));
        apply(&mut u, Action::Up, 1000);
        assert_eq!((u.selected, u.grid_offset), (19, 11));
        apply(&mut u, Action::PageUp, 1000);
        assert_eq!((u.selected, u.grid_offset), (9, 9));
        apply(&mut u, Action::Bottom, 1000);
        assert_eq!((u.selected, u.grid_offset), (999, 990));
        // The inventory shrank under us: the selection follows.
        apply(&mut u, Action::Up, 5);
        assert_eq!(u.selected, 3);
    }

    #[test]
    fn panes_detail_and_escape() {
        let mut u = ui();
        assert!(u.detail_visible);
        apply(&mut u, Action::NextPane, 8);
        assert_eq!(u.focus, Focus::Detail);
        // With the detail focused, motion scrolls it.
        u.drawn.set(Drawn {
            detail_max_scroll: 2,
            ..Drawn::default()
        });
        apply(&mut u, Action::Down, 8);
        apply(&mut u, Action::Down, 8);
        apply(&mut u, Action::Down, 8);
        assert_eq!((u.selected, u.detail_scroll), (0, 2));
        apply(&mut u, Action::PrevPane, 8);
        assert_eq!(u.focus, Focus::Grid);
        apply(&mut u, Action::Down, 8);
        assert_eq!(
            (u.selected, u.detail_scroll),
            (1, 0),
            "a new host starts at the top"
        );
        // Esc steps back: detail focus, then the detail pane itself.
        apply(&mut u, Action::NextPane, 8);
        apply(&mut u, Action::Close, 8);
        assert_eq!((u.focus, u.detail_visible), (Focus::Grid, true));
        apply(&mut u, Action::Close, 8);
        assert!(!u.detail_visible);
        apply(&mut u, Action::ToggleDetail, 8);
        assert!(u.detail_visible);
        apply(&mut u, Action::NextPane, 8);
        apply(&mut u, Action::ToggleDetail, 8);
        assert_eq!((u.focus, u.detail_visible), (Focus::Grid, false));
        // Tab to a hidden detail pane shows it.
        apply(&mut u, Action::NextPane, 8);
        assert_eq!((u.focus, u.detail_visible), (Focus::Detail, true));
    }

    #[test]
    fn effects_and_transient_message() {
        let mut u = ui();
        assert_eq!(apply(&mut u, Action::Quit, 8), Effect::Quit);
        assert_eq!(apply(&mut u, Action::ProbeNow, 8), Effect::ProbeNow);
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
        for want in ["↑", "k", "PgDn", "G", "Shift-Tab", "Esc", "Ctrl-C", "?"] {
            assert!(labels.iter().any(|l| l == want), "{want} in {labels:?}");
        }
    }
}
