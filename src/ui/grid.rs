//! The host grid: one row per host, only the rows on screen are built.
//!
//! Columns size themselves to what the visible rows hold; when they do not all fit, the
//! least useful go first ([`DROP_ORDER`]), so 80 columns keep health, ping, SSH, HTTP, DNS
//! and the hosts-file flag, and wider terminals add the target, ping method, DNS answer and
//! how long each host has been in its state.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};

use crate::config::{HostConfig, ResolverKind};
use crate::probe::ports::PortState;
use crate::probe::service::{ServiceResult, ServiceState};
use crate::probe::{Target, TargetSource};
use crate::store::{self, AddressClass, Check, HostState, HostsFlag, Seen, Verdict};

use super::View;
use super::text::{age, clean, elapsed, fit, rtt};

/// A grid column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Health,
    Name,
    /// The IP the probes hit, with `H` (hosts file) or `D` (DNS) when not `new_ip`.
    Target,
    /// Latest round trip, or the ping error.
    Rtt,
    Loss,
    /// `icmp`, `tcp` or `sim`.
    Via,
    Ssh,
    /// The SSH server's software, from its banner.
    Banner,
    Http,
    HttpTime,
    /// Expected ports: all open, or the first that is not.
    Ports,
    /// Services: all ok, or the worst one.
    Services,
    /// The system resolver's address.
    DnsAddr,
    /// The system resolver's verdict.
    Dns,
    /// How many resolvers answer the new address.
    DnsCount,
    Hosts,
    /// How long the host has been in its health state.
    Since,
}

/// Left to right.
const COLUMNS: [Col; 17] = [
    Col::Health,
    Col::Name,
    Col::Target,
    Col::Rtt,
    Col::Loss,
    Col::Via,
    Col::Ssh,
    Col::Banner,
    Col::Http,
    Col::HttpTime,
    Col::Ports,
    Col::Services,
    Col::DnsAddr,
    Col::Dns,
    Col::DnsCount,
    Col::Hosts,
    Col::Since,
];

/// Which columns give way first when the terminal is narrow. Health and name never do.
const DROP_ORDER: [Col; 15] = [
    Col::Banner,
    Col::HttpTime,
    Col::DnsAddr,
    Col::Via,
    Col::Since,
    Col::Target,
    Col::Loss,
    Col::DnsCount,
    Col::Rtt,
    Col::Services,
    Col::Ports,
    Col::Http,
    Col::Ssh,
    Col::Dns,
    Col::Hosts,
];

impl Col {
    fn header(self) -> &'static str {
        match self {
            Col::Health => "Health",
            Col::Name => "Host",
            Col::Target => "Target",
            Col::Rtt => "Ping",
            Col::Loss => "Loss",
            Col::Via => "Via",
            Col::Ssh => "SSH",
            Col::Banner => "SSH server",
            Col::Http => "HTTP",
            Col::HttpTime => "Took",
            Col::Ports => "Ports",
            Col::Services => "Services",
            Col::DnsAddr => "Resolves to",
            Col::Dns => "DNS",
            Col::DnsCount => "Resolvers",
            Col::Hosts => "Hosts",
            Col::Since => "For",
        }
    }

    /// The widest value of columns with a fixed vocabulary, so that the layout does not
    /// jump when a host changes state ("● up" → "◐ degraded"). Zero for free text.
    fn natural_width(self) -> usize {
        match self {
            Col::Health | Col::Dns => 10, // "◐ degraded", "✖ nxdomain"
            Col::Rtt | Col::Ssh | Col::Http | Col::HttpTime => 7, // "timeout", "refused"
            Col::Loss | Col::Via => 4,    // "100%", "icmp"
            Col::DnsCount => 7,           // "3/3 new"
            Col::Hosts => 8,              // "⚠ OLD IP"
            Col::Since => 6,              // "59m59s"
            Col::Ports | Col::Services => 0,
            Col::Name | Col::Target | Col::Banner | Col::DnsAddr => 0,
        }
    }

    /// Longest a column of free text may grow before its cells are cut with `…`.
    fn max_width(self) -> usize {
        match self {
            Col::Name => 16,
            Col::Banner => 20,
            Col::Ports | Col::Services => 18,
            _ => usize::MAX,
        }
    }

    fn right_aligned(self) -> bool {
        matches!(self, Col::Rtt | Col::Loss | Col::HttpTime | Col::Since)
    }
}

/// The first row shown so that `selected` is visible, moving as little as possible from
/// `prev`, and never leaving empty rows at the bottom that hosts could fill.
pub fn scroll_offset(prev: usize, selected: usize, rows: usize, hosts: usize) -> usize {
    if rows == 0 || hosts == 0 {
        return 0;
    }
    let selected = selected.min(hosts - 1);
    let mut offset = prev.min(hosts.saturating_sub(rows));
    if selected < offset {
        offset = selected;
    } else if selected >= offset + rows {
        offset = selected + 1 - rows;
    }
    offset
}

/// Height the grid wants: its title line, the header and one line per host.
pub fn wanted_height(hosts: usize) -> u16 {
    u16::try_from(hosts.max(1).saturating_add(2)).unwrap_or(u16::MAX)
}

/// Draws the grid; returns how many host rows it had room for.
pub fn render(area: Rect, buf: &mut Buffer, view: &View<'_>, focused: bool) -> usize {
    let theme = view.theme;
    let state = view.state;
    let hosts = state.hosts.len().min(state.inventory.hosts.len());
    let rows = usize::from(area.height.saturating_sub(2));
    let offset = scroll_offset(view.ui.grid_offset, view.ui.selected, rows, hosts);
    let shown = rows.min(hosts - offset.min(hosts));

    let mut block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border(focused))
        .title(Line::styled(format!(" Hosts ({hosts}) "), theme.title()));
    if shown < hosts {
        block = block.title_top(
            Line::styled(
                format!(" {}–{} of {hosts} ", offset + 1, offset + shown),
                theme.muted(),
            )
            .alignment(Alignment::Right),
        );
    }
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return 0;
    }
    if hosts == 0 {
        Line::styled("No hosts in the inventory.", theme.muted()).render(inner, buf);
        return rows;
    }

    let primary = state
        .inventory
        .resolvers
        .iter()
        .position(|r| r.kind == ResolverKind::System)
        .unwrap_or(0);
    let visible: Vec<RowData<'_>> = (offset..offset + shown)
        .map(|i| RowData::new(view, i, primary))
        .collect();

    // Columns no host of the inventory uses are not shown at all.
    let hosts = &state.inventory.hosts;
    let used = |col: Col| match col {
        Col::Ports => hosts.iter().any(|h| !h.ports.is_empty()),
        Col::Services => hosts.iter().any(|h| !h.services.is_empty()),
        _ => true,
    };
    let mut columns: Vec<(Col, usize, Vec<Line<'static>>)> = COLUMNS
        .iter()
        .filter(|&&col| used(col))
        .map(|&col| {
            let cells: Vec<Line<'static>> = visible.iter().map(|r| r.cell(col, view)).collect();
            let content = cells.iter().map(Line::width).max().unwrap_or(0);
            let w = content
                .min(col.max_width())
                .max(col.natural_width())
                .max(super::text::width(col.header()));
            (col, w, cells)
        })
        .collect();
    let avail = usize::from(inner.width);
    let total = |cols: &[(Col, usize, Vec<Line<'static>>)], gap: usize| {
        cols.iter().map(|c| c.1).sum::<usize>() + gap * cols.len().saturating_sub(1)
    };
    for drop in DROP_ORDER {
        if total(&columns, 1) <= avail {
            break;
        }
        columns.retain(|c| c.0 != drop);
    }
    // Still too wide (a long name on a tiny terminal): the name gives.
    let over = total(&columns, 1).saturating_sub(avail);
    if over > 0
        && let Some(name) = columns.iter_mut().find(|c| c.0 == Col::Name)
    {
        name.1 = name.1.saturating_sub(over).max(1);
    }
    let gap = if total(&columns, 2) <= avail { 2 } else { 1 };

    // Header.
    let mut x = inner.x;
    for (col, w, _) in &columns {
        let header = Line::styled(col.header(), theme.header());
        draw_cell(
            buf,
            x,
            inner.y,
            *w,
            header,
            col.right_aligned(),
            inner.right(),
        );
        x = x.saturating_add(cell_u16(*w + gap));
    }
    // Rows.
    for (row, data) in visible.iter().enumerate() {
        let y = inner.y + 1 + cell_u16(row);
        if y >= inner.bottom() {
            break;
        }
        let line_area = Rect::new(inner.x, y, inner.width, 1);
        if data.index == view.ui.selected {
            buf.set_style(line_area, theme.selected());
        }
        let mut x = inner.x;
        for (col, w, cells) in &columns {
            if let Some(cell) = cells.get(row) {
                draw_cell(
                    buf,
                    x,
                    y,
                    *w,
                    cell.clone(),
                    col.right_aligned(),
                    inner.right(),
                );
            }
            x = x.saturating_add(cell_u16(*w + gap));
        }
        if data.index == view.ui.selected && !theme.monochrome {
            // Secondary text would fade into the selection's background: lift it.
            for x in line_area.left()..line_area.right() {
                let cell = &mut buf[(x, y)];
                if cell.fg == theme.muted {
                    cell.fg = theme.selected_fg;
                }
            }
        }
    }
    rows
}

fn cell_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn draw_cell(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    w: usize,
    line: Line<'static>,
    right: bool,
    limit: u16,
) {
    if x >= limit {
        return;
    }
    let w = w.min(usize::from(limit - x));
    let line = fit(line, w);
    let pad = if right {
        w.saturating_sub(line.width())
    } else {
        0
    };
    buf.set_line(x + cell_u16(pad), y, &line, cell_u16(w - pad));
}

/// What a visible row needs, computed once per row per frame.
struct RowData<'a> {
    index: usize,
    config: &'a HostConfig,
    host: &'a HostState,
    /// Each resolver's verdict, when it has answered.
    verdicts: Vec<Option<Verdict>>,
    primary: usize,
    flag: Option<HostsFlag>,
}

impl<'a> RowData<'a> {
    fn new(view: &View<'a>, index: usize, primary: usize) -> RowData<'a> {
        let state = view.state;
        let config = &state.inventory.hosts[index];
        let host = &state.hosts[index];
        let verdicts = host
            .dns
            .iter()
            .map(|slot| {
                slot.as_ref()
                    .map(|seen| store::verdict(&state.inventory, config, &seen.value))
            })
            .collect();
        RowData {
            index,
            config,
            host,
            verdicts,
            primary,
            flag: store::hosts_flag(state, index),
        }
    }

    /// A failing check is red once flap damping says so, amber before ("1 of 2 failed").
    fn fail_style(&self, check: Check, view: &View<'_>) -> ratatui::style::Style {
        if self.host.damp.get(&check).is_some_and(|d| d.is_amber()) {
            view.theme.warn()
        } else {
            view.theme.failed()
        }
    }

    fn cell(&self, col: Col, view: &View<'_>) -> Line<'static> {
        let theme = view.theme;
        let h = self.host;
        let waiting = || Line::styled("…", theme.muted());
        let skipped = || Line::styled("-", theme.muted());
        match col {
            Col::Health => Line::styled(
                format!("{} {}", h.health.symbol(), h.health.word()),
                theme.health(h.health),
            ),
            Col::Name => Line::raw(clean(&self.config.name, 64)),
            Col::Target => match &h.target {
                None => waiting(),
                Some(Seen { value: Err(e), .. }) => {
                    Line::styled(format!("✖ {}", e.word()), theme.failed())
                }
                Some(Seen {
                    value: Ok(Target { ip, source }),
                    ..
                }) => {
                    let class = store::classify(&view.state.inventory, self.config, *ip);
                    let mut spans = vec![Span::styled(ip.to_string(), address_style(view, class))];
                    match source {
                        TargetSource::NewIp => {}
                        TargetSource::HostsFile => spans.push(Span::styled(" H", theme.warn())),
                        TargetSource::SystemDns => spans.push(Span::styled(" D", theme.muted())),
                    }
                    Line::from(spans)
                }
            },
            Col::Rtt => match (&h.ping, self.config.ping) {
                (_, false) => skipped(),
                (None, true) => waiting(),
                (Some(p), true) => match &p.value.result {
                    Ok(d) => Line::raw(rtt(*d)),
                    Err(e) => Line::styled(e.word(), self.fail_style(Check::Ping, view)),
                },
            },
            Col::Loss => match store::ping_stats(h) {
                Some((_, loss)) if self.config.ping => {
                    let pct = (loss * 100.0).round();
                    let style = if pct == 0.0 {
                        theme.muted()
                    } else if pct >= 100.0 {
                        theme.failed()
                    } else {
                        theme.warn()
                    };
                    Line::styled(format!("{pct:.0}%"), style)
                }
                _ => Line::default(),
            },
            Col::Via => match &h.ping {
                Some(p) if self.config.ping => Line::styled(p.value.mode.method(), theme.muted()),
                _ => Line::default(),
            },
            Col::Ssh => match (&h.ssh, self.config.ssh) {
                (_, None) => skipped(),
                (None, Some(_)) => waiting(),
                (Some(s), Some(_)) => match &s.value.result {
                    Ok(_) => Line::styled("ok", theme.ok()),
                    Err(e) => Line::styled(e.word(), self.fail_style(Check::Ssh, view)),
                },
            },
            Col::Banner => match &h.ssh {
                Some(Seen { value, .. }) if self.config.ssh.is_some() => match &value.result {
                    Ok(b) => Line::styled(ssh_software(&b.banner), theme.muted()),
                    Err(_) => Line::default(),
                },
                _ => Line::default(),
            },
            Col::Http => match (&h.http, &self.config.http) {
                (_, None) => skipped(),
                (None, Some(_)) => waiting(),
                (Some(x), Some(_)) => match &x.value.result {
                    Ok(r) if (300..400).contains(&r.status) => {
                        Line::styled(format!("{}→", r.status), theme.ok())
                    }
                    Ok(r) if r.status < 400 => Line::styled(r.status.to_string(), theme.ok()),
                    Ok(r) => Line::styled(r.status.to_string(), self.fail_style(Check::Http, view)),
                    Err(e) => Line::styled(e.word(), self.fail_style(Check::Http, view)),
                },
            },
            Col::HttpTime => match &h.http {
                Some(Seen { value, .. }) if self.config.http.is_some() => match &value.result {
                    Ok(r) => Line::styled(rtt(r.latency), theme.muted()),
                    Err(_) => Line::default(),
                },
                _ => Line::default(),
            },
            Col::Ports => match (&h.ports, self.config.ports.is_empty()) {
                (_, true) => skipped(),
                (None, false) => waiting(),
                (Some(Seen { value, .. }), false) => {
                    let open = value
                        .ports
                        .iter()
                        .filter(|r| r.state == PortState::Open)
                        .count();
                    match value.ports.iter().find(|r| r.state != PortState::Open) {
                        None => {
                            Line::styled(format!("✔ {open}/{} open", value.ports.len()), theme.ok())
                        }
                        Some(r) => {
                            let amber = h
                                .damp
                                .get(&Check::Port(r.port))
                                .is_some_and(|d| d.is_amber());
                            let word = match r.state {
                                PortState::Filtered => "filtered",
                                _ => r.state.word(),
                            };
                            Line::styled(
                                format!("✖ {} {word}", r.port),
                                if amber { theme.warn() } else { theme.failed() },
                            )
                        }
                    }
                }
            },
            Col::Services => {
                let seen: Vec<(usize, &ServiceResult)> = h
                    .services
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.as_ref().map(|s| (i, &s.value.result)))
                    .collect();
                if self.config.services.is_empty() {
                    skipped()
                } else if seen.is_empty() {
                    waiting()
                } else {
                    let worst = seen.iter().max_by_key(|(_, r)| r.state);
                    match worst {
                        Some((i, r)) if r.state != ServiceState::Ok => {
                            let (symbol, mut style) = super::services::service_style(view, r.state);
                            if h.damp
                                .get(&Check::Service(*i))
                                .is_some_and(|d| d.is_amber())
                            {
                                style = theme.warn();
                            }
                            Line::styled(
                                format!(
                                    "{symbol} {} {}",
                                    clean(&self.config.services[*i].name, 12),
                                    r.state.word()
                                ),
                                style,
                            )
                        }
                        _ => Line::styled(
                            format!("✔ {}/{} ok", seen.len(), self.config.services.len()),
                            theme.ok(),
                        ),
                    }
                }
            }
            Col::DnsAddr => match h.dns.get(self.primary).and_then(Option::as_ref) {
                Some(Seen { value: Ok(a), .. }) => match a.addresses.split_first() {
                    Some((first, rest)) => {
                        let class = store::classify(&view.state.inventory, self.config, *first);
                        let mut spans =
                            vec![Span::styled(first.to_string(), address_style(view, class))];
                        if !rest.is_empty() {
                            spans.push(Span::styled(format!(" +{}", rest.len()), theme.muted()));
                        }
                        Line::from(spans)
                    }
                    None => Line::default(),
                },
                _ => Line::default(),
            },
            Col::Dns => match self.verdicts.get(self.primary).copied().flatten() {
                None => waiting(),
                Some(v) => Line::styled(format!("{} {}", v.symbol(), v.word()), theme.verdict(v)),
            },
            Col::DnsCount => {
                let total = self.verdicts.len();
                let answered = self.verdicts.iter().flatten().count();
                let new = self
                    .verdicts
                    .iter()
                    .filter(|v| **v == Some(Verdict::New))
                    .count();
                if answered == 0 {
                    waiting()
                } else {
                    let style = if new == total {
                        theme.ok()
                    } else {
                        theme.warn()
                    };
                    Line::styled(format!("{new}/{total} new"), style)
                }
            }
            Col::Hosts => match self.flag {
                None => waiting(),
                Some(HostsFlag::Old) => Line::styled("⚠ OLD IP", theme.hosts_flag(HostsFlag::Old)),
                Some(f) => Line::styled(f.word(), theme.hosts_flag(f)),
            },
            Col::Since => match h.health_since {
                Some(at) => Line::styled(age(elapsed(view.now, at)), theme.muted()),
                None => Line::default(),
            },
        }
    }
}

/// Old addresses stand out wherever they appear; new ones are plain.
pub fn address_style(view: &View<'_>, class: AddressClass) -> ratatui::style::Style {
    match class {
        AddressClass::New => ratatui::style::Style::new(),
        AddressClass::Old => view.theme.old(),
        AddressClass::Other => view.theme.verdict(Verdict::Other),
    }
}

/// `OpenSSH_9.6p1` from `SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13`.
pub fn ssh_software(banner: &str) -> String {
    let rest = banner
        .strip_prefix("SSH-2.0-")
        .or_else(|| banner.strip_prefix("SSH-1.99-"))
        .unwrap_or(banner);
    clean(rest.split_whitespace().next().unwrap_or(""), 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_moves_as_little_as_possible() {
        assert_eq!(scroll_offset(0, 0, 10, 8), 0);
        assert_eq!(scroll_offset(0, 7, 10, 8), 0);
        assert_eq!(scroll_offset(0, 12, 10, 100), 3);
        assert_eq!(scroll_offset(3, 5, 10, 100), 3);
        assert_eq!(scroll_offset(3, 2, 10, 100), 2);
        // A taller window after a resize: no empty rows left at the bottom.
        assert_eq!(scroll_offset(95, 99, 10, 100), 90);
        assert_eq!(scroll_offset(50, 60, 0, 100), 0);
        assert_eq!(scroll_offset(5, 3, 10, 0), 0);
    }

    #[test]
    fn software_from_banner() {
        assert_eq!(
            ssh_software("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13"),
            "OpenSSH_9.6p1"
        );
        assert_eq!(ssh_software("SSH-1.99-dropbear"), "dropbear");
        assert_eq!(ssh_software("SSH-2.0-x\u{1b}[2J"), "x\\x1b[2J");
    }
}
