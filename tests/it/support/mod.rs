//! Shared test helpers: a simulator on loopback and a client tuned for it.

use std::time::Duration;

use datafusion_rapid7::client::{
    BackoffConfig, Client, ClientBuilder, PollConfig, RateLimitConfig, RetryConfig,
};
use datafusion_rapid7::mock::{MockConfig, MockServer};
use futures::TryStreamExt;

/// 2026-02-10T00:00:00Z: a second on which the standard Firewall log bursts.
pub const T0: i64 = 1_770_681_600_000;

/// One event as the tests compare it.
pub type Row = (i64, u64, String, Vec<String>);

pub async fn server() -> MockServer {
    MockServer::start(MockConfig::default())
        .await
        .expect("simulator binds on loopback")
}

/// Fast retries and polls, no proactive limit: tests exercise the server's
/// answers, not our own pacing.
pub fn builder_for(server: &MockServer) -> ClientBuilder {
    ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init: Duration::from_millis(1),
                max: Duration::from_millis(20),
                base: 2.0,
            },
            max_retries: 20,
            retry_timeout: Duration::from_secs(60),
            max_rate_limit_wait: Duration::from_secs(60),
        })
        .with_poll(PollConfig {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(10),
            ..PollConfig::default()
        })
        .with_rate_limit(RateLimitConfig::unlimited())
}

pub fn client_for(server: &MockServer) -> Client {
    builder_for(server).build().expect("client")
}

pub fn log_id(server: &MockServer, name: &str) -> String {
    server
        .dataset()
        .logs()
        .iter()
        .find(|l| l.name == name)
        .unwrap_or_else(|| panic!("no log named {name}"))
        .id
        .clone()
}

/// What the simulator's data function says for `[from, to)`.
pub fn truth(server: &MockServer, log: &str, from: i64, to: i64) -> Vec<Row> {
    server
        .dataset()
        .events(log, from, to)
        .into_iter()
        .map(|e| (e.timestamp, e.sequence_number, e.message, e.labels))
        .collect()
}

/// Every event the client returns for `[from, to)`, in order.
pub async fn fetch(
    client: &Client,
    log: &str,
    from: i64,
    to: i64,
) -> datafusion_rapid7::Result<Vec<Row>> {
    let pages: Vec<_> = client
        .query_events(log, from, to)?
        .into_stream()
        .try_collect()
        .await?;
    let mut rows = Vec::new();
    for p in pages {
        let c = &p.columns;
        for i in 0..c.len() {
            rows.push((
                c.timestamps[i],
                c.sequence_numbers[i],
                c.message(i).to_string(),
                c.labels(i).map(str::to_string).collect(),
            ));
        }
    }
    Ok(rows)
}
