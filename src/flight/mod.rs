//! Arrow Flight SQL over one shared [`Rapid7`](crate::Rapid7) handle (feature
//! `flight`): the library half of `rapid7-sql serve`.
//!
//! One process holds the key, its quota, the cache and the fetcher, and
//! serves SQL to any number of clients (ADBC, JDBC, ODBC drivers). Every
//! caller is a [`User`], proved by [`Auth`].

mod auth;

pub use auth::{Auth, User};
