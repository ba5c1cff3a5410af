//! `rapid7_coverage(log, from, to)`: the window `[from, to)` of one log cut
//! into `cached`, `missing` (fetched by the next query) and `recent` (the
//! settle edge, read live on every query) ranges. Reads manifests only;
//! never calls the Rapid7 API.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::args::{log_window_args, ts_array, ts_field};
use crate::cache::plan_coverage;
use crate::provider::{LogRef, Rapid7};
use crate::time::TimeRange;

/// `rapid7_coverage(log, from, to)`.
#[derive(Debug)]
pub(crate) struct CoverageFunction {
    pub(crate) rapid7: Rapid7,
}

impl TableFunctionImpl for CoverageFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        const USAGE: &str = "usage: rapid7_coverage('log name or id', from, to), e.g. \
            rapid7_coverage('Firewall', now() - interval '1 day', now())";
        let [log, from, to] = args.exprs() else {
            return plan_err!("{USAGE}");
        };
        let (log, window) =
            log_window_args(args.session(), [log, from, to], "rapid7_coverage", USAGE)?;
        Ok(Arc::new(CoverageTable {
            rapid7: self.rapid7.clone(),
            log,
            window,
        }))
    }
}

#[derive(Debug)]
struct CoverageTable {
    rapid7: Rapid7,
    log: String,
    window: TimeRange,
}

fn coverage_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("log_id", DataType::Utf8, false),
        Field::new("log_name", DataType::Utf8, true),
        ts_field("from"),
        ts_field("to"),
        Field::new("status", DataType::Utf8, false),
    ]))
}

#[async_trait]
impl TableProvider for CoverageTable {
    fn schema(&self) -> SchemaRef {
        coverage_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let log: LogRef = self.rapid7.find_log(&self.log).await?;
        let now_ms = state
            .execution_props()
            .query_execution_start_time
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MAX);
        let cut = now_ms.saturating_sub(crate::time::duration_ms(self.rapid7.config().settle));
        let mut rows: Vec<(i64, i64, &str)> = Vec::new();
        if self.window.start() < cut {
            let settled = TimeRange::new(self.window.start(), self.window.end().min(cut))
                .map_err(crate::Error::from)?;
            let cached: Vec<TimeRange> = self
                .rapid7
                .cache()
                .list_segments(&log.id)
                .await?
                .iter()
                // A filtered segment holds some events only: no coverage.
                .filter(|s| s.filter().is_none())
                .map(|s| s.range())
                .collect();
            let coverage = plan_coverage(settled, &cached);
            rows.extend(
                coverage
                    .cached
                    .iter()
                    .map(|r| (r.start(), r.end(), "cached")),
            );
            rows.extend(
                coverage
                    .missing
                    .iter()
                    .map(|r| (r.start(), r.end(), "missing")),
            );
        }
        if self.window.end() > cut {
            rows.push((self.window.start().max(cut), self.window.end(), "recent"));
        }
        rows.sort();
        let n = rows.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![log.id.clone(); n])),
            Arc::new(StringArray::from(vec![log.name.clone(); n])),
            ts_array(rows.iter().map(|r| r.0).collect()),
            ts_array(rows.iter().map(|r| r.1).collect()),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ];
        let batch = RecordBatch::try_new(coverage_schema(), columns)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            coverage_schema(),
            projection.cloned(),
        )?)
    }
}
