//! What a caller sets over the environment ([`EnvOverrides`]), and the
//! configuration from the environment ([`Rapid7Config::from_env`]), both
//! through [`Settings`].

use std::time::Duration;

use super::keys::{ConfigKey, Rapid7Key};
use super::settings::Settings;
use super::table::Rapid7Config;
use crate::cache::SegmentCache;
use crate::client::{ClientKey, Region};
use crate::env::Origin;
use crate::error::Result;

/// What a caller sets over the environment in
/// [`Rapid7Config::from_env_with`]; unset fields fall back to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvOverrides {
    /// Answer from the cache only (else `RAPID7_OFFLINE`).
    pub offline: bool,
    /// Cache location (else `RAPID7_CACHE`, else [`default_cache_dir`](super::default_cache_dir)).
    pub cache: Option<String>,
    /// Read and write no cache (else `RAPID7_BYPASS_CACHE`).
    pub bypass_cache: bool,
    /// API region (else `RAPID7_REGION`).
    pub region: Option<Region>,
    /// Base URL of the API, overriding the region (else `RAPID7_ENDPOINT`).
    pub endpoint: Option<String>,
    /// [`Rapid7Config::settle`] (else `RAPID7_SETTLE`).
    pub settle: Option<Duration>,
    /// [`Rapid7Config::max_fetch_events`] (else `RAPID7_MAX_FETCH_EVENTS`).
    pub max_fetch_events: Option<u64>,
}

impl EnvOverrides {
    /// The environment's settings with these over them (as flags).
    pub fn settings(&self) -> Settings {
        let mut s = Settings::from_env();
        let mut flag = |key: ConfigKey, value: String| {
            s.set(key, value, Origin::Flag);
        };
        if self.offline {
            flag(Rapid7Key::Offline.into(), "true".into());
        }
        if let Some(cache) = &self.cache {
            flag(Rapid7Key::Cache.into(), cache.clone());
        }
        if self.bypass_cache {
            flag(Rapid7Key::BypassCache.into(), "true".into());
        }
        if let Some(region) = self.region {
            flag(ClientKey::Region.into(), region.to_string());
        }
        if let Some(endpoint) = &self.endpoint {
            flag(ClientKey::Endpoint.into(), endpoint.clone());
        }
        if let Some(settle) = self.settle {
            flag(Rapid7Key::Settle.into(), crate::env::fmt_duration(settle));
        }
        if let Some(n) = self.max_fetch_events {
            flag(Rapid7Key::MaxFetchEvents.into(), n.to_string());
        }
        s
    }
}

impl Rapid7Config {
    /// From the environment: every [`ConfigKey`]'s variable (the client
    /// from `RAPID7_API_KEY`, `RAPID7_REGION`, `RAPID7_ENDPOINT`,
    /// `RAPID7_PER_PAGE`, `RAPID7_QUERY_RATE`, …; the cache from
    /// `RAPID7_CACHE` (default [`default_cache_dir`](super::default_cache_dir)), `RAPID7_BYPASS_CACHE`,
    /// `RAPID7_FLUSH_ROWS`, `RAPID7_COMPRESSION`, …; then `RAPID7_SETTLE`,
    /// `RAPID7_OFFLINE`, `RAPID7_MAX_FETCH_EVENTS`, `RAPID7_FETCH_CHUNK`, …),
    /// through [`Settings::from_env`]. Offline needs no key.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(&EnvOverrides::default())
    }

    /// [`Rapid7Config::from_env`], with what the caller sets (a command
    /// line's flags) taking precedence over the environment.
    pub fn from_env_with(overrides: &EnvOverrides) -> Result<Self> {
        overrides.settings().build()
    }
}

/// The cache described by `RAPID7_CACHE`, `RAPID7_BYPASS_CACHE` and the
/// cache settings (`RAPID7_FLUSH_ROWS`, `RAPID7_COMPRESSION`, …), with a
/// location and a bypass given by the caller (command-line flags) taking
/// precedence.
pub fn cache_from(location: Option<&str>, bypass: bool) -> Result<SegmentCache> {
    let mut settings = Settings::from_env();
    if let Some(location) = location {
        settings.set(Rapid7Key::Cache, location, Origin::Flag);
    }
    if bypass {
        settings.set(Rapid7Key::BypassCache, "true", Origin::Flag);
    }
    settings.cache()
}
