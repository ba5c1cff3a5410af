//! What pushing work to Rapid7 saves: counts per 10 minutes over a day of a
//! 100 events/s log (8.6 million events), answered by paging every event
//! versus by count pushdown (statistics), in API requests and time.
//!
//! ```sh
//! cargo bench --bench pushdown             # about two minutes
//! PUSHDOWN_OUT=figures.json cargo bench --bench pushdown
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
//! Both answers are checked against the simulator's data function. Under
//! `cargo test` (no `--bench`) a one-hour version runs without latency.
//! Figures: docs/benchmarks.md.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Int64Type, TimestampNanosecondType};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::client::{ClientBuilder, PollConfig, RateLimitConfig};
use datafusion_rapid7::mock::{
    Faults, MessageFormat, MockConfig, MockDataset, MockLog, MockServer, RateLimits,
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
    method: &'static str,
    profile: &'static str,
    events: u64,
    bins: usize,
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
    let server = MockServer::start(MockConfig {
        dataset: MockDataset::new(vec![MockLog {
            id: LOG_ID.into(),
            name: LOG_NAME.into(),
            rate_per_sec: 100.0,
            format: MessageFormat::KeyValue,
            burst_every_secs: None,
            burst_size: 0,
            labels: vec![],
        }]),
        limits: RateLimits {
            query: 100_000_000,
            poll: 100_000_000,
            management: 100_000_000,
            window: Duration::from_secs(900),
        },
        faults: Faults {
            polls: 0,
            ..Faults::default()
        },
        ..MockConfig::default()
    })
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
    println!(
        "{:<9} {:<20} {:>13} {:>11} {:>6} {:>9} {:>14}",
        "method", "profile", "event queries", "statistics", "polls", "wall s", "at quota s"
    );
    for r in &rows {
        println!(
            "{:<9} {:<20} {:>13} {:>11} {:>6} {:>9.2} {:>14.0}",
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
    let cache = SegmentCache::open(
        dir.path().to_str().ok_or("temp dir")?,
        CacheConfig::default(),
    )?;
    let config = Rapid7Config::new(client, cache)
        .with_pushdown_aggregates(pushdown)
        .with_max_fetch_events(0);
    let ctx = SessionContext::new();
    register(&ctx, config).await?;
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
    let statistical = server.statistics_requests();
    let event_queries = server.event_query_requests();
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Poll)
        .count();
    Ok(Row {
        method,
        profile,
        events: truth.values().map(|n| *n as u64).sum(),
        bins: got.len(),
        event_queries,
        statistical_queries: statistical,
        polls,
        wall_s,
        quota_bound_s: (event_queries + statistical) as f64 / QUOTA_PER_SECOND,
    })
}
