//! `queries_spent`: each statement counts the API queries made for it, and
//! only those, while others run at the same time (a fetch two statements
//! share: `statements::two_clients_on_one_uncached_window_cause_one_fetch`).

use datafusion::arrow::array::RecordBatch;
use datafusion_rapid7::flight::ServeLimits;
use datafusion_rapid7::mock::{RecordedRequest, RequestKind};

use super::{MIN, StatementEvents, firewall, serve, slow_server, two_at_once};
use crate::support::{self, T0};

/// The simulator's query requests (submits and `Next` pages, statistical
/// ones included: what the quota counts), in arrival order.
fn queries(requests: Vec<RecordedRequest>) -> Vec<RecordedRequest> {
    requests
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query)
        .collect()
}

/// Whether `r` asked for a range that overlaps `[from, to)` (event pages
/// ask within it; estimates ask whole hours around it).
fn overlaps(r: &RecordedRequest, (from, to): (i64, i64)) -> bool {
    r.from.is_some_and(|f| f < to) && r.to.is_some_and(|t| t > from)
}

#[tokio::test]
async fn two_statements_at_once_each_count_the_queries_of_their_own_window() {
    let (events, _guard) = StatementEvents::capture();
    let server = slow_server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    // Far enough apart that no query (not even an estimate's whole hours)
    // touches both.
    let windows = [(T0, T0 + 30 * MIN), (T0 + 60 * MIN, T0 + 80 * MIN)];
    let sql = windows.map(|(from, to)| firewall(from, to));
    let (_, results) = two_at_once(&served, &server, [&sql[0], &sql[1]]).await;
    let fw = support::log_id(&server, "Firewall");
    let rows: Vec<u64> = results
        .iter()
        .map(|batches| batches.iter().map(RecordBatch::num_rows).sum::<usize>() as u64)
        .collect();
    for (i, w) in windows.iter().enumerate() {
        assert_eq!(
            rows[i] as usize,
            support::truth(&server, &fw, w.0, w.1).len()
        );
    }
    assert_ne!(rows[0], rows[1], "the events tell the statements apart");

    let queries = queries(server.requests());
    let per_window: Vec<usize> = windows
        .iter()
        .map(|w| queries.iter().filter(|r| overlaps(r, *w)).count())
        .collect();
    assert!(per_window.iter().all(|n| *n > 1), "{per_window:?}");
    assert_eq!(
        per_window.iter().sum::<usize>(),
        queries.len(),
        "every query asked for one window alone: {:?}",
        queries
            .iter()
            .filter(|r| windows.iter().all(|w| !overlaps(r, *w)))
            .collect::<Vec<_>>()
    );
    assert!(
        !queries
            .iter()
            .any(|r| windows.iter().all(|w| overlaps(r, *w)))
    );
    // The fetches overlapped: window 1's queries came between window 0's.
    let at = |w: (i64, i64)| -> Vec<usize> {
        (0..queries.len())
            .filter(|i| overlaps(&queries[*i], w))
            .collect()
    };
    let (first, second) = (at(windows[0]), at(windows[1]));
    assert!(
        second
            .iter()
            .any(|i| first.first() < Some(i) && Some(i) < first.last()),
        "the statements ran at the same time"
    );

    let events = events.all();
    assert_eq!(events.len(), 2, "{events:?}");
    for (i, n) in per_window.iter().enumerate() {
        let e = events
            .iter()
            .find(|e| e.rows == rows[i])
            .unwrap_or_else(|| panic!("no event with {} rows: {events:?}", rows[i]));
        assert_eq!(e.outcome, "ok");
        assert_eq!(e.queries_spent, *n as u64, "window {i}: {events:?}");
    }
    assert_eq!(
        events.iter().map(|e| e.queries_spent).sum::<u64>(),
        server.query_requests() as u64
    );
}
