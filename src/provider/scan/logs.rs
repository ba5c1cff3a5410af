//! The logs a query can read: the API's log list, reused for a TTL, and the
//! mapping of a [`LogSelection`] onto it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::log_sets::{self as logsets, LogSet, LogSetsOf};
use crate::cache::SegmentCache;
use crate::client::{self, Client, pick_log, suggest};
use crate::error::Result;
use crate::events::MAX_LOG_NAME_LEN;
use crate::log_id::LogId;
pub use crate::log_id::LogRef;
use crate::provider::window::LogSelection;

/// The log list, fetched from `/management/logs` (online) or read from the
/// cache's log directory (offline), and reused for `ttl`.
#[derive(Debug)]
pub(crate) struct LogDirectory {
    client: Option<Client>,
    cache: SegmentCache,
    ttl: Duration,
    snapshot: RwLock<Option<(Instant, Arc<[LogRef]>)>>,
    /// The log sets of the last list (`logsets.rs`).
    sets: RwLock<Arc<[LogSet]>>,
    /// Whether `GET /management/logsets` was refused (403, 404): the sets
    /// then come from the log list alone.
    logsets_refused: AtomicBool,
    refresh: tokio::sync::Mutex<()>,
}

impl LogDirectory {
    /// `client` is `None` offline.
    pub(crate) fn new(client: Option<Client>, cache: SegmentCache, ttl: Duration) -> Self {
        LogDirectory {
            client,
            cache,
            ttl,
            snapshot: RwLock::new(None),
            sets: RwLock::new(Arc::from(Vec::new())),
            logsets_refused: AtomicBool::new(false),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The last list fetched, however old (for `SHOW TABLES`, which is sync).
    pub(crate) fn last_known(&self) -> Arc<[LogRef]> {
        self.read_snapshot()
            .map(|(_, logs)| logs)
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// The log sets of the last list fetched, however old (for `SHOW
    /// TABLES`, which is sync).
    pub(crate) fn last_known_logsets(&self) -> Arc<[LogSet]> {
        crate::locks::read(&self.sets).clone()
    }

    /// Every log set, with the log list ([`LogDirectory::list`]).
    pub(crate) async fn logsets(&self) -> Result<Arc<[LogSet]>> {
        self.list().await?;
        Ok(self.last_known_logsets())
    }

    fn read_snapshot(&self) -> Option<(Instant, Arc<[LogRef]>)> {
        crate::locks::read(&self.snapshot).clone()
    }

    /// Every log, from the snapshot while it is fresh.
    pub(crate) async fn list(&self) -> Result<Arc<[LogRef]>> {
        if let Some((at, logs)) = self.read_snapshot()
            && at.elapsed() < self.ttl
        {
            return Ok(logs);
        }
        // One refresh at a time; the others reuse its result.
        let _guard = self.refresh.lock().await;
        if let Some((at, logs)) = self.read_snapshot()
            && at.elapsed() < self.ttl
        {
            return Ok(logs);
        }
        let logs = self.fetch().await?;
        *crate::locks::write(&self.snapshot) = Some((Instant::now(), Arc::clone(&logs)));
        Ok(logs)
    }

    async fn fetch(&self) -> Result<Arc<[LogRef]>> {
        let mut logs: Vec<LogRef> = match &self.client {
            Some(client) => {
                let infos = client.list_logs().await?;
                let listed = self.list_logsets(client).await;
                let sets = logsets::from_lists(listed.as_deref(), &infos);
                let logs = usable(infos.into_iter().map(|l| (l.id, Some(l.name))));
                let sets = logsets::keep_logs(sets, &logs);
                let names: BTreeMap<String, String> = logs
                    .iter()
                    .filter_map(|l| Some((l.id.clone(), l.name.clone()?)))
                    .collect();
                // Best effort: offline reads use them.
                if let Err(e) = self.cache.save_log_sets(&logsets::stored(&sets)).await {
                    warn!(error = %e, "log_sets_write_failed");
                }
                *crate::locks::write(&self.sets) = sets.into();
                if let Err(e) = self.cache.save_log_names(&names).await {
                    warn!(
                        error = %e,
                        "log_names_write_failed"
                    );
                }
                logs
            }
            None => {
                // An unreadable file only hides the sets, never the logs.
                let stored = self.cache.load_log_sets().await.unwrap_or_else(|e| {
                    warn!(error = %e, "log_sets_unreadable");
                    Default::default()
                });
                let sets = logsets::from_stored(stored);
                let names = self.cache.load_log_names().await?;
                let ids = self.cache.list_logs().await?;
                let mut named = Vec::with_capacity(ids.len());
                for id in ids {
                    let name = match names.get(&id) {
                        Some(name) => Some(name.clone()),
                        None => self.stored_name(&id).await,
                    };
                    named.push((id, name));
                }
                let logs = usable(named);
                *crate::locks::write(&self.sets) = logsets::keep_logs(sets, &logs).into();
                logs
            }
        };
        logs.sort();
        debug!(
            logs = logs.len(),
            online = self.client.is_some(),
            "log_list_refreshed"
        );
        Ok(logs.into())
    }

    /// The log sets of `GET /management/logsets`, with the sets that have no
    /// log; `None` when the endpoint fails (the sets then come from each
    /// log's `logsets_info` alone, and a set without a log is not known).
    /// Never an error: the sets are worth no failed statement. An endpoint
    /// that refuses it (403, 404) is not asked again by this session.
    async fn list_logsets(&self, client: &Client) -> Option<Vec<client::LogSetDetail>> {
        if self.logsets_refused.load(Ordering::Relaxed) {
            return None;
        }
        match client.list_logsets().await {
            Ok(sets) => Some(sets),
            Err(e) => {
                let status = e.status();
                if matches!(status, Some(403 | 404)) {
                    self.logsets_refused.store(true, Ordering::Relaxed);
                }
                warn!(
                    status,
                    error = %e,
                    detail = "the log sets come from each log's logsets_info instead: a set \
                              without a log is not listed",
                    "log_sets_list_refused"
                );
                None
            }
        }
    }

    /// The name the cache's parts of `log_id` were written with, for a log
    /// the cache's directory does not name; `None` (unnamed) when there is
    /// none or it cannot be read.
    async fn stored_name(&self, log_id: &str) -> Option<String> {
        match self.cache.stored_log_name(log_id).await {
            Ok(name) => name,
            Err(e) => {
                warn!(
                    log_id,
                    error = %e,
                    "stored_log_name_unreadable"
                );
                None
            }
        }
    }

    /// The logs `selection` picks, with `sets` the log sets (the `logset`
    /// column's). A name or id that matches no log, or a set name that
    /// names no set, is an error listing close matches.
    pub(crate) async fn resolve(
        &self,
        selection: &LogSelection,
        sets: &[LogSet],
    ) -> Result<Vec<LogRef>> {
        match selection {
            LogSelection::Nothing => return Ok(Vec::new()),
            LogSelection::All => return Ok(self.list().await?.to_vec()),
            LogSelection::Only(_) => {}
        }
        let logs = self.list().await?;
        for constraint in selection.constraints() {
            check_known(constraint.names.as_ref(), &logs, |l| l.name.as_deref())?;
            check_known(constraint.ids.as_ref(), &logs, |l| Some(l.id.as_str()))?;
            for clause in &constraint.sets {
                check_known_sets(clause, sets)?;
            }
        }
        let of = LogSetsOf::new(sets);
        Ok(logs
            .iter()
            .filter(|l| selection.admits(&l.id, l.name.as_deref(), of.of(&l.id)))
            .cloned()
            .collect())
    }

    /// One log by name or id: the one rule of [`pick_log`] (exact id, then
    /// exact name, then name ignoring case; a name several logs share is
    /// [`client::Error::AmbiguousLog`](crate::client::Error::AmbiguousLog),
    /// listing their ids).
    pub(crate) async fn find(&self, name_or_id: &str) -> Result<LogRef> {
        let logs = self.list().await?;
        let log = pick_log(&logs, name_or_id, |l| l.id.as_str(), |l| l.name.as_deref())?;
        Ok(log.clone())
    }
}

/// The table name of each of `logs` in the per-log schemas: its name, unless
/// it has none or another log shares it (then its id, which always names
/// exactly one log).
pub(crate) fn table_names(logs: &[LogRef]) -> Vec<String> {
    labels(logs.iter().map(|l| (l.id.as_str(), l.name.as_deref())))
}

/// The table names of `(id, name)` entries (logs, log sets): the name,
/// unless there is none or another entry shares it (then the id).
pub(crate) fn labels<'a>(entries: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Vec<String> {
    let entries: Vec<_> = entries.collect();
    let mut per_name: HashMap<&str, usize> = HashMap::new();
    for name in entries.iter().filter_map(|(_, name)| *name) {
        *per_name.entry(name).or_default() += 1;
    }
    let names: BTreeSet<String> = entries
        .iter()
        .map(|(id, name)| match name {
            Some(name) if per_name.get(name) == Some(&1) => name.to_string(),
            _ => id.to_string(),
        })
        .collect();
    names.into_iter().collect()
}

/// The logs a query can use out of `(id, name)` entries as listed: each id
/// once (the first entry wins), only ids that are log ids ([`LogId`]: a
/// path-like or empty id could never be queried or cached), and no name
/// longer than [`MAX_LOG_NAME_LEN`] (the log keeps its id as its label).
/// Every entry skipped or changed is logged at warn level.
fn usable(entries: impl IntoIterator<Item = (String, Option<String>)>) -> Vec<LogRef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (id, name) in entries {
        if let Err(e) = LogId::new(id.as_str()) {
            warn!(
                log_id = ?id,
                reason = e.reason,
                detail = "not a log id",
                "log_list_entry_skipped"
            );
            continue;
        }
        if !seen.insert(id.clone()) {
            warn!(
                log_id = %id,
                log_name = ?name,
                detail = "the id is listed twice",
                "log_list_entry_skipped"
            );
            continue;
        }
        let name = match name {
            Some(n) if n.len() > MAX_LOG_NAME_LEN => {
                warn!(
                    log_id = %id,
                    name_bytes = n.len(),
                    max_bytes = MAX_LOG_NAME_LEN,
                    detail = "the name is too long; the log goes by its id",
                    "log_list_name_dropped"
                );
                None
            }
            other => other,
        };
        out.push(LogRef { id, name });
    }
    out
}

fn check_known(
    wanted: Option<&BTreeSet<String>>,
    logs: &[LogRef],
    key: impl Fn(&LogRef) -> Option<&str>,
) -> Result<()> {
    let Some(wanted) = wanted else { return Ok(()) };
    for w in wanted {
        if !logs.iter().any(|l| key(l) == Some(w.as_str())) {
            return Err(client::Error::UnknownLog {
                name: w.clone(),
                suggestions: suggest(logs.iter().filter_map(&key), w),
            }
            .into());
        }
    }
    Ok(())
}

/// Each of `wanted` the name of one of `sets` (as the `logset` column
/// shows it): else an error naming the sets, closest first.
fn check_known_sets(wanted: &BTreeSet<String>, sets: &[LogSet]) -> Result<()> {
    let names = || sets.iter().map(logsets::column_name);
    for w in wanted {
        if names().any(|n| n == w) {
            continue;
        }
        let message = if sets.is_empty() {
            format!(
                "no log set {w:?}: no log set is known (the log list names none, or an \
                 offline cache has no {}); read the logs by log_name instead",
                crate::cache::LOG_SETS_FILE
            )
        } else {
            let close = suggest(names(), w);
            let all: BTreeSet<&str> = names().collect();
            let listed: Vec<String> = all.iter().map(|n| format!("'{n}'")).collect();
            let hint = match close.as_slice() {
                [] => String::new(),
                close => format!(" (did you mean {}?)", close.join(", ")),
            };
            format!(
                "no log set {w:?}{hint}; the log sets are: {}",
                listed.join(", ")
            )
        };
        return Err(crate::Error::DataFusion(Box::new(
            datafusion::error::DataFusionError::Plan(message),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_logs_are_deduplicated_checked_and_named_within_bounds() {
        let long = "n".repeat(MAX_LOG_NAME_LEN + 1);
        let entries = [
            ("a1", Some("Firewall")),
            ("../../etc", Some("Escape")),
            ("", Some("Empty")),
            ("a/b", None),
            (".hidden", None),
            ("a1", Some("Firewall (copy)")),
            ("b2", Some(long.as_str())),
            ("c3", None),
        ];
        let got = usable(
            entries
                .iter()
                .map(|(id, name)| (id.to_string(), name.map(str::to_string))),
        );
        let want = [("a1", Some("Firewall")), ("b2", None), ("c3", None)];
        let got: Vec<(&str, Option<&str>)> = got
            .iter()
            .map(|l| (l.id.as_str(), l.name.as_deref()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn logs_that_share_a_name_are_tables_by_id() {
        let log = |id: &str, name: Option<&str>| LogRef {
            id: id.into(),
            name: name.map(str::to_string),
        };
        let logs = [
            log("a1", Some("Firewall")),
            log("b2", Some("Firewall")),
            log("c3", Some("Proxy")),
            log("d4", None),
        ];
        assert_eq!(table_names(&logs), ["Proxy", "a1", "b2", "d4"]);
    }
}
