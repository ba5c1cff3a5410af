//! `rapid7-sql doctor`: a report of what a key and endpoint really do, in
//! at most 30 queries, that names the faults the simulator injects and
//! never prints the key or event text.

use datafusion_rapid7::mock::Faults;
use tempfile::TempDir;

use super::{run, stderr, stdout};
use crate::support;

/// The checks of a JSON report, by name: `(status, finding)`.
fn checks(out: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let v: serde_json::Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                (
                    c["status"].as_str().unwrap().to_string(),
                    c["finding"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_demo_passes_and_prints_what_it_found() {
    let dir = TempDir::new().unwrap();
    let o = run(None, dir.path(), &["--demo", "doctor"]).await;
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    for name in [
        "endpoint",
        "key",
        "rate_limit",
        "polling",
        "to_inclusive",
        "from_inclusive",
        "slices",
        "statistics",
        "newest_first",
        "multi_log",
        "messages",
        "version",
        "facts",
    ] {
        assert!(
            text.contains(&format!("] {name} ")),
            "no {name} line in\n{text}"
        );
    }
    assert!(!text.contains("[FAIL]"), "{text}");
    assert!(text.contains("honoured"), "{text}");
    let o = run(None, dir.path(), &["--demo", "--format", "json", "doctor"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let found = checks(&stdout(&o));
    assert_eq!(found["key"].0, "ok");
    assert_eq!(found["newest_first"].0, "ok");
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let queries = report["queries"].as_u64().expect("a query count");
    assert!((1..=30).contains(&queries), "{queries} queries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_stays_within_30_queries_and_names_the_faults() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let o = run(Some(&server), dir.path(), &["--format", "json", "doctor"]).await;
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let queries = server.query_requests();
    assert!(queries <= 30, "{queries} queries");
    let found = checks(&stdout(&o));
    // The simulator's own behaviour.
    assert_eq!(
        found["to_inclusive"].0, "note",
        "{:?}",
        found["to_inclusive"]
    );
    assert!(found["to_inclusive"].1.starts_with("inclusive"));
    assert_eq!(
        found["from_inclusive"].0, "ok",
        "{:?}",
        found["from_inclusive"]
    );
    assert_eq!(found["slices"].0, "ok", "{:?}", found["slices"]);
    assert!(found["slices"].1.starts_with("[a, b)"));
    assert_eq!(found["statistics"].0, "ok", "{:?}", found["statistics"]);
    assert_eq!(found["newest_first"].0, "ok", "{:?}", found["newest_first"]);
    assert_eq!(found["messages"].0, "ok", "{:?}", found["messages"]);
    assert_eq!(found["polling"].0, "ok");
    assert!(found["polling"].1.contains("202"), "{:?}", found["polling"]);
    assert!(
        found["rate_limit"]
            .1
            .contains("seconds until the window resets")
    );
    // The simulator serves merged queries of several logs: the report says so.
    assert_eq!(found["multi_log"].0, "ok", "{:?}", found["multi_log"]);
    assert!(
        found["multi_log"].1.starts_with("served:"),
        "{:?}",
        found["multi_log"]
    );
    // Nothing secret or from the events.
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains(server.api_key()));
    let fw = support::log_id(&server, "Firewall");
    let now = datafusion_rapid7::time::now_ms();
    let messages: Vec<String> = support::truth(&server, &fw, now - 3_600_000, now)
        .into_iter()
        .take(50)
        .map(|r| r.2)
        .collect();
    assert!(messages.iter().all(|m| !all.contains(m.as_str())));
    // How each sampled log sends its messages is recorded, as a read would:
    // filtered segments of those logs may be kept from now on.
    assert_eq!(found["forms"].0, "ok", "{:?}", found["forms"]);
    assert!(
        found["forms"].1.contains(&format!("{fw}: text")),
        "{:?}",
        found["forms"]
    );
    let names: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("cache").join("_LOGS.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(names["messages"][&fw], serde_json::json!("text"), "{names}");

    // Pages out of order, closed slices, object messages, an exclusive
    // `to`: each line says so.
    server.set_faults(Faults {
        ignore_most_recent_first: true,
        inclusive_slices: true,
        object_messages: true,
        to_exclusive: true,
        ..Faults::default()
    });
    server.clear_requests();
    let o = run(Some(&server), dir.path(), &["--format", "json", "doctor"]).await;
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(server.query_requests() <= 30);
    let found = checks(&stdout(&o));
    assert_eq!(
        found["newest_first"].0, "warn",
        "{:?}",
        found["newest_first"]
    );
    assert!(found["newest_first"].1.starts_with("not honoured"));
    assert_eq!(found["slices"].0, "warn", "{:?}", found["slices"]);
    assert!(found["slices"].1.starts_with("[a, b]"));
    assert_eq!(found["messages"].0, "warn", "{:?}", found["messages"]);
    assert!(found["messages"].1.contains("JSON objects"));
    assert_eq!(found["to_inclusive"].0, "ok", "{:?}", found["to_inclusive"]);
    assert!(found["to_inclusive"].1.starts_with("exclusive"));
    assert_eq!(
        found["from_inclusive"].0, "ok",
        "{:?}",
        found["from_inclusive"]
    );
    // What it learnt is in the cache's endpoint facts, for later sessions.
    let facts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("cache").join("_ENDPOINTS.json")).unwrap(),
    )
    .unwrap();
    let endpoint = facts["endpoints"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(endpoint["newest_first"]["value"], serde_json::json!(false));
    assert_eq!(
        endpoint["slices_half_open"]["value"],
        serde_json::json!(false)
    );
    assert_eq!(endpoint["to_inclusive"]["value"], serde_json::json!(false));
    // Objects, once seen, stay: the JSON log's marker is in the cache.
    let auth = support::log_id(&server, "Auth Service");
    assert!(
        found["forms"].1.contains(&format!("{auth}: JSON objects")),
        "{:?}",
        found["forms"]
    );
    assert!(
        dir.path()
            .join("cache")
            .join("_OBJECTS")
            .join(&auth)
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_keeps_to_30_queries_when_every_query_fails() {
    let server = support::server().await;
    // Every query and poll answers 503: each probe is retried, and each
    // retry is a query.
    server.set_faults(Faults {
        server_error_every_nth: Some(1),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let mut args = vec!["--format", "json", "doctor"];
    for _ in 0..12 {
        args.extend(["--log", "Firewall"]);
    }
    let o = run(Some(&server), dir.path(), &args).await;
    // The samples failed: exit 1, with the report.
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let queries = server.query_requests();
    assert!(queries <= 30, "{queries} queries");
    let out = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let skipped: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "sample" && c["status"] == "skipped")
        .map(|c| c["finding"].as_str().unwrap())
        .collect();
    assert!(
        skipped.iter().any(|f| f.contains("query budget spent")),
        "{out}"
    );
    assert!(
        skipped.iter().any(|f| f.contains("2 more log(s) named")),
        "{out}"
    );
}
