//! What a [`Client`](super::Client) is built from: the endpoint (a region's
//! host or an explicit URL), the API key, page size, retries, rate limits and
//! polling, and the environment variables that set them.
//!
//! The API key is held in an [`ApiKey`] whose `Debug` and `Display` never show
//! it; it is only read from the environment (never from a command-line flag, so
//! it does not end up in shell history or `ps`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::error::{Error, Result};
use super::rate_limit::RateLimitConfig;
use super::retry::RetryConfig;

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

/// Largest page size the API allows.
pub const MAX_PER_PAGE: u32 = 500;

/// How the client polls a running query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollConfig {
    /// First wait before polling.
    pub initial: Duration,
    /// Longest wait between polls. Continuations expire when not polled for
    /// 20 s, so this is kept well below that.
    pub max: Duration,
    /// Give up on one page when it has not finished after this long.
    pub query_timeout: Duration,
    /// Resubmissions of a page whose continuation expired.
    pub max_resubmits: u32,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            query_timeout: Duration::from_secs(600),
            max_resubmits: 5,
        }
    }
}

/// Everything a [`Client`](super::Client) is built from.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL (region host or explicit endpoint, may carry a path prefix
    /// such as `/log_search`).
    pub endpoint: Url,
    /// The API key.
    pub api_key: ApiKey,
    /// Events per page (at most 500).
    pub per_page: u32,
    /// Retries.
    pub retry: RetryConfig,
    /// Proactive rate limiting.
    pub rate_limit: RateLimitConfig,
    /// Polling.
    pub poll: PollConfig,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
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
}
