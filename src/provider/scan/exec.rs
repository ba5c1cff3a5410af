//! `Rapid7ScanExec`: the scan of a query that needs the API.
//!
//! Planning a query (and `EXPLAIN`) never calls the API: when the cache
//! lacks part of a window, or the window reaches into the recent edge, the
//! table returns this plan, which shows what it would fetch. Only when it is
//! executed does it run its read strategy (`read/`: fetch first, bypass,
//! lazy or newest first), once for all partitions, and stream one Parquet
//! scan over every segment, followed by the ranges that are read live (the
//! recent edge, bypass mode, and segments that serve only part of their
//! range) and the rows read already.
//!
//! The node is not changed once planned: approval over the limit of events
//! ([`StatementCost::approve`](crate::provider::StatementCost::approve))
//! makes an approved copy ([`Rapid7ScanExec::approved`]).

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, PhysicalExpr, PlanProperties};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use tracing::Instrument;

use super::estimate::{FetchEstimate, approx, check_budget, human_duration};
use super::plan::LogScan;
use super::read::{self, Extra, Prepared, Run, ScanInputs, Strategy};
use crate::error::Error;
use crate::events::with_log_name;
use crate::fetch::{FetchRequest, Fetcher};
use crate::leql::{self, MAX_PUSHED_STATEMENT_BYTES};
use crate::provider::leaf::{LeafExec, leaf_exec, leaf_properties};
use crate::text::short_list;

/// Which planned scan a node is, the same for its approved copy: its
/// inputs, held weakly. A weak reference keeps the allocation, so a later
/// plan's inputs can never take over the address and be approved by a cost
/// estimated for another plan.
#[derive(Debug, Clone)]
pub(crate) struct ScanId(Weak<ScanInputs>);

impl ScanId {
    /// Whether `scan` is this planned scan (or its approved copy).
    pub(crate) fn is(&self, scan: &Rapid7ScanExec) -> bool {
        std::ptr::eq(self.0.as_ptr(), Arc::as_ptr(&scan.shared.inputs))
    }
}

/// The state of one scan node: its inputs (shared with its approved
/// copy), and what executing it prepared.
#[derive(Debug)]
struct Shared {
    inputs: Arc<ScanInputs>,
    partitions: usize,
    /// Read even over the limit of events: the caller approved the
    /// estimate ([`Rapid7ScanExec::approved`]).
    approved: bool,
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
        Ok(Self::with_state(
            Arc::new(inputs),
            partitions,
            false,
            schema,
        ))
    }

    fn with_state(
        inputs: Arc<ScanInputs>,
        partitions: usize,
        approved: bool,
        schema: SchemaRef,
    ) -> Self {
        let partitions = partitions.max(1);
        Rapid7ScanExec {
            shared: Arc::new(Shared {
                inputs,
                partitions,
                approved,
                lazy_read: Arc::default(),
                prepared: tokio::sync::OnceCell::new(),
            }),
            properties: leaf_properties(&schema, partitions, EmissionType::Incremental),
            schema,
        }
    }

    /// A copy of this scan, not executed yet, that reads even over the
    /// limit of events (the caller approved its estimate); this node is
    /// left as it is.
    pub(crate) fn approved(&self) -> Self {
        Self::with_state(
            Arc::clone(&self.shared.inputs),
            self.shared.partitions,
            true,
            Arc::clone(&self.schema),
        )
    }

    /// Whether this scan reads over the limit of events (approved).
    pub(crate) fn is_approved(&self) -> bool {
        self.shared.approved
    }

    /// Which planned scan this node is: the same for its approved copy.
    pub(crate) fn id(&self) -> ScanId {
        ScanId(Arc::downgrade(&self.shared.inputs))
    }

    /// Whether this scan fetches through `fetcher` (belongs to its source).
    pub(crate) fn fetches_with(&self, fetcher: &Arc<Fetcher>) -> bool {
        Arc::ptr_eq(&self.shared.inputs.fetcher, fetcher)
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
    pub(crate) fn estimates(&self) -> Vec<(String, FetchEstimate)> {
        self.shared
            .inputs
            .scans
            .iter()
            .filter_map(|s| s.estimate.map(|e| (s.estimate_label(), e)))
            .collect()
    }

    /// The most events this scan may fetch (0: no limit).
    pub(crate) fn fetch_limit(&self) -> u64 {
        self.shared.inputs.budget
    }

    /// Event queries a second at this key's quota (for costs in messages).
    pub(crate) fn query_rate(&self) -> f64 {
        self.shared.inputs.query_rate
    }

    /// Whether the estimated fetch exceeds the limit of events (executing
    /// it fails before any event page, unless approved). Strategies that
    /// count as they read are never over before they run.
    pub(crate) fn over_limit(&self) -> bool {
        self.budget_check().is_err()
    }

    /// The error executing this scan unapproved would fail with, if its
    /// estimate is over the limit.
    pub(crate) fn budget_check(&self) -> crate::Result<()> {
        let inputs = &self.shared.inputs;
        if !inputs.read.checks_estimate() {
            // They stop early; what they read counts against the limit as
            // they read it.
            return Ok(());
        }
        check_budget(&self.estimates(), inputs.budget, inputs.query_rate)
            .map_err(|e| e.with_not_pushed(&inputs.not_pushed))
    }

    /// The statement's filters on `message` that Rapid7 was not asked to
    /// apply (SQL text): they do not narrow the fetch.
    pub(crate) fn not_pushed(&self) -> &[String] {
        &self.shared.inputs.not_pushed
    }

    /// Why a pushdown did not apply to this scan's statement (`counts not
    /// pushed: GROUP BY message is not constant within a time bin`), when
    /// one was tried: the reason it pages.
    pub(crate) fn why_not(&self) -> Option<&str> {
        self.shared.inputs.why_not.as_deref()
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
                self.run_strategy()
                    .map(|r| r.map(Arc::new).map_err(Arc::new))
                    .instrument(self.inputs.statement.clone())
            })
            .await
            .clone()
            .map_err(DataFusionError::Shared)
    }

    /// Run the scan's read strategy (`read/`): fetch or read what it reads
    /// before the rows are pulled, and plan the rest.
    async fn run_strategy(&self) -> DfResult<Prepared> {
        let run = Run {
            inputs: &self.inputs,
            partitions: self.partitions,
            approved: self.approved,
        };
        let all: Vec<(usize, LogScan)> = self.inputs.scans.iter().cloned().enumerate().collect();
        match self.inputs.read {
            Strategy::FetchFirst => read::fetch_first::prepare(run, &all, 0).await,
            Strategy::Bypass => read::bypass::prepare(run, &all, 0).await,
            Strategy::Lazy => read::lazy::prepare(run, &all).await,
            Strategy::NewestFirst { n } => read::newest_run::prepare(run, n).await,
        }
    }

    fn open_extra(&self, extra: &Extra) -> DfResult<BoxStream<'static, DfResult<RecordBatch>>> {
        let _statement = self.inputs.statement.enter();
        let stream: BoxStream<'static, crate::Result<RecordBatch>> = match extra {
            Extra::Live(idx, range) => {
                let scan = &self.inputs.scans[*idx];
                let rows = self.inputs.fetcher.stream_range(&FetchRequest::new(
                    scan.log.clone(),
                    scan.filter.clone(),
                    *range,
                ))?;
                if self.inputs.read == Strategy::Lazy && !self.approved {
                    read::lazy::counted(
                        rows,
                        scan.log.label().to_string(),
                        Arc::clone(&self.lazy_read),
                        self.inputs.budget,
                        self.inputs.query_rate,
                    )
                } else {
                    rows
                }
            }
            Extra::LiveMerged(idxs, range) => {
                let scans = &self.inputs.scans;
                let requests = idxs
                    .iter()
                    .map(|i| {
                        FetchRequest::new(scans[*i].log.clone(), scans[*i].filter.clone(), *range)
                    })
                    .collect();
                let rows = self.inputs.fetcher.stream_merged(requests)?;
                if self.inputs.read == Strategy::Lazy && !self.approved {
                    read::lazy::counted(
                        rows,
                        format!("{} logs", idxs.len()),
                        Arc::clone(&self.lazy_read),
                        self.inputs.budget,
                        self.inputs.query_rate,
                    )
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
        let sets = self.inputs.sets.clone();
        Ok(stream
            .map(move |batch| {
                let batch = batch.map_err(Error::into_datafusion)?;
                Ok(sets.with_column(batch)?.project(&projection)?)
            })
            .boxed())
    }
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
                    short_list(&fetches),
                    short_list(&live),
                )?;
                if let Some(filter) = scans.iter().find_map(|s| s.filter.as_deref()) {
                    write!(f, ", leql={}", leql::events_statement(Some(filter)))?;
                } else if let Some(bytes) = self.shared.inputs.statement_too_long {
                    write!(
                        f,
                        ", leql=not pushed (its where() would be {bytes} bytes, over the \
                         {MAX_PUSHED_STATEMENT_BYTES} pushed; the SQL filters the unfiltered rows)"
                    )?;
                }
                match self.shared.inputs.read {
                    Strategy::NewestFirst { n } => {
                        write!(f, ", most_recent_first=true, stop_after={n}")?;
                    }
                    Strategy::Lazy => write!(f, ", read_as_pulled=true")?,
                    Strategy::FetchFirst | Strategy::Bypass => {}
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
                    write!(f, ", estimate={}", short_list(&shown))?;
                    if self.over_limit() {
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

leaf_exec!(Rapid7ScanExec);

impl LeafExec for Rapid7ScanExec {
    const NAME: &'static str = "Rapid7ScanExec";

    fn leaf_properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn expression(&self) -> Option<&Arc<dyn PhysicalExpr>> {
        self.shared.inputs.predicate.as_ref()
    }

    fn open(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
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
