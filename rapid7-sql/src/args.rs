//! Command-line arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// SQL over Rapid7 InsightOps / InsightIDR log search, with a local Parquet cache.
///
/// The API key is read from RAPID7_API_KEY only. Without -c, -f or a
/// subcommand, opens the interactive shell.
#[derive(Debug, Parser)]
#[command(name = "rapid7-sql", version, after_help = EXAMPLES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

const EXAMPLES: &str = "Examples:
  rapid7-sql --demo
  rapid7-sql -c \"SELECT log_name, count(*) FROM rapid7_logs WHERE timestamp >= now() - interval '1 hour' GROUP BY 1\"
  rapid7-sql sync --log Firewall --since 7d
  rapid7-sql publish --log Firewall --table s3://lake/rapid7/firewall
  rapid7-sql --published s3://lake/rapid7 -c 'SELECT count(*) FROM rapid7_published.\"Firewall\"'
  rapid7-sql cache ls
  rapid7-sql doctor --format json
  rapid7-sql serve --listen 127.0.0.1:8815 --metrics-listen 127.0.0.1:9815";

/// Options of every mode.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Run this SQL (one or more statements) and exit; repeatable.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub(crate) commands: Vec<String>,
    /// Run the SQL in this file and exit; repeatable.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Output format of query results.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub(crate) format: Format,
    /// No progress, timing, summary or warning lines on stderr (log lines
    /// follow --log-level).
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Format of log lines on stderr [env: RAPID7_LOG_FORMAT; default text].
    #[arg(long, value_enum, global = true)]
    pub(crate) log_format: Option<LogFormat>,
    /// Log filter, e.g. info or datafusion_rapid7=debug [env: RAPID7_LOG_LEVEL; default warn].
    #[arg(long, global = true)]
    pub(crate) log_level: Option<String>,
    /// Run against the bundled simulator of the Rapid7 API (no key needed).
    #[arg(long, global = true)]
    pub(crate) demo: bool,
    /// Also query the Delta tables `publish` keeps at this location (a table
    /// or a prefix of tables, path or s3:// URL), as tables rapid7_published.NAME.
    #[arg(long, value_name = "URL")]
    pub(crate) published: Option<String>,
}

fn parse_older_than(s: &str) -> Result<Duration, String> {
    use datafusion_rapid7::cache::{CacheKey, parse_retention};
    match parse_retention(CacheKey::Retention.spec(), s) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err("use a duration of at least 1h, e.g. 30d".into()),
        Err(e) => Err(e.message),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e}; use e.g. 30s, 5m or 2h"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Extend the cache of some logs up to now - settle, fetching only what
    /// is missing; prints a JSON report.
    Sync(SyncArgs),
    /// Summarise a window of logs as JSON (row count, columns, time span,
    /// events per log and per time bucket, segments used).
    Summary(SummaryArgs),
    /// Inspect and maintain the cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Publish the cache as Delta Lake tables (one per log, partitioned by
    /// UTC date) that Spark, Trino, DuckDB, Polars and Athena read; only what
    /// is new since the last publish. Prints a JSON report.
    Publish(PublishArgs),
    /// Check what this key and endpoint really do, in at most 30 queries:
    /// region, key, rate-limit headers, polling, `to`/`from`/slice
    /// boundaries, statistics, newest-first order, queries over two logs,
    /// text or JSON messages. Prints a report to attach to an issue (JSON
    /// with --format json); never the key, never event text. Run it first
    /// against a new tenant.
    Doctor(DoctorArgs),
    /// Serve SQL over Arrow Flight SQL to the team's clients (ADBC, JDBC,
    /// ODBC drivers): one process holds the key, its quota and the cache.
    /// Prints `flight_sql=grpc://HOST:PORT` (and `metrics=…`) once listening;
    /// stops on SIGTERM or SIGINT after running statements finish (--grace);
    /// SIGHUP reloads the token file. See docs/server.md.
    Serve(crate::serve::ServeArgs),
    /// Print the effective configuration: every setting, its value and
    /// where it came from (default, environment, flag). The API key is
    /// never shown. Calls no API.
    Config,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// A log to sample (name or id), repeatable (at most ten are sampled);
    /// default: the first three the key sees.
    #[arg(long = "log", value_name = "NAME_OR_ID")]
    pub(crate) logs: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// Log names or ids (repeatable; default: every log in the cache).
    #[arg(long = "log", value_name = "NAME_OR_ID")]
    pub(crate) logs: Vec<String>,
    /// The table (one --log), or the prefix holding one table per log id
    /// (several logs, or none): a directory or s3://bucket/prefix.
    #[arg(long, value_name = "URL")]
    pub(crate) table: String,
    /// Publish only the last DURATION, e.g. 7d (default: everything cached).
    #[arg(long, value_parser = parse_duration, conflicts_with = "from")]
    pub(crate) since: Option<Duration>,
    /// Publish only from here (RFC 3339).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Publish only up to here (RFC 3339, exclusive; at most now - settle).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Then compact each table's small files.
    #[arg(long)]
    pub(crate) optimize: bool,
    /// Then delete files that no version within the retention references.
    #[arg(long)]
    pub(crate) vacuum: bool,
    /// Vacuum retention (default: the table's, 7 days); shorter than the
    /// table's delta.deletedFileRetentionDuration is refused.
    /// (Not `--retention`: that is the cache's, RAPID7_RETENTION.)
    #[arg(long, value_parser = parse_duration, requires = "vacuum")]
    pub(crate) vacuum_retention: Option<Duration>,
    /// Vacuum only lists what it would delete.
    #[arg(long, requires = "vacuum")]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Log names or ids (repeatable; default: every log).
    #[arg(long = "log", value_name = "NAME_OR_ID")]
    pub(crate) logs: Vec<String>,
    /// How far back to sync, e.g. 7d or 12h.
    #[arg(long, value_parser = parse_duration, conflicts_with = "from", required_unless_present = "from")]
    pub(crate) since: Option<Duration>,
    /// Start of the window (RFC 3339).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// End of the window (RFC 3339; default and at most now - settle).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Then publish the synced window as Delta tables at URL (see `publish`).
    #[arg(long, value_name = "URL")]
    pub(crate) publish: Option<String>,
    /// Then summarise the synced window (as `summary` does) into the
    /// report's `summary`, written as JSON to -o FILE or, without -o, to
    /// CACHE/summaries/sync-FROM-TO[-LOGS].json in a local cache; the
    /// report's `summary_output` names the file.
    #[arg(long)]
    pub(crate) summary: bool,
    /// Where --summary writes the summary.
    #[arg(long, short = 'o', value_name = "FILE", requires = "summary")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SummaryArgs {
    /// Log names or ids (repeatable; default: every log).
    #[arg(long = "log", value_name = "NAME_OR_ID")]
    pub(crate) logs: Vec<String>,
    /// Start of the window (RFC 3339).
    #[arg(long)]
    pub(crate) from: String,
    /// End of the window (RFC 3339, exclusive).
    #[arg(long)]
    pub(crate) to: String,
    /// Bucket width, e.g. 1m or 1h (default: from the window length).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) bucket: Option<Duration>,
    /// Write the JSON here instead of stdout.
    #[arg(long, short = 'o')]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// List the committed segments.
    Ls {
        /// Only this log (name or id).
        #[arg(long = "log")]
        log: Option<String>,
    },
    /// Read every part of every segment and check it against its manifest.
    Verify {
        /// Only this log (name or id).
        #[arg(long = "log")]
        log: Option<String>,
    },
    /// Remove leftovers of interrupted fetches and, past the grace period,
    /// segments retired by compaction or retention; with --older-than (or
    /// RAPID7_RETENTION), first retire segments that ended longer ago.
    Gc {
        /// Only leftovers idle this long, and retired segments retired this
        /// long ago, are deleted (default 1h).
        #[arg(long, value_parser = parse_duration)]
        grace: Option<Duration>,
        /// Retire every segment whose range ended longer ago than this,
        /// e.g. 30d (a segment straddling the cut is kept; at least 1h).
        /// Overrides --retention / RAPID7_RETENTION for this run.
        #[arg(long, value_name = "DURATION", value_parser = parse_older_than)]
        older_than: Option<Duration>,
    },
    /// Remove a log's segments (all, or those overlapping --from/--to).
    Drop {
        /// The log (name or id).
        #[arg(long = "log")]
        log: String,
        /// Start of the range to drop (RFC 3339).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// End of the range to drop (RFC 3339).
        #[arg(long, requires = "from")]
        to: Option<String>,
    },
    /// Merge small adjacent segments of a log.
    Compact {
        /// The log (name or id).
        #[arg(long = "log")]
        log: String,
    },
}
