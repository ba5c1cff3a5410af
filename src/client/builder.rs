//! [`ClientBuilder`]: a [`Client`] from settings, or from the environment.

use std::time::Duration;

use super::config::{
    ApiKey, ClientConfig, DEFAULT_MAX_BODY_BYTES, ENV_ALLOW_HTTP, ENV_API_KEY, ENV_ENDPOINT,
    ENV_REGION, MAX_PER_PAGE, PollConfig, Region, parse_endpoint,
};
use super::error::{Error, Result};
use super::rate_limit::RateLimitConfig;
use super::rest::Client;
use super::retry::RetryConfig;
use crate::env::{env_var, parse_bool};

/// Builds a [`Client`].
///
/// ```
/// use datafusion_rapid7::client::ClientBuilder;
/// use datafusion_rapid7::config::Region;
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

    /// A builder from `RAPID7_API_KEY`, `RAPID7_REGION`, `RAPID7_ENDPOINT`
    /// and `RAPID7_ALLOW_HTTP`.
    pub fn from_env() -> Result<Self> {
        let mut b = Self::new();
        if let Some(key) = env_var(ENV_API_KEY) {
            b.api_key = Some(key);
        }
        if let Some(region) = env_var(ENV_REGION) {
            b.region = Some(region.parse()?);
        }
        if let Some(endpoint) = env_var(ENV_ENDPOINT) {
            b.endpoint = Some(endpoint);
        }
        if let Some(v) = env_var(ENV_ALLOW_HTTP) {
            b.allow_http = parse_bool(ENV_ALLOW_HTTP, &v)?;
        }
        Ok(b)
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
        if let Some(e) = self.errors.pop() {
            return Err(e);
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
