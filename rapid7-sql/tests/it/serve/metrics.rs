//! The Prometheus endpoint: statements by user and outcome, cache lookups,
//! the API's counters and the key's quota; one log line per statement; the
//! key nowhere.

use tempfile::TempDir;

use super::{count, firewall_count, query, start, start_with_tokens};
use crate::support;

/// The value of the sample `series` (name and labels exactly), if shown.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_statements_by_user_and_outcome_cache_lookups_and_quota() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let mut serve = start_with_tokens(
        &server,
        dir.path(),
        &[("alice", "alice-m-1f0"), ("bob", "bob-m-77a")],
        &[],
        &["--metrics-listen", "127.0.0.1:0"],
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.stderr));
    let (sql, expected) = firewall_count(&server);
    let (mut alice, mut bob) = (serve.client().await, serve.client().await);
    alice.set_token("alice-m-1f0".into());
    bob.set_token("bob-m-77a".into());

    // A miss, then a hit, by alice; an error by bob.
    assert_eq!(count(&query(&mut alice, &sql).await.unwrap()), expected);
    serve.wait_for_log("flight_statement").await;
    assert_eq!(count(&query(&mut alice, &sql).await.unwrap()), expected);
    serve.wait_for_log("flight_statement").await;
    assert!(
        query(&mut bob, "SELECT no_such_column FROM rapid7_logs")
            .await
            .is_err()
    );
    serve.wait_for_log("flight_statement").await;

    let text = serve.scrape().await;
    let at = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(
        at("rapid7_serve_statements_total{user=\"alice\",outcome=\"ok\"}"),
        2.0
    );
    assert_eq!(
        at("rapid7_serve_statements_total{user=\"bob\",outcome=\"error\"}"),
        1.0
    );
    assert_eq!(at("rapid7_cache_lookups_total{result=\"miss\"}"), 1.0);
    assert_eq!(at("rapid7_cache_lookups_total{result=\"hit\"}"), 1.0);
    assert_eq!(at("rapid7_cache_rows_fetched_total"), expected as f64);
    assert_eq!(at("rapid7_cache_rows_reused_total"), expected as f64);
    assert!(at("rapid7_cache_bytes_written_total") > 0.0);
    assert_eq!(at("rapid7_serve_statement_duration_seconds_count"), 3.0);
    assert!(at("rapid7_fetch_duration_seconds_count") >= 1.0);
    let queries = server
        .requests()
        .iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Query)
        .count();
    assert_eq!(at("rapid7_api_queries_total"), queries as f64);
    assert_eq!(at("rapid7_api_rate_limited_total"), 0.0);
    assert!(
        at("rapid7_quota_remaining") < at("rapid7_quota_limit"),
        "{text}"
    );

    let ended = serve.stop().await;
    assert!(ended.status.success(), "{}", ended.stderr);
    // One log line per statement, at the default level.
    assert_eq!(
        ended.stderr.matches("flight_statement").count(),
        3,
        "{}",
        ended.stderr
    );
    assert!(ended.stderr.contains("alice") && ended.stderr.contains("bob"));
    for t in [&ended.stdout, &ended.stderr, &text] {
        assert!(!t.contains(server.api_key()), "the key leaked: {t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_line_is_json_with_log_format_json() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let mut serve = start(&server, dir.path(), &[("RAPID7_LOG_FORMAT", "json")], &[])
        .await
        .unwrap_or_else(|e| panic!("{}", e.stderr));
    let (sql, expected) = firewall_count(&server);
    let mut client = serve.client().await;
    assert_eq!(count(&query(&mut client, &sql).await.unwrap()), expected);
    serve.wait_for_log("flight_statement").await;
    let log = serve.log();
    let line = log
        .lines()
        .find(|l| l.contains("flight_statement"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["fields"]["message"], "flight_statement", "{line}");
    assert_eq!(v["fields"]["user"], "anonymous", "{line}");
    assert_eq!(v["fields"]["outcome"], "ok", "{line}");
    assert_eq!(v["fields"]["rows"], 1, "{line}");
    let ended = serve.stop().await;
    assert!(ended.status.success(), "{}", ended.stderr);
}
