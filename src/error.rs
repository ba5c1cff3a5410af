//! The crate's error type: one error per layer, each held whole.
//!
//! A request's failure is a [`client::Error`] ([`Error::Client`]), a cache's
//! a [`cache::Error`] ([`Error::Cache`]); the rest (configuration, local
//! files, the fetch limit, offline mode, …) are variants here with
//! structured fields, so callers can classify an error ([`Error::status`],
//! [`Error::is_retryable`], [`Error::timeout`], [`Error::config_key`],
//! [`Error::fetch_budget`]) and the message can say what to do. Conversion
//! to [`DataFusionError`] happens in one place, [`Error::into_datafusion`] /
//! `From<Error> for DataFusionError`.
//!
//! No variant ever holds the API key: requests carry it in a header, and URLs
//! and bodies are the only request data kept here.

use std::path::PathBuf;
use std::time::Duration;

use datafusion::error::DataFusionError;

use crate::cache;
use crate::client;
use crate::client::error::source_chain_suffix;
use crate::env::ConfigError;
use crate::text::group_digits;
use crate::time::{InvalidRange, WindowError, fmt_ms};

use crate::cost::approx;
pub use crate::cost::{Cost, FetchEstimate};

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

    /// A Log Search request failed (HTTP status, transport, timeout,
    /// unknown log, …); [`Error::status`] and [`Error::is_retryable`] ask it.
    #[error(transparent)]
    Client(#[from] client::Error),

    /// The segment cache failed (unusable root, corrupt segment, object
    /// store, Parquet).
    #[error(transparent)]
    Cache(#[from] cache::Error),

    /// Reading or writing a local file failed (a summary's `output`, …).
    #[error("cannot {action} {}: {source}", io_target(.path))]
    Io {
        /// What was being done: `"write the summary to"`.
        action: &'static str,
        /// The file; `None` for standard output.
        path: Option<PathBuf>,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A table that is not a Rapid7 table, where one is needed.
    #[error("the table {table} is not a Rapid7 table; call datafusion_rapid7::register first")]
    NotRegistered {
        /// The table's name.
        table: String,
    },

    /// `sync` over a window with nothing left to fetch once the recent
    /// edge (`settle`) and the retention cut are taken off.
    #[error(
        "nothing to sync: the window [{}, {}) {}",
        fmt_ms(*.from),
        fmt_ms(*.to),
        empty_window_reason(*.retention_cut, *.settle)
    )]
    EmptySyncWindow {
        /// Start asked for, epoch milliseconds.
        from: i64,
        /// End asked for (or now), epoch milliseconds.
        to: i64,
        /// The retention cut, when the window ends before it.
        retention_cut: Option<i64>,
        /// The recent edge left out.
        settle: Duration,
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

    /// `RAPID7_ON_INCOMPLETE=fail`, and the statement reads cached segments
    /// that lack events (the decoder rejected some, or the range reaches
    /// past the log's retention).
    #[error(
        "incomplete cache (RAPID7_ON_INCOMPLETE=fail): the statement reads {}. Drop those \
         segments to fetch them again (SegmentCache::drop_range; past retention, a fetch \
         cannot bring the older events back), or read them as they are with \
         RAPID7_ON_INCOMPLETE=warn (SET rapid7.on_incomplete = 'warn'); \
         SELECT * FROM rapid7_cache() WHERE events_rejected > 0 OR beyond_retention lists them",
        list_incomplete(.segments)
    )]
    Incomplete {
        /// The segments and what they lack.
        segments: Vec<IncompleteSegment>,
    },

    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,

    /// A statement whose missing ranges hold more events than a statement may
    /// page (by Rapid7's statistics, asked before any event page).
    #[error("{0}")]
    FetchBudget(FetchBudget),

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

    /// The Flight SQL service refused or failed a request (feature
    /// `flight`): its SQL policy, its limits, an unknown handle.
    #[cfg(feature = "flight")]
    #[error(transparent)]
    Flight(#[from] crate::flight::Error),

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

/// A cached segment that lacks events ([`Error::Incomplete`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncompleteSegment {
    /// The log's label (its name, or its id).
    pub log: String,
    /// The log's id.
    pub log_id: String,
    /// The segment's range.
    pub range: crate::time::TimeRange,
    /// Events Rapid7 returned for the range that the decoder rejected.
    pub events_rejected: u64,
    /// Rapid7 said the range reaches past the log's retention: older events
    /// are missing.
    pub beyond_retention: bool,
}

impl IncompleteSegment {
    /// A segment lacking events.
    pub fn new(
        log: impl Into<String>,
        log_id: impl Into<String>,
        range: crate::time::TimeRange,
        events_rejected: u64,
        beyond_retention: bool,
    ) -> Self {
        IncompleteSegment {
            log: log.into(),
            log_id: log_id.into(),
            range,
            events_rejected,
            beyond_retention,
        }
    }
}

impl std::fmt::Display for IncompleteSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} (", self.log, self.range)?;
        if self.events_rejected > 0 {
            let n = self.events_rejected;
            write!(
                f,
                "{} event{} rejected by the decoder",
                group_digits(n),
                if n == 1 { "" } else { "s" }
            )?;
            if self.beyond_retention {
                f.write_str("; ")?;
            }
        }
        if self.beyond_retention {
            f.write_str("past the log's retention: older events missing")?;
        }
        f.write_str(")")
    }
}

fn list_incomplete(segments: &[IncompleteSegment]) -> String {
    list_summary(&segments.iter().map(ToString::to_string).collect::<Vec<_>>())
}

/// A statement refused by the fetch limit ([`Error::FetchBudget`]): the
/// estimate as data, rendered by `Display`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FetchBudget {
    /// What the statement would fetch: events, event queries and their time
    /// at the key's quota.
    pub cost: Cost,
    /// The limit, events a statement (never 0 here: 0 means no limit).
    pub limit: u64,
    /// The logs with the most events, most first (at most three).
    pub largest: Vec<BudgetLog>,
    /// The statement's filters on `message` that were not sent to Rapid7
    /// (no LEQL superset of them exists), so they do not narrow the
    /// estimate: rewriting one as `message LIKE '%literal%'` may.
    pub not_pushed: Vec<String>,
}

/// One log of a [`FetchBudget`], and how its events were counted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BudgetLog {
    /// The log's label (its name, or name and id when names repeat).
    pub log: String,
    /// How its events were counted.
    pub counted: Counted,
}

/// How a [`BudgetLog`]'s events were counted.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Counted {
    /// By Rapid7's statistics, before any event page.
    Estimated(FetchEstimate),
    /// Read for a `LIMIT` without an estimate, and still short of it when
    /// the limit was passed.
    ReadForLimit,
    /// Read newest first, still short of the rows asked for when the limit
    /// was passed.
    ReadNewestFirst,
}

impl std::fmt::Display for BudgetLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let log = &self.log;
        match self.counted {
            Counted::Estimated(e) => write!(f, "{log} ≈{} events", approx(e.events)),
            Counted::ReadForLimit => write!(f, "{log} (read for a LIMIT, still short of it)"),
            Counted::ReadNewestFirst => {
                write!(f, "{log} (newest first, still short of the rows asked for)")
            }
        }
    }
}

impl std::fmt::Display for FetchBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let largest: Vec<String> = self.largest.iter().map(ToString::to_string).collect();
        write!(
            f,
            "this statement would fetch {} from Rapid7, more than the limit of {} events \
             a statement (RAPID7_MAX_FETCH_EVENTS, SET rapid7.max_fetch_events = N, \
             Rapid7Config::max_fetch_events; 0 means no limit). Largest: {}. Narrow the time \
             window or the logs (WHERE log_name = …), or raise the limit for a deliberate \
             backfill{}",
            self.cost,
            group_digits(self.limit),
            largest.join(", "),
            not_pushed_note(&self.not_pushed)
        )
    }
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

/// `path`, or `standard output`.
fn io_target(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => "standard output".to_string(),
    }
}

/// Why a sync window is empty.
fn empty_window_reason(retention_cut: Option<i64>, settle: Duration) -> String {
    match retention_cut {
        Some(kept) => format!(
            "ends before the retention cut {} (RAPID7_RETENTION, CacheConfig::retention): \
             it would be retired at once",
            fmt_ms(kept)
        ),
        None => format!(
            "is empty once the last {} s (settle) are left out",
            settle.as_secs()
        ),
    }
}

impl Error {
    /// A [`Error::FetchBudget`] naming `filters` as not pushed; any other
    /// error unchanged.
    pub(crate) fn with_not_pushed(mut self, filters: &[String]) -> Self {
        if let Error::FetchBudget(budget) = &mut self {
            budget.not_pushed.extend(filters.iter().cloned());
        }
        self
    }

    /// The HTTP status of an API failure, looking through retries.
    pub fn status(&self) -> Option<u16> {
        self.client().and_then(client::Error::status)
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        self.client().is_some_and(client::Error::is_retryable)
    }

    /// The wait that ran out when a request or a query's polling timed out
    /// (its [`setting`](client::Wait::setting) raises it).
    pub fn timeout(&self) -> Option<client::Wait> {
        self.client().and_then(client::Error::timeout)
    }

    /// The setting at fault when this is a configuration error, the
    /// client's or the crate's: `RAPID7_REGION`.
    pub fn config_key(&self) -> Option<&str> {
        match self {
            Error::Config { key, .. } => Some(key),
            other => other.client().and_then(client::Error::config_key),
        }
    }

    /// The estimate and limit when the fetch limit refused the statement.
    pub fn fetch_budget(&self) -> Option<&FetchBudget> {
        match self {
            Error::FetchBudget(budget) => Some(budget),
            _ => None,
        }
    }

    /// The request's error when a Log Search request failed.
    pub fn client(&self) -> Option<&client::Error> {
        match self {
            Error::Client(e) => Some(e),
            _ => None,
        }
    }

    /// The cache's error when the segment cache failed.
    pub fn cache(&self) -> Option<&cache::Error> {
        match self {
            Error::Cache(e) => Some(e),
            _ => None,
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

/// A cache failure crosses into DataFusion as the crate's error, through
/// [`Error::into_datafusion`].
impl From<cache::Error> for DataFusionError {
    fn from(e: cache::Error) -> Self {
        Error::from(e).into_datafusion()
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error::DataFusion(Box::new(e))
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
        Error::Client(e.into())
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
        assert!(matches!(
            Error::from(api()),
            Error::Client(client::Error::Api { status: 401, .. })
        ));
    }

    #[test]
    fn hints_name_settings_not_flags() {
        let offline = Error::Offline {
            missing: vec!["Firewall [a, b)".into()],
        };
        let corrupt = Error::from(cache::Error::CorruptSegment {
            segment: "logs/x/from=1/to=2".into(),
            message: "footer".into(),
        });
        let timeout = Error::from(client::Error::Timeout {
            method: "GET",
            url: "u".into(),
            wait: client::Wait::Query,
            after: Duration::from_secs(600),
            source: None,
        });
        let missing_key = Error::from(client::Error::MissingApiKey);
        for e in [missing_key, offline, corrupt, timeout] {
            let text = e.to_string();
            assert!(!text.contains("--"), "{text}");
            assert!(text.contains("RAPID7_"), "{text}");
        }
    }

    #[test]
    fn datafusion_roundtrip_keeps_source() {
        let df: DataFusionError =
            Error::from(client::Error::InvalidRange { start: 5, end: 1 }).into();
        assert!(df.to_string().contains("invalid time range"), "{df}");
    }

    fn budget() -> FetchBudget {
        let firewall = FetchEstimate {
            events: 900_000,
            queries: 1_801,
        };
        FetchBudget {
            cost: Cost {
                estimate: FetchEstimate {
                    events: 1_100_000,
                    queries: 2_202,
                },
                duration: Duration::from_secs(1_320),
            },
            limit: 1_000_000,
            largest: vec![
                BudgetLog {
                    log: "Firewall".into(),
                    counted: Counted::Estimated(firewall),
                },
                BudgetLog {
                    log: "Auth".into(),
                    counted: Counted::ReadForLimit,
                },
            ],
            not_pushed: vec!["message ~ 'x'".into()],
        }
    }

    #[test]
    fn a_budget_error_holds_its_estimate_and_renders_it() {
        let e = Error::FetchBudget(budget());
        let b = e.fetch_budget().expect("a budget error");
        assert_eq!(b.cost.estimate.events, 1_100_000);
        assert_eq!(
            b.largest[0].counted,
            Counted::Estimated(FetchEstimate {
                events: 900_000,
                queries: 1_801
            })
        );
        assert_eq!(
            e.to_string(),
            "this statement would fetch ≈1.1M events (≈2,200 queries, ≈22 min at this key's \
             quota) from Rapid7, more than the limit of 1,000,000 events a statement \
             (RAPID7_MAX_FETCH_EVENTS, SET rapid7.max_fetch_events = N, \
             Rapid7Config::max_fetch_events; 0 means no limit). Largest: Firewall ≈900k events, \
             Auth (read for a LIMIT, still short of it). Narrow the time window or the logs \
             (WHERE log_name = …), or raise the limit for a deliberate backfill. Not sent to \
             Rapid7, so they do not narrow the fetch: `message ~ 'x'`; Rapid7 applies \
             `message LIKE '%literal%'`, ILIKE, strpos / contains / starts_with of a literal, \
             and AND / OR of those (docs/adr/0007)"
        );
        let more = e.with_not_pushed(&["b".into()]);
        assert_eq!(more.fetch_budget().unwrap().not_pushed.len(), 2);
        assert!(Error::Cancelled.fetch_budget().is_none());
    }

    #[test]
    fn io_errors_name_the_file() {
        let e = Error::Io {
            action: "write the summary to",
            path: Some("/tmp/out/summary.json".into()),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let text = e.to_string();
        assert!(
            text.starts_with("cannot write the summary to /tmp/out/summary.json: "),
            "{text}"
        );
        let stdout = Error::Io {
            action: "write to",
            path: None,
            source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        };
        assert!(
            stdout
                .to_string()
                .starts_with("cannot write to standard output: ")
        );
    }

    #[test]
    fn timeouts_and_settings_are_classified_through_the_client() {
        let poll = Error::from(client::Error::RetriesExhausted {
            retries: 1,
            elapsed: Duration::from_secs(1),
            source: Box::new(client::Error::Timeout {
                method: "GET",
                url: "u".into(),
                wait: client::Wait::Request,
                after: Duration::from_secs(60),
                source: None,
            }),
        });
        assert_eq!(poll.timeout(), Some(client::Wait::Request));
        let region = Error::from(client::Error::Config {
            key: "RAPID7_REGION".into(),
            message: "unknown region".into(),
        });
        assert_eq!(region.config_key(), Some("RAPID7_REGION"));
        assert_eq!(
            Error::from(ConfigError {
                key: "RAPID7_CACHE".into(),
                message: "m".into()
            })
            .config_key(),
            Some("RAPID7_CACHE")
        );
        assert_eq!(Error::Cancelled.config_key(), None);
    }

    #[test]
    fn an_empty_sync_window_says_why() {
        let settle = Duration::from_secs(60);
        let retired = Error::EmptySyncWindow {
            from: 0,
            to: 3_600_000,
            retention_cut: Some(7_200_000),
            settle,
        };
        let text = retired.to_string();
        assert!(
            text.starts_with("nothing to sync: the window [1970-01-01T00:00:00"),
            "{text}"
        );
        assert!(text.contains("ends before the retention cut"), "{text}");
        assert!(text.contains("RAPID7_RETENTION"), "{text}");
        let settled = Error::EmptySyncWindow {
            from: 0,
            to: 1,
            retention_cut: None,
            settle,
        };
        assert!(
            settled
                .to_string()
                .ends_with("is empty once the last 60 s (settle) are left out"),
            "{settled}"
        );
    }
}
