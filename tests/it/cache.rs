//! The segment cache on a real local directory and on a real S3-protocol
//! server on loopback (see `cache/s3.rs`).

mod endpoint_facts;
mod failures;
mod forms;
mod maintenance;
mod retention;
mod roundtrip;
// Also compiled into rapid7-sql's tests (rapid7-sql/tests/it/main.rs), which use
// helpers these tests do not.
#[allow(dead_code)]
pub mod s3;
mod untrusted;

use std::sync::Arc;

// Shared with rapid7-sql's tests, which write segments for `cache verify`.
pub use crate::support::segments::{LOG, Row, to_batch, truth, write_segment};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{TimestampMillisecondType, UInt64Type};
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::PageIndexPolicy;
use datafusion_rapid7::cache::{CacheConfig, CacheRoot, CommitOutcome, ReadPlan, SegmentCache};
use datafusion_rapid7::time::TimeRange;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// 2026-02-10T00:00:00Z.
pub const T0: i64 = 1_770_681_600_000;

/// What keeps a backend alive for the duration of a test.
pub enum Backend {
    Local(tempfile::TempDir),
    S3 { _server: s3::S3Server },
}

/// A cache on one backend.
pub struct Env {
    pub cache: SegmentCache,
    pub backend: Backend,
}

impl Env {
    pub async fn local(config: CacheConfig) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = SegmentCache::open(dir.path().join("cache").to_str().expect("utf-8"), config)
            .expect("local cache");
        Env {
            cache,
            backend: Backend::Local(dir),
        }
    }

    pub async fn s3(config: CacheConfig) -> Env {
        let server = s3::S3Server::start().await;
        let cache = SegmentCache::new(server.root("team/cache"), config);
        Env {
            cache,
            backend: Backend::S3 { _server: server },
        }
    }

    pub fn root(&self) -> &CacheRoot {
        self.cache.root().expect("not bypassed")
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        self.root().store()
    }

    /// Every object under the cache prefix.
    pub async fn objects(&self) -> Vec<Path> {
        let mut paths: Vec<Path> = self
            .store()
            .list(Some(self.root().prefix()))
            .map_ok(|o| o.location)
            .try_collect()
            .await
            .expect("list");
        paths.sort();
        paths
    }
}

/// Small flushes so every segment has several parts.
pub fn small_config() -> CacheConfig {
    CacheConfig {
        flush_rows: 1_000,
        row_group_rows: 400,
        ..CacheConfig::default()
    }
}

/// Run `async fn $check(env: Env)` on a local directory and on S3.
macro_rules! on_local_and_s3 {
    ($($check:ident),* $(,)?) => {
        $(
            mod $check {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local() {
                    super::$check(crate::cache::Env::local(crate::cache::small_config()).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3() {
                    super::$check(crate::cache::Env::s3(crate::cache::small_config()).await).await
                }
            }
        )*
    };
}
pub(crate) use on_local_and_s3;

pub fn range(start: i64, end: i64) -> TimeRange {
    TimeRange::new(start, end).expect("valid range")
}

pub fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    let ts = batch.column(0).as_primitive::<TimestampMillisecondType>();
    let log_id = batch.column(1).as_string::<i32>();
    let log_name = batch.column(2).as_string::<i32>();
    let seq = batch.column(3).as_primitive::<UInt64Type>();
    let message = batch.column(4).as_string::<i32>();
    let labels = batch.column(5).as_list::<i32>();
    (0..batch.num_rows())
        .map(|i| {
            let l = labels.value(i);
            let l = l.as_string::<i32>();
            (
                ts.value(i),
                seq.value(i),
                log_id.value(i).to_string(),
                log_name.is_valid(i).then(|| log_name.value(i).to_string()),
                message.value(i).to_string(),
                (0..l.len()).map(|j| l.value(j).to_string()).collect(),
            )
        })
        .collect()
}

/// Rows of a plan through `SegmentCache::read`, sorted.
pub async fn read_plan(cache: &SegmentCache, plan: &ReadPlan) -> Vec<Row> {
    let mut rows = Vec::new();
    for planned in &plan.segments {
        let batches: Vec<RecordBatch> = cache.read(planned).try_collect().await.expect("read");
        rows.extend(batches.iter().flat_map(rows_of));
    }
    rows.sort();
    rows
}

/// Rows of a plan read straight from the part files with the parquet crate,
/// each row kept only inside its segment's responsible range. Also checks what
/// every part must be: sorted, zstd, with a page index and several row groups
/// for big parts.
pub async fn read_plan_raw(env: &Env, plan: &ReadPlan) -> Vec<Row> {
    let mut rows = Vec::new();
    for planned in &plan.segments {
        for part in planned.segment.parts() {
            let bytes = env
                .store()
                .get(&part.path)
                .await
                .expect("get part")
                .bytes()
                .await
                .expect("bytes");
            assert_eq!(bytes.len() as u64, part.size_bytes);
            let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
                bytes,
                ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required),
            )
            .expect("a Parquet file");
            let md = builder.metadata().clone();
            assert!(
                md.column_index().is_some() && md.offset_index().is_some(),
                "page index"
            );
            assert!(matches!(
                md.row_group(0).column(0).compression(),
                Compression::ZSTD(_)
            ));
            assert_eq!(md.file_metadata().num_rows() as u64, part.rows);
            let mut part_rows = Vec::new();
            for batch in builder.build().expect("reader") {
                part_rows.extend(rows_of(&batch.expect("batch")));
            }
            let keys: Vec<(i64, u64)> = part_rows.iter().map(|r| (r.0, r.1)).collect();
            assert!(keys.windows(2).all(|w| w[0] <= w[1]), "part rows sorted");
            assert_eq!(keys.first().map(|k| k.0), part.min_timestamp_ms);
            assert_eq!(keys.last().map(|k| k.0), part.max_timestamp_ms);
            rows.extend(
                part_rows
                    .into_iter()
                    .filter(|r| planned.responsible.contains(r.0)),
            );
        }
    }
    rows.sort();
    rows
}
