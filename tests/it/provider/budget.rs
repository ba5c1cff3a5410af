//! The estimate before a fetch and the budget that refuses what would burn
//! the quota: statistical queries only, never an event page, for a refused
//! statement and for `EXPLAIN`.

use datafusion_rapid7::Error;
use tempfile::TempDir;

use super::{
    MIN, local_cache, session, session_with, set_max_fetch_events, single_i64, sql, window,
};
use crate::support::{self, T0};

const HOUR: i64 = 60 * MIN;

/// The crate error inside a DataFusion error.
fn ours(e: &datafusion::error::DataFusionError) -> Option<&Error> {
    let mut e = e;
    loop {
        match e {
            datafusion::error::DataFusionError::Context(_, inner) => e = inner,
            datafusion::error::DataFusionError::Shared(inner) => e = inner,
            datafusion::error::DataFusionError::External(inner) => {
                return inner.downcast_ref::<Error>();
            }
            _ => return None,
        }
    }
}

/// The estimate and the limit of the budget error inside `e`.
pub(super) fn refusal(e: &datafusion::error::DataFusionError) -> (u64, u64) {
    match ours(e) {
        Some(Error::FetchBudget(b)) => (b.cost.estimate.events, b.limit),
        _ => panic!("expected the budget error, got {e}"),
    }
}

#[tokio::test]
async fn a_statement_over_the_limit_fails_before_any_event_page() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 2 * HOUR);
    let events = server.dataset().count(&fw, from, to);
    assert!(events > 1000);
    set_max_fetch_events(&ctx, events / 2).await;
    let q = format!(
        "SELECT max(sequence_number) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(from, to)
    );
    let e = sql(&ctx, &q).await.unwrap_err();
    let (estimated, limit) = refusal(&e);
    // The estimate counts whole slices: at least what the fetch pages.
    assert!(estimated >= events, "{estimated} < {events}");
    assert_eq!(limit, events / 2);
    let text = e.to_string();
    assert!(
        text.contains("RAPID7_MAX_FETCH_EVENTS") && text.contains("Firewall"),
        "{text}"
    );
    assert_eq!(
        server.event_query_requests(),
        0,
        "no event page was asked for"
    );
    assert_eq!(server.statistics_requests(), 1, "one estimate for one log");
    assert!(dir.path().join("logs").read_dir().is_err() || support_parts(&dir) == 0);

    // Raised (0: no limit), it runs, exactly, without asking again.
    sql(&ctx, "SET rapid7.max_fetch_events = 0").await.unwrap();
    server.clear_requests();
    let count = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {} AND sequence_number > 0",
        window(from, to)
    );
    assert_eq!(single_i64(&sql(&ctx, &count).await.unwrap()), events as i64);
    // At most the one estimate that joins sparse pieces (none here: every
    // hour of Firewall holds many pages), and no refusal.
    assert!(server.statistics_requests() <= 1);
    assert!(server.event_query_requests() > 0);
}

/// Parquet parts under the cache directory.
fn support_parts(dir: &TempDir) -> usize {
    fn walk(p: &std::path::Path) -> usize {
        match std::fs::read_dir(p) {
            Ok(entries) => entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        usize::from(path.extension().is_some_and(|x| x == "parquet"))
                    }
                })
                .sum(),
            Err(_) => 0,
        }
    }
    walk(dir.path())
}

#[tokio::test]
async fn explain_shows_the_estimate_and_spends_statistics_only() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c.with_max_fetch_events(10)).await;
    let q = format!(
        "EXPLAIN SELECT max(message) FROM rapid7_logs WHERE log_name IN ('Firewall', 'Auth Service') AND {}",
        window(T0, T0 + HOUR)
    );
    let batches = sql(&ctx, &q).await.unwrap();
    let plan = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(plan.contains("estimate=["), "{plan}");
    // The two logs are read together (one merged query a piece), and
    // estimated together: one statistical query for both.
    assert!(plan.contains("2 logs ("), "{plan}");
    assert!(
        plan.contains("events ≈") && plan.contains("queries ≈"),
        "{plan}"
    );
    assert!(plan.contains("over_budget=10"), "{plan}");
    assert_eq!(server.event_query_requests(), 0);
    assert_eq!(server.statistics_requests(), 1);
}

#[tokio::test]
async fn a_few_minutes_or_no_limit_are_not_estimated() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let proxy = support::log_id(&server, "Web Proxy");
    let q = |from: i64, to: i64| {
        format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Web Proxy' AND {} AND sequence_number > 0",
            window(from, to)
        )
    };
    let got = single_i64(&sql(&ctx, &q(T0, T0 + 2 * MIN)).await.unwrap());
    assert_eq!(got, server.dataset().count(&proxy, T0, T0 + 2 * MIN) as i64);
    assert_eq!(server.statistics_requests(), 0);

    let (ctx, _) = session_with(&server, local_cache(&dir), |c| c.with_max_fetch_events(0)).await;
    let got = single_i64(&sql(&ctx, &q(T0 + HOUR, T0 + 2 * HOUR)).await.unwrap());
    assert_eq!(
        got,
        server.dataset().count(&proxy, T0 + HOUR, T0 + 2 * HOUR) as i64
    );
    assert_eq!(server.statistics_requests(), 0);
}

#[tokio::test]
async fn sync_obeys_the_limit_and_reports_the_estimate() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (_, rapid7) =
        session_with(&server, local_cache(&dir), |c| c.with_max_fetch_events(100)).await;
    let e = rapid7
        .sync(&["Auth Service".to_string()], T0, Some(T0 + HOUR))
        .await
        .unwrap_err();
    assert_eq!(e.fetch_budget().map(|b| b.limit), Some(100), "{e}");
    assert_eq!(server.event_query_requests(), 0);

    let (_, rapid7) = session_with(&server, local_cache(&dir), |c| {
        c.with_max_fetch_events(100_000_000)
    })
    .await;
    let auth = support::log_id(&server, "Auth Service");
    let report = rapid7
        .sync(&["Auth Service".to_string()], T0, Some(T0 + HOUR))
        .await
        .unwrap();
    let truth = server.dataset().count(&auth, T0, T0 + HOUR);
    assert_eq!(report.new_events_processed, truth);
    assert!(
        report.estimated_events.is_some_and(|e| e >= truth),
        "{report:?}"
    );
}

/// A refused statement names its filters on `message` that were not sent to
/// Rapid7 (they do not narrow the estimate), and not those that were.
#[tokio::test]
async fn a_refusal_names_the_filters_rapid7_was_not_asked_to_apply() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 2 * HOUR);
    let events = server.dataset().count(&fw, from, to);
    set_max_fetch_events(&ctx, events / 2).await;
    let refusal = |predicate: &str| {
        let q = format!(
            "SELECT count(sequence_number) FROM rapid7_logs WHERE log_name = 'Firewall' AND {} \
             AND {predicate}",
            window(from, to)
        );
        let ctx = ctx.clone();
        async move {
            let e = sql(&ctx, &q).await.unwrap_err();
            let Some(Error::FetchBudget(budget)) = ours(&e) else {
                panic!("expected the budget error, got {e}");
            };
            (budget.not_pushed.clone(), e.to_string())
        }
    };
    // Negation has no LEQL superset: named, with what Rapid7 can apply.
    let (not_pushed, text) = refusal("message NOT LIKE '%DENY%'").await;
    assert_eq!(not_pushed.len(), 1, "{not_pushed:?}");
    assert!(not_pushed[0].contains("DENY"), "{not_pushed:?}");
    assert!(
        text.contains("Not sent to Rapid7") && text.contains("LIKE '%literal%'"),
        "{text}"
    );
    // A pushed LIKE beside it is not named; `sequence_number` is no
    // message filter.
    let (not_pushed, _) =
        refusal("lower(message) = 'x' AND message LIKE '%fw-rule%' AND sequence_number > 0").await;
    assert_eq!(not_pushed.len(), 1, "{not_pushed:?}");
    assert!(not_pushed[0].contains("lower"), "{not_pushed:?}");
    // Filter pushdown off: every message filter is named.
    sql(&ctx, "SET rapid7.pushdown_filters = false")
        .await
        .unwrap();
    let (not_pushed, _) = refusal("message LIKE '%fw-rule%'").await;
    assert_eq!(not_pushed.len(), 1, "{not_pushed:?}");
    // No message filter: nothing named, no note.
    let (not_pushed, text) = refusal("sequence_number > 0").await;
    assert!(not_pushed.is_empty(), "{not_pushed:?}");
    assert!(!text.contains("Not sent to Rapid7"), "{text}");
}
