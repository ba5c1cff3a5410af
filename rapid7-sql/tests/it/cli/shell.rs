//! The shell in a pseudo-terminal (issue 23, item 1): tab completion from
//! the catalog (no API call per keystroke), highlighting and hints, `\d`,
//! `\format`, `\o`, `\timing`, `\?`, and the pager only when stdout is a
//! terminal. The terminal is `xterm` (with `TERM=dumb` the line editor
//! does not edit); rexpect reads output as Latin-1, so only ASCII is
//! matched.

use std::path::Path;
use std::process::Command;

use datafusion_rapid7::mock::{MockDataset, MockServer};
use rexpect::session::{PtySession, spawn_command};
use tempfile::TempDir;

use super::BIN;
use crate::support::{self, T0};

/// The binary in a pty with a clean `RAPID7_*` environment, `HOME` and the
/// cache in `dir`, against `server` (else `--demo`).
fn shell(dir: &Path, server: Option<&MockServer>, env: &[(&str, &str)]) -> PtySession {
    let mut cmd = Command::new(BIN);
    shell_env(&mut cmd, dir, server, env);
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn in a pty");
    p.exp_string("rapid7> ").unwrap();
    p
}

pub(super) fn shell_env(
    cmd: &mut Command,
    dir: &Path,
    server: Option<&MockServer>,
    env: &[(&str, &str)],
) {
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") || k == "PAGER" || k == "NO_COLOR" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir)
        .env("XDG_CACHE_HOME", dir.join("xdg"))
        .env("TERM", "xterm")
        .env("RAPID7_CACHE", dir.join("cache"))
        .env("RAPID7_PUSHDOWN_AGGREGATES", "false")
        // No pager unless a test sets one (less may not be installed).
        .env("PAGER", "");
    match server {
        Some(server) => {
            cmd.env("RAPID7_ENDPOINT", server.url())
                .env("RAPID7_API_KEY", server.api_key());
        }
        None => {
            cmd.args(["--demo", "--cache", dir.join("cache").to_str().unwrap()]);
        }
    }
    cmd.envs(env.iter().copied());
}

/// Press Tab after `text`.
fn tab(p: &mut PtySession, text: &str) {
    p.send(text).unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
}

fn auth_minute() -> (u64, String) {
    let dataset = MockDataset::standard();
    let auth = dataset
        .logs()
        .iter()
        .find(|l| l.name == "Auth Service")
        .unwrap();
    let n = dataset.count(&auth.id, T0, T0 + 60_000);
    let window = format!(
        "WHERE timestamp >= to_timestamp_millis({T0}) AND timestamp < to_timestamp_millis({})",
        T0 + 60_000
    );
    (n, window)
}

#[test]
fn tab_completes_quoted_log_tables_columns_and_functions_without_calling_the_api() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(support::server());
    let dir = TempDir::new().unwrap();
    let mut p = shell(dir.path(), Some(&server), &[("NO_COLOR", "1")]);
    let asked = server.requests().len();
    let (expected, window) = auth_minute();

    // The quoted per-log name, from an opened quote.
    tab(&mut p, "SELECT count(*) AS n FROM rapid7.\"Au");
    p.exp_string("FROM rapid7.\"Auth Service\"").unwrap();
    // A column: `log_n` is only log_name.
    tab(&mut p, " WHERE log_n");
    p.exp_string("WHERE log_name").unwrap();
    assert_eq!(server.requests().len(), asked, "completion called the API");
    p.send_line(&format!(
        " = 'Auth Service' AND {};",
        &window["WHERE ".len()..]
    ))
    .unwrap();
    p.exp_string(&format!("| {expected} ")).unwrap();
    p.exp_string("rapid7> ").unwrap();

    // A function of ours, and an unquoted prefix of a name that needs quotes.
    let asked = server.requests().len();
    tab(&mut p, "SELECT * FROM rapid7_cov");
    p.exp_string("rapid7_coverage").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("rapid7> ").unwrap();
    tab(&mut p, "\\d rapid7.fire");
    p.exp_string("\\d rapid7.\"Firewall\"").unwrap();
    assert_eq!(server.requests().len(), asked, "completion called the API");
    p.send_line("").unwrap();
    p.exp_string("log: Firewall (log id ").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

/// Log sets: `\d NAME` completes a set's table from the catalog (no API
/// call) and describes it with its logs; `\d` lists the `rapid7_logsets`
/// schema with the others.
#[test]
fn log_sets_are_completed_described_and_listed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(support::server());
    let dir = TempDir::new().unwrap();
    let mut p = shell(dir.path(), Some(&server), &[("NO_COLOR", "1")]);
    let asked = server.requests().len();
    tab(&mut p, "\\d rapid7_logsets.sec");
    p.exp_string("\\d rapid7_logsets.\"Security\"").unwrap();
    assert_eq!(server.requests().len(), asked, "completion called the API");
    p.send_line("").unwrap();
    p.exp_string("log_name").unwrap();
    p.exp_string("log set: Security (log set id ").unwrap();
    p.exp_string("3 logs: ").unwrap();
    p.exp_string("Firewall").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\d").unwrap();
    p.exp_string("rapid7_logsets").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\d rapid7_logsets.nope").unwrap();
    p.exp_string("no log set").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn keywords_are_highlighted_and_history_gives_hints() {
    let dir = TempDir::new().unwrap();
    let mut p = shell(dir.path(), None, &[]);
    p.send_line("SELECT 40 + 2 AS answer;").unwrap();
    p.exp_string("| 42 ").unwrap();
    p.exp_string("rapid7> ").unwrap();
    // Typing again: SELECT in the keyword colour, the rest hinted (dim)
    // from history.
    p.send("SELECT 40").unwrap();
    p.flush().unwrap();
    p.exp_string("\x1b[1;34mSELECT\x1b[0m").unwrap();
    p.exp_string("\x1b[2m + 2 AS answer;\x1b[0m").unwrap();
    // The right arrow takes the hint.
    p.send("\x1b[C").unwrap();
    p.send_line("").unwrap();
    p.exp_string("| 42 ").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn describe_format_output_file_timing_and_help() {
    let dir = TempDir::new().unwrap();
    let mut p = shell(dir.path(), None, &[("NO_COLOR", "1")]);
    let (expected, window) = auth_minute();

    // \d NAME of a log's table before and after a minute is cached.
    p.send_line("\\d rapid7.\"Auth Service\"").unwrap();
    p.exp_string("| timestamp ").unwrap();
    p.exp_string("| message ").unwrap();
    p.exp_string("log: Auth Service (log id b5a4c3d2-e1f0-4a9b-8c7d-6e5f4a3b2c10)")
        .unwrap();
    p.exp_string("cached: nothing yet").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line(&format!(
        "SELECT count(*) AS n FROM rapid7.\"Auth Service\" {window};"
    ))
    .unwrap();
    p.exp_string(&format!("| {expected} ")).unwrap();
    p.exp_string("1 row in").unwrap();
    // The summary line: what the API did, and the statement's query id
    // (the `statement{query_id}` span of its log lines).
    p.exp_regex(
        r"\(API: [1-9][0-9,]* quer(y|ies), [0-9,]+ polls?, [1-9][0-9,]* pages?, [0-9]+ rate-limit waits? \([0-9.]+ s\), 0 rejected events\) \[query [0-9a-f]{8}\]",
    )
    .unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\d rapid7.\"Auth Service\"").unwrap();
    p.exp_string(&format!("cached: 1 segment, {expected} events, in 1 span:"))
        .unwrap();
    p.exp_string("  [2026-02-10T00:00:00.000Z, 2026-02-10T00:01:00.000Z)")
        .unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\d no_such_table").unwrap();
    p.exp_string("error: no table no_such_table").unwrap();
    p.exp_string("rapid7> ").unwrap();

    // \format.
    p.send_line("\\format csv").unwrap();
    p.exp_string("format: csv").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 1 AS one, 'a' AS letter;").unwrap();
    p.exp_string("one,letter").unwrap();
    p.exp_string("1,a").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\format ndjson").unwrap();
    p.exp_string("format: ndjson").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 2 AS two;").unwrap();
    p.exp_string("{\"two\":2}").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\format xml").unwrap();
    p.exp_string("unknown format").unwrap();
    p.exp_string("rapid7> ").unwrap();

    // \o FILE, then \o back to the terminal.
    let file = dir.path().join("out.json");
    p.send_line("\\format json").unwrap();
    p.exp_string("format: json").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line(&format!("\\o {}", file.display())).unwrap();
    p.exp_string("results go to").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 42 AS answer;").unwrap();
    let shown = p.exp_string("rapid7> ").unwrap();
    assert!(
        !shown.contains("\"answer\":42"),
        "went to the terminal: {shown}"
    );
    p.send_line("\\o").unwrap();
    p.exp_string("results go to stdout").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 43 AS after;").unwrap();
    p.exp_string("{\"after\":43}").unwrap();
    p.exp_string("rapid7> ").unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, serde_json::json!([{"answer": 42}]));

    // \timing off: no summary line after a statement; on: again.
    p.send_line("\\timing off").unwrap();
    p.exp_string("timing is off").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 7 AS seven;").unwrap();
    p.exp_string("{\"seven\":7}").unwrap();
    let after = p.exp_string("rapid7> ").unwrap();
    assert!(!after.contains("row in"), "{after}");
    p.send_line("\\timing on").unwrap();
    p.exp_string("timing is on").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 8 AS eight;").unwrap();
    p.exp_string("1 row in").unwrap();
    p.exp_string("rapid7> ").unwrap();

    // \? lists every command.
    p.send_line("\\?").unwrap();
    for command in [
        "\\d NAME",
        "\\format [FORMAT]",
        "\\o [FILE]",
        "\\timing [on|off]",
        "\\? or \\h",
        "\\q ",
    ] {
        p.exp_string(command).unwrap();
    }
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\nope").unwrap();
    p.exp_string("unknown command \\nope").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

/// `\o FILE` (issue 29, item 8): a symbolic link planted at FILE is refused
/// and its target left alone; a new FILE is owner-only; `\o! FILE` writes
/// through a link on purpose.
#[test]
fn output_files_are_owner_only_and_planted_links_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let planted = dir.path().join("planted.csv");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let mut p = shell(dir.path(), None, &[("NO_COLOR", "1")]);
    p.send_line("\\format csv").unwrap();
    p.exp_string("format: csv").unwrap();
    p.exp_string("rapid7> ").unwrap();

    p.send_line(&format!("\\o {}", planted.display())).unwrap();
    p.exp_string("symbolic link, not followed; \\o! ").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 42 AS answer;").unwrap();
    let shown = p.exp_string("1 row in").unwrap();
    assert!(shown.contains("answer\r\n42"), "on the terminal: {shown:?}");
    p.exp_string("rapid7> ").unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");

    let new = dir.path().join("new.csv");
    p.send_line(&format!("\\o {}", new.display())).unwrap();
    p.exp_string("results go to").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 1 AS one;").unwrap();
    p.exp_string("1 row in").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line(&format!("\\o! {}", planted.display())).unwrap();
    p.exp_string("results go to").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("SELECT 2 AS two;").unwrap();
    p.exp_string("1 row in").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\o").unwrap();
    p.exp_string("results go to stdout").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
    let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    assert_eq!(std::fs::read_to_string(&new).unwrap(), "one\n1\n");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "two\n2\n");
}

/// A pager that leaves a mark and passes its input on.
fn marking_pager(dir: &Path) -> (String, std::path::PathBuf) {
    let mark = dir.join("paged");
    (format!("touch '{}' && cat", mark.display()), mark)
}

const LONG: &str = "SELECT value FROM generate_series(1, 200);";

#[test]
fn long_results_go_through_the_pager_when_stdout_is_a_terminal() {
    let dir = TempDir::new().unwrap();
    let (pager, mark) = marking_pager(dir.path());
    let mut p = shell(dir.path(), None, &[("NO_COLOR", "1"), ("PAGER", &pager)]);
    // A short result fits the screen: no pager.
    p.send_line("SELECT 1 AS one;").unwrap();
    p.exp_string("| 1   |").unwrap();
    p.exp_string("rapid7> ").unwrap();
    assert!(!mark.exists(), "a short result was paged");
    // A long one goes through it.
    p.send_line(LONG).unwrap();
    p.exp_string("| 200   |").unwrap();
    p.exp_string("rapid7> ").unwrap();
    assert!(mark.exists(), "the long result did not go through $PAGER");
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn the_pager_is_not_used_when_stdout_is_not_a_terminal() {
    let dir = TempDir::new().unwrap();
    let (pager, mark) = marking_pager(dir.path());
    let out = dir.path().join("results.txt");
    // Typed on the terminal, results into a file: stdin is the pty, stdout
    // is not a terminal.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec '{BIN}' \"$@\" > '{}'", out.display()))
        .arg("rapid7-sql");
    shell_env(
        &mut cmd,
        dir.path(),
        None,
        &[("NO_COLOR", "1"), ("PAGER", &pager)],
    );
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn in a pty");
    p.exp_string("rapid7> ").unwrap();
    p.send_line(LONG).unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("| 200   |"), "{written}");
    assert!(
        !written.contains("rapid7> "),
        "the prompt went into the results"
    );
    assert!(!mark.exists(), "paged although stdout is not a terminal");
}
