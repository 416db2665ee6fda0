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
    Action, Binding, Drawn, Effect, Focus, KEYMAP, MESSAGE_TTL, UiState, action_for, apply, on_tick,
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
///  80 columns × 24 lines (wider terminals add columns: Target, Via, Resolves to, For, ...)
/// ┌────────────────────────────────────────────────────────────────────────────────┐
/// │ move name                  ●5 up ◐1 degraded ✖1 down ?1 unknown 14:02:00      │ title bar
/// │ Hosts (8) ─────────────────────────────────────────────── 21–28 of 1000 ──────│ grid (focus:
/// │Health     Host      Ping Loss SSH  HTTP    DNS        Resolvers Hosts          │  border colour)
/// │● up       ns-master 21ms   0% ok   -       ✔ new      3/3 new   agrees         │  only visible
/// │◐ degraded planet    31ms  10% ok   refused ✔ new      2/3 new   -              │  rows are built;
/// │● up       vbox      25ms   0% ok   -       ✔ new      3/3 new   ⚠ OLD IP       │  the selection
/// │✖ down     buildbot timeout 100% timeout -  ✔ new      3/3 new   -              │  is highlighted
/// │ ● vbox · vbox.example.org ─────────────────────────────── 1–11 of 12 · ↑↓ ─────│ detail of the
/// │Health  ● up for 1m44s (since 14:00:16): every probe answers                    │  selected host
/// │Target  203.0.113.13 from new_ip (old: 198.51.100.13) · 1m45s ago               │  (Enter hides,
/// │Ping / SSH / HTTP: latest result, error, age                                    │  Tab focuses,
/// │DNS     one line per resolver: verdict, addresses, TTL, age                     │  ↑↓ scroll)
/// │Hosts   ⚠ /etc/hosts line 12 points vbox.example.org at OLD 198.51.100.13: …    │
/// │ ping: ICMP (unprivileged)   probing every host now…      r probe  ? help  q quit│ status bar
/// └────────────────────────────────────────────────────────────────────────────────┘
///               ┌ Help ─────────────────────────────────┐
///               │ keys, generated from KEYMAP; a legend │  `?`: overlay, centred
///               └───────────────────────── ? or Esc closes ┘
/// ```
///
/// Grid columns size to the visible rows and drop in a fixed order when the terminal is
/// narrow; the detail pane gets what the grid leaves (at least 12 lines) and gives way to
/// the grid below that, or takes the screen when it has the focus. Nothing here changes
/// the model; the one thing recorded is [`UiState::drawn`], the geometry the Page keys and
/// scroll limits need.
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
        drawn.grid_rows = grid::render(
            r,
            buf,
            view,
            view.ui.focus == keys::Focus::Grid || plan.detail.is_none(),
        );
    }
    (drawn.detail_rows, drawn.detail_max_scroll) = match plan.detail {
        Some(r) => detail::render(r, buf, view, view.ui.focus == keys::Focus::Detail),
        None => (0, 0),
    };
    if let Some(r) = plan.status {
        status_bar::render_status(r, buf, view);
    }
    (drawn.help_rows, drawn.help_max_scroll) = if view.ui.help_visible {
        help::render(area, buf, view)
    } else {
        (0, 0)
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
