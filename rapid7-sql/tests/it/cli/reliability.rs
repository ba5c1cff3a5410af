//! Processes racing over one cache, and the key never printed.

use tempfile::TempDir;

use super::{BIN, MIN, stderr, stdout};
use crate::support::{self, T0};

fn count_query(from: i64, to: i64) -> String {
    format!(
        "SELECT count(*) FROM rapid7.Firewall WHERE timestamp >= to_timestamp_millis({from}) \
         AND timestamp < to_timestamp_millis({to})"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_processes_over_overlapping_windows_are_all_exact() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let windows = [
        (T0, T0 + 20 * MIN),
        (T0 + 10 * MIN, T0 + 30 * MIN),
        (T0 - 10 * MIN, T0 + 15 * MIN),
        (T0, T0 + 20 * MIN),
    ];
    let runs = windows.map(|(f, t)| {
        tokio::process::Command::new(BIN)
            .env("HOME", dir.path())
            .env("RAPID7_CACHE", dir.path().join("cache"))
            .env("RAPID7_ENDPOINT", server.url())
            // count(*) here must fetch: no count pushdown.
            .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
            .env("RAPID7_API_KEY", server.api_key())
            .args(["--format", "csv", "-c", &count_query(f, t)])
            .kill_on_drop(true)
            .output()
    });
    let outputs = futures::future::join_all(runs).await;
    for ((f, t), o) in windows.iter().zip(outputs) {
        let o = o.unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stdout(&o).lines().nth(1).unwrap(),
            server.dataset().count(&fw, *f, *t).to_string(),
            "[{f}, {t})"
        );
    }
    // The union is now cached, exactly once.
    server.clear_requests();
    let o = super::run(
        Some(&server),
        dir.path(),
        &[
            "--format",
            "csv",
            "-c",
            &count_query(T0 - 10 * MIN, T0 + 30 * MIN),
        ],
    )
    .await;
    assert_eq!(
        stdout(&o).lines().nth(1).unwrap(),
        server
            .dataset()
            .count(&fw, T0 - 10 * MIN, T0 + 30 * MIN)
            .to_string()
    );
    assert_eq!(
        server.query_requests(),
        0,
        "everything was cached by the racing runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_appears_in_any_output_even_at_trace_level() {
    let server = datafusion_rapid7::mock::MockServer::start(datafusion_rapid7::mock::MockConfig {
        api_key: "k3y-9d1f7-SECRET-e4b2".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = TempDir::new().unwrap();
    let q = count_query(T0, T0 + MIN);
    let bad_log = format!(
        "SELECT * FROM rapid7_logs WHERE log_name = 'nope' AND timestamp > to_timestamp_millis({T0})"
    );
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "k3y-9d1f7-SECRET-e4b2",
            vec!["--log-level", "trace", "-c", &q],
        ),
        (
            "k3y-9d1f7-SECRET-e4b2",
            vec![
                "--log-level",
                "trace",
                "--log-format",
                "json",
                "-c",
                &bad_log,
            ],
        ),
        (
            "k3y-9d1f7-SECRET-e4b2",
            vec!["--log-level", "trace", "-c", "SELECT * FROM nowhere"],
        ),
        (
            "wrong-k3y-SECRET-77aa",
            vec!["--log-level", "trace", "-c", &q],
        ),
        (
            "k3y-9d1f7-SECRET-e4b2",
            vec![
                "--log-level",
                "trace",
                "--endpoint",
                "http://127.0.0.1:1",
                "-c",
                &q,
            ],
        ),
    ];
    for (key, args) in cases {
        let o = tokio::process::Command::new(BIN)
            .env("HOME", dir.path())
            .env("RAPID7_CACHE", dir.path().join("cache"))
            .env("RAPID7_ENDPOINT", server.url())
            // count(*) here must fetch: no count pushdown.
            .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
            .env("RAPID7_API_KEY", key)
            .args(&args)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.is_empty(), "{args:?}: trace logging printed something");
        assert!(!all.contains("SECRET"), "{args:?} leaked the key:\n{all}");
    }
}
