//! Count pushdown: `count(*)` per bin and log from Rapid7's statistics for
//! what the cache lacks, exact against the simulator's data function under
//! both readings of `to`, with no event page of the window.

use std::collections::BTreeMap;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Int64Type, TimestampNanosecondType};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion_rapid7::mock::{Faults, MockServer};
use tempfile::TempDir;

use super::{
    MIN, burst_ms, local_cache, session_with, set_max_fetch_events, single_i64, sql, window,
};
use crate::support::{self, T0};

/// The text of `EXPLAIN q`.
async fn explain(ctx: &datafusion::prelude::SessionContext, q: &str) -> String {
    pretty_format_batches(&sql(ctx, &format!("EXPLAIN {q}")).await.unwrap())
        .unwrap()
        .to_string()
}

/// A session with count pushdown (the default).
async fn session(
    server: &MockServer,
    dir: &TempDir,
) -> (
    datafusion::prelude::SessionContext,
    datafusion_rapid7::Rapid7,
) {
    session_with(server, local_cache(dir), |c| c).await
}

/// A session whose recent edge is 400 days long: a window in February
/// 2026 is unsettled.
async fn edge_session(server: &MockServer, dir: &TempDir) -> datafusion::prelude::SessionContext {
    let (ctx, _) = session_with(server, local_cache(dir), |c| {
        c.with_settle(std::time::Duration::from_secs(400 * 86_400))
    })
    .await;
    ctx
}

/// Event queries that read more than one millisecond: pages of the window
/// (one-millisecond queries are the `to` checks of exact counts).
fn event_pages_over_windows(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Query && !r.is_statistical())
        .filter(|r| match (r.from, r.to) {
            (Some(f), Some(t)) => t - f > 1,
            _ => true,
        })
        .count()
}

/// `bin start (ms) -> events` of `log` over `[from, to)`, from the data function.
fn truth_bins(server: &MockServer, log: &str, from: i64, to: i64, bin: i64) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    let mut start = from.div_euclid(bin) * bin;
    while start < to {
        let (a, b) = (start.max(from), (start + bin).min(to));
        let n = server.dataset().count(log, a, b) as i64;
        if n > 0 {
            out.insert(start, n);
        }
        start += bin;
    }
    out
}

/// The log of the standard set with the fewest events a second.
fn quietest_log(server: &MockServer) -> datafusion_rapid7::mock::MockLog {
    server
        .dataset()
        .logs()
        .iter()
        .min_by(|a, b| a.rate_per_sec.total_cmp(&b.rate_per_sec))
        .unwrap()
        .clone()
}

/// The quietest log and the start of a 3-minute window of it with no
/// events, found by the data function.
fn quiet_window(server: &MockServer) -> (datafusion_rapid7::mock::MockLog, i64) {
    let log = quietest_log(server);
    let from = (0..10_000)
        .map(|i| T0 + i * 3 * MIN)
        .find(|f| server.dataset().count(&log.id, *f, f + 3 * MIN) == 0)
        .expect("a quiet window");
    (log, from)
}

/// `(bin start ms, count)` rows of a `SELECT date_bin(...) AS t, count(*) ...`.
fn bins(batches: &[datafusion::arrow::array::RecordBatch]) -> BTreeMap<i64, i64> {
    let mut out = BTreeMap::new();
    for b in batches {
        let t = b.column(0).as_primitive::<TimestampNanosecondType>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.insert(t.value(i) / 1_000_000, n.value(i));
        }
    }
    out
}

fn per_bin(log: &str, from: i64, to: i64) -> String {
    format!(
        "SELECT date_bin(interval '10 minutes', timestamp) AS t, count(*) AS n FROM rapid7_logs \
         WHERE log_name = '{log}' AND {} GROUP BY t ORDER BY t",
        window(from, to)
    )
}

#[tokio::test]
async fn counts_per_bin_are_exact_under_both_readings_of_to() {
    for exclusive in [false, true] {
        let server = support::server().await;
        server.set_faults(Faults {
            to_exclusive: exclusive,
            ..Faults::default()
        });
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, &dir).await;
        let fw = support::log_id(&server, "Firewall");
        // Unaligned at both ends, and ending exactly on a millisecond that
        // holds a burst of hundreds of events: an inclusive `to` would count
        // them all.
        let (from, to) = (T0 - 57 * MIN, burst_ms(&server));
        let got = bins(&sql(&ctx, &per_bin("Firewall", from, to)).await.unwrap());
        assert_eq!(
            got,
            truth_bins(&server, &fw, from, to, 10 * MIN),
            "exclusive {exclusive}"
        );
        assert!(
            server.statistics_requests() >= 3,
            "first, whole and last bins"
        );
        assert_eq!(
            event_pages_over_windows(&server),
            0,
            "no event page of the window"
        );
        assert!(
            dir.path().join("logs").read_dir().is_err(),
            "counts are not committed"
        );
    }
}

#[tokio::test]
async fn half_cached_windows_add_local_and_remote_counts() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let auth = support::log_id(&server, "Auth Service");
    // Cache [T0 + 10 min, T0 + 25 min) with an ordinary scan.
    sql(
        &ctx,
        &format!(
            "SELECT max(message) FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
            window(T0 + 10 * MIN, T0 + 25 * MIN)
        ),
    )
    .await
    .unwrap();
    server.clear_requests();
    let (from, to) = (T0, T0 + 60 * MIN);
    let got = bins(&sql(&ctx, &per_bin("Auth Service", from, to)).await.unwrap());
    assert_eq!(got, truth_bins(&server, &auth, from, to, 10 * MIN));
    assert_eq!(event_pages_over_windows(&server), 0);
    for r in server.requests().iter().filter(|r| r.is_statistical()) {
        let (f, t) = (r.from.unwrap(), r.to.unwrap());
        assert!(
            t <= T0 + 10 * MIN || f >= T0 + 25 * MIN,
            "asked for cached [{f}, {t})"
        );
    }
}

#[tokio::test]
async fn plain_and_per_log_counts() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 45 * MIN);
    let total: u64 = server
        .dataset()
        .logs()
        .iter()
        .map(|l| server.dataset().count(&l.id, from, to))
        .sum();
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE {}",
        window(from, to)
    );
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), total as i64);
    assert_eq!(event_pages_over_windows(&server), 0);

    let q = format!(
        "SELECT log_name, count(timestamp) AS n FROM rapid7_logs WHERE log_name IN ('Firewall', 'Web Proxy') \
         AND {} GROUP BY log_name ORDER BY log_name",
        window(from, to)
    );
    let batches = sql(&ctx, &q).await.unwrap();
    let mut got = Vec::new();
    for b in &batches {
        let names = b.column(0).as_string::<i32>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            got.push((names.value(i).to_string(), n.value(i)));
        }
    }
    let want: Vec<(String, i64)> = ["Firewall", "Web Proxy"]
        .iter()
        .map(|name| {
            let id = support::log_id(&server, name);
            (
                name.to_string(),
                server.dataset().count(&id, from, to) as i64,
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(event_pages_over_windows(&server), 0);
}

#[tokio::test]
async fn an_empty_window_counts_zero() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (log, from) = quiet_window(&server);
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_id = '{}' AND {}",
        log.id,
        window(from, from + 3 * MIN)
    );
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), 0);
}

#[tokio::test]
async fn explain_shows_statistics_and_the_switch_turns_it_off() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let proxy = support::log_id(&server, "Web Proxy");
    let (from, to) = (T0, T0 + 20 * MIN);
    let q = per_bin("Web Proxy", from, to);
    let plan = explain(&ctx, &q).await;
    assert!(plan.contains("Rapid7CountsExec"), "{plan}");
    assert!(
        plan.contains("statistics=[Web Proxy [2026-02-10T00:00:00.000Z"),
        "{plan}"
    );
    assert_eq!(server.query_requests(), 0, "EXPLAIN asks nothing");

    sql(&ctx, "SET rapid7.pushdown_aggregates = false")
        .await
        .unwrap();
    let plan = explain(&ctx, &q).await;
    assert!(
        !plan.contains("Rapid7CountsExec") && plan.contains("Rapid7ScanExec"),
        "{plan}"
    );
    let got = bins(&sql(&ctx, &q).await.unwrap());
    assert_eq!(got, truth_bins(&server, &proxy, from, to, 10 * MIN));
    assert!(event_pages_over_windows(&server) > 0, "paged");
}

#[tokio::test]
async fn inexact_statistics_are_paged_instead() {
    let server = support::server().await;
    server.set_faults(Faults {
        statistics_inexact: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let auth = support::log_id(&server, "Auth Service");
    let (from, to) = (T0 + 3 * MIN, T0 + 33 * MIN);
    let got = bins(&sql(&ctx, &per_bin("Auth Service", from, to)).await.unwrap());
    assert_eq!(got, truth_bins(&server, &auth, from, to, 10 * MIN));
    assert!(event_pages_over_windows(&server) > 0);
}

#[tokio::test]
async fn other_aggregates_and_filters_are_not_pushed() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let w = window(T0, T0 + 10 * MIN);
    for q in [
        format!("SELECT count(log_name) FROM rapid7_logs WHERE {w}"),
        format!("SELECT count(DISTINCT log_id) FROM rapid7_logs WHERE {w}"),
        format!("SELECT count(*) FROM rapid7_logs WHERE {w} AND message LIKE '%a%'"),
        format!("SELECT count(*), max(timestamp) FROM rapid7_logs WHERE {w}"),
        format!(
            "SELECT date_trunc('millisecond', timestamp), count(*) FROM rapid7_logs WHERE {w} GROUP BY 1"
        ),
        format!(
            "SELECT count(*) FROM rapid7_logs WHERE {w} AND timestamp <> to_timestamp_millis({T0})"
        ),
    ] {
        let plan = explain(&ctx, &q).await;
        assert!(!plan.contains("Rapid7CountsExec"), "{q}\n{plan}");
    }
}

/// `log_name = … OR log_id = …` is no set of names nor of ids: it is not
/// pushed (it would have counted every log), and the count is exact.
#[tokio::test]
async fn a_log_filter_mixing_names_and_ids_under_or_counts_only_those_logs() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 5 * MIN);
    let auth = support::log_id(&server, "Auth Service");
    let fw = support::log_id(&server, "Firewall");
    let want = server.dataset().count(&auth, from, to) + server.dataset().count(&fw, from, to);
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE (log_name = 'Firewall' OR log_id = '{auth}') AND {}",
        window(from, to)
    );
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), want as i64);
    // One column under OR is still pushed.
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE (log_id = '{fw}' OR log_id = '{auth}') AND {}",
        window(from, to)
    );
    let plan = explain(&ctx, &q).await;
    assert!(plan.contains("Rapid7CountsExec"), "{plan}");
    assert_eq!(single_i64(&sql(&ctx, &q).await.unwrap()), want as i64);
}

/// A cached hour with no events is no group of a grouped count.
#[tokio::test]
async fn a_cached_empty_range_is_no_group() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (log, from) = quiet_window(&server);
    let w = window(from, from + 3 * MIN);
    // Cache it (an empty segment), with pushdown off.
    sql(&ctx, "SET rapid7.pushdown_aggregates = false")
        .await
        .unwrap();
    let q = format!(
        "SELECT log_name, count(*) FROM rapid7_logs WHERE log_id = '{}' AND {w} GROUP BY log_name",
        log.id
    );
    let paged = sql(&ctx, &q).await.unwrap();
    assert_eq!(paged.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    sql(&ctx, "SET rapid7.pushdown_aggregates = true")
        .await
        .unwrap();
    let plan = explain(&ctx, &q).await;
    assert!(plan.contains("Rapid7CountsExec"), "{plan}");
    let pushed = sql(&ctx, &q).await.unwrap();
    assert_eq!(
        pushed.iter().map(|b| b.num_rows()).sum::<usize>(),
        0,
        "{}",
        pretty_format_batches(&pushed).unwrap()
    );
}

/// Bins over a cast of `timestamp` to seconds are not the bins of the
/// millisecond column: not pushed, and the same answer as paging.
#[tokio::test]
async fn bins_of_a_cast_to_seconds_are_not_pushed() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = format!(
        "SELECT date_bin(interval '1500 milliseconds', \
         arrow_cast(timestamp, 'Timestamp(Second, Some(\"UTC\"))')) AS t, count(*) AS n \
         FROM rapid7_logs WHERE log_name = 'Auth Service' AND {} GROUP BY t ORDER BY t",
        window(T0, T0 + MIN)
    );
    let plan = explain(&ctx, &q).await;
    assert!(!plan.contains("Rapid7CountsExec"), "{plan}");
}

/// Events the decoder rejects are events Rapid7's statistics count, but
/// which millisecond they belong to is unknowable: a `to` check that meets
/// one counts that range from its events instead. Every bin then lies
/// between the decodable events and all events: nothing counted twice.
#[tokio::test]
async fn rejected_events_at_to_are_counted_as_rapid7_counts_them() {
    let server = support::server().await;
    server.set_faults(Faults {
        to_exclusive: false,
        events_without_timestamp: Some(3),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0 - 57 * MIN, burst_ms(&server));
    let got = bins(&sql(&ctx, &per_bin("Firewall", from, to)).await.unwrap());
    let all = truth_bins(&server, &fw, from, to, 10 * MIN);
    let mut decodable: BTreeMap<i64, i64> = BTreeMap::new();
    for e in server.dataset().events(&fw, from, to) {
        if e.sequence_number % 3 != 0 {
            *decodable
                .entry(e.timestamp.div_euclid(10 * MIN) * 10 * MIN)
                .or_default() += 1;
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        all.keys().collect::<Vec<_>>()
    );
    for (bin, n) in &got {
        let (lo, hi) = (decodable.get(bin).copied().unwrap_or(0), all[bin]);
        assert!((lo..=hi).contains(n), "bin {bin}: {n} not in {lo}..={hi}");
    }
    assert!(
        event_pages_over_windows(&server) > 0,
        "a range with rejected events at its `to` was paged"
    );
}

/// Bins of a second over an hour of a quiet log are thousands of slices but
/// a page of events: the range is paged, in a few queries, exactly.
#[tokio::test]
async fn many_small_bins_of_a_quiet_range_are_paged_instead() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let log = quietest_log(&server);
    let (from, to) = (T0, T0 + 60 * MIN);
    let events = server.dataset().count(&log.id, from, to);
    assert!(events < 5_000, "{events}: a quiet hour");
    let q = format!(
        "SELECT date_bin(interval '1 second', timestamp) AS t, count(*) AS n FROM rapid7_logs \
         WHERE log_id = '{}' AND {} GROUP BY t ORDER BY t",
        log.id,
        window(from, to)
    );
    let got = bins(&sql(&ctx, &q).await.unwrap());
    assert_eq!(got, truth_bins(&server, &log.id, from, to, 1_000));
    // 3,600 bins are 18 statistical queries (and as many `to` checks); the
    // deciding count and the pages are far fewer.
    let queries = server
        .requests()
        .iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Query)
        .count();
    assert!(
        server.statistics_requests() <= 2 && queries as u64 <= events.div_ceil(500) + 4,
        "{} statistical, {queries} queries",
        server.statistics_requests()
    );
}

/// Paging what inexact statistics cannot count obeys the statement's limit
/// on events fetched: refused before any event page.
#[tokio::test]
async fn paging_for_inexact_statistics_obeys_the_fetch_limit() {
    let server = support::server().await;
    server.set_faults(Faults {
        statistics_inexact: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 60 * MIN);
    let events = server.dataset().count(&fw, from, to);
    set_max_fetch_events(&ctx, events / 2).await;
    let e = sql(&ctx, &per_bin("Firewall", from, to)).await.unwrap_err();
    assert!(
        e.to_string().contains("RAPID7_MAX_FETCH_EVENTS") && e.to_string().contains("inexact"),
        "{e}"
    );
    assert_eq!(event_pages_over_windows(&server), 0, "no event page");
    // Under the limit it pages, exactly.
    sql(&ctx, "SET rapid7.max_fetch_events = 0").await.unwrap();
    let got = bins(&sql(&ctx, &per_bin("Firewall", from, to)).await.unwrap());
    assert_eq!(got, truth_bins(&server, &fw, from, to, 10 * MIN));
}

/// The counts table applies the filters of time and log by choosing windows
/// and logs, and no other: any other filter that reaches it is left to
/// DataFusion, never dropped (issue #29).
#[tokio::test]
async fn the_counts_table_leaves_other_filters_to_datafusion() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    ctx.register_table(
        "counts",
        std::sync::Arc::new(datafusion_rapid7::provider::Rapid7CountsTable::new(
            rapid7.clone(),
            None,
            None,
        )),
    )
    .unwrap();
    let (from, to) = (T0, T0 + 5 * MIN);
    let fw = support::log_id(&server, "Firewall");
    let q = format!(
        "SELECT sum(n) FROM counts WHERE log_name LIKE 'Fire%' AND {}",
        window(from, to)
    );
    assert_eq!(
        single_i64(&sql(&ctx, &q).await.unwrap()),
        server.dataset().count(&fw, from, to) as i64
    );
}

/// The recent edge (after `now - settle`) is counted from statistics too,
/// exactly, with no page; what is still paged there (statistics Rapid7 calls
/// inexact) obeys the statement's limit of events.
#[tokio::test]
async fn the_recent_edge_is_counted_from_statistics() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let ctx = edge_session(&server, &dir).await;
    let (from, to) = (T0, T0 + 60 * MIN);
    let q = per_bin("Firewall", from, to);
    let plan = explain(&ctx, &q).await;
    assert!(
        plan.contains("Rapid7CountsExec")
            && plan.contains("statistics=[Firewall [2026-02-10T00:00"),
        "{plan}"
    );
    let fw = support::log_id(&server, "Firewall");
    let got = bins(&sql(&ctx, &q).await.unwrap());
    assert_eq!(got, truth_bins(&server, &fw, from, to, 10 * MIN));
    assert_eq!(event_pages_over_windows(&server), 0, "no page of the edge");
    assert!(
        server.statistics_requests() <= 2,
        "{}",
        server.statistics_requests()
    );

    server.set_faults(Faults {
        statistics_inexact: true,
        ..Faults::default()
    });
    server.clear_requests();
    let events = server.dataset().count(&fw, from, to);
    set_max_fetch_events(&ctx, events / 2).await;
    let e = sql(&ctx, &q).await.unwrap_err().to_string();
    assert!(e.contains("RAPID7_MAX_FETCH_EVENTS"), "{e}");
    assert_eq!(
        event_pages_over_windows(&server),
        0,
        "refused before a page"
    );
}

/// On the recent edge the events stamped `to` may still arrive: the counts
/// are right under both readings of `to` without learning the convention
/// there (no probe of `[to - 1, to)`), and once it is known from settled
/// ranges they use it.
#[tokio::test]
async fn edge_counts_are_right_under_both_readings_without_learning_there() {
    for exclusive in [false, true] {
        let server = support::server().await;
        server.set_faults(Faults {
            to_exclusive: exclusive,
            ..Faults::default()
        });
        let dir = TempDir::new().unwrap();
        let ctx = edge_session(&server, &dir).await;
        let fw = support::log_id(&server, "Firewall");
        // Ending on a millisecond of hundreds of events.
        let (from, to) = (T0 - 27 * MIN, burst_ms(&server));
        assert!(server.dataset().count(&fw, to, to + 1) > 0);
        let got = bins(&sql(&ctx, &per_bin("Firewall", from, to)).await.unwrap());
        assert_eq!(
            got,
            truth_bins(&server, &fw, from, to, 10 * MIN),
            "exclusive {exclusive}"
        );
        assert_eq!(event_pages_over_windows(&server), 0, "no page of the edge");
        let probes = server
            .requests()
            .iter()
            .filter(|r| r.is_statistical())
            .filter(|r| matches!((r.from, r.to), (Some(f), Some(t)) if t - f == 1))
            .count();
        assert_eq!(probes, 0, "the convention is not learnt on the edge");
    }
}

/// Events stamped `to` that arrive between the calls that count the edge
/// (the statistics miss them, the `to` checks after see them) neither
/// undercount nor fail: that range is paged instead.
#[tokio::test]
async fn events_of_to_arriving_while_the_edge_is_counted_page_that_range() {
    let server = support::server().await;
    let to = burst_ms(&server);
    let from = T0 - 27 * MIN;
    let fw = support::log_id(&server, "Firewall");
    assert!(server.dataset().count(&fw, to, to + 1) > 0);
    // Missing from the first answer that reads `to` only.
    server.set_faults(Faults {
        late_millisecond: Some((to, 1)),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let ctx = edge_session(&server, &dir).await;
    let got = bins(&sql(&ctx, &per_bin("Firewall", from, to)).await.unwrap());
    assert_eq!(got, truth_bins(&server, &fw, from, to, 10 * MIN));
    assert!(
        event_pages_over_windows(&server) > 0,
        "the range whose `to` moved is paged"
    );
}

/// A count that is not pushed says why in EXPLAIN, on the scan that pages.
#[tokio::test]
async fn explain_names_why_a_count_is_not_pushed() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let w = window(T0, T0 + 10 * MIN);
    for (q, why) in [
        (
            format!("SELECT message, count(*) FROM rapid7_logs WHERE {w} GROUP BY message"),
            "why_paged=\"counts not pushed: GROUP BY message is not constant within a time bin\"",
        ),
        (
            format!("SELECT count(*) FROM rapid7_logs WHERE {w} AND message LIKE '%a%'"),
            "counts not pushed: WHERE rapid7_logs.message LIKE",
        ),
        (
            format!(
                "SELECT date_bin(interval '15 minutes', timestamp) AS a, \
                 date_bin(interval '1 hour', timestamp, TIMESTAMP '2026-01-01T00:10:00Z') AS b, \
                 count(*) FROM rapid7_logs WHERE {w} GROUP BY 1, 2"
            ),
            "share no bin",
        ),
        (
            format!("SELECT timestamp FROM rapid7_logs WHERE {w} ORDER BY timestamp LIMIT 3"),
            "newest first not pushed: ORDER BY rapid7_logs.timestamp ASC",
        ),
    ] {
        let plan = explain(&ctx, &q).await;
        assert!(plan.contains(why), "{q}\n{plan}");
    }
    // Pushed: nothing to explain.
    let plan = explain(&ctx, &per_bin("Firewall", T0, T0 + 10 * MIN)).await;
    assert!(!plan.contains("why_paged"), "{plan}");
    assert_eq!(
        event_pages_over_windows(&server),
        0,
        "EXPLAIN pages nothing"
    );
}

/// `log_name, count(*) … last hour GROUP BY 1` (issue #32): the settled
/// part and the unsettled last minutes alike from statistics, no page, and
/// each log's count that of the window Rapid7 was asked about.
#[tokio::test]
async fn the_last_hour_per_log_is_counted_without_a_page() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = "SELECT log_name, count(*) AS n FROM rapid7_logs \
             WHERE timestamp >= now() - interval '1 hour' GROUP BY 1";
    assert!(explain(&ctx, q).await.contains("Rapid7CountsExec"));
    let batches = sql(&ctx, q).await.unwrap();
    assert_eq!(
        event_pages_over_windows(&server),
        0,
        "no page, edge included"
    );
    let mut got = BTreeMap::new();
    for b in &batches {
        let names = b.column(0).as_string::<i32>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            got.insert(names.value(i).to_string(), n.value(i));
        }
    }
    let mut want = BTreeMap::new();
    for log in server.dataset().logs() {
        // The window asked for: the span of the log's statistical queries
        // (leaving out the one-millisecond probes of the `to` convention).
        let asked: Vec<(i64, i64)> = server
            .requests()
            .iter()
            .filter(|r| r.is_statistical() && r.log_id.as_deref() == Some(log.id.as_str()))
            .filter_map(|r| Some((r.from?, r.to?)))
            .filter(|(f, t)| t - f > 1)
            .collect();
        let from = asked.iter().map(|r| r.0).min().expect("asked");
        let to = asked.iter().map(|r| r.1).max().expect("asked");
        assert!((to - from - 3_600_000).abs() < 60_000, "{from}..{to}");
        let n = server.dataset().count(&log.id, from, to) as i64;
        if n > 0 {
            want.insert(log.name.clone(), n);
        }
    }
    assert_eq!(got, want);
}
