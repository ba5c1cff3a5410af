//! Every knob from the environment and the command line (issue 23, item 2):
//! `rapid7-sql config` shows each setting's value and origin without the
//! key, invalid values fail with the accepted range, the knobs reach the
//! client (also under `--demo`), and the README's table lists every one.

use std::collections::BTreeMap;

use datafusion_rapid7::config::ConfigKey;
use tempfile::TempDir;

use super::{BIN, run, stderr, stdout, window};
use crate::support::{self, T0};

/// `config --format json` as setting → (value, source).
fn effective(o: &std::process::Output) -> BTreeMap<String, (String, String)> {
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(o), stderr(o)));
    rows.into_iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("setting"), (s("value"), s("source")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_shows_every_value_and_where_it_came_from_never_the_key() {
    let dir = TempDir::new().unwrap();
    let secret = "k-2c9d41e7-never-shown";
    let mut cmd = tokio::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd
        .env("HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path().join("xdg"))
        .env("RAPID7_API_KEY", secret)
        .env("RAPID7_PER_PAGE", "200")
        .env("RAPID7_COMPRESSION", "snappy")
        .env("RAPID7_LOG", "info")
        .args([
            "--query-rate",
            "0.5",
            "--retention=30d",
            "--offline",
            "--format",
            "json",
        ])
        .args(["--log-level", "trace", "config"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains(secret), "the key is shown: {all}");
    let shown = effective(&o);
    let want = |k: &str, v: &str, s: &str| {
        assert_eq!(shown[k], (v.to_string(), s.to_string()), "{k}");
    };
    want("RAPID7_API_KEY", "<redacted>", "environment");
    want("RAPID7_PER_PAGE", "200", "environment");
    want("RAPID7_COMPRESSION", "snappy", "environment");
    want("RAPID7_QUERY_RATE", "0.5", "flag");
    want("RAPID7_RETENTION", "30days", "flag");
    want("RAPID7_OFFLINE", "true", "flag");
    want("RAPID7_MAX_RETRIES", "10", "default");
    want("RAPID7_MAX_BODY_BYTES", "64MiB", "default");
    want("RAPID7_FETCH_CHUNK", "1h", "default");
    want("RAPID7_LOG_LEVEL", "trace", "flag");
    let cache = dir.path().join("xdg").join("datafusion-rapid7");
    want("RAPID7_CACHE", &cache.display().to_string(), "default");
    for key in ConfigKey::ALL {
        assert!(shown.contains_key(key.spec().env), "{key} is not shown");
    }
    // The old name of the log level is still read, as the environment.
    let o = tokio::process::Command::new(BIN)
        .env("HOME", dir.path())
        .env("RAPID7_CACHE", dir.path().join("cache"))
        .env_remove("RAPID7_LOG_LEVEL")
        .env("RAPID7_LOG", "info")
        .args(["--format", "json", "--offline", "config"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        effective(&o)["RAPID7_LOG_LEVEL"],
        ("info".into(), "environment".into())
    );
    // And the table form names the flags.
    let o = run(None, dir.path(), &["--offline", "config"]).await;
    let table = stdout(&o);
    assert!(
        table.contains("| RAPID7_MAX_IN_FLIGHT") && table.contains("--max-in-flight"),
        "{table}"
    );
    assert!(table.contains("(environment only)"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_knobs_fail_with_the_accepted_range() {
    let dir = TempDir::new().unwrap();
    // From the environment: exit 1, the variable, the range and the flag.
    for (env, value, accepted, flag) in [
        ("RAPID7_QUERY_RATE", "0", "or unlimited", "--query-rate"),
        ("RAPID7_PER_PAGE", "900", "1 to 500", "--per-page"),
        (
            "RAPID7_COMPRESSION",
            "lz4",
            "zstd, zstd:LEVEL (1 to 22), snappy or none",
            "--compression",
        ),
        ("RAPID7_FETCH_CHUNK", "5s", "1m to 24h", "--fetch-chunk"),
        (
            "RAPID7_MAX_BODY_BYTES",
            "10",
            "64KiB to 1GiB",
            "--max-body-bytes",
        ),
    ] {
        let mut cmd = tokio::process::Command::new(BIN);
        let o = cmd
            .env("HOME", dir.path())
            .env("RAPID7_CACHE", dir.path().join("cache"))
            .env("RAPID7_OFFLINE", "1")
            .env(env, value)
            .args(["-c", "SELECT 1"])
            .output()
            .await
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{env}: {err}");
        assert!(
            err.contains(env) && err.contains(accepted) && err.contains(flag),
            "{env}: {err}"
        );
    }
    // From a flag: the command line is refused before anything runs.
    for (args, accepted) in [
        (["--fetch-concurrency", "0"], "1 to 64"),
        (["--retry-timeout", "soon"], "1s to 24h"),
        (["--retention", "5m"], "at least 1h"),
        (["--max-in-flight", "1000"], "1 to 256"),
    ] {
        let o = run(
            None,
            dir.path(),
            &[args[0], args[1], "--offline", "-c", "SELECT 1"],
        )
        .await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(args[0]) && err.contains(accepted),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knobs_reach_the_client_from_the_environment_and_from_flags() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let auth = support::log_id(&server, "Auth Service");
    let expected = server.dataset().count(&auth, T0, T0 + 60_000);
    let q = format!(
        "SELECT count(*) AS n FROM rapid7.\"Auth Service\" WHERE {}",
        window(T0, T0 + 60_000)
    );
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--per-page",
            "37",
            "--bypass-cache",
            "--format",
            "csv",
            "-c",
            &q,
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("n\n{expected}\n"));
    let pages: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.per_page.is_some() && !r.is_statistical())
        .collect();
    assert!(!pages.is_empty());
    assert!(pages.iter().all(|r| r.per_page == Some(37)), "{pages:?}");
    assert!(expected > 37, "several pages were needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knobs_apply_to_the_demo_but_not_where_it_connects() {
    let dir = TempDir::new().unwrap();
    let mut cmd = tokio::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd
        .env("HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path().join("xdg"))
        .env("RAPID7_ENDPOINT", "https://eu.rest.logs.insight.rapid7.com")
        .env("RAPID7_CACHE", dir.path().join("real-cache"))
        .env("RAPID7_MAX_RETRIES", "3")
        .args(["--demo", "--per-page", "7", "--format", "json", "config"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let shown = effective(&o);
    assert_eq!(shown["RAPID7_PER_PAGE"], ("7".into(), "flag".into()));
    assert_eq!(
        shown["RAPID7_MAX_RETRIES"],
        ("3".into(), "environment".into())
    );
    assert_eq!(
        shown["RAPID7_QUERY_RATE"].0, "unlimited",
        "the demo's own default"
    );
    assert!(
        shown["RAPID7_ENDPOINT"].0.starts_with("http://127.0.0.1:"),
        "{shown:?}"
    );
    // The demo's synthetic logs never go into the cache the environment names.
    let cache = &shown["RAPID7_CACHE"].0;
    assert!(
        cache.ends_with("demo") && !cache.contains("real-cache"),
        "{cache}"
    );
}

/// The README's configuration table lists every setting with its flag.
#[test]
fn the_readme_lists_every_setting_with_its_flag() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("## Configuration"))
        .take_while(|l| !l.starts_with("## Documentation"))
        .filter(|l| l.starts_with("| `RAPID7_"))
        .collect();
    for key in ConfigKey::ALL {
        let spec = key.spec();
        let row = table
            .iter()
            .find(|l| l.starts_with(&format!("| `{}`", spec.env)))
            .unwrap_or_else(|| panic!("README: no row for {}", spec.env));
        let flag = format!("`--{}", spec.option_name());
        assert!(
            spec.secret || row.contains(&flag),
            "README row of {}: {row}",
            spec.env
        );
    }
}

/// `SET rapid7.<key>` then `SHOW` of it, and `SHOW ALL`, in one `-c`: the
/// settings are named as they are set (no API call: offline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_names_a_session_setting_as_it_was_set() {
    let dir = TempDir::new().unwrap();
    let o = run(
        None,
        dir.path(),
        &[
            "--offline",
            "--format",
            "csv",
            "-c",
            "SET rapid7.pushdown_newest_first = false; SHOW rapid7.pushdown_newest_first; \
             SHOW ALL",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("rapid7.pushdown_newest_first,false"), "{out}");
    for key in [
        "rapid7.max_fetch_events",
        "rapid7.pushdown_filters",
        "rapid7.on_incomplete",
    ] {
        assert!(out.contains(key), "{key} not in SHOW ALL: {out}");
    }
}
