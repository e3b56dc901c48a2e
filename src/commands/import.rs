//! `aib import FILE.json [--out DIR] [--keep-deployment-scripts]`: existing AIB templates (ARM
//! deployments, nested or not, or bare imageTemplate bodies with `<placeholders>`) become
//! `DIR/aib.toml` and `DIR/templates/...`, one variant per imageTemplate.

use aib_render::import::{self, ImportOptions};

use crate::cli::{GlobalArgs, ImportArgs};
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &ImportArgs) -> Exit {
    let options = ImportOptions {
        keep_deployment_scripts: args.keep_deployment_scripts,
    };
    match import::import_file(&args.file, &args.out, &options) {
        Ok((imported, written)) => {
            if !global.quiet {
                eprintln!(
                    "imported {} ({}) into {}",
                    args.file.display(),
                    if imported.was_deployment {
                        "ARM deployment template"
                    } else {
                        "imageTemplate body"
                    },
                    written.manifest_path.display(),
                );
                for (v, p) in imported.variants.iter().zip(&written.template_paths) {
                    eprintln!(
                        "  variant `{}`: {} (from {})",
                        v.name,
                        p.display(),
                        v.source_path
                    );
                }
                if !imported.placeholders.is_empty() {
                    eprintln!("placeholders to fill in:");
                    for (token, key) in &imported.placeholders {
                        eprintln!("  {token:<28} -> {key}");
                    }
                }
            }
            // Notes are what a deployment would trip on: shown even with -q.
            for n in imported.notes.iter() {
                eprintln!("note: {n}");
            }
            if !global.quiet {
                eprintln!(
                    "next: edit {} and run `aib plan {}`",
                    written.manifest_path.display(),
                    written.manifest_path.display()
                );
            }
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Invalid
        }
    }
}
