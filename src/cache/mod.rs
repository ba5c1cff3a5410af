//! The segment cache on `object_store` (design §3.2).
//!
//! A segment is the complete event set of one log for one half-open range,
//! stored as Parquet parts plus a manifest written last:
//!
//! ```text
//! {prefix}/logs/{log_id}/from={start_ms}/to={end_ms}/part-{writer}-{NNNNN}.parquet
//! {prefix}/logs/{log_id}/from={start_ms}/to={end_ms}/_SEGMENT.json
//! ```
//!
//! A segment exists once its manifest exists (create-only put, so it works on
//! S3 and two writers cannot both commit a range). Parts without a manifest are
//! leftovers of an interrupted write: reads never see them and
//! [`SegmentCache::gc`] removes them. Overlapping segments never double count:
//! [`SegmentCache::plan_read`] gives each segment the sub-range it alone serves.
//! Segments that [`SegmentCache::compact`] replaces are retired: a tombstone
//! `_RETIRED-{writer}.json` keeps their parts for readers until the grace
//! period has passed (ADR 0005).
//!
//! A local root must belong to the user and be writable by no one else, and
//! nothing below it is reached through a symbolic link.
//!
//! ```no_run
//! # async fn demo(batches: Vec<datafusion::arrow::array::RecordBatch>) -> datafusion_rapid7::Result<()> {
//! use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
//! use datafusion_rapid7::time::TimeRange;
//!
//! let cache = SegmentCache::open("/var/cache/rapid7", CacheConfig::default())?;
//! let hour = TimeRange::new(1_770_681_600_000, 1_770_685_200_000)?;
//! let plan = cache.plan_read("log-id", hour).await?;
//! for missing in &plan.coverage.missing {
//!     let mut writer = cache.writer("log-id", *missing)?;
//!     for batch in &batches {
//!         writer.push(batch.clone()).await?;
//!     }
//!     writer.commit().await?;
//! }
//! # Ok(()) }
//! ```
//!
//! This module does not know the Rapid7 client: whoever fetches events pushes
//! them into a [`SegmentWriter`].

mod check;
mod config;
mod encode;
mod endpoint_facts;
pub mod error;
mod gc;
mod index;
mod keys;
mod layout;
mod local_list;
mod local_store;
mod log_names;
mod log_sets;
mod maintenance;
mod manifest;
mod memo;
mod objects;
mod part_counts;
#[cfg(test)]
mod part_counts_tests;
mod part_reader;
mod range;
mod reader;
mod retention;
mod retire;
mod root_file;
mod segment;
mod segment_cache;
mod staging;
pub(crate) mod store;
mod stored_name;
mod symlinks;
pub(crate) mod url_store;
mod writer;

pub(crate) use config::PARTS_HAVE_BLOOM_FILTERS;
pub use config::{CacheConfig, PartCompression};
pub use endpoint_facts::{ENDPOINT_FACTS_FILE, EndpointFacts, Fact};
pub use error::{Error, Result};
pub use gc::GcReport;
pub use keys::{CacheKey, MIN_RETENTION, parse_retention};
pub use layout::{LOGS_DIR, MANIFEST_FILE, validate_component};
pub use log_names::{LOG_NAMES_FILE, MessageForm, OBJECTS_DIR};
pub use log_sets::{LOG_SETS_FILE, StoredLogSet};
pub use maintenance::{
    CompactOptions, CompactReport, DropReport, VerifyFailure, VerifyOverlap, VerifyReport,
};
pub use manifest::{MANIFEST_FORMAT, PartManifest, SegmentManifest};
pub use part_counts::{BinOf, PartCounts};
pub use range::{Coverage, CoverageKind, assign_responsibility, merge_ranges, plan_coverage};
pub use reader::{PlannedSegment, ReadPlan};
pub use retention::{ExpireReport, RetentionReport};
pub use segment::{PartInfo, SegmentInfo};
pub use segment_cache::SegmentCache;
pub use store::CacheRoot;
pub use writer::{CommitOutcome, SegmentWriter};

#[cfg(test)]
mod tests;
