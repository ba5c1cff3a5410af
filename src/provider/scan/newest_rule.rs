//! The pure rules of a newest-first read: when it may stop ([`Stop`]), and
//! whether pages asked newest first really came newest first
//! ([`PageOrder`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Rapid7's own InsightIDR plugin says `most_recent_first` needs `from` on
/// or after 2022-11-24 (an indexing change): older ranges are read oldest
/// first. 2022-11-24T00:00:00Z in epoch ms.
pub(crate) const NEWEST_FIRST_SINCE_MS: i64 = 1_669_248_000_000;

/// When a newest-first read may stop: once `want` events the statement
/// keeps lie in the part of the window read completely, so that the
/// newest `want` kept events (and every event of the millisecond of the
/// `want`th, whatever order Rapid7 returns within a millisecond) are in
/// hand. Kept events may come in any order; "read completely" grows
/// downwards as pages (newest first) or whole ranges are read.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    want: usize,
    /// The timestamps of the newest `want` kept events seen.
    newest: BinaryHeap<Reverse<i64>>,
    /// Every event at or after this instant has been read.
    complete_from: i64,
}

impl Stop {
    pub(crate) fn new(want: usize) -> Self {
        Stop {
            want,
            newest: BinaryHeap::with_capacity(want.min(1 << 16)),
            complete_from: i64::MAX,
        }
    }

    /// A kept event.
    pub(crate) fn kept(&mut self, ts: i64) {
        if self.want == 0 {
            return;
        }
        if self.newest.len() < self.want {
            self.newest.push(Reverse(ts));
        } else if self.newest.peek().is_some_and(|Reverse(min)| ts > *min) {
            self.newest.pop();
            self.newest.push(Reverse(ts));
        }
    }

    /// One event of a page read newest first: every event newer than its
    /// millisecond is in hand.
    pub(crate) fn event(&mut self, ts: i64, kept: bool) {
        if kept {
            self.kept(ts);
        }
        self.covered_from(ts.saturating_add(1));
    }

    /// Every event at or after `from` has been read.
    pub(crate) fn covered_from(&mut self, from: i64) {
        self.complete_from = self.complete_from.min(from);
    }

    /// The timestamp of the `want`th newest kept event, once there is one:
    /// no older event can be among the rows the statement needs.
    pub(crate) fn boundary(&self) -> Option<i64> {
        (self.newest.len() == self.want && self.want > 0)
            .then(|| self.newest.peek().map(|Reverse(t)| *t))
            .flatten()
    }

    /// Whether everything the statement can need is in hand.
    pub(crate) fn done(&self) -> bool {
        self.want == 0 || self.boundary().is_some_and(|b| self.complete_from <= b)
    }

    /// Every event at or after this instant has been read.
    pub(crate) fn complete_from(&self) -> Option<i64> {
        (self.complete_from != i64::MAX).then_some(self.complete_from)
    }
}

/// Checks that pages asked newest first come newest first: within a page,
/// and against the oldest event of the page before (or the millisecond
/// after it: the next page's `to`, which may be inclusive). Only
/// milliseconds are compared: Rapid7 documents no order within a
/// millisecond.
///
/// Pages of one millisecond each show no order at all: a server that
/// ignores `most_recent_first` and starts (oldest first) on a millisecond
/// holding a page or more of events passes every check, and the read would
/// end on the window's oldest millisecond having missed the rest. So the
/// order counts as shown ([`PageOrder::shown`]) only once a page's events
/// span two milliseconds (newest first, as checked), or a page lies wholly
/// before the page before it: what no server reading oldest first can send
/// (it answers each ask below the oldest millisecond so far with the
/// window's oldest events, which it sent first).
#[derive(Debug, Default, Clone)]
pub(crate) struct PageOrder {
    pages: u64,
    /// The oldest timestamp of the pages so far.
    oldest: Option<i64>,
    /// A page showed newest-first order (see above).
    shown: bool,
}

impl PageOrder {
    /// One page: the timestamps of the events it kept, in the order they
    /// came, and the span of every event it held (`min`, `max`: duplicates
    /// and events outside the window included). `Err` says what was out of
    /// order.
    pub(crate) fn page(
        &mut self,
        kept: &[i64],
        min: Option<i64>,
        max: Option<i64>,
    ) -> Result<(), String> {
        self.pages += 1;
        if let Some(w) = kept.windows(2).find(|w| w[1] > w[0]) {
            return Err(format!(
                "page {} goes forward in time ({} then {})",
                self.pages,
                crate::time::fmt_ms(w[0]),
                crate::time::fmt_ms(w[1])
            ));
        }
        // Each page is asked with `to` = the oldest millisecond so far + 1
        // (`client/query.rs`): an inclusive `to` sends that millisecond
        // again.
        let max = max.or_else(|| kept.first().copied());
        if let (Some(prev), Some(max)) = (self.oldest, max)
            && max > prev.saturating_add(1)
        {
            return Err(format!(
                "page {} holds an event at {}, after the oldest of the page before ({})",
                self.pages,
                crate::time::fmt_ms(max),
                crate::time::fmt_ms(prev)
            ));
        }
        let (first, last) = (kept.first(), kept.last());
        self.shown |= first != last
            || matches!((self.oldest, first), (Some(prev), Some(newest)) if *newest < prev);
        let min = min.or_else(|| kept.last().copied());
        self.oldest = match (self.oldest, min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(())
    }

    /// Whether what was read can be trusted to be in newest-first order:
    /// one page (it held the whole range, in whatever order), or a page
    /// that showed the order.
    pub(crate) fn shown(&self) -> bool {
        self.pages <= 1 || self.shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_stops_past_the_millisecond_of_the_nth_kept_event() {
        let mut s = Stop::new(3);
        for (ts, kept) in [(100, true), (99, false), (99, true), (97, true)] {
            s.event(ts, kept);
        }
        // The 3rd kept event is at 97: 97 may hold more (a burst).
        assert!(!s.done());
        s.event(97, false);
        s.event(97, true);
        assert!(!s.done());
        s.event(96, false);
        assert!(s.done());
        assert_eq!(s.complete_from(), Some(97));
        // Nothing asked: done at once.
        assert!(Stop::new(0).done());
        // Never enough: never done.
        let mut few = Stop::new(5);
        for ts in (0..100).rev() {
            few.event(ts, ts % 50 == 0);
        }
        assert!(!few.done());
        assert_eq!(few.complete_from(), Some(1));
    }

    #[test]
    fn whole_ranges_count_in_any_order() {
        let mut s = Stop::new(2);
        // A cached part read whole, oldest first, covering [50, ∞).
        for ts in [60, 70, 80] {
            s.kept(ts);
        }
        assert!(!s.done(), "nothing is complete yet");
        s.covered_from(75);
        // 80 and 70 are the newest two; 70 lies below what is complete.
        assert_eq!(s.boundary(), Some(70));
        assert!(!s.done());
        s.covered_from(50);
        assert!(s.done());
    }

    #[test]
    fn pages_must_go_back_in_time() {
        let mut o = PageOrder::default();
        assert!(o.page(&[10, 9, 9, 5], Some(5), Some(11)).is_ok());
        // The next page may repeat the oldest millisecond, and the one
        // after it (asked with `to` = oldest + 1, inclusive).
        assert!(o.page(&[5, 3], Some(3), Some(6)).is_ok());
        let e = o.page(&[5, 2], Some(2), Some(5)).unwrap_err();
        assert!(e.contains("page 3 holds an event"), "{e}");
        let mut o = PageOrder::default();
        let e = o.page(&[1, 2, 3], Some(1), Some(3)).unwrap_err();
        assert!(e.contains("page 1 goes forward"), "{e}");
        // Events outside the window (repeats) count too.
        let mut o = PageOrder::default();
        assert!(o.page(&[10, 8], Some(8), Some(10)).is_ok());
        assert!(o.page(&[], Some(12), Some(15)).is_err());
    }

    #[test]
    fn pages_of_one_millisecond_show_no_order() {
        // One page held the whole range: any order will do.
        let mut o = PageOrder::default();
        assert!(o.page(&[7, 7, 7], Some(7), Some(7)).is_ok());
        assert!(o.shown());
        // A server reading oldest first from a millisecond holding pages of
        // events: every page passes, nothing shows the order.
        assert!(o.page(&[7, 7], Some(7), Some(7)).is_ok());
        assert!(o.page(&[7], Some(7), Some(8)).is_ok());
        assert!(!o.shown());
        // A page spanning two milliseconds, newest first, shows it.
        let mut two = o.clone();
        assert!(two.page(&[7, 6], Some(6), Some(7)).is_ok());
        assert!(two.shown());
        // So does a page wholly before the one before.
        assert!(o.page(&[5, 5], Some(5), Some(5)).is_ok());
        assert!(o.shown());
    }
}
