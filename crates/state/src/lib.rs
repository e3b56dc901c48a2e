//! aib-state: run records, events, collected logs, the last-build index and the run lock,
//! in a local directory or an Azure Blob container.
//!
//! ```no_run
//! use aib_state::{StateLocation, StateStore, RunRecord, Trigger, Event, new_run_id, current_host};
//! # async fn f() -> Result<(), aib_state::StateError> {
//! let loc = StateLocation::parse(None, std::path::Path::new("."))?;
//! let store = aib_state::open(&loc, None).await?;
//! let run_id = new_run_id(chrono::Utc::now());
//! let host = current_host();
//! let lock = store.lock(&run_id, &host).await?; // StateError::Locked -> exit 4
//! let rec = RunRecord::new(&run_id, Trigger::Manual, "avd", "aib.toml", &host, chrono::Utc::now());
//! store.create_run(&rec).await?;
//! store.append_events(&run_id, &[Event::new(&run_id, "run.started")]).await?;
//! lock.release().await?;
//! # Ok(()) }
//! ```

pub mod blob;
pub mod error;
pub mod index;
pub mod input;
pub mod local;
pub mod location;
pub mod lock;
pub mod record;
pub mod sink;

/// The shared vocabulary: the stages of a unit, and the run events `events.ndjson` holds.
pub use aib_vocab::{Level, RunEvent, Stage};
pub use blob::BlobStore;
pub use error::{Result, StateError};
pub use index::Index;
pub use local::LocalStore;
pub use location::{BlobLocation, SHARDS_DIR, StateLocation, is_shard_key};
pub use lock::{LeaseTiming, LockInfo, LockOptions, RunLock};
pub use record::{
    Event, Failure, IndexEntry, ResumeSpec, RunRecord, RunStatus, Selection, StageRecord,
    StageStatus, Trigger, UnitRecord, UnitStatus, current_host, decode_unit_id, encode_unit_id,
    new_run_id,
};
pub use sink::EventSink;

use aib_azure::{BlobAuth, BlobClient, Credential};
use lock::LockInner;
use std::sync::Arc;

/// Overrides the blob endpoint of `azblob://` state (e.g. Azurite).
pub const BLOB_ENDPOINT_ENV: &str = "AIB_STATE_BLOB_ENDPOINT";

/// Lease duration of the blob run lock in seconds (15..=60, default 60): how long after its
/// process died a run still counts as holding the lock. Renewal runs at a third of it.
pub const LEASE_SECONDS_ENV: &str = "AIB_STATE_LEASE_SECONDS";

/// How to reach a blob state location. `Debug` never shows secrets ([`BlobAuth`]'s doesn't).
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// Account URL (`https://ACCOUNT.blob.core.windows.net`, or Azurite's
    /// `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: String,
    /// Shared Key, SAS or bearer.
    pub auth: BlobAuth,
    /// Lease duration / renewal of the run lock.
    pub lease: LeaseTiming,
    /// Allow plain `http://` to a host that is not loopback (`--insecure`).
    pub insecure: bool,
}

impl BlobConfig {
    /// From the environment: `AIB_STATE_BLOB_ENDPOINT` else the public endpoint of the account;
    /// `AZURE_STORAGE_KEY`, else `AZURE_STORAGE_SAS_TOKEN`, else `credential`.
    pub fn from_env(loc: &BlobLocation, credential: Option<Arc<Credential>>) -> Result<Self> {
        let endpoint = std::env::var(BLOB_ENDPOINT_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", loc.account));
        let auth = BlobAuth::from_env(&loc.account, credential)
            .map_err(StateError::azure("state storage credentials"))?;
        Ok(Self {
            endpoint,
            auth,
            lease: lease_from_env(),
            insecure: false,
        })
    }
}

/// [`LEASE_SECONDS_ENV`] (clamped to 15..=60), or the default timing.
fn lease_from_env() -> LeaseTiming {
    let Some(v) = std::env::var(LEASE_SECONDS_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return LeaseTiming::default();
    };
    match v.trim().parse::<u32>() {
        Ok(s) => LeaseTiming {
            duration_s: s,
            renew_every: std::time::Duration::from_secs(u64::from(s)) / 3,
        }
        .normalized(),
        Err(_) => {
            tracing::warn!("{LEASE_SECONDS_ENV}={v:?} is not a number of seconds; using 60");
            LeaseTiming::default()
        }
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Local(LocalStore),
    Blob(Arc<BlobStore>),
}

/// The state store: one interface over the local and blob backends. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StateStore {
    backend: Backend,
}

/// Open the state at `location`; blob credentials come from the environment or `credential`.
pub async fn open(
    location: &StateLocation,
    credential: Option<Arc<Credential>>,
) -> Result<StateStore> {
    open_with(location, credential, false).await
}

/// [`open`], and with `insecure` a Blob endpoint may be plain `http://` on a host that is not
/// loopback (`--insecure`; loopback, e.g. Azurite, is always allowed).
pub async fn open_with(
    location: &StateLocation,
    credential: Option<Arc<Credential>>,
    insecure: bool,
) -> Result<StateStore> {
    match location {
        StateLocation::Local(p) => StateStore::open_local(p.clone()).await,
        StateLocation::Blob(b) => {
            let mut cfg = BlobConfig::from_env(b, credential)?;
            cfg.insecure = insecure;
            StateStore::open_blob(b, cfg).await
        }
    }
}

/// A number in `[0, 1)` for jitter (uuid's randomness; no extra dependency).
fn rand_fraction() -> f64 {
    let b = uuid::Uuid::new_v4().as_u128() as u64;
    (b >> 11) as f64 / (1u64 << 53) as f64
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StateError::Internal(format!("state task failed: {e}")))?
}

impl StateStore {
    /// A local directory store (created if missing).
    pub async fn open_local(root: std::path::PathBuf) -> Result<Self> {
        let s = blocking(move || LocalStore::open(root)).await?;
        Ok(Self {
            backend: Backend::Local(s),
        })
    }

    /// A blob store (the container is created if missing).
    pub async fn open_blob(loc: &BlobLocation, cfg: BlobConfig) -> Result<Self> {
        let client = BlobClient::new(&cfg.endpoint, cfg.auth, cfg.insecure)
            .map_err(StateError::azure("state storage endpoint"))?;
        let s = BlobStore::open(client, loc.clone(), cfg.lease).await?;
        Ok(Self {
            backend: Backend::Blob(Arc::new(s)),
        })
    }

    /// `path` or `azblob://account/container/prefix`.
    pub fn location(&self) -> StateLocation {
        match &self.backend {
            Backend::Local(l) => StateLocation::Local(l.root().to_owned()),
            Backend::Blob(b) => StateLocation::Blob(b.location().clone()),
        }
    }

    /// This state's shard `key` (`<state>/shards/<key>`), to read (no I/O; it may not exist).
    pub fn shard(&self, key: &str) -> StateStore {
        self.at(self.location().shard(key))
    }

    /// The store at another location on the same backend (no I/O).
    fn at(&self, loc: StateLocation) -> StateStore {
        let backend = match (&self.backend, loc) {
            (Backend::Blob(b), StateLocation::Blob(l)) => Backend::Blob(Arc::new(b.at(l))),
            (_, StateLocation::Local(p)) => Backend::Local(LocalStore::at(p)),
            (Backend::Local(l), StateLocation::Blob(_)) => Backend::Local(l.clone()),
        };
        StateStore { backend }
    }

    /// The keys of this state's shards (`shards/<key>/`), sorted.
    pub async fn shard_keys(&self) -> Result<Vec<String>> {
        match &self.backend {
            Backend::Local(l) => {
                let l = l.clone();
                blocking(move || l.shard_keys()).await
            }
            Backend::Blob(b) => b.shard_keys().await,
        }
    }

    /// The root state when this one is a shard (`<root>/shards/<key>`).
    pub fn shard_root(&self) -> Option<StateStore> {
        self.location().shard_of().map(|(root, _)| self.at(root))
    }

    /// This state and its shards: `(None, self)` first, then `(Some(key), shard)` by key.
    pub async fn with_shards(&self) -> Result<Vec<(Option<String>, StateStore)>> {
        let mut out = vec![(None, self.clone())];
        for key in self.shard_keys().await? {
            out.push((Some(key.clone()), self.shard(&key)));
        }
        Ok(out)
    }

    /// The index of this state's whole family — its root when it is a shard, and every shard
    /// of that root — merged, the newest build of each unit winning. A unit keeps its last
    /// build however the plan's units are spread over shards.
    pub async fn read_family_index(&self) -> Result<Index> {
        let root = self.shard_root().unwrap_or_else(|| self.clone());
        let mut index = Index::default();
        for (_, store) in root.with_shards().await? {
            let part = store.read_index().await?;
            index.merge(&part.units.into_values().collect::<Vec<_>>());
        }
        Ok(index)
    }

    /// Store a new run; [`StateError::RunExists`] if the id is taken by a different record
    /// (creating the identical record again, as a retry does, succeeds).
    pub async fn create_run(&self, rec: &RunRecord) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, rec) = (l.clone(), rec.clone());
                blocking(move || l.create_run(&rec)).await
            }
            Backend::Blob(b) => b.create_run(rec).await,
        }
    }

    /// Replace the whole record atomically.
    pub async fn write_run(&self, rec: &RunRecord) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, rec) = (l.clone(), rec.clone());
                blocking(move || l.write_run(&rec)).await
            }
            Backend::Blob(b) => b.write_run(rec).await,
        }
    }

    /// Read a run; [`StateError::RunNotFound`] if there is none.
    pub async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id) = (l.clone(), run_id.to_owned());
                blocking(move || l.read_run(&id)).await
            }
            Backend::Blob(b) => b.read_run(run_id).await,
        }
    }

    /// Run ids, newest first, without reading the records.
    pub async fn list_runs(&self) -> Result<Vec<String>> {
        match &self.backend {
            Backend::Local(l) => {
                let l = l.clone();
                blocking(move || l.list_runs()).await
            }
            Backend::Blob(b) => b.list_runs().await,
        }
    }

    /// The newest run, if any.
    pub async fn latest_run(&self) -> Result<Option<RunRecord>> {
        match self.list_runs().await?.first() {
            Some(id) => self.read_run(id).await.map(Some),
            None => Ok(None),
        }
    }

    /// Append a batch of events (one write per call: batch them).
    pub async fn append_events(&self, run_id: &str, events: &[Event]) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id, ev) = (l.clone(), run_id.to_owned(), events.to_vec());
                blocking(move || l.append_events(&id, &ev)).await
            }
            Backend::Blob(b) => b.append_events(run_id, events).await,
        }
    }

    /// Every event of a run, in order; a torn last line is skipped.
    pub async fn read_events(&self, run_id: &str) -> Result<Vec<Event>> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id) = (l.clone(), run_id.to_owned());
                blocking(move || l.read_events(&id)).await
            }
            Backend::Blob(b) => b.read_events(run_id).await,
        }
    }

    /// Store a unit's log (`customization.log`), replacing any previous one.
    pub async fn write_log(
        &self,
        run_id: &str,
        unit: &str,
        file: &str,
        bytes: &[u8],
    ) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id, u, f, b) = (
                    l.clone(),
                    run_id.to_owned(),
                    unit.to_owned(),
                    file.to_owned(),
                    bytes.to_vec(),
                );
                blocking(move || l.write_log(&id, &u, &f, &b)).await
            }
            Backend::Blob(s) => s.write_log(run_id, unit, file, bytes.to_vec()).await,
        }
    }

    /// Store one of a run's inputs (kept for `aib resume`), named by its SHA-256.
    pub async fn write_input(&self, run_id: &str, name: &str, bytes: &[u8]) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id, n, b) = (
                    l.clone(),
                    run_id.to_owned(),
                    name.to_owned(),
                    bytes.to_vec(),
                );
                blocking(move || l.write_input(&id, &n, &b)).await
            }
            Backend::Blob(s) => s.write_input(run_id, name, bytes.to_vec()).await,
        }
    }

    /// Read one of a run's inputs; [`StateError::InputNotFound`] if absent.
    pub async fn read_input(&self, run_id: &str, name: &str) -> Result<Vec<u8>> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id, n) = (l.clone(), run_id.to_owned(), name.to_owned());
                blocking(move || l.read_input(&id, &n)).await
            }
            Backend::Blob(s) => s.read_input(run_id, name).await,
        }
    }

    /// Read a unit's log; [`StateError::LogNotFound`] if absent.
    pub async fn read_log(&self, run_id: &str, unit: &str, file: &str) -> Result<Vec<u8>> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id, u, f) = (
                    l.clone(),
                    run_id.to_owned(),
                    unit.to_owned(),
                    file.to_owned(),
                );
                blocking(move || l.read_log(&id, &u, &f)).await
            }
            Backend::Blob(s) => s.read_log(run_id, unit, file).await,
        }
    }

    /// Where a log is (or would be) stored, for messages and `failure.log_path`: a file path
    /// or `azblob://account/container/...`.
    pub fn log_path_display(&self, run_id: &str, unit: &str, file: &str) -> Result<String> {
        match &self.backend {
            Backend::Local(l) => Ok(l.log_path(run_id, unit, file)?.display().to_string()),
            Backend::Blob(s) => s.log_path_display(run_id, unit, file),
        }
    }

    /// The last successful build per unit.
    pub async fn read_index(&self) -> Result<Index> {
        match &self.backend {
            Backend::Local(l) => {
                let l = l.clone();
                blocking(move || l.read_index()).await
            }
            Backend::Blob(b) => b.read_index().await,
        }
    }

    /// Upsert entries (a stored entry with a later `built_at` wins); returns the new index.
    /// Local: call while holding the run lock. Blob: safe against concurrent writers (ETag).
    pub async fn update_index(&self, entries: &[IndexEntry]) -> Result<Index> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, e) = (l.clone(), entries.to_vec());
                blocking(move || l.update_index(&e)).await
            }
            Backend::Blob(b) => b.update_index(entries).await,
        }
    }

    /// Take the run lock, or fail with [`StateError::Locked`] naming the holder (exit 4).
    pub async fn lock(&self, run_id: &str, host: &str) -> Result<RunLock> {
        self.lock_with(run_id, host, LockOptions::default()).await
    }

    /// [`StateStore::lock`] with options (break a stale local lock).
    pub async fn lock_with(&self, run_id: &str, host: &str, opts: LockOptions) -> Result<RunLock> {
        match &self.backend {
            Backend::Local(l) => {
                let (l, id, h) = (l.clone(), run_id.to_owned(), host.to_owned());
                let g = blocking(move || l.lock(&id, &h, opts)).await?;
                Ok(RunLock::new(run_id, LockInner::Local(g)))
            }
            Backend::Blob(b) => {
                let g = b.lock(run_id, host).await?;
                Ok(RunLock::new(run_id, LockInner::Blob(Box::new(g))))
            }
        }
    }

    /// [`StateStore::lock_with`], waiting up to `wait` while another run holds the lock:
    /// tries again with a growing pause (a quarter second up to five seconds, jittered, never
    /// past the deadline) and calls `waiting` with the holder's [`StateError::Locked`] the first
    /// time and whenever the holder changes. A zero `wait` tries once. Gives up with the last
    /// `Locked` error; any other error (a stale local lock among them) ends the wait at once.
    /// Cancel it by dropping the future.
    pub async fn lock_waiting(
        &self,
        run_id: &str,
        host: &str,
        opts: LockOptions,
        wait: std::time::Duration,
        mut waiting: impl FnMut(&StateError),
    ) -> Result<RunLock> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = std::time::Duration::from_millis(250);
        let mut last_holder: Option<String> = None;
        loop {
            let err = match self.lock_with(run_id, host, opts).await {
                Ok(lock) => return Ok(lock),
                Err(e @ StateError::Locked { .. }) => e,
                Err(e) => return Err(e),
            };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(err);
            }
            if let StateError::Locked {
                run_id: holder,
                host: holder_host,
                ..
            } = &err
            {
                let who = format!("{holder}@{holder_host}");
                if last_holder.as_deref() != Some(who.as_str()) {
                    waiting(&err);
                    last_holder = Some(who);
                }
            }
            let jittered = pause.mul_f64(0.5 + rand_fraction() * 0.5);
            tokio::time::sleep(jittered.min(deadline - now)).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(5));
        }
    }

    /// The runs that have not ended (running, interrupted, detached), oldest first; a record
    /// that cannot be read is left out, with a warning in the log.
    pub async fn unfinished_runs(&self) -> Result<Vec<RunRecord>> {
        let mut out = Vec::new();
        for id in self.list_runs().await? {
            match self.read_run(&id).await {
                Ok(r) if r.status.is_unfinished() => out.push(r),
                Ok(_) => {}
                Err(e) => tracing::warn!(run = %id, error = %e, "unreadable run record"),
            }
        }
        out.sort_by_key(|r| r.started);
        Ok(out)
    }

    /// Who holds the lock now (`None` if free; a stale local lock counts as free). `status`
    /// uses it to tell a `running` run from an `interrupted` one.
    pub async fn lock_holder(&self) -> Result<Option<LockInfo>> {
        match &self.backend {
            Backend::Local(l) => {
                let l = l.clone();
                blocking(move || l.lock_holder()).await
            }
            Backend::Blob(b) => b.lock_holder().await,
        }
    }

    /// Break the lock. Local: a stale lock always, a live one only with `force`. Blob: breaks
    /// the lease when `force` (a dead holder's lease expires by itself), else reports
    /// [`StateError::Locked`] if held. Returns the holder that was removed.
    pub async fn break_lock(&self, force: bool) -> Result<Option<LockInfo>> {
        match &self.backend {
            Backend::Local(l) => {
                let l = l.clone();
                blocking(move || l.break_lock(force)).await
            }
            Backend::Blob(b) => {
                if !force && let Some(h) = b.lock_holder().await? {
                    return Err(StateError::Locked {
                        run_id: h.run_id,
                        host: h.host,
                        since: Some(h.since),
                    });
                }
                b.break_lock().await
            }
        }
    }
}
