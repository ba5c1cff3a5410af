//! Merged reads that commit nothing (the recent edge, a filter not cached
//! yet for its logs, bypass mode): the events of several logs of one filter
//! and range by one merged query, as batches of one log each.
//!
//! Rows leave as pages arrive, so a violation found on a later page cannot
//! take back what was returned: the logs are then read one by one, each
//! without the events the merged pages returned of it (known by their
//! `(timestamp, sequence_number)`, kept per log). Every returned event is
//! one of the log's events in the window and filter (the pages before the
//! violation passed every check), so the rows are exactly the per-log
//! reads' either way. The endpoint is remembered as with fetches.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{TimestampMillisecondType, UInt64Type};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tracing::info;

use super::fetcher::{Fetcher, until_stopped};
use super::progress::ProgressGuard;
use super::request::FetchRequest;
use crate::client::{self, MergedQuery};
use crate::error::{Error, Result};
use crate::events::{columns, page_to_batch};

/// A merged read in progress; see the module docs.
struct LiveMerged {
    fetcher: Arc<Fetcher>,
    requests: Vec<FetchRequest>,
    query: Option<MergedQuery>,
    progress: Vec<ProgressGuard>,
    queue: VecDeque<RecordBatch>,
    /// Per log, the events returned so far.
    returned: Vec<HashSet<(i64, u64)>>,
    fallback: Option<BoxStream<'static, Result<RecordBatch>>>,
}

impl Fetcher {
    /// A merged query of `requests` (several logs, one filter and range),
    /// asked by `ask` (its log ids, window and statement), and each log's
    /// progress started: what a merged read committing nothing starts with.
    pub(super) fn open_merged<Q>(
        &self,
        requests: &[FetchRequest],
        ask: impl FnOnce(&client::Client, &[&str], i64, i64, &str) -> client::Result<Q>,
    ) -> Result<(Q, Vec<ProgressGuard>)> {
        let first = requests.first().ok_or_else(|| Error::Offline {
            missing: vec!["(a merged read of no log)".into()],
        })?;
        let ids: Vec<&str> = requests.iter().map(|r| r.log.id.as_str()).collect();
        let query = ask(
            self.client()?,
            &ids,
            first.range.start(),
            first.range.end(),
            &first.statement(),
        )?;
        let progress = requests
            .iter()
            .map(|r| self.tracker.start(&r.log, r.range, false))
            .collect();
        Ok((query, progress))
    }

    /// The events of `requests` (several logs, one filter and range) as
    /// batches of the full event schema, one log each, straight from the
    /// API, committing nothing; see the module docs.
    pub(crate) fn stream_merged(
        self: &Arc<Self>,
        requests: Vec<FetchRequest>,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let (query, progress) = self.open_merged(&requests, client::Client::query_merged)?;
        let state = LiveMerged {
            fetcher: Arc::clone(self),
            returned: vec![HashSet::new(); requests.len()],
            requests,
            query: Some(query),
            progress,
            queue: VecDeque::new(),
            fallback: None,
        };
        let rows = futures::stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        })
        .boxed();
        Ok(until_stopped(rows, self.stop.clone()))
    }
}

impl LiveMerged {
    async fn next(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if let Some(batch) = self.queue.pop_front() {
                return Some(Ok(batch));
            }
            if let Some(rest) = &mut self.fallback {
                return rest.next().await;
            }
            let query = self.query.as_mut()?;
            match query.next_page().await {
                Ok(Some(page)) => {
                    if let Err(e) = self.take(page).await {
                        self.query = None;
                        return Some(Err(e));
                    }
                }
                Ok(None) => {
                    self.query = None;
                    return None;
                }
                Err(client::Error::MergedAnswer { reason, broken, .. }) => {
                    if broken {
                        let fetcher = Arc::clone(&self.fetcher);
                        fetcher.merged.broken(&fetcher.cache, &reason).await;
                    }
                    if let Err(e) = self.fall_back(&reason) {
                        return Some(Err(e));
                    }
                }
                Err(api @ client::Error::Api { .. })
                    if api
                        .status()
                        .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
                {
                    if let Err(e) = self.fall_back(&api.to_string()) {
                        return Some(Err(e));
                    }
                }
                Err(e) => {
                    self.query = None;
                    return Some(Err(e.into()));
                }
            }
        }
    }

    /// Queue a merged page's events, one batch per log that has some.
    async fn take(&mut self, page: client::MergedPage) -> Result<()> {
        for (i, log_page) in page.logs.into_iter().enumerate() {
            let request = &self.requests[i];
            self.fetcher
                .forms
                .page(
                    &self.fetcher.cache,
                    &request.log.id,
                    request.filter.is_some(),
                    &log_page.stats,
                )
                .await?;
            self.progress[i].page_quality(&log_page.stats);
            if log_page.columns.is_empty() {
                continue;
            }
            let returned = &mut self.returned[i];
            for (ts, seq) in log_page
                .columns
                .timestamps
                .iter()
                .zip(&log_page.columns.sequence_numbers)
            {
                returned.insert((*ts, *seq));
            }
            let batch = page_to_batch(log_page, request.log.name.as_deref())?;
            self.progress[i].page(&batch);
            self.queue.push_back(batch);
        }
        Ok(())
    }

    /// Read the logs one by one, without what the merged pages returned.
    fn fall_back(&mut self, reason: &str) -> Result<()> {
        self.query = None;
        info!(logs = self.requests.len(), reason, "fetch_merged_fallback");
        let mut streams = Vec::with_capacity(self.requests.len());
        for (request, returned) in self.requests.iter().zip(std::mem::take(&mut self.returned)) {
            let returned = Arc::new(returned);
            let rows = self
                .fetcher
                .stream_range(request)?
                .map_ok(move |batch| without(&batch, &returned))
                .and_then(|batch| async move { batch })
                .boxed();
            streams.push(rows);
        }
        self.fallback = Some(futures::stream::iter(streams).flatten().boxed());
        Ok(())
    }
}

/// `batch` (of the full event schema) without the events in `returned`.
fn without(batch: &RecordBatch, returned: &HashSet<(i64, u64)>) -> Result<RecordBatch> {
    if returned.is_empty() {
        return Ok(batch.clone());
    }
    let (Some(ts), Some(seq)) = (
        batch.column_by_name(columns::TIMESTAMP),
        batch.column_by_name(columns::SEQUENCE_NUMBER),
    ) else {
        return Ok(batch.clone());
    };
    let (ts, seq) = (
        ts.as_primitive::<TimestampMillisecondType>(),
        seq.as_primitive::<UInt64Type>(),
    );
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|i| Some(!returned.contains(&(ts.value(i), seq.value(i)))))
        .collect();
    Ok(filter_record_batch(batch, &keep)?)
}
