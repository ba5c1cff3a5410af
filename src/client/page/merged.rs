//! Merged pages: one query over several logs, its events in one stream.
//!
//! A merged page is decoded as a single log's page is, and checked against
//! what the client relies on to read it exactly: every event carries the
//! `log_id` of a log that was asked for and a readable sequence number
//! beside its timestamp (an event the stream cannot place, stamped past the
//! window's end, would end the answer for every log), and the stream is in strictly
//! increasing `(timestamp, sequence_number)` order across the logs and
//! across pages (the cursor of a `Next` link is one such pair, so two logs'
//! events sharing a pair, or an event below the cursor, could make a later
//! page skip events unseen; so could a cursor past the stream's last
//! event, which `client/merged.rs` checks). An exact repeat of an event already returned
//! (same log, same pair) is a duplicate, as in single-log pages. Whatever
//! breaks a rule is recorded as the page's violation; the query fails on
//! it ([`crate::client::Error::MergedAnswer`]) and the caller reads the
//! logs one by one instead.

use std::collections::HashMap;
use std::sync::Arc;

/// The `(timestamp, sequence_number)` of page key `key` (`newest`: of a
/// newest-first page; see `page_key` in `mod.rs`).
fn unkey(newest: bool, key: (i64, u64)) -> (i64, u64) {
    if newest {
        (key.0.saturating_neg(), u64::MAX - key.1)
    } else {
        key
    }
}

/// The logs a merged query asked for, each with its lane (its index in the
/// request).
#[derive(Debug)]
pub(crate) struct Asked {
    lanes: HashMap<Arc<str>, u32>,
    count: usize,
}

impl Asked {
    /// `logs`, their lanes in this order.
    pub(crate) fn new(logs: &[Arc<str>]) -> Self {
        let lanes = logs
            .iter()
            .enumerate()
            .map(|(i, l)| (Arc::clone(l), i as u32))
            .collect();
        Asked {
            lanes,
            count: logs.len(),
        }
    }
}

/// Where a merged stream stands after the pages read so far: its last
/// event, and the events of that event's millisecond with their lanes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stream {
    last: Option<((i64, u64), u32)>,
    edge: HashMap<(i64, u64), u32>,
}

impl Stream {
    /// The page key (`page_key` in `mod.rs`: oldest first, `(timestamp,
    /// sequence_number)`) of its last event, if any.
    pub(crate) fn last(&self) -> Option<(i64, u64)> {
        self.last.map(|(key, _)| key)
    }
}

/// What a merged page held per log, and whether it broke a rule.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lanes {
    /// The lane of each kept event, in the order of the page's columns.
    pub(crate) kept: Vec<u32>,
    /// Events rejected by the decoder, per lane (where the lane was known).
    pub(crate) failed: Vec<u64>,
    /// Events whose message came as a JSON object, per lane.
    pub(crate) objects: Vec<u64>,
    /// The first rule the page broke.
    pub(crate) violation: Option<String>,
    /// The stream after this page.
    pub(crate) stream: Stream,
}

/// The checks of one merged page while it is decoded.
pub(super) struct Check<'s> {
    asked: &'s Asked,
    lanes: Lanes,
    /// The lane of the event being decoded (`None`: no or a foreign `log_id`).
    current: Option<u32>,
}

impl<'s> Check<'s> {
    pub(super) fn new(asked: &'s Asked, stream: &Stream) -> Self {
        Check {
            asked,
            lanes: Lanes {
                failed: vec![0; asked.count],
                objects: vec![0; asked.count],
                stream: stream.clone(),
                ..Lanes::default()
            },
            current: None,
        }
    }

    fn violate(&mut self, why: impl FnOnce() -> String) {
        if self.lanes.violation.is_none() {
            self.lanes.violation = Some(why());
        }
    }

    /// A new event, of `log_id`.
    pub(super) fn event_of(&mut self, log_id: Option<&str>) {
        self.current = log_id.and_then(|id| self.asked.lanes.get(id).copied());
        match log_id {
            None => self.violate(|| "an event carries no log_id".into()),
            Some(id) if self.current.is_none() => {
                self.violate(|| format!("an event carries log_id {id:?}, a log not asked for"));
            }
            Some(_) => {}
        }
    }

    /// Whether the current event is of a log asked for.
    pub(super) fn asked_for(&self) -> bool {
        self.current.is_some()
    }

    /// The current event: it must come after the stream's last event in
    /// page order (newest first: strictly decreasing `(timestamp,
    /// sequence_number)`), or repeat an event of the last millisecond
    /// exactly.
    /// `key` is its page key (`page_key`: the pair itself oldest first, its
    /// mirror image newest first), `newest` whether the page is newest
    /// first.
    pub(super) fn in_order(&mut self, key: (i64, u64), newest: bool) {
        let Some(lane) = self.current else { return };
        let (ts, seq) = unkey(newest, key);
        let stream = &mut self.lanes.stream;
        if let Some((last, last_lane)) = stream.last {
            if key < last && stream.edge.get(&key) != Some(&lane) {
                let (lts, lseq) = unkey(newest, last);
                let order = if newest {
                    "newest first"
                } else {
                    "oldest first"
                };
                return self.violate(|| {
                    format!(
                        "events out of (timestamp, sequence_number) order ({order}): ({ts}, \
                         {seq}) after ({lts}, {lseq})"
                    )
                });
            }
            if key == last && last_lane != lane {
                return self.violate(|| {
                    format!(
                        "two logs' events share (timestamp {ts}, sequence_number {seq}): the \
                         cursor cannot tell them apart"
                    )
                });
            }
            if key <= last {
                return;
            }
            if last.0 != key.0 {
                stream.edge.clear();
            }
        }
        stream.last = Some((key, lane));
        stream.edge.insert(key, lane);
    }

    /// The current event, stamped `ts`, has no readable sequence number
    /// (`reason`): it cannot be placed in the stream's `(timestamp,
    /// sequence_number)` order, which the answer's end and every cursor rest
    /// on, so the answer breaks the rules.
    pub(super) fn unordered(&mut self, ts: i64, reason: &str) {
        self.violate(|| format!("an event stamped {ts} has no usable sequence number: {reason}"));
    }

    /// The current event was rejected by the decoder.
    pub(super) fn failed(&mut self) {
        if let Some(lane) = self.current {
            self.lanes.failed[lane as usize] += 1;
        }
    }

    /// The current event was kept (`object`: its message came as JSON).
    pub(super) fn kept(&mut self, object: bool) {
        if let Some(lane) = self.current {
            self.lanes.kept.push(lane);
            if object {
                self.lanes.objects[lane as usize] += 1;
            }
        }
    }

    pub(super) fn finish(self) -> Lanes {
        self.lanes
    }
}
