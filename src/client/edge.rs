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
//! events of `to − 1`, and so would asking it of one that returns only some
//! of the events stamped `to` (a partly inclusive `to` answers `to − 1` with
//! only some of `to − 1`'s). So only `rapid7-sql doctor`'s probe turns
//! `to − 1` on: it reads a millisecond its sample holds whole (a window
//! exact under any reading) and checks that *every* one of its events comes
//! back from a request asked with `to` = that millisecond. All back: `GET`
//! oldest first (the probe's [`ToForm`]) is known inclusive, and only that
//! form asks `to − 1` (nothing says Rapid7 reads `to` the same way in a
//! `POST` or newest first). None or only some back (exclusive, or
//! inconsistent): every form asks `to`. The doctor tells the client, and in
//! later sessions the cache's endpoint facts do.
//!
//! A read's page only ever gives a hint: a page of a request *the client
//! built* (a query's first request, a newest-first step below what was
//! returned, a millisecond read whole), asked with `to = t`, that holds an
//! event of the queried log stamped exactly `t` shows `to` at least partly
//! inclusive in that form, never fully (the endpoint may have left some of
//! `t`'s events out). The hint is recorded (`to_inclusive_reads` in the
//! endpoint facts) and shown by the doctor, and never changes the `to` a
//! query asks. Pages of Rapid7's `Next` links show nothing (what their
//! parameters mean is Rapid7's), nor do events of another log. Where the
//! doctor saw `to` not inclusive, a read's hint is not recorded.
//!
//! The convention is taken to be the endpoint's, the same for every
//! millisecond and every log (the doctor's probe rests on the same). Known
//! exclusive or unknown, queries ask `to` as before. A one-millisecond window
//! asks `to` whatever is known: `to − 1` would equal `from`, a query Rapid7
//! may refuse. Whatever is asked, the events at or after the window's end
//! are still dropped, so a fact can never add an event.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const INCLUSIVE: u8 = 1;
const EXCLUSIVE: u8 = 2;

/// The form of an event query request, each with its own knowledge of `to`
/// (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ToForm {
    /// A `POST /query/logs` with the window in its JSON body (a statement
    /// too long for a URL), not a `GET` with it in the URL.
    pub(crate) post: bool,
    /// Asked `most_recent_first=true`.
    pub(crate) newest_first: bool,
}

impl ToForm {
    /// The form of `rapid7-sql doctor`'s probe.
    pub(crate) const PROBE: ToForm = ToForm {
        post: false,
        newest_first: false,
    };

    /// Every form, in [`ToForm::index`] order.
    pub(crate) const ALL: [ToForm; 4] = [
        ToForm::PROBE,
        ToForm {
            post: false,
            newest_first: true,
        },
        ToForm {
            post: true,
            newest_first: false,
        },
        ToForm {
            post: true,
            newest_first: true,
        },
    ];

    fn index(self) -> usize {
        usize::from(self.post) * 2 + usize::from(self.newest_first)
    }

    /// Its name in the cache's endpoint facts (`GET oldest-first`, …).
    pub(crate) fn name(self) -> &'static str {
        match (self.post, self.newest_first) {
            (false, false) => "GET oldest-first",
            (false, true) => "GET newest-first",
            (true, false) => "POST oldest-first",
            (true, true) => "POST newest-first",
        }
    }

    /// The form named `name` ([`ToForm::name`]); `None` for any other name.
    pub(crate) fn named(name: &str) -> Option<ToForm> {
        ToForm::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// What a client knows of its endpoint's `to`, per [`ToForm`] (shared by its
/// clones; the client's `learn_to_inclusive`, `recall_to_inclusive` and
/// `take_to_inclusive_observed` in `rest.rs`).
#[derive(Debug, Default)]
pub(super) struct ToEdge {
    known: [AtomicU8; 4],
    /// A read saw an event stamped exactly its `to`, in this form, since
    /// [`ToEdge::take_observed`] last said so (a hint, never acted on).
    observed: [AtomicBool; 4],
    /// The hint is known already (seen or recalled): not recorded again.
    hinted: [AtomicBool; 4],
}

impl ToEdge {
    fn known(&self, form: ToForm) -> Option<bool> {
        match self.known[form.index()].load(Ordering::Relaxed) {
            INCLUSIVE => Some(true),
            EXCLUSIVE => Some(false),
            _ => None,
        }
    }

    /// The doctor's probe saw `to` inclusive (`Some(true)`), or not
    /// (`Some(false)`: exclusive, or only some of the events at `to` back),
    /// replacing what was known: see the module docs. Observations of reads
    /// not recorded yet are forgotten where they no longer hold (a `false`
    /// outweighs them all) and for the probe's form (the doctor records its
    /// own).
    pub(super) fn learn(&self, inclusive: bool) {
        for form in ToForm::ALL {
            let (known, observed) = (&self.known[form.index()], &self.observed[form.index()]);
            if !inclusive {
                observed.store(false, Ordering::Relaxed);
                known.store(EXCLUSIVE, Ordering::Relaxed);
            } else if form == ToForm::PROBE {
                observed.store(false, Ordering::Relaxed);
                known.store(INCLUSIVE, Ordering::Relaxed);
            } else {
                // Only the doctor says "not inclusive": the doctor now says
                // otherwise, so this form is unknown again.
                let _ = known.compare_exchange(
                    EXCLUSIVE,
                    UNKNOWN,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Set earlier observations (the cache's): the doctor's (`probe`, as for
    /// [`ToEdge::learn`]) and the hints of reads (`seen`), which change no
    /// `to` asked (see the module docs) and are only not recorded again.
    pub(super) fn recall(&self, probe: Option<bool>, seen: &[ToForm]) {
        seen.iter()
            .for_each(|&f| self.hinted[f.index()].store(true, Ordering::Relaxed));
        match probe {
            Some(false) => self.learn(false),
            Some(true) => {
                let _ = self.known[ToForm::PROBE.index()].compare_exchange(
                    UNKNOWN,
                    INCLUSIVE,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            None => {}
        }
    }

    /// The forms in which a read saw an event at its `to` since the last
    /// call (hints to record), leaving out those the doctor saw not
    /// inclusive since (a hint the doctor contradicted is not one to record).
    pub(super) fn take_observed(&self) -> Vec<ToForm> {
        ToForm::ALL
            .into_iter()
            .filter(|&f| self.observed[f.index()].swap(false, Ordering::Relaxed))
            .filter(|&f| self.known(f) != Some(false))
            .collect()
    }

    /// The `to` to ask for the window `[from, to)` in `form`: `to − 1` when
    /// `to` is known inclusive there and the window is longer than a
    /// millisecond, `to` otherwise (see the module docs).
    pub(super) fn asked_to(&self, form: ToForm, from: i64, to: i64) -> i64 {
        if self.known(form) == Some(true) && to.saturating_sub(1) > from {
            to - 1
        } else {
            to
        }
    }

    /// A finished page of a request the client built in `form`, asked with
    /// `to` = `asked`, whose newest event of the queried log is stamped
    /// `newest`: an event stamped exactly `asked`, and none later, is a hint
    /// that `to` is at least partly inclusive in that form, to record. It
    /// never makes a query ask `to − 1`: only the doctor's probe does (see
    /// the module docs).
    pub(super) fn page_seen(&self, form: ToForm, asked: i64, newest: Option<i64>, log_id: &str) {
        if newest != Some(asked) {
            return;
        }
        let i = form.index();
        if self.known(form) == Some(false) {
            tracing::debug!(
                log_id,
                form = form.name(),
                to = %crate::time::fmt_ms(asked),
                detail = "the doctor saw `to` not inclusive: it is still asked as it is",
                "rapid7_to_inclusive_ignored"
            );
            return;
        }
        if self.hinted[i].swap(true, Ordering::Relaxed) {
            return;
        }
        self.observed[i].store(true, Ordering::Relaxed);
        tracing::info!(
            log_id,
            form = form.name(),
            to = %crate::time::fmt_ms(asked),
            detail = "a page asked with this `to` returned an event stamped exactly `to`: \
                      `to` is at least partly inclusive in this form (a hint; only \
                      `rapid7-sql doctor` can make queries ask `to - 1`)",
            "rapid7_to_inclusive_observed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: ToForm = ToForm::PROBE;
    const GET_NEWEST: ToForm = ToForm::ALL[1];
    const POST: ToForm = ToForm::ALL[2];

    #[test]
    fn forms_are_named_and_indexed_once_each() {
        for (i, form) in ToForm::ALL.into_iter().enumerate() {
            assert_eq!(form.index(), i);
            assert_eq!(ToForm::named(form.name()), Some(form));
        }
        assert_eq!(ToForm::named("GET"), None);
    }

    #[test]
    fn a_read_s_event_at_to_is_a_hint_recorded_once_and_never_asks_to_minus_one() {
        let edge = ToEdge::default();
        assert_eq!(edge.asked_to(GET, 0, 100), 100);
        // Nothing, older events, later events: no hint.
        edge.page_seen(GET, 100, None, "l");
        edge.page_seen(GET, 100, Some(99), "l");
        edge.page_seen(GET, 100, Some(101), "l");
        assert!(edge.take_observed().is_empty());
        // An event at `to`: a hint to record, once; `to` still asked.
        for form in ToForm::ALL {
            edge.page_seen(form, 100, Some(100), "l");
            assert_eq!(edge.known(form), None);
            assert_eq!(edge.asked_to(form, 0, 100), 100, "{form:?}");
        }
        assert_eq!(edge.take_observed(), ToForm::ALL.to_vec());
        edge.page_seen(GET, 100, Some(100), "l");
        assert!(edge.take_observed().is_empty());
        // Only the doctor's yes turns `to - 1` on, for its form only.
        edge.learn(true);
        assert_eq!(edge.asked_to(GET, 0, 100), 99);
        for form in [GET_NEWEST, POST, ToForm::ALL[3]] {
            assert_eq!(edge.asked_to(form, 0, 100), 100, "{form:?}");
        }
        // A one-millisecond window asks `to`: `to - 1` would be `from`.
        assert_eq!(edge.asked_to(GET, 99, 100), 100);
        assert_eq!(edge.asked_to(GET, i64::MIN, i64::MIN + 1), i64::MIN + 1);
    }

    #[test]
    fn a_hint_the_doctor_contradicts_is_never_recorded() {
        let edge = ToEdge::default();
        edge.learn(false);
        for form in ToForm::ALL {
            edge.page_seen(form, 100, Some(100), "l");
            assert_eq!(edge.asked_to(form, 0, 100), 100);
        }
        assert!(edge.take_observed().is_empty());
        // Seen before the doctor's no: not recorded either.
        let edge = ToEdge::default();
        edge.page_seen(GET_NEWEST, 100, Some(100), "l");
        edge.learn(false);
        assert!(edge.take_observed().is_empty());
        // The doctor's yes: the probe's form is its to record; a read's hint
        // of another form still is the read's.
        let edge = ToEdge::default();
        edge.page_seen(GET_NEWEST, 100, Some(100), "l");
        edge.page_seen(GET, 100, Some(100), "l");
        edge.learn(true);
        assert_eq!(edge.take_observed(), vec![GET_NEWEST]);
    }

    #[test]
    fn only_the_recalled_doctor_s_yes_asks_to_minus_one() {
        // Recalled hints change nothing asked, and are not recorded again.
        let edge = ToEdge::default();
        edge.recall(None, &ToForm::ALL);
        assert_eq!(ToForm::ALL.map(|f| edge.known(f)), [None; 4]);
        edge.page_seen(POST, 100, Some(100), "l");
        assert!(edge.take_observed().is_empty());
        let edge = ToEdge::default();
        edge.recall(Some(true), &[GET_NEWEST]);
        assert_eq!(
            ToForm::ALL.map(|f| edge.known(f)),
            [Some(true), None, None, None]
        );
        let edge = ToEdge::default();
        edge.recall(Some(false), &[GET_NEWEST]);
        assert_eq!(ToForm::ALL.map(|f| edge.known(f)), [Some(false); 4]);
    }
}
