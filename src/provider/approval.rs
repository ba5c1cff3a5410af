//! The cost of a statement before it runs, and approval of a fetch over the
//! limit of events: one API for every front end.
//!
//! Planning a statement asks Rapid7's statistics what its missing ranges
//! hold (never an event page). [`Rapid7::estimate`] reads that off the
//! physical plan as a [`StatementCost`]; nothing is asked of Rapid7 then.
//! A statement whose estimate is over its limit of events fails when it
//! is executed, before any event page, with [`Error::FetchBudget`] (the
//! error [`StatementCost::refusal`] returns), unless it is approved:
//!
//! - by call: [`StatementCost::approve`] returns the plan with its scans
//!   over the limit approved (the shell does so when its user says yes);
//!   the plan it was given is not changed;
//! - by session option: `SET rapid7.max_fetch_events = N` (0: no limit),
//!   which a source with [`Rapid7Config::fetch_limit_is_ceiling`] (a server
//!   shared by several users) lets a session lower but not raise.
//!
//! A caller that approves nothing (a server, a script) gets the error.
//! Scans that read as they go (under a `LIMIT`, or newest first) are never
//! over before they run: what they read counts against the limit as they
//! read it, and they fail once past it.
//!
//! ```no_run
//! # async fn demo(ctx: datafusion::prelude::SessionContext,
//! #     rapid7: datafusion_rapid7::Rapid7) -> datafusion::error::Result<()> {
//! let df = ctx.sql("SELECT count(message) FROM rapid7_logs \
//!                   WHERE timestamp > now() - interval '30 days'").await?;
//! let task = df.task_ctx();
//! let plan = df.create_physical_plan().await?;
//! let cost = rapid7.estimate(&plan);
//! let plan = match cost.refusal() {
//!     // A front end that can ask its user does; one that cannot fails.
//!     Some(refusal) => return Err(refusal.into()),
//!     None => plan,
//! };
//! let batches = datafusion::physical_plan::collect(plan, task.into()).await?;
//! # Ok(()) }
//! ```
//!
//! [`Error::FetchBudget`]: crate::Error::FetchBudget
//! [`Rapid7Config::fetch_limit_is_ceiling`]: crate::config::Rapid7Config::fetch_limit_is_ceiling

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result as DfResult;
use datafusion::physical_plan::ExecutionPlan;

use super::scan::{Cost, FetchEstimate, Rapid7ScanExec, ScanId, check_budget};
use super::{Rapid7, Rapid7Options};
use crate::config::Rapid7Config;
use crate::error::Error;

/// What running a planned statement would fetch from Rapid7, known before
/// it runs ([`Rapid7::estimate`]): one [`ScanCost`] per scan of the plan
/// that needs the API.
#[derive(Debug, Clone, Default)]
pub struct StatementCost {
    scans: Vec<ScanCost>,
}

/// What one scan of a statement (a `rapid7_logs` or per-log table in its
/// plan) would fetch. Its `Display` is the whole estimate,
/// `≈8.6M events (≈17,300 queries, ≈2.9 h at this key's quota)`.
#[derive(Debug, Clone)]
pub struct ScanCost {
    /// Per log estimated, its label (name, or id) and what fetching what
    /// the cache lacks of it costs. Logs whose missing ranges total a few
    /// minutes, and scans that read as they go, are not estimated.
    pub logs: Vec<(String, FetchEstimate)>,
    /// The estimates of `logs`, summed.
    pub total: FetchEstimate,
    /// How long `total`'s queries take at this key's quota.
    pub duration: Duration,
    /// The statement's limit of events (0: no limit).
    pub limit: u64,
    /// Whether `total` is over `limit`: executing the scan unapproved
    /// fails before any event page.
    pub over_limit: bool,
    /// Whether this plan's scan was approved ([`StatementCost::approve`]).
    pub approved: bool,
    /// The statement's filters on `message` (SQL text) not sent to Rapid7:
    /// they do not narrow the fetch.
    pub not_pushed: Vec<String>,
    /// Why a pushdown (counts, newest first) did not apply to the
    /// statement, when one was tried: the reason it pages.
    pub why_paged: Option<String>,
    query_rate: f64,
    id: ScanId,
}

impl fmt::Display for ScanCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Cost {
            estimate: self.total,
            duration: self.duration,
        }
        .fmt(f)
    }
}

impl ScanCost {
    fn of(scan: &Rapid7ScanExec) -> Self {
        let logs = scan.estimates();
        let total = logs
            .iter()
            .fold(FetchEstimate::default(), |acc, (_, e)| acc + *e);
        ScanCost {
            duration: total.duration_at(scan.query_rate()),
            total,
            logs,
            limit: scan.fetch_limit(),
            over_limit: scan.over_limit(),
            approved: scan.is_approved(),
            not_pushed: scan.not_pushed().to_vec(),
            why_paged: scan.why_not().map(str::to_string),
            query_rate: scan.query_rate(),
            id: scan.id(),
        }
    }

    /// Whether executing the scan fails for its estimate: over the limit,
    /// and not approved.
    pub fn needs_approval(&self) -> bool {
        self.over_limit && !self.approved
    }

    /// The error executing the scan fails with when it
    /// [needs approval](Self::needs_approval).
    pub fn refusal(&self) -> Option<Error> {
        if !self.needs_approval() {
            return None;
        }
        check_budget(&self.logs, self.limit, self.query_rate)
            .err()
            .map(|e| e.with_not_pushed(&self.not_pushed))
    }
}

impl StatementCost {
    /// Every scan of the statement that needs the API, in plan order.
    pub fn scans(&self) -> &[ScanCost] {
        &self.scans
    }

    /// The scans that [need approval](ScanCost::needs_approval).
    pub fn over_limit(&self) -> impl Iterator<Item = &ScanCost> {
        self.scans.iter().filter(|s| s.needs_approval())
    }

    /// Whether executing the statement fails for an estimate over its limit.
    pub fn needs_approval(&self) -> bool {
        self.over_limit().next().is_some()
    }

    /// The estimates of every scan, summed.
    pub fn total(&self) -> FetchEstimate {
        self.scans
            .iter()
            .fold(FetchEstimate::default(), |acc, s| acc + s.total)
    }

    /// The error executing the statement fails with, before any event page,
    /// when it [needs approval](Self::needs_approval): the
    /// [`Error::FetchBudget`] of its first scan over the limit.
    pub fn refusal(&self) -> Option<Error> {
        self.over_limit().find_map(ScanCost::refusal)
    }

    /// `plan` with the scans of this cost that are over the limit approved:
    /// they fetch what was estimated even over the limit. `plan` (the plan
    /// this cost was estimated from) is not changed, and other scans keep
    /// their limit (those that read as they go still count what they read).
    pub fn approve(&self, plan: Arc<dyn ExecutionPlan>) -> DfResult<Arc<dyn ExecutionPlan>> {
        let ids: Vec<&ScanId> = self.over_limit().map(|s| &s.id).collect();
        if ids.is_empty() {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            if let Some(scan) = node.downcast_ref::<Rapid7ScanExec>()
                && ids.iter().any(|id| id.is(scan))
                && !scan.is_approved()
            {
                let approved: Arc<dyn ExecutionPlan> = Arc::new(scan.approved());
                return Ok(Transformed::yes(approved));
            }
            Ok(Transformed::no(node))
        })
        .map(|t| t.data)
    }
}

impl Rapid7 {
    /// What running `plan` (a physical plan of a statement over this
    /// source) would fetch: the estimates planning asked of Rapid7's
    /// statistics, per scan of this source's tables. Asks nothing of
    /// Rapid7. Scans of another source are left out (approve them through
    /// theirs). See [`StatementCost`].
    pub fn estimate(&self, plan: &Arc<dyn ExecutionPlan>) -> StatementCost {
        let mut scans = Vec::new();
        let mut stack = vec![plan];
        while let Some(node) = stack.pop() {
            if let Some(scan) = node.downcast_ref::<Rapid7ScanExec>()
                && scan.fetches_with(&self.inner.fetcher)
            {
                scans.push(ScanCost::of(scan));
            }
            stack.extend(node.children().into_iter().rev());
        }
        StatementCost { scans }
    }
}

/// The limit of events of a statement in a session with `options`: the
/// session's `SET rapid7.max_fetch_events` over the source's
/// [`Rapid7Config::max_fetch_events`], or, when that is a ceiling
/// ([`Rapid7Config::fetch_limit_is_ceiling`]), the lower of the two
/// (0 means no limit on either side).
pub(crate) fn statement_limit(config: &Rapid7Config, options: &ConfigOptions) -> u64 {
    let source = config.max_fetch_events;
    match Rapid7Options::from_config(options).max_fetch_events {
        None => source,
        Some(session) if !config.fetch_limit_is_ceiling || source == 0 => session,
        Some(0) => source,
        Some(session) => session.min(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::SegmentCache;

    #[test]
    fn a_ceiling_is_lowered_never_raised_or_lifted() {
        let limit = |config: &Rapid7Config, session: Option<u64>| {
            let mut options = ConfigOptions::new();
            options.extensions.insert(Rapid7Options {
                max_fetch_events: session,
                ..Default::default()
            });
            statement_limit(config, &options)
        };
        let shell = Rapid7Config::offline_only(SegmentCache::bypass()).with_max_fetch_events(100);
        assert_eq!(limit(&shell, None), 100);
        assert_eq!(limit(&shell, Some(1_000)), 1_000);
        assert_eq!(limit(&shell, Some(0)), 0);
        let server = shell.clone().with_fetch_limit_ceiling(true);
        assert_eq!(limit(&server, None), 100);
        assert_eq!(limit(&server, Some(10)), 10);
        assert_eq!(limit(&server, Some(1_000)), 100);
        assert_eq!(limit(&server, Some(0)), 100);
        // No ceiling to hold.
        let unlimited = server.with_max_fetch_events(0);
        assert_eq!(limit(&unlimited, Some(1_000)), 1_000);
        assert_eq!(limit(&unlimited, None), 0);
    }
}
