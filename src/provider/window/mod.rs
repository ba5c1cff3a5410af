//! What the filters of a `rapid7_logs` query say about time and logs. Pure: no I/O.
//!
//! DataFusion pushes the `WHERE` clause into the table scan as a list of
//! filters (split on `AND` and simplified first, so constants such as
//! `now() - interval '1 hour'` or `'2026-02-10T00:00:00Z'` usually arrive
//! folded into timestamp literals). The scan applies every filter to its rows
//! itself (they are pushed down `Exact`, see `filters.rs`). So the functions
//! here only decide **what to fetch**, and the one rule is: **never
//! under-approximate**.
//! A shape that is not understood narrows nothing; it is never guessed at.
//!
//! # Time windows: [`extract_windows`]
//!
//! The result is a normalised set of half-open windows `[start, end)` in epoch
//! milliseconds (sorted, non-overlapping, non-adjacent, each non-empty), as
//! [`TimeRange`]s. For a constant instant `x` (see below):
//!
//! | filter on `timestamp`                 | window(s)                                   |
//! |---------------------------------------|---------------------------------------------|
//! | `timestamp > x`                       | `[x + 1ms, ∞)`                              |
//! | `timestamp >= x`                      | `[x, ∞)`                                    |
//! | `timestamp < x`                       | `(-∞, x)`                                   |
//! | `timestamp <= x`                      | `(-∞, x + 1ms)`                             |
//! | `timestamp = x`                       | `[x, x + 1ms)`                              |
//! | `timestamp BETWEEN a AND b` (inclusive)| `[a, b + 1ms)`                             |
//! | `timestamp NOT BETWEEN a AND b`       | `(-∞, a) ∪ [b + 1ms, ∞)`                    |
//! | `timestamp IN (x, y, …)`              | `[x, x + 1ms) ∪ [y, y + 1ms) ∪ …`           |
//! | `p AND q`, or two separate filters    | intersection                                |
//! | `p OR q`                              | union, if both sides are understood; else unbounded |
//! | `x < timestamp` etc.                  | the same, with the operator mirrored        |
//! | anything else (`!=`, `NOT …`, `NOT IN`, `CAST(timestamp AS DATE) = …`, `date_trunc(…)`, filters on other columns) | unbounded: narrows nothing |
//!
//! The column may be wrapped in casts that keep its value: to
//! `Timestamp(Millisecond | Microsecond | Nanosecond, any zone)`. Casts that
//! truncate (to seconds, to `DATE`, to strings or integers) or that shift
//! (a zone-less value re-labelled with a non-UTC zone) are not understood.
//!
//! A constant instant is any of:
//! - a timestamp literal of any unit (second … nanosecond), with or without a
//!   zone (the value is the UTC epoch offset either way; a zone-less value is
//!   taken as UTC, as DataFusion does when it coerces it to the column type);
//! - a string literal (`Utf8`, `Utf8View`, `LargeUtf8`, or a dictionary of
//!   those) in RFC 3339 or a close variant: `2026-02-10T00:00:00Z`,
//!   `2026-02-10T02:00:00+02:00`, `2026-02-10 00:00:00` (UTC), `2026-02-10`
//!   (UTC midnight);
//! - `now()` (evaluated as the `now_ms` argument);
//! - `to_timestamp[_seconds|_millis|_micros|_nanos](x)` of one string,
//!   integer (in the function's unit; seconds for `to_timestamp`) or
//!   timestamp argument, and `from_unixtime(seconds)`; strings without an
//!   offset are read as UTC (DataFusion reads them in the session time zone,
//!   which is unset, i.e. UTC, by default);
//! - `CAST(c AS TIMESTAMP…)` / `TRY_CAST` of a constant, truncated to the
//!   target unit as Arrow does;
//! - `c ± interval` / `interval + c` for intervals (`year-month`, `day-time`,
//!   `month-day-nano`) and durations, with calendar months and days as Arrow
//!   computes them in the instant's zone.
//!
//! Bare integers are **not** instants: their unit would be a guess.
//!
//! Instants finer than a millisecond are rounded outwards, so that the window
//! holds every millisecond row that could match however DataFusion coerces
//! the comparison (exactly, or with the literal truncated to milliseconds): a
//! lower bound uses `floor_ms(x)` (and `timestamp > x` adds 1 ms only when `x`
//! is a whole millisecond), an upper bound uses `ceil_ms(x)` (`timestamp < x`)
//! or `ceil_ms(x) + 1ms` (`<=`, `=`).
//!
//! Once the set is known:
//! - an empty set (contradictory filters such as
//!   `timestamp < a AND timestamp > b` with `b >= a`) is a valid result: the
//!   query matches no row and nothing needs fetching ([`Windows::is_empty`]);
//! - a window with no lower bound fails with [`WindowError::NoLowerBound`],
//!   whose message shows how to add one;
//! - a window with no upper bound ends at `now_ms`
//!   ([`Windows::upper_defaulted_to_now`]); a window that then starts at or
//!   after `now_ms` is dropped. Explicit upper bounds in the future are kept
//!   as written: the caller decides what to do with them;
//! - a bound before 1970 or after 9999 fails with [`WindowError::OutOfRange`].
//!
//! # Log selection: [`extract_log_selection`]
//!
//! Which logs to read, from `log_name` / `log_id` / `logset` constraints. The rules are
//! in the docs of the `selection` submodule (`window/selection.rs`).

use std::sync::Arc;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
use datafusion::arrow::datatypes::{
    DataType, IntervalMonthDayNano, TimeUnit, TimestampMillisecondType,
};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{InList, ScalarFunction};
use datafusion::logical_expr::{Between, BinaryExpr, Cast, Expr, Operator, TryCast};

use crate::events::columns;
use crate::provider::expr::strip_alias;
use crate::time::TimeRange;

mod selection;

pub(crate) use selection::MAX_TERMS;
pub(crate) use selection::selects_exactly;
pub use selection::{LogConstraint, LogSelection, extract_log_selection};

/// The earliest bound a window may have: 1970-01-01T00:00:00Z, in epoch ms.
pub const MIN_TIMESTAMP_MS: i64 = 0;

/// The latest bound a window may have: 10000-01-01T00:00:00Z in epoch ms, the
/// exclusive end of year 9999.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_800_000;

const NANOS_PER_MS: i128 = 1_000_000;

/// The zone used for strings and calendar arithmetic when none is given.
const UTC_OFFSET: &str = "+00:00";

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// The time windows a query must read, from [`extract_windows`].
///
/// Sorted, non-overlapping, non-adjacent, each window non-empty. Empty when the
/// filters cannot match any row: then nothing needs fetching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    ranges: Vec<TimeRange>,
    upper_defaulted: bool,
}

impl Windows {
    /// The windows, in ascending order.
    pub fn ranges(&self) -> &[TimeRange] {
        &self.ranges
    }

    /// The windows, in ascending order, by value.
    pub fn into_ranges(self) -> Vec<TimeRange> {
        self.ranges
    }

    /// Whether the filters can match no row at all (nothing to fetch).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether part of the matching range had no upper bound in the filters,
    /// so it was ended at the `now_ms` given to [`extract_windows`] (and
    /// dropped if it started at or after `now_ms`).
    pub fn upper_defaulted_to_now(&self) -> bool {
        self.upper_defaulted
    }

    /// Whether the instant `ts_ms` (epoch milliseconds) lies in a window.
    pub fn contains(&self, ts_ms: i64) -> bool {
        let after = self.ranges.partition_point(|r| r.start() <= ts_ms);
        after > 0 && self.ranges[after - 1].contains(ts_ms)
    }

    /// The smallest single range covering every window, if there is one.
    pub fn hull(&self) -> Option<TimeRange> {
        let first = self.ranges.first()?;
        let last = self.ranges.last()?;
        TimeRange::new(first.start(), last.end()).ok()
    }

    /// Total length of the windows in milliseconds.
    pub fn total_ms(&self) -> u64 {
        self.ranges.iter().map(TimeRange::len_ms).sum()
    }
}

pub use crate::time::WindowError;

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// The time windows that the pushed-down `filters` can match (see the module
/// docs for every rule).
///
/// `filters` are the expressions DataFusion passes to `TableProvider::scan`;
/// they are combined with `AND`. `now_ms` (epoch milliseconds) is the value of
/// `now()` where it was not folded yet, and the end of a window that has no
/// upper bound. The result never leaves out a millisecond the filters can
/// match.
///
/// # Errors
/// [`WindowError::NoLowerBound`] when a part of the matching range has no
/// lower bound; [`WindowError::OutOfRange`] when an effective bound lies
/// outside the years 1970..=9999.
pub fn extract_windows(filters: &[Expr], now_ms: i64) -> Result<Windows, WindowError> {
    let set = filters.iter().fold(SpanSet::all(), |acc, filter| {
        acc.intersect(&time_set(filter, now_ms))
    });
    to_windows(set, now_ms)
}

// ---------------------------------------------------------------------------
// Millisecond span sets
// ---------------------------------------------------------------------------

/// `[lo, hi)` in epoch milliseconds; `None` is unbounded on that side. `i128`
/// so that `+ 1ms` and unit conversions cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    lo: Option<i128>,
    hi: Option<i128>,
}

impl Span {
    fn is_empty(&self) -> bool {
        matches!((self.lo, self.hi), (Some(lo), Some(hi)) if lo >= hi)
    }
}

/// A normalised union of spans: sorted, disjoint, non-adjacent, none empty.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SpanSet(Vec<Span>);

/// `a <= b` for upper bounds, `None` being +∞.
fn hi_le(a: Option<i128>, b: Option<i128>) -> bool {
    match (a, b) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a <= b,
    }
}

impl SpanSet {
    /// Every instant: the neutral element of intersection, and what a filter
    /// that is not understood stands for.
    fn all() -> Self {
        SpanSet(vec![Span { lo: None, hi: None }])
    }

    fn single(lo: Option<i128>, hi: Option<i128>) -> Self {
        Self::normalised(vec![Span { lo, hi }])
    }

    fn normalised(mut spans: Vec<Span>) -> Self {
        spans.retain(|s| !s.is_empty());
        // `None` (unbounded below) sorts first.
        spans.sort_by_key(|s| s.lo);
        let mut out: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans {
            match out.last_mut() {
                // Overlapping or adjacent: `s.lo <= last.hi` (sorted, so a
                // `None` lo can only follow another `None` lo).
                Some(last) if hi_le(s.lo, last.hi) || s.lo.is_none() => {
                    if !hi_le(s.hi, last.hi) {
                        last.hi = s.hi;
                    }
                }
                _ => out.push(s),
            }
        }
        SpanSet(out)
    }

    fn intersect(&self, other: &SpanSet) -> SpanSet {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
            let lo = x.lo.max(y.lo); // `None` < `Some`: max picks the bound.
            let hi = if hi_le(x.hi, y.hi) { x.hi } else { y.hi };
            out.push(Span { lo, hi });
            if hi_le(x.hi, y.hi) {
                i += 1;
            } else {
                j += 1;
            }
        }
        SpanSet::normalised(out)
    }

    fn union(&self, other: &SpanSet) -> SpanSet {
        SpanSet::normalised(self.0.iter().chain(&other.0).copied().collect())
    }
}

fn to_windows(set: SpanSet, now_ms: i64) -> Result<Windows, WindowError> {
    let mut ranges = Vec::with_capacity(set.0.len());
    let mut upper_defaulted = false;
    for span in set.0 {
        let lo = span.lo.ok_or(WindowError::NoLowerBound)?;
        let lo = checked_bound(lo)?;
        let hi = match span.hi {
            Some(hi) => checked_bound(hi)?,
            None => {
                upper_defaulted = true;
                now_ms
            }
        };
        if let Ok(range) = TimeRange::new(lo, hi) {
            ranges.push(range);
        }
    }
    Ok(Windows {
        ranges,
        upper_defaulted,
    })
}

fn checked_bound(ms: i128) -> Result<i64, WindowError> {
    i64::try_from(ms)
        .ok()
        .filter(|v| (MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(v))
        .ok_or(WindowError::OutOfRange { bound_ms: ms })
}

// ---------------------------------------------------------------------------
// Filters -> span sets
// ---------------------------------------------------------------------------

/// The set of milliseconds `expr` can be true for; [`SpanSet::all`] when
/// `expr` is not understood or does not constrain `timestamp`.
fn time_set(expr: &Expr, now_ms: i64) -> SpanSet {
    match expr {
        Expr::Alias(alias) => time_set(&alias.expr, now_ms),
        // What the optimizer folds a contradiction into: no row matches.
        Expr::Literal(ScalarValue::Boolean(Some(false) | None) | ScalarValue::Null, _) => {
            SpanSet(Vec::new())
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => time_set(left, now_ms).intersect(&time_set(right, now_ms)),
            // `all` absorbs in a union: one side not understood -> unbounded.
            Operator::Or => time_set(left, now_ms).union(&time_set(right, now_ms)),
            op => comparison(left, *op, right, now_ms).unwrap_or_else(SpanSet::all),
        },
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) if is_timestamp_column(expr) => {
            let low = eval_instant(low, now_ms);
            let high = eval_instant(high, now_ms);
            if *negated {
                match (low, high) {
                    (Some(low), Some(high)) => {
                        bound(Operator::Lt, low.ns).union(&bound(Operator::Gt, high.ns))
                    }
                    _ => SpanSet::all(),
                }
            } else {
                let from = low.map_or_else(SpanSet::all, |x| bound(Operator::GtEq, x.ns));
                let to = high.map_or_else(SpanSet::all, |x| bound(Operator::LtEq, x.ns));
                from.intersect(&to)
            }
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) if is_timestamp_column(expr) && !list.is_empty() => {
            let mut spans = Vec::with_capacity(list.len());
            for item in list {
                match eval_instant(item, now_ms) {
                    Some(x) => spans.extend(bound(Operator::Eq, x.ns).0),
                    None => return SpanSet::all(),
                }
            }
            SpanSet::normalised(spans)
        }
        _ => SpanSet::all(),
    }
}

/// `left op right` with `timestamp` on one side and an instant on the other.
fn comparison(left: &Expr, op: Operator, right: &Expr, now_ms: i64) -> Option<SpanSet> {
    let (op, other) = if is_timestamp_column(left) {
        (op, right)
    } else if is_timestamp_column(right) {
        (mirror(op)?, left)
    } else {
        return None;
    };
    let x = eval_instant(other, now_ms)?;
    Some(bound(op, x.ns))
}

/// The operator with its operands swapped: `a op b` == `b mirror(op) a`.
fn mirror(op: Operator) -> Option<Operator> {
    Some(match op {
        Operator::Lt => Operator::Gt,
        Operator::LtEq => Operator::GtEq,
        Operator::Gt => Operator::Lt,
        Operator::GtEq => Operator::LtEq,
        Operator::Eq => Operator::Eq,
        Operator::IsNotDistinctFrom => Operator::IsNotDistinctFrom,
        _ => return None,
    })
}

/// The milliseconds `timestamp op x` can hold for, `x` in nanoseconds, rounded
/// outwards when `x` is not a whole millisecond.
fn bound(op: Operator, x_ns: i128) -> SpanSet {
    let floor = x_ns.div_euclid(NANOS_PER_MS);
    let exact = x_ns.rem_euclid(NANOS_PER_MS) == 0;
    let ceil = if exact { floor } else { floor + 1 };
    match op {
        Operator::Gt => SpanSet::single(Some(if exact { floor + 1 } else { floor }), None),
        Operator::GtEq => SpanSet::single(Some(floor), None),
        Operator::Lt => SpanSet::single(None, Some(ceil)),
        Operator::LtEq => SpanSet::single(None, Some(ceil + 1)),
        Operator::Eq | Operator::IsNotDistinctFrom => SpanSet::single(Some(floor), Some(ceil + 1)),
        _ => SpanSet::all(),
    }
}

// ---------------------------------------------------------------------------
// The `timestamp` column, through value-preserving casts
// ---------------------------------------------------------------------------

fn is_timestamp_column(expr: &Expr) -> bool {
    timestamp_column_zone(expr).is_some()
}

/// Whether the value has a zone label (`Zoned`) or not (`Naive`); Arrow casts
/// a naive value to a zoned type by shifting it, which changes the instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Zoned,
    Naive,
}

/// `Some(label)` when `expr` is the `timestamp` column, unchanged in value.
fn timestamp_column_zone(expr: &Expr) -> Option<Label> {
    match expr {
        // The column itself is `Timestamp(Millisecond, "UTC")`.
        Expr::Column(c) => (c.name == columns::TIMESTAMP).then_some(Label::Zoned),
        Expr::Alias(alias) => timestamp_column_zone(&alias.expr),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            let inner = timestamp_column_zone(expr)?;
            match field.data_type() {
                DataType::Timestamp(
                    TimeUnit::Millisecond | TimeUnit::Microsecond | TimeUnit::Nanosecond,
                    zone,
                ) => match (inner, zone) {
                    (_, None) => Some(Label::Naive),
                    (Label::Zoned, Some(_)) => Some(Label::Zoned),
                    (Label::Naive, Some(zone)) => is_utc(zone).then_some(Label::Zoned),
                },
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_utc(zone: &str) -> bool {
    matches!(
        zone.to_ascii_uppercase().as_str(),
        "UTC" | "Z" | "+00:00" | "-00:00" | "+0000" | "-0000" | "+00" | "-00" | "ETC/UTC"
    )
}

// ---------------------------------------------------------------------------
// Constant instants
// ---------------------------------------------------------------------------

/// A constant point in time: nanoseconds since the epoch (UTC) and the zone
/// label of its type (used for calendar arithmetic).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Instant {
    ns: i128,
    zone: Option<Arc<str>>,
}

fn unit_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// Truncate towards zero to a whole `unit`, as Arrow's timestamp casts do.
fn truncate_to(ns: i128, unit: TimeUnit) -> i128 {
    let n = unit_nanos(unit);
    ns / n * n
}

/// Evaluate a constant time expression; `None` when it is not one this module
/// understands.
fn eval_instant(expr: &Expr, now_ms: i64) -> Option<Instant> {
    match expr {
        Expr::Literal(value, _) => literal_instant(value),
        Expr::Alias(alias) => eval_instant(&alias.expr, now_ms),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            cast_instant(expr, field.data_type(), now_ms)
        }
        Expr::ScalarFunction(func) => function_instant(func, now_ms),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: op @ (Operator::Plus | Operator::Minus),
            right,
        }) => {
            if let (Some(t), Some(d)) = (eval_instant(left, now_ms), eval_delta(right)) {
                return shift(t, d, *op == Operator::Minus);
            }
            if *op == Operator::Plus
                && let (Some(d), Some(t)) = (eval_delta(left), eval_instant(right, now_ms))
            {
                return shift(t, d, false);
            }
            None
        }
        _ => None,
    }
}

fn literal_instant(value: &ScalarValue) -> Option<Instant> {
    let (v, unit, zone) = match value {
        ScalarValue::TimestampSecond(Some(v), z) => (v, TimeUnit::Second, z),
        ScalarValue::TimestampMillisecond(Some(v), z) => (v, TimeUnit::Millisecond, z),
        ScalarValue::TimestampMicrosecond(Some(v), z) => (v, TimeUnit::Microsecond, z),
        ScalarValue::TimestampNanosecond(Some(v), z) => (v, TimeUnit::Nanosecond, z),
        ScalarValue::Dictionary(_, inner) => return literal_instant(inner),
        other => {
            // A string compared with `timestamp` is coerced to the column's
            // type, `Timestamp(Millisecond, "UTC")`: read it in UTC.
            let s = scalar_str(other)?;
            return Some(Instant {
                ns: parse_instant(s, UTC_OFFSET)?,
                zone: None,
            });
        }
    };
    Some(Instant {
        ns: i128::from(*v) * unit_nanos(unit),
        zone: zone.clone(),
    })
}

/// Parse a timestamp string as Arrow's string-to-timestamp cast does, reading
/// a string without an offset in `zone`.
fn parse_instant(s: &str, zone: &str) -> Option<i128> {
    let tz: Tz = zone.parse().ok()?;
    let dt = string_to_datetime(&tz, s).ok()?;
    Some(i128::from(dt.timestamp()) * 1_000_000_000 + i128::from(dt.timestamp_subsec_nanos()))
}

/// `CAST(expr AS target)` of a constant.
fn cast_instant(expr: &Expr, target: &DataType, now_ms: i64) -> Option<Instant> {
    let DataType::Timestamp(unit, zone) = target else {
        return None;
    };
    let shifts_naive = zone.as_deref().is_some_and(|z| !is_utc(z));
    let ns = if let Some(s) = string_literal(expr) {
        // Arrow reads a string without an offset in the target zone.
        parse_instant(&s, zone.as_deref().unwrap_or(UTC_OFFSET))?
    } else if let Some(days) = date_literal_ns(expr) {
        if shifts_naive {
            return None;
        }
        days
    } else {
        let inner = eval_instant(expr, now_ms)?;
        if inner.zone.is_none() && shifts_naive {
            // Arrow would re-read the naive value as local time in `zone`.
            return None;
        }
        inner.ns
    };
    Some(Instant {
        ns: truncate_to(ns, *unit),
        zone: zone.clone(),
    })
}

fn date_literal_ns(expr: &Expr) -> Option<i128> {
    match strip_alias(expr) {
        Expr::Literal(ScalarValue::Date32(Some(days)), _) => {
            Some(i128::from(*days) * 86_400 * 1_000_000_000)
        }
        Expr::Literal(ScalarValue::Date64(Some(ms)), _) => Some(i128::from(*ms) * NANOS_PER_MS),
        _ => None,
    }
}

/// `now()`, `to_timestamp*(x)` and `from_unixtime(x)` of a constant.
fn function_instant(func: &ScalarFunction, now_ms: i64) -> Option<Instant> {
    let name = func.func.name();
    let (result_unit, int_unit) = match name {
        "now" => {
            return func.args.is_empty().then(|| Instant {
                ns: i128::from(now_ms) * NANOS_PER_MS,
                zone: Some(Arc::from(UTC_OFFSET)),
            });
        }
        "to_timestamp" => (TimeUnit::Nanosecond, TimeUnit::Second),
        "to_timestamp_seconds" | "from_unixtime" => (TimeUnit::Second, TimeUnit::Second),
        "to_timestamp_millis" => (TimeUnit::Millisecond, TimeUnit::Millisecond),
        "to_timestamp_micros" => (TimeUnit::Microsecond, TimeUnit::Microsecond),
        "to_timestamp_nanos" => (TimeUnit::Nanosecond, TimeUnit::Nanosecond),
        _ => return None,
    };
    let [arg] = func.args.as_slice() else {
        // Format arguments, or `from_unixtime(x, zone)`: not evaluated here.
        return None;
    };
    let ns = if let Some(n) = integer_literal(arg) {
        n.checked_mul(unit_nanos(int_unit))?
    } else if name == "from_unixtime" {
        return None;
    } else if let Some(s) = string_literal(arg) {
        parse_instant(&s, UTC_OFFSET)?
    } else {
        eval_instant(arg, now_ms)?.ns
    };
    Some(Instant {
        ns: truncate_to(ns, result_unit),
        zone: None,
    })
}

/// A calendar/clock amount to add to an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Delta {
    months: i32,
    days: i32,
    nanos: i128,
}

fn eval_delta(expr: &Expr) -> Option<Delta> {
    let Expr::Literal(value, _) = strip_alias(expr) else {
        return None;
    };
    let clock = |nanos: i128| Delta {
        months: 0,
        days: 0,
        nanos,
    };
    Some(match value {
        ScalarValue::IntervalYearMonth(Some(months)) => Delta {
            months: *months,
            days: 0,
            nanos: 0,
        },
        ScalarValue::IntervalDayTime(Some(v)) => Delta {
            months: 0,
            days: v.days,
            nanos: i128::from(v.milliseconds) * NANOS_PER_MS,
        },
        ScalarValue::IntervalMonthDayNano(Some(v)) => Delta {
            months: v.months,
            days: v.days,
            nanos: i128::from(v.nanoseconds),
        },
        ScalarValue::DurationSecond(Some(v)) => clock(i128::from(*v) * 1_000_000_000),
        ScalarValue::DurationMillisecond(Some(v)) => clock(i128::from(*v) * NANOS_PER_MS),
        ScalarValue::DurationMicrosecond(Some(v)) => clock(i128::from(*v) * 1_000),
        ScalarValue::DurationNanosecond(Some(v)) => clock(i128::from(*v)),
        _ => return None,
    })
}

/// `t + d` (or `t - d`): months, then days (calendar arithmetic in the zone of
/// `t`, as Arrow does), then the clock part.
fn shift(t: Instant, d: Delta, subtract: bool) -> Option<Instant> {
    let d = if subtract {
        Delta {
            months: d.months.checked_neg()?,
            days: d.days.checked_neg()?,
            nanos: -d.nanos,
        }
    } else {
        d
    };
    let mut ns = t.ns;
    if d.months != 0 || d.days != 0 {
        let tz: Tz = t.zone.as_deref().unwrap_or(UTC_OFFSET).parse().ok()?;
        let ms = i64::try_from(ns.div_euclid(NANOS_PER_MS)).ok()?;
        let sub_ms = ns.rem_euclid(NANOS_PER_MS);
        let moved = TimestampMillisecondType::add_month_day_nano(
            ms,
            IntervalMonthDayNano::new(d.months, d.days, 0),
            tz,
        )?;
        ns = i128::from(moved) * NANOS_PER_MS + sub_ms;
    }
    Some(Instant {
        ns: ns.checked_add(d.nanos)?,
        zone: t.zone,
    })
}

// ---------------------------------------------------------------------------
// Literal helpers
// ---------------------------------------------------------------------------

fn scalar_str(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(s),
        ScalarValue::Dictionary(_, inner) => scalar_str(inner),
        _ => None,
    }
}

fn is_string_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => true,
        DataType::Dictionary(_, value) => is_string_type(value),
        _ => false,
    }
}

/// A non-null string constant, through casts between string types.
fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(value, _) => scalar_str(value).map(str::to_owned),
        Expr::Alias(alias) => string_literal(&alias.expr),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field })
            if is_string_type(field.data_type()) =>
        {
            string_literal(expr)
        }
        _ => None,
    }
}

fn integer_literal(expr: &Expr) -> Option<i128> {
    let Expr::Literal(value, _) = strip_alias(expr) else {
        return None;
    };
    Some(match value {
        ScalarValue::Int8(Some(v)) => i128::from(*v),
        ScalarValue::Int16(Some(v)) => i128::from(*v),
        ScalarValue::Int32(Some(v)) => i128::from(*v),
        ScalarValue::Int64(Some(v)) => i128::from(*v),
        ScalarValue::UInt8(Some(v)) => i128::from(*v),
        ScalarValue::UInt16(Some(v)) => i128::from(*v),
        ScalarValue::UInt32(Some(v)) => i128::from(*v),
        ScalarValue::UInt64(Some(v)) => i128::from(*v),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
