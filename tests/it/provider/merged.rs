//! Merged reads (#34): the logs a statement reads over the same window and
//! filter are queried together, split by log into the segments single-log
//! reads commit, exactly the rows per-log reads give, and read one by one
//! again (remembered) when a merged answer breaks a rule.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{TimestampMillisecondType, UInt64Type};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::Rapid7;
use datafusion_rapid7::cache::{ENDPOINT_FACTS_FILE, SegmentCache};
use datafusion_rapid7::client::MAX_LOGS_PER_QUERY;
use datafusion_rapid7::mock::{
    Faults, MockConfig, MockDataset, MockServer, RecordedRequest, RequestKind,
};
use tempfile::TempDir;

use super::{local_cache, session_with, sql, window};
use crate::support::{self, T0};

const MIN: i64 = 60_000;

pub(super) async fn organisation(quiet: usize, busy: usize, faults: Faults) -> MockServer {
    MockServer::start(MockConfig {
        dataset: MockDataset::organisation(quiet, busy),
        faults,
        ..MockConfig::default()
    })
    .await
    .expect("simulator")
}

/// A session without count pushdown and without a fetch limit (the
/// estimate is another part of #34): the reads are what is measured.
pub(super) async fn session(server: &MockServer, cache: SegmentCache) -> (SessionContext, Rapid7) {
    session_with(server, cache, |c| {
        c.with_pushdown_aggregates(false).with_max_fetch_events(0)
    })
    .await
}

fn event_submits(server: &MockServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| {
            r.kind == RequestKind::Query && r.sequence_number.is_none() && !r.is_statistical()
        })
        .collect()
}

/// Groups of at most [`MAX_LOGS_PER_QUERY`] logs: the first pages a
/// merged read of `logs` submits.
pub(super) fn groups(logs: usize) -> usize {
    logs.div_ceil(MAX_LOGS_PER_QUERY)
}

/// `(log_id, timestamp, sequence_number, message)` rows, sorted.
pub(super) fn all_rows(batches: &[RecordBatch]) -> Vec<(String, i64, u64, String)> {
    let mut out = Vec::new();
    for b in batches {
        let id = b.column(0).as_string::<i32>();
        let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(2).as_primitive::<UInt64Type>();
        let msg = b.column(3).as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((
                id.value(i).to_string(),
                ts.value(i),
                seq.value(i),
                msg.value(i).to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// What the data function holds for every log of `server` in `[from, to)`.
pub(super) fn truth(server: &MockServer, from: i64, to: i64) -> Vec<(String, i64, u64, String)> {
    let mut out: Vec<_> = server
        .dataset()
        .logs()
        .iter()
        .flat_map(|l| {
            server
                .dataset()
                .events(&l.id, from, to)
                .into_iter()
                .map(|e| (e.log_id, e.timestamp, e.sequence_number, e.message))
        })
        .collect();
    out.sort();
    out
}

fn every_event(from: i64, to: i64) -> String {
    format!(
        "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs WHERE {}",
        window(from, to)
    )
}

#[tokio::test]
async fn two_hundred_and_three_logs_are_a_handful_of_queries_and_exactly_their_rows() {
    let server = organisation(200, 3, Faults::default()).await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, local_cache(&dir)).await;
    let (from, to) = (T0, T0 + 2 * MIN);
    let want = truth(&server, from, to);
    let logs = server.dataset().logs().len();
    let pages = want.len().div_ceil(500);
    server.clear_requests();
    assert_eq!(
        all_rows(&sql(&ctx, &every_event(from, to)).await.unwrap()),
        want
    );
    let submits = event_submits(&server);
    assert_eq!(submits.len(), groups(logs), "one merged read per group");
    assert!(submits.iter().all(|r| r.logs.len() > 1));
    let queries = server.event_query_requests();
    assert!(
        queries <= groups(logs) + pages + groups(logs),
        "{queries} event queries for {pages} pages of {logs} logs"
    );
    // Every log has its segment, empty or not: a later read of any one is
    // served from the cache.
    server.clear_requests();
    for log in ["quiet-007", "busy-1"] {
        let id = support::log_id(&server, log);
        assert_eq!(rapid7.cache().list_segments(&id).await.unwrap().len(), 1);
        let q = format!(
            "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs \
             WHERE log_name = '{log}' AND {}",
            window(from, to)
        );
        let mine: Vec<_> = want.iter().filter(|r| r.0 == id).cloned().collect();
        assert_eq!(all_rows(&sql(&ctx, &q).await.unwrap()), mine);
    }
    assert_eq!(server.query_requests(), 0, "single-log reads hit the cache");
}

#[tokio::test]
async fn merged_rows_equal_per_log_reads_and_empty_logs_are_cached() {
    let server = organisation(12, 1, Faults::default()).await;
    let (from, to) = (T0, T0 + 3 * MIN);
    // Per-log reads: an endpoint known to break merged answers.
    let per_log_dir = TempDir::new().unwrap();
    let endpoint = support::client_for(&server).endpoint().to_string();
    let facts = serde_json::json!({"format": 1, "endpoints": {endpoint: {"merged_reads":
        {"value": false, "learnt_ms": 0, "by": "test"}}}});
    std::fs::write(
        per_log_dir.path().join(ENDPOINT_FACTS_FILE),
        facts.to_string(),
    )
    .unwrap();
    let (ctx, _) = session(&server, local_cache(&per_log_dir)).await;
    server.clear_requests();
    let per_log = all_rows(&sql(&ctx, &every_event(from, to)).await.unwrap());
    let submits = event_submits(&server);
    assert_eq!(submits.len(), 13, "one read per log");
    assert!(submits.iter().all(|r| r.logs.len() == 1));

    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, local_cache(&dir)).await;
    server.clear_requests();
    let merged = all_rows(&sql(&ctx, &every_event(from, to)).await.unwrap());
    assert_eq!(merged, per_log);
    assert_eq!(merged, truth(&server, from, to));
    assert_eq!(event_submits(&server).len(), 1);
    // A quiet log with no event in ten seconds still gets its empty segment.
    let (a, b) = (T0 + 10 * MIN, T0 + 10 * MIN + 10_000);
    let empty = server
        .dataset()
        .logs()
        .iter()
        .find(|l| server.dataset().count(&l.id, a, b) == 0)
        .expect("a quiet log with an empty minute")
        .id
        .clone();
    sql(&ctx, &every_event(a, b)).await.unwrap();
    let segments = rapid7.cache().list_segments(&empty).await.unwrap();
    assert!(
        segments
            .iter()
            .any(|s| s.range().start() == a && s.row_count() == 0),
        "{segments:?}"
    );
}

async fn falls_back_on(faults: Faults, why: &str) {
    let server = organisation(6, 1, faults).await;
    let dir = TempDir::new().unwrap();
    let (from, to) = (T0, T0 + 2 * MIN);
    let want = truth(&server, from, to);
    let (ctx, _) = session(&server, local_cache(&dir)).await;
    server.clear_requests();
    let got = all_rows(&sql(&ctx, &every_event(from, to)).await.unwrap());
    assert_eq!(got, want, "{why}: exact after the fallback");
    let submits = event_submits(&server);
    assert_eq!(
        submits.iter().filter(|r| r.logs.len() > 1).count(),
        1,
        "{why}"
    );
    assert_eq!(
        submits.iter().filter(|r| r.logs.len() == 1).count(),
        7,
        "{why}: each log read alone"
    );
    let facts = std::fs::read_to_string(dir.path().join(ENDPOINT_FACTS_FILE)).unwrap();
    assert!(facts.contains("merged_reads"), "{why}: {facts}");
    // Remembered: a new session over the same cache reads one by one.
    let (ctx, _) = session(&server, local_cache(&dir)).await;
    server.clear_requests();
    let (a, b) = (T0 + 5 * MIN, T0 + 6 * MIN);
    assert_eq!(
        all_rows(&sql(&ctx, &every_event(a, b)).await.unwrap()),
        truth(&server, a, b)
    );
    assert!(
        event_submits(&server).iter().all(|r| r.logs.len() == 1),
        "{why}"
    );
}

/// Each rule a merged answer can break, from its first page: the logs are
/// read one at a time, exactly, and the endpoint remembered.
#[tokio::test]
async fn every_broken_rule_is_read_one_log_at_a_time_and_remembered() {
    let broken = |fault: fn(&mut Faults)| {
        let mut faults = Faults::default();
        fault(&mut faults);
        faults
    };
    for (faults, why) in [
        (broken(|f| f.merged_out_of_order = true), "out of order"),
        (broken(|f| f.merged_foreign_log = true), "a foreign log"),
        // An event of one log, stamped after `to`, whose sequence number
        // cannot be read: it cannot be placed in the stream, so it breaks
        // the rules, rather than end the answer early for every log (its
        // timestamp past the window would drop the `Next` link).
        (
            broken(|f| f.merged_unreadable_past_to = true),
            "an unreadable sequence number",
        ),
        // A `Next` link whose cursor lies past the page's last event would
        // skip events of any log.
        (
            broken(|f| f.merged_link_beyond_last = true),
            "a Next link past the last event",
        ),
    ] {
        falls_back_on(faults, why).await;
    }
}

fn statistical(server: &MockServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query && r.is_statistical())
        .collect()
}

/// The first question: a rare value in every log over ten minutes.
/// Read live (the logs' message forms are not known, so the filter is not
/// cached): one statistical query and one merged read per group each time,
/// never one per log.
#[tokio::test]
async fn a_rare_value_in_every_log_is_one_estimate_and_one_read_per_group() {
    let server = organisation(200, 3, Faults::default()).await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session_with(&server, local_cache(&dir), |c| c).await;
    let (from, to) = (T0, T0 + 10 * MIN);
    let needle = "\"bytes\":999";
    let want: Vec<_> = truth(&server, from, to)
        .into_iter()
        .filter(|r| r.3.contains(needle))
        .collect();
    assert!((5..500).contains(&want.len()), "{} matches", want.len());
    let q = format!(
        "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs \
         WHERE {} AND message LIKE '%\"bytes\":999%'",
        window(from, to)
    );
    let logs = server.dataset().logs().len();
    for run in ["first", "again"] {
        server.clear_requests();
        assert_eq!(all_rows(&sql(&ctx, &q).await.unwrap()), want, "{run}");
        assert_eq!(
            statistical(&server).len(),
            groups(logs),
            "{run}: the estimates"
        );
        assert!(statistical(&server).iter().all(|r| r.logs.len() > 1));
        let submits = event_submits(&server);
        assert_eq!(submits.len(), groups(logs), "{run}: the reads");
        assert!(submits.iter().all(|r| r.logs.len() > 1));
    }
    // Nothing was committed: a filtered read teaches no log's form, so
    // the filter is not cached for any log yet (as with single-log reads).
    let id = want[0].0.clone();
    assert!(rapid7.cache().list_segments(&id).await.unwrap().is_empty());
}

/// Read live (a filter not cached), a merged answer that breaks a rule is
/// read one log at a time too, exactly.
#[tokio::test]
async fn live_merged_reads_fall_back_on_each_violation() {
    for faults in [
        Faults {
            merged_out_of_order: true,
            ..Faults::default()
        },
        Faults {
            merged_foreign_log: true,
            ..Faults::default()
        },
        Faults {
            merged_unreadable_past_to: true,
            ..Faults::default()
        },
        Faults {
            merged_link_beyond_last: true,
            ..Faults::default()
        },
        Faults {
            merged_beyond_retention: true,
            ..Faults::default()
        },
    ] {
        let server = organisation(6, 1, faults).await;
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, local_cache(&dir)).await;
        let (from, to) = (T0, T0 + 10 * MIN);
        let want: Vec<_> = truth(&server, from, to)
            .into_iter()
            .filter(|r| r.3.contains("\"status\""))
            .collect();
        assert!(want.len() > 500, "{}", want.len());
        let q = format!(
            "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs \
             WHERE {} AND message LIKE '%\"status\"%'",
            window(from, to)
        );
        server.clear_requests();
        assert_eq!(all_rows(&sql(&ctx, &q).await.unwrap()), want);
        let submits = event_submits(&server);
        assert_eq!(submits.iter().filter(|r| r.logs.len() > 1).count(), 1);
        assert_eq!(submits.iter().filter(|r| r.logs.len() == 1).count(), 7);
    }
}

/// The second question: `count(*)` of every event over an hour. With
/// no log column in the answer, each group's count is one merged statistical
/// query (and its exactness checks at `to`), never one per log; grouped by
/// log, the counts stay per log and exact.
#[tokio::test]
async fn a_count_of_every_log_is_a_few_queries_per_group() {
    let server = organisation(200, 3, Faults::default()).await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c).await;
    let (from, to) = (T0, T0 + 60 * MIN);
    let logs = server.dataset().logs();
    let want: u64 = logs
        .iter()
        .map(|l| server.dataset().count(&l.id, from, to))
        .sum();
    server.clear_requests();
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE {}",
        window(from, to)
    );
    let got = sql(&ctx, &q).await.unwrap();
    let n = got[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(n as u64, want);
    // Per group: the statistics, the events at `to`, and (once per source)
    // the two queries that learn the `to` convention.
    let queries = server.query_requests();
    assert!(
        queries <= 4 * groups(logs.len()),
        "{queries} queries for {} logs",
        logs.len()
    );
    assert!(statistical(&server).iter().all(|r| r.logs.len() > 1));
    // By log: exact per log.
    let (a, b) = (T0 + 60 * MIN, T0 + 70 * MIN);
    let q = format!(
        "SELECT log_id, count(*) FROM rapid7_logs WHERE {} GROUP BY log_id",
        window(a, b)
    );
    let mut rows: Vec<(String, i64)> = Vec::new();
    for batch in sql(&ctx, &q).await.unwrap() {
        let id = batch.column(0).as_string::<i32>();
        let n = batch
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for i in 0..batch.num_rows() {
            rows.push((id.value(i).to_string(), n.value(i)));
        }
    }
    rows.sort();
    let mut want: Vec<(String, i64)> = logs
        .iter()
        .map(|l| (l.id.clone(), server.dataset().count(&l.id, a, b) as i64))
        .filter(|(_, n)| *n > 0)
        .collect();
    want.sort();
    assert_eq!(rows, want);
}

/// A group whose estimate says it is dense (read merged, more pieces than
/// it has logs: a busy log's hours keep its quiet neighbours' from being
/// joined) is split in two and each half estimated again, until the busy
/// log stands alone and the quiet ones are read together.
#[tokio::test]
async fn a_dense_group_is_split_by_its_estimate() {
    let server = organisation(8, 1, Faults::default()).await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c).await;
    let (from, to) = (T0, T0 + 12 * 60 * MIN);
    server.clear_requests();
    let q = format!(
        "EXPLAIN SELECT log_id, message FROM rapid7_logs WHERE {}",
        window(from, to)
    );
    let plan =
        datafusion::arrow::util::pretty::pretty_format_batches(&sql(&ctx, &q).await.unwrap())
            .unwrap()
            .to_string();
    // The last estimate of the busy log is of it alone.
    let busy = support::log_id(&server, "busy-0");
    let asked: Vec<Vec<String>> = statistical(&server).into_iter().map(|r| r.logs).collect();
    assert!(asked.contains(&vec![busy]), "{asked:?}");
    assert!(
        plan.contains(" logs (quiet-"),
        "quiet logs together: {plan}"
    );
    assert_eq!(server.event_query_requests(), 0);
    // The first estimate, then two per split: the busy log is isolated in
    // at most ceil(log2(9)) splits.
    let stats = statistical(&server).len();
    let logs = server.dataset().logs().len();
    let most_splits = (usize::BITS - (logs - 1).leading_zeros()) as usize;
    assert!(
        (3..=1 + 2 * most_splits).contains(&stats),
        "{stats} statistical queries"
    );
}

/// A merged answer that says the window reaches beyond retention does not
/// say of which log (one that keeps less history, say): its logs are read
/// one by one, so that only a log whose own answer says so is marked, and
/// merged reads are not given up (the answer broke no rule).
#[tokio::test]
async fn a_merged_answer_beyond_retention_is_read_one_log_at_a_time_and_marks_no_log() {
    let server = organisation(
        6,
        1,
        Faults {
            merged_beyond_retention: true,
            ..Faults::default()
        },
    )
    .await;
    let dir = TempDir::new().unwrap();
    let (from, to) = (T0, T0 + 2 * MIN);
    let want = truth(&server, from, to);
    let (ctx, rapid7) = session(&server, local_cache(&dir)).await;
    server.clear_requests();
    let got = all_rows(&sql(&ctx, &every_event(from, to)).await.unwrap());
    assert_eq!(got, want);
    let submits = event_submits(&server);
    assert_eq!(submits.iter().filter(|r| r.logs.len() > 1).count(), 1);
    assert_eq!(submits.iter().filter(|r| r.logs.len() == 1).count(), 7);
    for log in server.dataset().logs() {
        let segments = rapid7.cache().list_segments(&log.id).await.unwrap();
        assert!(!segments.is_empty(), "{}", log.id);
        assert!(
            segments.iter().all(|s| !s.beyond_retention()),
            "{}: {segments:?}",
            log.id
        );
    }
    let facts = std::fs::read_to_string(dir.path().join(ENDPOINT_FACTS_FILE)).unwrap_or_default();
    assert!(!facts.contains("merged_reads"), "{facts}");
}

/// An endpoint whose single-log queries read `to` exclusively and merged
/// ones inclusively: the convention a single log's count learnt is not
/// applied to a merged count, which learns its own; both exact.
#[tokio::test]
async fn a_to_convention_learnt_by_a_single_log_count_is_not_applied_to_merged_counts() {
    let server = organisation(
        6,
        1,
        Faults {
            to_exclusive_single_log: true,
            ..Faults::default()
        },
    )
    .await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c).await;
    let logs = server.dataset().logs();
    let busy = logs
        .iter()
        .max_by_key(|l| server.dataset().count(&l.id, T0, T0 + MIN))
        .unwrap()
        .clone();
    // A window ending on one of the busy log's events.
    let ending_on_event = |from: i64| {
        let e = server
            .dataset()
            .events(&busy.id, from + 10 * MIN, from + 11 * MIN);
        (from, e.first().expect("an event").timestamp)
    };
    let count = |q: String| {
        let ctx = ctx.clone();
        async move {
            let got = sql(&ctx, &q).await.unwrap();
            got[0]
                .column(0)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(0) as u64
        }
    };
    let (from, to) = ending_on_event(T0);
    let one = count(format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = '{}' AND {}",
        busy.name,
        window(from, to)
    ))
    .await;
    assert_eq!(one, server.dataset().count(&busy.id, from, to));
    let (from, to) = ending_on_event(T0 + 120 * MIN);
    let want: u64 = logs
        .iter()
        .map(|l| server.dataset().count(&l.id, from, to))
        .sum();
    server.clear_requests();
    let all = count(format!(
        "SELECT count(*) FROM rapid7_logs WHERE {}",
        window(from, to)
    ))
    .await;
    assert!(statistical(&server).iter().any(|r| r.logs.len() > 1));
    assert_eq!(all, want);
}

/// The merged faults from a query's second page on, after the first page's
/// events were returned (live) or written (fetch): the fallback still gives
/// exactly the rows, each log read alone, the endpoint remembered.
#[tokio::test]
async fn a_violation_on_a_later_page_falls_back_exactly() {
    for (faults, why) in [
        (
            Faults {
                merged_out_of_order: true,
                ..Faults::default()
            },
            "out of order from page 2",
        ),
        (
            Faults {
                merged_foreign_log: true,
                ..Faults::default()
            },
            "a foreign log from page 2",
        ),
        (
            Faults {
                merged_link_beyond_last: true,
                ..Faults::default()
            },
            "a link past the last event from page 2",
        ),
    ] {
        let faults = Faults {
            merged_faults_from_page_2: true,
            ..faults
        };
        falls_back_on(faults.clone(), why).await;
        // Live: the rows the first page returned are not returned twice.
        let server = organisation(6, 1, faults).await;
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, local_cache(&dir)).await;
        let (from, to) = (T0, T0 + 10 * MIN);
        let want: Vec<_> = truth(&server, from, to)
            .into_iter()
            .filter(|r| r.3.contains("\"status\""))
            .collect();
        let q = format!(
            "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs \
             WHERE {} AND message LIKE '%\"status\"%'",
            window(from, to)
        );
        server.clear_requests();
        assert_eq!(all_rows(&sql(&ctx, &q).await.unwrap()), want, "{why}");
        let merged_pages = server
            .requests()
            .into_iter()
            .filter(|r| r.kind == RequestKind::Query && r.logs.len() > 1)
            .filter(|r| !r.is_statistical())
            .count();
        assert!(merged_pages >= 2, "{why}: {merged_pages} merged pages");
    }
}

/// A merged answer that breaks a rule inside a count's check of the events
/// at `to` (the check reads them by a merged event query): the range is
/// counted from its events, exactly, and the endpoint is remembered as a
/// merged read's violation is, so a new session counts log by log.
#[tokio::test]
async fn a_broken_merged_answer_in_a_count_s_check_at_to_is_remembered() {
    let server = organisation(
        4,
        1,
        Faults {
            merged_foreign_log: true,
            ..Faults::default()
        },
    )
    .await;
    let logs = server.dataset().logs();
    // A `to` some log has events at, so that the check's answer has a page
    // to break the rule in.
    let to = (T0 + 20 * MIN..)
        .find(|&ms| {
            logs.iter()
                .any(|l| server.dataset().count(&l.id, ms, ms + 1) > 0)
        })
        .unwrap();
    let from = to - 10 * MIN;
    let count = |from, to| {
        let q = format!(
            "SELECT count(*) FROM rapid7_logs WHERE {}",
            window(from, to)
        );
        let want: u64 = logs
            .iter()
            .map(|l| server.dataset().count(&l.id, from, to))
            .sum();
        (q, want)
    };
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c).await;
    let (q, want) = count(from, to);
    let got = sql(&ctx, &q).await.unwrap()[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(got as u64, want);
    let facts = std::fs::read_to_string(dir.path().join(ENDPOINT_FACTS_FILE)).unwrap();
    assert!(facts.contains("merged_reads"), "{facts}");
    // A new session over the same cache counts each log alone.
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c).await;
    server.clear_requests();
    let (q, want) = count(to, to + 10 * MIN);
    let got = sql(&ctx, &q).await.unwrap()[0]
        .column(0)
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .value(0);
    assert_eq!(got as u64, want);
    let asked = server.requests();
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|r| r.logs.len() <= 1), "{asked:?}");
}
