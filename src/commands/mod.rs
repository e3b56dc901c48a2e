//! One module per command; each returns the process exit code.

pub mod build;
pub mod ci;
pub mod completions;
pub mod gc;
pub mod history;
pub mod import;
pub mod logs;
pub mod plan;
pub mod resume;
pub mod schedule;
pub mod sim;
pub mod status;
pub mod validate;
