//! What the handlers share: the recorded requests, the fault counters, the
//! rate limiter and the continuations, behind the locks of one server.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use super::continuations::Continuations;
use super::data::MockDataset;
use super::faults::{FaultCounters, Faults};
use super::ratelimit::RateLimiter;

/// Requests kept by [`MockServer::requests`](super::MockServer::requests)
/// (the oldest are dropped beyond this).
pub const MAX_RECORDED_REQUESTS: usize = 100_000;

/// Which API namespace a request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// A query submit (`GET /query/logs/{id}`, `POST /query/logs`) or a `Next` link.
    Query,
    /// A poll of a continuation (`GET /query/{id}`).
    Poll,
    /// Anything under `/management`.
    Management,
    /// Any other path.
    Other,
}

/// One request as the simulator saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// The path as sent, including any `/log_search` prefix, without the query string.
    pub path: String,
    /// What the request was for.
    pub kind: RequestKind,
    /// The queried log (polls: the continuation's log, when still known);
    /// `None` for a merged query of several logs (see `logs`).
    pub log_id: Option<String>,
    /// Every log a query named (polls: the continuation's): one, or
    /// several for a merged query.
    pub logs: Vec<String>,
    /// `from` as sent (polls: the continuation's).
    pub from: Option<i64>,
    /// `to` as sent (polls: the continuation's).
    pub to: Option<i64>,
    /// `sequence_number` as sent (polls: the continuation's).
    pub sequence_number: Option<u64>,
    /// `per_page` as sent (polls: the continuation's effective page size).
    pub per_page: Option<u32>,
    /// The LEQL statement as sent (polls: the continuation's); empty for
    /// "every event".
    pub statement: String,
    /// Whether the request asked `most_recent_first=true`.
    pub most_recent_first: bool,
    /// The status code answered.
    pub status: u16,
}

impl RecordedRequest {
    /// Whether the request was for statistics (`calculate(…)`), not events.
    pub fn is_statistical(&self) -> bool {
        self.statement.to_ascii_lowercase().contains("calculate(")
    }
}

/// Mutable state behind one lock (never held across an `await`).
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) faults: Faults,
    pub(crate) counters: FaultCounters,
    pub(crate) limiter: RateLimiter,
    pub(crate) continuations: Continuations,
    /// Names the management API gives instead of the dataset's, by log id
    /// ([`MockServer::rename_log`](super::MockServer::rename_log)).
    pub(crate) renamed: HashMap<String, String>,
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) dataset: MockDataset,
    /// Base of every link: `host_in_links` or the server's own URL.
    pub(crate) base: String,
    pub(crate) state: Mutex<ServerState>,
    /// `(arrival index, request)`, sorted by arrival.
    pub(crate) requests: Mutex<VecDeque<(u64, RecordedRequest)>>,
    pub(crate) arrivals: AtomicU64,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, ServerState> {
        crate::locks::lock(&self.state)
    }

    pub(crate) fn recorded(&self) -> MutexGuard<'_, VecDeque<(u64, RecordedRequest)>> {
        crate::locks::lock(&self.requests)
    }

    /// Stores a finished request in arrival order.
    pub(crate) fn record(&self, arrival: u64, rec: RecordedRequest) {
        let mut q = self.recorded();
        let at = q
            .iter()
            .rposition(|(a, _)| *a < arrival)
            .map_or(0, |i| i + 1);
        q.insert(at, (arrival, rec));
        while q.len() > MAX_RECORDED_REQUESTS {
            q.pop_front();
        }
    }
}
