//! The path from an operator down to a `rapid7_logs` scan, for the pushdown
//! rules (`counts/rule.rs`, `newest_first.rs`): through projections,
//! subquery aliases (CTEs, subqueries) and sorts, with the operator's
//! expressions rewritten to the scan's own columns; and rebuilding that path
//! with the scan's table changed (given a pushdown, or the reason one did
//! not apply).

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchemaRef};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, LogicalPlan, TableScan, TableScanBuilder};

use super::expr::strip_alias;
use super::scan::Rapid7LogsTable;

/// A chain of single-input nodes ending in a scan of a [`Rapid7LogsTable`].
pub(crate) struct ScanPath<'a> {
    /// The nodes above the scan, top first.
    steps: Vec<&'a LogicalPlan>,
    pub(crate) scan: &'a TableScan,
    pub(crate) table: Rapid7LogsTable,
    /// A node on the way that drops or limits rows (a filter DataFusion
    /// kept above the scan, a `LIMIT`), said as a reason.
    pub(crate) blocker: Option<String>,
}

impl<'a> ScanPath<'a> {
    /// The path from `plan` (the input of the operator) down to a
    /// `rapid7_logs` scan; `None` when something else lies on the way (a
    /// join, a union, an aggregate, a window, another table).
    pub(crate) fn find(plan: &'a LogicalPlan) -> Option<Self> {
        let mut steps = Vec::new();
        let mut blocker = None;
        let mut node = plan;
        loop {
            if !matches!(node, LogicalPlan::TableScan(_)) {
                steps.push(node);
            }
            match node {
                LogicalPlan::TableScan(scan) => {
                    let provider = source_as_provider(&scan.source).ok()?;
                    let table = provider.downcast_ref::<Rapid7LogsTable>()?.clone();
                    if scan.fetch.is_some() {
                        blocker.get_or_insert_with(|| "a LIMIT below it".to_string());
                    }
                    return Some(ScanPath {
                        steps,
                        scan,
                        table,
                        blocker,
                    });
                }
                LogicalPlan::Projection(p) => node = p.input.as_ref(),
                LogicalPlan::SubqueryAlias(a) => node = a.input.as_ref(),
                LogicalPlan::Sort(s) => {
                    if s.fetch.is_some() {
                        blocker.get_or_insert_with(|| "a LIMIT below it".to_string());
                    }
                    node = s.input.as_ref();
                }
                LogicalPlan::Filter(f) => {
                    blocker.get_or_insert_with(|| {
                        format!(
                            "the filter {} is applied above the scan, not by it",
                            f.predicate
                        )
                    });
                    node = f.input.as_ref();
                }
                LogicalPlan::Limit(l) => {
                    blocker.get_or_insert_with(|| "a LIMIT below it".to_string());
                    node = l.input.as_ref();
                }
                _ => return None,
            }
        }
    }

    /// `e`, an expression over the output of the path's top node, over the
    /// scan's columns: each column is replaced by what the nodes below
    /// define it as.
    pub(crate) fn to_scan(&self, e: &Expr) -> DfResult<Expr> {
        let mut e = e.clone();
        for node in &self.steps {
            e = substitute(e, node)?;
        }
        Ok(e)
    }
}

/// `e` over `node`'s output, rewritten over its input.
fn substitute(e: Expr, node: &LogicalPlan) -> DfResult<Expr> {
    let schema: &DFSchemaRef = node.schema();
    let replace = |c: &Column| -> Option<Expr> {
        let i = schema.maybe_index_of_column(c)?;
        match node {
            LogicalPlan::Projection(p) => Some(strip_alias(&p.expr[i]).clone()),
            LogicalPlan::SubqueryAlias(a) => {
                let (qualifier, field) = a.input.schema().qualified_field(i);
                Some(Expr::Column(Column::new(qualifier.cloned(), field.name())))
            }
            _ => None,
        }
    };
    if !matches!(
        node,
        LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_)
    ) {
        return Ok(e);
    }
    // Bottom up: a replacement is not itself replaced again.
    e.transform_up(|e| match &e {
        Expr::Column(c) => Ok(match replace(c) {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(e),
        }),
        _ => Ok(Transformed::no(e)),
    })
    .map(|t| t.data)
}

/// `plan` (an operator over a [`ScanPath`]) with the path's scan reading
/// `change(table)` instead, when that gives a table (`None`: no change).
pub(crate) fn replace_table(
    plan: LogicalPlan,
    change: &dyn Fn(&Rapid7LogsTable) -> Option<Rapid7LogsTable>,
) -> DfResult<Transformed<LogicalPlan>> {
    plan.map_children(|child| along_path(child, change))
}

fn along_path(
    plan: LogicalPlan,
    change: &dyn Fn(&Rapid7LogsTable) -> Option<Rapid7LogsTable>,
) -> DfResult<Transformed<LogicalPlan>> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let new = source_as_provider(&scan.source)
                .ok()
                .and_then(|p| p.downcast_ref::<Rapid7LogsTable>().and_then(change));
            match new {
                Some(table) => Ok(Transformed::yes(LogicalPlan::TableScan(with_table(
                    &scan, table,
                )?))),
                None => Ok(Transformed::no(LogicalPlan::TableScan(scan))),
            }
        }
        LogicalPlan::Projection(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Limit(_) => plan.map_children(|child| along_path(child, change)),
        other => Ok(Transformed::no(other)),
    }
}

/// `scan` over `table`, its projection, filters and fetch kept.
pub(crate) fn with_table(scan: &TableScan, table: Rapid7LogsTable) -> DfResult<TableScan> {
    TableScanBuilder::new(scan.table_name.clone(), provider_as_source(Arc::new(table)))
        .with_projection(scan.projection.clone())
        .with_filters(scan.filters.clone())
        .with_fetch(scan.fetch)
        .build()
}
