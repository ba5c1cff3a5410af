//! Log selection: which logs the filters of a `rapid7_logs` query can match.
//!
//! `log_name = 'x'`, `log_id = 'x'` (either operand order), `IN ('a', 'b')`,
//! and on the `logset` column `array_has(logset, 'S')` (also what
//! `'S' = ANY(logset)` plans to), `array_has_any(logset, make_array('S',
//! 'T'))` and `array_has_all(logset, …)` pick the logs to read; `AND` and `OR`
//! of them, across columns too, are kept as a union of constraints (each a
//! conjunction), for the caller to check against the log list. The column
//! may be cast between string types (type coercion adds `CAST(log_name AS
//! Utf8View)`, or a cast of `logset` to another list type), literals may be
//! `Utf8`, `Utf8View`, `LargeUtf8` or dictionaries of those, and the list of
//! `array_has_any` a `make_array` of them or a list literal (what the
//! simplifier folds it to). Anything else (`!=`, `NOT IN`, `LIKE`, `NOT`,
//! predicates on other columns under an `OR`) counts as true: the selection
//! is a superset of the logs the filters can match, never fewer (AND and OR
//! are monotone, and there is no NOT). Past [`MAX_TERMS`] constraints the
//! union is widened to one constraint that holds for each.

use std::collections::BTreeSet;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{InList, ScalarFunction};
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, Operator, TryCast};

use super::{is_string_type, string_literal};
use crate::events::columns;
use crate::provider::expr::strip_alias;

/// Most constraints a selection keeps before it is widened to one (an `AND`
/// of `OR`s multiplies them).
pub(crate) const MAX_TERMS: usize = 64;

/// Which logs a query reads, from [`extract_log_selection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSelection {
    /// No usable constraint: every log the API key can read.
    All,
    /// Only logs that meet at least one of these constraints (never empty;
    /// none of them unconstrained or contradictory).
    Only(Vec<LogConstraint>),
    /// The constraints contradict each other (`log_name = 'a' AND log_name =
    /// 'b'`): no log, no row.
    Nothing,
}

/// One conjunction of constraints on a log: its name, its id and its sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConstraint {
    /// The log's name must be one of these, when `Some`.
    pub names: Option<BTreeSet<String>>,
    /// The log's id must be one of these, when `Some`.
    pub ids: Option<BTreeSet<String>>,
    /// For each of these, the log must be in at least one of its sets (by
    /// the name the `logset` column shows). Empty: no constraint.
    pub sets: Vec<BTreeSet<String>>,
}

impl LogConstraint {
    /// Whether a log with this id, (optional) name and sets meets it.
    pub fn admits(&self, log_id: &str, log_name: Option<&str>, sets: &[String]) -> bool {
        let name_ok = self
            .names
            .as_ref()
            .is_none_or(|set| log_name.is_some_and(|n| set.contains(n)));
        let id_ok = self.ids.as_ref().is_none_or(|set| set.contains(log_id));
        let sets_ok = self
            .sets
            .iter()
            .all(|any| sets.iter().any(|s| any.contains(s)));
        name_ok && id_ok && sets_ok
    }

    fn is_all(&self) -> bool {
        self.names.is_none() && self.ids.is_none() && self.sets.is_empty()
    }

    fn is_contradiction(&self) -> bool {
        self.names.as_ref().is_some_and(BTreeSet::is_empty)
            || self.ids.as_ref().is_some_and(BTreeSet::is_empty)
            || self.sets.iter().any(BTreeSet::is_empty)
    }

    /// The union of `self` and `other` as one constraint, where it is one:
    /// the same but for the values of one column (`log_name IN ('a', 'b')`
    /// for `log_name = 'a' OR log_name = 'b'`).
    fn union(&self, other: &LogConstraint) -> Option<LogConstraint> {
        let join = |a: &Option<BTreeSet<String>>, b: &Option<BTreeSet<String>>| match (a, b) {
            (Some(a), Some(b)) => Some(a.union(b).cloned().collect::<BTreeSet<_>>()),
            _ => None,
        };
        let same_names = self.names == other.names;
        let same_ids = self.ids == other.ids;
        let same_sets = self.sets == other.sets;
        match (same_names, same_ids, same_sets) {
            (true, true, true) => Some(self.clone()),
            (false, true, true) => Some(LogConstraint {
                names: Some(join(&self.names, &other.names)?),
                ..self.clone()
            }),
            (true, false, true) => Some(LogConstraint {
                ids: Some(join(&self.ids, &other.ids)?),
                ..self.clone()
            }),
            (true, true, false) => match (self.sets.as_slice(), other.sets.as_slice()) {
                ([a], [b]) => Some(LogConstraint {
                    sets: vec![a.union(b).cloned().collect()],
                    ..self.clone()
                }),
                _ => None,
            },
            _ => None,
        }
    }

    fn and(&self, other: &LogConstraint) -> LogConstraint {
        fn meet(
            a: &Option<BTreeSet<String>>,
            b: &Option<BTreeSet<String>>,
        ) -> Option<BTreeSet<String>> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.intersection(b).cloned().collect()),
                (a, b) => a.clone().or_else(|| b.clone()),
            }
        }
        let mut sets = self.sets.clone();
        for clause in &other.sets {
            if !sets.contains(clause) {
                sets.push(clause.clone());
            }
        }
        sets.sort();
        LogConstraint {
            names: meet(&self.names, &other.names),
            ids: meet(&self.ids, &other.ids),
            sets,
        }
    }
}

impl LogSelection {
    /// Whether no constraint applies.
    pub fn is_all(&self) -> bool {
        matches!(self, LogSelection::All)
    }

    /// Whether no log can match.
    pub fn is_nothing(&self) -> bool {
        matches!(self, LogSelection::Nothing)
    }

    /// Whether a log with this id, (optional) name and sets (the names its
    /// `logset` column shows) is selected.
    pub fn admits(&self, log_id: &str, log_name: Option<&str>, sets: &[String]) -> bool {
        match self {
            LogSelection::All => true,
            LogSelection::Nothing => false,
            LogSelection::Only(any) => any.iter().any(|c| c.admits(log_id, log_name, sets)),
        }
    }

    /// The constraints of an [`LogSelection::Only`] (none otherwise).
    pub fn constraints(&self) -> &[LogConstraint] {
        match self {
            LogSelection::Only(any) => any,
            _ => &[],
        }
    }
}

/// The logs that the pushed-down `filters` can match (see the module docs).
///
/// `filters` are combined with `AND`. Never leaves out a log the filters can
/// match: what is not understood selects [`LogSelection::All`].
pub fn extract_log_selection(filters: &[Expr]) -> LogSelection {
    filters
        .iter()
        .fold(Sel::all(), |acc, filter| acc.and(log_sel(filter)))
        .into_selection()
}

// ---------------------------------------------------------------------------
// Constraints on the log columns
// ---------------------------------------------------------------------------

/// A union of constraints: empty is a contradiction; one unconstrained
/// term is every log. `approx` when the union may hold more logs than the
/// filters match (a predicate not understood, or a union widened).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sel(Vec<LogConstraint>, bool);

/// Whether `filters` (combined with `AND`) select exactly the logs whose
/// rows they keep: each is made only of the log predicates the module docs
/// list, and their selection was not widened. A count that applies no
/// filter of its own may then rely on the selection alone.
pub(crate) fn selects_exactly(filters: &[&Expr]) -> bool {
    let sel = filters
        .iter()
        .fold(Sel::all(), |acc, filter| acc.and(log_sel(filter)));
    !sel.1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogColumn {
    Name,
    Id,
}

impl Sel {
    fn all() -> Self {
        Sel(vec![LogConstraint::default()], false)
    }

    /// A predicate not understood: every log, as a superset.
    fn unknown() -> Self {
        Sel(vec![LogConstraint::default()], true)
    }

    fn of(term: LogConstraint) -> Self {
        match term.is_contradiction() {
            true => Sel(Vec::new(), false),
            false => Sel(vec![term], false),
        }
    }

    fn on(column: LogColumn, values: BTreeSet<String>) -> Self {
        Sel::of(match column {
            LogColumn::Name => LogConstraint {
                names: Some(values),
                ..Default::default()
            },
            LogColumn::Id => LogConstraint {
                ids: Some(values),
                ..Default::default()
            },
        })
    }

    /// The log is in at least one set of each of `clauses`.
    fn in_sets(clauses: Vec<BTreeSet<String>>) -> Self {
        let mut clauses = clauses;
        clauses.sort();
        clauses.dedup();
        Sel::of(LogConstraint {
            sets: clauses,
            ..Default::default()
        })
    }

    fn is_all(&self) -> bool {
        self.0.iter().any(LogConstraint::is_all)
    }

    fn and(self, other: Sel) -> Sel {
        let approx = self.1 || other.1;
        if self.is_all() {
            return Sel(other.0, approx);
        }
        if other.is_all() {
            return Sel(self.0, approx);
        }
        let mut terms = Vec::new();
        for a in &self.0 {
            for b in &other.0 {
                let term = a.and(b);
                if !term.is_contradiction() && !terms.contains(&term) {
                    terms.push(term);
                }
            }
        }
        Sel(terms, approx).bounded()
    }

    fn or(self, other: Sel) -> Sel {
        let approx = self.1 || other.1;
        if self.is_all() || other.is_all() {
            return Sel(vec![LogConstraint::default()], approx);
        }
        let mut terms = self.0;
        for term in other.0 {
            match terms
                .iter_mut()
                .find_map(|t| t.union(&term).map(|u| (t, u)))
            {
                Some((t, u)) => *t = u,
                None => terms.push(term),
            }
        }
        Sel(terms, approx).bounded()
    }

    /// At most [`MAX_TERMS`] terms: past it, one term that each term
    /// implies (a column stays constrained only where every term constrains
    /// it, to the union of their values; the sets keep one clause, the union
    /// of one clause of each term, when every term has one).
    fn bounded(self) -> Sel {
        if self.0.len() <= MAX_TERMS {
            return self;
        }
        fn join<'a>(
            mut values: impl Iterator<Item = &'a Option<BTreeSet<String>>>,
        ) -> Option<BTreeSet<String>> {
            values.try_fold(BTreeSet::new(), |mut acc, v| {
                acc.extend(v.as_ref()?.iter().cloned());
                Some(acc)
            })
        }
        let clause = self.0.iter().try_fold(BTreeSet::new(), |mut acc, t| {
            acc.extend(t.sets.first()?.iter().cloned());
            Some(acc)
        });
        let term = LogConstraint {
            names: join(self.0.iter().map(|t| &t.names)),
            ids: join(self.0.iter().map(|t| &t.ids)),
            sets: clause.into_iter().collect(),
        };
        Sel(vec![term], true)
    }

    fn into_selection(self) -> LogSelection {
        if self.0.is_empty() {
            LogSelection::Nothing
        } else if self.is_all() {
            LogSelection::All
        } else {
            LogSelection::Only(self.0)
        }
    }
}

fn log_sel(expr: &Expr) -> Sel {
    match expr {
        Expr::Alias(alias) => log_sel(&alias.expr),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => log_sel(left).and(log_sel(right)),
            Operator::Or => log_sel(left).or(log_sel(right)),
            Operator::Eq | Operator::IsNotDistinctFrom => {
                let pair = match (log_column(left), log_column(right)) {
                    (Some(column), None) => string_literal(right).map(|v| (column, v)),
                    (None, Some(column)) => string_literal(left).map(|v| (column, v)),
                    _ => None,
                };
                pair.map_or_else(Sel::unknown, |(column, value)| {
                    Sel::on(column, BTreeSet::from([value]))
                })
            }
            _ => Sel::unknown(),
        },
        Expr::ScalarFunction(f) => logset_sel(f).unwrap_or_else(Sel::unknown),
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let Some(column) = log_column(expr) else {
                return Sel::unknown();
            };
            let mut values = BTreeSet::new();
            for item in list {
                match string_literal(item) {
                    Some(v) => {
                        values.insert(v);
                    }
                    // A NULL item never makes `IN` true: it selects nothing.
                    None if is_null_literal(item) => {}
                    None => return Sel::unknown(),
                }
            }
            if values.is_empty() {
                return Sel::unknown();
            }
            Sel::on(column, values)
        }
        _ => Sel::unknown(),
    }
}

fn is_null_literal(expr: &Expr) -> bool {
    matches!(strip_alias(expr), Expr::Literal(value, _) if value.is_null())
}

/// `log_name` or `log_id`, possibly cast between string types.
fn log_column(expr: &Expr) -> Option<LogColumn> {
    match expr {
        Expr::Column(c) if c.name == columns::LOG_NAME => Some(LogColumn::Name),
        Expr::Column(c) if c.name == columns::LOG_ID => Some(LogColumn::Id),
        Expr::Alias(alias) => log_column(&alias.expr),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field })
            if is_string_type(field.data_type()) =>
        {
            log_column(expr)
        }
        _ => None,
    }
}

/// `array_has(logset, 'S')`, `array_has_any(logset, ['S', …])` or
/// `array_has_all(logset, ['S', …])` as a selection; `None` for anything
/// else (an empty or `NULL` list too: never fewer logs).
fn logset_sel(f: &ScalarFunction) -> Option<Sel> {
    let [haystack, needle] = f.args.as_slice() else {
        return None;
    };
    if !is_logset_column(haystack) {
        return None;
    }
    match f.func.name() {
        "array_has" => {
            let value = string_literal(needle)?;
            Some(Sel::in_sets(vec![BTreeSet::from([value])]))
        }
        "array_has_any" => {
            let values = string_list(needle)?;
            Some(Sel::in_sets(vec![values]))
        }
        "array_has_all" => {
            let values = string_list(needle)?;
            Some(Sel::in_sets(
                values.into_iter().map(|v| BTreeSet::from([v])).collect(),
            ))
        }
        _ => None,
    }
}

/// `logset`, possibly cast to another list type.
fn is_logset_column(expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => c.name == columns::LOGSET,
        Expr::Alias(alias) => is_logset_column(&alias.expr),
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field })
            if field.data_type().is_nested() =>
        {
            is_logset_column(expr)
        }
        _ => false,
    }
}

/// The non-null strings of a list literal or a `make_array` of string
/// literals (`NULL` items match no set name); `None` for anything else, or
/// a list of no string.
fn string_list(expr: &Expr) -> Option<BTreeSet<String>> {
    let values: BTreeSet<String> = match strip_alias(expr) {
        Expr::ScalarFunction(f) if f.func.name() == "make_array" => {
            let mut values = BTreeSet::new();
            for arg in &f.args {
                match string_literal(arg) {
                    Some(v) => {
                        values.insert(v);
                    }
                    None if is_null_literal(arg) => {}
                    None => return None,
                }
            }
            values
        }
        Expr::Cast(Cast { expr, .. }) | Expr::TryCast(TryCast { expr, .. }) => {
            return string_list(expr);
        }
        Expr::Literal(value, _) => list_strings(value)?,
        _ => return None,
    };
    (!values.is_empty()).then_some(values)
}

/// The non-null strings of a list scalar of strings.
fn list_strings(value: &ScalarValue) -> Option<BTreeSet<String>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let items = match value {
        ScalarValue::List(list) if !list.is_null(0) => list.value(0),
        ScalarValue::LargeList(list) if !list.is_null(0) => list.value(0),
        ScalarValue::FixedSizeList(list) if !list.is_null(0) => list.value(0),
        _ => return None,
    };
    if !is_string_type(items.data_type()) {
        return None;
    }
    let items = datafusion::arrow::compute::cast(&items, &DataType::Utf8).ok()?;
    let items = items.as_string::<i32>();
    Some(items.iter().flatten().map(str::to_string).collect())
}
