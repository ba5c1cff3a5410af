//! Turning buffered batches into one Parquet part: schema check, sort by
//! `(timestamp, sequence_number)`, encode. CPU only, no I/O.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::{
    SortColumn, concat_batches, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::{Schema, TimestampMillisecondType, UInt64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use object_store::path::Path;

use super::error::Error as CacheError;
use crate::error::Result;
use crate::events::event_schema;

pub(crate) fn check_schema(schema: &Schema) -> Result<()> {
    let want = event_schema();
    let same = schema.fields().len() == want.fields().len()
        && schema
            .fields()
            .iter()
            .zip(want.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        Ok(())
    } else {
        Err(ArrowError::SchemaError(format!(
            "segment writer expects the event schema, got {schema}"
        ))
        .into())
    }
}

/// One encoded part and what the flush reports about it.
pub(crate) struct EncodedPart {
    pub(crate) bytes: Bytes,
    pub(crate) rows: u64,
    pub(crate) min_ts: Option<i64>,
    pub(crate) max_ts: Option<i64>,
    /// Concatenate + sort time.
    pub(crate) build_ms: u64,
    /// Parquet encoding time.
    pub(crate) encode_ms: u64,
}

/// Concatenate, sort by `(timestamp, sequence_number)` and encode as Parquet.
pub(crate) fn encode_part(
    batches: Vec<RecordBatch>,
    props: Arc<WriterProperties>,
    path: &Path,
) -> Result<EncodedPart> {
    let started = Instant::now();
    let schema = event_schema();
    // Pages arrive in `(timestamp, sequence_number)` order, so a part is
    // usually sorted already: then its batches are encoded as they are,
    // without the two copies a concatenation and a sort would make.
    let batches = if is_sorted(&batches) {
        batches
    } else {
        let batch = concat_batches(&schema, &batches)?;
        drop(batches);
        let indices = lexsort_to_indices(
            &[
                SortColumn {
                    values: Arc::clone(batch.column(0)),
                    options: None,
                },
                SortColumn {
                    values: Arc::clone(batch.column(3)),
                    options: None,
                },
            ],
            None,
        )?;
        vec![take_record_batch(&batch, &indices)?]
    };
    let timestamps = |b: &RecordBatch| {
        b.column(0)
            .as_primitive::<TimestampMillisecondType>()
            .values()
            .clone()
    };
    let min_ts = batches.iter().find_map(|b| timestamps(b).first().copied());
    let max_ts = batches
        .iter()
        .rev()
        .find_map(|b| timestamps(b).last().copied());
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let build_ms = millis(started);

    let encode_started = Instant::now();
    let parquet_err = |source| CacheError::Parquet {
        path: path.to_string(),
        source,
    };
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, schema, Some((*props).clone())).map_err(parquet_err)?;
    for batch in &batches {
        writer.write(batch).map_err(parquet_err)?;
    }
    writer.close().map_err(parquet_err)?;
    Ok(EncodedPart {
        bytes: Bytes::from(out),
        rows: rows as u64,
        min_ts,
        max_ts,
        build_ms,
        encode_ms: millis(encode_started),
    })
}

/// Whether the rows of `batches`, in order, never go back in
/// `(timestamp, sequence_number)`.
fn is_sorted(batches: &[RecordBatch]) -> bool {
    let mut previous: Option<(i64, u64)> = None;
    for batch in batches {
        let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
        let seq = batch.column(3).as_primitive::<UInt64Type>();
        for key in ts
            .values()
            .iter()
            .copied()
            .zip(seq.values().iter().copied())
        {
            if previous.is_some_and(|p| p > key) {
                return false;
            }
            previous = Some(key);
        }
    }
    true
}

pub(crate) fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{
        ListArray, StringArray, TimestampMillisecondArray, UInt64Array,
    };
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    fn batch(rows: &[(i64, u64)]) -> RecordBatch {
        let n = rows.len();
        RecordBatch::try_new(
            event_schema(),
            vec![
                Arc::new(
                    TimestampMillisecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from(vec!["log"; n])),
                Arc::new(StringArray::from(vec![None::<&str>; n])),
                Arc::new(UInt64Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(vec!["m"; n])),
                Arc::new(ListArray::new_null(
                    Arc::new(datafusion::arrow::datatypes::Field::new_list_field(
                        datafusion::arrow::datatypes::DataType::Utf8,
                        true,
                    )),
                    n,
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn parts_are_sorted_by_timestamp_then_sequence() {
        let batches = vec![batch(&[(5, 2), (3, 9)]), batch(&[(5, 1), (1, 4)])];
        check_schema(batches[0].schema().as_ref()).unwrap();
        let props = Arc::new(WriterProperties::builder().build());
        let part = encode_part(batches, props, &Path::from("p")).unwrap();
        assert_eq!((part.rows, part.min_ts, part.max_ts), (4, Some(1), Some(5)));
        let read: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(part.bytes)
            .unwrap()
            .build()
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        let keys: Vec<(i64, u64)> = read
            .iter()
            .flat_map(|b| {
                let ts = b
                    .column(0)
                    .as_primitive::<TimestampMillisecondType>()
                    .clone();
                let seq = b.column(3).as_primitive::<UInt64Type>().clone();
                (0..b.num_rows()).map(move |i| (ts.value(i), seq.value(i)))
            })
            .collect();
        assert_eq!(keys, vec![(1, 4), (3, 9), (5, 1), (5, 2)]);
    }

    #[test]
    fn sorted_input_is_encoded_as_it_is() {
        let sorted = vec![
            batch(&[(1, 1), (1, 2)]),
            batch(&[]),
            batch(&[(2, 1), (3, 0)]),
        ];
        assert!(is_sorted(&sorted));
        assert!(!is_sorted(&[batch(&[(1, 2)]), batch(&[(1, 1)])]));
        let props = Arc::new(WriterProperties::builder().build());
        let part = encode_part(sorted, props, &Path::from("p")).unwrap();
        assert_eq!((part.rows, part.min_ts, part.max_ts), (4, Some(1), Some(3)));
        let rows: usize = ParquetRecordBatchReaderBuilder::try_new(part.bytes)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(rows, 4);
    }

    /// Scans skip looking for bloom filters because parts have none: a part
    /// written with the cache's settings must agree.
    #[test]
    fn parts_carry_bloom_filters_only_if_scans_look_for_them() {
        let settings = crate::cache::CacheConfig::default().writer_settings();
        let part = encode_part(
            vec![batch(&[(1, 1), (2, 2)])],
            settings.props,
            &Path::from("p"),
        )
        .unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(part.bytes).unwrap();
        let columns: Vec<bool> = reader
            .metadata()
            .row_groups()
            .iter()
            .flat_map(|rg| {
                rg.columns()
                    .iter()
                    .map(|c| c.bloom_filter_offset().is_some())
            })
            .collect();
        assert!(!columns.is_empty());
        assert!(
            columns
                .iter()
                .all(|&has| has == crate::cache::PARTS_HAVE_BLOOM_FILTERS),
            "{columns:?}"
        );
    }

    #[test]
    fn other_schemas_are_refused() {
        let other = Schema::new(vec![datafusion::arrow::datatypes::Field::new(
            "x",
            datafusion::arrow::datatypes::DataType::Int32,
            false,
        )]);
        assert!(matches!(check_schema(&other), Err(crate::Error::Arrow(_))));
    }
}
