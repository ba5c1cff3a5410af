//! The token file and the two ways of showing a token.

use std::io::Write;

use tonic::Code;
use tonic::metadata::{MetadataMap, MetadataValue};

use super::*;

const ALICE: &str = "alice-token-7f3a";
const BOB: &str = "bob-token-91c2";

fn hex(token: &str) -> String {
    sha256(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    f
}

fn header(value: &str) -> MetadataMap {
    let mut m = MetadataMap::new();
    m.insert("authorization", MetadataValue::try_from(value).unwrap());
    m
}

fn basic(name: &str, token: &str) -> MetadataMap {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{name}:{token}").into_bytes();
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    header(&format!("Basic {out}"))
}

fn two_users() -> (tempfile::NamedTempFile, Auth) {
    let f = file(&format!(
        "# the team\n\nalice:{}\n  bob : {}  \n",
        hex(ALICE),
        hex(BOB).to_uppercase()
    ));
    let auth = Auth::from_file(f.path()).unwrap();
    (f, auth)
}

#[test]
fn a_bearer_token_names_its_user() {
    let (_f, auth) = two_users();
    let user = auth
        .authenticate(&header(&format!("Bearer {ALICE}")))
        .unwrap();
    assert_eq!(user.name(), "alice");
    let user = auth
        .authenticate(&header(&format!("bearer {BOB}")))
        .unwrap();
    assert_eq!(user.name(), "bob");
    assert!(auth.requires_tokens());
}

#[test]
fn a_missing_or_wrong_token_is_refused_with_how_to_send_one() {
    let (_f, auth) = two_users();
    for metadata in [
        MetadataMap::new(),
        header("Bearer nope"),
        header(&format!("Bearer {ALICE}x")),
        header(&format!("Token {ALICE}")),
    ] {
        let e = auth.authenticate(&metadata).unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        assert!(
            e.message().contains("authorization: Bearer <token>"),
            "{}",
            e.message()
        );
        assert!(!e.message().contains(ALICE));
    }
}

#[test]
fn the_basic_handshake_checks_name_and_token_and_gives_the_token_back() {
    let (_f, auth) = two_users();
    let (user, bearer) = auth.handshake(&basic("alice", ALICE), &[]).unwrap();
    assert_eq!(user.name(), "alice");
    // The bearer token then works on each call.
    let again = auth
        .authenticate(&header(&format!("Bearer {bearer}")))
        .unwrap();
    assert_eq!(again, user);
    // Another user's name with alice's token, a wrong token, nothing.
    for metadata in [basic("bob", ALICE), basic("alice", BOB), MetadataMap::new()] {
        let e = auth.handshake(&metadata, &[]).unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    }
    // A token containing `:` (the name ends at the first one).
    let f = file(&format!("carol:{}\n", hex("a:b:c")));
    let auth = Auth::from_file(f.path()).unwrap();
    assert_eq!(
        auth.handshake(&basic("carol", "a:b:c"), &[])
            .unwrap()
            .0
            .name(),
        "carol"
    );
}

#[test]
fn an_open_server_calls_everyone_anonymous() {
    let auth = Auth::open();
    assert_eq!(
        auth.authenticate(&MetadataMap::new()).unwrap().name(),
        "anonymous"
    );
    assert_eq!(
        auth.handshake(&MetadataMap::new(), &[]).unwrap().0.name(),
        "anonymous"
    );
    assert!(!auth.requires_tokens());
    auth.reload().unwrap();
}

#[test]
fn bad_lines_are_named_with_file_and_line() {
    let good = hex(ALICE);
    let cases = [
        (format!("alice {good}\n"), "line 1: expected `name:"),
        (
            format!("# c\n:{good}\n"),
            "line 2: the user name before `:` is empty",
        ),
        (
            "alice:abc\n".to_string(),
            "line 1: user alice: expected the SHA-256",
        ),
        (format!("alice:{}\n", "g".repeat(64)), "not all hex digits"),
        (
            format!("alice:{good}\nalice:{}\n", hex(BOB)),
            "line 2: user alice is already on line 1",
        ),
        (
            format!("alice:{good}\nbob:{good}\n"),
            "line 2: user bob has the same token as alice on line 1",
        ),
        (format!("al ice:{good}\n"), "the user name has ' '"),
    ];
    for (text, expected) in cases {
        let f = file(&text);
        let e = Auth::from_file(f.path()).unwrap_err().to_string();
        assert!(e.contains(expected), "{text}: {e}");
        assert!(e.contains(&f.path().display().to_string()), "{e}");
        assert!(e.contains("RAPID7_SERVE_TOKENS"), "{e}");
    }
    let e = Auth::from_file("/nonexistent/tokens")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/tokens") && e.contains("cannot read"),
        "{e}"
    );
}

#[cfg(unix)]
#[test]
fn a_file_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let f = file(&format!("alice:{}\n", hex(ALICE)));
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o622)).unwrap();
    let e = Auth::from_file(f.path()).unwrap_err().to_string();
    assert!(e.contains("chmod 600"), "{e}");
    // Readable by others: accepted (with a warning).
    std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    Auth::from_file(f.path()).unwrap();
}

#[test]
fn reload_adds_and_removes_users_and_keeps_them_on_a_bad_file() {
    let f = file(&format!("alice:{}\n", hex(ALICE)));
    let auth = Auth::from_file(f.path()).unwrap();
    let clone = auth.clone();
    let bob = header(&format!("Bearer {BOB}"));
    let alice = header(&format!("Bearer {ALICE}"));
    assert!(auth.authenticate(&bob).is_err());

    std::fs::write(f.path(), format!("bob:{}\n", hex(BOB))).unwrap();
    auth.reload().unwrap();
    assert_eq!(clone.authenticate(&bob).unwrap().name(), "bob");
    assert!(clone.authenticate(&alice).is_err());

    std::fs::write(f.path(), "bob:nothex\n").unwrap();
    assert!(auth.reload().unwrap_err().to_string().contains("line 1"));
    assert_eq!(clone.authenticate(&bob).unwrap().name(), "bob");
}

#[test]
fn debug_shows_neither_tokens_nor_hashes() {
    let (f, auth) = two_users();
    let shown = format!("{auth:?}");
    assert!(shown.contains(&f.path().display().to_string()), "{shown}");
    assert!(shown.contains("users: 2"), "{shown}");
    for secret in [ALICE, BOB, &hex(ALICE), &hex(ALICE)[..16]] {
        assert!(
            !shown.to_lowercase().contains(&secret.to_lowercase()),
            "{shown}"
        );
    }
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(base64_decode("YWxpY2U6eA==").unwrap(), b"alice:x");
    assert_eq!(base64_decode("YWxpY2U6eA").unwrap(), b"alice:x");
    assert_eq!(base64_decode("YQ==").unwrap(), b"a");
    assert!(base64_decode("YW*").is_none());
}
