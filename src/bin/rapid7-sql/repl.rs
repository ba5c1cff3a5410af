//! The interactive shell: history, multi-line statements (end with `;`),
//! Ctrl-C cancels the running query and keeps the prompt.

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use tokio::runtime::Runtime;

use crate::exec::{Display, run_sql};
use crate::setup::Session;

const PROMPT: &str = "rapid7> ";
const CONTINUE: &str = "   ...> ";

pub(crate) fn run(rt: &Runtime, session: &Session, display: Display) -> Result<(), String> {
    let mut editor = DefaultEditor::new().map_err(|e| format!("cannot start the shell: {e}"))?;
    let history = datafusion_rapid7::config::default_cache_dir()
        .ok()
        .map(|d| d.join("history.txt"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    eprintln!("Type SQL ending with ';', \\? for help, \\q to quit.");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { PROMPT } else { CONTINUE };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() {
                    match trimmed {
                        "" => continue,
                        "\\q" | "quit" | "exit" => break,
                        "\\?" | "help" | "\\h" => {
                            println!("{}", help(rt, session));
                            continue;
                        }
                        "\\d" => {
                            let _ = editor.add_history_entry(trimmed);
                            run_one(rt, session, "SHOW TABLES;", display, &mut editor);
                            continue;
                        }
                        _ => {}
                    }
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if trimmed.ends_with(';') {
                    let sql = std::mem::take(&mut buffer);
                    let _ = editor.add_history_entry(sql.trim());
                    run_one(rt, session, &sql, display, &mut editor);
                }
            }
            // Ctrl-C at the prompt drops the statement being typed.
            Err(ReadlineError::Interrupted) => buffer.clear(),
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
fn run_one(
    rt: &Runtime,
    session: &Session,
    sql: &str,
    display: Display,
    editor: &mut DefaultEditor,
) {
    let mut ask = |question: &str| {
        matches!(
            editor.readline(question).as_deref().map(str::trim),
            Ok("y" | "Y" | "yes" | "YES" | "Yes")
        )
    };
    rt.block_on(async {
        tokio::select! {
            result = run_sql(session, sql, display, Some(&mut ask)) => {
                if let Err(e) = result {
                    eprintln!("error: {e}");
                }
            }
            _ = tokio::signal::ctrl_c() => eprintln!("\ncancelled"),
        }
    });
}

fn help(rt: &Runtime, session: &Session) -> String {
    let logs = rt
        .block_on(session.rapid7.logs())
        .map(|logs| {
            logs.iter()
                .map(|l| format!("  rapid7.\"{}\"", l.label().replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|e| format!("  (cannot list logs: {e})"));
    format!(
        "Tables:
  rapid7_logs            every log: timestamp, log_id, log_name, sequence_number, message, labels
{logs}
Functions:
  rapid7_cache()                     the cached segments
  rapid7_coverage(log, from, to)     cached / missing / recent ranges of a window
  rapid7_leql(log, from, to, 'LEQL') any LEQL statement run on Rapid7 (not cached)
Settings: SET rapid7.max_fetch_events = N (0: no limit); SET rapid7.pushdown_aggregates = false
Every query needs a lower bound on timestamp, for example:
  SELECT log_name, count(*) FROM rapid7_logs
  WHERE timestamp >= now() - interval '1 hour' GROUP BY log_name;
Commands: \\d list tables, \\? help, \\q quit. Ctrl-C cancels a running query."
    )
}
