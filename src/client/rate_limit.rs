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
    /// A rate that is not a positive number (zero, negative, NaN: refused by
    /// [`ClientConfig`](super::ClientConfig) validation) or so small that the
    /// wait does not fit a `Duration` asks for [`Duration::MAX`], which no
    /// deadline admits.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let rate = self.budget.per_second;
        if rate == f64::INFINITY {
            return Duration::ZERO;
        }
        if rate.is_nan() || rate <= 0.0 {
            return Duration::MAX;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(self.budget.burst));
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(-self.tokens / rate).unwrap_or(Duration::MAX)
        }
    }

    /// Give back a token reserved by a caller that will not send (its wait
    /// would pass its deadline).
    pub(crate) fn refund(&mut self) {
        if self.budget.per_second.is_finite() {
            self.tokens += 1.0;
        }
    }
}

/// `t + d`, or about thirty years from `t` when that does not fit an
/// `Instant` (a huge `Retry-After` or rate-limit budget).
pub(crate) fn saturating_add(t: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 86_400);
    t.checked_add(d.min(FAR)).unwrap_or(t)
}

/// `d` in whole milliseconds, saturating (for logs and counters).
pub(crate) fn millis_u64(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A slot to send one request, and how long the rate limit held it back.
#[derive(Debug)]
pub(crate) struct Acquired<'a> {
    pub(crate) _permit: SemaphorePermit<'a>,
    /// Time spent waiting for a server pause or the token bucket (not for
    /// an in-flight slot).
    pub(crate) rate_limit_wait: Duration,
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
    ///
    /// Fails at once, without waiting, when a server pause or the token
    /// bucket would hold the request past `deadline`; the error is how long
    /// it would have had to wait.
    pub(crate) async fn acquire(
        &self,
        ns: Namespace,
        deadline: Instant,
    ) -> Result<Acquired<'_>, Duration> {
        let started = Instant::now();
        // A server pause first: it can be set while we wait, so loop.
        loop {
            let until = self.paused_until.lock().expect("limiter lock")[ns.index()];
            let now = Instant::now();
            match until {
                Some(t) if t > deadline => return Err(t.saturating_duration_since(now)),
                Some(t) if t > now => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        let now = Instant::now();
        let wait = {
            let mut buckets = self.buckets.lock().expect("limiter lock");
            let bucket = &mut buckets[ns.index()];
            let wait = bucket.reserve(now);
            if !wait.is_zero() && saturating_add(now, wait) > deadline {
                bucket.refund();
                return Err(wait);
            }
            wait
        };
        if !wait.is_zero() {
            tokio::time::sleep_until(saturating_add(now, wait)).await;
        }
        let rate_limit_wait = started.elapsed();
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
                .fetch_add(millis_u64(waited), Ordering::Relaxed);
        }
        Ok(Acquired {
            _permit: permit,
            rate_limit_wait,
        })
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

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(86_400)
    }

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
            drop(limiter.acquire(Namespace::Query, far()).await.unwrap());
        }
        // one free, then four at 250 ms spacing
        assert_eq!(t0.elapsed(), Duration::from_secs(1));
        assert_eq!(limiter.stats.waits.load(Ordering::Relaxed), 4);
        // polls are not affected by the query budget
        let t1 = Instant::now();
        drop(limiter.acquire(Namespace::Poll, far()).await.unwrap());
        assert_eq!(t1.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn server_pause_holds_namespace() {
        let limiter = RateLimiter::new(&RateLimitConfig::unlimited());
        let t0 = Instant::now();
        limiter.pause(Namespace::Query, t0 + Duration::from_secs(7));
        // a shorter pause does not shorten the longer one
        limiter.pause(Namespace::Query, t0 + Duration::from_secs(2));
        drop(limiter.acquire(Namespace::Management, far()).await.unwrap());
        assert_eq!(t0.elapsed(), Duration::ZERO);
        drop(limiter.acquire(Namespace::Query, far()).await.unwrap());
        assert_eq!(t0.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_honours_the_deadline() {
        let limiter = RateLimiter::new(&RateLimitConfig {
            query: Budget {
                per_second: 1.0,
                burst: 1,
            },
            ..RateLimitConfig::unlimited()
        });
        let t0 = Instant::now();
        // A pause past the deadline fails at once, saying how long it is.
        limiter.pause(Namespace::Poll, t0 + Duration::from_secs(3600));
        let e = limiter
            .acquire(Namespace::Poll, t0 + Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(e, Duration::from_secs(3600));
        assert_eq!(t0.elapsed(), Duration::ZERO, "no wait before failing");
        // A pause inside the deadline is waited for.
        limiter.pause(Namespace::Management, t0 + Duration::from_secs(5));
        let got = limiter
            .acquire(Namespace::Management, t0 + Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(got.rate_limit_wait, Duration::from_secs(5));
        drop(got);
        // The bucket: the first token is free, the second would wait 1 s.
        let t1 = Instant::now();
        drop(limiter.acquire(Namespace::Query, t1).await.unwrap());
        let e = limiter
            .acquire(Namespace::Query, t1 + Duration::from_millis(500))
            .await
            .unwrap_err();
        assert_eq!(e, Duration::from_secs(1));
        // The refused reservation was given back: the next caller waits 1 s,
        // not 2.
        let got = limiter.acquire(Namespace::Query, far()).await.unwrap();
        assert_eq!(got.rate_limit_wait, Duration::from_secs(1));
    }

    #[test]
    fn zero_or_absurd_rates_never_panic() {
        let t0 = Instant::now();
        for per_second in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY, 1e-300] {
            let mut b = TokenBucket::new(
                Budget {
                    per_second,
                    burst: 0,
                },
                t0,
            );
            assert_eq!(b.reserve(t0), Duration::MAX, "{per_second}");
            b.refund();
        }
        assert!(saturating_add(t0, Duration::MAX) > t0 + Duration::from_secs(86_400 * 365));
        assert_eq!(millis_u64(Duration::MAX), u64::MAX);
        assert_eq!(millis_u64(Duration::from_millis(7)), 7);
    }
}
