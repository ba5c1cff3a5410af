//! SQL over Rapid7 InsightOps / InsightIDR Log Search, with a Parquet segment
//! cache on `object_store`, built on [DataFusion](datafusion).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use datafusion::prelude::SessionContext;
//! use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
//! use datafusion_rapid7::client::ClientBuilder;
//! use datafusion_rapid7::mock::{MockConfig, MockServer};
//! use datafusion_rapid7::Rapid7Config;
//!
//! // The bundled simulator on loopback stands in for Rapid7 here; against the
//! // real API, `Rapid7Config::from_env()?` reads RAPID7_API_KEY and friends.
//! let server = MockServer::start(MockConfig::default()).await?;
//! let client = ClientBuilder::new()
//!     .with_endpoint(server.url())
//!     .with_api_key(server.api_key())
//!     .build()?;
//! let dir = tempfile::tempdir()?;
//! let cache = SegmentCache::open(dir.path().to_str().unwrap(), CacheConfig::default())?;
//!
//! let ctx = SessionContext::new();
//! datafusion_rapid7::register(&ctx, Rapid7Config::new(client, cache)).await?;
//! let batches = ctx
//!     .sql("SELECT log_name, count(*) FROM rapid7_logs \
//!           WHERE timestamp BETWEEN '2026-02-10T00:00:00Z' AND '2026-02-10T00:09:59.999Z' \
//!           GROUP BY log_name")
//!     .await?
//!     .collect()
//!     .await?;
//! assert!(!batches.is_empty());
//! # Ok(()) }
//! ```
//!
//! The crate is layered so that each part can be used and tested alone (see
//! `docs/architecture.md`); data flows one way, from the client to the cache
//! to the provider:
//!
//! - [`client`]: the Log Search REST client (pages as a stream, polling,
//!   retries, rate limiting). Knows nothing of Arrow; its own [`client::Error`].
//! - [`events`]: the one event schema and the page → `RecordBatch` decoder.
//! - [`fields`]: fields inside messages (JSON, CSV, `key=value`): SQL
//!   functions and structure inference.
//! - [`cache`]: Parquet segments on any object store: coverage planning,
//!   streaming writer, crash-safe commit. Does not know the client.
//! - [`fetch`]: events from the client into the cache: the single-flight
//!   fetcher, the one ingest path (pages → segment → commit), progress.
//! - [`provider`]: DataFusion: the [`Rapid7`] handle, the `rapid7_logs`
//!   table and its scan, window extraction, table functions.
//! - [`ops`]: operations on a [`Rapid7`] handle: `sync` and summaries.
//! - [`mock`] (feature `mock`): a faithful simulator of the API on loopback.
//! - `flight` (feature `flight`): Arrow Flight SQL over one shared handle.
//!
//! Leaves used by all of them: [`time`] (ranges, instants, the clock),
//! [`leql`] (LEQL statements, pure),
//! [`env`](mod@env) (parsing settings), [`log_id`]. Configuration is typed
//! ([`config`]); every failure is an [`Error`].
//!
//! # The limit of events, and approving a fetch over it
//!
//! A statement whose missing ranges hold more events than its limit
//! ([`Rapid7Config::max_fetch_events`], `SET rapid7.max_fetch_events`; by
//! Rapid7's statistics, asked at planning) fails when executed, before any
//! event page, with [`Error::FetchBudget`]. A front end decides before it
//! runs one: [`Rapid7::estimate`] gives a planned statement's
//! [`StatementCost`](provider::StatementCost), and
//! [`StatementCost::approve`](provider::StatementCost::approve) the plan
//! approved (`rapid7-sql` asks its user first; a server that asks nobody
//! approves nothing). A source shared by several users makes its limit a
//! ceiling ([`Rapid7Config::fetch_limit_is_ceiling`]).
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::clone_on_ref_ptr
)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod cache;
pub mod client;
pub mod config;
mod cost;
pub mod env;
pub mod error;
pub mod events;
pub mod fetch;
pub mod fields;
#[cfg(feature = "flight")]
pub mod flight;
pub mod leql;
mod locks;
pub mod log_id;
#[cfg(feature = "mock")]
pub mod mock;
pub mod ops;
pub mod provider;
pub mod text;
pub mod time;
pub mod trace;

pub use config::Rapid7Config;
pub use error::{Error, Result};
#[allow(deprecated)]
pub use ops::summarize;
pub use provider::{Rapid7, register};
