//! A dashboard written to the original plans (issue 31): in the JSON logs of
//! a `sync`, a summary and a cached, a partial and a missing query, every
//! event the plans name is found with every field they give it
//! (docs/events.md, "The plans' names"); a corrupt segment gives the plans'
//! `cache_read_error`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use super::{MIN, run_with, stderr, window};
use crate::support::plans_events;
use crate::support::{self, T0, rfc3339};

const LOG: &str = "Web Proxy";

/// JSON logs at `info`: what a dashboard is fed.
const ENV: [(&str, &str); 2] = [("RAPID7_LOG_FORMAT", "json"), ("RAPID7_LOG_LEVEL", "info")];

/// The plans' events a healthy run does not emit: each needs a failure.
const ON_FAILURE: [&str; 2] = ["cache_read_error", "fetch_subrange_failed"];

/// Run the binary and keep its JSON log lines; the run must succeed.
async fn logs(
    server: &datafusion_rapid7::mock::MockServer,
    dir: &Path,
    args: &[&str],
) -> Vec<Value> {
    let o = run_with(Some(server), dir, &ENV, args).await;
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let lines: Vec<Value> = stderr(&o)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "{args:?} logged nothing");
    lines
}

fn name(e: &Value) -> &str {
    e["fields"]["message"].as_str().unwrap_or_default()
}

/// The one event named `event` among `lines`.
fn only<'a>(lines: &'a [Value], event: &str) -> &'a Value {
    let found: Vec<&Value> = lines.iter().filter(|e| name(e) == event).collect();
    assert_eq!(found.len(), 1, "{event}: {found:?}");
    found[0]
}

fn range(from: i64, to: i64) -> String {
    format!("[{}, {})", rfc3339(from, 0), rfc3339(to, 0))
}

fn count_query(from: i64, to: i64) -> String {
    format!(
        "SELECT count(*) FROM rapid7.\"{LOG}\" WHERE {}",
        window(from, to)
    )
}

/// The Parquet parts under `dir`.
fn parts(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            parts(&path, out);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_built_to_the_plans_finds_every_event_and_field() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (from, to) = (T0, T0 + 2 * MIN);
    let sync = logs(
        &server,
        dir.path(),
        &[
            "sync",
            "--log",
            LOG,
            "--from",
            &rfc3339(from, 0),
            "--to",
            &rfc3339(to, 0),
        ],
    )
    .await;
    let cached = logs(&server, dir.path(), &["-c", &count_query(T0, T0 + MIN)]).await;
    let partial = logs(
        &server,
        dir.path(),
        &["-c", &count_query(T0 + MIN, T0 + 3 * MIN)],
    )
    .await;
    let missing = logs(
        &server,
        dir.path(),
        &["-c", &count_query(T0 + 10 * MIN, T0 + 11 * MIN)],
    )
    .await;
    let summary_file = dir.path().join("summary.json");
    let summary = logs(
        &server,
        dir.path(),
        &[
            "summary",
            "--log",
            LOG,
            "--from",
            &rfc3339(from, 0),
            "--to",
            &rfc3339(to, 0),
            "-o",
            summary_file.to_str().unwrap(),
        ],
    )
    .await;

    // Every (event, field) of the plans, on every line of that event.
    let all: Vec<&Value> = [&sync, &cached, &partial, &missing, &summary]
        .into_iter()
        .flatten()
        .collect();
    let plans = plans_events();
    let mut problems = Vec::new();
    for (event, fields) in &plans {
        if ON_FAILURE.contains(&event.as_str()) {
            continue;
        }
        let lines: Vec<&&Value> = all.iter().filter(|e| name(e) == event).collect();
        if lines.is_empty() {
            problems.push(format!("no {event}"));
        }
        for line in lines {
            for field in fields {
                if line["fields"][field].is_null() {
                    problems.push(format!("{event} without {field}: {line}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let seen: BTreeSet<&str> = all.iter().map(|e| name(e)).collect();
    for event in [
        "segment_committed",
        "cache_write",
        "parquet_part_write_success",
    ] {
        assert!(seen.contains(event), "{event}");
    }

    // Each query was served as its name says, and its ranges say how.
    let hit = only(&cached, "cache_hit")["fields"].clone();
    assert_eq!(hit["requested_range"], range(T0, T0 + MIN), "{hit}");
    assert_eq!(hit["requested_from"], rfc3339(T0, 0), "{hit}");
    assert_eq!(hit["requested_to"], rfc3339(T0 + MIN, 0), "{hit}");
    assert_eq!(hit["cached_ranges"], range(T0, T0 + MIN), "{hit}");
    assert_eq!(hit["missing_ranges"], "", "{hit}");
    let part = only(&partial, "cache_partial")["fields"].clone();
    assert_eq!(
        part["requested_range"],
        range(T0 + MIN, T0 + 3 * MIN),
        "{part}"
    );
    assert_eq!(
        part["cached_ranges"],
        range(T0 + MIN, T0 + 2 * MIN),
        "{part}"
    );
    assert_eq!(
        part["missing_ranges"],
        range(T0 + 2 * MIN, T0 + 3 * MIN),
        "{part}"
    );
    let miss = only(&missing, "cache_miss")["fields"].clone();
    assert_eq!(miss["cached_ranges"], "", "{miss}");
    assert_eq!(
        miss["missing_ranges"],
        range(T0 + 10 * MIN, T0 + 11 * MIN),
        "{miss}"
    );
    let generated = only(&summary, "parquet_summary_generated")["fields"].clone();
    assert_eq!(
        generated["summary_output"],
        summary_file.display().to_string()
    );
    assert_eq!(generated["timestamp_min"], generated["min_timestamp"]);
    assert!(generated["timestamp_max"].is_string(), "{generated}");
    // The fetched piece and its segment.
    let complete: Vec<&&Value> = all
        .iter()
        .filter(|e| name(e) == "fetch_subrange_complete")
        .collect();
    for c in &complete {
        let f = &c["fields"];
        assert_eq!(f["rows_fetched"], f["events"], "{c}");
        assert!(f["subrange"].as_str().unwrap().starts_with('['), "{c}");
    }
    for w in all
        .iter()
        .filter(|e| name(e) == "parquet_part_write_success")
    {
        assert!(
            matches!(
                w["fields"]["write_mode"].as_str(),
                Some("create" | "unconditional")
            ),
            "{w}"
        );
    }

    // A corrupt part: the statement fails, logging `cache_read_failed` and
    // the plans' `cache_read_error` naming the segment.
    let mut found = Vec::new();
    parts(&dir.path().join("cache"), &mut found);
    assert!(!found.is_empty());
    for part in &found {
        let len = std::fs::metadata(part).unwrap().len() as usize;
        std::fs::write(part, vec![b'x'; len]).unwrap();
    }
    let o = run_with(
        Some(&server),
        dir.path(),
        &ENV,
        &["-c", &count_query(T0, T0 + MIN)],
    )
    .await;
    assert!(!o.status.success(), "a corrupt segment was read");
    let lines: Vec<Value> = stderr(&o)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let errors: Vec<&Value> = lines
        .iter()
        .filter(|e| name(e) == "cache_read_error")
        .collect();
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|e| name(e) == "cache_read_failed")
        .collect();
    assert!(!errors.is_empty(), "{}", stderr(&o));
    assert_eq!(
        errors.len(),
        failed.len(),
        "one beside each cache_read_failed"
    );
    for (error, failed) in errors.iter().zip(&failed) {
        assert_eq!(error["level"], "ERROR", "{error}");
        for field in &plans["cache_read_error"] {
            assert!(!error["fields"][field].is_null(), "{field} in {error}");
        }
        assert_eq!(
            error["fields"]["segment_dir"], failed["fields"]["segment"],
            "{error} {failed}"
        );
    }
}
