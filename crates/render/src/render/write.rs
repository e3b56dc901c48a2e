//! `aib plan --render-dir DIR`: `<template_name>.json` and `<template_name>.parameters.json` per
//! unit, deployable with
//! `az deployment group create -g <rg> -f X.json -p @X.parameters.json`.

use std::path::{Path, PathBuf};

use super::RenderedDeployment;

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct RenderDirSummary {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

/// Writes every deployment to `dir` (created when missing). Secret values are never in
/// `deployments` rendered without secrets, so never on disk.
pub fn write_render_dir(
    dir: &Path,
    deployments: &[RenderedDeployment],
) -> std::io::Result<RenderDirSummary> {
    std::fs::create_dir_all(dir)?;
    let mut summary = RenderDirSummary::default();
    for d in deployments {
        for (path, text) in [
            (
                dir.join(format!("{}.json", d.template_name)),
                d.template_json(),
            ),
            (
                dir.join(format!("{}.parameters.json", d.template_name)),
                d.parameters_json(),
            ),
        ] {
            std::fs::write(&path, text.as_bytes())?;
            summary.bytes += text.len() as u64;
            summary.files.push(path);
        }
    }
    Ok(summary)
}
