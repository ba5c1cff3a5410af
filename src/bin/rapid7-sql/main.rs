//! `rapid7-sql`: the REPL and command line of datafusion-rapid7. Thin:
//! arguments and display here, everything else in the library.

mod args;
mod commands;
mod exec;
mod fmt;
mod progress;
mod repl;
mod setup;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use exec::{Display, run_sql};

fn main() -> ExitCode {
    let cli = Cli::parse();
    setup::init_tracing(&cli.global);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&rt, &cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(false)`: finished, but what it checked failed (`cache verify`).
fn run(rt: &tokio::runtime::Runtime, cli: &Cli) -> Result<bool, String> {
    let global = &cli.global;
    let session = rt
        .block_on(setup::session(global))
        .map_err(|e| fmt::error(&e))?;
    let display = Display::new(global.format, global.quiet);
    if let Some(command) = &cli.command {
        return rt
            .block_on(async {
                match command {
                    Command::Sync(a) => commands::sync(&session, a).await.map(|()| true),
                    Command::Summary(a) => commands::summary(&session, a).await.map(|()| true),
                    Command::Cache(c) => commands::cache(&session, c).await,
                }
            })
            .map_err(|e| fmt::error(&e));
    }
    if !global.commands.is_empty() || !global.files.is_empty() {
        for sql in &global.commands {
            rt.block_on(run_sql(&session, sql, display, None))?;
        }
        for file in &global.files {
            let sql = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            rt.block_on(run_sql(&session, &sql, display, None))?;
        }
        return Ok(true);
    }
    if let Some(server) = &session.demo {
        let names: Vec<&str> = server
            .dataset()
            .logs()
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        let cache = session
            .rapid7
            .cache()
            .root()
            .map(|r| r.location().to_string())
            .unwrap_or_else(|| "bypassed".into());
        println!(
            "Demo: a simulator of the Rapid7 Log Search API on {} with {} synthetic logs ({}), \
             events at any time up to now; cache: {cache}. Try:",
            server.url(),
            names.len(),
            names.join(", ")
        );
        println!(
            "  SELECT log_name, count(*) AS events FROM rapid7_logs WHERE timestamp >= now() - interval '15 minutes' GROUP BY log_name ORDER BY events DESC;"
        );
        println!(
            "  SELECT date_bin(interval '10 minutes', timestamp) AS t, count(*) FROM rapid7.\"Auth Service\" WHERE timestamp >= now() - interval '2 hours' GROUP BY t ORDER BY t;"
        );
        println!(
            "  SELECT timestamp, message FROM rapid7.\"Web Proxy\" WHERE timestamp >= now() - interval '5 minutes' AND message LIKE '%status=5%' LIMIT 10;"
        );
    }
    repl::run(rt, &session, display)?;
    Ok(true)
}
