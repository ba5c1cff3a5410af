//! Integration tests: one binary, one module per area.

mod cache;
mod client;
mod events;
mod live;
mod provider;
#[cfg(feature = "delta")]
mod publish;
mod secrets;
mod statistics;
mod support;
