//! `gc`: delete what no reader or writer can still need (ADR 0005).
//!
//! - Leftover parts (listed by no manifest) of a writer idle for the grace
//!   period: a writer still running flushes more often than that. Right
//!   before deleting them, gc reads the segment's manifest again: a writer
//!   that committed since the listing keeps its parts.
//! - Retired segments (`retire.rs`) whose tombstone is older than the grace
//!   period: a reader that planned over them before they were replaced has
//!   long finished. Until then their parts are kept.
//! - On a local cache, staging files of writes killed mid-file
//!   (`staging.rs`).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

use super::layout::{
    MANIFEST_FILE, logs_dir, manifest_path, parse_path, part_writer, tombstone_writer,
};
use super::manifest::SegmentManifest;
use super::objects::{delete_object, list_objects};
use super::retire::{Tombstone, load_tombstone};
use super::staging::remove_staged_files;
use super::store::CacheRoot;
use crate::error::{Error, Result};

/// Result of [`SegmentCache::gc`](super::SegmentCache::gc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    /// Objects deleted: leftover parts, the parts, tombstones (and
    /// manifests of interrupted retirements) of retired segments, and, on a
    /// local cache, staging files of writes that were killed mid-file.
    pub objects_deleted: usize,
    /// Their total size (as listed).
    pub bytes_deleted: u64,
    /// Leftovers kept because their writer wrote within the grace period
    /// (or committed them while gc ran).
    pub objects_kept: usize,
    /// Retired segments (replaced by compaction) deleted, their grace
    /// period over.
    pub segments_purged: usize,
    /// Parts of retired segments kept for readers that may still be
    /// reading them, until the grace period has passed.
    pub retired_kept: usize,
}

impl GcReport {
    fn add(&mut self, other: GcReport) {
        self.objects_deleted += other.objects_deleted;
        self.bytes_deleted += other.bytes_deleted;
        self.objects_kept += other.objects_kept;
        self.segments_purged += other.segments_purged;
        self.retired_kept += other.retired_kept;
    }
}

/// What one segment directory held when listed.
#[derive(Debug, Default)]
struct Listed {
    manifest: bool,
    tombstones: Vec<Path>,
    /// Parts by file name.
    parts: BTreeMap<String, ObjectMeta>,
}

/// What a sweep may delete.
#[derive(Debug, Clone, Copy)]
struct Sweep {
    now: SystemTime,
    grace: Duration,
    leftovers: bool,
}

pub(crate) async fn gc(root: &CacheRoot, grace: Duration, concurrency: usize) -> Result<GcReport> {
    let now = SystemTime::now();
    let how = Sweep {
        now,
        grace,
        leftovers: true,
    };
    let mut report = sweep(root, &logs_dir(root.prefix()), how, concurrency).await?;
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
        segments_purged = report.segments_purged,
        retired_kept = report.retired_kept,
        "cache_gc_complete"
    );
    Ok(report)
}

/// Delete the retired segments under `dir` (a log's directory) whose grace
/// period is over; leftovers are left to `gc`. Returns how many.
pub(crate) async fn purge_retired(
    root: &CacheRoot,
    dir: &Path,
    grace: Duration,
    concurrency: usize,
) -> Result<usize> {
    let how = Sweep {
        now: SystemTime::now(),
        grace,
        leftovers: false,
    };
    Ok(sweep(root, dir, how, concurrency).await?.segments_purged)
}

async fn sweep(root: &CacheRoot, under: &Path, how: Sweep, concurrency: usize) -> Result<GcReport> {
    let mut dirs: BTreeMap<Path, Listed> = BTreeMap::new();
    for o in list_objects(root, under).await? {
        let Some(parsed) = parse_path(root.prefix(), &o.location) else {
            continue;
        };
        let dir = Path::from_iter(o.location.parts().take(o.location.parts().count() - 1));
        let entry = dirs.entry(dir).or_default();
        if parsed.file == MANIFEST_FILE {
            entry.manifest = true;
        } else if tombstone_writer(&parsed.file).is_some() {
            entry.tombstones.push(o.location);
        } else if part_writer(&parsed.file).is_some() {
            entry.parts.insert(parsed.file, o);
        }
    }
    let reports: Vec<GcReport> = futures::stream::iter(dirs)
        .map(|(dir, listed)| async move { sweep_dir(root, &dir, listed, how).await })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut total = GcReport::default();
    for r in reports {
        total.add(r);
    }
    Ok(total)
}

/// The manifest of `dir` as it is now: `Ok(None)` when there is none,
/// `Err` (a warning is logged) when it cannot be read or parsed.
async fn current_manifest(root: &CacheRoot, dir: &Path) -> Result<Option<SegmentManifest>, ()> {
    let path = manifest_path(dir);
    let bytes = match root.store().get(&path).await {
        Ok(get) => get.bytes().await,
        Err(e) => Err(e),
    };
    let parsed = match bytes {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    };
    parsed.map_err(|reason| {
        tracing::warn!(
            segment = %root.display_path(dir),
            reason,
            "cache_gc_skipped_unreadable_manifest"
        );
    })
}

fn part_names(manifest: Option<&SegmentManifest>) -> HashSet<String> {
    manifest
        .map(|m| m.parts.iter().map(|p| p.name.clone()).collect())
        .unwrap_or_default()
}

fn idle_for(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

async fn sweep_dir(root: &CacheRoot, dir: &Path, listed: Listed, how: Sweep) -> Result<GcReport> {
    let mut report = GcReport::default();
    let mut tombstones: Vec<(Path, Tombstone)> = Vec::new();
    for path in &listed.tombstones {
        match load_tombstone(root, path).await {
            Ok(Some(t)) => tombstones.push((path.clone(), t)),
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(
                    path = %root.display_path(path),
                    reason,
                    "cache_gc_skipped_unreadable_tombstone"
                );
                return Ok(report);
            }
        }
    }
    let Ok(mut manifest) = (match listed.manifest || !tombstones.is_empty() {
        true => current_manifest(root, dir).await,
        false => Ok(None),
    }) else {
        return Ok(report);
    };
    let now_ms = ms_since_epoch(how.now);
    let grace_ms = i64::try_from(how.grace.as_millis()).unwrap_or(i64::MAX);
    let (expired, live): (Vec<_>, Vec<_>) = tombstones
        .into_iter()
        .partition(|(_, t)| now_ms.saturating_sub(t.retired_at_ms) >= grace_ms);
    let protected: HashSet<&str> = live
        .iter()
        .flat_map(|(_, t)| t.parts.iter().map(String::as_str))
        .collect();
    report.retired_kept = listed
        .parts
        .keys()
        .filter(|name| protected.contains(name.as_str()))
        .count();
    let mut handled: HashSet<String> = HashSet::new();
    for (path, tombstone) in expired {
        let mut doomed = Vec::new();
        if manifest
            .as_ref()
            .is_some_and(|m| m.writer_id == tombstone.writer_id)
        {
            // The retirement was interrupted before the manifest went:
            // the replacing segment serves the range, so it goes first.
            doomed.push(manifest_path(dir));
            manifest = None;
        }
        let keep = part_names(manifest.as_ref());
        for name in &tombstone.parts {
            if !keep.contains(name) && !protected.contains(name.as_str()) {
                if let Some(meta) = listed.parts.get(name) {
                    report.bytes_deleted += meta.size;
                }
                doomed.push(dir.clone().join(name.as_str()));
                handled.insert(name.clone());
            }
        }
        doomed.push(path);
        for path in &doomed {
            delete_object(root, path).await?;
        }
        report.objects_deleted += doomed.len();
        report.segments_purged += 1;
        tracing::info!(
            segment = %root.display_path(dir),
            writer = %tombstone.writer_id,
            objects = doomed.len(),
            "cache_gc_purged_retired_segment"
        );
    }
    if !how.leftovers {
        return Ok(report);
    }

    // Leftovers, by writer: deleted once the writer's newest part is idle
    // for the grace period.
    let referenced = part_names(manifest.as_ref());
    let mut by_writer: BTreeMap<&str, Vec<&ObjectMeta>> = BTreeMap::new();
    for (name, meta) in &listed.parts {
        let ours = referenced.contains(name) || protected.contains(name.as_str());
        if !ours && !handled.contains(name) {
            let writer = part_writer(name).unwrap_or_default();
            by_writer.entry(writer).or_default().push(meta);
        }
    }
    let mut candidates: Vec<&ObjectMeta> = Vec::new();
    for parts in by_writer.into_values() {
        let newest = parts
            .iter()
            .map(|o| SystemTime::from(o.last_modified))
            .max();
        if newest.is_some_and(|t| idle_for(how.now, t) >= how.grace) {
            candidates.extend(parts);
        } else {
            report.objects_kept += parts.len();
        }
    }
    if candidates.is_empty() {
        return Ok(report);
    }
    // Right before deleting: a writer may have committed these parts
    // since the listing.
    let Ok(now_committed) = current_manifest(root, dir).await else {
        report.objects_kept += candidates.len();
        return Ok(report);
    };
    let committed = part_names(now_committed.as_ref());
    for meta in candidates {
        let name = meta.location.filename().unwrap_or_default();
        if committed.contains(name) {
            report.objects_kept += 1;
            continue;
        }
        delete_object(root, &meta.location).await?;
        report.objects_deleted += 1;
        report.bytes_deleted += meta.size;
    }
    Ok(report)
}

fn ms_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
