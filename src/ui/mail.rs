//! A mail host's mail on screen: SPF, MX, the blocklists and the HELO name, one row each,
//! as the detail pane (`Mail` lines) and the ports-and-services view (its mail section)
//! both show them. What is wrong is `store::mail`'s to judge; this only words it.
//!
//! ```text
//! Mail     ✖ SPF fail · example.org: authorizes only the old address (198.51.100.11 passes) · v=spf1 ip4:198.51.100.11 -all
//!          ✔ MX here · example.org: mail.example.org → 203.0.113.11
//!          ✖ DNSBL listed · bl.demo.test: Listed in the demo: backlog burst
//!          ✔ HELO matches PTR · mail.example.org
//! ```

use ratatui::style::Style;
use ratatui::text::Span;

use crate::probe::mail::{
    DnsblAnswer, DnsblCheck, HeloCheck, MailDomain, MxAnswer, REFUSAL_WORDS, SpfOutcome, SpfResult,
};
use crate::store::mail::{MailView, mail_view, mx_word};

use super::View;
use super::text::clean;

/// One mail check of a host, in words.
pub(super) struct MailRow {
    /// `SPF`, `MX`, `DNSBL`, `HELO`.
    pub kind: &'static str,
    /// The domain, list or name it is about (may be empty).
    pub subject: String,
    /// `✔ pass`, `✖ listed`: symbol and word.
    pub state: String,
    pub style: Style,
    pub detail: String,
}

impl MailRow {
    /// The detail pane's sentence: `✖ SPF fail · example.org: why`.
    pub fn sentence(&self, view: &View<'_>) -> Vec<Span<'static>> {
        let (symbol, word) = self.state.split_once(' ').unwrap_or((&self.state, ""));
        let mut text = format!(" {} {word}", self.kind);
        if !self.subject.is_empty() {
            text.push_str(&format!(" · {}", self.subject));
        }
        let mut spans = vec![
            Span::styled(symbol.to_string(), self.style),
            Span::styled(text, self.style),
        ];
        if !self.detail.is_empty() {
            spans.push(Span::styled(
                format!(": {}", self.detail),
                view.theme.muted(),
            ));
        }
        spans
    }
}

/// Every mail row of `host` (`None`: not a mail host). `every_list`: one row per
/// blocklist (the services view) rather than one for all the lists that do not list it
/// (the detail pane).
pub(super) fn rows(view: &View<'_>, host: usize, every_list: bool) -> Option<Vec<MailRow>> {
    let config = &view.state.inventory.hosts[host];
    let mail = mail_view(config, &view.state.hosts[host])?;
    let mut rows = Vec::new();
    if mail.domains.is_empty() {
        rows.push(row(view, "SPF", "", Look::Waiting, String::new()));
    }
    for domain in mail.domains {
        rows.push(spf_row(view, &domain.spf));
        rows.push(mx_row(view, domain));
    }
    rows.extend(list_rows(view, &mail, every_list, config.new_ip.is_some()));
    rows.extend(mail.helo.as_ref().map(|h| helo_row(view, h)));
    Some(rows)
}

/// How a row looks: good, a warning, bad, or not known yet.
#[derive(Clone, Copy)]
enum Look {
    Ok(&'static str),
    Warn(&'static str),
    Bad(&'static str),
    Waiting,
}

fn row(view: &View<'_>, kind: &'static str, subject: &str, look: Look, detail: String) -> MailRow {
    let theme = view.theme;
    let (state, style) = match look {
        Look::Ok(word) => (format!("✔ {word}"), theme.ok()),
        Look::Warn(word) => (format!("⚠ {word}"), theme.warn()),
        Look::Bad(word) => (format!("✖ {word}"), theme.failed()),
        Look::Waiting => ("… waiting".to_string(), theme.muted()),
    };
    MailRow {
        kind,
        subject: clean(subject, 80),
        state,
        style,
        detail: clean(&detail, 300),
    }
}

fn spf_row(view: &View<'_>, spf: &SpfOutcome) -> MailRow {
    let record = match &spf.record {
        Ok(Some(text)) => text.clone(),
        Ok(None) => "no SPF record".into(),
        Err(e) => format!("record unreadable: {e}"),
    };
    let Some(new) = &spf.new_ip else {
        return row(view, "SPF", &spf.domain, Look::Waiting, record);
    };
    let old = spf.old_ip.as_ref();
    let word = new.result.word();
    // Anything but pass degrades the host (`store::mail::spf_problems`).
    let look = match new.result {
        SpfResult::Pass => Look::Ok(word),
        _ => Look::Bad(word),
    };
    let mut detail = Vec::new();
    if new.result != SpfResult::Pass
        && let Some(old) = old.filter(|o| o.result == SpfResult::Pass)
    {
        detail.push(format!(
            "authorizes only the old address ({} passes)",
            old.ip
        ));
    }
    detail.extend(new.why.clone());
    detail.push(record);
    row(view, "SPF", &spf.domain, look, detail.join(" · "))
}

fn mx_row(view: &View<'_>, domain: &MailDomain) -> MailRow {
    let name = &domain.mx.domain;
    let answer: &MxAnswer = match &domain.mx.result {
        Ok(a) => a,
        Err(e) => return row(view, "MX", name, Look::Warn("unknown"), e.to_string()),
    };
    let names: Vec<String> = answer
        .hosts
        .iter()
        .map(|h| match &h.addresses {
            Ok(addresses) => {
                let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                format!("{} → {}", h.name, list.join(", "))
            }
            Err(e) => format!("{} ({e})", h.name),
        })
        .collect();
    // The word is the model's (`mx_word`); degraded ones are ✖, warnings ⚠.
    let look = match mx_word(&domain.mx) {
        "here" => Look::Ok("here"),
        word @ ("old" | "null") => Look::Bad(word),
        word => Look::Warn(word),
    };
    let detail = match (answer.null_mx, answer.hosts.is_empty()) {
        (true, _) => "a null MX: the domain takes no mail".to_string(),
        (false, true) => "no MX record: mail goes to the domain's own address".to_string(),
        _ => names.join(" · "),
    };
    row(view, "MX", name, look, detail)
}

/// The blocklists: every list (`every_list`), or the listings and problems, with one row
/// for the lists that do not list the address.
fn list_rows(
    view: &View<'_>,
    mail: &MailView<'_>,
    every_list: bool,
    has_new_ip: bool,
) -> Vec<MailRow> {
    let zones = &view.state.inventory.mail.dnsbl;
    if zones.is_empty() || !has_new_ip {
        return Vec::new();
    }
    if mail.dnsbl.is_empty() {
        return vec![row(view, "DNSBL", "", Look::Waiting, String::new())];
    }
    let clean_lists = |c: &&DnsblCheck| matches!(c.result, Ok(DnsblAnswer::NotListed));
    let mut rows: Vec<MailRow> = mail
        .dnsbl
        .iter()
        .filter(|c| every_list || !clean_lists(c))
        .map(|c| list_row(view, c))
        .collect();
    let not_listed = mail.dnsbl.iter().filter(clean_lists).count();
    if !every_list && not_listed > 0 {
        let lists = if not_listed == 1 { "list" } else { "lists" };
        rows.push(row(
            view,
            "DNSBL",
            "",
            Look::Ok("not listed"),
            format!("{not_listed} {lists}"),
        ));
    }
    rows
}

fn list_row(view: &View<'_>, check: &DnsblCheck) -> MailRow {
    let (look, detail) = match &check.result {
        Ok(DnsblAnswer::NotListed) => (Look::Ok("not listed"), String::new()),
        Ok(DnsblAnswer::Listed { reason, codes, .. }) => {
            let codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
            let why = reason.clone().unwrap_or_else(|| codes.join(", "));
            (Look::Bad("listed"), format!("{}: {why}", check.ip))
        }
        Ok(DnsblAnswer::Refused { code }) => {
            (Look::Warn("refused"), format!("{REFUSAL_WORDS} ({code})"))
        }
        Err(e) => (Look::Warn("unknown"), e.to_string()),
    };
    row(view, "DNSBL", &check.zone, look, detail)
}

fn helo_row(view: &View<'_>, helo: &HeloCheck) -> MailRow {
    if helo.matches_ptr {
        return row(
            view,
            "HELO",
            &helo.name,
            Look::Ok("matches PTR"),
            String::new(),
        );
    }
    let also = if helo.matches_mx {
        " (it is an MX name)"
    } else {
        ""
    };
    row(
        view,
        "HELO",
        &helo.name,
        Look::Warn("not the PTR"),
        format!("the new address's PTR names another{also}"),
    )
}
