//! How moveday writes a time for machines: RFC 3339 in UTC, whole seconds
//! (`2026-11-25T17:45:01Z`), in every JSON output and generated file; a duration as
//! seconds to the millisecond. Said once here.

use chrono::{DateTime, SecondsFormat, Utc};

/// `at` as RFC 3339 in UTC with whole seconds: `2026-11-25T17:45:01Z`.
pub fn rfc3339(at: impl Into<DateTime<Utc>>) -> String {
    at.into().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A duration as seconds to the millisecond (`1.234`), as JSON and the journal give them.
pub fn seconds_ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A compact duration for people: `0s`, `42s`, `3m07s`, `2h05m`, `3d04h`.
pub fn compact(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn whole_seconds_in_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_091_501_750);
        assert_eq!(rfc3339(t), "2025-11-25T17:25:01Z");
        let fixed = DateTime::parse_from_rfc3339("2025-11-25T19:25:01+02:00").unwrap();
        assert_eq!(rfc3339(fixed.to_utc()), "2025-11-25T17:25:01Z");
    }
}
