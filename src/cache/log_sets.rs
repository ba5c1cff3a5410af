//! `_LOGSETS.json` at the cache root: the log sets as the last online log
//! list showed them (each log's `logsets_info`), so that offline sessions
//! still know them (`rapid7_logsets`).
//!
//! ```json
//! {"format": 1,
//!  "logsets": {"<log set id>": {"name": "Network", "logs": ["<log id>"]}}}
//! ```
//!
//! Replaced whole by each online list that differs from it (the list is the
//! truth: a set that went away goes); written only when it changed. Deleting
//! it forgets the sets until the next online session.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::root_file;
use super::store::CacheRoot;

/// File name of the log sets under the cache root.
pub const LOG_SETS_FILE: &str = "_LOGSETS.json";

/// A log set as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLogSet {
    /// Its name.
    pub name: String,
    /// Its logs' ids.
    pub logs: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    format: u32,
    /// log set id → the set.
    #[serde(default)]
    logsets: BTreeMap<String, StoredLogSet>,
}

const WHAT: &str = "the log sets";

/// The log sets recorded (id → set; none when there is no file).
pub(crate) async fn load(root: &CacheRoot) -> Result<BTreeMap<String, StoredLogSet>> {
    let stored: Stored = root_file::read(
        root,
        LOG_SETS_FILE,
        WHAT,
        "delete it, it is rewritten on the next online session",
    )
    .await?;
    Ok(stored.logsets)
}

/// Replace the recorded log sets with `sets`, unless they are already what
/// is recorded.
pub(crate) async fn save(root: &CacheRoot, sets: &BTreeMap<String, StoredLogSet>) -> Result<()> {
    if let Ok(known) = load(root).await
        && known == *sets
    {
        return Ok(());
    }
    let stored = Stored {
        format: 1,
        logsets: sets.clone(),
    };
    root_file::write(root, LOG_SETS_FILE, &stored, WHAT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn log_sets_round_trip_and_are_replaced_whole() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = CacheRoot::local(dir.path()).unwrap();
        assert!(load(&root).await.unwrap().is_empty());
        let set = |name: &str, logs: &[&str]| StoredLogSet {
            name: name.into(),
            logs: logs.iter().map(|l| l.to_string()).collect(),
        };
        let first: BTreeMap<_, _> = [
            ("s1".to_string(), set("Network", &["a", "b"])),
            ("s2".to_string(), set("Security", &["a"])),
        ]
        .into();
        save(&root, &first).await.unwrap();
        assert_eq!(
            load(&CacheRoot::local(dir.path()).unwrap()).await.unwrap(),
            first
        );
        let second: BTreeMap<_, _> = [("s2".to_string(), set("Security", &["a", "c"]))].into();
        save(&root, &second).await.unwrap();
        assert_eq!(load(&root).await.unwrap(), second);
    }
}
