//! Statistical queries: `calculate(count)` (with an optional `where(...)` and
//! `timeslice(N)`), and any other statistical LEQL statement, answered in one
//! query without pagination (rapid7-api.md §6, §12).
//!
//! A statistical query is submitted and polled like an event page: `202`,
//! then polls of the `Self` link until a body without one arrives. Only that
//! final body is read: in-progress bodies carry `partial` statistics (counts
//! rendered as strings) that are never used.
//!
//! The final body is decoded leniently, in every shape Rapid7's own
//! documentation and fixtures show (see [`decode_statistics`]): results keyed
//! by the field of `calculate(FN:field)` (`statistics.key`) or
//! `global_timeseries`, values under the function's `type`; numbers as
//! integers, floats or strings of them; `status: 204` with empty `stats`;
//! nested `groups_timeseries` of `groupby(k1, k2)`; `total`/`totals`;
//! `groups-timeseries`; `all_exact_result(s)`. A shape it does not know is a
//! [`Error::Decode`] naming it, never 0. What does not add up for a count (a
//! slice count that is not a non-negative integer, slices that do not sum to
//! the total, the wrong number of slices) is a [`Error::Decode`], never a
//! wrong count.
//!
//! **Slices.** With `timeslice(N)` over `[from, to)` the granularity is
//! `g = (to - from) / N` and slice `i` is `[from + i·g, from + (i+1)·g)`.
//! Whether Rapid7 counts events stamped exactly `to` is not documented: see
//! [`Client::count_events`] for how callers stay exact under both readings.

use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::model::links_of;
use super::poll::fetch_finished;
use super::query::query_target;
use super::rest::Client;
use crate::leql;

/// Most slices one query may ask for (Rapid7 answers up to 200 reliably).
pub const MAX_SLICES: u32 = 200;

/// A `calculate(count)` over one log and window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRequest {
    /// The log.
    pub log_id: String,
    /// Start, epoch ms (inclusive).
    pub from: i64,
    /// End, epoch ms (the query's `to`; see [`Client::count_events`]).
    pub to: i64,
    /// A LEQL `where(...)` clause to count only matching events.
    pub filter: Option<String>,
    /// Slices (1 to [`MAX_SLICES`]); `to - from` must divide by it.
    pub slices: u32,
}

/// What a `calculate(count)` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Start of the first slice, epoch ms.
    pub from: i64,
    /// The `to` asked for, epoch ms.
    pub to: i64,
    /// Length of a slice, ms.
    pub granularity_ms: i64,
    /// The count of each slice, in order.
    pub slices: Vec<u64>,
    /// Whether Rapid7 called the result exact (`all_exact_result` is `null`
    /// or `true`; only `false` makes it inexact).
    pub exact: bool,
}

impl Counts {
    /// Events over every slice.
    pub fn total(&self) -> u64 {
        self.slices.iter().sum()
    }

    /// `[start, end)` of slice `i`.
    pub fn slice_range(&self, i: usize) -> (i64, i64) {
        let start = self.from + i as i64 * self.granularity_ms;
        (start, start + self.granularity_ms)
    }
}

/// A statistical result as Rapid7 returns it, decoded leniently, in every
/// shape of Rapid7's material (docs/client.md, "Statistics").
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// `from` of the query, epoch ms.
    pub from: i64,
    /// `to` of the query, epoch ms.
    pub to: i64,
    /// Length of a slice, ms (0 for grouped results).
    pub granularity_ms: i64,
    /// The function (`count`, `sum`, `standarddeviation`, …) as the body's
    /// `type` names it: the key of every value object.
    pub function: String,
    /// What the results are keyed by: the field of `calculate(FN:field)`
    /// (`statistics.key`), or `global_timeseries` for `calculate(count)`.
    pub key: String,
    /// The value over the whole window, when the body has one.
    pub total: Option<f64>,
    /// The value of each slice, in order (empty when there is none); `None`
    /// for a slice whose value object is empty (no events in it).
    pub timeseries: Vec<Option<f64>>,
    /// `groups`: one value per group, in the body's order.
    pub groups: Vec<Group>,
    /// `groups_timeseries`, nested levels flattened: one entry per full
    /// group path (`groupby(k1, k2)` nests a level per key).
    pub groups_timeseries: Vec<GroupSeries>,
    /// `all_exact_result(s)`: `Some(false)` when groups are approximate.
    pub exact: Option<bool>,
    /// `statistics.status` (200, or 204 for no data).
    pub status: Option<u16>,
    /// Whether the body is one of Rapid7's empty answers: `status: 204`, or
    /// the result key holding `{}` in `stats`.
    pub empty: bool,
}

/// One entry of `groups`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group key as Rapid7 writes it: the value for `groupby(k)`
    /// (`windowsx64`), `[v1,v2]` for `groupby(k1, k2)` (`[1,9]`).
    pub key: String,
    /// The function's value for the group.
    pub value: Option<f64>,
}

/// One group path of `groups_timeseries`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSeries {
    /// The values of the path, one per groupby key (`["1", "9"]`).
    pub path: Vec<String>,
    /// The value of each slice (`None` for an empty value object).
    pub series: Vec<Option<f64>>,
    /// `totals` (or `total`), when the body carries it.
    pub total: Option<f64>,
}

impl GroupSeries {
    /// The path written as `groups` writes its keys: `v` for one key,
    /// `[v1,v2]` for more.
    pub fn key(&self) -> String {
        group_key(&self.path)
    }
}

/// `v` for a path of one value, `[v1,v2,…]` for more (Rapid7's spelling in
/// `groups`).
pub fn group_key(path: &[String]) -> String {
    match path {
        [one] => one.clone(),
        more => format!("[{}]", more.join(",")),
    }
}

/// `Ok` when `[from, to)` is a range that cuts into `n` equal slices, at
/// most [`MAX_SLICES`].
fn check_slices(from: i64, to: i64, n: u32) -> Result<()> {
    if from >= to {
        return Err(Error::InvalidRange {
            start: from,
            end: to,
        });
    }
    if n == 0 || n > MAX_SLICES || (to - from) % i64::from(n) != 0 {
        return Err(Error::InvalidSlices {
            slices: n,
            from,
            to,
            max: MAX_SLICES,
        });
    }
    Ok(())
}

impl Client {
    /// Count the events of one log, per slice, with one statistical query.
    ///
    /// The query is `[where(...)] calculate(count) timeslice(N)` with
    /// `from` and `to` as given. Rapid7 may count events stamped exactly `to`
    /// (its convention is undocumented), so callers that need `[from, to)`
    /// exactly subtract the events of millisecond `to` from the last slice
    /// when the endpoint counts `to` (see `provider::statistics`).
    pub async fn count_events(&self, request: &CountRequest) -> Result<Counts> {
        let CountRequest {
            log_id,
            from,
            to,
            filter,
            slices,
        } = request;
        let (from, to, n) = (*from, *to, *slices);
        check_slices(from, to, n)?;
        let statement = leql::count_statement(filter.as_deref(), Some(n));
        let url_shown = format!("{log_id} {statement}");
        let stats = self.statistics(log_id, from, to, &statement).await?;
        counts_from(&stats, from, to, n).map_err(|message| Error::Decode {
            url: url_shown,
            message,
        })
    }

    /// Whether [`Client::count_events_merged`] sends `request` over `logs`
    /// as a `POST` (its URL too long for a `GET`): a request form of its
    /// own, whose reading of `to` is not to be assumed from another's.
    pub(crate) fn merged_count_is_post(&self, logs: &[&str], request: &CountRequest) -> bool {
        let statement = leql::count_statement(request.filter.as_deref(), Some(request.slices));
        let window = (request.from, request.to);
        super::merged::merged_submit(self, logs, window, &statement, &[])
            .body
            .is_some()
    }

    /// [`Client::count_events`] of several logs together, by one merged
    /// statistical query (rapid7-api.md §2): the counts of all of them.
    /// `logs`: 1 to [`MAX_LOGS_PER_QUERY`](super::MAX_LOGS_PER_QUERY).
    pub async fn count_events_merged(
        &self,
        logs: &[&str],
        request: &CountRequest,
    ) -> Result<Counts> {
        let (from, to, n) = (request.from, request.to, request.slices);
        check_slices(from, to, n)?;
        if logs.is_empty() || logs.len() > super::MAX_LOGS_PER_QUERY {
            return Err(Error::Config {
                key: "logs".into(),
                message: format!(
                    "a merged query names 1 to {} logs, not {}",
                    super::MAX_LOGS_PER_QUERY,
                    logs.len()
                ),
            });
        }
        for log in logs {
            query_target(log, from, to)?;
        }
        let statement = leql::count_statement(request.filter.as_deref(), Some(n));
        let submit = super::merged::merged_submit(self, logs, (from, to), &statement, &[]);
        let label = format!("{} logs", logs.len());
        let body: Value = fetch_finished(self, &submit, &label, |body| {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| format!("invalid JSON ({e})"))?;
            let links = links_of(&value);
            Ok((links, value))
        })
        .await?;
        let url = submit.url.to_string();
        let stats = decode_statistics(&body, from, to).map_err(|message| Error::Decode {
            url: url.clone(),
            message,
        })?;
        counts_from(&stats, from, to, n).map_err(|message| Error::Decode { url, message })
    }

    /// Run any statistical LEQL `statement` over one log and window.
    pub async fn statistics(
        &self,
        log_id: &str,
        from: i64,
        to: i64,
        statement: &str,
    ) -> Result<Statistics> {
        let log_id = query_target(log_id, from, to)?;
        let submit = self.query_submit(log_id.as_str(), from, to, statement);
        let url = &submit.url;
        let body: Value = fetch_finished(self, &submit, log_id.as_str(), |body| {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| format!("invalid JSON ({e})"))?;
            let links = links_of(&value);
            Ok((links, value))
        })
        .await?;
        decode_statistics(&body, from, to).map_err(|message| Error::Decode {
            url: url.to_string(),
            message,
        })
    }
}

/// Counts of `n` slices of `[from, to)` out of a decoded result.
fn counts_from(
    stats: &Statistics,
    from: i64,
    to: i64,
    n: u32,
) -> std::result::Result<Counts, String> {
    let n_usize = n as usize;
    let granularity_ms = (to - from) / i64::from(n);
    let slices: Vec<u64> = if stats.timeseries.is_empty() {
        // 204 / empty stats: no events at all, or one slice and a total.
        match (stats.total, n) {
            (None, _) if stats.empty => vec![0; n_usize],
            (Some(0.0), _) => vec![0; n_usize],
            (Some(t), 1) => vec![exact_count(t)?],
            (None, _) => {
                return Err("the statistics carry neither a timeseries nor a count".into());
            }
            (Some(t), _) => {
                return Err(format!(
                    "asked for {n} slices, the statistics carry only a total ({t})"
                ));
            }
        }
    } else {
        // Slices are taken to be `from + i * granularity`: a body laid out
        // otherwise would put counts in the wrong bins.
        if stats.from != from {
            return Err(format!(
                "asked for slices from {from}, the statistics start at {}",
                stats.from
            ));
        }
        if stats.granularity_ms != 0
            && (to - from) % i64::from(n) == 0
            && stats.granularity_ms != granularity_ms
        {
            return Err(format!(
                "asked for slices of {granularity_ms} ms, the statistics have {} ms",
                stats.granularity_ms
            ));
        }
        if stats.timeseries.len() != n_usize {
            return Err(format!(
                "asked for {n} slices, the statistics carry {}",
                stats.timeseries.len()
            ));
        }
        stats
            .timeseries
            .iter()
            .map(|v| exact_count(v.unwrap_or(0.0)))
            .collect::<std::result::Result<_, _>>()?
    };
    if let Some(total) = stats.total {
        let sum: u64 = slices.iter().sum();
        if exact_count(total)? != sum {
            return Err(format!(
                "the slices add up to {sum}, the statistics say {total} in all"
            ));
        }
    }
    Ok(Counts {
        from,
        to,
        granularity_ms,
        slices,
        exact: stats.exact != Some(false),
    })
}

/// A count: a non-negative integer, exact as an `f64` (below 2^53).
fn exact_count(v: f64) -> std::result::Result<u64, String> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= EXACT {
        Ok(v as u64)
    } else {
        Err(format!("{v} is not an event count"))
    }
}

/// Decode the `statistics` of a final body (rapid7-api.md §6; the shapes of
/// Rapid7's spec examples, plugin payloads and lecli fixtures):
///
/// - the result key `K` is `statistics.key`, else the single key of `stats`
///   or `timeseries`, else `global_timeseries`: the field of
///   `calculate(FN:field)`, `global_timeseries` for `calculate(count)`;
/// - `stats: {K: {"<type>": v}}` is the total, `timeseries: {K: [{"<type>":
///   v} × N]}` the slices; the value sits under the `type` (`standarddeviation`
///   for `sd`), or `<type>s`, or the only key of its object;
/// - `groups: [{"<key>": {"<type>": v}}]`, `[v1,v2]` keys for two groupby
///   keys; `groups_timeseries` (or `groups-timeseries`) nests one level per
///   groupby key, each `{"<value>": {"series": […], "totals"|"total": …,
///   "groups_timeseries": […]}}`: flattened to one entry per full path;
/// - empty answers: `status: 204`, or `{}` under `K` in `stats`;
/// - the top-level `<type>` number is read only for `count` (it is 0 for the
///   other functions).
///
/// A shape outside these (no value where one must be, several candidate
/// keys, a series that is not a list) is an error naming what was found,
/// never a number made up.
pub(crate) fn decode_statistics(
    body: &Value,
    from: i64,
    to: i64,
) -> std::result::Result<Statistics, String> {
    let Some(stats) = body.get("statistics").and_then(Value::as_object) else {
        return Err(if body.get("events").is_some() {
            "expected a statistical result, got an event page".into()
        } else {
            "the body has no `statistics` object".into()
        });
    };
    let status = stats
        .get("status")
        .and_then(number)
        .and_then(|s| u16::try_from(s as i64).ok());
    let function = stats
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("count")
        .to_string();
    let granularity_ms = stats.get("granularity").and_then(number).unwrap_or(0.0) as i64;
    let from = stats
        .get("from")
        .and_then(number)
        .map_or(from, |v| v as i64);
    let to = stats.get("to").and_then(number).map_or(to, |v| v as i64);
    let exact = stats
        .get("all_exact_result")
        .or_else(|| stats.get("all_exact_results"))
        .and_then(Value::as_bool);
    let values = Values {
        function: &function,
    };

    let object = |name: &str| -> std::result::Result<Option<&Map<String, Value>>, String> {
        match stats.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(format!("`{name}` is {other}, not an object")),
        }
    };
    let stats_map = object("stats")?;
    let series_map = object("timeseries")?;
    let key = result_key(stats, stats_map, series_map)?;

    let mut empty = status == Some(204);
    let mut total = match stats_map.filter(|m| !m.is_empty()) {
        Some(m) => match m.get(&key) {
            Some(v) => {
                empty |= v.as_object().is_some_and(Map::is_empty);
                values.of(v, "`stats`")?
            }
            None => return Err(missing_key("stats", &key, m)),
        },
        None => None,
    };
    if total.is_none() && function == "count" {
        // Fixtures also carry a top-level count (0 for other functions).
        total = stats.get("count").and_then(number);
    }
    let timeseries = match series_map.filter(|m| !m.is_empty()) {
        Some(m) => match m.get(&key) {
            Some(Value::Array(items)) => values.list(items, "`timeseries`")?,
            Some(other) => return Err(format!("`timeseries` {other} is not a list of slices")),
            None => return Err(missing_key("timeseries", &key, m)),
        },
        None => Vec::new(),
    };

    let mut groups = Vec::new();
    match stats.get("groups") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let Some(m) = item.as_object() else {
                    return Err(format!("group {item} is not an object"));
                };
                for (key, v) in m {
                    groups.push(Group {
                        key: key.clone(),
                        value: values.of(v, "`groups`")?,
                    });
                }
            }
        }
        Some(other) => return Err(format!("`groups` {other} is not a list")),
    }
    let mut groups_timeseries = Vec::new();
    if let Some(items) = nested(stats) {
        values.walk(items, &[], &mut groups_timeseries)?;
    }
    if total.is_none()
        && timeseries.is_empty()
        && groups.is_empty()
        && groups_timeseries.is_empty()
        && !empty
    {
        let keys: Vec<&str> = stats.keys().map(String::as_str).collect();
        return Err(format!(
            "a statistics shape this client does not know: no value under {key:?} in `stats` or \
             `timeseries`, no `groups`, and no `status: 204` (the statistics hold {})",
            keys.join(", ")
        ));
    }
    Ok(Statistics {
        from,
        to,
        granularity_ms,
        function,
        key,
        total,
        timeseries,
        groups,
        groups_timeseries,
        exact,
        status,
        empty,
    })
}

/// A number, or a string of one.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The key the results are under: `statistics.key`, else the single key of
/// `stats` or `timeseries`, else `global_timeseries`.
fn result_key(
    stats: &Map<String, Value>,
    stats_map: Option<&Map<String, Value>>,
    series_map: Option<&Map<String, Value>>,
) -> std::result::Result<String, String> {
    if let Some(key) = stats.get("key").and_then(Value::as_str)
        && !key.is_empty()
    {
        return Ok(key.to_string());
    }
    for (name, map) in [("stats", stats_map), ("timeseries", series_map)] {
        match map.map(|m| m.keys().collect::<Vec<_>>()).as_deref() {
            None | Some([]) => {}
            Some([one]) => return Ok((*one).clone()),
            Some(more) => {
                let keys: Vec<&str> = more.iter().map(|k| k.as_str()).collect();
                return Err(format!(
                    "`{name}` holds several results ({}) and no `statistics.key` says which \
                     is the answer",
                    keys.join(", ")
                ));
            }
        }
    }
    Ok("global_timeseries".into())
}

fn missing_key(name: &str, key: &str, m: &Map<String, Value>) -> String {
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    format!(
        "`{name}` has no result under {key:?} (it holds {})",
        keys.join(", ")
    )
}

/// `groups_timeseries`, or the spec's `groups-timeseries`, when not empty.
fn nested(m: &Map<String, Value>) -> Option<&Value> {
    m.get("groups_timeseries")
        .or_else(|| m.get("groups-timeseries"))
        .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()) || v.is_object())
}

/// Reads value objects: `{"<function>": v}`.
struct Values<'a> {
    function: &'a str,
}

impl Values<'_> {
    /// The value of one value object (`None` for `{}`): under the function,
    /// `<function>s` (the spec's `counts`), or the only key there is.
    fn of(&self, v: &Value, at: &str) -> std::result::Result<Option<f64>, String> {
        let function = self.function;
        match v {
            Value::Object(m) if m.is_empty() => Ok(None),
            Value::Object(m) => {
                let found = m
                    .get(function)
                    .or_else(|| m.get(&format!("{function}s")))
                    .or_else(|| (m.len() == 1).then(|| m.values().next()).flatten());
                match found {
                    Some(x) => number(x)
                        .map(Some)
                        .ok_or_else(|| format!("{at}: {x} is not a number")),
                    None => Err(format!("{at}: no {function:?} value in {v}")),
                }
            }
            other => number(other)
                .map(Some)
                .ok_or_else(|| format!("{at}: {other} is not a number")),
        }
    }

    fn list(&self, items: &[Value], at: &str) -> std::result::Result<Vec<Option<f64>>, String> {
        items.iter().map(|item| self.of(item, at)).collect()
    }

    /// Flatten nested `groups_timeseries` into one entry per full path.
    fn walk(
        &self,
        items: &Value,
        prefix: &[String],
        out: &mut Vec<GroupSeries>,
    ) -> std::result::Result<(), String> {
        let Some(items) = items.as_array() else {
            return Err(format!("`groups_timeseries` {items} is not a list"));
        };
        for item in items {
            let Some(m) = item.as_object() else {
                return Err(format!("grouped timeseries {item} is not an object"));
            };
            for (key, v) in m {
                let Some(group) = v.as_object() else {
                    return Err(format!(
                        "grouped timeseries of {key:?}: {v} is not an object"
                    ));
                };
                let mut path = prefix.to_vec();
                path.push(key.clone());
                if let Some(deeper) = nested(group) {
                    self.walk(deeper, &path, out)?;
                    continue;
                }
                let series = match group.get("series") {
                    Some(Value::Array(s)) => self.list(s, "`groups_timeseries`")?,
                    None | Some(Value::Null) => Vec::new(),
                    Some(other) => {
                        return Err(format!(
                            "the series of group {} is {other}, not a list",
                            group_key(&path)
                        ));
                    }
                };
                // Totals come as `{"count": 9}`, a bare number or a list of
                // one object; they repeat the series, so an odd one is left
                // out rather than trusted.
                let total = group
                    .get("totals")
                    .or_else(|| group.get("total"))
                    .and_then(|t| match t {
                        Value::Array(a) if a.len() == 1 => self.of(&a[0], "totals").ok(),
                        other => self.of(other, "totals").ok(),
                    })
                    .flatten();
                out.push(GroupSeries {
                    path,
                    series,
                    total,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
