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
//! events of `to − 1`, so only an observation makes `to` known inclusive,
//! and only for the [`ToForm`] it was made in (a `GET` or a `POST` with the
//! window in its body; oldest or newest first): nothing says Rapid7 reads
//! `to` the same way in all of them. The observations:
//! - a page of a request *the client built* (a query's first request, a
//!   newest-first step below what was returned, a millisecond read whole),
//!   asked with `to = t`, that holds an event of the queried log stamped
//!   exactly `t`, and none of it later: no exclusive `to` can return it,
//!   whatever arrives, retries or races (events arrive, they never move).
//!   Pages of Rapid7's `Next` links show nothing: what their parameters mean
//!   is Rapid7's, not the client's. Events of another log (which the page
//!   rejects) show nothing. A page is never taken to prove `to` exclusive:
//!   the absence of events at `t` says nothing unless `t` is known to hold
//!   some. A read that sees an inclusive `to` where the doctor saw another
//!   answer learns nothing (an endpoint seen both ways keeps being asked
//!   `to`);
//! - `rapid7-sql doctor`'s probe (a `GET`, oldest first, ending on a
//!   millisecond its sample holds), told to the client by the doctor and, in
//!   later sessions, by the cache's endpoint facts. All of that
//!   millisecond's events back: `GET` oldest first is known inclusive. None
//!   or only some back (exclusive, or inconsistent): every form asks `to`,
//!   and no read overrides it.
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
    /// [`ToEdge::take_observed`] last said so.
    observed: [AtomicBool; 4],
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
                // otherwise, so reads may learn this form again.
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
    /// [`ToEdge::learn`]) and the forms reads saw inclusive (`seen`). The
    /// doctor's `false` outweighs everything, as when the doctor tells it;
    /// otherwise a form this client knows something of already keeps it.
    pub(super) fn recall(&self, probe: Option<bool>, seen: &[ToForm]) {
        if probe == Some(false) {
            return self.learn(false);
        }
        let set = |form: ToForm| {
            let _ = self.known[form.index()].compare_exchange(
                UNKNOWN,
                INCLUSIVE,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        };
        if probe == Some(true) {
            set(ToForm::PROBE);
        }
        seen.iter().for_each(|&f| set(f));
    }

    /// The forms a read observed inclusive since the last call, and that are
    /// still known inclusive (an observation the doctor contradicted since
    /// is not one to record).
    pub(super) fn take_observed(&self) -> Vec<ToForm> {
        ToForm::ALL
            .into_iter()
            .filter(|&f| self.observed[f.index()].swap(false, Ordering::Relaxed))
            .filter(|&f| self.known(f) == Some(true))
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
    /// `newest`: an event stamped exactly `asked`, and none later, shows
    /// `to` inclusive in that form (the only thing a page can show).
    pub(super) fn page_seen(&self, form: ToForm, asked: i64, newest: Option<i64>, log_id: &str) {
        if newest != Some(asked) {
            return;
        }
        let i = form.index();
        match self.known[i].compare_exchange(
            UNKNOWN,
            INCLUSIVE,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => {}
            Err(EXCLUSIVE) => {
                // The doctor saw otherwise: the endpoint is not consistent,
                // so `to` is asked as it is, exact either way.
                tracing::debug!(
                    log_id,
                    form = form.name(),
                    to = %crate::time::fmt_ms(asked),
                    detail = "the doctor saw `to` not inclusive: it is still asked as it is",
                    "rapid7_to_inclusive_ignored"
                );
                return;
            }
            Err(_) => return,
        }
        self.observed[i].store(true, Ordering::Relaxed);
        tracing::info!(
            log_id,
            form = form.name(),
            to = %crate::time::fmt_ms(asked),
            detail = "a page asked with this `to` returned an event stamped exactly `to`: \
                      later queries of this form ask `to - 1`",
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
    fn only_an_event_at_the_asked_to_makes_its_form_inclusive() {
        let edge = ToEdge::default();
        assert_eq!(edge.asked_to(GET, 0, 100), 100);
        // Nothing, older events, later events: nothing learnt.
        edge.page_seen(GET, 100, None, "l");
        edge.page_seen(GET, 100, Some(99), "l");
        edge.page_seen(GET, 100, Some(101), "l");
        assert_eq!(edge.known(GET), None);
        assert!(edge.take_observed().is_empty());
        edge.page_seen(GET, 100, Some(100), "l");
        assert_eq!(edge.known(GET), Some(true));
        assert_eq!(edge.take_observed(), vec![GET]);
        // Seen again: nothing new to record.
        edge.page_seen(GET, 100, Some(100), "l");
        assert!(edge.take_observed().is_empty());
        assert_eq!(edge.asked_to(GET, 0, 100), 99);
        // Another form knows nothing of it: a POST, newest first or not,
        // asks `to` until one of its own pages shows it.
        for form in [GET_NEWEST, POST, ToForm::ALL[3]] {
            assert_eq!(edge.asked_to(form, 0, 100), 100, "{form:?}");
        }
        edge.page_seen(POST, 100, Some(100), "l");
        assert_eq!(edge.asked_to(POST, 0, 100), 99);
        assert_eq!(edge.take_observed(), vec![POST]);
        // A one-millisecond window asks `to`: `to - 1` would be `from`.
        assert_eq!(edge.asked_to(GET, 99, 100), 100);
        assert_eq!(edge.asked_to(GET, i64::MIN, i64::MIN + 1), i64::MIN + 1);
    }

    #[test]
    fn a_read_never_overrides_the_doctor_s_no() {
        let edge = ToEdge::default();
        edge.learn(false);
        // Seen both ways: not consistent, so `to` stays as it is, in every
        // form.
        for form in ToForm::ALL {
            edge.page_seen(form, 100, Some(100), "l");
            assert_eq!(edge.known(form), Some(false));
            assert_eq!(edge.asked_to(form, 0, 100), 100);
        }
        assert!(edge.take_observed().is_empty());
        // A doctor's yes later: its form inclusive, the others to be seen.
        edge.learn(true);
        assert_eq!(edge.asked_to(GET, 0, 100), 99);
        assert_eq!(edge.known(POST), None);
        edge.page_seen(POST, 100, Some(100), "l");
        assert_eq!(edge.known(POST), Some(true));
    }

    #[test]
    fn an_observation_the_doctor_contradicts_is_never_recorded() {
        // A read (a count's one-millisecond query, which records nothing
        // itself) saw `to` inclusive; the doctor then saw otherwise.
        let edge = ToEdge::default();
        edge.page_seen(GET_NEWEST, 100, Some(100), "l");
        edge.page_seen(GET, 100, Some(100), "l");
        edge.learn(false);
        assert!(edge.take_observed().is_empty());
        for form in ToForm::ALL {
            assert_eq!(edge.asked_to(form, 0, 100), 100);
        }
        // The doctor's yes: the probe's form is its to record; a read's
        // observation of another form still is the read's.
        let edge = ToEdge::default();
        edge.page_seen(GET_NEWEST, 100, Some(100), "l");
        edge.page_seen(GET, 100, Some(100), "l");
        edge.learn(true);
        assert_eq!(edge.take_observed(), vec![GET_NEWEST]);
    }

    #[test]
    fn recalled_facts_add_inclusive_forms_and_the_doctor_s_no_outweighs_all() {
        let edge = ToEdge::default();
        edge.page_seen(POST, 100, Some(100), "l");
        edge.recall(Some(false), &[]);
        assert_eq!(ToForm::ALL.map(|f| edge.known(f)), [Some(false); 4]);
        assert!(edge.take_observed().is_empty());
        let edge = ToEdge::default();
        edge.recall(Some(true), &[GET_NEWEST]);
        assert_eq!(
            ToForm::ALL.map(|f| edge.known(f)),
            [Some(true), Some(true), None, None]
        );
        // The doctor's no outweighs what reads recorded.
        let edge = ToEdge::default();
        edge.recall(Some(false), &[GET_NEWEST]);
        assert_eq!(ToForm::ALL.map(|f| edge.known(f)), [Some(false); 4]);
    }
}
