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
use super::text::{clean, fit, health_label, rtt, verdict_label};

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
    /// The host's health as a vantage point (`[[vantage]]`, by index) sees it.
    Vantage(usize),
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

/// The columns left to right: [`COLUMNS`], with one per vantage point after the hosts
/// file's flag.
fn columns(view: &View<'_>) -> Vec<Col> {
    let vantages = view.state.inventory.vantages.len();
    let at = COLUMNS
        .iter()
        .position(|c| *c == Col::Hosts)
        .map_or(COLUMNS.len(), |i| i + 1);
    let mut out = COLUMNS[..at].to_vec();
    out.extend((0..vantages).map(Col::Vantage));
    out.extend_from_slice(&COLUMNS[at..]);
    out
}

/// [`DROP_ORDER`], with the vantage columns giving way after the services (the last one
/// first): another network's view is worth more than ports, less than the host's own.
fn drop_order(view: &View<'_>) -> Vec<Col> {
    let vantages = view.state.inventory.vantages.len();
    let at = DROP_ORDER
        .iter()
        .position(|c| *c == Col::Services)
        .map_or(0, |i| i + 1);
    let mut out = DROP_ORDER[..at].to_vec();
    out.extend((0..vantages).rev().map(Col::Vantage));
    out.extend_from_slice(&DROP_ORDER[at..]);
    out
}

impl Col {
    fn header(self, view: &View<'_>) -> String {
        let word = match self {
            Col::Vantage(v) => {
                return view
                    .state
                    .inventory
                    .vantages
                    .get(v)
                    .map_or_else(String::new, |c| clean(&c.name, 16));
            }
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
        };
        word.to_string()
    }

    /// The widest value of columns with a fixed vocabulary, so that the layout does not
    /// jump when a host changes state ("● up" → "◐ degraded"). Zero for free text.
    fn natural_width(self) -> usize {
        match self {
            Col::Health | Col::Dns | Col::Vantage(_) => 10, // "◐ degraded", "✖ nxdomain"
            Col::Rtt | Col::Ssh | Col::Http | Col::HttpTime => 7, // "timeout", "refused"
            Col::Loss | Col::Via => 4,                      // "100%", "icmp"
            Col::DnsCount => 7,                             // "3/3 new"
            Col::Hosts => 8,                                // "⚠ OLD IP"
            Col::Since => 6,                                // "59m59s"
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

    let (columns, gap) = lay_out(view, &visible, usize::from(inner.width));
    let mut x = inner.x;
    for column in &columns {
        let header = Line::styled(column.col.header(view), theme.header());
        draw_cell(
            buf,
            x,
            inner.y,
            column.width,
            header,
            column.col.right_aligned(),
            inner.right(),
        );
        x = x.saturating_add(cell_u16(column.width + gap));
    }
    for (row, data) in visible.iter().enumerate() {
        let y = inner.y + 1 + cell_u16(row);
        if y >= inner.bottom() {
            break;
        }
        let line_area = Rect::new(inner.x, y, inner.width, 1);
        let selected = data.index == view.ui.selected;
        draw_row(buf, view, line_area, selected, &columns, row, gap);
    }
    rows
}

/// A column as laid out for this frame: its width and the visible rows' cells.
struct LaidOut {
    col: Col,
    width: usize,
    cells: Vec<Line<'static>>,
}

/// The columns shown in `avail` cells and the gap between them: each as wide as its
/// widest visible cell (within its natural and largest width), the least useful dropped
/// while they do not fit, then the name cut; two blanks between columns when they fit.
fn lay_out(view: &View<'_>, visible: &[RowData<'_>], avail: usize) -> (Vec<LaidOut>, usize) {
    // Columns no host of the inventory uses are not shown at all.
    let hosts = &view.state.inventory.hosts;
    let used = |col: Col| match col {
        Col::Ports => hosts.iter().any(|h| !h.ports.is_empty()),
        Col::Services => hosts.iter().any(|h| !h.services.is_empty()),
        _ => true,
    };
    let mut columns: Vec<LaidOut> = columns(view)
        .into_iter()
        .filter(|&col| used(col))
        .map(|col| {
            let cells: Vec<Line<'static>> = visible.iter().map(|r| r.cell(col, view)).collect();
            let content = cells.iter().map(Line::width).max().unwrap_or(0);
            let width = content
                .min(col.max_width())
                .max(col.natural_width())
                .max(super::text::width(&col.header(view)));
            LaidOut { col, width, cells }
        })
        .collect();
    let total = |cols: &[LaidOut], gap: usize| {
        cols.iter().map(|c| c.width).sum::<usize>() + gap * cols.len().saturating_sub(1)
    };
    for drop in drop_order(view) {
        if total(&columns, 1) <= avail {
            break;
        }
        columns.retain(|c| c.col != drop);
    }
    // Still too wide (a long name on a tiny terminal): the name gives.
    let over = total(&columns, 1).saturating_sub(avail);
    if over > 0
        && let Some(name) = columns.iter_mut().find(|c| c.col == Col::Name)
    {
        name.width = name.width.saturating_sub(over).max(1);
    }
    let gap = if total(&columns, 2) <= avail { 2 } else { 1 };
    (columns, gap)
}

/// One host's row of cells in `line_area`, highlighted when it is the selection.
fn draw_row(
    buf: &mut Buffer,
    view: &View<'_>,
    line_area: Rect,
    selected: bool,
    columns: &[LaidOut],
    row: usize,
    gap: usize,
) {
    let theme = view.theme;
    let y = line_area.y;
    if selected {
        buf.set_style(line_area, theme.selected());
    }
    let mut x = line_area.x;
    for column in columns {
        if let Some(cell) = column.cells.get(row) {
            draw_cell(
                buf,
                x,
                y,
                column.width,
                cell.clone(),
                column.col.right_aligned(),
                line_area.right(),
            );
        }
        x = x.saturating_add(cell_u16(column.width + gap));
    }
    if selected && !theme.monochrome {
        // Secondary text would fade into the selection's background: lift it.
        for x in line_area.left()..line_area.right() {
            let cell = &mut buf[(x, y)];
            if cell.fg == theme.muted {
                cell.fg = theme.selected_fg;
            }
        }
    }
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

    /// Whether flap damping still holds a failing check amber.
    fn amber(&self, check: Check) -> bool {
        self.host.damp.get(&check).is_some_and(|d| d.is_amber())
    }

    /// A failing check is red once flap damping says so, amber before ("1 of 2 failed").
    fn fail_style(&self, check: Check, view: &View<'_>) -> ratatui::style::Style {
        if self.amber(check) {
            view.theme.warn()
        } else {
            view.theme.failed()
        }
    }

    /// The host's cell in a column.
    fn cell(&self, col: Col, view: &View<'_>) -> Line<'static> {
        let h = self.host;
        match col {
            Col::Health => Line::styled(health_label(h.health), view.theme.health(h.health)),
            Col::Name => Line::raw(clean(&self.config.name, 64)),
            Col::Target => self.target(view),
            Col::Rtt => self.ping(view),
            Col::Loss => self.loss(view),
            Col::Via => self.via(view),
            Col::Ssh => self.ssh(view),
            Col::Banner => self.banner(view),
            Col::Http => self.http(view),
            Col::HttpTime => self.http_time(view),
            Col::Ports => self.ports(view),
            Col::Services => self.services(view),
            Col::DnsAddr => self.dns_address(view),
            Col::Dns => self.dns_verdict(view),
            Col::DnsCount => self.resolvers_new(view),
            Col::Hosts => self.hosts_flag(view),
            Col::Since => match h.health_since {
                Some(at) => Line::styled(view.age(at), view.theme.muted()),
                None => Line::default(),
            },
            Col::Vantage(v) => self.vantage(v, view),
        }
    }

    /// The host's health from vantage `v`: `● up` there; `⚠ no view` when the vantage's
    /// last run failed (the status bar says why); waiting before its first answer.
    fn vantage(&self, v: usize, view: &View<'_>) -> Line<'static> {
        if let Some(seen) = self.host.remote.get(v).and_then(Option::as_ref) {
            let health = store::vantage::remote_health(seen.host.health);
            return Line::styled(health_label(health), view.theme.health(health));
        }
        match view.state.vantages.get(v).and_then(|vs| vs.outcome()) {
            Some(Err(_)) => Line::styled("⚠ no view", view.theme.warn()),
            Some(Ok(_)) => Line::styled("- not seen", view.theme.muted()),
            None => waiting(view),
        }
    }

    /// The IP the probes hit; `H` when the hosts file gave it, `D` when DNS did.
    fn target(&self, view: &View<'_>) -> Line<'static> {
        let theme = view.theme;
        match &self.host.target {
            None => waiting(view),
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
        }
    }

    /// The latest round trip, or why the ping failed.
    fn ping(&self, view: &View<'_>) -> Line<'static> {
        match (&self.host.ping, self.config.ping) {
            (_, false) => skipped(view),
            (None, true) => waiting(view),
            (Some(p), true) => match &p.value.result {
                Ok(d) => Line::raw(rtt(*d)),
                Err(e) => Line::styled(e.word(), self.fail_style(Check::Ping, view)),
            },
        }
    }

    /// The share of the ping window lost: grey at none, red at all, amber between.
    fn loss(&self, view: &View<'_>) -> Line<'static> {
        let theme = view.theme;
        match store::ping_stats(self.host) {
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
        }
    }

    /// How the pings are sent.
    fn via(&self, view: &View<'_>) -> Line<'static> {
        match &self.host.ping {
            Some(p) if self.config.ping => Line::styled(p.value.mode.method(), view.theme.muted()),
            _ => Line::default(),
        }
    }

    /// `ok` when a banner came, else why not.
    fn ssh(&self, view: &View<'_>) -> Line<'static> {
        match (&self.host.ssh, self.config.ssh) {
            (_, None) => skipped(view),
            (None, Some(_)) => waiting(view),
            (Some(s), Some(_)) => match &s.value.result {
                Ok(_) => Line::styled("ok", view.theme.ok()),
                Err(e) => Line::styled(e.word(), self.fail_style(Check::Ssh, view)),
            },
        }
    }

    /// The SSH server's software, from its banner.
    fn banner(&self, view: &View<'_>) -> Line<'static> {
        match &self.host.ssh {
            Some(Seen { value, .. }) if self.config.ssh.is_some() => match &value.result {
                Ok(b) => Line::styled(ssh_software(&b.banner), view.theme.muted()),
                Err(_) => Line::default(),
            },
            _ => Line::default(),
        }
    }

    /// The HTTP status (`301→` a redirect), or why there is none.
    fn http(&self, view: &View<'_>) -> Line<'static> {
        let theme = view.theme;
        match (&self.host.http, &self.config.http) {
            (_, None) => skipped(view),
            (None, Some(_)) => waiting(view),
            (Some(x), Some(_)) => match &x.value.result {
                Ok(r) if r.is_redirect() => Line::styled(format!("{}→", r.status), theme.ok()),
                Ok(r) if r.is_ok() => Line::styled(r.status.to_string(), theme.ok()),
                Ok(r) => Line::styled(r.status.to_string(), self.fail_style(Check::Http, view)),
                Err(e) => Line::styled(e.word(), self.fail_style(Check::Http, view)),
            },
        }
    }

    /// How long the HTTP request took.
    fn http_time(&self, view: &View<'_>) -> Line<'static> {
        match &self.host.http {
            Some(Seen { value, .. }) if self.config.http.is_some() => match &value.result {
                Ok(r) => Line::styled(rtt(r.latency), view.theme.muted()),
                Err(_) => Line::default(),
            },
            _ => Line::default(),
        }
    }

    /// Expected ports: how many are open, or the first that is not.
    fn ports(&self, view: &View<'_>) -> Line<'static> {
        let (Some(Seen { value, .. }), false) = (&self.host.ports, self.config.ports.is_empty())
        else {
            return if self.config.ports.is_empty() {
                skipped(view)
            } else {
                waiting(view)
            };
        };
        let open = value
            .ports
            .iter()
            .filter(|r| r.state == PortState::Open)
            .count();
        match value.ports.iter().find(|r| r.state != PortState::Open) {
            None => Line::styled(
                format!("✔ {open}/{} open", value.ports.len()),
                view.theme.ok(),
            ),
            Some(r) => {
                let word = match r.state {
                    PortState::Filtered => "filtered",
                    _ => r.state.word(),
                };
                Line::styled(
                    format!("✖ {} {word}", r.port),
                    self.fail_style(Check::Port(r.port), view),
                )
            }
        }
    }

    /// Services: how many are ok, or the worst one and its state.
    fn services(&self, view: &View<'_>) -> Line<'static> {
        let seen: Vec<(usize, &ServiceResult)> = self
            .host
            .services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, &s.value.result)))
            .collect();
        if self.config.services.is_empty() {
            return skipped(view);
        }
        if seen.is_empty() {
            return waiting(view);
        }
        match seen.iter().max_by_key(|(_, r)| r.state) {
            Some((i, r)) if r.state != ServiceState::Ok => {
                let (symbol, mut style) = super::services::service_style(view, r.state);
                if self.amber(Check::Service(*i)) {
                    style = view.theme.warn();
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
                view.theme.ok(),
            ),
        }
    }

    /// The system resolver's first address, and how many more it gave.
    fn dns_address(&self, view: &View<'_>) -> Line<'static> {
        let Some(Seen { value: Ok(a), .. }) =
            self.host.dns.get(self.primary).and_then(Option::as_ref)
        else {
            return Line::default();
        };
        let Some((first, rest)) = a.addresses.split_first() else {
            return Line::default();
        };
        let class = store::classify(&view.state.inventory, self.config, *first);
        let mut spans = vec![Span::styled(first.to_string(), address_style(view, class))];
        if !rest.is_empty() {
            spans.push(Span::styled(
                format!(" +{}", rest.len()),
                view.theme.muted(),
            ));
        }
        Line::from(spans)
    }

    /// The system resolver's verdict.
    fn dns_verdict(&self, view: &View<'_>) -> Line<'static> {
        match self.verdicts.get(self.primary).copied().flatten() {
            None => waiting(view),
            Some(v) => Line::styled(verdict_label(v), view.theme.verdict(v)),
        }
    }

    /// How many resolvers answer the new address: `2/3 new`, green once all do.
    fn resolvers_new(&self, view: &View<'_>) -> Line<'static> {
        let total = self.verdicts.len();
        let answered = self.verdicts.iter().flatten().count();
        let new = self
            .verdicts
            .iter()
            .filter(|v| **v == Some(Verdict::New))
            .count();
        if answered == 0 {
            return waiting(view);
        }
        let style = if new == total {
            view.theme.ok()
        } else {
            view.theme.warn()
        };
        Line::styled(format!("{new}/{total} new"), style)
    }

    /// What this machine's hosts file does to the name.
    fn hosts_flag(&self, view: &View<'_>) -> Line<'static> {
        match self.flag {
            None => waiting(view),
            Some(HostsFlag::Old) => Line::styled("⚠ OLD IP", view.theme.hosts_flag(HostsFlag::Old)),
            Some(f) => Line::styled(f.word(), view.theme.hosts_flag(f)),
        }
    }
}

/// `…`: no result yet.
fn waiting(view: &View<'_>) -> Line<'static> {
    Line::styled("…", view.theme.muted())
}

/// `-`: the inventory does not ask for this probe.
fn skipped(view: &View<'_>) -> Line<'static> {
    Line::styled("-", view.theme.muted())
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
