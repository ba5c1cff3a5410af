//! Integration tests: one binary, one module per area.

mod cache;
mod client;
mod events;
#[cfg(feature = "flight")]
mod flight;
mod live;
mod provider;
#[cfg(feature = "delta")]
mod publish;
mod secrets;
mod statistics;
mod support;
