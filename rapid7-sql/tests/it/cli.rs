//! `rapid7-sql` as a process, against the simulator on loopback.

mod cache_writes;
mod commands;
mod completeness;
mod config;
mod dashboard;
mod doctor;
mod publish;
mod reliability;
mod repl;
mod retention;
mod shell;
mod stop;
mod terminal;
mod trace;

use std::path::Path;
use std::process::Output;

use datafusion_rapid7::mock::MockServer;
use tempfile::TempDir;

use crate::support::{self, T0};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_rapid7-sql");
pub(crate) const MIN: i64 = 60_000;

/// Run the binary with a clean `RAPID7_*` environment pointing at `server`
/// (when given) and a cache in `dir`.
async fn run(server: Option<&MockServer>, dir: &Path, args: &[&str]) -> Output {
    run_with(server, dir, &[], args).await
}

/// [`run`] with more environment variables.
async fn run_with(
    server: Option<&MockServer>,
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir).env("XDG_CACHE_HOME", dir.join("xdg"));
    cmd.env("RAPID7_CACHE", dir.join("cache"));
    // These tests fetch with count(*), which count pushdown would answer from
    // statistics without fetching.
    cmd.env("RAPID7_PUSHDOWN_AGGREGATES", "false");
    if let Some(server) = server {
        cmd.env("RAPID7_ENDPOINT", server.url());
        cmd.env("RAPID7_API_KEY", server.api_key());
    }
    cmd.envs(env.iter().copied());
    cmd.args(args).kill_on_drop(true);
    cmd.output().await.expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn window(from: i64, to: i64) -> String {
    format!("timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({to})")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_prints_the_rows_on_stdout_only() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let auth = support::log_id(&server, "Auth Service");
    let expected = server.dataset().count(&auth, T0, T0 + MIN);
    let q = format!(
        "SELECT log_name, count(*) AS n FROM rapid7_logs WHERE log_name = 'Auth Service' AND {} GROUP BY log_name",
        window(T0, T0 + MIN)
    );

    let o = run(Some(&server), dir.path(), &["-c", &q]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("| Auth Service |") && table.contains(&format!("| {expected} ")),
        "{table}"
    );

    let o = run(Some(&server), dir.path(), &["--format", "csv", "-c", &q]).await;
    assert_eq!(stdout(&o), format!("log_name,n\nAuth Service,{expected}\n"));

    let o = run(Some(&server), dir.path(), &["--format", "json", "-c", &q]).await;
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    assert_eq!(
        v,
        serde_json::json!([{"log_name": "Auth Service", "n": expected}])
    );

    let o = run(
        Some(&server),
        dir.path(),
        &["--format", "ndjson", "-c", &q, "-c", &q],
    )
    .await;
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["n"], serde_json::json!(expected));

    // An empty result is still well-formed.
    let none = format!(
        "SELECT * FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
        window(T0, T0 + 1)
    );
    let none = format!("{none} AND sequence_number = 0");
    let o = run(
        Some(&server),
        dir.path(),
        &["--format", "json", "-c", &none],
    )
    .await;
    assert_eq!(stdout(&o).trim(), "[]", "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_go_to_stderr_with_exit_status_1() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let cases = [
        ("SELEC 1".to_string(), "SQL parse error"),
        (
            "SELECT * FROM rapid7_logs".to_string(),
            "WHERE timestamp >= now() - interval '1 hour'",
        ),
        (
            format!(
                "SELECT * FROM rapid7_logs WHERE log_name = 'Web Proxi' AND {}",
                window(T0, T0 + 1)
            ),
            "did you mean Web Proxy",
        ),
        ("SELECT * FROM no_such_table".to_string(), "no_such_table"),
    ];
    for (sql, message) in cases {
        let o = run(Some(&server), dir.path(), &["-c", &sql]).await;
        assert_eq!(o.status.code(), Some(1), "{sql}");
        assert!(stdout(&o).is_empty(), "{sql}: nothing on stdout");
        assert!(stderr(&o).contains(message), "{sql}: {}", stderr(&o));
    }
    // A file with a good and a bad statement: the good one prints, then exit 1.
    let file = dir.path().join("q.sql");
    std::fs::write(&file, "SELECT 1 AS one;\nSELECT nope;\n").unwrap();
    let o = run(Some(&server), dir.path(), &["-f", file.to_str().unwrap()]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("| 1   |"), "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_are_clear() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE {}",
        window(T0, T0 + 1)
    );

    // No key.
    let o = run(None, dir.path(), &["-c", &q]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("RAPID7_API_KEY"), "{}", stderr(&o));

    // A wrong key: 401 with a hint, and the key is never printed.
    let mut cmd = tokio::process::Command::new(BIN);
    let o = cmd
        .env("HOME", dir.path())
        .env("RAPID7_CACHE", dir.path().join("cache"))
        .env("RAPID7_ENDPOINT", server.url())
        .env("RAPID7_API_KEY", "wrong-key-4f2a9c")
        .args(["-c", &q])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("401") && err.contains("check"), "{err}");
    assert!(!err.contains("wrong-key-4f2a9c") && !stdout(&o).contains("wrong-key-4f2a9c"));

    // A bad region, an unreachable endpoint, an unwritable cache.
    let o = run(Some(&server), dir.path(), &["--region", "mars", "-c", &q]).await;
    assert!(
        stderr(&o).contains("us, us2, us3, eu, ca, au, ap"),
        "{}",
        stderr(&o)
    );
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let endpoint = format!("http://{closed}");
    let o = run(
        Some(&server),
        dir.path(),
        &["--endpoint", &endpoint, "-c", &q],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("could not connect"), "{}", stderr(&o));
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let o = run(
        Some(&server),
        dir.path(),
        &["--cache", file.to_str().unwrap(), "-c", &q],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not-a-dir"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_over_the_limit_fails_before_any_page_and_names_the_flag() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let q = format!(
        "SELECT max(message) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(T0, T0 + 3_600_000)
    );
    let o = run(
        Some(&server),
        dir.path(),
        &["--max-fetch-events", "1000", "-c", &q],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("would fetch ≈") && err.contains("--max-fetch-events 0"),
        "{err}"
    );
    // And why it pages rather than counting from statistics.
    assert!(err.contains("(counts not pushed: "), "{err}");
    assert_eq!(server.event_query_requests(), 0);

    // sync obeys it, and its JSON report carries the estimate when it runs.
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--max-fetch-events",
            "1k",
            "sync",
            "--log",
            "Firewall",
            "--from",
            "2026-02-10T00:00:00Z",
            "--to",
            "2026-02-10T01:00:00Z",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--max-fetch-events 0"),
        "{}",
        stderr(&o)
    );
    assert_eq!(server.event_query_requests(), 0);
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--max-fetch-events",
            "0",
            "sync",
            "--log",
            "Auth Service",
            "--from",
            "2026-02-10T00:00:00Z",
            "--to",
            "2026-02-10T00:10:00Z",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        report["estimated_events"].is_null(),
        "no limit, no estimate: {report}"
    );

    // A bad value says what is accepted.
    let o = run(
        Some(&server),
        dir.path(),
        &["--max-fetch-events", "lots", "-c", "SELECT 1"],
    )
    .await;
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("is not a count"), "{}", stderr(&o));
}
