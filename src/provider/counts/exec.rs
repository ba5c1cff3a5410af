//! [`Rapid7CountsExec`]: counts per log and bin, computed when executed.
//!
//! - A cached segment counts by its manifest when it serves its whole range
//!   and that range lies in one bin (or there are no bins), else part by
//!   part, several parts at once, from the `timestamp` column alone: a row
//!   group whose exact statistics put it inside the range and one bin
//!   counts by its row count, any other row group is read (the column only).
//! - A missing range asks Rapid7's statistics, in slices aligned to the
//!   bins: an unaligned first or last bin is a query of its own, and at most
//!   [`MAX_SLICES`] bins go in one query. Counts are exact whatever Rapid7's
//!   `to` means (see `exact.rs`); where Rapid7 calls its result inexact, the
//!   range's events are read and counted instead. Nothing is committed.
//! - The recent edge (after `now - settle`) is counted from statistics the
//!   same way: counts are never cached, so it needs no page either; where
//!   events stamped a query's `to` may still arrive, `exact.rs` checks them
//!   before and after (and pages the range when they moved).
//! - Whatever is paged instead (inexact statistics, or bins so small that
//!   paging takes fewer queries) counts against the statement's limit of
//!   events (`max_fetch_events`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{SchemaRef, TimestampMillisecondType};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, PlanProperties};
use futures::{FutureExt, StreamExt, TryStreamExt};
use tokio::task::JoinSet;

use super::bin::Bin;
use super::exact::{ToConvention, exact_counts};
use crate::cache::{BinOf, PartCounts, PartInfo, PlannedSegment, SegmentCache, merge_ranges};
use crate::client::{Client, CountRequest, MAX_LOGS_PER_QUERY, MAX_SLICES};
use crate::error::{Error, Result};
use crate::events::{TIMESTAMP_TZ, columns, logset_type};
use crate::fetch::{FetchRequest, Fetcher};
use crate::provider::leaf::{LeafExec, leaf_exec, leaf_properties};
use crate::provider::scan::{LogScan, LogSetsOf};
use crate::provider::{FetchEstimate, check_budget, query_rate};
use crate::text::short_list;
use crate::time::TimeRange;

/// What the exec counts.
#[derive(Debug)]
pub(crate) struct CountInputs {
    pub(crate) scans: Vec<LogScan>,
    /// The sets of each log (the `logset` column).
    pub(crate) sets: LogSetsOf,
    pub(crate) bin: Option<Bin>,
    pub(crate) cache: SegmentCache,
    pub(crate) fetcher: Arc<Fetcher>,
    pub(crate) client: Option<Client>,
    pub(crate) convention: Arc<ToConvention>,
    pub(crate) concurrency: usize,
    /// The counts table's schema (before projection).
    pub(crate) schema: SchemaRef,
    /// Most events the statement may page where statistics cannot count
    /// (0: no limit): inexact statistics page their ranges.
    pub(crate) budget: u64,
    /// Events the statement is about to page, by the statistics.
    pub(crate) paged: AtomicU64,
}

/// Counts of `rapid7_logs` per log and bin (see the module docs).
#[derive(Debug)]
pub struct Rapid7CountsExec {
    inputs: Arc<CountInputs>,
    projection: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl Rapid7CountsExec {
    pub(crate) fn new(inputs: CountInputs, projection: Vec<usize>) -> DfResult<Self> {
        let schema = Arc::new(inputs.schema.project(&projection)?);
        Ok(Rapid7CountsExec {
            inputs: Arc::new(inputs),
            projection,
            properties: leaf_properties(&schema, 1, EmissionType::Final),
            schema,
        })
    }

    /// The `log [from, to)` ranges whose counts come from Rapid7's
    /// statistics: what the cache lacks, and the recent edge.
    pub fn planned_statistics(&self) -> Vec<String> {
        self.inputs
            .scans
            .iter()
            .flat_map(|s| {
                merge_ranges(s.gaps.iter().chain(&s.live).copied())
                    .into_iter()
                    .map(move |g| s.log.describe(g))
            })
            .collect()
    }
}

impl DisplayAs for Rapid7CountsExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scans = &self.inputs.scans;
        let segments: usize = scans.iter().map(|s| s.segments.len()).sum();
        let stats = self.planned_statistics();
        let bin = match self.inputs.bin {
            Some(Bin::Fixed {
                stride_ms,
                origin_ms,
            }) => format!("{stride_ms} ms from {}", crate::time::fmt_ms(origin_ms)),
            Some(Bin::Months { months }) => format!("{months} calendar months"),
            None => "none".into(),
        };
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => write!(
                f,
                "Rapid7CountsExec: logs={}, bin={bin}, cached_segments={segments}, \
                 statistics={}",
                scans.len(),
                short_list(&stats),
            ),
            DisplayFormatType::TreeRender => {
                writeln!(f, "logs={}", scans.len())?;
                writeln!(f, "cached_segments={segments}")?;
                write!(f, "statistics={}", stats.len())
            }
        }
    }
}

leaf_exec!(Rapid7CountsExec);

impl LeafExec for Rapid7CountsExec {
    const NAME: &'static str = "Rapid7CountsExec";

    fn leaf_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn open(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let inputs = Arc::clone(&self.inputs);
        let projection = self.projection.clone();
        let batch = async move {
            // Without a log column, the counts of several logs may be
            // asked of Rapid7 together (merged statistics): only totals show.
            let by_log = projection.iter().any(|c| matches!(c, 1 | 2 | 4));
            let batch = count_all(&inputs, by_log)
                .await
                .map_err(Error::into_datafusion)?;
            Ok::<_, DataFusionError>(batch.project(&projection)?)
        }
        .boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::once(batch),
        )))
    }
}

/// Events per bin start (or per window start, with no bins).
type Tally = BTreeMap<i64, u64>;

async fn count_all(inputs: &CountInputs, by_log: bool) -> Result<RecordBatch> {
    let merged = !by_log && inputs.client.is_some() && inputs.fetcher.merged_allowed().await;
    let groups = missing_groups(&inputs.scans, merged);
    // The futures are built first: a stream of closures over borrowed scans
    // held across the await would make the future not `Send` for every
    // lifetime (rust-lang/rust#102211).
    let counts: Vec<_> = groups
        .iter()
        .map(|group| async move {
            let scans: Vec<&LogScan> = group.iter().map(|i| &inputs.scans[*i]).collect();
            count_logs(inputs, &scans).await.map(|t| (group[0], t))
        })
        .collect();
    let tallies: Vec<(usize, Tally)> = futures::stream::iter(counts)
        .buffer_unordered(inputs.concurrency.max(1))
        .try_collect()
        .await?;
    let (mut ts, mut ids, mut names, mut ns) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut sets = Vec::new();
    for (i, tally) in tallies {
        let log = &inputs.scans[i].log;
        for (start, n) in tally {
            ts.push(start);
            ids.push(log.id.clone());
            names.push(log.name.clone());
            ns.push(i64::try_from(n).unwrap_or(i64::MAX));
            sets.push(inputs.sets.scalar(&log.id));
        }
    }
    let sets = match sets.is_empty() {
        true => datafusion::arrow::array::new_empty_array(&logset_type()),
        false => ScalarValue::iter_to_array(sets)?,
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            datafusion::arrow::array::TimestampMillisecondArray::from(ts)
                .with_timezone(TIMESTAMP_TZ),
        ),
        Arc::new(StringArray::from(ids)),
        Arc::new(StringArray::from(names)),
        Arc::new(Int64Array::from(ns)),
        sets,
    ];
    Ok(RecordBatch::try_new(Arc::clone(&inputs.schema), columns)?)
}

/// Where the events of `ts` are tallied.
fn key(bin: Option<Bin>, anchor: i64, ts: i64) -> i64 {
    match bin {
        Some(b) => b.start_of(ts),
        None => anchor,
    }
}

/// The scans counted together (by their indices): with `merged`, those of
/// the same missing ranges (gaps and recent edge; at most
/// [`MAX_LOGS_PER_QUERY`] a group, a larger set cut into equal groups),
/// whose missing ranges one merged statistical query counts; else each
/// alone.
fn missing_groups(scans: &[LogScan], merged: bool) -> Vec<Vec<usize>> {
    let missing = |s: &LogScan| merge_ranges(s.gaps.iter().chain(&s.live).copied());
    let mut groups: Vec<(Vec<TimeRange>, Vec<usize>)> = Vec::new();
    for (i, scan) in scans.iter().enumerate() {
        let ranges = missing(scan);
        let same = |g: &&mut (Vec<TimeRange>, Vec<usize>)| {
            merged
                && !ranges.is_empty()
                && g.0 == ranges
                && g.1.iter().all(|j| scans[*j].log.id != scan.log.id)
        };
        match groups.iter_mut().find(same) {
            Some(g) => g.1.push(i),
            None => groups.push((ranges, vec![i])),
        }
    }
    groups
        .into_iter()
        .flat_map(|(_, g)| {
            let parts = g.len().div_ceil(MAX_LOGS_PER_QUERY);
            let size = g.len().div_ceil(parts);
            g.chunks(size).map(<[usize]>::to_vec).collect::<Vec<_>>()
        })
        .collect()
}

/// The counts of `scans` (one log, or several of the same missing ranges,
/// tallied together): cached parts log by log, missing ranges at once.
async fn count_logs(inputs: &CountInputs, scans: &[&LogScan]) -> Result<Tally> {
    let mut tally = Tally::new();
    for scan in scans {
        count_cached(inputs, scan, &mut tally).await?;
    }
    let scan = scans[0];
    let anchor = anchor_of(scan);
    // The recent edge is counted from statistics too: counts are never
    // cached, so it is no different from a missing range (and joins the
    // gap before it into one range).
    for range in merge_ranges(scan.gaps.iter().chain(&scan.live).copied()) {
        count_missing(inputs, scans, range, anchor, &mut tally).await?;
    }
    Ok(tally)
}

fn anchor_of(scan: &LogScan) -> i64 {
    scan.settled
        .iter()
        .chain(&scan.live)
        .map(TimeRange::start)
        .min()
        .unwrap_or(0)
}

/// Tally the cached segments of `scan`.
async fn count_cached(inputs: &CountInputs, scan: &LogScan, tally: &mut Tally) -> Result<()> {
    let anchor = anchor_of(scan);
    let mut parts = Vec::new();
    for planned in &scan.segments {
        match manifest_count(inputs.bin, planned) {
            Some(0) => {
                // No events, no group: a grouped count returns no row for it.
            }
            Some(n) => {
                *tally
                    .entry(key(inputs.bin, anchor, planned.responsible.start()))
                    .or_default() += n;
            }
            None => parts.extend(planned.parts().into_iter().map(|p| (planned.clone(), p))),
        }
    }
    if !parts.is_empty() {
        count_parts(inputs, parts, bin_of(inputs.bin, anchor), tally).await?;
    }
    Ok(())
}

/// A segment's count by its manifest: when it serves its whole range and
/// that range lies in one bin (or there are no bins).
fn manifest_count(bin: Option<Bin>, planned: &PlannedSegment) -> Option<u64> {
    let range = planned.responsible;
    let one_bin = match bin {
        None => true,
        Some(b) => b.start_of(range.start()) == b.start_of(range.end() - 1),
    };
    (planned.is_whole() && one_bin).then(|| planned.segment.row_count())
}

/// The bins as the cache counts in them: `(key, start, end)` of the bin
/// holding a timestamp; with no bins, one bin keyed `anchor`.
fn bin_of(bin: Option<Bin>, anchor: i64) -> BinOf {
    match bin {
        Some(b) => Arc::new(move |ts| {
            let start = b.start_of(ts);
            (start, start, b.next_start(ts))
        }),
        None => Arc::new(move |_| (anchor, i64::MIN, i64::MAX)),
    }
}

/// Count `parts` from their `timestamp` column (and row-group statistics),
/// [`CountInputs::concurrency`] parts at once, each on its own task so that
/// decoding uses every core.
async fn count_parts(
    inputs: &CountInputs,
    parts: Vec<(PlannedSegment, PartInfo)>,
    bin_of: BinOf,
    tally: &mut Tally,
) -> Result<()> {
    let limit = inputs.concurrency.max(1);
    let mut parts = parts.into_iter();
    let mut tasks = JoinSet::new();
    let mut counted = PartCounts::default();
    loop {
        while tasks.len() < limit {
            let Some((planned, part)) = parts.next() else {
                break;
            };
            let (cache, bin_of) = (inputs.cache.clone(), Arc::clone(&bin_of));
            tasks.spawn(async move { cache.count_part(&planned, &part, &bin_of).await });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let part =
            done.map_err(|e| Error::from(Box::new(DataFusionError::External(Box::new(e)))))??;
        counted.merge(part);
    }
    tracing::debug!(
        row_groups_by_statistics = counted.groups_by_statistics,
        row_groups_read = counted.groups_read,
        "counts_cached_parts"
    );
    for (k, n) in counted.bins {
        *tally.entry(k).or_default() += n;
    }
    Ok(())
}

async fn tally_batches(
    mut batches: futures::stream::BoxStream<'static, Result<RecordBatch>>,
    bin: Option<Bin>,
    anchor: i64,
    tally: &mut Tally,
) -> Result<()> {
    while let Some(batch) = batches.try_next().await? {
        let Some(ts) = batch.column_by_name(columns::TIMESTAMP) else {
            continue;
        };
        for t in ts
            .as_primitive::<TimestampMillisecondType>()
            .values()
            .iter()
        {
            *tally.entry(key(bin, anchor, *t)).or_default() += 1;
        }
    }
    Ok(())
}

/// Count a missing range of `scans` (one log, or several counted together)
/// from statistics, in queries aligned to the bins.
async fn count_missing(
    inputs: &CountInputs,
    scans: &[&LogScan],
    gap: TimeRange,
    anchor: i64,
    tally: &mut Tally,
) -> Result<()> {
    let scan = scans[0];
    let ids: Vec<&str> = scans.iter().map(|s| s.log.id.as_str()).collect();
    let client = inputs.client.as_ref().ok_or_else(|| Error::Offline {
        missing: vec![scan.log.describe(gap)],
    })?;
    // Counted before the queries are listed: a day of 1 ms bins is
    // hundreds of thousands of them.
    let planned = aligned_query_count(gap, inputs.bin);
    if planned > PAGING_CHECK_QUERIES as u64 {
        // Many small bins: counting each from statistics can cost more
        // queries than paging the range's events. One count says which.
        let request = CountRequest {
            log_id: scan.log.id.to_string(),
            from: gap.start(),
            to: gap.end(),
            filter: None,
            slices: 1,
        };
        let total = match ids.as_slice() {
            [_] => client.count_events(&request).await?,
            _ => client.count_events_merged(&ids, &request).await?,
        }
        .total();
        let per_page = u64::from(client.config().per_page.max(1));
        let pages = total / per_page + 1;
        if planned > pages {
            charge(
                inputs,
                scan,
                total,
                per_page,
                "paged: fewer queries than statistics",
                client,
            )?;
            tracing::info!(
                log_id = %scan.log.id,
                range = %gap,
                statistical_queries = planned,
                pages,
                "counts_paged_instead"
            );
            for scan in scans {
                let batches =
                    inputs
                        .fetcher
                        .stream_range(&FetchRequest::new(scan.log.clone(), None, gap))?;
                tally_batches(batches, inputs.bin, anchor, tally).await?;
            }
            return Ok(());
        }
    }
    for (from, to, slices) in aligned_queries(gap, inputs.bin) {
        // The events of millisecond `to` are settled when it lies before
        // the recent edge.
        let settled = scan.live.iter().all(|live| to < live.start());
        let exact = exact_counts(
            client,
            &inputs.fetcher,
            &inputs.convention,
            &ids,
            (from, to),
            slices,
            settled,
        )
        .await?;
        match exact {
            Ok(counts) => {
                let width = (to - from) / i64::from(slices);
                for (i, n) in counts.into_iter().enumerate() {
                    if n > 0 {
                        let start = from + i as i64 * width;
                        *tally.entry(key(inputs.bin, anchor, start)).or_default() += n;
                    }
                }
            }
            Err(about) => {
                // Paged instead: the statement's limit on events paged
                // holds here too (by the statistics' own, inexact, count).
                let per_page = u64::from(client.config().per_page.max(1));
                charge(
                    inputs,
                    scan,
                    about,
                    per_page,
                    "statistics inexact: paged to count",
                    client,
                )?;
                tracing::info!(
                    log_id = %scan.log.id,
                    range = %TimeRange::ordered(from, to),
                    detail = "counting the range's events instead",
                    "rapid7_statistics_inexact"
                );
                for scan in scans {
                    let batches = inputs.fetcher.stream_range(&FetchRequest::new(
                        scan.log.clone(),
                        None,
                        TimeRange::ordered(from, to),
                    ))?;
                    tally_batches(batches, inputs.bin, anchor, tally).await?;
                }
            }
        }
    }
    Ok(())
}

/// Add `events` about to be paged to the statement's tally, failing once
/// the tally passes the statement's limit of events (`max_fetch_events`).
fn charge(
    inputs: &CountInputs,
    scan: &LogScan,
    events: u64,
    per_page: u64,
    why: &str,
    client: &Client,
) -> Result<()> {
    let paged = inputs.paged.fetch_add(events, Ordering::Relaxed) + events;
    check_budget(
        &[(
            format!("{} ({why})", scan.log.label()),
            FetchEstimate {
                events: paged,
                queries: paged / per_page + 1,
            },
        )],
        inputs.budget,
        query_rate(client),
    )
}

/// Beyond this many statistical queries for one missing range, one more
/// count decides whether paging the range is cheaper.
const PAGING_CHECK_QUERIES: usize = 8;

/// How many queries [`aligned_queries`] lists for `gap`, without listing them.
fn aligned_query_count(gap: TimeRange, bin: Option<Bin>) -> u64 {
    let Some(bin) = bin else { return 1 };
    let (stride_ms, origin_ms) = bin.grid();
    let grid = Bin::fixed(stride_ms, origin_ms);
    let first = grid.start_of(gap.start());
    let start = match first < gap.start() {
        true => (first + stride_ms).min(gap.end()),
        false => gap.start(),
    };
    let whole = (gap.end() - start).div_euclid(stride_ms).max(0);
    let tail = start + whole * stride_ms < gap.end();
    u64::from(start > gap.start())
        + (whole as u64).div_ceil(u64::from(MAX_SLICES))
        + u64::from(tail)
}

/// The statistical queries `(from, to, slices)` that count `gap`: with bins,
/// an unaligned first and last bin alone, whole bins at most
/// [`MAX_SLICES`] to a query; without, the gap in one slice.
pub(crate) fn aligned_queries(gap: TimeRange, bin: Option<Bin>) -> Vec<(i64, i64, u32)> {
    let Some(bin) = bin else {
        return vec![(gap.start(), gap.end(), 1)];
    };
    // Calendar bins are asked in days: every slice lies in one bin.
    let (stride_ms, origin_ms) = bin.grid();
    let bin = Bin::fixed(stride_ms, origin_ms);
    let mut out = Vec::new();
    let mut start = gap.start();
    let first_edge = bin.start_of(start);
    if first_edge < start {
        let end = (first_edge + stride_ms).min(gap.end());
        out.push((start, end, 1));
        start = end;
    }
    let whole = (gap.end() - start).div_euclid(stride_ms).max(0);
    let mut done = 0;
    while done < whole {
        let n = (whole - done).min(i64::from(MAX_SLICES));
        let from = start + done * stride_ms;
        out.push((from, from + n * stride_ms, n as u32));
        done += n;
    }
    let tail = start + whole * stride_ms;
    if tail < gap.end() {
        out.push((tail, gap.end(), 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn r(a: i64, b: i64) -> TimeRange {
        TimeRange::new(a, b).unwrap()
    }

    #[test]
    fn queries_align_to_bins() {
        let ten = Some(Bin::fixed(10 * MIN, 0));
        assert_eq!(aligned_queries(r(0, 60 * MIN), ten), vec![(0, 60 * MIN, 6)]);
        assert_eq!(
            aligned_queries(r(3 * MIN, 60 * MIN + 5), ten),
            vec![
                (3 * MIN, 10 * MIN, 1),
                (10 * MIN, 60 * MIN, 5),
                (60 * MIN, 60 * MIN + 5, 1)
            ]
        );
        // Inside one bin.
        assert_eq!(
            aligned_queries(r(MIN, 2 * MIN), ten),
            vec![(MIN, 2 * MIN, 1)]
        );
        // 300 whole bins: 200 + 100.
        let q = aligned_queries(r(0, 3_000 * MIN), ten);
        assert_eq!(
            q,
            vec![(0, 2_000 * MIN, 200), (2_000 * MIN, 3_000 * MIN, 100)]
        );
        // An origin off the epoch.
        let shifted = Some(Bin::fixed(60 * MIN, 30 * MIN));
        assert_eq!(
            aligned_queries(r(0, 120 * MIN), shifted),
            vec![
                (0, 30 * MIN, 1),
                (30 * MIN, 90 * MIN, 1),
                (90 * MIN, 120 * MIN, 1)
            ]
        );
        assert_eq!(aligned_queries(r(5, 9), None), vec![(5, 9, 1)]);
    }

    #[test]
    fn every_instant_is_in_exactly_one_query() {
        let bins = [
            Bin::fixed(7, 3),
            Bin::fixed(1, 0),
            Bin::fixed(1000, -5),
            Bin::Months { months: 1 },
        ];
        for bin in bins {
            let mut ranges = vec![(0, 1), (0, 100), (-17, 5_000), (999, 1_001)];
            if matches!(bin, Bin::Months { .. }) {
                // Across a month's end, in days.
                ranges.push((40 * 86_400_000 - 7, 70 * 86_400_000 + 3));
            }
            for (a, b) in ranges {
                let q = aligned_queries(r(a, b), Some(bin));
                assert_eq!(q.len() as u64, aligned_query_count(r(a, b), Some(bin)));
                let mut next = a;
                for (from, to, n) in &q {
                    assert_eq!(*from, next);
                    assert!((to - from) % i64::from(*n) == 0);
                    // Every slice lies in one bin.
                    let w = (to - from) / i64::from(*n);
                    for i in 0..i64::from(*n) {
                        let s = from + i * w;
                        assert_eq!(bin.start_of(s), bin.start_of(s + w - 1));
                    }
                    next = *to;
                }
                assert_eq!(next, b);
            }
        }
    }
}
