//! `rapid7_fields(log, from, to [, sample])`: the structure of a log's
//! messages, inferred from a sample of the window (see
//! [`crate::fields::infer`]). One row per field: its name, CSV position,
//! type, fill rate and an example; a plain-text log gives one row with a NULL
//! field. `sampled` counts the messages looked at; `unparsed` those that
//! did not have the log's layout (never silently dropped). The sample is read through `rapid7_logs`, so a window that is not
//! cached yet is fetched (and cached) first, and offline mode names what is
//! missing.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMillisecondType};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use futures::TryStreamExt;

use super::args::{constant, log_window_args};
use crate::events::{TIMESTAMP_TZ, columns, event_schema};
use crate::fields::{MessageLayout, infer};
use crate::provider::Rapid7;
use crate::time::TimeRange;

/// Messages sampled when no size is given.
pub const DEFAULT_FIELD_SAMPLE: usize = 10_000;

const USAGE: &str = "usage: rapid7_fields('log name or id', from, to [, sample size]), e.g. \
    rapid7_fields('Firewall', now() - interval '1 hour', now())";

/// `rapid7_fields(log, from, to [, sample])`.
#[derive(Debug)]
pub(crate) struct FieldsFunction {
    pub(crate) rapid7: Rapid7,
}

impl TableFunctionImpl for FieldsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> DfResult<Arc<dyn TableProvider>> {
        let session = args.session();
        let (log, from, to, sample) = match args.exprs() {
            [log, from, to] => (log, from, to, None),
            [log, from, to, sample] => (log, from, to, Some(sample)),
            _ => return plan_err!("{USAGE}"),
        };
        let (log, window) = log_window_args(session, [log, from, to], "rapid7_fields", USAGE)?;
        let sample = match sample {
            None => DEFAULT_FIELD_SAMPLE,
            Some(expr) => match constant(session, expr)?.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(Some(n))) if n >= 1 => n as usize,
                _ => return plan_err!("rapid7_fields: the sample size must be 1 or more; {USAGE}"),
            },
        };
        Ok(Arc::new(FieldsTable {
            rapid7: self.rapid7.clone(),
            log,
            window,
            sample,
        }))
    }
}

#[derive(Debug)]
struct FieldsTable {
    rapid7: Rapid7,
    log: String,
    window: TimeRange,
    sample: usize,
}

fn fields_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("log_id", DataType::Utf8, false),
        Field::new("log_name", DataType::Utf8, true),
        Field::new("format", DataType::Utf8, false),
        Field::new("field", DataType::Utf8, true),
        Field::new("position", DataType::UInt32, true),
        Field::new("type", DataType::Utf8, true),
        Field::new("fill_rate", DataType::Float64, true),
        Field::new("present", DataType::UInt64, true),
        Field::new("sampled", DataType::UInt64, false),
        Field::new("example", DataType::Utf8, true),
        Field::new("unparsed", DataType::UInt64, false),
    ]))
}

fn ts(ms: i64) -> Expr {
    lit(ScalarValue::TimestampMillisecond(
        Some(ms),
        Some(TIMESTAMP_TZ.into()),
    ))
}

impl FieldsTable {
    /// Up to `sample` messages of the window, read through `rapid7_logs`.
    async fn sample(&self, state: &dyn Session, log_id: &str) -> DfResult<Vec<String>> {
        let schema = event_schema();
        let projection = vec![
            schema.index_of(columns::TIMESTAMP)?,
            schema.index_of(columns::MESSAGE)?,
        ];
        let filters = vec![
            col(columns::LOG_ID).eq(lit(log_id)),
            col(columns::TIMESTAMP).gt_eq(ts(self.window.start())),
            col(columns::TIMESTAMP).lt(ts(self.window.end())),
        ];
        let plan = self
            .rapid7
            .table()
            .scan(state, Some(&projection), &filters, None)
            .await?;
        let mut stream = execute_stream(plan, state.task_ctx())?;
        let mut messages = Vec::with_capacity(self.sample.min(DEFAULT_FIELD_SAMPLE));
        // The scan may hand back rows of a cached segment just outside the
        // window; keep only the window's.
        while let Some(batch) = stream.try_next().await? {
            let times = batch.column(0).as_primitive::<TimestampMillisecondType>();
            let texts = batch.column(1).as_string::<i32>();
            for i in 0..batch.num_rows() {
                if self.window.contains(times.value(i)) {
                    messages.push(texts.value(i).to_string());
                    if messages.len() >= self.sample {
                        return Ok(messages);
                    }
                }
            }
        }
        Ok(messages)
    }
}

#[async_trait]
impl TableProvider for FieldsTable {
    fn schema(&self) -> SchemaRef {
        fields_schema()
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
        let log = self.rapid7.find_log(&self.log).await?;
        let messages = self.sample(state, &log.id).await?;
        let inference = infer(messages.iter().map(String::as_str));
        tracing::debug!(
            log_id = %log.id,
            sampled = inference.sampled,
            other_layout = inference.other_layout,
            format = %inference.layout,
            "fields_inferred"
        );
        let sampled = inference.sampled;
        let mut rows: Vec<(
            Option<String>,
            Option<u32>,
            Option<&str>,
            Option<f64>,
            Option<u64>,
            Option<String>,
        )> = inference
            .fields
            .iter()
            .map(|f| {
                (
                    Some(f.name.clone()),
                    f.position.map(|p| p as u32),
                    Some(f.field_type.as_str()),
                    Some(f.fill_rate(sampled)),
                    Some(f.present),
                    Some(f.example.clone()),
                )
            })
            .collect();
        if rows.is_empty() {
            rows.push((None, None, None, None, None, None));
        }
        let n = rows.len();
        let format = inference.layout.to_string();
        let header = match &inference.layout {
            MessageLayout::Csv { header: Some(h) } => Some(h.join(",")),
            _ => None,
        };
        let format = match header {
            Some(h) => format!("{format}: {h}"),
            None => format,
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![log.id.clone(); n])),
            Arc::new(StringArray::from(vec![log.name.clone(); n])),
            Arc::new(StringArray::from(vec![format; n])),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(UInt32Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
            Arc::new(UInt64Array::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )),
            Arc::new(UInt64Array::from(vec![sampled; n])),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.5.clone()).collect::<Vec<_>>(),
            )),
            Arc::new(UInt64Array::from(vec![inference.other_layout; n])),
        ];
        let batch = RecordBatch::try_new(fields_schema(), columns)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            fields_schema(),
            projection.cloned(),
        )?)
    }
}
