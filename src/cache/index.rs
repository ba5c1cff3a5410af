//! Listing committed segments (from manifests only) and checking their parts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use datafusion::parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use super::layout::{MANIFEST_FILE, log_dir, logs_dir, parse_path, validate_component};
use super::local_list::{LocalListing, list_local};
use super::manifest::{PartManifest, SegmentManifest};
use super::part_reader::PartReader;
use super::range::TimeRange;
use super::store::CacheRoot;
use crate::error::{Error, Result};

const TARGET: &str = "datafusion_rapid7::cache";

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
    pub(crate) fn new(root: &CacheRoot, dir: Path, manifest: SegmentManifest) -> Self {
        let part_paths = manifest
            .parts
            .iter()
            .map(|p| dir.clone().join(p.name.as_str()))
            .collect();
        SegmentInfo {
            location: root.display_path(&dir).into(),
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

/// Log `cache_read_failed` and build the error that names the segment.
pub(crate) fn corrupt(segment: &str, message: String) -> Error {
    tracing::error!(target: TARGET, segment, reason = %message, "cache_read_failed");
    Error::CorruptSegment {
        segment: segment.to_string(),
        message,
    }
}

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

/// What was learnt from objects, by path, with the listing metadata it was
/// learnt under. Committed objects are never rewritten in place, so as long
/// as a listing shows the same size, modification time and e-tag, what was
/// learnt still holds. Shared by clones of a [`CacheRoot`].
#[derive(Debug, Clone)]
pub(crate) struct ListingMemo<V>(Arc<std::sync::Mutex<HashMap<Path, (MemoKey, V)>>>);

/// Manifests already read: repeated plans over a large cache list once and
/// read no manifest.
pub(crate) type ManifestMemo = ListingMemo<SegmentInfo>;

/// Parts whose footer and row count were checked (`verify_on_read`).
pub(crate) type VerifiedParts = ListingMemo<()>;

type MemoKey = (u64, i64, Option<String>);

fn same_key(key: &MemoKey, meta: &ObjectMeta) -> bool {
    key.0 == meta.size
        && key.1 == meta.last_modified.timestamp_nanos_opt().unwrap_or_default()
        && key.2 == meta.e_tag
}

fn memo_key(meta: &ObjectMeta) -> MemoKey {
    (
        meta.size,
        meta.last_modified.timestamp_nanos_opt().unwrap_or_default(),
        meta.e_tag.clone(),
    )
}

impl<V> Default for ListingMemo<V> {
    fn default() -> Self {
        ListingMemo(Arc::default())
    }
}

impl<V: Clone> ListingMemo<V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Path, (MemoKey, V)>> {
        crate::sync::lock(&self.0)
    }

    /// What was learnt from `meta`'s object, if the listing shows it unchanged.
    fn get(&self, meta: &ObjectMeta) -> Option<V> {
        let memo = self.lock();
        let (key, value) = memo.get(&meta.location)?;
        same_key(key, meta).then(|| value.clone())
    }

    /// Keep only the items whose object (`meta_of`) nothing was learnt of
    /// under its listed metadata.
    fn retain_unknown<T>(&self, items: &mut Vec<T>, meta_of: impl Fn(&T) -> &ObjectMeta) {
        let memo = self.lock();
        items.retain(|item| {
            let meta = meta_of(item);
            !memo
                .get(&meta.location)
                .is_some_and(|(key, _)| same_key(key, meta))
        });
    }

    /// Objects remembered (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn insert(&self, meta: &ObjectMeta, value: V) {
        self.lock()
            .insert(meta.location.clone(), (memo_key(meta), value));
    }

    /// Forget objects under `dir` that a listing of `dir` no longer shows.
    fn forget_missing(&self, dir: &Path, listed: impl Fn(&Path) -> bool) {
        self.lock()
            .retain(|path, _| !path.prefix_matches(dir) || listed(path));
    }
}

/// Every manifest of a log, each loaded and checked on its own, with the
/// range its path names, sorted by range. A manifest that vanished between list and read (dropped or
/// compacted meanwhile) is skipped.
pub(crate) async fn scan_log(
    root: &CacheRoot,
    log_id: &str,
    concurrency: usize,
) -> Result<Vec<(TimeRange, Result<SegmentInfo>)>> {
    Ok(scan_log_listing(root, log_id, None, concurrency)
        .await?
        .segments)
}

/// What one listing of a log's directory found.
pub(crate) struct LogListing {
    /// As [`scan_log`] returns them (those that overlap the range asked
    /// for at least).
    pub(crate) segments: Vec<(TimeRange, Result<SegmentInfo>)>,
    /// Every other object of the log (parts, leftovers), by path, as listed.
    pub(crate) objects: Arc<HashMap<Path, ObjectMeta>>,
}

/// The last listing of each log of a local root whose segments all loaded,
/// with the fingerprint of the walk that found it: a walk with the same
/// fingerprint lists the same objects, so the same segments (manifests are
/// read once per listing state). Shared by clones of a [`CacheRoot`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ListingSnapshots(Arc<std::sync::Mutex<HashMap<Path, Arc<Snapshot>>>>);

#[derive(Debug)]
struct Snapshot {
    fingerprint: Vec<u64>,
    segments: Vec<(TimeRange, SegmentInfo)>,
    objects: Arc<HashMap<Path, ObjectMeta>>,
}

impl ListingSnapshots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Path, Arc<Snapshot>>> {
        crate::sync::lock(&self.0)
    }

    fn get(&self, dir: &Path, fingerprint: &[u64]) -> Option<LogListing> {
        let snapshot = self.lock().get(dir).cloned()?;
        (snapshot.fingerprint == fingerprint).then(|| LogListing {
            segments: snapshot
                .segments
                .iter()
                .map(|(range, info)| (*range, Ok(info.clone())))
                .collect(),
            objects: Arc::clone(&snapshot.objects),
        })
    }

    /// Keep `listing` for `dir` if every segment loaded, else forget it.
    fn store(&self, dir: &Path, fingerprint: Vec<u64>, listing: &LogListing) {
        let segments: Option<Vec<(TimeRange, SegmentInfo)>> = listing
            .segments
            .iter()
            .map(|(range, info)| info.as_ref().ok().map(|info| (*range, info.clone())))
            .collect();
        let mut snapshots = self.lock();
        match segments {
            Some(segments) => {
                let objects = Arc::clone(&listing.objects);
                let snapshot = Snapshot {
                    fingerprint,
                    segments,
                    objects,
                };
                snapshots.insert(dir.clone(), Arc::new(snapshot));
            }
            None => {
                snapshots.remove(dir);
            }
        }
    }
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
    let mut manifests: Vec<(ObjectMeta, TimeRange)> = Vec::new();
    let mut others = HashMap::new();
    for o in objects {
        match parse_path(root.prefix(), &o.location) {
            Some(parsed) if parsed.file == MANIFEST_FILE && parsed.log_id == log_id => {
                manifests.push((o, parsed.range));
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
    let mut loaded: Vec<(TimeRange, Result<SegmentInfo>)> = Vec::with_capacity(listed.len());
    let mut to_load = Vec::new();
    let mut complete = true;
    for (meta, range) in manifests {
        match memo.get(&meta) {
            Some(info) => loaded.push((range, Ok(info))),
            None if within.is_none_or(|w| range.overlaps(&w)) => to_load.push((meta, range)),
            None => complete = false,
        }
    }
    let results: Vec<(ObjectMeta, TimeRange, Result<Option<SegmentInfo>>)> =
        futures::stream::iter(to_load)
            .map(|(meta, range)| async move {
                let result = load_manifest(root, log_id, &meta.location, range).await;
                (meta, range, result)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    for (meta, range, result) in results {
        match result {
            Ok(None) => {}
            Ok(Some(info)) => {
                memo.insert(&meta, info.clone());
                loaded.push((range, Ok(info)));
            }
            Err(e) => loaded.push((range, Err(e))),
        }
    }
    // Loaded manifests are listed, so this keeps them.
    memo.forget_missing(&dir, |path| listed.contains(path));
    root.memos
        .verified
        .forget_missing(&dir, |path| others.contains_key(path));
    loaded.sort_by_key(|(range, _)| *range);
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
    range: TimeRange,
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
        .check(log_id, range)
        .map_err(|message| corrupt(&location, message))?;
    Ok(Some(SegmentInfo::new(root, dir, manifest)))
}

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
    Ok(())
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
