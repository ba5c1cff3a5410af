//! `_ENDPOINTS.json` at the cache root: what was learnt about each Rapid7
//! endpoint's undocumented behaviour (whether `most_recent_first` is
//! honoured, whether `to` is inclusive, …), so that later sessions over the
//! same cache need not learn it again.
//!
//! One small JSON object keyed by the endpoint's base URL (never holding a
//! key: endpoints with credentials are refused by the client). Each fact
//! says what was seen, when, and by what (`newest-first read`, `doctor`).
//!
//! Several processes may learn at once. A save reads the file, merges its
//! facts in ([`EndpointFacts::merged`]) and puts it back only if it is still
//! the version read (`root_file::update`: a conditional put on every store
//! that has one, the local root's by a `flock`), else reads and merges
//! again: no process's fact is lost. Which of two facts stays does not
//! depend on the order of the writes: the one learnt later (`learnt_ms`)
//! does, and a read's hint never stands beside the doctor's `false`.
//!
//! A session sees another process's facts: [`load`] reads the file again
//! when it changed (a conditional `GET` on its e-tag, at every load on a
//! local root, at most every [`REMOTE_RECHECK`] on a remote one).
//! Deleting the file forgets everything; nothing else depends on it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::memo::RootFileRead;
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
    /// `self` and `newer` together: of two facts of the same thing, the one
    /// learnt later (`learnt_ms`; on a tie, `newer`'s) stays, whichever was
    /// written first. A read's [`EndpointFacts::to_inclusive_reads`] never
    /// stands beside the doctor's `to_inclusive: false` (stored, or in
    /// `newer`): the doctor saw `to` otherwise, so it is asked as it is, in
    /// every form, whatever a read of another session records, before or
    /// after. Only the doctor writes `to_inclusive`, so a hint never
    /// replaces the doctor's word, and an older doctor's word never replaces
    /// a newer one's.
    pub fn merged(mut self, newer: &EndpointFacts) -> Self {
        fn take<T: Clone>(old: &mut Option<Fact<T>>, new: &Option<Fact<T>>) {
            if let Some(new) = new
                && old
                    .as_ref()
                    .is_none_or(|old| old.learnt_ms <= new.learnt_ms)
            {
                *old = Some(new.clone());
            }
        }
        take(&mut self.newest_first, &newer.newest_first);
        take(&mut self.to_inclusive, &newer.to_inclusive);
        take(&mut self.from_inclusive, &newer.from_inclusive);
        take(&mut self.slices_half_open, &newer.slices_half_open);
        take(&mut self.merged_reads, &newer.merged_reads);
        take(&mut self.merged_newest_first, &newer.merged_newest_first);
        for (form, fact) in &newer.to_inclusive_reads {
            let mut old = self.to_inclusive_reads.remove(form);
            take(&mut old, &Some(fact.clone()));
            self.to_inclusive_reads
                .extend(old.map(|f| (form.clone(), f)));
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
const FIX: &str = "delete the file, what it held is learnt again";

/// How long a session on a remote root trusts the facts it read before
/// asking whether the file changed (a conditional `GET`); on a local root
/// it asks at every load (a `stat`).
pub(crate) const REMOTE_RECHECK: Duration = Duration::from_secs(5);

#[cfg(test)]
async fn load_all(root: &CacheRoot) -> Result<Stored> {
    root_file::read(root, ENDPOINT_FACTS_FILE, WHAT, FIX).await
}

/// The facts stored for `endpoint` (empty when none are), read again only
/// when the file changed since this session last read it.
pub(crate) async fn load(root: &CacheRoot, endpoint: &str) -> Result<EndpointFacts> {
    let mut memo = root.memos.endpoint_facts.0.lock().await;
    let recheck = match root.local_dir() {
        Some(_) => Duration::ZERO,
        None => REMOTE_RECHECK,
    };
    let fresh = memo
        .as_ref()
        .is_some_and(|read| read.at.elapsed() < recheck);
    if !fresh {
        let e_tag = memo.as_ref().and_then(|read| read.e_tag.as_deref());
        match root_file::read_if_changed::<Stored>(root, ENDPOINT_FACTS_FILE, WHAT, FIX, e_tag)
            .await
        {
            Ok(Some((stored, e_tag))) => {
                *memo = Some(RootFileRead {
                    at: Instant::now(),
                    e_tag,
                    value: Arc::new(stored),
                });
            }
            Ok(None) => {
                if let Some(read) = memo.as_mut() {
                    read.at = Instant::now();
                }
            }
            Err(e) => {
                *memo = None;
                return Err(e);
            }
        }
    }
    Ok(memo
        .as_ref()
        .and_then(|read| read.value.downcast_ref::<Stored>())
        .and_then(|stored| stored.endpoints.get(endpoint).cloned())
        .unwrap_or_default())
}

/// Merge `facts` into those stored for `endpoint` and write the file again,
/// losing no other process's fact (see the module docs).
pub(crate) async fn save(root: &CacheRoot, endpoint: &str, facts: &EndpointFacts) -> Result<()> {
    // A file that does not parse is replaced: the facts are a memo, learnt
    // again. A file that cannot be read now (a store's passing failure) is
    // left as it is: replacing it would drop the other endpoints' facts.
    let saved = root_file::update(
        root,
        ENDPOINT_FACTS_FILE,
        WHAT,
        FIX,
        |stored: &mut Stored| {
            let old = stored.endpoints.remove(endpoint).unwrap_or_default();
            stored
                .endpoints
                .insert(endpoint.to_string(), old.merged(facts));
            stored.format = 1;
        },
    )
    .await;
    *root.memos.endpoint_facts.0.lock().await = None;
    saved
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

    #[test]
    fn the_fact_learnt_later_stays_whatever_the_order_of_merges() {
        let doctor = |value, learnt_ms| EndpointFacts {
            to_inclusive: Some(Fact {
                value,
                learnt_ms,
                by: "doctor".into(),
            }),
            ..EndpointFacts::default()
        };
        let (older_yes, newer_no) = (doctor(true, 1), doctor(false, 2));
        for facts in [
            older_yes.clone().merged(&newer_no),
            newer_no.clone().merged(&older_yes),
        ] {
            assert_eq!(facts.to_inclusive, newer_no.to_inclusive);
        }
    }

    /// Writers of two roots on one directory (as two processes) at once:
    /// a read-merge-write without the conditional put loses most of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_writers_of_two_roots_lose_no_endpoint() {
        let dir = tempfile::TempDir::new().unwrap();
        let roots = [
            CacheRoot::local(dir.path()).unwrap(),
            CacheRoot::local(dir.path()).unwrap(),
        ];
        let mut writers = tokio::task::JoinSet::new();
        for (r, root) in roots.iter().enumerate() {
            for w in 0..16 {
                let root = root.clone();
                writers.spawn(async move {
                    let facts = EndpointFacts {
                        merged_reads: Some(Fact::now(false, "merged read")),
                        ..EndpointFacts::default()
                    };
                    save(&root, &format!("https://{r}-{w}"), &facts).await
                });
            }
        }
        while let Some(saved) = writers.join_next().await {
            saved.unwrap().unwrap();
        }
        let stored = load_all(&roots[1]).await.unwrap();
        assert_eq!(stored.endpoints.len(), 32, "{:?}", stored.endpoints.keys());
    }
}
