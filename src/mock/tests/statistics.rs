//! Statistical answers in the shapes of Rapid7's material (rapid7-api.md §6):
//! results keyed by the field, values under the `type`, nested groups.

use serde_json::json;

use super::*;

const PROXY: &str = "7d2e4f61-8b3a-4e5c-a6d7-2c3b4a5f6e70";

/// A simulator that answers at once (no polls).
async fn immediate() -> MockServer {
    start(Faults {
        polls: 0,
        ..Faults::default()
    })
    .await
}

async fn statistics(s: &MockServer, statement: &str) -> Resp {
    let query: String = url::form_urlencoded::byte_serialize(statement.as_bytes()).collect();
    get(
        s,
        &format!("{}&query={query}", query_url(PROXY, T0, T0 + 60_000, 50)),
    )
    .await
}

#[tokio::test]
async fn a_function_of_a_field_is_keyed_by_the_field() {
    let s = immediate().await;
    let st = statistics(&s, "calculate(SUM:bytes) timeSlice(4)")
        .await
        .json()["statistics"]
        .clone();
    assert_eq!(
        (st["type"].as_str(), st["key"].as_str()),
        (Some("sum"), Some("bytes"))
    );
    let total = st["stats"]["bytes"]["sum"].as_f64().unwrap();
    let slices: Vec<f64> = st["timeseries"]["bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sum"].as_f64().unwrap())
        .collect();
    assert_eq!(slices.len(), 4);
    assert_eq!(slices.iter().sum::<f64>(), total);
    // As in the spec's example: the top-level value is 0 but for count.
    assert_eq!(st["sum"], json!(0.0));
    assert_eq!(st["status"], 200);
    // No value at all: 204, `{}` under the key.
    let st = statistics(&s, "where(/no such text/) calculate(max:bytes)")
        .await
        .json()["statistics"]
        .clone();
    assert_eq!(
        (st["status"].clone(), st["stats"].clone()),
        (json!(204), json!({"bytes": {}}))
    );
    // A function the simulator does not compute is Rapid7's 400.
    assert_eq!(statistics(&s, "calculate(unique:user)").await.status, 400);
}

#[tokio::test]
async fn two_groupby_keys_nest_with_lower_cased_values() {
    let s = immediate().await;
    let st = statistics(&s, "GroupBy(action, ok) CALCULATE(COUNT) timeSlice(5)")
        .await
        .json()["statistics"]
        .clone();
    assert_eq!(st["stats"], json!({}));
    assert_eq!(st["timeseries"], json!({}));
    assert_eq!(st["all_exact_result"], json!(true));
    let groups: Vec<(String, u64)> = st["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g.as_object().unwrap().iter())
        .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
        .collect();
    assert!(groups.iter().any(|(k, _)| k == "[get,true]"), "{groups:?}");
    assert!(groups.windows(2).all(|w| w[0].1 >= w[1].1), "largest first");
    for level in st["groups_timeseries"].as_array().unwrap() {
        let (action, node) = level.as_object().unwrap().iter().next().unwrap();
        assert_eq!(action, &action.to_lowercase());
        let own: Vec<u64> = node["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["count"].as_u64().unwrap())
            .collect();
        assert_eq!(own.len(), 5);
        let mut children = vec![0u64; 5];
        for child in node["groups_timeseries"].as_array().unwrap() {
            let (ok, leaf) = child.as_object().unwrap().iter().next().unwrap();
            let key = format!("[{action},{ok}]");
            let total = leaf["totals"]["count"].as_u64().unwrap();
            assert!(groups.contains(&(key.clone(), total)), "{key}");
            for (i, v) in leaf["series"].as_array().unwrap().iter().enumerate() {
                children[i] += v["count"].as_u64().unwrap();
            }
        }
        assert_eq!(own, children, "{action}: the level adds up its groups");
    }
}
