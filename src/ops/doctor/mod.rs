//! `rapid7-sql doctor`: what this key and endpoint really do, in at most 30
//! queries, as a report to paste into a bug report ([`Rapid7::doctor`]).
//!
//! It checks the endpoint and region, that the key is accepted and how many
//! logs it sees, the rate-limit headers and how `X-RateLimit-Reset` reads,
//! `202` and polling, whether `to` and `from` are inclusive and whether
//! statistical slices are `[a, b)` (probes placed on events it found), the
//! statistics' shape, newest-first order on a recent window, whether one
//! query over two logs (`/query/logs/{id1:id2}`) merges them by
//! `(timestamp, sequence number)` with each event's `log_id`, whether each
//! sampled log sends messages as text or as JSON objects, and the version.
//! What it learns about the endpoint is recorded in the cache's endpoint
//! facts (`_ENDPOINTS.json`), where newest-first reads find it.
//!
//! Each retry of a request is a query: the doctor's client retries a request
//! at most 3 times, at most 10 named logs are sampled, and a probe that could
//! take it past 30 queries is not sent (its check is reported skipped:
//! "query budget spent").
//!
//! The report holds no key and no event text: counts, shapes and log names.

mod events;
mod record;
mod report;

use serde_json::Value;

use self::events::{MessageKind, Seen, at, events_of, inner_millisecond, stamps};
pub use self::report::{Check, DoctorReport, Status};
use crate::cache::{EndpointFacts, Fact, MessageForm};
use crate::client::{Client, LogInfo, RawAnswer, Region, ResetKind};
use crate::error::{Error, Result};
use crate::provider::{PageOrder, Rapid7};

/// Logs sampled when none are named.
const SAMPLED_LOGS: usize = 3;
/// Most logs sampled when they are named (`--log`).
const MAX_NAMED_LOGS: usize = 10;
/// Most query requests (submits and their retries; polls are not queries).
const MAX_QUERIES: u64 = 30;
/// Most retries of one request (each one a query of the [`MAX_QUERIES`]).
const DOCTOR_RETRIES: u32 = 3;
/// Why a probe was not sent.
const SPENT: &str = "query budget spent (the doctor asks at most 30 queries)";
/// The recent window the probes look at.
const WINDOW_MS: i64 = 60 * 60 * 1000;
/// Events per probe page.
const PER_PAGE: &str = "50";
/// What the facts it learns are recorded as learnt by.
const BY: &str = "doctor";

/// What to check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoctorOptions {
    /// Logs to sample (names or ids); empty: the first three the key sees.
    pub logs: Vec<String>,
}

impl Rapid7 {
    /// Check what this source's key and endpoint really do (see the
    /// [module docs](crate::ops::doctor)), in at most 30 queries. Checks
    /// that cannot run are reported as such; only a source without an API
    /// client is an error.
    pub async fn doctor(&self, options: &DoctorOptions) -> Result<DoctorReport> {
        let client = match self.client() {
            Some(c) if !self.config().is_offline() => c,
            _ => {
                return Err(Error::Config {
                    key: "RAPID7_OFFLINE".into(),
                    message: "the doctor asks the API: turn offline mode off (unset \
                              RAPID7_OFFLINE) and set RAPID7_API_KEY"
                        .into(),
                });
            }
        };
        // Its own client: each retry is a query, so few of them.
        let mut config = client.config().clone();
        config.retry.max_retries = config.retry.max_retries.min(DOCTOR_RETRIES);
        let client = &Client::new(config)?;
        let before = client.stats();
        let mut doctor = Doctor {
            client,
            now: crate::time::now_ms(),
            checks: Vec::new(),
            facts: EndpointFacts::default(),
            forms: Vec::new(),
        };
        doctor.run(options).await;
        let facts = doctor.facts.clone();
        if let Some(f) = &facts.newest_first {
            self.inner.newest_verdict.learnt(f.value);
        }
        // The probe's observation, for this session's event queries (an
        // inclusive `to` makes them ask `to - 1`: `client/edge.rs`).
        if let (Some(f), Some(source_client)) = (&facts.to_inclusive, self.client()) {
            source_client.learn_to_inclusive(f.value);
        }
        doctor.record(self, &facts).await;
        doctor.record_forms(self).await;
        let after = client.stats();
        let endpoint = client.endpoint();
        Ok(DoctorReport {
            version: env!("CARGO_PKG_VERSION").to_string(),
            endpoint: endpoint.to_string(),
            region: region_of(endpoint).map(|r| r.code().to_string()),
            queries: after.queries.saturating_sub(before.queries),
            requests: after.requests().saturating_sub(before.requests()),
            checks: doctor.checks,
        })
    }
}

fn region_of(endpoint: &url::Url) -> Option<Region> {
    let host = endpoint.host_str()?;
    Region::ALL.into_iter().find(|r| {
        host == format!("{}.rest.logs.insight.rapid7.com", r.code())
            || host == format!("{}.api.insight.rapid7.com", r.code())
    })
}

/// A sampled log and what its recent window answered.
struct Sample {
    log: LogInfo,
    answer: RawAnswer,
    events: Vec<Seen>,
}

struct Doctor<'a> {
    client: &'a Client,
    now: i64,
    checks: Vec<Check>,
    facts: EndpointFacts,
    /// How each sampled log sent its messages, when its sample showed it.
    forms: Vec<(String, MessageForm)>,
}

impl Doctor<'_> {
    fn push(&mut self, name: &'static str, status: Status, finding: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            finding: finding.into(),
        });
    }

    fn skip_all(&mut self, names: &[&'static str], why: &str) {
        for name in names {
            self.push(name, Status::Skipped, why);
        }
    }

    /// Whether one more probe, retried as often as the client may, could
    /// take the doctor past [`MAX_QUERIES`].
    fn spent(&self) -> bool {
        let per_probe = 1 + u64::from(self.client.config().retry.max_retries);
        self.client.stats().queries + per_probe > MAX_QUERIES
    }

    fn recent(&self) -> Vec<(&'static str, String)> {
        window(self.now - WINDOW_MS, self.now, PER_PAGE)
    }

    async fn run(&mut self, options: &DoctorOptions) {
        const AFTER_KEY: [&str; 10] = [
            "rate_limit",
            "polling",
            "to_inclusive",
            "from_inclusive",
            "slices",
            "statistics",
            "newest_first",
            "multi_log",
            "messages",
            "version",
        ];
        let endpoint = self.client.endpoint().clone();
        let where_ = match region_of(&endpoint) {
            Some(r) => format!("{endpoint} is region {r}'s Log Search host"),
            None => {
                format!("{endpoint}: an explicit endpoint (RAPID7_ENDPOINT), not a region's host")
            }
        };
        self.push("endpoint", Status::Ok, where_);
        let logs = match self.client.list_logs().await {
            Ok(logs) if logs.is_empty() => {
                self.push(
                    "key",
                    Status::Warn,
                    "accepted, but it sees no logs: give the key access to log sets",
                );
                self.skip_all(&AFTER_KEY, "no log to look at");
                return;
            }
            Ok(logs) => {
                self.push(
                    "key",
                    Status::Ok,
                    format!("accepted; it sees {} logs", logs.len()),
                );
                logs
            }
            Err(e) => {
                let finding = match e.status() {
                    Some(s @ (401 | 403)) => format!(
                        "rejected (HTTP {s}): check RAPID7_API_KEY, and RAPID7_REGION (a key \
                         works only in its own region)"
                    ),
                    _ => format!("the log list failed: {e}"),
                };
                self.push("key", Status::Fail, finding);
                self.skip_all(&AFTER_KEY, "the key check failed");
                return;
            }
        };
        let samples = self.sample(&logs, options).await;
        self.headers(&samples);
        let richest = samples
            .iter()
            .filter(|s| inner_millisecond(&s.events).is_some())
            .max_by_key(|s| s.events.len());
        match richest {
            Some(s) => {
                self.boundaries(s).await;
                self.newest_first(&s.log).await;
            }
            None => self.skip_all(
                &[
                    "to_inclusive",
                    "from_inclusive",
                    "slices",
                    "statistics",
                    "newest_first",
                ],
                "no sampled log has events in three milliseconds of the last hour",
            ),
        }
        self.multi_log(&samples).await;
        self.messages(&samples);
        self.push(
            "version",
            Status::Ok,
            format!("datafusion-rapid7 {}", env!("CARGO_PKG_VERSION")),
        );
    }

    /// The logs to sample, each with its last hour (one query each).
    async fn sample(&mut self, logs: &[LogInfo], options: &DoctorOptions) -> Vec<Sample> {
        let chosen: Vec<LogInfo> = if options.logs.is_empty() {
            logs.iter().take(SAMPLED_LOGS).cloned().collect()
        } else {
            let mut chosen = Vec::new();
            if options.logs.len() > MAX_NAMED_LOGS {
                self.push(
                    "sample",
                    Status::Skipped,
                    format!(
                        "{} more log(s) named: at most {MAX_NAMED_LOGS} are sampled",
                        options.logs.len() - MAX_NAMED_LOGS
                    ),
                );
            }
            for name in options.logs.iter().take(MAX_NAMED_LOGS) {
                match crate::client::resolve_log(logs, name) {
                    Ok(log) => chosen.push(log.clone()),
                    Err(e) => self.push("sample", Status::Fail, e.to_string()),
                }
            }
            chosen
        };
        let mut samples = Vec::new();
        for log in chosen {
            if self.spent() {
                self.push(
                    "sample",
                    Status::Skipped,
                    format!("{}: {SPENT}", label(&log)),
                );
                continue;
            }
            match self.client.probe_query(&[&log.id], &self.recent()).await {
                Ok(answer) => {
                    let events = events_of(&answer.body);
                    samples.push(Sample {
                        log,
                        answer,
                        events,
                    });
                }
                Err(e) => self.push(
                    "sample",
                    Status::Fail,
                    format!("{}: the last hour could not be read: {e}", label(&log)),
                ),
            }
        }
        samples
    }

    /// Rate-limit headers and polling, from the first sample's submit.
    fn headers(&mut self, samples: &[Sample]) {
        let Some(first) = samples.first() else {
            self.skip_all(&["rate_limit", "polling"], "no query was answered");
            return;
        };
        let rl = first.answer.rate_limit;
        let shown = |v: Option<u64>| v.map_or_else(|| "absent".to_string(), |v| v.to_string());
        let (status, reading) = match rl.reset_kind {
            Some(ResetKind::Seconds) => (Status::Ok, "seconds until the window resets"),
            Some(ResetKind::EpochSeconds) => (Status::Note, "the reset instant, epoch seconds"),
            Some(ResetKind::EpochMillis) => (Status::Note, "the reset instant, epoch milliseconds"),
            Some(ResetKind::Unknown) => (
                Status::Warn,
                "neither seconds (≤ 900) nor an instant near now: read as seconds, and a 429 \
                 waits for Retry-After",
            ),
            None => (Status::Warn, "absent"),
        };
        let status = if rl.limit.is_none() && rl.remaining.is_none() {
            Status::Warn
        } else {
            status
        };
        self.push(
            "rate_limit",
            status,
            format!(
                "X-RateLimit-Limit {}, X-RateLimit-Remaining {}, X-RateLimit-Reset {} ({reading})",
                shown(rl.limit),
                shown(rl.remaining),
                shown(rl.reset),
            ),
        );
        let polling = match first.answer.first_status {
            202 => format!(
                "queries answer 202 and were finished after {} poll(s) of their Self link",
                first.answer.polls
            ),
            s => format!(
                "queries answer {s} at once (polled {} time(s))",
                first.answer.polls
            ),
        };
        self.push("polling", Status::Ok, polling);
    }

    /// `to`, `from` and slice boundaries, on a millisecond the sample holds
    /// whole: `(prev, t, next)` are three consecutive milliseconds with
    /// events.
    async fn boundaries(&mut self, sample: &Sample) {
        let (prev, t, next) = inner_millisecond(&sample.events).expect("checked by the caller");
        let at_t = at(&sample.events, t);
        let id = sample.log.id.as_str();
        let place = format!(
            "{at_t} event(s) of {} at {}",
            label(&sample.log),
            crate::time::fmt_ms(t)
        );
        if self.spent() {
            self.skip_all(
                &["to_inclusive", "from_inclusive", "slices", "statistics"],
                SPENT,
            );
            return;
        }
        // `to` ending on `t`: its events back means an inclusive `to`
        // (handled: event queries then ask `to - 1`, counts subtract them).
        let to = self.edge(id, window(prev, t, "500"), t, at_t).await;
        self.facts.to_inclusive = to_inclusive_fact(&to);
        let (status, what) = match to {
            Ok(Some(true)) => (
                Status::Note,
                "inclusive: events stamped exactly `to` are returned (event queries ask \
                 `to - 1`, counts subtract them)"
                    .to_string(),
            ),
            Ok(Some(false)) => (
                Status::Ok,
                "exclusive: events stamped `to` are not returned".to_string(),
            ),
            Ok(None) => (
                Status::Warn,
                "inconsistent: some of the events stamped `to` came back (event queries ask \
                 `to`, exact either way)"
                    .to_string(),
            ),
            Err(e) => (Status::Fail, e),
        };
        self.push("to_inclusive", status, format!("{what} (probe: {place})"));
        if self.spent() {
            self.skip_all(&["from_inclusive", "slices", "statistics"], SPENT);
            return;
        }
        // `from` starting on `t`: the product assumes its events come back.
        let from = self.edge(id, window(t, next, "500"), t, at_t).await;
        self.facts.from_inclusive = from
            .as_ref()
            .ok()
            .copied()
            .flatten()
            .map(|v| Fact::now(v, BY));
        let (status, what) = match from {
            Ok(Some(true)) => (
                Status::Ok,
                "inclusive: events stamped exactly `from` are returned".to_string(),
            ),
            Ok(Some(false)) => (
                Status::Warn,
                "exclusive: events stamped exactly `from` are missing, and cached ranges would \
                 lack their first millisecond; please report this"
                    .to_string(),
            ),
            Ok(None) => (
                Status::Warn,
                "inconsistent: some of the events stamped `from` came back".to_string(),
            ),
            Err(e) => (Status::Fail, e),
        };
        self.push("from_inclusive", status, format!("{what} (probe: {place})"));
        if self.spent() {
            self.skip_all(&["slices", "statistics"], SPENT);
            return;
        }
        self.slices(sample, t).await;
    }

    /// Whether a query of `params` returned the `at_t` events stamped `t`:
    /// all of them (`true`), none (`false`) or some (`None`).
    async fn edge(
        &self,
        id: &str,
        params: Vec<(&'static str, String)>,
        t: i64,
        at_t: usize,
    ) -> std::result::Result<Option<bool>, String> {
        let answer = self
            .client
            .probe_query(&[id], &params)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match at(&events_of(&answer.body), t) {
            n if n == at_t => Some(true),
            0 => Some(false),
            _ => None,
        })
    }

    /// Two slices meeting at `t`: the first must count the events of
    /// `[t - g, t)` only.
    async fn slices(&mut self, sample: &Sample, t: i64) {
        let ms = stamps(&sample.events);
        let (first, last) = (ms[0], ms[ms.len() - 1]);
        // The sample holds every event of [first, last). The first slice
        // starts on a millisecond without events, so that whether `from` is
        // inclusive cannot change its count: only the boundary at `t` does.
        let widest = (t - first).min(last - t);
        let Some(g) = (1..=widest).rev().find(|g| at(&sample.events, t - g) == 0) else {
            self.push(
                "slices",
                Status::Skipped,
                format!(
                    "inconclusive: every millisecond of the sample before {} holds events",
                    crate::time::fmt_ms(t)
                ),
            );
            self.push("statistics", Status::Skipped, "no slice probe was placed");
            return;
        };
        let before = ms.iter().filter(|&&s| s >= t - g && s < t).count() as u64;
        let at_t = at(&sample.events, t) as u64;
        let (from, to) = (t - g, t + g);
        let params = vec![
            ("from", from.to_string()),
            ("to", to.to_string()),
            ("query", crate::leql::count_statement(None, Some(2))),
        ];
        let answer = match self.client.probe_query(&[&sample.log.id], &params).await {
            Ok(a) => a,
            Err(e) => {
                self.push("slices", Status::Fail, e.to_string());
                self.push("statistics", Status::Fail, e.to_string());
                return;
            }
        };
        let shape = statistics_shape(&answer.body);
        let stats = match answer.statistics(from, to) {
            Ok(s) => s,
            Err(e) => {
                self.push("slices", Status::Skipped, "the statistics did not decode");
                self.push(
                    "statistics",
                    Status::Fail,
                    format!("does not decode ({e}); shape: {shape}"),
                );
                return;
            }
        };
        self.push(
            "statistics",
            Status::Ok,
            format!(
                "decodes: function {}, total {}, {} slices of {} ms, all_exact_result {}, status {}; shape: {shape}",
                stats.function,
                stats.total.map_or_else(|| "absent".into(), |t| t.to_string()),
                stats.timeseries.len(),
                stats.granularity_ms,
                stats.exact.map_or_else(|| "null".into(), |x| x.to_string()),
                stats.status.map_or_else(|| "absent".into(), |x| x.to_string()),
            ),
        );
        let probe = format!(
            "probe: 2 slices of {g} ms meeting at {}, where {at_t} event(s) lie",
            crate::time::fmt_ms(t)
        );
        // A count's slice without a value counted nothing.
        let first_slice = stats.timeseries.first().map(|v| v.unwrap_or(0.0) as u64);
        let (status, half_open, what) = match first_slice {
            Some(n) if n == before => (
                Status::Ok,
                Some(true),
                "[a, b): an event on a boundary counts in the later slice only".to_string(),
            ),
            Some(n) if n == before + at_t => (
                Status::Warn,
                Some(false),
                "[a, b]: events on a slice boundary count in both slices, so per-slice counts \
                 from statistics are too high; SET rapid7.pushdown_aggregates = false"
                    .to_string(),
            ),
            Some(n) => (
                Status::Warn,
                None,
                format!(
                    "inconclusive: the first slice counted {n}, not {before} ([a, b)) nor {} ([a, b])",
                    before + at_t
                ),
            ),
            None => (
                Status::Warn,
                None,
                "no time series in the answer".to_string(),
            ),
        };
        if let Some(v) = half_open {
            self.facts.slices_half_open = Some(Fact::now(v, BY));
        }
        self.push("slices", status, format!("{what} ({probe})"));
    }

    /// Two pages of the last hour asked newest first.
    async fn newest_first(&mut self, log: &LogInfo) {
        let mut params = self.recent();
        params.push(("most_recent_first", "true".into()));
        let mut order = PageOrder::default();
        let mut next: Option<String> = None;
        let mut pages = 0;
        let mut ms = std::collections::BTreeSet::new();
        let mut verdict = Ok(());
        while pages < 2 {
            if self.spent() {
                if pages == 0 {
                    self.push("newest_first", Status::Skipped, SPENT);
                    return;
                }
                break;
            }
            let answer = match &next {
                None => self.client.probe_query(&[&log.id], &params).await,
                Some(href) => self.client.probe_link(href).await,
            };
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    self.push("newest_first", Status::Fail, e.to_string());
                    return;
                }
            };
            pages += 1;
            let ts = stamps(&events_of(&answer.body));
            ms.extend(ts.iter().copied());
            verdict = order.page(&ts, ts.iter().min().copied(), ts.iter().max().copied());
            next = answer.next_link();
            if verdict.is_err() || next.is_none() {
                break;
            }
        }
        let (status, finding) = match verdict {
            Err(why) => {
                self.facts.newest_first = Some(Fact::now(false, BY));
                (
                    Status::Warn,
                    format!(
                        "not honoured: {why}; newest-first reads of this endpoint page oldest \
                         first instead"
                    ),
                )
            }
            Ok(()) if ms.len() < 2 => (
                Status::Skipped,
                "inconclusive: fewer than two milliseconds of events came".to_string(),
            ),
            // Pages of one millisecond each pass every check whatever the
            // server's order (`PageOrder::shown`).
            Ok(()) if !order.shown() => (
                Status::Skipped,
                "inconclusive: each page held one millisecond, which shows no order".to_string(),
            ),
            Ok(()) => {
                self.facts.newest_first = Some(Fact::now(true, BY));
                (
                    Status::Ok,
                    format!(
                        "honoured: {pages} page(s) of {} came newest first, within and across pages",
                        label(log)
                    ),
                )
            }
        };
        self.push("newest_first", status, finding);
    }

    /// One query over two logs.
    async fn multi_log(&mut self, samples: &[Sample]) {
        let mut with_events = samples.iter().filter(|s| !s.events.is_empty());
        let (Some(a), Some(b)) = (with_events.next(), with_events.next()) else {
            self.push(
                "multi_log",
                Status::Skipped,
                "needs two sampled logs with events in the last hour",
            );
            return;
        };
        if self.spent() {
            self.push("multi_log", Status::Skipped, SPENT);
            return;
        }
        let ids = [a.log.id.as_str(), b.log.id.as_str()];
        let answer = match self.client.probe_query(&ids, &self.recent()).await {
            Ok(answer) => answer,
            Err(e) => {
                let (status, finding) = match &e {
                    crate::client::Error::Api {
                        status, message, ..
                    } if (400..500).contains(status) => (
                        Status::Note,
                        format!(
                            "not served: /query/logs/{{id1:id2}} answered HTTP {status} ({message})"
                        ),
                    ),
                    _ => (Status::Fail, e.to_string()),
                };
                self.push("multi_log", status, finding);
                return;
            }
        };
        let events = events_of(&answer.body);
        let tagged = events
            .iter()
            .filter(|e| e.log_id.as_deref().is_some_and(|l| ids.contains(&l)))
            .count();
        let seen: std::collections::BTreeSet<&str> =
            events.iter().filter_map(|e| e.log_id.as_deref()).collect();
        let keys: Vec<(i64, u64)> = events
            .iter()
            .filter_map(|e| Some((e.ts?, e.seq?)))
            .collect();
        let merged = keys.windows(2).all(|w| w[0] <= w[1]);
        let (status, finding) = if events.is_empty() {
            (Status::Warn, "served, but answered no events".to_string())
        } else if tagged == events.len() && merged {
            (
                Status::Ok,
                format!(
                    "served: {} events of {} of the 2 logs, merged by (timestamp, sequence \
                     number), each with its log_id",
                    events.len(),
                    seen.len()
                ),
            )
        } else {
            (
                Status::Warn,
                format!(
                    "served, but {} of {} events carry one of the two log ids, and they are {}in \
                     (timestamp, sequence number) order",
                    tagged,
                    events.len(),
                    if merged { "" } else { "not " }
                ),
            )
        };
        self.push("multi_log", status, finding);
    }

    /// Text or JSON objects, per sampled log.
    fn messages(&mut self, samples: &[Sample]) {
        let mut objects = false;
        let mut parts = Vec::new();
        for s in samples {
            let count = |k: MessageKind| s.events.iter().filter(|e| e.message == k).count();
            let (text, object) = (count(MessageKind::Text), count(MessageKind::Object));
            let other = s.events.len() - text - object;
            let kind = match (text, object) {
                (0, 0) => "no events in the last hour".to_string(),
                (_, 0) => format!("text ({text} events)"),
                (0, _) => format!("JSON objects ({object} events)"),
                _ => format!("mixed: {text} text, {object} JSON objects"),
            };
            let other = if other > 0 {
                format!(", {other} without a readable message")
            } else {
                String::new()
            };
            objects |= object > 0;
            match (text, object) {
                (0, 0) => {}
                (_, 0) => self.forms.push((s.log.id.clone(), MessageForm::Text)),
                _ => self.forms.push((s.log.id.clone(), MessageForm::Objects)),
            }
            parts.push(format!("{}: {kind}{other}", label(&s.log)));
        }
        let (status, tail) = if parts.is_empty() {
            (Status::Skipped, "no log sampled".to_string())
        } else if objects {
            (
                Status::Warn,
                "; filters are not pushed to Rapid7 for logs that send JSON objects".to_string(),
            )
        } else {
            (Status::Ok, String::new())
        };
        self.push("messages", status, format!("{}{tail}", parts.join("; ")));
    }
}

/// The parameters of an event query of `[from, to]` as sent.
/// The fact the `to` probe's verdict records: inclusive (`Some(true)`: all
/// the events stamped `to` came back) or not. An inconsistent answer (only
/// some came back) is recorded `false`: `to` must be asked as it is, in
/// every form, and no read may record otherwise (`client/edge.rs`). A
/// probe that failed records nothing.
fn to_inclusive_fact(verdict: &std::result::Result<Option<bool>, String>) -> Option<Fact<bool>> {
    match verdict {
        Ok(v) => Some(Fact::now(v.unwrap_or(false), BY)),
        Err(_) => None,
    }
}

fn window(from: i64, to: i64, per_page: &str) -> Vec<(&'static str, String)> {
    vec![
        ("from", from.to_string()),
        ("to", to.to_string()),
        ("per_page", per_page.to_string()),
    ]
}

fn label(log: &LogInfo) -> String {
    if log.name.is_empty() {
        log.id.clone()
    } else {
        format!("{:?}", log.name)
    }
}

/// The keys of a statistical body's `statistics` (and of its series), for
/// the report: names only.
fn statistics_shape(body: &Value) -> String {
    let Some(stats) = body.get("statistics").and_then(Value::as_object) else {
        return "no `statistics` object".into();
    };
    let keys: Vec<&str> = stats.keys().map(String::as_str).collect();
    let series: Vec<&str> = stats
        .get("timeseries")
        .and_then(Value::as_object)
        .map(|t| t.keys().map(String::as_str).collect())
        .unwrap_or_default();
    format!(
        "keys [{}], timeseries keyed [{}]",
        keys.join(", "),
        series.join(", ")
    )
}
