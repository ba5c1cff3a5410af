//! Fault-injection knobs and their "every Nth" counters.

use std::time::Duration;

/// Fault knobs of the simulator; change them at run time with
/// [`MockServer::set_faults`](super::MockServer::set_faults).
///
/// Everything defaults to off except `polls = 1` (every query answers 202
/// and needs one poll) and `continuation_ttl = 20 s`. "Every Nth" knobs
/// count only the requests (or pages) of their kind since the last
/// `set_faults`; `Some(0)` is the same as `None`.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Polls a query needs: 0 answers the submit with the page (200); `n > 0`
    /// answers 202 and the `n`th poll of the `Self` link returns the page
    /// (earlier polls answer 200 with growing `progress`).
    pub polls: u32,
    /// A continuation not polled within this long after its submit or last
    /// poll answers 404 "Query Not Found" and is forgotten.
    pub continuation_ttl: Duration,
    /// Added to every authenticated request before it is answered.
    pub latency: Duration,
    /// Plus up to this much more, deterministic pseudo-random per request.
    pub latency_jitter: Duration,
    /// Every Nth query or poll request answers 503 `{"message":"Service Unavailable"}`.
    pub server_error_every_nth: Option<u32>,
    /// Every Nth finished page is cut to half its bytes (with a matching
    /// `Content-Length`), so the client sees invalid JSON.
    pub truncate_every_nth_page: Option<u32>,
    /// Every Nth finished page sends its headers (with the full
    /// `Content-Length`) and half its body, then the connection is dropped:
    /// a connection reset in the middle of a body.
    pub reset_every_nth_page: Option<u32>,
    /// A page asked for with `sequence_number = S` also starts with the event
    /// `(from, S)` itself, i.e. the last event of the previous page again.
    pub duplicate_page_edges: bool,
    /// Every Nth poll answers 404 "Query Not Found" and forgets its continuation.
    pub expire_every_nth_poll: Option<u32>,
    /// Treat `to` as exclusive (the default simulates an inclusive `to`).
    pub to_exclusive: bool,
    /// An inclusive `to` that leaves out the last event stamped exactly
    /// `to` of each page: an endpoint that reads `to` neither way (what
    /// `rapid7-sql doctor` calls inconsistent).
    pub to_partly_inclusive: bool,
    /// Render `sequence_number_str` as a bare JSON number (exact digits).
    pub numeric_sequence_number_str: bool,
    /// Events carry no `sequence_number_str`, as in older material: the
    /// exact number is only in their `Context` link (the JSON number is a
    /// rounded double above 2^53).
    pub omit_sequence_number_str: bool,
    /// `GET /management/logs` answers a bare array instead of `{"logs": [...]}`.
    pub unwrapped_log_list: bool,
    /// `GET /management/logs/{id}` answers the bare object instead of `{"log": {...}}`.
    pub unwrapped_log: bool,
    /// `GET /management/logsets` answers this status (403: a key not allowed
    /// it; 404: an endpoint without it) with the API's error body.
    pub refuse_logsets: Option<u16>,
    /// `GET /management/logs` also lists every log a second time (named
    /// `"<name> (copy)"`) and entries whose ids are not log ids (`../../etc`,
    /// `a/b`, an empty id).
    pub junk_in_log_list: bool,
    /// Every Nth query request answers 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_every_nth_query: Option<u32>,
    /// `Retry-After` (and `X-RateLimit-Reset`) of the injected 429s.
    pub retry_after_secs: u64,
    /// Every query request answers 400 with the API's validation body, as
    /// Rapid7 does for a query it cannot run.
    pub reject_queries: bool,
    /// Statistical answers say `all_exact_result: false`.
    pub statistics_inexact: bool,
    /// Statistical answers use the other spellings of Rapid7's material:
    /// numbers as floats, `all_exact_results`, no top-level `count`, and an
    /// empty answer as `status: 204` with `stats: {}`.
    pub statistics_variant: bool,
    /// How `X-RateLimit-Reset` is written on every answer.
    pub reset_header: ResetHeader,
    /// 429 answers carry no `Retry-After`, only `X-RateLimit-Reset`.
    pub omit_retry_after: bool,
    /// What the `Next` links of finished pages point at.
    pub next_links: NextLinks,
    /// Events whose sequence number is a multiple of N (pick N odd: the
    /// numbers of one millisecond differ by 4096) are sent without
    /// their `timestamp` field (a decoder must count them, never drop them
    /// silently). `None` or `Some(0)`: off.
    pub events_without_timestamp: Option<u32>,
    /// Events before this instant (epoch ms) are beyond the log's retention:
    /// pages leave them out, and every answer to a query whose `from` lies
    /// before it (submit, polls, the page) carries `x-beyond-retention: true`
    /// and an `x-beyond-retention-message`.
    pub retention_start_ms: Option<i64>,
    /// Pages list the events of each millisecond in reverse key order (the
    /// `Next` cursor stays that of the page's last event in key order):
    /// Rapid7 does not document the order within a millisecond.
    pub reverse_within_millisecond: bool,
    /// Messages that are JSON objects are sent as objects, not as strings
    /// (some sources do): their text is the client's to write again, and
    /// no longer the text the search matched.
    pub object_messages: bool,
    /// In-progress answers take the older docs' shape (docs.rapid7.com,
    /// "GET Query"): `query` instead of `leql`, and `rel: "self"` in lower
    /// case.
    pub legacy_continuations: bool,
    /// `most_recent_first=true` is ignored: pages come oldest first, with
    /// oldest-first `Next` links (Rapid7's plugin says the flag needs `from`
    /// on or after 2022-11-24; what a server does otherwise is not public).
    pub ignore_most_recent_first: bool,
    /// Newest first, a page's `Next` link continues strictly before the
    /// page's oldest millisecond (`to` that millisecond, exclusive; no
    /// `sequence_number`): the rest of a millisecond split across pages is
    /// never sent (Rapid7 does not document its newest-first cursor).
    pub newest_links_skip_millisecond: bool,
    /// Statistical time slices are closed, `[a, b]`: an event stamped on
    /// the boundary between two slices is counted in both.
    pub inclusive_slices: bool,
    /// `Some((ms, n))`: the events stamped `ms` arrive late, missing from
    /// the first `n` finished answers (pages and unfiltered counts) whose
    /// range holds `ms`, and in every answer after: what a client sees of
    /// the recent edge while events are still arriving.
    pub late_millisecond: Option<(i64, u32)>,
    /// `Some(stall)`: the requests `stall.on` selects are answered only
    /// after `stall.delay` (after they took effect: a stalled submit still
    /// starts its query), so a client's request timeout or query timeout
    /// runs out against a server that accepted the request.
    pub stall: Option<Stall>,
    /// A merged answer (a query of several logs) breaks its rule of order:
    /// each page's first two events come swapped.
    pub merged_out_of_order: bool,
    /// A merged answer carries an event of a log that was not asked for:
    /// each page's first event is labelled with a log id no query names.
    pub merged_foreign_log: bool,
    /// A merged answer carries an event it cannot be ordered by: each page
    /// with more to come holds, in its middle, an extra event of the first
    /// log asked, stamped 5 ms after the query's `to`, whose sequence number
    /// cannot be read (no `sequence_number_str`, an inexact
    /// `sequence_number`, no number in its Context link).
    pub merged_unreadable_past_to: bool,
    /// A merged answer's `Next` link skips events: its cursor lies one second
    /// past the page's last event.
    pub merged_link_beyond_last: bool,
    /// A merged query's answers carry the beyond-retention header (as when
    /// one of its logs keeps less history); single-log queries do not.
    pub merged_beyond_retention: bool,
    /// `to` is exclusive in single-log queries only; merged queries (of
    /// several logs) read it inclusively: request forms that read `to`
    /// differently.
    pub to_exclusive_single_log: bool,
    /// The merged faults above (`merged_out_of_order`, `merged_foreign_log`,
    /// `merged_unreadable_past_to`, `merged_link_beyond_last`) spare a merged
    /// query's first page and fire from its second on (after events were
    /// returned).
    pub merged_faults_from_page_2: bool,
    /// The merged faults above fire only on merged newest-first answers
    /// (queries of several logs asked `most_recent_first=true`), and only
    /// from the second such answer the server finishes after the last
    /// `set_faults` on: a newest-first read steps by asking again with a
    /// lower `to` (no cursor, so [`Self::merged_faults_from_page_2`] never
    /// fires), and this spares its first step and breaks a later one.
    pub merged_newest_faults_from_step_2: bool,
    /// Merged queries (of several logs) ignore `most_recent_first=true` and
    /// page oldest first; single-log queries honour it: request forms that
    /// read the flag differently.
    pub merged_ignore_most_recent_first: bool,
}

/// Requests the simulator answers late ([`Faults::stall`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stall {
    /// Which requests.
    pub on: StallOn,
    /// How long each waits before its answer.
    pub delay: Duration,
}

/// Which requests a [`Stall`] delays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StallOn {
    /// Every request of a query for events (submit, polls, `Next` links).
    EventQueries,
    /// Every request of a statistical query (`calculate(...)`, `groupby`):
    /// submit and polls.
    Statistics,
    /// Polls of a continuation (`GET /query/{id}`), of any query.
    Polls,
    /// Anything under `/management` (the log list, a log, a label).
    Management,
}

/// What the simulator's `Next` links point at: the API's own cursor, or
/// pagination that does not advance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextLinks {
    /// After the page's last event, only when more events follow (the API).
    #[default]
    Advance,
    /// Back to the page's own cursor, with a parameter `attempt` that
    /// changes on every page: the same events again, never the same URL.
    Repeat,
    /// A→B→A: the first page links (with a `first_from` parameter) to the
    /// second, and the second links back to the first page's own request.
    Alternate,
    /// Always a link, to the page's own `from` and one sequence number past
    /// its own (0 at first): the cursor creeps but never passes an event.
    Creep,
}

/// How the simulator writes `X-RateLimit-Reset`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetHeader {
    /// Seconds until the window resets, as Rapid7 does (the default).
    #[default]
    Seconds,
    /// The reset instant in epoch seconds, as the legacy Logentries
    /// documentation describes it.
    EpochSeconds,
    /// The reset instant in epoch milliseconds.
    EpochMillis,
}

impl ResetHeader {
    /// The header value for a reset `secs` from `now_ms` (epoch ms).
    pub(crate) fn value(self, secs: u64, now_ms: i64) -> u64 {
        let now_ms = u64::try_from(now_ms).unwrap_or(0);
        match self {
            ResetHeader::Seconds => secs,
            ResetHeader::EpochSeconds => (now_ms / 1000).saturating_add(secs),
            ResetHeader::EpochMillis => now_ms.saturating_add(secs.saturating_mul(1000)),
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            polls: 1,
            continuation_ttl: Duration::from_secs(20),
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            server_error_every_nth: None,
            truncate_every_nth_page: None,
            reset_every_nth_page: None,
            duplicate_page_edges: false,
            expire_every_nth_poll: None,
            to_exclusive: false,
            to_partly_inclusive: false,
            numeric_sequence_number_str: false,
            omit_sequence_number_str: false,
            unwrapped_log_list: false,
            unwrapped_log: false,
            junk_in_log_list: false,
            refuse_logsets: None,
            rate_limit_every_nth_query: None,
            reject_queries: false,
            retry_after_secs: 1,
            statistics_inexact: false,
            statistics_variant: false,
            reset_header: ResetHeader::Seconds,
            omit_retry_after: false,
            next_links: NextLinks::Advance,
            events_without_timestamp: None,
            retention_start_ms: None,
            reverse_within_millisecond: false,
            object_messages: false,
            legacy_continuations: false,
            ignore_most_recent_first: false,
            newest_links_skip_millisecond: false,
            inclusive_slices: false,
            late_millisecond: None,
            stall: None,
            merged_out_of_order: false,
            merged_foreign_log: false,
            merged_unreadable_past_to: false,
            merged_link_beyond_last: false,
            merged_beyond_retention: false,
            to_exclusive_single_log: false,
            merged_faults_from_page_2: false,
            merged_newest_faults_from_step_2: false,
            merged_ignore_most_recent_first: false,
        }
    }
}

/// Counters behind the "every Nth" knobs; reset by `set_faults`.
#[derive(Debug, Default)]
pub(crate) struct FaultCounters {
    queries: u64,
    queries_and_polls: u64,
    polls: u64,
    pages: u64,
    resets: u64,
    late: u64,
    merged_newest: u64,
}

/// Counts one more and says whether this one is an Nth.
fn tick(counter: &mut u64, every: Option<u32>) -> bool {
    *counter += 1;
    match every {
        Some(n) if n > 0 => counter.is_multiple_of(u64::from(n)),
        _ => false,
    }
}

impl FaultCounters {
    /// A query request arrived: (inject 429?, inject 503?).
    pub(crate) fn query(&mut self, f: &Faults) -> (bool, bool) {
        let limited = tick(&mut self.queries, f.rate_limit_every_nth_query);
        let failed = tick(&mut self.queries_and_polls, f.server_error_every_nth);
        (limited, failed)
    }

    /// A poll request arrived: inject 503?
    pub(crate) fn poll_error(&mut self, f: &Faults) -> bool {
        tick(&mut self.queries_and_polls, f.server_error_every_nth)
    }

    /// A poll reached its continuation: expire it?
    pub(crate) fn poll_expire(&mut self, f: &Faults) -> bool {
        tick(&mut self.polls, f.expire_every_nth_poll)
    }

    /// A finished page is about to be sent: truncate it?
    pub(crate) fn page(&mut self, f: &Faults) -> bool {
        tick(&mut self.pages, f.truncate_every_nth_page)
    }

    /// A finished merged newest-first answer is about to be sent: how many
    /// (this one included) since the last `set_faults`
    /// ([`Faults::merged_newest_faults_from_step_2`]).
    pub(crate) fn merged_newest(&mut self) -> u64 {
        self.merged_newest += 1;
        self.merged_newest
    }

    /// Finished pages counted so far (after [`Self::page`]).
    pub(crate) fn pages(&self) -> u64 {
        self.pages
    }

    /// A finished answer reads `[from, last]`: the late millisecond it
    /// leaves out, if any ([`Faults::late_millisecond`]).
    pub(crate) fn late(&mut self, f: &Faults, from: i64, last: i64) -> Option<i64> {
        let (ms, n) = f.late_millisecond?;
        if ms < from || ms > last {
            return None;
        }
        self.late += 1;
        (self.late <= u64::from(n)).then_some(ms)
    }

    /// A finished page is about to be sent: drop the connection halfway?
    pub(crate) fn reset(&mut self, f: &Faults) -> bool {
        tick(&mut self.resets, f.reset_every_nth_page)
    }
}

/// Deterministic jitter fraction in `[0, 1)` for the `n`th request.
pub(crate) fn jitter(n: u64) -> f64 {
    (super::rng::splitmix64(n ^ 0x6a09_e667_f3bc_c908) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_counts_per_kind() {
        let f = Faults {
            rate_limit_every_nth_query: Some(3),
            server_error_every_nth: Some(2),
            expire_every_nth_poll: Some(0),
            ..Faults::default()
        };
        let mut c = FaultCounters::default();
        let q: Vec<_> = (0..6).map(|_| c.query(&f)).collect();
        assert_eq!(
            q,
            [
                (false, false),
                (false, true),
                (true, false),
                (false, true),
                (false, false),
                (true, true)
            ]
        );
        assert!(!c.poll_error(&f)); // 7th query-or-poll
        assert!(c.poll_error(&f)); // 8th
        assert!((0..10).all(|_| !c.poll_expire(&f)), "Some(0) is off");
        assert!((0..10).all(|_| !c.page(&f)));
        assert!((0..100).map(jitter).all(|j| (0.0..1.0).contains(&j)));
    }
}
