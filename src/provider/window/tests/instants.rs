//! Windows: every form of a constant instant (timestamp literals of every
//! unit and zone, sub-millisecond rounding, strings, `now()` and interval
//! arithmetic, `to_timestamp*` and literal casts).

use datafusion::arrow::datatypes::IntervalDayTime;
use datafusion::functions::datetime::expr_fn::{
    from_unixtime, now, to_timestamp, to_timestamp_millis, to_timestamp_seconds,
};
use datafusion::logical_expr::{cast, try_cast};

use super::*;

#[test]
fn every_timestamp_unit_and_zone_label() {
    let t0_ns = T0 * 1_000_000;
    check(vec![
        (
            "seconds",
            vec![ts().gt_eq(sec(T0 / 1000)), ts().lt(sec(T0 / 1000 + 3600))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "seconds gt",
            vec![ts().gt(sec(T0 / 1000)), ts().lt(sec(T0 / 1000 + 1))],
            Want::Ok(vec![(T0 + 1, T0 + 1000)]),
        ),
        (
            "micros",
            vec![ts().gt_eq(us(T0 * 1000)), ts().lt(us((T0 + H) * 1000))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "nanos",
            vec![ts().gt_eq(ns(t0_ns)), ts().lt(ns(t0_ns + H * 1_000_000))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "nanos gt exact",
            vec![ts().gt(ns(t0_ns)), ts().lt(ms(T0 + 10))],
            Want::Ok(vec![(T0 + 1, T0 + 10)]),
        ),
        (
            "naive millis",
            vec![ts().gt_eq(ms_naive(T0)), ts().lt(ms_naive(T0 + H))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        // The value of a zoned timestamp is the UTC epoch offset: the zone is a label.
        (
            "+02:00 label",
            vec![ts().gt_eq(ns_zoned(t0_ns, "+02:00")), ts().lt(ms(T0 + H))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "Europe/Berlin label",
            vec![
                ts().gt_eq(ns_zoned(t0_ns, "Europe/Berlin")),
                ts().lt(ms(T0 + H)),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
    ]);
}

#[test]
fn sub_millisecond_bounds_round_outwards() {
    let x = T0 * 1_000_000 + 500; // T0 + 500ns
    let y = (T0 + 10) * 1_000_000 + 999_999; // T0 + 10.999999ms
    check(vec![
        (
            "gt floors",
            vec![ts().gt(ns(x)), ts().lt(ms(T0 + 20))],
            Want::Ok(vec![(T0, T0 + 20)]),
        ),
        (
            "gt_eq floors",
            vec![ts().gt_eq(ns(x)), ts().lt(ms(T0 + 20))],
            Want::Ok(vec![(T0, T0 + 20)]),
        ),
        (
            "lt ceils",
            vec![ts().gt_eq(ms(T0)), ts().lt(ns(y))],
            Want::Ok(vec![(T0, T0 + 11)]),
        ),
        (
            "lt_eq ceils + 1",
            vec![ts().gt_eq(ms(T0)), ts().lt_eq(ns(y))],
            Want::Ok(vec![(T0, T0 + 12)]),
        ),
        (
            "eq spans both neighbours",
            vec![ts().eq(ns(x))],
            Want::Ok(vec![(T0, T0 + 2)]),
        ),
        (
            "micros lt",
            vec![ts().gt_eq(ms(T0)), ts().lt(us((T0 + 5) * 1000 + 1))],
            Want::Ok(vec![(T0, T0 + 6)]),
        ),
        (
            "string with micros",
            vec![
                ts().gt_eq(lit("2026-02-10T00:00:00.000500Z")),
                ts().lt(lit("2026-02-10T00:00:00.010500Z")),
            ],
            Want::Ok(vec![(T0, T0 + 11)]),
        ),
    ]);
}

#[test]
fn string_literals_with_offsets_dates_and_string_types() {
    check(vec![
        (
            "Z",
            vec![
                ts().gt_eq(lit("2026-02-10T00:00:00Z")),
                ts().lt(lit("2026-02-10T01:00:00Z")),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "+02:00",
            vec![
                ts().gt_eq(lit("2026-02-10T02:00:00+02:00")),
                ts().lt(lit("2026-02-10T03:00:00+02:00")),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "-05:00 with fraction",
            vec![
                ts().gt_eq(lit("2026-02-09T19:00:00.250-05:00")),
                ts().lt(ms(T0 + 1000)),
            ],
            Want::Ok(vec![(T0 + 250, T0 + 1000)]),
        ),
        (
            "date only is UTC midnight",
            vec![ts().gt_eq(lit("2026-02-10")), ts().lt(lit("2026-02-11"))],
            Want::Ok(vec![(T0, T0 + 24 * H)]),
        ),
        (
            "naive with space is UTC",
            vec![
                ts().gt_eq(lit("2026-02-10 00:00:00")),
                ts().lt(lit("2026-02-10 01:00:00")),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "Utf8View and LargeUtf8",
            vec![
                ts().gt_eq(utf8_view("2026-02-10T00:00:00Z")),
                ts().lt(large_utf8("2026-02-10T01:00:00Z")),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "dictionary",
            vec![ts().eq(dict("2026-02-10T00:00:00Z"))],
            Want::Ok(vec![(T0, T0 + 1)]),
        ),
        (
            "lit first",
            vec![lit("2026-02-10T00:00:00Z").lt_eq(ts()), ts().lt(ms(T0 + H))],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        // Not instants: not understood, so no lower bound.
        (
            "garbage string",
            vec![ts().gt_eq(lit("yesterday")), ts().lt(ms(T0))],
            Want::NoLowerBound,
        ),
        (
            "bare integer",
            vec![ts().gt_eq(lit(T0)), ts().lt(ms(T0 + H))],
            Want::NoLowerBound,
        ),
        (
            "null literal",
            vec![
                ts().gt_eq(lit(ScalarValue::TimestampMillisecond(None, utc()))),
                ts().lt(ms(T0)),
            ],
            Want::NoLowerBound,
        ),
    ]);
}

#[test]
fn now_and_interval_arithmetic_when_not_folded() {
    let hour = interval_mdn(0, 0, 3_600_000_000_000);
    check(vec![
        (
            "now() - interval '1 hour'",
            vec![ts().gt_eq(now() - hour.clone())],
            Want::Ok(vec![(NOW - H, NOW)]),
        ),
        (
            "interval + now()",
            vec![ts().gt_eq(interval_mdn(0, 0, -3_600_000_000_000) + now())],
            Want::Ok(vec![(NOW - H, NOW)]),
        ),
        (
            "day-time interval",
            vec![ts().gt_eq(
                now()
                    - lit(ScalarValue::IntervalDayTime(Some(IntervalDayTime::new(
                        1, 500,
                    )))),
            )],
            Want::Ok(vec![(NOW - 24 * H - 500, NOW)]),
        ),
        (
            "year-month interval",
            vec![
                ts().gt_eq(ms(T_MAR10) - lit(ScalarValue::IntervalYearMonth(Some(1)))),
                ts().lt(ms(T0 + H)),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "month end clamps",
            vec![
                ts().gt_eq(ms(T_JAN31) + interval_mdn(1, 0, 0)),
                ts().lt(ms(T_FEB28 + H)),
            ],
            Want::Ok(vec![(T_FEB28, T_FEB28 + H)]),
        ),
        (
            "duration",
            vec![ts().gt_eq(now() - lit(ScalarValue::DurationSecond(Some(60))))],
            Want::Ok(vec![(NOW - 60_000, NOW)]),
        ),
        (
            "string minus interval",
            vec![
                ts().gt_eq(lit("2026-02-10T01:00:00Z") - hour.clone()),
                ts().lt(ms(T0 + 1)),
            ],
            Want::Ok(vec![(T0, T0 + 1)]),
        ),
        (
            "future upper bound is kept",
            vec![
                ts().gt_eq(now() - hour.clone()),
                ts().lt(now() + hour.clone()),
            ],
            Want::Ok(vec![(NOW - H, NOW + H)]),
        ),
        (
            "now() with an argument is not now",
            vec![ts().gt_eq(lit(ScalarValue::Int64(Some(1))) - hour.clone())],
            Want::NoLowerBound,
        ),
        (
            "interval - now() is not an instant",
            vec![ts().gt_eq(hour - now())],
            Want::NoLowerBound,
        ),
    ]);
}

#[test]
fn to_timestamp_and_literal_casts_when_not_folded() {
    check(vec![
        (
            "to_timestamp(string)",
            vec![
                ts().gt_eq(to_timestamp(vec![lit("2026-02-10T00:00:00Z")])),
                ts().lt(to_timestamp(vec![lit("2026-02-10T03:00:00+02:00")])),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "to_timestamp(seconds)",
            vec![
                ts().gt_eq(to_timestamp(vec![lit(T0 / 1000)])),
                ts().lt(ms(T0 + H)),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "to_timestamp_millis(int)",
            vec![
                ts().gt_eq(to_timestamp_millis(vec![lit(T0)])),
                ts().lt(ms(T0 + H)),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "to_timestamp_seconds truncates",
            vec![
                ts().gt_eq(to_timestamp_seconds(vec![lit("2026-02-10T00:00:00.900Z")])),
                ts().lt(ms(T0 + H)),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "from_unixtime",
            vec![
                ts().gt_eq(from_unixtime(lit(T0 / 1000))),
                ts().lt(ms(T0 + H)),
            ],
            Want::Ok(vec![(T0, T0 + H)]),
        ),
        (
            "to_timestamp with a format is not evaluated",
            vec![ts().gt_eq(to_timestamp(vec![lit("10/02/2026"), lit("%d/%m/%Y")]))],
            Want::NoLowerBound,
        ),
        (
            "CAST(string AS TIMESTAMP) in the target zone",
            vec![ts().gt_eq(cast(
                lit("2026-02-10 02:00:00"),
                ts_type(TimeUnit::Nanosecond, Some("+02:00")),
            ))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "CAST(string AS naive TIMESTAMP) is UTC",
            vec![ts().gt_eq(cast(
                lit("2026-02-10"),
                ts_type(TimeUnit::Millisecond, None),
            ))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "CAST(DATE AS TIMESTAMP)",
            vec![ts().gt_eq(cast(
                lit(ScalarValue::Date32(Some(20494))),
                ts_type(TimeUnit::Nanosecond, None),
            ))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "CAST to seconds truncates the literal",
            vec![ts().gt_eq(try_cast(ms(T0 + 999), ts_type(TimeUnit::Second, None)))],
            Want::Ok(vec![(T0, NOW)]),
        ),
        (
            "CAST(naive AS zoned) would shift: not understood",
            vec![ts().gt_eq(cast(
                ms_naive(T0),
                ts_type(TimeUnit::Millisecond, Some("+02:00")),
            ))],
            Want::NoLowerBound,
        ),
        (
            "date literal compared directly is not guessed",
            vec![ts().gt_eq(lit(ScalarValue::Date32(Some(20494))))],
            Want::NoLowerBound,
        ),
    ]);
}
