//! SQL over Rapid7 InsightOps / InsightIDR Log Search, with a Parquet segment
//! cache on `object_store`, built on [DataFusion](datafusion).
//!
//! The crate is layered so that each part can be used and tested alone:
//!
//! - [`client`]: the Log Search REST client (pages as a stream, polling,
//!   retries, rate limiting). Knows nothing of Arrow.
//! - [`events`]: the one event schema and the page → `RecordBatch` decoder.
//! - [`fields`]: fields inside messages (JSON, CSV, `key=value`): SQL
//!   functions and structure inference.
//! - [`cache`]: Parquet segments on any object store: coverage planning,
//!   streaming writer, crash-safe commit.
//! - [`mock`] (feature `mock`): a faithful simulator of the API on loopback.
//!
//! Configuration is typed ([`config`]); every failure is an [`Error`].
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::clone_on_ref_ptr
)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod cache;
pub mod client;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod fields;
#[cfg(feature = "mock")]
pub mod mock;
pub mod provider;
mod sync;

pub use config::Rapid7Config;
pub use error::{Error, Result};
pub use provider::{Rapid7, register, summarize};
