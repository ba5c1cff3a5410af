//! The published table's schema: `rapid7_logs`'s columns in Delta types, plus
//! the `date` partition column, and the conversion of cached batches to it.
//!
//! | column | Delta type | from the cache |
//! |---|---|---|
//! | `timestamp` | `timestamp` (µs, UTC), not null | `Timestamp(ms, UTC)`, exact |
//! | `log_id` | `string`, not null | |
//! | `log_name` | `string` | |
//! | `sequence_number` | `long`, not null | `UInt64`; Delta has no unsigned type, a value past `i64::MAX` is an error |
//! | `message` | `string`, not null | |
//! | `labels` | `array<string>` | |
//! | `date` | `date`, the partition | UTC day of `timestamp` |

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMillisecondType, UInt64Type,
};

use super::plan::day_of;
use crate::error::{Error, Result};
use crate::events::columns;

/// The partition column.
pub const DATE_COLUMN: &str = "date";

static TABLE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(
            columns::TIMESTAMP,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new(columns::LOG_ID, DataType::Utf8, false),
        Field::new(columns::LOG_NAME, DataType::Utf8, true),
        Field::new(columns::SEQUENCE_NUMBER, DataType::Int64, false),
        Field::new(columns::MESSAGE, DataType::Utf8, false),
        Field::new(
            columns::LABELS,
            DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
            true,
        ),
        Field::new(DATE_COLUMN, DataType::Date32, false),
    ]))
});

/// The Arrow schema of a published table (as deltalake maps its Delta
/// schema to Arrow).
pub fn table_schema() -> SchemaRef {
    Arc::clone(&TABLE_SCHEMA)
}

/// A batch of the cache's event schema as a batch of the table: types
/// converted, `date` appended. `table` is the table's location, shown in
/// errors.
pub(crate) fn to_table_batch(batch: &RecordBatch, table: &str) -> Result<RecordBatch> {
    let schema = table_schema();
    let bad = |message: String| Error::Publish {
        table: table.to_string(),
        message,
        source: None,
    };
    if batch.num_columns() < 6 {
        return Err(bad(format!(
            "a cached batch has {} columns, not the event schema's: `rapid7-sql cache verify` \
             finds the segment",
            batch.num_columns()
        )));
    }
    let not_events = |i: usize| {
        bad(format!(
            "column {i} of a cached batch is {}, not the event schema's type: \
             `rapid7-sql cache verify` finds the segment",
            batch.column(i).data_type()
        ))
    };
    let ts = batch
        .column(0)
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| not_events(0))?;
    let dates: Date32Array = ts.iter().map(|t| t.map(day_of)).collect();
    let seq = batch
        .column(3)
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| not_events(3))?;
    if let Some(max) = datafusion::arrow::compute::max(seq)
        && max > i64::MAX as u64
    {
        return Err(bad(format!(
            "sequence number {max} does not fit Delta's long (signed 64 bits)"
        )));
    }
    let mut out: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().take(6).enumerate() {
        let column = batch.column(i);
        out.push(if column.data_type() == field.data_type() {
            Arc::clone(column)
        } else {
            cast(column, field.data_type())?
        });
    }
    out.push(Arc::new(dates));
    debug_assert!(out.iter().all(|c| c.len() == batch.num_rows()));
    Ok(RecordBatch::try_new(schema, out)?)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_batch_not_of_the_event_schema_is_an_error_not_a_panic() {
        let one = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, false)])),
            vec![Arc::new(StringArray::from(vec!["a"]))],
        )
        .unwrap();
        let e = to_table_batch(&one, "t").unwrap_err().to_string();
        assert!(e.contains("1 columns"), "{e}");
        let fields: Vec<Field> = (0..6)
            .map(|i| Field::new(format!("c{i}"), DataType::Int64, false))
            .collect();
        let columns: Vec<ArrayRef> = (0..6)
            .map(|_| Arc::new(Int64Array::from(vec![1])) as ArrayRef)
            .collect();
        let six = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let e = to_table_batch(&six, "t").unwrap_err().to_string();
        assert!(e.contains("column 0") && e.contains("Int64"), "{e}");
    }
}
