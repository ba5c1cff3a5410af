//! Registration into a `SessionContext`: the `rapid7_logs` table, the
//! `rapid7` schema with one table per log, and the table functions.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionContext;
use datafusion::execution::object_store::ObjectStoreUrl;

use super::fetch::{Activity, FetchProgress, Fetcher};
use super::fields::FieldsFunction;
use super::functions::{CacheFunction, CoverageFunction};
use super::logs::{LogDirectory, LogRef};
use super::parsed::{PARSED_SCHEMA, ParsedSchema};
use super::table::Rapid7LogsTable;
use crate::cache::SegmentCache;
use crate::client::Client;
use crate::config::Rapid7Config;
use crate::error::{Error, Result};
use crate::events::event_schema;
use crate::fields::{ParseStats, field_udf};

/// Name of the table of every log.
pub const LOGS_TABLE: &str = "rapid7_logs";
/// Name of the schema with one table per log.
pub const LOGS_SCHEMA: &str = "rapid7";

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
                fetcher: Arc::new(Fetcher::new(client, config.cache.clone())),
                store_url,
                schema: event_schema(),
                parse_stats: Arc::default(),
                config,
            }),
        })
    }

    /// What `rapid7_field` (the typed columns of `rapid7_parsed` tables)
    /// has parsed so far, and how many values did not read as their type.
    pub fn parse_stats(&self) -> &ParseStats {
        &self.inner.parse_stats
    }

    /// The labels (names, or ids of unnamed logs) of the logs last listed:
    /// the table names of the per-log schemas.
    pub(crate) fn known_log_labels(&self) -> Vec<String> {
        let names: BTreeSet<String> = self
            .inner
            .directory
            .last_known()
            .iter()
            .map(|l| l.label().to_string())
            .collect();
        names.into_iter().collect()
    }

    /// Whether `name` is the name or id of a log last listed.
    pub(crate) fn knows_log(&self, name: &str) -> bool {
        self.inner
            .directory
            .last_known()
            .iter()
            .any(|l| l.id == name || l.name.as_deref() == Some(name))
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

    /// One log by id or name; unknown ones are an error with close matches.
    pub async fn find_log(&self, name_or_id: &str) -> Result<LogRef> {
        self.inner.directory.find(name_or_id).await
    }

    /// The fetches running now (for progress displays).
    pub fn progress(&self) -> Vec<FetchProgress> {
        self.inner.fetcher.tracker.active()
    }

    /// What the scans of this source have done so far; diff two snapshots
    /// with [`Activity::since`] for one query.
    pub fn activity(&self) -> Activity {
        self.inner.fetcher.tracker.activity()
    }

    /// The `rapid7_logs` table.
    pub fn table(&self) -> Arc<Rapid7LogsTable> {
        Arc::new(Rapid7LogsTable::new(self.clone()))
    }

    /// Register everything into `ctx`: the object store of the cache, the
    /// `rapid7_logs` table, the `rapid7` schema (one table per log, named
    /// after the log), the `rapid7_parsed` schema (the same logs with their
    /// fields as typed columns), the `rapid7_cache()`, `rapid7_coverage(log, from, to)`
    /// and `rapid7_fields(log, from, to)` table functions and the field
    /// functions of [`crate::fields`] (`kv_get`, `csv_get`, `json_get*`), and turn on `information_schema` (so
    /// `SHOW TABLES` lists the logs). Reads the log list once (from the API,
    /// or offline from the cache) so that `SHOW TABLES` lists the logs.
    pub async fn register(&self, ctx: &SessionContext) -> Result<()> {
        if let (Some(url), Some(root)) = (&self.inner.store_url, self.cache().root()) {
            ctx.runtime_env()
                .register_object_store(url.as_ref(), Arc::clone(root.store()));
        }
        self.inner.directory.list().await?;
        // `SHOW TABLES`, `\d` and the hint of an unknown-log error rely on it.
        ctx.state_ref()
            .write()
            .config_mut()
            .options_mut()
            .catalog
            .information_schema = true;
        ctx.register_table(LOGS_TABLE, self.table())?;
        let state = ctx.state();
        let catalog_name = &state.config_options().catalog.default_catalog;
        let catalog = ctx.catalog(catalog_name).ok_or_else(|| Error::Config {
            key: "datafusion.catalog.default_catalog".into(),
            message: format!("the session has no catalog {catalog_name:?}"),
        })?;
        catalog.register_schema(
            LOGS_SCHEMA,
            Arc::new(LogSchema {
                rapid7: self.clone(),
            }),
        )?;
        ctx.register_udtf(
            "rapid7_cache",
            Arc::new(CacheFunction {
                rapid7: self.clone(),
            }),
        );
        ctx.register_udtf(
            "rapid7_coverage",
            Arc::new(CoverageFunction {
                rapid7: self.clone(),
            }),
        );
        ctx.register_udtf(
            "rapid7_fields",
            Arc::new(FieldsFunction {
                rapid7: self.clone(),
            }),
        );
        crate::fields::register_functions(ctx)?;
        let field_udf = Arc::new(field_udf(Arc::clone(&self.inner.parse_stats)));
        ctx.register_udf(field_udf.as_ref().clone());
        catalog.register_schema(
            PARSED_SCHEMA,
            Arc::new(ParsedSchema {
                rapid7: self.clone(),
                field_udf,
                inferred: Default::default(),
            }),
        )?;
        Ok(())
    }
}

/// Create a [`Rapid7`] source from `config` and register it into `ctx`
/// (see [`Rapid7::register`]).
pub async fn register(ctx: &SessionContext, config: Rapid7Config) -> Result<Rapid7> {
    let rapid7 = Rapid7::new(config)?;
    rapid7.register(ctx).await?;
    Ok(rapid7)
}

/// The `rapid7` schema: one table per log, named after the log (quote names
/// with spaces: `rapid7."Web Proxy"`); a log id works as a table name too.
#[derive(Debug)]
struct LogSchema {
    rapid7: Rapid7,
}

#[async_trait]
impl SchemaProvider for LogSchema {
    fn table_names(&self) -> Vec<String> {
        self.rapid7.known_log_labels()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        match self.rapid7.find_log(name).await {
            Ok(log) => Ok(Some(Arc::new(Rapid7LogsTable::for_log(
                self.rapid7.clone(),
                log,
            )))),
            Err(e @ Error::UnknownLog { .. }) => Err(DataFusionError::Plan(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.rapid7.knows_log(name)
    }
}
