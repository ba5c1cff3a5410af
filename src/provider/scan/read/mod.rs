//! How a scan that needs the API reads what the cache lacks: one
//! [`Strategy`] per file, chosen when the scan is planned; the exec
//! (`exec.rs`) runs it once, for all partitions, when it is executed.
//! `run.rs` holds what they share.
//!
//! | strategy | what the gaps become | the limit of events |
//! |---|---|---|
//! | [`FetchFirst`](Strategy::FetchFirst) (`fetch_first.rs`) | fetched into committed segments, then one Parquet scan | the estimate, checked before any event page |
//! | [`Bypass`](Strategy::Bypass) (`bypass.rs`) | read from the API as the rows are pulled, not cached | the estimate, checked before any event page |
//! | [`Lazy`](Strategy::Lazy) (`lazy.rs`) | read as pulled, so a `LIMIT` stops the paging | counted as the rows are read |
//! | [`NewestFirst`](Strategy::NewestFirst) (`newest.rs`) | read newest first until the newest `n` are in hand, the logs of one plan together by merged queries (`newest_merged.rs`) (then fetched first or bypassed, when the endpoint does not honour it) | counted as the pages are read, and the rest by the estimate |
//!
//! A scan approved over the limit ([`StatementCost::approve`]) reads with
//! no limit; nothing else changes.
//!
//! [`StatementCost::approve`]: crate::provider::StatementCost::approve

pub(super) mod bypass;
pub(super) mod fetch_first;
pub(super) mod lazy;
mod newest;
mod newest_merged;
pub(super) mod newest_run;
mod run;
mod strategy;

pub(super) use run::{Extra, Prepared, Run, ScanInputs};
pub(crate) use strategy::Strategy;
