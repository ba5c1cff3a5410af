//! Cache settings ([`CacheConfig`]) and the Parquet writer properties of
//! parts that follow from them.

use std::sync::Arc;
use std::time::Duration;

use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

/// Compression codec of Parquet parts (`RAPID7_COMPRESSION`: `zstd`,
/// `zstd:LEVEL`, `snappy`, `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartCompression {
    /// zstd at the given level (clamped to 1–22). Best ratio for log text.
    Zstd(i32),
    /// Snappy: faster, larger.
    Snappy,
    /// No compression.
    Uncompressed,
}

impl std::fmt::Display for PartCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartCompression::Zstd(level) => write!(f, "zstd:{level}"),
            PartCompression::Snappy => f.write_str("snappy"),
            PartCompression::Uncompressed => f.write_str("none"),
        }
    }
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
    /// write still in progress; and the parts of segments that compaction
    /// replaced only this long after, so a query that planned over them
    /// reads on (ADR 0005). Default 1 hour.
    pub gc_grace: Duration,
    /// Check every part of a planned segment (exists, size, Parquet footer,
    /// row count) while planning a read, so a corrupt segment fails loudly and
    /// by name before any query work. Default `true`.
    pub verify_on_read: bool,
    /// Concurrent object store requests for listing and checks. Default 16.
    pub io_concurrency: usize,
    /// Segments whose range ended longer ago than this are retired by
    /// `sync` after each run and by `rapid7-sql cache gc`
    /// ([`SegmentCache::expire`](super::SegmentCache::expire)); `None` keeps
    /// everything. Default `None`.
    pub retention: Option<Duration>,
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
            retention: None,
        }
    }
}

/// Whether parts carry bloom filters. They do not: every query is a time
/// range, which page statistics prune, and a filter per column chunk would
/// only grow parts. Scans of parts read this too, to skip looking for them.
pub(crate) const PARTS_HAVE_BLOOM_FILTERS: bool = false;

impl CacheConfig {
    pub(crate) fn writer_settings(&self) -> WriterSettings {
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

#[derive(Debug, Clone)]
/// What a segment writer needs of the settings.
pub(crate) struct WriterSettings {
    pub(crate) flush_rows: usize,
    pub(crate) flush_bytes: usize,
    pub(crate) props: Arc<WriterProperties>,
}
