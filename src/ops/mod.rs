//! Operations on a [`Rapid7`](crate::Rapid7) handle: [`Rapid7::sync`]
//! (fetch and commit what the cache lacks, for schedules) and
//! [`Rapid7::summarize`] (row counts, columns, time span, per-log and
//! per-bucket counts, as SQL aggregates), and (feature `delta`) `publish`:
//! the cache as Delta Lake tables; [`Rapid7::doctor`] (what a key and
//! endpoint really do, as a report).
//!
//! [`Rapid7::doctor`]: crate::Rapid7::doctor
//!
//! [`Rapid7::sync`]: crate::Rapid7::sync
//! [`Rapid7::summarize`]: crate::Rapid7::summarize

pub mod doctor;
#[cfg(feature = "delta")]
pub mod publish;
mod summary;
mod sync;

pub use summary::{
    BucketCount, ColumnSummary, LogCount, SegmentSummary, Summary, SummaryRequest, summarize,
};
pub use sync::{SUMMARIES_DIR, SyncReport, sync_summary_path};
