//! Interrupted writers, corruption, traversal attempts, bypass mode.

use std::time::Duration;

use datafusion_rapid7::cache::{
    CommitOutcome, CoverageKind, MANIFEST_FILE, SegmentInfo, SegmentManifest,
};
use datafusion_rapid7::{Error, cache};
use object_store::PutPayload;

use super::*;

on_local_and_s3!(
    interrupted_writer_leaves_nothing_visible,
    corruption_fails_loudly
);

async fn interrupted_writer_leaves_nothing_visible(env: Env) {
    let seg = range(T0, T0 + 20_000);
    let rows = truth(LOG, seg, 4);

    // A writer "killed" after flushing parts, before its manifest.
    let mut killed = env.cache.writer(LOG, seg).unwrap();
    for chunk in rows.chunks(600) {
        killed.push(to_batch(chunk)).await.unwrap();
    }
    killed.flush().await.unwrap();
    let leftovers = killed.parts_written();
    assert!(leftovers >= 2);
    drop(killed);
    assert_eq!(
        env.objects().await.len(),
        leftovers,
        "parts are on the store"
    );

    assert!(env.cache.list_segments(LOG).await.unwrap().is_empty());
    let plan = env.cache.plan_read(LOG, seg).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Miss);
    assert!(plan.segments.is_empty());

    // gc keeps parts of a writer that may still be running...
    let report = env.cache.gc().await.unwrap();
    assert_eq!(
        (report.objects_deleted, report.objects_kept),
        (0, leftovers)
    );
    // ...and removes them once it has been idle for the grace period.
    let report = env.cache.gc_with_grace(Duration::ZERO).await.unwrap();
    assert_eq!(report.objects_deleted, leftovers);
    assert!(report.bytes_deleted > 0);
    assert!(env.objects().await.is_empty());

    // An aborted writer removes its parts itself.
    let mut aborted = env.cache.writer(LOG, seg).unwrap();
    for chunk in rows.chunks(600) {
        aborted.push(to_batch(chunk)).await.unwrap();
    }
    assert!(aborted.parts_written() >= 1);
    aborted.abort().await.unwrap();
    assert!(env.objects().await.is_empty());

    // gc never touches committed parts.
    write_segment(&env.cache, LOG, seg, &rows, 600).await;
    let before = env.objects().await;
    let report = env.cache.gc_with_grace(Duration::ZERO).await.unwrap();
    assert_eq!(report.objects_deleted, 0);
    assert_eq!(env.objects().await, before);
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    ManifestNotJson,
    MissingPart,
    TruncatedPart,
    NotParquet,
    RowCountMismatch,
    /// The manifest's bounds of a part narrower than its rows (a read of
    /// the rows outside them would skip the part).
    TimestampBoundsMismatch,
    /// The manifest lists a part twice (its rows would count twice).
    PartListedTwice,
    /// The manifest lists a part another writer left in the directory.
    PartOfAnotherWriter,
}

async fn damage(env: &Env, seg: &SegmentInfo, how: Damage) {
    let store = env.store();
    let parts = seg.parts();
    let manifest = object_store::path::Path::from(format!("{}/{MANIFEST_FILE}", seg.dir()));
    match how {
        Damage::ManifestNotJson => {
            store
                .put(&manifest, PutPayload::from_static(b"{\"format\": 1, "))
                .await
                .unwrap();
        }
        Damage::MissingPart => store.delete(&parts[1].path).await.unwrap(),
        Damage::TruncatedPart => {
            let bytes = store
                .get(&parts[1].path)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            store
                .put(
                    &parts[1].path,
                    PutPayload::from(bytes.slice(..bytes.len() / 2)),
                )
                .await
                .unwrap();
        }
        Damage::NotParquet => {
            let junk = vec![b'x'; parts[1].size_bytes as usize];
            store
                .put(&parts[1].path, PutPayload::from(junk))
                .await
                .unwrap();
        }
        Damage::RowCountMismatch => {
            // The totals still add up; only the parts disagree with it.
            let mut m: SegmentManifest = seg.manifest().clone();
            m.parts[0].rows += 1;
            m.parts[1].rows -= 1;
            let json = serde_json::to_vec(&m).unwrap();
            store.put(&manifest, PutPayload::from(json)).await.unwrap();
        }
        Damage::TimestampBoundsMismatch => {
            let mut m: SegmentManifest = seg.manifest().clone();
            let p = &mut m.parts[1];
            let (lo, hi) = (p.min_timestamp_ms.unwrap(), p.max_timestamp_ms.unwrap());
            p.max_timestamp_ms = Some(lo + (hi - lo) / 2);
            put_manifest(env, &manifest, &m).await;
        }
        Damage::PartListedTwice => {
            let mut m: SegmentManifest = seg.manifest().clone();
            m.parts.push(m.parts[0].clone());
            m.row_count += m.parts[0].rows;
            put_manifest(env, &manifest, &m).await;
        }
        Damage::PartOfAnotherWriter => {
            // A writer that died in the same directory left a part.
            let mut other = env.cache.writer(seg.log_id(), seg.range()).unwrap();
            let rows = truth(seg.log_id(), seg.range(), 2);
            other.push(to_batch(&rows[..100])).await.unwrap();
            other.flush().await.unwrap();
            let leftover = env
                .objects()
                .await
                .into_iter()
                .find(|p| p.as_ref().contains(other.writer_id()))
                .unwrap();
            let size = store.head(&leftover).await.unwrap().size;
            let mut m: SegmentManifest = seg.manifest().clone();
            m.parts.push(datafusion_rapid7::cache::PartManifest {
                name: leftover.filename().unwrap().to_string(),
                size_bytes: size,
                rows: 100,
                min_timestamp_ms: Some(rows[0].0),
                max_timestamp_ms: Some(rows[99].0),
            });
            m.row_count += 100;
            put_manifest(env, &manifest, &m).await;
            drop(other);
        }
    }
}

async fn put_manifest(env: &Env, path: &object_store::path::Path, m: &SegmentManifest) {
    let json = serde_json::to_vec(m).unwrap();
    env.store().put(path, PutPayload::from(json)).await.unwrap();
}

async fn corruption_fails_loudly(env: Env) {
    for (i, how) in [
        Damage::ManifestNotJson,
        Damage::MissingPart,
        Damage::TruncatedPart,
        Damage::NotParquet,
        Damage::RowCountMismatch,
        Damage::TimestampBoundsMismatch,
        Damage::PartListedTwice,
        Damage::PartOfAnotherWriter,
    ]
    .into_iter()
    .enumerate()
    {
        let log = format!("log-{i}");
        let seg = range(T0, T0 + 10_000);
        let rows = truth(&log, seg, 2);
        let CommitOutcome::Committed(info) = write_segment(&env.cache, &log, seg, &rows, 500).await
        else {
            panic!("commit");
        };
        assert!(info.parts().len() >= 3);
        damage(&env, &info, how).await;

        let err = env
            .cache
            .plan_read(&log, range(T0 - 1_000, T0 + 5_000))
            .await
            .unwrap_err();
        let Error::Cache(cache::Error::CorruptSegment { segment, message }) = &err else {
            panic!("{how:?}: expected CorruptSegment, got {err}");
        };
        assert_eq!(segment, info.location(), "{how:?}: {message}");
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("logs/{log}/from={T0}/to={}", T0 + 10_000)),
            "{shown}"
        );
        // The way out, as settings (rapid7-sql adds its flags: cli tests).
        assert!(
            shown.contains("drop_log") && shown.contains("RAPID7_BYPASS_CACHE"),
            "{shown}"
        );

        // verify reports it, by name, without failing itself.
        let report = env.cache.verify(Some(&log)).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{how:?}: {report:?}");
        assert_eq!(report.failures[0].segment, info.location());

        // The fix the message names works.
        let dropped = env.cache.drop_range(&log, seg).await.unwrap();
        assert_eq!(dropped.segments, 1, "{how:?}");
        let plan = env.cache.plan_read(&log, seg).await.unwrap();
        assert_eq!(plan.coverage.kind, CoverageKind::Miss);
    }
}

#[tokio::test]
async fn traversal_attempts_are_refused() {
    let env = Env::local(small_config()).await;
    let seg = range(T0, T0 + 1_000);
    for bad in [
        "..", ".", "../etc", "a/b", "/", "a\\b", "\\", "", "a\0b", ".hidden",
    ] {
        let unsafe_path =
            |r: Result<(), Error>| matches!(r, Err(Error::Cache(cache::Error::UnsafePath { .. })));
        assert!(unsafe_path(env.cache.writer(bad, seg).map(drop)), "{bad:?}");
        assert!(
            unsafe_path(
                env.cache
                    .list_segments(bad)
                    .await
                    .map(drop)
                    .map_err(Error::from)
            ),
            "{bad:?}"
        );
        assert!(
            unsafe_path(env.cache.plan_read(bad, seg).await.map(drop)),
            "{bad:?}"
        );
        assert!(
            unsafe_path(env.cache.drop_log(bad).await.map(drop)),
            "{bad:?}"
        );
        assert!(
            unsafe_path(env.cache.drop_range(bad, seg).await.map(drop)),
            "{bad:?}"
        );
        assert!(
            unsafe_path(env.cache.verify(Some(bad)).await.map(drop)),
            "{bad:?}"
        );
        let options = Default::default();
        assert!(
            unsafe_path(env.cache.compact(bad, options).await.map(drop)),
            "{bad:?}"
        );
    }
    // Nothing was created beside or inside the root.
    let Backend::Local(tmp) = &env.backend else {
        unreachable!()
    };
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("cache")]);
    assert!(env.objects().await.is_empty());
}

#[tokio::test]
async fn bypass_reads_and_writes_nothing() {
    let cache = SegmentCache::bypass();
    assert!(cache.is_bypass() && cache.root().is_none());
    let seg = range(T0, T0 + 10_000);
    let rows = truth(LOG, seg, 10);
    let mut writer = cache.writer(LOG, seg).unwrap();
    writer.push(to_batch(&rows)).await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!((writer.parts_written(), writer.rows_written()), (0, 0));
    assert!(matches!(
        writer.commit().await.unwrap(),
        CommitOutcome::Bypassed
    ));

    let plan = cache.plan_read(LOG, seg).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Miss);
    assert_eq!(plan.coverage.missing, vec![seg]);
    assert!(plan.segments.is_empty());
    assert!(cache.list_logs().await.unwrap().is_empty());
    assert!(cache.list_segments(LOG).await.unwrap().is_empty());
    assert!(matches!(
        cache.gc().await,
        Err(Error::Cache(cache::Error::Unavailable { .. }))
    ));
    assert!(
        cache.writer("../x", seg).is_err(),
        "ids are validated in bypass mode too"
    );
}

#[tokio::test]
async fn unusable_root_names_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let bad = file.join("cache");
    let err = SegmentCache::open(bad.to_str().unwrap(), small_config()).unwrap_err();
    assert!(
        matches!(err, Error::Cache(cache::Error::Unavailable { .. })),
        "{err}"
    );
    assert!(err.to_string().contains(bad.to_str().unwrap()), "{err}");
}

/// `verify_on_read` checks a part's footer once per listing state: parts
/// are immutable, so a part the listing shows with the same size,
/// modification time and e-tag is not read again; any visible change is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_parts_are_remembered_by_their_listing_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let location = tmp.path().join("c");
    let cache = SegmentCache::open(location.to_str().unwrap(), small_config()).unwrap();
    let seg = range(T0, T0 + 10_000);
    let CommitOutcome::Committed(info) =
        write_segment(&cache, LOG, seg, &truth(LOG, seg, 2), 500).await
    else {
        panic!("commit");
    };
    assert_eq!(
        cache.plan_read(LOG, seg).await.unwrap().coverage.kind,
        CoverageKind::Hit
    );

    // Garbage of the same size, with the old modification time restored:
    // invisible to a listing.
    let root = cache.root().unwrap();
    let file = std::path::PathBuf::from(root.display_path(&info.parts()[0].path));
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    let size = std::fs::metadata(&file).unwrap().len() as usize;
    std::fs::write(&file, vec![b'x'; size]).unwrap();
    let f = std::fs::File::options().write(true).open(&file).unwrap();
    f.set_modified(modified).unwrap();
    drop(f);

    // Remembered: not read again.
    cache.plan_read(LOG, seg).await.unwrap();
    // A cache opened afresh reads it and fails: the part really is broken.
    let fresh = SegmentCache::open(location.to_str().unwrap(), small_config()).unwrap();
    let err = fresh.plan_read(LOG, seg).await.unwrap_err();
    assert!(
        matches!(err, Error::Cache(cache::Error::CorruptSegment { .. })),
        "{err}"
    );
    // A change a listing shows is checked again: here the same garbage
    // put in place as every write to a cache is, by a rename (a new inode,
    // and the directory's modification time moves, so a directory the
    // listing remembers is read again too).
    let staged = file.with_extension("staged");
    std::fs::copy(&file, &staged).unwrap();
    std::fs::rename(&staged, &file).unwrap();
    let err = cache.plan_read(LOG, seg).await.unwrap_err();
    assert!(
        matches!(err, Error::Cache(cache::Error::CorruptSegment { .. })),
        "{err}"
    );
}
