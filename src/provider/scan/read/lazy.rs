//! Lazy: a `LIMIT` reached the scan, so the gaps are read from the API as
//! the rows are pulled (not fetched first, not cached), and the limit stops
//! the paging. No estimate is held against the statement's limit of events
//! (the read may stop after a page); what the reads of the scan read counts
//! against it as they read it ([`counted`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::error::Result as DfResult;
use futures::StreamExt;
use futures::stream::BoxStream;

use super::run::{Prepared, Run, assemble};
use crate::error::{Counted, Error};
use crate::provider::scan::estimate::over_limit_while_reading;
use crate::provider::scan::plan::LogScan;
use crate::provider::scan::report::log_coverage;

/// Plan every range of `only` as a live read.
pub(crate) async fn prepare(run: Run<'_>, only: &[(usize, LogScan)]) -> DfResult<Prepared> {
    for (_, scan) in only {
        log_coverage(scan, 0);
    }
    assemble(run, only, false).await
}

/// `rows` (of `log`), failing once the reads of the scan, counted in
/// `read`, pass `limit` events (`max_fetch_events`; 0: no limit). `rate`:
/// event queries a second, for the cost in the error.
pub(crate) fn counted(
    rows: BoxStream<'static, crate::Result<RecordBatch>>,
    log: String,
    read: Arc<AtomicU64>,
    limit: u64,
    rate: f64,
) -> BoxStream<'static, crate::Result<RecordBatch>> {
    rows.map(move |batch| {
        let batch = batch?;
        let total =
            read.fetch_add(batch.num_rows() as u64, Ordering::Relaxed) + batch.num_rows() as u64;
        if limit > 0 && total > limit {
            return Err(over_limit(&log, total, limit, rate));
        }
        Ok(batch)
    })
    .boxed()
}

fn over_limit(log: &str, events: u64, limit: u64, rate: f64) -> Error {
    over_limit_while_reading(log.to_string(), Counted::ReadForLimit, events, limit, rate)
}
