//! Pages read at a window's edge: 10-minute windows of the simulator's
//! Firewall log (40 events/s, a burst of 700 events in one millisecond every
//! 5 minutes), each ending exactly on a burst, read by an endpoint whose
//! `to` is inclusive (the simulator's default):
//! - before: nothing known of `to` (a new cache for each window), so every
//!   query asks `to` = the window's end, and the burst stamped `to` comes
//!   back to be dropped;
//! - after reads hinted: two earlier reads whose own first page was a burst
//!   stamped `to` (a second oldest first, and the newest 10 of ten minutes)
//!   recorded hints only, which never make a query ask `to − 1` (a page
//!   shows `to` at least partly inclusive, not fully): the same as before;
//! - after `doctor` taught it: its probe (a `GET`, oldest first) turns
//!   `to − 1` on for that form only, so the newest 10 still ask `to`: the
//!   saving needs `rapid7-sql doctor`;
//! - and an exclusive endpoint, with nothing to learn from the same reads.
//!
//! Two questions per window: every row (oldest first), and the newest 10
//! (`ORDER BY timestamp DESC, sequence_number DESC LIMIT 10`, newest-first
//! pages). Each answer is checked against the simulator's data function.
//!
//! ```sh
//! cargo bench --bench edge            # 24 windows of each kind
//! ```
//!
//! Under `cargo test` (no `--bench`) 2 windows of each kind. Figures:
//! docs/benchmarks.md.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{TimestampMillisecondType, UInt64Type};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::client::{ClientBuilder, PollConfig, RateLimitConfig};
use datafusion_rapid7::mock::{Faults, MockConfig, MockServer, RateLimits, RequestKind};
use datafusion_rapid7::ops::doctor::DoctorOptions;
use datafusion_rapid7::{Rapid7, Rapid7Config, register};

/// 2026-02-10T00:00:00Z, a burst second of the standard Firewall log.
const T0: i64 = 1_770_681_600_000;
const FIREWALL: &str = "3f1c9b2e-6a4d-4c1e-9f0a-1b2c3d4e5f60";
const BURST_PERIOD_MS: i64 = 300_000;
const WINDOW_MS: i64 = 600_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run(if full { 24 } else { 2 }))
}

async fn run(windows: i64) -> Result<(), BoxError> {
    // No quota: requests are counted, never waited for.
    let server = MockServer::start(MockConfig {
        limits: RateLimits {
            query: 100_000_000,
            poll: 100_000_000,
            management: 100_000_000,
            window: std::time::Duration::from_secs(900),
        },
        ..MockConfig::default()
    })
    .await?;
    println!(
        "{windows} windows of 10 minutes of Firewall, each ending on a burst of 700 events \
         in one millisecond; event query requests (pages), summed"
    );
    println!(
        "{:<10} {:<34} {:>14} {:>16}",
        "endpoint", "what is known of `to`", "all rows", "newest 10"
    );
    for (endpoint, exclusive) in [("inclusive", false), ("exclusive", true)] {
        server.set_faults(Faults {
            to_exclusive: exclusive,
            ..Faults::default()
        });
        // Windows one hour apart, a fresh set for each endpoint so that no
        // cache holds them.
        let base = if exclusive { 48 } else { 0 };
        let before = pages(&server, base, windows, None).await?;
        println!(
            "{endpoint:<10} {:<34} {:>14} {:>16}",
            "nothing (today's first read)", before.0, before.1
        );
        // Two reads whose first page is a burst stamped `to` record hints
        // (on an inclusive endpoint), which change nothing asked.
        let learnt = tempfile::tempdir()?;
        let (ctx, _) = session(&server, &learnt).await?;
        let (_, to) = window(&server, base + 47);
        check_rows(&server, &ctx, to - 1000, to).await?;
        let to = burst_ms(&server, to - to.rem_euclid(1000) + 3 * BURST_PERIOD_MS);
        check_newest(&server, &ctx, to - WINDOW_MS, to).await?;
        let after = pages(&server, base, windows, Some(&learnt)).await?;
        let known = if exclusive {
            "nothing to learn (the same reads)"
        } else {
            "reads' hints only (asks `to`)"
        };
        println!("{endpoint:<10} {known:<34} {:>14} {:>16}", after.0, after.1);
        if exclusive {
            continue;
        }
        // The doctor's probe: `GET` oldest first only.
        let doctored = tempfile::tempdir()?;
        let (_, rapid7) = session(&server, &doctored).await?;
        rapid7
            .doctor(&DoctorOptions {
                logs: vec!["Firewall".into()],
            })
            .await?;
        let after = pages(&server, base, windows, Some(&doctored)).await?;
        let known = "inclusive, oldest first (doctor)";
        println!("{endpoint:<10} {known:<34} {:>14} {:>16}", after.0, after.1);
    }
    Ok(())
}

/// Event query requests of reading `n` windows (starting at hour `first`):
/// every row of each, then the newest 10 of the 10 minutes ending on the
/// burst a quarter of an hour later. Each window in a new session, over `cache`
/// when given, else a new cache.
async fn pages(
    server: &MockServer,
    first: i64,
    n: i64,
    cache: Option<&tempfile::TempDir>,
) -> Result<(usize, usize), BoxError> {
    let (mut all, mut newest) = (0, 0);
    for i in 0..n {
        let fresh = tempfile::tempdir()?;
        let (ctx, _) = session(server, cache.unwrap_or(&fresh)).await?;
        let (from, to) = window(server, first + i);
        server.clear_requests();
        check_rows(server, &ctx, from, to).await?;
        all += event_queries(server);
        // A quarter of an hour later: another burst second, another window.
        let later = to - to.rem_euclid(1000) + 3 * BURST_PERIOD_MS;
        let to = burst_ms(server, later);
        let from = to - WINDOW_MS;
        server.clear_requests();
        check_newest(server, &ctx, from, to).await?;
        newest += event_queries(server);
    }
    Ok((all, newest))
}

/// The 10 minutes before the burst of hour `h` after T0.
fn window(server: &MockServer, h: i64) -> (i64, i64) {
    let to = burst_ms(server, T0 + h * 12 * BURST_PERIOD_MS);
    (to - WINDOW_MS, to)
}

/// The millisecond of the Firewall burst in the second starting at `second`.
fn burst_ms(server: &MockServer, second: i64) -> i64 {
    let mut at = std::collections::BTreeMap::<i64, usize>::new();
    for e in server.dataset().events(FIREWALL, second, second + 1000) {
        *at.entry(e.timestamp).or_default() += 1;
    }
    at.into_iter()
        .max_by_key(|&(_, n)| n)
        .map(|(ms, _)| ms)
        .expect("a burst second")
}

fn event_queries(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Query && !r.is_statistical())
        .count()
}

async fn keys(ctx: &SessionContext, sql: &str) -> Result<Vec<(i64, u64)>, BoxError> {
    let mut out = Vec::new();
    for b in ctx.sql(sql).await?.collect().await? {
        let ts = b.column(0).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(1).as_primitive::<UInt64Type>();
        out.extend((0..b.num_rows()).map(|i| (ts.value(i), seq.value(i))));
    }
    Ok(out)
}

fn truth(server: &MockServer, from: i64, to: i64) -> Vec<(i64, u64)> {
    server
        .dataset()
        .events(FIREWALL, from, to)
        .into_iter()
        .map(|e| (e.timestamp, e.sequence_number))
        .collect()
}

fn bounds(from: i64, to: i64) -> String {
    format!(
        "log_name = 'Firewall' AND timestamp >= to_timestamp_millis({from}) \
         AND timestamp < to_timestamp_millis({to})"
    )
}

async fn check_rows(
    server: &MockServer,
    ctx: &SessionContext,
    from: i64,
    to: i64,
) -> Result<(), BoxError> {
    let sql = format!(
        "SELECT timestamp, sequence_number FROM rapid7_logs WHERE {} \
         ORDER BY timestamp, sequence_number",
        bounds(from, to)
    );
    if keys(ctx, &sql).await? != truth(server, from, to) {
        return Err(format!("rows of [{from}, {to}) differ from the data function").into());
    }
    Ok(())
}

async fn check_newest(
    server: &MockServer,
    ctx: &SessionContext,
    from: i64,
    to: i64,
) -> Result<(), BoxError> {
    let sql = format!(
        "SELECT timestamp, sequence_number FROM rapid7_logs WHERE {} \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT 10",
        bounds(from, to)
    );
    let mut want = truth(server, from, to);
    want.reverse();
    want.truncate(10);
    if keys(ctx, &sql).await? != want {
        return Err(format!("the newest 10 of [{from}, {to}) differ").into());
    }
    Ok(())
}

/// A session over the simulator and the cache in `dir`, no fetch limit.
async fn session(
    server: &MockServer,
    dir: &tempfile::TempDir,
) -> Result<(SessionContext, Rapid7), BoxError> {
    let client = ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_rate_limit(RateLimitConfig::unlimited())
        // Requests are what is counted: no waiting between polls.
        .with_poll(PollConfig {
            initial: std::time::Duration::from_millis(1),
            max: std::time::Duration::from_millis(10),
            ..PollConfig::default()
        })
        .build()?;
    let cache = SegmentCache::open(
        dir.path().to_str().ok_or("temp dir")?,
        CacheConfig::default(),
    )?;
    let config = Rapid7Config::new(client, cache)
        .with_pushdown_aggregates(false)
        .with_max_fetch_events(0);
    let ctx = SessionContext::new();
    let rapid7 = register(&ctx, config).await?;
    Ok((ctx, rapid7))
}
