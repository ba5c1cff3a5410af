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

use datafusion::arrow::array::AsArray;
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
        .build()
        .map_err(|e| corrupt(&e))?;
    // Parts are sorted by timestamp: one bin lookup per run of a bin.
    let mut run: Option<(i64, i64, i64)> = None;
    let mut in_run = 0u64;
    while let Some(batch) = batches.try_next().await.map_err(|e| corrupt(&e))? {
        let Some(ts) = batch
            .column(0)
            .as_primitive_opt::<TimestampMillisecondType>()
        else {
            return Err(corrupt(&"its timestamp column is not in milliseconds").into());
        };
        for t in ts.iter().flatten() {
            if !range.contains(t) {
                continue;
            }
            match run {
                Some((_, start, end)) if start <= t && t < end => in_run += 1,
                _ => {
                    if let Some((key, _, _)) = run {
                        *counts.bins.entry(key).or_default() += in_run;
                    }
                    run = Some(bin_of(t));
                    in_run = 1;
                }
            }
        }
    }
    if let Some((key, _, _)) = run {
        *counts.bins.entry(key).or_default() += in_run;
    }
    Ok(counts)
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
