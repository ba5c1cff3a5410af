//! Exact event counts from Rapid7's statistics, whatever its `to` means.
//!
//! Rapid7 does not document whether a query's `to` is inclusive. A count of
//! `[from, to)` asked as `from`/`to` is then off by the events stamped
//! exactly `to` when `to` is inclusive, and right when it is exclusive. So:
//!
//! 1. the events of millisecond `to` are counted with a one-millisecond event
//!    query (`[to, to + 1)`, exact by the event client's own rule); when there
//!    are none, the statistics are right under both readings;
//! 2. otherwise the convention matters, and is learnt once per source: a
//!    statistical count of `[to - 1, to)` is the events of `to - 1` alone when
//!    `to` is exclusive, and those plus the (known, non-zero) events of `to`
//!    when it is inclusive; anything else fails loudly;
//! 3. with an inclusive `to`, the events of `to` are taken off the last slice.
//!
//! Once an endpoint is known to treat `to` as exclusive, counts cost one
//! statistical query and nothing else.

use std::sync::Mutex;

use futures::TryStreamExt;

use crate::client::{Client, CountRequest};
use crate::error::{Error, Result};
use crate::locks::lock;

/// Whether Rapid7 counts events stamped exactly `to`, once learnt.
#[derive(Debug, Default)]
pub(crate) struct ToConvention(Mutex<Option<bool>>);

impl ToConvention {
    fn get(&self) -> Option<bool> {
        *lock(&self.0)
    }

    fn set(&self, inclusive: bool) {
        *lock(&self.0) = Some(inclusive);
    }
}

/// Per-slice counts of `[from, to)` in `slices` equal slices, exact under
/// either reading of `to`; `Err(events)` when they cannot be exact (Rapid7
/// calls its result inexact, or the `to` check meets a rejected event),
/// with the events Rapid7 counted: the range is to be paged.
pub(crate) async fn exact_counts(
    client: &Client,
    convention: &ToConvention,
    log_id: &str,
    from: i64,
    to: i64,
    slices: u32,
) -> Result<std::result::Result<Vec<u64>, u64>> {
    let counts = client
        .count_events(&CountRequest {
            log_id: log_id.to_string(),
            from,
            to,
            filter: None,
            slices,
        })
        .await?;
    let about = counts.total();
    if !counts.exact {
        return Ok(Err(about));
    }
    let mut slices = counts.slices;
    if convention.get() == Some(false) {
        return Ok(Ok(slices));
    }
    let Some(at_to) = events_at(client, log_id, to).await? else {
        return Ok(Err(about));
    };
    if at_to == 0 {
        return Ok(Ok(slices));
    }
    let inclusive = match convention.get() {
        Some(known) => known,
        None => {
            let learnt = learn(client, log_id, to, at_to).await?;
            tracing::info!(
                inclusive = learnt,
                detail = "whether statistics count events stamped `to`",
                "rapid7_to_convention_learnt"
            );
            convention.set(learnt);
            learnt
        }
    };
    if inclusive {
        let last = slices.last_mut().expect("at least one slice");
        *last = last
            .checked_sub(at_to)
            .ok_or_else(|| inconsistent(log_id, to))?;
    }
    Ok(Ok(slices))
}

/// Whether a statistical count over `[t - 1, t)` includes the `at_t > 0`
/// events stamped `t`.
async fn learn(client: &Client, log_id: &str, t: i64, at_t: u64) -> Result<bool> {
    let probe = client
        .count_events(&CountRequest {
            log_id: log_id.to_string(),
            from: t - 1,
            to: t,
            filter: None,
            slices: 1,
        })
        .await?;
    let Some(before) = events_at(client, log_id, t - 1).await? else {
        return Err(inconsistent(log_id, t));
    };
    match probe.total() {
        n if n == before + at_t => Ok(true),
        n if n == before => Ok(false),
        _ => Err(inconsistent(log_id, t)),
    }
}

fn inconsistent(log_id: &str, t: i64) -> Error {
    Error::Decode {
        url: format!("statistics of log {log_id}"),
        message: format!(
            "Rapid7's counts around {} agree with neither an inclusive nor an exclusive `to`; \
             not using them (SET rapid7.pushdown_aggregates = false pages instead)",
            crate::time::fmt_ms(t)
        ),
    }
}

/// The events of one log stamped exactly `ms`; `None` when the decoder
/// rejected any event of the answer: the statistics count those, and
/// which millisecond they belong to cannot be known, so the range is
/// counted from its events instead.
async fn events_at(client: &Client, log_id: &str, ms: i64) -> Result<Option<u64>> {
    let pages = client.query_events(log_id, ms, ms + 1)?.into_stream();
    let (n, rejected) = pages
        .map_err(Error::from)
        .try_fold((0u64, 0u64), |(n, rejected), page| async move {
            Ok((n + page.columns.len() as u64, rejected + page.stats.failed))
        })
        .await?;
    Ok((rejected == 0).then_some(n))
}
