use super::*;

const LOG: &str = "565c1b7b-c08b-4c87-a42a-ab08bad56071";

/// Parse after earlier pages whose last returned event was `cursor`.
fn parse(body: &str, window: (i64, i64), cursor: Cursor) -> ParsedBody {
    let resume = Resume {
        cursor,
        boundary: cursor.into_iter().collect(),
    };
    parse_page(body.as_bytes(), LOG, window, &resume, 1, Order::OldestFirst).unwrap()
}

fn event(ts: i64, seq: u64, msg: &str) -> String {
    format!(
        r#"{{"labels":[],"timestamp":{ts},"sequence_number":{},"sequence_number_str":"{seq}","log_id":"{LOG}","message":{}}}"#,
        seq as f64,
        serde_json::to_string(msg).unwrap()
    )
}

fn page(events: &[String], next: Option<&str>) -> String {
    let links = next
        .map(|h| format!(r#","links":[{{"rel":"Next","href":"{h}"}}]"#))
        .unwrap_or_default();
    format!(
        r#"{{"logs":["{LOG}"],"leql":{{"statement":"","during":{{"from":0,"to":9}}}},"events":[{}]{links}}}"#,
        events.join(",")
    )
}

#[test]
fn spec_example_page_with_next() {
    // Shape of the SPEC's EventsResponsePagination example.
    let body = r#"{
      "logs": ["565c1b7b-c08b-4c87-a42a-ab08bad56071"],
      "leql": {"statement": "where(931dde6c60>=800)", "during": {"from": 1609629856000, "to": 1609629992000}},
      "events": [{
        "labels": [{"id": "00000000-0000-0000-0000-000000000001",
                    "links": [{"rel": "Self", "href": "https://ap.rest.logs.insight.rapid7.com/management/labels/00000000-0000-0000-0000-000000000001"}]}],
        "timestamp": 1609629969390,
        "sequence_number": 2234733321019952220,
        "sequence_number_str": "2234733321019952221",
        "log_id": "565c1b7b-c08b-4c87-a42a-ab08bad56071",
        "message": "{\"931dde6c60\":899}",
        "links": [{"rel": "Context", "href": "https://ap.rest.logs.insight.rapid7.com/query/context/1"}]
      }],
      "links": [{"rel": "Next", "href": "https://ap.rest.logs.insight.rapid7.com/query/logs/x?from=1609629969390&sequence_number=2234733321019952220&next_page=true"}]
    }"#;
    let p = parse(body, (1_609_629_856_000, 1_609_629_992_000), None);
    assert_eq!(p.columns.len(), 1);
    // the string wins over the imprecise number
    assert_eq!(p.columns.sequence_numbers, vec![2_234_733_321_019_952_221]);
    assert_eq!(p.columns.message(0), r#"{"931dde6c60":899}"#);
    assert_eq!(
        p.columns.labels(0).collect::<Vec<_>>(),
        vec!["00000000-0000-0000-0000-000000000001"]
    );
    assert!(find_next(&p).is_some());
    assert_eq!(p.stats.accepted, 1);
    assert_eq!(
        p.max_key,
        Some((1_609_629_969_390, 2_234_733_321_019_952_221))
    );
}

fn find_next(p: &ParsedBody) -> Option<&Link> {
    super::super::model::find_link(&p.links, "Next")
}

#[test]
fn window_is_half_open() {
    let evs = [
        event(9, 1, "a"),
        event(10, 2, "b"),
        event(19, 3, "c"),
        event(20, 4, "d"),
    ];
    let p = parse(&page(&evs, None), (10, 20), None);
    assert_eq!(p.columns.timestamps, vec![10, 19]);
    assert_eq!(p.stats.out_of_window, 2);
    assert_eq!(p.stats.received, 4);
    assert_eq!(p.stats.min_timestamp, Some(9));
    assert_eq!(p.stats.max_timestamp, Some(20));
}

#[test]
fn duplicates_at_cursor_and_within_page_are_dropped() {
    let evs = [
        event(10, 5, "seen before"),
        event(10, 6, "new"),
        event(10, 6, "new again"),
        event(11, 1, "later"),
    ];
    let p = parse(&page(&evs, None), (0, 100), Some((10, 5)));
    assert_eq!(p.columns.sequence_numbers, vec![6, 1]);
    assert_eq!(p.stats.duplicates, 2);
    assert_eq!(p.max_key, Some((11, 1)));
}

/// The `(timestamp, sequence_number)` of each event kept, in order.
fn kept_keys(p: &ParsedBody) -> Vec<(i64, u64)> {
    let c = &p.columns;
    c.timestamps
        .iter()
        .copied()
        .zip(c.sequence_numbers.iter().copied())
        .collect()
}

#[test]
fn out_of_order_keys_are_deduplicated_like_in_order_ones() {
    // In order until (5, 1), then back to keys already kept and new ones.
    let keys = [
        (3, 1),
        (4, 2),
        (5, 1),
        (4, 2),
        (4, 1),
        (3, 1),
        (6, 0),
        (4, 1),
    ];
    let evs: Vec<String> = keys.iter().map(|&(t, q)| event(t, q, "m")).collect();
    let p = parse(&page(&evs, None), (0, 100), None);
    assert_eq!(kept_keys(&p), vec![(3, 1), (4, 2), (5, 1), (4, 1), (6, 0)]);
    assert_eq!(p.stats.duplicates, 3);
    assert_eq!(p.max_key, Some((6, 0)));
}

#[test]
fn messages_that_cannot_be_borrowed_are_kept_exactly() {
    // Escaped text, numbers and JSON values are copied out of the body; an
    // event dropped after its message was read leaves no trace in the next.
    let body = format!(
        r#"{{"events":[{},{},{{"timestamp":3,"sequence_number_str":"3","message":-12}},{{"timestamp":4,"sequence_number_str":"4","message":18446744073709551615}},{{"timestamp":5,"sequence_number_str":"5","message":2.5}},{{"timestamp":6,"sequence_number_str":"6","message":true}},{{"timestamp":7,"sequence_number_str":"7","message":[1,"\u00e9"]}},{}]}}"#,
        event(1, 1, "tab\there \"q\""),
        event(200, 2, "out of window \"escaped\""),
        event(8, 8, "plain"),
    );
    let p = parse(&body, (0, 100), None);
    let got: Vec<&str> = (0..p.columns.len()).map(|i| p.columns.message(i)).collect();
    assert_eq!(
        got,
        vec![
            "tab\there \"q\"",
            "-12",
            "18446744073709551615",
            "2.5",
            "true",
            // An array message: its JSON text as sent, escapes included.
            r#"[1,"\u00e9"]"#,
            "plain"
        ]
    );
    assert_eq!(p.stats.out_of_window, 1);
}

#[test]
fn a_body_that_is_not_utf8_is_an_error_naming_where() {
    let mut body = page(&[event(1, 1, "ab")], None).into_bytes();
    let at = body.windows(2).position(|w| w == b"ab").expect("message");
    body[at] = 0xff;
    let err = parse_page(
        &body,
        LOG,
        (0, 100),
        &Resume::default(),
        1,
        Order::OldestFirst,
    )
    .err()
    .expect("an error");
    assert!(
        err.to_string()
            .contains(&format!("not UTF-8 (invalid byte at offset {at})")),
        "{err}"
    );
}

#[test]
fn malformed_events_are_counted_not_fatal() {
    let body = format!(
        r#"{{"events":[{},{{"timestamp":"x","sequence_number_str":"1","message":"m"}},{{"timestamp":5,"message":"no seq"}},{{"timestamp":5,"sequence_number_str":"7"}},42,null,{{"timestamp":6,"sequence_number":99999999999999999999,"message":"m"}},{}]}}"#,
        event(1, 1, "ok"),
        event(2, 2, "ok2")
    );
    let p = parse(&body, (0, 100), None);
    assert_eq!(p.columns.len(), 2);
    assert_eq!(p.stats.failed, 6);
    assert_eq!(p.stats.received, 8);
}

#[test]
fn lenient_shapes() {
    // numeric sequence_number_str, string timestamp, object message, rel casing
    let body = format!(
        r#"{{"events":[{{"timestamp":"12","sequence_number_str":9007199254740993,"log_id":"{LOG}","message":{{"b": [1, 2.0],  "a":1e3}},"labels":null}},{{"timestamp":13,"sequence_number":42,"message":"small number only"}}],"links":[{{"rel":"next","href":"http://n"}}]}}"#
    );
    let p = parse(&body, (0, 100), None);
    assert_eq!(p.columns.timestamps, vec![12, 13]);
    assert_eq!(p.columns.sequence_numbers, vec![9_007_199_254_740_993, 42]);
    // An object message is its JSON text exactly as sent: key order,
    // spaces and number forms included.
    assert_eq!(p.columns.message(0), r#"{"b": [1, 2.0],  "a":1e3}"#);
    assert_eq!(p.stats.object_messages, 1);
    assert_eq!(p.columns.labels(0).count(), 0);
    assert!(find_next(&p).is_some());
}

#[test]
fn escaped_and_unicode_messages_roundtrip() {
    let msgs = [
        "line\nbreak \"quoted\" \\ back",
        "snowman ☃ and emoji 🎉",
        "",
    ];
    let evs: Vec<String> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| event(1, i as u64, m))
        .collect();
    let p = parse(&page(&evs, None), (0, 100), None);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(p.columns.message(i), *m);
    }
}

#[test]
fn event_of_another_log_is_failed() {
    let body =
        r#"{"events":[{"timestamp":1,"sequence_number_str":"1","log_id":"other","message":"m"}]}"#;
    let p = parse(body, (0, 100), None);
    assert_eq!(p.columns.len(), 0);
    assert_eq!(p.stats.failed, 1);
}

#[test]
fn only_the_logs_own_events_show_how_far_the_page_reached_in_time() {
    // Out of the window (an inclusive `to`) or not, an event without a
    // `log_id` or with the queried log's counts; another log's never does,
    // however late it is stamped (`client/edge.rs` learns from this).
    let other = format!(
        r#"{{"timestamp":100,"sequence_number_str":"9","log_id":"not-{LOG}","message":"m"}}"#
    );
    let bare = r#"{"timestamp":50,"sequence_number_str":"8","message":"m"}"#.to_string();
    let body = page(&[event(5, 1, "a"), event(40, 2, "b"), other.clone()], None);
    let p = parse(&body, (0, 40), None);
    assert_eq!(p.stats.max_timestamp, Some(100));
    assert_eq!(p.max_own_timestamp, Some(40));
    let p = parse(
        &page(&[event(5, 1, "a"), bare, other.clone()], None),
        (0, 40),
        None,
    );
    assert_eq!(p.max_own_timestamp, Some(50));
    let p = parse(&page(&[other], None), (0, 40), None);
    assert_eq!(p.max_own_timestamp, None);
}

#[test]
fn every_reject_reason_is_counted_as_failed_and_only_inside_the_window() {
    let rejects = [
        // no timestamp, unreadable timestamp
        r#"{"sequence_number_str":"1","message":"m"}"#.to_string(),
        r#"{"timestamp":{"a":1},"sequence_number_str":"1","message":"m"}"#.to_string(),
        // unreadable sequence numbers
        r#"{"timestamp":5,"sequence_number_str":"x","message":"m"}"#.to_string(),
        r#"{"timestamp":5,"sequence_number":9007199254740993,"message":"m"}"#.to_string(),
        // no message
        r#"{"timestamp":5,"sequence_number_str":"3"}"#.to_string(),
        // another log
        format!(
            r#"{{"timestamp":5,"sequence_number_str":"4","log_id":"not-{LOG}","message":"m"}}"#
        ),
    ];
    let body = format!(r#"{{"events":[{}]}}"#, rejects.join(","));
    let p = parse(&body, (0, 100), None);
    assert_eq!((p.stats.received, p.stats.failed), (6, 6));
    assert_eq!(p.columns.len(), 0);
    // The same events outside the window are not this window's to reject
    // (the timestamp-less ones still are: nothing says where they belong).
    let p = parse(&body, (50, 100), None);
    assert_eq!(p.stats.failed, 2, "{:?}", p.stats);
    assert_eq!(p.stats.out_of_window, 4);
    // How far the page reached counts events of any kind with a key.
    assert_eq!(p.max_seen, Some((5, 4)));
    assert_eq!(p.max_key, None);
}

#[test]
fn truncated_body_is_an_error() {
    let body = page(&[event(1, 1, "a"), event(2, 2, "b")], None);
    let cut = &body.as_bytes()[..body.len() / 2];
    assert!(
        parse_page(
            cut,
            LOG,
            (0, 100),
            &Resume::default(),
            1,
            Order::OldestFirst
        )
        .is_err()
    );
}

#[test]
fn in_progress_body_has_self_link() {
    let body = r#"{"logs":["x"],"progress":40,"id":"a:0:b:1:c:","events":[],"links":[{"rel":"Self","href":"https://h/query/a:0:b:1:c:"}]}"#;
    let p = parse(body, (0, 100), None);
    assert!(super::super::model::find_link(&p.links, "Self").is_some());
    assert!(p.columns.is_empty());
}

#[test]
fn statistical_body_is_flagged() {
    let body = r#"{"logs":["x"],"statistics":{"count":1},"search_stats":{}}"#;
    assert!(parse(body, (0, 100), None).statistical);
}

#[test]
fn a_ten_megabyte_message_decodes_exactly() {
    // 10 MiB of text with escapes, unicode and a newline in every kilobyte.
    let chunk = "x\"y\\z é ✓\n".repeat(1024 / 14);
    let big = chunk.repeat(10 * 1024 * 1024 / chunk.len() + 1);
    assert!(big.len() >= 10 * 1024 * 1024);
    let body = page(
        &[
            event(1, 1, "small"),
            event(2, 2, &big),
            event(3, 3, "after"),
        ],
        None,
    );
    let decoded = decode_page(body.as_bytes(), LOG, 0, 10).unwrap();
    assert_eq!(decoded.columns.len(), 3);
    assert_eq!(decoded.columns.message(1), big);
    assert_eq!(decoded.columns.message(2), "after");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON value, a few levels deep.
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("timestamp".to_string()),
                        Just("sequence_number".to_string()),
                        Just("sequence_number_str".to_string()),
                        Just("message".to_string()),
                        Just("labels".to_string()),
                        Just("log_id".to_string()),
                        Just("events".to_string()),
                        Just("links".to_string()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..6,
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever order a page's keys come in, the events kept are the
        /// first of each key, in page order.
        #[test]
        fn kept_events_are_the_first_of_each_key(
            keys in prop::collection::vec((0i64..6, 0u64..4), 0..40)
        ) {
            let evs: Vec<String> = keys.iter().map(|&(t, q)| event(t, q, "m")).collect();
            let p = parse(&page(&evs, None), (0, 100), None);
            let mut seen = std::collections::HashSet::new();
            let first: Vec<(i64, u64)> = keys.iter().copied().filter(|k| seen.insert(*k)).collect();
            prop_assert_eq!(p.stats.duplicates, (keys.len() - first.len()) as u64);
            prop_assert_eq!(kept_keys(&p), first);
        }

        /// Arbitrary bytes: an error or a page, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_page(&body, LOG, 0, i64::MAX);
        }

        /// Arbitrary events: every one is accounted for exactly once.
        #[test]
        fn every_event_is_accounted_for(events in prop::collection::vec(json(), 0..20)) {
            // Any value in the events array is an event (good, failed, ...),
            // never an error for the page.
            let body = serde_json::json!({"events": events}).to_string();
            let page = decode_page(body.as_bytes(), LOG, 0, i64::MAX);
            prop_assert!(page.is_ok(), "{page:?}");
            if let Ok(page) = page {
                let s = page.stats;
                prop_assert_eq!(s.received, events.len() as u64);
                prop_assert_eq!(s.received, s.accepted + s.duplicates + s.out_of_window + s.failed);
                prop_assert_eq!(page.columns.len() as u64, s.accepted);
            }
        }
    }
}

#[test]
fn a_page_of_broken_events_warns_five_times_and_counts_them_all() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    /// Counts events by level.
    #[derive(Clone, Default)]
    struct Levels(Arc<Mutex<Vec<tracing::Level>>>);
    impl<S: tracing::Subscriber> Layer<S> for Levels {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0.lock().unwrap().push(*event.metadata().level());
        }
    }
    let levels = Levels::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(levels.clone()));
    let broken = vec![r#"{"sequence_number_str":"1","message":"m"}"#; 40].join(",");
    let p = parse(&format!(r#"{{"events":[{broken}]}}"#), (0, 100), None);
    assert_eq!(p.stats.failed, 40);
    let seen = levels.0.lock().unwrap();
    let count = |l| seen.iter().filter(|x| **x == l).count();
    assert_eq!(count(tracing::Level::WARN), 5);
    assert_eq!(count(tracing::Level::DEBUG), 35);
}

/// Newest first, Rapid7 documents no order within a millisecond: a page
/// ending inside a millisecond, and a next page going on in it in another
/// order, lose nothing; repeats are still dropped.
#[test]
fn newest_first_pages_lose_nothing_within_a_millisecond_in_any_order() {
    let parse_after = |evs: &[String], resume: &Resume| {
        parse_page(
            page(evs, None).as_bytes(),
            LOG,
            (0, 100),
            resume,
            1,
            Order::NewestFirst,
        )
        .unwrap()
    };
    let mut resume = Resume::default();
    // Ascending sequence numbers within millisecond 20.
    let p1 = parse_after(&[event(20, 1, "a"), event(20, 2, "b")], &resume);
    assert_eq!(kept_keys(&p1), vec![(20, 1), (20, 2)]);
    resume.advance(Order::NewestFirst, &p1);
    let p2 = parse_after(
        &[
            event(20, 2, "b again"),
            event(20, 3, "c"),
            event(19, 9, "older"),
        ],
        &resume,
    );
    assert_eq!(kept_keys(&p2), vec![(20, 3), (19, 9)]);
    assert_eq!(p2.stats.duplicates, 1);
    resume.advance(Order::NewestFirst, &p2);
    // Events of a millisecond already passed, and of the boundary one seen.
    let p3 = parse_after(&[event(20, 1, "a"), event(19, 9, "older")], &resume);
    assert_eq!(kept_keys(&p3), vec![]);
    assert_eq!(p3.stats.duplicates, 2);
    // A new event of the boundary millisecond is new.
    let p4 = parse_after(&[event(19, 10, "same ms, unseen")], &resume);
    assert_eq!(kept_keys(&p4), vec![(19, 10)]);
}

/// Older material has no `sequence_number_str` (demisto/content's
/// `test_data/query_log.json`, copied from a rendered page, `×tamp` and
/// all): the number is a rounded double, the exact value only in the
/// `Context` link.
#[test]
fn a_missing_sequence_number_str_is_recovered_from_the_context_link() {
    let body = r#"{"logs": ["b7b33bce-58f1-42db-a36a-f452aa240d73"],
      "events": [{"labels": [], "timestamp": 1583009183456, "sequence_number": 3234730521598636000,
        "log_id": "b7b33bce-58f1-42db-a36a-f452aa240d73",
        "message": "{\"http.addr\" : \"176.9.8.97\",\"http.status\" : \"500\",\"http.bytes\" : 4046}",
        "links": [{"rel": "Context",
          "href": "https://eu.api.insight.rapid7.com/log_search/query/context/3234730521598636032?per_page=50×tamp=1583009183456&log_keys=b7b33bce-58f1-42db-a36a-f452aa240d73&context_type=SURROUND"}]}],
      "leql": {"statement": "where(http.status)",
               "during": {"from": 1583009182433, "to": 1585601175000, "time_range": "Last 30 Days"}}}"#;
    let p = decode_page(
        body.as_bytes(),
        "b7b33bce-58f1-42db-a36a-f452aa240d73",
        1_583_009_182_433,
        1_585_601_175_000,
    )
    .unwrap();
    assert_eq!(p.stats.failed, 0, "{:?}", p.stats);
    assert_eq!(p.columns.sequence_numbers, vec![3_234_730_521_598_636_032]);
}

#[test]
fn the_context_link_is_taken_only_where_it_agrees_with_the_number() {
    let ev = |number: &str, link: &str| {
        format!(r#"{{"timestamp":5,{number}"message":"m","links":[{link}]}}"#)
    };
    let ctx =
        |seq: &str| format!(r#"{{"rel":"Context","href":"https://h/query/context/{seq}?x=1"}}"#);
    let body = format!(
        r#"{{"events":[{},{},{},{},{}]}}"#,
        // No number at all: the link is the only value there is.
        ev("", &ctx("3234730521598636032")),
        // Below 2^53 the number itself is exact, whatever the link says.
        ev(r#""sequence_number":42,"#, &ctx("7")),
        // A link that does not round to the number is not this event's.
        ev(
            r#""sequence_number":3234730521598636000,"#,
            &ctx("3234730521598646032")
        ),
        // Above 2^53 without a link: not exact, rejected.
        ev(
            r#""sequence_number":3234730521598636000,"#,
            r#"{"rel":"Self","href":"x"}"#
        ),
        // Lower-case rel, a link list in another shape.
        ev(
            r#""sequence_number":3234730521598636000,"#,
            &ctx("3234730521598636033").replace("Context", "context")
        ),
    );
    let p = parse(&body, (0, 100), None);
    assert_eq!(
        p.columns.sequence_numbers,
        vec![3_234_730_521_598_636_032, 42, 3_234_730_521_598_636_033]
    );
    assert_eq!(p.stats.failed, 2);
    let reason = p.first_rejection.unwrap();
    assert!(
        reason.contains("disagrees with its Context link"),
        "{reason}"
    );
}

/// Four events of a real capture (demisto/content's README, a query against
/// the US service in 2020): sequence numbers rise by 4096 steps within a
/// millisecond and are not monotone across milliseconds. Paged two by two,
/// with the second page repeating the first's last event, none is lost or
/// kept twice.
#[test]
fn the_real_capture_pages_without_loss_or_duplicate() {
    const LOG: &str = "ab5a7594-5fde-4c5c-9ee6-e67291f0a40c";
    let ev = |ts: i64, seq: u64| {
        format!(
            r#"{{"labels":[],"links":[{{"href":"https://us.api.insight.rapid7.com/log_search/query/context/{seq}?per_page=50&timestamp={ts}&log_keys={LOG}&context_type=SURROUND","rel":"Context"}}],"log_id":"{LOG}","message":"m{seq}","sequence_number":{},"sequence_number_str":"{seq}","timestamp":{ts}}}"#,
            seq as f64
        )
    };
    let capture = [
        (1_605_102_271_671, 3_237_201_778_429_120_512u64),
        (1_605_102_271_671, 3_237_201_778_429_128_704),
        (1_605_535_859_467, 3_237_199_644_177_084_416),
        (1_605_541_577_601, 3_237_202_737_554_612_224),
    ];
    let bodies = [
        format!(
            r#"{{"events":[{},{}]}}"#,
            ev(capture[0].0, capture[0].1),
            ev(capture[1].0, capture[1].1)
        ),
        format!(
            r#"{{"events":[{},{},{}]}}"#,
            ev(capture[1].0, capture[1].1),
            ev(capture[2].0, capture[2].1),
            ev(capture[3].0, capture[3].1)
        ),
    ];
    let window = (1_605_000_000_000, 1_606_000_000_000);
    let mut resume = Resume::default();
    let mut kept = Vec::new();
    let mut duplicates = 0;
    for body in &bodies {
        let p = parse_page(body.as_bytes(), LOG, window, &resume, 1, Order::OldestFirst).unwrap();
        duplicates += p.stats.duplicates;
        kept.extend(kept_keys(&p));
        resume.advance(Order::OldestFirst, &p);
    }
    assert_eq!(kept, capture.to_vec());
    assert_eq!(duplicates, 1);
}
