//! The logical rule that turns `ORDER BY timestamp DESC … LIMIT n` over
//! `rapid7_logs` into a newest-first read: it finds a `Sort` with a fetch
//! whose first key is `timestamp` descending, over the table's scan (through
//! projections of plain columns only), and gives the scan that `n`
//! ([`Rapid7LogsTable::with_newest_first`]). The sort stays: it picks the rows, the scan only stops paging early (see
//! `scan/newest.rs`). DataFusion 55's `ScanArgs` carries no ordering, so a
//! rule is the way to tell the scan. `SET rapid7.pushdown_newest_first =
//! false` turns it off.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, LogicalPlan, Projection, Sort, TableScan, TableScanBuilder};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::Rapid7Options;
use super::scan::Rapid7LogsTable;
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
        let LogicalPlan::Sort(Sort {
            expr,
            input,
            fetch: Some(n),
        }) = &plan
        else {
            return Ok(Transformed::no(plan));
        };
        let newest = expr.first().is_some_and(|s| {
            !s.asc && matches!(&s.expr, Expr::Column(c) if c.name == columns::TIMESTAMP)
        });
        // Through projections of plain columns only: there `timestamp` is
        // still the scan's own column, and no row is dropped between the scan
        // and the sort.
        let mut projections = Vec::new();
        let mut node = input.as_ref();
        while let LogicalPlan::Projection(p) = node {
            if !p.expr.iter().all(|e| matches!(e, Expr::Column(_))) {
                return Ok(Transformed::no(plan));
            }
            projections.push(p);
            node = p.input.as_ref();
        }
        let LogicalPlan::TableScan(scan) = node else {
            return Ok(Transformed::no(plan));
        };
        if !newest || !Rapid7Options::from_config(&config.options()).pushdown_newest_first {
            return Ok(Transformed::no(plan));
        }
        let Ok(provider) = source_as_provider(&scan.source) else {
            return Ok(Transformed::no(plan));
        };
        let Some(table) = provider.downcast_ref::<Rapid7LogsTable>() else {
            return Ok(Transformed::no(plan));
        };
        if table.newest_first() == Some(*n) {
            return Ok(Transformed::no(plan));
        }
        let mut rebuilt = LogicalPlan::TableScan(rebuild(scan, table.with_newest_first(*n))?);
        for p in projections.into_iter().rev() {
            rebuilt =
                LogicalPlan::Projection(Projection::try_new(p.expr.clone(), Arc::new(rebuilt))?);
        }
        Ok(Transformed::yes(LogicalPlan::Sort(Sort {
            expr: expr.clone(),
            input: Arc::new(rebuilt),
            fetch: Some(*n),
        })))
    }
}

fn rebuild(scan: &TableScan, table: Rapid7LogsTable) -> DfResult<TableScan> {
    TableScanBuilder::new(scan.table_name.clone(), provider_as_source(Arc::new(table)))
        .with_projection(scan.projection.clone())
        .with_filters(scan.filters.clone())
        .with_fetch(scan.fetch)
        .build()
}
