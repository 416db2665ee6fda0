//! The terminal UI: rendering (pure functions of the state, the UI state, the theme and the
//! time) and the mapping of keys to actions.
//!
//! One file per pane: [`grid`], [`detail`], [`checklist`], [`status_bar`], [`help`], and
//! [`prompt`] for the popups that take the keyboard; [`keys`] holds [`UiState`], the key map,
//! [`on_key`] and [`apply`]; [`text`] the shared formatting helpers.

pub mod checklist;
pub mod detail;
pub mod dns;
pub mod grid;
pub mod help;
pub mod keys;
mod mail;
mod palette;
pub mod prompt;
pub mod services;
pub mod state;
pub mod status_bar;
pub mod text;
pub mod timeline;
pub mod zones;

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::config::Theme;
use crate::store::State;

pub use keys::{Action, Binding, Effect, KEYMAP, action_for, apply, on_key, on_tick};
pub use state::{
    CanaryAsk, Confirm, Drawn, EditTarget, Editor, Focus, MESSAGE_TTL, Mode, Screen, UiState,
    UndoEntry,
};

/// Everything a frame is drawn from.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub state: &'a State,
    pub ui: &'a UiState,
    pub theme: &'a Theme,
    /// For the clock and the ages of results.
    pub now: SystemTime,
    /// The move's journal as the timeline screen shows it (none: no journal).
    pub timeline: Option<&'a crate::journal::Timeline>,
}

impl View<'_> {
    /// How long ago `at` was, compactly (`3m07s`): the age of a result, of a state.
    pub fn age(&self, at: SystemTime) -> String {
        text::age(text::elapsed(self.now, at))
    }
}

/// Draws the whole screen.
///
/// ```text
///  80 columns × 24 lines, with a checklist in the inventory (without one, the grid and the
///  detail share the screen as before; wider terminals add grid columns: Target, Via, ...)
/// ┌────────────────────────────────────────────────────────────────────────────────┐
/// │ example.org to the new datacenter ●5 up ◐1 degraded ✖1 down ?1 unknown 14:02:00│ title bar
/// │ Hosts (8) ─────────────────────────────────────────────────────────────────────│ grid (focus:
/// │Health     Host         Ping Loss SSH     HTTP    DNS        Resolvers Hosts    │  border colour)
/// │● up       ns-master    21ms   0% ok      -       ✔ new      3/3 new   agrees   │  only visible
/// │● up       mail         23ms   0% ok      200     ✔ new      3/3 new   differs  │  rows are built;
/// │● up       www          21ms   0% ok      301→    ✔ new      2/3 new   -        │  the selection
/// │◐ degraded planet       31ms  10% ok      refused ✔ new      2/3 new   -        │  is highlighted
/// │● up       vbox         25ms   0% ok      -       ✔ new      3/3 new   ⚠ OLD IP │
/// │● up       drawable     28ms   0% ok      200     ✔ new      3/3 new   -        │
/// │✖ down     buildbot  timeout 100% timeout -       ✔ new      3/3 new   -        │
/// │? unknown  git             …      …       …       ✖ nxdomain 1/3 new   …        │
/// │ ● vbox · vbox.example.org ──────────────────────────── 1–6 of 10 · Tab: scroll │ detail of the
/// │Health  ● up for 1m44s (since 14:00:16): every probe answers                    │  selected host
/// │Target  203.0.113.13 from new_ip (old: 198.51.100.13) · 1m45s ago               │  (Enter hides,
/// │Ping    ✔ 25ms · 0% loss ▁▃▃█▂▃▂▅▁▄ 24ms–26ms · icmp · 8s ago                   │  Tab focuses,
/// │SSH     ✔ SSH-2.0-OpenSSH_5.3 · 52ms · port 22 · 1m44s ago                      │  ↑↓ scroll)
/// │HTTP    not probed (no http URL)                                                │
/// │DNS     system     ✔ new     203.0.113.13 ttl 300s · 5s ago                     │
/// │ Checklist ██████░░░░ 9/16 ──────────────────────────── 3–5 of 16 · Tab: scroll │ checklist: ¼ of
/// │[ ] open          Review the new network ACL dump: is port 80 open to every web │  the height, ⅖
/// │                  host?                                                         │  when focused;
/// │[x] done          Check last night's backups, vbox included     carol@x200 08:40│  only visible
/// │[x] done          Change the node IPs in puppet                    ann@t61 09:02│  lines built
/// │ ping: ICMP (unprivileged)           who: alice@laptop  r probe  ? help  q quit │ status bar
/// └────────────────────────────────────────────────────────────────────────────────┘
///
///  ≥ 140 columns: the checklist stands right of the grid and detail, the whole height
/// ┌────────────────────────────────────────────────────────────────────────────────┐
/// │ title bar: move name, hosts by health, clock                                   │
/// │ Hosts (8) ─────────────────────────┌ Checklist ██████░░░░ 9/16 ────────────────│
/// │ grid                               │before  ████████░░ 5/6                     │ phase, gauge
/// │                                    │[x] done          Lower the TTL…  ann 09:12│ status, text,
/// │                                    │[✔] done-by-check Bring up ns-ma… ann 13:58│  who and when
/// │ ● vbox · vbox.example.org ─────────│                  ns-master.health ✔ up    │ linked probe
/// │ detail                             │                  ✎ note text — bob@noc    │ note
/// │                                    │[x] done          Verify planet  ⚠ forced …│ forced tick
/// │ status bar: ⚠ warning (until Esc) or ping mode · message · who: NAME · keys    │
/// └────────────────────────────────────────────────────────────────────────────────┘
///
///  `c`: the checklist alone between the two bars. Popups, centred over everything:
///               ┌ Help ─────────────────────────────────┐
///               │ keys, generated from KEYMAP; a legend │  `?`
///               └───────────────────────── ? or Esc closes ┘
///           ┌ Note on review-acl ────────────────────── 42/200 ┐   `n` (a note), `w` (who
///           │› port 80 missing: ticket #4711 with the NOC█     │   is ticking): one-line
///           └──────── Enter saves · Esc cancels · empty clears ┘   editor
///           ┌ Tick buildbot-ports? ────────────────────────────┐   Space on an item whose
///           │ buildbot.ssh is red: timeout at 203.0.113.16 —   │   linked probe is red
///           │ tick anyway? y/N                                 │
///           └────────── y ticks anyway · any other key cancels ┘
/// ```
///
/// Grid columns size to the visible rows and drop in a fixed order when the terminal is
/// narrow; the detail pane gets what the grid leaves (at least 12 lines) and gives way to
/// the grid below that, or takes the screen when it has the focus. With the checklist below
/// them, the grid keeps eight hosts, the checklist takes a quarter of the height (two fifths
/// when focused) and the detail what is left (at least four lines; it scrolls); under 12
/// lines only the focused pane is drawn. Nothing here changes the model; the one thing
/// recorded is [`UiState::drawn`], the geometry the Page keys and scroll limits need.
pub fn render(frame: &mut Frame, state: &State, ui: &UiState, theme: &Theme, now: SystemTime) {
    render_with_timeline(frame, state, ui, theme, now, None);
}

/// [`render`], with the move's journal for the timeline screen.
pub fn render_with_timeline(
    frame: &mut Frame,
    state: &State,
    ui: &UiState,
    theme: &Theme,
    now: SystemTime,
    timeline: Option<&crate::journal::Timeline>,
) {
    let view = View {
        state,
        ui,
        theme,
        now,
        timeline,
    };
    let area = frame.area();
    let drawn = draw(area, frame.buffer_mut(), &view);
    ui.drawn.set(drawn);
}

/// [`render`] into any buffer; returns the geometry drawn instead of recording it.
pub fn draw(area: Rect, buf: &mut Buffer, view: &View<'_>) -> Drawn {
    let mut drawn = view.ui.drawn.get();
    buf.set_style(area, view.theme.base());
    let plan = plan(
        area,
        view.ui,
        view.state.hosts.len(),
        !view.state.inventory.checklist.is_empty(),
    );
    if let Some(r) = plan.title {
        status_bar::render_title(r, buf, view);
    }
    if let Some(screen) = view.ui.screen {
        // A DNS screen takes everything between the two bars.
        let top = plan.title.map_or(area.y, |r| r.bottom());
        let bottom = plan.status.map_or(area.bottom(), |r| r.y);
        let r = Rect::new(area.x, top, area.width, bottom.saturating_sub(top));
        match screen {
            state::Screen::Resolvers => dns::render(r, buf, view),
            state::Screen::Zones => {
                (drawn.screen_rows, drawn.screen_max_scroll) = zones::render(r, buf, view);
            }
            state::Screen::Services => {
                (drawn.screen_rows, drawn.screen_max_scroll) = services::render(r, buf, view);
            }
            state::Screen::Timeline => {
                (drawn.screen_rows, drawn.screen_max_scroll) = timeline::render(r, buf, view);
            }
        }
        if let Some(r) = plan.status {
            status_bar::render_status(r, buf, view);
        }
        (drawn.help_rows, drawn.help_max_scroll) = if view.ui.help_visible {
            help::render(area, buf, view)
        } else {
            (0, 0)
        };
        // The editor (the timeline's `/` filter) and the questions (`C`) open over a
        // screen too.
        prompt::render(area, buf, view);
        return drawn;
    }
    // The focused pane's border is lit; when it is not on screen, the grid's is.
    let grid_focused = match view.ui.focus {
        state::Focus::Grid => true,
        state::Focus::Detail => plan.detail.is_none(),
        state::Focus::Checklist => plan.checklist.is_none(),
    };
    if let Some(r) = plan.grid {
        drawn.grid_rows = grid::render(r, buf, view, grid_focused);
    }
    (drawn.detail_rows, drawn.detail_max_scroll) = match plan.detail {
        Some(r) => detail::render(r, buf, view, view.ui.focus == state::Focus::Detail),
        None => (0, 0),
    };
    if let Some(r) = plan.checklist {
        (drawn.checklist_rows, drawn.checklist_width) = checklist::render(
            r,
            buf,
            view,
            view.ui.focus == state::Focus::Checklist,
            plan.checklist_side,
        );
    }
    if let Some(r) = plan.status {
        status_bar::render_status(r, buf, view);
    }
    (drawn.help_rows, drawn.help_max_scroll) = if view.ui.help_visible {
        help::render(area, buf, view)
    } else {
        (0, 0)
    };
    prompt::render(area, buf, view);
    drawn
}

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    pub title: Option<Rect>,
    pub grid: Option<Rect>,
    pub detail: Option<Rect>,
    pub checklist: Option<Rect>,
    /// The checklist stands right of the grid, not below it.
    pub checklist_side: bool,
    pub status: Option<Rect>,
}

/// Lines below which the grid and the detail pane do not share the screen.
const SPLIT_MIN: u16 = 12;
/// Columns from which the checklist stands beside the grid.
pub const SIDE_MIN_WIDTH: u16 = 140;
/// Fewest lines of the detail pane when the checklist shares the screen below it.
const DETAIL_MIN: u16 = 4;
/// Lines the grid may always have when the checklist shares the screen: eight hosts.
const GRID_KEEP: u16 = 10;

/// Lays out the screen for `hosts` hosts, and a checklist pane when the inventory has one.
pub fn plan(area: Rect, ui: &UiState, hosts: usize, has_checklist: bool) -> Plan {
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
    let checklist_focused = ui.focus == state::Focus::Checklist;
    if !has_checklist {
        plan_hosts(&mut plan, body, ui, hosts);
    } else if ui.checklist_full {
        plan.checklist = Some(body);
    } else if body.width >= SIDE_MIN_WIDTH {
        let side = (body.width * 9 / 20).clamp(56, 80);
        let left = Rect::new(body.x, body.y, body.width - side, body.height);
        plan_hosts(&mut plan, left, ui, hosts);
        plan.checklist = Some(Rect::new(left.right(), body.y, side, body.height));
        plan.checklist_side = true;
    } else if body.height < SPLIT_MIN {
        // No room for three panes: the focused one, or the grid (and detail).
        if checklist_focused {
            plan.checklist = Some(body);
        } else {
            plan_hosts(&mut plan, body, ui, hosts);
        }
    } else {
        let h = body.height;
        let checklist = if checklist_focused {
            (h * 2 / 5).clamp(6, 16)
        } else {
            (h / 4).clamp(4, 12)
        };
        let rest = h - checklist;
        let wanted = grid::wanted_height(hosts);
        let grid_height = if ui.detail_visible {
            wanted
                .min(rest - DETAIL_MIN)
                .min((rest * 3 / 5).max(GRID_KEEP))
                .max(3)
        } else {
            wanted.min(rest).max(3)
        };
        plan.grid = Some(Rect::new(body.x, body.y, body.width, grid_height));
        let mut y = body.y + grid_height;
        if ui.detail_visible {
            let detail = rest - grid_height;
            plan.detail = Some(Rect::new(body.x, y, body.width, detail));
            y += detail;
        }
        plan.checklist = Some(Rect::new(body.x, y, body.width, body.bottom() - y));
    }
    plan
}

/// The grid and the detail pane in `body`, as they share the screen without a checklist.
fn plan_hosts(plan: &mut Plan, body: Rect, ui: &UiState, hosts: usize) {
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
    } else if ui.focus == state::Focus::Detail {
        plan.detail = Some(body);
    } else {
        plan.grid = Some(body);
    }
}

/// A full screen of lines under a titled rule, scrolled by `ui.screen_scroll` (the zones
/// and the ports-and-services screens). Returns (rows shown, largest scroll).
pub(crate) fn scrolled_screen(
    area: Rect,
    buf: &mut Buffer,
    view: &View<'_>,
    title: &str,
    lines: Vec<ratatui::text::Line<'static>>,
) -> (usize, usize) {
    let total = lines.len();
    scrolled_window(area, buf, view, title, total, |window| {
        lines
            .into_iter()
            .skip(window.start)
            .take(window.len())
            .collect()
    })
}

/// [`scrolled_screen`] for `total` lines of which only the window on screen is built:
/// `window` is given the range of line indices shown and returns those lines.
pub(crate) fn scrolled_window(
    area: Rect,
    buf: &mut Buffer,
    view: &View<'_>,
    title: &str,
    total: usize,
    window: impl FnOnce(std::ops::Range<usize>) -> Vec<ratatui::text::Line<'static>>,
) -> (usize, usize) {
    use ratatui::text::Line;
    use ratatui::widgets::{Block, Borders, Widget};
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(view.theme.border(true))
        .title(Line::styled(title.to_string(), view.theme.title()));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return (0, 0);
    }
    let rows = usize::from(inner.height);
    let max_scroll = total.saturating_sub(rows);
    let scroll = view.ui.screen_scroll.min(max_scroll);
    let max = usize::from(inner.width);
    let shown = scroll..total.min(scroll + rows);
    for (i, line) in window(shown).into_iter().take(rows).enumerate() {
        let y = inner.y + u16::try_from(i).unwrap_or(u16::MAX);
        text::fit(line, max).render(Rect::new(inner.x, y, inner.width, 1), buf);
    }
    (rows, max_scroll)
}
