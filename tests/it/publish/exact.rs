//! One publisher: exact tables from a messy cache, reruns that add only what
//! is new, the settled edge, and maintenance that changes no row.

use std::time::Duration;

use datafusion_rapid7::ops::publish::{
    PublishOptions, TableLocation, optimize, publish_log, vacuum,
};
use datafusion_rapid7::time::TimeRange;

use super::{MIN, Setup, assert_exact, on_local_and_s3, truth_of};
use crate::support::T0;

on_local_and_s3!(
    a_messy_cache_publishes_each_instant_once,
    reruns_publish_only_new_coverage,
    the_unsettled_edge_is_never_published,
    optimize_and_vacuum_keep_the_rows,
    a_range_known_to_lack_events_is_named,
);

/// A segment whose manifest counts rejected events is published, and the
/// report names what it lacks; a complete cache names nothing.
async fn a_range_known_to_lack_events_is_named(s: Setup) {
    s.segment(T0, T0 + 3 * MIN).await;
    s.segment_with_rejected(T0 + 3 * MIN, T0 + 6 * MIN, 4).await;
    let table = s.table("auth");
    let report = s.publish(&table, None).await;
    assert_eq!(report.incomplete_ranges.len(), 1, "{report:?}");
    let named = &report.incomplete_ranges[0];
    assert!(
        named.starts_with("[2026-02-10T00:03:00.000Z, 2026-02-10T00:06:00.000Z)")
            && named.contains("4 events rejected"),
        "{named}"
    );
    let clean = s.table("clean");
    let mut window = PublishOptions::new(
        Some(TimeRange::new(T0, T0 + 3 * MIN).unwrap()),
        datafusion_rapid7::time::now_ms(),
    );
    window.commit_rows = 2_000;
    let report = publish_log(&s.cache, &s.log_id, &clean, &window)
        .await
        .expect("publish");
    assert!(
        report.events_published > 0 && report.incomplete_ranges.is_empty(),
        "{report:?}"
    );
}

async fn a_messy_cache_publishes_each_instant_once(s: Setup) {
    let covered = s.messy_cache().await;
    let table = s.table("auth");
    let report = s.publish(&table, None).await;
    let want = truth_of(&s, &covered);
    assert!(want.len() > 5_000, "a few thousand events: {}", want.len());
    assert_eq!(report.events_published, want.len() as u64);
    assert!(report.commits >= 2, "several commits: {report:?}");
    assert_eq!(
        report.coverage.len(),
        2,
        "the gap of filtered and uncommitted data stays a gap: {report:?}"
    );
    let got = s.read_back(&table).await;
    assert_exact(&got, &want);
    // Two UTC days: the partition column is the day of each timestamp.
    let days: std::collections::BTreeSet<i32> = got.iter().map(|r| r.6).collect();
    assert_eq!(days.len(), 2, "{days:?}");
}

async fn reruns_publish_only_new_coverage(s: Setup) {
    s.messy_cache().await;
    let table = s.table("auth");
    let first = s.publish(&table, None).await;
    let again = s.publish(&table, None).await;
    assert_eq!(
        (again.commits, again.events_published, again.version),
        (0, 0, first.version),
        "a rerun with nothing new commits nothing: {again:?}"
    );
    // The gap gets cached; a window publishes only what is in it.
    s.segment(T0 + 19 * MIN, T0 + 22 * MIN).await;
    s.segment(T0 + 25 * MIN, T0 + 31 * MIN).await;
    let window = TimeRange::new(T0, T0 + 28 * MIN).unwrap();
    let third = s.publish(&table, Some(window)).await;
    assert_eq!(
        third.events_published,
        s.truth(T0 + 19 * MIN, T0 + 22 * MIN).len() as u64
            + s.truth(T0 + 25 * MIN, T0 + 28 * MIN).len() as u64,
        "{third:?}"
    );
    let covered = [TimeRange::new(T0 - 6 * MIN, T0 + 28 * MIN).unwrap()];
    assert_exact(&s.read_back(&table).await, &truth_of(&s, &covered));
    let all = s.publish(&table, None).await;
    assert_eq!(
        all.events_published,
        s.truth(T0 + 28 * MIN, T0 + 31 * MIN).len() as u64
    );
    let covered = [TimeRange::new(T0 - 6 * MIN, T0 + 31 * MIN).unwrap()];
    assert_exact(&s.read_back(&table).await, &truth_of(&s, &covered));
    assert_eq!(all.coverage.len(), 1, "{all:?}");
}

async fn the_unsettled_edge_is_never_published(s: Setup) {
    s.segment(T0, T0 + 10 * MIN).await;
    let table = s.table("auth");
    // Settled only up to minute 4: minutes 4..10 wait for a later run.
    let options = PublishOptions::new(None, T0 + 4 * MIN);
    let report = publish_log(&s.cache, &s.log_id, &table, &options)
        .await
        .unwrap();
    assert_eq!(
        report.events_published,
        s.truth(T0, T0 + 4 * MIN).len() as u64
    );
    let got = s.read_back(&table).await;
    assert!(
        got.iter().all(|r| r.0 < T0 + 4 * MIN),
        "nothing past the edge"
    );
    let later = PublishOptions::new(None, T0 + 20 * MIN);
    publish_log(&s.cache, &s.log_id, &table, &later)
        .await
        .unwrap();
    let covered = [TimeRange::new(T0, T0 + 10 * MIN).unwrap()];
    assert_exact(&s.read_back(&table).await, &truth_of(&s, &covered));
}

async fn optimize_and_vacuum_keep_the_rows(s: Setup) {
    let covered = s.messy_cache().await;
    let table = s.table("auth");
    let first = s.publish(&table, None).await;
    assert!(first.files_added > 2, "{first:?}");
    let optimized = optimize(&table, 128 << 20).await.expect("optimize");
    assert!(
        optimized.files_removed > optimized.files_added,
        "{optimized:?}"
    );
    let want = truth_of(&s, &covered);
    assert_exact(&s.read_back(&table).await, &want);
    // Optimize commits carry no record; the next publish still knows what
    // the table holds.
    let again = s.publish(&table, None).await;
    assert_eq!(again.events_published, 0, "{again:?}");
    // The replaced files are within the retention: the guard refuses a
    // shorter one, the default deletes nothing yet.
    let refused = vacuum(&table, Some(Duration::from_secs(3600)), false)
        .await
        .expect_err("retention guard");
    assert!(refused.to_string().contains("retention"), "{refused}");
    let kept = vacuum(&table, None, false).await.expect("vacuum");
    assert!(kept.files_deleted.is_empty(), "{kept:?}");
    assert_exact(&s.read_back(&table).await, &want);
}

/// A table keeps one log: another log's publish into it is refused, and a
/// location that is another kind of Delta table too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_another_log_is_refused() {
    let s = Setup::local().await;
    s.segment(T0, T0 + MIN).await;
    let table = s.table("auth");
    s.publish(&table, None).await;
    let firewall = crate::support::log_id(&s.server, "Firewall");
    let options = PublishOptions::new(None, datafusion_rapid7::time::now_ms());
    let err = publish_log(&s.cache, &firewall, &table, &options)
        .await
        .expect_err("another log");
    assert!(
        err.to_string()
            .contains("publish each log into its own table"),
        "{err}"
    );
    let err = datafusion_rapid7::ops::publish::TableLocation::open("ftp://host/x")
        .expect_err("a scheme we do not write to");
    assert!(err.to_string().contains("s3://bucket/prefix"), "{err}");
    assert_exact(
        &s.read_back(&table).await,
        &truth_of(&s, &[TimeRange::new(T0, T0 + MIN).unwrap()]),
    );
}

/// A table made over per-log tables (one log published into their prefix,
/// which `Rapid7::publish` refuses, but `publish_log` or an earlier version
/// did not) is not vacuumed: vacuum's full mode would take the other tables'
/// files for unreferenced ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_refuses_a_table_whose_directory_holds_other_tables() {
    let s = Setup::local().await;
    s.segment(T0, T0 + MIN).await;
    let prefix = s.table("lake");
    let inner = prefix.child(&s.log_id).unwrap();
    s.publish(&inner, None).await;
    s.publish(&prefix, None).await;
    let err = vacuum(&prefix, None, true)
        .await
        .expect_err("a table over other tables");
    assert!(err.to_string().contains("other Delta tables"), "{err}");
    assert!(err.to_string().contains(&s.log_id), "{err}");
    vacuum(&inner, None, false).await.expect("a plain table");
    assert_exact(
        &s.read_back(&inner).await,
        &truth_of(&s, &[TimeRange::new(T0, T0 + MIN).unwrap()]),
    );
}

/// `memory://` names an in-process store for a table as it does for a cache
/// root (#33: the table's opener refused it): a publish there reads back
/// exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_url_holds_a_table_as_it_holds_a_cache() {
    let s = Setup::local().await;
    s.segment(T0, T0 + 3 * MIN).await;
    let lake = TableLocation::open("memory:///lake").expect("memory:// opens, as for a cache");
    let table = lake.child(&s.log_id).expect("a table below the prefix");
    let report = s.publish(&table, None).await;
    assert!(report.events_published > 0, "{report:?}");
    let range = TimeRange::new(T0, T0 + 3 * MIN).unwrap();
    assert_exact(&s.read_back(&table).await, &truth_of(&s, &[range]));
    let children = lake.children().await.expect("the prefix lists");
    assert_eq!(children.len(), 1, "one table below the prefix");
}
