//! Every predicate form of design §3.1, on windows whose bounds fall on
//! exact event milliseconds: `count(*)`, `min/max(timestamp)` and the set of
//! `(log_id, sequence_number)` equal the simulator's data function.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int64Type, TimestampMillisecondType, UInt64Type};
use tempfile::TempDir;

use super::{session, sql};
use crate::support::{self, T0, rfc3339};

type Key = (String, u64);

#[tokio::test]
async fn every_predicate_form_reads_exactly_the_matching_events() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let auth = support::log_id(&server, "Auth Service");
    // Two instants that are event milliseconds of the Firewall log.
    let events = support::truth(&server, &fw, T0 + 10_000, T0 + 70_000);
    let (e1, e2) = (events[0].0, events.last().unwrap().0);
    assert!(e1 < e2);
    let ms = |v: i64| format!("to_timestamp_millis({v})");

    // (predicate on timestamp, windows it means)
    let cases: Vec<(String, Vec<(i64, i64)>)> = vec![
        (
            format!("timestamp >= {} AND timestamp <= {}", ms(e1), ms(e2)),
            vec![(e1, e2 + 1)],
        ),
        (
            format!("timestamp > {} AND timestamp < {}", ms(e1), ms(e2)),
            vec![(e1 + 1, e2)],
        ),
        (
            format!("{} <= timestamp AND {} > timestamp", ms(e1), ms(e2)),
            vec![(e1, e2)],
        ),
        (
            format!("{} < timestamp AND {} >= timestamp", ms(e1), ms(e2)),
            vec![(e1 + 1, e2 + 1)],
        ),
        (
            format!("timestamp BETWEEN {} AND {}", ms(e1), ms(e2)),
            vec![(e1, e2 + 1)],
        ),
        (format!("timestamp = {}", ms(e1)), vec![(e1, e1 + 1)]),
        (
            format!("timestamp IN ({}, {})", ms(e1), ms(e2)),
            vec![(e1, e1 + 1), (e2, e2 + 1)],
        ),
        (
            format!(
                "(timestamp >= {} AND timestamp < {}) OR (timestamp > {} AND timestamp <= {})",
                ms(e1),
                ms(e1 + 1000),
                ms(e2 - 1000),
                ms(e2)
            ),
            vec![(e1, e1 + 1000), (e2 - 999, e2 + 1)],
        ),
        // Strings in UTC and with an offset, and to_timestamp of a string.
        (
            format!(
                "timestamp >= '{}' AND timestamp < '{}'",
                rfc3339(e1, 0),
                rfc3339(e2, 120)
            ),
            vec![(e1, e2)],
        ),
        (
            format!(
                "timestamp BETWEEN to_timestamp('{}') AND to_timestamp('{}')",
                rfc3339(e1, -300),
                rfc3339(e2, 0)
            ),
            vec![(e1, e2 + 1)],
        ),
        // Interval arithmetic on a literal.
        (
            format!(
                "timestamp >= {} - interval '1 second' AND timestamp < {} + interval '500 milliseconds'",
                ms(e1),
                ms(e1)
            ),
            vec![(e1 - 1000, e1 + 500)],
        ),
    ];

    for (predicate, windows) in cases {
        let q = format!(
            "SELECT log_id, sequence_number, timestamp FROM rapid7_logs \
             WHERE log_id IN ('{fw}', '{auth}') AND ({predicate})"
        );
        let batches = sql(&ctx, &q)
            .await
            .unwrap_or_else(|e| panic!("{predicate}: {e}"));
        let mut got: BTreeSet<Key> = BTreeSet::new();
        let mut times = Vec::new();
        for b in &batches {
            let ids = b.column(0).as_string::<i32>();
            let seqs = b.column(1).as_primitive::<UInt64Type>();
            let ts = b.column(2).as_primitive::<TimestampMillisecondType>();
            for i in 0..b.num_rows() {
                got.insert((ids.value(i).to_string(), seqs.value(i)));
                times.push(ts.value(i));
            }
        }
        let mut expected: BTreeSet<Key> = BTreeSet::new();
        let mut expected_times = Vec::new();
        for (from, to) in &windows {
            for log in [&fw, &auth] {
                for (t, s, _, _) in support::truth(&server, log, *from, *to) {
                    expected.insert((log.clone(), s));
                    expected_times.push(t);
                }
            }
        }
        assert!(!expected.is_empty(), "{predicate}: a case with events");
        assert_eq!(
            times.len(),
            expected.len(),
            "{predicate}: count (no duplicates)"
        );
        assert_eq!(got, expected, "{predicate}: the events");
        assert_eq!(
            times.iter().min(),
            expected_times.iter().min(),
            "{predicate}: min"
        );
        assert_eq!(
            times.iter().max(),
            expected_times.iter().max(),
            "{predicate}: max"
        );

        // The aggregates agree too.
        let agg = sql(
            &ctx,
            &format!(
                "SELECT count(*), min(timestamp), max(timestamp) FROM rapid7_logs \
                 WHERE log_id IN ('{fw}', '{auth}') AND ({predicate})"
            ),
        )
        .await
        .unwrap();
        let b = &agg[0];
        assert_eq!(
            b.column(0).as_primitive::<Int64Type>().value(0) as usize,
            expected.len()
        );
        let min = b.column(1).as_primitive::<TimestampMillisecondType>();
        assert!(min.is_valid(0));
        assert_eq!(
            Some(&min.value(0)),
            expected_times.iter().min(),
            "{predicate}"
        );
    }
}

#[tokio::test]
async fn multi_gap_windows_fetch_each_gap_once() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let proxy = support::log_id(&server, "Web Proxy");
    const MIN: i64 = 60_000;
    let count = |f: i64, t: i64| {
        format!(
            "SELECT count(*) FROM rapid7.\"Web Proxy\" WHERE timestamp >= to_timestamp_millis({f}) \
             AND timestamp < to_timestamp_millis({t})"
        )
    };
    // Cache two islands, then ask for a window around both: three gaps.
    sql(&ctx, &count(T0 + 2 * MIN, T0 + 3 * MIN)).await.unwrap();
    sql(&ctx, &count(T0 + 5 * MIN, T0 + 6 * MIN)).await.unwrap();
    server.clear_requests();
    let q = format!(
        "{} UNION ALL {}",
        count(T0, T0 + 8 * MIN),
        count(T0, T0 + 8 * MIN)
    );
    let batches = sql(&ctx, &q).await.unwrap();
    let expected = server.dataset().count(&proxy, T0, T0 + 8 * MIN) as i64;
    for b in &batches {
        for i in 0..b.num_rows() {
            assert_eq!(b.column(0).as_primitive::<Int64Type>().value(i), expected);
        }
    }
    let mut subs = super::submitted(&server);
    subs.sort();
    assert_eq!(
        subs,
        vec![
            (T0, T0 + 2 * MIN),
            (T0 + 3 * MIN, T0 + 5 * MIN),
            (T0 + 6 * MIN, T0 + 8 * MIN)
        ],
        "each gap once, even with the window read twice"
    );
}
