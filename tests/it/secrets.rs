//! The API key never appears in logs, errors or Debug output.

use datafusion_rapid7::mock::{Faults, MockConfig, MockServer};

use crate::support::*;

#[tokio::test]
async fn key_is_in_no_log_line_error_or_debug_output() {
    let secret = "key-7d1e0c44-9b7a-4f1e-a0e0-c0ffee5ec2e7";
    let server = MockServer::start(MockConfig {
        api_key: secret.into(),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let capture = crate::support::logs::Logs::capture(tracing::Level::TRACE);

    let mut seen = String::new();
    let client = client_for(&server);
    seen += &format!("{client:?} {:?}", client.config());
    server.set_faults(Faults {
        server_error_every_nth: Some(2),
        truncate_every_nth_page: Some(3),
        rate_limit_every_nth_query: Some(4),
        ..Faults::default()
    });
    let fw = log_id(&server, "Firewall");
    let rows = fetch(&client, &fw, T0, T0 + 20_000).await.unwrap();
    assert!(!rows.is_empty());
    // error paths: unknown log, unknown name, bad range
    for e in [
        fetch(&client, "nope", T0, T0 + 1).await.unwrap_err(),
        client.resolve_log("No Such Log").await.unwrap_err().into(),
        client.query_events(&fw, 5, 1).unwrap_err().into(),
    ] {
        seen += &format!("{e} {e:?}");
    }
    // a wrong key: the server's 401 path
    let other = builder_for(&server).with_api_key("wrong").build().unwrap();
    let e = other.list_logs().await.unwrap_err();
    seen += &format!("{e} {e:?}");

    let logs = capture.text();
    assert!(
        logs.contains("logsearch_retry"),
        "the capture must have seen the client's retries: {logs}"
    );
    assert!(!logs.contains(secret), "key in log output");
    assert!(!seen.contains(secret), "key in errors or Debug: {seen}");
}
