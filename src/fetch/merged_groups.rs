//! Which fetches are read merged ([`group`]), and whether this endpoint's
//! merged answers may be read at all ([`MergedVerdict`]); see `merged.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::OnceCell;
use tracing::warn;

use super::request::FetchRequest;
use crate::cache::{EndpointFacts, Fact, SegmentCache};
use crate::client::MAX_LOGS_PER_QUERY;
use crate::locks::lock;
use crate::time::TimeRange;

/// Whether this endpoint's merged answers may be read: unknown until one
/// breaks a rule, then remembered (see the module docs).
#[derive(Debug)]
pub(crate) struct MergedVerdict {
    endpoint: Option<String>,
    /// The verdict of merged queries asked newest first (a request form
    /// of its own), not of oldest-first ones.
    newest_first: bool,
    known: std::sync::Mutex<Option<bool>>,
    /// The cache's verdict, loaded once; callers meanwhile wait for it.
    stored: OnceCell<Option<bool>>,
}

impl MergedVerdict {
    pub(crate) fn new(endpoint: Option<String>) -> Self {
        MergedVerdict {
            endpoint,
            newest_first: false,
            known: std::sync::Mutex::new(None),
            stored: OnceCell::new(),
        }
    }

    /// The verdict of merged queries asked newest first at `endpoint`.
    pub(crate) fn newest_first(endpoint: Option<String>) -> Self {
        MergedVerdict {
            newest_first: true,
            ..MergedVerdict::new(endpoint)
        }
    }

    /// Whether merged reads may be tried: not once this session or the
    /// cache knows an answer broke a rule. An unreadable facts file counts
    /// as knowing nothing.
    pub(crate) async fn may_try(&self, cache: &SegmentCache) -> bool {
        if let Some(known) = *lock(&self.known) {
            return known;
        }
        let Some(endpoint) = &self.endpoint else {
            return false;
        };
        let stored = *self
            .stored
            .get_or_init(|| async {
                match cache.load_endpoint_facts(endpoint).await {
                    Ok(facts) if self.newest_first => facts.merged_newest_first.map(|f| f.value),
                    Ok(facts) => facts.merged_reads.map(|f| f.value),
                    Err(e) => {
                        warn!(error = %e, "endpoint_facts_unreadable");
                        None
                    }
                }
            })
            .await;
        let mut known = lock(&self.known);
        if known.is_none() {
            *known = stored;
        }
        known.unwrap_or(true)
    }

    /// A merged answer broke a rule (`reason`): never again for this
    /// endpoint, in this session and sessions over the same cache.
    pub(crate) async fn broken(&self, cache: &SegmentCache, reason: &str) {
        *lock(&self.known) = Some(false);
        warn!(
            endpoint = self.endpoint.as_deref().unwrap_or_default(),
            reason,
            detail =
                "the logs are read one by one; merged reads are not tried at this endpoint again",
            "merged_reads_not_exact"
        );
        let Some(endpoint) = &self.endpoint else {
            return;
        };
        let facts = if self.newest_first {
            EndpointFacts {
                merged_newest_first: Some(Fact::now(false, "merged newest-first read")),
                ..EndpointFacts::default()
            }
        } else {
            EndpointFacts {
                merged_reads: Some(Fact::now(false, "merged read")),
                ..EndpointFacts::default()
            }
        };
        if let Err(e) = cache.save_endpoint_facts(endpoint, &facts).await {
            warn!(error = %e, "endpoint_facts_write_failed");
        }
    }
}

/// Fetches to read merged (groups of at least two, at most
/// [`MAX_LOGS_PER_QUERY`], of one filter and range) and the rest, each
/// with its tag.
pub(crate) type Grouped<T> = (Vec<Vec<(T, FetchRequest)>>, Vec<(T, FetchRequest)>);

/// What fetches read together share: the filter and the range.
type GroupKey = (Option<Arc<str>>, TimeRange);

/// `requests` cut into merged groups and single fetches (all single where
/// `merged` is false).
pub(crate) fn group<T>(requests: Vec<(T, FetchRequest)>, merged: bool) -> Grouped<T> {
    if !merged {
        return (Vec::new(), requests);
    }
    let mut by_key: HashMap<GroupKey, Vec<(T, FetchRequest)>> = HashMap::new();
    let mut order = Vec::new();
    for (tag, request) in requests {
        let key = (request.filter.clone(), request.range);
        if !by_key.contains_key(&key) {
            order.push(key.clone());
        }
        by_key.entry(key).or_default().push((tag, request));
    }
    let (mut groups, mut singles) = (Vec::new(), Vec::new());
    for key in order {
        let mut members = by_key.remove(&key).unwrap_or_default();
        // The same log twice (two scans of one statement) is read once per
        // request, as before: a group names each log once.
        members.sort_by(|a, b| a.1.log.id.cmp(&b.1.log.id));
        let mut unique = Vec::with_capacity(members.len());
        for m in members {
            if unique
                .last()
                .is_some_and(|u: &(T, FetchRequest)| u.1.log.id == m.1.log.id)
            {
                singles.push(m);
            } else {
                unique.push(m);
            }
        }
        if unique.len() < 2 {
            singles.extend(unique);
            continue;
        }
        let parts = unique.len().div_ceil(MAX_LOGS_PER_QUERY);
        let size = unique.len().div_ceil(parts);
        let mut rest = unique.into_iter();
        loop {
            let part: Vec<_> = rest.by_ref().take(size).collect();
            if part.is_empty() {
                break;
            }
            groups.push(part);
        }
    }
    (groups, singles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_id::LogRef;

    fn req(log: &str, filter: Option<&str>, a: i64) -> FetchRequest {
        FetchRequest::new(
            LogRef {
                id: log.into(),
                name: None,
            },
            filter.map(Arc::from),
            TimeRange::new(a, a + 10).unwrap(),
        )
    }

    /// Two callers at once, the cache saying merged answers broke a rule:
    /// neither may try (the second waits for the first's load of the facts).
    #[tokio::test]
    async fn a_second_caller_waits_for_the_stored_verdict() {
        let tmp = tempfile::TempDir::new().unwrap();
        let location = tmp.path().join("c");
        let cache = SegmentCache::open(
            location.to_str().unwrap(),
            crate::cache::CacheConfig::default(),
        )
        .unwrap();
        let facts = EndpointFacts {
            merged_reads: Some(Fact::now(false, "merged read")),
            ..EndpointFacts::default()
        };
        cache
            .save_endpoint_facts("https://a", &facts)
            .await
            .unwrap();
        let verdict = MergedVerdict::new(Some("https://a".into()));
        let both = futures::join!(verdict.may_try(&cache), verdict.may_try(&cache));
        assert_eq!(both, (false, false));
    }

    #[test]
    fn groups_are_one_filter_and_range_at_least_two_at_most_the_limit() {
        let mut requests: Vec<(usize, FetchRequest)> = vec![
            (0, req("a", None, 0)),
            (1, req("b", None, 0)),
            (2, req("c", Some("x"), 0)),
            (3, req("d", None, 10)),
            (4, req("a", None, 0)),
        ];
        let (groups, singles) = group(requests.clone(), true);
        assert_eq!(groups.len(), 1);
        let tags: Vec<usize> = groups[0].iter().map(|(t, _)| *t).collect();
        assert_eq!(tags.len(), 2);
        let mut single: Vec<usize> = singles.iter().map(|(t, _)| *t).collect();
        single.sort_unstable();
        assert_eq!(single.len(), 3, "{single:?}");
        assert!(single.contains(&2) && single.contains(&3));
        let (groups, singles) = group(requests.clone(), false);
        assert!(groups.is_empty() && singles.len() == 5);
        requests = (0..(2 * MAX_LOGS_PER_QUERY + 3))
            .map(|i| (i, req(&format!("l{i:04}"), None, 0)))
            .collect();
        let (groups, singles) = group(requests, true);
        assert!(singles.is_empty());
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes.len(), 3);
        assert!(
            sizes.iter().all(|n| *n <= MAX_LOGS_PER_QUERY && *n >= 67),
            "{sizes:?}"
        );
        assert_eq!(sizes.iter().sum::<usize>(), 2 * MAX_LOGS_PER_QUERY + 3);
    }
}
