//! The line editor's helper: rustyline's `Completer` (catalog names,
//! commands, files after `\o`), `Hinter` (from history), `Highlighter`
//! (SQL colours) and `Validator` (a statement ends with `;`, a command at
//! the end of its line; an answer to a question at once).

use std::borrow::Cow;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use tokio::runtime::Runtime;

use crate::complete::{Names, complete};
use crate::highlight::highlight;
use crate::inert::has_controls;
use crate::setup::Session;

/// The shell's helper.
pub(crate) struct ShellHelper {
    /// What completes, as the catalog was before this prompt.
    pub(crate) names: Names,
    /// A question is being asked: any line answers it.
    pub(crate) asking: bool,
    files: FilenameCompleter,
    history: HistoryHinter,
}

impl ShellHelper {
    pub(crate) fn new() -> Self {
        ShellHelper {
            names: Names::default(),
            asking: false,
            files: FilenameCompleter::new(),
            history: HistoryHinter::new(),
        }
    }
}

/// The names of the session's catalog, read from DataFusion's catalog API
/// (the `rapid7` schema answers from the log list it holds: no API call).
pub(crate) fn catalog_names(rt: &Runtime, session: &Session) -> Names {
    let state = session.ctx.state();
    let options = state.config_options();
    let default_catalog = options.catalog.default_catalog.clone();
    let default_schema = options.catalog.default_schema.clone();
    let mut names = Names {
        default_schema: default_schema.clone(),
        ..Names::default()
    };
    names
        .functions
        .extend(state.scalar_functions().keys().cloned());
    names
        .functions
        .extend(state.aggregate_functions().keys().cloned());
    names
        .functions
        .extend(state.window_functions().keys().cloned());
    names
        .functions
        .extend(state.table_functions().keys().cloned());
    names.columns.extend(
        datafusion_rapid7::events::event_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone()),
    );
    let Some(catalog) = session.ctx.catalog(&default_catalog) else {
        return names;
    };
    names.schemas = catalog.schema_names();
    for schema_name in &names.schemas {
        let Some(schema) = catalog.schema(schema_name) else {
            continue;
        };
        let tables = schema.table_names();
        if *schema_name == default_schema {
            // The tables of the default schema (rapid7_logs, the user's
            // own) are in memory: their columns too.
            for table in &tables {
                if let Ok(Some(provider)) = rt.block_on(schema.table(table)) {
                    names
                        .columns
                        .extend(provider.schema().fields().iter().map(|f| f.name().clone()));
                }
            }
        }
        names.tables.insert(schema_name.clone(), tables);
    }
    names
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.trim_start().starts_with("\\o ") {
            return self.files.complete(line, pos, ctx);
        }
        let (start, found) = complete(&self.names, line, pos);
        // A name with control characters (a log's, from the API) is not
        // offered: the line editor would show it raw.
        let pairs = found
            .into_iter()
            .filter(|c| !has_controls(c))
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        if self.asking {
            return None;
        }
        self.history.hint(line, pos, ctx)
    }
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.asking {
            return Cow::Borrowed(line);
        }
        highlight(line).map_or(Cow::Borrowed(line), Cow::Owned)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        kind != CmdKind::MoveCursor
    }
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(match self.asking || is_complete(ctx.input()) {
            true => ValidationResult::Valid(None),
            false => ValidationResult::Incomplete,
        })
    }
}

impl Helper for ShellHelper {}

/// Whether `input` is ready to run: empty, a command (`\d`, `quit`), or
/// SQL ending with `;`.
pub(crate) fn is_complete(input: &str) -> bool {
    let t = input.trim();
    t.is_empty() || t.starts_with('\\') || matches!(t, "quit" | "exit" | "help") || t.ends_with(';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_with_a_semicolon_commands_with_their_line() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1\n  FROM t;  "));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT 1\nFROM t"));
        assert!(is_complete("\\d rapid7.\"Auth Service\""));
        assert!(is_complete("  "));
        assert!(is_complete("quit"));
    }
}
