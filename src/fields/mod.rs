//! Structured fields inside `message`: JSON, CSV and `key=value` text.
//!
//! Rapid7 returns each event's message as one string. For many logs it is a
//! JSON document, a CSV record (firewalls, proxies) or `key=value` pairs.
//! This module reads fields out of such text:
//!
//! - SQL functions, registered by [`register_functions`] (and so by
//!   [`crate::register`]): `kv_get(message, key)`, `csv_get(message, n)`,
//!   `csv_get(message, 'name', 'header line')`, and the JSON functions of
//!   [`datafusion_functions_json`] (`json_get_str(message, 'user')`,
//!   `json_get_int(message, 'src', 'port')`, `message->>'action'`, …);
//! - [`infer`]: the layout of a log and the type, fill rate and an example
//!   of each field, from a sample (SQL: `rapid7_fields(log, from, to)`).
//!
//! ```sql
//! SELECT csv_get(message, 2) AS action, count(*)
//! FROM rapid7."Firewall"
//! WHERE timestamp >= now() - interval '1 hour'
//! GROUP BY 1;
//! ```

mod csv;
mod infer;
mod kv;
mod parse;
mod schema;
mod udf;

use datafusion::prelude::SessionContext;

pub use csv::{CsvField, CsvFields, csv_field, csv_fields};
pub use infer::{FieldType, Inference, InferredField, MessageLayout, detect_layout, infer};
pub use kv::{KvPair, KvPairs, kv_find, kv_pairs};
pub use parse::{FieldParser, ParseStats, field_udf};
pub use schema::{ENV_FIELDS, FieldSchema, FieldSpec, load_field_schemas};
pub use udf::{CsvGet, KvGet, csv_get_udf, kv_get_udf};

/// Register `kv_get`, `csv_get` and the JSON functions (with the `->` and
/// `->>` operators) on `ctx`.
pub fn register_functions(ctx: &SessionContext) -> crate::Result<()> {
    ctx.register_udf(kv_get_udf());
    ctx.register_udf(csv_get_udf());
    let state = ctx.state_ref();
    let mut state = state.write();
    datafusion_functions_json::register_all(&mut *state)?;
    Ok(())
}
