//! Text helpers shared by the panes: cleaning untrusted text, fitting and wrapping styled
//! spans to a width, and the compact formats of times and durations.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::checklist::ItemStatus;
use crate::store::{Health, Verdict};

/// Untrusted text (banners, URLs, error messages, even names from the inventory), made safe
/// for the terminal: no control characters, at most `max` characters. Probe outcomes are
/// sanitized already; this is the renderer's own guard.
pub fn clean(text: &str, max: usize) -> String {
    crate::sanitize::sanitize(text, max)
}

/// Display width of a string, in terminal cells.
pub fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// Display width of a character.
fn char_width(c: char) -> usize {
    let mut buf = [0u8; 4];
    width(c.encode_utf8(&mut buf))
}

/// Display width of a row of spans.
pub fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// Cuts a line to `max` cells, ending it with `…` when something was cut.
pub fn fit(line: Line<'static>, max: usize) -> Line<'static> {
    if line.width() <= max {
        return line;
    }
    let style = line.style;
    let alignment = line.alignment;
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    let budget = max.saturating_sub(1);
    let mut last_style = Style::new();
    'spans: for span in line.spans {
        last_style = span.style;
        let mut kept = String::new();
        for c in span.content.chars() {
            let w = char_width(c);
            if used + w > budget {
                if !kept.is_empty() {
                    out.push(Span::styled(kept, span.style));
                }
                break 'spans;
            }
            used += w;
            kept.push(c);
        }
        out.push(Span::styled(kept, span.style));
    }
    if max > 0 {
        out.push(Span::styled("…", last_style));
    }
    let mut fitted = Line::from(out).style(style);
    fitted.alignment = alignment;
    fitted
}

/// Word-wraps `body` to `width` cells. The first line starts with `prefix` (a label padded
/// to `indent`), the following ones with `indent` spaces. Words longer than a line are cut.
pub fn wrap(
    prefix: Vec<Span<'static>>,
    body: Vec<Span<'static>>,
    width: usize,
    indent: usize,
) -> Vec<Line<'static>> {
    let width = width.max(1);
    // On a very narrow pane the hanging indent would leave no room: drop it.
    let indent = if width < indent + 8 { 0 } else { indent };
    let mut lines = Vec::new();
    let mut line: Vec<Span<'static>> = prefix;
    let mut used = spans_width(&line);
    if used > width {
        lines.push(fit(Line::from(std::mem::take(&mut line)), width));
        line.push(Span::raw(" ".repeat(indent)));
        used = indent;
    }
    // Width of the current line before its first word, and whether it is the first line.
    let mut start = used;
    let mut first = lines.is_empty();
    let mut newline = |line: &mut Vec<Span<'static>>, used: &mut usize, start: &mut usize| {
        trim_trailing_spaces(line);
        lines.push(Line::from(std::mem::take(line)));
        line.push(Span::raw(" ".repeat(indent)));
        *used = indent;
        *start = indent;
    };
    for span in body {
        for token in split_keeping_spaces(&span.content) {
            let w = width_of(token);
            if token.starts_with(' ') {
                if used == start || used + w > width {
                    continue;
                }
                push(&mut line, token, span.style);
                used += w;
                continue;
            }
            if used + w > width && (used > start || (first && used > 0)) {
                newline(&mut line, &mut used, &mut start);
                first = false;
            }
            if used + w <= width {
                push(&mut line, token, span.style);
                used += w;
                continue;
            }
            // Longer than a whole line: cut it where the line ends, carry on below.
            for c in token.chars() {
                let cw = char_width(c);
                if used + cw > width && used > start {
                    newline(&mut line, &mut used, &mut start);
                    first = false;
                }
                push(&mut line, c.encode_utf8(&mut [0u8; 4]), span.style);
                used += cw;
            }
        }
    }
    trim_trailing_spaces(&mut line);
    lines.push(Line::from(line));
    lines
}

fn width_of(token: &str) -> usize {
    token.chars().map(char_width).sum()
}

/// Appends to the last span when the style is the same, so lines stay short.
fn push(line: &mut Vec<Span<'static>>, text: &str, style: Style) {
    if let Some(last) = line.last_mut()
        && last.style == style
    {
        last.content.to_mut().push_str(text);
        return;
    }
    line.push(Span::styled(text.to_string(), style));
}

fn trim_trailing_spaces(line: &mut Vec<Span<'static>>) {
    loop {
        let len = line.len();
        let Some(last) = line.last_mut() else { return };
        let trimmed = last.content.trim_end_matches(' ').len();
        if trimmed == 0 && len > 1 {
            line.pop();
            continue;
        }
        last.content.to_mut().truncate(trimmed);
        return;
    }
}

/// Splits into runs of spaces and runs of non-spaces.
fn split_keeping_spaces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c == ' ';
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// A compact duration: `0s`, `42s`, `3m07s`, `2h05m`, `3d04h` (`timefmt::compact`, which
/// notifications share).
pub use crate::timefmt::compact as age;

/// Time from `at` to `now` (zero when the clock went backwards).
pub fn elapsed(now: SystemTime, at: SystemTime) -> Duration {
    now.duration_since(at).unwrap_or_default()
}

/// A round-trip or request time: `<0.01ms`, `0.42ms`, `3.1ms`, `12ms`, `1.2s`.
pub fn rtt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 0.01 {
        // Loopback and the demo: faster than the clock's useful resolution.
        "<0.01ms".to_string()
    } else if ms < 1.0 {
        format!("{ms:.2}ms")
    } else if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// Wall-clock time at the given offset: `14:03:07`.
pub fn clock(at: SystemTime, offset: FixedOffset) -> String {
    DateTime::<Utc>::from(at)
        .with_timezone(&offset)
        .format("%H:%M:%S")
        .to_string()
}

/// A byte count: `812 B`, `5.1 kB`, `1.0 MB`.
pub fn bytes(n: usize) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1000.0)
    } else {
        format!("{:.1} MB", n as f64 / 1_000_000.0)
    }
}

/// A result not seen yet, where there is room to say so (the grid's cells say `…`).
pub const WAITING: &str = "… waiting";

/// A host's health as every pane words it: `● up`, `◐ degraded`.
pub fn health_label(health: Health) -> String {
    format!("{} {}", health.symbol(), health.word())
}

/// A resolver's verdict as the grid and the detail word it: `✔ new`, `✖ nxdomain`.
pub fn verdict_label(verdict: Verdict) -> String {
    format!("{} {}", verdict.symbol(), verdict.word())
}

/// A checklist item's status as the checklist and the help word it: `[x] done`.
pub fn item_label(status: ItemStatus) -> String {
    format!("{} {}", status.symbol(), status.word())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit(Line::from("drawable"), 8).to_string(), "drawable");
        assert_eq!(fit(Line::from("drawable"), 6).to_string(), "drawa…");
        assert_eq!(
            fit(Line::from(vec![Span::raw("● "), Span::raw("degraded")]), 5).to_string(),
            "● de…"
        );
        assert_eq!(fit(Line::from("abc"), 1).to_string(), "…");
        assert_eq!(fit(Line::from("abc"), 0).to_string(), "");
    }

    #[test]
    fn wrap_hangs_under_the_label() {
        let lines = wrap(
            vec![Span::raw("Hosts    ")],
            vec![Span::raw(
                "/etc/hosts line 12 points vbox at OLD 198.51.100.13",
            )],
            30,
            9,
        );
        assert_eq!(
            text(&lines),
            [
                "Hosts    /etc/hosts line 12",
                "         points vbox at OLD",
                "         198.51.100.13"
            ]
        );
        for l in &lines {
            assert!(l.width() <= 30);
        }
    }

    #[test]
    fn wrap_cuts_words_longer_than_a_line() {
        let lines = wrap(
            vec![],
            vec![Span::raw("x ".to_string() + &"a".repeat(25))],
            10,
            0,
        );
        assert_eq!(text(&lines), ["x", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaa"]);
        let lines = wrap(vec![Span::raw("L ")], vec![Span::raw("abc")], 1, 2);
        assert!(lines.iter().all(|l| l.width() <= 1), "{:?}", text(&lines));
    }

    #[test]
    fn formats() {
        assert_eq!(age(Duration::from_secs(0)), "0s");
        assert_eq!(age(Duration::from_secs(187)), "3m07s");
        assert_eq!(age(Duration::from_secs(7500)), "2h05m");
        assert_eq!(age(Duration::from_secs(3 * 86400 + 4 * 3600)), "3d04h");
        assert_eq!(rtt(Duration::from_micros(420)), "0.42ms");
        assert_eq!(rtt(Duration::from_nanos(4_100)), "<0.01ms");
        assert_eq!(rtt(Duration::from_micros(3140)), "3.1ms");
        assert_eq!(rtt(Duration::from_micros(12_400)), "12ms");
        assert_eq!(rtt(Duration::from_millis(1234)), "1.2s");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(5120), "5.1 kB");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_260_626_400);
        assert_eq!(clock(t, FixedOffset::east_opt(0).unwrap()), "14:00:00");
        assert_eq!(
            clock(t, FixedOffset::west_opt(5 * 3600).unwrap()),
            "09:00:00"
        );
    }
}
