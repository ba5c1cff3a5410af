//! Who is calling: bearer tokens on each call, or Flight's Basic handshake.

use std::fmt;
use std::sync::Arc;

use tonic::Status;
use tonic::metadata::MetadataMap;

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

/// How callers prove who they are. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

enum Inner {
    /// No tokens: everyone is `anonymous` (the binary allows this on loopback only).
    Open,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.inner {
            Inner::Open => f.write_str("Auth::Open"),
        }
    }
}

impl Auth {
    /// No tokens asked: every caller is `anonymous`.
    pub fn open() -> Self {
        Self {
            inner: Arc::new(Inner::Open),
        }
    }

    /// The caller of one call, from its `authorization: Bearer <token>` header.
    pub fn authenticate(&self, _metadata: &MetadataMap) -> Result<User, Status> {
        match *self.inner {
            Inner::Open => Ok(User::new("anonymous")),
        }
    }

    /// Flight's handshake: the `authorization: Basic base64(name:token)`
    /// header (or the handshake payload) checked, and the bearer token the
    /// client then sends on each call.
    pub fn handshake(
        &self,
        _metadata: &MetadataMap,
        _payload: &[u8],
    ) -> Result<(User, String), Status> {
        match *self.inner {
            Inner::Open => Ok((User::new("anonymous"), String::new())),
        }
    }
}
