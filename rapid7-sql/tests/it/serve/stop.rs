//! SIGTERM with a statement running: it finishes, then the server exits 0.

use std::time::Duration;

use datafusion_rapid7::mock::{Faults, RequestKind, Stall, StallOn};
use tempfile::TempDir;

use super::{PATIENCE, count, firewall_count, query, start};
use crate::support;

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
