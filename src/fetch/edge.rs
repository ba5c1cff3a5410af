//! Whether the endpoint's `to` is inclusive, between the client and the
//! cache's endpoint facts (`_ENDPOINTS.json`): before a source's first read
//! the stored observations are handed to the client, and what a read
//! observes is recorded for later sessions.
//!
//! Only the doctor's probe (`to_inclusive: true`) makes event queries ask
//! `to − 1`, for `GET` oldest first (see `client/edge.rs` for why this stays
//! exact). The facts file holds only observations: `rapid7-sql doctor`'s
//! probe (`to_inclusive`), and the forms in which a page of a read's own
//! request returned an event stamped exactly the `to` it asked
//! (`to_inclusive_reads`: hints that `to` is at least partly inclusive there,
//! never acted on). The doctor's `false` outweighs what reads record, in the
//! file and in the client.
//!
//! The file is consulted before every read (the cache reads it again only
//! when it changed: `cache/endpoint_facts.rs`), so a doctor run by another
//! process takes effect in a running session at its next read.

use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::cache::{EndpointFacts, Fact, SegmentCache};
use crate::client::{Client, ToForm};

/// What recorded an inclusive `to` a read observed (`Fact::by`).
const BY: &str = "event read";

/// The doctor's fact last handed to the client; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct EdgeFacts {
    /// `None` before the first recall; then the stored doctor's fact as it
    /// was handed to the client.
    recalled: Mutex<Option<Option<Fact<bool>>>>,
}

impl EdgeFacts {
    /// Before a read: what the cache's endpoint facts say of `to`, handed to
    /// `client` the first time (`Client::recall_to_inclusive`), and again
    /// whenever the doctor's fact there changed since (another process's
    /// doctor: `Client::learn_to_inclusive`, its word replacing what the
    /// client knew). An unreadable file counts as knowing nothing new.
    pub(crate) async fn recall(&self, client: &Client, cache: &SegmentCache) {
        let mut recalled = self.recalled.lock().await;
        let endpoint = client.endpoint().to_string();
        let facts = match cache.load_endpoint_facts(&endpoint).await {
            Ok(facts) => facts,
            Err(e) => {
                if recalled.is_none() {
                    warn!(error = %e, "endpoint_facts_unreadable");
                    *recalled = Some(None);
                }
                return;
            }
        };
        match &*recalled {
            None => recall_facts(client, &facts),
            Some(before) if *before == facts.to_inclusive => return,
            Some(_) => {
                let Some(doctor) = &facts.to_inclusive else {
                    // The file was deleted: what the client knows stays.
                    *recalled = Some(None);
                    return;
                };
                info!(
                    endpoint,
                    inclusive = doctor.value,
                    by = doctor.by,
                    learnt = %crate::time::fmt_ms(doctor.learnt_ms),
                    "rapid7_to_inclusive_reloaded"
                );
                client.learn_to_inclusive(doctor.value);
            }
        }
        *recalled = Some(facts.to_inclusive);
    }

    /// After a page: record the request forms in which `client`'s reads
    /// observed an inclusive `to` since the last call (nothing otherwise, at
    /// the cost of a few atomic swaps). Where the file holds the doctor's
    /// `false` (another session's doctor, since this one recalled), nothing
    /// is added to it and the client is told the doctor's answer. A failure
    /// to record is logged: the fact is learnt again.
    pub(crate) async fn record(client: &Client, cache: &SegmentCache) {
        let forms = client.take_to_inclusive_observed();
        if forms.is_empty() {
            return;
        }
        let endpoint = client.endpoint().to_string();
        let facts = EndpointFacts {
            to_inclusive_reads: forms
                .iter()
                .map(|f| (f.name().to_string(), Fact::now(true, BY)))
                .collect(),
            ..EndpointFacts::default()
        };
        if let Err(e) = cache.save_endpoint_facts(&endpoint, &facts).await {
            warn!(error = %e, "endpoint_facts_write_failed");
            return;
        }
        match cache.load_endpoint_facts(&endpoint).await {
            Ok(stored) if stored.to_inclusive.as_ref().is_some_and(|f| !f.value) => {
                info!(
                    endpoint,
                    detail = "the doctor saw `to` not inclusive: it is asked as it is",
                    "rapid7_to_inclusive_overruled"
                );
                client.learn_to_inclusive(false);
            }
            Ok(_) => {
                let forms: Vec<&str> = forms.iter().map(|f| f.name()).collect();
                info!(endpoint, forms = ?forms, "rapid7_to_inclusive_recorded");
            }
            Err(e) => warn!(error = %e, "endpoint_facts_unreadable"),
        }
    }
}

/// Hand the stored observations of `to` to `client`.
fn recall_facts(client: &Client, facts: &EndpointFacts) {
    let seen: Vec<ToForm> = facts
        .to_inclusive_reads
        .iter()
        .filter(|(_, fact)| fact.value)
        .filter_map(|(name, _)| ToForm::named(name))
        .collect();
    client.recall_to_inclusive(facts.to_inclusive.as_ref().map(|f| f.value), &seen);
}
