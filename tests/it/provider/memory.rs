//! Fetch memory has one bound for the whole source (docs/runbook.md,
//! "Memory"): fetches into segments share `fetch_concurrency` slots across
//! statements, so concurrent statements never hold more writer buffers.

use std::time::Duration;

use datafusion_rapid7::mock::{Faults, RequestKind};
use tempfile::TempDir;

use super::{MIN, local_cache, session_with, single_i64, sql, window};
use crate::support::{self, T0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_statements_share_the_fetch_slots() {
    let server = support::server().await;
    // Slow answers, so that two fetches running at once would interleave.
    server.set_faults(Faults {
        latency: Duration::from_millis(2),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    // count(*) must page here: no count pushdown.
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| {
        c.with_fetch_concurrency(1).with_pushdown_aggregates(false)
    })
    .await;
    let logs = ["Firewall", "Web Proxy"];
    let count = |log: &str| {
        format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = '{log}' AND {}",
            window(T0, T0 + 2 * MIN)
        )
    };
    let (qa, qb) = (count(logs[0]), count(logs[1]));
    let (a, b) = tokio::join!(sql(&ctx, &qa), sql(&ctx, &qb));
    for (log, got) in logs.iter().zip([a, b]) {
        let id = support::log_id(&server, log);
        assert_eq!(
            single_i64(&got.unwrap()) as u64,
            server.dataset().count(&id, T0, T0 + 2 * MIN)
        );
    }
    // With one slot, one log's requests all come before the other's.
    let order: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| matches!(r.kind, RequestKind::Query | RequestKind::Poll))
        .filter_map(|r| r.log_id)
        .collect();
    let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(switches, 1, "one fetch at a time: {order:?}");
}

/// Event pages asked of the server (not estimates or statistics).
fn event_requests(server: &datafusion_rapid7::mock::MockServer) -> usize {
    server
        .requests()
        .into_iter()
        .filter(|r| matches!(r.kind, RequestKind::Query | RequestKind::Poll))
        .filter(|r| !r.statement.contains("calculate"))
        .count()
}

/// Two statements over the same uncached window at once cause one fetch
/// (`fetch/fetcher.rs`: single flight per log, filter and range): the
/// server is asked for the window's pages as often as by one statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_readers_of_one_uncached_window_cause_one_fetch() {
    let server = support::server().await;
    // Slow answers, so that the two statements' fetches overlap.
    server.set_faults(Faults {
        latency: Duration::from_millis(2),
        ..Faults::default()
    });
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(T0, T0 + 2 * MIN)
    );
    let want = server
        .dataset()
        .count(&support::log_id(&server, "Firewall"), T0, T0 + 2 * MIN);
    let session = |dir| {
        session_with(&server, local_cache(dir), |c| {
            c.with_pushdown_aggregates(false)
        })
    };

    let alone = TempDir::new().unwrap();
    let (ctx, _) = session(&alone).await;
    let before = event_requests(&server);
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()) as u64, want);
    let one_fetch = event_requests(&server) - before;
    assert!(one_fetch > 0);

    let together = TempDir::new().unwrap();
    let (ctx, _) = session(&together).await;
    let before = event_requests(&server);
    let (a, b) = tokio::join!(sql(&ctx, &q), sql(&ctx, &q));
    for got in [a, b] {
        assert_eq!(single_i64(&got.unwrap()) as u64, want);
    }
    assert_eq!(event_requests(&server) - before, one_fetch);
}
