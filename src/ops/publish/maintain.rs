//! Table maintenance: `OPTIMIZE` (compact small files) and `VACUUM` (delete
//! files no version within the retention period references), through
//! deltalake's own operations.
//!
//! Vacuum runs in deltalake's full mode: besides the files a commit removed
//! (all that the default, lite, mode deletes) it deletes every file in the
//! table's directory that no version references and that is older than the
//! retention, such as the data files of a publish killed before its commit.
//! A table whose directory holds other Delta tables (a single-log table made
//! over a prefix of per-log tables, which publishing now refuses) is not
//! vacuumed: their files would look unreferenced.
//!
//! Neither changes which events the table holds, so neither carries a
//! publish record: readers of the record look past them ([`super::table`]).
//! Vacuum keeps Delta's retention guard: a retention shorter than the table's
//! `delta.deletedFileRetentionDuration` (7 days by default) is refused, since
//! a reader of an older version, or a publisher that has written files but
//! not yet committed them, could still need the files.

use std::num::NonZeroU64;
use std::time::Duration;

use deltalake::operations::vacuum::VacuumMode;
use serde::Serialize;

use super::location::TableLocation;
use crate::error::{Error, Result};

/// What `OPTIMIZE` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptimizeReport {
    /// The table.
    pub table: String,
    /// Its version after.
    pub version: i64,
    /// Files written.
    pub files_added: u64,
    /// Files replaced (still on storage until a vacuum).
    pub files_removed: u64,
    /// Partitions (days) that had files compacted.
    pub partitions_optimized: u64,
}

/// What `VACUUM` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VacuumReport {
    /// The table.
    pub table: String,
    /// Files deleted (relative to the table).
    pub files_deleted: Vec<String>,
    /// Whether it only listed what it would delete.
    pub dry_run: bool,
}

async fn existing(location: &TableLocation) -> Result<deltalake::DeltaTable> {
    location.load().await?.ok_or_else(|| Error::Publish {
        table: location.to_string(),
        message: "there is no Delta table here: publish into it first".into(),
        source: None,
    })
}

/// Compact each day's small files into files of about `target_bytes`.
pub async fn optimize(location: &TableLocation, target_bytes: u64) -> Result<OptimizeReport> {
    let table = existing(location).await?;
    let target = NonZeroU64::new(target_bytes.max(1)).unwrap_or(NonZeroU64::MIN);
    let (table, metrics) = table
        .optimize()
        .with_target_size(target)
        .await
        .map_err(|e| location.delta_error("optimize failed; the table is unchanged", e))?;
    let report = OptimizeReport {
        table: location.to_string(),
        version: table
            .version()
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(-1),
        files_added: metrics.num_files_added,
        files_removed: metrics.num_files_removed,
        partitions_optimized: metrics.partitions_optimized,
    };
    tracing::info!(
        table = %location,
        files_added = report.files_added,
        files_removed = report.files_removed,
        "publish_optimized"
    );
    Ok(report)
}

/// Delete files no version newer than `retention` ago references, and files
/// no version references at all that are older than `retention` (leftovers
/// of killed publishes) (`None`: the table's own retention, 7 days by
/// default). A retention under the table's is refused with the setting that
/// allows it; so is a table with other tables inside its directory.
pub async fn vacuum(
    location: &TableLocation,
    retention: Option<Duration>,
    dry_run: bool,
) -> Result<VacuumReport> {
    let table = existing(location).await?;
    let nested = location.children().await?;
    if let Some((name, _)) = nested.first() {
        return Err(Error::Publish {
            table: location.to_string(),
            message: format!(
                "vacuum refused: this table's directory holds other Delta tables ({name}{}), \
                 whose files this table does not reference and vacuum would delete; nothing \
                 was deleted. Move the tables apart (one log's table per location)",
                match nested.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                }
            ),
            source: None,
        });
    }
    let mut builder = table
        .vacuum()
        .with_mode(VacuumMode::Full)
        .with_dry_run(dry_run);
    if let Some(r) = retention {
        let r = chrono::Duration::from_std(r).map_err(|_| Error::Publish {
            table: location.to_string(),
            message: "the retention period is too long".into(),
            source: None,
        })?;
        builder = builder.with_retention_period(r);
    }
    let (_, metrics) = builder.await.map_err(|e| {
        let guard = e.to_string().contains("etention");
        Error::Publish {
            table: location.to_string(),
            message: if guard {
                "vacuum refused: the retention is shorter than the table's \
                 delta.deletedFileRetentionDuration (files younger than that may still be \
                 read by older versions or be about to be committed); give a longer retention"
                    .into()
            } else {
                "vacuum failed; nothing referenced was deleted".into()
            },
            source: Some(Box::new(e)),
        }
    })?;
    tracing::info!(
        table = %location,
        files_deleted = metrics.files_deleted.len(),
        dry_run,
        "publish_vacuumed"
    );
    Ok(VacuumReport {
        table: location.to_string(),
        files_deleted: metrics.files_deleted,
        dry_run,
    })
}
