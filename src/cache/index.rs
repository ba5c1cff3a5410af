//! Listing committed segments, from manifests only.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

use super::error::{Error, Result};
use super::layout::{MANIFEST_FILE, SegmentKey, log_dir, logs_dir, parse_path, validate_component};
use super::local_list::{LocalListing, list_local};
use super::manifest::SegmentManifest;
use super::memo::LogListing;
use super::segment::{SegmentInfo, corrupt};
use super::store::CacheRoot;
use crate::time::TimeRange;

/// The log ids that have a directory in the cache.
pub(crate) async fn list_logs(root: &CacheRoot) -> Result<Vec<String>> {
    let dir = logs_dir(root.prefix());
    let listing = root
        .store()
        .list_with_delimiter(Some(&dir))
        .await
        .map_err(|source| Error::ObjectStore {
            path: root.display_path(&dir),
            source,
        })?;
    let mut logs: Vec<String> = listing
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_string))
        .filter(|name| validate_component(name).is_ok())
        .collect();
    logs.sort();
    Ok(logs)
}

/// Every manifest of a log, each loaded and checked on its own, with the
/// range its path names, sorted by range. A manifest that vanished between list and read (dropped or
/// compacted meanwhile) is skipped.
pub(crate) async fn scan_log(
    root: &CacheRoot,
    log_id: &str,
    concurrency: usize,
) -> Result<Vec<(SegmentKey, Result<SegmentInfo>)>> {
    Ok(scan_log_listing(root, log_id, None, concurrency)
        .await?
        .segments)
}

/// [`scan_log`], keeping what the listing said of the other objects, so
/// parts can be checked against it without a request each. With `within`,
/// only the manifests of segments whose path names a range overlapping it
/// are loaded (a plan of the last hour over a year of segments reads one
/// or two manifests, not thousands); other segments may be left out.
pub(crate) async fn scan_log_listing(
    root: &CacheRoot,
    log_id: &str,
    within: Option<TimeRange>,
    concurrency: usize,
) -> Result<LogListing> {
    let dir = log_dir(root.prefix(), log_id)?;
    let (objects, fingerprint) = match list_log_dir(root, &dir).await? {
        Listed::Local(walk) => {
            let fingerprint = walk.fingerprint();
            if let Some(listing) = root.memos.listings.get(&dir, &fingerprint) {
                return Ok(listing);
            }
            (walk.into_objects(), Some(fingerprint))
        }
        Listed::Store(objects) => (objects, None),
    };
    let mut manifests: Vec<(ObjectMeta, SegmentKey)> = Vec::new();
    let mut others = HashMap::new();
    for o in objects {
        match parse_path(root.prefix(), &o.location) {
            Some(parsed) if parsed.file == MANIFEST_FILE && parsed.log_id == log_id => {
                manifests.push((o, parsed.key()));
            }
            _ => {
                others.insert(o.location.clone(), o);
            }
        }
    }
    let memo = &root.memos.manifests;
    let listed: std::collections::HashSet<Path> = manifests
        .iter()
        .map(|(meta, _)| meta.location.clone())
        .collect();
    // Segments outside `within` are taken only if already loaded.
    let mut loaded: Vec<(SegmentKey, Result<SegmentInfo>)> = Vec::with_capacity(listed.len());
    let mut to_load = Vec::new();
    let mut complete = true;
    for (meta, key) in manifests {
        match memo.get(&meta) {
            Some(info) => loaded.push((key, Ok(info))),
            None if within.is_none_or(|w| key.range.overlaps(&w)) => to_load.push((meta, key)),
            None => complete = false,
        }
    }
    let results: Vec<(ObjectMeta, SegmentKey, Result<Option<SegmentInfo>>)> =
        futures::stream::iter(to_load)
            .map(|(meta, key)| async move {
                let result = load_manifest(root, log_id, &meta.location, &key).await;
                (meta, key, result)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    for (meta, key, result) in results {
        match result {
            Ok(None) => {}
            Ok(Some(info)) => {
                memo.insert(&meta, info.clone());
                loaded.push((key, Ok(info)));
            }
            Err(e) => loaded.push((key, Err(e))),
        }
    }
    // Loaded manifests are listed, so this keeps them.
    memo.forget_missing(&dir, |path| listed.contains(path));
    root.memos
        .verified
        .forget_missing(&dir, |path| others.contains_key(path));
    loaded.sort_by(|(a, _), (b, _)| a.cmp(b));
    let listing = LogListing {
        segments: loaded,
        objects: Arc::new(others),
    };
    if let Some(fingerprint) = fingerprint.filter(|_| complete) {
        root.memos.listings.store(&dir, fingerprint, &listing);
    }
    Ok(listing)
}

/// What [`list_log_dir`] found.
enum Listed {
    /// A walk of a local directory.
    Local(LocalListing),
    /// An object store's listing.
    Store(Vec<ObjectMeta>),
}

/// Every object under a log's directory: a walk of the directory for a
/// local cache (see `local_list.rs`), the store's listing otherwise.
async fn list_log_dir(root: &CacheRoot, dir: &Path) -> Result<Listed> {
    let failed = |source| Error::ObjectStore {
        path: root.display_path(dir),
        source,
    };
    match root.local_dir() {
        Some(base) if root.prefix().as_ref().is_empty() => {
            let (base, owned, memo) = (base.to_path_buf(), dir.clone(), root.memos.dirs.clone());
            let walked = tokio::task::spawn_blocking(move || list_local(&base, &owned, &memo))
                .await
                .map_err(|e| failed(generic(e)))?;
            walked.map(Listed::Local).map_err(|e| failed(generic(e)))
        }
        _ => root
            .store()
            .list(Some(dir))
            .try_collect()
            .await
            .map(Listed::Store)
            .map_err(failed),
    }
}

fn generic(source: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(source),
    }
}

async fn load_manifest(
    root: &CacheRoot,
    log_id: &str,
    path: &Path,
    key: &SegmentKey,
) -> Result<Option<SegmentInfo>> {
    let dir = Path::from_iter(path.parts().take(path.parts().count() - 1));
    let location = root.display_path(&dir);
    let bytes = match root.store().get(path).await {
        Ok(get) => get.bytes().await,
        Err(e) => Err(e),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(source) => {
            return Err(Error::ObjectStore {
                path: root.display_path(path),
                source,
            });
        }
    };
    let manifest: SegmentManifest = serde_json::from_slice(&bytes)
        .map_err(|e| corrupt(&location, format!("{MANIFEST_FILE} does not parse: {e}")))?;
    manifest
        .check(log_id, key)
        .map_err(|message| corrupt(&location, message))?;
    Ok(Some(SegmentInfo::new(&location, dir, manifest)))
}
