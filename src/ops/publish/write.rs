//! Publishing one log of the cache into its Delta table.
//!
//! A run plans from the cache's read plan and the table's record
//! ([`super::plan`]), streams the rows of each unpublished piece into Delta
//! data files, and commits them with the new record, every `commit_rows` rows
//! and at the end. A commit is a create-only put of the next log version with
//! deltalake's own retries turned off: if any other commit landed since the
//! version read, this one fails, the table and its record are read again,
//! and the pieces are either committed on the new version (nobody published
//! them meanwhile) or dropped and planned again (somebody did). Data files of
//! a commit that never landed are deleted; those of a process killed before
//! its commit are left for `vacuum`, and no reader sees them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use futures::TryStreamExt;
use serde::Serialize;

use super::location::TableLocation;
use super::plan::{extend, overlaps_any, unpublished};
use super::record::{APP_ID, RECORD_KEY};
use super::schema::{DATE_COLUMN, to_table_batch};
use super::table::{OpenTable, is_conflict, open_or_create, reload, tokens_since};
use crate::cache::{PlannedSegment, SegmentCache};
use crate::client::{Backoff, BackoffConfig};
use crate::error::{Error, Result};
use crate::events::with_log_name;
use crate::time::{TimeRange, fmt_ms};

/// How a publish run goes.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Publish only this window; `None`: everything the cache holds.
    pub window: Option<TimeRange>,
    /// Nothing at or after this instant (epoch ms) is published: the
    /// unsettled recent edge (`now - settle`).
    pub settled_until: i64,
    /// Commit after about this many rows (and at the end), so a long
    /// backfill keeps what it has done if it is stopped.
    pub commit_rows: u64,
    /// Attempts at a commit that keeps meeting other writers' commits.
    pub max_attempts: u32,
    /// Roll a data file at about this many bytes.
    pub target_file_bytes: u64,
    /// The log's current name, written into every row's `log_name` (a log
    /// renamed at Rapid7 keeps its id, and rows published after the rename
    /// carry the new name); `None`: the name each row was cached with.
    /// [`Rapid7::publish`](crate::Rapid7::publish) sets it from the log list.
    pub log_name: Option<String>,
}

impl PublishOptions {
    /// Defaults for a window (or all, with `None`) settled until
    /// `settled_until`: a commit per 5,000,000 rows, 128 MiB files, 20
    /// attempts.
    pub fn new(window: Option<TimeRange>, settled_until: i64) -> Self {
        PublishOptions {
            window,
            settled_until,
            commit_rows: 5_000_000,
            max_attempts: 20,
            target_file_bytes: 128 << 20,
            log_name: None,
        }
    }

    /// These options, writing `name` as every row's `log_name`.
    pub fn with_log_name(mut self, name: Option<String>) -> Self {
        self.log_name = name;
        self
    }
}

/// What a publish run did to one table. Serialises to the JSON report of
/// `rapid7-sql publish`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishReport {
    /// The log.
    pub log_id: String,
    /// The table.
    pub table: String,
    /// The table's version after the run.
    pub version: i64,
    /// Commits this run made.
    pub commits: u64,
    /// Events this run added to the table.
    pub events_published: u64,
    /// Data files this run added.
    pub files_added: u64,
    /// The ranges this run published (RFC 3339, half-open).
    pub ranges_published: Vec<String>,
    /// The table's whole coverage after the run.
    pub coverage: Vec<String>,
    /// Commits that met another writer's commit and were tried again.
    pub conflicts: u64,
    /// Published ranges whose segment is known to lack events: the decoder
    /// rejected some of its events, or Rapid7 said it reaches past the
    /// log's retention (`events_rejected` / `beyond_retention` in
    /// `rapid7_cache()`). The table's coverage counts them as published, so
    /// a later publish does not fill them in: to have them whole, drop the
    /// log's cached segments, fetch again and publish into a new table.
    pub incomplete_ranges: Vec<String>,
    /// Wall time of the run.
    pub duration_seconds: f64,
}

/// The pieces of one pending commit and what they hold.
struct Pending {
    pieces: Vec<TimeRange>,
    rows: u64,
    /// What [`PublishReport::incomplete_ranges`] gains if they land.
    incomplete: Vec<String>,
}

impl Pending {
    fn clear(&mut self) {
        self.pieces.clear();
        self.rows = 0;
        self.incomplete.clear();
    }
}

/// Why `piece` of `segment` is known to lack events, if it is.
fn incomplete(segment: &crate::cache::SegmentInfo, piece: TimeRange) -> Option<String> {
    let range = segment.range();
    let why = match (segment.events_rejected(), segment.beyond_retention()) {
        (0, false) => return None,
        (0, true) => "reaches past the log's retention".to_string(),
        (n, false) => format!("{n} events rejected by the decoder"),
        (n, true) => {
            format!("{n} events rejected by the decoder, and reaches past the log's retention")
        }
    };
    Some(format!(
        "[{}, {}): its segment [{}, {}) {why}",
        fmt_ms(piece.start()),
        fmt_ms(piece.end()),
        fmt_ms(range.start()),
        fmt_ms(range.end())
    ))
}

/// Publish what `cache` holds of `log_id` and `table` lacks.
pub async fn publish_log(
    cache: &SegmentCache,
    log_id: &str,
    table: &TableLocation,
    options: &PublishOptions,
) -> Result<PublishReport> {
    let started = Instant::now();
    let mut open = open_or_create(table, log_id).await?;
    let mut report = PublishReport {
        log_id: log_id.to_string(),
        table: table.to_string(),
        version: open.version(),
        commits: 0,
        events_published: 0,
        files_added: 0,
        ranges_published: Vec::new(),
        coverage: Vec::new(),
        conflicts: 0,
        incomplete_ranges: Vec::new(),
        duration_seconds: 0.0,
    };
    let Some(window) = window(cache, log_id, options).await? else {
        report.coverage = describe(&open.record.ranges().unwrap_or_default());
        return Ok(report);
    };
    let mut attempts = 0;
    loop {
        match pass(cache, table, &mut open, window, options, &mut report).await? {
            Pass::Done => break,
            Pass::Replan => {
                attempts += 1;
                report.conflicts += 1;
                if attempts >= options.max_attempts {
                    return Err(Error::Publish {
                        table: table.to_string(),
                        message: format!(
                            "other writers kept committing first ({attempts} attempts); \
                             nothing of this run's last batch was committed: run it again"
                        ),
                        source: None,
                    });
                }
            }
        }
    }
    report.version = open.version();
    report.coverage = describe(&open.record.ranges().unwrap_or_default());
    report.duration_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        table = %table,
        log_id,
        version = report.version,
        commits = report.commits,
        events = report.events_published,
        files = report.files_added,
        conflicts = report.conflicts,
        "publish_complete"
    );
    Ok(report)
}

/// The window of a run: the options' (or the span of the log's segments),
/// cut at the settled edge. `None`: nothing to publish.
async fn window(
    cache: &SegmentCache,
    log_id: &str,
    options: &PublishOptions,
) -> Result<Option<TimeRange>> {
    let window = match options.window {
        Some(w) => w,
        None => {
            let segments = cache.list_segments(log_id).await?;
            let start = segments.iter().map(|s| s.range().start()).min();
            let end = segments.iter().map(|s| s.range().end()).max();
            match (start, end) {
                (Some(s), Some(e)) => TimeRange::ordered(s, e),
                _ => return Ok(None),
            }
        }
    };
    Ok(super::plan::publishable(window, options.settled_until))
}

enum Pass {
    Done,
    /// Another writer published some of the pieces meanwhile: plan again.
    Replan,
}

/// Plan against the record of `open` and publish, committing as it goes.
///
/// Each piece is cut against the coverage as it is just before its rows are
/// read: a commit of this pass that met another writer's reloads the record,
/// and what that writer published meanwhile is not published again.
async fn pass(
    cache: &SegmentCache,
    table: &TableLocation,
    open: &mut OpenTable,
    window: TimeRange,
    options: &PublishOptions,
    report: &mut PublishReport,
) -> Result<Pass> {
    let plan = cache.plan_read(&open.record.log_id, window).await?;
    let mut writer = new_writer(table, open, options)?;
    let mut pending = Pending {
        pieces: Vec::new(),
        rows: 0,
        incomplete: Vec::new(),
    };
    for planned in &plan.segments {
        let mut todo: VecDeque<TimeRange> = VecDeque::from([planned.responsible]);
        while let Some(next) = todo.pop_front() {
            let mut pieces = unpublished(next, &coverage_of(open)).into_iter();
            let Some(piece) = pieces.next() else {
                continue;
            };
            for rest in pieces.rev() {
                todo.push_front(rest);
            }
            let part = PlannedSegment {
                segment: planned.segment.clone(),
                responsible: piece,
            };
            let mut batches = cache.read(&part);
            while let Some(batch) = batches.try_next().await? {
                if batch.num_rows() == 0 {
                    continue;
                }
                let batch = match &options.log_name {
                    Some(name) => with_log_name(batch, Some(name.as_str()))?,
                    None => batch,
                };
                let batch = to_table_batch(&batch, &table.to_string())?;
                pending.rows += batch.num_rows() as u64;
                writer
                    .write(batch)
                    .await
                    .map_err(|e| table.delta_error("cannot write a data file", e))?;
            }
            pending.pieces.push(piece);
            pending
                .incomplete
                .extend(incomplete(&planned.segment, piece));
            if pending.rows >= options.commit_rows {
                if !commit(table, open, &mut writer, &mut pending, options, report).await? {
                    return Ok(Pass::Replan);
                }
                writer = new_writer(table, open, options)?;
            }
        }
    }
    if !pending.pieces.is_empty()
        && !commit(table, open, &mut writer, &mut pending, options, report).await?
    {
        return Ok(Pass::Replan);
    }
    Ok(Pass::Done)
}

/// The table's published coverage (checked valid when the record was read).
fn coverage_of(open: &OpenTable) -> Vec<TimeRange> {
    open.record.ranges().unwrap_or_default()
}

fn new_writer(
    table: &TableLocation,
    open: &OpenTable,
    options: &PublishOptions,
) -> Result<RecordBatchWriter> {
    use datafusion::parquet::basic::{Compression, ZstdLevel};
    use datafusion::parquet::file::properties::WriterProperties;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    Ok(RecordBatchWriter::for_table(&open.table)
        .map_err(|e| table.delta_error("cannot write to the table", e))?
        .with_writer_properties(properties)
        .with_target_file_size(options.target_file_bytes))
}

/// Flush the writer and commit its files with the pending pieces. `false`:
/// another writer published some of them first; nothing was committed.
///
/// Before every attempt the pieces are checked against the table's coverage
/// as last read; after a failed attempt the table is read again, and our
/// commit token among the newer commits means the commit was stored though
/// its answer was lost (a timeout, or a failure after the put).
/// The wait before a commit that lost a race is tried again: from 5 ms,
/// jittered so that racing writers spread out, at most half a second.
const CONFLICT_BACKOFF: BackoffConfig = BackoffConfig {
    init: Duration::from_millis(5),
    max: Duration::from_millis(500),
    base: 2.0,
};

async fn commit(
    table: &TableLocation,
    open: &mut OpenTable,
    writer: &mut RecordBatchWriter,
    pending: &mut Pending,
    options: &PublishOptions,
    report: &mut PublishReport,
) -> Result<bool> {
    let adds: Vec<Add> = writer
        .flush()
        .await
        .map_err(|e| table.delta_error("cannot finish a data file", e))?;
    let mut backoff = Backoff::new(CONFLICT_BACKOFF);
    let mut attempts = 0;
    loop {
        let coverage = coverage_of(open);
        if overlaps_any(&pending.pieces, &coverage) {
            tracing::info!(table = %table, "publish_conflict_replan");
            for add in &adds {
                table.delete(&add.path).await?;
            }
            pending.clear();
            return Ok(false);
        }
        attempts += 1;
        if attempts > options.max_attempts {
            return Err(Error::Publish {
                table: table.to_string(),
                message: format!(
                    "other writers kept committing first ({} attempts); nothing of this \
                     run's last batch was committed: run it again",
                    options.max_attempts
                ),
                source: None,
            });
        }
        let record = open.record.next(&extend(&coverage, &pending.pieces));
        let read_version = open.version();
        let properties = CommitProperties::default()
            .with_metadata([(RECORD_KEY.to_string(), record.to_json())])
            .with_application_transaction(Transaction::new(APP_ID, record.sequence))
            .with_max_retries(0);
        let snapshot = open
            .table
            .snapshot()
            .map_err(|e| table.delta_error("cannot read the table's state", e))?;
        let actions: Vec<Action> = adds.iter().cloned().map(Action::Add).collect();
        let result = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(
                Some(snapshot),
                open.table.log_store(),
                DeltaOperation::Write {
                    mode: SaveMode::Append,
                    partition_by: Some(vec![DATE_COLUMN.to_string()]),
                    predicate: None,
                },
            )
            .await;
        // Either way the table is read again: after a landed commit for its
        // new version and record, after a failed one to look for our token.
        let landed = match result {
            Ok(_) => {
                reload(table, open).await?;
                true
            }
            Err(e) => {
                let conflict = is_conflict(&e);
                let stored = match reload(table, open).await {
                    Ok(()) => tokens_since(table, &open.table, read_version)
                        .await
                        .map(|tokens| tokens.contains(&record.commit_token)),
                    Err(reading) => Err(reading),
                };
                match (stored, conflict) {
                    (Ok(true), _) => true,
                    (Ok(false), true) => false,
                    (Err(reading), true) => return Err(reading),
                    // Not stored, or not knowable: the files stay for
                    // `vacuum` (a late-landing put would reference them),
                    // and a rerun reads whatever the table then records.
                    (_, false) => return Err(table.delta_error("cannot commit", e)),
                }
            }
        };
        if landed {
            report.commits += 1;
            report.events_published += pending.rows;
            report.files_added += adds.len() as u64;
            report.ranges_published.extend(describe(&pending.pieces));
            tracing::info!(
                table = %table,
                version = open.version(),
                rows = pending.rows,
                files = adds.len(),
                "publish_committed"
            );
            for range in &pending.incomplete {
                tracing::warn!(table = %table, range = %range, "publish_incomplete_range");
            }
            report.incomplete_ranges.append(&mut pending.incomplete);
            pending.clear();
            return Ok(true);
        }
        // Another writer committed first: unless it published some of
        // these pieces (checked at the top), the same files go on the new
        // version.
        report.conflicts += 1;
        tracing::info!(table = %table, version = open.version(), "publish_conflict_retry");
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

fn describe(ranges: &[TimeRange]) -> Vec<String> {
    ranges
        .iter()
        .map(|r| format!("[{}, {})", fmt_ms(r.start()), fmt_ms(r.end())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::record::PublishRecord;
    use super::*;

    #[test]
    fn the_record_type_is_what_commits_carry() {
        // The record of a commit names the next sequence and the merged
        // coverage of the pieces: what `commit` relies on.
        let r = PublishRecord::empty("x").next(&extend(
            &[],
            &[TimeRange::new(5, 9).unwrap(), TimeRange::new(0, 5).unwrap()],
        ));
        assert_eq!((r.sequence, r.coverage.clone()), (1, vec![[0, 9]]));
    }
}
