//! Reading "when was this last updated" from a page: a timestamp in text, parsed with the
//! configured `strftime` format or, without one, as RFC 3339, RFC 2822 / HTTP date, Unix
//! seconds, or one of the layouts sites print (the table below, read by chrono: no date
//! parsing of our own).

use std::sync::LazyLock;

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
            .or_else(|| unix_seconds(text))
            .or_else(|| common_layouts(text)),
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

// The layouts read without `fresh_format`: every DATE, then a separator, a TIME and a ZONE
// (`2026-12-04 07:51 UTC`, `December 4, 2026 at 7:51 AM`, `04.12.2026 07:51:00 +01:00`), a
// DATE alone (the start of that day, UTC), and the WHOLE layouts that put the time
// inside the date. chrono reads month and weekday names in English, full or abbreviated
// and in any case (`%B` takes `Dec` and `December`; `%b` would stop after `Dec`), `%p`
// takes `AM` and `am`, and a space in a format matches any run of spaces; a literal
// (`UTC`, `at`) must be as written. A numeric date that reads both ways (`04/12/2026`: April
// or December?) is not here on purpose: such a page needs its `fresh_format`.

/// Dates, year first or with the month in words, so no order of day and month is guessed.
const DATES: &[&str] = &[
    "%Y-%m-%d",      // 2026-12-04 (ISO 8601, SQL, most logs)
    "%Y/%m/%d",      // 2026/12/04
    "%d.%m.%Y",      // 04.12.2026 (German, Russian, ...)
    "%d %B %Y",      // 4 Dec 2026, 04 December 2026
    "%d-%B-%Y",      // 04-Dec-2026 (Apache and nginx directory listings)
    "%B %d, %Y",     // Dec 4, 2026; December 4, 2026
    "%B %d %Y",      // Dec 4 2026
    "%A, %d %B %Y",  // Fri, 4 Dec 2026; Friday, 4 December 2026
    "%A, %B %d, %Y", // Friday, December 4, 2026
    "%A %d %B %Y",   // Fri 04 Dec 2026
];

/// Between the date and the time.
const BETWEEN: &[&str] = &["T", " ", ", ", " at ", " - "];

/// Times: 24-hour with or without seconds (and a fraction), 12-hour with AM/PM.
const TIMES: &[&str] = &[
    "%H:%M:%S%.f", // 07:51:00, 07:51:00.250
    "%H:%M",       // 07:51
    "%I:%M:%S %p", // 7:51:00 AM
    "%I:%M %p",    // 7:51 AM, 07:51 pm
    "%I:%M%p",     // 7:51am
];

/// What follows the time: nothing (read as UTC), a name of UTC, or an offset.
const ZONES: &[Zone] = &[
    Zone::Utc(""),
    Zone::Utc("Z"),          // 2026-12-04T07:51Z
    Zone::Utc(" Z"),         // 2026-12-04 07:51 Z
    Zone::Utc(" UTC"),       // 2026-12-04 07:51 UTC
    Zone::Utc(" GMT"),       // 4 Dec 2026 07:51 GMT
    Zone::Utc(" (UTC)"),     // 07:51 (UTC)
    Zone::Offset("%#z"),     // 07:51+01:00, 07:51+0100, 07:51+01
    Zone::Offset(" %#z"),    // 07:51 +01:00, 07:51 -0500
    Zone::Offset(" UTC%#z"), // 07:51 UTC+01:00
    Zone::Offset(" GMT%#z"), // 07:51 GMT+01 (two digits: chrono reads no `GMT+1`)
];

/// Layouts with the time inside the date: `date`'s and C's `ctime`.
const WHOLE: &[Zone] = &[
    Zone::Utc("%A %B %e %H:%M:%S %Y"), // Fri Dec  4 07:51:00 2026 (ctime)
    Zone::Utc("%A %B %e %H:%M:%S UTC %Y"), // Fri Dec  4 07:51:00 UTC 2026 (date)
    Zone::Utc("%A %B %e %H:%M:%S GMT %Y"),
    Zone::Offset("%A %B %e %H:%M:%S %#z %Y"),
    Zone::Offset("%A %d %B %Y %H:%M:%S %#z"), // Fri 04 Dec 2026 07:51:00 +0000 (git log)
];

/// A layout, and whether it ends in UTC (or says nothing of a zone) or an offset.
#[derive(Clone, Copy)]
enum Zone {
    Utc(&'static str),
    Offset(&'static str),
}

/// Every DATE × BETWEEN × TIME × ZONE, then WHOLE: built once.
static LAYOUTS: LazyLock<Vec<(String, bool)>> = LazyLock::new(|| {
    let mut layouts = Vec::new();
    for date in DATES {
        for between in BETWEEN {
            for time in TIMES {
                for zone in ZONES {
                    let (suffix, offset) = match zone {
                        Zone::Utc(s) => (s, false),
                        Zone::Offset(s) => (s, true),
                    };
                    layouts.push((format!("{date}{between}{time}{suffix}"), offset));
                }
            }
        }
    }
    layouts.extend(WHOLE.iter().map(|zone| match zone {
        Zone::Utc(s) => (s.to_string(), false),
        Zone::Offset(s) => (s.to_string(), true),
    }));
    layouts
});

/// `text` in one of the layouts above, or a DATE alone.
fn common_layouts(text: &str) -> Option<DateTime<Utc>> {
    // Every layout begins with a digit or a letter: skip the table for anything else.
    if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    LAYOUTS
        .iter()
        .find_map(|(layout, offset)| match offset {
            true => DateTime::parse_from_str(text, layout)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            false => NaiveDateTime::parse_from_str(text, layout)
                .ok()
                .map(|d| d.and_utc()),
        })
        .or_else(|| {
            DATES.iter().find_map(|date| {
                NaiveDate::parse_from_str(text, date)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
            })
        })
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

    /// Timestamps as real pages print them (status pages, blogs, directory listings, build
    /// footers, `date`, `git log`), each read without `fresh_format`.
    #[test]
    fn layouts_sites_print() {
        let t = at("2026-12-04T07:51:00Z");
        let cases = [
            "2026-12-04 07:51 UTC",                // the example
            "2026-12-04 07:51:00 UTC",             // with seconds
            "2026-12-04 07:51",                    // no zone: UTC
            "2026-12-04T07:51Z",                   // ISO 8601 without seconds
            "2026-12-04T08:51+01:00",              // ... with an offset
            "2026-12-04 08:51:00 +0100",           // an offset without a colon
            "2026-12-04 02:51 -05",                // an offset in hours
            "2026-12-04 07:51:00.000000",          // Python's str(datetime)
            "2026/12/04 07:51",                    // slashes, year first
            "04.12.2026 08:51 +01:00",             // German
            "4 Dec 2026 07:51 GMT",                // day first, month in words
            "04-Dec-2026 07:51",                   // Apache's directory listing
            "Dec 4, 2026 7:51 AM",                 // 12-hour clock
            "December 4, 2026 at 7:51 AM UTC",     // a blog's byline
            "December 4, 2026, 7:51am",            // no space before am
            "Friday, December 4, 2026 7:51:00 AM", // weekday and full names
            "Fri, 4 Dec 2026 07:51 GMT",           // RFC 2822 without seconds
            "Fri Dec  4 07:51:00 UTC 2026",        // `date`
            "Fri Dec  4 07:51:00 2026",            // C's ctime
            "Fri 04 Dec 2026 08:51:00 +0100",      // git log --date=rfc without the comma
            "2026-12-04 07:51 (UTC)",
            "2026-12-04 08:51 UTC+01:00",
            "2026-12-04 08:51 GMT+01",
            "2026-12-04 - 07:51",
        ];
        for text in cases {
            assert_eq!(parse_timestamp(text, None), Some(t), "{text}");
        }
        assert_eq!(
            parse_timestamp("Dec 4, 2026 12:05 AM", None),
            Some(at("2026-12-04T00:05:00Z")),
            "12 AM is just after midnight"
        );
        assert_eq!(
            parse_timestamp("December 4, 2026 7:51 PM EST", None),
            None,
            "a zone abbreviation other than UTC/GMT is not guessed"
        );
        assert_eq!(
            parse_timestamp("December 4, 2026", None),
            Some(at("2026-12-04T00:00:00Z")),
            "a date alone is the start of its day"
        );
    }

    #[test]
    fn layouts_that_read_two_ways_or_lie_are_not_read() {
        // April 12th or December 4th? A page like this needs its fresh_format.
        assert_eq!(parse_timestamp("04/12/2026 07:51", None), None);
        assert_eq!(parse_timestamp("12/04/2026", None), None);
        // The weekday must be the date's: Thursday is not December 4th 2026.
        assert_eq!(
            parse_timestamp("Thursday, December 4, 2026 7:51 AM", None),
            None
        );
        assert_eq!(parse_timestamp("2026-02-30 07:51", None), None);
        assert_eq!(parse_timestamp("2026-12-04 25:51", None), None);
        assert_eq!(parse_timestamp("2026-12-04 07:51 UTC and more", None), None);
        assert_eq!(parse_timestamp("13:51 PM 2026-12-04", None), None);
    }
}
