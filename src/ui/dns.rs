//! The DNS view (`d`): every resolver about every name, side by side, with the TTL counting
//! down between probes and until when old answers may still be served.
//!
//! ```text
//!  DNS · every resolver about every name · z: zones · d or Esc: back ──────────────────────
//! Name             system                    ns-master                public                 Old until
//! vbox.example.org ⚠ OLD 198.51.100.13 hosts ✔ NEW 203.0.113.13 60s AA ⚠ OLD 198.51.100.13 41s 14:03:41 (in 41s)
//! mail.example.org ✔ NEW 203.0.113.11 12s    ✔ NEW 203.0.113.11 60s AA ✔ NEW 203.0.113.11 9s  -
//! ⚠ old answers may still be served by: public until 14:03:41
//! vbox.example.org: system answers from the hosts file (line 3: 198.51.100.13), not DNS
//! zone example.org: ns2 ⚠ behind 3m, call Aleksi… (z: zones)
//! ```
//!
//! Columns are the `[[resolver]]`s, then every zone server the file does not list (asked
//! without recursion; `AA` marks an authoritative answer, `LAME` a server of the zone that
//! answers without it). The primary's TTL and the reverse DNS follow when the terminal is
//! wide enough; the zones view (`z`) always has them.

use std::cmp::Ordering;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::store::{self, Cell, Seen, Verdict};

use super::View;
use super::text::{WAITING, age, clean, clock, elapsed, fit, verdict_label, width};

/// The text of a matrix cell at `now` (the TTL counts down between probes). Shared with
/// `moveday dns`.
pub fn cell_text(cell: &Cell<'_>, now: SystemTime) -> String {
    match cell {
        Cell::Waiting => WAITING.into(),
        Cell::NotAsked => "-".into(),
        Cell::HostsFile { entry, verdict } => format!(
            "{} {} {} hosts",
            verdict.symbol(),
            verdict.word().to_uppercase(),
            entry.ip
        ),
        Cell::Answer {
            seen,
            verdict,
            lame,
        } => {
            let head = format!("{} {}", verdict.symbol(), verdict.word().to_uppercase());
            let tail = match (lame, &seen.value) {
                (true, _) => " LAME",
                (false, Ok(a)) if a.authoritative == Some(true) => " AA",
                _ => "",
            };
            match &seen.value {
                Ok(answer) => {
                    let left = Duration::from_secs(u64::from(answer.ttl))
                        .saturating_sub(elapsed(now, seen.at))
                        .as_secs();
                    let first = answer
                        .addresses
                        .first()
                        .map_or_else(|| "-".to_string(), |ip| ip.to_string());
                    let more = match answer.addresses.len() {
                        0 | 1 => String::new(),
                        n => format!("+{}", n - 1),
                    };
                    format!("{head} {first}{more} {left}s{tail}")
                }
                Err(_) => format!("{head}{tail}"),
            }
        }
    }
}

fn cell(view: &View<'_>, host: usize, resolver: usize) -> (String, Style) {
    let cell = store::cell(view.state, host, resolver);
    let style = match cell {
        Cell::Waiting | Cell::NotAsked => view.theme.muted(),
        Cell::Answer { lame: true, .. } => view.theme.failed(),
        Cell::HostsFile { verdict, .. } | Cell::Answer { verdict, .. } => {
            view.theme.verdict(verdict)
        }
    };
    (cell_text(&cell, view.now), style)
}

/// A vantage point's system-resolver answer for host `host`: the verdict it gave and the
/// address (`✔ new 203.0.113.13`), its error, or `…` before it answered.
fn vantage_cell(view: &View<'_>, v: usize, host: usize) -> (String, Style) {
    let theme = view.theme;
    let Some(seen) = crate::store::vantage::remote_view(view.state, v, host) else {
        return match view.state.vantages.get(v).and_then(|vs| vs.outcome()) {
            Some(Err(_)) => ("⚠ no view".into(), theme.warn()),
            Some(Ok(_)) => ("- not seen".into(), theme.muted()),
            None => (WAITING.into(), theme.muted()),
        };
    };
    let Some(d) = seen.host.system_dns() else {
        return ("- not asked".into(), theme.muted());
    };
    if let Some(e) = &d.error {
        return (format!("✖ {}", clean(e, 30)), theme.failed());
    }
    let first = d
        .addresses
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    match d.verdict.as_deref() {
        Some("new") => (format!("✔ new {first}"), theme.ok()),
        Some("old") => (format!("⚠ old {first}"), theme.old()),
        Some(other) => (format!("? {} {first}", clean(other, 12)), theme.warn()),
        None => (first, Style::default()),
    }
}

/// The TTL the zone's primary serves for the name: flagged when it is longer than the
/// inventory's `long_ttl` (not lowered for the move).
pub(super) fn primary_ttl(view: &View<'_>, host: usize) -> (String, Style) {
    let state = view.state;
    if state
        .inventory
        .zone_of(&state.inventory.hosts[host].fqdn)
        .is_none()
    {
        return ("-".into(), view.theme.muted());
    }
    match &state.hosts[host].primary {
        None => ("…".into(), view.theme.muted()),
        Some(Seen { value: Ok(a), .. })
            if u64::from(a.ttl) > state.inventory.long_ttl.as_secs() =>
        {
            (format!("⚠ {}s long", a.ttl), view.theme.warn())
        }
        Some(Seen { value: Ok(a), .. }) => (format!("✔ {}s", a.ttl), view.theme.ok()),
        Some(Seen { value: Err(e), .. }) => (format!("✖ {e}"), view.theme.failed()),
    }
}

/// Reverse DNS of `new_ip` and whether it resolves back; a mismatch on a mail host is an
/// alarm (big providers reject mail from addresses without forward-confirmed reverse DNS).
pub(super) fn ptr(view: &View<'_>, host: usize) -> (String, Style) {
    let state = view.state;
    let mail = store::is_mail(&state.inventory.hosts[host]);
    let bad = if mail {
        view.theme.failed()
    } else {
        view.theme.warn()
    };
    match &state.hosts[host].ptr {
        None if state.inventory.hosts[host].new_ip.is_none() => ("-".into(), view.theme.muted()),
        None => ("…".into(), view.theme.muted()),
        Some(Seen { value, .. }) => match &value.result {
            Ok(a) if a.forward_confirmed => (
                format!("✔ {}", a.names.first().map_or("", String::as_str)),
                view.theme.ok(),
            ),
            Ok(a) => (
                format!(
                    "✖ {} (no FCrDNS{})",
                    a.names.first().map_or("?", String::as_str),
                    if mail { ", mail!" } else { "" }
                ),
                bad,
            ),
            Err(e) => (format!("✖ {e}{}", if mail { " (mail!)" } else { "" }), bad),
        },
    }
}

/// The "old until" text of a row (the full form, or only the clock when narrow).
fn until_text(view: &View<'_>, host: usize, short: bool) -> (String, Style) {
    match store::old_until(view.state, host) {
        Some(until) if until > view.now && short => (
            clock(until, view.ui.utc_offset),
            view.theme.verdict(Verdict::Old),
        ),
        Some(until) if until > view.now => (
            format!(
                "{} (in {})",
                clock(until, view.ui.utc_offset),
                age(elapsed(until, view.now))
            ),
            view.theme.verdict(Verdict::Old),
        ),
        Some(until) => (
            format!("{} (expired)", clock(until, view.ui.utc_offset)),
            view.theme.muted(),
        ),
        None => ("-".into(), view.theme.muted()),
    }
}

/// One column: header and the visible rows' cells.
struct Column {
    header: String,
    cells: Vec<(String, Style)>,
}

impl Column {
    fn width(&self) -> usize {
        self.cells
            .iter()
            .map(|(t, _)| width(t))
            .chain(std::iter::once(width(&self.header)))
            .max()
            .unwrap_or(0)
    }
}

/// Draws the view in `area`.
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) {
    let theme = view.theme;
    let state = view.state;
    let inv = &state.inventory;
    let inner = Rect {
        y: area.y.saturating_add(1),
        height: area.height.saturating_sub(1),
        ..area
    };
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let hosts = state.hosts.len().min(inv.hosts.len());
    let max = usize::from(inner.width);

    // Below the rows: the resolvers still serving old answers, what the selected row's
    // marks mean, one line per zone.
    let selected = view.ui.selected.min(hosts.saturating_sub(1));
    let explain = explain_row(view, selected);
    let footer = 1 + usize::from(explain.is_some()) + inv.zones.len();
    let room = usize::from(inner.height).saturating_sub(1 + footer);
    let visible = row_window(selected, hosts, room);

    let (columns, dropped) = columns(view, visible.clone(), max);
    let title = if dropped {
        " DNS · every resolver about every name · z: zones, primary TTL, PTR · d or Esc: back "
    } else {
        " DNS · every resolver about every name · z: zones · d or Esc: back "
    };
    Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border(true))
        .title(Line::styled(title, theme.title()))
        .render(area, buf);

    let mut lines = matrix(view, &columns, visible);
    lines.push(stale_resolvers(view));
    if let Some(line) = explain {
        lines.push(line);
    }
    for z in 0..inv.zones.len() {
        lines.push(zone_line(view, z));
    }

    for (i, line) in lines
        .into_iter()
        .enumerate()
        .take(usize::from(inner.height))
    {
        let y = inner.y + u16::try_from(i).unwrap_or(u16::MAX);
        fit(line, max).render(Rect::new(inner.x, y, inner.width, 1), buf);
    }
}

/// The hosts shown when `room` lines are left for them (at least one): the selection last
/// when it is further down than that.
fn row_window(selected: usize, hosts: usize, room: usize) -> Range<usize> {
    let rows = room.max(1).min(hosts);
    let offset = selected
        .saturating_sub(rows.saturating_sub(1))
        .min(hosts - rows.min(hosts));
    offset..(offset + rows).min(hosts)
}

/// The matrix's columns, sized to the visible rows: the name, every resolver, then "old
/// until", the primary's TTL and the PTR. When the terminal is too narrow the optional
/// ones drop (PTR first, then the primary's TTL), then "old until" loses its countdown.
/// Also says whether any dropped.
fn columns(view: &View<'_>, visible: Range<usize>, max: usize) -> (Vec<Column>, bool) {
    let inv = &view.state.inventory;
    let name = Column {
        header: "Name".into(),
        cells: visible
            .clone()
            .map(|h| (clean(&inv.hosts[h].fqdn, 60), Style::default()))
            .collect(),
    };
    let mut resolvers: Vec<Column> = (0..inv.resolvers.len())
        .map(|r| Column {
            header: clean(&inv.resolvers[r].name, 40),
            cells: visible.clone().map(|h| cell(view, h, r)).collect(),
        })
        .collect();
    // Each vantage point's own resolver, beside ours: "is it my resolver, or theirs?".
    resolvers.extend(inv.vantages.iter().enumerate().map(|(v, config)| Column {
        header: format!("@{}", clean(&config.name, 16)),
        cells: visible.clone().map(|h| vantage_cell(view, v, h)).collect(),
    }));
    let until = |short: bool| Column {
        header: "Old until".into(),
        cells: visible
            .clone()
            .map(|h| until_text(view, h, short))
            .collect(),
    };
    let ttl = Column {
        header: "Primary TTL".into(),
        cells: visible.clone().map(|h| primary_ttl(view, h)).collect(),
    };
    let ptr_col = Column {
        header: "PTR of new_ip".into(),
        cells: visible.clone().map(|h| ptr(view, h)).collect(),
    };
    let fixed: usize = std::iter::once(&name)
        .chain(&resolvers)
        .map(|c| c.width() + 1)
        .sum();
    let mut extra = vec![until(false), ttl, ptr_col];
    let total = |extra: &[Column]| fixed + extra.iter().map(|c| c.width() + 1).sum::<usize>();
    let mut dropped = false;
    while total(&extra) > max && extra.len() > 1 {
        extra.pop();
        dropped = true;
    }
    if total(&extra) > max {
        extra[0] = until(true);
    }
    let columns = std::iter::once(name)
        .chain(resolvers)
        .chain(extra)
        .collect();
    (columns, dropped)
}

/// The header and one line per visible host, each column padded to its width; the
/// selected host is highlighted.
fn matrix(view: &View<'_>, columns: &[Column], visible: Range<usize>) -> Vec<Line<'static>> {
    let theme = view.theme;
    let widths: Vec<usize> = columns.iter().map(Column::width).collect();
    let pad = |text: &str, w: usize| {
        let fill = w.saturating_sub(width(text));
        format!("{text}{} ", " ".repeat(fill))
    };
    let mut lines = vec![Line::from(
        columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| Span::styled(pad(&c.header, *w), theme.header()))
            .collect::<Vec<_>>(),
    )];
    for (k, h) in visible.enumerate() {
        let spans: Vec<Span<'static>> = columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                let (text, style) = &c.cells[k];
                Span::styled(pad(text, *w), *style)
            })
            .collect();
        let mut line = Line::from(spans);
        if h == view.ui.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    lines
}

/// Per resolver: until when it may still hand out an old address.
fn stale_resolvers(view: &View<'_>) -> Line<'static> {
    let state = view.state;
    let stale: Vec<String> = state
        .inventory
        .resolvers
        .iter()
        .enumerate()
        .filter_map(|(r, config)| {
            let until = store::resolver_old_until(state, r)?;
            (until > view.now).then(|| {
                format!(
                    "{} until {}",
                    clean(&config.name, 40),
                    clock(until, view.ui.utc_offset)
                )
            })
        })
        .collect();
    if stale.is_empty() {
        Line::styled("No resolver serves an old address.", view.theme.muted())
    } else {
        Line::styled(
            format!("⚠ old answers may still be served by: {}", stale.join(", ")),
            view.theme.verdict(Verdict::Old),
        )
    }
}

/// What the selected row's marks mean, when it has any: an answer from the hosts file
/// (and what DNS says instead), or a lame server.
fn explain_row(view: &View<'_>, host: usize) -> Option<Line<'static>> {
    let state = view.state;
    let inv = &state.inventory;
    let config = inv.hosts.get(host)?;
    let mut parts = Vec::new();
    let mut style = view.theme.muted();
    for (r, rc) in inv.resolvers.iter().enumerate() {
        match store::cell(state, host, r) {
            Cell::HostsFile { entry, verdict } => {
                let dns = match state.hosts[host].dns.get(r) {
                    Some(Some(seen)) => {
                        let v = store::verdict(inv, config, &seen.value);
                        let addr = seen
                            .value
                            .as_ref()
                            .ok()
                            .and_then(|a| a.addresses.first())
                            .map_or_else(String::new, |ip| format!(" {ip}"));
                        format!("; its DNS says {}{addr}", verdict_label(v))
                    }
                    _ => String::new(),
                };
                parts.push(format!(
                    "{} answers from {} line {} ({}), not DNS{dns}",
                    clean(&rc.name, 40),
                    clean(&inv.hosts_file.display().to_string(), 60),
                    entry.line,
                    entry.ip
                ));
                if verdict != Verdict::New {
                    style = view.theme.verdict(Verdict::Old);
                }
            }
            Cell::Answer { lame: true, .. } => {
                parts.push(format!(
                    "{} serves the zone but answers without authority (lame)",
                    clean(&rc.name, 40)
                ));
                style = view.theme.failed();
            }
            _ => {}
        }
    }
    (!parts.is_empty()).then(|| {
        Line::styled(
            format!("{}: {}", clean(&config.fqdn, 60), parts.join(" · ")),
            style,
        )
    })
}

/// One line per zone: the primary's serial and every secondary's, the lagging ones with
/// since when and whom to call (the zones view has the whole table).
fn zone_line(view: &View<'_>, z: usize) -> Line<'static> {
    let theme = view.theme;
    let state = view.state;
    let config = &state.inventory.zones[z];
    let mut spans = vec![Span::styled(
        format!("zone {} ", clean(&config.name, 60)),
        theme.header(),
    )];
    let primary = store::zone_serial(state, z, 0);
    spans.push(Span::raw(format!(
        "primary {}",
        match &primary {
            Ok(Some(s)) => s.to_string(),
            Ok(None) => "…".into(),
            Err(e) => clean(e, 60),
        }
    )));
    for (k, sec) in config.secondaries.iter().enumerate() {
        let (text, style, needs_call) = secondary_state(view, z, k + 1);
        spans.push(Span::raw(format!(
            " · {} ",
            clean(&sec.server.to_string(), 60)
        )));
        let call = match (&sec.contact, needs_call) {
            (Some(c), true) => format!(", call {}", clean(c, 60)),
            _ => String::new(),
        };
        spans.push(Span::styled(format!("{text}{call}"), style));
    }
    // The delegation shows here only when it must be fixed at the registrar.
    if let Some(d) = store::delegation(state, z).filter(|d| d.alarm)
        && let Some(words) = d.problems.first()
    {
        spans.push(Span::styled(
            format!(" · ✖ {}", clean(words, 200)),
            theme.failed(),
        ));
    }
    Line::from(spans)
}

/// A zone server's serial compared with the primary's: current, behind (since when), ahead,
/// lame or failing, and whether its operator needs a call. Shared with the zones view.
pub(super) fn secondary_state(
    view: &View<'_>,
    zone: usize,
    server: usize,
) -> (String, Style, bool) {
    let theme = view.theme;
    let state = view.state;
    let primary = store::zone_serial(state, zone, 0);
    let this = store::zone_serial(state, zone, server);
    let aa = store::zone_authoritative(state, zone, server);
    match (this, primary) {
        (Err(e), _) => (format!("✖ {}", clean(&e, 60)), theme.failed(), true),
        (Ok(None), _) if aa == Some(false) => {
            ("✖ lame (no SOA, no AA)".into(), theme.failed(), true)
        }
        (Ok(None), _) => ("…".into(), theme.muted(), false),
        (Ok(Some(s)), Ok(Some(p))) => match store::serial_cmp(s, p) {
            Some(Ordering::Less) => {
                let since = state.zones[zone].servers[server]
                    .behind_since
                    .map_or_else(String::new, |t| format!(" {}", view.age(t)));
                (
                    format!("{s} ⚠ behind{since}"),
                    theme.verdict(Verdict::Old),
                    true,
                )
            }
            _ if aa == Some(false) => (format!("{s} ✖ lame (no AA)"), theme.failed(), true),
            Some(Ordering::Greater) => (format!("{s} ≠ ahead of the primary"), theme.warn(), false),
            None => (format!("{s} ≠ not comparable"), theme.warn(), true),
            Some(Ordering::Equal) => (format!("{s} ✔ current"), theme.verdict(Verdict::New), false),
        },
        (Ok(Some(s)), _) => (s.to_string(), Style::default(), false),
    }
}
