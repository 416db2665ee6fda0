//! The zones view (`z`): per zone, every server's SOA serial against the primary's (RFC 1982
//! arithmetic), how long a lagging secondary has been behind and whom to call, the AA flag,
//! the NS set each server returns and whether they agree, the delegation at the parent
//! (`[[zone]] parent`: its NS set and glue); then each inventory name of the
//! zone with the TTL its primary serves (flagged when still long) and its reverse DNS.
//!
//! ```text
//!  Zones · SOA serials, NS sets, who to call · d: resolvers · z or Esc: back ─────────────
//! example.org  NS ✔ all servers agree: ns-master.example.org ns2.example.net
//!   Delegation  ✖ parent glue for ns-master.example.org is still 198.51.100.10 (old): upd…
//!   Server            Role       Serial                  AA  Contact           NS set
//!   203.0.113.10      primary    2026112502              AA                    ns-master.example.org …
//!   192.0.2.53        secondary  2026112501 ⚠ behind 3m  AA  ☎ Aleksi, +358 …  = primary
//!   Name                   Primary TTL   PTR of new_ip
//!   mail.example.org       ⚠ 3600s long  ✖ x.example.net (no FCrDNS, mail!)
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::config::ResolverKind;
use crate::store;

use super::View;
use super::dns::{primary_ttl, ptr, secondary_state};
use super::text::{clean, width};

/// Draws the view in `area`; `ui.screen_scroll` lines are skipped (the view can be longer
/// than the screen with many zones). Returns (rows shown, largest scroll).
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) -> (usize, usize) {
    super::scrolled_screen(
        area,
        buf,
        view,
        " Zones · SOA serials, NS sets, who to call · d: resolvers · z or Esc: back ",
        lines(view),
    )
}

/// A table of cells, padded to the widest cell of each column, indented two spaces.
fn table(rows: Vec<Vec<Cell>>, header: Style) -> Vec<Line<'static>> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|(t, _)| width(t))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let last = row.len().saturating_sub(1);
            let mut spans = vec![Span::raw("  ")];
            for (c, (text, style)) in row.into_iter().enumerate() {
                let fill = if c == last {
                    0
                } else {
                    widths[c].saturating_sub(width(&text)) + 2
                };
                let style = if i == 0 { header } else { style };
                spans.push(Span::styled(format!("{text}{}", " ".repeat(fill)), style));
            }
            Line::from(spans)
        })
        .collect()
}

/// A table cell: its text and style.
type Cell = (String, Style);

/// Every zone of the inventory, a blank line between them.
fn lines(view: &View<'_>) -> Vec<Line<'static>> {
    let inv = &view.state.inventory;
    let mut out = Vec::new();
    if inv.zones.is_empty() {
        out.push(Line::styled(
            "No [[zone]] in the inventory: add one with its primary and secondaries to follow \
             their serials here.",
            view.theme.muted(),
        ));
    }
    for z in 0..inv.zones.len() {
        if z > 0 {
            out.push(Line::raw(""));
        }
        out.extend(zone_lines(view, z));
    }
    out
}

/// One zone: whether its servers agree on the NS set, the table of its servers, and the
/// table of its inventory names.
fn zone_lines(view: &View<'_>, z: usize) -> Vec<Line<'static>> {
    let theme = view.theme;
    let state = view.state;
    let config = &state.inventory.zones[z];
    let primary_ns = store::zone_answer(state, z, 0)
        .and_then(|o| o.result.as_ref().ok())
        .map(|a| a.ns.clone());
    let (agree_text, agree_style) = match store::ns_agree(state, z) {
        None => ("NS … waiting".to_string(), theme.muted()),
        Some(true) => (
            format!(
                "NS ✔ all servers agree: {}",
                primary_ns
                    .as_deref()
                    .map_or(String::new(), |ns| ns.join(" "))
            ),
            theme.ok(),
        ),
        Some(false) => (
            "NS ✖ the servers disagree (below)".to_string(),
            theme.failed(),
        ),
    };
    let mut out = vec![Line::from(vec![
        Span::styled(format!("{}  ", clean(&config.name, 80)), theme.header()),
        Span::styled(clean(&agree_text, 200), agree_style),
    ])];
    out.extend(delegation_line(view, z));
    out.extend(canary_lines(view, z));

    let mut rows = vec![
        ["Server", "Role", "Serial", "AA", "Contact", "NS set"]
            .map(|h| (h.to_string(), Style::default()))
            .to_vec(),
    ];
    let servers = std::iter::once((ResolverKind::Server(config.primary).to_string(), None)).chain(
        config.secondaries.iter().map(|s| {
            (
                s.server.to_string(),
                Some(s.contact.as_deref().unwrap_or("-")),
            )
        }),
    );
    for (i, (server, contact)) in servers.enumerate() {
        rows.push(server_row(
            view,
            z,
            i,
            &server,
            contact,
            primary_ns.as_ref(),
        ));
    }
    out.extend(table(rows, theme.header()));
    out.extend(names_table(view, z));
    out
}

/// The zone's delegation at its parent (nothing before the first answer when the zone names
/// no `parent`: its servers are being found through the system resolver): the NS set and
/// glue when they agree with the zone, else what is wrong in words, red when it must be
/// fixed at the registrar (old glue, a different NS set), amber when the parent's servers
/// are not known.
fn delegation_line(view: &View<'_>, z: usize) -> Option<Line<'static>> {
    let theme = view.theme;
    let config = view.state.inventory.zones.get(z)?;
    let (text, style) = match store::delegation(view.state, z) {
        None if config.parent.is_empty() => return None,
        None => ("… asking the parent".to_string(), theme.muted()),
        Some(d) if d.ok => {
            let ns = d.servers.first().map_or(String::new(), |s| s.ns.join(" "));
            let parent = d
                .parent_zone
                .as_ref()
                .map_or(String::new(), |p| format!(" ({p}, by the system resolver)"));
            // Glue is only needed for NS names inside the zone.
            let glue = match d.servers.iter().all(|s| s.glue.is_empty()) {
                true => "no glue needed",
                false => "glue new",
            };
            (
                format!("✔ the parent{parent} agrees with the zone: {ns}, {glue}"),
                theme.ok(),
            )
        }
        Some(d) => {
            let words = match d.problems.is_empty() {
                true => "waiting for the zone's own NS set".to_string(),
                false => d.problems.join("; "),
            };
            let style = if d.alarm {
                theme.failed()
            } else if d.problems.is_empty() {
                theme.muted()
            } else {
                theme.warn()
            };
            (format!("✖ {words}"), style)
        }
    };
    Some(Line::from(vec![
        Span::styled("  Delegation  ", theme.header()),
        Span::styled(clean(&text, 400), style),
    ]))
}

/// The zone's canary (`canary_key`): how the last run stands, then one line per
/// secondary (✔ picked up after 1.2s, … waiting, ✖ late with whom to call); without a
/// run, how to start one.
fn canary_lines(view: &View<'_>, z: usize) -> Vec<Line<'static>> {
    let theme = view.theme;
    let Some(config) = view.state.inventory.zones.get(z) else {
        return Vec::new();
    };
    if config.canary_key.is_none() {
        return Vec::new();
    }
    let head = |text: String, style| {
        Line::from(vec![
            Span::styled("  Canary      ", theme.header()),
            Span::styled(clean(&text, 400), style),
        ])
    };
    let Some(v) = store::canary(view.state, z) else {
        return vec![head(
            "C writes _moveday-canary to the primary and watches every secondary pick it up"
                .to_string(),
            theme.muted(),
        )];
    };
    let (mark, style) = match (v.alarm, v.run.over()) {
        (true, _) => ("✖", theme.failed()),
        (false, true) => ("✔", theme.ok()),
        (false, false) => ("…", theme.warn()),
    };
    let mut out = vec![head(format!("{mark} {}", v.summary), style)];
    for s in &v.secondaries {
        let (mark, style) = match s.verdict {
            store::SecondaryVerdict::PickedUp(_) => ("✔", theme.ok()),
            store::SecondaryVerdict::Waiting => ("…", theme.muted()),
            store::SecondaryVerdict::Late => ("✖", theme.failed()),
            store::SecondaryVerdict::NotAsked => ("-", theme.muted()),
        };
        out.push(Line::from(vec![
            Span::raw("              "),
            Span::styled(format!("{mark} {}", clean(&s.words, 400)), style),
        ]));
    }
    out
}

/// Server `i` of zone `z` (0 the primary): its address, role, serial against the
/// primary's, AA flag, whom to call, and its NS set against the primary's.
fn server_row(
    view: &View<'_>,
    z: usize,
    i: usize,
    server: &str,
    contact: Option<&str>,
    primary_ns: Option<&Vec<String>>,
) -> Vec<Cell> {
    let theme = view.theme;
    let state = view.state;
    let config = &state.inventory.zones[z];
    let answer = store::zone_answer(state, z, i);
    let address = match (
        answer.and_then(|o| o.address),
        &config.secondaries.get(i.wrapping_sub(1)),
    ) {
        (Some(a), Some(sec)) if matches!(sec.server, crate::config::ServerRef::Name(_)) => {
            format!(" ({})", a.ip())
        }
        _ => String::new(),
    };
    let (serial, serial_style, needs_call) = if i == 0 {
        match store::zone_serial(state, z, 0) {
            Ok(Some(s)) => (s.to_string(), Style::default(), false),
            Ok(None) => ("…".into(), theme.muted(), false),
            Err(e) => (format!("✖ {}", clean(&e, 60)), theme.failed(), false),
        }
    } else {
        secondary_state(view, z, i)
    };
    let aa = match store::zone_authoritative(state, z, i) {
        Some(true) => ("AA".to_string(), theme.ok()),
        Some(false) => ("✖ no".to_string(), theme.failed()),
        None => ("-".to_string(), theme.muted()),
    };
    let ns = answer.and_then(|o| o.result.as_ref().ok()).map(|a| &a.ns);
    let ns = match (ns, primary_ns) {
        (None, _) => ("-".to_string(), theme.muted()),
        (Some(ns), _) if ns.is_empty() => ("✖ none".to_string(), theme.failed()),
        (Some(ns), Some(p)) if i > 0 && ns == p => ("= primary".to_string(), theme.ok()),
        (Some(ns), Some(_)) if i > 0 => (format!("≠ {}", clean(&ns.join(" "), 80)), theme.failed()),
        (Some(ns), _) => (clean(&ns.join(" "), 80), Style::default()),
    };
    // Whom to call stands out when the secondary needs a call.
    let contact = match contact {
        None => (String::new(), Style::default()),
        Some(c) if needs_call => (format!("☎ {}", clean(c, 80)), theme.warn()),
        Some(c) => (clean(c, 80), theme.muted()),
    };
    vec![
        (format!("{}{address}", clean(server, 60)), Style::default()),
        (
            if i == 0 { "primary" } else { "secondary" }.to_string(),
            theme.muted(),
        ),
        (serial, serial_style),
        aa,
        contact,
        ns,
    ]
}

/// The zone's inventory names: the TTL the primary serves and reverse DNS (nothing when
/// the zone has none).
fn names_table(view: &View<'_>, z: usize) -> Vec<Line<'static>> {
    let state = view.state;
    let inv = &state.inventory;
    let names: Vec<usize> = (0..inv.hosts.len().min(state.hosts.len()))
        .filter(|&h| inv.zone_of(&inv.hosts[h].fqdn) == Some(z))
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let mut rows = vec![vec![
        ("Name".to_string(), Style::default()),
        (
            format!("Primary TTL (long: > {}s)", inv.long_ttl.as_secs()),
            Style::default(),
        ),
        ("PTR of new_ip".to_string(), Style::default()),
    ]];
    for h in names {
        rows.push(vec![
            (clean(&inv.hosts[h].fqdn, 60), Style::default()),
            primary_ttl(view, h),
            ptr(view, h),
        ]);
    }
    table(rows, view.theme.header())
}
