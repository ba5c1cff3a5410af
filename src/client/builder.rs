//! [`ClientBuilder`]: a [`Client`] from settings, or from the environment.

use std::time::Duration;

use super::config::{
    ApiKey, ClientConfig, DEFAULT_MAX_BODY_BYTES, MAX_PER_PAGE, PollConfig, Region, parse_endpoint,
};
use super::error::{Error, Result};
use super::keys::{ClientKey, MAX_RATE};
use super::rate_limit::RateLimitConfig;
use super::rest::Client;
use super::retry::RetryConfig;
use crate::env::env_var;

/// Builds a [`Client`].
///
/// ```
/// use datafusion_rapid7::client::ClientBuilder;
/// use datafusion_rapid7::client::Region;
///
/// let client = ClientBuilder::new()
///     .with_region(Region::Eu)
///     .with_api_key("00000000-0000-0000-0000-000000000000")
///     .build()
///     .unwrap();
/// assert_eq!(client.endpoint().as_str(), "https://eu.rest.logs.insight.rapid7.com/");
/// ```
#[derive(Debug, Default)]
pub struct ClientBuilder {
    region: Option<Region>,
    endpoint: Option<String>,
    allow_http: bool,
    api_key: Option<String>,
    per_page: Option<u32>,
    retry: Option<RetryConfig>,
    rate_limit: Option<RateLimitConfig>,
    poll: Option<PollConfig>,
    request_timeout: Option<Duration>,
    max_body_bytes: Option<usize>,
    errors: Vec<Error>,
}

impl ClientBuilder {
    /// An empty builder (region `us`, no key).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from the environment: every [`ClientKey`]'s variable
    /// (`RAPID7_API_KEY`, `RAPID7_REGION`, `RAPID7_ENDPOINT`,
    /// `RAPID7_PER_PAGE`, `RAPID7_QUERY_RATE`, …). The first invalid value is
    /// the error.
    pub fn from_env() -> Result<Self> {
        let mut b = Self::new();
        for key in ClientKey::ALL {
            if let Some(value) = env_var(key.spec().env) {
                b = b.with_config(key, &value);
            }
        }
        match b.errors.is_empty() {
            true => Ok(b),
            false => Err(b.errors.swap_remove(0)),
        }
    }

    /// Set one setting from its text, as its variable would
    /// (`with_config(ClientKey::PerPage, "100")`). An invalid value is
    /// reported by [`build`](Self::build), naming the variable and what it
    /// accepts. Fields of the rate limit and the retry policy change one by
    /// one, over what [`with_rate_limit`](Self::with_rate_limit) and
    /// [`with_retry`](Self::with_retry) set before.
    pub fn with_config(mut self, key: ClientKey, value: &str) -> Self {
        if let Err(e) = self.apply(key, value) {
            self.errors.push(e);
        }
        self
    }

    /// Check `value` as [`with_config`](Self::with_config) would take it,
    /// without building anything.
    pub fn check(key: ClientKey, value: &str) -> Result<()> {
        Self::new().apply(key, value)
    }

    fn apply(&mut self, key: ClientKey, value: &str) -> Result<()> {
        let spec = key.spec();
        let secs = Duration::from_secs;
        match key {
            ClientKey::ApiKey => self.api_key = Some(value.to_string()),
            ClientKey::Region => self.region = Some(value.parse()?),
            ClientKey::Endpoint => {
                // Checked again with the final allow_http by `config()`.
                parse_endpoint(value, true)?;
                self.endpoint = Some(value.trim().to_string());
            }
            ClientKey::AllowHttp => self.allow_http = spec.switch_value(value)?,
            ClientKey::PerPage => {
                self.per_page = Some(spec.count_in(value, 1, u64::from(MAX_PER_PAGE))? as u32)
            }
            ClientKey::QueryRate => {
                self.rate_limit_mut().query.per_second = spec.rate(value, MAX_RATE)?
            }
            ClientKey::QueryBurst => {
                self.rate_limit_mut().query.burst = spec.count_in(value, 1, 100_000)? as u32
            }
            ClientKey::PollRate => {
                self.rate_limit_mut().poll.per_second = spec.rate(value, MAX_RATE)?
            }
            ClientKey::PollBurst => {
                self.rate_limit_mut().poll.burst = spec.count_in(value, 1, 100_000)? as u32
            }
            ClientKey::MaxInFlight => {
                self.rate_limit_mut().max_concurrent_requests =
                    spec.count_in(value, 1, 256)? as usize
            }
            ClientKey::MaxRetries => {
                self.retry_mut().max_retries = spec.count_in(value, 0, 100)? as u32
            }
            ClientKey::RetryTimeout => {
                self.retry_mut().retry_timeout = spec.duration_in(value, secs(1), secs(86_400))?
            }
            ClientKey::MaxRateLimitWait => {
                self.retry_mut().max_rate_limit_wait =
                    spec.duration_in(value, secs(0), secs(86_400))?
            }
            ClientKey::MaxBodyBytes => {
                self.max_body_bytes = Some(spec.size_in(value, 64 << 10, 1 << 30)?)
            }
            ClientKey::RequestTimeout => {
                self.request_timeout = Some(spec.duration_in(value, secs(1), secs(3600))?)
            }
            ClientKey::QueryTimeout => {
                self.poll
                    .get_or_insert_with(PollConfig::default)
                    .query_timeout = spec.duration_in(value, secs(10), secs(86_400))?
            }
        }
        Ok(())
    }

    fn rate_limit_mut(&mut self) -> &mut RateLimitConfig {
        self.rate_limit.get_or_insert_with(RateLimitConfig::default)
    }

    fn retry_mut(&mut self) -> &mut RetryConfig {
        self.retry.get_or_insert_with(RetryConfig::default)
    }

    /// Use a region's host.
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Use an explicit base URL instead of the region's host.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Allow plain `http://` to a non-loopback endpoint.
    pub fn with_allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Set the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Events per page (1..=500).
    pub fn with_per_page(mut self, per_page: u32) -> Self {
        if per_page == 0 || per_page > MAX_PER_PAGE {
            self.errors.push(Error::Config {
                key: "per_page".into(),
                message: format!("{per_page} is out of range; use 1 to {MAX_PER_PAGE}"),
            });
        } else {
            self.per_page = Some(per_page);
        }
        self
    }

    /// Retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Rate limiting.
    pub fn with_rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Polling.
    pub fn with_poll(mut self, poll: PollConfig) -> Self {
        self.poll = Some(poll);
        self
    }

    /// Timeout of one HTTP request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Largest response body accepted (default
    /// [`DEFAULT_MAX_BODY_BYTES`], 64 MiB). A larger response fails its
    /// request at once, without retries; lower
    /// [`with_per_page`](Self::with_per_page) rather than raise this.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = Some(bytes);
        self
    }

    /// The configuration this builder describes.
    pub fn config(mut self) -> Result<ClientConfig> {
        if !self.errors.is_empty() {
            return Err(self.errors.swap_remove(0));
        }
        let endpoint = match &self.endpoint {
            Some(e) => parse_endpoint(e, self.allow_http)?,
            None => self.region.unwrap_or_default().endpoint(),
        };
        let api_key = ApiKey::new(self.api_key.ok_or(Error::MissingApiKey)?)?;
        let config = ClientConfig {
            endpoint,
            api_key,
            per_page: self.per_page.unwrap_or(MAX_PER_PAGE),
            retry: self.retry.unwrap_or_default(),
            rate_limit: self.rate_limit.unwrap_or_default(),
            poll: self.poll.unwrap_or_default(),
            request_timeout: self.request_timeout.unwrap_or(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            allow_http: self.allow_http,
        };
        config.validate()?;
        Ok(config)
    }

    /// Build the client.
    pub fn build(self) -> Result<Client> {
        Client::new(self.config()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_errors() {
        assert!(matches!(
            ClientBuilder::new().build(),
            Err(Error::MissingApiKey)
        ));
        let e = ClientBuilder::new()
            .with_api_key("k")
            .with_per_page(501)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("1 to 500"), "{e}");
        let c = ClientBuilder::new().with_api_key("k").build().unwrap();
        assert!(matches!(
            c.query_events("x", 5, 5),
            Err(Error::InvalidRange { .. })
        ));
    }

    #[test]
    fn every_knob_can_be_set_by_its_key() {
        let b = [
            (ClientKey::PerPage, "100"),
            (ClientKey::QueryRate, "0.5"),
            (ClientKey::QueryBurst, "10"),
            (ClientKey::PollRate, "unlimited"),
            (ClientKey::PollBurst, "20"),
            (ClientKey::MaxInFlight, "2"),
            (ClientKey::MaxRetries, "0"),
            (ClientKey::RetryTimeout, "30s"),
            (ClientKey::MaxRateLimitWait, "2m"),
            (ClientKey::MaxBodyBytes, "8MiB"),
            (ClientKey::RequestTimeout, "20s"),
            (ClientKey::QueryTimeout, "30m"),
            (ClientKey::Region, "eu"),
        ]
        .into_iter()
        .fold(ClientBuilder::new().with_api_key("k"), |b, (k, v)| {
            b.with_config(k, v)
        });
        let c = b.config().unwrap();
        assert_eq!(c.per_page, 100);
        assert_eq!(c.rate_limit.query.per_second, 0.5);
        assert_eq!(c.rate_limit.query.burst, 10);
        assert!(c.rate_limit.poll.per_second.is_infinite());
        assert_eq!(c.rate_limit.poll.burst, 20);
        // Fields not set keep their defaults.
        assert_eq!(
            c.rate_limit.management,
            RateLimitConfig::default().management
        );
        assert_eq!(c.rate_limit.max_concurrent_requests, 2);
        assert_eq!(c.retry.max_retries, 0);
        assert_eq!(c.retry.retry_timeout, Duration::from_secs(30));
        assert_eq!(c.retry.max_rate_limit_wait, Duration::from_secs(120));
        assert_eq!(c.max_body_bytes, 8 << 20);
        assert_eq!(c.request_timeout, Duration::from_secs(20));
        assert_eq!(c.poll.query_timeout, Duration::from_secs(1800));
        assert_eq!(
            c.endpoint.as_str(),
            "https://eu.rest.logs.insight.rapid7.com/"
        );
        for key in ClientKey::ALL {
            let shown = key.show(&c);
            assert!(!shown.is_empty(), "{key:?}");
        }
        assert_eq!(ClientKey::PollRate.show(&c), "unlimited");
        assert_eq!(ClientKey::MaxBodyBytes.show(&c), "8MiB");
        assert_eq!(ClientKey::Region.show(&c), "eu");
        assert_eq!(ClientKey::ApiKey.show(&c), "<redacted>");
    }

    #[test]
    fn invalid_knobs_fail_with_the_accepted_range() {
        let cases = [
            (ClientKey::PerPage, "0", "RAPID7_PER_PAGE", "1 to 500"),
            (ClientKey::PerPage, "501", "RAPID7_PER_PAGE", "1 to 500"),
            (
                ClientKey::QueryRate,
                "0",
                "RAPID7_QUERY_RATE",
                "or unlimited",
            ),
            (
                ClientKey::QueryBurst,
                "0",
                "RAPID7_QUERY_BURST",
                "1 to 100000",
            ),
            (
                ClientKey::MaxInFlight,
                "1000",
                "RAPID7_MAX_IN_FLIGHT",
                "1 to 256",
            ),
            (
                ClientKey::MaxRetries,
                "many",
                "RAPID7_MAX_RETRIES",
                "0 to 100",
            ),
            (
                ClientKey::RetryTimeout,
                "0s",
                "RAPID7_RETRY_TIMEOUT",
                "1s to 24h",
            ),
            (
                ClientKey::MaxBodyBytes,
                "2GiB",
                "RAPID7_MAX_BODY_BYTES",
                "64KiB to 1GiB",
            ),
            (
                ClientKey::RequestTimeout,
                "2h",
                "RAPID7_REQUEST_TIMEOUT",
                "1s to 1h",
            ),
            (
                ClientKey::QueryTimeout,
                "5s",
                "RAPID7_QUERY_TIMEOUT",
                "10s to 24h",
            ),
            (ClientKey::Region, "mars", "RAPID7_REGION", "us, us2"),
            (
                ClientKey::AllowHttp,
                "maybe",
                "RAPID7_ALLOW_HTTP",
                "true or false",
            ),
            (
                ClientKey::Endpoint,
                "not a url",
                "RAPID7_ENDPOINT",
                "not a URL",
            ),
        ];
        for (key, value, name, accepted) in cases {
            let e = ClientBuilder::new()
                .with_api_key("k")
                .with_config(key, value)
                .build()
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(name) && e.contains(accepted),
                "{key:?} {value}: {e}"
            );
        }
    }

    #[test]
    fn debug_output_hides_key() {
        let c = ClientBuilder::new()
            .with_api_key("super-secret-key-123")
            .build()
            .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("super-secret-key-123"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn the_key_header_is_sensitive() {
        let c = ClientBuilder::new()
            .with_api_key("k-5f0c2e9a")
            .build()
            .unwrap();
        let header = &c.inner.api_key_header;
        assert!(header.is_sensitive());
        assert_eq!(header, "k-5f0c2e9a");
        assert!(!format!("{header:?}").contains("5f0c2e9a"));
        // A key that is no header value is refused when the client is built.
        let e = ClientBuilder::new()
            .with_api_key("ключ")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("HTTP header"), "{e}");
    }

    #[test]
    fn client_new_checks_what_the_builder_checks() {
        let mut config = ClientBuilder::new().with_api_key("k").config().unwrap();
        config.endpoint = url::Url::parse("http://proxy.example.com").unwrap();
        let e = Client::new(config.clone()).unwrap_err();
        assert!(e.to_string().contains("RAPID7_ALLOW_HTTP"), "{e}");
        config.allow_http = true;
        Client::new(config.clone()).unwrap();
        config.max_body_bytes = 0;
        assert!(Client::new(config).is_err());
        assert_eq!(
            ClientBuilder::new()
                .with_api_key("k")
                .config()
                .unwrap()
                .max_body_bytes,
            64 << 20
        );
        let e = ClientBuilder::new()
            .with_api_key("k")
            .with_request_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("request_timeout"), "{e}");
    }

    #[test]
    fn urls_keep_prefix_and_escape_ids() {
        let c = ClientBuilder::new()
            .with_endpoint("https://us.api.insight.rapid7.com/log_search/")
            .with_api_key("k")
            .build()
            .unwrap();
        assert_eq!(
            c.url(&["management", "logs"]).as_str(),
            "https://us.api.insight.rapid7.com/log_search/management/logs"
        );
        assert_eq!(
            c.url(&["query", "logs", "../a/b?c"]).as_str(),
            "https://us.api.insight.rapid7.com/log_search/query/logs/..%2Fa%2Fb%3Fc"
        );
    }
}
