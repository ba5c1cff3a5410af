//! Log selection: which logs the filters of a `rapid7_logs` query can match.
//!
//! `log_name = 'x'`, `log_id = 'x'` (either operand order), `IN ('a', 'b')`,
//! `OR` of selections on the same column (union), and `AND` of selections
//! (intersection on the same column; constraints on names and on ids are both
//! kept, for the caller to resolve names to ids and intersect) pick the logs
//! to read. The column may be cast between string types (type coercion adds
//! `CAST(log_name AS Utf8View)`), literals may be `Utf8`, `Utf8View`,
//! `LargeUtf8` or dictionaries of those. Anything else (`!=`, `NOT IN`,
//! `LIKE`, an `OR` that mixes columns or involves other predicates) selects
//! every log.

use std::collections::BTreeSet;

use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, Operator, TryCast};

use super::{is_string_type, string_literal};
use crate::events::columns;
use crate::provider::expr::strip_alias;

/// Which logs a query reads, from [`extract_log_selection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSelection {
    /// No usable constraint: every log the API key can read.
    All,
    /// Only logs matching every given constraint. At least one of the two is
    /// `Some`, and neither set is empty.
    Only {
        /// The log's name must be one of these, when `Some`.
        names: Option<BTreeSet<String>>,
        /// The log's id must be one of these, when `Some`.
        ids: Option<BTreeSet<String>>,
    },
    /// The constraints contradict each other (`log_name = 'a' AND log_name =
    /// 'b'`): no log, no row.
    Nothing,
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

    /// Whether a log with this id and (optional) name is selected.
    pub fn admits(&self, log_id: &str, log_name: Option<&str>) -> bool {
        match self {
            LogSelection::All => true,
            LogSelection::Nothing => false,
            LogSelection::Only { names, ids } => {
                let name_ok = names
                    .as_ref()
                    .is_none_or(|set| log_name.is_some_and(|n| set.contains(n)));
                let id_ok = ids.as_ref().is_none_or(|set| set.contains(log_id));
                name_ok && id_ok
            }
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

/// Constraints on the two log columns; `None` is unconstrained, an empty set
/// a contradiction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sel {
    names: Option<BTreeSet<String>>,
    ids: Option<BTreeSet<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogColumn {
    Name,
    Id,
}

impl Sel {
    fn all() -> Self {
        Sel::default()
    }

    fn on(column: LogColumn, values: BTreeSet<String>) -> Self {
        match column {
            LogColumn::Name => Sel {
                names: Some(values),
                ids: None,
            },
            LogColumn::Id => Sel {
                names: None,
                ids: Some(values),
            },
        }
    }

    fn is_empty(&self) -> bool {
        self.names.as_ref().is_some_and(BTreeSet::is_empty)
            || self.ids.as_ref().is_some_and(BTreeSet::is_empty)
    }

    fn and(self, other: Sel) -> Sel {
        fn meet(
            a: Option<BTreeSet<String>>,
            b: Option<BTreeSet<String>>,
        ) -> Option<BTreeSet<String>> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
                (a, b) => a.or(b),
            }
        }
        Sel {
            names: meet(self.names, other.names),
            ids: meet(self.ids, other.ids),
        }
    }

    /// An over-approximation of the union: a column stays constrained only
    /// when both sides constrain it.
    fn or(self, other: Sel) -> Sel {
        if self.is_empty() {
            return other;
        }
        if other.is_empty() {
            return self;
        }
        fn join(
            a: Option<BTreeSet<String>>,
            b: Option<BTreeSet<String>>,
        ) -> Option<BTreeSet<String>> {
            match (a, b) {
                (Some(mut a), Some(b)) => {
                    a.extend(b);
                    Some(a)
                }
                _ => None,
            }
        }
        Sel {
            names: join(self.names, other.names),
            ids: join(self.ids, other.ids),
        }
    }

    fn into_selection(self) -> LogSelection {
        if self.is_empty() {
            LogSelection::Nothing
        } else if self.names.is_none() && self.ids.is_none() {
            LogSelection::All
        } else {
            LogSelection::Only {
                names: self.names,
                ids: self.ids,
            }
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
                pair.map_or_else(Sel::all, |(column, value)| {
                    Sel::on(column, BTreeSet::from([value]))
                })
            }
            _ => Sel::all(),
        },
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            let Some(column) = log_column(expr) else {
                return Sel::all();
            };
            let mut values = BTreeSet::new();
            for item in list {
                match string_literal(item) {
                    Some(v) => {
                        values.insert(v);
                    }
                    // A NULL item never makes `IN` true: it selects nothing.
                    None if is_null_literal(item) => {}
                    None => return Sel::all(),
                }
            }
            if values.is_empty() {
                return Sel::all();
            }
            Sel::on(column, values)
        }
        _ => Sel::all(),
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
