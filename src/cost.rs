//! Leaf: what a fetch would cost, as values, and how they read
//! (`≈8.6M events`). The provider (`provider/scan/estimate.rs`) asks Rapid7
//! for the numbers; a [`FetchBudget`](crate::error::FetchBudget) error
//! carries and renders them, so they live below both.

use std::fmt;
use std::time::Duration;

/// Rapid7's documented quota of event queries: 1,500 per 15 minutes.
pub(crate) const QUOTA_PER_SECOND: f64 = 1_500.0 / 900.0;

/// The estimated cost of fetching one log's missing ranges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchEstimate {
    /// Events in the missing ranges (by Rapid7's statistics).
    pub events: u64,
    /// Event queries the fetch takes: a page per `per_page` events, and at
    /// least one per piece.
    pub queries: u64,
}

impl std::ops::Add for FetchEstimate {
    type Output = FetchEstimate;

    fn add(self, other: FetchEstimate) -> FetchEstimate {
        FetchEstimate {
            events: self.events.saturating_add(other.events),
            queries: self.queries.saturating_add(other.queries),
        }
    }
}

impl FetchEstimate {
    /// How long the queries take at `per_second` queries a second.
    pub fn duration_at(&self, per_second: f64) -> Duration {
        let rate = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            QUOTA_PER_SECOND
        };
        Duration::from_secs_f64((self.queries as f64 / rate).min(1e12))
    }
}

/// `≈8.6M events (≈17,300 queries, ≈2.9 h at this key's quota)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// Events and event queries.
    pub estimate: FetchEstimate,
    /// How long the queries take at the key's query rate.
    pub duration: Duration,
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "≈{} events (≈{} queries, ≈{} at this key's quota)",
            approx(self.estimate.events),
            approx(self.estimate.queries),
            human_duration(self.duration)
        )
    }
}

/// `8,640,000` → `8.6M`, `17,280` → `17,300`, `950` → `950`.
pub(crate) fn approx(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..100_000 => {
            let rounded = (n + 50) / 100 * 100;
            let (thousands, rest) = (rounded / 1_000, rounded % 1_000);
            format!("{thousands},{rest:03}")
        }
        100_000..1_000_000 => format!("{}k", (n + 500) / 1_000),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// `2.9 h`, `20 min`, `45 s`.
pub(crate) fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 90.0 {
        format!("{} s", s.ceil() as u64)
    } else if s < 5_400.0 {
        format!("{} min", (s / 60.0).round() as u64)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3_600.0)
    } else {
        format!("{:.1} days", s / 86_400.0)
    }
}
