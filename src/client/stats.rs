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
//! documentation and fixtures show: counts as integers, floats or strings of
//! them; `stats`/`timeseries` keyed `global_timeseries` or `<key>|global_timeseries`;
//! `status: 204` with empty `stats`; `total`/`totals`; `groups-timeseries`;
//! `all_exact_result(s)`. What does not add up (a slice count that is not a
//! non-negative integer, slices that do not sum to the total, the wrong
//! number of slices) is a [`Error::Decode`], never a wrong count.
//!
//! **Slices.** With `timeslice(N)` over `[from, to)` the granularity is
//! `g = (to - from) / N` and slice `i` is `[from + i·g, from + (i+1)·g)`.
//! Whether Rapid7 counts events stamped exactly `to` is not documented: see
//! [`Client::count_events`] for how callers stay exact under both readings.

use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::model::Link;
use super::poll::fetch_finished;
use super::rest::Client;
use crate::leql;
use crate::log_id::LogId;

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

/// A statistical result as Rapid7 returns it, decoded leniently.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// `from` of the query, epoch ms.
    pub from: i64,
    /// `to` of the query, epoch ms.
    pub to: i64,
    /// Length of a slice, ms (0 for grouped results).
    pub granularity_ms: i64,
    /// The function (`count`, `sum`, `unique`, …) as the body names it.
    pub function: String,
    /// The value over the whole window, when the body has one.
    pub total: Option<f64>,
    /// The value of each slice, in order (empty when there is none).
    pub timeseries: Vec<f64>,
    /// Grouped results: `(group key, value)`, in the body's order.
    pub groups: Vec<(String, f64)>,
    /// Grouped slices: `(group key, value of each slice)`.
    pub groups_timeseries: Vec<(String, Vec<f64>)>,
    /// `all_exact_result(s)`: `Some(false)` when groups are approximate.
    pub exact: Option<bool>,
    /// `statistics.status` (200, or 204 for no data).
    pub status: Option<u16>,
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
        if from >= to {
            return Err(Error::InvalidRange {
                start: from,
                end: to,
            });
        }
        if n == 0 || n > MAX_SLICES || (to - from) % i64::from(n) != 0 {
            return Err(Error::Config {
                key: "timeslice".into(),
                message: format!(
                    "{n} slices of [{from}, {to}): use 1 to {MAX_SLICES} slices that divide the \
                     window evenly"
                ),
            });
        }
        let statement = leql::count_statement(filter.as_deref(), Some(n));
        let url_shown = format!("{log_id} {statement}");
        let stats = self.statistics(log_id, from, to, &statement).await?;
        counts_from(&stats, from, to, n).map_err(|message| Error::Decode {
            url: url_shown,
            message,
        })
    }

    /// Run any statistical LEQL `statement` over one log and window.
    pub async fn statistics(
        &self,
        log_id: &str,
        from: i64,
        to: i64,
        statement: &str,
    ) -> Result<Statistics> {
        if from >= to {
            return Err(Error::InvalidRange {
                start: from,
                end: to,
            });
        }
        let log_id = LogId::new(log_id).map_err(|e| Error::Config {
            key: "log id".into(),
            message: e.to_string(),
        })?;
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

fn links_of(value: &Value) -> Vec<Link> {
    value
        .get("links")
        .and_then(Value::as_array)
        .map(|links| {
            links
                .iter()
                .filter_map(|l| serde_json::from_value::<Link>(l.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
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
            (None, _) if stats.status == Some(204) => vec![0; n_usize],
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
            .map(|v| exact_count(*v))
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

/// Decode the `statistics` of a final body.
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
    let number = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
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

    // The value of one function object: `{"count": 462}` (or `counts`).
    let value_of = |v: &Value| -> std::result::Result<Option<f64>, String> {
        match v {
            Value::Object(m) if m.is_empty() => Ok(None),
            Value::Object(m) => {
                let found = m
                    .get(&function)
                    .or_else(|| m.get(&format!("{function}s")))
                    .or_else(|| (m.len() == 1).then(|| m.values().next()).flatten());
                match found {
                    Some(x) => number(x)
                        .map(Some)
                        .ok_or_else(|| format!("{x} is not a number")),
                    None => Err(format!("no {function:?} in {v}")),
                }
            }
            other => number(other)
                .map(Some)
                .ok_or_else(|| format!("{other} is not a number")),
        }
    };
    let global = |m: &Map<String, Value>| -> Option<Value> {
        m.iter()
            .find(|(k, _)| k.as_str() == "global_timeseries" || k.ends_with("|global_timeseries"))
            .map(|(_, v)| v.clone())
    };

    let mut total = match stats
        .get("stats")
        .and_then(Value::as_object)
        .and_then(global)
    {
        Some(v) => value_of(&v)?,
        None => None,
    };
    if total.is_none() {
        // Fixtures also carry a top-level count.
        total = stats
            .get("count")
            .and_then(number)
            .filter(|_| function == "count");
    }
    let timeseries = match stats
        .get("timeseries")
        .and_then(Value::as_object)
        .and_then(global)
    {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| value_of(item).map(|v| v.unwrap_or(0.0)))
            .collect::<std::result::Result<Vec<_>, _>>()?,
        Some(other) => return Err(format!("timeseries {other} is not an array")),
        None => Vec::new(),
    };

    let mut groups = Vec::new();
    if let Some(items) = stats.get("groups").and_then(Value::as_array) {
        for item in items {
            let Some(m) = item.as_object() else {
                return Err(format!("group {item} is not an object"));
            };
            for (key, v) in m {
                if let Some(x) = value_of(v)? {
                    groups.push((key.clone(), x));
                }
            }
        }
    }
    let mut groups_timeseries = Vec::new();
    let gts = stats
        .get("groups_timeseries")
        .or_else(|| stats.get("groups-timeseries"));
    if let Some(items) = gts.and_then(Value::as_array) {
        for item in items {
            let Some(m) = item.as_object() else {
                return Err(format!("grouped timeseries {item} is not an object"));
            };
            for (key, v) in m {
                let series = v
                    .get("series")
                    .and_then(Value::as_array)
                    .map(|s| {
                        s.iter()
                            .map(|x| value_of(x).map(|v| v.unwrap_or(0.0)))
                            .collect::<std::result::Result<Vec<_>, _>>()
                    })
                    .transpose()?
                    .unwrap_or_default();
                groups_timeseries.push((key.clone(), series));
            }
        }
    }
    Ok(Statistics {
        from,
        to,
        granularity_ms,
        function,
        total,
        timeseries,
        groups,
        groups_timeseries,
        exact,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> Statistics {
        decode_statistics(&v, 0, 100).unwrap()
    }

    #[test]
    fn the_spec_fixture_decodes() {
        // rapid7-api.md §9 (f), three of its ten slices.
        let body = json!({
          "logs": ["553048ff-e6ab-4597-a3e0-2b24032c233e"],
          "leql": {"statement": "where(hostname='WindowsX64') calculate(count)",
                   "during": {"from": 1699567413000i64, "to": 1699610613000i64}},
          "statistics": {"cardinality": 0, "granularity": 4320000, "from": 1699567413000i64,
                         "to": 1699610613000i64, "type": "count",
                         "stats": {"global_timeseries": {"count": 121}}, "groups": [], "others": {},
                         "status": 200,
                         "timeseries": {"global_timeseries": [{"count": 38}, {"count": 47}, {"count": 36}]},
                         "groups_timeseries": [], "all_exact_result": null, "count": 121}
        });
        let s = decode(body);
        assert_eq!(s.total, Some(121.0));
        assert_eq!(s.timeseries, vec![38.0, 47.0, 36.0]);
        assert_eq!(s.granularity_ms, 4_320_000);
        assert_eq!(s.exact, None);
        let from = 1_699_567_413_000;
        let c = counts_from(&s, from, from + 3 * 4_320_000, 3).unwrap();
        assert_eq!(c.slices, vec![38, 47, 36]);
        assert_eq!(c.total(), 121);
        assert!(c.exact);
    }

    #[test]
    fn slices_laid_out_otherwise_than_asked_are_an_error() {
        let body = |from: i64, granularity: i64| {
            json!({"statistics": {"type": "count", "from": from, "to": from + 100,
                "granularity": granularity,
                "timeseries": {"global_timeseries": [{"count": 1}, {"count": 2}]}}})
        };
        assert_eq!(
            counts_from(&decode(body(0, 50)), 0, 100, 2).unwrap().slices,
            vec![1, 2]
        );
        let e = counts_from(&decode(body(10, 50)), 0, 100, 2).unwrap_err();
        assert!(e.contains("start at 10"), "{e}");
        let e = counts_from(&decode(body(0, 40)), 0, 100, 2).unwrap_err();
        assert!(e.contains("40 ms"), "{e}");
    }

    #[test]
    fn lenient_shapes() {
        // Floats, strings, keyed global, no total.
        let s = decode(json!({"statistics": {"type": "count",
            "timeseries": {"x|global_timeseries": [{"count": 2.0}, {"count": "3"}]}}}));
        assert_eq!(counts_from(&s, 0, 100, 2).unwrap().slices, vec![2, 3]);
        // 204, empty stats: zero everywhere.
        let s = decode(
            json!({"statistics": {"status": 204, "stats": {"global_timeseries": {}},
            "timeseries": {"global_timeseries": []}}}),
        );
        assert_eq!(counts_from(&s, 0, 100, 4).unwrap().slices, vec![0; 4]);
        // A top-level count only, one slice.
        let s = decode(json!({"statistics": {"type": "count", "count": 7}}));
        assert_eq!(counts_from(&s, 0, 100, 1).unwrap().slices, vec![7]);
        // `counts`, all_exact_results false.
        let s = decode(
            json!({"statistics": {"type": "count", "all_exact_results": false,
            "stats": {"global_timeseries": {"counts": 5}},
            "timeseries": {"global_timeseries": [{"counts": 5}]}}}),
        );
        let c = counts_from(&s, 0, 100, 1).unwrap();
        assert_eq!((c.total(), c.exact), (5, false));
        // Groups, with totals and the hyphenated spelling.
        let s = decode(json!({"statistics": {"type": "count", "granularity": 0,
            "groups": [{"[1,9]": {"count": 6.0}}, {"b": {"count": 3}}],
            "groups-timeseries": [{"1": {"series": [{"count": 4}, {"count": 5}], "totals": {"count": 9}}}],
            "all_exact_result": true}}));
        assert_eq!(
            s.groups,
            vec![("[1,9]".to_string(), 6.0), ("b".to_string(), 3.0)]
        );
        assert_eq!(s.groups_timeseries, vec![("1".to_string(), vec![4.0, 5.0])]);
        assert_eq!(s.exact, Some(true));
    }

    #[test]
    fn what_does_not_add_up_is_an_error_not_a_count() {
        let bad = [
            json!({"statistics": {"timeseries": {"global_timeseries": [{"count": 1.5}]}}}),
            json!({"statistics": {"timeseries": {"global_timeseries": [{"count": -1}]}}}),
            json!({"statistics": {"timeseries": {"global_timeseries": [{"count": "many"}]}}}),
            json!({"statistics": {"stats": {"global_timeseries": {"count": 9}},
                   "timeseries": {"global_timeseries": [{"count": 1}, {"count": 2}]}}}),
            json!({"statistics": {"timeseries": {"global_timeseries": [{"count": 1}]}}}),
            json!({"statistics": {"status": 200}}),
            json!({"statistics": {"timeseries": {"global_timeseries": {"count": 1}}}}),
        ];
        for (i, body) in bad.into_iter().enumerate() {
            let result = decode_statistics(&body, 0, 100).and_then(|s| counts_from(&s, 0, 100, 2));
            assert!(result.is_err(), "case {i}: {result:?}");
        }
        assert!(decode_statistics(&json!({"events": []}), 0, 1).is_err());
        assert!(decode_statistics(&json!({}), 0, 1).is_err());
    }
}
