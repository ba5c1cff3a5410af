//! Incremental caching without a query: extend the cache of some logs over
//! a window up to `now - settle`, fetching only what is missing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::TryStreamExt;
use serde::Serialize;
use tracing::info;

use crate::cache::RetentionReport;
use crate::error::{Error, Result};
use crate::fetch::FetchRequest;
use crate::log_id::LogRef;
use crate::ops::{Summary, SummaryRequest};
use crate::provider::{
    Rapid7, check_budget, estimate_pieces, query_rate, split_aligned, worth_estimating,
};
use crate::time::{TimeRange, fmt_ms};

/// What a sync did. Serialises to the JSON report of `rapid7-sql sync`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    /// Events fetched from the API and committed by this run.
    pub new_events_processed: u64,
    /// Events of the window held by the cache after the run (exact: the
    /// segments at the window's edges are read and counted).
    pub total_events: u64,
    /// Segments committed by this run.
    pub segments_written: u64,
    /// Segments of the window that were already cached.
    pub segments_used: u64,
    /// The ranges that were missing before the run (`log [from, to)`).
    pub cache_missing_ranges: Vec<String>,
    /// Newest event timestamp in the window's cache after the run (RFC 3339).
    pub last_processed_timestamp: Option<String>,
    /// Events the API returned that could not be decoded (skipped), as
    /// the client counted them.
    pub events_failed: u64,
    /// Events Rapid7's statistics counted in the missing ranges before the
    /// run (`None` when not asked: no limit and at most one piece missing a
    /// log, or only a few minutes missing). The same answer joins sparse
    /// neighbouring pieces into one fetch.
    pub estimated_events: Option<u64>,
    /// Events of the ranges this run fetched that the decoder rejected,
    /// recorded in their segments' manifests (`events_rejected` in
    /// `rapid7_cache()`).
    pub events_rejected: u64,
    /// The ranges this run fetched that Rapid7 said reach past the log's
    /// retention (`log [from, to)`), so events older than retention are
    /// missing from them (`beyond_retention` in `rapid7_cache()`).
    pub beyond_retention: Vec<String>,
    /// What retention did after the run (`RAPID7_RETENTION`,
    /// [`CacheConfig::retention`](crate::cache::CacheConfig::retention)):
    /// the segments it retired and the `gc` that followed; absent when no
    /// retention is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionReport>,
    /// Wall time of the run.
    pub duration_seconds: f64,
    /// The synced window (RFC 3339, half-open).
    pub window: [String; 2],
    /// The ranges of the window the cache holds after the run, per log
    /// (`log [from, to)`, adjacent segments joined).
    pub cache_cached_ranges: Vec<String>,
    /// Record batches this run fetched and committed: one per event page
    /// read from the API.
    pub batches_processed: u64,
    /// The window's summary, when asked for (`rapid7-sql sync --summary`,
    /// [`Rapid7::summarize_sync`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Where that summary was written as JSON (absent when it was not: no
    /// output given and a cache that is not a local directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_output: Option<String>,
}

/// Where [`Rapid7::summarize_sync`] writes a summary given no output, in a
/// local cache root `root`: `summaries/sync-FROM-TO.json` (the window in
/// epoch milliseconds), or `summaries/sync-FROM-TO-KEY.json` when the sync
/// named logs (`KEY`: 16 hex digits of the FNV-1a hash of the names as
/// given, sorted, one a line). The same sync writes the same file again.
pub fn sync_summary_path(root: &Path, window: TimeRange, logs: &[String]) -> PathBuf {
    let mut name = format!("sync-{}-{}", window.start(), window.end());
    if !logs.is_empty() {
        let mut sorted: Vec<&str> = logs.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in sorted.join("\n").bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        name.push_str(&format!("-{h:016x}"));
    }
    root.join(SUMMARIES_DIR).join(name + ".json")
}

/// The folder of a local cache root where sync summaries go.
pub const SUMMARIES_DIR: &str = "summaries";

/// `d` in whole milliseconds, saturating at `i64::MAX`.
fn millis_i64(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Rapid7 {
    /// Fetch what the cache lacks of `logs` (names or ids) over
    /// `[from, min(to, now - settle))` and commit it. Ranges fetched by an
    /// earlier run are not fetched again; a failure leaves the pieces that
    /// finished committed and nothing half-committed.
    pub async fn sync(&self, logs: &[String], from: i64, to: Option<i64>) -> Result<SyncReport> {
        let started = Instant::now();
        let config = self.config();
        if config.is_offline() {
            return Err(Error::Config {
                key: "offline".into(),
                message: "sync fetches from the API; turn offline mode off (unset RAPID7_OFFLINE, \
                          Rapid7Config::offline)"
                    .into(),
            });
        }
        let now = crate::time::now_ms();
        let cut = now.saturating_sub(millis_i64(config.settle));
        let end = to.unwrap_or(cut).min(cut);
        // What retention would retire right after is not fetched.
        let retention_cut = match self.cache().config().retention {
            Some(keep) if !self.cache().is_bypass() => Some(now.saturating_sub(millis_i64(keep))),
            _ => None,
        };
        let asked_from = from;
        let from = match retention_cut {
            Some(kept) if from < kept => {
                info!(
                    from = %fmt_ms(from),
                    retention_cut = %fmt_ms(kept),
                    "sync_window_clamped_to_retention"
                );
                kept
            }
            _ => from,
        };
        let window = TimeRange::new(from, end).map_err(|_| Error::EmptySyncWindow {
            from: asked_from,
            to: to.unwrap_or(now),
            retention_cut: retention_cut.filter(|kept| end <= *kept),
            settle: config.settle,
        })?;
        let mut resolved = Vec::new();
        for name in logs {
            resolved.push(self.find_log(name).await?);
        }
        if resolved.is_empty() {
            resolved = self.logs().await?;
        }
        let events_failed_before = self.client().map(|c| c.stats().events_failed).unwrap_or(0);

        let mut missing = Vec::new();
        let mut pieces = Vec::new();
        let mut segments_used = 0;
        for log in &resolved {
            let plan = self.cache().plan_read(&log.id, window).await?;
            segments_used += plan.segments.len() as u64;
            for gap in &plan.coverage.missing {
                missing.push(log.describe(gap));
                let chunk = millis_i64(config.fetch_chunk);
                pieces.extend(
                    split_aligned(*gap, chunk)
                        .into_iter()
                        .map(|r| (log.clone(), r)),
                );
            }
        }
        // The cost, asked of Rapid7 before any event page: over the limit,
        // nothing is fetched. The same answer joins sparse neighbouring
        // pieces (a quiet log's hours), so asked without a limit too when a
        // log misses more than one piece.
        let mut estimated_events = None;
        let all_gaps: Vec<TimeRange> = pieces.iter().map(|(_, r)| *r).collect();
        let sparse_candidates = resolved
            .iter()
            .any(|log| pieces.iter().filter(|(l, _)| l.id == log.id).count() > 1);
        if let (Some(client), true) = (
            self.client(),
            (config.max_fetch_events > 0 || sparse_candidates) && worth_estimating(&all_gaps),
        ) {
            // One statistical query per group of logs missing the same
            // pieces (read merged, as scans estimate), one per log else.
            let chunk = crate::time::duration_ms(config.fetch_chunk);
            let mut logs: Vec<(LogRef, Vec<TimeRange>)> = Vec::new();
            for log in &resolved {
                let gaps: Vec<TimeRange> = pieces
                    .iter()
                    .filter(|(l, _)| l.id == log.id)
                    .map(|(_, r)| *r)
                    .collect();
                if !gaps.is_empty() {
                    logs.push((log.clone(), gaps));
                }
            }
            let merged = self.fetcher().merged_allowed().await;
            let (joined, per_log) = estimate_pieces(client, logs, chunk, merged).await?;
            pieces = joined
                .into_iter()
                .flat_map(|(log, gaps)| gaps.into_iter().map(move |r| (log.clone(), r)))
                .collect();
            estimated_events = Some(per_log.iter().map(|(_, e)| e.events).sum());
            check_budget(&per_log, config.max_fetch_events, query_rate(client))?;
        }
        let requests: Vec<_> = pieces
            .iter()
            .map(|(log, range)| {
                let request = FetchRequest::new(log.clone(), None, *range);
                (log.describe(range), request)
            })
            .collect();
        let fetched = self
            .fetcher()
            .fetch_segments(requests, config.fetch_concurrency, None)
            .await
            .map_err(|e| {
                Error::DataFusion(Box::new(datafusion::error::DataFusionError::Shared(e)))
            })?;
        let mut beyond_retention: Vec<String> = fetched
            .iter()
            .filter(|(_, o)| o.beyond_retention)
            .map(|(label, _)| label.clone())
            .collect();
        beyond_retention.sort();
        let outcomes: Vec<_> = fetched.into_iter().map(|(_, o)| o).collect();

        let mut total_events = 0;
        let mut newest = None;
        let mut cached_ranges = Vec::new();
        for log in &resolved {
            let plan = self.cache().plan_read(&log.id, window).await?;
            cached_ranges.extend(plan.coverage.cached.iter().map(|r| log.describe(r)));
            for seg in &plan.segments {
                for part in seg.parts() {
                    newest = newest.max(part.max_timestamp_ms.filter(|t| window.contains(*t)));
                }
                total_events += if seg.is_whole() {
                    seg.segment.row_count()
                } else {
                    // A segment reaching past the window: count its rows
                    // inside (at most two per log, at the edges).
                    let mut rows = 0;
                    let mut batches = self.cache().read(seg);
                    while let Some(batch) = batches.try_next().await? {
                        rows += batch.num_rows() as u64;
                    }
                    rows
                };
            }
        }
        // Retention after the run: older segments retired, what earlier
        // runs retired deleted once its grace is over.
        let retention = self.cache().apply_retention().await?;
        let report = SyncReport {
            new_events_processed: outcomes.iter().map(|o| o.events).sum(),
            total_events,
            segments_written: outcomes.iter().filter(|o| o.committed).count() as u64,
            segments_used,
            cache_missing_ranges: missing,
            last_processed_timestamp: newest.map(fmt_ms),
            events_failed: self
                .client()
                .map(|c| c.stats().events_failed)
                .unwrap_or(0)
                .saturating_sub(events_failed_before),
            estimated_events,
            events_rejected: outcomes.iter().map(|o| o.events_rejected).sum(),
            beyond_retention,
            retention,
            duration_seconds: started.elapsed().as_secs_f64(),
            window: [fmt_ms(window.start()), fmt_ms(window.end())],
            cache_cached_ranges: cached_ranges,
            batches_processed: outcomes.iter().map(|o| o.pages).sum(),
            summary: None,
            summary_output: None,
        };
        info!(
            logs = resolved.len(),
            new_events = report.new_events_processed,
            segments_written = report.segments_written,
            segments_used = report.segments_used,
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "sync_complete"
        );
        Ok(report)
    }
}

impl Rapid7 {
    /// Summarise the window `report` synced ([`Rapid7::summarize`] over
    /// `logs`, as the sync was asked), into `report.summary`, and write it as
    /// JSON to `output`, or, given none, to [`sync_summary_path`] under a
    /// local cache root (nowhere for a cache that is not a local directory);
    /// `report.summary_output` says where.
    pub async fn summarize_sync(
        &self,
        ctx: &datafusion::prelude::SessionContext,
        logs: &[String],
        report: &mut SyncReport,
        output: Option<PathBuf>,
    ) -> Result<()> {
        let window = TimeRange::new(
            crate::time::parse_timestamp("window", &report.window[0])?,
            crate::time::parse_timestamp("window", &report.window[1])?,
        )?;
        let output = match output {
            Some(path) => Some(path),
            None => match self.cache().root().and_then(|r| r.local_dir()) {
                Some(root) => {
                    let path = sync_summary_path(root, window, logs);
                    if let Some(dir) = path.parent() {
                        create_private_dir(dir).map_err(|source| Error::Io {
                            action: "create the summaries folder",
                            path: Some(dir.to_path_buf()),
                            source,
                        })?;
                    }
                    Some(path)
                }
                None => None,
            },
        };
        let request = SummaryRequest {
            logs: logs.to_vec(),
            window,
            bucket: None,
            output: output.clone(),
        };
        report.summary = Some(self.summarize(ctx, &request).await?);
        report.summary_output = output.map(|p| p.display().to_string());
        Ok(())
    }
}

/// `dir` and its missing parents, owner-only where created.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
