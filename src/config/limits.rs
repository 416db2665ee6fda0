//! The ranges of the inventory's numbers, in one place: each is checked when the inventory
//! is read (a located error outside it), and README's "Inventory limits" lists the same.
//! Nothing past them is trusted: a probe loop adds the interval to a clock, `check` retries
//! `fail_after` times, and both must end.

use std::ops::RangeInclusive;
use std::time::Duration;

pub use super::service::{MAX_MAX_BODY, MAX_WARN_DAYS};

/// `[probe] interval`: the time between two rounds of a host.
pub const INTERVAL: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(3600);
/// `[probe] timeout`: how long one probe may take; also at most the interval.
pub const TIMEOUT: RangeInclusive<Duration> = Duration::from_millis(10)..=Duration::from_secs(60);
/// `fail_after` and `recover_after` (in `[probe]` and `[[host]]`): consecutive results.
pub const ROUNDS: RangeInclusive<u32> = 1..=20;
/// `max_age` of an http/https service: how old its page may be.
pub const MAX_AGE: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(365 * 86_400);
/// `[dns] long_ttl`: a TTL above it was not lowered for the move.
pub const LONG_TTL: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(7 * 86_400);
/// `[dns] delegation_every`: how often a zone's parent is asked for its delegation (it
/// changes slowly; a registrar takes hours).
pub const DELEGATION_EVERY: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(86_400);
/// `[dns] canary_deadline`: how long a canary run waits for every secondary.
pub const CANARY_DEADLINE: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(86_400);
/// `[dns] canary_every`: how often a canary run asks each secondary.
pub const CANARY_EVERY: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(600);
/// `[mail] dnsbl_every`: how often a blocklist zone is asked about one address (public
/// lists limit their use; a listing comes and goes in hours). Below
/// [`DNSBL_EVERY_PUBLIC`] only with a `dnsbl_resolver` of one's own.
pub const DNSBL_EVERY: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(86_400);
/// The shortest `dnsbl_every` through the system resolver, where the lists are public.
pub const DNSBL_EVERY_PUBLIC: Duration = Duration::from_secs(60);
/// `[[vantage]] every`: how often a vantage is asked, and the most one run may take.
pub const VANTAGE_EVERY: RangeInclusive<Duration> =
    Duration::from_secs(5)..=Duration::from_secs(3600);
/// `every` of a `kind = "command"` service: how often it runs on its host.
pub const COMMAND_EVERY: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(86_400);
/// `[[notify]] min_interval`: at most one message per host (zone, item) per interval.
pub const NOTIFY_MIN_INTERVAL: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(86_400);
/// `[[notify]] timeout`: how long one delivery attempt may take.
pub const NOTIFY_TIMEOUT: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(60);
/// Every port: `ssh`, `ports = [...]`, a service's `port`, a resolver's or zone server's.
pub const PORT: RangeInclusive<u16> = 1..=65_535;
/// A service's `expect_status`.
pub const EXPECT_STATUS: RangeInclusive<u16> = 100..=599;
/// A service's `max_body`, in bytes.
pub const MAX_BODY: RangeInclusive<usize> = 1..=MAX_MAX_BODY;
/// A service's `warn_days`.
pub const WARN_DAYS: RangeInclusive<u32> = 0..=MAX_WARN_DAYS;
