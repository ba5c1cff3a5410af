//! Queries: the 202/poll model, pages, Next links, POST and validation.

use serde_json::Value;

use super::*;
use crate::mock::{Faults, MockConfig, MockServer, RequestKind};

#[tokio::test]
async fn submit_answers_202_then_polls_reach_the_page() {
    let s = start(Faults {
        polls: 3,
        ..Faults::default()
    })
    .await;
    let r = get(&s, &query_url(FIREWALL, T0, T0 + 1000, 500)).await;
    assert_eq!(r.status, 202);
    let body = r.json();
    assert_eq!(body["progress"], 0);
    assert_eq!(body["events"], serde_json::json!([]));
    assert_eq!(body["logs"], serde_json::json!([FIREWALL]));
    assert_eq!(
        body["leql"]["during"],
        serde_json::json!({"from": T0, "to": T0 + 1000})
    );
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(id.split(':').count(), 6, "{id}");
    let poll = r.link("Self").unwrap();
    assert_eq!(poll, format!("{}/query/{id}", s.url()));

    let mut progress = Vec::new();
    let mut r = get(&s, &poll).await;
    while let Some(p) = r.json().get("progress").and_then(Value::as_u64) {
        assert_eq!(r.status, 200);
        assert_eq!(r.link("Self").as_deref(), Some(poll.as_str()));
        progress.push(p);
        r = get(&s, &poll).await;
    }
    assert_eq!(progress, [33, 66]);
    assert_eq!(r.status, 200);
    let want = truth(&s, FIREWALL, T0, T0 + 1001);
    assert!(want.len() > 700);
    assert_eq!(keys(r.json()["events"].as_array().unwrap()), want[..500]);
    let next = r.link("Next").unwrap();
    let last = &want[499];
    assert_eq!(
        next,
        format!(
            "{}/query/logs/{FIREWALL}?from={}&to={}&per_page=500&sequence_number={}&next_page=true&query=",
            s.url(),
            last.0,
            T0 + 1000,
            last.1
        )
    );
    // The finished continuation is forgotten.
    let again = get(&s, &poll).await;
    assert_eq!(
        (again.status, again.json()["message"].as_str()),
        (404, Some(GONE))
    );

    let kinds: Vec<RequestKind> = s.requests().iter().map(|r| r.kind).collect();
    assert_eq!(kinds[0], RequestKind::Query);
    assert_eq!(kinds[1..], [RequestKind::Poll; 4]);
    assert_eq!(s.query_requests(), 1);
    let first = &s.requests()[0];
    assert_eq!(
        (
            first.from,
            first.to,
            first.per_page,
            first.sequence_number,
            first.status
        ),
        (Some(T0), Some(T0 + 1000), Some(500), None, 202)
    );
    assert_eq!(s.requests()[1].log_id.as_deref(), Some(FIREWALL));
    s.clear_requests();
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn next_links_walk_exactly_the_data_with_inclusive_to() {
    let s = start(Faults::default()).await;
    let (from, to) = (T0 - 20_000, T0 + 20_000);
    let (events, pages) = walk(&s, &query_url(FIREWALL, from, to, 500)).await;
    let want = truth(&s, FIREWALL, from, to + 1);
    assert_eq!(keys(&events), want);
    assert!(pages >= want.len().div_ceil(500) && pages > 3);
    assert_eq!(s.query_requests(), pages);
    assert!(
        s.requests()
            .iter()
            .filter(|r| r.kind == RequestKind::Query)
            .all(|r| r.per_page == Some(500))
    );
    // sequence_number is an imprecise JSON number; sequence_number_str is exact.
    let e = &events[0];
    assert_eq!(e["sequence_number"].as_f64(), Some(want[0].1 as f64));
    assert_eq!(e["sequence_number_str"], want[0].1.to_string());
    assert_eq!(e["log_id"], FIREWALL);
    assert!(
        e["links"][0]["href"]
            .as_str()
            .unwrap()
            .contains("/query/context/")
    );

    // `to` exactly on an event's millisecond includes it (and only with the default).
    let edge = want[want.len() / 3].0;
    let (inclusive, _) = walk(&s, &query_url(FIREWALL, from, edge, 50)).await;
    assert_eq!(keys(&inclusive), truth(&s, FIREWALL, from, edge + 1));
    s.set_faults(Faults {
        to_exclusive: true,
        polls: 0,
        ..Faults::default()
    });
    let (exclusive, _) = walk(&s, &query_url(FIREWALL, from, edge, 50)).await;
    assert_eq!(keys(&exclusive), truth(&s, FIREWALL, from, edge));
}

#[tokio::test]
async fn the_log_search_prefix_and_foreign_hosts_in_links() {
    let s = start(Faults::default()).await;
    let odd = s.dataset().logs()[4].id.clone();
    let url = format!("/log_search{}", query_url(&odd, T0, T0 + 600_000, 100));
    let (events, pages) = walk(&s, &url).await;
    assert_eq!(keys(&events), truth(&s, &odd, T0, T0 + 600_001));
    assert!(pages > 1);
    assert!(
        s.requests()
            .iter()
            .all(|r| r.path.starts_with("/log_search/"))
    );

    let other = MockServer::start(MockConfig {
        host_in_links: Some("https://us.api.insight.rapid7.com/".into()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let r = get(&other, &query_url(FIREWALL, T0, T0 + 1000, 10)).await;
    assert!(
        r.link("Self")
            .unwrap()
            .starts_with("https://us.api.insight.rapid7.com/query/")
    );
}

#[tokio::test]
async fn post_queries() {
    let s = start(Faults {
        polls: 0,
        ..Faults::default()
    })
    .await;
    let post = |body: &str, ct: &str| {
        http()
            .post(format!("{}/query/logs?per_page=20", s.url()))
            .header("x-api-key", s.api_key())
            .header("content-type", ct)
            .body(body.to_string())
    };
    let body = format!(
        r#"{{"logs":["{FIREWALL}"],"leql":{{"statement":"","during":{{"from":{T0},"to":{}}}}}}}"#,
        T0 + 5000
    );
    let r = send(post(&body, "application/json")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        keys(r.json()["events"].as_array().unwrap()),
        truth(&s, FIREWALL, T0, T0 + 5001)[..20]
    );
    assert!(
        r.link("Next")
            .unwrap()
            .contains(&format!("/query/logs/{FIREWALL}?from="))
    );
    let rec = s.requests().pop().unwrap();
    assert_eq!(
        (rec.kind, rec.log_id.as_deref(), rec.per_page, rec.to),
        (
            RequestKind::Query,
            Some(FIREWALL),
            Some(20),
            Some(T0 + 5000)
        )
    );

    let r = send(post(&body, "text/plain")).await;
    assert_eq!(r.status, 415);
    let r = send(post("{\"logs\":", "application/json")).await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("Malformed JSON Request Body"))
    );
    let unknown = body.replace(
        &format!("[\"{FIREWALL}\"]"),
        &format!("[\"{FIREWALL}\",\"00000000-0000-4000-8000-000000000000\"]"),
    );
    assert_eq!(send(post(&unknown, "application/json")).await.status, 404);
}

/// The events of `logs` in `[from, to)`, merged as a merged query's pages are.
fn merged_truth(s: &MockServer, logs: &[&str], from: i64, to: i64) -> Vec<(i64, u64, String)> {
    let mut all: Vec<(i64, u64, String)> = logs
        .iter()
        .flat_map(|l| s.dataset().events(l, from, to))
        .map(|e| (e.timestamp, e.sequence_number, e.log_id))
        .collect();
    all.sort();
    all
}

fn merged_keys(events: &[Value]) -> Vec<(i64, u64, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["timestamp"].as_i64().unwrap(),
                e["sequence_number_str"].as_str().unwrap().parse().unwrap(),
                e["log_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn merged_queries_merge_their_logs_by_timestamp_and_sequence_number() {
    let s = start(Faults::default()).await;
    let ids: Vec<String> = s.dataset().logs().iter().map(|l| l.id.clone()).collect();
    let logs: Vec<&str> = ids.iter().take(4).map(String::as_str).collect();
    let (from, to) = (T0, T0 + 20_000);
    let (events, pages) = walk(&s, &query_url(&logs.join(":"), from, to - 1, 50)).await;
    let got = merged_keys(&events);
    let want = merged_truth(&s, &logs, from, to);
    assert!(want.len() > 100, "{}", want.len());
    assert_eq!(got, want);
    assert!(pages > 1);
    // Unique within a millisecond across logs: strictly increasing pairs.
    assert!(got.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
    let rec = s
        .requests()
        .into_iter()
        .find(|r| r.kind == RequestKind::Query)
        .unwrap();
    assert_eq!((rec.log_id, rec.logs.len()), (None, 4));
    // A count of several logs is their total.
    let count_url = format!(
        "{}&query=calculate(count)",
        query_url(&logs.join(":"), from, to - 1, 50)
    );
    let mut r = get(&s, &count_url).await;
    while let Some(poll) = r.link("Self") {
        r = get(&s, &poll).await;
    }
    let body = r.json();
    assert_eq!(
        body["statistics"]["count"].as_u64(),
        Some(want.len() as u64),
        "{body}"
    );
}

#[tokio::test]
async fn merged_faults_break_the_order_or_name_a_log_not_asked_for() {
    let s = start(Faults {
        polls: 0,
        merged_out_of_order: true,
        ..Faults::default()
    })
    .await;
    let ids: Vec<String> = s.dataset().logs().iter().map(|l| l.id.clone()).collect();
    let logs: Vec<&str> = ids.iter().take(3).map(String::as_str).collect();
    let url = query_url(&logs.join(":"), T0, T0 + 20_000, 50);
    let got = merged_keys(get(&s, &url).await.json()["events"].as_array().unwrap());
    assert!((got[0].0, got[0].1) > (got[1].0, got[1].1));
    s.set_faults(Faults {
        polls: 0,
        merged_foreign_log: true,
        ..Faults::default()
    });
    let got = merged_keys(get(&s, &url).await.json()["events"].as_array().unwrap());
    assert!(!logs.contains(&got[0].2.as_str()));
    assert!(got[1..].iter().all(|e| logs.contains(&e.2.as_str())));
    // One log's pages are untouched by either.
    let one = query_url(logs[0], T0, T0 + 20_000, 50);
    let got = merged_keys(get(&s, &one).await.json()["events"].as_array().unwrap());
    assert!(got.iter().all(|e| e.2 == logs[0]));
}

#[tokio::test]
async fn bad_requests_answer_400_and_404_bodies() {
    let s = start(Faults::default()).await;
    let backwards = format!("from={T0}&to={}", T0 - 1);
    let cases = [
        ("from=5&to=5", "from"),
        (backwards.as_str(), "must be earlier than to"),
        ("to=5", "from is required"),
        ("from=abc&to=5", "from must be an integer"),
        (
            "from=1&to=5&time_range=today",
            "time_range cannot be specified with from and/or to fields",
        ),
        ("from=1&to=5&per_page=501", "per_page"),
        ("from=1&to=5&per_page=0", "per_page"),
        (
            "from=1&to=5&query=where(status%3D500)",
            "Invalid Query Request",
        ),
    ];
    for (q, needle) in cases {
        let r = get(&s, &format!("/query/logs/{FIREWALL}?{q}")).await;
        assert_eq!(r.status, 400, "{q}");
        let body = r.json();
        assert!(body["fields"].is_array(), "{q}");
        let msg = body["messages"][0].as_str().unwrap();
        assert!(
            msg.starts_with("Invalid query: ") && msg.contains(needle),
            "{q}: {msg}"
        );
    }
    let r = get(
        &s,
        &query_url("00000000-0000-0000-0000-00000000dead", 1, 5, 10),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        serde_json::json!({"code": 404, "message": "Log Not Found"})
    );
    let r = get(&s, "/query/not-a-continuation").await;
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (400, Some("Invalid Continuation ID"))
    );
    let r = get(
        &s,
        "/query/00000000-0000-4000-8000-000000000000:0:abc:50:def:",
    )
    .await;
    assert_eq!((r.status, r.json()["message"].as_str()), (404, Some(GONE)));
    assert_eq!(
        s.requests()
            .iter()
            .filter(|r| r.kind == RequestKind::Poll)
            .count(),
        2
    );
    // A time_range alone is accepted and echoed.
    let r = get(
        &s,
        &format!("/query/logs/{FIREWALL}?time_range=last%205%20mins"),
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["leql"]["during"]["time_range"], "last 5 mins");
}
