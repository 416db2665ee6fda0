//! The journal's `mail` events: a mail host's SPF verdict for its new address, its MX, or a
//! blocklist's answer, each when it changes (and when first seen).

use crate::probe::mail::{DnsblAnswer, MailDomain, SpfResult};
use crate::sanitize::sanitize;
use crate::store::HostState;
use crate::store::mail::{dnsbl_word, mx_word, spf_problems};

use super::MAX_DETAIL_CHARS;
use crate::journal::{Event, MailCheck};

/// Every mail verdict of `host` that differs between `before` and `after`.
pub(super) fn mail_events(host: &str, before: &HostState, after: &HostState) -> Vec<Event> {
    let mut out = Vec::new();
    if let Some(now) = after.mail.as_ref().map(|m| m.value.domains.as_slice()) {
        let was = before
            .mail
            .as_ref()
            .map_or(&[][..], |m| m.value.domains.as_slice());
        for d in now {
            let prev = was.iter().find(|p| p.mx.domain == d.mx.domain);
            out.extend(spf_event(host, d, prev));
            let mx = mx_word(&d.mx);
            if prev.map(|p| mx_word(&p.mx)) != Some(mx) {
                out.push(event(
                    host,
                    MailCheck::Mx,
                    &d.mx.domain,
                    mx,
                    None,
                    mx_detail(d),
                ));
            }
        }
    }
    if let Some(now) = after.dnsbl.as_ref() {
        let was = before.dnsbl.as_ref().map(|d| d.value.checks.as_slice());
        for c in &now.value.checks {
            let prev = was.and_then(|w| w.iter().find(|p| p.zone == c.zone));
            let word = dnsbl_word(c);
            if prev.map(dnsbl_word) == Some(word) {
                continue;
            }
            let detail = match &c.result {
                Ok(DnsblAnswer::Listed { reason, .. }) => reason.clone(),
                Err(e) => Some(e.to_string()),
                _ => None,
            };
            out.push(event(
                host,
                MailCheck::Dnsbl,
                &c.zone,
                word,
                Some(c.ip),
                detail,
            ));
        }
    }
    out
}

fn spf_event(host: &str, now: &MailDomain, before: Option<&MailDomain>) -> Option<Event> {
    let new = now.spf.new_ip.as_ref()?;
    let prev = before.and_then(|b| b.spf.new_ip.as_ref()).map(|c| c.result);
    if prev == Some(new.result) {
        return None;
    }
    let detail = match new.result {
        SpfResult::Pass => now.spf.record.clone().ok().flatten(),
        _ => spf_problems(&now.spf).into_iter().next().map(|p| p.words),
    };
    Some(event(
        host,
        MailCheck::Spf,
        &now.spf.domain,
        new.result.word(),
        Some(new.ip),
        detail,
    ))
}

fn mx_detail(d: &MailDomain) -> Option<String> {
    let a = d.mx.result.as_ref().ok()?;
    let names: Vec<&str> = a.hosts.iter().map(|h| h.name.as_str()).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

fn event(
    host: &str,
    check: MailCheck,
    subject: &str,
    result: &str,
    ip: Option<std::net::IpAddr>,
    detail: Option<String>,
) -> Event {
    Event::Mail {
        host: host.to_string(),
        check,
        subject: subject.to_string(),
        result: result.to_string(),
        ip,
        detail: detail.map(|d| sanitize(&d, MAX_DETAIL_CHARS)),
    }
}
