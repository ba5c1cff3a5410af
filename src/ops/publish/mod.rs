//! Publishing the cache as Delta Lake tables (feature `delta`; design §3.7).
//!
//! The cache's layout is for this crate: parts without a manifest are
//! leftovers, overlapping segments each own only part of their range, and
//! filtered segments hold some events only. A Delta table is for every
//! engine: [`publish_log`] keeps one table per log, partitioned by UTC
//! `date`, built from committed, unfiltered segments, each instant exactly
//! once, incrementally (the table's commits record what they cover) and
//! crash-safely (a table is only ever at a commit). Spark, Trino, DuckDB,
//! Polars and Athena read it (docs/scale-out.md); so does this crate,
//! through deltalake's DataFusion provider ([`register_published`]).
//!
//! ```no_run
//! # async fn demo(cache: datafusion_rapid7::cache::SegmentCache) -> datafusion_rapid7::Result<()> {
//! use datafusion_rapid7::ops::publish::{PublishOptions, TableLocation, publish_log};
//!
//! let table = TableLocation::open("s3://lake/rapid7/firewall")?;
//! let settled = datafusion_rapid7::time::now_ms() - 5 * 60_000;
//! let report = publish_log(&cache, "log-id", &table, &PublishOptions::new(None, settled)).await?;
//! println!("{} events in {} commits", report.events_published, report.commits);
//! # Ok(()) }
//! ```

mod handle;
mod location;
mod maintain;
mod plan;
mod read;
mod record;
mod schema;
mod table;
mod write;

pub use location::TableLocation;
pub use maintain::{OptimizeReport, VacuumReport, optimize, vacuum};
pub use read::{PUBLISHED_SCHEMA, PublishedTable, published_provider, register_published};
pub use schema::{DATE_COLUMN, table_schema};
pub use write::{PublishOptions, PublishReport, publish_log};
