//! Half-open millisecond ranges and coverage planning. Pure: no I/O.
//!
//! Every time window inside the crate is `[start, end)` in epoch milliseconds.
//! Coverage planning answers "which parts of a request are already cached?":
//! cached ranges are clamped to the request, merged across overlaps and
//! adjacency, and subtracted from it. [`assign_responsibility`] decides which
//! segment serves each instant when segments overlap, so no row is read twice.

use crate::time::TimeRange;

/// Sort ranges and merge those that overlap or touch (`a.end == b.start`).
///
/// The result is sorted, non-overlapping and non-adjacent.
pub fn merge_ranges(ranges: impl IntoIterator<Item = TimeRange>) -> Vec<TimeRange> {
    let mut sorted: Vec<TimeRange> = ranges.into_iter().collect();
    sorted.sort_unstable();
    let mut out: Vec<TimeRange> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match out.last_mut() {
            Some(last) if r.start() <= last.end() => {
                *last = TimeRange::ordered(last.start(), last.end().max(r.end()));
            }
            _ => out.push(r),
        }
    }
    out
}

/// How much of a request the cache can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageKind {
    /// Everything is cached: no fetch needed.
    Hit,
    /// Some of the request is cached, the rest must be fetched.
    Partial,
    /// Nothing is cached.
    Miss,
}

impl CoverageKind {
    /// `"hit"`, `"partial"` or `"miss"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CoverageKind::Hit => "hit",
            CoverageKind::Partial => "partial",
            CoverageKind::Miss => "miss",
        }
    }
}

/// The result of coverage planning for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// The request.
    pub requested: TimeRange,
    /// Cached parts of the request: clamped to it, sorted, merged.
    pub cached: Vec<TimeRange>,
    /// Parts to fetch: sorted, non-overlapping, non-adjacent, each inside the
    /// request. `cached` and `missing` together tile the request exactly.
    pub missing: Vec<TimeRange>,
    /// Hit, partial or miss.
    pub kind: CoverageKind,
}

/// Plan which parts of `request` are cached (given the cached ranges) and
/// which are missing.
pub fn plan_coverage(request: TimeRange, cached: &[TimeRange]) -> Coverage {
    let cached = merge_ranges(cached.iter().filter_map(|c| c.intersect(&request)));
    let mut missing = Vec::new();
    let mut cursor = request.start();
    for c in &cached {
        if cursor < c.start() {
            missing.push(TimeRange::ordered(cursor, c.start()));
        }
        cursor = c.end();
    }
    if cursor < request.end() {
        missing.push(TimeRange::ordered(cursor, request.end()));
    }
    let kind = if missing.is_empty() {
        CoverageKind::Hit
    } else if cached.is_empty() {
        CoverageKind::Miss
    } else {
        CoverageKind::Partial
    };
    Coverage {
        requested: request,
        cached,
        missing,
        kind,
    }
}

/// For each segment range, the part of `request` it alone is responsible for.
///
/// Returns one entry per input, in input order: `None` when the segment has
/// nothing to contribute (outside the request, or fully shadowed by others).
/// Every instant of `request` covered by at least one segment is assigned to
/// exactly one segment, and each segment gets at most one contiguous range.
///
/// The rule: segments are visited by `(start, longer first)`; each takes what
/// it covers beyond everything visited before it. A merged (compacted) segment
/// therefore shadows the smaller ones it replaces as soon as it exists.
pub fn assign_responsibility(request: TimeRange, segments: &[TimeRange]) -> Vec<Option<TimeRange>> {
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by_key(|&i| (segments[i].start(), std::cmp::Reverse(segments[i].end()), i));
    let mut out = vec![None; segments.len()];
    let mut covered_until = i64::MIN;
    for i in order {
        let seg = segments[i];
        let start = seg.start().max(covered_until);
        if start < seg.end() {
            out[i] = TimeRange::ordered(start, seg.end()).intersect(&request);
        }
        covered_until = covered_until.max(seg.end());
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn r(start: i64, end: i64) -> TimeRange {
        TimeRange::new(start, end).unwrap()
    }

    #[test]
    fn range_predicates() {
        let a = r(10, 20);
        assert!(a.contains(10) && a.contains(19) && !a.contains(20) && !a.contains(9));
        assert!(a.overlaps(&r(19, 30)) && !a.overlaps(&r(20, 30)));
        assert_eq!(a.intersect(&r(15, 30)), Some(r(15, 20)));
        assert_eq!(a.intersect(&r(20, 30)), None);
        assert!(a.contains_range(&r(10, 20)) && !a.contains_range(&r(9, 20)));
        assert_eq!(a.len_ms(), 10);
    }

    #[test]
    fn merge_table() {
        type Ranges = &'static [(i64, i64)];
        let cases: &[(Ranges, Ranges)] = &[
            (&[], &[]),
            (&[(0, 1)], &[(0, 1)]),
            (&[(0, 5), (5, 10)], &[(0, 10)]),
            (&[(0, 5), (6, 10)], &[(0, 5), (6, 10)]),
            (&[(6, 10), (0, 7)], &[(0, 10)]),
            (&[(0, 10), (2, 3)], &[(0, 10)]),
        ];
        for (input, want) in cases {
            let got = merge_ranges(input.iter().map(|&(s, e)| r(s, e)));
            let want: Vec<_> = want.iter().map(|&(s, e)| r(s, e)).collect();
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn coverage_table() {
        // 23:00-02:00 with 00:00-01:00 cached fetches 23-00 and 01-02.
        let c = plan_coverage(r(23, 26), &[r(24, 25)]);
        assert_eq!(c.missing, vec![r(23, 24), r(25, 26)]);
        assert_eq!(c.cached, vec![r(24, 25)]);
        assert_eq!(c.kind, CoverageKind::Partial);

        let c = plan_coverage(r(0, 10), &[]);
        assert_eq!(
            (c.kind, c.missing.clone()),
            (CoverageKind::Miss, vec![r(0, 10)])
        );

        let c = plan_coverage(r(0, 10), &[r(-5, 3), r(3, 7), r(7, 20)]);
        assert_eq!(
            (c.kind, c.cached.clone()),
            (CoverageKind::Hit, vec![r(0, 10)])
        );
        assert!(c.missing.is_empty());

        // Cached ranges outside the request do not count.
        let c = plan_coverage(r(0, 10), &[r(10, 20), r(-5, 0)]);
        assert_eq!(c.kind, CoverageKind::Miss);
    }

    #[test]
    fn responsibility_table() {
        // Two writers raced on overlapping windows: [0,10) and [5,15).
        let got = assign_responsibility(r(0, 20), &[r(5, 15), r(0, 10)]);
        assert_eq!(got, vec![Some(r(10, 15)), Some(r(0, 10))]);
        // A merged segment shadows the ones it replaces.
        let got = assign_responsibility(r(0, 20), &[r(0, 5), r(5, 10), r(0, 10)]);
        assert_eq!(got, vec![None, None, Some(r(0, 10))]);
        // Clamped to the request.
        let got = assign_responsibility(r(3, 4), &[r(0, 10), r(20, 30)]);
        assert_eq!(got, vec![Some(r(3, 4)), None]);
    }

    fn arb_range(lo: i64, hi: i64) -> impl Strategy<Value = TimeRange> {
        (lo..hi, 1i64..40).prop_map(|(s, len)| r(s, s + len))
    }

    fn assert_sorted_disjoint_non_adjacent(v: &[TimeRange]) {
        for w in v.windows(2) {
            assert!(w[0].end() < w[1].start(), "{v:?}");
        }
    }

    proptest! {
        #[test]
        fn cached_and_missing_tile_the_request(
            request in arb_range(-50, 150),
            cached in proptest::collection::vec(arb_range(-100, 200), 0..12),
        ) {
            let c = plan_coverage(request, &cached);
            assert_sorted_disjoint_non_adjacent(&c.missing);
            assert_sorted_disjoint_non_adjacent(&c.cached);
            // Tiling: together, sorted by start, they cover the request with
            // neither gap nor overlap.
            let mut all: Vec<TimeRange> = c.cached.iter().chain(&c.missing).copied().collect();
            all.sort();
            prop_assert_eq!(all.first().map(|x| x.start()), Some(request.start()));
            prop_assert_eq!(all.last().map(|x| x.end()), Some(request.end()));
            for w in all.windows(2) {
                prop_assert_eq!(w[0].end(), w[1].start());
            }
            // Pointwise: an instant is missing iff no cached range holds it.
            for ts in request.start()..request.end() {
                let in_cache = cached.iter().any(|x| x.contains(ts));
                let in_missing = c.missing.iter().any(|x| x.contains(ts));
                prop_assert_ne!(in_cache, in_missing, "ts {}", ts);
            }
            let expected_kind = match (c.cached.is_empty(), c.missing.is_empty()) {
                (_, true) => CoverageKind::Hit,
                (true, false) => CoverageKind::Miss,
                (false, false) => CoverageKind::Partial,
            };
            prop_assert_eq!(c.kind, expected_kind);
        }

        #[test]
        fn start_not_before_end_is_an_error(a in any::<i64>(), b in any::<i64>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(TimeRange::new(hi, lo).is_err());
            prop_assert!(TimeRange::new(lo, lo).is_err());
            prop_assert_eq!(TimeRange::new(lo, hi).is_ok(), lo < hi);
        }

        #[test]
        fn every_covered_instant_has_exactly_one_owner(
            request in arb_range(-50, 150),
            segments in proptest::collection::vec(arb_range(-100, 200), 0..10),
        ) {
            let owners = assign_responsibility(request, &segments);
            for (seg, own) in segments.iter().zip(&owners) {
                if let Some(own) = own {
                    prop_assert!(seg.contains_range(own) && request.contains_range(own));
                }
            }
            for ts in request.start()..request.end() {
                let covered = segments.iter().any(|s| s.contains(ts));
                let n = owners.iter().flatten().filter(|o| o.contains(ts)).count();
                prop_assert_eq!(n, usize::from(covered), "ts {}", ts);
            }
        }
    }
}
