//! A log's field schema: the layout and the typed fields that
//! `rapid7_parsed` tables expose. Inferred from the cache, or pinned in
//! configuration so that it does not drift between runs.
//!
//! The pin file (`RAPID7_FIELDS`) maps log names (or ids) to schemas:
//!
//! ```json
//! {
//!   "Firewall": {
//!     "layout": "csv",
//!     "fields": [
//!       {"name": "action", "field": "2", "type": "string"},
//!       {"name": "bytes", "field": "8", "type": "bigint"}
//!     ]
//!   },
//!   "Auth Service": {
//!     "layout": "json",
//!     "fields": [{"name": "port", "field": "src.port", "type": "bigint"}]
//!   }
//! }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::infer::{FieldType, Inference, MessageLayout};
use super::parse::Locator;
use crate::error::{Error, Result};

/// Environment variable naming a JSON file of pinned field schemas
/// (see [`FieldSchema`]).
pub const ENV_FIELDS: &str = "RAPID7_FIELDS";

/// One typed column of a parsed table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Column name.
    pub name: String,
    /// Where the value is: a dotted JSON path, a key, or a CSV field number
    /// counted from 1.
    pub field: String,
    /// The column's type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
}

/// The layout and fields of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// `json`, `kv` or `csv`.
    pub layout: String,
    /// The typed columns, in order.
    pub fields: Vec<FieldSpec>,
}

impl FieldSchema {
    /// The schema an inference describes (no fields for plain text).
    pub fn from_inference(inference: &Inference) -> FieldSchema {
        let layout = match inference.layout {
            MessageLayout::Json => "json",
            MessageLayout::Csv { .. } => "csv",
            MessageLayout::KeyValue => "kv",
            MessageLayout::Plain => "plain",
        };
        let fields = if layout == "plain" {
            Vec::new()
        } else {
            inference
                .fields
                .iter()
                .map(|f| FieldSpec {
                    name: f.name.clone(),
                    field: match f.position {
                        Some(p) => p.to_string(),
                        None => f.name.clone(),
                    },
                    field_type: f.field_type,
                })
                .collect()
        };
        FieldSchema {
            layout: layout.to_string(),
            fields,
        }
    }

    /// Check every field can be located and names are unique.
    pub fn validate(&self, log: &str) -> Result<()> {
        let bad = |message: String| Error::Config {
            key: ENV_FIELDS.into(),
            message: format!("field schema of {log:?}: {message}"),
        };
        if self.layout == "plain" && self.fields.is_empty() {
            return Ok(());
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.fields {
            Locator::parse(&self.layout, &f.field).map_err(|e| bad(format!("{}: {e}", f.name)))?;
            if f.name.is_empty() || !seen.insert(f.name.as_str()) {
                return Err(bad(format!(
                    "column name {:?} is empty or repeated",
                    f.name
                )));
            }
        }
        Ok(())
    }
}

/// Pinned schemas by log name or id, from a JSON file.
pub fn load_field_schemas(path: &std::path::Path) -> Result<BTreeMap<String, FieldSchema>> {
    let bad = |message: String| Error::Config {
        key: ENV_FIELDS.into(),
        message: format!("{}: {message}", path.display()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let schemas: BTreeMap<String, FieldSchema> = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "{e}; expected {{\"<log>\": {{\"layout\": \"json\" | \"kv\" | \"csv\", \
             \"fields\": [{{\"name\": …, \"field\": …, \"type\": \"bigint\" | \"double\" | \
             \"boolean\" | \"timestamp\" | \"string\"}}]}}}}"
        ))
    })?;
    for (log, schema) in &schemas {
        schema.validate(log)?;
    }
    Ok(schemas)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn pin_files_load_and_bad_ones_say_what_is_wrong() {
        let good = write(
            r#"{"Firewall": {"layout": "csv", "fields": [{"name": "bytes", "field": "8", "type": "bigint"}]},
                "Auth Service": {"layout": "json", "fields": [{"name": "port", "field": "src.port", "type": "bigint"}]}}"#,
        );
        let schemas = load_field_schemas(good.path()).unwrap();
        assert_eq!(schemas["Firewall"].fields[0].field_type, FieldType::Bigint);
        assert_eq!(schemas["Auth Service"].fields[0].field, "src.port");

        for (text, hint) in [
            ("{", "expected"),
            (
                r#"{"X": {"layout": "csv", "fields": [{"name": "a", "field": "0", "type": "string"}]}}"#,
                "number from 1",
            ),
            (
                r#"{"X": {"layout": "xml", "fields": [{"name": "a", "field": "a", "type": "string"}]}}"#,
                "json, kv or csv",
            ),
            (
                r#"{"X": {"layout": "kv", "fields": [{"name": "a", "field": "a", "type": "int"}]}}"#,
                "bigint",
            ),
            (
                r#"{"X": {"layout": "kv", "fields": [{"name": "a", "field": "a", "type": "string"}, {"name": "a", "field": "b", "type": "string"}]}}"#,
                "repeated",
            ),
        ] {
            let f = write(text);
            let e = load_field_schemas(f.path()).unwrap_err().to_string();
            assert!(
                e.contains(hint) && e.contains("RAPID7_FIELDS"),
                "{text}: {e}"
            );
        }
        let e = load_field_schemas(std::path::Path::new("/nonexistent/fields.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/fields.json"), "{e}");
    }

    #[test]
    fn inference_becomes_a_schema() {
        let inference = crate::fields::infer(["a=1 b=x", "a=2 b=y"]);
        let schema = FieldSchema::from_inference(&inference);
        assert_eq!(schema.layout, "kv");
        assert_eq!(
            schema.fields,
            vec![
                FieldSpec {
                    name: "a".into(),
                    field: "a".into(),
                    field_type: FieldType::Bigint
                },
                FieldSpec {
                    name: "b".into(),
                    field: "b".into(),
                    field_type: FieldType::String
                },
            ]
        );
        schema.validate("x").unwrap();
    }
}
