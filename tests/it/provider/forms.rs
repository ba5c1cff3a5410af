//! The per-log verdict of how a log sends `message` (text or JSON objects)
//! as the filtered segments see it: objects learnt while a filtered read
//! runs, or after its segment was committed, keep what the filter selected
//! from being committed or reused; a bypassed cache forgets no objects.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::physical_plan::collect;
use datafusion_rapid7::cache::{MessageForm, SegmentCache};
use tempfile::TempDir;

use super::filters::{
    PROXY, auth_bob, auth_bob_truth, filtered_segments, select, session, statements, truth,
};
use super::{MIN, rows, session_with, sql, window};
use crate::support::{self, T0};

/// Objects recorded (by another process over the cache) after a statement
/// was planned to cache what its filter selects, before its read ends: the
/// read commits nothing filtered and says so; the rerun pushes nothing and
/// is exact.
#[tokio::test]
async fn a_filtered_segment_is_not_committed_once_objects_are_seen_during_its_read() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let proxy = support::log_id(&server, PROXY);
    let (from, to) = (T0, T0 + 10 * MIN);
    let bob = select("message LIKE '%user=bob%'", from, to);
    let (ctx, rapid7) = session(&server, &dir).await;
    rapid7
        .record_message_form(&proxy, MessageForm::Text)
        .await
        .unwrap();
    let plan = ctx
        .sql(&bob)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let (_, other) = session(&server, &dir).await;
    other
        .record_message_form(&proxy, MessageForm::Objects)
        .await
        .unwrap();
    let e = collect(plan, ctx.task_ctx()).await.unwrap_err().to_string();
    assert!(e.contains("JSON objects"), "{e}");
    assert_eq!(filtered_segments(&ctx).await, 0, "nothing filtered kept");

    server.clear_requests();
    assert_eq!(
        rows(&sql(&ctx, &bob).await.unwrap()),
        truth(&server, from, to, |m| m.contains("user=bob"))
    );
    let sent = statements(&server);
    assert!(
        !sent.is_empty() && sent.iter().all(|s| s.is_empty()),
        "no filter pushed: {sent:?}"
    );
}

/// A log recorded as sending text, whose filtered segment is committed,
/// then seen sending objects in an unfiltered read: the filtered segment
/// serves no statement any more; the filter is not pushed, and the answer
/// is exact over the text stored.
#[tokio::test]
async fn objects_seen_after_a_filtered_segment_was_committed_retire_it() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let auth = support::log_id(&server, "Auth Service");
    let (from, to) = (T0, T0 + 10 * MIN);
    let q = auth_bob(from, to);
    let bob = |server| auth_bob_truth(server, from, to);
    let (ctx, rapid7) = session(&server, &dir).await;
    rapid7
        .record_message_form(&auth, MessageForm::Text)
        .await
        .unwrap();
    let want = bob(&server);
    assert!(!want.is_empty());
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), want);
    assert!(filtered_segments(&ctx).await > 0, "committed");

    server.set_faults(datafusion_rapid7::mock::Faults {
        object_messages: true,
        ..Default::default()
    });
    let later = format!(
        "SELECT message FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
        window(to, to + 10 * MIN)
    );
    sql(&ctx, &later).await.unwrap();
    assert!(server.event_query_requests() > 0, "read unfiltered");
    assert_eq!(rapid7.message_form(&auth).await, Some(MessageForm::Objects));

    server.clear_requests();
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), bob(&server));
    let sent = statements(&server);
    assert!(
        !sent.is_empty() && sent.iter().all(|s| s.is_empty()),
        "the filtered segment is not used, no filter is pushed: {sent:?}"
    );
    // A new session reads the segment of every event just committed, never
    // the filtered one.
    let (ctx, _) = session(&server, &dir).await;
    let plan = pretty_format_batches(&sql(&ctx, &format!("EXPLAIN {q}")).await.unwrap())
        .unwrap()
        .to_string();
    assert!(
        plan.contains("DataSourceExec") && !plan.contains("where="),
        "{plan}"
    );
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), bob(&server));
}

/// With the cache bypassed the verdict lives in the process alone: objects,
/// once recorded, stay there too.
#[tokio::test]
async fn a_bypassed_cache_forgets_no_objects() {
    let server = support::server().await;
    let proxy = support::log_id(&server, PROXY);
    let (_, rapid7) = session_with(&server, SegmentCache::bypass(), |c| c).await;
    for (recorded, now) in [
        (MessageForm::Text, MessageForm::Text),
        (MessageForm::Objects, MessageForm::Objects),
        (MessageForm::Text, MessageForm::Objects),
    ] {
        assert_eq!(
            rapid7.record_message_form(&proxy, recorded).await.unwrap(),
            now
        );
        assert_eq!(rapid7.message_form(&proxy).await, Some(now));
    }
}
