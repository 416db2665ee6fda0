//! The detail pane: everything known about the selected host, in sentences an operator can
//! act on — each probe's latest result and age, the IP it hit and why, every resolver's
//! answer, and what the hosts file means for this machine.

use std::net::IpAddr;
use std::time::SystemTime;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::config::{HostConfig, ResolverKind};
use crate::probe::{DnsAnswer, DnsError, HostsEntry, HttpResponse, PingOutcome, TargetSource};
use crate::store::{self, AddressClass, Health, HostState, HostsFlag, Seen};

use super::View;
use super::grid::address_style;
use super::text::{WAITING, bytes, clean, clock, health_label, rtt, verdict_label, wrap};

/// Width of the label column ("Health", "Target", ...).
const LABEL: usize = 8;

/// Draws the detail pane of the selected host; returns the lines shown and how far it can
/// scroll.
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>, focused: bool) -> (usize, usize) {
    let theme = view.theme;
    let state = view.state;
    let index = view.ui.selected;
    let (Some(config), Some(host)) = (state.inventory.hosts.get(index), state.hosts.get(index))
    else {
        Block::new()
            .borders(Borders::TOP)
            .border_style(theme.border(focused))
            .title(Line::styled(" Detail ", theme.title()))
            .render(area, buf);
        return (0, 0);
    };

    let width = usize::from(area.width);
    let lines = lines(view, config, host, index, width);
    let height = usize::from(area.height.saturating_sub(1));
    let max_scroll = lines.len().saturating_sub(height);
    let scroll = view.ui.detail_scroll.min(max_scroll);

    let title = Line::from(vec![
        Span::styled(
            format!(" {} ", host.health.symbol()),
            theme.health(host.health),
        ),
        Span::styled(
            format!(
                "{} · {} ",
                clean(&config.name, 64),
                clean(&config.fqdn, 253)
            ),
            theme.title(),
        ),
    ]);
    let mut block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border(focused))
        .title(title);
    if max_scroll > 0 {
        let last = (scroll + height).min(lines.len());
        let hint = if focused {
            "↑↓ scroll"
        } else {
            "Tab: scroll"
        };
        block = block.title_top(
            Line::styled(
                format!(" {}–{last} of {} · {hint} ", scroll + 1, lines.len()),
                theme.muted(),
            )
            .alignment(Alignment::Right),
        );
    }
    let inner = block.inner(area);
    block.render(area, buf);
    for (row, line) in lines.iter().skip(scroll).take(height).enumerate() {
        let y = inner.y + u16::try_from(row).unwrap_or(u16::MAX);
        buf.set_line(inner.x, y, line, inner.width);
    }
    (height, max_scroll)
}

/// One row of the pane before wrapping: its label (empty on the later rows of a group, as
/// under "DNS", one row per resolver) and its words.
type Row = (&'static str, Vec<Span<'static>>);

/// The pane's content, wrapped to `width`: how the host is, where the probes go and what
/// answers there, then what the names say about it.
fn lines(
    view: &View<'_>,
    config: &HostConfig,
    h: &HostState,
    index: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let mut rows: Vec<Row> = vec![
        ("Health", health_row(view, config, h)),
        ("Target", target_row(view, config, h)),
        ("Ping", ping_row(view, config, h)),
        ("SSH", ssh_row(view, config, h)),
        ("HTTP", http_row(view, config, h)),
    ];
    // Expected ports, services, the old address: issue 5's "beyond it answers".
    if !config.ports.is_empty() {
        rows.push(("Ports", ports_row(view, h, index)));
    }
    rows.extend(service_rows(view, config, h, index));
    rows.extend(old_ip_row(view, config, index));
    // A mail host's SPF, MX, blocklists and HELO name: what receivers judge it by.
    let mail = super::mail::rows(view, index, false).unwrap_or_default();
    rows.extend(group("Mail", mail.iter().map(|r| r.sentence(view))));
    rows.extend(flaps_row(view, config, h));
    // What other vantage points see, beside what this laptop sees.
    rows.extend(group("Seen", vantage_sentences(view, h)));
    rows.extend(dns_rows(view, config, (h, index), width));
    rows.extend(hosts_rows(view, config, h, index));
    // Reverse DNS of new_ip and the TTL the primary serves (the zones view has them all).
    rows.extend(ptr_row(view, config, index));
    rows.extend(ttl_row(view, config, index));

    let mut out = Vec::new();
    for (label, body) in rows {
        let prefix = vec![Span::styled(
            format!("{label:<LABEL$}"),
            view.theme.header(),
        )];
        out.extend(wrap(prefix, body, width, LABEL));
    }
    out
}

/// Rows of a group: the first carries the label, the others hang under it.
fn group(label: &'static str, bodies: impl IntoIterator<Item = Vec<Span<'static>>>) -> Vec<Row> {
    bodies
        .into_iter()
        .enumerate()
        .map(|(n, body)| (if n == 0 { label } else { "" }, body))
        .collect()
}

/// ` · 3m07s ago`: how old a result is.
fn ago(view: &View<'_>, at: SystemTime) -> Span<'static> {
    Span::styled(format!(" · {} ago", view.age(at)), view.theme.muted())
}

/// `… waiting for the banner`: nothing seen yet.
fn waiting(view: &View<'_>, what: &str) -> Vec<Span<'static>> {
    vec![Span::styled(format!("… {what}"), view.theme.muted())]
}

/// `not probed (ssh = false)`: the inventory turned the probe off.
fn not_probed(view: &View<'_>, why: &str) -> Vec<Span<'static>> {
    vec![Span::styled(
        format!("not probed ({why})"),
        view.theme.muted(),
    )]
}

/// `✖ timeout`: a probe's failure in its own words.
fn failure(view: &View<'_>, error: &impl ToString) -> Span<'static> {
    Span::styled(
        format!("✖ {}", clean(&error.to_string(), 200)),
        view.theme.failed(),
    )
}

/// The tail of a probe's row: the IP it hit when that is not the target any more, and how
/// old the result is.
fn hit_and_age(
    view: &View<'_>,
    h: &HostState,
    ip: IpAddr,
    word: &str,
    at: SystemTime,
) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = other_ip(view, h, ip, word).into_iter().collect();
    spans.push(ago(view, at));
    spans
}

/// Health and why: how long the host has been so, and the reasons it is not up.
fn health_row(view: &View<'_>, config: &HostConfig, h: &HostState) -> Vec<Span<'static>> {
    let theme = view.theme;
    let (health, reasons) = store::health(config, h);
    let mut spans = vec![Span::styled(health_label(h.health), theme.health(h.health))];
    if let Some(since) = h.health_since {
        spans.push(Span::raw(format!(" for {}", view.age(since))));
        spans.push(Span::styled(
            format!(" (since {})", clock(since, view.ui.utc_offset)),
            theme.muted(),
        ));
    }
    if reasons.is_empty() && health == Health::Up {
        spans.push(Span::styled(": every probe answers", theme.muted()));
    } else if !reasons.is_empty() {
        spans.push(Span::raw(format!(": {}", clean(&reasons.join(", "), 200))));
    }
    spans
}

/// The IP the probes hit, where it came from, and whether it is the old or the new one.
fn target_row(view: &View<'_>, config: &HostConfig, h: &HostState) -> Vec<Span<'static>> {
    let inventory = &view.state.inventory;
    match &h.target {
        None => waiting(view, "resolving the name"),
        Some(Seen { value: Err(e), at }) => vec![failure(view, e), ago(view, *at)],
        Some(Seen { value: Ok(t), at }) => {
            let class = store::classify(inventory, config, t.ip);
            let mut spans = vec![
                Span::styled(t.ip.to_string(), address_style(view, class)),
                Span::raw(match t.source {
                    TargetSource::NewIp => " from new_ip".to_string(),
                    TargetSource::HostsFile => format!(
                        " from {}, ahead of DNS",
                        clean(&inventory.hosts_file.to_string_lossy(), 200)
                    ),
                    TargetSource::SystemDns => " from the system resolver".to_string(),
                }),
            ];
            spans.extend(target_class(view, config, class));
            spans.push(ago(view, *at));
            spans
        }
    }
}

/// What the target is against the inventory: the old address (and the new one to expect),
/// the new one (and the old it replaces), or neither.
fn target_class(view: &View<'_>, config: &HostConfig, class: AddressClass) -> Vec<Span<'static>> {
    let theme = view.theme;
    match class {
        AddressClass::Old => {
            let mut spans = vec![Span::styled(" ⚠ the OLD address", theme.old())];
            if let Some(new_ip) = config.new_ip {
                spans.push(Span::raw(format!(" (new: {new_ip})")));
            }
            spans
        }
        AddressClass::New => config
            .old_ip
            .map(|old_ip| Span::styled(format!(" (old: {old_ip})"), theme.muted()))
            .into_iter()
            .collect(),
        AddressClass::Other => {
            let show = |ip: Option<IpAddr>| ip.map_or_else(|| "-".to_string(), |ip| ip.to_string());
            vec![Span::styled(
                format!(
                    " ≠ neither old ({}) nor new ({})",
                    show(config.old_ip),
                    show(config.new_ip)
                ),
                theme.verdict(crate::store::Verdict::Other),
            )]
        }
    }
}

/// The latest round trip, the loss and history of the window, and how pings are sent.
fn ping_row(view: &View<'_>, config: &HostConfig, h: &HostState) -> Vec<Span<'static>> {
    let theme = view.theme;
    let (Some(Seen { value, at }), true) = (&h.ping, config.ping) else {
        return if config.ping {
            waiting(view, "waiting for the first reply")
        } else {
            not_probed(view, "ping = false")
        };
    };
    let PingOutcome { ip, mode, result } = value;
    let mut spans = match result {
        Ok(d) => vec![Span::styled(format!("✔ {}", rtt(*d)), theme.ok())],
        Err(e) => vec![failure(view, e)],
    };
    if let Some((_, loss)) = store::ping_stats(h) {
        let style = if loss == 0.0 {
            theme.muted()
        } else {
            theme.warn()
        };
        spans.push(Span::styled(
            format!(" · {:.0}% loss ", loss * 100.0),
            style,
        ));
        spans.extend(history(view, h));
    }
    spans.push(Span::raw(format!(" · {}", mode.method())));
    spans.extend(hit_and_age(view, h, *ip, "to", *at));
    spans
}

/// The SSH banner and how long it took, on which port.
fn ssh_row(view: &View<'_>, config: &HostConfig, h: &HostState) -> Vec<Span<'static>> {
    let theme = view.theme;
    let (Some(Seen { value, at }), Some(_)) = (&h.ssh, config.ssh) else {
        return match config.ssh {
            None => not_probed(view, "ssh = false"),
            Some(_) => waiting(view, "waiting for the banner"),
        };
    };
    let mut spans = match &value.result {
        Ok(b) => vec![
            Span::styled("✔ ", theme.ok()),
            Span::raw(clean(&b.banner, 255)),
            Span::styled(format!(" · {}", rtt(b.latency)), theme.muted()),
        ],
        Err(e) => vec![failure(view, e)],
    };
    spans.push(Span::raw(format!(" · port {}", value.port)));
    spans.extend(hit_and_age(view, h, value.ip, "at", *at));
    spans
}

/// The HTTP status (and where a redirect points), the time and the body, for which URL.
fn http_row(view: &View<'_>, config: &HostConfig, h: &HostState) -> Vec<Span<'static>> {
    let (Some(Seen { value, at }), Some(_)) = (&h.http, &config.http) else {
        return match config.http {
            None => not_probed(view, "no http URL"),
            Some(_) => waiting(view, "waiting for a response"),
        };
    };
    let mut spans = match &value.result {
        Ok(r) => http_response(view, r),
        Err(e) => vec![failure(view, e)],
    };
    spans.push(Span::raw(format!(" · {}", clean(&value.url, 300))));
    spans.extend(hit_and_age(view, h, value.ip, "via", *at));
    spans
}

fn http_response(view: &View<'_>, r: &HttpResponse) -> Vec<Span<'static>> {
    let theme = view.theme;
    let mut spans = if r.is_redirect() {
        vec![Span::styled(format!("↪ {}", r.status), theme.ok())]
    } else if r.is_ok() {
        vec![Span::styled(format!("✔ {}", r.status), theme.ok())]
    } else {
        vec![Span::styled(format!("✖ {}", r.status), theme.failed())]
    };
    if let Some(location) = &r.location {
        spans.push(Span::raw(format!(" → {}", clean(location, 300))));
    }
    spans.push(Span::styled(
        format!(" · {}", rtt(r.latency)),
        theme.muted(),
    ));
    let capped = if r.truncated { " (capped)" } else { "" };
    spans.push(Span::styled(
        format!(" · {} body{capped}", bytes(r.body_bytes)),
        theme.muted(),
    ));
    spans
}

/// Every expected port in the grid's words, with its number.
fn ports_row(view: &View<'_>, h: &HostState, index: usize) -> Vec<Span<'static>> {
    let Some(Seen { value, at }) = &h.ports else {
        return waiting(view, "waiting for the first connects");
    };
    let mut spans = Vec::new();
    for (n, r) in value.ports.iter().enumerate() {
        if n > 0 {
            spans.push(Span::raw(" · "));
        }
        let (text, style) = super::services::port_cell(view, index, r);
        let (symbol, rest) = text.split_once(' ').unwrap_or(("", &text));
        spans.push(Span::styled(format!("{symbol} {} {rest}", r.port), style));
    }
    spans.extend(hit_and_age(view, h, value.ip, "at", *at));
    spans
}

/// One row per service: its state as the services view says it, its name and kind, what
/// was seen.
fn service_rows(view: &View<'_>, config: &HostConfig, h: &HostState, index: usize) -> Vec<Row> {
    let theme = view.theme;
    group(
        "Service",
        config.services.iter().enumerate().map(|(k, svc)| {
            let (text, style, detail) = super::services::service_cell(view, index, k);
            let mut spans = vec![
                Span::styled(text, style),
                Span::raw(format!(" {} ({})", clean(&svc.name, 60), svc.kind.word())),
            ];
            if !detail.is_empty() {
                spans.push(Span::styled(format!(" · {detail}"), theme.muted()));
            }
            if let Some(Seen { at, .. }) = h.services.get(k).and_then(Option::as_ref) {
                spans.push(ago(view, *at));
            }
            spans
        }),
    )
}

/// What still answers at the old address, with `probe_old`.
fn old_ip_row(view: &View<'_>, config: &HostConfig, index: usize) -> Option<Row> {
    let old = config.old_ip.filter(|_| config.probe_old)?;
    let spans = match super::services::old_cell(view, index) {
        None => waiting(view, &format!("asking {old}")),
        Some((text, style, detail)) => vec![
            Span::styled(text, style),
            Span::raw(format!(" {old}")),
            Span::styled(format!(" · {detail}"), view.theme.muted()),
        ],
    };
    Some(("Old IP", spans))
}

/// Flap damping: a check failing once is amber with the count, and a blip that cleared
/// says so once.
fn flaps_row(view: &View<'_>, config: &HostConfig, h: &HostState) -> Option<Row> {
    let notes: Vec<String> = h
        .damp
        .iter()
        .filter_map(|(check, d)| {
            d.note(config.damping)
                .map(|note| format!("{}: {note}", store::check_name(config, *check)))
        })
        .collect();
    if notes.is_empty() {
        return None;
    }
    Some((
        "Flaps",
        vec![Span::styled(
            format!(
                "{} · red after {} failures in a row, green after {} successes",
                notes.join(" · "),
                config.damping.fail_after,
                config.damping.recover_after
            ),
            view.theme.warn(),
        )],
    ))
}

/// DNS, one row per resolver, the names aligned; a wide pane also says which server was
/// asked. A zone server is not asked about names outside its zones: "not asked", as the
/// matrix and the JSON say, not "waiting" forever.
fn dns_rows(
    view: &View<'_>,
    config: &HostConfig,
    (h, index): (&HostState, usize),
    width: usize,
) -> Vec<Row> {
    let theme = view.theme;
    let resolvers = &view.state.inventory.resolvers;
    let name_width = resolvers
        .iter()
        .map(|r| super::text::width(&clean(&r.name, 32)))
        .max()
        .unwrap_or(0);
    group(
        "DNS",
        resolvers.iter().enumerate().map(|(i, resolver)| {
            let mut spans = vec![Span::raw(format!(
                "{:<name_width$}  ",
                clean(&resolver.name, 32)
            ))];
            let not_asked = matches!(store::cell(view.state, index, i), store::Cell::NotAsked);
            match h.dns.get(i).and_then(Option::as_ref) {
                None if not_asked => {
                    spans.push(Span::styled(
                        "- not asked (serves other zones)",
                        theme.muted(),
                    ));
                }
                None => spans.push(Span::styled(WAITING, theme.muted())),
                Some(Seen { value, at }) => {
                    spans.extend(dns_answer(view, config, value));
                    spans.push(ago(view, *at));
                }
            }
            if let ResolverKind::Server(addr) = resolver.kind
                && width >= 100
                && !not_asked
            {
                spans.push(Span::styled(format!(" · asked {addr}"), theme.muted()));
            }
            spans
        }),
    )
}

/// A resolver's answer: the verdict, padded so the addresses line up, then the addresses
/// (old ones marked), the TTL and the authority flag; or the error, when it says more than
/// the verdict.
fn dns_answer(
    view: &View<'_>,
    config: &HostConfig,
    value: &Result<DnsAnswer, DnsError>,
) -> Vec<Span<'static>> {
    let theme = view.theme;
    let inventory = &view.state.inventory;
    let v = store::verdict(inventory, config, value);
    let verdict = verdict_label(v);
    // At least one space: "✖ nxdomain" is ten columns wide.
    let pad = " ".repeat(10usize.saturating_sub(super::text::width(&verdict)).max(1));
    let mut spans = vec![Span::styled(verdict, theme.verdict(v))];
    match value {
        Ok(a) => {
            spans.push(Span::raw(pad));
            for (n, ip) in a.addresses.iter().enumerate() {
                if n > 0 {
                    spans.push(Span::raw(", "));
                }
                let class = store::classify(inventory, config, *ip);
                spans.push(Span::styled(ip.to_string(), address_style(view, class)));
            }
            if a.more > 0 {
                spans.push(Span::styled(format!(" +{} more", a.more), theme.muted()));
            }
            spans.push(Span::styled(format!(" ttl {}s", a.ttl), theme.muted()));
            match a.authoritative {
                Some(true) => spans.push(Span::styled(" AA", theme.ok())),
                Some(false) => spans.push(Span::styled(
                    " ✖ LAME: serves the zone but answers without authority",
                    theme.failed(),
                )),
                None => {}
            }
        }
        Err(e @ (DnsError::Other(_) | DnsError::NoRecords)) => {
            spans.push(Span::raw(pad));
            spans.push(Span::raw(clean(&e.to_string(), 200)));
        }
        Err(_) => {}
    }
    spans
}

/// What this machine's hosts file does to the name: nothing, or one row per entry.
fn hosts_rows(view: &View<'_>, config: &HostConfig, h: &HostState, index: usize) -> Vec<Row> {
    let theme = view.theme;
    let inventory = &view.state.inventory;
    let path = clean(&inventory.hosts_file.to_string_lossy(), 200);
    let fqdn = clean(&config.fqdn, 253);
    let found = match &h.hosts_file {
        None => return vec![("Hosts", waiting(view, &format!("reading {path}")))],
        Some(Seen { value: Err(e), .. }) => {
            return vec![(
                "Hosts",
                vec![Span::styled(
                    format!("✖ cannot read {path}: {}", clean(e, 200)),
                    theme.warn(),
                )],
            )];
        }
        Some(Seen {
            value: Ok(found), ..
        }) => found,
    };
    if found.is_empty() {
        return vec![(
            "Hosts",
            vec![Span::styled(
                format!(
                    "- no entry for {fqdn} in {path}: this machine asks DNS, like everyone else"
                ),
                theme.muted(),
            )],
        )];
    }
    let flag = store::hosts_flag(view.state, index);
    let dns = store::dns_addresses(view.state, index);
    group(
        "Hosts",
        found
            .iter()
            .map(|entry| hosts_sentence(view, config, entry, flag, &dns, &path, &fqdn)),
    )
}

/// One sentence per vantage point: `from office ● up · target 203.0.113.13 (new) · DNS
/// 203.0.113.13 new · 5s ago`, its reasons when not up, or why it gave no view.
fn vantage_sentences(view: &View<'_>, h: &HostState) -> Vec<Vec<Span<'static>>> {
    let theme = view.theme;
    let inv = &view.state.inventory;
    let mut out = Vec::new();
    for (v, config) in inv.vantages.iter().enumerate() {
        let mut spans = vec![Span::raw(format!("from {} ", clean(&config.name, 16)))];
        let Some(seen) = h.remote.get(v).and_then(Option::as_ref) else {
            match view.state.vantages.get(v).and_then(|vs| vs.outcome()) {
                Some(Err(why)) => spans.push(Span::styled(
                    format!("⚠ no view: {}", clean(why, 200)),
                    theme.warn(),
                )),
                Some(Ok(_)) => {
                    spans.push(Span::styled("- it did not report this host", theme.muted()));
                }
                None => spans.extend(waiting(view, "waiting for its first answer")),
            }
            out.push(spans);
            continue;
        };
        let r = &seen.host;
        let health = store::vantage::remote_health(r.health);
        spans.push(Span::styled(health_label(health), theme.health(health)));
        if let Some(ip) = r.target {
            let class = store::classify_in_networks(inv, ip);
            spans.push(Span::raw(" · target "));
            spans.push(Span::styled(ip.to_string(), address_style(view, class)));
        }
        // Its own resolver's answer, as the laptop's "system" column shows ours.
        if let Some(d) = r.system_dns() {
            let said = match (&d.error, d.addresses.is_empty()) {
                (Some(e), _) => clean(e, 60),
                (None, true) => "no address".into(),
                (None, false) => d
                    .addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let verdict = d
                .verdict
                .as_deref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default();
            spans.push(Span::raw(format!(" · DNS {said}{verdict}")));
        }
        if health != Health::Up && !r.reasons.is_empty() {
            spans.push(Span::raw(format!(
                ": {}",
                clean(&r.reasons.join(", "), 200)
            )));
        }
        spans.push(ago(view, seen.at));
        out.push(spans);
    }
    out
}

/// Reverse DNS of `new_ip`, and why it matters on a mail host.
fn ptr_row(view: &View<'_>, config: &HostConfig, index: usize) -> Option<Row> {
    config.new_ip?; // no new address, no reverse DNS to check
    let (text, style) = super::dns::ptr(view, index);
    let mut spans = vec![Span::styled(text, style)];
    if store::is_mail(config) {
        spans.push(Span::styled(
            " · mail host: providers defer mail from addresses whose PTR does not \
             resolve back",
            view.theme.muted(),
        ));
    }
    Some(("PTR", spans))
}

/// The TTL the zone's primary serves for the name, when the name is in a zone we follow.
fn ttl_row(view: &View<'_>, config: &HostConfig, index: usize) -> Option<Row> {
    view.state.inventory.zone_of(&config.fqdn)?; // a zone we follow
    let (text, style) = super::dns::primary_ttl(view, index);
    Some((
        "TTL",
        vec![
            Span::styled(text, style),
            Span::styled(" served by the zone's primary", view.theme.muted()),
        ],
    ))
}

/// One hosts-file entry in words: what it does to this machine.
fn hosts_sentence(
    view: &View<'_>,
    config: &HostConfig,
    entry: &HostsEntry,
    flag: Option<HostsFlag>,
    dns: &[IpAddr],
    path: &str,
    fqdn: &str,
) -> Vec<Span<'static>> {
    let theme = view.theme;
    let class = store::classify(&view.state.inventory, config, entry.ip);
    let at = format!("{path} line {} points {fqdn} at ", entry.line);
    if class == AddressClass::Old {
        return vec![
            Span::styled("⚠", theme.hosts_flag(HostsFlag::Old)),
            Span::raw(" "),
            Span::raw(at),
            Span::styled(format!("OLD {}", entry.ip), theme.old()),
            Span::raw(": this machine will not reach the new host"),
        ];
    }
    if flag == Some(HostsFlag::Agrees) || dns.contains(&entry.ip) && dns.len() == 1 {
        return vec![
            Span::styled("✔ ", theme.ok()),
            Span::raw(at),
            Span::raw(entry.ip.to_string()),
            Span::styled(", as DNS does", theme.muted()),
        ];
    }
    let mut spans = vec![
        Span::styled("≠ ", theme.warn()),
        Span::raw(at),
        Span::styled(entry.ip.to_string(), address_style(view, class)),
    ];
    if dns.is_empty() {
        spans.push(Span::raw(", and DNS has no answer to compare yet"));
    } else {
        let said: Vec<String> = dns.iter().map(IpAddr::to_string).collect();
        spans.push(Span::raw(format!(
            ", but DNS says {}: this machine goes elsewhere than everyone else",
            said.join(", ")
        )));
    }
    spans
}

/// The ping window as a strip, oldest first: bar height is the round trip between the
/// window's fastest and slowest, `✖` a loss.
fn history(view: &View<'_>, h: &HostState) -> Vec<Span<'static>> {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let theme = view.theme;
    let replies = || h.ping_window.iter().flatten();
    let min = replies().min().copied().unwrap_or_default();
    let max = replies().max().copied().unwrap_or_default();
    let spread = (max - min).as_secs_f64();
    let mut spans = Vec::new();
    for sample in &h.ping_window {
        match sample {
            Some(d) => {
                let level = if spread <= 0.0 {
                    0
                } else {
                    (((*d - min).as_secs_f64() / spread * 7.0).round() as usize).min(7)
                };
                push_char(&mut spans, BARS[level], theme.ok());
            }
            None => push_char(&mut spans, '✖', theme.failed()),
        }
    }
    if !max.is_zero() {
        spans.push(Span::styled(
            format!(" {}–{}", rtt(min), rtt(max)),
            theme.muted(),
        ));
    }
    spans
}

fn push_char(spans: &mut Vec<Span<'static>>, c: char, style: Style) {
    if let Some(last) = spans.last_mut()
        && last.style == style
    {
        last.content.to_mut().push(c);
        return;
    }
    spans.push(Span::styled(c.to_string(), style));
}

/// The IP a result came from, when it is not the current target (a result from before the
/// target moved): the target line says which IP the probes hit, so it is said once.
fn other_ip(view: &View<'_>, h: &HostState, ip: IpAddr, word: &str) -> Option<Span<'static>> {
    match &h.target {
        Some(Seen {
            value: Ok(target), ..
        }) if target.ip == ip => None,
        _ => Some(Span::styled(format!(" {word} {ip}"), view.theme.warn())),
    }
}
