//! [`Rapid7CountsTable`]: the events of `rapid7_logs` counted per log and
//! bin, the table [`CountPushdown`](super::CountPushdown) puts under a
//! `count(*)`.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;

use super::bin::Bin;
use super::exec::{CountInputs, Rapid7CountsExec};
use super::filters::exact_filter;
use crate::events::{columns, logset_type, timestamp_type};
use crate::provider::Rapid7;
use crate::provider::scan::{LogRef, plan_logs};

/// The column of the number of events of a row.
pub(crate) const COUNT_COLUMN: &str = "n";

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(columns::TIMESTAMP, timestamp_type(), false),
        Field::new(columns::LOG_ID, DataType::Utf8, false),
        Field::new(columns::LOG_NAME, DataType::Utf8, true),
        Field::new(COUNT_COLUMN, DataType::Int64, false),
        // The log's sets, so that the statement's filters on them (applied
        // by choosing the logs) name a column of this table too.
        Field::new(columns::LOGSET, logset_type(), false),
    ]))
});

/// The events of the logs and windows its filters select (as
/// `rapid7_logs`), counted: one row `(timestamp, log_id, log_name, n)` per
/// log and bin, `timestamp` being the bin's start (with no bin, one row per
/// log). Counts of ranges the cache lacks come from Rapid7's statistics and
/// are not committed; cached ranges are counted from manifests and parts;
/// the recent edge is read live.
#[derive(Debug, Clone)]
pub struct Rapid7CountsTable {
    rapid7: Rapid7,
    log: Option<LogRef>,
    bin: Option<Bin>,
}

impl Rapid7CountsTable {
    /// Counts over `rapid7` (or its log `log`), per `bin` when given.
    pub fn new(rapid7: Rapid7, log: Option<LogRef>, bin: Option<Bin>) -> Self {
        Rapid7CountsTable { rapid7, log, bin }
    }
}

#[async_trait]
impl TableProvider for Rapid7CountsTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&SCHEMA)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Choosing windows and logs applies exactly the filters of time and
        // log, and no other: any other filter (one pushed in a later
        // optimizer pass, say) is left to DataFusion, never dropped.
        Ok(filters
            .iter()
            .map(|f| match exact_filter(f) {
                true => TableProviderFilterPushDown::Exact,
                false => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let schema = self.schema();
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..schema.fields().len()).collect(),
        };
        let projected = Arc::new(schema.project(&projection)?);
        let Some((scans, sets)) =
            plan_logs(&self.rapid7, self.log.as_ref(), state, filters).await?
        else {
            return Ok(Arc::new(EmptyExec::new(projected)));
        };
        let inner = &self.rapid7.inner;
        let config = &inner.config;
        inner
            .fetcher
            .tracker
            .add_segments_reused(scans.iter().map(|s| s.segments.len() as u64).sum());
        Ok(Arc::new(Rapid7CountsExec::new(
            CountInputs {
                scans,
                sets,
                bin: self.bin,
                cache: config.cache.clone(),
                fetcher: Arc::clone(&inner.fetcher),
                client: config.client.clone().filter(|_| !config.is_offline()),
                convention: Arc::clone(&inner.to_convention),
                concurrency: config.fetch_concurrency,
                schema,
                budget: crate::provider::statement_limit(config, state.config_options()),
                paged: std::sync::atomic::AtomicU64::new(0),
            },
            projection,
        )?))
    }
}
