//! A local cache root nobody else controls: roots others can write (or
//! another user owns) are refused, symbolic links inside the root are never
//! followed, and `drop` deletes only what the cache wrote.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use datafusion_rapid7::cache;
use datafusion_rapid7::cache::{CacheConfig, CoverageKind};

use super::*;

fn cache_at(dir: &FsPath) -> SegmentCache {
    SegmentCache::open(dir.to_str().expect("utf-8"), small_config()).expect("cache")
}

fn chmod(path: &FsPath, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &FsPath) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file under `dir` (relative paths), links not followed.
fn files(dir: &FsPath) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_root_that_others_can_write_or_another_user_owns_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (bits, who) in [
        (0o777, "group and others"),
        (0o770, "its group"),
        (0o703, "others"),
    ] {
        let dir = tmp.path().join(format!("shared-{bits:o}"));
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, bits);
        let err = CacheRoot::open(dir.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, cache::Error::Unavailable { .. }), "{err}");
        let text = err.to_string();
        let d = dir.display();
        assert!(
            text.contains(&format!("bad permissions on {d}: it is writable by {who}")),
            "{text}"
        );
        assert!(text.contains(&format!("fix with chmod 700 {d}")), "{text}");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "nothing written"
        );
        // The fix the message gives works.
        chmod(&dir, 0o700);
        CacheRoot::open(dir.to_str().unwrap()).unwrap();
    }
    // Readable by others is fine (a directory made with a 022 umask).
    let readable = tmp.path().join("readable");
    std::fs::create_dir(&readable).unwrap();
    chmod(&readable, 0o755);
    CacheRoot::open(readable.to_str().unwrap()).unwrap();
    assert_eq!(mode(&readable), 0o755, "an existing root is left as it is");

    // Owned by someone else. As root, give a directory away; otherwise `/`
    // belongs to root.
    let me = nix::unistd::geteuid().as_raw();
    let foreign = if me == 0 {
        let dir = tmp.path().join("theirs");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o700);
        std::os::unix::fs::chown(&dir, Some(65_534), Some(65_534)).unwrap();
        dir
    } else {
        PathBuf::from("/")
    };
    let err = CacheRoot::open(foreign.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("bad ownership on {}", foreign.display())),
        "{err}"
    );
    assert!(err.contains(&format!("not to you (uid {me})")), "{err}");

    // A root the cache creates is owner-only.
    let created = tmp.path().join("new/cache");
    CacheRoot::open(created.to_str().unwrap()).unwrap();
    assert_eq!(mode(&created), 0o700);
}

/// Links planted inside the root (a segment directory, a part, a log
/// directory, a directory a writer is about to use) are never followed: the
/// listing leaves them out with a warning, and every read, write and delete
/// through them is refused. Nothing outside the root is read as a segment,
/// written or deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_inside_the_root_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let cache = cache_at(&root);
    let (a, b, c) = (
        range(T0, T0 + 10_000),
        range(T0 + 10_000, T0 + 20_000),
        range(T0 + 20_000, T0 + 30_000),
    );
    write_segment(&cache, LOG, a, &truth(LOG, a, 7), 500).await;
    // A complete segment of another cache, linked into this one.
    let other = tmp.path().join("other");
    write_segment(&cache_at(&other), LOG, b, &truth(LOG, b, 7), 500).await;
    let from_b = format!("logs/{LOG}/from={}", b.start());
    symlink(other.join(&from_b), root.join(&from_b)).unwrap();

    let ranges: Vec<TimeRange> = cache
        .list_segments(LOG)
        .await
        .unwrap()
        .iter()
        .map(|s| s.range())
        .collect();
    assert_eq!(ranges, vec![a], "the linked segment is not listed");
    let plan = cache.plan_read(LOG, b).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Miss);

    // A writer whose segment directory is a link writes nothing through it.
    let sink = tmp.path().join("sink");
    std::fs::create_dir(&sink).unwrap();
    symlink(&sink, root.join(format!("logs/{LOG}/from={}", c.start()))).unwrap();
    let mut writer = cache.writer(LOG, c).unwrap();
    let pushed = writer.push(to_batch(&truth(LOG, c, 7))).await;
    let committed = match pushed {
        Ok(()) => writer.commit().await.map(drop),
        Err(e) => Err(e),
    };
    let err = committed.unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    assert!(files(&sink).is_empty(), "{:?}", files(&sink));

    // A log directory that is a link: not a log of this cache, and `drop`
    // refuses to go through it.
    const EVIL: &str = "9f1c2d3e-0000-4000-8000-00000000e111";
    let victim = tmp.path().join("victim");
    std::fs::create_dir_all(victim.join("from=1/to=2")).unwrap();
    std::fs::write(victim.join("from=1/to=2/_SEGMENT.json"), b"{}").unwrap();
    std::fs::write(victim.join("precious.txt"), b"keep me").unwrap();
    symlink(&victim, root.join(format!("logs/{EVIL}"))).unwrap();
    assert_eq!(cache.list_logs().await.unwrap(), vec![LOG.to_string()]);
    let err = cache.drop_log(EVIL).await.unwrap_err().to_string();
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(files(&victim).len(), 2);

    // A part replaced by a link to a copy of itself: the segment fails
    // loudly (its part is not there) instead of reading elsewhere.
    let seg = &cache.list_segments(LOG).await.unwrap()[0];
    let part = root.join(seg.parts()[0].path.as_ref());
    let copy = tmp.path().join("copy.parquet");
    std::fs::copy(&part, &copy).unwrap();
    std::fs::remove_file(&part).unwrap();
    symlink(&copy, &part).unwrap();
    let fresh = cache_at(&root);
    let err = fresh.plan_read(LOG, a).await.unwrap_err().to_string();
    assert!(err.contains("is missing"), "{err}");
    let verify = fresh.verify(Some(LOG)).await.unwrap();
    assert_eq!(verify.failures.len(), 1, "{verify:?}");
    assert!(
        verify.failures[0].message.contains("symbolic link"),
        "{verify:?}"
    );

    // gc and drop touch nothing outside the root.
    fresh.gc_with_grace(Duration::ZERO).await.unwrap();
    fresh.drop_log(LOG).await.unwrap();
    assert_eq!(files(&victim).len(), 2);
    assert!(copy.exists());
    assert_eq!(
        files(&other.join(&from_b)).len(),
        1 + cache_at(&other).list_segments(LOG).await.unwrap()[0]
            .parts()
            .len()
    );
}

/// `drop` deletes manifests and parts of the cache's naming where the
/// layout puts them, and nothing else under the log's directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_deletes_only_what_the_layout_names() {
    let env = Env::local(CacheConfig::default()).await;
    let Backend::Local(tmp) = &env.backend else {
        unreachable!()
    };
    let root = tmp.path().join("cache");
    let (a, b) = (range(T0, T0 + 10_000), range(T0 + 10_000, T0 + 20_000));
    for seg in [a, b] {
        write_segment(&env.cache, LOG, seg, &truth(LOG, seg, 7), 500).await;
    }
    let log = root.join(format!("logs/{LOG}"));
    let seg_a = log.join(format!("from={}/to={}", a.start(), a.end()));
    let foreign = [
        log.join("README"),
        seg_a.join("notes.txt"),
        seg_a.join("part-00001.parquet"),
        seg_a.join("_SEGMENT.json.bak"),
        log.join(format!(
            "from={}/elsewhere/part-1a2b3c4d-00000.parquet",
            a.start()
        )),
        log.join("x/y/z/w"),
    ];
    for f in &foreign {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, b"not the cache's").unwrap();
    }

    let report = env.cache.drop_range(LOG, a).await.unwrap();
    assert_eq!((report.segments, report.foreign_kept), (1, foreign.len()));
    let left: Vec<TimeRange> = env
        .cache
        .list_segments(LOG)
        .await
        .unwrap()
        .iter()
        .map(|s| s.range())
        .collect();
    assert_eq!(left, vec![b]);
    let report = env.cache.drop_log(LOG).await.unwrap();
    assert_eq!((report.segments, report.foreign_kept), (1, foreign.len()));
    assert!(env.cache.list_segments(LOG).await.unwrap().is_empty());
    for f in &foreign {
        assert!(f.exists(), "{} was kept", f.display());
    }
    let ours: Vec<String> = files(&log)
        .into_iter()
        .filter(|f| f.ends_with(".parquet") || f.ends_with("_SEGMENT.json"))
        .collect();
    assert_eq!(
        ours,
        vec![
            "from=1770681600000/elsewhere/part-1a2b3c4d-00000.parquet".to_string(),
            "from=1770681600000/to=1770681610000/part-00001.parquet".to_string(),
        ],
        "only the foreign look-alikes are left"
    );
}
