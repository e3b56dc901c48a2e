//! Locking that survives a panicked request.

use std::sync::{Mutex, MutexGuard};

/// Lock a mutex, recovering from poisoning (a panicked request must not stop the sim).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
