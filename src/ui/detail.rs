//! The detail pane: everything known about the selected host, in sentences an operator can
//! act on — each probe's latest result and age, the IP it hit and why, every resolver's
//! answer, and what the hosts file means for this machine.

use std::net::IpAddr;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::config::{HostConfig, ResolverKind};
use crate::probe::{DnsError, HostsEntry, PingOutcome, TargetSource};
use crate::store::{self, AddressClass, Health, HostState, HostsFlag, Seen};

use super::View;
use super::grid::address_style;
use super::text::{age, bytes, clean, clock, elapsed, rtt, wrap};

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

/// The pane's content, wrapped to `width`.
fn lines(
    view: &View<'_>,
    config: &HostConfig,
    h: &HostState,
    index: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let theme = view.theme;
    let mut entries: Vec<(&'static str, Vec<Span<'static>>)> = Vec::new();
    let ago = |at| {
        Span::styled(
            format!(" · {} ago", age(elapsed(view.now, at))),
            theme.muted(),
        )
    };
    let waiting = |what: &str| vec![Span::styled(format!("… {what}"), theme.muted())];
    let inventory = &view.state.inventory;

    // Health and why.
    let (health, reasons) = store::health(config, h);
    let mut spans = vec![Span::styled(
        format!("{} {}", h.health.symbol(), h.health.word()),
        theme.health(h.health),
    )];
    if let Some(since) = h.health_since {
        spans.push(Span::raw(format!(" for {}", age(elapsed(view.now, since)))));
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
    entries.push(("Health", spans));

    // Target.
    let spans = match &h.target {
        None => waiting("resolving the name"),
        Some(Seen { value: Err(e), at }) => vec![
            Span::styled(format!("✖ {}", clean(&e.to_string(), 200)), theme.failed()),
            ago(*at),
        ],
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
            match class {
                AddressClass::Old => {
                    spans.push(Span::styled(" ⚠ the OLD address", theme.old()));
                    if let Some(new_ip) = config.new_ip {
                        spans.push(Span::raw(format!(" (new: {new_ip})")));
                    }
                }
                AddressClass::New => {
                    if let Some(old_ip) = config.old_ip {
                        spans.push(Span::styled(format!(" (old: {old_ip})"), theme.muted()));
                    }
                }
                AddressClass::Other => {
                    let show = |ip: Option<IpAddr>| {
                        ip.map_or_else(|| "-".to_string(), |ip| ip.to_string())
                    };
                    spans.push(Span::styled(
                        format!(
                            " ≠ neither old ({}) nor new ({})",
                            show(config.old_ip),
                            show(config.new_ip)
                        ),
                        theme.verdict(crate::store::Verdict::Other),
                    ));
                }
            }
            spans.push(ago(*at));
            spans
        }
    };
    entries.push(("Target", spans));

    // Ping.
    let spans = match (&h.ping, config.ping) {
        (_, false) => vec![Span::styled("not probed (ping = false)", theme.muted())],
        (None, true) => waiting("waiting for the first reply"),
        (Some(Seen { value, at }), true) => {
            let PingOutcome { ip, mode, result } = value;
            let mut spans = match result {
                Ok(d) => vec![Span::styled(format!("✔ {}", rtt(*d)), theme.ok())],
                Err(e) => vec![Span::styled(
                    format!("✖ {}", clean(&e.to_string(), 200)),
                    theme.failed(),
                )],
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
            spans.extend(other_ip(view, h, *ip, "to"));
            spans.push(ago(*at));
            spans
        }
    };
    entries.push(("Ping", spans));

    // SSH.
    let spans = match (&h.ssh, config.ssh) {
        (_, None) => vec![Span::styled("not probed (ssh = false)", theme.muted())],
        (None, Some(_)) => waiting("waiting for the banner"),
        (Some(Seen { value, at }), Some(_)) => {
            let mut spans = match &value.result {
                Ok(b) => vec![
                    Span::styled("✔ ", theme.ok()),
                    Span::raw(clean(&b.banner, 255)),
                    Span::styled(format!(" · {}", rtt(b.latency)), theme.muted()),
                ],
                Err(e) => vec![Span::styled(
                    format!("✖ {}", clean(&e.to_string(), 200)),
                    theme.failed(),
                )],
            };
            spans.push(Span::raw(format!(" · port {}", value.port)));
            spans.extend(other_ip(view, h, value.ip, "at"));
            spans.push(ago(*at));
            spans
        }
    };
    entries.push(("SSH", spans));

    // HTTP.
    let spans = match (&h.http, &config.http) {
        (_, None) => vec![Span::styled("not probed (no http URL)", theme.muted())],
        (None, Some(_)) => waiting("waiting for a response"),
        (Some(Seen { value, at }), Some(_)) => {
            let mut spans = match &value.result {
                Ok(r) => {
                    let mut spans = if (300..400).contains(&r.status) {
                        vec![Span::styled(format!("↪ {}", r.status), theme.ok())]
                    } else if r.status < 400 {
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
                Err(e) => vec![Span::styled(
                    format!("✖ {}", clean(&e.to_string(), 200)),
                    theme.failed(),
                )],
            };
            spans.push(Span::raw(format!(" · {}", clean(&value.url, 300))));
            spans.extend(other_ip(view, h, value.ip, "via"));
            spans.push(ago(*at));
            spans
        }
    };
    entries.push(("HTTP", spans));

    // Expected ports, services, the old address: issue 5's "beyond it answers".
    if !config.ports.is_empty() {
        let spans = match &h.ports {
            None => waiting("waiting for the first connects"),
            Some(Seen { value, at }) => {
                let mut spans = Vec::new();
                for (n, r) in value.ports.iter().enumerate() {
                    if n > 0 {
                        spans.push(Span::raw(" · "));
                    }
                    let (text, style) = super::services::port_cell(view, index, r);
                    let (symbol, rest) = text.split_once(' ').unwrap_or(("", &text));
                    spans.push(Span::styled(format!("{symbol} {} {rest}", r.port), style));
                }
                spans.extend(other_ip(view, h, value.ip, "at"));
                spans.push(ago(*at));
                spans
            }
        };
        entries.push(("Ports", spans));
    }
    for (k, svc) in config.services.iter().enumerate() {
        let (text, style, detail) = super::services::service_cell(view, index, k);
        let mut spans = vec![
            Span::styled(text, style),
            Span::raw(format!(" {} ({})", clean(&svc.name, 60), svc.kind.word())),
        ];
        if !detail.is_empty() {
            spans.push(Span::styled(format!(" · {detail}"), theme.muted()));
        }
        if let Some(Seen { at, .. }) = h.services.get(k).and_then(Option::as_ref) {
            spans.push(ago(*at));
        }
        entries.push((if k == 0 { "Service" } else { "" }, spans));
    }
    if config.probe_old
        && let Some(old) = config.old_ip
    {
        let spans = match super::services::old_cell(view, index) {
            None => waiting(&format!("asking {old}")),
            Some((text, style, detail)) => vec![
                Span::styled(text, style),
                Span::raw(format!(" {old}")),
                Span::styled(format!(" · {detail}"), theme.muted()),
            ],
        };
        entries.push(("Old IP", spans));
    }
    // Flap damping: a check failing once is amber with the count, and a blip that cleared
    // says so once.
    let notes: Vec<String> = h
        .damp
        .iter()
        .filter_map(|(check, d)| {
            d.note(config.damping)
                .map(|note| format!("{}: {note}", store::check_name(config, *check)))
        })
        .collect();
    if !notes.is_empty() {
        entries.push((
            "Flaps",
            vec![Span::styled(
                format!(
                    "{} · red after {} failures in a row, green after {} successes",
                    notes.join(" · "),
                    config.damping.fail_after,
                    config.damping.recover_after
                ),
                theme.warn(),
            )],
        ));
    }

    // DNS, one line per resolver, aligned.
    let name_width = inventory
        .resolvers
        .iter()
        .map(|r| super::text::width(&clean(&r.name, 32)))
        .max()
        .unwrap_or(0);
    for (i, resolver) in inventory.resolvers.iter().enumerate() {
        let slot = h.dns.get(i).and_then(Option::as_ref);
        let mut spans = vec![Span::raw(format!(
            "{:<name_width$}  ",
            clean(&resolver.name, 32)
        ))];
        match slot {
            None => spans.push(Span::styled("… waiting", theme.muted())),
            Some(Seen { value, at }) => {
                let v = store::verdict(inventory, config, value);
                let verdict = format!("{} {}", v.symbol(), v.word());
                let pad = " ".repeat(10usize.saturating_sub(super::text::width(&verdict)));
                spans.push(Span::styled(verdict, theme.verdict(v)));
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
                spans.push(ago(*at));
            }
        }
        if let ResolverKind::Server(addr) = resolver.kind
            && width >= 100
        {
            spans.push(Span::styled(format!(" · asked {addr}"), theme.muted()));
        }
        entries.push((if i == 0 { "DNS" } else { "" }, spans));
    }

    // Hosts file.
    let path = clean(&inventory.hosts_file.to_string_lossy(), 200);
    let fqdn = clean(&config.fqdn, 253);
    match &h.hosts_file {
        None => entries.push(("Hosts", waiting(&format!("reading {path}")))),
        Some(Seen { value: Err(e), .. }) => entries.push((
            "Hosts",
            vec![Span::styled(
                format!("✖ cannot read {path}: {}", clean(e, 200)),
                theme.warn(),
            )],
        )),
        Some(Seen {
            value: Ok(found), ..
        }) if found.is_empty() => entries.push((
            "Hosts",
            vec![Span::styled(
                format!(
                    "- no entry for {fqdn} in {path}: this machine asks DNS, like everyone else"
                ),
                theme.muted(),
            )],
        )),
        Some(Seen {
            value: Ok(found), ..
        }) => {
            let flag = store::hosts_flag(view.state, index);
            let dns = store::dns_addresses(view.state, index);
            for (n, entry) in found.iter().enumerate() {
                let spans = hosts_sentence(view, config, entry, flag, &dns, &path, &fqdn);
                entries.push((if n == 0 { "Hosts" } else { "" }, spans));
            }
        }
    }

    // Reverse DNS of new_ip and the TTL the primary serves (the zones view has them all).
    if config.new_ip.is_some() {
        let (text, style) = super::dns::ptr(view, index);
        let mut spans = vec![Span::styled(text, style)];
        if store::is_mail(config) {
            spans.push(Span::styled(
                " · mail host: providers defer mail from addresses whose PTR does not \
                 resolve back",
                theme.muted(),
            ));
        }
        entries.push(("PTR", spans));
    }
    if inventory.zone_of(&config.fqdn).is_some() {
        let (text, style) = super::dns::primary_ttl(view, index);
        entries.push((
            "TTL",
            vec![
                Span::styled(text, style),
                Span::styled(" served by the zone's primary", theme.muted()),
            ],
        ));
    }

    let mut out = Vec::new();
    for (label, body) in entries {
        let prefix = vec![Span::styled(format!("{label:<LABEL$}"), theme.header())];
        out.extend(wrap(prefix, body, width, LABEL));
    }
    out
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
