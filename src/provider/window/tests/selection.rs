//! Log selection, table-driven.

use datafusion::functions_nested::expr_fn::{array_has, array_has_all, array_has_any, make_array};
use datafusion::logical_expr::{cast, try_cast};

/// A list literal of strings.
fn list(items: &[&str]) -> ScalarValue {
    let items: Vec<ScalarValue> = items.iter().map(|s| ScalarValue::from(*s)).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&items, &DataType::Utf8))
}

use super::*;

#[test]
fn log_selection_forms() {
    let name = || col("log_name");
    let id = || col("log_id");
    let cases: Vec<(&str, Vec<Expr>, LogSelection)> = vec![
        ("none", vec![], LogSelection::All),
        ("time only", vec![ts().gt_eq(ms(T0))], LogSelection::All),
        (
            "name eq",
            vec![name().eq(lit("fw"))],
            only(names(&["fw"]), None),
        ),
        (
            "lit eq name",
            vec![lit("fw").eq(name())],
            only(names(&["fw"]), None),
        ),
        (
            "id eq",
            vec![id().eq(lit("abc"))],
            only(None, names(&["abc"])),
        ),
        (
            "id in",
            vec![id().in_list(vec![lit("a"), lit("b")], false)],
            only(None, names(&["a", "b"])),
        ),
        (
            "name or name",
            vec![name().eq(lit("a")).or(name().eq(lit("b")))],
            only(names(&["a", "b"]), None),
        ),
        (
            "name or in",
            vec![
                name()
                    .eq(lit("a"))
                    .or(name().in_list(vec![lit("c")], false)),
            ],
            only(names(&["a", "c"]), None),
        ),
        (
            "name or id",
            vec![name().eq(lit("a")).or(id().eq(lit("x")))],
            union(vec![
                term(names(&["a"]), None, &[]),
                term(None, names(&["x"]), &[]),
            ]),
        ),
        (
            "name and name in",
            vec![
                name().in_list(vec![lit("a"), lit("b")], false),
                name().eq(lit("b")),
            ],
            only(names(&["b"]), None),
        ),
        (
            "contradiction",
            vec![name().eq(lit("a")), name().eq(lit("b"))],
            LogSelection::Nothing,
        ),
        (
            "contradiction in one filter",
            vec![name().eq(lit("a")).and(name().eq(lit("b")))],
            LogSelection::Nothing,
        ),
        (
            "name and id",
            vec![name().eq(lit("a")), id().eq(lit("x"))],
            only(names(&["a"]), names(&["x"])),
        ),
        (
            "(name and id) or name",
            vec![
                name()
                    .eq(lit("a"))
                    .and(id().eq(lit("x")))
                    .or(name().eq(lit("b"))),
            ],
            union(vec![
                term(names(&["a"]), names(&["x"]), &[]),
                term(names(&["b"]), None, &[]),
            ]),
        ),
        (
            "contradiction or name",
            vec![
                name()
                    .eq(lit("a"))
                    .and(name().eq(lit("b")))
                    .or(name().eq(lit("c"))),
            ],
            only(names(&["c"]), None),
        ),
        (
            "and with other columns",
            vec![name().eq(lit("a")).and(ts().gt(ms(T0)))],
            only(names(&["a"]), None),
        ),
        (
            "or with other columns",
            vec![name().eq(lit("a")).or(ts().gt(ms(T0)))],
            LogSelection::All,
        ),
        (
            "Utf8View cast on the column",
            vec![cast(name(), DataType::Utf8View).eq(utf8_view("fw"))],
            only(names(&["fw"]), None),
        ),
        (
            "try_cast LargeUtf8",
            vec![try_cast(id(), DataType::LargeUtf8).eq(large_utf8("x"))],
            only(None, names(&["x"])),
        ),
        (
            "dictionary literal",
            vec![name().eq(dict("fw"))],
            only(names(&["fw"]), None),
        ),
        (
            "cast literal",
            vec![name().eq(cast(lit("fw"), DataType::Utf8View))],
            only(names(&["fw"]), None),
        ),
        (
            "in with null",
            vec![name().in_list(vec![lit("a"), lit(ScalarValue::Utf8(None))], false)],
            only(names(&["a"]), None),
        ),
        (
            "in only null",
            vec![name().in_list(vec![lit(ScalarValue::Utf8(None))], false)],
            LogSelection::All,
        ),
        ("not eq", vec![name().not_eq(lit("a"))], LogSelection::All),
        (
            "not in",
            vec![name().in_list(vec![lit("a")], true)],
            LogSelection::All,
        ),
        ("like", vec![name().like(lit("fw%"))], LogSelection::All),
        (
            "not",
            vec![Expr::Not(Box::new(name().eq(lit("a"))))],
            LogSelection::All,
        ),
        ("column = column", vec![name().eq(id())], LogSelection::All),
        (
            "number",
            vec![cast(id(), DataType::Int64).eq(lit(5i64))],
            LogSelection::All,
        ),
        (
            "null literal",
            vec![name().eq(lit(ScalarValue::Utf8(None)))],
            LogSelection::All,
        ),
        (
            "in with non-string",
            vec![name().in_list(vec![lit("a"), col("message")], false)],
            LogSelection::All,
        ),
        (
            "array_has logset",
            vec![array_has(col("logset"), lit("Network"))],
            union(vec![term(None, None, &[&["Network"]])]),
        ),
        (
            "array_has_any logset make_array",
            vec![array_has_any(
                col("logset"),
                make_array(vec![
                    lit("Network"),
                    lit("Ops"),
                    lit(ScalarValue::Utf8(None)),
                ]),
            )],
            union(vec![term(None, None, &[&["Network", "Ops"]])]),
        ),
        (
            "array_has_any logset list literal",
            vec![array_has_any(col("logset"), lit(list(&["Ops", "Web"])))],
            union(vec![term(None, None, &[&["Ops", "Web"]])]),
        ),
        (
            "array_has_all logset",
            vec![array_has_all(
                col("logset"),
                make_array(vec![lit("Network"), lit("Ops")]),
            )],
            union(vec![term(None, None, &[&["Network"], &["Ops"]])]),
        ),
        (
            "logset and name",
            vec![
                array_has(col("logset"), lit("Network")),
                name().eq(lit("fw")),
            ],
            union(vec![term(names(&["fw"]), None, &[&["Network"]])]),
        ),
        (
            "logset or name",
            vec![array_has(col("logset"), lit("Network")).or(name().eq(lit("fw")))],
            union(vec![
                term(None, None, &[&["Network"]]),
                term(names(&["fw"]), None, &[]),
            ]),
        ),
        (
            "logset or logset, and name",
            vec![
                array_has(col("logset"), lit("A"))
                    .or(array_has(col("logset"), lit("B")))
                    .and(name().in_list(vec![lit("fw"), lit("dns")], false)),
            ],
            union(vec![term(names(&["dns", "fw"]), None, &[&["A", "B"]])]),
        ),
        (
            "logset or other column",
            vec![array_has(col("logset"), lit("A")).or(ts().gt(ms(T0)))],
            LogSelection::All,
        ),
        (
            "array_has of another column",
            vec![array_has(col("labels"), lit("A"))],
            LogSelection::All,
        ),
        (
            "array_has with a column needle",
            vec![array_has(col("logset"), col("log_name"))],
            LogSelection::All,
        ),
        (
            "array_has null",
            vec![array_has(col("logset"), lit(ScalarValue::Utf8(None)))],
            LogSelection::All,
        ),
        (
            "array_has_any empty",
            vec![array_has_any(col("logset"), make_array(vec![]))],
            LogSelection::All,
        ),
        (
            "not array_has",
            vec![Expr::Not(Box::new(array_has(col("logset"), lit("A"))))],
            LogSelection::All,
        ),
        (
            "message column",
            vec![col("message").eq(lit("a"))],
            LogSelection::All,
        ),
    ];
    for (label, filters, want) in cases {
        assert_eq!(
            extract_log_selection(&filters),
            want,
            "{label}: {filters:?}"
        );
    }
}

#[test]
fn log_selection_admits() {
    let both = only(names(&["fw"]), names(&["id1", "id2"]));
    assert!(both.admits("id1", Some("fw"), &[]));
    assert!(!both.admits("id3", Some("fw"), &[]));
    assert!(!both.admits("id1", Some("dns"), &[]));
    assert!(!both.admits("id1", None, &[]));
    let ids = only(None, names(&["id1"]));
    assert!(ids.admits("id1", None, &[]));
    assert!(LogSelection::All.admits("x", None, &[]) && LogSelection::All.is_all());
    assert!(
        !LogSelection::Nothing.admits("x", Some("y"), &[]) && LogSelection::Nothing.is_nothing()
    );
    // In one of {Network, Ops} and in Security.
    let sets = union(vec![term(
        None,
        None,
        &[&["Network", "Ops"], &["Security"]],
    )]);
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(sets.admits("a", None, &s(&["Network", "Security"])));
    assert!(sets.admits("a", None, &s(&["Ops", "Security", "Web"])));
    assert!(!sets.admits("a", None, &s(&["Network"])));
    assert!(!sets.admits("a", None, &s(&[])));
    // Either named fw or in Web.
    let either = union(vec![
        term(names(&["fw"]), None, &[]),
        term(None, None, &[&["Web"]]),
    ]);
    assert!(either.admits("a", Some("fw"), &[]));
    assert!(either.admits("b", None, &s(&["Web"])));
    assert!(!either.admits("c", Some("dns"), &s(&["Network"])));
}
