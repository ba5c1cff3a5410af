//! What pushing work to Rapid7 saves, on a 100 events/s log, in API requests
//! and time, pushed against paged:
//! - counts per 10 minutes over a day (8.6 million events): count pushdown
//!   (statistics) against paging every event;
//! - a rare value over 30 days (`message LIKE '%bytes=4999999%'`, a few dozen
//!   of 259 million events): the filter pushed as `where(...)` against paging
//!   every event (the paged side an estimate from the data function's counts:
//!   17,000 queries a day);
//! - the newest 50 events of a day: newest-first pages against paging the
//!   day (`SET rapid7.pushdown_newest_first = false`).
//!
//! ```sh
//! cargo bench --bench pushdown             # about ten minutes
//! PUSHDOWN_OUT=figures.json cargo bench --bench pushdown
//! PUSHDOWN_RARE_DAYS=3 cargo bench --bench pushdown   # a shorter rare-value window
//! ```
//!
//! The simulator runs in this process over real HTTP on loopback.
//! - Pushdown is timed twice: with no added latency, and with Rapid7-like
//!   latency (100–300 ms a request, every query 202 then one poll).
//! - Paging is run once with no latency and an unlimited quota (the
//!   machine-bound time), and its quota-bound time is computed from the
//!   queries it made at Rapid7's 1,500 queries per 15 minutes, which is what
//!   bounds it against the real API.
//!
//! Every answer is checked against the simulator's data function. Under
//! `cargo test` (no `--bench`) one-hour versions run without latency.
//! Figures: docs/benchmarks.md.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Int64Type, TimestampMillisecondType, TimestampNanosecondType};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::client::{ClientBuilder, PollConfig, RateLimitConfig};
use datafusion_rapid7::mock::{
    Faults, MessageFormat, MockConfig, MockDataset, MockLog, MockServer,
};
use datafusion_rapid7::time::fmt_ms;
use datafusion_rapid7::{Rapid7Config, register};
use serde::Serialize;

const LOG_ID: &str = "0c6d1e2f-3a4b-4c5d-8e9f-a0b1c2d3e4f5";
const LOG_NAME: &str = "Busy";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;
const BIN: i64 = 10 * 60_000;
/// Rapid7's documented quota of queries a second (1,500 per 15 minutes).
const QUOTA_PER_SECOND: f64 = 1_500.0 / 900.0;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Serialize, Debug)]
struct Row {
    question: &'static str,
    method: &'static str,
    profile: &'static str,
    /// Events of the log in the question's window.
    events: u64,
    /// Rows of the answer.
    rows: usize,
    event_queries: usize,
    statistical_queries: usize,
    polls: usize,
    wall_s: f64,
    /// Time at Rapid7's quota, for what the quota bounds.
    quota_bound_s: f64,
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run(if full { 24 * HOUR } else { HOUR }, full))
}

async fn run(len: i64, full: bool) -> Result<(), BoxError> {
    let server = MockServer::start(MockConfig::counting(MockDataset::new(vec![MockLog {
        id: LOG_ID.into(),
        name: LOG_NAME.into(),
        rate_per_sec: 100.0,
        format: MessageFormat::KeyValue,
        burst_every_secs: None,
        burst_size: 0,
        labels: vec![],
    }])))
    .await?;
    let (from, to) = (T0, T0 + len);
    let truth = truth(server.dataset(), from, to);
    let events: u64 = truth.values().map(|n| *n as u64).sum();
    let mut rows = Vec::new();

    rows.push(measure(&server, "pushdown", "no latency", true, from, to, &truth).await?);
    if full {
        server.set_faults(Faults {
            polls: 1,
            latency: Duration::from_millis(100),
            latency_jitter: Duration::from_millis(200),
            ..Faults::default()
        });
        rows.push(
            measure(
                &server,
                "pushdown",
                "rapid7-like latency",
                true,
                from,
                to,
                &truth,
            )
            .await?,
        );
        server.set_faults(Faults {
            polls: 0,
            ..Faults::default()
        });
    }
    rows.push(measure(&server, "paging", "no latency", false, from, to, &truth).await?);
    println!(
        "counts per 10 minutes over {} h of a 100 events/s log ({events} events)",
        len / HOUR
    );
    let rare_days: i64 = std::env::var("PUSHDOWN_RARE_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(30);
    let rare_len = if full { rare_days * 24 * HOUR } else { HOUR };
    rows.extend(rare(&server, T0, T0 + rare_len).await?);
    rows.extend(newest(&server, T0, T0 + len).await?);

    println!(
        "{:<8} {:<18} {:<20} {:>13} {:>11} {:>6} {:>9} {:>14}",
        "question",
        "method",
        "profile",
        "event queries",
        "statistics",
        "polls",
        "wall s",
        "at quota s"
    );
    for r in &rows {
        println!(
            "{:<8} {:<18} {:<20} {:>13} {:>11} {:>6} {:>9.2} {:>14.0}",
            r.question,
            r.method,
            r.profile,
            r.event_queries,
            r.statistical_queries,
            r.polls,
            r.wall_s,
            r.quota_bound_s
        );
    }
    if full {
        let out =
            std::env::var("PUSHDOWN_OUT").unwrap_or_else(|_| "target/bench-pushdown.json".into());
        std::fs::write(&out, serde_json::to_string_pretty(&rows)? + "\n")?;
        println!("figures written to {out}");
    }
    Ok(())
}

/// Events per bin start (ms) of `[from, to)`, from the data function.
fn truth(dataset: &MockDataset, from: i64, to: i64) -> BTreeMap<i64, i64> {
    (0..(to - from) / BIN)
        .map(|i| {
            let a = from + i * BIN;
            (a, dataset.count(LOG_ID, a, a + BIN) as i64)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

async fn measure(
    server: &MockServer,
    method: &'static str,
    profile: &'static str,
    pushdown: bool,
    from: i64,
    to: i64,
    truth: &BTreeMap<i64, i64>,
) -> Result<Row, BoxError> {
    let (_dir, ctx) = session(server, pushdown).await?;
    server.clear_requests();
    let sql = format!(
        "SELECT date_bin(interval '10 minutes', timestamp) AS t, count(*) AS n FROM rapid7_logs \
         WHERE log_name = '{LOG_NAME}' AND timestamp >= '{}' AND timestamp < '{}' GROUP BY t",
        fmt_ms(from),
        fmt_ms(to)
    );
    let started = Instant::now();
    let batches = ctx.sql(&sql).await?.collect().await?;
    let wall_s = started.elapsed().as_secs_f64();
    let mut got = BTreeMap::new();
    for b in &batches {
        let t = b.column(0).as_primitive::<TimestampNanosecondType>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            got.insert(t.value(i) / 1_000_000, n.value(i));
        }
    }
    if &got != truth {
        return Err(format!("{method}: the counts differ from the data function").into());
    }
    let (event_queries, statistical_queries, polls) = requests(server);
    Ok(Row {
        question: "counts",
        method,
        profile,
        events: truth.values().map(|n| *n as u64).sum(),
        rows: got.len(),
        event_queries,
        statistical_queries,
        polls,
        wall_s,
        quota_bound_s: (event_queries + statistical_queries) as f64 / QUOTA_PER_SECOND,
    })
}

/// The value the rare question looks for: the largest `bytes` the simulator
/// writes, in about one event in 6.7 million.
const NEEDLE: &str = "bytes=4999999";

/// A rare value over `[from, to)`: pushed (measured) and paged (estimated
/// from the data function's counts: a page per 500 events, at least a query
/// per hour piece).
async fn rare(server: &MockServer, from: i64, to: i64) -> Result<Vec<Row>, BoxError> {
    let mut want: Vec<(i64, String)> = Vec::new();
    let mut pages = 0u64;
    let mut events = 0u64;
    for h in (from..to).step_by(HOUR as usize) {
        let end = (h + HOUR).min(to);
        let n = server.dataset().count(LOG_ID, h, end);
        events += n;
        pages += n.div_ceil(500).max(1);
        want.extend(
            server
                .dataset()
                .events(LOG_ID, h, end)
                .into_iter()
                .filter(|e| contains_needle(&e.message))
                .map(|e| (e.timestamp, e.message)),
        );
    }
    let (_dir, ctx) = session(server, true).await?;
    server.clear_requests();
    let sql = format!(
        "SELECT timestamp, message FROM rapid7_logs WHERE log_name = '{LOG_NAME}' \
         AND timestamp >= '{}' AND timestamp < '{}' AND message LIKE '%{NEEDLE}%' \
         ORDER BY timestamp, sequence_number",
        fmt_ms(from),
        fmt_ms(to)
    );
    let started = Instant::now();
    let batches = ctx.sql(&sql).await?.collect().await?;
    let wall_s = started.elapsed().as_secs_f64();
    let got = timestamps_and_messages(&batches);
    if got != want {
        return Err(format!(
            "rare: {} rows where the data function has {}",
            got.len(),
            want.len()
        )
        .into());
    }
    let (event_queries, statistical_queries, polls) = requests(server);
    println!(
        "a rare value over {} h of a 100 events/s log ({events} events, {} match)",
        (to - from) / HOUR,
        want.len()
    );
    Ok(vec![
        Row {
            question: "rare",
            method: "pushed where()",
            profile: "no latency",
            events,
            rows: got.len(),
            event_queries,
            statistical_queries,
            polls,
            wall_s,
            quota_bound_s: (event_queries + statistical_queries) as f64 / QUOTA_PER_SECOND,
        },
        Row {
            question: "rare",
            method: "paging (estimate)",
            profile: "—",
            events,
            rows: want.len(),
            event_queries: pages as usize,
            statistical_queries: 0,
            polls: 0,
            wall_s: f64::NAN,
            quota_bound_s: pages as f64 / QUOTA_PER_SECOND,
        },
    ])
}

/// Whether `message` holds [`NEEDLE`] (what the SQL `LIKE` keeps).
fn contains_needle(message: &str) -> bool {
    message.contains(NEEDLE)
}

/// The newest 50 events of `[from, to)`: newest-first pages against paging
/// the window, both measured.
async fn newest(server: &MockServer, from: i64, to: i64) -> Result<Vec<Row>, BoxError> {
    let want: Vec<(i64, String)> = server
        .dataset()
        .events(LOG_ID, (to - HOUR).max(from), to)
        .into_iter()
        .rev()
        .take(50)
        .map(|e| (e.timestamp, e.message))
        .collect();
    let events = server.dataset().count(LOG_ID, from, to);
    let sql = format!(
        "SELECT timestamp, message FROM rapid7_logs WHERE log_name = '{LOG_NAME}' \
         AND timestamp >= '{}' AND timestamp < '{}' \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT 50",
        fmt_ms(from),
        fmt_ms(to)
    );
    let mut rows = Vec::new();
    for (method, on) in [("newest first", true), ("paging", false)] {
        let (_dir, ctx) = session(server, true).await?;
        ctx.sql(&format!("SET rapid7.pushdown_newest_first = {on}"))
            .await?
            .collect()
            .await?;
        server.clear_requests();
        let started = Instant::now();
        let batches = ctx.sql(&sql).await?.collect().await?;
        let wall_s = started.elapsed().as_secs_f64();
        let got = timestamps_and_messages(&batches);
        if got != want {
            return Err(format!("newest ({method}): not the data function's newest 50").into());
        }
        let (event_queries, statistical_queries, polls) = requests(server);
        rows.push(Row {
            question: "newest",
            method,
            profile: "no latency",
            events,
            rows: got.len(),
            event_queries,
            statistical_queries,
            polls,
            wall_s,
            quota_bound_s: (event_queries + statistical_queries) as f64 / QUOTA_PER_SECOND,
        });
    }
    println!(
        "the newest 50 events of {} h of a 100 events/s log ({events} events)",
        (to - from) / HOUR
    );
    Ok(rows)
}

/// `(timestamp ms, message)` of every row of `batches`.
fn timestamps_and_messages(batches: &[RecordBatch]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for b in batches {
        let t = b.column(0).as_primitive::<TimestampMillisecondType>();
        let m = b.column(1).as_string::<i32>();
        for i in 0..b.num_rows() {
            out.push((t.value(i), m.value(i).to_string()));
        }
    }
    out
}

/// `(event queries, statistical queries, polls)` the simulator saw.
fn requests(server: &MockServer) -> (usize, usize, usize) {
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Poll)
        .count();
    (
        server.event_query_requests(),
        server.statistics_requests(),
        polls,
    )
}

/// A session over the simulator, with count pushdown on or off and no
/// fetch limit; the cache lives as long as the returned directory.
async fn session(
    server: &MockServer,
    pushdown: bool,
) -> Result<(tempfile::TempDir, SessionContext), BoxError> {
    let dir = tempfile::tempdir()?;
    let client = ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_rate_limit(RateLimitConfig::unlimited())
        // The simulator computes a filtered count over 30 days inside one
        // request (for minutes in a debug build); Rapid7 answers 202 and is
        // polled instead.
        .with_request_timeout(Duration::from_secs(3_600))
        .with_poll(PollConfig {
            initial: Duration::from_millis(20),
            ..PollConfig::default()
        })
        .build()?;
    let cache = SegmentCache::open(
        dir.path().to_str().ok_or("temp dir")?,
        CacheConfig::default(),
    )?;
    let config = Rapid7Config::new(client, cache)
        .with_pushdown_aggregates(pushdown)
        .with_max_fetch_events(0);
    let ctx = SessionContext::new();
    register(&ctx, config).await?;
    Ok((dir, ctx))
}
