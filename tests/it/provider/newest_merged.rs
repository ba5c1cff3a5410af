//! Newest first over many logs (#34): `ORDER BY timestamp DESC LIMIT n`
//! reads the logs of one plan together, by merged queries asked newest
//! first, a query or so per group instead of one per log; exactly the rows
//! per-log reads give; read one by one newest first again (remembered as a
//! fact of its own) when a merged answer breaks a rule.

use datafusion_rapid7::cache::ENDPOINT_FACTS_FILE;
use datafusion_rapid7::mock::{Faults, MockServer, RecordedRequest, RequestKind};
use tempfile::TempDir;

use super::merged::{all_rows, groups, organisation, session, truth};
use super::{local_cache, sql, window};
use crate::support::{self, T0};

const MIN: i64 = 60_000;

type Row = (String, i64, u64, String);

fn newest(from: i64, to: i64, n: usize) -> String {
    format!(
        "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs WHERE {} \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT {n}",
        window(from, to)
    )
}

/// The newest `n` events of every log in `[from, to)`, sorted as
/// `all_rows` sorts.
fn truth_top(server: &MockServer, from: i64, to: i64, n: usize) -> Vec<Row> {
    let mut all = truth(server, from, to);
    all.sort_by_key(|r| std::cmp::Reverse((r.1, r.2)));
    assert!(all.len() > n, "the window holds more than {n}");
    all.truncate(n);
    all.sort();
    all
}

/// Event queries asked newest first (first pages and their polls' submits
/// alike: every query request).
fn newest_requests(server: &MockServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query && r.most_recent_first && !r.is_statistical())
        .collect()
}

/// The endpoint facts of `dir`'s cache saying merged newest-first answers
/// broke a rule (a session over it reads newest first one log at a time).
fn per_log_facts(server: &MockServer, dir: &TempDir) {
    let endpoint = support::client_for(server).endpoint().to_string();
    let facts = serde_json::json!({"format": 1, "endpoints": {endpoint: {"merged_newest_first":
        {"value": false, "learnt_ms": 0, "by": "test"}}}});
    std::fs::write(dir.path().join(ENDPOINT_FACTS_FILE), facts.to_string()).unwrap();
}

#[tokio::test]
async fn the_newest_of_two_hundred_and_three_logs_are_a_query_per_group_and_exact() {
    let server = organisation(200, 3, Faults::default()).await;
    let logs = server.dataset().logs().len();
    let (from, to) = (T0, T0 + 10 * MIN);
    let want = truth_top(&server, from, to, 20);

    // Per log (merged newest first known broken): a query per log at least.
    let per_log_dir = TempDir::new().unwrap();
    per_log_facts(&server, &per_log_dir);
    let (ctx, _) = session(&server, local_cache(&per_log_dir)).await;
    server.clear_requests();
    let per_log = all_rows(&sql(&ctx, &newest(from, to, 20)).await.unwrap());
    let asked = newest_requests(&server);
    assert!(asked.len() >= logs, "{} queries per log", asked.len());
    assert!(asked.iter().all(|r| r.logs.len() == 1));
    assert_eq!(per_log, want);

    // Merged: a query or two per group, the same rows.
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, local_cache(&dir)).await;
    server.clear_requests();
    let merged = all_rows(&sql(&ctx, &newest(from, to, 20)).await.unwrap());
    assert_eq!(merged, per_log);
    let asked = newest_requests(&server);
    assert!(asked.iter().all(|r| r.logs.len() > 1), "{asked:?}");
    let submits = asked.iter().filter(|r| r.sequence_number.is_none()).count();
    assert!(
        submits <= 2 * groups(logs),
        "{submits} newest-first queries for {logs} logs in {} groups",
        groups(logs)
    );
    // What was read is committed per log, a complete sub-window at the end
    // (empty for a quiet log), exact: asked again, no request.
    for log in ["quiet-007", "busy-1"] {
        let id = support::log_id(&server, log);
        let segments = rapid7.cache().list_segments(&id).await.unwrap();
        assert_eq!(segments.len(), 1, "{log}: {segments:?}");
        let r = segments[0].range();
        assert_eq!(r.end(), to, "{log}");
        assert_eq!(
            segments[0].row_count(),
            server.dataset().count(&id, r.start(), r.end()),
            "{log}"
        );
    }
    server.clear_requests();
    assert_eq!(
        all_rows(&sql(&ctx, &newest(from, to, 20)).await.unwrap()),
        want
    );
    assert_eq!(server.query_requests(), 0, "the cached newest part answers");
}

/// Pages of 100 over several logs: steps below each page, and a
/// millisecond of hundreds of events (of several logs) read whole; the
/// rows are exact.
#[tokio::test]
async fn small_pages_and_bursts_across_logs_are_exact() {
    let org = organisation(6, 2, Faults::default()).await;
    let bursty = support::server().await;
    let burst = super::burst_ms(&bursty);
    let cases = [
        (&org, (T0, T0 + 5 * MIN), [1, 150, 420]),
        (&bursty, (T0, burst + 1), [1, 150, 420]),
    ];
    for (server, (from, to), sizes) in cases {
        for n in sizes {
            let dir = TempDir::new().unwrap();
            let client = support::builder_for(server)
                .with_per_page(100)
                .build()
                .unwrap();
            let ctx = datafusion::prelude::SessionContext::new();
            let config = datafusion_rapid7::Rapid7Config::new(client, local_cache(&dir));
            datafusion_rapid7::register(&ctx, config).await.unwrap();
            server.clear_requests();
            let got = all_rows(&sql(&ctx, &newest(from, to, n)).await.unwrap());
            assert_eq!(got, truth_top(server, from, to, n), "newest {n}");
            let asked = newest_requests(server);
            assert!(asked.iter().any(|r| r.logs.len() > 1), "newest {n}");
        }
    }
}

/// Each rule a merged newest-first answer can break: the rows are still
/// the per-log ones, the logs read newest first one by one, and the
/// endpoint remembered for merged newest-first reads only (single-log
/// newest-first and oldest-first merged reads go on).
#[tokio::test]
async fn a_broken_merged_answer_falls_back_to_per_log_newest_first_and_is_remembered() {
    for (faults, why) in [
        (
            Faults {
                merged_out_of_order: true,
                ..Faults::default()
            },
            "out of order",
        ),
        (
            Faults {
                merged_foreign_log: true,
                ..Faults::default()
            },
            "a foreign log",
        ),
        (
            Faults {
                merged_ignore_most_recent_first: true,
                ..Faults::default()
            },
            "merged pages oldest first",
        ),
    ] {
        let server = organisation(6, 1, faults).await;
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, local_cache(&dir)).await;
        let (from, to) = (T0, T0 + 10 * MIN);
        server.clear_requests();
        let got = all_rows(&sql(&ctx, &newest(from, to, 30)).await.unwrap());
        assert_eq!(got, truth_top(&server, from, to, 30), "{why}");
        let asked = newest_requests(&server);
        assert!(
            asked.iter().any(|r| r.logs.len() > 1),
            "{why}: tried merged"
        );
        assert!(
            asked.iter().filter(|r| r.logs.len() == 1).count() >= 7,
            "{why}: each log read alone, newest first"
        );
        let facts = std::fs::read_to_string(dir.path().join(ENDPOINT_FACTS_FILE)).unwrap();
        let facts: serde_json::Value = serde_json::from_str(&facts).unwrap();
        let endpoint = support::client_for(&server).endpoint().to_string();
        let mine = &facts["endpoints"][&endpoint];
        assert_eq!(mine["merged_newest_first"]["value"], false, "{why}: {mine}");
        assert!(mine.get("merged_reads").is_none(), "{why}: {mine}");
        assert!(mine.get("newest_first").is_none(), "{why}: {mine}");

        // Remembered: a new session reads newest first one log at a time,
        // and still reads oldest first merged.
        let (ctx, _) = session(&server, local_cache(&dir)).await;
        let (a, b) = (T0 + 20 * MIN, T0 + 25 * MIN);
        server.clear_requests();
        let got = all_rows(&sql(&ctx, &newest(a, b, 30)).await.unwrap());
        assert_eq!(got, truth_top(&server, a, b, 30), "{why}");
        let asked = newest_requests(&server);
        assert!(!asked.is_empty(), "{why}");
        assert!(asked.iter().all(|r| r.logs.len() == 1), "{why}: {asked:?}");
        let (a, b) = (T0 + 30 * MIN, T0 + 31 * MIN);
        server.clear_requests();
        let q = format!(
            "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs WHERE {}",
            window(a, b)
        );
        assert_eq!(
            all_rows(&sql(&ctx, &q).await.unwrap()),
            truth(&server, a, b)
        );
        assert!(
            server
                .requests()
                .iter()
                .any(|r| r.kind == RequestKind::Query && r.logs.len() > 1),
            "{why}: oldest-first merged reads go on"
        );
    }
}

/// A group whose newest part is cached: each log's cached segment is read
/// (newest part first) from where the group stands, then the range below
/// by one merged query; the rows are exact.
#[tokio::test]
async fn a_cached_newest_part_and_the_range_below_are_read_together_exactly() {
    let server = organisation(6, 2, Faults::default()).await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, local_cache(&dir)).await;
    let (from, to) = (T0, T0 + 10 * MIN);
    let first = all_rows(&sql(&ctx, &newest(from, to, 20)).await.unwrap());
    assert_eq!(first, truth_top(&server, from, to, 20));
    // Every log holds the same complete sub-window at the end.
    let cut = {
        let id = support::log_id(&server, "quiet-001");
        let segments = rapid7.cache().list_segments(&id).await.unwrap();
        assert_eq!(segments.len(), 1, "{segments:?}");
        segments[0].range().start()
    };
    assert!(from < cut && cut < to, "{cut}");
    // More than the cached part holds: the part below is read too.
    server.clear_requests();
    let got = all_rows(&sql(&ctx, &newest(from, to, 2_000)).await.unwrap());
    assert_eq!(got, truth_top(&server, from, to, 2_000));
    let asked = newest_requests(&server);
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|r| r.logs.len() > 1), "{asked:?}");
    assert!(
        asked.iter().all(|r| r.to.is_some_and(|t| t <= cut)),
        "the cached part is not asked again: {asked:?}"
    );
}

/// A session over `server` asking pages of `per_page` events, without
/// count pushdown and without a fetch limit.
async fn paged_session(
    server: &MockServer,
    dir: &TempDir,
    per_page: u32,
) -> datafusion::prelude::SessionContext {
    let client = support::builder_for(server)
        .with_per_page(per_page)
        .build()
        .unwrap();
    let config = datafusion_rapid7::Rapid7Config::new(client, local_cache(dir))
        .with_pushdown_aggregates(false)
        .with_max_fetch_events(0);
    let ctx = datafusion::prelude::SessionContext::new();
    datafusion_rapid7::register(&ctx, config).await.unwrap();
    ctx
}

/// The endpoint facts `dir`'s cache holds for `server` (`Null` when none).
fn endpoint_facts(server: &MockServer, dir: &TempDir) -> serde_json::Value {
    let Ok(facts) = std::fs::read_to_string(dir.path().join(ENDPOINT_FACTS_FILE)) else {
        return serde_json::Value::Null;
    };
    let facts: serde_json::Value = serde_json::from_str(&facts).unwrap();
    let endpoint = support::client_for(server).endpoint().to_string();
    facts["endpoints"][&endpoint].clone()
}

/// A merged newest-first read steps by asking again with a lower `to`, no
/// cursor: a rule broken on a later step (not the first) is caught too;
/// the rows are the per-log ones, each log is read newest first alone, and
/// the endpoint is remembered.
#[tokio::test]
async fn a_merged_answer_broken_on_a_later_step_falls_back_and_is_remembered() {
    for (faults, why) in [
        (
            Faults {
                merged_out_of_order: true,
                merged_newest_faults_from_step_2: true,
                ..Faults::default()
            },
            "out of order",
        ),
        (
            Faults {
                merged_foreign_log: true,
                merged_newest_faults_from_step_2: true,
                ..Faults::default()
            },
            "a foreign log",
        ),
    ] {
        let server = organisation(6, 1, Faults::default()).await;
        let logs = server.dataset().logs().len();
        let dir = TempDir::new().unwrap();
        let ctx = paged_session(&server, &dir, 100).await;
        let (from, to) = (T0, T0 + 10 * MIN);
        // Counted from here: the statement's first merged step is spared.
        server.set_faults(faults);
        server.clear_requests();
        let got = all_rows(&sql(&ctx, &newest(from, to, 300)).await.unwrap());
        assert_eq!(got, truth_top(&server, from, to, 300), "{why}");
        let asked = newest_requests(&server);
        let merged: Vec<_> = asked.iter().filter(|r| r.logs.len() > 1).collect();
        assert!(merged.len() >= 2, "{why}: a second merged step: {merged:?}");
        assert!(
            merged[1].to < merged[0].to,
            "{why}: the second step reaches lower: {merged:?}"
        );
        let alone = asked.iter().filter(|r| r.logs.len() == 1);
        let alone: std::collections::HashSet<_> = alone.map(|r| r.log_id.clone()).collect();
        assert_eq!(
            alone.len(),
            logs,
            "{why}: each log read alone, newest first"
        );
        let mine = endpoint_facts(&server, &dir);
        assert_eq!(mine["merged_newest_first"]["value"], false, "{why}: {mine}");
        assert!(mine.get("merged_reads").is_none(), "{why}: {mine}");
    }
}

/// Pages that never show their order (two or more, every event of the
/// window, of every log, in one millisecond: an oldest-first answer looks
/// the same) are not trusted: the logs are read one by one newest first, the rows are exact,
/// and nothing is remembered of the endpoint (no rule was broken).
#[tokio::test]
async fn merged_pages_of_one_millisecond_fall_back_without_remembering() {
    // A millisecond holding events of two logs, in pages of one event (a
    // single page holds the whole range and is trusted).
    let org = organisation(0, 3, Faults::default()).await;
    let shared = {
        let mut by_ms: std::collections::BTreeMap<i64, std::collections::BTreeSet<String>> =
            Default::default();
        for (log, ts, _, _) in truth(&org, T0, T0 + 5 * MIN) {
            by_ms.entry(ts).or_default().insert(log);
        }
        by_ms
            .into_iter()
            .find(|(_, logs)| logs.len() >= 2)
            .map(|(ms, _)| ms)
            .expect("two busy logs share a millisecond in 5 minutes")
    };
    // The Firewall's burst of 700 events: pages of 100, all of one
    // millisecond, newest first and then read whole.
    let bursty = support::server().await;
    let burst = super::burst_ms(&bursty);
    for (server, ms, per_page, n) in [(&org, shared, 1, 1), (&bursty, burst, 100, 150)] {
        let dir = TempDir::new().unwrap();
        let ctx = paged_session(server, &dir, per_page).await;
        server.clear_requests();
        let got = all_rows(&sql(&ctx, &newest(ms, ms + 1, n)).await.unwrap());
        assert_eq!(got, truth_top(server, ms, ms + 1, n), "{ms}");
        let asked = newest_requests(server);
        assert!(asked.iter().any(|r| r.logs.len() > 1), "{ms}: tried merged");
        let logs = server.dataset().logs().len();
        let alone = asked.iter().filter(|r| r.logs.len() == 1);
        let alone: std::collections::HashSet<_> = alone.map(|r| r.log_id.clone()).collect();
        assert_eq!(alone.len(), logs, "{ms}: each log read alone, newest first");
        let mine = endpoint_facts(server, &dir);
        assert!(mine.get("merged_newest_first").is_none(), "{ms}: {mine}");
    }
}
