//! `kv_get(message, key)` and `csv_get(message, n | name, header)`:
//! vectorized scalar functions over Arrow string arrays. Values are appended
//! straight from the message bytes; only a value with escapes is copied.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use super::csv::{csv_field, csv_fields};
use super::kv::kv_find;

/// `kv_get(message, key)`: the value of `key` in `key=value` text, or NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KvGet {
    signature: Signature,
}

/// `csv_get(message, n)` (1-based field number) or
/// `csv_get(message, name, header)` (the field named `name` in the CSV
/// `header` line): the field of a CSV record, NULL when the record is
/// shorter or the field empty.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CsvGet {
    signature: Signature,
}

/// The `kv_get` function.
pub fn kv_get_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(KvGet {
        signature: Signature::string(2, Volatility::Immutable),
    })
}

/// The `csv_get` function.
pub fn csv_get_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(CsvGet {
        signature: Signature::one_of(
            vec![TypeSignature::Any(2), TypeSignature::Any(3)],
            Volatility::Immutable,
        ),
    })
}

impl ScalarUDFImpl for KvGet {
    fn name(&self) -> &str {
        "kv_get"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [message, key] = args.args.as_slice() else {
            return exec_err!("kv_get(message, key) takes two arguments");
        };
        let messages = utf8(message, args.number_rows)?;
        let messages = messages.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(messages.len(), messages.len() * 8);
        match key {
            ColumnarValue::Scalar(key) => {
                let Some(key) = scalar_str(key)? else {
                    return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
                };
                for message in messages.iter() {
                    out.append_option(message.and_then(|m| kv_find(m, &key)));
                }
            }
            ColumnarValue::Array(_) => {
                let keys = utf8(key, args.number_rows)?;
                let keys = keys.as_string::<i32>();
                for (message, key) in messages.iter().zip(keys.iter()) {
                    out.append_option(message.zip(key).and_then(|(m, k)| kv_find(m, k)));
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl ScalarUDFImpl for CsvGet {
    fn name(&self) -> &str {
        "csv_get"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        const USAGE: &str = "usage: csv_get(message, n) with n counted from 1, or \
            csv_get(message, 'name', 'header,line,of,the,log')";
        let is_string = |t: &DataType| {
            matches!(
                t,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
            )
        };
        match arg_types {
            [m, n] if is_string(m) && (n.is_integer() || n == &DataType::Null) => {}
            [m, _, _] if is_string(m) => {}
            [m, n] if is_string(m) && is_string(n) => {
                return plan_err!(
                    "csv_get: a field name needs the log's header line as a third argument; \
                     rapid7_fields() shows it for logs whose CSV has one. {USAGE}"
                );
            }
            _ => return plan_err!("csv_get: unexpected arguments {arg_types:?}; {USAGE}"),
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let messages = utf8(&args.args[0], rows)?;
        let messages = messages.as_string::<i32>();
        let index = match args.args.as_slice() {
            [_, ColumnarValue::Scalar(n)] => match n.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(n)) if n >= 1 => Some(n as usize - 1),
                ScalarValue::Int64(None) => None,
                ScalarValue::Int64(Some(n)) => {
                    return exec_err!("csv_get: field numbers start at 1, got {n}");
                }
                other => return exec_err!("csv_get: expected a field number, got {other}"),
            },
            [
                _,
                ColumnarValue::Scalar(name),
                ColumnarValue::Scalar(header),
            ] => match (scalar_str(name)?, scalar_str(header)?) {
                (Some(name), Some(header)) => {
                    let position = csv_fields(&header).position(|f| f.value == name);
                    if position.is_none() {
                        return exec_err!(
                            "csv_get: no field named {name:?} in the header {header:?}"
                        );
                    }
                    position
                }
                _ => None,
            },
            _ => {
                return exec_err!(
                    "csv_get: the field number or name and the header must be constants"
                );
            }
        };
        let Some(index) = index else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
        };
        let mut out = StringBuilder::with_capacity(messages.len(), messages.len() * 8);
        for message in messages.iter() {
            let field = message
                .and_then(|m| csv_field(m, index))
                .filter(|f| f.quoted || !f.value.is_empty());
            out.append_option(field.map(|f| f.value));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The argument as a `Utf8` array of `rows` rows.
pub(super) fn utf8(value: &ColumnarValue, rows: usize) -> Result<ArrayRef> {
    let array = value.to_array(rows)?;
    if array.data_type() == &DataType::Utf8 {
        return Ok(array);
    }
    Ok(cast(&array, &DataType::Utf8)?)
}

/// A scalar string argument (`None` for NULL).
fn scalar_str(value: &ScalarValue) -> Result<Option<String>> {
    match value.cast_to(&DataType::Utf8)? {
        ScalarValue::Utf8(s) => Ok(s),
        other => exec_err!("expected a string, got {other}"),
    }
}
