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
use tracing::{Instrument, info, warn};

use super::forms::Forms;
use super::logs::LogRef;
use super::stop::Stop;
use crate::cache::{CommitOutcome, SegmentCache};
use crate::client::{Client, Order, PageStats};
use crate::error::{Error, Result};
use crate::events::page_to_batch;
use crate::locks::lock;
use crate::time::TimeRange;
use crate::trace;

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
/// A fetch: the log, the canonical LEQL filter (none: every event), the range.
type FetchKey = (String, Option<Arc<str>>, TimeRange);

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
    pub(crate) stop: Stop,
    /// How each log sends its messages, as reads show it (`forms.rs`).
    pub(crate) forms: Arc<Forms>,
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
            stop: Stop::default(),
            forms: Arc::default(),
        }
    }

    /// The API client (an offline error when there is none).
    pub(crate) fn client(&self) -> Result<&Client> {
        self.client.as_ref().ok_or_else(|| Error::Offline {
            missing: vec!["(a range to fetch, but there is no API client)".into()],
        })
    }

    /// Fetch `range` of `log` into a committed segment. Concurrent calls for
    /// the same log and range share one fetch; the fetch runs while at least
    /// one caller polls it and stops (committing nothing) when all are
    /// dropped.
    pub(crate) fn fetch_segment(
        &self,
        log: &LogRef,
        filter: Option<&Arc<str>>,
        range: TimeRange,
    ) -> SharedFetch {
        let key = (log.id.clone(), filter.cloned(), range);
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
        let (slots, stop, log) = (Arc::clone(&self.slots), self.stop.clone(), log.clone());
        let forms = Arc::clone(&self.forms);
        let filter = filter.cloned();
        // A child of the statement that starts the fetch; statements that
        // join it later wait on it under their own spans.
        let span = trace::fetch_span(log.label(), range, filter.as_deref(), false);
        let fut = async move {
            let _slot = slots
                .acquire_owned()
                .await
                .expect("the fetch slots are never closed");
            let fetch = Fetch {
                client,
                cache,
                tracker,
                stop,
                forms,
            };
            fetch_into_segment(fetch, log, filter, range).await
        }
        .instrument(span)
        .map(|r| r.map_err(|e| Arc::new(e.into_datafusion())))
        .boxed()
        .shared();
        if let Some(weak) = fut.downgrade() {
            inflight.insert(key, weak);
        }
        fut
    }

    /// Drive `fetches`, `concurrency` at a time, to their outcomes or the
    /// first error. After a stop the fetches in flight are driven to their
    /// end before the error returns, so that each deletes its own parts
    /// (dropped half-way, a fetch would leave them for `cache gc`).
    pub(crate) async fn run_fetches<F, T>(
        &self,
        fetches: Vec<F>,
        concurrency: usize,
    ) -> Result<Vec<T>, Arc<DataFusionError>>
    where
        F: std::future::Future<Output = Result<T, Arc<DataFusionError>>>,
    {
        let mut running = futures::stream::iter(fetches).buffer_unordered(concurrency.max(1));
        let mut outcomes = Vec::new();
        let mut first_error = None;
        while let Some(result) = running.next().await {
            match result {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) if self.stop.is_requested() => {
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }

    /// The events of `range` of `log` in `order`, page by page, as batches
    /// of the full event schema (each in the order its page listed the
    /// events) with their page's counts (for the caller to check the order,
    /// to stop once it has what it needs, and to commit what it read
    /// completely).
    pub(crate) fn pages_in_order(
        &self,
        log: &LogRef,
        filter: Option<&str>,
        range: TimeRange,
        order: Order,
    ) -> Result<BoxStream<'static, Result<(RecordBatch, PageStats)>>> {
        let query = self.client()?.query_events_ordered(
            &log.id,
            range.start(),
            range.end(),
            &statement_of(filter),
            order,
        )?;
        let name = log.name.clone();
        let mut progress = self.tracker.start(log, range, false);
        let learn = self.learner(log, filter);
        let pages = query
            .into_stream()
            .map_err(Error::from)
            .and_then(move |page| {
                progress.page_quality(&page.stats);
                let stats = page.stats;
                let batch = page_to_batch(page, name.as_deref());
                if let Ok(b) = &batch {
                    progress.page(b);
                }
                let learnt = learn(stats);
                async move {
                    learnt.await?;
                    batch.map(|b| (b, stats))
                }
            })
            .boxed();
        Ok(until_stopped(pages, self.stop.clone()))
    }

    /// What a page of `log` read with `filter` teaches ([`Forms::page`]),
    /// as a future to await before the page's rows are used.
    fn learner(
        &self,
        log: &LogRef,
        filter: Option<&str>,
    ) -> impl Fn(PageStats) -> BoxFuture<'static, Result<()>> + Send + 'static {
        let (forms, cache) = (Arc::clone(&self.forms), self.cache.clone());
        let (log_id, filtered) = (log.id.clone(), filter.is_some());
        move |stats| {
            let (forms, cache, log_id) = (Arc::clone(&forms), cache.clone(), log_id.clone());
            async move { forms.page(&cache, &log_id, filtered, &stats).await }.boxed()
        }
    }

    /// The events of `range` of `log` as batches of the full event schema,
    /// straight from the API, committing nothing.
    pub(crate) fn stream_range(
        &self,
        log: &LogRef,
        filter: Option<&str>,
        range: TimeRange,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let query = self.client()?.query_events_where(
            &log.id,
            range.start(),
            range.end(),
            &statement_of(filter),
        )?;
        let name = log.name.clone();
        let mut progress = self.tracker.start(log, range, false);
        let log_id = log.id.clone();
        let learn = self.learner(log, filter);
        let pages = query
            .into_stream()
            .map_err(Error::from)
            .and_then(move |page| {
                if progress.page_quality(&page.stats) {
                    warn!(
                        log_id = %log_id,
                        from_ms = range.start(),
                        to_ms = range.end(),
                        rapid7_message = page.beyond_retention_message.as_deref().unwrap_or_default(),
                        detail = "Rapid7 says the range reaches past the log's retention: older events are missing",
                        "fetch_beyond_retention"
                    );
                }
                let learnt = learn(page.stats);
                let batch = page_to_batch(page, name.as_deref());
                if let Ok(b) = &batch {
                    progress.page(b);
                }
                async move {
                    learnt.await?;
                    batch
                }
            })
            .boxed();
        let span = trace::fetch_span(log.label(), range, filter, true);
        Ok(trace::in_span(until_stopped(pages, self.stop.clone()), span).boxed())
    }
}

/// `inner`, ending with [`Error::Stopped`] once a stop is requested (never
/// quietly short: the query fails instead of answering with part of it).
fn until_stopped<T: Send + 'static>(
    inner: BoxStream<'static, Result<T>>,
    stop: Stop,
) -> BoxStream<'static, Result<T>> {
    futures::stream::unfold(Some(inner), move |state| {
        let stop = stop.clone();
        async move {
            let mut inner = state?;
            tokio::select! {
                biased;
                () = stop.requested() => Some((Err(Error::Stopped), None)),
                item = inner.next() => item.map(|item| (item, Some(inner))),
            }
        }
    })
    .boxed()
}

/// Fetch what of `range` is still missing (another query or process may
/// have filled it since the scan was planned) and commit it.
/// The LEQL statement of events a filter selects (empty: every event).
fn statement_of(filter: Option<&str>) -> String {
    filter.map(|f| format!("where({f})")).unwrap_or_default()
}

/// What a fetch into segments works with.
struct Fetch {
    client: Option<Client>,
    cache: SegmentCache,
    tracker: Arc<Tracker>,
    stop: Stop,
    forms: Arc<Forms>,
}

async fn fetch_into_segment(
    fetch: Fetch,
    log: LogRef,
    filter: Option<Arc<str>>,
    range: TimeRange,
) -> Result<FetchOutcome> {
    let Some(client) = fetch.client.clone() else {
        return Err(Error::Offline {
            missing: vec![format!("{} {range}", log.label())],
        });
    };
    let (cache, stop) = (&fetch.cache, &fetch.stop);
    if stop.is_requested() {
        return Err(Error::Stopped);
    }
    let filter = filter.as_deref();
    let plan = cache.plan_read_filtered(&log.id, filter, range).await?;
    let mut total = FetchOutcome::default();
    for missing in plan.coverage.missing {
        if stop.is_requested() {
            return Err(Error::Stopped);
        }
        let outcome = fetch_one(&fetch, &client, &log, filter, missing).await?;
        total.events += outcome.events;
        total.pages += outcome.pages;
        total.committed |= outcome.committed;
        total.events_rejected += outcome.events_rejected;
        total.beyond_retention |= outcome.beyond_retention;
    }
    Ok(total)
}

async fn fetch_one(
    fetch: &Fetch,
    client: &Client,
    log: &LogRef,
    filter: Option<&str>,
    range: TimeRange,
) -> Result<FetchOutcome> {
    let Fetch {
        cache,
        tracker,
        stop,
        forms,
        ..
    } = fetch;
    let started = Instant::now();
    let mut progress = tracker.start(log, range, true);
    info!(
        log_id = %log.id,
        log_name = log.name.as_deref(),
        from_ms = range.start(),
        to_ms = range.end(),
        filter,
        "fetch_subrange_start"
    );
    let mut writer = cache.writer_filtered(&log.id, filter, range)?;
    let mut pages = client
        .query_events_where(&log.id, range.start(), range.end(), &statement_of(filter))?
        .into_stream()
        .boxed();
    let mut outcome = FetchOutcome::default();
    let result: Result<()> = async {
        loop {
            // A stop drops the page being waited for (a request, a poll or
            // a rate-limit wait), never a part being written.
            let page = tokio::select! {
                biased;
                () = stop.requested() => return Err(Error::Stopped),
                page = pages.try_next() => page?,
            };
            let Some(page) = page else {
                if filter.is_some() {
                    forms.check_still_text(cache, &log.id).await?;
                }
                return Ok(());
            };
            outcome.pages += 1;
            forms
                .page(cache, &log.id, filter.is_some(), &page.stats)
                .await?;
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
                    log_id = %log.id,
                    from_ms = range.start(),
                    to_ms = range.end(),
                    rapid7_message = page.beyond_retention_message.as_deref().unwrap_or_default(),
                    detail = "Rapid7 says the range reaches past the log's retention: older events are missing",
                    "fetch_beyond_retention"
                );
            }
            let batch = page_to_batch(page, log.name.as_deref())?;
            outcome.events += batch.num_rows() as u64;
            progress.page(&batch);
            if batch.num_rows() > 0 {
                writer.push(batch).await?;
            }
        }
    }
    .await;
    if let Err(e) = result {
        let parts = writer.parts_written();
        if matches!(e, Error::Stopped) {
            info!(
                log_id = %log.id,
                from_ms = range.start(),
                to_ms = range.end(),
                pages = outcome.pages,
                events_discarded = outcome.events,
                parts_removed = parts,
                "fetch_stopped"
            );
        } else {
            warn!(
                log_id = %log.id,
                from_ms = range.start(),
                to_ms = range.end(),
                error = %e,
                "fetch_subrange_failed"
            );
        }
        if let Err(abort) = writer.abort().await {
            warn!(
                error = %abort,
                detail = "`rapid7-sql cache gc` removes them",
                "fetch_parts_cleanup_failed"
            );
        }
        return Err(e);
    }
    let parts_written = writer.parts_written();
    let segment_dir = writer.location().to_string();
    outcome.committed = matches!(writer.commit().await?, CommitOutcome::Committed(_));
    info!(
        log_id = %log.id,
        log_name = log.name.as_deref(),
        from_ms = range.start(),
        to_ms = range.end(),
        events = outcome.events,
        pages = outcome.pages,
        committed = outcome.committed,
        events_rejected = outcome.events_rejected,
        beyond_retention = outcome.beyond_retention,
        parts_written,
        segment_dir,
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "fetch_subrange_complete"
    );
    if outcome.events_rejected > 0 {
        warn!(
            log_id = %log.id,
            from_ms = range.start(),
            to_ms = range.end(),
            events_rejected = outcome.events_rejected,
            detail = "events Rapid7 returned could not be decoded; the segment's manifest records how many",
            "fetch_events_rejected"
        );
    }
    Ok(outcome)
}
