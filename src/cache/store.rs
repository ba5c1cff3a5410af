//! Opening a cache root: a local directory or an object store URL.
//!
//! A local root is one nobody else controls, as ssh wants of `~/.ssh`: an
//! existing directory owned by another user, or writable by group or
//! others, is refused with the `chmod` that fixes it; one the cache creates
//! gets mode 0700. Directories the cache creates below it get 0700 before
//! anything is written into them, and every file it writes is set to 0600
//! right after (`LocalFileSystem` itself follows the umask). Nothing below
//! the root is reached through a symbolic link ([`LocalStore`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;

use super::error::{Error, Result};
use super::local_store::LocalStore;
use super::memo::SessionMemos;
use super::symlinks::refuse_links;
use super::url_store::{Opened, open_url};

/// Where the cache lives: an object store, a key prefix inside it, and, for
/// local roots, the directory (to keep it owner-only).
#[derive(Clone)]
pub struct CacheRoot {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// `scheme://authority` or the local directory: what object paths are
    /// shown relative to in messages.
    base: String,
    location: String,
    local_dir: Option<PathBuf>,
    /// What this session learnt of the root (shared by clones).
    pub(crate) memos: SessionMemos,
}

impl fmt::Debug for CacheRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheRoot")
            .field("location", &self.location)
            .field("prefix", &self.prefix.as_ref())
            .field("store", &self.store.to_string())
            .finish()
    }
}

impl CacheRoot {
    /// Open a cache root from a directory path or a URL.
    ///
    /// * a path (`/var/cache/rapid7`, `./cache`) or `file:///…`: a local
    ///   directory, created with mode 0700 if missing;
    /// * `s3://bucket/prefix`: S3 through `AmazonS3Builder::from_env()`, so
    ///   `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    ///   `AWS_REGION`, `AWS_ALLOW_HTTP`, … apply;
    /// * `memory://`: an in-process store (for experiments).
    pub fn open(location: &str) -> Result<Self> {
        Self::open_with_options(location, std::iter::empty::<(&str, &str)>())
    }

    /// Like [`CacheRoot::open`], with extra object store options applied after
    /// the environment (e.g. `("aws_endpoint", "http://127.0.0.1:9000")`).
    /// Unknown keys are an error.
    pub fn open_with_options<I, K, V>(location: &str, options: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let opened = open_url(location, options).map_err(|e| Error::Unavailable {
            location: location.to_string(),
            message: e.message,
            source: e.source.map(|e| Box::new(e) as _),
        })?;
        match opened {
            Opened::Local(dir) => Self::local(dir),
            Opened::Remote {
                url, store, prefix, ..
            } => Ok(CacheRoot {
                store,
                prefix,
                base: url[..url::Position::BeforePath].to_string(),
                location: location.to_string(),
                local_dir: None,
                memos: SessionMemos::default(),
            }),
        }
    }

    /// Open (and create, mode 0700) a local directory as the cache root.
    ///
    /// An existing directory must belong to the current user and be
    /// writable by nobody else (group and others): otherwise someone else
    /// could plant or swap the files queries read. The error says how to fix
    /// it (`chmod 700 …`).
    pub fn local(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir: PathBuf = dir.into();
        let location = dir.display().to_string();
        let unavailable =
            |message: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
                Error::Unavailable {
                    location: location.clone(),
                    message,
                    source,
                }
            };
        let dir = std::path::absolute(&dir)
            .map_err(|e| unavailable("cannot resolve the directory".into(), Some(Box::new(e))))?;
        let existed = std::fs::metadata(&dir).is_ok();
        create_private_dirs(&dir).map_err(|e| {
            unavailable(
                "cannot create the cache directory; choose a writable directory with \
                 RAPID7_CACHE, or read and write no cache with RAPID7_BYPASS_CACHE=true"
                    .into(),
                Some(Box::new(e)),
            )
        })?;
        if !existed {
            set_mode(&dir, 0o700).map_err(|e| {
                unavailable(
                    "cannot make the new cache directory owner-only".into(),
                    Some(Box::new(e)),
                )
            })?;
        }
        check_private(&dir).map_err(|message| unavailable(message, None))?;
        probe_writable(&dir).map_err(|e| {
            unavailable(
                "the cache directory is not writable; fix its permissions, choose another \
                 with RAPID7_CACHE, or read and write no cache with RAPID7_BYPASS_CACHE=true"
                    .into(),
                Some(Box::new(e)),
            )
        })?;
        let store = LocalStore::new(&dir)
            .map_err(|e| unavailable("cannot open the directory".into(), Some(Box::new(e))))?;
        Ok(CacheRoot {
            store: Arc::new(store),
            prefix: Path::default(),
            base: dir.display().to_string(),
            location,
            local_dir: Some(dir),
            memos: SessionMemos::default(),
        })
    }

    /// Use an existing store with a key prefix (no local permission handling).
    pub fn from_store(
        store: Arc<dyn ObjectStore>,
        prefix: Path,
        location: impl Into<String>,
    ) -> Self {
        let location = location.into();
        CacheRoot {
            store,
            prefix,
            base: location.clone(),
            location,
            local_dir: None,
            memos: SessionMemos::default(),
        }
    }

    /// The object store holding the cache.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The key prefix of the cache inside the store (empty for local roots).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The root as configured.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The local directory, for local roots.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        self.local_dir.as_deref()
    }

    /// A full, human-readable location for an object path, for messages.
    pub fn display_path(&self, path: &Path) -> String {
        format!("{}/{}", self.base.trim_end_matches('/'), path.as_ref())
    }

    /// Before writing into `dir`: on local roots, create it and its missing
    /// parents with mode 0700 (refusing a path through a symbolic link).
    pub(crate) fn prepare_dir(&self, dir: &Path) -> Result<()> {
        if let Some(fs_dir) = self.fs_path(dir) {
            self.refuse_links(&fs_dir)?;
            create_private_dirs(&fs_dir).map_err(|source| Error::Io {
                action: "create the cache directory",
                path: fs_dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// After writing `file`: on local roots, make it owner-only (0600).
    pub(crate) fn restrict_file(&self, file: &Path) -> Result<()> {
        if let Some(fs_file) = self.fs_path(file) {
            self.refuse_links(&fs_file)?;
            set_mode(&fs_file, 0o600).map_err(|source| Error::Io {
                action: "set mode 0600 on",
                path: fs_file.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn refuse_links(&self, fs_path: &std::path::Path) -> Result<()> {
        let root = self.local_dir.as_deref().unwrap_or(fs_path);
        refuse_links(root, fs_path).map_err(|e| Error::Unavailable {
            location: self.location.clone(),
            message: e.to_string(),
            source: None,
        })
    }

    pub(crate) fn fs_path(&self, path: &Path) -> Option<PathBuf> {
        let mut p = self.local_dir.clone()?;
        p.extend(path.parts().map(|part| part.as_ref().to_string()));
        Some(p)
    }
}

/// Create `dir` and its missing parents, each new one with mode 0700 (owner
/// only: they hold log data).
pub(crate) fn create_private_dirs(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &std::path::Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// `Err` with what to do unless `dir` belongs to the current user and no
/// one else (group, others) may write into it. The message reads like ssh's.
#[cfg(unix)]
fn check_private(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)
        .map_err(|e| format!("cannot read the permissions of {}: {e}", dir.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "bad ownership on {dir}: it belongs to uid {owner}, not to you (uid {me}), so its \
             owner could change what queries read; use a directory of your own (RAPID7_CACHE), \
             or fix with chown {me} {dir} && chmod 700 {dir}",
            dir = dir.display(),
            owner = meta.uid(),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "bad permissions on {dir}: it is writable by {who} (mode {mode:04o}), so others \
             could change what queries read; fix with chmod 700 {dir}",
            dir = dir.display(),
            who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "group and others",
                (true, false) => "its group",
                _ => "others",
            },
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &std::path::Path) -> Result<(), String> {
    Ok(())
}

fn probe_writable(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".write-probe-{:08x}", fastrand::u32(..)));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_root_is_created_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        let root = CacheRoot::open(dir.to_str().unwrap()).unwrap();
        assert_eq!(root.local_dir(), Some(dir.as_path()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        let url = format!("file://{}", dir.display());
        let again = CacheRoot::open(&url).unwrap();
        assert_eq!(again.local_dir(), Some(dir.as_path()));
    }

    #[test]
    fn unusable_roots_name_the_location() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let bad = file.join("cache");
        let err = CacheRoot::open(bad.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }));
        assert!(err.to_string().contains(bad.to_str().unwrap()), "{err}");

        let err = CacheRoot::open("ftp://host/x").unwrap_err();
        assert!(err.to_string().contains("ftp://host/x"), "{err}");
        let err = CacheRoot::open_with_options("s3://b/p", [("no_such_option", "1")]).unwrap_err();
        assert!(err.to_string().contains("s3://b/p"), "{err}");
    }

    #[test]
    fn s3_and_memory_urls() {
        let root = CacheRoot::open_with_options(
            "s3://bucket/some/prefix",
            [
                ("aws_endpoint", "http://127.0.0.1:1"),
                ("aws_allow_http", "true"),
                ("aws_region", "us-east-1"),
            ],
        )
        .unwrap();
        assert_eq!(root.prefix().as_ref(), "some/prefix");
        assert_eq!(
            root.display_path(&Path::from("some/prefix/logs/x")),
            "s3://bucket/some/prefix/logs/x"
        );
        let mem = CacheRoot::open("memory:///p").unwrap();
        assert_eq!(mem.prefix().as_ref(), "p");
        assert!(mem.local_dir().is_none());
    }
}
