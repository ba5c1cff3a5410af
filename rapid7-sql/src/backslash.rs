//! The shell's own commands: `\d [NAME]`, `\format`, `\o [FILE]` (`\o!
//! FILE` through a symbolic link), `\timing`, `\?` (or `\h`, `help`) and
//! `\q` (or `quit`, `exit`).

use std::path::Path;

use datafusion_rapid7::provider::LOGS_SCHEMA;
use tokio::runtime::Runtime;

use crate::args::Format;
use crate::describe::describe;
use crate::exec::{Display, run_sql};
use crate::inert::{inert, print_error};
use crate::output::Destination;
use crate::setup::Session;

/// A line that is a command, not SQL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Backslash<'a> {
    Quit,
    Help,
    /// `\d`: the tables.
    List,
    /// `\d NAME`.
    Describe(&'a str),
    /// `\format [NAME]`.
    Format(Option<&'a str>),
    /// `\o [FILE]`.
    Output(Option<&'a str>),
    /// `\o! FILE`: also when FILE is a symbolic link.
    OutputThroughLink(&'a str),
    /// `\timing [on|off]`.
    Timing(Option<&'a str>),
    Unknown(&'a str),
}

/// The command `line` is, if it is one.
pub(crate) fn parse(line: &str) -> Option<Backslash<'_>> {
    let line = line.trim();
    match line {
        "quit" | "exit" => return Some(Backslash::Quit),
        "help" => return Some(Backslash::Help),
        _ => {}
    }
    let rest = line.strip_prefix('\\')?;
    let (name, arg) = match rest.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, Some(arg.trim()).filter(|a| !a.is_empty())),
        None => (rest, None),
    };
    Some(match (name, arg) {
        ("q", _) => Backslash::Quit,
        ("?" | "h", _) => Backslash::Help,
        ("d", None) => Backslash::List,
        ("d", Some(table)) => Backslash::Describe(table),
        ("format", arg) => Backslash::Format(arg),
        ("o", arg) => Backslash::Output(arg),
        ("o!", Some(file)) => Backslash::OutputThroughLink(file),
        ("timing", arg) => Backslash::Timing(arg),
        _ => Backslash::Unknown(line),
    })
}

/// What the shell keeps between statements.
pub(crate) struct Shell {
    pub(crate) display: Display,
    pub(crate) dest: Destination,
}

/// Run `command`; `false` to quit.
pub(crate) fn run(
    rt: &Runtime,
    session: &Session,
    shell: &mut Shell,
    command: Backslash<'_>,
) -> bool {
    match command {
        Backslash::Quit => return false,
        // Log names come from the API.
        Backslash::Help => println!("{}", inert(&help(rt, session, shell))),
        Backslash::List => {
            let mut display = shell.display;
            display.format = Format::Table;
            display.timing = false;
            if let Err(e) = rt.block_on(run_sql(
                session,
                "SHOW TABLES",
                display,
                None,
                &mut shell.dest,
            )) {
                print_error(&e);
            }
        }
        Backslash::Describe(name) => {
            let mut out = shell.dest.statement();
            let described = rt.block_on(describe(session, name, &mut out));
            let shown = out.finish().map_err(|e| e.to_string());
            if let Err(e) = described.and(shown) {
                print_error(&e);
            }
        }
        Backslash::Format(None) => eprintln!("format: {}", format_name(shell.display.format)),
        Backslash::Format(Some(name)) => match parse_format(name) {
            Some(format) => {
                shell.display.format = format;
                eprintln!("format: {}", format_name(format));
            }
            None => eprintln!("error: unknown format {name:?}; use table, csv, json or ndjson"),
        },
        Backslash::Output(None) => {
            shell.dest.send_to_stdout();
            eprintln!("results go to stdout");
        }
        Backslash::Output(Some(file)) => send_to_file(shell, file, false),
        Backslash::OutputThroughLink(file) => send_to_file(shell, file, true),
        Backslash::Timing(arg) => {
            let on = match arg {
                None => Some(!shell.display.timing),
                Some("on") => Some(true),
                Some("off") => Some(false),
                Some(other) => {
                    eprintln!("error: \\timing takes on or off, not {other:?}");
                    None
                }
            };
            if let Some(on) = on {
                shell.display.timing = on;
                eprintln!("timing is {}", if on { "on" } else { "off" });
            }
        }
        Backslash::Unknown(line) => {
            eprintln!("error: unknown command {line}; \\? lists the commands")
        }
    }
    true
}

fn send_to_file(shell: &mut Shell, file: &str, through_link: bool) {
    match shell.dest.send_to_file(Path::new(file), through_link) {
        Ok(()) => eprintln!("results go to {file}; \\o alone sends them to stdout again"),
        Err(e) => eprintln!("error: cannot write {file}: {e}"),
    }
}

fn parse_format(name: &str) -> Option<Format> {
    Some(match name.to_ascii_lowercase().as_str() {
        "table" => Format::Table,
        "csv" => Format::Csv,
        "json" => Format::Json,
        "ndjson" => Format::Ndjson,
        _ => return None,
    })
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Table => "table",
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Ndjson => "ndjson",
    }
}

fn help(rt: &Runtime, session: &Session, shell: &Shell) -> String {
    // The per-log tables as the schema names them (a log whose name another
    // log shares goes by its id), from a fresh log list.
    let logs = rt
        .block_on(session.rapid7.logs())
        .map(|_| {
            let state = session.ctx.state();
            let catalog = &state.config_options().catalog.default_catalog;
            let tables = session
                .ctx
                .catalog(catalog)
                .and_then(|c| c.schema(LOGS_SCHEMA))
                .map(|s| s.table_names())
                .unwrap_or_default();
            tables
                .iter()
                .map(|t| format!("  rapid7.{}", crate::complete::ident(t)))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|e| format!("  (cannot list logs: {e})"));
    format!(
        "Tables:
  rapid7_logs            every log: timestamp, log_id, log_name, sequence_number, message, labels
{logs}
  rapid7_parsed.NAME     the same logs with the fields of their messages as typed columns
Functions:
  rapid7_cache()                     the cached segments
  rapid7_coverage(log, from, to)     cached / missing / recent ranges of a window
  rapid7_fields(log, from, to)       the fields inside a log's messages
  rapid7_leql(log, from, to, 'LEQL') any LEQL statement run on Rapid7 (not cached)
  kv_get, csv_get, json_get, json_get_str, json_get_int, ->, ->>   fields of a message
Settings: SET rapid7.max_fetch_events = N (0: no limit); SET rapid7.pushdown_aggregates = false
Every query needs a lower bound on timestamp, for example:
  SELECT log_name, count(*) FROM rapid7_logs
  WHERE timestamp >= now() - interval '1 hour' GROUP BY log_name;
Commands:
  \\d                 list the tables
  \\d NAME            describe a table: columns and types; for a log, its id and what is cached
  \\format [FORMAT]   table, csv, json or ndjson (now {format})
  \\o [FILE]          results to FILE (a new file is owner-only; a symbolic link is
                     refused: \\o! FILE writes through it); \\o alone: to stdout again
                     (now {dest})
  \\timing [on|off]   rows, time and API use after each statement, on stderr (now {timing})
  \\? or \\h           this help
  \\q                 quit (also quit, exit, Ctrl-D)
Tab completes keywords, schemas, tables, columns and functions; the right arrow takes
the hint from history; a statement ends with ';'; Ctrl-C cancels a running query.
Long results go through $PAGER (less -FRX by default; PAGER= for none).",
        format = format_name(shell.display.format),
        dest = shell.dest.describe(),
        timing = if shell.display.timing { "on" } else { "off" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse("\\q"), Some(Backslash::Quit));
        assert_eq!(parse(" quit "), Some(Backslash::Quit));
        assert_eq!(parse("\\?"), Some(Backslash::Help));
        assert_eq!(parse("\\h"), Some(Backslash::Help));
        assert_eq!(parse("\\d"), Some(Backslash::List));
        assert_eq!(
            parse("\\d  rapid7.\"Auth Service\" "),
            Some(Backslash::Describe("rapid7.\"Auth Service\""))
        );
        assert_eq!(parse("\\format csv"), Some(Backslash::Format(Some("csv"))));
        assert_eq!(parse("\\o"), Some(Backslash::Output(None)));
        assert_eq!(
            parse("\\o /tmp/x.csv"),
            Some(Backslash::Output(Some("/tmp/x.csv")))
        );
        assert_eq!(
            parse("\\o! /tmp/x.csv"),
            Some(Backslash::OutputThroughLink("/tmp/x.csv"))
        );
        assert_eq!(parse("\\o!"), Some(Backslash::Unknown("\\o!")));
        assert_eq!(parse("\\timing off"), Some(Backslash::Timing(Some("off"))));
        assert_eq!(parse("\\x"), Some(Backslash::Unknown("\\x")));
        assert_eq!(parse("SELECT 1;"), None);
        assert_eq!(parse_format("NDJSON"), Some(Format::Ndjson));
        assert_eq!(parse_format("xml"), None);
    }
}
