//! An event query: submit, poll until finished, follow `Next` pages.
//!
//! Each page is one query request (`202` then polls of its `Self` link until
//! a body without a `Self` link arrives). A finished page may carry events
//! *and* a `Next` link; its events are kept and the `Next` URL is requested
//! verbatim. An expired continuation (404 while polling) resubmits the page's
//! own request. Events are restricted to `[from, to)` and deduplicated on
//! `(log_id, sequence_number)` across pages (see [`super::page`]).
//!
//! A statement longer than [`MAX_GET_STATEMENT_BYTES`] does not go in a URL:
//! the query is `POST /query/logs` with the statement in its JSON body, and
//! each `Next` link is followed the same way (its `from`, `to` in the body,
//! its other parameters, such as `sequence_number`, on the POST's URL), so
//! no request line grows with the statement.
//!
//! Newest first (`most_recent_first=true`), Rapid7's `Next` link is not
//! followed: how it continues is undocumented, and a link that went on
//! strictly before a page's oldest millisecond would skip the rest of that
//! millisecond unseen. Each page is a new request of the window with `to`
//! = the oldest millisecond returned + 1, the events already returned
//! dropped ([`Resume`]); only the presence of a `Next` link is taken to
//! mean more remain. A page with nothing older than what was read (a
//! millisecond of `per_page` events or more) has its millisecond read whole,
//! oldest first, by the documented cursor; then newest first below it. Each
//! request thus reaches strictly lower: the pages end.
//!
//! Rapid7 does not document whether `to` is inclusive. The client asks for
//! `to` = the window's exclusive end and drops any event stamped exactly `to`,
//! so the result is `[from, to)` either way; once `to` is observed inclusive
//! on the endpoint, it asks `to − 1`, so that the events stamped `to` are not
//! paged only to be dropped (`edge.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::edge::{ToEdge, ToForm};
use super::error::{Error, Result};
use super::http::Outgoing;
use super::model::find_link;
use super::page::{Cursor, EventPage, Order, ParsedBody, Resume, parse_page};
use super::poll::{poll_body, pollable};
use super::rate_limit::Namespace;
use super::rest::Client;
use crate::log_id::LogId;

/// Consecutive pages that do not advance (see [`EventQuery`]) before the
/// query fails.
const MAX_STALLED_PAGES: usize = 3;

/// Events per millisecond of window the page cap allows for: 100, i.e.
/// 100,000 a second, about 120 times what one key can read at all (1,500
/// queries of 500 events per 15 minutes, ~830 events a second).
const PAGE_CAP_EVENTS_PER_MS: u64 = 100;

/// Fewest pages any query may take, however short its window (500,000
/// events at 500 per page).
const MIN_PAGE_CAP: u64 = 1_000;

/// Most pages one query of `window` may take at `per_page` events a page:
/// [`PAGE_CAP_EVENTS_PER_MS`] events for every millisecond of the window, at
/// least [`MIN_PAGE_CAP`] pages. A server that keeps sending `Next` links
/// beyond that (each link moving its cursor a little, so that no stall is
/// seen) ends the query instead of spending the key's quota forever.
pub(crate) fn page_cap(window: (i64, i64), per_page: u32) -> u64 {
    let events = window
        .1
        .abs_diff(window.0)
        .saturating_mul(PAGE_CAP_EVENTS_PER_MS);
    (events / u64::from(per_page.max(1)))
        .saturating_add(1)
        .max(MIN_PAGE_CAP)
}

/// Longest LEQL statement sent in a `GET` URL, in bytes; a longer one is
/// sent in the body of `POST /query/logs` (see the module docs). URLs of a
/// few kilobytes pass every proxy; an IOC list of a thousand terms does not.
pub const MAX_GET_STATEMENT_BYTES: usize = 2048;

impl Client {
    /// The events of one log with `from <= timestamp < to` (epoch ms), as
    /// pages. Nothing is requested until the first page is asked for.
    pub fn query_events(&self, log_id: &str, from: i64, to: i64) -> Result<EventQuery> {
        self.query_events_where(log_id, from, to, "")
    }

    /// [`Client::query_events`] of the events a LEQL `statement` selects
    /// (`where(...)`; empty for every event).
    pub fn query_events_where(
        &self,
        log_id: &str,
        from: i64,
        to: i64,
        statement: &str,
    ) -> Result<EventQuery> {
        self.query_events_ordered(log_id, from, to, statement, Order::OldestFirst)
    }

    /// [`Client::query_events_where`], pages in `order`: newest first asks
    /// `most_recent_first=true`, so a caller after the newest events stops
    /// paging once it has them.
    pub fn query_events_ordered(
        &self,
        log_id: &str,
        from: i64,
        to: i64,
        statement: &str,
        order: Order,
    ) -> Result<EventQuery> {
        let log_id = query_target(log_id, from, to)?;
        let log_id = log_id.as_str();
        let mut url = self.url(&["query", "logs", log_id]);
        url.query_pairs_mut()
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string())
            .append_pair("per_page", &self.inner.config.per_page.to_string());
        let post = statement.len() > MAX_GET_STATEMENT_BYTES;
        if !statement.trim().is_empty() && !post {
            url.query_pairs_mut().append_pair("query", statement);
        }
        if order == Order::NewestFirst {
            url.query_pairs_mut()
                .append_pair("most_recent_first", "true");
        }
        let mut query = EventQuery::new(self.clone(), log_id, (from, to), url, order);
        query.post = post.then(|| Arc::from(statement));
        Ok(query)
    }
}

/// A query for one log's events in one window; see the module docs.
///
/// Pagination must advance. A page *stalls* when it adds no new event and
/// does not move the cursor: neither an event of the page (accepted,
/// duplicate or out of the window) nor its `Next` link's
/// `(from, sequence_number)` lies beyond the highest `(timestamp,
/// sequence_number)` seen so far. Links that alternate (A→B→A), that change
/// only an irrelevant parameter, or whose pages hold only events at or below
/// the cursor all stall; three stalls in a row end the query with an error
/// naming the links Rapid7 sent. Whatever the links do, a query takes at most
/// `window_ms × 100 / per_page + 1` pages (room for 100 events per
/// millisecond of the window), and the cap is never below 1,000 pages.
#[derive(Debug)]
pub struct EventQuery {
    client: Client,
    log_id: Arc<str>,
    window: (i64, i64),
    next: Option<Url>,
    /// The `to` of `next` when the client built it (not a `Next` link):
    /// only such a request's page shows how the endpoint reads `to`
    /// (`edge.rs`).
    next_asked: Option<i64>,
    /// What was returned: a page's repeats are dropped by it.
    resume: Resume,
    /// Highest key seen anywhere (events of any kind, `Next` cursors).
    reach: Cursor,
    page_number: u64,
    max_pages: u64,
    events_total: u64,
    /// The `Next` links of the pages that stalled in a row.
    stalled: Vec<String>,
    /// The order pages come in.
    order: Order,
    /// The statement, when it is too long for a URL: every query request
    /// is a `POST /query/logs` with it in the body.
    post: Option<Arc<str>>,
    /// Newest first: how the pages continue (see the module docs).
    steps: Option<NewestSteps>,
}

/// Where a newest-first query stands.
#[derive(Debug)]
struct NewestSteps {
    /// The first page's request: each page asks it again with a lower `to`.
    first: Url,
    /// Every event of the window at or after this millisecond was returned.
    done_from: i64,
    /// The millisecond being read whole, oldest first, and its query.
    burst: Option<(i64, Box<EventQuery>)>,
}

impl EventQuery {
    pub(crate) fn new(
        client: Client,
        log_id: &str,
        window: (i64, i64),
        first: Url,
        order: Order,
    ) -> Self {
        let max_pages = page_cap(window, client.inner.config.per_page);
        let steps = (order == Order::NewestFirst).then(|| NewestSteps {
            first: first.clone(),
            done_from: window.1,
            burst: None,
        });
        Self {
            steps,
            client,
            order,
            log_id: log_id.into(),
            window,
            next: Some(first),
            next_asked: None,
            resume: Resume::default(),
            reach: None,
            page_number: 0,
            max_pages,
            events_total: 0,
            stalled: Vec::new(),
            post: None,
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

    /// The next finished page, or `None` when the query is exhausted. Its
    /// requests, polls and events run in a `page{n}` span.
    pub async fn next_page(&mut self) -> Result<Option<EventPage>> {
        if let Some(page) = self.next_burst_page().await? {
            return Ok(Some(page));
        }
        if self.next.is_none() {
            return Ok(None);
        }
        let span = crate::trace::page_span(self.page_number + 1);
        self.next_page_in_span().instrument(span).await
    }

    async fn next_page_in_span(&mut self) -> Result<Option<EventPage>> {
        let started = Instant::now();
        let Some(mut url) = self.next.take() else {
            return Ok(None);
        };
        let mut asked = self.next_asked.take();
        if self.page_number == 0 {
            let (first, to) = self.first_asked(url);
            (url, asked) = (first, Some(to));
        }
        if self.page_number >= self.max_pages {
            return Err(Error::Protocol {
                url: url.to_string(),
                message: format!(
                    "Rapid7 sent Next links beyond {} pages for a window of {} ms at {} \
                     events a page (the cap allows {PAGE_CAP_EVENTS_PER_MS} events per \
                     millisecond of the window); the last cursor seen was {}",
                    self.max_pages,
                    self.window.1.abs_diff(self.window.0),
                    self.client.inner.config.per_page,
                    describe_cursor(self.reach),
                ),
                hint: Some("Rapid7 keeps paginating; retry later, or query a smaller window"),
            });
        }
        self.page_number += 1;
        let body = self.fetch_finished(&url).await?;
        if let Some(asked) = asked {
            self.client.inner.edge.page_seen(
                self.form(),
                asked,
                body.max_own_timestamp,
                &self.log_id,
            );
        }
        if body.statistical {
            return Err(Error::Decode {
                url: url.to_string(),
                message: "expected an event page, got a statistical result".into(),
            });
        }
        let mut stats = body.stats;
        if stats.received > 0 && stats.failed == stats.received {
            // Nothing of the page is usable: counting its events as failed
            // and going on would hide a shape this client does not read.
            return Err(Error::Protocol {
                url: url.to_string(),
                message: format!(
                    "every event of page {} was rejected ({} of {}); the first: {}",
                    self.page_number,
                    stats.failed,
                    stats.received,
                    body.first_rejection
                        .as_deref()
                        .unwrap_or("no reason recorded"),
                ),
                hint: Some(
                    "Rapid7 sent events in a shape this client does not read; report the \
                     reason with the log's id",
                ),
            });
        }
        stats.beyond_retention = body.beyond_retention.is_some();
        let more = find_link(&body.links, "Next").is_some();
        // Oldest first, a page reaching past the window's end is its last
        // (an inclusive `to` goes on into the events stamped `to`).
        let past_end = stats.max_timestamp.is_some_and(|t| t >= self.window.1);
        let next = match find_link(&body.links, "Next") {
            Some(link) if self.steps.is_none() && !past_end => Some(self.checked_link(&link.href)?),
            _ => None,
        };
        if self.steps.is_none() {
            self.check_progress(&url, next.as_ref(), &body)?;
        }
        self.resume.advance(self.order, &body);
        self.events_total += stats.accepted;
        let client_stats = &self.client.inner.stats;
        client_stats.pages.fetch_add(1, Ordering::Relaxed);
        client_stats
            .events
            .fetch_add(stats.accepted, Ordering::Relaxed);
        client_stats
            .events_failed
            .fetch_add(stats.failed, Ordering::Relaxed);
        if let Some(message) = &body.beyond_retention {
            client_stats
                .pages_beyond_retention
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                log_id = %self.log_id,
                page = self.page_number,
                from_ms = self.window.0,
                to_ms = self.window.1,
                rapid7_message = %message,
                detail = "Rapid7 says the window reaches past the log's retention",
                "logsearch_beyond_retention"
            );
        }
        let cursor = |key: &str| {
            next.as_ref().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
            })
        };
        let next_from = cursor("from").and_then(|v| v.parse::<i64>().ok());
        let next_sequence_number = cursor("sequence_number").and_then(|v| v.parse::<u64>().ok());
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
            from_ms = self.window.0,
            to_ms = self.window.1,
            next_from,
            next_sequence_number,
            events_total = self.events_total,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "logsearch_page_complete"
        );
        self.next = next;
        self.step_newest(more, stats.min_timestamp);
        Ok(Some(EventPage {
            log_id: Arc::clone(&self.log_id),
            page_number: self.page_number,
            columns: body.columns,
            stats,
            beyond_retention_message: body.beyond_retention,
        }))
    }

    /// Newest first, after a page (`more`: it had a `Next` link; `oldest`:
    /// its oldest timestamp): ask the window again below what was returned,
    /// or, when the page held nothing older, read the millisecond below the
    /// returned part whole, oldest first.
    fn step_newest(&mut self, more: bool, oldest: Option<i64>) {
        let Some(steps) = &mut self.steps else {
            return;
        };
        let from = self.window.0;
        match oldest {
            _ if !more => {}
            // A page of no event at all: nothing is left below, whatever
            // its `Next` link says and whichever way `to` is read.
            None => {}
            Some(ms) if ms.saturating_add(1) < steps.done_from => {
                steps.done_from = ms.saturating_add(1).max(from);
                (self.next, self.next_asked) =
                    steps.ask_below(from, &self.client.inner.edge, self.post.is_some());
            }
            _ if steps.done_from > from => {
                let ms = steps.done_from - 1;
                let url = with_window(&steps.first, ms, ms + 1, false);
                let mut whole = EventQuery::new(
                    self.client.clone(),
                    &self.log_id,
                    (ms, ms + 1),
                    url,
                    Order::OldestFirst,
                );
                whole.post = self.post.clone();
                whole.resume = self.resume.seeded(ms);
                tracing::debug!(
                    log_id = %self.log_id,
                    ms,
                    detail = "a page held nothing older: its millisecond is read whole",
                    "logsearch_newest_millisecond"
                );
                steps.burst = Some((ms, Box::new(whole)));
            }
            _ => {}
        }
    }

    /// Newest first: the next page of the millisecond being read whole;
    /// once it is, go on newest first below it.
    async fn next_burst_page(&mut self) -> Result<Option<EventPage>> {
        let Some(steps) = &mut self.steps else {
            return Ok(None);
        };
        let Some((ms, whole)) = &mut steps.burst else {
            return Ok(None);
        };
        if let Some(page) = Box::pin(whole.next_page()).await? {
            self.events_total += page.stats.accepted;
            return Ok(Some(page));
        }
        let ms = *ms;
        self.resume.absorb(ms, &whole.resume);
        steps.burst = None;
        steps.done_from = ms;
        (self.next, self.next_asked) =
            steps.ask_below(self.window.0, &self.client.inner.edge, self.post.is_some());
        Ok(None)
    }

    /// The form of this query's requests (`edge.rs`).
    fn form(&self) -> ToForm {
        ToForm {
            post: self.post.is_some(),
            newest_first: self.order == Order::NewestFirst,
        }
    }

    /// The first request, `url` (built by the client), with the `to` the
    /// endpoint's convention asks for as it is sent (`to − 1` once `to` is
    /// known inclusive in this form; `edge.rs`), so that what was learnt
    /// since the query was made counts; and that `to`.
    fn first_asked(&self, url: Url) -> (Url, i64) {
        let (from, to) = self.window;
        let asked = self.client.inner.edge.asked_to(self.form(), from, to);
        if asked == to {
            return (url, to);
        }
        let url = with_window(&url, from, asked, self.order == Order::NewestFirst);
        (url, asked)
    }

    /// Count a stall when the page added nothing and moved no cursor; fail
    /// after [`MAX_STALLED_PAGES`] in a row.
    fn check_progress(&mut self, url: &Url, next: Option<&Url>, body: &ParsedBody) -> Result<()> {
        // Oldest first, a `Next` link's `from`/`sequence_number` is where the
        // next page starts; newest first its cursor lives elsewhere.
        let link_mark = match self.order {
            Order::OldestFirst => next.and_then(link_cursor),
            Order::NewestFirst => None,
        };
        let mark = body.max_seen.max(link_mark);
        let advanced = body.stats.accepted > 0 || mark > self.reach;
        self.reach = self.reach.max(mark);
        let Some(next) = next.filter(|_| !advanced) else {
            self.stalled.clear();
            return Ok(());
        };
        self.stalled.push(next.to_string());
        tracing::warn!(
            log_id = %self.log_id,
            page = self.page_number,
            stalled = self.stalled.len(),
            next = %next,
            detail = "the page added no event and did not move the cursor",
            "logsearch_cursor_stalled"
        );
        if self.stalled.len() < MAX_STALLED_PAGES {
            return Ok(());
        }
        Err(Error::Protocol {
            url: url.to_string(),
            message: format!(
                "pagination does not advance: {MAX_STALLED_PAGES} pages in a row added no \
                 new event and did not move the cursor past {}; Rapid7's Next links were {}",
                describe_cursor(self.reach),
                self.stalled.join(" , "),
            ),
            hint: Some("this is Rapid7's answer; retry later, and report the links if it persists"),
        })
    }

    /// The pages as a stream. Dropping the stream stops the requests.
    pub fn into_stream(self) -> BoxStream<'static, Result<EventPage>> {
        futures::stream::try_unfold(self, |mut q| async move {
            Ok(q.next_page().await?.map(|p| (p, q)))
        })
        .boxed()
    }

    /// Request `url` and poll until the page is finished, resubmitting it when
    /// its continuation expires ([`poll_body`]).
    async fn fetch_finished(&mut self, url: &Url) -> Result<ParsedBody> {
        let submit = self.outgoing(url.clone());
        poll_body(
            &self.client,
            &submit,
            &self.log_id,
            self.page_number,
            |req, ns| self.request(req, ns),
        )
        .await
    }

    async fn request(&self, req: Outgoing, ns: Namespace) -> Result<ParsedBody> {
        let (log_id, window, resume, page, order) = (
            &*self.log_id,
            self.window,
            &self.resume,
            self.page_number,
            self.order,
        );
        self.client
            .send_parsed(&req, ns, |resp| {
                let mut parsed = parse_page(&resp.body, log_id, window, resume, page, order)
                    .map_err(|e| format!("invalid JSON ({e})"))?;
                pollable(resp.status, &parsed.links)?;
                parsed.beyond_retention = resp.beyond_retention.clone();
                Ok(parsed)
            })
            .await
    }

    fn checked_link(&self, href: &str) -> Result<Url> {
        self.client.checked_link(href)
    }

    /// The request for the page at `url` (the first page's URL, or a `Next`
    /// link): a GET of it, or, for a statement too long for a URL, a POST
    /// ([`post_form`]).
    fn outgoing(&self, url: Url) -> Outgoing {
        match &self.post {
            Some(statement) => post_form(&self.client, &url, &self.log_id, statement)
                .unwrap_or_else(|| Outgoing::get(url)),
            None => Outgoing::get(url),
        }
    }
}

impl Client {
    /// The submit of a query of `statement` over one log and `[from, to)`:
    /// a GET of `/query/logs/{id}?from=&to=&query=`, or, for a statement
    /// longer than [`MAX_GET_STATEMENT_BYTES`], a POST of it ([`post_form`]).
    pub(crate) fn query_submit(
        &self,
        log_id: &str,
        from: i64,
        to: i64,
        statement: &str,
    ) -> Outgoing {
        let mut url = self.url(&["query", "logs", log_id]);
        url.query_pairs_mut()
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string());
        if statement.len() > MAX_GET_STATEMENT_BYTES
            && let Some(post) = post_form(self, &url, log_id, statement)
        {
            return post;
        }
        if !statement.trim().is_empty() {
            url.query_pairs_mut().append_pair("query", statement);
        }
        Outgoing::get(url)
    }
}

/// `url`, a query URL of one log with `from` and `to` parameters (as a
/// client builds it, or a `Next` link), as a `POST /query/logs` of
/// `statement`: `from`, `to` and the statement in the JSON body (rapid7-api.md
/// §2), every other parameter (`per_page`, `sequence_number`, …) on the POST's
/// URL. `None` for a URL without `from` and `to`.
fn post_form(client: &Client, url: &Url, log_id: &str, statement: &str) -> Option<Outgoing> {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.trim().parse::<i64>().ok())
    };
    let (from, to) = (param("from")?, param("to")?);
    let mut post = client.url(&["query", "logs"]);
    {
        let mut pairs = post.query_pairs_mut();
        for (k, v) in url.query_pairs() {
            if !matches!(k.as_ref(), "from" | "to" | "query") {
                pairs.append_pair(&k, &v);
            }
        }
    }
    if post.query() == Some("") {
        post.set_query(None);
    }
    let body = serde_json::json!({
        "logs": [log_id],
        "leql": {
            "statement": statement,
            "during": { "from": from, "to": to },
        },
    });
    Some(Outgoing {
        url: post,
        body: Some(body.to_string().into()),
    })
}

/// The log of a query over `[from, to)`, checked: a non-empty window, and a
/// log id that is safe in a URL path.
pub(crate) fn query_target(log_id: &str, from: i64, to: i64) -> Result<LogId> {
    if from >= to {
        return Err(Error::InvalidRange {
            start: from,
            end: to,
        });
    }
    Ok(LogId::new(log_id)?)
}

impl NewestSteps {
    /// The request of the window's part before `done_from` (none when it
    /// is empty): `to` = `done_from`, so that under an exclusive `to` the
    /// millisecond before is asked whole (an inclusive `to` adds one
    /// already returned; `done_from − 1` once `to` is known inclusive
    /// newest first, in a POST or not as `post`); and that `to`.
    fn ask_below(&self, from: i64, edge: &ToEdge, post: bool) -> (Option<Url>, Option<i64>) {
        if self.done_from <= from {
            return (None, None);
        }
        let form = ToForm {
            post,
            newest_first: true,
        };
        let to = edge.asked_to(form, from, self.done_from);
        (Some(with_window(&self.first, from, to, true)), Some(to))
    }
}

/// `url` (a query's first request) over `[from, to)`, newest first or not.
fn with_window(url: &Url, from: i64, to: i64, newest_first: bool) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !matches!(k.as_ref(), "from" | "to" | "most_recent_first"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.set_query(None);
    {
        let mut pairs = out.query_pairs_mut();
        pairs
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string());
        for (k, v) in &kept {
            pairs.append_pair(k, v);
        }
        if newest_first {
            pairs.append_pair("most_recent_first", "true");
        }
    }
    out
}

/// The `(from, sequence_number)` cursor a `Next` link carries, when it has
/// both (Rapid7's links do).
fn link_cursor(url: &Url) -> Cursor {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let from = param("from")?.trim().parse::<i64>().ok()?;
    let seq = param("sequence_number")?.trim().parse::<u64>().ok()?;
    Some((from, seq))
}

fn describe_cursor(c: Cursor) -> String {
    match c {
        Some((ts, seq)) => format!("(timestamp {ts}, sequence_number {seq})"),
        None => "(none: no event and no cursor yet)".into(),
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
                matches!(
                    client.query_events(bad, 0, 1),
                    Err(Error::InvalidLogId { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(client.query_events("0a1b-2c3d", 0, 1).is_ok());
    }

    #[test]
    fn the_page_cap_grows_with_the_window_and_never_overflows() {
        assert_eq!(page_cap((0, 1), 500), MIN_PAGE_CAP);
        // An hour at 500 a page: 100 events per ms.
        assert_eq!(page_cap((0, 3_600_000), 500), 720_001);
        assert_eq!(page_cap((0, 3_600_000), 50), 7_200_001);
        assert_eq!(page_cap((i64::MIN, i64::MAX), 0), u64::MAX);
    }

    #[test]
    fn long_statements_are_posted_with_the_links_cursor() {
        let client = ClientBuilder::new()
            .with_endpoint("http://127.0.0.1:9")
            .with_api_key("k")
            .build()
            .unwrap();
        let short = client.query_submit("l1", 5, 9, "where(/a/)");
        assert_eq!(short.method(), "GET");
        assert!(short.url.as_str().contains("query=where"), "{}", short.url);
        let long = format!("where({})", vec!["/x/"; 1_000].join(" OR "));
        let post = client.query_submit("l1", 5, 9, &long);
        assert_eq!((post.method(), post.url.path()), ("POST", "/query/logs"));
        let body: serde_json::Value = serde_json::from_slice(post.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"logs": ["l1"], "leql": {"statement": long,
                "during": {"from": 5, "to": 9}}})
        );
        // A `Next` link: its cursor goes on the POST, the statement does not.
        let next = Url::parse(
            "http://127.0.0.1:9/query/logs/l1?from=7&to=9&per_page=500&sequence_number=3\
             &next_page=true&query=where%28x%29",
        )
        .unwrap();
        let post = post_form(&client, &next, "l1", &long).unwrap();
        assert_eq!(
            post.url.query(),
            Some("per_page=500&sequence_number=3&next_page=true")
        );
        let body: serde_json::Value = serde_json::from_slice(post.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body["leql"]["during"],
            serde_json::json!({"from": 7, "to": 9})
        );
        let no_window = Url::parse("http://127.0.0.1:9/query/logs/l1?per_page=5").unwrap();
        assert!(post_form(&client, &no_window, "l1", &long).is_none());
    }

    #[test]
    fn link_cursors_need_from_and_sequence_number() {
        let c = |s: &str| link_cursor(&Url::parse(s).unwrap());
        assert_eq!(
            c("https://h/query/logs/x?from=5&to=9&sequence_number=7&next_page=true"),
            Some((5, 7))
        );
        assert_eq!(c("https://h/query/logs/x?from=5&to=9"), None);
        assert_eq!(c("https://h/query/logs/x?from=a&sequence_number=7"), None);
    }
}
