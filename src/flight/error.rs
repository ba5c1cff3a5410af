//! What the Flight SQL service refuses or fails with, before DataFusion or
//! Rapid7 are involved: the SQL policy, the server's limits, handles that
//! are unknown or belong to someone else. Folded into [`crate::Error`]
//! ([`crate::Error::Flight`]); `status.rs` maps every error to a
//! `tonic::Status`.

/// A refusal or failure of the Flight SQL service itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SQL is not one this server runs (DDL, DML, `COPY`, a `SET` of a
    /// setting not on the list, …); the message says what is accepted.
    #[error("refused: {what}. {allowed}", allowed = ALLOWED)]
    Policy {
        /// What was refused, and why.
        what: String,
    },

    /// A `SET rapid7.max_fetch_events` above the server's limit (or `0`,
    /// no limit, on a server that has one).
    #[error(
        "refused: SET rapid7.max_fetch_events = {asked}: the server's limit of events a \
         statement may fetch is {ceiling}, and a session may lower it but not raise or lift it \
         (the server's operator sets it: RAPID7_MAX_FETCH_EVENTS)"
    )]
    AboveCeiling {
        /// What the session asked for (0: no limit).
        asked: u64,
        /// The server's limit.
        ceiling: u64,
    },

    /// One of [`ServeLimits`](super::ServeLimits) was reached.
    #[error("{message} (limit {limit} = {value}; {raise})")]
    Limit {
        /// The limit's name, as [`ServeLimits`](super::ServeLimits) spells it.
        limit: &'static str,
        /// Its value.
        value: u64,
        /// What happened.
        message: String,
        /// How to get under it, or have it raised.
        raise: &'static str,
    },

    /// A ticket or prepared statement handle this server does not hold
    /// (never issued, already used, closed, expired, or another user's).
    #[error(
        "unknown {what} handle: it was never issued, was already used, was closed, expired \
         (after {ttl_s} s unused) or belongs to another session; run the statement again"
    )]
    UnknownHandle {
        /// `ticket` or `prepared statement`.
        what: &'static str,
        /// How long an unused handle is kept, seconds.
        ttl_s: u64,
    },

    /// The server is stopping ([`Rapid7FlightSql::drain`](super::Rapid7FlightSql::drain)):
    /// it takes no new statement; those already planned may finish.
    #[error(
        "the server is stopping: it takes no new statements (those already running may \
         finish); run the statement again once the server is back"
    )]
    Stopping,

    /// The statement was cancelled (by the client's cancel action).
    #[error("cancelled by the client")]
    Cancelled,

    /// A request the service cannot read (a bad parameter batch, a command
    /// it does not serve).
    #[error("{0}")]
    BadRequest(String),
}

/// What the server accepts, for every policy refusal.
pub(crate) const ALLOWED: &str = "This server runs only SELECT, EXPLAIN, SHOW, DESCRIBE, and \
    SET / RESET of rapid7.max_fetch_events (lower only), rapid7.pushdown_aggregates, \
    rapid7.pushdown_filters, rapid7.pushdown_newest_first, rapid7.on_incomplete, \
    datafusion.execution.time_zone and datafusion.sql_parser.dialect";
