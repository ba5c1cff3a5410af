//! The one way fetched events reach the cache: pages → batches → a
//! [`SegmentWriter`] → commit, as an [`Ingest`].
//!
//! - Fetches into segments (scans, sync) feed it each page as it comes
//!   ([`Fetch::into_segment`]): what of the range is still missing is read
//!   page by page, every page's completeness recorded, its rows pushed.
//! - Newest-first reads feed it the batches of the ranges they read
//!   completely, once the whole read succeeded ([`commit_batches`]).
//!
//! Either way a segment is committed with every event that could be read,
//! and its manifest says what could not (`events_rejected`) and whether
//! Rapid7 said the range reaches past retention (`beyond_retention`):
//! nothing is dropped silently. Any failure aborts the writer, which
//! deletes the parts it wrote.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::TimestampMillisecondType;
use futures::{StreamExt, TryStreamExt};
use tracing::{info, warn};

use super::edge::EdgeFacts;
use super::forms::Forms;
use super::progress::Tracker;
use super::request::FetchRequest;
use super::stop::Stop;
use crate::cache::{CommitOutcome, SegmentCache, SegmentWriter};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::{columns, page_to_batch};

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

/// A segment being written: its writer, and what it took so far.
pub(super) struct Ingest {
    pub(super) writer: SegmentWriter,
    pub(super) outcome: FetchOutcome,
}

impl Ingest {
    /// A writer for `request`'s segment (of its filter, if any).
    pub(super) fn open(cache: &SegmentCache, request: &FetchRequest) -> Result<Self> {
        let writer = cache.writer_filtered(&request.log.id, request.filter(), request.range)?;
        Ok(Ingest {
            writer,
            outcome: FetchOutcome::default(),
        })
    }

    /// One more page read.
    pub(super) fn page(&mut self) {
        self.outcome.pages += 1;
    }

    /// `events` of the range Rapid7 returned that the decoder rejected: the
    /// manifest says how many.
    pub(super) fn rejected(&mut self, events: u64) {
        if events > 0 {
            self.writer.record_rejected(events);
            self.outcome.events_rejected += events;
        }
    }

    /// Rapid7 said the range reaches past the log's retention.
    pub(super) fn beyond_retention(&mut self) {
        self.writer.record_beyond_retention();
        self.outcome.beyond_retention = true;
    }

    /// Take `batch`'s rows (counted; an empty batch writes nothing).
    pub(super) async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.outcome.events += batch.num_rows() as u64;
        if batch.num_rows() > 0 {
            self.writer.push(batch).await?;
        }
        Ok(())
    }

    /// Give up: the parts written are deleted (a failure to delete them is
    /// logged: `cache gc` removes them).
    pub(super) async fn abort(self) {
        if let Err(abort) = self.writer.abort().await {
            warn!(
                error = %abort,
                detail = "`rapid7-sql cache gc` removes them",
                "fetch_parts_cleanup_failed"
            );
        }
    }

    /// Commit the segment: its manifest written last.
    pub(super) async fn commit(self) -> Result<(FetchOutcome, CommitOutcome)> {
        let mut outcome = self.outcome;
        let commit = self.writer.commit().await?;
        outcome.committed = matches!(commit, CommitOutcome::Committed(_));
        Ok((outcome, commit))
    }

    /// Commit the segment of `request`, fetched since `started`, and say so
    /// (`fetch_subrange_complete`: its fields are written here alone, for
    /// single-log and merged fetches alike).
    pub(super) async fn commit_reported(
        self,
        request: &FetchRequest,
        started: Instant,
    ) -> Result<FetchOutcome> {
        let (log, range) = (&request.log, request.range);
        let parts_written = self.writer.parts_written();
        let segment_dir = self.writer.location().to_string();
        let (outcome, _) = self.commit().await?;
        info!(
            log_id = %log.id,
            log_name = log.name.as_deref(),
            from_ms = range.start(),
            to_ms = range.end(),
            subrange = range.to_string(),
            events = outcome.events,
            rows_fetched = outcome.events,
            pages = outcome.pages,
            committed = outcome.committed,
            events_rejected = outcome.events_rejected,
            beyond_retention = outcome.beyond_retention,
            parts_written,
            segment_dir,
            elapsed_ms = elapsed_ms(started),
            duration_ms = elapsed_ms(started),
            "fetch_subrange_complete"
        );
        Ok(outcome)
    }
}

/// What a fetch into segments works with (the fetcher's parts, owned by
/// the fetch).
pub(super) struct Fetch {
    pub(super) client: Option<Client>,
    pub(super) cache: SegmentCache,
    pub(super) tracker: Arc<Tracker>,
    pub(super) stop: Stop,
    pub(super) forms: Arc<Forms>,
    pub(super) edge: Arc<EdgeFacts>,
}

impl Fetch {
    /// Fetch what of `request`'s range is still missing (another query or
    /// process may have filled it since the scan was planned) and commit it.
    pub(super) async fn into_segment(self, request: FetchRequest) -> Result<FetchOutcome> {
        let Some(client) = self.client.clone() else {
            return Err(Error::Offline {
                missing: vec![format!("{} {}", request.log.label(), request.range)],
            });
        };
        let (cache, stop) = (&self.cache, &self.stop);
        if stop.is_requested() {
            return Err(Error::Stopped);
        }
        self.edge.recall(&client, cache).await;
        let plan = cache
            .plan_read_filtered(&request.log.id, request.filter(), request.range)
            .await?;
        let mut total = FetchOutcome::default();
        for missing in plan.coverage.missing {
            if stop.is_requested() {
                return Err(Error::Stopped);
            }
            let outcome = self.one(&client, &request.with_range(missing)).await?;
            total.events += outcome.events;
            total.pages += outcome.pages;
            total.committed |= outcome.committed;
            total.events_rejected += outcome.events_rejected;
            total.beyond_retention |= outcome.beyond_retention;
        }
        Ok(total)
    }

    /// Read `request` page by page into a segment and commit it.
    async fn one(&self, client: &Client, request: &FetchRequest) -> Result<FetchOutcome> {
        let Fetch {
            cache,
            tracker,
            stop,
            forms,
            ..
        } = self;
        let (log, filter, range) = (&request.log, request.filter(), request.range);
        let started = Instant::now();
        let mut progress = tracker.start(log, range, true);
        let mut ingest = Ingest::open(cache, request)?;
        // The plans' `subrange` is the piece as `[from, to)`.
        let subrange = range.to_string();
        info!(
            log_id = %log.id,
            log_name = log.name.as_deref(),
            from_ms = range.start(),
            to_ms = range.end(),
            subrange,
            segment_dir = ingest.writer.location(),
            filter,
            "fetch_subrange_start"
        );
        let mut pages = client
            .query_events_where(&log.id, range.start(), range.end(), &request.statement())?
            .into_stream()
            .boxed();
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
                ingest.page();
                EdgeFacts::record(client, cache).await;
                forms
                    .page(cache, &log.id, filter.is_some(), &page.stats)
                    .await?;
                ingest.rejected(page.stats.failed);
                if progress.page_quality(&page.stats) {
                    ingest.beyond_retention();
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
                progress.page(&batch);
                ingest.push(batch).await?;
            }
        }
        .await;
        if let Err(e) = result {
            if matches!(e, Error::Stopped) {
                info!(
                    log_id = %log.id,
                    from_ms = range.start(),
                    to_ms = range.end(),
                    pages = ingest.outcome.pages,
                    events_discarded = ingest.outcome.events,
                    parts_removed = ingest.writer.parts_written(),
                    "fetch_stopped"
                );
            } else {
                warn!(
                    log_id = %log.id,
                    from_ms = range.start(),
                    to_ms = range.end(),
                    subrange,
                    duration_ms = elapsed_ms(started),
                    error = %e,
                    "fetch_subrange_failed"
                );
            }
            ingest.abort().await;
            return Err(e);
        }
        let outcome = ingest.commit_reported(request, started).await?;
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
}

/// Batches read completely before they are committed (the ranges a
/// newest-first read covered whole).
pub(crate) struct ReadBatches<'a> {
    /// Of the full event schema; events outside the request's range are
    /// not committed.
    pub(crate) batches: &'a [RecordBatch],
    /// Events Rapid7 returned that the decoder rejected.
    pub(crate) rejected: u64,
    /// Whether a page came beyond the log's retention.
    pub(crate) beyond_retention: bool,
}

/// Commit the events of `request`'s range among `read`'s batches as a
/// segment.
pub(crate) async fn commit_batches(
    cache: &SegmentCache,
    request: &FetchRequest,
    read: ReadBatches<'_>,
) -> Result<()> {
    let range = request.range;
    let mut ingest = Ingest::open(cache, request)?;
    ingest.rejected(read.rejected);
    if read.beyond_retention {
        ingest.beyond_retention();
    }
    for batch in read.batches {
        let ts = batch
            .column_by_name(columns::TIMESTAMP)
            .map(|c| c.as_primitive::<TimestampMillisecondType>().clone());
        let Some(ts) = ts else { continue };
        let inside: BooleanArray = ts.iter().map(|t| t.map(|t| range.contains(t))).collect();
        let batch = filter_record_batch(batch, &inside)?;
        if batch.num_rows() > 0
            && let Err(e) = ingest.push(batch).await
        {
            ingest.abort().await;
            return Err(e);
        }
    }
    match ingest.commit().await?.1 {
        CommitOutcome::Committed(_) | CommitOutcome::AlreadyCommitted | CommitOutcome::Bypassed => {
            Ok(())
        }
    }
}

/// Milliseconds since `started`.
pub(super) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
