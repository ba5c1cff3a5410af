//! Table functions for looking into the cache from SQL:
//!
//! - `rapid7_cache()`: one row per committed segment (`log_id`, `log_name`,
//!   `from`, `to`, `rows`, `bytes`, `parts`, `created`);
//! - `rapid7_coverage(log, from, to)`: the window `[from, to)` of one log cut
//!   into `cached`, `missing` (fetched by the next query) and `recent` (the
//!   settle edge, read live on every query) ranges.
//!
//! Both read manifests only; neither calls the Rapid7 API.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DFSchema, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, Expr};
use datafusion::physical_plan::ExecutionPlan;

use super::logs::LogRef;
use super::register::Rapid7;
use crate::cache::{TimeRange, plan_coverage};
use crate::events::timestamp_type;

/// `rapid7_cache()`.
#[derive(Debug)]
pub(crate) struct CacheFunction {
    pub(crate) rapid7: Rapid7,
}

/// `rapid7_coverage(log, from, to)`.
#[derive(Debug)]
pub(crate) struct CoverageFunction {
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

/// The `(log, from, to)` arguments of a table function: a log name or id and
/// a window.
pub(super) fn log_window_args(
    session: &dyn Session,
    [log, from, to]: [&Expr; 3],
    function: &str,
    usage: &str,
) -> DfResult<(String, TimeRange)> {
    let log = match constant(session, log)? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => s,
        other => return plan_err!("the log must be a string, got {other}; {usage}"),
    };
    let from = instant_ms(session, from, usage)?;
    let to = instant_ms(session, to, usage)?;
    match TimeRange::new(from, to) {
        Ok(window) => Ok((log, window)),
        Err(_) => plan_err!("{function}: `from` must be before `to`; {usage}"),
    }
}

/// Evaluate a constant argument.
pub(super) fn constant(session: &dyn Session, expr: &Expr) -> DfResult<ScalarValue> {
    let schema = DFSchema::empty();
    let physical = session.create_physical_expr(expr.clone(), &schema)?;
    let batch = RecordBatch::new_empty(Arc::new(Schema::empty()));
    match physical.evaluate(&batch)? {
        ColumnarValue::Scalar(v) => Ok(v),
        ColumnarValue::Array(a) if a.len() == 1 => ScalarValue::try_from_array(&a, 0),
        ColumnarValue::Array(_) => plan_err!("expected a constant, got {expr}"),
    }
}

fn instant_ms(session: &dyn Session, expr: &Expr, usage: &str) -> DfResult<i64> {
    let value = constant(session, expr)?;
    match value.cast_to(&timestamp_type()) {
        Ok(ScalarValue::TimestampMillisecond(Some(ms), _)) => Ok(ms),
        _ => plan_err!("{expr} is not a timestamp; {usage}"),
    }
}

pub(super) fn ts_field(name: &str) -> Field {
    Field::new(name, timestamp_type(), false)
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
        let names = cache.load_log_names().await?;
        let (mut ids, mut log_names, mut from, mut to) = (vec![], vec![], vec![], vec![]);
        let (mut rows, mut bytes, mut parts, mut created) = (vec![], vec![], vec![], vec![]);
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
        ];
        let batch = RecordBatch::try_new(cache_schema(), columns)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            cache_schema(),
            projection.cloned(),
        )?)
    }
}

fn ts_array(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values).with_timezone(crate::events::TIMESTAMP_TZ))
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
        let cut = now_ms.saturating_sub(self.rapid7.config().settle.as_millis() as i64);
        let mut rows: Vec<(i64, i64, &str)> = Vec::new();
        if self.window.start() < cut {
            let settled = TimeRange::new(self.window.start(), self.window.end().min(cut))?;
            let cached: Vec<TimeRange> = self
                .rapid7
                .cache()
                .list_segments(&log.id)
                .await?
                .iter()
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
