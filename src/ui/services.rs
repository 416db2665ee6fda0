//! The ports and services view (`p`): every host's expected ports (open, refused, filtered)
//! and services (ok, warn, stale, fail), one line each, with what the probe saw; and what
//! still answers at each old address.
//!
//! ```text
//!  Ports and services · p or Esc: back ──────────────────────────────────────────────────
//! ⚠ 3 problems: www port 80 filtered (ACL?) · www planet: stale · git cert: certificate expires in 9 days
//! Host  Check              State                Detail
//! www   port 80            ✖ filtered (ACL?)    no answer in 1s: firewall/ACL drop
//!       port 443           ✔ open               0.4ms
//!       site (https)       ✔ ok                 200 OK · 12 KiB · cert 80 days
//!       planet (http)      ⚠ stale              updated 3d 2h ago, max_age 1h
//!       old 198.51.100.12  ⚠ still answers      port 80 open · site ok
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::probe::ports::{PortResult, PortState};
use crate::probe::service::ServiceState;
use crate::store::{self, Check, Damped, Seen};

use super::View;
use super::text::{WAITING, clean, rtt, width};

/// A port as the screen says it: symbol, word, and "(ACL?)" when the host answers
/// otherwise; amber while flap damping has not decided.
pub(super) fn port_cell(view: &View<'_>, host: usize, port: &PortResult) -> (String, Style) {
    let theme = view.theme;
    let h = &view.state.hosts[host];
    let damp = h
        .damp
        .get(&Check::Port(port.port))
        .copied()
        .unwrap_or_default();
    let amber = damp.is_amber();
    match port.state {
        PortState::Open if amber => (
            format!(
                "⚠ open ({})",
                damp.note(view.state.inventory.hosts[host].damping)
                    .unwrap_or_default()
            ),
            theme.warn(),
        ),
        PortState::Open => ("✔ open".into(), theme.ok()),
        state => {
            let acl = state == PortState::Filtered && host_answers(view, host);
            let mut text = format!("✖ {}{}", state.word(), if acl { " (ACL?)" } else { "" });
            if let Some(note) = damp.note(view.state.inventory.hosts[host].damping) {
                text.push_str(&format!(" ({note})"));
            }
            (text, if amber { theme.warn() } else { theme.failed() })
        }
    }
}

/// Whether something of the host answers (ping, SSH or another port): a filtered port on
/// such a host is most likely a missing firewall rule, not a dead host.
fn host_answers(view: &View<'_>, host: usize) -> bool {
    let h = &view.state.hosts[host];
    h.ping.as_ref().is_some_and(|p| p.value.result.is_ok())
        || h.ssh.as_ref().is_some_and(|s| s.value.result.is_ok())
        || h.ports
            .as_ref()
            .is_some_and(|p| p.value.ports.iter().any(|r| r.state == PortState::Open))
}

/// The symbol and style of a service state.
pub(super) fn service_style(view: &View<'_>, state: ServiceState) -> (&'static str, Style) {
    match state {
        ServiceState::Ok => ("✔", view.theme.ok()),
        ServiceState::Warn | ServiceState::Stale => ("⚠", view.theme.warn()),
        ServiceState::Fail => ("✖", view.theme.failed()),
    }
}

/// A service's state cell and its detail (the reason when not ok, else what was seen).
pub(super) fn service_cell(view: &View<'_>, host: usize, index: usize) -> (String, Style, String) {
    let h = &view.state.hosts[host];
    let config = &view.state.inventory.hosts[host];
    let Some(Seen { value, .. }) = h.services.get(index).and_then(Option::as_ref) else {
        return waiting(view);
    };
    let r = &value.result;
    let damp = h
        .damp
        .get(&Check::Service(index))
        .copied()
        .unwrap_or_default();
    let (symbol, mut style) = service_style(view, r.state);
    let mut text = format!("{symbol} {}", r.state.word());
    if let Some(note) = damp.note(config.damping) {
        text.push_str(&format!(" ({note})"));
        if damp.is_amber() {
            style = view.theme.warn();
        }
    }
    let detail = match &r.error {
        Some(e) => {
            // The reason first; then what else was seen, without repeating the reason.
            let norm = |t: &str| t.replace("certificate ", "cert ");
            let reason = norm(e);
            let rest: Vec<&str> = r
                .detail
                .split(" · ")
                .filter(|part| !part.is_empty() && !reason.contains(&norm(part)))
                .collect();
            if rest.is_empty() {
                clean(e, 200)
            } else {
                format!("{} · {}", clean(e, 200), clean(&rest.join(" · "), 200))
            }
        }
        None => clean(&r.detail, 200),
    };
    (text, style, detail)
}

/// What still answers at the old address: `None` before the first probe or without
/// `probe_old`.
pub(super) fn old_cell(view: &View<'_>, host: usize) -> Option<(String, Style, String)> {
    let config = &view.state.inventory.hosts[host];
    let old = view.state.hosts[host].old.as_ref()?;
    let o = &old.value;
    let mut answering: Vec<String> = o
        .ports
        .iter()
        .filter(|p| p.state == PortState::Open)
        .map(|p| format!("port {} open", p.port))
        .collect();
    answering.extend(
        o.services
            .iter()
            .zip(&config.services)
            .filter(|(r, _)| r.state != ServiceState::Fail)
            .map(|(r, c)| format!("{} {}", clean(&c.name, 40), r.state.word())),
    );
    Some(if o.answering() {
        (
            "⚠ still answers".into(),
            view.theme.warn(),
            format!(
                "{}: traffic may still reach the old datacenter",
                answering.join(" · ")
            ),
        )
    } else {
        (
            "✔ silent".into(),
            view.theme.ok(),
            "nothing answers at the old address".into(),
        )
    })
}

/// The problems of every host, in a few words each (the summary line).
fn problems(view: &View<'_>) -> Vec<String> {
    let state = view.state;
    let mut out = Vec::new();
    for (i, config) in state.inventory.hosts.iter().enumerate() {
        let h = &state.hosts[i];
        for check in store::checks(config) {
            let bad_port = matches!(check, Check::Port(_))
                && h.damp.get(&check).is_some_and(|d| d.state == Damped::Down);
            if bad_port {
                let (text, _) = h
                    .ports
                    .as_ref()
                    .and_then(|p| p.value.ports.iter().find(|r| Check::Port(r.port) == check))
                    .map(|r| port_cell(view, i, r))
                    .unwrap_or_default();
                out.push(format!(
                    "{} {} {}",
                    clean(&config.name, 30),
                    store::check_name(config, check),
                    text.trim_start_matches("✖ ")
                ));
            }
        }
        for (k, slot) in h.services.iter().enumerate() {
            if let Some(Seen { value, .. }) = slot
                && value.result.state != ServiceState::Ok
            {
                // The reason's first clause: "stale", "certificate expires in 5 days".
                let why = value
                    .result
                    .error
                    .as_deref()
                    .map(|e| e.split([':', '(', ',']).next().unwrap_or(e).trim())
                    .filter(|e| !e.is_empty())
                    .unwrap_or(value.result.state.word());
                out.push(format!(
                    "{} {}: {}",
                    clean(&config.name, 30),
                    clean(&config.services[k].name, 30),
                    clean(why, 60)
                ));
            }
        }
        if h.old.as_ref().is_some_and(|o| o.value.answering()) {
            out.push(format!("{} old address answers", clean(&config.name, 30)));
        }
        let mail = store::mail::mail_view(config, h).map(|m| m.problems);
        for p in mail.unwrap_or_default() {
            if p.weight == store::mail::MailWeight::Degraded {
                out.push(format!(
                    "{} mail: {}",
                    clean(&config.name, 30),
                    clean(&p.words, 80)
                ));
            }
        }
    }
    out
}

/// Draws the view in `area`; returns (rows shown, largest scroll).
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>) -> (usize, usize) {
    super::scrolled_screen(
        area,
        buf,
        view,
        " Ports and services · every host's expected ports and services · p or Esc: back ",
        lines(view),
    )
}

/// A row: the host's name (on its first row only), the check, its state and style, detail.
type Row = (String, String, String, Style, String);

/// The summary line, then the table of every host's ports, services and old address.
fn lines(view: &View<'_>) -> Vec<Line<'static>> {
    let theme = view.theme;
    let state = view.state;
    let mut out = vec![summary(view)];
    let mut rows: Vec<Row> = Vec::new();
    let mut bare = Vec::new();
    for (i, config) in state
        .inventory
        .hosts
        .iter()
        .enumerate()
        .take(state.hosts.len())
    {
        let mut host_rows = host_rows(view, i);
        match host_rows.first_mut() {
            Some(row) => row.0 = clean(&config.name, 40),
            None => bare.push(clean(&config.name, 40)),
        }
        rows.extend(host_rows);
    }
    if rows.is_empty() {
        out.push(Line::styled(
            "No host has `ports` or `[[host.service]]` in the inventory.",
            theme.muted(),
        ));
        out.extend(mail_section(view));
        return out;
    }
    out.extend(table(view, rows));
    if !bare.is_empty() {
        out.push(Line::styled(
            format!("No ports or services configured: {}", bare.join(", ")),
            theme.muted(),
        ));
    }
    out.extend(mail_section(view));
    out
}

/// The mail hosts' SPF, MX, every blocklist and HELO name, as a table of their own.
fn mail_section(view: &View<'_>) -> Vec<Line<'static>> {
    let mut rows: Vec<Row> = Vec::new();
    for (i, config) in view.state.inventory.hosts.iter().enumerate() {
        let Some(mail) = super::mail::rows(view, i, true) else {
            continue;
        };
        for (n, r) in mail.into_iter().enumerate() {
            let host = if n == 0 {
                clean(&config.name, 40)
            } else {
                String::new()
            };
            let check = format!("{} {}", r.kind, r.subject).trim_end().to_string();
            rows.push((host, check, r.state, r.style, r.detail));
        }
    }
    if rows.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        Line::raw(""),
        Line::styled(
            "Mail: what receivers check before they take the backlog (SPF, MX, blocklists, HELO)",
            view.theme.header(),
        ),
    ];
    out.extend(table(view, rows));
    out
}

/// `✔ every expected port is open …`, or how many problems and which.
fn summary(view: &View<'_>) -> Line<'static> {
    let problems = problems(view);
    if problems.is_empty() {
        Line::styled(
            "✔ every expected port is open and every service ok",
            view.theme.ok(),
        )
    } else {
        Line::styled(
            format!(
                "⚠ {} problem{}: {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems.join(" · ")
            ),
            view.theme.warn(),
        )
    }
}

/// `… waiting`: a check not seen yet.
fn waiting(view: &View<'_>) -> (String, Style, String) {
    (WAITING.into(), view.theme.muted(), String::new())
}

/// A host's rows, without its name: each expected port, each service, the old address
/// with `probe_old`.
fn host_rows(view: &View<'_>, i: usize) -> Vec<Row> {
    let config = &view.state.inventory.hosts[i];
    let h = &view.state.hosts[i];
    let mut rows: Vec<Row> = Vec::new();
    for &port in &config.ports {
        let result = h
            .ports
            .as_ref()
            .and_then(|p| p.value.ports.iter().find(|r| r.port == port));
        let (text, style, detail) = match result {
            None => waiting(view),
            Some(r) => {
                let (text, style) = port_cell(view, i, r);
                let detail = match (&r.detail, r.state) {
                    (Some(d), _) => clean(d, 200),
                    (None, PortState::Open) => rtt(r.latency),
                    (None, _) => String::new(),
                };
                (text, style, detail)
            }
        };
        rows.push((String::new(), format!("port {port}"), text, style, detail));
    }
    for (k, svc) in config.services.iter().enumerate() {
        let (text, style, detail) = service_cell(view, i, k);
        rows.push((
            String::new(),
            format!("{} ({})", clean(&svc.name, 40), svc.kind.word()),
            text,
            style,
            detail,
        ));
    }
    if config.probe_old
        && let Some(old) = config.old_ip
    {
        let (text, style, detail) = old_cell(view, i).unwrap_or_else(|| waiting(view));
        rows.push((String::new(), format!("old {old}"), text, style, detail));
    }
    rows
}

/// The rows under a header, each column padded to its widest cell.
fn table(view: &View<'_>, rows: Vec<Row>) -> Vec<Line<'static>> {
    let theme = view.theme;
    let w = |f: &dyn Fn(&Row) -> usize, head: &str| {
        rows.iter().map(f).chain([width(head)]).max().unwrap_or(0)
    };
    let (wh, wc, ws) = (
        w(&|r| width(&r.0), "Host"),
        w(&|r| width(&r.1), "Check"),
        w(&|r| width(&r.2), "State"),
    );
    let pad = |t: &str, w: usize| format!("{t}{}  ", " ".repeat(w.saturating_sub(width(t))));
    let mut out = vec![Line::styled(
        format!(
            "{}{}{}Detail",
            pad("Host", wh),
            pad("Check", wc),
            pad("State", ws)
        ),
        theme.header(),
    )];
    for (host, check, text, style, detail) in rows {
        out.push(Line::from(vec![
            Span::styled(pad(&host, wh), theme.header()),
            Span::raw(pad(&check, wc)),
            Span::styled(pad(&text, ws), style),
            Span::styled(detail, theme.muted()),
        ]));
    }
    out
}
