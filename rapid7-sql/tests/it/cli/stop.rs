//! Graceful stop: SIGTERM or SIGINT while `sync`, `summary` or `-c` is
//! fetching. The process stops fetching, deletes its uncommitted parts,
//! says so (a `fetch_stopped` event and a line on stderr) and exits with
//! 128 + the signal's number; the cache holds nothing half-written, so
//! nothing needs `cache gc`, and the next run is exact.
//!
//! The child logs JSON at INFO on stderr; the test waits for its first
//! `flush_complete` (a part is on disk), then makes the simulator answer
//! nothing more (an hour of latency: the fetch cannot finish) and signals.

use std::process::Stdio;
use std::time::Duration;

use datafusion_rapid7::mock::{Faults, MockServer};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{BIN, MIN, run, stderr, stdout};
use crate::support::{self, T0};

const FROM: i64 = T0;
const TO: i64 = T0 + 10 * MIN;
/// A bound on how long the child may take to reach each point (never hit
/// when it works).
const PATIENCE: Duration = Duration::from_secs(120);

fn sequence_query() -> String {
    format!(
        "SELECT sequence_number FROM rapid7.Firewall WHERE {}",
        super::window(FROM, TO)
    )
}

/// Every file under `dir` (relative path).
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

/// Start `args`, signal it once it has written a part, and check what it
/// did and what it left.
async fn stop_mid_fetch(server: &MockServer, args: &[String], signal: Signal) {
    server.set_faults(Faults {
        latency: Duration::from_millis(20),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let mut cmd = tokio::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .env("HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path().join("xdg"))
        .env("RAPID7_CACHE", dir.path().join("cache"))
        .env("RAPID7_ENDPOINT", server.url())
        .env("RAPID7_API_KEY", server.api_key())
        .env("RAPID7_FLUSH_ROWS", "1000")
        .args(["--log-level", "info", "--log-format", "json"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let wrote_a_part = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.contains("\"flush_complete\"");
            log.push(line);
            if done {
                return;
            }
        }
        panic!("exited before writing a part:\n{}", log.join("\n"));
    };
    tokio::time::timeout(PATIENCE, wrote_a_part)
        .await
        .expect("a part is written");
    server.set_faults(Faults {
        latency: Duration::from_secs(3600),
        ..Faults::default()
    });
    let pid = Pid::from_raw(child.id().unwrap() as i32);
    kill(pid, signal).unwrap();
    let rest = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            log.push(line);
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(PATIENCE, rest)
        .await
        .expect("the child stops");
    let log = log.join("\n");
    let code = 128 + signal as i32;
    assert_eq!(status.code(), Some(code), "{args:?}: {status:?}\n{log}");
    let stopped = log
        .lines()
        .find(|l| l.contains("\"fetch_stopped\""))
        .unwrap_or_else(|| panic!("{args:?}: no fetch_stopped event:\n{log}"));
    let event: serde_json::Value = serde_json::from_str(stopped).unwrap();
    assert!(
        event["fields"]["parts_removed"].as_u64().unwrap() >= 1,
        "{stopped}"
    );
    assert!(
        log.contains(&format!("stopped by {}", signal.as_str())),
        "{args:?}: {log}"
    );

    let cache = dir.path().join("cache");
    let left: Vec<String> = files(&cache)
        .into_iter()
        .filter(|f| f.contains("logs/"))
        .collect();
    assert!(left.is_empty(), "{args:?}: nothing half-written: {left:?}");

    server.set_faults(Faults::default());
    let gc = run(Some(server), dir.path(), &["cache", "gc", "--grace", "0s"]).await;
    assert!(gc.status.success(), "{}", stderr(&gc));
    let gc: serde_json::Value = serde_json::from_str(&stdout(&gc)).unwrap();
    assert_eq!(gc["objects_deleted"], 0, "{gc}");
    let o = run(
        Some(server),
        dir.path(),
        &["--format", "csv", "-c", &sequence_query()],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let mut got: Vec<u64> = stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    got.sort_unstable();
    let fw = support::log_id(server, "Firewall");
    let mut want: Vec<u64> = server
        .dataset()
        .events(&fw, FROM, TO)
        .iter()
        .map(|e| e.sequence_number)
        .collect();
    // Sequence numbers are not monotone across milliseconds.
    want.sort_unstable();
    assert_eq!(got.len(), want.len(), "{args:?}: row count");
    assert!(got == want, "{args:?}: the rerun is exact");
    let verify = run(Some(server), dir.path(), &["cache", "verify"]).await;
    assert!(verify.status.success(), "{}", stdout(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_query_removes_its_parts_and_exits_143() {
    let server = support::server().await;
    let args = ["--format", "csv", "-c", &sequence_query()].map(String::from);
    stop_mid_fetch(&server, &args, Signal::SIGTERM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_sync_removes_its_parts_and_exits_130() {
    let server = support::server().await;
    let args = [
        "sync",
        "--log",
        "Firewall",
        "--from",
        &support::rfc3339(FROM, 0),
        "--to",
        &support::rfc3339(TO, 0),
    ]
    .map(String::from);
    stop_mid_fetch(&server, &args, Signal::SIGINT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_summary_removes_its_parts_and_exits_143() {
    let server = support::server().await;
    let args = [
        "summary",
        "--log",
        "Firewall",
        "--from",
        &support::rfc3339(FROM, 0),
        "--to",
        &support::rfc3339(TO, 0),
    ]
    .map(String::from);
    stop_mid_fetch(&server, &args, Signal::SIGTERM).await;
}
