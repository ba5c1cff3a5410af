//! Exact event counts from Rapid7's statistics, whatever its `to` means.
//!
//! Rapid7 does not document whether a query's `to` is inclusive. A count of
//! `[from, to)` asked as `from`/`to` is then off by the events stamped
//! exactly `to` when `to` is inclusive, and right when it is exclusive.
//!
//! **Settled ranges** (the events of millisecond `to` are settled: they no
//! longer change):
//!
//! 1. the events of millisecond `to` are counted with a one-millisecond event
//!    query (`[to, to + 1)`, exact by the event client's own rule); when there
//!    are none, the statistics are right under both readings;
//! 2. otherwise the convention matters, and is learnt once per source and
//!    request form (a single log's `GET`, a merged `GET`, a merged `POST`:
//!    nothing says they read `to` alike; a probe that would be sent in
//!    another form than the count's is not asked, the range is paged): a
//!    statistical count of `[to - 1, to)` is the events of `to - 1` alone when
//!    `to` is exclusive, and those plus the (known, non-zero) events of `to`
//!    when it is inclusive; anything else fails loudly (settled counts that
//!    agree with no reading are not to be trusted);
//! 3. with an inclusive `to`, the events of `to` are taken off the last slice.
//!
//! **The recent edge** (events stamped `to` may still arrive between two
//! calls) never teaches the convention: a race there could teach the wrong
//! one for the whole process. The argument rests only on events arriving,
//! never leaving: a count of millisecond `t` taken before a call and again
//! after it, when equal, is the count the call saw. So:
//!
//! 1. with `to` known exclusive, the statistics alone are right, whatever
//!    arrives (they never count `to`);
//! 2. otherwise the events of `to` are counted before and after the
//!    statistics (`E`); if the two differ, the statistics saw an unknown part
//!    of them, and the range is paged instead; `E = 0`: right under both
//!    readings;
//! 3. `E > 0` and `to` known inclusive: `E` is taken off the last slice;
//! 4. `E > 0` and the convention unknown: the last slice is asked again as
//!    `[start, to + 1)`, between counts showing no event at `to + 1` and
//!    still `E` at `to`; that count is the slice's plus `E` under both
//!    readings (the events of `to + 1`, the only ones the readings differ
//!    on, are none), so the slice is it minus `E`;
//! 5. any check that fails (a count that moved, a rejected event, a
//!    subtraction below zero) pages the range instead of failing: the
//!    statement's limit of events paged (`max_fetch_events`) still holds.
//!
//! Once an endpoint is known to treat `to` as exclusive, counts cost one
//! statistical query and nothing else.

use std::sync::Mutex;

use futures::TryStreamExt;

use crate::client::{self, Client, CountRequest, Counts};
use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::locks::lock;

/// Whether Rapid7 counts events stamped exactly `to`, once learnt, per
/// request form of the statistics ([`Form`]): nothing says Rapid7 reads
/// `to` the same way in a single log's `GET`, a merged `GET` and a merged
/// `POST`, so a convention learnt in one is never applied to another.
#[derive(Debug, Default)]
pub(crate) struct ToConvention(Mutex<[Option<bool>; 3]>);

/// The request form of a statistical count: a single log's (index 0), a
/// merged `GET` (1), a merged `POST` (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Form(usize);

impl Form {
    /// The form of the statistics of `logs` over `(from, to)` in `slices`.
    fn of(client: &Client, logs: &[&str], (from, to): (i64, i64), slices: u32) -> Form {
        match logs {
            [_] | [] => Form(0),
            _ => {
                let request = count_request(logs, from, to, slices);
                Form(if client.merged_count_is_post(logs, &request) {
                    2
                } else {
                    1
                })
            }
        }
    }
}

impl ToConvention {
    fn get(&self, form: Form) -> Option<bool> {
        lock(&self.0)[form.0]
    }

    fn set(&self, form: Form, inclusive: bool) {
        lock(&self.0)[form.0] = Some(inclusive);
    }
}

/// Per-slice counts of `[from, to)` in `slices` equal slices, exact under
/// either reading of `to`; `Err(events)` when they cannot be exact (Rapid7
/// calls its result inexact, the `to` check meets a rejected event, or on
/// the recent edge a check moved), with the events Rapid7 counted: the
/// range is to be paged. `settled`: the events of millisecond `to` no
/// longer change (see the module docs for the edge).
pub(crate) async fn exact_counts(
    client: &Client,
    fetcher: &Fetcher,
    convention: &ToConvention,
    logs: &[&str],
    (from, to): (i64, i64),
    slices: u32,
    settled: bool,
) -> Result<std::result::Result<Vec<u64>, u64>> {
    let form = Form::of(client, logs, (from, to), slices);
    // On the edge, the events of `to` before the statistics (`None` inside:
    // a rejected event).
    let edge_before = match (settled, convention.get(form)) {
        (false, Some(false)) | (true, _) => None,
        (false, _) => Some(events_at(client, fetcher, logs, to).await?),
    };
    let counts = statistics(client, logs, from, to, slices).await?;
    let about = counts.total();
    if !counts.exact {
        return Ok(Err(about));
    }
    let mut slices = counts.slices;
    if convention.get(form) == Some(false) {
        return Ok(Ok(slices));
    }
    let Some(at_to) = events_at(client, fetcher, logs, to).await? else {
        return Ok(Err(about));
    };
    if let Some(before) = edge_before {
        if before != Some(at_to) {
            tracing::info!(
                log_id = logs.join(":"),
                to = %crate::time::fmt_ms(to),
                detail = "events stamped `to` arrived while counting: paging the range",
                "rapid7_edge_moved"
            );
            return Ok(Err(about));
        }
        if at_to > 0 {
            return Ok(edge_correction(
                client,
                fetcher,
                convention.get(form),
                logs,
                (from, to),
                slices,
                at_to,
            )
            .await?
            .ok_or(about));
        }
        return Ok(Ok(slices));
    }
    if at_to == 0 {
        return Ok(Ok(slices));
    }
    let inclusive = match convention.get(form) {
        Some(known) => known,
        None => {
            // The probe must be of the same form as the count it corrects.
            if Form::of(client, logs, (to - 1, to), 1) != form {
                return Ok(Err(about));
            }
            let learnt = learn(client, fetcher, logs, to, at_to).await?;
            tracing::info!(
                inclusive = learnt,
                detail = "whether statistics count events stamped `to`",
                "rapid7_to_convention_learnt"
            );
            convention.set(form, learnt);
            learnt
        }
    };
    if inclusive {
        let last = slices.last_mut().expect("at least one slice");
        *last = last
            .checked_sub(at_to)
            .ok_or_else(|| inconsistent(logs, to))?;
    }
    Ok(Ok(slices))
}

/// Steps 3 and 4 of the edge (module docs): `slices` of `[from, to)` with
/// the `at_to > 0` events of `to` (the same before and after) possibly in
/// the last; `None` when a check fails (page instead).
async fn edge_correction(
    client: &Client,
    fetcher: &Fetcher,
    known: Option<bool>,
    logs: &[&str],
    (from, to): (i64, i64),
    mut slices: Vec<u64>,
    at_to: u64,
) -> Result<Option<Vec<u64>>> {
    let n = slices.len() as i64;
    let counted = match known {
        Some(true) => *slices.last().expect("at least one slice"),
        _ => {
            let start = from + (to - from) / n * (n - 1);
            if events_at(client, fetcher, logs, to + 1).await? != Some(0) {
                return Ok(None);
            }
            let again = statistics(client, logs, start, to + 1, 1).await?;
            let still = (
                events_at(client, fetcher, logs, to + 1).await?,
                events_at(client, fetcher, logs, to).await?,
            );
            if !again.exact || still != (Some(0), Some(at_to)) {
                return Ok(None);
            }
            again.total()
        }
    };
    let Some(rest) = counted.checked_sub(at_to) else {
        return Ok(None);
    };
    *slices.last_mut().expect("at least one slice") = rest;
    Ok(Some(slices))
}

/// The counts of `logs` together (one statistical query, merged for
/// several).
async fn statistics(
    client: &Client,
    logs: &[&str],
    from: i64,
    to: i64,
    slices: u32,
) -> Result<Counts> {
    let request = count_request(logs, from, to, slices);
    Ok(match logs {
        [_] => client.count_events(&request).await?,
        _ => client.count_events_merged(logs, &request).await?,
    })
}

fn count_request(logs: &[&str], from: i64, to: i64, slices: u32) -> CountRequest {
    CountRequest {
        log_id: logs.first().copied().unwrap_or_default().to_string(),
        from,
        to,
        filter: None,
        slices,
    }
}

/// Whether a statistical count over `[t - 1, t)` includes the `at_t > 0`
/// events stamped `t`.
async fn learn(
    client: &Client,
    fetcher: &Fetcher,
    logs: &[&str],
    t: i64,
    at_t: u64,
) -> Result<bool> {
    let probe = statistics(client, logs, t - 1, t, 1).await?;
    let Some(before) = events_at(client, fetcher, logs, t - 1).await? else {
        return Err(inconsistent(logs, t));
    };
    match probe.total() {
        n if n == before + at_t => Ok(true),
        n if n == before => Ok(false),
        _ => Err(inconsistent(logs, t)),
    }
}

fn inconsistent(logs: &[&str], t: i64) -> Error {
    client::Error::Decode {
        url: format!("statistics of log {}", logs.join(":")),
        message: format!(
            "Rapid7's counts around {} agree with neither an inclusive nor an exclusive `to`; \
             not using them (SET rapid7.pushdown_aggregates = false pages instead)",
            crate::time::fmt_ms(t)
        ),
    }
    .into()
}

/// The events of `logs` stamped exactly `ms`; `None` when the decoder
/// rejected any event of the answer (the statistics count those, and
/// which millisecond they belong to cannot be known), or a merged answer
/// broke a rule: the range is counted from its events instead, and the
/// endpoint is remembered as one whose merged answers are not read
/// ([`Fetcher::merged_broken`], as a merged read's violation is).
async fn events_at(
    client: &Client,
    fetcher: &Fetcher,
    logs: &[&str],
    ms: i64,
) -> Result<Option<u64>> {
    let [log_id] = logs else {
        let mut query = client.query_merged(logs, ms, ms + 1, "")?;
        let (mut n, mut rejected) = (0u64, 0u64);
        loop {
            match query.next_page().await {
                Ok(Some(page)) => {
                    n += page.stats.accepted;
                    rejected += page.stats.failed;
                }
                Ok(None) => return Ok((rejected == 0).then_some(n)),
                Err(client::Error::MergedAnswer { reason, .. }) => {
                    fetcher.merged_broken(&reason).await;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let pages = client.query_events(log_id, ms, ms + 1)?.into_stream();
    let (n, rejected) = pages
        .map_err(Error::from)
        .try_fold((0u64, 0u64), |(n, rejected), page| async move {
            Ok((n + page.columns.len() as u64, rejected + page.stats.failed))
        })
        .await?;
    Ok((rejected == 0).then_some(n))
}
