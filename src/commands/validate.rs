//! `aib validate [MANIFEST]`: every offline check of the manifest and the planner.

use aib_manifest::{Diagnostics, Manifest, ManifestError};

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::diagnostics;
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> Exit {
    let manifest = match load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let plan = match super::plan::make_plan(&manifest, &Default::default(), &[], global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let warnings = match super::plan::check_units(&manifest, &plan, global.quiet, false) {
        Ok(c) => c.warnings,
        Err(exit) => return exit,
    };
    let name = args.manifest.display();
    use crate::text::count;
    println!(
        "{name}: valid ({}, {}, {}, {})",
        count(
            manifest.file.environments.len(),
            "environment",
            "environments"
        ),
        count(manifest.file.variants.len(), "variant", "variants"),
        count(plan.units().len(), "unit", "units"),
        count(manifest.warnings.len() + warnings, "warning", "warnings")
    );
    Exit::Success
}

/// Loads a manifest, printing warnings; on failure prints every problem and returns exit 2.
pub fn load(path: &std::path::Path, quiet: bool) -> Result<Manifest, Exit> {
    match Manifest::load(path) {
        Ok(m) => {
            let warnings = Diagnostics {
                items: m.warnings.clone(),
            };
            diagnostics::print_all(&warnings, quiet);
            Ok(m)
        }
        Err(ManifestError::Invalid(diags)) => {
            diagnostics::print_all(&diags, quiet);
            eprintln!(
                "error: {} is invalid: {}",
                path.display(),
                diagnostics::summary(&diags)
            );
            Err(Exit::Invalid)
        }
        Err(e @ ManifestError::Io { .. }) => {
            eprintln!("error: {e}");
            Err(Exit::Invalid)
        }
    }
}
