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

/// A query over Firewall's first minute, against a simulator stalling
/// `on` for `delay`, with `flags`: the process's stderr, after checking
/// that it failed.
async fn stalled_query(
    on: datafusion_rapid7::mock::StallOn,
    delay: std::time::Duration,
    polls: u32,
    flags: &[&str],
) -> String {
    use datafusion_rapid7::mock::{Faults, Stall};
    let server = support::server().await;
    server.set_faults(Faults {
        polls,
        stall: Some(Stall { on, delay }),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let q = count_query(T0, T0 + MIN);
    let mut args = flags.to_vec();
    args.extend(["--max-retries", "0", "-c", &q]);
    let o = super::run(Some(&server), dir.path(), &args).await;
    assert!(!o.status.success(), "{}", stdout(&o));
    stderr(&o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_answers_too_late_is_a_timeout_naming_the_flag_to_raise() {
    use datafusion_rapid7::mock::StallOn;
    let err = stalled_query(
        StallOn::EventQueries,
        std::time::Duration::from_secs(600),
        0,
        &["--request-timeout", "1s"],
    )
    .await;
    assert!(err.contains("timed out after 1s"), "{err}");
    assert!(err.contains("raise it with --request-timeout"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_too_slow_for_the_query_timeout_name_the_flag_to_raise() {
    use datafusion_rapid7::mock::StallOn;
    // Each poll answers "in progress" after 3 s (within the request
    // timeout); the query needs more polls than fit in 10 s.
    let err = stalled_query(
        StallOn::Polls,
        std::time::Duration::from_secs(3),
        100,
        &["--request-timeout", "30s", "--query-timeout", "10s"],
    )
    .await;
    assert!(
        err.contains("Rapid7 did not finish the query within 10s"),
        "{err}"
    );
    assert!(err.contains("raise it with --query-timeout"), "{err}");
}
