//! A merged query: the events of several logs over one window, read by one
//! query (rapid7-api.md §2: `GET /query/logs/{id1:id2:…}`, or `POST
//! /query/logs` with the list of logs in its body), oldest first.
//!
//! Each page is checked as it is decoded ([`super::page::merged`]): every
//! event of a log asked for, the stream in strictly increasing
//! `(timestamp, sequence_number)` order across logs and pages. A page that
//! breaks a rule fails the query with [`Error::MergedAnswer`]; its caller
//! reads the logs one by one instead. The events of each page come back
//! split by log, as the pages a query of that log alone would give.
//!
//! Every page's request is built from the query itself: the logs, the
//! statement and the window, with the `Next` link's cursor (`from`,
//! `sequence_number` and its other parameters) on it. The link's own path
//! is never followed, so a link that named fewer logs could not drop any.
//! The list goes in the URL while the URL stays within
//! [`MAX_GET_URL_BYTES`], in a POST body beyond (the SPEC calls the
//! `:`-joined form deprecated for long lists). As single-log reads do, the
//! query asks `to` = the window's exclusive end and drops events stamped
//! `to`, exact whichever way Rapid7 reads `to`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tracing::Instrument;
use url::Url;

use super::error::{Error, Result};
use super::http::Outgoing;
use super::model::find_link;
use super::page::merged::{Asked, Stream};
use super::page::split::{parse_merged_page, split};
use super::page::{Cursor, EventPage, Order, PageStats, ParsedBody, Resume};
use super::poll::{poll_body, pollable};
use super::query::{MAX_GET_STATEMENT_BYTES, page_cap};
use super::rate_limit::Namespace;
use super::rest::Client;
use crate::log_id::LogId;

/// Most logs one merged query names. Rapid7 documents no limit; this one
/// keeps a request's body and its answer's `logs` list small.
pub const MAX_LOGS_PER_QUERY: usize = 100;

/// Longest URL of a merged query sent as a GET; a longer one (many logs, a
/// long statement) is a POST of the same query.
pub const MAX_GET_URL_BYTES: usize = 2048;

/// Pages in a row that add nothing and move no cursor before the query fails.
const MAX_STALLED_PAGES: usize = 3;

/// One page of a merged query, split by log.
#[derive(Debug)]
pub struct MergedPage {
    /// 1-based number of this page within its query.
    pub page_number: u64,
    /// One page per log asked for (in the order asked), each holding that
    /// log's events of this page (often none).
    pub logs: Vec<EventPage>,
    /// What happened to the page's events, all logs together.
    pub stats: PageStats,
}

/// The events of several logs over one window; see the module docs.
#[derive(Debug)]
pub struct MergedQuery {
    client: Client,
    logs: Vec<Arc<str>>,
    asked: Asked,
    label: String,
    window: (i64, i64),
    statement: Arc<str>,
    /// The parameters of the next page's request beyond the window (the
    /// `Next` link's cursor); `None` once there is no next page.
    next: Option<Vec<(String, String)>>,
    /// The next page's `from`.
    next_from: i64,
    resume: Resume,
    stream: Stream,
    reach: Cursor,
    page_number: u64,
    max_pages: u64,
    stalled: usize,
    /// Newest first, the query is one page: the newest events of the
    /// window (`merged_newest.rs` steps below it).
    order: Order,
    /// Newest first: whether the page had a `Next` link (more remain).
    more: bool,
}

impl Client {
    /// The events of `logs` (at least one, at most [`MAX_LOGS_PER_QUERY`])
    /// with `from <= timestamp < to` that `statement` selects (empty: every
    /// event), by one merged query. Nothing is requested until the first
    /// page is asked for.
    pub fn query_merged(
        &self,
        logs: &[&str],
        from: i64,
        to: i64,
        statement: &str,
    ) -> Result<MergedQuery> {
        if from >= to {
            return Err(Error::InvalidRange {
                start: from,
                end: to,
            });
        }
        if logs.is_empty() || logs.len() > MAX_LOGS_PER_QUERY {
            return Err(Error::Config {
                key: "logs".into(),
                message: format!(
                    "a merged query names 1 to {MAX_LOGS_PER_QUERY} logs, not {}",
                    logs.len()
                ),
            });
        }
        let logs = logs
            .iter()
            .map(|l| Ok(Arc::from(LogId::new(*l)?.as_str())))
            .collect::<Result<Vec<Arc<str>>>>()?;
        let per_page = self.inner.config.per_page;
        Ok(MergedQuery {
            client: self.clone(),
            asked: Asked::new(&logs),
            label: format!("{} logs", logs.len()),
            logs,
            window: (from, to),
            statement: Arc::from(statement),
            next: Some(vec![("per_page".into(), per_page.to_string())]),
            next_from: from,
            resume: Resume::default(),
            stream: Stream::default(),
            reach: None,
            page_number: 0,
            max_pages: page_cap((from, to), per_page),
            stalled: 0,
            order: Order::OldestFirst,
            more: false,
        })
    }
}

/// Why a merged answer's `Next` link would skip events, if it would: its
/// cursor (`from`, and `sequence_number`, 0 without one) must not lie past
/// the stream's last event (`stream`, after the page), nor, before any event
/// came, past the cursor of the request (`request_from`, and the
/// `sequence_number` of its `params`): the events between were never
/// returned, of any log.
fn link_beyond(
    link: &Url,
    stream: &Stream,
    params: &[(String, String)],
    request_from: i64,
) -> Option<String> {
    let param = |name: &str| {
        link.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let from = param("from")?.parse::<i64>().ok()?;
    let seq = match param("sequence_number") {
        Some(s) => s.parse::<u64>().ok()?,
        None => 0,
    };
    let bound = stream.last().unwrap_or_else(|| {
        let seq = params
            .iter()
            .find(|(k, _)| k == "sequence_number")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        (request_from, seq)
    });
    ((from, seq) > bound).then(|| {
        format!(
            "a Next link's cursor ({from}, {seq}) lies past the last event returned ({}, {}): \
             the events between would be skipped",
            bound.0, bound.1
        )
    })
}

impl MergedQuery {
    /// The logs asked for.
    pub fn logs(&self) -> &[Arc<str>] {
        &self.logs
    }

    /// This query asked newest first (`most_recent_first=true`): one page,
    /// the newest events of the window; see `merged_newest.rs`.
    pub(crate) fn newest_first(mut self) -> Self {
        self.order = Order::NewestFirst;
        if let Some(params) = &mut self.next {
            params.push(("most_recent_first".into(), "true".into()));
        }
        self
    }

    /// This query, its events already returned (by the queries before
    /// it) dropped as repeats.
    pub(crate) fn after(mut self, resume: Resume) -> Self {
        self.resume = resume;
        self
    }

    /// What was returned, as [`MergedQuery::after`] takes it.
    pub(crate) fn resume(&self) -> &Resume {
        &self.resume
    }

    /// Newest first: whether the page had a `Next` link.
    pub(crate) fn more(&self) -> bool {
        self.more
    }

    /// The next page, split by log, or `None` when the query is exhausted.
    pub async fn next_page(&mut self) -> Result<Option<MergedPage>> {
        if self.next.is_none() {
            return Ok(None);
        }
        let span = crate::trace::page_span(self.page_number + 1);
        self.next_page_in_span().instrument(span).await
    }

    async fn next_page_in_span(&mut self) -> Result<Option<MergedPage>> {
        let Some(params) = self.next.take() else {
            return Ok(None);
        };
        let submit = self.request_for(&params);
        if self.page_number >= self.max_pages {
            return Err(Error::Protocol {
                url: submit.url.to_string(),
                message: format!(
                    "Rapid7 sent Next links beyond {} pages for a merged query of {}",
                    self.max_pages, self.label
                ),
                hint: Some("Rapid7 keeps paginating; retry later, or query a smaller window"),
            });
        }
        self.page_number += 1;
        let mut body = self.fetch_finished(&submit).await?;
        if body.statistical {
            return Err(Error::Decode {
                url: submit.url.to_string(),
                message: "expected an event page, got a statistical result".into(),
            });
        }
        let lanes = body.merged.take().unwrap_or_default();
        if let Some(reason) = lanes.violation {
            return Err(self.violation(&submit.url, reason));
        }
        if let Some(header) = &body.beyond_retention {
            // Whose retention it speaks of is not said: stamped on every
            // log's segment it would mark them all incomplete for good.
            return Err(Error::MergedAnswer {
                url: submit.url.to_string(),
                logs: self.logs.len(),
                reason: format!(
                    "the answer says the window reaches beyond retention ({header}), \
                     not of which log"
                ),
                broken: false,
            });
        }
        let mut stats = body.stats;
        stats.beyond_retention = false;
        if self.order == Order::NewestFirst {
            // Its `Next` link is not followed (`merged_newest.rs`).
            self.more = find_link(&body.links, "Next").is_some();
        }
        let past_end = stats.max_timestamp.is_some_and(|t| t >= self.window.1);
        let link = find_link(&body.links, "Next")
            .filter(|_| !past_end && self.order == Order::OldestFirst)
            .map(|l| self.client.checked_link(&l.href))
            .transpose()?;
        if let Some(reason) = link
            .as_ref()
            .and_then(|l| link_beyond(l, &lanes.stream, &params, self.next_from))
        {
            return Err(self.violation(&submit.url, reason));
        }
        self.check_progress(&submit.url, link.as_ref(), &body)?;
        self.resume.advance(self.order, &body);
        self.stream = lanes.stream;
        self.next = link.as_ref().map(|l| self.cursor_params(l));
        let client_stats = &self.client.inner.stats;
        client_stats.pages.fetch_add(1, Ordering::Relaxed);
        client_stats
            .events
            .fetch_add(stats.accepted, Ordering::Relaxed);
        client_stats
            .events_failed
            .fetch_add(stats.failed, Ordering::Relaxed);
        tracing::debug!(
            logs = self.logs.len(),
            page = self.page_number,
            events = stats.accepted,
            received = stats.received,
            page_min_ts = stats.min_timestamp,
            page_max_ts = stats.max_timestamp,
            from_ms = self.window.0,
            to_ms = self.window.1,
            "logsearch_merged_page_complete"
        );
        let columns = split(&body.columns, &lanes.kept, self.logs.len());
        let logs = columns
            .into_iter()
            .enumerate()
            .map(|(lane, columns)| {
                let (min, max) = (
                    columns.timestamps.iter().min().copied(),
                    columns.timestamps.iter().max().copied(),
                );
                let accepted = columns.len() as u64;
                EventPage {
                    log_id: Arc::clone(&self.logs[lane]),
                    page_number: self.page_number,
                    stats: PageStats {
                        received: accepted + lanes.failed[lane],
                        accepted,
                        failed: lanes.failed[lane],
                        object_messages: lanes.objects[lane],
                        beyond_retention: stats.beyond_retention,
                        min_timestamp: min,
                        max_timestamp: max,
                        ..PageStats::default()
                    },
                    columns,
                    beyond_retention_message: body.beyond_retention.clone(),
                }
            })
            .collect();
        Ok(Some(MergedPage {
            page_number: self.page_number,
            logs,
            stats,
        }))
    }

    /// The parameters a `Next` link carries beyond the logs, the window and
    /// the statement (its cursor), and its `from`.
    fn cursor_params(&mut self, link: &Url) -> Vec<(String, String)> {
        let mut kept = Vec::new();
        for (k, v) in link.query_pairs() {
            match k.as_ref() {
                "from" => {
                    if let Ok(from) = v.trim().parse::<i64>() {
                        self.next_from = from;
                    }
                }
                "to" | "query" => {}
                _ => kept.push((k.into_owned(), v.into_owned())),
            }
        }
        kept
    }

    /// The request of a page: `from` (the cursor's), the window's `to`,
    /// `params`, the logs and the statement; a GET while its URL is short
    /// enough, a POST beyond.
    fn request_for(&self, params: &[(String, String)]) -> Outgoing {
        let ids: Vec<&str> = self.logs.iter().map(|l| &**l).collect();
        let window = (self.next_from, self.window.1);
        merged_submit(&self.client, &ids, window, &self.statement, params)
    }

    /// The error of an answer that broke a rule of the merged stream (the
    /// endpoint is remembered as unfit for merged reads), logged.
    fn violation(&self, url: &Url, reason: String) -> Error {
        tracing::warn!(
            logs = self.logs.len(),
            page = self.page_number,
            reason = %reason,
            "logsearch_merged_violation"
        );
        Error::MergedAnswer {
            url: url.to_string(),
            logs: self.logs.len(),
            reason,
            broken: true,
        }
    }

    /// Fail after [`MAX_STALLED_PAGES`] pages in a row that added no event
    /// and moved no cursor.
    fn check_progress(&mut self, url: &Url, next: Option<&Url>, body: &ParsedBody) -> Result<()> {
        let link_mark = next.and_then(|u| {
            let param = |name: &str| {
                u.query_pairs()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            };
            Some((
                i64::try_from(param("from")?).ok()?,
                param("sequence_number")?,
            ))
        });
        let mark = body.max_seen.max(link_mark);
        let advanced = body.stats.accepted > 0 || mark > self.reach;
        self.reach = self.reach.max(mark);
        if advanced || next.is_none() {
            self.stalled = 0;
            return Ok(());
        }
        self.stalled += 1;
        if self.stalled < MAX_STALLED_PAGES {
            return Ok(());
        }
        Err(Error::Protocol {
            url: url.to_string(),
            message: format!(
                "pagination of a merged query of {} does not advance: {MAX_STALLED_PAGES} pages \
                 in a row added no new event and did not move the cursor",
                self.label
            ),
            hint: Some("this is Rapid7's answer; retry later, and report the links if it persists"),
        })
    }

    async fn fetch_finished(&mut self, submit: &Outgoing) -> Result<ParsedBody> {
        poll_body(
            &self.client,
            submit,
            &self.label,
            self.page_number,
            |req, ns| self.request(req, ns),
        )
        .await
    }

    async fn request(&self, req: Outgoing, ns: Namespace) -> Result<ParsedBody> {
        let (label, asked, stream, window, resume, page, order) = (
            self.label.as_str(),
            &self.asked,
            &self.stream,
            self.window,
            &self.resume,
            self.page_number,
            self.order,
        );
        self.client
            .send_parsed(&req, ns, |resp| {
                let mut parsed = parse_merged_page(
                    &resp.body, label, asked, stream, window, resume, page, order,
                )
                .map_err(|e| format!("invalid JSON ({e})"))?;
                pollable(resp.status, &parsed.links)?;
                parsed.beyond_retention = resp.beyond_retention.clone();
                Ok(parsed)
            })
            .await
    }
}

/// The request of a merged query of `logs` over `(from, to)` with
/// `statement` and `params` (`per_page`, a cursor): a GET of
/// `/query/logs/{id1:id2:…}` while its URL is at most
/// [`MAX_GET_URL_BYTES`], else a POST of `/query/logs` with the logs, the
/// window and the statement in its body and `params` on its URL.
pub(crate) fn merged_submit(
    client: &Client,
    logs: &[&str],
    (from, to): (i64, i64),
    statement: &str,
    params: &[(String, String)],
) -> Outgoing {
    let mut get = client.url(&["query", "logs", &logs.join(":")]);
    {
        let mut pairs = get.query_pairs_mut();
        pairs
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string());
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
        if !statement.trim().is_empty() {
            pairs.append_pair("query", statement);
        }
    }
    if get.as_str().len() <= MAX_GET_URL_BYTES && statement.len() <= MAX_GET_STATEMENT_BYTES {
        return Outgoing::get(get);
    }
    let mut post = client.url(&["query", "logs"]);
    if !params.is_empty() {
        let mut pairs = post.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
    }
    let body = serde_json::json!({
        "logs": logs,
        "leql": {
            "statement": statement,
            "during": { "from": from, "to": to },
        },
    });
    Outgoing {
        url: post,
        body: Some(body.to_string().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientBuilder;

    #[test]
    fn short_lists_go_in_the_url_long_ones_in_a_post() {
        let client = ClientBuilder::new()
            .with_endpoint("http://127.0.0.1:9")
            .with_api_key("k")
            .build()
            .unwrap();
        let q = client
            .query_merged(&["a", "b"], 5, 9, "where(/x/)")
            .unwrap();
        let get = q.request_for(&[("per_page".into(), "500".into())]);
        assert_eq!(get.method(), "GET");
        assert!(get.url.path().ends_with("/query/logs/a:b"), "{}", get.url);
        let ids: Vec<String> = (0..MAX_LOGS_PER_QUERY)
            .map(|i| format!("0b9a242d-d2fb-4e42-8656-{i:012}"))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let q = client.query_merged(&refs, 5, 9, "").unwrap();
        let post = q.request_for(&[("sequence_number".into(), "3".into())]);
        assert_eq!((post.method(), post.url.path()), ("POST", "/query/logs"));
        assert_eq!(post.url.query(), Some("sequence_number=3"));
        let body: serde_json::Value = serde_json::from_slice(post.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["logs"].as_array().unwrap().len(), MAX_LOGS_PER_QUERY);
        assert_eq!(
            body["leql"]["during"],
            serde_json::json!({"from": 5, "to": 9})
        );
        assert!(client.query_merged(&[], 5, 9, "").is_err());
        assert!(client.query_merged(&["a/b"], 5, 9, "").is_err());
        assert!(client.query_merged(&["a"], 9, 9, "").is_err());
    }
}
