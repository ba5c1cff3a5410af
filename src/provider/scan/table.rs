//! The `rapid7_logs` table (and the per-log tables of the `rapid7` schema).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use tracing::debug;

use super::cached::cached_scan;
use super::estimate::query_rate;
use super::exec::Rapid7ScanExec;
use super::filters::{self, apply_filters, read_columns};
use super::log_sets::LogSetsOf;
use super::logs::LogRef;
use super::parquet::{FileOrder, LogPart, ParquetTarget};
use super::plan::{LogScan, PlanInputs, check_complete, estimate_scans, plan_scans};
use super::read::{ScanInputs, Strategy};
use super::report::log_coverage;
use crate::error::Error;
use crate::provider::Rapid7;
use crate::provider::options::on_incomplete;
use crate::provider::translate::{not_pushed, pushed_filter};
use crate::provider::window::{extract_log_selection, extract_windows};
use crate::provider::{Rapid7Options, statement_limit};

/// The events of every log the key can read (`rapid7_logs`), or of one log
/// (`rapid7."Log name"`), as a DataFusion table.
///
/// Every filter is pushed down `Exact`: the time predicates choose the
/// windows to read, `log_name` / `log_id` / `logset` predicates choose the
/// logs (a superset), and the scan applies every filter to the rows it
/// returns. `logset`, the last column, is never read from the cache: each
/// read adds it from the log sets the statement was planned with. Planning reads only the cache's
/// manifests; API calls happen when the plan runs (see the crate docs on
/// `EXPLAIN`).
#[derive(Debug, Clone)]
pub struct Rapid7LogsTable {
    rapid7: Rapid7,
    log: Option<LogRef>,
    newest_first: Option<usize>,
    why_not: Option<Arc<str>>,
}

impl Rapid7 {
    /// The `rapid7_logs` table.
    pub fn table(&self) -> Arc<Rapid7LogsTable> {
        Arc::new(Rapid7LogsTable::new(self.clone()))
    }
}

impl Rapid7LogsTable {
    /// The table of every log.
    pub fn new(rapid7: Rapid7) -> Self {
        Rapid7LogsTable {
            rapid7,
            log: None,
            newest_first: None,
            why_not: None,
        }
    }

    /// The table of one log.
    pub fn for_log(rapid7: Rapid7, log: LogRef) -> Self {
        Rapid7LogsTable {
            rapid7,
            log: Some(log),
            newest_first: None,
            why_not: None,
        }
    }

    /// The source this table reads.
    pub fn rapid7(&self) -> &Rapid7 {
        &self.rapid7
    }

    /// The log this table is restricted to, if any.
    pub fn log(&self) -> Option<&LogRef> {
        self.log.as_ref()
    }

    /// This table, for a scan under `ORDER BY timestamp DESC … LIMIT n`:
    /// what the cache lacks is read newest first, stopping with the newest
    /// `n` rows the statement keeps (the `NewestFirst` rule sets it).
    pub fn with_newest_first(&self, n: usize) -> Self {
        Rapid7LogsTable {
            newest_first: Some(n),
            why_not: None,
            ..self.clone()
        }
    }

    /// This table, for a scan a pushdown did not apply to, and why (`counts
    /// not pushed: …`): a scan that pages shows it in `EXPLAIN`
    /// ([`ScanCost::why_paged`]). The pushdown rules set it.
    ///
    /// [`ScanCost::why_paged`]: crate::provider::ScanCost::why_paged
    pub fn with_why_not(&self, reason: Arc<str>) -> Self {
        Rapid7LogsTable {
            why_not: Some(reason),
            ..self.clone()
        }
    }

    /// The reason of [`Rapid7LogsTable::with_why_not`].
    pub fn why_not(&self) -> Option<&str> {
        self.why_not.as_deref()
    }

    /// The `n` of [`Rapid7LogsTable::with_newest_first`].
    pub fn newest_first(&self) -> Option<usize> {
        self.newest_first
    }
}

#[async_trait]
impl TableProvider for Rapid7LogsTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.rapid7.inner.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let inner = &self.rapid7.inner;
        let config = &inner.config;
        let schema = self.schema();
        let columns = read_columns(&schema, projection, filters)?;
        let projected = match projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => Arc::clone(&schema),
        };
        let Some((mut scans, sets)) =
            plan_logs(&self.rapid7, self.log.as_ref(), state, filters).await?
        else {
            return Ok(Arc::new(EmptyExec::new(projected)));
        };
        let chunk_ms = crate::time::duration_ms(config.fetch_chunk);
        // An endpoint known not to honour `most_recent_first` is read
        // oldest first (EXPLAIN shows no newest-first read).
        let newest_first = match self.newest_first {
            Some(n) if inner.newest_verdict.may_try(&config.cache).await => Some(n),
            _ => None,
        };
        let budget = statement_limit(config, state.config_options());
        let client = config.client.as_ref().filter(|_| !config.is_offline());
        // The estimate serves the budget, and joins sparse pieces (one
        // statistical query against a query saved per joined piece).
        // A newest-first read needs neither: it stops after a few pages,
        // counting what it reads against the limit as it goes.
        let sparse_candidates = scans.iter().any(|s| s.gaps.len() > 1);
        let wanted = (budget > 0 || sparse_candidates) && newest_first.is_none();
        if let (Some(client), true) = (client, wanted) {
            let merged = inner.fetcher.merged_allowed().await;
            estimate_scans(client, &mut scans, chunk_ms, merged).await?;
        }
        let target = match &inner.store_url {
            Some(url) => Some(ParquetTarget {
                url: url.clone(),
                store: state.runtime_env().object_store(url)?,
                schema: Arc::clone(&schema),
                options: state.table_options().parquet.clone(),
                metadata_cache: state.runtime_env().cache_manager.get_file_metadata_cache(),
                order: match newest_first {
                    Some(_) => FileOrder::NewestFirst,
                    None => FileOrder::OldestFirst,
                },
            }),
            None => None,
        };
        inner
            .fetcher
            .tracker
            .add_segments_reused(scans.iter().map(|s| s.segments.len() as u64).sum());
        let partitions = state.config_options().execution.target_partitions.max(1);
        let needs_api = scans
            .iter()
            .any(|s| !s.gaps.is_empty() || !s.live.is_empty());
        let all_whole = scans
            .iter()
            .all(|s| s.segments.iter().all(|p| p.is_whole()));
        debug!(logs = scans.len(), needs_api, "scan_planned");
        if let (false, true, Some(target)) = (needs_api, all_whole, &target) {
            // Everything is cached: a plain Parquet scan, with exact
            // statistics, that the optimizer can prune and push filters into.
            for scan in &scans {
                log_coverage(scan, 0);
            }
            let parts = scans
                .iter()
                .flat_map(|s| {
                    let parts = s.segments.iter().flat_map(|p| p.parts());
                    LogPart::of(parts, &s.log, &sets)
                })
                .collect();
            return cached_scan(state, target, parts, partitions, &columns, filters, limit);
        }
        let pushdown = Rapid7Options::from_config(state.config_options()).pushdown_filters;
        let statement_too_long = pushdown.then(|| pushed_filter(filters).err()).flatten();
        // The Parquet pruning predicate for segments read on this path (over
        // the whole table schema; the FilterExec above plans the same filters
        // over the scan's projected columns).
        let predicate = filters::predicate(state, &schema, filters)?;
        let exec = Rapid7ScanExec::new(
            ScanInputs {
                fetcher: Arc::clone(&inner.fetcher),
                cache: config.cache.clone(),
                target,
                scans,
                sets,
                table_schema: schema,
                projection: columns.read,
                predicate,
                chunk_ms,
                concurrency: config.fetch_concurrency,
                budget,
                query_rate: client.map_or(0.0, query_rate),
                read: Strategy::choose(newest_first, limit, config.cache.is_bypass()),
                why_not: self.why_not.clone(),
                verdict: Arc::clone(&inner.newest_verdict),
                statement: tracing::Span::current(),
                not_pushed: not_pushed(filters, pushdown && statement_too_long.is_none()).into(),
                statement_too_long,
            },
            partitions,
        )?;
        apply_filters(state, Arc::new(exec), filters, columns.keep, limit)
    }
}

/// Plan a statement over `rapid7` (or its log `only`): the windows and logs
/// the filters select, each (log, window) planned against the cache, and
/// the sets of each log (the `logset` column's values, from the same list
/// of sets the selection used). `None` when the filters select no window
/// or no log. Offline, a plan that needs the API is an [`Error::Offline`]
/// naming what is missing.
pub(crate) async fn plan_logs(
    rapid7: &Rapid7,
    only: Option<&LogRef>,
    state: &dyn Session,
    filters: &[Expr],
) -> DfResult<Option<(Vec<LogScan>, LogSetsOf)>> {
    let inner = &rapid7.inner;
    let config = &inner.config;
    let now_ms = state
        .execution_props()
        .query_execution_start_time
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(crate::time::now_ms);
    let windows = extract_windows(filters, now_ms).map_err(Error::from)?;
    let selection = extract_log_selection(filters);
    let sets = inner.directory.logsets().await?;
    let sets_of = LogSetsOf::new(&sets);
    let logs = match only {
        Some(log) if selection.admits(&log.id, log.name.as_deref(), sets_of.of(&log.id)) => {
            vec![log.clone()]
        }
        Some(_) => Vec::new(),
        None => inner.directory.resolve(&selection, &sets).await?,
    };
    if windows.is_empty() || logs.is_empty() {
        return Ok(None);
    }
    let filter = Rapid7Options::from_config(state.config_options())
        .pushdown_filters
        .then(|| pushed_filter(filters).ok().flatten())
        .flatten()
        .map(Arc::<str>::from);
    // How the logs send their messages matters only to a pushed filter.
    let forms = match &filter {
        Some(_) => inner.fetcher.forms.all(&config.cache).await,
        None => Default::default(),
    };
    let scans = plan_scans(
        &config.cache,
        logs,
        windows.ranges(),
        PlanInputs {
            now_ms,
            settle_ms: crate::time::duration_ms(config.settle),
            chunk_ms: crate::time::duration_ms(config.fetch_chunk),
            on_incomplete: on_incomplete(config, state.config_options()),
        },
        filter,
        &forms,
    )
    .await?;
    check_complete(&scans)?;
    if config.is_offline() {
        let missing: Vec<String> = scans.iter().flat_map(LogScan::describe_missing).collect();
        if !missing.is_empty() {
            return Err(Error::Offline { missing }.into());
        }
    }
    Ok(Some((scans, sets_of)))
}
