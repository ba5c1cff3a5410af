//! Bypass: with no cache to fetch into, the gaps are read from the API as
//! the rows are pulled, beside the recent edge; the estimate asked at
//! planning is held against the statement's limit of events first, as for
//! a fetch.

use datafusion::error::Result as DfResult;

use super::run::{Prepared, Run, assemble, check_estimate};
use crate::provider::scan::plan::LogScan;
use crate::provider::scan::report::log_coverage;

/// Check the estimate of `only` (and `spent` events read already) against
/// the limit, and plan every range of it as a live read.
pub(crate) async fn prepare(
    run: Run<'_>,
    only: &[(usize, LogScan)],
    spent: u64,
) -> DfResult<Prepared> {
    check_estimate(run, only, spent)?;
    for (_, scan) in only {
        log_coverage(scan, 0);
    }
    assemble(run, only, false).await
}
