//! Structured fields over the simulator's JSON, CSV and key=value logs:
//! `kv_get`, `csv_get`, the JSON functions and `rapid7_fields(...)`.
//! Expected values come from the simulator's messages taken apart here
//! independently (serde_json, plain splitting on fields that hold no quotes
//! or commas), never from the code under test.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, Float64Type, UInt64Type};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::mock::{MockServer, TYPE_CHANGE_MS};
use tempfile::TempDir;

use super::{MIN, session, sql, window};
use crate::support::{self, T0};

/// Every column of the result as optional text.
fn text_rows(batches: &[RecordBatch]) -> Vec<Vec<Option<String>>> {
    let Some(first) = batches.first() else {
        return Vec::new();
    };
    let batch = concat_batches(&first.schema(), batches).unwrap();
    let columns: Vec<_> = batch
        .columns()
        .iter()
        .map(|c| cast(c, &DataType::Utf8).unwrap())
        .collect();
    (0..batch.num_rows())
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    let c = c.as_string::<i32>();
                    (!c.is_null(r)).then(|| c.value(r).to_string())
                })
                .collect()
        })
        .collect()
}

/// Run `q` and return its rows as text.
async fn query(ctx: &SessionContext, q: &str) -> Vec<Vec<Option<String>>> {
    text_rows(&sql(ctx, q).await.unwrap())
}

fn messages(server: &MockServer, log: &str, from: i64, to: i64) -> Vec<String> {
    let id = support::log_id(server, log);
    support::truth(server, &id, from, to)
        .into_iter()
        .map(|r| r.2)
        .collect()
}

/// The value of `key` in the simulator's key=value text: unquoted tokens
/// hold no spaces; quoted values (ua, note, status after the type change)
/// hold no escaped quotes.
fn kv_oracle(message: &str, key: &str) -> Option<String> {
    let at = message
        .find(&format!(" {key}="))
        .map(|i| i + 1)
        .or_else(|| message.starts_with(&format!("{key}=")).then_some(0))?;
    let rest = &message[at + key.len() + 1..];
    Some(match rest.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"').unwrap()].to_string(),
        None => rest.split(' ').next().unwrap().to_string(),
    })
}

#[tokio::test]
async fn kv_get_reads_every_event_of_the_key_value_log() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    // Before, across and after the type change of `status` (number → quoted).
    for (from, to) in [
        (T0, T0 + 2 * MIN),
        (TYPE_CHANGE_MS - MIN, TYPE_CHANGE_MS + MIN),
    ] {
        let got = query(
            &ctx,
            &format!(
                "SELECT kv_get(message, 'user'), kv_get(message, 'status'), \
                     kv_get(message, 'bytes'), kv_get(message, 'ua'), kv_get(message, 'nope') \
                     FROM rapid7.\"Web Proxy\" WHERE {} ORDER BY timestamp, sequence_number",
                window(from, to)
            ),
        )
        .await;
        let want: Vec<Vec<Option<String>>> = messages(&server, "Web Proxy", from, to)
            .iter()
            .map(|m| {
                ["user", "status", "bytes", "ua", "nope"]
                    .iter()
                    .map(|k| kv_oracle(m, k))
                    .collect()
            })
            .collect();
        assert!(want.len() > 1000, "{}", want.len());
        assert!(want.iter().any(|r| r[2].is_none()) && want.iter().any(|r| r[3].is_some()));
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn csv_get_by_number_and_by_header_name() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + MIN);
    let header = "time,action,proto,src_ip,src_port,dst_ip,dst_port,bytes,rule,note";
    let got = query(
        &ctx,
        &format!(
            "SELECT csv_get(message, 2), csv_get(message, 5), csv_get(message, 8), \
                 csv_get(message, 9), csv_get(message, 11), \
                 csv_get(message, 'action', '{header}') \
                 FROM rapid7.\"Firewall\" WHERE {} ORDER BY timestamp, sequence_number",
            window(from, to)
        ),
    )
    .await;
    let want: Vec<Vec<Option<String>>> = messages(&server, "Firewall", from, to)
        .iter()
        .map(|m| {
            // The first nine fields hold no quotes and no commas.
            let f: Vec<&str> = m.splitn(10, ',').collect();
            let field = |i: usize| Some(f[i]).filter(|v| !v.is_empty()).map(String::from);
            vec![field(1), field(4), field(7), field(8), None, field(1)]
        })
        .collect();
    assert!(want.len() > 2000);
    assert!(
        want.iter().any(|r| r[2].is_none()),
        "some records have no bytes"
    );
    assert_eq!(got, want);

    // The analyst's query: by column name, grouped.
    let by_action = query(
        &ctx,
        &format!(
            "SELECT csv_get(message, 'action', '{header}') AS action, count(*) \
                 FROM rapid7.\"Firewall\" WHERE {} GROUP BY 1 ORDER BY 1",
            window(from, to)
        ),
    )
    .await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for row in &want {
        *counts.entry(row[0].clone().unwrap()).or_default() += 1;
    }
    let counts: Vec<Vec<Option<String>>> = counts
        .into_iter()
        .map(|(a, n)| vec![Some(a), Some(n.to_string())])
        .collect();
    assert_eq!(by_action, counts);

    for (bad, hint) in [
        ("csv_get(message, 0)", "start at 1"),
        ("csv_get(message, 'action')", "header line"),
        ("csv_get(message, 'nope', 'a,b,c')", "no field named"),
    ] {
        let q = format!(
            "SELECT {bad} FROM rapid7.\"Firewall\" WHERE {}",
            window(from, to)
        );
        let e = sql(&ctx, &q).await.unwrap_err().to_string();
        assert!(e.contains(hint), "{bad}: {e}");
    }
}

#[tokio::test]
async fn json_functions_are_registered() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 5 * MIN);
    let got = query(
        &ctx,
        &format!(
            "SELECT json_get_str(message, 'user'), json_get_int(message, 'src', 'port'), \
                 message->>'action', json_get_bool(message, 'mfa') \
                 FROM rapid7.\"Auth Service\" WHERE {} ORDER BY timestamp, sequence_number",
            window(from, to)
        ),
    )
    .await;
    let want: Vec<Vec<Option<String>>> = messages(&server, "Auth Service", from, to)
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            vec![
                v["user"].as_str().map(String::from),
                v["src"]["port"].as_i64().map(|p| p.to_string()),
                v["action"].as_str().map(String::from),
                v["mfa"].as_bool().map(|b| b.to_string()),
            ]
        })
        .collect();
    assert!(want.len() > 500);
    assert!(want.iter().any(|r| r[1].is_none()) && want.iter().any(|r| r[3].is_some()));
    assert_eq!(got, want);
}

/// `field → (position, type, present, fill_rate, sampled, unparsed)`.
type FieldRows =
    BTreeMap<Option<String>, (Option<String>, Option<String>, Option<u64>, f64, u64, u64)>;

/// `rapid7_fields(...)` as `field → (position, type, present, fill_rate, sampled, unparsed)`.
async fn fields_of(ctx: &SessionContext, log: &str, from: i64, to: i64) -> (String, FieldRows) {
    let q = format!(
        "SELECT format, field, position, type, present, fill_rate, sampled, unparsed, example \
         FROM rapid7_fields('{log}', to_timestamp_millis({from}), to_timestamp_millis({to}))"
    );
    let batches = sql(ctx, &q).await.unwrap();
    let batch = concat_batches(&batches[0].schema(), &batches).unwrap();
    let text = text_rows(&batches);
    let format = text[0][0].clone().unwrap();
    let mut out = BTreeMap::new();
    for (i, row) in text.iter().enumerate() {
        assert_eq!(row[0].as_deref(), Some(format.as_str()));
        let present = (!batch.column(4).is_null(i))
            .then(|| batch.column(4).as_primitive::<UInt64Type>().value(i));
        let fill = batch.column(5).as_primitive::<Float64Type>().value(i);
        let sampled = batch.column(6).as_primitive::<UInt64Type>().value(i);
        let unparsed = batch.column(7).as_primitive::<UInt64Type>().value(i);
        if let Some(p) = present {
            assert!((fill - p as f64 / sampled as f64).abs() < 1e-12);
            assert!(row[8].is_some(), "an example for {row:?}");
        }
        out.insert(
            row[1].clone(),
            (
                row[2].clone(),
                row[3].clone(),
                present,
                fill,
                sampled,
                unparsed,
            ),
        );
    }
    (format, out)
}

fn assert_types(got: &FieldRows, want: &[(&str, &str)]) {
    let got: BTreeMap<&str, &str> = got
        .iter()
        .map(|(k, v)| (k.as_deref().unwrap(), v.1.as_deref().unwrap()))
        .collect();
    let want: BTreeMap<&str, &str> = want.iter().copied().collect();
    assert_eq!(got, want);
}

/// Messages (as JSON values) that have `path` (`/src/port`).
fn json_present(msgs: &[String], path: &str) -> u64 {
    msgs.iter()
        .filter(|m| {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            v.pointer(path).is_some_and(|x| !x.is_null())
        })
        .count() as u64
}

#[tokio::test]
async fn rapid7_fields_infers_json_csv_kv_and_plain_logs() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;

    // JSON, before the type change: `status` is a number.
    let (from, to) = (T0, T0 + 10 * MIN);
    let auth = messages(&server, "Auth Service", from, to);
    let (format, fields) = fields_of(&ctx, "Auth Service", from, to).await;
    assert_eq!(format, "json");
    let json_types = [
        ("time", "timestamp"),
        ("user", "string"),
        ("action", "string"),
        ("status", "bigint"),
        ("bytes", "bigint"),
        ("src.ip", "string"),
        ("src.port", "bigint"),
        ("src.geo.country", "string"),
        ("src.geo.city", "string"),
        ("mfa", "boolean"),
        ("latency_ms", "double"),
        ("tags", "string"),
        ("detail", "string"),
    ];
    assert_types(&fields, &json_types);
    for (name, path) in [
        ("bytes", "/bytes"),
        ("src.port", "/src/port"),
        ("mfa", "/mfa"),
        ("time", "/time"),
    ] {
        let f = &fields[&Some(name.to_string())];
        assert_eq!(f.2, Some(json_present(&auth, path)), "{name}");
        assert_eq!((f.4, f.5), (auth.len() as u64, 0));
    }
    // After the change `status` is a quoted string; across it, text holds both.
    for (from, to) in [
        (TYPE_CHANGE_MS, TYPE_CHANGE_MS + 10 * MIN),
        (TYPE_CHANGE_MS - 5 * MIN, TYPE_CHANGE_MS + 5 * MIN),
    ] {
        let (_, fields) = fields_of(&ctx, "Auth Service", from, to).await;
        assert_eq!(
            fields[&Some("status".to_string())].1.as_deref(),
            Some("string")
        );
        assert_eq!(
            fields[&Some("src.port".to_string())].1.as_deref(),
            Some("bigint")
        );
    }

    // CSV without a header: c1…c10.
    let (from, to) = (T0 + MIN, T0 + 3 * MIN);
    let fw = messages(&server, "Firewall", from, to);
    let (format, fields) = fields_of(&ctx, "Firewall", from, to).await;
    assert_eq!(format, "csv");
    assert_types(
        &fields,
        &[
            ("c1", "timestamp"),
            ("c2", "string"),
            ("c3", "string"),
            ("c4", "string"),
            ("c5", "bigint"),
            ("c6", "string"),
            ("c7", "bigint"),
            ("c8", "bigint"),
            ("c9", "string"),
            ("c10", "string"),
        ],
    );
    let with_bytes = fw
        .iter()
        .filter(|m| !m.split(',').nth(7).unwrap().is_empty())
        .count();
    let c8 = &fields[&Some("c8".to_string())];
    assert_eq!(
        (c8.0.as_deref(), c8.2),
        (Some("8"), Some(with_bytes as u64))
    );
    assert!(with_bytes < fw.len());

    // key=value.
    let (from, to) = (T0, T0 + 5 * MIN);
    let (format, fields) = fields_of(&ctx, "Web Proxy", from, to).await;
    assert_eq!(format, "kv");
    assert_types(
        &fields,
        &[
            ("time", "timestamp"),
            ("user", "string"),
            ("action", "string"),
            ("url", "string"),
            ("status", "bigint"),
            ("latency_ms", "double"),
            ("bytes", "bigint"),
            ("ok", "boolean"),
            ("ua", "string"),
            ("note", "string"),
        ],
    );
    let proxy = messages(&server, "Web Proxy", from, to);
    let with_ua = proxy
        .iter()
        .filter(|m| kv_oracle(m, "ua").is_some())
        .count() as u64;
    assert_eq!(fields[&Some("ua".to_string())].2, Some(with_ua));

    // Plain text: one row, no field.
    let (format, fields) = fields_of(&ctx, "Ops \"blue\" team — app.log", from, to).await;
    assert_eq!(format, "plain");
    assert_eq!(fields.keys().collect::<Vec<_>>(), vec![&None]);

    // Bad arguments say what to do.
    for (bad, hint) in [
        (
            format!(
                "rapid7_fields('Firewall', to_timestamp_millis({to}), to_timestamp_millis({from}))"
            ),
            "before",
        ),
        ("rapid7_fields('Firewall')".to_string(), "usage"),
        (
            format!(
                "rapid7_fields('Firewall', to_timestamp_millis({from}), to_timestamp_millis({to}), 0)"
            ),
            "sample size",
        ),
        (
            format!(
                "rapid7_fields('No Such Log', to_timestamp_millis({from}), to_timestamp_millis({to}))"
            ),
            "No Such Log",
        ),
    ] {
        let e = sql(&ctx, &format!("SELECT * FROM {bad}"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(hint), "{bad}: {e}");
    }
}

#[tokio::test]
async fn parsed_tables_type_the_fields_and_parse_only_what_is_referenced() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, rapid7) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + 2 * MIN);
    let columns_sql = "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_schema = 'rapid7_parsed' AND table_name = 'Firewall' ORDER BY ordinal_position";

    // Nothing cached: no typed columns yet (and no API call to find some).
    let (ctx0, _) = session(&server, &TempDir::new().unwrap()).await;
    let queries = server.query_requests();
    let bare = query(&ctx0, columns_sql).await;
    assert_eq!(bare.len(), 5, "{bare:?}");
    assert_eq!(server.query_requests(), queries);

    // Once the log has been read, the fields are inferred from the cache.
    sql(
        &ctx,
        &format!(
            "SELECT count(*) FROM rapid7.\"Firewall\" WHERE {}",
            window(from, to)
        ),
    )
    .await
    .unwrap();
    let columns: Vec<(String, String)> = query(&ctx, columns_sql)
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "timestamp",
            "log_id",
            "log_name",
            "sequence_number",
            "c1",
            "c2",
            "c3",
            "c4",
            "c5",
            "c6",
            "c7",
            "c8",
            "c9",
            "c10",
            "message"
        ]
    );
    assert!(columns[4].1.starts_with("Timestamp"), "{columns:?}");
    assert_eq!(columns[8].1, "Int64");
    assert_eq!(columns[5].1, "Utf8");

    // Values equal the simulator's, typed.
    let got = query(
        &ctx,
        &format!(
            "SELECT CAST(c1 AS bigint) = CAST(timestamp AS bigint), c2, c5 + 0, c8 \
                 FROM rapid7_parsed.\"Firewall\" WHERE {} ORDER BY timestamp, sequence_number",
            window(from, to)
        ),
    )
    .await;
    let want: Vec<Vec<Option<String>>> = messages(&server, "Firewall", from, to)
        .iter()
        .map(|m| {
            let f: Vec<&str> = m.splitn(10, ',').collect();
            let int = |i: usize| f[i].parse::<i64>().ok().map(|v| v.to_string());
            vec![Some("true".into()), Some(f[1].into()), int(4), int(7)]
        })
        .collect();
    assert_eq!(got, want);

    // Projection pushdown: one referenced field is parsed once per row.
    let before = rapid7.parse_stats().parsed();
    let n = query(
        &ctx,
        &format!(
            "SELECT c2 FROM rapid7_parsed.\"Firewall\" WHERE {}",
            window(from, to)
        ),
    )
    .await
    .len() as u64;
    assert_eq!(n, want.len() as u64);
    assert_eq!(rapid7.parse_stats().parsed() - before, n);
    let before = rapid7.parse_stats().parsed();
    sql(
        &ctx,
        &format!(
            "SELECT count(*) FROM rapid7_parsed.\"Firewall\" WHERE {}",
            window(from, to)
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        rapid7.parse_stats().parsed(),
        before,
        "count(*) parses nothing"
    );
    assert_eq!(rapid7.parse_stats().unparsable(), 0);
}

#[tokio::test]
async fn pinned_schemas_hold_across_type_changes_and_count_bad_values() {
    use datafusion_rapid7::fields::{FieldSchema, FieldSpec, FieldType};
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let spec = |name: &str, field: &str, field_type| FieldSpec {
        name: name.into(),
        field: field.into(),
        field_type,
    };
    let (ctx, rapid7) = super::session_with(&server, super::local_cache(&dir), |c| {
        c.with_field_schema(
            "Web Proxy",
            FieldSchema {
                layout: "kv".into(),
                fields: vec![
                    spec("user_as_int", "user", FieldType::Bigint),
                    spec("bytes", "bytes", FieldType::Bigint),
                    spec("status", "status", FieldType::Bigint),
                ],
            },
        )
        .with_field_schema(
            "Firewall",
            FieldSchema {
                layout: "csv".into(),
                fields: vec![spec("action", "two", FieldType::String)],
            },
        )
    })
    .await;
    // Across the change, `status` goes from 404 to "404": still a bigint.
    let (from, to) = (TYPE_CHANGE_MS - MIN, TYPE_CHANGE_MS + MIN);
    let got = query(
        &ctx,
        &format!(
            "SELECT user_as_int, bytes, status FROM rapid7_parsed.\"Web Proxy\" \
                 WHERE {} ORDER BY timestamp, sequence_number",
            window(from, to)
        ),
    )
    .await;
    let want: Vec<Vec<Option<String>>> = messages(&server, "Web Proxy", from, to)
        .iter()
        .map(|m| vec![None, kv_oracle(m, "bytes"), kv_oracle(m, "status")])
        .collect();
    assert_eq!(got, want);
    // Every user name failed to read as a bigint: NULL, and counted.
    assert_eq!(rapid7.parse_stats().unparsable(), want.len() as u64);

    // Malformed lines: NULL and counted; a missing field is NULL, not counted.
    let before = rapid7.parse_stats().unparsable();
    let got = query(
        &ctx,
        "SELECT rapid7_field(m, 'json', 'a.b', 'bigint') FROM (VALUES \
             ('{\"a\": {\"b\": 7}}'), ('{\"a\": {\"b\": '), ('[1, 2]'), ('{\"c\": 1}'), \
             ('{\"a\": {\"b\": \"x\"}}'), (NULL)) AS t(m)",
    )
    .await;
    let got: Vec<Option<String>> = got.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(got, [Some("7".to_string()), None, None, None, None, None]);
    assert_eq!(rapid7.parse_stats().unparsable() - before, 3);

    let e = sql(
        &ctx,
        &format!(
            "SELECT action FROM rapid7_parsed.\"Firewall\" WHERE {}",
            window(from, to)
        ),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("number from 1") && e.contains("Firewall"), "{e}");
}
