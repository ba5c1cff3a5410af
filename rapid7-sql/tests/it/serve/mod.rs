//! `rapid7-sql serve` as a process, with arrow-flight's Rust Flight SQL
//! client over tonic, against the simulator on loopback. The server listens
//! on port 0 and prints where; the tests read those lines (no sleeping).

mod auth;
mod metrics;
mod stop;
mod tls;

use std::path::Path;
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
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout};
use tonic::transport::{Channel, Endpoint};

use super::cli::{BIN, MIN, window};
use crate::support::{self, T0};

/// A bound on how long the server may take to reach each point (never hit
/// when it works).
const PATIENCE: Duration = Duration::from_secs(120);

/// A running `rapid7-sql serve`.
pub(crate) struct Serve {
    child: Child,
    /// `flight_sql=…` as printed.
    pub(crate) flight: String,
    /// `metrics=…` as printed.
    pub(crate) metrics: Option<String>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
    /// Stdout and stderr read so far.
    pub(crate) out: String,
    pub(crate) err: String,
}

/// How a server ended.
pub(crate) struct Ended {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// `serve` with a clean `RAPID7_*` environment pointing at `server`, a cache
/// in `dir`, listening on loopback port 0 unless `args` say otherwise.
/// `Err` holds how it ended when it exits before listening.
pub(crate) async fn start(
    server: &MockServer,
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Result<Serve, Ended> {
    let mut cmd = tokio::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir)
        .env("XDG_CACHE_HOME", dir.join("xdg"))
        .env("RAPID7_CACHE", dir.join("cache"))
        .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
        .env("RAPID7_ENDPOINT", server.url())
        .env("RAPID7_API_KEY", server.api_key())
        .envs(env.iter().copied())
        .arg("serve");
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut serve = Serve {
        stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
        stderr: BufReader::new(child.stderr.take().unwrap()).lines(),
        child,
        flight: String::new(),
        metrics: None,
        out: String::new(),
        err: String::new(),
    };
    let want_metrics = args.contains(&"--metrics-listen");
    while serve.flight.is_empty() || (want_metrics && serve.metrics.is_none()) {
        let line = tokio::time::timeout(PATIENCE, serve.stdout.next_line())
            .await
            .expect("the server prints its address")
            .unwrap();
        let Some(line) = line else {
            return Err(serve.wait().await);
        };
        serve.out.push_str(&line);
        serve.out.push('\n');
        if let Some(url) = line.strip_prefix("flight_sql=") {
            serve.flight = url.to_string();
        } else if let Some(url) = line.strip_prefix("metrics=") {
            serve.metrics = Some(url.to_string());
        }
    }
    Ok(serve)
}

impl Serve {
    pub(crate) fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("running");
        kill(Pid::from_raw(i32::try_from(pid).unwrap()), signal).unwrap();
    }

    /// Read stderr until a line containing `needle` (the lines read are kept).
    pub(crate) async fn wait_for_log(&mut self, needle: &str) {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.stderr.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {needle} on stderr: {}", self.err))
                .unwrap()
                .unwrap_or_else(|| panic!("stderr ended before {needle}: {}", self.err));
            self.err.push_str(&line);
            self.err.push('\n');
            if line.contains(needle) {
                return;
            }
        }
    }

    /// Wait for the process to end, with all it wrote.
    pub(crate) async fn wait(mut self) -> Ended {
        let mut rest = String::new();
        while let Some(line) = self.stdout.next_line().await.unwrap() {
            rest.push_str(&line);
            rest.push('\n');
        }
        self.out.push_str(&rest);
        let mut err = String::new();
        while let Some(line) = self.stderr.next_line().await.unwrap() {
            err.push_str(&line);
            err.push('\n');
        }
        self.err.push_str(&err);
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server exits")
            .unwrap();
        Ended {
            status,
            stdout: self.out,
            stderr: self.err,
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
