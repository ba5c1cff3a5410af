//! `rapid7_cache()`, `rapid7_coverage(...)` and `summarize`.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{TimestampMillisecondType, UInt64Type};
use datafusion_rapid7::ops::SummaryRequest;
use datafusion_rapid7::time::TimeRange;
use tempfile::TempDir;

use super::{MIN, session, sql, window};
use crate::support::{self, T0};

fn ts_col(b: &RecordBatch, i: usize) -> Vec<i64> {
    b.column(i)
        .as_primitive::<TimestampMillisecondType>()
        .values()
        .to_vec()
}

fn str_col(b: &RecordBatch, i: usize) -> Vec<String> {
    let a = b.column(i).as_string::<i32>();
    (0..b.num_rows()).map(|r| a.value(r).to_string()).collect()
}

fn one(batches: Vec<RecordBatch>) -> RecordBatch {
    datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

#[tokio::test]
async fn cache_and_coverage_functions_describe_the_cache() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let auth = support::log_id(&server, "Auth Service");

    let empty = one(sql(&ctx, "SELECT * FROM rapid7_cache()").await.unwrap());
    assert_eq!(empty.num_rows(), 0);

    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
        window(T0 + 10 * MIN, T0 + 20 * MIN)
    );
    sql(&ctx, &q).await.unwrap();

    let cache = one(sql(
        &ctx,
        "SELECT log_id, log_name, \"from\", \"to\", rows, parts FROM rapid7_cache()",
    )
    .await
    .unwrap());
    assert_eq!(cache.num_rows(), 1);
    assert_eq!(str_col(&cache, 0), vec![auth.clone()]);
    assert_eq!(str_col(&cache, 1), vec!["Auth Service".to_string()]);
    assert_eq!(ts_col(&cache, 2), vec![T0 + 10 * MIN]);
    assert_eq!(ts_col(&cache, 3), vec![T0 + 20 * MIN]);
    assert_eq!(
        cache.column(4).as_primitive::<UInt64Type>().value(0),
        server.dataset().count(&auth, T0 + 10 * MIN, T0 + 20 * MIN)
    );

    let coverage = one(sql(
        &ctx,
        &format!(
            "SELECT \"from\", \"to\", status FROM rapid7_coverage('Auth Service', \
                 to_timestamp_millis({}), to_timestamp_millis({}))",
            T0,
            T0 + 30 * MIN
        ),
    )
    .await
    .unwrap());
    assert_eq!(ts_col(&coverage, 0), vec![T0, T0 + 10 * MIN, T0 + 20 * MIN]);
    assert_eq!(
        ts_col(&coverage, 1),
        vec![T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN]
    );
    assert_eq!(str_col(&coverage, 2), vec!["missing", "cached", "missing"]);

    // A window reaching now ends with the recent edge; bad arguments explain usage.
    let recent = one(sql(
        &ctx,
        "SELECT status FROM rapid7_coverage('Auth Service', now() - interval '1 minute', now())",
    )
    .await
    .unwrap());
    assert_eq!(str_col(&recent, 0), vec!["recent"]);
    let e = sql(&ctx, "SELECT * FROM rapid7_coverage('Auth Service')")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("usage: rapid7_coverage"), "{e}");
    let e = sql(
        &ctx,
        "SELECT * FROM rapid7_coverage('Nope', now() - interval '1 minute', now())",
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("unknown log"), "{e}");
}

#[tokio::test]
async fn summaries_are_exact_and_serialise() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0 - 5 * MIN, T0 + 5 * MIN);
    let request = SummaryRequest {
        logs: vec!["Firewall".into(), "Auth Service".into()],
        window: TimeRange::new(from, to).unwrap(),
        bucket: None,
        output: None,
    };
    let summary = datafusion_rapid7::summarize(&ctx, &request).await.unwrap();
    let fw = support::log_id(&server, "Firewall");
    let auth = support::log_id(&server, "Auth Service");
    let (n_fw, n_auth) = (
        server.dataset().count(&fw, from, to),
        server.dataset().count(&auth, from, to),
    );
    assert_eq!(summary.row_count, n_fw + n_auth);
    let mut per_log: Vec<(String, u64)> = summary
        .per_log
        .iter()
        .map(|l| (l.log_id.clone(), l.events))
        .collect();
    per_log.sort();
    let mut expected = vec![(fw.clone(), n_fw), (auth.clone(), n_auth)];
    expected.sort();
    assert_eq!(per_log, expected);
    assert_eq!(summary.bucket_seconds, 60);
    assert_eq!(summary.per_bucket.len(), 10);
    assert_eq!(
        summary.per_bucket.iter().map(|b| b.events).sum::<u64>(),
        summary.row_count
    );
    let first_minute = server.dataset().count(&fw, from, from + MIN)
        + server.dataset().count(&auth, from, from + MIN);
    assert_eq!(summary.per_bucket[0].start_ms, from);
    assert_eq!(summary.per_bucket[0].events, first_minute);
    let truth_fw = support::truth(&server, &fw, from, to);
    let truth_auth = support::truth(&server, &auth, from, to);
    let min = truth_fw[0].0.min(truth_auth[0].0);
    assert_eq!(
        summary.min_timestamp.as_deref(),
        Some(crate::support::rfc3339(min, 0).as_str())
    );
    assert_eq!(summary.columns[0].name, "timestamp");
    // Fetches are cut at hour boundaries: two segments per log, which hold
    // exactly the window's events.
    assert_eq!(summary.segments.len(), 4, "{:?}", summary.segments);
    assert_eq!(
        summary.segments.iter().map(|s| s.rows).sum::<u64>(),
        summary.row_count
    );

    let json: serde_json::Value = serde_json::from_str(&summary.to_json()).unwrap();
    assert_eq!(json["row_count"], serde_json::json!(summary.row_count));
    assert_eq!(json["per_bucket"].as_array().unwrap().len(), 10);

    // A summary that cannot be written is an I/O error naming its file.
    let output = dir.path().join("no-such-dir").join("summary.json");
    let e = datafusion_rapid7::summarize(
        &ctx,
        &SummaryRequest {
            output: Some(output.clone()),
            ..request.clone()
        },
    )
    .await
    .unwrap_err();
    let datafusion_rapid7::Error::Io { path, source, .. } = &e else {
        panic!("expected an I/O error, got {e:?}");
    };
    assert_eq!(path.as_deref(), Some(output.as_path()));
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "cannot write the summary to {}: ",
            output.display()
        )),
        "{e}"
    );

    let e = datafusion_rapid7::summarize(
        &ctx,
        &SummaryRequest {
            logs: vec!["Firewal".into()],
            ..request
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("Firewall"), "{e}");
}
