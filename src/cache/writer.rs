//! The streaming segment writer.
//!
//! Batches are buffered until `flush_rows` or `flush_bytes` is reached; each
//! flush sorts the buffered rows by `(timestamp, sequence_number)`, writes
//! them as a new Parquet part and clears the buffer, so memory stays bounded
//! by the thresholds plus one batch whatever the window. [`SegmentWriter::commit`]
//! writes the manifest last with a create-only put: the segment exists from
//! that moment, and a second writer of the same range sees
//! [`CommitOutcome::AlreadyCommitted`] and removes its own parts.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::TimestampMillisecondType;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::config::WriterSettings;
use super::encode::{check_schema, encode_part, millis};
use super::error::Error as CacheError;
use super::layout::{manifest_path, part_name, segment_dir, validate_component};
use super::manifest::{MANIFEST_FORMAT, PartManifest, SegmentManifest};
use super::segment::SegmentInfo;
use super::store::CacheRoot;
use crate::error::{Error, Result};
use crate::events::SCHEMA_VERSION;
use crate::time::{TimeRange, now_ms};

/// What [`SegmentWriter::commit`] did.
#[derive(Debug, Clone)]
pub enum CommitOutcome {
    /// This writer's manifest is the segment's commit marker.
    Committed(SegmentInfo),
    /// Another writer committed the same range first; this writer's parts were
    /// removed and the cache holds the other writer's (equivalent) segment.
    AlreadyCommitted,
    /// Bypass mode: nothing was written.
    Bypassed,
}

/// Flush thresholds and Parquet settings of a writer.
#[derive(Debug)]
struct Target {
    root: CacheRoot,
    dir: Path,
    location: String,
    dir_ready: bool,
    /// Whether parts are put create-only; turned off for a store without
    /// conditional put (the manifest alone needs it, see `commit_inner`).
    parts_create_only: bool,
}

/// Writes one segment: the complete event set of one log for one range.
///
/// Push batches of the event schema, then [`commit`](Self::commit) or
/// [`abort`](Self::abort). A writer dropped without either leaves its parts
/// as invisible leftovers that `gc` removes.
#[derive(Debug)]
pub struct SegmentWriter {
    target: Option<Target>,
    log_id: String,
    filter: Option<String>,
    range: TimeRange,
    writer_id: String,
    settings: WriterSettings,
    buffer: Vec<RecordBatch>,
    buffered_rows: usize,
    buffered_bytes: usize,
    peak_buffered_bytes: usize,
    parts: Vec<PartManifest>,
    rows_written: u64,
    rows_out_of_range: u64,
    events_rejected: u64,
    beyond_retention: bool,
    failed: bool,
    finished: bool,
}

impl SegmentWriter {
    /// A writer into `root`, or a discarding one (bypass) when `root` is `None`.
    pub(crate) fn new(
        root: Option<&CacheRoot>,
        log_id: &str,
        filter: Option<&str>,
        range: TimeRange,
        settings: WriterSettings,
    ) -> Result<Self> {
        validate_component(log_id)?;
        let target = match root {
            Some(root) => {
                let dir = segment_dir(root.prefix(), log_id, filter, range)?;
                Some(Target {
                    location: root.display_path(&dir),
                    root: root.clone(),
                    dir,
                    dir_ready: false,
                    parts_create_only: true,
                })
            }
            None => None,
        };
        Ok(SegmentWriter {
            target,
            log_id: log_id.to_string(),
            filter: filter.map(str::to_string),
            range,
            writer_id: format!("{:08x}", fastrand::u32(..)),
            settings,
            buffer: Vec::new(),
            buffered_rows: 0,
            buffered_bytes: 0,
            peak_buffered_bytes: 0,
            parts: Vec::new(),
            rows_written: 0,
            rows_out_of_range: 0,
            events_rejected: 0,
            beyond_retention: false,
            failed: false,
            finished: false,
        })
    }

    /// The log this segment belongs to.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The range this segment will cover.
    pub fn range(&self) -> TimeRange {
        self.range
    }

    /// The random token in this writer's part names.
    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }

    /// Largest number of bytes (Arrow memory size) ever held in the buffer.
    pub fn peak_buffered_bytes(&self) -> usize {
        self.peak_buffered_bytes
    }

    /// Rows written to parts so far (flushed rows only).
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Rows dropped because their timestamp lies outside the segment range.
    pub fn rows_out_of_range(&self) -> u64 {
        self.rows_out_of_range
    }

    /// Parts written so far.
    pub fn parts_written(&self) -> usize {
        self.parts.len()
    }

    /// Record `events` of this range that the source returned but that could
    /// not be decoded; the manifest keeps the sum
    /// ([`SegmentManifest::events_rejected`]), so the segment never passes
    /// for complete.
    pub fn record_rejected(&mut self, events: u64) {
        self.events_rejected = self.events_rejected.saturating_add(events);
    }

    /// Record that the source said this range reaches past the log's
    /// retention ([`SegmentManifest::beyond_retention`]).
    pub fn record_beyond_retention(&mut self) {
        self.beyond_retention = true;
    }

    /// Add a batch of the event schema. Rows outside the segment range are
    /// dropped (they belong to a neighbouring range). Flushes when a
    /// threshold is reached.
    pub async fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let result = self.push_inner(batch).await;
        self.observe(result)
    }

    async fn push_inner(&mut self, batch: RecordBatch) -> Result<()> {
        self.check_usable()?;
        check_schema(batch.schema().as_ref())?;
        let batch = self.clamp_to_range(batch)?;
        if batch.num_rows() == 0 || self.target.is_none() {
            return Ok(());
        }
        self.buffered_rows += batch.num_rows();
        self.buffered_bytes += batch.get_array_memory_size();
        self.peak_buffered_bytes = self.peak_buffered_bytes.max(self.buffered_bytes);
        self.buffer.push(batch);
        if self.buffered_rows >= self.settings.flush_rows
            || self.buffered_bytes >= self.settings.flush_bytes
        {
            self.flush_inner().await?;
        }
        Ok(())
    }

    /// Write the buffered rows as a new part now.
    pub async fn flush(&mut self) -> Result<()> {
        let result = match self.check_usable() {
            Ok(()) => self.flush_inner().await,
            Err(e) => Err(e),
        };
        self.observe(result)
    }

    /// Flush, then write the manifest (create-only). Returns
    /// [`CommitOutcome::AlreadyCommitted`], not an error, when another writer
    /// committed the same range first.
    pub async fn commit(mut self) -> Result<CommitOutcome> {
        let result = self.commit_inner().await;
        if result.is_err() {
            self.delete_parts().await;
        }
        self.finished = true;
        self.observe(result)
    }

    /// Delete this writer's parts; nothing becomes visible.
    pub async fn abort(mut self) -> Result<()> {
        self.buffer.clear();
        self.finished = true;
        self.delete_parts().await;
        Ok(())
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(CacheError::Unavailable {
                location: self.location().to_string(),
                message: "an earlier write to this segment failed; abort the writer".into(),
                source: None,
            }
            .into());
        }
        Ok(())
    }

    /// The segment's directory in the store (`(bypass)` when the cache is
    /// bypassed).
    pub fn location(&self) -> &str {
        self.target
            .as_ref()
            .map_or("(bypass)", |t| t.location.as_str())
    }

    fn observe<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.failed = true;
            tracing::error!(
                log_id = %self.log_id,
                segment = %self.location(),
                error = %e,
                "cache_write_failed"
            );
        }
        result
    }

    fn clamp_to_range(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
        let range = self.range;
        let inside = ts.null_count() == 0 && ts.values().iter().all(|&t| range.contains(t));
        if inside {
            return Ok(batch);
        }
        let mask: BooleanArray = ts
            .iter()
            .map(|t| Some(t.is_some_and(|t| range.contains(t))))
            .collect();
        let kept = filter_record_batch(&batch, &mask)?;
        let dropped = (batch.num_rows() - kept.num_rows()) as u64;
        self.rows_out_of_range += dropped;
        tracing::warn!(
            log_id = %self.log_id,
            segment = %self.location(),
            rows = dropped,
            "cache_rows_out_of_range"
        );
        Ok(kept)
    }

    async fn flush_inner(&mut self) -> Result<()> {
        let Some(target) = self.target.as_mut() else {
            self.buffer.clear();
            return Ok(());
        };
        if self.buffer.is_empty() {
            return Ok(());
        }
        let rows_buffered = self.buffered_rows;
        let bytes_buffered = self.buffered_bytes;
        let batches = std::mem::take(&mut self.buffer);
        self.buffered_rows = 0;
        self.buffered_bytes = 0;
        let part_index = self.parts.len();
        let name = part_name(&self.writer_id, part_index as u32);
        let path = target.dir.clone().join(name.as_str());
        tracing::info!(
            log_id = %self.log_id,
            segment = %target.location,
            segment_dir = %target.location,
            part = %name,
            part_index,
            rows_buffered,
            bytes_buffered,
            "flush_start"
        );
        let started = Instant::now();
        let props = Arc::clone(&self.settings.props);
        let part_path = path.clone();
        let encoded = tokio::task::spawn_blocking(move || encode_part(batches, props, &part_path))
            .await
            .map_err(|e| match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Error::Cancelled,
            })??;
        if !target.dir_ready {
            target.root.prepare_dir(&target.dir)?;
            target.dir_ready = true;
        }
        let put_started = Instant::now();
        let size_bytes = encoded.bytes.len() as u64;
        let write_mode = put_part(target, &path, PutPayload::from(encoded.bytes))
            .await
            .map_err(|source| CacheError::ObjectStore {
                path: target.root.display_path(&path),
                source,
            })?;
        target.root.restrict_file(&path)?;
        tracing::info!(
            log_id = %self.log_id,
            segment_dir = %target.location,
            part = %name,
            part_index,
            rows = encoded.rows,
            part_bytes = size_bytes,
            write_mode,
            "parquet_part_write_success"
        );
        let parquet_write_ms = encoded.encode_ms + millis(put_started);
        self.rows_written += encoded.rows;
        self.parts.push(PartManifest {
            name: name.clone(),
            size_bytes,
            rows: encoded.rows,
            min_timestamp_ms: encoded.min_ts,
            max_timestamp_ms: encoded.max_ts,
        });
        tracing::info!(
            log_id = %self.log_id,
            segment = %target.location,
            segment_dir = %target.location,
            part = %name,
            part_index,
            rows_buffered,
            bytes_buffered,
            part_bytes = size_bytes,
            dataframe_build_ms = encoded.build_ms,
            parquet_write_ms,
            flush_total_ms = millis(started),
            "flush_complete"
        );
        Ok(())
    }

    async fn commit_inner(&mut self) -> Result<CommitOutcome> {
        self.check_usable()?;
        self.flush_inner().await?;
        let Some(target) = self.target.as_mut() else {
            return Ok(CommitOutcome::Bypassed);
        };
        let store = Arc::clone(target.root.store());
        // A part lost since it was written (a too-eager gc) must not be
        // committed as a segment that looks complete.
        for part in &self.parts {
            let path = target.dir.clone().join(part.name.as_str());
            let meta = store
                .head(&path)
                .await
                .map_err(|source| CacheError::ObjectStore {
                    path: target.root.display_path(&path),
                    source,
                })?;
            if meta.size != part.size_bytes {
                return Err(CacheError::CorruptSegment {
                    segment: target.location.clone(),
                    message: format!("part {} changed while the segment was written", part.name),
                }
                .into());
            }
        }
        let manifest = SegmentManifest {
            format: MANIFEST_FORMAT,
            log_id: self.log_id.clone(),
            range: self.range,
            row_count: self.rows_written,
            parts: self.parts.clone(),
            schema_version: SCHEMA_VERSION,
            writer_version: concat!("datafusion-rapid7/", env!("CARGO_PKG_VERSION")).to_string(),
            writer_id: self.writer_id.clone(),
            created_at_ms: now_ms(),
            events_rejected: self.events_rejected,
            beyond_retention: self.beyond_retention,
            filter: self.filter.clone(),
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| CacheError::Unavailable {
            location: target.location.clone(),
            message: format!("cannot encode the manifest: {e}"),
            source: None,
        })?;
        if !target.dir_ready {
            target.root.prepare_dir(&target.dir)?;
            target.dir_ready = true;
        }
        let path = manifest_path(&target.dir);
        let payload = PutPayload::from(Bytes::from(json));
        let put = store
            .put_opts(&path, payload.clone(), PutOptions::from(PutMode::Create))
            .await;
        let put = match put {
            Err(object_store::Error::NotImplemented { .. }) => {
                // A store without conditional put: check, then write. Two
                // writers can then both "win", but each manifest lists only its
                // own parts, so the segment stays consistent either way.
                match store.head(&path).await {
                    Ok(_) => Err(object_store::Error::AlreadyExists {
                        path: path.to_string(),
                        source: "manifest exists".into(),
                    }),
                    Err(object_store::Error::NotFound { .. }) => store.put(&path, payload).await,
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        match put {
            Ok(_) => {
                target.root.restrict_file(&path)?;
                tracing::info!(
                    log_id = %self.log_id,
                    segment = %target.location,
                    rows = manifest.row_count,
                    parts = manifest.parts.len(),
                    bytes = manifest.size_bytes(),
                    events_rejected = manifest.events_rejected,
                    beyond_retention = manifest.beyond_retention,
                    "segment_committed"
                );
                // The plans' name for the same moment.
                tracing::info!(
                    log_id = %self.log_id,
                    segment_dir = %target.location,
                    rows = manifest.row_count,
                    parts = manifest.parts.len(),
                    bytes = manifest.size_bytes(),
                    "cache_write"
                );
                Ok(CommitOutcome::Committed(SegmentInfo::new(
                    &target.location,
                    target.dir.clone(),
                    manifest,
                )))
            }
            Err(object_store::Error::AlreadyExists { .. }) => {
                tracing::info!(
                    log_id = %self.log_id,
                    segment = %target.location,
                    "segment_already_committed"
                );
                self.delete_parts().await;
                Ok(CommitOutcome::AlreadyCommitted)
            }
            Err(source) => Err(CacheError::ObjectStore {
                path: target.root.display_path(&path),
                source,
            }
            .into()),
        }
    }

    /// Best effort: leftovers that stay behind are removed by `gc`.
    async fn delete_parts(&mut self) {
        let Some(target) = self.target.as_ref() else {
            return;
        };
        for part in self.parts.drain(..) {
            let path = target.dir.clone().join(part.name.as_str());
            match target.root.store().delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(
                    segment = %target.location,
                    part = %part.name,
                    error = %e,
                    "cache_part_delete_failed"
                ),
            }
        }
    }
}

/// Put a part create-only where the store can, else plainly. Part names
/// carry the writer's random token, so no other writer puts the same name;
/// create-only only guards that. The manifest is the commit marker and
/// keeps its own create-only protocol. Returns the mode used, for
/// `parquet_part_write_success`.
async fn put_part(
    target: &mut Target,
    path: &Path,
    payload: PutPayload,
) -> object_store::Result<&'static str> {
    let store = target.root.store();
    if target.parts_create_only {
        match store
            .put_opts(path, payload.clone(), PutOptions::from(PutMode::Create))
            .await
        {
            Err(object_store::Error::NotImplemented { .. }) => {
                tracing::debug!(
                    segment = %target.location,
                    "cache_put_unconditional"
                );
                target.parts_create_only = false;
            }
            other => return other.map(|_| WRITE_CREATE),
        }
    }
    store.put(path, payload).await.map(|_| WRITE_UNCONDITIONAL)
}

/// `parquet_part_write_success`'s `write_mode`: a conditional put that
/// fails when the part exists...
const WRITE_CREATE: &str = "create";
/// ...or a plain put, on a store without conditional put.
const WRITE_UNCONDITIONAL: &str = "unconditional";

impl Drop for SegmentWriter {
    fn drop(&mut self) {
        if !self.finished && !self.parts.is_empty() {
            tracing::warn!(
                log_id = %self.log_id,
                segment = %self.location(),
                parts = self.parts.len(),
                "segment_writer_dropped"
            );
        }
    }
}
