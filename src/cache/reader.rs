//! Read planning: which committed segments serve a request, and which
//! sub-range each one is responsible for.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::TimestampMillisecondType;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::check::check_segments;
use super::index::scan_log_listing;
use super::layout::filter_key;
use super::part_reader::PartReader;
use super::range::{Coverage, assign_responsibility, plan_coverage};
use super::segment::{PartInfo, SegmentInfo};
use super::store::CacheRoot;
use crate::error::Result;
use crate::time::TimeRange;

/// A committed segment chosen to serve part of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSegment {
    /// The segment.
    pub segment: SegmentInfo,
    /// The instants this segment alone serves: read only rows with
    /// `responsible.start() <= timestamp < responsible.end()` from it.
    pub responsible: TimeRange,
}

impl PlannedSegment {
    /// Whether the responsible range is the segment's whole range (then no
    /// row filter beyond the query's own is needed).
    pub fn is_whole(&self) -> bool {
        self.responsible == self.segment.range()
    }

    /// The parts that can hold rows of the responsible range.
    pub fn parts(&self) -> Vec<PartInfo> {
        self.segment
            .parts()
            .into_iter()
            .filter(|p| match (p.min_timestamp_ms, p.max_timestamp_ms) {
                (Some(lo), Some(hi)) => {
                    lo < self.responsible.end() && self.responsible.start() <= hi
                }
                _ => false,
            })
            .collect()
    }
}

/// How one request for one log is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    /// The log.
    pub log_id: String,
    /// Cached and missing ranges of the request, and hit/partial/miss.
    pub coverage: Coverage,
    /// Segments to read, sorted by responsible range; their responsible
    /// ranges are disjoint and together equal `coverage.cached`.
    pub segments: Vec<PlannedSegment>,
}

impl ReadPlan {
    /// A plan with nothing cached (bypass mode).
    pub(crate) fn miss(log_id: &str, request: TimeRange) -> Self {
        ReadPlan {
            log_id: log_id.to_string(),
            coverage: plan_coverage(request, &[]),
            segments: Vec::new(),
        }
    }
}

/// Plan a read of `request` of one log for statements with `filter` (the
/// canonical LEQL filter; `None` for every event): segments of every event
/// serve it, and so do segments of exactly that filter; segments of other
/// filters never do.
pub(crate) async fn plan_read(
    root: &CacheRoot,
    log_id: &str,
    filter: Option<&str>,
    request: TimeRange,
    verify: bool,
    concurrency: usize,
) -> Result<ReadPlan> {
    let started = Instant::now();
    // The plans' `cache_dir`: where this log's segments lie.
    let cache_dir = root.display_path(&super::layout::log_dir(root.prefix(), log_id)?);
    tracing::info!(
        log_id,
        cache_dir,
        start_ms = request.start(),
        end_ms = request.end(),
        "cache_scan_start"
    );
    let listing = scan_log_listing(root, log_id, Some(request), concurrency).await?;
    let key = filter.map(filter_key);
    let segments: Vec<SegmentInfo> = listing
        .segments
        .into_iter()
        .filter(|(k, _)| k.range.overlaps(&request) && (k.filter.is_none() || k.filter == key))
        .map(|(_, r)| r)
        .collect::<super::Result<Vec<_>>>()?
        .into_iter()
        // The key is a hash: the text decides.
        .filter(|s| s.filter().is_none() || s.filter() == filter)
        .collect();
    let ranges: Vec<TimeRange> = segments.iter().map(SegmentInfo::range).collect();
    let owners = assign_responsibility(request, &ranges);
    let mut planned: Vec<PlannedSegment> = segments
        .into_iter()
        .zip(owners)
        .filter_map(|(segment, own)| {
            own.map(|responsible| PlannedSegment {
                segment,
                responsible,
            })
        })
        .collect();
    planned.sort_by_key(|p| p.responsible);
    if verify {
        let segs: Vec<&SegmentInfo> = planned.iter().map(|p| &p.segment).collect();
        check_segments(root, &segs, &listing.objects, concurrency).await?;
    }
    let coverage = plan_coverage(request, &ranges);
    tracing::info!(
        log_id,
        cache_dir,
        segments = planned.len(),
        segment_count = planned.len(),
        parts = planned
            .iter()
            .map(|p| p.segment.manifest().parts.len())
            .sum::<usize>(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "cache_scan_complete"
    );
    // The statement-level `cache_hit` / `cache_partial` / `cache_miss`, with
    // the rows reused and fetched, come from the provider once its fetches
    // are done; this is the cache's own plan.
    tracing::info!(
        log_id,
        filter,
        requested = %request,
        kind = coverage.kind.as_str(),
        cached = ?coverage.cached,
        missing = ?coverage.missing,
        segments = planned.len(),
        "cache_coverage_planned"
    );
    Ok(ReadPlan {
        log_id: log_id.to_string(),
        coverage,
        segments: planned,
    })
}

/// Stream the rows of `seg` with timestamps in `range`, part by part. Parts
/// that cannot be decoded give [`CorruptSegment`](super::Error::CorruptSegment).
pub(crate) fn read_segment(
    root: &CacheRoot,
    seg: &SegmentInfo,
    range: TimeRange,
) -> BoxStream<'static, Result<RecordBatch>> {
    let root = root.clone();
    let seg = seg.clone();
    let parts: Vec<PartInfo> = seg
        .parts()
        .into_iter()
        .filter(|p| part_meets(p, range))
        .collect();
    futures::stream::iter(parts)
        .map(move |part| read_part(&root, &seg, part, range, None))
        .flatten()
        .boxed()
}

/// Whether `part` may hold rows of `range` (by its manifest's span).
pub(crate) fn part_meets(part: &PartInfo, range: TimeRange) -> bool {
    match (part.min_timestamp_ms, part.max_timestamp_ms) {
        (Some(lo), Some(hi)) => lo < range.end() && range.start() <= hi,
        _ => false,
    }
}

/// Stream the rows of one part of `seg` with timestamps in `range`; with
/// `columns` (ascending indices of the event schema, `0`, the timestamp,
/// first), only those columns are read from the file.
pub(crate) fn read_part(
    root: &CacheRoot,
    seg: &SegmentInfo,
    part: PartInfo,
    range: TimeRange,
    columns: Option<Vec<usize>>,
) -> BoxStream<'static, Result<RecordBatch>> {
    let store = Arc::clone(root.store());
    let seg = seg.clone();
    let opened = async move {
        let name = part.path.filename().unwrap_or_default().to_string();
        let reader = PartReader::new(store, part.path, part.size_bytes);
        let corrupt = {
            let (seg, name) = (seg.clone(), name.clone());
            move |e: &dyn std::fmt::Display| seg.corrupt(format!("part {name} cannot be read: {e}"))
        };
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|e| corrupt(&e))?;
        let builder = match columns {
            Some(columns) => {
                let mask = ProjectionMask::roots(builder.parquet_schema(), columns);
                builder.with_projection(mask)
            }
            None => builder,
        };
        let stream = builder.build().map_err(|e| corrupt(&e))?;
        Ok::<_, crate::Error>(
            stream.map(move |batch| clamp(batch.map_err(|e| corrupt(&e))?, range)),
        )
    };
    futures::stream::once(opened).try_flatten().boxed()
}

fn clamp(batch: RecordBatch, range: TimeRange) -> Result<RecordBatch> {
    let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
    if ts.values().iter().all(|&t| range.contains(t)) {
        return Ok(batch);
    }
    let mask: BooleanArray = ts
        .iter()
        .map(|t| Some(t.is_some_and(|t| range.contains(t))))
        .collect();
    Ok(filter_record_batch(&batch, &mask)?)
}
