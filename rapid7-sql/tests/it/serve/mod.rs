//! `rapid7-sql serve` as a process, with arrow-flight's Rust Flight SQL
//! client over tonic, against the simulator on loopback. The server listens
//! on port 0 and prints where; the tests read those lines (no sleeping).

mod auth;
mod metrics;
mod stop;
mod tls;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion_rapid7::mock::MockServer;
use futures::TryStreamExt;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use super::cli::{BIN, MIN, window};
use crate::support::{self, T0};

/// A bound on how long the server may take to reach each point (never hit
/// when it works).
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

/// A running `rapid7-sql serve`; killed when dropped.
pub(crate) struct Serve {
    child: Child,
    /// `flight_sql=…` as printed.
    pub(crate) flight: String,
    /// `metrics=…` as printed.
    pub(crate) metrics: Option<String>,
    /// Stdout and stderr so far (read as they come, so that the server never
    /// blocks on a full pipe).
    out: watch::Receiver<String>,
    err: watch::Receiver<String>,
    /// How much of stderr [`Serve::wait_for_log`] has passed.
    seen: usize,
    readers: JoinSet<()>,
}

/// How a server ended.
pub(crate) struct Ended {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// `program` with a clean `RAPID7_*` environment pointing at `server`, its
/// home and cache under `dir`.
pub(crate) fn command(server: &MockServer, dir: &Path, program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir)
        .env("XDG_CACHE_HOME", dir.join("xdg"))
        .env("RAPID7_CACHE", dir.join("cache"))
        .env("RAPID7_ENDPOINT", server.url())
        .env("RAPID7_API_KEY", server.api_key());
    cmd
}

/// `serve` ([`command`], counts not pushed down) against `server`, with
/// `env`, listening on loopback port 0 unless `args` say otherwise.
/// `Err` holds how it ended when it exits before listening.
pub(crate) async fn start(
    server: &MockServer,
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Result<Serve, Ended> {
    let mut cmd = command(server, dir, BIN);
    cmd.env("RAPID7_PUSHDOWN_AGGREGATES", "false")
        .envs(env.iter().copied())
        .arg("serve");
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    spawn(cmd.args(args)).await
}

/// Where [`start_with_tokens`] writes its token file.
pub(crate) fn tokens_file(dir: &Path) -> PathBuf {
    dir.join("tokens")
}

/// [`start`] with `--serve-tokens` naming a file of `users` (`(name,
/// token)`) at [`tokens_file`].
pub(crate) async fn start_with_tokens(
    server: &MockServer,
    dir: &Path,
    users: &[(&str, &str)],
    env: &[(&str, &str)],
    args: &[&str],
) -> Result<Serve, Ended> {
    let tokens = tokens_file(dir);
    write_tokens(&tokens, users);
    let mut all = vec!["--serve-tokens", tokens.to_str().unwrap()];
    all.extend_from_slice(args);
    start(server, dir, env, &all).await
}

/// Start `cmd` (a `rapid7-sql serve` command line) and wait for its
/// `flight_sql=` line (and its `metrics=` line with `--metrics-listen`).
/// `Err` holds how it ended when it exits before.
pub(crate) async fn spawn(cmd: &mut Command) -> Result<Serve, Ended> {
    let want_metrics = cmd.as_std().get_args().any(|a| a == "--metrics-listen");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut readers = JoinSet::new();
    let out = read_lines(&mut readers, child.stdout.take().unwrap());
    let err = read_lines(&mut readers, child.stderr.take().unwrap());
    let mut serve = Serve {
        child,
        flight: String::new(),
        metrics: None,
        out,
        err,
        seen: 0,
        readers,
    };
    let mut out = serve.out.clone();
    let printed = tokio::time::timeout(
        PATIENCE,
        out.wait_for(|o| o.contains("flight_sql=") && (!want_metrics || o.contains("metrics="))),
    )
    .await
    .expect("the server prints its address")
    .is_ok();
    if !printed {
        return Err(serve.wait().await);
    }
    let line = |prefix: &str| {
        let text = serve.out.borrow();
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::to_string)
    };
    serve.flight = line("flight_sql=").unwrap();
    serve.metrics = line("metrics=");
    Ok(serve)
}

/// The lines of `from`, gathered as they come (until it ends).
fn read_lines(
    readers: &mut JoinSet<()>,
    from: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> watch::Receiver<String> {
    let (tx, rx) = watch::channel(String::new());
    let mut lines = BufReader::new(from).lines();
    readers.spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tx.send_modify(|text| {
                text.push_str(&line);
                text.push('\n');
            });
        }
    });
    rx
}

impl Serve {
    pub(crate) fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("running");
        kill(Pid::from_raw(i32::try_from(pid).unwrap()), signal).unwrap();
    }

    /// Its stderr (log lines) so far.
    pub(crate) fn log(&self) -> String {
        self.err.borrow().clone()
    }

    /// Its Flight SQL port.
    pub(crate) fn port(&self) -> u16 {
        self.flight.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Wait until stderr has a line containing `needle` after those an
    /// earlier wait passed.
    pub(crate) async fn wait_for_log(&mut self, needle: &str) {
        let seen = self.seen;
        let mut err = self.err.clone();
        let found =
            tokio::time::timeout(PATIENCE, err.wait_for(|text| text[seen..].contains(needle)))
                .await
                .map(|r| r.is_ok());
        assert!(
            matches!(found, Ok(true)),
            "no {needle} on stderr: {}",
            self.log()
        );
        let text = self.err.borrow();
        let at = seen + text[seen..].find(needle).unwrap();
        self.seen = text[at..].find('\n').map_or(text.len(), |n| at + n);
    }

    /// Wait for the process to end, with all it wrote.
    pub(crate) async fn wait(mut self) -> Ended {
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server exits")
            .unwrap();
        tokio::time::timeout(PATIENCE, self.readers.join_all())
            .await
            .expect("its output ends");
        Ended {
            status,
            stdout: self.out.borrow().clone(),
            stderr: self.err.borrow().clone(),
        }
    }

    /// SIGTERM, then wait for the end.
    pub(crate) async fn stop(self) -> Ended {
        self.signal(Signal::SIGTERM);
        self.wait().await
    }

    /// A client of this (plain) server, without a token.
    pub(crate) async fn client(&self) -> FlightSqlServiceClient<Channel> {
        let url = self.flight.strip_prefix("grpc://").expect("a plain server");
        let channel = Endpoint::from_shared(format!("http://{url}"))
            .unwrap()
            .connect()
            .await
            .expect("the server accepts connections");
        FlightSqlServiceClient::new(channel)
    }

    /// The metrics endpoint's text.
    pub(crate) async fn scrape(&self) -> String {
        let url = self.metrics.as_deref().expect("--metrics-listen");
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
        tcp.write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut text = String::new();
        tcp.read_to_string(&mut text).await.unwrap();
        assert!(
            text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
            "{text}"
        );
        text
    }
}

/// The SHA-256 of `token` in hex, as the token file holds it.
pub(crate) fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A token file of `users` (`(name, token)`), readable by its owner only.
pub(crate) fn write_tokens(path: &Path, users: &[(&str, &str)]) {
    let mut text = String::from("# name:<SHA-256 hex of the token>\n");
    for (name, token) in users {
        text.push_str(&format!("{name}:{}\n", sha256_hex(token)));
    }
    std::fs::write(path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Run `sql` (GetFlightInfo, then DoGet of every endpoint).
pub(crate) async fn query(
    client: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Result<Vec<RecordBatch>, FlightError> {
    let info = client.execute(sql.to_string(), None).await?;
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("an endpoint has a ticket");
        let stream = client.do_get(ticket).await?;
        let got: Vec<RecordBatch> = stream.try_collect().await?;
        batches.extend(got);
    }
    Ok(batches)
}

/// The one `count(*)` a query returned.
pub(crate) fn count(batches: &[RecordBatch]) -> i64 {
    let values: Vec<i64> = batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .flat_map(|b| {
            let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            (0..a.len()).map(|i| a.value(i)).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(values.len(), 1, "{batches:?}");
    values[0]
}

/// A count over ten minutes of the Firewall log, and the simulator's truth.
pub(crate) fn firewall_count(server: &MockServer) -> (String, i64) {
    let id = support::log_id(server, "Firewall");
    let expected = server.dataset().count(&id, T0, T0 + 10 * MIN);
    let sql = format!(
        "SELECT count(*) FROM rapid7.\"Firewall\" WHERE {}",
        window(T0, T0 + 10 * MIN)
    );
    (sql, i64::try_from(expected).unwrap())
}
