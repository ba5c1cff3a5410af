//! Offline, bypass, cancellation, overlapping segments and API failures.

use std::time::Duration;

use datafusion::prelude::SessionContext;
use datafusion_rapid7::Rapid7Config;
use datafusion_rapid7::cache::SegmentCache;
use datafusion_rapid7::events::page_to_batch;
use datafusion_rapid7::mock::{Faults, MockConfig, MockServer, RequestKind};
use datafusion_rapid7::time::TimeRange;
use futures::TryStreamExt;
use tempfile::TempDir;

use super::{MIN, local_cache, session, session_with, single_i64, sql, submitted, window};
use crate::support::{self, T0};

#[tokio::test]
async fn offline_answers_from_cache_and_names_what_is_missing() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (online, _) = session(&server, &dir).await;
    let proxy = support::log_id(&server, "Web Proxy");
    let cached = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Web Proxy' AND {}",
        window(T0, T0 + 2 * MIN)
    );
    sql(&online, &cached).await.unwrap();
    let requests = server.query_requests();

    let ctx = SessionContext::new();
    datafusion_rapid7::register(&ctx, Rapid7Config::offline_only(local_cache(&dir)))
        .await
        .unwrap();
    assert_eq!(
        single_i64(&sql(&ctx, &cached).await.unwrap()),
        server.dataset().count(&proxy, T0, T0 + 2 * MIN) as i64
    );
    let e = sql(
        &ctx,
        &format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Web Proxy' AND {}",
            window(T0, T0 + 3 * MIN)
        ),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("offline"), "{e}");
    assert!(
        e.contains("Web Proxy [2026-02-10T00:02:00.000Z, 2026-02-10T00:03:00.000Z)"),
        "{e}"
    );
    // A month missing is one range (its 720 hour pieces joined), not a
    // list no one reads.
    let month = sql(
        &ctx,
        &format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Web Proxy' AND {}",
            window(T0 + 3 * MIN, T0 + 30 * 24 * 60 * MIN)
        ),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        month.contains(
            "does not hold Web Proxy [2026-02-10T00:03:00.000Z, 2026-03-12T00:00:00.000Z). Turn"
        ),
        "{month}"
    );
    assert_eq!(
        server.query_requests(),
        requests,
        "offline never calls the API"
    );
}

#[tokio::test]
async fn bypass_reads_and_writes_no_cache() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session_with(&server, SegmentCache::bypass(), |c| c).await;
    let auth = support::log_id(&server, "Auth Service");
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
        window(T0, T0 + 5 * MIN)
    );
    let expected = server.dataset().count(&auth, T0, T0 + 5 * MIN) as i64;
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), expected);
    let first = server.query_requests();
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), expected);
    assert!(server.query_requests() > first, "bypass fetches every time");
    assert!(rapid7.cache().is_bypass());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_cancelled_query_commits_nothing_and_the_next_run_is_exact() {
    let server = support::server().await;
    server.set_faults(Faults {
        latency: Duration::from_millis(20),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(T0, T0 + 30 * MIN)
    );
    let df = ctx.sql(&q).await.unwrap();
    // ~150 pages at 20 ms each: cancel long before the fetch can finish.
    let run = tokio::time::timeout(Duration::from_millis(300), df.collect()).await;
    assert!(run.is_err(), "the query was still fetching");
    assert!(server.query_requests() > 0, "the fetch had started");
    assert!(rapid7.cache().list_segments(&fw).await.unwrap().is_empty());

    server.set_faults(Faults::default());
    assert_eq!(
        single_i64(&sql(&ctx, &q).await.unwrap()),
        server.dataset().count(&fw, T0, T0 + 30 * MIN) as i64
    );
    assert_eq!(rapid7.cache().list_segments(&fw).await.unwrap().len(), 1);
}

/// Write `[from, to)` of a log as a segment straight from the API.
async fn write_segment(server: &MockServer, cache: &SegmentCache, log: &str, from: i64, to: i64) {
    let client = support::client_for(server);
    let mut writer = cache
        .writer(log, TimeRange::new(from, to).unwrap())
        .unwrap();
    let pages: Vec<_> = client
        .query_events(log, from, to)
        .unwrap()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    for page in pages {
        writer
            .push(page_to_batch(page, None).unwrap())
            .await
            .unwrap();
    }
    writer.commit().await.unwrap();
}

#[tokio::test]
async fn overlapping_segments_are_never_double_counted() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let cache = local_cache(&dir);
    let fw = support::log_id(&server, "Firewall");
    // Two writers raced over overlapping ranges.
    write_segment(&server, &cache, &fw, T0, T0 + 10 * MIN).await;
    write_segment(&server, &cache, &fw, T0 + 5 * MIN, T0 + 15 * MIN).await;
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    for (f, t) in [
        (T0, T0 + 15 * MIN),
        (T0 + 4 * MIN, T0 + 6 * MIN),
        (T0 + 9 * MIN, T0 + 14 * MIN),
    ] {
        let q = format!(
            "SELECT count(*), count(DISTINCT sequence_number) FROM rapid7_logs \
             WHERE log_id = '{fw}' AND {}",
            window(f, t)
        );
        let batches = sql(&ctx, &q).await.unwrap();
        let expected = server.dataset().count(&fw, f, t) as i64;
        assert_eq!(single_i64(&batches), expected, "[{f}, {t})");
    }
    assert!(submitted(&server).is_empty(), "everything was cached");
}

#[tokio::test]
async fn api_failures_are_clear() {
    let server = MockServer::start(MockConfig {
        api_key: "the-right-key".into(),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let dir = TempDir::new().unwrap();
    let client = datafusion_rapid7::client::ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key("a-wrong-key")
        .build()
        .unwrap();
    let ctx = SessionContext::new();
    let e = datafusion_rapid7::register(&ctx, Rapid7Config::new(client, local_cache(&dir)))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("401") && e.contains("key"), "{e}");
    assert!(!e.contains("a-wrong-key"), "the key never appears: {e}");

    // A fetch that fails mid-way fails the query and commits nothing.
    let server = support::server().await;
    let (ctx, rapid7) = session(&server, &dir).await;
    server.set_faults(Faults {
        server_error_every_nth: Some(1),
        ..Faults::default()
    });
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
        window(T0, T0 + MIN)
    );
    let fast_fail = tokio::time::timeout(Duration::from_secs(120), sql(&ctx, &q))
        .await
        .expect("retries are bounded");
    let e = fast_fail.unwrap_err().to_string();
    assert!(e.contains("gave up") || e.contains("500"), "{e}");
    let auth = support::log_id(&server, "Auth Service");
    assert!(
        rapid7
            .cache()
            .list_segments(&auth)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_works_the_same_on_an_s3_cache() {
    let s3 = crate::cache::s3::S3Server::start().await;
    let server = support::server().await;
    let cache = SegmentCache::new(
        s3.root("team/rapid7"),
        datafusion_rapid7::cache::CacheConfig::default(),
    );
    let (ctx, rapid7) = session_with(&server, cache, |c| c).await;
    let fw = support::log_id(&server, "Firewall");
    let count = |f: i64, t: i64| {
        format!(
            "SELECT count(*), count(DISTINCT sequence_number) FROM rapid7_logs \
             WHERE log_name = 'Firewall' AND {}",
            window(f, t)
        )
    };
    // Cold, warm, then a wider (partial) window.
    for (f, t) in [
        (T0, T0 + 5 * MIN),
        (T0, T0 + 5 * MIN),
        (T0 - 5 * MIN, T0 + 10 * MIN),
    ] {
        let before = server.query_requests();
        let batches = sql(&ctx, &count(f, t)).await.unwrap();
        assert_eq!(
            single_i64(&batches),
            server.dataset().count(&fw, f, t) as i64,
            "[{f}, {t})"
        );
        if f == T0 && before > 0 {
            assert_eq!(server.query_requests(), before, "warm: no API call");
        }
    }
    let segments = rapid7.cache().list_segments(&fw).await.unwrap();
    assert_eq!(
        segments.len(),
        3,
        "[T0-5m, T0), [T0, T0+5m), [T0+5m, T0+10m)"
    );
    let report = rapid7.cache().verify(None).await.unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
}

/// A sync over a window that starts inside an already cached segment
/// reports exactly the window's events: the edge segment's rows are counted
/// inside the window only.
#[tokio::test]
async fn sync_reports_exactly_the_events_of_its_window() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let logs = ["Firewall".to_string()];
    let truth = |from: i64, to: i64| support::truth(&server, &fw, from, to).len() as u64;

    let first = rapid7.sync(&logs, T0, Some(T0 + 20 * MIN)).await.unwrap();
    assert_eq!(first.total_events, truth(T0, T0 + 20 * MIN));
    assert_eq!(first.total_events, first.new_events_processed);

    // Starts 7 minutes into the first run's window and goes 10 minutes past it.
    let second = rapid7
        .sync(&logs, T0 + 7 * MIN, Some(T0 + 30 * MIN))
        .await
        .unwrap();
    assert_eq!(second.segments_used, 1, "{second:?}");
    assert_eq!(
        second.new_events_processed,
        truth(T0 + 20 * MIN, T0 + 30 * MIN)
    );
    assert_eq!(second.total_events, truth(T0 + 7 * MIN, T0 + 30 * MIN));
    // The cached ranges after the run: the window, whole.
    let range = |a: i64, b: i64| TimeRange::new(a, b).unwrap();
    assert_eq!(
        second.cache_cached_ranges,
        vec![format!("Firewall {}", range(T0 + 7 * MIN, T0 + 30 * MIN))]
    );
    assert_eq!(
        first.cache_cached_ranges,
        vec![format!("Firewall {}", range(T0, T0 + 20 * MIN))]
    );
    // One batch per event page: at least one per fetched piece.
    let queries = server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query)
        .count() as u64;
    assert!(second.batches_processed >= 1);
    assert!(
        first.batches_processed + second.batches_processed <= queries,
        "{} + {} batches, {queries} query requests",
        first.batches_processed,
        second.batches_processed
    );
    assert_eq!((&second.summary, &second.summary_output), (&None, &None));

    // With a summary: written under the local cache root, by a name that
    // depends only on the window and the logs.
    let mut report = second.clone();
    rapid7
        .summarize_sync(&ctx, &logs, &mut report, None)
        .await
        .unwrap();
    let summary = report.summary.as_ref().expect("a summary");
    assert_eq!(summary.row_count, truth(T0 + 7 * MIN, T0 + 30 * MIN));
    let path = datafusion_rapid7::ops::sync_summary_path(
        dir.path(),
        range(T0 + 7 * MIN, T0 + 30 * MIN),
        &logs,
    );
    assert!(path.starts_with(dir.path().join("summaries")), "{path:?}");
    assert_eq!(
        report.summary_output.as_deref(),
        Some(path.display().to_string().as_str())
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(written["row_count"], summary.row_count);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["summary"]["row_count"], summary.row_count);
    assert_eq!(json["summary_output"], path.display().to_string());
}

/// A window in the future has no events: the simulator, like Rapid7, has
/// none after the moment it answers, so the query is one empty page per log.
#[tokio::test]
async fn a_window_in_the_future_is_empty_and_cheap() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _rapid7) = session(&server, &dir).await;
    let from = datafusion_rapid7::time::now_ms() + 24 * 60 * MIN;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(from, from + 60 * MIN)
    );
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), 0);
    let pages = server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query)
        .count();
    assert!(pages <= 2, "{pages} query requests for an empty window");
}
