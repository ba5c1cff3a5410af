//! The interactive shell: a line editor with completion, highlighting,
//! hints from history and multi-line statements (end with `;`), the
//! shell's commands (`\?`), results through the pager, and Ctrl-C to
//! cancel the running query and keep the prompt.

use std::io::IsTerminal;

use rustyline::Editor;
use rustyline::config::{Behavior, CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use tokio::runtime::Runtime;

use crate::backslash::{self, Shell};
use crate::exec::{Display, run_sql};
use crate::helper::{ShellHelper, catalog_names};
use crate::inert::print_error;
use crate::output::Destination;
use crate::setup::Session;

const PROMPT: &str = "rapid7> ";

type LineEditor = Editor<ShellHelper, DefaultHistory>;

pub(crate) fn run(rt: &Runtime, session: &Session, display: Display) -> Result<(), String> {
    // Typed on a terminal while results go elsewhere (`> out.txt`): the
    // editor talks to the terminal itself, so results stay clean.
    let behavior = match std::io::stdin().is_terminal() && !std::io::stdout().is_terminal() {
        true => Behavior::PreferTerm,
        false => Behavior::Stdio,
    };
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .behavior(behavior)
        .build();
    let mut editor =
        LineEditor::with_config(config).map_err(|e| format!("cannot start the shell: {e}"))?;
    editor.set_helper(Some(ShellHelper::new()));
    let history = datafusion_rapid7::config::default_cache_dir()
        .ok()
        .map(|d| d.join("history.txt"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    eprintln!("Type SQL ending with ';', \\? for help, \\q to quit.");
    let mut shell = Shell {
        display,
        dest: Destination::shell(),
    };
    loop {
        // Once per prompt, from the catalog (no API call): what completes.
        if let Some(helper) = editor.helper_mut() {
            helper.names = catalog_names(rt, session);
        }
        match editor.readline(PROMPT) {
            Ok(input) => {
                let input = input.trim();
                if input.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(input);
                if let Some(command) = backslash::parse(input) {
                    if !backslash::run(rt, session, &mut shell, command) {
                        break;
                    }
                    continue;
                }
                shell.dest.set_screen(
                    editor
                        .dimensions()
                        .map(|(c, r)| (usize::from(c), usize::from(r))),
                );
                run_one(rt, session, input, &mut shell, &mut editor);
            }
            // Ctrl-C at the prompt drops the statement being typed.
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(format!("cannot read input: {e}")),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// Run `sql`; Ctrl-C cancels it (fetches stop, nothing half-committed). A
/// fetch over the budget is asked about on the shell's own line editor.
fn run_one(rt: &Runtime, session: &Session, sql: &str, shell: &mut Shell, editor: &mut LineEditor) {
    let mut ask = |question: &str| {
        if let Some(h) = editor.helper_mut() {
            h.asking = true;
        }
        let answer = editor.readline(question);
        if let Some(h) = editor.helper_mut() {
            h.asking = false;
        }
        matches!(
            answer.as_deref().map(str::trim),
            Ok("y" | "Y" | "yes" | "YES" | "Yes")
        )
    };
    let display = shell.display;
    rt.block_on(async {
        tokio::select! {
            result = run_sql(session, sql, display, Some(&mut ask), &mut shell.dest) => {
                if let Err(e) = result {
                    print_error(&e);
                }
            }
            _ = tokio::signal::ctrl_c() => eprintln!("\ncancelled"),
        }
    });
}
