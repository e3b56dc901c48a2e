//! The aib manifest (`aib.toml`, format 1): typed, spanned, validated.
//!
//! [`Manifest::load`] reads a file and returns either a checked [`Manifest`] or every problem
//! found ([`ManifestError::Invalid`]), each pointing at `file:line:col`.

mod as_text;
pub mod confine;
mod diagnostic;
pub mod json_schema;
mod load;
pub mod model;
mod secret;
mod spanned;
mod suggest;
mod validate;

pub use confine::{ConfineError, ConfinedFile, FileRoots, MAX_FILE_BYTES};
pub use diagnostic::{Diagnostic, Diagnostics, Label, ManifestError, Severity, SourceFile};
pub use load::{Manifest, parse};
pub use model::*;
pub use secret::{KEY_VAULT_SUFFIXES, SecretRef, SecretRefError, SecretSource};
pub use spanned::Spanned;
pub use suggest::{Segment, did_you_mean};
