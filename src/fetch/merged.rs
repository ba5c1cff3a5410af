//! Merged reads: the fetches of several logs over the same range with the
//! same filter, read by one query of them all ([`Client::query_merged`]),
//! their events split by log into the very segments (filtered or not) that
//! single-log fetches commit. Caching and reuse are unchanged: a later read
//! of one of the logs over the range finds its segment, and a log with no
//! event in the range gets its empty segment, so it is known cached too.
//!
//! - **Groups.** Fetches of the same `(filter, range)`, at least two, at most
//!   [`MAX_LOGS_PER_QUERY`] a query (a larger set is cut into equal groups).
//!   A log whose range another reader has meanwhile cached in part is read
//!   alone, as before.
//! - **Exactness.** The client checks every page (every event of a log asked
//!   for, the stream in strictly increasing `(timestamp, sequence_number)`
//!   order). On a violation the group's parts are deleted, its logs are read
//!   one by one, and the endpoint is remembered (in this session and in the
//!   cache's `_ENDPOINTS.json`, `merged_reads`): merged reads are not tried
//!   there again. A query refused with a 4xx is read one by one too, without
//!   remembering (a log deleted since the log list was read answers 404).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::error::DataFusionError;
use tracing::{info, warn};

use super::fetcher::Fetcher;
use super::ingest::{FetchOutcome, Ingest, elapsed_ms};
use super::progress::StatementGuard;
use super::request::FetchRequest;
use crate::cache::{EndpointFacts, Fact, SegmentCache};
use crate::client::{self, Client, MAX_LOGS_PER_QUERY};
use crate::error::{Error, Result};
use crate::events::page_to_batch;
use crate::locks::lock;
use crate::time::TimeRange;

/// Whether this endpoint's merged answers may be read: unknown until one
/// breaks a rule, then remembered (see the module docs).
#[derive(Debug)]
pub(crate) struct MergedVerdict {
    endpoint: Option<String>,
    known: std::sync::Mutex<Option<bool>>,
    loaded: AtomicBool,
}

impl MergedVerdict {
    pub(crate) fn new(endpoint: Option<String>) -> Self {
        MergedVerdict {
            endpoint,
            known: std::sync::Mutex::new(None),
            loaded: AtomicBool::new(false),
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
        if self.loaded.swap(true, Ordering::Relaxed) {
            return true;
        }
        let stored = match cache.load_endpoint_facts(endpoint).await {
            Ok(facts) => facts.merged_reads.map(|f| f.value),
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
        let facts = EndpointFacts {
            merged_reads: Some(Fact::now(false, "merged read")),
            ..EndpointFacts::default()
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

/// `requests` cut into merged groups and single fetches (all single where
/// `merged` is false).
pub(crate) fn group<T>(requests: Vec<(T, FetchRequest)>, merged: bool) -> Grouped<T> {
    if !merged {
        return (Vec::new(), requests);
    }
    let mut by_key: HashMap<(Option<Arc<str>>, TimeRange), Vec<(T, FetchRequest)>> = HashMap::new();
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

/// How a group's merged read ended short of committing.
enum Fallback {
    /// An answer broke a rule: remember it, read one by one.
    Broken(String),
    /// Rapid7 refused the merged query: read one by one.
    Refused(String),
}

impl Fetcher {
    /// Fetch a group of `(tag, request)` (one filter and range) into
    /// committed segments by merged reads, each log whose range is still
    /// wholly missing in one query; the rest (and all, after a fallback)
    /// one by one. A piece done counts to `statement`'s progress.
    pub(super) async fn fetch_group<T>(
        &self,
        group: Vec<(T, FetchRequest)>,
        statement: Option<&StatementGuard>,
    ) -> std::result::Result<Vec<(T, FetchOutcome)>, Arc<DataFusionError>> {
        let wrap = |e: Error| Arc::new(e.into_datafusion());
        let mut done = Vec::new();
        let mut members = Vec::new();
        let mut alone = Vec::new();
        for (tag, request) in group {
            let plan = self
                .cache
                .plan_read_filtered(&request.log.id, request.filter(), request.range)
                .await
                .map_err(|e| wrap(e.into()))?;
            match plan.coverage.missing.as_slice() {
                [] => done.push((tag, FetchOutcome::default())),
                [one] if *one == request.range => members.push((tag, request)),
                _ => alone.push((tag, request)),
            }
        }
        if members.len() < 2 {
            alone.append(&mut members);
        }
        if !members.is_empty() {
            let requests: Vec<FetchRequest> = members.iter().map(|(_, r)| r.clone()).collect();
            match self.read_merged(&requests).await {
                Ok(Ok(outcomes)) => {
                    done.extend(members.drain(..).map(|(t, _)| t).zip(outcomes));
                }
                Ok(Err(fallback)) => {
                    let reason = match &fallback {
                        Fallback::Broken(r) | Fallback::Refused(r) => r.clone(),
                    };
                    if let Fallback::Broken(reason) = &fallback {
                        self.merged.broken(&self.cache, reason).await;
                    }
                    info!(logs = members.len(), reason, "fetch_merged_fallback");
                    alone.append(&mut members);
                }
                Err(e) => return Err(wrap(e)),
            }
        }
        if let Some(statement) = statement {
            for (_, outcome) in &done {
                statement.piece_done(outcome.events);
            }
        }
        let singles = alone.into_iter().map(|(tag, request)| async move {
            let outcome = self.fetch_segment(&request).await?;
            if let Some(statement) = statement {
                statement.piece_done(outcome.events);
            }
            Ok::<_, Arc<DataFusionError>>((tag, outcome))
        });
        done.extend(futures::future::try_join_all(singles).await?);
        Ok(done)
    }

    /// Read `requests` (several logs, one filter and range, none of it
    /// cached) by merged queries into one segment each: their outcomes in
    /// order, or why the logs must be read one by one (nothing committed).
    async fn read_merged(
        &self,
        requests: &[FetchRequest],
    ) -> Result<std::result::Result<Vec<FetchOutcome>, Fallback>> {
        let client = self.client()?.clone();
        let _slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the fetch slots are never closed");
        if self.stop.is_requested() {
            return Err(Error::Stopped);
        }
        let mut ingests = Vec::with_capacity(requests.len());
        for request in requests {
            match Ingest::open(&self.cache, request) {
                Ok(ingest) => ingests.push(ingest),
                Err(e) => {
                    abort_all(ingests).await;
                    return Err(e);
                }
            }
        }
        let started = std::time::Instant::now();
        let result = self.read_pages(&client, requests, &mut ingests).await;
        match result {
            Ok(()) => {}
            Err(e) => {
                abort_all(ingests).await;
                return match e {
                    Error::Client(client::Error::MergedAnswer { reason, .. }) => {
                        Ok(Err(Fallback::Broken(reason)))
                    }
                    Error::Client(api @ client::Error::Api { .. })
                        if api
                            .status()
                            .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
                    {
                        Ok(Err(Fallback::Refused(api.to_string())))
                    }
                    e => Err(e),
                };
            }
        }
        let mut outcomes = Vec::with_capacity(requests.len());
        for (request, ingest) in requests.iter().zip(ingests) {
            let parts_written = ingest.writer.parts_written();
            let segment_dir = ingest.writer.location().to_string();
            let (outcome, _) = ingest.commit().await?;
            info!(
                log_id = %request.log.id,
                log_name = request.log.name.as_deref(),
                from_ms = request.range.start(),
                to_ms = request.range.end(),
                subrange = request.range.to_string(),
                events = outcome.events,
                rows_fetched = outcome.events,
                pages = outcome.pages,
                committed = outcome.committed,
                events_rejected = outcome.events_rejected,
                beyond_retention = outcome.beyond_retention,
                parts_written,
                segment_dir,
                elapsed_ms = elapsed_ms(started),
                duration_ms = elapsed_ms(started),
                "fetch_subrange_complete"
            );
            outcomes.push(outcome);
        }
        Ok(Ok(outcomes))
    }

    /// Page the merged query of `requests` into `ingests` (one per request).
    async fn read_pages(
        &self,
        client: &Client,
        requests: &[FetchRequest],
        ingests: &mut [Ingest],
    ) -> Result<()> {
        let first = &requests[0];
        let (range, filter) = (first.range, first.filter());
        let started = std::time::Instant::now();
        let ids: Vec<&str> = requests.iter().map(|r| r.log.id.as_str()).collect();
        info!(
            logs = ids.len(),
            from_ms = range.start(),
            to_ms = range.end(),
            subrange = range.to_string(),
            filter,
            "fetch_merged_start"
        );
        let mut query =
            client.query_merged(&ids, range.start(), range.end(), &first.statement())?;
        let mut progress: Vec<_> = requests
            .iter()
            .map(|r| self.tracker.start(&r.log, range, true))
            .collect();
        let (mut pages, mut events) = (0u64, 0u64);
        loop {
            let page = tokio::select! {
                biased;
                () = self.stop.requested() => return Err(Error::Stopped),
                page = query.next_page() => page?,
            };
            let Some(page) = page else { break };
            pages += 1;
            for (i, log_page) in page.logs.into_iter().enumerate() {
                let (request, ingest) = (&requests[i], &mut ingests[i]);
                ingest.page();
                self.forms
                    .page(
                        &self.cache,
                        &request.log.id,
                        filter.is_some(),
                        &log_page.stats,
                    )
                    .await?;
                ingest.rejected(log_page.stats.failed);
                if progress[i].page_quality(&log_page.stats) {
                    ingest.beyond_retention();
                }
                if log_page.columns.is_empty() {
                    continue;
                }
                let batch = page_to_batch(log_page, request.log.name.as_deref())?;
                progress[i].page(&batch);
                events += batch.num_rows() as u64;
                ingest.push(batch).await?;
            }
        }
        if filter.is_some() {
            for request in requests {
                self.forms
                    .check_still_text(&self.cache, &request.log.id)
                    .await?;
            }
        }
        info!(
            logs = ids.len(),
            from_ms = range.start(),
            to_ms = range.end(),
            pages,
            events,
            duration_ms = elapsed_ms(started),
            "fetch_merged_complete"
        );
        Ok(())
    }
}

async fn abort_all(ingests: Vec<Ingest>) {
    for ingest in ingests {
        ingest.abort().await;
    }
}

/// Whether the logs of `requests` may be read merged at all: online, and
/// not known to break the rules at this endpoint.
pub(crate) async fn merged_allowed(fetcher: &Fetcher, cache: &SegmentCache) -> bool {
    fetcher.client().is_ok() && fetcher.merged.may_try(cache).await
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
