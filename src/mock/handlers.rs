//! Routing and request handling: auth, rate limits, faults, recording.
//!
//! One fallback handler parses the path itself, so both prefixes (`/…` and
//! `/log_search/…`), the 401 and 404 bodies and the `X-RateLimit-*`
//! headers are the same on every route.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::continuations::{self, PollOutcome};
use super::data::{MockLog, MockLogSet};
use super::encode;
use super::faults::StallOn;
use super::query::{self, PageOptions, RawQuery};
use super::ratelimit::{Namespace, RateInfo};
use super::render;
use super::reply::Reply;
use super::state::{RecordedRequest, RequestKind, Shared};

/// Largest request body read (POST query bodies are tiny).
const MAX_BODY: usize = 1 << 20;

/// What a path asks for.
#[derive(Debug)]
enum Route {
    LogList,
    Log(String),
    LogSetList,
    LogSet(String),
    Label(String),
    Query(String),
    PostQuery,
    Poll(String),
    MethodNotAllowed(RequestKind),
    NotFound(RequestKind),
}

impl Route {
    /// Splits off the `/log_search` prefix and matches the rest.
    fn parse(method: &Method, path: &str) -> (String, Route) {
        let (prefix, rest) = match path.strip_prefix("/log_search") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => ("/log_search", rest),
            _ => ("", path),
        };
        let segs: Option<Vec<String>> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(encode::decode_segment)
            .collect();
        let Some(segs) = segs else {
            return (prefix.into(), Route::NotFound(RequestKind::Other));
        };
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let get = method == Method::GET;
        let route = match segs.as_slice() {
            ["management", "logs"] if get => Route::LogList,
            ["management", "logs", id] if get => Route::Log((*id).into()),
            ["management", "labels", id] if get => Route::Label((*id).into()),
            ["management", "logsets"] if get => Route::LogSetList,
            ["management", "logsets", id] if get => Route::LogSet((*id).into()),
            ["management", "logs"]
            | ["management", "logs", _]
            | ["management", "logsets"]
            | ["management", "logsets", _]
            | ["management", "labels", _] => Route::MethodNotAllowed(RequestKind::Management),
            ["management", ..] => Route::NotFound(RequestKind::Management),
            ["query", "logs"] if method == Method::POST => Route::PostQuery,
            ["query", "logs", id] if get => Route::Query((*id).into()),
            ["query", "logs"] | ["query", "logs", _] => Route::MethodNotAllowed(RequestKind::Query),
            ["query", id] if get => Route::Poll((*id).into()),
            ["query", _] => Route::MethodNotAllowed(RequestKind::Poll),
            _ => Route::NotFound(RequestKind::Other),
        };
        (prefix.into(), route)
    }

    fn kind(&self) -> RequestKind {
        match self {
            Route::LogList
            | Route::Log(_)
            | Route::LogSetList
            | Route::LogSet(_)
            | Route::Label(_) => RequestKind::Management,
            Route::Query(_) | Route::PostQuery => RequestKind::Query,
            Route::Poll(_) => RequestKind::Poll,
            Route::MethodNotAllowed(k) | Route::NotFound(k) => *k,
        }
    }
}

/// The namespace a kind is counted in (`Other` is reported, not counted).
fn namespace(kind: RequestKind) -> (Namespace, bool) {
    match kind {
        RequestKind::Query => (Namespace::Query, true),
        RequestKind::Poll => (Namespace::Poll, true),
        RequestKind::Management => (Namespace::Management, true),
        RequestKind::Other => (Namespace::Management, false),
    }
}

/// The one handler behind every path.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let arrival = shared.arrivals.fetch_add(1, Ordering::Relaxed);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (prefix, route) = Route::parse(&method, &path);
    let kind = route.kind();
    let (ns, counted) = namespace(kind);

    let authorized = req
        .headers()
        .get("x-api-key")
        .is_some_and(|v| v.as_bytes() == shared.api_key.as_bytes());
    let (reset_header, omit_retry_after) = {
        let st = shared.lock();
        (st.faults.reset_header, st.faults.omit_retry_after)
    };
    if !authorized {
        let rate = shared.lock().limiter.peek(ns, Instant::now());
        tracing::debug!(
            %method,
            %path,
            "mock_unauthorized"
        );
        return Reply::json(
            StatusCode::UNAUTHORIZED,
            encode::message_body("Unauthorized"),
        )
        .finish(rate, reset_header);
    }

    let delay = {
        let st = shared.lock();
        let jitter = st.faults.latency_jitter.as_secs_f64() * super::faults::jitter(arrival);
        st.faults
            .latency
            .saturating_add(Duration::try_from_secs_f64(jitter).unwrap_or_default())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let params: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match route {
        Route::PostQuery => axum::body::to_bytes(req.into_body(), MAX_BODY).await.ok(),
        _ => None,
    };

    let mut rec = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        kind,
        log_id: None,
        logs: Vec::new(),
        from: None,
        to: None,
        sequence_number: None,
        per_page: None,
        statement: String::new(),
        most_recent_first: false,
        status: 0,
    };
    let now = Instant::now();
    let rate = {
        let mut st = shared.lock();
        if counted {
            st.limiter.acquire(ns, now)
        } else {
            st.limiter.peek(ns, now)
        }
    };
    let (reply, rate) = if rate.allowed {
        let ctx = Ctx {
            shared: &shared,
            root: format!("{}{prefix}", shared.base),
            params: &params,
            now,
        };
        ctx.dispatch(
            route,
            content_type.as_deref(),
            body.as_deref(),
            &mut rec,
            rate,
        )
    } else {
        (Reply::rate_limited(rate.reset_secs), rate)
    };
    let mut reply = reply;
    if omit_retry_after {
        reply.retry_after = None;
    }
    rec.status = reply.status.as_u16();
    let stall = shared.lock().faults.stall;
    let stalled = stall.filter(|s| stalls(s.on, kind, &rec.statement));
    tracing::debug!(
        %method,
        %path,
        status = rec.status,
        kind = ?kind,
        "mock_request"
    );
    shared.record(arrival, rec);
    if let Some(stall) = stalled {
        tokio::time::sleep(stall.delay).await;
    }
    reply.finish(rate, reset_header)
}

/// Whether a request of `kind` for `statement` (empty when none) is one
/// that `on` stalls.
fn stalls(on: StallOn, kind: RequestKind, statement: &str) -> bool {
    let queries = matches!(kind, RequestKind::Query | RequestKind::Poll);
    let statistical = || {
        super::leql::parse(statement)
            .map(|s| s.is_statistical())
            .unwrap_or(false)
    };
    match on {
        StallOn::EventQueries => queries && !statistical(),
        StallOn::Statistics => queries && statistical(),
        StallOn::Polls => kind == RequestKind::Poll,
        StallOn::Management => kind == RequestKind::Management,
    }
}

/// Per-request context for the route handlers.
struct Ctx<'a> {
    shared: &'a Shared,
    /// `{base}{prefix}`: where links point.
    root: String,
    params: &'a [(String, String)],
    now: Instant,
}

impl Ctx<'_> {
    fn dispatch(
        &self,
        route: Route,
        content_type: Option<&str>,
        body: Option<&[u8]>,
        rec: &mut RecordedRequest,
        rate: RateInfo,
    ) -> (Reply, RateInfo) {
        let reply = match route {
            Route::LogList => self.log_list(),
            Route::Log(id) => {
                rec.log_id = Some(id.clone());
                self.log(&id)
            }
            Route::LogSetList => self.logset_list(),
            Route::LogSet(id) => self.logset(&id),
            Route::Label(id) => self.label(&id),
            Route::Query(keys) => {
                return self.query(Ok(RawQuery::from_get(&keys, self.params)), rec, rate);
            }
            Route::PostQuery => {
                let raw = match body {
                    Some(b) => RawQuery::from_post(content_type, b, self.params),
                    None => Err(Reply::json(
                        StatusCode::BAD_REQUEST,
                        encode::message_body("Malformed JSON Request Body"),
                    )),
                };
                return self.query(raw, rec, rate);
            }
            Route::Poll(id) => self.poll(&id, rec),
            Route::MethodNotAllowed(_) => Reply::json(
                StatusCode::METHOD_NOT_ALLOWED,
                encode::message_body("HTTP 405 Method Not Allowed"),
            ),
            Route::NotFound(_) => Reply::json(
                StatusCode::NOT_FOUND,
                encode::message_body("HTTP 404 Not Found"),
            ),
        };
        (reply, rate)
    }

    fn log_list(&self) -> Reply {
        let (unwrapped, junk) = {
            let st = self.shared.lock();
            (st.faults.unwrapped_log_list, st.faults.junk_in_log_list)
        };
        let dataset = self.shared.dataset.logs();
        let mut logs: Vec<serde_json::Value> = dataset.iter().map(|l| self.log_json(l)).collect();
        if junk {
            for log in dataset {
                let mut copy = render::log_json(log, &[]);
                copy["name"] = format!("{} (copy)", log.name).into();
                logs.push(copy);
            }
            for (id, name) in [("../../etc", "Escape"), ("a/b", "Slash"), ("", "Empty")] {
                let mut bad = render::log_json(&dataset[0], &[]);
                bad["id"] = id.into();
                bad["name"] = name.into();
                logs.push(bad);
            }
        }
        let v = if unwrapped {
            serde_json::Value::Array(logs)
        } else {
            serde_json::json!({ "logs": logs })
        };
        Reply::value(StatusCode::OK, &v)
    }

    /// A log as the management API shows it, under its new name if renamed.
    fn log_json(&self, log: &MockLog) -> serde_json::Value {
        let sets = self.shared.dataset.logsets_of(&log.id);
        let mut json = render::log_json(log, &sets);
        if let Some(name) = self.shared.lock().renamed.get(&log.id) {
            json["name"] = name.as_str().into();
        }
        json
    }

    /// `GET /management/logsets`: `{"logsets": [...]}` (§5), or the status
    /// of [`Faults::refuse_logsets`](super::Faults::refuse_logsets).
    fn logset_list(&self) -> Reply {
        if let Some(status) = self.shared.lock().faults.refuse_logsets {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            let message = status.canonical_reason().unwrap_or("Refused");
            return Reply::json(status, encode::code_body(status.as_u16(), message));
        }
        let sets: Vec<serde_json::Value> = self
            .shared
            .dataset
            .logsets()
            .iter()
            .map(|s| self.logset_json(s))
            .collect();
        Reply::value(StatusCode::OK, &serde_json::json!({ "logsets": sets }))
    }

    /// `GET /management/logsets/{id}`: `{"logset": {...}}` (§5).
    fn logset(&self, id: &str) -> Reply {
        match self.shared.dataset.logsets().iter().find(|s| s.id == id) {
            Some(set) => Reply::value(
                StatusCode::OK,
                &serde_json::json!({ "logset": self.logset_json(set) }),
            ),
            None => Reply::not_found("Logset Not Found"),
        }
    }

    fn logset_json(&self, set: &MockLogSet) -> serde_json::Value {
        render::logset_json(set, |id| {
            let log = self.shared.dataset.log(id)?;
            Some(self.log_json(log)["name"].as_str()?.to_string())
        })
    }

    fn log(&self, id: &str) -> Reply {
        let unwrapped = self.shared.lock().faults.unwrapped_log;
        match self.shared.dataset.log(id) {
            Some(log) if unwrapped => Reply::value(StatusCode::OK, &self.log_json(log)),
            Some(log) => Reply::value(
                StatusCode::OK,
                &serde_json::json!({ "log": self.log_json(log) }),
            ),
            None => Reply::not_found("Log Not Found"),
        }
    }

    fn label(&self, id: &str) -> Reply {
        let known = self
            .shared
            .dataset
            .logs()
            .iter()
            .any(|l| l.labels.iter().any(|x| x == id));
        if known {
            Reply::value(StatusCode::OK, &render::label_json(id))
        } else {
            Reply::not_found("Label Not Found")
        }
    }

    /// A finished page or statistical answer, truncated when the fault says so.
    fn finished(&self, spec: &query::QuerySpec) -> Reply {
        let (truncate, reset, opts, stats) = {
            let mut st = self.shared.lock();
            let st = &mut *st;
            let truncate = st.counters.page(&st.faults);
            let reset = st.counters.reset(&st.faults);
            // A first page is asked without a cursor; a merged newest-first
            // step is asked anew, without one.
            let step = if spec.logs.len() > 1 && spec.newest_first {
                st.counters.merged_newest()
            } else {
                0
            };
            let merged_faults = (!st.faults.merged_faults_from_page_2
                || spec.sequence_number.is_some())
                && (!st.faults.merged_newest_faults_from_step_2 || step >= 2);
            let mut opts = PageOptions {
                to_exclusive: st.faults.to_exclusive
                    || (st.faults.to_exclusive_single_log && spec.logs.len() <= 1),
                to_partly_inclusive: st.faults.to_partly_inclusive,
                duplicate_page_edges: st.faults.duplicate_page_edges,
                numeric_sequence_number_str: st.faults.numeric_sequence_number_str,
                omit_sequence_number_str: st.faults.omit_sequence_number_str,
                next_links: st.faults.next_links,
                serial: st.counters.pages(),
                events_without_timestamp: st.faults.events_without_timestamp,
                retention_start_ms: st.faults.retention_start_ms,
                reverse_within_millisecond: st.faults.reverse_within_millisecond,
                object_messages: st.faults.object_messages,
                late_ms: None,
                newest_links_skip_millisecond: st.faults.newest_links_skip_millisecond,
                merged_out_of_order: st.faults.merged_out_of_order && merged_faults,
                merged_foreign_log: st.faults.merged_foreign_log && merged_faults,
                merged_unreadable_past_to: st.faults.merged_unreadable_past_to && merged_faults,
                merged_link_beyond_last: st.faults.merged_link_beyond_last && merged_faults,
            };
            opts.late_ms = st
                .counters
                .late(&st.faults, spec.from, query::last_ms(spec, opts));
            let stats = render::StatsOptions {
                inexact: st.faults.statistics_inexact,
                variant: st.faults.statistics_variant,
                inclusive_slices: st.faults.inclusive_slices,
            };
            (truncate, reset, opts, stats)
        };
        let mut body = if spec.parsed().is_statistical() {
            render::statistics(&self.shared.dataset, spec, opts, stats)
        } else {
            render::final_page(&self.shared.dataset, spec, opts, &self.root)
        };
        if truncate {
            body.truncate(body.len() / 2);
        }
        let cut = body.len() / 2;
        let mut reply = self.retention_headers(spec, Reply::json(StatusCode::OK, body));
        if reset {
            reply.reset_after = Some(cut);
        }
        reply
    }

    /// `reply` with `x-beyond-retention` when `spec` reaches before the
    /// simulated retention.
    fn retention_headers(&self, spec: &query::QuerySpec, reply: Reply) -> Reply {
        let (start, merged) = {
            let st = self.shared.lock();
            (
                st.faults.retention_start_ms,
                st.faults.merged_beyond_retention,
            )
        };
        match start {
            Some(start) if query::beyond_retention(spec, Some(start)) => {
                reply.beyond_retention(start)
            }
            _ if merged && spec.logs.len() > 1 => reply.beyond_retention(spec.from + 1),
            _ => reply,
        }
    }

    fn query(
        &self,
        raw: Result<RawQuery, Reply>,
        rec: &mut RecordedRequest,
        rate: RateInfo,
    ) -> (Reply, RateInfo) {
        if let Ok(raw) = &raw {
            rec.log_id = raw.log_id().map(str::to_string);
            rec.logs.clone_from(&raw.logs);
            rec.from = raw.from.as_deref().and_then(|v| v.trim().parse().ok());
            rec.to = raw.to.as_deref().and_then(|v| v.trim().parse().ok());
            rec.per_page = raw.per_page.as_deref().and_then(|v| v.trim().parse().ok());
            rec.statement = raw.statement.clone();
            rec.most_recent_first = raw
                .most_recent_first
                .as_deref()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            rec.sequence_number = raw
                .sequence_number
                .as_deref()
                .and_then(|v| v.trim().parse().ok());
        }
        let (limited, failed, retry_after, polls, ttl, reject, oldest_only) = {
            let mut st = self.shared.lock();
            let st = &mut *st;
            let (limited, failed) = st.counters.query(&st.faults);
            let f = &st.faults;
            (
                limited,
                failed,
                f.retry_after_secs,
                f.polls,
                f.continuation_ttl,
                f.reject_queries,
                (
                    f.ignore_most_recent_first,
                    f.merged_ignore_most_recent_first,
                ),
            )
        };
        if limited {
            let rate = RateInfo {
                allowed: false,
                remaining: 0,
                reset_secs: retry_after,
                ..rate
            };
            return (Reply::rate_limited(retry_after), rate);
        }
        if failed {
            return (Reply::unavailable(), rate);
        }
        if reject {
            return (query::rejected(), rate);
        }
        let mut spec = match raw.and_then(|r| r.validate(crate::time::now_ms())) {
            Ok(spec) => spec,
            Err(reply) => return (reply, rate),
        };
        let merged = spec.logs.len() > 1;
        spec.newest_first &= !(oldest_only.0 || (oldest_only.1 && merged));
        if spec
            .logs
            .iter()
            .any(|l| self.shared.dataset.log(l).is_none())
        {
            return (Reply::not_found("Log Not Found"), rate);
        }
        if polls == 0 {
            return (self.finished(&spec), rate);
        }
        let (id, legacy) = {
            let mut st = self.shared.lock();
            let id = st.continuations.insert(spec.clone(), polls, self.now, ttl);
            (id, st.faults.legacy_continuations)
        };
        let href = format!("{}/query/{id}", self.root);
        let body = render::continuation(&spec, &id, 0, &href, legacy);
        let reply = self.retention_headers(&spec, Reply::json(StatusCode::ACCEPTED, body));
        (reply, rate)
    }

    fn poll(&self, id: &str, rec: &mut RecordedRequest) -> Reply {
        const GONE: &str = "Query Not Found (Continuation ID may have expired)";
        let outcome = {
            let mut st = self.shared.lock();
            let st = &mut *st;
            if st.counters.poll_error(&st.faults) {
                return Reply::unavailable();
            }
            if !continuations::is_continuation_id(id) {
                return Reply::json(
                    StatusCode::BAD_REQUEST,
                    encode::message_body("Invalid Continuation ID"),
                );
            }
            if let Some(spec) = st.continuations.spec(id) {
                rec.log_id = (spec.logs.len() == 1).then(|| spec.log_id.clone());
                rec.logs.clone_from(&spec.logs);
                rec.from = Some(spec.from);
                rec.to = Some(spec.to);
                rec.per_page = Some(spec.per_page);
                rec.sequence_number = spec.sequence_number;
                rec.statement = spec.statement.clone();
            }
            if st.counters.poll_expire(&st.faults) {
                st.continuations.forget(id);
                return Reply::not_found(GONE);
            }
            let ttl = st.faults.continuation_ttl;
            (
                st.continuations.poll(id, self.now, ttl),
                st.faults.legacy_continuations,
            )
        };
        let (outcome, legacy) = outcome;
        match outcome {
            PollOutcome::NotFound => Reply::not_found(GONE),
            PollOutcome::InProgress(spec, progress) => {
                let href = format!("{}/query/{id}", self.root);
                let body = render::continuation(&spec, id, progress, &href, legacy);
                self.retention_headers(&spec, Reply::json(StatusCode::OK, body))
            }
            PollOutcome::Done(spec) => self.finished(&spec),
        }
    }
}
