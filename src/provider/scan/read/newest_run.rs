//! Which logs of a newest-first scan are read how ([`prepare`]): the logs
//! of one plan together by merged queries newest first
//! (`newest_merged.rs`), the rest one after the other newest first
//! (`newest.rs`), each counting what the reads before it read; a log whose
//! pages do not come newest first (and every log after it: the endpoint is
//! the same) is read oldest first instead, estimated and fetched (or
//! bypassed) within what is left of the limit of events.

use datafusion::error::Result as DfResult;

use super::newest::{Newest, ReadInputs, read_newest};
use super::newest_merged::{self, GroupRead};
use super::run::{Extra, Prepared, Run};
use super::{bypass, fetch_first};
use crate::error::Error;
use crate::provider::scan::plan::{LogScan, estimate_scans};
use crate::provider::scan::report::log_coverage;

/// Read every scan of `run` newest first until the newest `n` kept
/// events of each log are in hand ([`read_newest`]). A log whose pages do
/// not come newest first (and every log after it: the endpoint is the same)
/// is read oldest first instead, within the limit of events.
pub(crate) async fn prepare(run: Run<'_>, n: usize) -> DfResult<Prepared> {
    let inputs = run.inputs;
    let mut read = ReadInputs {
        fetcher: &inputs.fetcher,
        cache: &inputs.cache,
        table_schema: &inputs.table_schema,
        sets: &inputs.sets,
        projection: &inputs.projection,
        predicate: inputs.predicate.as_ref(),
        want: n,
        limit: if run.approved { 0 } else { inputs.budget },
        rate: inputs.query_rate,
        spent: 0,
    };
    let mut reads = Vec::new();
    let mut oldest = Vec::new();
    let mut spent = 0u64;
    let mut honoured = inputs.verdict.may_try(&inputs.cache).await;
    // Logs of one plan read together first, by merged queries newest first.
    let mut merged = vec![false; inputs.scans.len()];
    if honoured && inputs.fetcher.merged_newest_allowed().await {
        for members in newest_merged::groups(&inputs.scans) {
            read.spent = spent;
            let scans: Vec<&LogScan> = members.iter().map(|i| &inputs.scans[*i]).collect();
            match newest_merged::read_group(&read, &scans)
                .await
                .map_err(Error::into_datafusion)?
            {
                GroupRead::Read { batches, events } => {
                    for (scan, events) in scans.iter().zip(&events) {
                        log_coverage(scan, *events);
                    }
                    spent += events.iter().sum::<u64>();
                    reads.push(Extra::Read(batches.into()));
                    for i in members {
                        merged[i] = true;
                    }
                }
                GroupRead::Fallback {
                    why,
                    broken,
                    events,
                } => {
                    spent += events;
                    if broken {
                        inputs
                            .fetcher
                            .merged_newest
                            .broken(&inputs.cache, &why)
                            .await;
                    }
                    tracing::info!(logs = members.len(), reason = why, "fetch_merged_fallback");
                    if !inputs.fetcher.merged_newest_allowed().await {
                        break;
                    }
                }
            }
        }
    }
    for (idx, scan) in inputs.scans.iter().enumerate() {
        if merged[idx] {
            continue;
        }
        if !honoured {
            oldest.push((idx, scan.clone()));
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
                oldest.push((idx, scan.clone()));
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
                oldest.push((idx, scan.clone()));
            }
        }
    }
    let mut prepared = if oldest.is_empty() {
        Prepared {
            parquet: None,
            extras: vec![Vec::new(); run.partitions],
        }
    } else {
        estimate_fallback(run, &mut oldest).await?;
        oldest_first(run, &oldest, spent).await?
    };
    let offset = prepared.extras.iter().map(Vec::len).sum::<usize>();
    for (i, extra) in reads.into_iter().enumerate() {
        prepared.extras[(offset + i) % run.partitions].push(extra);
    }
    Ok(prepared)
}

/// Read `only` (each with its index among the inputs' scans) oldest first,
/// as the cache allows: fetched first into segments, or bypassed. `spent`
/// events were read already (by a newest-first attempt) and count against
/// the limit.
async fn oldest_first(run: Run<'_>, only: &[(usize, LogScan)], spent: u64) -> DfResult<Prepared> {
    if run.inputs.cache.is_bypass() {
        bypass::prepare(run, only, spent).await
    } else {
        fetch_first::prepare(run, only, spent).await
    }
}

/// Estimate the scans read oldest first after a newest-first attempt
/// (planned newest first, they were not estimated), for the limit and to
/// join sparse pieces, as planning does for an oldest-first scan.
async fn estimate_fallback(run: Run<'_>, scans: &mut [(usize, LogScan)]) -> DfResult<()> {
    let inputs = run.inputs;
    let Ok(client) = inputs.fetcher.client() else {
        return Ok(());
    };
    let sparse = scans.iter().any(|(_, s)| s.gaps.len() > 1);
    if inputs.budget == 0 && !sparse {
        return Ok(());
    }
    let mut planned: Vec<LogScan> = scans.iter().map(|(_, s)| s.clone()).collect();
    let merged = inputs.fetcher.merged_allowed().await;
    estimate_scans(client, &mut planned, inputs.chunk_ms, merged)
        .await
        .map_err(Error::into_datafusion)?;
    for ((_, scan), estimated) in scans.iter_mut().zip(planned) {
        *scan = estimated;
    }
    Ok(())
}
