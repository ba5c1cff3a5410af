//! The binary warns about what its results lack, terminal or not: events
//! the decoder rejected and ranges beyond the log's retention; `sync`
//! reports both.

use datafusion_rapid7::mock::Faults;
use tempfile::TempDir;

use super::{MIN, run, stderr, stdout, window};
use crate::support::{self, T0, rfc3339};

const LOG: &str = "Auth Service";

fn count(from: i64, to: i64) -> String {
    format!(
        "SELECT count(*) AS n FROM rapid7_logs WHERE log_name = '{LOG}' AND {}",
        window(from, to)
    )
}

/// A server on which every 7th event of `LOG` has no timestamp (the decoder
/// rejects it), with nothing before `retention_start` kept.
struct Rejecting {
    server: datafusion_rapid7::mock::MockServer,
    /// `LOG`'s id.
    auth: String,
    /// Events of `LOG` in its first ten minutes within retention.
    events: usize,
    /// How many of them the decoder rejects.
    rejected: usize,
}

async fn rejecting(retention_start: Option<i64>) -> Rejecting {
    let server = support::server().await;
    server.set_faults(Faults {
        events_without_timestamp: Some(7),
        to_exclusive: true,
        retention_start_ms: retention_start,
        ..Faults::default()
    });
    let auth = support::log_id(&server, LOG);
    let from = retention_start.unwrap_or(T0).max(T0);
    let truth = support::truth(&server, &auth, from, T0 + 10 * MIN);
    let rejected = truth.iter().filter(|r| r.1 % 7 == 0).count();
    assert!(rejected > 1);
    Rejecting {
        events: truth.len(),
        server,
        auth: auth.to_string(),
        rejected,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_with_rejected_events_warns_on_stderr() {
    let Rejecting {
        server,
        events,
        rejected,
        ..
    } = rejecting(None).await;
    let (from, to) = (T0, T0 + 10 * MIN);
    let dir = TempDir::new().unwrap();

    let o = run(
        Some(&server),
        dir.path(),
        &["--format", "csv", "-c", &count(from, to)],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("n\n{}\n", events - rejected));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "warning: {rejected} events rejected by the decoder ("
        )),
        "{err}"
    );
    assert!(
        err.contains("see SELECT * FROM rapid7_cache() WHERE events_rejected > 0"),
        "{err}"
    );

    // The cache says so too, and a warm run rejects nothing anew.
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "--format",
            "csv",
            "-c",
            "SELECT events_rejected, beyond_retention FROM rapid7_cache()",
            "-c",
            &count(from, to),
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!(
            "events_rejected,beyond_retention\n{rejected},false\n"
        )),
        "{}",
        stdout(&o)
    );
    assert!(!stderr(&o).contains("events rejected"), "{}", stderr(&o));

    // --quiet silences the warning.
    let fresh = TempDir::new().unwrap();
    let o = run(
        Some(&server),
        fresh.path(),
        &["--quiet", "-c", &count(from, to)],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("events rejected by the decoder"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_beyond_retention_warns_on_stderr() {
    let server = support::server().await;
    server.set_faults(Faults {
        retention_start_ms: Some(T0 + 5 * MIN),
        ..Faults::default()
    });
    let dir = TempDir::new().unwrap();
    let o = run(
        Some(&server),
        dir.path(),
        &["-c", &count(T0, T0 + 10 * MIN)],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: 1 range reaches beyond the log's retention ("),
        "{err}"
    );
    assert!(err.contains("WHERE beyond_retention"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_rejected_events_and_ranges_beyond_retention() {
    let cut = T0 + 5 * MIN;
    let Rejecting {
        server, rejected, ..
    } = rejecting(Some(cut)).await;
    let (from, to) = (T0, T0 + 10 * MIN);
    let dir = TempDir::new().unwrap();
    let o = run(
        Some(&server),
        dir.path(),
        &[
            "sync",
            "--log",
            LOG,
            "--from",
            &rfc3339(from, 0),
            "--to",
            &rfc3339(to, 0),
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["events_rejected"], rejected, "{report}");
    assert_eq!(
        report["beyond_retention"],
        serde_json::json!([format!("{LOG} [{}, {})", rfc3339(from, 0), rfc3339(to, 0))]),
        "{report}"
    );
    assert_eq!(report["events_failed"], rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_incomplete_fail_refuses_the_statement_and_names_the_way_out() {
    let Rejecting {
        server,
        auth,
        events,
        rejected,
    } = rejecting(None).await;
    let (from, to) = (T0, T0 + 10 * MIN);
    let dir = TempDir::new().unwrap();
    let q = count(from, to);

    // The flag: the statement that fetches the segment fails.
    let o = run(
        Some(&server),
        dir.path(),
        &["--on-incomplete", "fail", "-c", &q],
    )
    .await;
    assert!(!o.status.success(), "{}", stdout(&o));
    let err = stderr(&o);
    let (a, b) = (
        datafusion_rapid7::time::fmt_ms(from),
        datafusion_rapid7::time::fmt_ms(to),
    );
    assert!(
        err.contains(&format!(
            "{LOG} [{a}, {b}) ({rejected} events rejected by the decoder)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "`rapid7-sql cache drop --log {auth} --from {a} --to {b}`"
        )),
        "{err}"
    );
    assert!(err.contains("or pass --on-incomplete warn"), "{err}");

    // The variable: the cached segment is refused too.
    let o = super::run_with(
        Some(&server),
        dir.path(),
        &[("RAPID7_ON_INCOMPLETE", "fail")],
        &["-c", &q],
    )
    .await;
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("RAPID7_ON_INCOMPLETE=fail"),
        "{}",
        stderr(&o)
    );

    // warn (the default) answers with what could be read.
    let o = run(Some(&server), dir.path(), &["--format", "csv", "-c", &q]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("n\n{}\n", events - rejected));
}
