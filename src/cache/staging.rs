//! Staging files of local writes that were killed mid-file.
//!
//! On a local cache a write goes to object_store's staging file
//! (`{name}#{digits}`) and is then renamed into place; a process killed in
//! between leaves the staging file, which listings never show. `gc` walks
//! the segment directories for them.

use std::time::{Duration, SystemTime};

use super::layout::validate_component;
use super::symlinks::link_ignored;

/// What [`remove_staged_files`] found.
#[derive(Debug, Default)]
pub(crate) struct StagedFiles {
    pub(crate) deleted: usize,
    pub(crate) bytes: u64,
    pub(crate) kept: usize,
}

/// On a local cache, a write killed mid-file leaves object_store's staging
/// file (`{name}#{digits}`, written first and then renamed into place).
/// Listings never show such files, so gc's object pass cannot see them:
/// walk `logs/{log}/from=…/to=…/` and delete those idle for `grace`.
pub(crate) fn remove_staged_files(
    logs: &std::path::Path,
    now: SystemTime,
    grace: Duration,
) -> StagedFiles {
    let mut found = StagedFiles::default();
    let mut dirs = vec![(logs.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.file_type().is_symlink() {
                link_ignored(entry.path());
                continue;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if meta.is_dir() {
                // Only the layout's own directories: `{log}/from=…/to=…`
                // (never symlinks: `metadata` of a `DirEntry` does not follow
                // them).
                let ours = match depth {
                    0 => validate_component(&name).is_ok(),
                    1 => name.starts_with("from="),
                    2 => name.starts_with("to="),
                    _ => false,
                };
                if ours {
                    dirs.push((entry.path(), depth + 1));
                }
                continue;
            }
            let staged = depth == 3
                && name
                    .split_once('#')
                    .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !staged {
                continue;
            }
            let idle = meta
                .modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            if idle < grace {
                found.kept += 1;
            } else if std::fs::remove_file(entry.path()).is_ok() {
                tracing::info!(file = %entry.path().display(), "cache_gc_removed_staging_file");
                found.deleted += 1;
                found.bytes += meta.len();
            }
        }
    }
    found
}
