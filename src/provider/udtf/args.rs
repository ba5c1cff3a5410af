//! Arguments of the table functions: constants evaluated at planning, a log
//! and a window.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue, plan_err};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, Expr};

use crate::events::{TIMESTAMP_TZ, timestamp_type};
use crate::time::TimeRange;

/// The `(log, from, to)` arguments of a table function: a log name or id and
/// a window.
pub(crate) fn log_window_args(
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
pub(crate) fn constant(session: &dyn Session, expr: &Expr) -> DfResult<ScalarValue> {
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

/// A non-null `timestamp` field.
pub(crate) fn ts_field(name: &str) -> Field {
    Field::new(name, timestamp_type(), false)
}

/// A `timestamp` column of UTC milliseconds.
pub(crate) fn ts_array(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values).with_timezone(TIMESTAMP_TZ))
}
