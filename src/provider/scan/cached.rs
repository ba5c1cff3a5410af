//! The scan of a query the cache answers entirely: Parquet read with string
//! views, filtered on the views, cast back to the table's `Utf8`.
//!
//! The table declares its strings `Utf8` (design §3.1). Decoding a Parquet
//! string column to `Utf8` copies every value into one buffer; decoding to
//! `Utf8View` (what DataFusion 55's `ListingTable` does by default) points
//! into the decoded pages instead, and `LIKE` checks a view's inline prefix
//! before its bytes. So the cached scan reads views, applies the query's
//! filters to them (see `filters.rs`), and casts to `Utf8` only the rows
//! that pass.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::{CastExpr, Column};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use tracing::debug;

use super::filters::{ReadColumns, apply_filters, filter_exec, predicate};
use super::parquet::{LogPart, ParquetTarget, parquet_exec};

/// `schema` with every `Utf8` column read as `Utf8View`.
pub(crate) fn view_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Utf8View),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The plan of a fully cached scan over `parts`: the `read` columns of the
/// table, filtered by `filters`, then the first `keep` of them (the
/// projection DataFusion asked for) in the table's types, at most `limit`
/// rows.
pub(crate) fn cached_scan(
    state: &dyn Session,
    target: &ParquetTarget,
    parts: Vec<LogPart>,
    partitions: usize,
    columns: &ReadColumns,
    filters: &[Expr],
    limit: Option<usize>,
) -> DfResult<Arc<dyn ExecutionPlan>> {
    let ReadColumns { read, keep } = columns;
    let keep = *keep;
    let declared = Arc::new(target.schema.project(read)?);
    let views = ParquetTarget {
        schema: view_schema(&target.schema),
        ..target.clone()
    };
    if filters.is_empty() {
        let plan = parquet_exec(&views, parts, partitions, Some(read), None, limit)?;
        return cast_back(plan, &declared);
    }
    let plan = parquet_exec(&views, parts, partitions, Some(read), None, None)?;
    match predicate(state, &plan.schema(), filters) {
        Ok(Some(predicate)) => {
            let filtered = filter_exec(plan, predicate, keep, limit)?;
            cast_back(filtered, &declared)
        }
        // A filter that does not plan on views (a function taking only
        // `Utf8`, say) is applied after the cast instead.
        Ok(None) | Err(_) => {
            debug!("cached_scan_filters_after_cast");
            let cast = cast_back(plan, &declared)?;
            apply_filters(state, cast, filters, keep, limit)
        }
    }
}

/// `input`'s columns with each one that the table declares `Utf8` (and that
/// was read as a view) cast back; `declared` starts with `input`'s columns.
fn cast_back(input: Arc<dyn ExecutionPlan>, declared: &Schema) -> DfResult<Arc<dyn ExecutionPlan>> {
    let width = input.schema().fields().len();
    let fields = &declared.fields()[..width];
    if !fields.iter().any(|f| f.data_type() == &DataType::Utf8) {
        return Ok(input);
    }
    let exprs = fields.iter().enumerate().map(|(i, field)| {
        let column = Arc::new(Column::new(field.name(), i));
        let expr: Arc<dyn PhysicalExpr> = if field.data_type() == &DataType::Utf8 {
            Arc::new(CastExpr::new_with_target_field(
                column,
                Arc::clone(field),
                None,
            ))
        } else {
            column
        };
        ProjectionExpr::new(expr, field.name().clone())
    });
    Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
}
