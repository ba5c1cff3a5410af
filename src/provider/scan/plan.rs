//! Scan planning: for each selected log and window, which cached segments
//! serve it, which settled ranges are missing (to fetch and commit), and
//! which recent ranges are read live; and the Parquet scan over segments.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};

use super::estimate::{self, Estimated, FetchEstimate};
use super::logs::LogRef;
use crate::cache::{MessageForm, PlannedSegment, SegmentCache};
use crate::client::Client;
use crate::config::OnIncomplete;
use crate::error::{Error, IncompleteSegment, Result};
use crate::time::TimeRange;

/// How one log is read for one query.
#[derive(Debug, Clone)]
pub(crate) struct LogScan {
    pub(crate) log: LogRef,
    /// Settled ranges of the query (before `now - settle`): cached or to be
    /// fetched and committed.
    pub(crate) settled: Vec<TimeRange>,
    /// Committed segments serving the settled ranges, when planned.
    pub(crate) segments: Vec<PlannedSegment>,
    /// Settled ranges the cache lacks, split into fetch pieces.
    pub(crate) gaps: Vec<TimeRange>,
    /// Recent ranges (after `now - settle`): read from the API every time.
    pub(crate) live: Vec<TimeRange>,
    /// What fetching the gaps costs, by Rapid7's statistics (when asked).
    /// Logs estimated together (read merged) hold their group's estimate
    /// in the first of them, named by `estimate_label`; the others none.
    pub(crate) estimate: Option<FetchEstimate>,
    /// What `estimate` is of, when it is a group's: `N logs (first, …)`.
    pub(crate) estimate_label: Option<String>,
    /// The canonical LEQL filter pushed to Rapid7 (the inside of
    /// `where(...)`), a superset of what the statement keeps: gaps are
    /// fetched into segments of that filter, and segments of every event or
    /// of exactly that filter serve the scan.
    pub(crate) filter: Option<Arc<str>>,
    /// Whether segments of `filter` are read and written: only for a log
    /// known to send its messages as text ([`MessageForm::Text`]). For a
    /// log not known yet, the filter is pushed but what it selects is read
    /// without caching, and only segments of every event serve the scan.
    pub(crate) filter_cached: bool,
    /// Whether a planned segment that lacks events fails the statement.
    pub(crate) on_incomplete: OnIncomplete,
}

/// The inputs of scan planning.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanInputs {
    pub(crate) now_ms: i64,
    pub(crate) settle_ms: i64,
    pub(crate) chunk_ms: i64,
    pub(crate) on_incomplete: OnIncomplete,
}

/// Plan every (log, window): split windows at `now - settle`, plan cache
/// coverage of the settled part, split gaps into aligned pieces. `filter`
/// is pushed for every log but those `forms` say send JSON objects (a
/// pushed filter is no superset for them), and cached only for logs `forms`
/// say send text (see `fetch/forms.rs`).
pub(crate) async fn plan_scans(
    cache: &SegmentCache,
    logs: Vec<LogRef>,
    windows: &[TimeRange],
    inputs: PlanInputs,
    filter: Option<Arc<str>>,
    forms: &BTreeMap<String, MessageForm>,
) -> Result<Vec<LogScan>> {
    let cut = inputs.now_ms.saturating_sub(inputs.settle_ms);
    let mut settled = Vec::new();
    let mut live = Vec::new();
    for w in windows {
        if w.start() < cut {
            settled.push(TimeRange::new(w.start(), w.end().min(cut))?);
        }
        if w.end() > cut {
            live.push(TimeRange::new(w.start().max(cut), w.end())?);
        }
    }
    let mut plans = Vec::with_capacity(logs.len());
    for log in logs {
        let form = forms.get(&log.id).copied();
        let filter = filter
            .clone()
            .filter(|_| form != Some(MessageForm::Objects));
        let mut scan = LogScan {
            log,
            settled: settled.clone(),
            segments: Vec::new(),
            gaps: Vec::new(),
            live: live.clone(),
            estimate: None,
            estimate_label: None,
            filter_cached: filter.is_some() && form == Some(MessageForm::Text),
            filter,
            on_incomplete: inputs.on_incomplete,
        };
        plans.push(async move {
            scan.replan(cache, inputs.chunk_ms).await?;
            Ok::<_, Error>(scan)
        });
    }
    futures::stream::iter(plans).buffered(8).try_collect().await
}

impl LogScan {
    /// (Re)plan the settled ranges against the cache.
    pub(crate) async fn replan(&mut self, cache: &SegmentCache, chunk_ms: i64) -> Result<()> {
        self.segments.clear();
        self.gaps.clear();
        for range in &self.settled {
            let filter = self.filter.as_deref().filter(|_| self.filter_cached);
            let plan = cache
                .plan_read_filtered(&self.log.id, filter, *range)
                .await?;
            self.segments.extend(plan.segments);
            for gap in plan.coverage.missing {
                self.gaps.extend(split_aligned(gap, chunk_ms));
            }
        }
        Ok(())
    }

    /// The planned segments that lack events (rejected by the decoder, or
    /// past the log's retention), when such a segment fails the statement
    /// ([`OnIncomplete::Fail`]); none otherwise.
    pub(crate) fn incomplete(&self) -> Vec<IncompleteSegment> {
        if self.on_incomplete != OnIncomplete::Fail {
            return Vec::new();
        }
        self.segments
            .iter()
            .map(|p| &p.segment)
            .filter(|s| s.events_rejected() > 0 || s.beyond_retention())
            .map(|s| {
                IncompleteSegment::new(
                    self.log.label(),
                    self.log.id.clone(),
                    s.range(),
                    s.events_rejected(),
                    s.beyond_retention(),
                )
            })
            .collect()
    }

    /// What this scan's estimate is of: its log, or its group of logs.
    pub(crate) fn estimate_label(&self) -> String {
        self.estimate_label
            .clone()
            .unwrap_or_else(|| self.log.label().to_string())
    }

    /// Whether what this scan fetches is committed into segments: always
    /// without a filter, with one only when it is cached (`filter_cached`).
    pub(crate) fn commits(&self) -> bool {
        self.filter.is_none() || self.filter_cached
    }

    /// `log [from, to)` lines for what this scan would have to fetch.
    /// Adjacent pieces are joined: a month offline is one range, not 720.
    pub(crate) fn describe_missing(&self) -> Vec<String> {
        let mut joined: Vec<TimeRange> = Vec::new();
        for r in self.gaps.iter().chain(&self.live) {
            match joined.last_mut() {
                Some(last) if last.end() == r.start() => {
                    *last = TimeRange::ordered(last.start(), r.end());
                }
                _ => joined.push(*r),
            }
        }
        joined.iter().map(|r| self.log.describe(r)).collect()
    }
}

/// [`Error::Incomplete`] when segments the scans read lack events and
/// that fails the statement ([`LogScan::incomplete`]).
pub(crate) fn check_complete<'a>(scans: impl IntoIterator<Item = &'a LogScan>) -> Result<()> {
    let segments: Vec<IncompleteSegment> =
        scans.into_iter().flat_map(LogScan::incomplete).collect();
    if segments.is_empty() {
        return Ok(());
    }
    Err(Error::Incomplete { segments })
}

/// Ask Rapid7 what fetching the gaps of each scan costs, unless the gaps
/// of the statement total only a few minutes (see `estimate.rs`), and join
/// sparse pieces by the answer. With `merged` (the endpoint's merged reads
/// allowed), logs of the same filter and gaps are estimated together, one
/// statistical query a group of at most
/// [`MAX_LOGS_PER_QUERY`](crate::client::MAX_LOGS_PER_QUERY), as they will be
/// read; their pieces are joined alike, so they stay one group.
pub(crate) async fn estimate_scans(
    client: &Client,
    scans: &mut [LogScan],
    chunk_ms: i64,
    merged: bool,
) -> Result<()> {
    let all: Vec<TimeRange> = scans.iter().flat_map(|s| s.gaps.clone()).collect();
    if !estimate::worth_estimating(&all) {
        return Ok(());
    }
    let per_page = client.config().per_page;
    let mut pending = estimate_groups(scans, merged);
    let mut done: Vec<(Vec<usize>, Estimated)> = Vec::new();
    // Rounds of estimates: a dense group is split in two and each half
    // estimated again, at most log2(MAX_LOGS_PER_QUERY) rounds deep.
    while !pending.is_empty() {
        let asks: Vec<_> = pending
            .iter()
            .map(|group| {
                let first = &scans[group[0]];
                let ids: Vec<&str> = group.iter().map(|i| scans[*i].log.id.as_str()).collect();
                async move {
                    estimate::estimate_slices_of(
                        client,
                        &ids,
                        first.filter.as_deref(),
                        &first.gaps,
                        chunk_ms,
                    )
                    .await
                }
            })
            .collect();
        let estimates: Vec<Estimated> = futures::stream::iter(asks)
            .buffered(8)
            .try_collect()
            .await?;
        let mut next = Vec::new();
        for (group, e) in std::mem::take(&mut pending).into_iter().zip(estimates) {
            if is_dense(&e, &scans[group[0]], group.len(), per_page) {
                let (a, b) = group.split_at(group.len() / 2);
                tracing::debug!(
                    logs = group.len(),
                    events = e.total.events,
                    "estimate_group_split"
                );
                next.push(a.to_vec());
                next.push(b.to_vec());
            } else {
                done.push((group, e));
            }
        }
        pending = next;
    }
    for (group, e) in done {
        for (k, i) in group.iter().enumerate() {
            let scan = &mut scans[*i];
            let (pieces, cost) = e.join_sparse(&scan.log.id, &scan.gaps, per_page);
            scan.gaps = pieces;
            scan.estimate = (k == 0).then_some(cost);
            if group.len() > 1 && k == 0 {
                scan.estimate_label =
                    Some(format!("{} logs ({}, …)", group.len(), scan.log.label()));
            }
        }
    }
    Ok(())
}

/// The pieces of each log (`(log, pieces)`, no filter) estimated as a
/// scan's gaps are ([`estimate_scans`]: one statistical query per group of
/// logs with the same pieces where `merged`, a dense group split), joined
/// where sparse: each log's pieces, and what fetching them costs, per
/// estimate (a group's under its label).
pub(crate) async fn estimate_pieces(
    client: &Client,
    logs: Vec<(LogRef, Vec<TimeRange>)>,
    chunk_ms: i64,
    merged: bool,
) -> Result<(Vec<(LogRef, Vec<TimeRange>)>, Vec<(String, FetchEstimate)>)> {
    let mut scans: Vec<LogScan> = logs
        .into_iter()
        .map(|(log, gaps)| LogScan {
            log,
            settled: Vec::new(),
            segments: Vec::new(),
            gaps,
            live: Vec::new(),
            estimate: None,
            estimate_label: None,
            filter: None,
            filter_cached: false,
            on_incomplete: OnIncomplete::default(),
        })
        .collect();
    estimate_scans(client, &mut scans, chunk_ms, merged).await?;
    let costs = scans
        .iter()
        .filter_map(|s| {
            let label = s
                .estimate_label
                .clone()
                .unwrap_or_else(|| s.log.label().to_string());
            s.estimate.map(|e| (label, e))
        })
        .collect();
    Ok((scans.into_iter().map(|s| (s.log, s.gaps)).collect(), costs))
}

/// Whether a group of `logs` logs (`logs > 1`) sharing `scan`'s gaps is
/// dense by its estimate `e`: read merged, it would take more pieces (a
/// query each, beyond its pages) than it has logs, where its logs read one
/// by one might join their sparse pieces into one each. Pages cost the same
/// merged or not (a page of one log's events or of several): the pieces
/// are what a group can add.
fn is_dense(e: &Estimated, scan: &LogScan, logs: usize, per_page: u32) -> bool {
    if logs < 2 {
        return false;
    }
    let (pieces, _) = e.join_sparse(&scan.log.id, &scan.gaps, per_page);
    pieces.len() > logs
}

/// The scans with gaps, in groups estimated by one query each: alone, or
/// with `merged`, by filter and gaps (at most
/// [`MAX_LOGS_PER_QUERY`](crate::client::MAX_LOGS_PER_QUERY) a group, a
/// larger set cut into equal groups).
fn estimate_groups(scans: &[LogScan], merged: bool) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, s) in scans.iter().enumerate() {
        if s.gaps.is_empty() {
            continue;
        }
        let same = |g: &&mut Vec<usize>| {
            let first = &scans[g[0]];
            merged
                && first.filter == s.filter
                && first.gaps == s.gaps
                && g.iter().all(|j| scans[*j].log.id != s.log.id)
        };
        match groups.iter_mut().find(same) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let max = crate::client::MAX_LOGS_PER_QUERY;
    groups
        .into_iter()
        .flat_map(|g| {
            let parts = g.len().div_ceil(max);
            let size = g.len().div_ceil(parts);
            g.chunks(size).map(<[usize]>::to_vec).collect::<Vec<_>>()
        })
        .collect()
}

/// Split `range` at multiples of `chunk_ms` (epoch-aligned), so pieces of
/// different queries line up.
pub(crate) fn split_aligned(range: TimeRange, chunk_ms: i64) -> Vec<TimeRange> {
    let chunk = chunk_ms.max(1);
    let mut out = Vec::new();
    let mut start = range.start();
    while start < range.end() {
        let next = (start.div_euclid(chunk) + 1).saturating_mul(chunk);
        let end = next.min(range.end());
        out.push(TimeRange::new(start, end).expect("start < end"));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: i64, b: i64) -> TimeRange {
        TimeRange::new(a, b).unwrap()
    }

    #[test]
    fn split_aligned_pieces() {
        assert_eq!(
            split_aligned(r(5, 25), 10),
            vec![r(5, 10), r(10, 20), r(20, 25)]
        );
        assert_eq!(split_aligned(r(10, 20), 10), vec![r(10, 20)]);
        assert_eq!(split_aligned(r(11, 12), 10), vec![r(11, 12)]);
        assert_eq!(split_aligned(r(-15, -5), 10), vec![r(-15, -10), r(-10, -5)]);
    }
}
