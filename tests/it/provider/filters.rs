//! Filters pushed to Rapid7 as a LEQL superset: exact results against the
//! simulator's data function, fewer events paged, filtered segments that
//! serve only their own filter.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion_rapid7::cache::MessageForm;
use tempfile::TempDir;

use super::{MIN, local_cache, rows, session_with, sql, window};
use crate::support::{self, T0};

pub(super) const PROXY: &str = "Web Proxy";

pub(super) async fn session(
    server: &datafusion_rapid7::mock::MockServer,
    dir: &TempDir,
) -> (
    datafusion::prelude::SessionContext,
    datafusion_rapid7::Rapid7,
) {
    session_with(server, local_cache(dir), |c| c).await
}

pub(super) fn select(predicate: &str, from: i64, to: i64) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{PROXY}' AND {} AND ({predicate}) ORDER BY timestamp, sequence_number",
        window(from, to)
    )
}

/// The data function's events of the proxy log in `[from, to)` that `keep` keeps.
pub(super) fn truth(
    server: &datafusion_rapid7::mock::MockServer,
    from: i64,
    to: i64,
    keep: impl Fn(&str) -> bool,
) -> Vec<(i64, u64, String)> {
    let id = support::log_id(server, PROXY);
    support::truth(server, &id, from, to)
        .into_iter()
        .filter(|r| keep(&r.2))
        .map(|r| (r.0, r.1, r.2))
        .collect()
}

/// The LEQL statements of the event queries the simulator saw.
pub(super) fn statements(server: &datafusion_rapid7::mock::MockServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Query && !r.is_statistical())
        .map(|r| r.statement)
        .collect()
}

#[tokio::test]
async fn pushed_filters_are_exact_for_every_rule() {
    let server = support::server().await;
    let (from, to) = (T0, T0 + 20 * MIN);
    let lower = |m: &str| m.to_ascii_lowercase();
    type Keep = Box<dyn Fn(&str) -> bool>;
    let cases: Vec<(&str, Keep, &str)> = vec![
        // A fragment that starts mid-token: a keyword search would miss it.
        (
            "message LIKE '%ser=bo%'",
            Box::new(|m: &str| m.contains("ser=bo")),
            r"where(/ser\=bo/)",
        ),
        (
            "message ILIKE '%USER=BOB%'",
            Box::new(move |m: &str| lower(m).contains("user=bob")),
            // Cut at `S`: Arrow's ILIKE also matches U+017F LONG S there.
            r"where(/ER\=BOB/i AND /U/i)",
        ),
        (
            "message LIKE '%user=bob%' OR message LIKE '%status=503%'",
            Box::new(|m: &str| m.contains("user=bob") || m.contains("status=503")),
            r"where(/status\=503/ OR /user\=bob/)",
        ),
        (
            "message LIKE '%user=alice%' AND length(message) > 150",
            Box::new(|m: &str| m.contains("user=alice") && m.chars().count() > 150),
            r"where(/user\=alice/)",
        ),
        (
            "strpos(message, 'action=POST') > 0",
            Box::new(|m: &str| m.contains("action=POST")),
            r"where(/action\=POST/)",
        ),
    ];
    for (predicate, keep, statement) in cases {
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session(&server, &dir).await;
        server.clear_requests();
        let got = rows(&sql(&ctx, &select(predicate, from, to)).await.unwrap());
        let want = truth(&server, from, to, keep);
        assert!(!want.is_empty(), "{predicate}: the window has matches");
        assert_eq!(got, want, "{predicate}");
        let sent = statements(&server);
        assert!(
            !sent.is_empty() && sent.iter().all(|s| s == statement),
            "{predicate}: {sent:?}"
        );
    }
}

#[tokio::test]
async fn filtered_fetches_page_fewer_events_and_count_the_estimate_filtered() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (from, to) = (T0, T0 + 60 * MIN);
    let all = truth(&server, from, to, |_| true).len();
    let matching = truth(&server, from, to, |m| m.contains("user=bob")).len();
    assert!(matching * 4 < all);
    // A limit the whole hour is over, and the matches are under.
    let (ctx, _) = session_with(&server, local_cache(&dir), |c| {
        c.with_max_fetch_events((all / 2) as u64)
    })
    .await;
    let plan = pretty_format_batches(
        &sql(
            &ctx,
            &format!("EXPLAIN {}", select("message LIKE '%user=bob%'", from, to)),
        )
        .await
        .unwrap(),
    )
    .unwrap()
    .to_string();
    assert!(plan.contains(r"leql=where(/user\=bob/)"), "{plan}");
    let got = rows(
        &sql(&ctx, &select("message LIKE '%user=bob%'", from, to))
            .await
            .unwrap(),
    );
    assert_eq!(got.len(), matching);
    let events_paged = server
        .requests()
        .iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Query && !r.is_statistical())
        .count();
    assert!(
        events_paged * 500 < all,
        "{events_paged} queries for {matching} of {all} events"
    );
    // The same window unfiltered is over the limit.
    let e = sql(&ctx, &select("true", from, to)).await.unwrap_err();
    assert!(e.to_string().contains("would fetch"), "{e}");
}

#[tokio::test]
async fn filtered_segments_serve_only_their_own_filter() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 15 * MIN);
    // An unfiltered read shows the log sends text: only then is what a
    // pushed filter selects cached.
    sql(&ctx, &select("true", to, to + MIN)).await.unwrap();
    let bob = select("message LIKE '%user=bob%'", from, to);
    let want_bob = truth(&server, from, to, |m| m.contains("user=bob"));

    // Fetched filtered, then served from its filtered segments.
    assert_eq!(rows(&sql(&ctx, &bob).await.unwrap()), want_bob);
    server.clear_requests();
    assert_eq!(rows(&sql(&ctx, &bob).await.unwrap()), want_bob);
    assert_eq!(
        server.query_requests(),
        0,
        "a repeated filtered statement asks nothing"
    );

    // rapid7_cache() shows the filter.
    let listed = pretty_format_batches(
        &sql(
            &ctx,
            "SELECT filter, rows FROM rapid7_cache() WHERE log_name = 'Web Proxy'",
        )
        .await
        .unwrap(),
    )
    .unwrap()
    .to_string();
    assert!(listed.contains(r"/user\=bob/"), "{listed}");
    // rapid7_coverage() counts only segments of every event: still missing.
    let coverage = pretty_format_batches(
        &sql(
            &ctx,
            &format!(
                "SELECT status FROM rapid7_coverage('Web Proxy', to_timestamp_millis({from}), \
                 to_timestamp_millis({to}))"
            ),
        )
        .await
        .unwrap(),
    )
    .unwrap()
    .to_string();
    assert!(
        coverage.contains("missing") && !coverage.contains("cached"),
        "{coverage}"
    );

    // Another filter is not served by them: it fetches, exactly.
    let alice = select("message LIKE '%user=alice%'", from, to);
    assert_eq!(
        rows(&sql(&ctx, &alice).await.unwrap()),
        truth(&server, from, to, |m| m.contains("user=alice"))
    );
    assert!(server.query_requests() > 0);

    // The unfiltered log is not either: it fetches, exactly.
    server.clear_requests();
    let everything = select("true", from, to);
    assert_eq!(
        rows(&sql(&ctx, &everything).await.unwrap()),
        truth(&server, from, to, |_| true)
    );
    assert!(server.query_requests() > 0);

    // Now segments of every event serve any filter: no request.
    server.clear_requests();
    let carol = select("message LIKE '%user=carol%'", from, to);
    assert_eq!(
        rows(&sql(&ctx, &carol).await.unwrap()),
        truth(&server, from, to, |m| m.contains("user=carol"))
    );
    assert_eq!(server.query_requests(), 0);

    // And maintenance knows them: verify checks all, drop removes all.
    let report = datafusion_rapid7::Rapid7::cache(&session(&server, &dir).await.1)
        .verify(None)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(report.segments_checked >= 3, "{report:?}");
}

#[tokio::test]
async fn nothing_is_pushed_when_turned_off_or_not_implied() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 5 * MIN);
    for predicate in [
        "message NOT LIKE '%user=bob%'",
        "NOT (message LIKE '%user=bob%')",
        "message LIKE '%user=bob%' OR length(message) > 10",
        "upper(message) LIKE '%BOB%'",
    ] {
        let plan = pretty_format_batches(
            &sql(&ctx, &format!("EXPLAIN {}", select(predicate, from, to)))
                .await
                .unwrap(),
        )
        .unwrap()
        .to_string();
        assert!(!plan.contains("leql="), "{predicate}\n{plan}");
    }
    sql(&ctx, "SET rapid7.pushdown_filters = false")
        .await
        .unwrap();
    let plan = pretty_format_batches(
        &sql(
            &ctx,
            &format!("EXPLAIN {}", select("message LIKE '%x%'", from, to)),
        )
        .await
        .unwrap(),
    )
    .unwrap()
    .to_string();
    assert!(!plan.contains("leql="), "{plan}");
}

/// A log whose messages come as JSON objects: Rapid7 searched text the
/// client never sees, so a pushed filter is no proven superset. A filtered
/// fetch that meets one keeps nothing and says so; the cache records that
/// the log sends objects, every later session pushes no filter for it, and
/// the rerun is exact over the stored text.
#[tokio::test]
async fn object_messages_stop_filters_being_pushed_for_their_log() {
    let server = support::server().await;
    server.set_faults(datafusion_rapid7::mock::Faults {
        object_messages: true,
        ..Default::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let auth = support::log_id(&server, "Auth Service");
    let (from, to) = (T0, T0 + 10 * MIN);
    let q = auth_bob(from, to);
    let e = sql(&ctx, &q).await.unwrap_err().to_string();
    assert!(
        e.contains("JSON objects") && e.contains("run the statement again"),
        "{e}"
    );
    assert!(
        dir.path().join("logs").join(&auth).read_dir().is_err()
            || std::fs::read_dir(dir.path().join("logs").join(&auth))
                .unwrap()
                .next()
                .is_none(),
        "nothing kept"
    );
    // Recorded in the cache: a new session pushes nothing for the log.
    let (ctx, rapid7) = session(&server, &dir).await;
    assert_eq!(rapid7.message_form(&auth).await, Some(MessageForm::Objects));
    server.clear_requests();
    // Each object message is kept as the page's exact JSON text.
    let want = auth_bob_truth(&server, from, to);
    assert!(!want.is_empty());
    assert_eq!(rows(&sql(&ctx, &q).await.unwrap()), want);
    let sent = statements(&server);
    assert!(
        !sent.is_empty() && sent.iter().all(|s| s.is_empty()),
        "no filter pushed: {sent:?}"
    );
}

/// The statement of the Auth Service log's (JSON) messages with `bob` in
/// `[from, to)`.
pub(super) fn auth_bob(from: i64, to: i64) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = 'Auth Service' AND {} AND message LIKE '%bob%' \
         ORDER BY timestamp, sequence_number",
        window(from, to)
    )
}

/// The data function's answer to [`auth_bob`].
pub(super) fn auth_bob_truth(
    server: &datafusion_rapid7::mock::MockServer,
    from: i64,
    to: i64,
) -> Vec<(i64, u64, String)> {
    let auth = support::log_id(server, "Auth Service");
    support::truth(server, &auth, from, to)
        .into_iter()
        .map(|r| (r.0, r.1, r.2))
        .filter(|r| r.2.contains("bob"))
        .collect()
}

/// Filtered segments of every filter in the cache.
pub(super) async fn filtered_segments(ctx: &datafusion::prelude::SessionContext) -> i64 {
    let b = sql(
        ctx,
        "SELECT count(*) FROM rapid7_cache() WHERE filter IS NOT NULL",
    )
    .await
    .unwrap();
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// What a pushed filter selects is cached only for a log known to send its
/// messages as text. Before that is known (from an unfiltered read, or a
/// verdict recorded through `Rapid7::record_message_form`), the statement
/// is answered and nothing filtered is kept, so an empty answer is never
/// reused; once it is known, every later session reuses the segment.
#[tokio::test]
async fn filtered_segments_are_kept_only_for_logs_known_to_send_text() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let proxy = support::log_id(&server, PROXY);
    let (from, to) = (T0, T0 + 10 * MIN);
    let none = select("message LIKE '%no such text anywhere%'", from, to);
    {
        let (ctx, rapid7) = session(&server, &dir).await;
        assert_eq!(rapid7.message_form(&proxy).await, None);
        assert!(rows(&sql(&ctx, &none).await.unwrap()).is_empty());
        assert_eq!(
            filtered_segments(&ctx).await,
            0,
            "an empty answer is not kept"
        );
    }
    let (ctx, rapid7) = session(&server, &dir).await;
    server.clear_requests();
    assert!(rows(&sql(&ctx, &none).await.unwrap()).is_empty());
    assert!(
        statements(&server).iter().any(|s| s.contains("no")),
        "asked again"
    );
    assert_eq!(filtered_segments(&ctx).await, 0);

    // An unfiltered read shows the log sends text.
    sql(&ctx, &select("true", to, to + MIN)).await.unwrap();
    assert_eq!(rapid7.message_form(&proxy).await, Some(MessageForm::Text));
    assert!(rows(&sql(&ctx, &none).await.unwrap()).is_empty());
    assert!(filtered_segments(&ctx).await > 0);

    // A new session knows it from the cache: the statement asks nothing.
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    assert!(rows(&sql(&ctx, &none).await.unwrap()).is_empty());
    assert_eq!(server.query_requests(), 0);

    // A verdict recorded by hand (what `doctor` does) works the same way,
    // and objects, once recorded, stay: no filter is pushed for the log.
    let other = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &other).await;
    rapid7
        .record_message_form(&proxy, MessageForm::Objects)
        .await
        .unwrap();
    assert_eq!(
        rapid7
            .record_message_form(&proxy, MessageForm::Text)
            .await
            .unwrap(),
        MessageForm::Objects
    );
    server.clear_requests();
    let bob = select("message LIKE '%user=bob%'", from, to);
    assert_eq!(
        rows(&sql(&ctx, &bob).await.unwrap()),
        truth(&server, from, to, |m| m.contains("user=bob"))
    );
    assert!(
        statements(&server).iter().all(|s| s.is_empty()),
        "nothing pushed"
    );
}

/// An IOC list of a thousand `LIKE`s is pushed whole, in the body of a
/// `POST /query/logs` (its URL would be tens of kilobytes), and the result
/// is exact; a list whose `where()` passes the size pushed is not pushed at
/// all, and `EXPLAIN` says so.
#[tokio::test]
async fn long_or_lists_are_posted_and_past_the_limit_not_pushed() {
    use datafusion_rapid7::client::MAX_GET_STATEMENT_BYTES;
    use datafusion_rapid7::leql::MAX_PUSHED_STATEMENT_BYTES;

    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 5 * MIN);
    // `n` indicators of compromise, each `pad` bytes long or so.
    let ioc = |i: usize, pad: usize| format!("ioc-{i:05}.{}.example", "x".repeat(pad));
    let iocs = |n: usize, pad: usize| {
        (0..n)
            .map(|i| format!("message LIKE '%{}%'", ioc(i, pad)))
            .chain(["message LIKE '%user=bob%'".to_string()])
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let listed = |m: &str, pad: usize| {
        m.contains("user=bob") || (0..1_000).any(|i| m.contains(&ioc(i, pad)))
    };
    let want = truth(&server, from, to, |m| listed(m, 1));
    assert!(!want.is_empty());
    assert_eq!(
        rows(&sql(&ctx, &select(&iocs(1_000, 1), from, to)).await.unwrap()),
        want
    );
    let pushed: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Query)
        .filter(|r| !r.statement.is_empty())
        .collect();
    assert!(!pushed.is_empty());
    for r in &pushed {
        assert!(
            r.statement.len() > MAX_GET_STATEMENT_BYTES,
            "{}",
            r.statement.len()
        );
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/query/logs")
        );
    }

    // Past the limit (a thousand longer indicators): nothing pushed, EXPLAIN
    // says why, the result exact.
    let long = select(&iocs(1_000, 80), from + MIN, to);
    let plan = pretty_format_batches(&sql(&ctx, &format!("EXPLAIN {long}")).await.unwrap())
        .unwrap()
        .to_string();
    assert!(
        plan.contains("leql=not pushed") && plan.contains(&MAX_PUSHED_STATEMENT_BYTES.to_string()),
        "{plan}"
    );
    server.clear_requests();
    assert_eq!(
        rows(&sql(&ctx, &long).await.unwrap()),
        truth(&server, from + MIN, to, |m| listed(m, 80))
    );
    assert!(
        statements(&server).iter().all(|s| s.is_empty()),
        "nothing pushed"
    );
}

/// A long statement whose answer spans pages: its `Next` links are followed
/// as POSTs too (the statement never goes in a URL), and the rows are exact.
#[tokio::test]
async fn long_statements_follow_their_next_links_as_posts() {
    use datafusion_rapid7::client::MAX_GET_STATEMENT_BYTES;

    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 10 * MIN);
    let ioc = |i: usize| format!("ioc-{i:05}.example");
    let predicate = (0..200)
        .map(|i| format!("message LIKE '%{}%'", ioc(i)))
        .chain(["message LIKE '%user=%'".to_string()])
        .collect::<Vec<_>>()
        .join(" OR ");
    let want = truth(&server, from, to, |m| {
        m.contains("user=") || (0..200).any(|i| m.contains(&ioc(i)))
    });
    assert!(want.len() > 1_000, "several pages: {}", want.len());
    server.clear_requests();
    assert_eq!(
        rows(&sql(&ctx, &select(&predicate, from, to)).await.unwrap()),
        want
    );
    let pushed: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.kind == datafusion_rapid7::mock::RequestKind::Query)
        .collect();
    for r in &pushed {
        assert!(r.statement.len() > MAX_GET_STATEMENT_BYTES, "{r:?}");
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/query/logs")
        );
    }
    assert!(
        pushed.iter().any(|r| r.sequence_number.is_some()),
        "a Next link followed: {pushed:?}"
    );
}

/// `AND` in `OR` in `AND` … nested deeper than the translation goes (16
/// levels): what is past the limit is not pushed, and the rows are exact.
#[tokio::test]
async fn filters_nested_past_the_translation_limit_stay_exact() {
    const TERMS: [&str; 6] = ["user=bob", "=", "user=alice", "e", "user=carol", "a"];
    const DEPTH: usize = 18;
    fn keeps(m: &str, i: usize) -> bool {
        let term = m.contains(TERMS[i % TERMS.len()]);
        match i {
            DEPTH => term,
            _ if i.is_multiple_of(2) => term || keeps(m, i + 1),
            _ => term && keeps(m, i + 1),
        }
    }
    let mut predicate = format!("message LIKE '%{}%'", TERMS[DEPTH % TERMS.len()]);
    for i in (0..DEPTH).rev() {
        let op = if i % 2 == 0 { "OR" } else { "AND" };
        predicate = format!(
            "message LIKE '%{}%' {op} ({predicate})",
            TERMS[i % TERMS.len()]
        );
    }
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 5 * MIN);
    let want = truth(&server, from, to, |m| keeps(m, 0));
    assert!(!want.is_empty());
    assert_eq!(
        rows(&sql(&ctx, &select(&predicate, from, to)).await.unwrap()),
        want
    );
}
