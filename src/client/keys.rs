//! The client's settings as typed keys ([`ClientKey`]): one `RAPID7_*`
//! variable each, applied with
//! [`ClientBuilder::with_config`](super::ClientBuilder::with_config) and read
//! from the environment by
//! [`ClientBuilder::from_env`](super::ClientBuilder::from_env).

use crate::env::{KeySpec, fmt_duration, fmt_size};

use super::config::{ClientConfig, Region};

/// A setting of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ClientKey {
    /// `RAPID7_API_KEY` (environment only; never shown).
    ApiKey,
    /// `RAPID7_REGION`.
    Region,
    /// `RAPID7_ENDPOINT`.
    Endpoint,
    /// `RAPID7_ALLOW_HTTP`.
    AllowHttp,
    /// `RAPID7_PER_PAGE`: [`ClientConfig::per_page`].
    PerPage,
    /// `RAPID7_QUERY_RATE`: the proactive rate of query submissions and pages.
    QueryRate,
    /// `RAPID7_QUERY_BURST`.
    QueryBurst,
    /// `RAPID7_POLL_RATE`: the proactive rate of polls.
    PollRate,
    /// `RAPID7_POLL_BURST`.
    PollBurst,
    /// `RAPID7_MAX_IN_FLIGHT`: requests in flight at once.
    MaxInFlight,
    /// `RAPID7_MAX_RETRIES`.
    MaxRetries,
    /// `RAPID7_RETRY_TIMEOUT`: the retry budget of one request.
    RetryTimeout,
    /// `RAPID7_MAX_RATE_LIMIT_WAIT`: the rate-limit wait budget of one request.
    MaxRateLimitWait,
    /// `RAPID7_MAX_BODY_BYTES`: the response size cap.
    MaxBodyBytes,
    /// `RAPID7_REQUEST_TIMEOUT`.
    RequestTimeout,
    /// `RAPID7_QUERY_TIMEOUT`: how long one page may stay in progress at
    /// Rapid7 (polled) before the client gives up on it.
    QueryTimeout,
}

/// Highest proactive rate a setting accepts (requests per second);
/// `unlimited` turns the proactive limit off.
pub(crate) const MAX_RATE: f64 = 10_000.0;

impl ClientKey {
    /// Every client setting, in documentation order.
    pub const ALL: [ClientKey; 16] = [
        ClientKey::ApiKey,
        ClientKey::Region,
        ClientKey::Endpoint,
        ClientKey::AllowHttp,
        ClientKey::PerPage,
        ClientKey::QueryRate,
        ClientKey::QueryBurst,
        ClientKey::PollRate,
        ClientKey::PollBurst,
        ClientKey::MaxInFlight,
        ClientKey::MaxRetries,
        ClientKey::RetryTimeout,
        ClientKey::MaxRateLimitWait,
        ClientKey::MaxBodyBytes,
        ClientKey::RequestTimeout,
        ClientKey::QueryTimeout,
    ];

    /// What describes it.
    pub fn spec(self) -> &'static KeySpec {
        const API_KEY: KeySpec = KeySpec {
            secret: true,
            ..KeySpec::new(
                "RAPID7_API_KEY",
                "KEY",
                "the API key (environment only, never a flag; never logged or shown)",
                "a key from Rapid7 Insight, Settings > API Keys",
            )
        };
        const REGION: KeySpec = KeySpec::new(
            "RAPID7_REGION",
            "REGION",
            "the Rapid7 data region",
            "one of us, us2, us3, eu, ca, au, ap",
        );
        const ENDPOINT: KeySpec = KeySpec::new(
            "RAPID7_ENDPOINT",
            "URL",
            "base URL overriding the region (a proxy, or a local simulator)",
            "an https:// URL, or http:// to a loopback host (any host with RAPID7_ALLOW_HTTP)",
        );
        const ALLOW_HTTP: KeySpec = KeySpec {
            switch: true,
            ..KeySpec::new(
                "RAPID7_ALLOW_HTTP",
                "BOOL",
                "allow plain http:// to a non-loopback endpoint (the key would travel unencrypted)",
                "true or false",
            )
        };
        const PER_PAGE: KeySpec = KeySpec::new(
            "RAPID7_PER_PAGE",
            "N",
            "events per page (Rapid7 allows at most 500)",
            "1 to 500",
        );
        const QUERY_RATE: KeySpec = KeySpec::new(
            "RAPID7_QUERY_RATE",
            "PER_SECOND",
            "proactive rate of query submissions and pages (Rapid7: 1,500 per 15 minutes)",
            "a number of requests per second above 0 and at most 10000 (e.g. 1.5), or unlimited",
        );
        const QUERY_BURST: KeySpec = KeySpec::new(
            "RAPID7_QUERY_BURST",
            "N",
            "queries that may go at once after a quiet period",
            "1 to 100000",
        );
        const POLL_RATE: KeySpec = KeySpec::new(
            "RAPID7_POLL_RATE",
            "PER_SECOND",
            "proactive rate of polls of running queries (Rapid7: 10,000 per 15 minutes)",
            "a number of requests per second above 0 and at most 10000 (e.g. 10), or unlimited",
        );
        const POLL_BURST: KeySpec = KeySpec::new(
            "RAPID7_POLL_BURST",
            "N",
            "polls that may go at once after a quiet period",
            "1 to 100000",
        );
        const MAX_IN_FLIGHT: KeySpec = KeySpec::new(
            "RAPID7_MAX_IN_FLIGHT",
            "N",
            "requests in flight at once (each holds at most one response body)",
            "1 to 256",
        );
        const MAX_RETRIES: KeySpec = KeySpec::new(
            "RAPID7_MAX_RETRIES",
            "N",
            "retries of one request after 5xx, 408, timeouts and connection errors",
            "0 to 100",
        );
        const RETRY_TIMEOUT: KeySpec = KeySpec::new(
            "RAPID7_RETRY_TIMEOUT",
            "DURATION",
            "give up on a request failing for this long (rate-limit waits not counted)",
            "1s to 24h",
        );
        const MAX_RATE_LIMIT_WAIT: KeySpec = KeySpec::new(
            "RAPID7_MAX_RATE_LIMIT_WAIT",
            "DURATION",
            "give up on a request whose 429 waits add up to more than this",
            "0s to 24h",
        );
        const MAX_BODY_BYTES: KeySpec = KeySpec::new(
            "RAPID7_MAX_BODY_BYTES",
            "SIZE",
            "largest response body accepted; a larger one fails its request",
            "64KiB to 1GiB",
        );
        const REQUEST_TIMEOUT: KeySpec = KeySpec::new(
            "RAPID7_REQUEST_TIMEOUT",
            "DURATION",
            "timeout of one HTTP request",
            "1s to 1h",
        );
        const QUERY_TIMEOUT: KeySpec = KeySpec::new(
            "RAPID7_QUERY_TIMEOUT",
            "DURATION",
            "give up on a page Rapid7 has not finished (still polled) after this long",
            "10s to 24h",
        );
        match self {
            ClientKey::ApiKey => &API_KEY,
            ClientKey::Region => &REGION,
            ClientKey::Endpoint => &ENDPOINT,
            ClientKey::AllowHttp => &ALLOW_HTTP,
            ClientKey::PerPage => &PER_PAGE,
            ClientKey::QueryRate => &QUERY_RATE,
            ClientKey::QueryBurst => &QUERY_BURST,
            ClientKey::PollRate => &POLL_RATE,
            ClientKey::PollBurst => &POLL_BURST,
            ClientKey::MaxInFlight => &MAX_IN_FLIGHT,
            ClientKey::MaxRetries => &MAX_RETRIES,
            ClientKey::RetryTimeout => &RETRY_TIMEOUT,
            ClientKey::MaxRateLimitWait => &MAX_RATE_LIMIT_WAIT,
            ClientKey::MaxBodyBytes => &MAX_BODY_BYTES,
            ClientKey::RequestTimeout => &REQUEST_TIMEOUT,
            ClientKey::QueryTimeout => &QUERY_TIMEOUT,
        }
    }

    /// The value `config` holds for this setting, as the setting is written
    /// (`<redacted>` for the key).
    pub fn show(self, config: &ClientConfig) -> String {
        let rl = &config.rate_limit;
        match self {
            ClientKey::ApiKey => config.api_key.to_string(),
            ClientKey::Region => Region::ALL
                .into_iter()
                .find(|r| r.endpoint() == config.endpoint)
                .map_or_else(|| "(overridden by the endpoint)".into(), |r| r.to_string()),
            ClientKey::Endpoint => config.endpoint.to_string(),
            ClientKey::AllowHttp => config.allow_http.to_string(),
            ClientKey::PerPage => config.per_page.to_string(),
            ClientKey::QueryRate => show_rate(rl.query.per_second),
            ClientKey::QueryBurst => show_burst(rl.query.burst),
            ClientKey::PollRate => show_rate(rl.poll.per_second),
            ClientKey::PollBurst => show_burst(rl.poll.burst),
            ClientKey::MaxInFlight => rl.max_concurrent_requests.to_string(),
            ClientKey::MaxRetries => config.retry.max_retries.to_string(),
            ClientKey::RetryTimeout => fmt_duration(config.retry.retry_timeout),
            ClientKey::MaxRateLimitWait => fmt_duration(config.retry.max_rate_limit_wait),
            ClientKey::MaxBodyBytes => fmt_size(config.max_body_bytes as u64),
            ClientKey::RequestTimeout => fmt_duration(config.request_timeout),
            ClientKey::QueryTimeout => fmt_duration(config.poll.query_timeout),
        }
    }
}

fn show_rate(per_second: f64) -> String {
    if per_second.is_infinite() {
        "unlimited".into()
    } else {
        per_second.to_string()
    }
}

fn show_burst(burst: u32) -> String {
    if burst == u32::MAX {
        "unlimited".into()
    } else {
        burst.to_string()
    }
}
