//! The published table read by the Python `deltalake` package (delta-rs's
//! Python binding, another reader than this crate's), locally and on S3.
//!
//! The Python comes from `crate::support::python` (the venv `scripts/test`
//! makes, or `RAPID7_TEST_PYTHON`); without one the test says SKIPPED on
//! stderr and checks nothing else; it never passes silently.

use std::process::Command;

use datafusion_rapid7::ops::publish::TableLocation;

use super::{Row, Setup, assert_exact, on_local_and_s3, truth_of};
use crate::support::python::python_or_skip;

const SCRIPT: &str = r#"
import json, sys
import pyarrow as pa
from deltalake import DeltaTable
uri, options = sys.argv[1], json.loads(sys.argv[2])
dt = DeltaTable(uri, storage_options=options or None)
t = dt.to_pyarrow_table()
print(json.dumps({"partitions": dt.metadata().partition_columns}))
ts = t["timestamp"].cast(pa.int64()).to_pylist()
days = t["date"].cast(pa.int32()).to_pylist()
cols = [t[c].to_pylist() for c in ["sequence_number", "message", "labels", "log_id", "log_name"]]
for i in range(t.num_rows):
    assert ts[i] % 1000 == 0
    seq, msg, labels, log_id, log_name = (c[i] for c in cols)
    print(json.dumps([ts[i] // 1000, seq, msg, labels or [], log_id, log_name, days[i]]))
"#;

/// The table's rows as the Python package reads them, sorted.
fn read_with_python(python: &str, s: &Setup, table: &TableLocation) -> Vec<Row> {
    let options: serde_json::Map<String, serde_json::Value> = match &s.s3 {
        Some(s3) => s3
            .env()
            .into_iter()
            .map(|(k, v)| (k.replace("AWS_ENDPOINT", "AWS_ENDPOINT_URL"), v.into()))
            .collect(),
        None => Default::default(),
    };
    let o = Command::new(python)
        .args([
            "-c",
            SCRIPT,
            table.url().as_str(),
            &serde_json::Value::Object(options).to_string(),
        ])
        .output()
        .expect("python runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    let mut lines = text.lines();
    let head: serde_json::Value = serde_json::from_str(lines.next().expect("header")).unwrap();
    assert_eq!(head["partitions"], serde_json::json!(["date"]));
    let mut rows: Vec<Row> = lines
        .map(|l| serde_json::from_str(l).expect("a row"))
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    rows
}

on_local_and_s3!(python_deltalake_reads_the_same_rows);

async fn python_deltalake_reads_the_same_rows(s: Setup) {
    let Some(python) = python_or_skip("python_deltalake_reads_the_same_rows", "deltalake, pyarrow")
    else {
        return;
    };
    let covered = s.messy_cache().await;
    let table = s.table("auth");
    s.publish(&table, None).await;
    let want = truth_of(&s, &covered);
    let got = tokio::task::spawn_blocking({
        let table = table.clone();
        move || read_with_python(&python, &s, &table)
    })
    .await
    .expect("joined");
    assert_exact(&got, &want);
}
