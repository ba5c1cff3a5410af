//! The segment cache on `object_store` (design §3.2).
//!
//! A segment is the complete event set of one log for one half-open range,
//! stored as Parquet parts plus a manifest written last:
//!
//! ```text
//! {prefix}/logs/{log_id}/from={start_ms}/to={end_ms}/part-{writer}-{NNNNN}.parquet
//! {prefix}/logs/{log_id}/from={start_ms}/to={end_ms}/_SEGMENT.json
//! ```
//!
//! A segment exists once its manifest exists (create-only put, so it works on
//! S3 and two writers cannot both commit a range). Parts without a manifest are
//! leftovers of an interrupted write: reads never see them and
//! [`SegmentCache::gc`] removes them. Overlapping segments never double count:
//! [`SegmentCache::plan_read`] gives each segment the sub-range it alone serves.
//!
//! ```no_run
//! # async fn demo(batches: Vec<datafusion::arrow::array::RecordBatch>) -> datafusion_rapid7::Result<()> {
//! use datafusion_rapid7::cache::{CacheConfig, SegmentCache, TimeRange};
//!
//! let cache = SegmentCache::open("/var/cache/rapid7", CacheConfig::default())?;
//! let hour = TimeRange::new(1_770_681_600_000, 1_770_685_200_000)?;
//! let plan = cache.plan_read("log-id", hour).await?;
//! for missing in &plan.coverage.missing {
//!     let mut writer = cache.writer("log-id", *missing)?;
//!     for batch in &batches {
//!         writer.push(batch.clone()).await?;
//!     }
//!     writer.commit().await?;
//! }
//! # Ok(()) }
//! ```
//!
//! This module does not know the Rapid7 client: whoever fetches events pushes
//! them into a [`SegmentWriter`].

mod encode;
mod index;
mod layout;
mod local_list;
mod maintenance;
mod manifest;
mod names;
mod part_reader;
mod range;
mod reader;
mod store;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use futures::stream::BoxStream;

pub use index::{PartInfo, SegmentInfo};
pub use layout::{LOGS_DIR, MANIFEST_FILE, validate_component};
pub use maintenance::{
    CompactOptions, CompactReport, DropReport, GcReport, VerifyFailure, VerifyReport,
};
pub use manifest::{MANIFEST_FORMAT, PartManifest, SegmentManifest};
pub use names::LOG_NAMES_FILE;
pub use range::{
    Coverage, CoverageKind, TimeRange, assign_responsibility, merge_ranges, plan_coverage,
};
pub use reader::{PlannedSegment, ReadPlan};
pub use store::CacheRoot;
pub use writer::{CommitOutcome, SegmentWriter};

use crate::error::{Error, Result};
use writer::WriterSettings;

/// Compression codec of Parquet parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartCompression {
    /// zstd at the given level (clamped to 1–22). Best ratio for log text.
    Zstd(i32),
    /// Snappy: faster, larger.
    Snappy,
    /// No compression.
    Uncompressed,
}

/// Cache settings. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Flush a part once this many rows are buffered. Default 131 072.
    pub flush_rows: usize,
    /// Flush a part once the buffered Arrow data reaches this many bytes.
    /// Default 64 MiB. Buffer memory stays below this plus one batch.
    pub flush_bytes: usize,
    /// Part compression. Default `Zstd(3)`.
    pub compression: PartCompression,
    /// Maximum rows per Parquet row group. Default 65 536: modest groups
    /// keep time pruning effective.
    pub row_group_rows: usize,
    /// `gc` removes parts without a manifest only when their writer has
    /// written nothing for this long, so it never deletes the parts of a
    /// write still in progress. Default 1 hour.
    pub gc_grace: Duration,
    /// Check every part of a planned segment (exists, size, Parquet footer,
    /// row count) while planning a read, so a corrupt segment fails loudly and
    /// by name before any query work. Default `true`.
    pub verify_on_read: bool,
    /// Concurrent object store requests for listing and checks. Default 16.
    pub io_concurrency: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            flush_rows: 131_072,
            flush_bytes: 64 * 1024 * 1024,
            compression: PartCompression::Zstd(3),
            row_group_rows: 65_536,
            gc_grace: Duration::from_secs(3600),
            verify_on_read: true,
            io_concurrency: 16,
        }
    }
}

/// Whether parts carry bloom filters. They do not: every query is a time
/// range, which page statistics prune, and a filter per column chunk would
/// only grow parts. Scans of parts read this too, to skip looking for them.
pub(crate) const PARTS_HAVE_BLOOM_FILTERS: bool = false;

impl CacheConfig {
    fn writer_settings(&self) -> WriterSettings {
        let compression = match self.compression {
            PartCompression::Zstd(level) => {
                Compression::ZSTD(ZstdLevel::try_new(level.clamp(1, 22)).unwrap_or_default())
            }
            PartCompression::Snappy => Compression::SNAPPY,
            PartCompression::Uncompressed => Compression::UNCOMPRESSED,
        };
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(self.row_group_rows.max(1)))
            .set_sorting_columns(Some(vec![sorted_ascending(0), sorted_ascending(3)]))
            // Timestamps and sequence numbers are nearly all distinct, and at
            // 8 bytes a value their dictionary never outgrows its page limit,
            // so the encoder would hash every value of every row group for
            // nothing. (Messages keep theirs: repeated lines shrink a lot, and
            // distinct ones fall back to plain after the first megabyte.)
            // Min/max of whole messages prunes nothing (a `LIKE` cannot use
            // them) and costs a long comparison per row.
            .set_column_dictionary_enabled(ColumnPath::from("timestamp"), false)
            .set_column_dictionary_enabled(ColumnPath::from("sequence_number"), false)
            .set_column_statistics_enabled(ColumnPath::from("message"), EnabledStatistics::None)
            .set_bloom_filter_enabled(PARTS_HAVE_BLOOM_FILTERS)
            .set_created_by(concat!("datafusion-rapid7 ", env!("CARGO_PKG_VERSION")).into())
            .build();
        WriterSettings {
            flush_rows: self.flush_rows.max(1),
            flush_bytes: self.flush_bytes.max(1),
            props: Arc::new(props),
        }
    }
}

/// Leaf column `idx` sorted ascending (timestamp is leaf 0, sequence_number 3).
fn sorted_ascending(idx: i32) -> SortingColumn {
    SortingColumn {
        column_idx: idx,
        descending: false,
        nulls_first: false,
    }
}

/// The segment cache: planning, writing, reading and maintenance over one
/// [`CacheRoot`], or a bypass that reads and writes nothing.
#[derive(Debug, Clone)]
pub struct SegmentCache {
    root: Option<CacheRoot>,
    config: CacheConfig,
    settings: WriterSettings,
}

impl SegmentCache {
    /// A cache over `root`.
    pub fn new(root: CacheRoot, config: CacheConfig) -> Self {
        SegmentCache {
            settings: config.writer_settings(),
            root: Some(root),
            config,
        }
    }

    /// Open a directory or URL as a cache (see [`CacheRoot::open`]).
    pub fn open(location: &str, config: CacheConfig) -> Result<Self> {
        Ok(Self::new(CacheRoot::open(location)?, config))
    }

    /// Bypass mode: every read plans a full miss, writers discard their
    /// rows, nothing is read or written.
    pub fn bypass() -> Self {
        let config = CacheConfig::default();
        SegmentCache {
            settings: config.writer_settings(),
            root: None,
            config,
        }
    }

    /// Whether this cache is in bypass mode.
    pub fn is_bypass(&self) -> bool {
        self.root.is_none()
    }

    /// The root, unless in bypass mode.
    pub fn root(&self) -> Option<&CacheRoot> {
        self.root.as_ref()
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    fn require_root(&self) -> Result<&CacheRoot> {
        self.root.as_ref().ok_or_else(|| Error::CacheUnavailable {
            location: "(bypass)".into(),
            message: "the cache is bypassed; maintenance needs a cache root".into(),
            source: None,
        })
    }

    /// Log ids that have data in the cache (empty in bypass mode).
    pub async fn list_logs(&self) -> Result<Vec<String>> {
        match &self.root {
            Some(root) => index::list_logs(root).await,
            None => Ok(Vec::new()),
        }
    }

    /// The committed segments of a log with their stats, sorted by range,
    /// from manifests only. A corrupt manifest is an error naming it.
    pub async fn list_segments(&self, log_id: &str) -> Result<Vec<SegmentInfo>> {
        validate_component(log_id)?;
        let Some(root) = &self.root else {
            return Ok(Vec::new());
        };
        index::scan_log(root, log_id, self.config.io_concurrency)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    /// The log names recorded in the cache (id → name; empty in bypass mode).
    pub async fn load_log_names(&self) -> Result<std::collections::BTreeMap<String, String>> {
        match &self.root {
            Some(root) => names::load(root).await,
            None => Ok(Default::default()),
        }
    }

    /// Record log names (id → name) in the cache, merged with those already
    /// there, so offline readers can select logs by name. No-op when bypassed.
    pub async fn save_log_names(
        &self,
        names: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        match &self.root {
            Some(root) => names::save(root, names).await,
            None => Ok(()),
        }
    }

    /// Plan a read of `request` for one log: the segments that serve it, each
    /// with the sub-range it is responsible for, and the ranges to fetch.
    pub async fn plan_read(&self, log_id: &str, request: TimeRange) -> Result<ReadPlan> {
        validate_component(log_id)?;
        match &self.root {
            Some(root) => {
                reader::plan_read(
                    root,
                    log_id,
                    request,
                    self.config.verify_on_read,
                    self.config.io_concurrency,
                )
                .await
            }
            None => Ok(ReadPlan::miss(log_id, request)),
        }
    }

    /// A writer for the segment `[range)` of `log_id`.
    pub fn writer(&self, log_id: &str, range: TimeRange) -> Result<SegmentWriter> {
        SegmentWriter::new(self.root.as_ref(), log_id, range, self.settings.clone())
    }

    /// Stream the rows a planned segment is responsible for (for consumers
    /// that do not go through DataFusion, and for tests).
    pub fn read(&self, planned: &PlannedSegment) -> BoxStream<'static, Result<RecordBatch>> {
        match &self.root {
            Some(root) => reader::read_segment(root, &planned.segment, planned.responsible),
            None => Box::pin(futures::stream::empty()),
        }
    }

    /// Decode every part of every segment (of one log, or all) and check it
    /// against its manifest. Corrupt segments are reported, not raised.
    pub async fn verify(&self, log_id: Option<&str>) -> Result<VerifyReport> {
        if let Some(id) = log_id {
            validate_component(id)?;
        }
        maintenance::verify(self.require_root()?, log_id, self.config.io_concurrency).await
    }

    /// Remove every segment and leftover of a log.
    pub async fn drop_log(&self, log_id: &str) -> Result<DropReport> {
        maintenance::drop_log(self.require_root()?, log_id, self.config.io_concurrency).await
    }

    /// Remove the segments of a log that overlap `range` (whole segments;
    /// corrupt ones included). They are fetched again when next needed.
    pub async fn drop_range(&self, log_id: &str, range: TimeRange) -> Result<DropReport> {
        maintenance::drop_range(
            self.require_root()?,
            log_id,
            range,
            self.config.io_concurrency,
        )
        .await
    }

    /// Remove leftover parts (not listed by any manifest) whose writer has
    /// been idle for [`CacheConfig::gc_grace`].
    pub async fn gc(&self) -> Result<GcReport> {
        self.gc_with_grace(self.config.gc_grace).await
    }

    /// [`SegmentCache::gc`] with an explicit grace period.
    pub async fn gc_with_grace(&self, grace: Duration) -> Result<GcReport> {
        maintenance::gc(self.require_root()?, grace, self.config.io_concurrency).await
    }

    /// Merge runs of small adjacent segments of a log into one segment each,
    /// and remove segments fully shadowed by another. Readers see the same
    /// rows before, during and after.
    pub async fn compact(&self, log_id: &str, options: CompactOptions) -> Result<CompactReport> {
        validate_component(log_id)?;
        maintenance::compact(
            self.require_root()?,
            log_id,
            options,
            &self.settings,
            self.config.io_concurrency,
        )
        .await
    }
}

#[cfg(test)]
mod tests;
