//! Small JSON files at the cache root (`_LOGS.json`, `_ENDPOINTS.json`):
//! read whole, and replaced whole by one put (atomic on every object
//! store), owner-only on a local root. [`update`] reads, changes and writes
//! one back so that no other writer's change is lost (a conditional put).

use std::time::Duration;

use object_store::path::Path;
use object_store::{GetOptions, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
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
    Ok(read_if_changed(root, name, what, fix, None)
        .await?
        .map(|(value, _)| value)
        .unwrap_or_default())
}

/// The file `name` with its e-tag, as [`read`] gives it; `None` when its
/// e-tag is still `e_tag` (one conditional `GET`; nothing is read).
pub(crate) async fn read_if_changed<T: DeserializeOwned + Default>(
    root: &CacheRoot,
    name: &str,
    what: &str,
    fix: &str,
    e_tag: Option<&str>,
) -> Result<Option<(T, Option<String>)>> {
    let path = path(root, name);
    let options = GetOptions {
        if_none_match: e_tag.map(str::to_string),
        ..GetOptions::default()
    };
    let (bytes, e_tag) = match root.store().get_opts(&path, options).await {
        Ok(get) => {
            let e_tag = get.meta.e_tag.clone();
            (get.bytes().await, e_tag)
        }
        Err(object_store::Error::NotFound { .. }) => return Ok(Some((T::default(), None))),
        Err(object_store::Error::NotModified { .. }) => return Ok(None),
        Err(e) => (Err(e), None),
    };
    let bytes = bytes.map_err(|source| Error::ObjectStore {
        path: root.display_path(&path),
        source,
    })?;
    serde_json::from_slice(&bytes)
        .map(|value| Some((value, e_tag)))
        .map_err(|e| Error::Unavailable {
            location: root.display_path(&path),
            message: format!("{what} does not parse ({e}); {fix}"),
            source: None,
        })
}

/// How many times [`update`] reads and writes again after another writer
/// changed the file between its read and its write.
const UPDATE_TRIES: u32 = 40;

/// Change the file `name` by `change` (applied to `T::default()` when there
/// is none, or when it does not parse: it is replaced), without losing
/// another writer's change: the file is put only if it is still the version
/// read (`PutMode::Update` with its e-tag, `PutMode::Create` when there was
/// none). When another writer came between, it is read, changed and put
/// again, up to [`UPDATE_TRIES`] times, after a short random pause. On a
/// store without conditional puts (S3 with `aws_conditional_put=disabled`)
/// it is read, changed and put plainly, as [`write`] does: a change of
/// another process may then be lost.
pub(crate) async fn update<T: Serialize + DeserializeOwned + Default>(
    root: &CacheRoot,
    name: &str,
    what: &str,
    fix: &str,
    mut change: impl FnMut(&mut T),
) -> Result<()> {
    let path = path(root, name);
    let store = root.store();
    let failed = |source| Error::ObjectStore {
        path: root.display_path(&path),
        source,
    };
    for attempt in 0..UPDATE_TRIES {
        let (mut value, version) = match store.get_opts(&path, GetOptions::default()).await {
            Ok(get) => {
                let version = UpdateVersion {
                    e_tag: get.meta.e_tag.clone(),
                    version: get.meta.version.clone(),
                };
                let bytes = get.bytes().await.map_err(failed)?;
                let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    tracing::warn!(
                        file = %root.display_path(&path),
                        error = %e,
                        detail = format!("{what} does not parse: replaced ({fix})"),
                        "root_file_replaced"
                    );
                    T::default()
                });
                (value, Some(version))
            }
            Err(object_store::Error::NotFound { .. }) => (T::default(), None),
            Err(e) => return Err(failed(e)),
        };
        change(&mut value);
        let payload = PutPayload::from(encode(root, &value, what)?);
        let mode = match version {
            Some(version) => PutMode::Update(version),
            None => PutMode::Create,
        };
        root.prepare_dir(root.prefix())?;
        match store
            .put_opts(&path, payload.clone(), PutOptions::from(mode))
            .await
        {
            Ok(_) => return root.restrict_file(&path),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => {
                tracing::debug!(file = %root.display_path(&path), attempt, "root_file_changed_meanwhile");
                tokio::time::sleep(pause(attempt)).await;
            }
            Err(object_store::Error::NotImplemented { .. }) => {
                tracing::debug!(file = %root.display_path(&path), "root_file_put_unconditional");
                return put(root, root.prefix(), &path, payload).await;
            }
            Err(e) => return Err(failed(e)),
        }
    }
    Err(Error::Unavailable {
        location: root.display_path(&path),
        message: format!(
            "{what} changed under every one of {UPDATE_TRIES} writes (other processes writing \
             it all the time); try again"
        ),
        source: None,
    })
}

/// A random pause growing with `attempt`, so that racing writers part.
fn pause(attempt: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let ceiling_ms = 2u64 << attempt.min(5);
    Duration::from_micros(u64::from(nanos) % (ceiling_ms * 1000))
}

fn encode<T: Serialize>(root: &CacheRoot, value: &T, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| Error::Unavailable {
        location: root.location().to_string(),
        message: format!("cannot encode {what}: {e}"),
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
    let body = encode(root, value, what)?;
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
