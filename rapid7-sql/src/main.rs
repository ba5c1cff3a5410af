//! `rapid7-sql`: the REPL and command line of datafusion-rapid7. Thin:
//! arguments and display here, everything else in the library.

mod arenas;
mod args;
mod backslash;
mod commands;
mod complete;
mod describe;
mod exec;
mod fmt;
mod helper;
mod highlight;
mod inert;
mod knobs;
mod output;
mod progress;
mod publish;
mod repl;
mod serve;
mod setup;
mod stop;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use datafusion_rapid7::config::Settings;
use datafusion_rapid7::trace::statement_span;
use tracing::Instrument;

use args::{Cli, Command};
use exec::{Display, run_sql};
use inert::print_error;
use output::Destination;
use stop::{StopSignal, stoppable};

/// How a run ended.
enum Finished {
    /// Done.
    Ok,
    /// Finished, but what it checked failed (`cache verify`, `doctor`).
    CheckFailed,
    /// Stopped by a signal (the command's own error, if any, is printed).
    Stopped(StopSignal),
}

fn main() -> ExitCode {
    arenas::limit();
    let matches = knobs::with_settings(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let settings = knobs::settings(&matches);
    // A server counts the library's events for its metrics endpoint.
    let traced = match &cli.command {
        Some(Command::Serve(_)) => serve::init_tracing(&cli.global).map(Some),
        _ => setup::init_tracing(&cli.global).map(|()| None),
    };
    let metrics = match traced {
        Ok(metrics) => metrics,
        Err(message) => {
            print_error(&message);
            return ExitCode::FAILURE;
        }
    };
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
    match run(&rt, &cli, &settings, metrics) {
        Ok(Finished::Ok) => ExitCode::SUCCESS,
        Ok(Finished::CheckFailed) => ExitCode::FAILURE,
        Ok(Finished::Stopped(signal)) => {
            tracing::warn!(signal = signal.name(), "stopped");
            eprintln!(
                "stopped by {}: uncommitted parts were removed; committed segments are kept",
                signal.name()
            );
            ExitCode::from(signal.exit_code())
        }
        Err(message) => {
            print_error(&message);
            ExitCode::FAILURE
        }
    }
}

/// How stoppable work ended: a stop wins over its result (whose error is
/// printed first).
fn finish(result: Result<(), String>, signal: Option<StopSignal>) -> Result<Finished, String> {
    match (result, signal) {
        (result, None) => result.map(|()| Finished::Ok),
        (result, Some(signal)) => {
            if let Err(message) = result {
                print_error(&message);
            }
            Ok(Finished::Stopped(signal))
        }
    }
}

fn run(
    rt: &tokio::runtime::Runtime,
    cli: &Cli,
    settings: &Settings,
    metrics: Option<std::sync::Arc<serve::Metrics>>,
) -> Result<Finished, String> {
    let global = &cli.global;
    if let (Some(Command::Serve(args)), Some(metrics)) = (&cli.command, metrics) {
        // Its own `Rapid7`, shared by every client; stops on its own signals.
        return rt
            .block_on(serve::run(global, settings, args, metrics))
            .map(|()| Finished::Ok);
    }
    if let Some(Command::Config) = &cli.command {
        // Before any session: showing the configuration calls no API.
        return rt
            .block_on(commands::config(global, settings))
            .map(|()| Finished::Ok)
            .map_err(|e| fmt::error(&e));
    }
    let session = rt
        .block_on(setup::session(global, settings))
        .map_err(|e| fmt::error(&e))?;
    let display = Display::new(global.format, global.quiet);
    let rapid7 = &session.rapid7;
    if let Some(url) = &global.published {
        rt.block_on(publish::register(&session, url, global.quiet))
            .map_err(|e| fmt::error(&e))?;
    }
    if let Some(command) = &cli.command {
        let ran = match command {
            // Each command runs in its own `statement{query_id}` span.
            Command::Sync(a) => rt.block_on(stoppable(
                rapid7,
                commands::sync(&session, a).instrument(statement_span()),
            )),
            Command::Summary(a) => rt.block_on(stoppable(
                rapid7,
                commands::summary(&session, a).instrument(statement_span()),
            )),
            Command::Publish(a) => rt.block_on(stoppable(
                rapid7,
                commands::publish(&session, a).instrument(statement_span()),
            )),
            Command::Cache(c) => {
                let run = commands::cache(&session, c).instrument(statement_span());
                return match rt.block_on(run) {
                    Ok(true) => Ok(Finished::Ok),
                    Ok(false) => Ok(Finished::CheckFailed),
                    Err(e) => Err(fmt::error(&e)),
                };
            }
            Command::Doctor(a) => {
                let run = commands::doctor(&session, a, global.format).instrument(statement_span());
                return match rt.block_on(run) {
                    Ok(true) => Ok(Finished::Ok),
                    Ok(false) => Ok(Finished::CheckFailed),
                    Err(e) => Err(fmt::error(&e)),
                };
            }
            Command::Config | Command::Serve(_) => unreachable!("handled before the session"),
        };
        return finish(ran.0.map_err(|e| fmt::error(&e)), ran.1);
    }
    if !global.commands.is_empty() || !global.files.is_empty() {
        let statements = async {
            let mut out = Destination::stdout();
            for sql in &global.commands {
                if rapid7.is_stopped() {
                    return Ok(());
                }
                run_sql(&session, sql, display, None, &mut out).await?;
            }
            for file in &global.files {
                if rapid7.is_stopped() {
                    return Ok(());
                }
                let sql = std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                run_sql(&session, &sql, display, None, &mut out).await?;
            }
            Ok(())
        };
        let (result, signal) = rt.block_on(stoppable(rapid7, statements));
        return finish(result, signal);
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
    Ok(Finished::Ok)
}
