//! The name a log's parts were written with: the fallback of offline reads
//! for a log the cache's directory (`_LOGS.json`) does not name (it was
//! deleted, written by an older version, or its best-effort write failed).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use futures::TryStreamExt;

use super::index::scan_log;
use super::part_reader::PartReader;
use super::store::CacheRoot;
use crate::error::Result;
use crate::events::columns::LOG_NAME;

/// The `log_name` of the first row of the newest segment of `log_id` that
/// has rows (`None`: no segment has rows, or they were written unnamed).
/// Every part of a segment is written in one fetch, under one name.
pub(crate) async fn stored_log_name(
    root: &CacheRoot,
    log_id: &str,
    concurrency: usize,
) -> Result<Option<String>> {
    let segments = scan_log(root, log_id, concurrency).await?;
    let newest = segments
        .into_iter()
        .rev()
        .filter_map(|(_, seg)| seg.ok())
        .find_map(|seg| {
            let part = seg.parts().into_iter().find(|p| p.rows > 0)?;
            Some((seg, part))
        });
    let Some((seg, part)) = newest else {
        return Ok(None);
    };
    let unreadable =
        |e: &dyn std::fmt::Display| seg.corrupt(format!("part {} cannot be read: {e}", part.path));
    let reader = PartReader::new(Arc::clone(root.store()), part.path.clone(), part.size_bytes);
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| unreadable(&e))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), [LOG_NAME]);
    let mut rows = builder
        .with_projection(mask)
        .with_limit(1)
        .build()
        .map_err(|e| unreadable(&e))?;
    let Some(batch) = rows.try_next().await.map_err(|e| unreadable(&e))? else {
        return Ok(None);
    };
    if batch.num_columns() != 1 || batch.num_rows() == 0 {
        return Ok(None);
    }
    let names = cast(batch.column(0), &DataType::Utf8).map_err(|e| unreadable(&e))?;
    let names = names.as_string::<i32>();
    Ok((!names.is_null(0)).then(|| names.value(0).to_string()))
}
