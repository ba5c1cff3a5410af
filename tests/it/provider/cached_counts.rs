//! Count pushdown over cached parts: counted from the `timestamp` column
//! and the row groups' statistics, the same counts as the data function and
//! as the plain Parquet scan and aggregate (pushdown off) over the same
//! parts, for bins that row groups straddle, partial segments, calendar
//! bins and no bins.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use tempfile::TempDir;

use super::{MIN, session_with, sql, window};
use crate::support::{self, T0};

/// A session over a cache of small parts in small row groups (400 rows in
/// groups of 50: about 17 s of Auth Service's 3 events/s), holding Auth
/// Service's `[T0, T0 + 1 h)`.
async fn cached_hour(
    server: &datafusion_rapid7::mock::MockServer,
    dir: &TempDir,
) -> SessionContext {
    let config = CacheConfig {
        flush_rows: 400,
        row_group_rows: 50,
        ..CacheConfig::default()
    };
    let cache = SegmentCache::open(dir.path().to_str().unwrap(), config).unwrap();
    let (ctx, _) = session_with(server, cache, |c| c).await;
    sql(
        &ctx,
        &format!(
            "SELECT max(message) FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
            window(T0, T0 + 60 * MIN)
        ),
    )
    .await
    .unwrap();
    ctx
}

/// `q` pushed (checked in its plan, with no request to Rapid7) and not
/// pushed, as text.
async fn both_ways(
    ctx: &SessionContext,
    server: &datafusion_rapid7::mock::MockServer,
    q: &str,
) -> (String, String) {
    let plan = pretty_format_batches(&sql(ctx, &format!("EXPLAIN {q}")).await.unwrap())
        .unwrap()
        .to_string();
    assert!(plan.contains("Rapid7CountsExec"), "{plan}");
    server.clear_requests();
    let pushed = pretty_format_batches(&sql(ctx, q).await.unwrap())
        .unwrap()
        .to_string();
    assert!(server.requests().is_empty(), "{q}: {:?}", server.requests());
    sql(ctx, "SET rapid7.pushdown_aggregates = false")
        .await
        .unwrap();
    let plain = pretty_format_batches(&sql(ctx, q).await.unwrap())
        .unwrap()
        .to_string();
    sql(ctx, "SET rapid7.pushdown_aggregates = true")
        .await
        .unwrap();
    (pushed, plain)
}

#[tokio::test]
async fn cached_parts_count_as_the_parquet_scan_does() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let ctx = cached_hour(&server, &dir).await;
    let auth = support::log_id(&server, "Auth Service");
    // The whole hour and a partial range of it (cutting row groups).
    let ranges = [(T0, T0 + 60 * MIN), (T0 + 7 * MIN + 123, T0 + 41 * MIN + 5)];
    let groups = [
        "date_bin(interval '1 minute', timestamp)",
        "date_bin(interval '7 seconds', timestamp, timestamp '2026-02-10T00:00:03Z')",
        "date_trunc('minute', timestamp)",
        "date_trunc('day', timestamp)",
        "date_trunc('month', timestamp)",
        "date_trunc('year', timestamp)",
    ];
    for (from, to) in ranges {
        for g in groups {
            let q = format!(
                "SELECT {g} AS t, count(*) AS n FROM rapid7_logs \
                 WHERE log_name = 'Auth Service' AND {} GROUP BY t ORDER BY t",
                window(from, to)
            );
            let (pushed, plain) = both_ways(&ctx, &server, &q).await;
            assert_eq!(pushed, plain, "{q}");
        }
        // No bins.
        let q = format!(
            "SELECT count(*) AS n FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
            window(from, to)
        );
        let (pushed, plain) = both_ways(&ctx, &server, &q).await;
        assert_eq!(pushed, plain, "{q}");
        let truth = server.dataset().count(&auth, from, to);
        assert!(
            pushed.contains(&format!("| {truth} ")),
            "{pushed} vs {truth}"
        );
    }
}

/// Per-minute counts of a cached day (24 one-hour segments, an event every
/// 24 ms: 3.6 M events), pushed and not: `cargo test --test it
/// a_cached_day -- --ignored --nocapture` prints the median of 5 of each
/// (`COUNTS_DAY_DIR` keeps the cache there, for DuckDB over the same parts).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: writes 3.6 M events"]
async fn a_cached_day_per_minute() {
    use std::sync::Arc;
    use std::time::Instant;

    use datafusion::arrow::array::{
        ArrayRef, ListArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array,
    };
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion_rapid7::events::event_schema;
    use datafusion_rapid7::time::TimeRange;

    const HOUR: i64 = 60 * MIN;
    let server = support::server().await;
    let tmp = TempDir::new().unwrap();
    let dir = std::env::var("COUNTS_DAY_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    let cache = SegmentCache::open(dir.to_str().unwrap(), CacheConfig::default()).unwrap();
    let auth = support::log_id(&server, "Auth Service");
    let mut seq = 0u64;
    for h in 0..24 {
        let range = TimeRange::new(T0 + h * HOUR, T0 + (h + 1) * HOUR).unwrap();
        if !cache
            .plan_read(&auth, range)
            .await
            .unwrap()
            .segments
            .is_empty()
        {
            continue;
        }
        let mut writer = cache.writer(&auth, range).unwrap();
        for chunk in 0..10 {
            let from = range.start() + chunk * HOUR / 10;
            let ts: Vec<i64> = (from..from + HOUR / 10).step_by(24).collect();
            let n = ts.len();
            let messages: Vec<String> = ts
                .iter()
                .map(|t| {
                    seq += 1;
                    format!(
                        "user=u{} action=login result={} src=10.0.{}.{} id={seq}",
                        t % 997,
                        if t % 7 == 0 { "fail" } else { "ok" },
                        t % 251,
                        t % 13
                    )
                })
                .collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(TimestampMillisecondArray::from(ts.clone()).with_timezone("UTC")),
                Arc::new(StringArray::from(vec![auth.as_str(); n])),
                Arc::new(StringArray::from(vec![Some("Auth Service"); n])),
                Arc::new(UInt64Array::from_iter_values(
                    ts.iter().map(|t| (*t % 1000) as u64),
                )),
                Arc::new(StringArray::from(messages)),
                Arc::new(ListArray::new_null(
                    Arc::new(Field::new_list_field(DataType::Utf8, true)),
                    n,
                )),
            ];
            writer
                .push(RecordBatch::try_new(event_schema(), columns).unwrap())
                .await
                .unwrap();
        }
        writer.commit().await.unwrap();
    }
    let (ctx, _) = session_with(&server, cache, |c| c).await;
    let q = format!(
        "SELECT date_bin(interval '1 minute', timestamp) AS t, count(*) AS n FROM rapid7_logs \
         WHERE log_name = 'Auth Service' AND {} GROUP BY t ORDER BY t",
        window(T0, T0 + 24 * HOUR)
    );
    let (pushed, plain) = both_ways(&ctx, &server, &q).await;
    assert_eq!(pushed, plain);
    for pushdown in [true, false] {
        sql(
            &ctx,
            &format!("SET rapid7.pushdown_aggregates = {pushdown}"),
        )
        .await
        .unwrap();
        let mut times: Vec<f64> = (0..5).map(|_| 0.0).collect();
        for t in times.iter_mut() {
            let start = Instant::now();
            sql(&ctx, &q).await.unwrap();
            *t = start.elapsed().as_secs_f64();
        }
        times.sort_by(f64::total_cmp);
        eprintln!(
            "cached day per minute, pushdown {pushdown}: median {:.3} s, runs {times:?}",
            times[2]
        );
    }
}
