//! Newest first: `ORDER BY timestamp DESC … LIMIT N` over a window the cache
//! lacks reads pages newest first (`most_recent_first=true`) and stops as
//! soon as the newest `N` events the statement keeps are in hand.
//!
//! - The window's ranges are taken newest first: cached segments, missing
//!   pieces and the recent edge, until `N` events that pass the statement's
//!   filters lie in the part read completely, and that part reaches below
//!   the millisecond of the `N`th (a burst there is read whole, whatever
//!   order Rapid7 returns within a millisecond; see `newest_rule.rs`). Older
//!   ranges are not touched: a repeated statement over a cached newest part
//!   asks nothing.
//! - Cached segments are read part by part, newest part first, only the
//!   columns the statement reads, and only the rows its filters keep are
//!   held; rows older than the `N`th kept one are let go. A rare value over
//!   a month of cached segments holds the matches, not the month.
//! - Every page must come newest first: within the page, and against the
//!   oldest event of the page before. At the first page out of order the
//!   read ends, commits nothing, and says so ([`Newest::NotHonoured`]): the
//!   statement is then answered by paging oldest first, and the endpoint is
//!   remembered (`verdict.rs`). Ranges starting before 2022-11-24 are read
//!   oldest first, whole (Rapid7's plugin says the flag needs a later
//!   `from`).
//! - Events stamped at or after a piece's exclusive end (an inclusive `to`
//!   returns them) are dropped by the page decoder.
//! - What was read is a complete sub-window: every event newer than the
//!   oldest one read. Each piece read whole, and the read part of the piece
//!   where reading stopped, is committed as a segment (of the pushed filter,
//!   if any) once the whole read succeeded; the recent edge is not.
//! - A read that passes the statement's limit of events
//!   (`max_fetch_events`) without finding `N` fails, like any fetch over it.
//! - The logs of a statement are read one after the other (`newest_run.rs`),
//!   each counting what the logs before it read; those read oldest first
//!   after all are then estimated and fetched (or bypassed) within what is
//!   left. Logs of one plan are read together (`newest_merged.rs`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{Schema, TimestampMillisecondType};
use datafusion::physical_expr::utils::reassign_expr_columns;
use datafusion::physical_plan::PhysicalExpr;
use futures::TryStreamExt;

use crate::cache::{PlannedSegment, SegmentCache};
use crate::client::{self, Order};
use crate::config::OnIncomplete;
use crate::error::{Counted, Error, IncompleteSegment, Result};
use crate::events::{columns, with_log_name};
use crate::fetch::{FetchRequest, Fetcher, ReadBatches, commit_batches};
use crate::log_id::LogRef;
use crate::provider::scan::estimate::over_limit_while_reading;
use crate::provider::scan::log_sets::LogSetsOf;
use crate::provider::scan::newest_rule::{NEWEST_FIRST_SINCE_MS, PageOrder, Stop};
use crate::provider::scan::plan::LogScan;
use crate::time::TimeRange;

/// What one log's newest-first read produced.
pub(super) enum Newest {
    /// The rows (of the scan's projection) the statement may need.
    Read(Read),
    /// Pages asked newest first came in another order: nothing was
    /// committed, and the log is to be read oldest first.
    NotHonoured {
        /// Which range and page showed it.
        why: String,
        /// Events read from the API before it showed (they count against
        /// the statement's limit of events).
        events: u64,
    },
    /// The pages never showed their order ([`PageOrder::shown`]): nothing
    /// was committed, and the log is to be read oldest first, without a
    /// verdict on the endpoint.
    Unshown {
        /// Which range.
        why: String,
        /// Events read from the API (as for `NotHonoured`).
        events: u64,
    },
}

/// Why a range's newest-first read cannot be used.
pub(super) enum Unusable {
    /// A page out of order.
    OutOfOrder(String),
    /// No page showed the order.
    Unshown(String),
}

/// The rows of a newest-first read.
pub(super) struct Read {
    /// Of the scan's projection, each with the events' timestamps.
    pub(crate) batches: Vec<RecordBatch>,
    /// Events read from the API.
    pub(crate) events: u64,
}

/// What a read needs besides the scan.
pub(super) struct ReadInputs<'a> {
    pub(crate) fetcher: &'a Arc<Fetcher>,
    pub(crate) cache: &'a SegmentCache,
    pub(crate) table_schema: &'a Schema,
    /// The sets of each log (the `logset` column).
    pub(crate) sets: &'a LogSetsOf,
    /// The columns of the table schema the statement reads.
    pub(crate) projection: &'a [usize],
    pub(crate) predicate: Option<&'a Arc<dyn PhysicalExpr>>,
    /// The events the statement keeps at most (its `LIMIT`).
    pub(crate) want: usize,
    /// Most events the statement may read from the API (0: no limit).
    pub(crate) limit: u64,
    /// Events the statement's reads of other logs have read already: they
    /// count against `limit` too.
    pub(crate) spent: u64,
    /// Event queries a second at this key's quota (for costs in messages).
    pub(crate) rate: f64,
}

/// A range read completely from the API, committed once the read succeeds.
pub(super) struct Pending {
    pub(super) range: TimeRange,
    pub(super) batches: Vec<RecordBatch>,
    pub(super) rejected: u64,
    pub(super) beyond: bool,
}

/// The rows held for the answer: the kept rows (projected), each batch
/// with its timestamps, let go once older than the stop's boundary.
#[derive(Default)]
pub(super) struct Held {
    pub(super) batches: Vec<(ArrayRef, RecordBatch)>,
    rows: usize,
}

impl Held {
    pub(super) fn push(&mut self, ts: ArrayRef, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.rows += batch.num_rows();
            self.batches.push((ts, batch));
        }
    }

    /// Let go of rows older than `boundary`, when enough are held for it
    /// to be worth a pass.
    pub(super) fn trim(&mut self, boundary: Option<i64>, want: usize) -> Result<()> {
        let Some(b) = boundary else { return Ok(()) };
        if self.rows <= want.saturating_mul(2).max(8192) {
            return Ok(());
        }
        let mut rows = 0;
        let mut kept = Vec::with_capacity(self.batches.len());
        for (ts, batch) in self.batches.drain(..) {
            let keep: BooleanArray = ts
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .iter()
                .map(|t| Some(*t >= b))
                .collect();
            let (ts, batch) = (
                datafusion::arrow::compute::filter(&ts, &keep)?,
                filter_record_batch(&batch, &keep)?,
            );
            if batch.num_rows() > 0 {
                rows += batch.num_rows();
                kept.push((ts, batch));
            }
        }
        self.batches = kept;
        self.rows = rows;
        Ok(())
    }
}

/// Read `scan`'s cached segments, missing pieces and recent edge newest
/// first until the newest `want` events `predicate` keeps are in hand;
/// commit what was read completely from the API.
pub(super) async fn read_newest(inputs: &ReadInputs<'_>, scan: &LogScan) -> Result<Newest> {
    enum Source<'a> {
        Cached(&'a PlannedSegment),
        Api { cacheable: bool },
    }
    let cache = inputs.cache;
    let mut ranges: Vec<(TimeRange, Source<'_>)> = scan
        .segments
        .iter()
        .map(|s| (s.responsible, Source::Cached(s)))
        .chain(scan.gaps.iter().flat_map(|g| split_at_cutoff(*g)).map(|g| {
            (
                g,
                Source::Api {
                    cacheable: !cache.is_bypass() && scan.commits(),
                },
            )
        }))
        .chain(
            scan.live
                .iter()
                .flat_map(|r| split_at_cutoff(*r))
                .map(|r| (r, Source::Api { cacheable: false })),
        )
        .collect();
    ranges.sort_by_key(|(r, _)| std::cmp::Reverse(r.end()));
    let mut state = ReadState {
        stop: Stop::new(inputs.want),
        held: Held::default(),
        events: 0,
    };
    let mut pending: Vec<Pending> = Vec::new();
    let cached = CachedRead::new(inputs)?;
    for (range, source) in ranges {
        if state.stop.done() {
            break;
        }
        let cacheable = match source {
            Source::Cached(planned) => {
                cached.read(inputs, planned, &scan.log, &mut state).await?;
                continue;
            }
            Source::Api { cacheable } => cacheable,
        };
        match read_range(inputs, scan, range, cacheable, &mut state).await? {
            Ok(Some(read)) => pending.push(read),
            Ok(None) => {}
            Err(Unusable::OutOfOrder(why)) => {
                return Ok(Newest::NotHonoured {
                    why,
                    events: state.events,
                });
            }
            Err(Unusable::Unshown(why)) => {
                return Ok(Newest::Unshown {
                    why,
                    events: state.events,
                });
            }
        }
    }
    let reads: Vec<_> = pending.iter().map(|read| (scan, read)).collect();
    commit_all(cache, &reads).await?;
    state.held.trim(state.stop.boundary(), 0)?;
    Ok(Newest::Read(Read {
        batches: state.held.batches.into_iter().map(|(_, b)| b).collect(),
        events: state.events,
    }))
}

/// What a read has gathered so far, across its ranges.
pub(super) struct ReadState {
    pub(super) stop: Stop,
    pub(super) held: Held,
    /// Events read from the API.
    pub(super) events: u64,
}

/// Read one range from the API: newest first from 2022-11-24 on (each page
/// checked: `Ok(Err(why))` at the first out of order), else oldest first
/// and whole. `Ok(Ok(Some(_)))`: what to commit once the read succeeds.
pub(super) async fn read_range(
    inputs: &ReadInputs<'_>,
    scan: &LogScan,
    range: TimeRange,
    cacheable: bool,
    state: &mut ReadState,
) -> Result<std::result::Result<Option<Pending>, Unusable>> {
    let order = if range.start() >= NEWEST_FIRST_SINCE_MS {
        Order::NewestFirst
    } else {
        Order::OldestFirst
    };
    let request = FetchRequest::new(scan.log.clone(), scan.filter.clone(), range);
    let mut pages = inputs.fetcher.pages_in_order(&request, order)?;
    let mut checked = PageOrder::default();
    let mut read = Pending {
        range,
        batches: Vec::new(),
        rejected: 0,
        beyond: false,
    };
    let mut whole = true;
    while let Some((batch, stats)) = pages.try_next().await? {
        read.rejected += stats.failed;
        read.beyond |= stats.beyond_retention;
        // The filters and the projection read the table's columns; the
        // commit takes the events as decoded.
        let row = inputs.sets.with_column(batch.clone())?;
        let ts = timestamps(&row)?;
        let kept = keeps(inputs.predicate, &row)?;
        let is_kept = |i: usize| kept.as_ref().is_none_or(|k| k.value(i) && !k.is_null(i));
        let stamps = ts.as_primitive::<TimestampMillisecondType>().values();
        if order == Order::NewestFirst {
            if let Err(why) = checked.page(stamps, stats.min_timestamp, stats.max_timestamp) {
                let why = format!("{}: {why}", scan.log.describe(range));
                return Ok(Err(Unusable::OutOfOrder(why)));
            }
            for (i, t) in stamps.iter().enumerate() {
                state.stop.event(*t, is_kept(i));
            }
        } else {
            for (i, t) in stamps.iter().enumerate() {
                if is_kept(i) {
                    state.stop.kept(*t);
                }
            }
        }
        state.events += batch.num_rows() as u64;
        let so_far = inputs.spent.saturating_add(state.events);
        if inputs.limit > 0 && so_far > inputs.limit {
            return Err(over_limit(scan, so_far, inputs.limit, inputs.rate));
        }
        let (ts_kept, rows) = kept_rows(&row, &ts, kept.as_ref(), inputs.projection)?;
        state.held.push(ts_kept, rows);
        if cacheable {
            read.batches.push(batch);
        }
        if order == Order::NewestFirst && state.stop.done() {
            whole = false;
            break;
        }
        state.held.trim(state.stop.boundary(), inputs.want)?;
    }
    drop(pages);
    if order == Order::NewestFirst && !checked.shown() {
        let why = format!(
            "{}: pages of one millisecond each, which show no order",
            scan.log.describe(range)
        );
        return Ok(Err(Unusable::Unshown(why)));
    }
    if whole {
        state.stop.covered_from(range.start());
    }
    if cacheable {
        let complete = if whole {
            Some(range)
        } else {
            state
                .stop
                .complete_from()
                .and_then(|from| TimeRange::new(from.max(range.start()), range.end()).ok())
        };
        if let Some(done) = complete {
            read.range = done;
            return Ok(Ok(Some(read)));
        }
    }
    Ok(Ok(None))
}

/// `range`, cut at [`NEWEST_FIRST_SINCE_MS`] when it spans it.
pub(super) fn split_at_cutoff(range: TimeRange) -> Vec<TimeRange> {
    let cut = NEWEST_FIRST_SINCE_MS;
    if range.start() < cut && cut < range.end() {
        [range.start(), cut, range.end()]
            .windows(2)
            .filter_map(|w| TimeRange::new(w[0], w[1]).ok())
            .collect()
    } else {
        vec![range]
    }
}

/// How cached segments are read: only the columns the statement reads
/// (and the timestamp), the filters bound to those columns.
pub(super) struct CachedRead {
    /// Ascending table-schema indices read (`0` first): from the files, but
    /// `logset`, which no file holds.
    columns: Vec<usize>,
    /// Whether `columns` ends with `logset` (the table's last column).
    logset: bool,
    /// The statement's filters over `columns`.
    predicate: Option<Arc<dyn PhysicalExpr>>,
    /// Where each column of the scan's projection lies in `columns`.
    output: Vec<usize>,
}

impl CachedRead {
    pub(super) fn new(inputs: &ReadInputs<'_>) -> Result<Self> {
        let mut columns: Vec<usize> = inputs.projection.to_vec();
        columns.push(0);
        columns.sort_unstable();
        columns.dedup();
        let schema = inputs.table_schema.project(&columns)?;
        let predicate = inputs
            .predicate
            .map(|p| reassign_expr_columns(Arc::clone(p), &schema))
            .transpose()
            .map_err(Error::from)?;
        let output = inputs
            .projection
            .iter()
            .map(|c| columns.binary_search(c).unwrap_or_default())
            .collect();
        let logset = inputs.table_schema.index_of(columns::LOGSET).ok();
        Ok(CachedRead {
            logset: logset.is_some() && columns.last().copied() == logset,
            columns,
            predicate,
            output,
        })
    }

    /// Read `planned` (of `log`) part by part, newest part first, until the
    /// stop is done; hold the kept rows.
    pub(super) async fn read(
        &self,
        inputs: &ReadInputs<'_>,
        planned: &PlannedSegment,
        log: &LogRef,
        state: &mut ReadState,
    ) -> Result<()> {
        let log_name = log.name.as_deref();
        let from_files = match self.logset {
            true => &self.columns[..self.columns.len() - 1],
            false => &self.columns[..],
        };
        let schema = Arc::new(inputs.table_schema.project(&self.columns)?);
        let ReadState { stop, held, .. } = state;
        let range = planned.responsible;
        let mut parts = planned.segment.parts();
        parts.retain(|p| {
            p.min_timestamp_ms.is_some_and(|lo| lo < range.end())
                && p.max_timestamp_ms.is_some_and(|hi| hi >= range.start())
        });
        parts.sort_by_key(|p| std::cmp::Reverse(p.max_timestamp_ms));
        for (i, part) in parts.iter().enumerate() {
            let mut rows = inputs.cache.read_part(planned, part, from_files);
            while let Some(batch) = rows.try_next().await? {
                // The log's current name, not the one stored at fetch time,
                // and its sets (before the filters: they may read them).
                let mut batch = with_log_name(batch, log_name)?;
                if self.logset {
                    let mut all = batch.columns().to_vec();
                    all.push(
                        inputs
                            .sets
                            .scalar(&log.id)
                            .to_array_of_size(batch.num_rows())
                            .map_err(Error::from)?,
                    );
                    batch = RecordBatch::try_new(Arc::clone(&schema), all)?;
                }
                let ts = timestamps(&batch)?;
                let kept = keeps(self.predicate.as_ref(), &batch)?;
                let (ts_kept, rows) = kept_rows(&batch, &ts, kept.as_ref(), &self.output)?;
                for t in ts_kept.as_primitive::<TimestampMillisecondType>().values() {
                    stop.kept(*t);
                }
                held.push(ts_kept, rows);
                held.trim(stop.boundary(), inputs.want)?;
            }
            // Every event newer than what the parts left could hold is in
            // hand.
            let rest = parts[i + 1..]
                .iter()
                .filter_map(|p| p.max_timestamp_ms)
                .max()
                .map_or(range.start(), |hi| hi.saturating_add(1).max(range.start()));
            stop.covered_from(rest);
            if stop.done() {
                break;
            }
        }
        // Parts read to the last cover the range (the last one's `rest`);
        // a read that stopped early claims no more than it read.
        if parts.is_empty() {
            stop.covered_from(range.start());
        }
        Ok(())
    }
}

/// The timestamps of `batch` (its first column).
pub(super) fn timestamps(batch: &RecordBatch) -> Result<ArrayRef> {
    batch
        .column_by_name(columns::TIMESTAMP)
        .cloned()
        .ok_or_else(|| {
            client::Error::Decode {
                url: "(newest-first read)".into(),
                message: "a batch without its timestamp column".into(),
            }
            .into()
        })
}

/// The rows of `batch` that `kept` keeps: their timestamps, and the
/// columns `projection` of them.
pub(super) fn kept_rows(
    batch: &RecordBatch,
    ts: &ArrayRef,
    kept: Option<&BooleanArray>,
    projection: &[usize],
) -> Result<(ArrayRef, RecordBatch)> {
    let projected = batch.project(projection)?;
    match kept {
        None => Ok((Arc::clone(ts), projected)),
        // A null (unknown) filter result keeps no row.
        Some(kept) => Ok((
            datafusion::arrow::compute::filter(ts, kept)?,
            filter_record_batch(&projected, kept)?,
        )),
    }
}

/// Which rows of `batch` the statement's filters keep (`None`: all).
pub(super) fn keeps(
    predicate: Option<&Arc<dyn PhysicalExpr>>,
    batch: &RecordBatch,
) -> Result<Option<BooleanArray>> {
    let Some(p) = predicate else {
        return Ok(None);
    };
    let value = p.evaluate(batch).map_err(Error::from)?;
    let array = value.into_array(batch.num_rows()).map_err(Error::from)?;
    Ok(Some(array.as_boolean().clone()))
}

/// Commit the events of `read.range` among `read.batches` as a segment.
/// Commit each read into its log's segment. Strict completeness: then fail
/// naming every segment just committed that lacks events, as a planned one
/// would.
pub(super) async fn commit_all(cache: &SegmentCache, reads: &[(&LogScan, &Pending)]) -> Result<()> {
    let mut incomplete = Vec::new();
    for &(scan, read) in reads {
        commit(cache, scan, read).await?;
        if scan.on_incomplete == OnIncomplete::Fail && (read.rejected > 0 || read.beyond) {
            incomplete.push(IncompleteSegment::new(
                scan.log.label(),
                scan.log.id.clone(),
                read.range,
                read.rejected,
                read.beyond,
            ));
        }
    }
    match incomplete.is_empty() {
        true => Ok(()),
        false => Err(Error::Incomplete {
            segments: incomplete,
        }),
    }
}

pub(super) async fn commit(cache: &SegmentCache, scan: &LogScan, read: &Pending) -> Result<()> {
    let request = FetchRequest::new(scan.log.clone(), scan.filter.clone(), read.range);
    let batches = ReadBatches {
        batches: &read.batches,
        rejected: read.rejected,
        beyond_retention: read.beyond,
    };
    commit_batches(cache, &request, batches).await
}

pub(super) fn over_limit(scan: &LogScan, events: u64, limit: u64, rate: f64) -> Error {
    over_limit_while_reading(
        scan.log.label().to_string(),
        Counted::ReadNewestFirst,
        events,
        limit,
        rate,
    )
}
