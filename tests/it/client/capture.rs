//! Pages of a real capture, served as Rapid7 sent them: four events of a
//! query against the US service in 2020 (demisto/content's Rapid7
//! InsightIDR README), whose sequence numbers rise by 4096 steps within a
//! millisecond and are not monotone across milliseconds; and a page whose
//! every event is unreadable. A canned HTTP server on loopback answers in
//! place of the simulator, which makes its own data.

use std::sync::{Arc, Mutex};

use datafusion_rapid7::client::{Error, EventPage};
use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const LOG: &str = "ab5a7594-5fde-4c5c-9ee6-e67291f0a40c";
const FROM: i64 = 1_605_100_000_000;
const TO: i64 = 1_605_600_000_000;

/// `(timestamp, sequence_number)` of the capture's events #1, #2, #7, #17.
const CAPTURE: [(i64, u64); 4] = [
    (1_605_102_271_671, 3_237_201_778_429_120_512),
    (1_605_102_271_671, 3_237_201_778_429_128_704),
    (1_605_535_859_467, 3_237_199_644_177_084_416),
    (1_605_541_577_601, 3_237_202_737_554_612_224),
];

/// One event as the capture shows it: the number a rounded double, the
/// exact value in `sequence_number_str` and the `Context` link.
fn event(base: &str, (ts, seq): (i64, u64)) -> serde_json::Value {
    serde_json::json!({
        "labels": [],
        "links": [{"href": format!(
            "{base}/log_search/query/context/{seq}?per_page=50&timestamp={ts}&log_keys={LOG}&context_type=SURROUND"),
            "rel": "Context"}],
        "log_id": LOG,
        "message": format!("{{\"destination_asset\":\"jenkinsnode.someorganiztion.co\",\"seq\":\"{seq}\"}}"),
        "sequence_number": seq as f64,
        "sequence_number_str": seq.to_string(),
        "timestamp": ts
    })
}

/// Serves `answer(path_and_query, base)` as `200 application/json` to every
/// request; returns the base URL, the requests seen and the server's task
/// (dropping it stops the server).
async fn canned(
    answer: impl Fn(&str, &str) -> String + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>, JoinSet<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (answer, seen2, base2) = (Arc::new(answer), Arc::clone(&seen), base.clone());
    let mut server = JoinSet::new();
    server.spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (answer, seen, base) = (Arc::clone(&answer), Arc::clone(&seen2), base2.clone());
            connections.spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                seen.lock().unwrap().push(target.clone());
                let body = answer(&target, &base);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (base, seen, server)
}

async fn pages(base: &str) -> Result<Vec<EventPage>, Error> {
    let client = datafusion_rapid7::client::ClientBuilder::new()
        .with_endpoint(base)
        .with_api_key("k")
        .build()
        .unwrap();
    client
        .query_events(LOG, FROM, TO)
        .unwrap()
        .into_stream()
        .try_collect()
        .await
}

#[tokio::test]
async fn the_real_capture_pages_in_two_pages_without_duplicate_or_stall() {
    let (base, seen, _server) = canned(|target, base| {
        let body = if target.contains("sequence_number=") {
            // The Next page: events after the cursor, in receipt order.
            serde_json::json!({"logs": [LOG], "events": [event(base, CAPTURE[2]), event(base, CAPTURE[3])]})
        } else {
            let (ts, seq) = CAPTURE[1];
            serde_json::json!({"logs": [LOG],
                "events": [event(base, CAPTURE[0]), event(base, CAPTURE[1])],
                "links": [{"rel": "Next", "href": format!(
                    "{base}/query/logs/{LOG}?from={ts}&to={TO}&per_page=2&sequence_number={seq}&next_page=true")}]})
        };
        body.to_string()
    })
    .await;
    let pages = pages(&base).await.unwrap();
    assert_eq!(pages.len(), 2);
    let got: Vec<(i64, u64)> = pages
        .iter()
        .flat_map(|p| {
            p.columns
                .timestamps
                .iter()
                .copied()
                .zip(p.columns.sequence_numbers.iter().copied())
        })
        .collect();
    assert_eq!(got, CAPTURE.to_vec());
    let duplicates: u64 = pages.iter().map(|p| p.stats.duplicates).sum();
    let failed: u64 = pages.iter().map(|p| p.stats.failed).sum();
    assert_eq!((duplicates, failed), (0, 0));
    assert_eq!(seen.lock().unwrap().len(), 2, "two requests, no stall");
}

#[tokio::test]
async fn a_page_whose_every_event_is_rejected_is_an_error_naming_why() {
    let (base, _, _server) = canned(|_, _| {
        // Above 2^53, no sequence_number_str and no Context link: nothing
        // says which event this is.
        serde_json::json!({"logs": [LOG], "events": [
            {"timestamp": CAPTURE[0].0, "sequence_number": 3_237_201_778_429_120_512f64,
             "log_id": LOG, "message": "m", "links": []}]})
        .to_string()
    })
    .await;
    let e = pages(&base).await.unwrap_err().to_string();
    assert!(
        e.contains("every event of page 1 was rejected")
            && e.contains("sequence_number_str missing"),
        "{e}"
    );
}
