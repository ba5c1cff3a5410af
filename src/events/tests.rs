//! Client pages through the decoder: what the client accepts becomes rows,
//! exactly.

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::datatypes::{TimestampMillisecondType, UInt64Type};
use proptest::prelude::*;

use super::{columns, page_to_batch};
use crate::client::decode_page;

const LOG: &str = "565c1b7b-c08b-4c87-a42a-ab08bad56071";

fn event(ts: i64, seq: u64, msg: &str) -> String {
    format!(
        r#"{{"labels":[],"timestamp":{ts},"sequence_number":{},"sequence_number_str":"{seq}","log_id":"{LOG}","message":{}}}"#,
        seq as f64,
        serde_json::to_string(msg).unwrap()
    )
}

fn page(events: &[String]) -> String {
    format!(
        r#"{{"logs":["{LOG}"],"leql":{{"statement":"","during":{{"from":0,"to":9}}}},"events":[{}]}}"#,
        events.join(",")
    )
}

#[test]
fn a_ten_megabyte_message_becomes_one_value() {
    // 10 MiB of text with escapes, unicode and a newline in every kilobyte.
    let chunk = "x\"y\\z é ✓\n".repeat(1024 / 14);
    let big = chunk.repeat(10 * 1024 * 1024 / chunk.len() + 1);
    let body = page(&[
        event(1, 1, "small"),
        event(2, 2, &big),
        event(3, 3, "after"),
    ]);
    let decoded = decode_page(body.as_bytes(), LOG, 0, 10).unwrap();
    let batch = page_to_batch(decoded, Some("big")).unwrap();
    let messages = batch
        .column_by_name(columns::MESSAGE)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(messages.value(0), "small");
    assert_eq!(messages.value(1), big);
    assert_eq!(messages.value(2), "after");
}

/// One event of a page: well formed, or missing what the decoder needs.
fn any_event() -> impl Strategy<Value = (Option<i64>, u64, String)> {
    (
        prop_oneof![4 => (0i64..20).prop_map(Some), 1 => Just(None)],
        0u64..4,
        "\\PC{0,12}",
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every event the client accepts is one row, with its timestamp,
    /// sequence number and message; nothing else is.
    #[test]
    fn accepted_events_are_the_rows(events in prop::collection::vec(any_event(), 0..30)) {
        let texts: Vec<String> = events
            .iter()
            .map(|(ts, seq, msg)| match ts {
                Some(ts) => event(*ts, *seq, msg),
                None => format!(r#"{{"sequence_number_str":"{seq}","log_id":"{LOG}","message":"m"}}"#),
            })
            .collect();
        let decoded = decode_page(page(&texts).as_bytes(), LOG, 0, 100).unwrap();
        let accepted = decoded.stats.accepted;
        let mut want: Vec<(i64, u64, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (ts, seq, msg) in &events {
            if let Some(ts) = ts
                && seen.insert((*ts, *seq))
            {
                want.push((*ts, *seq, msg.clone()));
            }
        }
        let batch = page_to_batch(decoded, None).unwrap();
        prop_assert_eq!(batch.num_rows() as u64, accepted);
        let ts = batch.column_by_name(columns::TIMESTAMP).unwrap().as_primitive::<TimestampMillisecondType>();
        let seq = batch.column_by_name(columns::SEQUENCE_NUMBER).unwrap().as_primitive::<UInt64Type>();
        let msg = batch.column_by_name(columns::MESSAGE).unwrap().as_string::<i32>();
        let mut got: Vec<(i64, u64, String)> = (0..batch.num_rows())
            .map(|i| (ts.value(i), seq.value(i), msg.value(i).to_string()))
            .collect();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
    }
}
