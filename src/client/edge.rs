//! Whether the endpoint returns events stamped exactly a query's `to`, and
//! the `to` an event query asks for because of it.
//!
//! Rapid7 does not document whether `to` is inclusive. Every event query
//! drops the events stamped at or after its window's exclusive end, so
//! asking `to` = the end is exact under both readings; but where `to` is
//! inclusive, the events stamped exactly `to` are paged for nothing (a burst
//! of 700 at a window's end: two pages of 500 read and dropped). Once `to`
//! is known inclusive, a query of `[from, to)` asks `to − 1` instead, which
//! an inclusive `to` answers with exactly `[from, to)`.
//!
//! Asking `to − 1` of an endpoint whose `to` is exclusive would miss the
//! events of `to − 1`, so only an observation makes `to` known inclusive:
//! - a page of a query asked with `to = t` that holds an event stamped
//!   exactly `t`, and none later: no exclusive `to` can return it, whatever
//!   arrives, retries or races (events arrive, they never move). A page is
//!   never taken to prove `to` exclusive: the absence of events at `t` says
//!   nothing unless `t` is known to hold some. A read that sees an inclusive
//!   `to` where the doctor saw an exclusive one learns nothing (an endpoint
//!   seen both ways keeps being asked `to`);
//! - `rapid7-sql doctor`'s probe (a query ending on a millisecond its sample
//!   holds, whose events came back, or did not), told to the client by the
//!   doctor and, in later sessions, by the cache's endpoint facts, which
//!   hold only such observations.
//!
//! The convention is taken to be the endpoint's, the same for every
//! millisecond and every log (the doctor's probe rests on the same). Known
//! exclusive or unknown, queries ask `to` as before. A one-millisecond window
//! asks `to` whatever is known: `to − 1` would equal `from`, a query Rapid7
//! may refuse. Whatever is asked, the events at or after the window's end
//! are still dropped, so a fact can never add an event.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use url::Url;

const UNKNOWN: u8 = 0;
const INCLUSIVE: u8 = 1;
const EXCLUSIVE: u8 = 2;

/// What a client knows of its endpoint's `to` (shared by its clones; the
/// client's `learn_to_inclusive`, `recall_to_inclusive` and
/// `take_to_inclusive_observed` in `rest.rs`).
#[derive(Debug, Default)]
pub(super) struct ToEdge {
    known: AtomicU8,
    /// A read saw an event stamped exactly its `to` since
    /// [`ToEdge::take_observed`] last said so.
    observed: AtomicBool,
}

impl ToEdge {
    fn known(&self) -> Option<bool> {
        match self.known.load(Ordering::Relaxed) {
            INCLUSIVE => Some(true),
            EXCLUSIVE => Some(false),
            _ => None,
        }
    }

    /// Set what was observed, replacing what was known.
    pub(super) fn learn(&self, inclusive: bool) {
        let v = if inclusive { INCLUSIVE } else { EXCLUSIVE };
        self.known.store(v, Ordering::Relaxed);
    }

    /// Set an earlier observation, unless something is known already.
    pub(super) fn recall(&self, inclusive: bool) {
        let v = if inclusive { INCLUSIVE } else { EXCLUSIVE };
        let _ = self
            .known
            .compare_exchange(UNKNOWN, v, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Whether a read observed an inclusive `to` since the last call.
    pub(super) fn take_observed(&self) -> bool {
        self.observed.swap(false, Ordering::Relaxed)
    }

    /// The `to` to ask for the window `[from, to)`: `to − 1` when `to` is
    /// known inclusive and the window is longer than a millisecond, `to`
    /// otherwise (see the module docs).
    pub(super) fn asked_to(&self, from: i64, to: i64) -> i64 {
        if self.known() == Some(true) && to.saturating_sub(1) > from {
            to - 1
        } else {
            to
        }
    }

    /// A finished page of a query asked as `url`, whose newest event is
    /// stamped `newest`: an event stamped exactly the `to` asked, and none
    /// later, shows `to` inclusive (the only thing a page can show).
    pub(super) fn page_seen(&self, url: &Url, newest: Option<i64>, log_id: &str) {
        let asked = url
            .query_pairs()
            .find(|(k, _)| k == "to")
            .and_then(|(_, v)| v.trim().parse::<i64>().ok());
        let (Some(asked), Some(newest)) = (asked, newest) else {
            return;
        };
        if asked != newest {
            return;
        }
        match self
            .known
            .compare_exchange(UNKNOWN, INCLUSIVE, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => {}
            Err(EXCLUSIVE) => {
                // Seen exclusive before (by the doctor): the endpoint is not
                // consistent, so `to` is asked as it is, exact either way.
                tracing::debug!(
                    log_id,
                    to = %crate::time::fmt_ms(asked),
                    detail = "`to` was seen exclusive before: it is still asked as it is",
                    "rapid7_to_inclusive_observed"
                );
                return;
            }
            Err(_) => return,
        }
        self.observed.store(true, Ordering::Relaxed);
        tracing::info!(
            log_id,
            to = %crate::time::fmt_ms(asked),
            detail = "a page asked with this `to` returned an event stamped exactly `to`: \
                      later queries ask `to - 1`",
            "rapid7_to_inclusive_observed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(to: &str) -> Url {
        Url::parse(&format!("https://h/query/logs/x?from=1&to={to}&per_page=5")).unwrap()
    }

    #[test]
    fn only_an_event_at_the_asked_to_makes_it_inclusive() {
        let edge = ToEdge::default();
        assert_eq!(edge.asked_to(0, 100), 100);
        // Nothing, older events, later events, no `to`: nothing learnt.
        edge.page_seen(&url("100"), None, "l");
        edge.page_seen(&url("100"), Some(99), "l");
        edge.page_seen(&url("100"), Some(101), "l");
        edge.page_seen(&url("x"), Some(100), "l");
        assert_eq!(edge.known(), None);
        assert!(!edge.observed.load(Ordering::Relaxed));
        edge.page_seen(&url("100"), Some(100), "l");
        assert_eq!(edge.known(), Some(true));
        assert!(edge.observed.swap(false, Ordering::Relaxed));
        // Seen again: nothing new to record.
        edge.page_seen(&url("100"), Some(100), "l");
        assert!(!edge.observed.load(Ordering::Relaxed));
        assert_eq!(edge.asked_to(0, 100), 99);
        // A one-millisecond window asks `to`: `to - 1` would be `from`.
        assert_eq!(edge.asked_to(99, 100), 100);
        assert_eq!(edge.asked_to(i64::MIN, i64::MIN + 1), i64::MIN + 1);
    }

    #[test]
    fn a_read_never_overrides_an_exclusive_to_seen_before() {
        let edge = ToEdge::default();
        edge.known.store(EXCLUSIVE, Ordering::Relaxed);
        assert_eq!(edge.asked_to(0, 100), 100);
        // Seen both ways: not consistent, so `to` stays as it is.
        edge.page_seen(&url("100"), Some(100), "l");
        assert_eq!(edge.known(), Some(false));
        assert!(!edge.observed.load(Ordering::Relaxed));
        assert_eq!(edge.asked_to(0, 100), 100);
    }
}
