//! The signals a server obeys: SIGTERM and SIGINT stop it, SIGHUP reloads
//! the token file.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// A signal the server received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// SIGTERM or SIGINT (its name, and 128 + its number).
    Stop(&'static str, u8),
    /// SIGHUP.
    Reload,
}

/// The server's signal handlers, set before it announces its address.
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    pub(crate) fn new() -> Result<Self, String> {
        let set = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("cannot handle {name}: {e}"))
        };
        Ok(Self {
            term: set(SignalKind::terminate(), "SIGTERM")?,
            int: set(SignalKind::interrupt(), "SIGINT")?,
            hup: set(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The next signal.
    pub(crate) async fn next(&mut self) -> Received {
        tokio::select! {
            Some(()) = self.term.recv() => Received::Stop("SIGTERM", 128 + 15),
            Some(()) = self.int.recv() => Received::Stop("SIGINT", 128 + 2),
            Some(()) = self.hup.recv() => Received::Reload,
        }
    }
}
