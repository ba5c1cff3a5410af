//! [`Rapid7Config`]: the composition root (the client, the cache and the
//! table's policies), its defaults, the variables that name them, and the
//! default cache directory.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cache::SegmentCache;
use crate::client::Client;
use crate::env::env_var;
use crate::error::{Error, Result};
use crate::fields::{ENV_FIELDS, FieldSchema, load_field_schemas};

/// Environment variable holding the cache root (directory or object-store URL).
pub const ENV_CACHE: &str = "RAPID7_CACHE";
/// Environment variable that turns the cache off (read and write nothing).
pub const ENV_BYPASS_CACHE: &str = "RAPID7_BYPASS_CACHE";
/// Environment variable that forbids API calls (answer from the cache only).
pub const ENV_OFFLINE: &str = "RAPID7_OFFLINE";
/// Environment variable holding the recent edge that is never cached.
pub const ENV_SETTLE: &str = "RAPID7_SETTLE";
/// Environment variable holding the streaming flush threshold in rows.
pub const ENV_FLUSH_ROWS: &str = "RAPID7_FLUSH_ROWS";
/// Environment variable holding the streaming flush threshold in bytes.
pub const ENV_FLUSH_BYTES: &str = "RAPID7_FLUSH_BYTES";

/// Environment variable holding the most events a statement may page from
/// Rapid7 (0: no limit).
pub const ENV_MAX_FETCH_EVENTS: &str = "RAPID7_MAX_FETCH_EVENTS";

/// Environment variable that turns count pushdown off (`false`).
pub const ENV_PUSHDOWN_AGGREGATES: &str = "RAPID7_PUSHDOWN_AGGREGATES";

/// What a statement does with a cached segment known to be incomplete
/// (events the decoder rejected, or a range reaching past the log's
/// retention): [`Rapid7Config::on_incomplete`], `RAPID7_ON_INCOMPLETE`,
/// `SET rapid7.on_incomplete`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnIncomplete {
    /// Read it as it is: the fetch that made it warned once
    /// (`fetch_events_rejected`, `fetch_beyond_retention`), and
    /// `rapid7_cache()` shows it. The default.
    #[default]
    Warn,
    /// Fail the statement, naming the segments and what they lack
    /// ([`Error::Incomplete`](crate::Error::Incomplete)): for audits.
    Fail,
}

impl OnIncomplete {
    /// As the setting is written: `warn` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnIncomplete::Warn => "warn",
            OnIncomplete::Fail => "fail",
        }
    }
}

impl std::fmt::Display for OnIncomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not `warn` or `fail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither warn nor fail")]
pub struct InvalidOnIncomplete(String);

impl std::str::FromStr for OnIncomplete {
    type Err = InvalidOnIncomplete;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "warn" => Ok(OnIncomplete::Warn),
            "fail" => Ok(OnIncomplete::Fail),
            _ => Err(InvalidOnIncomplete(s.to_string())),
        }
    }
}

/// Default of [`Rapid7Config::settle`]: five minutes.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(300);

/// Default of [`Rapid7Config::max_fetch_events`]: one million events, about
/// 2,000 queries or 20 minutes of one key's quota.
pub const DEFAULT_MAX_FETCH_EVENTS: u64 = 1_000_000;

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
    /// How many pieces are fetched into segments at once, for the whole
    /// source: every statement and `sync` share these slots (and the
    /// client's rate limit), so fetch memory has one bound
    /// (docs/runbook.md, "Memory"). Default 4.
    pub fetch_concurrency: usize,
    /// Pinned field schemas of `rapid7_parsed` tables, by log name or id.
    /// Logs not listed get a schema inferred from the cache.
    pub field_schemas: BTreeMap<String, FieldSchema>,
    /// A statement whose missing ranges hold more events than this (by
    /// Rapid7's statistics, asked before any event page) fails before it
    /// fetches; 0 means no limit. A session changes it with
    /// `SET rapid7.max_fetch_events = N`. Default
    /// [`DEFAULT_MAX_FETCH_EVENTS`].
    pub max_fetch_events: u64,
    /// Whether [`Rapid7Config::max_fetch_events`] is a ceiling: a session
    /// may lower it (`SET rapid7.max_fetch_events = N`) but neither raise
    /// nor lift it (`= 0` keeps it). For a source shared by several users
    /// (a server); the shell's user may raise it. Default `false`.
    pub fetch_limit_is_ceiling: bool,
    /// Answer `count(*)` (plain, per `date_bin` or per log) over ranges the
    /// cache lacks from Rapid7's statistics instead of paging their events
    /// (exact; see `provider::counts`). A session changes it with
    /// `SET rapid7.pushdown_aggregates = false`. Default `true`.
    pub pushdown_aggregates: bool,
    /// What a statement does with a cached segment that lacks events
    /// (the decoder rejected some, or its range reaches past the log's
    /// retention): read it and rely on the fetch's one warning
    /// ([`OnIncomplete::Warn`], the default), or fail naming it
    /// ([`OnIncomplete::Fail`], for audits). `RAPID7_ON_INCOMPLETE`; a
    /// session changes it with `SET rapid7.on_incomplete = 'fail'`.
    pub on_incomplete: OnIncomplete,
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

    pub(crate) fn with_parts(client: Option<Client>, cache: SegmentCache) -> Self {
        Rapid7Config {
            client,
            cache,
            settle: DEFAULT_SETTLE,
            offline: false,
            log_list_ttl: Duration::from_secs(300),
            fetch_chunk: Duration::from_secs(3600),
            fetch_concurrency: 4,
            field_schemas: Default::default(),
            max_fetch_events: DEFAULT_MAX_FETCH_EVENTS,
            fetch_limit_is_ceiling: false,
            pushdown_aggregates: true,
            on_incomplete: OnIncomplete::Warn,
        }
    }

    /// Pin the field schema of `log` (a name or an id) in `rapid7_parsed`.
    pub fn with_field_schema(mut self, log: impl Into<String>, schema: FieldSchema) -> Self {
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

    /// Set [`Rapid7Config::max_fetch_events`] (0: no limit).
    pub fn with_max_fetch_events(mut self, n: u64) -> Self {
        self.max_fetch_events = n;
        self
    }

    /// Set [`Rapid7Config::fetch_limit_is_ceiling`].
    pub fn with_fetch_limit_ceiling(mut self, ceiling: bool) -> Self {
        self.fetch_limit_is_ceiling = ceiling;
        self
    }

    /// Set [`Rapid7Config::on_incomplete`].
    pub fn with_on_incomplete(mut self, on: OnIncomplete) -> Self {
        self.on_incomplete = on;
        self
    }

    /// Set [`Rapid7Config::pushdown_aggregates`].
    pub fn with_pushdown_aggregates(mut self, on: bool) -> Self {
        self.pushdown_aggregates = on;
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
pub fn field_schemas_from_env() -> Result<BTreeMap<String, FieldSchema>> {
    match env_var(ENV_FIELDS) {
        Some(path) => load_field_schemas(std::path::Path::new(&path)),
        None => Ok(Default::default()),
    }
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
