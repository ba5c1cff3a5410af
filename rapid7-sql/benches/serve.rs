//! `rapid7-sql serve` under load, through arrow-flight's Rust Flight SQL
//! client, against the simulator over real HTTP on loopback.
//!
//! ```sh
//! cargo bench --bench serve            # prints the figures of docs/benchmarks.md
//! ```
//!
//! Three figures:
//! - **warm throughput**: one client reads a cached window of the bench log
//!   (timestamp, sequence number, message) through Flight, against
//!   `rapid7-sql -c … --format csv` over the same cache (the process, start
//!   to exit, its output to /dev/null): rows/s each, and the ratio;
//! - **8 clients**: each issues small warm queries (one minute of the log,
//!   about 1,200 rows) one after another; p50 and p99 latency of a statement
//!   (execute, then read its stream to the end);
//! - **4 clients racing on one cold window**: the Rapid7 API queries (event
//!   and statistical, the simulator's counter) the four cause, against one
//!   client alone on another cold window of the same length.
//!
//! The server and `rapid7-sql -c` are this package's binary, as processes;
//! the simulator runs in this process with a raised quota and no latency.
//! Under `cargo test` (no `--bench` argument) a small version runs and checks
//! row counts against the simulator's data function.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion_rapid7::mock::{
    MessageFormat, MockConfig, MockDataset, MockLog, MockServer, RateLimits,
};
use futures::TryStreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_rapid7-sql");
const LOG_ID: &str = "5d0c8f3e-2b7a-4c1e-9f6d-8a4b3c2e1f00";
const LOG_NAME: &str = "Bench";
/// 2026-01-01T00:00:00Z: far enough in the past to be cacheable.
const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How big each part is.
struct Scale {
    /// Events per second of the bench log.
    rate: f64,
    /// The warm window's length.
    warm: i64,
    /// Small queries per client (8 clients).
    small_per_client: usize,
    /// The cold windows' length.
    cold: i64,
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full {
        Scale {
            rate: 20.0,
            warm: 6 * HOUR,
            small_per_client: 50,
            cold: HOUR,
        }
    } else {
        Scale {
            rate: 2.0,
            warm: 10 * MIN,
            small_per_client: 3,
            cold: 5 * MIN,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(scale, full))
}

async fn run(scale: Scale, full: bool) -> Result<(), BoxError> {
    let dataset = MockDataset::new(vec![MockLog {
        id: LOG_ID.into(),
        name: LOG_NAME.into(),
        rate_per_sec: scale.rate,
        format: MessageFormat::Json,
        burst_every_secs: None,
        burst_size: 0,
        labels: vec![],
    }]);
    let sim = MockServer::start(MockConfig {
        dataset,
        limits: RateLimits {
            query: 1_500_000,
            poll: 10_000_000,
            management: 1_500_000,
            window: Duration::from_secs(900),
        },
        ..MockConfig::default()
    })
    .await?;
    let dir = tempfile::TempDir::new()?;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("serve bench ({build} build of rapid7-sql; simulator in process, no latency)");

    // 1. Warm throughput: fill the cache with `-c`, then read it both ways.
    let (from, to) = (T0, T0 + scale.warm);
    let rows_sql = format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{LOG_NAME}' AND {}",
        window(from, to)
    );
    let want = sim.dataset().count(LOG_ID, from, to);
    cli(&sim, dir.path(), &rows_sql).await?;
    let fetched = sim.query_requests();
    let start = Instant::now();
    cli(&sim, dir.path(), &rows_sql).await?;
    let cli_secs = start.elapsed().as_secs_f64();
    assert_eq!(
        sim.query_requests(),
        fetched,
        "the second -c reads the cache only"
    );

    let server = Served::start(&sim, dir.path()).await?;
    let mut client = server.client().await?;
    let _ = statement(&mut client, &rows_sql).await?; // the server's first read: its own planning caches
    let start = Instant::now();
    let rows = statement(&mut client, &rows_sql).await?;
    let flight_secs = start.elapsed().as_secs_f64();
    assert_eq!(rows, want, "Flight returns every event of the window");
    assert_eq!(sim.query_requests(), fetched, "Flight reads the cache only");
    println!(
        "warm read of {want} rows: Flight {:.0} rows/s ({flight_secs:.2} s), `rapid7-sql -c --format csv` \
         {:.0} rows/s ({cli_secs:.2} s, process start to exit), ratio {:.2}",
        want as f64 / flight_secs,
        want as f64 / cli_secs,
        cli_secs / flight_secs
    );

    // 2. 8 clients, small warm queries.
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..8i64 {
        let mut client = server.client().await?;
        let n = scale.small_per_client;
        let minutes = scale.warm / MIN;
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(n);
            for i in 0..n as i64 {
                let m = (c * 7 + i * 13) % minutes;
                let sql = format!(
                    "SELECT timestamp, message FROM rapid7_logs WHERE log_name = '{LOG_NAME}' AND {}",
                    window(T0 + m * MIN, T0 + (m + 1) * MIN)
                );
                let start = Instant::now();
                let rows = statement(&mut client, &sql).await?;
                latencies.push(start.elapsed());
                assert!(rows > 0);
            }
            Ok::<_, BoxError>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    latencies.sort();
    assert_eq!(
        sim.query_requests(),
        fetched,
        "small warm queries fetch nothing"
    );
    println!(
        "8 clients x {} small warm queries (one minute, ~{:.0} rows): p50 {:.1} ms, p99 {:.1} ms",
        scale.small_per_client,
        scale.rate * 60.0,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );

    // 3. One client alone on a cold window, then 4 racing on another.
    let cold = |k: i64| {
        let from = T0 + scale.warm + k * scale.cold;
        (
            format!(
                "SELECT timestamp, sequence_number, message FROM rapid7_logs \
                 WHERE log_name = '{LOG_NAME}' AND {}",
                window(from, from + scale.cold)
            ),
            sim.dataset().count(LOG_ID, from, from + scale.cold),
        )
    };
    let (alone_sql, alone_want) = cold(1);
    let before = sim.query_requests();
    let start = Instant::now();
    assert_eq!(statement(&mut client, &alone_sql).await?, alone_want);
    let alone_secs = start.elapsed().as_secs_f64();
    let alone = sim.query_requests() - before;

    let (race_sql, race_want) = cold(3);
    let before = sim.query_requests();
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    for _ in 0..4 {
        let mut client = server.client().await?;
        let sql = race_sql.clone();
        tasks.spawn(async move { statement(&mut client, &sql).await });
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done??, race_want, "each racer gets every row");
    }
    let race_secs = start.elapsed().as_secs_f64();
    let race = sim.query_requests() - before;
    println!(
        "cold window of {} min ({race_want} events): one client alone {alone} API queries \
         ({alone_secs:.2} s); 4 clients racing {race} API queries ({race_secs:.2} s)",
        scale.cold / MIN
    );
    if !full {
        // The single flight: four racers cost what one costs (the windows
        // hold the same number of events, give or take one page).
        assert!(race <= alone + 1, "4 racers: {race}, one alone: {alone}");
    }
    drop(server);
    Ok(())
}

fn window(from: i64, to: i64) -> String {
    format!("timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({to})")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// The binary's environment: the simulator, the cache in `dir`, no
/// proactive rate limit (the simulator's quota is raised), no fetch limit,
/// and no count pushdown (the rows are read, not counted).
fn command(sim: &MockServer, dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir)
        .env("XDG_CACHE_HOME", dir.join("xdg"))
        .env("RAPID7_CACHE", dir.join("cache"))
        .env("RAPID7_ENDPOINT", sim.url())
        .env("RAPID7_API_KEY", sim.api_key())
        .env("RAPID7_QUERY_RATE", "unlimited")
        .env("RAPID7_POLL_RATE", "unlimited")
        .env("RAPID7_MAX_FETCH_EVENTS", "0")
        .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// `rapid7-sql -c SQL --format csv`, its output to /dev/null.
async fn cli(sim: &MockServer, dir: &Path, sql: &str) -> Result<(), BoxError> {
    let o = command(sim, dir)
        .args(["--format", "csv", "-c", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await?;
    if !o.status.success() {
        return Err(format!(
            "rapid7-sql -c failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    Ok(())
}

/// A running `rapid7-sql serve --listen 127.0.0.1:0`.
struct Served {
    _child: tokio::process::Child,
    uri: String,
}

impl Served {
    async fn start(sim: &MockServer, dir: &Path) -> Result<Self, BoxError> {
        let mut child = command(sim, dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
        while let Some(line) = lines.next_line().await? {
            if let Some(uri) = line.strip_prefix("flight_sql=") {
                let uri = uri.replace("grpc://", "http://");
                return Ok(Served { _child: child, uri });
            }
        }
        Err("serve exited before printing flight_sql=".into())
    }

    async fn client(&self) -> Result<FlightSqlServiceClient<Channel>, BoxError> {
        let channel = Channel::from_shared(self.uri.clone())?.connect().await?;
        Ok(FlightSqlServiceClient::new(channel))
    }
}

/// Execute `sql` and read every endpoint's stream to the end; the rows.
async fn statement(
    client: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Result<u64, BoxError> {
    let info = client.execute(sql.to_string(), None).await?;
    let mut rows = 0;
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.ok_or("an endpoint without a ticket")?;
        let mut stream = client.do_get(ticket).await?;
        while let Some(batch) = stream.try_next().await? {
            rows += batch.num_rows() as u64;
        }
    }
    Ok(rows)
}
