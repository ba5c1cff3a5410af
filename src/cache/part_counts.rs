//! Counting the rows of one part per bin from its `timestamp` column alone
//! (count pushdown over cached ranges).
//!
//! A row group counts by its row count, without being read, when its
//! footer statistics of `timestamp` are present and exact (not truncated),
//! say it holds no null, and put its smallest and largest timestamp inside
//! the counted range and inside one bin; one they put wholly outside the
//! range counts nothing. Every other row group is read, the `timestamp`
//! column only, and its rows inside the range are counted.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::TimestampMillisecondType;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use datafusion::parquet::file::metadata::RowGroupMetaData;
use datafusion::parquet::file::statistics::Statistics;
use futures::TryStreamExt;

use super::part_reader::PartReader;
use super::segment::{PartInfo, SegmentInfo};
use super::store::CacheRoot;
use crate::error::Result;
use crate::events::columns::TIMESTAMP;
use crate::time::TimeRange;

/// Rows a decoded batch of timestamps holds (512 KiB): counting is a pass
/// over a slice, so larger batches only save per-batch work.
const BATCH_ROWS: usize = 64 * 1024;

/// The bin holding a timestamp, as `(key, start, end)`: its rows are
/// tallied under `key`, and the bin is every instant of `[start, end)`.
/// Bins are intervals: two timestamps in one bin have every timestamp
/// between them in it too.
pub type BinOf = Arc<dyn Fn(i64) -> (i64, i64, i64) + Send + Sync>;

/// Rows per bin key, and how they were counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartCounts {
    /// Rows per bin key (only keys with rows).
    pub bins: BTreeMap<i64, u64>,
    /// Row groups counted by their statistics alone (those outside the
    /// range included).
    pub groups_by_statistics: usize,
    /// Row groups whose `timestamp` column was read.
    pub groups_read: usize,
}

impl PartCounts {
    /// Add `other`'s counts to these.
    pub fn merge(&mut self, other: PartCounts) {
        for (k, n) in other.bins {
            *self.bins.entry(k).or_default() += n;
        }
        self.groups_by_statistics += other.groups_by_statistics;
        self.groups_read += other.groups_read;
    }
}

/// Count the rows of `part` of `seg` with timestamps in `range`, per bin of
/// `bin_of` (module docs). Parts that cannot be decoded give
/// [`CorruptSegment`](super::Error::CorruptSegment).
pub(crate) async fn count_part(
    root: &CacheRoot,
    seg: &SegmentInfo,
    part: &PartInfo,
    range: TimeRange,
    bin_of: &BinOf,
) -> Result<PartCounts> {
    let name = part.path.filename().unwrap_or_default().to_string();
    let corrupt =
        |e: &dyn std::fmt::Display| seg.corrupt(format!("part {name} cannot be read: {e}"));
    let reader = PartReader::new(Arc::clone(root.store()), part.path.clone(), part.size_bytes);
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| corrupt(&e))?;
    let Some(column) = builder
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.path().string() == TIMESTAMP)
    else {
        return Err(corrupt(&"it has no timestamp column").into());
    };
    let mut counts = PartCounts::default();
    let mut read = Vec::new();
    for (i, group) in builder.metadata().row_groups().iter().enumerate() {
        match by_statistics(group, column, range, bin_of) {
            Group::Outside => counts.groups_by_statistics += 1,
            Group::OneBin(key) => {
                counts.groups_by_statistics += 1;
                let rows = u64::try_from(group.num_rows()).unwrap_or(0);
                if rows > 0 {
                    *counts.bins.entry(key).or_default() += rows;
                }
            }
            Group::Read => read.push(i),
        }
    }
    if read.is_empty() {
        return Ok(counts);
    }
    counts.groups_read = read.len();
    let mask = ProjectionMask::leaves(builder.parquet_schema(), [column]);
    let mut batches = builder
        .with_projection(mask)
        .with_row_groups(read)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| corrupt(&e))?;
    let mut runs = Runs::new(range, bin_of);
    while let Some(batch) = batches.try_next().await.map_err(|e| corrupt(&e))? {
        let Some(ts) = batch
            .column(0)
            .as_primitive_opt::<TimestampMillisecondType>()
        else {
            return Err(corrupt(&"its timestamp column is not in milliseconds").into());
        };
        match ts.nulls().filter(|n| n.null_count() > 0) {
            None => runs.count(ts.values()),
            Some(nulls) => {
                for (t, valid) in ts.values().iter().zip(nulls.iter()) {
                    if valid {
                        runs.count(std::slice::from_ref(t));
                    }
                }
            }
        }
    }
    runs.finish(&mut counts.bins);
    Ok(counts)
}

/// Rows counted per bin, a run at a time: parts are sorted by timestamp, so
/// consecutive rows mostly share a bin, and a row is counted with two
/// comparisons against the current run's bounds (its bin cut to the counted
/// range); `bin_of` is asked only when a row leaves the run. Rows in any
/// order count the same, only more slowly.
pub(super) struct Runs<'a> {
    range: TimeRange,
    bin_of: &'a BinOf,
    /// Rows per key of the runs closed so far.
    bins: BTreeMap<i64, u64>,
    /// Key of the current run, if any.
    key: Option<i64>,
    /// The current run's instants `[lo, hi)`: its bin within `range`.
    lo: i64,
    hi: i64,
    rows: u64,
}

impl<'a> Runs<'a> {
    pub(super) fn new(range: TimeRange, bin_of: &'a BinOf) -> Self {
        Self {
            range,
            bin_of,
            bins: BTreeMap::new(),
            key: None,
            lo: 0,
            hi: 0,
            rows: 0,
        }
    }

    /// Count `values` (timestamps; those outside the range count nothing).
    pub(super) fn count(&mut self, values: &[i64]) {
        for &t in values {
            if self.lo <= t && t < self.hi {
                self.rows += 1;
            } else if self.range.contains(t) {
                self.close();
                let (key, start, end) = (self.bin_of)(t);
                self.key = Some(key);
                self.lo = start.max(self.range.start());
                self.hi = end.min(self.range.end());
                self.rows = 1;
            }
        }
    }

    /// Tally the current run, and start none.
    fn close(&mut self) {
        if let Some(key) = self.key.take() {
            *self.bins.entry(key).or_default() += self.rows;
        }
        (self.lo, self.hi, self.rows) = (0, 0, 0);
    }

    /// Add every run's rows to `bins`.
    pub(super) fn finish(mut self, bins: &mut BTreeMap<i64, u64>) {
        self.close();
        for (k, n) in self.bins {
            *bins.entry(k).or_default() += n;
        }
    }
}

/// What a row group's statistics say of it.
enum Group {
    /// No row in the counted range.
    Outside,
    /// Every row in the counted range and in the bin of this key.
    OneBin(i64),
    /// To be read: no exact statistics, or rows in several bins, or cut by
    /// the range.
    Read,
}

/// What the exact statistics of `group`'s `timestamp` say of it.
fn by_statistics(
    group: &RowGroupMetaData,
    column: usize,
    range: TimeRange,
    bin_of: &BinOf,
) -> Group {
    let Some(Statistics::Int64(stats)) = group.column(column).statistics() else {
        return Group::Read;
    };
    if !stats.min_is_exact() || !stats.max_is_exact() || stats.null_count_opt() != Some(0) {
        return Group::Read;
    }
    let (Some(&lo), Some(&hi)) = (stats.min_opt(), stats.max_opt()) else {
        return Group::Read;
    };
    if lo > hi {
        return Group::Read;
    }
    if hi < range.start() || range.end() <= lo {
        return Group::Outside;
    }
    if !range.contains(lo) || !range.contains(hi) {
        return Group::Read;
    }
    let (key, start, end) = bin_of(lo);
    match start <= lo && hi < end {
        true => Group::OneBin(key),
        false => Group::Read,
    }
}
