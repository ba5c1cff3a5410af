//! Running SQL text: statements one by one, results to the destination
//! (stdout, a file, the pager) in the chosen format, progress and a summary
//! line on stderr when it is a terminal, and warnings on stderr (always,
//! unless `--quiet`) when a statement met events the decoder rejected or
//! ranges beyond the log's retention.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::sql::parser::DFParser;
use datafusion::sql::parser::Statement;
use datafusion_rapid7::client::ClientStatsSnapshot;
use datafusion_rapid7::provider::ScanCost;
use datafusion_rapid7::trace::{QueryId, statement_span_for};
use futures::TryStreamExt;
use tracing::Instrument;

use crate::args::Format;
use crate::fmt::{describe, is_fetch_budget, plural};
use crate::inert::inert_batch;
use crate::output::Destination;
use crate::progress::Progress;
use crate::setup::Session;
use datafusion_rapid7::text::group_digits;

/// How results and chatter are shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Display {
    pub(crate) format: Format,
    /// Progress lines on stderr while fetching.
    pub(crate) chatter: bool,
    /// The line after each statement on stderr: rows, time, what the cache
    /// and the API did (`\timing on|off` in the shell).
    pub(crate) timing: bool,
    /// Warnings about incomplete data on stderr, terminal or not.
    pub(crate) warnings: bool,
}

impl Display {
    pub(crate) fn new(format: Format, quiet: bool) -> Self {
        let chatter = !quiet && std::io::stderr().is_terminal();
        Display {
            format,
            chatter,
            timing: chatter,
            warnings: !quiet,
        }
    }
}

/// Asks the user a yes/no question (the shell); `None` where nobody can
/// answer (`-c`, `-f`): a fetch over the budget then fails.
pub(crate) type Ask<'a> = Option<&'a mut (dyn FnMut(&str) -> bool + 'a)>;

/// Run every statement of `sql` in order, results to `dest`; stop at the
/// first error.
pub(crate) async fn run_sql(
    session: &Session,
    sql: &str,
    display: Display,
    mut ask: Ask<'_>,
    dest: &mut Destination,
) -> Result<(), String> {
    let statements = DFParser::parse_sql(sql).map_err(|e| format!("SQL parse error: {e}"))?;
    for statement in statements {
        let id = QueryId::next();
        run_one(session, statement, display, ask.as_deref_mut(), dest, id)
            .instrument(statement_span_for(id))
            .await?;
    }
    Ok(())
}

/// Run one statement, in its `statement{query_id}` span.
async fn run_one(
    session: &Session,
    statement: Statement,
    display: Display,
    ask: Option<&mut (dyn FnMut(&str) -> bool + '_)>,
    dest: &mut Destination,
    id: QueryId,
) -> Result<(), String> {
    let started = Instant::now();
    let before = (session.rapid7.activity(), client_stats(session));
    // Planned (and asked about) before the progress display starts, so
    // a question is not drawn over.
    let planned = plan_statement(session, statement, ask)
        .await
        .map_err(|e| describe(&e))?;
    let progress = display
        .chatter
        .then(|| Progress::start(session.rapid7.clone()));
    let mut out = dest.statement();
    let why_paged = planned.why_paged.clone();
    let result = run_planned(planned, display.format, &mut out).await;
    if let Some(p) = progress {
        p.stop().await;
    }
    // Shown (or paged) once progress is off the screen.
    let result = result.and_then(|rows| out.finish().map(|()| rows).map_err(Into::into));
    let activity = session.rapid7.activity().since(&before.0);
    if display.warnings {
        // Also after a failed statement: what it fetched may be cached.
        for warning in warnings(&activity) {
            eprintln!("{warning}");
        }
    }
    let rows = result.map_err(|e| match is_fetch_budget(&e) && !why_paged.is_empty() {
        true => format!("{} ({})", describe(&e), why_paged.join("; ")),
        false => describe(&e),
    })?;
    if display.timing {
        let api = ApiActivity::between(&before.1, &client_stats(session));
        eprintln!(
            "{rows} row{} in {:.3}s{} [query {id}]",
            if rows == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64(),
            summary_line(&activity, &api)
        );
    }
    Ok(())
}

/// What a statement's activity says is missing from its data.
fn warnings(activity: &datafusion_rapid7::provider::Activity) -> Vec<String> {
    let mut out = Vec::new();
    let rejected = activity.events_rejected;
    if rejected > 0 {
        out.push(format!(
            "warning: {} event{} rejected by the decoder (no readable timestamp or sequence \
             number, no message, or another log's id; Rapid7 returned them, no result holds \
             them); see SELECT * FROM rapid7_cache() WHERE events_rejected > 0",
            group_digits(rejected),
            plural(rejected),
        ));
    }
    let beyond = activity.beyond_retention;
    if beyond > 0 {
        out.push(format!(
            "warning: {beyond} range{} reach{} beyond the log's retention (Rapid7 sent \
             x-beyond-retention: events older than the retention period are missing); see \
             SELECT * FROM rapid7_cache() WHERE beyond_retention",
            plural(beyond),
            if beyond == 1 { "es" } else { "" },
        ));
    }
    out
}

fn client_stats(session: &Session) -> Option<ClientStatsSnapshot> {
    session.rapid7.client().map(|c| c.stats())
}

/// What one statement asked of the API.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ApiActivity {
    queries: u64,
    polls: u64,
    pages: u64,
    rate_limit_waits: u64,
    rate_limit_wait_ms: u64,
    rejected: u64,
}

impl ApiActivity {
    fn between(before: &Option<ClientStatsSnapshot>, after: &Option<ClientStatsSnapshot>) -> Self {
        let (Some(a), Some(b)) = (before, after) else {
            return Self::default();
        };
        Self {
            queries: b.queries.saturating_sub(a.queries),
            polls: b.polls.saturating_sub(a.polls),
            pages: b.pages.saturating_sub(a.pages),
            // The client's own pacing and Rapid7's 429s both made it wait.
            rate_limit_waits: (b.rate_limit_waits + b.rate_limited)
                .saturating_sub(a.rate_limit_waits + a.rate_limited),
            rate_limit_wait_ms: b.rate_limit_wait_ms.saturating_sub(a.rate_limit_wait_ms),
            rejected: b.events_failed.saturating_sub(a.events_failed),
        }
    }
}

fn summary_line(activity: &datafusion_rapid7::provider::Activity, api: &ApiActivity) -> String {
    let mut out = String::new();
    if activity.segments_reused > 0 || activity.ranges_fetched > 0 || activity.ranges_live > 0 {
        out.push_str(&format!(
            " (cache: {} segment{} reused, {} gap{} fetched, {} recent range{} read, {} events)",
            activity.segments_reused,
            plural(activity.segments_reused),
            activity.ranges_fetched,
            plural(activity.ranges_fetched),
            activity.ranges_live,
            plural(activity.ranges_live),
            group_digits(activity.events_fetched),
        ));
    }
    if api.queries > 0 || api.polls > 0 {
        out.push_str(&format!(
            " (API: {} quer{}, {} poll{}, {} page{}, {} rate-limit wait{} ({:.1} s), {} rejected event{})",
            group_digits(api.queries),
            if api.queries == 1 { "y" } else { "ies" },
            group_digits(api.polls),
            plural(api.polls),
            group_digits(api.pages),
            plural(api.pages),
            api.rate_limit_waits,
            plural(api.rate_limit_waits),
            api.rate_limit_wait_ms as f64 / 1e3,
            group_digits(api.rejected),
            plural(api.rejected),
        ));
    }
    out
}

/// A statement ready to run: its physical plan, the task context and the
/// schema of its results.
struct Planned {
    physical: Arc<dyn ExecutionPlan>,
    task: Arc<datafusion::execution::TaskContext>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    /// Why a pushdown did not apply to the scans over the fetch limit.
    why_paged: Vec<String>,
}

/// Plan `statement`; a fetch over the limit of events
/// ([`StatementCost`](datafusion_rapid7::provider::StatementCost)) is asked
/// about (`ask`) and approved on yes, or left to fail when it runs.
async fn plan_statement(
    session: &Session,
    statement: datafusion::sql::parser::Statement,
    ask: Option<&mut (dyn FnMut(&str) -> bool + '_)>,
) -> Result<Planned, DataFusionError> {
    let state = session.ctx.state();
    let plan = state.statement_to_plan(statement).await?;
    let df = session.ctx.execute_logical_plan(plan).await?;
    let schema = df.schema().inner().clone();
    let task = Arc::new(df.task_ctx());
    let mut physical = df.create_physical_plan().await?;
    let cost = session.rapid7.estimate(&physical);
    let over: Vec<&ScanCost> = cost.over_limit().collect();
    let mut why_paged: Vec<String> = over.iter().filter_map(|s| s.why_paged.clone()).collect();
    why_paged.dedup();
    if let Some(ask) = ask
        && !over.is_empty()
    {
        let fetch = over
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" and ");
        let mut not_pushed: Vec<&str> = over
            .iter()
            .flat_map(|s| s.not_pushed.iter().map(String::as_str))
            .collect();
        not_pushed.dedup();
        let mut note = match not_pushed.is_empty() {
            true => String::new(),
            false => format!(" (not sent to Rapid7: `{}`)", not_pushed.join("`, `")),
        };
        if !why_paged.is_empty() {
            note.push_str(&format!(" ({})", why_paged.join("; ")));
        }
        if !ask(&format!("Fetch {fetch}{note}? [y/N] ")) {
            return Err(DataFusionError::Execution(
                "not fetched: the estimate is over the limit and the answer was no \
                 (narrow the window, or SET rapid7.max_fetch_events = N)"
                    .into(),
            ));
        }
        physical = cost.approve(physical)?;
    }
    Ok(Planned {
        physical,
        task,
        schema,
        why_paged,
    })
}

async fn run_planned(
    planned: Planned,
    format: Format,
    sink: &mut dyn Write,
) -> Result<usize, DataFusionError> {
    let Planned {
        physical,
        task,
        schema,
        ..
    } = planned;
    let mut stream = execute_stream(physical, task)?;
    let mut out = Output::new(format, schema, sink);
    while let Some(batch) = stream.try_next().await? {
        out.push(batch)?;
    }
    out.finish()
}

/// `batches` in `format` to `sink` (the rows of `rapid7-sql config`, `\d`).
pub(crate) fn write_batches(
    format: Format,
    schema: datafusion::arrow::datatypes::SchemaRef,
    batches: Vec<RecordBatch>,
    sink: &mut dyn Write,
) -> Result<usize, DataFusionError> {
    let mut out = Output::new(format, schema, sink);
    for batch in batches {
        out.push(batch)?;
    }
    out.finish()
}

/// Results in a format. Tables are formatted once at the end (column
/// widths need every row), their text made inert (they are for people,
/// wherever they go); the other formats stream their exact bytes.
struct Output<'a> {
    format: Format,
    schema: datafusion::arrow::datatypes::SchemaRef,
    table: Vec<RecordBatch>,
    rows: usize,
    started: bool,
    sink: &'a mut dyn Write,
}

impl<'a> Output<'a> {
    fn new(
        format: Format,
        schema: datafusion::arrow::datatypes::SchemaRef,
        sink: &'a mut dyn Write,
    ) -> Self {
        Output {
            format,
            schema,
            table: Vec::new(),
            rows: 0,
            started: false,
            sink,
        }
    }

    fn push(&mut self, batch: RecordBatch) -> Result<(), DataFusionError> {
        self.rows += batch.num_rows();
        let stdout = &mut *self.sink;
        match self.format {
            Format::Table => self.table.push(batch),
            Format::Csv => {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(!self.started)
                    .build(&mut *stdout);
                w.write(&batch)?;
            }
            Format::Ndjson => {
                let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut *stdout);
                w.write(&batch)?;
                w.finish()?;
            }
            Format::Json => {
                // One JSON array over all batches: `[`, rows joined by `,`, `]`.
                let mut buf = Vec::new();
                {
                    let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
                    w.write(&batch)?;
                    w.finish()?;
                }
                for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    stdout.write_all(if self.started { b",\n" } else { b"[\n" })?;
                    stdout.write_all(line)?;
                    self.started = true;
                }
            }
        }
        if batch_is_output(&self.format) {
            self.started = true;
        }
        Ok(())
    }

    fn finish(self) -> Result<usize, DataFusionError> {
        let stdout = self.sink;
        match self.format {
            Format::Table => {
                if !self.table.is_empty() && self.rows > 0 {
                    let shown = self
                        .table
                        .iter()
                        .map(inert_batch)
                        .collect::<Result<Vec<_>, _>>()?;
                    writeln!(stdout, "{}", pretty_format_batches(&shown)?)?;
                } else if self.schema.fields().is_empty() {
                    // DDL and SET: nothing to show.
                } else {
                    let empty = inert_batch(&RecordBatch::new_empty(self.schema.clone()))?;
                    writeln!(stdout, "{}", pretty_format_batches(&[empty])?)?;
                }
            }
            Format::Csv if !self.started => {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut *stdout);
                w.write(&RecordBatch::new_empty(self.schema.clone()))?;
            }
            Format::Json => {
                stdout.write_all(if self.started { b"\n]\n" } else { b"[]\n" })?;
            }
            _ => {}
        }
        stdout.flush()?;
        Ok(self.rows)
    }
}

fn batch_is_output(format: &Format) -> bool {
    matches!(format, Format::Csv | Format::Ndjson)
}
