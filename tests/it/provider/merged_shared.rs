//! What merged reads share (#34):
//! - one writer-buffer bound: the events of a merged fetch are split into
//!   one writer per log, and the writers together hold at most one writer's
//!   share (`flush_bytes`) between pages, as a single-log fetch does
//!   (measured by `fetch_merged_complete`'s `peak_buffered_bytes`);
//! - one fetch of a (log, filter, range): a statement reading a log alone
//!   while another reads it in a merged group waits for the group's fetch
//!   (or the group for it);
//! - one estimate per group, for `sync` as for scans.

use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::mock::{Faults, RequestKind};
use tempfile::TempDir;

use super::merged::{all_rows, groups, organisation, session, truth};
use super::{sql, window};
use crate::support::{self, T0};

/// Every `peak_buffered_bytes` the merged fetches of `run` reported, and
/// the parts they wrote (`parts_written` of each segment).
async fn merged_fetch(flush_bytes: usize) -> (Vec<usize>, usize) {
    let capture = crate::support::logs::Logs::capture(tracing::Level::INFO);
    let server = organisation(40, 3, Faults::default()).await;
    let dir = TempDir::new().unwrap();
    let cache = SegmentCache::open(
        dir.path().to_str().unwrap(),
        CacheConfig {
            flush_bytes,
            ..CacheConfig::default()
        },
    )
    .unwrap();
    let (ctx, _) = session(&server, cache).await;
    let (from, to) = (T0, T0 + 10 * 60_000);
    let q = format!(
        "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs WHERE {}",
        window(from, to)
    );
    assert_eq!(
        all_rows(&sql(&ctx, &q).await.unwrap()),
        truth(&server, from, to)
    );
    let text = capture.text();
    let field = |line: &str, name: &str| -> Option<usize> {
        let at = line.find(&format!(" {name}="))? + name.len() + 2;
        line[at..].split(' ').next()?.parse().ok()
    };
    let peaks: Vec<usize> = text
        .lines()
        .filter(|l| l.contains("fetch_merged_complete"))
        .filter_map(|l| field(l, "peak_buffered_bytes"))
        .collect();
    let parts = text
        .lines()
        .filter(|l| l.contains("fetch_subrange_complete"))
        .filter_map(|l| field(l, "parts_written"))
        .sum();
    (peaks, parts)
}

#[tokio::test]
async fn the_writers_of_a_merged_fetch_share_one_buffer_bound() {
    // Unbounded in effect: the writers hold what the pages bring.
    let (loose, loose_parts) = merged_fetch(64 << 20).await;
    assert!(!loose.is_empty(), "merged fetches report their peak");
    let most = *loose.iter().max().unwrap();
    let bound = 32 << 10;
    assert!(
        most > 4 * bound,
        "the window holds more than the small bound: {most} bytes"
    );
    // A small bound: between pages the writers together hold at most it,
    // which takes more (smaller) parts.
    let (tight, tight_parts) = merged_fetch(bound).await;
    assert!(!tight.is_empty());
    assert!(
        tight.iter().all(|p| *p <= bound),
        "peaks {tight:?} over the bound {bound}"
    );
    assert!(
        tight_parts > loose_parts,
        "{tight_parts} vs {loose_parts} parts"
    );
}

/// Two statements at once over the same window, one reading every log
/// (merged), one reading a log alone: that log is queried once.
#[tokio::test]
async fn a_log_read_alone_while_its_group_reads_it_is_queried_once() {
    let server = organisation(12, 1, Faults::default()).await;
    // Slow answers: each statement's fetch is in flight while the other
    // plans and starts its own.
    server.set_faults(Faults {
        latency: std::time::Duration::from_millis(40),
        ..Faults::default()
    });
    for alone_first in [false, true] {
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, super::local_cache(&dir)).await;
        let (from, to) = (T0, T0 + 10 * 60_000);
        let busy = support::log_id(&server, "busy-0");
        let all = format!(
            "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs WHERE {}",
            window(from, to)
        );
        let one = format!(
            "SELECT log_id, timestamp, sequence_number, message FROM rapid7_logs \
             WHERE log_name = 'busy-0' AND {}",
            window(from, to)
        );
        server.clear_requests();
        let (a, b) = if alone_first {
            let (b, a) = tokio::join!(sql(&ctx, &one), sql(&ctx, &all));
            (a, b)
        } else {
            tokio::join!(sql(&ctx, &all), sql(&ctx, &one))
        };
        let want = truth(&server, from, to);
        assert_eq!(all_rows(&a.unwrap()), want);
        let mine: Vec<_> = want.iter().filter(|r| r.0 == busy).cloned().collect();
        assert_eq!(all_rows(&b.unwrap()), mine);
        let first_pages: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| {
                r.kind == RequestKind::Query
                    && r.sequence_number.is_none()
                    && !r.is_statistical()
                    && r.logs.contains(&busy)
            })
            .collect();
        assert_eq!(
            first_pages.len(),
            1,
            "alone first: {alone_first}; busy-0 queried by {first_pages:?}"
        );
    }
}

/// `sync` of many logs asks one statistical query per group of logs
/// missing the same pieces, not one per log; its report's estimate holds
/// every event it fetched.
#[tokio::test]
async fn sync_estimates_a_group_by_one_query() {
    let server = organisation(40, 3, Faults::default()).await;
    let logs = server.dataset().logs().len();
    let dir = TempDir::new().unwrap();
    let (_, rapid7) = super::session_with(&server, super::local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false)
            .with_max_fetch_events(100_000_000)
    })
    .await;
    let (from, to) = (T0, T0 + 60 * 60_000);
    server.clear_requests();
    let report = rapid7.sync(&[], from, Some(to)).await.unwrap();
    let stats: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query && r.is_statistical())
        .filter(|r| r.sequence_number.is_none())
        .collect();
    assert!(!stats.is_empty(), "sync estimated");
    assert!(
        stats.len() <= 4 * groups(logs),
        "{} statistical queries for {logs} logs",
        stats.len()
    );
    assert!(stats.iter().any(|r| r.logs.len() > 1), "{stats:?}");
    let events: u64 = server
        .dataset()
        .logs()
        .iter()
        .map(|l| server.dataset().count(&l.id, from, to))
        .sum();
    assert_eq!(report.new_events_processed, events);
    assert!(
        report.estimated_events.is_some_and(|e| e >= events),
        "{report:?}"
    );
}
