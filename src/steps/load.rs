//! Loading the manifest, with its warnings printed.

use aib_manifest::{Diagnostics, Manifest, ManifestError};

use crate::diagnostics;
use crate::exit::Exit;

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
