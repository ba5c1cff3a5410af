//! Fetch first: the gaps of every log are fetched into committed segments
//! (concurrently, single-flight per log and range in the process), within
//! the statement's limit of events by the estimate asked at planning; then
//! the cache is planned again and one Parquet scan reads every segment,
//! the recent edge read live beside it.

use datafusion::error::{DataFusionError, Result as DfResult};

use super::run::{Prepared, Run, assemble, check_estimate};
use crate::fetch::FetchRequest;
use crate::provider::scan::plan::LogScan;
use crate::provider::scan::report::log_coverage;
use crate::time::TimeRange;

/// Fetch the gaps of `only` (each with its index among the inputs' scans)
/// into segments, within the limit of events less `spent` (read already,
/// by a newest-first attempt), then plan one Parquet scan over their
/// segments and the ranges read live.
pub(crate) async fn prepare(
    run: Run<'_>,
    only: &[(usize, LogScan)],
    spent: u64,
) -> DfResult<Prepared> {
    check_estimate(run, only, spent)?;
    let inputs = run.inputs;
    let scans = || only.iter().map(|(i, s)| (*i, s));
    let pieces: Vec<(String, TimeRange)> = scans()
        .flat_map(|(_, s)| s.gaps.iter().map(|g| (s.log.label().to_string(), *g)))
        .collect();
    let estimated = scans().any(|(_, s)| s.estimate.is_some()).then(|| {
        scans()
            .filter_map(|(_, s)| s.estimate)
            .map(|e| e.events)
            .sum()
    });
    let logs = scans().filter(|(_, s)| !s.gaps.is_empty()).count();
    let statement = inputs.fetcher.begin_statement(logs, pieces, estimated);
    let requests: Vec<_> = scans()
        .filter(|(_, s)| s.commits())
        .flat_map(|(idx, s)| {
            s.gaps
                .iter()
                .map(move |g| (idx, FetchRequest::new(s.log.clone(), s.filter.clone(), *g)))
        })
        .collect();
    let fetched = inputs
        .fetcher
        .fetch_segments(requests, inputs.concurrency, Some(&statement))
        .await
        .map_err(DataFusionError::Shared)?;
    let mut per_scan = vec![0u64; inputs.scans.len()];
    for (idx, outcome) in fetched {
        per_scan[idx] += outcome.events;
    }
    for (idx, scan) in scans() {
        log_coverage(scan, per_scan[idx]);
    }
    assemble(run, only, true).await
}
