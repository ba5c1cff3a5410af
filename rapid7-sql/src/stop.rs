//! Graceful stop of `sync`, `summary`, `-c` and `-f` on SIGTERM or SIGINT.
//!
//! The first signal asks the library to stop fetching (`Rapid7::stop`):
//! each fetch drops the page it waits for, deletes the parts it had
//! written and fails, and the command ends with that error. The process
//! then exits with 128 + the signal's number, as a shell reports a process
//! killed by it. A second signal exits at once (parts being written are
//! then left for `cache gc`).

use std::future::Future;

use datafusion_rapid7::Rapid7;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signal that stopped a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopSignal {
    name: &'static str,
    number: u8,
}

impl StopSignal {
    const TERM: StopSignal = StopSignal {
        name: "SIGTERM",
        number: 15,
    };
    const INT: StopSignal = StopSignal {
        name: "SIGINT",
        number: 2,
    };

    pub(crate) fn name(self) -> &'static str {
        self.name
    }

    /// 128 + the signal's number.
    pub(crate) fn exit_code(self) -> u8 {
        128 + self.number
    }
}

/// Run `work`; on SIGTERM or SIGINT, stop the source's fetches and let
/// `work` finish (see the module docs). The signal, if one came.
pub(crate) async fn stoppable<T>(
    rapid7: &Rapid7,
    work: impl Future<Output = T>,
) -> (T, Option<StopSignal>) {
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut work = std::pin::pin!(work);
    let mut got = None;
    loop {
        tokio::select! {
            out = &mut work => return (out, got),
            sig = next(&mut term, &mut int) => {
                if got.is_some() {
                    tracing::warn!(
                        signal = sig.name,
                        "stop_forced"
                    );
                    eprintln!(
                        "error: {} again: exiting now; parts being written are left for \
                         `rapid7-sql cache gc`",
                        sig.name
                    );
                    std::process::exit(i32::from(sig.exit_code()));
                }
                tracing::warn!(
                    signal = sig.name,
                    detail = "stopping: fetches delete their uncommitted parts",
                    "stop_requested"
                );
                rapid7.stop();
                got = Some(sig);
            }
        }
    }
}

/// The next SIGTERM or SIGINT (never, for a handler that could not be set).
async fn next(term: &mut Option<Signal>, int: &mut Option<Signal>) -> StopSignal {
    async fn recv(s: &mut Option<Signal>) {
        let received = match s {
            Some(s) => s.recv().await.is_some(),
            None => false,
        };
        if !received {
            std::future::pending::<()>().await;
        }
    }
    tokio::select! {
        () = recv(term) => StopSignal::TERM,
        () = recv(int) => StopSignal::INT,
    }
}
