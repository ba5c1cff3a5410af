//! `Rapid7ScanExec`: the scan of a query that needs the API.
//!
//! Planning a query (and `EXPLAIN`) never calls the API: when the cache
//! lacks part of a window, or the window reaches into the recent edge, the
//! table returns this plan, which shows what it would fetch. Only when it is
//! executed does it fetch the missing ranges into committed segments (shared
//! by every partition, single-flight per log and range in the process), plan
//! the cache again, and stream one Parquet scan over every segment, followed
//! by the ranges that are read live (the recent edge, bypass mode, and
//! segments that serve only part of their range).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use tracing::{Instrument, warn};

use super::estimate::{
    Cost, FetchEstimate, approx, check_budget, human_duration, over_limit_while_reading,
};
use super::fetch::Fetcher;
use super::newest::{Newest, ReadInputs, read_newest};
use super::parquet::{LogPart, ParquetTarget, parquet_exec};
use super::plan::{LogScan, estimate_scans};
use super::report::log_coverage;
use super::verdict::NewestVerdict;
use crate::cache::{PlannedSegment, SegmentCache, TimeRange};
use crate::error::{Counted, Error};
use crate::events::with_log_name;
use crate::leql::MAX_PUSHED_STATEMENT_BYTES;

/// What a scan needs at execution time.
#[derive(Debug)]
pub(crate) struct ScanInputs {
    pub(crate) fetcher: Arc<Fetcher>,
    pub(crate) cache: SegmentCache,
    pub(crate) target: Option<ParquetTarget>,
    pub(crate) scans: Vec<LogScan>,
    /// The full event schema (before projection).
    pub(crate) table_schema: SchemaRef,
    /// The columns of `table_schema` the exec yields: what the query and
    /// the filters read.
    pub(crate) projection: Vec<usize>,
    pub(crate) predicate: Option<Arc<dyn PhysicalExpr>>,
    pub(crate) chunk_ms: i64,
    pub(crate) concurrency: usize,
    /// Most events the gaps may hold (0: no limit).
    pub(crate) budget: u64,
    /// Event queries a second at this key's quota (for costs in messages).
    pub(crate) query_rate: f64,
    /// `ORDER BY timestamp DESC … LIMIT n` above: read newest first and stop
    /// with the newest `n` kept events (see `newest.rs`), when nothing of the
    /// window is cached.
    pub(crate) newest_first: Option<usize>,
    /// Why a pushdown (counts, newest first) did not apply to the statement
    /// this scan serves, when one was tried.
    pub(crate) why_not: Option<Arc<str>>,
    /// Whether the endpoint honours `most_recent_first`, once known.
    pub(crate) verdict: Arc<NewestVerdict>,
    /// A `LIMIT` reached the scan: missing ranges are read as the rows are
    /// pulled, not fetched first, so the limit stops the paging.
    pub(crate) lazy: bool,
    /// The span the statement was planned in (its `statement` span, when
    /// the caller made one): fetches and reads are its children wherever
    /// DataFusion polls them.
    pub(crate) statement: tracing::Span,
    /// The statement's filters on `message` not sent to Rapid7, named by a
    /// budget error.
    pub(crate) not_pushed: Arc<[String]>,
    /// The length of the `where(…)` the filters imply, when it is over
    /// [`MAX_PUSHED_STATEMENT_BYTES`] and so not pushed (`EXPLAIN` says so).
    pub(crate) statement_too_long: Option<usize>,
}

/// A range read outside the Parquet scan.
#[derive(Debug, Clone)]
enum Extra {
    /// Straight from the API, not committed.
    Live(usize, TimeRange),
    /// A segment (of the scan at this index) that serves only part of its
    /// range.
    Partial(usize, PlannedSegment),
    /// Rows already read (newest first), of the scan's projection.
    Read(Arc<[RecordBatch]>),
}

#[derive(Debug)]
struct Prepared {
    parquet: Option<Arc<dyn ExecutionPlan>>,
    extras: Vec<Vec<Extra>>,
}

#[derive(Debug)]
struct Shared {
    inputs: ScanInputs,
    partitions: usize,
    /// Fetch even over the budget (the shell asked, the user said yes).
    approved: AtomicBool,
    /// Events the lazy reads of this scan have read.
    lazy_read: Arc<AtomicU64>,
    prepared: tokio::sync::OnceCell<Result<Arc<Prepared>, Arc<DataFusionError>>>,
}

/// The scan of a `rapid7_logs` query that fetches when executed.
#[derive(Debug)]
pub struct Rapid7ScanExec {
    shared: Arc<Shared>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl Rapid7ScanExec {
    pub(crate) fn new(inputs: ScanInputs, partitions: usize) -> DfResult<Self> {
        let schema = Arc::new(inputs.table_schema.project(&inputs.projection)?);
        let partitions = partitions.max(1);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Rapid7ScanExec {
            shared: Arc::new(Shared {
                inputs,
                partitions,
                approved: AtomicBool::new(false),
                lazy_read: Arc::default(),
                prepared: tokio::sync::OnceCell::new(),
            }),
            schema,
            properties: Arc::new(properties),
        })
    }

    /// The `(log, range)` pieces this scan fetches into the cache when
    /// executed, as `log [from, to)` strings.
    pub fn planned_fetches(&self) -> Vec<String> {
        self.shared
            .inputs
            .scans
            .iter()
            .filter(|s| s.commits())
            .flat_map(|s| s.gaps.iter().map(move |g| s.log.describe(g)))
            .collect()
    }

    /// Per log, what fetching its gaps costs (logs that were estimated).
    pub fn estimates(&self) -> Vec<(String, FetchEstimate)> {
        self.shared
            .inputs
            .scans
            .iter()
            .filter_map(|s| s.estimate.map(|e| (s.log.label().to_string(), e)))
            .collect()
    }

    /// The most events this scan may fetch (0: no limit).
    pub fn fetch_budget(&self) -> u64 {
        self.shared.inputs.budget
    }

    /// Whether the estimated fetch exceeds the budget (executing it fails
    /// before any event page, unless [approved](Self::approve_fetch)).
    pub fn over_budget(&self) -> bool {
        self.budget_check().is_err()
    }

    /// The error executing this scan would fail with, if over the budget.
    pub fn budget_check(&self) -> crate::Result<()> {
        let inputs = &self.shared.inputs;
        if inputs.lazy || inputs.newest_first.is_some() {
            // They stop early; what they read counts against the limit as
            // they read it.
            return Ok(());
        }
        check_budget(&self.estimates(), inputs.budget, inputs.query_rate)
            .map_err(|e| e.with_not_pushed(&inputs.not_pushed))
    }

    /// `≈8.6M events (≈17,300 queries, ≈2.9 h at this key's quota)`: the
    /// whole estimated fetch, for a prompt.
    pub fn fetch_cost(&self) -> String {
        let total = self
            .estimates()
            .iter()
            .fold(FetchEstimate::default(), |acc, (_, e)| acc + *e);
        Cost {
            estimate: total,
            duration: total.duration_at(self.shared.inputs.query_rate),
        }
        .to_string()
    }

    /// The statement's filters on `message` that Rapid7 was not asked to
    /// apply (SQL text): they do not narrow the fetch.
    pub fn not_pushed(&self) -> &[String] {
        &self.shared.inputs.not_pushed
    }

    /// Why a pushdown did not apply to this scan's statement (`counts not
    /// pushed: GROUP BY message is not constant within a time bin`), when
    /// one was tried: the reason it pages.
    pub fn why_not(&self) -> Option<&str> {
        self.shared.inputs.why_not.as_deref()
    }

    /// Fetch even over the budget: the user was asked and agreed.
    pub fn approve_fetch(&self) {
        self.shared.approved.store(true, Ordering::Relaxed);
    }

    /// The ranges this scan reads from the API without caching: the recent
    /// edge, and the gaps of a log whose pushed filter is not cached (how
    /// it sends its messages is not known yet).
    pub fn planned_live_reads(&self) -> Vec<String> {
        self.shared
            .inputs
            .scans
            .iter()
            .flat_map(|s| {
                let gaps = s.gaps.iter().filter(|_| !s.commits());
                gaps.chain(&s.live).map(move |g| s.log.describe(g))
            })
            .collect()
    }
}

impl Shared {
    async fn prepare(&self) -> DfResult<Arc<Prepared>> {
        self.prepared
            .get_or_init(|| {
                self.prepare_once()
                    .map(|r| r.map(Arc::new).map_err(Arc::new))
                    .instrument(self.inputs.statement.clone())
            })
            .await
            .clone()
            .map_err(DataFusionError::Shared)
    }

    /// The `n` of a newest-first read, if this scan is one.
    fn newest_first(&self) -> Option<usize> {
        self.inputs.newest_first
    }

    async fn prepare_once(&self) -> DfResult<Prepared> {
        if let Some(n) = self.newest_first() {
            return self.prepare_newest_first(n).await;
        }
        let all: Vec<(usize, LogScan)> = self.inputs.scans.iter().cloned().enumerate().collect();
        self.prepare_oldest_first(&all, 0).await
    }

    /// Fetch the gaps of `only` (each with its index among the inputs'
    /// scans) into segments, within the limit of events less `spent` (read
    /// already, by a newest-first attempt), then plan one Parquet scan over
    /// their segments and the ranges read live.
    async fn prepare_oldest_first(
        &self,
        only: &[(usize, LogScan)],
        spent: u64,
    ) -> DfResult<Prepared> {
        let inputs = &self.inputs;
        let scans = || only.iter().map(|(i, s)| (*i, s));
        // A lazy read stops at its limit; what it reads counts against the
        // limit of events as it goes (`open_extra`).
        if !self.approved.load(Ordering::Relaxed) && !inputs.lazy {
            let mut per_log: Vec<(String, FetchEstimate)> = scans()
                .filter_map(|(_, s)| s.estimate.map(|e| (s.log.label().to_string(), e)))
                .collect();
            if spent > 0 {
                per_log.push((
                    "(read newest first before the fallback)".to_string(),
                    FetchEstimate {
                        events: spent,
                        queries: 0,
                    },
                ));
            }
            check_budget(&per_log, inputs.budget, inputs.query_rate)
                .map_err(|e| e.with_not_pushed(&inputs.not_pushed).into_datafusion())?;
        }
        let bypass = inputs.cache.is_bypass() || inputs.lazy;
        if !bypass {
            let pieces: Vec<(String, TimeRange)> = scans()
                .flat_map(|(_, s)| s.gaps.iter().map(|g| (s.log.label().to_string(), *g)))
                .collect();
            let estimated = scans().any(|(_, s)| s.estimate.is_some()).then(|| {
                scans()
                    .filter_map(|(_, s)| s.estimate)
                    .map(|e| e.events)
                    .sum()
            });
            let logs = scans().filter(|(_, s)| !s.gaps.is_empty()).count();
            let statement = Arc::new(
                inputs
                    .fetcher
                    .tracker
                    .begin_statement(logs, pieces, estimated),
            );
            let fetches: Vec<_> = scans()
                .filter(|(_, s)| s.commits())
                .flat_map(|(idx, s)| {
                    let statement = &statement;
                    s.gaps.iter().map(move |g| {
                        let statement = Arc::clone(statement);
                        inputs
                            .fetcher
                            .fetch_segment(&s.log, s.filter.as_ref(), *g)
                            .inspect(move |r| {
                                if let Ok(outcome) = r {
                                    statement.piece_done(outcome.events);
                                }
                            })
                            .map(move |r| r.map(|outcome| (idx, outcome.events)))
                    })
                })
                .collect();
            let fetched = inputs
                .fetcher
                .run_fetches(fetches, inputs.concurrency)
                .await
                .map_err(DataFusionError::Shared)?;
            let mut per_scan = vec![0u64; inputs.scans.len()];
            for (idx, events) in fetched {
                per_scan[idx] += events;
            }
            for (idx, scan) in scans() {
                log_coverage(scan, per_scan[idx]);
            }
        } else {
            for (_, scan) in scans() {
                log_coverage(scan, 0);
            }
        }
        let mut extras = Vec::new();
        let mut whole_parts = Vec::new();
        for (idx, planned) in scans() {
            let mut scan = planned.clone();
            // A filter not cached for its log (its form is not known yet):
            // the gaps are read with it, not fetched into segments.
            let fetched = !bypass && scan.commits();
            if fetched && !scan.gaps.is_empty() {
                scan.replan(&inputs.cache, inputs.chunk_ms).await?;
            }
            for gap in &scan.gaps {
                if fetched && !inputs.lazy {
                    // Dropped or changed under us since the fetch: read it live.
                    warn!(
                        log_id = %scan.log.id,
                        range = %gap,
                        detail = "the range is read without caching",
                        "fetch_range_still_missing"
                    );
                }
                extras.push(Extra::Live(idx, *gap));
            }
            extras.extend(scan.live.iter().map(|r| Extra::Live(idx, *r)));
            for seg in scan.segments {
                if seg.is_whole() {
                    whole_parts.extend(LogPart::of(seg.parts(), scan.log.name.as_deref()));
                } else {
                    extras.push(Extra::Partial(idx, seg));
                }
            }
        }
        let parquet = match (&inputs.target, whole_parts.is_empty()) {
            (Some(target), false) => Some(parquet_exec(
                target,
                whole_parts,
                self.partitions,
                Some(&inputs.projection),
                inputs.predicate.clone(),
                None,
            )?),
            _ => None,
        };
        let mut per_partition = vec![Vec::new(); self.partitions];
        for (i, extra) in extras.into_iter().enumerate() {
            per_partition[i % self.partitions].push(extra);
        }
        Ok(Prepared {
            parquet,
            extras: per_partition,
        })
    }

    /// Read every scan newest first until the newest `n` kept events of
    /// each log are in hand (`newest.rs`). A log whose pages do not come
    /// newest first (and every log after it: the endpoint is the same) is
    /// read oldest first instead, within the limit of events.
    async fn prepare_newest_first(&self, n: usize) -> DfResult<Prepared> {
        let inputs = &self.inputs;
        let mut read = ReadInputs {
            fetcher: &inputs.fetcher,
            cache: &inputs.cache,
            table_schema: &inputs.table_schema,
            projection: &inputs.projection,
            predicate: inputs.predicate.as_ref(),
            want: n,
            limit: if self.approved.load(Ordering::Relaxed) {
                0
            } else {
                inputs.budget
            },
            rate: inputs.query_rate,
            spent: 0,
        };
        let mut reads = Vec::new();
        let mut oldest_first = Vec::new();
        let mut spent = 0u64;
        let mut honoured = inputs.verdict.may_try(&inputs.cache).await;
        for (idx, scan) in inputs.scans.iter().enumerate() {
            if !honoured {
                oldest_first.push((idx, scan.clone()));
                continue;
            }
            read.spent = spent;
            match read_newest(&read, scan)
                .await
                .map_err(Error::into_datafusion)?
            {
                Newest::Read(read) => {
                    log_coverage(scan, read.events);
                    spent += read.events;
                    reads.push(Extra::Read(read.batches.into()));
                }
                Newest::NotHonoured { why, events } => {
                    inputs.verdict.not_honoured(&inputs.cache, &why).await;
                    honoured = false;
                    spent += events;
                    oldest_first.push((idx, scan.clone()));
                }
                Newest::Unshown { why, events } => {
                    // Not proof the endpoint ignores the flag: this log
                    // alone is read oldest first.
                    tracing::debug!(
                        log_id = %scan.log.id,
                        detail = %why,
                        "newest_first_order_unshown"
                    );
                    spent += events;
                    oldest_first.push((idx, scan.clone()));
                }
            }
        }
        let mut prepared = if oldest_first.is_empty() {
            Prepared {
                parquet: None,
                extras: vec![Vec::new(); self.partitions],
            }
        } else {
            self.estimate_fallback(&mut oldest_first).await?;
            self.prepare_oldest_first(&oldest_first, spent).await?
        };
        let offset = prepared.extras.iter().map(Vec::len).sum::<usize>();
        for (i, extra) in reads.into_iter().enumerate() {
            prepared.extras[(offset + i) % self.partitions].push(extra);
        }
        Ok(prepared)
    }

    /// Estimate the scans read oldest first after a newest-first attempt
    /// (planned newest first, they were not estimated), for the budget and
    /// to join sparse pieces, as planning does for an oldest-first scan.
    async fn estimate_fallback(&self, scans: &mut [(usize, LogScan)]) -> DfResult<()> {
        let inputs = &self.inputs;
        let Ok(client) = inputs.fetcher.client() else {
            return Ok(());
        };
        let sparse = scans.iter().any(|(_, s)| s.gaps.len() > 1);
        if inputs.budget == 0 && !sparse {
            return Ok(());
        }
        let mut planned: Vec<LogScan> = scans.iter().map(|(_, s)| s.clone()).collect();
        estimate_scans(client, &mut planned, inputs.chunk_ms)
            .await
            .map_err(Error::into_datafusion)?;
        for ((_, scan), estimated) in scans.iter_mut().zip(planned) {
            *scan = estimated;
        }
        Ok(())
    }

    fn open_extra(&self, extra: &Extra) -> DfResult<BoxStream<'static, DfResult<RecordBatch>>> {
        let _statement = self.inputs.statement.enter();
        let stream: BoxStream<'static, crate::Result<RecordBatch>> = match extra {
            Extra::Live(idx, range) => {
                let scan = &self.inputs.scans[*idx];
                let rows =
                    self.inputs
                        .fetcher
                        .stream_range(&scan.log, scan.filter.as_deref(), *range)?;
                if self.inputs.lazy && !self.approved.load(Ordering::Relaxed) {
                    self.counted(rows, scan.log.label().to_string())
                } else {
                    rows
                }
            }
            Extra::Partial(idx, seg) => {
                let name = self.inputs.scans[*idx].log.name.clone();
                self.inputs
                    .cache
                    .read(seg)
                    .map(move |batch| with_log_name(batch?, name.as_deref()))
                    .boxed()
            }
            Extra::Read(batches) => {
                // Already of the scan's projection.
                let batches = Arc::clone(batches);
                return Ok(futures::stream::iter(
                    (0..batches.len()).map(move |i| Ok(batches[i].clone())),
                )
                .boxed());
            }
        };
        let projection = self.inputs.projection.clone();
        Ok(stream
            .map(move |batch| {
                let batch = batch.map_err(Error::into_datafusion)?;
                Ok(batch.project(&projection)?)
            })
            .boxed())
    }
}

impl Shared {
    /// `rows`, failing once the lazy reads of this scan pass the limit of
    /// events (`max_fetch_events`).
    fn counted(
        &self,
        rows: BoxStream<'static, crate::Result<RecordBatch>>,
        log: String,
    ) -> BoxStream<'static, crate::Result<RecordBatch>> {
        let (read, limit, rate) = (
            Arc::clone(&self.lazy_read),
            self.inputs.budget,
            self.inputs.query_rate,
        );
        rows.map(move |batch| {
            let batch = batch?;
            let total = read.fetch_add(batch.num_rows() as u64, Ordering::Relaxed)
                + batch.num_rows() as u64;
            if limit > 0 && total > limit {
                return Err(lazy_over_limit(&log, total, limit, rate));
            }
            Ok(batch)
        })
        .boxed()
    }
}

fn lazy_over_limit(log: &str, events: u64, limit: u64, rate: f64) -> Error {
    over_limit_while_reading(log.to_string(), Counted::ReadForLimit, events, limit, rate)
}

impl DisplayAs for Rapid7ScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scans = &self.shared.inputs.scans;
        let segments: usize = scans.iter().map(|s| s.segments.len()).sum();
        let fetches = self.planned_fetches();
        let live = self.planned_live_reads();
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(
                    f,
                    "Rapid7ScanExec: logs={}, cached_segments={segments}, fetch_on_execute={}, live_on_execute={}",
                    scans.len(),
                    list(&fetches),
                    list(&live),
                )?;
                if let Some(filter) = scans.iter().find_map(|s| s.filter.as_deref()) {
                    write!(f, ", leql=where({filter})")?;
                } else if let Some(bytes) = self.shared.inputs.statement_too_long {
                    write!(
                        f,
                        ", leql=not pushed (its where() would be {bytes} bytes, over the \
                         {MAX_PUSHED_STATEMENT_BYTES} pushed; the SQL filters the unfiltered rows)"
                    )?;
                }
                if let Some(n) = self.shared.newest_first() {
                    write!(f, ", most_recent_first=true, stop_after={n}")?;
                } else if self.shared.inputs.lazy {
                    write!(f, ", read_as_pulled=true")?;
                }
                let estimates = self.estimates();
                if !estimates.is_empty() {
                    let rate = self.shared.inputs.query_rate;
                    let shown: Vec<String> = estimates
                        .iter()
                        .map(|(log, e)| {
                            format!(
                                "{log} ≈{} events ≈{} queries ≈{}",
                                approx(e.events),
                                approx(e.queries),
                                human_duration(e.duration_at(rate))
                            )
                        })
                        .collect();
                    write!(f, ", estimate={}", list(&shown))?;
                    if self.over_budget() {
                        write!(f, ", over_budget={}", self.shared.inputs.budget)?;
                    }
                }
                if self.shared.inputs.cache.is_bypass() {
                    write!(f, ", cache=bypass")?;
                }
                if let Some(why) = self.why_not() {
                    write!(f, ", why_paged=\"{why}\"")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => {
                writeln!(f, "logs={}", scans.len())?;
                writeln!(f, "cached_segments={segments}")?;
                writeln!(f, "fetches={}", fetches.len())?;
                write!(f, "live_reads={}", live.len())
            }
        }
    }
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = format!(
        "[{}",
        items
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if items.len() > SHOWN {
        s.push_str(&format!(", … {} more", items.len() - SHOWN));
    }
    s.push(']');
    s
}

impl ExecutionPlan for Rapid7ScanExec {
    fn name(&self) -> &str {
        "Rapid7ScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        match &self.shared.inputs.predicate {
            Some(p) => f(p),
            None => Ok(TreeNodeRecursion::Continue),
        }
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        if partition >= self.shared.partitions {
            return Err(DataFusionError::Internal(format!(
                "Rapid7ScanExec has {} partitions, asked for {partition}",
                self.shared.partitions
            )));
        }
        let shared = Arc::clone(&self.shared);
        let opened = async move {
            let prepared = shared.prepare().await?;
            let mut streams: Vec<BoxStream<'static, DfResult<RecordBatch>>> = Vec::new();
            if let Some(parquet) = &prepared.parquet {
                streams.push(parquet.execute(partition, context)?.boxed());
            }
            for extra in &prepared.extras[partition] {
                streams.push(shared.open_extra(extra)?);
            }
            Ok::<_, DataFusionError>(futures::stream::iter(streams).flatten())
        };
        let stream = futures::stream::once(opened).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}
