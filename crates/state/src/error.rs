//! [`StateError`]: everything the state store can report.

use chrono::{DateTime, SecondsFormat, Utc};
use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

fn fmt_since(since: &Option<DateTime<Utc>>) -> String {
    since
        .map(|s| s.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "an unknown time".into())
}

/// Errors of the state store. Messages never contain storage keys or SAS tokens.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another run holds the run lock. The binary maps this to exit code 4.
    #[error(
        "state is locked by run {run_id} on host {host} since {}",
        fmt_since(since)
    )]
    Locked {
        /// Run id of the holder (`unknown` when the lock does not say).
        run_id: String,
        /// Host of the holder (`unknown` when the lock does not say).
        host: String,
        /// When the holder took the lock.
        since: Option<DateTime<Utc>>,
    },
    /// The local lock file names a process on this host that no longer exists.
    /// Break it with [`crate::StateStore::break_lock`] or lock with `break_stale`. Exit code 4.
    #[error(
        "state is locked by run {run_id} on host {host} since {}, but its process {pid} is gone: \
         the lock is stale (remove {} or break it) ",
        fmt_since(since),
        path.display()
    )]
    StaleLock {
        /// Run id of the dead holder.
        run_id: String,
        /// Host (this host).
        host: String,
        /// Process id that no longer exists.
        pid: u32,
        /// When it took the lock.
        since: Option<DateTime<Utc>>,
        /// The lock file.
        path: PathBuf,
    },
    /// The lock was lost while held (lease renewal failed, lock file replaced).
    #[error("the run lock of run {run_id} was lost: {message}")]
    LockLost {
        /// Our run id.
        run_id: String,
        /// Why.
        message: String,
    },
    /// No such run.
    #[error("run {0} not found in the state")]
    RunNotFound(String),
    /// `create_run` for an id that exists.
    #[error("run {0} already exists in the state")]
    RunExists(String),
    /// No log stored under that name.
    #[error("no log {file} for unit {unit} in run {run_id}")]
    LogNotFound {
        /// Run id.
        run_id: String,
        /// Unit id.
        unit: String,
        /// File name.
        file: String,
    },
    /// A run's input (kept for `aib resume`) that is not in the state.
    #[error("run {run_id} has no input {name} in the state")]
    InputNotFound {
        /// Run id.
        run_id: String,
        /// The input's name (its SHA-256).
        name: String,
    },
    /// `--state` could not be understood.
    #[error("invalid --state {arg:?}: {reason}")]
    InvalidLocation {
        /// The argument as given.
        arg: String,
        /// Why.
        reason: String,
    },
    /// A run id, unit id or file name that cannot be stored.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// `run id`, `unit id`, `log file name`.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A local file system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What we were doing.
        op: &'static str,
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored record of a format version this aib does not read (written by a newer aib).
    #[error(
        "{location} is a run record of version {version}; this aib reads version {supported}: use the aib that wrote it (or a newer one)"
    )]
    UnsupportedVersion {
        /// Path or blob name.
        location: String,
        /// The record's version.
        version: u32,
        /// The version this aib reads.
        supported: u32,
    },
    /// A stored file does not parse.
    #[error("{location} is corrupt: {message}")]
    Corrupt {
        /// Path or blob name.
        location: String,
        /// Parser message.
        message: String,
    },
    /// A Blob storage call failed.
    #[error("state storage ({op}): {source}")]
    Azure {
        /// What we were doing.
        op: String,
        /// Cause (URLs redacted by aib-azure).
        #[source]
        source: Box<aib_azure::Error>,
    },
    /// An optimistic-concurrency update kept losing the race.
    #[error("could not update {what}: it kept changing under us ({attempts} attempts)")]
    Contention {
        /// What.
        what: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A background task failed to run.
    #[error("internal error: {0}")]
    Internal(String),
}

impl StateError {
    /// The process exit code: 4 locked, 3 Azure auth/config, 2 usage (a bad `--state`, an
    /// unknown run id or name), else 5: the state could not be read or written (never 1,
    /// which says a unit failed).
    pub fn exit_code(&self) -> i32 {
        match self {
            StateError::Locked { .. } | StateError::StaleLock { .. } => 4,
            StateError::Azure { source, .. } if source.is_auth_or_config() => 3,
            StateError::InvalidLocation { .. }
            | StateError::RunNotFound(_)
            | StateError::LogNotFound { .. }
            | StateError::InvalidName { .. } => 2,
            _ => 5,
        }
    }

    /// True for [`StateError::Locked`] and [`StateError::StaleLock`].
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            StateError::Locked { .. } | StateError::StaleLock { .. }
        )
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StateError::Io { op, path, source }
    }

    pub(crate) fn azure(op: impl Into<String>) -> impl FnOnce(aib_azure::Error) -> Self {
        let op = op.into();
        move |source| StateError::Azure {
            op,
            source: Box::new(source),
        }
    }
}
