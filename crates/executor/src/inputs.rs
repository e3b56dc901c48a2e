//! The inputs of a run, kept in its state so that `aib resume` re-plans it from the state
//! alone: on another machine, from another checkout, or after the manifest changed, a run
//! builds what it was started with.
//!
//! When a run starts, every file its plan reads — the manifest text, the units' scripts and
//! user templates (with the whole templates folder, for what they `{% include %}`) — is stored
//! beside the run record, each named by the SHA-256 of its bytes, with an index (JSON, itself
//! named by its digest) of where each file sits relative to the folders the manifest may read
//! from. The run record's `resume.inputs` names the index. Secrets stay references in the
//! manifest text: no value is ever stored.
//!
//! ```text
//! runs/<run_id>/inputs/<sha256>    one file's bytes, or the index
//! ```
//!
//! `aib resume` restores them into a temporary folder with the same relative layout, checking
//! every digest, and loads the manifest there.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use aib_manifest::Manifest;
use aib_planner::{Plan, TemplateRef};
use aib_state::{RunRecord, StateStore};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most bytes of inputs a run keeps.
pub const MAX_SNAPSHOT_BYTES: u64 = 32 << 20;
/// The most files a run keeps.
pub const MAX_SNAPSHOT_FILES: usize = 4096;
/// Folder levels walked under the templates folder.
const MAX_DEPTH: usize = 8;
const FORMAT: u32 = 1;

/// What the index says: where each file goes, relative to the folder the snapshot is restored
/// into (`/`-separated, no `..`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotIndex {
    pub format: u32,
    /// The manifest file.
    pub manifest: String,
    /// Folders that must exist (those of `allow_paths`, the templates folder).
    pub dirs: Vec<String>,
    pub files: Vec<SnapshotFile>,
    /// Files the plan read from absolute paths, which cannot be moved: a resume reads them
    /// where they are (and a unit whose hash they change is not resumed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A run's inputs, read and checked against the limits, ready to store.
#[derive(Debug)]
pub struct Snapshot {
    index: SnapshotIndex,
    blobs: BTreeMap<String, Vec<u8>>,
    /// The most bytes it may hold.
    max_bytes: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The deepest folder holding every path (all absolute).
fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
    let mut base: Vec<Component<'_>> = match paths.first() {
        Some(p) => p.components().collect(),
        None => return PathBuf::new(),
    };
    for p in &paths[1..] {
        let n = base
            .iter()
            .zip(p.components())
            .take_while(|(a, b)| *a == b)
            .count();
        base.truncate(n);
    }
    base.iter().collect()
}

/// `under/p` with `.` and `..` folded, as a `/`-separated key; `None` when `p` is absolute or
/// climbs out of the snapshot's root.
fn key_of(under: &Path, p: &Path) -> Option<String> {
    if p.is_absolute() {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    for c in under.join(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Why a run's inputs could not be kept or restored.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    #[error("the manifest's name cannot be kept")]
    ManifestName,
    #[error("cannot read `{shown}`: {source}")]
    Read {
        shown: String,
        source: std::io::Error,
    },
    #[error(
        "the run's inputs (the manifest, its scripts and templates) are over the {max_bytes} bytes or {MAX_SNAPSHOT_FILES} files a run keeps in its state for `aib resume` ({bytes} bytes in {files} files so far); make the templates folder smaller"
    )]
    TooBig {
        bytes: u64,
        files: usize,
        max_bytes: u64,
    },
    #[error("storing the run's inputs: {0}")]
    Store(aib_state::StateError),
    #[error("reading input {digest}: {source}")]
    Load {
        digest: String,
        source: aib_state::StateError,
    },
    #[error("input {0} does not match its digest: the state was changed")]
    Tampered(String),
    #[error("the inputs' index: {0}")]
    Index(String),
    #[error("the inputs' index names an unsafe path `{0}`")]
    UnsafePath(String),
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Where each file the plan reads goes in the snapshot, worked out without reading anything.
#[derive(Debug, Clone)]
struct Layout {
    index: SnapshotIndex,
    manifest_text: Vec<u8>,
    /// (key, where it is, as the manifest names it); no key: read from where it is.
    files: Vec<(Option<String>, PathBuf, String)>,
    /// The templates folder and its key, kept whole (for what templates include).
    templates: Option<(PathBuf, String)>,
}

/// Collects what `manifest` and `plan` read, within the default limits; the files are read
/// on a blocking thread.
pub async fn collect(manifest: Arc<Manifest>, plan: &Plan) -> Result<Snapshot, InputsError> {
    let layout = layout(&manifest, plan)?;
    tokio::task::spawn_blocking(move || read(&manifest, layout, MAX_SNAPSHOT_BYTES))
        .await
        .map_err(|e| InputsError::Internal(e.to_string()))?
}

/// [`collect`] with `max_bytes` of inputs at most, reading on this thread.
pub fn collect_within(
    manifest: &Manifest,
    plan: &Plan,
    max_bytes: u64,
) -> Result<Snapshot, InputsError> {
    read(manifest, layout(manifest, plan)?, max_bytes)
}

/// Where the manifest, the folders it may read, each unit's files and the templates folder go.
fn layout(manifest: &Manifest, plan: &Plan) -> Result<Layout, InputsError> {
    let roots = manifest.file_roots.roots();
    let base = common_ancestor(roots);
    let home = roots
        .first()
        .and_then(|r| r.strip_prefix(&base).ok())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let name = manifest
        .path
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("aib.toml"));
    let mut index = SnapshotIndex {
        format: FORMAT,
        manifest: key_of(&home, &name).ok_or(InputsError::ManifestName)?,
        ..SnapshotIndex::default()
    };
    for r in roots.iter().skip(1) {
        if let Some(k) = r
            .strip_prefix(&base)
            .ok()
            .and_then(|r| key_of(r, Path::new("")))
        {
            index.dirs.push(k);
        }
    }
    let templates = manifest.templates_dir();
    let templates_rel = templates
        .strip_prefix(&manifest.dir)
        .ok()
        .map(Path::to_path_buf);
    let mut files = Vec::new();
    let mut uses_templates = false;
    for u in plan.units() {
        let s = &u.settings;
        let template = match &s.template {
            TemplateRef::File { file } => Some(file),
            TemplateRef::Builtin { .. } => None,
        };
        uses_templates |= template.is_some();
        for f in s.local_files() {
            let under = match template {
                Some(t) if std::ptr::eq(t, f) => templates_rel.clone(),
                _ => Some(PathBuf::new()),
            };
            let key = under.and_then(|d| key_of(&home.join(d), Path::new(&f.path)));
            files.push((key, f.resolved.clone(), f.path.clone()));
        }
    }
    let templates_key = templates_rel.as_ref().and_then(|t| key_of(&home, t));
    let templates = match (uses_templates, templates_key) {
        (false, _) => None,
        (true, Some(k)) => {
            index.dirs.push(k.clone());
            Some((templates, k))
        }
        (true, None) => {
            index.outside.push(templates.display().to_string());
            None
        }
    };
    Ok(Layout {
        index,
        manifest_text: manifest.source.text().as_bytes().to_vec(),
        files,
        templates,
    })
}

/// Reads what `layout` names, never more than `max_bytes` (a file's size is checked before it
/// is read).
fn read(manifest: &Manifest, layout: Layout, max_bytes: u64) -> Result<Snapshot, InputsError> {
    let mut snap = Snapshot {
        index: layout.index,
        blobs: BTreeMap::new(),
        max_bytes,
    };
    snap.add(snap.index.manifest.clone(), layout.manifest_text)?;
    for (key, real, shown) in layout.files {
        snap.add_file(key, &real, &shown)?;
    }
    if let Some((dir, key)) = layout.templates {
        snap.add_folder(manifest, &dir, &key, 0)?;
    }
    Ok(snap)
}

impl Snapshot {
    fn add(&mut self, key: String, bytes: Vec<u8>) -> Result<(), InputsError> {
        if self.index.files.iter().any(|f| f.path == key) {
            return Ok(());
        }
        self.room_for(bytes.len() as u64)?;
        let sha256 = sha256_hex(&bytes);
        self.index.files.push(SnapshotFile {
            path: key,
            sha256: sha256.clone(),
            bytes: bytes.len() as u64,
        });
        self.blobs.insert(sha256, bytes);
        Ok(())
    }

    /// Whether one more file of `bytes` fits the limits.
    fn room_for(&self, bytes: u64) -> Result<(), InputsError> {
        let total = self.total().saturating_add(bytes);
        if total > self.max_bytes || self.index.files.len() >= MAX_SNAPSHOT_FILES {
            return Err(InputsError::TooBig {
                bytes: total,
                files: self.index.files.len() + 1,
                max_bytes: self.max_bytes,
            });
        }
        Ok(())
    }

    /// A file the plan read (`real` is where it is); `key` is `None` when it cannot be moved.
    fn add_file(
        &mut self,
        key: Option<String>,
        real: &Path,
        shown: &str,
    ) -> Result<(), InputsError> {
        let Some(key) = key else {
            if !self.index.outside.iter().any(|o| o == shown) {
                self.index.outside.push(shown.to_string());
            }
            return Ok(());
        };
        if self.index.files.iter().any(|f| f.path == key) {
            return Ok(());
        }
        let failed = |source| InputsError::Read {
            shown: shown.to_string(),
            source,
        };
        let size = std::fs::metadata(real).map_err(failed)?.len();
        self.room_for(size)?;
        let mut bytes = Vec::new();
        std::fs::File::open(real)
            .and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, size + 1), &mut bytes)
            })
            .map_err(failed)?;
        self.add(key, bytes)
    }

    /// Every regular file under `dir` the manifest may read, as `key/...` (hidden ones left
    /// out).
    fn add_folder(
        &mut self,
        m: &Manifest,
        dir: &Path,
        key: &str,
        depth: usize,
    ) -> Result<(), InputsError> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let (Some(name), Ok(kind)) =
                (e.file_name().to_str().map(str::to_string), e.file_type())
            else {
                continue;
            };
            // Hidden entries (`.aib`, the state beside the manifest; `.git`) are no templates.
            if name.starts_with('.') {
                continue;
            }
            let k = format!("{key}/{name}");
            if kind.is_dir() && depth < MAX_DEPTH {
                self.add_folder(m, &e.path(), &k, depth + 1)?;
            } else if let Ok(f) = m.file_roots.check(&e.path(), &k) {
                self.add_file(Some(k.clone()), &f.real, &k)?;
            }
        }
        Ok(())
    }

    fn total(&self) -> u64 {
        self.index.files.iter().map(|f| f.bytes).sum()
    }

    /// The index.
    pub fn index(&self) -> &SnapshotIndex {
        &self.index
    }

    /// Stores the files and the index beside the run record, then names the index in the
    /// record (`resume.inputs`) and writes it: a record names only inputs that are there.
    pub async fn save(self, store: &StateStore, record: &mut RunRecord) -> Result<(), InputsError> {
        let run_id = record.run_id.clone();
        let index =
            serde_json::to_vec(&self.index).map_err(|e| InputsError::Index(e.to_string()))?;
        let digest = sha256_hex(&index);
        let mut blobs: Vec<(String, Vec<u8>)> = self.blobs.into_iter().collect();
        blobs.push((digest.clone(), index));
        let mut writes = futures::stream::iter(blobs.into_iter().map(|(name, bytes)| {
            let (store, run_id) = (store.clone(), run_id.clone());
            async move { store.write_input(&run_id, &name, &bytes).await }
        }))
        .buffer_unordered(8);
        while let Some(r) = writes.next().await {
            r.map_err(InputsError::Store)?;
        }
        if let Some(r) = record.resume.as_mut() {
            r.inputs = Some(digest);
        }
        store.write_run(record).await.map_err(InputsError::Store)
    }
}

/// A run's inputs restored into a temporary folder (removed when dropped).
#[derive(Debug)]
pub struct Restored {
    _dir: tempfile::TempDir,
    /// The manifest inside it.
    pub manifest: PathBuf,
    /// Files read from where they are (absolute paths; see [`SnapshotIndex::outside`]).
    pub outside: Vec<String>,
}

/// One stored file, its digest checked.
async fn read_verified(
    store: &StateStore,
    run_id: &str,
    digest: &str,
) -> Result<Vec<u8>, InputsError> {
    let bytes = store
        .read_input(run_id, digest)
        .await
        .map_err(|source| InputsError::Load {
            digest: digest.to_string(),
            source,
        })?;
    if sha256_hex(&bytes) != digest {
        return Err(InputsError::Tampered(digest.to_string()));
    }
    Ok(bytes)
}

/// `root/key`, when `key` is a plain relative `/`-separated path.
fn safe_join(root: &Path, key: &str) -> Result<PathBuf, InputsError> {
    let mut p = root.to_path_buf();
    for part in key.split('/') {
        let ok = !part.is_empty()
            && matches!(
                Path::new(part).components().next(),
                Some(Component::Normal(_))
            )
            && Path::new(part).components().count() == 1;
        if !ok {
            return Err(InputsError::UnsafePath(key.to_string()));
        }
        p.push(part);
    }
    Ok(p)
}

/// The index named by `digest`, checked: its format and its limits.
async fn read_index(
    store: &StateStore,
    run_id: &str,
    digest: &str,
) -> Result<SnapshotIndex, InputsError> {
    let index: SnapshotIndex = serde_json::from_slice(&read_verified(store, run_id, digest).await?)
        .map_err(|e| InputsError::Index(e.to_string()))?;
    if index.format != FORMAT {
        return Err(InputsError::Index(format!(
            "format {}; this aib reads format {FORMAT}",
            index.format
        )));
    }
    let total: u64 = index.files.iter().map(|f| f.bytes).sum();
    if total > MAX_SNAPSHOT_BYTES || index.files.len() > MAX_SNAPSHOT_FILES {
        return Err(InputsError::Index(format!(
            "it lists {total} bytes in {} files, over the limits",
            index.files.len()
        )));
    }
    Ok(index)
}

/// Restores the inputs named by `digest` of run `run_id` into a temporary folder (the files
/// are written on a blocking thread).
pub async fn restore(
    store: &StateStore,
    run_id: &str,
    digest: &str,
) -> Result<Restored, InputsError> {
    let index = read_index(store, run_id, digest).await?;
    let mut files = Vec::with_capacity(index.files.len());
    for f in &index.files {
        files.push((
            f.path.clone(),
            read_verified(store, run_id, &f.sha256).await?,
        ));
    }
    tokio::task::spawn_blocking(move || write_restored(index, files))
        .await
        .map_err(|e| InputsError::Internal(e.to_string()))?
}

/// Writes the restored files into a new temporary folder.
fn write_restored(
    index: SnapshotIndex,
    files: Vec<(String, Vec<u8>)>,
) -> Result<Restored, InputsError> {
    let dir = tempfile::Builder::new()
        .prefix("aib-inputs-")
        .tempdir()
        .map_err(|source| InputsError::Write {
            path: std::env::temp_dir(),
            source,
        })?;
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InputsError::Write { path, source }
    };
    for d in &index.dirs {
        let p = safe_join(dir.path(), d)?;
        std::fs::create_dir_all(&p).map_err(failed(&p))?;
    }
    for (key, bytes) in &files {
        let p = safe_join(dir.path(), key)?;
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(failed(parent))?;
        }
        std::fs::write(&p, bytes).map_err(failed(&p))?;
    }
    Ok(Restored {
        manifest: safe_join(dir.path(), &index.manifest)?,
        outside: index.outside,
        _dir: dir,
    })
}

#[cfg(test)]
mod tests;
