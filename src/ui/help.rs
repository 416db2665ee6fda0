//! The help overlay (`?`): every key binding, generated from [`KEYMAP`](super::keys::KEYMAP)
//! so it cannot drift, and a legend of the symbols the grid uses.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use crate::checklist::ItemStatus;
use crate::store::{Health, HostsFlag, Verdict};

use super::View;
use super::keys::{Action, Binding, bindings_of};
use super::text::{clean, health_label, item_label, wrap};

/// Draws the overlay centred in `area`; returns the lines shown and how far it can scroll.
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) -> (usize, usize) {
    let theme = view.theme;
    let width = area.width.saturating_sub(4).min(78);
    if width < 3 || area.height < 3 {
        return (0, 0);
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
    (rows, max_scroll)
}

/// How the help groups actions on its lines: opposites share one.
pub const HELP_LINES: &[&[Action]] = &[
    &[Action::Up, Action::Down],
    &[Action::PageUp, Action::PageDown],
    &[Action::Top, Action::Bottom],
    &[Action::ToggleDetail],
    &[Action::NextPane, Action::PrevPane],
    &[Action::ProbeNow],
    &[Action::Tick],
    &[Action::Note],
    &[Action::Undo],
    &[Action::Who],
    &[Action::ToggleChecklist],
    &[Action::ToggleDns],
    &[Action::ToggleZones],
    &[Action::ToggleServices],
    &[Action::ToggleTimeline],
    &[Action::Filter],
    &[Action::JournalNote],
    &[Action::Canary],
    &[Action::ToggleHelp],
    &[Action::Close],
    &[Action::Quit],
];

/// What a legend entry explains after its label.
enum Legend {
    /// Words alone.
    Text(&'static str),
    /// Every health state, in its colour.
    Health,
    /// The DNS verdicts; those that share a symbol share an entry.
    Verdicts,
    /// The hosts-file flags worth a word.
    HostsFlags,
    /// The checklist's statuses and the forced mark.
    ItemStatuses,
}

/// The legend under the keys, in reading order: the grid's cells, then the checklist and
/// its popups.
const LEGEND: &[(&str, Legend)] = &[
    ("Health", Legend::Health),
    (
        "Target",
        Legend::Text("the IP probes hit; H: from the hosts file, D: from DNS"),
    ),
    ("DNS", Legend::Verdicts),
    (
        "Resolvers",
        Legend::Text("2/3 new: resolvers already answering the new address"),
    ),
    ("Hosts", Legend::HostsFlags),
    (
        "Cells",
        Legend::Text("… waiting for a first result   - not probed"),
    ),
    (
        "Detail",
        Legend::Text("Tab gives it the keys; then ↑ ↓ PgUp PgDn scroll it"),
    ),
    ("Checklist", Legend::ItemStatuses),
    (
        "Editor",
        Legend::Text(
            "n and w open a one-line editor: type, Backspace deletes, Enter saves, \
             Esc cancels; an empty note clears it",
        ),
    ),
    (
        "Red check",
        Legend::Text(
            "Space on an item whose check is red asks first: y ticks it anyway (marked ⚠), \
             any other key cancels",
        ),
    ),
];

/// Width of the legend's label column.
const LEGEND_LABEL: usize = 10;

/// Key labels of every action, then what the moment says (warnings, the ping mode), then
/// the legend.
fn lines(view: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let mut out = key_lines(view, width);
    out.push(Line::default());
    let legend = LEGEND
        .iter()
        .map(|(label, entry)| (*label, legend_body(view, entry)));
    for (label, body) in state_notes(view).into_iter().chain(legend) {
        let prefix = vec![Span::styled(
            format!("{label:<LEGEND_LABEL$}"),
            view.theme.header(),
        )];
        out.extend(wrap(prefix, body, width, LEGEND_LABEL));
    }
    out
}

/// One line per [`HELP_LINES`] entry: its keys, aligned, and what they do.
fn key_lines(view: &View<'_>, width: usize) -> Vec<Line<'static>> {
    let keys: Vec<(String, String)> = HELP_LINES
        .iter()
        .map(|actions| {
            let labels: Vec<String> = actions
                .iter()
                .map(|&a| {
                    let keys: Vec<String> = bindings_of(a).map(Binding::label).collect();
                    keys.join(" ")
                })
                .collect();
            let what: Vec<&str> = actions.iter().map(|a| a.description()).collect();
            (labels.join(" / "), what.join(" / "))
        })
        .collect();
    let key_width = keys
        .iter()
        .map(|(k, _)| super::text::width(k))
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = Vec::new();
    for (label, what) in keys {
        let pad = key_width.saturating_sub(super::text::width(&label));
        let prefix = vec![
            Span::styled(label, view.theme.key()),
            Span::raw(" ".repeat(pad)),
        ];
        out.extend(wrap(prefix, vec![Span::raw(what)], width, key_width));
    }
    out
}

/// The newest warnings, whole (the status bar cuts a long one), and how pings are sent.
fn state_notes(view: &View<'_>) -> Vec<(&'static str, Vec<Span<'static>>)> {
    let theme = view.theme;
    let mut notes: Vec<(&'static str, Vec<Span<'static>>)> = view
        .state
        .warnings
        .iter()
        .rev()
        .take(3)
        .map(|warning| {
            (
                "Warning",
                vec![Span::styled(clean(warning, 500), theme.warn())],
            )
        })
        .collect();
    if let Some(mode) = view.state.ping_mode {
        let mut body = vec![Span::raw(mode.to_string())];
        if let Some(hint) = &view.state.ping_hint {
            body.push(Span::styled(
                format!(" — {}", clean(hint, 300)),
                theme.muted(),
            ));
        }
        notes.push(("Ping", body));
    }
    notes
}

/// The words of a legend entry.
fn legend_body(view: &View<'_>, entry: &Legend) -> Vec<Span<'static>> {
    let theme = view.theme;
    match entry {
        Legend::Text(text) => vec![Span::raw(*text)],
        Legend::Health => Health::ALL
            .into_iter()
            .flat_map(|h| {
                [
                    Span::styled(health_label(h), theme.health(h)),
                    Span::raw("  "),
                ]
            })
            .collect(),
        Legend::Verdicts => verdict_legend(view),
        Legend::HostsFlags => vec![
            Span::styled("⚠ OLD IP", theme.hosts_flag(HostsFlag::Old)),
            Span::raw(": this machine's hosts file has the old address;  "),
            Span::styled(
                HostsFlag::Disagrees.word(),
                theme.hosts_flag(HostsFlag::Disagrees),
            ),
            Span::raw(": it has another address than DNS"),
        ],
        Legend::ItemStatuses => {
            let mut items: Vec<Span<'static>> = [
                ItemStatus::Open,
                ItemStatus::Ready,
                ItemStatus::Done,
                ItemStatus::DoneByCheck,
            ]
            .into_iter()
            .flat_map(|s| [Span::styled(item_label(s), theme.item(s)), Span::raw("  ")])
            .collect();
            items.push(Span::styled("⚠ forced", theme.warn()));
            items.push(Span::raw(
                ": ticked while its check was red;  ready: its check is green, tick it",
            ));
            items
        }
    }
}

/// The DNS verdicts; those that share a symbol share an entry: "✖ nxdomain/refused/error".
fn verdict_legend(view: &View<'_>) -> Vec<Span<'static>> {
    let mut dns: Vec<(Verdict, Vec<&str>)> = Vec::new();
    for v in [
        Verdict::New,
        Verdict::Old,
        Verdict::Other,
        Verdict::Timeout,
        Verdict::NxDomain,
        Verdict::NoData,
        Verdict::Refused,
        Verdict::Error,
    ] {
        match dns.iter_mut().find(|(seen, _)| seen.symbol() == v.symbol()) {
            Some((_, words)) => words.push(v.word()),
            None => dns.push((v, vec![v.word()])),
        }
    }
    let mut spans = Vec::new();
    for (v, words) in dns {
        spans.push(Span::styled(
            format!("{} {}", v.symbol(), words.join("/")),
            view.theme.verdict(v),
        ));
        spans.push(Span::raw("  "));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_action_once() {
        for action in Action::ALL {
            let n = HELP_LINES
                .iter()
                .flat_map(|l| l.iter())
                .filter(|a| **a == action)
                .count();
            assert_eq!(n, 1, "{action:?}");
        }
    }
}
