//! Listing under a local cache directory with one `statx` per file, and
//! none at all for directories that did not change since the last walk.
//!
//! `object_store`'s `LocalFileSystem::list` walks with `walkdir`, following
//! links, and reads the metadata of every directory and every file (twice
//! for some): 25–30 ms for a log of 700 segments (1,400 files in 1,400
//! directories) on this machine, paid on every query plan because a plan
//! lists the log to see segments other writers committed. Reading entry
//! types from the directory and metadata only for files halves that. The
//! result is what `LocalFileSystem::list` returns: the same paths, sizes,
//! modification times and e-tags (`{inode:x}-{mtime_us:x}-{size:x}`), with
//! the same files hidden (its `name#N` staging files).
//!
//! Symbolic links are never followed (unlike `LocalFileSystem`, which
//! follows them): a link inside a directory is skipped with a warning, and a
//! listing of a directory reached through one is refused (`symlinks.rs`).
//!
//! A [`DirMemo`] keeps what each directory held. Every entry added, removed
//! or renamed in a directory moves the directory's modification time (a
//! local `put` stages `name#N` and renames it into place, a delete unlinks),
//! so a directory whose inode and times are unchanged holds the same
//! entries, and a later walk costs one `statx` per directory instead of a
//! read of it and a `statx` of each file. Files are not rewritten in place
//! in a cache: parts and manifests are immutable once their segment is
//! committed. Timestamps are coarse (a clock tick, seconds on some file
//! systems), so a change within the same tick as the last could leave them
//! equal: a directory is remembered only once its modification time is
//! [`SETTLE`] old, and one changed more recently is read on every walk.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use object_store::ObjectMeta;
use object_store::path::Path;
use url::Url;

use super::symlinks::{link_ignored, link_refused, refuse_links};

/// Directories at the top of a listing from which the walk is split across
/// threads: below it a thread costs more than it saves.
const PARALLEL_MIN_DIRS: usize = 128;

/// How old a directory's modification time must be before what it holds is
/// remembered: longer than any file system's timestamp granularity.
const SETTLE: Duration = Duration::from_secs(3);

/// What walks found in each directory, by file system path, with the
/// directory's identity and times when it was read. Shared by clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct DirMemo(Arc<Mutex<HashMap<OsString, Arc<Level>>>>);

/// One directory as read: its files and its subdirectories.
#[derive(Debug)]
struct Level {
    /// Given once per read of a directory: two walks that saw the same
    /// levels saw the same files.
    id: u64,
    key: DirKey,
    files: Vec<ObjectMeta>,
    subdirs: Vec<(PathBuf, Path)>,
}

static NEXT_LEVEL_ID: AtomicU64 = AtomicU64::new(0);

/// Device, inode, modification and change time (ns) of a directory.
type DirKey = (u64, u64, i64, i64);

fn dir_key(meta: &Metadata) -> DirKey {
    let ns = |secs: i64, nanos: i64| secs.saturating_mul(1_000_000_000).saturating_add(nanos);
    (
        meta.dev(),
        meta.ino(),
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec()),
    )
}

impl DirMemo {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OsString, Arc<Level>>> {
        crate::locks::lock(&self.0)
    }

    fn get(&self, fs_dir: &FsPath, key: DirKey) -> Option<Arc<Level>> {
        self.lock()
            .get(fs_dir.as_os_str())
            .filter(|l| l.key == key)
            .cloned()
    }

    /// What `fs_dir` holds now: remembered if `settled`, else forgotten
    /// until it is; either way the subdirectories it held before and holds
    /// no longer are forgotten.
    fn store(&self, fs_dir: &FsPath, level: &Arc<Level>, settled: bool) {
        let mut memo = self.lock();
        let old = if settled {
            memo.insert(fs_dir.as_os_str().to_owned(), Arc::clone(level))
        } else {
            memo.remove(fs_dir.as_os_str())
        };
        if let Some(old) = old {
            let kept: HashSet<&FsPath> = level.subdirs.iter().map(|(p, _)| p.as_path()).collect();
            let gone = old
                .subdirs
                .iter()
                .map(|(p, _)| p)
                .filter(|p| !kept.contains(p.as_path()));
            forget_all(&mut memo, gone.cloned().collect());
        }
    }

    /// `fs_dir` is gone: forget it and everything under it.
    fn forget(&self, fs_dir: &FsPath) {
        forget_all(&mut self.lock(), vec![fs_dir.to_path_buf()]);
    }

    /// Directories remembered (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

fn forget_all(memo: &mut HashMap<OsString, Arc<Level>>, mut gone: Vec<PathBuf>) {
    while let Some(dir) = gone.pop() {
        if let Some(level) = memo.remove(dir.as_os_str()) {
            gone.extend(level.subdirs.iter().map(|(p, _)| p.clone()));
        }
    }
}

/// What one walk found: each directory under the walked one (and it), as
/// read or as remembered.
#[derive(Debug, Default)]
pub(crate) struct LocalListing {
    levels: Vec<Arc<Level>>,
}

impl LocalListing {
    /// Identifies what the walk saw: two walks with equal fingerprints
    /// listed the same files. A directory read (not remembered) gets a new
    /// id each time, so a walk that read any directory matches no other.
    pub(crate) fn fingerprint(&self) -> Vec<u64> {
        self.levels.iter().map(|l| l.id).collect()
    }

    /// Every file found, as `LocalFileSystem::list` would list it.
    pub(crate) fn into_objects(self) -> Vec<ObjectMeta> {
        let mut out = Vec::with_capacity(self.levels.iter().map(|l| l.files.len()).sum());
        for level in self.levels {
            match Arc::try_unwrap(level) {
                Ok(level) => out.extend(level.files),
                Err(shared) => out.extend(shared.files.iter().cloned()),
            }
        }
        out
    }
}

/// Every file under `dir` (an object path under the local store rooted at
/// `base`), recursively; empty when `dir` does not exist. Directories that
/// `memo` holds unchanged are not read again.
///
/// A log with many segments has as many `from=` directories under it; they
/// are walked by up to four threads, since the walk is system calls that
/// run in parallel on the kernel's cached directory entries.
///
/// A `dir` reached through a symbolic link is refused.
pub(crate) fn list_local(base: &FsPath, dir: &Path, memo: &DirMemo) -> io::Result<LocalListing> {
    let fs_dir = fs_path(base, dir);
    refuse_links(base, &fs_dir)?;
    // The clock is read before any directory's times: a change after this
    // instant gives a modification time after it too.
    let now = SystemTime::now();
    let Some(top) = visit(&fs_dir, dir, memo, now)? else {
        return Ok(LocalListing::default());
    };
    let subdirs = top.subdirs.clone();
    let mut levels = vec![top];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if threads < 2 || subdirs.len() < PARALLEL_MIN_DIRS {
        walk_all(&subdirs, memo, now, &mut levels)?;
        return Ok(LocalListing { levels });
    }
    let chunk = subdirs.len().div_ceil(threads);
    let walked = std::thread::scope(|scope| {
        let handles: Vec<_> = subdirs
            .chunks(chunk)
            .map(|dirs| {
                scope.spawn(move || {
                    let mut levels = Vec::new();
                    walk_all(dirs, memo, now, &mut levels)?;
                    Ok::<_, io::Error>(levels)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<io::Result<Vec<_>>>()
    })?;
    levels.extend(walked.into_iter().flatten());
    Ok(LocalListing { levels })
}

/// The files and subdirectories directly in `dir`, as
/// `LocalFileSystem::list_with_delimiter` gives them, links left out (and
/// `dir` refused if reached through one).
pub(crate) fn list_level(base: &FsPath, dir: &Path) -> io::Result<(Vec<ObjectMeta>, Vec<Path>)> {
    let fs_dir = fs_path(base, dir);
    refuse_links(base, &fs_dir)?;
    let (mut files, mut subdirs) = (Vec::new(), Vec::new());
    read_level(&fs_dir, dir, &mut files, &mut subdirs)?;
    Ok((files, subdirs.into_iter().map(|(_, path)| path).collect()))
}

fn fs_path(base: &FsPath, dir: &Path) -> PathBuf {
    let mut fs_dir = base.to_path_buf();
    for part in dir.parts() {
        fs_dir.push(part.as_ref());
    }
    fs_dir
}

/// Every directory under each of `dirs` (file system path, object path).
fn walk_all(
    dirs: &[(PathBuf, Path)],
    memo: &DirMemo,
    now: SystemTime,
    levels: &mut Vec<Arc<Level>>,
) -> io::Result<()> {
    for (fs_dir, dir) in dirs {
        if let Some(level) = visit(fs_dir, dir, memo, now)? {
            let subdirs = Arc::clone(&level);
            levels.push(level);
            walk_all(&subdirs.subdirs, memo, now, levels)?;
        }
    }
    Ok(())
}

/// The directory `fs_dir` (object path `dir`): from `memo` if unchanged
/// since it was read, else read (and remembered once settled); `None` if
/// it does not exist.
fn visit(
    fs_dir: &FsPath,
    dir: &Path,
    memo: &DirMemo,
    now: SystemTime,
) -> io::Result<Option<Arc<Level>>> {
    let meta = match fs::symlink_metadata(fs_dir) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(link_refused(fs_dir)),
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            memo.forget(fs_dir);
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let key = dir_key(&meta);
    if let Some(level) = memo.get(fs_dir, key) {
        return Ok(Some(level));
    }
    let (mut files, mut subdirs) = (Vec::new(), Vec::new());
    read_level(fs_dir, dir, &mut files, &mut subdirs)?;
    let level = Arc::new(Level {
        id: NEXT_LEVEL_ID.fetch_add(1, Ordering::Relaxed),
        key,
        files,
        subdirs,
    });
    let settled = meta
        .modified()
        .is_ok_and(|modified| modified + SETTLE <= now);
    memo.store(fs_dir, &level, settled);
    Ok(Some(level))
}

/// The files directly in `fs_dir` (object path `dir`) into `out`, and its
/// subdirectories (file system path, object path) into `subdirs`.
fn read_level(
    fs_dir: &FsPath,
    dir: &Path,
    out: &mut Vec<ObjectMeta>,
    subdirs: &mut Vec<(PathBuf, Path)>,
) -> io::Result<()> {
    let entries = match fs::read_dir(fs_dir) {
        Ok(entries) => entries,
        // Gone (never created, or removed by a concurrent gc): nothing here.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        // Names that are not UTF-8 are not the cache's.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let file_type = entry.file_type()?;
        if file_type.is_symlink() {
            link_ignored(entry.path());
            continue;
        }
        let Some(location) = child(dir, &name) else {
            continue;
        };
        if file_type.is_dir() {
            subdirs.push((entry.path(), location));
            continue;
        }
        if is_staging_file(&name) {
            continue;
        }
        let metadata = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.push(object_meta(location, &metadata));
    }
    Ok(())
}

/// `dir/name` as `LocalFileSystem` derives an object path from a file name
/// (through a `file://` URL); `None` for a name it cannot represent.
fn child(dir: &Path, name: &str) -> Option<Path> {
    let url = Url::from_file_path(FsPath::new("/").join(name)).ok()?;
    let leaf = Path::from_url_path(url.path()).ok()?;
    if leaf.parts().count() != 1 {
        return None;
    }
    Some(Path::from_iter(dir.parts().chain(leaf.parts())))
}

/// `object_store` stages a local write as `name#N` and hides such files.
fn is_staging_file(name: &str) -> bool {
    match name.split_once('#') {
        Some((_, suffix)) => !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn object_meta(location: Path, metadata: &Metadata) -> ObjectMeta {
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let mtime_us = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let inode = metadata.ino();
    let size = metadata.len();
    ObjectMeta {
        location,
        last_modified: modified.into(),
        size,
        e_tag: Some(format!("{inode:x}-{mtime_us:x}-{size:x}")),
        version: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures::TryStreamExt;
    use object_store::ObjectStore;
    use object_store::local::LocalFileSystem;

    use super::*;

    fn list(base: &FsPath, dir: &Path, memo: &DirMemo) -> Vec<ObjectMeta> {
        list_local(base, dir, memo).unwrap().into_objects()
    }

    fn by_path(objects: Vec<ObjectMeta>) -> BTreeMap<String, ObjectMeta> {
        objects
            .into_iter()
            .map(|o| (o.location.to_string(), o))
            .collect()
    }

    #[tokio::test]
    async fn lists_what_local_file_system_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let seg = base.join("logs/L/from=0/to=3600000");
        fs::create_dir_all(&seg).unwrap();
        fs::write(seg.join("part-a-00000.parquet"), b"parquet").unwrap();
        fs::write(seg.join("_SEGMENT.json"), b"{}").unwrap();
        // A write object_store staged and never finished: hidden.
        fs::write(seg.join("part-b-00000.parquet#3"), b"half").unwrap();
        // Not staging: a `#` followed by something else.
        fs::write(seg.join("notes#x"), b"n").unwrap();
        fs::create_dir_all(base.join("logs/L/from=5/to=6")).unwrap();
        // Links are never followed (`LocalFileSystem` follows them): a
        // linked directory, a linked file and a dangling link are skipped.
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(elsewhere.join("linked.txt"), b"l").unwrap();
        std::os::unix::fs::symlink(&elsewhere, base.join("logs/L/linked-dir")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("linked.txt"), base.join("logs/L/ln")).unwrap();
        std::os::unix::fs::symlink(base.join("nowhere"), base.join("logs/L/dangling")).unwrap();
        fs::write(base.join("logs/other"), b"outside the listed dir").unwrap();

        let store = LocalFileSystem::new_with_prefix(base).unwrap();
        let dir = Path::from("logs/L");
        let mut want = by_path(store.list(Some(&dir)).try_collect().await.unwrap());
        for linked in ["logs/L/linked-dir/linked.txt", "logs/L/ln"] {
            assert!(
                want.remove(linked).is_some(),
                "object_store follows {linked}"
            );
        }
        let got = by_path(list(base, &dir, &DirMemo::default()));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        assert_eq!(got, want);
        assert_eq!(got.len(), 3, "{:?}", got.keys());

        assert!(list(base, &Path::from("logs/none"), &DirMemo::default()).is_empty());
        // A listing through a link is refused, not followed.
        let through = list_local(base, &Path::from("logs/L/linked-dir"), &DirMemo::default());
        assert!(through.is_err());
        let (files, dirs) = list_level(base, &Path::from("logs/L")).unwrap();
        assert_eq!(files.len(), 0);
        assert_eq!(dirs.len(), 2, "from=0 and from=5, not the linked directory");
    }

    #[tokio::test]
    async fn a_log_of_many_segments_is_walked_in_parallel_and_lists_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let segments = 3 * PARALLEL_MIN_DIRS + 7;
        for i in 0..segments {
            let seg = base.join(format!("logs/L/from={i}/to={}", i + 1));
            fs::create_dir_all(&seg).unwrap();
            fs::write(seg.join("part-a-00000.parquet"), vec![b'p'; i]).unwrap();
            fs::write(seg.join("_SEGMENT.json"), b"{}").unwrap();
        }
        fs::write(base.join("logs/L/_LOOSE"), b"top level file").unwrap();
        let store = LocalFileSystem::new_with_prefix(base).unwrap();
        let dir = Path::from("logs/L");
        let want = by_path(store.list(Some(&dir)).try_collect().await.unwrap());
        let listed = list(base, &dir, &DirMemo::default());
        assert_eq!(listed.len(), 2 * segments + 1);
        assert_eq!(by_path(listed), want);
    }

    /// Sets the modification time of every directory under `dir` (and of
    /// `dir`) an hour back: settled, as a cache written earlier is.
    fn settle_dirs(dir: &FsPath) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                settle_dirs(&path);
            }
        }
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        fs::File::open(dir)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
    }

    fn sizes(objects: Vec<ObjectMeta>) -> BTreeMap<String, u64> {
        objects
            .into_iter()
            .map(|o| (o.location.to_string(), o.size))
            .collect()
    }

    fn segment(base: &FsPath, from: u64, part_len: usize) -> PathBuf {
        let seg = base.join(format!("logs/L/from={from}/to={}", from + 1));
        fs::create_dir_all(&seg).unwrap();
        fs::write(seg.join("part-a-00000.parquet"), vec![b'p'; part_len]).unwrap();
        fs::write(seg.join("_SEGMENT.json"), b"{}").unwrap();
        seg
    }

    /// A settled directory is not read again while its times are unchanged:
    /// a file rewritten in place (which a cache never does) stays as first
    /// listed; every entry added or removed, at any depth, is seen.
    #[test]
    fn unchanged_directories_are_not_read_again_and_changes_are_seen() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let dir = Path::from("logs/L");
        let segments: Vec<PathBuf> = (0..3).map(|i| segment(base, i * 10, 5)).collect();
        settle_dirs(&base.join("logs/L"));
        let memo = DirMemo::default();
        let first = sizes(list(base, &dir, &memo));
        assert_eq!(first.len(), 6);
        // The log's directory, three `from=` and three `to=` directories.
        assert_eq!(memo.len(), 7);
        let fingerprint = |memo: &DirMemo| list_local(base, &dir, memo).unwrap().fingerprint();
        let unchanged = fingerprint(&memo);
        assert_eq!(unchanged.len(), 7);
        assert_eq!(fingerprint(&memo), unchanged);

        // Rewritten in place: the directory's times do not move, so the
        // memo answers (proof that it is used); a walk without it sees it.
        fs::write(segments[0].join("part-a-00000.parquet"), vec![b'p'; 9]).unwrap();
        assert_eq!(sizes(list(base, &dir, &memo)), first);
        assert_eq!(fingerprint(&memo), unchanged);
        let fresh = sizes(list(base, &dir, &DirMemo::default()));
        assert_eq!(fresh["logs/L/from=0/to=1/part-a-00000.parquet"], 9);

        // A file added to a segment, a segment added, a segment removed:
        // each moves a directory's times and is seen.
        fs::write(segments[1].join("part-a-00001.parquet"), b"p2").unwrap();
        segment(base, 100, 7);
        fs::remove_dir_all(base.join("logs/L/from=20")).unwrap();
        assert_ne!(fingerprint(&memo), unchanged);
        let after = sizes(list(base, &dir, &memo));
        let mut want = fresh.clone();
        want.insert("logs/L/from=10/to=11/part-a-00001.parquet".into(), 2);
        want.insert("logs/L/from=100/to=101/part-a-00000.parquet".into(), 7);
        want.insert("logs/L/from=100/to=101/_SEGMENT.json".into(), 2);
        want.retain(|path, _| !path.starts_with("logs/L/from=20/"));
        // The rewritten part's directory was not read again.
        want.insert("logs/L/from=0/to=1/part-a-00000.parquet".into(), 5);
        assert_eq!(after, want);
        // Changed just now: the log's directory, the new segment's two and
        // the grown one's are read again on every walk until they settle;
        // the removed segment's two are forgotten. Left: `from=0`, its
        // `to=1`, and `from=10`.
        assert_eq!(memo.len(), 3);
        assert_eq!(sizes(list(base, &dir, &memo)), want);
        assert_ne!(fingerprint(&memo), fingerprint(&memo));

        // Once settled again, they are remembered again.
        settle_dirs(&base.join("logs/L"));
        assert_eq!(
            sizes(list(base, &dir, &memo)),
            sizes(list(base, &dir, &DirMemo::default()))
        );
        assert_eq!(memo.len(), 7);
        let settled = fingerprint(&memo);
        assert_eq!(fingerprint(&memo), settled);

        // The whole log removed: nothing listed, nothing remembered.
        fs::remove_dir_all(base.join("logs/L")).unwrap();
        assert!(list(base, &dir, &memo).is_empty());
        assert_eq!(memo.len(), 0);
    }

    /// Directories changed within [`SETTLE`] are read on every walk: a
    /// change in the same clock tick could leave their times as they were.
    #[test]
    fn recently_changed_directories_are_not_remembered() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let dir = Path::from("logs/L");
        let seg = segment(base, 0, 5);
        let memo = DirMemo::default();
        let walk = |memo: &DirMemo| list_local(base, &dir, memo).unwrap().fingerprint();
        assert_ne!(walk(&memo), walk(&memo));
        assert_eq!(memo.len(), 0);
        fs::write(seg.join("part-a-00000.parquet"), vec![b'p'; 9]).unwrap();
        let listed = sizes(list(base, &dir, &memo));
        assert_eq!(listed["logs/L/from=0/to=1/part-a-00000.parquet"], 9);
    }
}
