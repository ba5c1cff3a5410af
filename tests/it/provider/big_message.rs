//! A 10 MB message end to end: the simulator serves it in a page over HTTP,
//! the provider writes it into the cache and reads it back, cold and warm,
//! byte for byte, on a local directory and on S3.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::UInt64Type;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::mock::{MockDataset, MockServer};
use tempfile::TempDir;

use super::{MIN, session_with, sql, window};
use crate::support::T0;

const LOG: &str = "Auth Service";

/// 10 MiB and a little more: quotes, backslashes, control characters (sent
/// as `\u00XX`), tabs, CR LF, JSON-looking text, and 2-, 3- and 4-byte UTF-8.
fn ten_megabytes() -> String {
    let chunk = "a\"b\\c\u{1}\u{1f}\td é ✓ 𝄞 😀 {\"k\":[1,\"\\u0041\"]}\r\n";
    let text = chunk.repeat(10 * 1024 * 1024 / chunk.len() + 1);
    assert!(text.len() > 10 * 1024 * 1024);
    text
}

/// The simulator with one event of [`LOG`] in `[T0, T0 + 1 min)` carrying
/// the big message, and that event's sequence number.
async fn server_with_a_big_message(message: &str) -> (MockServer, u64) {
    crate::support::server_with_message(MockDataset::standard(), LOG, message).await
}

/// Query the window cold, then warm, on `cache`; every `(sequence_number,
/// message)` must equal the simulator's, the big one included.
async fn cold_and_warm_are_exact(server: &MockServer, big: u64, cache: SegmentCache) {
    let (ctx, _) = session_with(server, cache, |c| c).await;
    let log = crate::support::log_id(server, LOG);
    let truth: Vec<(u64, String)> = server
        .dataset()
        .events(&log, T0, T0 + MIN)
        .into_iter()
        .map(|e| (e.sequence_number, e.message))
        .collect();
    assert!(truth.iter().any(|(s, m)| *s == big && m.len() > 10 << 20));
    let q = format!(
        "SELECT sequence_number, message FROM rapid7_logs WHERE log_name = '{LOG}' AND {} \
         ORDER BY timestamp, sequence_number",
        window(T0, T0 + MIN)
    );
    for round in ["cold", "warm"] {
        let before = server.query_requests();
        let batches = sql(&ctx, &q).await.unwrap();
        let mut got = Vec::new();
        for b in &batches {
            let seq = b.column(0).as_primitive::<UInt64Type>();
            let msg = b.column(1).as_string::<i32>();
            got.extend((0..b.num_rows()).map(|i| (seq.value(i), msg.value(i))));
        }
        assert_eq!(got.len(), truth.len(), "{round}: rows");
        for ((seq, message), (want_seq, want)) in got.iter().zip(&truth) {
            assert_eq!(seq, want_seq, "{round}");
            // Not assert_eq!: a failure would print 10 MB.
            assert!(
                message == want,
                "{round}: message of {seq} differs ({} bytes, want {})",
                message.len(),
                want.len()
            );
        }
        match round {
            "cold" => assert!(server.query_requests() > before, "cold: fetched"),
            _ => assert_eq!(server.query_requests(), before, "warm: from the cache"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_message_survives_http_and_a_local_cache_byte_for_byte() {
    let message = ten_megabytes();
    let (server, big) = server_with_a_big_message(&message).await;
    let dir = TempDir::new().unwrap();
    let cache = SegmentCache::open(dir.path().to_str().unwrap(), CacheConfig::default()).unwrap();
    cold_and_warm_are_exact(&server, big, cache).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_megabyte_message_survives_http_and_an_s3_cache_byte_for_byte() {
    let message = ten_megabytes();
    let (server, big) = server_with_a_big_message(&message).await;
    let s3 = crate::cache::s3::S3Server::start().await;
    let cache = SegmentCache::new(s3.root("big"), CacheConfig::default());
    cold_and_warm_are_exact(&server, big, cache).await;
}
