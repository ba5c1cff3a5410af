//! The cost of a statement before it runs and approval over the limit of
//! events, as a library API (`Rapid7::estimate`, `StatementCost::approve`):
//! what the shell asks its user with, and what a server that asks nobody
//! refuses with.

use std::sync::Arc;

use datafusion::physical_plan::collect;
use datafusion_rapid7::Error;
use tempfile::TempDir;

use super::budget::refusal;
use super::{MIN, local_cache, session, session_with, set_max_fetch_events, single_i64, window};
use crate::support::{self, T0};

const HOUR: i64 = 60 * MIN;

#[tokio::test]
async fn a_statement_over_the_limit_is_estimated_refused_and_runs_once_approved() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 2 * HOUR);
    let events = server.dataset().count(&fw, from, to);
    set_max_fetch_events(&ctx, events / 2).await;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {} AND sequence_number > 0",
        window(from, to)
    );
    let df = ctx.sql(&q).await.unwrap();
    let task = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await.unwrap();

    // The estimate, per log and in all, from the statistics planning asked.
    let cost = rapid7.estimate(&plan);
    assert!(cost.needs_approval());
    let [scan] = cost.scans() else {
        panic!("one scan: {cost:?}")
    };
    assert!(scan.over_limit && !scan.approved, "{scan:?}");
    assert_eq!(scan.limit, events / 2);
    assert_eq!(scan.logs.len(), 1);
    assert_eq!(scan.logs[0].0, "Firewall");
    assert!(scan.total.events >= events, "{scan:?}");
    assert_eq!(cost.total(), scan.total);
    assert!(scan.not_pushed.is_empty(), "{scan:?}");
    // Count pushdown is off in this session: the scan says so.
    assert!(
        scan.why_paged
            .as_deref()
            .is_some_and(|w| w.contains("not pushed")),
        "{scan:?}"
    );
    assert!(
        scan.to_string().contains(" events (≈") && scan.to_string().contains("quota)"),
        "{scan}"
    );
    assert!(matches!(
        cost.refusal(),
        Some(Error::FetchBudget(b)) if b.cost.estimate.events == scan.total.events && b.limit == events / 2
    ));
    assert_eq!(
        server.event_query_requests(),
        0,
        "no event page to estimate"
    );
    assert_eq!(server.statistics_requests(), 1);

    // Unapproved, it fails when executed with that estimate, before any page.
    let e = collect(Arc::clone(&plan), Arc::clone(&task))
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (scan.total.events, events / 2));
    assert_eq!(server.event_query_requests(), 0);

    // Approved: a new plan; the one estimated is left as it was.
    let approved = cost.approve(Arc::clone(&plan)).unwrap();
    assert!(!rapid7.estimate(&approved).needs_approval());
    assert!(rapid7.estimate(&approved).scans()[0].approved);
    assert!(rapid7.estimate(&plan).needs_approval());
    let got = single_i64(&collect(approved, task).await.unwrap());
    assert_eq!(got, events as i64);
    assert!(server.event_query_requests() > 0);
}

/// A cost approves only the plan it was estimated from (and its approved
/// copies): the same SQL planned again, after that plan is gone, is a new
/// estimate nobody saw, and stays unapproved, whatever address its scan
/// inputs were given.
#[tokio::test]
async fn a_cost_approves_only_the_plan_it_was_estimated_from() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 2 * HOUR);
    set_max_fetch_events(&ctx, server.dataset().count(&fw, from, to) / 2).await;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {} AND sequence_number > 0",
        window(from, to)
    );
    let plan_of = || async {
        ctx.sql(&q)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap()
    };
    let first = plan_of().await;
    let cost = rapid7.estimate(&first);
    assert!(cost.needs_approval(), "{cost:?}");
    drop(first);
    for _ in 0..8 {
        let again = plan_of().await;
        let approved = cost.approve(Arc::clone(&again)).unwrap();
        assert!(
            rapid7.estimate(&approved).needs_approval(),
            "a cost of another plan approved this one"
        );
    }
    assert_eq!(server.event_query_requests(), 0);
}

#[tokio::test]
async fn under_the_limit_nothing_needs_approval() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {} AND sequence_number > 0",
        window(T0, T0 + HOUR)
    );
    let plan = ctx
        .sql(&q)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let cost = rapid7.estimate(&plan);
    assert!(
        !cost.needs_approval() && cost.refusal().is_none(),
        "{cost:?}"
    );
    assert_eq!(cost.scans().len(), 1);
    assert!(!cost.scans()[0].over_limit);
    // Approving nothing returns the plan itself.
    assert!(Arc::ptr_eq(
        &cost.approve(Arc::clone(&plan)).unwrap(),
        &plan
    ));
}

/// A source whose limit is a ceiling (a server's): a session lowers it,
/// and neither raises nor lifts it.
#[tokio::test]
async fn a_ceiling_is_lowered_by_a_session_never_raised() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 2 * HOUR);
    let events = server.dataset().count(&fw, from, to);
    let ceiling = events / 2;
    let (ctx, rapid7) = session_with(&server, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false)
            .with_max_fetch_events(ceiling)
            .with_fetch_limit_ceiling(true)
    })
    .await;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {} AND sequence_number > 0",
        window(from, to)
    );
    let limit_of = |ctx: datafusion::prelude::SessionContext| {
        let (q, rapid7) = (q.clone(), rapid7.clone());
        async move {
            let plan = ctx
                .sql(&q)
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap();
            rapid7.estimate(&plan).scans()[0].limit
        }
    };
    for (set, limit) in [(0, ceiling), (events * 10, ceiling), (10, 10)] {
        set_max_fetch_events(&ctx, set).await;
        assert_eq!(limit_of(ctx.clone()).await, limit, "SET {set}");
    }
    // Refused at the ceiling, like any statement over it.
    set_max_fetch_events(&ctx, 0).await;
    let e = super::sql(&ctx, &q).await.unwrap_err();
    assert_eq!(refusal(&e).1, ceiling);
    assert_eq!(server.event_query_requests(), 0);
}
