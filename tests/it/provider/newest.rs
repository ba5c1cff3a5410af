//! Newest first: `ORDER BY timestamp DESC … LIMIT N` reads pages newest first
//! and stops; a plain `LIMIT` stops paging; both exact against the data
//! function, ties in one millisecond and bursts at the window's end included.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion_rapid7::mock::{Faults, MockServer, RequestKind};
use tempfile::TempDir;

use super::budget::refusal;
use super::{MIN, burst_ms, local_cache, rows, session_with, set_max_fetch_events, sql, window};
use crate::support::{self, T0};

const HOUR: i64 = 60 * MIN;

async fn session(
    server: &MockServer,
    dir: &TempDir,
) -> (
    datafusion::prelude::SessionContext,
    datafusion_rapid7::Rapid7,
) {
    session_with(server, local_cache(dir), |c| c).await
}

fn event_queries(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Query && !r.is_statistical())
        .count()
}

fn top(log: &str, predicate: &str, from: i64, to: i64, n: usize) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{log}' AND {} AND ({predicate}) \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT {n}",
        window(from, to)
    )
}

/// The newest `n` events of `[from, to)` that `keep` keeps, newest first.
/// (Computed over the window's last hour, which holds far more than `n`.)
fn truth_top(
    server: &MockServer,
    log: &str,
    from: i64,
    to: i64,
    n: usize,
    keep: impl Fn(&str) -> bool,
) -> Vec<(i64, u64, String)> {
    let id = support::log_id(server, log);
    let from = from.max(to - HOUR);
    let mut all: Vec<(i64, u64, String)> = support::truth(server, &id, from, to)
        .into_iter()
        .filter(|r| keep(&r.2))
        .map(|r| (r.0, r.1, r.2))
        .collect();
    all.reverse();
    assert!(all.len() >= n, "the last hour holds the newest {n}");
    all.truncate(n);
    all
}

#[tokio::test]
async fn the_newest_n_of_a_day_take_a_few_pages_and_are_exact() {
    let server = support::server().await;
    let burst = burst_ms(&server);
    for to_exclusive in [false, true] {
        server.set_faults(Faults {
            to_exclusive,
            ..Faults::default()
        });
        let dir = TempDir::new().unwrap();
        let (ctx, rapid7) = session(&server, &dir).await;
        // A day ending exactly on a burst: hundreds of events stamped at
        // the exclusive end, which an inclusive `to` returns.
        let (from, to) = (burst - 24 * HOUR, burst);
        server.clear_requests();
        let got = rows(
            &sql(&ctx, &top("Firewall", "true", from, to, 50))
                .await
                .unwrap(),
        );
        assert_eq!(got, truth_top(&server, "Firewall", from, to, 50, |_| true));
        let pages = event_queries(&server);
        assert!(
            pages <= 4,
            "{pages} event queries for the newest 50 of a day"
        );
        // What was read is committed: a complete sub-window at the end.
        let fw = support::log_id(&server, "Firewall");
        let segments = rapid7.cache().list_segments(&fw).await.unwrap();
        assert!(
            segments
                .iter()
                .any(|s| s.range().end() == to && s.range().start() > from),
            "{segments:?}"
        );
        // Asked again, the cached newest part answers: no request.
        server.clear_requests();
        let again = rows(
            &sql(&ctx, &top("Firewall", "true", from, to, 50))
                .await
                .unwrap(),
        );
        assert_eq!(again, got);
        assert_eq!(event_queries(&server), 0);
    }
}

#[tokio::test]
async fn ties_in_one_millisecond_are_all_read() {
    let server = support::server().await;
    // Rapid7 does not document the order within a millisecond: the
    // simulator lists each page's millisecond backwards.
    server.set_faults(Faults {
        reverse_within_millisecond: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let burst = burst_ms(&server);
    // A window ending just after a burst of ~700 events in one millisecond,
    // the newest 500 by (timestamp DESC, message): all 500 lie in the burst,
    // and which ones depends on every event of it, not only on the first
    // page of 500.
    let (from, to) = (burst - 10 * MIN, burst + 1);
    let q = format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = 'Firewall' AND {} ORDER BY timestamp DESC, message LIMIT 500",
        window(from, to)
    );
    let got = rows(&sql(&ctx, &q).await.unwrap());
    let fw = support::log_id(&server, "Firewall");
    let mut burst_events: Vec<(i64, u64, String)> = support::truth(&server, &fw, burst, burst + 1)
        .into_iter()
        .map(|r| (r.0, r.1, r.2))
        .collect();
    assert!(burst_events.len() > 600, "the test needs a burst");
    burst_events.sort_by(|a, b| a.2.cmp(&b.2));
    assert_ne!(
        burst_events[499].2, burst_events[500].2,
        "no tie at the cut"
    );
    burst_events.truncate(500);
    assert_eq!(got, burst_events);
}

#[tokio::test]
async fn pushed_and_unpushed_filters_stay_exact() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 6 * HOUR);
    let predicate = "message LIKE '%user=bob%' AND length(message) > 180";
    let q = top("Web Proxy", predicate, from, to, 40);
    let plan = pretty_format_batches(&sql(&ctx, &format!("EXPLAIN {q}")).await.unwrap())
        .unwrap()
        .to_string();
    assert!(
        plan.contains("most_recent_first=true") && plan.contains("leql=where"),
        "{plan}"
    );
    let got = rows(&sql(&ctx, &q).await.unwrap());
    let want = truth_top(&server, "Web Proxy", from, to, 40, |m| {
        m.contains("user=bob") && m.chars().count() > 180
    });
    assert_eq!(want.len(), 40);
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_plain_limit_stops_paging() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 24 * HOUR);
    let q = format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = 'Firewall' AND {} LIMIT 10",
        window(from, to)
    );
    let got = rows(&sql(&ctx, &q).await.unwrap());
    assert_eq!(got.len(), 10);
    // Every row is an event of the window, by the data function over the
    // hours the rows fall in.
    let fw = support::log_id(&server, "Firewall");
    let hours: std::collections::BTreeSet<i64> =
        got.iter().map(|r| r.0 - (r.0 - from) % HOUR).collect();
    let truth: std::collections::HashSet<(i64, u64, String)> = hours
        .iter()
        .flat_map(|h| support::truth(&server, &fw, *h, (*h + HOUR).min(to)))
        .map(|r| (r.0, r.1, r.2))
        .collect();
    assert!(got.iter().all(|r| truth.contains(r)), "{got:?}");
    assert!(
        event_queries(&server) <= 8,
        "{} event queries",
        event_queries(&server)
    );
    assert!(rapid7.cache().list_segments(&fw).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_newest_n_of_a_cached_range_open_only_the_newest_files() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false)
            .with_fetch_chunk(std::time::Duration::from_secs(10 * 60))
    })
    .await;
    let (from, to) = (T0, T0 + 2 * HOUR);
    // Cache the two hours, in one segment per ten minutes.
    sql(
        &ctx,
        &format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
            window(from, to)
        ),
    )
    .await
    .unwrap();
    server.clear_requests();
    let q = top("Firewall", "true", from, to, 50);
    let got = rows(&sql(&ctx, &q).await.unwrap());
    assert_eq!(got, truth_top(&server, "Firewall", from, to, 50, |_| true));
    assert_eq!(event_queries(&server), 0, "answered from the cache");
    // The TopK's threshold, once the newest file has filled it, skips the
    // older files by their statistics without opening them; through a
    // computed select list too.
    let computed = format!(
        "SELECT CAST(timestamp AS BIGINT) AS ts, upper(message) AS m FROM rapid7_logs \
         WHERE log_name = 'Firewall' AND {} ORDER BY timestamp DESC, sequence_number DESC LIMIT 50",
        window(from, to)
    );
    for q in [q, computed] {
        assert_opens_only_the_newest_files(&ctx, &q).await;
    }
    assert_eq!(event_queries(&server), 0);
}

async fn assert_opens_only_the_newest_files(ctx: &datafusion::prelude::SessionContext, q: &str) {
    let analyzed = pretty_format_batches(&sql(ctx, &format!("EXPLAIN ANALYZE {q}")).await.unwrap())
        .unwrap()
        .to_string();
    let pruned = analyzed
        .split("files_ranges_pruned_statistics=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("no file pruning metric in {analyzed}"));
    assert!(pruned.contains("total"), "{pruned}");
    let (total, matched) = pruned_counts(pruned);
    assert!(total >= 10, "{total} files in {pruned}");
    // One file per partition may open before any threshold exists.
    let partitions = ctx.state().config().target_partitions();
    assert!(
        matched <= partitions + 1,
        "{matched} of {total} files opened: {analyzed}"
    );
}

/// `(total, matched)` of a pruning metric printed as `N total → M matched`.
fn pruned_counts(metric: &str) -> (usize, usize) {
    let digits = |s: &str| -> usize {
        s.trim()
            .split(|c: char| !c.is_ascii_digit())
            .find(|t| !t.is_empty())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no count in {metric}"))
    };
    let mut halves = metric.split('→');
    (
        digits(halves.next().unwrap_or_default()),
        digits(halves.next().unwrap_or_default()),
    )
}

#[tokio::test]
async fn newest_first_can_be_turned_off() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let q = format!("EXPLAIN {}", top("Firewall", "true", T0, T0 + HOUR, 10));
    let plan = |batches: Vec<_>| pretty_format_batches(&batches).unwrap().to_string();
    assert!(plan(sql(&ctx, &q).await.unwrap()).contains("most_recent_first=true"));
    sql(&ctx, "SET rapid7.pushdown_newest_first = false")
        .await
        .unwrap();
    let off = plan(sql(&ctx, &q).await.unwrap());
    assert!(!off.contains("most_recent_first"), "{off}");
}

#[tokio::test]
async fn newest_first_sees_through_projections_not_a_computed_timestamp() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0 + 5 * HOUR + 30 * MIN, T0 + 6 * HOUR);
    let want: Vec<String> = truth_top(&server, "Firewall", from, to, 20, |_| true)
        .into_iter()
        .map(|r| r.2)
        .collect();
    let messages = |batches: Vec<datafusion::arrow::array::RecordBatch>| -> Vec<String> {
        use datafusion::arrow::array::AsArray;
        batches
            .iter()
            .flat_map(|b| {
                let m = b.column(0).as_string::<i32>();
                (0..b.num_rows())
                    .map(|i| m.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    // The sort keys are not selected: a projection sits between the sort
    // and the scan.
    let q = format!(
        "SELECT message FROM rapid7_logs WHERE log_name = 'Firewall' AND {} \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT 20",
        window(from, to)
    );
    let plan = pretty_format_batches(&sql(&ctx, &format!("EXPLAIN {q}")).await.unwrap())
        .unwrap()
        .to_string();
    assert!(plan.contains("most_recent_first=true"), "{plan}");
    server.clear_requests();
    assert_eq!(messages(sql(&ctx, &q).await.unwrap()), want);
    assert!(event_queries(&server) <= 2);
    // A computed column named `timestamp` is not the scan's: no newest-first
    // read, and the answer stays exact.
    let shifted = format!(
        "SELECT message FROM (SELECT message, sequence_number, \
         timestamp - interval '1 hour' AS timestamp FROM rapid7_logs \
         WHERE log_name = 'Firewall' AND {}) \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT 20",
        window(from, to)
    );
    let plan = pretty_format_batches(&sql(&ctx, &format!("EXPLAIN {shifted}")).await.unwrap())
        .unwrap()
        .to_string();
    assert!(!plan.contains("most_recent_first"), "{plan}");
    assert_eq!(messages(sql(&ctx, &shifted).await.unwrap()), want);
}

/// Every committed segment of `log` holds exactly the events of its range.
async fn segments_are_exact(server: &MockServer, rapid7: &datafusion_rapid7::Rapid7, log: &str) {
    let id = support::log_id(server, log);
    for seg in rapid7.cache().list_segments(&id).await.unwrap() {
        let r = seg.range();
        assert_eq!(
            seg.row_count(),
            server.dataset().count(&id, r.start(), r.end()),
            "segment {r} of {log}"
        );
    }
}

fn newest_first_requests(server: &MockServer) -> Vec<datafusion_rapid7::mock::RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query && r.most_recent_first)
        .collect()
}

#[tokio::test]
async fn a_server_answering_oldest_first_is_paged_oldest_first_and_remembered() {
    let server = support::server().await;
    // Asked `most_recent_first=true`, it pages oldest first anyway.
    server.set_faults(Faults {
        ignore_most_recent_first: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let (from, to) = (T0 + 2 * HOUR, T0 + 2 * HOUR + 20 * MIN);
    let got = rows(
        &sql(&ctx, &top("Firewall", "true", from, to, 50))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_top(&server, "Firewall", from, to, 50, |_| true));
    assert!(
        !newest_first_requests(&server).is_empty(),
        "the first read tried newest first"
    );
    // The newest-first read committed nothing; what the oldest-first paging
    // committed is exact.
    segments_are_exact(&server, &rapid7, "Firewall").await;
    let fw = support::log_id(&server, "Firewall");
    let covered: u64 = rapid7
        .cache()
        .list_segments(&fw)
        .await
        .unwrap()
        .iter()
        .map(|s| s.range().len_ms())
        .sum();
    assert_eq!(covered, (to - from) as u64, "the window was paged whole");

    // A new session over the same cache goes straight to oldest first.
    let (ctx2, rapid7_2) = session(&server, &dir).await;
    let (from, to) = (T0 + 3 * HOUR, T0 + 3 * HOUR + 20 * MIN);
    let q = top("Firewall", "true", from, to, 50);
    let plan = pretty_format_batches(&sql(&ctx2, &format!("EXPLAIN {q}")).await.unwrap())
        .unwrap()
        .to_string();
    assert!(!plan.contains("most_recent_first=true"), "{plan}");
    server.clear_requests();
    let got = rows(&sql(&ctx2, &q).await.unwrap());
    assert_eq!(got, truth_top(&server, "Firewall", from, to, 50, |_| true));
    assert!(newest_first_requests(&server).is_empty());
    assert!(event_queries(&server) > 0);
    segments_are_exact(&server, &rapid7_2, "Firewall").await;
}

#[tokio::test]
async fn the_oldest_first_fallback_keeps_to_the_limit_of_events() {
    let server = support::server().await;
    server.set_faults(Faults {
        ignore_most_recent_first: true,
        ..Faults::default()
    });
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0 + 2 * HOUR, T0 + 4 * HOUR);
    let events = server.dataset().count(&fw, from, to);
    assert!(events > 1000);

    // Over the limit: the fallback is estimated and refused before it pages;
    // nothing is committed.
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    set_max_fetch_events(&ctx, events / 2).await;
    server.clear_requests();
    let e = sql(&ctx, &top("Firewall", "true", from, to, 50))
        .await
        .unwrap_err();
    let (estimated, limit) = refusal(&e);
    assert!(estimated >= events, "{estimated} < {events}");
    assert_eq!(limit, events / 2);
    assert!(e.to_string().contains("Firewall"), "{e}");
    assert!(
        event_queries(&server) <= 1,
        "only the newest-first page that showed the order"
    );
    assert!(rapid7.cache().list_segments(&fw).await.unwrap().is_empty());

    // Within the limit it answers exactly and commits exact segments.
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    set_max_fetch_events(&ctx, events * 3).await;
    let got = rows(
        &sql(&ctx, &top("Firewall", "true", from, to, 50))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_top(&server, "Firewall", from, to, 50, |_| true));
    assert!(!rapid7.cache().list_segments(&fw).await.unwrap().is_empty());
    segments_are_exact(&server, &rapid7, "Firewall").await;
}

/// The limit of events holds for the statement, not for each log: several
/// logs read newest first add up.
#[tokio::test]
async fn the_limit_of_events_counts_every_log_read_newest_first() {
    let server = support::server().await;
    // Ends between Firewall's bursts: one page each is enough.
    let (from, to) = (T0 + 2 * HOUR, T0 + 4 * HOUR - 500);
    let newest = |logs: &str| {
        format!(
            "SELECT timestamp, log_name FROM rapid7_logs WHERE log_name IN ({logs}) AND {} \
             ORDER BY timestamp DESC LIMIT 10",
            window(from, to)
        )
    };
    // What each log's read takes, alone.
    let mut alone = Vec::new();
    for log in ["'Firewall'", "'Web Proxy'"] {
        let dir = TempDir::new().unwrap();
        let (ctx, rapid7) = session(&server, &dir).await;
        sql(&ctx, &newest(log)).await.unwrap();
        alone.push(rapid7.client().unwrap().stats().events);
    }
    assert!(alone.iter().all(|e| *e > 0), "{alone:?}");
    // A limit each read keeps to alone, but not both together, read one
    // by one (merged newest-first reads known broken at the endpoint).
    let limit = alone[0].max(alone[1]);
    let dir = TempDir::new().unwrap();
    per_log_newest_first(&server, &dir);
    let (ctx, _) = session(&server, &dir).await;
    set_max_fetch_events(&ctx, limit).await;
    let e = sql(&ctx, &newest("'Firewall', 'Web Proxy'"))
        .await
        .unwrap_err();
    let (read, refused_at) = refusal(&e);
    assert_eq!(refused_at, limit);
    assert!(read > limit, "{read} <= {limit}");
    // With room for both, it answers.
    let dir = TempDir::new().unwrap();
    per_log_newest_first(&server, &dir);
    let (ctx, _) = session(&server, &dir).await;
    set_max_fetch_events(&ctx, alone[0] + alone[1]).await;
    sql(&ctx, &newest("'Firewall', 'Web Proxy'")).await.unwrap();
    // Read together (one merged query newest first), one page serves
    // both: within the limit one log's read alone takes.
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    set_max_fetch_events(&ctx, limit).await;
    sql(&ctx, &newest("'Firewall', 'Web Proxy'")).await.unwrap();
    assert!(rapid7.client().unwrap().stats().events <= limit);
}

/// The cache in `dir` says merged answers asked newest first broke a rule
/// at `server`: its sessions read newest first one log at a time.
fn per_log_newest_first(server: &MockServer, dir: &TempDir) {
    let endpoint = support::client_for(server).endpoint().to_string();
    let facts = serde_json::json!({"format": 1, "endpoints": {endpoint: {"merged_newest_first":
        {"value": false, "learnt_ms": 0, "by": "test"}}}});
    std::fs::write(
        dir.path()
            .join(datafusion_rapid7::cache::ENDPOINT_FACTS_FILE),
        facts.to_string(),
    )
    .unwrap();
}

/// Under `faults`, over pages of 100 in a new cache: the newest `n` of
/// Firewall's `[from, to)` are exact, and every committed segment too.
async fn newest_over_small_pages_are_exact(
    server: &MockServer,
    faults: Faults,
    (from, to): (i64, i64),
    n: usize,
) -> (datafusion_rapid7::Rapid7, TempDir) {
    let case = format!("{faults:?}");
    server.set_faults(faults);
    let dir = TempDir::new().unwrap();
    let client = support::builder_for(server)
        .with_per_page(100)
        .build()
        .unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    let config = datafusion_rapid7::Rapid7Config::new(client, local_cache(&dir));
    let rapid7 = datafusion_rapid7::register(&ctx, config).await.unwrap();
    let got = rows(
        &sql(&ctx, &top("Firewall", "true", from, to, n))
            .await
            .unwrap(),
    );
    assert_eq!(
        got,
        truth_top(server, "Firewall", from, to, n, |_| true),
        "{case}"
    );
    segments_are_exact(server, &rapid7, "Firewall").await;
    (rapid7, dir)
}

#[tokio::test]
async fn bursts_split_across_newest_first_pages_are_read_whole() {
    let server = support::server().await;
    let burst = burst_ms(&server);
    let fw = support::log_id(&server, "Firewall");
    // The burst (~700 events in one millisecond) is the window's newest
    // millisecond and spans pages of 100; the newest 1,000 reach below it.
    let window = (burst - 2 * MIN, burst + 1);
    for newest_links_skip_millisecond in [false, true] {
        for to_exclusive in [false, true] {
            let faults = Faults {
                to_exclusive,
                newest_links_skip_millisecond,
                ..Faults::default()
            };
            let (rapid7, _dir) =
                newest_over_small_pages_are_exact(&server, faults, window, 1000).await;
            assert!(!rapid7.cache().list_segments(&fw).await.unwrap().is_empty());
        }
    }
}

/// A server that ignores `most_recent_first` and starts, oldest first, on a
/// burst: each page holds one millisecond, so none is out of order. The
/// read must not end on that millisecond as if it were the newest.
#[tokio::test]
async fn pages_of_one_millisecond_from_a_server_ignoring_the_flag_are_not_trusted() {
    let server = support::server().await;
    let burst = burst_ms(&server);
    // The burst is the window's oldest millisecond.
    let window = (burst, burst + 2 * MIN);
    for to_exclusive in [false, true] {
        let faults = Faults {
            to_exclusive,
            ignore_most_recent_first: true,
            ..Faults::default()
        };
        newest_over_small_pages_are_exact(&server, faults, window, 50).await;
    }
}

#[tokio::test]
async fn ranges_before_the_newest_first_index_are_read_oldest_first() {
    const CUT: i64 = 1_669_248_000_000; // 2022-11-24T00:00:00Z
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    // All before the cut: oldest first, whole.
    let (from, to) = (CUT - 20 * MIN, CUT);
    let got = rows(
        &sql(&ctx, &top("Web Proxy", "true", from, to, 30))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_top(&server, "Web Proxy", from, to, 30, |_| true));
    assert!(newest_first_requests(&server).is_empty());
    // Across the cut: the part after it newest first (and it holds the
    // newest 30), nothing before it.
    server.clear_requests();
    let (from, to) = (CUT - 10 * MIN, CUT + 10 * MIN);
    let got = rows(
        &sql(&ctx, &top("Auth Service", "true", from, to, 30))
            .await
            .unwrap(),
    );
    assert_eq!(
        got,
        truth_top(&server, "Auth Service", from, to, 30, |_| true)
    );
    let asked = newest_first_requests(&server);
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|r| r.from.is_some_and(|f| f >= CUT)),
        "{asked:?}"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.kind != RequestKind::Query || r.is_statistical() || r.from >= Some(CUT)),
        "nothing before the cut was asked"
    );
    segments_are_exact(&server, &rapid7, "Auth Service").await;
    segments_are_exact(&server, &rapid7, "Web Proxy").await;
}

#[tokio::test]
async fn cached_segments_are_read_newest_part_first_and_only_as_far_as_needed() {
    use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    // Small parts (many per segment), and no check of every part at
    // planning: the read itself must not touch the old parts.
    let cache = SegmentCache::open(
        dir.path().to_str().unwrap(),
        CacheConfig {
            flush_rows: 2_000,
            verify_on_read: false,
            ..CacheConfig::default()
        },
    )
    .unwrap();
    let (ctx, rapid7) = session_with(&server, cache, |c| {
        c.with_pushdown_aggregates(false)
            .with_fetch_chunk(std::time::Duration::from_secs(20 * 60))
    })
    .await;
    let (from, to) = (T0 + 4 * HOUR, T0 + 4 * HOUR + 20 * MIN);
    sql(
        &ctx,
        &format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
            window(from, to)
        ),
    )
    .await
    .unwrap();
    let fw = support::log_id(&server, "Firewall");
    let segments = rapid7.cache().list_segments(&fw).await.unwrap();
    assert_eq!(segments.len(), 1);
    let mut parts = segments[0].manifest().parts.clone();
    assert!(parts.len() > 10, "{} parts", parts.len());
    // Spoil every part but the newest two: a read that opens them fails.
    parts.sort_by_key(|p| p.max_timestamp_ms);
    let seg_dir = [
        std::path::PathBuf::from(segments[0].location()),
        dir.path().join(segments[0].dir().as_ref()),
    ]
    .into_iter()
    .find(|d| d.is_dir())
    .expect("the segment's directory");
    for p in &parts[..parts.len() - 2] {
        let file = seg_dir.join(&p.name);
        let len = std::fs::metadata(&file).unwrap().len() as usize;
        std::fs::write(&file, vec![0u8; len]).unwrap();
    }
    // One more second, not cached (a burst and ~40 events): the scan reads
    // it newest first, then the newest parts of the cached segment for the
    // rest of the 1,000 rows asked.
    let extra = server.dataset().count(&fw, to, to + 1000);
    assert!(extra < 1000, "{extra} events in the uncached second");
    let q = format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = 'Firewall' AND {} \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT 1000",
        window(from, to + 1000)
    );
    let got = rows(&sql(&ctx, &q).await.unwrap());
    assert_eq!(
        got,
        truth_top(&server, "Firewall", from, to + 1000, 1000, |_| true)
    );
}
