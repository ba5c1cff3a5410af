//! A request to stop fetching, shared by every fetch of one source
//! (`Rapid7::stop`, sent by `rapid7-sql` on SIGTERM or SIGINT).
//!
//! Fetches look at it between pages: a stopped fetch drops the page it was
//! waiting for, aborts its segment writer (which deletes the parts it had
//! written) and fails with [`Error::Stopped`](crate::Error::Stopped). A
//! part being written when the stop comes is finished first, so the abort
//! finds every part it has to delete.

use std::sync::Arc;

use tokio::sync::watch;

/// Once requested, stays requested. Clones share it.
#[derive(Debug, Clone)]
pub(crate) struct Stop(Arc<watch::Sender<bool>>);

impl Default for Stop {
    fn default() -> Self {
        Stop(Arc::new(watch::Sender::new(false)))
    }
}

impl Stop {
    /// Ask every fetch to stop.
    pub(crate) fn request(&self) {
        self.0.send_replace(true);
    }

    /// Whether a stop was requested.
    pub(crate) fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is requested.
    pub(crate) async fn requested(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`: `wait_for` ends only when true.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_wakes_every_waiter_and_stays() {
        let stop = Stop::default();
        assert!(!stop.is_requested());
        let waiter = stop.clone();
        let (woken, ()) = tokio::join!(async move { waiter.requested().await }, async {
            tokio::task::yield_now().await;
            stop.request();
        });
        let () = woken;
        assert!(stop.is_requested());
        stop.requested().await;
    }
}
