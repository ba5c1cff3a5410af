//! The client against a broken or hostile server: rate-limit headers that
//! read as decades, bodies beyond the cap, pagination that does not advance,
//! a TLS handshake that fails. Each must end clearly, never hang or panic.

use std::time::Duration;

use datafusion_rapid7::client::Error;
use datafusion_rapid7::mock::{Faults, MockConfig, MockServer, NextLinks, RateLimits, ResetHeader};

use crate::support::*;

/// Longer than any of these tests takes when the client behaves; a hang
/// (the old client paused for decades) fails the test instead of the run.
const NO_HANG: Duration = Duration::from_secs(60);

async fn server_with(faults: Faults, limits: RateLimits) -> MockServer {
    MockServer::start(MockConfig {
        faults,
        limits,
        ..MockConfig::default()
    })
    .await
    .expect("simulator")
}

#[tokio::test]
async fn an_epoch_style_reset_waits_for_the_window_not_for_decades() {
    for style in [ResetHeader::EpochSeconds, ResetHeader::EpochMillis] {
        // Four queries per second, then `Remaining: 0` with the reset as an
        // epoch instant and no Retry-After.
        let server = server_with(
            Faults {
                reset_header: style,
                omit_retry_after: true,
                ..Faults::default()
            },
            RateLimits {
                query: 4,
                window: Duration::from_secs(1),
                ..RateLimits::default()
            },
        )
        .await;
        let client = builder_for(&server).with_per_page(100).build().unwrap();
        let fw = log_id(&server, "Firewall");
        let (from, to) = (T0, T0 + 2_000);
        let got = tokio::time::timeout(NO_HANG, fetch(&client, &fw, from, to))
            .await
            .unwrap_or_else(|_| panic!("{style:?}: the client hung on the reset"))
            .unwrap();
        assert!(got == truth(&server, &fw, from, to), "{style:?}: exact");
        let s = client.stats();
        assert!(s.queries > 8, "{style:?}: several windows' worth: {s:?}");
        assert!(
            s.rate_limit_waits > 0,
            "{style:?}: waited for a reset: {s:?}"
        );
    }
}

#[tokio::test]
async fn a_huge_reset_fails_with_the_429_message_instead_of_panicking() {
    // Two queries, ever: the second answer says `Remaining: 0` with a Reset
    // of u64::MAX seconds, the third is a 429 with Retry-After u64::MAX.
    let server = server_with(
        Faults {
            polls: 0,
            ..Faults::default()
        },
        RateLimits {
            query: 2,
            window: Duration::MAX,
            ..RateLimits::default()
        },
    )
    .await;
    let client = builder_for(&server).with_per_page(100).build().unwrap();
    let fw = log_id(&server, "Firewall");
    let e = tokio::time::timeout(NO_HANG, fetch(&client, &fw, T0, T0 + 2_000))
        .await
        .expect("no hang")
        .unwrap_err();
    assert_eq!(e.status(), Some(429), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("API rate limit exceeded") && text.contains("rate-limit wait budget"),
        "{text}"
    );
    assert_eq!(server.query_requests(), 3, "no request after the 429");
}

#[tokio::test]
async fn a_reset_beyond_the_wait_budget_fails_at_once() {
    // An hour-long window written as epoch milliseconds, 429s without
    // Retry-After: the reset is an hour away, beyond the 60 s budget.
    let server = server_with(
        Faults {
            polls: 0,
            reset_header: ResetHeader::EpochMillis,
            omit_retry_after: true,
            ..Faults::default()
        },
        RateLimits {
            query: 2,
            window: Duration::from_secs(3600),
            ..RateLimits::default()
        },
    )
    .await;
    let client = builder_for(&server).with_per_page(100).build().unwrap();
    let fw = log_id(&server, "Firewall");
    let e = tokio::time::timeout(NO_HANG, fetch(&client, &fw, T0, T0 + 2_000))
        .await
        .expect("no hang")
        .unwrap_err();
    assert_eq!(e.status(), Some(429), "{e}");
    assert!(e.to_string().contains("wait 3600s more"), "{e}");
    assert_eq!(client.stats().rate_limit_waits, 0, "nothing waited for");
}

#[tokio::test]
async fn an_oversized_body_fails_at_once_and_says_to_lower_per_page() {
    let server = server().await;
    let client = builder_for(&server)
        .with_max_body_bytes(16 * 1024)
        .build()
        .unwrap();
    let fw = log_id(&server, "Firewall");
    let e = fetch(&client, &fw, T0, T0 + 60_000).await.unwrap_err();
    assert!(
        matches!(e, datafusion_rapid7::Error::Client(Error::Protocol { .. })),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("larger than the cap of 16384 bytes") && text.contains("lower per_page"),
        "{text}"
    );
    assert!(!e.is_retryable());
    assert_eq!(client.stats().retries, 0, "not retried");
    assert_eq!(server.query_requests(), 1);
    // The default cap takes the same page.
    let got = fetch(&client_for(&server), &fw, T0, T0 + 60_000)
        .await
        .unwrap();
    assert_eq!(got.len(), truth(&server, &fw, T0, T0 + 60_000).len());
}

#[tokio::test]
async fn a_failed_tls_handshake_shows_its_cause() {
    // https:// to the plain-HTTP simulator: the handshake fails.
    let server = server().await;
    let endpoint = server.url().replace("http://", "https://");
    let client = builder_for(&server)
        .with_endpoint(endpoint)
        .build()
        .unwrap();
    let e = client.list_logs().await.unwrap_err();
    let Error::RetriesExhausted { source, .. } = &e else {
        panic!("{e:?}");
    };
    let Error::Transport {
        source: Some(cause),
        ..
    } = &**source
    else {
        panic!("{source:?}");
    };
    let text = e.to_string();
    // The message ends with the causes, down to the TLS error itself.
    let mut deepest: &dyn std::error::Error = &**cause;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    assert!(text.contains("could not connect"), "{text}");
    assert!(text.ends_with(&deepest.to_string()), "{text}");
}

/// The client's error for `faults` over a Firewall window of a few pages,
/// and the query requests it made.
async fn paging_error(faults: Faults, from: i64, to: i64) -> (String, usize) {
    let server = server_with(faults, RateLimits::default()).await;
    let client = builder_for(&server).with_per_page(100).build().unwrap();
    let fw = log_id(&server, "Firewall");
    let e = tokio::time::timeout(NO_HANG, fetch(&client, &fw, from, to))
        .await
        .expect("pagination that does not advance stops")
        .unwrap_err();
    assert!(
        matches!(e, datafusion_rapid7::Error::Client(Error::Protocol { .. })),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    (e.to_string(), server.query_requests())
}

#[tokio::test]
async fn alternating_next_links_stop_and_name_the_links() {
    let (text, queries) = paging_error(
        Faults {
            polls: 0,
            next_links: NextLinks::Alternate,
            ..Faults::default()
        },
        T0,
        T0 + 2_000,
    )
    .await;
    // A, B (both new), then A, B, A add nothing: three stalls.
    assert_eq!(queries, 5, "{text}");
    assert!(text.contains("pagination does not advance"), "{text}");
    assert!(
        text.contains("first_from=") && text.contains("sequence_number"),
        "the links Rapid7 sent: {text}"
    );
}

#[tokio::test]
async fn next_links_that_only_change_a_parameter_stop() {
    let (text, queries) = paging_error(
        Faults {
            polls: 0,
            next_links: NextLinks::Repeat,
            ..Faults::default()
        },
        T0,
        T0 + 2_000,
    )
    .await;
    assert_eq!(queries, 4, "one page, then three that repeat it: {text}");
    assert!(text.contains("attempt="), "{text}");
    assert!(
        text.contains("did not move the cursor past (timestamp"),
        "{text}"
    );
}

#[tokio::test]
async fn pages_at_or_below_the_cursor_stop() {
    // The links creep one sequence number at a time from 0, far below the
    // events already returned: every page repeats the first.
    let (text, queries) = paging_error(
        Faults {
            polls: 0,
            next_links: NextLinks::Creep,
            ..Faults::default()
        },
        T0,
        T0 + 2_000,
    )
    .await;
    assert_eq!(queries, 4, "{text}");
}

#[tokio::test]
async fn a_cursor_that_creeps_over_an_empty_window_stops_at_the_page_cap() {
    // No events (a window in the future), and a Next link whose cursor moves
    // on every page: no stall is ever seen, the page cap ends it.
    let from = datafusion_rapid7::time::now_ms() + 86_400_000;
    let (text, queries) = paging_error(
        Faults {
            polls: 0,
            next_links: NextLinks::Creep,
            ..Faults::default()
        },
        from,
        from + 1,
    )
    .await;
    assert_eq!(queries, 1_000, "{text}");
    assert!(text.contains("beyond 1000 pages"), "{text}");
}
