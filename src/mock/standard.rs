//! The standard dataset used by tests, the demo and benchmarks.

use super::data::{MockDataset, MockLog, MockLogSet};
use super::messages::MessageFormat;

/// Label id carried by some Firewall and Auth Service events of the standard set.
const LABEL_SECURITY: &str = "7c1d3a52-0f4e-4b8a-9d2c-5e6f7a8b9c01";
/// Label id carried by some Auth Service events of the standard set.
const LABEL_AUTH: &str = "2a9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d02";

impl MockDataset {
    /// The standard set used by tests and the demo:
    ///
    /// | name | id | format | rate | burst |
    /// |---|---|---|---|---|
    /// | `Firewall` | `3f1c9b2e-6a4d-4c1e-9f0a-1b2c3d4e5f60` | Csv | 40/s | 700 events in one ms every 300 s |
    /// | `Web Proxy` | `7d2e4f61-8b3a-4e5c-a6d7-2c3b4a5f6e70` | KeyValue | 15/s | – |
    /// | `Auth Service` | `b5a4c3d2-e1f0-4a9b-8c7d-6e5f4a3b2c10` | Json | 3/s | – |
    /// | `Windows Defender` | `0b9a242d-d2fb-4e42-8656-eb5ff64d652f` | Json | 0.05/s | – |
    /// | `Ops "blue" team — app.log` | `c0ffee00-1234-4abc-9def-0123456789ab` | Plain | 1/s | – |
    ///
    /// Firewall bursts on every epoch second divisible by 300, e.g.
    /// 2026-02-10T00:00:00Z.
    ///
    /// Log sets (Firewall is in two):
    ///
    /// | name | id | logs |
    /// |---|---|---|
    /// | `Network` | `5e7a0c1d-2b3f-4a6e-8d9c-0f1e2d3c4b01` | Firewall, Web Proxy |
    /// | `Security` | `5e7a0c1d-2b3f-4a6e-8d9c-0f1e2d3c4b02` | Firewall, Auth Service, Windows Defender |
    /// | `Ops "blue" team` | `5e7a0c1d-2b3f-4a6e-8d9c-0f1e2d3c4b03` | Ops "blue" team — app.log |
    pub fn standard() -> Self {
        let log = |id: &str, name: &str, rate, format, labels: &[&str]| MockLog {
            id: id.to_string(),
            name: name.to_string(),
            rate_per_sec: rate,
            format,
            burst_every_secs: None,
            burst_size: 0,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        };
        let firewall = MockLog {
            burst_every_secs: Some(300),
            burst_size: 700,
            ..log(
                "3f1c9b2e-6a4d-4c1e-9f0a-1b2c3d4e5f60",
                "Firewall",
                40.0,
                MessageFormat::Csv,
                &[LABEL_SECURITY],
            )
        };
        Self::new(vec![
            firewall,
            log(
                "7d2e4f61-8b3a-4e5c-a6d7-2c3b4a5f6e70",
                "Web Proxy",
                15.0,
                MessageFormat::KeyValue,
                &[],
            ),
            log(
                "b5a4c3d2-e1f0-4a9b-8c7d-6e5f4a3b2c10",
                "Auth Service",
                3.0,
                MessageFormat::Json,
                &[LABEL_SECURITY, LABEL_AUTH],
            ),
            log(
                "0b9a242d-d2fb-4e42-8656-eb5ff64d652f",
                "Windows Defender",
                0.05,
                MessageFormat::Json,
                &[],
            ),
            log(
                "c0ffee00-1234-4abc-9def-0123456789ab",
                "Ops \"blue\" team — app.log",
                1.0,
                MessageFormat::Plain,
                &[],
            ),
        ])
        .with_logsets(standard_logsets())
    }

    /// An organisation's logs: `quiet` logs of 0.05 events a second
    /// (`quiet-000`, `quiet-001`, …) and `busy` logs of 20 a second
    /// (`busy-0`, …), every one JSON like `Windows Defender`'s, so a value
    /// such as `"bytes":999` is rare in all of them. Ids are
    /// `00000000-0000-4000-8000-00000000NNNN` (quiet) and
    /// `00000000-0000-4000-9000-00000000NNNN` (busy): the shape of the
    /// benchmarks and tests of merged reads (issue #34: 200 quiet logs plus
    /// 3 busy ones).
    pub fn organisation(quiet: usize, busy: usize) -> Self {
        let log = |id: String, name: String, rate| MockLog {
            id,
            name,
            rate_per_sec: rate,
            format: MessageFormat::Json,
            burst_every_secs: None,
            burst_size: 0,
            labels: Vec::new(),
        };
        let quiet = (0..quiet).map(|i| {
            log(
                format!("00000000-0000-4000-8000-{i:012}"),
                format!("quiet-{i:03}"),
                0.05,
            )
        });
        let busy = (0..busy).map(|i| {
            log(
                format!("00000000-0000-4000-9000-{i:012}"),
                format!("busy-{i}"),
                20.0,
            )
        });
        Self::new(quiet.chain(busy).collect())
    }
}

fn standard_logsets() -> Vec<MockLogSet> {
    let set = |id: &str, name: &str, logs: &[&str]| MockLogSet {
        id: id.to_string(),
        name: name.to_string(),
        logs: logs.iter().map(|l| l.to_string()).collect(),
    };
    const FIREWALL: &str = "3f1c9b2e-6a4d-4c1e-9f0a-1b2c3d4e5f60";
    vec![
        set(
            "5e7a0c1d-2b3f-4a6e-8d9c-0f1e2d3c4b01",
            "Network",
            &[FIREWALL, "7d2e4f61-8b3a-4e5c-a6d7-2c3b4a5f6e70"],
        ),
        set(
            "5e7a0c1d-2b3f-4a6e-8d9c-0f1e2d3c4b02",
            "Security",
            &[
                FIREWALL,
                "b5a4c3d2-e1f0-4a9b-8c7d-6e5f4a3b2c10",
                "0b9a242d-d2fb-4e42-8656-eb5ff64d652f",
            ],
        ),
        set(
            "5e7a0c1d-2b3f-4a6e-8d9c-0f1e2d3c4b03",
            "Ops \"blue\" team",
            &["c0ffee00-1234-4abc-9def-0123456789ab"],
        ),
    ]
}
