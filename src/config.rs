//! Typed configuration: the Rapid7 region or endpoint, the API key, the cache
//! and the table's policies ([`Rapid7Config`]), read once from `RAPID7_*`
//! environment variables or set with builders.
//!
//! The API key is held in an [`ApiKey`] whose `Debug` and `Display` never show
//! it; it is only read from the environment (never from a command-line flag, so
//! it does not end up in shell history or `ps`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::cache::{CacheConfig, SegmentCache};
use crate::client::{Client, ClientBuilder};
use crate::error::{Error, Result};

/// Environment variable holding the API key.
pub const ENV_API_KEY: &str = "RAPID7_API_KEY";
/// Environment variable holding the region.
pub const ENV_REGION: &str = "RAPID7_REGION";
/// Environment variable holding an explicit endpoint that overrides the region.
pub const ENV_ENDPOINT: &str = "RAPID7_ENDPOINT";
/// Environment variable that allows plain `http://` to a non-loopback endpoint.
pub const ENV_ALLOW_HTTP: &str = "RAPID7_ALLOW_HTTP";

/// A Rapid7 API key. `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key. Surrounding white space (a pasted newline) is trimmed.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into().trim().to_string();
        if key.is_empty() {
            return Err(Error::MissingApiKey);
        }
        if key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::Config {
                key: ENV_API_KEY.into(),
                message: "the API key contains spaces or control characters; \
                          copy it again from Rapid7 Insight (Settings > API Keys)"
                    .into(),
            });
        }
        Ok(Self(key))
    }

    /// The key itself, for the `x-api-key` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A Rapid7 Insight data region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Region {
    /// United States 1 (default).
    #[default]
    Us,
    /// United States 2.
    Us2,
    /// United States 3.
    Us3,
    /// Europe.
    Eu,
    /// Canada.
    Ca,
    /// Australia.
    Au,
    /// Japan.
    Ap,
}

impl Region {
    /// Every region, in documentation order.
    pub const ALL: [Region; 7] = [
        Region::Us,
        Region::Us2,
        Region::Us3,
        Region::Eu,
        Region::Ca,
        Region::Au,
        Region::Ap,
    ];

    /// The region's short code, as in the host name.
    pub fn code(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Us2 => "us2",
            Region::Us3 => "us3",
            Region::Eu => "eu",
            Region::Ca => "ca",
            Region::Au => "au",
            Region::Ap => "ap",
        }
    }

    /// The Log Search base URL of this region.
    pub fn endpoint(self) -> Url {
        let s = format!("https://{}.rest.logs.insight.rapid7.com", self.code());
        Url::parse(&s).expect("region endpoints are valid URLs")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Region {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        Region::ALL
            .into_iter()
            .find(|r| r.code() == lower)
            .ok_or_else(|| Error::Config {
                key: ENV_REGION.into(),
                message: format!(
                    "unknown region {s:?}; use one of {}",
                    Region::ALL.map(Region::code).join(", ")
                ),
            })
    }
}

/// Parse an endpoint URL and check it is safe to send the API key to.
///
/// Plain `http://` is accepted only for loopback hosts (a local simulator or
/// proxy) unless `allow_http` is set, because the key travels in a header.
pub fn parse_endpoint(s: &str, allow_http: bool) -> Result<Url> {
    let bad = |message: String| Error::Config {
        key: ENV_ENDPOINT.into(),
        message,
    };
    let url = Url::parse(s.trim()).map_err(|e| {
        bad(format!(
            "{s:?} is not a URL ({e}); expected e.g. https://eu.rest.logs.insight.rapid7.com \
             or http://127.0.0.1:8080"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&url) => {}
        "http" => {
            return Err(bad(format!(
                "refusing plain http:// to non-loopback host {:?}: the API key would travel \
                 unencrypted. Use https://, or set {ENV_ALLOW_HTTP}=true if you really mean it",
                url.host_str().unwrap_or_default()
            )));
        }
        other => return Err(bad(format!("unsupported scheme {other:?}; use https://"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!("{s:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials in the endpoint URL are not supported; put the key in RAPID7_API_KEY"
                .into(),
        ));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parse a boolean environment value (`1/0`, `true/false`, `yes/no`, `on/off`).
pub fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(Error::Config {
            key: key.into(),
            message: format!("{value:?} is not a boolean; use true or false"),
        }),
    }
}

/// Parse a duration such as `5m`, `30s` or `1h 30m`.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration> {
    humantime::parse_duration(value.trim()).map_err(|e| Error::Config {
        key: key.into(),
        message: format!("{value:?} is not a duration ({e}); use e.g. 30s, 5m or 2h"),
    })
}

/// A boolean environment variable; unset or empty is `false`.
pub fn env_bool(key: &str) -> Result<bool> {
    env_var(key).map_or(Ok(false), |v| parse_bool(key, &v))
}

/// A duration environment variable; unset or empty is `None`.
pub fn env_duration(key: &str) -> Result<Option<Duration>> {
    env_var(key).map(|v| parse_duration(key, &v)).transpose()
}

/// Read an environment variable, treating unset and empty alike.
pub(crate) fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// Environment variable holding the cache root (directory or object-store URL).
pub const ENV_CACHE: &str = "RAPID7_CACHE";
/// Environment variable that turns the cache off (read and write nothing).
pub const ENV_BYPASS_CACHE: &str = "RAPID7_BYPASS_CACHE";
/// Environment variable that forbids API calls (answer from the cache only).
pub const ENV_OFFLINE: &str = "RAPID7_OFFLINE";
/// Environment variable holding the recent edge that is never cached.
pub const ENV_SETTLE: &str = "RAPID7_SETTLE";
/// Environment variable naming a JSON file of pinned field schemas
/// (see [`crate::fields::FieldSchema`]).
pub const ENV_FIELDS: &str = "RAPID7_FIELDS";
/// Environment variable holding the streaming flush threshold in rows.
pub const ENV_FLUSH_ROWS: &str = "RAPID7_FLUSH_ROWS";
/// Environment variable holding the streaming flush threshold in bytes.
pub const ENV_FLUSH_BYTES: &str = "RAPID7_FLUSH_BYTES";

/// Default of [`Rapid7Config::settle`]: five minutes.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(300);

/// What a caller sets over the environment in
/// [`Rapid7Config::from_env_with`]; unset fields fall back to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvOverrides {
    /// Answer from the cache only (else `RAPID7_OFFLINE`).
    pub offline: bool,
    /// Cache location (else `RAPID7_CACHE`, else [`default_cache_dir`]).
    pub cache: Option<String>,
    /// Read and write no cache (else `RAPID7_BYPASS_CACHE`).
    pub bypass_cache: bool,
    /// API region (else `RAPID7_REGION`).
    pub region: Option<Region>,
    /// Base URL of the API, overriding the region (else `RAPID7_ENDPOINT`).
    pub endpoint: Option<String>,
    /// [`Rapid7Config::settle`] (else `RAPID7_SETTLE`).
    pub settle: Option<Duration>,
}

/// Everything [`crate::register`] needs: the client, the cache and the
/// policies of the `rapid7_logs` table.
///
/// ```no_run
/// # fn demo() -> datafusion_rapid7::Result<()> {
/// use std::time::Duration;
/// use datafusion_rapid7::config::Rapid7Config;
///
/// // RAPID7_API_KEY, RAPID7_REGION / RAPID7_ENDPOINT, RAPID7_CACHE, ...
/// let config = Rapid7Config::from_env()?.with_settle(Duration::from_secs(120));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Rapid7Config {
    /// The API client; `None` means offline (cache only).
    pub client: Option<Client>,
    /// The segment cache (or a bypass).
    pub cache: SegmentCache,
    /// Events newer than `now - settle` may still arrive late: that edge of
    /// a window is fetched on every query and never committed to the cache.
    /// Default [`DEFAULT_SETTLE`] (5 minutes).
    pub settle: Duration,
    /// Answer from the cache only: a query that needs a missing range fails
    /// and names it. Default `false` (implied when there is no client).
    pub offline: bool,
    /// How long the list of logs is reused before `/management/logs` is
    /// asked again. Default 5 minutes.
    pub log_list_ttl: Duration,
    /// Missing ranges are fetched in pieces of at most this length, aligned
    /// to multiples of it, each committed as its own segment: pieces run
    /// concurrently, and an interrupted fetch keeps the pieces it finished.
    /// Default 1 hour.
    pub fetch_chunk: Duration,
    /// How many pieces are fetched at once (all under the client's shared
    /// rate limit). Default 4.
    pub fetch_concurrency: usize,
    /// Pinned field schemas of `rapid7_parsed` tables, by log name or id.
    /// Logs not listed get a schema inferred from the cache.
    pub field_schemas: std::collections::BTreeMap<String, crate::fields::FieldSchema>,
}

impl Rapid7Config {
    /// A configuration with `client`, `cache` and every default.
    pub fn new(client: Client, cache: SegmentCache) -> Self {
        Self::with_parts(Some(client), cache)
    }

    /// An offline configuration: no API calls, answers from `cache` only.
    pub fn offline_only(cache: SegmentCache) -> Self {
        Self::with_parts(None, cache).with_offline(true)
    }

    fn with_parts(client: Option<Client>, cache: SegmentCache) -> Self {
        Rapid7Config {
            client,
            cache,
            settle: DEFAULT_SETTLE,
            offline: false,
            log_list_ttl: Duration::from_secs(300),
            fetch_chunk: Duration::from_secs(3600),
            fetch_concurrency: 4,
            field_schemas: Default::default(),
        }
    }

    /// From the environment: the client from `RAPID7_API_KEY`,
    /// `RAPID7_REGION`, `RAPID7_ENDPOINT`, `RAPID7_ALLOW_HTTP`; the cache from
    /// `RAPID7_CACHE` (default [`default_cache_dir`]), `RAPID7_BYPASS_CACHE`,
    /// `RAPID7_FLUSH_ROWS`, `RAPID7_FLUSH_BYTES`; `RAPID7_SETTLE`,
    /// `RAPID7_OFFLINE` and `RAPID7_FIELDS`. Offline needs no key.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(&EnvOverrides::default())
    }

    /// [`Rapid7Config::from_env`], with what the caller sets (a command
    /// line's flags) taking precedence over the environment.
    pub fn from_env_with(overrides: &EnvOverrides) -> Result<Self> {
        let offline = overrides.offline || env_bool(ENV_OFFLINE)?;
        let cache = cache_from(overrides.cache.as_deref(), overrides.bypass_cache)?;
        let mut builder = ClientBuilder::from_env()?;
        if let Some(region) = overrides.region {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = &overrides.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        let client = match builder.build() {
            Ok(client) => Some(client),
            Err(Error::MissingApiKey) if offline => None,
            Err(e) => return Err(e),
        };
        let mut config = Self::with_parts(client, cache).with_offline(offline);
        let settle = match overrides.settle {
            Some(settle) => Some(settle),
            None => env_duration(ENV_SETTLE)?,
        };
        if let Some(settle) = settle {
            config.settle = settle;
        }
        config.field_schemas = field_schemas_from_env()?;
        Ok(config)
    }

    /// Pin the field schema of `log` (a name or an id) in `rapid7_parsed`.
    pub fn with_field_schema(
        mut self,
        log: impl Into<String>,
        schema: crate::fields::FieldSchema,
    ) -> Self {
        self.field_schemas.insert(log.into(), schema);
        self
    }

    /// Set [`Rapid7Config::settle`].
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Set [`Rapid7Config::offline`].
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Set [`Rapid7Config::log_list_ttl`].
    pub fn with_log_list_ttl(mut self, ttl: Duration) -> Self {
        self.log_list_ttl = ttl;
        self
    }

    /// Set [`Rapid7Config::fetch_chunk`] (at least one second).
    pub fn with_fetch_chunk(mut self, chunk: Duration) -> Self {
        self.fetch_chunk = chunk.max(Duration::from_secs(1));
        self
    }

    /// Set [`Rapid7Config::fetch_concurrency`] (at least 1).
    pub fn with_fetch_concurrency(mut self, n: usize) -> Self {
        self.fetch_concurrency = n.max(1);
        self
    }

    /// Whether API calls are forbidden.
    pub fn is_offline(&self) -> bool {
        self.offline || self.client.is_none()
    }
}

/// The pinned field schemas of the file named by `RAPID7_FIELDS` (none when
/// it is not set).
pub fn field_schemas_from_env()
-> Result<std::collections::BTreeMap<String, crate::fields::FieldSchema>> {
    match env_var(ENV_FIELDS) {
        Some(path) => crate::fields::load_field_schemas(std::path::Path::new(&path)),
        None => Ok(Default::default()),
    }
}

/// The cache described by `RAPID7_CACHE`, `RAPID7_BYPASS_CACHE`,
/// `RAPID7_FLUSH_ROWS` and `RAPID7_FLUSH_BYTES`.
pub fn cache_from_env() -> Result<SegmentCache> {
    cache_from(None, false)
}

/// Like [`cache_from_env`], with a location and a bypass given by the caller
/// (command-line flags) taking precedence over the environment.
pub fn cache_from(location: Option<&str>, bypass: bool) -> Result<SegmentCache> {
    if bypass || env_bool(ENV_BYPASS_CACHE)? {
        return Ok(SegmentCache::bypass());
    }
    let mut cache_config = CacheConfig::default();
    if let Some(v) = env_var(ENV_FLUSH_ROWS) {
        cache_config.flush_rows = parse_size(ENV_FLUSH_ROWS, &v)?;
    }
    if let Some(v) = env_var(ENV_FLUSH_BYTES) {
        cache_config.flush_bytes = parse_size(ENV_FLUSH_BYTES, &v)?;
    }
    let location = match location.map(str::to_string).or_else(|| env_var(ENV_CACHE)) {
        Some(location) => location,
        None => default_cache_dir()?.display().to_string(),
    };
    SegmentCache::open(&location, cache_config)
}

/// The default cache directory: `$XDG_CACHE_HOME/datafusion-rapid7`, else
/// `~/.cache/datafusion-rapid7` (`~/Library/Caches/datafusion-rapid7` on
/// macOS, `%LOCALAPPDATA%\datafusion-rapid7` on Windows).
pub fn default_cache_dir() -> Result<std::path::PathBuf> {
    const NAME: &str = "datafusion-rapid7";
    let from = |var: &str| env_var(var).map(std::path::PathBuf::from);
    let base = if cfg!(windows) {
        from("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        from("HOME").map(|h| h.join("Library").join("Caches"))
    } else {
        from("XDG_CACHE_HOME").or_else(|| from("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join(NAME)).ok_or_else(|| Error::Config {
        key: ENV_CACHE.into(),
        message: "no home directory to put the cache in; set RAPID7_CACHE to a directory \
                  or an object-store URL"
            .into(),
    })
}

/// Parse an instant such as `2026-02-10T00:00:00Z`, `2026-02-10T02:00:00+02:00`
/// or `2026-02-10` (UTC midnight) into epoch milliseconds.
pub fn parse_timestamp(key: &str, value: &str) -> Result<i64> {
    use datafusion::arrow::compute::kernels::cast_utils::string_to_datetime;
    let utc =
        datafusion::arrow::array::timezone::Tz::from_str("+00:00").map_err(|e| Error::Config {
            key: key.into(),
            message: e.to_string(),
        })?;
    string_to_datetime(&utc, value.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| Error::Config {
            key: key.into(),
            message: format!(
                "{value:?} is not a timestamp; use RFC 3339 such as 2026-02-10T00:00:00Z"
            ),
        })
}

/// Parse a positive count or size: `500000`, `64MiB`, `1G`, `128k`.
pub fn parse_size(key: &str, value: &str) -> Result<usize> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => 0,
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::Config {
            key: key.into(),
            message: format!("{value:?} is not a positive number; use e.g. 100000 or 64MiB"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_is_redacted() {
        let key = ApiKey::new("0a1b2c3d-secret-key-value").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert_eq!(key.to_string(), "<redacted>");
        assert!(!format!("{key:?} {key}").contains("secret"));
        assert_eq!(key.expose(), "0a1b2c3d-secret-key-value");
    }

    #[test]
    fn api_key_rejects_empty_and_spaces() {
        assert!(matches!(ApiKey::new("  \n"), Err(Error::MissingApiKey)));
        let e = ApiKey::new("abc def").unwrap_err();
        assert!(!e.to_string().contains("abc"), "{e}");
        assert_eq!(ApiKey::new(" k\n").unwrap().expose(), "k");
    }

    #[test]
    fn regions() {
        assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
        assert_eq!(
            Region::Ap.endpoint().as_str(),
            "https://ap.rest.logs.insight.rapid7.com/"
        );
        let e = "mars".parse::<Region>().unwrap_err().to_string();
        assert!(e.contains("us, us2, us3, eu, ca, au, ap"), "{e}");
    }

    #[test]
    fn endpoints() {
        assert!(parse_endpoint("http://127.0.0.1:8080", false).is_ok());
        assert!(parse_endpoint("http://localhost:1", false).is_ok());
        assert!(parse_endpoint("http://[::1]:1", false).is_ok());
        assert!(parse_endpoint("https://proxy.example.com/log_search", false).is_ok());
        let e = parse_endpoint("http://proxy.example.com", false).unwrap_err();
        assert!(e.to_string().contains("RAPID7_ALLOW_HTTP"), "{e}");
        assert!(parse_endpoint("http://proxy.example.com", true).is_ok());
        assert!(parse_endpoint("ftp://x", true).is_err());
        assert!(parse_endpoint("not a url", true).is_err());
        assert!(parse_endpoint("https://user:pw@host", true).is_err());
    }

    #[test]
    fn bools_and_durations() {
        assert!(parse_bool("K", "Yes").unwrap());
        assert!(!parse_bool("K", "0").unwrap());
        assert!(parse_bool("K", "maybe").is_err());
        assert_eq!(parse_duration("K", "5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("K", "five").is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("K", "2026-02-10T00:00:00Z").unwrap(),
            1_770_681_600_000
        );
        assert_eq!(
            parse_timestamp("K", "2026-02-10T02:00:00.5+02:00").unwrap(),
            1_770_681_600_500
        );
        assert_eq!(
            parse_timestamp("K", "2026-02-10").unwrap(),
            1_770_681_600_000
        );
        let e = parse_timestamp("--from", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--from") && e.contains("RFC 3339"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("K", "500000").unwrap(), 500_000);
        assert_eq!(parse_size("K", "64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("K", " 2 g").unwrap(), 2 << 30);
        assert_eq!(parse_size("K", "128k").unwrap(), 128 << 10);
        for bad in ["0", "-5", "12 parsecs", "", "MiB"] {
            let e = parse_size("RAPID7_FLUSH_ROWS", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("RAPID7_FLUSH_ROWS"), "{e}");
        }
    }
}
