//! Sparse fetch pieces joined by the estimate: a quiet log's month, or a
//! rare filtered value, is a few queries and segments rather than one per
//! hour, and stays exact.

use datafusion_rapid7::mock::{MockServer, RequestKind};
use tempfile::TempDir;

use super::{local_cache, rows, session_with, single_i64, sql, window};
use crate::support::{self, T0};

const DEFENDER: &str = "Windows Defender";
const DAY: i64 = 24 * 3_600_000;

fn event_queries(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Query && !r.is_statistical())
        .count()
}

#[tokio::test]
async fn a_quiet_logs_month_is_a_few_pieces() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    // No budget: the estimate runs only to join pieces.
    let (ctx, rapid7) = session_with(&server, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false).with_max_fetch_events(0)
    })
    .await;
    let (from, to) = (T0, T0 + 30 * DAY);
    let id = support::log_id(&server, DEFENDER);
    let events = support::truth(&server, &id, from, to).len();
    assert!(events > 50_000, "{events} events: the test needs some");
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = '{DEFENDER}' AND {}",
        window(from, to)
    );
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), events as i64);
    let segments = rapid7.cache().list_segments(&id).await.unwrap();
    // Pieces of at most ten pages (5,000 events) by the estimate, whose
    // slices of four hours may count a little more than the piece holds.
    assert!(
        segments.len() <= events / 4_000 + 2,
        "{} segments for {events} events",
        segments.len()
    );
    let pages = events.div_ceil(500);
    let queries = event_queries(&server);
    assert!(
        queries <= pages + segments.len() + 1,
        "{queries} event queries for {pages} pages in {} segments",
        segments.len()
    );
    assert_eq!(server.statistics_requests(), 1, "one estimate");
}

#[tokio::test]
async fn a_rare_filtered_value_over_a_month_is_one_query() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session_with(&server, local_cache(&dir), |c| c).await;
    let (from, to) = (T0, T0 + 30 * DAY);
    let id = support::log_id(&server, DEFENDER);
    // A value about a hundred of the month's 130,000 events hold.
    let needle = "\"bytes\":999";
    let want: Vec<(i64, u64, String)> = support::truth(&server, &id, from, to)
        .into_iter()
        .filter(|r| r.2.contains(needle))
        .map(|r| (r.0, r.1, r.2))
        .collect();
    assert!(
        (20..=500).contains(&want.len()),
        "{} events name {needle}",
        want.len()
    );
    let q = format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{DEFENDER}' AND {} AND message LIKE '%\"bytes\":999%' \
         ORDER BY timestamp, sequence_number",
        window(from, to)
    );
    // What the filter selects is cached: the log is known to send text
    // (as `doctor` records it).
    rapid7
        .record_message_form(&id, datafusion_rapid7::cache::MessageForm::Text)
        .await
        .unwrap();
    server.clear_requests();
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), want);
    let pages = want.len().div_ceil(500);
    assert!(
        event_queries(&server) <= pages + 1,
        "{} event queries for {pages} pages",
        event_queries(&server)
    );
    let segments = rapid7.cache().list_segments(&id).await.unwrap();
    assert!(segments.len() <= 2, "{segments:?}");
    // The same statement again is answered by that segment.
    server.clear_requests();
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), want);
    assert_eq!(event_queries(&server), 0);
}

/// `sync` joins sparse pieces by the same estimate: a quiet log's month is
/// synced in a few queries and segments, every event cached once.
#[tokio::test]
async fn sync_of_a_quiet_logs_month_is_a_few_pieces() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (_ctx, rapid7) = session_with(&server, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false).with_max_fetch_events(0)
    })
    .await;
    let (from, to) = (T0, T0 + 30 * DAY);
    let id = support::log_id(&server, DEFENDER);
    let events = support::truth(&server, &id, from, to).len();
    let report = rapid7
        .sync(&[DEFENDER.to_string()], from, Some(to))
        .await
        .unwrap();
    assert_eq!(report.new_events_processed, events as u64);
    assert_eq!(report.total_events, events as u64);
    assert_eq!(report.estimated_events, Some(events as u64), "{report:?}");
    let segments = rapid7.cache().list_segments(&id).await.unwrap();
    assert_eq!(report.segments_written, segments.len() as u64);
    // 720 hour pieces unjoined; pieces of at most ten pages when joined.
    assert!(
        segments.len() <= events / 4_000 + 2,
        "{} segments for {events} events",
        segments.len()
    );
    let pages = events.div_ceil(500);
    let queries = event_queries(&server);
    assert!(
        queries <= pages + segments.len() + 1,
        "{queries} event queries for {pages} pages in {} segments",
        segments.len()
    );
    assert_eq!(server.statistics_requests(), 1, "one estimate");
}
