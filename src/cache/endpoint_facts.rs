//! `_ENDPOINTS.json` at the cache root: what was learnt about each Rapid7
//! endpoint's undocumented behaviour (whether `most_recent_first` is
//! honoured, whether `to` is inclusive, …), so that later sessions over the
//! same cache need not learn it again.
//!
//! One small JSON object keyed by the endpoint's base URL (never holding a
//! key: endpoints with credentials are refused by the client). Each fact
//! says what was seen, when, and by what (`newest-first read`, `doctor`).
//! The file is replaced whole by one put (atomic on every object store);
//! two sessions learning at once may lose one of their facts, which is then
//! learnt again. Deleting the file forgets everything; nothing else depends
//! on it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::root_file;
use super::store::CacheRoot;

/// File name of the endpoint facts under the cache root.
pub const ENDPOINT_FACTS_FILE: &str = "_ENDPOINTS.json";

/// One learnt fact: its value, when (epoch ms) and by what it was learnt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact<T> {
    /// What was seen.
    pub value: T,
    /// When, epoch milliseconds.
    pub learnt_ms: i64,
    /// What learnt it (`newest-first read`, `doctor`).
    pub by: String,
}

impl<T> Fact<T> {
    /// A fact learnt now by `by`.
    pub fn now(value: T, by: &str) -> Self {
        Fact {
            value,
            learnt_ms: crate::time::now_ms(),
            by: by.to_string(),
        }
    }
}

/// What is known of one endpoint; `None`: not learnt yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointFacts {
    /// Whether pages asked with `most_recent_first=true` came newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_first: Option<Fact<bool>>,
    /// Whether a query's `to` returns events stamped exactly `to`, as
    /// `rapid7-sql doctor`'s probe (a `GET`, oldest first) saw it: `true`,
    /// all of them came back; `false`, none did, or only some (an endpoint
    /// that reads `to` neither way). `false` makes event queries of every
    /// form ask `to`, and outweighs [`EndpointFacts::to_inclusive_reads`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_inclusive: Option<Fact<bool>>,
    /// The request forms (`GET oldest-first`, `POST newest-first`, …) in
    /// which a read's own request (not a `Next` link) returned an event of
    /// its log stamped exactly the `to` it asked: `to` is at least partly
    /// inclusive in that form. A hint shown by the doctor, never acted on:
    /// only [`EndpointFacts::to_inclusive`] makes queries ask `to − 1`.
    /// Always `true`: no page proves `to` exclusive. Never kept
    /// beside the doctor's `false` ([`EndpointFacts::merged`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub to_inclusive_reads: BTreeMap<String, Fact<bool>>,
    /// Whether a query's `from` returns events stamped exactly `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_inclusive: Option<Fact<bool>>,
    /// Whether statistical time slices are half-open `[a, b)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices_half_open: Option<Fact<bool>>,
    /// Whether merged queries (several logs in one) answer by the rules a
    /// merged read relies on (`false` once an answer broke one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_reads: Option<Fact<bool>>,
    /// Whether merged queries asked newest first answer by those rules,
    /// mirrored (`false` once an answer broke one): a request form of its
    /// own, judged apart from [`EndpointFacts::merged_reads`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_newest_first: Option<Fact<bool>>,
}

impl EndpointFacts {
    /// `self` with every fact `newer` knows replaced by it, except that a
    /// read's [`EndpointFacts::to_inclusive_reads`] never stands beside the
    /// doctor's `to_inclusive: false` (stored, or in `newer`): the doctor
    /// saw `to` otherwise, so it is asked as it is, in every form, whatever
    /// a read of another session records later.
    pub fn merged(mut self, newer: &EndpointFacts) -> Self {
        fn take<T: Clone>(old: &mut Option<Fact<T>>, new: &Option<Fact<T>>) {
            if new.is_some() {
                old.clone_from(new);
            }
        }
        take(&mut self.newest_first, &newer.newest_first);
        take(&mut self.to_inclusive, &newer.to_inclusive);
        take(&mut self.from_inclusive, &newer.from_inclusive);
        take(&mut self.slices_half_open, &newer.slices_half_open);
        take(&mut self.merged_reads, &newer.merged_reads);
        take(&mut self.merged_newest_first, &newer.merged_newest_first);
        for (form, fact) in &newer.to_inclusive_reads {
            self.to_inclusive_reads.insert(form.clone(), fact.clone());
        }
        if self.to_inclusive.as_ref().is_some_and(|f| !f.value) {
            self.to_inclusive_reads.clear();
        }
        self
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    format: u32,
    /// endpoint base URL → facts.
    endpoints: BTreeMap<String, EndpointFacts>,
}

const WHAT: &str = "the endpoint facts";

async fn load_all(root: &CacheRoot) -> Result<Stored> {
    root_file::read(
        root,
        ENDPOINT_FACTS_FILE,
        WHAT,
        "delete the file, what it held is learnt again",
    )
    .await
}

/// The facts stored for `endpoint` (empty when none are).
pub(crate) async fn load(root: &CacheRoot, endpoint: &str) -> Result<EndpointFacts> {
    Ok(load_all(root)
        .await?
        .endpoints
        .remove(endpoint)
        .unwrap_or_default())
}

/// Merge `facts` into those stored for `endpoint` and write the file again.
pub(crate) async fn save(root: &CacheRoot, endpoint: &str, facts: &EndpointFacts) -> Result<()> {
    // A file that does not parse is replaced: the facts are a memo, learnt
    // again. A file that cannot be read now (a store's passing failure) is
    // left as it is: replacing it would drop the other endpoints' facts.
    let mut stored = match load_all(root).await {
        Ok(stored) => stored,
        Err(Error::Unavailable { .. }) => Stored::default(),
        Err(e) => return Err(e),
    };
    let old = stored.endpoints.remove(endpoint).unwrap_or_default();
    stored
        .endpoints
        .insert(endpoint.to_string(), old.merged(facts));
    stored.format = 1;
    root_file::write(root, ENDPOINT_FACTS_FILE, &stored, WHAT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_s_inclusive_to_never_stands_beside_the_doctor_s_no() {
        let read = |form: &str| EndpointFacts {
            to_inclusive_reads: [(form.to_string(), Fact::now(true, "event read"))].into(),
            ..EndpointFacts::default()
        };
        let doctor = |value| EndpointFacts {
            to_inclusive: Some(Fact::now(value, "doctor")),
            ..EndpointFacts::default()
        };
        // Reads add forms; the doctor's yes keeps them.
        let facts = read("GET newest-first")
            .merged(&read("POST oldest-first"))
            .merged(&doctor(true));
        assert_eq!(facts.to_inclusive_reads.len(), 2);
        // The doctor's no drops them, and a read written later (another
        // session's, which learnt before the doctor ran) adds none.
        let facts = facts.merged(&doctor(false));
        assert!(facts.to_inclusive_reads.is_empty());
        let facts = facts.merged(&read("GET newest-first"));
        assert!(facts.to_inclusive_reads.is_empty());
        assert_eq!(facts.to_inclusive.as_ref().map(|f| f.value), Some(false));
        // A later yes of the doctor lets reads record again.
        let facts = facts
            .merged(&doctor(true))
            .merged(&read("GET newest-first"));
        assert_eq!(facts.to_inclusive_reads.len(), 1);
    }

    #[tokio::test]
    async fn facts_merge_per_endpoint_and_survive_a_new_root() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = CacheRoot::local(dir.path()).unwrap();
        assert_eq!(
            load(&root, "https://a").await.unwrap(),
            EndpointFacts::default()
        );
        let newest = EndpointFacts {
            newest_first: Some(Fact::now(false, "newest-first read")),
            ..EndpointFacts::default()
        };
        save(&root, "https://a", &newest).await.unwrap();
        let to = EndpointFacts {
            to_inclusive: Some(Fact::now(true, "doctor")),
            ..EndpointFacts::default()
        };
        save(&root, "https://a", &to).await.unwrap();
        save(&root, "https://b", &to).await.unwrap();
        let again = CacheRoot::local(dir.path()).unwrap();
        let a = load(&again, "https://a").await.unwrap();
        assert_eq!(a.newest_first.map(|f| f.value), Some(false));
        assert_eq!(a.to_inclusive.map(|f| f.value), Some(true));
        let b = load(&again, "https://b").await.unwrap();
        assert_eq!(b.newest_first, None);
        // A broken file is replaced, not fatal to learning.
        std::fs::write(dir.path().join(ENDPOINT_FACTS_FILE), b"{").unwrap();
        assert!(load(&again, "https://a").await.is_err());
        save(&again, "https://a", &newest).await.unwrap();
        assert_eq!(
            load(&again, "https://a")
                .await
                .unwrap()
                .newest_first
                .map(|f| f.value),
            Some(false)
        );
    }
}
