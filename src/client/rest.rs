//! [`Client`]: the handle every request goes through (one connection pool,
//! one rate limiter, one set of counters for all clones), and the management
//! calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header::HeaderValue;
use url::Url;

use super::config::ClientConfig;
use super::edge::ToForm;
use super::error::{Error, Result};
use super::model::{self, LogInfo, LogSetDetail};
use super::names::resolve_log;
use super::rate_limit::{Namespace, RateLimiter};

/// Request and event counters of a client (shared by its clones).
#[derive(Debug, Default)]
pub struct ClientStats {
    pub(super) queries: AtomicU64,
    pub(super) polls: AtomicU64,
    pub(super) management: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) resubmits: AtomicU64,
    pub(super) pages: AtomicU64,
    pub(super) events: AtomicU64,
    pub(super) events_failed: AtomicU64,
    pub(super) pages_beyond_retention: AtomicU64,
    /// Whether any response was ever received (connection errors before
    /// that mean a wrong endpoint more likely than a blip).
    pub(crate) responded: std::sync::atomic::AtomicBool,
    /// The query quota as the last query response's `X-RateLimit-*` headers
    /// told it: `(limit, remaining, reset at)`.
    pub(super) quota: std::sync::Mutex<Option<(u64, u64, tokio::time::Instant)>>,
}

/// The key's query quota, as Rapid7's last `X-RateLimit-*` headers said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Queries per window (1,500 per 15 minutes by default).
    pub limit: u64,
    /// Queries left in the window.
    pub remaining: u64,
    /// Time until the window resets.
    pub resets_in: std::time::Duration,
}

impl ClientStats {
    /// Remember the quota a query response announced.
    pub(super) fn observe_quota(
        &self,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset: Option<std::time::Duration>,
    ) {
        if let (Some(limit), Some(remaining)) = (limit, remaining) {
            let now = tokio::time::Instant::now();
            let at = reset.and_then(|r| now.checked_add(r)).unwrap_or(now);
            *crate::locks::lock(&self.quota) = Some((limit, remaining, at));
        }
    }
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
    /// Events the decoder rejected ([`PageStats::failed`](super::PageStats::failed)).
    pub events_failed: u64,
    /// Pages Rapid7 answered with `x-beyond-retention: true`.
    pub pages_beyond_retention: u64,
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
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    /// `x-api-key`, marked sensitive.
    pub(super) api_key_header: HeaderValue,
    pub(super) config: ClientConfig,
    pub(super) limiter: RateLimiter,
    pub(super) stats: ClientStats,
    /// Whether the endpoint's `to` is inclusive, once observed (`edge.rs`).
    pub(super) edge: super::edge::ToEdge,
}

impl Client {
    /// A client for `config`, once [`ClientConfig::validate`] accepts it.
    pub fn new(config: ClientConfig) -> Result<Self> {
        config.validate()?;
        let key = config.api_key.expose();
        // Header values beyond ASCII are obsolete (RFC 9110 §5.5); Rapid7
        // keys are UUIDs.
        let header = HeaderValue::from_str(key).ok().filter(|_| key.is_ascii());
        let mut api_key_header = header.ok_or_else(|| Error::Config {
            key: super::config::ENV_API_KEY.into(),
            message: "the API key contains characters that cannot go in an HTTP header; \
                          copy it again from Rapid7 Insight (Settings > API Keys)"
                .into(),
        })?;
        // Kept out of `Debug` output and of HTTP/2 header compression tables.
        api_key_header.set_sensitive(true);
        let http = reqwest::Client::builder()
            .user_agent(concat!("datafusion-rapid7/", env!("CARGO_PKG_VERSION")))
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            // Links are followed explicitly so the key never goes to a host
            // we did not check.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::HttpClient {
                source: Some(Box::new(e)),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                limiter: RateLimiter::new(&config.rate_limit),
                http,
                api_key_header,
                config,
                stats: ClientStats::default(),
                edge: super::edge::ToEdge::default(),
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
            pages_beyond_retention: get(&s.pages_beyond_retention),
            rate_limit_waits: get(&l.waits),
            rate_limit_wait_ms: get(&l.waited_ms),
        }
    }

    /// The key's query quota as Rapid7 last announced it (`None` before any
    /// query, or when the responses carry no `X-RateLimit-*` headers).
    pub fn quota(&self) -> Option<Quota> {
        let (limit, remaining, at) = (*crate::locks::lock(&self.inner.stats.quota))?;
        Some(Quota {
            limit,
            remaining,
            resets_in: at.saturating_duration_since(tokio::time::Instant::now()),
        })
    }

    /// Every log the key can read (`GET /management/logs`).
    pub async fn list_logs(&self) -> Result<Vec<LogInfo>> {
        let url = self.url(&["management", "logs"]);
        let list: model::LogList = self.get_json(url, Namespace::Management).await?;
        Ok(list.into_logs())
    }

    /// Every log set, with its logs, including sets that have none (`GET
    /// /management/logsets`). Some keys may be refused it (403) or an
    /// endpoint may not serve it (404): [`Error::status`] says which.
    pub async fn list_logsets(&self) -> Result<Vec<LogSetDetail>> {
        let url = self.url(&["management", "logsets"]);
        let list: model::LogSetList = self.get_json(url, Namespace::Management).await?;
        Ok(list.into_sets())
    }

    /// One log by id (`GET /management/logs/{id}`).
    pub async fn get_log(&self, id: &str) -> Result<LogInfo> {
        let url = self.url(&["management", "logs", id]);
        let one: model::OneLog = self.get_json(url, Namespace::Management).await?;
        Ok(one.into_log())
    }

    /// The log with this id or name (exact id, then exact name, then a
    /// case-insensitive name); an error listing close matches otherwise.
    pub async fn resolve_log(&self, name_or_id: &str) -> Result<LogInfo> {
        let logs = self.list_logs().await?;
        resolve_log(&logs, name_or_id).cloned()
    }

    /// A link from a response, checked before the key is sent to it: same
    /// host as the endpoint, or another Rapid7 Insight host over https.
    pub(super) fn checked_link(&self, href: &str) -> Result<Url> {
        let endpoint = self.endpoint();
        let url = Url::parse(href).map_err(|e| Error::Decode {
            url: endpoint.to_string(),
            message: format!("response link {href:?} is not a URL ({e})"),
        })?;
        let same_origin = url.scheme() == endpoint.scheme()
            && url.host_str() == endpoint.host_str()
            && url.port_or_known_default() == endpoint.port_or_known_default();
        let rapid7 = url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(|h| h.ends_with(".insight.rapid7.com"));
        if same_origin || rapid7 {
            Ok(url)
        } else {
            Err(Error::Decode {
                url: endpoint.to_string(),
                message: format!(
                    "refusing to follow a link to {:?}: not the configured endpoint or a \
                     Rapid7 Insight host, and the API key would be sent to it",
                    url.host_str().unwrap_or_default()
                ),
            })
        }
    }

    /// `endpoint` + path segments (each percent-encoded).
    pub(super) fn url(&self, segments: &[&str]) -> Url {
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

impl Client {
    /// What `rapid7-sql doctor`'s probe observed of the endpoint's `to`:
    /// `true`, all the events stamped `to` came back (a `GET`, oldest
    /// first); `false`, none or only some did. It replaces what the client
    /// knew (`edge.rs`). Only an observation may be told: a `true` that is
    /// wrong would make event queries miss the events of their window's
    /// last millisecond.
    pub(crate) fn learn_to_inclusive(&self, inclusive: bool) {
        self.inner.edge.learn(inclusive);
    }

    /// Earlier observations (the cache's endpoint facts): the doctor's, as
    /// for [`Client::learn_to_inclusive`], and the request forms reads saw
    /// inclusive. The doctor's `false` outweighs everything; otherwise what
    /// this client observed itself stays.
    pub(crate) fn recall_to_inclusive(&self, doctor: Option<bool>, seen: &[ToForm]) {
        self.inner.edge.recall(doctor, seen);
    }

    /// The request forms this client's reads observed inclusive since the
    /// last call and still know so (for the caller to record them in the
    /// cache's endpoint facts).
    pub(crate) fn take_to_inclusive_observed(&self) -> Vec<ToForm> {
        self.inner.edge.take_observed()
    }
}
