//! Rapid7 Log Search REST client.
//!
//! Knows nothing of Arrow or DataFusion. A [`Client`] is cheap to clone; all
//! clones share one connection pool, one [rate limiter](RateLimitConfig) and
//! one set of [statistics](ClientStats), so concurrent fetches of several logs
//! or sub-ranges stay within one budget.
//!
//! ```no_run
//! # async fn demo() -> datafusion_rapid7::Result<()> {
//! use futures::TryStreamExt;
//! use datafusion_rapid7::client::ClientBuilder;
//!
//! let client = ClientBuilder::from_env()?.build()?;
//! let log = client.resolve_log("Firewall").await?;
//! let mut pages = client.query_events(&log.id, 1_700_000_000_000, 1_700_000_600_000)?.into_stream();
//! while let Some(page) = pages.try_next().await? {
//!     println!("{} events", page.columns.len());
//! }
//! # Ok(()) }
//! ```

mod backoff;
mod http;
mod model;
mod names;
mod page;
mod query;
mod rate_limit;
mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use url::Url;

pub use backoff::{Backoff, BackoffConfig, Jitter, RandomJitter};
pub use model::{Link, LogInfo, LogSetInfo};
pub use names::{resolve_log, suggest};
pub use page::{EventColumns, EventPage, PageStats, decode_page};
pub use query::EventQuery;
pub use rate_limit::{Budget, Namespace, RateLimitConfig};
pub use retry::RetryConfig;

use crate::config::{self, ApiKey, Region};
use crate::error::{Error, Result};
use rate_limit::RateLimiter;

/// Largest page size the API allows.
pub const MAX_PER_PAGE: u32 = 500;

/// How the client polls a running query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollConfig {
    /// First wait before polling.
    pub initial: Duration,
    /// Longest wait between polls. Continuations expire when not polled for
    /// 20 s, so this is kept well below that.
    pub max: Duration,
    /// Give up on one page when it has not finished after this long.
    pub query_timeout: Duration,
    /// Resubmissions of a page whose continuation expired.
    pub max_resubmits: u32,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            query_timeout: Duration::from_secs(600),
            max_resubmits: 5,
        }
    }
}

/// Everything a [`Client`] is built from.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL (region host or explicit endpoint, may carry a path prefix
    /// such as `/log_search`).
    pub endpoint: Url,
    /// The API key.
    pub api_key: ApiKey,
    /// Events per page (at most 500).
    pub per_page: u32,
    /// Retries.
    pub retry: RetryConfig,
    /// Proactive rate limiting.
    pub rate_limit: RateLimitConfig,
    /// Polling.
    pub poll: PollConfig,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
}

/// Builds a [`Client`].
///
/// ```
/// use datafusion_rapid7::client::ClientBuilder;
/// use datafusion_rapid7::config::Region;
///
/// let client = ClientBuilder::new()
///     .with_region(Region::Eu)
///     .with_api_key("00000000-0000-0000-0000-000000000000")
///     .build()
///     .unwrap();
/// assert_eq!(client.endpoint().as_str(), "https://eu.rest.logs.insight.rapid7.com/");
/// ```
#[derive(Debug, Default)]
pub struct ClientBuilder {
    region: Option<Region>,
    endpoint: Option<String>,
    allow_http: bool,
    api_key: Option<String>,
    per_page: Option<u32>,
    retry: Option<RetryConfig>,
    rate_limit: Option<RateLimitConfig>,
    poll: Option<PollConfig>,
    request_timeout: Option<Duration>,
    errors: Vec<Error>,
}

impl ClientBuilder {
    /// An empty builder (region `us`, no key).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from `RAPID7_API_KEY`, `RAPID7_REGION`, `RAPID7_ENDPOINT`
    /// and `RAPID7_ALLOW_HTTP`.
    pub fn from_env() -> Result<Self> {
        let mut b = Self::new();
        if let Some(key) = config::env_var(config::ENV_API_KEY) {
            b.api_key = Some(key);
        }
        if let Some(region) = config::env_var(config::ENV_REGION) {
            b.region = Some(region.parse()?);
        }
        if let Some(endpoint) = config::env_var(config::ENV_ENDPOINT) {
            b.endpoint = Some(endpoint);
        }
        if let Some(v) = config::env_var(config::ENV_ALLOW_HTTP) {
            b.allow_http = config::parse_bool(config::ENV_ALLOW_HTTP, &v)?;
        }
        Ok(b)
    }

    /// Use a region's host.
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Use an explicit base URL instead of the region's host.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Allow plain `http://` to a non-loopback endpoint.
    pub fn with_allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Set the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Events per page (1..=500).
    pub fn with_per_page(mut self, per_page: u32) -> Self {
        if per_page == 0 || per_page > MAX_PER_PAGE {
            self.errors.push(Error::Config {
                key: "per_page".into(),
                message: format!("{per_page} is out of range; use 1 to {MAX_PER_PAGE}"),
            });
        } else {
            self.per_page = Some(per_page);
        }
        self
    }

    /// Retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Rate limiting.
    pub fn with_rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Polling.
    pub fn with_poll(mut self, poll: PollConfig) -> Self {
        self.poll = Some(poll);
        self
    }

    /// Timeout of one HTTP request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The configuration this builder describes.
    pub fn config(mut self) -> Result<ClientConfig> {
        if let Some(e) = self.errors.pop() {
            return Err(e);
        }
        let endpoint = match &self.endpoint {
            Some(e) => config::parse_endpoint(e, self.allow_http)?,
            None => self.region.unwrap_or_default().endpoint(),
        };
        let api_key = ApiKey::new(self.api_key.ok_or(Error::MissingApiKey)?)?;
        Ok(ClientConfig {
            endpoint,
            api_key,
            per_page: self.per_page.unwrap_or(MAX_PER_PAGE),
            retry: self.retry.unwrap_or_default(),
            rate_limit: self.rate_limit.unwrap_or_default(),
            poll: self.poll.unwrap_or_default(),
            request_timeout: self.request_timeout.unwrap_or(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 512 * 1024 * 1024,
        })
    }

    /// Build the client.
    pub fn build(self) -> Result<Client> {
        Client::new(self.config()?)
    }
}

/// Request and event counters of a client (shared by its clones).
#[derive(Debug, Default)]
pub struct ClientStats {
    queries: AtomicU64,
    polls: AtomicU64,
    management: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    resubmits: AtomicU64,
    pages: AtomicU64,
    events: AtomicU64,
    events_failed: AtomicU64,
    /// Whether any response was ever received (connection errors before
    /// that mean a wrong endpoint more likely than a blip).
    pub(crate) responded: std::sync::atomic::AtomicBool,
}

/// A copy of a client's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStatsSnapshot {
    /// Query requests (submits and `Next` pages).
    pub queries: u64,
    /// Polls of running queries.
    pub polls: u64,
    /// Management requests.
    pub management: u64,
    /// Retries after 5xx, timeouts, connection errors, unreadable bodies.
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Pages resubmitted after their continuation expired.
    pub resubmits: u64,
    /// Finished pages.
    pub pages: u64,
    /// Events accepted.
    pub events: u64,
    /// Events that could not be used (missing fields).
    pub events_failed: u64,
    /// Waits imposed by the rate limiter.
    pub rate_limit_waits: u64,
    /// Time spent in those waits, ms.
    pub rate_limit_wait_ms: u64,
}

impl ClientStatsSnapshot {
    /// All API requests.
    pub fn requests(&self) -> u64 {
        self.queries + self.polls + self.management
    }
}

/// A Rapid7 Log Search client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    limiter: RateLimiter,
    stats: ClientStats,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("datafusion-rapid7/", env!("CARGO_PKG_VERSION")))
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            // Links are followed explicitly so the key never goes to a host
            // we did not check.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config {
                key: "http client".into(),
                message: e.to_string(),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                limiter: RateLimiter::new(&config.rate_limit),
                http,
                config,
                stats: ClientStats::default(),
            }),
        })
    }

    /// The base URL.
    pub fn endpoint(&self) -> &Url {
        &self.inner.config.endpoint
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Counters so far.
    pub fn stats(&self) -> ClientStatsSnapshot {
        let s = &self.inner.stats;
        let l = &self.inner.limiter.stats;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStatsSnapshot {
            queries: get(&s.queries),
            polls: get(&s.polls),
            management: get(&s.management),
            retries: get(&s.retries),
            rate_limited: get(&s.rate_limited),
            resubmits: get(&s.resubmits),
            pages: get(&s.pages),
            events: get(&s.events),
            events_failed: get(&s.events_failed),
            rate_limit_waits: get(&l.waits),
            rate_limit_wait_ms: get(&l.waited_ms),
        }
    }

    /// Every log the key can read (`GET /management/logs`).
    pub async fn list_logs(&self) -> Result<Vec<LogInfo>> {
        let url = self.url(&["management", "logs"]);
        let list: model::LogList = self
            .get_json(url, Namespace::Management, "management")
            .await?;
        Ok(list.into_logs())
    }

    /// One log by id (`GET /management/logs/{id}`).
    pub async fn get_log(&self, id: &str) -> Result<LogInfo> {
        let url = self.url(&["management", "logs", id]);
        let one: model::OneLog = self
            .get_json(url, Namespace::Management, "management")
            .await?;
        Ok(one.into_log())
    }

    /// The log with this id or name (exact id, then exact name, then a
    /// case-insensitive name); an error listing close matches otherwise.
    pub async fn resolve_log(&self, name_or_id: &str) -> Result<LogInfo> {
        let logs = self.list_logs().await?;
        resolve_log(&logs, name_or_id).cloned()
    }

    /// The events of one log with `from <= timestamp < to` (epoch ms), as
    /// pages. Nothing is requested until the first page is asked for.
    pub fn query_events(&self, log_id: &str, from: i64, to: i64) -> Result<EventQuery> {
        if from >= to {
            return Err(Error::InvalidRange {
                start: from,
                end: to,
            });
        }
        if log_id.is_empty()
            || log_id == "."
            || log_id == ".."
            || log_id
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(Error::Config {
                key: "log id".into(),
                message: format!(
                    "{log_id:?} is not a log id; use an id or name from SELECT * FROM \
                     information_schema.tables WHERE table_schema = 'rapid7'"
                ),
            });
        }
        let mut url = self.url(&["query", "logs", log_id]);
        url.query_pairs_mut()
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string())
            .append_pair("per_page", &self.inner.config.per_page.to_string());
        Ok(EventQuery::new(self.clone(), log_id, (from, to), url))
    }

    /// `endpoint` + path segments (each percent-encoded).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.config.endpoint.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("endpoint URLs are http(s), which have paths");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_prefix_and_escape_ids() {
        let c = ClientBuilder::new()
            .with_endpoint("https://us.api.insight.rapid7.com/log_search/")
            .with_api_key("k")
            .build()
            .unwrap();
        assert_eq!(
            c.url(&["management", "logs"]).as_str(),
            "https://us.api.insight.rapid7.com/log_search/management/logs"
        );
        assert_eq!(
            c.url(&["query", "logs", "../a/b?c"]).as_str(),
            "https://us.api.insight.rapid7.com/log_search/query/logs/..%2Fa%2Fb%3Fc"
        );
    }

    #[test]
    fn query_rejects_path_like_log_ids() {
        let client = ClientBuilder::new()
            .with_endpoint("http://127.0.0.1:9")
            .with_api_key("k")
            .build()
            .unwrap();
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb"] {
            assert!(
                matches!(client.query_events(bad, 0, 1), Err(Error::Config { .. })),
                "{bad:?}"
            );
        }
        assert!(client.query_events("0a1b-2c3d", 0, 1).is_ok());
    }

    #[test]
    fn builder_errors() {
        assert!(matches!(
            ClientBuilder::new().build(),
            Err(Error::MissingApiKey)
        ));
        let e = ClientBuilder::new()
            .with_api_key("k")
            .with_per_page(501)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("1 to 500"), "{e}");
        let c = ClientBuilder::new().with_api_key("k").build().unwrap();
        assert!(matches!(
            c.query_events("x", 5, 5),
            Err(Error::InvalidRange { .. })
        ));
    }

    #[test]
    fn debug_output_hides_key() {
        let c = ClientBuilder::new()
            .with_api_key("super-secret-key-123")
            .build()
            .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("super-secret-key-123"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }
}
