//! One finished result page, decoded in a single pass into columns.
//!
//! The body of a page is parsed exactly once: a streaming visitor walks the
//! `events` array and appends each event straight into column buffers
//! (timestamps, sequence numbers, message bytes + offsets, labels), filtering
//! by the requested window and dropping duplicates as it goes. No list of
//! owned event structs is ever built; the buffers have Arrow's layout, so
//! `crate::events` turns them into a `RecordBatch` without copying.
//!
//! Parsing is lenient per event: an event missing its timestamp, sequence
//! number or message is counted as failed and logged with its position, never
//! silently dropped, and never fails the whole page here (a query fails on a
//! page whose every event was rejected, naming the first reason). A missing
//! `sequence_number_str` is recovered from the event's `Context` link.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::model::Link;
use values::{Any, ContextLink, Key, Labels, Text, TextSeed};

/// Counts of what happened to the events of one page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageStats {
    /// Events in the page body.
    pub received: u64,
    /// Events kept (in the window, not seen before, well formed).
    pub accepted: u64,
    /// Events already returned by an earlier page (or twice in this one).
    pub duplicates: u64,
    /// Events outside the requested `[from, to)` window.
    pub out_of_window: u64,
    /// Events the decoder rejected: no readable timestamp, no readable
    /// sequence number, no message, or another log's `log_id`. Never
    /// dropped silently: counted here, logged (`logsearch_event_failed`),
    /// and recorded in the segment manifest as `events_rejected`.
    pub failed: u64,
    /// Events whose `message` came as a JSON object or array: stored as
    /// the JSON text of the page, exactly, which need not be the text
    /// Rapid7 searched (it parsed the original line), so a pushed LEQL
    /// filter is no proven superset for them.
    pub object_messages: u64,
    /// Whether Rapid7 answered this page with `x-beyond-retention: true`:
    /// the window reaches past the log's retention, so events older than it
    /// are missing from the answer.
    pub beyond_retention: bool,
    /// Smallest timestamp in the body (ms), if any event had one.
    pub min_timestamp: Option<i64>,
    /// Largest timestamp in the body (ms).
    pub max_timestamp: Option<i64>,
}

/// Events of one page in columnar form.
///
/// Offsets are Arrow-style: `message_offsets[i]..message_offsets[i + 1]` is
/// event `i`'s message in `message_data`; `label_offsets` index into
/// `label_value_offsets`, which index into `label_data`.
#[derive(Clone, Default, PartialEq)]
pub struct EventColumns {
    /// Receipt timestamps, epoch ms.
    pub timestamps: Vec<i64>,
    /// Sequence numbers.
    pub sequence_numbers: Vec<u64>,
    /// Message offsets (`len + 1` entries, starting at 0).
    pub message_offsets: Vec<i32>,
    /// Message bytes (valid UTF-8).
    pub message_data: Vec<u8>,
    /// Label list offsets (`len + 1` entries).
    pub label_offsets: Vec<i32>,
    /// Label value offsets (`labels + 1` entries).
    pub label_value_offsets: Vec<i32>,
    /// Label bytes (valid UTF-8).
    pub label_data: Vec<u8>,
}

impl fmt::Debug for EventColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print messages: they are log data.
        f.debug_struct("EventColumns")
            .field("len", &self.timestamps.len())
            .field("message_bytes", &self.message_data.len())
            .finish()
    }
}

impl EventColumns {
    fn new() -> Self {
        Self {
            message_offsets: vec![0],
            label_offsets: vec![0],
            label_value_offsets: vec![0],
            ..Self::default()
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Message of event `i`.
    pub fn message(&self, i: usize) -> &str {
        let (a, b) = (
            self.message_offsets[i] as usize,
            self.message_offsets[i + 1] as usize,
        );
        std::str::from_utf8(&self.message_data[a..b]).expect("messages are appended from &str")
    }

    /// Labels of event `i`.
    pub fn labels(&self, i: usize) -> impl Iterator<Item = &str> {
        let (a, b) = (
            self.label_offsets[i] as usize,
            self.label_offsets[i + 1] as usize,
        );
        (a..b).map(move |j| {
            let (x, y) = (
                self.label_value_offsets[j] as usize,
                self.label_value_offsets[j + 1] as usize,
            );
            std::str::from_utf8(&self.label_data[x..y]).expect("labels are appended from &str")
        })
    }

    /// Approximate heap bytes held.
    pub fn byte_size(&self) -> usize {
        self.timestamps.capacity() * 8
            + self.sequence_numbers.capacity() * 8
            + self.message_offsets.capacity() * 4
            + self.message_data.capacity()
            + self.label_offsets.capacity() * 4
            + self.label_value_offsets.capacity() * 4
            + self.label_data.capacity()
    }

    fn push(&mut self, ts: i64, seq: u64, message: &str, labels: &[String]) -> Result<(), String> {
        let end = offset(self.message_data.len() + message.len())?;
        let mut label_bytes = self.label_data.len();
        for l in labels {
            label_bytes += l.len();
        }
        offset(label_bytes)?;
        self.timestamps.push(ts);
        self.sequence_numbers.push(seq);
        self.message_data.extend_from_slice(message.as_bytes());
        self.message_offsets.push(end);
        for l in labels {
            self.label_data.extend_from_slice(l.as_bytes());
            self.label_value_offsets.push(self.label_data.len() as i32);
        }
        self.label_offsets
            .push(offset(self.label_value_offsets.len() - 1)?);
        Ok(())
    }
}

fn offset(n: usize) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| "page holds more than 2 GiB of text".to_string())
}

/// A finished page of one log's events, deduplicated and restricted to the
/// requested window.
#[derive(Debug, Clone)]
pub struct EventPage {
    /// The log the events belong to.
    pub log_id: Arc<str>,
    /// 1-based number of this page within its query.
    pub page_number: u64,
    /// The events.
    pub columns: EventColumns,
    /// What happened to the page's events.
    pub stats: PageStats,
    /// `x-beyond-retention-message`, when the page came beyond retention
    /// ([`PageStats::beyond_retention`]); empty if Rapid7 sent none.
    pub beyond_retention_message: Option<String>,
}

/// Where pagination stands: the largest page key seen (see [`page_key`]).
///
/// Pages are ordered by that key and each `Next` page continues strictly after
/// the last event of the previous one, so an event at or below the mark is a
/// repeat of an earlier page.
pub(crate) type Cursor = Option<(i64, u64)>;

/// What a query has returned so far, to tell a page's repeats from its new
/// events.
///
/// Pages come in millisecond order (oldest or newest first), so an event of
/// a millisecond before the cursor's is a repeat. Within a millisecond no
/// order is assumed (Rapid7 documents none for newest-first pages): an
/// event of the cursor's millisecond is a repeat only if it was returned.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resume {
    /// The largest page key returned.
    cursor: Cursor,
    /// `(timestamp, sequence_number)` of the events returned in the
    /// cursor's millisecond.
    boundary: HashSet<(i64, u64)>,
}

impl Resume {
    /// Whether the event of page key `key` was returned before.
    fn is_repeat(&self, key: (i64, u64), event: (i64, u64)) -> bool {
        match self.cursor {
            Some(c) if key.0 < c.0 => true,
            Some(c) if key.0 == c.0 => self.boundary.contains(&event),
            _ => false,
        }
    }

    /// Take in the events a page kept.
    pub(crate) fn advance(&mut self, order: Order, page: &ParsedBody) {
        let next = self.cursor.max(page.max_key);
        let Some(c) = next else {
            return;
        };
        if self.cursor.map(|k| k.0) != Some(c.0) {
            self.boundary.clear();
        }
        let kept = &page.columns;
        for (ts, seq) in kept.timestamps.iter().zip(&kept.sequence_numbers) {
            if page_key(order, *ts, *seq).0 == c.0 {
                self.boundary.insert((*ts, *seq));
            }
        }
        self.cursor = next;
    }
}

impl Resume {
    /// What a read of millisecond `ms` whole, oldest first, starts from,
    /// after this (newest-first) query: the events of `ms` it returned are
    /// repeats.
    pub(crate) fn seeded(&self, ms: i64) -> Resume {
        Resume {
            cursor: Some((ms, 0)),
            boundary: self
                .boundary
                .iter()
                .filter(|e| e.0 == ms)
                .copied()
                .collect(),
        }
    }

    /// Take in that millisecond `ms` was read whole (by `whole`, a
    /// [`seeded`](Self::seeded) read of it): every event of `ms` and newer
    /// is a repeat from now on (newest first).
    pub(crate) fn absorb(&mut self, ms: i64, whole: &Resume) {
        let key = page_key(Order::NewestFirst, ms, u64::MAX);
        if self.cursor.map(|c| c.0) != Some(key.0) {
            self.boundary.clear();
        }
        self.boundary
            .extend(whole.boundary.iter().filter(|e| e.0 == ms).copied());
        self.cursor = self.cursor.max(Some(key));
    }
}

/// The order pages come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first (the API's default).
    #[default]
    OldestFirst,
    /// Newest first (`most_recent_first=true`).
    NewestFirst,
}

/// The key pages are ordered by: `(timestamp, sequence_number)` oldest
/// first, its mirror image newest first, so that "later in the pagination"
/// is "larger" either way.
pub(crate) fn page_key(order: Order, ts: i64, seq: u64) -> (i64, u64) {
    match order {
        Order::OldestFirst => (ts, seq),
        Order::NewestFirst => (ts.saturating_neg(), u64::MAX - seq),
    }
}

/// What a page body turned out to be.
pub(crate) struct ParsedBody {
    pub(crate) links: Vec<Link>,
    pub(crate) columns: EventColumns,
    pub(crate) stats: PageStats,
    /// Largest key accepted in this page.
    pub(crate) max_key: Cursor,
    /// Largest key of any event in this page whose timestamp and sequence
    /// number could be read (accepted, duplicate or out of the window): how
    /// far the page reached, for telling whether pagination advances.
    pub(crate) max_seen: Cursor,
    /// Largest timestamp of an event of this page that passed the log-id
    /// check (no `log_id`, or the queried log's), in the window or not:
    /// what the page shows of the `to` it was asked (`client/edge.rs`); an
    /// event of another log shows nothing of this query.
    pub(crate) max_own_timestamp: Option<i64>,
    /// Whether the body was a statistical result (not an event page).
    pub(crate) statistical: bool,
    /// Why the first rejected event was rejected (see [`PageStats::failed`]).
    pub(crate) first_rejection: Option<String>,
    /// `x-beyond-retention-message` of a response that said the window
    /// reaches past retention (set by the query, from the headers).
    pub(crate) beyond_retention: Option<String>,
    /// A merged page (several logs): each kept event's log, and what the
    /// page broke of the merged stream's rules ([`merged`]).
    pub(crate) merged: Option<merged::Lanes>,
}

/// Parse a page body in one pass; a page with a message sent as a JSON
/// object or array is parsed a second time, keeping each such message's
/// exact JSON text ([`TextSeed`]'s `exact_json`), which would cost every
/// page about a tenth of its decode.
pub(crate) fn parse_page(
    body: &[u8],
    log_id: &str,
    window: (i64, i64),
    resume: &Resume,
    page_number: u64,
    order: Order,
) -> Result<ParsedBody, serde_json::Error> {
    parse_page_of(body, log_id, None, window, resume, page_number, order)
}

/// [`parse_page`] of one log's page, or (`merged`: the logs asked and where
/// their merged stream stands) of a merged page of several.
fn parse_page_of(
    body: &[u8],
    log_id: &str,
    merged: Option<(&merged::Asked, &merged::Stream)>,
    window: (i64, i64),
    resume: &Resume,
    page_number: u64,
    order: Order,
) -> Result<ParsedBody, serde_json::Error> {
    // JSON text is UTF-8 (RFC 8259 §8.1). Checking the whole body at once
    // (std's ASCII fast path: ~20 µs for a 360 KB page) lets the parser
    // borrow every string without checking each again, which took a tenth
    // of the decode.
    let body = std::str::from_utf8(body).map_err(|e| {
        de::Error::custom(format_args!(
            "page body is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let parse = |exact_json| {
        let state = PageState {
            log_id,
            window,
            order,
            resume,
            page_number,
            exact_json,
            seen: SeenKeys::default(),
            scratch: String::new(),
            columns: EventColumns::new(),
            stats: PageStats::default(),
            max_key: None,
            max_seen: None,
            max_own_timestamp: None,
            position: 0,
            first_rejection: None,
            merged: merged.map(|(asked, stream)| merged::Check::new(asked, stream)),
        };
        parse_str(body, state)
    };
    let first = parse(false)?;
    if first.stats.object_messages == 0 {
        return Ok(first);
    }
    parse(true)
}

fn parse_str(body: &str, mut state: PageState<'_>) -> Result<ParsedBody, serde_json::Error> {
    // Messages are at most the body's size: one allocation instead of a
    // doubling series of copies (and fresh pages) while the page is decoded.
    state.columns.message_data.reserve(body.len());
    let mut de = serde_json::Deserializer::from_str(body);
    let (links, statistical) = PageSeed { state: &mut state }.deserialize(&mut de)?;
    de.end()?;
    // Batches are buffered until a flush: hold only what the messages use.
    state.columns.message_data.shrink_to_fit();
    Ok(ParsedBody {
        links,
        columns: state.columns,
        stats: state.stats,
        max_key: state.max_key,
        max_seen: state.max_seen,
        max_own_timestamp: state.max_own_timestamp,
        statistical,
        beyond_retention: None,
        first_rejection: state.first_rejection,
        merged: state.merged.map(merged::Check::finish),
    })
}

/// Failed events of one page logged at WARN; the rest at DEBUG.
const WARNED_FAILURES_PER_PAGE: u64 = 5;

struct PageState<'s> {
    log_id: &'s str,
    window: (i64, i64),
    order: Order,
    resume: &'s Resume,
    page_number: u64,
    /// Keep object messages' exact JSON text (see [`parse_page`]).
    exact_json: bool,
    seen: SeenKeys,
    /// The current event's message when it cannot be borrowed from the body.
    scratch: String,
    columns: EventColumns,
    stats: PageStats,
    max_key: Cursor,
    max_seen: Cursor,
    /// See [`ParsedBody::max_own_timestamp`].
    max_own_timestamp: Option<i64>,
    position: usize,
    first_rejection: Option<String>,
    /// A merged page: the logs asked and the merged stream's checks.
    merged: Option<merged::Check<'s>>,
}

impl PageState<'_> {
    fn fail(&mut self, reason: &str) {
        self.stats.failed += 1;
        if let Some(m) = &mut self.merged {
            m.failed();
        }
        if self.first_rejection.is_none() {
            self.first_rejection = Some(format!("{reason} (event {})", self.position));
        }
        // A page of 500 broken events is five warnings, not 500: the rest
        // go to DEBUG, and the page's and the fetch's events count them all.
        if self.stats.failed <= WARNED_FAILURES_PER_PAGE {
            tracing::warn!(
                log_id = self.log_id,
                page = self.page_number,
                position = self.position,
                reason,
                "logsearch_event_failed"
            );
        } else {
            tracing::debug!(
                log_id = self.log_id,
                page = self.page_number,
                position = self.position,
                reason,
                "logsearch_event_failed"
            );
        }
    }

    fn accept(&mut self, ev: RawEvent<'_>) {
        self.stats.received += 1;
        if let Some(m) = &mut self.merged {
            m.event_of(ev.log_id.as_deref());
        }
        let Some(ts) = ev.timestamp else {
            return self.fail("missing or invalid timestamp");
        };
        self.stats.min_timestamp = Some(self.stats.min_timestamp.map_or(ts, |m| m.min(ts)));
        self.stats.max_timestamp = Some(self.stats.max_timestamp.map_or(ts, |m| m.max(ts)));
        let own = ev.log_id.as_deref().is_none_or(|id| id == self.log_id);
        if own {
            self.max_own_timestamp = self.max_own_timestamp.max(Some(ts));
        }
        let seq = sequence_number(&ev);
        match (seq, &mut self.merged) {
            (Ok(seq), merged) => {
                self.max_seen = self.max_seen.max(Some(page_key(self.order, ts, seq)));
                if let Some(m) = merged {
                    m.in_order(
                        page_key(self.order, ts, seq),
                        self.order == Order::NewestFirst,
                    );
                }
            }
            // A merged stream cannot place it: its timestamp alone (past
            // the window's end, say) would end the answer for every log.
            (Err(reason), Some(m)) => m.unordered(ts, reason),
            (Err(_), None) => {}
        }
        // An event outside the window belongs to another query (the next
        // range, when Rapid7's `to` is inclusive), whatever else is wrong
        // with it: it is not this window's to reject.
        if ts < self.window.0 || ts >= self.window.1 {
            self.stats.out_of_window += 1;
            return;
        }
        let seq = match seq {
            Ok(seq) => seq,
            Err(reason) => return self.fail(reason),
        };
        let Some(message) = ev.message else {
            return self.fail("missing message");
        };
        let object = matches!(message, Text::ScratchJson | Text::Json(_));
        let message = match message {
            Text::Body(text) => text,
            Text::Scratch => self.scratch.as_str(),
            Text::ScratchJson => {
                self.stats.object_messages += 1;
                self.scratch.as_str()
            }
            Text::Json(text) => {
                self.stats.object_messages += 1;
                text
            }
        };
        match &self.merged {
            Some(m) if !m.asked_for() => return self.fail("event of a log not asked for"),
            Some(_) => {}
            None => {
                if !own {
                    return self.fail("event belongs to another log");
                }
            }
        }
        let key = page_key(self.order, ts, seq);
        if self.resume.is_repeat(key, (ts, seq)) || !self.seen.insert(key, (ts, seq), &self.columns)
        {
            self.stats.duplicates += 1;
            return;
        }
        if let Err(reason) = self.columns.push(ts, seq, message, &ev.labels) {
            return self.fail(&reason);
        }
        self.stats.accepted += 1;
        self.max_key = self.max_key.max(Some(key));
        if let Some(m) = &mut self.merged {
            m.kept(object);
        }
    }
}

/// An event's exact sequence number. `sequence_number_str` is exact; the
/// number `sequence_number` is exact only below 2^53 (Rapid7 writes it as a
/// JavaScript double: `3234730521598636032` arrives as
/// `3234730521598636000`). Older material has no `sequence_number_str`: above
/// 2^53 the exact value is then the one in the event's `Context` link
/// (`…/query/context/{sequence_number}?…`), taken when it rounds to the same
/// double as the number (or when there is no number at all).
fn sequence_number(ev: &RawEvent<'_>) -> Result<u64, &'static str> {
    const EXACT: u64 = 1 << 53;
    match (
        ev.sequence_number_str,
        ev.sequence_number,
        ev.context_sequence,
    ) {
        (Some(s), _, _) => Ok(s),
        (None, Some(n), _) if n < EXACT => Ok(n),
        (None, Some(n), Some(c)) if c as f64 == n as f64 => Ok(c),
        (None, Some(_), Some(_)) => Err(
            "sequence_number above 2^53 disagrees with its Context link, and no sequence_number_str",
        ),
        (None, Some(_), None) => Err(
            "sequence_number_str missing, sequence_number above 2^53 (not exact) and no Context link",
        ),
        (None, None, Some(c)) => Ok(c),
        (None, None, None) => Err("missing or invalid sequence number"),
    }
}

/// The sequence number in a `Context` link's path:
/// `…/query/context/{sequence_number}?…`.
fn context_sequence(href: &str) -> Option<u64> {
    let (_, rest) = href.split_once("/context/")?;
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Keys of the events a page has kept, to drop repeats within it.
///
/// The API returns a page's events in key order, so a key above the last
/// one kept is new and nothing needs hashing. Only when a key arrives out
/// of order are the kept keys put in a set, once, and looked up from then on.
#[derive(Default)]
struct SeenKeys {
    last: Cursor,
    set: Option<HashSet<(i64, u64)>>,
}

impl SeenKeys {
    /// Whether the event `(ts, seq)` is new; `key` is its page key (the
    /// order the API returns events in). `kept` holds every event kept so far.
    fn insert(&mut self, key: (i64, u64), event: (i64, u64), kept: &EventColumns) -> bool {
        let set = match &mut self.set {
            Some(set) => set,
            None if self.last < Some(key) => {
                self.last = Some(key);
                return true;
            }
            None => self.set.insert(
                kept.timestamps
                    .iter()
                    .copied()
                    .zip(kept.sequence_numbers.iter().copied())
                    .collect(),
            ),
        };
        set.insert(event)
    }
}

struct PageSeed<'a, 's> {
    state: &'a mut PageState<'s>,
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_, '_> {
    type Value = (Vec<Link>, bool);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_, '_> {
    type Value = (Vec<Link>, bool);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Log Search result object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut links = Vec::new();
        let mut statistical = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Events => map.next_value_seed(EventsSeed {
                    state: &mut *self.state,
                })?,
                Key::Links => links = map.next_value::<Option<Vec<Link>>>()?.unwrap_or_default(),
                Key::Statistics => {
                    statistical = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((links, statistical))
    }
}

struct EventsSeed<'a, 's> {
    state: &'a mut PageState<'s>,
}

impl<'de> DeserializeSeed<'de> for EventsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(ev) = seq.next_element_seed(EventSeed {
            scratch: &mut self.state.scratch,
            exact_json: self.state.exact_json,
        })? {
            self.state.accept(ev);
            self.state.position += 1;
        }
        Ok(())
    }
}

/// One event as it arrives; every field optional and leniently typed, so a
/// malformed event is counted instead of failing the page.
#[derive(Default)]
struct RawEvent<'a> {
    timestamp: Option<i64>,
    sequence_number: Option<u64>,
    sequence_number_str: Option<u64>,
    /// The sequence number of the event's `Context` link.
    context_sequence: Option<u64>,
    log_id: Option<Cow<'a, str>>,
    message: Option<Text<'a>>,
    labels: Vec<String>,
}

/// Deserializes one event; its message may be written into `scratch`.
struct EventSeed<'a> {
    scratch: &'a mut String,
    exact_json: bool,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = RawEvent<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawEvent<'de>, D::Error> {
        d.deserialize_any(RawEventVisitor {
            scratch: self.scratch,
            exact_json: self.exact_json,
        })
    }
}

struct RawEventVisitor<'a> {
    scratch: &'a mut String,
    exact_json: bool,
}

impl<'de> Visitor<'de> for RawEventVisitor<'_> {
    type Value = RawEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ev = RawEvent::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Timestamp => ev.timestamp = map.next_value::<Any<'de>>()?.as_i64(),
                Key::SequenceNumber => {
                    ev.sequence_number = map.next_value::<Any<'de>>()?.as_u64();
                }
                Key::SequenceNumberStr => {
                    ev.sequence_number_str = map.next_value::<Any<'de>>()?.as_u64();
                }
                Key::LogId => ev.log_id = map.next_value::<Any<'de>>()?.into_text(),
                Key::Message => {
                    ev.message = map.next_value_seed(TextSeed {
                        scratch: &mut *self.scratch,
                        exact_json: self.exact_json,
                    })?;
                }
                Key::Labels => ev.labels = map.next_value::<Labels>()?.0,
                Key::Links => {
                    ev.context_sequence = map
                        .next_value::<ContextLink>()?
                        .0
                        .as_deref()
                        .and_then(context_sequence);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ev)
    }

    // Anything that is not an object is an event with no fields.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawEvent::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawEvent::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(RawEvent::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(RawEvent::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(RawEvent::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RawEvent::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RawEvent::default())
    }
}

mod decode;
pub(crate) mod merged;
pub(crate) mod split;

pub use decode::decode_page;
#[cfg(test)]
mod tests;
mod values;
