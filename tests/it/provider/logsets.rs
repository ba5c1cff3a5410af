//! `rapid7_logsets`: one table per log set of the simulator's standard
//! dataset (Network: Firewall and Web Proxy; Security: Firewall, Auth Service
//! and Windows Defender; `Ops "blue" team`), read over loopback. A log in two
//! sets (Firewall) is in both tables, each row once; a set's count is the sum
//! of its logs' counts; an unknown set is an error naming the known ones; an
//! offline session over the same cache still knows the sets (a set none of
//! whose logs the cache holds as an empty table).

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{TimestampMillisecondType, UInt64Type};
use tempfile::TempDir;

use super::{MIN, local_cache, session, session_with, single_i64, sql, window};
use crate::support::{self, T0};

const FIREWALL: &str = "Firewall";

/// `(log_name, timestamp, sequence_number)` rows, sorted.
fn keys(batches: &[RecordBatch]) -> Vec<(String, i64, u64)> {
    let mut out = Vec::new();
    for b in batches {
        let name = b.column(0).as_string_view();
        let ts = b.column(1).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(2).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            out.push((name.value(i).to_string(), ts.value(i), seq.value(i)));
        }
    }
    out.sort();
    out
}

/// The rows of `logs` over `[from, to)`, as the data function has them.
fn truth(
    server: &datafusion_rapid7::mock::MockServer,
    logs: &[&str],
    from: i64,
    to: i64,
) -> Vec<(String, i64, u64)> {
    let mut out = Vec::new();
    for log in logs {
        let id = support::log_id(server, log);
        for e in server.dataset().events(&id, from, to) {
            out.push((log.to_string(), e.timestamp, e.sequence_number));
        }
    }
    out.sort();
    out
}

fn select(table: &str, from: i64, to: i64) -> String {
    format!(
        "SELECT CAST(log_name AS VARCHAR) AS log_name, timestamp, sequence_number FROM {table} \
         WHERE {}",
        window(from, to)
    )
}

fn count(table: &str, from: i64, to: i64) -> String {
    format!("SELECT count(*) FROM {table} WHERE {}", window(from, to))
}

fn table_names(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let names = b.column(0).as_string::<i32>();
        out.extend((0..b.num_rows()).map(|i| names.value(i).to_string()));
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_log_set_is_a_table_of_its_logs_rows_each_once() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let listed = sql(
        &ctx,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'rapid7_logsets'",
    )
    .await
    .unwrap();
    assert_eq!(
        table_names(&listed),
        ["Network", "Ops \"blue\" team", "Security"]
    );
    let (from, to) = (T0, T0 + 2 * MIN);
    // Firewall is in both sets: in both tables, each of its rows once.
    let network = keys(
        &sql(&ctx, &select("rapid7_logsets.\"Network\"", from, to))
            .await
            .unwrap(),
    );
    assert_eq!(network, truth(&server, &[FIREWALL, "Web Proxy"], from, to));
    let security = keys(
        &sql(&ctx, &select("rapid7_logsets.\"Security\"", from, to))
            .await
            .unwrap(),
    );
    assert_eq!(
        security,
        truth(
            &server,
            &[FIREWALL, "Auth Service", "Windows Defender"],
            from,
            to
        )
    );
    // A name that is no SQL identifier, quoted; and a set by its id.
    let ops = keys(
        &sql(
            &ctx,
            &select("rapid7_logsets.\"Ops \"\"blue\"\" team\"", from, to),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        ops,
        truth(&server, &["Ops \"blue\" team — app.log"], from, to)
    );
    let by_id = keys(
        &sql(
            &ctx,
            &select(
                "rapid7_logsets.\"5e7a0c1d-2b3f-4a6e-8d9c-0f1e2d3c4b01\"",
                from,
                to,
            ),
        )
        .await
        .unwrap(),
    );
    assert_eq!(by_id, network);
    // A filter on the set's table narrows within its logs.
    let only_fw = keys(
        &sql(
            &ctx,
            &format!(
                "{} AND log_name = 'Firewall'",
                select("rapid7_logsets.\"Network\"", from, to)
            ),
        )
        .await
        .unwrap(),
    );
    assert_eq!(only_fw, truth(&server, &[FIREWALL], from, to));
    let none = keys(
        &sql(
            &ctx,
            &format!(
                "{} AND log_name = 'Auth Service'",
                select("rapid7_logsets.\"Network\"", from, to)
            ),
        )
        .await
        .unwrap(),
    );
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_set_s_count_is_the_sum_of_its_logs_counts_with_or_without_count_pushdown() {
    let server = support::server().await;
    let (from, to) = (T0 + 3 * MIN, T0 + 13 * MIN);
    let logs = [FIREWALL, "Auth Service", "Windows Defender"];
    let want: u64 = logs
        .iter()
        .map(|l| {
            server
                .dataset()
                .count(&support::log_id(&server, l), from, to)
        })
        .sum();
    for pushdown in [false, true] {
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session_with(&server, local_cache(&dir), |c| {
            c.with_pushdown_aggregates(pushdown)
        })
        .await;
        let got = single_i64(
            &sql(&ctx, &count("rapid7_logsets.\"Security\"", from, to))
                .await
                .unwrap(),
        );
        assert_eq!(got as u64, want, "pushdown {pushdown}");
        // The same as the logs' counts in rapid7_logs, one by one.
        let mut sum = 0;
        for log in logs {
            let q = format!(
                "SELECT count(*) FROM rapid7_logs WHERE log_name = '{log}' AND {}",
                window(from, to)
            );
            sum += single_i64(&sql(&ctx, &q).await.unwrap());
        }
        assert_eq!(sum, got);
    }
}

#[tokio::test]
async fn an_unknown_log_set_is_an_error_naming_the_known_ones() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let err = sql(&ctx, &count("rapid7_logsets.\"Netwrk\"", T0, T0 + MIN))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no log set \"Netwrk\""), "{err}");
    for known in ["Network", "Security", "Ops \"\"blue\"\" team"] {
        assert!(
            err.contains(&format!("rapid7_logsets.\"{known}\"")),
            "{known}: {err}"
        );
    }
}

#[tokio::test]
async fn an_offline_session_knows_the_sets_the_cache_recorded() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (from, to) = (T0, T0 + MIN);
    let (online, _) = session(&server, &dir).await;
    let want = keys(
        &sql(&online, &select("rapid7_logsets.\"Network\"", from, to))
            .await
            .unwrap(),
    );
    assert!(!want.is_empty());
    let text = std::fs::read_to_string(dir.path().join("_LOGSETS.json")).unwrap();
    assert!(text.contains("\"Network\""), "{text}");
    let (offline, _) = session_with(&server, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false).with_offline(true)
    })
    .await;
    server.clear_requests();
    let listed = sql(
        &offline,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'rapid7_logsets'",
    )
    .await
    .unwrap();
    // Offline, the logs are those the cache holds (as in `rapid7`): the
    // Ops log has nothing cached, so its set is listed with no log to read.
    assert_eq!(
        table_names(&listed),
        ["Network", "Ops \"blue\" team", "Security"]
    );
    let ops = sql(
        &offline,
        &select("rapid7_logsets.\"Ops \"\"blue\"\" team\"", from, to),
    )
    .await
    .unwrap();
    assert!(keys(&ops).is_empty());
    let got = keys(
        &sql(&offline, &select("rapid7_logsets.\"Network\"", from, to))
            .await
            .unwrap(),
    );
    assert_eq!(got, want);
    assert!(server.requests().is_empty(), "offline asked the API");
}
