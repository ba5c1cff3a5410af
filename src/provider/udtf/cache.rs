//! `rapid7_cache()`: one row per committed segment (`log_id`, `log_name`,
//! `from`, `to`, `rows`, `bytes`, `parts`, `created`, `events_rejected`,
//! `beyond_retention`, `filter`). Reads manifests only; never calls the
//! Rapid7 API. `filter` is the canonical LEQL filter of a filtered segment
//! (it holds only the events of its range that the filter selects, and
//! serves only statements that push exactly that filter), NULL for a
//! segment of every event.
//!
//! `events_rejected` counts the events Rapid7 returned for the range that
//! could not be decoded (they are in no part); `beyond_retention` is true
//! when Rapid7 said the range reaches past the log's retention. Either
//! means the segment holds less than the range's complete event set.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::args::{ts_array, ts_field};
use crate::provider::Rapid7;

/// `rapid7_cache()`.
#[derive(Debug)]
pub(crate) struct CacheFunction {
    pub(crate) rapid7: Rapid7,
}

impl TableFunctionImpl for CacheFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return plan_err!("rapid7_cache() takes no arguments");
        }
        Ok(Arc::new(CacheTable {
            rapid7: self.rapid7.clone(),
        }))
    }
}

#[derive(Debug)]
struct CacheTable {
    rapid7: Rapid7,
}

fn cache_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("log_id", DataType::Utf8, false),
        Field::new("log_name", DataType::Utf8, true),
        ts_field("from"),
        ts_field("to"),
        Field::new("rows", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("parts", DataType::UInt32, false),
        ts_field("created"),
        Field::new("events_rejected", DataType::UInt64, false),
        Field::new("beyond_retention", DataType::Boolean, false),
        Field::new("filter", DataType::Utf8, true),
    ]))
}

#[async_trait]
impl TableProvider for CacheTable {
    fn schema(&self) -> SchemaRef {
        cache_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let cache = self.rapid7.cache();
        let names = self.rapid7.log_names().await?;
        let (mut ids, mut log_names, mut from, mut to) = (vec![], vec![], vec![], vec![]);
        let (mut rows, mut bytes, mut parts, mut created) = (vec![], vec![], vec![], vec![]);
        let (mut rejected, mut beyond, mut filters) = (vec![], vec![], vec![]);
        for log_id in cache.list_logs().await? {
            for seg in cache.list_segments(&log_id).await? {
                ids.push(log_id.clone());
                log_names.push(names.get(&log_id).cloned());
                from.push(seg.range().start());
                to.push(seg.range().end());
                rows.push(seg.row_count());
                bytes.push(seg.size_bytes());
                parts.push(seg.manifest().parts.len() as u32);
                created.push(seg.manifest().created_at_ms);
                rejected.push(seg.events_rejected());
                beyond.push(seg.beyond_retention());
                filters.push(seg.filter().map(str::to_string));
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(log_names)),
            ts_array(from),
            ts_array(to),
            Arc::new(UInt64Array::from(rows)),
            Arc::new(UInt64Array::from(bytes)),
            Arc::new(UInt32Array::from(parts)),
            ts_array(created),
            Arc::new(UInt64Array::from(rejected)),
            Arc::new(BooleanArray::from(beyond)),
            Arc::new(StringArray::from(filters)),
        ];
        let batch = RecordBatch::try_new(cache_schema(), columns)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            cache_schema(),
            projection.cloned(),
        )?)
    }
}
