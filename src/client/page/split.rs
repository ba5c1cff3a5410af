//! Merged pages decoded ([`parse_merged_page`], with the checks of
//! `merged.rs`) and split by log ([`split`]).

use super::merged::{Asked, Stream};
use super::{EventColumns, Order, ParsedBody, Resume, parse_page_of};

/// Parse a merged page of `asked`'s logs (`label` names them in logs),
/// in `order`, after `stream` and `resume`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn parse_merged_page(
    body: &[u8],
    label: &str,
    asked: &Asked,
    stream: &Stream,
    window: (i64, i64),
    resume: &Resume,
    page_number: u64,
    order: Order,
) -> Result<ParsedBody, serde_json::Error> {
    parse_page_of(
        body,
        label,
        Some((asked, stream)),
        window,
        resume,
        page_number,
        order,
    )
}

/// `columns` (a merged page's kept events) split by `lanes` (their lanes,
/// one per event) into one set of columns per lane; `count` lanes.
pub(crate) fn split(columns: &EventColumns, lanes: &[u32], count: usize) -> Vec<EventColumns> {
    let mut out: Vec<EventColumns> = (0..count).map(|_| EventColumns::new()).collect();
    for (i, lane) in lanes.iter().enumerate() {
        let labels: Vec<String> = columns.labels(i).map(str::to_string).collect();
        // Offsets fit: each lane holds a part of a page that fit.
        let _ = out[*lane as usize].push(
            columns.timestamps[i],
            columns.sequence_numbers[i],
            columns.message(i),
            &labels,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn page(events: &[(&str, i64, u64)]) -> String {
        let events: Vec<String> = events
            .iter()
            .map(|(log, ts, seq)| {
                format!(
                    r#"{{"log_id":"{log}","timestamp":{ts},"sequence_number_str":"{seq}","message":"m{seq}"}}"#
                )
            })
            .collect();
        format!(r#"{{"events":[{}]}}"#, events.join(","))
    }

    fn asked() -> Asked {
        Asked::new(&[Arc::from("a"), Arc::from("b")])
    }

    fn parse(body: &str, stream: &Stream) -> ParsedBody {
        parse_merged_page(
            body.as_bytes(),
            "2 logs",
            &asked(),
            stream,
            (0, 100),
            &Resume::default(),
            1,
            Order::OldestFirst,
        )
        .unwrap()
    }

    #[test]
    fn a_merged_page_splits_by_log() {
        let p = parse(
            &page(&[("a", 1, 5), ("b", 1, 6), ("a", 2, 1)]),
            &Stream::default(),
        );
        let lanes = p.merged.unwrap();
        assert_eq!(lanes.violation, None);
        assert_eq!(lanes.kept, vec![0, 1, 0]);
        let split = split(&p.columns, &lanes.kept, 2);
        assert_eq!(split[0].timestamps, vec![1, 2]);
        assert_eq!(split[0].message(1), "m1");
        assert_eq!(split[1].sequence_numbers, vec![6]);
    }

    #[test]
    fn every_broken_rule_is_a_violation() {
        let violation = |events: &[(&str, i64, u64)], stream: &Stream| {
            parse(&page(events), stream).merged.unwrap().violation
        };
        let none = Stream::default();
        assert!(
            violation(&[("a", 2, 1), ("b", 1, 9)], &none)
                .unwrap()
                .contains("out of")
        );
        assert!(
            violation(&[("a", 1, 7), ("b", 1, 7)], &none)
                .unwrap()
                .contains("share")
        );
        assert!(
            violation(&[("a", 1, 7), ("c", 2, 7)], &none)
                .unwrap()
                .contains("\"c\"")
        );
        let no_log = r#"{"events":[{"timestamp":1,"sequence_number_str":"1","message":"m"}]}"#;
        assert!(
            parse(no_log, &none)
                .merged
                .unwrap()
                .violation
                .unwrap()
                .contains("no log_id")
        );
        // Across pages: below the last event, unless an exact repeat.
        let after = parse(&page(&[("a", 1, 5), ("b", 1, 6)]), &none)
            .merged
            .unwrap()
            .stream;
        assert_eq!(violation(&[("b", 1, 6), ("a", 1, 8)], &after), None);
        assert!(violation(&[("a", 1, 6)], &after).is_some());
        assert!(violation(&[("a", 1, 4)], &after).is_some());
        // The same log's event twice in a row is a duplicate, not a violation.
        assert_eq!(violation(&[("a", 1, 5), ("a", 1, 5)], &none), None);
    }
}

#[cfg(test)]
mod newest_tests {
    use std::sync::Arc;

    use super::*;

    /// Newest first, the stream must fall strictly in `(timestamp,
    /// sequence_number)`: the oldest-first order is a violation.
    #[test]
    fn newest_first_the_stream_must_fall() {
        let asked = Asked::new(&[Arc::from("a"), Arc::from("b")]);
        let violation = |events: &[(&str, i64, u64)]| {
            let events: Vec<String> = events
                .iter()
                .map(|(log, ts, seq)| {
                    format!(
                        r#"{{"log_id":"{log}","timestamp":{ts},"sequence_number_str":"{seq}","message":"m"}}"#
                    )
                })
                .collect();
            let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
            parse_merged_page(
                body.as_bytes(),
                "2 logs",
                &asked,
                &Stream::default(),
                (0, 100),
                &Resume::default(),
                1,
                Order::NewestFirst,
            )
            .unwrap()
            .merged
            .unwrap()
            .violation
        };
        assert_eq!(violation(&[("a", 3, 1), ("b", 2, 9), ("a", 2, 8)]), None);
        let up = violation(&[("a", 2, 8), ("b", 2, 9)]).unwrap();
        assert!(up.contains("(2, 9) after (2, 8)"), "{up}");
        assert!(violation(&[("a", 1, 1), ("b", 3, 1)]).is_some());
        assert!(violation(&[("a", 3, 1), ("c", 2, 1)]).is_some());
    }
}
