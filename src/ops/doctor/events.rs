//! The events of a raw answer, reduced to what the doctor looks at: their
//! key, their log and what kind of JSON their message is. The message text
//! itself is never kept.

use serde_json::Value;

/// What kind of JSON value an event's `message` was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    Text,
    Object,
    Other,
    Missing,
}

/// One event of a raw answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) ts: Option<i64>,
    pub(crate) seq: Option<u64>,
    pub(crate) log_id: Option<String>,
    pub(crate) message: MessageKind,
}

/// The events of a final body, in the order they came.
pub(crate) fn events_of(body: &Value) -> Vec<Seen> {
    let Some(events) = body.get("events").and_then(Value::as_array) else {
        return Vec::new();
    };
    let int = |v: Option<&Value>| match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    events
        .iter()
        .map(|e| {
            let seq = match e.get("sequence_number_str") {
                Some(Value::String(s)) => s.trim().parse().ok(),
                Some(Value::Number(n)) => n.as_u64(),
                _ => e
                    .get("sequence_number")
                    .and_then(Value::as_u64)
                    .filter(|n| *n < 1 << 53),
            };
            Seen {
                ts: int(e.get("timestamp")),
                seq,
                log_id: e.get("log_id").and_then(Value::as_str).map(str::to_string),
                message: match e.get("message") {
                    Some(Value::String(_)) => MessageKind::Text,
                    Some(Value::Object(_)) => MessageKind::Object,
                    Some(Value::Null) | None => MessageKind::Missing,
                    Some(_) => MessageKind::Other,
                },
            }
        })
        .collect()
}

/// The timestamps of `events`, in order (events without one skipped).
pub(crate) fn stamps(events: &[Seen]) -> Vec<i64> {
    events.iter().filter_map(|e| e.ts).collect()
}

/// Events stamped exactly `t`.
pub(crate) fn at(events: &[Seen], t: i64) -> usize {
    events.iter().filter(|e| e.ts == Some(t)).count()
}

/// A millisecond of `events` (in key order) with events before and after
/// it in the same answer, so that the answer holds every event of it:
/// `(previous ms, the ms, next ms)`.
pub(crate) fn inner_millisecond(events: &[Seen]) -> Option<(i64, i64, i64)> {
    let mut ms: Vec<i64> = stamps(events);
    ms.dedup();
    // Prefer the middle: far from either end of the answer.
    let mid = ms.len() / 2;
    (mid >= 1 && mid + 1 < ms.len()).then(|| (ms[mid - 1], ms[mid], ms[mid + 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_no_text() {
        let body = serde_json::json!({"events": [
            {"timestamp": 5, "sequence_number_str": "9", "log_id": "a", "message": "secret"},
            {"timestamp": "6", "sequence_number": 3, "message": {"k": "secret"}},
            {"sequence_number_str": 4, "message": null},
        ]});
        let seen = events_of(&body);
        assert_eq!(
            seen.iter()
                .map(|e| (e.ts, e.seq, e.message))
                .collect::<Vec<_>>(),
            [
                (Some(5), Some(9), MessageKind::Text),
                (Some(6), Some(3), MessageKind::Object),
                (None, Some(4), MessageKind::Missing)
            ]
        );
        assert!(!format!("{seen:?}").contains("secret"));
        let ms = |t: &[i64]| -> Vec<Seen> {
            t.iter()
                .map(|t| Seen {
                    ts: Some(*t),
                    seq: None,
                    log_id: None,
                    message: MessageKind::Text,
                })
                .collect()
        };
        assert_eq!(inner_millisecond(&ms(&[1, 2, 2, 3, 4])), Some((2, 3, 4)));
        assert_eq!(inner_millisecond(&ms(&[1, 1])), None);
    }
}
