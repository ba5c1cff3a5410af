//! A faithful simulator of the Rapid7 Log Search API on loopback.
//!
//! [`MockServer::start`] binds `127.0.0.1:0` and serves the documented API
//! (see `rapid7-api.md` §2–§4, §9–§10) over real HTTP, under both path
//! prefixes (`/query/…` and `/log_search/query/…`):
//!
//! - `x-api-key` on every request, else 401 `{"message":"Unauthorized"}`;
//!   `X-RateLimit-Limit`/`-Remaining`/`-Reset` on every response, counted per
//!   namespace (query, poll, management) in a fixed window ([`RateLimits`]);
//!   an exhausted namespace answers 429 `text/plain` with `Retry-After`.
//! - `GET /management/logs`, `GET /management/logs/{id}`,
//!   `GET /management/logsets`, `GET /management/logsets/{id}`,
//!   `GET /management/labels/{id}`.
//! - `GET /query/logs/{id}?from=&to=&per_page=&sequence_number=&query=` and
//!   `POST /query/logs` (JSON body): 202 with a continuation, then polls of
//!   `GET /query/{continuation id}` (200 with `progress`, then 200 with the
//!   page), or 200 at once when [`Faults::polls`] is 0. Pages hold at most
//!   `per_page` events (default 50, max 500) sorted by
//!   `(timestamp, sequence_number)`; `to` is **inclusive** unless
//!   [`Faults::to_exclusive`]; a page with more events after it carries a
//!   `Next` link `…/query/logs/{id}?from={last ts}&to={to}&per_page={n}&
//!   sequence_number={last seq}&next_page=true&query=`. Statements are the
//!   LEQL of `leql.rs` (filters; `calculate`, `groupby` and `timeslice`
//!   answered as statistics, see `render::statistics`); sequence numbers are
//!   made as Rapid7's (see [`sequence_number`]). Several logs
//!   (`/query/logs/{id1:id2:…}`, or a POST listing them) are a merged query:
//!   their events merged by `(timestamp, sequence_number)` (unique within a
//!   millisecond across logs, [`log_sequence_number`]), their statistics
//!   together.
//! - Errors: 400 `{"fields":[…],"messages":["Invalid query: …"]}` for bad
//!   parameters, 400 "Invalid Continuation ID", 404 `{"code":404,"message":
//!   "Log Not Found"}` / "Query Not Found (Continuation ID may have expired)",
//!   415 for a non-JSON POST, 404 `{"message":"HTTP 404 Not Found"}` for
//!   unknown routes.
//!
//! The data is a pure function of (log, time), see [`MockDataset`] and the
//! `data` module docs, so tests can compute the exact expected events of any
//! window. [`Faults`] inject the API's failure modes at run time. Every
//! authenticated request is recorded ([`MockServer::requests`]).

// Layout: each file imports only files listed before it (no cycles; checked
// by scripts/check-layers).
//   rng, encode          leaves: hashing; JSON strings, percent-encoding, error bodies
//   messages             message templates (MessageFormat, TYPE_CHANGE_MS)
//   data, standard       the data function (MockDataset) and the standard set
//   ratelimit, faults    rate-limit windows; fault knobs and their counters
//   reply                an answer and its headers
//   query                parameters, validation, the events of a page
//   aggregate            statistics of a statement (functions, groups, slices)
//   render               response bodies (pages with their Next link)
//   continuations        the 202/poll store
//   state                what the handlers share (recorded requests, counters)
//   handlers             routing and request handling
//   server               MockConfig, MockServer
//   tests                HTTP-level tests

mod aggregate;
mod continuations;
mod data;
mod encode;
mod faults;
mod handlers;
pub(crate) mod leql;
mod messages;
mod query;
mod ratelimit;
mod render;
mod reply;
mod rng;
mod server;
mod standard;
mod state;
#[cfg(test)]
mod tests;

pub use data::{
    MockDataset, MockEvent, MockLog, MockLogSet, SEQUENCE_STEP, log_sequence_number,
    sequence_number,
};
pub use faults::{Faults, NextLinks, ResetHeader, Stall, StallOn};
pub use messages::{MessageFormat, TYPE_CHANGE_MS};
pub use ratelimit::RateLimits;
pub use server::{MockConfig, MockServer};
pub use state::{MAX_RECORDED_REQUESTS, RecordedRequest, RequestKind};
