//! Listing with stats, drop, compaction, and bounded memory while writing.

use datafusion_rapid7::cache::{CacheConfig, CompactOptions, CoverageKind, PartCompression};

use super::*;

on_local_and_s3!(compaction_keeps_every_row_once, drop_log_and_range);

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

    let listed = env.cache.list_segments(LOG).await.unwrap();
    let ranges: Vec<TimeRange> = listed.iter().map(|s| s.range()).collect();
    assert_eq!(ranges, vec![whole, big]);
    assert_eq!(listed[0].row_count(), truth(LOG, whole, 9).len() as u64);

    let after = env.cache.plan_read(LOG, request).await.unwrap();
    assert_eq!(after.coverage.kind, CoverageKind::Hit);
    assert_eq!(read_plan(&env.cache, &after).await, want);
    assert_eq!(read_plan_raw(&env, &after).await, want);
    // Nothing is left behind for gc.
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
