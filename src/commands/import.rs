//! `aib import FILE.json [--out DIR]`: an existing AIB template (ARM deployment or bare
//! imageTemplate body with `<placeholders>`) becomes `DIR/aib.toml` and `DIR/templates/...`.

use aib_executor::import;

use crate::cli::{GlobalArgs, ImportArgs};
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &ImportArgs) -> Exit {
    match import::import_file(&args.file, &args.out) {
        Ok((imported, written)) => {
            if !global.quiet {
                eprintln!(
                    "imported {} ({}) into {} and {}",
                    args.file.display(),
                    if imported.was_deployment {
                        "ARM deployment template"
                    } else {
                        "imageTemplate body"
                    },
                    written.manifest_path.display(),
                    written.template_path.display()
                );
                if !imported.placeholders.is_empty() {
                    eprintln!("placeholders to fill in:");
                    for (token, key) in &imported.placeholders {
                        eprintln!("  {token:<28} -> {key}");
                    }
                }
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
