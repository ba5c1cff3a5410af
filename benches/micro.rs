//! Micro benchmarks of the hot paths, on realistic events built once:
//!
//! - `decode`: an API page body (JSON) → column buffers → `RecordBatch`;
//! - `decode_write`: page bodies → batches → Parquet parts of one committed
//!   segment on local disk (the whole cold-fetch CPU path but the network);
//! - `coverage`: coverage planning of a request over 10,000 cached segments
//!   (pure, from ranges);
//! - `manifests`: listing a log's segment manifests and planning a read from
//!   them, on local disk;
//! - `window`: turning pushed-down filters into time windows;
//! - `fields`: splitting `key=value` and CSV messages into fields, and the
//!   `kv_get` / `csv_get` SQL functions over a batch.
//!
//! ```sh
//! cargo bench --bench micro            # everything
//! cargo bench --bench micro -- decode  # one group
//! ```
//!
//! Under `cargo test` (no `--bench` argument) every benchmark runs once on a
//! small dataset, so the benchmark code is checked by the test suite.
//! Figures and targets: docs/benchmarks.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::or;
use datafusion::scalar::ScalarValue;
use datafusion_rapid7::cache::{
    CacheConfig, CommitOutcome, PartCompression, SegmentCache, assign_responsibility, plan_coverage,
};
use datafusion_rapid7::client::decode_page;
use datafusion_rapid7::events::columns_to_batch;
use datafusion_rapid7::mock::{MessageFormat, MockDataset, MockLog, sequence_number};
use datafusion_rapid7::provider::extract_windows;
use datafusion_rapid7::time::TimeRange;
use serde_json::json;

const LOG_ID: &str = "0f3e2d1c-bench-4a5b-8c7d-000000000001";
const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const PAGE: usize = 500;
const HOUR: i64 = 3_600_000;

/// `cargo bench` passes `--bench`; `cargo test` does not.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn scaled(full: usize, test: usize) -> usize {
    if full_run() { full } else { test }
}

/// How long message texts are.
#[derive(Clone, Copy)]
enum Sizes {
    /// Every message exactly this many bytes.
    Fixed(usize),
    /// 60% about 150 B, 30% about 600 B, 10% about 2 KB: what mixed security
    /// logs look like (firewall lines, proxy records, JSON audit events).
    Mixed,
}

/// `n` simulator messages of one layout, as generated.
fn messages_of(format: MessageFormat, n: usize) -> Vec<String> {
    let data = MockDataset::new(vec![MockLog {
        id: "bench".into(),
        name: "bench".into(),
        rate_per_sec: 1000.0,
        format,
        burst_every_secs: None,
        burst_size: 0,
        labels: vec![],
    }]);
    // About 1,000 events a second: widen the window until there are enough.
    let step = 1000 * (n as i64 / 1000 + 1);
    let mut to = T0 + step;
    let mut events = data.events("bench", T0, to);
    while events.len() < n {
        to += step;
        events = data.events("bench", T0, to);
    }
    events.into_iter().take(n).map(|e| e.message).collect()
}

/// Simulator messages in JSON, CSV and key=value layouts, interleaved, cut
/// or extended to the wanted lengths.
fn messages(n: usize, sizes: Sizes) -> Vec<String> {
    let formats = [
        MessageFormat::Json,
        MessageFormat::Csv,
        MessageFormat::KeyValue,
    ];
    let per_format: Vec<Vec<String>> = formats
        .iter()
        .map(|f| messages_of(*f, n.div_ceil(formats.len())))
        .collect();
    (0..n)
        .map(|i| {
            let want = match sizes {
                Sizes::Fixed(len) => len,
                Sizes::Mixed => match i % 10 {
                    0..=5 => 150,
                    6..=8 => 600,
                    _ => 2048,
                },
            };
            fill(&per_format[i % formats.len()], i / formats.len(), want)
        })
        .collect()
}

/// Message `k` of `lines`, cut to `len` bytes (on a char boundary) or
/// extended with the lines after it: a long message is as varied as the
/// log's lines, not one line repeated (which zstd would shrink to nothing).
fn fill(lines: &[String], k: usize, len: usize) -> String {
    let mut s = lines[k].clone();
    let mut next = k + 1;
    while s.len() < len {
        s.push(' ');
        s.push_str(&lines[next % lines.len()]);
        next += 1;
    }
    let mut cut = len.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

/// Page bodies as the API returns them (one per 500 events), each with a
/// `Next` link, events with `labels` and a `Context` link.
fn page_bodies(messages: &[String]) -> Vec<Vec<u8>> {
    messages
        .chunks(PAGE)
        .enumerate()
        .map(|(p, chunk)| {
            let events: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let k = (p * PAGE + i) as i64;
                    // As the simulator (and Rapid7) make them: not monotone
                    // across milliseconds.
                    let seq = sequence_number(T0 + k * 7, 0);
                    json!({
                        "log_id": LOG_ID,
                        "timestamp": T0 + k * 7,
                        "sequence_number": seq as f64,
                        "sequence_number_str": seq.to_string(),
                        "message": m,
                        "labels": [],
                        "links": [{"rel": "Context", "href": format!(
                            "https://us.rest.logs.insight.rapid7.com/query/context/{seq}?per_page=10")}]
                    })
                })
                .collect();
            serde_json::to_vec(&json!({
                "logs": [LOG_ID],
                "leql": {"statement": "where()", "during": {"from": T0, "to": T0 + 1_000_000_000}},
                "events": events,
                "links": [{"rel": "Next", "href": format!(
                    "https://us.rest.logs.insight.rapid7.com/query/logs/{LOG_ID}?from={T0}&to=1&per_page=500&sequence_number=1")}]
            }))
            .expect("page JSON")
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, sizes) in [("mixed", Sizes::Mixed), ("400B", Sizes::Fixed(400))] {
        let bodies = page_bodies(&messages(PAGE, sizes));
        let body = &bodies[0];
        group.throughput(Throughput::Elements(PAGE as u64));
        group.bench_with_input(
            BenchmarkId::new("page_json_to_batch", name),
            body,
            |b, body| {
                b.iter(|| {
                    let page = decode_page(body, LOG_ID, T0, i64::MAX).expect("decode");
                    assert_eq!(page.columns.len(), PAGE);
                    black_box(columns_to_batch(page.columns, LOG_ID, Some("bench")).expect("batch"))
                })
            },
        );
    }
    group.finish();
}

/// Decode `bodies` and write them as one committed segment; returns its rows
/// and bytes on disk.
async fn decode_and_write(
    cache: &SegmentCache,
    bodies: &[Vec<u8>],
    range: TimeRange,
) -> (u64, u64) {
    let mut writer = cache.writer(LOG_ID, range).expect("writer");
    for body in bodies {
        let page = decode_page(body, LOG_ID, T0, i64::MAX).expect("decode");
        let batch = columns_to_batch(page.columns, LOG_ID, Some("bench")).expect("batch");
        writer.push(batch).await.expect("push");
    }
    match writer.commit().await.expect("commit") {
        CommitOutcome::Committed(segment) => (segment.row_count(), segment.size_bytes()),
        other => panic!("not committed: {other:?}"),
    }
}

fn decode_write(c: &mut Criterion) {
    let rt = runtime();
    let n = scaled(100_000, 2_000);
    let mut group = c.benchmark_group("decode_write");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    // The default codec (zstd level 3), and what others cost.
    let default = CacheConfig::default().compression;
    for (name, sizes, compression) in [
        ("400B", Sizes::Fixed(400), default),
        ("mixed", Sizes::Mixed, default),
        ("400B_zstd1", Sizes::Fixed(400), PartCompression::Zstd(1)),
        ("400B_snappy", Sizes::Fixed(400), PartCompression::Snappy),
        (
            "400B_uncompressed",
            Sizes::Fixed(400),
            PartCompression::Uncompressed,
        ),
    ] {
        let bodies = page_bodies(&messages(n, sizes));
        let dir = tempfile::tempdir().expect("temp dir");
        let config = CacheConfig {
            compression,
            ..CacheConfig::default()
        };
        let cache = SegmentCache::open(dir.path().to_str().expect("utf-8"), config).expect("cache");
        // The data spans [T0, T0 + 7n) ms; each iteration commits a fresh segment.
        let range = TimeRange::new(T0, T0 + 7 * n as i64).expect("range");
        let mut size = 0;
        group.bench_function(BenchmarkId::new("events_to_parquet_segment", name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let (rows, bytes) = rt.block_on(decode_and_write(&cache, &bodies, range));
                    total += start.elapsed();
                    assert_eq!(rows, n as u64);
                    size = bytes;
                    rt.block_on(cache.drop_log(LOG_ID)).expect("drop");
                }
                total
            })
        });
        // What the codec buys: the segment's size (the same every iteration).
        println!(
            "decode_write/{name}: {:.1} bytes per event on disk ({} events)",
            size as f64 / n as f64,
            n
        );
    }
    group.finish();
}

/// `n` one-hour segments with a missing hour every 10th, starting at T0.
fn segment_ranges(n: usize) -> Vec<TimeRange> {
    (0..n as i64)
        .filter(|i| i % 10 != 9)
        .map(|i| TimeRange::new(T0 + i * HOUR, T0 + (i + 1) * HOUR).expect("range"))
        .collect()
}

fn coverage(c: &mut Criterion) {
    let n = 10_000;
    let cached = segment_ranges(n);
    let request = TimeRange::new(T0 - HOUR, T0 + (n as i64 + 1) * HOUR).expect("range");
    let mut group = c.benchmark_group("coverage");
    group.bench_function(BenchmarkId::new("plan", format!("{n} segments")), |b| {
        b.iter(|| {
            let coverage = plan_coverage(black_box(request), black_box(&cached));
            let owners = assign_responsibility(request, &cached);
            black_box((coverage, owners))
        })
    });
    group.finish();
}

/// A cache with one segment (of one event) for each of `n` one-hour ranges.
fn cache_of_segments(
    rt: &tokio::runtime::Runtime,
    n: usize,
) -> (tempfile::TempDir, Vec<TimeRange>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_str().expect("utf-8");
    let cache = SegmentCache::open(root, CacheConfig::default()).expect("cache");
    let ranges = segment_ranges(n);
    let bodies = page_bodies(&messages(1, Sizes::Fixed(200)));
    rt.block_on(async {
        for range in &ranges {
            let mut writer = cache.writer(LOG_ID, *range).expect("writer");
            let page = decode_page(&bodies[0], LOG_ID, T0, i64::MAX).expect("decode");
            let mut batch = columns_to_batch(page.columns, LOG_ID, None).expect("batch");
            // Move the one event into the segment's range.
            batch = retime(batch, range.start());
            writer.push(batch).await.expect("push");
            writer.commit().await.expect("commit");
        }
    });
    // A cache written earlier: a session remembers what directories that
    // have not changed for a few seconds hold (cache/local_list.rs).
    std::thread::sleep(Duration::from_secs(4));
    (dir, ranges)
}

fn manifests(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("manifests");
    group.sample_size(10);
    for n in [scaled(1_000, 20), scaled(10_000, 50)] {
        // Built by the first benchmark that runs (none, when a filter
        // leaves out this group: building 11,000 segments takes minutes).
        let built = std::cell::OnceCell::new();
        let setup = || built.get_or_init(|| cache_of_segments(&rt, n));
        let session = std::cell::OnceCell::new();
        let cache = || {
            session.get_or_init(|| {
                let root = setup().0.path().to_str().expect("utf-8");
                SegmentCache::open(root, CacheConfig::default()).expect("cache")
            })
        };
        let request = TimeRange::new(T0, T0 + n as i64 * HOUR).expect("range");
        group.bench_function(BenchmarkId::new("list_segments", n), |b| {
            let (cache, segments) = (cache(), setup().1.len());
            b.iter(|| {
                let listed = rt.block_on(cache.list_segments(LOG_ID)).expect("list");
                assert_eq!(listed.len(), segments);
                black_box(listed)
            })
        });
        group.bench_function(BenchmarkId::new("plan_read", n), |b| {
            let cache = cache();
            b.iter(|| black_box(rt.block_on(cache.plan_read(LOG_ID, request)).expect("plan")))
        });
        // The first plan of a process: every directory read, the manifest
        // of every segment in the request loaded and its parts' footers
        // checked; over everything, and over the last hour.
        let last_hour = TimeRange::new(request.end() - HOUR, request.end()).expect("range");
        for (name, request) in [("all", request), ("last_hour", last_hour)] {
            let id = BenchmarkId::new(format!("plan_read_new_session_{name}"), n);
            group.bench_function(id, |b| {
                let root = setup().0.path().to_str().expect("utf-8");
                b.iter(|| {
                    let cache = SegmentCache::open(root, CacheConfig::default()).expect("cache");
                    black_box(rt.block_on(cache.plan_read(LOG_ID, request)).expect("plan"))
                })
            });
        }
    }
    group.finish();
}

/// The batch with every timestamp set to `ts`.
fn retime(
    batch: datafusion::arrow::array::RecordBatch,
    ts: i64,
) -> datafusion::arrow::array::RecordBatch {
    use datafusion::arrow::array::{ArrayRef, TimestampMillisecondArray};
    use std::sync::Arc;
    let n = batch.num_rows();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns[0] = Arc::new(TimestampMillisecondArray::from(vec![ts; n]).with_timezone("UTC"));
    datafusion::arrow::array::RecordBatch::try_new(batch.schema(), columns).expect("retimed batch")
}

fn ts(ms: i64) -> Expr {
    lit(ScalarValue::TimestampMillisecond(
        Some(ms),
        Some("UTC".into()),
    ))
}

fn window(c: &mut Criterion) {
    let now = T0 + 400 * HOUR;
    let between = vec![col("timestamp").between(ts(T0), ts(T0 + HOUR))];
    let ors = |k: i64| {
        (0..k)
            .map(|i| col("timestamp").between(ts(T0 + 2 * i * HOUR), ts(T0 + (2 * i + 1) * HOUR)))
            .reduce(or)
            .expect("at least one range")
    };
    let or_50 = vec![ors(50)];
    let mixed = vec![
        col("log_name").eq(lit("Firewall")),
        col("timestamp").gt_eq(ts(T0)),
        or(
            col("timestamp").lt(ts(T0 + 10 * HOUR)),
            col("timestamp").between(ts(T0 + 20 * HOUR), ts(T0 + 30 * HOUR)),
        ),
        col("message").like(lit("%deny%")),
    ];
    let in_list =
        vec![col("timestamp").in_list((0..100).map(|i| ts(T0 + i * 60_000)).collect(), false)];
    let mut group = c.benchmark_group("window");
    for (name, filters) in [
        ("between", between),
        ("or_of_50_ranges", or_50),
        ("and_or_with_other_columns", mixed),
        ("in_list_100", in_list),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let windows = extract_windows(black_box(&filters), now).expect("windows");
                assert!(!windows.is_empty());
                black_box(windows)
            })
        });
    }
    group.finish();
}

fn fields(c: &mut Criterion) {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::config::ConfigOptions;
    use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
    use datafusion_rapid7::fields::{csv_fields, csv_get_udf, kv_get_udf, kv_pairs};
    use std::sync::Arc;

    let n = scaled(10_000, 100);
    let mut group = c.benchmark_group("fields");
    for (name, format) in [("kv", MessageFormat::KeyValue), ("csv", MessageFormat::Csv)] {
        let msgs = messages_of(format, n);
        let split = |m: &str| match format {
            MessageFormat::Csv => csv_fields(m).map(|f| f.value.len()).sum::<usize>(),
            _ => kv_pairs(m).map(|p| p.value.len()).sum::<usize>(),
        };
        let count = |m: &str| match format {
            MessageFormat::Csv => csv_fields(m).count(),
            _ => kv_pairs(m).count(),
        };
        let total: usize = msgs.iter().map(|m| count(m)).sum();
        group.throughput(Throughput::Elements(total as u64));
        group.bench_function(BenchmarkId::new("every_field", name), |b| {
            b.iter(|| msgs.iter().map(|m| split(black_box(m))).sum::<usize>())
        });
        // One field of every row through the SQL function, as a query runs it.
        let array: ArrayRef = Arc::new(StringArray::from(msgs.clone()));
        let (udf, key) = match format {
            MessageFormat::Csv => (csv_get_udf(), ScalarValue::Int64(Some(8))),
            _ => (kv_get_udf(), ScalarValue::Utf8(Some("bytes".into()))),
        };
        let arg_fields = vec![
            Arc::new(Field::new("message", DataType::Utf8, false)),
            Arc::new(Field::new("key", key.data_type(), false)),
        ];
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("sql_function_one_field", name), |b| {
            b.iter(|| {
                let args = ScalarFunctionArgs {
                    args: vec![
                        ColumnarValue::Array(Arc::clone(&array)),
                        ColumnarValue::Scalar(key.clone()),
                    ],
                    arg_fields: arg_fields.clone(),
                    number_rows: n,
                    return_field: Arc::new(Field::new("out", DataType::Utf8, true)),
                    config_options: Arc::new(ConfigOptions::default()),
                };
                black_box(udf.invoke_with_args(args).expect("invoke"))
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    decode,
    decode_write,
    coverage,
    manifests,
    window,
    fields
);
criterion_main!(benches);
