//! URL → object store: the one opener behind cache roots
//! ([`CacheRoot::open`](super::CacheRoot::open)) and, with feature `delta`,
//! the locations of published tables.
//!
//! A plain path or `file://` names a local directory, which the caller opens
//! under its own rules (the cache's: [`LocalStore`](super::local_store),
//! never following a link, refusing a root someone else controls). Every
//! other URL goes through `object_store::parse_url_opts`: `memory://` (an
//! in-process store, for experiments) and S3 (`s3://bucket/prefix`), whose
//! options are the `AWS_*` environment variables (as
//! `AmazonS3Builder::from_env` reads them) and then the caller's options,
//! an unknown one being an error.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::aws::AmazonS3ConfigKey;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreScheme};
use url::Url;

/// What a location names.
pub(crate) enum Opened {
    /// A local directory, as given (a path, or the path of a `file://` URL).
    Local(PathBuf),
    /// An object store reached by URL.
    Remote {
        /// The URL as parsed.
        url: Url,
        /// Its scheme: [`ObjectStoreScheme::Memory`] or
        /// [`ObjectStoreScheme::AmazonS3`] (a published table needs S3's
        /// `s3://` form).
        #[cfg_attr(not(feature = "delta"), allow(dead_code))]
        scheme: ObjectStoreScheme,
        /// The store, rooted at the bucket (S3) or at its own root (memory).
        store: Arc<dyn ObjectStore>,
        /// The key prefix inside the store.
        prefix: Path,
    },
}

/// Why a location cannot be opened.
#[derive(Debug)]
pub(crate) struct UrlError {
    pub(crate) message: String,
    pub(crate) source: Option<object_store::Error>,
}

impl UrlError {
    fn new(message: impl Into<String>, source: Option<object_store::Error>) -> Self {
        UrlError {
            message: message.into(),
            source,
        }
    }
}

/// Open `location`: a directory path, `file:///…`, `memory://…` or
/// `s3://bucket/prefix` (see the module docs), with object store `options`
/// applied after the environment.
pub(crate) fn open_url<I, K, V>(location: &str, options: I) -> Result<Opened, UrlError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    if !location.contains("://") {
        return Ok(Opened::Local(PathBuf::from(location)));
    }
    let url =
        Url::parse(location).map_err(|e| UrlError::new(format!("not a valid URL: {e}"), None))?;
    let unsupported = |detail: &dyn std::fmt::Display| {
        UrlError::new(
            format!(
                "{}:// is not supported ({detail}); use a directory or s3://bucket/prefix",
                url.scheme()
            ),
            None,
        )
    };
    let (scheme, path) = ObjectStoreScheme::parse(&url).map_err(|e| unsupported(&e))?;
    let mut settings: Vec<(String, String)> = Vec::new();
    match scheme {
        ObjectStoreScheme::Local => {
            let dir = url
                .to_file_path()
                .map_err(|()| UrlError::new("not a local file URL", None))?;
            return Ok(Opened::Local(dir));
        }
        ObjectStoreScheme::Memory => {}
        ObjectStoreScheme::AmazonS3 => {
            settings.extend(aws_environment());
            for (k, v) in options {
                let key = k.as_ref();
                key.parse::<AmazonS3ConfigKey>()
                    .map_err(|e| UrlError::new(format!("unknown S3 option {key:?}"), Some(e)))?;
                settings.push((key.to_string(), v.into()));
            }
        }
        other => return Err(unsupported(&format_args!("{other:?} is not built in"))),
    }
    let prefix = Path::parse(path.as_ref())
        .map_err(|e| UrlError::new("invalid key prefix", Some(e.into())))?;
    let (store, _) = object_store::parse_url_opts(&url, settings).map_err(|e| {
        let message = match scheme {
            ObjectStoreScheme::AmazonS3 => "cannot configure S3 (see the AWS_* variables)",
            _ => "cannot open the store",
        };
        UrlError::new(message, Some(e))
    })?;
    Ok(Opened::Remote {
        url,
        scheme,
        store: Arc::from(store),
        prefix,
    })
}

/// The `AWS_*` environment variables as S3 options, as
/// `AmazonS3Builder::from_env` reads them (names that are not options are
/// skipped by `parse_url_opts`).
fn aws_environment() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(key, value)| {
        let (key, value) = (key.to_str()?, value.to_str()?);
        key.starts_with("AWS_")
            .then(|| (key.to_ascii_lowercase(), value.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(location: &str) -> Result<Opened, UrlError> {
        open_url(location, std::iter::empty::<(&str, &str)>())
    }

    #[test]
    fn paths_and_file_urls_are_local() {
        let Ok(Opened::Local(dir)) = open("./cache") else {
            panic!("a path is local");
        };
        assert_eq!(dir, PathBuf::from("./cache"));
        let Ok(Opened::Local(dir)) = open("file:///var/cache/rapid7") else {
            panic!("a file URL is local");
        };
        assert_eq!(dir, PathBuf::from("/var/cache/rapid7"));
    }

    #[test]
    fn memory_and_s3_urls_are_stores_with_a_prefix() {
        let Ok(Opened::Remote { scheme, prefix, .. }) = open("memory:///a/b") else {
            panic!("memory:// is a store");
        };
        assert_eq!(
            (scheme, prefix.as_ref()),
            (ObjectStoreScheme::Memory, "a/b")
        );
        let opened = open_url(
            "s3://bucket/some/prefix",
            [
                ("aws_endpoint", "http://127.0.0.1:1"),
                ("aws_region", "us-east-1"),
            ],
        );
        let Ok(Opened::Remote { scheme, prefix, .. }) = opened else {
            panic!("s3:// is a store");
        };
        assert_eq!(
            (scheme, prefix.as_ref()),
            (ObjectStoreScheme::AmazonS3, "some/prefix")
        );
    }

    #[test]
    fn unknown_options_and_schemes_are_refused() {
        let Err(e) = open_url("s3://b/p", [("no_such_option", "1")]) else {
            panic!("an unknown option is an error");
        };
        assert!(e.message.contains("no_such_option"), "{}", e.message);
        for bad in ["ftp://host/x", "gs://bucket/x", "http://host/x"] {
            let Err(e) = open(bad) else {
                panic!("{bad} opens");
            };
            assert!(e.message.contains("s3://bucket/prefix"), "{}", e.message);
        }
        assert!(open("not a url://").is_err());
    }
}
