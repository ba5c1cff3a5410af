//! The client against the simulator over real HTTP on loopback.

mod capture;
mod completeness;
mod hostile;
mod stalls;

use std::collections::HashSet;
use std::time::Duration;

use datafusion_rapid7::client::Error;
use datafusion_rapid7::client::{ClientBuilder, PollConfig, RetryConfig, Wait};
use datafusion_rapid7::mock::{Faults, RequestKind};

use crate::support::*;

fn assert_exact(got: &[Row], want: &[Row]) {
    let keys: HashSet<(i64, u64)> = got.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(keys.len(), got.len(), "duplicates in the client's result");
    assert_eq!(got.len(), want.len(), "event count");
    assert!(got == want, "events differ from the simulator's truth");
}

#[tokio::test]
async fn lists_and_resolves_logs() {
    let server = server().await;
    let client = client_for(&server);
    let logs = client.list_logs().await.unwrap();
    let want: Vec<&str> = server
        .dataset()
        .logs()
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    let got: Vec<&str> = logs.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(got, want);

    let fw = client.resolve_log("firewall").await.unwrap();
    assert_eq!(fw.id, log_id(&server, "Firewall"));
    let by_id = client.resolve_log(&fw.id).await.unwrap();
    assert_eq!(by_id.name, "Firewall");
    let e = client.resolve_log("Firewal").await.unwrap_err();
    assert!(e.to_string().contains("did you mean Firewall"), "{e}");

    server.set_faults(Faults {
        unwrapped_log_list: true,
        unwrapped_log: true,
        ..Faults::default()
    });
    assert_eq!(client.list_logs().await.unwrap().len(), want.len());
    assert_eq!(client.get_log(&fw.id).await.unwrap().name, "Firewall");
}

#[tokio::test]
async fn windows_return_exactly_the_simulators_events() {
    let server = server().await;
    let client = client_for(&server);
    let fw = log_id(&server, "Firewall");
    // A window around a 700-event burst in one millisecond: pages split it.
    let (from, to) = (T0 - 20_000, T0 + 40_000);
    let want = truth(&server, &fw, from, to);
    assert!(want.len() > 1500, "window should span several pages");
    let burst_ms = want.iter().fold(
        std::collections::HashMap::<i64, usize>::new(),
        |mut m, r| {
            *m.entry(r.0).or_default() += 1;
            m
        },
    );
    assert!(burst_ms.values().any(|&n| n > 500), "a burst spans pages");
    let got = fetch(&client, &fw, from, to).await.unwrap();
    assert_exact(&got, &want);

    // Windows that start and end exactly on events' milliseconds.
    let first = want[10].0;
    let last = want[want.len() - 10].0;
    let inner = fetch(&client, &fw, first, last).await.unwrap();
    assert_exact(&inner, &truth(&server, &fw, first, last));
    assert_eq!(inner[0].0, first, "an event at `from` is included");
    assert!(
        inner.iter().all(|r| r.0 < last),
        "an event at `to` is excluded"
    );

    // A one-millisecond window holding the whole burst.
    let (burst_at, _) = burst_ms.iter().max_by_key(|(_, n)| **n).unwrap();
    let one = fetch(&client, &fw, *burst_at, burst_at + 1).await.unwrap();
    assert_exact(&one, &truth(&server, &fw, *burst_at, burst_at + 1));

    // A sparse log, an empty window, a name with quotes and unicode.
    for name in ["Windows Defender", "Auth Service", "Web Proxy"] {
        let id = log_id(&server, name);
        let got = fetch(&client, &id, T0, T0 + 90_000).await.unwrap();
        assert_exact(&got, &truth(&server, &id, T0, T0 + 90_000));
    }
    let odd = server
        .dataset()
        .logs()
        .iter()
        .find(|l| l.name.contains('"'))
        .unwrap()
        .id
        .clone();
    let got = fetch(&client, &odd, T0, T0 + 60_000).await.unwrap();
    assert_exact(&got, &truth(&server, &odd, T0, T0 + 60_000));
    let empty = fetch(&client, &fw, T0 + 1, T0 + 2).await.unwrap();
    assert_exact(&empty, &truth(&server, &fw, T0 + 1, T0 + 2));
}

#[tokio::test]
async fn pages_are_full_and_counted() {
    let server = server().await;
    let client = client_for(&server);
    let fw = log_id(&server, "Firewall");
    let want = truth(&server, &fw, T0, T0 + 30_000);
    fetch(&client, &fw, T0, T0 + 30_000).await.unwrap();
    let pages = client.stats().pages as usize;
    // per_page = 500; the simulator's `to` is inclusive, which may add a page.
    assert!(pages >= want.len().div_ceil(500) && pages <= want.len().div_ceil(500) + 1);
    assert_eq!(server.query_requests(), pages);
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.kind == RequestKind::Query)
            .all(|r| r.per_page == Some(500))
    );
    assert_eq!(client.stats().events as usize, want.len());
}

async fn exact_under(faults: Faults) -> datafusion_rapid7::client::ClientStatsSnapshot {
    let server = server().await;
    server.set_faults(faults.clone());
    let client = client_for(&server);
    let fw = log_id(&server, "Firewall");
    let (from, to) = (T0 - 5_000, T0 + 25_000);
    let got = fetch(&client, &fw, from, to)
        .await
        .unwrap_or_else(|e| panic!("{faults:?}: {e}"));
    assert_exact(&got, &truth(&server, &fw, from, to));
    client.stats()
}

#[tokio::test]
async fn survives_server_errors() {
    let s = exact_under(Faults {
        server_error_every_nth: Some(2),
        ..Faults::default()
    })
    .await;
    assert!(s.retries > 0, "{s:?}");
}

#[tokio::test]
async fn survives_rate_limiting_with_retry_after() {
    let s = exact_under(Faults {
        rate_limit_every_nth_query: Some(3),
        retry_after_secs: 1,
        ..Faults::default()
    })
    .await;
    assert!(s.rate_limited > 0, "{s:?}");
}

#[tokio::test]
async fn survives_slow_polls() {
    let s = exact_under(Faults {
        polls: 4,
        latency: Duration::from_millis(2),
        latency_jitter: Duration::from_millis(3),
        ..Faults::default()
    })
    .await;
    assert!(s.polls >= 4 * s.pages, "{s:?}");
}

#[tokio::test]
async fn survives_truncated_bodies() {
    let s = exact_under(Faults {
        truncate_every_nth_page: Some(2),
        ..Faults::default()
    })
    .await;
    assert!(s.retries > 0, "{s:?}");
}

#[tokio::test]
async fn survives_connection_resets_mid_body() {
    let s = exact_under(Faults {
        reset_every_nth_page: Some(2),
        ..Faults::default()
    })
    .await;
    assert!(s.retries > 0, "{s:?}");
}

#[tokio::test]
async fn survives_expired_continuations() {
    let s = exact_under(Faults {
        polls: 2,
        expire_every_nth_poll: Some(3),
        ..Faults::default()
    })
    .await;
    assert!(s.resubmits > 0, "{s:?}");
}

#[tokio::test]
async fn drops_duplicates_at_page_edges() {
    exact_under(Faults {
        duplicate_page_edges: true,
        ..Faults::default()
    })
    .await;
}

#[tokio::test]
async fn lenient_numbers_and_exclusive_to() {
    exact_under(Faults {
        numeric_sequence_number_str: true,
        to_exclusive: true,
        polls: 0,
        ..Faults::default()
    })
    .await;
}

/// Older material has no `sequence_number_str`: the exact number comes
/// from each event's `Context` link, burst milliseconds included.
#[tokio::test]
async fn sequence_numbers_from_context_links_when_the_string_is_missing() {
    let stats = exact_under(Faults {
        omit_sequence_number_str: true,
        duplicate_page_edges: true,
        ..Faults::default()
    })
    .await;
    assert_eq!(stats.events_failed, 0);
}

#[tokio::test]
async fn all_faults_at_once() {
    exact_under(Faults {
        polls: 2,
        server_error_every_nth: Some(5),
        truncate_every_nth_page: Some(3),
        reset_every_nth_page: Some(7),
        duplicate_page_edges: true,
        expire_every_nth_poll: Some(4),
        numeric_sequence_number_str: true,
        ..Faults::default()
    })
    .await;
}

#[tokio::test]
async fn log_search_prefix_works() {
    let server = server().await;
    let client = builder_for(&server)
        .with_endpoint(format!("{}/log_search", server.url()))
        .build()
        .unwrap();
    let fw = log_id(&server, "Firewall");
    let got = fetch(&client, &fw, T0, T0 + 20_000).await.unwrap();
    assert_exact(&got, &truth(&server, &fw, T0, T0 + 20_000));
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/log_search/"))
    );
}

#[tokio::test]
async fn concurrent_queries_share_one_client() {
    let server = server().await;
    let client = client_for(&server);
    let mut tasks = tokio::task::JoinSet::new();
    for log in server.dataset().logs() {
        for k in 0..2 {
            let (client, id) = (client.clone(), log.id.clone());
            let from = T0 + k * 30_000;
            tasks.spawn(async move {
                let got = fetch(&client, &id, from, from + 30_000).await;
                (id, from, got)
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        let (id, from, got) = r.unwrap();
        assert_exact(&got.unwrap(), &truth(&server, &id, from, from + 30_000));
    }
}

#[tokio::test]
async fn bad_key_fails_fast_without_leaking_it() {
    let server = server().await;
    let secret = "wrong-key-5f0c2e9a-do-not-print";
    let client = builder_for(&server).with_api_key(secret).build().unwrap();
    let e = client.list_logs().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let text = format!("{e} {e:?}");
    assert!(text.contains("RAPID7_API_KEY"), "hint missing: {text}");
    assert!(!text.contains(secret), "key leaked: {text}");
    let fw = log_id(&server, "Firewall");
    let e = fetch(&client, &fw, T0, T0 + 1000).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(client.stats().retries, 0, "401 is not retried");
}

#[tokio::test]
async fn unknown_log_is_404_without_retries() {
    let server = server().await;
    let client = client_for(&server);
    let e = fetch(
        &client,
        "00000000-0000-0000-0000-00000000dead",
        T0,
        T0 + 1000,
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    assert!(e.to_string().contains("Log Not Found"), "{e}");
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn unreachable_endpoint_gives_up_clearly() {
    // Bind, take the port, close it: nothing listens there now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = ClientBuilder::new()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_api_key("k")
        .with_retry(RetryConfig {
            max_retries: 2,
            backoff: datafusion_rapid7::client::BackoffConfig {
                init: Duration::from_millis(1),
                max: Duration::from_millis(2),
                base: 2.0,
            },
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let e = client.list_logs().await.unwrap_err();
    assert!(
        matches!(e, Error::RetriesExhausted { retries: 2, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("could not connect"), "{e}");
}

#[tokio::test]
async fn foreign_links_are_not_followed() {
    let server = datafusion_rapid7::mock::MockServer::start(datafusion_rapid7::mock::MockConfig {
        host_in_links: Some("http://attacker.example:8080".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = client_for(&server);
    let fw = log_id(&server, "Firewall");
    let e = fetch(&client, &fw, T0, T0 + 60_000).await.unwrap_err();
    assert!(e.to_string().contains("refusing to follow"), "{e}");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.kind != RequestKind::Poll),
        "no request may go to the foreign host (nor come back here as a poll)"
    );
}

#[tokio::test]
async fn bad_request_fails_fast_with_the_servers_message() {
    let server = server().await;
    server.set_faults(Faults {
        reject_queries: true,
        ..Faults::default()
    });
    let client = client_for(&server);
    let id = log_id(&server, "Auth Service");
    let e = fetch(&client, &id, T0, T0 + 1000).await.unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(
        e.to_string()
            .contains("Invalid query: rejected by the simulator"),
        "{e}"
    );
    assert_eq!(client.stats().retries, 0, "400 is not retried");
    assert_eq!(server.query_requests(), 1);
}

/// Newest first: every event of `[from, to)` exactly once, newest first, also
/// when a burst of hundreds of events sits exactly on the exclusive end and
/// `to` is inclusive.
#[tokio::test]
async fn newest_first_pages_are_the_window_in_reverse() {
    use datafusion_rapid7::client::Order;
    use futures::TryStreamExt;
    let server = server().await;
    let fw = log_id(&server, "Firewall");
    // The burst millisecond of T0's second.
    let rows = truth(&server, &fw, T0, T0 + 1000);
    let burst = rows
        .iter()
        .map(|r| r.0)
        .max_by_key(|t| rows.iter().filter(|r| r.0 == *t).count())
        .unwrap();
    for to_exclusive in [false, true] {
        server.set_faults(Faults {
            to_exclusive,
            ..Faults::default()
        });
        let client = client_for(&server);
        let (from, to) = (burst - 60_000, burst);
        let pages: Vec<_> = client
            .query_events_ordered(&fw, from, to, "", Order::NewestFirst)
            .unwrap()
            .into_stream()
            .try_collect()
            .await
            .unwrap();
        let mut got = Vec::new();
        for p in &pages {
            for i in 0..p.columns.len() {
                got.push((p.columns.timestamps[i], p.columns.sequence_numbers[i]));
            }
        }
        let mut want: Vec<(i64, u64)> = truth(&server, &fw, from, to)
            .into_iter()
            .map(|r| (r.0, r.1))
            .collect();
        want.reverse();
        assert!(pages.len() > 2, "several pages");
        assert_eq!(got, want, "to exclusive: {to_exclusive}");
    }
    let newest_first = server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Query)
        .count();
    assert!(newest_first > 4);
}

#[tokio::test]
async fn a_query_rapid7_never_finishes_is_a_timeout_naming_its_setting() {
    let server = server().await;
    // Every query stays "in progress" for longer than the test runs.
    server.set_faults(Faults {
        polls: u32::MAX,
        ..Faults::default()
    });
    let client = builder_for(&server)
        .with_poll(PollConfig {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(5),
            query_timeout: Duration::from_millis(50),
            ..PollConfig::default()
        })
        .build()
        .unwrap();
    let fw = log_id(&server, "Firewall");
    let e = fetch(&client, &fw, T0, T0 + 60_000).await.unwrap_err();
    assert_eq!(e.timeout(), Some(Wait::Query), "{e:?}");
    let datafusion_rapid7::Error::Client(Error::Timeout { after, .. }) = &e else {
        panic!("expected the timeout, got {e:?}");
    };
    assert_eq!(*after, Duration::from_millis(50));
    let text = e.to_string();
    assert!(
        text.contains("Rapid7 did not finish the query within 50ms"),
        "{text}"
    );
    assert!(text.ends_with("raise RAPID7_QUERY_TIMEOUT"), "{text}");
    assert!(e.is_retryable(), "asking again may find Rapid7 less busy");
}

#[tokio::test]
async fn a_request_never_answered_is_a_timeout_naming_its_setting() {
    // A listener that accepts connections (the kernel's backlog) and never
    // answers: bound before the client is built, kept until the end.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let client = ClientBuilder::new()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_api_key("k")
        .with_request_timeout(Duration::from_millis(200))
        .with_retry(RetryConfig {
            max_retries: 1,
            backoff: datafusion_rapid7::client::BackoffConfig {
                init: Duration::from_millis(1),
                max: Duration::from_millis(2),
                base: 2.0,
            },
            ..RetryConfig::default()
        })
        .build()
        .unwrap();
    let e = client.list_logs().await.unwrap_err();
    assert_eq!(e.timeout(), Some(Wait::Request), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("timed out after 200ms"), "{text}");
    assert!(text.contains("raise RAPID7_REQUEST_TIMEOUT"), "{text}");
    drop(silent);
}
