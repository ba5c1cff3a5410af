//! What merged reads save at an organisation's scale (#34): 200 quiet logs
//! (0.05 events/s) plus 3 busy ones (20 events/s), `MockDataset::organisation`,
//! two questions that name no log:
//! - a rare value in every log over 10 minutes
//!   (`message LIKE '%"bytes":999%'`, a few dozen matches);
//! - `count(*)` of every event over an hour (count pushdown on);
//! - the newest 10 events of every log over an hour (`ORDER BY timestamp
//!   DESC LIMIT 10`, read newest first).
//!
//! Each is asked of a fresh cache with merged reads (the default) and with
//! per-log reads (the endpoint recorded in `_ENDPOINTS.json` as breaking
//! merged answers, as a session that met one would), and the simulator's
//! request log counts the queries each spent: event queries, statistical
//! queries and polls. The time at the quota is the queries at Rapid7's
//! 1,500 per 15 minutes; the wall time is on loopback (with Rapid7-like
//! latency under `--bench`: 100-300 ms a request, every query 202 and one
//! poll). Every answer is checked against the simulator's data function.
//!
//! ```sh
//! cargo bench --bench merged
//! MERGED_OUT=figures.json cargo bench --bench merged
//! ```
//!
//! Under `cargo test` (no `--bench`) the same questions run without latency.
//! Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, TimestampMillisecondType, UInt64Type};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, ENDPOINT_FACTS_FILE, SegmentCache};
use datafusion_rapid7::client::{ClientBuilder, PollConfig, RateLimitConfig};
use datafusion_rapid7::mock::{Faults, MockConfig, MockDataset, MockServer, RequestKind};
use datafusion_rapid7::{Rapid7Config, register};
use serde::Serialize;

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;
/// Rapid7's documented quota of queries a second (1,500 per 15 minutes).
const QUOTA_PER_SECOND: f64 = 1_500.0 / 900.0;
const NEEDLE: &str = "\"bytes\":999";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Serialize, Debug)]
struct Row {
    question: &'static str,
    method: &'static str,
    profile: &'static str,
    logs: usize,
    /// The answer: rows, or the count.
    answer: u64,
    event_queries: usize,
    statistical_queries: usize,
    polls: usize,
    wall_s: f64,
    /// The queries at Rapid7's quota (polls have a quota of their own).
    quota_bound_s: f64,
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run(full))
}

async fn run(full: bool) -> Result<(), BoxError> {
    let server = MockServer::start(MockConfig::counting(MockDataset::organisation(200, 3))).await?;
    let mut profiles = vec![(
        "no latency",
        Faults {
            polls: 0,
            ..Faults::default()
        },
    )];
    if full {
        profiles.push((
            "rapid7-like latency",
            Faults {
                polls: 1,
                latency: Duration::from_millis(100),
                latency_jitter: Duration::from_millis(200),
                ..Faults::default()
            },
        ));
    }
    let mut rows = Vec::new();
    for (profile, faults) in profiles {
        server.set_faults(faults);
        for merged in [true, false] {
            rows.push(rare(&server, merged, profile).await?);
            rows.push(count(&server, merged, profile).await?);
            rows.push(newest(&server, merged, profile).await?);
        }
    }
    println!(
        "{:<26} {:<8} {:<20} {:>5} {:>7} {:>7} {:>7} {:>6} {:>8} {:>9}",
        "question",
        "method",
        "profile",
        "logs",
        "answer",
        "events",
        "stats",
        "polls",
        "wall s",
        "quota s"
    );
    for r in &rows {
        println!(
            "{:<26} {:<8} {:<20} {:>5} {:>7} {:>7} {:>7} {:>6} {:>8.2} {:>9.1}",
            r.question,
            r.method,
            r.profile,
            r.logs,
            r.answer,
            r.event_queries,
            r.statistical_queries,
            r.polls,
            r.wall_s,
            r.quota_bound_s
        );
    }
    if let Ok(out) = std::env::var("MERGED_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}

fn method(merged: bool) -> &'static str {
    if merged { "merged" } else { "per-log" }
}

/// A rare value in every log over 10 minutes.
async fn rare(server: &MockServer, merged: bool, profile: &'static str) -> Result<Row, BoxError> {
    let (from, to) = (T0, T0 + 10 * MIN);
    let want: u64 = server
        .dataset()
        .logs()
        .iter()
        .map(|l| {
            server
                .dataset()
                .events(&l.id, from, to)
                .iter()
                .filter(|e| e.message.contains(NEEDLE))
                .count() as u64
        })
        .sum();
    let q = format!(
        "SELECT log_id, timestamp FROM rapid7_logs WHERE timestamp >= to_timestamp_millis({from}) \
         AND timestamp < to_timestamp_millis({to}) AND message LIKE '%\"bytes\":999%'"
    );
    let (batches, row) = ask(server, merged, profile, "rare value, 10 min", &q).await?;
    let got: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if got as u64 != want {
        return Err(format!(
            "{}: {got} rows, the data function says {want}",
            method(merged)
        )
        .into());
    }
    Ok(Row {
        answer: want,
        ..row
    })
}

/// `count(*)` of every event over an hour.
async fn count(server: &MockServer, merged: bool, profile: &'static str) -> Result<Row, BoxError> {
    let (from, to) = (T0 + 60 * MIN, T0 + 120 * MIN);
    let want: u64 = server
        .dataset()
        .logs()
        .iter()
        .map(|l| server.dataset().count(&l.id, from, to))
        .sum();
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE timestamp >= to_timestamp_millis({from}) \
         AND timestamp < to_timestamp_millis({to})"
    );
    let (batches, row) = ask(server, merged, profile, "count(*), 1 h", &q).await?;
    let got = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).as_primitive::<Int64Type>().value(0))
        .unwrap_or_default();
    if got as u64 != want {
        return Err(format!(
            "{}: counted {got}, the data function says {want}",
            method(merged)
        )
        .into());
    }
    Ok(Row {
        answer: want,
        ..row
    })
}

/// The newest 10 events of every log over an hour.
async fn newest(server: &MockServer, merged: bool, profile: &'static str) -> Result<Row, BoxError> {
    let (from, to) = (T0 + 120 * MIN, T0 + 180 * MIN);
    let mut want: Vec<(i64, u64, String)> = server
        .dataset()
        .logs()
        .iter()
        .flat_map(|l| server.dataset().events(&l.id, to - 10 * MIN, to))
        .map(|e| (e.timestamp, e.sequence_number, e.log_id))
        .collect();
    want.sort_by(|a, b| b.cmp(a));
    want.truncate(10);
    let q = format!(
        "SELECT timestamp, sequence_number FROM rapid7_logs WHERE timestamp >= \
         to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({to}) \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT 10"
    );
    let (batches, row) = ask(server, merged, profile, "newest 10, 1 h", &q).await?;
    let mut got = Vec::new();
    for b in &batches {
        let ts = b.column(0).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(1).as_primitive::<UInt64Type>();
        got.extend((0..b.num_rows()).map(|i| (ts.value(i), seq.value(i))));
    }
    let want: Vec<(i64, u64)> = want.into_iter().map(|(t, s, _)| (t, s)).collect();
    if got != want {
        return Err(format!(
            "{}: newest {got:?}, the data function says {want:?}",
            method(merged)
        )
        .into());
    }
    Ok(Row {
        answer: want.len() as u64,
        ..row
    })
}

/// Run `q` in a fresh session and cache; the requests it made.
async fn ask(
    server: &MockServer,
    merged: bool,
    profile: &'static str,
    question: &'static str,
    q: &str,
) -> Result<(Vec<RecordBatch>, Row), BoxError> {
    let (_dir, ctx) = session(server, merged).await?;
    server.clear_requests();
    let started = Instant::now();
    let batches = ctx.sql(q).await?.collect().await?;
    let wall_s = started.elapsed().as_secs_f64();
    let requests = server.requests();
    let polls = requests
        .iter()
        .filter(|r| r.kind == RequestKind::Poll)
        .count();
    let (events, stats) = (server.event_query_requests(), server.statistics_requests());
    Ok((
        batches,
        Row {
            question,
            method: method(merged),
            profile,
            logs: server.dataset().logs().len(),
            answer: 0,
            event_queries: events,
            statistical_queries: stats,
            polls,
            wall_s,
            quota_bound_s: (events + stats) as f64 / QUOTA_PER_SECOND,
        },
    ))
}

/// A session over the simulator with a fresh cache: merged reads, or
/// per-log reads (the endpoint recorded as breaking merged answers).
async fn session(
    server: &MockServer,
    merged: bool,
) -> Result<(tempfile::TempDir, SessionContext), BoxError> {
    let dir = tempfile::tempdir()?;
    let client = ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_rate_limit(RateLimitConfig::unlimited())
        .with_poll(PollConfig {
            initial: Duration::from_millis(20),
            ..PollConfig::default()
        })
        .build()?;
    if !merged {
        let facts = serde_json::json!({"format": 1, "endpoints": {client.endpoint().to_string():
            {"merged_reads": {"value": false, "learnt_ms": 0, "by": "benchmark"}}}});
        std::fs::write(dir.path().join(ENDPOINT_FACTS_FILE), facts.to_string())?;
    }
    let cache = SegmentCache::open(
        dir.path().to_str().ok_or("temp dir")?,
        CacheConfig::default(),
    )?;
    let ctx = SessionContext::new();
    register(&ctx, Rapid7Config::new(client, cache)).await?;
    Ok((dir, ctx))
}
