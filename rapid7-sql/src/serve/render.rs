//! The Prometheus text exposition of the metrics, and the endpoint serving it.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use datafusion_rapid7::Rapid7;

use super::metrics::{BUCKETS, Histogram, Metrics, UserFigures};

/// `GET /metrics` on `listener` until the future is dropped.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    rapid7: Rapid7,
) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let text = render(&metrics, &rapid7);
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    text,
                )
            }
        }),
    );
    axum::serve(listener, app).await
}

/// A label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn one(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    head(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    head(out, name, "histogram", help);
    let (buckets, count, sum) = h.snapshot();
    for (bound, n) in BUCKETS.iter().zip(buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}

/// One counter by user.
fn per_user(
    out: &mut String,
    by_user: &std::collections::BTreeMap<String, UserFigures>,
    name: &str,
    help: &str,
    pick: impl Fn(&UserFigures) -> u64,
) {
    head(out, name, "counter", help);
    for (user, f) in by_user {
        let _ = writeln!(out, "{name}{{user=\"{}\"}} {}", label(user), pick(f));
    }
}

/// The exposition text.
pub(crate) fn render(m: &Metrics, rapid7: &Rapid7) -> String {
    let mut out = String::new();
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);

    head(
        &mut out,
        "rapid7_serve_statements_total",
        "counter",
        "Flight SQL statements by user and outcome (ok, error, refused, cancelled).",
    );
    for ((user, outcome), n) in m
        .statements
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        let _ = writeln!(
            out,
            "rapid7_serve_statements_total{{user=\"{}\",outcome=\"{}\"}} {n}",
            label(user),
            label(outcome)
        );
    }
    let by_user = m.by_user.lock().unwrap_or_else(|e| e.into_inner()).clone();
    per_user(
        &mut out,
        &by_user,
        "rapid7_serve_result_rows_total",
        "Rows sent to clients, by user.",
        |f| f.rows,
    );
    per_user(
        &mut out,
        &by_user,
        "rapid7_serve_result_bytes_total",
        "Bytes of results sent to clients, by user.",
        |f| f.bytes,
    );
    per_user(
        &mut out,
        &by_user,
        "rapid7_serve_queries_spent_total",
        "Rapid7 API queries made for statements, by user (each statement its own).",
        |f| f.queries_spent,
    );
    histogram(
        &mut out,
        "rapid7_serve_statement_duration_seconds",
        "Flight SQL statement latency.",
        &m.statement_latency,
    );

    if let Some(client) = rapid7.client() {
        let s = client.stats();
        one(
            &mut out,
            "rapid7_api_queries_total",
            "counter",
            "Rapid7 query requests (submits and next pages).",
            s.queries,
        );
        one(
            &mut out,
            "rapid7_api_polls_total",
            "counter",
            "Polls of running Rapid7 queries.",
            s.polls,
        );
        one(
            &mut out,
            "rapid7_api_management_requests_total",
            "counter",
            "Rapid7 management requests (log lists).",
            s.management,
        );
        one(
            &mut out,
            "rapid7_api_rate_limited_total",
            "counter",
            "Rapid7 answers 429 (rate limited).",
            s.rate_limited,
        );
        one(
            &mut out,
            "rapid7_api_retries_total",
            "counter",
            "Retries after transient failures.",
            s.retries,
        );
        one(
            &mut out,
            "rapid7_api_events_total",
            "counter",
            "Events received from Rapid7.",
            s.events,
        );
        if let Some(q) = client.quota() {
            one(
                &mut out,
                "rapid7_quota_limit",
                "gauge",
                "Queries per window the key may make, as Rapid7 last said.",
                q.limit,
            );
            one(
                &mut out,
                "rapid7_quota_remaining",
                "gauge",
                "Queries left in the key's window, as Rapid7 last said.",
                q.remaining,
            );
            one(
                &mut out,
                "rapid7_quota_resets_in_seconds",
                "gauge",
                "Time until the key's window resets.",
                q.resets_in.as_secs_f64(),
            );
        }
    }

    head(
        &mut out,
        "rapid7_cache_lookups_total",
        "counter",
        "Logs of statements served from the cache alone (hit), partly (partial) or not at all (miss).",
    );
    for (result, a) in [
        ("hit", &m.cache_hits),
        ("partial", &m.cache_partials),
        ("miss", &m.cache_misses),
    ] {
        let _ = writeln!(
            out,
            "rapid7_cache_lookups_total{{result=\"{result}\"}} {}",
            get(a)
        );
    }
    one(
        &mut out,
        "rapid7_cache_rows_reused_total",
        "counter",
        "Rows read from the cache instead of Rapid7.",
        get(&m.rows_reused),
    );
    one(
        &mut out,
        "rapid7_cache_rows_fetched_total",
        "counter",
        "Rows fetched from Rapid7 for statements.",
        get(&m.rows_fetched),
    );
    one(
        &mut out,
        "rapid7_cache_segments_committed_total",
        "counter",
        "Segments written to the cache.",
        get(&m.segments_committed),
    );
    one(
        &mut out,
        "rapid7_cache_bytes_written_total",
        "counter",
        "Bytes of Parquet written to the cache.",
        get(&m.bytes_written),
    );
    histogram(
        &mut out,
        "rapid7_fetch_duration_seconds",
        "Latency of fetches (one piece of a log into a segment).",
        &m.fetch_latency,
    );
    one(
        &mut out,
        "rapid7_fetches_failed_total",
        "counter",
        "Fetches that failed (their parts removed).",
        get(&m.fetches_failed),
    );
    out
}
