//! Retention (issue 23, item 4): whole segments that ended before the cut
//! are retired (tombstone, then the manifest goes), a segment straddling
//! the cut is kept, readers that planned before read on, and gc deletes the
//! retired parts once the grace period is over. On a local directory and on
//! the S3-protocol server, with real files.

use std::time::Duration;

use datafusion_rapid7::cache::{CoverageKind, SegmentCache};

use super::*;

on_local_and_s3!(
    retention_retires_whole_segments_before_the_cut_and_gc_deletes_them_after_the_grace,
    retention_keeps_what_a_reader_planned_over_until_gc_after_the_grace
);

const HOUR: i64 = 3_600_000;

/// Segments around `cut = T0 + 10 h`: two before it (one filtered), one
/// ending exactly at it, one straddling it, one after it.
async fn fill(cache: &SegmentCache) -> [TimeRange; 5] {
    let cut = T0 + 10 * HOUR;
    let old = range(cut - 3 * HOUR, cut - 2 * HOUR);
    let at_cut = range(cut - HOUR, cut);
    let straddling = range(cut - 60_000, cut + 60_000);
    let after = range(cut + HOUR, cut + HOUR + 60_000);
    for seg in [old, at_cut, after] {
        write_segment(cache, LOG, seg, &truth(LOG, seg, 997), 400).await;
    }
    // The straddling one overlaps `at_cut`: it is its own segment (a
    // second writer's), as a fetch over [cut - 1 min, cut + 1 min) would be.
    write_segment(cache, LOG, straddling, &truth(LOG, straddling, 97), 400).await;
    let mut filtered = cache
        .writer_filtered(LOG, Some("/allow/"), old)
        .expect("filtered writer");
    filtered
        .push(to_batch(&truth(LOG, old, 1_997)))
        .await
        .expect("push");
    filtered.commit().await.expect("commit");
    [old, at_cut, straddling, after, range(cut, cut + 1)]
}

async fn retention_retires_whole_segments_before_the_cut_and_gc_deletes_them_after_the_grace(
    env: Env,
) {
    let [old, at_cut, straddling, after, cut] = fill(&env.cache).await;
    let cut = cut.start();
    let before_objects = env.objects().await;

    let report = env.cache.expire_before(cut).await.unwrap();
    // `old`, its filtered twin and `at_cut` (which ends at the cut).
    assert_eq!(report.segments_expired, 3, "{report:?}");
    assert_eq!(report.segments_unreadable, 0);
    let want_rows = (truth(LOG, old, 997).len()
        + truth(LOG, at_cut, 997).len()
        + truth(LOG, old, 1_997).len()) as u64;
    assert_eq!(report.rows_expired, want_rows);
    assert!(report.bytes_expired > 0);
    assert_eq!(report.expired_before, datafusion_rapid7::time::fmt_ms(cut));

    let listed: Vec<TimeRange> = env
        .cache
        .list_segments(LOG)
        .await
        .unwrap()
        .iter()
        .map(|s| s.range())
        .collect();
    assert_eq!(
        listed,
        vec![straddling, after],
        "the straddling one is kept whole"
    );
    let plan = env.cache.plan_read(LOG, old).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Miss);
    let plan = env.cache.plan_read(LOG, straddling).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Hit);
    assert_eq!(
        read_plan(&env.cache, &plan).await,
        truth(LOG, straddling, 97)
    );

    // Nothing deleted yet: the parts wait out the grace period.
    let after_expire = env.objects().await;
    assert!(
        before_objects
            .iter()
            .filter(|p| p.filename().is_some_and(|f| f.ends_with(".parquet")))
            .all(|p| after_expire.contains(p)),
        "every part is still there"
    );
    let gc = env.cache.gc().await.unwrap();
    assert_eq!(gc.segments_purged, 0, "{gc:?}");
    assert!(gc.retired_kept > 0, "{gc:?}");

    // Expiring again finds nothing new.
    let again = env.cache.expire_before(cut).await.unwrap();
    assert_eq!(again.segments_expired, 0, "{again:?}");

    // After the grace period: the retired parts, manifests and tombstones go.
    let gc = env.cache.gc_with_grace(Duration::ZERO).await.unwrap();
    assert_eq!(gc.segments_purged, 3, "{gc:?}");
    let left = env.objects().await;
    for p in &left {
        let s = p.as_ref();
        assert!(
            !s.contains(&format!("from={}/", old.start()))
                && !s.contains(&format!("from={}/", at_cut.start())),
            "a file of an expired segment is left: {s}"
        );
    }
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
    let left: Vec<_> = left
        .into_iter()
        .filter(|p| p.filename() != Some("_LOGS.json"))
        .collect();
    assert_eq!(left, live, "only the kept segments' files");
    let verified = env.cache.verify(None).await.unwrap();
    assert!(verified.failures.is_empty(), "{verified:?}");
}

async fn retention_keeps_what_a_reader_planned_over_until_gc_after_the_grace(env: Env) {
    let [old, ..] = fill(&env.cache).await;
    let planned = env.cache.plan_read(LOG, old).await.unwrap();
    assert_eq!(planned.coverage.kind, CoverageKind::Hit);
    // Retention with an explicit older-than: everything before now.
    let report = env.cache.expire(Duration::from_secs(3600)).await.unwrap();
    assert!(report.segments_expired >= 4, "{report:?}");
    // The reader that planned before reads on, exactly.
    assert_eq!(read_plan(&env.cache, &planned).await, truth(LOG, old, 997));
    // A gc within the grace period keeps it readable too.
    env.cache.gc().await.unwrap();
    assert_eq!(read_plan(&env.cache, &planned).await, truth(LOG, old, 997));
    // A new plan sees nothing.
    let fresh = env.cache.plan_read(LOG, old).await.unwrap();
    assert_eq!(fresh.coverage.kind, CoverageKind::Miss);
}

/// `apply_retention` does nothing without a retention, and expire + gc with
/// one; bypass mode has nothing to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_retention_follows_the_setting() {
    let env = Env::local(small_config()).await;
    fill(&env.cache).await;
    assert_eq!(env.cache.apply_retention().await.unwrap(), None);
    let Backend::Local(dir) = &env.backend else {
        unreachable!()
    };
    let config = CacheConfig {
        retention: Some(Duration::from_secs(3600)),
        ..small_config()
    };
    let cache = SegmentCache::open(dir.path().join("cache").to_str().unwrap(), config).unwrap();
    let report = cache
        .apply_retention()
        .await
        .unwrap()
        .expect("a retention is set");
    // Every segment ended long before an hour ago.
    assert_eq!(report.expired.segments_expired, 5, "{report:?}");
    assert_eq!(report.gc.segments_purged, 0, "within the grace: {report:?}");
    assert!(cache.list_segments(LOG).await.unwrap().is_empty());
    let bypass = SegmentCache::bypass();
    assert_eq!(bypass.apply_retention().await.unwrap(), None);
}
