//! [`FetchRequest`]: what one fetch reads, named once for every path that
//! reads it (into a segment, newest first, or live).

use std::sync::Arc;

use crate::log_id::LogRef;
use crate::time::TimeRange;

/// What is fetched: the events of one log over a half-open range, every
/// event or only those a pushed LEQL filter selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FetchRequest {
    /// The log (its name labels progress and fills `log_name`).
    pub(crate) log: LogRef,
    /// The canonical LEQL filter, the inside of its `where(…)` (`None`:
    /// every event). Segments of a filter are keyed by its text.
    pub(crate) filter: Option<Arc<str>>,
    /// The range.
    pub(crate) range: TimeRange,
}

/// One in-flight fetch into a segment per key: the log id, the filter, the
/// range (the log's name is only a label).
pub(super) type FetchKey = (String, Option<Arc<str>>, TimeRange);

impl FetchRequest {
    /// `range` of `log`, with `filter` (`None`: every event).
    pub(crate) fn new(log: LogRef, filter: Option<Arc<str>>, range: TimeRange) -> Self {
        FetchRequest { log, filter, range }
    }

    /// The same log and filter over `range`.
    pub(crate) fn with_range(&self, range: TimeRange) -> Self {
        FetchRequest {
            range,
            ..self.clone()
        }
    }

    /// The filter's text.
    pub(crate) fn filter(&self) -> Option<&str> {
        self.filter.as_deref()
    }

    /// The LEQL statement sent for it (built by [`crate::leql`]).
    pub(crate) fn statement(&self) -> String {
        crate::leql::events_statement(self.filter())
    }

    pub(super) fn key(&self) -> FetchKey {
        (self.log.id.clone(), self.filter.clone(), self.range)
    }
}
