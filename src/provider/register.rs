//! Registration into a `SessionContext`: the `rapid7_logs` table, the
//! `rapid7` schema with one table per log, the `rapid7_logsets` schema with
//! one table per log set, the `rapid7_parsed` schema, the table functions
//! and the field functions.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::context::SessionContext;
use datafusion::optimizer::OptimizerRule;

use super::counts::CountPushdown;
use super::logset_hint::LogsetComparison;
use super::logsets::{LOGSETS_SCHEMA, LogSetSchema};
use super::newest_first::NewestFirst;
use super::options::Rapid7Options;
use super::parsed::{PARSED_SCHEMA, ParsedSchema};
use super::scan::Rapid7LogsTable;
use super::source::Rapid7;
use super::udtf::{CacheFunction, CoverageFunction, FieldsFunction, LeqlFunction};
use crate::client;
use crate::config::Rapid7Config;
use crate::error::{Error, Result};
use crate::fields::field_udf;

/// Name of the table of every log.
pub const LOGS_TABLE: &str = "rapid7_logs";
/// Name of the schema with one table per log.
pub const LOGS_SCHEMA: &str = "rapid7";

impl Rapid7 {
    /// Register everything into `ctx`: the object store of the cache, the
    /// `rapid7_logs` table, the `rapid7` schema (one table per log, named
    /// after the log), the `rapid7_logsets` schema (one table per log set),
    /// the `rapid7_parsed` schema (the same logs with their
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
        {
            let state = ctx.state_ref();
            let mut state = state.write();
            let options = state.config_mut().options_mut();
            if options.extensions.get::<Rapid7Options>().is_none() {
                options.extensions.insert(Rapid7Options {
                    pushdown_aggregates: self.config().pushdown_aggregates,
                    ..Rapid7Options::default()
                });
            }
        }
        let present = |name: &str| ctx.state().optimizers().iter().any(|r| r.name() == name);
        if !present(CountPushdown.name()) {
            ctx.add_optimizer_rule(Arc::new(CountPushdown));
        }
        if !present(NewestFirst.name()) {
            ctx.add_optimizer_rule(Arc::new(NewestFirst));
        }
        // A function registry's planners have no name to check: look for
        // ours by its type, so registering twice adds it once.
        {
            let state = ctx.state_ref();
            let mut state = state.write();
            let hinted = state
                .expr_planners()
                .iter()
                .any(|p| format!("{p:?}") == format!("{LogsetComparison:?}"));
            if !hinted {
                state.register_expr_planner(Arc::new(LogsetComparison))?;
            }
        }
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
        catalog.register_schema(
            LOGSETS_SCHEMA,
            Arc::new(LogSetSchema {
                rapid7: self.clone(),
                logs_table: LOGS_TABLE,
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
            "rapid7_leql",
            Arc::new(LeqlFunction {
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
            Err(
                e @ Error::Client(
                    client::Error::UnknownLog { .. } | client::Error::AmbiguousLog { .. },
                ),
            ) => Err(DataFusionError::Plan(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.rapid7.knows_log(name)
    }
}
