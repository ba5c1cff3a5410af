//! Checks of committed parts against their manifests: present, of the
//! manifest's size, a readable Parquet footer, the manifest's row count and
//! timestamp bounds.

use std::collections::HashMap;

use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::parquet::file::statistics::Statistics;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

use super::error::{Error, Result};
use super::manifest::PartManifest;
use super::part_reader::PartReader;
use super::segment::SegmentInfo;
use super::store::CacheRoot;
use crate::events::columns::TIMESTAMP;

/// Cheap check of one part: it exists, has the manifest's size, its footer is
/// Parquet and it holds the manifest's row count.
pub(crate) async fn check_part(
    root: &CacheRoot,
    seg: &SegmentInfo,
    part: &PartManifest,
    path: &Path,
) -> Result<()> {
    let meta = match root.store().head(path).await {
        Ok(m) => m,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(seg.corrupt(format!("part {} is missing", part.name)));
        }
        Err(source) => {
            return Err(Error::ObjectStore {
                path: root.display_path(path),
                source,
            });
        }
    };
    check_listed_part(root, seg, part, &meta).await
}

/// [`check_part`] given the part's metadata (from a HEAD or a listing).
async fn check_listed_part(
    root: &CacheRoot,
    seg: &SegmentInfo,
    part: &PartManifest,
    meta: &ObjectMeta,
) -> Result<()> {
    let path = meta.location.clone();
    if meta.size != part.size_bytes {
        return Err(seg.corrupt(format!(
            "part {} is truncated or altered: {} bytes, the manifest says {}",
            part.name, meta.size, part.size_bytes
        )));
    }
    let mut reader = PartReader::new(std::sync::Arc::clone(root.store()), path, meta.size);
    let md = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
        .await
        .map_err(|e| {
            seg.corrupt(format!(
                "part {} is not a readable Parquet file: {e}",
                part.name
            ))
        })?;
    let rows = md.metadata().file_metadata().num_rows();
    if u64::try_from(rows).ok() != Some(part.rows) {
        return Err(seg.corrupt(format!(
            "part {} holds {rows} rows, the manifest says {}",
            part.name, part.rows
        )));
    }
    // Reads skip parts by the manifest's bounds: bounds narrower than the
    // rows would drop rows silently.
    if let Some((lo, hi)) = footer_timestamp_bounds(md.metadata())
        && (Some(lo), Some(hi)) != (part.min_timestamp_ms, part.max_timestamp_ms)
    {
        return Err(seg.corrupt(format!(
            "part {} holds timestamps {lo}..={hi} by its footer statistics, the manifest \
             says {:?}..={:?}",
            part.name, part.min_timestamp_ms, part.max_timestamp_ms
        )));
    }
    Ok(())
}

/// The smallest and largest `timestamp` of a part by its footer's column
/// statistics; `None` when a row group has none (parts written without
/// them cannot be checked this way).
fn footer_timestamp_bounds(md: &ParquetMetaData) -> Option<(i64, i64)> {
    let column = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().string() == TIMESTAMP)?;
    let mut bounds: Option<(i64, i64)> = None;
    for group in md.row_groups() {
        let Some(Statistics::Int64(stats)) = group.column(column).statistics() else {
            return None;
        };
        let (lo, hi) = (*stats.min_opt()?, *stats.max_opt()?);
        bounds = Some(match bounds {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
    }
    bounds
}

/// [`check_part`] for every part of every segment, `concurrency` at a time,
/// against the listing the segments came from instead of a HEAD per part.
/// A part already checked at the same size, modification time and e-tag is
/// not read again: parts are immutable, so the footer it had is the one it
/// has.
pub(crate) async fn check_segments(
    root: &CacheRoot,
    segments: &[&SegmentInfo],
    listed: &HashMap<Path, ObjectMeta>,
    concurrency: usize,
) -> Result<()> {
    let mut unchecked = Vec::new();
    for seg in segments {
        for (part, path) in seg.part_entries() {
            let Some(meta) = listed.get(path) else {
                return Err(seg.corrupt(format!("part {} is missing", part.name)));
            };
            unchecked.push((*seg, part, meta));
        }
    }
    root.memos
        .verified
        .retain_unknown(&mut unchecked, |(_, _, meta)| meta);
    // The futures are built first: a stream of closures over borrowed
    // segments held across the await would make the caller's future not
    // `Send` for every lifetime (rust-lang/rust#102211).
    let checks: Vec<_> = unchecked
        .into_iter()
        .map(|(seg, part, meta)| async move {
            check_listed_part(root, seg, part, meta).await?;
            root.memos.verified.insert(meta, ());
            Ok::<_, Error>(())
        })
        .collect();
    futures::stream::iter(checks)
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await
}
