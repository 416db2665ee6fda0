//! Reading "when was this last updated" from a page: a timestamp in text, parsed with the
//! configured `strftime` format or, without one, as RFC 3339, RFC 2822 / HTTP date, or Unix
//! seconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Parses `text` (trimmed) as a timestamp; without an offset in the text it is read as UTC.
pub(super) fn parse_timestamp(text: &str, format: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match format {
        Some(format) => with_format(text, format),
        None => DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::parse_from_rfc2822(text))
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| unix_seconds(text)),
    }
}

fn with_format(text: &str, format: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_str(text, format) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDateTime::parse_from_str(text, format) {
        return Some(d.and_utc());
    }
    // A date-only format (`%Y-%m-%d`): the start of that day.
    NaiveDate::parse_from_str(text, format)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// `1717171717` or `1717171717.25`.
fn unix_seconds(text: &str) -> Option<DateTime<Utc>> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    DateTime::from_timestamp(whole.parse().ok()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn default_formats() {
        let t = at("2026-05-03T12:00:00Z");
        assert_eq!(
            parse_timestamp(" 2026-05-03T14:00:00+02:00 ", None),
            Some(t)
        );
        assert_eq!(
            parse_timestamp("Sun, 03 May 2026 12:00:00 GMT", None),
            Some(t)
        );
        assert_eq!(parse_timestamp("1777809600", None), Some(t));
        assert_eq!(parse_timestamp("1777809600.5", None), Some(t));
        assert_eq!(parse_timestamp("yesterday", None), None);
        assert_eq!(parse_timestamp("", None), None);
    }

    #[test]
    fn strftime_formats_read_as_utc() {
        let t = at("2026-05-03T12:00:00Z");
        assert_eq!(
            parse_timestamp("2026-05-03 12:00", Some("%Y-%m-%d %H:%M")),
            Some(t)
        );
        assert_eq!(
            parse_timestamp("03/05/2026 14:00 +0200", Some("%d/%m/%Y %H:%M %z")),
            Some(t)
        );
        assert_eq!(
            parse_timestamp("2026-05-03", Some("%Y-%m-%d")),
            Some(at("2026-05-03T00:00:00Z"))
        );
        assert_eq!(parse_timestamp("2026-05-03", Some("%H:%M")), None);
    }
}
