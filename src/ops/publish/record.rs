//! The publish record: which ranges of which log a table holds, kept in the
//! table's own commit log.
//!
//! Every publish commit carries, in its `commitInfo`, the key
//! [`RECORD_KEY`] with the table's whole coverage after that commit, and a
//! `txn` action (application id [`APP_ID`]) whose version is the record's
//! sequence number. Readers of the record walk the history back from the
//! newest commit to the first one with a record (maintenance commits such as
//! `OPTIMIZE` carry none) and check it against the snapshot's `txn` version,
//! which checkpoints keep: a record that cannot be found is an error, never
//! an empty coverage (that would publish everything again).

use serde::{Deserialize, Serialize};

use crate::time::TimeRange;

/// The `commitInfo` key of the record.
pub(crate) const RECORD_KEY: &str = "rapid7";

/// The `txn` application id of publish commits.
pub(crate) const APP_ID: &str = "rapid7-sql publish";

/// Version of the record's format.
pub(crate) const RECORD_FORMAT: u32 = 1;

/// What a publish commit says the table holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PublishRecord {
    /// [`RECORD_FORMAT`].
    pub(crate) format: u32,
    /// The log whose events the table holds.
    pub(crate) log_id: String,
    /// Publish commits so far, this one included (the `txn` version).
    pub(crate) sequence: i64,
    /// The published ranges, `[start_ms, end_ms)`, sorted and merged: every
    /// event of these ranges is in the table, once.
    pub(crate) coverage: Vec<[i64; 2]>,
    /// A token of this commit, so that a publisher whose commit was stored
    /// but not acknowledged recognises it.
    pub(crate) commit_token: String,
}

impl PublishRecord {
    /// The record of an empty table.
    pub(crate) fn empty(log_id: &str) -> Self {
        PublishRecord {
            format: RECORD_FORMAT,
            log_id: log_id.to_string(),
            sequence: 0,
            coverage: Vec::new(),
            commit_token: String::new(),
        }
    }

    /// The coverage as ranges; an invalid range is an error naming it.
    pub(crate) fn ranges(&self) -> Result<Vec<TimeRange>, String> {
        self.coverage
            .iter()
            .map(|[s, e]| {
                TimeRange::new(*s, *e)
                    .map_err(|_| format!("invalid range [{s}, {e}) in the record"))
            })
            .collect()
    }

    /// The next record: `coverage` after this commit, a fresh token.
    pub(crate) fn next(&self, coverage: &[TimeRange]) -> Self {
        PublishRecord {
            format: RECORD_FORMAT,
            log_id: self.log_id.clone(),
            sequence: self.sequence + 1,
            coverage: coverage.iter().map(|r| [r.start(), r.end()]).collect(),
            commit_token: format!("{:016x}", fastrand::u64(..)),
        }
    }

    /// The record from a `commitInfo`'s extra fields, if it has one.
    pub(crate) fn from_commit_info(
        info: &std::collections::HashMap<String, serde_json::Value>,
    ) -> Option<Result<Self, String>> {
        let value = info.get(RECORD_KEY)?;
        Some(
            serde_json::from_value::<PublishRecord>(value.clone())
                .map_err(|e| format!("the {RECORD_KEY:?} entry of a commit does not parse: {e}"))
                .and_then(|r| {
                    if r.format == RECORD_FORMAT {
                        Ok(r)
                    } else {
                        Err(format!(
                            "the table's publish record has format {}, this rapid7-sql knows {RECORD_FORMAT}: \
                             publish with a newer rapid7-sql",
                            r.format
                        ))
                    }
                }),
        )
    }

    /// The record as a `commitInfo` entry.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_commit_info() {
        let r = PublishRecord::empty("log-1");
        let next = r.next(&[TimeRange::new(0, 10).unwrap()]);
        assert_eq!(next.sequence, 1);
        assert_eq!(next.coverage, vec![[0, 10]]);
        assert_eq!(next.commit_token.len(), 16);
        let info = [(RECORD_KEY.to_string(), next.to_json())].into();
        assert_eq!(
            PublishRecord::from_commit_info(&info),
            Some(Ok(next.clone()))
        );
        assert_eq!(next.ranges().unwrap(), vec![TimeRange::new(0, 10).unwrap()]);
        assert!(PublishRecord::from_commit_info(&Default::default()).is_none());
        let mut newer = next.to_json();
        newer["format"] = 2.into();
        let info = [(RECORD_KEY.to_string(), newer)].into();
        let err = PublishRecord::from_commit_info(&info).unwrap().unwrap_err();
        assert!(err.contains("newer rapid7-sql"), "{err}");
        let mut bad = next;
        bad.coverage = vec![[5, 5]];
        assert!(bad.ranges().is_err());
    }
}
