//! The small popups that take the keyboard: the one-line editor (`n` a note, `w` who is
//! ticking) and "tick anyway?" for an item whose linked probe is red.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use super::View;
use super::state::{CanaryAsk, Confirm, EditTarget, Editor, Mode};
use super::text::{clean, width, wrap};

/// Draws the open editor or confirmation, if any, centred in `area`.
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) {
    match &view.ui.mode {
        Mode::Normal => {}
        Mode::Edit(editor) => render_editor(area, buf, view, editor),
        Mode::Confirm(confirm) => render_confirm(area, buf, view, confirm),
        Mode::ConfirmCanary(ask) => render_canary(area, buf, view, ask),
    }
}

/// A popup of `width` × `height` centred in `area`, cleared, with a border and a title.
fn popup<'a>(
    area: Rect,
    buf: &mut Buffer,
    view: &View<'_>,
    width: u16,
    height: u16,
    title: Line<'a>,
    bottom: &'a str,
) -> (Rect, Block<'a>) {
    let width = width.min(area.width);
    let height = height.min(area.height);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    Clear.render(rect, buf);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(view.theme.border(true))
        .style(view.theme.base())
        .title(title)
        .title_bottom(Line::styled(bottom, view.theme.muted()).alignment(Alignment::Right));
    (rect, block)
}

fn render_editor(area: Rect, buf: &mut Buffer, view: &View<'_>, editor: &Editor) {
    let theme = view.theme;
    let (title, bottom) = match &editor.target {
        EditTarget::Note { id } => (
            format!(" Note on {} ", clean(id, 40)),
            " Enter saves · Esc cancels · empty clears ",
        ),
        EditTarget::Who => (
            " Who is ticking? ".to_string(),
            " Enter saves · Esc cancels ",
        ),
        EditTarget::TimelineFilter => (
            " Filter the timeline (host, zone, word or kind) ".to_string(),
            " Enter applies · Esc cancels · empty shows all ",
        ),
        EditTarget::JournalNote => (
            " Note for the move's journal ".to_string(),
            " Enter writes · Esc cancels ",
        ),
    };
    let popup_width = area.width.saturating_sub(4).min(72);
    if popup_width < 8 || area.height < 3 {
        return;
    }
    let count = format!(
        " {}/{} ",
        editor.text.chars().count(),
        editor.target.max_chars()
    );
    let (rect, block) = popup(
        area,
        buf,
        view,
        popup_width,
        3,
        Line::styled(title, theme.title()),
        bottom,
    );
    let block = block.title_top(Line::styled(count, theme.muted()).alignment(Alignment::Right));
    let inner = block.inner(rect);
    block.render(rect, buf);
    // The end of the text, where the cursor is, stays in view.
    let room = usize::from(inner.width).saturating_sub(3);
    let text = clean(&editor.text, 300);
    let mut shown: Vec<char> = Vec::new();
    let mut used = 0;
    for c in text.chars().rev() {
        let w = width(c.encode_utf8(&mut [0u8; 4]));
        if used + w > room {
            break;
        }
        used += w;
        shown.push(c);
    }
    let cut = shown.len() < text.chars().count();
    let shown: String = shown.into_iter().rev().collect();
    let line = Line::from(vec![
        Span::styled(if cut { "…" } else { "›" }, theme.key()),
        Span::raw(" "),
        Span::raw(shown),
        Span::styled(" ", theme.base().add_modifier(Modifier::REVERSED)),
    ]);
    buf.set_line(inner.x, inner.y, &line, inner.width);
}

fn render_confirm(area: Rect, buf: &mut Buffer, view: &View<'_>, confirm: &Confirm) {
    let theme = view.theme;
    let popup_width = area.width.saturating_sub(4).min(76);
    if popup_width < 8 || area.height < 3 {
        return;
    }
    let inner_width = usize::from(popup_width.saturating_sub(4));
    let body = vec![
        Span::styled(clean(&confirm.link, 80), theme.title()),
        Span::styled(" is red: ", theme.failed()),
        Span::raw(format!("{} — tick anyway? ", clean(&confirm.detail, 200))),
        Span::styled("y", theme.key()),
        Span::raw("/N"),
    ];
    let lines = wrap(Vec::new(), body, inner_width, 0);
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let (rect, block) = popup(
        area,
        buf,
        view,
        popup_width,
        height,
        Line::styled(format!(" Tick {}? ", clean(&confirm.id, 40)), theme.title()),
        " y ticks anyway · any other key cancels ",
    );
    draw_lines(rect, block, buf, &lines);
}

/// "Write the canary?": what will be written where, and the key for each zone.
fn render_canary(area: Rect, buf: &mut Buffer, view: &View<'_>, ask: &CanaryAsk) {
    let theme = view.theme;
    let popup_width = area.width.saturating_sub(4).min(76);
    if popup_width < 8 || area.height < 3 {
        return;
    }
    let inner_width = usize::from(popup_width.saturating_sub(4));
    let mut lines = wrap(
        Vec::new(),
        vec![Span::raw(
            "Sends the zone's primary a TSIG-signed update of _moveday-canary.ZONE TXT (the only \
             record moveday writes), then asks every secondary until it serves it.",
        )],
        inner_width,
        0,
    );
    let single = ask.zones.len() == 1;
    for (n, (_, name, primary)) in ask.zones.iter().enumerate().take(9) {
        let key = if single {
            "y".to_string()
        } else {
            (n + 1).to_string()
        };
        let body = vec![
            Span::styled(key, theme.key()),
            Span::raw("  "),
            Span::styled(clean(name, 60), theme.title()),
            Span::raw(format!(" at its primary {}", clean(primary, 60))),
        ];
        lines.extend(wrap(Vec::new(), body, inner_width, 3));
    }
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let bottom = if single {
        " y writes · any other key cancels "
    } else {
        " a number writes · any other key cancels "
    };
    let (rect, block) = popup(
        area,
        buf,
        view,
        popup_width,
        height,
        Line::styled(" Write the canary? ", theme.title()),
        bottom,
    );
    draw_lines(rect, block, buf, &lines);
}

/// Draws the popup's border and its lines inside, a column in from each side.
fn draw_lines(rect: Rect, block: Block<'_>, buf: &mut Buffer, lines: &[Line<'_>]) {
    let inner = block.inner(rect);
    block.render(rect, buf);
    let inner = Rect::new(
        inner.x.saturating_add(1),
        inner.y,
        inner.width.saturating_sub(2),
        inner.height,
    );
    for (row, line) in lines.iter().take(usize::from(inner.height)).enumerate() {
        let y = inner.y + u16::try_from(row).unwrap_or(u16::MAX);
        buf.set_line(inner.x, y, line, inner.width);
    }
}
