//! The running simulator: its configuration, start-up and the test-facing
//! accessors of [`MockServer`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::continuations::Continuations;
use super::data::MockDataset;
use super::faults::{FaultCounters, Faults};
use super::handlers;
use super::ratelimit::{RateLimiter, RateLimits};
use super::state::{RecordedRequest, RequestKind, ServerState, Shared};

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

impl MockConfig {
    /// The simulator of `dataset` as benchmarks use it: no quota
    /// ([`RateLimits::unlimited`]) and every query answered at once (no
    /// poll), so that requests are counted, never waited for.
    pub fn counting(dataset: MockDataset) -> Self {
        Self {
            dataset,
            faults: Faults {
                polls: 0,
                ..Faults::default()
            },
            limits: RateLimits::unlimited(),
            ..Self::default()
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
                renamed: Default::default(),
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
                tracing::warn!(
                    error = %e,
                    "mock_server_stopped"
                );
            }
        });
        tracing::debug!(
            %url,
            "mock_server_listening"
        );
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

    /// Renames a log, as a user can at Rapid7: the management API lists
    /// `id` under `name` from now on; its id and its events stay. Two logs
    /// may end up with the same name (Rapid7 allows it).
    pub fn rename_log(&self, id: &str, name: &str) {
        self.shared
            .lock()
            .renamed
            .insert(id.to_string(), name.to_string());
    }

    /// Replaces the rate limits and starts a fresh quota window.
    pub fn set_limits(&self, limits: RateLimits) {
        self.shared.lock().limiter = RateLimiter::new(limits, Instant::now());
    }

    /// Every authenticated request so far, in arrival order (at most
    /// [`MAX_RECORDED_REQUESTS`](super::MAX_RECORDED_REQUESTS), the most
    /// recent). Requests rejected with 401 are not recorded.
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

    /// Query requests of statistical statements (`calculate(…)`).
    pub fn statistics_requests(&self) -> usize {
        self.shared
            .recorded()
            .iter()
            .filter(|(_, r)| r.kind == RequestKind::Query && r.is_statistical())
            .count()
    }

    /// Query requests for event pages (not statistical).
    pub fn event_query_requests(&self) -> usize {
        self.query_requests() - self.statistics_requests()
    }

    /// How many recorded requests were queries (submits and `Next` links, not
    /// polls), statistical ones included.
    pub fn query_requests(&self) -> usize {
        self.shared
            .recorded()
            .iter()
            .filter(|(_, r)| r.kind == RequestKind::Query)
            .count()
    }
}
