//! The client's error: what a Log Search request can fail with. Holds no
//! Arrow or DataFusion type; the crate's [`Error`](crate::Error) holds it
//! whole ([`crate::Error::Client`]) and asks it for [`Error::status`] and
//! [`Error::is_retryable`].
//!
//! No variant ever holds the API key: requests carry it in a header, and URLs
//! and bodies are the only request data kept here.

use std::time::Duration;

use crate::env::ConfigError;
use crate::log_id::InvalidLogId;
use crate::time::InvalidRange;

/// A `Result` with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a Log Search request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A client setting is missing or does not parse.
    #[error("invalid configuration {key}: {message}")]
    Config {
        /// The setting (environment variable or option name).
        key: String,
        /// What is wrong and what would be accepted.
        message: String,
    },

    /// No API key was configured.
    #[error("{MISSING_API_KEY}")]
    MissingApiKey,

    /// A time range whose start is not before its end.
    #[error("invalid time range [{start}, {end}): the start must be before the end")]
    InvalidRange {
        /// Start, epoch milliseconds (inclusive).
        start: i64,
        /// End, epoch milliseconds (exclusive).
        end: i64,
    },

    /// The API answered with a status that is not retried (most 4xx).
    #[error("Rapid7 API {method} {url} failed with HTTP {status}: {message}{}", hint_suffix(.hint))]
    Api {
        /// HTTP method.
        method: &'static str,
        /// Request URL (never contains the key).
        url: String,
        /// HTTP status.
        status: u16,
        /// The server's message, parsed from its error body.
        message: String,
        /// What the user can do about it.
        hint: Option<&'static str>,
    },

    /// The request could not be sent or its response not read. The message
    /// ends with the chain of causes (the TLS or socket error underneath).
    #[error("Rapid7 API {method} {url}: {message}{}", source_chain_suffix(.source))]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Request URL.
        url: String,
        /// What failed (connection refused, timeout, reset, truncated body).
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A request, or the polling of a query Rapid7 had not finished, ran
    /// past its timeout; the message names the setting that raises it.
    #[error(
        "Rapid7 API {method} {url}: {}{}",
        timeout_message(*.wait, *.after),
        source_chain_suffix(.source)
    )]
    Timeout {
        /// HTTP method.
        method: &'static str,
        /// Request URL (for a poll, the query's own URL).
        url: String,
        /// Which wait ran out.
        wait: Wait,
        /// The timeout that ran out.
        after: Duration,
        /// The underlying error (the HTTP client's timeout).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The HTTP client could not be built (the TLS backend failed to start).
    #[error("cannot build the HTTP client{}", source_chain_suffix(.source))]
    HttpClient {
        /// The HTTP library's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A log id that is no log id (it could not be put in a URL path).
    #[error(
        "{id:?} is not a log id: {reason}; use an id or name from SELECT * FROM \
         information_schema.tables WHERE table_schema = 'rapid7'"
    )]
    InvalidLogId {
        /// What was given.
        id: String,
        /// Which part of the rule it breaks.
        reason: &'static str,
    },

    /// A statistical request whose slices do not divide its window.
    #[error(
        "{slices} slices of [{from}, {to}): use 1 to {max} slices that divide the window evenly"
    )]
    InvalidSlices {
        /// Slices asked for.
        slices: u32,
        /// Start, epoch milliseconds.
        from: i64,
        /// End, epoch milliseconds.
        to: i64,
        /// The most slices a request may ask for.
        max: u32,
    },

    /// A response body was not the JSON the API documents.
    #[error("Rapid7 API {url} returned a body that does not parse: {message}")]
    Decode {
        /// Request URL.
        url: String,
        /// The parser's message, with position.
        message: String,
    },

    /// An answer the client will not go on from, and that asking again would
    /// not change: a response larger than the body cap, or pagination that
    /// does not advance. Not retried.
    #[error("Rapid7 API {url}: {message}{}", hint_suffix(.hint))]
    Protocol {
        /// Request URL.
        url: String,
        /// What Rapid7 sent and why the client stopped.
        message: String,
        /// What the user can do about it.
        hint: Option<&'static str>,
    },

    /// A merged answer (one query over several logs) broke a rule the
    /// client relies on to read it exactly: its events out of
    /// `(timestamp, sequence_number)` order, two logs' events sharing a
    /// pair, or an event of a log not asked for. Not retried: the logs are
    /// read one by one instead, and the endpoint is remembered (unless
    /// `broken` is false).
    #[error("Rapid7 API {url}: a merged answer of {logs} logs cannot be read exactly: {reason}")]
    MergedAnswer {
        /// Request URL.
        url: String,
        /// How many logs were asked for.
        logs: usize,
        /// The rule broken, with the events that broke it.
        reason: String,
        /// `true`: the answer broke a rule (the endpoint is remembered);
        /// `false`: it is right but of no use merged (a beyond-retention
        /// header, which may be one log's only): read one by one, remember
        /// nothing.
        broken: bool,
    },

    /// A retried request did not succeed within the retry budget.
    #[error(
        "Rapid7 API request gave up after {retries} retries in {:.1}s: {source}",
        elapsed.as_secs_f64()
    )]
    RetriesExhausted {
        /// How many retries were made.
        retries: u32,
        /// Time spent, waits included.
        elapsed: Duration,
        /// The last failure.
        #[source]
        source: Box<Error>,
    },

    /// A log name or id that the API key cannot see.
    #[error("unknown log {name:?}{}", suggestion_suffix(.suggestions))]
    UnknownLog {
        /// What the user asked for.
        name: String,
        /// Close matches among the logs the key can read.
        suggestions: Vec<String>,
    },

    /// A name that several logs share, where a name must mean one log.
    #[error("{}", ambiguous_log(.name, .ids))]
    AmbiguousLog {
        /// What the user asked for.
        name: String,
        /// The ids of the logs of that name.
        ids: Vec<String>,
    },
}

/// Which wait of a request ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// One HTTP request (`RAPID7_REQUEST_TIMEOUT`).
    Request,
    /// A query Rapid7 kept answering "in progress" (`RAPID7_QUERY_TIMEOUT`).
    Query,
}

impl Wait {
    /// The setting that raises this timeout.
    pub fn setting(self) -> &'static str {
        match self {
            Wait::Request => "RAPID7_REQUEST_TIMEOUT",
            Wait::Query => "RAPID7_QUERY_TIMEOUT",
        }
    }
}

fn timeout_message(wait: Wait, after: Duration) -> String {
    // Whole seconds as the settings are mostly written (`600s`), anything
    // finer as humantime writes it (`50ms`).
    let after = match after.subsec_nanos() {
        0 => format!("{}s", after.as_secs()),
        _ => crate::env::fmt_duration(after),
    };
    match wait {
        Wait::Request => format!(
            "timed out after {after} (raise {} for a slow network or a large page)",
            wait.setting()
        ),
        Wait::Query => format!(
            "Rapid7 did not finish the query within {after}; try a smaller window, or raise {}",
            wait.setting()
        ),
    }
}

/// The message of an ambiguous log name: the ids, and how to use one.
pub(crate) fn ambiguous_log(name: &str, ids: &[String]) -> String {
    format!(
        "{} logs are named {name:?} (ids {}): name one by its id, e.g. rapid7.\"{}\" or \
         rapid7_leql('{}', …), or read them all with rapid7_logs WHERE log_name = '{}'",
        ids.len(),
        ids.join(", "),
        ids.first().map(String::as_str).unwrap_or_default(),
        ids.first().map(String::as_str).unwrap_or_default(),
        name.replace('\'', "''"),
    )
}

/// The message of a missing API key; names settings, not flags (the binary
/// adds its own).
pub(crate) const MISSING_API_KEY: &str = "no Rapid7 API key: set RAPID7_API_KEY to a key from \
     Rapid7 Insight (Settings > API Keys; a read-only key is enough)";

pub(crate) fn hint_suffix(hint: &Option<&'static str>) -> String {
    hint.map(|h| format!(" ({h})")).unwrap_or_default()
}

/// `": cause: its cause: …"` for an error's `source`, or nothing. Causes
/// whose text the previous one already contains are left out (wrappers that
/// repeat their inner error).
pub(crate) fn source_chain_suffix(
    source: &Option<Box<dyn std::error::Error + Send + Sync>>,
) -> String {
    let mut out = String::new();
    let mut last = String::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = source.as_deref().map(|e| e as _);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !last.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        next = e.source();
    }
    out
}

pub(crate) fn suggestion_suffix(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        " (list the logs with: SELECT * FROM information_schema.tables WHERE table_schema = 'rapid7')"
            .to_string()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}

impl Error {
    /// The HTTP status of an API failure, looking through retries.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::RetriesExhausted { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => is_retryable_status(*status),
            Error::Transport { .. } | Error::Timeout { .. } | Error::Decode { .. } => true,
            _ => false,
        }
    }

    /// The wait that ran out when this is a timeout, looking through retries.
    pub fn timeout(&self) -> Option<Wait> {
        match self {
            Error::Timeout { wait, .. } => Some(*wait),
            Error::RetriesExhausted { source, .. } => source.timeout(),
            _ => None,
        }
    }

    /// The setting at fault when this is a configuration error.
    pub fn config_key(&self) -> Option<&str> {
        match self {
            Error::Config { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// 408, 429 and 5xx are worth retrying; every other status is final.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config {
            key: e.key,
            message: e.message,
        }
    }
}

impl From<InvalidLogId> for Error {
    fn from(e: InvalidLogId) -> Self {
        Error::InvalidLogId {
            id: e.id,
            reason: e.reason,
        }
    }
}

impl From<InvalidRange> for Error {
    fn from(e: InvalidRange) -> Self {
        Error::InvalidRange {
            start: e.start,
            end: e.end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 415] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn transport_errors_show_their_cause_chain() {
        #[derive(Debug)]
        struct Wrap(&'static str, Option<Box<Wrap>>);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let tls = Wrap(
            "client error (Connect)",
            Some(Box::new(Wrap(
                "invalid peer certificate: UnknownIssuer",
                None,
            ))),
        );
        let e = Error::Transport {
            method: "GET",
            url: "https://us.rest.logs.insight.rapid7.com/management/logs".into(),
            message: "could not connect".into(),
            source: Some(Box::new(Wrap("error sending request", Some(Box::new(tls))))),
        };
        assert_eq!(
            e.to_string(),
            "Rapid7 API GET https://us.rest.logs.insight.rapid7.com/management/logs: could not \
             connect: error sending request: client error (Connect): invalid peer certificate: \
             UnknownIssuer"
        );
        let bare = Error::Transport {
            method: "GET",
            url: "u".into(),
            message: "timed out".into(),
            source: None,
        };
        assert_eq!(bare.to_string(), "Rapid7 API GET u: timed out");
        let protocol = Error::Protocol {
            url: "u".into(),
            message: "too big".into(),
            hint: Some("lower per_page"),
        };
        assert_eq!(
            protocol.to_string(),
            "Rapid7 API u: too big (lower per_page)"
        );
        assert!(!protocol.is_retryable());
    }

    #[test]
    fn api_error_message_has_hint() {
        let e = Error::Api {
            method: "GET",
            url: "https://us.rest.logs.insight.rapid7.com/management/logs".into(),
            status: 401,
            message: "Unauthorized".into(),
            hint: Some("check RAPID7_API_KEY and RAPID7_REGION"),
        };
        let s = e.to_string();
        assert!(s.contains("HTTP 401"), "{s}");
        assert!(s.contains("check RAPID7_API_KEY"), "{s}");
        assert_eq!(e.status(), Some(401));
        assert!(!e.is_retryable());
    }

    #[test]
    fn timeouts_name_the_setting_to_raise() {
        let timeout = |wait, after| Error::Timeout {
            method: "GET",
            url: "u".into(),
            wait,
            after,
            source: None,
        };
        let request = timeout(Wait::Request, Duration::from_secs(60));
        assert_eq!(
            request.to_string(),
            "Rapid7 API GET u: timed out after 60s (raise RAPID7_REQUEST_TIMEOUT for a slow \
             network or a large page)"
        );
        let poll = timeout(Wait::Query, Duration::from_millis(1_500));
        assert_eq!(
            poll.to_string(),
            "Rapid7 API GET u: Rapid7 did not finish the query within 1s 500ms; try a smaller \
             window, or raise RAPID7_QUERY_TIMEOUT"
        );
        assert_eq!(poll.timeout(), Some(Wait::Query));
        assert!(poll.is_retryable() && request.is_retryable());
        assert_eq!(poll.status(), None);
    }
}
