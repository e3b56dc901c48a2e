//! The simulator's world kept in a folder between runs: `aib build --simulate` keeps one in
//! `.aib/simulate/azure` beside the manifest, `aib sim --state-dir DIR` in DIR.
//!
//! What is kept is everything a client can see change: templates and their runs, deployments,
//! operations, gallery versions, staging groups left behind and the logs in their storage
//! accounts, the platform image versions published through `/_sim/publish`, how often each
//! `[[outcome]]` rule with `times` was used, and the clock. What is not: issued tokens, CI
//! jobs, stats, random faults, rate-limit buckets and holds (a restarted simulator is a new
//! session against the same Azure, so clients get new tokens).
//!
//! Time: a world resumes at the simulated instant it was saved at plus the real time that
//! passed since (Azure does not stop between two runs), so builds left running finish and
//! deletions complete while nobody watches, and timestamps never go backwards.
//!
//! The file is `world.json`: `{"format": "aib-sim-world", "version": 1, "saved_at", "clock":
//! {"minutes", "start_utc"}, "state": {...}}`, written to a temporary file and renamed, so a
//! crash leaves the previous world. A file of another `version`, one that is not a world, or
//! one that does not parse is refused with a message that says to delete the folder. One
//! simulator at a time holds a folder (an OS lock on `world.lock`, released when the process
//! ends, also by a crash); [`read`] reads a world without holding it.

use crate::context::{Sim, lock};
use crate::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The world file's name.
pub const WORLD_FILE: &str = "world.json";
/// The lock file's name.
pub const LOCK_FILE: &str = "world.lock";
/// What `format` says in a world file.
pub const FORMAT: &str = "aib-sim-world";
/// The version of the world file this simulator writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The largest world file read (a world of thousands of builds is a few MB).
pub const MAX_WORLD_BYTES: u64 = 256 * 1024 * 1024;
/// Finished operations are forgotten this many simulated minutes after they ended (7 days).
pub const OPERATION_RETENTION_MINUTES: f64 = 7.0 * 24.0 * 60.0;
/// ARM keeps this many deployments per resource group, deleting the oldest beyond it.
pub const DEPLOYMENTS_PER_GROUP: usize = 800;

/// Why a world cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot use the simulator's world {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the simulator's world {dir} is in use by another simulator (an `aib build --simulate`, `aib gc --simulate` or `aib sim --state-dir` still running); try again when it has ended"
    )]
    InUse { dir: String },
    #[error(
        "{path} was saved in world format {found}, and this simulator reads format {FORMAT_VERSION} only; delete {dir} to start a new simulated Azure"
    )]
    Version {
        path: String,
        dir: String,
        found: u64,
    },
    #[error(
        "{path} is not a world this simulator can read ({detail}); delete {dir} to start a new simulated Azure"
    )]
    Corrupt {
        path: String,
        dir: String,
        detail: String,
    },
}

impl WorldError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        WorldError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn corrupt(dir: &Path, detail: impl Into<String>) -> Self {
        WorldError::Corrupt {
            path: dir.join(WORLD_FILE).display().to_string(),
            dir: dir.display().to_string(),
            detail: detail.into(),
        }
    }
}

/// The clock of a saved world.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedClock {
    /// The simulated instant it was saved at (minutes since the world began).
    minutes: f64,
    /// The wall-clock time of simulated instant 0.
    start_utc: DateTime<Utc>,
}

#[derive(Serialize)]
struct SavedRef<'a> {
    format: &'static str,
    version: u32,
    saved_at: DateTime<Utc>,
    clock: SavedClock,
    state: &'a State,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    #[allow(dead_code)]
    format: String,
    #[allow(dead_code)]
    version: u32,
    saved_at: DateTime<Utc>,
    clock: SavedClock,
    state: State,
}

/// A world read from a folder, to start a simulator from ([`crate::server::start_from`]).
#[derive(Debug)]
pub struct World {
    pub(crate) state: State,
    saved_at: DateTime<Utc>,
    clock: SavedClock,
}

impl World {
    /// The simulated instant the world resumes at now: where it was saved, plus the real
    /// time since.
    pub(crate) fn resume_minutes(&self, now: DateTime<Utc>) -> f64 {
        let gap = (now - self.saved_at).num_milliseconds().max(0) as f64 / 60_000.0;
        self.clock.minutes.max(0.0) + gap
    }

    /// The wall-clock time of the world's simulated instant 0.
    pub(crate) fn start_utc(&self) -> DateTime<Utc> {
        self.clock.start_utc
    }

    /// When it was saved (real time).
    pub fn saved_at(&self) -> DateTime<Utc> {
        self.saved_at
    }

    /// How often `rule` (with `times`) was used in this world.
    pub fn outcome_runs(&self, rule: &crate::scenario::OutcomeRule) -> u32 {
        self.state
            .outcome_runs
            .get(&rule.key())
            .copied()
            .unwrap_or(0)
    }

    /// Parses a world file's text; `dir` names the folder in messages.
    pub fn from_json(text: &[u8], dir: &Path) -> Result<World, WorldError> {
        let value: serde_json::Value = serde_json::from_slice(text)
            .map_err(|e| WorldError::corrupt(dir, format!("not JSON: {e}")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(WorldError::corrupt(
                dir,
                format!("no \"format\": \"{FORMAT}\""),
            ));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(found) => {
                return Err(WorldError::Version {
                    path: dir.join(WORLD_FILE).display().to_string(),
                    dir: dir.display().to_string(),
                    found,
                });
            }
            None => return Err(WorldError::corrupt(dir, "no \"version\" number")),
        }
        let saved: Saved =
            serde_json::from_value(value).map_err(|e| WorldError::corrupt(dir, e.to_string()))?;
        if !saved.clock.minutes.is_finite() || saved.clock.minutes < 0.0 {
            return Err(WorldError::corrupt(dir, "its clock is not a time"));
        }
        Ok(World {
            state: saved.state,
            saved_at: saved.saved_at,
            clock: saved.clock,
        })
    }
}

/// A folder holding a world, held by this process until dropped.
#[derive(Debug)]
pub struct WorldDir {
    path: PathBuf,
    _lock: File,
}

impl WorldDir {
    /// Creates the folder if needed and holds it; [`WorldError::InUse`] when another process
    /// does.
    pub async fn open(path: impl Into<PathBuf>) -> Result<WorldDir, WorldError> {
        let path = path.into();
        blocking(move || {
            let mut b = std::fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(&path).map_err(|e| WorldError::io(&path, e))?;
            let lock_path = path.join(LOCK_FILE);
            let file = private_file()
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(|e| WorldError::io(&lock_path, e))?;
            match file.try_lock() {
                Ok(()) => Ok(WorldDir { path, _lock: file }),
                Err(std::fs::TryLockError::WouldBlock) => Err(WorldError::InUse {
                    dir: path.display().to_string(),
                }),
                Err(std::fs::TryLockError::Error(e)) => Err(WorldError::io(&lock_path, e)),
            }
        })
        .await
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The world saved in the folder, or `None` when there is none yet.
    pub async fn load(&self) -> Result<Option<World>, WorldError> {
        read(&self.path).await
    }
}

/// The world saved in `dir` (`None` when there is none), without holding the folder: for
/// a simulator that only reads (`aib plan --refresh --simulate`) and never saves.
pub async fn read(dir: &Path) -> Result<Option<World>, WorldError> {
    let dir = dir.to_path_buf();
    blocking(move || {
        let file = dir.join(WORLD_FILE);
        let meta = match std::fs::metadata(&file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(WorldError::io(&file, e)),
        };
        if meta.len() > MAX_WORLD_BYTES {
            return Err(WorldError::corrupt(
                &dir,
                format!(
                    "{} bytes, more than the {MAX_WORLD_BYTES} a world may have",
                    meta.len()
                ),
            ));
        }
        let text = std::fs::read(&file).map_err(|e| WorldError::io(&file, e))?;
        World::from_json(&text, &dir).map(Some)
    })
    .await
}

/// The world of a running simulator as a world file's text (brought up to now first).
pub(crate) fn snapshot(sim: &Sim) -> Result<Vec<u8>, serde_json::Error> {
    let now = sim.ctx.clock.now();
    let mut st = lock(&sim.state);
    crate::handlers::tick(&sim.ctx, &mut st, now);
    prune(&mut st, now);
    serde_json::to_vec(&SavedRef {
        format: FORMAT,
        version: FORMAT_VERSION,
        saved_at: Utc::now(),
        clock: SavedClock {
            minutes: now,
            start_utc: sim.ctx.clock.start_utc(),
        },
        state: &st,
    })
}

/// Writes a world file's text into `dir` (a temporary file renamed over the old one).
pub(crate) async fn write(dir: &WorldDir, text: Vec<u8>) -> Result<(), WorldError> {
    let dir = dir.path.clone();
    blocking(move || {
        use std::io::Write;
        let tmp = dir.join(format!("{WORLD_FILE}.tmp"));
        let mut f = private_file()
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| WorldError::io(&tmp, e))?;
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(|e| WorldError::io(&tmp, e))?;
        drop(f);
        let file = dir.join(WORLD_FILE);
        std::fs::rename(&tmp, &file).map_err(|e| WorldError::io(&file, e))
    })
    .await
}

/// Options for a file only its owner reads (a world holds what clients sent, scripts included).
fn private_file() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// Forgets what Azure forgets too: operations a week after they ended, and the oldest
/// deployments of a resource group beyond ARM's 800.
fn prune(st: &mut State, now: f64) {
    st.operations.retain(|_, op| {
        let ended = op.fin.as_ref().map(|f| f.end).or(op.done_at);
        ended.is_none_or(|end| now - end < OPERATION_RETENTION_MINUTES)
    });
    let mut per_group: std::collections::BTreeMap<String, Vec<(f64, String)>> =
        std::collections::BTreeMap::new();
    for (key, d) in &st.deployments {
        per_group
            .entry(format!("{}/{}", d.sub, d.rg).to_ascii_lowercase())
            .or_default()
            .push((d.start, key.clone()));
    }
    for (_, mut list) in per_group {
        if list.len() <= DEPLOYMENTS_PER_GROUP {
            continue;
        }
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        let extra = list.len() - DEPLOYMENTS_PER_GROUP;
        for (_, key) in list.into_iter().take(extra) {
            st.deployments.remove(&key);
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WorldError> + Send + 'static,
) -> Result<T, WorldError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(WorldError::Io {
            path: String::new(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::ArmErr;
    use crate::model::blob::Blob;
    use crate::model::deployment::{DeployedResource, Deployment};
    use crate::model::operation::{OpFinal, OpKind, Operation};
    use axum::http::StatusCode;
    use serde_json::json;

    fn op(id: &str, start: f64, end: Option<f64>) -> Operation {
        Operation {
            id: id.to_string(),
            sub: "s".into(),
            location: "eastus2".into(),
            kind: OpKind::Run,
            template_key: "t".into(),
            start,
            done_at: None,
            fin: end.map(|end| OpFinal {
                status: "Failed",
                end,
                error: Some(json!({"code": "x"})),
            }),
            polls: 3,
        }
    }

    fn deployment(rg: &str, name: &str, start: f64) -> Deployment {
        Deployment {
            sub: "s".into(),
            rg: rg.into(),
            name: name.into(),
            mode: "Incremental".into(),
            parameters: json!({}),
            outputs: json!({}),
            start,
            correlation_id: "c".into(),
            op_id: "o".into(),
            template_hash: "h".into(),
            resources: vec![DeployedResource {
                id: "r".into(),
                name: "n".into(),
                rtype: "Microsoft.VirtualMachineImages/imageTemplates".into(),
                op_id: "o".into(),
                error: Some(ArmErr::conflict("Conflict", "no")),
                details: vec![json!({"code": "Other"})],
            }],
        }
    }

    fn sample() -> State {
        let mut st = State::default();
        st.operations
            .insert("op1".into(), op("OP1", 1.0, Some(2.5)));
        st.deployments
            .insert("d1".into(), deployment("rg", "d1", 0.5));
        st.blobs
            .entry(("acct".into(), "packerlogs".into()))
            .or_default()
            .insert(
                "x/customization.log".into(),
                Blob::new(b"PACKER ERR \xff\x00 binary".to_vec(), Utc::now()),
            );
        st.published
            .insert("canonical:offer:sku".into(), vec!["1.2.0".into()]);
        st.outcome_runs.insert("Fail * []".into(), 1);
        st
    }

    fn text(st: &State, minutes: f64, saved_at: DateTime<Utc>) -> Vec<u8> {
        serde_json::to_vec(&SavedRef {
            format: FORMAT,
            version: FORMAT_VERSION,
            saved_at,
            clock: SavedClock {
                minutes,
                start_utc: saved_at - chrono::Duration::minutes(90),
            },
            state: st,
        })
        .unwrap()
    }

    #[test]
    fn a_world_reads_back_as_it_was_saved() {
        let st = sample();
        let w = World::from_json(&text(&st, 42.0, Utc::now()), Path::new("w")).unwrap();
        assert_eq!(
            serde_json::to_value(&w.state).unwrap(),
            serde_json::to_value(&st).unwrap()
        );
        let blob =
            &w.state.blobs[&("acct".to_string(), "packerlogs".to_string())]["x/customization.log"];
        assert_eq!(&blob.data[..], b"PACKER ERR \xff\x00 binary");
        let e = w.state.deployments["d1"].resources[0]
            .error
            .as_ref()
            .unwrap();
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(
            w.state.operations["op1"].fin.as_ref().unwrap().status,
            "Failed"
        );
    }

    #[test]
    fn a_world_resumes_later_by_the_real_time_that_passed_and_never_earlier() {
        let saved_at = Utc::now() - chrono::Duration::minutes(10);
        let w = World::from_json(&text(&State::default(), 42.0, saved_at), Path::new("w")).unwrap();
        let now = saved_at + chrono::Duration::minutes(10);
        assert!((w.resume_minutes(now) - 52.0).abs() < 1e-9);
        // A clock set back since (or a world from another machine's future) resumes where it
        // was saved.
        assert!((w.resume_minutes(saved_at - chrono::Duration::hours(1)) - 42.0).abs() < 1e-9);
        assert_eq!(
            w.start_utc(),
            saved_at - chrono::Duration::minutes(90),
            "the world keeps its origin"
        );
    }

    #[test]
    fn a_world_of_another_version_is_refused_saying_how_to_start_afresh() {
        let mut v: serde_json::Value =
            serde_json::from_slice(&text(&sample(), 1.0, Utc::now())).unwrap();
        v["version"] = json!(2);
        let e = World::from_json(v.to_string().as_bytes(), Path::new("x/.aib/simulate/azure"))
            .unwrap_err();
        assert!(matches!(e, WorldError::Version { found: 2, .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "x/.aib/simulate/azure/world.json was saved in world format 2, and this simulator reads format 1 only; delete x/.aib/simulate/azure to start a new simulated Azure"
        );
    }

    #[test]
    fn a_corrupt_world_is_refused_saying_how_to_start_afresh() {
        let good = text(&sample(), 1.0, Utc::now());
        let mut unknown_word: serde_json::Value = serde_json::from_slice(&good).unwrap();
        unknown_word["state"]["operations"]["op1"]["fin"]["status"] = json!("Exploded");
        let mut bad_clock: serde_json::Value = serde_json::from_slice(&good).unwrap();
        bad_clock["clock"]["minutes"] = json!(-5.0);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() / 2].to_vec(), "not JSON"),
            (b"{}".to_vec(), "no \"format\""),
            (
                br#"{"format": "aib-sim-world", "version": "1"}"#.to_vec(),
                "no \"version\" number",
            ),
            (
                unknown_word.to_string().into_bytes(),
                "unknown state \"Exploded\"",
            ),
            (
                bad_clock.to_string().into_bytes(),
                "its clock is not a time",
            ),
            (Vec::new(), "not JSON"),
        ];
        for (bytes, why) in cases {
            let e = World::from_json(&bytes, Path::new("w")).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e, WorldError::Corrupt { .. }), "{m}");
            assert!(m.contains(why), "{why}: {m}");
            assert!(
                m.starts_with("w/world.json is not a world")
                    && m.ends_with("delete w to start a new simulated Azure"),
                "{m}"
            );
        }
    }

    #[test]
    fn saving_forgets_what_azure_forgets() {
        let mut st = State::default();
        let now = 100_000.0;
        st.operations.insert(
            "old".into(),
            op("OLD", 0.0, Some(now - OPERATION_RETENTION_MINUTES - 1.0)),
        );
        st.operations
            .insert("recent".into(), op("RECENT", 0.0, Some(now - 10.0)));
        st.operations
            .insert("running".into(), op("RUNNING", 0.0, None));
        for i in 0..DEPLOYMENTS_PER_GROUP + 5 {
            let name = format!("d{i}");
            st.deployments
                .insert(name.clone(), deployment("rg-a", &name, i as f64));
        }
        st.deployments
            .insert("other".into(), deployment("rg-b", "other", 0.0));
        prune(&mut st, now);
        let mut ops: Vec<&str> = st.operations.keys().map(String::as_str).collect();
        ops.sort_unstable();
        assert_eq!(ops, ["recent", "running"]);
        assert_eq!(st.deployments.len(), DEPLOYMENTS_PER_GROUP + 1);
        for gone in ["d0", "d4"] {
            assert!(!st.deployments.contains_key(gone), "{gone}: the oldest go");
        }
        assert!(st.deployments.contains_key("d5"));
        assert!(st.deployments.contains_key("other"));
    }

    #[tokio::test]
    async fn no_world_file_is_no_world_and_a_saved_one_is_read_without_holding_it() {
        let folder = tempfile::tempdir().unwrap();
        assert!(read(folder.path()).await.unwrap().is_none());
        let dir = WorldDir::open(folder.path()).await.unwrap();
        write(&dir, text(&sample(), 3.0, Utc::now())).await.unwrap();
        // Held by `dir`, and still readable.
        let w = read(folder.path()).await.unwrap().unwrap();
        assert_eq!(w.state.published.len(), 1);
        assert!(!folder.path().join(format!("{WORLD_FILE}.tmp")).exists());
    }
}
