//! [`Fetcher`]: runs the fetches of one source. Into committed segments,
//! single-flight per log, filter and range within the process (two readers
//! of the same uncached window cause one fetch), at most `fetch_concurrency`
//! at once; and uncommitted reads (the recent edge, bypass mode, newest
//! first) as streams of batches.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use futures::future::{BoxFuture, Either, Shared, WeakShared};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use tracing::{Instrument, warn};

use super::edge::EdgeFacts;
use super::forms::Forms;
use super::ingest::{Fetch, FetchOutcome};
use super::merged_groups::{MergedVerdict, group};
use super::progress::{StatementGuard, Tracker};
use super::request::{FetchKey, FetchRequest};
use super::stop::Stop;
use crate::cache::SegmentCache;
use crate::client::{Client, EventPage, EventQuery, Order, PageStats, QueryMeter};
use crate::error::{Error, Result};
use crate::events::page_to_batch;
use crate::locks::lock;
use crate::log_id::LogRef;
use crate::time::TimeRange;
use crate::trace;

type FetchResult = Result<FetchOutcome, Arc<DataFusionError>>;
type SharedFetch = Shared<BoxFuture<'static, FetchResult>>;

/// A merged group's claim on one member's fetch ([`Fetcher::claim_for_group`]).
pub(super) struct GroupClaim {
    tx: futures::channel::oneshot::Sender<FetchOutcome>,
    /// Keeps the stand-in findable while the group reads.
    held: SharedFetch,
}

impl GroupClaim {
    /// The group committed the member's segment: `outcome` is what the
    /// fetches waiting on it get.
    pub(super) fn done(self, outcome: FetchOutcome) {
        let _ = self.tx.send(outcome);
        drop(self.held);
    }

    /// The group will not read the member: the stand-in fetches it alone
    /// (shared by the group, which joins it, and whoever waits).
    pub(super) fn release(self) {
        drop(self.tx);
        drop(self.held);
    }
}

/// Runs fetches; one in-flight fetch per `(log, filter, range)` in the
/// process, and at most `fetch_concurrency` fetches into segments at once
/// for the whole source (every statement and sync shares the slots), so
/// fetch memory has one bound (docs/runbook.md, "Memory").
pub(crate) struct Fetcher {
    client: Option<Client>,
    pub(super) cache: SegmentCache,
    pub(super) slots: Arc<tokio::sync::Semaphore>,
    inflight: Mutex<HashMap<FetchKey, WeakShared<BoxFuture<'static, FetchResult>>>>,
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) stop: Stop,
    /// How each log sends its messages, as reads show it (`forms.rs`).
    pub(crate) forms: Arc<Forms>,
    /// Whether the endpoint's `to` is inclusive, recalled and recorded
    /// (`edge.rs`).
    edge: Arc<EdgeFacts>,
    /// Whether this endpoint's merged answers may be read (`merged.rs`).
    pub(crate) merged: MergedVerdict,
    /// Whether its merged answers asked newest first may be read
    /// (`merged_newest.rs`).
    pub(crate) merged_newest: MergedVerdict,
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
        let endpoint = client.as_ref().map(|c| c.endpoint().to_string());
        Fetcher {
            merged_newest: MergedVerdict::newest_first(endpoint.clone()),
            merged: MergedVerdict::new(endpoint),
            client,
            cache,
            slots: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            inflight: Mutex::new(HashMap::new()),
            tracker: Arc::default(),
            stop: Stop::default(),
            forms: Arc::default(),
            edge: Arc::default(),
        }
    }

    /// Whether logs may be read merged: online, and this endpoint not
    /// known to break a merged answer's rules (`merged.rs`).
    pub(crate) async fn merged_allowed(&self) -> bool {
        self.client.is_some() && self.merged.may_try(&self.cache).await
    }

    /// A merged answer outside a read (a count's check at `to`) broke a
    /// rule (`reason`): remembered as a merged read's violation is.
    pub(crate) async fn merged_broken(&self, reason: &str) {
        self.merged.broken(&self.cache, reason).await;
    }

    /// The API client (an offline error when there is none).
    pub(crate) fn client(&self) -> Result<&Client> {
        self.client.as_ref().ok_or_else(|| Error::Offline {
            missing: vec!["(a range to fetch, but there is no API client)".into()],
        })
    }

    /// Track a statement's fetch of `pieces` (log label, range) until the
    /// guard is dropped ([`Fetcher::fetch_segments`] counts its pieces done).
    pub(crate) fn begin_statement(
        &self,
        logs: usize,
        pieces: impl IntoIterator<Item = (String, TimeRange)>,
        estimated: Option<u64>,
    ) -> StatementGuard {
        self.tracker.begin_statement(logs, pieces, estimated)
    }

    /// Fetch each of `requests` into committed segments, `concurrency` at a
    /// time (within the source's slots), to their outcomes (each with its
    /// tag) or the first error. Logs of the same filter and range are read
    /// together by merged queries where the endpoint allows (`merged.rs`).
    /// A piece done counts to `statement`'s progress, when given.
    pub(crate) async fn fetch_segments<T>(
        &self,
        requests: Vec<(T, FetchRequest)>,
        concurrency: usize,
        statement: Option<&StatementGuard>,
    ) -> Result<Vec<(T, FetchOutcome)>, Arc<DataFusionError>> {
        let merged = requests.len() > 1 && self.merged_allowed().await;
        let (groups, singles) = group(requests, merged);
        let singles = singles.into_iter().map(|(tag, request)| {
            Either::Left(
                self.fetch_segment(&request)
                    .inspect(move |r| {
                        if let (Ok(outcome), Some(statement)) = (r, statement) {
                            statement.piece_done(outcome.events);
                        }
                    })
                    .map(move |r| r.map(|outcome| vec![(tag, outcome)])),
            )
        });
        let groups = groups
            .into_iter()
            .map(|g| Either::Right(self.fetch_group(g, statement)));
        let fetches: Vec<_> = singles.chain(groups).collect();
        let outcomes = self.run_fetches(fetches, concurrency).await?;
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Fetch `request` into a committed segment. Concurrent calls for the
    /// same log, filter and range share one fetch; the fetch runs while at
    /// least one caller polls it and stops (committing nothing) when all are
    /// dropped. Its queries count to the [`QueryMeter`] in force where it
    /// started. A merged group fetching the same (log, filter, range) counts
    /// as that fetch ([`Fetcher::claim_for_group`]).
    pub(super) fn fetch_segment(&self, request: &FetchRequest) -> SharedFetch {
        let key = request.key();
        let mut inflight = lock(&self.inflight);
        if let Some(running) = inflight.get(&key).and_then(WeakShared::upgrade) {
            return running;
        }
        inflight.retain(|_, weak| weak.upgrade().is_some());
        let fut = self.single_fetch(request).boxed().shared();
        if let Some(weak) = fut.downgrade() {
            inflight.insert(key, weak);
        }
        fut
    }

    /// Claim `requests` (a merged group's members) for the group: each one
    /// no other fetch is running for gets a stand-in among the fetches in
    /// flight, so that a single-log fetch of it meanwhile waits for the
    /// group's outcome of it instead of querying it again. `None` for a
    /// request already being fetched (the group reads it by joining that
    /// fetch). The stand-in resolves to what [`GroupClaim::done`] gives it;
    /// given nothing (the group fell back, failed or was dropped), it fetches
    /// the log alone, shared by whoever waits.
    pub(super) fn claim_for_group(&self, requests: &[FetchRequest]) -> Vec<Option<GroupClaim>> {
        let mut inflight = lock(&self.inflight);
        inflight.retain(|_, weak| weak.upgrade().is_some());
        requests
            .iter()
            .map(|request| {
                let key = request.key();
                if inflight.get(&key).and_then(WeakShared::upgrade).is_some() {
                    return None;
                }
                let (tx, rx) = futures::channel::oneshot::channel::<FetchOutcome>();
                let alone = self.single_fetch(request);
                let fut = async move {
                    match rx.await {
                        Ok(outcome) => Ok(outcome),
                        Err(_) => alone.await,
                    }
                }
                .boxed()
                .shared();
                if let Some(weak) = fut.downgrade() {
                    inflight.insert(key, weak);
                }
                Some(GroupClaim { tx, held: fut })
            })
            .collect()
    }

    /// A fetch of `request` alone into a committed segment (within the
    /// source's slots), not yet shared.
    fn single_fetch(&self, request: &FetchRequest) -> BoxFuture<'static, FetchResult> {
        let (client, cache, tracker) = (
            self.client.clone(),
            self.cache.clone(),
            Arc::clone(&self.tracker),
        );
        let (slots, stop, request) = (Arc::clone(&self.slots), self.stop.clone(), request.clone());
        let forms = Arc::clone(&self.forms);
        let edge = Arc::clone(&self.edge);
        // A child of the statement that starts the fetch; statements that
        // join it later wait on it under their own spans. Its queries count
        // to the meter of the statement that starts it (none: to nobody's),
        // whoever polls it: one that joins it later counts none of them.
        let span = trace::fetch_span(request.log.label(), request.range, request.filter(), false);
        let meter = QueryMeter::current().unwrap_or_default();
        async move {
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
                edge,
            };
            meter.scope(fetch.into_segment(request)).await
        }
        .instrument(span)
        .map(|r| r.map_err(|e| Arc::new(e.into_datafusion())))
        .boxed()
    }

    /// Drive `fetches`, `concurrency` at a time, to their outcomes or the
    /// first error. After a stop the fetches in flight are driven to their
    /// end before the error returns, so that each deletes its own parts
    /// (dropped half-way, a fetch would leave them for `cache gc`).
    async fn run_fetches<F, T>(
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
        request: &FetchRequest,
        order: Order,
    ) -> Result<BoxStream<'static, Result<(RecordBatch, PageStats)>>> {
        let (log, filter, range) = (&request.log, request.filter(), request.range);
        let query = self.client()?.query_events_ordered(
            &log.id,
            range.start(),
            range.end(),
            &request.statement(),
            order,
        )?;
        let name = log.name.clone();
        let mut progress = self.tracker.start(log, range, false);
        let learn = self.learner(log, filter);
        let pages = self
            .recalled_first(query)?
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

    /// The pages of `query`, sent once the cache's endpoint facts were
    /// recalled (whether `to` is inclusive: `edge.rs`).
    fn recalled_first(
        &self,
        query: EventQuery,
    ) -> Result<BoxStream<'static, crate::client::Result<EventPage>>> {
        let (client, cache, edge) = (
            self.client()?.clone(),
            self.cache.clone(),
            Arc::clone(&self.edge),
        );
        Ok(futures::stream::once(async move {
            edge.recall(&client, &cache).await;
            query.into_stream()
        })
        .flatten()
        .boxed())
    }

    /// What a page of `log` read with `filter` teaches ([`Forms::page`],
    /// and an inclusive `to` the client observed: `edge.rs`), as a future
    /// to await before the page's rows are used.
    fn learner(
        &self,
        log: &LogRef,
        filter: Option<&str>,
    ) -> impl Fn(PageStats) -> BoxFuture<'static, Result<()>> + Send + 'static {
        let (forms, cache) = (Arc::clone(&self.forms), self.cache.clone());
        let client = self.client.clone();
        let (log_id, filtered) = (log.id.clone(), filter.is_some());
        move |stats| {
            let (forms, cache, log_id) = (Arc::clone(&forms), cache.clone(), log_id.clone());
            let client = client.clone();
            async move {
                if let Some(client) = &client {
                    EdgeFacts::record(client, &cache).await;
                }
                forms.page(&cache, &log_id, filtered, &stats).await
            }
            .boxed()
        }
    }

    /// The events of `range` of `log` as batches of the full event schema,
    /// straight from the API, committing nothing.
    pub(crate) fn stream_range(
        &self,
        request: &FetchRequest,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let (log, filter, range) = (&request.log, request.filter(), request.range);
        let query = self.client()?.query_events_where(
            &log.id,
            range.start(),
            range.end(),
            &request.statement(),
        )?;
        let name = log.name.clone();
        let mut progress = self.tracker.start(log, range, false);
        let log_id = log.id.clone();
        let learn = self.learner(log, filter);
        let pages = self
            .recalled_first(query)?
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
pub(super) fn until_stopped<T: Send + 'static>(
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
