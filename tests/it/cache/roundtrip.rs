//! Write → list → read, overlapping segments, concurrent writers.

use datafusion_rapid7::cache::{CommitOutcome, CoverageKind, MANIFEST_FILE};

use super::*;

on_local_and_s3!(
    write_list_read,
    overlapping_segments_count_once,
    two_writers_one_segment
);

async fn write_list_read(env: Env) {
    let seg = range(T0, T0 + 60_000);
    let rows = truth(LOG, seg, 7);
    let CommitOutcome::Committed(info) = write_segment(&env.cache, LOG, seg, &rows, 500).await
    else {
        panic!("the only writer commits");
    };
    assert_eq!(info.row_count(), rows.len() as u64);
    assert_eq!(info.range(), seg);
    // flush_rows is 1 000 and batches hold 500 rows: every part but the last
    // holds 1 000 to 1 499 rows.
    let parts = info.parts();
    assert!(parts.len() >= rows.len() / 1_500, "{} parts", parts.len());
    assert!(
        parts[..parts.len() - 1]
            .iter()
            .all(|p| (1_000..1_500).contains(&p.rows))
    );
    assert!(
        info.location()
            .contains(&format!("logs/{LOG}/from={}/to={}", seg.start(), seg.end()))
    );

    // Listing reads manifests only and finds exactly the committed segment.
    assert_eq!(
        env.cache.list_segments(LOG).await.unwrap(),
        vec![info.clone()]
    );
    assert_eq!(env.cache.list_logs().await.unwrap(), vec![LOG.to_string()]);

    // Exact request: a hit served by the whole segment.
    let plan = env.cache.plan_read(LOG, seg).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Hit);
    assert_eq!(plan.segments.len(), 1);
    assert!(plan.segments[0].is_whole());
    assert_eq!(read_plan_raw(&env, &plan).await, rows);
    assert_eq!(read_plan(&env.cache, &plan).await, rows);
    for part in plan.segments[0].parts() {
        let meta = part.object_meta();
        assert_eq!(
            (meta.location, meta.size),
            (part.path.clone(), part.size_bytes)
        );
    }

    // 5 s before the segment to its middle: partial, the segment serves its half.
    let request = range(T0 - 5_000, T0 + 30_000);
    let plan = env.cache.plan_read(LOG, request).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Partial);
    assert_eq!(plan.coverage.missing, vec![range(T0 - 5_000, T0)]);
    assert_eq!(plan.segments[0].responsible, range(T0, T0 + 30_000));
    let want: Vec<Row> = rows.iter().filter(|r| r.0 < T0 + 30_000).cloned().collect();
    assert_eq!(read_plan(&env.cache, &plan).await, want);
    assert_eq!(read_plan_raw(&env, &plan).await, want);
    // Parts entirely after the responsible range are not offered.
    assert!(plan.segments[0].parts().len() < info.parts().len());

    // Elsewhere: a miss.
    let plan = env
        .cache
        .plan_read(LOG, range(T0 + 60_000, T0 + 70_000))
        .await
        .unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Miss);
    assert!(plan.segments.is_empty());

    if let Backend::Local(_) = env.backend {
        assert_owner_only(env.root().local_dir().unwrap());
    }
}

#[cfg(unix)]
fn assert_owner_only(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_owner_only(&path);
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }
}

#[cfg(not(unix))]
fn assert_owner_only(_dir: &std::path::Path) {}

async fn overlapping_segments_count_once(env: Env) {
    // Two writers raced on overlapping windows; each segment is complete.
    let a = range(T0, T0 + 40_000);
    let b = range(T0 + 20_000, T0 + 60_000);
    write_segment(&env.cache, LOG, a, &truth(LOG, a, 5), 700).await;
    write_segment(&env.cache, LOG, b, &truth(LOG, b, 5), 300).await;

    let request = range(T0 - 1_000, T0 + 61_000);
    let plan = env.cache.plan_read(LOG, request).await.unwrap();
    assert_eq!(plan.coverage.cached, vec![range(T0, T0 + 60_000)]);
    assert_eq!(
        plan.coverage.missing,
        vec![range(T0 - 1_000, T0), range(T0 + 60_000, T0 + 61_000)]
    );
    let owned: Vec<TimeRange> = plan.segments.iter().map(|s| s.responsible).collect();
    assert_eq!(owned, vec![a, range(T0 + 40_000, T0 + 60_000)]);

    let want = truth(LOG, range(T0, T0 + 60_000), 5);
    assert_eq!(
        read_plan(&env.cache, &plan).await,
        want,
        "no event twice, none lost"
    );
    assert_eq!(read_plan_raw(&env, &plan).await, want);

    // Verify names the pair as suspicious, with the shared range; it is no
    // failure, and reads still resolve it as above.
    let report = env.cache.verify(Some(LOG)).await.unwrap();
    assert_eq!(report.failures, vec![]);
    assert_eq!(report.segments_checked, 2);
    assert_eq!(report.overlaps.len(), 1, "{report:?}");
    let overlap = &report.overlaps[0];
    assert_eq!(overlap.log_id, LOG);
    assert_eq!(overlap.filter, None);
    assert_eq!(
        (&overlap.first, &overlap.second, &overlap.overlap),
        (
            &a.to_string(),
            &b.to_string(),
            &range(T0 + 20_000, T0 + 40_000).to_string()
        )
    );
    // Segments that only touch do not overlap.
    let next = range(T0 + 60_000, T0 + 70_000);
    write_segment(&env.cache, LOG, next, &truth(LOG, next, 5), 300).await;
    assert_eq!(env.cache.verify(None).await.unwrap().overlaps.len(), 1);
}

async fn two_writers_one_segment(env: Env) {
    let seg = range(T0, T0 + 30_000);
    let rows = truth(LOG, seg, 3);
    let mut first = env.cache.writer(LOG, seg).unwrap();
    let mut second = env.cache.writer(LOG, seg).unwrap();
    assert_ne!(first.writer_id(), second.writer_id());
    for chunk in rows.chunks(450) {
        first.push(to_batch(chunk)).await.unwrap();
    }
    for chunk in rows.chunks(800).rev() {
        second.push(to_batch(chunk)).await.unwrap();
    }
    let (a, b) = tokio::join!(first.commit(), second.commit());
    let outcomes = [a.expect("commit is Ok"), b.expect("commit is Ok")];
    let winners: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            CommitOutcome::Committed(info) => Some(info.clone()),
            _ => None,
        })
        .collect();
    let losers = outcomes
        .iter()
        .filter(|o| matches!(o, CommitOutcome::AlreadyCommitted))
        .count();
    assert_eq!((winners.len(), losers), (1, 1), "{outcomes:?}");

    let listed = env.cache.list_segments(LOG).await.unwrap();
    assert_eq!(listed, winners);
    // The loser removed its parts: only the winner's files remain.
    let mut want: Vec<String> = winners[0]
        .parts()
        .iter()
        .map(|p| p.path.to_string())
        .collect();
    want.push(format!("{}/{MANIFEST_FILE}", winners[0].dir()));
    want.sort();
    let got: Vec<String> = env.objects().await.iter().map(|p| p.to_string()).collect();
    assert_eq!(got, want);

    let plan = env.cache.plan_read(LOG, seg).await.unwrap();
    assert_eq!(read_plan(&env.cache, &plan).await, rows);

    // A late third writer of the same range also returns Ok.
    let late = write_segment(&env.cache, LOG, seg, &rows, 1_000).await;
    assert!(matches!(late, CommitOutcome::AlreadyCommitted));
    assert_eq!(env.objects().await.len(), want.len());
}

/// A store without conditional put (S3 with `aws_conditional_put=disabled`:
/// object_store refuses create-only puts there): parts are put plainly and
/// the manifest is checked, then put. Segments commit, read back exactly
/// and verify clean; a second writer of the range still sees the first
/// one's commit and removes its own parts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_conditional_put_commits_with_plain_part_puts() {
    let server = s3::S3Server::start().await;
    let root = server.root_with("plain", &[("aws_conditional_put", "disabled")]);
    let cache = SegmentCache::new(root, small_config());
    let seg = range(T0, T0 + 20_000);
    let rows = truth(LOG, seg, 3);
    let CommitOutcome::Committed(info) = write_segment(&cache, LOG, seg, &rows, 700).await else {
        panic!("the only writer commits");
    };
    assert!(info.parts().len() >= 3, "{} parts", info.parts().len());
    let plan = cache.plan_read(LOG, seg).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Hit);
    assert_eq!(read_plan(&cache, &plan).await, rows);

    let second = write_segment(&cache, LOG, seg, &rows, 700).await;
    assert!(
        matches!(second, CommitOutcome::AlreadyCommitted),
        "{second:?}"
    );
    let report = cache.verify(None).await.unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.rows_checked, rows.len() as u64);
    let gc = cache
        .gc_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(gc.objects_deleted, 0, "the loser removed its own parts");
}
