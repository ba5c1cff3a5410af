//! Proactive rate limiting shared by every request of one [`Client`](super::Client).
//!
//! Rapid7 counts requests per key and namespace in 15-minute windows (1,500
//! queries, 10,000 polls, 1,500 management calls by default). A token bucket per
//! namespace keeps a long fetch under those budgets instead of running into 429
//! storms, a semaphore bounds requests in flight, and a server-imposed pause
//! (after a 429, or a response saying nothing remains) holds every task of that
//! namespace until the server's reset time.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The API's rate-limit namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// Query submissions and `Next` pages.
    Query,
    /// Polls of a running query.
    Poll,
    /// `/management` calls.
    Management,
}

impl Namespace {
    /// `query`, `poll` or `management`: how logs and errors name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Query => "query",
            Namespace::Poll => "poll",
            Namespace::Management => "management",
        }
    }

    fn index(self) -> usize {
        match self {
            Namespace::Query => 0,
            Namespace::Poll => 1,
            Namespace::Management => 2,
        }
    }
}

/// Budget of one namespace: a steady rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Requests per second in the long run.
    pub per_second: f64,
    /// Requests that may go at once after a quiet period.
    pub burst: u32,
}

impl Budget {
    /// A budget that never waits (for tests and local simulators).
    pub const UNLIMITED: Budget = Budget {
        per_second: f64::INFINITY,
        burst: u32::MAX,
    };
}

/// Rate-limit settings of a client.
///
/// The defaults keep `burst + per_second * 900 s` under Rapid7's default
/// 15-minute quotas (1,500 queries, 10,000 polls, 1,500 management calls).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// Query submissions and `Next` pages.
    pub query: Budget,
    /// Polls.
    pub poll: Budget,
    /// Management calls.
    pub management: Budget,
    /// Requests in flight at once, across namespaces.
    pub max_concurrent_requests: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            query: Budget {
                per_second: 1.5,
                burst: 100,
            },
            poll: Budget {
                per_second: 10.0,
                burst: 500,
            },
            management: Budget {
                per_second: 1.5,
                burst: 100,
            },
            max_concurrent_requests: 8,
        }
    }
}

impl RateLimitConfig {
    /// No proactive limit (the server's 429s are still honoured).
    pub fn unlimited() -> Self {
        Self {
            query: Budget::UNLIMITED,
            poll: Budget::UNLIMITED,
            management: Budget::UNLIMITED,
            max_concurrent_requests: 64,
        }
    }
}

/// A token bucket. Tokens may go negative: a request reserves its token and
/// is told how long to wait, so waiters are served in arrival order.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    budget: Budget,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(budget: Budget, now: Instant) -> Self {
        Self {
            budget,
            tokens: f64::from(budget.burst),
            last: now,
        }
    }

    /// Reserve one token at `now`; returns how long the caller must wait.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        if !self.budget.per_second.is_finite() {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + elapsed * self.budget.per_second).min(f64::from(self.budget.burst));
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.budget.per_second)
        }
    }
}

/// Counters of waits, for progress reports.
#[derive(Debug, Default)]
pub(crate) struct WaitStats {
    pub(crate) waits: AtomicU64,
    pub(crate) waited_ms: AtomicU64,
}

/// The limiter shared by all requests of a client.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    buckets: Mutex<[TokenBucket; 3]>,
    paused_until: Mutex<[Option<Instant>; 3]>,
    in_flight: Semaphore,
    pub(crate) stats: WaitStats,
}

impl RateLimiter {
    pub(crate) fn new(config: &RateLimitConfig) -> Self {
        let now = Instant::now();
        Self {
            buckets: Mutex::new([
                TokenBucket::new(config.query, now),
                TokenBucket::new(config.poll, now),
                TokenBucket::new(config.management, now),
            ]),
            paused_until: Mutex::new([None; 3]),
            in_flight: Semaphore::new(config.max_concurrent_requests.max(1)),
            stats: WaitStats::default(),
        }
    }

    /// Wait until a request of `ns` may go, and hold an in-flight slot.
    pub(crate) async fn acquire(&self, ns: Namespace) -> SemaphorePermit<'_> {
        let started = Instant::now();
        // A server pause first: it can be set while we wait, so loop.
        loop {
            let until = self.paused_until.lock().expect("limiter lock")[ns.index()];
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        let wait = {
            let mut buckets = self.buckets.lock().expect("limiter lock");
            buckets[ns.index()].reserve(Instant::now())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let permit = self
            .in_flight
            .acquire()
            .await
            .expect("the limiter semaphore is never closed");
        let waited = started.elapsed();
        if waited >= Duration::from_millis(1) {
            self.stats.waits.fetch_add(1, Ordering::Relaxed);
            self.stats
                .waited_ms
                .fetch_add(waited.as_millis() as u64, Ordering::Relaxed);
        }
        permit
    }

    /// Hold every request of `ns` until `until` (the server asked for it).
    pub(crate) fn pause(&self, ns: Namespace, until: Instant) {
        let mut paused = self.paused_until.lock().expect("limiter lock");
        let slot = &mut paused[ns.index()];
        if slot.is_none_or(|t| t < until) {
            *slot = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_spaces_requests() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            Budget {
                per_second: 2.0,
                burst: 3,
            },
            t0,
        );
        for _ in 0..3 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
        assert_eq!(b.reserve(t0), Duration::from_millis(500));
        assert_eq!(b.reserve(t0), Duration::from_millis(1000));
        // After 10 s the bucket is full again, never above burst.
        let t1 = t0 + Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(b.reserve(t1), Duration::ZERO);
        }
        assert!(b.reserve(t1) > Duration::ZERO);
    }

    #[test]
    fn unlimited_never_waits() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Budget::UNLIMITED, t0);
        for _ in 0..10_000 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
    }

    #[test]
    fn default_budgets_fit_rapid7_quotas() {
        let c = RateLimitConfig::default();
        for (b, quota) in [
            (c.query, 1500.0),
            (c.poll, 10_000.0),
            (c.management, 1500.0),
        ] {
            let worst = f64::from(b.burst) + b.per_second * 900.0;
            assert!(worst <= quota, "{b:?} allows {worst} per 15 min");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn limiter_spaces_requests_in_virtual_time() {
        let limiter = RateLimiter::new(&RateLimitConfig {
            query: Budget {
                per_second: 4.0,
                burst: 1,
            },
            ..RateLimitConfig::unlimited()
        });
        let t0 = Instant::now();
        for _ in 0..5 {
            drop(limiter.acquire(Namespace::Query).await);
        }
        // one free, then four at 250 ms spacing
        assert_eq!(t0.elapsed(), Duration::from_secs(1));
        assert_eq!(limiter.stats.waits.load(Ordering::Relaxed), 4);
        // polls are not affected by the query budget
        let t1 = Instant::now();
        drop(limiter.acquire(Namespace::Poll).await);
        assert_eq!(t1.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn server_pause_holds_namespace() {
        let limiter = RateLimiter::new(&RateLimitConfig::unlimited());
        let t0 = Instant::now();
        limiter.pause(Namespace::Query, t0 + Duration::from_secs(7));
        // a shorter pause does not shorten the longer one
        limiter.pause(Namespace::Query, t0 + Duration::from_secs(2));
        drop(limiter.acquire(Namespace::Management).await);
        assert_eq!(t0.elapsed(), Duration::ZERO);
        drop(limiter.acquire(Namespace::Query).await);
        assert_eq!(t0.elapsed(), Duration::from_secs(7));
    }
}
