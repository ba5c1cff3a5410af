//! The simulator's data: a pure, documented function of (log, time).
//!
//! Nothing here is random at run time and nothing is stored: every event of
//! every log can be recomputed from the log's `id`, `rate_per_sec`,
//! `burst_every_secs`, `burst_size`, `labels` and `format` alone. The
//! algorithm, step by step (all arithmetic on `u64` wraps):
//!
//! 1. **Hash.** `splitmix64(x)`: `z = x + 0x9E3779B97F4A7C15;
//!    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
//!    z ^ (z >> 31)`. `seed` = 64-bit FNV-1a of the log id's UTF-8 bytes
//!    (offset `0xcbf29ce484222325`, prime `0x100000001b3`).
//!    `h(s, j) = splitmix64(splitmix64(seed ^ s) ^ j)` for second `s` (as `u64`)
//!    and a small tag `j`; `unit(x) = (x >> 11) / 2^53`, a float in `[0, 1)`.
//! 2. **Seconds.** Events exist only for timestamps `0 <= ts < 10^16` ms. Time
//!    is cut into whole seconds `s = ts div 1000`.
//! 3. **Count.** The base number of events in second `s` is
//!    `n = floor(rate_per_sec * (0.5 + unit(h(s, 0))) + unit(h(s, 1)))`,
//!    capped at 100 000 (zero when `rate_per_sec <= 0`): uniform jitter whose
//!    mean is exactly `rate_per_sec`, so sparse logs (0.05/s) get an event in
//!    about one second of twenty.
//! 4. **Milliseconds.** Base event `i` (`0 <= i < n`) falls on millisecond
//!    `h(s, 16 + i) mod 1000` of the second. When `burst_every_secs = Some(k)`,
//!    `k > 0` and `s mod k == 0`, `burst_size` more events all fall on
//!    millisecond `h(s, 2) mod 1000`.
//! 5. **Order and sequence numbers.** The second's milliseconds are sorted;
//!    the events of one millisecond get ranks `r = 0, 1, 2, …`; an event with
//!    `r >= 1000` is dropped (a documented cap, never hit by the standard set).
//!    With `ts = s * 1000 + ms`, the event's sequence number is made as
//!    Rapid7's are in a real capture (rapid7-api.md §3: they rise by 4096
//!    within a millisecond and are **not** monotone across milliseconds):
//!    `sequence_number = base(ts) + r * 4096 + lane`, see [`sequence_number`],
//!    where `lane` is the log's index in the dataset (below 4096): within a
//!    millisecond the numbers of different logs never meet, so a merged
//!    stream of several logs is ordered by `(timestamp, sequence_number)`
//!    alone, as one log's is.
//!    `base` scrambles the low 28 bits of `ts` (blocks of about three days),
//!    so the order of sequence numbers across the milliseconds of a block is
//!    unrelated to time; it is a bijection, so sequence numbers are unique
//!    per log, and they lie in `[2^61, 2^62)` (far above 2^53, where JSON
//!    numbers lose precision, and below `i64::MAX`) for every
//!    `ts < 2^51` ms.
//! 6. **Content.** `e = splitmix64(seed ^ (sequence_number - lane))`. The event carries
//!    all the log's `labels` when `e mod 4 == 0`, none otherwise. Its message
//!    is the [`MessageFormat`] template filled from the stream `r1 =
//!    splitmix64(e), r2 = splitmix64(r1), …` (see `messages.rs`: word lists,
//!    optional fields, a quoted CSV field with a comma or a newline, lengths
//!    of roughly 80–600 bytes). Structured messages change a field's type at
//!    [`TYPE_CHANGE_MS`](messages::TYPE_CHANGE_MS) (2026-03-01T00:00:00Z):
//!    `status` is a JSON number before it and a JSON string from it on.
//!
//! Events are always returned sorted by `(timestamp, sequence_number)`.
//! Cost is linear in the number of seconds scanned plus the events built.
//!
//! One exception to "nothing is stored": [`MockDataset::with_message`] gives
//! one existing event a message of the test's choosing (say 10 MB with
//! escapes), and every answer, the API's and [`MockDataset::events`], carries
//! it instead of the template's.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::messages::{self, MessageFormat};
use super::rng::{fnv1a, splitmix64, unit};

/// Sequence numbers rise by this within a millisecond (as in a real capture).
pub const SEQUENCE_STEP: u64 = 4096;
const MAX_PER_MS: usize = 1000;
const MAX_BASE_PER_SEC: f64 = 100_000.0;
/// First second without data (timestamps stay below 10^16 ms).
const S_END: i64 = 10_000_000_000_000;

/// One simulated log: its identity and the parameters of its data function.
#[derive(Clone, Debug)]
pub struct MockLog {
    /// The log id (a uuid in the standard set); it also seeds the data.
    pub id: String,
    /// The display name returned by the management API.
    pub name: String,
    /// Mean number of events per second (before bursts).
    pub rate_per_sec: f64,
    /// Layout of the messages.
    pub format: MessageFormat,
    /// Every `k` seconds (`s mod k == 0`) a burst of `burst_size` events lands in one millisecond.
    pub burst_every_secs: Option<u64>,
    /// Events per burst.
    pub burst_size: u32,
    /// Label ids that a quarter of the events carry.
    pub labels: Vec<String>,
}

/// One simulated event, as the data function defines it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockEvent {
    /// The log the event belongs to.
    pub log_id: String,
    /// Receipt time, epoch milliseconds.
    pub timestamp: i64,
    /// Unique per log, `+4096` per rank within a millisecond, not monotone
    /// across milliseconds, above 2^53 (see [`sequence_number`]).
    pub sequence_number: u64,
    /// The raw message text.
    pub message: String,
    /// Label ids carried by the event (empty or all of the log's labels).
    pub labels: Vec<String>,
}

/// A set of simulated logs; see the module docs for the data function.
#[derive(Clone, Debug)]
pub struct MockDataset {
    logs: Vec<MockLog>,
    messages: MessageOverrides,
    logsets: Vec<MockLogSet>,
}

/// A log set: a named group of logs (`GET /management/logsets`, and each
/// log's `logsets_info`). A log may be in several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockLogSet {
    /// Log set id.
    pub id: String,
    /// Display name (any text).
    pub name: String,
    /// Ids of its logs.
    pub logs: Vec<String>,
}

/// Messages set by [`MockDataset::with_message`], by (log id, sequence number).
#[derive(Clone, Default)]
struct MessageOverrides(Arc<HashMap<(String, u64), Arc<str>>>);

impl fmt::Debug for MessageOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the messages themselves: they may be megabytes long.
        f.debug_struct("MessageOverrides")
            .field("events", &self.0.len())
            .finish()
    }
}

impl MockDataset {
    /// A dataset of the given logs (ids should be unique; the first wins).
    pub fn new(logs: Vec<MockLog>) -> Self {
        Self {
            logs,
            messages: MessageOverrides::default(),
            logsets: Vec::new(),
        }
    }

    /// The same data, with these log sets (none by default).
    pub fn with_logsets(mut self, logsets: Vec<MockLogSet>) -> Self {
        self.logsets = logsets;
        self
    }

    /// The log sets, in the order the management API lists them.
    pub fn logsets(&self) -> &[MockLogSet] {
        &self.logsets
    }

    /// The log sets `log_id` is in.
    pub fn logsets_of(&self, log_id: &str) -> Vec<&MockLogSet> {
        self.logsets
            .iter()
            .filter(|s| s.logs.iter().any(|l| l == log_id))
            .collect()
    }

    /// The same data, except that the event of `log_id` with
    /// `sequence_number` carries `message`: for tests that need a message the
    /// templates never write (10 MB long, control characters, …). The event
    /// keeps its timestamp, sequence number and labels; a sequence number
    /// that no event has changes nothing.
    pub fn with_message(
        mut self,
        log_id: &str,
        sequence_number: u64,
        message: impl Into<String>,
    ) -> Self {
        Arc::make_mut(&mut self.messages.0).insert(
            (log_id.to_string(), sequence_number),
            Arc::from(message.into()),
        );
        self
    }

    fn with_overrides(&self, mut events: Vec<MockEvent>) -> Vec<MockEvent> {
        if !self.messages.0.is_empty() {
            for e in &mut events {
                if let Some(m) = self.messages.0.get(&(e.log_id.clone(), e.sequence_number)) {
                    e.message = m.to_string();
                }
            }
        }
        events
    }

    /// All logs, in the order the management API lists them.
    pub fn logs(&self) -> &[MockLog] {
        &self.logs
    }

    /// The log with this id.
    pub fn log(&self, id: &str) -> Option<&MockLog> {
        self.logs.iter().find(|l| l.id == id)
    }

    /// The data function of the log with this id, with its lane.
    fn gen_of(&self, id: &str) -> Option<Gen<'_>> {
        let lane = self.logs.iter().position(|l| l.id == id)?;
        Some(Gen::new(&self.logs[lane], lane))
    }

    /// Exactly the events of `log_id` with `from <= timestamp < to`, sorted by
    /// `(timestamp, sequence_number)`. Unknown logs have no events.
    pub fn events(&self, log_id: &str, from: i64, to: i64) -> Vec<MockEvent> {
        match self.gen_of(log_id) {
            Some(g) => {
                self.with_overrides(g.events_after(from, None, to.saturating_sub(1), usize::MAX))
            }
            None => Vec::new(),
        }
    }

    /// `events(log_id, from, to).len()`, without building messages.
    pub fn count(&self, log_id: &str, from: i64, to: i64) -> u64 {
        match self.gen_of(log_id) {
            Some(g) => g.count(from, to),
            None => 0,
        }
    }

    /// Paging helper: at most `limit` events with `timestamp <= to_inclusive`
    /// that come after the cursor, sorted. Without `after_seq` the cursor is
    /// "`timestamp >= from`"; with `Some(s)` it is the API's
    /// `sequence_number` rule: `(timestamp == from && sequence_number > s) ||
    /// timestamp > from`.
    pub fn events_after(
        &self,
        log_id: &str,
        from: i64,
        after_seq: Option<u64>,
        to_inclusive: i64,
        limit: usize,
    ) -> Vec<MockEvent> {
        match self.gen_of(log_id) {
            Some(g) => self.with_overrides(g.events_after(from, after_seq, to_inclusive, limit)),
            None => Vec::new(),
        }
    }
}

impl MockDataset {
    /// Newest-first paging helper: at most `limit` events with
    /// `from <= timestamp` before the cursor, sorted descending. Without
    /// `before_seq` the cursor is "`timestamp <= until`"; with `Some(s)` it
    /// is `(timestamp, sequence_number) < (until, s)`.
    pub fn events_before(
        &self,
        log_id: &str,
        from: i64,
        until: i64,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Vec<MockEvent> {
        match self.gen_of(log_id) {
            Some(g) => self.with_overrides(g.events_before(from, until, before_seq, limit)),
            None => Vec::new(),
        }
    }
}

/// The sequence number of the event of rank `rank` (0-based, below 1000) in
/// millisecond `ts` (`0 <= ts < 2^51`): `base(ts) + rank * 4096`, where
/// `base(ts) = (t >> 12 ^ 2^39) << 22 | (t & 4095)` and `t` is `ts` with its
/// low 28 bits put through a fixed permutation (`x = x * 0x9E3779B1 mod
/// 2^28; x ^= x >> 14; x = x * 0x85EBCA77 mod 2^28`). Within a millisecond
/// the numbers rise by 4096 with the rank; across the milliseconds of one
/// block of 2^28 ms they go up and down, as Rapid7's do.
pub fn sequence_number(ts: i64, rank: u64) -> u64 {
    const LOW: u64 = (1 << 28) - 1;
    let ts = ts as u64;
    let mut x = ts & LOW;
    x = x.wrapping_mul(0x9E37_79B1) & LOW;
    x ^= x >> 14;
    x = x.wrapping_mul(0x85EB_CA77) & LOW;
    let t = (ts & !LOW) | x;
    let base = (((t >> 12) ^ (1 << 39)) << 22) | (t & 4095);
    base.wrapping_add(rank.wrapping_mul(SEQUENCE_STEP))
}

/// [`sequence_number`] of the log at index `lane` of its dataset: `lane`
/// more (below [`SEQUENCE_STEP`], so that the logs of a millisecond never
/// share a number).
pub fn log_sequence_number(ts: i64, rank: u64, lane: u64) -> u64 {
    sequence_number(ts, rank).wrapping_add(lane % SEQUENCE_STEP)
}

/// The data function of one log.
struct Gen<'a> {
    log: &'a MockLog,
    seed: u64,
    /// The log's index in its dataset (see [`log_sequence_number`]).
    lane: u64,
}

impl<'a> Gen<'a> {
    fn new(log: &'a MockLog, lane: usize) -> Self {
        Self {
            log,
            seed: fnv1a(log.id.as_bytes()),
            lane: lane as u64,
        }
    }

    fn h(&self, s: i64, j: u64) -> u64 {
        splitmix64(splitmix64(self.seed ^ s as u64) ^ j)
    }

    fn base_count(&self, s: i64) -> usize {
        let rate = self.log.rate_per_sec;
        if rate.is_nan() || rate <= 0.0 {
            return 0;
        }
        let x = rate * (0.5 + unit(self.h(s, 0))) + unit(self.h(s, 1));
        x.floor().min(MAX_BASE_PER_SEC) as usize
    }

    fn burst(&self, s: i64) -> usize {
        match self.log.burst_every_secs {
            Some(k) if k > 0 && (s as u64).is_multiple_of(k) => self.log.burst_size as usize,
            _ => 0,
        }
    }

    /// Whether scanning can ever find an event.
    fn has_data(&self) -> bool {
        self.log.rate_per_sec > 0.0
            || (self.log.burst_size > 0 && self.log.burst_every_secs.is_some_and(|k| k > 0))
    }

    /// `(ms, rank)` of every event of second `s` (0 <= s < S_END), sorted.
    fn slots(&self, s: i64) -> Vec<(u16, u16)> {
        let n = self.base_count(s);
        let b = self.burst(s);
        let mut ms: Vec<u16> = Vec::with_capacity(n + b);
        ms.extend((0..n as u64).map(|i| (self.h(s, 16 + i) % 1000) as u16));
        if b > 0 {
            let at = (self.h(s, 2) % 1000) as u16;
            ms.extend(std::iter::repeat_n(at, b));
        }
        ms.sort_unstable();
        let mut out = Vec::with_capacity(ms.len());
        let mut prev = u16::MAX;
        let mut rank = 0usize;
        for m in ms {
            rank = if m == prev { rank + 1 } else { 0 };
            prev = m;
            if rank < MAX_PER_MS {
                out.push((m, rank as u16));
            }
        }
        out
    }

    fn count(&self, from: i64, to: i64) -> u64 {
        if from >= to || !self.has_data() {
            return 0;
        }
        let first = from.div_euclid(1000).max(0);
        let last = (to - 1).div_euclid(1000).min(S_END - 1);
        let mut total = 0u64;
        let mut s = first;
        while s <= last {
            let whole = s * 1000 >= from && s * 1000 + 999 < to;
            let upper = self.base_count(s) + self.burst(s);
            if whole && upper <= MAX_PER_MS {
                total += upper as u64;
            } else {
                let in_range = |&(ms, _): &(u16, u16)| {
                    let ts = s * 1000 + i64::from(ms);
                    from <= ts && ts < to
                };
                total += self.slots(s).iter().filter(|x| in_range(x)).count() as u64;
            }
            s += 1;
        }
        total
    }

    fn events_after(
        &self,
        from: i64,
        after_seq: Option<u64>,
        to_inclusive: i64,
        limit: usize,
    ) -> Vec<MockEvent> {
        let mut out = Vec::new();
        if limit == 0 || from > to_inclusive || !self.has_data() {
            return out;
        }
        let mut s = from.div_euclid(1000).max(0);
        let last = to_inclusive.div_euclid(1000).min(S_END - 1);
        while s <= last {
            for (ms, rank) in self.slots(s) {
                let ts = s * 1000 + i64::from(ms);
                if ts > to_inclusive {
                    break;
                }
                let seq = log_sequence_number(ts, rank.into(), self.lane);
                let after = match after_seq {
                    Some(a) => (ts == from && seq > a) || ts > from,
                    None => ts >= from,
                };
                if after {
                    out.push(self.event(ts, seq));
                    if out.len() >= limit {
                        return out;
                    }
                }
            }
            s += 1;
        }
        out
    }

    /// Newest first: at most `limit` events with `from <= timestamp` that
    /// come before the cursor, sorted by `(timestamp, sequence_number)`
    /// descending. The cursor is `timestamp <= until` without `before_seq`,
    /// and `(timestamp, sequence_number) < (until, s)` with `Some(s)`.
    fn events_before(
        &self,
        from: i64,
        until: i64,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Vec<MockEvent> {
        let mut out = Vec::new();
        if limit == 0 || from > until || !self.has_data() {
            return out;
        }
        let first = from.div_euclid(1000).max(0);
        let mut s = until.div_euclid(1000).min(S_END - 1);
        while s >= first {
            for (ms, rank) in self.slots(s).into_iter().rev() {
                let ts = s * 1000 + i64::from(ms);
                if ts < from {
                    return out;
                }
                let seq = log_sequence_number(ts, rank.into(), self.lane);
                let before = match before_seq {
                    Some(b) => ts < until || (ts == until && seq < b),
                    None => ts <= until,
                };
                if before {
                    out.push(self.event(ts, seq));
                    if out.len() >= limit {
                        return out;
                    }
                }
            }
            s -= 1;
        }
        out
    }

    fn event(&self, ts: i64, seq: u64) -> MockEvent {
        // The content of the lane-free number: a log's messages do not
        // depend on its place in the dataset.
        let e = splitmix64(self.seed ^ seq.wrapping_sub(self.lane % SEQUENCE_STEP));
        let labels = if e.is_multiple_of(4) {
            self.log.labels.clone()
        } else {
            Vec::new()
        };
        MockEvent {
            log_id: self.log.id.clone(),
            timestamp: ts,
            sequence_number: seq,
            message: messages::message(self.log.format, ts, e),
            labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::messages::TYPE_CHANGE_MS;
    use std::collections::{HashMap, HashSet};

    /// 2026-02-10T00:00:00Z, a Firewall burst second.
    const T0: i64 = 1_770_681_600_000;

    fn fw(d: &MockDataset) -> String {
        d.logs()[0].id.clone()
    }

    #[test]
    fn standard_set_has_the_documented_logs() {
        let d = MockDataset::standard();
        let names: Vec<&str> = d.logs().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Firewall",
                "Web Proxy",
                "Auth Service",
                "Windows Defender",
                "Ops \"blue\" team — app.log"
            ]
        );
        let ids: HashSet<&str> = d.logs().iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids.len(), 5);
        assert!(d.log("nope").is_none());
        assert_eq!(d.log(&fw(&d)).map(|l| l.name.as_str()), Some("Firewall"));
    }

    #[test]
    fn deterministic_sorted_unique_and_large_sequence_numbers() {
        let d = MockDataset::standard();
        for log in d.logs() {
            let a = d.events(&log.id, T0 - 300_000, T0 + 300_000);
            let b = MockDataset::standard().events(&log.id, T0 - 300_000, T0 + 300_000);
            assert_eq!(a, b, "{} is not deterministic", log.name);
            assert!(a.windows(2).all(|w| {
                (w[0].timestamp, w[0].sequence_number) < (w[1].timestamp, w[1].sequence_number)
            }));
            // Unique, but not monotone across milliseconds (as Rapid7's).
            let unique: HashSet<u64> = a.iter().map(|e| e.sequence_number).collect();
            assert_eq!(unique.len(), a.len(), "{}", log.name);
            if a.len() > 10 {
                assert!(
                    a.windows(2)
                        .any(|w| w[0].sequence_number > w[1].sequence_number),
                    "{}",
                    log.name
                );
            }
            assert!(a.iter().all(|e| {
                e.sequence_number > 1 << 53 && e.sequence_number < 1 << 62 && e.log_id == log.id
            }));
            assert!(
                a.iter()
                    .all(|e| (T0 - 300_000..T0 + 300_000).contains(&e.timestamp))
            );
            assert_eq!(d.count(&log.id, T0 - 300_000, T0 + 300_000), a.len() as u64);
        }
    }

    #[test]
    fn sequence_numbers_are_unique_and_go_up_and_down_like_rapid7s() {
        // Every millisecond of a stretch and its first ranks: all distinct.
        let mut seen = HashSet::new();
        for ts in T0 - 5_000..T0 + 5_000 {
            for rank in 0..3 {
                assert!(seen.insert(sequence_number(ts, rank)), "{ts} {rank}");
            }
        }
        // Within a millisecond +4096 per rank; across milliseconds no order.
        assert_eq!(sequence_number(T0, 2) - sequence_number(T0, 1), 4096);
        let up = (T0..T0 + 1000)
            .filter(|ts| sequence_number(ts + 1, 0) > sequence_number(*ts, 0))
            .count();
        assert!((300..700).contains(&up), "{up} of 1000 rise");
        assert!(sequence_number(0, 0) > 1 << 53);
        assert!(sequence_number((1 << 51) - 1, 999) < 1 << 62);
    }

    #[test]
    fn rates_are_roughly_as_configured() {
        let d = MockDataset::standard();
        let per_sec = |name: &str| {
            let log = d.logs().iter().find(|l| l.name == name).unwrap();
            d.count(&log.id, T0 + 1000, T0 + 1000 + 3_600_000) as f64 / 3600.0
        };
        // Seconds s0+1 ..= s0+3600 hold 12 Firewall bursts.
        let fw_rate = per_sec("Firewall") - 700.0 * 12.0 / 3600.0;
        assert!((fw_rate - 40.0).abs() < 1.0, "{fw_rate}");
        assert!((per_sec("Web Proxy") - 15.0).abs() < 0.5);
        assert!((per_sec("Auth Service") - 3.0).abs() < 0.2);
        let sparse = per_sec("Windows Defender");
        assert!(sparse > 0.03 && sparse < 0.07, "{sparse}");
    }

    #[test]
    fn windows_are_additive_and_count_agrees_on_odd_edges() {
        let d = MockDataset::standard();
        for log in d.logs() {
            for (a, b, c) in [
                (T0 - 10_000, T0, T0 + 10_000),
                (T0 - 1, T0 + 1, T0 + 7_777),
                (T0 + 123, T0 + 456, T0 + 61_789),
                (T0, T0, T0 + 5),
            ] {
                let mut ab = d.events(&log.id, a, b);
                ab.extend(d.events(&log.id, b, c));
                assert_eq!(ab, d.events(&log.id, a, c), "{} {a} {b} {c}", log.name);
                assert_eq!(d.count(&log.id, a, c), ab.len() as u64);
            }
            assert!(d.events(&log.id, T0 + 5, T0).is_empty());
            assert_eq!(d.count(&log.id, T0 + 5, T0), 0);
        }
        assert!(d.events("unknown", T0, T0 + 60_000).is_empty());
        assert!(d.events(&fw(&d), -5_000, 0).is_empty());
    }

    #[test]
    fn burst_puts_700_events_in_one_millisecond() {
        let d = MockDataset::standard();
        let evs = d.events(&fw(&d), T0, T0 + 1000);
        let mut per_ms: HashMap<i64, usize> = HashMap::new();
        for e in &evs {
            *per_ms.entry(e.timestamp).or_default() += 1;
        }
        let (&ms, &n) = per_ms.iter().max_by_key(|(_, n)| **n).unwrap();
        assert!(n >= 700, "{n}");
        // Sequence numbers within the burst ms rise by 4096 per rank.
        let seqs: Vec<u64> = evs
            .iter()
            .filter(|e| e.timestamp == ms)
            .map(|e| e.sequence_number)
            .collect();
        assert_eq!(seqs[0], sequence_number(ms, 0));
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + SEQUENCE_STEP));
        // A non-burst second has no such pile.
        let quiet = d.events(&fw(&d), T0 + 1000, T0 + 2000);
        assert!(quiet.len() < 100);
    }

    #[test]
    fn events_after_pages_through_a_window() {
        let d = MockDataset::standard();
        let id = fw(&d);
        let (from, to) = (T0 - 3_000, T0 + 3_000);
        let want = d.events(&id, from, to + 1); // `to_inclusive`
        let mut got = Vec::new();
        let (mut cur_from, mut cur_seq) = (from, None);
        loop {
            let page = d.events_after(&id, cur_from, cur_seq, to, 97);
            assert!(page.len() <= 97);
            let Some(last) = page.last() else { break };
            cur_from = last.timestamp;
            cur_seq = Some(last.sequence_number);
            got.extend(page);
        }
        assert_eq!(got, want);
        assert!(want.len() > 700);
        // The sequence-number rule keeps later events of the same millisecond.
        let burst = &want[want.len() / 2];
        let rest = d.events_after(&id, burst.timestamp, Some(burst.sequence_number), to, 3);
        assert_eq!(rest[0].timestamp, burst.timestamp);
        assert_eq!(
            rest[0].sequence_number,
            burst.sequence_number + SEQUENCE_STEP
        );
        assert!(d.events_after(&id, from, None, to, 0).is_empty());
    }

    #[test]
    fn messages_vary_and_change_type_over_time() {
        let d = MockDataset::standard();
        for log in d.logs() {
            let evs = d.events(&log.id, T0, T0 + 600_000);
            let evs: Vec<_> = if evs.len() < 10 {
                d.events(&log.id, T0, T0 + 36_000_000)
            } else {
                evs
            };
            let lens: Vec<usize> = evs.iter().map(|e| e.message.len()).collect();
            let (min, max) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
            assert!(
                *min >= 60 && *max <= 620 && max - min > 150,
                "{}: {min}..{max}",
                log.name
            );
            if log.format == MessageFormat::Json {
                for e in &evs {
                    let v: serde_json::Value = serde_json::from_str(&e.message).unwrap();
                    assert!(v["status"].is_number(), "{}", e.message);
                }
            }
            if !log.labels.is_empty() {
                let with = evs.iter().filter(|e| !e.labels.is_empty()).count();
                assert!(with > 0 && with < evs.len());
            }
        }
        let auth = &d.logs()[2].id;
        for e in d.events(auth, TYPE_CHANGE_MS, TYPE_CHANGE_MS + 60_000) {
            let v: serde_json::Value = serde_json::from_str(&e.message).unwrap();
            assert!(v["status"].is_string(), "{}", e.message);
        }
    }

    #[test]
    fn with_message_replaces_one_message_everywhere() {
        let plain = MockDataset::standard();
        let log = fw(&plain);
        let events = plain.events(&log, T0, T0 + 2000);
        let target = &events[events.len() / 2];
        let d = plain
            .clone()
            .with_message(&log, target.sequence_number, "new\n\"text\" ✓");
        let changed = d.events(&log, T0, T0 + 2000);
        assert_eq!(changed.len(), events.len());
        for (a, b) in events.iter().zip(&changed) {
            if a.sequence_number == target.sequence_number {
                assert_eq!(b.message, "new\n\"text\" ✓");
                assert_eq!((b.timestamp, &b.labels), (a.timestamp, &a.labels));
            } else {
                assert_eq!(a, b);
            }
        }
        let paged = d.events_after(&log, target.timestamp, None, target.timestamp, 10_000);
        assert!(paged.iter().any(|e| e.message == "new\n\"text\" ✓"));
        assert_eq!(d.count(&log, T0, T0 + 2000), events.len() as u64);
        assert!(format!("{d:?}").contains("MessageOverrides { events: 1 }"));
    }
}
