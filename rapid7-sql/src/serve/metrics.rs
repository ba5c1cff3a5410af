//! What the metrics endpoint counts: a `tracing` layer of its own (with its
//! own filter, so the counts do not depend on `--log-level`) reads the
//! library's events; the client's own counters and quota are read when the
//! endpoint is scraped (see `render.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Upper bounds of the latency histograms' buckets, seconds.
pub(crate) const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A Prometheus histogram of durations.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    /// Observations at most `BUCKETS[i]` (not cumulative; summed when shown).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    fn observe_ms(&self, ms: u64) {
        let seconds = ms as f64 / 1000.0;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Cumulative bucket counts, the count and the sum in seconds.
    pub(crate) fn snapshot(&self) -> ([u64; BUCKETS.len()], u64, f64) {
        let mut cumulative = [0; BUCKETS.len()];
        let mut total = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            total += b.load(Ordering::Relaxed);
            cumulative[i] = total;
        }
        let sum = self.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        (cumulative, self.count.load(Ordering::Relaxed), sum)
    }
}

/// Per-user statement figures.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UserFigures {
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) queries_spent: u64,
}

/// The counts the library's events feed.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Statements by (user, outcome).
    pub(crate) statements: Mutex<BTreeMap<(String, String), u64>>,
    /// Rows, bytes and API queries of statements, by user.
    pub(crate) by_user: Mutex<BTreeMap<String, UserFigures>>,
    pub(crate) statement_latency: Histogram,
    pub(crate) fetch_latency: Histogram,
    pub(crate) fetches_failed: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) cache_partials: AtomicU64,
    pub(crate) cache_misses: AtomicU64,
    pub(crate) rows_reused: AtomicU64,
    pub(crate) rows_fetched: AtomicU64,
    pub(crate) segments_committed: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    fn record(&self, e: &Fields) {
        let add = |a: &AtomicU64, v: u64| {
            a.fetch_add(v, Ordering::Relaxed);
        };
        match e.name.as_str() {
            "flight_statement" => {
                let user = e.text("user").unwrap_or("unknown").to_string();
                let outcome = e.text("outcome").unwrap_or("unknown").to_string();
                *lock(&self.statements)
                    .entry((user.clone(), outcome))
                    .or_default() += 1;
                let mut by_user = lock(&self.by_user);
                let f = by_user.entry(user).or_default();
                f.rows += e.number("rows");
                f.bytes += e.number("bytes");
                f.queries_spent += e.number("queries_spent");
                self.statement_latency.observe_ms(e.number("duration_ms"));
            }
            name @ ("cache_hit" | "cache_partial" | "cache_miss") => {
                add(
                    match name {
                        "cache_hit" => &self.cache_hits,
                        "cache_partial" => &self.cache_partials,
                        _ => &self.cache_misses,
                    },
                    1,
                );
                add(&self.rows_reused, e.number("rows_reused"));
                add(&self.rows_fetched, e.number("rows_fetched"));
            }
            "fetch_subrange_complete" => self.fetch_latency.observe_ms(e.number("duration_ms")),
            "fetch_subrange_failed" => add(&self.fetches_failed, 1),
            // `cache_write` says the same for the plans' names: counted once.
            "segment_committed" => {
                add(&self.segments_committed, 1);
                add(&self.bytes_written, e.number("bytes"));
            }
            _ => {}
        }
    }
}

/// The layer feeding [`Metrics`] (give it a filter of its own).
pub(crate) struct MetricsLayer(pub(crate) std::sync::Arc<Metrics>);

impl<S: Subscriber> Layer<S> for MetricsLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.record(&fields);
    }
}

/// The fields of one event the metrics read: its name (the message) and
/// its numbers and short strings.
#[derive(Default)]
struct Fields {
    name: String,
    numbers: Vec<(&'static str, u64)>,
    texts: Vec<(&'static str, String)>,
}

impl Fields {
    fn number(&self, name: &str) -> u64 {
        self.numbers
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Only the fields metrics read are kept (never `error`, which may quote SQL).
const TEXTS: [&str; 2] = ["user", "outcome"];

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.numbers.push((field.name(), value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.numbers
            .push((field.name(), u64::try_from(value).unwrap_or(0)));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if TEXTS.contains(&field.name()) {
            self.texts.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.name = format!("{value:?}"),
            name if TEXTS.contains(&name) => {
                // `%user` arrives here as Display-through-Debug.
                self.texts.push((field.name(), format!("{value:?}")));
            }
            _ => {}
        }
    }
}
