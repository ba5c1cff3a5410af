//! Fetching events from Rapid7: missing ranges into committed segments
//! (single-flight per log and range within the process), and uncommitted
//! ranges (the recent edge, bypass mode) as a stream of batches.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use futures::future::{BoxFuture, Shared, WeakShared};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use tracing::{info, warn};

use super::logs::LogRef;
use crate::cache::{CommitOutcome, SegmentCache, TimeRange};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::page_to_batch;

const TARGET: &str = "datafusion_rapid7::fetch";

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
}
type FetchResult = Result<FetchOutcome, Arc<DataFusionError>>;
pub(crate) type SharedFetch = Shared<BoxFuture<'static, FetchResult>>;
type FetchKey = (String, TimeRange);

/// Runs fetches; one in-flight fetch per `(log, range)` in the process.
pub(crate) struct Fetcher {
    client: Option<Client>,
    cache: SegmentCache,
    inflight: Mutex<HashMap<FetchKey, WeakShared<BoxFuture<'static, FetchResult>>>>,
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
    pub(crate) fn new(client: Option<Client>, cache: SegmentCache) -> Self {
        Fetcher {
            client,
            cache,
            inflight: Mutex::new(HashMap::new()),
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
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = inflight.get(&key).and_then(WeakShared::upgrade) {
            return running;
        }
        inflight.retain(|_, weak| weak.upgrade().is_some());
        let fut = fetch_into_segment(self.client.clone(), self.cache.clone(), log.clone(), range)
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
        Ok(query
            .into_stream()
            .and_then(move |page| {
                let batch = page_to_batch(page, name.as_deref());
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
    log: LogRef,
    range: TimeRange,
) -> Result<FetchOutcome> {
    let client = client.ok_or_else(|| Error::Offline {
        missing: vec![format!("{} {range}", log.label())],
    })?;
    let plan = cache.plan_read(&log.id, range).await?;
    let mut total = FetchOutcome::default();
    for missing in plan.coverage.missing {
        let outcome = fetch_one(&client, &cache, &log, missing).await?;
        total.events += outcome.events;
        total.pages += outcome.pages;
        total.committed |= outcome.committed;
    }
    Ok(total)
}

async fn fetch_one(
    client: &Client,
    cache: &SegmentCache,
    log: &LogRef,
    range: TimeRange,
) -> Result<FetchOutcome> {
    let started = Instant::now();
    info!(
        target: TARGET,
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
            let batch = page_to_batch(page, log.name.as_deref())?;
            outcome.events += batch.num_rows() as u64;
            if batch.num_rows() > 0 {
                writer.push(batch).await?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        warn!(
            target: TARGET,
            event = "fetch_subrange_failed",
            log_id = %log.id,
            from_ms = range.start(),
            to_ms = range.end(),
            error = %e,
        );
        if let Err(abort) = writer.abort().await {
            warn!(target: TARGET, error = %abort, "cannot remove the parts of a failed fetch; `cache gc` will");
        }
        return Err(e);
    }
    outcome.committed = matches!(writer.commit().await?, CommitOutcome::Committed(_));
    info!(
        target: TARGET,
        event = "fetch_subrange_complete",
        log_id = %log.id,
        log_name = log.name.as_deref(),
        from_ms = range.start(),
        to_ms = range.end(),
        events = outcome.events,
        pages = outcome.pages,
        committed = outcome.committed,
        elapsed_ms = started.elapsed().as_millis() as u64,
    );
    Ok(outcome)
}
