//! Two publishers on one table: whatever the interleaving, every event is
//! in the table once, and between them they published each event once.

use datafusion_rapid7::ops::publish::{PublishOptions, publish_log};

use super::{Setup, assert_exact, truth_of};
use crate::cache::s3::{HeldPut, HoldAt};

fn options() -> PublishOptions {
    let mut o = PublishOptions::new(None, datafusion_rapid7::time::now_ms());
    o.commit_rows = 1_500;
    o
}

/// Drive `run` until the held PUT is reached, and return its key; `run`
/// finishing first fails the test.
async fn until_held<F>(held: &mut HeldPut, run: &mut std::pin::Pin<&mut F>) -> String
where
    F: std::future::Future,
    F::Output: std::fmt::Debug,
{
    tokio::select! {
        key = held.reached() => key,
        r = run => panic!("finished before the held PUT: {r:?}"),
    }
}

/// Two publishers at once, several rounds, on a local table and on S3.
async fn racing_publishers(s: Setup) {
    let covered = s.messy_cache().await;
    let want = truth_of(&s, &covered);
    for round in 0..3 {
        let table = s.table(&format!("race-{round}"));
        let options = options();
        let (a, b) = tokio::join!(
            publish_log(&s.cache, &s.log_id, &table, &options),
            publish_log(&s.cache, &s.log_id, &table, &options),
        );
        let (a, b) = (a.expect("publisher a"), b.expect("publisher b"));
        assert_eq!(
            a.events_published + b.events_published,
            want.len() as u64,
            "each event published by exactly one of them: {a:?} {b:?}"
        );
        assert_exact(&s.read_back(&table).await, &want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_publishers_local() {
    racing_publishers(Setup::local().await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_publishers_s3() {
    racing_publishers(Setup::s3().await).await
}

/// Deterministic on S3: publisher A stalls on its first data file (its
/// table read, its commit not yet tried); B publishes everything; then A
/// goes on, loses its commit to B's, finds its ranges published, drops its
/// files and commits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_loses_the_commit_race_publishes_nothing_twice() {
    let s = Setup::s3().await;
    let covered = s.messy_cache().await;
    let want = truth_of(&s, &covered);
    let table = s.table("auth");
    let s3 = s.s3.as_ref().expect("S3");
    let mut held = s3.hold_put(HoldAt::AfterStore, |key| {
        key.starts_with("lake/auth/date=") && key.ends_with(".parquet")
    });
    let options = options();
    let a = publish_log(&s.cache, &s.log_id, &table, &options);
    tokio::pin!(a);
    let key = until_held(&mut held, &mut a).await;
    assert!(key.ends_with(".parquet"), "{key}");
    let b = publish_log(&s.cache, &s.log_id, &table, &options)
        .await
        .expect("publisher b");
    assert_eq!(b.events_published, want.len() as u64, "{b:?}");
    held.release();
    let a = a.await.expect("publisher a");
    assert_eq!(a.events_published, 0, "{a:?}");
    assert!(a.conflicts >= 1, "{a:?}");
    assert_exact(&s.read_back(&table).await, &want);
}

/// Deterministic on S3: publisher A (everything, several commits) stalls on
/// its first data file; B publishes only the last range; A's first commit
/// meets B's, commits its own earlier pieces on the newer version, and must
/// then plan the rest against the coverage it now sees: B's range is not
/// published a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_commits_after_a_conflict_plans_the_rest_against_the_new_coverage() {
    let s = Setup::s3().await;
    let covered = s.messy_cache().await;
    let want = truth_of(&s, &covered);
    let table = s.table("auth");
    let s3 = s.s3.as_ref().expect("S3");
    let mut held = s3.hold_put(HoldAt::AfterStore, |key| {
        key.starts_with("lake/auth/date=") && key.ends_with(".parquet")
    });
    let options = options();
    let a = publish_log(&s.cache, &s.log_id, &table, &options);
    tokio::pin!(a);
    let key = until_held(&mut held, &mut a).await;
    assert!(key.ends_with(".parquet"), "{key}");
    let last = *covered.last().expect("a covered range");
    let mut only_last = options.clone();
    only_last.window = Some(last);
    let b = publish_log(&s.cache, &s.log_id, &table, &only_last)
        .await
        .expect("publisher b");
    let in_last = want.iter().filter(|r| last.contains(r.0)).count() as u64;
    assert!(in_last > 0 && b.events_published == in_last, "{b:?}");
    held.release();
    let a = a.await.expect("publisher a");
    assert!(a.conflicts >= 1, "{a:?}");
    assert_eq!(
        a.events_published + b.events_published,
        want.len() as u64,
        "each event published once: {a:?} {b:?}"
    );
    assert_exact(&s.read_back(&table).await, &want);
}

/// On S3, the first commit is stored and then answered with an error no
/// client retries: the publisher finds its commit token in the table and
/// counts the commit as landed (no error, no second copy); a rerun adds
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_stored_but_answered_with_an_error_is_found_and_kept() {
    let s = Setup::s3().await;
    let covered = s.messy_cache().await;
    let want = truth_of(&s, &covered);
    let table = s.table("auth");
    let s3 = s.s3.as_ref().expect("S3");
    let mut held = s3.hold_put(HoldAt::StoreThenRefuse, |key| {
        key == "lake/auth/_delta_log/00000000000000000001.json"
    });
    let options = options();
    let a = publish_log(&s.cache, &s.log_id, &table, &options);
    tokio::pin!(a);
    let key = until_held(&mut held, &mut a).await;
    assert!(key.ends_with("1.json"), "{key}");
    held.release();
    let a = a.await.expect("a stored commit is no failure");
    assert_eq!(a.events_published, want.len() as u64, "{a:?}");
    assert_exact(&s.read_back(&table).await, &want);
    let again = publish_log(&s.cache, &s.log_id, &table, &options)
        .await
        .expect("rerun");
    assert_eq!((again.events_published, again.commits), (0, 0), "{again:?}");
}
