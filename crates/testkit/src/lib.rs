//! Dev-only helpers for aib tests.
//!
//! [`child_harness`] runs test scenarios that need their own process environment (credentials
//! read from environment variables) as child processes, reported like libtest.
//!
//! [`hostile`] is an HTTP peer that redirects, never answers or sends endless bodies, and
//! records what it was sent.
//!
//! [`module_graph`] finds import cycles between the files of a crate (tests keep them out).
//!
//! [`reference`] finds the public Azure material that reference tests read (`AIB_REFERENCE_DIR`).
//!
//! [`Azurite`] starts a private Azurite blob service on a free loopback port and kills it on
//! drop. It uses `azurite-blob` from `PATH`, or installs the npm package `azurite` once into
//! `$CARGO_TARGET_DIR/azurite` (else `target/azurite`), guarded by a lock directory so
//! parallel test binaries install it only once.

pub mod actionlint;
pub mod child_harness;
pub mod hostile;
pub mod module_graph;
pub mod reference;

pub use reference::{reference_dir, reference_files, reference_path};

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Azurite's well-known development account.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development key (public, documented; not a secret).
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Pinned Azurite version installed when none is on PATH.
pub const AZURITE_VERSION: &str = "3.36.0";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running Azurite blob service.
#[derive(Debug)]
pub struct Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`
    pub blob_endpoint: String,
    /// Account name.
    pub account: String,
    /// Base64 account key.
    pub key: String,
    child: Child,
    _workdir: PathBuf,
}

impl Azurite {
    /// Start Azurite (installing it first if needed) and wait until it answers.
    pub fn start() -> Result<Self, BoxError> {
        let bin = azurite_binary()?;
        let port = free_port()?;
        let workdir =
            std::env::temp_dir().join(format!("aib-azurite-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&workdir)?;
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ])
        // In-memory persistence cannot be combined with --location; run in a scratch
        // directory so nothing lands in the caller's working directory.
        .current_dir(&workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait()? {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut err);
                }
                return Err(format!("azurite exited with {status}: {err}").into());
            }
            if answers(addr) {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("azurite did not answer within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            blob_endpoint: format!("http://127.0.0.1:{port}/{DEV_ACCOUNT}"),
            account: DEV_ACCOUNT.to_owned(),
            key: DEV_KEY.to_owned(),
            child,
            _workdir: workdir,
        })
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._workdir);
    }
}

/// Any HTTP answer on `/` means the server is up.
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(
        b"GET /devstoreaccount1?comp=list HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    matches!(s.read(&mut buf), Ok(n) if n >= 5 && buf.starts_with(b"HTTP/"))
}

/// A free loopback port (bind :0, read, release).
pub fn free_port() -> Result<u16, BoxError> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Where the npm install goes.
pub fn cache_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("azurite");
    }
    // CARGO_MANIFEST_DIR of the test's crate is crates/<x>; the workspace target is two up.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    match manifest {
        Some(m) => m.join("..").join("..").join("target").join("azurite"),
        None => std::env::temp_dir().join("aib-azurite-cache"),
    }
}

/// `azurite-blob` from PATH, or the cached npm install (installing it once).
pub fn azurite_binary() -> Result<PathBuf, BoxError> {
    if let Some(p) = on_path("azurite-blob") {
        return Ok(p);
    }
    let dir = cache_dir();
    let bin = dir.join("node_modules").join(".bin").join("azurite-blob");
    if bin.is_file() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir)?;
    let _lock = DirLock::acquire(&dir.join(".install.lock"), Duration::from_secs(600))?;
    if bin.is_file() {
        return Ok(bin);
    }
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .arg(format!("azurite@{AZURITE_VERSION}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run npm to install azurite: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm install azurite failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("npm installed azurite but {} is missing", bin.display()).into())
    }
}

/// A cross-process lock: `mkdir` is atomic. Stale locks (older than `stale`) are broken.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path, stale: Duration) -> Result<Self, BoxError> {
        let deadline = Instant::now() + stale;
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => return Ok(Self(path.to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let old = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > stale);
                    if old || Instant::now() > deadline {
                        let _ = std::fs::remove_dir(path);
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
