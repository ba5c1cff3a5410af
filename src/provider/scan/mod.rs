//! The `rapid7_logs` scan: the table ([`Rapid7LogsTable`]), planning against
//! the cache, the lazy fetching exec ([`Rapid7ScanExec`]), cached Parquet
//! scans, the filters every scan applies and the log directory. Fetching
//! itself is [`crate::fetch`].

mod cached;
mod estimate;
mod exec;
mod filters;
mod logs;
mod newest;
mod newest_rule;
mod parquet;
mod plan;
mod report;
mod table;
mod verdict;

pub use crate::fetch::{Activity, FetchOutcome, FetchProgress, StatementProgress};
pub use estimate::FetchEstimate;
pub(crate) use estimate::{check_budget, estimate_slices, query_rate, worth_estimating};
pub use exec::Rapid7ScanExec;
pub use logs::LogRef;
pub(crate) use logs::{LogDirectory, table_names};
pub(crate) use newest_rule::PageOrder;
pub(crate) use plan::{LogScan, split_aligned};
pub use table::Rapid7LogsTable;
pub(crate) use table::plan_logs;
pub(crate) use verdict::NewestVerdict;
