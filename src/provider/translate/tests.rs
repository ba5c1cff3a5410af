//! Table-driven cases of every rule, and a property test: whatever SQL
//! `LIKE` / `ILIKE` keeps, the emitted LEQL (as the simulator evaluates it)
//! keeps too.

use datafusion::logical_expr::{col, lit};
use datafusion::prelude::{Expr, contains as contains_fn, starts_with, strpos};

use super::*;

fn m() -> Expr {
    col("message")
}

fn text(e: &Expr) -> Option<String> {
    implied(e).map(|f| f.to_string())
}

#[test]
fn what_is_translated() {
    let cases: Vec<(Expr, Option<&str>)> = vec![
        (m().like(lit("%10.1.2.3%")), Some(r"/10\.1\.2\.3/")),
        (
            m().like(lit("Failed%logon%")),
            Some(r"/Failed/ AND /logon/"),
        ),
        (m().ilike(lit("%failed logon%")), Some(r"/failed\ logon/i")),
        (m().like(lit("a_b%c")), Some("/a/ AND /b/ AND /c/")),
        (m().like(lit(r"100\%%")), Some(r"/100\%/")),
        (m().like(lit(r"%a\_b%")), Some(r"/a\_b/")),
        (m().like(lit("%")), None),
        (m().like(lit("_")), None),
        (m().not_like(lit("%x%")), None),
        (m().ilike(lit("%É%")), None),
        (m().ilike(lit("%abc%é%")), Some("/abc/i")),
        (m().like(lit("%é%")), Some("/é/")),
        (m().like(lit("%a\nb%")), None),
        (strpos(m(), lit("src=")).gt(lit(0i64)), Some(r"/src\=/")),
        (strpos(m(), lit("src=")).gt_eq(lit(1i64)), Some(r"/src\=/")),
        (lit(0i64).lt(strpos(m(), lit("x"))), Some("/x/")),
        (strpos(m(), lit("x")).not_eq(lit(0i64)), Some("/x/")),
        (strpos(m(), lit("x")).gt_eq(lit(0i64)), None),
        (strpos(m(), lit("x")).eq(lit(0i64)), None),
        (contains_fn(m(), lit("deny")), Some("/deny/")),
        (starts_with(m(), lit("<13>")), Some(r"/\<13\>/")),
        (
            m().like(lit("%a%")).and(col("log_name").eq(lit("x"))),
            Some("/a/"),
        ),
        (
            m().like(lit("%b%")).or(m().like(lit("%a%"))),
            Some("/a/ OR /b/"),
        ),
        (m().like(lit("%a%")).or(col("log_name").eq(lit("x"))), None),
        (Expr::Not(Box::new(m().like(lit("%a%")))), None),
        (col("log_name").like(lit("%a%")), None),
        (
            m().like(lit("%a%"))
                .and(m().like(lit("%b%")).or(m().ilike(lit("%c%")))),
            Some("/a/ AND (/b/ OR /c/i)"),
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(text(&expr).as_deref(), want, "{expr}");
    }
    // Filters are a conjunction; the statement is canonical.
    let f = message_filter(&[
        m().like(lit("%b%")),
        col("log_name").eq(lit("x")),
        m().like(lit("%a%b%")),
    ])
    .unwrap();
    assert_eq!(f.statement(), "where(/a/ AND /b/)");
    assert_eq!(message_filter(&[col("log_name").eq(lit("x"))]), None);
}

#[test]
fn like_patterns_read_like_arrow() {
    assert_eq!(like_fragments(r"a\%b%c"), vec!["a%b", "c"]);
    assert_eq!(like_fragments(r"ab\"), vec![r"ab\"]);
    assert_eq!(like_fragments(r"\\%"), vec![r"\"]);
    assert_eq!(like_fragments("%%__"), Vec::<String>::new());
}

#[cfg(feature = "mock")]
mod superset {
    use datafusion::arrow::array::{Scalar, StringArray};
    use datafusion::arrow::compute::kernels::comparison::{ilike, like};
    use proptest::prelude::*;

    use super::*;
    use crate::mock::leql;

    /// Characters that make LIKE and regexes interesting.
    fn alphabet() -> impl Strategy<Value = char> {
        prop_oneof![prop::sample::select(vec![
            'a', 'b', 'A', 'B', '1', ' ', '.', '/', '\\', '(', ')', '=', '%', '_', '*', '+', '?',
            '[', '|', '^', '$', '"', '\'', 'é', 'É', 'k', 'K', 's', 'S', '\u{212A}', '\u{017F}'
        ]),]
    }

    fn text(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
        prop::collection::vec(alphabet(), len).prop_map(|v| v.into_iter().collect())
    }

    fn sql_keeps(message: &str, pattern: &str, insensitive: bool) -> bool {
        let messages = StringArray::from(vec![message]);
        let pattern = Scalar::new(StringArray::from(vec![pattern]));
        let kept = if insensitive {
            ilike(&messages, &pattern)
        } else {
            like(&messages, &pattern)
        }
        .expect("a LIKE of strings");
        kept.value(0)
    }

    /// Arrow's ILIKE folds Unicode case on batches with non-ASCII text:
    /// `k` matches U+212A KELVIN SIGN and `s` U+017F LONG S. The pushed
    /// filter leaves those letters out, so it still keeps such messages.
    #[test]
    fn ilike_keeps_kelvin_and_long_s() {
        for (message, pattern) in [
            ("status=o\u{212A}", "%status=ok%"),
            ("\u{017F}tatus=ok", "%STATUS%"),
            ("ask", "%ASK%"),
        ] {
            assert!(sql_keeps(message, pattern, true), "{message:?} {pattern:?}");
            let f = implied(&m().ilike(lit(pattern))).expect("pushed");
            let statement = leql::parse(&f.statement()).expect("parses");
            assert!(
                statement.matches(message) && f.matches(message),
                "{message:?} matches {pattern:?} but not {}",
                f.statement()
            );
        }
        // Only k and s are cut: the rest is still required.
        let f = implied(&m().ilike(lit("%status=ok%"))).expect("pushed");
        assert_eq!(f.to_string(), r"/\=o/i AND /tatu/i");
        assert_eq!(implied(&m().ilike(lit("%ks%"))), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn whatever_like_keeps_the_leql_keeps(
            message in text(0..24),
            pattern in text(0..10),
            insensitive in any::<bool>(),
            // Half the patterns are taken from the message, so many match.
            from_message in any::<bool>(),
            cut in (0usize..24, 0usize..24),
        ) {
            let pattern = if from_message && !message.is_empty() {
                let chars: Vec<char> = message.chars().collect();
                let (a, b) = (cut.0 % chars.len(), cut.1 % chars.len());
                let (a, b) = (a.min(b), a.max(b));
                format!("%{}%", chars[a..=b].iter().collect::<String>())
            } else {
                pattern
            };
            let expr = if insensitive { m().ilike(lit(pattern.clone())) } else { m().like(lit(pattern.clone())) };
            if sql_keeps(&message, &pattern, insensitive)
                && let Some(f) = implied(&expr)
            {
                let statement = leql::parse(&f.statement())
                    .unwrap_or_else(|e| panic!("{} does not parse: {e}", f.statement()));
                prop_assert!(
                    statement.matches(&message),
                    "{message:?} matches {pattern:?} but not {}", f.statement()
                );
                prop_assert!(f.matches(&message));
            }
        }
    }
}

/// `message LIKE '%ioc-00001.example%' OR …` with `n` distinct terms, as
/// SQL parses it: a left-deep chain `n` levels deep.
fn ioc_list(n: usize) -> Expr {
    (0..n)
        .map(|i| m().like(lit(format!("%ioc-{i:05}.example%"))))
        .reduce(Expr::or)
        .unwrap()
}

#[test]
fn long_or_lists_translate_without_deep_recursion() {
    // Built and dropped on a large stack (DataFusion's own `Drop` of a
    // 5,000-deep chain recurses); translated on a small one.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let list = ioc_list(5_000);
            let translated = std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .stack_size(128 << 10)
                    .spawn_scoped(scope, || message_filter(std::slice::from_ref(&list)))
                    .unwrap()
                    .join()
                    .unwrap()
            });
            let Some(Filter::Or(terms)) = translated else {
                panic!("an OR of the terms")
            };
            assert_eq!(terms.len(), 5_000);
            // Over the size pushed: nothing goes to Rapid7.
            let bytes = pushed_filter(std::slice::from_ref(&list)).unwrap_err();
            assert!(bytes > MAX_PUSHED_STATEMENT_BYTES, "{bytes}");
            // A thousand terms are pushed, whole.
            let thousand = pushed_filter(&[ioc_list(1_000)]).unwrap().unwrap();
            assert_eq!(thousand.matches(" OR ").count(), 999);
            assert!(thousand.len() > crate::client::MAX_GET_STATEMENT_BYTES);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn nesting_beyond_the_limit_is_not_pushed() {
    // (a AND (b OR (c AND (d OR …)))): each level alternates the operator.
    let mut e = m().like(lit("%deepest%"));
    for level in 0..40 {
        let term = m().like(lit(format!("%level{level}%")));
        e = if level % 2 == 0 {
            term.or(e)
        } else {
            term.and(e)
        };
    }
    let f = implied(&e).expect("the outer levels are pushed");
    // What is pushed is still a superset: every message with all the
    // terms matches it.
    let all: String = (0..40).map(|l| format!("level{l} ")).collect::<String>() + "deepest";
    assert!(f.matches(&all));
    assert!(!f.to_string().contains("deepest"), "{f}");
}
