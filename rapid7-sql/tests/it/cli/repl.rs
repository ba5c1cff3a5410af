//! The REPL in a pseudo-terminal: `--demo`, a query, the question before a
//! fetch over the budget (no, then yes), Ctrl-C of the long fetch.

use std::process::Command;

use datafusion_rapid7::mock::MockDataset;
use rexpect::session::spawn_command;
use tempfile::TempDir;

use super::BIN;
use crate::support::T0;

#[test]
fn demo_repl_runs_queries_and_survives_ctrl_c() {
    let dir = TempDir::new().unwrap();
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAPID7_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir.path())
        .env("XDG_CACHE_HOME", dir.path().join("xdg"))
        .env("TERM", "dumb")
        .args([
            "--demo",
            "--cache",
            dir.path().join("cache").to_str().unwrap(),
        ]);
    let mut p = spawn_command(cmd, Some(60_000)).expect("spawn in a pty");
    p.exp_string("Demo: a simulator of the Rapid7 Log Search API")
        .unwrap();
    p.exp_string("rapid7> ").unwrap();

    let dataset = MockDataset::standard();
    let auth = dataset
        .logs()
        .iter()
        .find(|l| l.name == "Auth Service")
        .unwrap();
    let expected = dataset.count(&auth.id, T0, T0 + 60_000);
    p.send_line(&format!(
        "SELECT count(*) AS n FROM rapid7.\"Auth Service\" WHERE timestamp >= to_timestamp_millis({T0}) \
         AND timestamp < to_timestamp_millis({});",
        T0 + 60_000
    ))
    .unwrap();
    p.exp_string(&format!("| {expected} ")).unwrap();
    p.exp_string("1 row in").unwrap();
    p.exp_string("rapid7> ").unwrap();

    // A fetch of a month of the busiest log is far over the default limit of
    // a million events: the shell asks first. No: nothing is fetched.
    let month = format!(
        "SELECT max(sequence_number) FROM rapid7.Firewall WHERE timestamp >= to_timestamp_millis({T0}) \
         AND timestamp < to_timestamp_millis({});",
        T0 + 30 * 86_400_000
    );
    p.send_line(&month).unwrap();
    // (rexpect reads bytes as Latin-1, so the `≈` of the question is not
    // matched.)
    p.exp_string("M events (").unwrap();
    // The question says why it pages: max() is no count.
    p.exp_string("at this key's quota) (counts not pushed: max(")
        .unwrap();
    p.exp_string("is not count(*) or count of a column that is never null)? [y/N]")
        .unwrap();
    p.send_line("n").unwrap();
    p.exp_string("not fetched").unwrap();
    p.exp_string("rapid7> ").unwrap();
    // A filter Rapid7 cannot apply is named in the question.
    p.send_line(&month.replace(';', " AND message NOT LIKE '%DENY%';"))
        .unwrap();
    p.exp_string("at this key's quota) (not sent to Rapid7: `")
        .unwrap();
    p.exp_string("NOT LIKE '%DENY%'`) (counts not pushed: ")
        .unwrap();
    p.exp_string("[y/N]").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("not fetched").unwrap();
    p.exp_string("rapid7> ").unwrap();

    // Yes: it fetches; Ctrl-C while it runs.
    p.send_line(&month).unwrap();
    p.exp_string("[y/N]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("fetching Firewall").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("cancelled").unwrap();
    p.exp_string("rapid7> ").unwrap();

    // The shell still works.
    p.send_line("SELECT 40 + 2 AS answer;").unwrap();
    p.exp_string("| 42 ").unwrap();
    p.exp_string("rapid7> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}
