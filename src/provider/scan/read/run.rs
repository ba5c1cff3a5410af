//! What every read strategy runs with ([`ScanInputs`], [`Run`]) and
//! prepares ([`Prepared`]): the limit of events held against an estimate,
//! and the plan of what the partitions stream once the gaps are fetched.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::Result as DfResult;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use tracing::warn;

use super::strategy::Strategy;
use crate::cache::{PlannedSegment, SegmentCache};
use crate::client::MAX_LOGS_PER_QUERY;
use crate::error::Error;
use crate::fetch::Fetcher;
use crate::provider::scan::estimate::{FetchEstimate, check_budget};
use crate::provider::scan::log_sets::LogSetsOf;
use crate::provider::scan::parquet::{LogPart, ParquetTarget, parquet_exec};
use crate::provider::scan::plan::LogScan;
use crate::provider::scan::verdict::NewestVerdict;
use crate::time::TimeRange;

/// What a scan needs at execution time.
#[derive(Debug)]
pub(crate) struct ScanInputs {
    pub(crate) fetcher: Arc<Fetcher>,
    pub(crate) cache: SegmentCache,
    pub(crate) target: Option<ParquetTarget>,
    pub(crate) scans: Vec<LogScan>,
    /// The sets of each log of `scans` (the `logset` column).
    pub(crate) sets: LogSetsOf,
    /// The full table schema (before projection): the event schema and
    /// `logset`.
    pub(crate) table_schema: SchemaRef,
    /// The columns of `table_schema` the exec yields: what the query and
    /// the filters read.
    pub(crate) projection: Vec<usize>,
    pub(crate) predicate: Option<Arc<dyn PhysicalExpr>>,
    pub(crate) chunk_ms: i64,
    pub(crate) concurrency: usize,
    /// Most events the gaps may hold (0: no limit).
    pub(crate) budget: u64,
    /// Event queries a second at this key's quota (for costs in messages).
    pub(crate) query_rate: f64,
    /// How the ranges the cache lacks are read (`read/`).
    pub(crate) read: Strategy,
    /// Why a pushdown (counts, newest first) did not apply to the statement
    /// this scan serves, when one was tried.
    pub(crate) why_not: Option<Arc<str>>,
    /// Whether the endpoint honours `most_recent_first`, once known.
    pub(crate) verdict: Arc<NewestVerdict>,
    /// The span the statement was planned in (its `statement` span, when
    /// the caller made one): fetches and reads are its children wherever
    /// DataFusion polls them.
    pub(crate) statement: tracing::Span,
    /// The statement's filters on `message` not sent to Rapid7, named by a
    /// budget error.
    pub(crate) not_pushed: Arc<[String]>,
    /// The length of the `where(…)` the filters imply, when it is over
    /// [`MAX_PUSHED_STATEMENT_BYTES`](crate::leql::MAX_PUSHED_STATEMENT_BYTES)
    /// and so not pushed (`EXPLAIN` says so).
    pub(crate) statement_too_long: Option<usize>,
}

/// One run of a scan's strategy: its inputs, its partitions, and whether
/// it reads over the limit of events (approved).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run<'a> {
    pub(crate) inputs: &'a ScanInputs,
    pub(crate) partitions: usize,
    pub(crate) approved: bool,
}

/// What a scan's partitions stream, once prepared.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// One Parquet scan over every whole segment.
    pub(crate) parquet: Option<Arc<dyn ExecutionPlan>>,
    /// Per partition, what is read beside it.
    pub(crate) extras: Vec<Vec<Extra>>,
}

/// A range read outside the Parquet scan.
#[derive(Debug, Clone)]
pub(crate) enum Extra {
    /// Straight from the API, not committed (of the scan at this index).
    Live(usize, TimeRange),
    /// Straight from the API, not committed, by one merged query of the
    /// scans at these indices (one filter and range, at least two logs).
    LiveMerged(Vec<usize>, TimeRange),
    /// A segment (of the scan at this index) that serves only part of its
    /// range.
    Partial(usize, PlannedSegment),
    /// Rows already read (newest first), of the scan's projection.
    Read(Arc<[RecordBatch]>),
}

/// `extras` with the ranges read live of several logs of one filter and
/// range read by merged queries ([`Extra::LiveMerged`]; at most
/// [`MAX_LOGS_PER_QUERY`] logs a query, a larger set cut into equal groups).
fn merge_live(extras: Vec<Extra>, scans: &[LogScan]) -> Vec<Extra> {
    type Key = (Option<Arc<str>>, TimeRange);
    let mut out = Vec::with_capacity(extras.len());
    let mut groups: Vec<(Key, Vec<usize>)> = Vec::new();
    for extra in extras {
        let Extra::Live(idx, range) = extra else {
            out.push(extra);
            continue;
        };
        let key = (scans[idx].filter.clone(), range);
        let id = &scans[idx].log.id;
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, idxs)) if idxs.iter().any(|i| scans[*i].log.id == *id) => {
                out.push(Extra::Live(idx, range));
            }
            Some((_, idxs)) => idxs.push(idx),
            None => groups.push((key, vec![idx])),
        }
    }
    for ((_, range), idxs) in groups {
        let parts = idxs.len().div_ceil(MAX_LOGS_PER_QUERY);
        let size = idxs.len().div_ceil(parts);
        for part in idxs.chunks(size) {
            out.push(match part {
                [one] => Extra::Live(*one, range),
                many => Extra::LiveMerged(many.to_vec(), range),
            });
        }
    }
    out
}

/// Fail with the budget error when the estimates of `only`, and `spent`
/// events read already, exceed the statement's limit of events (unless the
/// scan was approved).
pub(crate) fn check_estimate(run: Run<'_>, only: &[(usize, LogScan)], spent: u64) -> DfResult<()> {
    if run.approved {
        return Ok(());
    }
    let inputs = run.inputs;
    let mut per_log: Vec<(String, FetchEstimate)> = only
        .iter()
        .filter_map(|(_, s)| s.estimate.map(|e| (s.estimate_label(), e)))
        .collect();
    if spent > 0 {
        per_log.push((
            "(read newest first before the fallback)".to_string(),
            FetchEstimate {
                events: spent,
                queries: 0,
            },
        ));
    }
    check_budget(&per_log, inputs.budget, inputs.query_rate)
        .map_err(|e| e.with_not_pushed(&inputs.not_pushed).into_datafusion())
}

/// Plan what the partitions of `only` stream once the gaps are fetched
/// (`fetched`: they were, into segments; else they are read live): one
/// Parquet scan over the whole segments, and beside it the ranges read
/// live and the segments that serve only part of their range.
pub(crate) async fn assemble(
    run: Run<'_>,
    only: &[(usize, LogScan)],
    fetched: bool,
) -> DfResult<Prepared> {
    let inputs = run.inputs;
    let mut extras = Vec::new();
    let mut whole_parts = Vec::new();
    let mut incomplete = Vec::new();
    for (idx, planned) in only {
        let mut scan = planned.clone();
        // A filter not cached for its log (its form is not known yet):
        // the gaps are read with it, not fetched into segments.
        let fetched = fetched && scan.commits();
        if fetched && !scan.gaps.is_empty() {
            scan.replan(&inputs.cache, inputs.chunk_ms).await?;
            // What was just fetched may lack events (strict completeness).
            incomplete.extend(scan.incomplete());
        }
        for gap in &scan.gaps {
            if fetched {
                // Dropped or changed under us since the fetch: read it live.
                warn!(
                    log_id = %scan.log.id,
                    range = %gap,
                    detail = "the range is read without caching",
                    "fetch_range_still_missing"
                );
            }
            extras.push(Extra::Live(*idx, *gap));
        }
        extras.extend(scan.live.iter().map(|r| Extra::Live(*idx, *r)));
        for seg in scan.segments {
            if seg.is_whole() {
                whole_parts.extend(LogPart::of(seg.parts(), &scan.log, &inputs.sets));
            } else {
                extras.push(Extra::Partial(*idx, seg));
            }
        }
    }
    if extras.len() > 1 && inputs.fetcher.merged_allowed().await {
        extras = merge_live(extras, &inputs.scans);
    }
    if !incomplete.is_empty() {
        return Err(Error::Incomplete {
            segments: incomplete,
        }
        .into());
    }
    let parquet = match (&inputs.target, whole_parts.is_empty()) {
        (Some(target), false) => Some(parquet_exec(
            target,
            whole_parts,
            run.partitions,
            Some(&inputs.projection),
            inputs.predicate.clone(),
            None,
        )?),
        _ => None,
    };
    let mut per_partition = vec![Vec::new(); run.partitions];
    for (i, extra) in extras.into_iter().enumerate() {
        per_partition[i % run.partitions].push(extra);
    }
    Ok(Prepared {
        parquet,
        extras: per_partition,
    })
}
