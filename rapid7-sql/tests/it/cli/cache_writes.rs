//! Cache writes that die or fail half way, with `rapid7-sql` as a process and
//! the cache on the in-process S3 server (`cache/s3.rs`), whose PUTs the
//! tests hold or refuse, or on a local directory under a file size limit
//! (Linux: `sh` and util-linux's `prlimit`). Nothing in the binary knows it is
//! being tested.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{Output, Stdio};
use std::time::Duration;

use datafusion_rapid7::mock::MockServer;
use futures::TryStreamExt;
use object_store::ObjectStore;
use tempfile::TempDir;

use super::{BIN, MIN, stderr, stdout};
use crate::cache::s3::{HoldAt, S3Server};
use crate::support::{self, T0};

/// The fetched window: about 5 500 Firewall events, so with 1 000-row
/// flushes the segment has several parts.
const FROM: i64 = T0;
const TO: i64 = T0 + 2 * MIN;
const FLUSH_ROWS: &str = "1000";
/// How long a test waits for the child to reach a held PUT.
const PATIENCE: Duration = Duration::from_secs(120);

/// The simulator, the S3 server and a home directory for the child.
struct Setup {
    server: MockServer,
    s3: S3Server,
    home: TempDir,
}

impl Setup {
    async fn new() -> Setup {
        Setup {
            server: support::server().await,
            s3: S3Server::start().await,
            home: TempDir::new().unwrap(),
        }
    }

    /// `s3://{bucket}/{prefix}` on the test server.
    fn s3_url(&self, prefix: &str) -> String {
        self.s3.url(prefix)
    }

    /// The binary with a clean `RAPID7_*` environment, the cache at `cache`
    /// (an S3 URL or a directory) and small flushes.
    fn command(&self, cache: &str, args: &[&str]) -> tokio::process::Command {
        self.command_of(tokio::process::Command::new(BIN), cache, args)
    }

    /// [`Setup::command`] for `cmd`, a program that runs the binary.
    fn command_of(
        &self,
        mut cmd: tokio::process::Command,
        cache: &str,
        args: &[&str],
    ) -> tokio::process::Command {
        for (k, _) in std::env::vars() {
            if k.starts_with("RAPID7_") || k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", self.home.path())
            .env("XDG_CACHE_HOME", self.home.path().join("xdg"))
            .env("RAPID7_ENDPOINT", self.server.url())
            .env("RAPID7_API_KEY", self.server.api_key())
            .env("RAPID7_CACHE", cache)
            .env("RAPID7_FLUSH_ROWS", FLUSH_ROWS)
            // These tests fetch with count(*), which count pushdown would
            // answer from statistics without fetching.
            .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
            .envs(self.s3.env())
            .args(args)
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, cache: &str, args: &[&str]) -> Output {
        self.command(cache, args)
            .output()
            .await
            .expect("the binary runs")
    }

    fn json(&self, o: &Output) -> serde_json::Value {
        assert!(o.status.success(), "{}", stderr(o));
        serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
    }

    /// Every segment object (part or manifest) under the prefix, with its
    /// size.
    async fn objects(&self, prefix: &str) -> BTreeMap<String, u64> {
        let mut all = self.all_objects(prefix).await;
        all.retain(|k, _| is_part(k) || is_manifest(k));
        all
    }

    /// Every object under the prefix (segments and the log-name list).
    async fn all_objects(&self, prefix: &str) -> BTreeMap<String, u64> {
        let root = self.s3.root(prefix);
        root.store()
            .list(Some(root.prefix()))
            .map_ok(|o| (o.location.to_string(), o.size))
            .try_collect()
            .await
            .expect("list")
    }

    fn firewall(&self) -> String {
        support::log_id(&self.server, "Firewall")
    }

    /// Run the query of the window and check it returns exactly the
    /// simulator's events: every sequence number once, none missing.
    async fn assert_exact(&self, cache: &str) {
        let q = format!(
            "SELECT sequence_number FROM rapid7.Firewall WHERE {} ORDER BY timestamp, sequence_number",
            super::window(FROM, TO)
        );
        let o = self.run(cache, &["--format", "csv", "-c", &q]).await;
        assert!(o.status.success(), "{}", stderr(&o));
        let got: Vec<u64> = stdout(&o)
            .lines()
            .skip(1)
            .map(|l| l.parse().expect("a sequence number"))
            .collect();
        let want: Vec<u64> = self
            .server
            .dataset()
            .events(&self.firewall(), FROM, TO)
            .iter()
            .map(|e| e.sequence_number)
            .collect();
        assert_eq!(got.len(), want.len(), "row count");
        assert!(got == want, "the rows differ from the simulator's");
    }
}

fn count_query() -> String {
    format!(
        "SELECT count(*) FROM rapid7.Firewall WHERE {}",
        super::window(FROM, TO)
    )
}

fn is_part(key: &str) -> bool {
    key.ends_with(".parquet")
}

fn is_manifest(key: &str) -> bool {
    key.ends_with("/_SEGMENT.json")
}

/// What a held PUT is for.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The third part of the segment: two parts are already stored.
    ThirdPart,
    /// The manifest: every part is stored.
    Manifest,
}

/// Start a fetch, hold the PUT of `target` at `at`, `kill -9` the process
/// while it waits, release the PUT; then check what the cache holds, that a
/// rerun is exact and what `cache gc` removes.
async fn kill_9_during_a_held_put(target: Target, at: HoldAt) {
    let s = Setup::new().await;
    let fw = s.firewall();
    assert!(
        s.server.dataset().count(&fw, FROM, TO) > 4_000,
        "several parts"
    );
    let mut parts_seen = 0;
    let mut held = s.s3.hold_put(at, move |key| match target {
        Target::ThirdPart => {
            parts_seen += usize::from(is_part(key));
            is_part(key) && parts_seen == 3
        }
        Target::Manifest => is_manifest(key),
    });
    let cache = s.s3_url("cache");
    let mut child = s
        .command(&cache, &["--format", "csv", "-c", &count_query()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let key = tokio::select! {
        key = held.reached() => key,
        status = child.wait() => panic!("exited before its PUT was held: {status:?}"),
        () = tokio::time::sleep(PATIENCE) => panic!("the {target:?} PUT never came"),
    };
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    held.release();

    let objects = s.objects("cache").await;
    let parts: Vec<&String> = objects.keys().filter(|k| is_part(k)).collect();
    let manifests = objects.keys().filter(|k| is_manifest(k)).count();
    let committed = at == HoldAt::AfterStore && matches!(target, Target::Manifest);
    match target {
        Target::ThirdPart => {
            assert_eq!(parts.len(), 2, "the two earlier parts: {objects:?}");
            assert!(
                !objects.contains_key(&key),
                "the cut-off part is not stored"
            );
        }
        Target::Manifest => assert!(parts.len() >= 3, "every part: {objects:?}"),
    }
    assert_eq!(manifests, usize::from(committed), "{objects:?}");

    let ls = s.json(&s.run(&cache, &["cache", "ls"]).await);
    assert_eq!(ls.as_array().unwrap().len(), usize::from(committed), "{ls}");
    let verify = s.run(&cache, &["cache", "verify"]).await;
    assert_eq!(s.json(&verify)["failures"], serde_json::json!([]));

    s.server.clear_requests();
    s.assert_exact(&cache).await;
    if committed {
        assert_eq!(
            s.server.query_requests(),
            0,
            "the manifest stored before the kill committed the segment"
        );
    }
    let gc = s.json(&s.run(&cache, &["cache", "gc", "--grace", "0s"]).await);
    let leftovers = if committed { 0 } else { parts.len() };
    assert_eq!(gc["objects_deleted"], leftovers, "{gc}");
    let after = s.objects("cache").await;
    assert!(
        objects.keys().all(|k| committed == after.contains_key(k)),
        "the dead writer's objects are gone (kept when committed): {after:?}"
    );
    let verify = s.run(&cache, &["cache", "verify"]).await;
    assert_eq!(s.json(&verify)["failures"], serde_json::json!([]));
    let ls = s.json(&s.run(&cache, &["cache", "ls"]).await);
    assert_eq!(ls.as_array().unwrap().len(), 1, "one segment: {ls}");
    assert_eq!(ls[0]["parts"], after.len() - 1, "no leftovers: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_part_upload_commits_nothing() {
    kill_9_during_a_held_put(Target::ThirdPart, HoldAt::BeforeStore).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_the_manifest_upload_commits_nothing() {
    kill_9_during_a_held_put(Target::Manifest, HoldAt::BeforeStore).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_the_manifest_is_stored_leaves_a_complete_segment() {
    kill_9_during_a_held_put(Target::Manifest, HoldAt::AfterStore).await;
}

/// The store refuses writes once a byte budget is spent, in the middle of a
/// part and in the middle of the manifest: the command fails naming the
/// cache object, nothing is committed, and once the budget is lifted a
/// rerun is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_that_refuses_writes_after_n_bytes_fails_the_query_cleanly() {
    let s = Setup::new().await;
    // What this fetch writes, and how big each object is.
    s.assert_exact(&s.s3_url("probe")).await;
    let probe = s.all_objects("probe").await;
    let parts: Vec<u64> = probe
        .iter()
        .filter(|(k, _)| is_part(k))
        .map(|(_, size)| *size)
        .collect();
    assert!(parts.len() >= 3, "{probe:?}");
    let manifest = probe
        .iter()
        .find_map(|(k, size)| is_manifest(k).then_some(*size))
        .expect("a manifest");
    let total: u64 = probe.values().sum();
    // Everything but parts 1.. and the manifest (the first part, the list of
    // log names) is written before the second part.
    let before_second_part = total - manifest - parts[1..].iter().sum::<u64>();
    let budgets = [
        ("the second part", before_second_part + parts[1] / 2),
        ("the manifest", total - manifest / 2),
    ];
    for (i, (crossing, budget)) in budgets.into_iter().enumerate() {
        let prefix = format!("cache{i}");
        let cache = s.s3_url(&prefix);
        s.s3.set_put_budget(Some(budget));
        let o = s
            .run(&cache, &["--format", "csv", "-c", &count_query()])
            .await;
        assert_eq!(o.status.code(), Some(1), "{crossing}: {}", stdout(&o));
        assert!(stdout(&o).is_empty(), "{crossing}: no result printed");
        let err = stderr(&o);
        let location = format!("{cache}/logs/{}/", s.firewall());
        assert!(
            err.contains(&location),
            "{crossing}: names the object: {err}"
        );
        assert!(err.contains("QuotaExceeded"), "{crossing}: says why: {err}");
        let refused = s.s3.refused_puts();
        let refused = refused.last().expect("a refused PUT");
        match i {
            0 => assert!(refused.ends_with("-00001.parquet"), "{refused}"),
            _ => assert!(is_manifest(refused), "{refused}"),
        }

        // The failed writer removed the parts it had stored.
        let left = s.objects(&prefix).await;
        assert!(left.is_empty(), "{crossing}: {left:?}");
        let ls = s.json(&s.run(&cache, &["cache", "ls"]).await);
        assert_eq!(ls, serde_json::json!([]), "{crossing}");

        s.s3.set_put_budget(None);
        s.assert_exact(&cache).await;
        let gc = s.json(&s.run(&cache, &["cache", "gc", "--grace", "0s"]).await);
        assert_eq!(gc["objects_deleted"], 0, "{crossing}: {gc}");
        let verify = s.run(&cache, &["cache", "verify"]).await;
        assert_eq!(s.json(&verify)["failures"], serde_json::json!([]));
        assert_eq!(
            s.objects(&prefix).await.len(),
            parts.len() + 1,
            "{crossing}"
        );
    }
}

/// Every file under `dir` (relative path, size).
fn files(dir: &std::path::Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, meta.len());
            }
        }
    }
    out
}

/// A local cache on a file system that stops a write after N bytes: the
/// process runs under a file size limit (`RLIMIT_FSIZE`, with `SIGXFSZ`
/// ignored as `sh` leaves it), so the kernel fails the `write` past N bytes
/// with `EFBIG`, as a full disk fails it with `ENOSPC`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_cache_whose_writes_fail_after_n_bytes_fails_the_query_cleanly() {
    let s = Setup::new().await;
    let probe = s.home.path().join("probe");
    s.assert_exact(probe.to_str().unwrap()).await;
    let parts: Vec<u64> = files(&probe)
        .into_iter()
        .filter(|(k, _)| is_part(k))
        .map(|(_, size)| size)
        .collect();
    assert!(parts.len() >= 3, "{parts:?}");
    // The biggest part cannot be written whole; every other file can.
    let limit = parts.iter().max().unwrap() - 1;

    let dir = s.home.path().join("cache");
    let cache = dir.to_str().unwrap();
    let mut limited = tokio::process::Command::new("sh");
    limited.args([
        "-c",
        "trap '' XFSZ; exec prlimit --fsize=\"$0\" -- \"$@\"",
        &limit.to_string(),
        BIN,
    ]);
    let o = s
        .command_of(limited, cache, &["--format", "csv", "-c", &count_query()])
        .output()
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).is_empty(), "no result printed");
    let err = stderr(&o);
    let location = dir.join("logs").join(s.firewall());
    assert!(
        err.contains(location.to_str().unwrap()),
        "names the file: {err}"
    );
    assert!(err.contains("File too large"), "says why: {err}");
    // Nothing committed, and the failed writer removed what it had written.
    let left = files(&dir);
    assert!(
        left.keys()
            .all(|k| !is_part(k) && !is_manifest(k) && !k.contains('#')),
        "{left:?}"
    );

    s.assert_exact(cache).await;
    let gc = s.json(&s.run(cache, &["cache", "gc", "--grace", "0s"]).await);
    assert_eq!(gc["objects_deleted"], 0, "{gc}");
    let verify = s.run(cache, &["cache", "verify"]).await;
    assert_eq!(s.json(&verify)["failures"], serde_json::json!([]));
    let segment_files = files(&dir)
        .into_keys()
        .filter(|k| is_part(k) || is_manifest(k))
        .count();
    assert_eq!(segment_files, parts.len() + 1);
}
