//! The log list as `/management/logs` gives it, even when it lists a log
//! twice or ids that are no log ids: each log is read once, the junk is
//! skipped (with a warning), queries over every log stay exact.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion_rapid7::mock::Faults;
use tempfile::TempDir;

use super::{MIN, session, sql, window};
use crate::support::{self, T0};

#[tokio::test]
async fn duplicate_and_invalid_log_ids_are_skipped() {
    let server = support::server().await;
    server.set_faults(Faults {
        junk_in_log_list: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let mut got: Vec<(String, Option<String>)> = rapid7
        .logs()
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    got.sort();
    let mut want: Vec<(String, Option<String>)> = server
        .dataset()
        .logs()
        .iter()
        .map(|l| (l.id.clone(), Some(l.name.clone())))
        .collect();
    want.sort();
    assert_eq!(got, want, "each log once, under its first name");

    // No log filter: every log, each counted once.
    let (from, to) = (T0, T0 + MIN);
    let q = format!(
        "SELECT log_id, count(*) FROM rapid7_logs WHERE {} GROUP BY log_id ORDER BY log_id",
        window(from, to)
    );
    let batches = sql(&ctx, &q).await.unwrap();
    let mut counts = Vec::new();
    for b in &batches {
        let ids = b.column(0).as_string::<i32>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            counts.push((ids.value(i).to_string(), n.value(i) as u64));
        }
    }
    let mut expected: Vec<(String, u64)> = server
        .dataset()
        .logs()
        .iter()
        .map(|l| (l.id.clone(), server.dataset().count(&l.id, from, to)))
        .filter(|(_, n)| *n > 0)
        .collect();
    expected.sort();
    assert_eq!(counts, expected);
}
