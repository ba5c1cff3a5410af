//! `rapid7_field(message, layout, field, type)`: one field of a structured
//! message as a typed value. This is what the columns of `rapid7_parsed`
//! tables compute; it can be called directly too:
//!
//! ```sql
//! SELECT rapid7_field(message, 'kv', 'bytes', 'bigint') FROM rapid7."Web Proxy" WHERE …
//! ```
//!
//! `layout` is `json` (a dotted path, `src.port`), `kv` (a key) or `csv` (a
//! field number from 1); `type` one of `bigint`, `double`, `boolean`,
//! `timestamp`, `string`. A missing field is NULL. A field that is there but
//! does not read as its type, or any field of a JSON message that does not
//! parse, is NULL too, and counted: never an error for the whole query
//! ([`ParseStats`]).

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int64Builder, StringArray,
    StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::kernels::cast_utils::string_to_timestamp_nanos;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::csv::csv_field;
use super::infer::FieldType;
use super::kv::kv_find;
use super::udf::utf8;
use crate::events::{TIMESTAMP_TZ, timestamp_type};

/// Counts of the work done by `rapid7_field`, shared by every query of one
/// session.
#[derive(Debug, Default)]
pub struct ParseStats {
    parsed: AtomicU64,
    unparsable: AtomicU64,
}

impl ParseStats {
    /// Field values looked at (one per row and referenced field).
    pub fn parsed(&self) -> u64 {
        self.parsed.load(Ordering::Relaxed)
    }

    /// Values that were present but did not read as their type, or sat in a
    /// malformed (JSON) message; all of them are NULL.
    pub fn unparsable(&self) -> u64 {
        self.unparsable.load(Ordering::Relaxed)
    }
}

/// Where a field is in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Locator {
    Json(Vec<String>),
    Kv(String),
    Csv(usize),
}

impl Locator {
    pub(crate) fn parse(layout: &str, field: &str) -> std::result::Result<Locator, String> {
        match layout {
            "json" => Ok(Locator::Json(field.split('.').map(String::from).collect())),
            "kv" => Ok(Locator::Kv(field.to_string())),
            "csv" => match field.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Locator::Csv(n - 1)),
                _ => Err(format!("a CSV field is a number from 1, got {field:?}")),
            },
            other => Err(format!("layout must be json, kv or csv, got {other:?}")),
        }
    }
}

/// The text of one field, and whether it was written as a JSON string or
/// quoted (only JSON keeps numbers and booleans apart from text).
enum Raw<'a> {
    Text(std::borrow::Cow<'a, str>),
    Json(serde_json::Value),
}

/// What a message holds at a field's place.
enum Located<'a> {
    Missing,
    Found(Raw<'a>),
    /// The message is not of the layout at all (JSON that does not parse,
    /// or is not an object).
    Malformed,
}

fn locate<'a>(locator: &Locator, message: &'a str) -> Located<'a> {
    let found = |raw: Option<Raw<'a>>| raw.map_or(Located::Missing, Located::Found);
    match locator {
        Locator::Kv(key) => found(kv_find(message, key).map(Raw::Text)),
        Locator::Csv(i) => found(
            csv_field(message, *i)
                .filter(|f| f.quoted || !f.value.is_empty())
                .map(|f| Raw::Text(f.value)),
        ),
        Locator::Json(path) => {
            let mut value = match serde_json::from_str::<serde_json::Value>(message) {
                Ok(v @ serde_json::Value::Object(_)) => v,
                _ => return Located::Malformed,
            };
            for key in path {
                value = match value {
                    serde_json::Value::Object(mut map) => match map.remove(key) {
                        Some(v) => v,
                        None => return Located::Missing,
                    },
                    _ => return Located::Missing,
                };
            }
            found((!value.is_null()).then_some(Raw::Json(value)))
        }
    }
}

fn as_text(raw: &Raw<'_>) -> Option<String> {
    match raw {
        Raw::Text(t) => Some(t.to_string()),
        Raw::Json(serde_json::Value::String(s)) => Some(s.clone()),
        Raw::Json(v) => Some(v.to_string()),
    }
}

/// A number from text (trimmed), a JSON string, or a JSON number as
/// `from_json` reads it.
fn as_number<T: std::str::FromStr>(
    raw: &Raw<'_>,
    from_json: impl Fn(&serde_json::Number) -> Option<T>,
) -> Option<T> {
    match raw {
        Raw::Text(t) => t.trim().parse().ok(),
        Raw::Json(serde_json::Value::Number(n)) => from_json(n),
        Raw::Json(serde_json::Value::String(s)) => s.trim().parse().ok(),
        Raw::Json(_) => None,
    }
}

fn as_i64(raw: &Raw<'_>) -> Option<i64> {
    as_number(raw, serde_json::Number::as_i64)
}

fn as_f64(raw: &Raw<'_>) -> Option<f64> {
    as_number(raw, serde_json::Number::as_f64)
}

fn as_bool(raw: &Raw<'_>) -> Option<bool> {
    match raw {
        Raw::Json(serde_json::Value::Bool(b)) => Some(*b),
        other => match as_text(other)?.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
    }
}

fn as_timestamp_ms(raw: &Raw<'_>) -> Option<i64> {
    let text = as_text(raw)?;
    string_to_timestamp_nanos(text.trim())
        .ok()
        .map(|ns| ns.div_euclid(1_000_000))
}

/// Locate the field in every message, convert it, hand each value (NULL when
/// missing, unconvertible or in a malformed message) to `push`; returns how
/// many values were unconvertible or in a malformed message.
fn each_value<T>(
    messages: &StringArray,
    locator: &Locator,
    convert: impl Fn(&Raw<'_>) -> Option<T>,
    mut push: impl FnMut(Option<T>),
) -> u64 {
    let mut failed = 0;
    for message in messages.iter() {
        let value = match message.map(|m| locate(locator, m)) {
            None | Some(Located::Missing) => None,
            Some(Located::Malformed) => {
                failed += 1;
                None
            }
            Some(Located::Found(raw)) => {
                let value = convert(&raw);
                failed += u64::from(value.is_none());
                value
            }
        };
        push(value);
    }
    failed
}

/// The `rapid7_field` function, counting into `stats`.
#[derive(Debug)]
pub struct FieldParser {
    signature: Signature,
    stats: Arc<ParseStats>,
}

impl PartialEq for FieldParser {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.stats, &other.stats)
    }
}

impl Eq for FieldParser {}

impl Hash for FieldParser {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "rapid7_field".hash(state);
    }
}

/// The `rapid7_field` function; its work is counted in `stats`.
pub fn field_udf(stats: Arc<ParseStats>) -> ScalarUDF {
    ScalarUDF::new_from_impl(FieldParser {
        signature: Signature::any(4, Volatility::Immutable),
        stats,
    })
}

const USAGE: &str = "usage: rapid7_field(message, 'json' | 'kv' | 'csv', 'path' | 'key' | 'n', \
    'bigint' | 'double' | 'boolean' | 'timestamp' | 'string')";

/// The SQL type named `name`.
pub(crate) fn field_type(name: &str) -> Option<FieldType> {
    Some(match name {
        "bigint" => FieldType::Bigint,
        "double" => FieldType::Double,
        "boolean" => FieldType::Boolean,
        "timestamp" => FieldType::Timestamp,
        "string" => FieldType::String,
        _ => return None,
    })
}

/// The Arrow type of a field type.
pub(crate) fn arrow_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::Bigint => DataType::Int64,
        FieldType::Double => DataType::Float64,
        FieldType::Boolean => DataType::Boolean,
        FieldType::Timestamp => timestamp_type(),
        FieldType::String => DataType::Utf8,
    }
}

fn scalar_string(value: Option<&ScalarValue>) -> Option<String> {
    match value? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(s.clone()),
        _ => None,
    }
}

impl ScalarUDFImpl for FieldParser {
    fn name(&self) -> &str {
        "rapid7_field"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("rapid7_field: the return type depends on the constant type argument")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let ty = args.scalar_arguments.get(3).copied().flatten();
        let Some(ty) = scalar_string(ty).as_deref().and_then(field_type) else {
            return plan_err!("rapid7_field: the type must be a constant; {USAGE}");
        };
        Ok(Arc::new(Field::new(self.name(), arrow_type(ty), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let constant = |i: usize| match &args.args[i] {
            ColumnarValue::Scalar(s) => scalar_string(Some(s)),
            ColumnarValue::Array(_) => None,
        };
        let (Some(layout), Some(field), Some(ty)) = (constant(1), constant(2), constant(3)) else {
            return exec_err!("rapid7_field: layout, field and type must be constants; {USAGE}");
        };
        let locator = match Locator::parse(&layout, &field) {
            Ok(l) => l,
            Err(e) => return exec_err!("rapid7_field: {e}; {USAGE}"),
        };
        let Some(ty) = field_type(&ty) else {
            return exec_err!("rapid7_field: unknown type {ty:?}; {USAGE}");
        };
        let messages = utf8(&args.args[0], args.number_rows)?;
        let messages = messages.as_string::<i32>();
        let n = messages.len();
        let (array, failed): (ArrayRef, u64) = match ty {
            FieldType::Bigint => {
                let mut b = Int64Builder::with_capacity(n);
                let failed = each_value(messages, &locator, as_i64, |v| b.append_option(v));
                (Arc::new(b.finish()), failed)
            }
            FieldType::Double => {
                let mut b = Float64Builder::with_capacity(n);
                let failed = each_value(messages, &locator, as_f64, |v| b.append_option(v));
                (Arc::new(b.finish()), failed)
            }
            FieldType::Boolean => {
                let mut b = BooleanBuilder::with_capacity(n);
                let failed = each_value(messages, &locator, as_bool, |v| b.append_option(v));
                (Arc::new(b.finish()), failed)
            }
            FieldType::Timestamp => {
                let mut b = TimestampMillisecondBuilder::with_capacity(n);
                let failed =
                    each_value(messages, &locator, as_timestamp_ms, |v| b.append_option(v));
                (Arc::new(b.finish().with_timezone(TIMESTAMP_TZ)), failed)
            }
            FieldType::String => {
                let mut b = StringBuilder::with_capacity(n, n * 8);
                let failed = each_value(messages, &locator, as_text, |v| b.append_option(v));
                (Arc::new(b.finish()), failed)
            }
        };
        self.stats.parsed.fetch_add(n as u64, Ordering::Relaxed);
        if failed > 0 {
            self.stats.unparsable.fetch_add(failed, Ordering::Relaxed);
            tracing::debug!(
                layout = %layout,
                field = %field,
                field_type = %ty,
                failed,
                rows = n,
                "fields_unparsable"
            );
        }
        Ok(ColumnarValue::Array(array))
    }
}
