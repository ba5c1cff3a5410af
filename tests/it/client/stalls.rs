//! Timeouts against a simulator that accepts requests and answers late
//! (`Faults::stall`): the request timeout on an event page and on a
//! statistical query, the query timeout on polls that take too long.

use std::time::Duration;

use datafusion_rapid7::client::{Client, CountRequest, PollConfig, RetryConfig, Wait};
use datafusion_rapid7::mock::{Faults, MockServer, RequestKind, Stall, StallOn};

use crate::support::*;

/// Longer than any test runs: a stalled answer never arrives in time.
const FOREVER: Duration = Duration::from_secs(600);

async fn stalling(on: StallOn, delay: Duration, polls: u32) -> MockServer {
    let server = server().await;
    server.set_faults(Faults {
        polls,
        stall: Some(Stall { on, delay }),
        ..Faults::default()
    });
    server
}

/// A client that gives up on one request after `request_timeout`, retries
/// once, and polls quickly.
fn impatient(server: &MockServer, request_timeout: Duration, query_timeout: Duration) -> Client {
    builder_for(server)
        .with_request_timeout(request_timeout)
        .with_retry(RetryConfig {
            max_retries: 1,
            backoff: datafusion_rapid7::client::BackoffConfig {
                init: Duration::from_millis(1),
                max: Duration::from_millis(2),
                base: 2.0,
            },
            ..RetryConfig::default()
        })
        .with_poll(PollConfig {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(5),
            query_timeout,
            ..PollConfig::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_event_page_answered_too_late_is_a_request_timeout() {
    let server = stalling(StallOn::EventQueries, FOREVER, 0).await;
    let client = impatient(&server, Duration::from_millis(200), Duration::from_secs(60));
    let fw = log_id(&server, "Firewall");
    let e = fetch(&client, &fw, T0, T0 + 60_000).await.unwrap_err();
    assert_eq!(e.timeout(), Some(Wait::Request), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("timed out after 200ms"), "{text}");
    assert!(text.contains("raise RAPID7_REQUEST_TIMEOUT"), "{text}");
    // The simulator got the query, and the retry: the server was there.
    let queries = server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Query)
        .count();
    assert_eq!(queries, 2, "the request and its one retry");
    // Management requests are not stalled: the log list answers.
    assert!(client.list_logs().await.is_ok());
}

#[tokio::test]
async fn a_statistical_query_answered_too_late_is_a_request_timeout() {
    let server = stalling(StallOn::Statistics, FOREVER, 1).await;
    let client = impatient(&server, Duration::from_millis(200), Duration::from_secs(60));
    let fw = log_id(&server, "Firewall");
    // Event pages still answer at once.
    assert!(
        !fetch(&client, &fw, T0, T0 + 60_000)
            .await
            .unwrap()
            .is_empty()
    );
    let e = client
        .count_events(&CountRequest {
            log_id: fw.clone(),
            from: T0,
            to: T0 + 60_000,
            filter: None,
            slices: 1,
        })
        .await
        .unwrap_err();
    let e = datafusion_rapid7::Error::from(e);
    assert_eq!(e.timeout(), Some(Wait::Request), "{e:?}");
    assert!(
        e.to_string().contains("raise RAPID7_REQUEST_TIMEOUT"),
        "{e}"
    );
}

#[tokio::test]
async fn polls_that_answer_slowly_run_out_the_query_timeout() {
    // Each poll answers (in progress) after 40 ms, well within the request
    // timeout; the query needs more polls than fit in 100 ms.
    let server = stalling(StallOn::Polls, Duration::from_millis(40), 20).await;
    let client = impatient(&server, Duration::from_secs(30), Duration::from_millis(100));
    let fw = log_id(&server, "Firewall");
    let e = fetch(&client, &fw, T0, T0 + 60_000).await.unwrap_err();
    assert_eq!(e.timeout(), Some(Wait::Query), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("Rapid7 did not finish the query within 100ms"),
        "{text}"
    );
    assert!(text.ends_with("raise RAPID7_QUERY_TIMEOUT"), "{text}");
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Poll)
        .count();
    assert!((2..20).contains(&polls), "{polls} polls, all answered");
}
