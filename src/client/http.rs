//! One request with rate limiting, retries and classification.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use tokio::time::Instant;
use url::Url;

use super::backoff::Backoff;
use super::error::{Error, Result};
use super::model::error_message;
use super::rate_limit::Namespace;
use super::rest::{Client, ClientStats};
use super::retry::{RateLimitHeaders, hint_for};

/// A response that is worth parsing: 200 or 202.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Client {
    /// GET `url` and deserialize a 2xx body as `T`.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        ns: Namespace,
    ) -> Result<T> {
        self.get_parsed(url, ns, |_, body| {
            serde_json::from_slice(body).map_err(|e| e.to_string())
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
        parse: impl Fn(StatusCode, &[u8]) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let inner = &self.inner;
        let retry = inner.config.retry;
        let started = Instant::now();
        let mut backoff = Backoff::new(retry.backoff);
        let mut retries = 0u32;
        let mut rate_limit_waited = Duration::ZERO;
        loop {
            let failure = match self.send(&url, ns).await {
                Ok(resp) => match parse(resp.status, &resp.body) {
                    Ok(v) => return Ok(v),
                    Err(message) => Error::Decode {
                        url: url.to_string(),
                        message,
                    },
                },
                Err(SendError::RateLimited(wait)) => {
                    inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let wait = wait.unwrap_or_else(|| backoff.next_delay());
                    rate_limit_waited += wait;
                    if rate_limit_waited > retry.max_rate_limit_wait {
                        return Err(Error::Api {
                            method: "GET",
                            url: url.to_string(),
                            status: 429,
                            message: format!(
                                "API rate limit exceeded; waited {}s already and the server \
                                 asks for {}s more",
                                (rate_limit_waited - wait).as_secs(),
                                wait.as_secs()
                            ),
                            hint: Some(
                                "the key's 15-minute quota is spent (other tools may share \
                                 it); retry later, or lower the request rate",
                            ),
                        });
                    }
                    tracing::warn!(
                        url = %url,
                        wait_ms = wait.as_millis() as u64,
                        "logsearch_rate_limited"
                    );
                    inner.limiter.pause(ns, Instant::now() + wait);
                    continue;
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
            if retries >= retry.max_retries || started.elapsed() + delay > retry.retry_timeout {
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
                delay_ms = delay.as_millis() as u64,
                error = %failure,
                "logsearch_retry"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: wait for the limiter, send, read the whole body.
    async fn send(&self, url: &Url, ns: Namespace) -> Result<Response, SendError> {
        let inner = &self.inner;
        let permit = inner.limiter.acquire(ns).await;
        count(&inner.stats, ns);
        let transport = |message: String, source: Option<reqwest::Error>| {
            SendError::Retryable(Error::Transport {
                method: "GET",
                url: url.to_string(),
                message,
                source: source.map(|e| Box::new(e.without_url()) as _),
            })
        };
        let resp = inner
            .http
            .get(url.clone())
            .header("x-api-key", inner.config.api_key.expose())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                let never_answered = !inner.stats.responded.load(Ordering::Relaxed);
                let unreachable = e.is_connect() && never_answered;
                match transport(describe(&e, &inner.config), Some(e)) {
                    SendError::Retryable(err) if unreachable => SendError::Unreachable(err),
                    other => other,
                }
            })?;
        inner.stats.responded.store(true, Ordering::Relaxed);
        let status = resp.status();
        let limits = RateLimitHeaders::from_headers(resp.headers());
        if ns == Namespace::Query {
            inner.stats.observe_quota(
                limits.limit,
                limits.remaining,
                limits.reset.map(Duration::from_secs),
            );
        }
        let body = read_body(resp, inner.config.max_body_bytes)
            .await
            .map_err(|(m, e)| transport(m, e))?;
        drop(permit);

        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SendError::RateLimited(limits.rate_limit_wait()));
        }
        if let Some(wait) = limits.exhausted() {
            // The next request would be refused: hold the namespace until the
            // reset instead of spending a request on a 429.
            inner.limiter.pause(ns, Instant::now() + wait);
        }
        if status == StatusCode::OK || status == StatusCode::ACCEPTED {
            return Ok(Response { status, body });
        }
        let err = Error::Api {
            method: "GET",
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

/// Retries of a connection error while the endpoint has never answered.
const UNREACHABLE_RETRIES: u32 = 2;

enum SendError {
    RateLimited(Option<Duration>),
    /// A connection error before the endpoint ever answered: most likely a
    /// wrong endpoint or region, so only a few quick retries.
    Unreachable(Error),
    Retryable(Error),
    Final(Error),
}

fn count(stats: &ClientStats, ns: Namespace) {
    let c = match ns {
        Namespace::Query => &stats.queries,
        Namespace::Poll => &stats.polls,
        Namespace::Management => &stats.management,
    };
    c.fetch_add(1, Ordering::Relaxed);
}

fn describe(e: &reqwest::Error, config: &super::ClientConfig) -> String {
    if e.is_timeout() {
        format!(
            "timed out after {}s",
            config.request_timeout.as_secs_f64().round()
        )
    } else if e.is_connect() {
        format!(
            "could not connect to {} (check RAPID7_ENDPOINT / RAPID7_REGION and the network)",
            config.endpoint.host_str().unwrap_or_default()
        )
    } else {
        "request failed".to_string()
    }
}

async fn read_body(
    mut resp: reqwest::Response,
    max: usize,
) -> std::result::Result<Bytes, (String, Option<reqwest::Error>)> {
    if resp.content_length().is_some_and(|n| n as usize > max) {
        return Err((format!("response larger than {max} bytes"), None));
    }
    let mut buf = BytesMut::with_capacity(resp.content_length().unwrap_or(0) as usize);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > max {
                    return Err((format!("response larger than {max} bytes"), None));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) => {
                return Err((
                    "connection broke while reading the response".to_string(),
                    Some(e),
                ));
            }
        }
    }
}
