//! `rapid7-sql publish`, `sync --publish` and `--published` as processes:
//! tables that read back exactly, maintenance, refusals, and `kill -9` in
//! the middle of a publish to S3 (the in-process S3 server holds the PUT of
//! a data file or of the commit while the test kills the process).

use std::os::unix::process::ExitStatusExt;
use std::process::{Output, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use datafusion_rapid7::mock::MockServer;

use super::{BIN, MIN, run, stderr, stdout};
use crate::cache::s3::{HoldAt, S3Server};
use crate::support::{self, T0};

const LOG: &str = "Auth Service";
/// Across midnight: two `date` partitions.
const FROM: &str = "2026-02-09T23:50:00Z";
const TO: &str = "2026-02-10T00:10:00Z";
const PATIENCE: Duration = Duration::from_secs(120);

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// The sequence numbers of the published table, through `--published`.
fn published_query() -> String {
    format!("SELECT sequence_number FROM rapid7_published.\"{LOG}\" ORDER BY sequence_number")
}

fn sequence_numbers(o: &Output) -> Vec<u64> {
    assert!(o.status.success(), "{}", stderr(o));
    stdout(o)
        .lines()
        .skip(1)
        .map(|l| l.parse().expect("a sequence number"))
        .collect()
}

fn want(server: &datafusion_rapid7::mock::MockServer) -> Vec<u64> {
    let id = support::log_id(server, LOG);
    let mut seqs: Vec<u64> = server
        .dataset()
        .events(&id, T0 - 10 * MIN, T0 + 10 * MIN)
        .iter()
        .map(|e| e.sequence_number)
        .collect();
    seqs.sort_unstable();
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_publishes_and_the_table_reads_back_exactly() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let lake = dir.path().join("lake").join("auth");
    let lake = lake.to_str().unwrap();
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "sync",
            "--log",
            LOG,
            "--from",
            FROM,
            "--to",
            TO,
            "--publish",
            lake,
        ],
    )
    .await;
    let report = json(&o);
    let want = want(&server);
    assert_eq!(report["published"][0]["events_published"], want.len());
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--offline",
            "--published",
            lake,
            "--format",
            "csv",
            "-c",
            &published_query(),
        ],
    )
    .await;
    assert_eq!(
        sequence_numbers(&o),
        want,
        "the table holds the window once"
    );
    assert!(
        stderr(&o).contains("rapid7_published.\"Auth Service\""),
        "{}",
        stderr(&o)
    );

    // A rerun publishes nothing; optimize compacts, vacuum keeps what the
    // retention protects.
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--offline",
            "publish",
            "--log",
            LOG,
            "--table",
            lake,
            "--optimize",
            "--vacuum",
        ],
    )
    .await;
    let report = json(&o);
    assert_eq!(report["published"][0]["events_published"], 0);
    assert!(
        report["optimized"][0]["version"].as_i64().is_some(),
        "{report}"
    );
    assert_eq!(
        report["vacuumed"][0]["files_deleted"],
        serde_json::json!([])
    );
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--offline",
            "--published",
            lake,
            "--format",
            "csv",
            "-c",
            &published_query(),
        ],
    )
    .await;
    assert_eq!(sequence_numbers(&o), want);

    // Refusals that say what to do.
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--offline",
            "publish",
            "--table",
            lake,
            "--vacuum",
            "--vacuum-retention",
            "1h",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("prefix"),
        "a table is no prefix: {}",
        stderr(&o)
    );
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--offline",
            "publish",
            "--log",
            LOG,
            "--table",
            lake,
            "--vacuum",
            "--vacuum-retention",
            "1h",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("retention"), "{}", stderr(&o));
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--offline",
            "--published",
            dir.path().to_str().unwrap(),
            "-c",
            "SELECT 1",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("publish first"), "{}", stderr(&o));
}

/// Several logs: the location is a prefix, each log's table under its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_logs_publish_one_table_each_below_a_prefix() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let logs = ["--log", LOG, "--log", "Firewall"];
    let sync = [
        "sync",
        "--from",
        "2026-02-10T00:00:00Z",
        "--to",
        "2026-02-10T00:01:00Z",
    ];
    let mut args = sync.to_vec();
    args.extend(logs);
    json(&run(Some(&server), dir.path(), &args).await);
    let mut args = vec!["--offline", "publish", "--table", lake];
    args.extend(logs);
    let report = json(&run(Some(&server), dir.path(), &args).await);
    let tables = report["published"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    for t in tables {
        let id = t["log_id"].as_str().unwrap();
        assert!(t["table"].as_str().unwrap().ends_with(id), "{t}");
        assert_eq!(
            t["events_published"],
            server.dataset().count(id, T0, T0 + MIN),
            "{t}"
        );
    }
    let q = "SELECT count(*) FROM rapid7_published.\"Firewall\"";
    let o = run(
        Some(&server),
        dir.path(),
        &["--offline", "--published", lake, "--format", "csv", "-c", q],
    )
    .await;
    let fw = support::log_id(&server, "Firewall");
    assert_eq!(
        stdout(&o),
        format!("count(*)\n{}\n", server.dataset().count(&fw, T0, T0 + MIN)),
        "{}",
        stderr(&o)
    );

    // One log into the prefix would make a table over the per-log tables:
    // refused (as several logs into a table are), naming the log's own
    // table; nothing is written there.
    for args in [
        vec!["--offline", "publish", "--log", "Firewall", "--table", lake],
        [&sync[..], &["--log", "Firewall", "--publish", lake]].concat(),
    ] {
        let o = run(Some(&server), dir.path(), &args).await;
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let own = format!("{lake}/{fw}");
        assert!(
            stderr(&o).contains("holds one table per log (2 tables)") && stderr(&o).contains(&own),
            "{}",
            stderr(&o)
        );
        assert!(!dir.path().join("lake").join("_delta_log").exists());
    }
}

/// What the held PUT of a publish is.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The second data file: the first is stored, nothing is committed.
    SecondDataFile,
    /// The commit of the data (`_delta_log/…01.json`).
    Commit,
}

/// A publish to S3 killed with `kill -9`: the simulator, the S3 server
/// holding the cache and the table, and the home directory of the runs.
struct KilledPublish {
    server: MockServer,
    s3: S3Server,
    home: TempDir,
    table: String,
}

impl KilledPublish {
    /// The binary against the simulator, with the cache and the table on
    /// the S3 server.
    fn command(&self, args: &[&str]) -> tokio::process::Command {
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
            .env("RAPID7_CACHE", self.s3.url("cache"))
            .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
            .envs(self.s3.env())
            .args(args)
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("the binary runs")
    }

    /// `publish --log LOG --table TABLE` and `more`.
    async fn publish(&self, more: &[&str]) -> Output {
        let mut args = vec!["publish", "--log", LOG, "--table", self.table.as_str()];
        args.extend(more);
        self.run(&args).await
    }

    /// The table's sequence numbers, through `--published`.
    async fn published(&self) -> Vec<u64> {
        let query = published_query();
        let args = [
            "--offline",
            "--published",
            self.table.as_str(),
            "--format",
            "csv",
            "-c",
            &query,
        ];
        sequence_numbers(&self.run(&args).await)
    }
}

/// Sync into an S3 cache, then publish to S3, hold the PUT of `target` at
/// `at`, kill -9 the process, release.
async fn kill_9_mid_publish(target: Target, at: HoldAt) -> KilledPublish {
    let s3 = S3Server::start().await;
    let table = s3.url("lake/auth");
    let killed = KilledPublish {
        server: support::server().await,
        s3,
        home: TempDir::new().unwrap(),
        table,
    };
    json(
        &killed
            .run(&["sync", "--log", LOG, "--from", FROM, "--to", TO])
            .await,
    );

    let mut data_files = 0;
    let mut held = killed.s3.hold_put(at, move |key| match target {
        Target::SecondDataFile => {
            data_files +=
                usize::from(key.starts_with("lake/auth/date=") && key.ends_with(".parquet"));
            data_files == 2
        }
        Target::Commit => key == "lake/auth/_delta_log/00000000000000000001.json",
    });
    let table = killed.table.as_str();
    let mut child = killed
        .command(&["publish", "--log", LOG, "--table", table])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::select! {
        _ = held.reached() => {}
        status = child.wait() => panic!("exited before its PUT was held: {status:?}"),
        () = tokio::time::sleep(PATIENCE) => panic!("the {target:?} PUT never came"),
    }
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    held.release();
    killed
}

/// [`kill_9_mid_publish`]; the table is at a commit, and a rerun makes it
/// exact.
async fn kill_9_mid_publish_then_rerun(target: Target, at: HoldAt) {
    let killed = kill_9_mid_publish(target, at).await;
    // What the table holds is exact for what it says it holds (nothing, or
    // all of it when the commit was stored).
    let want = want(&killed.server);
    let committed = matches!((target, at), (Target::Commit, HoldAt::AfterStore));
    assert_eq!(
        killed.published().await,
        if committed { want.clone() } else { Vec::new() },
        "{target:?} {at:?}"
    );

    let report = json(&killed.publish(&[]).await);
    let added = report["published"][0]["events_published"].as_u64().unwrap();
    assert_eq!(
        added,
        if committed { 0 } else { want.len() as u64 },
        "{report}"
    );
    assert_eq!(killed.published().await, want, "exact after the rerun");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_data_files_then_rerun_is_exact() {
    kill_9_mid_publish_then_rerun(Target::SecondDataFile, HoldAt::AfterStore).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_before_the_commit_is_stored_then_rerun_is_exact() {
    kill_9_mid_publish_then_rerun(Target::Commit, HoldAt::BeforeStore).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_the_commit_is_stored_then_rerun_is_exact() {
    kill_9_mid_publish_then_rerun(Target::Commit, HoldAt::AfterStore).await
}

/// The data files of a publish killed before its commit are referenced by
/// no version. `publish --vacuum` keeps them while they are younger than the
/// retention (a publisher may be about to commit such files), then deletes
/// them and nothing else; `--dry-run` lists them and deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_deletes_the_data_files_of_a_killed_publish_once_older_than_the_retention() {
    const DATA: &str = "lake/auth/date=";
    let killed = kill_9_mid_publish(Target::SecondDataFile, HoldAt::AfterStore).await;
    let data_files = || -> Vec<String> {
        let files = killed.s3.object_files(DATA);
        files.into_iter().map(|(key, _)| key).collect()
    };
    let leftovers = data_files();
    assert_eq!(
        leftovers.len(),
        2,
        "the killed run stored two: {leftovers:?}"
    );
    let want = want(&killed.server);
    json(&killed.publish(&[]).await);
    assert_eq!(killed.published().await, want);
    let all = data_files();
    let referenced: Vec<String> = all
        .iter()
        .filter(|f| !leftovers.contains(f))
        .cloned()
        .collect();
    assert!(!referenced.is_empty(), "{all:?}");
    // Files as the report names them: relative to the table.
    let deleted = |report: &serde_json::Value| -> Vec<String> {
        let files = report["vacuumed"][0]["files_deleted"].as_array();
        let mut files: Vec<String> = files
            .unwrap_or_else(|| panic!("{report}"))
            .iter()
            .map(|f| format!("lake/auth/{}", f.as_str().unwrap()))
            .collect();
        files.sort();
        files
    };

    // Younger than the retention (the table's, seven days): kept.
    let report = json(&killed.publish(&["--vacuum"]).await);
    assert_eq!(deleted(&report), Vec::<String>::new());
    assert_eq!(data_files(), all);

    // Eight days later.
    let past = std::time::SystemTime::now() - Duration::from_secs(8 * 86_400);
    for (_, file) in killed.s3.object_files(DATA) {
        let file = std::fs::File::options().write(true).open(file).unwrap();
        file.set_modified(past).unwrap();
    }
    let report = json(&killed.publish(&["--vacuum", "--dry-run"]).await);
    assert_eq!(deleted(&report), leftovers, "listed");
    assert_eq!(report["vacuumed"][0]["dry_run"], true);
    assert_eq!(data_files(), all, "a dry run deletes nothing");
    let report = json(&killed.publish(&["--vacuum"]).await);
    assert_eq!(deleted(&report), leftovers, "deleted");
    assert_eq!(data_files(), referenced, "only the leftovers are gone");
    assert_eq!(killed.published().await, want, "the table reads the same");
}

/// A local table: the kernel stops `publish` in the middle of its first data
/// file (a file size limit; SIGXFSZ kills the process, or, ignored, the
/// write fails with EFBIG), the table stays at its last commit, and a rerun
/// is exact. Linux: `sh` and util-linux's `prlimit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_stopped_mid_file_on_a_local_table_then_rerun_is_exact() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let lake = dir.path().join("lake").join("auth");
    let lake = lake.to_str().unwrap();
    json(
        &run(
            Some(&server),
            dir.path(),
            &["sync", "--log", LOG, "--from", FROM, "--to", TO],
        )
        .await,
    );
    let want = want(&server);
    let publish = ["--offline", "publish", "--log", LOG, "--table", lake];
    // Room for the table's first commit, not for a data file of the window.
    let limit = "16384";
    for (script, killed) in [
        ("exec prlimit --fsize=\"$0\" -- \"$@\"", true),
        ("trap '' XFSZ; exec prlimit --fsize=\"$0\" -- \"$@\"", false),
    ] {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", script, limit, BIN]).args(publish);
        for (k, _) in std::env::vars() {
            if k.starts_with("RAPID7_") {
                cmd.env_remove(k);
            }
        }
        let o = cmd
            .env("HOME", dir.path())
            .env("XDG_CACHE_HOME", dir.path().join("xdg"))
            .env("RAPID7_CACHE", dir.path().join("cache"))
            .output()
            .await
            .expect("sh runs");
        if killed {
            assert_eq!(o.status.signal(), Some(25), "SIGXFSZ: {o:?}");
        } else {
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(
                stderr(&o).contains("File too large"),
                "says why: {}",
                stderr(&o)
            );
        }
        let o = run(
            None,
            dir.path(),
            &[
                "--offline",
                "--published",
                lake,
                "--format",
                "csv",
                "-c",
                &published_query(),
            ],
        )
        .await;
        assert_eq!(sequence_numbers(&o), Vec::<u64>::new(), "nothing committed");
    }
    let report = json(&run(None, dir.path(), &publish).await);
    assert_eq!(report["published"][0]["events_published"], want.len());
    let o = run(
        None,
        dir.path(),
        &[
            "--offline",
            "--published",
            lake,
            "--format",
            "csv",
            "-c",
            &published_query(),
        ],
    )
    .await;
    assert_eq!(sequence_numbers(&o), want, "exact after the rerun");
}

/// SIGTERM while a publish waits on storage: it stops at once (exit 143),
/// the table at its last commit, and a rerun is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_publish_stops_at_the_last_commit() {
    let server = support::server().await;
    let s3 = S3Server::start().await;
    let home = TempDir::new().unwrap();
    let dir = home.path().to_path_buf();
    let table = s3.url("lake/auth");
    let command = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("RAPID7_") || k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", &dir)
            .env("XDG_CACHE_HOME", dir.join("xdg"))
            .env("RAPID7_ENDPOINT", server.url())
            .env("RAPID7_API_KEY", server.api_key())
            .env("RAPID7_CACHE", dir.join("cache"))
            .envs(s3.env())
            .args(args)
            .kill_on_drop(true);
        cmd
    };
    json(
        &command(&["sync", "--log", LOG, "--from", FROM, "--to", TO])
            .output()
            .await
            .unwrap(),
    );
    let mut held = s3.hold_put(HoldAt::BeforeStore, |key| {
        key.starts_with("lake/auth/date=") && key.ends_with(".parquet")
    });
    let publish = ["publish", "--log", LOG, "--table", table.as_str()];
    let child = command(&publish)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::select! {
        _ = held.reached() => {}
        () = tokio::time::sleep(PATIENCE) => panic!("the data file PUT never came"),
    }
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let o = child.wait_with_output().await.unwrap();
    held.release();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the table is at its last commit"),
        "{}",
        stderr(&o)
    );
    let query = [
        "--offline",
        "--published",
        &table,
        "--format",
        "csv",
        "-c",
        &published_query(),
    ];
    let o = command(&query).output().await.unwrap();
    assert_eq!(sequence_numbers(&o), Vec::<u64>::new(), "nothing committed");
    json(&command(&publish).output().await.unwrap());
    let o = command(&query).output().await.unwrap();
    assert_eq!(sequence_numbers(&o), want(&server), "exact after the rerun");
}
