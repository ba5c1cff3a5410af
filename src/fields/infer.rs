//! Structure inference over a sample of messages: the format of a log (JSON,
//! CSV with or without a header, `key=value`, plain text) and, per field, a
//! type, a fill rate and an example.
//!
//! Types come from the text of each value:
//!
//! | value | type |
//! |---|---|
//! | JSON number without fraction or exponent, unquoted integer | `bigint` |
//! | other JSON number, unquoted decimal | `double` |
//! | JSON `true`/`false`, unquoted `true`/`false` | `boolean` |
//! | RFC 3339 date-time, quoted or not | `timestamp` |
//! | anything else, and any other quoted value | `string` |
//!
//! A quoted value (a JSON string, a quoted CSV field or `key="value"`) is a
//! string even when it holds digits: a producer that quotes a number means
//! text. Across the sample, `bigint` and `double` widen to `double`, and any
//! other disagreement to `string` (a field whose type changed over time is
//! read as text, which holds every value). Nested JSON objects are flattened
//! into dotted names (`src.ip`); arrays are kept as JSON text (`string`).
//! JSON `null` and empty CSV fields count as missing.

use std::collections::HashMap;
use std::fmt;

use datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos;
use serde::{Deserialize, Serialize};

use super::csv::csv_fields;
use super::kv::kv_pairs;

/// How a log's messages are laid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageLayout {
    /// One JSON object per message.
    Json,
    /// One CSV record per message; `header` holds the field names when the
    /// log writes a header line.
    Csv {
        /// Field names from the header line, if the log has one.
        header: Option<Vec<String>>,
    },
    /// `key=value` pairs.
    KeyValue,
    /// Free text.
    Plain,
}

impl fmt::Display for MessageLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageLayout::Json => "json",
            MessageLayout::Csv { header: Some(_) } => "csv with header",
            MessageLayout::Csv { header: None } => "csv",
            MessageLayout::KeyValue => "kv",
            MessageLayout::Plain => "plain",
        })
    }
}

/// The SQL type a field is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// 64-bit integer.
    Bigint,
    /// 64-bit float.
    Double,
    /// `true` / `false`.
    Boolean,
    /// RFC 3339 date-time.
    Timestamp,
    /// Text.
    String,
}

impl FieldType {
    /// The SQL name (`bigint`, `double`, `boolean`, `timestamp`, `string`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Bigint => "bigint",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
            FieldType::Timestamp => "timestamp",
            FieldType::String => "string",
        }
    }

    /// The narrowest type that holds values of both.
    pub fn widen(self, other: FieldType) -> FieldType {
        use FieldType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Bigint, Double) | (Double, Bigint) => Double,
            _ => String,
        }
    }

    /// The type of one value's text.
    pub fn of_text(text: &str, quoted: bool) -> FieldType {
        if looks_like_timestamp(text) {
            return FieldType::Timestamp;
        }
        if quoted {
            return FieldType::String;
        }
        if text == "true" || text == "false" {
            FieldType::Boolean
        } else if text.parse::<i64>().is_ok() {
            FieldType::Bigint
        } else if is_decimal(text) {
            FieldType::Double
        } else {
            FieldType::String
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plain decimal number (`-12.5`, `3e4`), not `inf`/`NaN`/`1_000`.
fn is_decimal(text: &str) -> bool {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    digits > 0
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && text.parse::<f64>().is_ok_and(f64::is_finite)
}

/// `YYYY-MM-DDTHH:MM…` that Arrow parses as a timestamp.
fn looks_like_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 16
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b' ')
        && string_to_timestamp_nanos(text).is_ok()
}

/// What the sample says about one field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferredField {
    /// Name: the JSON path (`src.ip`), the key, the CSV header name, or
    /// `c1`, `c2`, … for CSV without a header.
    pub name: String,
    /// For CSV, the 1-based field number (what `csv_get` takes).
    pub position: Option<usize>,
    /// The type values are read as.
    pub field_type: FieldType,
    /// Messages that have the field, out of the sampled ones.
    pub present: u64,
    /// One value, as written.
    pub example: String,
}

/// The structure of a sample of one log's messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inference {
    /// The layout most messages have.
    pub layout: MessageLayout,
    /// Messages looked at (header lines excluded).
    pub sampled: u64,
    /// Messages that did not have the log's layout (counted, not used).
    pub other_layout: u64,
    /// Fields in order of first appearance (the keys of one JSON object in
    /// name order; CSV in record order).
    pub fields: Vec<InferredField>,
}

impl InferredField {
    /// Share of the sampled messages that have the field.
    pub fn fill_rate(&self, sampled: u64) -> f64 {
        if sampled == 0 {
            0.0
        } else {
            self.present as f64 / sampled as f64
        }
    }
}

/// The layout of one message.
pub fn detect_layout(message: &str) -> MessageLayout {
    match classify(message) {
        Class::Json(_) => MessageLayout::Json,
        Class::Kv => MessageLayout::KeyValue,
        Class::Csv => MessageLayout::Csv { header: None },
        Class::Plain => MessageLayout::Plain,
    }
}

/// The layout of one message, with the parsed document of a JSON one (so a
/// sample is parsed once).
enum Class {
    Json(serde_json::Value),
    Kv,
    Csv,
    Plain,
}

impl Class {
    fn tag(&self) -> &'static str {
        match self {
            Class::Json(_) => "json",
            Class::Kv => "kv",
            Class::Csv => "csv",
            Class::Plain => "plain",
        }
    }
}

fn classify(message: &str) -> Class {
    if message.trim_start().starts_with('{')
        && let Ok(value @ serde_json::Value::Object(_)) = serde_json::from_str(message)
    {
        return Class::Json(value);
    }
    let mut pairs = kv_pairs(message);
    let first_token_is_pair = message
        .split_ascii_whitespace()
        .next()
        .is_some_and(|t| t.find('=').is_some_and(|i| i > 0));
    if first_token_is_pair && pairs.nth(1).is_some() {
        return Class::Kv;
    }
    if csv_fields(message).nth(2).is_some() {
        return Class::Csv;
    }
    Class::Plain
}

#[derive(Default)]
struct Acc {
    order: Vec<String>,
    fields: HashMap<String, (Option<usize>, Option<FieldType>, u64, String)>,
}

impl Acc {
    fn add(&mut self, name: &str, position: Option<usize>, ty: FieldType, example: &str) {
        let entry = self.fields.entry(name.to_string()).or_insert_with(|| {
            self.order.push(name.to_string());
            (position, None, 0, example.to_string())
        });
        entry.1 = Some(entry.1.map_or(ty, |t| t.widen(ty)));
        entry.2 += 1;
    }

    fn finish(mut self) -> Vec<InferredField> {
        self.order
            .iter()
            .filter_map(|name| {
                let (position, ty, present, example) = self.fields.remove(name)?;
                Some(InferredField {
                    name: name.clone(),
                    position,
                    field_type: ty.unwrap_or(FieldType::String),
                    present,
                    example,
                })
            })
            .collect()
    }
}

/// Infer the structure of a log from a sample of its messages, in time order.
pub fn infer<'a>(messages: impl IntoIterator<Item = &'a str>) -> Inference {
    let messages: Vec<&str> = messages.into_iter().collect();
    let classes: Vec<Class> = messages.iter().map(|m| classify(m)).collect();
    let mut votes: HashMap<&'static str, u64> = HashMap::new();
    for class in &classes {
        *votes.entry(class.tag()).or_default() += 1;
    }
    let winner = ["json", "kv", "csv", "plain"]
        .into_iter()
        .max_by_key(|k| (votes.get(k).copied().unwrap_or(0), std::cmp::Reverse(*k)))
        .unwrap_or("plain");
    let winner = if messages.is_empty() { "plain" } else { winner };
    match winner {
        "json" => infer_json(&classes),
        "kv" => infer_kv(&messages, &classes),
        "csv" => infer_csv(&messages, &classes),
        _ => Inference {
            layout: MessageLayout::Plain,
            sampled: messages.len() as u64,
            other_layout: 0,
            fields: Vec::new(),
        },
    }
}

fn infer_json(classes: &[Class]) -> Inference {
    fn walk(acc: &mut Acc, prefix: &str, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(acc, &name, v);
                }
            }
            Value::Null => {}
            Value::Bool(b) => acc.add(prefix, None, FieldType::Boolean, &b.to_string()),
            Value::Number(n) => {
                // `is_i64` also holds for unsigned values up to i64::MAX.
                let ty = if n.is_i64() {
                    FieldType::Bigint
                } else {
                    FieldType::Double
                };
                acc.add(prefix, None, ty, &n.to_string())
            }
            Value::String(s) => acc.add(prefix, None, FieldType::of_text(s, true), s),
            Value::Array(_) => acc.add(prefix, None, FieldType::String, &value.to_string()),
        }
    }
    let mut acc = Acc::default();
    let mut sampled = 0;
    for class in classes {
        if let Class::Json(value) = class {
            sampled += 1;
            walk(&mut acc, "", value);
        }
    }
    Inference {
        layout: MessageLayout::Json,
        sampled,
        other_layout: classes.len() as u64 - sampled,
        fields: acc.finish(),
    }
}

fn infer_kv(messages: &[&str], classes: &[Class]) -> Inference {
    let mut acc = Acc::default();
    let mut sampled = 0;
    for (m, _) in messages
        .iter()
        .zip(classes)
        .filter(|(_, c)| matches!(c, Class::Kv))
    {
        sampled += 1;
        let mut seen = std::collections::HashSet::new();
        for pair in kv_pairs(m) {
            if seen.insert(pair.key) {
                acc.add(
                    pair.key,
                    None,
                    FieldType::of_text(&pair.value, pair.quoted),
                    &pair.value,
                );
            }
        }
    }
    Inference {
        layout: MessageLayout::KeyValue,
        sampled,
        other_layout: messages.len() as u64 - sampled,
        fields: acc.finish(),
    }
}

/// A header line: every field a name (starts with a letter or `_`, no
/// quotes needed, not a number, not a timestamp) and no two alike.
fn header_of(message: &str) -> Option<Vec<String>> {
    let names: Vec<String> = csv_fields(message).map(|f| f.value.into_owned()).collect();
    let is_name = |s: &String| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
            && FieldType::of_text(s, false) == FieldType::String
    };
    let distinct = names.iter().collect::<std::collections::HashSet<_>>().len() == names.len();
    (names.len() >= 3 && distinct && names.iter().all(is_name)).then_some(names)
}

fn infer_csv(messages: &[&str], classes: &[Class]) -> Inference {
    // A header is a record of names that every header line of the sample
    // repeats exactly, in a log whose other records are not all names (some
    // field is a number, a timestamp or empty). Order does not matter: a
    // log that writes its header at every rotation has it many times.
    let names: Vec<bool> = messages.iter().map(|m| header_of(m).is_some()).collect();
    let mut name_lines = messages
        .iter()
        .zip(&names)
        .filter(|(_, n)| **n)
        .map(|(m, _)| *m);
    let header_line = name_lines.next().filter(|first| {
        let all_same = name_lines.all(|m| m == *first);
        let has_data = names.contains(&false);
        all_same && has_data
    });
    let header = header_line.and_then(header_of);
    let mut acc = Acc::default();
    let (mut sampled, mut other) = (0, 0);
    for (m, class) in messages.iter().zip(classes) {
        if Some(*m) == header_line {
            continue;
        }
        if !matches!(class, Class::Csv) {
            other += 1;
            continue;
        }
        sampled += 1;
        for (i, field) in csv_fields(m).enumerate() {
            if !field.quoted && field.value.is_empty() {
                continue;
            }
            let name = match header.as_ref().and_then(|h| h.get(i)) {
                Some(name) => name.clone(),
                None => format!("c{}", i + 1),
            };
            acc.add(
                &name,
                Some(i + 1),
                FieldType::of_text(&field.value, field.quoted),
                &field.value,
            );
        }
    }
    let mut fields = acc.finish();
    fields.sort_by_key(|f| f.position);
    Inference {
        layout: MessageLayout::Csv { header },
        sampled,
        other_layout: other,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(inference: &Inference) -> Vec<(&str, FieldType, u64)> {
        inference
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.field_type, f.present))
            .collect()
    }

    #[test]
    fn value_types() {
        use FieldType::*;
        for (text, quoted, want) in [
            ("42", false, Bigint),
            ("-7", false, Bigint),
            ("4.5", false, Double),
            ("1e3", false, Double),
            ("true", false, Boolean),
            ("2026-02-10T00:00:00.000Z", false, Timestamp),
            ("2026-02-10T00:00:00Z", true, Timestamp),
            ("42", true, String),
            ("inf", false, String),
            ("NaN", false, String),
            ("10.0.0.1", false, String),
            ("", false, String),
            ("2026-13-45T99:00:00Z", false, String),
        ] {
            assert_eq!(
                FieldType::of_text(text, quoted),
                want,
                "{text:?} quoted={quoted}"
            );
        }
        assert_eq!(Bigint.widen(Double), Double);
        assert_eq!(Bigint.widen(String), String);
        assert_eq!(Boolean.widen(Bigint), String);
        assert_eq!(Timestamp.widen(Timestamp), Timestamp);
    }

    #[test]
    fn layouts_are_detected_per_message() {
        assert_eq!(detect_layout(r#"{"a":1}"#), MessageLayout::Json);
        assert_eq!(detect_layout("a=1 b=2"), MessageLayout::KeyValue);
        assert_eq!(detect_layout("x,y,z"), MessageLayout::Csv { header: None });
        assert_eq!(detect_layout("Started worker 3 of 8"), MessageLayout::Plain);
        assert_eq!(detect_layout("{not json"), MessageLayout::Plain);
        assert_eq!(detect_layout("INFO a=1 b=2"), MessageLayout::Plain);
    }

    #[test]
    fn json_fields_flatten_and_widen() {
        let inference = infer([
            r#"{"t":"2026-02-10T00:00:00Z","n":1,"src":{"ip":"10.0.0.1","port":22},"tags":["a"]}"#,
            r#"{"t":"2026-02-10T00:00:01Z","n":2.5,"src":{"ip":"10.0.0.2"},"ok":true,"x":null}"#,
            "not json at all",
        ]);
        assert_eq!(inference.layout, MessageLayout::Json);
        assert_eq!((inference.sampled, inference.other_layout), (2, 1));
        use FieldType::*;
        assert_eq!(
            types(&inference),
            // First appearance; the keys of one object in name order.
            vec![
                ("n", Double, 2),
                ("src.ip", String, 2),
                ("src.port", Bigint, 1),
                ("t", Timestamp, 2),
                ("tags", String, 1),
                ("ok", Boolean, 1),
            ]
        );
        assert_eq!(inference.fields[2].example, "22");
    }

    #[test]
    fn kv_fields_and_a_type_change() {
        let inference = infer([
            "time=2026-02-10T00:00:00Z status=200 ok=true",
            "time=2026-02-10T00:00:01Z status=\"404\" bytes=12 status=7",
        ]);
        use FieldType::*;
        assert_eq!(inference.layout, MessageLayout::KeyValue);
        assert_eq!(
            types(&inference),
            vec![
                ("time", Timestamp, 2),
                ("status", String, 2),
                ("ok", Boolean, 1),
                ("bytes", Bigint, 1)
            ]
        );
    }

    #[test]
    fn csv_with_and_without_header() {
        let data = [
            "2026-02-10T00:00:00Z,DENY,10.0.0.1,443,",
            "2026-02-10T00:00:01Z,ALLOW,10.0.0.2,80,\"a, b\"",
        ];
        let plain = infer(data);
        assert_eq!(plain.layout, MessageLayout::Csv { header: None });
        use FieldType::*;
        assert_eq!(
            types(&plain),
            vec![
                ("c1", Timestamp, 2),
                ("c2", String, 2),
                ("c3", String, 2),
                ("c4", Bigint, 2),
                ("c5", String, 1)
            ]
        );
        assert_eq!(plain.fields[4].position, Some(5));

        let with_header: Vec<&str> = [
            "time,action,src_ip,port,note",
            data[0],
            "time,action,src_ip,port,note",
            data[1],
        ]
        .into();
        let inference = infer(with_header);
        let header = ["time", "action", "src_ip", "port", "note"]
            .map(std::string::String::from)
            .to_vec();
        assert_eq!(
            inference.layout,
            MessageLayout::Csv {
                header: Some(header)
            }
        );
        assert_eq!(
            inference.sampled, 2,
            "header lines, repeated ones too, are not records"
        );
        assert_eq!(inference.fields[3].name, "port");
        assert_eq!(inference.fields[3].field_type, Bigint);

        // A record of words only is not a header when every record is words.
        let words = infer(["a,b,c", "d,e,f"]);
        assert_eq!(words.layout, MessageLayout::Csv { header: None });
    }

    #[test]
    fn plain_and_empty() {
        let inference = infer(["hello world", "another line"]);
        assert_eq!(inference.layout, MessageLayout::Plain);
        assert!(inference.fields.is_empty());
        assert_eq!(infer([]).sampled, 0);
    }
}
