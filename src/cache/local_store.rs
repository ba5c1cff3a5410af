//! [`LocalStore`]: the object store of a local cache root. `LocalFileSystem`,
//! except that it never follows a symbolic link inside the root.
//!
//! `LocalFileSystem` follows links everywhere: a link planted at
//! `logs/{id}` would make `cache drop` delete whatever it points to, and one
//! at a segment directory would send writes and reads elsewhere. Here every
//! read, write and delete of a path through a link is refused (naming the
//! link), and listings skip links with a warning (`local_list.rs`, which
//! lists the same objects `LocalFileSystem` does otherwise).
//!
//! It also does what `LocalFileSystem` does not: `PutMode::Update` (a put
//! only if the object's e-tag is still the one read), under a `flock` of the
//! object's directory, for the root's read-merge-write files
//! (`root_file::update`).

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result, UpdateVersion,
};

use super::local_list::{DirMemo, list_level, list_local};
use super::symlinks::refuse_links;

const STORE: &str = "LocalFileSystem";

/// `LocalFileSystem` rooted at a directory, refusing symbolic links below it.
#[derive(Debug)]
pub(crate) struct LocalStore {
    inner: LocalFileSystem,
    /// The root, links resolved (as `LocalFileSystem` resolves it).
    root: Arc<PathBuf>,
}

impl LocalStore {
    /// A store over the directory `root`.
    pub(crate) fn new(root: &std::path::Path) -> Result<Self> {
        let inner = LocalFileSystem::new_with_prefix(root)?;
        let root = std::fs::canonicalize(root).map_err(|e| generic(Box::new(e)))?;
        Ok(LocalStore {
            inner,
            root: Arc::new(root),
        })
    }

    /// `Err` when `location` lies through a symbolic link.
    fn check(&self, location: &Path) -> Result<()> {
        let path = self.inner.path_to_filesystem(location)?;
        refuse_links(&self.root, &path).map_err(|e| generic(Box::new(e)))
    }
}

impl LocalStore {
    /// `PutMode::Update`, which `LocalFileSystem` does not implement: under
    /// an exclusive `flock` of the object's directory (held by every update
    /// of this store in any process, released with the descriptor, also when
    /// a process dies), put `payload` only if the object's e-tag is still
    /// `expected`'s; `Precondition` otherwise, or when the object is gone.
    /// The put itself is `LocalFileSystem`'s (a staged file renamed over the
    /// old one), so readers never see a partial object.
    async fn put_if_unchanged(
        &self,
        location: &Path,
        payload: PutPayload,
        expected: UpdateVersion,
        mut opts: PutOptions,
    ) -> Result<PutResult> {
        let Some(e_tag) = expected.e_tag else {
            return Err(generic("an e-tag is required for a conditional put".into()));
        };
        let path = self.inner.path_to_filesystem(location)?;
        let dir = path
            .parent()
            .ok_or_else(|| generic(format!("{} has no directory", path.display()).into()))?
            .to_path_buf();
        let _locked = tokio::task::spawn_blocking(move || {
            let dir = std::fs::File::open(&dir)?;
            dir.lock()?;
            Ok::<_, std::io::Error>(dir)
        })
        .await
        .map_err(joined)?
        .map_err(|e| generic(Box::new(e)))?;
        let precondition = |message: String| object_store::Error::Precondition {
            path: location.to_string(),
            source: message.into(),
        };
        match self.inner.head(location).await {
            Ok(meta) if meta.e_tag.as_deref() == Some(e_tag.as_str()) => {}
            Ok(_) => return Err(precondition(format!("the e-tag is no longer {e_tag}"))),
            Err(object_store::Error::NotFound { .. }) => {
                return Err(precondition("the object does not exist".into()));
            }
            Err(e) => return Err(e),
        }
        opts.mode = PutMode::Overwrite;
        self.inner.put_opts(location, payload, opts).await
    }
}

fn generic(source: Box<dyn std::error::Error + Send + Sync>) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source,
    }
}

fn joined(e: tokio::task::JoinError) -> object_store::Error {
    match e.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(e) => generic(Box::new(e)),
    }
}

impl fmt::Display for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalStore({})", self.root.display())
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.check(location)?;
        if let PutMode::Update(expected) = &opts.mode {
            let expected = expected.clone();
            return self
                .put_if_unchanged(location, payload, expected, opts)
                .await;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.check(location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.check(location)?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.check(location)?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let (inner, root) = (self.inner.clone(), Arc::clone(&self.root));
        let checked = locations
            .map(move |location| {
                let location = location?;
                let path = inner.path_to_filesystem(&location)?;
                refuse_links(&root, &path).map_err(|e| generic(Box::new(e)))?;
                Ok(location)
            })
            .boxed();
        self.inner.delete_stream(checked)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let (root, prefix) = (Arc::clone(&self.root), prefix.cloned().unwrap_or_default());
        futures::stream::once(async move {
            let walked = tokio::task::spawn_blocking(move || {
                list_local(&root, &prefix, &DirMemo::default())
            })
            .await
            .map_err(joined)?;
            let objects = walked.map_err(|e| generic(Box::new(e)))?.into_objects();
            Ok::<_, object_store::Error>(futures::stream::iter(objects.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let (root, prefix) = (Arc::clone(&self.root), prefix.cloned().unwrap_or_default());
        let (objects, common_prefixes) =
            tokio::task::spawn_blocking(move || list_level(&root, &prefix))
                .await
                .map_err(joined)?
                .map_err(|e| generic(Box::new(e)))?;
        Ok(ListResult {
            common_prefixes,
            objects,
        })
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.check(from)?;
        self.check(to)?;
        self.inner.rename_opts(from, to, options).await
    }
}
