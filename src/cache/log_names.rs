//! `_LOGS.json` at the cache root: the names of the logs the cache has seen,
//! so that offline queries (and other readers of the cache) can select logs
//! by name without asking the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::root_file;
use super::store::CacheRoot;
use crate::error::Result;

/// File name of the log directory under the cache root.
pub const LOG_NAMES_FILE: &str = "_LOGS.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct LogNames {
    format: u32,
    /// log id → log name.
    logs: BTreeMap<String, String>,
}

const WHAT: &str = "the log name directory";

pub(crate) async fn load(root: &CacheRoot) -> Result<BTreeMap<String, String>> {
    let names: LogNames = root_file::read(
        root,
        LOG_NAMES_FILE,
        WHAT,
        "delete it, it is rewritten on the next online query",
    )
    .await?;
    Ok(names.logs)
}

/// Merge `names` into the stored directory (last writer wins per id).
pub(crate) async fn save(root: &CacheRoot, names: &BTreeMap<String, String>) -> Result<()> {
    let mut merged = load(root).await.unwrap_or_default();
    let before = merged.clone();
    merged.extend(names.iter().map(|(k, v)| (k.clone(), v.clone())));
    if merged == before && !before.is_empty() {
        return Ok(());
    }
    let names = LogNames {
        format: 1,
        logs: merged,
    };
    root_file::write(root, LOG_NAMES_FILE, &names, WHAT).await
}
