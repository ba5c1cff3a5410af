//! Spans that tie log events to what caused them: a `statement` (with a
//! short query id), the `fetch` of one piece or live range inside it, and the
//! `page` of a fetch. docs/events.md catalogues the events and these spans.
//!
//! The spans are created at `ERROR` level, whatever their events' levels:
//! a span filtered out is no context at all, and the warnings an operator
//! reads at the default `warn` filter are the lines that most need their
//! statement. A span costs an allocation where it is made and a little on
//! each poll; none is made per event.
//!
//! The library makes `fetch` and `page` spans; whoever runs a statement
//! makes its `statement` span ([`statement_span`]) and runs the planning and
//! the execution inside it, as `rapid7-sql` does:
//!
//! ```no_run
//! # async fn run(ctx: datafusion::prelude::SessionContext) -> datafusion::error::Result<()> {
//! use tracing::Instrument;
//! let span = datafusion_rapid7::trace::statement_span();
//! let batches = async { ctx.sql("SELECT count(*) FROM rapid7_logs").await?.collect().await }
//!     .instrument(span)
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::Stream;
use tracing::Span;

use crate::time::TimeRange;

/// A short id for one statement: 8 hex digits, distinct within a process and
/// unlikely to repeat across processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryId(u32);

impl QueryId {
    /// The next id of this process.
    pub fn next() -> QueryId {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ (u64::from(std::process::id()) << 32)
        });
        // A bijection of the counter (splitmix64's finaliser), keyed by the
        // seed: consecutive statements get unrelated-looking ids, and the 32
        // bits kept repeat only after 2^32 statements of one process.
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        QueryId((z >> 32) as u32)
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// A new `statement{query_id}` span, child of the current span.
pub fn statement_span() -> Span {
    statement_span_for(QueryId::next())
}

/// The `statement{query_id}` span of `id` (to show the id elsewhere too).
pub fn statement_span_for(id: QueryId) -> Span {
    tracing::error_span!("statement", query_id = %id)
}

/// A `fetch{log, range, filter, live}` span, child of the current span:
/// one piece fetched into a segment (`live = false`) or one range read
/// without caching (`live = true`).
pub(crate) fn fetch_span(log: &str, range: TimeRange, filter: Option<&str>, live: bool) -> Span {
    tracing::error_span!("fetch", log, range = %range, filter, live)
}

/// A `page{n}` span, child of the current span.
pub(crate) fn page_span(n: u64) -> Span {
    tracing::error_span!("page", n)
}

/// `stream`, with `span` entered while it is polled (what
/// [`tracing::Instrument`] does for futures).
pub(crate) fn in_span<S>(stream: S, span: Span) -> InSpan<S> {
    InSpan { stream, span }
}

/// See [`in_span`].
#[derive(Debug)]
pub(crate) struct InSpan<S> {
    stream: S,
    span: Span,
}

impl<S: Stream + Unpin> Stream for InSpan<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        Pin::new(&mut this.stream).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_are_short_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| QueryId::next().to_string()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()))
        );
    }
}
