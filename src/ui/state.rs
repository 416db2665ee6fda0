//! What the UI remembers between frames that is not the model of the move: the selection,
//! focus, scroll positions, the open screen or editor, the session's undo stack, and what
//! the last frame measured.

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use chrono::{FixedOffset, Offset as _, Utc};

use crate::checklist::TickEvent;
use crate::store::State;

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Grid,
    Detail,
    Checklist,
}

/// Longest note, in characters.
pub const NOTE_MAX: usize = 200;
/// Longest operator name, in characters.
pub const WHO_MAX: usize = 64;
/// Ticks of this session that `u` can take back.
pub const UNDO_MAX: usize = 256;

/// What the keyboard is talking to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Keys go through [`KEYMAP`].
    #[default]
    Normal,
    /// A one-line editor is open; it takes every key.
    Edit(Editor),
    /// "Tick anyway?" is asked; `y` ticks, any other key cancels.
    Confirm(Confirm),
    /// "Write the canary?" is asked (`C` in the zones view): `y`, or the zone's number
    /// when several zones have a key, writes; any other key cancels.
    ConfirmCanary(CanaryAsk),
}

/// The zones a canary may be written to (those with a `canary_key`), asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryAsk {
    /// Index into `Inventory::zones`, the zone's name and its primary, in inventory order.
    pub zones: Vec<(usize, String, String)>,
}

/// The one-line editor (`n` for a note, `w` for the operator name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    pub target: EditTarget,
    pub text: String,
}

/// What the editor's text becomes on Enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditTarget {
    /// The note of the item with this id.
    Note { id: String },
    /// [`UiState::who`].
    Who,
    /// The timeline's filter (a host, a zone, a word of a note).
    TimelineFilter,
    /// A free-text note for the move's journal.
    JournalNote,
}

impl EditTarget {
    /// The most characters the text may have.
    pub fn max_chars(&self) -> usize {
        match self {
            EditTarget::Note { .. } => NOTE_MAX,
            EditTarget::Who => WHO_MAX,
            EditTarget::TimelineFilter => 64,
            EditTarget::JournalNote => NOTE_MAX,
        }
    }
}

/// A tick of an item whose linked probe is red, waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub id: String,
    /// `vbox.http`.
    pub link: String,
    /// What the probe says: `refused at 203.0.113.13`.
    pub detail: String,
    /// What the tick records if confirmed (the model's words, see `store::evidence`).
    pub evidence: String,
}

/// One tick or untick of this session, and the record it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoEntry {
    pub id: String,
    /// The item's tick before this one (`None`: never ticked).
    pub previous: Option<TickEvent>,
}

/// Everything the UI remembers between frames that is not the model of the move.
#[derive(Debug, Clone)]
pub struct UiState {
    /// Index of the selected host.
    pub selected: usize,
    pub focus: Focus,
    pub detail_visible: bool,
    pub help_visible: bool,
    /// A transient line for the status bar ("probing now…", "ticked …").
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
    /// Lines scrolled in the zones view.
    pub screen_scroll: usize,
    /// What the timeline shows (`/`): entries whose host, zone or text holds it.
    pub timeline_filter: String,
    /// Who ticks (`--who`, else `$USER@hostname`; `w` changes it). Empty: asked at the
    /// first tick.
    pub who: String,
    /// The selected checklist item, as a position in [`pane::order`] (phase by phase).
    pub checklist_selected: usize,
    /// First line shown in the checklist pane.
    pub checklist_offset: usize,
    /// The checklist takes the whole screen (`c`).
    pub checklist_full: bool,
    /// A DNS view (the resolver matrix or the zones) replaces the grid, detail and
    /// checklist.
    pub screen: Option<Screen>,
    /// Ticks and unticks of this session, newest last; `u` pops.
    pub undo: Vec<UndoEntry>,
    /// An open editor or confirmation.
    pub mode: Mode,
    /// The newest warning when the user dismissed it with Esc: the status bar shows
    /// `State::warnings`' newest entry until then.
    pub dismissed_warning: Option<String>,
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
    /// Lines the zones view showed, and how far it could scroll.
    pub screen_rows: usize,
    pub screen_max_scroll: usize,
    /// Lines the checklist pane showed.
    pub checklist_rows: usize,
    /// Width of the checklist pane (its items wrap to it).
    pub checklist_width: usize,
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
            screen_rows: 20,
            screen_max_scroll: 0,
            checklist_rows: 4,
            checklist_width: 80,
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
            screen_scroll: 0,
            timeline_filter: String::new(),
            who: String::new(),
            checklist_selected: 0,
            checklist_offset: 0,
            checklist_full: false,
            screen: None,
            undo: Vec::new(),
            mode: Mode::Normal,
            dismissed_warning: None,
            drawn: Cell::new(Drawn::default()),
        }
    }

    /// The operator name ticks are recorded with (cleaned, at most [`WHO_MAX`] characters).
    pub fn with_who(mut self, who: &str) -> UiState {
        self.who = crate::sanitize::sanitize(who.trim(), WHO_MAX);
        self
    }

    /// Shows `text` in the status bar for a few seconds.
    pub fn set_message(&mut self, text: impl Into<String>) {
        self.message = Some(text.into());
        self.message_since = None;
    }

    /// The newest warning, unless dismissed.
    pub fn warning<'a>(&self, state: &'a State) -> Option<&'a str> {
        state
            .warnings
            .last()
            .filter(|w| self.dismissed_warning.as_ref() != Some(*w))
            .map(String::as_str)
    }
}

impl Default for UiState {
    /// UTC, as the tests want.
    fn default() -> Self {
        UiState::new(Utc.fix())
    }
}

/// The screens that replace the grid, detail and checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Every resolver about every name (`d`).
    Resolvers,
    /// Every zone's servers, serials and NS sets, and each name's TTL and PTR (`z`).
    Zones,
    /// Every host's expected ports and services, and its old address (`p`).
    Services,
    /// The move's journal, newest first (`t`).
    Timeline,
}
