//! Retiring a segment: it leaves the listing at once, its parts stay for
//! the grace period (ADR 0005).
//!
//! A reader plans from manifests and then reads the parts they list, maybe
//! for minutes. When compaction replaces segments, or retention expires
//! them, deleting their parts at once would pull files from under such a
//! reader. Instead each retired segment gets a tombstone,
//!
//! ```text
//! {prefix}/logs/{log_id}/from={start}/to={end}/_RETIRED-{writer}.json
//! ```
//!
//! naming the parts of the manifest it retires (by that manifest's writer),
//! and then its manifest is deleted: planners stop seeing it, readers that
//! planned before keep reading. `gc` (and the next `compact` of the log)
//! deletes a tombstone's parts, then the tombstone, once it is older than
//! the grace period; until then `gc` keeps those parts although no manifest
//! lists them.

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::layout::{manifest_path, tombstone_name};
use super::segment::SegmentInfo;
use super::store::CacheRoot;
use crate::time::{TimeRange, fmt_ms, now_ms};

/// Version of the tombstone format.
const TOMBSTONE_FORMAT: u32 = 1;

/// What a tombstone records of the segment it retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tombstone {
    /// [`TOMBSTONE_FORMAT`].
    pub(crate) format: u32,
    /// The writer of the retired manifest (and of its parts).
    pub(crate) writer_id: String,
    /// The retired manifest's parts, file names in the segment directory.
    pub(crate) parts: Vec<String>,
    /// When the segment was retired, epoch ms: the grace period starts here.
    pub(crate) retired_at_ms: i64,
    /// The segment that serves its range now, when compaction replaced it
    /// (for people reading the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) replaced_by: Option<String>,
    /// The retention cut (RFC 3339) it ended before, when retention
    /// expired it (for people reading the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expired_before: Option<String>,
}

/// Why a segment is retired.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Retirement {
    /// Compaction: this range serves its instants now.
    ReplacedBy(TimeRange),
    /// Retention: it ended before this instant (epoch ms), and nothing
    /// serves its range any more.
    Expired { cut_ms: i64 },
}

/// Retire `seg` (`why`): write its tombstone, then delete its manifest. Its
/// parts are left for `gc`.
///
/// The tombstone comes first, so that an interruption between the two
/// leaves a tombstone beside a live manifest (the segment is still whole;
/// `gc` deletes both once the grace period has passed) and never parts that
/// no manifest lists and nothing protects.
pub(crate) async fn retire_segment(
    root: &CacheRoot,
    seg: &SegmentInfo,
    why: Retirement,
) -> Result<()> {
    let manifest = seg.manifest();
    let (replaced_by, expired_before) = match why {
        Retirement::ReplacedBy(range) => (Some(range.to_string()), None),
        Retirement::Expired { cut_ms } => (None, Some(fmt_ms(cut_ms))),
    };
    let tombstone = Tombstone {
        format: TOMBSTONE_FORMAT,
        writer_id: manifest.writer_id.clone(),
        parts: manifest.parts.iter().map(|p| p.name.clone()).collect(),
        retired_at_ms: now_ms(),
        replaced_by,
        expired_before,
    };
    let json = serde_json::to_vec_pretty(&tombstone).map_err(|e| Error::Unavailable {
        location: seg.location().to_string(),
        message: format!("cannot encode a tombstone: {e}"),
        source: None,
    })?;
    let path = seg
        .dir()
        .clone()
        .join(tombstone_name(&manifest.writer_id).as_str());
    // A plain put: two compactions retiring the same manifest write the same
    // parts, and the later time only lengthens the grace.
    root.store()
        .put(&path, PutPayload::from(json))
        .await
        .map_err(|source| Error::ObjectStore {
            path: root.display_path(&path),
            source,
        })?;
    root.restrict_file(&path)?;
    let manifest_path = manifest_path(seg.dir());
    match root.store().delete(&manifest_path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(source) => {
            return Err(Error::ObjectStore {
                path: root.display_path(&manifest_path),
                source,
            });
        }
    }
    match why {
        Retirement::ReplacedBy(range) => tracing::info!(
            segment = %seg.location(),
            parts = tombstone.parts.len(),
            replaced_by = %range,
            "cache_segment_retired"
        ),
        Retirement::Expired { cut_ms } => tracing::info!(
            segment = %seg.location(),
            parts = tombstone.parts.len(),
            expired_before = %fmt_ms(cut_ms),
            "cache_segment_expired"
        ),
    }
    Ok(())
}

/// Read a tombstone; `None` when it is gone, an error message when it does
/// not parse.
pub(crate) async fn load_tombstone(
    root: &CacheRoot,
    path: &Path,
) -> Result<Option<Tombstone>, String> {
    let bytes = match root.store().get(path).await {
        Ok(get) => get.bytes().await,
        Err(e) => Err(e),
    };
    match bytes {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("does not parse: {e}")),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}
