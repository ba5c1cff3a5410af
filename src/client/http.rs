//! One request with rate limiting, retries and classification.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use tokio::time::Instant;
use url::Url;

use super::backoff::Backoff;
use super::error::{Error, Result, Wait};
use super::model::error_message;
use super::rate_limit::{Acquired, Namespace, millis_u64, saturating_add};
use super::rest::{Client, ClientStats};
use super::retry::{RateLimitHeaders, hint_for};

/// A response that is worth parsing: 200 or 202.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// `x-beyond-retention: true`: the window reaches past the log's
    /// retention, so the answer lacks the events older than it. Holds
    /// `x-beyond-retention-message` (empty when there is none).
    pub(crate) beyond_retention: Option<String>,
    /// The `X-RateLimit-*` and `Retry-After` headers.
    pub(crate) limits: RateLimitHeaders,
}

/// One request: a GET of `url`, or, with a body, a POST of that JSON body
/// to `url` (`POST /query/logs` carries a statement too long for a URL).
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) url: Url,
    pub(crate) body: Option<Bytes>,
}

impl Outgoing {
    /// A GET of `url`.
    pub(crate) fn get(url: Url) -> Self {
        Outgoing { url, body: None }
    }

    /// The HTTP method, for messages.
    pub(crate) fn method(&self) -> &'static str {
        match self.body {
            Some(_) => "POST",
            None => "GET",
        }
    }
}

impl Client {
    /// GET `url` and deserialize a 2xx body as `T`.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        ns: Namespace,
    ) -> Result<T> {
        self.get_parsed(url, ns, |resp| {
            serde_json::from_slice(&resp.body).map_err(|e| e.to_string())
        })
        .await
    }

    /// GET `url` and parse a 2xx body with `parse`. Transport failures,
    /// 408/429/5xx and bodies that fail to parse (a truncated transfer) are
    /// retried under the client's policy; other statuses fail at once.
    pub(crate) async fn get_parsed<T>(
        &self,
        url: Url,
        ns: Namespace,
        parse: impl Fn(&Response) -> std::result::Result<T, String>,
    ) -> Result<T> {
        self.send_parsed(&Outgoing::get(url), ns, parse).await
    }

    /// [`Client::get_parsed`] for any [`Outgoing`] request (a POST is sent
    /// again as it is when retried: a query submit has no side effect).
    pub(crate) async fn send_parsed<T>(
        &self,
        req: &Outgoing,
        ns: Namespace,
        parse: impl Fn(&Response) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let url = &req.url;
        let inner = &self.inner;
        let retry = inner.config.retry;
        let started = Instant::now();
        let mut backoff = Backoff::new(retry.backoff);
        let mut retries = 0u32;
        // Time this request has spent held back by rate limits: the
        // server's pauses (its own 429s and those of other requests) and the
        // token bucket. At most `max_rate_limit_wait`.
        let mut rate_limit_waited = Duration::ZERO;
        loop {
            let budget_left = retry.max_rate_limit_wait.saturating_sub(rate_limit_waited);
            let deadline = saturating_add(Instant::now(), budget_left);
            let failure = match self.send(req, ns, deadline, &mut rate_limit_waited).await {
                // The in-flight slot is held until the body is decoded, so
                // bodies and what is decoded from them are bounded by
                // `max_concurrent_requests` (docs/runbook.md, "Memory").
                Ok((resp, _slot)) => match parse(&resp) {
                    Ok(v) => return Ok(v),
                    Err(message) => Error::Decode {
                        url: url.to_string(),
                        message,
                    },
                },
                Err(SendError::RateLimited { wait, message }) => {
                    inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let wait = wait.unwrap_or_else(|| backoff.next_delay());
                    if rate_limit_waited.saturating_add(wait) > retry.max_rate_limit_wait {
                        return Err(rate_limit_exceeded(
                            req,
                            format!(
                                "{message}; the server asks to wait {}s more",
                                secs_ceil(wait)
                            ),
                            rate_limit_waited,
                            retry.max_rate_limit_wait,
                        ));
                    }
                    tracing::warn!(
                        url = %url,
                        wait_ms = millis_u64(wait),
                        "logsearch_rate_limited"
                    );
                    inner
                        .limiter
                        .pause(ns, saturating_add(Instant::now(), wait));
                    continue;
                }
                Err(SendError::Held(wait)) => {
                    return Err(rate_limit_exceeded(
                        req,
                        format!(
                            "API rate limit exceeded; {} requests are held back for {}s more \
                             (the server's rate-limit window has not reset, or the configured \
                             rate is that low)",
                            ns.as_str(),
                            secs_ceil(wait)
                        ),
                        rate_limit_waited,
                        retry.max_rate_limit_wait,
                    ));
                }
                Err(SendError::Final(e)) => return Err(e),
                Err(SendError::Retryable(e)) => e,
                Err(SendError::Unreachable(e)) if retries >= UNREACHABLE_RETRIES => {
                    return Err(Error::RetriesExhausted {
                        retries,
                        elapsed: started.elapsed(),
                        source: Box::new(e),
                    });
                }
                Err(SendError::Unreachable(e)) => e,
            };
            let delay = backoff.next_delay();
            if retries >= retry.max_retries
                || started.elapsed().saturating_add(delay) > retry.retry_timeout
            {
                return Err(Error::RetriesExhausted {
                    retries,
                    elapsed: started.elapsed(),
                    source: Box::new(failure),
                });
            }
            retries += 1;
            inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                kind = ns.as_str(),
                retry = retries,
                delay_ms = millis_u64(delay),
                error = %failure,
                "logsearch_retry"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: wait for the limiter (until `deadline` at most; the wait
    /// is added to `rate_limit_waited`), send, read the whole body.
    async fn send(
        &self,
        req: &Outgoing,
        ns: Namespace,
        deadline: Instant,
        rate_limit_waited: &mut Duration,
    ) -> Result<(Response, Acquired<'_>), SendError> {
        let inner = &self.inner;
        let permit = inner
            .limiter
            .acquire(ns, deadline)
            .await
            .map_err(SendError::Held)?;
        *rate_limit_waited = rate_limit_waited.saturating_add(permit.rate_limit_wait);
        count(&inner.stats, ns);
        let url = &req.url;
        let transport = |message: String, source: Option<reqwest::Error>| {
            SendError::Retryable(Error::Transport {
                method: req.method(),
                url: url.to_string(),
                message,
                source: source.map(|e| Box::new(e.without_url()) as _),
            })
        };
        let timed_out = |e: reqwest::Error| {
            SendError::Retryable(Error::Timeout {
                method: req.method(),
                url: url.to_string(),
                wait: Wait::Request,
                after: inner.config.request_timeout,
                source: Some(Box::new(e.without_url())),
            })
        };
        let builder = match &req.body {
            None => inner.http.get(url.clone()),
            Some(body) => inner
                .http
                .post(url.clone())
                .header("content-type", "application/json")
                .body(body.clone()),
        };
        let resp = builder
            .header("x-api-key", inner.api_key_header.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                let never_answered = !inner.stats.responded.load(Ordering::Relaxed);
                let unreachable = e.is_connect() && never_answered;
                // A connection that timed out is unreachable, not slow: the
                // connect path below says so.
                if e.is_timeout() && !e.is_connect() {
                    return timed_out(e);
                }
                match transport(describe(&e, &inner.config), Some(e)) {
                    SendError::Retryable(err) if unreachable => SendError::Unreachable(err),
                    other => other,
                }
            })?;
        inner.stats.responded.store(true, Ordering::Relaxed);
        let status = resp.status();
        let limits = RateLimitHeaders::from_headers(resp.headers());
        let beyond_retention = beyond_retention(resp.headers());
        let body = match read_body(resp, inner.config.max_body_bytes).await {
            Ok(body) => body,
            Err(BodyError::TooLarge(announced)) => {
                // Asking again gets the same body: final.
                let size = announced.map_or_else(String::new, |n| format!(" ({n} bytes)"));
                return Err(SendError::Final(Error::Protocol {
                    url: url.to_string(),
                    message: format!(
                        "the response{size} is larger than the cap of {} bytes \
                         (ClientConfig::max_body_bytes)",
                        inner.config.max_body_bytes
                    ),
                    hint: Some(
                        "lower per_page (ClientBuilder::with_per_page) so each page is \
                         smaller, or raise the cap (ClientBuilder::with_max_body_bytes)",
                    ),
                }));
            }
            Err(BodyError::Broken(e)) if e.is_timeout() => return Err(timed_out(e)),
            Err(BodyError::Broken(e)) => {
                return Err(transport(
                    "connection broke while reading the response".to_string(),
                    Some(e),
                ));
            }
        };
        let now_ms = crate::time::now_ms();
        if ns == Namespace::Query {
            inner.stats.observe_quota(
                limits.limit,
                limits.remaining,
                limits.reset.map(|r| super::retry::reset_delay(r, now_ms)),
            );
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SendError::RateLimited {
                wait: limits.rate_limit_wait(now_ms),
                message: error_message(&body),
            });
        }
        if let Some(wait) = limits.exhausted(now_ms) {
            // The next request would be refused: hold the namespace until the
            // reset instead of spending a request on a 429. A reset beyond the
            // wait budget is not held for: the next request goes, and if the
            // server does refuse it, its 429 ends the request with the
            // server's message.
            if wait <= inner.config.retry.max_rate_limit_wait {
                inner
                    .limiter
                    .pause(ns, saturating_add(Instant::now(), wait));
            } else {
                tracing::warn!(
                    kind = ns.as_str(),
                    reset = limits.reset,
                    detail = "X-RateLimit-Reset is beyond the rate-limit wait budget",
                    "logsearch_rate_limit_reset_ignored"
                );
            }
        }
        if status == StatusCode::OK || status == StatusCode::ACCEPTED {
            return Ok((
                Response {
                    status,
                    body,
                    beyond_retention,
                    limits,
                },
                permit,
            ));
        }
        let err = Error::Api {
            method: req.method(),
            url: url.to_string(),
            status: status.as_u16(),
            message: error_message(&body),
            hint: hint_for(status.as_u16(), ns),
        };
        if super::error::is_retryable_status(status.as_u16()) {
            Err(SendError::Retryable(err))
        } else {
            Err(SendError::Final(err))
        }
    }
}

/// `x-beyond-retention: true` (any case) and its message.
fn beyond_retention(h: &reqwest::header::HeaderMap) -> Option<String> {
    let flag = h.get("x-beyond-retention")?.to_str().ok()?;
    if !flag.trim().eq_ignore_ascii_case("true") {
        return None;
    }
    let message = h
        .get("x-beyond-retention-message")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
        .unwrap_or_default();
    Some(message.chars().take(500).collect())
}

/// Retries of a connection error while the endpoint has never answered.
const UNREACHABLE_RETRIES: u32 = 2;

enum SendError {
    /// A 429: how long the server asks to wait, and its message.
    RateLimited {
        wait: Option<Duration>,
        message: String,
    },
    /// The limiter would hold the request past its rate-limit deadline, for
    /// this long.
    Held(Duration),
    /// A connection error before the endpoint ever answered: most likely a
    /// wrong endpoint or region, so only a few quick retries.
    Unreachable(Error),
    Retryable(Error),
    Final(Error),
}

/// Whole seconds, rounded up (a wait of 3599.9 s is "3600s").
fn secs_ceil(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

/// The 429 error of a request whose rate-limit waits would pass its budget.
fn rate_limit_exceeded(req: &Outgoing, why: String, waited: Duration, budget: Duration) -> Error {
    Error::Api {
        method: req.method(),
        url: req.url.to_string(),
        status: 429,
        message: format!(
            "{why}, beyond the rate-limit wait budget of {}s \
             (RetryConfig::max_rate_limit_wait; {}s waited already)",
            secs_ceil(budget),
            waited.as_secs()
        ),
        hint: Some(
            "the key's 15-minute quota is spent (other tools may share it); retry later, \
             or lower the request rate",
        ),
    }
}

fn count(stats: &ClientStats, ns: Namespace) {
    let c = match ns {
        Namespace::Query => {
            super::meter::QueryMeter::count_query();
            &stats.queries
        }
        Namespace::Poll => &stats.polls,
        Namespace::Management => &stats.management,
    };
    c.fetch_add(1, Ordering::Relaxed);
}

fn describe(e: &reqwest::Error, config: &super::ClientConfig) -> String {
    if e.is_connect() {
        format!(
            "could not connect to {} (check RAPID7_ENDPOINT / RAPID7_REGION and the network)",
            config.endpoint.host_str().unwrap_or_default()
        )
    } else {
        "request failed".to_string()
    }
}

/// Why a body could not be read.
enum BodyError {
    /// More than the cap, with the size the response announced.
    TooLarge(Option<u64>),
    Broken(reqwest::Error),
}

async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<Bytes, BodyError> {
    let announced = resp.content_length();
    if let Some(n) = announced.filter(|n| usize::try_from(*n).map_or(true, |n| n > max)) {
        return Err(BodyError::TooLarge(Some(n)));
    }
    let capacity = announced.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let mut buf = BytesMut::with_capacity(capacity);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len().saturating_add(chunk.len()) > max {
                    return Err(BodyError::TooLarge(None));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) => return Err(BodyError::Broken(e)),
        }
    }
}
