//! `_LOGS.json` at the cache root: the names of the logs the cache has seen,
//! so that offline queries (and other readers of the cache) can select logs
//! by name without asking the API.

use std::collections::BTreeMap;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::store::CacheRoot;
use crate::error::{Error, Result};

/// File name of the log directory under the cache root.
pub const LOG_NAMES_FILE: &str = "_LOGS.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct LogNames {
    format: u32,
    /// log id → log name.
    logs: BTreeMap<String, String>,
}

fn path(root: &CacheRoot) -> Path {
    root.prefix().clone().join(LOG_NAMES_FILE)
}

pub(crate) async fn load(root: &CacheRoot) -> Result<BTreeMap<String, String>> {
    let path = path(root);
    let bytes = match root.store().get(&path).await {
        Ok(get) => get.bytes().await,
        Err(object_store::Error::NotFound { .. }) => return Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
    .map_err(|source| Error::ObjectStore {
        path: root.display_path(&path),
        source,
    })?;
    let names: LogNames = serde_json::from_slice(&bytes).map_err(|e| Error::CacheUnavailable {
        location: root.display_path(&path),
        message: format!("the log name directory does not parse ({e}); delete it, it is rewritten on the next online query"),
        source: None,
    })?;
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
    let body = serde_json::to_vec_pretty(&LogNames {
        format: 1,
        logs: merged,
    })
    .map_err(|e| Error::CacheUnavailable {
        location: root.location().to_string(),
        message: format!("cannot encode the log name directory: {e}"),
        source: None,
    })?;
    let path = path(root);
    root.prepare_dir(root.prefix())?;
    root.store()
        .put(&path, PutPayload::from(body))
        .await
        .map_err(|source| Error::ObjectStore {
            path: root.display_path(&path),
            source,
        })?;
    root.restrict_file(&path)
}
