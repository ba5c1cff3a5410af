//! The tracing events the cache promises (design §3.5), captured.
//!
//! In the library's test binary, where no other test runs cache code: a
//! thread-local subscriber then sees every event of this test.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    ArrayRef, ListArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field};
use object_store::ObjectStoreExt;

use super::error::Error as CacheError;
use crate::error::Error;
use crate::time::TimeRange;
use tracing::field::{Field as TracingField, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use super::*;
use crate::events::event_schema;

#[derive(Debug, Clone)]
struct Captured {
    level: Level,
    message: String,
    fields: Vec<String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields(Captured);

impl Visit for Fields {
    fn record_debug(&mut self, field: &TracingField, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.message = format!("{value:?}");
        } else {
            self.0.fields.push(field.name().to_string());
        }
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut f = Fields(Captured {
            level: *event.metadata().level(),
            message: String::new(),
            fields: Vec::new(),
        });
        event.record(&mut f);
        self.0.lock().unwrap().push(f.0);
    }
}

impl Capture {
    fn find(&self, message: &str) -> Vec<Captured> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|c| c.message == message)
            .cloned()
            .collect()
    }
}

const T0: i64 = 1_770_681_600_000;

/// Events of one log every `step` ms of `range` (also written by
/// `part_counts_tests.rs`).
pub(super) fn events(range: TimeRange, step: usize) -> RecordBatch {
    let ts: Vec<i64> = (range.start()..range.end()).step_by(step).collect();
    let n = ts.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMillisecondArray::from(ts.clone()).with_timezone("UTC")),
        Arc::new(StringArray::from(vec!["log-1"; n])),
        Arc::new(StringArray::from(vec![Some("Firewall"); n])),
        Arc::new(UInt64Array::from_iter_values(
            ts.iter().map(|t| (t - T0) as u64),
        )),
        Arc::new(StringArray::from(vec!["{\"a\":1}"; n])),
        Arc::new(ListArray::new_null(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            n,
        )),
    ];
    RecordBatch::try_new(event_schema(), columns).unwrap()
}

/// Current-thread runtime: the subscriber is set for this thread only.
#[tokio::test(flavor = "current_thread")]
async fn cache_emits_its_events() {
    let capture = Capture::default();
    // tracing caches a callsite's interest when it is first hit. While one
    // dispatcher exists it asks only the default of the thread hitting it,
    // so a test running on another thread would cache "never" for an event
    // of ours and it would not reach `capture`. With a second dispatcher
    // alive, every dispatcher is asked.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let config = CacheConfig {
        flush_rows: 1_000,
        ..CacheConfig::default()
    };
    let cache = SegmentCache::open(tmp.path().join("c").to_str().unwrap(), config).unwrap();
    let seg = TimeRange::new(T0, T0 + 10_000).unwrap();

    let plan = cache.plan_read("log-1", seg).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Miss);
    let planned = capture.find("cache_coverage_planned");
    assert_eq!(planned.len(), 1);
    assert!(planned[0].fields.iter().any(|f| f == "kind"));

    let mut writer = cache.writer("log-1", seg).unwrap();
    for chunk in 0..10 {
        let part = TimeRange::new(T0 + chunk * 1_000, T0 + (chunk + 1) * 1_000).unwrap();
        writer.push(events(part, 2)).await.unwrap();
    }
    assert!(matches!(
        writer.commit().await.unwrap(),
        CommitOutcome::Committed(_)
    ));
    let flushes = capture.find("flush_complete");
    assert_eq!(flushes.len(), 5);
    for f in &flushes {
        for field in [
            "rows_buffered",
            "bytes_buffered",
            "dataframe_build_ms",
            "parquet_write_ms",
            "flush_total_ms",
        ] {
            assert!(f.fields.iter().any(|x| x == field), "{field} in {f:?}");
        }
    }
    assert_eq!(capture.find("flush_start").len(), flushes.len());
    // The plans' names and fields beside ours (issue 31).
    for (i, f) in flushes.iter().enumerate() {
        for field in ["segment_dir", "part_index"] {
            assert!(
                f.fields.iter().any(|x| x == field),
                "{field} in {f:?} ({i})"
            );
        }
    }
    let puts = capture.find("parquet_part_write_success");
    assert_eq!(puts.len(), flushes.len());
    assert!(
        puts[0].fields.iter().any(|x| x == "write_mode"),
        "{:?}",
        puts[0]
    );
    let writes = capture.find("cache_write");
    assert_eq!(writes.len(), 1);
    assert_eq!(capture.find("segment_committed").len(), 1);
    for field in ["segment_dir", "rows", "parts", "bytes"] {
        assert!(writes[0].fields.iter().any(|x| x == field), "{field}");
    }

    cache.plan_read("log-1", seg).await.unwrap();
    let wider = TimeRange::new(T0 - 10, T0 + 10).unwrap();
    cache.plan_read("log-1", wider).await.unwrap();
    assert_eq!(capture.find("cache_scan_start").len(), 3);
    assert_eq!(capture.find("cache_scan_complete").len(), 3);
    for e in capture.find("cache_scan_complete") {
        for field in ["cache_dir", "segment_count"] {
            assert!(e.fields.iter().any(|x| x == field), "{field} in {e:?}");
        }
    }
    let planned = capture.find("cache_coverage_planned");
    assert_eq!(planned.len(), 3);
    for key in ["requested", "cached", "missing"] {
        assert!(planned[0].fields.iter().any(|f| f == key), "{key}");
    }

    // A corrupt segment: cache_read_failed at ERROR.
    let info = cache.list_segments("log-1").await.unwrap().remove(0);
    let store = cache.root().unwrap().store();
    store.delete(&info.parts()[0].path).await.unwrap();
    cache.plan_read("log-1", seg).await.unwrap_err();
    let failed = capture.find("cache_read_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].level, Level::ERROR);
    let error = capture.find("cache_read_error");
    assert_eq!(error.len(), 1);
    assert_eq!(error[0].level, Level::ERROR);
    assert_eq!(error[0].fields, ["segment_dir", "error"]);

    // A failing write: cache_write_failed at ERROR.
    let next = TimeRange::new(T0 + 10_000, T0 + 20_000).unwrap();
    let mut writer = cache.writer("log-1", next).unwrap();
    let wrong =
        RecordBatch::try_from_iter([("x", Arc::new(UInt64Array::from(vec![1u64])) as ArrayRef)])
            .unwrap();
    writer.push(wrong).await.unwrap_err();
    let failed = capture.find("cache_write_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].level, Level::ERROR);
    let error = capture.find("cache_read_error");
    assert_eq!(error.len(), 1);
    assert_eq!(error[0].level, Level::ERROR);
    assert_eq!(error[0].fields, ["segment_dir", "error"]);
    writer.abort().await.unwrap();
}

/// A plan loads only the manifests of segments whose path names a range
/// that overlaps the request: the first plan of a process over the last
/// hour of a long cache reads one manifest, not all of them.
#[tokio::test]
async fn a_plan_loads_only_the_manifests_it_overlaps() {
    let tmp = tempfile::tempdir().unwrap();
    let location = tmp.path().join("c");
    let location = location.to_str().unwrap();
    let cache = SegmentCache::open(location, CacheConfig::default()).unwrap();
    let hour = |h: i64| TimeRange::new(T0 + h * 3_600_000, T0 + (h + 1) * 3_600_000).unwrap();
    for h in 0..3 {
        let mut writer = cache.writer("log-1", hour(h)).unwrap();
        writer.push(events(hour(h), 600_000)).await.unwrap();
        writer.commit().await.unwrap();
    }
    // A broken manifest outside the request is never read.
    let broken = format!(
        "{}/from={}/to={}/{MANIFEST_FILE}",
        "logs/log-1",
        hour(5).start(),
        hour(5).end()
    );
    let store = cache.root().unwrap().store();
    store
        .put(
            &object_store::path::Path::from(broken),
            b"{".to_vec().into(),
        )
        .await
        .unwrap();

    let fresh = SegmentCache::open(location, CacheConfig::default()).unwrap();
    let plan = fresh.plan_read("log-1", hour(1)).await.unwrap();
    assert_eq!(plan.coverage.kind, CoverageKind::Hit);
    assert_eq!(plan.segments.len(), 1);
    assert_eq!(fresh.root().unwrap().memos.manifests.len(), 1);

    // A plan over everything loads the rest, and names the broken one.
    let all = TimeRange::new(T0, T0 + 24 * 3_600_000).unwrap();
    let err = fresh.plan_read("log-1", all).await.unwrap_err();
    assert!(
        matches!(err, Error::Cache(CacheError::CorruptSegment { .. })),
        "{err}"
    );
    assert_eq!(fresh.root().unwrap().memos.manifests.len(), 3);
    // Loaded once, they are used for plans of any range.
    let plan = fresh.plan_read("log-1", hour(2)).await.unwrap();
    assert_eq!(plan.segments.len(), 1);
}
