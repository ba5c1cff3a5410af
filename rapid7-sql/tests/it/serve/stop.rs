//! SIGTERM with a statement running: no new statement starts, not even on
//! an open connection; the running one finishes, then the server exits 0.

use std::time::Duration;

use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion_rapid7::mock::{Faults, Stall, StallOn};
use futures::TryStreamExt;
use tempfile::TempDir;
use tonic::transport::Endpoint;

use super::{count, start};
use crate::cli::{MIN, window};
use crate::support::{self, T0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_no_new_statement_starts_and_the_running_one_finishes_then_exit_0() {
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

    // Nor on a new connection (if one is still made: the listening socket
    // closes as the stop begins).
    let url = serve.flight.strip_prefix("grpc://").unwrap().to_string();
    if let Ok(channel) = Endpoint::from_shared(format!("http://{url}"))
        .unwrap()
        .connect()
        .await
    {
        let mut other = FlightSqlServiceClient::new(channel);
        assert!(other.execute("SELECT 1".into(), None).await.is_err());
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
