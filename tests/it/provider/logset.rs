//! The `logset` column of `rapid7_logs` over the simulator on loopback: each
//! row shows its log's sets (a log in two sets both, a log in none an empty
//! list); a filter on it reads only the named sets' logs (the simulator's
//! requests, per log) and gives the rows the simulator's data function has;
//! a set without a log reads nothing; counts with set filters are exact; a
//! cache written without the column (parts never hold it) keeps working; an
//! endpoint that refuses `GET /management/logsets` falls back to each log's
//! `logsets_info`, with a warning.
//!
//! The sets here (not the standard dataset's): Network = Firewall and Web
//! Proxy, Security = Firewall and Auth Service, Empty = no log; Windows
//! Defender and the Ops log are in none.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, TimestampMillisecondType, UInt64Type};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::SegmentCache;
use datafusion_rapid7::mock::{
    Faults, MockConfig, MockDataset, MockLogSet, MockServer, RequestKind,
};
use tempfile::TempDir;

use super::{MIN, local_cache, session, session_with, single_i64, sql, window};
use crate::support::{self, T0};

const FIREWALL: &str = "Firewall";
const PROXY: &str = "Web Proxy";
const AUTH: &str = "Auth Service";
const DEFENDER: &str = "Windows Defender";
const OPS: &str = "Ops \"blue\" team — app.log";
const ALL: [&str; 5] = [FIREWALL, PROXY, AUTH, DEFENDER, OPS];

/// A quiet minute (no Firewall burst).
const FROM: i64 = T0 + 5 * MIN;
const TO: i64 = T0 + 6 * MIN;

/// The sets of this file's dataset, as `(id, name, logs)`.
fn set_list() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        (
            "9a0e7c1d-0000-4a6e-8d9c-000000000001",
            "Network",
            vec![FIREWALL, PROXY],
        ),
        (
            "9a0e7c1d-0000-4a6e-8d9c-000000000002",
            "Security",
            vec![FIREWALL, AUTH],
        ),
        ("9a0e7c1d-0000-4a6e-8d9c-000000000003", "Empty", vec![]),
    ]
}

/// The sets each log is in, sorted, as the column must show them.
fn sets_of(log: &str) -> Vec<String> {
    let mut out: Vec<String> = set_list()
        .into_iter()
        .filter(|(_, _, logs)| logs.contains(&log))
        .map(|(_, name, _)| name.to_string())
        .collect();
    out.sort();
    out
}

fn dataset() -> MockDataset {
    let standard = MockDataset::standard();
    let id = |name: &str| {
        standard
            .logs()
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("no log {name}"))
            .id
            .clone()
    };
    let sets = set_list()
        .into_iter()
        .map(|(set, name, logs)| MockLogSet {
            id: set.into(),
            name: name.into(),
            logs: logs.into_iter().map(id).collect(),
        })
        .collect();
    standard.clone().with_logsets(sets)
}

async fn server_with(faults: Faults) -> MockServer {
    MockServer::start(MockConfig {
        dataset: dataset(),
        faults,
        ..MockConfig::default()
    })
    .await
    .expect("simulator")
}

async fn server() -> MockServer {
    server_with(Faults::default()).await
}

type Row = (String, i64, u64, Vec<String>);

/// `(log_name, timestamp, sequence_number, logset)` rows of a statement
/// selecting those four columns, sorted.
fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let list = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    let mut out = Vec::new();
    for b in batches {
        let name = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let name = name.as_string::<i32>();
        let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(2).as_primitive::<UInt64Type>();
        let sets = datafusion::arrow::compute::cast(b.column(3), &list).unwrap();
        let sets = sets.as_list::<i32>();
        for i in 0..b.num_rows() {
            assert!(sets.is_valid(i), "logset is never null");
            let value = sets.value(i);
            let value = value.as_string::<i32>();
            let names = (0..value.len()).map(|j| value.value(j).to_string());
            out.push((
                name.value(i).to_string(),
                ts.value(i),
                seq.value(i),
                names.collect(),
            ));
        }
    }
    out.sort();
    out
}

/// The rows of `logs` over `[FROM, TO)` by the simulator's data function,
/// each with its log's sets.
fn truth(server: &MockServer, logs: &[&str]) -> Vec<Row> {
    let mut out = Vec::new();
    for log in logs {
        let id = support::log_id(server, log);
        for e in server.dataset().events(&id, FROM, TO) {
            out.push((
                log.to_string(),
                e.timestamp,
                e.sequence_number,
                sets_of(log),
            ));
        }
    }
    out.sort();
    out
}

fn select(filter: &str) -> String {
    format!(
        "SELECT log_name, timestamp, sequence_number, logset FROM rapid7_logs WHERE {} AND ({filter})",
        window(FROM, TO)
    )
}

/// The names of the logs the simulator's queries (events and statistics)
/// named since the last `clear_requests`.
fn logs_read(server: &MockServer) -> BTreeSet<String> {
    let names: BTreeMap<String, &str> = ALL
        .iter()
        .map(|n| (support::log_id(server, n), *n))
        .collect();
    server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query)
        .flat_map(|r| r.logs)
        .map(|id| names.get(&id).map_or(id.clone(), |n| n.to_string()))
        .collect()
}

/// Event queries over more than one millisecond: pages of the window (a
/// count from statistics asks one-millisecond queries to learn `to`).
fn event_pages(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Query && !r.is_statistical())
        .filter(|r| match (r.from, r.to) {
            (Some(f), Some(t)) => t - f > 1,
            _ => true,
        })
        .count()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn every_row_shows_its_log_s_sets_fetched_cached_and_bypassed() {
    let server = server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = select("true");
    let want = truth(&server, &ALL);
    assert!(want.iter().any(|r| r.3.len() == 2), "a log in two sets");
    assert!(want.iter().any(|r| r.3.is_empty()), "a log in none");
    // Fetched (then read from the new segments), then from the cache alone.
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), want);
    server.clear_requests();
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), want);
    assert_eq!(server.query_requests(), 0, "the second run is cached");
    // Only the column, and through a per-log table.
    let only = sql(
        &ctx,
        &format!(
            "SELECT DISTINCT logset FROM rapid7.\"Firewall\" WHERE {}",
            window(FROM, TO)
        ),
    )
    .await
    .unwrap();
    let got: Vec<_> = only.iter().map(|b| b.num_rows()).collect();
    assert_eq!(got.iter().sum::<usize>(), 1, "{only:?}");
    // Without a cache: the rows as read from the pages.
    let (bypass, _) = session_with(&server, SegmentCache::bypass(), |c| {
        c.with_pushdown_aggregates(false)
    })
    .await;
    assert_eq!(rows(&sql(&bypass, &q).await.unwrap()), want);
}

#[tokio::test]
async fn each_pushed_shape_reads_only_the_named_sets_logs() {
    let server = server().await;
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("array_has(logset, 'Network')", vec![FIREWALL, PROXY]),
        ("'Security' = ANY(logset)", vec![FIREWALL, AUTH]),
        ("list_has(logset, 'Security')", vec![FIREWALL, AUTH]),
        (
            "array_has_any(logset, make_array('Network', 'Security'))",
            vec![FIREWALL, PROXY, AUTH],
        ),
        (
            "array_has_all(logset, make_array('Network', 'Security'))",
            vec![FIREWALL],
        ),
        (
            "array_has(logset, 'Network') AND log_name = 'Web Proxy'",
            vec![PROXY],
        ),
        (
            "array_has(logset, 'Security') OR log_name = 'Windows Defender'",
            vec![FIREWALL, AUTH, DEFENDER],
        ),
        (
            "('Network' = ANY(logset) OR 'Security' = ANY(logset)) AND log_name IN ('Auth Service', 'Windows Defender')",
            vec![AUTH],
        ),
        ("array_has(logset, 'Empty')", vec![]),
    ];
    for (filter, logs) in cases {
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, &dir).await;
        server.clear_requests();
        let got = rows(&sql(&ctx, &select(filter)).await.unwrap());
        assert_eq!(got, truth(&server, &logs), "{filter}");
        assert_eq!(logs_read(&server), set(&logs), "{filter}");
        // The same rows as the statement whose filter is not pushed (a
        // LIMIT under it keeps DataFusion from pushing it into the scan).
        let unpushed = format!(
            "SELECT * FROM (SELECT log_name, timestamp, sequence_number, logset FROM rapid7_logs \
             WHERE {} LIMIT 1000000000) WHERE {filter}",
            window(FROM, TO)
        );
        assert_eq!(rows(&sql(&ctx, &unpushed).await.unwrap()), got, "{filter}");
    }
}

#[tokio::test]
async fn a_filter_on_logset_not_understood_reads_every_log_and_stays_exact() {
    let server = server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    for (filter, logs) in [
        ("cardinality(logset) = 0", vec![DEFENDER, OPS]),
        (
            "NOT array_has(logset, 'Network')",
            vec![AUTH, DEFENDER, OPS],
        ),
        ("'Network' <> ALL(logset)", vec![AUTH, DEFENDER, OPS]),
    ] {
        server.clear_requests();
        let got = rows(&sql(&ctx, &select(filter)).await.unwrap());
        assert_eq!(got, truth(&server, &logs), "{filter}");
    }
}

#[tokio::test]
async fn a_set_without_a_log_is_listed_and_empty_and_costs_no_query() {
    let server = server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let listed = sql(
        &ctx,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'rapid7_logsets' \
         ORDER BY table_name",
    )
    .await
    .unwrap();
    let names: Vec<String> = listed
        .iter()
        .flat_map(|b| {
            let c = b.column(0).as_string::<i32>();
            (0..b.num_rows())
                .map(|i| c.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names, ["Empty", "Network", "Security"]);
    server.clear_requests();
    let q = format!(
        "SELECT count(*) FROM rapid7_logsets.\"Empty\" WHERE {}",
        window(FROM, TO)
    );
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), 0);
    assert_eq!(server.query_requests(), 0);
    // Each set's table is its logs' rows; a log in two sets is in both.
    let network = format!(
        "SELECT log_name, timestamp, sequence_number, logset FROM rapid7_logsets.\"Network\" WHERE {}",
        window(FROM, TO)
    );
    assert_eq!(
        rows(&sql(&ctx, &network).await.unwrap()),
        truth(&server, &[FIREWALL, PROXY])
    );
    // A set name that names no set is an error naming the sets.
    let err = sql(&ctx, &select("array_has(logset, 'Netwrk')"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no log set \"Netwrk\""), "{err}");
    assert!(err.contains("Network") && err.contains("Empty"), "{err}");
}

#[tokio::test]
async fn counts_with_logset_filters_are_exact_from_statistics_or_paged() {
    let server = server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c).await;
    let count = |log: &str| {
        server
            .dataset()
            .count(&support::log_id(&server, log), FROM, TO) as i64
    };
    let counted = |filter: &str| {
        format!(
            "SELECT count(*) FROM rapid7_logs WHERE {} AND ({filter})",
            window(FROM, TO)
        )
    };
    // Filters the log selection keeps exactly: counted from statistics.
    for (filter, logs) in [
        ("array_has(logset, 'Security')", vec![FIREWALL, AUTH]),
        (
            "'Network' = ANY(logset) OR log_name = 'Windows Defender'",
            vec![FIREWALL, PROXY, DEFENDER],
        ),
        ("array_has(logset, 'Empty')", vec![]),
    ] {
        server.clear_requests();
        let want: i64 = logs.iter().map(|l| count(l)).sum();
        let got = sql(&ctx, &counted(filter)).await.unwrap();
        let got = got
            .iter()
            .find(|b| b.num_rows() > 0)
            .map_or(0, |_| single_i64(&got));
        assert_eq!(got, want, "{filter}");
        assert_eq!(event_pages(&server), 0, "{filter}: no event page");
        assert_eq!(logs_read(&server), set(&logs), "{filter}");
    }
    // Not understood: paged, and exact all the same.
    server.clear_requests();
    let got = single_i64(
        &sql(&ctx, &counted("cardinality(logset) = 0"))
            .await
            .unwrap(),
    );
    assert_eq!(got, count(DEFENDER) + count(OPS));
    assert!(event_pages(&server) > 0, "the events were paged");
    // GROUP BY logset: declined by the count pushdown, exact.
    let grouped = sql(
        &ctx,
        &format!(
            "SELECT array_to_string(logset, '+') AS sets, count(*) FROM rapid7_logs WHERE {} \
             GROUP BY logset ORDER BY sets",
            window(FROM, TO)
        ),
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    for b in &grouped {
        let sets = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
        let sets = sets.as_string::<i32>();
        let n = b
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            got.push((sets.value(i).to_string(), n.value(i)));
        }
    }
    assert_eq!(
        got,
        [
            (String::new(), count(DEFENDER) + count(OPS)),
            ("Network".into(), count(PROXY)),
            ("Network+Security".into(), count(FIREWALL)),
            ("Security".into(), count(AUTH)),
        ]
    );
}

#[tokio::test]
async fn a_cache_holds_no_logset_and_shows_the_sets_of_the_list_read_now() {
    let dir = TempDir::new().unwrap();
    let first = server().await;
    let (ctx, _) = session(&first, &dir).await;
    let want = truth(&first, &ALL);
    assert_eq!(rows(&sql(&ctx, &select("true")).await.unwrap()), want);
    // The same logs and data, other sets: the cached rows show the sets
    // of the new list, with no query.
    let moved = MockServer::start(MockConfig {
        dataset: MockDataset::standard(),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let (ctx, _) = session(&moved, &dir).await;
    let got = rows(&sql(&ctx, &select("true")).await.unwrap());
    assert_eq!(moved.query_requests(), 0, "read from the cache");
    let standard: BTreeMap<&str, Vec<String>> = [
        (FIREWALL, vec!["Network", "Security"]),
        (PROXY, vec!["Network"]),
        (AUTH, vec!["Security"]),
        (DEFENDER, vec!["Security"]),
        (OPS, vec!["Ops \"blue\" team"]),
    ]
    .into_iter()
    .map(|(log, sets)| (log, sets.into_iter().map(String::from).collect()))
    .collect();
    let relabelled: Vec<Row> = want
        .iter()
        .map(|(log, ts, seq, _)| (log.clone(), *ts, *seq, standard[log.as_str()].clone()))
        .collect();
    assert_eq!(got, relabelled);
    // A cache from before `_LOGSETS.json`, offline: no set is known, every
    // row shows none, and a set filter says so.
    std::fs::remove_file(dir.path().join("_LOGSETS.json")).unwrap();
    let (offline, _) = session_with(&moved, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false).with_offline(true)
    })
    .await;
    let got = rows(&sql(&offline, &select("true")).await.unwrap());
    let bare: Vec<Row> = want
        .iter()
        .map(|(log, ts, seq, _)| (log.clone(), *ts, *seq, Vec::new()))
        .collect();
    assert_eq!(got, bare);
    let err = sql(&offline, &select("array_has(logset, 'Network')"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no log set is known"), "{err}");
}

#[tokio::test]
async fn a_refused_logsets_endpoint_falls_back_to_the_log_list_with_a_warning() {
    for status in [403, 404] {
        let server = server_with(Faults {
            refuse_logsets: Some(status),
            ..Faults::default()
        })
        .await;
        let capture = crate::support::logs::Logs::capture(tracing::Level::WARN);
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, &dir).await;
        // The sets of the logs' logsets_info: all but the empty one.
        let got = rows(
            &sql(&ctx, &select("array_has(logset, 'Network')"))
                .await
                .unwrap(),
        );
        assert_eq!(got, truth(&server, &[FIREWALL, PROXY]), "{status}");
        let err = sql(&ctx, &select("array_has(logset, 'Empty')"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no log set \"Empty\""), "{status}: {err}");
        let asked = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/management/logsets"))
            .count();
        assert_eq!(asked, 1, "{status}: asked once");
        let logged = capture.text();
        assert!(
            logged.contains("log_sets_list_refused") && logged.contains(&status.to_string()),
            "{status}: {logged}"
        );
    }
}

#[tokio::test]
async fn comparing_logset_to_a_string_says_what_to_write() {
    let server = server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let err = sql(&ctx, &select("logset = 'Network'"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("array_has(logset, 'Network')"), "{err}");
}

/// The Flight SQL server and `\d` list the column: its type in the schema.
#[tokio::test]
async fn the_column_is_in_the_table_schema() {
    let server = server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _): (SessionContext, _) = session(&server, &dir).await;
    let schema = ctx.table("rapid7_logs").await.unwrap().schema().clone();
    let field = schema.field_with_unqualified_name("logset").unwrap();
    assert_eq!(
        field.data_type(),
        &DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
    );
    assert!(!field.is_nullable());
    assert_eq!(schema.fields().len(), 7);
}

/// The newest rows first (a newest-first read, stopping early) and the
/// recent edge (read live, never cached) carry the column too, and a set
/// filter picks their logs.
#[tokio::test]
async fn newest_first_and_live_reads_carry_the_sets() {
    let server = server().await;
    let newest = |filter: &str| {
        format!(
            "SELECT log_name, timestamp, sequence_number, logset FROM rapid7_logs WHERE {} AND \
             ({filter}) ORDER BY timestamp DESC, sequence_number DESC LIMIT 20",
            window(FROM, TO)
        )
    };
    let newest_of = |logs: &[&str]| {
        let mut all = truth(&server, logs);
        all.sort_by_key(|r| std::cmp::Reverse((r.1, r.2)));
        all.truncate(20);
        all.sort();
        all
    };
    for filter in ["true", "'Security' = ANY(logset)"] {
        let logs: &[&str] = match filter {
            "true" => &ALL,
            _ => &[FIREWALL, AUTH],
        };
        let want = newest_of(logs);
        // Read newest first, then again from what that read committed.
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, &dir).await;
        server.clear_requests();
        assert_eq!(
            rows(&sql(&ctx, &newest(filter)).await.unwrap()),
            want,
            "{filter}"
        );
        assert!(logs_read(&server).is_subset(&set(logs)), "{filter}");
        assert!(
            server.requests().iter().any(|r| r.most_recent_first),
            "{filter}: read newest first"
        );
        assert_eq!(
            rows(&sql(&ctx, &newest(filter)).await.unwrap()),
            want,
            "{filter}"
        );
    }
    // A recent edge 400 days long: the whole window is read live.
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false)
            .with_settle(std::time::Duration::from_secs(400 * 86_400))
    })
    .await;
    server.clear_requests();
    let got = rows(
        &sql(&ctx, &select("array_has(logset, 'Network')"))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth(&server, &[FIREWALL, PROXY]));
    assert_eq!(logs_read(&server), set(&[FIREWALL, PROXY]));
}

/// The client's `GET /management/logsets`: every set with its logs, a set
/// without a log too; a refusal is an error with its status.
#[tokio::test]
async fn the_client_lists_every_set_with_its_logs() {
    let server = server().await;
    let client = support::client_for(&server);
    let sets = client.list_logsets().await.unwrap();
    let got: Vec<(String, String, BTreeSet<String>)> = sets
        .iter()
        .map(|s| {
            let logs = s.logs_info.iter().map(|l| l.name.clone()).collect();
            (s.id.clone(), s.name.clone(), logs)
        })
        .collect();
    let want: Vec<(String, String, BTreeSet<String>)> = set_list()
        .into_iter()
        .map(|(id, name, logs)| (id.to_string(), name.to_string(), set(&logs)))
        .collect();
    assert_eq!(got, want);
    server.set_faults(Faults {
        refuse_logsets: Some(403),
        ..Faults::default()
    });
    let err = client.list_logsets().await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
}
