//! Every setting as a typed key: [`ConfigKey`] gathers the client's
//! ([`ClientKey`]), the cache's ([`CacheKey`]) and the table's own
//! ([`Rapid7Key`], applied to a [`Rapid7Config`]). One pattern names them
//! all: the variable `RAPID7_<NAME>`, the option `<name>` (`--<name>` on
//! the command line); see [`KeySpec::option_name`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::table::Rapid7Config;
use crate::cache::{CacheConfig, CacheKey, SegmentCache};
use crate::client::{ClientBuilder, ClientKey};
use crate::env::{ConfigError, KeySpec, fmt_duration};
use crate::error::{Error, Result};
use crate::fields::load_field_schemas;

/// A setting of the table and of the composition root: where the cache is
/// and whether there is one, offline mode, settle, fetch pieces, the fetch
/// limit, count pushdown, pinned field schemas, the log list's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Rapid7Key {
    /// `RAPID7_CACHE`: the cache root.
    Cache,
    /// `RAPID7_BYPASS_CACHE`.
    BypassCache,
    /// `RAPID7_OFFLINE`: [`Rapid7Config::offline`].
    Offline,
    /// `RAPID7_SETTLE`: [`Rapid7Config::settle`].
    Settle,
    /// `RAPID7_MAX_FETCH_EVENTS`: [`Rapid7Config::max_fetch_events`].
    MaxFetchEvents,
    /// `RAPID7_PUSHDOWN_AGGREGATES`: [`Rapid7Config::pushdown_aggregates`].
    PushdownAggregates,
    /// `RAPID7_FETCH_CHUNK`: [`Rapid7Config::fetch_chunk`], the piece length.
    FetchChunk,
    /// `RAPID7_FETCH_CONCURRENCY`: [`Rapid7Config::fetch_concurrency`].
    FetchConcurrency,
    /// `RAPID7_LOG_LIST_TTL`: [`Rapid7Config::log_list_ttl`].
    LogListTtl,
    /// `RAPID7_FIELDS`: [`Rapid7Config::field_schemas`], from a file.
    Fields,
    /// `RAPID7_ON_INCOMPLETE`: [`Rapid7Config::on_incomplete`].
    OnIncomplete,
}

const fn switch(env: &'static str, help: &'static str) -> KeySpec {
    KeySpec {
        switch: true,
        ..KeySpec::new(env, "BOOL", help, "true or false")
    }
}

/// Longest settle, piece length or log list lifetime accepted.
const DAY: Duration = Duration::from_secs(86_400);

impl Rapid7Key {
    /// Every setting of the table, in documentation order.
    pub const ALL: [Rapid7Key; 11] = [
        Rapid7Key::Cache,
        Rapid7Key::BypassCache,
        Rapid7Key::Offline,
        Rapid7Key::Settle,
        Rapid7Key::MaxFetchEvents,
        Rapid7Key::OnIncomplete,
        Rapid7Key::PushdownAggregates,
        Rapid7Key::FetchChunk,
        Rapid7Key::FetchConcurrency,
        Rapid7Key::LogListTtl,
        Rapid7Key::Fields,
    ];

    /// What describes it.
    pub fn spec(self) -> &'static KeySpec {
        const CACHE: KeySpec = KeySpec::new(
            "RAPID7_CACHE",
            "DIR_OR_URL",
            "cache root: a directory or an object-store URL (s3://bucket/prefix)",
            "a directory or an object-store URL",
        );
        const BYPASS: KeySpec = switch("RAPID7_BYPASS_CACHE", "read and write no cache");
        const OFFLINE: KeySpec = switch(
            "RAPID7_OFFLINE",
            "answer from the cache only; never call the API",
        );
        const SETTLE: KeySpec = KeySpec::new(
            "RAPID7_SETTLE",
            "DURATION",
            "the recent edge, read live on every query and never cached",
            "0s to 24h",
        );
        const MAX_FETCH_EVENTS: KeySpec = KeySpec::new(
            "RAPID7_MAX_FETCH_EVENTS",
            "N",
            "most events a statement may page from Rapid7, by the estimate asked first",
            "a count, 0 for no limit (e.g. 500000, 2M, 10k)",
        );
        const ON_INCOMPLETE: KeySpec = KeySpec::new(
            "RAPID7_ON_INCOMPLETE",
            "MODE",
            "a cached segment lacking events (rejected by the decoder, past retention): \
             warn reads it, fail fails the statement (audits)",
            "warn or fail",
        );
        const PUSHDOWN_AGGREGATES: KeySpec = switch(
            "RAPID7_PUSHDOWN_AGGREGATES",
            "answer count(*) over uncached time from Rapid7's statistics",
        );
        const FETCH_CHUNK: KeySpec = KeySpec::new(
            "RAPID7_FETCH_CHUNK",
            "DURATION",
            "missing ranges are fetched in pieces of this length, each its own segment",
            "1m to 24h",
        );
        const FETCH_CONCURRENCY: KeySpec = KeySpec::new(
            "RAPID7_FETCH_CONCURRENCY",
            "N",
            "pieces fetched at once, shared by every statement and sync",
            "1 to 64",
        );
        const LOG_LIST_TTL: KeySpec = KeySpec::new(
            "RAPID7_LOG_LIST_TTL",
            "DURATION",
            "how long the list of logs is reused before Rapid7 is asked again",
            "0s to 24h",
        );
        const FIELDS: KeySpec = KeySpec::new(
            "RAPID7_FIELDS",
            "FILE",
            "a JSON file pinning the typed columns of rapid7_parsed tables (docs/fields.md)",
            "a readable JSON file of field schemas",
        );
        match self {
            Rapid7Key::Cache => &CACHE,
            Rapid7Key::BypassCache => &BYPASS,
            Rapid7Key::Offline => &OFFLINE,
            Rapid7Key::Settle => &SETTLE,
            Rapid7Key::MaxFetchEvents => &MAX_FETCH_EVENTS,
            Rapid7Key::PushdownAggregates => &PUSHDOWN_AGGREGATES,
            Rapid7Key::FetchChunk => &FETCH_CHUNK,
            Rapid7Key::FetchConcurrency => &FETCH_CONCURRENCY,
            Rapid7Key::LogListTtl => &LOG_LIST_TTL,
            Rapid7Key::Fields => &FIELDS,
            Rapid7Key::OnIncomplete => &ON_INCOMPLETE,
        }
    }

    /// Set this setting of `config` from its text. [`Rapid7Key::Cache`] and
    /// [`Rapid7Key::BypassCache`] choose the cache itself
    /// ([`Settings::cache`](super::Settings::cache)); here they are only
    /// checked.
    pub fn apply(self, config: &mut Rapid7Config, value: &str) -> Result<()> {
        let spec = self.spec();
        let secs = Duration::from_secs;
        match self {
            Rapid7Key::Cache => {
                if value.trim().is_empty() {
                    return Err(spec.invalid("an empty location").into());
                }
            }
            Rapid7Key::BypassCache => {
                spec.switch_value(value)?;
            }
            Rapid7Key::Offline => config.offline = spec.switch_value(value)?,
            Rapid7Key::Settle => config.settle = spec.duration_in(value, secs(0), DAY)?,
            Rapid7Key::MaxFetchEvents => {
                config.max_fetch_events = spec.count_in(value, 0, u64::MAX)?
            }
            Rapid7Key::PushdownAggregates => {
                config.pushdown_aggregates = spec.switch_value(value)?
            }
            Rapid7Key::FetchChunk => config.fetch_chunk = spec.duration_in(value, secs(60), DAY)?,
            Rapid7Key::FetchConcurrency => {
                config.fetch_concurrency = spec.count_in(value, 1, 64)? as usize
            }
            Rapid7Key::LogListTtl => config.log_list_ttl = spec.duration_in(value, secs(0), DAY)?,
            Rapid7Key::Fields => {
                config.field_schemas = load_field_schemas(std::path::Path::new(value.trim()))?
            }
            Rapid7Key::OnIncomplete => {
                config.on_incomplete = value.parse().map_err(|e| spec.invalid(e))?
            }
        }
        Ok(())
    }

    /// The value `config` holds for this setting, as the setting is written.
    pub fn show(self, config: &Rapid7Config) -> String {
        match self {
            Rapid7Key::Cache => config
                .cache
                .root()
                .map_or_else(|| "(bypassed)".into(), |r| r.location().to_string()),
            Rapid7Key::BypassCache => config.cache.is_bypass().to_string(),
            Rapid7Key::Offline => config.offline.to_string(),
            Rapid7Key::Settle => fmt_duration(config.settle),
            Rapid7Key::MaxFetchEvents => match config.max_fetch_events {
                0 => "0 (no limit)".into(),
                n => n.to_string(),
            },
            Rapid7Key::PushdownAggregates => config.pushdown_aggregates.to_string(),
            Rapid7Key::FetchChunk => fmt_duration(config.fetch_chunk),
            Rapid7Key::FetchConcurrency => config.fetch_concurrency.to_string(),
            Rapid7Key::LogListTtl => fmt_duration(config.log_list_ttl),
            Rapid7Key::Fields => match config.field_schemas.len() {
                0 => "(none pinned)".into(),
                n => format!("{n} pinned"),
            },
            Rapid7Key::OnIncomplete => config.on_incomplete.to_string(),
        }
    }
}

/// Any setting: the client's, the cache's or the table's.
///
/// ```
/// use datafusion_rapid7::config::ConfigKey;
///
/// let key: ConfigKey = "--per-page".parse().unwrap();
/// assert_eq!(key.spec().env, "RAPID7_PER_PAGE");
/// assert_eq!(key, "RAPID7_PER_PAGE".parse().unwrap());
/// assert_eq!(key.spec().option_name(), "per-page");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ConfigKey {
    /// A setting of the client.
    Client(ClientKey),
    /// A setting of the cache.
    Cache(CacheKey),
    /// A setting of the table.
    Rapid7(Rapid7Key),
}

impl ConfigKey {
    /// Every setting, in documentation order: where to connect, the cache,
    /// the table, then the client's and the cache's tuning.
    pub const ALL: [ConfigKey; 31] = {
        use CacheKey as K;
        use ClientKey as C;
        use ConfigKey::{Cache, Client, Rapid7};
        use Rapid7Key as R;
        [
            Client(C::ApiKey),
            Client(C::Region),
            Client(C::Endpoint),
            Client(C::AllowHttp),
            Rapid7(R::Cache),
            Rapid7(R::BypassCache),
            Rapid7(R::Offline),
            Rapid7(R::Settle),
            Rapid7(R::MaxFetchEvents),
            Rapid7(R::OnIncomplete),
            Rapid7(R::PushdownAggregates),
            Rapid7(R::FetchChunk),
            Rapid7(R::FetchConcurrency),
            Rapid7(R::LogListTtl),
            Rapid7(R::Fields),
            Client(C::PerPage),
            Client(C::QueryRate),
            Client(C::QueryBurst),
            Client(C::PollRate),
            Client(C::PollBurst),
            Client(C::MaxInFlight),
            Client(C::MaxRetries),
            Client(C::RetryTimeout),
            Client(C::MaxRateLimitWait),
            Client(C::MaxBodyBytes),
            Client(C::RequestTimeout),
            Client(C::QueryTimeout),
            Cache(K::FlushRows),
            Cache(K::FlushBytes),
            Cache(K::Compression),
            Cache(K::Retention),
        ]
    };

    /// What describes it.
    pub fn spec(self) -> &'static KeySpec {
        match self {
            ConfigKey::Client(k) => k.spec(),
            ConfigKey::Cache(k) => k.spec(),
            ConfigKey::Rapid7(k) => k.spec(),
        }
    }

    /// Check `value` as this setting would take it, without applying it:
    /// the error names the variable and what it accepts.
    pub fn check(self, value: &str) -> Result<()> {
        match self {
            ConfigKey::Client(k) => Ok(ClientBuilder::check(k, value)?),
            ConfigKey::Cache(k) => Ok(CacheConfig::default().set(k, value)?),
            ConfigKey::Rapid7(k) => k.apply(
                &mut Rapid7Config::offline_only(SegmentCache::bypass()),
                value,
            ),
        }
    }
}

impl From<ClientKey> for ConfigKey {
    fn from(k: ClientKey) -> Self {
        ConfigKey::Client(k)
    }
}

impl From<CacheKey> for ConfigKey {
    fn from(k: CacheKey) -> Self {
        ConfigKey::Cache(k)
    }
}

impl From<Rapid7Key> for ConfigKey {
    fn from(k: Rapid7Key) -> Self {
        ConfigKey::Rapid7(k)
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().env)
    }
}

impl FromStr for ConfigKey {
    type Err = Error;

    /// A variable (`RAPID7_PER_PAGE`), an option name (`per-page`,
    /// `--per-page`) or its snake case (`per_page`), in any case.
    fn from_str(s: &str) -> Result<Self> {
        ConfigKey::ALL
            .into_iter()
            .find(|k| k.spec().is_named(s))
            .ok_or_else(|| {
                ConfigError::new(
                    s.trim(),
                    "no such setting; the settings are the RAPID7_* variables of ConfigKey::ALL",
                )
                .into()
            })
    }
}
