//! `\d NAME`: a table's columns and types; for a per-log table (`rapid7.…`,
//! `rapid7_parsed.…`) also its log id and what the cache holds of it
//! (segments, events, the spans they cover), from the segments' manifests:
//! no API call beyond the log list the session already keeps.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::TableReference;
use datafusion_rapid7::cache::merge_ranges;
use datafusion_rapid7::provider::{LOGS_SCHEMA, LOGSETS_SCHEMA, PARSED_SCHEMA};
use datafusion_rapid7::time::fmt_ms;

use crate::args::Format;
use crate::exec::write_batches;
use crate::fmt::plural;
use crate::inert::inert;
use crate::setup::Session;
use datafusion_rapid7::text::group_digits;

/// Spans of cached time listed one by one, at most.
const SPANS_SHOWN: usize = 5;

/// Describe the table `name` (SQL syntax: `rapid7."Auth Service"`) to `out`.
pub(crate) async fn describe(
    session: &Session,
    name: &str,
    out: &mut dyn Write,
) -> Result<(), String> {
    let reference = TableReference::parse_str(name);
    let table = session
        .ctx
        .table_provider(reference.clone())
        .await
        .map_err(|e| format!("no table {name}: {}", crate::fmt::describe(&e)))?;
    let schema = table.schema();
    let column = |f: fn(&Field) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            schema.fields().iter().map(|field| f(field)),
        ))
    };
    let columns = vec![
        column(|f| f.name().clone()),
        column(|f| f.data_type().to_string()),
        column(|f| if f.is_nullable() { "yes" } else { "no" }.into()),
    ];
    let shape = Arc::new(Schema::new(
        ["column", "type", "nullable"]
            .map(|n| Field::new(n, DataType::Utf8, false))
            .to_vec(),
    ));
    let batch = RecordBatch::try_new(Arc::clone(&shape), columns).map_err(|e| e.to_string())?;
    write_batches(Format::Table, shape, vec![batch], out).map_err(|e| e.to_string())?;
    if matches!(reference.schema(), Some(s) if s == LOGS_SCHEMA || s == PARSED_SCHEMA) {
        let lines = cached(session, reference.table()).await?;
        for line in lines {
            // Like the table above: for people, and the log's name is the
            // API's.
            writeln!(out, "{}", inert(&line)).map_err(|e| e.to_string())?;
        }
    }
    if reference.schema() == Some(LOGSETS_SCHEMA) {
        let set = session
            .rapid7
            .find_log_set(reference.table())
            .await
            .map_err(|e| crate::fmt::error(&e))?;
        let logs: Vec<String> = set.logs.iter().map(|l| l.label().to_string()).collect();
        let line = format!(
            "log set: {} (log set id {}): {} log{}: {}",
            set.name,
            set.id,
            logs.len(),
            plural(logs.len() as u64),
            logs.join(", ")
        );
        writeln!(out, "{}", inert(&line)).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

/// The log's id and what the cache holds of it.
async fn cached(session: &Session, table: &str) -> Result<Vec<String>, String> {
    let rapid7 = &session.rapid7;
    let log = rapid7
        .find_log(table)
        .await
        .map_err(|e| crate::fmt::error(&e))?;
    let mut lines = vec![format!("log: {} (log id {})", log.label(), log.id)];
    let segments = rapid7
        .cache()
        .list_segments(&log.id)
        .await
        .map_err(|e| crate::fmt::error(&e.into()))?;
    let (whole, filtered): (Vec<_>, Vec<_>) = segments.iter().partition(|s| s.filter().is_none());
    if whole.is_empty() {
        lines.push(match rapid7.cache().is_bypass() {
            true => "cached: nothing (the cache is bypassed)".into(),
            false => "cached: nothing yet".into(),
        });
    } else {
        let events: u64 = whole.iter().map(|s| s.row_count()).sum();
        let spans = merge_ranges(whole.iter().map(|s| s.range()));
        let n = whole.len() as u64;
        lines.push(format!(
            "cached: {n} segment{}, {} event{}, in {} span{}:",
            plural(n),
            group_digits(events),
            plural(events),
            spans.len(),
            plural(spans.len() as u64),
        ));
        for span in spans.iter().take(SPANS_SHOWN) {
            lines.push(format!(
                "  [{}, {})",
                fmt_ms(span.start()),
                fmt_ms(span.end())
            ));
        }
        if spans.len() > SPANS_SHOWN {
            lines.push(format!(
                "  ... and {} more, up to {}",
                spans.len() - SPANS_SHOWN,
                fmt_ms(spans[spans.len() - 1].end())
            ));
        }
    }
    if !filtered.is_empty() {
        let n = filtered.len() as u64;
        lines.push(format!(
            "filtered segments: {n} (each serves only statements with its filter; see rapid7_cache())"
        ));
    }
    Ok(lines)
}
