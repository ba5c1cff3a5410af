//! Progress of fetches: what runs now ([`FetchProgress`], per statement
//! [`StatementProgress`]) and what a source's scans did ([`Activity`]), kept
//! by the [`Tracker`] every fetch of one source reports to.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::TimestampMillisecondType;

use crate::client::PageStats;
use crate::locks::lock;
use crate::log_id::LogRef;
use crate::time::TimeRange;

/// A fetch in progress, for progress displays ([`crate::Rapid7::progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchProgress {
    /// The log's name, or its id.
    pub log: String,
    /// The range being fetched.
    pub range: TimeRange,
    /// Whether the range is committed to the cache when done (`false` for
    /// the recent edge and in bypass mode).
    pub caching: bool,
    /// Pages read so far.
    pub pages: u64,
    /// Events read so far.
    pub events: u64,
    /// Newest event timestamp read so far. Pages come in time order, so
    /// `(newest - range.start) / range.len` is the fraction done.
    pub newest_ms: Option<i64>,
    /// When the fetch started.
    pub started: Instant,
}

impl FetchProgress {
    /// Fraction of the range read, from the newest timestamp seen (0..=1).
    pub fn fraction_done(&self) -> f64 {
        match self.newest_ms {
            Some(t) => ((t - self.range.start()) as f64 / self.range.len_ms().max(1) as f64)
                .clamp(0.0, 1.0),
            None => 0.0,
        }
    }
}

/// The fetch of one statement: its pieces and events against the estimate,
/// for progress displays ([`crate::Rapid7::statement_progress`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementProgress {
    /// Logs with something to fetch.
    pub logs: usize,
    /// Pieces (missing ranges, cut at the fetch chunk) to fetch.
    pub pieces_total: u64,
    /// Pieces fetched.
    pub pieces_done: u64,
    /// Events fetched so far (finished pieces and those under way).
    pub events_fetched: u64,
    /// Events Rapid7's statistics counted in the pieces, when asked.
    pub events_estimated: Option<u64>,
    /// When the fetch started.
    pub started: Instant,
}

impl StatementProgress {
    /// Fraction done (0..=1): events against the estimate, else pieces.
    pub fn fraction_done(&self) -> f64 {
        let f = match self.events_estimated {
            Some(total) if total > 0 => self.events_fetched as f64 / total as f64,
            _ if self.pieces_total > 0 => self.pieces_done as f64 / self.pieces_total as f64,
            _ => 0.0,
        };
        f.clamp(0.0, 1.0)
    }

    /// Time left at the pace so far (`None` before there is a pace).
    pub fn eta(&self) -> Option<std::time::Duration> {
        let done = self.fraction_done();
        (done > 0.001 && done < 1.0).then(|| {
            self.started
                .elapsed()
                .mul_f64(((1.0 - done) / done).min(1e6))
        })
    }
}

/// Counters of what the scans of one [`crate::Rapid7`] source did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Cached segments planned into scans.
    pub segments_reused: u64,
    /// Ranges fetched from the API into new segments.
    pub ranges_fetched: u64,
    /// Ranges read from the API without caching (recent edge, bypass).
    pub ranges_live: u64,
    /// Events read from the API.
    pub events_fetched: u64,
    /// Events the API returned that the decoder rejected (cached ranges
    /// record them in their manifests: `rapid7_cache()`'s
    /// `events_rejected`).
    pub events_rejected: u64,
    /// Ranges Rapid7 answered with `x-beyond-retention: true` (cached ones
    /// are marked `beyond_retention` in `rapid7_cache()`).
    pub beyond_retention: u64,
}

impl Activity {
    /// `self - earlier`, per counter.
    pub fn since(&self, earlier: &Activity) -> Activity {
        Activity {
            segments_reused: self.segments_reused.saturating_sub(earlier.segments_reused),
            ranges_fetched: self.ranges_fetched.saturating_sub(earlier.ranges_fetched),
            ranges_live: self.ranges_live.saturating_sub(earlier.ranges_live),
            events_fetched: self.events_fetched.saturating_sub(earlier.events_fetched),
            events_rejected: self.events_rejected.saturating_sub(earlier.events_rejected),
            beyond_retention: self
                .beyond_retention
                .saturating_sub(earlier.beyond_retention),
        }
    }
}

/// Live fetches and activity counters, shared by a source's fetches.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    next: AtomicU64,
    active: Mutex<BTreeMap<u64, FetchProgress>>,
    statements: Mutex<BTreeMap<u64, StatementState>>,
    segments_reused: AtomicU64,
    ranges_fetched: AtomicU64,
    ranges_live: AtomicU64,
    events_fetched: AtomicU64,
    events_rejected: AtomicU64,
    beyond_retention: AtomicU64,
}

/// A statement's fetch while it runs.
#[derive(Debug)]
struct StatementState {
    logs: usize,
    pieces: std::collections::HashSet<(String, TimeRange)>,
    done: u64,
    done_events: u64,
    estimated: Option<u64>,
    started: Instant,
}

impl Tracker {
    pub(crate) fn active(&self) -> Vec<FetchProgress> {
        lock(&self.active).values().cloned().collect()
    }

    /// The statements fetching now: finished pieces, and the events of the
    /// pieces under way.
    pub(crate) fn statements(&self) -> Vec<StatementProgress> {
        let active = self.active();
        lock(&self.statements)
            .values()
            .map(|s| {
                let running: u64 = active
                    .iter()
                    .filter(|p| p.caching && s.pieces.contains(&(p.log.clone(), p.range)))
                    .map(|p| p.events)
                    .sum();
                StatementProgress {
                    logs: s.logs,
                    pieces_total: s.pieces.len() as u64,
                    pieces_done: s.done,
                    events_fetched: s.done_events + running,
                    events_estimated: s.estimated,
                    started: s.started,
                }
            })
            .collect()
    }

    /// Track a statement's fetch of `pieces` (log label, range) until the
    /// guard is dropped.
    pub(crate) fn begin_statement(
        self: &Arc<Self>,
        logs: usize,
        pieces: impl IntoIterator<Item = (String, TimeRange)>,
        estimated: Option<u64>,
    ) -> StatementGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.statements).insert(
            id,
            StatementState {
                logs,
                pieces: pieces.into_iter().collect(),
                done: 0,
                done_events: 0,
                estimated,
                started: Instant::now(),
            },
        );
        StatementGuard {
            tracker: Arc::clone(self),
            id,
        }
    }

    pub(crate) fn activity(&self) -> Activity {
        Activity {
            segments_reused: self.segments_reused.load(Ordering::Relaxed),
            ranges_fetched: self.ranges_fetched.load(Ordering::Relaxed),
            ranges_live: self.ranges_live.load(Ordering::Relaxed),
            events_fetched: self.events_fetched.load(Ordering::Relaxed),
            events_rejected: self.events_rejected.load(Ordering::Relaxed),
            beyond_retention: self.beyond_retention.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add_segments_reused(&self, n: u64) {
        self.segments_reused.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn start(
        self: &Arc<Self>,
        log: &LogRef,
        range: TimeRange,
        caching: bool,
    ) -> ProgressGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let counter = if caching {
            &self.ranges_fetched
        } else {
            &self.ranges_live
        };
        counter.fetch_add(1, Ordering::Relaxed);
        lock(&self.active).insert(
            id,
            FetchProgress {
                log: log.label().to_string(),
                range,
                caching,
                pages: 0,
                events: 0,
                newest_ms: None,
                started: Instant::now(),
            },
        );
        ProgressGuard {
            tracker: Arc::clone(self),
            id,
            beyond_retention: false,
        }
    }
}

/// Removes its statement from the progress list when dropped.
#[derive(Debug)]
pub(crate) struct StatementGuard {
    tracker: Arc<Tracker>,
    id: u64,
}

impl StatementGuard {
    /// One piece is fetched, with `events`.
    pub(crate) fn piece_done(&self, events: u64) {
        if let Some(s) = lock(&self.tracker.statements).get_mut(&self.id) {
            s.done += 1;
            s.done_events += events;
        }
    }
}

impl Drop for StatementGuard {
    fn drop(&mut self) {
        lock(&self.tracker.statements).remove(&self.id);
    }
}

/// Removes its fetch from the active list when dropped (done, failed or
/// cancelled).
pub(super) struct ProgressGuard {
    tracker: Arc<Tracker>,
    id: u64,
    /// Whether a page of this range came beyond retention.
    beyond_retention: bool,
}

impl ProgressGuard {
    /// What a page said about its own completeness: events the decoder
    /// rejected, and whether it came beyond retention. Returns whether this
    /// is the range's first page beyond retention (counted once per range).
    pub(super) fn page_quality(&mut self, stats: &PageStats) -> bool {
        let t = &self.tracker;
        t.events_rejected.fetch_add(stats.failed, Ordering::Relaxed);
        let first = stats.beyond_retention && !self.beyond_retention;
        if first {
            self.beyond_retention = true;
            t.beyond_retention.fetch_add(1, Ordering::Relaxed);
        }
        first
    }

    pub(super) fn page(&self, batch: &RecordBatch) {
        let rows = batch.num_rows() as u64;
        self.tracker
            .events_fetched
            .fetch_add(rows, Ordering::Relaxed);
        let newest = batch
            .column(0)
            .as_primitive_opt::<TimestampMillisecondType>()
            .and_then(datafusion::arrow::compute::max);
        if let Some(p) = lock(&self.tracker.active).get_mut(&self.id) {
            p.pages += 1;
            p.events += rows;
            p.newest_ms = p.newest_ms.max(newest);
        }
    }
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        lock(&self.tracker.active).remove(&self.id);
    }
}
