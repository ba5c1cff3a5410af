//! Shared test helpers: a simulator on loopback and a client tuned for it.

pub mod logs;
pub mod python;
pub mod segments;

use std::time::Duration;

use datafusion_rapid7::client::{
    BackoffConfig, Client, ClientBuilder, PollConfig, RateLimitConfig, RetryConfig,
};
use datafusion_rapid7::mock::{MockConfig, MockDataset, MockServer};
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

/// The simulator on `dataset`, whose event in the middle of the first minute
/// after [`T0`] of the log named `log` carries `message` instead; that
/// event's sequence number.
pub async fn server_with_message(
    dataset: MockDataset,
    log: &str,
    message: impl Into<String>,
) -> (MockServer, u64) {
    let id = &dataset
        .logs()
        .iter()
        .find(|l| l.name == log)
        .unwrap_or_else(|| panic!("no log named {log}"))
        .id;
    let events = dataset.events(id, T0, T0 + 60_000);
    let target = events[events.len() / 2].sequence_number;
    let dataset = dataset.clone().with_message(id, target, message);
    let server = MockServer::start(MockConfig {
        dataset,
        ..MockConfig::default()
    })
    .await
    .expect("simulator");
    (server, target)
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

/// `ms` as RFC 3339 with milliseconds, written in the zone `offset_min`
/// minutes east of UTC (`Z` for 0). Independent of the code under test.
pub fn rfc3339(ms: i64, offset_min: i64) -> String {
    let local = ms + offset_min * 60_000;
    let secs = local.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil from days (proleptic Gregorian), after H. Hinnant.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let zone = if offset_min == 0 {
        "Z".to_string()
    } else {
        let sign = if offset_min < 0 { '-' } else { '+' };
        format!(
            "{sign}{:02}:{:02}",
            offset_min.abs() / 60,
            offset_min.abs() % 60
        )
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        local.rem_euclid(1000)
    )
}

/// The rows of docs/events.md's table of the plans' names: event → the
/// fields a dashboard written to the plans expects on it.
pub fn plans_events() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    // The library's tests run in the repository root, the binary's in
    // rapid7-sql/: docs/ is in the first of them that has it.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root
        .ancestors()
        .map(|dir| dir.join("docs/events.md"))
        .find(|p| p.exists())
        .expect("docs/events.md above the package");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = std::collections::BTreeMap::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("| plans' event | plans' fields |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let fields = cells[2]
            .split(", ")
            .map(|f| f.trim_matches('`').to_string())
            .collect();
        out.insert(cells[1].trim_matches('`').to_string(), fields);
    }
    out
}
