//! The run lock: one `aib build`/`schedule` run at a time per state location.
//!
//! - Local: `<root>/lock`, created atomically (written to a temp file, then hard-linked into
//!   place, which fails if the lock exists) holding a [`LockInfo`]. A lock whose pid is gone on
//!   this host is *stale*: reported as [`crate::StateError::StaleLock`], and broken only when
//!   asked ([`LockOptions::break_stale`] or [`crate::StateStore::break_lock`]).
//! - Blob: a lease on `<prefix>/lock` ([`LeaseTiming`]: 60 s, renewed every 20 s by a background
//!   task); the blob's body is the holder's [`LockInfo`], so a contender can name it. If the
//!   holder dies the lease expires by itself.
//!
//! [`RunLock::release`] releases; dropping a `RunLock` releases best-effort (the local file is
//! removed synchronously; the blob lease release is spawned on the current runtime, and the
//! lease expires anyway).
//!
//! This file holds what both stores use (who holds the lock, the lease timing); the held lock,
//! which wraps either store's guard, is in `lock/run.rs`, above `blob` and `local`.

mod run;

pub(crate) use run::LockInner;
pub use run::RunLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who holds the lock (the body of the lock file / blob).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Holder's run id.
    pub run_id: String,
    /// Holder's host.
    pub host: String,
    /// Holder's process id.
    pub pid: u32,
    /// When it was taken.
    #[serde(with = "crate::record::ts")]
    pub since: DateTime<Utc>,
}

impl LockInfo {
    /// Info for this process.
    pub fn new(run_id: &str, host: &str) -> Self {
        Self {
            run_id: run_id.to_owned(),
            host: host.to_owned(),
            pid: std::process::id(),
            since: Utc::now(),
        }
    }
}

/// Options of [`crate::StateStore::lock_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockOptions {
    /// Break a stale local lock (its process is gone on this host) instead of failing.
    pub break_stale: bool,
}

/// Lease duration and renewal interval of the blob lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// Lease duration in seconds (Azure allows 15..=60).
    pub duration_s: u32,
    /// How often the background task renews it (well under the duration).
    pub renew_every: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            duration_s: 60,
            renew_every: Duration::from_secs(20),
        }
    }
}

impl LeaseTiming {
    /// Clamp to what Azure accepts: duration 15..=60 s, renewal at most a third of it.
    pub fn normalized(self) -> Self {
        let duration_s = self.duration_s.clamp(15, 60);
        let max_renew = Duration::from_secs(u64::from(duration_s)) / 3;
        let renew_every = self
            .renew_every
            .clamp(Duration::from_millis(100), max_renew);
        Self {
            duration_s,
            renew_every,
        }
    }
}
