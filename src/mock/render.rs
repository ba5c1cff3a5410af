//! Response bodies, byte for byte as the API shapes them (rapid7-api.md §9).
//!
//! Event pages are written by hand rather than through `serde_json::Value`
//! so that `sequence_number` can be rendered the way the real service's
//! JavaScript-style serializer does: as the nearest `f64`, i.e. imprecise
//! above 2^53 (`3235937417370673152` becomes `3235937417370673000`).

use std::fmt::Write as _;

use serde_json::json;

use super::aggregate::{Group, aggregate};
use super::data::{MockDataset, MockEvent, MockLog, MockLogSet};
use super::encode::{encode_query_value, encode_segment, push_json_str};
use super::faults::NextLinks;
use super::leql::{Function, Statement};
use super::query::{
    PageOptions, QuerySpec, UNREADABLE_SEQUENCE, count_events, last_ms, page_events,
};

/// Organisation id used in the `rrn` of simulated logs.
const ORG_ID: &str = "5e1f0c2a-9b8d-4e7f-a6c5-d4b3a2f1e0d9";

/// `{"statement":…,"during":{"from":…,"to":…[,"time_range":…]}}`
fn push_leql(out: &mut String, spec: &QuerySpec) {
    out.push_str("{\"statement\":");
    push_json_str(out, &spec.statement);
    let _ = write!(
        out,
        ",\"during\":{{\"from\":{},\"to\":{}",
        spec.from, spec.to
    );
    if let Some(tr) = &spec.time_range {
        out.push_str(",\"time_range\":");
        push_json_str(out, tr);
    }
    out.push_str("}}");
}

fn push_event(out: &mut String, e: &MockEvent, root: &str, opts: &PageOptions) {
    out.push_str("{\"labels\":[");
    for (i, label) in e.labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        push_json_str(out, label);
        out.push_str(",\"links\":[{\"rel\":\"Self\",\"href\":");
        push_json_str(
            out,
            &format!("{root}/management/labels/{}", encode_segment(label)),
        );
        out.push_str("}]}");
    }
    // The f64 nearest to the sequence number, printed with all integer digits
    // (Rust's `Display` for f64 never uses an exponent; like JavaScript it
    // prints the shortest round-trip digits padded with zeros).
    if opts.drops_timestamp(e) {
        out.push(']');
    } else {
        let _ = write!(out, "],\"timestamp\":{}", e.timestamp);
    }
    let _ = write!(out, ",\"sequence_number\":{}", e.sequence_number as f64);
    let unreadable = e.sequence_number == UNREADABLE_SEQUENCE;
    if opts.omit_sequence_number_str || unreadable {
        // Older material: the exact number only in the Context link.
    } else if opts.numeric_sequence_number_str {
        let _ = write!(out, ",\"sequence_number_str\":{}", e.sequence_number);
    } else {
        let _ = write!(out, ",\"sequence_number_str\":\"{}\"", e.sequence_number);
    }
    out.push_str(",\"log_id\":");
    push_json_str(out, &e.log_id);
    out.push_str(",\"message\":");
    if opts.object_messages
        && e.message.starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(&e.message).is_ok()
    {
        out.push_str(&e.message);
    } else {
        push_json_str(out, &e.message);
    }
    out.push_str(",\"links\":[{\"rel\":\"Context\",\"href\":");
    push_json_str(
        out,
        &format!(
            "{root}/query/context/{}?per_page=50&timestamp={}&log_keys={}&context_type=SURROUND",
            if unreadable {
                "unknown".to_string()
            } else {
                e.sequence_number.to_string()
            },
            e.timestamp,
            encode_query_value(&e.log_id)
        ),
    );
    out.push_str("}]}");
}

/// The logs of `spec`, as the JSON strings of a `logs` list.
fn push_logs(out: &mut String, spec: &QuerySpec) {
    for (i, log) in spec.logs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, log);
    }
}

/// The path segment naming `spec`'s logs: `a:b:c`, each encoded.
fn logs_segment(spec: &QuerySpec) -> String {
    let ids: Vec<String> = spec.logs.iter().map(|l| encode_segment(l)).collect();
    ids.join(":")
}

/// The events of `logs` together in `[from, to)` the statement selects.
fn count_logs(
    data: &MockDataset,
    logs: &[String],
    statement: &Statement,
    from: i64,
    to: i64,
) -> u64 {
    logs.iter()
        .map(|l| count_events(data, l, statement, from, to))
        .sum()
}

/// A finished page (§9 b/c): `links` only when there is a `Next` href.
pub(crate) fn page(
    spec: &QuerySpec,
    events: &[MockEvent],
    next: Option<&str>,
    root: &str,
    opts: &PageOptions,
) -> Vec<u8> {
    let mut out = String::with_capacity(128 + events.len() * 600);
    out.push_str("{\"logs\":[");
    push_logs(&mut out, spec);
    out.push_str("],\"leql\":");
    push_leql(&mut out, spec);
    out.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_event(&mut out, e, root, opts);
    }
    out.push(']');
    if let Some(href) = next {
        out.push_str(",\"links\":[{\"rel\":\"Next\",\"href\":");
        push_json_str(&mut out, href);
        out.push_str("}]");
    }
    out.push('}');
    out.into_bytes()
}

/// A finished page's body; `root` is `{base}{prefix}`.
pub(crate) fn final_page(
    data: &MockDataset,
    spec: &QuerySpec,
    opts: PageOptions,
    root: &str,
) -> Vec<u8> {
    let (mut events, more) = page_events(data, spec, opts);
    if let Some(late) = opts.late_ms {
        events.retain(|e| e.timestamp != late);
    }
    if opts.to_partly_inclusive && !opts.to_exclusive {
        let last_at_to = events.iter().rposition(|e| e.timestamp == spec.to);
        if let Some(i) = last_at_to {
            events.remove(i);
        }
    }
    let link = |from: i64, seq: Option<u64>, extra: &str| {
        let seq = seq.map_or_else(String::new, |s| format!("&sequence_number={s}"));
        format!(
            "{root}/query/logs/{}?from={from}&to={}&per_page={}{seq}&next_page=true&query={}{extra}",
            logs_segment(spec),
            spec.to,
            spec.per_page,
            encode_query_value(&spec.statement),
        )
    };
    let skip = if opts.merged_link_beyond_last && spec.logs.len() > 1 {
        1_000
    } else {
        0
    };
    let after_last = || match (more, events.last()) {
        (true, Some(last)) => Some((last.timestamp + skip, last.sequence_number)),
        _ => None,
    };
    let next = match opts.next_links {
        // Newest first: the page's last (oldest) event becomes `to`.
        _ if spec.newest_first && opts.newest_links_skip_millisecond => {
            after_last().map(|(ts, _)| {
                // `to` read as the server reads it: strictly before `ts`.
                let to = if opts.to_exclusive { ts } else { ts - 1 };
                format!(
                    "{root}/query/logs/{}?from={}&to={to}&per_page={}\
                     &most_recent_first=true&next_page=true&query={}",
                    logs_segment(spec),
                    spec.from,
                    spec.per_page,
                    encode_query_value(&spec.statement),
                )
            })
        }
        _ if spec.newest_first => after_last().map(|(ts, seq)| {
            format!(
                "{root}/query/logs/{}?from={}&to={ts}&per_page={}&sequence_number={seq}\
                 &most_recent_first=true&next_page=true&query={}",
                logs_segment(spec),
                spec.from,
                spec.per_page,
                encode_query_value(&spec.statement),
            )
        }),
        NextLinks::Advance => after_last().map(|(ts, seq)| link(ts, Some(seq), "")),
        NextLinks::Repeat => Some(link(
            spec.from,
            spec.sequence_number,
            &format!("&attempt={}", opts.serial),
        )),
        NextLinks::Alternate => match spec.first_from {
            None => after_last()
                .map(|(ts, seq)| link(ts, Some(seq), &format!("&first_from={}", spec.from))),
            // Exactly the first page's request, as a client builds it.
            Some(first) => Some(format!(
                "{root}/query/logs/{}?from={first}&to={}&per_page={}",
                logs_segment(spec),
                spec.to,
                spec.per_page
            )),
        },
        NextLinks::Creep => Some(link(
            spec.from,
            Some(spec.sequence_number.map_or(0, |s| s.saturating_add(1))),
            "",
        )),
    };
    if opts.reverse_within_millisecond {
        // The order within a millisecond is Rapid7's business: the cursor
        // (computed above) stays that of the page's last event in key order.
        for group in events.chunk_by_mut(|a, b| a.timestamp == b.timestamp) {
            group.reverse();
        }
    }
    page(spec, &events, next.as_deref(), root, &opts)
}

/// How statistical answers are shaped (copies of the
/// [`Faults`](super::Faults) that change them).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StatsOptions {
    /// `all_exact_result: false`.
    pub(crate) inexact: bool,
    /// The other spellings of Rapid7's material: counts as floats,
    /// `all_exact_results`, no top-level `count`, and an empty answer as
    /// `status: 204` with `stats: {}` (the plugin's `log_id7`).
    pub(crate) variant: bool,
    /// Slices are `[a, b]`: boundary events count in two slices.
    pub(crate) inclusive_slices: bool,
}

/// A finished statistical answer (§6, §9 f, §12) of `calculate(FN[:field])`
/// and/or `groupby(k1[, k2])`: `N` slices (`timeslice(N)`, 10 by default) of
/// granularity `g = (to - from) / N`, slice `i` covering `[from + i·g, from +
/// (i+1)·g)`; the last slice ends at `to`, inclusive unless `to` is simulated
/// exclusive.
///
/// - Without `groupby`: `stats: {K: {"<type>": v}}` and `timeseries: {K:
///   [{"<type>": v} × N]}`, `K` the field of `calculate(FN:field)` (also in
///   `key`) or `global_timeseries` for `count`; the top-level `<type>` is
///   the count for `count` and 0 otherwise, as in the spec's example. A
///   slice without a value is `{}`. No value at all: `status: 204` with `{}`
///   under `K` (and, for `count`, an empty series).
/// - With `groupby`: `stats: {}`, `timeseries: {}`, `groups: [{"<v>":
///   {"<type>": v}}]` (`[v1,v2]` for two keys), `groups_timeseries` nested
///   one level per key, each `{"<v>": {"series": […], "totals": {…},
///   "groups_timeseries": […]}}`, largest first, values lower-cased; no group
///   at all is `status: 204`.
pub(crate) fn statistics(
    data: &MockDataset,
    spec: &QuerySpec,
    opts: PageOptions,
    stats: StatsOptions,
) -> Vec<u8> {
    let statement = spec.parsed();
    let function = statement.function();
    let ty = function.type_name();
    let field = statement.calculate.as_ref().and_then(|c| c.field.clone());
    let n = i64::from(statement.timeslice.unwrap_or(10));
    let g = (spec.to - spec.from) / n;
    let end = last_ms(spec, opts).saturating_add(1);
    let is_count = function == Function::Count;
    let num = |v: f64| {
        if is_count && !stats.variant {
            json!(v as u64)
        } else {
            json!(v)
        }
    };
    let object = |v: Option<f64>| match v {
        Some(v) => json!({ ty: num(v) }),
        None => json!({}),
    };
    let exact = if stats.inexact {
        serde_json::Value::Bool(false)
    } else if statement.groupby.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::Bool(true)
    };
    let key = field.clone().unwrap_or_else(|| "global_timeseries".into());
    let (total, slices, groups) = if is_count && statement.groupby.is_empty() {
        // Counting needs no messages: the data function counts.
        let counts: Vec<Option<f64>> = (0..n)
            .map(|i| {
                let a = spec.from + i * g;
                let b = if i == n - 1 {
                    end
                } else if stats.inclusive_slices {
                    a + g + 1
                } else {
                    a + g
                };
                let late = opts
                    .late_ms
                    .filter(|ms| (a..b).contains(ms))
                    .map_or(0, |ms| count_logs(data, &spec.logs, &statement, ms, ms + 1));
                Some((count_logs(data, &spec.logs, &statement, a, b) - late) as f64)
            })
            .collect();
        let total: f64 = counts.iter().flatten().sum();
        (Some(total).filter(|t| *t > 0.0), counts, Vec::new())
    } else {
        let agg = aggregate(
            data,
            &spec.logs,
            &statement,
            (spec.from, end),
            (n as usize, g),
        );
        let slices = agg.all.slices.iter().map(|a| a.value(function)).collect();
        let total = agg
            .all
            .total
            .value(function)
            .filter(|_| agg.all.total.events() > 0);
        (total, slices, agg.groups)
    };
    let mut statistics = json!({
        "cardinality": 0,
        "granularity": g,
        "from": spec.from,
        "to": spec.to,
        "type": ty,
        "groups": [],
        "others": {},
        "groups_timeseries": [],
    });
    let fields = statistics.as_object_mut().expect("an object");
    let empty;
    if statement.groupby.is_empty() {
        empty = total.is_none();
        let (stats_obj, series) = if empty && stats.variant {
            (json!({}), json!({}))
        } else if empty && is_count {
            (json!({ &key: {} }), json!({ &key: [] }))
        } else {
            (
                json!({ &key: object(total) }),
                json!({ &key: slices.iter().map(|v| object(*v)).collect::<Vec<_>>() }),
            )
        };
        fields.insert("stats".into(), stats_obj);
        fields.insert("timeseries".into(), series);
        if let Some(field) = &field {
            fields.insert("key".into(), json!(field));
        }
    } else {
        empty = groups.is_empty();
        let (flat, series) = groups_json(&groups, function, &object);
        fields.insert("stats".into(), json!({}));
        fields.insert("timeseries".into(), json!({}));
        fields.insert("groups".into(), flat);
        fields.insert("groups_timeseries".into(), series);
        fields.insert("others".into(), json!({"series": []}));
    }
    fields.insert("status".into(), json!(if empty { 204 } else { 200 }));
    let top = if is_count { total.unwrap_or(0.0) } else { 0.0 };
    if stats.variant {
        fields.insert("all_exact_results".into(), exact);
    } else {
        fields.insert("all_exact_result".into(), exact);
        fields.insert(ty.into(), num(top));
    }
    let matched = if is_count { top as u64 } else { 0 };
    let body = json!({
        "logs": spec.logs,
        "leql": {"statement": spec.statement, "during": {"from": spec.from, "to": spec.to}},
        "statistics": statistics,
        "search_stats": {"events_matched": matched, "events_all": matched, "duration_ms": 1},
    });
    body.to_string().into_bytes()
}

/// `groups` (`"v"`, or `"[v1,v2]"` for two keys; largest first) and the nested
/// `groups_timeseries` of grouped statistics; `object` writes one value.
fn groups_json(
    groups: &[Group],
    f: Function,
    object: &dyn Fn(Option<f64>) -> serde_json::Value,
) -> (serde_json::Value, serde_json::Value) {
    // Every full path, largest value first (as the spec's example lists them).
    let mut flat: Vec<(String, Option<f64>)> = Vec::new();
    for g in groups {
        if g.children.is_empty() {
            flat.push((g.key.clone(), g.series.total.value(f)));
        }
        for c in &g.children {
            flat.push((format!("[{},{}]", g.key, c.key), c.series.total.value(f)));
        }
    }
    flat.sort_by(|a, b| {
        let v = |x: &(String, Option<f64>)| x.1.unwrap_or(f64::NEG_INFINITY);
        v(b).total_cmp(&v(a)).then_with(|| a.0.cmp(&b.0))
    });
    let flat: Vec<serde_json::Value> = flat
        .into_iter()
        .map(|(key, v)| json!({ key: object(v) }))
        .collect();
    fn nested(
        g: &Group,
        f: Function,
        object: &dyn Fn(Option<f64>) -> serde_json::Value,
    ) -> serde_json::Value {
        json!({ &g.key: {
            "groups_timeseries": g.children.iter().map(|c| nested(c, f, object)).collect::<Vec<_>>(),
            "series": g.series.slices.iter().map(|a| object(a.value(f))).collect::<Vec<_>>(),
            "totals": object(g.series.total.value(f)),
        }})
    }
    let series = groups.iter().map(|g| nested(g, f, object)).collect();
    (json!(flat), serde_json::Value::Array(series))
}

/// An in-progress answer (§9 a): progress, continuation id and its `Self`
/// link; statistical queries also carry `partial` statistics with counts as
/// strings, as Rapid7's in-progress bodies do (clients must not use them).
/// `legacy`: the older docs' shape, `query` for `leql` and `rel: "self"`.
pub(crate) fn continuation(
    spec: &QuerySpec,
    id: &str,
    progress: u32,
    self_href: &str,
    legacy: bool,
) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    out.push_str("{\"logs\":[");
    push_logs(&mut out, spec);
    out.push_str(if legacy {
        "],\"query\":"
    } else {
        "],\"leql\":"
    });
    push_leql(&mut out, spec);
    if spec.parsed().is_statistical() {
        out.push_str(
            ",\"partial\":{\"type\":\"count\",\"stats\":{\"global_timeseries\":{\"count\":\"1\"}},\
             \"timeseries\":{\"global_timeseries\":[{\"count\":\"1\"}]}}",
        );
    }
    let _ = write!(out, ",\"progress\":{progress},\"id\":");
    push_json_str(&mut out, id);
    out.push_str(if legacy {
        ",\"events\":[],\"links\":[{\"rel\":\"self\",\"href\":"
    } else {
        ",\"events\":[],\"links\":[{\"rel\":\"Self\",\"href\":"
    });
    push_json_str(&mut out, self_href);
    out.push_str("}]}");
    out.into_bytes()
}

/// One log as the management API describes it (§5, §9 e), in `sets`.
pub(crate) fn log_json(log: &MockLog, sets: &[&MockLogSet]) -> serde_json::Value {
    let logsets_info: Vec<serde_json::Value> = sets
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "rrn": format!("rrn:logsearch:us:{}:logset:{}", ORG_ID, s.id),
                "links": [{"rel": "Self", "href": format!("/management/logsets/{}", s.id)}],
            })
        })
        .collect();
    json!({
        "id": log.id,
        "name": log.name,
        "tokens": [],
        "structures": [],
        "logsets_info": logsets_info,
        "user_data": {},
        "source_type": "token",
        "token_seed": null,
        "retention_period": "default",
        "rrn": format!("rrn:logsearch:us:{}:log:{}", ORG_ID, log.id),
        "links": [],
    })
}

/// One log set as the management API describes it (§5): `logs_info`
/// names each of its logs (`name` as `log_name` gives it: a renamed log's
/// new name).
pub(crate) fn logset_json(
    set: &MockLogSet,
    log_name: impl Fn(&str) -> Option<String>,
) -> serde_json::Value {
    let logs_info: Vec<serde_json::Value> = set
        .logs
        .iter()
        .filter_map(|id| {
            Some(json!({
                "id": id,
                "name": log_name(id)?,
                "rrn": format!("rrn:logsearch:us:{}:log:{}", ORG_ID, id),
                "links": [{"rel": "Self", "href": format!("/management/logs/{id}")}],
            }))
        })
        .collect();
    json!({
        "id": set.id,
        "name": set.name,
        "description": null,
        "user_data": {},
        "logs_info": logs_info,
        "rrn": format!("rrn:logsearch:us:{}:logset:{}", ORG_ID, set.id),
    })
}

/// One label (`GET /management/labels/{id}`); names are derived from the id.
pub(crate) fn label_json(id: &str) -> serde_json::Value {
    let short: String = id.chars().take(8).collect();
    json!({
        "label": {
            "id": id,
            "sn": 1,
            "name": format!("label-{short}"),
            "color": "ff0000",
            "reserved": false,
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sequence_numbers_render_like_javascript() {
        assert_eq!(
            format!("{}", 3_235_937_417_370_673_152u64 as f64),
            "3235937417370673000"
        );
    }
}
