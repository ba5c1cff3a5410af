//! [`Rapid7`]: the handle every table, function and operation of one
//! registered source shares: its configuration, the log directory and the
//! fetcher (with its progress and activity counters).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::object_store::ObjectStoreUrl;

use super::counts::ToConvention;
use super::scan::{LogDirectory, LogRef, NewestVerdict};
use crate::cache::{MessageForm, SegmentCache};
use crate::client::Client;
use crate::config::Rapid7Config;
use crate::error::{Error, Result};
use crate::events::logs_table_schema;
use crate::fetch::{Activity, FetchProgress, Fetcher, StatementProgress};
use crate::fields::ParseStats;

/// A registered Rapid7 source: the client, the cache and the log list
/// shared by its tables and functions. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Rapid7 {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Rapid7Config,
    pub(crate) directory: LogDirectory,
    pub(crate) fetcher: Arc<Fetcher>,
    pub(crate) store_url: Option<ObjectStoreUrl>,
    pub(crate) schema: SchemaRef,
    pub(crate) parse_stats: Arc<ParseStats>,
    /// Whether this source's endpoint counts events stamped `to`, once learnt.
    pub(crate) to_convention: Arc<ToConvention>,
    /// Whether this source's endpoint honours `most_recent_first`, once
    /// known (here or in the cache's endpoint facts).
    pub(crate) newest_verdict: Arc<NewestVerdict>,
}

static NEXT_STORE: AtomicU64 = AtomicU64::new(0);

impl Rapid7 {
    /// A source over `config`, not yet registered anywhere.
    pub fn new(config: Rapid7Config) -> Result<Self> {
        let client = if config.is_offline() {
            None
        } else {
            config.client.clone()
        };
        let endpoint = client.as_ref().map(|c| c.endpoint().to_string());
        let store_url = match config.cache.root() {
            Some(_) => {
                let n = NEXT_STORE.fetch_add(1, Ordering::Relaxed);
                Some(
                    ObjectStoreUrl::parse(format!("rapid7-cache://c{n}"))
                        .map_err(|e| Error::from(Box::new(e)))?,
                )
            }
            None => None,
        };
        Ok(Rapid7 {
            inner: Arc::new(Inner {
                directory: LogDirectory::new(
                    client.clone(),
                    config.cache.clone(),
                    config.log_list_ttl,
                ),
                fetcher: Arc::new(Fetcher::new(
                    client,
                    config.cache.clone(),
                    config.fetch_concurrency,
                )),
                store_url,
                schema: logs_table_schema(),
                parse_stats: Arc::default(),
                to_convention: Arc::default(),
                newest_verdict: Arc::new(NewestVerdict::new(endpoint)),
                config,
            }),
        })
    }

    /// What `rapid7_field` (the typed columns of `rapid7_parsed` tables)
    /// has parsed so far, and how many values did not read as their type.
    pub fn parse_stats(&self) -> &ParseStats {
        &self.inner.parse_stats
    }

    /// The table names of the logs last listed in the per-log schemas: each
    /// log's name, or its id when it has none or shares it with another log
    /// ([`table_names`](super::scan::table_names)).
    pub(crate) fn known_log_labels(&self) -> Vec<String> {
        super::scan::table_names(&self.inner.directory.last_known())
    }

    /// Whether `name` is the name or id of a log last listed.
    pub(crate) fn knows_log(&self, name: &str) -> bool {
        self.inner
            .directory
            .last_known()
            .iter()
            .any(|l| l.id == name || l.name.as_deref() == Some(name))
    }

    /// Stop fetching, for a graceful shutdown: every fetch of this source
    /// stops reading pages, deletes the parts it had written (nothing is
    /// left for `cache gc`) and fails with [`Error::Stopped`]; so does every
    /// fetch started later, and every live read of the recent edge.
    /// Committed segments stay. It cannot be undone: fetch again through a
    /// new source.
    pub fn stop(&self) {
        self.inner.fetcher.stop.request();
    }

    /// Resolves once [`Rapid7::stop`] is called.
    pub(crate) async fn stop_requested(&self) {
        self.inner.fetcher.stop.requested().await;
    }

    /// Whether [`Rapid7::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.fetcher.stop.is_requested()
    }

    /// The fetcher every read and sync of this source fetches through.
    pub(crate) fn fetcher(&self) -> &Fetcher {
        &self.inner.fetcher
    }

    /// The configuration.
    pub fn config(&self) -> &Rapid7Config {
        &self.inner.config
    }

    /// The cache.
    pub fn cache(&self) -> &SegmentCache {
        &self.inner.config.cache
    }

    /// The API client, unless offline.
    pub fn client(&self) -> Option<&Client> {
        self.inner.config.client.as_ref()
    }

    /// Every log the key can read (offline: every log in the cache), from
    /// the log list while it is fresh.
    pub async fn logs(&self) -> Result<Vec<LogRef>> {
        Ok(self.inner.directory.list().await?.to_vec())
    }

    /// One log by id or name; unknown ones are an error with close matches,
    /// and a name several logs share is
    /// [`client::Error::AmbiguousLog`](crate::client::Error::AmbiguousLog)
    /// (listing their ids).
    pub async fn find_log(&self, name_or_id: &str) -> Result<LogRef> {
        self.inner.directory.find(name_or_id).await
    }

    /// The name of each log by id, as every read shows it: the log list's
    /// current name (offline: the last name the cache recorded), and for a
    /// log the list no longer has, the last name the cache recorded. When
    /// the API cannot be reached, the last list fetched stands in.
    pub async fn log_names(&self) -> Result<BTreeMap<String, String>> {
        let mut names = self.cache().load_log_names().await?;
        let listed = match self.inner.directory.list().await {
            Ok(logs) => logs,
            Err(e) => {
                tracing::warn!(error = %e, "log_list_unavailable");
                self.inner.directory.last_known()
            }
        };
        for log in listed.iter() {
            match &log.name {
                Some(name) => names.insert(log.id.clone(), name.clone()),
                None => names.remove(&log.id),
            };
        }
        Ok(names)
    }

    /// How `log_id` sends its messages, as far as reads (and
    /// [`Rapid7::record_message_form`]) have shown: recorded in the cache,
    /// or learnt by this process; `None` when not known.
    pub async fn message_form(&self, log_id: &str) -> Option<MessageForm> {
        let forms = self.inner.fetcher.forms.all(self.cache()).await;
        forms.get(log_id).copied()
    }

    /// Record how `log_id` sends its messages, such as the verdict of
    /// `rapid7-sql doctor` on a sample of its events: with
    /// [`MessageForm::Text`] later statements cache what a pushed filter
    /// selects (filtered segments); with [`MessageForm::Objects`] no filter
    /// is pushed for the log. Kept in the cache (text in `_LOGS.json`,
    /// objects as a write-once marker) for every later session, and merged
    /// with what is recorded: objects, once seen, stay. Returns the form
    /// now recorded.
    pub async fn record_message_form(
        &self,
        log_id: &str,
        form: MessageForm,
    ) -> Result<MessageForm> {
        self.inner
            .fetcher
            .forms
            .record(self.cache(), log_id, form)
            .await
    }

    /// The fetches running now (for progress displays).
    pub fn progress(&self) -> Vec<FetchProgress> {
        self.inner.fetcher.tracker.active()
    }

    /// The statements fetching now: pieces and events done against the
    /// estimate (for progress displays).
    pub fn statement_progress(&self) -> Vec<StatementProgress> {
        self.inner.fetcher.tracker.statements()
    }

    /// What the scans of this source have done so far; diff two snapshots
    /// with [`Activity::since`] for one query.
    pub fn activity(&self) -> Activity {
        self.inner.fetcher.tracker.activity()
    }
}
