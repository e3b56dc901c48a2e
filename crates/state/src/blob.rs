//! Azure Blob backend (`azblob://ACCOUNT/CONTAINER[/PREFIX]`).
//!
//! Same layout as the local directory, as blobs under `PREFIX/`, except events:
//! ```text
//! PREFIX/index.json                                   (updated with If-Match on its ETag)
//! PREFIX/lock                                         (leased; body = holder's LockInfo)
//! PREFIX/runs/<run_id>/run.json
//! PREFIX/runs/<run_id>/events/<seq, 10 digits>.ndjson (one chunk per append_events batch)
//! PREFIX/runs/<run_id>/logs/<encoded unit id>/customization.log
//! ```
//! Events: aib-azure has no append-blob call, so each `append_events` batch is one block blob
//! chunk created with `If-None-Match: *` (never overwriting); readers list the chunks and
//! concatenate them in name order. Every blob write is a single Put Blob, so it is atomic.

use crate::error::{Result, StateError};
use crate::index::Index;
use crate::location::BlobLocation;
use crate::lock::{LeaseTiming, LockInfo};
use crate::record::{
    Event, IndexEntry, RunRecord, check_file_name, check_run_id, check_unit_id, encode_unit_id,
    events_from_ndjson, events_to_ndjson, is_run_id,
};
use aib_azure::BlobClient;
use aib_azure::blob::Conditions;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const JSON: &str = "application/json";

/// The blob store.
#[derive(Debug)]
pub struct BlobStore {
    client: BlobClient,
    loc: BlobLocation,
    timing: LeaseTiming,
    /// Next event chunk number per run (learned by listing on first append).
    event_seq: Mutex<HashMap<String, u64>>,
}

fn is_exists(e: &aib_azure::Error) -> bool {
    e.is_conflict() || e.is_precondition_failed()
}

impl BlobStore {
    /// Wrap a client; creates the container if it is missing.
    pub async fn open(client: BlobClient, loc: BlobLocation, timing: LeaseTiming) -> Result<Self> {
        client
            .create_container(&loc.container)
            .await
            .map_err(StateError::azure(format!(
                "creating container {}",
                loc.container
            )))?;
        Ok(Self {
            client,
            loc,
            timing: timing.normalized(),
            event_seq: Mutex::new(HashMap::new()),
        })
    }

    /// Where this store lives.
    pub fn location(&self) -> &BlobLocation {
        &self.loc
    }

    /// The store at another location of the same container and account (no request made;
    /// the container exists since this one was opened).
    pub fn at(&self, loc: BlobLocation) -> Self {
        Self {
            client: self.client.clone(),
            loc,
            timing: self.timing,
            event_seq: Mutex::new(HashMap::new()),
        }
    }

    /// The keys of the shards under `shards/` (one listing with delimiter `/`; a service that
    /// ignores the delimiter lists every blob below instead, which names the same keys).
    pub async fn shard_keys(&self) -> Result<Vec<String>> {
        let prefix = self.name(&format!("{}/", crate::location::SHARDS_DIR));
        let names = self
            .client
            .list_children(&self.loc.container, &prefix)
            .await
            .map_err(StateError::azure(format!("listing {prefix}")))?;
        let mut keys: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix))
            .filter_map(|rest| rest.split_once('/').map(|(k, _)| k))
            .filter(|k| crate::location::is_shard_key(k))
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn name(&self, rel: &str) -> String {
        self.loc.blob_name(rel)
    }

    fn run_rel(run_id: &str, rest: &str) -> Result<String> {
        check_run_id(run_id)?;
        Ok(format!("runs/{run_id}/{rest}"))
    }

    fn log_rel(run_id: &str, unit: &str, file: &str) -> Result<String> {
        check_unit_id(unit)?;
        check_file_name(file)?;
        Self::run_rel(run_id, &format!("logs/{}/{file}", encode_unit_id(unit)))
    }

    async fn get_opt(&self, name: &str) -> Result<Option<Bytes>> {
        match self.client.download(&self.loc.container, name).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(StateError::azure(format!("reading {name}"))(e)),
        }
    }

    async fn put(
        &self,
        name: &str,
        data: Vec<u8>,
        ctype: &str,
        cond: &Conditions,
    ) -> Result<Option<String>, aib_azure::Error> {
        self.client
            .put_blob_with(&self.loc.container, name, Bytes::from(data), ctype, cond)
            .await
    }

    /// `create_run`: fails with `RunExists` if another `run.json` exists under that id.
    pub async fn create_run(&self, rec: &RunRecord) -> Result<()> {
        let name = self.name(&Self::run_rel(&rec.run_id, "run.json")?);
        let body = to_json(rec)?;
        match self
            .put(&name, body.clone(), JSON, &Conditions::create_only())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_exists(&e) => {
                // A retried PUT whose first attempt landed finds its own record: that is ours.
                if self.get_opt(&name).await?.is_some_and(|b| *b == *body) {
                    Ok(())
                } else {
                    Err(StateError::RunExists(rec.run_id.clone()))
                }
            }
            Err(e) => Err(StateError::azure(format!("writing {name}"))(e)),
        }
    }

    /// Replace `run.json`.
    pub async fn write_run(&self, rec: &RunRecord) -> Result<()> {
        let name = self.name(&Self::run_rel(&rec.run_id, "run.json")?);
        self.put(&name, to_json(rec)?, JSON, &Conditions::default())
            .await
            .map_err(StateError::azure(format!("writing {name}")))?;
        Ok(())
    }

    /// Read `run.json`.
    pub async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        let name = self.name(&Self::run_rel(run_id, "run.json")?);
        let bytes = self
            .get_opt(&name)
            .await?
            .ok_or_else(|| StateError::RunNotFound(run_id.to_owned()))?;
        crate::record::parse_run(&bytes, &self.display(&name))
    }

    /// Run ids, newest first. One listing of `runs/` (names only; no record is read).
    pub async fn list_runs(&self) -> Result<Vec<String>> {
        let prefix = self.name("runs/");
        let items = self
            .client
            .list_blobs(&self.loc.container, Some(&prefix))
            .await
            .map_err(StateError::azure(format!("listing {prefix}")))?;
        let mut ids: Vec<String> = items
            .iter()
            .filter_map(|i| i.name.strip_prefix(&prefix))
            .filter_map(|rest| rest.strip_suffix("/run.json"))
            .filter(|id| is_run_id(id))
            .map(str::to_owned)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        Ok(ids)
    }

    async fn event_chunks(&self, run_id: &str) -> Result<Vec<String>> {
        let prefix = self.name(&Self::run_rel(run_id, "events/")?);
        let items = self
            .client
            .list_blobs(&self.loc.container, Some(&prefix))
            .await
            .map_err(StateError::azure(format!("listing {prefix}")))?;
        let mut names: Vec<String> = items
            .into_iter()
            .map(|i| i.name)
            .filter(|n| {
                n.strip_prefix(&prefix)
                    .and_then(|r| r.strip_suffix(".ndjson"))
                    .is_some_and(|s| s.len() == 10 && s.bytes().all(|c| c.is_ascii_digit()))
            })
            .collect();
        names.sort();
        Ok(names)
    }

    fn seq_of(name: &str) -> Option<u64> {
        name.rsplit('/')
            .next()?
            .strip_suffix(".ndjson")?
            .parse()
            .ok()
    }

    /// Append one chunk with these events.
    pub async fn append_events(&self, run_id: &str, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let body = events_to_ndjson(events)?;
        let mut seqs = self.event_seq.lock().await;
        let mut seq = match seqs.get(run_id) {
            Some(s) => *s,
            None => self
                .event_chunks(run_id)
                .await?
                .last()
                .and_then(|n| Self::seq_of(n))
                .map_or(0, |s| s + 1),
        };
        for _ in 0..20 {
            let name = self.name(&Self::run_rel(run_id, &format!("events/{seq:010}.ndjson"))?);
            match self
                .put(
                    &name,
                    body.clone(),
                    "application/x-ndjson",
                    &Conditions::create_only(),
                )
                .await
            {
                Ok(_) => {
                    seqs.insert(run_id.to_owned(), seq + 1);
                    return Ok(());
                }
                Err(e) if is_exists(&e) => {
                    // A retried PUT whose first attempt landed: the chunk is ours, done.
                    if self.get_opt(&name).await?.is_some_and(|b| *b == *body) {
                        seqs.insert(run_id.to_owned(), seq + 1);
                        return Ok(());
                    }
                    // Another writer took this number: move past the last chunk.
                    seq = self
                        .event_chunks(run_id)
                        .await?
                        .last()
                        .and_then(|n| Self::seq_of(n))
                        .map_or(seq + 1, |s| (s + 1).max(seq + 1));
                }
                Err(e) => return Err(StateError::azure(format!("writing {name}"))(e)),
            }
        }
        Err(StateError::Contention {
            what: format!("events of run {run_id}"),
            attempts: 20,
        })
    }

    /// All events of a run, chunk by chunk; unreadable lines are skipped.
    pub async fn read_events(&self, run_id: &str) -> Result<Vec<Event>> {
        let chunks = self.event_chunks(run_id).await?;
        if chunks.is_empty() {
            let run = self.name(&Self::run_rel(run_id, "run.json")?);
            return match self.client.blob_properties(&self.loc.container, &run).await {
                Ok(Some(_)) => Ok(Vec::new()),
                Ok(None) => Err(StateError::RunNotFound(run_id.to_owned())),
                Err(e) => Err(StateError::azure(format!("reading {run}"))(e)),
            };
        }
        let mut out = Vec::new();
        for name in chunks {
            if let Some(b) = self.get_opt(&name).await? {
                out.extend(events_from_ndjson(&b, &self.display(&name)));
            }
        }
        Ok(out)
    }

    /// Store a log file.
    pub async fn write_log(
        &self,
        run_id: &str,
        unit: &str,
        file: &str,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let name = self.name(&Self::log_rel(run_id, unit, file)?);
        self.put(
            &name,
            bytes,
            "text/plain; charset=utf-8",
            &Conditions::default(),
        )
        .await
        .map_err(StateError::azure(format!("writing {name}")))?;
        Ok(())
    }

    /// Store one of a run's inputs (`runs/<id>/inputs/<sha256>`).
    pub async fn write_input(&self, run_id: &str, name: &str, bytes: Vec<u8>) -> Result<()> {
        crate::input::check_input_name(name)?;
        let rel = Self::run_rel(run_id, &format!("{}/{name}", crate::input::INPUTS_DIR))?;
        let name = self.name(&rel);
        self.put(
            &name,
            bytes,
            "application/octet-stream",
            &Conditions::default(),
        )
        .await
        .map_err(StateError::azure(format!("writing {name}")))?;
        Ok(())
    }

    /// Read one of a run's inputs.
    pub async fn read_input(&self, run_id: &str, name: &str) -> Result<Vec<u8>> {
        crate::input::check_input_name(name)?;
        let rel = Self::run_rel(run_id, &format!("{}/{name}", crate::input::INPUTS_DIR))?;
        self.get_opt(&self.name(&rel))
            .await?
            .map(|b| b.to_vec())
            .ok_or_else(|| StateError::InputNotFound {
                run_id: run_id.to_owned(),
                name: name.to_owned(),
            })
    }

    /// Read a log file.
    pub async fn read_log(&self, run_id: &str, unit: &str, file: &str) -> Result<Vec<u8>> {
        let name = self.name(&Self::log_rel(run_id, unit, file)?);
        self.get_opt(&name)
            .await?
            .map(|b| b.to_vec())
            .ok_or_else(|| StateError::LogNotFound {
                run_id: run_id.to_owned(),
                unit: unit.to_owned(),
                file: file.to_owned(),
            })
    }

    /// `azblob://account/container/<blob>` of a log file.
    pub fn log_path_display(&self, run_id: &str, unit: &str, file: &str) -> Result<String> {
        Ok(self.display(&self.name(&Self::log_rel(run_id, unit, file)?)))
    }

    fn display(&self, name: &str) -> String {
        format!(
            "azblob://{}/{}/{name}",
            self.loc.account, self.loc.container
        )
    }

    async fn read_index_etag(&self) -> Result<(Index, Option<String>)> {
        let name = self.name("index.json");
        let props = self
            .client
            .blob_properties(&self.loc.container, &name)
            .await
            .map_err(StateError::azure(format!("reading {name}")))?;
        let Some(props) = props else {
            return Ok((Index::default(), None));
        };
        // The ETag is read before the body: if the body is newer, the If-Match write fails
        // and we retry, so no update is ever lost.
        match self.get_opt(&name).await? {
            Some(b) => Ok((Index::from_bytes(&b, &self.display(&name))?, props.etag)),
            None => Ok((Index::default(), None)),
        }
    }

    /// Read `index.json`.
    pub async fn read_index(&self) -> Result<Index> {
        Ok(self.read_index_etag().await?.0)
    }

    /// Read-modify-write `index.json` with `If-Match` (or `If-None-Match: *` when creating),
    /// retrying on a lost race.
    pub async fn update_index(&self, entries: &[IndexEntry]) -> Result<Index> {
        let name = self.name("index.json");
        const ATTEMPTS: u32 = 30;
        for attempt in 0..ATTEMPTS {
            let (mut idx, etag) = self.read_index_etag().await?;
            idx.merge(entries);
            let cond = match &etag {
                Some(e) => Conditions::if_match(e),
                None => Conditions::create_only(),
            };
            match self.put(&name, idx.to_bytes()?, JSON, &cond).await {
                Ok(_) => return Ok(idx),
                Err(e) if is_exists(&e) => {
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]);
                    let ms = 20 * u64::from(attempt.min(5) + 1) + jitter;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Err(e) => return Err(StateError::azure(format!("writing {name}"))(e)),
            }
        }
        Err(StateError::Contention {
            what: self.display(&name),
            attempts: ATTEMPTS,
        })
    }

    async fn read_holder(&self) -> Result<Option<LockInfo>> {
        let name = self.name("lock");
        Ok(self
            .get_opt(&name)
            .await?
            .and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok()))
    }

    /// The holder of the lease, if the lock blob is leased.
    pub async fn lock_holder(&self) -> Result<Option<LockInfo>> {
        let name = self.name("lock");
        let props = self
            .client
            .blob_properties(&self.loc.container, &name)
            .await
            .map_err(StateError::azure(format!("reading {name}")))?;
        if props.and_then(|p| p.lease_state).as_deref() != Some("leased") {
            return Ok(None);
        }
        self.read_holder().await
    }

    fn locked_by(holder: Option<LockInfo>) -> StateError {
        match holder {
            Some(h) => StateError::Locked {
                run_id: h.run_id,
                host: h.host,
                since: Some(h.since),
            },
            None => StateError::Locked {
                run_id: "unknown".into(),
                host: "unknown".into(),
                since: None,
            },
        }
    }

    /// Take the lease on `lock` and start renewing it.
    pub async fn lock(&self, run_id: &str, host: &str) -> Result<BlobLease> {
        let name = self.name("lock");
        let c = &self.loc.container;
        // Make sure the lock blob exists (an existing or leased one answers 409/412).
        match self
            .put(&name, b"{}\n".to_vec(), JSON, &Conditions::create_only())
            .await
        {
            Ok(_) => {}
            Err(e) if is_exists(&e) => {}
            Err(e) => return Err(StateError::azure(format!("creating {name}"))(e)),
        }
        let proposed = uuid::Uuid::new_v4().to_string();
        let lease_id = match self
            .client
            .acquire_lease(c, &name, Some(self.timing.duration_s), Some(&proposed))
            .await
        {
            Ok(id) => id,
            Err(e) if e.is_conflict() => return Err(Self::locked_by(self.read_holder().await?)),
            Err(e) => return Err(StateError::azure(format!("leasing {name}"))(e)),
        };
        let info = LockInfo::new(run_id, host);
        let cond = Conditions {
            lease_id: Some(lease_id.clone()),
            ..Conditions::default()
        };
        if let Err(e) = self.put(&name, to_json(&info)?, JSON, &cond).await {
            let _ = self.client.release_lease(c, &name, &lease_id).await;
            return Err(StateError::azure(format!("writing {name}"))(e));
        }
        Ok(BlobLease::start(
            self.client.clone(),
            c.clone(),
            name,
            lease_id,
            run_id.to_owned(),
            self.timing,
        ))
    }

    /// Break the lease (whoever holds it). Returns the holder it named.
    pub async fn break_lock(&self) -> Result<Option<LockInfo>> {
        let name = self.name("lock");
        let holder = self.lock_holder().await?;
        match self
            .client
            .break_lease(&self.loc.container, &name, Some(0))
            .await
        {
            Ok(()) => Ok(holder),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(None),
            Err(e) => Err(StateError::azure(format!("breaking the lease on {name}"))(
                e,
            )),
        }
    }
}

fn to_json(v: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| StateError::Internal(e.to_string()))?;
    b.push(b'\n');
    Ok(b)
}

/// A held lease with its renewal task.
#[derive(Debug)]
pub struct BlobLease {
    client: BlobClient,
    container: String,
    name: String,
    lease_id: String,
    run_id: String,
    lost: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl BlobLease {
    fn start(
        client: BlobClient,
        container: String,
        name: String,
        lease_id: String,
        run_id: String,
        timing: LeaseTiming,
    ) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = {
            let (client, container, name, lease_id, lost) = (
                client.clone(),
                container.clone(),
                name.clone(),
                lease_id.clone(),
                lost.clone(),
            );
            let lease_len = Duration::from_secs(u64::from(timing.duration_s));
            tokio::spawn(async move {
                let mut last_ok = Instant::now();
                let mut wait = timing.renew_every;
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                    let renewed = tokio::select! {
                        _ = &mut stop_rx => return,
                        r = client.renew_lease(&container, &name, &lease_id) => r,
                    };
                    match renewed {
                        Ok(()) => {
                            last_ok = Instant::now();
                            wait = timing.renew_every;
                        }
                        Err(e) if is_exists(&e) || e.is_not_found() => {
                            tracing::error!(error = %e, "the state lock lease was lost");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(e) => {
                            if last_ok.elapsed() >= lease_len {
                                tracing::error!(error = %e, "could not renew the state lock lease before it expired");
                                lost.store(true, Ordering::SeqCst);
                                return;
                            }
                            tracing::warn!(error = %e, "renewing the state lock lease; will retry");
                            wait = (timing.renew_every / 4).max(Duration::from_millis(100));
                        }
                    }
                }
            })
        };
        Self {
            client,
            container,
            name,
            lease_id,
            run_id,
            lost,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    async fn stop_renewal(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    pub(crate) async fn release(mut self) -> Result<()> {
        self.stop_renewal().await;
        // A broken lease can still be released by its old id; renewing first tells us
        // whether it was still ours (a broken or re-acquired lease refuses renewal).
        if let Err(e) = self
            .client
            .renew_lease(&self.container, &self.name, &self.lease_id)
            .await
            && (is_exists(&e) || e.is_not_found())
        {
            self.lease_id.clear();
            self.lost.store(true, Ordering::SeqCst);
            return Err(StateError::LockLost {
                run_id: self.run_id.clone(),
                message: format!("the lease on {} was broken or taken: {e}", self.name),
            });
        }
        // Clear the holder so a contender never names a finished run (best-effort).
        let cond = Conditions {
            lease_id: Some(self.lease_id.clone()),
            ..Conditions::default()
        };
        if let Err(e) = self
            .client
            .put_blob_with(
                &self.container,
                &self.name,
                Bytes::from_static(b"{}\n"),
                JSON,
                &cond,
            )
            .await
        {
            tracing::debug!(error = %e, "clearing the lock holder");
        }
        let res = self
            .client
            .release_lease(&self.container, &self.name, &self.lease_id)
            .await;
        // Mark done so Drop does nothing more.
        self.lease_id.clear();
        match res {
            Ok(()) => Ok(()),
            Err(e) if is_exists(&e) || e.is_not_found() => Err(StateError::LockLost {
                run_id: self.run_id.clone(),
                message: format!("the lease on {} was no longer ours", self.name),
            }),
            Err(e) => Err(StateError::azure(format!(
                "releasing the lease on {}",
                self.name
            ))(e)),
        }
    }
}

impl Drop for BlobLease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if self.lease_id.is_empty() {
            return;
        }
        let (client, container, name, lease_id) = (
            self.client.clone(),
            self.container.clone(),
            self.name.clone(),
            std::mem::take(&mut self.lease_id),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move {
                    let _ = client.release_lease(&container, &name, &lease_id).await;
                });
            }
            Err(_) => tracing::warn!("state lock dropped outside a runtime; its lease will expire"),
        }
    }
}
