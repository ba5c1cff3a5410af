//! Tokens: none, a bad one and a good one; the Basic handshake; SIGHUP
//! reloads the file; a non-loopback address needs TLS and tokens.

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::{count, firewall_count, query, start, start_with_tokens, tokens_file, write_tokens};
use crate::support;

const ALICE: &str = "alice-7c1e0b9d4a";
const BOB: &str = "bob-52f8e3a610";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_and_a_bad_token_are_refused_a_good_one_and_the_handshake_work() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let serve = start_with_tokens(&server, dir.path(), &[("alice", ALICE)], &[], &[])
        .await
        .unwrap_or_else(|e| panic!("{}", e.stderr));
    let (sql, expected) = firewall_count(&server);

    let mut client = serve.client().await;
    let e = query(&mut client, &sql).await.unwrap_err().to_string();
    assert!(e.contains("authorization: Bearer <token>"), "no token: {e}");

    client.set_token("not-a-token".into());
    let e = query(&mut client, &sql).await.unwrap_err().to_string();
    assert!(e.contains("unknown token"), "a bad token: {e}");
    assert!(!e.contains(ALICE), "{e}");

    client.set_token(ALICE.into());
    assert_eq!(count(&query(&mut client, &sql).await.unwrap()), expected);

    // Flight's Basic handshake: the name and the token as password.
    let mut fresh = serve.client().await;
    let e = fresh.handshake("alice", BOB).await.unwrap_err().to_string();
    assert!(e.contains("unknown user or token"), "{e}");
    let mut fresh = serve.client().await;
    fresh.handshake("alice", ALICE).await.unwrap();
    assert!(
        fresh.token().is_some(),
        "the handshake gives a bearer token"
    );
    assert_eq!(count(&query(&mut fresh, &sql).await.unwrap()), expected);

    let ended = serve.stop().await;
    assert!(ended.status.success(), "{}", ended.stderr);
    for text in [&ended.stdout, &ended.stderr] {
        assert!(!text.contains(ALICE) && !text.contains(&super::sha256_hex(ALICE)));
        assert!(!text.contains(server.api_key()), "the key leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_token_file() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let mut serve = start_with_tokens(&server, dir.path(), &[("alice", ALICE)], &[], &[])
        .await
        .unwrap_or_else(|e| panic!("{}", e.stderr));
    let tokens = tokens_file(dir.path());
    let (sql, expected) = firewall_count(&server);
    let (mut alice, mut bob) = (serve.client().await, serve.client().await);
    alice.set_token(ALICE.into());
    bob.set_token(BOB.into());
    assert_eq!(count(&query(&mut alice, &sql).await.unwrap()), expected);
    assert!(query(&mut bob, &sql).await.is_err());

    // Bob in, alice out.
    write_tokens(&tokens, &[("bob", BOB)]);
    serve.signal(Signal::SIGHUP);
    serve.wait_for_log("serve_tokens_reloaded").await;
    assert_eq!(count(&query(&mut bob, &sql).await.unwrap()), expected);
    let e = query(&mut alice, &sql).await.unwrap_err().to_string();
    assert!(e.contains("unknown token"), "{e}");

    // A bad file keeps bob.
    std::fs::write(&tokens, "bob:123\n").unwrap();
    serve.signal(Signal::SIGHUP);
    serve.wait_for_log("serve_tokens_reload_failed").await;
    assert!(serve.log().contains("line 1"), "{}", serve.log());
    assert_eq!(count(&query(&mut bob, &sql).await.unwrap()), expected);

    let ended = serve.stop().await;
    assert!(ended.status.success(), "{}", ended.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_address_needs_tls_and_tokens() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, &[("alice", ALICE)]);

    let ended = start(&server, dir.path(), &[], &["--listen", "0.0.0.0:0"])
        .await
        .err()
        .expect("refused");
    assert_eq!(ended.status.code(), Some(1));
    assert!(
        ended.stderr.contains("without TLS") && ended.stderr.contains("and tokens"),
        "{}",
        ended.stderr
    );
    assert!(!ended.stdout.contains("flight_sql="));

    // Tokens alone: TLS is still missing (and only TLS is named).
    let ended = start(
        &server,
        dir.path(),
        &[("RAPID7_SERVE_TOKENS", tokens.to_str().unwrap())],
        &["--listen", "0.0.0.0:0"],
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(ended.status.code(), Some(1));
    assert!(ended.stderr.contains("without TLS"), "{}", ended.stderr);
    assert!(
        !ended.stderr.contains("tokens (--serve-tokens"),
        "{}",
        ended.stderr
    );

    // A token file others may write is refused, naming the file.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o666)).unwrap();
    let ended = start(
        &server,
        dir.path(),
        &[],
        &["--serve-tokens", tokens.to_str().unwrap()],
    )
    .await
    .err()
    .expect("refused");
    assert!(
        ended.stderr.contains("chmod 600") && ended.stderr.contains(tokens.to_str().unwrap()),
        "{}",
        ended.stderr
    );
}
