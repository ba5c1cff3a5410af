//! One published table, opened for writing: the deltalake handle and the
//! publish record of its current version.

use std::collections::HashMap;

use deltalake::DeltaTable;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::CommitProperties;

use super::location::TableLocation;
use super::record::{APP_ID, PublishRecord, RECORD_KEY};
use super::schema::{DATE_COLUMN, table_schema};
use crate::error::{Error, Result};

/// A table and the record its newest commit stands on.
pub(crate) struct OpenTable {
    pub(crate) table: DeltaTable,
    pub(crate) record: PublishRecord,
}

impl OpenTable {
    /// The version read.
    pub(crate) fn version(&self) -> i64 {
        self.table
            .version()
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(-1)
    }
}

/// Open the table of `log_id` at `location`, creating it when there is none
/// (two publishers creating it at once: one creates, both go on).
pub(crate) async fn open_or_create(location: &TableLocation, log_id: &str) -> Result<OpenTable> {
    for _ in 0..3 {
        if let Some(table) = location.load().await? {
            check_schema(location, &table)?;
            let record = read_record(location, &table, log_id).await?;
            return Ok(OpenTable { table, record });
        }
        location.create_dir()?;
        let schema: StructType = table_schema()
            .as_ref()
            .try_into_kernel()
            .map_err(|e| location.delta_error("cannot map the schema to Delta", e.into()))?;
        let created = location
            .builder()?
            .build()
            .map_err(|e| location.delta_error("not a usable table location", e))?
            .create()
            .with_columns(schema.fields().cloned())
            .with_partition_columns([DATE_COLUMN])
            .with_comment(format!(
                "Events of Rapid7 log {log_id}, published by rapid7-sql from its cache"
            ))
            // The create commit names the log: sequence 0, no coverage.
            .with_commit_properties(
                CommitProperties::default()
                    .with_metadata([(
                        RECORD_KEY.to_string(),
                        PublishRecord::empty(log_id).to_json(),
                    )])
                    .with_max_retries(0),
            )
            .await;
        match created {
            Ok(table) => {
                tracing::info!(table = %location, log_id, "publish_table_created");
                return Ok(OpenTable {
                    table,
                    record: PublishRecord::empty(log_id),
                });
            }
            // Another publisher created it first: load theirs.
            Err(e) => {
                if is_conflict(&e) || location.is_table().await? {
                    continue;
                }
                return Err(location.delta_error("cannot create the table", e));
            }
        }
    }
    Err(Error::Publish {
        table: location.to_string(),
        message: "the table keeps appearing and disappearing while it is created; \
                  is something deleting it?"
            .into(),
        source: None,
    })
}

/// Load the newest version of an open table and its record.
pub(crate) async fn reload(location: &TableLocation, open: &mut OpenTable) -> Result<()> {
    open.table
        .update_state()
        .await
        .map_err(|e| location.delta_error("cannot read the table's log", e))?;
    open.record = read_record(location, &open.table, &open.record.log_id).await?;
    Ok(())
}

/// Whether a commit failed because another writer committed first.
pub(crate) fn is_conflict(e: &deltalake::DeltaTableError) -> bool {
    use deltalake::kernel::transaction::TransactionError as T;
    match e {
        deltalake::DeltaTableError::Transaction { source } => matches!(
            source,
            T::VersionAlreadyExists(_) | T::MaxCommitAttempts(_) | T::CommitConflict(_)
        ),
        deltalake::DeltaTableError::VersionAlreadyExists(_) => true,
        _ => false,
    }
}

fn check_schema(location: &TableLocation, table: &DeltaTable) -> Result<()> {
    let state = table
        .snapshot()
        .map_err(|e| location.delta_error("cannot read the table's schema", e))?;
    let theirs = state.snapshot().arrow_schema();
    let ours = table_schema();
    let shape = |s: &datafusion::arrow::datatypes::Schema| -> Vec<(String, String)> {
        s.fields()
            .iter()
            .map(|f| (f.name().clone(), format!("{:?}", strip(f.data_type()))))
            .collect()
    };
    if shape(&theirs) != shape(&ours) {
        return Err(Error::Publish {
            table: location.to_string(),
            message: format!(
                "this is not a table rapid7-sql published (its columns are {:?}); \
                 publish to a new location",
                theirs.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
            ),
            source: None,
        });
    }
    Ok(())
}

/// A type without list item names, which engines spell differently.
fn strip(t: &datafusion::arrow::datatypes::DataType) -> datafusion::arrow::datatypes::DataType {
    use datafusion::arrow::datatypes::{DataType, Field};
    match t {
        DataType::List(f) => DataType::List(std::sync::Arc::new(Field::new(
            "item",
            strip(f.data_type()),
            true,
        ))),
        other => other.clone(),
    }
}

/// The record of the table's newest publish commit: the newest commit at or
/// below the loaded version whose `commitInfo` has one, checked against the
/// snapshot's `txn` version. (Commits are read by version, not through the
/// history, which may already show commits newer than the snapshot.)
async fn read_record(
    location: &TableLocation,
    table: &DeltaTable,
    log_id: &str,
) -> Result<PublishRecord> {
    let bad = |message: String| Error::Publish {
        table: location.to_string(),
        message,
        source: None,
    };
    let state = table
        .snapshot()
        .map_err(|e| location.delta_error("cannot read the table's state", e))?;
    let txn = state
        .transaction_version(table.log_store().as_ref(), APP_ID)
        .await
        .map_err(|e| location.delta_error("cannot read the table's transactions", e))?;
    let mut record = None;
    let mut version = state.version();
    loop {
        match commit_record(location, table, version).await? {
            Some(Some(found)) => {
                record = Some(found.map_err(bad)?);
                break;
            }
            // No record in this commit: look at the one before.
            Some(None) if version > 0 => version -= 1,
            // The first commit, or one removed by log cleanup.
            _ => break,
        }
    }
    let record = match (record, txn) {
        (None, None) => PublishRecord::empty(log_id),
        (Some(r), Some(v)) if r.sequence == v => r,
        (Some(r), None) if r.sequence == 0 => r,
        (found, txn) => {
            return Err(bad(format!(
                "the table's publish record is missing from its log (newest publish commit \
                 {txn:?}, record found {:?}): its commit files were probably removed by log \
                 cleanup (delta.logRetentionDuration). Publish into a new table; this one \
                 stays readable",
                found.map(|r| r.sequence)
            )));
        }
    };
    if record.log_id != log_id {
        return Err(bad(format!(
            "the table holds log {}, not {log_id}: publish each log into its own table",
            record.log_id
        )));
    }
    record.ranges().map_err(bad)?;
    Ok(record)
}

/// The record in the commit of `version`: `None` when the commit file is
/// gone, `Some(None)` when the commit has no record.
async fn commit_record(
    location: &TableLocation,
    table: &DeltaTable,
    version: u64,
) -> Result<Option<Option<Result<PublishRecord, String>>>> {
    let Some(bytes) = table
        .log_store()
        .read_commit_entry(version)
        .await
        .map_err(|e| location.delta_error("cannot read a commit of the table", e))?
    else {
        return Ok(None);
    };
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(action) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(info) = action.get("commitInfo").and_then(|i| i.as_object()) {
            let info: HashMap<String, serde_json::Value> =
                info.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            return Ok(Some(PublishRecord::from_commit_info(&info)));
        }
    }
    Ok(Some(None))
}

/// The tokens of the publish commits after `read_version` up to the loaded
/// version.
pub(crate) async fn tokens_since(
    location: &TableLocation,
    table: &DeltaTable,
    read_version: i64,
) -> Result<Vec<String>> {
    let newest = table.version().unwrap_or(0);
    let first = u64::try_from(read_version + 1).unwrap_or(0);
    let mut tokens = Vec::new();
    for v in first..=newest {
        if let Some(Some(Ok(r))) = commit_record(location, table, v).await? {
            tokens.push(r.commit_token);
        }
    }
    Ok(tokens)
}

/// The log of the table at `location`, as its publish record names it
/// (`None`: no table, or nothing published yet).
pub(crate) async fn published_log_id(location: &TableLocation) -> Result<Option<String>> {
    let Some(table) = location.load().await? else {
        return Ok(None);
    };
    let mut version = table.version().unwrap_or(0);
    loop {
        match commit_record(location, &table, version).await? {
            Some(Some(Ok(r))) => return Ok(Some(r.log_id)),
            Some(_) if version > 0 => version -= 1,
            _ => return Ok(None),
        }
    }
}
