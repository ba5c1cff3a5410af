//! [`decode_page`]: one page body decoded on its own, outside a query.

use std::sync::Arc;

use super::{EventPage, Order, Resume, parse_page};

/// Decode one finished result page body (the JSON of a `200` answer) on its
/// own, outside a query: the events with `from <= timestamp < to`,
/// deduplicated within the page, in columnar form.
///
/// This is the decoder the client runs on every page; it is public for
/// benchmarks, fuzzing and tools that hold page bodies saved from the API.
/// Events missing a field are counted in [`PageStats::failed`](super::PageStats::failed), never an
/// error; only a body that is not JSON of the page shape is an error.
///
/// ```
/// use datafusion_rapid7::client::decode_page;
///
/// let body = br#"{"events": [
///     {"timestamp": 1000, "sequence_number_str": "7", "message": "hello"},
///     {"timestamp": 5000, "sequence_number_str": "8", "message": "too late"}
/// ]}"#;
/// let page = decode_page(body, "my-log", 0, 2000).unwrap();
/// assert_eq!(page.columns.len(), 1);
/// assert_eq!(page.columns.message(0), "hello");
/// assert_eq!(page.stats.out_of_window, 1);
/// ```
pub fn decode_page(
    body: &[u8],
    log_id: &str,
    from: i64,
    to: i64,
) -> crate::client::error::Result<EventPage> {
    let parsed = parse_page(
        body,
        log_id,
        (from, to),
        &Resume::default(),
        1,
        Order::OldestFirst,
    )
    .map_err(|e| crate::client::error::Error::Decode {
        url: "(page body)".into(),
        message: e.to_string(),
    })?;
    if parsed.statistical {
        return Err(crate::client::error::Error::Decode {
            url: "(page body)".into(),
            message: "expected an event page, got a statistical result".into(),
        });
    }
    Ok(EventPage {
        log_id: Arc::from(log_id),
        page_number: 1,
        columns: parsed.columns,
        stats: parsed.stats,
        beyond_retention_message: None,
    })
}
