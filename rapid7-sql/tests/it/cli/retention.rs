//! Retention from the command line (issue 23, item 4): `cache gc
//! --older-than 30d` retires whole old segments and a later gc past the
//! grace period deletes their files; `sync` applies `RAPID7_RETENTION`
//! after each run and never fetches before its cut. Real files, a real
//! process, the simulator on loopback.

use std::path::Path;

use datafusion_rapid7::time::now_ms;
use tempfile::TempDir;

use super::{run, run_with, stderr};
use crate::support::{self, rfc3339};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)))
}

/// Ten minutes of a log, starting on an hour `days_ago` days back.
fn window(days_ago: i64) -> (String, String) {
    let from = (now_ms() - days_ago * DAY).div_euclid(HOUR) * HOUR;
    (rfc3339(from, 0), rfc3339(from + 10 * 60_000, 0))
}

async fn sync(
    server: &datafusion_rapid7::mock::MockServer,
    dir: &Path,
    env: &[(&str, &str)],
    (from, to): &(String, String),
) -> serde_json::Value {
    let args = ["sync", "--log", "Auth Service", "--from", from, "--to", to];
    json(&run_with(Some(server), dir, env, &args).await)
}

/// The Parquet parts under the log's directory whose segment starts at
/// `from` (RFC 3339).
fn parts_of(dir: &Path, log: &str, from: &str) -> usize {
    let ms = datafusion_rapid7::time::parse_timestamp("from", from).unwrap();
    let segment_dirs = std::fs::read_dir(dir.join("cache").join("logs").join(log))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default();
    segment_dirs
        .iter()
        .filter(|d| d.file_name().to_string_lossy() == format!("from={ms}"))
        .flat_map(|d| walk(&d.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_gc_older_than_retires_old_segments_and_deletes_them_after_the_grace() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let auth = support::log_id(&server, "Auth Service");
    let (old, recent) = (window(40), window(1));
    sync(&server, dir.path(), &[], &old).await;
    sync(&server, dir.path(), &[], &recent).await;
    assert!(parts_of(dir.path(), &auth, &old.0) > 0);
    let listed = json(&run(Some(&server), dir.path(), &["cache", "ls"]).await);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    let gc = json(
        &run(
            Some(&server),
            dir.path(),
            &["cache", "gc", "--older-than", "30d"],
        )
        .await,
    );
    assert_eq!(gc["expired"]["segments_expired"], 1, "{gc}");
    assert!(gc["expired"]["rows_expired"].as_u64().unwrap() > 0, "{gc}");
    assert_eq!(gc["objects_deleted"], 0, "within the grace period: {gc}");
    // Gone from every listing at once; its files wait out the grace period.
    let listed = json(&run(Some(&server), dir.path(), &["cache", "ls"]).await);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0]["from"]
            .as_str()
            .unwrap()
            .starts_with(&recent.0[..13])
    );
    assert!(parts_of(dir.path(), &auth, &old.0) > 0, "kept for readers");

    // A gc after the grace period deletes them; the recent segment stays.
    let gc = json(&run(Some(&server), dir.path(), &["cache", "gc", "--grace", "0s"]).await);
    assert_eq!(gc["segments_purged"], 1, "{gc}");
    assert!(gc.get("expired").is_none(), "no retention this time: {gc}");
    assert_eq!(parts_of(dir.path(), &auth, &old.0), 0);
    assert!(parts_of(dir.path(), &auth, &recent.0) > 0);
    let verified = run(Some(&server), dir.path(), &["cache", "verify"]).await;
    assert!(verified.status.success(), "{}", stderr(&verified));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_applies_rapid7_retention_after_each_run() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let auth = support::log_id(&server, "Auth Service");
    let (old, recent) = (window(40), window(1));
    // Written before any retention was set.
    let first = sync(&server, dir.path(), &[], &old).await;
    assert!(first.get("retention").is_none(), "{first}");

    let keep = [("RAPID7_RETENTION", "30d")];
    let report = sync(&server, dir.path(), &keep, &recent).await;
    assert_eq!(
        report["retention"]["expired"]["segments_expired"], 1,
        "{report}"
    );
    let listed = json(&run(Some(&server), dir.path(), &["cache", "ls"]).await);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // What retention would drop at once is not fetched: the old window
    // lies before the cut, nothing is asked of Rapid7.
    server.clear_requests();
    let o = run_with(
        Some(&server),
        dir.path(),
        &keep,
        &[
            "sync",
            "--log",
            "Auth Service",
            "--from",
            &old.0,
            "--to",
            &old.1,
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("before the retention cut"),
        "{}",
        stderr(&o)
    );
    assert_eq!(server.event_query_requests(), 0);

    // A sync reaching back past the cut fetches from the cut on only.
    let from = rfc3339((now_ms() - 31 * DAY).div_euclid(HOUR) * HOUR, 0);
    let to = rfc3339((now_ms() - 29 * DAY).div_euclid(HOUR) * HOUR - 23 * HOUR, 0);
    let report = sync(
        &server,
        dir.path(),
        &[
            ("RAPID7_RETENTION", "30d"),
            ("RAPID7_MAX_FETCH_EVENTS", "0"),
        ],
        &(from, to.clone()),
    )
    .await;
    let started =
        datafusion_rapid7::time::parse_timestamp("window", report["window"][0].as_str().unwrap())
            .unwrap();
    assert!(started >= now_ms() - 30 * DAY - HOUR, "{report}");
    let asked: Vec<i64> = server.requests().iter().filter_map(|r| r.from).collect();
    assert!(
        asked.iter().all(|f| *f >= started),
        "{asked:?} before {started}"
    );
    // And the second retention run finds the first one's segment purged
    // only after the grace period: its files are still there.
    assert!(parts_of(dir.path(), &auth, &old.0) > 0);
}
