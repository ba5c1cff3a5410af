//! [`LogId`]: a Rapid7 log id, checked once by the one rule that both the
//! client (request paths) and the cache (directory names) rely on; and
//! [`LogRef`], a log as reads name it (its id and, when known, its name). A
//! leaf.

use std::fmt;

use crate::time::TimeRange;

/// Longest accepted log id (and cache path component), in bytes.
pub const MAX_LOG_ID_LEN: usize = 200;

/// A log id that is safe as a URL path segment and as a cache directory
/// name: non-empty, at most [`MAX_LOG_ID_LEN`] bytes of `[A-Za-z0-9._-]`, not
/// starting with a dot. Rapid7 log ids are UUIDs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogId(String);

/// One log: its id and, when known, its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogRef {
    /// The log id (a UUID at Rapid7).
    pub id: String,
    /// The display name from the management API.
    pub name: Option<String>,
}

impl LogRef {
    /// `Firewall [2026-02-10T00:00:00.000Z, 2026-02-10T01:00:00.000Z)`: how
    /// messages and `EXPLAIN` name a range of a log.
    pub fn describe(&self, range: impl std::borrow::Borrow<TimeRange>) -> String {
        format!("{} {}", self.label(), range.borrow())
    }

    /// The name if known, else the id: for messages.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// An id [`LogId::new`] refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{id:?} is not a log id: {reason}")]
pub struct InvalidLogId {
    /// What was given.
    pub id: String,
    /// Which part of the rule it breaks.
    pub reason: &'static str,
}

impl LogId {
    /// Check `id` against the rule.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidLogId> {
        let id = id.into();
        match check_component(&id) {
            Ok(()) => Ok(LogId(id)),
            Err(reason) => Err(InvalidLogId { id, reason }),
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for LogId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The rule: `Err(reason)` when `component` could name anything but one
/// entry of one directory (or one URL path segment).
pub(crate) fn check_component(component: &str) -> Result<(), &'static str> {
    if component.is_empty() {
        return Err("empty");
    }
    if component == "." || component == ".." {
        return Err("relative path component");
    }
    if component.contains(['/', '\\']) {
        return Err("contains a path separator");
    }
    if component.contains('\0') {
        return Err("contains NUL");
    }
    if component.starts_with('.') {
        return Err("starts with a dot");
    }
    if component.len() > MAX_LOG_ID_LEN {
        return Err("longer than 200 bytes");
    }
    if !component
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_pass_and_paths_do_not() {
        let id = LogId::new("0b9a242d-d2fb-4e42-8656-eb5ff64d652f").unwrap();
        assert_eq!(id.as_str(), "0b9a242d-d2fb-4e42-8656-eb5ff64d652f");
        for bad in [
            "", ".", "..", "a/b", "a\\b", "a\nb", ".hidden", "a b", "a\0b",
        ] {
            let e = LogId::new(bad).unwrap_err();
            assert_eq!(e.id, bad);
        }
        assert!(LogId::new("x".repeat(MAX_LOG_ID_LEN)).is_ok());
        assert!(LogId::new("x".repeat(MAX_LOG_ID_LEN + 1)).is_err());
    }
}
