//! The statistics client against the simulator: counts per slice, exact
//! against the data function, under both readings of `to`.

use datafusion_rapid7::client::{CountRequest, Counts};
use datafusion_rapid7::mock::Faults;

use crate::support::*;

const MIN: i64 = 60_000;

async fn count(
    server: &datafusion_rapid7::mock::MockServer,
    log: &str,
    from: i64,
    to: i64,
    slices: u32,
    filter: Option<&str>,
) -> Counts {
    client_for(server)
        .count_events(&CountRequest {
            log_id: log.to_string(),
            from,
            to,
            filter: filter.map(str::to_string),
            slices,
        })
        .await
        .unwrap()
}

/// The data function's count of `[a, b)`.
fn truth_count(server: &datafusion_rapid7::mock::MockServer, log: &str, a: i64, b: i64) -> u64 {
    server.dataset().count(log, a, b)
}

#[tokio::test]
async fn slices_are_exact_under_both_readings_of_to() {
    let server = server().await;
    let fw = log_id(&server, "Firewall");
    // T0 is a burst second of the standard Firewall log: events sit exactly
    // on slice edges there.
    let (from, to) = (T0 - 10 * MIN, T0 + 20 * MIN);
    for exclusive in [false, true] {
        server.set_faults(Faults {
            to_exclusive: exclusive,
            ..Faults::default()
        });
        let c = count(&server, &fw, from, to, 30, None).await;
        assert_eq!(c.granularity_ms, MIN);
        assert_eq!(c.slices.len(), 30);
        for (i, got) in c.slices.iter().enumerate() {
            let (a, b) = c.slice_range(i);
            let b = if i == 29 && !exclusive { b + 1 } else { b };
            assert_eq!(
                *got,
                truth_count(&server, &fw, a, b),
                "slice {i}, exclusive {exclusive}"
            );
        }
        assert!(c.exact);
    }
}

#[tokio::test]
async fn empty_windows_answer_204_and_count_zero() {
    let server = server().await;
    let fw = log_id(&server, "Firewall");
    let future = datafusion_rapid7::time::now_ms() + 3_600_000;
    let c = count(&server, &fw, future, future + 10 * MIN, 10, None).await;
    assert_eq!(c.slices, vec![0; 10]);
}

#[tokio::test]
async fn other_spellings_inexact_answers_and_polls_with_partials() {
    let server = server().await;
    let fw = log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 4 * MIN);
    let want: Vec<u64> = (0..4)
        .map(|i| {
            let a = from + i * MIN;
            let b = if i == 3 { a + MIN + 1 } else { a + MIN };
            truth_count(&server, &fw, a, b)
        })
        .collect();
    server.set_faults(Faults {
        statistics_variant: true,
        polls: 3,
        ..Faults::default()
    });
    let c = count(&server, &fw, from, to, 4, None).await;
    assert_eq!(c.slices, want);
    assert!(c.exact);
    server.set_faults(Faults {
        statistics_inexact: true,
        ..Faults::default()
    });
    let c = count(&server, &fw, from, to, 4, None).await;
    assert_eq!(c.slices, want);
    assert!(!c.exact);
}

#[tokio::test]
async fn filtered_counts_match_the_regex() {
    let server = server().await;
    let proxy = log_id(&server, "Web Proxy");
    let (from, to) = (T0, T0 + 2 * MIN);
    server.set_faults(Faults {
        to_exclusive: true,
        ..Faults::default()
    });
    let c = count(&server, &proxy, from, to, 2, Some("/status=5/")).await;
    for (i, got) in c.slices.iter().enumerate() {
        let (a, b) = c.slice_range(i);
        let want = truth(&server, &proxy, a, b)
            .iter()
            .filter(|r| r.2.contains("status=5"))
            .count() as u64;
        assert_eq!(*got, want, "slice {i}");
    }
    assert!(c.total() > 0, "the window has 5xx lines");
}

#[tokio::test]
async fn bad_requests_fail_before_any_request() {
    let server = server().await;
    let client = client_for(&server);
    let fw = log_id(&server, "Firewall");
    for (from, to, slices) in [(10, 10, 1), (0, 100, 0), (0, 100, 201), (0, 100, 3)] {
        let r = client
            .count_events(&CountRequest {
                log_id: fw.clone(),
                from,
                to,
                filter: None,
                slices,
            })
            .await;
        assert!(r.is_err(), "{from} {to} {slices}");
    }
    assert_eq!(server.query_requests(), 0);
}

/// The older docs' in-progress shape (docs.rapid7.com "GET Query": `query`
/// instead of `leql`, `rel: "self"` in lower case) is polled to the end, for
/// statistics and for event pages alike; an empty answer (`status: 204`,
/// `stats: {}`, as the plugin's `log_id7` payload shows) counts zero.
#[tokio::test]
async fn the_older_docs_continuations_are_followed_to_the_answer() {
    let server = server().await;
    let fw = log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 2 * MIN);
    server.set_faults(Faults {
        legacy_continuations: true,
        statistics_variant: true,
        to_exclusive: true,
        polls: 2,
        ..Faults::default()
    });
    let c = count(&server, &fw, from, to, 2, None).await;
    assert_eq!(
        c.slices,
        vec![
            truth_count(&server, &fw, from, from + MIN),
            truth_count(&server, &fw, from + MIN, to)
        ]
    );
    let events = fetch(&client_for(&server), &fw, from, from + 1000)
        .await
        .unwrap();
    assert_eq!(events, truth(&server, &fw, from, from + 1000));
    let empty = count(&server, &fw, from, to, 2, Some("/no such text anywhere/")).await;
    assert_eq!(empty.slices, vec![0, 0]);
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Poll)
            .count()
            >= 6,
        "every answer took its polls"
    );
}

/// A zero poll setting does not spin on the API for statistics either (#33:
/// only the event pages' poll loop kept a millisecond between polls): a
/// query that never finishes is polled at most once a millisecond until
/// the query timeout. (Where a loopback round trip takes a millisecond or
/// more, the old loop passes too; `client::poll`'s paused-clock test
/// catches it everywhere.)
#[tokio::test]
async fn statistics_polls_keep_a_millisecond_apart() {
    use datafusion_rapid7::client::PollConfig;
    use datafusion_rapid7::mock::RequestKind;
    use std::time::Duration;

    let server = server().await;
    let fw = log_id(&server, "Firewall");
    server.set_faults(Faults {
        polls: u32::MAX,
        ..Faults::default()
    });
    let timeout = Duration::from_millis(200);
    let client = builder_for(&server)
        .with_poll(PollConfig {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            query_timeout: timeout,
            max_resubmits: 0,
        })
        .build()
        .unwrap();
    let err = client
        .statistics(&fw, T0, T0 + MIN, "calculate(count)")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("did not finish"), "{err}");
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Poll)
        .count();
    assert!(
        polls as u128 <= timeout.as_millis() + 1,
        "{polls} polls in {timeout:?}: the loop spins"
    );
}
