//! The doctor's report: one line per check, as text to paste into a bug
//! report or as JSON. It holds no key and no event text: counts, shapes,
//! statuses and log names only.

use std::fmt;

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// As the product expects.
    Ok,
    /// A fact worth knowing, which the product handles either way.
    Note,
    /// The endpoint differs from what the product assumes; the finding says
    /// what the product does about it (or what to set).
    Warn,
    /// The check could not run, or the endpoint is unusable as configured.
    Fail,
    /// Not checked (an earlier check failed, or nothing to check on).
    Skipped,
}

impl Status {
    fn tag(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Note => "note",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skipped => "skip",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Its name (`key`, `to_inclusive`, …), stable for scripts.
    pub name: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found, in words.
    pub finding: String,
}

/// What `rapid7-sql doctor` found; see [`crate::Rapid7::doctor`].
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The version of this library (and `rapid7-sql`).
    pub version: String,
    /// The endpoint's base URL.
    pub endpoint: String,
    /// The region the endpoint belongs to, when it is a region's host.
    pub region: Option<String>,
    /// Query requests made (submits and `Next` links; polls not counted).
    pub queries: u64,
    /// Every request made (queries, polls, management).
    pub requests: u64,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rapid7-sql doctor {}", self.version)?;
        let region = self.region.as_deref().map_or_else(
            || "no region: an explicit endpoint".into(),
            |r| format!("region {r}"),
        );
        writeln!(f, "endpoint {} ({region})", self.endpoint)?;
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &self.checks {
            writeln!(
                f,
                "[{:<4}] {:<width$}  {}",
                c.status.tag(),
                c.name,
                c.finding
            )?;
        }
        write!(
            f,
            "{} queries, {} requests in all",
            self.queries, self.requests
        )
    }
}
