//! A held run lock: the local file's guard or the blob lease, behind one type.

use crate::blob::BlobLease;
use crate::error::Result;
use crate::local::LocalLock;

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
