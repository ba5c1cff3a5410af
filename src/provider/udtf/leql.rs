//! `rapid7_leql(log, from, to, statement)`: any LEQL statement, for what SQL
//! pushdown does not cover (`groupby`, `unique`, percentiles, …). Not cached:
//! the statement runs on Rapid7 each time the query runs (never at planning,
//! so `EXPLAIN` asks nothing).
//!
//! - A statistical statement (`calculate(…)` or `groupby(…)`) returns rows
//!   `(slice_start, slice_end, group_key, function, value)`: one per slice of
//!   the time series, one per group, one per group path and slice (nested
//!   `groupby(k1, k2)` results as `[v1,v2]`), or one for the whole window
//!   when there is nothing else (see `statistics_batch`). `function` is the
//!   `type` Rapid7 answers (`standarddeviation` for `sd`); the value is the
//!   one under the result's key (the field of `calculate(FN:field)`).
//! - Any other statement returns the events it selects, as `rapid7_logs`
//!   rows.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{StreamExt, TryStreamExt};

use super::args::{constant, log_window_args, ts_array};
use crate::client::Statistics;
use crate::error::Error;
use crate::events::{event_schema, page_to_batch, timestamp_type};
use crate::provider::Rapid7;
use crate::provider::leaf::{LeafExec, leaf_exec, leaf_properties};
use crate::time::TimeRange;

const USAGE: &str = "usage: rapid7_leql('log name or id', from, to, 'LEQL statement'), e.g. \
    rapid7_leql('Firewall', now() - interval '1 day', now(), 'groupby(action) calculate(count)')";

/// `rapid7_leql(log, from, to, statement)`.
#[derive(Debug)]
pub(crate) struct LeqlFunction {
    pub(crate) rapid7: Rapid7,
}

impl TableFunctionImpl for LeqlFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let session = args.session();
        let [log, from, to, statement] = args.exprs() else {
            return plan_err!("{USAGE}");
        };
        let (log, window) = log_window_args(session, [log, from, to], "rapid7_leql", USAGE)?;
        let statement = match constant(session, statement)? {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => s,
            other => return plan_err!("the statement must be a string, got {other}; {USAGE}"),
        };
        Ok(Arc::new(LeqlTable {
            rapid7: self.rapid7.clone(),
            request: Arc::new(Request {
                log,
                window,
                statistical: is_statistical(&statement),
                statement,
            }),
        }))
    }
}

/// Whether Rapid7 answers `statement` with statistics rather than events.
fn is_statistical(statement: &str) -> bool {
    let lower = statement.to_ascii_lowercase();
    lower.contains("calculate(") || lower.contains("groupby(")
}

#[derive(Debug)]
struct Request {
    log: String,
    window: TimeRange,
    statement: String,
    statistical: bool,
}

fn statistics_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("slice_start", timestamp_type(), true),
        Field::new("slice_end", timestamp_type(), true),
        Field::new("group_key", DataType::Utf8, true),
        Field::new("function", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
    ]))
}

#[derive(Debug)]
struct LeqlTable {
    rapid7: Rapid7,
    request: Arc<Request>,
}

#[async_trait]
impl TableProvider for LeqlTable {
    fn schema(&self) -> SchemaRef {
        if self.request.statistical {
            statistics_schema()
        } else {
            event_schema()
        }
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
        let schema = self.schema();
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..schema.fields().len()).collect(),
        };
        let projected = Arc::new(schema.project(&projection)?);
        Ok(Arc::new(LeqlExec {
            rapid7: self.rapid7.clone(),
            request: Arc::clone(&self.request),
            full: schema,
            projection,
            properties: leaf_properties(&projected, 1, EmissionType::Incremental),
            schema: projected,
        }))
    }
}

/// Runs the statement when executed.
struct LeqlExec {
    rapid7: Rapid7,
    request: Arc<Request>,
    full: SchemaRef,
    projection: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for LeqlExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeqlExec")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl DisplayAs for LeqlExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Rapid7LeqlExec: log={}, window={}, statement={:?}",
            self.request.log, self.request.window, self.request.statement
        )
    }
}

leaf_exec!(LeqlExec);

impl LeafExec for LeqlExec {
    const NAME: &'static str = "Rapid7LeqlExec";

    fn leaf_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn open(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let (rapid7, request) = (self.rapid7.clone(), Arc::clone(&self.request));
        let (full, projection) = (Arc::clone(&self.full), self.projection.clone());
        let stream = futures::stream::once(async move {
            let client = rapid7
                .client()
                .cloned()
                .filter(|_| !rapid7.config().is_offline());
            let client = client.ok_or_else(|| {
                Error::Offline {
                    missing: vec![format!(
                        "rapid7_leql({}, …) always asks Rapid7",
                        request.log
                    )],
                }
                .into_datafusion()
            })?;
            let log = rapid7.find_log(&request.log).await?;
            let (from, to) = (request.window.start(), request.window.end());
            let batches: futures::stream::BoxStream<'static, DfResult<RecordBatch>> =
                if request.statistical {
                    let stats = client
                        .statistics(&log.id, from, to, &request.statement)
                        .await
                        .map_err(|e| Error::from(e).into_datafusion())?;
                    let batch = statistics_batch(&stats, full)?;
                    futures::stream::once(async move { Ok(batch) }).boxed()
                } else {
                    let name = log.name.clone();
                    client
                        .query_events_where(&log.id, from, to, &request.statement)
                        .map_err(|e| Error::from(e).into_datafusion())?
                        .into_stream()
                        .map(move |page| {
                            let page = page.map_err(|e| Error::from(e).into_datafusion())?;
                            page_to_batch(page, name.as_deref()).map_err(Error::into_datafusion)
                        })
                        .boxed()
                };
            Ok::<_, DataFusionError>(batches.map(move |b| Ok(b?.project(&projection)?)))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}

/// `(slice_start, slice_end, group_key, function, value)` rows of a result:
/// one per slice of `timeseries`, one per entry of `groups` (no slice), one
/// per group path and slice of `groups_timeseries` (`[v1,v2]` for
/// `groupby(k1, k2)`, as `groups` writes it), or one for the whole window
/// when the body has only a total. An empty answer (`status: 204`) is one
/// row of 0 for `count` and of NULL for the other functions; a slice whose
/// value object is empty is NULL.
fn statistics_batch(stats: &Statistics, schema: SchemaRef) -> DfResult<RecordBatch> {
    /// `(slice_start, slice_end, group_key, value)`.
    type Row = (Option<i64>, Option<i64>, Option<String>, Option<f64>);
    let mut rows: Vec<Row> = Vec::new();
    let slice = |i: usize, n: usize| -> (i64, i64) {
        let g = if stats.granularity_ms > 0 {
            stats.granularity_ms
        } else {
            (stats.to - stats.from) / n.max(1) as i64
        };
        let start = stats.from + i as i64 * g;
        (start, if i + 1 == n { stats.to } else { start + g })
    };
    for (i, v) in stats.timeseries.iter().enumerate() {
        let (a, b) = slice(i, stats.timeseries.len());
        rows.push((Some(a), Some(b), None, *v));
    }
    for group in &stats.groups {
        rows.push((None, None, Some(group.key.clone()), group.value));
    }
    for group in &stats.groups_timeseries {
        let key = group.key();
        for (i, v) in group.series.iter().enumerate() {
            let (a, b) = slice(i, group.series.len());
            rows.push((Some(a), Some(b), Some(key.clone()), *v));
        }
    }
    if rows.is_empty() {
        let value = match stats.total {
            Some(total) => Some(total),
            None if stats.empty => (stats.function == "count").then_some(0.0),
            None => {
                return Err(DataFusionError::Execution(format!(
                    "Rapid7's statistics for {:?} carry no value this function can show",
                    stats.key
                )));
            }
        };
        rows.push((Some(stats.from), Some(stats.to), None, value));
    }
    let starts: Vec<Option<i64>> = rows.iter().map(|r| r.0).collect();
    let ends: Vec<Option<i64>> = rows.iter().map(|r| r.1).collect();
    let columns: Vec<ArrayRef> = vec![
        opt_ts(starts),
        opt_ts(ends),
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(vec![stats.function.clone(); rows.len()])),
        Arc::new(Float64Array::from(
            rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn opt_ts(values: Vec<Option<i64>>) -> ArrayRef {
    if values.iter().all(Option::is_some) {
        return ts_array(values.into_iter().flatten().collect());
    }
    Arc::new(
        datafusion::arrow::array::TimestampMillisecondArray::from(values)
            .with_timezone(crate::events::TIMESTAMP_TZ),
    )
}
