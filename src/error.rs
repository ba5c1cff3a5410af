//! The crate's one error type.
//!
//! Every failure a user can hit is a variant with structured fields, so callers
//! can classify it ([`Error::status`], [`Error::is_retryable`]) and the message
//! can say what to do. Conversion to [`DataFusionError`] happens in one place,
//! [`Error::into_datafusion`] / `From<Error> for DataFusionError`.
//!
//! No variant ever holds the API key: requests carry it in a header, and URLs
//! and bodies are the only request data kept here.

use std::time::Duration;

use datafusion::error::DataFusionError;

use crate::client;
use crate::client::error::{
    MISSING_API_KEY, ambiguous_log, hint_suffix, source_chain_suffix, suggestion_suffix,
};
use crate::env::ConfigError;
use crate::text::group_digits;
use crate::time::{InvalidRange, WindowError};

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in datafusion-rapid7.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is missing or does not parse.
    #[error("invalid configuration {key}: {message}")]
    Config {
        /// The configuration key (environment variable or option name).
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

    /// A name that several logs share (Rapid7 allows it), where a name must
    /// mean one log (`rapid7."Name"`, `rapid7_leql('Name', …)`, `publish
    /// --log Name`); the message lists the ids.
    #[error("{}", ambiguous_log(.name, .ids))]
    AmbiguousLog {
        /// What the user asked for.
        name: String,
        /// The ids of the logs of that name.
        ids: Vec<String>,
    },

    /// A path component (log id, file name) that could escape the cache root.
    #[error("refusing unsafe cache path component {component:?}: {reason}")]
    UnsafePath {
        /// The offending component.
        component: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// The cache root cannot be used.
    #[error("cache at {location} is not usable: {message}")]
    CacheUnavailable {
        /// The cache root as configured.
        location: String,
        /// What failed; says how to fix it.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A committed segment cannot be read, or disagrees with its manifest.
    #[error(
        "cache segment {segment} is corrupt: {message}. Fix: drop the log's cached \
         segments (SegmentCache::drop_log; they are fetched again on the next query), \
         or bypass the cache (RAPID7_BYPASS_CACHE=true)"
    )]
    CorruptSegment {
        /// The segment's location under the cache root.
        segment: String,
        /// What is wrong with it.
        message: String,
    },

    /// An object store operation failed.
    #[error("object store error at {path}: {source}")]
    ObjectStore {
        /// Path under the cache root.
        path: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },

    /// Writing or reading Parquet failed.
    #[error("parquet error in {path}: {source}")]
    Parquet {
        /// Path of the part.
        path: String,
        /// The Parquet error.
        #[source]
        source: datafusion::parquet::errors::ParquetError,
    },

    /// Building Arrow data failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),

    /// A DataFusion error.
    #[error(transparent)]
    DataFusion(#[from] Box<DataFusionError>),

    /// Offline mode, and the cache lacks part of what a query reads.
    #[error(
        "offline: the cache does not hold {}. Turn offline mode off (unset RAPID7_OFFLINE, \
         Rapid7Config::offline) to fetch them, or narrow the query to cached ranges \
         (SELECT * FROM rapid7_cache() lists them); the last `settle` minutes before now \
         are never cached",
        list_summary(.missing)
    )]
    Offline {
        /// The missing ranges, one `log [from, to)` per entry.
        missing: Vec<String>,
    },

    /// A read with a pushed LEQL filter met a message sent as a JSON object:
    /// Rapid7 searched text this client never sees, so the filter is no
    /// proven superset of the SQL filter, and nothing of the read is kept.
    /// The log is recorded as sending objects: no filter is pushed for it
    /// again, in any session over the cache.
    #[error(
        "log {log} sends messages as JSON objects, which Rapid7 searches as text this client \
         never sees: a pushed filter is no proven superset of the SQL filter, so nothing of \
         this read is kept; run the statement again: filters are no longer pushed for the log \
         (the cache records it), or SET rapid7.pushdown_filters = false"
    )]
    ObjectMessages {
        /// The log id.
        log: String,
    },

    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,

    /// A statement whose missing ranges hold more events than a statement may
    /// page (by Rapid7's statistics, asked before any event page).
    #[error(
        "this statement would fetch {cost} from Rapid7, more than the limit of {} events \
         a statement (RAPID7_MAX_FETCH_EVENTS, SET rapid7.max_fetch_events = N, \
         Rapid7Config::max_fetch_events; 0 means no limit). Largest: {}. Narrow the time \
         window or the logs (WHERE log_name = …), or raise the limit for a deliberate \
         backfill{}",
        group_digits(*limit),
        largest.join(", "),
        not_pushed_note(not_pushed)
    )]
    FetchBudget {
        /// `≈8.6M events (≈17,300 queries, ≈2.9 h at this key's quota)`.
        cost: String,
        /// Estimated events.
        events: u64,
        /// Estimated event queries.
        queries: u64,
        /// The limit.
        limit: u64,
        /// The logs with the most events, `log ≈N events`.
        largest: Vec<String>,
        /// The statement's filters on `message` that were not sent to
        /// Rapid7 (no LEQL superset of them exists), so they do not narrow
        /// the estimate: rewriting one as `message LIKE '%literal%'` may.
        not_pushed: Vec<String>,
    },

    /// Fetching was stopped ([`Rapid7::stop`](crate::Rapid7::stop);
    /// `rapid7-sql` calls it on SIGTERM and SIGINT) before it finished.
    #[error(
        "stopped before the fetch finished: the parts it had written were removed and nothing \
         half-written is left; segments committed before the stop are kept, and running it \
         again fetches only what is still missing"
    )]
    Stopped,

    /// The `WHERE` clause gives no time window that can be fetched (no lower
    /// bound on `timestamp`, or a bound outside 1970..=9999); the message
    /// shows how to add one.
    #[error(transparent)]
    TimeWindow(#[from] WindowError),

    /// Publishing to, maintaining or reading a Delta Lake table failed
    /// (`ops::publish`, feature `delta`). The table is left at its last
    /// commit; the message says what to do.
    #[error("Delta table {table}: {message}{}", source_chain_suffix(.source))]
    Publish {
        /// The table's location (URL or path; never credentials).
        table: String,
        /// What failed and what to do about it.
        message: String,
        /// The underlying error (deltalake, object store).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// The part of a [`Error::FetchBudget`] message naming the filters Rapid7
/// was not asked to apply.
fn not_pushed_note(filters: &[String]) -> String {
    if filters.is_empty() {
        return String::new();
    }
    format!(
        ". Not sent to Rapid7, so they do not narrow the fetch: `{}`; Rapid7 applies \
         `message LIKE '%literal%'`, ILIKE, strpos / contains / starts_with of a literal, and \
         AND / OR of those (docs/adr/0007)",
        filters.join("`, `")
    )
}

impl Error {
    /// A [`Error::FetchBudget`] naming `filters` as not pushed; any other
    /// error unchanged.
    pub(crate) fn with_not_pushed(mut self, filters: &[String]) -> Self {
        if let Error::FetchBudget { not_pushed, .. } = &mut self {
            not_pushed.extend(filters.iter().cloned());
        }
        self
    }

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
            Error::Api { status, .. } => client::error::is_retryable_status(*status),
            Error::Transport { .. } | Error::Decode { .. } => true,
            _ => false,
        }
    }

    /// Convert into a [`DataFusionError`], keeping this error as the source.
    pub fn into_datafusion(self) -> DataFusionError {
        match self {
            Error::DataFusion(e) => *e,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        e.into_datafusion()
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error::DataFusion(Box::new(e))
    }
}

/// Each client failure becomes its namesake here.
impl From<client::Error> for Error {
    fn from(e: client::Error) -> Self {
        match e {
            client::Error::Config { key, message } => Error::Config { key, message },
            client::Error::MissingApiKey => Error::MissingApiKey,
            client::Error::InvalidRange { start, end } => Error::InvalidRange { start, end },
            client::Error::Api {
                method,
                url,
                status,
                message,
                hint,
            } => Error::Api {
                method,
                url,
                status,
                message,
                hint,
            },
            client::Error::Transport {
                method,
                url,
                message,
                source,
            } => Error::Transport {
                method,
                url,
                message,
                source,
            },
            client::Error::Decode { url, message } => Error::Decode { url, message },
            client::Error::Protocol { url, message, hint } => {
                Error::Protocol { url, message, hint }
            }
            client::Error::RetriesExhausted {
                retries,
                elapsed,
                source,
            } => Error::RetriesExhausted {
                retries,
                elapsed,
                source: Box::new(Error::from(*source)),
            },
            client::Error::UnknownLog { name, suggestions } => {
                Error::UnknownLog { name, suggestions }
            }
            client::Error::AmbiguousLog { name, ids } => Error::AmbiguousLog { name, ids },
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config {
            key: e.key,
            message: e.message,
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

/// At most five items joined with `, `, then how many more: an error
/// over a year of missing ranges stays readable.
fn list_summary(items: &[String]) -> String {
    const LISTED: usize = 5;
    let shown = items[..items.len().min(LISTED)].join(", ");
    match items.len().saturating_sub(LISTED) {
        0 => shown,
        more => format!(
            "{shown} and {more} more range{}",
            if more == 1 { "" } else { "s" }
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_missing_lists_are_summarised() {
        let missing: Vec<String> = (0..7)
            .map(|i| format!("Firewall [{i}, {})", i + 1))
            .collect();
        let text = super::Error::Offline { missing }.to_string();
        assert!(
            text.contains("Firewall [4, 5) and 2 more ranges."),
            "{text}"
        );
        assert!(!text.contains("Firewall [5, 6)"), "{text}");
        let one = super::Error::Offline {
            missing: vec!["Auth [0, 1)".into()],
        }
        .to_string();
        assert!(one.contains("does not hold Auth [0, 1). Turn"), "{one}");
    }

    use super::*;

    #[test]
    fn client_errors_keep_their_message_and_class() {
        let api = || client::Error::Api {
            method: "GET",
            url: "https://us.rest.logs.insight.rapid7.com/management/logs".into(),
            status: 401,
            message: "Unauthorized".into(),
            hint: Some("check RAPID7_API_KEY and RAPID7_REGION"),
        };
        let cases = [
            api(),
            client::Error::RetriesExhausted {
                retries: 3,
                elapsed: Duration::from_millis(1500),
                source: Box::new(client::Error::Transport {
                    method: "GET",
                    url: "u".into(),
                    message: "connection reset".into(),
                    source: None,
                }),
            },
            client::Error::Decode {
                url: "u".into(),
                message: "expected value at line 1 column 1".into(),
            },
            client::Error::MissingApiKey,
            client::Error::Protocol {
                url: "u".into(),
                message: "the response is larger than the cap".into(),
                hint: Some("lower per_page"),
            },
            client::Error::Transport {
                method: "GET",
                url: "u".into(),
                message: "could not connect".into(),
                source: Some(Box::new(std::io::Error::other("tls handshake eof"))),
            },
            client::Error::UnknownLog {
                name: "Firewal".into(),
                suggestions: vec!["Firewall".into()],
            },
            client::Error::UnknownLog {
                name: "x".into(),
                suggestions: vec![],
            },
            client::Error::InvalidRange { start: 5, end: 1 },
            client::Error::Config {
                key: "per_page".into(),
                message: "0 is out of range".into(),
            },
        ];
        for e in cases {
            let (text, status, retryable) = (e.to_string(), e.status(), e.is_retryable());
            let crate_error = Error::from(e);
            assert_eq!(crate_error.to_string(), text);
            assert_eq!(crate_error.status(), status, "{text}");
            assert_eq!(crate_error.is_retryable(), retryable, "{text}");
        }
        assert!(matches!(Error::from(api()), Error::Api { status: 401, .. }));
    }

    #[test]
    fn hints_name_settings_not_flags() {
        let offline = Error::Offline {
            missing: vec!["Firewall [a, b)".into()],
        };
        let corrupt = Error::CorruptSegment {
            segment: "logs/x/from=1/to=2".into(),
            message: "footer".into(),
        };
        for e in [Error::MissingApiKey, offline, corrupt] {
            let text = e.to_string();
            assert!(!text.contains("--"), "{text}");
            assert!(text.contains("RAPID7_"), "{text}");
        }
    }

    #[test]
    fn datafusion_roundtrip_keeps_source() {
        let df: DataFusionError = Error::InvalidRange { start: 5, end: 1 }.into();
        assert!(df.to_string().contains("invalid time range"), "{df}");
    }
}
