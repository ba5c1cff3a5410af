//! Newest first over many logs: the logs of one plan (the same filter,
//! cached segments over the same ranges, the same missing pieces and
//! recent edge) are read together, one merged newest-first query per
//! range the cache lacks ([`Fetcher::merged_newest_pages`]), until the
//! newest `N` kept events of all of them are in hand. A statement over 200
//! logs that wants the newest 10 then costs a query or so per range, not
//! one per log.
//!
//! - The rules of a single log's newest-first read hold over the merged
//!   stream (`newest.rs`, `newest_rule.rs`): an event of any log read
//!   newest first means every event of every log newer than its
//!   millisecond is in hand; each page must go back in time against the
//!   page before (the client checks the order within a page, strictly
//!   decreasing `(timestamp, sequence_number)`, and that every event is of
//!   a log asked for).
//! - A cached range is read log by log, each from where the group stands
//!   and until its own stop: what the group holds is then complete from the
//!   latest point any log's read reached down to.
//! - What was read completely is split by log into the usual per-log
//!   segments (one per log, empty ones too), committed once the whole read
//!   succeeded.
//! - On any violation (a page of the wrong order, or out of order against
//!   the page before, an event of a log not asked for), a refused merged
//!   query (4xx) or an answer beyond retention, the read ends, commits
//!   nothing, and its logs are read one by one newest first (`newest.rs`).
//!   A violation is remembered for the endpoint
//!   ([`crate::cache::EndpointFacts::merged_newest_first`]): a request form
//!   of its own, judged apart from oldest-first merged reads and from
//!   single-log newest-first reads.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::TimestampMillisecondType;
use futures::TryStreamExt;

use super::newest::{
    CachedRead, Held, Pending, ReadInputs, ReadState, commit_all, keeps, kept_rows, over_limit,
    read_range, split_at_cutoff, timestamps,
};
use crate::client::{MAX_LOGS_PER_QUERY, merged_unusable};
use crate::error::{Error, Result};
use crate::fetch::FetchRequest;
use crate::provider::scan::newest_rule::{NEWEST_FIRST_SINCE_MS, PageOrder, Stop};
use crate::provider::scan::plan::LogScan;
use crate::time::TimeRange;

/// What a group's newest-first read produced.
pub(super) enum GroupRead {
    /// The rows (of the scan's projection) the statement may need, of all
    /// the group's logs, and the events each log read from the API.
    Read {
        batches: Vec<RecordBatch>,
        events: Vec<u64>,
    },
    /// The merged read cannot be used (`why`); nothing was committed, and
    /// the logs are to be read one by one. `broken`: an answer broke a rule
    /// (remember the endpoint).
    Fallback {
        why: String,
        broken: bool,
        /// Events read from the API before it showed.
        events: u64,
    },
}

/// Whether two scans share their plan but for the log (what the logs of
/// a group share).
fn same_plan(a: &LogScan, b: &LogScan) -> bool {
    let segments = |s: &LogScan| s.segments.iter().map(|p| p.responsible).collect::<Vec<_>>();
    (a.filter == b.filter)
        && a.commits() == b.commits()
        && a.on_incomplete == b.on_incomplete
        && a.gaps == b.gaps
        && a.live == b.live
        && segments(a) == segments(b)
}

/// The scans (by index) to read together: at least two logs of one plan
/// with something to read from the API, each log once, at most
/// [`MAX_LOGS_PER_QUERY`] a group (a larger set cut into equal groups).
pub(super) fn groups(scans: &[LogScan]) -> Vec<Vec<usize>> {
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for (i, scan) in scans.iter().enumerate() {
        if scan.gaps.is_empty() && scan.live.is_empty() {
            continue;
        }
        let home = sets.iter_mut().find(|set| {
            let first = &scans[set[0]];
            same_plan(first, scan) && set.iter().all(|j| scans[*j].log.id != scan.log.id)
        });
        match home {
            Some(set) => set.push(i),
            None => sets.push(vec![i]),
        }
    }
    let mut out = Vec::new();
    for set in sets.into_iter().filter(|s| s.len() > 1) {
        let parts = set.len().div_ceil(MAX_LOGS_PER_QUERY);
        let size = set.len().div_ceil(parts);
        out.extend(set.chunks(size).map(<[usize]>::to_vec));
    }
    out
}

/// Where a range of the group's plan is read from.
enum Source {
    /// The `k`th planned segment of every log.
    Cached(usize),
    Api {
        cacheable: bool,
    },
}

/// Read `scans` (one plan, see [`groups`]) newest first, together, until
/// the newest `want` events `predicate` keeps of them all are in hand;
/// commit what was read completely from the API; see the module docs.
pub(super) async fn read_group(inputs: &ReadInputs<'_>, scans: &[&LogScan]) -> Result<GroupRead> {
    let first = scans[0];
    let cacheable = !inputs.cache.is_bypass() && first.commits();
    let mut ranges: Vec<(TimeRange, Source)> = first
        .segments
        .iter()
        .enumerate()
        .map(|(k, s)| (s.responsible, Source::Cached(k)))
        .chain(
            first
                .gaps
                .iter()
                .flat_map(|g| split_at_cutoff(*g))
                .map(|g| (g, Source::Api { cacheable })),
        )
        .chain(
            first
                .live
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
    let mut events = vec![0u64; scans.len()];
    let mut pending: Vec<(usize, Pending)> = Vec::new();
    let cached = CachedRead::new(inputs)?;
    for (range, source) in ranges {
        if state.stop.done() {
            break;
        }
        let cacheable = match source {
            Source::Cached(k) => {
                read_cached(inputs, &cached, scans, k, range, &mut state).await?;
                continue;
            }
            Source::Api { cacheable } => cacheable,
        };
        let read = if range.start() >= NEWEST_FIRST_SINCE_MS {
            read_merged(inputs, scans, range, cacheable, &mut state, &mut events).await?
        } else {
            read_each(inputs, scans, range, cacheable, &mut state, &mut events).await?
        };
        match read {
            Ok(reads) => pending.extend(reads),
            Err(fallback) => return Ok(fallback),
        }
    }
    let reads: Vec<_> = pending.iter().map(|(i, read)| (scans[*i], read)).collect();
    commit_all(inputs.cache, &reads).await?;
    state.held.trim(state.stop.boundary(), 0)?;
    Ok(GroupRead::Read {
        batches: state.held.batches.into_iter().map(|(_, b)| b).collect(),
        events,
    })
}

/// Read the `k`th planned segment of each log, each from where the group
/// stands until its own stop; the group then holds every event at or after
/// the latest point any log's read reached down to.
async fn read_cached(
    inputs: &ReadInputs<'_>,
    cached: &CachedRead,
    scans: &[&LogScan],
    k: usize,
    range: TimeRange,
    state: &mut ReadState,
) -> Result<()> {
    let mut reached = i64::MIN;
    for scan in scans {
        let mut one = ReadState {
            stop: state.stop.clone(),
            held: Held::default(),
            events: 0,
        };
        cached
            .read(inputs, &scan.segments[k], &scan.log, &mut one)
            .await?;
        reached = reached.max(one.stop.complete_from().unwrap_or(range.start()));
        for (ts, batch) in one.held.batches {
            for t in ts.as_primitive::<TimestampMillisecondType>().values() {
                state.stop.kept(*t);
            }
            state.held.push(ts, batch);
        }
    }
    state.stop.covered_from(reached);
    state.held.trim(state.stop.boundary(), inputs.want)
}

/// A range before newest-first reads apply: each log's read oldest first,
/// whole, one after the other.
async fn read_each(
    inputs: &ReadInputs<'_>,
    scans: &[&LogScan],
    range: TimeRange,
    cacheable: bool,
    state: &mut ReadState,
    events: &mut [u64],
) -> Result<std::result::Result<Vec<(usize, Pending)>, GroupRead>> {
    let mut reads = Vec::new();
    for (i, scan) in scans.iter().enumerate() {
        let before = state.events;
        let read = read_range(inputs, scan, range, cacheable, state).await?;
        events[i] += state.events - before;
        match read {
            Ok(Some(read)) => reads.push((i, read)),
            Ok(None) => {}
            // Oldest first, no order is checked.
            Err(_) => {}
        }
    }
    Ok(Ok(reads))
}

/// Read `range` of every log of `scans` by one merged newest-first query,
/// each page checked; `Ok(Err(_))` when it cannot be used.
async fn read_merged(
    inputs: &ReadInputs<'_>,
    scans: &[&LogScan],
    range: TimeRange,
    cacheable: bool,
    state: &mut ReadState,
    events: &mut [u64],
) -> Result<std::result::Result<Vec<(usize, Pending)>, GroupRead>> {
    let requests: Vec<FetchRequest> = scans
        .iter()
        .map(|s| FetchRequest::new(s.log.clone(), s.filter.clone(), range))
        .collect();
    let label = format!("{} logs {range}", scans.len());
    let fallback = |why: String, broken: bool, state: &ReadState| GroupRead::Fallback {
        why,
        broken,
        events: state.events,
    };
    let mut pages = inputs.fetcher.merged_newest_pages(&requests)?;
    let mut checked = PageOrder::default();
    let mut reads: Vec<Pending> = scans
        .iter()
        .map(|_| Pending {
            range,
            batches: Vec::new(),
            rejected: 0,
            beyond: false,
        })
        .collect();
    let mut whole = true;
    loop {
        let page = match pages.try_next().await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(Error::Client(e)) if merged_unusable(&e).is_some() => {
                let broken = merged_unusable(&e).unwrap_or(false);
                return Ok(Err(fallback(format!("{label}: {e}"), broken, state)));
            }
            Err(e) => return Err(e),
        };
        // The page's kept events newest first (the client checked that
        // they came so, across its logs).
        let mut stamps: Vec<i64> = Vec::new();
        for batch in page.logs.iter().filter_map(|(b, _)| b.as_ref()) {
            let ts = timestamps(batch)?;
            stamps.extend(ts.as_primitive::<TimestampMillisecondType>().values());
        }
        stamps.sort_unstable_by(|a, b| b.cmp(a));
        if let Err(why) = checked.page(&stamps, page.stats.min_timestamp, page.stats.max_timestamp)
        {
            return Ok(Err(fallback(format!("{label}: {why}"), true, state)));
        }
        for (i, (batch, stats)) in page.logs.into_iter().enumerate() {
            reads[i].rejected += stats.failed;
            reads[i].beyond |= stats.beyond_retention;
            let Some(batch) = batch else { continue };
            // The filters and the projection read the table's columns
            // (`logset` too); the commit takes the events as decoded.
            let row = inputs.sets.with_column(batch.clone())?;
            let ts = timestamps(&row)?;
            let kept = keeps(inputs.predicate, &row)?;
            let is_kept = |j: usize| kept.as_ref().is_none_or(|k| k.value(j) && !k.is_null(j));
            for (j, t) in ts
                .as_primitive::<TimestampMillisecondType>()
                .values()
                .iter()
                .enumerate()
            {
                state.stop.event(*t, is_kept(j));
            }
            let rows = batch.num_rows() as u64;
            state.events += rows;
            events[i] += rows;
            let so_far = inputs.spent.saturating_add(state.events);
            if inputs.limit > 0 && so_far > inputs.limit {
                return Err(over_limit(scans[i], so_far, inputs.limit, inputs.rate));
            }
            let (ts_kept, rows) = kept_rows(&row, &ts, kept.as_ref(), inputs.projection)?;
            state.held.push(ts_kept, rows);
            if cacheable {
                reads[i].batches.push(batch);
            }
        }
        if state.stop.done() {
            whole = false;
            break;
        }
        state.held.trim(state.stop.boundary(), inputs.want)?;
    }
    drop(pages);
    if !checked.shown() {
        let why = format!("{label}: pages of one millisecond each, which show no order");
        return Ok(Err(fallback(why, false, state)));
    }
    if whole {
        state.stop.covered_from(range.start());
    }
    if !cacheable {
        return Ok(Ok(Vec::new()));
    }
    let complete = if whole {
        Some(range)
    } else {
        state
            .stop
            .complete_from()
            .and_then(|from| TimeRange::new(from.max(range.start()), range.end()).ok())
    };
    let Some(done) = complete else {
        return Ok(Ok(Vec::new()));
    };
    Ok(Ok(reads
        .into_iter()
        .map(|mut read| {
            read.range = done;
            read
        })
        .enumerate()
        .collect()))
}
