//! [`SegmentInfo`] and [`PartInfo`]: one committed segment and its parts, as
//! the manifest describes them.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use object_store::ObjectMeta;
use object_store::path::Path;

use super::error::Error;
use super::manifest::{PartManifest, SegmentManifest};
use crate::time::TimeRange;

/// One committed segment, as its manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    dir: Path,
    location: Arc<str>,
    // Shared: plans clone the segments they read on every statement.
    manifest: Arc<SegmentManifest>,
    /// The path of each part, in manifest order.
    part_paths: Arc<[Path]>,
}

/// One Parquet part of a committed segment, ready to become a DataFusion
/// `PartitionedFile` (paths are relative to the store root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// Path of the part in the store.
    pub path: Path,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Number of rows.
    pub rows: u64,
    /// Smallest `timestamp`, epoch ms.
    pub min_timestamp_ms: Option<i64>,
    /// Largest `timestamp`, epoch ms.
    pub max_timestamp_ms: Option<i64>,
    /// Commit time of the segment, epoch ms. Parts are immutable, so this is
    /// a stable `last_modified` for metadata caches.
    pub committed_at_ms: i64,
}

impl PartInfo {
    /// The part as an [`ObjectMeta`] (for `PartitionedFile::new_from_meta`).
    pub fn object_meta(&self) -> ObjectMeta {
        let millis = u64::try_from(self.committed_at_ms).unwrap_or(0);
        ObjectMeta {
            location: self.path.clone(),
            last_modified: (UNIX_EPOCH + Duration::from_millis(millis)).into(),
            size: self.size_bytes,
            e_tag: None,
            version: None,
        }
    }
}

impl SegmentInfo {
    /// A segment read from `dir`, shown in messages as `location`.
    pub(crate) fn new(location: &str, dir: Path, manifest: SegmentManifest) -> Self {
        let part_paths = manifest
            .parts
            .iter()
            .map(|p| dir.clone().join(p.name.as_str()))
            .collect();
        SegmentInfo {
            location: location.into(),
            dir,
            manifest: Arc::new(manifest),
            part_paths,
        }
    }

    /// The log id.
    pub fn log_id(&self) -> &str {
        &self.manifest.log_id
    }

    /// The range this segment holds every event of.
    pub fn range(&self) -> TimeRange {
        self.manifest.range
    }

    /// Total rows.
    pub fn row_count(&self) -> u64 {
        self.manifest.row_count
    }

    /// Total bytes over the parts.
    pub fn size_bytes(&self) -> u64 {
        self.manifest.size_bytes()
    }

    /// The segment directory in the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Human-readable location (URL or local path) for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Events Rapid7 returned for the range that the decoder rejected
    /// ([`SegmentManifest::events_rejected`]).
    pub fn events_rejected(&self) -> u64 {
        self.manifest.events_rejected
    }

    /// Whether Rapid7 said the range reaches past the log's retention
    /// ([`SegmentManifest::beyond_retention`]).
    pub fn beyond_retention(&self) -> bool {
        self.manifest.beyond_retention
    }

    /// The canonical LEQL filter of a filtered segment (the events of its
    /// range that the filter selects); `None` for a segment of every event.
    pub fn filter(&self) -> Option<&str> {
        self.manifest.filter.as_deref()
    }

    /// The manifest.
    pub fn manifest(&self) -> &SegmentManifest {
        &self.manifest
    }

    /// The parts, in write order.
    pub fn parts(&self) -> Vec<PartInfo> {
        self.part_entries()
            .map(|(p, path)| PartInfo {
                path: path.clone(),
                size_bytes: p.size_bytes,
                rows: p.rows,
                min_timestamp_ms: p.min_timestamp_ms,
                max_timestamp_ms: p.max_timestamp_ms,
                committed_at_ms: self.manifest.created_at_ms,
            })
            .collect()
    }

    /// Each part's manifest entry with its path in the store.
    pub(crate) fn part_entries(&self) -> impl Iterator<Item = (&PartManifest, &Path)> {
        self.manifest.parts.iter().zip(self.part_paths.iter())
    }

    pub(crate) fn corrupt(&self, message: String) -> Error {
        corrupt(&self.location, message)
    }
}

/// Log `cache_read_failed` (and the plans' `cache_read_error`) and build the
/// error that names the segment.
pub(crate) fn corrupt(segment: &str, message: String) -> Error {
    tracing::error!(segment, reason = %message, "cache_read_failed");
    tracing::error!(segment_dir = segment, error = %message, "cache_read_error");
    Error::CorruptSegment {
        segment: segment.to_string(),
        message,
    }
}
