//! The one rule for symbolic links inside a local cache root: never follow
//! one. A link found while listing is skipped with a warning; a path through
//! a link is refused for every read, write and delete.
//!
//! The root itself may be a link (a cache on another disk): it is resolved
//! once, when the root is opened. Nothing below it is.

use std::io;
use std::path::{Path as FsPath, PathBuf};

/// `Err` naming the first symbolic link on the way from `root` (excluded)
/// to `path` (included); `Ok` when there is none. Stops at the first
/// component that does not exist (a write creates the rest).
///
/// This is a check, then a use: it keeps links planted in the tree from
/// being followed, and the root's permissions (owner-only, see `store.rs`)
/// keep anyone else from swapping a component between the two.
pub(crate) fn refuse_links(root: &FsPath, path: &FsPath) -> io::Result<()> {
    let Ok(rest) = path.strip_prefix(root) else {
        return Ok(());
    };
    let mut at = root.to_path_buf();
    for part in rest.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(link_refused(&at)),
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// The error for a path through the link `link` (and its warning).
pub(crate) fn link_refused(link: &FsPath) -> io::Error {
    tracing::warn!(path = %link.display(), "cache_symlink_refused");
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link; the cache never follows links inside its root: \
             remove the link (and move what it points to into place if it is cache data)",
            link.display()
        ),
    )
}

/// A link met while listing a directory: skipped, loudly.
pub(crate) fn link_ignored(link: PathBuf) {
    tracing::warn!(
        path = %link.display(),
        detail = "the cache never follows links inside its root; remove it",
        "cache_symlink_ignored"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_on_the_way_are_refused_and_missing_tails_are_fine() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("logs/a/from=1")).unwrap();
        std::os::unix::fs::symlink(root.join("logs/a"), root.join("logs/b")).unwrap();
        refuse_links(root, &root.join("logs/a/from=1/to=2/part")).unwrap();
        let err = refuse_links(root, &root.join("logs/b/from=1/to=2")).unwrap_err();
        assert!(
            err.to_string().contains("logs/b is a symbolic link"),
            "{err}"
        );
        assert!(refuse_links(root, &root.join("logs/b")).is_err());
        // Outside the root: not ours to judge.
        refuse_links(root, FsPath::new("/elsewhere")).unwrap();
    }
}
