//! The logical rule that turns `ORDER BY timestamp DESC … LIMIT n` over
//! `rapid7_logs` into a newest-first read: it finds a `Sort` with a fetch
//! (`LIMIT n`, or `LIMIT n OFFSET k` as a fetch of `n + k`) whose first key
//! is the scan's own `timestamp`, descending, and gives the scan that fetch
//! ([`Rapid7LogsTable::with_newest_first`]).
//!
//! Between the sort and the scan may lie projections (computed select
//! lists, `timestamp AS t` with `ORDER BY t`), subquery aliases (CTEs,
//! subqueries) and sorts: none drops a row, and the key is followed through
//! them to the scan's column (a computed column named `timestamp` is not
//! it). A filter DataFusion keeps above the scan, or a `LIMIT` below the
//! sort, drops rows the scan cannot see: not pushed. The scan applies every
//! pushed filter itself (message filters also go to Rapid7 as LEQL), so the
//! rows it counts towards `n` are the rows the sort sees.
//!
//! The sort stays: it picks the rows, the scan only stops paging early (see
//! `scan/newest.rs`; each log is read newest first, and the sort merges
//! them). DataFusion 55's `ScanArgs` carries no ordering, so a rule is the
//! way to tell the scan. `SET rapid7.pushdown_newest_first = false` turns it
//! off. Where a `LIMIT` or `ORDER BY timestamp DESC` over `rapid7_logs` is
//! not pushed, the scan is told why ([`Rapid7LogsTable::with_why_not`]).

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, LogicalPlan, Sort};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::Rapid7Options;
use super::expr::strip_alias;
use super::scan::Rapid7LogsTable;
use super::scan_path::{ScanPath, replace_table};
use crate::events::columns;

/// Gives newest-first scans their limit; see the module docs.
#[derive(Debug, Default)]
pub struct NewestFirst;

impl OptimizerRule for NewestFirst {
    fn name(&self) -> &str {
        "rapid7_newest_first"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> DfResult<Transformed<LogicalPlan>> {
        let LogicalPlan::Sort(Sort { expr, input, fetch }) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some(path) = ScanPath::find(input.as_ref()) else {
            return Ok(Transformed::no(plan));
        };
        let Some(first) = expr.first() else {
            return Ok(Transformed::no(plan));
        };
        let key = path.to_scan(&first.expr)?;
        let on_timestamp = matches!(
            strip_alias(&key),
            Expr::Column(c) if c.name == columns::TIMESTAMP
                && c.relation.as_ref().is_none_or(|r| *r == path.scan.table_name)
        );
        let why = match (on_timestamp && !first.asc, fetch) {
            (false, None) => return Ok(Transformed::no(plan)),
            (false, Some(_)) => format!(
                "ORDER BY {} {} is not ORDER BY timestamp DESC",
                first.expr,
                if first.asc { "ASC" } else { "DESC" }
            ),
            (true, None) => "no LIMIT: the whole window is read".to_string(),
            (true, Some(_)) if path.blocker.is_some() => path.blocker.clone().unwrap_or_default(),
            (true, Some(_))
                if !Rapid7Options::from_config(&config.options()).pushdown_newest_first =>
            {
                "turned off (SET rapid7.pushdown_newest_first = true turns it on)".to_string()
            }
            (true, Some(n)) => {
                let n = *n;
                if path.table.newest_first() == Some(n) {
                    return Ok(Transformed::no(plan));
                }
                return replace_table(plan, &|table: &Rapid7LogsTable| {
                    Some(table.with_newest_first(n))
                });
            }
        };
        let reason: Arc<str> = format!("newest first not pushed: {why}").into();
        if path.table.why_not() == Some(&*reason) || path.table.newest_first().is_some() {
            return Ok(Transformed::no(plan));
        }
        replace_table(plan, &|table| Some(table.with_why_not(Arc::clone(&reason))))
    }
}
