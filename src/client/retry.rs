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

/// Rate-limit headers of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RateLimitHeaders {
    pub(crate) limit: Option<u64>,
    pub(crate) remaining: Option<u64>,
    /// Seconds until the window resets.
    pub(crate) reset: Option<u64>,
    /// `Retry-After`, seconds.
    pub(crate) retry_after: Option<u64>,
}

impl RateLimitHeaders {
    pub(crate) fn from_headers(h: &HeaderMap) -> Self {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v.ceil() as u64)
        };
        Self {
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset: num("x-ratelimit-reset"),
            retry_after: num("retry-after"),
        }
    }

    /// How long a 429 asks us to wait: `Retry-After`, else the window reset,
    /// else `None` (fall back to backoff).
    pub(crate) fn rate_limit_wait(&self) -> Option<Duration> {
        self.retry_after
            .or(self.reset)
            .map(|s| Duration::from_secs(s.max(1)))
    }

    /// Whether a successful response says the budget is spent, so the next
    /// request would be refused until the reset.
    pub(crate) fn exhausted(&self) -> Option<Duration> {
        match (self.remaining, self.reset) {
            (Some(0), Some(reset)) => Some(Duration::from_secs(reset.max(1))),
            _ => None,
        }
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

    #[test]
    fn retry_after_wins_over_reset() {
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("X-RateLimit-Limit", "1500"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "431"),
            ("Retry-After", "7"),
        ]));
        assert_eq!(h.limit, Some(1500));
        assert_eq!(h.rate_limit_wait(), Some(Duration::from_secs(7)));
        assert_eq!(h.exhausted(), Some(Duration::from_secs(431)));
    }

    #[test]
    fn reset_used_when_no_retry_after() {
        let h = RateLimitHeaders::from_headers(&headers(&[("x-ratelimit-reset", "12")]));
        assert_eq!(h.rate_limit_wait(), Some(Duration::from_secs(12)));
        let h = RateLimitHeaders::from_headers(&headers(&[("retry-after", "0")]));
        assert_eq!(
            h.rate_limit_wait(),
            Some(Duration::from_secs(1)),
            "never spin"
        );
        let h = RateLimitHeaders::from_headers(&headers(&[("retry-after", "soon")]));
        assert_eq!(h.rate_limit_wait(), None);
    }

    #[test]
    fn remaining_budget() {
        let h = RateLimitHeaders::from_headers(&headers(&[
            ("X-RateLimit-Remaining", "3"),
            ("X-RateLimit-Reset", "100"),
        ]));
        assert_eq!(h.exhausted(), None);
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
