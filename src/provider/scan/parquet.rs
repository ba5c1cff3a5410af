//! The Parquet scan of committed parts: one `DataSourceExec` with exact
//! statistics from the manifests.
//!
//! `log_name` is never read from a part: a log renamed at Rapid7 keeps its
//! id, and its cached rows must show the name the log list gives now (the
//! name a part was written with is only its name then). So `log_name` is a
//! partition column whose value, per file, is the current name of the
//! file's log ([`LogPart`]); DataFusion folds it into every predicate per
//! file, so `log_name = 'New'` keeps the rows of a log renamed `New`.
//! `logset` (never in a part) is a partition column too, the sets of the
//! file's log as the statement's log list shows them ([`LogSetsOf`]); so a
//! cache written before the column existed needs no rewrite.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue, Statistics};
use datafusion::config::TableParquetOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result as DfResult;
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use object_store::ObjectStore;

use datafusion::datasource::table_schema::TableSchema;

use super::log_sets::LogSetsOf;
use crate::cache::PartInfo;
use crate::events::{TIMESTAMP_TZ, columns};
use crate::log_id::LogRef;

/// A committed part, the current name of its log (`None`: unnamed) and the
/// log's sets (the `logset` value of its rows).
#[derive(Debug, Clone)]
pub(crate) struct LogPart {
    pub(crate) part: PartInfo,
    pub(crate) log_name: Option<Arc<str>>,
    pub(crate) logset: ScalarValue,
}

impl LogPart {
    /// Each of `parts`, of `log`, which is in the sets `sets` gives it.
    pub(crate) fn of(
        parts: impl IntoIterator<Item = PartInfo>,
        log: &LogRef,
        sets: &LogSetsOf,
    ) -> impl Iterator<Item = LogPart> {
        let log_name: Option<Arc<str>> = log.name.as_deref().map(Arc::from);
        let logset = sets.scalar(&log.id);
        parts.into_iter().map(move |part| LogPart {
            part,
            log_name: log_name.clone(),
            logset: logset.clone(),
        })
    }
}

/// The columns of the table that no part is read for: each file's value is
/// its log's (`log_name`, `logset`), in this order, after the file's.
const PARTITION_COLUMNS: [&str; 2] = [columns::LOG_NAME, columns::LOGSET];

/// `schema` (the table's, or its string-view form) as the scan's table
/// schema: every column but the [`PARTITION_COLUMNS`] read from the files,
/// those partition columns after them.
fn with_log_partitions(schema: &SchemaRef) -> DfResult<TableSchema> {
    let partitions = PARTITION_COLUMNS
        .iter()
        .map(|name| Ok(Arc::new(schema.field_with_name(name)?.clone())))
        .collect::<DfResult<Vec<_>>>()?;
    let file_fields: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| !PARTITION_COLUMNS.contains(&f.name().as_str()))
        .cloned()
        .collect();
    let file_schema = Arc::new(datafusion::arrow::datatypes::Schema::new_with_metadata(
        file_fields,
        schema.metadata().clone(),
    ));
    Ok(TableSchema::builder(file_schema)
        .with_table_partition_cols(partitions)
        .build())
}

/// Where the Parquet scan finds the cache's objects.
#[derive(Clone)]
pub(crate) struct ParquetTarget {
    pub(crate) url: ObjectStoreUrl,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) schema: SchemaRef,
    pub(crate) options: TableParquetOptions,
    pub(crate) metadata_cache: Arc<FileMetadataCache>,
    /// The order files are read in, and whether they carry statistics.
    pub(crate) order: FileOrder,
}

/// How [`parquet_exec`] lays out its files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum FileOrder {
    /// Oldest first, without per-file statistics (see [`parquet_exec`]).
    #[default]
    OldestFirst,
    /// Newest first within each group, each file with its exact row count and
    /// `timestamp` span. Under an `ORDER BY timestamp DESC LIMIT n` the TopK
    /// operator's dynamic filter then skips every older file, unopened, once
    /// the newest files have filled it.
    NewestFirst,
}

impl fmt::Debug for ParquetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetTarget")
            .field("url", &self.url)
            .field("order", &self.order)
            .finish_non_exhaustive()
    }
}

/// One `DataSourceExec` over `parts`, in `partitions` file groups (some may
/// be empty), with exact table statistics from the manifests.
///
/// In [`FileOrder::OldestFirst`] files carry no statistics of their own:
/// every part given here belongs to a segment whose range lies inside the
/// query's windows, so file-level pruning by the query's own predicate could
/// never skip one, and DataFusion would build a pruning predicate per file to
/// find that out (about 40 µs a file; 30 ms of a 700-segment `count(*)`).
/// Row groups are still pruned by their footers. A newest-first read is the
/// exception: there a TopK's dynamic filter can skip whole files.
pub(crate) fn parquet_exec(
    target: &ParquetTarget,
    mut parts: Vec<LogPart>,
    partitions: usize,
    projection: Option<&Vec<usize>>,
    predicate: Option<Arc<dyn PhysicalExpr>>,
    limit: Option<usize>,
) -> DfResult<Arc<dyn ExecutionPlan>> {
    parts.sort_by_key(|p| (p.part.min_timestamp_ms, p.part.path.to_string()));
    let table = with_log_partitions(&target.schema)?;
    let table_schema = Arc::clone(table.table_schema());
    // The projection asked for names columns of `target.schema`; the scan's
    // table has the partition columns last.
    let projection = projection
        .cloned()
        .unwrap_or_else(|| (0..target.schema.fields().len()).collect())
        .iter()
        .map(|&i| table_schema.index_of(target.schema.field(i).name()))
        .collect::<Result<Vec<usize>, _>>()?;
    let order = target.order;
    // Parts are written without bloom filters: looking for them would cost a
    // pass over every row group of every file for nothing (about 10% of a
    // warm `count(*)` over 700 parts).
    let mut options = target.options.clone();
    options.global.bloom_filter_on_read = crate::cache::PARTS_HAVE_BLOOM_FILTERS;
    let mut source = ParquetSource::new(table)
        .with_table_parquet_options(options)
        .with_parquet_file_reader_factory(Arc::new(CachedParquetFileReaderFactory::new(
            Arc::clone(&target.store),
            Arc::clone(&target.metadata_cache),
        )));
    // As `ParquetFormat` does for a `ListingTable`: one read of the file's
    // tail brings the footer and, with it, the page index, so page pruning
    // needs no second round trip.
    if let Some(hint) = target.options.global.metadata_size_hint {
        source = source.with_metadata_size_hint(hint);
    }
    if let Some(predicate) = predicate {
        source = source.with_predicate(predicate);
    }
    let plain: Vec<&PartInfo> = parts.iter().map(|p| &p.part).collect();
    let table_stats = table_statistics(&table_schema, &plain);
    let groups = group_files(&table_schema, parts, partitions.max(1), order)?;
    let config = FileScanConfigBuilder::new(target.url.clone(), Arc::new(source))
        .with_file_groups(groups)
        .with_statistics(table_stats)
        .with_projection_indices(Some(projection))?
        .with_limit(limit)
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// Time-ordered parts in `n` contiguous groups of similar byte size; in
/// [`FileOrder::NewestFirst`] the groups run newest first, and so do the
/// files within each, each with its own statistics.
fn group_files(
    schema: &SchemaRef,
    mut parts: Vec<LogPart>,
    n: usize,
    order: FileOrder,
) -> DfResult<Vec<FileGroup>> {
    if order == FileOrder::NewestFirst {
        parts.reverse();
    }
    let name_type = schema
        .field_with_name(columns::LOG_NAME)?
        .data_type()
        .clone();
    let total: u64 = parts.iter().map(|p| p.part.size_bytes).sum();
    let per_group = total.div_ceil(n as u64).max(1);
    let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); n];
    let mut acc = 0u64;
    for LogPart {
        part,
        log_name,
        logset,
    } in parts
    {
        let idx = ((acc / per_group) as usize).min(n - 1);
        acc += part.size_bytes;
        let mut file = PartitionedFile::new_from_meta(part.object_meta());
        file.partition_values = vec![
            ScalarValue::Utf8(log_name.map(|n| n.to_string())).cast_to(&name_type)?,
            logset,
        ];
        if order == FileOrder::NewestFirst {
            let stats = table_statistics(schema, &[&part]);
            file = file.with_statistics(Arc::new(stats));
        }
        groups[idx].push(file);
    }
    Ok(groups.into_iter().map(FileGroup::new).collect())
}

/// Exact row count, and exact `timestamp` min/max, over `parts`, for the
/// columns of `schema` (the scan's table: `timestamp` first).
fn table_statistics(schema: &SchemaRef, parts: &[&PartInfo]) -> Statistics {
    let rows: u64 = parts.iter().map(|p| p.rows).sum();
    let bytes: u64 = parts.iter().map(|p| p.size_bytes).sum();
    let min = parts.iter().filter_map(|p| p.min_timestamp_ms).min();
    let max = parts.iter().filter_map(|p| p.max_timestamp_ms).max();
    let ts = |v: Option<i64>| match v {
        Some(v) => Precision::Exact(ScalarValue::TimestampMillisecond(
            Some(v),
            Some(TIMESTAMP_TZ.into()),
        )),
        None => Precision::Absent,
    };
    let column_statistics = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if i == 0 {
                ColumnStatistics::new_unknown()
                    .with_min_value(ts(min))
                    .with_max_value(ts(max))
                    .with_null_count(Precision::Exact(0))
            } else {
                ColumnStatistics::new_unknown()
            }
        })
        .collect();
    Statistics {
        num_rows: Precision::Exact(rows as usize),
        total_byte_size: Precision::Inexact(bytes as usize),
        column_statistics,
    }
}
