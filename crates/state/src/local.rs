//! Local directory backend.
//!
//! Layout under the root (default `.aib/` beside the manifest):
//! ```text
//! index.json
//! lock
//! runs/<run_id>/run.json
//! runs/<run_id>/events.ndjson
//! runs/<run_id>/logs/<encoded unit id>/customization.log
//! ```
//! Whole-file writes go to `.<name>.tmp-<random>` in the same directory, are fsynced and
//! renamed over the target (then the directory is fsynced), so a reader sees the old or the
//! new file, never a torn one; leftover temp files are never read. Files are created 0600 and
//! directories 0700 on unix. Events are appended as whole lines in append mode.

use crate::error::{Result, StateError};
use crate::index::Index;
use crate::lock::{LockInfo, LockOptions};
use crate::record::{
    Event, IndexEntry, RunRecord, check_file_name, check_run_id, check_unit_id, current_host,
    encode_unit_id, events_from_ndjson, events_to_ndjson, is_run_id,
};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The local directory store. Methods are blocking; [`crate::StateStore`] runs them on the
/// blocking pool.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

const RUN_FILE: &str = "run.json";
const EVENTS_FILE: &str = "events.ndjson";
const INDEX_FILE: &str = "index.json";
const LOCK_FILE: &str = "lock";

fn open_options_new_file() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// `mkdir -p` with 0700 for the directories it creates.
pub(crate) fn ensure_dir(path: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
        .map_err(StateError::io("creating directory", path))
}

/// fsync a directory so a rename or create in it is durable (no-op where unsupported).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let r = uuid::Uuid::new_v4().simple().to_string();
    path.with_file_name(format!(".{name}.tmp-{}", &r[..12]))
}

/// Write a temp file fully and fsync it; returns its path.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = temp_name(path);
    let res = (|| {
        let mut f = open_options_new_file().open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match res {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(StateError::Io {
                op: "writing",
                path: tmp,
                source: e,
            })
        }
    }
}

/// Atomically replace `path` with `bytes` (temp file + fsync + rename + dir fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = write_temp(path, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(StateError::Io {
            op: "renaming into place",
            path: path.to_owned(),
            source: e,
        });
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::Io {
            op: "reading",
            path: path.to_owned(),
            source: e,
        }),
    }
}

fn to_json(v: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| StateError::Internal(e.to_string()))?;
    b.push(b'\n');
    Ok(b)
}

/// Whether `pid` is a live process on this host; `None` when we cannot tell.
fn pid_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else if pid == std::process::id() {
        Some(true)
    } else {
        None
    }
}

/// Whether a lock held by `info` is stale: same host, process gone.
fn is_stale(info: &LockInfo) -> bool {
    info.host == current_host() && pid_alive(info.pid) == Some(false)
}

impl LocalStore {
    /// Open (creating) the state directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        ensure_dir(&root.join("runs"))?;
        Ok(Self { root })
    }

    /// The store at `root` without creating anything (for reading a state that may not exist).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The keys of the shards under `shards/` (directories with a shard key's name).
    pub fn shard_keys(&self) -> Result<Vec<String>> {
        let dir = self.root.join(crate::location::SHARDS_DIR);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StateError::io("listing", &dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in rd {
            let entry = entry.map_err(StateError::io("listing", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if crate::location::is_shard_key(&name) && entry.path().is_dir() {
                keys.push(name);
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        check_run_id(run_id)?;
        Ok(self.root.join("runs").join(run_id))
    }

    /// Path of a unit's log file.
    pub fn log_path(&self, run_id: &str, unit: &str, file: &str) -> Result<PathBuf> {
        check_unit_id(unit)?;
        check_file_name(file)?;
        Ok(self
            .run_dir(run_id)?
            .join("logs")
            .join(encode_unit_id(unit))
            .join(file))
    }

    /// Path of one of a run's inputs (`runs/<id>/inputs/<sha256>`).
    pub fn input_path(&self, run_id: &str, name: &str) -> Result<PathBuf> {
        crate::input::check_input_name(name)?;
        Ok(self
            .run_dir(run_id)?
            .join(crate::input::INPUTS_DIR)
            .join(name))
    }

    /// Store one of a run's inputs.
    pub fn write_input(&self, run_id: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.input_path(run_id, name)?;
        if let Some(dir) = path.parent() {
            ensure_dir(dir)?;
        }
        write_atomic(&path, bytes)
    }

    /// Read one of a run's inputs.
    pub fn read_input(&self, run_id: &str, name: &str) -> Result<Vec<u8>> {
        let path = self.input_path(run_id, name)?;
        read_opt(&path)?.ok_or_else(|| StateError::InputNotFound {
            run_id: run_id.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Create `runs/<id>/run.json`; fails with `RunExists` if the run exists.
    pub fn create_run(&self, rec: &RunRecord) -> Result<()> {
        let dir = self.run_dir(&rec.run_id)?;
        ensure_dir(&self.root.join("runs"))?;
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        match b.create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // The same record again (a retried create) is fine; another one is not.
                if let Some(old) = read_opt(&dir.join(RUN_FILE))? {
                    if old == to_json(rec)? {
                        return Ok(());
                    }
                    return Err(StateError::RunExists(rec.run_id.clone()));
                }
            }
            Err(e) => return Err(StateError::io("creating directory", &dir)(e)),
        }
        write_atomic(&dir.join(RUN_FILE), &to_json(rec)?)
    }

    /// Replace `run.json` atomically.
    pub fn write_run(&self, rec: &RunRecord) -> Result<()> {
        let dir = self.run_dir(&rec.run_id)?;
        ensure_dir(&dir)?;
        write_atomic(&dir.join(RUN_FILE), &to_json(rec)?)
    }

    /// Read `run.json`.
    pub fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        let path = self.run_dir(run_id)?.join(RUN_FILE);
        let bytes = read_opt(&path)?.ok_or_else(|| StateError::RunNotFound(run_id.to_owned()))?;
        crate::record::parse_run(&bytes, &path.display().to_string())
    }

    /// Run ids, newest first (directory names only; records are not read).
    pub fn list_runs(&self) -> Result<Vec<String>> {
        let runs = self.root.join("runs");
        let rd = match fs::read_dir(&runs) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StateError::io("listing", &runs)(e)),
        };
        let mut ids = Vec::new();
        for entry in rd {
            let entry = entry.map_err(StateError::io("listing", &runs))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_run_id(&name) && entry.path().join(RUN_FILE).is_file() {
                ids.push(name);
            }
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        Ok(ids)
    }

    /// Append events as whole lines. If a crash left a torn last line (no final newline), a
    /// newline is written first so that fragment stays on its own (skipped) line.
    pub fn append_events(&self, run_id: &str, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let dir = self.run_dir(run_id)?;
        ensure_dir(&dir)?;
        let path = dir.join(EVENTS_FILE);
        let mut buf = events_to_ndjson(events)?;
        let mut o = OpenOptions::new();
        o.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let io = StateError::io("appending to", &path);
        let res = (|| {
            let mut f = o.open(&path)?;
            let len = f.metadata()?.len();
            if len > 0 {
                f.seek(SeekFrom::Start(len - 1))?;
                let mut last = [0u8; 1];
                f.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    buf.insert(0, b'\n');
                }
            }
            f.write_all(&buf)?;
            f.sync_data()
        })();
        res.map_err(io)
    }

    /// Read events; unreadable lines (a torn last line) are skipped.
    pub fn read_events(&self, run_id: &str) -> Result<Vec<Event>> {
        let dir = self.run_dir(run_id)?;
        let path = dir.join(EVENTS_FILE);
        match read_opt(&path)? {
            Some(b) => Ok(events_from_ndjson(&b, &path.display().to_string())),
            None if dir.join(RUN_FILE).exists() => Ok(Vec::new()),
            None => Err(StateError::RunNotFound(run_id.to_owned())),
        }
    }

    /// Store a unit's log file atomically.
    pub fn write_log(&self, run_id: &str, unit: &str, file: &str, bytes: &[u8]) -> Result<()> {
        let path = self.log_path(run_id, unit, file)?;
        if let Some(dir) = path.parent() {
            ensure_dir(dir)?;
        }
        write_atomic(&path, bytes)
    }

    /// Read a unit's log file.
    pub fn read_log(&self, run_id: &str, unit: &str, file: &str) -> Result<Vec<u8>> {
        let path = self.log_path(run_id, unit, file)?;
        read_opt(&path)?.ok_or_else(|| StateError::LogNotFound {
            run_id: run_id.to_owned(),
            unit: unit.to_owned(),
            file: file.to_owned(),
        })
    }

    /// Read `index.json` (empty if missing).
    pub fn read_index(&self) -> Result<Index> {
        let path = self.root.join(INDEX_FILE);
        match read_opt(&path)? {
            Some(b) => Index::from_bytes(&b, &path.display().to_string()),
            None => Ok(Index::default()),
        }
    }

    /// Read-modify-write `index.json`. Callers hold the run lock, which serialises writers.
    pub fn update_index(&self, entries: &[IndexEntry]) -> Result<Index> {
        let mut idx = self.read_index()?;
        idx.merge(entries);
        write_atomic(&self.root.join(INDEX_FILE), &idx.to_bytes()?)?;
        Ok(idx)
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    fn read_lock(&self) -> Result<Option<(LockInfo, Vec<u8>)>> {
        let path = self.lock_path();
        let Some(bytes) = read_opt(&path)? else {
            return Ok(None);
        };
        let info: LockInfo = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            location: path.display().to_string(),
            message: format!("{e}; remove it if no aib run is active"),
        })?;
        Ok(Some((info, bytes)))
    }

    /// The active holder of the lock (`None` if free or stale).
    pub fn lock_holder(&self) -> Result<Option<LockInfo>> {
        Ok(self.read_lock()?.map(|(i, _)| i).filter(|i| !is_stale(i)))
    }

    /// Take the lock.
    pub fn lock(&self, run_id: &str, host: &str, opts: LockOptions) -> Result<LocalLock> {
        ensure_dir(&self.root)?;
        let path = self.lock_path();
        let info = LockInfo::new(run_id, host);
        let body = to_json(&info)?;
        for _ in 0..5 {
            let tmp = write_temp(&path, &body)?;
            let linked = fs::hard_link(&tmp, &path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    sync_dir(&self.root);
                    return Ok(LocalLock::new(path, info));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(_) => {
                    // No hard links here (some network / FAT file systems): create_new.
                    match open_options_new_file().open(&path) {
                        Ok(mut f) => {
                            f.write_all(&body)
                                .and_then(|()| f.sync_all())
                                .map_err(StateError::io("writing", &path))?;
                            sync_dir(&self.root);
                            return Ok(LocalLock::new(path, info));
                        }
                        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(StateError::io("creating", &path)(e)),
                    }
                }
            }
            let Some((holder, raw)) = self.read_lock()? else {
                continue; // released meanwhile: try again
            };
            if !is_stale(&holder) {
                return Err(StateError::Locked {
                    run_id: holder.run_id,
                    host: holder.host,
                    since: Some(holder.since),
                });
            }
            if !opts.break_stale {
                return Err(StateError::StaleLock {
                    run_id: holder.run_id,
                    host: holder.host,
                    pid: holder.pid,
                    since: Some(holder.since),
                    path,
                });
            }
            self.remove_if_same(&raw)?;
            tracing::warn!(run_id = %holder.run_id, pid = holder.pid, "broke a stale state lock");
        }
        Err(StateError::Contention {
            what: path.display().to_string(),
            attempts: 5,
        })
    }

    /// Remove the lock file only if it still has exactly `raw` as content: it is moved aside
    /// atomically first, and moved back if someone replaced it meanwhile.
    fn remove_if_same(&self, raw: &[u8]) -> Result<bool> {
        let path = self.lock_path();
        let aside = temp_name(&path.with_file_name("lock-broken"));
        match fs::rename(&path, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StateError::io("moving aside", &path)(e)),
        }
        let moved = fs::read(&aside).unwrap_or_default();
        if moved == raw {
            let _ = fs::remove_file(&aside);
            sync_dir(&self.root);
            Ok(true)
        } else {
            // Not the lock we meant: put it back unless a new one appeared.
            let _ = fs::hard_link(&aside, &path);
            let _ = fs::remove_file(&aside);
            sync_dir(&self.root);
            Ok(false)
        }
    }

    /// Break the lock: a stale one always; a live one only with `force`. Returns the holder
    /// that was removed.
    pub fn break_lock(&self, force: bool) -> Result<Option<LockInfo>> {
        let Some((holder, raw)) = self.read_lock()? else {
            return Ok(None);
        };
        if !force && !is_stale(&holder) {
            return Err(StateError::Locked {
                run_id: holder.run_id,
                host: holder.host,
                since: Some(holder.since),
            });
        }
        Ok(self.remove_if_same(&raw)?.then_some(holder))
    }
}

/// A held local lock.
#[derive(Debug)]
pub struct LocalLock {
    path: PathBuf,
    info: LockInfo,
    released: bool,
    lost: Arc<AtomicBool>,
}

impl LocalLock {
    fn new(path: PathBuf, info: LockInfo) -> Self {
        Self {
            path,
            info,
            released: false,
            lost: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn is_lost(&self) -> bool {
        if self.lost.load(Ordering::Relaxed) {
            return true;
        }
        !self.still_ours()
    }

    fn still_ours(&self) -> bool {
        fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok())
            .is_some_and(|i| i.run_id == self.info.run_id && i.pid == self.info.pid)
    }

    fn release_sync(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        if !self.still_ours() {
            self.lost.store(true, Ordering::Relaxed);
            return Err(StateError::LockLost {
                run_id: self.info.run_id.clone(),
                message: format!("{} no longer names this run", self.path.display()),
            });
        }
        fs::remove_file(&self.path).map_err(StateError::io("removing", &self.path))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir);
        }
        Ok(())
    }

    pub(crate) async fn release(mut self) -> Result<()> {
        tokio::task::spawn_blocking(move || self.release_sync())
            .await
            .map_err(|e| StateError::Internal(e.to_string()))?
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        if !self.released
            && let Err(e) = self.release_sync()
        {
            tracing::warn!(error = %e, "releasing the state lock on drop");
        }
    }
}
