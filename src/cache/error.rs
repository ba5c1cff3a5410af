//! The cache's error: what reading or writing the segment cache can fail
//! with. The crate's [`Error`](crate::Error) holds it whole
//! ([`crate::Error::Cache`]); cache code that also passes on other layers'
//! errors returns the crate's.

/// A `Result` with the cache's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the segment cache can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path component (log id, file name) that could escape the cache root.
    #[error("refusing unsafe cache path component {component:?}: {reason}")]
    UnsafePath {
        /// The offending component.
        component: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// The cache root cannot be used.
    #[error("cache at {location} is not usable: {message}")]
    Unavailable {
        /// The cache root as configured.
        location: String,
        /// What failed; says how to fix it.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A committed segment cannot be read, or disagrees with its manifest.
    #[error(
        "cache segment {segment} is corrupt: {message}. Fix: drop the log's cached \
         segments (SegmentCache::drop_log; they are fetched again on the next query), \
         or bypass the cache (RAPID7_BYPASS_CACHE=true)"
    )]
    CorruptSegment {
        /// The segment's location under the cache root.
        segment: String,
        /// What is wrong with it.
        message: String,
    },

    /// An object store operation failed.
    #[error("object store error at {path}: {source}")]
    ObjectStore {
        /// Path under the cache root.
        path: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },

    /// A file or directory of a local cache root could not be made or
    /// restricted (owner-only modes).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: `"create the cache directory"`.
        action: &'static str,
        /// The local path.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Writing or reading Parquet failed.
    #[error("parquet error in {path}: {source}")]
    Parquet {
        /// Path of the part.
        path: String,
        /// The Parquet error.
        #[source]
        source: datafusion::parquet::errors::ParquetError,
    },
}
