//! Properties: windows never under-approximate, and log selection never
//! leaves out a matching log.

use datafusion::logical_expr::{Operator, binary_expr};
use proptest::prelude::*;

use super::*;

/// The base instant of the property tests, a whole second.
const BASE: i64 = T0;
/// The instants the property tests sample: `[BASE + LO, BASE + HI)`.
const LO: i64 = -10;
const HI: i64 = 3010;

/// A constant: nanoseconds relative to `BASE`, and the unit of its literal.
#[derive(Debug, Clone, Copy)]
struct Lit {
    rel_ns: i64,
    unit: TimeUnit,
}

impl Lit {
    fn abs_ns(self) -> i128 {
        i128::from(BASE) * 1_000_000 + i128::from(self.rel_ns)
    }

    fn expr(self) -> Expr {
        let abs = self.abs_ns();
        let n = |d: i128| i64::try_from(abs / d).expect("fits");
        match self.unit {
            TimeUnit::Second => sec(n(1_000_000_000)),
            TimeUnit::Millisecond => ms(n(1_000_000)),
            TimeUnit::Microsecond => us(n(1_000)),
            TimeUnit::Nanosecond => ns(n(1)),
        }
    }

    fn whole_ms(self) -> bool {
        self.rel_ns % 1_000_000 == 0
    }
}

fn lit_strategy() -> impl Strategy<Value = Lit> {
    prop_oneof![
        (0i64..3000).prop_map(|m| Lit {
            rel_ns: m * 1_000_000,
            unit: TimeUnit::Millisecond
        }),
        (0i64..=3).prop_map(|s| Lit {
            rel_ns: s * 1_000_000_000,
            unit: TimeUnit::Second
        }),
        (0i64..3_000_000).prop_map(|u| Lit {
            rel_ns: u * 1_000,
            unit: TimeUnit::Microsecond
        }),
        (0i64..3_000_000_000).prop_map(|n| Lit {
            rel_ns: n,
            unit: TimeUnit::Nanosecond
        }),
        // Near whole milliseconds, where rounding matters.
        ((0i64..3000), prop_oneof![Just(-1i64), Just(1), Just(0)]).prop_map(|(m, d)| Lit {
            rel_ns: (m * 1_000_000 + d).max(0),
            unit: TimeUnit::Nanosecond
        }),
    ]
}

#[derive(Debug, Clone)]
enum Pred {
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
    /// A predicate on another column, true or false for this row.
    Opaque(bool),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
}

fn pred_strategy() -> impl Strategy<Value = Pred> {
    let op = prop_oneof![
        Just(Operator::Lt),
        Just(Operator::LtEq),
        Just(Operator::Gt),
        Just(Operator::GtEq),
        Just(Operator::Eq),
    ];
    let leaf = prop_oneof![
        4 => (op, lit_strategy(), any::<bool>()).prop_map(|(op, x, flipped)| Pred::Cmp { op, x, flipped }),
        2 => (lit_strategy(), lit_strategy(), any::<bool>())
            .prop_map(|(low, high, negated)| Pred::Between { low, high, negated }),
        1 => (proptest::collection::vec(lit_strategy(), 1..4), any::<bool>())
            .prop_map(|(list, negated)| Pred::In { list, negated }),
        1 => lit_strategy().prop_map(Pred::NotEq),
        1 => any::<bool>().prop_map(Pred::Opaque),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            1 => inner.clone().prop_map(|p| Pred::Not(Box::new(p))),
            3 => (inner.clone(), inner.clone()).prop_map(|(a, b)| Pred::And(Box::new(a), Box::new(b))),
            3 => (inner.clone(), inner).prop_map(|(a, b)| Pred::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// How DataFusion might compare a millisecond `t` with a finer constant `x`.
#[derive(Debug, Clone, Copy)]
enum Semantics {
    /// `t` widened to nanoseconds, compared exactly.
    Exact,
    /// `x` truncated to milliseconds first.
    Truncated,
}

fn cmp_holds(op: Operator, t_ms: i64, x: Lit, sem: Semantics) -> bool {
    let t = i128::from(t_ms) * 1_000_000;
    let x = match sem {
        Semantics::Exact => x.abs_ns(),
        Semantics::Truncated => x.abs_ns().div_euclid(1_000_000) * 1_000_000,
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

impl Pred {
    fn expr(&self) -> Expr {
        match self {
            Pred::Cmp {
                op,
                x,
                flipped: false,
            } => binary_expr(ts(), *op, x.expr()),
            Pred::Cmp {
                op,
                x,
                flipped: true,
            } => binary_expr(x.expr(), mirror(*op).expect("comparison"), ts()),
            Pred::Between {
                low,
                high,
                negated: false,
            } => ts().between(low.expr(), high.expr()),
            Pred::Between {
                low,
                high,
                negated: true,
            } => ts().not_between(low.expr(), high.expr()),
            Pred::In { list, negated } => {
                ts().in_list(list.iter().map(|x| x.expr()).collect(), *negated)
            }
            Pred::NotEq(x) => ts().not_eq(x.expr()),
            Pred::Opaque(_) => col("log_name").eq(lit("x")),
            Pred::Not(p) => Expr::Not(Box::new(p.expr())),
            Pred::And(a, b) => a.expr().and(b.expr()),
            Pred::Or(a, b) => a.expr().or(b.expr()),
        }
    }

    fn holds(&self, t: i64, sem: Semantics) -> bool {
        match self {
            Pred::Cmp { op, x, .. } => cmp_holds(*op, t, *x, sem),
            Pred::Between { low, high, negated } => {
                let inside = cmp_holds(Operator::GtEq, t, *low, sem)
                    && cmp_holds(Operator::LtEq, t, *high, sem);
                inside != *negated
            }
            Pred::In { list, negated } => {
                list.iter().any(|x| cmp_holds(Operator::Eq, t, *x, sem)) != *negated
            }
            Pred::NotEq(x) => cmp_holds(Operator::NotEq, t, *x, sem),
            Pred::Opaque(v) => *v,
            Pred::Not(p) => !p.holds(t, sem),
            Pred::And(a, b) => a.holds(t, sem) && b.holds(t, sem),
            Pred::Or(a, b) => a.holds(t, sem) || b.holds(t, sem),
        }
    }

    /// Built only from understood range forms over whole milliseconds: the
    /// extraction must then be exact.
    fn is_pure_range(&self) -> bool {
        match self {
            Pred::Cmp { x, .. } => x.whole_ms(),
            Pred::Between { low, high, .. } => low.whole_ms() && high.whole_ms(),
            Pred::In {
                list,
                negated: false,
            } => list.iter().all(|x| x.whole_ms()),
            Pred::In { negated: true, .. } | Pred::NotEq(_) | Pred::Opaque(_) | Pred::Not(_) => {
                false
            }
            Pred::And(a, b) | Pred::Or(a, b) => a.is_pure_range() && b.is_pure_range(),
        }
    }
}

fn guard() -> Vec<Expr> {
    vec![ts().gt_eq(ms(BASE + LO)), ts().lt(ms(BASE + HI))]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn windows_never_under_approximate(pred in pred_strategy()) {
        let mut filters = guard();
        filters.push(pred.expr());
        let w = extract_windows(&filters, NOW).expect("guarded: bounded");
        for r in w.ranges() {
            prop_assert!(BASE + LO <= r.start() && r.end() <= BASE + HI, "{r:?} outside the guard");
        }
        for t in BASE + LO..BASE + HI {
            for sem in [Semantics::Exact, Semantics::Truncated] {
                if pred.holds(t, sem) {
                    prop_assert!(w.contains(t), "t = BASE{:+} matches ({sem:?}) but is not in {w:?}", t - BASE);
                }
            }
        }
        if pred.is_pure_range() {
            for t in BASE + LO..BASE + HI {
                prop_assert_eq!(w.contains(t), pred.holds(t, Semantics::Exact), "t = BASE{:+}", t - BASE);
            }
        }
        // Normalised: sorted, non-empty, neither overlapping nor adjacent.
        for pair in w.ranges().windows(2) {
            prop_assert!(pair[0].end() < pair[1].start(), "{:?}", w);
        }
    }

    #[test]
    fn same_set_split_or_joined(a in pred_strategy(), b in pred_strategy()) {
        // Two filters are the AND of them.
        let mut split = guard();
        split.extend([a.expr(), b.expr()]);
        let mut joined = guard();
        joined.push(a.expr().and(b.expr()));
        prop_assert_eq!(extract_windows(&split, NOW), extract_windows(&joined, NOW));
    }

    #[test]
    fn absurd_literals_never_panic(
        v in any::<i64>(),
        unit in 0u8..4,
        op in prop_oneof![Just(Operator::Lt), Just(Operator::LtEq), Just(Operator::Gt), Just(Operator::GtEq), Just(Operator::Eq)],
        now in any::<i64>(),
    ) {
        let x = match unit {
            0 => sec(v),
            1 => ms(v),
            2 => us(v),
            _ => ns(v),
        };
        let filters = vec![binary_expr(ts(), op, x.clone()), ts().gt_eq(now_fn_minus(x))];
        match extract_windows(&filters, now) {
            Ok(w) => {
                for r in w.ranges() {
                    prop_assert!(r.start() >= MIN_TIMESTAMP_MS);
                    prop_assert!(r.end() <= MAX_TIMESTAMP_MS.max(now));
                }
            }
            Err(WindowError::NoLowerBound | WindowError::OutOfRange { .. }) => {}
        }
    }
}

/// `x - interval '1 month 1 day 1 ns'`, exercising calendar arithmetic on any value.
fn now_fn_minus(x: Expr) -> Expr {
    x - interval_mdn(1, 1, 1)
}

// ---------------------------------------------------------------------------
// Log selection property
// ---------------------------------------------------------------------------

const NAMES: [&str; 3] = ["fw", "dns", "vpn"];
const IDS: [&str; 3] = ["i0", "i1", "i2"];
const SETS: [&str; 3] = ["A", "B", "C"];

#[derive(Debug, Clone)]
enum LogPred {
    Name(Vec<usize>),
    Id(Vec<usize>),
    /// `array_has(logset, s)` for one, else `array_has_any` (`all`: false)
    /// or `array_has_all` (`all`: true).
    Sets(Vec<usize>, bool),
    NameNotEq(usize),
    Opaque(bool),
    And(Box<LogPred>, Box<LogPred>),
    Or(Box<LogPred>, Box<LogPred>),
}

fn log_pred_strategy() -> impl Strategy<Value = LogPred> {
    let idx = || proptest::collection::vec(0usize..3, 1..3);
    let leaf = prop_oneof![
        idx().prop_map(LogPred::Name),
        idx().prop_map(LogPred::Id),
        (idx(), any::<bool>()).prop_map(|(v, all)| LogPred::Sets(v, all)),
        (0usize..3).prop_map(LogPred::NameNotEq),
        any::<bool>().prop_map(LogPred::Opaque),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| LogPred::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| LogPred::Or(Box::new(a), Box::new(b))),
        ]
    })
}

impl LogPred {
    fn expr(&self) -> Expr {
        let in_or_eq = |column: &str, values: Vec<Expr>| match values.as_slice() {
            [one] => col(column).eq(one.clone()),
            _ => col(column).in_list(values, false),
        };
        match self {
            LogPred::Name(v) => in_or_eq("log_name", v.iter().map(|i| lit(NAMES[*i])).collect()),
            LogPred::Id(v) => in_or_eq("log_id", v.iter().map(|i| utf8_view(IDS[*i])).collect()),
            LogPred::Sets(v, all) => {
                use datafusion::functions_nested::expr_fn::{
                    array_has, array_has_all, array_has_any, make_array,
                };
                let list = make_array(v.iter().map(|i| lit(SETS[*i])).collect());
                match (v.as_slice(), all) {
                    ([one], _) => array_has(col("logset"), lit(SETS[*one])),
                    (_, false) => array_has_any(col("logset"), list),
                    (_, true) => array_has_all(col("logset"), list),
                }
            }
            LogPred::NameNotEq(i) => col("log_name").not_eq(lit(NAMES[*i])),
            LogPred::Opaque(_) => ts().gt(ms(T0)),
            LogPred::And(a, b) => a.expr().and(b.expr()),
            LogPred::Or(a, b) => a.expr().or(b.expr()),
        }
    }

    /// Whether the predicate is true for a row of this log (`NULL` counts as
    /// not true; AND / OR are monotone, so that is exact).
    fn holds(&self, id: usize, name: Option<usize>, sets: u8) -> bool {
        let in_set = |i: &usize| sets & (1 << i) != 0;
        match self {
            LogPred::Name(v) => name.is_some_and(|n| v.contains(&n)),
            LogPred::Id(v) => v.contains(&id),
            LogPred::Sets(v, false) => v.iter().any(in_set),
            LogPred::Sets(v, true) => v.iter().all(in_set),
            LogPred::NameNotEq(i) => name.is_some_and(|n| n != *i),
            LogPred::Opaque(b) => *b,
            LogPred::And(a, b) => a.holds(id, name, sets) && b.holds(id, name, sets),
            LogPred::Or(a, b) => a.holds(id, name, sets) || b.holds(id, name, sets),
        }
    }

    /// Whether every atom is one the selection understands, and how many.
    fn understood(&self) -> Option<usize> {
        match self {
            LogPred::Name(_) | LogPred::Id(_) | LogPred::Sets(..) => Some(1),
            LogPred::NameNotEq(_) | LogPred::Opaque(_) => None,
            LogPred::And(a, b) | LogPred::Or(a, b) => Some(a.understood()? + b.understood()?),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn log_selection_never_leaves_out_a_matching_log(preds in proptest::collection::vec(log_pred_strategy(), 0..3)) {
        let filters: Vec<Expr> = preds.iter().map(LogPred::expr).collect();
        let sel = extract_log_selection(&filters);
        // Few atoms, all understood: the selection is exact (no widening
        // past MAX_TERMS can happen with at most 6).
        let exact = preds
            .iter()
            .map(LogPred::understood)
            .sum::<Option<usize>>()
            .is_some_and(|n| n <= 6);
        for (id, id_str) in IDS.iter().enumerate() {
            for name in [None, Some(0), Some(1), Some(2)] {
                for sets in 0u8..8 {
                    let names: Vec<String> = (0..3)
                        .filter(|i| sets & (1 << i) != 0)
                        .map(|i| SETS[i].to_string())
                        .collect();
                    let holds = preds.iter().all(|p| p.holds(id, name, sets));
                    let admits = sel.admits(id_str, name.map(|n| NAMES[n]), &names);
                    prop_assert!(
                        admits || !holds,
                        "log ({}, {:?}, {:?}) matches but {:?} leaves it out", id_str, name, names, sel
                    );
                    prop_assert!(
                        !exact || admits == holds,
                        "log ({}, {:?}, {:?}): {:?} is not exact", id_str, name, names, sel
                    );
                }
            }
        }
        if let LogSelection::Only(terms) = &sel {
            prop_assert!(!terms.is_empty() && terms.len() <= MAX_TERMS);
            for t in terms {
                prop_assert!(t.names.is_some() || t.ids.is_some() || !t.sets.is_empty());
                prop_assert!(t.names.as_ref().is_none_or(|s| !s.is_empty()));
                prop_assert!(t.ids.as_ref().is_none_or(|s| !s.is_empty()));
                prop_assert!(t.sets.iter().all(|c| !c.is_empty()));
            }
        }
    }
}
