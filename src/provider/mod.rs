//! DataFusion integration: the `rapid7_logs` table, the `rapid7` schema of
//! per-log tables, the cache table functions and summaries.
//!
//! # How a query is answered
//!
//! 1. [`extract_windows`] turns the filters DataFusion pushes into the scan
//!    into half-open millisecond windows, and [`extract_log_selection`] into
//!    the logs to read (both pure; they only narrow the fetch, never below
//!    what the predicate can match). Every filter is pushed down `Exact`:
//!    the scan applies them all to the rows it produces.
//! 2. Each window is split at `now - settle`: the settled part is planned
//!    against the cache (committed segments, and the missing ranges cut into
//!    pieces of [`fetch_chunk`](crate::config::Rapid7Config::fetch_chunk));
//!    the recent part is never cached.
//! 3. If everything is cached, the scan is a plain Parquet `DataSourceExec`
//!    over every part of every segment, with exact statistics, reading
//!    strings as views and casting to `Utf8` only the rows the filters keep
//!    (see `scan/cached.rs`). Otherwise it
//!    is a [`Rapid7ScanExec`], which fetches when it is **executed**.
//!
//! # The limit of events, and approval
//!
//! A statement whose missing ranges hold more events than its limit
//! (`max_fetch_events`, by Rapid7's statistics asked at planning) fails when
//! executed, before any event page, unless approved: [`Rapid7::estimate`]
//! gives its [`StatementCost`], and [`StatementCost::approve`] the plan
//! approved. See `approval.rs` ([`StatementCost`]).
//!
//! # `EXPLAIN` does not spend quota
//!
//! Planning reads only the cache's manifests. `EXPLAIN` shows
//! `Rapid7ScanExec: … fetch_on_execute=[Firewall [from, to), …],
//! live_on_execute=[…]`: what running the query would fetch (and, where a
//! count or newest-first pushdown was tried and did not apply, why:
//! `why_paged="counts not pushed: …"`). Only running it
//! (or `EXPLAIN ANALYZE`, which runs it) calls the API. The missing ranges are
//! fetched concurrently under the client's shared rate limit, single-flight
//! per (log, range) in the process (a self-join or a `UNION` fetches once),
//! each streamed into its own committed segment; then one Parquet scan reads
//! every segment, and the recent edge is read live beside it. Cancelling the
//! query (dropping its stream, Ctrl-C in `rapid7-sql`) stops the fetches;
//! a segment whose fetch did not finish is never committed.
//!
//! # Offline
//!
//! With [`Rapid7Config::offline`](crate::config::Rapid7Config::offline), a
//! query that needs anything not in the cache (the recent edge included)
//! fails with [`Error::Offline`](crate::Error::Offline) naming each missing
//! range.

mod approval;
mod counts;
mod expr;
mod leaf;
mod logset_hint;
mod logsets;
mod newest_first;
mod options;
mod parsed;
mod register;
mod scan;
mod scan_path;
mod source;
mod translate;
mod udtf;
mod window;

pub(crate) use approval::statement_limit;
pub use approval::{ScanCost, StatementCost};
pub use counts::{Bin, CountPushdown, Rapid7CountsExec, Rapid7CountsTable};
pub use logsets::{LOGSETS_SCHEMA, LogSetRef};
pub use newest_first::NewestFirst;
pub use options::Rapid7Options;
pub use parsed::PARSED_SCHEMA;
pub use register::{LOGS_SCHEMA, LOGS_TABLE, register};
pub(crate) use scan::PageOrder;
pub use scan::{
    Activity, FetchEstimate, FetchOutcome, FetchProgress, LogRef, Rapid7LogsTable, Rapid7ScanExec,
    StatementProgress,
};
pub(crate) use scan::{check_budget, estimate_pieces, query_rate, split_aligned, worth_estimating};
pub use source::Rapid7;
pub use udtf::DEFAULT_FIELD_SAMPLE;
pub use window::{
    LogConstraint, LogSelection, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, WindowError, Windows,
    extract_log_selection, extract_windows,
};
