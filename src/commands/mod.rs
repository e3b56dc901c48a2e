//! One module per command; each returns the process exit code.

pub mod import;
pub mod plan;
pub mod sim;
pub mod validate;
