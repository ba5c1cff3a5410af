//! `rapid7_logs` end to end: SQL over the simulator (real HTTP on loopback)
//! and a real cache directory. Expected rows come from the simulator's data
//! function, never from the code under test.

mod approval;
mod big_message;
mod budget;
mod cached_counts;
mod completeness;
mod counts;
mod edge;
mod fields;
mod filters;
mod forms;
mod functions;
mod leql;
mod lifecycle;
mod log_list;
mod log_names;
mod logset;
mod logsets;
mod maintenance;
mod memory;
mod merged;
mod merged_shared;
mod newest;
mod newest_merged;
mod predicates;
mod pushdown;
mod shapes;
mod sparse;

use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, TimestampMillisecondType, UInt64Type};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::mock::{MockServer, RequestKind};
use datafusion_rapid7::{Rapid7, Rapid7Config};
use tempfile::TempDir;

use crate::support::{self, T0};

const MIN: i64 = 60_000;

/// A session with `rapid7_logs` registered over `server` and a cache in `dir`.
async fn session_with(
    server: &MockServer,
    cache: SegmentCache,
    tune: impl FnOnce(Rapid7Config) -> Rapid7Config,
) -> (SessionContext, Rapid7) {
    let config = tune(Rapid7Config::new(support::client_for(server), cache));
    let ctx = SessionContext::new();
    let rapid7 = datafusion_rapid7::register(&ctx, config)
        .await
        .expect("register");
    (ctx, rapid7)
}

fn local_cache(dir: &TempDir) -> SegmentCache {
    SegmentCache::open(dir.path().to_str().unwrap(), CacheConfig::default()).expect("cache")
}

/// [`session_with`] a local cache, and no count pushdown: the tests of
/// fetching and caching count rows with `count(*)`, which pushdown would
/// answer from statistics without fetching (`counts.rs` turns it back on).
async fn session(server: &MockServer, dir: &TempDir) -> (SessionContext, Rapid7) {
    session_with(server, local_cache(dir), |c| {
        c.with_pushdown_aggregates(false)
    })
    .await
}

async fn sql(ctx: &SessionContext, q: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
    ctx.sql(q).await?.collect().await
}

/// The millisecond of the Firewall burst in the second starting at T0.
fn burst_ms(server: &MockServer) -> i64 {
    let fw = support::log_id(server, "Firewall");
    let rows = support::truth(server, &fw, T0, T0 + 1000);
    let mut best = (0, T0);
    for r in &rows {
        let n = rows.iter().filter(|x| x.0 == r.0).count();
        if n > best.0 {
            best = (n, r.0);
        }
    }
    assert!(best.0 >= 700, "T0 is a burst second");
    best.1
}

/// `timestamp >= a AND timestamp < b` for epoch-ms bounds.
fn window(from: i64, to: i64) -> String {
    format!("timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({to})")
}

/// `SET rapid7.max_fetch_events = n`.
async fn set_max_fetch_events(ctx: &SessionContext, n: u64) {
    sql(ctx, &format!("SET rapid7.max_fetch_events = {n}"))
        .await
        .unwrap();
}

fn single_i64(batches: &[RecordBatch]) -> i64 {
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    b.column(0).as_primitive::<Int64Type>().value(0)
}

/// `(timestamp, sequence_number, message)` rows, in table order.
fn rows(batches: &[RecordBatch]) -> Vec<(i64, u64, String)> {
    let mut out = Vec::new();
    for b in batches {
        let ts = b.column(0).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(1).as_primitive::<UInt64Type>();
        let msg = b.column(2).as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((ts.value(i), seq.value(i), msg.value(i).to_string()));
        }
    }
    out
}

/// `(from, to)` of every query submit the simulator saw.
/// The windows of the event queries submitted (first pages, not `Next`
/// links; statistical estimates left out).
fn submitted(server: &MockServer) -> Vec<(i64, i64)> {
    server
        .requests()
        .into_iter()
        .filter(|r| {
            r.kind == RequestKind::Query && r.sequence_number.is_none() && !r.is_statistical()
        })
        .filter_map(|r| Some((r.from?, r.to?)))
        .collect()
}

#[tokio::test]
async fn first_query_fetches_second_is_served_from_cache() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 5 * MIN);
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(from, to)
    );
    let expected = server.dataset().count(&fw, from, to) as i64;
    assert!(expected > 10_000, "a window with several pages: {expected}");

    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), expected);
    let after_first = server.query_requests();
    assert!(after_first > 1, "the first run pages through the API");
    assert!(
        submitted(&server)
            .iter()
            .all(|&(f, t)| f >= from && t <= to)
    );

    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), expected);
    assert_eq!(
        server.query_requests(),
        after_first,
        "second run: no API call"
    );

    // A new session over the same directory reuses the cache too.
    let (ctx2, _) = session(&server, &dir).await;
    assert_eq!(single_i64(&sql(&ctx2, &q).await.unwrap()), expected);
    assert_eq!(server.query_requests(), after_first);
}

#[tokio::test]
async fn rows_equal_the_simulator_exactly_across_bursts_and_pages() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    // From the burst millisecond (700 events in one millisecond, more than
    // a page) to the millisecond of an event 40 s later.
    let burst = burst_ms(&server);
    let truth_all = support::truth(&server, &fw, burst, burst + 40_000);
    let to = truth_all.last().unwrap().0; // exclusive: that millisecond is out
    let q = format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_id = '{fw}' AND {} ORDER BY timestamp, sequence_number",
        window(burst, to)
    );
    let expected: Vec<_> = support::truth(&server, &fw, burst, to)
        .into_iter()
        .map(|(t, s, m, _)| (t, s, m))
        .collect();
    assert!(expected.iter().filter(|r| r.0 == burst).count() >= 700);
    assert!(expected.iter().all(|r| r.0 < to));
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), expected);
    // Served from cache, the same rows.
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), expected);
}

#[tokio::test]
async fn between_is_inclusive_and_string_literals_work() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    // The upper bound is the burst millisecond: BETWEEN includes all of it.
    let burst = burst_ms(&server);
    let upper = format!("2026-02-10T00:00:00.{:03}Z", burst - T0);
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND \
         timestamp BETWEEN '2026-02-09T23:59:59Z' AND '{upper}'"
    );
    let expected = server.dataset().count(&fw, T0 - 1000, burst + 1) as i64;
    assert!(expected - server.dataset().count(&fw, T0 - 1000, burst) as i64 >= 700);
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), expected);
    // Fetched exactly [a, b + 1ms), cut at the hour boundary T0.
    let mut subs = submitted(&server);
    subs.sort();
    assert_eq!(subs, vec![(T0 - 1000, T0), (T0, burst + 1)]);
}

#[tokio::test]
async fn a_wider_query_fetches_only_the_gaps() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let auth = support::log_id(&server, "Auth Service");
    let count = |f, t| {
        format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
            window(f, t)
        )
    };
    sql(&ctx, &count(T0 + 10 * MIN, T0 + 20 * MIN))
        .await
        .unwrap();
    server.clear_requests();

    let got = single_i64(&sql(&ctx, &count(T0, T0 + 30 * MIN)).await.unwrap());
    assert_eq!(got, server.dataset().count(&auth, T0, T0 + 30 * MIN) as i64);
    let subs = submitted(&server);
    assert!(!subs.is_empty());
    for (f, t) in subs {
        let in_gap = (f >= T0 && t <= T0 + 10 * MIN) || (f >= T0 + 20 * MIN && t <= T0 + 30 * MIN);
        assert!(in_gap, "fetched [{f}, {t}) which was cached");
    }
}

#[tokio::test]
async fn or_of_windows_fetches_each_window_alone() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let app = support::log_id(&server, "Web Proxy");
    let (a, b) = ((T0, T0 + MIN), (T0 + 60 * MIN, T0 + 61 * MIN));
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_id = '{app}' AND (({}) OR ({}))",
        window(a.0, a.1),
        window(b.0, b.1)
    );
    let expected = server.dataset().count(&app, a.0, a.1) + server.dataset().count(&app, b.0, b.1);
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), expected as i64);
    let subs = submitted(&server);
    assert!(
        subs.iter()
            .all(|&(f, t)| (f >= a.0 && t <= a.1) || (f >= b.0 && t <= b.1)),
        "{subs:?}"
    );
}

#[tokio::test]
async fn a_self_join_fetches_each_range_once() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let w = window(T0, T0 + 2 * MIN);
    let q = format!(
        "SELECT (SELECT count(*) FROM rapid7_logs WHERE log_name = 'Web Proxy' AND {w}) \
              + (SELECT count(*) FROM rapid7_logs WHERE log_name = 'Web Proxy' AND {w})"
    );
    let proxy = support::log_id(&server, "Web Proxy");
    let expected = 2 * server.dataset().count(&proxy, T0, T0 + 2 * MIN) as i64;
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), expected);
    let subs = submitted(&server);
    assert_eq!(
        subs,
        vec![(T0, T0 + 2 * MIN)],
        "one submit for the one range"
    );
}

#[tokio::test]
async fn explain_spends_no_quota_and_shows_the_fetches() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
        window(T0, T0 + MIN)
    );
    let plan = sql(&ctx, &format!("EXPLAIN {q}")).await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(text.contains("Rapid7ScanExec"), "{text}");
    assert!(
        text.contains(
            "fetch_on_execute=[Auth Service [2026-02-10T00:00:00.000Z, 2026-02-10T00:01:00.000Z)]"
        ),
        "{text}"
    );
    assert_eq!(server.query_requests(), 0, "EXPLAIN made no query");

    sql(&ctx, &q).await.unwrap();
    let plan = sql(&ctx, &format!("EXPLAIN {q}")).await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(
        text.contains("DataSourceExec") && !text.contains("Rapid7ScanExec"),
        "cached: a plain Parquet scan\n{text}"
    );
}

#[tokio::test]
async fn per_log_tables_and_their_names() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let tables = sql(
        &ctx,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'rapid7' ORDER BY table_name",
    )
    .await
    .unwrap();
    let names: Vec<String> = tables
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_string_view_opt().map(|a| {
                (0..a.len())
                    .map(|i| a.value(i).to_string())
                    .collect::<Vec<_>>()
            });
            a.unwrap_or_else(|| {
                let a = b.column(0).as_string::<i32>();
                (0..a.len()).map(|i| a.value(i).to_string()).collect()
            })
        })
        .collect();
    for log in server.dataset().logs() {
        assert!(
            names.contains(&log.name),
            "{} missing from {names:?}",
            log.name
        );
    }
    let proxy = support::log_id(&server, "Web Proxy");
    let q = format!(
        "SELECT count(*) FROM rapid7.\"Web Proxy\" WHERE {}",
        window(T0, T0 + MIN)
    );
    assert_eq!(
        single_i64(&sql(&ctx, &q).await.unwrap()),
        server.dataset().count(&proxy, T0, T0 + MIN) as i64
    );
    // The log id works as a table name as well.
    let q = format!(
        "SELECT count(*) FROM rapid7.\"{proxy}\" WHERE {}",
        window(T0, T0 + MIN)
    );
    assert_eq!(
        single_i64(&sql(&ctx, &q).await.unwrap()),
        server.dataset().count(&proxy, T0, T0 + MIN) as i64
    );
}

#[tokio::test]
async fn unknown_logs_and_missing_bounds_are_clear_errors() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let e = sql(
        &ctx,
        &format!(
            "SELECT * FROM rapid7_logs WHERE log_name = 'Firewal' AND {}",
            window(T0, T0 + 1)
        ),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown log \"Firewal\"") && e.contains("Firewall"),
        "{e}"
    );

    let e = sql(
        &ctx,
        "SELECT * FROM rapid7.\"Firewal\" WHERE timestamp > now() - interval '1 minute'",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("Firewall"), "{e}");

    let e = sql(&ctx, "SELECT * FROM rapid7_logs WHERE timestamp < now()")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("WHERE timestamp >= now() - interval '1 hour'"),
        "{e}"
    );
    assert_eq!(server.query_requests(), 0);
}

#[tokio::test]
async fn contradictory_filters_read_nothing() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND log_name = 'Web Proxy' AND {}",
        window(T0, T0 + MIN)
    );
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), 0);
    assert_eq!(server.query_requests(), 0);
}

#[tokio::test]
async fn all_logs_when_no_log_filter() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = format!(
        "SELECT log_name, count(*) AS n FROM rapid7_logs WHERE {} GROUP BY log_name ORDER BY log_name",
        window(T0 + MIN, T0 + 2 * MIN)
    );
    let batches = sql(&ctx, &q).await.unwrap();
    let mut got = Vec::new();
    for b in &batches {
        let names = b.column(0).as_string::<i32>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            got.push((names.value(i).to_string(), n.value(i) as u64));
        }
    }
    let mut expected: Vec<(String, u64)> = server
        .dataset()
        .logs()
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                server.dataset().count(&l.id, T0 + MIN, T0 + 2 * MIN),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    expected.sort();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn the_recent_edge_is_read_every_time_and_never_committed() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session_with(&server, local_cache(&dir), |c| {
        c.with_settle(Duration::from_secs(600))
            .with_pushdown_aggregates(false)
    })
    .await;
    let q = "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Auth Service' \
             AND timestamp >= now() - interval '30 minutes'";
    let n = single_i64(&sql(&ctx, q).await.unwrap());
    assert!(n > 0);
    let auth = support::log_id(&server, "Auth Service");
    let segments = rapid7.cache().list_segments(&auth).await.unwrap();
    assert!(!segments.is_empty(), "the settled 20 minutes are committed");
    let newest = segments.iter().map(|s| s.range().end()).max().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        newest <= now - 600_000,
        "nothing newer than now - settle is committed"
    );

    server.clear_requests();
    sql(&ctx, q).await.unwrap();
    let subs = submitted(&server);
    assert!(!subs.is_empty(), "the edge is fetched again");
    assert!(
        subs.iter().all(|&(f, _)| f >= newest),
        "only the edge: {subs:?}"
    );
}
