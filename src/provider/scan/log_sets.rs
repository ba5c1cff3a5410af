//! The log sets of the log list (each log's `logsets_info`), as the
//! directory keeps them and the cache records them; `provider/logsets.rs`
//! makes them tables.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::cache::StoredLogSet;
use crate::client::LogInfo;
use crate::log_id::LogRef;

/// A log set and its logs (ids), as the last log list showed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogSet {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) logs: Vec<String>,
}

/// The log sets the logs of a list name (`logsets_info`), by name then id;
/// each set's logs once, sorted.
pub(crate) fn from_infos(infos: &[LogInfo]) -> Vec<LogSet> {
    let mut sets: BTreeMap<&str, (&str, BTreeSet<&str>)> = BTreeMap::new();
    for log in infos {
        for set in &log.logsets_info {
            if set.id.is_empty() {
                continue;
            }
            let entry = sets
                .entry(set.id.as_str())
                .or_insert((set.name.as_str(), BTreeSet::new()));
            entry.1.insert(log.id.as_str());
        }
    }
    sorted(
        sets.into_iter()
            .map(|(id, (name, logs))| LogSet {
                id: id.to_string(),
                name: name.to_string(),
                logs: logs.into_iter().map(str::to_string).collect(),
            })
            .collect(),
    )
}

/// The log sets the cache recorded.
pub(crate) fn from_stored(stored: BTreeMap<String, StoredLogSet>) -> Vec<LogSet> {
    sorted(
        stored
            .into_iter()
            .map(|(id, set)| LogSet {
                id,
                name: set.name,
                logs: set.logs,
            })
            .collect(),
    )
}

/// `sets` as the cache records them.
pub(crate) fn stored(sets: &[LogSet]) -> BTreeMap<String, StoredLogSet> {
    sets.iter()
        .map(|s| {
            let set = StoredLogSet {
                name: s.name.clone(),
                logs: s.logs.clone(),
            };
            (s.id.clone(), set)
        })
        .collect()
}

/// `sets` with only the logs of `logs` (those a query can read); a set left
/// without a log is dropped.
pub(crate) fn keep_logs(sets: Vec<LogSet>, logs: &[LogRef]) -> Vec<LogSet> {
    let known: HashSet<&str> = logs.iter().map(|l| l.id.as_str()).collect();
    sets.into_iter()
        .filter_map(|mut s| {
            s.logs.retain(|id| known.contains(id.as_str()));
            (!s.logs.is_empty()).then_some(s)
        })
        .collect()
}

fn sorted(mut sets: Vec<LogSet>) -> Vec<LogSet> {
    sets.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    sets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::LogSetInfo;

    fn info(id: &str, sets: &[(&str, &str)]) -> LogInfo {
        LogInfo {
            id: id.into(),
            name: id.to_uppercase(),
            source_type: String::new(),
            retention_period: String::new(),
            logsets_info: sets
                .iter()
                .map(|(id, name)| LogSetInfo {
                    id: (*id).into(),
                    name: (*name).into(),
                })
                .collect(),
        }
    }
    #[test]
    fn sets_gather_their_logs_from_the_log_list() {
        let infos = [
            info("a", &[("s1", "Network"), ("s2", "Security")]),
            info("b", &[("s1", "Network")]),
            info("c", &[("s3", "Ops team"), ("", "no id")]),
            info("d", &[]),
        ];
        let sets = from_infos(&infos);
        let got: Vec<_> = sets
            .iter()
            .map(|s| (s.name.as_str(), s.logs.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                ("Network", "a,b".into()),
                ("Ops team", "c".into()),
                ("Security", "a".into())
            ]
        );
        // Round trip through the cache's record.
        assert_eq!(from_stored(stored(&sets)), sets);
        // Only the logs a query can read; a set left empty goes.
        let logs = [LogRef {
            id: "a".into(),
            name: None,
        }];
        let kept = keep_logs(sets, &logs);
        assert_eq!(
            kept.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["Network", "Security"]
        );
    }
}
