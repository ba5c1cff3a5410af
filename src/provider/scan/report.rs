//! `cache_hit` / `cache_partial` / `cache_miss`: how one statement's read of
//! one log was served, once its fetches are done (docs/events.md).

use super::plan::LogScan;
use crate::time::{TimeRange, fmt_ms};

/// Ranges in their `[from, to)` form, space-separated.
fn join(ranges: impl IntoIterator<Item = TimeRange>) -> String {
    ranges
        .into_iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Log how `scan` was served: `rows_fetched` events fetched (into the cache,
/// or read newest first) for it. `rows_reused` counts the rows of the cached
/// parts read, exact when every segment lies wholly in the request
/// (`rows_reused_exact`), else an upper bound. Ranges read live (recent, or
/// with the cache bypassed) are counted by the statement's summary, not here.
pub(crate) fn log_coverage(scan: &LogScan, rows_fetched: u64) {
    let rows_reused: u64 = scan
        .segments
        .iter()
        .map(|s| {
            if s.is_whole() {
                s.segment.row_count()
            } else {
                s.parts().iter().map(|p| p.rows).sum()
            }
        })
        .sum();
    let rows_reused_exact = scan.segments.iter().all(|s| s.is_whole());
    let requested = join(scan.settled.iter().chain(&scan.live).copied());
    // The plans' fields: the request's hull, what the cache served and what
    // it lacked (fetched pieces and recent ranges read from the API).
    let hull = scan
        .settled
        .iter()
        .chain(&scan.live)
        .copied()
        .reduce(|a, b| TimeRange::new(a.start().min(b.start()), a.end().max(b.end())).unwrap_or(a));
    let requested_range = hull.map(|r| r.to_string());
    let requested_from = hull.map(|r| fmt_ms(r.start()));
    let requested_to = hull.map(|r| fmt_ms(r.end()));
    let cached_ranges = join(scan.segments.iter().map(|s| s.responsible));
    let mut missing: Vec<TimeRange> = scan.gaps.iter().chain(&scan.live).copied().collect();
    missing.sort_by_key(|r| r.start());
    let missing_ranges = join(missing);
    let fetched_anything = !scan.gaps.is_empty() || !scan.live.is_empty();
    // Three calls, not one with a computed name: an event's name is its
    // message, a literal the catalogue test reads.
    match (fetched_anything, scan.segments.is_empty()) {
        (false, _) => tracing::info!(
            log_id = %scan.log.id,
            log_name = scan.log.name.as_deref(),
            filter = scan.filter.as_deref(),
            requested,
            requested_range,
            requested_from,
            requested_to,
            cached_ranges,
            missing_ranges,
            segments = scan.segments.len(),
            rows_reused,
            rows_reused_exact,
            pieces_fetched = scan.gaps.len(),
            rows_fetched,
            live_ranges = scan.live.len(),
            "cache_hit"
        ),
        (true, true) => tracing::info!(
            log_id = %scan.log.id,
            log_name = scan.log.name.as_deref(),
            filter = scan.filter.as_deref(),
            requested,
            requested_range,
            requested_from,
            requested_to,
            cached_ranges,
            missing_ranges,
            segments = scan.segments.len(),
            rows_reused,
            rows_reused_exact,
            pieces_fetched = scan.gaps.len(),
            rows_fetched,
            live_ranges = scan.live.len(),
            "cache_miss"
        ),
        (true, false) => tracing::info!(
            log_id = %scan.log.id,
            log_name = scan.log.name.as_deref(),
            filter = scan.filter.as_deref(),
            requested,
            requested_range,
            requested_from,
            requested_to,
            cached_ranges,
            missing_ranges,
            segments = scan.segments.len(),
            rows_reused,
            rows_reused_exact,
            pieces_fetched = scan.gaps.len(),
            rows_fetched,
            live_ranges = scan.live.len(),
            "cache_partial"
        ),
    }
}
