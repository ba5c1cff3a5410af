//! Escape sequences from log text never reach the analyst's terminal (issue
//! 29, item 7): a message and a log name carrying OSC (window title, OSC 52
//! clipboard), CSI (colours) and C1 controls are shown as `\x1b` in the
//! table format, on a terminal and through the pager, and in errors on
//! stderr; CSV, JSON and NDJSON to a pipe keep their exact bytes.

use std::process::Command;

use datafusion_rapid7::mock::{MockDataset, MockLog, MockServer};
use rexpect::session::{PtySession, spawn_command};
use tempfile::TempDir;

use super::shell::shell_env;
use super::{MIN, run, stderr, stdout, window};
use crate::support::{self, T0};

/// A failed logon whose user name sets the window title, the clipboard
/// (OSC 52) and colours, clears the screen with an 8-bit CSI (U+009B), and
/// carries DEL, CR and a tab.
const HOSTILE: &str = "logon failed for user \x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\
                       \x1b[31mred\x1b[0m \u{9b}2J del\x7f cr\r tab\tend";
/// [`HOSTILE`] as it is shown: every control but the tab visible and inert.
const SHOWN: &str = "logon failed for user \\x1b]0;pwned\\x07\\x1b]52;c;ZWNobyBwd25lZA==\\x07\
                     \\x1b[31mred\\x1b[0m \\x9b2J del\\x7f cr\\x0d tab";
/// A log whose name (from the management API) sets the window title.
const EVIL_ID: &str = "e0e0e0e0-0000-4000-8000-00000000e0e0";
const EVIL_NAME: &str = "Evil\x1b]0;owned\x07Log";
const EVIL_SHOWN: &str = "Evil\\x1b]0;owned\\x07Log";

const LOG: &str = "Auth Service";

/// The simulator: the standard logs plus [`EVIL_NAME`], and one event of
/// [`LOG`] in the first minute after `T0` carrying [`HOSTILE`]; that
/// event's sequence number.
async fn hostile_server() -> (MockServer, u64) {
    let standard = MockDataset::standard();
    let mut logs = standard.logs().to_vec();
    let auth = logs.iter().find(|l| l.name == LOG).unwrap().clone();
    logs.push(MockLog {
        id: EVIL_ID.into(),
        name: EVIL_NAME.into(),
        ..auth
    });
    support::server_with_message(MockDataset::new(logs), LOG, HOSTILE).await
}

/// Control bytes in `bytes` other than tab and newline, and C1 controls
/// (UTF-8 `C2 80`..`C2 9F`).
fn controls(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        let c1 = b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n));
        if (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f || c1 {
            let end = (i + 12).min(bytes.len());
            found.push(format!("{:?}", String::from_utf8_lossy(&bytes[i..end])));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_a_pipe_the_table_format_is_inert_and_csv_json_ndjson_are_exact() {
    let (server, target) = hostile_server().await;
    let dir = TempDir::new().unwrap();
    let q = format!(
        "SELECT sequence_number, message FROM rapid7.\"{LOG}\" WHERE {} AND sequence_number = {target}",
        window(T0, T0 + MIN)
    );
    let o = run(Some(&server), dir.path(), &["--format", "table", "-c", &q]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(controls(&o.stdout), Vec::<String>::new(), "{}", stdout(&o));
    assert!(stdout(&o).contains(SHOWN), "{}", stdout(&o));

    // The other formats are for programs: the bytes are the message's.
    let o = run(Some(&server), dir.path(), &["--format", "csv", "-c", &q]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = stdout(&o);
    assert!(csv.contains(HOSTILE), "{csv:?}");
    for format in ["json", "ndjson"] {
        let o = run(Some(&server), dir.path(), &["--format", format, "-c", &q]).await;
        assert!(o.status.success(), "{}", stderr(&o));
        let rows: Vec<serde_json::Value> = match format {
            "json" => serde_json::from_slice(&o.stdout).unwrap(),
            _ => stdout(&o)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        };
        assert_eq!(rows.len(), 1, "{format}");
        assert_eq!(rows[0]["message"], HOSTILE, "{format}");
    }

    // A log name in an error on stderr (an unknown log's suggestions):
    // shown inertly.
    let q = format!(
        "SELECT count(*) FROM rapid7_logs WHERE log_name = 'Evil' AND {}",
        window(T0, T0 + MIN)
    );
    let o = run(Some(&server), dir.path(), &["-c", &q]).await;
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains(EVIL_SHOWN), "{}", stderr(&o));
    assert_eq!(controls(&o.stderr), Vec::<String>::new(), "{}", stderr(&o));
}

/// The shell on `server` in a pty, with `PAGER`.
fn shell(server: &MockServer, dir: &std::path::Path, pager: &str) -> PtySession {
    let mut cmd = Command::new(super::BIN);
    shell_env(
        &mut cmd,
        dir,
        Some(server),
        &[("NO_COLOR", "1"), ("PAGER", pager)],
    );
    spawn_command(cmd, Some(60_000)).expect("spawn in a pty")
}

/// What reached the terminal holds none of [`HOSTILE`]'s sequences (rexpect
/// reads bytes as Latin-1: U+009B is `C2 9B`).
fn assert_inert(seen: &str) {
    for hostile in [
        "\x1b]0;pwned",
        "\x1b]52;",
        "\x1b[31mred",
        "\u{c2}\u{9b}2J",
        "\x7f",
    ] {
        assert!(!seen.contains(hostile), "{hostile:?} reached the terminal");
    }
}

#[test]
fn on_a_terminal_and_through_the_pager_every_format_is_inert() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, target) = rt.block_on(hostile_server());
    let dir = TempDir::new().unwrap();
    let one = format!(
        "SELECT message FROM rapid7.\"{LOG}\" WHERE {} AND sequence_number = {target};",
        window(T0, T0 + MIN)
    );
    // No pager: every format straight to the terminal.
    let mut p = shell(&server, dir.path(), "");
    let mut seen = p.exp_string("rapid7> ").unwrap();
    for format in ["table", "csv", "json", "ndjson"] {
        p.send_line(&format!("\\format {format}")).unwrap();
        seen += &p.exp_string(&format!("format: {format}")).unwrap();
        seen += &p.exp_string("rapid7> ").unwrap();
        p.send_line(&one).unwrap();
        let shown = p.exp_string("1 row in").unwrap();
        // JSON escapes C0 controls itself (`\u001b`); DEL and C1 are the
        // terminal's to make inert.
        let expected = match format {
            "table" | "csv" => SHOWN,
            _ => "\\x9b2J",
        };
        assert!(shown.contains(expected), "{format}: {shown:?}");
        seen += &shown;
        seen += &p.exp_string("rapid7> ").unwrap();
    }
    p.send_line("\\q").unwrap();
    seen += &p.exp_eof().unwrap();
    assert_inert(&seen);

    // The whole minute does not fit the screen: it goes through the pager,
    // which shows it on the terminal.
    let paged = dir.path().join("paged");
    let mut p = shell(&server, dir.path(), &format!("cat > '{}'", paged.display()));
    let mut seen = p.exp_string("rapid7> ").unwrap();
    for format in ["table", "csv"] {
        p.send_line(&format!("\\format {format}")).unwrap();
        seen += &p.exp_string(&format!("format: {format}")).unwrap();
        seen += &p.exp_string("rapid7> ").unwrap();
        p.send_line(&format!(
            "SELECT sequence_number, message FROM rapid7.\"{LOG}\" WHERE {};",
            window(T0, T0 + MIN)
        ))
        .unwrap();
        seen += &p.exp_string(" rows in").unwrap();
        seen += &p.exp_string("rapid7> ").unwrap();
        let text = std::fs::read(&paged).expect("the result was paged");
        assert!(
            String::from_utf8_lossy(&text).contains(SHOWN),
            "{format}: {:?}",
            String::from_utf8_lossy(&text)
        );
        assert_eq!(controls(&text), Vec::<String>::new(), "{format}");
        std::fs::remove_file(&paged).unwrap();
    }
    p.send_line("\\q").unwrap();
    seen += &p.exp_eof().unwrap();
    assert_inert(&seen);
}
