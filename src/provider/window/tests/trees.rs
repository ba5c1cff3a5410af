//! Bigger properties of window extraction: random predicate trees (AND, OR,
//! NOT, `<`, `<=`, `>`, `>=`, `=`, `<>`, BETWEEN, IN, their negations) over
//! the whole time line (literals near each other, before 1970, after 9999,
//! at `i64` extremes, `now() - interval`, bounds that cross), mixed with
//! predicates on other columns, several filters at once, no guard window.
//!
//! The oracle is an evaluator written here: for a row with timestamp `t`, a
//! predicate on another column may be TRUE, FALSE or NULL (three-valued
//! logic, each such leaf independently), and a comparison of `timestamp`
//! with an instant finer than a millisecond may be done exactly or with the
//! instant truncated (floor or toward zero). If any choice makes the filters
//! TRUE, `t` must lie in the windows. Checked at every literal's millisecond
//! and its neighbours, at the ends of the supported range and at random
//! instants:
//! - extraction never panics; an `OutOfRange` error names a bound outside
//!   1970..=9999;
//! - soundness, as above (above `now` only where the upper bound defaulted
//!   to `now`);
//! - for trees of understood forms only, `NoLowerBound` exactly when the
//!   filters hold far below every literal, and windows that are exact;
//! - the number of windows stays within a bound linear in the leaves.
//!
//! The same trees are also written as SQL and planned by DataFusion (which
//! simplifies, coerces and splits them before pushing them into the scan).

use datafusion::functions::datetime::expr_fn::now;
use datafusion::logical_expr::{Operator, binary_expr, cast};
use proptest::prelude::*;

use super::*;

const NS_PER_MS: i128 = 1_000_000;
/// 1000-01-01T00:00:00Z: string literals are written from here to 9999.
const YEAR_1000_MS: i64 = -30_610_224_000_000;

// ---------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------

/// How a constant instant is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A timestamp literal of this unit; `raw` is in the unit.
    Unit(TimeUnit),
    /// A string: RFC 3339 with this offset in minutes, or (`None`) the
    /// zone-less `YYYY-MM-DD HH:MM:SS.fff` that is read as UTC. Whole ms.
    Str(Option<i32>),
    /// `now() - interval` of `NOW * 1e6 - ns` nanoseconds.
    NowMinus,
}

#[derive(Debug, Clone, Copy)]
struct Lit {
    /// Nanoseconds since the epoch.
    ns: i128,
    form: Form,
    /// The literal's value in its unit (for `Form::Unit`).
    raw: i64,
}

impl Lit {
    fn unit(unit: TimeUnit, raw: i64) -> Lit {
        Lit {
            ns: i128::from(raw) * unit_nanos(unit),
            form: Form::Unit(unit),
            raw,
        }
    }

    fn floor_ms(self) -> i128 {
        self.ns.div_euclid(NS_PER_MS)
    }

    fn whole_ms(self) -> bool {
        self.ns.rem_euclid(NS_PER_MS) == 0
    }

    fn expr(self) -> Expr {
        match self.form {
            Form::Unit(unit) => {
                let zone = match self.raw.rem_euclid(3) {
                    0 => None,
                    1 => utc(),
                    _ => Some(Arc::from("+05:30")),
                };
                lit(match unit {
                    TimeUnit::Second => ScalarValue::TimestampSecond(Some(self.raw), zone),
                    TimeUnit::Millisecond => {
                        ScalarValue::TimestampMillisecond(Some(self.raw), zone)
                    }
                    TimeUnit::Microsecond => {
                        ScalarValue::TimestampMicrosecond(Some(self.raw), zone)
                    }
                    TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(self.raw), zone),
                })
            }
            Form::Str(_) => lit(self.text()),
            Form::NowMinus => {
                let delta = i128::from(NOW) * NS_PER_MS - self.ns;
                now() - interval_mdn(0, 0, i64::try_from(delta).expect("fits"))
            }
        }
    }

    fn sql(self) -> String {
        match self.form {
            Form::Unit(TimeUnit::Second) => format!("to_timestamp_seconds({})", self.raw),
            Form::Unit(TimeUnit::Millisecond) => format!("to_timestamp_millis({})", self.raw),
            Form::Unit(TimeUnit::Microsecond) => format!("to_timestamp_micros({})", self.raw),
            Form::Unit(TimeUnit::Nanosecond) => format!("to_timestamp_nanos({})", self.raw),
            Form::Str(_) => format!("'{}'", self.text()),
            Form::NowMinus => unreachable!("not written as SQL: DataFusion folds now()"),
        }
    }

    fn text(self) -> String {
        let ms = i64::try_from(self.floor_ms()).expect("string instants fit");
        match self.form {
            Form::Str(offset) => civil(ms, offset),
            _ => unreachable!("only strings have text"),
        }
    }
}

/// `ms` as `YYYY-MM-DDTHH:MM:SS.fff±hh:mm` in the zone `offset` minutes east
/// of UTC (`Z` for 0), or `YYYY-MM-DD HH:MM:SS.fff` in UTC for `None`.
fn civil(ms: i64, offset: Option<i32>) -> String {
    let local = ms + i64::from(offset.unwrap_or(0)) * 60_000;
    let secs = local.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = crate::time::civil_from_days(days);
    let (sep, zone) = match offset {
        None => (' ', String::new()),
        Some(0) => ('T', "Z".to_string()),
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            (
                'T',
                format!("{sign}{:02}:{:02}", o.abs() / 60, o.abs() % 60),
            )
        }
    };
    format!(
        "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}.{:03}{zone}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        local.rem_euclid(1000)
    )
}

/// An instant in milliseconds: mostly where literals meet each other and the
/// ends of the supported range, sometimes anywhere or far outside it.
fn ms_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        10 => (-3_000i64..3_000).prop_map(|d| T0 + d),
        1 => (-2_000i64..2_000).prop_map(|d| NOW + d),
        1 => -2_000i64..2_000,
        1 => (-2_000i64..2_000).prop_map(|d| MAX_TIMESTAMP_MS + d),
        1 => 0..MAX_TIMESTAMP_MS,
        1 => YEAR_1000_MS..0,
        1 => MAX_TIMESTAMP_MS..4 * MAX_TIMESTAMP_MS,
    ]
}

/// Zones of string literals (`None`: no offset, read as UTC).
fn offsets() -> impl Strategy<Value = Option<i32>> + Clone {
    prop_oneof![Just(None), Just(Some(0)), Just(Some(120)), Just(Some(-330))]
}

fn extremes() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(i64::MIN / 1000),
        Just(i64::MAX / 1000)
    ]
}

/// A literal for hand-built trees: every form, extremes included.
fn lit_strategy() -> impl Strategy<Value = Lit> {
    let sub = 0i64..1_000_000;
    prop_oneof![
        4 => ms_strategy().prop_map(|m| Lit::unit(TimeUnit::Millisecond, m)),
        1 => ms_strategy().prop_map(|m| Lit::unit(TimeUnit::Second, m.div_euclid(1000))),
        1 => (ms_strategy(), sub.clone())
            .prop_map(|(m, s)| Lit::unit(TimeUnit::Microsecond, m * 1000 + s / 1000)),
        // Nanoseconds fit an i64 only for years 1678..2262; near whole
        // milliseconds is where rounding matters.
        2 => ((-3_000i64..3_000), prop_oneof![sub.clone(), Just(0), Just(1), Just(999_999)])
            .prop_map(|(d, s)| Lit::unit(TimeUnit::Nanosecond, (T0 + d) * 1_000_000 + s)),
        2 => (ms_strategy(), offsets())
            .prop_filter_map("a four-digit year", |(m, offset)| {
                (YEAR_1000_MS..MAX_TIMESTAMP_MS - 86_400_000).contains(&m).then(|| Lit {
                    ns: i128::from(m) * NS_PER_MS,
                    form: Form::Str(offset),
                    raw: m,
                })
            }),
        1 => (-3_000_000_000i64..3_000_000_000, sub).prop_map(|(d_ms, s)| Lit {
            ns: (i128::from(NOW) + i128::from(d_ms)) * NS_PER_MS + i128::from(s % 2 * 500_000),
            form: Form::NowMinus,
            raw: 0,
        }),
        1 => extremes().prop_map(|v| Lit::unit(TimeUnit::Second, v)),
        1 => extremes().prop_map(|v| Lit::unit(TimeUnit::Millisecond, v)),
    ]
}

/// A whole-millisecond literal for trees the extraction must get exactly:
/// milliseconds, seconds and strings, extremes included.
fn whole_ms_lit_strategy() -> impl Strategy<Value = Lit> {
    prop_oneof![
        4 => ms_strategy().prop_map(|m| Lit::unit(TimeUnit::Millisecond, m)),
        1 => ms_strategy().prop_map(|m| Lit::unit(TimeUnit::Second, m.div_euclid(1000))),
        1 => (ms_strategy(), offsets()).prop_filter_map("a four-digit year", |(m, offset)| {
            (YEAR_1000_MS..MAX_TIMESTAMP_MS - 86_400_000).contains(&m).then(|| Lit {
                ns: i128::from(m) * NS_PER_MS,
                form: Form::Str(offset),
                raw: m,
            })
        }),
        1 => extremes().prop_map(|v| Lit::unit(TimeUnit::Second, v)),
    ]
}

/// A literal for SQL: whole milliseconds (as seconds, milliseconds,
/// microseconds, nanoseconds or a string), so that the oracle's semantics
/// all agree with whichever coercion DataFusion picks (it may cast a finer
/// literal to the column's unit, and then evaluates that). Within
/// 1970..2262: DataFusion casts a string compared with a timestamp, and the
/// column for a nanosecond literal, to nanoseconds, and fails on later
/// dates. Sub-millisecond instants are the hand-built trees' job.
fn sql_lit_strategy() -> impl Strategy<Value = Lit> {
    const NS_LIMIT_MS: i64 = i64::MAX / 1_000_000 - 86_400_000;
    let in_range = || ms_strategy().prop_filter("1970..2262", |m| (0..NS_LIMIT_MS).contains(m));
    prop_oneof![
        3 => in_range().prop_map(|m| Lit::unit(TimeUnit::Millisecond, m)),
        1 => in_range().prop_map(|m| Lit::unit(TimeUnit::Second, m / 1000)),
        1 => in_range().prop_map(|m| Lit::unit(TimeUnit::Microsecond, m * 1000)),
        1 => in_range().prop_map(|m| Lit::unit(TimeUnit::Nanosecond, m * 1_000_000)),
        2 => (in_range(), offsets()).prop_map(|(m, offset)| Lit {
            ns: i128::from(m) * NS_PER_MS,
            form: Form::Str(offset),
            raw: m,
        }),
    ]
}

// ---------------------------------------------------------------------------
// Trees and the oracle
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Tree {
    Cmp {
        op: Operator,
        x: Lit,
        flipped: bool,
    },
    Between {
        low: Lit,
        high: Lit,
        negated: bool,
    },
    In {
        list: Vec<Lit>,
        negated: bool,
    },
    NotEq(Lit),
    /// A predicate on another column (or a form on `timestamp` that is not
    /// understood): TRUE, FALSE or NULL for any row, independently.
    Other(u32),
    Not(Box<Tree>),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

/// Random trees; with `understood_only`, only the forms the extraction
/// understands (comparisons, BETWEEN, NOT BETWEEN, IN, AND, OR).
fn tree_strategy(lits: BoxedStrategy<Lit>, understood_only: bool) -> BoxedStrategy<Tree> {
    let op = prop_oneof![
        Just(Operator::Lt),
        Just(Operator::LtEq),
        Just(Operator::Gt),
        Just(Operator::GtEq),
        Just(Operator::Eq),
    ];
    let other = u32::from(!understood_only);
    let leaf = prop_oneof![
        6 => (op, lits.clone(), any::<bool>())
            .prop_map(|(op, x, flipped)| Tree::Cmp { op, x, flipped }),
        3 => (lits.clone(), lits.clone(), any::<bool>())
            .prop_map(|(low, high, negated)| Tree::Between { low, high, negated }),
        2 => (proptest::collection::vec(lits.clone(), 1..5), any::<bool>())
            .prop_map(move |(list, negated)| Tree::In { list, negated: negated && other > 0 }),
        other => lits.prop_map(Tree::NotEq),
        2 * other => any::<u32>().prop_map(Tree::Other),
    ];
    // Fewer ANDs of understood forms: most of them are empty.
    let and = 1 + 2 * other;
    leaf.prop_recursive(5, 40, 2, move |inner| {
        prop_oneof![
            other => inner.clone().prop_map(|p| Tree::Not(Box::new(p))),
            and => (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Tree::And(Box::new(a), Box::new(b))),
            3 => (inner.clone(), inner)
                .prop_map(|(a, b)| Tree::Or(Box::new(a), Box::new(b))),
        ]
    })
    .boxed()
}

/// How a comparison of a millisecond `t` with an instant `x` may be done.
#[derive(Debug, Clone, Copy)]
enum Semantics {
    Exact,
    FloorToMs,
    TruncToMs,
}

const SEMANTICS: [Semantics; 3] = [Semantics::Exact, Semantics::FloorToMs, Semantics::TruncToMs];

/// The truth values a predicate can take: a set of TRUE, FALSE, NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Truth {
    t: bool,
    f: bool,
    n: bool,
}

impl Truth {
    const ANY: Truth = Truth {
        t: true,
        f: true,
        n: true,
    };

    fn known(v: bool) -> Truth {
        Truth {
            t: v,
            f: !v,
            n: false,
        }
    }

    fn not(self) -> Truth {
        Truth {
            t: self.f,
            f: self.t,
            n: self.n,
        }
    }

    /// Kleene AND over every pair of possible values.
    fn and(self, o: Truth) -> Truth {
        Truth {
            t: self.t && o.t,
            f: self.f || o.f,
            n: (self.n && (o.t || o.n)) || (o.n && self.t),
        }
    }

    fn or(self, o: Truth) -> Truth {
        self.not().and(o.not()).not()
    }
}

fn cmp_holds(op: Operator, t_ms: i128, x: Lit, sem: Semantics) -> bool {
    let t = t_ms * NS_PER_MS;
    let x = match sem {
        Semantics::Exact => x.ns,
        Semantics::FloorToMs => x.ns.div_euclid(NS_PER_MS) * NS_PER_MS,
        Semantics::TruncToMs => x.ns / NS_PER_MS * NS_PER_MS,
    };
    match op {
        Operator::Lt => t < x,
        Operator::LtEq => t <= x,
        Operator::Gt => t > x,
        Operator::GtEq => t >= x,
        Operator::Eq => t == x,
        Operator::NotEq => t != x,
        _ => unreachable!("not generated"),
    }
}

impl Tree {
    fn expr(&self) -> Expr {
        match self {
            Tree::Cmp { op, x, flipped } if *flipped => {
                binary_expr(x.expr(), mirror(*op).expect("comparison"), ts())
            }
            Tree::Cmp { op, x, .. } => binary_expr(ts(), *op, x.expr()),
            Tree::Between {
                low,
                high,
                negated: false,
            } => ts().between(low.expr(), high.expr()),
            Tree::Between { low, high, .. } => ts().not_between(low.expr(), high.expr()),
            Tree::In { list, negated } => {
                ts().in_list(list.iter().map(|x| x.expr()).collect(), *negated)
            }
            Tree::NotEq(x) => ts().not_eq(x.expr()),
            Tree::Other(k) => match k % 5 {
                0 => col("log_name").eq(lit(format!("n{k}"))),
                1 => col("sequence_number").gt(lit(u64::from(*k))),
                2 => col("message").like(lit(format!("%k{k}%"))),
                3 => col("log_name").is_null(),
                // On `timestamp`, but a truncating cast: not understood.
                _ => cast(ts(), DataType::Date32).eq(lit(ScalarValue::Date32(Some(20_494)))),
            },
            Tree::Not(p) => Expr::Not(Box::new(p.expr())),
            Tree::And(a, b) => a.expr().and(b.expr()),
            Tree::Or(a, b) => a.expr().or(b.expr()),
        }
    }

    /// The same predicate in SQL; other-column leaves are distinct `LIKE`s,
    /// so no rewrite can relate two of them.
    fn sql(&self) -> String {
        let list = |l: &[Lit]| l.iter().map(|x| x.sql()).collect::<Vec<_>>().join(", ");
        let not = |negated: bool| if negated { "NOT " } else { "" };
        match self {
            Tree::Cmp {
                op,
                x,
                flipped: false,
            } => format!("timestamp {op} {}", x.sql()),
            Tree::Cmp {
                op,
                x,
                flipped: true,
            } => {
                format!("{} {} timestamp", x.sql(), mirror(*op).expect("comparison"))
            }
            Tree::Between { low, high, negated } => format!(
                "timestamp {}BETWEEN {} AND {}",
                not(*negated),
                low.sql(),
                high.sql()
            ),
            Tree::In { list: l, negated } => format!("timestamp {}IN ({})", not(*negated), list(l)),
            Tree::NotEq(x) => format!("timestamp <> {}", x.sql()),
            Tree::Other(k) => format!("message LIKE '%k{k}%'"),
            Tree::Not(p) => format!("NOT ({})", p.sql()),
            Tree::And(a, b) => format!("({}) AND ({})", a.sql(), b.sql()),
            Tree::Or(a, b) => format!("({}) OR ({})", a.sql(), b.sql()),
        }
    }

    fn truth(&self, t: i128, sem: Semantics) -> Truth {
        match self {
            Tree::Cmp { op, x, .. } => Truth::known(cmp_holds(*op, t, *x, sem)),
            Tree::Between { low, high, negated } => {
                let inside = cmp_holds(Operator::GtEq, t, *low, sem)
                    && cmp_holds(Operator::LtEq, t, *high, sem);
                Truth::known(inside != *negated)
            }
            Tree::In { list, negated } => {
                let any = list.iter().any(|x| cmp_holds(Operator::Eq, t, *x, sem));
                Truth::known(any != *negated)
            }
            Tree::NotEq(x) => Truth::known(cmp_holds(Operator::NotEq, t, *x, sem)),
            Tree::Other(_) => Truth::ANY,
            Tree::Not(p) => p.truth(t, sem).not(),
            Tree::And(a, b) => a.truth(t, sem).and(b.truth(t, sem)),
            Tree::Or(a, b) => a.truth(t, sem).or(b.truth(t, sem)),
        }
    }

    /// Whether the tree uses only forms the extraction understands exactly
    /// (no NOT, `<>`, NOT IN, other columns), over whole milliseconds.
    fn is_understood(&self) -> bool {
        match self {
            Tree::Cmp { x, .. } => x.whole_ms(),
            Tree::Between { low, high, .. } => low.whole_ms() && high.whole_ms(),
            Tree::In { list, negated } => !negated && list.iter().all(|x| x.whole_ms()),
            Tree::NotEq(_) | Tree::Other(_) | Tree::Not(_) => false,
            Tree::And(a, b) | Tree::Or(a, b) => a.is_understood() && b.is_understood(),
        }
    }

    /// An upper bound on the number of windows of this tree, however NOT is
    /// pushed down (a set of k windows has a complement of at most k + 1).
    fn max_windows(&self) -> usize {
        match self {
            Tree::Between { negated: true, .. } => 2,
            Tree::In { list, .. } => list.len() + 1,
            Tree::NotEq(_) => 2,
            Tree::Cmp { .. } | Tree::Between { .. } | Tree::Other(_) => 1,
            Tree::Not(p) => p.max_windows_negated(),
            Tree::And(a, b) | Tree::Or(a, b) => a.max_windows() + b.max_windows(),
        }
    }

    fn max_windows_negated(&self) -> usize {
        match self {
            Tree::Not(p) => p.max_windows(),
            Tree::And(a, b) | Tree::Or(a, b) => a.max_windows_negated() + b.max_windows_negated(),
            leaf => leaf.max_windows() + 1,
        }
    }

    fn lits(&self, out: &mut Vec<Lit>) {
        match self {
            Tree::Cmp { x, .. } | Tree::NotEq(x) => out.push(*x),
            Tree::Between { low, high, .. } => out.extend([*low, *high]),
            Tree::In { list, .. } => out.extend(list),
            Tree::Other(_) => {}
            Tree::Not(p) => p.lits(out),
            Tree::And(a, b) | Tree::Or(a, b) => {
                a.lits(out);
                b.lits(out);
            }
        }
    }
}

/// Whether some choice of semantics and of other-column values makes every
/// filter TRUE for a row at `t`.
fn may_match(trees: &[Tree], t: i128) -> bool {
    SEMANTICS.iter().any(|&sem| {
        trees
            .iter()
            .fold(Truth::known(true), |acc, p| acc.and(p.truth(t, sem)))
            .t
    })
}

fn matches_exactly(trees: &[Tree], t: i128) -> bool {
    trees
        .iter()
        .all(|p| p.truth(t, Semantics::Exact) == Truth::known(true))
}

/// The instants checked: each literal's millisecond and its neighbours, the
/// ends of the supported range, `NOW`, and `random` ones.
fn samples(trees: &[Tree], random: &[i64]) -> Vec<i128> {
    let mut lits = Vec::new();
    for p in trees {
        p.lits(&mut lits);
    }
    let mut out: Vec<i128> = lits
        .iter()
        .flat_map(|x| (-1..=2).map(move |d| x.floor_ms() + d))
        .chain([
            0,
            1,
            i128::from(MAX_TIMESTAMP_MS) - 1,
            i128::from(NOW) - 1,
            i128::from(NOW),
        ])
        .chain(random.iter().map(|&t| i128::from(t)))
        .filter(|t| (0..i128::from(MAX_TIMESTAMP_MS)).contains(t))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Check the properties of `trees` (the filters, combined with AND) against
/// the windows extracted from `filters` (the same predicate, as the test or
/// DataFusion built it). Exactness and `NoLowerBound` are checked only for
/// `filters` built by the test: DataFusion may rewrite an understood form
/// into one the extraction leaves unbounded, which is sound.
fn check(
    trees: &[Tree],
    filters: &[Expr],
    random: &[i64],
    built_here: bool,
) -> Result<(), TestCaseError> {
    let understood = built_here && trees.iter().all(Tree::is_understood);
    // Far below every literal (the smallest is about -9.2e21 ms).
    let far_below = may_match(trees, -(10i128.pow(24)));
    match extract_windows(filters, NOW) {
        Ok(w) => {
            let bound: usize = trees.iter().map(Tree::max_windows).sum();
            prop_assert!(
                w.ranges().len() <= bound.max(1),
                "{} windows > {bound}",
                w.ranges().len()
            );
            if understood {
                prop_assert!(!far_below, "unbounded below, yet {w:?}");
            }
            for t in samples(trees, random) {
                if w.upper_defaulted_to_now() && t >= i128::from(NOW) {
                    continue; // Cut at now, as documented.
                }
                let t64 = i64::try_from(t).expect("in range");
                if may_match(trees, t) {
                    prop_assert!(w.contains(t64), "t = {t} may match but is not in {w:?}");
                }
                if understood {
                    prop_assert_eq!(w.contains(t64), matches_exactly(trees, t), "t = {}", t);
                }
            }
        }
        Err(WindowError::OutOfRange { bound_ms }) => {
            prop_assert!(
                !(0..=i128::from(MAX_TIMESTAMP_MS)).contains(&bound_ms),
                "{bound_ms} is in range"
            );
        }
        Err(WindowError::NoLowerBound) => {
            if understood {
                prop_assert!(far_below, "bounded below, yet NoLowerBound");
            }
        }
    }
    Ok(())
}

/// One to three trees, and sometimes a plain lower (and upper) bound beside
/// them, so that more cases get windows rather than `NoLowerBound`.
fn filters_strategy(
    lits: BoxedStrategy<Lit>,
    understood_only: bool,
) -> impl Strategy<Value = Vec<Tree>> {
    let bound = |op| {
        lits.clone().prop_map(move |x| Tree::Cmp {
            op,
            x,
            flipped: false,
        })
    };
    (
        proptest::collection::vec(tree_strategy(lits.clone(), understood_only), 1..4),
        proptest::option::of(bound(Operator::GtEq)),
        proptest::option::of(bound(Operator::Lt)),
    )
        .prop_map(|(mut trees, lo, hi)| {
            trees.extend(lo);
            trees.extend(hi);
            trees
        })
}

fn random_instants() -> impl Strategy<Value = Vec<i64>> {
    proptest::collection::vec(
        prop_oneof![0..MAX_TIMESTAMP_MS, (-5_000i64..5_000).prop_map(|d| T0 + d)],
        16,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_trees_never_under_approximate(
        trees in filters_strategy(lit_strategy().boxed(), false),
        random in random_instants(),
    ) {
        let filters: Vec<Expr> = trees.iter().map(Tree::expr).collect();
        check(&trees, &filters, &random, true)?;
        // The same filters joined into one AND give the same answer.
        let joined = filters.iter().cloned().reduce(Expr::and).expect("one filter");
        prop_assert_eq!(extract_windows(&filters, NOW), extract_windows(&[joined], NOW));
    }

    #[test]
    fn random_trees_of_understood_forms_are_exact(
        trees in filters_strategy(whole_ms_lit_strategy().boxed(), true),
        random in random_instants(),
    ) {
        prop_assert!(trees.iter().all(Tree::is_understood));
        let filters: Vec<Expr> = trees.iter().map(Tree::expr).collect();
        check(&trees, &filters, &random, true)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_trees_planned_by_datafusion_are_sound(
        trees in filters_strategy(sql_lit_strategy().boxed(), false),
        random in random_instants(),
    ) {
        let sql = trees.iter().map(|p| format!("({})", p.sql())).collect::<Vec<_>>().join(" AND ");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let scans = runtime.block_on(super::sql::planned_scans(&sql));
        let scans = scans.map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
        // DataFusion may prove that no row matches and scan nothing.
        for filters in &scans {
            check(&trees, filters, &random, false)
                .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
        }
    }
}
