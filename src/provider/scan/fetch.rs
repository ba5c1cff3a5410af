//! Fetching events from Rapid7: missing ranges into committed segments
//! (single-flight per log and range within the process), and uncommitted
//! ranges (the recent edge, bypass mode) as a stream of batches.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::TimestampMillisecondType;
use datafusion::error::DataFusionError;
use futures::future::{BoxFuture, Shared, WeakShared};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use tracing::{info, warn};

use super::logs::LogRef;
use crate::cache::{CommitOutcome, SegmentCache, TimeRange};
use crate::client::{Client, PageStats};
use crate::error::{Error, Result};
use crate::events::page_to_batch;
use crate::locks::lock;

/// What one fetched range produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    /// Events written.
    pub events: u64,
    /// Pages read.
    pub pages: u64,
    /// Whether the segment was committed by this fetch (`false` when another
    /// writer committed the same range first, or the range was already
    /// cached when the fetch started).
    pub committed: bool,
    /// Events Rapid7 returned that the decoder rejected; recorded in the
    /// segment's manifest (`events_rejected`).
    pub events_rejected: u64,
    /// Whether Rapid7 said the range reaches past the log's retention;
    /// recorded in the segment's manifest (`beyond_retention`).
    pub beyond_retention: bool,
}
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
    segments_reused: AtomicU64,
    ranges_fetched: AtomicU64,
    ranges_live: AtomicU64,
    events_fetched: AtomicU64,
    events_rejected: AtomicU64,
    beyond_retention: AtomicU64,
}

impl Tracker {
    pub(crate) fn active(&self) -> Vec<FetchProgress> {
        lock(&self.active).values().cloned().collect()
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

    fn start(self: &Arc<Self>, log: &LogRef, range: TimeRange, caching: bool) -> ProgressGuard {
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

/// Removes its fetch from the active list when dropped (done, failed or
/// cancelled).
struct ProgressGuard {
    tracker: Arc<Tracker>,
    id: u64,
    /// Whether a page of this range came beyond retention.
    beyond_retention: bool,
}

impl ProgressGuard {
    /// What a page said about its own completeness: events the decoder
    /// rejected, and whether it came beyond retention. Returns whether this
    /// is the range's first page beyond retention (counted once per range).
    fn page_quality(&mut self, stats: &PageStats) -> bool {
        let t = &self.tracker;
        t.events_rejected.fetch_add(stats.failed, Ordering::Relaxed);
        let first = stats.beyond_retention && !self.beyond_retention;
        if first {
            self.beyond_retention = true;
            t.beyond_retention.fetch_add(1, Ordering::Relaxed);
        }
        first
    }

    fn page(&self, batch: &RecordBatch) {
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

type FetchResult = Result<FetchOutcome, Arc<DataFusionError>>;
pub(crate) type SharedFetch = Shared<BoxFuture<'static, FetchResult>>;
type FetchKey = (String, TimeRange);

/// Runs fetches; one in-flight fetch per `(log, range)` in the process, and
/// at most `fetch_concurrency` fetches into segments at once for the whole
/// source (every statement and sync shares the slots), so fetch memory has
/// one bound (docs/runbook.md, "Memory").
pub(crate) struct Fetcher {
    client: Option<Client>,
    cache: SegmentCache,
    slots: Arc<tokio::sync::Semaphore>,
    inflight: Mutex<HashMap<FetchKey, WeakShared<BoxFuture<'static, FetchResult>>>>,
    pub(crate) tracker: Arc<Tracker>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("online", &self.client.is_some())
            .field("cache", &self.cache.root().map(|r| r.location()))
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub(crate) fn new(client: Option<Client>, cache: SegmentCache, concurrency: usize) -> Self {
        Fetcher {
            client,
            cache,
            slots: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            inflight: Mutex::new(HashMap::new()),
            tracker: Arc::default(),
        }
    }

    fn client(&self) -> Result<&Client> {
        self.client.as_ref().ok_or_else(|| Error::Offline {
            missing: vec!["(a range to fetch, but there is no API client)".into()],
        })
    }

    /// Fetch `range` of `log` into a committed segment. Concurrent calls for
    /// the same log and range share one fetch; the fetch runs while at least
    /// one caller polls it and stops (committing nothing) when all are
    /// dropped.
    pub(crate) fn fetch_segment(&self, log: &LogRef, range: TimeRange) -> SharedFetch {
        let key = (log.id.clone(), range);
        let mut inflight = lock(&self.inflight);
        if let Some(running) = inflight.get(&key).and_then(WeakShared::upgrade) {
            return running;
        }
        inflight.retain(|_, weak| weak.upgrade().is_some());
        let (client, cache, tracker) = (
            self.client.clone(),
            self.cache.clone(),
            Arc::clone(&self.tracker),
        );
        let (slots, log) = (Arc::clone(&self.slots), log.clone());
        let fut = async move {
            let _slot = slots
                .acquire_owned()
                .await
                .expect("the fetch slots are never closed");
            fetch_into_segment(client, cache, tracker, log, range).await
        }
        .map(|r| r.map_err(|e| Arc::new(e.into_datafusion())))
        .boxed()
        .shared();
        if let Some(weak) = fut.downgrade() {
            inflight.insert(key, weak);
        }
        fut
    }

    /// The events of `range` of `log` as batches of the full event schema,
    /// straight from the API, committing nothing.
    pub(crate) fn stream_range(
        &self,
        log: &LogRef,
        range: TimeRange,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let query = self
            .client()?
            .query_events(&log.id, range.start(), range.end())?;
        let name = log.name.clone();
        let mut progress = self.tracker.start(log, range, false);
        let label = log.describe(range);
        Ok(query
            .into_stream()
            .map_err(Error::from)
            .and_then(move |page| {
                if progress.page_quality(&page.stats) {
                    warn!(
                        event = "fetch_beyond_retention",
                        range = %label,
                        message = page.beyond_retention_message.as_deref().unwrap_or_default(),
                        "Rapid7 says the range reaches past the log's retention: older events are missing",
                    );
                }
                let batch = page_to_batch(page, name.as_deref());
                if let Ok(b) = &batch {
                    progress.page(b);
                }
                async move { batch }
            })
            .boxed())
    }
}

/// Fetch what of `range` is still missing (another query or process may
/// have filled it since the scan was planned) and commit it.
async fn fetch_into_segment(
    client: Option<Client>,
    cache: SegmentCache,
    tracker: Arc<Tracker>,
    log: LogRef,
    range: TimeRange,
) -> Result<FetchOutcome> {
    let client = client.ok_or_else(|| Error::Offline {
        missing: vec![format!("{} {range}", log.label())],
    })?;
    let plan = cache.plan_read(&log.id, range).await?;
    let mut total = FetchOutcome::default();
    for missing in plan.coverage.missing {
        let outcome = fetch_one(&client, &cache, &tracker, &log, missing).await?;
        total.events += outcome.events;
        total.pages += outcome.pages;
        total.committed |= outcome.committed;
        total.events_rejected += outcome.events_rejected;
        total.beyond_retention |= outcome.beyond_retention;
    }
    Ok(total)
}

async fn fetch_one(
    client: &Client,
    cache: &SegmentCache,
    tracker: &Arc<Tracker>,
    log: &LogRef,
    range: TimeRange,
) -> Result<FetchOutcome> {
    let started = Instant::now();
    let mut progress = tracker.start(log, range, true);
    info!(
        event = "fetch_subrange_start",
        log_id = %log.id,
        log_name = log.name.as_deref(),
        from_ms = range.start(),
        to_ms = range.end(),
    );
    let mut writer = cache.writer(&log.id, range)?;
    let mut pages = client
        .query_events(&log.id, range.start(), range.end())?
        .into_stream()
        .boxed();
    let mut outcome = FetchOutcome::default();
    let result: Result<()> = async {
        while let Some(page) = pages.try_next().await? {
            outcome.pages += 1;
            // The segment is committed with every event that could be read,
            // and its manifest says what could not (nothing is dropped
            // silently).
            if page.stats.failed > 0 {
                writer.record_rejected(page.stats.failed);
                outcome.events_rejected += page.stats.failed;
            }
            if progress.page_quality(&page.stats) {
                writer.record_beyond_retention();
                outcome.beyond_retention = true;
                warn!(
                    event = "fetch_beyond_retention",
                    log_id = %log.id,
                    from_ms = range.start(),
                    to_ms = range.end(),
                    message = page.beyond_retention_message.as_deref().unwrap_or_default(),
                    "Rapid7 says the range reaches past the log's retention: older events are missing",
                );
            }
            let batch = page_to_batch(page, log.name.as_deref())?;
            outcome.events += batch.num_rows() as u64;
            progress.page(&batch);
            if batch.num_rows() > 0 {
                writer.push(batch).await?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        warn!(
            event = "fetch_subrange_failed",
            log_id = %log.id,
            from_ms = range.start(),
            to_ms = range.end(),
            error = %e,
        );
        if let Err(abort) = writer.abort().await {
            warn!(error = %abort, "cannot remove the parts of a failed fetch; `cache gc` will");
        }
        return Err(e);
    }
    outcome.committed = matches!(writer.commit().await?, CommitOutcome::Committed(_));
    info!(
        event = "fetch_subrange_complete",
        log_id = %log.id,
        log_name = log.name.as_deref(),
        from_ms = range.start(),
        to_ms = range.end(),
        events = outcome.events,
        pages = outcome.pages,
        committed = outcome.committed,
        events_rejected = outcome.events_rejected,
        beyond_retention = outcome.beyond_retention,
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );
    if outcome.events_rejected > 0 {
        warn!(
            event = "fetch_events_rejected",
            log_id = %log.id,
            from_ms = range.start(),
            to_ms = range.end(),
            events_rejected = outcome.events_rejected,
            "events Rapid7 returned could not be decoded; the segment's manifest records how many",
        );
    }
    Ok(outcome)
}
