//! The help overlay (`?`): every key binding, generated from [`KEYMAP`](super::keys::KEYMAP)
//! so it cannot drift, and a legend of the symbols the grid uses.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use crate::store::{Health, HostsFlag, Verdict};

use super::View;
use super::keys::{Action, Binding, bindings_of};
use super::text::{clean, wrap};

/// Draws the overlay centred in `area`; returns how far it can scroll.
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) -> usize {
    let theme = view.theme;
    let width = area.width.saturating_sub(4).min(78);
    if width < 3 || area.height < 3 {
        return 0;
    }
    let inner_width = usize::from(width.saturating_sub(4));
    let content = lines(view, inner_width);
    let height = u16::try_from(content.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let rows = usize::from(height.saturating_sub(2));
    let max_scroll = content.len().saturating_sub(rows);
    let scroll = view.ui.help_scroll.min(max_scroll);

    Clear.render(popup, buf);
    let mut block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .style(theme.base())
        .title(Line::styled(" Help ", theme.title()))
        .title_bottom(Line::styled(" ? or Esc closes ", theme.muted()).alignment(Alignment::Right));
    if max_scroll > 0 {
        block = block.title_top(
            Line::styled(
                format!(" ↑↓ {}–{} of {} ", scroll + 1, scroll + rows, content.len()),
                theme.muted(),
            )
            .alignment(Alignment::Right),
        );
    }
    let inner = block.inner(popup);
    block.render(popup, buf);
    let inner = Rect::new(
        inner.x.saturating_add(1),
        inner.y,
        inner.width.saturating_sub(2),
        inner.height,
    );
    for (row, line) in content.iter().skip(scroll).take(rows).enumerate() {
        let y = inner.y + u16::try_from(row).unwrap_or(u16::MAX);
        buf.set_line(inner.x, y, line, inner.width);
    }
    max_scroll
}

/// Key labels of every action, then the legend.
fn lines(view: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let theme = view.theme;
    let keys: Vec<(Action, String)> = Action::ALL
        .iter()
        .map(|&action| {
            let labels: Vec<String> = bindings_of(action).map(Binding::label).collect();
            (action, labels.join(" "))
        })
        .collect();
    let key_width = keys
        .iter()
        .map(|(_, k)| super::text::width(k))
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = Vec::new();
    for (action, label) in keys {
        let pad = key_width.saturating_sub(super::text::width(&label));
        let prefix = vec![
            Span::styled(label, theme.key()),
            Span::raw(" ".repeat(pad)),
        ];
        out.extend(wrap(prefix, vec![Span::raw(action.description())], width, key_width));
    }
    out.push(Line::default());

    let legend = |label: &str, body: Vec<Span<'static>>, out: &mut Vec<Line<'static>>| {
        let prefix = vec![Span::styled(format!("{label:<10}"), theme.header())];
        out.extend(wrap(prefix, body, width, 10));
    };
    let mut health = Vec::new();
    for h in Health::ALL {
        health.push(Span::styled(format!("{} {}", h.symbol(), h.word()), theme.health(h)));
        health.push(Span::raw("  "));
    }
    legend("Health", health, &mut out);
    legend(
        "Target",
        vec![Span::raw(
            "the IP probes hit: new_ip, or H from the hosts file, D from DNS",
        )],
        &mut out,
    );
    let mut dns = Vec::new();
    for v in [
        Verdict::New,
        Verdict::Old,
        Verdict::Other,
        Verdict::Timeout,
        Verdict::NxDomain,
        Verdict::Refused,
        Verdict::Error,
    ] {
        dns.push(Span::styled(format!("{} {}", v.symbol(), v.word()), theme.verdict(v)));
        dns.push(Span::raw("  "));
    }
    dns.push(Span::raw("(the system resolver's answer)"));
    legend("DNS", dns, &mut out);
    legend(
        "Resolvers",
        vec![Span::raw("2/3 new: how many resolvers already answer the new address")],
        &mut out,
    );
    legend(
        "Hosts",
        vec![
            Span::styled("⚠ OLD IP", theme.hosts_flag(HostsFlag::Old)),
            Span::raw(" this machine's hosts file points at the old address; "),
            Span::styled(HostsFlag::Disagrees.word(), theme.hosts_flag(HostsFlag::Disagrees)),
            Span::raw(" from DNS; "),
            Span::styled(HostsFlag::Agrees.word(), theme.hosts_flag(HostsFlag::Agrees)),
            Span::raw(" with DNS; - no entry"),
        ],
        &mut out,
    );
    legend(
        "Cells",
        vec![Span::raw("… waiting for a first result   - not probed")],
        &mut out,
    );
    if let Some(mode) = view.state.ping_mode {
        let mut body = vec![Span::raw(mode.to_string())];
        if let Some(hint) = &view.state.ping_hint {
            body.push(Span::styled(format!(" — {}", clean(hint, 300)), theme.muted()));
        }
        legend("Ping", body, &mut out);
    }
    out
}
