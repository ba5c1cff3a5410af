//! A faithful simulator of the Rapid7 Log Search API on loopback.
//!
//! [`MockServer::start`] binds `127.0.0.1:0` and serves the documented API
//! (see `rapid7-api.md` §2–§4, §9–§10) over real HTTP, under both path
//! prefixes (`/query/…` and `/log_search/query/…`):
//!
//! - `x-api-key` on every request, else 401 `{"message":"Unauthorized"}`;
//!   `X-RateLimit-Limit`/`-Remaining`/`-Reset` on every response, counted per
//!   namespace (query, poll, management) in a fixed window ([`RateLimits`]);
//!   an exhausted namespace answers 429 `text/plain` with `Retry-After`.
//! - `GET /management/logs`, `GET /management/logs/{id}`,
//!   `GET /management/labels/{id}`.
//! - `GET /query/logs/{id}?from=&to=&per_page=&sequence_number=&query=` and
//!   `POST /query/logs` (JSON body): 202 with a continuation, then polls of
//!   `GET /query/{continuation id}` (200 with `progress`, then 200 with the
//!   page), or 200 at once when [`Faults::polls`] is 0. Pages hold at most
//!   `per_page` events (default 50, max 500) sorted by
//!   `(timestamp, sequence_number)`; `to` is **inclusive** unless
//!   [`Faults::to_exclusive`]; a page with more events after it carries a
//!   `Next` link `…/query/logs/{id}?from={last ts}&to={to}&per_page={n}&
//!   sequence_number={last seq}&next_page=true&query=`. Only the empty LEQL
//!   statement (all events) is supported.
//! - Errors: 400 `{"fields":[…],"messages":["Invalid query: …"]}` for bad
//!   parameters, 400 "Invalid Continuation ID", 404 `{"code":404,"message":
//!   "Log Not Found"}` / "Query Not Found (Continuation ID may have expired)",
//!   415 for a non-JSON POST, 404 `{"message":"HTTP 404 Not Found"}` for
//!   unknown routes.
//!
//! The data is a pure function of (log, time), see [`MockDataset`] and the
//! `data` module docs, so tests can compute the exact expected events of any
//! window. [`Faults`] inject the API's failure modes at run time. Every
//! authenticated request is recorded ([`MockServer::requests`]).

mod continuations;
mod data;
mod faults;
mod handlers;
mod messages;
mod query;
mod ratelimit;
mod render;
mod standard;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use data::{MessageFormat, MockDataset, MockEvent, MockLog, TYPE_CHANGE_MS};
pub use faults::Faults;
pub use ratelimit::RateLimits;

use continuations::Continuations;
use faults::FaultCounters;
use ratelimit::RateLimiter;

/// Organisation id used in the `rrn` of simulated logs.
const ORG_ID: &str = "5e1f0c2a-9b8d-4e7f-a6c5-d4b3a2f1e0d9";
/// Requests kept by [`MockServer::requests`] (the oldest are dropped beyond this).
pub const MAX_RECORDED_REQUESTS: usize = 100_000;

/// How the simulator is set up.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// The only key accepted in `x-api-key`.
    pub api_key: String,
    /// The logs and their data.
    pub dataset: MockDataset,
    /// Initial fault knobs.
    pub faults: Faults,
    /// Rate limits per namespace.
    pub limits: RateLimits,
    /// Base URL written into links (`Self`, `Next`, labels, context) instead
    /// of the server's own `http://127.0.0.1:PORT`.
    pub host_in_links: Option<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            api_key: "mock-api-key-0000".to_string(),
            dataset: MockDataset::standard(),
            faults: Faults::default(),
            limits: RateLimits::default(),
            host_in_links: None,
        }
    }
}

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
    /// The queried log (polls: the continuation's log, when still known).
    pub log_id: Option<String>,
    /// `from` as sent (polls: the continuation's).
    pub from: Option<i64>,
    /// `to` as sent (polls: the continuation's).
    pub to: Option<i64>,
    /// `sequence_number` as sent (polls: the continuation's).
    pub sequence_number: Option<u64>,
    /// `per_page` as sent (polls: the continuation's effective page size).
    pub per_page: Option<u32>,
    /// The status code answered.
    pub status: u16,
}

/// Mutable state behind one lock (never held across an `await`).
#[derive(Debug)]
struct ServerState {
    faults: Faults,
    counters: FaultCounters,
    limiter: RateLimiter,
    continuations: Continuations,
}

/// What the handlers share.
#[derive(Debug)]
struct Shared {
    api_key: String,
    dataset: MockDataset,
    /// Base of every link: `host_in_links` or the server's own URL.
    base: String,
    state: Mutex<ServerState>,
    /// `(arrival index, request)`, sorted by arrival.
    requests: Mutex<VecDeque<(u64, RecordedRequest)>>,
    arrivals: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ServerState> {
        crate::sync::lock(&self.state)
    }

    fn recorded(&self) -> MutexGuard<'_, VecDeque<(u64, RecordedRequest)>> {
        crate::sync::lock(&self.requests)
    }

    /// Stores a finished request in arrival order.
    fn record(&self, arrival: u64, rec: RecordedRequest) {
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

/// A running simulator on `127.0.0.1`; dropping it stops the server.
pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    url: String,
    _tasks: JoinSet<()>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("url", &self.url)
            .field("api_key", &"<redacted>")
            .field("logs", &self.shared.dataset.logs().len())
            .finish()
    }
}

impl MockServer {
    /// Binds `127.0.0.1:0` and starts serving; the server accepts
    /// connections as soon as this returns.
    pub async fn start(config: MockConfig) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let base = config
            .host_in_links
            .as_deref()
            .map(|h| h.trim_end_matches('/').to_string())
            .unwrap_or_else(|| url.clone());
        let shared = Arc::new(Shared {
            api_key: config.api_key,
            dataset: config.dataset,
            base,
            state: Mutex::new(ServerState {
                faults: config.faults,
                counters: FaultCounters::default(),
                limiter: RateLimiter::new(config.limits, Instant::now()),
                continuations: Continuations::default(),
            }),
            requests: Mutex::new(VecDeque::new()),
            arrivals: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .fallback(handlers::handle)
            .with_state(Arc::clone(&shared));
        // Dropping `tasks` (with the server) aborts the serve loop; axum
        // then shuts its keep-alive connections down gracefully.
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "mock server stopped");
            }
        });
        tracing::debug!(%url, "mock server listening");
        Ok(MockServer {
            shared,
            addr,
            url,
            _tasks: tasks,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The accepted API key.
    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// The data function the server answers from.
    pub fn dataset(&self) -> &MockDataset {
        &self.shared.dataset
    }

    /// Replaces the fault knobs and restarts their "every Nth" counters.
    pub fn set_faults(&self, faults: Faults) {
        let mut st = self.shared.lock();
        st.faults = faults;
        st.counters = FaultCounters::default();
    }

    /// Replaces the rate limits and starts a fresh quota window.
    pub fn set_limits(&self, limits: RateLimits) {
        self.shared.lock().limiter = RateLimiter::new(limits, Instant::now());
    }

    /// Every authenticated request so far, in arrival order (at most
    /// [`MAX_RECORDED_REQUESTS`], the most recent). Requests rejected with
    /// 401 are not recorded.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .recorded()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.recorded().clear();
    }

    /// How many recorded requests were queries (submits and `Next` links, not polls).
    pub fn query_requests(&self) -> usize {
        self.shared
            .recorded()
            .iter()
            .filter(|(_, r)| r.kind == RequestKind::Query)
            .count()
    }
}
