//! Many spellings of the same questions (counts per hour, per 10 minutes,
//! per log, in total; the newest N with and without computed columns,
//! aliases, CTEs, subqueries, LIMIT / OFFSET): each answers as it does with
//! both pushdowns off, within the pushdown's bound on queries. Spellings that
//! cannot be pushed exactly are listed with the reason EXPLAIN gives, and
//! page.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use datafusion_rapid7::mock::{MockServer, RequestKind};
use tempfile::TempDir;

use super::{MIN, local_cache, session_with, sql, window};
use crate::support::{self, T0};

const HOUR: i64 = 60 * MIN;

/// What a spelling is expected to cost with pushdown.
#[derive(Debug, Clone, Copy)]
enum Bound {
    /// Counts of `logs` logs in `bins` bins each: at most one statistical
    /// query per 200 bins per log plus an unaligned first and last bin, a
    /// `to` check (a one-millisecond event query) per statistical query,
    /// and no page of the window.
    Counts { logs: u64, bins: u64 },
    /// The newest `n` rows of `logs` logs: at most `1 + ⌈n/500⌉` pages per
    /// log, plus one for the boundary millisecond, and no statistics.
    Newest { logs: u64, n: u64 },
    /// Not pushed: EXPLAIN names this reason, and the window is paged.
    Pages(&'static str),
}

/// Auth Service over three unaligned hours.
const W1: (i64, i64) = (T0 + HOUR + 7 * MIN, T0 + 4 * HOUR + 3 * MIN);
/// Every log over 20 minutes.
const W2: (i64, i64) = (T0 + 6 * HOUR, T0 + 6 * HOUR + 20 * MIN);
/// Web Proxy (plain-text messages: filters on them go to Rapid7 as LEQL).
const W3: (i64, i64) = (T0 + 5 * HOUR, T0 + 6 * HOUR + 2 * MIN);
/// Firewall (CSV messages, bursts) across an hour's end: the statements
/// of issue #32.
const W4: (i64, i64) = (T0 + 7 * HOUR - 5 * MIN, T0 + 7 * HOUR + 10 * MIN);

/// 2025-12-31T22:00Z → 2026-01-01T02:00Z: a year's (quarter's, month's)
/// end.
const NEW_YEAR: (i64, i64) = (1_767_218_400_000, 1_767_232_800_000);
/// 2026-01-31T22:00Z → 2026-02-01T02:00Z: a month's end, on a Saturday
/// night (a `%U` week starts on the Sunday).
const NEW_MONTH: (i64, i64) = (1_769_896_800_000, 1_769_911_200_000);
/// 2026-02-08T22:00Z → 2026-02-09T02:00Z: Sunday into Monday (a week of
/// `date_trunc` and ISO, and `%W`, starts).
const NEW_WEEK: (i64, i64) = (1_770_588_000_000, 1_770_602_400_000);

/// Statements, each with the bound its pushdown must keep.
type Spellings = Vec<(String, Bound)>;

/// Counts across calendar edges, `date_bin` from before 1970, and what is
/// refused (answers equal all the same).
fn calendar_and_refusals() -> (Spellings, Spellings) {
    let auth = |(from, to): (i64, i64)| {
        format!(
            "FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
            window(from, to)
        )
    };
    let edges = Bound::Counts { logs: 1, bins: 2 };
    let mut out = Vec::new();
    for w in [NEW_YEAR, NEW_MONTH, NEW_WEEK] {
        let f = auth(w);
        for key in [
            "date_trunc('week', timestamp)",
            "date_trunc('month', timestamp)",
            "date_trunc('quarter', timestamp)",
            "date_trunc('year', timestamp)",
            "date_part('week', timestamp)",
            "date_part('dow', timestamp)",
            "date_part('doy', timestamp)",
            "date_part('quarter', timestamp)",
            "to_char(timestamp, '%Y %U')",
            "to_char(timestamp, '%Y %W')",
            "to_char(timestamp, '%j')",
        ] {
            out.push((
                format!("SELECT {key} AS k, count(*) AS n {f} GROUP BY 1 ORDER BY 1"),
                edges,
            ));
        }
    }
    // Refusals page: a short window keeps them within the key's quota.
    let short = (W1.0, W1.0 + 20 * MIN);
    let a = auth(short);
    let refused = vec![
        (
            format!(
                "SELECT date_bin(interval '1 hour', timestamp, TIMESTAMP '1969-12-31T23:30:00Z') AS h, count(*) {a} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Counts { logs: 1, bins: 2 },
        ),
        (
            format!(
                "SELECT to_char(timestamp, CASE WHEN log_name = 'Auth Service' THEN '%Y-%m-%d %H' ELSE '%Y' END) AS k, count(*) {a} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Pages("to_char with a format that is not a literal"),
        ),
        (
            format!(
                "SELECT to_char(timestamp, message) AS k, count(*) {a} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3"
            ),
            Bound::Pages("to_char with a format that is not a literal"),
        ),
        (
            format!(
                "SELECT CAST(timestamp AS DATE) AS d, arrow_cast(timestamp, 'Date64') AS k, count(*) {a} GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 3"
            ),
            Bound::Pages("is not constant within a time bin"),
        ),
        (
            format!(
                "SELECT date_bin(INTERVAL '1 day', CAST(timestamp AS TIMESTAMP) AT TIME ZONE 'Europe/Paris') AS d, count(*) {a} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Pages("is not constant within a time bin"),
        ),
        (
            format!(
                "SELECT date_trunc('hour', timestamp AT TIME ZONE 'Asia/Kolkata') AS d, count(*) {a} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Pages("is not constant within a time bin"),
        ),
        (
            format!(
                "SELECT log_name, date_trunc('hour', timestamp) AS h, count(*) {a} GROUP BY ROLLUP (log_name, date_trunc('hour', timestamp))"
            ),
            Bound::Pages("GROUPING SETS, ROLLUP and CUBE are not counted per bin"),
        ),
        (
            format!("SELECT log_name, count(*) {a} GROUP BY GROUPING SETS ((log_name), ())"),
            Bound::Pages("GROUPING SETS, ROLLUP and CUBE are not counted per bin"),
        ),
        (
            format!("WITH t AS (SELECT timestamp {a} LIMIT 100) SELECT count(*) FROM t"),
            Bound::Pages("counts not pushed: a LIMIT below it"),
        ),
        (
            format!(
                "WITH t AS (SELECT DISTINCT date_trunc('minute', timestamp) AS m {a}) SELECT count(*) FROM t"
            ),
            Bound::Pages("counts not pushed: no count"),
        ),
        (
            // A UNION ALL or a join is no count over one scan: the rule
            // never sees it, and it pages (with no reason to show).
            format!("SELECT count(*) FROM (SELECT timestamp {a} UNION ALL SELECT timestamp {a})"),
            Bound::Pages(""),
        ),
        (
            // A window function keeps every row: counted all the same.
            format!("SELECT count(*) FROM (SELECT count(*) OVER () AS c {a})"),
            Bound::Counts { logs: 1, bins: 1 },
        ),
        (
            format!(
                "SELECT count(*) FROM rapid7_logs JOIN (SELECT 'Auth Service' AS n) b ON log_name = b.n WHERE {}",
                window(short.0, short.1)
            ),
            Bound::Pages(""),
        ),
        (
            format!("SELECT count(*) FILTER (WHERE message LIKE '%a%') AS n {a}"),
            Bound::Pages("is not count(*)"),
        ),
        (
            format!("SELECT count(log_name) {a}"),
            Bound::Pages("is not count(*) or count of a column that is never null"),
        ),
        (
            format!(
                "SELECT log_name, timestamp, message FROM rapid7_logs WHERE log_name IN ('Auth Service', 'Web Proxy') AND {} ORDER BY timestamp DESC, log_name, sequence_number DESC LIMIT 5 OFFSET 10",
                window(short.0, short.1)
            ),
            Bound::Newest { logs: 2, n: 15 },
        ),
    ];
    (out, refused)
}

fn shapes(logs: u64) -> Spellings {
    let a = format!("log_name = 'Auth Service' AND {}", window(W1.0, W1.1));
    let w2 = window(W2.0, W2.1);
    let p = format!("log_name = 'Web Proxy' AND {}", window(W3.0, W3.1));
    let hours = Bound::Counts { logs: 1, bins: 4 };
    let tens = Bound::Counts { logs: 1, bins: 19 };
    let one = Bound::Counts { logs: 1, bins: 1 };
    let per_log = Bound::Counts { logs, bins: 1 };
    let newest = |n| Bound::Newest { logs: 1, n };
    let from_t = format!("FROM rapid7_logs WHERE {a}");
    let fw = format!(
        "FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(W4.0, W4.1)
    );
    let two = Bound::Counts { logs: 1, bins: 2 };
    vec![
        // The statements of issue #32.
        (
            format!(
                "SELECT date_trunc('hour', timestamp) AS h, count(*) {fw} GROUP BY h ORDER BY h"
            ),
            two,
        ),
        (
            format!(
                "SELECT timestamp, csv_get(message, 3) AS action {fw} ORDER BY timestamp DESC LIMIT 5"
            ),
            newest(5),
        ),
        (
            format!(
                "SELECT CAST(date_bin(INTERVAL '10 minutes', timestamp) AS BIGINT) AS t, count(*) {fw} GROUP BY 1 ORDER BY 1"
            ),
            two,
        ),
        (
            format!(
                "SELECT CAST(timestamp AS BIGINT) AS ts, sequence_number {fw} ORDER BY timestamp DESC, sequence_number DESC LIMIT 20"
            ),
            newest(20),
        ),
        (format!("SELECT log_name, count(*) {fw} GROUP BY 1"), one),
        // Counts per hour.
        (
            format!(
                "SELECT date_trunc('hour', timestamp) AS h, count(*) {from_t} GROUP BY h ORDER BY h"
            ),
            hours,
        ),
        (
            format!(
                "SELECT date_trunc('hour', timestamp), count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT date_trunc('HOUR', timestamp) h, count(1) c {from_t} GROUP BY date_trunc('HOUR', timestamp) ORDER BY h"
            ),
            hours,
        ),
        (
            format!(
                "SELECT date_bin(interval '1 hour', timestamp) AS h, count(*) {from_t} GROUP BY h ORDER BY h"
            ),
            hours,
        ),
        (
            format!(
                "SELECT date_bin(interval '60 minutes', timestamp, TIMESTAMP '2026-01-01T00:00:00Z') AS h, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT CAST(date_trunc('hour', timestamp) AS BIGINT) AS h, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT to_char(date_trunc('hour', timestamp), '%Y-%m-%d %H:%M') AS h, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT to_char(timestamp, '%Y-%m-%dT%H') AS h, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT date_format(timestamp, '%H') AS h, count(*) AS n {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT extract(hour FROM timestamp) AS h, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT date_part('hour', timestamp) AS h, count(timestamp) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "WITH t AS (SELECT timestamp FROM rapid7_logs WHERE {a}) SELECT date_trunc('hour', timestamp) AS h, count(*) FROM t GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT h, count(*) FROM (SELECT date_trunc('hour', timestamp) AS h, message {from_t}) GROUP BY h ORDER BY h"
            ),
            hours,
        ),
        (
            format!(
                "SELECT h, n FROM (SELECT date_trunc('hour', timestamp) AS h, count(*) AS n {from_t} GROUP BY h) WHERE n > 0 ORDER BY h DESC"
            ),
            hours,
        ),
        (
            format!(
                "SELECT date_trunc('hour', timestamp) AS h, count(*) AS n {from_t} GROUP BY 1 HAVING count(*) > 100 ORDER BY 2 DESC LIMIT 2"
            ),
            hours,
        ),
        // Counts per 10 minutes.
        (
            format!(
                "SELECT date_bin(interval '10 minutes', timestamp) AS t, count(*) {from_t} GROUP BY t ORDER BY t"
            ),
            tens,
        ),
        (
            format!(
                "SELECT CAST(date_bin(INTERVAL '10 minutes', timestamp) AS BIGINT) AS t, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            tens,
        ),
        (
            format!(
                "SELECT date_bin(interval '10 minutes', timestamp, TIMESTAMP '2026-02-10T00:05:00Z') AS t, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Counts { logs: 1, bins: 20 },
        ),
        (
            format!(
                "SELECT date_trunc('hour', timestamp) AS h, date_bin(interval '10 minutes', timestamp) AS t, count(*) {from_t} GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            tens,
        ),
        (
            format!(
                "SELECT date_bin(interval '600 seconds', timestamp) AS t, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            tens,
        ),
        (
            format!(
                "SELECT to_timestamp_millis(CAST(timestamp AS BIGINT) / 600000 * 600000) AS t, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            tens,
        ),
        (
            format!(
                "SELECT to_unixtime(timestamp) / 3600 AS h, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            hours,
        ),
        (
            format!(
                "SELECT to_char(date_bin(interval '10 minutes', timestamp), '%H:%M') AS t, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            tens,
        ),
        (
            format!(
                "WITH b AS (SELECT date_bin(interval '10 minutes', timestamp) AS t FROM rapid7_logs WHERE {a}) SELECT t, count(*) FROM b GROUP BY t ORDER BY t"
            ),
            tens,
        ),
        // Other units.
        (
            format!(
                "SELECT date_trunc('minute', timestamp) AS m, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Counts { logs: 1, bins: 177 },
        ),
        (
            format!("SELECT date_trunc('day', timestamp) AS d, count(*) {from_t} GROUP BY 1"),
            one,
        ),
        (
            format!("SELECT CAST(timestamp AS DATE) AS d, count(*) {from_t} GROUP BY 1"),
            one,
        ),
        (
            format!("SELECT date_trunc('week', timestamp) AS w, count(*) {from_t} GROUP BY 1"),
            one,
        ),
        (
            format!("SELECT date_trunc('month', timestamp) AS m, count(*) {from_t} GROUP BY 1"),
            one,
        ),
        (
            format!(
                "SELECT date_trunc('year', timestamp) AS y, extract(month FROM timestamp) AS m, count(*) {from_t} GROUP BY 1, 2"
            ),
            one,
        ),
        // Counts per log.
        (
            format!("SELECT log_name, count(*) FROM rapid7_logs WHERE {w2} GROUP BY 1 ORDER BY 1"),
            per_log,
        ),
        (
            format!(
                "SELECT log_id, log_name, count(*) AS n FROM rapid7_logs WHERE {w2} GROUP BY log_id, log_name ORDER BY n DESC, log_id"
            ),
            per_log,
        ),
        (
            format!(
                "SELECT upper(log_name) AS l, count(*) FROM rapid7_logs WHERE {w2} GROUP BY 1 ORDER BY 1"
            ),
            per_log,
        ),
        (
            format!(
                "SELECT log_name, date_trunc('minute', timestamp) AS m, count(*) FROM rapid7_logs WHERE {w2} GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            Bound::Counts { logs, bins: 20 },
        ),
        (
            format!(
                "WITH t AS (SELECT * FROM rapid7_logs WHERE {w2}) SELECT log_name, count(*) FROM t GROUP BY log_name ORDER BY 1"
            ),
            per_log,
        ),
        // Totals.
        (
            format!(
                "SELECT count(*) FROM rapid7.\"Auth Service\" WHERE {}",
                window(W1.0, W1.1)
            ),
            one,
        ),
        (format!("SELECT count(*) {from_t}"), one),
        (
            format!("SELECT count(*) AS n FROM (SELECT message {from_t})"),
            one,
        ),
        (
            format!(
                "WITH t AS (SELECT timestamp, json_get_str(message, 'action') AS action {from_t}) SELECT count(*) FROM t"
            ),
            one,
        ),
        (
            format!("SELECT count(message), count(timestamp) FROM rapid7_logs WHERE {w2}"),
            per_log,
        ),
        (
            format!(
                "SELECT count(*) FROM rapid7_logs WHERE log_name IN ('Auth Service', 'Web Proxy') AND {w2}"
            ),
            Bound::Counts { logs: 2, bins: 1 },
        ),
        // The newest N.
        (
            format!(
                "SELECT timestamp, json_get_str(message, 'action') AS action {from_t} ORDER BY timestamp DESC LIMIT 5"
            ),
            newest(5),
        ),
        (
            format!(
                "SELECT CAST(timestamp AS BIGINT) AS ts, sequence_number {from_t} ORDER BY timestamp DESC, sequence_number DESC LIMIT 20"
            ),
            newest(20),
        ),
        (
            format!("SELECT timestamp AS t, message {from_t} ORDER BY t DESC LIMIT 7"),
            newest(7),
        ),
        (
            format!("SELECT * {from_t} ORDER BY timestamp DESC LIMIT 5"),
            newest(5),
        ),
        (
            format!("SELECT message {from_t} ORDER BY timestamp DESC LIMIT 5 OFFSET 10"),
            newest(15),
        ),
        (
            format!(
                "WITH t AS (SELECT timestamp, message FROM rapid7_logs WHERE {a}) SELECT * FROM t ORDER BY timestamp DESC LIMIT 5"
            ),
            newest(5),
        ),
        (
            format!(
                "SELECT * FROM (SELECT timestamp AS ts, length(message) AS len {from_t}) ORDER BY ts DESC LIMIT 10"
            ),
            newest(10),
        ),
        (
            format!(
                "SELECT date_trunc('second', timestamp) AS s, message {from_t} ORDER BY timestamp DESC, sequence_number DESC LIMIT 5"
            ),
            newest(5),
        ),
        (
            format!(
                "SELECT timestamp, message FROM rapid7.\"Auth Service\" WHERE {} ORDER BY timestamp DESC LIMIT 5",
                window(W1.0, W1.1)
            ),
            newest(5),
        ),
        (
            format!(
                "SELECT timestamp, message FROM rapid7_logs WHERE {p} AND message LIKE '%user=bob%' ORDER BY timestamp DESC, sequence_number DESC LIMIT 5"
            ),
            newest(5),
        ),
        (
            format!(
                "SELECT log_name, timestamp, upper(message) AS m FROM rapid7_logs WHERE log_name IN ('Auth Service', 'Web Proxy') AND {} ORDER BY timestamp DESC, log_name, sequence_number DESC LIMIT 10",
                window(W1.0, W1.1)
            ),
            Bound::Newest { logs: 2, n: 10 },
        ),
        // Expected to page, with the reason.
        (
            format!(
                "SELECT json_get_str(message, 'user') AS u, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Pages("is not constant within a time bin"),
        ),
        (
            format!(
                "SELECT message, count(*) {from_t} GROUP BY message ORDER BY 2 DESC, 1 LIMIT 3"
            ),
            Bound::Pages("counts not pushed: GROUP BY message is not constant within a time bin"),
        ),
        (
            format!(
                "SELECT date_bin(interval '45 minutes', timestamp) AS a, date_trunc('hour', timestamp) AS b, count(*) {from_t} GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            Bound::Pages("share no bin"),
        ),
        (
            format!(
                "SELECT date_bin(interval '15 minutes', timestamp, TIMESTAMP '2026-02-10T00:00:00.0005Z') AS a, count(*) {from_t} GROUP BY 1 ORDER BY 1"
            ),
            Bound::Pages("date_bin from an origin that is not a whole millisecond"),
        ),
        (
            format!("SELECT count(*) {from_t} AND message LIKE '%login%'"),
            Bound::Pages("is not a filter of time or log"),
        ),
        (
            format!("SELECT count(DISTINCT sequence_number) {from_t}"),
            Bound::Pages("counts not pushed: no count"),
        ),
        (
            format!("SELECT count(*), max(timestamp) {from_t}"),
            Bound::Pages("is not count(*) or count of a column that is never null"),
        ),
        (
            format!("SELECT timestamp {from_t} ORDER BY timestamp ASC LIMIT 5"),
            Bound::Pages("newest first not pushed: ORDER BY"),
        ),
        (
            format!("SELECT timestamp {from_t} ORDER BY sequence_number DESC LIMIT 5"),
            Bound::Pages("is not ORDER BY timestamp DESC"),
        ),
    ]
}

/// The rows of `batches` as text, in order (and sorted when the statement
/// leaves the order open).
fn text(batches: &[RecordBatch], ordered: bool) -> Vec<String> {
    let table = pretty_format_batches(batches).unwrap().to_string();
    let mut lines: Vec<String> = table
        .lines()
        .skip(3)
        .filter(|l| l.starts_with('|'))
        .map(str::to_string)
        .collect();
    if !ordered {
        lines.sort();
    }
    lines
}

struct Requests {
    statistical: u64,
    /// Event queries of one millisecond: the `to` checks.
    one_ms: u64,
    /// Event pages of more than one millisecond.
    pages: u64,
}

fn requests(server: &MockServer) -> Requests {
    let mut r = Requests {
        statistical: 0,
        one_ms: 0,
        pages: 0,
    };
    for q in server
        .requests()
        .iter()
        .filter(|q| q.kind == RequestKind::Query)
    {
        if q.is_statistical() {
            r.statistical += 1;
        } else if matches!((q.from, q.to), (Some(f), Some(t)) if t - f <= 1) {
            r.one_ms += 1;
        } else {
            r.pages += 1;
        }
    }
    r
}

/// No two of the newest `cuts` events of `log` over `[from, to)` share a
/// millisecond with the next older one: `ORDER BY timestamp DESC LIMIT n`
/// has one answer.
fn no_ties_at(server: &MockServer, log: &str, (from, to): (i64, i64), cuts: &[usize]) {
    let id = support::log_id(server, log);
    let mut rows = support::truth(server, &id, (to - HOUR).max(from), to);
    rows.reverse();
    for &n in cuts {
        assert_ne!(rows[n - 1].0, rows[n].0, "{log}: a tie at the {n}th newest");
    }
}

#[tokio::test]
async fn spellings_answer_as_without_pushdown_within_their_bound() {
    let server = support::server().await;
    no_ties_at(&server, "Auth Service", W1, &[5, 7, 10, 15, 20]);
    no_ties_at(&server, "Firewall", W4, &[5]);
    let logs = server.dataset().logs().len() as u64;
    let shapes = shapes(logs);
    let pushed = shapes
        .iter()
        .filter(|(_, b)| !matches!(b, Bound::Pages(_)))
        .count();
    assert!(pushed >= 40, "{pushed} spellings pushed");
    let failures = compare(&server, &shapes, &[]).await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Calendar bins across a week's, a month's and a year's end; `date_bin`
/// from before 1970; what is refused (grouping sets, a LIMIT or DISTINCT
/// in a CTE, UNION ALL, a window function, a join, FILTER, count of a log
/// column, a format or a zone that moves groups): answers equal throughout.
#[tokio::test]
async fn calendar_edges_and_refusals_answer_as_without_pushdown() {
    let (calendar, refused) = calendar_and_refusals();
    let mut failures = compare(&support::server().await, &calendar, &[]).await;
    // A server of its own: paging spends the key's quota.
    let server = support::server().await;
    no_ties_at(&server, "Auth Service", (W1.0, W1.0 + 20 * MIN), &[15]);
    failures.extend(compare(&server, &refused, &[]).await);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A session time zone other than UTC changes neither the answers nor
/// what is pushed: the column is in UTC, and the keys read its zone.
#[tokio::test]
async fn a_session_time_zone_changes_no_answer() {
    let server = support::server().await;
    let f = format!(
        "FROM rapid7_logs WHERE log_name = 'Auth Service' AND {}",
        window(NEW_YEAR.0, NEW_YEAR.1)
    );
    let edges = Bound::Counts { logs: 1, bins: 2 };
    let shapes: Vec<(String, Bound)> = [
        "date_trunc('day', timestamp)",
        "date_trunc('hour', timestamp)",
        "date_part('day', timestamp)",
        "CAST(timestamp AS DATE)",
        "to_char(timestamp, '%Y-%m-%d')",
        "date_bin(interval '1 day', timestamp)",
    ]
    .into_iter()
    .map(|k| {
        (
            format!("SELECT {k} AS k, count(*) AS n {f} GROUP BY 1 ORDER BY 1"),
            edges,
        )
    })
    .collect();
    let failures = compare(
        &server,
        &shapes,
        &["SET datafusion.execution.time_zone = '+05:30'"],
    )
    .await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Each of `shapes` (after `setup` in every session) against the same
/// statement with both pushdowns off: what differs or exceeds its bound.
async fn compare(server: &MockServer, shapes: &[(String, Bound)], setup: &[&str]) -> Vec<String> {
    // The reference: both pushdowns off, one cache (filled once a window).
    let reference_dir = TempDir::new().unwrap();
    let (reference, _) = session_with(server, local_cache(&reference_dir), |c| c).await;
    sql(&reference, "SET rapid7.pushdown_aggregates = false")
        .await
        .unwrap();
    sql(&reference, "SET rapid7.pushdown_newest_first = false")
        .await
        .unwrap();
    for s in setup {
        sql(&reference, s).await.unwrap();
    }
    let mut failures = Vec::new();
    for (q, bound) in shapes {
        let ordered = q.contains("ORDER BY");
        let want = text(&sql(&reference, q).await.unwrap(), ordered);
        assert!(!want.is_empty(), "{q}: no rows to compare");
        // Each spelling in a fresh session and cache: nothing it reads was
        // read before.
        let dir = TempDir::new().unwrap();
        let (ctx, _) = session_with(server, local_cache(&dir), |c| c).await;
        for s in setup {
            sql(&ctx, s).await.unwrap();
        }
        let plan = explain(&ctx, q).await;
        server.clear_requests();
        let got = text(&sql(&ctx, q).await.unwrap(), ordered);
        let r = requests(server);
        if got != want {
            failures.push(format!(
                "{q}\n  answer differs: {got:?}\n  without pushdown: {want:?}"
            ));
            continue;
        }
        let within = match *bound {
            Bound::Counts { logs, bins } => {
                let most = logs * (bins.div_ceil(200) + 2);
                r.pages == 0 && r.statistical <= most + 1 && r.one_ms <= r.statistical
            }
            Bound::Newest { logs, n } => {
                r.statistical == 0 && r.pages + r.one_ms <= logs * (2 + n.div_ceil(500))
            }
            Bound::Pages(reason) => {
                if !plan.contains(reason) {
                    failures.push(format!("{q}\n  EXPLAIN does not say `{reason}`:\n{plan}"));
                }
                r.pages > 0
            }
        };
        if !within {
            failures.push(format!(
                "{q}\n  {bound:?}: {} statistical, {} one-millisecond, {} pages\n{plan}",
                r.statistical, r.one_ms, r.pages
            ));
        }
    }
    failures
}

async fn explain(ctx: &SessionContext, q: &str) -> String {
    pretty_format_batches(&sql(ctx, &format!("EXPLAIN {q}")).await.unwrap())
        .unwrap()
        .to_string()
}
