//! Nothing is dropped silently: events the decoder rejects, and ranges that
//! Rapid7 says reach beyond the log's retention, are recorded in the
//! segment's manifest, shown by `rapid7_cache()` and counted in the
//! statement's activity; the segment keeps every event that could be read.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion_rapid7::cache::CompactOptions;
use datafusion_rapid7::mock::Faults;
use tempfile::TempDir;

use super::{MIN, session, single_i64, sql, window};
use crate::support::{self, T0};

const LOG: &str = "Auth Service";

/// `SELECT events_rejected, beyond_retention, rows FROM rapid7_cache()`.
async fn cache_rows(ctx: &datafusion::prelude::SessionContext) -> Vec<(u64, bool, u64)> {
    let batches: Vec<RecordBatch> = sql(
        ctx,
        "SELECT events_rejected, beyond_retention, rows FROM rapid7_cache() ORDER BY \"from\"",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let rejected = b.column(0).as_primitive::<UInt64Type>();
        let beyond = b.column(1).as_boolean();
        let rows = b.column(2).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            out.push((rejected.value(i), beyond.value(i), rows.value(i)));
        }
    }
    out
}

fn count_query(from: i64, to: i64) -> String {
    format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = '{LOG}' AND {}",
        window(from, to)
    )
}

#[tokio::test]
async fn rejected_events_are_recorded_in_the_manifest_and_shown() {
    let server = support::server().await;
    // Every event whose sequence number is a multiple of 7 comes without a
    // timestamp; `to` exclusive, so no event of the next range is in a page.
    server.set_faults(Faults {
        events_without_timestamp: Some(7),
        to_exclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let auth = support::log_id(&server, LOG);
    let (from, to) = (T0, T0 + 10 * MIN);
    let truth = support::truth(&server, &auth, from, to);
    let rejected = truth.iter().filter(|r| r.1 % 7 == 0).count() as u64;
    let readable = truth.len() as u64 - rejected;
    assert!(rejected > 10, "a window with rejected events: {rejected}");

    let before = rapid7.activity();
    let got = single_i64(&sql(&ctx, &count_query(from, to)).await.unwrap());
    assert_eq!(got as u64, readable, "every event that could be read");
    let activity = rapid7.activity().since(&before);
    assert_eq!(activity.events_rejected, rejected);
    assert_eq!(activity.beyond_retention, 0);

    // Committed, with the count in the manifest and in rapid7_cache().
    let segments = rapid7.cache().list_segments(&auth).await.unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].manifest().events_rejected, rejected);
    assert!(!segments[0].manifest().beyond_retention);
    assert_eq!(cache_rows(&ctx).await, vec![(rejected, false, readable)]);

    // The warm answer is the same, with no API call and nothing rejected
    // again (the record stays in the manifest).
    let queries = server.query_requests();
    let before = rapid7.activity();
    assert_eq!(
        single_i64(&sql(&ctx, &count_query(from, to)).await.unwrap()) as u64,
        readable
    );
    assert_eq!(server.query_requests(), queries);
    assert_eq!(rapid7.activity().since(&before).events_rejected, 0);
}

#[tokio::test]
async fn a_range_beyond_retention_is_recorded_and_shown() {
    let server = support::server().await;
    let cut = T0 + 4 * MIN;
    server.set_faults(Faults {
        retention_start_ms: Some(cut),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let auth = support::log_id(&server, LOG);
    let (from, to) = (T0, T0 + 10 * MIN);

    let before = rapid7.activity();
    let got = single_i64(&sql(&ctx, &count_query(from, to)).await.unwrap());
    // Rapid7 no longer holds what is older than its retention.
    assert_eq!(got as u64, server.dataset().count(&auth, cut, to));
    let activity = rapid7.activity().since(&before);
    assert_eq!(activity.beyond_retention, 1);
    assert_eq!(activity.events_rejected, 0);

    let segments = rapid7.cache().list_segments(&auth).await.unwrap();
    assert_eq!(segments.len(), 1, "still committed");
    assert!(segments[0].manifest().beyond_retention);
    assert_eq!(
        cache_rows(&ctx).await,
        vec![(0, true, server.dataset().count(&auth, cut, to))]
    );

    // A range inside retention is not marked.
    sql(&ctx, &count_query(T0 + 20 * MIN, T0 + 21 * MIN))
        .await
        .unwrap();
    let rows = cache_rows(&ctx).await;
    assert_eq!(rows.len(), 2);
    assert!(!rows[1].1, "{rows:?}");
}

#[tokio::test]
async fn compaction_keeps_what_its_segments_lacked() {
    let server = support::server().await;
    server.set_faults(Faults {
        events_without_timestamp: Some(7),
        to_exclusive: true,
        retention_start_ms: Some(T0 + 30_000),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let auth = support::log_id(&server, LOG);
    for k in 0..3 {
        let from = T0 + k * MIN;
        sql(&ctx, &count_query(from, from + MIN)).await.unwrap();
    }
    let before = cache_rows(&ctx).await;
    assert_eq!(before.len(), 3);
    let rejected: u64 = before.iter().map(|r| r.0).sum();
    assert!(rejected > 0);
    assert_eq!(
        before.iter().map(|r| r.1).collect::<Vec<_>>(),
        [true, false, false]
    );
    let report = rapid7
        .cache()
        .compact(
            &auth,
            CompactOptions {
                small_segment_rows: u64::MAX,
                ..CompactOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(report.segments_written, 1, "{report:?}");
    let after = cache_rows(&ctx).await;
    assert_eq!(
        after,
        vec![(rejected, true, before.iter().map(|r| r.2).sum())]
    );
}

/// The segments an [`Error::Incomplete`] names, through DataFusion's
/// wrapping.
fn incomplete_segments(
    e: &datafusion::error::DataFusionError,
) -> Vec<datafusion_rapid7::error::IncompleteSegment> {
    use datafusion::error::DataFusionError as D;
    let mut e = e;
    loop {
        match e {
            D::Context(_, inner) => e = inner,
            D::Shared(inner) => e = inner,
            D::External(inner) => match inner.downcast_ref::<datafusion_rapid7::Error>() {
                Some(datafusion_rapid7::Error::Incomplete { segments }) => {
                    return segments.clone();
                }
                _ => panic!("expected Error::Incomplete, got {inner}"),
            },
            other => panic!("expected Error::Incomplete, got {other}"),
        }
    }
}

#[tokio::test]
async fn on_incomplete_fail_refuses_segments_with_rejected_events() {
    use datafusion_rapid7::config::OnIncomplete;
    let server = support::server().await;
    server.set_faults(Faults {
        events_without_timestamp: Some(7),
        to_exclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let auth = support::log_id(&server, LOG);
    let (from, to) = (T0, T0 + 10 * MIN);
    let truth = support::truth(&server, &auth, from, to);
    let rejected = truth.iter().filter(|r| r.1 % 7 == 0).count() as u64;
    let readable = truth.len() as u64 - rejected;
    let segment = datafusion_rapid7::time::TimeRange::new(from, to).unwrap();

    // Strict from the start: the statement that fetches the segment fails
    // once it is committed, naming the range and the count.
    let (strict, rapid7) = super::session_with(&server, super::local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false)
            .with_on_incomplete(OnIncomplete::Fail)
    })
    .await;
    let e = sql(&strict, &count_query(from, to)).await.unwrap_err();
    let named = incomplete_segments(&e);
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(
        (
            named[0].log_id.as_str(),
            named[0].range,
            named[0].events_rejected
        ),
        (auth.as_str(), segment, rejected)
    );
    assert!(!named[0].beyond_retention);
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "{LOG} {segment} ({rejected} events rejected by the decoder)"
        )),
        "{text}"
    );
    assert!(
        text.contains("RAPID7_ON_INCOMPLETE=warn") && text.contains("drop_range"),
        "{text}"
    );
    assert_eq!(rapid7.cache().list_segments(&auth).await.unwrap().len(), 1);

    // Warn (the default) answers as before, from the cache.
    let (ctx, _) = session(&server, &dir).await;
    let queries = server.query_requests();
    let got = single_i64(&sql(&ctx, &count_query(from, to)).await.unwrap());
    assert_eq!(got as u64, readable);
    assert_eq!(server.query_requests(), queries, "read from the cache");

    // A session turns it on and off; the cached segment fails at planning.
    sql(&ctx, "SET rapid7.on_incomplete = 'fail'")
        .await
        .unwrap();
    let e = sql(&ctx, &count_query(from, to)).await.unwrap_err();
    assert_eq!(incomplete_segments(&e)[0].events_rejected, rejected);
    // Back to warn: answered again.
    sql(&ctx, "SET rapid7.on_incomplete = 'warn'")
        .await
        .unwrap();
    assert_eq!(
        single_i64(&sql(&ctx, &count_query(from, to)).await.unwrap()) as u64,
        readable
    );
    assert!(
        sql(&ctx, "SET rapid7.on_incomplete = 'maybe'")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn on_incomplete_fail_refuses_segments_past_retention() {
    use datafusion_rapid7::config::OnIncomplete;
    let server = support::server().await;
    let cut = T0 + 4 * MIN;
    server.set_faults(Faults {
        retention_start_ms: Some(cut),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = super::session_with(&server, super::local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false)
            .with_on_incomplete(OnIncomplete::Fail)
    })
    .await;
    let e = sql(&ctx, &count_query(T0, T0 + 10 * MIN))
        .await
        .unwrap_err();
    let named = incomplete_segments(&e);
    assert_eq!(named.len(), 1);
    assert!(named[0].beyond_retention);
    assert_eq!(named[0].events_rejected, 0);
    assert!(e.to_string().contains("past the log's retention"), "{e}");
    // A range inside retention is read.
    sql(&ctx, &count_query(T0 + 120 * MIN, T0 + 121 * MIN))
        .await
        .unwrap();
}

#[tokio::test]
async fn on_incomplete_fail_refuses_what_a_newest_first_read_committed() {
    use datafusion_rapid7::config::OnIncomplete;
    let server = support::server().await;
    server.set_faults(Faults {
        events_without_timestamp: Some(7),
        to_exclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = super::session_with(&server, super::local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false)
            .with_on_incomplete(OnIncomplete::Fail)
    })
    .await;
    let auth = support::log_id(&server, LOG);
    let (from, to) = (T0, T0 + MIN);
    // More rows than the window holds: the read covers it whole and
    // commits it.
    let q = format!(
        "SELECT timestamp FROM rapid7_logs WHERE log_name = '{LOG}' AND {} \
         ORDER BY timestamp DESC LIMIT 1000000",
        window(from, to)
    );
    let e = sql(&ctx, &q).await.unwrap_err();
    let named = incomplete_segments(&e);
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(
        named[0].range,
        datafusion_rapid7::time::TimeRange::new(from, to).unwrap()
    );
    assert!(named[0].events_rejected > 0);
    assert_eq!(rapid7.cache().list_segments(&auth).await.unwrap().len(), 1);
}
