//! `rapid7-sql serve`: one Arrow Flight SQL endpoint over one `Rapid7`
//! (one key, one quota, one cache, one fetcher) for a team's clients.
//!
//! By role: `args` (flags), `listen` (addresses, the loopback policy, TLS),
//! `log` (log lines and the metrics layer), `metrics` (what is counted),
//! `render` (the Prometheus endpoint), `signals` (SIGTERM, SIGINT, SIGHUP).
//! The service itself is the library's (`datafusion_rapid7::flight`).
//!
//! Stopping (SIGTERM, SIGINT): the listening socket closes at once, and
//! open connections may start no new statement (`UNAVAILABLE`, "the server
//! is stopping": `Rapid7FlightSql::drain`); the connections stay open while
//! the statements held (planned and not yet fully read: a client between
//! GetFlightInfo and DoGet is not cut off) finish, within `--grace`; then fetches stop as the CLI's do (their
//! uncommitted parts deleted) and the statements fail; then connections
//! close once their last frames are sent. Exit 0. A second signal exits at
//! once.

mod args;
mod listen;
mod log;
mod metrics;
mod render;
mod signals;

use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use datafusion::prelude::SessionContext;
use datafusion_rapid7::Rapid7;
use datafusion_rapid7::config::Settings;
use datafusion_rapid7::flight::{Auth, Rapid7FlightSql, User};
use futures::StreamExt;
use tokio::time::Sleep;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub(crate) use args::ServeArgs;
pub(crate) use log::init as init_tracing;
pub(crate) use metrics::Metrics;

use crate::args::Global;
use crate::fmt;
use crate::setup;
use signals::{Received, Signals};

/// After the grace period, how long statements whose fetches were stopped
/// may take to fail, and connections to close, before the server exits anyway.
const AFTER_STOP: Duration = Duration::from_secs(5);

/// Run the server until SIGTERM or SIGINT (then stop as the module docs say).
pub(crate) async fn run(
    global: &Global,
    settings: &Settings,
    args: &ServeArgs,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    let auth = match &args.serve_tokens {
        Some(path) => Auth::from_file(path).map_err(|e| fmt::error(&e))?,
        None => Auth::open(),
    };
    let (addr, loopback) = listen::resolve("--listen", &args.listen).await?;
    listen::check_policy(args, addr, loopback)?;
    let tls = listen::tls(args)?;
    let metrics_addr = match &args.metrics_listen {
        Some(spec) => Some(listen::resolve("--metrics-listen", spec).await?.0),
        None => None,
    };

    let (config, _demo, _) = setup::configure(global, settings, false)
        .await
        .map_err(|e| fmt::error(&e))?;
    let rapid7 = Rapid7::new(config).map_err(|e| fmt::error(&e))?;
    // The key and endpoint checked now (the log list), not at the first client.
    rapid7
        .register(&SessionContext::new())
        .await
        .map_err(|e| fmt::error(&e))?;

    let mut builder = Server::builder();
    let scheme = match tls {
        Some(tls) => {
            // rustls has two providers in this build (ring, aws-lc-rs): ring,
            // as tonic's client side uses. Already installed is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            builder = builder.tls_config(tls).map_err(|e| {
                format!(
                    "--tls-cert / --tls-key: {}; give a PEM certificate chain and its PEM \
                         private key",
                    chain(&e)
                )
            })?;
            "grpc+tls"
        }
        None => "grpc",
    };
    let flight = Rapid7FlightSql::new(rapid7.clone(), auth.clone(), args.limits());
    let service = flight.clone().into_server();
    let mut signals = Signals::new()?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--listen {addr}: cannot listen ({e})"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("--listen {addr}: {e}"))?;
    let metrics_listener = match metrics_addr {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("--metrics-listen {a}: cannot listen ({e})"))?,
        ),
        None => None,
    };
    let mut lines = format!("flight_sql={scheme}://{bound}\n");
    if let Some(l) = &metrics_listener {
        let a = l
            .local_addr()
            .map_err(|e| format!("--metrics-listen: {e}"))?;
        lines.push_str(&format!("metrics=http://{a}/metrics\n"));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(lines.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(out);
    tracing::info!(
        address = %bound,
        tls = scheme == "grpc+tls",
        tokens = auth.requires_tokens(),
        "serve_listening"
    );

    let (accept_tx, accept_rx) = tokio::sync::watch::channel(false);
    let (close_tx, mut close_rx) = tokio::sync::watch::channel(false);
    let serve = builder.add_service(service).serve_with_incoming_shutdown(
        accepting(TcpIncoming::from(listener), accept_rx),
        async move {
            let _ = close_rx.wait_for(|close| *close).await;
        },
    );
    let metrics_server = async {
        if let Some(l) = metrics_listener
            && let Err(e) = render::serve(l, metrics, rapid7.clone()).await
        {
            tracing::error!(error = %e, "serve_metrics_failed");
        }
        std::future::pending::<()>().await
    };
    let mut serve = std::pin::pin!(serve);
    let mut metrics_server = std::pin::pin!(metrics_server);
    let mut phase = Phase::Running;
    // The end of the current phase (see `Phase`).
    let mut deadline: Option<Pin<Box<Sleep>>> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            result = &mut serve => {
                result.map_err(|e| format!("the Flight SQL server failed: {}", chain(&e)))?;
                break;
            }
            () = &mut metrics_server => {}
            received = signals.next() => match received {
                Received::Reload => {
                    // Logged either way (`serve_tokens_reloaded` / `_reload_failed`).
                    let _ = auth.reload();
                }
                Received::Stop(name, code) => {
                    if phase != Phase::Running {
                        tracing::warn!(signal = name, "stop_forced");
                        eprintln!(
                            "error: {name} again: exiting now; parts being written are left \
                             for `rapid7-sql cache gc`"
                        );
                        std::process::exit(i32::from(code));
                    }
                    // Refused from now on, also on open connections.
                    flight.drain();
                    let _ = accept_tx.send(true);
                    tracing::warn!(
                        signal = name,
                        grace_ms = u64::try_from(args.grace.as_millis()).unwrap_or(u64::MAX),
                        detail = "no new connections or statements; running statements may finish within the grace period",
                        "serve_stopping"
                    );
                    phase = Phase::Draining;
                    deadline = Some(Box::pin(tokio::time::sleep(args.grace)));
                }
            },
            _ = tick.tick(), if matches!(phase, Phase::Draining | Phase::FetchesStopped) => {
                if held(&flight, &auth) == 0 {
                    let _ = close_tx.send(true);
                    phase = Phase::Closing;
                    deadline = Some(Box::pin(tokio::time::sleep(AFTER_STOP)));
                }
            }
            () = until(&mut deadline) => match phase {
                Phase::Running => {}
                Phase::Draining => {
                    tracing::warn!(
                        detail = "the grace period is over: fetches stop and delete their uncommitted parts",
                        "serve_grace_over"
                    );
                    rapid7.stop();
                    phase = Phase::FetchesStopped;
                    deadline = Some(Box::pin(tokio::time::sleep(AFTER_STOP)));
                }
                Phase::FetchesStopped => {
                    let _ = close_tx.send(true);
                    phase = Phase::Closing;
                    deadline = Some(Box::pin(tokio::time::sleep(AFTER_STOP)));
                }
                Phase::Closing => {
                    tracing::warn!("serve_stopped_unfinished");
                    break;
                }
            },
        }
    }
    // Nothing runs any more; a fetch outliving its statement stops too.
    rapid7.stop();
    tracing::info!("serve_stopped");
    Ok(())
}

/// Where a server is in its stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Serving.
    Running,
    /// Stopped accepting connections; the statements held (planned or being
    /// read) may finish until the grace period ends.
    Draining,
    /// The grace period is over and fetches were told to stop: statements
    /// fail; [`AFTER_STOP`] for them to end.
    FetchesStopped,
    /// No statement held (or out of time): connections are closed once
    /// their calls end (their last frames flushed), [`AFTER_STOP`] at most.
    Closing,
}

/// The statements every known user holds now.
fn held(flight: &Rapid7FlightSql, auth: &Auth) -> usize {
    let mut users = auth.users();
    users.push(User::new("anonymous"));
    users.iter().map(|u| flight.statements_held(u)).sum()
}

/// The connections of `incoming` until `stop` turns true; then the
/// listening socket is closed, and no connection comes any more (the stream
/// never ends: its end would make the server close every connection now).
fn accepting(
    incoming: TcpIncoming,
    stop: tokio::sync::watch::Receiver<bool>,
) -> impl futures::Stream<Item = <TcpIncoming as futures::Stream>::Item> {
    futures::stream::unfold(
        (Some(Box::pin(incoming)), stop),
        |(mut incoming, mut stop)| async move {
            loop {
                let Some(open) = incoming.as_mut() else {
                    return std::future::pending().await;
                };
                tokio::select! {
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            incoming = None;
                        }
                    }
                    next = open.next() => return next.map(|item| (item, (incoming, stop))),
                }
            }
        },
    )
}

/// When `deadline` passes (never, without one).
async fn until(deadline: &mut Option<Pin<Box<Sleep>>>) {
    match deadline.as_mut() {
        Some(d) => d.as_mut().await,
        None => std::future::pending().await,
    }
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
