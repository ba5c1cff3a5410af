//! Time: half-open millisecond ranges, instants and their RFC 3339 form, the
//! wall clock. A leaf: it imports nothing of the crate but [`crate::env`]'s
//! error type.
//!
//! Every time window inside the crate is `[start, end)` in epoch milliseconds.
//! [`TimeRange`] displays as RFC 3339, half-open
//! (`[2026-02-10T00:00:00.000Z, 2026-02-10T01:00:00.000Z)`), and debugs as
//! raw milliseconds (`[1770681600000, 1770685200000)`).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::temporal_conversions::timestamp_ms_to_datetime;
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use serde::{Deserialize, Serialize};

use crate::env::ConfigError;

/// A range whose start is not before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid time range [{start}, {end}): the start must be before the end")]
pub struct InvalidRange {
    /// Start, epoch milliseconds (inclusive).
    pub start: i64,
    /// End, epoch milliseconds (exclusive).
    pub end: i64,
}

/// A non-empty half-open range `[start, end)` of epoch milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawRange", into = "RawRange")]
pub struct TimeRange {
    start: i64,
    end: i64,
}

#[derive(Serialize, Deserialize)]
struct RawRange {
    start_ms: i64,
    end_ms: i64,
}

impl TryFrom<RawRange> for TimeRange {
    type Error = InvalidRange;
    fn try_from(r: RawRange) -> Result<Self, InvalidRange> {
        TimeRange::new(r.start_ms, r.end_ms)
    }
}

impl From<TimeRange> for RawRange {
    fn from(r: TimeRange) -> Self {
        RawRange {
            start_ms: r.start,
            end_ms: r.end,
        }
    }
}

impl TimeRange {
    /// `[start, end)`; fails with [`InvalidRange`] unless `start < end`.
    pub fn new(start: i64, end: i64) -> Result<Self, InvalidRange> {
        if start < end {
            Ok(TimeRange { start, end })
        } else {
            Err(InvalidRange { start, end })
        }
    }

    /// `[start, end)` where the caller has already established `start < end`.
    pub(crate) fn ordered(start: i64, end: i64) -> Self {
        debug_assert!(start < end, "[{start}, {end}) is empty");
        TimeRange { start, end }
    }

    /// First millisecond in the range.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// First millisecond after the range.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// Length in milliseconds (always at least 1).
    pub fn len_ms(&self) -> u64 {
        self.end.abs_diff(self.start)
    }

    /// Whether `ts` lies in `[start, end)`.
    pub fn contains(&self, ts: i64) -> bool {
        self.start <= ts && ts < self.end
    }

    /// Whether `other` lies entirely inside this range.
    pub fn contains_range(&self, other: &TimeRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Whether the two ranges share at least one millisecond.
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The common part of both ranges, if any.
    pub fn intersect(&self, other: &TimeRange) -> Option<TimeRange> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(TimeRange { start, end })
    }
}

impl fmt::Debug for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// RFC 3339 with milliseconds, half-open: `[2026-02-10T00:00:00.000Z, 2026-02-10T01:00:00.000Z)`.
impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", fmt_ms(self.start), fmt_ms(self.end))
    }
}

/// `[2026-02-10T00:00:00.000Z, 2026-02-10T01:00:00.000Z)` (half-open): the
/// [`Display`](fmt::Display) form of a [`TimeRange`].
pub fn fmt_range(r: TimeRange) -> String {
    r.to_string()
}

/// An epoch-ms instant in RFC 3339 with milliseconds, UTC (the number itself
/// when it is outside what a calendar date can show).
pub fn fmt_ms(ms: i64) -> String {
    match timestamp_ms_to_datetime(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// An instant for a message: `1770681600000 ms (2026-02-10 00:00:00 UTC)`;
/// it may lie outside `i64`.
pub(crate) fn describe_ms(ms: i128) -> String {
    match i64::try_from(ms).ok().and_then(timestamp_ms_to_datetime) {
        Some(dt) => format!("{ms} ms ({dt} UTC)"),
        None => format!("{ms} ms"),
    }
}

/// Parse an instant such as `2026-02-10T00:00:00Z`, `2026-02-10T02:00:00+02:00`
/// or `2026-02-10` (UTC midnight) into epoch milliseconds; `key` names the
/// setting in the error.
pub fn parse_timestamp(key: &str, value: &str) -> Result<i64, ConfigError> {
    let utc = Tz::from_str("+00:00").map_err(|e| ConfigError::new(key, e.to_string()))?;
    string_to_datetime(&utc, value.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ConfigError::new(
                key,
                format!("{value:?} is not a timestamp; use RFC 3339 such as 2026-02-10T00:00:00Z"),
            )
        })
}

/// `d` in whole milliseconds, saturating at `i64::MAX` (a setting of
/// centuries must not wrap into the past).
pub fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Now, in epoch milliseconds (0 if the system clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 to the proleptic Gregorian (year, month, day), after
/// Howard Hinnant's `civil_from_days`. For the simulator's timestamps and for
/// test oracles that must not lean on the code they check.
#[cfg(any(test, feature = "mock"))]
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A `WHERE` clause that gives no time window that can be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WindowError {
    /// Some part of the matching time range has no lower bound: the query
    /// would read every event ever logged.
    #[error(
        "rapid7_logs needs a lower bound on `timestamp`, otherwise the query would fetch \
         every event ever logged. Add one, for example \
         `WHERE timestamp >= now() - interval '1 hour'` or \
         `WHERE timestamp BETWEEN '2026-02-10T00:00:00Z' AND '2026-02-10T00:59:59.999Z'`. \
         Bounds come from comparisons of `timestamp` itself with constants \
         (>, >=, <, <=, =, BETWEEN, IN, combined with AND / OR; each side of an OR \
         needs its own bound); casts such as CAST(timestamp AS DATE), functions of \
         `timestamp`, != and NOT do not bound the fetch. A missing upper bound means now."
    )]
    NoLowerBound,

    /// A bound that limits the window lies outside the years 1970..=9999.
    #[error(
        "time bound {} on `timestamp` is outside the supported range \
         1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z; use bounds within it, \
         for example `WHERE timestamp >= now() - interval '1 hour'`",
        describe_ms(*bound_ms)
    )]
    OutOfRange {
        /// The offending bound, epoch milliseconds (may exceed `i64`).
        bound_ms: i128,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_saturate() {
        use std::time::Duration;
        assert_eq!(super::duration_ms(Duration::from_millis(1_500)), 1_500);
        assert_eq!(super::duration_ms(Duration::MAX), i64::MAX);
        assert_eq!(
            super::duration_ms(Duration::from_secs(u64::MAX / 2)),
            i64::MAX
        );
    }

    use super::*;

    #[test]
    fn ranges_display_as_rfc3339_and_debug_as_millis() {
        let r = TimeRange::new(1_770_681_600_000, 1_770_685_200_000).unwrap();
        assert_eq!(
            r.to_string(),
            "[2026-02-10T00:00:00.000Z, 2026-02-10T01:00:00.000Z)"
        );
        assert_eq!(format!("{r:?}"), "[1770681600000, 1770685200000)");
        assert_eq!(fmt_range(r), r.to_string());
    }

    #[test]
    fn empty_or_reversed_range_is_an_error() {
        assert!(matches!(
            TimeRange::new(5, 5),
            Err(InvalidRange { start: 5, end: 5 })
        ));
        assert!(matches!(TimeRange::new(6, 5), Err(InvalidRange { .. })));
        assert!(TimeRange::new(i64::MIN, i64::MAX).is_ok());
    }

    #[test]
    fn serde_validates() {
        let ok: TimeRange = serde_json::from_str(r#"{"start_ms":1,"end_ms":2}"#).unwrap();
        assert_eq!(ok, TimeRange::new(1, 2).unwrap());
        assert!(serde_json::from_str::<TimeRange>(r#"{"start_ms":2,"end_ms":2}"#).is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("K", "2026-02-10T00:00:00Z").unwrap(),
            1_770_681_600_000
        );
        assert_eq!(
            parse_timestamp("K", "2026-02-10T02:00:00.5+02:00").unwrap(),
            1_770_681_600_500
        );
        assert_eq!(
            parse_timestamp("K", "2026-02-10").unwrap(),
            1_770_681_600_000
        );
        let e = parse_timestamp("--from", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--from") && e.contains("RFC 3339"), "{e}");
    }
}
