//! Rapid7 Log Search REST client.
//!
//! Knows nothing of Arrow or DataFusion. A [`Client`] is cheap to clone; all
//! clones share one connection pool, one [rate limiter](RateLimitConfig) and
//! one set of [statistics](ClientStats), so concurrent fetches of several logs
//! or sub-ranges stay within one budget.
//!
//! ```no_run
//! # async fn demo() -> datafusion_rapid7::Result<()> {
//! use futures::TryStreamExt;
//! use datafusion_rapid7::client::ClientBuilder;
//!
//! let client = ClientBuilder::from_env()?.build()?;
//! let log = client.resolve_log("Firewall").await?;
//! let mut pages = client.query_events(&log.id, 1_700_000_000_000, 1_700_000_600_000)?.into_stream();
//! while let Some(page) = pages.try_next().await? {
//!     println!("{} events", page.columns.len());
//! }
//! # Ok(()) }
//! ```

mod backoff;
mod builder;
mod config;
mod edge;
pub(crate) mod error;
mod http;
mod keys;
mod merged;
mod merged_newest;
mod meter;
mod model;
mod names;
mod page;
mod poll;
mod probe;
mod query;
mod rate_limit;
mod rest;
mod retry;
mod stats;

pub use backoff::{Backoff, BackoffConfig, Jitter, RandomJitter};
pub use builder::ClientBuilder;
pub use config::{
    ApiKey, ClientConfig, DEFAULT_MAX_BODY_BYTES, ENV_ALLOW_HTTP, ENV_API_KEY, ENV_ENDPOINT,
    ENV_REGION, MAX_PER_PAGE, PollConfig, Region, parse_endpoint,
};
pub(crate) use edge::ToForm;
pub use error::{Error, Result, Wait};
pub use keys::ClientKey;
pub use merged::{MAX_GET_URL_BYTES, MAX_LOGS_PER_QUERY, MergedPage, MergedQuery};
pub use merged_newest::MergedNewest;
pub(crate) use merged_newest::merged_unusable;
pub use meter::QueryMeter;
pub use model::{Link, LogInfo, LogSetDetail, LogSetInfo};
pub use names::{pick_log, resolve_log, suggest};
pub use page::{EventColumns, EventPage, Order, PageStats, decode_page};
pub use probe::{RateLimitSeen, RawAnswer, ResetKind};
pub use query::{EventQuery, MAX_GET_STATEMENT_BYTES};
pub use rate_limit::{Budget, Namespace, RateLimitConfig};
pub use rest::{Client, ClientStats, ClientStatsSnapshot, Quota};
pub use retry::RetryConfig;
pub use stats::{CountRequest, Counts, Group, GroupSeries, MAX_SLICES, Statistics, group_key};
