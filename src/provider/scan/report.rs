//! `cache_hit` / `cache_partial` / `cache_miss`: how one statement's read of
//! one log was served, once its fetches are done (docs/events.md).

use super::plan::LogScan;

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
    let requested = scan
        .settled
        .iter()
        .chain(&scan.live)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let fetched_anything = !scan.gaps.is_empty() || !scan.live.is_empty();
    // Three calls, not one with a computed name: an event's name is its
    // message, a literal the catalogue test reads.
    match (fetched_anything, scan.segments.is_empty()) {
        (false, _) => tracing::info!(
            log_id = %scan.log.id,
            log_name = scan.log.name.as_deref(),
            filter = scan.filter.as_deref(),
            requested,
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
