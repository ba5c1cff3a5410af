//! [`Settings`]: the text of every setting a caller gave, and where it came
//! from (the environment, a flag), parsed once into a [`Rapid7Config`];
//! and the effective configuration with the origin of each value
//! ([`Settings::effective`]).

use std::collections::BTreeMap;
use std::fmt;

use super::keys::{ConfigKey, Rapid7Key};
use super::table::{Rapid7Config, default_cache_dir};
use crate::cache::{CacheConfig, SegmentCache};
use crate::client::{Client, ClientBuilder, ClientKey};
use crate::env::{Origin, env_var};
use crate::error::{Error, Result};

/// The settings a caller gave, as text, each with its [`Origin`]; what is
/// not given takes its default when [built](Settings::build). A later
/// [`set`](Settings::set) of a key replaces an earlier one, so a command
/// line sets its flags over [`Settings::from_env`].
///
/// ```
/// use datafusion_rapid7::client::ClientKey;
/// use datafusion_rapid7::config::Settings;
/// use datafusion_rapid7::env::Origin;
///
/// let mut settings = Settings::new();
/// settings.set(ClientKey::PerPage, "100", Origin::Flag);
/// let config = settings
///     .client_builder(datafusion_rapid7::client::ClientBuilder::new().with_api_key("k"))
///     .config()
///     .unwrap();
/// assert_eq!(config.per_page, 100);
/// ```
#[derive(Clone, Default)]
pub struct Settings {
    given: BTreeMap<ConfigKey, (String, Origin)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, (value, origin)) in &self.given {
            let value = if key.spec().secret {
                "<redacted>"
            } else {
                value.as_str()
            };
            map.entry(&key.spec().env, &format_args!("{value:?} ({origin})"));
        }
        map.finish()
    }
}

/// One line of the effective configuration ([`Settings::effective`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EffectiveSetting {
    /// The variable (`RAPID7_PER_PAGE`).
    pub setting: &'static str,
    /// The option name (`per-page`).
    pub option: String,
    /// The value in effect, as the setting is written; `<redacted>` for
    /// the API key, `(not set)` when there is none.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

impl Settings {
    /// No setting given.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every setting whose `RAPID7_*` variable is set (and not empty).
    pub fn from_env() -> Self {
        let mut s = Self::new();
        for key in ConfigKey::ALL {
            if let Some(value) = env_var(key.spec().env) {
                s.set(key, value, Origin::Environment);
            }
        }
        s
    }

    /// Give `key` the text `value`, from `origin`; replaces what was given.
    pub fn set(
        &mut self,
        key: impl Into<ConfigKey>,
        value: impl Into<String>,
        origin: Origin,
    ) -> &mut Self {
        self.given.insert(key.into(), (value.into(), origin));
        self
    }

    /// Give `key` a default of the caller's own (`rapid7-sql --demo` has its
    /// own cache directory): kept only when nothing gave it a value.
    pub fn set_default(
        &mut self,
        key: impl Into<ConfigKey>,
        value: impl Into<String>,
    ) -> &mut Self {
        self.given
            .entry(key.into())
            .or_insert_with(|| (value.into(), Origin::Default));
        self
    }

    /// Forget what was given for `key` (its default applies).
    pub fn remove(&mut self, key: impl Into<ConfigKey>) -> &mut Self {
        self.given.remove(&key.into());
        self
    }

    /// The text given for `key`.
    pub fn get(&self, key: impl Into<ConfigKey>) -> Option<&str> {
        self.given.get(&key.into()).map(|(v, _)| v.as_str())
    }

    /// Where the value of `key` comes from.
    pub fn origin(&self, key: impl Into<ConfigKey>) -> Origin {
        self.given
            .get(&key.into())
            .map_or(Origin::Default, |(_, o)| *o)
    }

    fn switch(&self, key: Rapid7Key) -> Result<bool> {
        match self.get(key) {
            Some(v) => Ok(key.spec().switch_value(v)?),
            None => Ok(false),
        }
    }

    /// `base` with every client setting given applied over it.
    pub fn client_builder(&self, base: ClientBuilder) -> ClientBuilder {
        self.given
            .iter()
            .filter_map(|(key, (value, _))| match key {
                ConfigKey::Client(k) => Some((*k, value)),
                _ => None,
            })
            .fold(base, |b, (key, value)| b.with_config(key, value))
    }

    /// The cache settings given, over the defaults.
    pub fn cache_config(&self) -> Result<CacheConfig> {
        let mut config = CacheConfig::default();
        for (key, (value, _)) in &self.given {
            if let ConfigKey::Cache(k) = key {
                config.set(*k, value)?;
            }
        }
        Ok(config)
    }

    /// The cache: none when bypassed, else the root given
    /// (`RAPID7_CACHE`, default [`default_cache_dir`]) with
    /// [`Settings::cache_config`].
    pub fn cache(&self) -> Result<SegmentCache> {
        let config = self.cache_config()?;
        if self.switch(Rapid7Key::BypassCache)? {
            return Ok(SegmentCache::bypass());
        }
        if let Some(location) = self.get(Rapid7Key::Cache) {
            Rapid7Key::Cache.check_text(location)?;
        }
        let location = match self.get(Rapid7Key::Cache) {
            Some(location) => location.trim().to_string(),
            None => default_cache_dir()?.display().to_string(),
        };
        SegmentCache::open(&location, config)
    }

    /// The configuration: the client from the client settings (none when
    /// offline without a key), the cache, then the table's settings.
    pub fn build(&self) -> Result<Rapid7Config> {
        self.build_with(ClientBuilder::new())
    }

    /// [`Settings::build`] over a client builder of the caller's (an
    /// endpoint and key of its own, other default rate limits): the client
    /// settings given apply over it.
    pub fn build_with(&self, client: ClientBuilder) -> Result<Rapid7Config> {
        let offline = self.switch(Rapid7Key::Offline)?;
        self.build_inner(client, offline)
    }

    /// [`Settings::build_with`] for showing the configuration
    /// ([`Settings::effective`]): a missing API key is no error (the
    /// configuration then has no client), every other invalid value is.
    pub fn build_for_display(&self, client: ClientBuilder) -> Result<Rapid7Config> {
        self.switch(Rapid7Key::Offline)?;
        self.build_inner(client, true)
    }

    fn build_inner(&self, client: ClientBuilder, keyless: bool) -> Result<Rapid7Config> {
        let cache = self.cache()?;
        let client = match self.client_builder(client).build() {
            Ok(client) => Some(client),
            Err(crate::client::Error::MissingApiKey) if keyless => None,
            Err(e) => return Err(e.into()),
        };
        let mut config = Rapid7Config::with_parts(client, cache);
        for (key, (value, _)) in &self.given {
            if let ConfigKey::Rapid7(k) = key {
                k.apply(&mut config, value)?;
            }
        }
        Ok(config)
    }

    /// Every setting's value in `config` (built from these settings) and
    /// where it came from. The API key is never shown.
    pub fn effective(&self, config: &Rapid7Config) -> Vec<EffectiveSetting> {
        // Offline without a key there is no client: show what one would be.
        let unbuilt = match &config.client {
            Some(_) => None,
            None => self
                .client_builder(ClientBuilder::new())
                .with_api_key("unset")
                .config()
                .ok(),
        };
        let client = config
            .client
            .as_ref()
            .map(Client::config)
            .or(unbuilt.as_ref());
        ConfigKey::ALL
            .into_iter()
            .map(|key| {
                let value = match key {
                    ConfigKey::Client(ClientKey::ApiKey) if config.client.is_none() => {
                        match self.get(key) {
                            Some(_) => "<redacted>".to_string(),
                            None => "(not set)".to_string(),
                        }
                    }
                    ConfigKey::Client(k) => {
                        client.map_or_else(|| "(no client)".into(), |c| k.show(c))
                    }
                    ConfigKey::Cache(k) => k.show(config.cache.config()),
                    ConfigKey::Rapid7(Rapid7Key::Fields) => match self.get(key) {
                        Some(path) => path.to_string(),
                        None => Rapid7Key::Fields.show(config),
                    },
                    ConfigKey::Rapid7(k) => k.show(config),
                };
                EffectiveSetting {
                    setting: key.spec().env,
                    option: key.spec().option_name(),
                    value,
                    origin: self.origin(key),
                }
            })
            .collect()
    }
}

impl Rapid7Key {
    fn check_text(self, value: &str) -> Result<()> {
        if value.trim().is_empty() {
            return Err(Error::from(self.spec().invalid("an empty value")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheKey;
    use crate::env::ConfigError;

    fn offline(dir: &std::path::Path) -> Settings {
        let mut s = Settings::new();
        s.set(Rapid7Key::Offline, "true", Origin::Environment).set(
            Rapid7Key::Cache,
            dir.display().to_string(),
            Origin::Environment,
        );
        s
    }

    #[test]
    fn later_settings_win_and_origins_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = offline(dir.path());
        s.set(ClientKey::PerPage, "200", Origin::Environment)
            .set(ClientKey::PerPage, "100", Origin::Flag)
            .set(Rapid7Key::FetchChunk, "10m", Origin::Environment)
            .set(CacheKey::Compression, "snappy", Origin::Flag)
            .set_default(Rapid7Key::Settle, "1m")
            .set_default(Rapid7Key::FetchChunk, "2h");
        let config = s.build().unwrap();
        assert!(config.client.is_none(), "offline without a key");
        assert_eq!(config.fetch_chunk.as_secs(), 600);
        assert_eq!(config.settle.as_secs(), 60);
        let shown: BTreeMap<&str, (String, Origin)> = s
            .effective(&config)
            .into_iter()
            .map(|e| (e.setting, (e.value, e.origin)))
            .collect();
        assert_eq!(shown["RAPID7_PER_PAGE"], ("100".into(), Origin::Flag));
        assert_eq!(
            shown["RAPID7_FETCH_CHUNK"],
            ("10m".into(), Origin::Environment)
        );
        assert_eq!(shown["RAPID7_SETTLE"], ("1m".into(), Origin::Default));
        assert_eq!(shown["RAPID7_COMPRESSION"], ("snappy".into(), Origin::Flag));
        assert_eq!(shown["RAPID7_MAX_RETRIES"], ("10".into(), Origin::Default));
        assert_eq!(
            shown["RAPID7_API_KEY"],
            ("(not set)".into(), Origin::Default)
        );
        assert_eq!(shown.len(), ConfigKey::ALL.len());
    }

    #[test]
    fn the_key_is_never_shown_or_debugged() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = offline(dir.path());
        s.set(ClientKey::ApiKey, "k-0f5e-very-secret", Origin::Environment);
        assert!(!format!("{s:?}").contains("very-secret"), "{s:?}");
        let config = s.build().unwrap();
        let shown = format!("{:?}", s.effective(&config));
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn invalid_values_fail_at_build_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        for (key, value) in [
            (ConfigKey::from(ClientKey::PerPage), "0"),
            (ConfigKey::from(Rapid7Key::FetchConcurrency), "0"),
            (ConfigKey::from(Rapid7Key::FetchChunk), "1s"),
            (ConfigKey::from(CacheKey::Retention), "5m"),
            (ConfigKey::from(Rapid7Key::Settle), "2d"),
        ] {
            let mut s = offline(dir.path());
            s.set(key, value, Origin::Environment);
            let e = s.build().unwrap_err().to_string();
            assert!(
                e.contains(key.spec().env) && e.contains(key.spec().accepted),
                "{key}: {e}"
            );
            let checked = key.check(value).unwrap_err().to_string();
            assert_eq!(checked, e, "check says what build says");
        }
    }

    #[test]
    fn every_key_follows_the_one_pattern() {
        let mut envs = std::collections::BTreeSet::new();
        for key in ConfigKey::ALL {
            let spec = key.spec();
            assert!(spec.env.starts_with("RAPID7_"), "{key}");
            assert!(envs.insert(spec.env), "{key} twice");
            let option = spec.option_name();
            assert_eq!(
                format!("RAPID7_{}", option.to_uppercase().replace('-', "_")),
                spec.env
            );
            for name in [spec.env.to_string(), option.clone(), format!("--{option}")] {
                assert_eq!(name.parse::<ConfigKey>().unwrap(), key, "{name}");
            }
        }
        let e: ConfigError = match "RAPID7_NOPE".parse::<ConfigKey>() {
            Err(Error::Config { key, message }) => ConfigError { key, message },
            other => panic!("{other:?}"),
        };
        assert!(e.message.contains("no such setting"), "{e}");
    }
}
