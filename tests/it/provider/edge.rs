//! A burst stamped exactly at a window's end: once `doctor`'s probe saw the
//! endpoint's `to` inclusive, `GET` oldest-first event queries ask `to − 1`
//! and do not page the burst only to drop it; a page of a request the client
//! built that shows an event at `to` is only a hint, recorded per form, that
//! never changes the `to` asked (it shows `to` at least partly inclusive,
//! not fully); an exclusive or inconsistent endpoint is asked `to` as before,
//! and a read never records over the doctor's answer. Rows exact against the
//! data function either way.

use datafusion::prelude::SessionContext;
use datafusion_rapid7::mock::{
    Faults, MessageFormat, MockConfig, MockDataset, MockLog, MockServer, RequestKind,
};
use datafusion_rapid7::ops::doctor::DoctorOptions;
use tempfile::TempDir;

use super::{burst_ms, rows, session, sql, window};
use crate::support::{self, T0};

const LOG: &str = "Bursts";
const BURST: u32 = 1_000;
const EVERY_SECS: u64 = 300;

/// A log of bursts only: `BURST` events in one millisecond every 5 minutes,
/// nothing between, so the pages of a window are known exactly.
async fn bursts_server() -> MockServer {
    MockServer::start(MockConfig {
        dataset: MockDataset::new(vec![MockLog {
            id: "5e1d0c2b-3a49-4f8e-9d7c-6b5a4f3e2d1c".into(),
            name: LOG.into(),
            rate_per_sec: 0.0,
            format: MessageFormat::KeyValue,
            burst_every_secs: Some(EVERY_SECS),
            burst_size: BURST,
            labels: vec![],
        }]),
        ..MockConfig::default()
    })
    .await
    .expect("simulator")
}

/// The millisecond of `log`'s burst in the second starting at `second_ms`
/// (the one that holds the most events).
fn burst_in(server: &MockServer, log: &str, second_ms: i64) -> i64 {
    let id = support::log_id(server, log);
    let mut at = std::collections::BTreeMap::<i64, usize>::new();
    for e in server.dataset().events(&id, second_ms, second_ms + 1000) {
        *at.entry(e.timestamp).or_default() += 1;
    }
    let (ms, n) = at.into_iter().max_by_key(|&(_, n)| n).expect("a burst");
    assert!(n >= 700, "a burst second");
    ms
}

/// The `to` of every event query submitted (first pages, not `Next` links;
/// statistical estimates left out), and how many event query requests were
/// made in all (submits and `Next` pages).
fn event_queries(server: &MockServer) -> (Vec<i64>, usize) {
    let events: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Query && !r.is_statistical())
        .collect();
    let submitted = events
        .iter()
        .filter(|r| r.sequence_number.is_none())
        .filter_map(|r| r.to)
        .collect();
    (submitted, events.len())
}

/// The endpoint facts of the cache at `dir` (its one endpoint's), if any.
fn stored(dir: &TempDir) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.path().join("_ENDPOINTS.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let endpoints = json["endpoints"].as_object().unwrap();
    assert_eq!(endpoints.len(), 1, "{text}");
    endpoints.values().next().cloned()
}

/// The doctor's `to_inclusive` fact in the cache at `dir`: `(value, by)`.
fn stored_fact(dir: &TempDir) -> Option<(bool, String)> {
    let fact = stored(dir)?.get("to_inclusive")?.clone();
    Some((
        fact["value"].as_bool().unwrap(),
        fact["by"].as_str().unwrap().to_string(),
    ))
}

/// The request forms reads recorded inclusive in the cache at `dir`.
fn stored_reads(dir: &TempDir) -> Vec<String> {
    let Some(reads) = stored(dir).and_then(|f| f.get("to_inclusive_reads").cloned()) else {
        return Vec::new();
    };
    reads
        .as_object()
        .unwrap()
        .iter()
        .map(|(form, fact)| {
            assert_eq!(fact["value"], true, "{reads}");
            assert_eq!(fact["by"], "event read", "{reads}");
            form.clone()
        })
        .collect()
}

fn select(log: &str, from: i64, to: i64) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{log}' AND {} ORDER BY timestamp, sequence_number",
        window(from, to)
    )
}

fn newest(log: &str, from: i64, to: i64, n: usize) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = '{log}' AND {} \
         ORDER BY timestamp DESC, sequence_number DESC LIMIT {n}",
        window(from, to)
    )
}

fn truth(server: &MockServer, log: &str, from: i64, to: i64) -> Vec<(i64, u64, String)> {
    let id = support::log_id(server, log);
    support::truth(server, &id, from, to)
        .into_iter()
        .map(|r| (r.0, r.1, r.2))
        .collect()
}

fn truth_newest(
    server: &MockServer,
    log: &str,
    from: i64,
    to: i64,
    n: usize,
) -> Vec<(i64, u64, String)> {
    let mut all = truth(server, log, from, to);
    all.reverse();
    all.truncate(n);
    all
}

/// Ten minutes from the start of the burst second `k` periods after T0, to
/// the next-but-one burst: two bursts inside, one stamped exactly `to`.
fn ten_minutes(server: &MockServer, k: i64) -> (i64, i64) {
    let start = T0 + k * EVERY_SECS as i64 * 1000;
    (
        start,
        burst_in(server, LOG, start + 2 * EVERY_SECS as i64 * 1000),
    )
}

#[tokio::test]
async fn a_read_s_own_request_that_sees_an_event_at_to_records_a_hint_that_changes_nothing_asked() {
    let server = bursts_server().await;
    let dir = TempDir::new().unwrap();
    let (later, newest_w, newest_3) = (
        ten_minutes(&server, 12),
        ten_minutes(&server, 24),
        ten_minutes(&server, 36),
    );
    // A control over a cache that knows nothing: the windows as read today.
    let control_dir = TempDir::new().unwrap();
    let (control, _) = session(&server, &control_dir).await;
    server.clear_requests();
    let got = rows(&sql(&control, &select(LOG, later.0, later.1)).await.unwrap());
    assert_eq!(got, truth(&server, LOG, later.0, later.1));
    let (asked, today) = event_queries(&server);
    assert_eq!(asked, vec![later.1]);
    // 2,000 events in the window: four pages of 500, then a fifth of the
    // burst stamped `to`, all of it dropped.
    assert_eq!(today, 5);
    // That fifth page came of Rapid7's `Next` link, not of a request the
    // client built: it shows nothing (what a link's parameters mean is
    // Rapid7's).
    assert_eq!(stored_reads(&control_dir), Vec::<String>::new());
    let control_newest = TempDir::new().unwrap();
    let (control, _) = session(&server, &control_newest).await;
    server.clear_requests();
    let got = rows(
        &sql(&control, &newest(LOG, newest_w.0, newest_w.1, 10))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_newest(&server, LOG, newest_w.0, newest_w.1, 10));
    let (asked, newest_today) = event_queries(&server);
    assert_eq!(asked[0], newest_w.1);

    // The first read of a cache: a minute ending on a burst, whose first
    // page (the client's own request) is the burst stamped `to`. Recorded,
    // for its form only.
    let b = burst_in(&server, LOG, T0 + EVERY_SECS as i64 * 1000);
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    let got = rows(&sql(&ctx, &select(LOG, b - 60_000, b)).await.unwrap());
    assert_eq!(got, truth(&server, LOG, b - 60_000, b));
    assert_eq!(event_queries(&server), (vec![b], 1));
    assert_eq!(stored_reads(&dir), vec!["GET oldest-first"]);
    assert_eq!(stored_fact(&dir), None);

    // A later session over the same cache still asks `to` (a hint only):
    // the same pages, the same rows.
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    let got = rows(&sql(&ctx, &select(LOG, later.0, later.1)).await.unwrap());
    assert_eq!(got, truth(&server, LOG, later.0, later.1));
    assert_eq!(event_queries(&server), (vec![later.1], today));
    // Newest first: its own first page (the burst stamped `to`) records
    // its form's hint, and nothing asked changes either.
    server.clear_requests();
    let got = rows(
        &sql(&ctx, &newest(LOG, newest_w.0, newest_w.1, 10))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_newest(&server, LOG, newest_w.0, newest_w.1, 10));
    assert_eq!(event_queries(&server).1, newest_today);
    assert_eq!(event_queries(&server).0[0], newest_w.1);
    assert_eq!(
        stored_reads(&dir),
        vec!["GET newest-first", "GET oldest-first"]
    );
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    let got = rows(
        &sql(&ctx, &newest(LOG, newest_3.0, newest_3.1, 10))
            .await
            .unwrap(),
    );
    assert_eq!(got, truth_newest(&server, LOG, newest_3.0, newest_3.1, 10));
    let (asked, pages) = event_queries(&server);
    assert_eq!(asked[0], newest_3.1);
    assert_eq!(pages, newest_today, "{asked:?}");
}

#[tokio::test]
async fn an_exclusive_endpoint_is_asked_to_loses_nothing_and_nothing_is_learnt() {
    let server = bursts_server().await;
    server.set_faults(Faults {
        to_exclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    for k in [0, 12] {
        // A new session each time: the second recalls what the first
        // recorded, which must be nothing (absence proves nothing).
        let (ctx, _) = session(&server, &dir).await;
        let (from, to) = ten_minutes(&server, k);
        // Ending on a burst, and just after one: a burst stamped `to - 1`,
        // which asking `to - 1` of this endpoint would lose.
        for (to, burst_at_end) in [(to, false), (to + 1, true)] {
            server.clear_requests();
            let got = rows(&sql(&ctx, &select(LOG, from, to)).await.unwrap());
            let want = truth(&server, LOG, from, to);
            assert_eq!(got, want);
            let (asked, n) = event_queries(&server);
            assert_eq!(asked, vec![to]);
            if burst_at_end {
                let at_end = want.iter().filter(|r| r.0 == to - 1).count();
                assert_eq!(at_end, BURST as usize);
            } else {
                assert_eq!(n, 4);
            }
        }
        let (from, to) = ten_minutes(&server, k + 24);
        for to in [to, to + 1] {
            server.clear_requests();
            let got = rows(&sql(&ctx, &newest(LOG, from, to, 10)).await.unwrap());
            assert_eq!(got, truth_newest(&server, LOG, from, to, 10));
            let (asked, _) = event_queries(&server);
            assert_eq!(asked[0], to);
        }
        // A one-minute window (read by no earlier statement) whose first
        // page is the burst at `to - 1`.
        let b = burst_in(&server, LOG, T0 + (k + 48) * EVERY_SECS as i64 * 1000);
        server.clear_requests();
        let got = rows(&sql(&ctx, &select(LOG, b - 60_000, b + 1)).await.unwrap());
        assert_eq!(got.len(), BURST as usize);
        assert_eq!(got, truth(&server, LOG, b - 60_000, b + 1));
        let (asked, _) = event_queries(&server);
        assert!(asked.contains(&(b + 1)) && !asked.contains(&b), "{asked:?}");
    }
    assert_eq!(stored(&dir), None);
}

#[tokio::test]
async fn doctor_s_probe_decides_the_to_reads_ask() {
    // (`an_inconsistent_to_is_asked_as_it_is` for the doctor's third answer.)
    // (fault, what the doctor says, what it stores).
    let cases = [
        (Faults::default(), "inclusive", true),
        (
            Faults {
                to_exclusive: true,
                ..Faults::default()
            },
            "exclusive",
            false,
        ),
    ];
    for (faults, verdict, inclusive) in cases {
        let server = support::server().await;
        let dir = TempDir::new().unwrap();
        let (ctx, rapid7) = session(&server, &dir).await;
        let options = DoctorOptions {
            logs: vec!["Firewall".into()],
        };
        let doctor = || rapid7.doctor(&options);
        // An inclusive `to` seen first (stored, and told to this session):
        // a later answer replaces it.
        let first = doctor().await.unwrap();
        assert!(
            first
                .check("to_inclusive")
                .unwrap()
                .finding
                .starts_with("inclusive"),
            "{first:?}"
        );
        assert_eq!(stored_fact(&dir), Some((true, "doctor".to_string())));
        server.set_faults(faults);
        let report = doctor().await.unwrap();
        let check = report.check("to_inclusive").unwrap();
        assert!(check.finding.starts_with(verdict), "{check:?}");
        assert_eq!(stored_fact(&dir), Some((inclusive, "doctor".to_string())));
        // This session (told by the doctor), then a later one (told by the
        // cache), each over a window ending on a burst.
        let later = burst_in(&server, "Firewall", T0 + 3_600_000);
        for (ctx, to) in [
            (ctx.clone(), burst_ms(&server)),
            (session(&server, &dir).await.0, later),
        ] {
            let from = to - 10 * super::MIN;
            server.clear_requests();
            let got = rows(&sql(&ctx, &select("Firewall", from, to)).await.unwrap());
            assert_eq!(got, truth(&server, "Firewall", from, to));
            // (Other pieces of the window end elsewhere.)
            let (asked, _) = event_queries(&server);
            let (want, not) = if inclusive {
                (to - 1, to)
            } else {
                (to, to - 1)
            };
            assert!(
                asked.contains(&want) && !asked.contains(&not),
                "{verdict}: {asked:?}"
            );
        }
        assert_eq!(stored_fact(&dir), Some((inclusive, "doctor".to_string())));
        assert_eq!(stored_reads(&dir), Vec::<String>::new());
    }
}

/// A log busy enough that the doctor's probe millisecond holds several
/// events (12 a millisecond on average: one alone, about once in 13,000
/// runs), so that an endpoint returning only
/// some of them is seen as such.
async fn busy_server() -> MockServer {
    MockServer::start(MockConfig {
        dataset: MockDataset::new(vec![MockLog {
            id: "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d".into(),
            name: "Busy".into(),
            rate_per_sec: 12_000.0,
            format: MessageFormat::KeyValue,
            burst_every_secs: None,
            burst_size: 0,
            labels: vec![],
        }]),
        ..MockConfig::default()
    })
    .await
    .expect("simulator")
}

/// The doctor's "inconsistent" (only some of the events stamped `to` came
/// back) replaces an inclusive `to` it saw before: stored `false`, and this
/// session and later ones ask `to`, so that no event is lost to an endpoint
/// that would drop some of those at `to - 1`.
#[tokio::test]
async fn an_inconsistent_to_is_asked_as_it_is() {
    let server = busy_server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let options = DoctorOptions {
        logs: vec!["Busy".into()],
    };
    let finding = |report: &datafusion_rapid7::ops::doctor::DoctorReport| {
        report.check("to_inclusive").unwrap().finding.clone()
    };
    let report = rapid7.doctor(&options).await.unwrap();
    assert!(finding(&report).starts_with("inclusive"), "{report:?}");
    let read = |ctx: SessionContext, from: i64, to: i64| {
        let server = &server;
        async move {
            server.clear_requests();
            let got = rows(&sql(&ctx, &select("Busy", from, to)).await.unwrap());
            assert_eq!(got, truth(server, "Busy", from, to));
            event_queries(server).0
        }
    };
    let asked = read(ctx.clone(), T0, T0 + 100).await;
    assert!(
        asked.contains(&(T0 + 99)) && !asked.contains(&(T0 + 100)),
        "{asked:?}"
    );

    server.set_faults(Faults {
        to_partly_inclusive: true,
        ..Faults::default()
    });
    let report = rapid7.doctor(&options).await.unwrap();
    assert!(finding(&report).starts_with("inconsistent"), "{report:?}");
    assert_eq!(stored_fact(&dir), Some((false, "doctor".to_string())));
    for (ctx, from) in [
        (ctx, T0 + 1_000),
        (session(&server, &dir).await.0, T0 + 2_000),
    ] {
        let to = from + 100;
        let asked = read(ctx, from, to).await;
        assert!(
            asked.contains(&to) && !asked.contains(&(to - 1)),
            "{asked:?}"
        );
    }
    assert_eq!(stored_fact(&dir), Some((false, "doctor".to_string())));
    assert_eq!(stored_reads(&dir), Vec::<String>::new());
}

/// Another session's doctor saw `to` not inclusive after this session
/// recalled the cache's facts: an event at `to` this session sees next is
/// not recorded over the doctor's answer, and this session then asks `to`.
#[tokio::test]
async fn a_read_never_records_over_another_session_s_doctor() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    // A first read (the facts are recalled), which observes nothing: its
    // first page does not reach `to`.
    let (from, to) = (T0 + 5 * 3_600_000, T0 + 5 * 3_600_000 + 10 * super::MIN);
    let got = rows(&sql(&ctx, &select("Firewall", from, to)).await.unwrap());
    assert_eq!(got, truth(&server, "Firewall", from, to));
    assert_eq!(stored(&dir), None);
    // Another session's doctor, on an endpoint that answered `to` neither way.
    server.set_faults(Faults {
        to_partly_inclusive: true,
        ..Faults::default()
    });
    let (_, other) = session(&server, &dir).await;
    other
        .doctor(&DoctorOptions {
            logs: vec!["Firewall".into()],
        })
        .await
        .unwrap();
    assert_eq!(stored_fact(&dir), Some((false, "doctor".to_string())));
    server.set_faults(Faults::default());
    // Newest first over a window ending on a burst: the first page is the
    // burst stamped `to`, an inclusive `to` seen.
    let mut asked_first = Vec::new();
    for k in [1, 3] {
        let to = burst_in(&server, "Firewall", T0 + k * 3_600_000);
        let from = to - 10 * super::MIN;
        server.clear_requests();
        let got = rows(&sql(&ctx, &newest("Firewall", from, to, 10)).await.unwrap());
        assert_eq!(got, truth_newest(&server, "Firewall", from, to, 10));
        asked_first.push((event_queries(&server).0[0], to));
        assert_eq!(stored_fact(&dir), Some((false, "doctor".to_string())));
        assert_eq!(stored_reads(&dir), Vec::<String>::new());
    }
    // The second read asked `to`: the session took the doctor's answer.
    assert!(
        asked_first.iter().all(|(asked, to)| asked == to),
        "{asked_first:?}"
    );
}

/// A `POST` (a statement too long for a URL) is another form: asked `to`
/// while `GET` asks `to - 1` (the doctor's probe), even once a page of its
/// own shows an event at `to` (a hint only).
#[tokio::test]
async fn a_post_asks_to_whatever_its_pages_show() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    rapid7
        .doctor(&DoctorOptions {
            logs: vec!["Firewall".into()],
        })
        .await
        .unwrap();
    assert_eq!(stored_fact(&dir), Some((true, "doctor".to_string())));
    let predicate = (0..200)
        .map(|i| format!("message LIKE '%ioc-{i:05}.example%'"))
        .chain(["message LIKE '%,%'".to_string()])
        .collect::<Vec<_>>()
        .join(" OR ");
    let long = |from: i64, to: i64| {
        format!(
            "SELECT timestamp, sequence_number, message FROM rapid7_logs \
             WHERE log_name = 'Firewall' AND {} AND ({predicate}) \
             ORDER BY timestamp, sequence_number",
            window(from, to)
        )
    };
    let posts = |server: &MockServer| -> Vec<i64> {
        server
            .requests()
            .into_iter()
            .filter(|r| r.kind == RequestKind::Query && r.method == "POST")
            .filter(|r| r.sequence_number.is_none() && !r.is_statistical())
            .filter_map(|r| r.to)
            .collect()
    };
    let check = |got: Vec<(i64, u64, String)>, from: i64, to: i64| {
        let want = truth(&server, "Firewall", from, to);
        assert_eq!(got, want, "every Firewall message holds a comma");
    };
    // A short window whose first page is the burst stamped `to`: asked
    // `to` (a GET would ask `to - 1`), a hint recorded.
    let to = burst_ms(&server);
    let from = to - 10;
    server.clear_requests();
    check(rows(&sql(&ctx, &long(from, to)).await.unwrap()), from, to);
    assert_eq!(posts(&server), vec![to]);
    assert_eq!(stored_reads(&dir), vec!["POST oldest-first"]);
    // POSTs still ask `to`.
    let to = burst_in(&server, "Firewall", T0 + 3_600_000);
    let from = to - 10 * super::MIN;
    server.clear_requests();
    check(rows(&sql(&ctx, &long(from, to)).await.unwrap()), from, to);
    let asked = posts(&server);
    assert!(
        asked.contains(&to) && !asked.contains(&(to - 1)),
        "{asked:?}"
    );
}

/// An endpoint that returns only some of the events stamped `to` (the
/// simulator's `to_partly_inclusive`), read by a cache no doctor has probed:
/// a page holding an event at `to` proves `to` at least partly inclusive,
/// not fully, so no read turns `to − 1` on. Asking `to − 1` there would lose
/// the last events of the millisecond before `to`, cached as complete.
#[tokio::test]
async fn a_read_s_event_at_to_is_only_a_hint_and_never_asks_to_minus_one() {
    let server = bursts_server().await;
    server.set_faults(Faults {
        to_partly_inclusive: true,
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    // A first read whose first page is the burst stamped `to`.
    let b = burst_in(&server, LOG, T0 + EVERY_SECS as i64 * 1000);
    let got = rows(&sql(&ctx, &select(LOG, b - 60_000, b)).await.unwrap());
    assert_eq!(got, truth(&server, LOG, b - 60_000, b));
    // Later reads, this session's and another's over the same cache, of a
    // window whose last millisecond is a burst: asked `to`, every row back.
    for (ctx, k) in [(ctx, 12), (session(&server, &dir).await.0, 24)] {
        let b = burst_in(&server, LOG, T0 + k * EVERY_SECS as i64 * 1000);
        let (from, to) = (b - 60_000, b + 1);
        server.clear_requests();
        let got = rows(&sql(&ctx, &select(LOG, from, to)).await.unwrap());
        assert_eq!(got, truth(&server, LOG, from, to), "k = {k}");
        let (asked, _) = event_queries(&server);
        assert!(
            asked.contains(&to) && !asked.contains(&(to - 1)),
            "{asked:?}"
        );
    }
}

/// A running session sees another process's doctor at its next read, without
/// a restart: the other's "inclusive" makes it ask `to − 1`, and the other's
/// later "not inclusive" makes it ask `to` again.
#[tokio::test]
async fn a_running_session_takes_another_session_s_doctor_at_its_next_read() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (_, other) = session(&server, &dir).await;
    let options = DoctorOptions {
        logs: vec!["Firewall".into()],
    };
    let doctor = || other.doctor(&options);
    // (hour of the window's burst end, the other's fault, `to` inclusive).
    let steps = [
        (1, None, None),
        (2, Some(Faults::default()), Some(true)),
        (
            3,
            Some(Faults {
                to_exclusive: true,
                ..Faults::default()
            }),
            Some(false),
        ),
    ];
    for (hour, faults, inclusive) in steps {
        if let Some(faults) = faults {
            server.set_faults(faults);
            doctor().await.unwrap();
            server.set_faults(Faults::default());
            assert_eq!(stored_fact(&dir), inclusive.map(|i| (i, "doctor".into())));
        }
        let to = burst_in(&server, "Firewall", T0 + hour * 3_600_000);
        let from = to - 10 * super::MIN;
        server.clear_requests();
        let got = rows(&sql(&ctx, &select("Firewall", from, to)).await.unwrap());
        assert_eq!(got, truth(&server, "Firewall", from, to));
        let (asked, _) = event_queries(&server);
        let (want, not) = if inclusive == Some(true) {
            (to - 1, to)
        } else {
            (to, to - 1)
        };
        assert!(
            asked.contains(&want) && !asked.contains(&not),
            "hour {hour}, doctor {inclusive:?}: {asked:?}"
        );
    }
}
