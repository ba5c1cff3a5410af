//! The log sets of the log list (each log's `logsets_info`), as the
//! directory keeps them and the cache records them; `provider/logsets.rs`
//! makes them tables.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListBuilder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::ScalarValue;

use crate::cache::StoredLogSet;
use crate::client::{LogInfo, LogSetDetail};
use crate::events::{columns, logs_table_schema};
use crate::log_id::LogRef;

/// A log set and its logs (ids), as the last log list showed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogSet {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) logs: Vec<String>,
}

/// The name a log set goes by in the `logset` column: its name, or its id
/// when it has none.
pub(crate) fn column_name(set: &LogSet) -> &str {
    if set.name.is_empty() {
        &set.id
    } else {
        &set.name
    }
}

/// The `logset` column's value of each log: the names of its sets, sorted,
/// each once. Built from the directory's sets when a statement is planned,
/// so that every row of the statement shows the same sets, whatever path
/// (cached part, fetch, live read) it comes by.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogSetsOf(Arc<HashMap<String, Arc<[String]>>>);

impl LogSetsOf {
    /// The sets of each log of `sets`.
    pub(crate) fn new(sets: &[LogSet]) -> Self {
        let mut of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for set in sets {
            for log in &set.logs {
                of.entry(log.as_str()).or_default().insert(column_name(set));
            }
        }
        LogSetsOf(Arc::new(
            of.into_iter()
                .map(|(log, names)| {
                    (
                        log.to_string(),
                        names.into_iter().map(String::from).collect(),
                    )
                })
                .collect(),
        ))
    }

    /// The names of the sets `log_id` is in, sorted (empty: in none).
    pub(crate) fn of(&self, log_id: &str) -> &[String] {
        self.0.get(log_id).map_or(&[], |names| names)
    }

    /// The `logset` value of every row of `log_id`, as a scalar (the
    /// partition value of a cached part).
    pub(crate) fn scalar(&self, log_id: &str) -> ScalarValue {
        let values: Vec<ScalarValue> = self
            .of(log_id)
            .iter()
            .map(|n| ScalarValue::Utf8(Some(n.clone())))
            .collect();
        ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Utf8))
    }

    /// The `logset` column of rows whose log ids are `log_ids`.
    fn column(&self, log_ids: &ArrayRef) -> Result<ArrayRef, ArrowError> {
        let ids = datafusion::arrow::compute::cast(log_ids, &DataType::Utf8)?;
        let ids = ids.as_string::<i32>();
        let mut builder = ListBuilder::new(StringBuilder::new());
        for i in 0..ids.len() {
            if ids.is_valid(i) {
                for name in self.of(ids.value(i)) {
                    builder.values().append_value(name);
                }
            }
            builder.append(true);
        }
        Ok(Arc::new(builder.finish()))
    }

    /// `batch`, of the event schema (a part's or a page's rows), as rows of
    /// `rapid7_logs`: with `logset` after its columns, from each row's
    /// `log_id`.
    pub(crate) fn with_column(&self, batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
        let ids = batch.column_by_name(columns::LOG_ID).ok_or_else(|| {
            ArrowError::SchemaError("a batch of events without its log_id column".into())
        })?;
        let sets = self.column(ids)?;
        let mut all = batch.columns().to_vec();
        all.push(sets);
        RecordBatch::try_new(logs_table_schema(), all)
    }
}

/// The log sets of `GET /management/logsets` (`listed`, when the endpoint
/// answered: sets without a log too) and those the logs of a list name
/// (`logsets_info`), by name then id; each set's logs once, sorted. A set
/// both list has the name `listed` gives it and the logs of both.
pub(crate) fn from_lists(listed: Option<&[LogSetDetail]>, infos: &[LogInfo]) -> Vec<LogSet> {
    let mut sets: BTreeMap<&str, (&str, BTreeSet<&str>)> = BTreeMap::new();
    for set in listed.unwrap_or_default() {
        if set.id.is_empty() {
            continue;
        }
        let entry = sets
            .entry(set.id.as_str())
            .or_insert((set.name.as_str(), BTreeSet::new()));
        entry.1.extend(
            set.logs_info
                .iter()
                .map(|l| l.id.as_str())
                .filter(|id| !id.is_empty()),
        );
    }
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
/// without a log stays, empty (its table reads nothing).
pub(crate) fn keep_logs(sets: Vec<LogSet>, logs: &[LogRef]) -> Vec<LogSet> {
    let known: HashSet<&str> = logs.iter().map(|l| l.id.as_str()).collect();
    sets.into_iter()
        .map(|mut s| {
            s.logs.retain(|id| known.contains(id.as_str()));
            s
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
        let sets = from_lists(None, &infos);
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
        // Only the logs a query can read; a set left empty stays, empty.
        let logs = [LogRef {
            id: "a".into(),
            name: None,
        }];
        let kept = keep_logs(sets, &logs);
        let got: Vec<_> = kept
            .iter()
            .map(|s| (s.name.as_str(), s.logs.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                ("Network", "a".into()),
                ("Ops team", String::new()),
                ("Security", "a".into())
            ]
        );
    }

    #[test]
    fn listed_sets_add_sets_without_logs_and_keep_their_names() {
        let detail = |id: &str, name: &str, logs: &[&str]| LogSetDetail {
            id: id.into(),
            name: name.into(),
            logs_info: logs
                .iter()
                .map(|l| LogSetInfo {
                    id: (*l).into(),
                    name: l.to_uppercase(),
                })
                .collect(),
        };
        let listed = [
            detail("s1", "Network", &["b"]),
            detail("s4", "Empty", &[]),
            detail("", "no id", &["a"]),
        ];
        let infos = [
            info("a", &[("s1", "Old name")]),
            info("c", &[("s5", "Web")]),
        ];
        let sets = from_lists(Some(&listed), &infos);
        let got: Vec<_> = sets
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str(), s.logs.join(",")))
            .collect();
        assert_eq!(
            got,
            [
                ("s4", "Empty", String::new()),
                ("s1", "Network", "a,b".into()),
                ("s5", "Web", "c".into())
            ]
        );
        // The column: each log's set names, sorted; an unnamed set by id.
        let of = LogSetsOf::new(&[
            LogSet {
                id: "s9".into(),
                name: String::new(),
                logs: vec!["a".into()],
            },
            sets[1].clone(),
        ]);
        assert_eq!(of.of("a"), ["Network", "s9"]);
        assert!(of.of("zz").is_empty());
    }
}
