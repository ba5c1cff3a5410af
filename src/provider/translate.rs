//! SQL predicates on `message` → a LEQL `where(...)` Rapid7 can apply
//! itself, as a guaranteed superset: every event the SQL predicate keeps,
//! the LEQL keeps too. DataFusion still applies the SQL filter to what comes
//! back, so the result is exact whenever the superset holds.
//!
//! The rules, each a superset by construction:
//!
//! - `message LIKE 'p'`: the literal fragments of `p` between wildcards (`%`
//!   and `_`, with `\` escaping the next character as in Arrow's `LIKE`) must
//!   all occur in a matching message, so `/fragment/ AND …` keeps every match.
//!   `_` itself is never sent: it only separates fragments.
//! - `message ILIKE 'p'`: the same with `/fragment/i`. Rapid7's `i` folds
//!   ASCII case only, so a fragment with a non-ASCII letter is left out (what
//!   is left out only widens the superset).
//! - `strpos(message, 'L') > 0` (or `>= 1`, `<> 0`), `contains(message, 'L')`
//!   and `starts_with(message, 'L')`: `/L/`.
//! - `A AND B`: both, or whichever side can be pushed (the other stays for
//!   DataFusion). `A OR B`: only when both sides can, as `(A OR B)`.
//! - Never: `NOT` (the complement of a superset is not a superset),
//!   negated `LIKE`, keyword search (Rapid7 matches keywords as whole,
//!   case-sensitive tokens: `fail` would miss `failed`), fragments with
//!   control characters, a custom `ESCAPE` character.

use datafusion::common::ScalarValue;
use datafusion::functions::string::contains::ContainsFunc;
use datafusion::functions::string::starts_with::StartsWithFunc;
use datafusion::functions::unicode::strpos::StrposFunc;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, Like, Operator};

use super::expr::{string_literal, strip_alias};
use crate::events::columns;
use crate::leql::{Filter, MAX_PUSHED_STATEMENT_BYTES, pushable_literal};

/// The LEQL filter the conjunction `filters` implies, if any part of it
/// implies one.
pub(crate) fn message_filter(filters: &[Expr]) -> Option<Filter> {
    Filter::all(filters.iter().filter_map(implied))
}

/// The canonical LEQL filter to push for `filters` ([`message_filter`]'s
/// text), unless its `where(…)` would be longer than
/// [`MAX_PUSHED_STATEMENT_BYTES`]: then `Err` with that length, and nothing
/// is pushed.
pub(crate) fn pushed_filter(filters: &[Expr]) -> Result<Option<String>, usize> {
    let Some(filter) = message_filter(filters) else {
        return Ok(None);
    };
    let text = filter.to_string();
    let bytes = crate::leql::events_statement(Some(&text)).len();
    if bytes > MAX_PUSHED_STATEMENT_BYTES {
        return Err(bytes);
    }
    Ok(Some(text))
}

/// The filters of `filters` on `message` that Rapid7 is not asked to apply
/// (all of them when filter pushdown is off), as SQL text for a message.
pub(crate) fn not_pushed(filters: &[Expr], pushdown: bool) -> Vec<String> {
    filters
        .iter()
        .filter(|f| {
            f.column_refs().iter().any(|c| c.name == columns::MESSAGE)
                && (!pushdown || implied(f).is_none())
        })
        .map(|f| {
            // As SQL (`message NOT LIKE '%x%'`); the plan's own text when
            // the unparser cannot.
            let text = datafusion::sql::unparser::expr_to_sql(f)
                .map(|sql| sql.to_string())
                .unwrap_or_else(|_| f.human_display().to_string());
            match text.char_indices().nth(120) {
                Some((at, _)) => format!("{}…", &text[..at]),
                None => text,
            }
        })
        .collect()
}

/// Deepest nesting of `AND` in `OR` in `AND` … that is translated. A deeper
/// part is not pushed (inside an `AND` that only widens the superset; an `OR`
/// with such a part is not pushed at all). SQL nests operators only with
/// parentheses, and a run of one operator (`a OR b OR …`, however long) is
/// one level: no recursion here goes deeper than this, whatever the input.
const MAX_NESTING: usize = 16;

/// The filter `e` implies (a superset of its matches), if any.
pub(crate) fn implied(e: &Expr) -> Option<Filter> {
    implied_at(e, 0)
}

fn implied_at(e: &Expr, depth: usize) -> Option<Filter> {
    let e = strip_alias(e);
    match e {
        Expr::BinaryExpr(BinaryExpr {
            op: op @ (Operator::And | Operator::Or),
            ..
        }) => {
            if depth >= MAX_NESTING {
                return None;
            }
            // The whole run of this operator at once: one sort of all its
            // terms, not one per term.
            let parts = operands(e, *op).into_iter();
            if *op == Operator::And {
                Filter::all(parts.filter_map(|p| implied_at(p, depth + 1)))
            } else {
                Filter::any(
                    parts
                        .map(|p| implied_at(p, depth + 1))
                        .collect::<Option<Vec<_>>>()?,
                )
            }
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => strpos_positive(left, *op, right),
        Expr::Like(like) => like_filter(like),
        Expr::ScalarFunction(ScalarFunction { func, args }) => {
            let inner = func.inner();
            if !(inner.is::<ContainsFunc>() || inner.is::<StartsWithFunc>()) {
                return None;
            }
            let [haystack, needle] = args.as_slice() else {
                return None;
            };
            is_message(haystack).then_some(())?;
            contains(string_literal(needle)?, false)
        }
        _ => None,
    }
}

/// The operands of the run of `op` at `e` (`a OR b OR c` → `a, b, c`, in
/// order, through aliases), walked with a stack: a left-deep chain of
/// thousands of terms is no deeper a recursion than one term.
fn operands(e: &Expr, op: Operator) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut todo = vec![e];
    while let Some(next) = todo.pop() {
        match strip_alias(next) {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: inner,
                right,
            }) if *inner == op => {
                todo.push(right);
                todo.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// `strpos(message, 'L') > 0`, `>= 1`, `<> 0`, or the mirror image.
fn strpos_positive(left: &Expr, op: Operator, right: &Expr) -> Option<Filter> {
    let (call, op, bound) = match (strpos_call(left), strpos_call(right)) {
        (Some(needle), None) => (needle, op, right),
        (None, Some(needle)) => (needle, op.swap()?, left),
        _ => return None,
    };
    let bound = int_literal(bound)?;
    let positive = match op {
        Operator::Gt => bound >= 0,
        Operator::GtEq => bound >= 1,
        Operator::NotEq => bound == 0,
        _ => false,
    };
    positive.then(|| contains(call, false)).flatten()
}

/// The needle of `strpos(message, 'needle')`.
fn strpos_call(e: &Expr) -> Option<&str> {
    let Expr::ScalarFunction(ScalarFunction { func, args }) = strip_alias(e) else {
        return None;
    };
    func.inner().is::<StrposFunc>().then_some(())?;
    let [haystack, needle] = args.as_slice() else {
        return None;
    };
    is_message(haystack).then_some(())?;
    string_literal(needle)
}

fn like_filter(like: &Like) -> Option<Filter> {
    let Like {
        negated,
        expr,
        pattern,
        escape_char,
        case_insensitive,
    } = like;
    if *negated || !is_message(expr) || escape_char.is_some_and(|c| c != '\\') {
        return None;
    }
    let pattern = string_literal(pattern)?;
    Filter::all(
        like_fragments(pattern)
            .into_iter()
            .filter_map(|f| contains(&f, *case_insensitive)),
    )
}

/// The literal runs of a `LIKE` pattern between its wildcards, `\` escaping
/// the next character (a trailing `\` is itself), as Arrow's `LIKE` reads it.
pub(crate) fn like_fragments(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.push(chars.next().unwrap_or('\\')),
            '%' | '_' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `/literal/` (`/literal/i`), unless the literal cannot be sent safely.
///
/// Case-insensitively, Arrow's `ILIKE` folds Unicode case (on batches with
/// any non-ASCII text), where `k` also matches U+212A KELVIN SIGN and `s`
/// U+017F LONG S; Rapid7's `i` folds ASCII only. So the literal is cut at
/// those letters and the pieces between them are required instead (every
/// matching message holds each piece: still a superset).
fn contains(literal: &str, case_insensitive: bool) -> Option<Filter> {
    if !case_insensitive {
        return pushable_literal(literal).then(|| Filter::contains(literal, false));
    }
    if !literal.is_ascii() {
        // Rapid7's `i` folds ASCII case only: `/é/i` would miss `É`.
        return None;
    }
    Filter::all(
        literal
            .split(['k', 'K', 's', 'S'])
            .filter(|piece| !piece.is_empty() && pushable_literal(piece))
            .map(|piece| Filter::contains(piece, true)),
    )
}

/// `message`, or casts of it to other string types.
fn is_message(mut e: &Expr) -> bool {
    loop {
        match strip_alias(e) {
            Expr::Column(c) => return c.name == columns::MESSAGE,
            Expr::Cast(Cast { expr, field }) if field.data_type().is_string() => e = expr,
            _ => return false,
        }
    }
}

/// An integer literal (never a float truncated: `<> 0.5` is no `<> 0`).
fn int_literal(e: &Expr) -> Option<i64> {
    match strip_alias(e) {
        Expr::Literal(v, _) if v.data_type().is_integer() => {
            match v.cast_to(&datafusion::arrow::datatypes::DataType::Int64) {
                Ok(ScalarValue::Int64(Some(n))) => Some(n),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
