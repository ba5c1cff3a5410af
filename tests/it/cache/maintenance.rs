//! Listing with stats, drop, compaction, and bounded memory while writing.

use datafusion_rapid7::cache::{
    CacheConfig, CompactOptions, CoverageKind, PartCompression, SegmentInfo,
};
use datafusion_rapid7::time::now_ms;
use object_store::PutPayload;

use super::*;

on_local_and_s3!(
    compaction_keeps_every_row_once,
    drop_log_and_range,
    an_interrupted_retirement_is_finished_by_gc_once_its_grace_is_over
);

async fn compaction_keeps_every_row_once(env: Env) {
    let whole = range(T0, T0 + 60_000);
    for i in 0..4 {
        let seg = range(T0 + i * 15_000, T0 + (i + 1) * 15_000);
        write_segment(&env.cache, LOG, seg, &truth(LOG, seg, 9), 400).await;
    }
    // A segment inside another one (a narrower re-fetch) is shadowed.
    let inner = range(T0 + 1_000, T0 + 2_000);
    write_segment(&env.cache, LOG, inner, &truth(LOG, inner, 9), 400).await;
    // A big neighbour is left alone.
    let big = range(T0 + 60_000, T0 + 70_000);
    write_segment(&env.cache, LOG, big, &truth(LOG, big, 1), 4_000).await;

    let request = range(T0, T0 + 70_000);
    let want = truth(LOG, whole, 9)
        .into_iter()
        .chain(truth(LOG, big, 1))
        .collect::<Vec<_>>();
    let before = env.cache.plan_read(LOG, request).await.unwrap();
    assert_eq!(read_plan(&env.cache, &before).await, want);

    let options = CompactOptions {
        small_segment_rows: 10_000,
        max_merged_rows: 1_000_000,
    };
    let report = env.cache.compact(LOG, options).await.unwrap();
    assert_eq!((report.segments_written, report.segments_removed), (1, 5));
    // A plan made before the compaction still reads its (replaced) segments.
    assert_eq!(read_plan(&env.cache, &before).await, want);

    let listed = env.cache.list_segments(LOG).await.unwrap();
    let ranges: Vec<TimeRange> = listed.iter().map(|s| s.range()).collect();
    assert_eq!(ranges, vec![whole, big]);
    assert_eq!(listed[0].row_count(), truth(LOG, whole, 9).len() as u64);

    let after = env.cache.plan_read(LOG, request).await.unwrap();
    assert_eq!(after.coverage.kind, CoverageKind::Hit);
    assert_eq!(read_plan(&env.cache, &after).await, want);
    assert_eq!(read_plan_raw(&env, &after).await, want);
    // The replaced segments' parts stay for readers until the grace period
    // has passed (this changed: they used to be deleted at once)...
    let replaced_parts: usize = before
        .segments
        .iter()
        .filter(|p| p.segment.range() != big)
        .map(|p| p.segment.parts().len())
        .sum::<usize>()
        + 1;
    let report = env.cache.gc().await.unwrap();
    assert_eq!(report.objects_deleted, 0, "{report:?}");
    assert!(report.retired_kept >= replaced_parts, "{report:?}");
    assert_eq!(read_plan(&env.cache, &before).await, want);
    // ...then gc deletes them and their tombstones, and nothing else.
    let report = env
        .cache
        .gc_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.segments_purged, 5, "{report:?}");
    assert_eq!(report.retired_kept, 0);
    let live: Vec<_> = env
        .cache
        .list_segments(LOG)
        .await
        .unwrap()
        .iter()
        .flat_map(|s| {
            let manifest = Path::from(format!("{}/_SEGMENT.json", s.dir()));
            s.parts().into_iter().map(|p| p.path).chain([manifest])
        })
        .collect();
    let mut live = live;
    live.sort();
    assert_eq!(env.objects().await, live, "only the live segments' files");
    assert_eq!(read_plan(&env.cache, &after).await, want);
    let report = env
        .cache
        .gc_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.objects_deleted, 0);
    // Compacting again changes nothing.
    let report = env.cache.compact(LOG, options).await.unwrap();
    assert_eq!((report.segments_written, report.segments_removed), (0, 0));
}

/// gc lists, a writer commits, gc deletes: the manifest is read again right
/// before the delete, so the writer's parts are kept and its segment reads
/// exactly. The S3 server holds gc's LIST while the writer commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_keeps_the_parts_of_a_writer_that_commits_between_its_list_and_its_delete() {
    let server = super::s3::S3Server::start().await;
    let cache = SegmentCache::new(server.root("team/cache"), small_config());
    let seg = range(T0, T0 + 20_000);
    let rows = truth(LOG, seg, 3);
    let mut writer = cache.writer(LOG, seg).unwrap();
    for chunk in rows.chunks(700) {
        writer.push(to_batch(chunk)).await.unwrap();
    }
    writer.flush().await.unwrap();
    assert!(writer.parts_written() >= 3);

    let mut held = server.hold_list(|prefix| prefix.ends_with("/logs/"));
    let (gc, committed) = tokio::join!(cache.gc_with_grace(std::time::Duration::ZERO), async {
        let listed = held.reached().await;
        let outcome = writer.commit().await.unwrap();
        held.release();
        (listed, outcome)
    });
    let gc = gc.unwrap();
    assert!(committed.0.ends_with("/logs/"), "{}", committed.0);
    assert!(matches!(committed.1, CommitOutcome::Committed(_)));
    assert_eq!(gc.objects_deleted, 0, "{gc:?}");
    assert!(gc.objects_kept >= 3, "{gc:?}");

    let plan = cache.plan_read(LOG, seg).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Hit);
    assert_eq!(read_plan(&cache, &plan).await, rows);
    let verified = cache.verify(None).await.unwrap();
    assert!(verified.failures.is_empty(), "{verified:?}");
}

/// The tombstone compaction writes before it deletes a replaced manifest
/// (`_RETIRED-{writer}.json`), written by hand with an explicit time.
async fn tombstone(env: &Env, seg: &SegmentInfo, retired_at_ms: i64) {
    let m = seg.manifest();
    let body = serde_json::json!({
        "format": 1,
        "writer_id": m.writer_id,
        "parts": m.parts.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "retired_at_ms": retired_at_ms,
        "replaced_by": "test",
    });
    let path = Path::from(format!("{}/_RETIRED-{}.json", seg.dir(), m.writer_id));
    env.store()
        .put(&path, PutPayload::from(serde_json::to_vec(&body).unwrap()))
        .await
        .unwrap();
}

/// A compaction that stopped after committing the merged segment and
/// writing the replaced segments' tombstones, before deleting their
/// manifests: every state reads exactly, and gc finishes each retirement
/// once its tombstone is older than the grace period (manifest first).
async fn an_interrupted_retirement_is_finished_by_gc_once_its_grace_is_over(env: Env) {
    let (a, b) = (range(T0, T0 + 10_000), range(T0 + 10_000, T0 + 20_000));
    let whole = range(T0, T0 + 20_000);
    let want = truth(LOG, whole, 9);
    let mut replaced = Vec::new();
    for seg in [a, b] {
        let CommitOutcome::Committed(info) =
            write_segment(&env.cache, LOG, seg, &truth(LOG, seg, 9), 400).await
        else {
            panic!("commit");
        };
        replaced.push(info);
    }
    write_segment(&env.cache, LOG, whole, &want, 400).await;
    let hour = 3_600_000;
    tombstone(&env, &replaced[0], now_ms() - 2 * hour).await;
    tombstone(&env, &replaced[1], now_ms()).await;
    let read = |env: &Env| {
        let cache = env.cache.clone();
        async move {
            let plan = cache.plan_read(LOG, whole).await.unwrap();
            assert_eq!(plan.coverage.kind, CoverageKind::Hit);
            read_plan(&cache, &plan).await
        }
    };
    assert_eq!(read(&env).await, want);

    // The default grace (an hour): the first retirement is over, the
    // second is not.
    let report = env.cache.gc().await.unwrap();
    assert_eq!(report.segments_purged, 1, "{report:?}");
    assert_eq!(report.retired_kept, replaced[1].parts().len(), "{report:?}");
    let ranges = |segs: Vec<SegmentInfo>| segs.iter().map(|s| s.range()).collect::<Vec<_>>();
    assert_eq!(
        ranges(env.cache.list_segments(LOG).await.unwrap()),
        vec![whole, b]
    );
    let objects = env.objects().await;
    assert!(
        replaced[0]
            .parts()
            .iter()
            .all(|p| !objects.contains(&p.path)),
        "the first one's parts are gone"
    );
    assert_eq!(read(&env).await, want);

    let report = env
        .cache
        .gc_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.segments_purged, 1, "{report:?}");
    assert_eq!(
        ranges(env.cache.list_segments(LOG).await.unwrap()),
        vec![whole]
    );
    assert_eq!(read(&env).await, want);
    let verified = env.cache.verify(None).await.unwrap();
    assert!(verified.failures.is_empty(), "{verified:?}");
    let report = env
        .cache
        .gc_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.objects_deleted, 0, "nothing else: {report:?}");
}

async fn drop_log_and_range(env: Env) {
    const OTHER: &str = "9f1c2d3e-0000-4000-8000-000000000001";
    for log in [LOG, OTHER] {
        for i in 0..3 {
            let seg = range(T0 + i * 10_000, T0 + (i + 1) * 10_000);
            write_segment(&env.cache, log, seg, &truth(log, seg, 20), 500).await;
        }
    }
    assert_eq!(
        env.cache.list_logs().await.unwrap(),
        vec![LOG.to_string(), OTHER.to_string()]
    );
    let stats = env.cache.list_segments(LOG).await.unwrap();
    assert_eq!(stats.len(), 3);
    assert!(
        stats
            .iter()
            .all(|s| s.row_count() > 0 && s.size_bytes() > 0)
    );

    // Dropping a range removes every segment it touches, whole.
    let report = env
        .cache
        .drop_range(LOG, range(T0 + 9_999, T0 + 10_001))
        .await
        .unwrap();
    assert_eq!(report.segments, 2);
    let left: Vec<TimeRange> = env
        .cache
        .list_segments(LOG)
        .await
        .unwrap()
        .iter()
        .map(|s| s.range())
        .collect();
    assert_eq!(left, vec![range(T0 + 20_000, T0 + 30_000)]);

    let report = env.cache.drop_log(LOG).await.unwrap();
    assert_eq!(report.segments, 1);
    assert!(env.cache.list_segments(LOG).await.unwrap().is_empty());
    assert_eq!(env.cache.list_segments(OTHER).await.unwrap().len(), 3);

    let verified = env.cache.verify(None).await.unwrap();
    assert!(verified.failures.is_empty(), "{verified:?}");
    assert_eq!(verified.segments_checked, 3);
    assert_eq!(
        verified.rows_checked,
        truth(OTHER, range(T0, T0 + 30_000), 20).len() as u64
    );
}

/// Two million small rows through a writer with a 4 MiB byte threshold: the
/// buffer never holds more than the threshold plus one batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_by_the_flush_threshold() {
    const ROWS: i64 = 2_000_000;
    const BATCH: i64 = 2_000;
    let flush_bytes = 4 * 1024 * 1024;
    let env = Env::local(CacheConfig {
        flush_rows: usize::MAX,
        flush_bytes,
        compression: PartCompression::Zstd(1),
        ..CacheConfig::default()
    })
    .await;
    let seg = range(T0, T0 + ROWS);
    let mut writer = env.cache.writer(LOG, seg).unwrap();
    let mut largest_batch = 0;
    for start in (0..ROWS).step_by(BATCH as usize) {
        let rows: Vec<Row> = (start..start + BATCH)
            .map(|i| {
                let ts = T0 + i;
                (
                    ts,
                    i as u64,
                    LOG.to_string(),
                    Some("Firewall".to_string()),
                    format!("event {i}"),
                    vec![],
                )
            })
            .collect();
        let batch = to_batch(&rows);
        largest_batch = largest_batch.max(batch.get_array_memory_size());
        writer.push(batch).await.unwrap();
    }
    let peak = writer.peak_buffered_bytes();
    let CommitOutcome::Committed(info) = writer.commit().await.unwrap() else {
        panic!("commit");
    };
    eprintln!(
        "memory: {ROWS} rows in {} parts, {} bytes on disk; peak buffered {peak} bytes \
         (flush_bytes {flush_bytes}, largest batch {largest_batch})",
        info.parts().len(),
        info.size_bytes()
    );
    assert_eq!(info.row_count(), ROWS as u64);
    assert!(peak <= flush_bytes + largest_batch, "peak {peak}");
    assert!(
        info.parts().len() > 10,
        "the threshold, not the window, sized the parts"
    );
}

/// A local write killed mid-file leaves object_store's staging file
/// (`{name}#{n}`), which no listing shows: gc finds it on disk and removes
/// it once idle for the grace period, and touches nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_staging_files_of_killed_local_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let location = tmp.path().join("c");
    let cache = SegmentCache::open(location.to_str().unwrap(), CacheConfig::default()).unwrap();
    let seg_dir = location.join("logs/log-1/from=0/to=1000");
    std::fs::create_dir_all(&seg_dir).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7 * 24 * 3600);
    let write = |name: &str, len: usize, modified: Option<std::time::SystemTime>| {
        let path = seg_dir.join(name);
        std::fs::write(&path, vec![b'p'; len]).unwrap();
        if let Some(t) = modified {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        path
    };
    let abandoned = write("part-1a2b3c4d-00000.parquet#1", 700, Some(old));
    let manifest = write("_SEGMENT.json#12", 50, Some(old));
    let in_flight = write("part-5e6f7a8b-00000.parquet#1", 300, None);
    // Not staging files: a name whose suffix is not a number, and a staged
    // name outside the segment directories.
    let foreign = write("notes#draft", 10, Some(old));
    let elsewhere = location.join("logs/stray#1");
    std::fs::write(&elsewhere, b"x").unwrap();

    let report = cache.gc().await.unwrap();
    assert_eq!(
        (
            report.objects_deleted,
            report.bytes_deleted,
            report.objects_kept
        ),
        (2, 750, 1)
    );
    assert!(!abandoned.exists() && !manifest.exists());
    assert!(in_flight.exists() && foreign.exists() && elsewhere.exists());

    let report = cache
        .gc_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((report.objects_deleted, report.bytes_deleted), (1, 300));
    assert!(!in_flight.exists() && foreign.exists() && elsewhere.exists());
}
