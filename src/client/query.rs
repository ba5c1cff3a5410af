//! An event query: submit, poll until finished, follow `Next` pages.
//!
//! Each page is one query request (`202` then polls of its `Self` link until
//! a body without a `Self` link arrives). A finished page may carry events
//! *and* a `Next` link; its events are kept and the `Next` URL is requested
//! verbatim. An expired continuation (404 while polling) resubmits the page's
//! own request. Events are restricted to `[from, to)` and deduplicated on
//! `(log_id, sequence_number)` across pages (see [`super::page`]).
//!
//! Rapid7 does not document whether `to` is inclusive. The client asks for
//! `to` = the window's exclusive end and drops any event stamped exactly `to`,
//! so the result is `[from, to)` either way.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::StatusCode;
use tokio::time::Instant;
use url::Url;

use super::error::{Error, Result};
use super::model::find_link;
use super::page::{Cursor, EventPage, ParsedBody, parse_page};
use super::rate_limit::Namespace;
use super::rest::Client;
use crate::log_id::LogId;

/// Consecutive pages whose `Next` link did not move before the query fails.
const MAX_STALLED_PAGES: u32 = 3;

/// Shortest wait between two polls of a running query.
const MIN_POLL_DELAY: std::time::Duration = std::time::Duration::from_millis(1);

impl Client {
    /// The events of one log with `from <= timestamp < to` (epoch ms), as
    /// pages. Nothing is requested until the first page is asked for.
    pub fn query_events(&self, log_id: &str, from: i64, to: i64) -> Result<EventQuery> {
        if from >= to {
            return Err(Error::InvalidRange {
                start: from,
                end: to,
            });
        }
        let log_id = LogId::new(log_id).map_err(|e| Error::Config {
            key: "log id".into(),
            message: format!(
                "{e}; use an id or name from SELECT * FROM \
                 information_schema.tables WHERE table_schema = 'rapid7'"
            ),
        })?;
        let log_id = log_id.as_str();
        let mut url = self.url(&["query", "logs", log_id]);
        url.query_pairs_mut()
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string())
            .append_pair("per_page", &self.inner.config.per_page.to_string());
        Ok(EventQuery::new(self.clone(), log_id, (from, to), url))
    }
}

/// A query for one log's events in one window; see the module docs.
#[derive(Debug)]
pub struct EventQuery {
    client: Client,
    log_id: Arc<str>,
    window: (i64, i64),
    next: Option<Url>,
    cursor: Cursor,
    page_number: u64,
    events_total: u64,
    stalled: u32,
}

impl EventQuery {
    pub(crate) fn new(client: Client, log_id: &str, window: (i64, i64), first: Url) -> Self {
        Self {
            client,
            log_id: log_id.into(),
            window,
            next: Some(first),
            cursor: None,
            page_number: 0,
            events_total: 0,
            stalled: 0,
        }
    }

    /// The log queried.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The window, `[from, to)` epoch ms.
    pub fn window(&self) -> (i64, i64) {
        self.window
    }

    /// Events returned so far.
    pub fn events_total(&self) -> u64 {
        self.events_total
    }

    /// The next finished page, or `None` when the query is exhausted.
    pub async fn next_page(&mut self) -> Result<Option<EventPage>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        self.page_number += 1;
        let body = self.fetch_finished(&url).await?;
        if body.statistical {
            return Err(Error::Decode {
                url: url.to_string(),
                message: "expected an event page, got a statistical result".into(),
            });
        }
        let stats = body.stats;
        let next = match find_link(&body.links, "Next") {
            Some(link) => Some(self.checked_link(&link.href)?),
            None => None,
        };
        if let Some(n) = &next {
            if *n == url {
                self.stalled += 1;
                tracing::warn!(
                    log_id = %self.log_id,
                    page = self.page_number,
                    "logsearch_cursor_stalled: the Next link repeats the current page"
                );
                if self.stalled >= MAX_STALLED_PAGES {
                    return Err(Error::Decode {
                        url: url.to_string(),
                        message: format!(
                            "pagination does not advance: the same Next link came back \
                             {MAX_STALLED_PAGES} times"
                        ),
                    });
                }
            } else {
                self.stalled = 0;
            }
        }
        self.cursor = self.cursor.max(body.max_key);
        self.events_total += stats.accepted;
        let client_stats = &self.client.inner.stats;
        client_stats.pages.fetch_add(1, Ordering::Relaxed);
        client_stats
            .events
            .fetch_add(stats.accepted, Ordering::Relaxed);
        client_stats
            .events_failed
            .fetch_add(stats.failed, Ordering::Relaxed);
        let next_from = next.as_ref().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "from")
                .and_then(|(_, v)| v.parse::<i64>().ok())
        });
        tracing::debug!(
            log_id = %self.log_id,
            page = self.page_number,
            events = stats.accepted,
            received = stats.received,
            duplicates = stats.duplicates,
            out_of_window = stats.out_of_window,
            failed = stats.failed,
            page_min_ts = stats.min_timestamp,
            page_max_ts = stats.max_timestamp,
            next_from,
            events_total = self.events_total,
            "logsearch_page_complete"
        );
        self.next = next;
        Ok(Some(EventPage {
            log_id: Arc::clone(&self.log_id),
            page_number: self.page_number,
            columns: body.columns,
            stats,
        }))
    }

    /// The pages as a stream. Dropping the stream stops the requests.
    pub fn into_stream(self) -> BoxStream<'static, Result<EventPage>> {
        futures::stream::try_unfold(self, |mut q| async move {
            Ok(q.next_page().await?.map(|p| (p, q)))
        })
        .boxed()
    }

    /// Request `url` and poll until the page is finished, resubmitting it when
    /// its continuation expires.
    async fn fetch_finished(&mut self, url: &Url) -> Result<ParsedBody> {
        let poll = self.client.inner.config.poll;
        let mut resubmits = 0;
        'submit: loop {
            let mut body = self.request(url.clone(), Namespace::Query).await?;
            let started = Instant::now();
            // At least a millisecond between polls: a zero setting must not
            // spin on the API.
            let mut delay = poll.initial.max(MIN_POLL_DELAY);
            while let Some(link) = find_link(&body.links, "Self") {
                if started.elapsed() > poll.query_timeout {
                    return Err(Error::Transport {
                        method: "GET",
                        url: url.to_string(),
                        message: format!(
                            "Rapid7 did not finish the query within {}s; try a smaller window",
                            poll.query_timeout.as_secs()
                        ),
                        source: None,
                    });
                }
                let self_url = self.checked_link(&link.href)?;
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2).min(poll.max).max(MIN_POLL_DELAY);
                match self.request(self_url, Namespace::Poll).await {
                    Ok(b) => body = b,
                    Err(e) if e.status() == Some(404) && resubmits < poll.max_resubmits => {
                        resubmits += 1;
                        self.client
                            .inner
                            .stats
                            .resubmits
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            log_id = %self.log_id,
                            page = self.page_number,
                            resubmits,
                            "logsearch_continuation_expired: resubmitting the page"
                        );
                        continue 'submit;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(body);
        }
    }

    async fn request(&self, url: Url, ns: Namespace) -> Result<ParsedBody> {
        let (log_id, window, cursor, page) =
            (&*self.log_id, self.window, self.cursor, self.page_number);
        self.client
            .get_parsed(url, ns, |status, body| {
                let parsed = parse_page(body, log_id, window, cursor, page)
                    .map_err(|e| format!("invalid JSON ({e})"))?;
                if status == StatusCode::ACCEPTED && find_link(&parsed.links, "Self").is_none() {
                    return Err("202 without a Self link to poll".to_string());
                }
                Ok(parsed)
            })
            .await
    }

    /// A link from a response, checked before the key is sent to it: same
    /// host as the endpoint, or another Rapid7 Insight host over https.
    fn checked_link(&self, href: &str) -> Result<Url> {
        let endpoint = self.client.endpoint();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientBuilder;

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
}
