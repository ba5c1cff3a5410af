//! Tests of `part_counts.rs`: counts of parts written with and without
//! statistics, against brute force.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::part_counts::{BinOf, PartCounts, Runs};
use super::segment::SegmentInfo;
use super::tests::events;
use crate::time::TimeRange;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::cache::config::WriterSettings;
use crate::cache::reader::PlannedSegment;
use crate::cache::writer::{CommitOutcome, SegmentWriter};
use crate::cache::{CacheConfig, SegmentCache};

/// 2026-02-10T00:00:00Z.
const T0: i64 = 1_770_681_600_000;

/// A segment of `[T0, T0 + 10 s)`, an event every 2 ms: 5 parts of
/// 1,000 rows in row groups of 100 (200 ms each); with `statistics`
/// off, parts without any column statistics.
async fn segment(statistics: bool) -> (tempfile::TempDir, SegmentCache, SegmentInfo) {
    let tmp = tempfile::tempdir().unwrap();
    let config = CacheConfig {
        flush_rows: 1_000,
        row_group_rows: 100,
        ..CacheConfig::default()
    };
    let cache = SegmentCache::open(tmp.path().join("c").to_str().unwrap(), config).unwrap();
    let range = TimeRange::new(T0, T0 + 10_000).unwrap();
    let mut settings = cache.config().writer_settings();
    if !statistics {
        let props = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::None)
            .set_max_row_group_row_count(Some(100))
            .build();
        settings = WriterSettings {
            props: Arc::new(props),
            ..settings
        };
    }
    let mut writer = SegmentWriter::new(cache.root(), "log-1", None, range, settings).unwrap();
    writer.push(events(range, 2)).await.unwrap();
    let CommitOutcome::Committed(seg) = writer.commit().await.unwrap() else {
        panic!("not committed");
    };
    (tmp, cache, seg)
}

fn fixed(stride: i64, origin: i64) -> BinOf {
    Arc::new(move |t| {
        let start = origin + (t - origin).div_euclid(stride) * stride;
        (start, start, start + stride)
    })
}

/// Every bin of the events in `range`, by brute force.
fn truth(range: TimeRange, bin_of: &BinOf) -> BTreeMap<i64, u64> {
    let mut out = BTreeMap::new();
    for t in (T0..T0 + 10_000).step_by(2).filter(|t| range.contains(*t)) {
        *out.entry(bin_of(t).0).or_default() += 1;
    }
    out
}

async fn count(
    cache: &SegmentCache,
    seg: &SegmentInfo,
    range: TimeRange,
    bin_of: &BinOf,
) -> PartCounts {
    let planned = PlannedSegment {
        segment: seg.clone(),
        responsible: range,
    };
    let mut all = PartCounts::default();
    for part in planned.parts() {
        all.merge(cache.count_part(&planned, &part, bin_of).await.unwrap());
    }
    all
}

#[tokio::test]
async fn row_groups_in_one_bin_count_by_statistics_and_others_are_read() {
    let (_tmp, cache, seg) = segment(true).await;
    let whole = seg.range();
    // Bins of 1 s from T0: every 200 ms row group lies in one.
    let second = fixed(1_000, T0);
    let got = count(&cache, &seg, whole, &second).await;
    assert_eq!(got.bins, truth(whole, &second));
    assert_eq!((got.groups_by_statistics, got.groups_read), (50, 0));
    // Bins of 300 ms from T0 + 50: some row groups straddle an edge.
    let straddle = fixed(300, T0 + 50);
    let got = count(&cache, &seg, whole, &straddle).await;
    assert_eq!(got.bins, truth(whole, &straddle));
    assert!(
        got.groups_by_statistics > 0 && got.groups_read > 0,
        "{got:?}"
    );
    // A partial range: the row groups it cuts are read, the rest are not.
    let partial = TimeRange::new(T0 + 1_101, T0 + 7_333).unwrap();
    let got = count(&cache, &seg, partial, &second).await;
    assert_eq!(got.bins, truth(partial, &second));
    assert_eq!(got.groups_read, 2, "{got:?}");
    // No bins: one key.
    let none: BinOf = Arc::new(|_| (7, i64::MIN, i64::MAX));
    let got = count(&cache, &seg, partial, &none).await;
    assert_eq!(got.bins, BTreeMap::from([(7, 3_116)]));
    assert_eq!(got.bins, truth(partial, &none));
}

#[tokio::test]
async fn row_groups_without_statistics_are_read() {
    let (_tmp, cache, seg) = segment(false).await;
    let second = fixed(1_000, T0);
    let partial = TimeRange::new(T0 + 1_101, T0 + 7_333).unwrap();
    for range in [seg.range(), partial] {
        let got = count(&cache, &seg, range, &second).await;
        assert_eq!(got.bins, truth(range, &second));
        assert_eq!(got.groups_by_statistics, 0, "{got:?}");
    }
}

/// Runs count rows in any order, out of the range or not, as brute force
/// does; sorted rows (as parts hold them) and shuffled ones alike.
#[test]
fn runs_count_rows_in_any_order() {
    let range = TimeRange::new(T0 + 1_101, T0 + 7_333).unwrap();
    let mut values: Vec<i64> = (T0 - 500..T0 + 10_500).step_by(3).collect();
    // Repeats, as a burst in one millisecond.
    values.extend([T0 + 1_101; 40]);
    values.extend([T0 + 7_332; 7]);
    let none: BinOf = Arc::new(|_| (7, i64::MIN, i64::MAX));
    let mut rng = fastrand::Rng::with_seed(34);
    for bin_of in [
        fixed(300, T0 + 50),
        fixed(1_000, T0),
        fixed(7, T0 - 3),
        none,
    ] {
        let mut want = BTreeMap::new();
        for &t in values.iter().filter(|t| range.contains(**t)) {
            *want.entry(bin_of(t).0).or_default() += 1u64;
        }
        values.sort_unstable();
        for shuffled in [false, true] {
            if shuffled {
                rng.shuffle(&mut values);
            }
            let mut runs = Runs::new(range, &bin_of);
            // In batches of uneven sizes, as decoded batches come.
            for chunk in values.chunks(97) {
                runs.count(chunk);
            }
            let mut got = BTreeMap::new();
            runs.finish(&mut got);
            assert_eq!(got, want, "shuffled: {shuffled}");
        }
    }
}
