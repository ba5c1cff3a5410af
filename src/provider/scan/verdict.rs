//! Whether this source's endpoint honours `most_recent_first`: unknown until
//! a newest-first read (or `rapid7-sql doctor`) sees pages in another
//! order, then remembered in memory and in the cache's endpoint facts
//! (`_ENDPOINTS.json`), so later sessions over the same cache read oldest
//! first straight away.

use std::sync::Mutex;

use tracing::warn;

use crate::cache::{EndpointFacts, Fact, SegmentCache};
use crate::locks::lock;

/// The newest-first verdict of one endpoint; see the module docs.
#[derive(Debug)]
pub(crate) struct NewestVerdict {
    /// The endpoint's base URL (`None`: offline, nothing to learn).
    endpoint: Option<String>,
    /// `Some(false)` once pages were seen out of order.
    known: Mutex<Option<bool>>,
    /// Whether the cache's facts were read (once a session).
    loaded: std::sync::atomic::AtomicBool,
}

impl NewestVerdict {
    pub(crate) fn new(endpoint: Option<String>) -> Self {
        NewestVerdict {
            endpoint,
            known: Mutex::new(None),
            loaded: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether newest-first reads may be tried: not when this session or
    /// the cache knows the endpoint does not honour the flag. An unreadable
    /// facts file counts as knowing nothing.
    pub(crate) async fn may_try(&self, cache: &SegmentCache) -> bool {
        use std::sync::atomic::Ordering;
        if let Some(known) = *lock(&self.known) {
            return known;
        }
        let Some(endpoint) = &self.endpoint else {
            return true;
        };
        if self.loaded.swap(true, Ordering::Relaxed) {
            return true;
        }
        let stored = match cache.load_endpoint_facts(endpoint).await {
            Ok(facts) => facts.newest_first.map(|f| f.value),
            Err(e) => {
                warn!(error = %e, "endpoint_facts_unreadable");
                None
            }
        };
        let mut known = lock(&self.known);
        if known.is_none() {
            *known = stored;
        }
        known.unwrap_or(true)
    }

    /// What `rapid7-sql doctor` saw, for the rest of this session (it
    /// records the fact in the cache itself).
    pub(crate) fn learnt(&self, honoured: bool) {
        *lock(&self.known) = Some(honoured);
    }

    /// Pages asked newest first came in another order: never again for
    /// this endpoint (this session, and sessions over the same cache).
    pub(crate) async fn not_honoured(&self, cache: &SegmentCache, detail: &str) {
        *lock(&self.known) = Some(false);
        warn!(
            endpoint = self.endpoint.as_deref().unwrap_or_default(),
            detail, "newest_first_not_honoured"
        );
        let Some(endpoint) = &self.endpoint else {
            return;
        };
        let facts = EndpointFacts {
            newest_first: Some(Fact::now(false, "newest-first read")),
            ..EndpointFacts::default()
        };
        if let Err(e) = cache.save_endpoint_facts(endpoint, &facts).await {
            warn!(error = %e, "endpoint_facts_write_failed");
        }
    }
}
