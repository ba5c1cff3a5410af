//! Fixed-window rate limits per namespace (rapid7-api.md §4).

use std::time::{Duration, Instant};

/// Requests allowed per namespace in one fixed window (the API's defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Query requests (submits and `Next` links) per window.
    pub query: u32,
    /// Poll requests (`GET /query/{continuation id}`) per window.
    pub poll: u32,
    /// `/management` requests per window.
    pub management: u32,
    /// Window length; all counters reset together when it ends.
    pub window: Duration,
}

impl RateLimits {
    /// Limits no run reaches: requests are counted, never refused.
    pub fn unlimited() -> Self {
        Self {
            query: 100_000_000,
            poll: 100_000_000,
            management: 100_000_000,
            window: Duration::from_secs(15 * 60),
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            query: 1500,
            poll: 10_000,
            management: 1500,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// The counted namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Namespace {
    Query = 0,
    Poll = 1,
    Management = 2,
}

/// What the `X-RateLimit-*` headers say about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateInfo {
    /// Whether the request may proceed.
    pub(crate) allowed: bool,
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Whole seconds until the window resets (at least 1).
    pub(crate) reset_secs: u64,
}

/// Fixed-window counters.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: RateLimits,
    window_start: Instant,
    used: [u32; 3],
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits, now: Instant) -> Self {
        Self {
            limits,
            window_start: now,
            used: [0; 3],
        }
    }

    fn roll(&mut self, now: Instant) {
        if now.saturating_duration_since(self.window_start) >= self.limits.window {
            self.window_start = now;
            self.used = [0; 3];
        }
    }

    fn limit(&self, ns: Namespace) -> u32 {
        match ns {
            Namespace::Query => self.limits.query,
            Namespace::Poll => self.limits.poll,
            Namespace::Management => self.limits.management,
        }
    }

    fn info(&self, ns: Namespace, now: Instant, allowed: bool) -> RateInfo {
        let left = self
            .limits
            .window
            .saturating_sub(now.saturating_duration_since(self.window_start));
        let limit = self.limit(ns);
        RateInfo {
            allowed,
            limit,
            remaining: limit.saturating_sub(self.used[ns as usize]),
            reset_secs: left.as_secs_f64().ceil().max(1.0) as u64,
        }
    }

    /// Counts one request of `ns` if the window has room.
    pub(crate) fn acquire(&mut self, ns: Namespace, now: Instant) -> RateInfo {
        self.roll(now);
        let allowed = self.used[ns as usize] < self.limit(ns);
        if allowed {
            self.used[ns as usize] += 1;
        }
        self.info(ns, now, allowed)
    }

    /// The headers for `ns` without counting a request.
    pub(crate) fn peek(&mut self, ns: Namespace, now: Instant) -> RateInfo {
        self.roll(now);
        self.info(ns, now, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_namespace_and_resets_with_the_window() {
        let t0 = Instant::now();
        let limits = RateLimits {
            query: 2,
            poll: 1,
            management: 5,
            window: Duration::from_secs(10),
        };
        let mut rl = RateLimiter::new(limits, t0);
        let a = rl.acquire(Namespace::Query, t0);
        assert_eq!(
            (a.allowed, a.limit, a.remaining, a.reset_secs),
            (true, 2, 1, 10)
        );
        assert!(rl.acquire(Namespace::Query, t0).allowed);
        let c = rl.acquire(Namespace::Query, t0 + Duration::from_millis(2500));
        assert_eq!((c.allowed, c.remaining, c.reset_secs), (false, 0, 8));
        assert!(rl.acquire(Namespace::Poll, t0).allowed, "separate counters");
        assert_eq!(rl.peek(Namespace::Management, t0).remaining, 5);
        let d = rl.acquire(Namespace::Query, t0 + Duration::from_secs(10));
        assert_eq!((d.allowed, d.remaining, d.reset_secs), (true, 1, 10));
    }
}
