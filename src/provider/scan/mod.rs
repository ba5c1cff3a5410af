//! The `rapid7_logs` scan: the table ([`Rapid7LogsTable`]), planning against
//! the cache, the exec that fetches when executed ([`Rapid7ScanExec`]) and
//! its read strategies (`read/`: fetch first, bypass, lazy, newest first),
//! cached Parquet scans, the filters every scan applies and the log
//! directory. Fetching itself is [`crate::fetch`].

mod cached;
mod estimate;
mod exec;
mod filters;
mod log_sets;
mod logs;
mod newest_rule;
mod parquet;
mod plan;
mod read;
mod report;
mod table;
mod verdict;

pub use crate::fetch::{Activity, FetchOutcome, FetchProgress, StatementProgress};
pub(crate) use estimate::Cost;
pub use estimate::FetchEstimate;
pub(crate) use estimate::{check_budget, query_rate, worth_estimating};
pub use exec::Rapid7ScanExec;
pub(crate) use exec::ScanId;
pub(crate) use log_sets::{LogSet, LogSetsOf, column_name as logset_column_name};
pub use logs::LogRef;
pub(crate) use logs::{LogDirectory, labels, table_names};
pub(crate) use newest_rule::PageOrder;
pub(crate) use plan::{LogScan, estimate_pieces, split_aligned};
pub use table::Rapid7LogsTable;
pub(crate) use table::plan_logs;
pub(crate) use verdict::NewestVerdict;
