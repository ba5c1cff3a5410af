//! `rapid7_leql(log, from, to, statement)`: statistics as rows, events of a
//! `where(...)`, errors from Rapid7 passed on; asked when run, not planned.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Float64Type, TimestampMillisecondType};
use datafusion_rapid7::mock::Faults;
use tempfile::TempDir;

use super::{MIN, session, single_i64, sql};
use crate::support::{self, T0};

fn call(log: &str, from: i64, to: i64, statement: &str) -> String {
    format!(
        "rapid7_leql('{log}', to_timestamp_millis({from}), to_timestamp_millis({to}), '{statement}')"
    )
}

#[tokio::test]
async fn a_statistical_statement_returns_its_slices() {
    let server = support::server().await;
    server.set_faults(Faults {
        to_exclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 6 * MIN);
    let q = format!(
        "SELECT slice_start, slice_end, function, value FROM {} ORDER BY slice_start",
        call("Firewall", from, to, "calculate(count) timeslice(6)")
    );
    let explain = sql(&ctx, &format!("EXPLAIN {q}")).await.unwrap();
    assert!(!explain.is_empty());
    assert_eq!(server.query_requests(), 0, "EXPLAIN asks nothing");
    let batches = sql(&ctx, &q).await.unwrap();
    let mut got = Vec::new();
    for b in &batches {
        let start = b.column(0).as_primitive::<TimestampMillisecondType>();
        let end = b.column(1).as_primitive::<TimestampMillisecondType>();
        let f = b.column(2).as_string::<i32>();
        let v = b.column(3).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            assert_eq!(f.value(i), "count");
            got.push((start.value(i), end.value(i), v.value(i)));
        }
    }
    let want: Vec<(i64, i64, f64)> = (0..6)
        .map(|i| {
            let a = from + i * MIN;
            (a, a + MIN, server.dataset().count(&fw, a, a + MIN) as f64)
        })
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn an_event_statement_returns_the_events_it_selects() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let proxy = support::log_id(&server, "Web Proxy");
    let (from, to) = (T0, T0 + 3 * MIN);
    let q = format!(
        "SELECT count(*) FROM {}",
        call("Web Proxy", from, to, "where(/status=5/)")
    );
    let want = support::truth(&server, &proxy, from, to)
        .iter()
        .filter(|r| r.2.contains("status=5"))
        .count() as i64;
    assert!(want > 0);
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), want);
    assert!(dir.path().join("logs").read_dir().is_err(), "not cached");
}

#[tokio::test]
async fn what_rapid7_refuses_is_an_error_naming_it() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = format!(
        "SELECT * FROM {}",
        call("Firewall", T0, T0 + MIN, "calculate(percentile(bytes, 95))")
    );
    let e = sql(&ctx, &q).await.unwrap_err().to_string();
    assert!(
        e.contains("400") && e.contains("Invalid Query Request"),
        "{e}"
    );
    let e = sql(&ctx, "SELECT * FROM rapid7_leql('Firewall')")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("usage: rapid7_leql"), "{e}");
}
