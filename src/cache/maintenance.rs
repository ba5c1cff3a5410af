//! Maintenance: verify, drop, gc of leftovers, and compaction.
//!
//! Every operation keeps the cache readable while it runs. Deleting a segment
//! removes its manifest first (the segment disappears at once) and its parts
//! after. Compaction commits the merged segment before deleting the ones it
//! replaces; readers assign each instant to exactly one segment, and the
//! merged one (longer, same start) wins, so no state double counts or loses
//! rows.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use super::check::check_part;
use super::config::WriterSettings;
use super::index::scan_log;
use super::layout::{
    MANIFEST_FILE, log_dir, logs_dir, parse_path, part_writer, validate_component,
};
use super::manifest::SegmentManifest;
use super::reader::read_segment;
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
}

/// Result of a drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DropReport {
    /// Committed segments removed.
    pub segments: usize,
    /// Objects deleted (manifests, parts, leftovers).
    pub objects: usize,
}

/// Result of [`SegmentCache::gc`](super::SegmentCache::gc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// Leftover parts deleted (and, on a local cache, staging files of
    /// writes that were killed mid-file).
    pub objects_deleted: usize,
    /// Their total size.
    pub bytes_deleted: u64,
    /// Leftovers kept because their writer wrote within the grace period.
    pub objects_kept: usize,
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
    /// Segments removed (merged or fully shadowed by another segment).
    pub segments_removed: usize,
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
        for (range, scanned) in scan_log(root, &log, concurrency).await? {
            report.segments_checked += 1;
            let outcome = match scanned {
                Ok(seg) => verify_segment(root, &seg, &mut report).await,
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                let (segment, message) = match e {
                    Error::CorruptSegment { segment, message } => (segment, message),
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
        return Err(seg.corrupt(format!(
            "{rows} rows lie inside the range, the manifest says {}",
            seg.row_count()
        )));
    }
    report.parts_checked += seg.manifest().parts.len();
    report.rows_checked += rows;
    Ok(())
}

async fn list_objects(root: &CacheRoot, dir: &Path) -> Result<Vec<ObjectMeta>> {
    root.store()
        .list(Some(dir))
        .try_collect()
        .await
        .map_err(|source| Error::ObjectStore {
            path: root.display_path(dir),
            source,
        })
}

/// Delete manifests first, then everything else. Returns (manifests, objects).
async fn delete_objects(
    root: &CacheRoot,
    objects: Vec<Path>,
    concurrency: usize,
) -> Result<(usize, usize)> {
    let (manifests, rest): (Vec<Path>, Vec<Path>) = objects
        .into_iter()
        .partition(|p| p.filename() == Some(MANIFEST_FILE));
    let counts = (manifests.len(), manifests.len() + rest.len());
    for batch in [manifests, rest] {
        futures::stream::iter(batch)
            .map(|path| async move {
                match root.store().delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(source) => Err(Error::ObjectStore {
                        path: root.display_path(&path),
                        source,
                    }),
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<()>()
            .await?;
    }
    Ok(counts)
}

pub(crate) async fn drop_log(
    root: &CacheRoot,
    log_id: &str,
    concurrency: usize,
) -> Result<DropReport> {
    let dir = log_dir(root.prefix(), log_id)?;
    let objects = list_objects(root, &dir).await?;
    let paths = objects.into_iter().map(|o| o.location).collect();
    let (segments, objects) = delete_objects(root, paths, concurrency).await?;
    tracing::info!(log_id, segments, objects, "cache_log_dropped");
    Ok(DropReport { segments, objects })
}

/// Drop every segment directory of `log_id` whose range overlaps `range`,
/// whether its manifest parses or not (so corrupt segments can be dropped).
pub(crate) async fn drop_range(
    root: &CacheRoot,
    log_id: &str,
    range: TimeRange,
    concurrency: usize,
) -> Result<DropReport> {
    let dir = log_dir(root.prefix(), log_id)?;
    let paths: Vec<Path> = list_objects(root, &dir)
        .await?
        .into_iter()
        .filter(|o| {
            parse_path(root.prefix(), &o.location).is_some_and(|p| p.range.overlaps(&range))
        })
        .map(|o| o.location)
        .collect();
    let (segments, objects) = delete_objects(root, paths, concurrency).await?;
    tracing::info!(log_id, %range, segments, objects, "cache_range_dropped");
    Ok(DropReport { segments, objects })
}

pub(crate) async fn gc(root: &CacheRoot, grace: Duration, concurrency: usize) -> Result<GcReport> {
    let now = SystemTime::now();
    let objects = list_objects(root, &logs_dir(root.prefix())).await?;
    // segment dir -> (manifest present, parts by writer)
    type Parts = BTreeMap<String, Vec<ObjectMeta>>;
    let mut dirs: BTreeMap<String, (Option<Path>, Parts)> = BTreeMap::new();
    for o in objects {
        let Some(parsed) = parse_path(root.prefix(), &o.location) else {
            continue;
        };
        let dir = o
            .location
            .as_ref()
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .to_string();
        let entry = dirs.entry(dir).or_default();
        if parsed.file == MANIFEST_FILE {
            entry.0 = Some(o.location);
        } else if let Some(writer) = part_writer(&parsed.file) {
            entry.1.entry(writer.to_string()).or_default().push(o);
        }
    }
    let mut report = GcReport::default();
    let mut doomed = Vec::new();
    for (dir, (manifest, writers)) in dirs {
        let referenced: HashSet<String> = match manifest {
            None => HashSet::new(),
            Some(path) => match read_manifest(root, &path).await {
                Some(m) => m.parts.into_iter().map(|p| p.name).collect(),
                None => {
                    tracing::warn!(segment = %root.display_path(&Path::from(dir)), "cache_gc_skipped_unreadable_manifest");
                    continue;
                }
            },
        };
        for (_, parts) in writers {
            let leftovers: Vec<ObjectMeta> = parts
                .into_iter()
                .filter(|o| {
                    o.location
                        .filename()
                        .is_some_and(|f| !referenced.contains(f))
                })
                .collect();
            let newest = leftovers
                .iter()
                .map(|o| SystemTime::from(o.last_modified))
                .max();
            let idle = newest
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            if idle >= grace {
                report.bytes_deleted += leftovers.iter().map(|o| o.size).sum::<u64>();
                doomed.extend(leftovers.into_iter().map(|o| o.location));
            } else {
                report.objects_kept += leftovers.len();
            }
        }
    }
    report.objects_deleted = doomed.len();
    delete_objects(root, doomed, concurrency).await?;
    if let Some(logs) = root.fs_path(&logs_dir(root.prefix())) {
        let staged = tokio::task::spawn_blocking(move || remove_staged_files(&logs, now, grace))
            .await
            .map_err(|e| match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Error::Cancelled,
            })?;
        report.objects_deleted += staged.deleted;
        report.bytes_deleted += staged.bytes;
        report.objects_kept += staged.kept;
    }
    tracing::info!(
        objects_deleted = report.objects_deleted,
        bytes_deleted = report.bytes_deleted,
        objects_kept = report.objects_kept,
        "cache_gc_complete"
    );
    Ok(report)
}

#[derive(Default)]
struct StagedFiles {
    deleted: usize,
    bytes: u64,
    kept: usize,
}

/// On a local cache, a write killed mid-file leaves object_store's staging
/// file (`{name}#{digits}`, written first and then renamed into place).
/// Listings never show such files, so the object pass above cannot see them:
/// walk `logs/{log}/from=…/to=…/` and delete those idle for `grace`.
fn remove_staged_files(logs: &std::path::Path, now: SystemTime, grace: Duration) -> StagedFiles {
    let mut found = StagedFiles::default();
    let mut dirs = vec![(logs.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if meta.is_dir() {
                // Only the layout's own directories: `{log}/from=…/to=…`
                // (never symlinks: `metadata` of a `DirEntry` does not follow
                // them).
                let ours = match depth {
                    0 => validate_component(&name).is_ok(),
                    1 => name.starts_with("from="),
                    2 => name.starts_with("to="),
                    _ => false,
                };
                if ours {
                    dirs.push((entry.path(), depth + 1));
                }
                continue;
            }
            let staged = depth == 3
                && name
                    .split_once('#')
                    .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !staged {
                continue;
            }
            let idle = meta
                .modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            if idle < grace {
                found.kept += 1;
            } else if std::fs::remove_file(entry.path()).is_ok() {
                tracing::info!(file = %entry.path().display(), "cache_gc_removed_staging_file");
                found.deleted += 1;
                found.bytes += meta.len();
            }
        }
    }
    found
}

async fn read_manifest(root: &CacheRoot, path: &Path) -> Option<SegmentManifest> {
    let bytes = root.store().get(path).await.ok()?.bytes().await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Delete one committed segment: its manifest, then the parts it lists.
async fn delete_segment(root: &CacheRoot, seg: &SegmentInfo, concurrency: usize) -> Result<()> {
    let mut paths = vec![super::layout::manifest_path(seg.dir())];
    paths.extend(seg.parts().into_iter().map(|p| p.path));
    delete_objects(root, paths, concurrency).await.map(|_| ())
}

pub(crate) async fn compact(
    root: &CacheRoot,
    log_id: &str,
    options: CompactOptions,
    settings: &WriterSettings,
    concurrency: usize,
) -> Result<CompactReport> {
    let segments: Vec<SegmentInfo> = scan_log(root, log_id, concurrency)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Result<_>>()?;
    let mut report = CompactReport::default();

    // A segment inside another one is never read: remove it.
    let (shadowed, mut live): (Vec<&SegmentInfo>, Vec<&SegmentInfo>) =
        segments.iter().partition(|s| {
            segments
                .iter()
                .any(|o| o.range() != s.range() && o.range().contains_range(&s.range()))
        });
    for seg in shadowed {
        delete_segment(root, seg, concurrency).await?;
        report.segments_removed += 1;
    }
    live.sort_by_key(|s| s.range());

    let mut groups: Vec<Vec<&SegmentInfo>> = Vec::new();
    let mut current: Vec<&SegmentInfo> = Vec::new();
    let mut current_rows = 0u64;
    for seg in live {
        let small = seg.row_count() < options.small_segment_rows;
        let joins = small
            && current
                .last()
                .is_some_and(|last| last.range().end() == seg.range().start())
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
        let mut writer = SegmentWriter::new(Some(root), log_id, union, settings.clone())?;
        if let Err(e) = copy_segments(root, &group, &mut writer).await {
            writer.abort().await?;
            return Err(e);
        }
        match writer.commit().await? {
            CommitOutcome::Committed(_) => report.segments_written += 1,
            CommitOutcome::AlreadyCommitted | CommitOutcome::Bypassed => {}
        }
        for seg in &group {
            delete_segment(root, seg, concurrency).await?;
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
