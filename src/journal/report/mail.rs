//! The report's mail: for each mail host, when each domain's SPF first passed for the new
//! address (or that it never did), and each blocklist's listings of it, from when to when.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Entry, Event};
use crate::journal::MailCheck;

/// A mail host's mail over the report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MailReport {
    pub host: String,
    /// One per domain whose SPF was judged.
    pub spf: Vec<SpfReport>,
    /// Every listing, in time order.
    pub listings: Vec<ListingReport>,
}

/// A domain's SPF verdict for the new address.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SpfReport {
    pub domain: String,
    /// When it first passed (`null`: never within the journal).
    pub first_pass: Option<DateTime<Utc>>,
    pub result_at_end: String,
    /// The record when it passed, or what was wrong, at the end.
    pub detail_at_end: Option<String>,
}

/// One listing of the new address on a blocklist.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListingReport {
    pub zone: String,
    pub ip: Option<std::net::IpAddr>,
    /// When the listing was first seen (the report's start when it was already listed).
    pub listed: DateTime<Utc>,
    /// When the list stopped listing it (`null`: still listed at the end).
    pub cleared: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// The mail of every host with `mail` events in `sorted` (time order), `from` being the
/// report's start (what came before sets the scene).
pub(super) fn mail_reports(sorted: &[&Entry], from: DateTime<Utc>) -> Vec<MailReport> {
    let mut out: Vec<MailReport> = Vec::new();
    for e in sorted {
        let Event::Mail {
            host,
            check,
            subject,
            result,
            ip,
            detail,
        } = &e.event
        else {
            continue;
        };
        let i = match out.iter().position(|r| &r.host == host) {
            Some(i) => i,
            None => {
                out.push(MailReport {
                    host: host.clone(),
                    spf: Vec::new(),
                    listings: Vec::new(),
                });
                out.len() - 1
            }
        };
        let report = &mut out[i];
        let at = e.at.max(from);
        match check {
            MailCheck::Spf => spf(report, subject, result, detail, at),
            MailCheck::Dnsbl => listing(report, subject, result, *ip, detail, at),
            MailCheck::Mx => {}
        }
    }
    out
}

fn spf(
    report: &mut MailReport,
    domain: &str,
    result: &str,
    detail: &Option<String>,
    at: DateTime<Utc>,
) {
    let i = match report.spf.iter().position(|s| s.domain == domain) {
        Some(i) => i,
        None => {
            report.spf.push(SpfReport {
                domain: domain.to_string(),
                first_pass: None,
                result_at_end: String::new(),
                detail_at_end: None,
            });
            report.spf.len() - 1
        }
    };
    let s = &mut report.spf[i];
    if result == "pass" && s.first_pass.is_none() {
        s.first_pass = Some(at);
    }
    s.result_at_end = result.to_string();
    s.detail_at_end.clone_from(detail);
}

fn listing(
    report: &mut MailReport,
    zone: &str,
    result: &str,
    ip: Option<std::net::IpAddr>,
    detail: &Option<String>,
    at: DateTime<Utc>,
) {
    let open = report
        .listings
        .iter_mut()
        .rev()
        .find(|l| l.zone == zone && l.cleared.is_none());
    match (result, open) {
        ("listed", Some(_)) => {}
        ("listed", None) => report.listings.push(ListingReport {
            zone: zone.to_string(),
            ip,
            listed: at,
            cleared: None,
            reason: detail.clone(),
        }),
        // Not listed: the listing is over. A refusal or an error says nothing either way.
        ("not_listed", Some(l)) => l.cleared = Some(at),
        _ => {}
    }
}
