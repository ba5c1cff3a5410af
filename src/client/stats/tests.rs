//! The decoder against the shapes Rapid7's own material shows. The bodies
//! are written from those facts (rapid7-api.md §6, §9 f, §12): the spec's
//! `StatisticalResponseSimple` and `StatisticalResponseTimeSeriesMultiGroupBy`
//! examples, the InsightIDR plugin's payloads `log_id6/7/8.json.resp` and
//! help.md, lecli's `empty_ts_response`, and the older "GET Query" page.

use super::*;
use serde_json::json;

fn decode(v: Value) -> Statistics {
    decode_statistics(&v, 0, 100).unwrap()
}

fn values(v: &[Option<f64>]) -> Vec<f64> {
    v.iter().map(|x| x.expect("a value")).collect()
}

/// The spec's `calculate(sd:3ad3319a46)` example, verbatim values.
fn spec_sd() -> Value {
    json!({
      "logs": ["565c1b7b-c08b-4c87-a42a-ab08bad56071", "c78579a8-8b20-4e6a-d4c0-5287198a263b"],
      "leql": {"statement": "calculate(sd:3ad3319a46)",
               "during": {"from": 1609679106682i64, "to": 1609679706682i64}},
      "statistics": {
        "cardinality": 0, "granularity": 60000, "from": 1609679106682i64, "to": 1609679706682i64,
        "type": "standarddeviation",
        "stats": {"3ad3319a46": {"standarddeviation": 287.01781617806677}},
        "groups": [], "others": {}, "status": 200,
        "timeseries": {"3ad3319a46": [
          {"standarddeviation": 264.67908507948334}, {"standarddeviation": 318.8861682764081},
          {"standarddeviation": 288.0976375868536}, {"standarddeviation": 298.30015234396},
          {"standarddeviation": 271.8874158563202}, {"standarddeviation": 241.83893687729548},
          {"standarddeviation": 245.0096430890253}, {"standarddeviation": 294.34210035083316},
          {"standarddeviation": 301.9467447555437}, {"standarddeviation": 291.7268742522665}
        ]},
        "groups_timeseries": [], "all_exact_results": null,
        "standarddeviation": 0, "key": "3ad3319a46"
      },
      "search_stats": {"duration_ms": 93, "bytes_all": 5607226, "bytes_checked": 5607226,
                       "events_all": 20000, "events_checked": 20000, "events_matched": 4310,
                       "index_factor": 0}
    })
}

#[test]
fn the_spec_sd_example_is_keyed_by_its_field() {
    let s = decode_statistics(&spec_sd(), 1_609_679_106_682, 1_609_679_706_682).unwrap();
    assert_eq!(s.key, "3ad3319a46");
    assert_eq!(s.function, "standarddeviation");
    assert_eq!(s.total, Some(287.017_816_178_066_77));
    assert_eq!(s.timeseries.len(), 10);
    assert_eq!(s.timeseries[0], Some(264.679_085_079_483_34));
    assert_eq!(s.timeseries[9], Some(291.726_874_252_266_5));
    assert_eq!(s.granularity_ms, 60_000);
    assert!(!s.empty);
    // Without `statistics.key`, the single key of `stats` says the same.
    let mut body = spec_sd();
    body["statistics"].as_object_mut().unwrap().remove("key");
    assert_eq!(decode(body).key, "3ad3319a46");
    // The top-level `standarddeviation: 0` is never the answer.
    let mut body = spec_sd();
    let st = body["statistics"].as_object_mut().unwrap();
    st.insert("stats".into(), json!({}));
    st.insert("timeseries".into(), json!({}));
    let e = decode_statistics(&body, 0, 1).unwrap_err();
    assert!(
        e.contains("does not know") && e.contains("3ad3319a46"),
        "{e}"
    );
}

#[test]
fn a_sum_keyed_by_its_field_and_several_candidates_without_a_key() {
    let s = decode(
        json!({"statistics": {"type": "sum", "granularity": 50, "from": 0, "to": 100,
        "stats": {"bytes": {"sum": 12.5}},
        "timeseries": {"bytes": [{"sum": 10.0}, {}]}, "sum": 0}}),
    );
    assert_eq!((s.key.as_str(), s.total), ("bytes", Some(12.5)));
    // An empty slice object has no value (an average of no events is none).
    assert_eq!(s.timeseries, vec![Some(10.0), None]);
    let e = decode_statistics(
        &json!({"statistics": {"type": "sum",
            "stats": {"a": {"sum": 1}, "b": {"sum": 2}}}}),
        0,
        1,
    )
    .unwrap_err();
    assert!(e.contains("several results (a, b)"), "{e}");
    let e = decode_statistics(
        &json!({"statistics": {"type": "max", "key": "x", "stats": {"y": {"max": 1}}}}),
        0,
        1,
    )
    .unwrap_err();
    assert!(e.contains("no result under \"x\" (it holds y)"), "{e}");
    let e = decode_statistics(
        &json!({"statistics": {"type": "max", "stats": {"x": {"min": 1, "sum": 2}}}}),
        0,
        1,
    )
    .unwrap_err();
    assert!(e.contains("no \"max\" value"), "{e}");
}

/// The spec's `groupby(key1, key2) timeslice(5)` example, with its spelling
/// variants (`total`, `totals` as a list, `groups-timeseries`, `counts`).
fn spec_multi_groupby() -> Value {
    let s = |v: [f64; 5]| v.iter().map(|c| json!({"count": c})).collect::<Vec<_>>();
    json!({"statistics": {
        "cardinality": 0, "granularity": 0, "from": 1609696665614i64, "to": 1609697265614i64,
        "type": "count", "stats": {},
        "groups": [{"[1,9]": {"count": 6.0}}, {"[2,10]": {"count": 4.0}}, {"[1,10]": {"count": 3.0}},
                   {"[0,9]": {"count": 2.0}}, {"[0,10]": {"count": 2.0}}, {"[2,9]": {"count": 1.0}}],
        "others": {"series": []}, "status": 200, "timeseries": {},
        "groups_timeseries": [
          {"1": {"groups_timeseries": [
              {"9": {"groups_timeseries": [], "series": s([1.0, 1.0, 2.0, 2.0, 0.0]), "totals": {"count": 6.0}}},
              {"10": {"groups_timeseries": [], "series": s([2.0, 0.0, 0.0, 1.0, 0.0]), "total": 3.0}}],
            "series": s([3.0, 1.0, 2.0, 3.0, 0.0]), "totals": {"count": 9.0}}},
          {"2": {"groups_timeseries": [
              {"10": {"groups_timeseries": [], "series": s([1.0, 0.0, 0.0, 2.0, 1.0]), "totals": {"count": 4.0}}},
              {"9": {"groups_timeseries": [], "series": s([0.0, 1.0, 0.0, 0.0, 0.0]), "total": {"count": 1.0}}}],
            "series": s([1.0, 1.0, 0.0, 2.0, 1.0]), "totals": {"count": 5.0}}},
          {"0": {"groups_timeseries": [
              {"10": {"groups_timeseries": [], "series": s([0.0, 0.0, 1.0, 1.0, 0.0]), "totals": [{"count": 2.0}]}},
              {"9": {"groups-timeseries": [], "series": s([0.0, 1.0, 0.0, 1.0, 0.0]), "totals": [{"counts": 2.0}]}}],
            "series": s([0.0, 1.0, 1.0, 2.0, 0.0]), "totals": {"count": 4.0}}}
        ],
        "all_exact_result": true}})
}

#[test]
fn nested_groups_become_one_series_per_group_path() {
    let s = decode(spec_multi_groupby());
    let got: Vec<(String, Vec<f64>, Option<f64>)> = s
        .groups_timeseries
        .iter()
        .map(|g| (g.key(), values(&g.series), g.total))
        .collect();
    let want = vec![
        ("[1,9]", vec![1.0, 1.0, 2.0, 2.0, 0.0], Some(6.0)),
        ("[1,10]", vec![2.0, 0.0, 0.0, 1.0, 0.0], Some(3.0)),
        ("[2,10]", vec![1.0, 0.0, 0.0, 2.0, 1.0], Some(4.0)),
        ("[2,9]", vec![0.0, 1.0, 0.0, 0.0, 0.0], Some(1.0)),
        ("[0,10]", vec![0.0, 0.0, 1.0, 1.0, 0.0], Some(2.0)),
        ("[0,9]", vec![0.0, 1.0, 0.0, 1.0, 0.0], Some(2.0)),
    ];
    let want: Vec<_> = want
        .into_iter()
        .map(|(k, v, t)| (k.to_string(), v, t))
        .collect();
    assert_eq!(got, want);
    assert_eq!(s.groups_timeseries[0].path, ["1", "9"]);
    // Each path's series adds up to its entry in `groups`.
    for g in &s.groups_timeseries {
        let sum: f64 = values(&g.series).iter().sum();
        let listed = s.groups.iter().find(|x| x.key == g.key()).unwrap();
        assert_eq!(listed.value, Some(sum), "{}", g.key());
    }
    assert_eq!(s.exact, Some(true));
    assert_eq!(s.key, "global_timeseries");
}

#[test]
fn one_key_groups_as_the_plugin_payloads_show_them() {
    // log_id8.json.resp: lower-cased group values, integer counts.
    let series = |v: [u64; 10]| v.iter().map(|c| json!({"count": c})).collect::<Vec<_>>();
    let s = decode(
        json!({"statistics": {"cardinality": 0, "granularity": 4320000,
        "from": 1699569260000i64, "to": 1699612460000i64, "type": "count", "stats": {},
        "groups": [{"tomascybereasonsensor": {"count": 555}}, {"windowsx64": {"count": 465}}],
        "others": {"series": []}, "status": 200, "timeseries": {},
        "groups_timeseries": [
          {"tomascybereasonsensor": {"groups_timeseries": [],
            "series": series([31, 37, 56, 25, 17, 273, 22, 38, 33, 23]), "totals": {"count": 555}}},
          {"windowsx64": {"groups_timeseries": [],
            "series": series([28, 53, 42, 56, 57, 32, 46, 50, 54, 47]), "totals": {"count": 465}}}],
        "all_exact_result": true}}),
    );
    let keys: Vec<String> = s.groups_timeseries.iter().map(GroupSeries::key).collect();
    assert_eq!(keys, ["tomascybereasonsensor", "windowsx64"]);
    assert_eq!(s.groups[1].key, "windowsx64");
    assert_eq!(s.groups[1].value, Some(465.0));
    assert_eq!(
        values(&s.groups_timeseries[1].series).iter().sum::<f64>(),
        465.0
    );
}

#[test]
fn empty_answers_are_known_shapes() {
    // lecli's empty_ts_response: `{}` under the key, a zero series.
    let s = decode(
        json!({"statistics": {"from": 123123, "to": 123123, "count": 0.0,
        "stats": {"global_timeseries": {}}, "granularity": 120000,
        "timeseries": {"global_timeseries": vec![json!({"count": 0.0}); 10]}}}),
    );
    assert!(s.empty);
    assert_eq!(s.total, Some(0.0));
    assert_eq!(s.timeseries, vec![Some(0.0); 10]);
    assert_eq!(
        counts_from(&s, 123_123, 123_123 + 1_200_000, 10)
            .unwrap()
            .slices,
        vec![0; 10],
        "ten empty slices"
    );
    // log_id7.json.resp's shape, final: status 204, nothing else.
    let s = decode(
        json!({"statistics": {"cardinality": 0, "granularity": 4320000,
        "from": 1699569260000i64, "to": 1699612460000i64, "type": "count", "stats": {},
        "groups": [], "others": {}, "status": 204, "timeseries": {}, "groups_timeseries": [],
        "all_exact_result": true}}),
    );
    assert!(s.empty && s.total.is_none() && s.groups.is_empty());
    assert_eq!(counts_from(&s, 0, 100, 4).unwrap().slices, vec![0; 4]);
    // The same with status 200 is not a shape: no answer in it.
    let e = decode_statistics(
        &json!({"statistics": {"type": "count", "stats": {}, "groups": [], "status": 200,
            "timeseries": {}, "groups_timeseries": []}}),
        0,
        1,
    )
    .unwrap_err();
    assert!(e.contains("does not know"), "{e}");
}

#[test]
fn the_older_docs_202_is_polled_by_its_lower_case_self_link() {
    // docs.rapid7.com "GET Query": `query` instead of `leql`, `rel: "self"`.
    let body = json!({"logs": ["f9c6e2c1-ac7a-4a29-8faa-a8d70f96df70"],
        "id": "deace1fd-e605-41cd-a45c-5bf1ff0c3402-1", "progress": 0,
        "query": {"statement": "where(foo) calculate(count:x)", "during": {"to": 100000, "from": 100}},
        "links": [{"rel": "self",
            "href": "https://us.api.insight.rapid7.com/log_search/query/logs/deace1fd-e605-41cd-a45c-5bf1ff0c3402-1"}]});
    let links = links_of(&body);
    let link = crate::client::model::find_link(&links, "Self").expect("a Self link");
    assert!(
        link.href
            .ends_with("/deace1fd-e605-41cd-a45c-5bf1ff0c3402-1")
    );
}

#[test]
fn the_plugin_count_fixture_decodes() {
    // rapid7-api.md §9 (f), three of its ten slices.
    let body = json!({
      "logs": ["553048ff-e6ab-4597-a3e0-2b24032c233e"],
      "leql": {"statement": "where(hostname='WindowsX64') calculate(count)",
               "during": {"from": 1699567413000i64, "to": 1699610613000i64}},
      "statistics": {"cardinality": 0, "granularity": 4320000, "from": 1699567413000i64,
                     "to": 1699610613000i64, "type": "count",
                     "stats": {"global_timeseries": {"count": 121}}, "groups": [], "others": {},
                     "status": 200,
                     "timeseries": {"global_timeseries": [{"count": 38}, {"count": 47}, {"count": 36}]},
                     "groups_timeseries": [], "all_exact_result": null, "count": 121}
    });
    let s = decode(body);
    assert_eq!(s.key, "global_timeseries");
    assert_eq!(s.total, Some(121.0));
    assert_eq!(values(&s.timeseries), vec![38.0, 47.0, 36.0]);
    assert_eq!(s.granularity_ms, 4_320_000);
    assert_eq!(s.exact, None);
    let from = 1_699_567_413_000;
    let c = counts_from(&s, from, from + 3 * 4_320_000, 3).unwrap();
    assert_eq!(c.slices, vec![38, 47, 36]);
    assert_eq!(c.total(), 121);
    assert!(c.exact);
}

#[test]
fn slices_laid_out_otherwise_than_asked_are_an_error() {
    let body = |from: i64, granularity: i64| {
        json!({"statistics": {"type": "count", "from": from, "to": from + 100,
            "granularity": granularity,
            "timeseries": {"global_timeseries": [{"count": 1}, {"count": 2}]}}})
    };
    assert_eq!(
        counts_from(&decode(body(0, 50)), 0, 100, 2).unwrap().slices,
        vec![1, 2]
    );
    let e = counts_from(&decode(body(10, 50)), 0, 100, 2).unwrap_err();
    assert!(e.contains("start at 10"), "{e}");
    let e = counts_from(&decode(body(0, 40)), 0, 100, 2).unwrap_err();
    assert!(e.contains("40 ms"), "{e}");
}

#[test]
fn lenient_shapes() {
    // Floats, strings, no total.
    let s = decode(json!({"statistics": {"type": "count",
        "timeseries": {"global_timeseries": [{"count": 2.0}, {"count": "3"}]}}}));
    assert_eq!(counts_from(&s, 0, 100, 2).unwrap().slices, vec![2, 3]);
    // 204, empty stats: zero everywhere.
    let s = decode(
        json!({"statistics": {"status": 204, "stats": {"global_timeseries": {}},
        "timeseries": {"global_timeseries": []}}}),
    );
    assert_eq!(counts_from(&s, 0, 100, 4).unwrap().slices, vec![0; 4]);
    // A top-level count only, one slice.
    let s = decode(json!({"statistics": {"type": "count", "count": 7}}));
    assert_eq!(counts_from(&s, 0, 100, 1).unwrap().slices, vec![7]);
    // `counts`, all_exact_results false.
    let s = decode(
        json!({"statistics": {"type": "count", "all_exact_results": false,
        "stats": {"global_timeseries": {"counts": 5}},
        "timeseries": {"global_timeseries": [{"counts": 5}]}}}),
    );
    let c = counts_from(&s, 0, 100, 1).unwrap();
    assert_eq!((c.total(), c.exact), (5, false));
    // lecli's group_response: no `type`, every function in each group.
    let s = decode(
        json!({"statistics": {"from": 123123, "to": 1231323, "granularity": 0,
        "count": 1234, "timeseries": {}, "stats": {},
        "groups": [{"200": {"count": 802.0, "min": 802.0, "max": 802.0, "sum": 802.0}},
                   {"status": {"count": 205.0, "min": 205.0}}]}}),
    );
    let groups: Vec<(String, Option<f64>)> =
        s.groups.into_iter().map(|g| (g.key, g.value)).collect();
    assert_eq!(
        groups,
        vec![("200".into(), Some(802.0)), ("status".into(), Some(205.0))]
    );
}

#[test]
fn what_does_not_add_up_is_an_error_not_a_count() {
    let bad = [
        json!({"statistics": {"timeseries": {"global_timeseries": [{"count": 1.5}]}}}),
        json!({"statistics": {"timeseries": {"global_timeseries": [{"count": -1}]}}}),
        json!({"statistics": {"timeseries": {"global_timeseries": [{"count": "many"}]}}}),
        json!({"statistics": {"stats": {"global_timeseries": {"count": 9}},
               "timeseries": {"global_timeseries": [{"count": 1}, {"count": 2}]}}}),
        json!({"statistics": {"timeseries": {"global_timeseries": [{"count": 1}]}}}),
        json!({"statistics": {"status": 200}}),
        json!({"statistics": {"timeseries": {"global_timeseries": {"count": 1}}}}),
        json!({"statistics": {"stats": [1]}}),
        json!({"statistics": {"groups_timeseries": [{"a": {"series": {"count": 1}}}]}}),
        json!({"statistics": {"groups_timeseries": [{"a": 5}]}}),
    ];
    for (i, body) in bad.into_iter().enumerate() {
        let result = decode_statistics(&body, 0, 100).and_then(|s| counts_from(&s, 0, 100, 2));
        assert!(result.is_err(), "case {i}: {result:?}");
    }
    assert!(decode_statistics(&json!({"events": []}), 0, 1).is_err());
    assert!(decode_statistics(&json!({}), 0, 1).is_err());
}
