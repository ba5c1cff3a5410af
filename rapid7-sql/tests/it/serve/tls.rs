//! TLS from PEM files, with a CA made for the test by the `openssl` CLI.

use std::path::Path;
use std::process::Command;

use arrow_flight::sql::client::FlightSqlServiceClient;
use tempfile::TempDir;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use super::{count, firewall_count, query, start, start_with_tokens};
use crate::support;

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA (`ca.pem`) and a server certificate for localhost and 127.0.0.1
/// it signed (`server.pem`, `server.key`).
fn test_ca(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=rapid7-sql test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_trusting_the_test_ca_connects_and_a_plain_one_does_not() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    test_ca(dir.path());
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    let serve = start_with_tokens(
        &server,
        dir.path(),
        &[("alice", "alice-tls-token-3e9")],
        &[("RAPID7_SERVE_TLS_KEY", key.to_str().unwrap())],
        &["--tls-cert", cert.to_str().unwrap()],
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.stderr));
    let addr = serve
        .flight
        .strip_prefix("grpc+tls://")
        .unwrap_or_else(|| panic!("a TLS address: {}", serve.flight))
        .to_string();
    let port = addr.rsplit_once(':').unwrap().1.to_string();
    let (sql, expected) = firewall_count(&server);

    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("TLS with the test CA");
    let mut client = FlightSqlServiceClient::new(channel);
    client
        .handshake("alice", "alice-tls-token-3e9")
        .await
        .unwrap();
    assert_eq!(count(&query(&mut client, &sql).await.unwrap()), expected);

    // Plain HTTP/2 to the TLS port fails.
    let plain = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut client = FlightSqlServiceClient::new(channel);
        client.set_token("alice-tls-token-3e9".into());
        assert!(query(&mut client, &sql).await.is_err());
    }

    let ended = serve.stop().await;
    assert!(ended.status.success(), "{}", ended.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_certificate_is_a_clear_error_at_start() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, "not a certificate\n").unwrap();
    std::fs::write(&key, "not a key\n").unwrap();
    let ended = start(
        &server,
        dir.path(),
        &[],
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(ended.status.code(), Some(1));
    assert!(ended.stderr.contains("--tls-cert"), "{}", ended.stderr);

    // One without the other.
    let ended = start(
        &server,
        dir.path(),
        &[],
        &["--tls-cert", cert.to_str().unwrap()],
    )
    .await
    .err()
    .expect("refused");
    assert!(ended.stderr.contains("--tls-key"), "{}", ended.stderr);
}
