//! `_ENDPOINTS.json` written by several handles at once (as several
//! processes would: each its own store client), on a local directory and on
//! S3: no handle's fact is lost, and the doctor's newer word stays whatever
//! order the writes land in.

use datafusion_rapid7::cache::{CacheConfig, EndpointFacts, Fact, SegmentCache};
use tokio::task::JoinSet;

use super::{Backend, Env, on_local_and_s3};

/// A second handle on `env`'s cache, with its own store client.
fn other_handle(env: &Env) -> SegmentCache {
    match &env.backend {
        Backend::Local(dir) => SegmentCache::open(
            dir.path().join("cache").to_str().expect("utf-8"),
            CacheConfig::default(),
        )
        .expect("local cache"),
        Backend::S3 { _server } => {
            SegmentCache::new(_server.root("team/cache"), CacheConfig::default())
        }
    }
}

fn merged_reads_broken() -> EndpointFacts {
    let mut facts = EndpointFacts::default();
    facts.merged_reads = Some(Fact::now(false, "merged read"));
    facts
}

/// Writers per handle, each learning of its own endpoint at once. Without a
/// conditional write, a read-merge-write of one handle overwrites what
/// another wrote between its read and its write: most of these are lost.
const WRITERS: usize = 12;

async fn racing_handles_lose_no_fact(env: Env) {
    let handles = [env.cache.clone(), other_handle(&env)];
    let mut writers = JoinSet::new();
    for round in 0..3 {
        for (h, cache) in handles.iter().enumerate() {
            for w in 0..WRITERS {
                let cache = cache.clone();
                writers.spawn(async move {
                    let endpoint = format!("https://r{round}-h{h}-w{w}.example");
                    cache
                        .save_endpoint_facts(&endpoint, &merged_reads_broken())
                        .await
                });
            }
        }
        while let Some(saved) = writers.join_next().await {
            saved.expect("no panic").expect("saved");
        }
    }
    for cache in &handles {
        for round in 0..3 {
            for h in 0..2 {
                for w in 0..WRITERS {
                    let endpoint = format!("https://r{round}-h{h}-w{w}.example");
                    let facts = cache.load_endpoint_facts(&endpoint).await.unwrap();
                    assert_eq!(
                        facts.merged_reads.map(|f| f.value),
                        Some(false),
                        "{endpoint} lost"
                    );
                }
            }
        }
    }
}

async fn the_doctor_s_newer_word_stays_whatever_the_order_of_writes(env: Env) {
    const ENDPOINT: &str = "https://eu.rest.logs.insight.rapid7.com";
    let (a, b) = (env.cache.clone(), other_handle(&env));
    let doctor = |value, learnt_ms| {
        let mut facts = EndpointFacts::default();
        facts.to_inclusive = Some(Fact {
            value,
            learnt_ms,
            by: "doctor".into(),
        });
        facts
    };
    let hint = || {
        let mut facts = EndpointFacts::default();
        facts.to_inclusive_reads =
            [("GET newest-first".into(), Fact::now(true, "event read"))].into();
        facts
    };
    // A's doctor said "not inclusive" last; B's older "inclusive" and a
    // read's hint (learnt before A's doctor ran) land after it, at once.
    a.save_endpoint_facts(ENDPOINT, &doctor(false, 2_000))
        .await
        .unwrap();
    let (older_yes, read_hint) = (doctor(true, 1_000), hint());
    let (older, hinted) = tokio::join!(
        b.save_endpoint_facts(ENDPOINT, &older_yes),
        b.save_endpoint_facts(ENDPOINT, &read_hint),
    );
    older.unwrap();
    hinted.unwrap();
    for cache in [&a, &b] {
        let facts = cache.load_endpoint_facts(ENDPOINT).await.unwrap();
        assert_eq!(facts.to_inclusive.as_ref().map(|f| f.value), Some(false));
        assert!(facts.to_inclusive_reads.is_empty(), "{facts:?}");
    }
    // A newer doctor's "inclusive" replaces it; hints may stand beside it.
    b.save_endpoint_facts(ENDPOINT, &doctor(true, 3_000))
        .await
        .unwrap();
    b.save_endpoint_facts(ENDPOINT, &hint()).await.unwrap();
    // (A new handle: `a` may trust what it read for a few seconds on S3.)
    let facts = other_handle(&env)
        .load_endpoint_facts(ENDPOINT)
        .await
        .unwrap();
    assert_eq!(facts.to_inclusive.map(|f| f.value), Some(true));
    assert_eq!(facts.to_inclusive_reads.len(), 1);
}

on_local_and_s3!(
    racing_handles_lose_no_fact,
    the_doctor_s_newer_word_stays_whatever_the_order_of_writes,
);
