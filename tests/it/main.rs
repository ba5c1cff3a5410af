//! Integration tests: one binary, one module per area.

mod cache;
mod client;
mod provider;
mod secrets;
mod support;
