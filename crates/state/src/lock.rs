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

use crate::blob::BlobLease;
use crate::error::Result;
use crate::local::LocalLock;
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

pub(crate) enum LockInner {
    Local(LocalLock),
    Blob(Box<BlobLease>),
}

/// A held run lock. Keep it alive for the whole run; call [`RunLock::release`] at the end.
pub struct RunLock {
    run_id: String,
    inner: Option<LockInner>,
}

impl std::fmt::Debug for RunLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLock")
            .field("run_id", &self.run_id)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl RunLock {
    pub(crate) fn new(run_id: &str, inner: LockInner) -> Self {
        Self {
            run_id: run_id.to_owned(),
            inner: Some(inner),
        }
    }

    /// The run that holds it.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// True once the lock is known to be lost (blob lease renewal was refused or could not
    /// be done before the lease expired; local lock file no longer ours).
    pub fn is_lost(&self) -> bool {
        match &self.inner {
            Some(LockInner::Local(l)) => l.is_lost(),
            Some(LockInner::Blob(b)) => b.is_lost(),
            None => false,
        }
    }

    /// Release the lock. Fails with [`crate::StateError::LockLost`] if it was no longer ours.
    pub async fn release(mut self) -> Result<()> {
        match self.inner.take() {
            Some(LockInner::Local(l)) => l.release().await,
            Some(LockInner::Blob(b)) => (*b).release().await,
            None => Ok(()),
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Each guard releases best-effort in its own Drop.
        drop(self.inner.take());
    }
}
