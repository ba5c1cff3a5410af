//! Against the real Rapid7 API, opt in (issue 23, item 5): runs only with
//! `RAPID7_LIVE_TEST=1` and `RAPID7_API_KEY` set (and `RAPID7_REGION` or
//! `RAPID7_ENDPOINT` for the key's region); otherwise it prints why it
//! skipped and passes. CI sets no key, so CI never runs it.
//!
//! It lists the logs, then counts the last settled hour of one log
//! (`RAPID7_LIVE_TEST_LOG`, default the first listed) two ways: from
//! Rapid7's statistics (count pushdown) and by paging every event
//! (`SET rapid7.pushdown_aggregates = false`), and checks that they agree.
//! Nothing is cached (bypass mode). What it costs in quota, and how to run
//! it: docs/runbook.md, "The live smoke test".
//!
//! ```sh
//! RAPID7_LIVE_TEST=1 RAPID7_API_KEY=… RAPID7_REGION=eu \
//!     cargo test --all-features --test it live:: -- --nocapture
//! ```

use std::io::Write;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use datafusion_rapid7::config::{Rapid7Key, Settings};
use datafusion_rapid7::env::Origin;
use datafusion_rapid7::time::{fmt_ms, now_ms};

/// Events the paged count may fetch at most (200 pages, about 13 % of the
/// key's 15-minute query quota), unless `RAPID7_LIVE_TEST_MAX_EVENTS` says
/// otherwise.
const DEFAULT_MAX_EVENTS: u64 = 100_000;

/// A line on the terminal even when the test harness captures output (it
/// captures `print!`/`eprint!`, not writes to the stderr handle): a skip
/// is never silent.
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "live: {message}");
}

/// Whether the test is asked for; says why not when it is not.
fn wanted() -> bool {
    let on = std::env::var("RAPID7_LIVE_TEST").is_ok_and(|v| v.trim() == "1");
    let key = std::env::var("RAPID7_API_KEY").is_ok_and(|v| !v.trim().is_empty());
    if !(on && key) {
        say(
            "SKIPPED the live Rapid7 smoke test: it runs only with RAPID7_LIVE_TEST=1 and \
             RAPID7_API_KEY set (see docs/runbook.md, \"The live smoke test\")",
        );
    }
    on && key
}

async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let column = batches[0].column(0);
    assert_eq!(column.len(), 1, "{sql}");
    column.as_primitive::<Int64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_rapid7_lists_logs_and_counts_the_last_hour_two_ways() {
    if !wanted() {
        return;
    }
    let max_events = std::env::var("RAPID7_LIVE_TEST_MAX_EVENTS")
        .ok()
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .expect("RAPID7_LIVE_TEST_MAX_EVENTS is a count")
        })
        .unwrap_or(DEFAULT_MAX_EVENTS);
    // The key, region, endpoint and every tuning knob from the environment;
    // no cache (both counts must come from Rapid7), and the fetch limit
    // refuses a paged count bigger than intended before any event page.
    let mut settings = Settings::from_env();
    settings
        .set(Rapid7Key::BypassCache, "true", Origin::Flag)
        .set(Rapid7Key::Offline, "false", Origin::Flag)
        .set(Rapid7Key::PushdownAggregates, "true", Origin::Flag)
        .set(
            Rapid7Key::MaxFetchEvents,
            max_events.to_string(),
            Origin::Flag,
        );
    let config = settings
        .build()
        .expect("the configuration from the environment");
    let ctx = SessionContext::new();
    let rapid7 = datafusion_rapid7::register(&ctx, config)
        .await
        .expect("register: the log list from Rapid7");

    let logs = rapid7.logs().await.expect("list the logs");
    assert!(!logs.is_empty(), "the key can read no log");
    say(&format!("{} logs listed", logs.len()));
    let log = match std::env::var("RAPID7_LIVE_TEST_LOG") {
        Ok(name) => rapid7
            .find_log(&name)
            .await
            .expect("RAPID7_LIVE_TEST_LOG names a log"),
        Err(_) => logs[0].clone(),
    };

    // The last settled hour, on whole minutes, the same for both counts.
    let to = (now_ms() - 10 * 60_000).div_euclid(60_000) * 60_000;
    let from = to - 3_600_000;
    let query = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_id = '{}' \
         AND timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({to})",
        log.id
    );
    say(&format!(
        "counting {} over [{}, {})",
        log.label(),
        fmt_ms(from),
        fmt_ms(to)
    ));

    // 1. From statistics: the plan must be the count pushdown.
    let plan = ctx
        .sql(&format!("EXPLAIN {query}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let plan = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(
        plan.contains("Rapid7CountsExec"),
        "not answered from statistics:\n{plan}"
    );
    let before = rapid7.client().unwrap().stats();
    let from_statistics = count(&ctx, &query).await;
    let statistics_requests = rapid7.client().unwrap().stats().requests() - before.requests();
    say(&format!(
        "statistics: {from_statistics} events ({statistics_requests} requests)"
    ));
    assert!(
        u64::try_from(from_statistics).unwrap() <= max_events,
        "{} has {from_statistics} events in the hour: paging them costs about {} queries. \
         Set RAPID7_LIVE_TEST_LOG to a quieter log, or RAPID7_LIVE_TEST_MAX_EVENTS higher",
        log.label(),
        from_statistics / 500 + 1
    );

    // 2. By paging every event.
    ctx.sql("SET rapid7.pushdown_aggregates = false")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let before = rapid7.client().unwrap().stats();
    let paged = count(&ctx, &query).await;
    let paged_requests = rapid7.client().unwrap().stats().requests() - before.requests();
    say(&format!(
        "paged: {paged} events ({paged_requests} requests)"
    ));

    // 3. Rapid7's own count of the window (the sum of its time slices), for
    // the record: equal, or larger by the events stamped exactly `to` if
    // Rapid7's `to` is inclusive.
    let leql = ctx
        .sql(&format!(
            "SELECT sum(value) FROM rapid7_leql('{}', to_timestamp_millis({from}), \
             to_timestamp_millis({to}), 'calculate(count)')",
            log.id
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    if let Some(batch) = leql.first().filter(|b| b.num_rows() > 0) {
        let value = batch
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        say(&format!("rapid7_leql calculate(count): {}", value.value(0)));
    }

    assert_eq!(
        paged,
        from_statistics,
        "the paged count and the statistics disagree for {} over [{}, {})",
        log.label(),
        fmt_ms(from),
        fmt_ms(to)
    );
    say(&format!(
        "OK: both counts agree; {} requests in all",
        rapid7.client().unwrap().stats().requests()
    ));
}
