//! The flags of `rapid7-sql serve` (each also read from its `RAPID7_SERVE_*`
//! variable); every library setting applies as for the shell.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use datafusion_rapid7::flight::ServeLimits;

/// Where the server listens when `--listen` is not given.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8815";

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where Flight SQL clients connect (port 0: any free port; the chosen
    /// one is printed as `flight_sql=grpc://HOST:PORT`). A non-loopback
    /// address needs --tls-cert/--tls-key and --serve-tokens.
    #[arg(long, value_name = "HOST:PORT", env = "RAPID7_SERVE_LISTEN", default_value = DEFAULT_LISTEN)]
    pub(crate) listen: String,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics (printed as
    /// `metrics=…`).
    #[arg(long, value_name = "HOST:PORT", env = "RAPID7_SERVE_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<String>,
    /// The users' tokens: one `name:<SHA-256 hex of the token>` a line, `#`
    /// comments; reloaded on SIGHUP. Without it every caller is `anonymous`
    /// (loopback only).
    #[arg(long, value_name = "FILE", env = "RAPID7_SERVE_TOKENS")]
    pub(crate) serve_tokens: Option<PathBuf>,
    /// The server's TLS certificate chain (PEM); with --tls-key.
    #[arg(
        long,
        value_name = "PEM",
        env = "RAPID7_SERVE_TLS_CERT",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); with --tls-cert.
    #[arg(
        long,
        value_name = "PEM",
        env = "RAPID7_SERVE_TLS_KEY",
        requires = "tls_cert"
    )]
    pub(crate) tls_key: Option<PathBuf>,
    /// On SIGTERM or SIGINT, how long running statements may take to finish
    /// before their fetches are stopped.
    #[arg(long, value_name = "DURATION", env = "RAPID7_SERVE_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub(crate) grace: Duration,
    /// Statements one user may have at once, planned and not yet read (0: no
    /// limit) [default: the library's, 8].
    #[arg(long, value_name = "N", env = "RAPID7_SERVE_STATEMENTS_PER_USER")]
    pub(crate) serve_statements_per_user: Option<usize>,
    /// Rows one result may hold; a longer result fails (0: no limit)
    /// [default: the library's, 10 million].
    #[arg(long, value_name = "N", env = "RAPID7_SERVE_ROWS_PER_RESULT")]
    pub(crate) serve_rows_per_result: Option<u64>,
    /// Bytes (Arrow, in memory) one result may hold (0: no limit) [default:
    /// the library's, 4 GiB].
    #[arg(long, value_name = "BYTES", env = "RAPID7_SERVE_BYTES_PER_RESULT")]
    pub(crate) serve_bytes_per_result: Option<u64>,
    /// The memory pool of every statement of the process, bytes (0: no
    /// limit) [default: the library's, 2 GiB].
    #[arg(long, value_name = "BYTES", env = "RAPID7_SERVE_MEMORY_POOL_BYTES")]
    pub(crate) serve_memory_pool_bytes: Option<u64>,
}

impl ServeArgs {
    /// The service's limits: the library's defaults, with those given here.
    pub(crate) fn limits(&self) -> ServeLimits {
        let mut limits = ServeLimits::default();
        if let Some(n) = self.serve_statements_per_user {
            limits = limits.with_statements_per_user(n);
        }
        if let Some(n) = self.serve_rows_per_result {
            limits = limits.with_rows_per_result(n);
        }
        if let Some(n) = self.serve_bytes_per_result {
            limits = limits.with_bytes_per_result(n);
        }
        if let Some(n) = self.serve_memory_pool_bytes {
            limits = limits.with_memory_pool_bytes(n);
        }
        limits
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e}; use e.g. 30s, 5m or 2h"))
}
