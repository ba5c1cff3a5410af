//! Fetching: events from Rapid7 into the cache, and to the scans that read
//! them. A layer between [`cache`](crate::cache) and
//! [`provider`](crate::provider): it uses the client, the cache, the event
//! decoder and [`leql`](crate::leql) (which builds every statement sent),
//! and imports nothing of `provider/` or `ops/` (`scripts/check-layers`).
//!
//! - `fetcher`: the single-flight fetcher of one source. Two readers of the
//!   same uncached window (the same log, filter and range) cause one fetch;
//!   at most `fetch_concurrency` fetches into segments run at once for the
//!   whole source. Scans and [`Rapid7::sync`](crate::Rapid7::sync) fetch
//!   through it; the recent edge and newest-first reads page through it
//!   without committing.
//! - `ingest`: the one path into the cache, pages → batches → segment
//!   writer → commit, for scans, sync and newest-first reads alike.
//! - `request`: what a fetch reads (log, filter, range).
//! - `progress`: what is being fetched ([`FetchProgress`],
//!   [`StatementProgress`]) and what a source's fetches did ([`Activity`]).
//! - `stop`: a graceful stop ([`Rapid7::stop`](crate::Rapid7::stop)).
//! - `forms`: what reads teach about how each log sends its messages.
//! - `edge`: whether the endpoint's `to` is inclusive, between the client
//!   and the cache's endpoint facts.

mod edge;
mod fetcher;
mod forms;
mod ingest;
mod merged;
mod merged_groups;
mod merged_live;
mod merged_newest;
mod progress;
mod request;
mod stop;

pub(crate) use fetcher::Fetcher;
pub use ingest::FetchOutcome;
pub(crate) use ingest::{ReadBatches, commit_batches};
pub use progress::{Activity, FetchProgress, StatementProgress};
pub(crate) use request::FetchRequest;
