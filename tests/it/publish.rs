//! Publishing the cache as Delta tables (feature `delta`), on a local
//! directory and on the S3-protocol server on loopback: the tables read back
//! through deltalake's DataFusion provider and through the Python `deltalake`
//! package hold exactly the simulator's events of the published coverage.

mod exact;
mod python;
mod race;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Int64Type, TimestampMicrosecondType};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::{CacheConfig, CompactOptions, SegmentCache};
use datafusion_rapid7::mock::MockServer;
use datafusion_rapid7::ops::publish::{
    PublishOptions, PublishReport, TableLocation, publish_log, published_provider,
};
use datafusion_rapid7::time::TimeRange;
use object_store::ObjectStoreExt;

use crate::cache::s3::S3Server;
use crate::support::{self, T0};

pub const MIN: i64 = 60_000;
/// The log the tests publish: a few hundred events a minute.
pub const LOG: &str = "Auth Service";

/// One published row: (timestamp ms, sequence number, message, labels,
/// log id, log name, UTC day).
pub type Row = (i64, u64, String, Vec<String>, String, Option<String>, i32);

/// The simulator, a cache and a table location on one backend.
pub struct Setup {
    pub server: MockServer,
    pub cache: SegmentCache,
    pub log_id: String,
    pub s3: Option<S3Server>,
    _dir: tempfile::TempDir,
}

/// Small parts, so segments have several.
fn config() -> CacheConfig {
    CacheConfig {
        flush_rows: 700,
        row_group_rows: 300,
        ..CacheConfig::default()
    }
}

impl Setup {
    pub async fn local() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = SegmentCache::open(dir.path().join("cache").to_str().unwrap(), config())
            .expect("cache");
        Self::with(cache, None, dir).await
    }

    pub async fn s3() -> Setup {
        let s3 = S3Server::start().await;
        let cache = SegmentCache::new(s3.root("team/cache"), config());
        Self::with(cache, Some(s3), tempfile::tempdir().expect("temp dir")).await
    }

    async fn with(cache: SegmentCache, s3: Option<S3Server>, dir: tempfile::TempDir) -> Setup {
        let server = support::server().await;
        let log_id = support::log_id(&server, LOG);
        Setup {
            server,
            cache,
            log_id,
            s3,
            _dir: dir,
        }
    }

    /// A table location on the same backend as the cache.
    pub fn table(&self, name: &str) -> TableLocation {
        match &self.s3 {
            Some(s3) => {
                TableLocation::open_with_options(&s3.url(&format!("lake/{name}")), s3_options(s3))
                    .expect("S3 table")
            }
            None => TableLocation::open(self._dir.path().join("lake").join(name).to_str().unwrap())
                .expect("local table"),
        }
    }

    /// The simulator's events of `[from, to)` as published rows.
    pub fn truth(&self, from: i64, to: i64) -> Vec<Row> {
        self.server
            .dataset()
            .events(&self.log_id, from, to)
            .into_iter()
            .map(|e| {
                (
                    e.timestamp,
                    e.sequence_number,
                    e.message,
                    e.labels,
                    self.log_id.clone(),
                    Some(LOG.to_string()),
                    e.timestamp.div_euclid(86_400_000) as i32,
                )
            })
            .collect()
    }

    /// Commit a segment of `[from, to)` holding the simulator's events.
    pub async fn segment(&self, from: i64, to: i64) {
        self.filtered_segment(None, from, to).await
    }

    /// Commit a segment of the events of `[from, to)` that `filter`
    /// selects (every event: the test only needs it to exist).
    pub async fn filtered_segment(&self, filter: Option<&str>, from: i64, to: i64) {
        self.write_segment(filter, from, to, 0).await
    }

    /// Commit a segment of `[from, to)` whose manifest says the decoder
    /// rejected `rejected` of its events.
    pub async fn segment_with_rejected(&self, from: i64, to: i64, rejected: u64) {
        self.write_segment(None, from, to, rejected).await
    }

    async fn write_segment(&self, filter: Option<&str>, from: i64, to: i64, rejected: u64) {
        let rows: Vec<crate::cache::Row> = self
            .truth(from, to)
            .into_iter()
            .map(|r| (r.0, r.1, r.4, r.5, r.2, r.3))
            .collect();
        let range = TimeRange::new(from, to).unwrap();
        let mut writer = self
            .cache
            .writer_filtered(&self.log_id, filter, range)
            .expect("writer");
        for chunk in rows.chunks(500) {
            writer
                .push(crate::cache::to_batch(chunk))
                .await
                .expect("push");
        }
        if rejected > 0 {
            writer.record_rejected(rejected);
        }
        writer.commit().await.expect("commit");
    }

    /// A cache of many segments: adjacent small ones a compaction merged,
    /// a merged one whose inputs are not retired yet (a compaction half
    /// done), one that overlaps it (two writers), a filtered one and
    /// leftover parts without a manifest in a gap, and a day boundary.
    /// Returns the ranges it covers.
    pub async fn messy_cache(&self) -> Vec<TimeRange> {
        let r = |a: i64, b: i64| TimeRange::new(T0 + a * MIN, T0 + b * MIN).unwrap();
        // Before midnight: the previous UTC day.
        self.segment(T0 - 6 * MIN, T0).await;
        // Three small adjacent segments, then compacted for real.
        for (a, b) in [(0, 3), (3, 6), (6, 9)] {
            self.segment(T0 + a * MIN, T0 + b * MIN).await;
        }
        let report = self
            .cache
            .compact(&self.log_id, CompactOptions::default())
            .await
            .expect("compact");
        assert!(report.segments_written >= 1, "{report:?}");
        // A compaction half done: the merged [9, 15) is committed, its
        // inputs [9, 12) and [12, 15) are still listed.
        self.segment(T0 + 9 * MIN, T0 + 12 * MIN).await;
        self.segment(T0 + 12 * MIN, T0 + 15 * MIN).await;
        self.segment(T0 + 9 * MIN, T0 + 15 * MIN).await;
        // Two writers: [13, 19) overlaps the merged segment.
        self.segment(T0 + 13 * MIN, T0 + 19 * MIN).await;
        // The gap [19, 22): a filtered segment and leftover parts only.
        self.filtered_segment(Some("/action=deny/"), T0 + 19 * MIN, T0 + 22 * MIN)
            .await;
        self.leftover_parts(r(19, 22)).await;
        self.segment(T0 + 22 * MIN, T0 + 25 * MIN).await;
        vec![
            TimeRange::new(T0 - 6 * MIN, T0 + 19 * MIN).unwrap(),
            r(22, 25),
        ]
    }

    /// Copy a committed part into an uncommitted segment directory of
    /// `range`: what a fetch killed before its manifest leaves.
    async fn leftover_parts(&self, range: TimeRange) {
        let root = self.cache.root().unwrap();
        let seg = &self.cache.list_segments(&self.log_id).await.unwrap()[0];
        let part = &seg.parts()[0];
        let bytes = root
            .store()
            .get(&part.path)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let dir = root
            .prefix()
            .clone()
            .join("logs")
            .join(self.log_id.as_str())
            .join(format!("from={}", range.start()))
            .join(format!("to={}", range.end()));
        root.store()
            .put(&dir.join("part-0badc0de-00000.parquet"), bytes.into())
            .await
            .unwrap();
    }

    /// Publish with small commits (several per run), settled up to now.
    pub async fn publish(&self, table: &TableLocation, window: Option<TimeRange>) -> PublishReport {
        let mut options = PublishOptions::new(window, datafusion_rapid7::time::now_ms());
        options.commit_rows = 2_000;
        publish_log(&self.cache, &self.log_id, table, &options)
            .await
            .expect("publish")
    }

    /// The rows of the table, through deltalake's DataFusion provider,
    /// sorted.
    pub async fn read_back(&self, table: &TableLocation) -> Vec<Row> {
        let ctx = SessionContext::new();
        let provider = published_provider(&ctx, table).await.expect("provider");
        ctx.register_table("t", provider).unwrap();
        let batches = ctx
            .sql(
                "SELECT timestamp, sequence_number, message, labels, log_id, log_name, date \
                 FROM t ORDER BY timestamp, sequence_number",
            )
            .await
            .expect("plan")
            .collect()
            .await
            .expect("read");
        batches.iter().flat_map(rows_of).collect()
    }
}

pub fn s3_options(s3: &S3Server) -> Vec<(String, String)> {
    s3.env()
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect()
}

fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field};
    let ts = batch.column(0).as_primitive::<TimestampMicrosecondType>();
    let seq = batch.column(1).as_primitive::<Int64Type>();
    let date = batch.column(6).as_primitive::<Date32Type>();
    // Strings may come back as views: read them as plain strings.
    let string = |c: usize| cast(batch.column(c), &DataType::Utf8).expect("a string column");
    let (message, log_id, log_name) = (string(2), string(4), string(5));
    let (message, log_id, log_name) = (
        message.as_string::<i32>(),
        log_id.as_string::<i32>(),
        log_name.as_string::<i32>(),
    );
    let labels = cast(
        batch.column(3),
        &DataType::List(std::sync::Arc::new(Field::new(
            "item",
            DataType::Utf8,
            true,
        ))),
    )
    .expect("labels");
    let labels = labels.as_list::<i32>();
    (0..batch.num_rows())
        .map(|i| {
            let l = labels.value(i);
            let l = l.as_string::<i32>();
            assert_eq!(ts.value(i) % 1000, 0, "whole milliseconds");
            (
                ts.value(i) / 1000,
                u64::try_from(seq.value(i)).expect("non-negative"),
                message.value(i).to_string(),
                (0..l.len()).map(|j| l.value(j).to_string()).collect(),
                log_id.value(i).to_string(),
                log_name.is_valid(i).then(|| log_name.value(i).to_string()),
                date.value(i),
            )
        })
        .collect()
}

/// Every event of `ranges`, sorted.
pub fn truth_of(s: &Setup, ranges: &[TimeRange]) -> Vec<Row> {
    let mut rows: Vec<Row> = ranges
        .iter()
        .flat_map(|r| s.truth(r.start(), r.end()))
        .collect();
    rows.sort_by_key(|r| (r.0, r.1));
    rows
}

/// The rows equal the truth: same count, nothing twice, nothing missing.
pub fn assert_exact(got: &[Row], want: &[Row]) {
    let mut keys: Vec<(i64, u64)> = got.iter().map(|r| (r.0, r.1)).collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "duplicated rows");
    assert_eq!(got.len(), want.len(), "row count");
    assert!(got == want, "the rows differ from the simulator's");
}

/// Run `async fn $check(setup: Setup)` on a local directory and on S3.
macro_rules! on_local_and_s3 {
    ($($check:ident),* $(,)?) => {
        $(
            mod $check {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local() {
                    super::$check(crate::publish::Setup::local().await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3() {
                    super::$check(crate::publish::Setup::s3().await).await
                }
            }
        )*
    };
}
pub(crate) use on_local_and_s3;
