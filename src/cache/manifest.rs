//! The segment manifest, `_SEGMENT.json`: the commit marker of a segment and
//! the only thing listing reads.

use serde::{Deserialize, Serialize};

use super::layout::{SegmentKey, filter_key, part_writer, validate_component};
use crate::time::TimeRange;

/// Version of the manifest format written by this crate.
pub const MANIFEST_FORMAT: u32 = 1;

/// One Parquet part of a segment as recorded in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartManifest {
    /// File name inside the segment directory.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Number of rows.
    pub rows: u64,
    /// Smallest `timestamp` in the part, epoch ms (`None` only for no rows).
    pub min_timestamp_ms: Option<i64>,
    /// Largest `timestamp` in the part, epoch ms.
    pub max_timestamp_ms: Option<i64>,
}

/// The manifest of one committed segment: every event of one log for one
/// half-open range that Rapid7 returned and the decoder could read. When
/// that is less than the complete event set, the manifest says so:
/// `events_rejected` counts the events it could not read, and
/// `beyond_retention` records that Rapid7 said the range reaches past the
/// log's retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentManifest {
    /// Manifest format version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// The log id.
    pub log_id: String,
    /// The range this segment holds every event of.
    #[serde(flatten)]
    pub range: TimeRange,
    /// Total rows over all parts.
    pub row_count: u64,
    /// The parts, in write order.
    pub parts: Vec<PartManifest>,
    /// Event schema version ([`crate::events::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// `datafusion-rapid7/{version}` of the writer.
    pub writer_version: String,
    /// Token of the writer attempt that produced the parts.
    pub writer_id: String,
    /// Commit time, epoch ms.
    pub created_at_ms: i64,
    /// Events Rapid7 returned for the range that the decoder rejected (no
    /// readable timestamp or sequence number, no message, another log's
    /// `log_id`); they are in no part. 0 in manifests written before this
    /// field existed.
    #[serde(default)]
    pub events_rejected: u64,
    /// Whether Rapid7 answered `x-beyond-retention: true` for the range: the
    /// events older than the log's retention are missing from it. `false`
    /// in manifests written before this field existed.
    #[serde(default)]
    pub beyond_retention: bool,
    /// For a filtered segment, the canonical LEQL filter (the inside of
    /// `where(...)`) it holds the matching events of; `None` for a segment of
    /// every event (and in manifests written before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

impl SegmentManifest {
    /// Total bytes over all parts.
    pub fn size_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.size_bytes).sum()
    }

    /// Smallest timestamp over all parts.
    pub fn min_timestamp_ms(&self) -> Option<i64> {
        self.parts.iter().filter_map(|p| p.min_timestamp_ms).min()
    }

    /// Largest timestamp over all parts.
    pub fn max_timestamp_ms(&self) -> Option<i64> {
        self.parts.iter().filter_map(|p| p.max_timestamp_ms).max()
    }

    /// Check the manifest against itself and against where it was found.
    /// Returns a description of the first inconsistency.
    pub(crate) fn check(&self, log_id: &str, key: &SegmentKey) -> Result<(), String> {
        let range = key.range;
        if self.filter.as_deref().map(filter_key) != key.filter {
            return Err(match &self.filter {
                Some(f) => format!("manifest of filter {f:?} lies outside that filter's directory"),
                None => "manifest of every event lies in a filter's directory".to_string(),
            });
        }
        if self.format != MANIFEST_FORMAT {
            return Err(format!(
                "manifest format {} is not supported (expected {MANIFEST_FORMAT})",
                self.format
            ));
        }
        if self.log_id != log_id || self.range != range {
            return Err(format!(
                "manifest describes log {} range {} but lies under log {log_id} range {range}",
                self.log_id, self.range
            ));
        }
        let sum: u64 = self.parts.iter().map(|p| p.rows).sum();
        if sum != self.row_count {
            return Err(format!(
                "manifest row_count {} differs from the sum over its parts {sum}",
                self.row_count
            ));
        }
        let mut names = std::collections::HashSet::with_capacity(self.parts.len());
        for p in &self.parts {
            if validate_component(&p.name).is_err() || part_writer(&p.name).is_none() {
                return Err(format!("manifest lists an invalid part name {:?}", p.name));
            }
            if !names.insert(p.name.as_str()) {
                return Err(format!("manifest lists part {} twice", p.name));
            }
            if part_writer(&p.name) != Some(self.writer_id.as_str()) {
                return Err(format!(
                    "manifest of writer {} lists part {} of another writer",
                    self.writer_id, p.name
                ));
            }
            let bounds_ok = match (p.min_timestamp_ms, p.max_timestamp_ms) {
                (Some(lo), Some(hi)) => {
                    p.rows > 0 && lo <= hi && range.contains(lo) && range.contains(hi)
                }
                (None, None) => p.rows == 0,
                _ => false,
            };
            if !bounds_ok {
                return Err(format!(
                    "part {} has timestamps {:?}..{:?} for {} rows, not inside {range}",
                    p.name, p.min_timestamp_ms, p.max_timestamp_ms, p.rows
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SegmentManifest {
        SegmentManifest {
            format: MANIFEST_FORMAT,
            log_id: "log-1".into(),
            range: TimeRange::new(100, 200).unwrap(),
            row_count: 3,
            parts: vec![PartManifest {
                name: "part-0a0b0c0d-00000.parquet".into(),
                size_bytes: 1234,
                rows: 3,
                min_timestamp_ms: Some(100),
                max_timestamp_ms: Some(150),
            }],
            schema_version: 1,
            writer_version: "datafusion-rapid7/0.1.0".into(),
            writer_id: "0a0b0c0d".into(),
            created_at_ms: 1,
            events_rejected: 0,
            beyond_retention: false,
            filter: None,
        }
    }

    #[test]
    fn json_round_trip_and_shape() {
        let m = sample();
        let json = serde_json::to_string_pretty(&m).unwrap();
        assert!(
            json.contains("\"start_ms\": 100") && json.contains("\"end_ms\": 200"),
            "{json}"
        );
        let back: SegmentManifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(m.size_bytes(), 1234);
        assert_eq!(
            (m.min_timestamp_ms(), m.max_timestamp_ms()),
            (Some(100), Some(150))
        );
    }

    #[test]
    fn rejected_events_and_retention_are_recorded_and_default_when_absent() {
        let mut m = sample();
        m.events_rejected = 7;
        m.beyond_retention = true;
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            json.contains("\"events_rejected\":7") && json.contains("\"beyond_retention\":true"),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<SegmentManifest>(&json).unwrap(), m);
        // A manifest written before the fields existed.
        let mut old: serde_json::Value = serde_json::to_value(sample()).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("events_rejected");
        fields.remove("beyond_retention");
        let back: SegmentManifest = serde_json::from_value(old).unwrap();
        assert_eq!((back.events_rejected, back.beyond_retention), (0, false));
        assert_eq!(back, sample());
    }

    #[test]
    fn check_catches_inconsistencies() {
        let range = TimeRange::new(100, 200).unwrap();
        sample()
            .check(
                "log-1",
                &SegmentKey {
                    range,
                    filter: None,
                },
            )
            .unwrap();
        assert!(
            sample()
                .check(
                    "log-2",
                    &SegmentKey {
                        range,
                        filter: None
                    }
                )
                .is_err()
        );
        assert!(
            sample()
                .check(
                    "log-1",
                    &SegmentKey {
                        range: TimeRange::new(100, 201).unwrap(),
                        filter: None
                    }
                )
                .is_err()
        );
        let mut m = sample();
        m.row_count = 4;
        assert!(
            m.check(
                "log-1",
                &SegmentKey {
                    range,
                    filter: None
                }
            )
            .is_err()
        );
        let mut m = sample();
        m.parts[0].name = "../../etc/passwd".into();
        assert!(
            m.check(
                "log-1",
                &SegmentKey {
                    range,
                    filter: None
                }
            )
            .is_err()
        );
        let mut m = sample();
        m.parts[0].max_timestamp_ms = Some(200);
        assert!(
            m.check(
                "log-1",
                &SegmentKey {
                    range,
                    filter: None
                }
            )
            .is_err()
        );
    }

    #[test]
    fn check_refuses_a_part_listed_twice_or_of_another_writer() {
        let range = TimeRange::new(100, 200).unwrap();
        let mut twice = sample();
        twice.parts.push(twice.parts[0].clone());
        twice.row_count = 6;
        let err = twice
            .check(
                "log-1",
                &SegmentKey {
                    range,
                    filter: None,
                },
            )
            .unwrap_err();
        assert!(err.contains("twice"), "{err}");

        let mut foreign = sample();
        foreign.parts.push(PartManifest {
            name: "part-99999999-00000.parquet".into(),
            ..foreign.parts[0].clone()
        });
        foreign.row_count = 6;
        let err = foreign
            .check(
                "log-1",
                &SegmentKey {
                    range,
                    filter: None,
                },
            )
            .unwrap_err();
        assert!(err.contains("another writer"), "{err}");
    }
}
