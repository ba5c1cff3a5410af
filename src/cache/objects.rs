//! Listing and deleting objects under the cache root, for maintenance.

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

use super::error::{Error, Result};
use super::layout::MANIFEST_FILE;
use super::store::CacheRoot;

/// Every object under `dir`.
pub(crate) async fn list_objects(root: &CacheRoot, dir: &Path) -> Result<Vec<ObjectMeta>> {
    root.store()
        .list(Some(dir))
        .try_collect()
        .await
        .map_err(|source| Error::ObjectStore {
            path: root.display_path(dir),
            source,
        })
}

/// Delete one object; one already gone is fine.
pub(crate) async fn delete_object(root: &CacheRoot, path: &Path) -> Result<()> {
    match root.store().delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(Error::ObjectStore {
            path: root.display_path(path),
            source,
        }),
    }
}

/// Delete manifests first, then everything else. Returns (manifests, objects).
pub(crate) async fn delete_objects(
    root: &CacheRoot,
    objects: Vec<Path>,
    concurrency: usize,
) -> Result<(usize, usize)> {
    let (manifests, rest): (Vec<Path>, Vec<Path>) = objects
        .into_iter()
        .partition(|p| p.filename() == Some(MANIFEST_FILE));
    let counts = (manifests.len(), manifests.len() + rest.len());
    for batch in [manifests, rest] {
        futures::stream::iter(batch)
            .map(|path| async move { delete_object(root, &path).await })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<()>()
            .await?;
    }
    Ok(counts)
}
