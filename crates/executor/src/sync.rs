//! A mutex that a panicking holder does not poison for everyone else.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking the value over from a holder that panicked (what it guards stays usable:
/// lists and maps that are whole after every single update).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
