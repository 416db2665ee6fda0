//! The two bars: the title bar on top (the move, hosts by health, the local clock) and the
//! status bar at the bottom (a warning until dismissed, how pings are sent, the transient
//! message, who is ticking, the keys to know).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::probe::PingMode;
use crate::store::Health;

use super::View;
use super::text::{clean, clock, fit, spans_width};

/// The top line: move name left; counts by health and the clock right.
pub fn render_title(area: Rect, buf: &mut Buffer, view: &View<'_>) {
    let theme = view.theme;
    buf.set_style(area, theme.status_bar());
    let width = usize::from(area.width);
    let name = clean(&view.state.inventory.name, 200);
    let counts = view.state.health_counts();
    let time = clock(view.now, view.ui.utc_offset);

    let tiers: [fn(Health, usize) -> String; 3] = [
        |h, n| format!("{} {n} {}", h.symbol(), h.word()),
        |h, n| format!("{}{n} {}", h.symbol(), h.word()),
        |h, n| format!("{}{n}", h.symbol()),
    ];
    let gaps = ["  ", " ", " "];
    // The richest counts that leave the whole name room; failing that, 24 characters of it.
    let name_width = super::text::width(&name) + 2;
    let build = |tier: usize| {
        let mut right = counts_spans(view, &counts, tiers[tier], gaps[tier]);
        right.push(Span::raw(gaps[tier]));
        right.push(Span::styled(time.clone(), theme.title()));
        if tier == 0 {
            right.push(Span::raw(" "));
        }
        right
    };
    let fits = |tier: usize, name: usize| spans_width(&build(tier)) + name <= width;
    let tier = (0..tiers.len())
        .find(|&t| fits(t, name_width))
        .or_else(|| (0..tiers.len()).find(|&t| fits(t, name_width.min(26))))
        .unwrap_or(tiers.len() - 1);
    let right = build(tier);
    let right_width = spans_width(&right);
    let left = Line::from(vec![Span::raw(" "), Span::styled(name, theme.title())]);
    if right_width <= width {
        // At least one blank between the name and the counts.
        let left = fit(left, (width - right_width).saturating_sub(1));
        buf.set_line(area.x, area.y, &left, area.width);
        let x = area.x + u16::try_from(width - right_width).unwrap_or(0);
        buf.set_line(x, area.y, &Line::from(right), area.width);
    } else {
        // Tinier than the counts alone: the clock and counts, cut.
        buf.set_line(area.x, area.y, &fit(Line::from(right), width), area.width);
    }
}

fn counts_spans(
    view: &View<'_>,
    counts: &[usize; 4],
    format: fn(Health, usize) -> String,
    gap: &str,
) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (i, health) in Health::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(gap.to_string()));
        }
        let n = counts[i];
        let style = if n == 0 {
            view.theme.muted()
        } else {
            view.theme.health(health)
        };
        spans.push(Span::styled(format(health, n), style));
    }
    spans
}

/// The bottom line: the newest warning (until Esc dismisses it) or the ping mode (and how
/// to get ICMP), the message; who ticks (with a checklist) and `? help` on the right.
pub fn render_status(area: Rect, buf: &mut Buffer, view: &View<'_>) {
    let theme = view.theme;
    buf.set_style(area, theme.status_bar());
    let width = usize::from(area.width);
    let key = |k: &'static str| Span::styled(k, theme.key());
    let text = |t: &'static str| Span::raw(t);

    let full = vec![
        key("r"),
        text(" probe  "),
        key("?"),
        text(" help  "),
        key("q"),
        text(" quit "),
    ];
    let short = vec![key("?"), text(" help ")];
    let mut candidates = Vec::new();
    if !view.state.inventory.checklist.is_empty() {
        let who = if view.ui.who.is_empty() {
            Span::styled("nobody yet (w)", theme.warn())
        } else {
            Span::styled(clean(&view.ui.who, 32), theme.title())
        };
        let who = vec![Span::raw("who: "), who, Span::raw("  ")];
        candidates.push([who.clone(), full.clone()].concat());
        candidates.push([who, short.clone()].concat());
    } else {
        candidates.push(full);
    }
    let warning = view.ui.warning(view.state);
    // A warning needs room to be read: the keys shrink for it first.
    let left_room = if warning.is_some() { 50 } else { 30 };
    let right = candidates
        .into_iter()
        .find(|c| spans_width(c) + left_room <= width)
        .unwrap_or(short);

    let mut ping = vec![Span::raw(" ")];
    match view.state.ping_mode {
        None => ping.push(Span::styled("ping: starting…", theme.muted())),
        Some(mode) => {
            let style = if mode == PingMode::Tcp {
                theme.warn()
            } else {
                Style::new()
            };
            ping.push(Span::styled(format!("ping: {mode}"), style));
            if let Some(hint) = &view.state.ping_hint {
                ping.push(Span::styled(
                    format!(" — {}", clean(hint, 300)),
                    theme.muted(),
                ));
            }
        }
    }
    // A warning (a corrupt state file set aside, a write that failed) stays until Esc: it
    // takes the ping mode's place.
    let left = match warning {
        Some(warning) => vec![
            Span::raw(" "),
            Span::styled(format!("⚠ {}", clean(warning, 300)), theme.alarm()),
            Span::styled(" Esc dismisses", theme.muted()),
        ],
        None => ping,
    };
    let message = view
        .ui
        .message
        .as_ref()
        .map(|m| Span::styled(clean(m, 200), theme.message()));

    let right_width = spans_width(&right);
    if right_width > width {
        buf.set_line(area.x, area.y, &fit(Line::from(right), width), area.width);
        return;
    }
    let room = width - right_width;
    // The message matters more than the ping mode's hint: it gets its room first.
    let mut spans = Vec::new();
    if let Some(message) = message {
        let message_width = message.width();
        let left_room = room.saturating_sub(message_width + 4);
        if left_room >= 12 {
            spans.extend(fit(Line::from(left), left_room).spans);
            spans.push(Span::raw("  "));
        } else {
            spans.push(Span::raw(" "));
        }
        spans.push(message);
    } else {
        spans = left;
    }
    let line = fit(Line::from(spans), room.saturating_sub(1));
    buf.set_line(area.x, area.y, &line, area.width);
    let x = area.x + u16::try_from(room).unwrap_or(0);
    buf.set_line(x, area.y, &Line::from(right), area.width);
}
