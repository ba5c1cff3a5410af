//! Query requests: parameter parsing and validation, and the events of one
//! result page.

use axum::http::StatusCode;

use super::data::{MockDataset, MockEvent};
use super::encode;
use super::leql::{self, Statement};
use super::reply::Reply;

/// Default page size of the API.
const DEFAULT_PER_PAGE: u32 = 50;
/// Largest page size the API accepts.
const MAX_PER_PAGE: u32 = 500;

/// A validated query for one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QuerySpec {
    /// The first log asked for (the only one but for merged queries).
    pub(crate) log_id: String,
    /// Every log asked for, in the order asked: more than one for a merged
    /// query (`/query/logs/{a:b}` or a POST listing several), whose pages
    /// hold the logs' events merged by `(timestamp, sequence_number)`.
    pub(crate) logs: Vec<String>,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) per_page: u32,
    pub(crate) sequence_number: Option<u64>,
    pub(crate) statement: String,
    pub(crate) time_range: Option<String>,
    /// `first_from` of a link made by [`NextLinks::Alternate`](super::NextLinks::Alternate).
    pub(crate) first_from: Option<i64>,
    /// `most_recent_first=true`: pages newest first. The first page holds
    /// the newest events up to `to`; a `Next` link carries the page's last
    /// event as `to` and `sequence_number`, and its page holds the events
    /// before it, `(timestamp, sequence_number) < (to, sequence_number)`,
    /// back to `from`.
    pub(crate) newest_first: bool,
}

impl QuerySpec {
    /// The parsed statement (validated when the spec was made).
    pub(crate) fn parsed(&self) -> Statement {
        leql::parse(&self.statement).unwrap_or_default()
    }
}

/// A query's parameters as sent, before validation.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawQuery {
    pub(crate) logs: Vec<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) time_range: Option<String>,
    pub(crate) per_page: Option<String>,
    pub(crate) sequence_number: Option<String>,
    pub(crate) statement: String,
    pub(crate) most_recent_first: Option<String>,
    pub(crate) first_from: Option<String>,
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bad(fields: &[&str], message: &str) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        encode::validation_body(fields, message),
    )
}

/// The 400 of the `reject_queries` fault.
pub(crate) fn rejected() -> Reply {
    bad(
        &["query"],
        "Invalid query: rejected by the simulator (fault reject_queries)",
    )
}

fn malformed() -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        encode::message_body("Malformed JSON Request Body"),
    )
}

impl RawQuery {
    /// `GET /query/logs/{log_keys}?from=&to=&…` (`log_keys` already decoded).
    pub(crate) fn from_get(log_keys: &str, params: &[(String, String)]) -> Self {
        let own = |name| param(params, name).map(str::to_string);
        Self {
            logs: log_keys.split(':').map(str::to_string).collect(),
            from: own("from"),
            to: own("to"),
            time_range: own("time_range"),
            per_page: own("per_page"),
            sequence_number: own("sequence_number"),
            statement: own("query").unwrap_or_default(),
            most_recent_first: own("most_recent_first"),
            first_from: own("first_from"),
        }
    }

    /// `POST /query/logs` with a JSON body; `per_page`, `sequence_number`
    /// and `most_recent_first` come from the URL.
    pub(crate) fn from_post(
        content_type: Option<&str>,
        body: &[u8],
        params: &[(String, String)],
    ) -> Result<Self, Reply> {
        let is_json = content_type.is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
        if !is_json {
            return Err(Reply::json(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                encode::message_body("Data not specified as JSON"),
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| malformed())?;
        let logs = v
            .get("logs")
            .and_then(|l| l.as_array())
            .ok_or_else(malformed)?
            .iter()
            .map(|l| l.as_str().map(str::to_string).ok_or_else(malformed))
            .collect::<Result<Vec<_>, _>>()?;
        let leql = v
            .get("leql")
            .filter(|l| l.is_object())
            .ok_or_else(malformed)?;
        let statement = match leql.get("statement") {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err(malformed()),
        };
        let during = leql
            .get("during")
            .filter(|d| d.is_object())
            .ok_or_else(malformed)?;
        let text = |name: &str| -> Option<String> {
            match during.get(name)? {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }
        };
        let own = |name| param(params, name).map(str::to_string);
        Ok(Self {
            logs,
            from: text("from"),
            to: text("to"),
            time_range: text("time_range"),
            per_page: own("per_page"),
            sequence_number: own("sequence_number"),
            statement,
            most_recent_first: own("most_recent_first"),
            first_from: own("first_from"),
        })
    }

    /// The single log id, if there is exactly one.
    pub(crate) fn log_id(&self) -> Option<&str> {
        match self.logs.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Validates into a [`QuerySpec`], or the API's 400 answer.
    pub(crate) fn validate(&self, now_ms: i64) -> Result<QuerySpec, Reply> {
        let log_id = match self.logs.as_slice() {
            [] => return Err(bad(&["logs"], "Invalid query: no log specified")),
            logs if logs.iter().any(String::is_empty) => {
                return Err(bad(&["logs"], "Invalid query: no log specified"));
            }
            [first, ..] => first.clone(),
        };
        if let Err(why) = leql::parse(&self.statement) {
            return Err(bad(
                &["query"],
                &format!("Invalid query: Invalid Query Request ({why})"),
            ));
        }
        let newest_first = match self.most_recent_first.as_deref().map(str::trim) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                return Err(bad(
                    &["most_recent_first"],
                    "Invalid query: most_recent_first must be true or false",
                ));
            }
        };
        let per_page = match &self.per_page {
            None => DEFAULT_PER_PAGE,
            Some(p) => match p.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
                _ => {
                    return Err(bad(
                        &["per_page"],
                        "Invalid query: per_page must be an integer between 1 and 500",
                    ));
                }
            },
        };
        let sequence_number = match &self.sequence_number {
            None => None,
            Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
                bad(
                    &["sequence_number"],
                    "Invalid query: sequence_number must be an unsigned integer",
                )
            })?),
        };
        let (from, to) = self.window(now_ms)?;
        if from > to || (from == to && sequence_number.is_none()) {
            return Err(bad(
                &["from", "to"],
                &format!("Invalid query: from ({from}) must be earlier than to ({to})"),
            ));
        }
        Ok(QuerySpec {
            log_id,
            logs: self.logs.clone(),
            from,
            to,
            per_page,
            sequence_number,
            statement: self.statement.clone(),
            time_range: self.time_range.clone(),
            first_from: self
                .first_from
                .as_deref()
                .and_then(|v| v.trim().parse().ok()),
            newest_first,
        })
    }

    fn window(&self, now_ms: i64) -> Result<(i64, i64), Reply> {
        if let Some(tr) = &self.time_range {
            if self.from.is_some() || self.to.is_some() {
                return Err(bad(
                    &["time_range"],
                    "Invalid query: time_range cannot be specified with from and/or to fields",
                ));
            }
            return resolve_time_range(tr, now_ms).ok_or_else(|| {
                bad(
                    &["time_range"],
                    &format!("Invalid query: cannot parse time_range '{tr}'"),
                )
            });
        }
        let one = |name: &str, v: &Option<String>| -> Result<i64, Reply> {
            let Some(v) = v else {
                return Err(bad(
                    &[name],
                    &format!("Invalid query: {name} is required (or use time_range)"),
                ));
            };
            v.trim().parse::<i64>().map_err(|_| {
                bad(
                    &[name],
                    &format!(
                        "Invalid query: {name} must be an integer epoch timestamp in milliseconds"
                    ),
                )
            })
        };
        Ok((one("from", &self.from)?, one("to", &self.to)?))
    }
}

/// `yesterday`, `today` or `last [N] unit(s)`, case-insensitive, in UTC.
fn resolve_time_range(tr: &str, now_ms: i64) -> Option<(i64, i64)> {
    const DAY: i64 = 86_400_000;
    let lower = tr.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let today = now_ms.div_euclid(DAY) * DAY;
    let (n, unit) = match words.as_slice() {
        ["today"] => return Some((today, now_ms)),
        ["yesterday"] => return Some((today - DAY, today)),
        ["last", unit] => (1, *unit),
        ["last", n, unit] => (n.parse::<i64>().ok().filter(|n| *n > 0)?, *unit),
        _ => return None,
    };
    let unit_ms = match unit {
        "min" | "mins" | "minute" | "minutes" => 60_000,
        "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "day" | "days" => DAY,
        "week" | "weeks" => 7 * DAY,
        "month" | "months" => 30 * DAY,
        "year" | "years" => 365 * DAY,
        _ => return None,
    };
    Some((now_ms.checked_sub(n.checked_mul(unit_ms)?)?, now_ms))
}

/// The sequence number of an event rendered so that it cannot be read
/// ([`Faults::merged_unreadable_past_to`](super::Faults)): above 2^53 without
/// `sequence_number_str` or a number in its Context link.
pub(crate) const UNREADABLE_SEQUENCE: u64 = u64::MAX;

/// Page-shaping knobs (a copy of the relevant [`Faults`](super::Faults)).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PageOptions {
    pub(crate) to_exclusive: bool,
    /// See [`Faults::to_partly_inclusive`](super::Faults).
    pub(crate) to_partly_inclusive: bool,
    pub(crate) duplicate_page_edges: bool,
    pub(crate) numeric_sequence_number_str: bool,
    pub(crate) omit_sequence_number_str: bool,
    pub(crate) next_links: super::faults::NextLinks,
    /// How many finished pages the server has sent (for `NextLinks::Repeat`).
    pub(crate) serial: u64,
    pub(crate) events_without_timestamp: Option<u32>,
    pub(crate) retention_start_ms: Option<i64>,
    pub(crate) reverse_within_millisecond: bool,
    pub(crate) object_messages: bool,
    /// A millisecond whose events have not arrived yet for this answer.
    pub(crate) late_ms: Option<i64>,
    /// See [`Faults::newest_links_skip_millisecond`](super::Faults).
    pub(crate) newest_links_skip_millisecond: bool,
    /// See [`Faults::merged_out_of_order`](super::Faults).
    pub(crate) merged_out_of_order: bool,
    /// See [`Faults::merged_foreign_log`](super::Faults).
    pub(crate) merged_foreign_log: bool,
    /// See [`Faults::merged_unreadable_past_to`](super::Faults).
    pub(crate) merged_unreadable_past_to: bool,
    /// See [`Faults::merged_link_beyond_last`](super::Faults).
    pub(crate) merged_link_beyond_last: bool,
}

impl PageOptions {
    /// Whether `e` is sent without its timestamp.
    pub(crate) fn drops_timestamp(&self, e: &MockEvent) -> bool {
        self.events_without_timestamp
            .is_some_and(|n| n > 0 && e.sequence_number.is_multiple_of(u64::from(n)))
    }
}

/// Whether a query of `spec` reaches before `retention_start_ms`.
pub(crate) fn beyond_retention(spec: &QuerySpec, retention_start_ms: Option<i64>) -> bool {
    retention_start_ms.is_some_and(|cut| spec.from < cut)
}

/// The events of one finished page and whether more remain after it.
pub(crate) fn page_events(
    data: &MockDataset,
    spec: &QuerySpec,
    opts: PageOptions,
) -> (Vec<MockEvent>, bool) {
    let to_incl = last_ms(spec, opts);
    let per_page = spec.per_page as usize;
    // Nothing older than retention: start at the cut, before any cursor.
    let retained;
    let spec = match opts.retention_start_ms {
        Some(cut) if spec.from < cut => {
            retained = QuerySpec {
                from: cut,
                sequence_number: None,
                ..spec.clone()
            };
            &retained
        }
        _ => spec,
    };
    let statement = spec.parsed();
    if spec.logs.len() > 1 {
        return merged_page_events(data, spec, &statement, to_incl, opts);
    }
    if spec.newest_first {
        // First page: up to `to` (as `to` is read); then strictly before the
        // cursor the `Next` link carries as `to` and `sequence_number`.
        let (until, before) = match spec.sequence_number {
            Some(seq) => (spec.to.min(crate::time::now_ms()), Some(seq)),
            None => (to_incl, None),
        };
        let mut page = select_newest(
            data,
            &spec.log_id,
            &statement,
            spec.from,
            until,
            before,
            per_page + 1,
        );
        let more = page.len() > per_page;
        page.truncate(per_page);
        return (page, more);
    }
    let matching = |from: i64, after: Option<u64>, limit: usize| {
        select(data, &spec.log_id, &statement, from, after, to_incl, limit)
    };
    match spec.sequence_number {
        Some(seq) if opts.duplicate_page_edges => {
            // Re-include the cursor event itself, then at least one new event.
            let mut page: Vec<MockEvent> = seq
                .checked_sub(1)
                .map(|prev| matching(spec.from, Some(prev), 1))
                .unwrap_or_default()
                .into_iter()
                .filter(|e| e.timestamp == spec.from && e.sequence_number == seq)
                .collect();
            let fresh_limit = per_page.saturating_sub(1).max(1);
            let mut fresh = matching(spec.from, Some(seq), fresh_limit + 1);
            let more = fresh.len() > fresh_limit;
            fresh.truncate(fresh_limit);
            page.extend(fresh);
            (page, more)
        }
        after => {
            let mut page = matching(spec.from, after, per_page + 1);
            let more = page.len() > per_page;
            page.truncate(per_page);
            (page, more)
        }
    }
}

/// The events of one page of a merged query: each log's next events after
/// the cursor, merged by `(timestamp, sequence_number)` (the logs' numbers
/// never meet within a millisecond, see `data`), the first `per_page` of
/// them; then the merged faults.
fn merged_page_events(
    data: &MockDataset,
    spec: &QuerySpec,
    statement: &Statement,
    to_incl: i64,
    opts: PageOptions,
) -> (Vec<MockEvent>, bool) {
    let per_page = spec.per_page as usize;
    let mut all: Vec<MockEvent> = Vec::new();
    for log in &spec.logs {
        if spec.newest_first {
            let (until, before) = match spec.sequence_number {
                Some(seq) => (spec.to.min(crate::time::now_ms()), Some(seq)),
                None => (to_incl, None),
            };
            all.extend(select_newest(
                data,
                log,
                statement,
                spec.from,
                until,
                before,
                per_page + 1,
            ));
        } else {
            all.extend(select(
                data,
                log,
                statement,
                spec.from,
                spec.sequence_number,
                to_incl,
                per_page + 1,
            ));
        }
    }
    all.sort_by_key(|e| (e.timestamp, e.sequence_number));
    if spec.newest_first {
        all.reverse();
    }
    let more = all.len() > per_page;
    all.truncate(per_page);
    if opts.merged_out_of_order && all.len() >= 2 {
        all.swap(0, 1);
    }
    if opts.merged_foreign_log
        && let Some(first) = all.first_mut()
    {
        first.log_id = "ffffffff-0000-4000-8000-00000000f0e1".into();
    }
    if opts.merged_unreadable_past_to && more && !all.is_empty() {
        let middle = all.len() / 2;
        let mut stray = all[middle].clone();
        stray.log_id = spec.logs[0].clone();
        stray.timestamp = spec.to + 5;
        stray.sequence_number = UNREADABLE_SEQUENCE;
        all.insert(middle, stray);
    }
    (all, more)
}

/// The last millisecond a query reads: `to`, or `to - 1` when `to` is
/// exclusive; never after now (like Rapid7, which has no events from the
/// future, while the generator would invent them for any instant).
pub(crate) fn last_ms(spec: &QuerySpec, opts: PageOptions) -> i64 {
    let to_incl = if opts.to_exclusive {
        spec.to.saturating_sub(1)
    } else {
        spec.to
    };
    to_incl.min(crate::time::now_ms())
}

/// At most `limit` events after the cursor that the statement selects.
fn select(
    data: &MockDataset,
    log_id: &str,
    statement: &Statement,
    mut from: i64,
    mut after: Option<u64>,
    to_incl: i64,
    limit: usize,
) -> Vec<MockEvent> {
    filtered(statement, limit, |n, last| {
        if let Some((ts, seq)) = last {
            (from, after) = (ts, Some(seq));
        }
        data.events_after(log_id, from, after, to_incl, n)
    })
}

/// Newest first: at most `limit` events before the cursor (see
/// [`MockDataset::events_before`]) that the statement selects.
fn select_newest(
    data: &MockDataset,
    log_id: &str,
    statement: &Statement,
    from: i64,
    mut until: i64,
    mut before: Option<u64>,
    limit: usize,
) -> Vec<MockEvent> {
    filtered(statement, limit, |n, last| {
        if let Some((ts, seq)) = last {
            (until, before) = (ts, Some(seq));
        }
        data.events_before(log_id, from, until, before, n)
    })
}

/// At most `limit` events of the statement from `next(n, last)`, which
/// gives the next `n` events in page order after `last`, the `(timestamp,
/// sequence_number)` of the last event it gave (`None` at first). Without
/// a filter, one call.
fn filtered(
    statement: &Statement,
    limit: usize,
    mut next: impl FnMut(usize, Option<(i64, u64)>) -> Vec<MockEvent>,
) -> Vec<MockEvent> {
    if statement.filter.is_none() {
        return next(limit, None);
    }
    const CHUNK: usize = 2_000;
    let mut out = Vec::new();
    let mut chunk = next(CHUNK, None);
    loop {
        let done = chunk.len() < CHUNK;
        let last = chunk.last().map(|e| (e.timestamp, e.sequence_number));
        for e in chunk {
            if statement.matches(&e.message) {
                out.push(e);
                if out.len() >= limit {
                    return out;
                }
            }
        }
        if done {
            return out;
        }
        chunk = next(CHUNK, last);
    }
}

/// The events of `[from, to)` the statement selects, sorted (never after
/// now, like [`count_events`]).
pub(crate) fn matching_events(
    data: &MockDataset,
    log_id: &str,
    statement: &Statement,
    from: i64,
    to: i64,
) -> Vec<MockEvent> {
    let to = to.min(crate::time::now_ms().saturating_add(1));
    if to <= from {
        return Vec::new();
    }
    select(data, log_id, statement, from, None, to - 1, usize::MAX)
}

/// Events of `[from, to)` the statement selects (`to` exclusive here: the
/// caller decides the last slice's end).
pub(crate) fn count_events(
    data: &MockDataset,
    log_id: &str,
    statement: &Statement,
    from: i64,
    to: i64,
) -> u64 {
    let to = to.min(crate::time::now_ms().saturating_add(1));
    if to <= from {
        return 0;
    }
    if statement.filter.is_none() {
        return data.count(log_id, from, to);
    }
    matching_events(data, log_id, statement, from, to).len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(q: &str) -> RawQuery {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        RawQuery::from_get("log-1", &params)
    }

    fn err_text(r: Result<QuerySpec, Reply>) -> String {
        let r = r.unwrap_err();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        String::from_utf8(r.body).unwrap()
    }

    #[test]
    fn validates_like_the_api() {
        let ok = get("from=10&to=20&per_page=500&sequence_number=7")
            .validate(0)
            .unwrap();
        assert_eq!(
            (ok.from, ok.to, ok.per_page, ok.sequence_number),
            (10, 20, 500, Some(7))
        );
        assert_eq!(get("from=10&to=20").validate(0).unwrap().per_page, 50);
        assert!(err_text(get("to=20").validate(0)).contains("\"fields\":[\"from\"]"));
        assert!(err_text(get("from=x&to=20").validate(0)).contains("from must be an integer"));
        assert!(
            err_text(get("from=30&to=20").validate(0))
                .contains("from (30) must be earlier than to (20)")
        );
        assert!(get("from=20&to=20").validate(0).is_err());
        assert!(get("from=20&to=20&sequence_number=5").validate(0).is_ok());
        assert!(
            err_text(get("from=1&to=2&time_range=today").validate(0))
                .contains("time_range cannot be specified with from and/or to fields")
        );
        assert!(err_text(get("from=1&to=2&per_page=501").validate(0)).contains("per_page"));
        assert!(err_text(get("from=1&to=2&per_page=0").validate(0)).contains("per_page"));
        assert!(
            err_text(get("from=1&to=2&query=where(status%3D500)").validate(0))
                .contains("Invalid Query Request")
        );
        assert!(get("from=1&to=2&query=where(/x/)").validate(0).is_ok());
        assert!(get("from=1&to=2&query=+").validate(0).is_ok());
        let params = [
            ("from".to_string(), "1".to_string()),
            ("to".into(), "2".into()),
        ];
        let merged = RawQuery::from_get("a:b", &params).validate(0).unwrap();
        assert_eq!((merged.log_id.as_str(), merged.logs.len()), ("a", 2));
        assert!(err_text(RawQuery::from_get("a:", &params).validate(0)).contains("no log"));
    }

    #[test]
    fn time_ranges() {
        let now = 1_770_681_600_000 + 3_600_000;
        assert_eq!(
            resolve_time_range("Last 2 Hours", now),
            Some((now - 7_200_000, now))
        );
        assert_eq!(
            resolve_time_range("last min", now),
            Some((now - 60_000, now))
        );
        assert_eq!(
            resolve_time_range("today", now),
            Some((now - 3_600_000, now))
        );
        assert_eq!(
            resolve_time_range("yesterday", now),
            Some((now - 3_600_000 - 86_400_000, now - 3_600_000))
        );
        assert_eq!(resolve_time_range("last 0 days", now), None);
        assert_eq!(resolve_time_range("next week", now), None);
        let spec = get("time_range=last%205%20mins").validate(now).unwrap();
        assert_eq!((spec.from, spec.to), (now - 300_000, now));
    }

    #[test]
    fn post_bodies() {
        let body = br#"{"logs":["l"],"leql":{"statement":"","during":{"from":1,"to":"2"}}}"#;
        let raw = RawQuery::from_post(Some("application/json; charset=utf-8"), body, &[]).unwrap();
        let spec = raw.validate(0).unwrap();
        assert_eq!((spec.log_id.as_str(), spec.from, spec.to), ("l", 1, 2));
        let e = RawQuery::from_post(Some("text/plain"), body, &[]).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        for bad_body in [
            &b"{"[..],
            br#"{"logs":"l"}"#,
            br#"{"logs":["l"],"leql":{}}"#,
        ] {
            let e = RawQuery::from_post(Some("application/json"), bad_body, &[]).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(String::from_utf8_lossy(&e.body).contains("Malformed JSON Request Body"));
        }
    }
}
