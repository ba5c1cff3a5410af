//! Typed configuration: the Rapid7 region or endpoint, the API key, the cache
//! and the table's policies ([`Rapid7Config`]), read once from `RAPID7_*`
//! environment variables or set with builders.
//!
//! Every setting is a typed key ([`ConfigKey`]: the client's, the cache's
//! and the table's), named by one pattern: the variable `RAPID7_<NAME>`,
//! the option `<name>` (`RAPID7_MAX_FETCH_EVENTS` is `max-fetch-events`,
//! `--max-fetch-events` in `rapid7-sql`). [`Settings`] holds the values a
//! caller gave with where each came from, checks them (an invalid value
//! fails naming the variable and what it accepts) and builds the
//! configuration; [`Settings::effective`] says what is in effect.
//!
//! The API key is held in an [`ApiKey`](crate::client::ApiKey) whose `Debug` and `Display` never show
//! it; it is only read from the environment (never from a command-line flag, so
//! it does not end up in shell history or `ps`).

mod keys;
mod overrides;
mod settings;
mod table;

pub use keys::{ConfigKey, Rapid7Key};
pub use overrides::{EnvOverrides, cache_from};
pub use settings::{EffectiveSetting, Settings};
pub use table::{
    DEFAULT_MAX_FETCH_EVENTS, DEFAULT_SETTLE, ENV_BYPASS_CACHE, ENV_CACHE, ENV_FLUSH_BYTES,
    ENV_FLUSH_ROWS, ENV_MAX_FETCH_EVENTS, ENV_OFFLINE, ENV_PUSHDOWN_AGGREGATES, ENV_SETTLE,
    InvalidOnIncomplete, OnIncomplete, Rapid7Config, default_cache_dir, field_schemas_from_env,
};
