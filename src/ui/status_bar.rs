//! The two bars: the title bar on top (the move, hosts by health, the local clock) and the
//! status bar at the bottom (a warning until dismissed, how pings are sent, the transient
//! message, who is ticking, the keys to know).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use std::time::{Duration, SystemTime};

use chrono::{DateTime, FixedOffset, SubsecRound, Utc};

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
    let warning = view.ui.warning(view.state);
    let right = who_and_keys(view, width, warning.is_some());

    // A warning (a corrupt state file set aside, a write that failed) stays until Esc: it
    // takes the ping mode's place.
    let mut left = match warning {
        Some(warning) => vec![
            Span::raw(" "),
            Span::styled(format!("⚠ {}", clean(warning, 300)), theme.alarm()),
            Span::styled(" Esc dismisses", theme.muted()),
        ],
        None => notify_spans(view)
            .or_else(|| vantage_spans(view))
            .unwrap_or_else(|| ping_spans(view)),
    };
    // The move window comes first: it is what the team is held to.
    if let Some(window) = window_span(view) {
        left.splice(0..1, [Span::raw(" "), window, Span::raw("  ")]);
    }
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

/// Notifications waiting for an endpoint: "2 notifications not delivered to team: …".
fn notify_spans(view: &View<'_>) -> Option<Vec<Span<'static>>> {
    let words = crate::store::notify::undelivered(view.state)?;
    Some(vec![
        Span::raw(" "),
        Span::styled(format!("⚠ {}", clean(&words, 200)), view.theme.warn()),
    ])
}

/// A vantage point that gave no view, and why (the first, and how many more): its grid
/// column says `⚠ no view`, this says what to fix.
fn vantage_spans(view: &View<'_>) -> Option<Vec<Span<'static>>> {
    let failing: Vec<(&str, &str)> = view
        .state
        .inventory
        .vantages
        .iter()
        .zip(&view.state.vantages)
        .filter_map(|(config, vs)| match vs.outcome() {
            Some(Err(why)) => Some((config.name.as_str(), why)),
            _ => None,
        })
        .collect();
    let (name, why) = failing.first()?;
    let more = match failing.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Some(vec![
        Span::raw(" "),
        Span::styled(
            format!("⚠ vantage {}: {}{more}", clean(name, 16), clean(why, 200)),
            view.theme.warn(),
        ),
    ])
}

/// The right of the status bar: who is ticking (with a checklist) and the keys to know,
/// shortened to `? help` when the left needs the room (more of it for a warning).
fn who_and_keys(view: &View<'_>, width: usize, warning: bool) -> Vec<Span<'static>> {
    let theme = view.theme;
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
    // A warning needs room to be read: the keys shrink for it first.
    let left_room = if warning { 50 } else { 30 };
    candidates
        .into_iter()
        .find(|c| spans_width(c) + left_room <= width)
        .unwrap_or(short)
}

/// How pings are sent (TCP stands out: no ICMP), and the hint to get ICMP.
fn ping_spans(view: &View<'_>) -> Vec<Span<'static>> {
    let theme = view.theme;
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
    ping
}

/// The move against its window, in the tone of how it stands, with the local time it
/// opens or ends; none without a window.
fn window_span(view: &View<'_>) -> Option<Span<'static>> {
    let theme = view.theme;
    let inventory = &view.state.inventory;
    let hosts = inventory.hosts.len();
    let all_up = hosts > 0 && view.state.health_counts()[0] == hosts;
    let window = move_window(
        inventory.window_start,
        inventory.window_end,
        view.now,
        all_up,
    )?;
    let style = match window.tone {
        WindowTone::Done => theme.ok(),
        WindowTone::Before => theme.muted(),
        WindowTone::Within => Style::new(),
        WindowTone::Late => theme.warn(),
        WindowTone::Over => theme.alarm(),
    };
    let mut text = window.text;
    if let Some(at) = window.at {
        text.push_str(&format!(" ({})", hour_minute(at, view.ui.utc_offset)));
    }
    Some(Span::styled(text, style))
}

/// How the move stands against its advertised window, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowStatus {
    /// `◷ 14h05m of 35h`, `window opens in 2h10m`, `⚠ 1h20m over the 35h window`.
    pub text: String,
    /// A time worth naming beside it (when the window opens or ends), shown local.
    pub at: Option<DateTime<Utc>>,
    pub tone: WindowTone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowTone {
    /// Not started yet.
    Before,
    /// Within the window, with room to spare.
    Within,
    /// Within the window, but 80 % of it is gone.
    Late,
    /// Past its end.
    Over,
    /// Every host is up: the window is met (or was overrun, and the move is done).
    Done,
}

/// The move window (`[move] window_start`, `window_end`) against `now`; none without one.
/// Once every host is up (`all_up`) the window no longer presses: it says so, and how the
/// move did against it.
pub fn move_window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: SystemTime,
    all_up: bool,
) -> Option<WindowStatus> {
    use WindowTone::*;
    // Whole seconds, so elapsed and left add up to the window (`1m10s of 2m, 50s left`).
    let now = DateTime::<Utc>::from(now).trunc_subsecs(0);
    let span =
        |from: DateTime<Utc>, to: DateTime<Utc>| hours((to - from).to_std().unwrap_or_default());
    let status = |text: String, at, tone| Some(WindowStatus { text, at, tone });
    match (start, end) {
        (None, None) => None,
        (Some(s), _) if now < s => status(
            format!("◷ window opens in {}", span(now, s)),
            Some(s),
            Before,
        ),
        (_, Some(e)) if now >= e => {
            let over = span(e, now);
            match (start, all_up) {
                (Some(s), false) => status(
                    format!("⚠ {over} over the {} window", span(s, e)),
                    Some(e),
                    Over,
                ),
                (Some(s), true) => status(
                    format!("✔ all up, {over} past the {} window", span(s, e)),
                    None,
                    Done,
                ),
                (None, false) => status(format!("⚠ {over} past the window's end"), Some(e), Over),
                (None, true) => status(
                    format!("✔ all up, {over} past the window's end"),
                    None,
                    Done,
                ),
            }
        }
        (Some(s), Some(e)) if all_up => status(
            format!("✔ all up, {} of {}", span(s, now), span(s, e)),
            None,
            Done,
        ),
        (Some(s), Some(e)) => {
            let used = (now - s).num_seconds() as f64 / (e - s).num_seconds().max(1) as f64;
            let (mark, tone) = if used >= 0.8 {
                ('⚠', Late)
            } else {
                ('◷', Within)
            };
            status(
                format!(
                    "{mark} {} of {}, {} left",
                    span(s, now),
                    span(s, e),
                    span(now, e)
                ),
                None,
                tone,
            )
        }
        (Some(s), None) if all_up => {
            status(format!("✔ all up, move +{}", span(s, now)), None, Done)
        }
        (Some(s), None) => status(format!("◷ move +{}", span(s, now)), None, Within),
        (None, Some(e)) if all_up => status(
            format!("✔ all up, window ends in {}", span(now, e)),
            Some(e),
            Done,
        ),
        (None, Some(e)) => status(
            format!("◷ window ends in {}", span(now, e)),
            Some(e),
            Within,
        ),
    }
}

/// Hours and minutes, the unit a downtime window is advertised in: `14h05m`, `35h`, `3d04h`
/// past 99 hours; seconds only within the last hour (`42s`, `3m07s`, `2m`).
fn hours(d: Duration) -> String {
    let s = d.as_secs();
    let m = s / 60;
    match m {
        0 => format!("{s}s"),
        1..60 if s.is_multiple_of(60) => format!("{m}m"),
        1..60 => format!("{m}m{:02}s", s % 60),
        60..6000 if m.is_multiple_of(60) => format!("{}h", m / 60),
        60..6000 => format!("{}h{:02}m", m / 60, m % 60),
        _ => format!("{}d{:02}h", m / 1440, m % 1440 / 60),
    }
}

/// `09:00`, or `Sat 09:00` when not today (by the local clock).
fn hour_minute(at: DateTime<Utc>, offset: FixedOffset) -> String {
    let local = at.with_timezone(&offset);
    let today = Utc::now().with_timezone(&offset).date_naive();
    if local.date_naive() == today {
        local.format("%H:%M").to_string()
    } else {
        local.format("%a %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn text(now: &str) -> (String, WindowTone) {
        let w = move_window(
            Some(at("2009-12-05T09:00:00Z")),
            Some(at("2009-12-06T20:00:00Z")),
            at(now).into(),
            false,
        )
        .unwrap();
        (w.text, w.tone)
    }

    #[test]
    fn window_against_the_clock() {
        use WindowTone::*;
        assert_eq!(
            text("2009-12-05T06:50:00Z"),
            ("◷ window opens in 2h10m".into(), Before)
        );
        assert_eq!(
            text("2009-12-05T09:00:00Z"),
            ("◷ 0s of 35h, 35h left".into(), Within)
        );
        assert_eq!(
            text("2009-12-05T23:05:00Z"),
            ("◷ 14h05m of 35h, 20h55m left".into(), Within)
        );
        assert_eq!(
            text("2009-12-06T17:00:00Z"),
            ("⚠ 32h of 35h, 3h left".into(), Late)
        );
        assert_eq!(
            text("2009-12-06T21:20:00Z"),
            ("⚠ 1h20m over the 35h window".into(), Over)
        );
        assert_eq!(move_window(None, None, SystemTime::now(), false), None);
        // Elapsed and left add up, whatever the fraction of a second.
        let w = move_window(
            Some(at("2009-12-05T09:00:00Z")),
            Some(at("2009-12-05T09:02:00Z")),
            (at("2009-12-05T09:01:09Z") + chrono::Duration::milliseconds(700)).into(),
            false,
        );
        assert_eq!(w.unwrap().text, "◷ 1m09s of 2m, 51s left");
        let done = |now: &str| {
            move_window(
                Some(at("2009-12-05T09:00:00Z")),
                Some(at("2009-12-06T20:00:00Z")),
                at(now).into(),
                true,
            )
            .unwrap()
            .text
        };
        assert_eq!(done("2009-12-05T23:05:00Z"), "✔ all up, 14h05m of 35h");
        assert_eq!(
            done("2009-12-06T21:20:00Z"),
            "✔ all up, 1h20m past the 35h window"
        );
        let only_start = move_window(
            Some(at("2009-12-05T09:00:00Z")),
            None,
            at("2009-12-10T10:00:00Z").into(),
            false,
        );
        assert_eq!(only_start.unwrap().text, "◷ move +5d01h");
    }
}
