//! Cache maintenance while queries run: a scan that holds its plan (and has
//! started reading) while another handle compacts the cache and runs gc.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_rapid7::Rapid7Config;
use datafusion_rapid7::cache::CompactOptions;
use futures::StreamExt;
use tempfile::TempDir;

use super::{MIN, local_cache, session, single_i64, sql, window};
use crate::support::{self, T0};

/// Six one-minute segments; a query over all of them is planned and reads
/// its first batch (one partition, small batches: the rest is not read
/// yet). Meanwhile compaction merges the six into one and gc runs with the
/// default grace. The scan goes on over the replaced parts and returns
/// exactly the simulator's events. Once the grace period is over, gc
/// deletes the replaced segments and a new query reads the merged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_and_gc_during_a_long_scan_keep_it_exact() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 6 * MIN);
    {
        let (ctx, _) = session(&server, &dir).await;
        for i in 0..6 {
            let q = format!(
                "SELECT count(*) FROM rapid7_logs WHERE log_id = '{fw}' AND {}",
                window(T0 + i * MIN, T0 + (i + 1) * MIN)
            );
            sql(&ctx, &q).await.unwrap();
        }
    }
    let maintenance = local_cache(&dir);
    assert_eq!(maintenance.list_segments(&fw).await.unwrap().len(), 6);

    let ctx = SessionContext::new_with_config(
        SessionConfig::new()
            .with_target_partitions(1)
            .with_batch_size(256),
    );
    datafusion_rapid7::register(
        &ctx,
        Rapid7Config::new(support::client_for(&server), local_cache(&dir)),
    )
    .await
    .unwrap();
    let q = format!(
        "SELECT sequence_number FROM rapid7_logs WHERE log_id = '{fw}' AND {}",
        window(from, to)
    );
    server.clear_requests();
    let plan = ctx
        .sql(&q)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let mut stream = execute_stream(plan, ctx.task_ctx()).unwrap();
    let mut got: Vec<u64> = Vec::new();
    let mut take = |batch: datafusion::arrow::array::RecordBatch| {
        got.extend(batch.column(0).as_primitive::<UInt64Type>().values());
    };
    take(stream.next().await.expect("a first batch").unwrap());

    let report = maintenance
        .compact(
            &fw,
            CompactOptions {
                small_segment_rows: 1_000_000,
                max_merged_rows: 10_000_000,
            },
        )
        .await
        .unwrap();
    assert_eq!((report.segments_written, report.segments_removed), (1, 6));
    let gc = maintenance.gc().await.unwrap();
    assert_eq!(gc.objects_deleted, 0, "{gc:?}");
    assert!(gc.retired_kept >= 6, "{gc:?}");

    while let Some(batch) = stream.next().await {
        take(batch.expect("the scan reads on: no part was pulled from under it"));
    }
    got.sort_unstable();
    let mut want: Vec<u64> = server
        .dataset()
        .events(&fw, from, to)
        .iter()
        .map(|e| e.sequence_number)
        .collect();
    // Sequence numbers are not monotone across milliseconds.
    want.sort_unstable();
    assert_eq!(got.len(), want.len(), "row count");
    assert!(got == want, "each event exactly once");
    assert_eq!(server.query_requests(), 0, "all from the cache");

    let gc = maintenance
        .gc_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(gc.segments_purged, 6, "{gc:?}");
    let count = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_id = '{fw}' AND {}",
        window(from, to)
    );
    assert_eq!(
        single_i64(&sql(&ctx, &count).await.unwrap()),
        want.len() as i64
    );
    assert_eq!(server.query_requests(), 0);
    let verified = maintenance.verify(None).await.unwrap();
    assert!(verified.failures.is_empty(), "{verified:?}");
    assert_eq!(verified.segments_checked, 1);
}
