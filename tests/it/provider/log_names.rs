//! Log identity is the log id: a log renamed at Rapid7 keeps its cached rows,
//! and every read shows its current name; a name two logs share reads both
//! where a name selects rows, and is refused, listing the ids, where a name
//! must mean one log.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::cache::LOG_NAMES_FILE;
use datafusion_rapid7::ops::publish::{TableLocation, published_provider};
use tempfile::TempDir;

use super::{MIN, local_cache, session, session_with, single_i64 as one_count, sql, window};
use crate::support::{self, T0};

/// `(log_name, count)` rows of a `GROUP BY log_name` statement.
async fn names_and_counts(ctx: &SessionContext, q: &str) -> Vec<(Option<String>, i64)> {
    let mut out = Vec::new();
    for b in sql(ctx, q).await.unwrap() {
        // Delta tables read strings as views.
        let names = cast(b.column(0), &DataType::Utf8).unwrap();
        let names = names.as_string::<i32>();
        let n = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            let name = (!b.column(0).is_null(i)).then(|| names.value(i).to_string());
            out.push((name, n.value(i)));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_renamed_log_keeps_its_cached_rows_under_its_new_name() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + MIN);
    let cached = server.dataset().count(&fw, from, to) as i64;
    {
        let (ctx, _) = session(&server, &dir).await;
        let q = format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
            window(from, to)
        );
        assert_eq!(one_count(&sql(&ctx, &q).await.unwrap()), cached);
    }
    server.rename_log(&fw, "Firewall (prod)");
    let (ctx, rapid7) = session(&server, &dir).await;
    server.clear_requests();

    // The cached segment, read as Parquet, under the new name.
    let q = |name: &str, from: i64, to: i64| {
        format!(
            "SELECT count(*) FROM rapid7_logs WHERE log_name = '{name}' AND {}",
            window(from, to)
        )
    };
    assert_eq!(
        one_count(&sql(&ctx, &q("Firewall (prod)", from, to)).await.unwrap()),
        cached
    );
    assert_eq!(server.event_query_requests(), 0, "answered from the cache");
    // Part of the segment (read outside the Parquet scan), and the segment
    // beside a fetched gap.
    let half = from + 30_000;
    assert_eq!(
        one_count(&sql(&ctx, &q("Firewall (prod)", half, to)).await.unwrap()),
        server.dataset().count(&fw, half, to) as i64
    );
    assert_eq!(
        one_count(
            &sql(&ctx, &q("Firewall (prod)", from, to + MIN))
                .await
                .unwrap()
        ),
        server.dataset().count(&fw, from, to + MIN) as i64
    );
    let grouped = format!(
        "SELECT log_name, count(*) FROM rapid7_logs WHERE log_id = '{fw}' AND {} \
         GROUP BY log_name",
        window(from, to + MIN)
    );
    let want = vec![(
        Some("Firewall (prod)".to_string()),
        server.dataset().count(&fw, from, to + MIN) as i64,
    )];
    assert_eq!(names_and_counts(&ctx, &grouped).await, want);
    // The same with count pushdown on: one answer.
    let (pushed, _) = session_with(&server, local_cache(&dir), |c| c).await;
    assert_eq!(names_and_counts(&pushed, &grouped).await, want);
    // The per-log table and `rapid7_parsed` too.
    let parsed = format!(
        "SELECT DISTINCT log_name FROM rapid7_parsed.\"Firewall (prod)\" WHERE {}",
        window(from, to)
    );
    let batches = sql(&ctx, &parsed).await.unwrap();
    assert_eq!(
        batches[0].column(0).as_string::<i32>().value(0),
        "Firewall (prod)"
    );
    // The old name is no log any more.
    let e = sql(&ctx, &q("Firewall", from, to)).await.unwrap_err();
    assert!(e.to_string().contains("unknown log"), "{e}");
    // rapid7_cache() names the log's segments by its current name.
    let names = sql(
        &ctx,
        &format!("SELECT DISTINCT log_name FROM rapid7_cache() WHERE log_id = '{fw}'"),
    )
    .await
    .unwrap();
    assert_eq!(
        names[0].column(0).as_string::<i32>().value(0),
        "Firewall (prod)"
    );

    // Offline, the last name the cache recorded.
    let (offline, _) = session_with(&server, local_cache(&dir), |c| {
        c.with_pushdown_aggregates(false).with_offline(true)
    })
    .await;
    assert_eq!(
        one_count(
            &sql(&offline, &q("Firewall (prod)", from, to))
                .await
                .unwrap()
        ),
        cached
    );

    // Published rows carry the current name.
    let out = TempDir::new().unwrap();
    let table = TableLocation::open(out.path().to_str().unwrap()).unwrap();
    rapid7
        .publish(&["Firewall (prod)".to_string()], &table, None)
        .await
        .unwrap();
    let read = SessionContext::new();
    read.register_table(
        "published",
        published_provider(&read, &table).await.unwrap(),
    )
    .unwrap();
    let published = names_and_counts(
        &read,
        "SELECT log_name, count(*) FROM published GROUP BY log_name",
    )
    .await;
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].0.as_deref(), Some("Firewall (prod)"));
}

/// Offline, a log the cache's directory does not name (deleted, written by
/// an older version, or its write failed) is named by its cached parts: its
/// rows keep their name and its name still selects them.
#[tokio::test]
async fn offline_a_log_the_directory_does_not_name_is_named_by_its_parts() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + MIN);
    let cached = server.dataset().count(&fw, from, to) as i64;
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {}",
        window(from, to)
    );
    let grouped = format!(
        "SELECT log_name, count(*) FROM rapid7_logs WHERE log_id = '{fw}' AND {} \
         GROUP BY log_name",
        window(from, to)
    );
    {
        let (ctx, _) = session(&server, &dir).await;
        assert_eq!(one_count(&sql(&ctx, &q).await.unwrap()), cached);
    }
    let directory = dir.path().join(LOG_NAMES_FILE);
    for (what, directory_now) in [
        ("deleted", None),
        ("naming no log", Some(r#"{"format":1,"logs":{}}"#)),
    ] {
        match directory_now {
            None => std::fs::remove_file(&directory).unwrap(),
            Some(text) => std::fs::write(&directory, text).unwrap(),
        }
        let (offline, _) = session_with(&server, local_cache(&dir), |c| {
            c.with_pushdown_aggregates(false).with_offline(true)
        })
        .await;
        assert_eq!(
            one_count(&sql(&offline, &q).await.unwrap()),
            cached,
            "{what}"
        );
        assert_eq!(
            names_and_counts(&offline, &grouped).await,
            vec![(Some("Firewall".to_string()), cached)],
            "{what}"
        );
    }
}

/// Newest first (a TopK over the cached parts) after a rename: the rows
/// show the log's current name.
#[tokio::test]
async fn newest_first_after_a_rename_shows_the_new_name() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + MIN);
    let newest = |name: &str| {
        format!(
            "SELECT log_name, timestamp FROM rapid7_logs WHERE log_name = '{name}' AND {} \
             ORDER BY timestamp DESC LIMIT 5",
            window(from, to)
        )
    };
    {
        let (ctx, _) = session(&server, &dir).await;
        let batches = sql(&ctx, &newest("Firewall")).await.unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    }
    server.rename_log(&fw, "Firewall (prod)");
    let (ctx, _) = session(&server, &dir).await;
    server.clear_requests();
    let batches = sql(&ctx, &newest("Firewall (prod)")).await.unwrap();
    let mut names = Vec::new();
    for b in &batches {
        let col = cast(b.column(0), &DataType::Utf8).unwrap();
        let col = col.as_string::<i32>();
        names.extend((0..b.num_rows()).map(|i| col.value(i).to_string()));
    }
    assert_eq!(names, vec!["Firewall (prod)".to_string(); 5]);
    assert_eq!(server.event_query_requests(), 0, "answered from the cache");
}

#[tokio::test]
async fn a_name_two_logs_share_reads_both_or_is_refused_with_their_ids() {
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let fw = support::log_id(&server, "Firewall");
    let proxy = support::log_id(&server, "Web Proxy");
    server.rename_log(&proxy, "Firewall");
    let (ctx, rapid7) = session(&server, &dir).await;
    let (from, to) = (T0, T0 + MIN);

    // A name that selects rows selects both logs.
    let q = format!(
        "SELECT log_id, count(*) FROM rapid7_logs WHERE log_name = 'Firewall' AND {} \
         GROUP BY log_id ORDER BY log_id",
        window(from, to)
    );
    let mut got = Vec::new();
    for b in sql(&ctx, &q).await.unwrap() {
        for i in 0..b.num_rows() {
            got.push((
                b.column(0).as_string::<i32>().value(i).to_string(),
                b.column(1).as_primitive::<Int64Type>().value(i) as u64,
            ));
        }
    }
    let mut want = vec![
        (fw.clone(), server.dataset().count(&fw, from, to)),
        (proxy.clone(), server.dataset().count(&proxy, from, to)),
    ];
    want.sort();
    assert_eq!(got, want);

    // Where a name means one log, it is refused, naming both ids.
    let refused = |e: String| {
        assert!(
            e.contains(&fw) && e.contains(&proxy) && e.contains("2 logs are named"),
            "{e}"
        );
    };
    let per_log = format!(
        "SELECT count(*) FROM rapid7.\"Firewall\" WHERE {}",
        window(from, to)
    );
    refused(sql(&ctx, &per_log).await.unwrap_err().to_string());
    let leql = format!(
        "SELECT * FROM rapid7_leql('Firewall', to_timestamp_millis({from}), \
         to_timestamp_millis({to}), 'calculate(count)')"
    );
    refused(sql(&ctx, &leql).await.unwrap_err().to_string());
    let out = TempDir::new().unwrap();
    let table = TableLocation::open(out.path().to_str().unwrap()).unwrap();
    refused(
        rapid7
            .publish(&["Firewall".to_string()], &table, None)
            .await
            .unwrap_err()
            .to_string(),
    );
    // By id, each is one log.
    let by_id = format!(
        "SELECT count(*) FROM rapid7.\"{proxy}\" WHERE {}",
        window(from, to)
    );
    assert_eq!(
        one_count(&sql(&ctx, &by_id).await.unwrap()),
        server.dataset().count(&proxy, from, to) as i64
    );
    // Listing the tables shows both, by id.
    let tables = sql(
        &ctx,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'rapid7' \
         ORDER BY table_name",
    )
    .await
    .unwrap();
    let names: Vec<String> = tables
        .iter()
        .flat_map(|b| {
            let c = b.column(0).as_string::<i32>();
            (0..b.num_rows()).map(move |i| c.value(i).to_string())
        })
        .collect();
    assert!(
        names.contains(&fw) && names.contains(&proxy) && !names.contains(&"Firewall".into()),
        "{names:?}"
    );
}
