//! The timeline (`t`): the move's journal, newest first, one line an event, coloured by
//! what it means (green: something came up, red: something went down, amber: on the way).
//! `/` filters by host (or zone, or any word of a note); `N` writes a note into it.
//!
//! ```text
//!  Timeline · the move's journal, newest first · filter: www · / filter · N note · t or Esc: back
//! 14:03:41  www        port 80 open (was filtered)
//! 14:02:10  www        note by ann: ACL fixed, ticket #4711
//! 13:58:02  www        health down → degraded: port 80 filtered (ACL?)
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::journal::{Entry, Tone};

use super::View;
use super::text::{clean, clock, width};

/// Events shown at most (the newest; the journal file keeps everything).
const SHOWN: usize = 2_000;

/// Draws the view in `area`; returns (rows shown, largest scroll).
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) -> (usize, usize) {
    let filter = view.ui.timeline_filter.as_str();
    let title = if filter.is_empty() {
        " Timeline · the move's journal, newest first · / filter · N note · t or Esc: back "
            .to_string()
    } else {
        format!(
            " Timeline · filter: {} · / filter (empty: all) · N note · t or Esc: back ",
            clean(filter, 40)
        )
    };
    let theme = view.theme;
    let Some(timeline) = view.timeline else {
        let none = Line::styled(
            "No journal here (the timeline shows the journal the dashboard writes).",
            theme.muted(),
        );
        return super::scrolled_screen(area, buf, view, &title, vec![none]);
    };
    // The journal of a large move has thousands of entries: only the window on screen is
    // formatted, the rest is only counted.
    let entries: Vec<&Entry> = timeline.newest_first(filter).take(SHOWN).collect();
    if entries.is_empty() {
        let nothing = Line::styled(
            if filter.is_empty() {
                "Nothing recorded yet.".to_string()
            } else {
                format!(
                    "Nothing matches \"{}\" (/ then Enter on an empty filter shows all).",
                    clean(filter, 40)
                )
            },
            theme.muted(),
        );
        return super::scrolled_screen(area, buf, view, &title, vec![nothing]);
    }
    super::scrolled_window(area, buf, view, &title, entries.len(), |window| {
        entries[window].iter().map(|e| line(view, e)).collect()
    })
}

/// One entry: its time, its host, what happened (coloured by what it means).
fn line(view: &View<'_>, e: &Entry) -> Line<'static> {
    let theme = view.theme;
    let style = match e.tone() {
        Tone::Good => theme.ok(),
        Tone::Bad => theme.failed(),
        Tone::Warn => theme.warn(),
        Tone::Neutral => Style::default(),
    };
    Line::from(vec![
        Span::styled(
            format!("{}  ", clock(e.at.into(), view.ui.utc_offset)),
            theme.muted(),
        ),
        Span::styled(host_column(e.host().unwrap_or("")), theme.header()),
        Span::styled(clean(&e.summary(), 300), style),
    ])
}

/// Columns of the host's name in a line; a space always follows it.
const HOST_COLUMNS: usize = 10;

/// The host's name in [`HOST_COLUMNS`] terminal columns (cut with `…` when longer), then a
/// space: a ten-character name ran into the text after it.
fn host_column(host: &str) -> String {
    let mut name = clean(host, HOST_COLUMNS);
    while width(&name) > HOST_COLUMNS {
        let kept = name.trim_end_matches('…').chars().count().saturating_sub(1);
        name = clean(host, kept);
    }
    let pad = HOST_COLUMNS.saturating_sub(width(&name)) + 1;
    format!("{name}{}", " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_column_always_ends_in_a_space() {
        assert_eq!(host_column("www"), "www        ");
        assert_eq!(host_column("mailrelay1"), "mailrelay1 ");
        assert_eq!(host_column("mailrelay12"), "mailrelay… ");
        // Wide characters count by their columns.
        assert_eq!(host_column("東京東京東京"), "東京東京…  ");
        assert_eq!(host_column(""), " ".repeat(11));
    }
}
