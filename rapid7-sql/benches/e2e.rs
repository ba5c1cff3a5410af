//! End-to-end benchmarks against the simulator over real HTTP on loopback.
//!
//! ```sh
//! cargo bench --bench e2e                 # every scenario, about 12 minutes
//! E2E_OUT=figures.json cargo bench --bench e2e
//! E2E_ONLY=raised cargo bench --bench e2e   # only the machine-bound fetches and warm queries
//! E2E_ONLY=newest E2E_MAX_EVENTS=1000000 cargo bench --bench e2e   # cold fetches, then newest first over the largest
//! E2E_CHILD_PREFIX="heaptrack -o /tmp/ht" E2E_ONLY=raised E2E_MAX_EVENTS=1000000 \
//!     cargo bench --bench e2e                # each child under a profiler
//! ```
//!
//! The simulator runs in this process; every fetch runs in a child process
//! (this same binary, `child` mode), so wall time and peak RSS are the
//! client's alone. Each scenario prints a table row; all rows are written as
//! JSON to `$E2E_OUT` (default `target/bench-e2e.json`).
//!
//! Profiles:
//! - `realistic`: 100–300 ms per request, every query answers 202 then one
//!   poll, Rapid7's default quota (1,500 queries and 10,000 polls per 15
//!   minutes) in the simulator, and the client's default proactive limit.
//! - `raised`: no added latency and a quota a thousand times larger, so the
//!   figure is what the client's CPU, memory and disk allow.
//!
//! Under `cargo test` (no `--bench` argument) a small version of every
//! scenario runs without latency and checks each result against the
//! simulator's data function.
//! Figures and targets: docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use datafusion::prelude::{ParquetReadOptions, SessionContext};
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::client::{ClientBuilder, RateLimitConfig};
use datafusion_rapid7::mock::{
    Faults, MessageFormat, MockConfig, MockDataset, MockLog, MockServer, RateLimits, RequestKind,
};
use datafusion_rapid7::time::TimeRange;
use datafusion_rapid7::time::fmt_ms;
use datafusion_rapid7::{Rapid7Config, register};
use serde::{Deserialize, Serialize};

const LOG_ID: &str = "b3e1c7d2-5a4f-4e6b-9c8d-7f6e5d4c3b2a";
const LOG_NAME: &str = "Bench";
/// Events per second in the bench log.
const RATE: f64 = 2.0;
/// 2026-01-01T00:00:00Z: far enough in the past to be cacheable.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child(args.get(2).ok_or("child mode needs a spec")?);
    }
    let full = args.iter().any(|a| a == "--bench");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async { if full { run_all().await } else { smoke().await } })
}

// ---------------------------------------------------------------------------
// The child: one fetch through the library, measured from inside
// ---------------------------------------------------------------------------

/// What the parent asks a child to do.
#[derive(Serialize, Deserialize)]
struct ChildSpec {
    endpoint: String,
    /// `None` reads and writes no cache.
    cache: Option<PathBuf>,
    per_page: u32,
    fetch_concurrency: usize,
    /// The client's default proactive limit (else unlimited).
    default_rate_limit: bool,
    sql: String,
    /// `SET rapid7.pushdown_newest_first` first, when given.
    #[serde(default)]
    newest_first: Option<bool>,
}

/// What a child reports.
#[derive(Serialize, Deserialize, Debug)]
struct ChildReport {
    rows: i64,
    wall_ms: f64,
    peak_rss_mb: f64,
}

fn child(spec: &str) -> Result<(), BoxError> {
    let spec: ChildSpec = serde_json::from_str(spec)?;
    let rt = tokio::runtime::Runtime::new()?;
    let report = rt.block_on(async {
        let start = Instant::now();
        let rate = if spec.default_rate_limit {
            RateLimitConfig::default()
        } else {
            RateLimitConfig::unlimited()
        };
        let client = ClientBuilder::new()
            .with_endpoint(spec.endpoint)
            .with_api_key(std::env::var("RAPID7_API_KEY")?)
            .with_per_page(spec.per_page)
            .with_rate_limit(rate)
            .build()?;
        let cache = match &spec.cache {
            Some(dir) => SegmentCache::open(path_str(dir)?, CacheConfig::default())?,
            None => SegmentCache::bypass(),
        };
        // The scenarios measure paging: no count pushdown (their count(*)
        // would be answered from statistics) and no fetch budget (several
        // fetch millions of events on purpose).
        let config = Rapid7Config::new(client, cache)
            .with_fetch_concurrency(spec.fetch_concurrency)
            .with_pushdown_aggregates(false)
            .with_max_fetch_events(0);
        let ctx = SessionContext::new();
        register(&ctx, config).await?;
        if let Some(on) = spec.newest_first {
            ctx.sql(&format!("SET rapid7.pushdown_newest_first = {on}"))
                .await?
                .collect()
                .await?;
        }
        let rows = count(&ctx, &spec.sql).await?;
        Ok::<_, BoxError>(ChildReport {
            rows,
            wall_ms: start.elapsed().as_secs_f64() * 1e3,
            peak_rss_mb: peak_rss_mb().unwrap_or(f64::NAN),
        })
    })?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The process's peak resident set (`VmHWM`), Linux only.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn path_str(p: &Path) -> Result<&str, BoxError> {
    Ok(p.to_str().ok_or("non-UTF-8 path")?)
}

/// Run a `SELECT count(*) …` and return the count.
async fn count(ctx: &SessionContext, sql: &str) -> Result<i64, BoxError> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut total = 0;
    for batch in batches {
        let column = batch.column(0).as_primitive::<Int64Type>();
        total += (0..column.len()).map(|i| column.value(i)).sum::<i64>();
    }
    Ok(total)
}

// ---------------------------------------------------------------------------
// The parent: the simulator, scenarios, figures
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    Realistic,
    Raised,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Realistic => "realistic",
            Profile::Raised => "raised",
        }
    }
}

struct Bench {
    server: MockServer,
    dataset: MockDataset,
    dir: tempfile::TempDir,
    rows: Vec<Row>,
}

/// One figure line.
#[derive(Serialize, Debug, Clone)]
struct Row {
    scenario: String,
    profile: &'static str,
    events: i64,
    wall_s: f64,
    events_per_s: f64,
    queries: usize,
    polls: usize,
    queries_per_1000_events: f64,
    peak_rss_mb: f64,
    note: String,
}

/// A fetch to run in a child.
struct Fetch<'a> {
    scenario: &'a str,
    profile: Profile,
    range: TimeRange,
    /// Cache directory name under the bench's temp dir (`None`: no cache).
    cache: Option<&'a str>,
    per_page: u32,
    fetch_concurrency: usize,
    note: String,
}

impl Fetch<'_> {
    fn defaults<'a>(
        scenario: &'a str,
        profile: Profile,
        range: TimeRange,
        cache: &'a str,
    ) -> Fetch<'a> {
        Fetch {
            scenario,
            profile,
            range,
            cache: Some(cache),
            per_page: 500,
            fetch_concurrency: 4,
            note: String::new(),
        }
    }

    /// What typical export scripts do, through our own knobs.
    fn naive(scenario: &str, profile: Profile, range: TimeRange) -> Fetch<'_> {
        Fetch {
            cache: None,
            per_page: 50,
            fetch_concurrency: 1,
            note: "per_page=50, one request at a time, no cache".into(),
            ..Fetch::defaults(scenario, profile, range, "")
        }
    }
}

fn bench_log() -> MockLog {
    MockLog {
        id: LOG_ID.into(),
        name: LOG_NAME.into(),
        rate_per_sec: RATE,
        format: MessageFormat::Json,
        burst_every_secs: Some(600),
        burst_size: 300,
        labels: vec![],
    }
}

/// A window from T0 that holds at least `events` events of the bench log.
fn window_for(dataset: &MockDataset, events: u64) -> TimeRange {
    let mut end = T0 + (events as f64 / RATE * 1000.0) as i64;
    while dataset.count(LOG_ID, T0, end) < events {
        end += (events as f64 / RATE * 10.0) as i64 + 1000;
    }
    TimeRange::new(T0, end).expect("window")
}

fn count_sql(table: &str, range: TimeRange) -> String {
    format!(
        "SELECT count(*) FROM {table} WHERE log_name = '{LOG_NAME}' \
         AND timestamp >= '{}' AND timestamp < '{}'",
        fmt_ms(range.start()),
        fmt_ms(range.end())
    )
}

impl Bench {
    async fn start() -> Result<Bench, BoxError> {
        let dataset = MockDataset::new(vec![bench_log()]);
        let server = MockServer::start(MockConfig {
            dataset: dataset.clone(),
            ..MockConfig::default()
        })
        .await?;
        Ok(Bench {
            server,
            dataset,
            dir: tempfile::tempdir()?,
            rows: Vec::new(),
        })
    }

    fn cache_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn set_profile(&self, profile: Profile, latency: bool) {
        let mut faults = Faults {
            polls: 1,
            ..Faults::default()
        };
        if profile == Profile::Realistic && latency {
            faults.latency = Duration::from_millis(100);
            faults.latency_jitter = Duration::from_millis(200);
        }
        self.server.set_faults(faults);
        let limits = match profile {
            Profile::Realistic => RateLimits::default(),
            Profile::Raised => RateLimits {
                query: 1_500_000,
                poll: 10_000_000,
                management: 1_500_000,
                window: Duration::from_secs(900),
            },
        };
        self.server.set_limits(limits);
    }

    /// Run `fetch` in a child process; check its count against the
    /// simulator's data function; record a row.
    async fn fetch(&mut self, fetch: Fetch<'_>, latency: bool) -> Result<Row, BoxError> {
        self.set_profile(fetch.profile, latency);
        self.server.clear_requests();
        let spec = ChildSpec {
            endpoint: self.server.url(),
            cache: fetch.cache.map(|c| self.cache_dir(c)),
            per_page: fetch.per_page,
            fetch_concurrency: fetch.fetch_concurrency,
            default_rate_limit: fetch.profile == Profile::Realistic,
            sql: count_sql("rapid7_logs", fetch.range),
            newest_first: None,
        };
        let report = self.child(&spec, fetch.scenario).await?;
        let truth = self
            .dataset
            .count(LOG_ID, fetch.range.start(), fetch.range.end());
        if report.rows as u64 != truth {
            return Err(format!(
                "{}: counted {} events, the simulator has {truth}",
                fetch.scenario, report.rows
            )
            .into());
        }
        let requests = self.server.requests();
        let of = |kind| requests.iter().filter(|r| r.kind == kind).count();
        let (queries, polls) = (of(RequestKind::Query), of(RequestKind::Poll));
        let row = Row {
            scenario: fetch.scenario.to_string(),
            profile: fetch.profile.name(),
            events: report.rows,
            wall_s: report.wall_ms / 1e3,
            events_per_s: report.rows as f64 / (report.wall_ms / 1e3),
            queries,
            polls,
            queries_per_1000_events: queries as f64 * 1000.0 / report.rows.max(1) as f64,
            peak_rss_mb: report.peak_rss_mb,
            note: fetch.note,
        };
        self.record(row.clone());
        Ok(row)
    }

    /// Run `spec` in a child process and read its report.
    async fn child(&self, spec: &ChildSpec, scenario: &str) -> Result<ChildReport, BoxError> {
        // `E2E_CHILD_PREFIX="heaptrack -o /tmp/ht"` runs each child under a
        // profiler.
        let prefix = std::env::var("E2E_CHILD_PREFIX").unwrap_or_default();
        let mut words = prefix.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = tokio::process::Command::new(program);
                c.args(words).arg(std::env::current_exe()?);
                c
            }
            None => tokio::process::Command::new(std::env::current_exe()?),
        };
        let output = command
            .arg("child")
            .arg(serde_json::to_string(spec)?)
            .env("RAPID7_API_KEY", self.server.api_key())
            .output()
            .await?;
        if !output.status.success() {
            return Err(format!(
                "{scenario} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        // The report is the child's last JSON line (a profiler may print too).
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().rfind(|l| l.starts_with('{')).unwrap_or("");
        Ok(serde_json::from_str(last)?)
    }

    /// The newest 50 events holding a value no event holds, over the cached
    /// `range` and an hour after it that is not cached (so the scan reads
    /// the API): newest first on (cached segments read part by part, only
    /// the columns read, only the rows kept) and off (one Parquet scan
    /// behind a filter). The answer is empty; the figure is the peak RSS.
    async fn newest_rare(&mut self, cache: &str, range: TimeRange) -> Result<(), BoxError> {
        self.set_profile(Profile::Raised, false);
        for (on, hours) in [(true, 1), (false, 2)] {
            let end = range.end() + hours * HOUR;
            let sql = format!(
                "SELECT count(*) FROM (SELECT timestamp FROM rapid7_logs \
                 WHERE log_name = '{LOG_NAME}' AND timestamp >= '{}' AND timestamp < '{}' \
                 AND message LIKE '%no-such-value%' ORDER BY timestamp DESC LIMIT 50)",
                fmt_ms(range.start()),
                fmt_ms(end)
            );
            self.server.clear_requests();
            let spec = ChildSpec {
                endpoint: self.server.url(),
                cache: Some(self.cache_dir(cache)),
                per_page: 500,
                fetch_concurrency: 4,
                default_rate_limit: false,
                sql,
                newest_first: Some(on),
            };
            let scenario = format!(
                "newest 50, rare value, newest first {}",
                if on { "on" } else { "off" }
            );
            let report = self.child(&spec, &scenario).await?;
            if report.rows != 0 {
                return Err(format!("{scenario}: {} rows, expected none", report.rows).into());
            }
            let events = self.dataset.count(LOG_ID, range.start(), end) as i64;
            let requests = self.server.requests();
            let of = |kind| requests.iter().filter(|r| r.kind == kind).count();
            self.record(Row {
                scenario,
                profile: Profile::Raised.name(),
                events,
                wall_s: report.wall_ms / 1e3,
                events_per_s: events as f64 / (report.wall_ms / 1e3),
                queries: of(RequestKind::Query),
                polls: of(RequestKind::Poll),
                queries_per_1000_events: 0.0,
                peak_rss_mb: report.peak_rss_mb,
                note: format!(
                    "{} cached, the last {hours} h not; events = those scanned",
                    fmt_ms(range.end())
                ),
            });
        }
        Ok(())
    }

    fn record(&mut self, row: Row) {
        println!(
            "{:<34} {:<9} {:>9} {:>9.2} {:>10.0} {:>7} {:>7} {:>8.2} {:>8.1}  {}",
            row.scenario,
            row.profile,
            row.events,
            row.wall_s,
            row.events_per_s,
            row.queries,
            row.polls,
            row.queries_per_1000_events,
            row.peak_rss_mb,
            row.note
        );
        self.rows.push(row);
    }

    /// Warm queries over a cache: `rapid7_logs` (offline) against a plain
    /// `ListingTable` over the same Parquet files. Returns the median seconds
    /// of both, after checking they agree.
    async fn warm(&mut self, cache: &str, range: TimeRange, runs: usize) -> Result<(), BoxError> {
        let dir = self.cache_dir(cache);
        let files = dir.join("logs").join(LOG_ID);
        let between = format!(
            "log_name = '{LOG_NAME}' AND timestamp >= '{}' AND timestamp < '{}'",
            fmt_ms(range.start()),
            fmt_ms(range.end())
        );
        let queries = [
            (
                "count(*)",
                format!("SELECT count(*) FROM {{t}} WHERE {between}"),
            ),
            (
                "group by log_name, minute",
                format!(
                    "SELECT log_name, date_bin(INTERVAL '1 minute', timestamp) AS minute, count(*) \
                     FROM {{t}} WHERE {between} GROUP BY 1, 2"
                ),
            ),
            (
                "message LIKE",
                format!("SELECT count(*) FROM {{t}} WHERE {between} AND message LIKE '%admin%'"),
            ),
        ];
        for (name, template) in queries {
            let ours = template.replace("{t}", "rapid7_logs");
            let plain = template.replace("{t}", "plain");
            // [ours, plain] × [first query of a fresh session, the same
            // query again in that session].
            let mut times = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
            let mut answers = [0usize, 0usize];
            for _ in 0..runs {
                for (which, sql) in [&ours, &plain].into_iter().enumerate() {
                    let ctx = SessionContext::new();
                    let start = Instant::now();
                    if which == 0 {
                        let cache = SegmentCache::open(path_str(&dir)?, CacheConfig::default())?;
                        register(&ctx, Rapid7Config::offline_only(cache)).await?;
                    } else {
                        ctx.register_parquet(
                            "plain",
                            &format!("{}/", path_str(&files)?),
                            ParquetReadOptions::default(),
                        )
                        .await?;
                    }
                    for (session, samples) in times[which].iter_mut().enumerate() {
                        // The second run is timed from its statement on.
                        let start = if session == 0 { start } else { Instant::now() };
                        let batches = ctx.sql(sql).await?.collect().await?;
                        samples.push(start.elapsed().as_secs_f64());
                        answers[which] = batches.iter().map(|b| b.num_rows()).sum();
                    }
                }
            }
            if std::env::var_os("E2E_EXPLAIN").is_some() {
                self.explain(&dir, &files, &ours, &plain).await?;
            }
            if answers[0] != answers[1] {
                return Err(format!(
                    "warm {name}: {} rows vs ListingTable {}",
                    answers[0], answers[1]
                )
                .into());
            }
            for (session, label) in [(0, "fresh session"), (1, "same session, again")] {
                let ours_s = median(&mut times[0][session]);
                let plain_s = median(&mut times[1][session]);
                self.record(Row {
                    scenario: format!("warm {name} ({label})"),
                    profile: "local",
                    events: self.dataset.count(LOG_ID, range.start(), range.end()) as i64,
                    wall_s: ours_s,
                    events_per_s: 0.0,
                    queries: 0,
                    polls: 0,
                    queries_per_1000_events: 0.0,
                    peak_rss_mb: f64::NAN,
                    note: format!(
                        "ListingTable {plain_s:.3} s, ratio {:.2} (median of {runs}, planning included)",
                        ours_s / plain_s
                    ),
                });
            }
        }
        Ok(())
    }

    /// `E2E_EXPLAIN=1`: print `EXPLAIN ANALYZE` of both forms of a warm query.
    async fn explain(
        &self,
        dir: &Path,
        files: &Path,
        ours: &str,
        plain: &str,
    ) -> Result<(), BoxError> {
        let ctx = SessionContext::new();
        let cache = SegmentCache::open(path_str(dir)?, CacheConfig::default())?;
        register(&ctx, Rapid7Config::offline_only(cache)).await?;
        ctx.register_parquet(
            "plain",
            &format!("{}/", path_str(files)?),
            ParquetReadOptions::default(),
        )
        .await?;
        // The same ListingTable reading strings as `Utf8` (not `Utf8View`),
        // as `rapid7_logs` declares them.
        let utf8 =
            SessionContext::new_with_config(datafusion::prelude::SessionConfig::new().set_bool(
                "datafusion.execution.parquet.schema_force_view_types",
                false,
            ));
        utf8.register_parquet(
            "plain",
            &format!("{}/", path_str(files)?),
            ParquetReadOptions::default(),
        )
        .await?;
        for (ctx, sql) in [(&ctx, ours), (&ctx, plain), (&utf8, plain)] {
            let plan = ctx
                .sql(&format!("EXPLAIN ANALYZE {sql}"))
                .await?
                .collect()
                .await?;
            println!(
                "{}",
                datafusion::arrow::util::pretty::pretty_format_batches(&plan)?
            );
        }
        Ok(())
    }

    /// `rapid7-sql -c` on a window the cache holds: process wall time.
    async fn cli_hit(
        &mut self,
        cache: &str,
        range: TimeRange,
        runs: usize,
    ) -> Result<(), BoxError> {
        let mut times = Vec::new();
        let truth = self.dataset.count(LOG_ID, range.start(), range.end());
        self.server.clear_requests();
        for _ in 0..runs {
            let start = Instant::now();
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rapid7-sql"))
                .args(["--quiet", "--format", "csv", "--endpoint"])
                .arg(self.server.url())
                .arg("--cache")
                .arg(self.cache_dir(cache))
                .arg("-c")
                .arg(count_sql("rapid7_logs", range))
                .env("RAPID7_API_KEY", self.server.api_key())
                .output()
                .await?;
            times.push(start.elapsed().as_secs_f64());
            let stdout = String::from_utf8_lossy(&output.stdout);
            if !output.status.success() || !stdout.contains(&truth.to_string()) {
                return Err(format!(
                    "rapid7-sql hit: {stdout} {}",
                    String::from_utf8_lossy(&output.stderr)
                )
                .into());
            }
        }
        let queries = self.server.query_requests();
        if queries != 0 {
            return Err(format!("rapid7-sql hit made {queries} API queries").into());
        }
        let wall = median(&mut times);
        self.record(Row {
            scenario: "hit 1 h via rapid7-sql -c".into(),
            profile: "local",
            events: truth as i64,
            wall_s: wall,
            events_per_s: truth as f64 / wall,
            queries: 0,
            polls: 0,
            queries_per_1000_events: 0.0,
            peak_rss_mb: f64::NAN,
            note: format!("process wall time, median of {runs}"),
        });
        Ok(())
    }

    async fn drop_half(&self, cache: &str, range: TimeRange) -> Result<TimeRange, BoxError> {
        let store = SegmentCache::open(path_str(&self.cache_dir(cache))?, CacheConfig::default())?;
        // Keep whole aligned hours cached, drop the rest.
        let mid = T0 + (range.end() - T0) / 2 / HOUR * HOUR;
        let dropped = TimeRange::new(mid, range.end())?;
        store.drop_range(LOG_ID, dropped).await?;
        Ok(dropped)
    }

    fn write_json(&self) -> Result<PathBuf, BoxError> {
        let out = std::env::var_os("E2E_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-e2e.json")
            });
        std::fs::write(&out, serde_json::to_vec_pretty(&self.rows)?)?;
        Ok(out)
    }
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn header() {
    println!(
        "{:<34} {:<9} {:>9} {:>9} {:>10} {:>7} {:>7} {:>8} {:>8}  note",
        "scenario",
        "profile",
        "events",
        "wall s",
        "events/s",
        "queries",
        "polls",
        "q/1000",
        "RSS MB"
    );
}

async fn run_all() -> Result<(), BoxError> {
    let mut b = Bench::start().await?;
    header();
    let realistic = Profile::Realistic;
    let raised = Profile::Raised;
    let only = std::env::var("E2E_ONLY").unwrap_or_default();
    if only != "raised" && only != "newest" {
        realistic_scenarios(&mut b, realistic).await?;
    }

    // Machine-bound cold fetches (`E2E_MAX_EVENTS` stops after a size).
    let max_events: u64 = match std::env::var("E2E_MAX_EVENTS") {
        Ok(v) => v.parse()?,
        Err(_) => u64::MAX,
    };
    let mut last_rss = 0.0;
    let mut largest = None;
    for (label, n, cache) in [
        ("cold 100k", 100_000, "r100k"),
        ("cold 1M", 1_000_000, "r1m"),
        ("cold 5M", 5_000_000, "r5m"),
    ] {
        if n > max_events {
            break;
        }
        let range = window_for(&b.dataset, n);
        let row = b
            .fetch(Fetch::defaults(label, raised, range, cache), false)
            .await?;
        if n == 5_000_000 {
            b.record(Row {
                note: format!("peak RSS 5M / 1M = {:.2}", row.peak_rss_mb / last_rss),
                scenario: "ratio RSS 5M / 1M".into(),
                ..row.clone()
            });
        }
        last_rss = row.peak_rss_mb;
        largest = Some((cache, range));
    }
    // Warm queries over the largest cache, then newest first over it.
    if let Some((cache, range)) = largest {
        if std::env::var("E2E_ONLY").as_deref() != Ok("newest") {
            b.warm(cache, range, 5).await?;
        }
        b.newest_rare(cache, range).await?;
    }
    let out = b.write_json()?;
    println!("figures written to {}", out.display());
    Ok(())
}

/// `cargo test`: every scenario once, small, no latency, results checked.
async fn smoke() -> Result<(), BoxError> {
    let mut b = Bench::start().await?;
    header();
    let small = window_for(&b.dataset, 3_000);
    let naive = b
        .fetch(Fetch::naive("naive", Profile::Raised, small), false)
        .await?;
    let cold = b
        .fetch(Fetch::defaults("cold", Profile::Raised, small, "s"), false)
        .await?;
    assert!(naive.queries > 5 * cold.queries, "{naive:?} vs {cold:?}");
    // Several fetch pieces: a second run is answered from the cache; with
    // the second half dropped, only that half is fetched again.
    let w = window_for(&b.dataset, 20_000);
    let cold = b
        .fetch(Fetch::defaults("cold", Profile::Raised, w, "c"), false)
        .await?;
    let warm = b
        .fetch(Fetch::defaults("warm", Profile::Raised, w, "c"), false)
        .await?;
    assert_eq!(warm.queries, 0, "{warm:?}");
    b.drop_half("c", w).await?;
    let partial = b
        .fetch(Fetch::defaults("partial", Profile::Raised, w, "c"), false)
        .await?;
    assert!(
        partial.queries > 0 && partial.queries < cold.queries,
        "{partial:?} vs {cold:?}"
    );
    b.warm("c", w, 1).await?;
    b.cli_hit("c", TimeRange::new(T0, T0 + HOUR)?, 1).await?;
    b.newest_rare("c", w).await?;
    Ok(())
}

/// The scenarios with realistic latency and quota (skipped with
/// `E2E_ONLY=raised`).
async fn realistic_scenarios(b: &mut Bench, realistic: Profile) -> Result<(), BoxError> {
    // Naive export script vs our defaults, realistic latency and quota.
    let small = window_for(&b.dataset, 10_000);
    let naive = b
        .fetch(Fetch::naive("naive baseline 10k", realistic, small), true)
        .await?;
    let ours = b
        .fetch(Fetch::defaults("cold 10k", realistic, small, "c10k"), true)
        .await?;
    b.record(Row {
        note: format!(
            "cold 10k is {:.1}x faster than the naive baseline",
            naive.wall_s / ours.wall_s
        ),
        scenario: "ratio naive / ours".into(),
        ..ours.clone()
    });

    // Cold 100k with realistic latency and the real quota, then half of it again.
    let w100k = window_for(&b.dataset, 100_000);
    let cold = b
        .fetch(
            Fetch::defaults("cold 100k", realistic, w100k, "c100k"),
            true,
        )
        .await?;
    let dropped = b.drop_half("c100k", w100k).await?;
    let partial = b
        .fetch(
            Fetch {
                note: format!("second half ({}) dropped first", fmt_ms(dropped.start())),
                ..Fetch::defaults("partial 100k (half cached)", realistic, w100k, "c100k")
            },
            true,
        )
        .await?;
    b.record(Row {
        note: format!(
            "partial/cold: time {:.2}, queries {:.2}",
            partial.wall_s / cold.wall_s,
            partial.queries as f64 / cold.queries as f64
        ),
        scenario: "ratio partial / cold".into(),
        ..partial.clone()
    });
    let hour = TimeRange::new(T0 + HOUR, T0 + 2 * HOUR)?;
    b.cli_hit("c100k", hour, 5).await?;
    Ok(())
}
