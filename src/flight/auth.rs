//! Who is calling: bearer tokens on each call, or Flight's Basic handshake.
//!
//! The token file (`RAPID7_SERVE_TOKENS`) holds one `name:<SHA-256 hex of
//! the token>` a line; `#` starts a comment, blank lines are skipped. The
//! server never sees a token at rest, only its hash: a client's token is
//! hashed and compared with every line's hash in constant time. The
//! handshake's bearer token is the client's own token (no server state, so a
//! token removed from the file stops working on the next call, handshake or
//! not). Tokens and their hashes are never logged nor shown by `Debug`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::Error;

/// The environment variable naming the token file (`--serve-tokens`).
const ENV_SERVE_TOKENS: &str = "RAPID7_SERVE_TOKENS";

/// How a client proves itself, as unauthenticated errors say.
const HOW: &str = "send the header `authorization: Bearer <token>` on each call, \
     or use Flight's Basic handshake with your user name and token as the password \
     (ask the server's operator for a token)";

/// The name a caller is known by (from the token file), or `anonymous` on a
/// server that takes no tokens.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct User(Arc<str>);

impl User {
    /// A user named `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self(name.into())
    }

    /// The user's name, as metrics and logs show it.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("User").field(&self.0).finish()
    }
}

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How callers prove who they are. Cheap to clone: clones share one state
/// (a [`reload`](Auth::reload) is seen by every clone).
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

enum Inner {
    /// No tokens: everyone is `anonymous` (the binary allows this on loopback only).
    Open,
    /// The users of a token file.
    File {
        path: PathBuf,
        users: RwLock<Arc<Vec<Entry>>>,
    },
}

/// One line of the token file.
struct Entry {
    user: User,
    hash: [u8; 32],
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::Open => f.write_str("Auth::Open"),
            Inner::File { path, users } => f
                .debug_struct("Auth::File")
                .field("path", path)
                .field("users", &read(users).len())
                .finish_non_exhaustive(),
        }
    }
}

fn read(users: &RwLock<Arc<Vec<Entry>>>) -> Arc<Vec<Entry>> {
    Arc::clone(&users.read().unwrap_or_else(|e| e.into_inner()))
}

impl Auth {
    /// No tokens asked: every caller is `anonymous`.
    pub fn open() -> Self {
        Self {
            inner: Arc::new(Inner::Open),
        }
    }

    /// The users of the token file at `path` (see the module docs). Errors
    /// name the file and the line. A file that others may write is refused
    /// (anyone could add a user); one that others may read is accepted with
    /// a warning (the hashes of short tokens can be guessed).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let users = load(&path)?;
        tracing::info!(
            path = %path.display(),
            users = users.len(),
            "serve_tokens_loaded"
        );
        Ok(Self {
            inner: Arc::new(Inner::File {
                path,
                users: RwLock::new(Arc::new(users)),
            }),
        })
    }

    /// Whether callers must show a token (a token file was given).
    pub fn requires_tokens(&self) -> bool {
        matches!(*self.inner, Inner::File { .. })
    }

    /// The names of the users the file holds now (none for an open server).
    pub fn users(&self) -> Vec<User> {
        match &*self.inner {
            Inner::Open => Vec::new(),
            Inner::File { users, .. } => read(users).iter().map(|e| e.user.clone()).collect(),
        }
    }

    /// Read the token file again (SIGHUP). On error the users loaded before
    /// stay, the error is logged (`serve_tokens_reload_failed`) and returned.
    /// A server without a token file has nothing to reload.
    pub fn reload(&self) -> Result<(), Error> {
        let Inner::File { path, users } = &*self.inner else {
            return Ok(());
        };
        match load(path) {
            Ok(new) => {
                let count = new.len();
                *users.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
                tracing::info!(path = %path.display(), users = count, "serve_tokens_reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    path = %path.display(),
                    error = %e,
                    detail = "the users loaded before stay",
                    "serve_tokens_reload_failed"
                );
                Err(e)
            }
        }
    }

    /// The caller of one call, from its `authorization: Bearer <token>` header.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<User, Status> {
        let Inner::File { users, .. } = &*self.inner else {
            return Ok(User::new("anonymous"));
        };
        let Some(header) = authorization(metadata)? else {
            return Err(refused("no token"));
        };
        let Some(token) = strip_scheme(header, "Bearer") else {
            return Err(refused(
                "the authorization header is not `Bearer <token>` (a Basic header goes to the handshake only)",
            ));
        };
        let hash = sha256(token.trim().as_bytes());
        let users = read(users);
        let mut found: Option<&User> = None;
        // Every line is compared, whatever matched before.
        for entry in users.iter() {
            let same: Choice = entry.hash[..].ct_eq(&hash[..]);
            if bool::from(same) {
                found = Some(&entry.user);
            }
        }
        found.cloned().ok_or_else(|| refused("unknown token"))
    }

    /// Flight's handshake: the `authorization: Basic base64(name:token)`
    /// header checked, and the bearer token the client then sends on each
    /// call (its own token: the server keeps no session). A bearer header
    /// is accepted too (then the handshake only checks it). On an open
    /// server, `anonymous` and an empty token.
    pub fn handshake(
        &self,
        metadata: &MetadataMap,
        _payload: &[u8],
    ) -> Result<(User, String), Status> {
        let Inner::File { users, .. } = &*self.inner else {
            return Ok((User::new("anonymous"), String::new()));
        };
        let Some(header) = authorization(metadata)? else {
            return Err(refused("no credentials in the handshake"));
        };
        if let Some(token) = strip_scheme(header, "Bearer") {
            let user = self.authenticate(metadata)?;
            return Ok((user, token.trim().to_string()));
        }
        let Some(encoded) = strip_scheme(header, "Basic") else {
            return Err(refused(
                "the authorization header is neither `Basic` nor `Bearer`",
            ));
        };
        let decoded = base64_decode(encoded.trim())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| refused("the Basic credentials are not base64 of `name:token`"))?;
        let Some((name, token)) = decoded.split_once(':') else {
            return Err(refused("the Basic credentials are not `name:token`"));
        };
        let hash = sha256(token.as_bytes());
        let users = read(users);
        let mut found: Option<&User> = None;
        for entry in users.iter() {
            let same =
                entry.hash.ct_eq(&hash) & entry.user.name().as_bytes().ct_eq(name.as_bytes());
            if bool::from(same) {
                found = Some(&entry.user);
            }
        }
        match found {
            Some(user) => Ok((user.clone(), token.to_string())),
            None => Err(refused("unknown user or token")),
        }
    }
}

/// The `authorization` header as text, if any.
fn authorization(metadata: &MetadataMap) -> Result<Option<&str>, Status> {
    match metadata.get("authorization") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| refused("the authorization header is not ASCII")),
    }
}

/// `value` without its `scheme ` prefix (the scheme case-insensitive).
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = value.split_at_checked(scheme.len())?;
    (head.eq_ignore_ascii_case(scheme) && rest.starts_with(' ')).then(|| &rest[1..])
}

fn refused(why: &str) -> Status {
    Status::unauthenticated(format!("{why}: {HOW}"))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

/// Standard base64 with optional padding (Basic credentials).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn config_error(path: &Path, message: String) -> Error {
    Error::Config {
        key: ENV_SERVE_TOKENS.into(),
        message: format!("{}: {message}", path.display()),
    }
}

/// The users of the token file at `path`.
fn load(path: &Path) -> Result<Vec<Entry>, Error> {
    check_mode(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        config_error(
            path,
            format!("cannot read the token file ({e}); give a readable file of `name:<SHA-256 hex of the token>` lines"),
        )
    })?;
    let users = parse(&text).map_err(|m| config_error(path, m))?;
    if users.is_empty() {
        tracing::warn!(
            path = %path.display(),
            detail = "no users: every call is refused",
            "serve_tokens_empty"
        );
    }
    Ok(users)
}

#[cfg(unix)]
fn check_mode(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode(),
        // `read_to_string` says what is wrong.
        Err(_) => return Ok(()),
    };
    if mode & 0o022 != 0 {
        return Err(config_error(
            path,
            format!(
                "others may write the token file (mode {:o}), so anyone could add a user; \
                 run `chmod 600 {}`",
                mode & 0o777,
                path.display()
            ),
        ));
    }
    if mode & 0o044 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{:o}", mode & 0o777),
            detail = "others may read the token hashes (short tokens can be guessed from them); chmod 600",
            "serve_tokens_readable_by_others"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// The lines of a token file, or what is wrong with the first bad one.
fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut users: Vec<(usize, Entry)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, hex)) = line.split_once(':') else {
            return Err(format!(
                "line {n}: expected `name:<SHA-256 hex of the token>` (no `:` found)"
            ));
        };
        let (name, hex) = (name.trim(), hex.trim());
        if name.is_empty() {
            return Err(format!("line {n}: the user name before `:` is empty"));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
        {
            return Err(format!(
                "line {n}: the user name has {c:?}; use letters, digits, `.`, `_`, `-` and `@`"
            ));
        }
        let hash = parse_hex(hex).ok_or_else(|| {
            format!(
                "line {n}: user {name}: expected the SHA-256 of the token as 64 hex digits, \
                 found {} characters{}; make it with `printf %s TOKEN | sha256sum`",
                hex.chars().count(),
                if hex.len() == 64 {
                    " that are not all hex digits"
                } else {
                    ""
                }
            )
        })?;
        if let Some((m, _)) = users.iter().find(|(_, e)| e.user.name() == name) {
            return Err(format!(
                "line {n}: user {name} is already on line {m}; give each user one line"
            ));
        }
        if let Some((m, e)) = users.iter().find(|(_, e)| e.hash == hash) {
            return Err(format!(
                "line {n}: user {name} has the same token as {} on line {m}; give each user their own token",
                e.user
            ));
        }
        users.push((
            n,
            Entry {
                user: User::new(name),
                hash,
            },
        ));
    }
    Ok(users.into_iter().map(|(_, e)| e).collect())
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
