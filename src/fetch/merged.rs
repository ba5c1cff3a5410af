//! Merged reads: the fetches of several logs over the same range with the
//! same filter, read by one query of them all ([`Client::query_merged`]),
//! their events split by log into the very segments (filtered or not) that
//! single-log fetches commit. Caching and reuse are unchanged: a later read
//! of one of the logs over the range finds its segment, and a log with no
//! event in the range gets its empty segment, so it is known cached too.
//!
//! - **Groups.** Fetches of the same `(filter, range)`, at least two, at most
//!   [`MAX_LOGS_PER_QUERY`] a query (a larger set is cut into equal groups).
//!   A log whose range another reader has meanwhile cached in part is read
//!   alone, as before.
//! - **Exactness.** The client checks every page (every event of a log asked
//!   for, the stream in strictly increasing `(timestamp, sequence_number)`
//!   order). On a violation the group's parts are deleted, its logs are read
//!   one by one, and the endpoint is remembered (in this session and in the
//!   cache's `_ENDPOINTS.json`, `merged_reads`): merged reads are not tried
//!   there again. A query refused with a 4xx is read one by one too, without
//!   remembering (a log deleted since the log list was read answers 404),
//!   and so is an answer beyond retention (the header does not say of which
//!   log: stamped on every log's segment it would mark them all incomplete).

use std::sync::Arc;

use datafusion::error::DataFusionError;
use tracing::info;

use super::fetcher::Fetcher;
use super::ingest::{FetchOutcome, Ingest, elapsed_ms};
use super::progress::StatementGuard;
use super::request::FetchRequest;
use crate::client::{self, Client};
use crate::error::{Error, Result};
use crate::events::page_to_batch;

/// How a group's merged read ended short of committing.
enum Fallback {
    /// An answer broke a rule: remember it, read one by one.
    Broken(String),
    /// Rapid7 refused the merged query, or answered it with what merged
    /// reads cannot use (a beyond-retention header): read one by one.
    Refused(String),
}

impl Fetcher {
    /// Fetch a group of `(tag, request)` (one filter and range) into
    /// committed segments by merged reads, each log whose range is still
    /// wholly missing in one query; the rest (and all, after a fallback)
    /// one by one. A piece done counts to `statement`'s progress.
    pub(super) async fn fetch_group<T>(
        &self,
        group: Vec<(T, FetchRequest)>,
        statement: Option<&StatementGuard>,
    ) -> std::result::Result<Vec<(T, FetchOutcome)>, Arc<DataFusionError>> {
        let wrap = |e: Error| Arc::new(e.into_datafusion());
        let mut done = Vec::new();
        let mut members = Vec::new();
        let mut alone = Vec::new();
        for (tag, request) in group {
            let plan = self
                .cache
                .plan_read_filtered(&request.log.id, request.filter(), request.range)
                .await
                .map_err(&wrap)?;
            match plan.coverage.missing.as_slice() {
                [] => done.push((tag, FetchOutcome::default())),
                [one] if *one == request.range => members.push((tag, request)),
                _ => alone.push((tag, request)),
            }
        }
        // Claimed for the group, so that a single-log fetch of a member
        // meanwhile waits for it; a member already being fetched alone is
        // joined instead.
        let requests: Vec<FetchRequest> = members.iter().map(|(_, r)| r.clone()).collect();
        let claims = if members.len() < 2 {
            members.iter().map(|_| None).collect()
        } else {
            self.claim_for_group(&requests)
        };
        let mut claimed = Vec::new();
        for ((tag, request), claim) in members.into_iter().zip(claims) {
            match claim {
                Some(claim) => claimed.push((tag, request, claim)),
                None => alone.push((tag, request)),
            }
        }
        if claimed.len() < 2 {
            for (tag, request, claim) in claimed.drain(..) {
                claim.release();
                alone.push((tag, request));
            }
        }
        if !claimed.is_empty() {
            let requests: Vec<FetchRequest> = claimed.iter().map(|(_, r, _)| r.clone()).collect();
            match self.read_merged(&requests).await {
                Ok(Ok(outcomes)) => {
                    for ((tag, _, claim), outcome) in claimed.into_iter().zip(outcomes) {
                        claim.done(outcome);
                        done.push((tag, outcome));
                    }
                }
                Ok(Err(fallback)) => {
                    let reason = match &fallback {
                        Fallback::Broken(r) | Fallback::Refused(r) => r.clone(),
                    };
                    if let Fallback::Broken(reason) = &fallback {
                        self.merged.broken(&self.cache, reason).await;
                    }
                    info!(logs = claimed.len(), reason, "fetch_merged_fallback");
                    for (tag, request, claim) in claimed {
                        claim.release();
                        alone.push((tag, request));
                    }
                }
                Err(e) => return Err(wrap(e)),
            }
        }
        if let Some(statement) = statement {
            for (_, outcome) in &done {
                statement.piece_done(outcome.events);
            }
        }
        let singles = alone.into_iter().map(|(tag, request)| async move {
            let outcome = self.fetch_segment(&request).await?;
            if let Some(statement) = statement {
                statement.piece_done(outcome.events);
            }
            Ok::<_, Arc<DataFusionError>>((tag, outcome))
        });
        done.extend(futures::future::try_join_all(singles).await?);
        Ok(done)
    }

    /// Read `requests` (several logs, one filter and range, none of it
    /// cached) by merged queries into one segment each: their outcomes in
    /// order, or why the logs must be read one by one (nothing committed).
    async fn read_merged(
        &self,
        requests: &[FetchRequest],
    ) -> Result<std::result::Result<Vec<FetchOutcome>, Fallback>> {
        let client = self.client()?.clone();
        let _slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the fetch slots are never closed");
        if self.stop.is_requested() {
            return Err(Error::Stopped);
        }
        let mut ingests = Vec::with_capacity(requests.len());
        for request in requests {
            match Ingest::open(&self.cache, request) {
                Ok(ingest) => ingests.push(ingest),
                Err(e) => {
                    abort_all(ingests).await;
                    return Err(e);
                }
            }
        }
        let started = std::time::Instant::now();
        let result = self.read_pages(&client, requests, &mut ingests).await;
        match result {
            Ok(()) => {}
            Err(e) => {
                abort_all(ingests).await;
                return match e {
                    Error::Client(client::Error::MergedAnswer {
                        reason,
                        broken: true,
                        ..
                    }) => Ok(Err(Fallback::Broken(reason))),
                    Error::Client(client::Error::MergedAnswer { reason, .. }) => {
                        Ok(Err(Fallback::Refused(reason)))
                    }
                    Error::Client(api @ client::Error::Api { .. })
                        if api
                            .status()
                            .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
                    {
                        Ok(Err(Fallback::Refused(api.to_string())))
                    }
                    e => Err(e),
                };
            }
        }
        let mut outcomes = Vec::with_capacity(requests.len());
        for (request, ingest) in requests.iter().zip(ingests) {
            outcomes.push(ingest.commit_reported(request, started).await?);
        }
        Ok(Ok(outcomes))
    }

    /// Page the merged query of `requests` into `ingests` (one per request).
    async fn read_pages(
        &self,
        client: &Client,
        requests: &[FetchRequest],
        ingests: &mut [Ingest],
    ) -> Result<()> {
        let first = &requests[0];
        let (range, filter) = (first.range, first.filter());
        let started = std::time::Instant::now();
        let ids: Vec<&str> = requests.iter().map(|r| r.log.id.as_str()).collect();
        info!(
            logs = ids.len(),
            from_ms = range.start(),
            to_ms = range.end(),
            subrange = range.to_string(),
            filter,
            "fetch_merged_start"
        );
        let mut query =
            client.query_merged(&ids, range.start(), range.end(), &first.statement())?;
        let mut progress: Vec<_> = requests
            .iter()
            .map(|r| self.tracker.start(&r.log, range, true))
            .collect();
        let (mut pages, mut events) = (0u64, 0u64);
        // The group's writers together buffer at most one writer's share
        // (`flush_bytes`), as a single-log fetch does (docs/runbook.md,
        // "Memory"): past it, the writer holding most is flushed.
        let share = self.cache.config().flush_bytes.max(1);
        let mut held = vec![(0usize, 0usize); requests.len()];
        // The most the writers held together between pages (after the
        // flushes), reported for the bound to be checked.
        let mut peak_buffered = 0usize;
        loop {
            let page = tokio::select! {
                biased;
                () = self.stop.requested() => return Err(Error::Stopped),
                page = query.next_page() => page?,
            };
            let Some(page) = page else { break };
            pages += 1;
            for (i, log_page) in page.logs.into_iter().enumerate() {
                let (request, ingest) = (&requests[i], &mut ingests[i]);
                ingest.page();
                self.forms
                    .page(
                        &self.cache,
                        &request.log.id,
                        filter.is_some(),
                        &log_page.stats,
                    )
                    .await?;
                ingest.rejected(log_page.stats.failed);
                if progress[i].page_quality(&log_page.stats) {
                    ingest.beyond_retention();
                }
                if log_page.columns.is_empty() {
                    continue;
                }
                let batch = page_to_batch(log_page, request.log.name.as_deref())?;
                progress[i].page(&batch);
                events += batch.num_rows() as u64;
                let bytes = batch.get_array_memory_size();
                ingest.push(batch).await?;
                // A writer that flushed on its own holds nothing since.
                let parts = ingest.writer.parts_written();
                held[i] = if parts == held[i].1 {
                    (held[i].0 + bytes, parts)
                } else {
                    (0, parts)
                };
            }
            while held.iter().map(|h| h.0).sum::<usize>() > share
                && let Some(i) = (0..held.len()).max_by_key(|i| held[*i].0)
            {
                ingests[i].writer.flush().await?;
                held[i] = (0, ingests[i].writer.parts_written());
            }
            peak_buffered = peak_buffered.max(held.iter().map(|h| h.0).sum());
        }
        if filter.is_some() {
            for request in requests {
                self.forms
                    .check_still_text(&self.cache, &request.log.id)
                    .await?;
            }
        }
        info!(
            logs = ids.len(),
            from_ms = range.start(),
            to_ms = range.end(),
            pages,
            events,
            peak_buffered_bytes = peak_buffered,
            duration_ms = elapsed_ms(started),
            "fetch_merged_complete"
        );
        Ok(())
    }
}

async fn abort_all(ingests: Vec<Ingest>) {
    for ingest in ingests {
        ingest.abort().await;
    }
}
