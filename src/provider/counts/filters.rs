//! The filters a count from statistics applies exactly: those of time and
//! log, which choosing windows and logs captures (see [`exact_filter`]).

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

use crate::events::columns;
use crate::provider::expr::strip_alias;
use crate::provider::window::selects_exactly;

/// A filter that choosing windows and logs captures exactly.
pub(super) fn exact_filter(e: &Expr) -> bool {
    time_filter(e) || log_filter(e)
}

/// Whether the log filters among `filters` (those that are not of time),
/// together, select their logs exactly: each may alone, and yet their
/// conjunction be widened (past
/// [`MAX_TERMS`](crate::provider::window::MAX_TERMS) constraints).
pub(super) fn logs_exact(filters: &[Expr]) -> bool {
    let logs: Vec<&Expr> = filters.iter().filter(|f| !time_filter(f)).collect();
    selects_exactly(&logs)
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
        other => time_comparison(other),
    }
}

/// Only of the log columns (`log_name`, `log_id`, `logset`): the
/// predicates the log selection understands, combined with AND and OR (it
/// keeps them exactly, as a union of constraints; see
/// [`selects_exactly`]), so the logs chosen are exactly those whose rows
/// the filter keeps, and the counts apply no filter of their own.
fn log_filter(e: &Expr) -> bool {
    selects_exactly(&[e])
}

/// One comparison of `timestamp` with a millisecond literal.
fn time_comparison(e: &Expr) -> bool {
    let ts_literal = |e: &Expr| {
        matches!(
            strip_alias(e),
            Expr::Literal(ScalarValue::TimestampMillisecond(Some(_), _), _)
        )
    };
    let ts = |e: &Expr| is_column(e, &[columns::TIMESTAMP]);
    match e {
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
        }) => ts(expr) && ts_literal(low) && ts_literal(high),
        _ => false,
    }
}

/// `e` (an alias of) one of the columns `names`.
pub(super) fn is_column(e: &Expr, names: &[&str]) -> bool {
    matches!(strip_alias(e), Expr::Column(c) if names.contains(&c.name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::functions_nested::expr_fn::{
        array_has, array_has_any, cardinality, make_array,
    };
    use datafusion::logical_expr::{col, lit};

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
            // A union across columns is kept exactly.
            col("log_name").eq(lit("a")).or(col("log_id").eq(lit("x"))),
            array_has(col("logset"), lit("Network")),
            array_has_any(col("logset"), make_array(vec![lit("A"), lit("B")]))
                .and(col("log_name").eq(lit("a"))),
            array_has(col("logset"), lit("A")).or(col("log_name").eq(lit("b"))),
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
            // Not of a set's membership.
            cardinality(col("logset")).eq(lit(0u64)),
            Expr::Not(Box::new(array_has(col("logset"), lit("A")))),
            array_has(col("logset"), lit("A")).or(t().gt_eq(ts(1))),
        ] {
            assert!(!exact_filter(&no), "{no}");
        }
    }
}

#[cfg(test)]
mod widened {
    use super::*;
    use datafusion::logical_expr::{col, lit};

    #[test]
    fn log_filters_whose_union_is_widened_are_not_exact() {
        use datafusion::functions_nested::expr_fn::array_has;
        // (in a{i} OR log_id = 'x') AND … : 2^7 = 128 constraints, past
        // MAX_TERMS; each filter alone is exact.
        let filters: Vec<Expr> = (0..7)
            .map(|i| array_has(col("logset"), lit(format!("a{i}"))).or(col("log_id").eq(lit("x"))))
            .collect();
        assert!(filters.iter().all(exact_filter));
        assert!(!logs_exact(&filters));
        assert!(logs_exact(&filters[..2]));
    }
}
