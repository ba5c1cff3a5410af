//! API pages → Arrow `RecordBatch`es in the event schema.
//!
//! The client already decoded each page, in one pass over its JSON, into
//! column buffers with Arrow's layout ([`EventColumns`]). This module hands
//! those buffers to Arrow without copying them: offsets and values become
//! `Buffer`s as they are. Only `log_id` and `log_name`, the same for every row
//! of a page, are materialised per row.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, ListArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array,
};
use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::arrow::error::ArrowError;

use super::schema::{TIMESTAMP_TZ, columns, event_schema};
use crate::client::{EventColumns, EventPage};
use crate::error::Result;

/// Longest `log_name` accepted, in bytes. Rapid7's log names are short; a
/// longer one (from a broken management API or a planted log directory) is
/// refused here rather than repeated on every row of every batch.
pub const MAX_LOG_NAME_LEN: usize = 1024;

/// Turn one page into a `RecordBatch` of the event schema.
pub fn page_to_batch(page: EventPage, log_name: Option<&str>) -> Result<RecordBatch> {
    columns_to_batch(page.columns, &page.log_id, log_name)
}

/// Offsets that start at or above zero and never decrease, else an error
/// (`OffsetBuffer::new` would panic).
fn offsets(values: Vec<i32>) -> Result<OffsetBuffer<i32>> {
    let valid =
        values.first().is_some_and(|first| *first >= 0) && values.windows(2).all(|w| w[0] <= w[1]);
    if !valid {
        return Err(ArrowError::InvalidArgumentError(
            "event column offsets must start at 0 or above and never decrease".into(),
        )
        .into());
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(values)))
}

/// Turn column buffers of one log into a `RecordBatch` of the event schema.
pub fn columns_to_batch(
    columns: EventColumns,
    log_id: &str,
    log_name: Option<&str>,
) -> Result<RecordBatch> {
    let n = columns.len();
    if let Some(name) = log_name.filter(|name| name.len() > MAX_LOG_NAME_LEN) {
        return Err(ArrowError::InvalidArgumentError(format!(
            "log name of {} bytes is longer than the {MAX_LOG_NAME_LEN} allowed",
            name.len()
        ))
        .into());
    }
    let timestamps = TimestampMillisecondArray::new(ScalarBuffer::from(columns.timestamps), None)
        .with_timezone(TIMESTAMP_TZ);
    let log_ids = repeated(log_id, n)?;
    let log_names = name_column(log_name, n)?;
    let seqs = UInt64Array::new(ScalarBuffer::from(columns.sequence_numbers), None);
    let messages = StringArray::try_new(
        offsets(columns.message_offsets)?,
        Buffer::from_vec(columns.message_data),
        None,
    )?;
    let label_values = StringArray::try_new(
        offsets(columns.label_value_offsets)?,
        Buffer::from_vec(columns.label_data),
        None,
    )?;
    let labels = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Utf8, true)),
        offsets(columns.label_offsets)?,
        Arc::new(label_values),
        None,
    )?;
    Ok(RecordBatch::try_new(
        event_schema(),
        vec![
            Arc::new(timestamps),
            Arc::new(log_ids),
            log_names,
            Arc::new(seqs),
            Arc::new(messages),
            Arc::new(labels),
        ],
    )?)
}

/// `batch` (of the event schema, or any schema with a `log_name` column)
/// with `log_name` set to `name` on every row: cached rows carry the name
/// their log had when they were fetched, and every read shows the log's
/// current name instead (a log renamed at Rapid7 keeps its id). A batch
/// without the column is returned as it is.
pub fn with_log_name(batch: RecordBatch, name: Option<&str>) -> Result<RecordBatch> {
    let Ok(at) = batch.schema().index_of(columns::LOG_NAME) else {
        return Ok(batch);
    };
    let mut columns = batch.columns().to_vec();
    columns[at] = name_column(name, batch.num_rows())?;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// The `log_name` column of `n` rows of the log named `name`.
fn name_column(name: Option<&str>, n: usize) -> Result<ArrayRef> {
    Ok(match name {
        Some(name) => Arc::new(repeated(name, n)?),
        None => Arc::new(StringArray::new_null(n)),
    })
}

/// `value` repeated `n` times, built without a per-row allocation; an
/// error, not a panic or a wrapped offset, when the column would pass the
/// 2 GiB that `i32` offsets address.
fn repeated(value: &str, n: usize) -> Result<StringArray> {
    let too_big = || {
        ArrowError::InvalidArgumentError(format!(
            "{n} rows of a {}-byte value exceed the 2 GiB of a string column",
            value.len()
        ))
    };
    value
        .len()
        .checked_mul(n)
        .and_then(|total| i32::try_from(total).ok())
        .ok_or_else(too_big)?;
    let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
    let mut offsets = Vec::with_capacity(n + 1);
    let mut at = 0i32;
    offsets.push(at);
    for _ in 0..n {
        at = at.checked_add(len).ok_or_else(too_big)?;
        offsets.push(at);
    }
    Ok(StringArray::new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(value.as_bytes().repeat(n)),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::UInt64Type;

    fn sample() -> EventColumns {
        EventColumns {
            timestamps: vec![10, 11, 11],
            sequence_numbers: vec![1 << 60, (1 << 60) + 1, u64::MAX],
            message_offsets: vec![0, 1, 4, 4],
            message_data: b"a\xe2\x98\x83".to_vec(),
            label_offsets: vec![0, 0, 2, 2],
            label_value_offsets: vec![0, 2, 3],
            label_data: b"l1x".to_vec(),
        }
    }

    #[test]
    fn batch_matches_columns() {
        let b = columns_to_batch(sample(), "log-1", Some("Fire\"wall")).unwrap();
        assert_eq!(b.schema(), event_schema());
        assert_eq!(b.num_rows(), 3);
        let msgs = b.column(4).as_string::<i32>();
        assert_eq!(msgs.value(0), "a");
        assert_eq!(msgs.value(1), "☃");
        assert_eq!(msgs.value(2), "");
        let seqs = b.column(3).as_primitive::<UInt64Type>();
        assert_eq!(seqs.value(2), u64::MAX);
        assert_eq!(b.column(1).as_string::<i32>().value(2), "log-1");
        assert_eq!(b.column(2).as_string::<i32>().value(0), "Fire\"wall");
        let labels = b.column(5).as_list::<i32>();
        assert_eq!(labels.value(0).len(), 0);
        let l1 = labels.value(1);
        let l1 = l1.as_string::<i32>();
        assert_eq!((l1.value(0), l1.value(1)), ("l1", "x"));
    }

    #[test]
    fn empty_page_and_null_names() {
        let b = columns_to_batch(
            EventColumns {
                message_offsets: vec![0],
                label_offsets: vec![0],
                label_value_offsets: vec![0],
                ..Default::default()
            },
            "x",
            None,
        )
        .unwrap();
        assert_eq!(b.num_rows(), 0);
        let b = columns_to_batch(sample(), "x", None).unwrap();
        assert_eq!(b.column(2).null_count(), 3);
    }

    #[test]
    fn long_names_and_huge_repeats_are_errors_not_panics() {
        let name = "n".repeat(MAX_LOG_NAME_LEN);
        let b = columns_to_batch(sample(), "x", Some(&name)).unwrap();
        assert_eq!(b.column(2).as_string::<i32>().value(2), name);
        let long = "n".repeat(MAX_LOG_NAME_LEN + 1);
        let e = columns_to_batch(sample(), "x", Some(&long)).unwrap_err();
        assert!(
            e.to_string().contains("longer than the 1024 allowed"),
            "{e}"
        );
        // 1 MiB × 4096 rows would be 4 GiB: refused before allocating.
        let e = repeated(&"v".repeat(1 << 20), 4096).unwrap_err();
        assert!(e.to_string().contains("exceed the 2 GiB"), "{e}");
        assert_eq!(repeated("", 3).unwrap().value(2), "");
        assert_eq!(repeated(&"v".repeat(1 << 20), 0).unwrap().len(), 0);
    }

    #[test]
    fn bad_offsets_are_an_error_not_a_panic() {
        let mut c = sample();
        c.message_offsets = vec![0, 1, 99, 4];
        assert!(columns_to_batch(c, "x", None).is_err());
    }
}
