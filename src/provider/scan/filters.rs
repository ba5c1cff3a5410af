//! The query's filters, evaluated by the scan itself.
//!
//! `rapid7_logs` takes every filter `Exact`: the time predicates choose the
//! windows and the `log_name` / `log_id` predicates the logs (they only narrow
//! what is read, never below what the predicate can match), and the scan
//! then applies the whole conjunction to the rows it produces. DataFusion
//! therefore plans no filter of its own above the scan, which lets the
//! cached scan filter string views before casting them (see `cached.rs`),
//! and leaves the projection it asks for free of filter-only columns: the
//! scan reads those itself ([`read_columns`]) and drops them after filtering.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::physical_plan::filter::FilterExecBuilder;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};

/// The columns a scan reads, and how many of them it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadColumns {
    /// Table column indices: the projection, then filter-only columns.
    pub(crate) read: Vec<usize>,
    /// How many of `read` (the projection) the scan returns.
    pub(crate) keep: usize,
}

/// The columns a scan reads: `projection` (all columns when `None`) in its
/// order, then each column only `filters` use.
pub(crate) fn read_columns(
    schema: &Schema,
    projection: Option<&Vec<usize>>,
    filters: &[Expr],
) -> DfResult<ReadColumns> {
    let mut columns = match projection {
        Some(p) => p.clone(),
        None => (0..schema.fields().len()).collect(),
    };
    let mut extra: Vec<usize> = Vec::new();
    for filter in filters {
        for column in filter.column_refs() {
            let index = schema.index_of(&column.name)?;
            if !columns.contains(&index) && !extra.contains(&index) {
                extra.push(index);
            }
        }
    }
    // Deterministic order, whatever order the column sets iterate in.
    extra.sort_unstable();
    let keep = columns.len();
    columns.extend(extra);
    Ok(ReadColumns {
        read: columns,
        keep,
    })
}

/// The conjunction of `filters` type-coerced against `schema`, simplified
/// and planned, or `None` when there are no filters.
///
/// Simplifying after coercion folds the casts coercion puts on literals
/// (`log_name = CAST('a' AS Utf8View)` becomes `log_name = 'a'`), so the
/// Parquet scan can still derive literal guarantees and prune with them.
pub(crate) fn predicate(
    state: &dyn Session,
    schema: &Arc<Schema>,
    filters: &[Expr],
) -> DfResult<Option<Arc<dyn PhysicalExpr>>> {
    let Some(expr) = conjunction(filters.to_vec()) else {
        return Ok(None);
    };
    let df_schema = Arc::new(DFSchema::try_from(Arc::clone(schema))?);
    let context = SimplifyContext::builder()
        .with_schema(Arc::clone(&df_schema))
        .with_config_options(Arc::clone(state.config().options()))
        .with_query_execution_start_time(state.execution_props().query_execution_start_time)
        .build();
    let simplifier = ExprSimplifier::new(context);
    let expr = simplifier.simplify(simplifier.coerce(expr, &df_schema)?)?;
    state.create_physical_expr(expr, &df_schema).map(Some)
}

/// `input` (whose first `keep` columns are the ones asked for) filtered by
/// `predicate`, cut to its first `keep` columns and to `limit` rows.
pub(crate) fn filter_exec(
    input: Arc<dyn ExecutionPlan>,
    predicate: Arc<dyn PhysicalExpr>,
    keep: usize,
    limit: Option<usize>,
) -> DfResult<Arc<dyn ExecutionPlan>> {
    let width = input.schema().fields().len();
    let mut builder = FilterExecBuilder::new(predicate, input).with_fetch(limit);
    if keep < width {
        builder = builder.apply_projection(Some((0..keep).collect()))?;
    }
    Ok(Arc::new(builder.build()?))
}

/// `input` with the query's `filters` applied (planned against its schema),
/// cut to its first `keep` columns and to `limit` rows.
pub(crate) fn apply_filters(
    state: &dyn Session,
    input: Arc<dyn ExecutionPlan>,
    filters: &[Expr],
    keep: usize,
    limit: Option<usize>,
) -> DfResult<Arc<dyn ExecutionPlan>> {
    match predicate(state, &input.schema(), filters)? {
        Some(predicate) => filter_exec(input, predicate, keep, limit),
        None => Ok(input),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;
    use crate::events::event_schema;

    #[test]
    fn filter_only_columns_are_read_after_the_projection() {
        let schema = event_schema();
        // message (4), then log_name (2) and timestamp (0) for the filters.
        let filters = [
            col("timestamp").gt(lit(1)),
            col("log_name")
                .eq(lit("a"))
                .and(col("message").like(lit("%x%"))),
        ];
        let read = |p: Option<&Vec<usize>>, f: &[Expr]| {
            let c = read_columns(&schema, p, f).unwrap();
            (c.read, c.keep)
        };
        assert_eq!(read(Some(&vec![4]), &filters), (vec![4, 0, 2], 1));
        assert_eq!(read(Some(&vec![]), &filters[..1]), (vec![0], 0));
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        assert_eq!(read(None, &filters), (all.clone(), all.len()));
    }
}
