//! Summaries of a window of logs, computed by DataFusion aggregates.
//!
//! One scan groups the window's events by `(log_id, log_name, bucket)` with
//! `count`, `min(timestamp)` and `max(timestamp)`; the totals, the per-log
//! and the per-bucket figures are then aggregates over that small result.
//! Nothing loops over event rows by hand, and the API is asked for the
//! window at most once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, TimestampMillisecondType};
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::date_bin;
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::logical_expr::{Expr, SortExpr, cast, col, lit};
use datafusion::prelude::{DataFrame, SessionContext};
use serde::Serialize;
use tracing::{error, info};

use crate::error::{Error, Result};
use crate::events::{TIMESTAMP_TZ, columns, timestamp_type};
use crate::provider::{LOGS_TABLE, Rapid7, Rapid7LogsTable};
use crate::time::{TimeRange, fmt_ms};

/// What to summarise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRequest {
    /// Log names or ids; empty means every log.
    pub logs: Vec<String>,
    /// The window, half-open.
    pub window: TimeRange,
    /// Width of the time buckets; `None` picks one from the window length
    /// (1 minute up to 2 hours, 1 hour up to 2 days, else 1 day).
    pub bucket: Option<Duration>,
    /// Where to write the summary as JSON (replacing the file whole, never
    /// writing through a symbolic link; a new file is owner-only), if
    /// anywhere; `parquet_summary_generated` names it.
    pub output: Option<PathBuf>,
}

/// Write `summary` to `path` as JSON: to a new temporary file beside it
/// first (created exclusively and owner-only, so nothing planted at its name
/// is followed or written), renamed over `path`: a reader never sees half a
/// summary, and a symbolic link at `path` is replaced, not written through.
async fn write_json(summary: &Summary, path: &Path) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let fail = |source: std::io::Error| Error::Io {
        action: "write the summary to",
        path: Some(path.to_path_buf()),
        source,
    };
    let name = path.file_name().ok_or_else(|| {
        fail(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path names no file",
        ))
    })?;
    let (tmp, mut file) = create_temporary(path, name).await.map_err(fail)?;
    let written = async {
        file.write_all((summary.to_json() + "\n").as_bytes())
            .await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&tmp, path).await
    };
    if let Err(e) = written.await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(fail(e));
    }
    Ok(())
}

/// A new file `.{name}.{random}.tmp` beside `path`, created exclusively
/// (`O_EXCL`: never an existing file or a symbolic link) with mode 0600.
async fn create_temporary(
    path: &Path,
    name: &std::ffi::OsStr,
) -> std::io::Result<(PathBuf, tokio::fs::File)> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut taken = None;
    for _ in 0..8 {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{:016x}.tmp", fastrand::u64(..)));
        let tmp = path.with_file_name(tmp_name);
        match options.open(&tmp).await {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => taken = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(taken.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// A summary of a window of logs. Serialises to JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Start of the window (RFC 3339, inclusive).
    pub from: String,
    /// End of the window (RFC 3339, exclusive).
    pub to: String,
    /// Number of events.
    pub row_count: u64,
    /// The table's columns.
    pub columns: Vec<ColumnSummary>,
    /// Earliest event (RFC 3339), if any.
    pub min_timestamp: Option<String>,
    /// Latest event (RFC 3339), if any.
    pub max_timestamp: Option<String>,
    /// Events per log, by log id.
    pub per_log: Vec<LogCount>,
    /// Bucket width in seconds.
    pub bucket_seconds: u64,
    /// Events per time bucket (buckets without events are left out).
    pub per_bucket: Vec<BucketCount>,
    /// The committed cache segments that hold the window's events.
    pub segments: Vec<SegmentSummary>,
}

/// A column of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnSummary {
    /// Column name.
    pub name: String,
    /// Arrow data type.
    pub data_type: String,
    /// Whether it may be null.
    pub nullable: bool,
}

/// Events of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogCount {
    /// Log id.
    pub log_id: String,
    /// Log name.
    pub log_name: Option<String>,
    /// Events in the window.
    pub events: u64,
}

/// Events in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketCount {
    /// Bucket start (RFC 3339).
    pub start: String,
    /// Bucket start, epoch ms.
    pub start_ms: i64,
    /// Events in the bucket.
    pub events: u64,
}

/// A cache segment used by the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentSummary {
    /// Log id.
    pub log_id: String,
    /// Segment start (RFC 3339).
    pub from: String,
    /// Segment end (RFC 3339, exclusive).
    pub to: String,
    /// Rows in the segment.
    pub rows: u64,
    /// Bytes of Parquet.
    pub bytes: u64,
    /// Number of Parquet parts.
    pub parts: usize,
}

impl Summary {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary always serialises")
    }
}

impl Rapid7 {
    /// Summarise `request` over this source's `rapid7_logs`, as SQL
    /// aggregates run in `ctx` (its settings and memory pool). Emits
    /// `parquet_summary_generated`, or `parquet_summary_failed` at ERROR.
    pub async fn summarize(
        &self,
        ctx: &SessionContext,
        request: &SummaryRequest,
    ) -> Result<Summary> {
        let started = Instant::now();
        let result = match summarize_inner(self, ctx, request).await {
            Ok(summary) => match &request.output {
                Some(path) => write_json(&summary, path).await.map(|()| summary),
                None => Ok(summary),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(summary) => {
                let columns: Vec<&str> = summary.columns.iter().map(|c| c.name.as_str()).collect();
                let output = request.output.as_ref().map(|p| p.display().to_string());
                info!(
                    from_ms = request.window.start(),
                    to_ms = request.window.end(),
                    row_count = summary.row_count,
                    min_timestamp = summary.min_timestamp.as_deref(),
                    max_timestamp = summary.max_timestamp.as_deref(),
                    columns = %columns.join(","),
                    logs = summary.per_log.len(),
                    buckets = summary.per_bucket.len(),
                    segments = summary.segments.len(),
                    output = output.as_deref(),
                    timestamp_min = summary.min_timestamp.as_deref(),
                    timestamp_max = summary.max_timestamp.as_deref(),
                    summary_output = output.as_deref(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "parquet_summary_generated"
                );
                Ok(summary)
            }
            Err(e) => {
                error!(
                    from_ms = request.window.start(),
                    to_ms = request.window.end(),
                    error = %e,
                    "parquet_summary_failed"
                );
                Err(e)
            }
        }
    }
}

/// [`Rapid7::summarize`] for the source whose `rapid7_logs` table is
/// registered in `ctx` (see [`crate::register`]). The old entry point; prefer
/// the method on the handle `register` returns.
pub async fn summarize(ctx: &SessionContext, request: &SummaryRequest) -> Result<Summary> {
    let provider = ctx.table_provider(LOGS_TABLE).await?;
    match provider.downcast_ref::<Rapid7LogsTable>() {
        Some(table) => table.rapid7().summarize(ctx, request).await,
        None => Err(Error::NotRegistered {
            table: LOGS_TABLE.into(),
        }),
    }
}

fn auto_bucket(window: TimeRange) -> Duration {
    const HOUR: u64 = 3_600_000;
    let len = window.len_ms();
    Duration::from_millis(if len <= 2 * HOUR {
        60_000
    } else if len <= 48 * HOUR {
        HOUR
    } else {
        24 * HOUR
    })
}

fn ts_lit(ms: i64) -> Expr {
    lit(ScalarValue::TimestampMillisecond(
        Some(ms),
        Some(TIMESTAMP_TZ.into()),
    ))
}

async fn summarize_inner(
    rapid7: &Rapid7,
    ctx: &SessionContext,
    request: &SummaryRequest,
) -> Result<Summary> {
    let window = request.window;
    let bucket = request
        .bucket
        .unwrap_or_else(|| auto_bucket(window))
        .max(Duration::from_secs(1));
    let mut logs = Vec::new();
    for name in &request.logs {
        logs.push(rapid7.find_log(name).await?);
    }

    let mut events = ctx.read_table(rapid7.table())?.filter(
        col(columns::TIMESTAMP)
            .gt_eq(ts_lit(window.start()))
            .and(col(columns::TIMESTAMP).lt(ts_lit(window.end()))),
    )?;
    if !logs.is_empty() {
        let ids = logs.iter().map(|l| lit(l.id.clone())).collect();
        events = events.filter(col(columns::LOG_ID).in_list(ids, false))?;
    }
    let columns = events
        .schema()
        .fields()
        .iter()
        .map(|f| ColumnSummary {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect();

    // One scan: counts and time span per (log, bucket).
    let stride = lit(ScalarValue::new_interval_mdn(
        0,
        0,
        bucket.as_nanos().min(i64::MAX as u128) as i64,
    ));
    let grouped = events
        .aggregate(
            vec![
                col(columns::LOG_ID),
                col(columns::LOG_NAME),
                cast(
                    date_bin(stride, col(columns::TIMESTAMP), ts_lit(0)),
                    timestamp_type(),
                )
                .alias("bucket"),
            ],
            vec![
                count(lit(1)).alias("events"),
                min(col(columns::TIMESTAMP)).alias("min_ts"),
                max(col(columns::TIMESTAMP)).alias("max_ts"),
            ],
        )?
        .collect()
        .await?;
    let grouped = ctx.read_batches(grouped)?;

    let totals = collect(grouped.clone().aggregate(
        vec![],
        vec![
            sum(col("events")).alias("events"),
            min(col("min_ts")).alias("min_ts"),
            max(col("max_ts")).alias("max_ts"),
        ],
    )?)
    .await?;
    let per_log = collect(
        grouped
            .clone()
            .aggregate(
                vec![col(columns::LOG_ID), col(columns::LOG_NAME)],
                vec![sum(col("events")).alias("events")],
            )?
            .sort(vec![sort(columns::LOG_ID)])?,
    )
    .await?;
    let per_bucket = collect(
        grouped
            .aggregate(
                vec![col("bucket")],
                vec![sum(col("events")).alias("events")],
            )?
            .sort(vec![sort("bucket")])?,
    )
    .await?;

    let (row_count, min_ts, max_ts) = match &totals {
        Some(b) if b.num_rows() == 1 => (
            int(b, 0, 0),
            ts(b, 1, 0).map(fmt_ms),
            ts(b, 2, 0).map(fmt_ms),
        ),
        _ => (0, None, None),
    };
    let per_log = per_log
        .map(|b| {
            let ids = b.column(0).as_string::<i32>();
            let names = b.column(1).as_string::<i32>();
            (0..b.num_rows())
                .map(|i| LogCount {
                    log_id: ids.value(i).to_string(),
                    log_name: names.is_valid(i).then(|| names.value(i).to_string()),
                    events: int(&b, 2, i),
                })
                .collect()
        })
        .unwrap_or_default();
    let per_bucket = per_bucket
        .map(|b| {
            (0..b.num_rows())
                .filter_map(|i| {
                    let start_ms = ts(&b, 0, i)?;
                    Some(BucketCount {
                        start: fmt_ms(start_ms),
                        start_ms,
                        events: int(&b, 1, i),
                    })
                })
                .collect()
        })
        .unwrap_or_default();

    let ids: Vec<String> = if logs.is_empty() {
        rapid7.cache().list_logs().await?
    } else {
        logs.iter().map(|l| l.id.clone()).collect()
    };
    let mut segments = Vec::new();
    for id in ids {
        for seg in rapid7.cache().list_segments(&id).await? {
            if seg.range().overlaps(&window) {
                segments.push(SegmentSummary {
                    log_id: id.clone(),
                    from: fmt_ms(seg.range().start()),
                    to: fmt_ms(seg.range().end()),
                    rows: seg.row_count(),
                    bytes: seg.size_bytes(),
                    parts: seg.manifest().parts.len(),
                });
            }
        }
    }

    Ok(Summary {
        from: fmt_ms(window.start()),
        to: fmt_ms(window.end()),
        row_count,
        columns,
        min_timestamp: min_ts,
        max_timestamp: max_ts,
        per_log,
        bucket_seconds: bucket.as_secs(),
        per_bucket,
        segments,
    })
}

fn sort(name: &str) -> SortExpr {
    col(name).sort(true, false)
}

/// All result rows in one batch (`None` for no rows).
async fn collect(df: DataFrame) -> Result<Option<RecordBatch>> {
    let schema = std::sync::Arc::clone(df.schema().inner());
    let batches = df.collect().await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(None);
    }
    Ok(Some(datafusion::arrow::compute::concat_batches(
        &schema, &batches,
    )?))
}

fn int(batch: &RecordBatch, column: usize, row: usize) -> u64 {
    let values = batch.column(column);
    match values.as_primitive_opt::<Int64Type>() {
        Some(a) if a.is_valid(row) => a.value(row).max(0) as u64,
        _ => 0,
    }
}

fn ts(batch: &RecordBatch, column: usize, row: usize) -> Option<i64> {
    let a = batch
        .column(column)
        .as_primitive_opt::<TimestampMillisecondType>()?;
    a.is_valid(row).then(|| a.value(row))
}
