//! The `rapid7_logs` scan: the table ([`Rapid7LogsTable`]), planning against
//! the cache, the lazy fetching exec ([`Rapid7ScanExec`]), cached Parquet
//! scans, the filters every scan applies, the fetcher and the log directory.

mod cached;
mod exec;
mod fetch;
mod filters;
mod logs;
mod parquet;
mod plan;
mod stop;
mod table;

pub use exec::Rapid7ScanExec;
pub(crate) use fetch::Fetcher;
pub use fetch::{Activity, FetchOutcome, FetchProgress};
pub(crate) use logs::LogDirectory;
pub use logs::LogRef;
pub(crate) use plan::split_aligned;
pub use table::Rapid7LogsTable;
