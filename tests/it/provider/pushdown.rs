//! The scan applies every filter itself (pushdown `Exact`): on the fetch
//! path (`Rapid7ScanExec`) and on the cached path (Parquet read as string
//! views, filtered, cast back to `Utf8`) the rows equal the simulator's,
//! filter-only columns are read and dropped, and `message` stays `Utf8`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, TimestampMillisecondType, UInt64Type};
use datafusion::common::plan_err;
use datafusion::datasource::physical_plan::{FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_plan::ExecutionPlan;
use tempfile::TempDir;

use super::{MIN, session, sql, window};
use crate::support::{self, T0};

/// `(timestamp, sequence_number)` of every row, sorted.
fn keys(batches: &[RecordBatch]) -> Vec<(i64, u64)> {
    let mut out = Vec::new();
    for b in batches {
        let ts = b.column(0).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(1).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            out.push((ts.value(i), seq.value(i)));
        }
    }
    out.sort_unstable();
    out
}

/// A word of the window's messages that some, but not all, of them contain.
fn needle(messages: &[&str]) -> String {
    let mut words: Vec<&str> = messages
        .iter()
        .flat_map(|m| m.split(|c: char| !c.is_ascii_alphabetic()))
        .filter(|w| w.len() >= 5)
        .collect();
    words.sort_unstable();
    words.dedup();
    words
        .into_iter()
        .find(|w| {
            let n = messages.iter().filter(|m| m.contains(w)).count();
            n * 20 >= messages.len() && n * 3 <= messages.len()
        })
        .expect("a word in between 5% and 33% of the messages")
        .to_string()
}

/// `utf8_len(s)`: byte length, for `Utf8` only. Its coercion refuses
/// `Utf8View`, so on the cached path the filter cannot run on the views and
/// is applied after the cast back to `Utf8`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Utf8Len {
    signature: Signature,
}

impl ScalarUDFImpl for Utf8Len {
    fn name(&self) -> &str {
        "utf8_len"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> datafusion::error::Result<Vec<DataType>> {
        match args {
            [DataType::Utf8] => Ok(vec![DataType::Utf8]),
            other => plan_err!("utf8_len takes one Utf8, not {other:?}"),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let lengths: Int64Array = arrays[0]
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(|s| s.len() as i64))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(lengths) as ArrayRef))
    }
}

#[tokio::test]
async fn filters_on_columns_not_selected_match_the_simulator_cold_and_cached() {
    let server = support::server().await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 2 * MIN);
    let truth = support::truth(&server, &fw, from, to);
    let messages: Vec<&str> = truth.iter().map(|r| r.2.as_str()).collect();
    let word = needle(&messages);
    let median_len = |keep: &dyn Fn(&str) -> bool| {
        let mut lengths: Vec<usize> = messages
            .iter()
            .filter(|m| keep(m))
            .map(|m| m.chars().count())
            .collect();
        lengths.sort_unstable();
        lengths[lengths.len() / 2]
    };
    let long = median_len(&|_| true);
    let long_with_word = median_len(&|m| m.contains(&word));
    let w = window(from, to);
    let expect = |keep: &dyn Fn(&str) -> bool| -> Vec<(i64, u64)> {
        let mut v: Vec<_> = truth
            .iter()
            .filter(|r| keep(&r.2))
            .map(|r| (r.0, r.1))
            .collect();
        v.sort_unstable();
        v
    };
    let cases: Vec<(String, Vec<(i64, u64)>)> = vec![
        (
            format!("message LIKE '%{word}%'"),
            expect(&|m| m.contains(&word)),
        ),
        (
            format!("NOT message LIKE '%{word}%' AND log_name = 'Firewall'"),
            expect(&|m| !m.contains(&word)),
        ),
        (
            format!(
                "(message LIKE '%{word}%' OR log_name = 'Nope') \
                 AND length(message) > {long_with_word}"
            ),
            expect(&|m| m.contains(&word) && m.chars().count() > long_with_word),
        ),
        // A function declared for `Utf8` only: the cached scan filters after
        // the cast instead of on the views.
        (
            format!("utf8_len(message) > {long}"),
            expect(&|m| m.len() > long),
        ),
    ];
    // Cold: every statement in a new session over an empty cache, so each
    // one runs the fetch path. Cached: one session over the filled cache.
    let cached_dir = TempDir::new().unwrap();
    let (cached, _) = session(&server, &cached_dir).await;
    register_utf8_len(&cached);
    sql(
        &cached,
        &format!("SELECT count(*) FROM rapid7_logs WHERE log_id = '{fw}' AND {w}"),
    )
    .await
    .unwrap();
    for round in ["cold", "cached"] {
        for (predicate, want) in &cases {
            assert!(!want.is_empty() && want.len() < truth.len(), "{predicate}");
            let selects = [
                "timestamp, sequence_number".to_string(),
                "count(*)".to_string(),
            ];
            for select in selects {
                let q = format!(
                    "SELECT {select} FROM rapid7_logs WHERE log_id = '{fw}' AND {w} AND {predicate}"
                );
                let before = server.query_requests();
                let got = if round == "cold" {
                    let dir = TempDir::new().unwrap();
                    let (ctx, _) = session(&server, &dir).await;
                    register_utf8_len(&ctx);
                    sql(&ctx, &q).await.unwrap()
                } else {
                    sql(&cached, &q).await.unwrap()
                };
                let fetched = server.query_requests() - before;
                if select == "count(*)" {
                    let n = super::single_i64(&got);
                    assert_eq!(n, want.len() as i64, "{round}: {q}");
                } else {
                    assert_eq!(keys(&got), *want, "{round}: {q}");
                }
                match round {
                    "cold" => assert!(fetched > 0, "cold: fetched"),
                    _ => assert_eq!(fetched, 0, "cached: no API call"),
                }
            }
        }
    }
}

fn register_utf8_len(ctx: &datafusion::prelude::SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Utf8Len {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
}

#[tokio::test]
async fn cached_strings_stay_utf8_and_limits_apply_after_the_filter() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let (ctx, _) = session(&server, &dir).await;
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + MIN);
    let truth = support::truth(&server, &fw, from, to);
    let messages: Vec<&str> = truth.iter().map(|r| r.2.as_str()).collect();
    let word = needle(&messages);
    let w = window(from, to);
    let fill = format!("SELECT count(*) FROM rapid7_logs WHERE log_id = '{fw}' AND {w}");
    sql(&ctx, &fill).await.unwrap();
    let fetched = server.query_requests();

    // Every string column, read from the cache, is `Utf8` as design §3.1
    // says, with the values the simulator served.
    let q = format!(
        "SELECT timestamp, sequence_number, message, log_id, log_name, \
         arrow_typeof(message) AS t FROM rapid7_logs \
         WHERE log_id = '{fw}' AND {w} AND message LIKE '%{word}%'"
    );
    let batches = sql(&ctx, &q).await.unwrap();
    let mut got = Vec::new();
    for b in &batches {
        for c in 2..5 {
            assert_eq!(b.schema().field(c).data_type(), &DataType::Utf8);
        }
        let ts = b.column(0).as_primitive::<TimestampMillisecondType>();
        let seq = b.column(1).as_primitive::<UInt64Type>();
        let msg = b.column(2).as_string::<i32>();
        let ids = b.column(3).as_string::<i32>();
        let names = b.column(4).as_string::<i32>();
        let types = b.column(5).as_string::<i32>();
        for i in 0..b.num_rows() {
            assert_eq!((ids.value(i), names.value(i)), (fw.as_str(), "Firewall"));
            assert_eq!(types.value(i), "Utf8");
            got.push((ts.value(i), seq.value(i), msg.value(i).to_string()));
        }
    }
    got.sort();
    let mut want: Vec<_> = truth
        .iter()
        .filter(|r| r.2.contains(&word))
        .map(|r| (r.0, r.1, r.2.clone()))
        .collect();
    want.sort();
    assert!(want.len() > 5);
    assert_eq!(got, want);

    // A limit counts rows that passed the filter, not rows read.
    let q = format!(
        "SELECT message FROM rapid7_logs \
         WHERE log_id = '{fw}' AND {w} AND message LIKE '%{word}%' LIMIT 5"
    );
    let batches = sql(&ctx, &q).await.unwrap();
    let limited: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let m = b.column(0).as_string::<i32>();
            (0..m.len())
                .map(|i| m.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(limited.len(), 5);
    assert!(limited.iter().all(|m| m.contains(&word)), "{limited:?}");
    assert_eq!(server.query_requests(), fetched, "all from the cache");

    // Filters planned on the views keep plain literals (coercion's casts
    // folded), so the Parquet scan still derives guarantees to prune with.
    let q = format!(
        "EXPLAIN SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {w} \
         AND message LIKE '%{word}%'"
    );
    let plan =
        datafusion::arrow::util::pretty::pretty_format_batches(&sql(&ctx, &q).await.unwrap())
            .unwrap()
            .to_string();
    assert!(
        plan.contains("required_guarantees=[log_name in (Firewall)]"),
        "{plan}"
    );

    // Parts carry no bloom filters, so the scan does not look for them.
    let q = format!("SELECT count(*) FROM rapid7_logs WHERE log_id = '{fw}' AND {w}");
    let plan = ctx
        .sql(&q)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let sources = parquet_sources(&plan);
    assert!(!sources.is_empty(), "no Parquet scan in the plan");
    assert!(
        sources
            .iter()
            .all(|s| !s.table_parquet_options().global.bloom_filter_on_read)
    );
}

/// Every `ParquetSource` scanned in `plan`.
fn parquet_sources(plan: &Arc<dyn ExecutionPlan>) -> Vec<ParquetSource> {
    let mut found: Vec<ParquetSource> = plan
        .children()
        .into_iter()
        .flat_map(parquet_sources)
        .collect();
    let source = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        .and_then(|config| config.file_source().downcast_ref::<ParquetSource>());
    found.extend(source.cloned());
    found
}
