//! Merged reads newest first: the pages of several logs of one filter and
//! range by one merged newest-first query ([`crate::client::MergedNewest`]),
//! each page split by log into batches of the full event schema, for the
//! newest-first scan to check, stop and commit (`provider/scan/read/`).
//! Whether this endpoint's merged newest-first answers may be read at all
//! is [`Fetcher::merged_newest`], a verdict of its own: a violation proves
//! nothing of oldest-first merged answers, nor of single-log newest-first
//! ones.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use futures::StreamExt;
use futures::stream::BoxStream;

use super::fetcher::{Fetcher, until_stopped};
use super::request::FetchRequest;
use crate::client::{MergedNewest, PageStats};
use crate::error::Result;
use crate::events::page_to_batch;

/// One merged page, split by log.
pub(crate) struct MergedBatches {
    /// Per log asked for (in the order asked), its events of the page as
    /// a batch of the full event schema (`None`: it had none) and its
    /// counts.
    pub(crate) logs: Vec<(Option<RecordBatch>, PageStats)>,
    /// The counts of the page, all logs together (its span: the oldest and
    /// newest event of any log).
    pub(crate) stats: PageStats,
}

impl Fetcher {
    /// Whether logs may be read merged newest first: merged reads allowed,
    /// and this endpoint's merged newest-first answers not known to break
    /// the rules.
    pub(crate) async fn merged_newest_allowed(&self) -> bool {
        self.merged_allowed().await && self.merged_newest.may_try(&self.cache).await
    }

    /// The pages of `requests` (several logs, one filter and range) newest
    /// first, by one merged query; see the module docs.
    pub(crate) fn merged_newest_pages(
        self: &Arc<Self>,
        requests: &[FetchRequest],
    ) -> Result<BoxStream<'static, Result<MergedBatches>>> {
        let (query, progress) =
            self.open_merged(requests, crate::client::Client::query_merged_newest)?;
        let state = (Arc::clone(self), requests.to_vec(), query, progress);
        let pages = futures::stream::try_unfold(state, |state| async move {
            let (fetcher, requests, mut query, mut progress): (
                Arc<Fetcher>,
                Vec<FetchRequest>,
                MergedNewest,
                Vec<_>,
            ) = state;
            let Some(page) = query.next_page().await? else {
                return Ok(None);
            };
            let mut logs = Vec::with_capacity(page.logs.len());
            for (i, log_page) in page.logs.into_iter().enumerate() {
                let request = &requests[i];
                fetcher
                    .forms
                    .page(
                        &fetcher.cache,
                        &request.log.id,
                        request.filter.is_some(),
                        &log_page.stats,
                    )
                    .await?;
                progress[i].page_quality(&log_page.stats);
                let stats = log_page.stats;
                if log_page.columns.is_empty() {
                    logs.push((None, stats));
                    continue;
                }
                let batch = page_to_batch(log_page, request.log.name.as_deref())?;
                progress[i].page(&batch);
                logs.push((Some(batch), stats));
            }
            let batches = MergedBatches {
                logs,
                stats: page.stats,
            };
            Ok(Some((batches, (fetcher, requests, query, progress))))
        })
        .boxed();
        Ok(until_stopped(pages, self.stop.clone()))
    }
}
