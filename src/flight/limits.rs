//! [`ServeLimits`]: what one user, one result and the whole process may
//! take, and the per-user statement slots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::auth::User;
use super::error::Error;
use crate::locks::lock;

/// The server's limits. Each one, when reached, fails the statement with
/// an error naming it and how to get under it
/// ([`Error::Limit`](super::Error::Limit), `RESOURCE_EXHAUSTED`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeLimits {
    /// Statements one user may have at once (planned and not yet fully
    /// read). A slot is freed when the statement's stream ends, fails, is
    /// cancelled or is dropped (the client went away), and when its ticket
    /// expires unused. 0: no limit.
    pub statements_per_user: usize,
    /// Rows one result may hold; a result past it is cut with an error
    /// (never silently truncated). 0: no limit.
    pub rows_per_result: u64,
    /// Bytes (Arrow, in memory) one result may hold; likewise. 0: no limit.
    pub bytes_per_result: u64,
    /// The memory pool every statement of the process plans and executes
    /// in (sorts, joins, aggregates), bytes; a statement that needs more
    /// fails. 0: no pool limit.
    pub memory_pool_bytes: u64,
    /// How long a ticket or prepared statement is kept unused before it
    /// expires (and its slot is freed).
    pub handle_ttl: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            statements_per_user: 8,
            rows_per_result: 10_000_000,
            bytes_per_result: 4 << 30,
            memory_pool_bytes: 2 << 30,
            handle_ttl: Duration::from_secs(300),
        }
    }
}

impl ServeLimits {
    /// At most `n` statements per user at once (0: no limit).
    pub fn with_statements_per_user(mut self, n: usize) -> Self {
        self.statements_per_user = n;
        self
    }

    /// At most `n` rows per result (0: no limit).
    pub fn with_rows_per_result(mut self, n: u64) -> Self {
        self.rows_per_result = n;
        self
    }

    /// At most `n` bytes per result (0: no limit).
    pub fn with_bytes_per_result(mut self, n: u64) -> Self {
        self.bytes_per_result = n;
        self
    }

    /// A memory pool of `n` bytes for the process (0: no limit).
    pub fn with_memory_pool_bytes(mut self, n: u64) -> Self {
        self.memory_pool_bytes = n;
        self
    }

    /// Unused tickets and prepared statements expire after `ttl`.
    pub fn with_handle_ttl(mut self, ttl: Duration) -> Self {
        self.handle_ttl = ttl;
        self
    }

    /// The error of a result cut at `rows` rows and `bytes` bytes, if it is
    /// over a limit.
    pub(crate) fn check_result(&self, rows: u64, bytes: u64) -> Result<(), Error> {
        if self.rows_per_result > 0 && rows > self.rows_per_result {
            return Err(Error::Limit {
                limit: "rows_per_result",
                value: self.rows_per_result,
                message: format!(
                    "result cut: it holds more than {} rows, the server's limit per result; \
                     the rows sent before this error are not the whole result",
                    self.rows_per_result
                ),
                raise: "add a LIMIT or narrow the query, or ask the server's operator to raise \
                        ServeLimits::rows_per_result",
            });
        }
        if self.bytes_per_result > 0 && bytes > self.bytes_per_result {
            return Err(Error::Limit {
                limit: "bytes_per_result",
                value: self.bytes_per_result,
                message: format!(
                    "result cut: it holds more than {} bytes, the server's limit per result; \
                     the rows sent before this error are not the whole result",
                    self.bytes_per_result
                ),
                raise: "select fewer columns or rows, or ask the server's operator to raise \
                        ServeLimits::bytes_per_result",
            });
        }
        Ok(())
    }
}

/// The statements each user has now.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    held: Mutex<HashMap<User, usize>>,
}

impl Slots {
    /// A slot for `user`, or the limit's error when they hold `max` (0: no
    /// limit).
    pub(crate) fn acquire(self: &Arc<Self>, user: &User, max: usize) -> Result<Slot, Error> {
        let mut held = lock(&self.held);
        let n = held.entry(user.clone()).or_default();
        if max > 0 && *n >= max {
            return Err(Error::Limit {
                limit: "statements_per_user",
                value: max as u64,
                message: format!(
                    "user {user} has {n} statements running or waiting to be read, the server's \
                     limit"
                ),
                raise: "read or cancel a running statement first (an unread ticket is freed when \
                        it expires), or ask the server's operator to raise \
                        ServeLimits::statements_per_user",
            });
        }
        *n += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            user: user.clone(),
        })
    }

    /// The statements `user` holds now.
    pub(crate) fn held(&self, user: &User) -> usize {
        lock(&self.held).get(user).copied().unwrap_or(0)
    }
}

/// One statement's slot, freed when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    user: User,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = lock(&self.slots.held);
        if let Some(n) = held.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_freed_when_dropped_and_the_limit_names_itself() {
        let slots = Arc::new(Slots::default());
        let alice = User::new("alice");
        let a = slots.acquire(&alice, 2).unwrap();
        let _b = slots.acquire(&alice, 2).unwrap();
        let err = slots.acquire(&alice, 2).unwrap_err().to_string();
        assert!(err.contains("statements_per_user"), "{err}");
        // Another user has their own slots.
        slots.acquire(&User::new("bob"), 2).unwrap();
        drop(a);
        assert_eq!(slots.held(&alice), 1);
        slots.acquire(&alice, 2).unwrap();
    }

    #[test]
    fn results_over_a_limit_say_they_were_cut() {
        let limits = ServeLimits::default()
            .with_rows_per_result(10)
            .with_bytes_per_result(100);
        assert!(limits.check_result(10, 100).is_ok());
        let rows = limits.check_result(11, 0).unwrap_err().to_string();
        assert!(
            rows.contains("result cut") && rows.contains("rows_per_result"),
            "{rows}"
        );
        let bytes = limits.check_result(1, 101).unwrap_err().to_string();
        assert!(bytes.contains("bytes_per_result"), "{bytes}");
        assert!(
            ServeLimits::default()
                .with_rows_per_result(0)
                .check_result(u64::MAX, 0)
                .is_ok()
        );
    }
}
