//! Committed segments of a known event set, written through the library's
//! writer: shared by the cache tests and rapid7-sql's `cache` command tests.

use std::sync::Arc;

use datafusion::arrow::array::{
    ListBuilder, RecordBatch, StringArray, StringBuilder, TimestampMillisecondArray, UInt64Array,
};
use datafusion_rapid7::cache::{CommitOutcome, SegmentCache};
use datafusion_rapid7::events::event_schema;
use datafusion_rapid7::time::TimeRange;

use super::T0;

/// A Rapid7-style log id.
pub const LOG: &str = "0b6d1bb9-6f5a-4a3b-9f3e-1d2c3b4a5f60";

/// One event: (timestamp, sequence_number, log_id, log_name, message, labels).
pub type Row = (i64, u64, String, Option<String>, String, Vec<String>);

/// The deterministic event set of `log` in `range`: events every `step` ms,
/// one to three per millisecond, sorted by (timestamp, sequence_number).
pub fn truth(log: &str, range: TimeRange, step: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let first = range.start() + (step as i64 - range.start().rem_euclid(step as i64)) % step as i64;
    for ts in (first..range.end()).step_by(step) {
        for k in 0..=(ts.rem_euclid(3) as u64) {
            let seq = (ts - T0) as u64 * 4 + k;
            rows.push((
                ts,
                seq,
                log.to_string(),
                (k != 2).then(|| "Firewall".to_string()),
                format!("{{\"action\":\"allow\",\"ts\":{ts},\"k\":{k}}}"),
                if k == 0 {
                    vec!["l-a".into(), "l-b".into()]
                } else {
                    vec![]
                },
            ));
        }
    }
    rows
}

pub fn to_batch(rows: &[Row]) -> RecordBatch {
    let ts = TimestampMillisecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .with_timezone("UTC");
    let seq = UInt64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
    let log_id = StringArray::from(rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>());
    let log_name = StringArray::from(rows.iter().map(|r| r.3.as_deref()).collect::<Vec<_>>());
    let message = StringArray::from(rows.iter().map(|r| r.4.as_str()).collect::<Vec<_>>());
    let mut labels = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for l in &r.5 {
            labels.values().append_value(l);
        }
        labels.append(true);
    }
    RecordBatch::try_new(
        event_schema(),
        vec![
            Arc::new(ts),
            Arc::new(log_id),
            Arc::new(log_name),
            Arc::new(seq),
            Arc::new(message),
            Arc::new(labels.finish()),
        ],
    )
    .expect("event batch")
}

/// Push `rows` in batches of `batch_rows`, last batch first (so the writer
/// has to sort), and commit.
pub async fn write_segment(
    cache: &SegmentCache,
    log: &str,
    range: TimeRange,
    rows: &[Row],
    batch_rows: usize,
) -> CommitOutcome {
    let mut writer = cache.writer(log, range).expect("writer");
    for chunk in rows.chunks(batch_rows.max(1)).rev() {
        writer.push(to_batch(chunk)).await.expect("push");
    }
    writer.commit().await.expect("commit")
}
