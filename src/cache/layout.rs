//! Where things live under the cache root, and the validation that keeps every
//! path inside it.
//!
//! ```text
//! {prefix}/logs/{log_id}/from={start_ms}/to={end_ms}/part-{writer}-{NNNNN}.parquet
//! {prefix}/logs/{log_id}/from={start_ms}/to={end_ms}/_SEGMENT.json
//! {prefix}/logs/{log_id}/where={filter_key}/from={start_ms}/to={end_ms}/…   (filtered)
//! ```
//!
//! A filtered segment holds only the events of its range that a LEQL filter
//! selects; `{filter_key}` is 16 hex digits of a hash of the filter's
//! canonical text, which its manifest records in full.
//!
//! `{writer}` is a short random token of the writer attempt (8 hex digits):
//! two writers racing on the same range never write the same part name, so the
//! loser cannot clobber the winner's data. Readers never glob for parts: the
//! manifest lists them.

use object_store::path::Path;

use super::error::{Error, Result};
use crate::log_id::check_component;
use crate::time::TimeRange;

/// Directory directly under the prefix that holds one directory per log.
pub const LOGS_DIR: &str = "logs";

/// File name of a segment's manifest, the commit marker.
pub const MANIFEST_FILE: &str = "_SEGMENT.json";

/// Check that `component` is a safe single path component, by the rule of
/// [`LogId`](crate::log_id::LogId): non-empty, not `.` or `..`, no separator,
/// no NUL, no leading dot, at most 200 bytes of `[A-Za-z0-9._-]`.
///
/// Rapid7 log ids are UUIDs; anything that could name another directory is
/// refused with [`Error::UnsafePath`].
pub fn validate_component(component: &str) -> Result<()> {
    check_component(component).map_err(|reason| Error::UnsafePath {
        component: component.to_string(),
        reason,
    })
}

/// `{prefix}/logs`.
pub(crate) fn logs_dir(prefix: &Path) -> Path {
    prefix.clone().join(LOGS_DIR)
}

/// `{prefix}/logs/{log_id}`; the log id is validated.
pub(crate) fn log_dir(prefix: &Path, log_id: &str) -> Result<Path> {
    validate_component(log_id)?;
    Ok(logs_dir(prefix).join(log_id))
}

/// Prefix of the directory of a filter's segments under a log.
const FILTER_DIR: &str = "where=";

/// Where a segment lies under its log: its range and, for a filtered
/// segment, the key of its filter ([`filter_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SegmentKey {
    /// The segment's range.
    pub(crate) range: TimeRange,
    /// The key of its filter; `None` for a segment of every event.
    pub(crate) filter: Option<String>,
}

/// The path key of a filter: 16 hex digits of the FNV-1a hash of its
/// canonical text (the manifest records the text itself).
pub(crate) fn filter_key(filter: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in filter.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `{prefix}/logs/{log_id}[/where={key}]/from={start}/to={end}`.
pub(crate) fn segment_dir(
    prefix: &Path,
    log_id: &str,
    filter: Option<&str>,
    range: TimeRange,
) -> Result<Path> {
    let mut dir = log_dir(prefix, log_id)?;
    if let Some(f) = filter {
        dir = dir.join(format!("{FILTER_DIR}{}", filter_key(f)));
    }
    Ok(dir
        .join(format!("from={}", range.start()))
        .join(format!("to={}", range.end())))
}

/// The manifest path of a segment directory.
pub(crate) fn manifest_path(segment_dir: &Path) -> Path {
    segment_dir.clone().join(MANIFEST_FILE)
}

/// `part-{writer}-{index:05}.parquet`.
pub(crate) fn part_name(writer: &str, index: u32) -> String {
    format!("part-{writer}-{index:05}.parquet")
}

/// The writer token of a part file name, if the name is one of ours.
pub(crate) fn part_writer(name: &str) -> Option<&str> {
    let stem = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    let (writer, index) = stem.rsplit_once('-')?;
    (!writer.is_empty() && !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
        .then_some(writer)
}

const TOMBSTONE_PREFIX: &str = "_RETIRED-";
const TOMBSTONE_SUFFIX: &str = ".json";

/// `_RETIRED-{writer}.json`: the tombstone of a retired segment of that
/// writer (`retire.rs`).
pub(crate) fn tombstone_name(writer: &str) -> String {
    format!("{TOMBSTONE_PREFIX}{writer}{TOMBSTONE_SUFFIX}")
}

/// The writer token of a tombstone file name, if the name is one.
pub(crate) fn tombstone_writer(name: &str) -> Option<&str> {
    let writer = name
        .strip_prefix(TOMBSTONE_PREFIX)?
        .strip_suffix(TOMBSTONE_SUFFIX)?;
    (!writer.is_empty() && writer.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(writer)
}

/// Whether `name` is a file the cache writes into a segment directory (a
/// manifest, a part or a tombstone of our naming): the only files
/// maintenance deletes.
pub(crate) fn is_segment_file(name: &str) -> bool {
    name == MANIFEST_FILE || part_writer(name).is_some() || tombstone_writer(name).is_some()
}

/// A path under `{prefix}/logs/`, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedPath {
    /// The log id.
    pub(crate) log_id: String,
    /// The segment range.
    pub(crate) range: TimeRange,
    /// The segment's filter key, for a filtered segment.
    pub(crate) filter: Option<String>,
    /// The file name inside the segment directory.
    pub(crate) file: String,
}

impl ParsedPath {
    /// The segment the path belongs to.
    pub(crate) fn key(&self) -> SegmentKey {
        SegmentKey {
            range: self.range,
            filter: self.filter.clone(),
        }
    }
}

/// Parse `{prefix}/logs/{log_id}[/where={key}]/from={s}/to={e}/{file}`;
/// `None` for any other shape (foreign files are left alone).
pub(crate) fn parse_path(prefix: &Path, path: &Path) -> Option<ParsedPath> {
    let rest: Vec<_> = path.prefix_match(&logs_dir(prefix))?.collect();
    let (log_id, filter, from, to, file) = match rest.as_slice() {
        [log_id, from, to, file] => (log_id, None, from, to, file),
        [log_id, filter, from, to, file] => {
            let key = filter.as_ref().strip_prefix(FILTER_DIR)?;
            let hex = key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit());
            (log_id, Some(hex.then(|| key.to_string())?), from, to, file)
        }
        _ => return None,
    };
    let log_id = log_id.as_ref();
    validate_component(log_id).ok()?;
    let start = from.as_ref().strip_prefix("from=")?.parse().ok()?;
    let end = to.as_ref().strip_prefix("to=")?.parse().ok()?;
    Some(ParsedPath {
        log_id: log_id.to_string(),
        range: TimeRange::new(start, end).ok()?,
        filter,
        file: file.as_ref().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_traversal() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "/", "\\", "a\0b", ".hidden", "a b", "é",
        ] {
            assert!(
                matches!(validate_component(bad), Err(Error::UnsafePath { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_component(&"a".repeat(201)).is_err());
        for good in ["0b6d1bb9-6f5a-4a3b-9f3e-1d2c3b4a5f60", "Firewall_1", "a.b"] {
            validate_component(good).unwrap();
        }
    }

    #[test]
    fn layout_round_trips() {
        let prefix = Path::from("cache/root");
        let range = TimeRange::new(-5, 1_770_681_600_000).unwrap();
        let dir = segment_dir(&prefix, "abc-1", None, range).unwrap();
        assert_eq!(
            dir.as_ref(),
            "cache/root/logs/abc-1/from=-5/to=1770681600000"
        );
        let part = dir.clone().join(part_name("1a2b3c4d", 7));
        assert_eq!(
            part.as_ref(),
            "cache/root/logs/abc-1/from=-5/to=1770681600000/part-1a2b3c4d-00007.parquet"
        );
        let parsed = parse_path(&prefix, &part).unwrap();
        assert_eq!(parsed.log_id, "abc-1");
        assert_eq!(parsed.range, range);
        assert_eq!(part_writer(&parsed.file), Some("1a2b3c4d"));
        assert_eq!(
            parse_path(&prefix, &manifest_path(&dir)).unwrap().file,
            MANIFEST_FILE
        );
        assert!(parse_path(&prefix, &Path::from("cache/root/logs/x/from=2/to=1/f")).is_none());
        assert!(parse_path(&prefix, &Path::from("cache/root/other/x")).is_none());
        assert!(parse_path(&Path::default(), &Path::from("logs/x/from=1/to=2/f")).is_some());
        // Filtered segments: one directory per filter, keyed by its hash.
        let filtered = segment_dir(&prefix, "abc-1", Some("/x/"), range).unwrap();
        let key = filter_key("/x/");
        assert_eq!(key.len(), 16);
        assert_ne!(key, filter_key("/y/"));
        assert_eq!(
            filtered.as_ref(),
            format!("cache/root/logs/abc-1/where={key}/from=-5/to=1770681600000")
        );
        let parsed = parse_path(&prefix, &manifest_path(&filtered)).unwrap();
        assert_eq!(
            parsed.key(),
            SegmentKey {
                range,
                filter: Some(key)
            }
        );
        assert_eq!(parse_path(&prefix, &part).unwrap().key().filter, None);
        for odd in [
            "where=x",
            "where=0123456789abcdeg",
            "filter=0123456789abcdef",
        ] {
            let p = Path::from(format!(
                "cache/root/logs/abc-1/{odd}/from=1/to=2/_SEGMENT.json"
            ));
            assert!(parse_path(&prefix, &p).is_none(), "{odd}");
        }
        assert_eq!(part_writer("part-00001.parquet"), None);
        assert_eq!(part_writer("_SEGMENT.json"), None);
        assert!(is_segment_file(MANIFEST_FILE) && is_segment_file("part-1a2b3c4d-00007.parquet"));
        assert_eq!(tombstone_name("0a0b0c0d"), "_RETIRED-0a0b0c0d.json");
        assert_eq!(tombstone_writer("_RETIRED-0a0b0c0d.json"), Some("0a0b0c0d"));
        assert!(is_segment_file(&tombstone_name("0a0b0c0d")));
        for other in [
            "_RETIRED-.json",
            "_RETIRED-a.b.json",
            "_SEGMENT.json",
            "x.json",
        ] {
            assert_eq!(tombstone_writer(other), None, "{other}");
        }
        for foreign in [
            "part-00001.parquet",
            "notes.txt",
            "_SEGMENT.json.bak",
            "part-a-1.csv",
        ] {
            assert!(!is_segment_file(foreign), "{foreign}");
        }
    }
}
