//! Small readings of logical expressions shared by the pushdowns (window
//! extraction, message translation, count groups and rules).

use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;

/// `e` without its aliases.
pub(crate) fn strip_alias(mut e: &Expr) -> &Expr {
    while let Expr::Alias(a) = e {
        e = &a.expr;
    }
    e
}

/// The text of a non-null string literal (`Utf8`, `Utf8View`, `LargeUtf8`),
/// through aliases; casts are not looked through.
pub(crate) fn string_literal(e: &Expr) -> Option<&str> {
    match strip_alias(e) {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    #[test]
    fn aliases_are_looked_through_and_casts_are_not() {
        let aliased = lit("x").alias("a").alias("b");
        assert_eq!(strip_alias(&aliased), &lit("x"));
        assert_eq!(string_literal(&aliased), Some("x"));
        assert_eq!(string_literal(&lit(ScalarValue::Utf8(None))), None);
        assert_eq!(string_literal(&col("message")), None);
        let cast = datafusion::logical_expr::cast(
            lit("x"),
            datafusion::arrow::datatypes::DataType::Utf8View,
        );
        assert_eq!(string_literal(&cast), None);
    }
}
