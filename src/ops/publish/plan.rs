//! What a publish run adds to a table: pure range math, no I/O.
//!
//! The cache's read plan gives each committed, unfiltered segment the range it
//! alone is responsible for ([`crate::cache::assign_responsibility`]); the
//! table's record says which ranges are already published. A run publishes,
//! for each segment, its responsible range minus the published coverage,
//! clipped to the window and to the settled past. Every instant is therefore
//! published at most once over all runs, and exactly once once it is cached.

use crate::cache::{merge_ranges, plan_coverage};
use crate::time::TimeRange;

/// Milliseconds in a UTC day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The pieces of `responsible` (one segment's own range, already clipped to
/// the window) that `published` does not cover, in order.
pub(crate) fn unpublished(responsible: TimeRange, published: &[TimeRange]) -> Vec<TimeRange> {
    plan_coverage(responsible, published).missing
}

/// The coverage after publishing `added` on top of `published`: sorted,
/// merged.
pub(crate) fn extend(published: &[TimeRange], added: &[TimeRange]) -> Vec<TimeRange> {
    merge_ranges(published.iter().chain(added).copied())
}

/// Whether any of `pieces` overlaps `published`.
pub(crate) fn overlaps_any(pieces: &[TimeRange], published: &[TimeRange]) -> bool {
    pieces
        .iter()
        .any(|p| published.iter().any(|c| c.overlaps(p)))
}

/// The window a run may publish: `[from, min(to, settled_until))`, or `None`
/// when that is empty (nothing settled yet).
pub(crate) fn publishable(window: TimeRange, settled_until: i64) -> Option<TimeRange> {
    TimeRange::new(window.start(), window.end().min(settled_until)).ok()
}

/// The UTC day (days since 1970-01-01) of an instant in epoch ms: the
/// table's `date` partition.
pub(crate) fn day_of(ms: i64) -> i32 {
    i32::try_from(ms.div_euclid(DAY_MS)).unwrap_or(if ms < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::cache::assign_responsibility;

    fn r(s: i64, e: i64) -> TimeRange {
        TimeRange::new(s, e).unwrap()
    }

    #[test]
    fn unpublished_table() {
        assert_eq!(unpublished(r(0, 10), &[]), vec![r(0, 10)]);
        assert_eq!(unpublished(r(0, 10), &[r(0, 10)]), vec![]);
        assert_eq!(
            unpublished(r(0, 10), &[r(2, 4), r(6, 7)]),
            vec![r(0, 2), r(4, 6), r(7, 10)]
        );
        assert_eq!(unpublished(r(5, 10), &[r(0, 6), r(9, 20)]), vec![r(6, 9)]);
        assert_eq!(
            extend(&[r(0, 5)], &[r(5, 7), r(9, 10)]),
            vec![r(0, 7), r(9, 10)]
        );
        assert!(overlaps_any(&[r(4, 6)], &[r(0, 5)]));
        assert!(!overlaps_any(&[r(5, 6)], &[r(0, 5)]));
        assert_eq!(publishable(r(0, 10), 7), Some(r(0, 7)));
        assert_eq!(publishable(r(0, 10), 0), None);
        assert_eq!(publishable(r(0, 10), 20), Some(r(0, 10)));
    }

    #[test]
    fn days_are_utc() {
        // 2026-02-10T00:00:00Z is day 20494; a millisecond before is the 9th.
        let t0 = 1_770_681_600_000;
        assert_eq!(day_of(t0), 20_494);
        assert_eq!(day_of(t0 - 1), 20_493);
        assert_eq!(day_of(t0 + DAY_MS - 1), 20_494);
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(0), 0);
    }

    fn arb_range(lo: i64, hi: i64) -> impl Strategy<Value = TimeRange> {
        (lo..hi, 1i64..40).prop_map(|(s, len)| r(s, s + len))
    }

    proptest! {
        /// Runs over changing segment sets (new segments, compactions that
        /// add covering ones), each planned against the coverage the last
        /// one recorded, publish every cached instant exactly once.
        #[test]
        fn successive_runs_publish_each_instant_once(
            rounds in proptest::collection::vec(
                (proptest::collection::vec(arb_range(0, 120), 0..6), arb_range(0, 150)),
                1..5,
            ),
        ) {
            let mut segments: Vec<TimeRange> = Vec::new();
            let mut coverage: Vec<TimeRange> = Vec::new();
            let mut published_at = vec![0u32; 200];
            for (new_segments, window) in rounds {
                segments.extend(new_segments);
                let owners = assign_responsibility(window, &segments);
                let mut added = Vec::new();
                for own in owners.into_iter().flatten() {
                    for piece in unpublished(own, &coverage) {
                        for t in piece.start()..piece.end() {
                            published_at[t as usize] += 1;
                        }
                        added.push(piece);
                    }
                }
                coverage = extend(&coverage, &added);
                for t in 0..200i64 {
                    let cached = segments.iter().any(|s| s.contains(t));
                    let covered = coverage.iter().any(|c| c.contains(t));
                    // Recorded coverage is exactly what was published.
                    prop_assert_eq!(covered, published_at[t as usize] == 1, "t {}", t);
                    prop_assert!(published_at[t as usize] <= 1, "t {} twice", t);
                    // Inside this window, every cached instant is now published.
                    if window.contains(t) && cached {
                        prop_assert!(covered, "t {} cached but not published", t);
                    }
                }
            }
        }
    }
}
