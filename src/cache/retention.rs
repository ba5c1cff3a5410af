//! Retention: retire every segment whose range ended before a cut
//! (`now - older_than`), the way compaction retires what it replaces
//! (ADR 0005): a tombstone first, then the manifest goes, so planners stop
//! seeing the segment at once while readers that planned over it read on;
//! `gc` deletes its parts once the grace period is over. A segment that
//! straddles the cut is kept whole. Segments of every event and filtered
//! segments alike; manifests that do not load are left for `cache verify`.

use super::index::{list_logs, scan_log_listing};
use super::retire::{Retirement, retire_segment};
use super::store::CacheRoot;
use crate::error::Result;
use crate::time::{TimeRange, fmt_ms};

/// Result of [`SegmentCache::expire`](super::SegmentCache::expire).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExpireReport {
    /// The cut (RFC 3339): segments whose range ended at or before it were
    /// retired.
    pub expired_before: String,
    /// Segments retired: gone from every listing now, their parts deleted
    /// by the first `gc` after the grace period.
    pub segments_expired: usize,
    /// Their rows.
    pub rows_expired: u64,
    /// Their size (the parts, as their manifests list them).
    pub bytes_expired: u64,
    /// Segments before the cut whose manifest does not load: left alone
    /// (`cache verify` names them, `cache drop` removes them).
    pub segments_unreadable: usize,
}

pub(crate) async fn expire(
    root: &CacheRoot,
    cut_ms: i64,
    concurrency: usize,
) -> Result<ExpireReport> {
    let mut report = ExpireReport {
        expired_before: fmt_ms(cut_ms),
        ..ExpireReport::default()
    };
    // Only manifests of segments that start before the cut are read.
    let before = TimeRange::new(i64::MIN, cut_ms).ok();
    for log in list_logs(root).await? {
        let listing = scan_log_listing(root, &log, before, concurrency).await?;
        for (key, seg) in listing.segments {
            if key.range.end() > cut_ms {
                continue;
            }
            match seg {
                Ok(seg) => {
                    retire_segment(root, &seg, Retirement::Expired { cut_ms }).await?;
                    report.segments_expired += 1;
                    report.rows_expired += seg.row_count();
                    report.bytes_expired += seg.size_bytes();
                }
                Err(e) => {
                    tracing::warn!(
                        log_id = %log,
                        range = %key.range,
                        reason = %e,
                        "cache_expire_skipped_unreadable_segment"
                    );
                    report.segments_unreadable += 1;
                }
            }
        }
    }
    tracing::info!(
        expired_before = %report.expired_before,
        segments_expired = report.segments_expired,
        rows_expired = report.rows_expired,
        bytes_expired = report.bytes_expired,
        segments_unreadable = report.segments_unreadable,
        "cache_expire_complete"
    );
    Ok(report)
}

/// What [`SegmentCache::apply_retention`](super::SegmentCache::apply_retention)
/// did: the segments it retired, then the `gc` that followed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Segments retired by this run.
    pub expired: ExpireReport,
    /// The `gc` after it: parts of segments retired by earlier runs (and of
    /// compactions) whose grace period is over are deleted here.
    pub gc: super::gc::GcReport,
}
