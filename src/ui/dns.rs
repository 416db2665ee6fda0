//! The DNS view (`d`): every resolver about every name, side by side, with the TTL counting
//! down between probes, until when old answers may still be served, and the zones' serials.
//!
//! ```text
//!  DNS ─────────────────────────────────────────────────────────────────────────────────
//! Name             system                  ns-master               Old until Primary TTL PTR of new_ip
//! vbox.example.org ⚠ OLD 198.51.100.13 41s ✔ NEW 203.0.113.13 60s 14:03:41  ✔ 60s       ✔ vbox.example.org
//! mail.example.org ✔ NEW 203.0.113.11 12s  ✔ NEW 203.0.113.11 60s -         ⚠ 3600s long ✖ x.net (no FCrDNS, mail!)
//! old answers: system until 14:03:41
//! zone example.org       primary 2026112502 · 192.0.2.53 2026112501 ⚠ behind 3m (Aleksi…)
//! ```

use std::cmp::Ordering;
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::store::{self, Seen, Verdict};

use super::View;
use super::text::{age, clean, clock, elapsed, fit, width};

/// One cell: verdict, first address, TTL left now (the TTL counts down between probes).
fn cell(view: &View<'_>, host: usize, resolver: usize) -> (String, Style) {
    let state = view.state;
    let config = &state.inventory.hosts[host];
    let Some(Some(seen)) = state.hosts[host].dns.get(resolver) else {
        return ("… waiting".into(), view.theme.muted());
    };
    let verdict = store::verdict(&state.inventory, config, &seen.value);
    let style = view.theme.verdict(verdict);
    let text = match &seen.value {
        Ok(answer) => {
            let left = Duration::from_secs(u64::from(answer.ttl))
                .saturating_sub(elapsed(view.now, seen.at))
                .as_secs();
            let first = answer
                .addresses
                .first()
                .map_or_else(|| "-".to_string(), |ip| ip.to_string());
            let more = if answer.addresses.len() > 1 {
                format!("+{}", answer.addresses.len() - 1)
            } else {
                String::new()
            };
            format!(
                "{} {} {first}{more} {left}s",
                verdict.symbol(),
                verdict.word().to_uppercase()
            )
        }
        Err(_) => format!("{} {}", verdict.symbol(), verdict.word().to_uppercase()),
    };
    (text, style)
}

/// The TTL the zone's primary serves for the name: flagged when it is longer than the
/// inventory's `long_ttl` (not lowered for the move).
fn primary_ttl(view: &View<'_>, host: usize) -> (String, Style) {
    let state = view.state;
    if store::zone_of(&state.inventory, &state.inventory.hosts[host].fqdn).is_none() {
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
fn ptr(view: &View<'_>, host: usize) -> (String, Style) {
    let state = view.state;
    let mail = state.inventory.hosts[host].role.as_deref() == Some("mail");
    let bad = if mail {
        view.theme.failed()
    } else {
        view.theme.warn()
    };
    match &state.hosts[host].ptr {
        None => ("-".into(), view.theme.muted()),
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

/// Draws the view in `area`.
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) {
    let theme = view.theme;
    let state = view.state;
    let inv = &state.inventory;
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border(true))
        .title(Line::styled(
            " DNS · every resolver about every name · d or Esc: back ",
            theme.title(),
        ));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let hosts = state.hosts.len().min(inv.hosts.len());
    let mut lines: Vec<Line<'static>> = Vec::new();

    // Columns sized to the content of the rows that can be shown.
    let zone_lines = inv.zones.len();
    let footer = 1 + zone_lines;
    let rows = usize::from(inner.height)
        .saturating_sub(1 + footer)
        .max(1)
        .min(hosts);
    let offset = view
        .ui
        .selected
        .saturating_sub(rows.saturating_sub(1))
        .min(hosts - rows.min(hosts));
    let visible = offset..(offset + rows).min(hosts);
    let cells: Vec<Vec<(String, Style)>> = visible
        .clone()
        .map(|h| (0..inv.resolvers.len()).map(|r| cell(view, h, r)).collect())
        .collect();
    let name_width = visible
        .clone()
        .map(|h| width(&inv.hosts[h].fqdn))
        .max()
        .unwrap_or(4)
        .max(4);
    let col_widths: Vec<usize> = (0..inv.resolvers.len())
        .map(|r| {
            cells
                .iter()
                .map(|row| width(&row[r].0))
                .chain(std::iter::once(width(&inv.resolvers[r].name)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |text: String, w: usize| {
        let fill = w.saturating_sub(width(&text));
        format!("{text}{} ", " ".repeat(fill))
    };

    let mut header = vec![Span::styled(pad("Name".into(), name_width), theme.header())];
    for (r, w) in col_widths.iter().enumerate() {
        header.push(Span::styled(
            pad(clean(&inv.resolvers[r].name, 40), *w),
            theme.header(),
        ));
    }
    let extra: Vec<[(String, Style); 2]> = visible
        .clone()
        .map(|h| [primary_ttl(view, h), ptr(view, h)])
        .collect();
    let until_texts: Vec<(String, Style)> = visible
        .clone()
        .map(|h| match store::old_until(state, h) {
            Some(until) if until > view.now => (
                format!(
                    "{} (in {})",
                    clock(until, view.ui.utc_offset),
                    age(elapsed(until, view.now))
                ),
                theme.verdict(Verdict::Old),
            ),
            Some(until) => (
                format!("{} (expired)", clock(until, view.ui.utc_offset)),
                theme.muted(),
            ),
            None => ("-".into(), theme.muted()),
        })
        .collect();
    let until_width = until_texts
        .iter()
        .map(|(t, _)| width(t))
        .chain(std::iter::once(width("Old until")))
        .max()
        .unwrap_or(0);
    let ttl_width = extra
        .iter()
        .map(|e| width(&e[0].0))
        .chain(std::iter::once(width("Primary TTL")))
        .max()
        .unwrap_or(0);
    header.push(Span::styled(
        pad("Old until".into(), until_width),
        theme.header(),
    ));
    header.push(Span::styled(
        pad("Primary TTL".into(), ttl_width),
        theme.header(),
    ));
    header.push(Span::styled("PTR of new_ip", theme.header()));
    lines.push(Line::from(header));

    for (row, h) in cells.iter().zip(visible.clone()) {
        let mut spans = vec![Span::raw(pad(inv.hosts[h].fqdn.clone(), name_width))];
        for ((text, style), w) in row.iter().zip(&col_widths) {
            spans.push(Span::styled(pad(text.clone(), *w), *style));
        }
        let k = h - offset;
        let (until, until_style) = &until_texts[k];
        spans.push(Span::styled(pad(until.clone(), until_width), *until_style));
        let [(ttl, ttl_style), (ptr_text, ptr_style)] = &extra[k];
        spans.push(Span::styled(pad(ttl.clone(), ttl_width), *ttl_style));
        spans.push(Span::styled(clean(ptr_text, 80), *ptr_style));
        let mut line = Line::from(spans);
        if h == view.ui.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }

    // Per resolver: until when it may still hand out an old address.
    let stale: Vec<String> = inv
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
    lines.push(if stale.is_empty() {
        Line::styled("No resolver serves an old address.", theme.muted())
    } else {
        Line::styled(
            format!("⚠ old answers may still be served by: {}", stale.join(", ")),
            theme.verdict(Verdict::Old),
        )
    });

    for (config, zone) in inv.zones.iter().zip(&state.zones) {
        let serial = |i: usize| match zone.servers.get(i).and_then(|s| s.latest.as_ref()) {
            Some(Seen { value, .. }) => match &value.result {
                Ok(a) => (a.serial, a.authoritative, None),
                Err(e) => (None, false, Some(e.to_string())),
            },
            None => (None, false, None),
        };
        let (primary, _, primary_err) = serial(0);
        let mut spans = vec![
            Span::styled(format!("zone {} ", config.name), theme.header()),
            Span::raw(format!(
                "primary {}",
                primary.map_or_else(
                    || primary_err.clone().unwrap_or_else(|| "…".into()),
                    |s| s.to_string()
                )
            )),
        ];
        for (k, sec) in config.secondaries.iter().enumerate() {
            let (s, aa, err) = serial(k + 1);
            let (text, style) = match (s, primary, err) {
                (_, _, Some(e)) => (format!("✖ {e}"), theme.failed()),
                (Some(s), Some(p), None) => match store::serial_cmp(s, p) {
                    Some(Ordering::Less) => {
                        let since = zone.servers[k + 1]
                            .behind_since
                            .map_or_else(String::new, |t| {
                                format!(" {}", age(elapsed(view.now, t)))
                            });
                        let call = sec
                            .contact
                            .as_deref()
                            .map_or_else(String::new, |c| format!(", call {}", clean(c, 60)));
                        (
                            format!("{s} ⚠ behind{since}{call}"),
                            theme.verdict(Verdict::Old),
                        )
                    }
                    _ if !aa => (format!("{s} ✖ lame (no AA)"), theme.failed()),
                    _ => (format!("{s} ✔"), theme.verdict(Verdict::New)),
                },
                (Some(s), None, None) => (s.to_string(), Style::default()),
                (None, _, None) => ("…".into(), theme.muted()),
            };
            spans.push(Span::raw(format!(
                " · {} ",
                clean(&sec.server.to_string(), 60)
            )));
            spans.push(Span::styled(text, style));
        }
        lines.push(Line::from(spans));
    }

    let max = usize::from(inner.width);
    for (i, line) in lines
        .into_iter()
        .enumerate()
        .take(usize::from(inner.height))
    {
        let y = inner.y + u16::try_from(i).unwrap_or(u16::MAX);
        fit(line, max).render(Rect::new(inner.x, y, inner.width, 1), buf);
    }
}
