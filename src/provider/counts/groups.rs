//! Which group expressions a count per (log, bin) can answer, and in which
//! bins.
//!
//! The counts table has one row per log and bin, `timestamp` being the bin's
//! start, and DataFusion evaluates the statement's group expression on that
//! row. That gives each event the group it has only when the expression is
//! constant within each bin. So an expression is accepted when it reads only
//! `log_name`, `log_id` (one value a row) and `timestamp` through *time
//! keys*, functions of `timestamp` that are constant within known bins:
//!
//! | key (of `timestamp`, UTC) | constant within |
//! |---|---|
//! | `date_bin(i, ts[, origin])`, `i` fixed | bins of `i` from `origin` (the epoch) |
//! | `date_trunc('second' … 'day', ts)` | bins of that unit from the epoch |
//! | `date_trunc('week', ts)` | weeks from a Monday (DataFusion truncates to Monday) |
//! | `date_trunc('month' / 'quarter' / 'year', ts)` | calendar months / quarters / years |
//! | `date_part` / `extract` of minute … year | the bins of that unit |
//! | `to_char(ts, f)` / `date_format`, `f` a literal | the finest unit of `f` (no fractions) |
//! | `CAST(ts AS DATE)` | days |
//! | `CAST(ts AS BIGINT) / n`, `to_unixtime(ts) / n` (`time_bucket` by hand) | bins of `n` ms (s) from the epoch |
//! | `to_unixtime(ts)` | seconds |
//!
//! Anything deterministic over keys (casts, `to_char` of a key, arithmetic,
//! `CASE`, the log columns) is constant where its inputs are. Several keys
//! need a bin that lies inside a bin of each (see [`Bin::refines`]):
//! `date_bin(15 min)` with `date_trunc('hour')` counts in 15 minutes, while
//! `date_bin(45 min)` with `date_trunc('hour')` has no such bin and pages.
//! `date_trunc`, `date_part` and `to_char` depend on the time zone of their
//! argument: only UTC (the column's) or no zone is accepted, through casts
//! that keep every instant (not from a zone to none or back, except UTC);
//! `date_bin` asks the same. `to_char` needs a literal format (one with no
//! field of the time is a constant, no key); `CAST(ts AS DATE)` is `Date32`
//! only (`Date64` keeps the milliseconds).

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::functions::datetime::date_bin::DateBinFunc;
use datafusion::functions::datetime::date_part::DatePartFunc;
use datafusion::functions::datetime::date_trunc::DateTruncFunc;
use datafusion::functions::datetime::to_char::ToCharFunc;
use datafusion::functions::datetime::to_unixtime::ToUnixtimeFunc;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, Operator};

use super::bin::{Bin, DAY_MS};
use crate::events::columns;
use crate::provider::expr::{string_literal, strip_alias};

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
/// 1970-01-05, the first Monday of the epoch: weeks start there.
const MONDAY_MS: i64 = 4 * DAY_MS;

/// The bins every group expression of `groups` (over the scan's columns)
/// is constant within, the finest that lies inside a bin of each key; `None`
/// when none reads `timestamp`. `Err` says why not, in a sentence naming
/// the group (`names[i]` is how the statement wrote `groups[i]`).
pub(super) fn group_bin(groups: &[Expr], names: &[String]) -> Result<Option<Bin>, String> {
    let mut keys = Vec::new();
    for (group, name) in groups.iter().zip(names) {
        if matches!(group, Expr::GroupingSet(_)) {
            return Err("GROUPING SETS, ROLLUP and CUBE are not counted per bin".into());
        }
        if group.is_volatile() {
            return Err(format!("GROUP BY {name} is volatile"));
        }
        time_keys(group, &mut keys)
            .map_err(|why| format!("GROUP BY {name} is not constant within a time bin{why}"))?;
    }
    if keys.is_empty() {
        return Ok(None);
    }
    keys.iter()
        .find(|k| keys.iter().all(|o| k.refines(o)))
        .copied()
        .map(Some)
        .ok_or_else(|| {
            format!(
                "the time groups of GROUP BY {} share no bin (one width must divide the \
                 other, on the same edges)",
                names.join(", ")
            )
        })
}

/// Collect the bins of the time keys of `e`; `Err(detail)` when `e` reads a
/// column other than through a key (`detail` is empty or `: why`).
fn time_keys(e: &Expr, keys: &mut Vec<Bin>) -> Result<(), String> {
    if let Some(key) = time_key(e)? {
        keys.push(key);
        return Ok(());
    }
    // `to_char(timestamp, 'text')` shows no field of the time: one value
    // for every event (the column is never null), no time key at all.
    if let Some((source, format)) = to_char_args(e)
        && is_utc_timestamp(source)
        && string_literal(format).and_then(format_bin) == Some(None)
    {
        return Ok(());
    }
    match e {
        Expr::Column(c) if c.name == columns::LOG_NAME || c.name == columns::LOG_ID => Ok(()),
        Expr::Column(c) if c.name == columns::LOGSET => {
            Err(": the counts from statistics have no logset column".into())
        }
        Expr::Column(c) if c.name == columns::TIMESTAMP => {
            Err(": timestamp itself is one group per millisecond".into())
        }
        Expr::Column(_) => Err(String::new()),
        Expr::ScalarSubquery(_)
        | Expr::Exists(_)
        | Expr::InSubquery(_)
        | Expr::SetComparison(_)
        | Expr::OuterReferenceColumn(..)
        | Expr::Placeholder(_) => Err(": a subquery or parameter".into()),
        other => {
            let mut result = Ok(());
            other
                .apply_children(|child| {
                    result = time_keys(child, keys);
                    Ok(if result.is_ok() {
                        TreeNodeRecursion::Continue
                    } else {
                        TreeNodeRecursion::Stop
                    })
                })
                .map_err(|e| e.to_string())?;
            result
        }
    }
}

/// The bin of `e` when it is a time key of `timestamp` (see the module docs).
fn time_key(e: &Expr) -> Result<Option<Bin>, String> {
    match e {
        // Date32 only: arrow casts a timestamp to Date64 by keeping its
        // milliseconds (no truncation to the day).
        Expr::Cast(Cast { expr, field })
            if field.data_type() == &DataType::Date32 && is_utc_timestamp(expr) =>
        {
            Ok(Some(Bin::fixed(DAY_MS, 0)))
        }
        // `CAST(timestamp AS BIGINT) / n` (or `DIV n`, the same integer
        // division): division of epoch milliseconds truncates, the floor
        // for instants after 1970 (all a window holds), so constant within
        // bins of `n` ms from the epoch.
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Divide | Operator::IntegerDivide,
            right,
        }) if epoch_unit_ms(left).is_some() => match strip_alias(right) {
            Expr::Literal(ScalarValue::Int64(Some(n)), _) if *n > 0 => {
                let unit = epoch_unit_ms(left).unwrap_or(1);
                Ok(Some(Bin::fixed(n.saturating_mul(unit), 0)))
            }
            _ => {
                Err(": epoch milliseconds divided by other than a positive integer literal".into())
            }
        },
        e if epoch_unit_ms(e) == Some(SECOND_MS) => Ok(Some(Bin::fixed(SECOND_MS, 0))),
        Expr::ScalarFunction(ScalarFunction { func, args }) => {
            let f = func.inner();
            if f.downcast_ref::<DateBinFunc>().is_some() {
                date_bin_key(args)
            } else if let Some(name) = unit_function(f) {
                match args.as_slice() {
                    [unit, source] if is_utc_timestamp(source) => {
                        let unit = string_literal(unit).unwrap_or_default();
                        unit_bin(unit, name == "date_part")
                            .map(Some)
                            .ok_or_else(|| format!(": {name} of '{unit}'"))
                    }
                    _ => Ok(None),
                }
            } else if let Some((source, format)) = to_char_args(e)
                && is_utc_timestamp(source)
            {
                // A format read from the row could show any field.
                let format = string_literal(format)
                    .ok_or(": to_char with a format that is not a literal")?;
                // No field of the time: no key (see `time_keys`).
                format_bin(format).ok_or_else(|| {
                    format!(
                        ": to_char format '{format}' has a field finer than a second or one \
                         not known here"
                    )
                })
            } else {
                Ok(None)
            }
        }
        _ => Ok(None),
    }
}

/// `(source, format)` of `to_char(source, format)` (or `date_format`).
fn to_char_args(e: &Expr) -> Option<(&Expr, &Expr)> {
    match e {
        Expr::ScalarFunction(ScalarFunction { func, args })
            if func.inner().downcast_ref::<ToCharFunc>().is_some() =>
        {
            match args.as_slice() {
                [source, format] => Some((source, format)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The unit, in milliseconds, of an integer count of epoch units of the
/// column: `CAST(timestamp AS BIGINT)` (milliseconds), `to_unixtime(timestamp)`
/// (seconds, truncated: the floor after 1970).
fn epoch_unit_ms(e: &Expr) -> Option<i64> {
    let is_column =
        |e: &Expr| matches!(strip_alias(e), Expr::Column(c) if c.name == columns::TIMESTAMP);
    match strip_alias(e) {
        Expr::Cast(Cast { expr, field })
            if field.data_type() == &DataType::Int64 && is_column(expr) =>
        {
            Some(1)
        }
        Expr::ScalarFunction(ScalarFunction { func, args })
            if func.inner().downcast_ref::<ToUnixtimeFunc>().is_some()
                && matches!(args.as_slice(), [arg] if is_column(arg)) =>
        {
            Some(SECOND_MS)
        }
        _ => None,
    }
}

/// `date_trunc` or `date_part`: a function of a unit and a timestamp.
fn unit_function(
    f: &std::sync::Arc<dyn datafusion::logical_expr::ScalarUDFImpl>,
) -> Option<&'static str> {
    if f.downcast_ref::<DateTruncFunc>().is_some() {
        Some("date_trunc")
    } else if f.downcast_ref::<DatePartFunc>().is_some() {
        Some("date_part")
    } else {
        None
    }
}

/// `date_bin(stride, timestamp[, origin])`.
fn date_bin_key(args: &[Expr]) -> Result<Option<Bin>, String> {
    let (stride, source, origin) = match args {
        [stride, source] => (stride, source, None),
        [stride, source, origin] => (stride, source, Some(origin)),
        _ => return Ok(None),
    };
    if !is_utc_timestamp(source) {
        return Ok(None);
    }
    let stride_ms = match strip_alias(stride) {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => mdn_millis(*v),
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => {
            Some(i64::from(v.days) * DAY_MS + i64::from(v.milliseconds))
        }
        _ => None,
    }
    .filter(|s| *s > 0)
    .ok_or(
        ": date_bin by an interval of months, of a fraction of a millisecond, or not a literal",
    )?;
    let origin_ms = match origin.map(strip_alias) {
        None => 0,
        Some(Expr::Literal(v, _)) => {
            timestamp_ms(v).ok_or(": date_bin from an origin that is not a whole millisecond")?
        }
        Some(_) => return Err(": date_bin from an origin that is not a literal".into()),
    };
    Ok(Some(Bin::fixed(stride_ms, origin_ms)))
}

/// The bins a `date_trunc` (or, with `part`, a `date_part`) unit is
/// constant within, in UTC.
fn unit_bin(unit: &str, part: bool) -> Option<Bin> {
    let fixed = |ms| Some(Bin::fixed(ms, 0));
    match unit.to_ascii_lowercase().as_str() {
        "second" if !part => fixed(SECOND_MS),
        "minute" => fixed(MINUTE_MS),
        "hour" => fixed(HOUR_MS),
        "day" => fixed(DAY_MS),
        "dow" | "doy" | "isodow" if part => fixed(DAY_MS),
        // ISO weeks (date_part) and date_trunc's weeks start on Monday.
        "week" => Some(Bin::fixed(7 * DAY_MS, MONDAY_MS)),
        "month" => Some(Bin::Months { months: 1 }),
        "quarter" => Some(Bin::Months { months: 3 }),
        "year" => Some(Bin::Months { months: 12 }),
        _ => None,
    }
}

/// The finest unit a `to_char` format shows: `Some(None)` for none (a
/// constant), `None` for fields finer than a second or not known here.
fn format_bin(format: &str) -> Option<Option<Bin>> {
    #[derive(PartialEq, PartialOrd, Clone, Copy)]
    enum Unit {
        Second,
        Minute,
        Hour,
        Day,
        Month,
        Year,
    }
    let mut finest: Option<Unit> = None;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        let mut spec = chars.next()?;
        if matches!(spec, '-' | '_' | '0') {
            spec = chars.next()?;
        }
        let unit = match spec {
            '%' | 'n' | 't' | 'z' | 'Z' => continue,
            'Y' | 'C' | 'y' => Unit::Year,
            'm' | 'b' | 'B' | 'h' => Unit::Month,
            'd' | 'e' | 'j' | 'a' | 'A' | 'u' | 'w' | 'F' | 'D' | 'x' | 'G' | 'g' | 'V' | 'U'
            | 'W' => Unit::Day,
            'H' | 'k' | 'I' | 'l' | 'p' | 'P' => Unit::Hour,
            'M' | 'R' => Unit::Minute,
            'S' | 'T' | 'X' | 'r' | 'c' | 's' => Unit::Second,
            _ => return None,
        };
        finest = Some(finest.map_or(unit, |f| if unit < f { unit } else { f }));
    }
    Some(finest.map(|u| match u {
        Unit::Second => Bin::fixed(SECOND_MS, 0),
        Unit::Minute => Bin::fixed(MINUTE_MS, 0),
        Unit::Hour => Bin::fixed(HOUR_MS, 0),
        Unit::Day => Bin::fixed(DAY_MS, 0),
        Unit::Month => Bin::Months { months: 1 },
        Unit::Year => Bin::Months { months: 12 },
    }))
}

/// A fixed interval in whole milliseconds (no months).
fn mdn_millis(v: IntervalMonthDayNano) -> Option<i64> {
    if v.months != 0 {
        return None;
    }
    let nanos = i128::from(v.days) * 86_400_000_000_000 + i128::from(v.nanoseconds);
    (nanos % 1_000_000 == 0)
        .then(|| i64::try_from(nanos / 1_000_000).ok())
        .flatten()
}

/// `timestamp`, or a chain of casts of it that keeps every instant (to a
/// timestamp unit at least as fine as milliseconds: the column is in
/// milliseconds, a cast to seconds would move instants to other bins; and
/// between zones only where the instant stays, see [`zone_after`]), in UTC
/// (or no zone: the UTC wall clock) at the end. Every key asks for this,
/// `date_bin` too: whether it bins a zoned timestamp in local time is not
/// relied on.
fn is_utc_timestamp(e: &Expr) -> bool {
    instant_zone(e).is_some_and(|tz| tz.as_deref().is_none_or(is_utc))
}

fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "utc" | "+00:00" | "Z" | "Etc/UTC")
}

/// The zone (`None`: no zone, the UTC wall clock) of `e` when it is
/// `timestamp` or an instant-keeping cast chain of it.
fn instant_zone(e: &Expr) -> Option<Option<String>> {
    match strip_alias(e) {
        Expr::Column(c) if c.name == columns::TIMESTAMP => {
            Some(Some(crate::events::TIMESTAMP_TZ.to_string()))
        }
        Expr::Cast(Cast { expr, field }) => match field.data_type() {
            DataType::Timestamp(
                TimeUnit::Millisecond | TimeUnit::Microsecond | TimeUnit::Nanosecond,
                tz,
            ) => zone_after(instant_zone(expr)?, tz.as_deref()),
            _ => None,
        },
        _ => None,
    }
}

/// The zone after casting a timestamp in zone `from` to zone `to`, when
/// the cast keeps the instant: zone to zone converts, no zone to no zone
/// copies; between a zone and no zone arrow reinterprets the wall clock
/// (`CAST(ts AS TIMESTAMP) AT TIME ZONE 'Europe/Paris'` moves every
/// instant by Paris's offset), which is the same instant only in UTC.
fn zone_after(from: Option<String>, to: Option<&str>) -> Option<Option<String>> {
    match (from.as_deref(), to) {
        (Some(_), Some(to)) => Some(Some(to.to_string())),
        (None, None) => Some(None),
        (Some(z), None) | (None, Some(z)) if is_utc(z) => Some(to.map(str::to_string)),
        _ => None,
    }
}

/// A non-null timestamp literal as exact epoch milliseconds.
fn timestamp_ms(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampMillisecond(Some(ms), _) => Some(*ms),
        ScalarValue::TimestampSecond(Some(s), _) => s.checked_mul(1000),
        ScalarValue::TimestampMicrosecond(Some(us), _) if us % 1_000 == 0 => Some(us / 1_000),
        ScalarValue::TimestampNanosecond(Some(ns), _) if ns % 1_000_000 == 0 => {
            Some(ns / 1_000_000)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::functions::expr_fn::{date_bin, date_part, date_trunc, to_char};
    use datafusion::logical_expr::{cast, col, lit};

    fn ts() -> Expr {
        col(columns::TIMESTAMP)
    }

    fn bin_of(groups: Vec<Expr>) -> Result<Option<Bin>, String> {
        let names: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        group_bin(&groups, &names)
    }

    /// `date_bin(n minutes, source)` from the epoch.
    fn binned(n: i64, source: Expr) -> Expr {
        date_bin(
            minutes(n),
            source,
            lit(ScalarValue::TimestampNanosecond(Some(0), None)),
        )
    }

    /// `CAST(e AS TIMESTAMP(unit, tz))`.
    fn in_zone(e: Expr, unit: TimeUnit, tz: Option<&str>) -> Expr {
        cast(e, DataType::Timestamp(unit, tz.map(Into::into)))
    }

    fn minutes(n: i64) -> Expr {
        lit(ScalarValue::IntervalMonthDayNano(Some(
            IntervalMonthDayNano::new(0, 0, n * 60_000_000_000),
        )))
    }

    #[test]
    fn keys_give_their_bins() {
        let hour = Some(Bin::fixed(HOUR_MS, 0));
        assert_eq!(bin_of(vec![date_trunc(lit("hour"), ts())]), Ok(hour));
        assert_eq!(bin_of(vec![date_trunc(lit("HOUR"), ts())]), Ok(hour));
        assert_eq!(
            bin_of(vec![date_trunc(lit("week"), ts())]),
            Ok(Some(Bin::fixed(7 * DAY_MS, MONDAY_MS)))
        );
        assert_eq!(
            bin_of(vec![date_trunc(lit("month"), ts())]),
            Ok(Some(Bin::Months { months: 1 }))
        );
        assert_eq!(
            bin_of(vec![binned(10, ts())]),
            Ok(Some(Bin::fixed(10 * MINUTE_MS, 0)))
        );
        assert_eq!(
            bin_of(vec![date_part(lit("hour"), ts())]),
            Ok(Some(Bin::fixed(HOUR_MS, 0)))
        );
        assert_eq!(
            bin_of(vec![to_char(ts(), lit("%Y-%m-%d %H:00"))]),
            Ok(Some(Bin::fixed(HOUR_MS, 0)))
        );
        assert_eq!(
            bin_of(vec![cast(ts(), DataType::Date32)]),
            Ok(Some(Bin::fixed(DAY_MS, 0)))
        );
        // Through a cast, to_char of a key, and next to log columns.
        assert_eq!(
            bin_of(vec![
                cast(date_trunc(lit("hour"), ts()), DataType::Int64),
                col("log_name"),
            ]),
            Ok(hour)
        );
        assert_eq!(
            bin_of(vec![to_char(
                date_trunc(lit("hour"), ts()),
                lit("%H:%M:%S%.3f")
            )]),
            Ok(hour)
        );
        assert_eq!(bin_of(vec![col("log_id")]), Ok(None));
        let epoch = || cast(ts(), DataType::Int64);
        assert_eq!(
            bin_of(vec![(epoch() / lit(600_000i64)) * lit(600_000i64)]),
            Ok(Some(Bin::fixed(600_000, 0)))
        );
        assert!(bin_of(vec![epoch() / lit(0i64)]).is_err());
        let div =
            datafusion::logical_expr::binary_expr(epoch(), Operator::IntegerDivide, lit(60_000i64));
        assert_eq!(bin_of(vec![div]), Ok(Some(Bin::fixed(60_000, 0))));
        let unix = || datafusion::functions::expr_fn::to_unixtime(vec![ts()]);
        assert_eq!(
            bin_of(vec![unix() / lit(600i64)]),
            Ok(Some(Bin::fixed(600_000, 0)))
        );
        assert_eq!(bin_of(vec![unix()]), Ok(Some(Bin::fixed(SECOND_MS, 0))));
        assert!(bin_of(vec![epoch() + lit(1i64)]).is_err());
    }

    #[test]
    fn the_finest_bin_inside_every_key_is_chosen() {
        let quarter_hour = date_bin(
            minutes(15),
            ts(),
            lit(ScalarValue::TimestampNanosecond(Some(0), None)),
        );
        assert_eq!(
            bin_of(vec![date_trunc(lit("hour"), ts()), quarter_hour]),
            Ok(Some(Bin::fixed(15 * MINUTE_MS, 0)))
        );
        let three_quarters = date_bin(
            minutes(45),
            ts(),
            lit(ScalarValue::TimestampNanosecond(Some(0), None)),
        );
        assert!(bin_of(vec![date_trunc(lit("hour"), ts()), three_quarters]).is_err());
        // Weeks do not lie inside months.
        assert!(
            bin_of(vec![
                date_trunc(lit("week"), ts()),
                date_trunc(lit("month"), ts())
            ])
            .is_err()
        );
    }

    #[test]
    fn what_varies_within_a_bin_is_refused() {
        let e = bin_of(vec![col("message")]).unwrap_err();
        assert_eq!(e, "GROUP BY message is not constant within a time bin");
        assert!(bin_of(vec![ts()]).is_err());
        assert!(bin_of(vec![date_trunc(lit("millisecond"), ts())]).is_err());
        assert!(bin_of(vec![date_part(lit("second"), ts())]).is_err());
        assert!(bin_of(vec![to_char(ts(), lit("%H:%M:%S%.3f"))]).is_err());
        // A zone other than UTC moves day edges.
        let paris = in_zone(ts(), TimeUnit::Millisecond, Some("Europe/Paris"));
        assert!(bin_of(vec![date_trunc(lit("day"), paris.clone())]).is_err());
        // date_bin asks for UTC too.
        assert!(bin_of(vec![binned(10, paris.clone())]).is_err());
        // A cast from no zone into one reinterprets the wall clock: the
        // instant moves (`CAST(ts AS TIMESTAMP) AT TIME ZONE 'Europe/Paris'`).
        let wall = in_zone(ts(), TimeUnit::Nanosecond, None);
        let moved = in_zone(wall.clone(), TimeUnit::Nanosecond, Some("Europe/Paris"));
        assert!(bin_of(vec![binned(60, moved)]).is_err());
        // UTC and no zone are one wall clock, both ways.
        let back = in_zone(wall, TimeUnit::Millisecond, Some("UTC"));
        assert_eq!(
            bin_of(vec![date_trunc(lit("day"), back)]),
            Ok(Some(Bin::fixed(DAY_MS, 0)))
        );
        // Zone to zone keeps the instant, but Paris days are not UTC days.
        let paris_wall = in_zone(paris, TimeUnit::Millisecond, None);
        assert!(bin_of(vec![date_trunc(lit("hour"), paris_wall)]).is_err());
        // A day is a Date32; a Date64 keeps the milliseconds.
        assert!(bin_of(vec![cast(ts(), DataType::Date64)]).is_err());
        // A to_char format read from the row could show anything.
        let e = bin_of(vec![to_char(ts(), col("message"))]).unwrap_err();
        assert!(e.contains("not a literal"), "{e}");
        let by_log =
            datafusion::logical_expr::when(col("log_name").eq(lit("Firewall")), lit("%Y-%m-%d %H"))
                .otherwise(lit("%Y"))
                .unwrap();
        assert!(bin_of(vec![to_char(ts(), by_log)]).is_err());
        // A format with no field of the time is one value: no time key.
        assert_eq!(bin_of(vec![to_char(ts(), lit("all"))]), Ok(None));
        assert_eq!(
            bin_of(vec![
                to_char(ts(), lit("all")),
                date_trunc(lit("week"), ts())
            ]),
            Ok(Some(Bin::fixed(7 * DAY_MS, MONDAY_MS)))
        );
        // A cast to seconds is not the millisecond column.
        let seconds = in_zone(ts(), TimeUnit::Second, Some("UTC"));
        assert!(bin_of(vec![binned(10, seconds)]).is_err());
    }

    #[test]
    fn bins_are_fixed_whole_milliseconds() {
        let mdn = |months, days, nanos| IntervalMonthDayNano::new(months, days, nanos);
        assert_eq!(mdn_millis(mdn(0, 0, 600_000_000_000)), Some(600_000));
        assert_eq!(mdn_millis(mdn(0, 1, 0)), Some(86_400_000));
        assert_eq!(mdn_millis(mdn(1, 0, 0)), None);
        assert_eq!(mdn_millis(mdn(0, 0, 1_500)), None);
        assert_eq!(
            timestamp_ms(&ScalarValue::TimestampNanosecond(
                Some(1_767_227_400_000_000_000),
                None
            )),
            Some(1_767_227_400_000)
        );
        assert_eq!(
            timestamp_ms(&ScalarValue::TimestampNanosecond(Some(1), None)),
            None
        );
    }
}
