//! Whether the endpoint's `to` is inclusive, between the client and the
//! cache's endpoint facts (`_ENDPOINTS.json`): before a source's first read
//! the stored observation is handed to the client, and what a read observes
//! is recorded for later sessions.
//!
//! Once `to` is known inclusive, event queries ask `to − 1` (see
//! `client/edge.rs` for why this stays exact). The facts file holds only
//! observations (`rapid7-sql doctor`'s probe, or a page that returned an
//! event stamped exactly the `to` it asked), and a read records only the
//! one thing a page can show: that `to` is inclusive.

use tokio::sync::OnceCell;
use tracing::{info, warn};

use crate::cache::{EndpointFacts, Fact, SegmentCache};
use crate::client::Client;

/// What recorded an inclusive `to` a read observed (`Fact::by`).
const BY: &str = "event read";

/// The stored fact, read once a source; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct EdgeFacts {
    recalled: OnceCell<()>,
}

impl EdgeFacts {
    /// Before a read: what the cache's endpoint facts say of `to`, handed to
    /// `client` once a source (unless the client knows already). An
    /// unreadable file counts as knowing nothing.
    pub(crate) async fn recall(&self, client: &Client, cache: &SegmentCache) {
        self.recalled
            .get_or_init(|| async {
                let endpoint = client.endpoint().to_string();
                match cache.load_endpoint_facts(&endpoint).await {
                    Ok(facts) => {
                        if let Some(fact) = facts.to_inclusive {
                            client.recall_to_inclusive(fact.value);
                        }
                    }
                    Err(e) => warn!(error = %e, "endpoint_facts_unreadable"),
                }
            })
            .await;
    }

    /// After a page: record an inclusive `to` that `client`'s reads
    /// observed since the last call (nothing otherwise, at the cost of an
    /// atomic swap). A failure to record is logged: the fact is learnt
    /// again.
    pub(crate) async fn record(client: &Client, cache: &SegmentCache) {
        if !client.take_to_inclusive_observed() {
            return;
        }
        let endpoint = client.endpoint().to_string();
        let facts = EndpointFacts {
            to_inclusive: Some(Fact::now(true, BY)),
            ..EndpointFacts::default()
        };
        match cache.save_endpoint_facts(&endpoint, &facts).await {
            Ok(()) => info!(endpoint, "rapid7_to_inclusive_recorded"),
            Err(e) => warn!(error = %e, "endpoint_facts_write_failed"),
        }
    }
}
