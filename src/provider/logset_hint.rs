//! `logset = 'Network'` says what to write instead.
//!
//! `logset` is a list of set names, and DataFusion has no comparison of a
//! list with a string: it fails to plan, with a message about types that
//! does not say what the user meant. This planner, consulted for each binary
//! operator as the SQL is planned, turns `=` / `<>` between a list column
//! named `logset` and a string literal into an error showing the forms that
//! work (`array_has`, `= ANY`, `array_has_any`). It changes no plan that
//! would otherwise succeed: anything else it returns as it is.

use datafusion::common::{DFSchema, ExprSchema, Result as DfResult, plan_err};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use super::expr::{string_literal, strip_alias};
use crate::events::columns;

/// The planner of the module docs (registered by [`Rapid7::register`]).
///
/// [`Rapid7::register`]: super::Rapid7::register
#[derive(Debug)]
pub(crate) struct LogsetComparison;

impl ExprPlanner for LogsetComparison {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> DfResult<PlannerResult<RawBinaryExpr>> {
        let negated = match expr.op {
            BinaryOperator::Eq => false,
            BinaryOperator::NotEq => true,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let value = match (
            is_logset(&expr.left, schema),
            is_logset(&expr.right, schema),
        ) {
            (true, false) => string_literal(&expr.right),
            (false, true) => string_literal(&expr.left),
            _ => None,
        };
        let Some(value) = value else {
            return Ok(PlannerResult::Original(expr));
        };
        let quoted = format!("'{}'", value.replace('\'', "''"));
        let (has, any) = match negated {
            false => (
                format!("array_has(logset, {quoted})"),
                format!("{quoted} = ANY(logset)"),
            ),
            true => (
                format!("NOT array_has(logset, {quoted})"),
                format!("{quoted} <> ALL(logset)"),
            ),
        };
        plan_err!(
            "logset is the list of the log's set names (a log may be in several), not one \
             name: write {has} (or {any}); for any of several sets, \
             array_has_any(logset, make_array({quoted}, 'Other'))"
        )
    }
}

/// A column named `logset` whose type in `schema` is a list.
fn is_logset(expr: &Expr, schema: &DFSchema) -> bool {
    match strip_alias(expr) {
        Expr::Column(c) if c.name == columns::LOGSET => schema
            .field_from_column(c)
            .is_ok_and(|f| f.data_type().is_nested()),
        _ => false,
    }
}
