//! Rapid7's own saved queries through the simulator: every statement of
//! rapid7/le_community_packs (commit 81984503bcfcfbd0c39a01fa98255c674afc6582,
//! 2022-07-07; the `query`/`statement` strings of its pack files that use
//! `calculate(count)` in any case, `timeslice`, `/…/i` or escaped commas)
//! that falls in the LEQL the simulator speaks (docs/simulator.md, "LEQL and
//! statistics"), copied verbatim. Left out: field comparisons (`status>0`),
//! `count:field`, `unique`, `sort(…)`, several bare keywords without an
//! operator, and regexes that do not compile.
//!
//! Each runs on every standard log, is answered in Rapid7's shapes, and
//! decodes to the function and key it asks for; counts add up over slices
//! and equal the events the same `where(…)` pages. A few Auth Service
//! events carry messages written for these packs (`MESSAGES`), so that the
//! values of some statements can be worked out by hand.

use std::collections::BTreeMap;

use datafusion_rapid7::client::Statistics;
use datafusion_rapid7::mock::{Faults, MockConfig, MockDataset, MockServer};
use futures::TryStreamExt;

use crate::support::*;

/// Messages for the first events of Auth Service in the window.
const MESSAGES: &[&str] = &[
    r#"{"eventName":"StartInstances","userName":"Alice","userIdentity":{"type":"IAMUser"},"http.bytes":512,"numberOfHits":3,"size":100}"#,
    r#"{"eventName":"StopInstances","userName":"Bob","userIdentity":{"type":"IAMUser"},"http.bytes":2048,"numberOfHits":5,"size":300}"#,
    "INFO db-pool: query duration: 12.5 ms",
    "Sending PUBLISH to c1/device-7 (d0, q1, r0)",
    "LOGIN_EVENT user=carol function_name=handler execution_time=120 cpu=7",
    "LOGIN_EVENT user=dave function_name=handler execution_time=80 cpu=3",
    "4625 EVENT An account failed to log on",
    "Mem.active=1024 CPU.system=3.5 reslen=77 memory usage is 42",
];

/// Values worked out from `MESSAGES` by hand: `(statement, total)` for the
/// window, or `(statement, group values)`.
const TOTALS: &[(&str, f64)] = &[
    ("where(StartInstances) calculate(COUNT)", 1.0),
    ("where(LOGIN_EVENT) calculate(COUNT)", 2.0),
    ("where(numberOfHits) calculate(SUM:numberOfHits)", 8.0),
    ("where(size) calculate(SUM:size)", 400.0),
    ("calculate(AVERAGE:http.bytes)", 1280.0),
    (
        r"where(/duration: (?P<time>\d+\.\d+) ms/) calculate(AVERAGE:time)",
        12.5,
    ),
    ("where(Mem.active) calculate(average:Mem.active)", 1024.0),
    ("where(CPU.system) calculate(average:CPU.system)", 3.5),
    ("where(reslen) calculate(AVERAGE:reslen)", 77.0),
    (
        r"where(/memory usage is (?P<MemUsage>\d*)/) calculate(AVERAGE:MemUsage)",
        42.0,
    ),
    (
        r"where(/4625 EVENT/ OR /\s529 EVENT/) CALCULATE(COUNT)",
        1.0,
    ),
];
const GROUPS: &[(&str, &[(&str, f64)])] = &[
    (
        "where(eventName AND IAMUser) groupby(userName) calculate(COUNT)",
        &[("alice", 1.0), ("bob", 1.0)],
    ),
    (
        "where(function_name) groupby(function_name) calculate(AVERAGE:execution_time)",
        &[("handler", 100.0)],
    ),
    (
        r"where(/(Sending|Received) PUBLISH \w* \w*\/(?P<deviceID>\S*)/) groupby(deviceID) calculate(count)",
        &[("device-7", 1.0)],
    ),
];

/// The statements of le_community_packs in the simulated subset.
const STATEMENTS: &[&str] = &[
    r#"where(StartInstances) calculate(COUNT)"#,
    r#"where(StopInstances) calculate(COUNT)"#,
    r#"where(eventName) groupby(eventName) calculate(COUNT)"#,
    r#"where(eventName AND IAMUser) groupby(eventName) calculate(COUNT)"#,
    r#"where(eventName AND IAMUser) groupby(userName) calculate(COUNT)"#,
    r#"calculate(AVERAGE:http.bytes)"#,
    r#"where(/memory usage is (?P<MemUsage>\d*)/) calculate(AVERAGE:MemUsage)"#,
    r#"where(/actual usage (?P<MemUsage>\d*)/) calculate(AVERAGE:MemUsage)"#,
    r#"where(type) groupby(type) calculate(count)"#,
    r#"where(country) groupby(country) calculate(COUNT)"#,
    r#"where(POP) groupby(POP) calculate(COUNT)"#,
    r#"where(region) groupby(region) calculate(COUNT)"#,
    r#"where(country_code) groupby(country_code) calculate(COUNT)"#,
    r#"where(country_name) groupby(country_name) calculate(COUNT)"#,
    r#"where(numberOfHits) calculate(SUM:numberOfHits)"#,
    r#"where(size) calculate(SUM:size)"#,
    r#"where(/duration: (?P<time>\d+\.\d+) ms/) calculate(AVERAGE:time)"#,
    r#"where(/(?P<severity>LOG|DEBUG|INFO|NOTICE|WARNING|FATAL|ERROR|PANIC)/) groupby(severity) calculate(COUNT)"#,
    r#"where(/\d{3}\.\d{1,}\.\d{1,}\.\d{1,}\, (?P<time>\d{1,})/) calculate(AVERAGE:time)"#,
    r#"where(/\d{3}\.\d{1,}\.\d{1,}\.\d{1,}\, \d{1,}, (?P<bytes>\d{1,}),/) calculate(AVERAGE:bytes)"#,
    r#"where(/\d{3}\.\d{1,}\.\d{1,}\.\d{1,}\, \d{1,}, \d{1,}, \d{1,}, (?P<status>\d{3})/) groupby(status) calculate(COUNT)"#,
    r#"where(/\d{3}\.\d{1,}\.\d{1,}\.\d{1,}\, \d{1,}, \d{1,}, \d{1,}, \d{3}, (?P<windows_status>\d{1,})/) groupby(windows_status) calculate(COUNT)"#,
    r#"where(/\d{3}\.\d{1,}\.\d{1,}\.\d{1,}\, \d{1,}, \d{1,}, \d{1,}, \d{3}, \d{1,}, (?P<request_type>\w{1,4})/) groupby(request_type) calculate(COUNT)"#,
    r#"where(/\d{3}\.\d{1,}\.\d{1,}\.\d{1,}\, \d{1,}, \d{1,}, \d{1,}, \d{3}, \d{1,}, \w{1,4}, (?P<url>\D{1,}),/) groupby(url) calculate(COUNT)"#,
    r#"where(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\|(?P<status>\d{3})/) groupby(status) calculate(COUNT)"#,
    r#"where(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\|\d{3}\|(?P<bytesDelivered>\d*)/) calculate(COUNT)"#,
    r#"where(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\|\d{3}\|\d*\|(?P<userID>\d*)/) groupby(userID) calculate(COUNT)"#,
    r#"where(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\|\d{3}\|\d*\|\d*\|\d*\|(?P<ZoneUrl>\S*)\|MISS|HIT/) groupby(ZoneUrl) calculate(COUNT)"#,
    r#"where(/\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\|\d{3}\|\d*\|\d*\|\d*\|\S*\|(?P<CacheStatus>MISS|HIT)/) groupby(CacheStatus) calculate(COUNT)"#,
    r#"where(/\[.*\]\|"(?P<referrer>\S*)"\|/) groupby(referrer) calculate(COUNT)"#,
    r#"where(/\[.*\]\|"\S*"\|"(?P<userAgent>.*)"\|/) groupby(userAgent) calculate(COUNT)"#,
    r#"where( /\[.*\]\|"\S*"\|".*"\|(?P<scheme>.*)\|.*\|.*\|.*\|.*\|.*\|.*\|/) groupby(scheme) calculate(COUNT)"#,
    r#"where( /\[.*\]\|"\S*"\|".*"\|.*\|(?P<CountryCode>.*)\|.*\|.*\|.*\|.*\|.*\|/) groupby(CountryCode) calculate(COUNT)"#,
    r#"where( /\[.*\]\|"\S*"\|".*"\|.*\|.*\|(?P<CountryName>.*)\|.*\|.*\|.*\|.*\|/) groupby(CountryName) calculate(COUNT)"#,
    r#"where( /\[.*\]\|"\S*"\|".*"\|.*\|.*\|.*\|(?P<CityName>.*)\|.*\|.*\|.*\|/) groupby(CityName) calculate(COUNT)"#,
    r#"where( /\[.*\]\|"\S*"\|".*"\|.*\|.*\|.*\|.*\|.*\|.*\|.*\|"(?P<organization>.*)/) groupby(organization) calculate(COUNT)"#,
    r#"where(/session opened for user (?P<user>.*) by/) groupby(user) calculate(COUNT)"#,
    r#"where(pid) groupby(pid) calculate(COUNT)"#,
    r#"where(/71 EVENT/) calculate(count)"#,
    r#"where(/70 EVENT/) calculate(count)"#,
    r#"where(/107 EVENT/) calculate(count)"#,
    r#"where(/106 EVENT/) calculate(count)"#,
    r#"where(/3041 EVENT/) calculate(count)"#,
    r#"where(reslen) calculate(AVERAGE:reslen)"#,
    r#"where(/\[(?P<module>\w+)\]/i) groupby(module) calculate(COUNT)"#,
    r#"where(/(?P<component>[A-Z]{3,8})/) groupby(component) calculate(COUNT)"#,
    r#"where(/(?P<sl> F | E | W | I | D )/) groupby(sl) calculate(COUNT)"#,
    r#"where(PUBLISH) calculate(count)"#,
    r#"where(SUBSCRIBE) calculate(count)"#,
    r#"where(/(Sending|Received) PUBLISH \w* \w*\/(?P<deviceID>\S*)/) groupby(deviceID) calculate(count)"#,
    r#"where(/(Sending|Received) SUBSCRIBE \w* \w*\/(?P<deviceID>\S*)/) groupby(deviceID) calculate(count)"#,
    r#"where(/PUBLISH \S{2,4} \S* \(\S*, \S*, \S*, \S*, '(?P<topic>.*)'/) groupby(topic) calculate(count)"#,
    r#"where(/"GET .{1,}\.php/) calculate(COUNT)"#,
    r#"where(/"GET .{1,}\.jpg/) calculate(COUNT)"#,
    r#"where(/"GET .{1,}\.php/i) calculate(COUNT)"#,
    r#"where(/"GET .{1,}\.jpg/i) calculate(COUNT)"#,
    r#"where(function_name) groupby(function_name) calculate(AVERAGE:execution_time)"#,
    r#"where(function_name) groupby(function_name) calculate(AVERAGE:cpu)"#,
    r#"where(LOGIN_EVENT) calculate(COUNT)"#,
    r#"where(LOGOUT_EVENT) calculate(COUNT)"#,
    r#"where(LOGIN_AS_EVENT) calculate(COUNT)"#,
    r#"where((/csv/i)) calculate(count)"#,
    r#"where(Mem.active) calculate(average:Mem.active)"#,
    r#"where(CPU.system) calculate(average:CPU.system)"#,
    r#"where(/4625 EVENT/ OR /\s529 EVENT/) CALCULATE(COUNT)"#,
    r#"where(/4732 EVENT/ OR /\s636 EVENT/) CALCULATE(COUNT)"#,
    r#"where(/4740 EVENT/ OR /\s644 EVENT/) CALCULATE(COUNT)"#,
    r#"where(/4719 EVENT/ OR /\s612 EVENT/) CALCULATE(COUNT)"#,
    r#"where(/1102 EVENT/ OR /\s517 EVENT/) CALCULATE(COUNT)"#,
];

/// `(function, field)` of `calculate(FN[:field])`, lower-cased function;
/// `count` for `groupby` alone.
fn asked(statement: &str) -> (String, Option<String>) {
    let lower = statement.to_ascii_lowercase();
    let Some(at) = lower.find("calculate(") else {
        return ("count".into(), None);
    };
    let inner = &statement[at + "calculate(".len()..];
    let inner = &inner[..inner.find(')').unwrap()];
    match inner.split_once(':') {
        Some((f, field)) => (
            f.trim().to_ascii_lowercase(),
            Some(field.trim().to_string()),
        ),
        None => (inner.trim().to_ascii_lowercase(), None),
    }
}

/// The `where(…)` clause of a statement, for paging the same events.
fn where_clause(statement: &str) -> String {
    let lower = statement.to_ascii_lowercase();
    let end = ["groupby(", "calculate(", "timeslice("]
        .iter()
        .filter_map(|c| lower.find(c))
        .min()
        .unwrap_or(statement.len());
    statement[..end].trim().to_string()
}

#[tokio::test]
async fn rapid7s_saved_queries_run_in_rapid7s_shapes() {
    let (from, to) = (T0, T0 + 30_000);
    let standard = MockDataset::standard();
    let auth = standard.logs()[2].id.clone();
    let mut dataset = standard.clone();
    for (e, m) in standard.events(&auth, from, to).iter().zip(MESSAGES) {
        dataset = dataset.with_message(&auth, e.sequence_number, *m);
    }
    let server = MockServer::start(MockConfig {
        dataset,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    server.set_faults(Faults {
        polls: 0,
        to_exclusive: true,
        ..Faults::default()
    });
    let client = client_for(&server);
    let mut answered = Vec::new();
    let mut on_auth = BTreeMap::new();
    for log in server.dataset().logs() {
        for statement in STATEMENTS {
            let s: Statistics = client
                .statistics(&log.id, from, to, statement)
                .await
                .unwrap_or_else(|e| panic!("{statement} on {}: {e}", log.name));
            let (function, field) = asked(statement);
            assert_eq!(s.function, function, "{statement}");
            let grouped = statement.to_ascii_lowercase().contains("groupby(");
            if !grouped {
                let key = field.clone().unwrap_or_else(|| "global_timeseries".into());
                assert_eq!(s.key, key, "{statement}");
            }
            if log.id == auth {
                on_auth.insert(statement.to_string(), s.clone());
            }
            if function == "count" && !grouped {
                let slices: f64 = s.timeseries.iter().map(|v| v.unwrap_or(0.0)).sum();
                assert_eq!(s.total.unwrap_or(0.0), slices, "{statement}");
                let events: u64 = client
                    .query_events_where(&log.id, from, to, &where_clause(statement))
                    .unwrap()
                    .into_stream()
                    .map_ok(|p| p.stats.accepted)
                    .try_fold(0, |a, n| async move { Ok(a + n) })
                    .await
                    .unwrap();
                assert_eq!(
                    s.total.unwrap_or(0.0),
                    events as f64,
                    "{statement} on {}",
                    log.name
                );
            }
            if s.empty {
                continue;
            }
            answered.push(format!("{} on {}", statement, log.name));
            for g in &s.groups_timeseries {
                assert_eq!(
                    g.key(),
                    g.key().to_lowercase(),
                    "{statement}: group values lower-cased"
                );
            }
            if function == "count" && grouped {
                for g in &s.groups_timeseries {
                    let listed = s.groups.iter().find(|x| x.key == g.key()).unwrap();
                    let sum: f64 = g.series.iter().map(|v| v.unwrap()).sum();
                    assert_eq!(listed.value, Some(sum), "{statement}: {}", g.key());
                }
            }
        }
    }
    // The standard logs are not the logs these packs were written for: a
    // few statements find data in them, the others answer `status: 204`.
    assert!(answered.len() >= 15, "{answered:?}");
    for (statement, want) in TOTALS {
        assert!(STATEMENTS.contains(statement), "{statement}");
        assert_eq!(on_auth[*statement].total, Some(*want), "{statement}");
    }
    for (statement, want) in GROUPS {
        assert!(STATEMENTS.contains(statement), "{statement}");
        let got: Vec<(String, f64)> = on_auth[*statement]
            .groups
            .iter()
            .map(|g| (g.key.clone(), g.value.unwrap()))
            .collect();
        let want: Vec<(String, f64)> = want.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert_eq!(got, want, "{statement}");
    }
}
