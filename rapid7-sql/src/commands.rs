//! The subcommands: `sync`, `summary`, `cache …` and `config`. Each prints
//! JSON or a table on stdout (control characters made inert when it is a
//! terminal); the work is done by the library.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion_rapid7::cache::CompactOptions;
use datafusion_rapid7::config::Settings;
use datafusion_rapid7::ops::SummaryRequest;
use datafusion_rapid7::time::TimeRange;
use datafusion_rapid7::time::fmt_ms;
use datafusion_rapid7::time::parse_timestamp;
use datafusion_rapid7::{Error, Rapid7};

use crate::args::{CacheCommand, DoctorArgs, Format, Global, PublishArgs, SummaryArgs, SyncArgs};
use crate::exec::write_batches;
use crate::output::results_stdout;
use crate::setup::{self, Session};

fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(json_error)?;
    let mut out = results_stdout();
    writeln!(out, "{text}").map_err(io_error)?;
    out.flush().map_err(io_error)
}

fn io_error(source: std::io::Error) -> Error {
    Error::Io {
        action: "write to",
        path: None,
        source,
    }
}

pub(crate) async fn sync(session: &Session, args: &SyncArgs) -> Result<(), Error> {
    let from = match (&args.from, args.since) {
        (Some(from), _) => parse_timestamp("--from", from)?,
        (None, Some(since)) => datafusion_rapid7::time::now_ms()
            .saturating_sub(datafusion_rapid7::time::duration_ms(since)),
        (None, None) => unreachable!("clap requires --since or --from"),
    };
    let to = args
        .to
        .as_deref()
        .map(|t| parse_timestamp("--to", t))
        .transpose()?;
    let mut report = session.rapid7.sync(&args.logs, from, to).await?;
    if args.summary {
        session
            .rapid7
            .summarize_sync(&session.ctx, &args.logs, &mut report, args.output.clone())
            .await?;
    }
    let Some(url) = &args.publish else {
        return print_json(&report);
    };
    // The synced window, as the report states it.
    let window = TimeRange::new(
        parse_timestamp("window", &report.window[0])?,
        parse_timestamp("window", &report.window[1])?,
    )?;
    let target = crate::publish::target(url)?;
    let published = session
        .rapid7
        .publish(&args.logs, &target, Some(window))
        .await?;
    let mut value = serde_json::to_value(&report).map_err(json_error)?;
    value["published"] = serde_json::to_value(&published).map_err(json_error)?;
    print_json(&value)
}

/// A report that cannot be written as JSON, as the output error it is.
fn json_error(e: serde_json::Error) -> Error {
    io_error(e.into())
}

pub(crate) async fn publish(session: &Session, args: &PublishArgs) -> Result<(), Error> {
    let now = datafusion_rapid7::time::now_ms();
    let from = match (&args.from, args.since) {
        (Some(from), _) => Some(parse_timestamp("--from", from)?),
        (None, Some(since)) => {
            Some(now.saturating_sub(datafusion_rapid7::time::duration_ms(since)))
        }
        (None, None) => None,
    };
    let to = args
        .to
        .as_deref()
        .map(|t| parse_timestamp("--to", t))
        .transpose()?;
    let window = match (from, to) {
        (None, None) => None,
        (from, to) => Some(
            TimeRange::new(from.unwrap_or(i64::MIN / 2), to.unwrap_or(now)).map_err(|_| {
                Error::Config {
                    key: "--from/--to".into(),
                    message: "--from must be before --to".into(),
                }
            })?,
        ),
    };
    let value = crate::publish::run(session, args, window).await?;
    print_json(&value)
}

pub(crate) async fn summary(session: &Session, args: &SummaryArgs) -> Result<(), Error> {
    let from = parse_timestamp("--from", &args.from)?;
    let to = parse_timestamp("--to", &args.to)?;
    let window = TimeRange::new(from, to).map_err(|_| Error::Config {
        key: "--from/--to".into(),
        message: "--from must be before --to".into(),
    })?;
    let request = SummaryRequest {
        logs: args.logs.clone(),
        window,
        bucket: args.bucket,
        output: args.output.clone(),
    };
    let summary = session.rapid7.summarize(&session.ctx, &request).await?;
    match &args.output {
        Some(_) => Ok(()),
        None => print_json(&summary),
    }
}

async fn log_id(rapid7: &Rapid7, name: &str) -> Result<String, Error> {
    Ok(rapid7.find_log(name).await?.id)
}

/// `doctor`: the report on stdout, as text or (`--format json`) JSON;
/// `false` when a check failed.
pub(crate) async fn doctor(
    session: &Session,
    args: &DoctorArgs,
    format: Format,
) -> Result<bool, Error> {
    let options = datafusion_rapid7::ops::doctor::DoctorOptions {
        logs: args.logs.clone(),
    };
    let report = session.rapid7.doctor(&options).await?;
    let text = match format {
        Format::Json | Format::Ndjson => report.to_json(),
        Format::Table | Format::Csv => report.to_string(),
    };
    writeln!(std::io::stdout().lock(), "{text}").map_err(io_error)?;
    Ok(!report.failed())
}

pub(crate) async fn cache(session: &Session, command: &CacheCommand) -> Result<bool, Error> {
    let rapid7 = &session.rapid7;
    let cache = rapid7.cache();
    match command {
        CacheCommand::Ls { log } => {
            let ids = match log {
                Some(name) => vec![log_id(rapid7, name).await?],
                None => cache.list_logs().await?,
            };
            let names = cache.load_log_names().await?;
            let mut rows = Vec::new();
            for id in ids {
                for seg in cache.list_segments(&id).await? {
                    rows.push(serde_json::json!({
                        "log_id": id,
                        "log_name": names.get(&id),
                        "from": fmt_ms(seg.range().start()),
                        "to": fmt_ms(seg.range().end()),
                        "rows": seg.row_count(),
                        "bytes": seg.size_bytes(),
                        "parts": seg.manifest().parts.len(),
                        "filter": seg.manifest().filter,
                        "created": fmt_ms(seg.manifest().created_at_ms),
                        "location": seg.location(),
                    }));
                }
            }
            print_json(&rows)?;
            Ok(true)
        }
        CacheCommand::Verify { log } => {
            let id = match log {
                Some(name) => Some(log_id(rapid7, name).await?),
                None => None,
            };
            let report = cache.verify(id.as_deref()).await?;
            let ok = report.failures.is_empty();
            print_json(&report)?;
            Ok(ok)
        }
        CacheCommand::Gc { grace, older_than } => {
            // Retention first, so what it retires is protected by the
            // grace period like any retired segment.
            let expired = match older_than.or(cache.config().retention) {
                Some(older_than) => Some(cache.expire(older_than).await?),
                None => None,
            };
            let report = match grace {
                Some(g) => cache.gc_with_grace(*g).await?,
                None => cache.gc().await?,
            };
            let mut json = serde_json::to_value(report).map_err(json_error)?;
            if let (Some(expired), Some(map)) = (expired, json.as_object_mut()) {
                map.insert(
                    "expired".into(),
                    serde_json::to_value(expired).unwrap_or_default(),
                );
            }
            print_json(&json)?;
            Ok(true)
        }
        CacheCommand::Drop { log, from, to } => {
            let id = log_id(rapid7, log).await?;
            let report = match (from, to) {
                (Some(f), Some(t)) => {
                    let range =
                        TimeRange::new(parse_timestamp("--from", f)?, parse_timestamp("--to", t)?)
                            .map_err(|_| Error::Config {
                                key: "--from/--to".into(),
                                message: "--from must be before --to".into(),
                            })?;
                    cache.drop_range(&id, range).await?
                }
                _ => cache.drop_log(&id).await?,
            };
            print_json(&report)?;
            Ok(true)
        }
        CacheCommand::Compact { log } => {
            let id = log_id(rapid7, log).await?;
            let report = cache.compact(&id, CompactOptions::default()).await?;
            print_json(&report)?;
            Ok(true)
        }
    }
}

/// `rapid7-sql config`: every setting, its value and where it came from,
/// in the chosen format. Calls no API (`--demo` starts the simulator, as it
/// would for a query); the API key shows as `<redacted>`.
pub(crate) async fn config(global: &Global, settings: &Settings) -> Result<(), Error> {
    let (config, _demo, used) = setup::configure(global, settings, true).await?;
    let mut rows: Vec<[String; 4]> = used
        .effective(&config)
        .into_iter()
        .map(|e| {
            let flag = match e.setting {
                "RAPID7_API_KEY" => "(environment only)".to_string(),
                _ => format!("--{}", e.option),
            };
            [e.setting.to_string(), flag, e.value, e.origin.to_string()]
        })
        .collect();
    let (level, level_origin) = setup::log_level(global);
    let (format, format_origin) = setup::log_format(global).map_err(|message| Error::Config {
        key: setup::ENV_LOG_FORMAT.into(),
        message,
    })?;
    let format = format!("{format:?}").to_ascii_lowercase();
    for (env, flag, value, origin) in [
        (setup::ENV_LOG_LEVEL, "--log-level", level, level_origin),
        (setup::ENV_LOG_FORMAT, "--log-format", format, format_origin),
    ] {
        rows.push([env.into(), flag.into(), value, origin.to_string()]);
    }
    let schema = Arc::new(Schema::new(
        ["setting", "flag", "value", "source"]
            .map(|name| Field::new(name, DataType::Utf8, false))
            .to_vec(),
    ));
    let columns = (0..4)
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].as_str()),
            )) as datafusion::arrow::array::ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    let mut out = results_stdout();
    write_batches(global.format, schema, vec![batch], &mut out)
        .map(|_| ())
        .map_err(|e| Error::DataFusion(Box::new(e)))?;
    Ok(())
}
