//! Where a Delta table lives: a local directory, `s3://bucket/prefix` or
//! `memory://` (in-process, for experiments), and the object store deltalake
//! reaches it through.
//!
//! URLs are opened by the cache's opener (`cache::url_store`, so the
//! `AWS_*` variables apply as they do for the cache), S3 with
//! deltalake's default log store on top: a commit is a create-only put of
//! `_delta_log/{version}.json` (`If-None-Match: *`), so two writers can never
//! both commit a version. deltalake's own S3 crate (DynamoDB locking, the AWS
//! SDK) is not needed for that and is not built.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Once};

use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories,
};
use deltalake::{DeltaResult, DeltaTable, DeltaTableBuilder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme};
use url::Url;

use crate::cache::store::create_private_dirs;
use crate::cache::url_store::{Opened, open_url};
use crate::cache::validate_component;
use crate::error::{Error, Result};

/// A Delta table's location and the store under it.
#[derive(Clone)]
pub struct TableLocation {
    url: Url,
    /// The store, rooted at the bucket (S3) or at `/` (local).
    store: Arc<dyn ObjectStore>,
    /// The directory, for a local table.
    local_dir: Option<PathBuf>,
}

impl fmt::Debug for TableLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableLocation")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for TableLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.local_dir {
            Some(dir) => write!(f, "{}", dir.display()),
            None => write!(f, "{}", self.url),
        }
    }
}

impl TableLocation {
    /// A directory path, `file:///…`, `s3://bucket/prefix` or `memory:///…`
    /// (a new in-process store, shared by the [`child`](Self::child)ren of
    /// this location only).
    pub fn open(location: &str) -> Result<Self> {
        Self::open_with_options(location, std::iter::empty::<(&str, &str)>())
    }

    /// Like [`TableLocation::open`], with S3 options applied after the
    /// environment (e.g. `("aws_endpoint", "http://127.0.0.1:9000")`).
    /// Unknown keys are an error.
    pub fn open_with_options<I, K, V>(location: &str, options: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let bad = |message: String| Error::Publish {
            table: location.to_string(),
            message,
            source: None,
        };
        let opened = open_url(location, options).map_err(|e| Error::Publish {
            table: location.to_string(),
            message: e.message,
            source: e.source.map(|e| Box::new(e) as _),
        })?;
        match opened {
            Opened::Local(dir) => Self::local(
                std::path::absolute(dir).map_err(|e| bad(format!("not a usable path: {e}")))?,
            ),
            // deltalake's log store takes `s3://` (registered below) and
            // `memory://` (its own); a store found from another form of S3
            // URL would be rooted elsewhere than the table URL says.
            Opened::Remote {
                mut url,
                scheme,
                store,
                ..
            } => {
                match (scheme, url.scheme()) {
                    (ObjectStoreScheme::AmazonS3, "s3") => register_s3_log_store(),
                    (ObjectStoreScheme::Memory, _) => {}
                    (_, other) => {
                        return Err(bad(format!(
                            "{other}:// is not supported for a table; use a directory or \
                             s3://bucket/prefix"
                        )));
                    }
                }
                let trimmed = url.path().trim_end_matches('/').to_string();
                url.set_path(&trimmed);
                Ok(TableLocation {
                    url,
                    store,
                    local_dir: None,
                })
            }
        }
    }

    fn local(dir: PathBuf) -> Result<Self> {
        let url = Url::from_directory_path(&dir).map_err(|()| Error::Publish {
            table: dir.display().to_string(),
            message: "not an absolute path".into(),
            source: None,
        })?;
        let mut url = url;
        let trimmed = url.path().trim_end_matches('/').to_string();
        url.set_path(&trimmed);
        Ok(TableLocation {
            url,
            store: Arc::new(LocalFileSystem::new()),
            local_dir: Some(dir),
        })
    }

    /// The table of one log below this prefix: `{prefix}/{log_id}`.
    pub fn child(&self, log_id: &str) -> Result<Self> {
        validate_component(log_id)?;
        let mut child = self.clone();
        match &self.local_dir {
            Some(dir) => return Self::local(dir.join(log_id)),
            None => {
                let path = format!("{}/{log_id}", self.url.path().trim_end_matches('/'));
                child.url.set_path(&path);
            }
        }
        Ok(child)
    }

    /// The table URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The local directory of a local table.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        self.local_dir.as_deref()
    }

    /// The store path of the table root.
    fn root_path(&self) -> Path {
        match &self.local_dir {
            Some(dir) => Path::from_absolute_path(dir).unwrap_or_default(),
            None => Path::from(self.url.path()),
        }
    }

    /// Whether a Delta log exists here (`_delta_log/` has an entry).
    pub async fn is_table(&self) -> Result<bool> {
        use futures::TryStreamExt;
        let log = self.root_path().join("_delta_log");
        let mut list = self.store.list(Some(&log));
        list.try_next()
            .await
            .map(|first| first.is_some())
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(false),
                e => Err(self.error("cannot list the table's _delta_log", e)),
            })
    }

    /// Create a local table's directory (mode 0700: it holds log data).
    pub(crate) fn create_dir(&self) -> Result<()> {
        let Some(dir) = &self.local_dir else {
            return Ok(());
        };
        create_private_dirs(dir).map_err(|e| Error::Publish {
            table: self.to_string(),
            message: "cannot create the table directory".into(),
            source: Some(Box::new(e)),
        })
    }

    /// A [`DeltaTable`] handle over this location, not loaded.
    pub(crate) fn builder(&self) -> Result<DeltaTableBuilder> {
        DeltaTableBuilder::from_url(self.url.clone())
            .map(|b| b.with_storage_backend(Arc::clone(&self.store), self.url.clone()))
            .map_err(|e| self.delta_error("not a usable table location", e))
    }

    /// The table, loaded; `None` when there is no table here yet.
    pub(crate) async fn load(&self) -> Result<Option<DeltaTable>> {
        if self.local_dir.as_ref().is_some_and(|d| !d.exists()) {
            return Ok(None);
        }
        let mut table = self
            .builder()?
            .build()
            .map_err(|e| self.delta_error("not a usable table location", e))?;
        match table.load().await {
            Ok(()) => Ok(Some(table)),
            Err(deltalake::DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(self.delta_error("cannot read the table's log", e)),
        }
    }

    /// Delete a file of the table (an uncommitted data file), ignoring a
    /// file that is already gone.
    pub(crate) async fn delete(&self, relative: &str) -> Result<()> {
        let path = Path::from_iter(self.root_path().parts().chain(Path::from(relative).parts()));
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("cannot delete an uncommitted data file", e)),
        }
    }

    pub(crate) fn error(&self, message: &str, e: object_store::Error) -> Error {
        Error::Publish {
            table: self.to_string(),
            message: message.to_string(),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn delta_error(&self, message: &str, e: deltalake::DeltaTableError) -> Error {
        Error::Publish {
            table: self.to_string(),
            message: message.to_string(),
            source: Some(Box::new(e)),
        }
    }
}

/// deltalake's default log store (commits by create-only put) for `s3://`
/// tables over a store we build; registered once per process, unless a log
/// store for `s3://` is already registered.
fn register_s3_log_store() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(scheme) = Url::parse("s3://") {
            logstore_factories()
                .entry(scheme)
                .or_insert_with(|| Arc::new(ConditionalPutLogStore));
        }
    });
}

/// A [`LogStoreFactory`] of deltalake's default log store.
struct ConditionalPutLogStore;

impl LogStoreFactory for ConditionalPutLogStore {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

impl TableLocation {
    /// The tables directly below this prefix (one per log, named after its
    /// id), sorted by name; names that are not valid log ids are skipped.
    pub async fn children(&self) -> Result<Vec<(String, TableLocation)>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.root_path()))
            .await
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(object_store::ListResult {
                    common_prefixes: Vec::new(),
                    objects: Vec::new(),
                }),
                e => Err(self.error("cannot list the prefix", e)),
            })?;
        let mut out = Vec::new();
        for dir in listing.common_prefixes {
            let Some(name) = dir.filename().map(str::to_string) else {
                continue;
            };
            if validate_component(&name).is_err() {
                continue;
            }
            let child = self.child(&name)?;
            if child.is_table().await? {
                out.push((name, child));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}
