//! The logical rule that answers `count(*)` over `rapid7_logs` from counts:
//! Rapid7's statistics for what the cache lacks, the manifests and parts for
//! what it holds.
//!
//! It rewrites
//!
//! ```text
//! Aggregate: groupBy=[G], aggr=[count(*) …]
//!   TableScan: rapid7_logs, filters=F
//! ```
//!
//! into
//!
//! ```text
//! Projection: G, coalesce(__rapid7_count, 0) AS count(*) …
//!   Aggregate: groupBy=[G], aggr=[sum(n) AS __rapid7_count]
//!     TableScan: rapid7_logs (Rapid7CountsTable), filters=F
//! ```
//!
//! where the counts table yields one row `(timestamp, log_id, log_name, n)`
//! per log and bin (the bin's start as `timestamp`), so `G` gives each row
//! the group its events had. It applies only where the answer stays exact:
//!
//! - every aggregate is `count(*)`, `count(<literal>)` or `count` of a column
//!   that is never null (`timestamp`, `log_id`, `sequence_number`,
//!   `message`), with no `DISTINCT`, `FILTER` or `ORDER BY`;
//! - every group is `log_name`, `log_id`, or one `date_bin` of `timestamp` by
//!   a fixed interval (whole milliseconds, no months) and a literal origin;
//! - every filter is a comparison of `timestamp` with a millisecond literal
//!   (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`), or `log_name` / `log_id` `=` or
//!   `IN` string literals: exactly what choosing windows and logs captures,
//!   so no row filter is left to apply;
//! - `SET rapid7.pushdown_aggregates = false` turns it off.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::error::Result as DfResult;
use datafusion::functions::datetime::date_bin::DateBinFunc;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::count::Count;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::expr::{AggregateFunction, InList, ScalarFunction};
use datafusion::logical_expr::{
    Aggregate, Between, BinaryExpr, Cast, Expr, LogicalPlan, LogicalPlanBuilder, Operator,
    TableScanBuilder, lit,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::bin::Bin;
use super::table::{COUNT_COLUMN, Rapid7CountsTable};
use crate::events::columns;
use crate::provider::{Rapid7LogsTable, Rapid7Options};

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
        if !Rapid7Options::from_config(&config.options()).pushdown_aggregates {
            return Ok(Transformed::no(plan));
        }
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        match rewrite(aggregate)? {
            Some(new) => Ok(Transformed::yes(new)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

fn rewrite(aggregate: &Aggregate) -> DfResult<Option<LogicalPlan>> {
    let LogicalPlan::TableScan(scan) = aggregate.input.as_ref() else {
        return Ok(None);
    };
    if scan.fetch.is_some() {
        return Ok(None);
    }
    let Ok(provider) = source_as_provider(&scan.source) else {
        return Ok(None);
    };
    let Some(table) = provider.downcast_ref::<Rapid7LogsTable>() else {
        return Ok(None);
    };
    if !scan.filters.iter().all(exact_filter) {
        return Ok(None);
    }
    let mut bin = None;
    for group in &aggregate.group_expr {
        match group_kind(group) {
            Some(Group::Log) => {}
            Some(Group::Bin(b)) if bin.is_none() || bin == Some(b) => bin = Some(b),
            _ => return Ok(None),
        }
    }
    if aggregate.aggr_expr.is_empty() || !aggregate.aggr_expr.iter().all(counts_every_row) {
        return Ok(None);
    }

    let counts = Rapid7CountsTable::new(table.rapid7().clone(), table.log().cloned(), bin);
    let counts_scan = LogicalPlan::TableScan(
        TableScanBuilder::new(
            scan.table_name.clone(),
            provider_as_source(Arc::new(counts)),
        )
        .with_filters(scan.filters.clone())
        .build()?,
    );
    let n = Expr::Column(Column::new(Some(scan.table_name.clone()), COUNT_COLUMN));
    let summed = LogicalPlanBuilder::from(counts_scan)
        .aggregate(aggregate.group_expr.clone(), vec![sum(n).alias(SUMMED)])?
        .build()?;
    let groups = aggregate.group_expr.len();
    let mut out: Vec<Expr> = Vec::with_capacity(aggregate.schema.fields().len());
    for i in 0..groups {
        let (qualifier, field) = summed.schema().qualified_field(i);
        out.push(Expr::Column(Column::new(qualifier.cloned(), field.name())));
    }
    for i in 0..aggregate.aggr_expr.len() {
        let (qualifier, field) = aggregate.schema.qualified_field(groups + i);
        let value = coalesce(vec![
            Expr::Column(Column::new_unqualified(SUMMED)),
            lit(0i64),
        ]);
        out.push(value.alias_qualified(qualifier.cloned(), field.name()));
    }
    let plan = LogicalPlanBuilder::from(summed).project(out)?.build()?;
    Ok(Some(plan))
}

enum Group {
    Log,
    Bin(Bin),
}

fn strip_alias(e: &Expr) -> &Expr {
    match e {
        Expr::Alias(a) => strip_alias(&a.expr),
        other => other,
    }
}

fn is_column(e: &Expr, names: &[&str]) -> bool {
    matches!(strip_alias(e), Expr::Column(c) if names.contains(&c.name.as_str()))
}

fn group_kind(e: &Expr) -> Option<Group> {
    let e = strip_alias(e);
    if is_column(e, &[columns::LOG_NAME, columns::LOG_ID]) {
        return Some(Group::Log);
    }
    let Expr::ScalarFunction(ScalarFunction { func, args }) = e else {
        return None;
    };
    func.inner().downcast_ref::<DateBinFunc>()?;
    let (stride, source, origin) = match args.as_slice() {
        [stride, source] => (stride, source, None),
        [stride, source, origin] => (stride, source, Some(origin)),
        _ => return None,
    };
    if !is_timestamp(source) {
        return None;
    }
    let stride_ms = match strip_alias(stride) {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => mdn_millis(*v)?,
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => {
            i64::from(v.days) * 86_400_000 + i64::from(v.milliseconds)
        }
        _ => return None,
    };
    let origin_ms = match origin.map(strip_alias) {
        None => 0,
        Some(Expr::Literal(v, _)) => timestamp_ms(v)?,
        Some(_) => return None,
    };
    (stride_ms > 0).then_some(Group::Bin(Bin {
        stride_ms,
        origin_ms,
    }))
}

/// A fixed interval in whole milliseconds (no months).
fn mdn_millis(v: IntervalMonthDayNano) -> Option<i64> {
    if v.months != 0 {
        return None;
    }
    let nanos = i128::from(v.days) * 86_400_000_000_000 + i128::from(v.nanoseconds);
    (nanos % 1_000_000 == 0)
        .then(|| i64::try_from(nanos / 1_000_000).ok())
        .flatten()
}

/// `timestamp`, or a cast of it to a timestamp unit at least as fine as
/// milliseconds (which keeps every instant: the column is in milliseconds;
/// a cast to seconds would move instants to other bins).
fn is_timestamp(e: &Expr) -> bool {
    match strip_alias(e) {
        Expr::Cast(Cast { expr, field }) => {
            matches!(
                field.data_type(),
                DataType::Timestamp(
                    TimeUnit::Millisecond | TimeUnit::Microsecond | TimeUnit::Nanosecond,
                    Some(_)
                )
            ) && is_timestamp(expr)
        }
        other => is_column(other, &[columns::TIMESTAMP]),
    }
}

/// A non-null timestamp literal as exact epoch milliseconds.
fn timestamp_ms(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampMillisecond(Some(ms), _) => Some(*ms),
        ScalarValue::TimestampSecond(Some(s), _) => s.checked_mul(1000),
        ScalarValue::TimestampMicrosecond(Some(us), _) if us % 1_000 == 0 => Some(us / 1_000),
        ScalarValue::TimestampNanosecond(Some(ns), _) if ns % 1_000_000 == 0 => {
            Some(ns / 1_000_000)
        }
        _ => None,
    }
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

/// A filter that choosing windows and logs captures exactly.
fn exact_filter(e: &Expr) -> bool {
    time_filter(e) || log_filter(e)
}

/// Only of `timestamp`: comparisons with millisecond literals, combined with
/// AND and OR (windows are unions of ranges).
fn time_filter(e: &Expr) -> bool {
    match strip_alias(e) {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And | Operator::Or,
            right,
        }) => time_filter(left) && time_filter(right),
        other => simple_filter(other, false),
    }
}

/// Only of `log_name` / `log_id`: equalities and IN lists of strings,
/// combined with AND, and with OR within one column (the simplifier turns
/// short IN lists into ORs). The log selection keeps a union exactly only as
/// a set of names or a set of ids: `log_name = 'a' OR log_id = 'x'` would
/// select every log, and the counts apply no filter of their own.
fn log_filter(e: &Expr) -> bool {
    match strip_alias(e) {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => log_filter(left) && log_filter(right),
        or @ Expr::BinaryExpr(BinaryExpr {
            op: Operator::Or, ..
        }) => log_filter_on(or, columns::LOG_NAME) || log_filter_on(or, columns::LOG_ID),
        other => simple_filter(other, true),
    }
}

/// [`log_filter`] with every comparison on the one column `column`.
fn log_filter_on(e: &Expr, column: &str) -> bool {
    match strip_alias(e) {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And | Operator::Or,
            right,
        }) => log_filter_on(left, column) && log_filter_on(right, column),
        other => simple_filter(other, true) && other.column_refs().iter().all(|c| c.name == column),
    }
}

/// One comparison: of `timestamp` (`logs` false) or of a log column.
fn simple_filter(e: &Expr, logs: bool) -> bool {
    let ts_literal = |e: &Expr| {
        matches!(
            strip_alias(e),
            Expr::Literal(ScalarValue::TimestampMillisecond(Some(_), _), _)
        )
    };
    let str_literal = |e: &Expr| {
        matches!(
            strip_alias(e),
            Expr::Literal(
                ScalarValue::Utf8(Some(_))
                    | ScalarValue::Utf8View(Some(_))
                    | ScalarValue::LargeUtf8(Some(_)),
                _
            )
        )
    };
    let log = |e: &Expr| is_column(e, &[columns::LOG_NAME, columns::LOG_ID]);
    let ts = |e: &Expr| is_column(e, &[columns::TIMESTAMP]);
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if logs => {
            *op == Operator::Eq
                && ((log(left) && str_literal(right)) || (str_literal(left) && log(right)))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            matches!(
                op,
                Operator::Eq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
            ) && ((ts(left) && ts_literal(right)) || (ts_literal(left) && ts(right)))
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => !logs && ts(expr) && ts_literal(low) && ts_literal(high),
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => logs && log(expr) && list.iter().all(str_literal),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::col;

    fn ts(ms: i64) -> Expr {
        lit(ScalarValue::TimestampMillisecond(
            Some(ms),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn only_filters_that_windows_capture_exactly() {
        let t = || col("timestamp");
        for ok in [
            t().gt_eq(ts(1)),
            ts(5).gt(t()),
            t().eq(ts(3)),
            t().between(ts(1), ts(2)),
            col("log_name").eq(lit("Firewall")),
            col("log_id").in_list(vec![lit("a"), lit("b")], false),
            t().gt_eq(ts(1)).and(t().lt(ts(9))),
            t().lt(ts(1)).or(t().gt(ts(9))),
            col("log_name")
                .eq(lit("a"))
                .or(col("log_name").eq(lit("b"))),
        ] {
            assert!(exact_filter(&ok), "{ok}");
        }
        for no in [
            col("message").like(lit("%x%")),
            t().not_eq(ts(1)),
            t().gt_eq(ts(1)).or(col("log_name").eq(lit("a"))),
            col("log_name").in_list(vec![lit("a")], true),
            col("log_name").not_eq(lit("a")),
            t().not_between(ts(1), ts(2)),
            col("sequence_number").gt(lit(5u64)),
            t().gt_eq(lit(ScalarValue::TimestampNanosecond(Some(1), None))),
        ] {
            assert!(!exact_filter(&no), "{no}");
        }
    }

    #[test]
    fn bins_are_fixed_whole_milliseconds() {
        let mdn = |months, days, nanos| IntervalMonthDayNano::new(months, days, nanos);
        assert_eq!(mdn_millis(mdn(0, 0, 600_000_000_000)), Some(600_000));
        assert_eq!(mdn_millis(mdn(0, 1, 0)), Some(86_400_000));
        assert_eq!(mdn_millis(mdn(1, 0, 0)), None);
        assert_eq!(mdn_millis(mdn(0, 0, 1_500)), None);
        assert_eq!(
            timestamp_ms(&ScalarValue::TimestampNanosecond(
                Some(1_767_227_400_000_000_000),
                None
            )),
            Some(1_767_227_400_000)
        );
        assert_eq!(
            timestamp_ms(&ScalarValue::TimestampNanosecond(Some(1), None)),
            None
        );
    }
}
