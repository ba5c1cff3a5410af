//! `rapid7-sql serve` queried by the Python ADBC Flight SQL driver
//! (`adbc-driver-flightsql`, a Go implementation of the client: another
//! Flight SQL stack than arrow-flight's), into Arrow, pandas and polars.
//!
//! The test starts the simulator on loopback and the binary as a process
//! with `--listen 127.0.0.1:0`, reads the `flight_sql=` line it prints once
//! bound, and runs `serve_python/adbc_client.py`; each check prints JSON that
//! the test compares with the simulator's data function. The Python comes from
//! `crate::support::python` (the venv `scripts/test` makes); without one
//! each test says SKIPPED and checks nothing else.
//!
//! `docs` runs the snippets of docs/server.md (tokens, TLS, the systemd
//! unit's command line, the Python example) the same way.

mod docs;

use std::path::{Path, PathBuf};

use datafusion_rapid7::mock::MockServer;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::serve::{PATIENCE, Serve, command, spawn, start_with_tokens};
use crate::support::python::python_or_skip;
use crate::support::{self, T0};

const BIN: &str = env!("CARGO_BIN_EXE_rapid7-sql");
const MIN: i64 = 60_000;
/// The modules the client script imports.
const MODULES: &str = "adbc_driver_flightsql, adbc_driver_manager, pyarrow, pandas, polars";

/// The client script.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/serve_python/adbc_client.py")
}

/// `rapid7-sql serve --listen 127.0.0.1:0 extra…` against `server`.
async fn serve(server: &MockServer, dir: &Path, extra: &[&str]) -> Serve {
    let mut cmd = command(server, dir, BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
    spawn(&mut cmd)
        .await
        .unwrap_or_else(|e| panic!("serve exited ({}):\n{}", e.status, e.stderr))
}

/// Run the client script's `check` with `spec`; its JSON answer.
async fn client(python: &str, served: &Serve, check: &str, spec: Value) -> Value {
    let mut spec = spec;
    if spec.get("uri").is_none() {
        spec["uri"] = json!(served.flight);
    }
    let run = tokio::process::Command::new(python)
        .arg(script())
        .args([check, &spec.to_string()])
        .kill_on_drop(true)
        .output();
    let o = tokio::time::timeout(PATIENCE, run)
        .await
        .expect("the client answers")
        .expect("python runs");
    assert!(
        o.status.success(),
        "{check} failed:\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&o.stderr),
        served.log()
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{check}: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn window(from: i64, to: i64) -> String {
    format!("timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({to})")
}

/// The simulator's events of `log` in `[from, to)` as the script prints them.
fn truth(server: &MockServer, log: &str, from: i64, to: i64) -> Vec<Value> {
    let mut rows = support::truth(server, &support::log_id(server, log), from, to);
    rows.sort_by_key(|r| (r.0, r.1));
    rows.into_iter()
        .map(|(ts, seq, msg, labels)| json!([ts, seq, msg, labels]))
        .collect()
}

fn rows_sql(log: &str, from: i64, to: i64) -> String {
    format!(
        "SELECT timestamp, sequence_number, message, labels FROM rapid7_logs \
         WHERE log_name = '{log}' AND {} ORDER BY timestamp, sequence_number",
        window(from, to)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adbc_reads_exact_rows_metadata_frames_and_prepared_statements() {
    let Some(python) = python_or_skip(
        "adbc_reads_exact_rows_metadata_frames_and_prepared_statements",
        MODULES,
    ) else {
        return;
    };
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let served = serve(&server, dir.path(), &[]).await;
    assert!(
        served.flight.starts_with("grpc://127.0.0.1:"),
        "{}",
        served.flight
    );

    // Rows, exactly the simulator's: cold (fetched), then warm (from the
    // one cache, no more event queries).
    let (from, to) = (T0, T0 + 10 * MIN);
    let want = truth(&server, "Auth Service", from, to);
    assert!(want.len() > 100, "a window with events: {}", want.len());
    let spec = json!({"sql": rows_sql("Auth Service", from, to)});
    let cold = client(&python, &served, "rows", spec.clone()).await;
    assert_eq!(
        cold["schema"],
        json!(["timestamp", "sequence_number", "message", "labels"])
    );
    assert_eq!(cold["rows"].as_array().unwrap(), &want);
    let fetched = server.event_query_requests();
    assert!(fetched > 0);
    let warm = client(&python, &served, "rows", spec).await;
    assert_eq!(warm["rows"].as_array().unwrap(), &want);
    assert_eq!(
        server.event_query_requests(),
        fetched,
        "the warm read fetches nothing"
    );

    // Metadata: the driver's info, the catalog tree with the tables and
    // their columns, one table's schema, the table types.
    let meta = client(
        &python,
        &served,
        "metadata",
        json!({"table": "rapid7_logs"}),
    )
    .await;
    let tables = meta["tables"].as_object().unwrap();
    let logs = tables
        .iter()
        .find(|(name, _)| name.ends_with(".rapid7_logs"))
        .unwrap_or_else(|| panic!("rapid7_logs in adbc_get_objects: {meta}"));
    for column in [
        "timestamp",
        "log_id",
        "log_name",
        "sequence_number",
        "message",
        "labels",
        "logset",
    ] {
        assert!(
            logs.1.as_array().unwrap().contains(&json!(column)),
            "{meta}"
        );
    }
    assert!(
        tables.keys().any(|k| k.ends_with(".Auth Service")),
        "the per-log tables of the rapid7 schema: {meta}"
    );
    let fields: Vec<&str> = meta["table_schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f[0].as_str().unwrap())
        .collect();
    assert_eq!(&fields[..2], ["timestamp", "log_id"], "{meta}");
    assert!(
        meta["table_schema"][0][1]
            .as_str()
            .unwrap()
            .starts_with("timestamp"),
        "{meta}"
    );
    assert!(meta["vendor_name"].is_string(), "{meta}");
    assert!(
        !meta["table_types"].as_array().unwrap().is_empty(),
        "{meta}"
    );

    // A prepared statement with a parameter, executed twice.
    let (a, b) = (T0, T0 + MIN);
    let prepared = client(
        &python,
        &served,
        "prepared",
        json!({
            "sql": format!(
                "SELECT timestamp, sequence_number, message, labels FROM rapid7_logs \
                 WHERE log_name = $1 AND {} ORDER BY timestamp, sequence_number",
                window(a, b)
            ),
            "params": ["Auth Service", "Web Proxy"],
        }),
    )
    .await;
    assert_eq!(
        prepared[0].as_array().unwrap(),
        &truth(&server, "Auth Service", a, b)
    );
    assert_eq!(
        prepared[1].as_array().unwrap(),
        &truth(&server, "Web Proxy", a, b)
    );

    // pandas and polars frames.
    let frames = client(
        &python,
        &served,
        "frames",
        json!({"sql": rows_sql("Auth Service", from, to)}),
    )
    .await;
    let keys: Vec<Value> = want.iter().map(|r| json!([r[0], r[1]])).collect();
    assert_eq!(frames["pandas"].as_array().unwrap(), &keys);
    assert_eq!(frames["polars"].as_array().unwrap(), &keys);

    // What would read or write the server's files is refused, and writes nothing.
    let target = dir.path().join("copied.csv");
    let refused = client(
        &python,
        &served,
        "refused",
        json!({"statements": [
            format!("COPY (SELECT 1 AS one) TO '{}' STORED AS CSV", target.display()),
            "CREATE EXTERNAL TABLE passwd STORED AS CSV LOCATION '/etc/passwd'",
            "SELECT 1 AS one",
        ]}),
    )
    .await;
    for (i, what) in [(0, "COPY"), (1, "DDL")] {
        let err = refused[i]
            .as_str()
            .unwrap_or_else(|| panic!("statement {i} ran: {refused}"));
        assert!(err.contains("refused") && err.contains(what), "{err}");
    }
    assert_eq!(
        refused[2],
        Value::Null,
        "the connection still works: {refused}"
    );
    assert!(!target.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adbc_without_a_good_token_is_refused() {
    let Some(python) = python_or_skip("adbc_without_a_good_token_is_refused", MODULES) else {
        return;
    };
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let token = "t0ken-alice-8c1f5e";
    let served = start_with_tokens(&server, dir.path(), &[("alice", token)], &[], &[])
        .await
        .unwrap_or_else(|e| panic!("{}", e.stderr));

    let ok = client(&python, &served, "auth", json!({"token": token})).await;
    assert_eq!(ok["ok"], json!(true), "{ok}");
    for bad in [json!({"token": "t0ken-alice-8c1f5f"}), json!({})] {
        let no = client(&python, &served, "auth", bad.clone()).await;
        assert_eq!(no["ok"], json!(false), "{bad}: {no}");
        let err = no["error"].as_str().unwrap();
        assert!(
            err.contains("UNAUTHENTICATED") || err.contains("Unauthenticated"),
            "{bad}: {err}"
        );
        assert!(!err.contains(token) && !served.log().contains(token));
    }
    drop(served);
}
