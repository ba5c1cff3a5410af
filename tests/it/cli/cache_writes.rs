//! Cache writes that die half way, with `rapid7-sql` as a process and the
//! cache on the in-process S3 server (`cache/s3.rs`), whose PUTs the tests
//! hold. Nothing in the binary knows it is being tested.

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
        let mut cmd = tokio::process::Command::new(BIN);
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
        let root = self.s3.root(prefix);
        let mut all: BTreeMap<String, u64> = root
            .store()
            .list(Some(root.prefix()))
            .map_ok(|o| (o.location.to_string(), o.size))
            .try_collect()
            .await
            .expect("list");
        all.retain(|k, _| is_part(k) || is_manifest(k));
        all
    }

    fn firewall(&self) -> String {
        support::log_id(&self.server, "Firewall")
    }

    /// Run the query of the window and check it returns exactly the
    /// simulator's events: every sequence number once, none missing.
    async fn assert_exact(&self, cache: &str) {
        let q = format!(
            "SELECT sequence_number FROM rapid7.Firewall WHERE {} ORDER BY sequence_number",
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
