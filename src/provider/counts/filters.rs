//! The filters a count from statistics applies exactly: those of time and
//! log, which choosing windows and logs captures (see [`exact_filter`]).

use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

use crate::events::columns;
use crate::provider::expr::strip_alias;

/// A filter that choosing windows and logs captures exactly.
pub(super) fn exact_filter(e: &Expr) -> bool {
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

/// `e` (an alias of) one of the columns `names`.
pub(super) fn is_column(e: &Expr, names: &[&str]) -> bool {
    matches!(strip_alias(e), Expr::Column(c) if names.contains(&c.name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
