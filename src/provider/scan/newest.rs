//! Newest first: `ORDER BY timestamp DESC … LIMIT N` over a window the cache
//! lacks reads pages newest first (`most_recent_first=true`) and stops as
//! soon as the newest `N` events the statement keeps are in hand.
//!
//! - The window's ranges are taken newest first: cached segments (read
//!   whole, from the cache), missing pieces and the recent edge (read from
//!   their end downwards, page by page), until `N` events that pass the
//!   statement's filters were read, and then on to the first event of an
//!   older millisecond: the millisecond of the `N`th event is read whole, so
//!   ties there (a burst of hundreds of events in one millisecond) are all
//!   in hand, whatever order Rapid7 returns within a millisecond. Older
//!   ranges are not touched: a repeated statement over a cached newest part
//!   asks nothing.
//! - Events stamped at or after a piece's exclusive end (an inclusive `to`
//!   returns them) are dropped by the page decoder.
//! - What was read is a complete sub-window: every event newer than the
//!   oldest one read. Each piece read whole, and the read part of the piece
//!   where reading stopped, is committed as a segment (of the pushed filter,
//!   if any); the recent edge is not.
//! - A read that passes the statement's limit of events
//!   (`max_fetch_events`) without finding `N` fails, like any fetch over it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::TimestampMillisecondType;
use datafusion::physical_plan::PhysicalExpr;
use futures::TryStreamExt;

use super::estimate::{Cost, FetchEstimate};
use super::fetch::Fetcher;
use super::plan::LogScan;
use crate::cache::{CommitOutcome, PlannedSegment, SegmentCache};
use crate::error::{Error, Result};
use crate::events::{columns, with_log_name};
use crate::time::TimeRange;

/// When a newest-first read may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop {
    want: usize,
    kept: usize,
    /// The timestamp of the `want`th kept event, once there is one.
    boundary: Option<i64>,
    /// The oldest timestamp read so far.
    oldest: Option<i64>,
}

impl Stop {
    pub(crate) fn new(want: usize) -> Self {
        Stop {
            want,
            kept: 0,
            boundary: None,
            oldest: None,
        }
    }

    /// One event read (newest first), and whether the statement keeps it.
    pub(crate) fn event(&mut self, ts: i64, kept: bool) {
        self.oldest = Some(self.oldest.map_or(ts, |o| o.min(ts)));
        if kept {
            self.kept += 1;
            if self.kept == self.want {
                self.boundary = Some(ts);
            }
        }
    }

    /// Whether everything the statement can need is in hand: `want` kept
    /// events, and an event of a millisecond older than the `want`th's.
    pub(crate) fn done(&self) -> bool {
        self.want == 0 || matches!((self.boundary, self.oldest), (Some(b), Some(o)) if o < b)
    }

    /// Every event at or after this instant has been read.
    pub(crate) fn complete_from(&self) -> Option<i64> {
        self.oldest.map(|o| o.saturating_add(1))
    }
}

/// What one log's newest-first read produced.
pub(crate) struct Read {
    pub(crate) batches: Vec<RecordBatch>,
    pub(crate) events: u64,
}

/// Read `scan`'s missing pieces and recent edge newest first until the
/// newest `want` events `predicate` keeps are in hand; commit what was read
/// completely. `limit` caps the events read (0: none).
pub(crate) async fn read_newest(
    fetcher: &Fetcher,
    cache: &SegmentCache,
    scan: &LogScan,
    predicate: Option<&Arc<dyn PhysicalExpr>>,
    want: usize,
    limit: u64,
    rate: f64,
) -> Result<Read> {
    enum Source<'a> {
        Cached(&'a PlannedSegment),
        Api { cacheable: bool },
    }
    let mut ranges: Vec<(TimeRange, Source<'_>)> = scan
        .segments
        .iter()
        .map(|s| (s.responsible, Source::Cached(s)))
        .chain(scan.gaps.iter().map(|g| {
            let cacheable = !cache.is_bypass() && scan.commits();
            (*g, Source::Api { cacheable })
        }))
        .chain(
            scan.live
                .iter()
                .map(|r| (*r, Source::Api { cacheable: false })),
        )
        .collect();
    ranges.sort_by_key(|(r, _)| std::cmp::Reverse(r.end()));
    let mut stop = Stop::new(want);
    let mut out = Read {
        batches: Vec::new(),
        events: 0,
    };
    for (range, source) in ranges {
        if stop.done() {
            break;
        }
        let cacheable = match source {
            Source::Cached(planned) => {
                let name = scan.log.name.as_deref();
                let batches: Vec<RecordBatch> = cache
                    .read(planned)
                    .and_then(|b| async move { with_log_name(b, name) })
                    .try_collect()
                    .await?;
                let mut seen: Vec<(i64, bool)> = Vec::new();
                for batch in &batches {
                    let kept = keeps(predicate, batch)?;
                    if let Some(ts) = batch.column_by_name(columns::TIMESTAMP) {
                        let ts = ts.as_primitive::<TimestampMillisecondType>();
                        for (i, t) in ts.values().iter().enumerate() {
                            let k = kept.as_ref().is_none_or(|k| k.value(i) && !k.is_null(i));
                            seen.push((*t, k));
                        }
                    }
                }
                // Newest first, as a page read would give them.
                seen.sort_by(|a, b| b.cmp(a));
                for (t, k) in seen {
                    stop.event(t, k);
                }
                out.batches.extend(batches);
                continue;
            }
            Source::Api { cacheable } => cacheable,
        };
        let mut pages = fetcher.pages_newest_first(&scan.log, scan.filter.as_deref(), range)?;
        let mut read: Vec<RecordBatch> = Vec::new();
        let mut rejected = 0;
        let mut beyond = false;
        let mut whole = true;
        while let Some((batch, stats)) = pages.try_next().await? {
            rejected += stats.failed;
            beyond |= stats.beyond_retention;
            let kept = keeps(predicate, &batch)?;
            let ts = batch
                .column_by_name(columns::TIMESTAMP)
                .map(|c| c.as_primitive::<TimestampMillisecondType>().clone());
            if let Some(ts) = ts {
                for (i, t) in ts.values().iter().enumerate() {
                    stop.event(
                        *t,
                        kept.as_ref().is_none_or(|k| k.value(i) && !k.is_null(i)),
                    );
                }
            }
            out.events += batch.num_rows() as u64;
            if limit > 0 && out.events > limit {
                return Err(over_limit(scan, out.events, limit, rate));
            }
            read.push(batch);
            if stop.done() {
                whole = false;
                break;
            }
        }
        drop(pages);
        if cacheable {
            let complete = if whole {
                Some(range)
            } else {
                stop.complete_from()
                    .and_then(|from| TimeRange::new(from.max(range.start()), range.end()).ok())
            };
            if let Some(done) = complete {
                commit(cache, scan, done, &read, rejected, beyond).await?;
            }
        }
        out.batches.extend(read);
    }
    Ok(out)
}

/// Which rows of `batch` the statement's filters keep (`None`: all).
fn keeps(
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

/// Commit the events of `range` among `read` as a segment.
async fn commit(
    cache: &SegmentCache,
    scan: &LogScan,
    range: TimeRange,
    read: &[RecordBatch],
    rejected: u64,
    beyond: bool,
) -> Result<()> {
    let mut writer = cache.writer_filtered(&scan.log.id, scan.filter.as_deref(), range)?;
    if rejected > 0 {
        writer.record_rejected(rejected);
    }
    if beyond {
        writer.record_beyond_retention();
    }
    for batch in read {
        let ts = batch
            .column_by_name(columns::TIMESTAMP)
            .map(|c| c.as_primitive::<TimestampMillisecondType>().clone());
        let Some(ts) = ts else { continue };
        let inside: BooleanArray = ts.iter().map(|t| t.map(|t| range.contains(t))).collect();
        let batch = filter_record_batch(batch, &inside)?;
        if batch.num_rows() > 0
            && let Err(e) = writer.push(batch).await
        {
            writer.abort().await.ok();
            return Err(e);
        }
    }
    match writer.commit().await? {
        CommitOutcome::Committed(_) | CommitOutcome::AlreadyCommitted | CommitOutcome::Bypassed => {
            Ok(())
        }
    }
}

fn over_limit(scan: &LogScan, events: u64, limit: u64, rate: f64) -> Error {
    let estimate = FetchEstimate {
        events,
        queries: events / 500 + 1,
    };
    Error::FetchBudget {
        cost: Cost {
            estimate,
            duration: estimate.duration_at(rate),
        }
        .to_string(),
        events,
        queries: estimate.queries,
        limit,
        largest: vec![format!(
            "{} (newest first, still short of the rows asked for)",
            scan.log.label()
        )],
        not_pushed: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_stops_past_the_millisecond_of_the_nth_kept_event() {
        let mut s = Stop::new(3);
        for (ts, kept) in [(100, true), (99, false), (99, true), (97, true)] {
            s.event(ts, kept);
        }
        // The 3rd kept event is at 97: 97 may hold more (a burst).
        assert!(!s.done());
        s.event(97, false);
        s.event(97, true);
        assert!(!s.done());
        s.event(96, false);
        assert!(s.done());
        assert_eq!(s.complete_from(), Some(97));
        // Nothing asked: done at once.
        assert!(Stop::new(0).done());
        // Never enough: never done.
        let mut few = Stop::new(5);
        for ts in (0..100).rev() {
            few.event(ts, ts % 50 == 0);
        }
        assert!(!few.done());
        assert_eq!(few.complete_from(), Some(1));
    }
}
