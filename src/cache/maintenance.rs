//! Maintenance: verify, drop and compaction (gc: `gc.rs`).
//!
//! Every operation keeps the cache readable while it runs. Dropping a
//! segment removes its manifest first (the segment disappears at once) and
//! its parts after. Compaction commits the merged segment before it
//! retires the ones it replaces (`retire.rs`): they leave the listing at
//! once, and their parts stay for readers that planned over them until a
//! later gc or compaction finds the grace period over. Readers assign each
//! instant to exactly one segment, and the merged one (longer, same start)
//! wins, so no state double counts or loses rows.

use std::time::Duration;

use futures::TryStreamExt;

use super::check::check_part;
use super::config::WriterSettings;
use super::error::{Error as CacheError, Result as CacheResult};
use super::gc::purge_retired;
use super::index::scan_log;
use super::layout::{is_segment_file, log_dir, parse_path};
use super::objects::{delete_objects, list_objects};
use super::reader::read_segment;
use super::retire::{Retirement, retire_segment};
use super::segment::SegmentInfo;
use super::store::CacheRoot;
use super::writer::{CommitOutcome, SegmentWriter};
use crate::error::{Error, Result};
use crate::time::TimeRange;

/// One segment that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyFailure {
    /// The segment's location.
    pub segment: String,
    /// What is wrong.
    pub message: String,
}

/// Result of [`SegmentCache::verify`](super::SegmentCache::verify).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Segments looked at (good or bad).
    pub segments_checked: usize,
    /// Parts fully decoded.
    pub parts_checked: usize,
    /// Rows decoded.
    pub rows_checked: u64,
    /// Segments that are corrupt or unreadable.
    pub failures: Vec<VerifyFailure>,
    /// Committed segments of the same log (and filter) whose ranges
    /// overlap: suspicious (two writers raced, or a compaction was
    /// interrupted between its commit and the retirement of what it
    /// merged), not a failure. Reads still resolve them, each instant from
    /// exactly one segment; `cache compact` or `cache drop` clears them.
    pub overlaps: Vec<VerifyOverlap>,
}

/// Two committed segments whose ranges overlap.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyOverlap {
    /// The log's id.
    pub log_id: String,
    /// The segments' filter (`None`: segments of every event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The earlier segment's range (RFC 3339, half-open).
    pub first: String,
    /// The later segment's range.
    pub second: String,
    /// The range both hold.
    pub overlap: String,
}

/// The overlapping pairs among `keys` (one log's segments): each pair of
/// the same filter whose ranges share an instant.
fn overlaps(log_id: &str, keys: &[(TimeRange, Option<String>)]) -> Vec<VerifyOverlap> {
    let mut sorted: Vec<&(TimeRange, Option<String>)> = keys.iter().collect();
    sorted.sort_by_key(|(r, f)| (f.clone(), r.start(), r.end()));
    let mut found = Vec::new();
    for (i, (a, fa)) in sorted.iter().enumerate() {
        for (b, fb) in &sorted[i + 1..] {
            if fb != fa || b.start() >= a.end() {
                break;
            }
            let shared =
                TimeRange::new(b.start(), a.end().min(b.end())).expect("b starts before a ends");
            found.push(VerifyOverlap {
                log_id: log_id.to_string(),
                filter: fa.clone(),
                first: a.to_string(),
                second: b.to_string(),
                overlap: shared.to_string(),
            });
        }
    }
    found
}

/// Result of a drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DropReport {
    /// Committed segments removed.
    pub segments: usize,
    /// Objects deleted (manifests, parts, leftovers).
    pub objects: usize,
    /// Files under the log's directory that the cache did not write (not
    /// a manifest or a part of its naming, or not where the layout puts
    /// them): left in place, each named in a warning.
    pub foreign_kept: usize,
}

/// Which segments [`SegmentCache::compact`](super::SegmentCache::compact) merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactOptions {
    /// Only segments with fewer rows than this are merged. Default 100 000.
    pub small_segment_rows: u64,
    /// A merged segment holds at most this many rows. Default 2 000 000.
    pub max_merged_rows: u64,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            small_segment_rows: 100_000,
            max_merged_rows: 2_000_000,
        }
    }
}

/// Result of a compaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactReport {
    /// Merged segments committed.
    pub segments_written: usize,
    /// Segments replaced (merged, or fully shadowed by another segment):
    /// retired from the listing at once, their parts deleted by a later gc
    /// or compaction once the grace period has passed.
    pub segments_removed: usize,
    /// Segments retired earlier whose grace period was over: deleted.
    pub segments_purged: usize,
}

pub(crate) async fn verify(
    root: &CacheRoot,
    log_id: Option<&str>,
    concurrency: usize,
) -> Result<VerifyReport> {
    let logs = match log_id {
        Some(id) => vec![id.to_string()],
        None => super::index::list_logs(root).await?,
    };
    let mut report = VerifyReport::default();
    for log in logs {
        let scanned_log = scan_log(root, &log, concurrency).await?;
        let keys: Vec<(TimeRange, Option<String>)> = scanned_log
            .iter()
            .map(|(key, _)| (key.range, key.filter.clone()))
            .collect();
        report.overlaps.extend(overlaps(&log, &keys));
        for (key, scanned) in scanned_log {
            let range = key.range;
            report.segments_checked += 1;
            let outcome = match scanned {
                Ok(seg) => verify_segment(root, &seg, &mut report).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = outcome {
                let (segment, message) = match e {
                    Error::Cache(CacheError::CorruptSegment { segment, message }) => {
                        (segment, message)
                    }
                    other => (format!("{log} {range}"), other.to_string()),
                };
                report.failures.push(VerifyFailure { segment, message });
            }
        }
    }
    Ok(report)
}

async fn verify_segment(
    root: &CacheRoot,
    seg: &SegmentInfo,
    report: &mut VerifyReport,
) -> Result<()> {
    for (part, path) in seg.part_entries() {
        check_part(root, seg, part, path).await?;
    }
    let mut rows = 0u64;
    let mut batches = read_segment(root, seg, seg.range());
    while let Some(batch) = batches.try_next().await? {
        rows += batch.num_rows() as u64;
    }
    if rows != seg.row_count() {
        return Err(seg
            .corrupt(format!(
                "{rows} rows lie inside the range, the manifest says {}",
                seg.row_count()
            ))
            .into());
    }
    report.parts_checked += seg.manifest().parts.len();
    report.rows_checked += rows;
    Ok(())
}

pub(crate) async fn drop_log(
    root: &CacheRoot,
    log_id: &str,
    concurrency: usize,
) -> Result<DropReport> {
    drop_where(root, log_id, None, concurrency).await
}

/// Drop every segment directory of `log_id` whose range overlaps `range`,
/// whether its manifest parses or not (so corrupt segments can be dropped).
pub(crate) async fn drop_range(
    root: &CacheRoot,
    log_id: &str,
    range: TimeRange,
    concurrency: usize,
) -> Result<DropReport> {
    drop_where(root, log_id, Some(range), concurrency).await
}

/// Delete the files the cache wrote for `log_id` (in segments overlapping
/// `range`, if given): manifests and parts of its naming where the layout
/// puts them. Anything else under the log's directory is left alone.
async fn drop_where(
    root: &CacheRoot,
    log_id: &str,
    range: Option<TimeRange>,
    concurrency: usize,
) -> Result<DropReport> {
    let dir = log_dir(root.prefix(), log_id)?;
    let mut paths = Vec::new();
    let mut foreign_kept = 0;
    for o in list_objects(root, &dir).await? {
        match parse_path(root.prefix(), &o.location) {
            Some(p) if p.log_id == log_id && is_segment_file(&p.file) => {
                if range.is_none_or(|r| p.range.overlaps(&r)) {
                    paths.push(o.location);
                }
            }
            _ => {
                foreign_kept += 1;
                tracing::warn!(
                    path = %root.display_path(&o.location),
                    "cache_drop_kept_foreign_file"
                );
            }
        }
    }
    let (segments, objects) = delete_objects(root, paths, concurrency).await?;
    match range {
        Some(range) => {
            tracing::info!(log_id, %range, segments, objects, foreign_kept, "cache_range_dropped")
        }
        None => tracing::info!(log_id, segments, objects, foreign_kept, "cache_log_dropped"),
    }
    Ok(DropReport {
        segments,
        objects,
        foreign_kept,
    })
}

pub(crate) async fn compact(
    root: &CacheRoot,
    log_id: &str,
    options: CompactOptions,
    settings: &WriterSettings,
    grace: Duration,
    concurrency: usize,
) -> Result<CompactReport> {
    let mut report = CompactReport {
        segments_purged: purge_retired(root, &log_dir(root.prefix(), log_id)?, grace, concurrency)
            .await?,
        ..CompactReport::default()
    };
    let segments: Vec<SegmentInfo> = scan_log(root, log_id, concurrency)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect::<CacheResult<_>>()?;

    // A segment inside another one that serves every statement it serves
    // (one of every event, or one of the same filter) is never read: retire
    // it. A segment of every event inside a filtered one is still read.
    let container = |s: &SegmentInfo| {
        segments
            .iter()
            .filter(|o| o.filter().is_none() || o.filter() == s.filter())
            .map(SegmentInfo::range)
            .find(|o| *o != s.range() && o.contains_range(&s.range()))
    };
    let mut live = Vec::new();
    for seg in &segments {
        match container(seg) {
            Some(by) => {
                retire_segment(root, seg, Retirement::ReplacedBy(by)).await?;
                report.segments_removed += 1;
            }
            None => live.push(seg),
        }
    }
    // Runs of small adjacent segments of the same filter merge.
    live.sort_by(|a, b| (a.filter(), a.range()).cmp(&(b.filter(), b.range())));
    let mut groups: Vec<Vec<&SegmentInfo>> = Vec::new();
    let mut current: Vec<&SegmentInfo> = Vec::new();
    let mut current_rows = 0u64;
    for seg in live {
        let small = seg.row_count() < options.small_segment_rows;
        let joins = small
            && current.last().is_some_and(|last| {
                last.filter() == seg.filter() && last.range().end() == seg.range().start()
            })
            && current_rows + seg.row_count() <= options.max_merged_rows;
        if !joins {
            groups.push(std::mem::take(&mut current));
            current_rows = 0;
        }
        if small {
            current.push(seg);
            current_rows += seg.row_count();
        }
    }
    groups.push(current);

    for group in groups.into_iter().filter(|g| g.len() >= 2) {
        let (first, last) = (group[0].range(), group[group.len() - 1].range());
        let union = TimeRange::new(first.start(), last.end())?;
        let filter = group[0].filter();
        let mut writer = SegmentWriter::new(Some(root), log_id, filter, union, settings.clone())?;
        if let Err(e) = copy_segments(root, &group, &mut writer).await {
            writer.abort().await?;
            return Err(e);
        }
        match writer.commit().await? {
            CommitOutcome::Committed(_) => report.segments_written += 1,
            CommitOutcome::AlreadyCommitted | CommitOutcome::Bypassed => {}
        }
        for seg in &group {
            retire_segment(root, seg, Retirement::ReplacedBy(union)).await?;
            report.segments_removed += 1;
        }
        tracing::info!(log_id, range = %union, merged = group.len(), "cache_segments_compacted");
    }
    Ok(report)
}

async fn copy_segments(
    root: &CacheRoot,
    group: &[&SegmentInfo],
    writer: &mut SegmentWriter,
) -> Result<()> {
    for seg in group {
        // What the merged segment lacks is what its pieces lacked.
        writer.record_rejected(seg.events_rejected());
        if seg.beyond_retention() {
            writer.record_beyond_retention();
        }
        let mut batches = read_segment(root, seg, seg.range());
        while let Some(batch) = batches.try_next().await? {
            writer.push(batch).await?;
        }
    }
    Ok(())
}
