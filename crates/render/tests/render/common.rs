//! Helpers: loading manifests and planning them.

use std::path::{Path, PathBuf};

use aib_manifest::Manifest;
use aib_planner::{Date, Plan, PlanOptions};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn load(path: &Path) -> Manifest {
    match Manifest::load(path) {
        Ok(m) => m,
        Err(e) => panic!("{}: {e:?}", path.display()),
    }
}

pub fn plan(m: &Manifest) -> Plan {
    let opts = PlanOptions {
        today: Date::new(2026, 11, 28),
        ..Default::default()
    };
    match aib_planner::plan(m, &opts) {
        Ok(p) => p,
        Err(e) => panic!("plan: {:?}", e.diagnostics),
    }
}

/// A manifest from text in a temporary directory (with optional extra files).
pub fn manifest_in(dir: &Path, text: &str, files: &[(&str, &str)]) -> Manifest {
    for (name, body) in files {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, body).expect("write");
    }
    let path = dir.join("aib.toml");
    std::fs::write(&path, text).expect("write manifest");
    load(&path)
}
