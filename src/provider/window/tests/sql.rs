//! End to end through the DataFusion planner: the filters DataFusion really
//! pushes into a scan.

use crate::time::now_ms;
use std::sync::Mutex;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::SessionContext;

use super::*;
use crate::events::logs_table_schema;

/// A table with the event schema that records the filters pushed into `scan`.
#[derive(Debug)]
struct Recorder {
    schema: SchemaRef,
    scans: Mutex<Vec<Vec<Expr>>>,
}

#[async_trait::async_trait]
impl TableProvider for Recorder {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        self.scans.lock().expect("lock").push(filters.to_vec());
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        Ok(Arc::new(EmptyExec::new(schema)))
    }
}

/// Plan and run `SELECT count(*) ... WHERE <predicate>`: the filters pushed
/// into each scan (none when DataFusion proved that no row matches).
pub(super) async fn planned_scans(predicate: &str) -> DFResult<Vec<Vec<Expr>>> {
    let ctx = SessionContext::new();
    let table = Arc::new(Recorder {
        schema: logs_table_schema(),
        scans: Mutex::new(Vec::new()),
    });
    ctx.register_table("rapid7_logs", Arc::clone(&table) as Arc<dyn TableProvider>)?;
    let sql = format!("SELECT count(*) FROM rapid7_logs WHERE {predicate}");
    let batches = ctx.sql(&sql).await?.collect().await?;
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).sum::<usize>(),
        1,
        "{sql}"
    );
    Ok(std::mem::take(&mut *table.scans.lock().expect("lock")))
}

/// Run `SELECT count(*) ... WHERE <predicate>` and return the pushed filters.
async fn pushed_filters(predicate: &str) -> Vec<Expr> {
    let mut scans = planned_scans(predicate).await.expect("plan and run");
    assert_eq!(scans.len(), 1, "{predicate}");
    scans.pop().unwrap_or_default()
}

#[tokio::test]
async fn sql_time_predicates_give_exact_windows() {
    let cases: Vec<(&str, Want)> = vec![
        (
            "timestamp BETWEEN '2026-02-10T00:00:00Z' AND '2026-02-10T00:59:59.999Z'",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp >= '2026-02-10T02:00:00+02:00' AND timestamp < '2026-02-10T03:00:00+02:00'",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp >= '2026-02-10' AND timestamp < '2026-02-11'",
            Want::Ok(vec![(T0, T0 + 24 * H)]),
        ),
        (
            "timestamp > '2026-02-10 00:00:00' AND timestamp <= '2026-02-10 01:00:00'",
            Want::Ok(vec![(T0 + 1, T0 + H + 1)]),
        ),
        (
            "timestamp >= TIMESTAMP '2026-02-10 00:00:00' AND timestamp < TIMESTAMP '2026-02-10 01:00:00'",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "'2026-02-10T00:00:00Z' <= timestamp AND '2026-02-10T01:00:00Z' > timestamp",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp >= to_timestamp('2026-02-10T00:00:00Z') AND timestamp < to_timestamp('2026-02-10T03:00:00+02:00')",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp >= to_timestamp(1770681600) AND timestamp < to_timestamp_millis(1770685200000)",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp >= '2026-02-10T01:00:00Z'::timestamp - interval '1 hour' AND timestamp < '2026-02-10T01:00:00Z'",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp IN ('2026-02-10T00:00:00Z', '2026-02-10T00:00:05Z')",
            Want::Ok(vec![(T0, T0 + 1), (T0 + 5000, T0 + 5001)]),
        ),
        (
            "timestamp = '2026-02-10T00:00:00.123Z'",
            Want::Ok(vec![(T0 + 123, T0 + 124)]),
        ),
        (
            "(timestamp >= '2026-02-10T00:00:00Z' AND timestamp < '2026-02-10T01:00:00Z') \
             OR (timestamp >= '2026-02-10T02:00:00Z' AND timestamp < '2026-02-10T03:00:00Z')",
            Want::Ok(vec![(T0, T0 + H), (T2, T2 + H)]),
        ),
        (
            "timestamp BETWEEN '2026-02-10T00:00:00Z' AND '2026-02-10T03:00:00Z' \
             AND timestamp NOT BETWEEN '2026-02-10T01:00:00Z' AND '2026-02-10T01:59:59.999Z'",
            Want::Ok(vec![(T0, T0 + H), (T2, T0 + 3 * H + 1)]),
        ),
        (
            "timestamp >= '2026-02-10T00:00:00Z' AND timestamp < '2026-02-10T01:00:00Z' \
             AND log_name IN ('fw', 'dns') AND message LIKE '%deny%'",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp >= '2026-02-10T00:00:00Z' AND timestamp < '2026-02-10T01:00:00Z' \
             AND CAST(timestamp AS DATE) = DATE '2026-02-10' AND timestamp <> '2026-02-10T00:00:01Z'",
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "timestamp > '2026-02-10T02:00:00Z' AND timestamp < '2026-02-10T01:00:00Z'",
            Want::Ok(vec![]),
        ),
        (
            "timestamp >= '2026-02-10T00:00:00Z'",
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "CAST(timestamp AS DATE) = DATE '2026-02-10'",
            Want::NoLowerBound,
        ),
        (
            "date_trunc('hour', timestamp) = TIMESTAMP '2026-02-10 00:00:00'",
            Want::NoLowerBound,
        ),
        ("timestamp < '2026-02-10T00:00:00Z'", Want::NoLowerBound),
        ("log_name = 'fw'", Want::NoLowerBound),
        (
            "timestamp >= '2026-02-10T00:00:00Z' AND timestamp < '2026-02-10T01:00:00Z' OR log_name = 'fw'",
            Want::NoLowerBound,
        ),
    ];
    for (predicate, want) in cases {
        let filters = pushed_filters(predicate).await;
        let got = windows(&filters);
        match (want, got) {
            (Want::Ok(w), Ok(g)) => assert_eq!(g, w, "{predicate}: {filters:?}"),
            (Want::NoLowerBound, Err(WindowError::NoLowerBound)) => {}
            (_, got) => panic!("{predicate}: unexpected {got:?} from {filters:?}"),
        }
    }
}

#[tokio::test]
async fn sql_now_minus_interval() {
    let before = now_ms();
    let filters = pushed_filters("timestamp >= now() - interval '1 hour'").await;
    let after = now_ms();
    let w = extract_windows(&filters, after).expect("bounded");
    let [range] = w.ranges() else {
        panic!("one window expected: {w:?} from {filters:?}");
    };
    assert!(
        (before - H..=after - H).contains(&range.start()),
        "{range:?} not an hour before [{before}, {after}]"
    );
    assert_eq!(range.end(), after);
    assert!(w.upper_defaulted_to_now());

    // A day-long window a day ago, both ends relative to now().
    let before = now_ms();
    let filters =
        pushed_filters("timestamp BETWEEN now() - interval '2 days' AND now() - interval '1 day'")
            .await;
    let after = now_ms();
    let w = windows(&filters).expect("bounded");
    let [(start, end)] = w.as_slice() else {
        panic!("one window expected: {w:?}");
    };
    assert!(
        (before - 48 * H..=after - 48 * H).contains(start),
        "{start}"
    );
    assert_eq!(end - start, 24 * H + 1);
}

#[tokio::test]
async fn sql_log_selection() {
    let cases: Vec<(&str, LogSelection)> = vec![
        ("log_name = 'fw'", only(names(&["fw"]), None)),
        ("'fw' = log_name", only(names(&["fw"]), None)),
        (
            "log_name IN ('fw', 'dns')",
            only(names(&["dns", "fw"]), None),
        ),
        (
            "log_name = 'fw' OR log_name = 'dns'",
            only(names(&["dns", "fw"]), None),
        ),
        (
            "log_id = 'abc' AND log_name = 'fw'",
            only(names(&["fw"]), names(&["abc"])),
        ),
        (
            "log_name = CAST('fw' AS VARCHAR)",
            only(names(&["fw"]), None),
        ),
        ("log_name <> 'fw'", LogSelection::All),
        ("log_name NOT IN ('fw')", LogSelection::All),
        ("log_name LIKE 'f%'", LogSelection::All),
        (
            "log_name = 'fw' OR log_id = 'abc'",
            union(vec![
                term(names(&["fw"]), None, &[]),
                term(None, names(&["abc"]), &[]),
            ]),
        ),
        (
            "array_has(logset, 'Network')",
            union(vec![term(None, None, &[&["Network"]])]),
        ),
        // DataFusion 55 plans `= ANY` on an array as `array_has`.
        (
            "'Network' = ANY(logset)",
            union(vec![term(None, None, &[&["Network"]])]),
        ),
        (
            "list_has(logset, 'Network') AND log_name = 'fw'",
            union(vec![term(names(&["fw"]), None, &[&["Network"]])]),
        ),
        (
            "array_has_any(logset, make_array('Network', 'Ops'))",
            union(vec![term(None, None, &[&["Network", "Ops"]])]),
        ),
        (
            "arrays_overlap(logset, ['Network', 'Ops'])",
            union(vec![term(None, None, &[&["Network", "Ops"]])]),
        ),
        (
            "array_has_all(logset, make_array('Network', 'Ops'))",
            union(vec![term(None, None, &[&["Network"], &["Ops"]])]),
        ),
        (
            "'Network' = ANY(logset) OR log_name = 'fw'",
            union(vec![
                term(None, None, &[&["Network"]]),
                term(names(&["fw"]), None, &[]),
            ]),
        ),
        ("'Network' <> ANY(logset)", LogSelection::All),
        ("cardinality(logset) = 0", LogSelection::All),
        ("timestamp > now()", LogSelection::All),
    ];
    for (predicate, want) in cases {
        let filters = pushed_filters(predicate).await;
        assert_eq!(
            extract_log_selection(&filters),
            want,
            "{predicate}: {filters:?}"
        );
    }
}
