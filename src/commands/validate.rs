//! `aib validate [MANIFEST]`: every offline check of the manifest and the planner.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::exit::Exit;
use crate::output::outln;
use crate::steps::load;

pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> Exit {
    let manifest = match load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let plan = match crate::steps::make_plan(&manifest, &Default::default(), &[], global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let warnings = match crate::steps::check_units(&manifest, &plan, global.quiet, false) {
        Ok(c) => c.warnings,
        Err(exit) => return exit,
    };
    let name = args.manifest.display();
    use crate::text::count;
    outln!(
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
