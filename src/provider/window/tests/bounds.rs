//! Windows: comparison operators, AND / OR / IN / BETWEEN, casts on the
//! column, missing and out-of-range bounds, error messages, accessors.

use datafusion::functions::datetime::expr_fn::date_trunc;
use datafusion::logical_expr::{Operator, binary_expr, cast, try_cast};

use super::*;

#[test]
fn comparisons_in_both_operand_orders() {
    check(vec![
        (
            "gt",
            vec![ts().gt(ms(T0)), ts().lt(ms(T0 + H))],
            Want::Ok(vec![(T0 + 1, T0 + H)]),
        ),
        (
            "gt_eq",
            vec![ts().gt_eq(ms(T0)), ts().lt(ms(T0 + H))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "lt_eq",
            vec![ts().gt_eq(ms(T0)), ts().lt_eq(ms(T0 + H))],
            Want::Ok(vec![(T0, T0 + H + 1)]),
        ),
        ("eq", vec![ts().eq(ms(T0))], Want::Ok(vec![(T0, T0 + 1)])),
        (
            "is not distinct from",
            vec![binary_expr(ts(), Operator::IsNotDistinctFrom, ms(T0))],
            Want::Ok(vec![(T0, T0 + 1)]),
        ),
        (
            "lit < ts",
            vec![ms(T0).lt(ts()), ms(T0 + H).gt(ts())],
            Want::Ok(vec![(T0 + 1, T0 + H)]),
        ),
        (
            "lit <= ts",
            vec![ms(T0).lt_eq(ts()), ms(T0 + H).gt_eq(ts())],
            Want::Ok(vec![(T0, T0 + H + 1)]),
        ),
        (
            "lit = ts",
            vec![ms(T0).eq(ts())],
            Want::Ok(vec![(T0, T0 + 1)]),
        ),
        (
            "qualified column",
            vec![
                Expr::Column(datafusion::common::Column::new(
                    Some("rapid7_logs"),
                    "timestamp",
                ))
                .eq(ms(T0)),
            ],
            Want::Ok(vec![(T0, T0 + 1)]),
        ),
        (
            "AND inside one filter",
            vec![ts().gt_eq(ms(T0)).and(ts().lt(ms(T0 + H)))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
    ]);
}

#[test]
fn casts_on_the_column() {
    let ns_utc = ts_type(TimeUnit::Nanosecond, Some("UTC"));
    let us_naive = ts_type(TimeUnit::Microsecond, None);
    let ms_naive_t = ts_type(TimeUnit::Millisecond, None);
    check(vec![
        (
            "to ns UTC",
            vec![cast(ts(), ns_utc.clone()).gt_eq(ns(T0 * 1_000_000))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "try_cast to us naive",
            vec![try_cast(ts(), us_naive.clone()).gt_eq(us(T0 * 1000))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "lit op cast",
            vec![
                ms(T0).lt_eq(cast(ts(), ms_naive_t.clone())),
                ms(T0 + H).gt(cast(ts(), ns_utc.clone())),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "naive back to UTC keeps the value",
            vec![
                cast(
                    cast(ts(), ms_naive_t.clone()),
                    ts_type(TimeUnit::Millisecond, Some("+00:00")),
                )
                .gt_eq(ms(T0)),
            ],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "zone to zone keeps the value",
            vec![cast(ts(), ts_type(TimeUnit::Millisecond, Some("+02:00"))).gt_eq(ms(T0))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        // Shifting or truncating casts narrow nothing.
        (
            "naive re-labelled +02:00 shifts",
            vec![
                cast(
                    cast(ts(), ms_naive_t.clone()),
                    ts_type(TimeUnit::Millisecond, Some("+02:00")),
                )
                .gt_eq(ms(T0)),
            ],
            Want::NoLowerBound,
        ),
        (
            "to seconds truncates",
            vec![cast(ts(), ts_type(TimeUnit::Second, None)).gt_eq(sec(T0 / 1000))],
            Want::NoLowerBound,
        ),
        (
            "to DATE truncates",
            vec![cast(ts(), DataType::Date32).eq(lit(ScalarValue::Date32(Some(20494))))],
            Want::NoLowerBound,
        ),
        (
            "to string",
            vec![cast(ts(), DataType::Utf8).gt_eq(lit("2026-02-10"))],
            Want::NoLowerBound,
        ),
        (
            "to int",
            vec![cast(ts(), DataType::Int64).gt_eq(lit(T0))],
            Want::NoLowerBound,
        ),
        (
            "date_trunc",
            vec![date_trunc(lit("hour"), ts()).eq(ms(T0))],
            Want::NoLowerBound,
        ),
        (
            "truncating cast does not narrow an understood window",
            vec![
                ts().gt_eq(ms(T0 - H)),
                ts().lt(ms(T0 + 2 * H)),
                cast(ts(), DataType::Date32).eq(lit(ScalarValue::Date32(Some(20494)))),
            ],
            Want::Ok(vec![(T0 - H, T0 + 2 * H)]),
        ),
    ]);
}

#[test]
fn between_is_inclusive_and_not_between_is_its_complement() {
    check(vec![
        (
            "between",
            vec![ts().between(ms(T0), ms(T0 + H - 1))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "between strings",
            vec![ts().between(lit("2026-02-10T00:00:00Z"), lit("2026-02-10T00:59:59.999Z"))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "between reversed bounds is empty",
            vec![ts().between(ms(T0 + H), ms(T0))],
            Want::Ok(vec![]),
        ),
        (
            "between a single instant",
            vec![ts().between(ms(T0), ms(T0))],
            Want::Ok(vec![(T0, T0 + 1)]),
        ),
        (
            "between with unknown high keeps the low",
            vec![ts().between(ms(T0), lit("junk"))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "between with unknown low",
            vec![ts().between(lit("junk"), ms(T0))],
            Want::NoLowerBound,
        ),
        (
            "not between",
            bounded(ts().not_between(ms(T0), ms(T0 + H - 1))),
            Want::Ok(vec![(T0 - H, T0), (T0 + H, T0 + 5 * H)]),
        ),
        (
            "not between with unknown bound narrows nothing",
            bounded(ts().not_between(ms(T0), lit("junk"))),
            Want::Ok(vec![(T0 - H, T0 + 5 * H)]),
        ),
        (
            "not between alone has no lower bound",
            vec![ts().not_between(ms(T0), ms(T0 + H))],
            Want::NoLowerBound,
        ),
        (
            "between on another expression",
            vec![ms(T0).between(ts(), ms(T0 + H))],
            Want::NoLowerBound,
        ),
    ]);
}

#[test]
fn or_unions_and_and_intersects() {
    let hour = |k: i64| {
        ts().gt_eq(ms(T0 + k * H))
            .and(ts().lt(ms(T0 + (k + 1) * H)))
    };
    check(vec![
        (
            "two hours apart",
            vec![hour(0).or(hour(2))],
            Want::Ok(vec![(T0, T0 + H), (T2, T2 + H)]),
        ),
        (
            "adjacent merge",
            vec![hour(0).or(hour(1))],
            Want::Ok(vec![(T0, T0 + 2 * H)]),
        ),
        (
            "overlap merge",
            vec![hour(0).or(ts().between(ms(T0 + 10), ms(T0 + H + 5)))],
            Want::Ok(vec![(T0, T0 + H + 6)]),
        ),
        (
            "sorted output",
            vec![hour(3).or(hour(0)).or(hour(1))],
            Want::Ok(vec![(T0, T0 + 2 * H), (T0 + 3 * H, T0 + 4 * H)]),
        ),
        (
            "OR then AND clips",
            vec![
                hour(0).or(hour(2)),
                ts().gt_eq(ms(T0 + 30 * 60_000)),
                ts().lt(ms(T0 + 150 * 60_000)),
            ],
            Want::Ok(vec![(T0 + 30 * 60_000, T0 + H), (T2, T0 + 150 * 60_000)]),
        ),
        (
            "OR with an unknown side has no bound",
            vec![hour(0).or(col("log_name").eq(lit("x")))],
            Want::NoLowerBound,
        ),
        (
            "OR with an unknown side narrows nothing",
            vec![
                ts().gt_eq(ms(T0)),
                ts().lt(ms(T0 + H)),
                ts().eq(ms(T0 + 5)).or(col("log_name").eq(lit("x"))),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "OR of open ranges",
            bounded(ts().lt(ms(T0)).or(ts().gt(ms(T0 + H)))),
            Want::Ok(vec![(T0 - H, T0), (T0 + H + 1, T0 + 5 * H)]),
        ),
        (
            "OR with an unbounded branch",
            vec![hour(0).or(ts().lt(ms(T0 - H)))],
            Want::NoLowerBound,
        ),
        (
            "OR with an open upper branch ends at now",
            vec![hour(0).or(ts().gt_eq(ms(T0 + 8 * H)))],
            Want::Ok(vec![(T0, T0 + H), (T0 + 8 * H, NOW)]),
        ),
        (
            "conjuncts on other columns are ignored",
            vec![
                ts().gt_eq(ms(T0)),
                col("log_name").eq(lit("x")),
                col("message").like(lit("%deny%")),
            ],
            Want::Ok(vec![(T0, NOW)]),
        ),
    ]);
}

#[test]
fn in_lists_of_instants() {
    check(vec![
        (
            "in",
            vec![ts().in_list(vec![ms(T0 + 5), ms(T0 + 1), ms(T0 + 5)], false)],
            Want::Ok(vec![(T0 + 1, T0 + 2), (T0 + 5, T0 + 6)]),
        ),
        (
            "adjacent instants merge",
            vec![ts().in_list(vec![ms(T0), ms(T0 + 1)], false)],
            Want::Ok(vec![(T0, T0 + 2)]),
        ),
        (
            "mixed literal kinds",
            vec![ts().in_list(vec![lit("2026-02-10T00:00:00Z"), sec(T0 / 1000 + 1)], false)],
            Want::Ok(vec![(T0, T0 + 1), (T0 + 1000, T0 + 1001)]),
        ),
        (
            "unknown item",
            vec![ts().in_list(vec![ms(T0), lit("junk")], false)],
            Want::NoLowerBound,
        ),
        (
            "not in",
            bounded(ts().in_list(vec![ms(T0)], true)),
            Want::Ok(vec![(T0 - H, T0 + 5 * H)]),
        ),
        (
            "in on other column",
            vec![col("log_name").in_list(vec![lit("a")], false)],
            Want::NoLowerBound,
        ),
    ]);
}

#[test]
fn negations_narrow_nothing() {
    check(vec![
        (
            "not eq",
            bounded(ts().not_eq(ms(T0))),
            Want::Ok(vec![(T0 - H, T0 + 5 * H)]),
        ),
        (
            "not",
            bounded(Expr::Not(Box::new(ts().lt(ms(T0))))),
            Want::Ok(vec![(T0 - H, T0 + 5 * H)]),
        ),
        (
            "not alone",
            vec![Expr::Not(Box::new(ts().lt(ms(T0))))],
            Want::NoLowerBound,
        ),
        (
            "is distinct from",
            bounded(binary_expr(ts(), Operator::IsDistinctFrom, ms(T0))),
            Want::Ok(vec![(T0 - H, T0 + 5 * H)]),
        ),
    ]);
}

#[test]
fn contradictions_give_an_empty_set() {
    for filters in [
        vec![ts().lt(ms(T0)), ts().gt(ms(T0 + H))],
        vec![ts().gt_eq(ms(T0)), ts().lt(ms(T0))],
        vec![ts().eq(ms(T0)), ts().eq(ms(T0 + 1))],
        vec![
            ts().in_list(vec![ms(T0), ms(T0 + 5)], false),
            ts().gt(ms(T0 + 5)),
        ],
        // Empty beats a missing bound: nothing to fetch at all.
        vec![
            ts().lt(ms(T0)),
            ts().gt(ms(T0)),
            col("log_name").eq(lit("x")),
        ],
    ] {
        let w = extract_windows(&filters, NOW).expect("empty, not an error");
        assert!(w.is_empty(), "{filters:?} -> {w:?}");
        assert_eq!(w.total_ms(), 0);
        assert_eq!(w.hull(), None);
        assert!(!w.upper_defaulted_to_now());
    }
}

#[test]
fn missing_bounds() {
    check(vec![
        ("no filters", vec![], Want::NoLowerBound),
        ("upper only", vec![ts().lt(ms(T0))], Want::NoLowerBound),
        (
            "other columns only",
            vec![col("log_name").eq(lit("x"))],
            Want::NoLowerBound,
        ),
    ]);
    let w = extract_windows(&[ts().gt_eq(ms(T0))], NOW).expect("bounded below");
    assert_eq!(w.ranges(), [TimeRange::new(T0, NOW).expect("range")]);
    assert!(w.upper_defaulted_to_now());
    let w = extract_windows(&[ts().gt_eq(ms(T0)), ts().lt(ms(T0 + H))], NOW).expect("bounded");
    assert!(!w.upper_defaulted_to_now());
    // Starting after now with no upper bound: nothing can exist yet.
    let w = extract_windows(&[ts().gt_eq(ms(NOW + H))], NOW).expect("bounded below");
    assert!(w.is_empty());
    assert!(w.upper_defaulted_to_now());
    // An explicit future window is the caller's business.
    let w = extract_windows(&[ts().gt_eq(ms(NOW + H)), ts().lt(ms(NOW + 2 * H))], NOW)
        .expect("bounded");
    assert_eq!(
        w.ranges(),
        [TimeRange::new(NOW + H, NOW + 2 * H).expect("range")]
    );
}

#[test]
fn absurd_values_are_clear_errors_not_panics() {
    check(vec![
        (
            "before 1970",
            vec![ts().gt_eq(sec(-100)), ts().lt(ms(T0))],
            Want::OutOfRange,
        ),
        (
            "after 9999",
            vec![ts().gt_eq(ms(T0)), ts().lt(sec(i64::MAX))],
            Want::OutOfRange,
        ),
        (
            "i64::MAX + 1ms",
            vec![ts().gt_eq(ms(T0)), ts().lt_eq(ms(i64::MAX))],
            Want::OutOfRange,
        ),
        ("gt i64::MAX", vec![ts().gt(ms(i64::MAX))], Want::OutOfRange),
        (
            "i64::MIN",
            vec![ts().gt_eq(ns(i64::MIN)), ts().lt(ms(T0))],
            Want::OutOfRange,
        ),
        (
            "year 10000 from interval overflow",
            vec![ts().gt_eq(ms(i64::MAX) - interval_mdn(1, 0, 0))],
            Want::NoLowerBound,
        ),
        // A silly bound that does not limit the window is harmless.
        (
            "ineffective pre-1970 bound",
            vec![
                ts().gt_eq(lit("1960-01-01")),
                ts().gt_eq(ms(T0)),
                ts().lt(ms(T0 + 1)),
            ],
            Want::Ok(vec![(T0, T0 + 1)]),
        ),
        (
            "the last millisecond of 9999",
            vec![ts().between(lit("9999-12-31T00:00:00Z"), lit("9999-12-31T23:59:59.999Z"))],
            Want::Ok(vec![(MAX_TIMESTAMP_MS - 24 * H, MAX_TIMESTAMP_MS)]),
        ),
        (
            "the epoch",
            vec![ts().between(lit("1970-01-01"), ms(9))],
            Want::Ok(vec![(0, 10)]),
        ),
    ]);
}

#[test]
fn error_messages_say_what_to_do() {
    let e = extract_windows(&[ts().lt(ms(T0))], NOW).expect_err("no lower bound");
    let msg = e.to_string();
    assert!(
        msg.contains("WHERE timestamp >= now() - interval '1 hour'"),
        "{msg}"
    );
    // Through the crate error and into DataFusion, the message survives.
    let crate_err: crate::Error = e.into();
    assert!(matches!(
        crate_err,
        crate::Error::TimeWindow(WindowError::NoLowerBound)
    ));
    let df: datafusion::error::DataFusionError = crate_err.into();
    assert!(df.to_string().contains("interval '1 hour'"), "{df}");

    let e =
        extract_windows(&[ts().gt_eq(sec(-100)), ts().lt(ms(T0))], NOW).expect_err("out of range");
    assert_eq!(e, WindowError::OutOfRange { bound_ms: -100_000 });
    let msg = e.to_string();
    assert!(
        msg.contains("-100000 ms (1969-12-31 23:58:20 UTC)"),
        "{msg}"
    );
    assert!(msg.contains("1970-01-01T00:00:00Z"), "{msg}");
}

#[test]
fn windows_accessors() {
    let w = extract_windows(
        &[ts()
            .in_list(vec![ms(T0), ms(T0 + 10)], false)
            .or(ts().between(ms(T0 + 20), ms(T0 + 29)))],
        NOW,
    )
    .expect("bounded");
    assert_eq!(w.total_ms(), 12);
    assert_eq!(w.hull(), TimeRange::new(T0, T0 + 30).ok());
    let inside: Vec<i64> = (T0 - 2..T0 + 32).filter(|t| w.contains(*t)).collect();
    let want: Vec<i64> = [T0, T0 + 10].into_iter().chain(T0 + 20..T0 + 30).collect();
    assert_eq!(inside, want);
    assert_eq!(w.clone().into_ranges().len(), 3);
}

#[test]
fn a_folded_contradiction_matches_no_instant() {
    // With every filter `Exact`, the optimizer hands the scan `false` (or
    // `NULL`) for a contradiction such as `log_name = 'a' AND log_name = 'b'`.
    check(vec![
        ("false", bounded(lit(false)), Want::Ok(vec![])),
        (
            "null",
            bounded(Expr::Literal(ScalarValue::Boolean(None), None)),
            Want::Ok(vec![]),
        ),
        ("false alone", vec![lit(false)], Want::Ok(vec![])),
        (
            "false or a window",
            vec![lit(false).or(ts().gt_eq(ms(T0)).and(ts().lt(ms(T0 + H))))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        ("true is no bound", vec![lit(true)], Want::NoLowerBound),
    ]);
}
