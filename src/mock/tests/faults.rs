//! Rate limits and injected faults.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::mock::{Faults, MockConfig, MockServer, NextLinks, RateLimits, ResetHeader};

#[tokio::test]
async fn injected_and_real_rate_limits() {
    let s = start(Faults {
        rate_limit_every_nth_query: Some(2),
        retry_after_secs: 7,
        ..Faults::default()
    })
    .await;
    let url = query_url(FIREWALL, T0, T0 + 1000, 10);
    assert_eq!(get(&s, &url).await.status, 202);
    let r = get(&s, &url).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.text(), "API rate limit exceeded");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.header("x-ratelimit-reset"), Some("7"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(get(&s, &url).await.status, 202);
    assert_eq!(get(&s, &url).await.status, 429);
    assert_eq!(s.query_requests(), 4);

    let limited = MockServer::start(MockConfig {
        limits: RateLimits {
            query: 2,
            ..RateLimits::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let a = get(&limited, &url).await;
    assert_eq!(
        (a.status, a.header("x-ratelimit-remaining")),
        (202, Some("1"))
    );
    assert_eq!(
        get(&limited, &url).await.header("x-ratelimit-remaining"),
        Some("0")
    );
    let c = get(&limited, &url).await;
    assert_eq!(c.status, 429);
    let retry: u64 = c.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    assert_eq!(c.header("x-ratelimit-limit"), Some("2"));
    // Polls and management are separate namespaces.
    assert_eq!(get(&limited, &a.link("Self").unwrap()).await.status, 200);
    assert_eq!(get(&limited, "/management/logs").await.status, 200);
}

#[tokio::test]
async fn continuations_expire() {
    let s = start(Faults {
        continuation_ttl: Duration::ZERO,
        ..Faults::default()
    })
    .await;
    let url = query_url(FIREWALL, T0, T0 + 1000, 10);
    let poll = get(&s, &url).await.link("Self").unwrap();
    let r = get(&s, &poll).await;
    assert_eq!((r.status, r.json()["message"].as_str()), (404, Some(GONE)));

    s.set_faults(Faults {
        polls: 2,
        expire_every_nth_poll: Some(2),
        ..Faults::default()
    });
    let poll = get(&s, &url).await.link("Self").unwrap();
    assert_eq!(get(&s, &poll).await.json()["progress"], 50);
    assert_eq!(get(&s, &poll).await.status, 404, "2nd poll expires");
    assert_eq!(get(&s, &poll).await.status, 404, "and the id is forgotten");
}

#[tokio::test]
async fn server_errors_truncation_and_numeric_strings() {
    let s = start(Faults {
        polls: 0,
        server_error_every_nth: Some(2),
        ..Faults::default()
    })
    .await;
    let url = query_url(FIREWALL, T0, T0 + 2000, 50);
    assert_eq!(get(&s, &url).await.status, 200);
    let r = get(&s, &url).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (503, Some("Service Unavailable"))
    );

    s.set_faults(Faults {
        polls: 0,
        truncate_every_nth_page: Some(2),
        numeric_sequence_number_str: true,
        ..Faults::default()
    });
    let whole = get(&s, &url).await;
    let cut = get(&s, &url).await;
    assert_eq!(cut.status, 200);
    assert_eq!(cut.body.len(), whole.body.len() / 2);
    assert_eq!(
        cut.header("content-length"),
        Some(&*cut.body.len().to_string())
    );
    assert!(serde_json::from_slice::<Value>(&cut.body).is_err());
    let want = truth(&s, FIREWALL, T0, T0 + 2001);
    assert!(
        whole
            .text()
            .contains(&format!("\"sequence_number_str\":{},", want[0].1))
    );
    assert_eq!(
        whole.json()["events"][0]["sequence_number_str"].as_u64(),
        Some(want[0].1)
    );
}

#[tokio::test]
async fn duplicate_page_edges_repeat_the_cursor_event() {
    let s = start(Faults {
        duplicate_page_edges: true,
        latency: Duration::from_millis(1),
        latency_jitter: Duration::from_millis(2),
        ..Faults::default()
    })
    .await;
    let (from, to) = (T0 - 2000, T0 + 2000);
    let (events, pages) = walk(&s, &query_url(FIREWALL, from, to, 100)).await;
    let got = keys(&events);
    let want = truth(&s, FIREWALL, from, to + 1);
    assert_eq!(
        got.len(),
        want.len() + pages - 1,
        "one duplicate per page edge"
    );
    let mut seen = HashSet::new();
    let deduped: Vec<_> = got.into_iter().filter(|k| seen.insert(k.1)).collect();
    assert_eq!(deduped, want);
}

#[tokio::test]
async fn connection_reset_mid_body() {
    let s = start(Faults {
        polls: 0,
        reset_every_nth_page: Some(2),
        ..Faults::default()
    })
    .await;
    let url = format!("{}{}", s.url(), query_url(FIREWALL, T0, T0 + 2000, 50));
    let whole = super::http()
        .get(&url)
        .header("x-api-key", s.api_key())
        .send()
        .await
        .unwrap();
    let full = whole.bytes().await.unwrap().len();
    let cut = super::http()
        .get(&url)
        .header("x-api-key", s.api_key())
        .send()
        .await
        .unwrap();
    // The headers promise the whole page; the body breaks off.
    assert_eq!(cut.status(), 200);
    assert_eq!(cut.content_length(), Some(full as u64));
    let e = cut.bytes().await.unwrap_err();
    assert!(e.is_body() || e.is_decode() || e.is_request(), "{e:?}");
}

#[tokio::test]
async fn reset_header_styles_and_no_retry_after() {
    let s = MockServer::start(MockConfig {
        faults: Faults {
            polls: 0,
            reset_header: ResetHeader::EpochSeconds,
            omit_retry_after: true,
            ..Faults::default()
        },
        limits: RateLimits {
            query: 1,
            ..RateLimits::default()
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let url = query_url(FIREWALL, T0, T0 + 1000, 10);
    let before_s = crate::time::now_ms() / 1000;
    let ok = get(&s, &url).await;
    let after_s = crate::time::now_ms() / 1000;
    let reset: i64 = ok.header("x-ratelimit-reset").unwrap().parse().unwrap();
    // The window ends at most 15 minutes after its first request.
    assert!(
        reset > before_s && reset <= after_s + 900,
        "{before_s} {reset} {after_s}"
    );
    let refused = get(&s, &url).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), None);
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));

    s.set_faults(Faults {
        reset_header: ResetHeader::EpochMillis,
        ..Faults::default()
    });
    let before_ms = crate::time::now_ms();
    let r = get(&s, &url).await;
    let reset: i64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        reset > before_ms && reset <= crate::time::now_ms() + 900_000,
        "{reset}"
    );
    assert!(
        r.header("retry-after").is_some(),
        "429 with Retry-After again"
    );
}

#[tokio::test]
async fn next_links_that_do_not_advance() {
    let first = query_url(FIREWALL, T0, T0 + 2000, 10);
    let events = |r: &Resp| r.json()["events"].clone();
    let s = start(Faults {
        polls: 0,
        next_links: NextLinks::Alternate,
        ..Faults::default()
    })
    .await;
    let a = get(&s, &first).await;
    let a_next = a.link("Next").unwrap();
    assert!(a_next.contains("first_from="), "{a_next}");
    let b = get(&s, &a_next).await;
    assert_eq!(
        b.link("Next").unwrap(),
        format!("{}{first}", s.url()),
        "B links back to A"
    );
    assert_ne!(events(&a), events(&b));

    s.set_faults(Faults {
        polls: 0,
        next_links: NextLinks::Repeat,
        ..Faults::default()
    });
    let p1 = get(&s, &first).await;
    let p2 = get(&s, &p1.link("Next").unwrap()).await;
    let p3 = get(&s, &p2.link("Next").unwrap()).await;
    assert_eq!(events(&p1), events(&p2), "the same events again");
    assert_eq!(events(&p2), events(&p3));
    assert_ne!(p2.link("Next"), p3.link("Next"), "never the same URL");

    s.set_faults(Faults {
        polls: 0,
        next_links: NextLinks::Creep,
        ..Faults::default()
    });
    let c1 = get(&s, &first).await;
    let c1_next = c1.link("Next").unwrap();
    assert!(c1_next.contains("sequence_number=0&"), "{c1_next}");
    let c2 = get(&s, &c1_next).await;
    assert!(c2.link("Next").unwrap().contains("sequence_number=1&"));
    assert_eq!(events(&c1), events(&c2));
}

#[tokio::test]
async fn events_without_timestamps_and_retention() {
    let cut = T0 + 500;
    let s = start(Faults {
        events_without_timestamp: Some(5),
        retention_start_ms: Some(cut),
        ..Faults::default()
    })
    .await;
    let (from, to) = (T0, T0 + 1000);
    let submit = get(&s, &query_url(FIREWALL, from, to, 500)).await;
    assert_eq!(submit.status, 202);
    assert_eq!(submit.header("x-beyond-retention"), Some("true"));
    let page = get(&s, &submit.link("Self").unwrap()).await;
    assert_eq!(page.header("x-beyond-retention"), Some("true"));
    assert!(
        page.header("x-beyond-retention-message")
            .unwrap()
            .contains("retention"),
        "{:?}",
        page.headers
    );
    let events = page.json()["events"].as_array().unwrap().clone();
    let want = truth(&s, FIREWALL, cut, to + 1);
    assert_eq!(events.len(), want.len().min(500), "nothing before the cut");
    let mut without = 0;
    for (e, w) in events.iter().zip(&want) {
        assert_eq!(e["sequence_number_str"], Value::String(w.1.to_string()));
        if w.1 % 5 == 0 {
            assert!(e.get("timestamp").is_none(), "{e}");
            without += 1;
        } else {
            assert_eq!(e["timestamp"].as_i64(), Some(w.0));
        }
    }
    assert!(without > 0);
    // A query inside retention carries no header.
    let inside = get(&s, &query_url(FIREWALL, cut, to, 500)).await;
    assert_eq!(inside.header("x-beyond-retention"), None);
}
