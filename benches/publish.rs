//! What publishing the cache as a Delta table costs: publish rate (events/s
//! from cached segments into a local Delta table, in one run and in one run
//! per hour of data), the table's bytes per event against the cache's, and
//! what a rerun with nothing new and an `OPTIMIZE` of the hourly files take.
//!
//! ```sh
//! cargo bench --bench publish              # a day of a 20 events/s log (1.7M events)
//! PUBLISH_OUT=figures.json cargo bench --bench publish
//! ```
//!
//! The cache is filled straight from the simulator's data function (one
//! segment an hour, as fetches make them), so only publishing is timed. The
//! table is read back through deltalake's DataFusion provider and its row
//! count checked. Under `cargo test` (no `--bench`) an hour of it runs.
//! Figures: docs/benchmarks.md.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ListBuilder, RecordBatch, StringArray, StringBuilder};
use datafusion::arrow::array::{TimestampMillisecondArray, UInt64Array};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::events::event_schema;
use datafusion_rapid7::mock::{MessageFormat, MockDataset, MockLog};
use datafusion_rapid7::ops::publish::{
    PublishOptions, TableLocation, optimize, publish_log, published_provider,
};
use datafusion_rapid7::time::TimeRange;
use serde::Serialize;

const LOG_ID: &str = "0c6d1e2f-3a4b-4c5d-8e9f-a0b1c2d3e4f5";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Serialize, Debug)]
struct Figures {
    events: u64,
    segments: usize,
    publish_s: f64,
    events_per_s: f64,
    commits: u64,
    data_files: u64,
    cache_bytes: u64,
    table_data_bytes: u64,
    table_log_bytes: u64,
    cache_bytes_per_event: f64,
    table_bytes_per_event: f64,
    rerun_s: f64,
    /// The same events into a second table, one publish per hour of data
    /// (as an hourly schedule does).
    hourly_publish_s: f64,
    hourly_commits: u64,
    hourly_files: u64,
    optimize_s: f64,
    files_after_optimize: u64,
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run(if full { 24 } else { 1 }))
}

fn batch(dataset: &MockDataset, from: i64, to: i64) -> RecordBatch {
    let events = dataset.events(LOG_ID, from, to);
    let mut labels = ListBuilder::new(StringBuilder::new());
    for e in &events {
        for l in &e.labels {
            labels.values().append_value(l);
        }
        labels.append(true);
    }
    RecordBatch::try_new(
        event_schema(),
        vec![
            Arc::new(
                TimestampMillisecondArray::from(
                    events.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from(vec![LOG_ID; events.len()])),
            Arc::new(StringArray::from(vec![Some("Busy"); events.len()])),
            Arc::new(UInt64Array::from(
                events.iter().map(|e| e.sequence_number).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                events
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(labels.finish()),
        ],
    )
    .expect("an event batch")
}

/// Bytes of the files below `dir` that `keep` accepts, not looking into
/// `_delta_log` unless `dir` is it.
fn bytes_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "_delta_log") {
                total += bytes_under(&path, keep);
            }
        } else if keep(&path) {
            total += entry.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

async fn run(hours: i64) -> Result<(), BoxError> {
    let dataset = MockDataset::new(vec![MockLog {
        id: LOG_ID.into(),
        name: "Busy".into(),
        rate_per_sec: 20.0,
        format: MessageFormat::KeyValue,
        burst_every_secs: None,
        burst_size: 0,
        labels: vec!["l-1".into()],
    }]);
    let dir = tempfile::tempdir()?;
    let cache = SegmentCache::open(
        dir.path().join("cache").to_str().ok_or("utf-8")?,
        CacheConfig::default(),
    )?;
    for h in 0..hours {
        let (from, to) = (T0 + h * HOUR, T0 + (h + 1) * HOUR);
        let mut writer = cache.writer(LOG_ID, TimeRange::new(from, to)?)?;
        writer.push(batch(&dataset, from, to)).await?;
        writer.commit().await?;
    }
    let segments = cache.list_segments(LOG_ID).await?;
    let events: u64 = segments.iter().map(|s| s.row_count()).sum();
    let cache_bytes: u64 = segments.iter().map(|s| s.size_bytes()).sum();

    let table_dir = dir.path().join("lake");
    let table = TableLocation::open(table_dir.to_str().ok_or("utf-8")?)?;
    let options = PublishOptions::new(None, T0 + (hours + 1) * HOUR);
    let started = Instant::now();
    let report = publish_log(&cache, LOG_ID, &table, &options).await?;
    let publish_s = started.elapsed().as_secs_f64();
    assert_eq!(report.events_published, events);

    let started = Instant::now();
    let rerun = publish_log(&cache, LOG_ID, &table, &options).await?;
    let rerun_s = started.elapsed().as_secs_f64();
    assert_eq!(rerun.events_published, 0);

    let ctx = SessionContext::new();
    ctx.register_table("t", published_provider(&ctx, &table).await?)?;
    let n = ctx.sql("SELECT count(*) FROM t").await?.collect().await?;
    let counted = datafusion::arrow::array::AsArray::as_primitive::<
        datafusion::arrow::datatypes::Int64Type,
    >(n[0].column(0))
    .value(0);
    assert_eq!(counted as u64, events, "the table holds every event once");

    let parquet = |p: &Path| p.extension().is_some_and(|e| e == "parquet");
    let table_data_bytes = bytes_under(&table_dir, &parquet);
    let table_log_bytes = bytes_under(&table_dir.join("_delta_log"), &|_| true);
    let hourly_table = TableLocation::open(dir.path().join("hourly").to_str().ok_or("utf-8")?)?;
    let (mut hourly_commits, mut hourly_files) = (0, 0);
    let started = Instant::now();
    for h in 0..hours {
        let window = TimeRange::new(T0 + h * HOUR, T0 + (h + 1) * HOUR)?;
        let options = PublishOptions::new(Some(window), T0 + (hours + 1) * HOUR);
        let r = publish_log(&cache, LOG_ID, &hourly_table, &options).await?;
        hourly_commits += r.commits;
        hourly_files += r.files_added;
    }
    let hourly_publish_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let optimized = optimize(&hourly_table, 128 << 20).await?;
    let optimize_s = started.elapsed().as_secs_f64();

    let figures = Figures {
        events,
        segments: segments.len(),
        publish_s,
        events_per_s: events as f64 / publish_s,
        commits: report.commits,
        data_files: report.files_added,
        cache_bytes,
        table_data_bytes,
        table_log_bytes,
        cache_bytes_per_event: cache_bytes as f64 / events as f64,
        table_bytes_per_event: table_data_bytes as f64 / events as f64,
        rerun_s,
        hourly_publish_s,
        hourly_commits,
        hourly_files,
        optimize_s,
        files_after_optimize: hourly_files - optimized.files_removed + optimized.files_added,
    };
    let text = serde_json::to_string_pretty(&figures)?;
    println!("{text}");
    if let Ok(path) = std::env::var("PUBLISH_OUT") {
        std::fs::write(path, text + "\n")?;
    }
    Ok(())
}
