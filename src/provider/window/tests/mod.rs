//! Tests for window extraction and log selection: hand-built expressions for
//! every form, the real DataFusion planner end to end, and properties.
//!
//! Shared helpers live here; the tests are split by topic:
//! - `bounds`: operators, AND / OR / IN / BETWEEN, casts on the column,
//!   missing and out-of-range bounds, error messages, `Windows` accessors;
//! - `instants`: the forms of a constant instant (literal units and zones,
//!   sub-millisecond rounding, strings, `now()` and intervals,
//!   `to_timestamp*`, literal casts);
//! - `selection`: log selection, table-driven;
//! - `sql`: end to end through the DataFusion planner;
//! - `props`: property tests for windows and log selection;
//! - `trees`: bigger properties: random predicate trees over the whole time
//!   line with other-column predicates in three-valued logic, hand-built and
//!   planned from SQL.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, col, lit};

use super::*;

mod bounds;
mod instants;
mod props;
mod selection;
mod sql;
mod trees;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// 2026-02-10T00:00:00Z.
const T0: i64 = 1_770_681_600_000;
const H: i64 = 3_600_000;
const NOW: i64 = T0 + 10 * H;
const T2: i64 = T0 + 2 * H;
/// 2026-03-10T00:00:00Z.
const T_MAR10: i64 = 1_773_100_800_000;
/// 2026-01-31T00:00:00Z and 2026-02-28T00:00:00Z.
const T_JAN31: i64 = 1_769_817_600_000;
const T_FEB28: i64 = 1_772_236_800_000;

fn ts() -> Expr {
    col("timestamp")
}

fn utc() -> Option<Arc<str>> {
    Some(Arc::from("UTC"))
}

fn ms(v: i64) -> Expr {
    lit(ScalarValue::TimestampMillisecond(Some(v), utc()))
}

fn ms_naive(v: i64) -> Expr {
    lit(ScalarValue::TimestampMillisecond(Some(v), None))
}

fn sec(v: i64) -> Expr {
    lit(ScalarValue::TimestampSecond(Some(v), utc()))
}

fn us(v: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(Some(v), None))
}

fn ns(v: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(v),
        Some(Arc::from("+00:00")),
    ))
}

fn ns_zoned(v: i64, zone: &str) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(v),
        Some(Arc::from(zone)),
    ))
}

fn utf8_view(s: &str) -> Expr {
    lit(ScalarValue::Utf8View(Some(s.to_string())))
}

fn large_utf8(s: &str) -> Expr {
    lit(ScalarValue::LargeUtf8(Some(s.to_string())))
}

fn dict(s: &str) -> Expr {
    lit(ScalarValue::Dictionary(
        Box::new(DataType::Int32),
        Box::new(ScalarValue::Utf8(Some(s.to_string()))),
    ))
}

fn interval_mdn(months: i32, days: i32, nanos: i64) -> Expr {
    lit(ScalarValue::IntervalMonthDayNano(Some(
        IntervalMonthDayNano::new(months, days, nanos),
    )))
}

fn ts_type(unit: TimeUnit, zone: Option<&str>) -> DataType {
    DataType::Timestamp(unit, zone.map(Arc::from))
}

/// The windows as `(start, end)` pairs.
fn windows(filters: &[Expr]) -> Result<Vec<(i64, i64)>, WindowError> {
    extract_windows(filters, NOW).map(|w| w.ranges().iter().map(|r| (r.start(), r.end())).collect())
}

fn bounded(pred: Expr) -> Vec<Expr> {
    vec![ts().gt_eq(ms(T0 - H)), ts().lt(ms(T0 + 5 * H)), pred]
}

// ---------------------------------------------------------------------------
// Windows: table-driven
// ---------------------------------------------------------------------------

enum Want {
    Ok(Vec<(i64, i64)>),
    NoLowerBound,
    OutOfRange,
}

fn check(cases: Vec<(&str, Vec<Expr>, Want)>) {
    for (name, filters, want) in cases {
        let got = windows(&filters);
        match (want, got) {
            (Want::Ok(w), Ok(g)) => assert_eq!(g, w, "{name}: {filters:?}"),
            (Want::NoLowerBound, Err(WindowError::NoLowerBound)) => {}
            (Want::OutOfRange, Err(WindowError::OutOfRange { .. })) => {}
            (_, got) => panic!("{name}: unexpected {got:?} for {filters:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Log selection
// ---------------------------------------------------------------------------

fn names(v: &[&str]) -> Option<BTreeSet<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

fn only(n: Option<BTreeSet<String>>, i: Option<BTreeSet<String>>) -> LogSelection {
    LogSelection::Only(vec![term(n, i, &[])])
}

/// One constraint: names, ids, and clauses of sets (the log is in one set of
/// each).
fn term(
    n: Option<BTreeSet<String>>,
    i: Option<BTreeSet<String>>,
    sets: &[&[&str]],
) -> LogConstraint {
    LogConstraint {
        names: n,
        ids: i,
        sets: sets
            .iter()
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .collect(),
    }
}

/// A union of constraints.
fn union(terms: Vec<LogConstraint>) -> LogSelection {
    LogSelection::Only(terms)
}
