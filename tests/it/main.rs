//! Integration tests: one binary, one module per area.

mod cache;
#[cfg(feature = "cli")]
mod cli;
mod client;
mod events;
mod live;
mod provider;
#[cfg(feature = "delta")]
mod publish;
mod secrets;
mod statistics;
mod support;
