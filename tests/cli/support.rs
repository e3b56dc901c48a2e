//! Running the `aib` binary and normalising its output for snapshots.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `aib` with `args` in `cwd`, with a clean environment for colours and logging.
pub fn aib(cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_aib"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AIB_ARM_ENDPOINT")
        .output()
        .expect("run aib");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary directory holding `aib.toml` with `text`, plus any extra files.
pub fn manifest_dir(text: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("aib.toml"), text).expect("write manifest");
    for (name, body) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, body).expect("write file");
    }
    dir
}

/// `aib sim` as a child process on a free loopback port, killed on drop.
pub struct Sim {
    pub child: Child,
    pub url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `aib sim` with `scenario` (written to `dir/scenario.toml`).
pub fn sim(dir: &Path, scenario: &str) -> Sim {
    sim_with(dir, scenario, &[])
}

/// [`sim`] with more `aib sim` arguments.
pub fn sim_with(dir: &Path, scenario: &str, args: &[&str]) -> Sim {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, scenario).expect("write scenario");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aib"))
        .args(["sim", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aib sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    Sim { child, url }
}

/// `aib ARGS` in `dir`, pointed at `sim` with the managed-identity credential.
pub fn aib_cmd(dir: &Path, sim: &Sim, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aib"));
    c.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env("AIB_ARM_ENDPOINT", &sim.url)
        .env("AIB_CREDENTIAL", "managed-identity")
        .env("IDENTITY_ENDPOINT", format!("{}/msi/token", sim.url))
        .env("IDENTITY_HEADER", "test");
    c
}

/// Runs `aib ARGS` against `sim`: exit code, stdout, stderr.
pub fn run(dir: &Path, sim: &Sim, args: &[&str]) -> (i32, String, String) {
    let out = aib_cmd(dir, sim, args).output().expect("run aib");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
