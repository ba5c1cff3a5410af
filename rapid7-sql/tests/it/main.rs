//! Integration tests of `rapid7-sql`: the binary as a process, against the
//! simulator on loopback. One binary, named `it` like the library's, so that
//! `cargo test --test it cli::NAME` finds these tests from the repository root.

mod cli;
mod serve;
mod serve_python;

// The library's shared test helpers, compiled here from the same files (one
// copy, no duplicate): the simulator and client set-up, and the S3-protocol
// server on loopback. Not every helper is used by the binary's tests.
#[allow(dead_code)]
#[path = "../../../tests/it/support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../../tests/it/cache/s3.rs"]
mod s3;

/// The S3 server under the path the library's tests give it (`crate::cache::s3`).
mod cache {
    pub(crate) use crate::s3;
}
