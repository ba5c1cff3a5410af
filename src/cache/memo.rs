//! What a session remembers of a cache root between plans: manifests read,
//! parts verified, directory walks and whole log listings, each valid while a
//! listing shows its objects unchanged (committed objects are never rewritten
//! in place; ADR 0004).

use std::collections::HashMap;
use std::sync::Arc;

use object_store::ObjectMeta;
use object_store::path::Path;

use super::error::Result as CacheResult;
use super::layout::SegmentKey;
use super::local_list::DirMemo;
use super::segment::SegmentInfo;

/// What a session remembers of a cache root between plans, each entry valid
/// while a listing shows its objects unchanged. Clones share them.
#[derive(Clone, Default)]
pub(crate) struct SessionMemos {
    /// Manifests already read, by path.
    pub(crate) manifests: ManifestMemo,
    /// Parts already checked by `verify_on_read`.
    pub(crate) verified: VerifiedParts,
    /// What walks of a local root found in each directory.
    pub(crate) dirs: DirMemo,
    /// The last complete listing of each log.
    pub(crate) listings: ListingSnapshots,
    /// The endpoint facts file as last read (`endpoint_facts.rs`).
    pub(crate) endpoint_facts: RootFileMemo,
}

/// A small JSON file at the root as last read: when, its e-tag, and its
/// parsed value, of the type its reader knows. Shared by clones.
#[derive(Clone, Default)]
pub(crate) struct RootFileMemo(pub(crate) Arc<tokio::sync::Mutex<Option<RootFileRead>>>);

/// See [`RootFileMemo`].
pub(crate) struct RootFileRead {
    pub(crate) at: std::time::Instant,
    pub(crate) e_tag: Option<String>,
    pub(crate) value: Arc<dyn std::any::Any + Send + Sync>,
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
        crate::locks::lock(&self.0)
    }

    /// What was learnt from `meta`'s object, if the listing shows it unchanged.
    pub(super) fn get(&self, meta: &ObjectMeta) -> Option<V> {
        let memo = self.lock();
        let (key, value) = memo.get(&meta.location)?;
        same_key(key, meta).then(|| value.clone())
    }

    /// Keep only the items whose object (`meta_of`) nothing was learnt of
    /// under its listed metadata.
    pub(super) fn retain_unknown<T>(
        &self,
        items: &mut Vec<T>,
        meta_of: impl Fn(&T) -> &ObjectMeta,
    ) {
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

    pub(super) fn insert(&self, meta: &ObjectMeta, value: V) {
        self.lock()
            .insert(meta.location.clone(), (memo_key(meta), value));
    }

    /// Forget objects under `dir` that a listing of `dir` no longer shows.
    pub(super) fn forget_missing(&self, dir: &Path, listed: impl Fn(&Path) -> bool) {
        self.lock()
            .retain(|path, _| !path.prefix_matches(dir) || listed(path));
    }
}

/// What one listing of a log's directory found.
pub(crate) struct LogListing {
    /// As `index::scan_log` returns them (those that overlap the range asked
    /// for at least).
    pub(crate) segments: Vec<(SegmentKey, CacheResult<SegmentInfo>)>,
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
    segments: Vec<(SegmentKey, SegmentInfo)>,
    objects: Arc<HashMap<Path, ObjectMeta>>,
}

impl ListingSnapshots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Path, Arc<Snapshot>>> {
        crate::locks::lock(&self.0)
    }

    pub(super) fn get(&self, dir: &Path, fingerprint: &[u64]) -> Option<LogListing> {
        let snapshot = self.lock().get(dir).cloned()?;
        (snapshot.fingerprint == fingerprint).then(|| LogListing {
            segments: snapshot
                .segments
                .iter()
                .map(|(key, info)| (key.clone(), Ok(info.clone())))
                .collect(),
            objects: Arc::clone(&snapshot.objects),
        })
    }

    /// Keep `listing` for `dir` if every segment loaded, else forget it.
    pub(super) fn store(&self, dir: &Path, fingerprint: Vec<u64>, listing: &LogListing) {
        let segments: Option<Vec<(SegmentKey, SegmentInfo)>> = listing
            .segments
            .iter()
            .map(|(key, info)| info.as_ref().ok().map(|info| (key.clone(), info.clone())))
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
