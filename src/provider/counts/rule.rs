//! The logical rule that answers `count(*)` over `rapid7_logs` from counts:
//! Rapid7's statistics for what the cache lacks, the manifests and parts for
//! what it holds.
//!
//! It rewrites
//!
//! ```text
//! Aggregate: groupBy=[G], aggr=[count(*) …]
//!   (projections, subquery aliases: a CTE or a subquery)
//!     TableScan: rapid7_logs, filters=F
//! ```
//!
//! into
//!
//! ```text
//! Projection: G' AS G, coalesce(__rapid7_count, 0) AS count(*) …
//!   Aggregate: groupBy=[G'], aggr=[sum(n) AS __rapid7_count]
//!     TableScan: rapid7_logs (Rapid7CountsTable), filters=F
//! ```
//!
//! where `G'` is `G` over the scan's own columns, and the counts table
//! yields one row `(timestamp, log_id, log_name, n)` per log and bin (the
//! bin's start as `timestamp`), so `G'` gives each row the group its events
//! had. It applies only where the answer stays exact:
//!
//! - every aggregate is `count(*)`, `count(<literal>)` or `count` of a column
//!   that is never null (`timestamp`, `log_id`, `sequence_number`,
//!   `message`), with no `DISTINCT`, `FILTER` or `ORDER BY`;
//! - every group reads only `log_name`, `log_id` and `timestamp`, and is
//!   constant within the bins chosen for it (`groups.rs`: `date_bin`,
//!   `date_trunc`, `date_part`, `to_char`, casts of those, …);
//! - every filter is a comparison of `timestamp` with a millisecond literal
//!   (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`), or `log_name` / `log_id` `=` or
//!   `IN` string literals: exactly what choosing windows and logs captures,
//!   so no row filter is left to apply; nothing between the count and the
//!   scan drops or limits rows;
//! - `SET rapid7.pushdown_aggregates = false` turns it off.
//!
//! Where a count over `rapid7_logs` is not pushed, the scan is told why
//! ([`Rapid7LogsTable::with_why_not`](crate::provider::Rapid7LogsTable::with_why_not)):
//! `EXPLAIN` and the shell's budget
//! question show it.

use std::sync::Arc;

use datafusion::common::Column;
use datafusion::common::tree_node::Transformed;
use datafusion::datasource::provider_as_source;
use datafusion::error::Result as DfResult;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::count::Count;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, Expr, LogicalPlan, LogicalPlanBuilder, TableScanBuilder, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::filters::{exact_filter, is_column, logs_exact};
use super::groups::group_bin;
use super::table::{COUNT_COLUMN, Rapid7CountsTable};
use crate::events::columns;
use crate::provider::Rapid7Options;
use crate::provider::expr::strip_alias;
use crate::provider::scan_path::{ScanPath, replace_table};

/// Output column of the rewritten aggregate.
const SUMMED: &str = "__rapid7_count";

/// Answers `count(*)` over `rapid7_logs` (and the per-log tables) from
/// statistics and manifests; see the module docs for when.
#[derive(Debug, Default)]
pub struct CountPushdown;

impl OptimizerRule for CountPushdown {
    fn name(&self) -> &str {
        "rapid7_count_pushdown"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> DfResult<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let Some(path) = ScanPath::find(aggregate.input.as_ref()) else {
            return Ok(Transformed::no(plan));
        };
        let outcome = if Rapid7Options::from_config(&config.options()).pushdown_aggregates {
            rewrite(aggregate, &path)?
        } else {
            Err("turned off (SET rapid7.pushdown_aggregates = true turns it on)".to_string())
        };
        let reason: Arc<str> = match outcome {
            Ok(new) => return Ok(Transformed::yes(new)),
            Err(why) => format!("counts not pushed: {why}").into(),
        };
        if path.table.why_not() == Some(&*reason) {
            return Ok(Transformed::no(plan));
        }
        replace_table(plan, &|table| Some(table.with_why_not(Arc::clone(&reason))))
    }
}

/// The rewritten plan, or why the count is not pushed. Errors of building
/// the new plan are reasons too: a rule that fails fails the statement.
fn rewrite(aggregate: &Aggregate, path: &ScanPath<'_>) -> DfResult<Result<LogicalPlan, String>> {
    if let Some(blocker) = &path.blocker {
        return Ok(Err(blocker.clone()));
    }
    let scan = path.scan;
    let fields = aggregate.schema.fields();
    let groups = aggregate.group_expr.len();
    if aggregate.aggr_expr.is_empty() {
        return Ok(Err("no count (a GROUP BY or DISTINCT alone)".into()));
    }
    for (i, e) in aggregate.aggr_expr.iter().enumerate() {
        if !counts_every_row(&path.to_scan(e)?) {
            return Ok(Err(format!(
                "{} is not count(*) or count of a column that is never null",
                fields[groups + i].name()
            )));
        }
    }
    let group_expr = aggregate
        .group_expr
        .iter()
        .map(|g| path.to_scan(g))
        .collect::<DfResult<Vec<_>>>()?;
    let names: Vec<String> = fields[..groups].iter().map(|f| f.name().clone()).collect();
    let bin = match group_bin(&group_expr, &names) {
        Ok(bin) => bin,
        Err(why) => return Ok(Err(why)),
    };
    if let Some(f) = scan.filters.iter().find(|f| !exact_filter(f)) {
        return Ok(Err(format!(
            "WHERE {f} is not a filter of time or log (counts from statistics apply no other)"
        )));
    }
    if !logs_exact(&scan.filters) {
        return Ok(Err(format!(
            "the log filters combine into more than {} alternatives (counts from statistics \
             need the logs chosen exactly)",
            crate::provider::window::MAX_TERMS
        )));
    }
    let counts =
        Rapid7CountsTable::new(path.table.rapid7().clone(), path.table.log().cloned(), bin);
    Ok(build(aggregate, scan, counts, group_expr).map_err(|e| format!("not rewritten ({e})")))
}

fn build(
    aggregate: &Aggregate,
    scan: &datafusion::logical_expr::TableScan,
    counts: Rapid7CountsTable,
    group_expr: Vec<Expr>,
) -> DfResult<LogicalPlan> {
    let counts_scan = LogicalPlan::TableScan(
        TableScanBuilder::new(
            scan.table_name.clone(),
            provider_as_source(Arc::new(counts)),
        )
        .with_filters(scan.filters.clone())
        .build()?,
    );
    let n = Expr::Column(Column::new(Some(scan.table_name.clone()), COUNT_COLUMN));
    // Unique names: two groups may be one expression over the scan.
    let group_expr: Vec<Expr> = group_expr
        .into_iter()
        .enumerate()
        .map(|(i, g)| strip_alias(&g).clone().alias(format!("__rapid7_group_{i}")))
        .collect();
    let summed = LogicalPlanBuilder::from(counts_scan)
        .aggregate(group_expr, vec![sum(n).alias(SUMMED)])?
        .build()?;
    let groups = aggregate.group_expr.len();
    let mut out: Vec<Expr> = Vec::with_capacity(aggregate.schema.fields().len());
    for i in 0..groups {
        let (qualifier, field) = aggregate.schema.qualified_field(i);
        let (q, f) = summed.schema().qualified_field(i);
        out.push(
            Expr::Column(Column::new(q.cloned(), f.name()))
                .alias_qualified(qualifier.cloned(), field.name()),
        );
    }
    for i in 0..aggregate.aggr_expr.len() {
        let (qualifier, field) = aggregate.schema.qualified_field(groups + i);
        let value = coalesce(vec![
            Expr::Column(Column::new_unqualified(SUMMED)),
            lit(0i64),
        ]);
        out.push(value.alias_qualified(qualifier.cloned(), field.name()));
    }
    LogicalPlanBuilder::from(summed).project(out)?.build()
}

/// `count(*)`, `count(1)` or `count(col)` of a column that is never null.
fn counts_every_row(e: &Expr) -> bool {
    let Expr::AggregateFunction(AggregateFunction { func, params }) = strip_alias(e) else {
        return false;
    };
    if !func.inner().is::<Count>()
        || params.distinct
        || params.filter.is_some()
        || !params.order_by.is_empty()
    {
        return false;
    }
    match params.args.as_slice() {
        [] => true,
        [arg] => match strip_alias(arg) {
            Expr::Literal(v, _) => !v.is_null(),
            other => is_column(
                other,
                &[
                    columns::TIMESTAMP,
                    columns::LOG_ID,
                    columns::SEQUENCE_NUMBER,
                    columns::MESSAGE,
                ],
            ),
        },
        _ => false,
    }
}
