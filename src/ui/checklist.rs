//! The checklist pane: the move plan phase by phase, each phase with a progress gauge, each
//! item with its state (symbol, word, colour), who ticked it and when, its note, and the
//! live state of the probe it is linked to.
//!
//! An item takes one line or more: its text wraps to the pane, "who and when" stands right
//! of its first line (on a narrow pane, on a line of its own), then come the linked probe's
//! line and the note's. [`layout`] measures every item to know where each line falls (so
//! that scrolling keeps the selection in view); [`render`] builds only the lines on screen.

use std::time::SystemTime;

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::checklist::{self, ItemRecord, ItemStatus};
use crate::config::Inventory;
use crate::config::Theme;
use crate::config::inventory::ChecklistItem;
use crate::store::{self, LinkState, State, link_name, link_words};

use super::View;
use super::state::UiState;
use super::text::{clean, fit, spans_width, width};

/// Cells of the status column: `[✔] done-by-check` and a blank.
const STATUS_COL: usize = 18;
/// Cells of the status column when the pane is too narrow for words: `[x] `.
const SYMBOL_COL: usize = 4;
/// Panes narrower than this show the status symbol without its word.
const WORDS_MIN_WIDTH: usize = 50;
/// Cells of a progress gauge.
const GAUGE: usize = 10;
/// Fewest cells the first line of an item's text keeps beside who and when.
const MIN_TEXT: usize = 16;
/// Longest shown operator name.
const WHO_SHOWN: usize = 24;

/// The items' indices in `Inventory::checklist`, phase by phase (phases in the order they
/// first appear, items in file order within a phase). Selections are positions in it.
pub fn order(inventory: &Inventory) -> Vec<usize> {
    let items = &inventory.checklist;
    let mut out = Vec::with_capacity(items.len());
    for phase in &inventory.phases {
        out.extend((0..items.len()).filter(|&i| &items[i].phase == phase));
    }
    // Phases are derived from the items, so none is missing; but never lose an item.
    out.extend((0..items.len()).filter(|&i| !inventory.phases.contains(&items[i].phase)));
    out
}

/// The position (in [`order`]) of the first item not done yet: where the work is.
pub fn first_open(state: &State) -> Option<usize> {
    order(&state.inventory)
        .iter()
        .position(|&i| !state.checklist.is_done(&state.inventory.checklist[i].id))
}

/// One line of the pane. Items are named by their position in [`order`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// The heading of the phase whose first item is at `pos`.
    Heading { pos: usize },
    /// One line of an item's text; the first carries the status.
    Text { pos: usize, line: usize },
    /// Who ticked the item and when, when it did not fit beside the text.
    Meta { pos: usize },
    /// The linked probe's live state.
    Link { pos: usize },
    /// One line of the note.
    Note { pos: usize, line: usize },
}

impl Row {
    /// The item the line belongs to (headings belong to none).
    pub fn item(self) -> Option<usize> {
        match self {
            Row::Heading { .. } => None,
            Row::Text { pos, .. }
            | Row::Meta { pos }
            | Row::Link { pos }
            | Row::Note { pos, .. } => Some(pos),
        }
    }
}

/// Where every line of the pane falls, for a pane `width` cells wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// See [`order`].
    pub order: Vec<usize>,
    pub rows: Vec<Row>,
    /// The first row of each item (after its phase's heading, if it opens the phase).
    pub starts: Vec<usize>,
}

impl Layout {
    /// The rows of the item at `pos`, its phase heading included when it opens the phase.
    pub fn range(&self, pos: usize) -> (usize, usize) {
        let Some(&start) = self.starts.get(pos) else {
            return (0, 0);
        };
        let first = match start.checked_sub(1).map(|i| self.rows[i]) {
            Some(Row::Heading { .. }) => start - 1,
            _ => start,
        };
        let mut last = start;
        while self
            .rows
            .get(last + 1)
            .is_some_and(|r| r.item() == Some(pos))
        {
            last += 1;
        }
        (first, last)
    }

    /// The first row shown so that the item at `pos` is in view in `height` lines, moving
    /// as little as possible from `prev` and never leaving blank lines that items could fill.
    /// An item taller than the pane shows its top.
    pub fn offset_for(&self, prev: usize, pos: usize, height: usize) -> usize {
        let total = self.rows.len();
        if height == 0 || total == 0 {
            return 0;
        }
        let (first, last) = self.range(pos);
        let mut offset = prev.min(total.saturating_sub(height));
        if last >= offset + height {
            offset = last + 1 - height;
        }
        if first < offset {
            offset = first;
        }
        offset
    }
}

/// Columns of the pane.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    width: usize,
    /// Where the text starts (the status column's width).
    col: usize,
    /// The status word is shown.
    words: bool,
}

impl Geometry {
    fn new(width: usize) -> Geometry {
        let words = width >= WORDS_MIN_WIDTH;
        let col = if words { STATUS_COL } else { SYMBOL_COL };
        Geometry {
            width,
            col: col.min(width.saturating_sub(1)),
            words,
        }
    }

    fn text_width(self) -> usize {
        self.width.saturating_sub(self.col).max(1)
    }
}

/// Who ticked (or unticked) an item and when.
struct Meta {
    done: bool,
    forced: bool,
    who: String,
    when: String,
}

impl Meta {
    fn of(record: Option<&ItemRecord>, offset: FixedOffset, now: SystemTime) -> Option<Meta> {
        let tick = record?.tick.as_ref()?;
        Some(Meta {
            done: tick.done,
            forced: tick.done && tick.forced,
            who: clean(&tick.who, WHO_SHOWN),
            when: local_time(tick.at, offset, now),
        })
    }

    const FORCED: &'static str = "⚠ forced ";
    const UNTICKED: &'static str = "unticked ";

    fn width(&self) -> usize {
        let mut w = width(&self.who) + 1 + width(&self.when);
        if self.forced {
            w += width(Meta::FORCED);
        }
        if !self.done {
            w += width(Meta::UNTICKED);
        }
        w
    }

    fn spans(&self, theme: &Theme) -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        if self.forced {
            spans.push(Span::styled(Meta::FORCED, theme.warn()));
        }
        if self.done {
            spans.push(Span::raw(self.who.clone()));
        } else {
            spans.push(Span::styled(Meta::UNTICKED, theme.muted()));
            spans.push(Span::styled(self.who.clone(), theme.muted()));
        }
        spans.push(Span::styled(format!(" {}", self.when), theme.muted()));
        spans
    }
}

/// `14:02` today, `Dec 12 23:10` another day (a move can run past midnight).
fn local_time(at: DateTime<Utc>, offset: FixedOffset, now: SystemTime) -> String {
    let at = at.with_timezone(&offset);
    let today = DateTime::<Utc>::from(now)
        .with_timezone(&offset)
        .date_naive();
    if at.date_naive() == today {
        at.format("%H:%M").to_string()
    } else {
        at.format("%b %d %H:%M").to_string()
    }
}

/// How one item is laid out.
struct Shape {
    text: Vec<String>,
    meta: Option<Meta>,
    /// Who and when stand beside the text's first line.
    meta_inline: bool,
    linked: bool,
    note: Vec<String>,
}

impl Shape {
    fn of(
        state: &State,
        item: &ChecklistItem,
        ui: &UiState,
        now: SystemTime,
        geo: Geometry,
    ) -> Shape {
        let record = state.checklist.items.get(&item.id);
        let text_width = geo.text_width();
        let meta = Meta::of(record, ui.utc_offset, now);
        // Who and when stand right of the text's first line, which wraps short of them;
        // on a pane too narrow for that, they get a line of their own.
        let first_width = meta
            .as_ref()
            .map_or(text_width, |m| text_width.saturating_sub(m.width() + 2));
        let meta_inline = meta.is_some() && first_width >= MIN_TEXT;
        let first_width = if meta_inline { first_width } else { text_width };
        let text = wrap_plain(&clean(&item.text, 500), first_width, text_width);
        let note = match record.and_then(|r| r.note.as_ref()) {
            Some(n) if !n.text.trim().is_empty() => wrap_plain(
                &format!("✎ {} — {}", clean(&n.text, 300), clean(&n.who, WHO_SHOWN)),
                text_width,
                text_width,
            ),
            _ => Vec::new(),
        };
        Shape {
            text,
            meta_inline,
            linked: item.check.is_some(),
            note,
            meta,
        }
    }

    fn rows(&self, pos: usize, out: &mut Vec<Row>) {
        out.extend((0..self.text.len()).map(|line| Row::Text { pos, line }));
        if self.meta.is_some() && !self.meta_inline {
            out.push(Row::Meta { pos });
        }
        if self.linked {
            out.push(Row::Link { pos });
        }
        out.extend((0..self.note.len()).map(|line| Row::Note { pos, line }));
    }
}

/// Greedy word wrap of plain text, the first line `first` cells wide and the others `rest`;
/// words longer than a line are cut.
fn wrap_plain(text: &str, first: usize, rest: usize) -> Vec<String> {
    let rest = rest.max(1);
    let mut max = first.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = width(word);
        if used > 0 && used + 1 + w <= max {
            line.push(' ');
            line.push_str(word);
            used += 1 + w;
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
            used = 0;
            max = rest;
        }
        for c in word.chars() {
            let cw = width(c.encode_utf8(&mut [0u8; 4]));
            if used + cw > max && used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
                max = rest;
            }
            line.push(c);
            used += cw;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Measures every item for a pane `width` cells wide.
pub fn layout(state: &State, ui: &UiState, now: SystemTime, width: usize) -> Layout {
    let geo = Geometry::new(width);
    let order = order(&state.inventory);
    let items = &state.inventory.checklist;
    let mut rows = Vec::with_capacity(order.len() * 2);
    let mut starts = Vec::with_capacity(order.len());
    let mut phase: Option<&str> = None;
    for (pos, &index) in order.iter().enumerate() {
        let item = &items[index];
        if phase != Some(item.phase.as_str()) {
            phase = Some(&item.phase);
            rows.push(Row::Heading { pos });
        }
        starts.push(rows.len());
        Shape::of(state, item, ui, now, geo).rows(pos, &mut rows);
    }
    Layout {
        order,
        rows,
        starts,
    }
}

/// A progress gauge: `██████░░░░ 6/10`.
fn gauge(theme: &Theme, done: usize, total: usize) -> Vec<Span<'static>> {
    let filled = (done * GAUGE + total / 2).checked_div(total).unwrap_or(0);
    // Never full before the end, never empty once something is done.
    let filled = if done < total {
        filled.min(GAUGE - 1)
    } else {
        filled
    };
    let filled = if done > 0 { filled.max(1) } else { filled };
    let count_style = if total > 0 && done == total {
        theme.ok()
    } else {
        theme.muted()
    };
    vec![
        Span::styled("█".repeat(filled), theme.gauge(true)),
        Span::styled("░".repeat(GAUGE - filled), theme.gauge(false)),
        Span::styled(format!(" {done}/{total}"), count_style),
    ]
}

/// Draws the pane; returns the lines it had room for and its width. `side`: the pane stands
/// right of the grid (a border on its left).
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    view: &View<'_>,
    focused: bool,
    side: bool,
) -> (usize, usize) {
    let theme = view.theme;
    let state = view.state;
    let ui = view.ui;
    let items = &state.inventory.checklist;
    let (done, total) = checklist::progress(&state.checklist, items, None);

    let mut title = vec![Span::styled(" Checklist ", theme.title())];
    title.extend(gauge(theme, done, total));
    title.push(Span::raw(" "));
    let borders = if side {
        Borders::TOP | Borders::LEFT
    } else {
        Borders::TOP
    };
    let block = Block::new()
        .borders(borders)
        .border_style(theme.border(focused))
        .title(Line::from(title));
    let inner = block.inner(area);
    let height = usize::from(inner.height);
    let pane_width = usize::from(inner.width);
    let geo = Geometry::new(pane_width);
    let layout = layout(state, ui, view.now, pane_width);
    let selected = ui
        .checklist_selected
        .min(layout.order.len().saturating_sub(1));
    let offset = layout.offset_for(ui.checklist_offset, selected, height);
    let visible =
        &layout.rows[offset.min(layout.rows.len())..(offset + height).min(layout.rows.len())];

    let block = if visible.len() < layout.rows.len() {
        let shown = visible.iter().filter_map(|r| r.item());
        let (first, last) = (shown.clone().min(), shown.max());
        let text = match (first, last) {
            (Some(a), Some(b)) => format!(" {}–{} of {} ", a + 1, b + 1, layout.order.len()),
            _ => format!(" {} items ", layout.order.len()),
        };
        let hint = if focused { "" } else { "· Tab: scroll " };
        block.title_top(
            Line::styled(format!("{text}{hint}"), theme.muted()).alignment(Alignment::Right),
        )
    } else {
        block
    };
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return (height, pane_width);
    }

    // Phase names line up their gauges.
    let phase_width = state
        .inventory
        .phases
        .iter()
        .map(|p| width(&clean(p, 24)))
        .max()
        .unwrap_or(0);
    // Shapes of the items on screen only.
    let mut shapes: Vec<(usize, Shape)> = Vec::new();
    for (row, &kind) in visible.iter().enumerate() {
        let y = inner.y + u16::try_from(row).unwrap_or(u16::MAX);
        let line_area = Rect::new(inner.x, y, inner.width, 1);
        let line = match kind {
            Row::Heading { pos } => {
                let Some(item) = layout.order.get(pos).and_then(|&i| items.get(i)) else {
                    continue;
                };
                heading_line(view, &item.phase, phase_width)
            }
            Row::Text { pos, .. }
            | Row::Meta { pos }
            | Row::Link { pos }
            | Row::Note { pos, .. } => {
                let Some(item) = layout.order.get(pos).and_then(|&i| items.get(i)) else {
                    continue;
                };
                if shapes.last().is_none_or(|(p, _)| *p != pos) {
                    shapes.push((pos, Shape::of(state, item, ui, view.now, geo)));
                }
                let Some((_, shape)) = shapes.last() else {
                    continue;
                };
                item_line(view, geo, item, shape, kind)
            }
        };
        let is_selected = focused && kind.item() == Some(selected);
        if is_selected {
            buf.set_style(line_area, theme.selected());
        }
        buf.set_line(inner.x, y, &fit(line, pane_width), inner.width);
        if is_selected && !theme.monochrome {
            // Secondary text would fade into the selection's background: lift it.
            for x in line_area.left()..line_area.right() {
                let cell = &mut buf[(x, y)];
                if cell.fg == theme.muted {
                    cell.fg = theme.selected_fg;
                }
            }
        }
    }
    (height, pane_width)
}

/// A phase's heading: its name, padded so that the phases' gauges line up, and its gauge.
fn heading_line(view: &View<'_>, phase: &str, phase_width: usize) -> Line<'static> {
    let state = view.state;
    let (done, total) =
        checklist::progress(&state.checklist, &state.inventory.checklist, Some(phase));
    let name = clean(phase, 24);
    let pad = phase_width.saturating_sub(width(&name));
    let mut spans = vec![
        Span::styled(name, view.theme.header()),
        Span::raw(" ".repeat(pad + 2)),
    ];
    spans.extend(gauge(view.theme, done, total));
    Line::from(spans)
}

/// One line of an item.
fn item_line(
    view: &View<'_>,
    geo: Geometry,
    item: &ChecklistItem,
    shape: &Shape,
    kind: Row,
) -> Line<'static> {
    let theme = view.theme;
    let state = view.state;
    let indent = || Span::raw(" ".repeat(geo.col));
    let mut spans = Vec::new();
    match kind {
        Row::Text { line, .. } => {
            if line == 0 {
                let status = store::item_status(state, &state.checklist, item);
                spans.push(status_span(status, geo, theme));
            } else {
                spans.push(indent());
            }
            let text = shape.text.get(line).cloned().unwrap_or_default();
            spans.push(Span::raw(text));
            if shape.meta_inline
                && line == 0
                && let Some(meta) = &shape.meta
            {
                let used = spans_width(&spans);
                let pad = geo.width.saturating_sub(used + meta.width()).max(2);
                spans.push(Span::raw(" ".repeat(pad)));
                spans.extend(meta.spans(theme));
            }
        }
        Row::Meta { .. } => {
            if let Some(meta) = &shape.meta {
                let pad = geo.width.saturating_sub(meta.width()).max(geo.col);
                spans.push(Span::raw(" ".repeat(pad)));
                spans.extend(meta.spans(theme));
            }
        }
        Row::Link { .. } => {
            if let Some(link) = &item.check {
                let live = store::link_state(state, link);
                let symbol = match live {
                    LinkState::Green(_) => "✔",
                    LinkState::Red(_) => "✖",
                    LinkState::Pending => "…",
                };
                spans.push(indent());
                spans.push(Span::styled(link_name(state, link), theme.muted()));
                spans.push(Span::styled(
                    format!(" {symbol} {}", link_words(link, &live)),
                    theme.link(&live),
                ));
            }
        }
        Row::Note { line, .. } => {
            spans.push(indent());
            spans.push(Span::raw(shape.note.get(line).cloned().unwrap_or_default()));
        }
        Row::Heading { .. } => {}
    }
    Line::from(spans)
}

/// `[x] done          `: the status, padded to the status column.
fn status_span(status: ItemStatus, geo: Geometry, theme: &Theme) -> Span<'static> {
    let text = if geo.words {
        format!("{} {}", status.symbol(), status.word())
    } else {
        status.symbol().to_string()
    };
    let pad = geo.col.saturating_sub(width(&text)).max(1);
    Span::styled(format!("{text}{}", " ".repeat(pad)), theme.item(status))
}

impl UiState {
    /// Selects the first checklist item not done yet, at the top of the pane (for the app
    /// to call once the state file is loaded: the pane opens where the work is).
    pub fn select_first_open(&mut self, state: &State, now: SystemTime) {
        if let Some(pos) = first_open(state) {
            self.checklist_selected = pos;
            let layout = layout(state, self, now, self.drawn.get().checklist_width);
            self.checklist_offset = layout.range(pos).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_plain_breaks_at_words_and_cuts_long_ones() {
        assert_eq!(
            wrap_plain("Review the ACL dump for port 80", 12, 12),
            ["Review the", "ACL dump for", "port 80"]
        );
        assert_eq!(
            wrap_plain("Review the ACL dump for port 80", 6, 20),
            ["Review", "the ACL dump for", "port 80"]
        );
        assert_eq!(wrap_plain("abcdefghij k", 4, 4), ["abcd", "efgh", "ij k"]);
        assert_eq!(wrap_plain("", 10, 10), [""]);
        for l in wrap_plain("x  yy   zzz", 3, 3) {
            assert!(width(&l) <= 3, "{l}");
        }
    }

    #[test]
    fn local_time_shows_the_day_only_when_it_is_not_today() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_260_626_400);
        let at = DateTime::<Utc>::from(now) - chrono::Duration::minutes(30);
        assert_eq!(local_time(at, utc, now), "13:30");
        let cet = FixedOffset::east_opt(3600).unwrap();
        assert_eq!(local_time(at, cet, now), "14:30");
        let yesterday = at - chrono::Duration::hours(14);
        assert_eq!(local_time(yesterday, utc, now), "Dec 11 23:30");
    }
}
