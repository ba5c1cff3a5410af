//! A burst stamped exactly at a window's end: once the endpoint's `to` is
//! observed inclusive (by a read, or by `doctor`), event queries ask `to − 1`
//! and do not page the burst only to drop it; an exclusive endpoint is asked
//! `to` as before. Rows exact against the data function either way.

use datafusion_rapid7::mock::{
    Faults, MessageFormat, MockConfig, MockDataset, MockLog, MockServer, RequestKind,
};
use datafusion_rapid7::ops::doctor::DoctorOptions;
use tempfile::TempDir;

use super::{burst_ms, rows, session, sql, window};
use crate::support::{self, T0};

const LOG: &str = "Bursts";
const BURST: u32 = 1_000;
const EVERY_SECS: u64 = 300;

/// A log of bursts only: `BURST` events in one millisecond every 5 minutes,
/// nothing between, so the pages of a window are known exactly.
async fn bursts_server() -> MockServer {
    MockServer::start(MockConfig {
        dataset: MockDataset::new(vec![MockLog {
            id: "5e1d0c2b-3a49-4f8e-9d7c-6b5a4f3e2d1c".into(),
            name: LOG.into(),
            rate_per_sec: 0.0,
            format: MessageFormat::KeyValue,
            burst_every_secs: Some(EVERY_SECS),
            burst_size: BURST,
            labels: vec![],
        }]),
        ..MockConfig::default()
    })
    .await
    .expect("simulator")
}

/// The millisecond of `log`'s burst in the second starting at `second_ms`
/// (the one that holds the most events).
fn burst_in(server: &MockServer, log: &str, second_ms: i64) -> i64 {
    let id = support::log_id(server, log);
    let mut at = std::collections::BTreeMap::<i64, usize>::new();
    for e in server.dataset().events(&id, second_ms, second_ms + 1000) {
        *at.entry(e.timestamp).or_default() += 1;
    }
    let (ms, n) = at.into_iter().max_by_key(|&(_, n)| n).expect("a burst");
    assert!(n >= 700, "a burst second");
    ms
}

/// The `to` of every event query submitted (first pages, not `Next` links;
/// statistical estimates left out), and how many event query requests were
/// made in all (submits and `Next` pages).
fn event_queries(server: &MockServer) -> (Vec<i64>, usize) {
    let events: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query && !r.is_statistical())
        .collect();
    let submitted = events
        .iter()
        .filter(|r| r.sequence_number.is_none())
        .filter_map(|r| r.to)
        .collect();
    (submitted, events.len())
}

/// The endpoint's `to_inclusive` fact in the cache at `dir`: `(value, by)`.
fn stored_fact(dir: &TempDir) -> Option<(bool, String)> {
    let text = std::fs::read_to_string(dir.path().join("_ENDPOINTS.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let endpoints = json["endpoints"].as_object().unwrap();
    assert_eq!(endpoints.len(), 1, "{text}");
    let fact = endpoints.values().next().unwrap().get("to_inclusive")?;
    Some((
        fact["value"].as_bool().unwrap(),
        fact["by"].as_str().unwrap().to_string(),
    ))
}

fn select(log: &str, from: i64, to: i64) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{log}' AND {} ORDER BY timestamp, sequence_number",
        window(from, to)
    )
}

fn newest(log: &str, from: i64, to: i64, n: usize) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{log}' AND {} \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT {n}",
        window(from, to)
    )
}

fn truth(server: &MockServer, log: &str, from: i64, to: i64) -> Vec<(i64, u64, String)> {
    let id = support::log_id(server, log);
    support::truth(server, &id, from, to)
        .into_iter()
        .map(|r| (r.0, r.1, r.2))
        .collect()
}

fn truth_newest(
    server: &MockServer,
    log: &str,
    from: i64,
    to: i64,
    n: usize,
) -> Vec<(i64, u64, String)> {
    let mut all = truth(server, log, from, to);
    all.reverse();
    all.truncate(n);
    all
}

/// Ten minutes from the start of the burst second `k` periods after T0, to
/// the next-but-one burst: two bursts inside, one stamped exactly `to`.
fn ten_minutes(server: &MockServer, k: i64) -> (i64, i64) {
    let start = T0 + k * EVERY_SECS as i64 * 1000;
    (
        start,
        burst_in(server, LOG, start + 2 * EVERY_SECS as i64 * 1000),
    )
}

#[tokio::test]
async fn a_read_that_sees_an_event_at_to_records_it_and_later_reads_skip_the_burst() {
    let server = bursts_server().await;
    let dir = TempDir::new().unwrap();
    let (first, later, newest_w) = (
        ten_minutes(&server, 0),
        ten_minutes(&server, 12),
        ten_minutes(&server, 24),
    );
    // A control over a cache that knows nothing: the windows as read today.
    let control_dir = TempDir::new().unwrap();
    let (control, _) = session(&server, &control_dir).await;
    server.clear_requests();
    let got = rows(&sql(&control, &select(LOG, later.0, later.1)).await.unwrap());
    assert_eq!(got, truth(&server, LOG, later.0, later.1));
    let (asked, today) = event_queries(&server);
    assert_eq!(asked, vec![later.1]);
    // 2,000 events in the window: four pages of 500, then a fifth of the
    // burst stamped `to`, all of it dropped.
    assert_eq!(today, 5);
    let control_newest = TempDir::new().unwrap();
    let (control, _) = session(&server, &control_newest).await;
    server.clear_requests();
    let got = rows(
        &sql(&control, &newest(LOG, newest_w.0, newest_w.1, 10))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_newest(&server, LOG, newest_w.0, newest_w.1, 10));
    let (asked, newest_today) = event_queries(&server);
    assert_eq!(asked[0], newest_w.1);

    // The first read of a cache sees the burst at `to` come back: recorded.
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    let got = rows(&sql(&ctx, &select(LOG, first.0, first.1)).await.unwrap());
    assert_eq!(got, truth(&server, LOG, first.0, first.1));
    assert_eq!(event_queries(&server), (vec![first.1], 5));
    assert_eq!(stored_fact(&dir), Some((true, "event read".to_string())));

    // A later session over the same cache asks `to - 1`: one page fewer,
    // the same rows.
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    let got = rows(&sql(&ctx, &select(LOG, later.0, later.1)).await.unwrap());
    assert_eq!(got, truth(&server, LOG, later.0, later.1));
    assert_eq!(event_queries(&server), (vec![later.1 - 1], today - 1));
    // Newest first: the first page is the window's newest, not the burst.
    server.clear_requests();
    let got = rows(
        &sql(&ctx, &newest(LOG, newest_w.0, newest_w.1, 10))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_newest(&server, LOG, newest_w.0, newest_w.1, 10));
    // Today: a page of the burst at `to` (dropped), then the millisecond
    // before it read whole, asked `[to - 1, to)`: the burst again. Both go.
    let (asked, pages) = event_queries(&server);
    assert_eq!(asked[0], newest_w.1 - 1);
    assert_eq!(pages, newest_today - 2, "{asked:?}");
}

#[tokio::test]
async fn an_exclusive_endpoint_is_asked_to_and_nothing_is_learnt() {
    let server = bursts_server().await;
    server.set_faults(Faults {
        to_exclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    for k in [0, 12] {
        let (from, to) = ten_minutes(&server, k);
        // A new session each time: the second recalls what the first
        // recorded, which must be nothing (absence proves nothing).
        let (ctx, _) = session(&server, &dir).await;
        server.clear_requests();
        let got = rows(&sql(&ctx, &select(LOG, from, to)).await.unwrap());
        assert_eq!(got, truth(&server, LOG, from, to));
        assert_eq!(event_queries(&server), (vec![to], 4));
        let (from, to) = ten_minutes(&server, k + 24);
        server.clear_requests();
        let got = rows(&sql(&ctx, &newest(LOG, from, to, 10)).await.unwrap());
        assert_eq!(got, truth_newest(&server, LOG, from, to, 10));
        let (asked, _) = event_queries(&server);
        assert_eq!(asked[0], to);
    }
    assert_eq!(stored_fact(&dir), None);
}

#[tokio::test]
async fn doctor_s_probe_decides_the_to_reads_ask() {
    for to_exclusive in [false, true] {
        let server = support::server().await;
        server.set_faults(Faults {
            to_exclusive,
            ..Faults::default()
        });
        let dir = TempDir::new().unwrap();
        let (ctx, rapid7) = session(&server, &dir).await;
        rapid7
            .doctor(&DoctorOptions {
                logs: vec!["Firewall".into()],
            })
            .await
            .unwrap();
        assert_eq!(
            stored_fact(&dir),
            Some((!to_exclusive, "doctor".to_string()))
        );
        // This session (told by the doctor), then a later one (told by the
        // cache), each over a window ending on a burst.
        let later = burst_in(&server, "Firewall", T0 + 3_600_000);
        for (ctx, to) in [
            (ctx, burst_ms(&server)),
            (session(&server, &dir).await.0, later),
        ] {
            let from = to - 10 * super::MIN;
            server.clear_requests();
            let got = rows(&sql(&ctx, &select("Firewall", from, to)).await.unwrap());
            assert_eq!(got, truth(&server, "Firewall", from, to));
            // (Other pieces of the window end elsewhere.)
            let (asked, _) = event_queries(&server);
            let (want, not) = if to_exclusive {
                (to, to - 1)
            } else {
                (to - 1, to)
            };
            assert!(asked.contains(&want) && !asked.contains(&not), "{asked:?}");
        }
    }
}
