//! Arrow Flight SQL over one shared [`Rapid7`](crate::Rapid7) handle (feature
//! `flight`): the library half of `rapid7-sql serve`.
//!
//! One process holds the key, its quota, the cache and the fetcher, and
//! serves SQL to any number of clients (ADBC, JDBC, ODBC drivers) through
//! [`Rapid7FlightSql`]. Every caller is a [`User`], proved by [`Auth`] on
//! every call (a bearer token, or Flight's Basic handshake for one).
//!
//! # What clients can send
//!
//! `CommandStatementQuery`; prepared statements (create, bind `$1`, `$2`, …
//! with one row of parameters, execute, close); `GetCatalogs`,
//! `GetDbSchemas`, `GetTables` (with schemas), `GetTableTypes`,
//! `GetSqlInfo`, `GetPrimaryKeys` (always empty), `GetXdbcTypeInfo`;
//! `DoGet` streams each result as its batches come; `CancelQuery` and
//! `CancelFlightInfo` cancel a statement, waiting or streaming. A statement
//! is planned once, when its `FlightInfo` is asked for, and runs when its
//! ticket is read; a ticket is read at most once. A prepared statement may
//! also be read directly (`DoGet` of its `CommandPreparedStatementQuery`):
//! it is planned and run then, with the parameters bound last.
//!
//! # Sessions
//!
//! A session is a user and the value of the `x-rapid7-session` header
//! ([`SESSION_HEADER`]; any text up to 128 bytes a client picks, such as a
//! UUID per connection). Calls without the header are in their user's
//! default session. `SET` holds for its session only: other users never see
//! it, nor do the same user's other session ids. A session unused for an
//! hour is forgotten.
//!
//! # SQL accepted
//!
//! Only `SELECT`, `EXPLAIN`, `SHOW`, `DESCRIBE`, and `SET` / `RESET` of the
//! settings in [`ALLOWED_SETTINGS`]: `rapid7.max_fetch_events` (at or below
//! the server's limit: a session may lower it, never raise or lift it),
//! `rapid7.pushdown_aggregates`, `rapid7.pushdown_filters`,
//! `rapid7.pushdown_newest_first`, `rapid7.on_incomplete`,
//! `datafusion.execution.time_zone`, `datafusion.sql_parser.dialect`. DDL,
//! DML and `COPY` (so `CREATE EXTERNAL TABLE`, `COPY … TO`, `INSERT`) are
//! refused before anything runs, with `PERMISSION_DENIED`. No table function
//! that reads files is registered (DataFusion's URL tables are off).
//!
//! # The fetch limit
//!
//! A statement whose fetch would exceed its limit of events fails with
//! `RESOURCE_EXHAUSTED` and the estimate in its message: there is nobody to
//! ask for approval.
//!
//! # Limits ([`ServeLimits`])
//!
//! `statements_per_user` (statements planned and not yet fully read, per
//! user), `rows_per_result` and `bytes_per_result` (a result past them is
//! cut with an error saying so), `memory_pool_bytes` (DataFusion's memory
//! pool, shared by every session), `handle_ttl` (unread tickets and unused
//! prepared statements). Each failure is `RESOURCE_EXHAUSTED` and names the
//! limit.
//!
//! # Stopping
//!
//! [`Rapid7FlightSql::drain`] makes the service refuse new statements on
//! every connection (`UNAVAILABLE`, "the server is stopping"), while the
//! statements already planned are read and run to their end.
//!
//! # Logs
//!
//! Each statement ends with one `flight_statement` event (INFO): `user`,
//! `query_id`, `outcome` (`ok`, `error`, `refused`, `cancelled`),
//! `duration_ms`, `rows`, `bytes`, `queries_spent` (the Rapid7 API queries
//! made for this statement alone, as the quota counts them: submits and
//! `Next` pages, retries included, polls not; a fetch two statements share
//! counts to the one that started it: [`QueryMeter`](crate::client::QueryMeter)),
//! and `error` when it failed.

mod auth;
mod error;
mod limits;
mod metadata;
mod policy;
mod service;
mod session;
mod statements;
mod status;

pub use auth::{Auth, User};
pub use error::Error;
pub use limits::ServeLimits;
pub use policy::ALLOWED_SETTINGS;
pub use service::Rapid7FlightSql;
pub use session::SESSION_HEADER;
