//! The simulator's data: the resources it keeps and what it needs to save them. Plain types
//! with the methods that need nothing but themselves; no handler, no context, no lock held.
//!
//! Layers (each uses only those before it; the crate's unit test
//! `layers_and_no_import_cycles_between_files` checks it):
//! support modules (`scenario`, `clock`, `response`, `stats`, `faults`, `ratelimit`,
//! `control`, `api_versions`, `tls`, `sync`) → **model** → `state` → `context` →
//! `handlers` (and `persist`) → `router` → `server`.

pub mod blob;
pub mod deployment;
pub mod error;
pub mod federated;
pub mod gallery;
pub mod image_template;
pub mod operation;
pub mod resource_path;
pub mod serde_with;
pub mod staging;

pub use error::ArmErr;
