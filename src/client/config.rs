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

/// Default cap on one response body: 64 MiB. A full page of 500 events is
/// well under a megabyte for typical lines; the cap leaves room for pages of
/// very long messages and bounds what a broken or hostile server can make
/// the client hold (see docs/runbook.md, "Memory").
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

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
    /// Largest response body accepted ([`DEFAULT_MAX_BODY_BYTES`]). A larger
    /// one fails the request without a retry.
    pub max_body_bytes: usize,
    /// Allow plain `http://` to a non-loopback endpoint (the key would travel
    /// unencrypted); see [`parse_endpoint`].
    pub allow_http: bool,
}

impl ClientConfig {
    /// Check the settings before a client is built from them: an endpoint
    /// that is safe to send the key to (the rule of [`parse_endpoint`]), a
    /// page size the API accepts, and no zero or meaningless limit, rate or
    /// timeout (each would hang, spin or panic later).
    pub fn validate(&self) -> Result<()> {
        parse_endpoint(self.endpoint.as_str(), self.allow_http)?;
        let bad = |key: &str, message: String| {
            Err(Error::Config {
                key: key.into(),
                message,
            })
        };
        if !(1..=MAX_PER_PAGE).contains(&self.per_page) {
            return bad(
                "per_page",
                format!("{} is out of range; use 1 to {MAX_PER_PAGE}", self.per_page),
            );
        }
        if self.max_body_bytes == 0 {
            return bad(
                "max_body_bytes",
                format!(
                    "0 accepts no response; use at least a few MiB (default {DEFAULT_MAX_BODY_BYTES})"
                ),
            );
        }
        for (key, d) in [
            ("request_timeout", self.request_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if d.is_zero() {
                return bad(
                    key,
                    "a zero timeout fails every request; use e.g. 60s".into(),
                );
            }
        }
        let rl = &self.rate_limit;
        for (ns, budget) in [
            ("query", rl.query),
            ("poll", rl.poll),
            ("management", rl.management),
        ] {
            let rate = budget.per_second;
            if rate.is_nan() || rate <= 0.0 {
                return bad(
                    &format!("rate_limit.{ns}.per_second"),
                    format!(
                        "{rate} requests per second would never let a request go; use a \
                         positive rate (the default is 1.5 for queries), or f64::INFINITY \
                         (Budget::UNLIMITED) for no proactive limit"
                    ),
                );
            }
        }
        Ok(())
    }
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
    fn configs_with_zero_or_absurd_settings_are_refused() {
        let good = ClientConfig {
            endpoint: Url::parse("https://eu.rest.logs.insight.rapid7.com").unwrap(),
            api_key: ApiKey::new("k").unwrap(),
            per_page: 500,
            retry: RetryConfig::default(),
            rate_limit: RateLimitConfig::default(),
            poll: PollConfig::default(),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            allow_http: false,
        };
        good.validate().unwrap();
        let mut unlimited = good.clone();
        unlimited.rate_limit = RateLimitConfig::unlimited();
        unlimited.validate().unwrap();
        type Tweak = fn(&mut ClientConfig);
        let cases: [(Tweak, &str); 9] = [
            (
                |c| c.endpoint = Url::parse("http://proxy.example.com").unwrap(),
                "RAPID7_ALLOW_HTTP",
            ),
            (
                |c| c.endpoint = Url::parse("ftp://eu.rest.logs.insight.rapid7.com").unwrap(),
                "unsupported scheme",
            ),
            (|c| c.per_page = 0, "1 to 500"),
            (|c| c.per_page = 501, "1 to 500"),
            (|c| c.max_body_bytes = 0, "max_body_bytes"),
            (|c| c.request_timeout = Duration::ZERO, "request_timeout"),
            (|c| c.connect_timeout = Duration::ZERO, "connect_timeout"),
            (
                |c| c.rate_limit.query.per_second = 0.0,
                "rate_limit.query.per_second",
            ),
            (
                |c| c.rate_limit.poll.per_second = f64::NAN,
                "rate_limit.poll.per_second",
            ),
        ];
        for (tweak, want) in cases {
            let mut c = good.clone();
            tweak(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        let mut plain = good.clone();
        plain.endpoint = Url::parse("http://proxy.example.com").unwrap();
        plain.allow_http = true;
        plain.validate().unwrap();
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
