//! `sync`, `summary` and `cache` as processes.

use tempfile::TempDir;

use super::{MIN, run, stderr, stdout};
use crate::support::{self, T0, rfc3339};

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(o), stderr(o)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_twice_fetches_only_what_is_new() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let args = [
        "sync",
        "--log",
        "Auth Service",
        "--since",
        "20m",
        "--settle",
        "5m",
    ];
    let first = run(Some(&server), dir.path(), &args).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let first = json(&first);
    assert!(first["new_events_processed"].as_u64().unwrap() > 0);
    assert_eq!(first["segments_used"], 0);
    assert!(first["segments_written"].as_u64().unwrap() >= 1);
    assert_eq!(first["total_events"], first["new_events_processed"]);
    assert_eq!(first["events_failed"], 0);
    let first_end = first["window"][1].as_str().unwrap().to_string();

    server.clear_requests();
    let second = run(Some(&server), dir.path(), &args).await;
    assert!(second.status.success(), "{}", stderr(&second));
    let second = json(&second);
    assert!(second["segments_used"].as_u64().unwrap() >= 1, "{second}");
    // Only the time that settled since the first run was missing.
    for range in second["cache_missing_ranges"].as_array().unwrap() {
        let range = range.as_str().unwrap();
        assert!(
            range.contains(&format!("[{first_end}")),
            "{range} starts where the first run ended"
        );
    }
    let auth = support::log_id(&server, "Auth Service");
    for r in server.requests() {
        if let (Some(from), Some(log)) = (r.from, r.log_id.as_deref()) {
            assert_eq!(log, auth);
            assert!(rfc3339(from, 0) >= first_end, "re-fetched {from}");
        }
    }
}

/// `summary --log "Web Proxy" --from FROM --to TO --output OUT`.
async fn summary_of_web_proxy(
    server: &datafusion_rapid7::mock::MockServer,
    dir: &std::path::Path,
    from: &str,
    to: &str,
    out: &std::path::Path,
) -> std::process::Output {
    let args = [
        "summary",
        "--log",
        "Web Proxy",
        "--from",
        from,
        "--to",
        to,
        "--output",
        out.to_str().unwrap(),
    ];
    run(Some(server), dir, &args).await
}

/// `summary -o FILE` (issue 29, item 8) with symbolic links planted at FILE
/// and at the temporary name an earlier version wrote first: neither target
/// is written; FILE becomes a new owner-only file holding the summary, and
/// no temporary file is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_output_replaces_planted_links_and_is_owner_only() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("summary.json");
    let victims = [dir.path().join("victim"), dir.path().join("victim-tmp")];
    for victim in &victims {
        std::fs::write(victim, "precious\n").unwrap();
    }
    symlink(&victims[0], &out).unwrap();
    let old_tmp = dir.path().join(".summary.json.tmp");
    symlink(&victims[1], &old_tmp).unwrap();
    let o = summary_of_web_proxy(
        &server,
        dir.path(),
        &rfc3339(T0, 0),
        &rfc3339(T0 + MIN, 0),
        &out,
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    for victim in &victims {
        assert_eq!(std::fs::read_to_string(victim).unwrap(), "precious\n");
    }
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.is_file(), "the link is replaced by a file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let proxy = support::log_id(&server, "Web Proxy");
    assert_eq!(
        summary["row_count"],
        server.dataset().count(&proxy, T0, T0 + MIN)
    );
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".summary.json"))
        .collect();
    left.sort();
    assert_eq!(left, [".summary.json.tmp"], "only the planted link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_writes_json_and_cache_verify_finds_corruption() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("summary.json");
    let (from, to) = (T0, T0 + 3 * MIN);
    let o = summary_of_web_proxy(
        &server,
        dir.path(),
        &rfc3339(from, 0),
        &rfc3339(to, 60),
        &out,
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let proxy = support::log_id(&server, "Web Proxy");
    // `to` was written at +01:00: the same instant.
    let expected = server.dataset().count(&proxy, from, to);
    assert_eq!(summary["row_count"], expected);
    assert_eq!(summary["per_log"][0]["log_name"], "Web Proxy");

    let ls = run(Some(&server), dir.path(), &["cache", "ls"]).await;
    let segments = json(&ls);
    assert!(!segments.as_array().unwrap().is_empty());
    let ok = run(Some(&server), dir.path(), &["cache", "verify"]).await;
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(json(&ok)["failures"], serde_json::json!([]));

    // Truncate one part: verify names it and fails.
    let location = segments[0]["location"].as_str().unwrap();
    let seg_dir = std::path::Path::new(location);
    let part = std::fs::read_dir(seg_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a part");
    let bytes = std::fs::read(&part).unwrap();
    std::fs::write(&part, &bytes[..bytes.len() / 2]).unwrap();
    let bad = run(Some(&server), dir.path(), &["cache", "verify"]).await;
    assert_eq!(bad.status.code(), Some(1));
    let report = json(&bad);
    assert_eq!(report["failures"].as_array().unwrap().len(), 1, "{report}");

    // A query over it fails loudly and names the fix.
    let q = format!(
        "SELECT count(*) FROM rapid7.\"Web Proxy\" WHERE timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({})",
        from + MIN
    );
    let o = run(Some(&server), dir.path(), &["-c", &q]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cache drop"), "{}", stderr(&o));

    // Dropping the log's segments lets the next query fetch again.
    let o = run(
        Some(&server),
        dir.path(),
        &["cache", "drop", "--log", "Web Proxy"],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Some(&server), dir.path(), &["--format", "csv", "-c", &q]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().nth(1).unwrap(),
        server.dataset().count(&proxy, from, from + MIN).to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_fetch_then_rerun_is_exact_and_gc_cleans_up() {
    use datafusion_rapid7::mock::Faults;
    use std::time::{Duration, Instant};

    let server = support::server().await;
    server.set_faults(Faults {
        latency: Duration::from_millis(5),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 30 * MIN);
    let q = format!(
        "SELECT count(*) FROM rapid7.Firewall WHERE timestamp >= to_timestamp_millis({from}) \
         AND timestamp < to_timestamp_millis({to})"
    );
    let mut child = tokio::process::Command::new(super::BIN)
        .env("HOME", dir.path())
        .env("RAPID7_CACHE", dir.path().join("cache"))
        .env("RAPID7_ENDPOINT", server.url())
        // count(*) here must fetch: no count pushdown.
        .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
        .env("RAPID7_API_KEY", server.api_key())
        .env("RAPID7_FLUSH_ROWS", "1000")
        .args(["--format", "csv", "-c", &q])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait (bounded) until the fetch is well under way: several pages read
    // and flushed into parts, the segment not committed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.query_requests() < 10 {
        assert!(Instant::now() < deadline, "the fetch never started");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("exited before the kill: {status}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();

    let ls = run(Some(&server), dir.path(), &["cache", "ls"]).await;
    assert_eq!(json(&ls), serde_json::json!([]), "nothing committed");

    server.set_faults(Faults::default());
    let o = run(Some(&server), dir.path(), &["--format", "csv", "-c", &q]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().nth(1).unwrap(),
        server.dataset().count(&fw, from, to).to_string()
    );
    let gc = run(Some(&server), dir.path(), &["cache", "gc", "--grace", "0s"]).await;
    assert!(gc.status.success(), "{}", stderr(&gc));
    assert!(
        json(&gc)["objects_deleted"].as_u64().unwrap() > 0,
        "the killed run's parts"
    );
    let verify = run(Some(&server), dir.path(), &["cache", "verify"]).await;
    assert!(verify.status.success(), "{}", stdout(&verify));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_uses_an_s3_cache_from_a_url() {
    let s3 = crate::cache::s3::S3Server::start().await;
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let url = s3.url("cli");
    let run_s3 = |args: Vec<String>| {
        let mut cmd = tokio::process::Command::new(super::BIN);
        cmd.env("HOME", dir.path())
            .env("RAPID7_ENDPOINT", server.url())
            // count(*) here must fetch: no count pushdown.
            .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
            .env("RAPID7_API_KEY", server.api_key())
            .env("RAPID7_CACHE", &url)
            .envs(s3.env())
            .args(args)
            .kill_on_drop(true);
        cmd.output()
    };
    let proxy = support::log_id(&server, "Web Proxy");
    let q = format!(
        "SELECT count(*) FROM rapid7.\"Web Proxy\" WHERE timestamp >= to_timestamp_millis({T0}) \
         AND timestamp < to_timestamp_millis({})",
        T0 + 2 * MIN
    );
    let expected = server.dataset().count(&proxy, T0, T0 + 2 * MIN).to_string();
    for round in ["cold", "warm"] {
        let before = server.query_requests();
        let o = run_s3(vec![
            "--format".into(),
            "csv".into(),
            "-c".into(),
            q.clone(),
        ])
        .await
        .unwrap();
        assert!(o.status.success(), "{round}: {}", stderr(&o));
        assert_eq!(
            stdout(&o).lines().nth(1),
            Some(expected.as_str()),
            "{round}"
        );
        if round == "warm" {
            assert_eq!(server.query_requests(), before, "warm: served from S3");
        }
    }
    let ls = run_s3(vec!["cache".into(), "ls".into()]).await.unwrap();
    assert_eq!(json(&ls).as_array().unwrap().len(), 1, "{}", stderr(&ls));
    let verify = run_s3(vec!["cache".into(), "verify".into()]).await.unwrap();
    assert!(verify.status.success(), "{}", stdout(&verify));
    let gc = run_s3(vec![
        "cache".into(),
        "gc".into(),
        "--grace".into(),
        "0s".into(),
    ])
    .await
    .unwrap();
    assert!(gc.status.success(), "{}", stderr(&gc));
}

#[tokio::test]
async fn cache_ls_names_the_filter_of_filtered_segments() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let q = format!(
        "SELECT count(*) FROM rapid7.\"Web Proxy\" WHERE timestamp >= to_timestamp_millis({T0}) \
         AND timestamp < to_timestamp_millis({}) AND message LIKE '%user=bob%'",
        T0 + 3 * MIN
    );
    // Filtered segments are kept once a read showed the log sends text.
    let unfiltered = format!(
        "SELECT max(sequence_number) FROM rapid7.\"Web Proxy\" WHERE \
         timestamp >= to_timestamp_millis({}) AND timestamp < to_timestamp_millis({})",
        T0 + 3 * MIN,
        T0 + 4 * MIN
    );
    let o = run(Some(&server), dir.path(), &["-c", &unfiltered, "-c", &q]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let ls = json(&run(Some(&server), dir.path(), &["cache", "ls"]).await);
    let segments: Vec<_> = ls
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["filter"].is_null())
        .collect();
    assert!(!segments.is_empty(), "{ls}");
    for seg in segments {
        assert_eq!(seg["filter"], r"/user\=bob/", "{seg}");
        assert!(
            seg["location"].as_str().unwrap().contains("where="),
            "{seg}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_verify_reports_overlapping_segments() {
    use crate::support::T0 as C0;
    use crate::support::segments::{LOG, truth, write_segment};
    use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
    use datafusion_rapid7::time::TimeRange;

    let dir = TempDir::new().unwrap();
    let cache = SegmentCache::open(
        dir.path().join("cache").to_str().unwrap(),
        CacheConfig::default(),
    )
    .unwrap();
    let a = TimeRange::new(C0, C0 + 40_000).unwrap();
    let b = TimeRange::new(C0 + 30_000, C0 + 60_000).unwrap();
    write_segment(&cache, LOG, a, &truth(LOG, a, 5), 500).await;
    write_segment(&cache, LOG, b, &truth(LOG, b, 5), 500).await;

    let server = support::server().await;
    let o = run(Some(&server), dir.path(), &["cache", "verify"]).await;
    // Suspicious, not corrupt: the exit status stays 0.
    assert!(o.status.success(), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(report["failures"], serde_json::json!([]));
    assert_eq!(
        report["overlaps"],
        serde_json::json!([{
            "log_id": LOG,
            "first": a.to_string(),
            "second": b.to_string(),
            "overlap": TimeRange::new(C0 + 30_000, C0 + 40_000).unwrap().to_string(),
        }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_cached_ranges_batches_and_a_summary() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (from, to) = (rfc3339(T0, 0), rfc3339(T0 + 3 * MIN, 0));
    let base = ["sync", "--log", "Web Proxy", "--from", &from, "--to", &to];
    let o = run(Some(&server), dir.path(), &base).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let report = json(&o);
    let window = format!(
        "Web Proxy {}",
        datafusion_rapid7::time::TimeRange::new(T0, T0 + 3 * MIN).unwrap()
    );
    assert_eq!(report["cache_cached_ranges"], serde_json::json!([window]));
    assert!(
        report["batches_processed"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(report.get("summary").is_none() && report.get("summary_output").is_none());

    // --summary without -o: under the cache root, named by window and logs.
    let mut args = base.to_vec();
    args.push("--summary");
    let o = run(Some(&server), dir.path(), &args).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(report["batches_processed"], 0, "nothing new: {report}");
    let proxy = support::log_id(&server, "Web Proxy");
    let expected = server.dataset().count(&proxy, T0, T0 + 3 * MIN);
    assert_eq!(report["summary"]["row_count"], expected);
    let output = report["summary_output"].as_str().unwrap().to_string();
    let summaries = dir.path().join("cache").join("summaries");
    assert!(
        std::path::Path::new(&output).starts_with(&summaries),
        "{output}"
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(written, report["summary"]);
    // The same sync again names the same file.
    let again = json(&run(Some(&server), dir.path(), &args).await);
    assert_eq!(again["summary_output"], output.as_str());

    // -o FILE: there instead.
    let out = dir.path().join("sync-summary.json");
    args.extend(["-o", out.to_str().unwrap()]);
    let report = json(&run(Some(&server), dir.path(), &args).await);
    assert_eq!(report["summary_output"], out.display().to_string());
    assert!(out.exists());
}
