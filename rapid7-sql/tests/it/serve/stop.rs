//! SIGTERM with a statement running: it finishes, then the server exits 0;
//! meanwhile no new statement starts, not even on an open connection.

use std::time::Duration;

use arrow_flight::error::FlightError;
use futures::TryStreamExt;

use datafusion_rapid7::mock::{Faults, RequestKind, Stall, StallOn};
use tempfile::TempDir;

use super::{PATIENCE, count, firewall_count, query, start};
use crate::cli::{MIN, window};
use crate::support::{self, T0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_statement_finish_then_exits_0() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let serve = start(&server, dir.path(), &[], &["--grace", "60s"])
        .await
        .unwrap_or_else(|e| panic!("{}", e.stderr));
    let (sql, expected) = firewall_count(&server);
    let mut client = serve.client().await;
    // Each request of the statement's fetch answers late: the statement is
    // still running when the signal comes.
    server.set_faults(Faults {
        stall: Some(Stall {
            on: StallOn::EventQueries,
            delay: Duration::from_millis(500),
        }),
        ..Faults::default()
    });
    let before = server.requests().len();
    let statement = query(&mut client, &sql);
    let signal = async {
        // Signal once the fetch has reached the simulator.
        tokio::time::timeout(PATIENCE, async {
            while !server.requests()[before.min(server.requests().len())..]
                .iter()
                .any(|r| r.kind == RequestKind::Query)
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the statement fetches");
        serve.signal(nix::sys::signal::Signal::SIGTERM);
    };
    let (rows, ()) = tokio::join!(statement, signal);
    assert_eq!(count(&rows.expect("the statement finishes")), expected);
    let ended = serve.wait().await;
    assert_eq!(ended.status.code(), Some(0), "{}", ended.stderr);
    assert!(ended.stderr.contains("serve_stopping"), "{}", ended.stderr);

    // No new connection is accepted afterwards.
    let again =
        tonic::transport::Endpoint::from_shared(format!("http://{}", ended_address(&ended.stdout)))
            .unwrap()
            .connect()
            .await;
    assert!(again.is_err());
}

fn ended_address(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("flight_sql=grpc://"))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_an_open_connection_starts_no_new_statement() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let mut serve = start(&server, dir.path(), &[], &["--grace", "60s"])
        .await
        .unwrap_or_else(|e| panic!("{}", e.stderr));
    // One minute of Firewall, each event page answering a second late: the
    // statement runs on after the signal.
    let id = support::log_id(&server, "Firewall");
    let expected = i64::try_from(server.dataset().count(&id, T0, T0 + MIN)).unwrap();
    let sql = format!(
        "SELECT count(*) FROM rapid7.\"Firewall\" WHERE {}",
        window(T0, T0 + MIN)
    );
    let mut client = serve.client().await;
    server.set_faults(Faults {
        stall: Some(Stall {
            on: StallOn::EventQueries,
            delay: Duration::from_secs(1),
        }),
        ..Faults::default()
    });
    let info = client.execute(sql, None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let running = client.do_get(ticket).await.unwrap();
    serve.signal(nix::sys::signal::Signal::SIGTERM);
    serve.wait_for_log("serve_stopping").await;

    // The same connection: a new statement, a prepared one, refused.
    let refused = client.execute("SELECT 1".into(), None).await.unwrap_err();
    let prepared = client.prepare("SELECT 1".into(), None).await.unwrap_err();
    for e in [refused, prepared] {
        let FlightError::Tonic(status) = &e else {
            panic!("not a status: {e}")
        };
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(
            status.message().contains("the server is stopping"),
            "{status:?}"
        );
    }

    // The running one finishes, and the server exits 0.
    let rows: Vec<_> = running.try_collect().await.expect("it finishes");
    assert_eq!(count(&rows), expected);
    let ended = serve.wait().await;
    assert_eq!(ended.status.code(), Some(0), "{}", ended.stderr);
    // It ended after the signal: its line comes after serve_stopping.
    let stopping = ended.stderr.find("serve_stopping").unwrap();
    let finished = ended
        .stderr
        .lines()
        .filter(|l| l.contains("flight_statement") && l.contains("\"ok\""))
        .map(|l| ended.stderr.find(l).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(finished.len(), 1, "{}", ended.stderr);
    assert!(finished[0] > stopping, "{}", ended.stderr);
}
