//! Traceable logs (issue 23, item 3): with JSON logs every event of a
//! statement carries its `statement{query_id}` span, fetch events their
//! `fetch` span and page events their `page` span.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tempfile::TempDir;

use super::{MIN, run_with, stderr};
use crate::support::{self, T0};

/// The JSON log lines of `stderr` (other lines skipped).
fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn message(event: &Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or_default()
}

/// The span of `event` named `name`, innermost first.
fn span<'a>(event: &'a Value, name: &str) -> Option<&'a Value> {
    event["spans"]
        .as_array()?
        .iter()
        .rev()
        .find(|s| s["name"] == name)
}

#[tokio::test]
async fn every_fetch_and_page_event_names_its_statement() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let window = |from: i64| {
        format!(
            "timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({})",
            from + MIN
        )
    };
    // Two statements, each fetching a minute of its own.
    let sql = format!(
        "SELECT count(*) FROM rapid7.\"Web Proxy\" WHERE {}; \
         SELECT count(*) FROM rapid7.\"Web Proxy\" WHERE {};",
        window(T0),
        window(T0 + 10 * MIN)
    );
    let o = run_with(
        Some(&server),
        dir.path(),
        &[
            ("RAPID7_LOG_FORMAT", "json"),
            ("RAPID7_LOG_LEVEL", "datafusion_rapid7=debug"),
        ],
        &["-c", &sql],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let events = json_lines(&stderr(&o));
    let mut ids_per_fetch: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pages = 0;
    for e in &events {
        let name = message(e);
        if !matches!(
            name,
            "fetch_subrange_start" | "fetch_subrange_complete" | "logsearch_page_complete"
        ) {
            continue;
        }
        let statement = span(e, "statement").unwrap_or_else(|| panic!("no statement span: {e}"));
        let id = statement["query_id"].as_str().unwrap().to_string();
        assert!(
            id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        let fetch = span(e, "fetch").unwrap_or_else(|| panic!("no fetch span: {e}"));
        assert_eq!(fetch["log"], "Web Proxy", "{e}");
        assert_eq!(fetch["live"], false, "{e}");
        let range = fetch["range"].as_str().unwrap().to_string();
        if name == "logsearch_page_complete" {
            pages += 1;
            let page = span(e, "page").unwrap_or_else(|| panic!("no page span: {e}"));
            assert!(page["n"].as_u64().unwrap() >= 1, "{e}");
            for field in [
                "page_min_ts",
                "page_max_ts",
                "from_ms",
                "to_ms",
                "elapsed_ms",
            ] {
                assert!(!e["fields"][field].is_null(), "{field} in {e}");
            }
        }
        if name == "fetch_subrange_complete" {
            for field in ["parts_written", "segment_dir"] {
                assert!(!e["fields"][field].is_null(), "{field} in {e}");
            }
        }
        ids_per_fetch.entry(range).or_default().insert(id);
    }
    assert!(pages >= 2, "{pages} page events");
    // Two fetches, one per statement, each under one id, the ids distinct.
    assert_eq!(ids_per_fetch.len(), 2, "{ids_per_fetch:?}");
    let ids: BTreeSet<&String> = ids_per_fetch
        .values()
        .map(|ids| {
            assert_eq!(ids.len(), 1, "{ids:?}");
            ids.iter().next().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    // How each statement was served, with the rows it fetched.
    let misses: Vec<&Value> = events
        .iter()
        .filter(|e| message(e) == "cache_miss")
        .collect();
    assert_eq!(misses.len(), 2, "{misses:?}");
    for m in misses {
        assert!(m["fields"]["rows_fetched"].as_u64().unwrap() > 0, "{m}");
        assert_eq!(m["fields"]["rows_reused"], 0, "{m}");
        assert!(span(m, "statement").is_some(), "{m}");
    }
}
