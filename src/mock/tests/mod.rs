//! HTTP-level tests of the simulator: real requests over loopback.

mod faults;
mod paging;
mod statistics;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{Faults, MockConfig, MockServer, RequestKind};

/// 2026-02-10T00:00:00Z, a Firewall burst second.
pub(super) const T0: i64 = 1_770_681_600_000;
pub(super) const FIREWALL: &str = "3f1c9b2e-6a4d-4c1e-9f0a-1b2c3d4e5f60";
pub(super) const GONE: &str = "Query Not Found (Continuation ID may have expired)";

pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Resp {
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(super) fn link(&self, rel: &str) -> Option<String> {
        self.json()["links"]
            .as_array()?
            .iter()
            .find(|l| l["rel"] == rel)
            .and_then(|l| l["href"].as_str().map(str::to_string))
    }
}

pub(super) fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub(super) async fn start(faults: Faults) -> MockServer {
    MockServer::start(MockConfig {
        faults,
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

pub(super) async fn send(req: reqwest::RequestBuilder) -> Resp {
    let r = req.send().await.unwrap();
    Resp {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

pub(super) async fn get(s: &MockServer, url: &str) -> Resp {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", s.url())
    };
    send(http().get(url).header("x-api-key", s.api_key())).await
}

pub(super) fn query_url(log: &str, from: i64, to: i64, per_page: u32) -> String {
    format!("/query/logs/{log}?from={from}&to={to}&per_page={per_page}")
}

/// Follows 202 → polls → page → Next … like a client; returns every event
/// and the number of pages.
pub(super) async fn walk(s: &MockServer, first: &str) -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut pages = 0;
    let mut url = first.to_string();
    loop {
        let mut r = get(s, &url).await;
        assert!(
            r.status == 200 || r.status == 202,
            "{}: {}",
            r.status,
            r.text()
        );
        while let Some(poll) = r.link("Self") {
            r = get(s, &poll).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
        pages += 1;
        let body = r.json();
        events.extend(body["events"].as_array().unwrap().iter().cloned());
        match r.link("Next") {
            Some(next) => url = next,
            None => return (events, pages),
        }
    }
}

pub(super) fn keys(events: &[Value]) -> Vec<(i64, u64, String, Vec<String>)> {
    events
        .iter()
        .map(|e| {
            let seq = match &e["sequence_number_str"] {
                Value::String(s) => s.parse().unwrap(),
                n => n.as_u64().unwrap(),
            };
            let labels = e["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_string())
                .collect();
            let msg = e["message"].as_str().unwrap().to_string();
            (e["timestamp"].as_i64().unwrap(), seq, msg, labels)
        })
        .collect()
}

pub(super) fn truth(
    s: &MockServer,
    log: &str,
    from: i64,
    to: i64,
) -> Vec<(i64, u64, String, Vec<String>)> {
    s.dataset()
        .events(log, from, to)
        .into_iter()
        .map(|e| (e.timestamp, e.sequence_number, e.message, e.labels))
        .collect()
}

#[tokio::test]
async fn rejects_requests_without_the_key() {
    let s = start(Faults::default()).await;
    let r = send(http().get(format!("{}/management/logs", s.url()))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), serde_json::json!({"message": "Unauthorized"}));
    assert_eq!(r.header("x-ratelimit-limit"), Some("1500"));
    assert!(r.header("x-ratelimit-remaining").is_some() && r.header("x-ratelimit-reset").is_some());
    let wrong = http()
        .get(format!("{}/query/logs/{FIREWALL}", s.url()))
        .header("x-api-key", "nope");
    assert_eq!(send(wrong).await.status, 401);
    let upper = http()
        .get(format!("{}/management/logs", s.url()))
        .header("X-Api-Key", s.api_key());
    assert_eq!(send(upper).await.status, 200);
    let recorded = s.requests();
    assert_eq!(recorded.len(), 1, "401s are not recorded");
    assert_eq!(
        (recorded[0].kind, recorded[0].status),
        (RequestKind::Management, 200)
    );
}

/// Log sets (§5): `GET /management/logsets` lists each with its logs
/// (`logs_info`), `GET /management/logsets/{id}` one of them, and each log
/// names its sets in `logsets_info`; Firewall is in two.
#[tokio::test]
async fn management_lists_and_gets_log_sets() {
    let s = start(Faults::default()).await;
    let r = get(&s, "/management/logsets").await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );
    let sets = r.json()["logsets"].as_array().unwrap().clone();
    let summary: Vec<(String, Vec<String>)> = sets
        .iter()
        .map(|set| {
            let logs = set["logs_info"].as_array().unwrap();
            let names = logs.iter().map(|l| l["name"].as_str().unwrap().to_string());
            (set["name"].as_str().unwrap().to_string(), names.collect())
        })
        .collect();
    assert_eq!(
        summary[0],
        (
            "Network".to_string(),
            vec!["Firewall".to_string(), "Web Proxy".to_string()]
        )
    );
    assert_eq!(summary[1].0, "Security");
    assert!(summary[1].1.contains(&"Firewall".to_string()));
    let id = sets[1]["id"].as_str().unwrap();
    let one = get(&s, &format!("/log_search/management/logsets/{id}")).await;
    assert_eq!(one.json()["logset"]["name"], "Security");
    assert_eq!(get(&s, "/management/logsets/nope").await.status, 404);
    // The log list names each log's sets.
    let fw = get(&s, &format!("/management/logs/{FIREWALL}"))
        .await
        .json();
    let in_sets: Vec<&str> = fw["log"]["logsets_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| set["name"].as_str().unwrap())
        .collect();
    assert_eq!(in_sets, ["Network", "Security"]);
    assert!(
        s.requests()
            .iter()
            .all(|r| r.kind == RequestKind::Management)
    );
}

#[tokio::test]
async fn management_lists_and_gets_logs() {
    let s = start(Faults::default()).await;
    let r = get(&s, "/management/logs").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("1499"));
    let list = r.json();
    let names: Vec<&str> = list["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5);
    assert!(names.contains(&"Ops \"blue\" team — app.log"));
    let fw = &list["logs"][0];
    assert_eq!(
        (fw["id"].as_str(), fw["source_type"].as_str()),
        (Some(FIREWALL), Some("token"))
    );
    assert!(
        fw["rrn"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":log:{FIREWALL}"))
    );
    let one = get(&s, &format!("/log_search/management/logs/{FIREWALL}"))
        .await
        .json();
    assert_eq!(one["log"]["name"], "Firewall");
    let missing = get(&s, "/management/logs/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        serde_json::json!({"code": 404, "message": "Log Not Found"})
    );

    s.set_faults(Faults {
        unwrapped_log_list: true,
        unwrapped_log: true,
        ..Faults::default()
    });
    assert_eq!(
        get(&s, "/management/logs")
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    assert_eq!(
        get(&s, &format!("/management/logs/{FIREWALL}"))
            .await
            .json()["name"],
        "Firewall"
    );

    let unknown = get(&s, "/nothing/here").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.json(),
        serde_json::json!({"message": "HTTP 404 Not Found"})
    );
    assert!(unknown.header("x-ratelimit-limit").is_some());
    let label = s.dataset().logs()[0].labels[0].clone();
    assert_eq!(
        get(&s, &format!("/management/labels/{label}")).await.json()["label"]["id"],
        label.as_str()
    );
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let s = start(Faults::default()).await;
    let addr = s.addr();
    assert_eq!(s.url(), format!("http://{addr}"));
    assert!(format!("{s:?}").contains("redacted"));
    let (url, key) = (
        format!("{}/management/logs", s.url()),
        s.api_key().to_string(),
    );
    // A keep-alive connection stays in this client's pool.
    let c = http();
    let ok = send(c.get(&url).header("x-api-key", &key)).await;
    assert_eq!(ok.status, 200);
    drop(s);
    let mut refused = false;
    for _ in 0..1000 {
        tokio::task::yield_now().await;
        let new_conn = tokio::net::TcpStream::connect(addr).await.is_err();
        let pooled = c.get(&url).header("x-api-key", &key).send().await.is_err();
        if new_conn && pooled {
            refused = true;
            break;
        }
    }
    assert!(refused, "still answering on {addr}");
}
