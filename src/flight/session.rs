//! Sessions: one DataFusion `SessionContext` per (user, session id), all
//! over the one shared [`Rapid7`] and one memory pool.
//!
//! A session is named by its user and the `x-rapid7-session` header of each
//! call (any text a client picks, such as a UUID per connection); a call
//! without the header is in its user's default session. `SET` holds for
//! the session it was run in, and for nobody else: another user never sees
//! it, and neither does another session id of the same user. A session
//! unused for [`SESSION_IDLE`] is forgotten (its settings with it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use tonic::metadata::MetadataMap;

use super::auth::User;
use crate::Rapid7;
use crate::error::Result;
use crate::locks::lock;

/// The header naming a client's session.
pub const SESSION_HEADER: &str = "x-rapid7-session";

/// How long an unused session is kept.
pub(crate) const SESSION_IDLE: Duration = Duration::from_secs(3600);

/// The longest session id kept (longer ones are refused).
const MAX_SESSION_ID: usize = 128;

/// Who is calling, in which session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SessionKey {
    pub(crate) user: User,
    pub(crate) id: String,
}

impl SessionKey {
    /// `user`'s session named by the call's header (the default one when
    /// it has none).
    pub(crate) fn of(user: User, metadata: &MetadataMap) -> std::result::Result<Self, String> {
        let id = match metadata.get(SESSION_HEADER) {
            None => String::new(),
            Some(v) => {
                let v = v
                    .to_str()
                    .map_err(|_| format!("the {SESSION_HEADER} header is not visible ASCII"))?;
                if v.len() > MAX_SESSION_ID {
                    return Err(format!(
                        "the {SESSION_HEADER} header is longer than {MAX_SESSION_ID} bytes"
                    ));
                }
                v.to_string()
            }
        };
        Ok(SessionKey { user, id })
    }
}

struct Entry {
    ctx: SessionContext,
    used: Instant,
}

/// Every live session.
pub(crate) struct Sessions {
    rapid7: Rapid7,
    runtime: Arc<RuntimeEnv>,
    map: Mutex<HashMap<SessionKey, Entry>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("sessions", &lock(&self.map).len())
            .finish()
    }
}

impl Sessions {
    /// Sessions over `rapid7`, in a memory pool of `pool_bytes` (0: none).
    pub(crate) fn new(rapid7: Rapid7, pool_bytes: u64) -> Result<Self> {
        let mut builder = RuntimeEnvBuilder::new();
        if pool_bytes > 0 {
            builder =
                builder.with_memory_limit(usize::try_from(pool_bytes).unwrap_or(usize::MAX), 1.0);
        }
        Ok(Sessions {
            rapid7,
            runtime: builder.build_arc()?,
            map: Mutex::default(),
        })
    }

    /// The shared source.
    pub(crate) fn rapid7(&self) -> &Rapid7 {
        &self.rapid7
    }

    /// The session of `key`, made (and registered) on first use.
    pub(crate) async fn get(&self, key: &SessionKey) -> Result<SessionContext> {
        {
            let mut map = lock(&self.map);
            let now = Instant::now();
            map.retain(|_, e| now.duration_since(e.used) < SESSION_IDLE);
            if let Some(e) = map.get_mut(key) {
                e.used = now;
                return Ok(e.ctx.clone());
            }
        }
        let config = SessionConfig::new().with_information_schema(true);
        let ctx = SessionContext::new_with_config_rt(config, Arc::clone(&self.runtime));
        self.rapid7.register(&ctx).await?;
        let mut map = lock(&self.map);
        // Another call of the same session may have made it meanwhile.
        let entry = map.entry(key.clone()).or_insert(Entry {
            ctx,
            used: Instant::now(),
        });
        Ok(entry.ctx.clone())
    }
}
