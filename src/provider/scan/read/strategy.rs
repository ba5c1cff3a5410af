//! [`Strategy`]: which read strategy a scan runs (see `read/mod.rs`).

/// How a scan reads the ranges the cache lacks (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Fetch the gaps into segments first, then read every segment.
    FetchFirst,
    /// The cache is bypassed: read the gaps as the rows are pulled.
    Bypass,
    /// A `LIMIT` reached the scan: read the gaps as the rows are pulled,
    /// so the limit stops the paging.
    Lazy,
    /// `ORDER BY timestamp DESC … LIMIT n` above: read newest first and
    /// stop with the newest `n` kept events.
    NewestFirst {
        /// The `n` of the `LIMIT`.
        n: usize,
    },
}

impl Strategy {
    /// The strategy of a scan: newest first under `ORDER BY timestamp DESC
    /// … LIMIT n` (`newest_first`), else lazy under a `LIMIT`, else as the
    /// cache allows.
    pub(crate) fn choose(newest_first: Option<usize>, limit: Option<usize>, bypass: bool) -> Self {
        match (newest_first, limit) {
            (Some(n), _) => Strategy::NewestFirst { n },
            (None, Some(_)) => Strategy::Lazy,
            (None, None) if bypass => Strategy::Bypass,
            (None, None) => Strategy::FetchFirst,
        }
    }

    /// Whether the estimate is held against the limit before any event
    /// page; the others stop early, and count what they read as they read
    /// it.
    pub(crate) fn checks_estimate(self) -> bool {
        matches!(self, Strategy::FetchFirst | Strategy::Bypass)
    }
}

#[cfg(test)]
mod tests {
    use super::Strategy;

    #[test]
    fn newest_first_then_a_limit_then_the_cache_choose() {
        assert_eq!(
            Strategy::choose(Some(5), Some(5), true),
            Strategy::NewestFirst { n: 5 }
        );
        assert_eq!(Strategy::choose(None, Some(5), false), Strategy::Lazy);
        assert_eq!(Strategy::choose(None, Some(5), true), Strategy::Lazy);
        assert_eq!(Strategy::choose(None, None, true), Strategy::Bypass);
        assert_eq!(Strategy::choose(None, None, false), Strategy::FetchFirst);
        assert!(Strategy::FetchFirst.checks_estimate() && Strategy::Bypass.checks_estimate());
        assert!(!Strategy::Lazy.checks_estimate());
        assert!(!Strategy::NewestFirst { n: 1 }.checks_estimate());
    }
}
