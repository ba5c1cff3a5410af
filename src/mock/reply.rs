//! An answer before headers are added, and how it becomes a response: the
//! content type, the `X-RateLimit-*` and `Retry-After` headers, and the
//! injected connection reset in the middle of a body.

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::encode;
use super::faults::ResetHeader;
use super::ratelimit::RateInfo;

/// An answer before headers are added.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    content_type: &'static str,
    pub(crate) retry_after: Option<u64>,
    /// Send this many body bytes, then drop the connection.
    pub(crate) reset_after: Option<usize>,
    /// More headers (`x-beyond-retention`).
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Vec<u8>) -> Self {
        Self {
            status,
            body,
            content_type: "application/json",
            retry_after: None,
            reset_after: None,
            headers: Vec::new(),
        }
    }

    pub(crate) fn value(status: StatusCode, v: &serde_json::Value) -> Self {
        Self::json(status, v.to_string().into_bytes())
    }

    pub(crate) fn rate_limited(retry_after: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: b"API rate limit exceeded".to_vec(),
            content_type: "text/plain",
            retry_after: Some(retry_after),
            reset_after: None,
            headers: Vec::new(),
        }
    }

    pub(crate) fn unavailable() -> Self {
        Self::json(
            StatusCode::SERVICE_UNAVAILABLE,
            encode::message_body("Service Unavailable"),
        )
    }

    pub(crate) fn not_found(msg: &str) -> Self {
        Self::json(StatusCode::NOT_FOUND, encode::code_body(404, msg))
    }

    /// Mark the answer as reaching beyond the log's retention, which starts
    /// at `start_ms`.
    pub(crate) fn beyond_retention(mut self, start_ms: i64) -> Self {
        self.headers.push(("x-beyond-retention", "true".into()));
        self.headers.push((
            "x-beyond-retention-message",
            format!(
                "The requested time range is beyond the retention period of the log; \
                 events before {start_ms} (epoch ms) are not available"
            ),
        ));
        self
    }

    /// The response, with `X-RateLimit-Reset` written in the `reset` style.
    pub(crate) fn finish(self, rate: RateInfo, reset: ResetHeader) -> Response {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        h.insert(
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderValue::from(rate.limit),
        );
        h.insert(
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(rate.remaining),
        );
        h.insert(
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderValue::from(reset.value(rate.reset_secs, crate::time::now_ms())),
        );
        if let Some(secs) = self.retry_after {
            h.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
        if let Some(cut) = self.reset_after {
            // Promise the whole body, send part of it, then fail the stream:
            // hyper drops the connection mid-body.
            h.insert(CONTENT_LENGTH, HeaderValue::from(self.body.len()));
            let mut body = self.body;
            body.truncate(cut);
            // The first half goes out (and is flushed while the stream waits);
            // then the stream fails and hyper drops the connection.
            let first = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
            let reset = futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated connection reset",
                ))
            });
            let chunks = futures::StreamExt::chain(first, reset);
            return (self.status, h, Body::from_stream(chunks)).into_response();
        }
        (self.status, h, Body::from(self.body)).into_response()
    }
}
