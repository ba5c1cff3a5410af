//! Retry policy as plain data, and how a response is classified.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::backoff::BackoffConfig;
use super::rate_limit::Namespace;

/// When and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Delays between retries of 5xx, 408, timeouts, connection errors and
    /// unreadable bodies.
    pub backoff: BackoffConfig,
    /// Retries of one request (rate-limit waits not counted).
    pub max_retries: u32,
    /// Give up when a request has been failing for this long (rate-limit
    /// waits not counted).
    pub retry_timeout: Duration,
    /// Give up when the server's `Retry-After` waits for one request add up to
    /// more than this. Rapid7 windows are 15 minutes long.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            max_rate_limit_wait: Duration::from_secs(16 * 60),
        }
    }
}

/// Largest `X-RateLimit-Reset` read as a number of seconds as it stands:
/// Rapid7's rate-limit windows are 15 minutes long.
pub(crate) const MAX_RESET_SECS: u64 = 15 * 60;

/// How far from now a larger `X-RateLimit-Reset` may lie and still be read as
/// the reset instant (epoch seconds or milliseconds), as the legacy
/// Logentries documentation describes it. Wide, for clock skew.
const EPOCH_TOLERANCE_SECS: u64 = 24 * 3600;

/// Rate-limit headers of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RateLimitHeaders {
    pub(crate) limit: Option<u64>,
    pub(crate) remaining: Option<u64>,
    /// `X-RateLimit-Reset` as sent: seconds until the window resets, or (a
    /// legacy server) the reset instant in epoch seconds or milliseconds.
    pub(crate) reset: Option<u64>,
    /// `Retry-After`, seconds.
    pub(crate) retry_after: Option<u64>,
    /// `Retry-After` as an HTTP date (RFC 9110 §10.2.3), epoch milliseconds.
    pub(crate) retry_after_at_ms: Option<i64>,
}

impl RateLimitHeaders {
    pub(crate) fn from_headers(h: &HeaderMap) -> Self {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                // `as` saturates: a value beyond u64 reads as u64::MAX.
                .map(|v| v.ceil() as u64)
        };
        Self {
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset: num("x-ratelimit-reset"),
            retry_after: num("retry-after"),
            retry_after_at_ms: h
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|s| chrono::DateTime::parse_from_rfc2822(s.trim()).ok())
                .map(|t| t.timestamp_millis()),
        }
    }

    /// How long a 429 asks us to wait at `now_ms` (wall clock, epoch ms):
    /// `Retry-After`, else the window reset ([`reset_delay`]), else `None`
    /// (fall back to backoff). At least a second, so the client never spins.
    pub(crate) fn rate_limit_wait(&self, now_ms: i64) -> Option<Duration> {
        self.retry_after
            .map(Duration::from_secs)
            .or_else(|| {
                // A date in the past means now.
                self.retry_after_at_ms.map(|at| {
                    Duration::from_millis(u64::try_from(at.saturating_sub(now_ms)).unwrap_or(0))
                })
            })
            .or_else(|| self.reset.map(|r| reset_delay(r, now_ms)))
            .map(|d| d.max(Duration::from_secs(1)))
    }

    /// Whether a successful response says the budget is spent, so the next
    /// request would be refused until the reset, and how long that is.
    pub(crate) fn exhausted(&self, now_ms: i64) -> Option<Duration> {
        match (self.remaining, self.reset) {
            (Some(0), Some(reset)) => Some(reset_delay(reset, now_ms).max(Duration::from_secs(1))),
            _ => None,
        }
    }
}

/// What an `X-RateLimit-Reset` of `value` asks to wait at `now_ms`.
///
/// Up to [`MAX_RESET_SECS`] it is a number of seconds. A larger value that
/// lies within a day of now as epoch seconds, or as epoch milliseconds, is the
/// reset instant (a past one means the window has already reset: no wait).
/// Anything else is taken as a number of seconds: callers compare it with
/// their rate-limit wait budget and give up with the 429 message rather than
/// wait that long.
pub(crate) fn reset_delay(value: u64, now_ms: i64) -> Duration {
    let now_ms_u = u64::try_from(now_ms).unwrap_or(0);
    match reset_kind(value, now_ms) {
        ResetKind::EpochSeconds => Duration::from_secs(value.saturating_sub(now_ms_u / 1000)),
        ResetKind::EpochMillis => Duration::from_millis(value.saturating_sub(now_ms_u)),
        ResetKind::Seconds | ResetKind::Unknown => Duration::from_secs(value),
    }
}

/// How an `X-RateLimit-Reset` value reads: what the client takes it for
/// when it waits for a rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetKind {
    /// Seconds until the window resets (at most 15 minutes): Rapid7's way.
    Seconds,
    /// The reset instant in epoch seconds (within a day of now).
    EpochSeconds,
    /// The reset instant in epoch milliseconds (within a day of now).
    EpochMillis,
    /// None of those: taken as seconds, and compared with the wait budget.
    Unknown,
}

/// How an `X-RateLimit-Reset` of `value` reads at `now_ms` (see
/// [`ResetKind`]).
pub(crate) fn reset_kind(value: u64, now_ms: i64) -> ResetKind {
    if value <= MAX_RESET_SECS {
        return ResetKind::Seconds;
    }
    let now_ms = u64::try_from(now_ms).unwrap_or(0);
    if value.abs_diff(now_ms / 1000) <= EPOCH_TOLERANCE_SECS {
        ResetKind::EpochSeconds
    } else if value.abs_diff(now_ms) <= EPOCH_TOLERANCE_SECS * 1000 {
        ResetKind::EpochMillis
    } else {
        ResetKind::Unknown
    }
}

/// What the user can do about a non-retried status.
pub(crate) fn hint_for(status: u16, ns: Namespace) -> Option<&'static str> {
    match (status, ns) {
        (401, _) => {
            Some("check RAPID7_API_KEY, and RAPID7_REGION: a key works only in its own region")
        }
        (403, _) => Some("the key may not read this log; a Read-Only key is enough for queries"),
        (404, Namespace::Query) => Some(
            "the log id does not exist in this region; list the logs with \
             SELECT * FROM information_schema.tables WHERE table_schema = 'rapid7'",
        ),
        (400, Namespace::Query) => Some(
            "Rapid7 rejected the query parameters; check the time window (start before end, \
             within retention)",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    /// 2026-12-01T00:00:00Z, epoch ms.
    const NOW: i64 = 1_796_083_200_000;

    #[test]
    fn retry_after_wins_over_reset() {
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("X-RateLimit-Limit", "1500"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "431"),
            ("Retry-After", "7"),
        ]));
        assert_eq!(h.limit, Some(1500));
        assert_eq!(h.rate_limit_wait(NOW), Some(Duration::from_secs(7)));
        assert_eq!(h.exhausted(NOW), Some(Duration::from_secs(431)));
    }

    #[test]
    fn retry_after_may_be_an_http_date() {
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("Retry-After", "Tue, 01 Dec 2026 00:00:30 GMT"),
            ("X-RateLimit-Reset", "431"),
        ]));
        assert_eq!(h.rate_limit_wait(NOW), Some(Duration::from_secs(30)));
        // A date already past: wait the minimum, not the reset.
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("Retry-After", "Mon, 30 Nov 2026 23:00:00 GMT"),
            ("X-RateLimit-Reset", "431"),
        ]));
        assert_eq!(h.rate_limit_wait(NOW), Some(Duration::from_secs(1)));
    }

    #[test]
    fn reset_used_when_no_retry_after() {
        let h = RateLimitHeaders::from_headers(&headers(&[("x-ratelimit-reset", "12")]));
        assert_eq!(h.rate_limit_wait(NOW), Some(Duration::from_secs(12)));
        let h = RateLimitHeaders::from_headers(&headers(&[("retry-after", "0")]));
        assert_eq!(
            h.rate_limit_wait(NOW),
            Some(Duration::from_secs(1)),
            "never spin"
        );
        let h = RateLimitHeaders::from_headers(&headers(&[("retry-after", "soon")]));
        assert_eq!(h.rate_limit_wait(NOW), None);
    }

    #[test]
    fn remaining_budget() {
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("X-RateLimit-Remaining", "3"),
            ("X-RateLimit-Reset", "100"),
        ]));
        assert_eq!(h.exhausted(NOW), None);
    }

    #[test]
    fn epoch_style_resets_are_read_as_instants() {
        let s = |n: u64| Duration::from_secs(n);
        let now_s = (NOW / 1000) as u64;
        let now_ms = NOW as u64;
        let cases: [(u64, Duration); 10] = [
            (0, s(0)),
            (431, s(431)),
            (900, s(900)),
            // Seconds beyond 15 minutes that are no epoch: kept, and then
            // beyond the caller's budget.
            (901, s(901)),
            (5_000_000, s(5_000_000)),
            // Epoch seconds: 90 s from now; already past.
            (now_s + 90, s(90)),
            (now_s - 30, s(0)),
            // Epoch milliseconds: 2.5 s from now; already past.
            (now_ms + 2_500, Duration::from_millis(2_500)),
            (now_ms - 1, Duration::ZERO),
            // Far from any epoch reading.
            (u64::MAX, s(u64::MAX)),
        ];
        for (value, want) in cases {
            assert_eq!(reset_delay(value, NOW), want, "Reset: {value}");
        }
        let epoch = (now_s + 60).to_string();
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &epoch),
        ]));
        assert_eq!(h.exhausted(NOW), Some(s(60)));
        assert_eq!(h.rate_limit_wait(NOW), Some(s(60)));
        // A past epoch still waits a second, never spins.
        assert_eq!(
            RateLimitHeaders {
                reset: Some(now_s - 5),
                ..Default::default()
            }
            .rate_limit_wait(NOW),
            Some(s(1))
        );
    }

    #[test]
    fn huge_values_saturate_instead_of_panicking() {
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1e30"),
            ("retry-after", "18446744073709551616"),
        ]));
        assert_eq!(h.reset, Some(u64::MAX));
        assert_eq!(h.rate_limit_wait(NOW), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(h.exhausted(NOW), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(h.exhausted(i64::MIN), Some(Duration::from_secs(u64::MAX)));
    }

    #[test]
    fn hints() {
        assert!(
            hint_for(401, Namespace::Management)
                .unwrap()
                .contains("RAPID7_API_KEY")
        );
        assert!(hint_for(404, Namespace::Query).is_some());
        assert!(hint_for(404, Namespace::Poll).is_none());
    }
}
