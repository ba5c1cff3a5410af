//! `rapid7_leql(log, from, to, statement)`: statistics as rows, events of a
//! `where(...)`, errors from Rapid7 passed on; asked when run, not planned.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, TimestampMillisecondType};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::mock::{Faults, MockServer};
use tempfile::TempDir;

use super::{MIN, session, single_i64, sql};
use crate::support::{self, T0};

fn call(log: &str, from: i64, to: i64, statement: &str) -> String {
    format!(
        "rapid7_leql('{log}', to_timestamp_millis({from}), to_timestamp_millis({to}), '{statement}')"
    )
}

/// The simulator with `to` exclusive, and a session over it (its cache in
/// the returned directory).
async fn exclusive_to() -> (MockServer, TempDir, SessionContext) {
    let server = support::server().await;
    server.set_faults(Faults {
        to_exclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    (server, dir, ctx)
}

#[tokio::test]
async fn a_statistical_statement_returns_its_slices() {
    let (server, _dir, ctx) = exclusive_to().await;
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

/// `(slice_start, group_key, function, value)` rows of a `rapid7_leql` call.
type LeqlRow = (Option<i64>, Option<String>, String, Option<f64>);

async fn leql_rows(
    ctx: &SessionContext,
    log: &str,
    from: i64,
    to: i64,
    statement: &str,
) -> Vec<LeqlRow> {
    let q = format!(
        "SELECT slice_start, group_key, function, value FROM {}",
        call(log, from, to, statement)
    );
    let mut out = Vec::new();
    for b in sql(ctx, &q).await.unwrap() {
        let start = b.column(0).as_primitive::<TimestampMillisecondType>();
        let key = b.column(1).as_string::<i32>();
        let f = b.column(2).as_string::<i32>();
        let v = b.column(3).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.push((
                start.is_valid(i).then(|| start.value(i)),
                key.is_valid(i).then(|| key.value(i).to_string()),
                f.value(i).to_string(),
                v.is_valid(i).then(|| v.value(i)),
            ));
        }
    }
    out
}

/// One `Float64` (or NULL) of a single-row answer.
fn single_f64(batches: &[datafusion::arrow::array::RecordBatch]) -> Option<f64> {
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    let c = b.column(0).as_primitive::<Float64Type>();
    c.is_valid(0).then(|| c.value(0))
}

/// `sum`, `max`, `min` and `average` of a field, per slice, against the same
/// aggregate computed by SQL over the rows (`kv_get`), not by the simulator.
#[tokio::test]
async fn functions_of_a_field_give_the_numbers_of_the_rows() {
    let (_server, _dir, ctx) = exclusive_to().await;
    let (from, to) = (T0, T0 + 4 * MIN);
    for (function, sql_fn) in [
        ("sum", "sum"),
        ("max", "max"),
        ("min", "min"),
        ("average", "avg"),
    ] {
        let got = leql_rows(
            &ctx,
            "Web Proxy",
            from,
            to,
            &format!("calculate({function}:bytes) timeslice(4)"),
        )
        .await;
        assert_eq!(got.len(), 4, "{function}: {got:?}");
        for (i, (start, key, f, value)) in got.into_iter().enumerate() {
            let a = from + i as i64 * MIN;
            assert_eq!((start, key, f.as_str()), (Some(a), None, function));
            let q = format!(
                "SELECT {sql_fn}(CAST(kv_get(message, 'bytes') AS DOUBLE)) FROM rapid7_logs \
                 WHERE log_name = 'Web Proxy' AND {}",
                super::window(a, a + MIN)
            );
            let want = single_f64(&sql(&ctx, &q).await.unwrap());
            assert!(want.is_some_and(|w| w > 0.0));
            assert_eq!(value, want, "{function} of slice {i}");
        }
    }
}

/// `groupby(action, status)`: one row per group path, keyed `[action,status]`
/// with the values lower-cased as Rapid7 returns them; counts and sums equal
/// SQL's over the rows.
#[tokio::test]
async fn two_key_groups_give_the_numbers_of_the_rows() {
    let (_server, _dir, ctx) = exclusive_to().await;
    let (from, to) = (T0, T0 + 3 * MIN);
    for (calc, sql_fn, function) in [
        ("calculate(count)", "CAST(count(*) AS DOUBLE)", "count"),
        (
            "calculate(sum:bytes)",
            "sum(CAST(kv_get(message, 'bytes') AS DOUBLE))",
            "sum",
        ),
    ] {
        let got = leql_rows(
            &ctx,
            "Web Proxy",
            from,
            to,
            &format!("groupby(action, status) {calc} timeslice(3)"),
        )
        .await;
        let q = format!(
            "SELECT '[' || lower(kv_get(message, 'action')) || ',' || kv_get(message, 'status') \
             || ']', {sql_fn} FROM rapid7_logs WHERE log_name = 'Web Proxy' AND {} GROUP BY 1",
            super::window(from, to)
        );
        let mut want = std::collections::BTreeMap::new();
        for b in sql(&ctx, &q).await.unwrap() {
            let k = b.column(0).as_string::<i32>();
            let v = b.column(1).as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                want.insert(k.value(i).to_string(), v.value(i));
            }
        }
        assert!(want.len() > 4 && want.keys().any(|k| k.starts_with("[get,")));
        // The groups: one row each, no slice.
        let groups: std::collections::BTreeMap<String, f64> = got
            .iter()
            .filter(|r| r.0.is_none())
            .map(|r| (r.1.clone().unwrap(), r.3.unwrap()))
            .collect();
        assert_eq!(groups, want, "{calc}");
        // The nested series: three slices per group path, adding up.
        for (key, total) in &want {
            let slices: Vec<f64> = got
                .iter()
                .filter(|r| r.0.is_some() && r.1.as_deref() == Some(key))
                .map(|r| r.3.unwrap_or(0.0))
                .collect();
            assert_eq!(slices.len(), 3, "{key}");
            assert_eq!(slices.iter().sum::<f64>(), *total, "{key}");
        }
        assert!(got.iter().all(|r| r.2 == function));
    }
}

/// No data (`status: 204`): a count is 0, a function of a field has no
/// value (NULL), never a made-up 0.0.
#[tokio::test]
async fn no_data_is_zero_for_a_count_and_null_for_a_function() {
    let (_server, _dir, ctx) = exclusive_to().await;
    let nothing = "where(/no such text anywhere/)";
    let rows = leql_rows(
        &ctx,
        "Web Proxy",
        T0,
        T0 + MIN,
        &format!("{nothing} calculate(max:bytes) timeslice(2)"),
    )
    .await;
    assert_eq!(
        rows,
        vec![
            (Some(T0), None, "max".to_string(), None),
            (Some(T0 + MIN / 2), None, "max".to_string(), None)
        ]
    );
    let rows = leql_rows(
        &ctx,
        "Web Proxy",
        T0,
        T0 + MIN,
        &format!("{nothing} calculate(count)"),
    )
    .await;
    assert_eq!(rows, vec![(Some(T0), None, "count".to_string(), Some(0.0))]);
}
