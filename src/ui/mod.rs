//! The terminal UI: rendering (pure functions of the state, the UI state, the theme and the
//! time) and the mapping of keys to actions.
//!
//! One file per pane: [`grid`], [`detail`], [`status_bar`], [`help`]; [`keys`] holds
//! [`UiState`], the key map and [`apply`]; [`text`] the shared formatting helpers.

pub mod detail;
pub mod grid;
pub mod help;
pub mod keys;
pub mod status_bar;
pub mod text;

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::config::Theme;
use crate::store::State;

pub use keys::{
    Action, Binding, Drawn, Effect, Focus, KEYMAP, MESSAGE_TTL, UiState, action_for, apply,
    on_tick,
};

/// Everything a frame is drawn from.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub state: &'a State,
    pub ui: &'a UiState,
    pub theme: &'a Theme,
    /// For the clock and the ages of results.
    pub now: SystemTime,
}

/// Draws the whole screen.
///
/// ```text
/// ┌──────────────────────────────────────────────────────────────────────────────┐
/// │ move name                          ●5 up ◐1 degraded ✖1 down ?1 unknown 14:02│ title bar
/// │─ Hosts (8) ────────────────────────────────────────────────── 1–8 of 1000 ───│ grid: title,
/// │Health     Host      Ping  Loss  SSH  HTTP  DNS      Resolvers  Hosts         │   header,
/// │● up       ns-master 0.42ms  0%  ok   200   ✔ new    3/3 new    agrees        │   one row per
/// │◐ degraded planet    0.61ms 10%  ok   refused ...                             │   visible host
/// │─ ● vbox · vbox.example.org ──────────────────────────────── 1–11 of 14 ──────│ detail of the
/// │Health  ● up for 1m50s (since 14:00:15): every probe answers                  │   selected host
/// │Target  203.0.113.13 from new_ip in the inventory · 5s ago                    │   (Enter hides,
/// │...     ping, SSH, HTTP, one DNS line per resolver, hosts-file entries        │   Tab focuses
/// │                                                                              │   and scrolls)
/// │ ping: ICMP (unprivileged)   probing every host now…     r probe  ? help  q quit│ status bar
/// └──────────────────────────────────────────────────────────────────────────────┘
///                      ┌ Help ───────────────────┐
///                      │ keys from KEYMAP, legend │   `?`: overlay, centred
///                      └──────────────────────────┘
/// ```
///
/// Wider terminals get more grid columns (target IP, ping method, DNS answer, time in
/// state, SSH server); taller ones a taller detail pane. Only the visible rows are built.
/// Below 12 free lines the detail pane gives way to the grid (or takes the screen when it
/// has the focus). Nothing here writes to the model; the one thing recorded is
/// [`UiState::drawn`], the geometry that the Page keys and scroll limits need.
pub fn render(frame: &mut Frame, state: &State, ui: &UiState, theme: &Theme, now: SystemTime) {
    let view = View {
        state,
        ui,
        theme,
        now,
    };
    let area = frame.area();
    let drawn = draw(area, frame.buffer_mut(), &view);
    ui.drawn.set(drawn);
}

/// [`render`] into any buffer; returns the geometry drawn instead of recording it.
pub fn draw(area: Rect, buf: &mut Buffer, view: &View<'_>) -> Drawn {
    let mut drawn = view.ui.drawn.get();
    buf.set_style(area, view.theme.base());
    let plan = plan(area, view.ui, view.state.hosts.len());
    if let Some(r) = plan.title {
        status_bar::render_title(r, buf, view);
    }
    if let Some(r) = plan.grid {
        drawn.grid_rows = grid::render(r, buf, view, view.ui.focus == keys::Focus::Grid || plan.detail.is_none());
    }
    drawn.detail_max_scroll = match plan.detail {
        Some(r) => detail::render(r, buf, view, view.ui.focus == keys::Focus::Detail),
        None => 0,
    };
    if let Some(r) = plan.status {
        status_bar::render_status(r, buf, view);
    }
    drawn.help_max_scroll = if view.ui.help_visible {
        help::render(area, buf, view)
    } else {
        0
    };
    drawn
}

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    pub title: Option<Rect>,
    pub grid: Option<Rect>,
    pub detail: Option<Rect>,
    pub status: Option<Rect>,
}

/// Lines below which the grid and the detail pane do not share the screen.
const SPLIT_MIN: u16 = 12;

/// Lays out the screen for `hosts` hosts.
pub fn plan(area: Rect, ui: &UiState, hosts: usize) -> Plan {
    let mut plan = Plan::default();
    if area.width == 0 || area.height == 0 {
        return plan;
    }
    let mut body = area;
    if body.height >= 2 {
        plan.status = Some(Rect::new(body.x, body.bottom() - 1, body.width, 1));
        body.height -= 1;
    }
    if body.height >= 3 || area.height == 1 {
        plan.title = Some(Rect::new(body.x, body.y, body.width, 1));
        body.y += 1;
        body.height -= 1;
    }
    if body.height == 0 {
        return plan;
    }
    if !ui.detail_visible {
        plan.grid = Some(body);
    } else if body.height >= SPLIT_MIN {
        let wanted = grid::wanted_height(hosts);
        let grid_height = wanted
            .min((body.height - SPLIT_MIN).max(body.height * 3 / 5))
            .max(3);
        plan.grid = Some(Rect::new(body.x, body.y, body.width, grid_height));
        plan.detail = Some(Rect::new(
            body.x,
            body.y + grid_height,
            body.width,
            body.height - grid_height,
        ));
    } else if ui.focus == keys::Focus::Detail {
        plan.detail = Some(body);
    } else {
        plan.grid = Some(body);
    }
    plan
}
