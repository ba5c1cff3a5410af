//! Small JSON files at the cache root (`_LOGS.json`, `_ENDPOINTS.json`):
//! read whole, and replaced whole by one put (atomic on every object
//! store), owner-only on a local root.

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{Error, Result};
use super::store::CacheRoot;

fn path(root: &CacheRoot, name: &str) -> Path {
    root.prefix().clone().join(name)
}

/// The file `name` (`T::default()` when there is none). A file that does
/// not parse is an error saying it is `what` and how to `fix` it.
pub(crate) async fn read<T: DeserializeOwned + Default>(
    root: &CacheRoot,
    name: &str,
    what: &str,
    fix: &str,
) -> Result<T> {
    let path = path(root, name);
    let bytes = match root.store().get(&path).await {
        Ok(get) => get.bytes().await,
        Err(object_store::Error::NotFound { .. }) => return Ok(T::default()),
        Err(e) => Err(e),
    }
    .map_err(|source| Error::ObjectStore {
        path: root.display_path(&path),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Unavailable {
        location: root.display_path(&path),
        message: format!("{what} does not parse ({e}); {fix}"),
        source: None,
    })
}

/// Replace the file `name` with `value` as pretty JSON.
pub(crate) async fn write<T: Serialize>(
    root: &CacheRoot,
    name: &str,
    value: &T,
    what: &str,
) -> Result<()> {
    let body = serde_json::to_vec_pretty(value).map_err(|e| Error::Unavailable {
        location: root.location().to_string(),
        message: format!("cannot encode {what}: {e}"),
        source: None,
    })?;
    put(
        root,
        root.prefix(),
        &path(root, name),
        PutPayload::from(body),
    )
    .await
}

/// Put `payload` at `path` inside `dir` (made first on a local root),
/// owner-only on a local root.
pub(crate) async fn put(
    root: &CacheRoot,
    dir: &Path,
    path: &Path,
    payload: PutPayload,
) -> Result<()> {
    root.prepare_dir(dir)?;
    root.store()
        .put(path, payload)
        .await
        .map_err(|source| Error::ObjectStore {
            path: root.display_path(path),
            source,
        })?;
    root.restrict_file(path)
}
