//! Locks that outlive a panic.

use std::sync::{Mutex, MutexGuard};

/// Lock `mutex`, taking its data even if a thread panicked while holding it.
///
/// Every mutex in this crate guards memos, counters or bookkeeping that each
/// update leaves whole: a panic elsewhere (a failed statement, a test)
/// must not turn every later lock into another panic.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
