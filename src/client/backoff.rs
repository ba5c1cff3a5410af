//! Jittered exponential backoff that can be tested without sleeping.
//!
//! Decorrelated jitter: each delay is drawn uniformly from
//! `[init, previous * base]`, capped at `max`, so concurrent clients spread out
//! instead of retrying in lock step. The random source is injectable.

use std::fmt;
use std::time::Duration;

/// Shape of a backoff sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// First delay.
    pub init: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Growth factor per attempt.
    pub base: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            init: Duration::from_millis(100),
            max: Duration::from_secs(15),
            base: 2.0,
        }
    }
}

/// A source of uniform random numbers in `[0, 1)`.
pub trait Jitter: Send {
    /// The next number in `[0, 1)`.
    fn next_f64(&mut self) -> f64;
}

/// The default jitter source.
#[derive(Debug, Default)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn next_f64(&mut self) -> f64 {
        fastrand::f64()
    }
}

impl<F: FnMut() -> f64 + Send> Jitter for F {
    fn next_f64(&mut self) -> f64 {
        self()
    }
}

/// A running backoff sequence.
pub struct Backoff {
    config: BackoffConfig,
    next_max_secs: f64,
    jitter: Box<dyn Jitter>,
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("config", &self.config)
            .field("next_max_secs", &self.next_max_secs)
            .finish_non_exhaustive()
    }
}

impl Backoff {
    /// A sequence with random jitter.
    pub fn new(config: BackoffConfig) -> Self {
        Self::new_with_jitter(config, Box::new(RandomJitter))
    }

    /// A sequence with the given jitter source (tests pass a fixed one).
    pub fn new_with_jitter(config: BackoffConfig, jitter: Box<dyn Jitter>) -> Self {
        Self {
            next_max_secs: config.init.as_secs_f64(),
            config,
            jitter,
        }
    }

    /// The next delay. Never panics: a growth factor that is not a number
    /// keeps the delay at its largest, and a delay that does not fit a
    /// `Duration` is `max`.
    pub fn next_delay(&mut self) -> Duration {
        let init = self.config.init.as_secs_f64();
        let max = self.config.max.as_secs_f64().max(init);
        let hi = self.next_max_secs.clamp(init, max);
        let r = self.jitter.next_f64();
        let r = if r.is_nan() { 0.0 } else { r.clamp(0.0, 1.0) };
        let delay = init + (hi - init) * r;
        // `f64::min` ignores NaN: a NaN base gives `max`.
        self.next_max_secs = (hi * self.config.base).min(max);
        Duration::try_from_secs_f64(delay).unwrap_or(self.config.max.max(self.config.init))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(r: f64) -> Box<dyn Jitter> {
        Box::new(move || r)
    }

    #[test]
    fn upper_bound_grows_then_caps() {
        let cfg = BackoffConfig {
            init: Duration::from_millis(100),
            max: Duration::from_secs(1),
            base: 2.0,
        };
        let mut b = Backoff::new_with_jitter(cfg, fixed(1.0));
        let got: Vec<u128> = (0..6).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn zero_jitter_stays_at_init() {
        let mut b = Backoff::new_with_jitter(BackoffConfig::default(), fixed(0.0));
        for _ in 0..10 {
            assert_eq!(b.next_delay(), Duration::from_millis(100));
        }
    }

    #[test]
    fn delays_stay_within_bounds() {
        let cfg = BackoffConfig::default();
        let mut b = Backoff::new(cfg);
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(d >= cfg.init && d <= cfg.max, "{d:?}");
        }
    }

    #[test]
    fn absurd_settings_never_panic() {
        for (init, max, base) in [
            (Duration::ZERO, Duration::ZERO, 2.0),
            (Duration::MAX, Duration::MAX, 2.0),
            (Duration::from_secs(1), Duration::MAX, f64::INFINITY),
            (Duration::from_secs(1), Duration::from_secs(10), f64::NAN),
            (Duration::from_secs(1), Duration::from_secs(10), -3.0),
            (Duration::from_secs(10), Duration::from_secs(1), 2.0),
        ] {
            for r in [0.0, 0.5, 1.0, f64::NAN] {
                let mut b = Backoff::new_with_jitter(BackoffConfig { init, max, base }, fixed(r));
                for _ in 0..5 {
                    let d = b.next_delay();
                    assert!(d >= init.min(max), "{init:?} {max:?} {base} {r}: {d:?}");
                }
            }
        }
    }

    #[test]
    fn half_jitter_is_midpoint() {
        let cfg = BackoffConfig {
            init: Duration::from_millis(100),
            max: Duration::from_secs(10),
            base: 3.0,
        };
        let mut b = Backoff::new_with_jitter(cfg, fixed(0.5));
        assert_eq!(b.next_delay().as_millis(), 100);
        // upper bound 300 ms now: midpoint of [100, 300]
        assert_eq!(b.next_delay().as_millis(), 200);
    }
}
