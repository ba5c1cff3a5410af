//! Reading published tables back through deltalake's DataFusion provider:
//! a `rapid7_published` schema with one table per log.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::prelude::SessionContext;

use super::location::TableLocation;
use super::table::published_log_id;
use crate::error::{Error, Result};

/// The schema `register_published` creates.
pub const PUBLISHED_SCHEMA: &str = "rapid7_published";

/// One published table, registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTable {
    /// The table's name in [`PUBLISHED_SCHEMA`].
    pub name: String,
    /// The log id (the table's directory name below a prefix).
    pub log_id: String,
    /// The table's location.
    pub location: String,
}

/// The deltalake provider of the table at `location`, with its object store
/// registered in `ctx`.
pub async fn published_provider(
    ctx: &SessionContext,
    location: &TableLocation,
) -> Result<Arc<dyn TableProvider>> {
    let table = location.load().await?.ok_or_else(|| Error::Publish {
        table: location.to_string(),
        message: "there is no Delta table here".into(),
        source: None,
    })?;
    table
        .update_datafusion_session(&ctx.state())
        .map_err(|e| location.delta_error("cannot register the table's store", e))?;
    table.table_provider().await.map_err(|e| Error::Publish {
        table: location.to_string(),
        message: "cannot read the table".into(),
        source: Some(Box::new(e)),
    })
}

/// Register the published tables at `location` as `rapid7_published.{name}`:
/// the table itself when `location` is one (named after its log), else each
/// table below the prefix. A table is named after its log's name in `names`
/// (id → name) when that name is unique, else after the log id. Tables
/// reflect the version current when registered.
pub async fn register_published(
    ctx: &SessionContext,
    location: &TableLocation,
    names: &BTreeMap<String, String>,
) -> Result<Vec<PublishedTable>> {
    let tables: Vec<(String, TableLocation)> = if location.is_table().await? {
        let dir = location
            .url()
            .path_segments()
            .and_then(|mut s| s.next_back().map(str::to_string))
            .unwrap_or_default();
        vec![(dir, location.clone())]
    } else {
        location.children().await?
    };
    if tables.is_empty() {
        return Err(Error::Publish {
            table: location.to_string(),
            message: "no Delta table here or directly below it: publish first \
                      (Rapid7::publish; in rapid7-sql, its publish command)"
                .into(),
            source: None,
        });
    }
    let schema = Arc::new(MemorySchemaProvider::new());
    let mut out = Vec::new();
    for (dir, table) in tables {
        // The log its record names; a table with nothing published yet is
        // named after its directory.
        let log_id = published_log_id(&table).await?.unwrap_or(dir);
        let name = match names.get(&log_id) {
            Some(n) if names.values().filter(|v| *v == n).count() == 1 => n.clone(),
            _ => log_id.clone(),
        };
        let provider = published_provider(ctx, &table).await?;
        schema.register_table(name.clone(), provider)?;
        out.push(PublishedTable {
            name,
            log_id,
            location: table.to_string(),
        });
    }
    let catalog = ctx
        .catalog(&ctx.state().config().options().catalog.default_catalog)
        .ok_or_else(|| Error::Publish {
            table: location.to_string(),
            message: "the session has no default catalog".into(),
            source: None,
        })?;
    catalog.register_schema(PUBLISHED_SCHEMA, schema)?;
    Ok(out)
}
