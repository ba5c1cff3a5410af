//! The `rapid7_parsed` schema: one table per log, with the log's fields as
//! typed columns next to `timestamp`, `log_id`, `log_name`,
//! `sequence_number` (and `message`).
//!
//! Each table is a view over the log's `rapid7` table:
//!
//! ```sql
//! SELECT timestamp, log_id, log_name, sequence_number,
//!        rapid7_field(message, 'csv', '8', 'bigint') AS c8, …, message
//! FROM rapid7."Firewall"
//! ```
//!
//! so DataFusion's optimizer does the rest: time filters reach the scan
//! (windows, cache, fetch) untouched, and only the columns a query references
//! are computed (projection pushdown: an unreferenced field is never parsed).
//! A value that does not read as its column's type is NULL, counted in
//! [`Rapid7::parse_stats`].
//!
//! The fields come from the pinned schema of the log
//! ([`Rapid7Config::field_schemas`](crate::Rapid7Config::field_schemas),
//! `RAPID7_FIELDS`) or else are inferred once per session from the newest
//! cached messages of the log (up to [`DEFAULT_FIELD_SAMPLE`]). A log with
//! nothing cached has no typed columns until it has been queried once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::AsArray;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ScalarUDF, col, lit};
use futures::TryStreamExt;

use super::scan::{LogRef, Rapid7LogsTable};
use super::source::Rapid7;
use super::udtf::DEFAULT_FIELD_SAMPLE;
use crate::client;
use crate::error::{Error, Result};
use crate::events::{columns, event_schema};
use crate::fields::{FieldSchema, infer};
use crate::time::TimeRange;

/// Name of the schema of parsed tables.
pub const PARSED_SCHEMA: &str = "rapid7_parsed";

/// Columns every parsed table starts with.
const BASE: [&str; 4] = [
    columns::TIMESTAMP,
    columns::LOG_ID,
    columns::LOG_NAME,
    columns::SEQUENCE_NUMBER,
];

#[derive(Debug)]
pub(crate) struct ParsedSchema {
    pub(crate) rapid7: Rapid7,
    pub(crate) field_udf: Arc<ScalarUDF>,
    /// Inferred schemas, by log id: fixed for the session once inferred.
    pub(crate) inferred: Mutex<HashMap<String, FieldSchema>>,
}

impl ParsedSchema {
    /// The pinned schema of `log`, or the one inferred for this session.
    async fn field_schema(&self, log: &LogRef) -> Result<FieldSchema> {
        let pinned = &self.rapid7.config().field_schemas;
        if let Some(schema) = pinned
            .get(&log.id)
            .or_else(|| log.name.as_ref().and_then(|n| pinned.get(n)))
        {
            schema.validate(log.label())?;
            return Ok(schema.clone());
        }
        if let Some(schema) = self.lock().get(&log.id) {
            return Ok(schema.clone());
        }
        let messages = newest_cached_messages(&self.rapid7, &log.id, DEFAULT_FIELD_SAMPLE).await?;
        if messages.is_empty() {
            tracing::warn!(
                log = log.label(),
                detail = "nothing cached to infer fields from; query the log once, or pin its fields (RAPID7_FIELDS)",
                "fields_nothing_to_infer"
            );
            // Not remembered: the next query may find data.
            return Ok(FieldSchema {
                layout: "plain".into(),
                fields: Vec::new(),
            });
        }
        let schema = FieldSchema::from_inference(&infer(messages.iter().map(String::as_str)));
        self.lock().insert(log.id.clone(), schema.clone());
        Ok(schema)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, FieldSchema>> {
        crate::locks::lock(&self.inferred)
    }

    async fn view(&self, log: LogRef) -> Result<Arc<dyn TableProvider>> {
        let schema = self.field_schema(&log).await?;
        let base = Arc::new(Rapid7LogsTable::for_log(self.rapid7.clone(), log.clone()));
        let mut exprs: Vec<Expr> = BASE.iter().map(|c| col(*c)).collect();
        for f in &schema.fields {
            let name = if BASE.contains(&f.name.as_str()) || f.name == columns::MESSAGE {
                format!("field_{}", f.name)
            } else {
                f.name.clone()
            };
            exprs.push(
                self.field_udf
                    .call(vec![
                        col(columns::MESSAGE),
                        lit(schema.layout.as_str()),
                        lit(f.field.as_str()),
                        lit(f.field_type.as_str()),
                    ])
                    .alias(name),
            );
        }
        exprs.push(col(columns::MESSAGE));
        let plan = LogicalPlanBuilder::scan(log.label(), provider_as_source(base), None)?
            .project(exprs)?
            .build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

/// Up to `n` messages of the newest cached segments of a log (no API call).
async fn newest_cached_messages(rapid7: &Rapid7, log_id: &str, n: usize) -> Result<Vec<String>> {
    let cache = rapid7.cache();
    if cache.is_bypass() {
        return Ok(Vec::new());
    }
    let mut segments = cache.list_segments(log_id).await?;
    // Filtered segments hold some events only, and are not read below.
    segments.retain(|s| s.filter().is_none());
    segments.sort_by_key(|s| std::cmp::Reverse(s.range().end()));
    // The newest segments that hold `n` rows, planned (and read) at once.
    let mut rows = 0;
    let newest: Vec<TimeRange> = segments
        .iter()
        .take_while(|s| {
            let more = rows < n as u64;
            rows += s.row_count();
            more
        })
        .map(|s| s.range())
        .collect();
    let (Some(start), Some(end)) = (
        newest.iter().map(TimeRange::start).min(),
        newest.iter().map(TimeRange::end).max(),
    ) else {
        return Ok(Vec::new());
    };
    let message_index = event_schema().index_of(columns::MESSAGE)?;
    let mut out = Vec::new();
    let mut plan = cache.plan_read(log_id, TimeRange::new(start, end)?).await?;
    // Newest first.
    plan.segments
        .sort_by_key(|p| std::cmp::Reverse(p.responsible.end()));
    for planned in &plan.segments {
        let mut batches = cache.read(planned);
        while let Some(batch) = batches.try_next().await? {
            let messages = batch.column(message_index).as_string::<i32>();
            for m in messages.iter().flatten() {
                out.push(m.to_string());
                if out.len() >= n {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl SchemaProvider for ParsedSchema {
    fn table_names(&self) -> Vec<String> {
        self.rapid7.known_log_labels()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        match self.rapid7.find_log(name).await {
            Ok(log) => Ok(Some(self.view(log).await?)),
            Err(
                e @ Error::Client(
                    client::Error::UnknownLog { .. } | client::Error::AmbiguousLog { .. },
                ),
            ) => Err(DataFusionError::Plan(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.rapid7.knows_log(name)
    }
}
