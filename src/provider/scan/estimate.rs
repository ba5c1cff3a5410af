//! What a fetch would cost, asked of Rapid7 before any event page, and the
//! budget that refuses what would burn the key's quota.
//!
//! One `calculate(count) timeslice(N)` per log covers the envelope of its
//! missing ranges, cut into slices of whole fetch pieces (at most
//! [`MAX_SLICES`]); the slices that overlap a missing range are summed. An
//! estimate, never less than what the fetch pages: slices partly cached are
//! counted whole. Where it cannot matter it is skipped: with no limit, or
//! when the missing ranges total less than [`ESTIMATE_MIN_GAP_MS`].

use tracing::debug;

use crate::client::{Client, CountRequest, MAX_SLICES};
pub use crate::cost::FetchEstimate;
pub(crate) use crate::cost::{Cost, QUOTA_PER_SECOND, approx, human_duration};
use crate::error::{BudgetLog, Counted, Error, FetchBudget, Result};
use crate::time::TimeRange;

/// Missing ranges of this length or less in all are not estimated (two
/// minutes: even a busy log holds few pages there).
pub(crate) const ESTIMATE_MIN_GAP_MS: i64 = 120_000;

/// The rate a key's event queries go at: the client's own limit, never more
/// than Rapid7's documented quota.
pub(crate) fn query_rate(client: &Client) -> f64 {
    let own = client.config().rate_limit.query.per_second;
    if own.is_finite() && own > 0.0 {
        own.min(QUOTA_PER_SECOND)
    } else {
        QUOTA_PER_SECOND
    }
}

/// Whether `gaps` are long enough in all to be worth an estimate.
pub(crate) fn worth_estimating(gaps: &[TimeRange]) -> bool {
    let total: u64 = gaps.iter().map(TimeRange::len_ms).sum();
    total > ESTIMATE_MIN_GAP_MS as u64
}

/// The slices of one statistical query over the envelope of `gaps` (sorted),
/// in whole units of `chunk_ms`: `(from, to, slices)`.
pub(crate) fn envelope(gaps: &[TimeRange], chunk_ms: i64) -> Option<(i64, i64, u32)> {
    let (first, last) = (gaps.first()?, gaps.last()?);
    let unit = chunk_ms.max(1);
    let start = first.start().div_euclid(unit).saturating_mul(unit);
    let end = last.end();
    let units = (end - start + unit - 1) / unit;
    let per_slice = (units + i64::from(MAX_SLICES) - 1) / i64::from(MAX_SLICES);
    let slice = unit.saturating_mul(per_slice.max(1));
    let slices = (end - start + slice - 1) / slice;
    Some((start, start + slices * slice, u32::try_from(slices).ok()?))
}

/// An estimate and the slice counts it was summed from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Estimated {
    pub(crate) total: FetchEstimate,
    /// The slices of the statistical query that overlap a gap, with their
    /// event counts: an upper bound of the events of any range they cover.
    pub(crate) slices: Vec<(TimeRange, u64)>,
}

impl Estimated {
    /// At most how many events `range` holds: the counts of every slice
    /// overlapping it, whole. `None` where a slice is missing (the range
    /// reaches outside what was estimated).
    pub(crate) fn bound(&self, range: &TimeRange) -> Option<u64> {
        let mut covered = range.start();
        let mut events = 0u64;
        for (slice, n) in self.slices.iter().filter(|(s, _)| s.overlaps(range)) {
            if slice.start() > covered {
                return None;
            }
            covered = covered.max(slice.end());
            events = events.saturating_add(*n);
        }
        (covered >= range.end()).then_some(events)
    }
}

/// Ask Rapid7 what fetching `gaps` (sorted pieces) of `logs` (one, or
/// several with the same gaps, by one merged statistical query) costs,
/// with the slice counts the answer was summed from. Several logs are read
/// merged (a query per piece for the group, not per log); their slice
/// counts are of the logs together: an upper bound of each log's.
pub(crate) async fn estimate_slices_of(
    client: &Client,
    logs: &[&str],
    filter: Option<&str>,
    gaps: &[TimeRange],
    chunk_ms: i64,
) -> Result<Estimated> {
    let Some((from, to, slices)) = envelope(gaps, chunk_ms) else {
        return Ok(Estimated::default());
    };
    let request = CountRequest {
        log_id: logs.first().copied().unwrap_or_default().to_string(),
        from,
        to,
        filter: filter.map(str::to_string),
        slices,
    };
    let counts = match logs {
        [_] => client.count_events(&request).await?,
        _ => client.count_events_merged(logs, &request).await?,
    };
    let per_page = u64::from(client.config().per_page.max(1));
    let mut out = Estimated {
        total: FetchEstimate {
            events: 0,
            queries: gaps.len() as u64,
        },
        slices: Vec::new(),
    };
    for (i, n) in counts.slices.iter().enumerate() {
        let (a, b) = counts.slice_range(i);
        let slice = TimeRange::ordered(a, b);
        if gaps.iter().any(|g| g.overlaps(&slice)) {
            out.total.events += n;
            out.total.queries += n / per_page;
            out.slices.push((slice, *n));
        }
    }
    Ok(out)
}

/// Pieces are joined while the events they hold stay under this many pages:
/// the query a piece costs beyond its pages is then at most a tenth of it.
const COALESCE_PAGES: u64 = 10;

impl Estimated {
    /// `gaps` (sorted pieces of `log_id`) with sparse neighbours joined by
    /// this estimate ([`coalesce`], up to ten pages of `per_page` events a
    /// piece), and what fetching them so costs: a query less per join.
    pub(crate) fn join_sparse(
        &self,
        log_id: &str,
        gaps: &[TimeRange],
        per_page: u32,
    ) -> (Vec<TimeRange>, FetchEstimate) {
        let pieces = coalesce(gaps, self, COALESCE_PAGES * u64::from(per_page.max(1)));
        let joined = (gaps.len() - pieces.len()) as u64;
        if joined > 0 {
            debug!(log_id, joined, pieces = pieces.len(), "fetch_pieces_joined");
        }
        let cost = FetchEstimate {
            queries: self.total.queries.saturating_sub(joined),
            ..self.total
        };
        (pieces, cost)
    }
}

/// Adjacent pieces of `gaps` (sorted) joined while the events they hold, by
/// `estimated`, stay at most `max_events`: a query per piece is the floor of
/// a fetch's cost, so a rare filtered value over 30 days takes one query
/// rather than 720. Joined pieces are unions of aligned pieces, so their ends
/// stay aligned.
pub(crate) fn coalesce(
    gaps: &[TimeRange],
    estimated: &Estimated,
    max_events: u64,
) -> Vec<TimeRange> {
    let mut out: Vec<TimeRange> = Vec::with_capacity(gaps.len());
    for gap in gaps {
        if let Some(last) = out.last_mut()
            && last.end() == gap.start()
        {
            let joined = TimeRange::ordered(last.start(), gap.end());
            if estimated.bound(&joined).is_some_and(|n| n <= max_events) {
                *last = joined;
                continue;
            }
        }
        out.push(*gap);
    }
    out
}

/// Fail with [`Error::FetchBudget`] when the estimates exceed `limit`
/// (0: no limit). `per_log` pairs a log's label with its estimate.
pub(crate) fn check_budget(
    per_log: &[(String, FetchEstimate)],
    limit: u64,
    rate: f64,
) -> Result<()> {
    let total = per_log
        .iter()
        .fold(FetchEstimate::default(), |acc, (_, e)| acc + *e);
    if limit == 0 || total.events <= limit {
        return Ok(());
    }
    let mut largest: Vec<&(String, FetchEstimate)> = per_log.iter().collect();
    largest.sort_by_key(|(_, e)| std::cmp::Reverse(e.events));
    Err(Error::FetchBudget(FetchBudget {
        cost: Cost {
            estimate: total,
            duration: total.duration_at(rate),
        },
        limit,
        largest: largest
            .iter()
            .take(3)
            .map(|(log, e)| BudgetLog {
                log: log.clone(),
                counted: Counted::Estimated(*e),
            })
            .collect(),
        not_pushed: Vec::new(),
    }))
}

/// The error of a read that went past `limit` while it read (`events` read
/// so far), for a statement whose cost no estimate could bound beforehand.
pub(crate) fn over_limit_while_reading(
    log: String,
    counted: Counted,
    events: u64,
    limit: u64,
    rate: f64,
) -> Error {
    let estimate = FetchEstimate {
        events,
        queries: events / 500 + 1,
    };
    Error::FetchBudget(FetchBudget {
        cost: Cost {
            estimate,
            duration: estimate.duration_at(rate),
        },
        limit,
        largest: vec![BudgetLog { log, counted }],
        not_pushed: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn r(a: i64, b: i64) -> TimeRange {
        TimeRange::new(a, b).unwrap()
    }

    #[test]
    fn envelopes_are_whole_pieces_and_at_most_200_slices() {
        const H: i64 = 3_600_000;
        assert_eq!(envelope(&[r(H, 3 * H)], H), Some((H, 3 * H, 2)));
        // Unaligned ends widen to whole pieces.
        assert_eq!(envelope(&[r(H + 5, 2 * H + 7)], H), Some((H, 3 * H, 2)));
        // 30 days of hours: 720 pieces, 4 to a slice, 180 slices.
        let (from, to, n) = envelope(&[r(0, 720 * H)], H).unwrap();
        assert_eq!((from, to, n), (0, 720 * H, 180));
        assert!((to - from) % i64::from(n) == 0);
        // 201 pieces: two to a slice, the last slice half past the end.
        let (from, to, n) = envelope(&[r(0, H), r(200 * H, 201 * H)], H).unwrap();
        assert_eq!((from, to, n), (0, 202 * H, 101));
        assert_eq!(envelope(&[], H), None);
    }

    #[test]
    fn sparse_pieces_join_up_to_the_bound_and_never_across_holes() {
        const H: i64 = 3_600_000;
        let hours =
            |a: i64, b: i64| -> Vec<TimeRange> { (a..b).map(|h| r(h * H, (h + 1) * H)).collect() };
        // Slices of two hours: 10 events each, but 900 in [6 h, 8 h).
        let estimated = Estimated {
            total: FetchEstimate::default(),
            slices: (0..6)
                .map(|i| (r(2 * i * H, 2 * (i + 1) * H), if i == 3 { 900 } else { 10 }))
                .collect(),
        };
        assert_eq!(estimated.bound(&r(H, 3 * H)), Some(20));
        assert_eq!(estimated.bound(&r(0, 13 * H)), None, "past the slices");
        let mut gaps = hours(0, 12);
        gaps.remove(2);
        let got = coalesce(&gaps, &estimated, 100);
        assert_eq!(
            got,
            vec![
                r(0, 2 * H),
                r(3 * H, 6 * H),
                r(6 * H, 7 * H),
                r(7 * H, 8 * H),
                r(8 * H, 12 * H)
            ]
        );
        // A bound below any slice joins nothing.
        assert_eq!(coalesce(&gaps, &estimated, 5), gaps);
        assert_eq!(coalesce(&[], &estimated, 100), vec![]);
    }

    #[test]
    fn only_a_few_minutes_are_not_worth_it() {
        assert!(!worth_estimating(&[r(0, 60_000), r(100_000, 160_000)]));
        assert!(worth_estimating(&[r(0, 60_000), r(100_000, 160_001)]));
    }

    #[test]
    fn costs_read_like_the_issue() {
        let e = FetchEstimate {
            events: 8_640_000,
            queries: 17_280,
        };
        let cost = Cost {
            estimate: e,
            duration: e.duration_at(QUOTA_PER_SECOND),
        };
        assert_eq!(
            cost.to_string(),
            "≈8.6M events (≈17,300 queries, ≈2.9 h at this key's quota)"
        );
        assert_eq!(approx(950), "950");
        assert_eq!(approx(250_400), "250k");
        assert_eq!(human_duration(Duration::from_secs(1_200)), "20 min");
    }

    #[test]
    fn the_budget_refuses_only_what_is_over_it() {
        let per_log = vec![
            (
                "Firewall".to_string(),
                FetchEstimate {
                    events: 900_000,
                    queries: 1_801,
                },
            ),
            (
                "Auth".to_string(),
                FetchEstimate {
                    events: 200_000,
                    queries: 401,
                },
            ),
        ];
        assert!(check_budget(&per_log, 0, 1.0).is_ok());
        assert!(check_budget(&per_log, 1_100_000, 1.0).is_ok());
        let e = check_budget(&per_log, 1_000_000, QUOTA_PER_SECOND).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("≈1.1M events"), "{text}");
        assert!(text.contains("RAPID7_MAX_FETCH_EVENTS"), "{text}");
        assert!(text.contains("Firewall ≈900k events"), "{text}");
        let Error::FetchBudget(budget) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(budget.cost.estimate.events, 1_100_000);
        assert_eq!(budget.limit, 1_000_000);
    }
}
