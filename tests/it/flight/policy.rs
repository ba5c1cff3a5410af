//! SQL that would read or write the server's files is refused, and `SET`
//! holds for its session only, within the server's ceiling.

use datafusion_rapid7::flight::ServeLimits;
use tempfile::TempDir;

use super::{code, lines, run, serve};
use crate::support;

#[tokio::test]
async fn copy_and_external_tables_are_refused_and_nothing_is_written() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    let mut client = served.client(None).await;
    let out = TempDir::new().unwrap();
    let target = out.path().join("x.csv");
    let secret = out.path().join("secret.csv");
    std::fs::write(&secret, "a\n1\n").unwrap();
    for sql in [
        format!("COPY (SELECT 1 AS a) TO '{}'", target.display()),
        format!(
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{}'",
            secret.display()
        ),
        "CREATE TABLE t2 AS SELECT 1".to_string(),
        "INSERT INTO rapid7_logs SELECT * FROM rapid7_logs".to_string(),
        "SET datafusion.execution.target_partitions = 1".to_string(),
    ] {
        let e = run(&mut client, &sql).await.unwrap_err();
        let (code, message) = code(&e);
        assert_eq!(code, tonic::Code::PermissionDenied, "{sql}: {message}");
        assert!(
            message.contains("only SELECT, EXPLAIN, SHOW, DESCRIBE"),
            "{message}"
        );
    }
    assert!(!target.exists(), "COPY wrote nothing");
    // The external table was never made.
    let e = run(&mut client, "SELECT * FROM t").await.unwrap_err();
    assert_eq!(code(&e).0, tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn set_holds_for_its_session_only_and_not_above_the_ceiling() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| {
        c.with_max_fetch_events(1000)
    })
    .await;
    let mut a = served.client(Some("session-a")).await;
    let mut b = served.client(Some("session-b")).await;
    run(&mut a, "SET rapid7.pushdown_filters = false")
        .await
        .unwrap();
    let show = "SHOW rapid7.pushdown_filters";
    let in_a = lines(&run(&mut a, show).await.unwrap()).join("\n");
    let in_b = lines(&run(&mut b, show).await.unwrap()).join("\n");
    assert!(in_a.contains("false"), "{in_a}");
    assert!(in_b.contains("true"), "{in_b}");
    // A new connection in session a sees it: the session is the header's.
    let mut a2 = served.client(Some("session-a")).await;
    assert!(
        lines(&run(&mut a2, show).await.unwrap())
            .join("\n")
            .contains("false")
    );

    // Lower: fine. Raise or lift: refused, naming the ceiling.
    run(&mut a, "SET rapid7.max_fetch_events = 10")
        .await
        .unwrap();
    for raise in [
        "SET rapid7.max_fetch_events = 5000",
        "SET rapid7.max_fetch_events = 0",
    ] {
        let e = run(&mut a, raise).await.unwrap_err();
        let (c, message) = code(&e);
        assert_eq!(c, tonic::Code::PermissionDenied, "{message}");
        assert!(message.contains("1000"), "{message}");
    }
    let limit = lines(&run(&mut a, "SHOW rapid7.max_fetch_events").await.unwrap()).join("\n");
    assert!(limit.contains("10"), "{limit}");
}
