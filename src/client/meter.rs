//! [`QueryMeter`]: the API queries made for one statement, beside the
//! client's process-wide [`ClientStats`](super::ClientStats).
//!
//! A query counts as the quota and [`ClientStatsSnapshot::queries`]
//! count it: each query request sent (a submit or a `Next` page, each
//! attempt of a retried one); polls and management calls do not.
//!
//! The meter in force is a task-local value: work runs under a meter through
//! [`QueryMeter::scope`] (a future) or [`QueryMeter::sync_scope`] (one poll
//! of a stream), and every query the client sends meanwhile is added to it.
//! Work handed to another task does not carry it along: whoever hands work
//! over passes the meter on (the provider's plan nodes read it from the
//! statement's `SessionConfig` extension and poll their streams under it).
//!
//! A fetch shared by several statements (single flight: a second statement
//! waits on the fetch the first started) runs under the meter of the
//! statement that started it: that statement counts its queries, the ones
//! waiting count none.
//!
//! [`ClientStatsSnapshot::queries`]: super::ClientStatsSnapshot::queries

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

tokio::task_local! {
    static METER: QueryMeter;
}

/// A count of the API queries made for one statement (see the module docs).
/// Cheap to clone: clones count into the same total.
///
/// To count a DataFusion statement's queries, put the meter in the
/// statement's `SessionConfig` as an extension
/// (`config.with_extension(Arc::new(meter))`, on the `TaskContext` it runs
/// with) and plan it under [`QueryMeter::scope`] (planning asks Rapid7's
/// statistics).
#[derive(Debug, Clone, Default)]
pub struct QueryMeter(Arc<AtomicU64>);

impl QueryMeter {
    /// A meter at 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The queries counted so far.
    pub fn queries(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// `future`, with every query it makes counted by this meter.
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        METER.scope(self, future)
    }

    /// `f()`, with every query it makes counted by this meter (a stream's
    /// poll: see the module docs).
    pub fn sync_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        METER.sync_scope(self.clone(), f)
    }

    /// The meter in force, if any.
    pub(crate) fn current() -> Option<QueryMeter> {
        METER.try_with(QueryMeter::clone).ok()
    }

    /// One query sent: counted by the meter in force, if any.
    pub(super) fn count_query() {
        let _ = METER.try_with(|m| m.0.fetch_add(1, Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queries_count_to_the_meter_in_force_only() {
        let (a, b) = (QueryMeter::new(), QueryMeter::new());
        QueryMeter::count_query();
        a.clone()
            .scope(async {
                QueryMeter::count_query();
                // Nested: the inner meter counts, the outer does not.
                b.sync_scope(QueryMeter::count_query);
                b.clone().scope(async { QueryMeter::count_query() }).await;
                QueryMeter::count_query();
            })
            .await;
        assert_eq!((a.queries(), b.queries()), (2, 2));
        assert!(QueryMeter::current().is_none());
    }
}
