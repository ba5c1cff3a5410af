//! [`SegmentCache`]: planning, writing, reading and maintenance over one
//! [`CacheRoot`], or a bypass.

use std::collections::BTreeMap;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use futures::stream::BoxStream;

use super::config::{CacheConfig, WriterSettings};
use super::endpoint_facts::{self, EndpointFacts};
use super::error::{Error as CacheError, Result as CacheResult};
use super::gc::{self, GcReport};
use super::index;
use super::layout::validate_component;
use super::log_names::{self, MessageForm};
use super::log_sets::{self, StoredLogSet};
use super::maintenance::{self, CompactOptions, CompactReport, DropReport, VerifyReport};
use super::part_counts::{self, BinOf, PartCounts};
use super::reader::{self, PlannedSegment, ReadPlan};
use super::retention::{self, ExpireReport, RetentionReport};
use super::segment::{PartInfo, SegmentInfo};
use super::store::CacheRoot;
use super::stored_name;
use super::writer::SegmentWriter;
use crate::error::Result;
use crate::time::TimeRange;

/// The segment cache: planning, writing, reading and maintenance over one
/// [`CacheRoot`], or a bypass that reads and writes nothing.
#[derive(Debug, Clone)]
pub struct SegmentCache {
    root: Option<CacheRoot>,
    config: CacheConfig,
    settings: WriterSettings,
}

impl SegmentCache {
    /// A cache over `root`.
    pub fn new(root: CacheRoot, config: CacheConfig) -> Self {
        SegmentCache {
            settings: config.writer_settings(),
            root: Some(root),
            config,
        }
    }

    /// Open a directory or URL as a cache (see [`CacheRoot::open`]).
    pub fn open(location: &str, config: CacheConfig) -> Result<Self> {
        Ok(Self::new(CacheRoot::open(location)?, config))
    }

    /// Bypass mode: every read plans a full miss, writers discard their
    /// rows, nothing is read or written.
    pub fn bypass() -> Self {
        let config = CacheConfig::default();
        SegmentCache {
            settings: config.writer_settings(),
            root: None,
            config,
        }
    }

    /// Whether this cache is in bypass mode.
    pub fn is_bypass(&self) -> bool {
        self.root.is_none()
    }

    /// The root, unless in bypass mode.
    pub fn root(&self) -> Option<&CacheRoot> {
        self.root.as_ref()
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    fn require_root(&self) -> CacheResult<&CacheRoot> {
        self.root.as_ref().ok_or_else(|| CacheError::Unavailable {
            location: "(bypass)".into(),
            message: "the cache is bypassed; maintenance needs a cache root".into(),
            source: None,
        })
    }

    /// Log ids that have data in the cache (empty in bypass mode).
    pub async fn list_logs(&self) -> CacheResult<Vec<String>> {
        match &self.root {
            Some(root) => index::list_logs(root).await,
            None => Ok(Vec::new()),
        }
    }

    /// The committed segments of a log with their stats, sorted by range,
    /// from manifests only. A corrupt manifest is an error naming it.
    pub async fn list_segments(&self, log_id: &str) -> CacheResult<Vec<SegmentInfo>> {
        validate_component(log_id)?;
        let Some(root) = &self.root else {
            return Ok(Vec::new());
        };
        index::scan_log(root, log_id, self.config.io_concurrency)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    /// The log names recorded in the cache (id → name; empty in bypass mode).
    pub async fn load_log_names(&self) -> CacheResult<BTreeMap<String, String>> {
        match &self.root {
            Some(root) => log_names::load(root).await,
            None => Ok(Default::default()),
        }
    }

    /// The log sets recorded in the cache (id → set; empty in bypass mode):
    /// those of the last online log list, for offline sessions.
    pub async fn load_log_sets(&self) -> CacheResult<BTreeMap<String, StoredLogSet>> {
        match &self.root {
            Some(root) => log_sets::load(root).await,
            None => Ok(Default::default()),
        }
    }

    /// Replace the log sets recorded in the cache with `sets` (those of an
    /// online log list; `_LOGSETS.json`, written only when they changed).
    /// No-op when bypassed.
    pub async fn save_log_sets(&self, sets: &BTreeMap<String, StoredLogSet>) -> CacheResult<()> {
        match &self.root {
            Some(root) => log_sets::save(root, sets).await,
            None => Ok(()),
        }
    }

    /// Record log names (id → name) in the cache, merged with those already
    /// there, so offline readers can select logs by name. No-op when bypassed.
    pub async fn save_log_names(&self, names: &BTreeMap<String, String>) -> CacheResult<()> {
        match &self.root {
            Some(root) => log_names::save(root, names).await,
            None => Ok(()),
        }
    }

    /// The name the newest parts of `log_id` were written with (`None` when
    /// bypassed, or when no part has rows): the fallback for a log
    /// [`SegmentCache::load_log_names`] does not name.
    pub async fn stored_log_name(&self, log_id: &str) -> Result<Option<String>> {
        validate_component(log_id)?;
        match &self.root {
            Some(root) => {
                stored_name::stored_log_name(root, log_id, self.config.io_concurrency).await
            }
            None => Ok(None),
        }
    }

    /// How each log the cache has a record of sends its messages (empty in
    /// bypass mode). See [`MessageForm`].
    pub async fn message_forms(&self) -> CacheResult<BTreeMap<String, MessageForm>> {
        match &self.root {
            Some(root) => log_names::load_forms(root).await,
            None => Ok(Default::default()),
        }
    }

    /// Record that `log_id` sends its messages in `form`, merged with what is
    /// recorded ([`MessageForm::merge`]: objects, once seen, stay), for every
    /// later session over this cache; returns the form now recorded. A
    /// no-op returning `form` when bypassed.
    pub async fn record_message_form(
        &self,
        log_id: &str,
        form: MessageForm,
    ) -> CacheResult<MessageForm> {
        validate_component(log_id)?;
        match &self.root {
            Some(root) => log_names::record_form(root, log_id, form).await,
            None => Ok(form),
        }
    }

    /// What the cache recorded about the Rapid7 `endpoint` (a base URL;
    /// nothing in bypass mode). See [`EndpointFacts`].
    pub async fn load_endpoint_facts(&self, endpoint: &str) -> CacheResult<EndpointFacts> {
        match &self.root {
            Some(root) => endpoint_facts::load(root, endpoint).await,
            None => Ok(EndpointFacts::default()),
        }
    }

    /// Record what was learnt about `endpoint`: each fact `facts` holds
    /// replaces the stored one, the others stay. No-op when bypassed.
    pub async fn save_endpoint_facts(
        &self,
        endpoint: &str,
        facts: &EndpointFacts,
    ) -> CacheResult<()> {
        match &self.root {
            Some(root) => endpoint_facts::save(root, endpoint, facts).await,
            None => Ok(()),
        }
    }

    /// Plan a read of `request` for one log: the segments that serve it, each
    /// with the sub-range it is responsible for, and the ranges to fetch.
    /// Only segments of every event serve it ([`SegmentCache::plan_read_filtered`]
    /// for filtered reads).
    pub async fn plan_read(&self, log_id: &str, request: TimeRange) -> Result<ReadPlan> {
        self.plan_read_filtered(log_id, None, request).await
    }

    /// [`SegmentCache::plan_read`] for a statement whose events are those of
    /// the canonical LEQL `filter` (the inside of `where(...)`): segments of
    /// every event serve it, and segments of exactly that filter.
    pub async fn plan_read_filtered(
        &self,
        log_id: &str,
        filter: Option<&str>,
        request: TimeRange,
    ) -> Result<ReadPlan> {
        validate_component(log_id)?;
        match &self.root {
            Some(root) => {
                reader::plan_read(
                    root,
                    log_id,
                    filter,
                    request,
                    self.config.verify_on_read,
                    self.config.io_concurrency,
                )
                .await
            }
            None => Ok(ReadPlan::miss(log_id, request)),
        }
    }

    /// A writer for the segment `[range)` of `log_id`.
    pub fn writer(&self, log_id: &str, range: TimeRange) -> Result<SegmentWriter> {
        self.writer_filtered(log_id, None, range)
    }

    /// A writer for a segment of the events of `[range)` of `log_id` that
    /// the canonical LEQL `filter` selects (`None`: every event). A filtered
    /// segment serves only statements with exactly that filter.
    pub fn writer_filtered(
        &self,
        log_id: &str,
        filter: Option<&str>,
        range: TimeRange,
    ) -> Result<SegmentWriter> {
        SegmentWriter::new(
            self.root.as_ref(),
            log_id,
            filter,
            range,
            self.settings.clone(),
        )
    }

    /// Stream the rows a planned segment is responsible for (for consumers
    /// that do not go through DataFusion, and for tests).
    pub fn read(&self, planned: &PlannedSegment) -> BoxStream<'static, Result<RecordBatch>> {
        match &self.root {
            Some(root) => reader::read_segment(root, &planned.segment, planned.responsible),
            None => Box::pin(futures::stream::empty()),
        }
    }

    /// The rows of one part of `planned` within the range it serves, only
    /// the `columns` given (ascending indices of the event schema, starting
    /// with `0`, the timestamp): a reader that wants a few columns of a few
    /// parts reads no more of the files than that.
    pub fn read_part(
        &self,
        planned: &PlannedSegment,
        part: &PartInfo,
        columns: &[usize],
    ) -> BoxStream<'static, Result<RecordBatch>> {
        match &self.root {
            Some(root) if reader::part_meets(part, planned.responsible) => reader::read_part(
                root,
                &planned.segment,
                part.clone(),
                planned.responsible,
                Some(columns.to_vec()),
            ),
            _ => Box::pin(futures::stream::empty()),
        }
    }

    /// The rows of one part of `planned` within the range it serves, counted
    /// per bin of `bin_of` from the `timestamp` column alone: a row group
    /// whose exact footer statistics put it inside the range and inside one
    /// bin is counted without being read (see `part_counts.rs`).
    pub async fn count_part(
        &self,
        planned: &PlannedSegment,
        part: &PartInfo,
        bin_of: &BinOf,
    ) -> Result<PartCounts> {
        match &self.root {
            Some(root) if reader::part_meets(part, planned.responsible) => {
                part_counts::count_part(root, &planned.segment, part, planned.responsible, bin_of)
                    .await
            }
            _ => Ok(PartCounts::default()),
        }
    }

    /// Decode every part of every segment (of one log, or all) and check it
    /// against its manifest. Corrupt segments are reported, not raised.
    pub async fn verify(&self, log_id: Option<&str>) -> Result<VerifyReport> {
        if let Some(id) = log_id {
            validate_component(id)?;
        }
        maintenance::verify(self.require_root()?, log_id, self.config.io_concurrency).await
    }

    /// Remove every segment and leftover of a log.
    pub async fn drop_log(&self, log_id: &str) -> Result<DropReport> {
        maintenance::drop_log(self.require_root()?, log_id, self.config.io_concurrency).await
    }

    /// Remove the segments of a log that overlap `range` (whole segments;
    /// corrupt ones included). They are fetched again when next needed.
    pub async fn drop_range(&self, log_id: &str, range: TimeRange) -> Result<DropReport> {
        maintenance::drop_range(
            self.require_root()?,
            log_id,
            range,
            self.config.io_concurrency,
        )
        .await
    }

    /// Remove leftover parts (not listed by any manifest) whose writer has
    /// been idle for [`CacheConfig::gc_grace`], and segments that
    /// [`SegmentCache::compact`] retired at least that long ago.
    pub async fn gc(&self) -> Result<GcReport> {
        self.gc_with_grace(self.config.gc_grace).await
    }

    /// [`SegmentCache::gc`] with an explicit grace period.
    pub async fn gc_with_grace(&self, grace: Duration) -> Result<GcReport> {
        gc::gc(self.require_root()?, grace, self.config.io_concurrency).await
    }

    /// Retire every segment (of every log) whose range ended at least
    /// `older_than` ago; a segment straddling the cut is kept. Safe against
    /// readers (ADR 0005): the segments leave every listing at once, and
    /// their parts stay until a `gc` after [`CacheConfig::gc_grace`]
    /// deletes them, so a query that planned over them reads on. Disk
    /// space comes back at that `gc`.
    pub async fn expire(&self, older_than: Duration) -> Result<ExpireReport> {
        let older = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
        self.expire_before(crate::time::now_ms().saturating_sub(older))
            .await
    }

    /// [`SegmentCache::expire`] with an explicit cut (epoch ms): segments
    /// whose range ends at or before `cut_ms` are retired.
    pub async fn expire_before(&self, cut_ms: i64) -> Result<ExpireReport> {
        retention::expire(self.require_root()?, cut_ms, self.config.io_concurrency).await
    }

    /// Apply [`CacheConfig::retention`], if set and the cache is not
    /// bypassed: [`SegmentCache::expire`], then [`SegmentCache::gc`] (which
    /// deletes what earlier runs retired once its grace is over). `sync`
    /// calls it after each run.
    pub async fn apply_retention(&self) -> Result<Option<RetentionReport>> {
        let (Some(older_than), false) = (self.config.retention, self.is_bypass()) else {
            return Ok(None);
        };
        let expired = self.expire(older_than).await?;
        let gc = self.gc().await?;
        Ok(Some(RetentionReport { expired, gc }))
    }

    /// Merge runs of small adjacent segments of a log into one segment each,
    /// and retire segments fully shadowed by another. Readers see the same
    /// rows before, during and after, also readers that planned before: the
    /// replaced segments leave the listing at once, and their parts are
    /// deleted by a later `gc` or `compact` once [`CacheConfig::gc_grace`]
    /// has passed.
    pub async fn compact(&self, log_id: &str, options: CompactOptions) -> Result<CompactReport> {
        validate_component(log_id)?;
        maintenance::compact(
            self.require_root()?,
            log_id,
            options,
            &self.settings,
            self.config.gc_grace,
            self.config.io_concurrency,
        )
        .await
    }
}
